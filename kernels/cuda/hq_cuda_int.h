/*
 * hq_cuda_int.h: what hq_cuda.c (contexts, copies, cuBLAS) and hq_cuda_sparse.c (cuSPARSE)
 * share.  Built only with CUDA; compiled by the C compiler against the toolkit's headers (no
 * device code).
 */
#ifndef HQ_CUDA_INT_H
#define HQ_CUDA_INT_H

#include <stdint.h>
#include <cuda_runtime_api.h>
#include <cublas_v2.h>
#include <cusparse.h>

#include "heapql/kernels.h"
#include "../kernels_int.h"

#define HQ_CUDA_MAGIC 0x68716375u /* "hqcu" */

struct hq_cuda_s {
  uint32_t magic;
  int device;
  cudaStream_t stream;       /* blocking: ordered with the legacy default stream */
  cublasHandle_t blas;
  cusparseHandle_t sparse;
  hq_pool_t *pool;           /* where the cuBLAS workspace came from; may be NULL */
  void *workspace;
  size_t workspace_bytes;
};

/* hq_cuda.c */
/* HQ_OK when ctx is a live context, else HQ_EINVAL with a detail naming fn. */
int hq__cuda_check(const char *fn, const hq_cuda_t *ctx);
/* Make ctx's device current on this thread, the previous one saved in *out_prev (HQ_ECUDA
 * with the detail on failure); hq__cuda_leave gives the thread its device back. */
int hq__cuda_enter(const char *fn, hq_cuda_t *ctx, int *out_prev);
void hq__cuda_leave(hq_cuda_t *ctx, int prev);
/* HQ_ECUDA with "fn: what: CUDA's message" for a failed runtime call; clears the error. */
int hq__cuda_fail(const char *fn, const char *what, cudaError_t e);
/* pool NULL, or an HQ_POOL_CUDA pool of ctx's device; else HQ_EINVAL naming fn. */
int hq__cuda_check_pool(const char *fn, const hq_cuda_t *ctx, hq_pool_t *pool);
/* C[rows x cols] (row stride ld, device) = beta C, queued on ctx's stream: beta 0 writes
 * zeros (NaN not propagated), beta 1 does nothing.  For the products with nothing to add. */
int hq__cuda_scale(const char *fn, hq_cuda_t *ctx, float *c, int64_t rows, int64_t cols,
                   int64_t ld, float beta);

#endif /* HQ_CUDA_INT_H */
