/*
 * test_cuda_stub.c: in a build without CUDA (HQ_CUDA=0) every hq_cuda_* entry point answers
 * HQ_ENOTSUP with a detail saying why, and the device pool is refused the same way.  In a CUDA
 * build this test skips: tests/cuda/test_cuda_kernels.c covers the real paths.
 */
#include <stdlib.h>
#include <string.h>

#include "hq_test.h"
#include "heapql/kernels.h"

static void test_cuda_stub_answers_enotsup(void **state) {
  float x[4] = {0}, y[4] = {0};
  size_t bytes = 7;
  int n = 7;
  hq_cuda_t *ctx = NULL;
  hq_pool_t *pool = NULL;
  hq_pool_config_t cfg;
  hq_cuda_csr_t a;
  hq_sparse_t *s = NULL;
  (void)state;
#if HQ_CUDA_ENABLED
  print_message("skipped: this build has CUDA (tests/cuda covers it)\n");
  skip();
#endif
  memset(&a, 0, sizeof a);
  assert_int_equal(hq_cuda_device_count(&n), HQ_ENOTSUP);
  assert_int_equal(n, 7); /* untouched */
  assert_non_null(strstr(hq_kernels_errmsg(), "built without CUDA"));
  assert_int_equal(hq_cuda_create(0, NULL, &ctx), HQ_ENOTSUP);
  assert_null(ctx);
  assert_int_equal(hq_cuda_synchronize(ctx), HQ_ENOTSUP);
  assert_int_equal(hq_cuda_memcpy(ctx, y, x, sizeof x), HQ_ENOTSUP);
  assert_int_equal(hq_cuda_gemm(ctx, HQ_OP_N, HQ_OP_N, 2, 2, 2, 1.0f, x, 2, x, 2, 0.0f, y, 2), HQ_ENOTSUP);
  assert_int_equal(hq_sparse_create(HQ_SPARSE_CSR, HQ_INDEX_I32, 2, 2, 0, &s), HQ_OK);
  assert_int_equal(hq_cuda_csr_upload(ctx, s, NULL, &a), HQ_ENOTSUP);
  hq_sparse_free(s);
  assert_int_equal(hq_cuda_spmv_buffer_size(ctx, HQ_OP_N, 1.0f, &a, x, 0.0f, y, &bytes), HQ_ENOTSUP);
  assert_int_equal(bytes, 7);
  assert_int_equal(hq_cuda_spmv(ctx, HQ_OP_N, 1.0f, &a, x, 0.0f, y, NULL, 0), HQ_ENOTSUP);
  assert_int_equal(hq_cuda_spmm_buffer_size(ctx, HQ_OP_N, 1.0f, &a, x, 2, 2, 0.0f, y, 2, &bytes), HQ_ENOTSUP);
  assert_int_equal(hq_cuda_spmm(ctx, HQ_OP_N, 1.0f, &a, x, 2, 2, 0.0f, y, 2, NULL, 0), HQ_ENOTSUP);
  assert_non_null(strstr(hq_kernels_errmsg(), "cuda_spmm"));
  hq_cuda_csr_release(ctx, &a); /* no-ops */
  hq_cuda_destroy(ctx);
  hq_pool_config_init(&cfg);
  cfg.backend = HQ_POOL_CUDA;
  assert_int_equal(hq_pool_create(&cfg, &pool), HQ_ENOTSUP);
  assert_null(pool);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cuda_stub_answers_enotsup),
  };
  return cmocka_run_group_tests_name("cuda_stub", tests, NULL, NULL);
}
