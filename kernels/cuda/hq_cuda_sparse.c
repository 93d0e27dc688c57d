/*
 * hq_cuda_sparse.c: CSR matrices on the device and their products through cuSPARSE's generic
 * API (cusparseCreateConstCsr / CreateConstDnVec / CreateConstDnMat descriptors, then
 * cusparseSpMV / cusparseSpMM after a *_bufferSize query).  The caller owns every byte of
 * device memory: the matrix arrays (or the pool they are uploaded into) and cuSPARSE's
 * workspace, so a pool's statistics and heapql see all of it.  Descriptors are host objects
 * made and destroyed around each call.
 */
#include <stdlib.h>
#include <string.h>

#include "heapql/annotate.h"
#include "hq_cuda_int.h"

static int sparse_fail(const char *fn, const char *what, cusparseStatus_t st) {
  int rc = st == CUSPARSE_STATUS_ALLOC_FAILED ? HQ_ENOMEM
         : st == CUSPARSE_STATUS_NOT_SUPPORTED ? HQ_ENOTSUP : HQ_ECUDA;
  return hq__kerr(rc, "%s: %s: %s", fn, what, cusparseGetErrorString(st));
}

static int check_csr(const char *fn, const hq_cuda_csr_t *a) {
  if (!a) return hq__kerr(HQ_MISUSE_BKPT, "%s: matrix is NULL", fn);
  if ((a->itype != HQ_INDEX_I32 && a->itype != HQ_INDEX_I64) || a->rows < 0 || a->cols < 0 ||
      a->nnz < 0)
    return hq__kerr(HQ_EINVAL, "%s: malformed matrix header", fn);
  if (a->itype == HQ_INDEX_I32 && (a->rows > INT32_MAX || a->cols > INT32_MAX || a->nnz > INT32_MAX))
    return hq__kerr(HQ_EINVAL, "%s: %lld x %lld with %lld entries does not fit int32 indices", fn,
                    (long long)a->rows, (long long)a->cols, (long long)a->nnz);
  if ((a->rows > 0 && !a->rowptr) || (a->nnz > 0 && (!a->colind || !a->values)))
    return hq__kerr(HQ_EINVAL, "%s: NULL matrix array", fn);
  return HQ_OK;
}

static cusparseOperation_t sparse_op(hq_op_t op) {
  return op == HQ_OP_T ? CUSPARSE_OPERATION_TRANSPOSE : CUSPARSE_OPERATION_NON_TRANSPOSE;
}

static cusparseIndexType_t index_type(hq_index_type_t t) {
  return t == HQ_INDEX_I32 ? CUSPARSE_INDEX_32I : CUSPARSE_INDEX_64I;
}

/* One product: the dense operands of SpMV (n < 0: vectors x, y) or SpMM (B, C row-major with
 * n columns).  query non-NULL: only the workspace size is wanted. */
typedef struct product_s {
  const char *fn;
  hq_op_t op;
  float alpha, beta;
  const hq_cuda_csr_t *a;
  const float *b;        /* x for SpMV */
  float *c;              /* y for SpMV */
  int64_t n, ldb, ldc;   /* SpMM only */
  void *buffer;
  size_t buffer_bytes;
  size_t *query;
} product_t;

/* The cuSPARSE part of a product whose sizes are all non-zero; the device is current. */
static int run_cusparse(hq_cuda_t *ctx, const product_t *p, int64_t crows, int64_t brows) {
  cusparseConstSpMatDescr_t ma = NULL;
  cusparseConstDnVecDescr_t vx = NULL;
  cusparseDnVecDescr_t vy = NULL;
  cusparseConstDnMatDescr_t mb = NULL;
  cusparseDnMatDescr_t mc = NULL;
  cusparseStatus_t st;
  const char *what = "cusparseCreateConstCsr";
  const hq_cuda_csr_t *a = p->a;
  int spmm = p->n >= 0, rc = HQ_OK;
  size_t need = 0;

  st = cusparseCreateConstCsr(&ma, a->rows, a->cols, a->nnz, a->rowptr, a->colind, a->values,
                              index_type(a->itype), index_type(a->itype),
                              CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F);
  if (st == CUSPARSE_STATUS_SUCCESS) {
    what = spmm ? "cusparseCreateConstDnMat" : "cusparseCreateConstDnVec";
    st = spmm ? cusparseCreateConstDnMat(&mb, brows, p->n, p->ldb, p->b, CUDA_R_32F,
                                         CUSPARSE_ORDER_ROW)
              : cusparseCreateConstDnVec(&vx, brows, p->b, CUDA_R_32F);
  }
  if (st == CUSPARSE_STATUS_SUCCESS) {
    what = spmm ? "cusparseCreateDnMat" : "cusparseCreateDnVec";
    st = spmm ? cusparseCreateDnMat(&mc, crows, p->n, p->ldc, p->c, CUDA_R_32F, CUSPARSE_ORDER_ROW)
              : cusparseCreateDnVec(&vy, crows, p->c, CUDA_R_32F);
  }
  if (st == CUSPARSE_STATUS_SUCCESS) {
    what = spmm ? "cusparseSpMM_bufferSize" : "cusparseSpMV_bufferSize";
    st = spmm ? cusparseSpMM_bufferSize(ctx->sparse, sparse_op(p->op),
                                        CUSPARSE_OPERATION_NON_TRANSPOSE, &p->alpha, ma, mb,
                                        &p->beta, mc, CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, &need)
              : cusparseSpMV_bufferSize(ctx->sparse, sparse_op(p->op), &p->alpha, ma, vx,
                                        &p->beta, vy, CUDA_R_32F, CUSPARSE_SPMV_ALG_DEFAULT, &need);
  }
  if (st != CUSPARSE_STATUS_SUCCESS) {
    rc = sparse_fail(p->fn, what, st);
    goto out;
  }
  if (p->query) {
    *p->query = need;
    goto out;
  }
  if (need && (!p->buffer || p->buffer_bytes < need)) {
    rc = hq__kerr(HQ_EINVAL, "%s: workspace of %zu bytes given, cuSPARSE needs %zu (ask "
                  "%s_buffer_size)", p->fn, p->buffer ? p->buffer_bytes : 0, need, p->fn);
    goto out;
  }
  if (p->beta == 0.0f) { /* overwrite, NaN included, whatever cuSPARSE does with beta 0 */
    rc = hq__cuda_scale(p->fn, ctx, p->c, spmm ? crows : 1, spmm ? p->n : crows,
                        spmm ? p->ldc : crows, 0.0f);
    if (rc != HQ_OK) goto out;
  }
  what = spmm ? "cusparseSpMM" : "cusparseSpMV";
  st = spmm ? cusparseSpMM(ctx->sparse, sparse_op(p->op), CUSPARSE_OPERATION_NON_TRANSPOSE,
                           &p->alpha, ma, mb, &p->beta, mc, CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT,
                           need ? p->buffer : NULL)
            : cusparseSpMV(ctx->sparse, sparse_op(p->op), &p->alpha, ma, vx, &p->beta, vy,
                           CUDA_R_32F, CUSPARSE_SPMV_ALG_DEFAULT, need ? p->buffer : NULL);
  if (st != CUSPARSE_STATUS_SUCCESS) rc = sparse_fail(p->fn, what, st);
out:
  if (mc) (void)cusparseDestroyDnMat(mc);
  if (mb) (void)cusparseDestroyDnMat(mb);
  if (vy) (void)cusparseDestroyDnVec(vy);
  if (vx) (void)cusparseDestroyDnVec(vx);
  if (ma) (void)cusparseDestroySpMat(ma);
  return rc;
}

/* Checks, the cases cuSPARSE is not asked about (an empty side: C = beta C), then cuSPARSE. */
static int product(hq_cuda_t *ctx, const product_t *p) {
  int64_t crows, brows;
  int prev, rc, spmm = p->n >= 0;
  if ((rc = hq__cuda_check(p->fn, ctx)) != HQ_OK || (rc = check_csr(p->fn, p->a)) != HQ_OK)
    return rc;
  if (p->op != HQ_OP_N && p->op != HQ_OP_T)
    return hq__kerr(HQ_EINVAL, "%s: unknown op %d", p->fn, (int)p->op);
  crows = p->op == HQ_OP_N ? p->a->rows : p->a->cols;
  brows = p->op == HQ_OP_N ? p->a->cols : p->a->rows;
  if (spmm && (p->ldb < p->n || p->ldc < p->n))
    return hq__kerr(HQ_EINVAL, "%s: ldb %lld or ldc %lld < n %lld", p->fn, (long long)p->ldb,
                    (long long)p->ldc, (long long)p->n);
  if ((crows && (!spmm || p->n) && !p->c) || (brows && (!spmm || p->n) && !p->b))
    return hq__kerr(HQ_EINVAL, "%s: NULL dense operand", p->fn);
  if (crows == 0 || (spmm && p->n == 0) || brows == 0 || p->a->nnz == 0) {
    if (p->query) {
      *p->query = 0;
      return HQ_OK;
    }
    if (crows == 0 || (spmm && p->n == 0)) return HQ_OK;
  }
  if ((rc = hq__cuda_enter(p->fn, ctx, &prev)) != HQ_OK) return rc;
  if (!p->query) hq_annotate_region_begin(spmm ? "cuda.spmm" : "cuda.spmv");
  if (brows == 0 || p->a->nnz == 0) /* nothing to add: C = beta C */
    rc = hq__cuda_scale(p->fn, ctx, p->c, spmm ? crows : 1, spmm ? p->n : crows,
                        spmm ? p->ldc : crows, p->beta);
  else
    rc = run_cusparse(ctx, p, crows, brows);
  if (!p->query) hq_annotate_region_end();
  hq__cuda_leave(ctx, prev);
  return rc;
}

int hq_cuda_spmv_buffer_size(hq_cuda_t *ctx, hq_op_t op, float alpha, const hq_cuda_csr_t *a,
                             const float *x, float beta, float *y, size_t *out_bytes) {
  product_t p = {"cuda_spmv", op, alpha, beta, a, x, y, -1, 0, 0, NULL, 0, out_bytes};
  if (!out_bytes) return hq__kerr(HQ_MISUSE_BKPT, "cuda_spmv_buffer_size: out_bytes is NULL");
  return product(ctx, &p);
}

int hq_cuda_spmv(hq_cuda_t *ctx, hq_op_t op, float alpha, const hq_cuda_csr_t *a, const float *x,
                 float beta, float *y, void *buffer, size_t buffer_bytes) {
  product_t p = {"cuda_spmv", op, alpha, beta, a, x, y, -1, 0, 0, buffer, buffer_bytes, NULL};
  return product(ctx, &p);
}

int hq_cuda_spmm_buffer_size(hq_cuda_t *ctx, hq_op_t op, float alpha, const hq_cuda_csr_t *a,
                             const float *b, int64_t ldb, int64_t n, float beta, float *c,
                             int64_t ldc, size_t *out_bytes) {
  product_t p = {"cuda_spmm", op, alpha, beta, a, b, c, n, ldb, ldc, NULL, 0, out_bytes};
  if (!out_bytes) return hq__kerr(HQ_MISUSE_BKPT, "cuda_spmm_buffer_size: out_bytes is NULL");
  if (n < 0) return hq__kerr(HQ_EINVAL, "cuda_spmm: n %lld < 0", (long long)n);
  return product(ctx, &p);
}

int hq_cuda_spmm(hq_cuda_t *ctx, hq_op_t op, float alpha, const hq_cuda_csr_t *a, const float *b,
                 int64_t ldb, int64_t n, float beta, float *c, int64_t ldc, void *buffer,
                 size_t buffer_bytes) {
  product_t p = {"cuda_spmm", op, alpha, beta, a, b, c, n, ldb, ldc, buffer, buffer_bytes, NULL};
  if (n < 0) return hq__kerr(HQ_EINVAL, "cuda_spmm: n %lld < 0", (long long)n);
  return product(ctx, &p);
}

/* ---- upload ------------------------------------------------------------------------------ */

static int device_alloc(const char *fn, hq_pool_t *pool, size_t bytes, void **out) {
  cudaError_t e;
  *out = NULL;
  if (!bytes) return HQ_OK;
  if (pool) return hq_pool_alloc(pool, bytes, out);
  if ((e = cudaMalloc(out, bytes)) != cudaSuccess) {
    *out = NULL;
    return hq__cuda_fail(fn, "cudaMalloc", e);
  }
  return HQ_OK;
}

static void device_free(hq_pool_t *pool, void *p) {
  if (!p) return;
  if (pool) (void)hq_pool_free(pool, p);
  else (void)cudaFree(p);
}

int hq_cuda_csr_upload(hq_cuda_t *ctx, const hq_sparse_t *host, hq_pool_t *pool,
                       hq_cuda_csr_t *out) {
  static const char fn[] = "cuda_csr_upload";
  hq_sparse_t *canonical = NULL;
  const hq_sparse_t *src = host;
  hq_cuda_csr_t d;
  size_t isz, bytes, rp_bytes, ci_bytes, v_bytes;
  int prev, rc = hq__cuda_check(fn, ctx);
  if (rc != HQ_OK) return rc;
  if (!host || !out) return hq__kerr(HQ_MISUSE_BKPT, "%s: NULL host matrix or out", fn);
  if ((rc = hq__cuda_check_pool(fn, ctx, pool)) != HQ_OK) return rc;
  if ((rc = hq_sparse_nbytes(host, &bytes, NULL)) != HQ_OK) return rc; /* checks the header */
  if (host->format != HQ_SPARSE_CSR || !host->canonical) {
    if ((rc = hq_sparse_convert(host, HQ_SPARSE_CSR, &canonical)) != HQ_OK) return rc;
    src = canonical;
  }
  memset(&d, 0, sizeof d);
  isz = src->itype == HQ_INDEX_I32 ? 4 : 8;
  rp_bytes = (size_t)(src->rows + 1) * isz;
  ci_bytes = (size_t)src->nnz * isz;
  v_bytes = (size_t)src->nnz * sizeof(float);
  if ((rc = hq__cuda_enter(fn, ctx, &prev)) != HQ_OK) goto out;
  if ((rc = device_alloc(fn, pool, rp_bytes, &d.rowptr)) == HQ_OK &&
      (rc = device_alloc(fn, pool, ci_bytes, &d.colind)) == HQ_OK &&
      (rc = device_alloc(fn, pool, v_bytes, (void **)&d.values)) == HQ_OK &&
      (rc = hq_cuda_memcpy(ctx, d.rowptr, src->rowptr, rp_bytes)) == HQ_OK &&
      (rc = hq_cuda_memcpy(ctx, d.colind, src->colind, ci_bytes)) == HQ_OK)
    rc = hq_cuda_memcpy(ctx, d.values, src->values, v_bytes);
  if (rc != HQ_OK) {
    device_free(pool, d.rowptr);
    device_free(pool, d.colind);
    device_free(pool, d.values);
  } else {
    d.itype = src->itype;
    d.rows = src->rows;
    d.cols = src->cols;
    d.nnz = src->nnz;
    d.pool_ = pool;
    d.owned_ = 1;
    *out = d;
  }
  hq__cuda_leave(ctx, prev);
out:
  hq_sparse_free(canonical);
  return rc;
}

void hq_cuda_csr_release(hq_cuda_t *ctx, hq_cuda_csr_t *csr) {
  int prev = -1;
  if (!csr) return;
  if (ctx && ctx->magic == HQ_CUDA_MAGIC) {
    (void)hq_cuda_synchronize(ctx); /* nothing queued may still read the arrays */
    if (hq__cuda_enter("cuda_csr_release", ctx, &prev) != HQ_OK) prev = -1;
  }
  if (csr->owned_) {
    device_free(csr->pool_, csr->rowptr);
    device_free(csr->pool_, csr->colind);
    device_free(csr->pool_, csr->values);
  }
  if (prev >= 0) hq__cuda_leave(ctx, prev);
  memset(csr, 0, sizeof *csr);
}
