/*
 * hq_sparse_impl.h: the index-type-specific sparse kernels, included by hq_sparse.c once per
 * index type with IDX (the C type) and SFX (the name suffix) defined.  Each function has the
 * same contract as its caller in hq_sparse.c; arguments are already validated there.
 */
#ifndef IDX
#error "define IDX and SFX before including hq_sparse_impl.h"
#endif

#define HQ_CAT2(a, b) a##_##b
#define HQ_CAT(a, b) HQ_CAT2(a, b)
#define F(name) HQ_CAT(name, SFX)

/* Sort n (col, val) pairs by col: insertion sort for short runs, quicksort above. */
static void F(sort_pairs)(IDX *col, float *val, int64_t n) {
  while (n > 16) {
    int64_t mid = n / 2, i = 0, j = n - 1;
    IDX a = col[0], b = col[mid], c = col[n - 1];
    IDX pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
    for (;;) {
      while (col[i] < pivot) i++;
      while (col[j] > pivot) j--;
      if (i >= j) break;
      IDX tc = col[i]; col[i] = col[j]; col[j] = tc;
      float tv = val[i]; val[i] = val[j]; val[j] = tv;
      i++, j--;
    }
    /* [0, j] <= pivot <= [j+1, n): recurse into the smaller side, loop on the larger */
    if (j + 1 < n - (j + 1)) {
      F(sort_pairs)(col, val, j + 1);
      col += j + 1, val += j + 1, n -= j + 1;
    } else {
      F(sort_pairs)(col + j + 1, val + j + 1, n - (j + 1));
      n = j + 1;
    }
  }
  for (int64_t i = 1; i < n; i++) {
    IDX c = col[i];
    float v = val[i];
    int64_t k = i - 1;
    while (k >= 0 && col[k] > c) {
      col[k + 1] = col[k];
      val[k + 1] = val[k];
      k--;
    }
    col[k + 1] = c;
    val[k + 1] = v;
  }
}

/* Entries in range, and for CSR a well-formed rowptr.  HQ_OK or HQ_EINVAL with a detail. */
static int F(validate)(const hq_sparse_t *s) {
  const IDX *rp = s->rowptr, *ci = s->colind;
  if (s->format == HQ_SPARSE_CSR) {
    if (rp[0] != 0 || (int64_t)rp[s->rows] != s->nnz)
      return hq__kerr(HQ_EINVAL, "sparse: rowptr must run from 0 to nnz (%lld .. %lld, nnz %lld)",
                      (long long)rp[0], (long long)rp[s->rows], (long long)s->nnz);
    for (int64_t i = 0; i < s->rows; i++)
      if (rp[i + 1] < rp[i])
        return hq__kerr(HQ_EINVAL, "sparse: rowptr decreases at row %lld", (long long)i);
  } else {
    for (int64_t k = 0; k < s->nnz; k++)
      if (rp[k] < 0 || (int64_t)rp[k] >= s->rows)
        return hq__kerr(HQ_EINVAL, "sparse: entry %lld has row %lld outside 0..%lld",
                        (long long)k, (long long)rp[k], (long long)s->rows - 1);
  }
  for (int64_t k = 0; k < s->nnz; k++)
    if (ci[k] < 0 || (int64_t)ci[k] >= s->cols)
      return hq__kerr(HQ_EINVAL, "sparse: entry %lld has column %lld outside 0..%lld",
                      (long long)k, (long long)ci[k], (long long)s->cols - 1);
  return HQ_OK;
}

/* Row of each entry of a CSR written to row[] (nnz of them). */
static void F(expand_rows)(const hq_sparse_t *s, IDX *row) {
  const IDX *rp = s->rowptr;
  for (int64_t i = 0; i < s->rows; i++)
    for (IDX k = rp[i]; k < rp[i + 1]; k++) row[k] = (IDX)i;
}

/* Sort each CSR row by column and sum duplicates in place; rowptr rewritten, nnz updated. */
static void F(csr_sort_sum)(hq_sparse_t *s) {
  IDX *rp = s->rowptr, *ci = s->colind;
  float *v = s->values;
  int64_t out = 0, start = rp[0];
  for (int64_t i = 0; i < s->rows; i++) {
    int64_t end = rp[i + 1], row_start = out;
    F(sort_pairs)(ci + start, v + start, end - start);
    for (int64_t k = start; k < end; k++) {
      if (out > row_start && ci[out - 1] == ci[k]) {
        v[out - 1] += v[k];
      } else {
        ci[out] = ci[k];
        v[out] = v[k];
        out++;
      }
    }
    rp[i] = (IDX)row_start;
    start = end;
  }
  rp[s->rows] = (IDX)out;
  s->nnz = out;
}

/* Counting sort of entries (row[k], col[k], val[k]) by row into CSR arrays rp/ci/v (stable). */
static void F(bucket_rows)(int64_t rows, int64_t nnz, const IDX *row, const IDX *col,
                           const float *val, IDX *rp, IDX *ci, float *v) {
  memset(rp, 0, (size_t)(rows + 1) * sizeof(IDX));
  for (int64_t k = 0; k < nnz; k++) rp[row[k] + 1]++;
  for (int64_t i = 0; i < rows; i++) rp[i + 1] += rp[i];
  for (int64_t k = 0; k < nnz; k++) {
    IDX dst = rp[row[k]]++;
    ci[dst] = col[k];
    v[dst] = val[k];
  }
  for (int64_t i = rows; i > 0; i--) rp[i] = rp[i - 1];
  rp[0] = 0;
}

static int64_t F(count_dense)(const float *d, int64_t rows, int64_t cols, int64_t ld, float thr) {
  int64_t n = 0;
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < cols; j++) {
      float x = d[i * ld + j];
      n += (fabsf(x) > thr) | (x != x);
    }
  return n;
}

static void F(fill_from_dense)(hq_sparse_t *s, const float *d, int64_t ld, float thr) {
  IDX *rp = s->rowptr, *ci = s->colind;
  float *v = s->values;
  int64_t k = 0;
  if (s->format == HQ_SPARSE_CSR) rp[0] = 0;
  for (int64_t i = 0; i < s->rows; i++) {
    for (int64_t j = 0; j < s->cols; j++) {
      float x = d[i * ld + j];
      if (fabsf(x) > thr || x != x) {
        if (s->format == HQ_SPARSE_COO) rp[k] = (IDX)i;
        ci[k] = (IDX)j;
        v[k] = x;
        k++;
      }
    }
    if (s->format == HQ_SPARSE_CSR) rp[i + 1] = (IDX)k;
  }
  s->nnz = k;
}

static void F(to_dense)(const hq_sparse_t *s, float *d, int64_t ld) {
  const IDX *rp = s->rowptr, *ci = s->colind;
  const float *v = s->values;
  for (int64_t i = 0; i < s->rows; i++) memset(d + i * ld, 0, (size_t)s->cols * sizeof(float));
  if (s->format == HQ_SPARSE_CSR) {
    for (int64_t i = 0; i < s->rows; i++)
      for (IDX k = rp[i]; k < rp[i + 1]; k++) d[i * ld + ci[k]] += v[k];
  } else {
    for (int64_t k = 0; k < s->nnz; k++) d[(int64_t)rp[k] * ld + ci[k]] += v[k];
  }
}

/* y = alpha * A x + beta * y over rows [r0, r1) of a CSR: one streaming pass over
 * colind/values, the entry cursor carried from row to row (rowptr is read once per row), four
 * independent accumulators so the loads of successive entries overlap.  Measured ~10% faster
 * than restarting the cursor at rowptr[i] each row; vectorised gathers were slower on the
 * machines we tried.  A row's result depends only on that row, so splitting the rows between
 * threads changes no bit of y. */
static void F(csr_spmv_n)(const hq_sparse_t *s, int64_t r0, int64_t r1, float alpha,
                          const float *restrict x, float beta, float *restrict y) {
  const IDX *restrict rp = s->rowptr, *restrict ci = s->colind;
  const float *restrict v = s->values;
  int64_t k = rp[r0];
  for (int64_t i = r0; i < r1; i++) {
    int64_t end = rp[i + 1];
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    for (; k + 4 <= end; k += 4) {
      s0 += v[k] * x[ci[k]];
      s1 += v[k + 1] * x[ci[k + 1]];
      s2 += v[k + 2] * x[ci[k + 2]];
      s3 += v[k + 3] * x[ci[k + 3]];
    }
    for (; k < end; k++) s0 += v[k] * x[ci[k]];
    float sum = (s0 + s1) + (s2 + s3);
    y[i] = beta == 0.0f ? alpha * sum : alpha * sum + beta * y[i];
  }
}

/* Split the rows of a CSR into `parts` contiguous ranges holding about nnz / parts entries
 * each: range t is [first[t], first[t + 1]), first[0] = 0, first[parts] = rows.  first[t] is
 * the first row whose entries start at or after entry nnz * t / parts (binary search in
 * rowptr), so ranges never decrease and a row is never cut. */
static void F(split_rows)(const hq_sparse_t *s, int parts, int64_t *first) {
  const IDX *rp = s->rowptr;
  int64_t base = rp[0], nnz = (int64_t)rp[s->rows] - base;
  first[0] = 0;
  for (int t = 1; t < parts; t++) {
    int64_t target = base + (int64_t)((__int128)nnz * t / parts), lo = first[t - 1], hi = s->rows;
    while (lo < hi) { /* lower bound: the first row i with rp[i] >= target */
      int64_t mid = lo + (hi - lo) / 2;
      if ((int64_t)rp[mid] < target) lo = mid + 1;
      else hi = mid;
    }
    first[t] = lo;
  }
  first[parts] = s->rows;
}

/* Scatter forms: y (already scaled by beta) += alpha * op(A) x. */
static void F(scatter_spmv)(const hq_sparse_t *s, hq_op_t op, float alpha, const float *x,
                            float *y) {
  const IDX *rp = s->rowptr, *ci = s->colind;
  const float *v = s->values;
  if (s->format == HQ_SPARSE_CSR) {
    /* op T (op N on CSR takes the fast path) */
    for (int64_t i = 0; i < s->rows; i++) {
      float xi = alpha * x[i];
      for (IDX k = rp[i]; k < rp[i + 1]; k++) y[ci[k]] += v[k] * xi;
    }
  } else if (op == HQ_OP_N) {
    for (int64_t k = 0; k < s->nnz; k++) y[rp[k]] += alpha * v[k] * x[ci[k]];
  } else {
    for (int64_t k = 0; k < s->nnz; k++) y[ci[k]] += alpha * v[k] * x[rp[k]];
  }
}

static inline void F(row_axpy)(int64_t n, float a, const float *restrict b, float *restrict c) {
  for (int64_t j = 0; j < n; j++) c[j] += a * b[j];
}

/* C (already scaled by beta) += alpha * op(A) B, row by row (rows of B are contiguous). */
static void F(spmm)(const hq_sparse_t *s, hq_op_t op, float alpha, const float *b, int64_t ldb,
                    int64_t n, float *c, int64_t ldc) {
  const IDX *rp = s->rowptr, *ci = s->colind;
  const float *v = s->values;
  if (s->format == HQ_SPARSE_CSR) {
    for (int64_t i = 0; i < s->rows; i++)
      for (IDX k = rp[i]; k < rp[i + 1]; k++) {
        if (op == HQ_OP_N) F(row_axpy)(n, alpha * v[k], b + (int64_t)ci[k] * ldb, c + i * ldc);
        else F(row_axpy)(n, alpha * v[k], b + i * ldb, c + (int64_t)ci[k] * ldc);
      }
  } else {
    for (int64_t k = 0; k < s->nnz; k++) {
      int64_t r = rp[k], cc = ci[k];
      if (op == HQ_OP_N) F(row_axpy)(n, alpha * v[k], b + cc * ldb, c + r * ldc);
      else F(row_axpy)(n, alpha * v[k], b + r * ldb, c + cc * ldc);
    }
  }
}

static void F(sddmm)(hq_sparse_t *s, float alpha, const float *x, int64_t ldx, const float *y,
                     int64_t ldy, int64_t k, float beta) {
  const IDX *rp = s->rowptr, *ci = s->colind;
  float *v = s->values;
  for (int64_t i = 0; i < s->rows; i++) {
    int64_t start = s->format == HQ_SPARSE_CSR ? rp[i] : 0;
    int64_t end = s->format == HQ_SPARSE_CSR ? rp[i + 1] : 0;
    for (int64_t e = start; e < end; e++) {
      float d = cblas_sdot((int)k, x + i * ldx, 1, y + (int64_t)ci[e] * ldy, 1);
      v[e] = beta == 0.0f ? alpha * d : alpha * d + beta * v[e];
    }
  }
  if (s->format == HQ_SPARSE_COO)
    for (int64_t e = 0; e < s->nnz; e++) {
      float d = cblas_sdot((int)k, x + (int64_t)rp[e] * ldx, 1, y + (int64_t)ci[e] * ldy, 1);
      v[e] = beta == 0.0f ? alpha * d : alpha * d + beta * v[e];
    }
}

#undef F
#undef HQ_CAT
#undef HQ_CAT2
