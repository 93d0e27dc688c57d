/*
 * hq_sparse.c: CSR and COO f32 matrices with int32 or int64 indices.  The public functions
 * validate and allocate here; the loops live in hq_sparse_impl.h, instantiated once per index
 * type, so the hot loops never branch on the index type.
 */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>

#include "kernels_int.h"

#define IDX int32_t
#define SFX i32
#include "hq_sparse_impl.h"
#undef IDX
#undef SFX
#define IDX int64_t
#define SFX i64
#include "hq_sparse_impl.h"
#undef IDX
#undef SFX

#define DISPATCH(s, fn, ...) \
  ((s)->itype == HQ_INDEX_I32 ? fn##_i32(__VA_ARGS__) : fn##_i64(__VA_ARGS__))

static size_t isize(hq_index_type_t t) { return t == HQ_INDEX_I32 ? 4 : 8; }

static int64_t imax(hq_index_type_t t) { return t == HQ_INDEX_I32 ? INT32_MAX : INT64_MAX; }

static int check_matrix(const char *fn, const hq_sparse_t *s) {
  if (!s) return hq__kerr(HQ_MISUSE_BKPT, "%s: matrix is NULL", fn);
  if ((s->format != HQ_SPARSE_CSR && s->format != HQ_SPARSE_COO) ||
      (s->itype != HQ_INDEX_I32 && s->itype != HQ_INDEX_I64) || s->rows < 0 || s->cols < 0 ||
      s->nnz < 0 || s->nnz > s->capacity)
    return hq__kerr(HQ_EINVAL, "%s: malformed matrix header", fn);
  return HQ_OK;
}

/* Memory for a matrix: from its pool when it has one, else the C heap.  zero: zero-filled. */
static void *sparse_alloc(hq_pool_t *pool, size_t bytes, int zero) {
  void *p = NULL;
  if (!bytes) return NULL;
  if (pool) {
    if (hq_pool_alloc(pool, bytes, &p) != HQ_OK) return NULL;
    if (zero) memset(p, 0, bytes);
    return p;
  }
  return zero ? calloc(1, bytes) : malloc(bytes);
}

static void sparse_release(hq_pool_t *pool, void *p) {
  if (pool) (void)hq_pool_free(pool, p);
  else free(p);
}

/* A pool that can hold a matrix: a live host pool (the kernels read and write the arrays on the
 * CPU, so device memory will not do).  NULL (the C heap) is fine. */
static int check_pool(const char *fn, hq_pool_t *pool) {
  int backend;
  if (!pool) return HQ_OK;
  backend = hq__pool_backend(pool, NULL);
  if (backend < 0) return hq__kerr(HQ_EINVAL, "%s: pool is not a live pool", fn);
  if (backend == HQ_POOL_CUDA)
    return hq__kerr(HQ_EINVAL, "%s: pool %" PRIu64 " holds device memory; sparse matrices live "
                    "in host memory (hq_cuda_csr_upload copies one to the device)", fn,
                    hq_pool_id(pool));
  return HQ_OK;
}

/* Allocate an empty matrix (nnz 0) and its arrays, all from pool (NULL = the C heap).  Nothing
 * is left allocated on failure. */
static int sparse_new(hq_pool_t *pool, hq_sparse_format_t format, hq_index_type_t itype,
                      int64_t rows, int64_t cols, int64_t capacity, hq_sparse_t **out) {
  hq_sparse_t *s;
  size_t isz;
  if (!out) return hq__kerr(HQ_MISUSE_BKPT, "sparse: out is NULL");
  if (format != HQ_SPARSE_CSR && format != HQ_SPARSE_COO)
    return hq__kerr(HQ_EINVAL, "sparse: unknown format %d", (int)format);
  if (itype != HQ_INDEX_I32 && itype != HQ_INDEX_I64)
    return hq__kerr(HQ_EINVAL, "sparse: unknown index type %d", (int)itype);
  if (rows < 0 || cols < 0 || capacity < 0)
    return hq__kerr(HQ_EINVAL, "sparse: negative size");
  if (rows > imax(itype) || cols > imax(itype) || capacity > imax(itype) ||
      (uint64_t)capacity > SIZE_MAX / 8)
    return hq__kerr(HQ_ERANGE, "sparse: %lld x %lld with %lld entries does not fit %s indices",
                    (long long)rows, (long long)cols, (long long)capacity,
                    itype == HQ_INDEX_I32 ? "int32" : "int64");
  isz = isize(itype);
  s = sparse_alloc(pool, sizeof *s, 1);
  if (!s) goto nomem;
  s->format = format;
  s->itype = itype;
  s->rows = rows;
  s->cols = cols;
  s->capacity = capacity;
  s->pool = pool;
  s->canonical = 1; /* an empty matrix is trivially canonical */
  if (format == HQ_SPARSE_CSR) s->rowptr = sparse_alloc(pool, ((size_t)rows + 1) * isz, 1);
  else s->rowptr = sparse_alloc(pool, (size_t)capacity * isz, 0);
  s->colind = sparse_alloc(pool, (size_t)capacity * isz, 0);
  s->values = sparse_alloc(pool, (size_t)capacity * sizeof(float), 0);
  if ((format == HQ_SPARSE_CSR && !s->rowptr) ||
      (capacity && (!s->rowptr || !s->colind || !s->values)))
    goto nomem;
  *out = s;
  return HQ_OK;
nomem:
  hq_sparse_free(s);
  return hq__kerr(HQ_ENOMEM, "sparse: cannot allocate %lld entries%s", (long long)capacity,
                  pool ? " from the pool" : "");
}

int hq_sparse_create(hq_sparse_format_t format, hq_index_type_t itype, int64_t rows, int64_t cols,
                     int64_t capacity, hq_sparse_t **out) {
  return sparse_new(NULL, format, itype, rows, cols, capacity, out);
}

int hq_sparse_create_in(hq_pool_t *pool, hq_sparse_format_t format, hq_index_type_t itype,
                        int64_t rows, int64_t cols, int64_t capacity, hq_sparse_t **out) {
  int rc = check_pool("sparse_create_in", pool);
  if (rc != HQ_OK) return rc;
  return sparse_new(pool, format, itype, rows, cols, capacity, out);
}

void hq_sparse_free(hq_sparse_t *s) {
  hq_pool_t *pool;
  if (!s) return;
  pool = s->pool;
  sparse_release(pool, s->rowptr);
  sparse_release(pool, s->colind);
  sparse_release(pool, s->values);
  sparse_release(pool, s);
}

int hq_sparse_coo_from_triplets(int64_t rows, int64_t cols, int64_t nnz, const int32_t *row,
                                const int32_t *col, const float *value, hq_sparse_t **out) {
  hq_sparse_t *s = NULL;
  int rc;
  if (nnz < 0 || (nnz > 0 && (!row || !col || !value)))
    return hq__kerr(HQ_EINVAL, "coo_from_triplets: NULL arrays or negative nnz");
  for (int64_t k = 0; k < nnz; k++)
    if (row[k] < 0 || row[k] >= rows || col[k] < 0 || col[k] >= cols)
      return hq__kerr(HQ_EINVAL, "coo_from_triplets: entry %lld at (%d, %d) is outside %lld x %lld",
                      (long long)k, row[k], col[k], (long long)rows, (long long)cols);
  if ((rc = sparse_new(NULL, HQ_SPARSE_COO, HQ_INDEX_I32, rows, cols, nnz, &s)) != HQ_OK)
    return rc;
  if (nnz) {
    memcpy(s->rowptr, row, (size_t)nnz * sizeof(int32_t));
    memcpy(s->colind, col, (size_t)nnz * sizeof(int32_t));
    memcpy(s->values, value, (size_t)nnz * sizeof(float));
  }
  s->nnz = nnz;
  s->canonical = nnz <= 1;
  *out = s;
  return HQ_OK;
}

int hq_sparse_from_dense_in(hq_pool_t *pool, const float *dense, int64_t rows, int64_t cols,
                            int64_t ld, float threshold, hq_sparse_format_t format,
                            hq_index_type_t itype, hq_sparse_t **out) {
  hq_sparse_t *s = NULL;
  int64_t nnz;
  int rc;
  if (rows > 0 && cols > 0 && !dense) return hq__kerr(HQ_MISUSE_BKPT, "sparse_from_dense: NULL argument");
  if (ld < cols || rows < 0 || cols < 0 || !(threshold >= 0))
    return hq__kerr(HQ_EINVAL, "sparse_from_dense: ld < cols, or bad sizes or threshold");
  if ((rc = check_pool("sparse_from_dense", pool)) != HQ_OK) return rc;
  nnz = itype == HQ_INDEX_I64 ? count_dense_i64(dense, rows, cols, ld, threshold)
                              : count_dense_i32(dense, rows, cols, ld, threshold);
  if ((rc = sparse_new(pool, format, itype, rows, cols, nnz, &s)) != HQ_OK) return rc;
  DISPATCH(s, fill_from_dense, s, dense, ld, threshold);
  s->canonical = 1;
  *out = s;
  return HQ_OK;
}

int hq_sparse_from_dense(const float *dense, int64_t rows, int64_t cols, int64_t ld,
                         float threshold, hq_sparse_format_t format, hq_index_type_t itype,
                         hq_sparse_t **out) {
  return hq_sparse_from_dense_in(NULL, dense, rows, cols, ld, threshold, format, itype, out);
}

int hq_sparse_to_dense(const hq_sparse_t *s, float *dense, int64_t ld) {
  int rc = check_matrix("sparse_to_dense", s);
  if (rc != HQ_OK) return rc;
  if (s->rows > 0 && s->cols > 0 && !dense) return hq__kerr(HQ_MISUSE_BKPT, "sparse_to_dense: NULL argument");
  if (ld < s->cols)
    return hq__kerr(HQ_EINVAL, "sparse_to_dense: ld < cols");
  DISPATCH(s, to_dense, s, dense, ld);
  return HQ_OK;
}

/* Canonical CSR arrays for s (any format) into csr, which has capacity >= s->nnz. */
static void build_canonical_csr(const hq_sparse_t *s, hq_sparse_t *csr) {
  if (s->format == HQ_SPARSE_CSR) {
    size_t isz = isize(s->itype);
    memcpy(csr->rowptr, s->rowptr, (size_t)(s->rows + 1) * isz);
    if (s->nnz) {
      memcpy(csr->colind, s->colind, (size_t)s->nnz * isz);
      memcpy(csr->values, s->values, (size_t)s->nnz * sizeof(float));
    }
  } else if (s->itype == HQ_INDEX_I32) {
    bucket_rows_i32(s->rows, s->nnz, s->rowptr, s->colind, s->values, csr->rowptr, csr->colind,
                    csr->values);
  } else {
    bucket_rows_i64(s->rows, s->nnz, s->rowptr, s->colind, s->values, csr->rowptr, csr->colind,
                    csr->values);
  }
  csr->nnz = s->nnz;
  DISPATCH(csr, csr_sort_sum, csr);
  csr->canonical = 1;
}

int hq_sparse_convert(const hq_sparse_t *s, hq_sparse_format_t format, hq_sparse_t **out) {
  hq_sparse_t *csr = NULL, *coo = NULL;
  int rc = check_matrix("sparse_convert", s);
  if (rc != HQ_OK) return rc;
  if (!out) return hq__kerr(HQ_MISUSE_BKPT, "sparse_convert: out is NULL");
  if ((rc = DISPATCH(s, validate, s)) != HQ_OK) return rc;
  rc = sparse_new(s->pool, HQ_SPARSE_CSR, s->itype, s->rows, s->cols, s->nnz, &csr);
  if (rc != HQ_OK) return rc;
  build_canonical_csr(s, csr);
  if (format == HQ_SPARSE_CSR) {
    *out = csr;
    return HQ_OK;
  }
  if (format != HQ_SPARSE_COO) {
    rc = hq__kerr(HQ_EINVAL, "sparse_convert: unknown format %d", (int)format);
    goto out;
  }
  rc = sparse_new(s->pool, HQ_SPARSE_COO, s->itype, s->rows, s->cols, csr->nnz, &coo);
  if (rc != HQ_OK) goto out;
  DISPATCH(csr, expand_rows, csr, coo->rowptr);
  if (csr->nnz) {
    memcpy(coo->colind, csr->colind, (size_t)csr->nnz * isize(s->itype));
    memcpy(coo->values, csr->values, (size_t)csr->nnz * sizeof(float));
  }
  coo->nnz = csr->nnz;
  coo->canonical = 1;
  *out = coo;
out:
  hq_sparse_free(csr);
  return rc;
}

int hq_sparse_canonicalize(hq_sparse_t *s) {
  hq_sparse_t *csr = NULL;
  int rc = check_matrix("sparse_canonicalize", s);
  if (rc != HQ_OK) return rc;
  if ((rc = DISPATCH(s, validate, s)) != HQ_OK) return rc;
  if (s->format == HQ_SPARSE_CSR) {
    DISPATCH(s, csr_sort_sum, s); /* in place: rows only shrink */
    s->canonical = 1;
    return HQ_OK;
  }
  /* COO: bucket by row into scratch CSR arrays, then write back with rows expanded */
  rc = sparse_new(s->pool, HQ_SPARSE_CSR, s->itype, s->rows, s->cols, s->nnz, &csr);
  if (rc != HQ_OK) return rc;
  build_canonical_csr(s, csr);
  DISPATCH(csr, expand_rows, csr, s->rowptr);
  if (csr->nnz) {
    memcpy(s->colind, csr->colind, (size_t)csr->nnz * isize(s->itype));
    memcpy(s->values, csr->values, (size_t)csr->nnz * sizeof(float));
  }
  s->nnz = csr->nnz;
  s->canonical = 1;
  hq_sparse_free(csr);
  return HQ_OK;
}

int hq_sparse_nbytes(const hq_sparse_t *s, size_t *out_bytes, size_t *out_capacity_bytes) {
  size_t isz, idx_entries, cap_entries;
  int rc = check_matrix("sparse_nbytes", s);
  if (rc != HQ_OK) return rc;
  if (!out_bytes) return hq__kerr(HQ_MISUSE_BKPT, "sparse_nbytes: out_bytes is NULL");
  isz = isize(s->itype);
  if (s->format == HQ_SPARSE_CSR) {
    idx_entries = (size_t)(s->rows + 1 + s->nnz);
    cap_entries = (size_t)(s->rows + 1 + s->capacity);
  } else {
    idx_entries = 2 * (size_t)s->nnz;
    cap_entries = 2 * (size_t)s->capacity;
  }
  *out_bytes = idx_entries * isz + (size_t)s->nnz * sizeof(float);
  if (out_capacity_bytes)
    *out_capacity_bytes = cap_entries * isz + (size_t)s->capacity * sizeof(float) + sizeof *s;
  return HQ_OK;
}

static void scale(float *y, int64_t n, float beta) {
  if (beta == 0.0f) memset(y, 0, (size_t)n * sizeof(float));
  else if (beta != 1.0f) for (int64_t i = 0; i < n; i++) y[i] *= beta;
}

int hq_sparse_spmv(hq_op_t op, float alpha, const hq_sparse_t *a, const float *x, float beta,
                   float *y) {
  int64_t ylen, xlen;
  int rc = check_matrix("sparse_spmv", a);
  if (rc != HQ_OK) return rc;
  if (op != HQ_OP_N && op != HQ_OP_T) return hq__kerr(HQ_EINVAL, "sparse_spmv: unknown op");
  ylen = op == HQ_OP_N ? a->rows : a->cols;
  xlen = op == HQ_OP_N ? a->cols : a->rows;
  if ((ylen && !y) || (xlen && !x)) return hq__kerr(HQ_MISUSE_BKPT, "sparse_spmv: NULL vector");
  if (a->format == HQ_SPARSE_CSR && op == HQ_OP_N) {
    DISPATCH(a, csr_spmv_n, a, 0, a->rows, alpha, x, beta, y);
    return HQ_OK;
  }
  scale(y, ylen, beta);
  DISPATCH(a, scatter_spmv, a, op, alpha, x, y);
  return HQ_OK;
}

/* ---- SpMV on several threads ---------------------------------------------------------------- */

typedef struct spmv_part_s {
  const hq_sparse_t *a;
  int64_t r0, r1;
  float alpha, beta;
  const float *x;
  float *y;
} spmv_part_t;

static void *spmv_part_run(void *arg) {
  const spmv_part_t *p = arg;
  DISPATCH(p->a, csr_spmv_n, p->a, p->r0, p->r1, p->alpha, p->x, p->beta, p->y);
  return NULL;
}

/* The default thread count: one per HQ_SPMV_ENTRIES_PER_THREAD entries, at most the CPUs this
 * process may run on. */
static int spmv_default_threads(int64_t nnz) {
  cpu_set_t set;
  int64_t by_size = nnz / HQ_SPMV_ENTRIES_PER_THREAD;
  int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  if (cpus < 1) cpus = 1;
  if (by_size < 1) by_size = 1;
  return by_size < cpus ? (int)by_size : cpus;
}

int hq_sparse_spmv_threads(hq_op_t op, float alpha, const hq_sparse_t *a, const float *x,
                           float beta, float *y, int threads) {
  spmv_part_t part[HQ_SPMV_MAX_THREADS];
  pthread_t tid[HQ_SPMV_MAX_THREADS];
  int started[HQ_SPMV_MAX_THREADS] = {0};
  int64_t first[HQ_SPMV_MAX_THREADS + 1];
  int rc = check_matrix("sparse_spmv_threads", a);
  if (rc != HQ_OK) return rc;
  if (threads < 0) return hq__kerr(HQ_EINVAL, "sparse_spmv_threads: threads %d < 0", threads);
  if (a->format != HQ_SPARSE_CSR || op != HQ_OP_N) /* scatter forms: rows are not independent */
    return hq_sparse_spmv(op, alpha, a, x, beta, y);
  if (a->rows && !y) return hq__kerr(HQ_MISUSE_BKPT, "sparse_spmv_threads: NULL vector");
  if (a->cols && !x) return hq__kerr(HQ_MISUSE_BKPT, "sparse_spmv_threads: NULL vector");
  if (!threads) threads = spmv_default_threads(a->nnz);
  if (threads > HQ_SPMV_MAX_THREADS) threads = HQ_SPMV_MAX_THREADS;
  if (threads > a->rows) threads = a->rows > 0 ? (int)a->rows : 1;
  if (threads == 1) {
    DISPATCH(a, csr_spmv_n, a, 0, a->rows, alpha, x, beta, y);
    return HQ_OK;
  }
  DISPATCH(a, split_rows, a, threads, first);
  for (int t = 0; t < threads; t++) {
    part[t] = (spmv_part_t){a, first[t], first[t + 1], alpha, beta, x, y};
    /* part 0 runs on the calling thread; a thread that cannot be started runs here too */
    if (t > 0 && first[t] < first[t + 1])
      started[t] = pthread_create(&tid[t], NULL, spmv_part_run, &part[t]) == 0;
  }
  spmv_part_run(&part[0]);
  for (int t = 1; t < threads; t++) {
    if (started[t]) pthread_join(tid[t], NULL);
    else if (first[t] < first[t + 1]) spmv_part_run(&part[t]);
  }
  return HQ_OK;
}

int hq_sparse_spmm(hq_op_t op, float alpha, const hq_sparse_t *a, const float *b, int64_t ldb,
                   int64_t n, float beta, float *c, int64_t ldc) {
  int64_t crows, brows;
  int rc = check_matrix("sparse_spmm", a);
  if (rc != HQ_OK) return rc;
  if (op != HQ_OP_N && op != HQ_OP_T) return hq__kerr(HQ_EINVAL, "sparse_spmm: unknown op");
  if (n < 0 || ldb < n || ldc < n) return hq__kerr(HQ_EINVAL, "sparse_spmm: n < 0 or ld < n");
  crows = op == HQ_OP_N ? a->rows : a->cols;
  brows = op == HQ_OP_N ? a->cols : a->rows;
  if (n == 0 || crows == 0) return HQ_OK;
  if (!c || (brows && !b)) return hq__kerr(HQ_MISUSE_BKPT, "sparse_spmm: NULL dense matrix");
  for (int64_t i = 0; i < crows; i++) scale(c + i * ldc, n, beta);
  DISPATCH(a, spmm, a, op, alpha, b, ldb, n, c, ldc);
  return HQ_OK;
}

int hq_sparse_sddmm(hq_sparse_t *a, float alpha, const float *x, int64_t ldx, const float *y,
                    int64_t ldy, int64_t k, float beta) {
  int rc = check_matrix("sparse_sddmm", a);
  if (rc != HQ_OK) return rc;
  if (k < 0 || k > INT_MAX || ldx < k || ldy < k)
    return hq__kerr(HQ_EINVAL, "sparse_sddmm: bad k or leading dimensions");
  if (a->nnz && k && (!x || !y)) return hq__kerr(HQ_MISUSE_BKPT, "sparse_sddmm: NULL dense matrix");
  DISPATCH(a, sddmm, a, alpha, x, ldx, y, ldy, k, beta);
  return HQ_OK;
}
