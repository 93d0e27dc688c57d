/*
 * hq_cuda.c: CUDA contexts (device, stream, cuBLAS and cuSPARSE handles), copies, and dense
 * products through cuBLAS.  Built only when HQ_CUDA=1; hq_cuda_stub.c answers HQ_ENOTSUP
 * otherwise.  Every call makes the context's device current for its duration and then gives
 * the calling thread its own current device back.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "heapql/annotate.h"
#include "hq_cuda_int.h"

#define WORKSPACE_HOPPER ((size_t)32 << 20) /* cuBLAS's recommendation, compute 9.0 and later */
#define WORKSPACE_OLDER  ((size_t)4 << 20)  /* and before */

int hq__cuda_fail(const char *fn, const char *what, cudaError_t e) {
  (void)cudaGetLastError(); /* clear it, so the next call does not report it again */
  return hq__kerr(e == cudaErrorMemoryAllocation ? HQ_ENOMEM : HQ_ECUDA, "%s: %s: %s", fn, what,
                  cudaGetErrorString(e));
}

static int blas_fail(const char *fn, const char *what, cublasStatus_t st) {
  int rc = st == CUBLAS_STATUS_ALLOC_FAILED ? HQ_ENOMEM
         : st == CUBLAS_STATUS_NOT_SUPPORTED ? HQ_ENOTSUP : HQ_ECUDA;
  return hq__kerr(rc, "%s: %s: %s", fn, what, cublasGetStatusString(st));
}

int hq__cuda_check(const char *fn, const hq_cuda_t *ctx) {
  if (!ctx || ctx->magic != HQ_CUDA_MAGIC)
    return hq__kerr(HQ_MISUSE_BKPT, "%s: NULL or invalid CUDA context", fn);
  return HQ_OK;
}

int hq__cuda_check_pool(const char *fn, const hq_cuda_t *ctx, hq_pool_t *pool) {
  int device = -1;
  if (pool && (hq__pool_backend(pool, &device) != HQ_POOL_CUDA || device != ctx->device))
    return hq__kerr(HQ_EINVAL, "%s: pool %" PRIu64 " is not a CUDA pool of device %d", fn,
                    hq_pool_id(pool), ctx->device);
  return HQ_OK;
}

int hq__cuda_enter(const char *fn, hq_cuda_t *ctx, int *out_prev) {
  cudaError_t e = cudaGetDevice(out_prev);
  if (e != cudaSuccess) return hq__cuda_fail(fn, "cudaGetDevice", e);
  if (*out_prev != ctx->device && (e = cudaSetDevice(ctx->device)) != cudaSuccess)
    return hq__cuda_fail(fn, "cudaSetDevice", e);
  return HQ_OK;
}

void hq__cuda_leave(hq_cuda_t *ctx, int prev) {
  if (prev != ctx->device) (void)cudaSetDevice(prev);
}

int hq__cuda_scale(const char *fn, hq_cuda_t *ctx, float *c, int64_t rows, int64_t cols,
                   int64_t ld, float beta) {
  cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
  if (rows == 0 || cols == 0 || beta == 1.0f) return HQ_OK;
  if (beta == 0.0f) {
    cudaError_t e = cudaMemset2DAsync(c, (size_t)ld * sizeof(float), 0,
                                      (size_t)cols * sizeof(float), (size_t)rows, ctx->stream);
    return e == cudaSuccess ? HQ_OK : hq__cuda_fail(fn, "cudaMemset2DAsync", e);
  }
  if (ld == cols) {
    st = cublasSscal_64(ctx->blas, rows * cols, &beta, c, 1);
  } else {
    for (int64_t i = 0; i < rows && st == CUBLAS_STATUS_SUCCESS; i++)
      st = cublasSscal_64(ctx->blas, cols, &beta, c + i * ld, 1);
  }
  return st == CUBLAS_STATUS_SUCCESS ? HQ_OK : blas_fail(fn, "cublasSscal", st);
}

int hq_cuda_device_count(int *out_count) {
  int n = 0;
  if (!out_count) return hq__kerr(HQ_MISUSE_BKPT, "cuda_device_count: out_count is NULL");
  if (cudaGetDeviceCount(&n) != cudaSuccess) { /* no driver, the toolkit's stub, no device */
    (void)cudaGetLastError();
    n = 0;
  }
  *out_count = n;
  return HQ_OK;
}

/* Free what a context holds, in reverse order of creation; any part may be missing. */
static void context_free(hq_cuda_t *ctx) {
  if (ctx->stream) (void)cudaStreamSynchronize(ctx->stream);
  if (ctx->sparse) (void)cusparseDestroy(ctx->sparse);
  if (ctx->blas) (void)cublasDestroy(ctx->blas); /* before its workspace goes */
  if (ctx->workspace) (void)hq_pool_free(ctx->pool, ctx->workspace);
  if (ctx->stream) (void)cudaStreamDestroy(ctx->stream);
  ctx->magic = 0;
  free(ctx);
}

int hq_cuda_create(int device, hq_pool_t *pool, hq_cuda_t **out) {
  hq_cuda_t *ctx = NULL;
  int n = 0, major = 0, prev = -1, pool_device = -1, rc = HQ_OK;
  cudaError_t e;
  cublasStatus_t bs;
  cusparseStatus_t ss;
  if (!out) return hq__kerr(HQ_MISUSE_BKPT, "cuda_create: out is NULL");
  if (pool && (hq__pool_backend(pool, &pool_device) != HQ_POOL_CUDA || pool_device != device))
    return hq__kerr(HQ_EINVAL, "cuda_create: pool %" PRIu64 " is not a CUDA pool of device %d",
                    hq_pool_id(pool), device);
  if ((e = cudaGetDeviceCount(&n)) != cudaSuccess) {
    (void)cudaGetLastError();
    return hq__kerr(HQ_ECUDA, "cuda_create: no CUDA device: %s", cudaGetErrorString(e));
  }
  if (device < 0 || device >= n)
    return hq__kerr(HQ_ECUDA, "cuda_create: CUDA device %d does not exist (%d present)", device, n);
  if (!(ctx = calloc(1, sizeof *ctx))) return hq__kerr(HQ_ENOMEM, "cuda_create: out of memory");
  ctx->device = device;
  ctx->pool = pool;
  if ((rc = hq__cuda_enter("cuda_create", ctx, &prev)) != HQ_OK) goto out;
  if ((e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device)) != cudaSuccess) {
    rc = hq__cuda_fail("cuda_create", "cudaDeviceGetAttribute", e);
    goto out;
  }
  if ((e = cudaStreamCreate(&ctx->stream)) != cudaSuccess) {
    rc = hq__cuda_fail("cuda_create", "cudaStreamCreate", e);
    goto out;
  }
  if ((bs = cublasCreate(&ctx->blas)) != CUBLAS_STATUS_SUCCESS) {
    ctx->blas = NULL;
    rc = blas_fail("cuda_create", "cublasCreate", bs);
    goto out;
  }
  /* cublasSetStream puts cuBLAS back on its own workspace: the stream goes first */
  if ((bs = cublasSetStream(ctx->blas, ctx->stream)) != CUBLAS_STATUS_SUCCESS) {
    rc = blas_fail("cuda_create", "cublasSetStream", bs);
    goto out;
  }
  if (pool) {
    ctx->workspace_bytes = major >= 9 ? WORKSPACE_HOPPER : WORKSPACE_OLDER;
    if ((rc = hq_pool_alloc(pool, ctx->workspace_bytes, &ctx->workspace)) != HQ_OK) goto out;
    bs = cublasSetWorkspace(ctx->blas, ctx->workspace, ctx->workspace_bytes);
    if (bs != CUBLAS_STATUS_SUCCESS) {
      rc = blas_fail("cuda_create", "cublasSetWorkspace", bs);
      goto out;
    }
  }
  if ((ss = cusparseCreate(&ctx->sparse)) != CUSPARSE_STATUS_SUCCESS) {
    ctx->sparse = NULL;
    rc = hq__kerr(ss == CUSPARSE_STATUS_ALLOC_FAILED ? HQ_ENOMEM : HQ_ECUDA,
                  "cuda_create: cusparseCreate: %s", cusparseGetErrorString(ss));
    goto out;
  }
  if ((ss = cusparseSetStream(ctx->sparse, ctx->stream)) != CUSPARSE_STATUS_SUCCESS) {
    rc = hq__kerr(HQ_ECUDA, "cuda_create: cusparseSetStream: %s", cusparseGetErrorString(ss));
    goto out;
  }
  ctx->magic = HQ_CUDA_MAGIC;
  *out = ctx;
  ctx = NULL;
out:
  if (ctx) context_free(ctx); /* on failure, with the device still current */
  if (prev >= 0 && prev != device) (void)cudaSetDevice(prev);
  return rc;
}

void hq_cuda_destroy(hq_cuda_t *ctx) {
  int prev = -1, device;
  if (!ctx || ctx->magic != HQ_CUDA_MAGIC) return;
  device = ctx->device;
  if (cudaGetDevice(&prev) != cudaSuccess) prev = -1;
  if (prev != device) (void)cudaSetDevice(device);
  context_free(ctx);
  if (prev >= 0 && prev != device) (void)cudaSetDevice(prev);
}

int hq_cuda_synchronize(hq_cuda_t *ctx) {
  cudaError_t e;
  int rc = hq__cuda_check("cuda_synchronize", ctx);
  if (rc != HQ_OK) return rc;
  if ((e = cudaStreamSynchronize(ctx->stream)) != cudaSuccess)
    return hq__cuda_fail("cuda_synchronize", "cudaStreamSynchronize", e);
  return HQ_OK;
}

int hq_cuda_memcpy(hq_cuda_t *ctx, void *dst, const void *src, size_t bytes) {
  cudaError_t e;
  int prev, rc = hq__cuda_check("cuda_memcpy", ctx);
  if (rc != HQ_OK) return rc;
  if (!bytes) return HQ_OK;
  if (!dst || !src) return hq__kerr(HQ_MISUSE_BKPT, "cuda_memcpy: NULL pointer with %zu bytes", bytes);
  if ((rc = hq__cuda_enter("cuda_memcpy", ctx, &prev)) != HQ_OK) return rc;
  e = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, ctx->stream);
  if (e == cudaSuccess) e = cudaStreamSynchronize(ctx->stream);
  if (e != cudaSuccess) rc = hq__cuda_fail("cuda_memcpy", "cudaMemcpyAsync", e);
  hq__cuda_leave(ctx, prev);
  return rc;
}

static cublasOperation_t blas_op(hq_op_t op) { return op == HQ_OP_T ? CUBLAS_OP_T : CUBLAS_OP_N; }

int hq_cuda_gemm(hq_cuda_t *ctx, hq_op_t op_a, hq_op_t op_b, int64_t m, int64_t n, int64_t k,
                 float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                 float beta, float *c, int64_t ldc) {
  int work, prev, rc = hq__cuda_check("cuda_gemm", ctx);
  if (rc != HQ_OK) return rc;
  rc = hq__gemm_check("cuda_gemm", op_a, op_b, m, n, k, a, lda, b, ldb, c, ldc, &work);
  if (rc != HQ_OK || work == HQ__GEMM_NOTHING) return rc;
  if ((rc = hq__cuda_enter("cuda_gemm", ctx, &prev)) != HQ_OK) return rc;
  hq_annotate_region_begin("cuda.gemm");
  if (work == HQ__GEMM_SCALE_C) {
    rc = hq__cuda_scale("cuda_gemm", ctx, c, m, n, ldc, beta);
  } else {
    /* Row-major C = op(A) op(B) is, read column-major, C^T = op(B)^T op(A)^T: the same
     * memory, so cuBLAS gets the operands swapped and the dimensions n, m. */
    cublasStatus_t st = cublasSgemm(ctx->blas, blas_op(op_b), blas_op(op_a), (int)n, (int)m,
                                    (int)k, &alpha, b, (int)ldb, a, (int)lda, &beta, c, (int)ldc);
    if (st != CUBLAS_STATUS_SUCCESS) rc = blas_fail("cuda_gemm", "cublasSgemm", st);
  }
  hq_annotate_region_end();
  hq__cuda_leave(ctx, prev);
  return rc;
}
