/*
 * ckpt_bench.c: gradient checkpointing, measured (build/bin/hq-bench-ckpt; not a test).
 *
 * A chain of `blocks` x [linear(width), GELU] (2 * blocks layers) trained on random data.  For
 * each segment count: the median time of one training step (zero_grad + forward + backward),
 * its ratio to the step without checkpointing (the bar: <= 1.4), the peak activation bytes the
 * model's accounting measured, the law's prediction, and whether the gradients are bit-identical
 * to the run without checkpointing.  Prints a Markdown table (docs/benchmarks.md).
 *
 *   hq-bench-ckpt [--blocks N] [--width N] [--batch N] [--reps N] [--threads N]
 *
 * The configurations run round robin (one step each in turn) so that a busy machine slows them
 * alike; BLAS runs on one thread by default for the same reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>   /* openblas_set_num_threads */

#include "heapql/kernels.h"

typedef struct {
  size_t blocks, width, batch, reps, threads;
} bench_cfg_t;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static float *random_buf(size_t n, uint64_t seed) {
  float *p = malloc(n * sizeof *p);
  if (!p) return NULL;
  for (size_t i = 0; i < n; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    p[i] = (float)((seed >> 40) * (2.0 / 16777216.0)) - 1.0f;
  }
  return p;
}

static hq_model_t *build(const bench_cfg_t *cfg) {
  hq_model_t *m = NULL;
  if (hq_model_create(cfg->width, NULL, &m) != HQ_OK) return NULL;
  for (size_t b = 0; b < cfg->blocks; b++) {
    if (hq_model_add_linear(m, cfg->width, b + 1) != HQ_OK || hq_model_add_gelu(m) != HQ_OK) {
      hq_model_destroy(m);
      return NULL;
    }
  }
  return m;
}

/* Concatenated gradients after one step, for the bit-identity check. */
static float *gradients(hq_model_t *m, size_t *out_n) {
  size_t total = 0, count;
  for (size_t p = 0; p < hq_model_params(m); p++) {
    hq_model_param(m, p, NULL, NULL, &count);
    total += count;
  }
  float *g = malloc(total * sizeof *g), *grad;
  size_t off = 0;
  for (size_t p = 0; g && p < hq_model_params(m); p++) {
    hq_model_param(m, p, NULL, &grad, &count);
    memcpy(g + off, grad, count * sizeof *g);
    off += count;
  }
  *out_n = total;
  return g;
}

/* One configuration under test: its model and its step times. */
typedef struct {
  int setting;
  hq_model_t *m;
  double *times;
  size_t peak, law, segments;
  int identical;
} config_t;

static int step(config_t *c, const bench_cfg_t *cfg, const float *x, const float *dy, double *secs) {
  const float *y;
  const double t0 = now_s();
  hq_model_zero_grad(c->m);
  int rc = hq_model_forward(c->m, x, cfg->batch, &y);
  if (rc == HQ_OK) rc = hq_model_backward(c->m, dy, NULL);
  *secs = now_s() - t0;
  return rc;
}

static int parse(int argc, char **argv, bench_cfg_t *cfg) {
  *cfg = (bench_cfg_t){.blocks = 8, .width = 512, .batch = 128, .reps = 21, .threads = 1};
  for (int i = 1; i < argc; i++) {
    size_t *dst = NULL;
    if (!strcmp(argv[i], "--blocks")) dst = &cfg->blocks;
    else if (!strcmp(argv[i], "--width")) dst = &cfg->width;
    else if (!strcmp(argv[i], "--batch")) dst = &cfg->batch;
    else if (!strcmp(argv[i], "--reps")) dst = &cfg->reps;
    else if (!strcmp(argv[i], "--threads")) dst = &cfg->threads;
    char *end = NULL;
    if (!dst || i + 1 >= argc || (*dst = strtoull(argv[++i], &end, 10)) == 0 || *end) {
      fprintf(stderr, "hq-bench-ckpt: bad arguments (--blocks N --width N --batch N --reps N --threads N)\n");
      return 2;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  bench_cfg_t cfg;
  if (parse(argc, argv, &cfg)) return 2;
  openblas_set_num_threads((int)cfg.threads);
  const size_t n = 2 * cfg.blocks;
  float *x = random_buf(cfg.batch * cfg.width, 1), *dy = random_buf(cfg.batch * cfg.width, 2);
  if (!x || !dy) return 3;
  config_t configs[] = {{.setting = 0}, {.setting = 2}, {.setting = HQ_CKPT_AUTO},
                        {.setting = (int)(2 * hq_ckpt_segments_for(n, HQ_CKPT_AUTO))},
                        {.setting = (int)n}};
  const size_t nc = sizeof configs / sizeof configs[0];
  for (size_t c = 0; c < nc; c++) {
    configs[c].m = build(&cfg);
    configs[c].times = malloc(cfg.reps * sizeof(double));
    if (!configs[c].m || !configs[c].times ||
        hq_model_set_checkpoint(configs[c].m, configs[c].setting) != HQ_OK)
      return 3;
  }
  /* Round robin, so every configuration sees the same machine noise; round 0 warms up. */
  for (size_t r = 0; r <= cfg.reps; r++) {
    for (size_t c = 0; c < nc; c++) {
      double secs;
      if (step(&configs[c], &cfg, x, dy, &secs) != HQ_OK) return 3;
      if (r == 0) hq_model_reset_peaks(configs[c].m);
      else configs[c].times[r - 1] = secs;
    }
  }
  size_t ref_n = 0, gn = 0;
  float *ref = gradients(configs[0].m, &ref_n);
  for (size_t c = 0; c < nc; c++) {
    hq_model_mem_t mem;
    hq_model_mem(configs[c].m, &mem);
    configs[c].peak = mem.activation_peak;
    hq_model_predict_activation_peak(configs[c].m, cfg.batch, configs[c].setting, &configs[c].law);
    configs[c].segments = hq_ckpt_segments_for(n, configs[c].setting);
    float *g = gradients(configs[c].m, &gn);
    configs[c].identical = ref && g && gn == ref_n && !memcmp(g, ref, gn * sizeof *g);
    free(g);
    qsort(configs[c].times, cfg.reps, sizeof(double), cmp_double);
  }
  printf("%zu layers ([linear %zu, GELU] x %zu), batch %zu, %zu BLAS thread(s), median of %zu "
         "steps (interleaved)\n\n", n, cfg.width, cfg.blocks, cfg.batch, cfg.threads, cfg.reps);
  printf("| segments | step (ms) | vs none | peak activations (B) | law (B) | of none | "
         "gradients |\n|---|---|---|---|---|---|---|\n");
  const double base_t = configs[0].times[cfg.reps / 2];
  int status = 0;
  for (size_t c = 0; c < nc; c++) {
    const config_t *k = &configs[c];
    const double med = k->times[cfg.reps / 2];
    printf("| %zu%s | %.2f | %.2fx | %zu | %zu | %.0f%% | %s |\n", k->segments,
           k->setting == HQ_CKPT_AUTO ? " (sqrt n)" : k->setting == 0 ? " (off)" : "", 1e3 * med,
           med / base_t, k->peak, k->law, 100.0 * (double)k->peak / (double)configs[0].peak,
           k->identical ? "bit-identical" : "DIFFER");
    if (!k->identical || k->peak != k->law) status = 1;
  }
  for (size_t c = 0; c < nc; c++) {
    hq_model_destroy(configs[c].m);
    free(configs[c].times);
  }
  free(ref);
  free(x);
  free(dy);
  return status;
}
