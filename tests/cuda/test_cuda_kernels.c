/*
 * test_cuda_kernels.c: the kernels' GPU paths against their CPU counterparts: GEMM through
 * cuBLAS against hq_gemm, SpMV and SpMM through cuSPARSE against hq_sparse_spmv/spmm, the CSR
 * upload, and the device pool's reports (pool statistics and heapql annotations) for the
 * memory the GPU code uses.  Built only with HQ_CUDA=1.  Tests that need a device skip when
 * there is none, under CI=true too: no GPU is not a missing dependency.  The argument checks
 * and the no-device answers need no device and run everywhere.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq_test.h"
#include "hq_test_kernels.h"
#include "heapql/kernels.h"
#include "../unit/fake/hq_fake_annotate.h"

static int devices;     /* CUDA devices present (hq_cuda_device_count) */
static int fake_loaded; /* the stand-in recorder counts pool annotations */

#define NEED_DEVICE()                                      \
  do {                                                     \
    if (devices <= 0) {                                    \
      print_message("skipped: no CUDA device present\n"); \
      skip();                                              \
    }                                                      \
  } while (0)

/* One context on device 0 with its own device pool, for a test. */
typedef struct gpu_s {
  hq_pool_t *pool;
  hq_cuda_t *ctx;
} gpu_t;

static void gpu_open(gpu_t *g) {
  hq_pool_config_t cfg;
  hq_pool_config_init(&cfg);
  cfg.backend = HQ_POOL_CUDA;
  cfg.device = 0;
  assert_int_equal(hq_pool_create(&cfg, &g->pool), HQ_OK);
  if (hq_cuda_create(0, g->pool, &g->ctx) != HQ_OK)
    fail_msg("hq_cuda_create: %s", hq_kernels_errmsg());
}

static void gpu_close(gpu_t *g) {
  hq_cuda_destroy(g->ctx);
  hq_pool_destroy(g->pool);
}

/* Device copy of n floats from host (a pool block). */
static float *to_device(gpu_t *g, const float *host, size_t n) {
  void *d = NULL;
  assert_int_equal(hq_pool_alloc(g->pool, n * sizeof(float), &d), HQ_OK);
  assert_int_equal(hq_cuda_memcpy(g->ctx, d, host, n * sizeof(float)), HQ_OK);
  return d;
}

static void to_host(gpu_t *g, float *host, const float *dev, size_t n) {
  assert_int_equal(hq_cuda_memcpy(g->ctx, host, dev, n * sizeof(float)), HQ_OK);
}


/* ---- without a device ------------------------------------------------------------------- */

static void test_cuda_no_device_refused(void **state) {
  hq_cuda_t *ctx = NULL;
  hq_pool_t *pool = NULL;
  hq_pool_config_t cfg;
  int n = -1;
  (void)state;
  assert_int_equal(hq_cuda_device_count(&n), HQ_OK);
  assert_int_equal(n, devices);
  if (devices > 0) {
    print_message("skipped: a CUDA device is present\n");
    skip();
  }
  assert_int_equal(hq_cuda_create(0, NULL, &ctx), HQ_ECUDA);
  assert_null(ctx);
  assert_non_null(strstr(hq_kernels_errmsg(), "cuda_create: "));
  if (!strstr(hq_kernels_errmsg(), "no CUDA device") && !strstr(hq_kernels_errmsg(), "does not exist"))
    fail_msg("unexpected detail: %s", hq_kernels_errmsg());
  hq_pool_config_init(&cfg);
  cfg.backend = HQ_POOL_CUDA;
  assert_int_equal(hq_pool_create(&cfg, &pool), HQ_ECUDA);
}

static void test_cuda_bad_arguments(void **state) {
  float x[4] = {0}, y[4] = {0};
  size_t bytes = 99;
  hq_cuda_t *ctx = NULL;
  hq_pool_t *host_pool = NULL;
  hq_cuda_csr_t a;
  (void)state;
  memset(&a, 0, sizeof a);
  a.rows = a.cols = 2;
  a.rowptr = x; /* never dereferenced: the context check comes first */
  assert_int_equal(hq_cuda_device_count(NULL), HQ_EMISUSE);
  assert_int_equal(hq_cuda_create(0, NULL, NULL), HQ_EMISUSE);
  /* a host pool cannot hold the cuBLAS workspace */
  assert_int_equal(hq_pool_create(NULL, &host_pool), HQ_OK);
  assert_int_equal(hq_cuda_create(0, host_pool, &ctx), HQ_EINVAL);
  assert_non_null(strstr(hq_kernels_errmsg(), "is not a CUDA pool of device 0"));
  assert_null(ctx);
  hq_pool_destroy(host_pool);
  assert_int_equal(hq_cuda_synchronize(NULL), HQ_EMISUSE);
  assert_int_equal(hq_cuda_memcpy(NULL, y, x, 4), HQ_EMISUSE);
  assert_int_equal(hq_cuda_gemm(NULL, HQ_OP_N, HQ_OP_N, 2, 2, 2, 1.0f, x, 2, x, 2, 0.0f, y, 2), HQ_EMISUSE);
  assert_int_equal(hq_cuda_spmv_buffer_size(NULL, HQ_OP_N, 1.0f, &a, x, 0.0f, y, &bytes), HQ_EMISUSE);
  assert_int_equal(bytes, 99); /* untouched on failure */
  assert_int_equal(hq_cuda_spmv(NULL, HQ_OP_N, 1.0f, &a, x, 0.0f, y, NULL, 0), HQ_EMISUSE);
  assert_int_equal(hq_cuda_spmm(NULL, HQ_OP_N, 1.0f, &a, x, 2, 2, 0.0f, y, 2, NULL, 0), HQ_EMISUSE);
  assert_int_equal(hq_cuda_spmm(NULL, HQ_OP_N, 1.0f, &a, x, 2, -1, 0.0f, y, 2, NULL, 0), HQ_EINVAL);
  assert_int_equal(hq_cuda_csr_upload(NULL, NULL, NULL, &a), HQ_EMISUSE);
  hq_cuda_destroy(NULL);
  hq_cuda_csr_release(NULL, NULL);
  hq_cuda_csr_release(NULL, &a); /* the caller's arrays: only the struct is zeroed */
  assert_null(a.rowptr);
  assert_int_equal(a.rows, 0);
}

/* ---- with a device ---------------------------------------------------------------------- */

static void test_cuda_context_workspace_from_pool(void **state) {
  gpu_t g;
  hq_fake_counts_t before, after;
  (void)state;
  NEED_DEVICE();
  if (!fake_loaded) fail_msg("the stand-in recorder was not loaded (make tests builds it)");
  before = hq_fake_counts();
  gpu_open(&g);
  after = hq_fake_counts();
  /* the cuBLAS workspace is the pool's only block: 32 MiB on Hopper and later, else 4 MiB */
  assert_int_equal(hq_test_pool_stat(g.pool, "allocation.all.current"), 1);
  int64_t ws = hq_test_pool_stat(g.pool, "requested_bytes.all.current");
  if (ws != (int64_t)32 << 20 && ws != (int64_t)4 << 20)
    fail_msg("workspace of %lld bytes", (long long)ws);
  assert_int_equal(after.pool_allocs - before.pool_allocs, 1); /* reported to heapql */
  assert_int_equal(after.last_pool_id, hq_pool_id(g.pool));
  hq_cuda_destroy(g.ctx);
  assert_int_equal(hq_test_pool_stat(g.pool, "allocation.all.current"), 0);
  assert_int_equal(hq_fake_counts().pool_frees - before.pool_frees, 1);
  /* a pool of another device is refused */
  assert_int_equal(hq_cuda_create(devices, g.pool, &g.ctx), HQ_EINVAL);
  /* a sparse matrix the CPU works on cannot live in device memory */
  hq_sparse_t *s = NULL;
  assert_int_equal(hq_sparse_create_in(g.pool, HQ_SPARSE_CSR, HQ_INDEX_I32, 2, 2, 1, &s), HQ_EINVAL);
  assert_non_null(strstr(hq_kernels_errmsg(), "holds device memory"));
  assert_null(s);
  hq_pool_destroy(g.pool);
}

static void check_gemm(gpu_t *g, hq_op_t op_a, hq_op_t op_b) {
  const int64_t m = 67, n = 45, k = 33;
  int64_t arows = op_a == HQ_OP_N ? m : k, acols = op_a == HQ_OP_N ? k : m;
  int64_t brows = op_b == HQ_OP_N ? k : n, bcols = op_b == HQ_OP_N ? n : k;
  int64_t lda = acols + 3, ldb = bcols + 2, ldc = n + 5;
  size_t na = (size_t)(arows * lda), nb = (size_t)(brows * ldb), nc = (size_t)(m * ldc);
  float *a = malloc(na * sizeof(float)), *b = malloc(nb * sizeof(float));
  float *c0 = malloc(nc * sizeof(float)), *ref = malloc(nc * sizeof(float));
  float *got = malloc(nc * sizeof(float));
  for (size_t i = 0; i < na; i++) a[i] = hq_test_urand() * 2 - 1;
  for (size_t i = 0; i < nb; i++) b[i] = hq_test_urand() * 2 - 1;
  for (size_t i = 0; i < nc; i++) c0[i] = hq_test_urand() * 2 - 1;
  float *da = to_device(g, a, na), *db = to_device(g, b, nb), *dc = to_device(g, c0, nc);

  memcpy(ref, c0, nc * sizeof(float));
  assert_int_equal(hq_gemm(op_a, op_b, m, n, k, 1.5f, a, lda, b, ldb, 0.25f, ref, ldc), HQ_OK);
  assert_int_equal(hq_cuda_gemm(g->ctx, op_a, op_b, m, n, k, 1.5f, da, lda, db, ldb, 0.25f, dc, ldc), HQ_OK);
  to_host(g, got, dc, nc);
  for (int64_t i = 0; i < m; i++) {
    double rel = hq_test_max_rel_diff(got + i * ldc, ref + i * ldc, n);
    if (rel > 1e-5) fail_msg("op %d%d row %lld: relative difference %g", op_a, op_b, (long long)i, rel);
    for (int64_t j = n; j < ldc; j++) assert_true(got[i * ldc + j] == c0[i * ldc + j]); /* padding */
  }
  /* beta 0 overwrites C, NaN included */
  for (size_t i = 0; i < nc; i++) got[i] = NAN;
  assert_int_equal(hq_cuda_memcpy(g->ctx, dc, got, nc * sizeof(float)), HQ_OK);
  memcpy(ref, c0, nc * sizeof(float));
  assert_int_equal(hq_gemm(op_a, op_b, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, ref, ldc), HQ_OK);
  assert_int_equal(hq_cuda_gemm(g->ctx, op_a, op_b, m, n, k, 1.0f, da, lda, db, ldb, 0.0f, dc, ldc), HQ_OK);
  to_host(g, got, dc, nc);
  for (int64_t i = 0; i < m; i++) {
    double rel = hq_test_max_rel_diff(got + i * ldc, ref + i * ldc, n);
    if (!(rel <= 1e-5)) fail_msg("beta 0, op %d%d row %lld: relative difference %g", op_a, op_b, (long long)i, rel);
  }
  hq_pool_free(g->pool, da), hq_pool_free(g->pool, db), hq_pool_free(g->pool, dc);
  free(a), free(b), free(c0), free(ref), free(got);
}

static void test_cuda_gemm_matches_cpu(void **state) {
  gpu_t g;
  (void)state;
  NEED_DEVICE();
  gpu_open(&g);
  check_gemm(&g, HQ_OP_N, HQ_OP_N);
  check_gemm(&g, HQ_OP_N, HQ_OP_T);
  check_gemm(&g, HQ_OP_T, HQ_OP_N);
  check_gemm(&g, HQ_OP_T, HQ_OP_T);

  /* k == 0: C = beta C exactly (beta 0.5 on small integers), and beta 0 writes zeros over NaN */
  float c[3 * 4], got[3 * 4];
  for (int i = 0; i < 12; i++) c[i] = (float)(i - 5);
  float *dc = to_device(&g, c, 12);
  assert_int_equal(hq_cuda_gemm(g.ctx, HQ_OP_N, HQ_OP_N, 3, 3, 0, 1.0f, NULL, 1, NULL, 3, 0.5f, dc, 4), HQ_OK);
  to_host(&g, got, dc, 12);
  for (int i = 0; i < 12; i++) assert_true(got[i] == (i % 4 == 3 ? c[i] : 0.5f * c[i]));
  for (int i = 0; i < 12; i++) c[i] = NAN;
  assert_int_equal(hq_cuda_memcpy(g.ctx, dc, c, sizeof c), HQ_OK);
  assert_int_equal(hq_cuda_gemm(g.ctx, HQ_OP_N, HQ_OP_N, 3, 3, 0, 1.0f, NULL, 1, NULL, 3, 0.0f, dc, 4), HQ_OK);
  to_host(&g, got, dc, 12);
  for (int i = 0; i < 12; i++) {
    if (i % 4 == 3) assert_true(isnan(got[i])); /* the padding column is not touched */
    else assert_true(got[i] == 0.0f);
  }
  /* the CPU's argument rules: lda too small */
  assert_int_equal(hq_cuda_gemm(g.ctx, HQ_OP_N, HQ_OP_N, 3, 3, 2, 1.0f, dc, 1, dc, 4, 0.0f, dc, 4), HQ_EINVAL);
  assert_non_null(strstr(hq_kernels_errmsg(), "cuda_gemm: A is NULL or lda 1 too small"));
  hq_pool_free(g.pool, dc);
  gpu_close(&g);
}

/* The workspace the query asks for, from the pool (NULL for 0 bytes). */
static void *workspace(gpu_t *g, size_t bytes) {
  void *w = NULL;
  if (bytes) assert_int_equal(hq_pool_alloc(g->pool, bytes, &w), HQ_OK);
  return w;
}

static void check_spmv(gpu_t *g, hq_index_type_t it) {
  const int64_t m = 300, n = 200;
  float *d = hq_test_random_dense(m, n, 0.1f, 1);
  float x[300], y0[300], ref[300], got[300], nans[300];
  hq_sparse_t *s = NULL;
  hq_cuda_csr_t a;
  assert_int_equal(hq_sparse_from_dense(d, m, n, n, 0.0f, HQ_SPARSE_CSR, it, &s), HQ_OK);
  assert_int_equal(hq_cuda_csr_upload(g->ctx, s, g->pool, &a), HQ_OK);
  for (int op = 0; op < 2; op++) {
    int64_t xl = op ? m : n, yl = op ? n : m;
    size_t need = 0;
    for (int64_t i = 0; i < xl; i++) x[i] = (float)((int)(hq_test_urand() * 9) - 4);
    for (int64_t i = 0; i < yl; i++) y0[i] = (float)((int)(hq_test_urand() * 9) - 4), nans[i] = NAN;
    float *dx = to_device(g, x, (size_t)xl), *dy = to_device(g, y0, (size_t)yl);
    assert_int_equal(hq_cuda_spmv_buffer_size(g->ctx, (hq_op_t)op, 2.0f, &a, dx, 0.5f, dy, &need), HQ_OK);
    void *w = workspace(g, need);
    memcpy(ref, y0, sizeof ref);
    assert_int_equal(hq_sparse_spmv((hq_op_t)op, 2.0f, s, x, 0.5f, ref), HQ_OK);
    assert_int_equal(hq_cuda_spmv(g->ctx, (hq_op_t)op, 2.0f, &a, dx, 0.5f, dy, w, need), HQ_OK);
    to_host(g, got, dy, (size_t)yl);
    /* small integers: every partial sum is exact in any order, so equal, not close */
    assert_memory_equal(got, ref, (size_t)yl * sizeof(float));
    /* beta 0 overwrites even NaN */
    assert_int_equal(hq_cuda_memcpy(g->ctx, dy, nans, (size_t)yl * sizeof(float)), HQ_OK);
    assert_int_equal(hq_sparse_spmv((hq_op_t)op, 1.0f, s, x, 0.0f, ref), HQ_OK);
    assert_int_equal(hq_cuda_spmv(g->ctx, (hq_op_t)op, 1.0f, &a, dx, 0.0f, dy, w, need), HQ_OK);
    to_host(g, got, dy, (size_t)yl);
    assert_memory_equal(got, ref, (size_t)yl * sizeof(float));
    /* a workspace smaller than the query's answer is refused */
    if (need) {
      assert_int_equal(hq_cuda_spmv(g->ctx, (hq_op_t)op, 1.0f, &a, dx, 0.0f, dy, w, need - 1), HQ_EINVAL);
      assert_non_null(strstr(hq_kernels_errmsg(), "cuSPARSE needs"));
    }
    hq_pool_free(g->pool, w), hq_pool_free(g->pool, dx), hq_pool_free(g->pool, dy);
  }
  hq_cuda_csr_release(g->ctx, &a);
  hq_sparse_free(s);
  free(d);
}

static void test_cuda_spmv_matches_cpu(void **state) {
  gpu_t g;
  (void)state;
  NEED_DEVICE();
  gpu_open(&g);
  check_spmv(&g, HQ_INDEX_I32);
  check_spmv(&g, HQ_INDEX_I64);
  gpu_close(&g);
}

static void check_spmm(gpu_t *g, hq_index_type_t it) {
  const int64_t m = 200, k = 150, n = 33, ldb = 40, ldc = 37;
  float *ad = hq_test_random_dense(m, k, 0.1f, 0);
  float *b = malloc((size_t)(m * ldb) * sizeof(float)), *c0 = malloc((size_t)(m * ldc) * sizeof(float));
  float *ref = malloc((size_t)(m * ldc) * sizeof(float)), *got = malloc((size_t)(m * ldc) * sizeof(float));
  hq_sparse_t *s = NULL;
  hq_cuda_csr_t a;
  assert_int_equal(hq_sparse_from_dense(ad, m, k, k, 0.0f, HQ_SPARSE_CSR, it, &s), HQ_OK);
  assert_int_equal(hq_cuda_csr_upload(g->ctx, s, g->pool, &a), HQ_OK);
  for (int op = 0; op < 2; op++) {
    int64_t crows = op ? k : m, brows = op ? m : k;
    size_t need = 0;
    for (int64_t i = 0; i < brows * ldb; i++) b[i] = hq_test_urand() * 2 - 1;
    for (int64_t i = 0; i < crows * ldc; i++) c0[i] = ref[i] = hq_test_urand() * 2 - 1;
    float *db = to_device(g, b, (size_t)(brows * ldb)), *dc = to_device(g, c0, (size_t)(crows * ldc));
    assert_int_equal(hq_cuda_spmm_buffer_size(g->ctx, (hq_op_t)op, 1.5f, &a, db, ldb, n, 0.25f, dc,
                                              ldc, &need), HQ_OK);
    void *w = workspace(g, need);
    assert_int_equal(hq_sparse_spmm((hq_op_t)op, 1.5f, s, b, ldb, n, 0.25f, ref, ldc), HQ_OK);
    int rc = hq_cuda_spmm(g->ctx, (hq_op_t)op, 1.5f, &a, db, ldb, n, 0.25f, dc, ldc, w, need);
    if (rc != HQ_OK) fail_msg("hq_cuda_spmm op %d: %s", op, hq_kernels_errmsg());
    to_host(g, got, dc, (size_t)(crows * ldc));
    for (int64_t i = 0; i < crows; i++) {
      double rel = hq_test_max_rel_diff(got + i * ldc, ref + i * ldc, n);
      if (rel > 1e-5) fail_msg("op %d row %lld: relative difference %g", op, (long long)i, rel);
      for (int64_t j = n; j < ldc; j++) assert_true(got[i * ldc + j] == c0[i * ldc + j]); /* padding */
    }
    hq_pool_free(g->pool, w), hq_pool_free(g->pool, db), hq_pool_free(g->pool, dc);
  }
  hq_cuda_csr_release(g->ctx, &a);
  hq_sparse_free(s);
  free(ad), free(b), free(c0), free(ref), free(got);
}

static void test_cuda_spmm_matches_cpu(void **state) {
  gpu_t g;
  (void)state;
  NEED_DEVICE();
  gpu_open(&g);
  check_spmm(&g, HQ_INDEX_I32);
  check_spmm(&g, HQ_INDEX_I64);
  gpu_close(&g);
}

static void test_cuda_csr_upload_canonical_and_reported(void **state) {
  /* the COO of test_sparse_coo_to_csr_sums_duplicates: 7 triplets, 4 distinct entries */
  int32_t row[7] = {0, 2, 0, 1, 0, 2, 0}, col[7] = {1, 0, 1, 3, 0, 0, 1};
  float val[7] = {1.0f, 5.0f, 2.0f, 4.0f, 7.0f, -5.0f, 0.25f};
  int32_t rp[4], ci[4];
  float v[4];
  hq_sparse_t *coo = NULL;
  hq_cuda_csr_t a;
  gpu_t g;
  (void)state;
  NEED_DEVICE();
  if (!fake_loaded) fail_msg("the stand-in recorder was not loaded (make tests builds it)");
  gpu_open(&g);
  assert_int_equal(hq_sparse_coo_from_triplets(3, 4, 7, row, col, val, &coo), HQ_OK);
  int64_t blocks = hq_test_pool_stat(g.pool, "allocation.all.current");
  int64_t bytes = hq_test_pool_stat(g.pool, "requested_bytes.all.current");
  hq_fake_counts_t before = hq_fake_counts();
  assert_int_equal(hq_cuda_csr_upload(g.ctx, coo, g.pool, &a), HQ_OK);
  assert_int_equal(a.rows, 3);
  assert_int_equal(a.cols, 4);
  assert_int_equal(a.nnz, 4);
  assert_int_equal(a.itype, HQ_INDEX_I32);
  /* three pool blocks of exactly the arrays' bytes, each reported to heapql */
  assert_int_equal(hq_test_pool_stat(g.pool, "allocation.all.current"), blocks + 3);
  assert_int_equal(hq_test_pool_stat(g.pool, "requested_bytes.all.current"), bytes + 4 * 4 + 4 * 4 + 4 * 4);
  assert_int_equal(hq_fake_counts().pool_allocs - before.pool_allocs, 3);
  assert_int_equal(hq_cuda_memcpy(g.ctx, rp, a.rowptr, sizeof rp), HQ_OK);
  assert_int_equal(hq_cuda_memcpy(g.ctx, ci, a.colind, sizeof ci), HQ_OK);
  assert_int_equal(hq_cuda_memcpy(g.ctx, v, a.values, sizeof v), HQ_OK);
  int32_t erp[4] = {0, 2, 3, 4}, eci[4] = {0, 1, 3, 0};
  float ev[4] = {7.0f, 3.25f, 4.0f, 0.0f}; /* duplicates summed; 5 + -5 kept as a zero */
  assert_memory_equal(rp, erp, sizeof rp);
  assert_memory_equal(ci, eci, sizeof ci);
  assert_memory_equal(v, ev, sizeof v);
  hq_cuda_csr_release(g.ctx, &a);
  assert_null(a.values);
  assert_int_equal(hq_test_pool_stat(g.pool, "allocation.all.current"), blocks);
  assert_int_equal(hq_fake_counts().pool_frees - before.pool_frees, 3);
  /* without a pool the arrays come from cudaMalloc and go back with cudaFree */
  assert_int_equal(hq_cuda_csr_upload(g.ctx, coo, NULL, &a), HQ_OK);
  assert_int_equal(hq_test_pool_stat(g.pool, "allocation.all.current"), blocks);
  assert_int_equal(hq_cuda_memcpy(g.ctx, v, a.values, sizeof v), HQ_OK);
  assert_memory_equal(v, ev, sizeof v);
  hq_cuda_csr_release(g.ctx, &a);
  hq_sparse_free(coo);
  gpu_close(&g);
}

static void test_cuda_empty_operands(void **state) {
  float y[5] = {1, 2, 3, 4, 5}, got[5], x[3] = {1, 1, 1};
  hq_sparse_t *s = NULL;
  hq_cuda_csr_t a;
  size_t need = 99;
  gpu_t g;
  (void)state;
  NEED_DEVICE();
  gpu_open(&g);
  /* a 5 x 3 matrix with no entries: y = beta y, no workspace */
  assert_int_equal(hq_sparse_create(HQ_SPARSE_CSR, HQ_INDEX_I32, 5, 3, 0, &s), HQ_OK);
  assert_int_equal(hq_cuda_csr_upload(g.ctx, s, g.pool, &a), HQ_OK);
  float *dx = to_device(&g, x, 3), *dy = to_device(&g, y, 5);
  assert_int_equal(hq_cuda_spmv_buffer_size(g.ctx, HQ_OP_N, 1.0f, &a, dx, 0.5f, dy, &need), HQ_OK);
  assert_int_equal(need, 0);
  assert_int_equal(hq_cuda_spmv(g.ctx, HQ_OP_N, 1.0f, &a, dx, 0.5f, dy, NULL, 0), HQ_OK);
  to_host(&g, got, dy, 5);
  for (int i = 0; i < 5; i++) assert_true(got[i] == 0.5f * y[i]);
  hq_pool_free(g.pool, dx), hq_pool_free(g.pool, dy);
  hq_cuda_csr_release(g.ctx, &a);
  hq_sparse_free(s);
  gpu_close(&g);
}

static int group_setup(void **state) {
  (void)state;
  fake_loaded = hq_fake_annotate_load() == 0;
  if (hq_cuda_device_count(&devices) != HQ_OK) devices = 0;
  if (devices <= 0) fprintf(stderr, "test_cuda_kernels: no CUDA device: the GPU tests skip\n");
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cuda_no_device_refused),
    cmocka_unit_test(test_cuda_bad_arguments),
    cmocka_unit_test(test_cuda_context_workspace_from_pool),
    cmocka_unit_test(test_cuda_gemm_matches_cpu),
    cmocka_unit_test(test_cuda_spmv_matches_cpu),
    cmocka_unit_test(test_cuda_spmm_matches_cpu),
    cmocka_unit_test(test_cuda_csr_upload_canonical_and_reported),
    cmocka_unit_test(test_cuda_empty_operands),
  };
  return cmocka_run_group_tests_name("cuda_kernels", tests, group_setup, NULL);
}
