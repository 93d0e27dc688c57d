/*
 * demo_data.c: synthetic market data with a known factor structure.
 *
 *   f_d = phi f_{d-1} + sqrt(1 - phi^2) eta_d          K latent factors, AR(1), unit variance
 *   r_d = B f_d + sigma e_d                             N assets; B ~ N(0, 1/K), sigma = 0.5
 *
 * Returns are in units of daily volatility.  A sample is the window of W days of returns ending
 * at day d; its target is f_d, the factors of the window's last day.  Returns are stored as f32
 * or f16 (--f16-storage), on the heap (through demo_alloc) or in .npy memory maps in a temporary
 * directory (--mmap-data); the targets are always f32.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo.h"
#include "../hq_model_int.h"   /* the library's seeded generator, so data and weights share it */

#define PHI 0.9
#define SIGMA_IDIO 0.5f
#define BLOCK_DAYS 256

/* ---- the temporary directory: removed at exit, also on SIGINT/SIGTERM ---- */

static char tmp_dir[256], tmp_files[2][300];

static void remove_tmp(void) {
  for (int i = 0; i < 2; i++)
    if (tmp_files[i][0]) unlink(tmp_files[i]);
  if (tmp_dir[0]) rmdir(tmp_dir);
  tmp_dir[0] = tmp_files[0][0] = tmp_files[1][0] = '\0';
}

static void on_signal(int sig) {
  remove_tmp();   /* unlink and rmdir are async-signal-safe */
  signal(sig, SIG_DFL);
  raise(sig);
}

static int make_tmp_dir(demo_data_t *d) {
  const char *base = getenv("TMPDIR");
  if (!base || !*base) base = "/tmp";
  snprintf(tmp_dir, sizeof tmp_dir, "%s/heapql-demo.XXXXXX", base);
  if (!mkdtemp(tmp_dir)) {
    fprintf(stderr, "heapql-demo: cannot create a temporary directory under %s\n", base);
    tmp_dir[0] = '\0';
    return HQ_EIO;
  }
  snprintf(tmp_files[0], sizeof tmp_files[0], "%s/returns.npy", tmp_dir);
  snprintf(tmp_files[1], sizeof tmp_files[1], "%s/factors.npy", tmp_dir);
  snprintf(d->dir, sizeof d->dir, "%s", tmp_dir);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  return HQ_OK;
}

/* ---- storage ---- */

/* Create path as a rows x cols .npy ("w+": zero-filled, shared mapping) of f32 or f16. */
static int map_npy(const char *path, hq_dtype_t dtype, size_t rows, size_t cols, hq_npy_t **out,
                   void **data) {
  hq_npy_info_t spec;
  memset(&spec, 0, sizeof spec);
  spec.dtype = dtype == HQ_F16 ? HQ_NPY_F2 : HQ_NPY_F4;
  spec.ndim = 2;
  spec.shape[0] = (int64_t)rows;
  spec.shape[1] = (int64_t)cols;
  int rc = hq_npy_open(path, "w+", &spec, out);
  if (rc == HQ_OK) rc = hq_npy_data(*out, data);
  if (rc != HQ_OK) demo_fail("mapping the data", rc);
  return rc;
}

static int allocate(demo_data_t *d, int mapped) {
  if (mapped) {
    int rc = make_tmp_dir(d);
    if (rc == HQ_OK)
      rc = map_npy(tmp_files[0], d->dtype, d->days, d->assets, &d->npy_returns, &d->returns);
    if (rc == HQ_OK)
      rc = map_npy(tmp_files[1], HQ_F32, d->days, d->factors, &d->npy_target, (void **)&d->target);
    return rc;
  }
  d->returns = demo_alloc(d->mem, d->returns_bytes);
  d->target = demo_alloc(d->mem, d->target_bytes);
  if (!d->returns || !d->target) {
    fputs("heapql-demo: out of memory for the data set\n", stderr);
    return HQ_ENOMEM;
  }
  return HQ_OK;
}

/* ---- generation ---- */

static int generate(demo_data_t *d, uint64_t seed) {
  const size_t n = d->assets, k = d->factors;
  const size_t load_bytes = n * k * sizeof(float), block_bytes = BLOCK_DAYS * n * sizeof(float);
  float *loadings = demo_alloc(d->mem, load_bytes), *block = demo_alloc(d->mem, block_bytes);
  int rc = HQ_ENOMEM;
  if (!loadings || !block) goto out;
  hq__rng_t rng;
  hq__rng_seed(&rng, seed);
  const double load_scale = 1.0 / sqrt((double)k), innov = sqrt(1.0 - PHI * PHI);
  for (size_t i = 0; i < n * k; i++) loadings[i] = (float)(hq__rng_normal(&rng) * load_scale);
  for (size_t j = 0; j < k; j++) d->target[j] = (float)hq__rng_normal(&rng);
  for (size_t day = 1; day < d->days; day++)
    for (size_t j = 0; j < k; j++)
      d->target[day * k + j] =
        (float)(PHI * d->target[(day - 1) * k + j] + innov * hq__rng_normal(&rng));
  const size_t esize = hq_dtype_size(d->dtype);
  for (size_t day0 = 0; day0 < d->days; day0 += BLOCK_DAYS) {
    const size_t nd = d->days - day0 < BLOCK_DAYS ? d->days - day0 : BLOCK_DAYS;
    /* block = F[day0 .. day0+nd) B^T, then the idiosyncratic noise */
    rc = hq_gemm(HQ_OP_N, HQ_OP_T, (int64_t)nd, (int64_t)n, (int64_t)k, 1.0f,
                 d->target + day0 * k, (int64_t)k, loadings, (int64_t)k, 0.0f, block, (int64_t)n);
    if (rc != HQ_OK) goto out;
    for (size_t i = 0; i < nd * n; i++) block[i] += SIGMA_IDIO * (float)hq__rng_normal(&rng);
    rc = hq_convert((char *)d->returns + day0 * n * esize, d->dtype, block, HQ_F32, nd * n);
    if (rc != HQ_OK) goto out;
  }
  rc = HQ_OK;
out:
  demo_free(d->mem, block, block_bytes);
  demo_free(d->mem, loadings, load_bytes);
  if (rc != HQ_OK) demo_fail("generating the data", rc);
  return rc;
}

int demo_data_create(demo_data_t *d, const demo_config_t *cfg, demo_mem_t *mem) {
  memset(d, 0, sizeof *d);
  d->mem = mem;
  d->days = cfg->days;
  d->assets = cfg->assets;
  d->factors = cfg->factors;
  d->window = cfg->window;
  d->dtype = cfg->f16_storage ? HQ_F16 : HQ_F32;
  d->returns_bytes = d->days * d->assets * hq_dtype_size(d->dtype);
  d->target_bytes = d->days * d->factors * sizeof(float);
  int rc = allocate(d, cfg->mmap_data);
  if (rc == HQ_OK) rc = generate(d, cfg->seed);
  if (rc != HQ_OK) demo_data_destroy(d);
  return rc;
}

void demo_data_destroy(demo_data_t *d) {
  if (d->npy_returns || d->npy_target || d->dir[0]) {
    hq_npy_close(d->npy_returns);
    hq_npy_close(d->npy_target);
    remove_tmp();
  } else if (d->mem) {
    demo_free(d->mem, d->returns, d->returns_bytes);
    demo_free(d->mem, d->target, d->target_bytes);
  }
  memset(d, 0, sizeof *d);
}

size_t demo_data_samples(const demo_data_t *d) { return d->days - d->window + 1; }

void demo_data_sample(const demo_data_t *d, size_t s, float *x, float *y) {
  const size_t esize = hq_dtype_size(d->dtype), n = d->window * d->assets;
  /* The window's rows are consecutive in storage: one conversion. */
  hq_convert(x, HQ_F32, (const char *)d->returns + s * d->assets * esize, d->dtype, n);
  memcpy(y, d->target + (s + d->window - 1) * d->factors, d->factors * sizeof(float));
}
