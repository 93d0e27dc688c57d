/*
 * hq_blas.c: dense products through CBLAS (OpenBLAS), and the tensor matmul that maps strided
 * 2-d views onto BLAS's (op, leading dimension) without copying when it can.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>

#include "kernels_int.h"

static int fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

static int check_op(const char *fn, hq_op_t op) {
  if (op != HQ_OP_N && op != HQ_OP_T) return hq__kerr(HQ_EINVAL, "%s: unknown op %d", fn, (int)op);
  return HQ_OK;
}

static enum CBLAS_TRANSPOSE cblas_op(hq_op_t op) { return op == HQ_OP_T ? CblasTrans : CblasNoTrans; }

static int64_t max1(int64_t v) { return v > 1 ? v : 1; }

int hq__gemm_check(const char *fn, hq_op_t op_a, hq_op_t op_b, int64_t m, int64_t n, int64_t k,
                   const void *a, int64_t lda, const void *b, int64_t ldb, const void *c,
                   int64_t ldc, int *out_work) {
  int rc;
  if ((rc = check_op(fn, op_a)) || (rc = check_op(fn, op_b))) return rc;
  if (m < 0 || n < 0 || k < 0)
    return hq__kerr(HQ_EINVAL, "%s: negative size (m %lld, n %lld, k %lld)", fn, (long long)m,
                    (long long)n, (long long)k);
  if (!fits_int(m) || !fits_int(n) || !fits_int(k) || !fits_int(lda) || !fits_int(ldb) ||
      !fits_int(ldc))
    return hq__kerr(HQ_ERANGE, "%s: a dimension exceeds INT_MAX", fn);
  *out_work = HQ__GEMM_NOTHING;
  if (m == 0 || n == 0) return HQ_OK;
  if (!c) return hq__kerr(HQ_MISUSE_BKPT, "gemm: NULL argument");
  if (ldc < max1(n))
    return hq__kerr(HQ_EINVAL, "%s: C is NULL or ldc %lld < n %lld", fn, (long long)ldc,
                    (long long)n);
  *out_work = HQ__GEMM_SCALE_C; /* BLAS would be asked about empty A and B */
  if (k == 0) return HQ_OK;
  if (!a) return hq__kerr(HQ_MISUSE_BKPT, "gemm: NULL argument");
  if (lda < max1(op_a == HQ_OP_N ? k : m))
    return hq__kerr(HQ_EINVAL, "%s: A is NULL or lda %lld too small", fn, (long long)lda);
  if (!b) return hq__kerr(HQ_MISUSE_BKPT, "gemm: NULL argument");
  if (ldb < max1(op_b == HQ_OP_N ? n : k))
    return hq__kerr(HQ_EINVAL, "%s: B is NULL or ldb %lld too small", fn, (long long)ldb);
  *out_work = HQ__GEMM_PRODUCT;
  return HQ_OK;
}

int hq_gemm(hq_op_t op_a, hq_op_t op_b, int64_t m, int64_t n, int64_t k, float alpha,
            const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
            int64_t ldc) {
  int work, rc = hq__gemm_check("gemm", op_a, op_b, m, n, k, a, lda, b, ldb, c, ldc, &work);
  if (rc != HQ_OK || work == HQ__GEMM_NOTHING) return rc;
  if (work == HQ__GEMM_SCALE_C) {
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return HQ_OK;
  }
  cblas_sgemm(CblasRowMajor, cblas_op(op_a), cblas_op(op_b), (int)m, (int)n, (int)k, alpha, a,
              (int)lda, b, (int)ldb, beta, c, (int)ldc);
  return HQ_OK;
}

int hq_gemv(hq_op_t op_a, int64_t m, int64_t n, float alpha, const float *a, int64_t lda,
            const float *x, float beta, float *y) {
  int rc;
  int64_t ylen, xlen;
  if ((rc = check_op("gemv", op_a))) return rc;
  if (m < 0 || n < 0) return hq__kerr(HQ_EINVAL, "gemv: negative size");
  if (!fits_int(m) || !fits_int(n) || !fits_int(lda)) return hq__kerr(HQ_ERANGE, "gemv: size exceeds INT_MAX");
  ylen = op_a == HQ_OP_N ? m : n;
  xlen = op_a == HQ_OP_N ? n : m;
  if (ylen == 0) return HQ_OK;
  if (!y) return hq__kerr(HQ_MISUSE_BKPT, "gemv: y is NULL");
  if (xlen == 0) {
    for (int64_t i = 0; i < ylen; i++) y[i] = beta == 0.0f ? 0.0f : beta * y[i];
    return HQ_OK;
  }
  if (!a || !x) return hq__kerr(HQ_MISUSE_BKPT, "gemv: NULL argument");
  if (lda < max1(n)) return hq__kerr(HQ_EINVAL, "gemv: NULL operand or lda < n");
  cblas_sgemv(CblasRowMajor, cblas_op(op_a), (int)m, (int)n, alpha, a, (int)lda, x, 1, beta, y, 1);
  return HQ_OK;
}

int hq_axpy(int64_t n, float alpha, const float *x, float *y) {
  if (n > 0 && (!x || !y)) return hq__kerr(HQ_MISUSE_BKPT, "axpy: NULL argument");
  if (n < 0) return hq__kerr(HQ_EINVAL, "axpy: n < 0");
  if (!fits_int(n)) return hq__kerr(HQ_ERANGE, "axpy: n exceeds INT_MAX");
  if (n) cblas_saxpy((int)n, alpha, x, 1, y, 1);
  return HQ_OK;
}

int hq_scal(int64_t n, float alpha, float *x) {
  if (n > 0 && !x) return hq__kerr(HQ_MISUSE_BKPT, "scal: NULL argument");
  if (n < 0) return hq__kerr(HQ_EINVAL, "scal: n < 0");
  if (!fits_int(n)) return hq__kerr(HQ_ERANGE, "scal: n exceeds INT_MAX");
  if (n) cblas_sscal((int)n, alpha, x, 1);
  return HQ_OK;
}

int hq_dot(int64_t n, const float *x, const float *y, float *out) {
  if (!out || (n > 0 && (!x || !y))) return hq__kerr(HQ_MISUSE_BKPT, "dot: NULL argument");
  if (n < 0) return hq__kerr(HQ_EINVAL, "dot: bad arguments");
  if (!fits_int(n)) return hq__kerr(HQ_ERANGE, "dot: n exceeds INT_MAX");
  *out = n ? cblas_sdot((int)n, x, 1, y, 1) : 0.0f;
  return HQ_OK;
}

/* ---- tensor matmul ----------------------------------------------------------------------- */

/* A 2-d operand as BLAS sees it: stored row-major at p with leading dimension ld, used
 * through op; scratch (if any) is the f32 copy to free. */
typedef struct operand_s {
  float *p;
  int64_t ld;
  hq_op_t op;
  void *scratch;
} operand_t;

static hq_op_t flip(hq_op_t op) { return op == HQ_OP_N ? HQ_OP_T : HQ_OP_N; }

static int scratch_alloc(hq_pool_t *pool, size_t bytes, void **out) {
  if (pool) return hq_pool_alloc(pool, bytes, out);
  if (posix_memalign(out, 64, bytes) != 0)
    return hq__kerr(HQ_ENOMEM, "matmul: cannot allocate %zu bytes of scratch", bytes);
  return HQ_OK;
}

static void scratch_free(hq_pool_t *pool, void *p) {
  if (!p) return;
  if (pool) (void)hq_pool_free(pool, p);
  else free(p);
}

/* Row-major in place (last stride 1) or transposed in place (first stride 1), else NULL. */
static int direct_layout(const hq_tensor_t *t, float **p, int64_t *ld, int *transposed) {
  int64_t r = t->shape[0], c = t->shape[1], s0 = t->strides[0], s1 = t->strides[1];
  if (t->dtype != HQ_F32) return 0;
  if ((s1 == 1 || c == 1) && (r == 1 || s0 >= max1(c))) {
    *p = t->data;
    *ld = r == 1 ? max1(c) : s0;
    *transposed = 0;
    return 1;
  }
  if ((s0 == 1 || r == 1) && (c == 1 || s1 >= max1(r))) {
    *p = t->data;
    *ld = c == 1 ? max1(r) : s1;
    *transposed = 1;
    return 1;
  }
  return 0;
}

static int operand_of(const hq_tensor_t *t, hq_op_t op, hq_pool_t *pool, operand_t *o) {
  int transposed, rc;
  hq_tensor_t packed;
  memset(o, 0, sizeof *o);
  if (direct_layout(t, &o->p, &o->ld, &transposed)) {
    o->op = transposed ? flip(op) : op;
    return HQ_OK;
  }
  rc = scratch_alloc(pool, (size_t)(t->shape[0] * t->shape[1]) * sizeof(float), &o->scratch);
  if (rc != HQ_OK) return rc;
  (void)hq_tensor_wrap(&packed, o->scratch, HQ_F32, 2, t->shape, NULL);
  rc = hq_tensor_copy(&packed, t);
  if (rc != HQ_OK) {
    scratch_free(pool, o->scratch);
    o->scratch = NULL;
    return rc;
  }
  o->p = o->scratch;
  o->ld = max1(t->shape[1]);
  o->op = op;
  return HQ_OK;
}

int hq_tensor_matmul(const hq_tensor_t *a, hq_op_t op_a, const hq_tensor_t *b, hq_op_t op_b,
                     float alpha, float beta, hq_tensor_t *c) {
  int64_t m, n, k, kb;
  operand_t oa = {0}, ob = {0};
  float *cp = NULL;
  int64_t ldc = 0;
  int ctrans = 0, rc;
  void *cscratch = NULL;
  hq_pool_t *pool;

  if (!a || !b || !c) return hq__kerr(HQ_MISUSE_BKPT, "matmul: NULL tensor");
  if ((rc = check_op("matmul", op_a)) || (rc = check_op("matmul", op_b))) return rc;
  if (a->ndim != 2 || b->ndim != 2 || c->ndim != 2)
    return hq__kerr(HQ_EINVAL, "matmul: operands must be 2-d (got %d, %d, %d)", a->ndim,
                    b->ndim, c->ndim);
  m = op_a == HQ_OP_N ? a->shape[0] : a->shape[1];
  k = op_a == HQ_OP_N ? a->shape[1] : a->shape[0];
  kb = op_b == HQ_OP_N ? b->shape[0] : b->shape[1];
  n = op_b == HQ_OP_N ? b->shape[1] : b->shape[0];
  if (k != kb || c->shape[0] != m || c->shape[1] != n)
    return hq__kerr(HQ_EINVAL, "matmul: shapes do not match (%lldx%lld @ %lldx%lld -> %lldx%lld)",
                    (long long)m, (long long)k, (long long)kb, (long long)n,
                    (long long)c->shape[0], (long long)c->shape[1]);
  if (m == 0 || n == 0) return HQ_OK;
  pool = hq_tensor_owns(c) ? c->pool_ : NULL;

  if (!direct_layout(c, &cp, &ldc, &ctrans)) {
    hq_tensor_t packed;
    rc = scratch_alloc(pool, (size_t)(m * n) * sizeof(float), &cscratch);
    if (rc != HQ_OK) goto out;
    (void)hq_tensor_wrap(&packed, cscratch, HQ_F32, 2, c->shape, NULL);
    if (beta != 0.0f && (rc = hq_tensor_copy(&packed, c)) != HQ_OK) goto out;
    cp = cscratch;
    ldc = n;
    ctrans = 0;
  }
  if ((rc = operand_of(a, op_a, pool, &oa)) != HQ_OK) goto out;
  if ((rc = operand_of(b, op_b, pool, &ob)) != HQ_OK) goto out;
  if (!ctrans) {
    rc = hq_gemm(oa.op, ob.op, m, n, k, alpha, oa.p, oa.ld, ob.p, ob.ld, beta, cp, ldc);
  } else {
    /* C stored transposed: compute C^T = op(B)^T op(A)^T into it. */
    rc = hq_gemm(flip(ob.op), flip(oa.op), n, m, k, alpha, ob.p, ob.ld, oa.p, oa.ld, beta, cp,
                 ldc);
  }
  if (rc == HQ_OK && cscratch) {
    hq_tensor_t packed;
    (void)hq_tensor_wrap(&packed, cscratch, HQ_F32, 2, c->shape, NULL);
    rc = hq_tensor_copy(c, &packed);
  }
out:
  scratch_free(pool, oa.scratch);
  scratch_free(pool, ob.scratch);
  scratch_free(pool, cscratch);
  return rc;
}
