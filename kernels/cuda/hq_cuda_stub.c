/* hq_cuda_stub.c: built when HQ_CUDA=0; CUDA entry points report HQ_ENOTSUP. */
#include "heapql/kernels.h"
#include "../hq_backend.h"
#include "../kernels_int.h"

int hq_cuda_device_count(int *out_count) {
  (void)out_count;
  return no_cuda("cuda_device_count");
}

int hq_cuda_create(int device, hq_pool_t *pool, hq_cuda_t **out) {
  (void)device, (void)pool, (void)out;
  return no_cuda("cuda_create");
}

void hq_cuda_destroy(hq_cuda_t *ctx) { (void)ctx; }

int hq_cuda_synchronize(hq_cuda_t *ctx) {
  (void)ctx;
  return no_cuda("cuda_synchronize");
}

int hq_cuda_memcpy(hq_cuda_t *ctx, void *dst, const void *src, size_t bytes) {
  (void)ctx, (void)dst, (void)src, (void)bytes;
  return no_cuda("cuda_memcpy");
}

int hq_cuda_gemm(hq_cuda_t *ctx, hq_op_t op_a, hq_op_t op_b, int64_t m, int64_t n, int64_t k,
                 float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                 float beta, float *c, int64_t ldc) {
  (void)ctx, (void)op_a, (void)op_b, (void)m, (void)n, (void)k, (void)alpha, (void)a;
  (void)lda, (void)b, (void)ldb, (void)beta, (void)c, (void)ldc;
  return no_cuda("cuda_gemm");
}

int hq_cuda_csr_upload(hq_cuda_t *ctx, const hq_sparse_t *host, hq_pool_t *pool,
                       hq_cuda_csr_t *out) {
  (void)ctx, (void)host, (void)pool, (void)out;
  return no_cuda("cuda_csr_upload");
}

/* Nothing can have been uploaded in this build; arrays the caller described are its own. */
void hq_cuda_csr_release(hq_cuda_t *ctx, hq_cuda_csr_t *csr) { (void)ctx, (void)csr; }

int hq_cuda_spmv_buffer_size(hq_cuda_t *ctx, hq_op_t op, float alpha, const hq_cuda_csr_t *a,
                             const float *x, float beta, float *y, size_t *out_bytes) {
  (void)ctx, (void)op, (void)alpha, (void)a, (void)x, (void)beta, (void)y, (void)out_bytes;
  return no_cuda("cuda_spmv_buffer_size");
}

int hq_cuda_spmv(hq_cuda_t *ctx, hq_op_t op, float alpha, const hq_cuda_csr_t *a, const float *x,
                 float beta, float *y, void *buffer, size_t buffer_bytes) {
  (void)ctx, (void)op, (void)alpha, (void)a, (void)x, (void)beta, (void)y, (void)buffer;
  (void)buffer_bytes;
  return no_cuda("cuda_spmv");
}

int hq_cuda_spmm_buffer_size(hq_cuda_t *ctx, hq_op_t op, float alpha, const hq_cuda_csr_t *a,
                             const float *b, int64_t ldb, int64_t n, float beta, float *c,
                             int64_t ldc, size_t *out_bytes) {
  (void)ctx, (void)op, (void)alpha, (void)a, (void)b, (void)ldb, (void)n, (void)beta, (void)c;
  (void)ldc, (void)out_bytes;
  return no_cuda("cuda_spmm_buffer_size");
}

int hq_cuda_spmm(hq_cuda_t *ctx, hq_op_t op, float alpha, const hq_cuda_csr_t *a, const float *b,
                 int64_t ldb, int64_t n, float beta, float *c, int64_t ldc, void *buffer,
                 size_t buffer_bytes) {
  (void)ctx, (void)op, (void)alpha, (void)a, (void)b, (void)ldb, (void)n, (void)beta, (void)c;
  (void)ldc, (void)buffer, (void)buffer_bytes;
  return no_cuda("cuda_spmm");
}
