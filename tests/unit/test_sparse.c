/* test_sparse.c: CSR/COO construction, canonicalisation (COO -> CSR sums duplicates),
 * products against dense BLAS, memory usage of each form. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>

#include "hq_test.h"
#include "hq_test_kernels.h"
#include "heapql/kernels.h"

static void test_sparse_from_dense_threshold(void **state) {
  (void)state;
  /* 3 x 5, row stride 6 (one padding column that must be ignored) */
  const float d[18] = {
    0.0f, 0.6f, -0.4f, 0.0f, -2.0f, 99.0f,
    0.5f, 0.0f,  0.0f, 0.0f,  0.0f, 99.0f,
    NAN, -0.0f, 3.0f, -0.51f, 0.1f, 99.0f,
  };
  hq_sparse_t *csr = NULL, *coo = NULL, *all = NULL;
  assert_int_equal(hq_sparse_from_dense(d, 3, 5, 6, 0.5f, HQ_SPARSE_CSR, HQ_INDEX_I32, &csr), HQ_OK);
  assert_int_equal(csr->nnz, 5); /* 0.6, -2, NaN, 3, -0.51; 0.5 is not > 0.5 */
  assert_true(csr->canonical);
  const int32_t *rp = csr->rowptr, *ci = csr->colind;
  int32_t erp[4] = {0, 2, 2, 5}, eci[5] = {1, 4, 0, 2, 3};
  float ev[5] = {0.6f, -2.0f, NAN, 3.0f, -0.51f};
  for (int i = 0; i < 4; i++) assert_int_equal(rp[i], erp[i]);
  for (int k = 0; k < 5; k++) {
    assert_int_equal(ci[k], eci[k]);
    if (k == 2) assert_true(isnan(csr->values[k]));
    else assert_true(csr->values[k] == ev[k]);
  }
  assert_int_equal(hq_sparse_from_dense(d, 3, 5, 6, 0.5f, HQ_SPARSE_COO, HQ_INDEX_I64, &coo), HQ_OK);
  const int64_t *rr = coo->rowptr, *cc = coo->colind;
  int64_t err[5] = {0, 0, 2, 2, 2};
  for (int k = 0; k < 5; k++) {
    assert_int_equal(rr[k], err[k]);
    assert_int_equal(cc[k], eci[k]);
  }
  /* threshold 0 keeps every nonzero; -0.0 is zero */
  assert_int_equal(hq_sparse_from_dense(d, 3, 5, 6, 0.0f, HQ_SPARSE_CSR, HQ_INDEX_I32, &all), HQ_OK);
  assert_int_equal(all->nnz, 8);
  /* back to dense: the kept entries, zeros elsewhere, the padding column untouched */
  float back[18];
  for (int i = 0; i < 18; i++) back[i] = -1.0f;
  assert_int_equal(hq_sparse_to_dense(csr, back, 6), HQ_OK);
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 5; j++) {
      float x = d[i * 6 + j], expect = (fabsf(x) > 0.5f || isnan(x)) ? x : 0.0f;
      if (isnan(expect)) assert_true(isnan(back[i * 6 + j]));
      else assert_true(back[i * 6 + j] == expect);
    }
  assert_true(back[5] == -1.0f && back[17] == -1.0f);
  assert_int_equal(hq_sparse_from_dense(d, 3, 5, 4, 0.5f, HQ_SPARSE_CSR, HQ_INDEX_I32, &all), HQ_EINVAL);
  assert_int_equal(hq_sparse_from_dense(d, 3, 5, 6, -1.0f, HQ_SPARSE_CSR, HQ_INDEX_I32, &all), HQ_EINVAL);
  hq_sparse_free(csr);
  hq_sparse_free(coo);
  hq_sparse_free(all);
}

static void test_sparse_coo_to_csr_sums_duplicates(void **state) {
  (void)state;
  int32_t row[7] = {0, 2, 0, 1, 0, 2, 0};
  int32_t col[7] = {1, 0, 1, 3, 0, 0, 1};
  float val[7] = {1.0f, 5.0f, 2.0f, 4.0f, 7.0f, -5.0f, 0.25f};
  hq_sparse_t *coo = NULL, *csr = NULL;
  float dense_coo[12], dense_csr[12];
  assert_int_equal(hq_sparse_coo_from_triplets(3, 4, 7, row, col, val, &coo), HQ_OK);
  assert_false(coo->canonical);
  assert_int_equal(hq_sparse_to_dense(coo, dense_coo, 4), HQ_OK); /* sums duplicates too */
  assert_int_equal(hq_sparse_convert(coo, HQ_SPARSE_CSR, &csr), HQ_OK);
  assert_int_equal(coo->nnz, 7); /* the source is unchanged */
  assert_int_equal(csr->nnz, 4);
  assert_true(csr->canonical);
  const int32_t *rp = csr->rowptr, *ci = csr->colind;
  assert_int_equal(rp[0], 0);
  assert_int_equal(rp[1], 2);
  assert_int_equal(rp[2], 3);
  assert_int_equal(rp[3], 4);
  assert_int_equal(ci[0], 0);
  assert_int_equal(ci[1], 1);
  assert_int_equal(ci[2], 3);
  assert_int_equal(ci[3], 0);
  assert_true(csr->values[0] == 7.0f);
  assert_true(csr->values[1] == 3.25f);
  assert_true(csr->values[2] == 4.0f);
  assert_true(csr->values[3] == 0.0f); /* 5 + -5: an explicit zero is kept */
  assert_int_equal(hq_sparse_to_dense(csr, dense_csr, 4), HQ_OK);
  assert_memory_equal(dense_coo, dense_csr, sizeof dense_csr);
  /* in place on the COO: sorted, summed, rows expanded */
  assert_int_equal(hq_sparse_canonicalize(coo), HQ_OK);
  assert_int_equal(coo->nnz, 4);
  const int32_t *rr = coo->rowptr, *cc = coo->colind;
  int32_t er[4] = {0, 0, 1, 2}, ec[4] = {0, 1, 3, 0};
  for (int k = 0; k < 4; k++) {
    assert_int_equal(rr[k], er[k]);
    assert_int_equal(cc[k], ec[k]);
  }
  assert_true(coo->values[1] == 3.25f);
  hq_sparse_free(coo);
  hq_sparse_free(csr);
  /* out-of-range triplets are refused */
  row[3] = 3;
  assert_int_equal(hq_sparse_coo_from_triplets(3, 4, 7, row, col, val, &coo), HQ_EINVAL);
  assert_non_null(strstr(hq_kernels_errmsg(), "entry 3"));
}

static void test_sparse_canonicalize_csr_in_place(void **state) {
  (void)state;
  hq_sparse_t *s = NULL;
  assert_int_equal(hq_sparse_create(HQ_SPARSE_CSR, HQ_INDEX_I64, 2, 40, 64, &s), HQ_OK);
  int64_t *rp = s->rowptr, *ci = s->colind;
  /* row 0: 3 entries out of order with a duplicate; row 1: 40 entries, reversed, each twice */
  rp[0] = 0, rp[1] = 3, rp[2] = 43;
  ci[0] = 5, ci[1] = 2, ci[2] = 5;
  s->values[0] = 1, s->values[1] = 2, s->values[2] = 3;
  for (int k = 0; k < 40; k++) {
    ci[3 + k] = 19 - (k % 20);
    s->values[3 + k] = (float)k;
  }
  s->nnz = 43;
  s->canonical = 0;
  assert_int_equal(hq_sparse_canonicalize(s), HQ_OK);
  assert_int_equal(s->nnz, 2 + 20);
  assert_int_equal(rp[1], 2);
  assert_int_equal(rp[2], 22);
  assert_int_equal(ci[0], 2);
  assert_int_equal(ci[1], 5);
  assert_true(s->values[0] == 2.0f && s->values[1] == 4.0f);
  for (int j = 0; j < 20; j++) {
    assert_int_equal(ci[2 + j], j);
    /* column j came from k = 19 - j and k = 39 - j */
    assert_true(s->values[2 + j] == (float)(19 - j + 39 - j));
  }
  /* malformed: rowptr decreasing, column out of range */
  rp[1] = 30;
  assert_int_equal(hq_sparse_canonicalize(s), HQ_EINVAL);
  assert_non_null(strstr(hq_kernels_errmsg(), "rowptr decreases"));
  rp[1] = 2;
  ci[0] = 40;
  assert_int_equal(hq_sparse_canonicalize(s), HQ_EINVAL);
  assert_non_null(strstr(hq_kernels_errmsg(), "column 40"));
  hq_sparse_free(s);
}

static void check_spmv_exact(hq_sparse_format_t fmt, hq_index_type_t it) {
  const int64_t m = 300, n = 200;
  float *d = hq_test_random_dense(m, n, 0.1f, 1);
  float x[300], y[300], ref[300];
  hq_sparse_t *s = NULL;
  for (int op = 0; op < 2; op++) {
    int64_t xl = op ? m : n, yl = op ? n : m;
    for (int64_t i = 0; i < xl; i++) x[i] = (float)((int)(hq_test_urand() * 9) - 4);
    for (int64_t i = 0; i < yl; i++) y[i] = ref[i] = (float)((int)(hq_test_urand() * 9) - 4);
    assert_int_equal(hq_sparse_from_dense(d, m, n, n, 0.0f, fmt, it, &s), HQ_OK);
    cblas_sgemv(CblasRowMajor, op ? CblasTrans : CblasNoTrans, (int)m, (int)n, 2.0f, d, (int)n, x,
                1, 0.5f, ref, 1);
    assert_int_equal(hq_sparse_spmv(op ? HQ_OP_T : HQ_OP_N, 2.0f, s, x, 0.5f, y), HQ_OK);
    /* small integers: every partial sum is exact, so the results are equal, not close */
    assert_memory_equal(y, ref, (size_t)yl * sizeof(float));
    /* beta 0 overwrites even NaN */
    for (int64_t i = 0; i < yl; i++) y[i] = NAN;
    cblas_sgemv(CblasRowMajor, op ? CblasTrans : CblasNoTrans, (int)m, (int)n, 1.0f, d, (int)n, x,
                1, 0.0f, ref, 1);
    assert_int_equal(hq_sparse_spmv(op ? HQ_OP_T : HQ_OP_N, 1.0f, s, x, 0.0f, y), HQ_OK);
    assert_memory_equal(y, ref, (size_t)yl * sizeof(float));
    hq_sparse_free(s);
  }
  free(d);
}

static void test_sparse_spmv_equals_dense(void **state) {
  (void)state;
  check_spmv_exact(HQ_SPARSE_CSR, HQ_INDEX_I32);
  check_spmv_exact(HQ_SPARSE_CSR, HQ_INDEX_I64);
  check_spmv_exact(HQ_SPARSE_COO, HQ_INDEX_I32);
  check_spmv_exact(HQ_SPARSE_COO, HQ_INDEX_I64);
}

static void check_spmm(hq_sparse_format_t fmt, hq_index_type_t it) {
  const int64_t m = 200, k = 150, n = 33, ldb = 40, ldc = 37;
  float *a = hq_test_random_dense(m, k, 0.1f, 0);
  float *b = malloc((size_t)(m * ldb) * sizeof(float));
  float *c = malloc((size_t)(m * ldc) * sizeof(float));
  float *ref = malloc((size_t)(m * ldc) * sizeof(float));
  hq_sparse_t *s = NULL;
  assert_int_equal(hq_sparse_from_dense(a, m, k, k, 0.0f, fmt, it, &s), HQ_OK);
  for (int op = 0; op < 2; op++) {
    int64_t crows = op ? k : m, brows = op ? m : k;
    for (int64_t i = 0; i < brows * ldb; i++) b[i] = hq_test_urand() * 2 - 1;
    for (int64_t i = 0; i < crows * ldc; i++) c[i] = ref[i] = hq_test_urand() * 2 - 1;
    cblas_sgemm(CblasRowMajor, op ? CblasTrans : CblasNoTrans, CblasNoTrans, (int)crows, (int)n,
                (int)brows, 1.5f, a, (int)k, b, (int)ldb, 0.25f, ref, (int)ldc);
    assert_int_equal(hq_sparse_spmm(op ? HQ_OP_T : HQ_OP_N, 1.5f, s, b, ldb, n, 0.25f, c, ldc), HQ_OK);
    for (int64_t i = 0; i < crows; i++) {
      double rel = hq_test_max_rel_diff(c + i * ldc, ref + i * ldc, n);
      if (rel > 1e-5) fail_msg("op %d row %lld: relative difference %g", op, (long long)i, rel);
      /* the padding between n and ldc is untouched */
      for (int64_t j = n; j < ldc; j++) assert_true(c[i * ldc + j] == ref[i * ldc + j]);
    }
  }
  hq_sparse_free(s);
  free(a), free(b), free(c), free(ref);
}

static void test_sparse_spmm_matches_blas(void **state) {
  (void)state;
  check_spmm(HQ_SPARSE_CSR, HQ_INDEX_I32);
  check_spmm(HQ_SPARSE_CSR, HQ_INDEX_I64);
  check_spmm(HQ_SPARSE_COO, HQ_INDEX_I32);
  check_spmm(HQ_SPARSE_COO, HQ_INDEX_I64);
}

static void test_sparse_sddmm_on_pattern(void **state) {
  (void)state;
  const int64_t m = 30, n = 20, k = 7;
  float *pattern = hq_test_random_dense(m, n, 0.2f, 0);
  float x[30 * 7], y[20 * 7];
  for (int i = 0; i < 30 * 7; i++) x[i] = hq_test_urand() - 0.5f;
  for (int i = 0; i < 20 * 7; i++) y[i] = hq_test_urand() - 0.5f;
  for (int f = 0; f < 2; f++) {
    hq_sparse_t *s = NULL;
    float dense[600];
    assert_int_equal(hq_sparse_from_dense(pattern, m, n, n, 0.0f, f ? HQ_SPARSE_COO : HQ_SPARSE_CSR,
                                          HQ_INDEX_I32, &s), HQ_OK);
    assert_int_equal(hq_sparse_sddmm(s, 2.0f, x, k, y, k, k, 0.0f), HQ_OK);
    assert_int_equal(hq_sparse_to_dense(s, dense, n), HQ_OK);
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double r = 0;
        for (int64_t p = 0; p < k; p++) r += (double)x[i * k + p] * y[j * k + p];
        r = pattern[i * n + j] != 0.0f ? 2 * r : 0.0;
        assert_true(fabs(dense[i * n + j] - r) < 1e-5);
      }
    hq_sparse_free(s);
  }
  free(pattern);
}

static void test_sparse_nbytes_each_form(void **state) {
  (void)state;
  /* 100 x 100 at exactly 10% density */
  float *d = calloc(10000, sizeof(float));
  hq_sparse_t *csr = NULL, *coo = NULL, *csr64 = NULL;
  size_t bytes, cap;
  for (int i = 0; i < 10000; i += 10) d[i] = 1.0f + (float)i;
  assert_int_equal(hq_sparse_from_dense(d, 100, 100, 100, 0.0f, HQ_SPARSE_CSR, HQ_INDEX_I32, &csr), HQ_OK);
  assert_int_equal(hq_sparse_from_dense(d, 100, 100, 100, 0.0f, HQ_SPARSE_COO, HQ_INDEX_I32, &coo), HQ_OK);
  assert_int_equal(hq_sparse_from_dense(d, 100, 100, 100, 0.0f, HQ_SPARSE_CSR, HQ_INDEX_I64, &csr64), HQ_OK);
  assert_int_equal(csr->nnz, 1000);
  assert_int_equal(hq_sparse_nbytes(csr, &bytes, &cap), HQ_OK);
  assert_int_equal(bytes, (101 + 1000) * 4 + 1000 * 4); /* 8404 */
  assert_int_equal(cap, bytes + sizeof(hq_sparse_t));
  assert_true(bytes * 100 <= 40000 * 22); /* <= 22% of the dense f32 bytes */
  assert_int_equal(hq_sparse_nbytes(coo, &bytes, NULL), HQ_OK);
  assert_int_equal(bytes, 2 * 1000 * 4 + 1000 * 4);
  assert_int_equal(hq_sparse_nbytes(csr64, &bytes, NULL), HQ_OK);
  assert_int_equal(bytes, (101 + 1000) * 8 + 1000 * 4);
  assert_int_equal(hq_sparse_nbytes(NULL, &bytes, NULL), HQ_EMISUSE);
  hq_sparse_free(csr), hq_sparse_free(coo), hq_sparse_free(csr64);
  free(d);
}

static void test_sparse_bad_arguments(void **state) {
  (void)state;
  hq_sparse_t *s = NULL;
  float x[4] = {0}, y[4] = {0};
  assert_int_equal(hq_sparse_create(HQ_SPARSE_CSR, HQ_INDEX_I32, (int64_t)1 << 32, 4, 0, &s), HQ_ERANGE);
  assert_int_equal(hq_sparse_create(HQ_SPARSE_CSR, HQ_INDEX_I64, (int64_t)1 << 32, 4, (int64_t)1 << 62, &s), HQ_ERANGE);
  assert_int_equal(hq_sparse_create((hq_sparse_format_t)5, HQ_INDEX_I32, 4, 4, 0, &s), HQ_EINVAL);
  assert_int_equal(hq_sparse_create(HQ_SPARSE_COO, (hq_index_type_t)5, 4, 4, 0, &s), HQ_EINVAL);
  assert_int_equal(hq_sparse_create(HQ_SPARSE_COO, HQ_INDEX_I32, -1, 4, 0, &s), HQ_EINVAL);
  assert_int_equal(hq_sparse_create(HQ_SPARSE_CSR, HQ_INDEX_I32, 4, 4, 0, &s), HQ_OK);
  assert_int_equal(hq_sparse_spmv(HQ_OP_N, 1.0f, s, x, 0.0f, y), HQ_OK); /* empty: y = 0 */
  assert_true(y[0] == 0.0f);
  assert_int_equal(hq_sparse_spmv((hq_op_t)3, 1.0f, s, x, 0.0f, y), HQ_EINVAL);
  assert_int_equal(hq_sparse_spmv(HQ_OP_N, 1.0f, s, NULL, 0.0f, y), HQ_EMISUSE);
  assert_int_equal(hq_sparse_spmm(HQ_OP_N, 1.0f, s, x, 1, 2, 0.0f, y, 2), HQ_EINVAL);
  assert_int_equal(hq_sparse_spmv(HQ_OP_N, 1.0f, NULL, x, 0.0f, y), HQ_EMISUSE);
  assert_int_equal(hq_sparse_convert(s, (hq_sparse_format_t)9, &s), HQ_EINVAL);
  hq_sparse_free(s);
  hq_sparse_free(NULL);
}

/* rows x cols CSR with uneven rows: row i holds (i * 7919) % 97 entries, and every 50th row
 * 1500, so an nnz-balanced split differs from an even split of the rows. */
static hq_sparse_t *uneven_csr(int64_t rows, int64_t cols, hq_index_type_t it) {
  hq_sparse_t *s = NULL;
  int64_t nnz = 0;
  for (int64_t i = 0; i < rows; i++) nnz += i % 50 == 0 ? 1500 : (i * 7919) % 97;
  assert_int_equal(hq_sparse_create(HQ_SPARSE_CSR, it, rows, cols, nnz, &s), HQ_OK);
  int64_t k = 0;
  for (int64_t i = 0; i < rows; i++) {
    int64_t n = i % 50 == 0 ? 1500 : (i * 7919) % 97;
    if (it == HQ_INDEX_I32) ((int32_t *)s->rowptr)[i] = (int32_t)k;
    else ((int64_t *)s->rowptr)[i] = k;
    for (int64_t e = 0; e < n; e++, k++) {
      int64_t c = (int64_t)(hq_test_urand() * (float)cols) % cols;
      if (it == HQ_INDEX_I32) ((int32_t *)s->colind)[k] = (int32_t)c;
      else ((int64_t *)s->colind)[k] = c;
      s->values[k] = hq_test_urand() * 2 - 1; /* not integers: the summation order shows in the bits */
    }
  }
  if (it == HQ_INDEX_I32) ((int32_t *)s->rowptr)[rows] = (int32_t)k;
  else ((int64_t *)s->rowptr)[rows] = k;
  s->nnz = k;
  s->canonical = 0;
  assert_int_equal(hq_sparse_canonicalize(s), HQ_OK);
  return s;
}

static void test_sparse_spmv_threads_bitwise_equal(void **state) {
  (void)state;
  const int64_t rows = 2000, cols = 1500;
  static const int counts[] = {1, 2, 3, 7, 64, 0};
  float *x = malloc((size_t)cols * sizeof(float)), *ref = malloc((size_t)rows * sizeof(float));
  float *y = malloc((size_t)rows * sizeof(float)), *y0 = malloc((size_t)rows * sizeof(float));
  for (int64_t j = 0; j < cols; j++) x[j] = hq_test_urand() * 2 - 1;
  for (int64_t i = 0; i < rows; i++) y0[i] = hq_test_urand() * 2 - 1;
  for (int it = 0; it < 2; it++) {
    hq_sparse_t *s = uneven_csr(rows, cols, it ? HQ_INDEX_I64 : HQ_INDEX_I32);
    for (int b = 0; b < 2; b++) {
      float beta = b ? 0.75f : 0.0f;
      memcpy(ref, y0, (size_t)rows * sizeof(float));
      assert_int_equal(hq_sparse_spmv(HQ_OP_N, 1.25f, s, x, beta, ref), HQ_OK);
      for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        /* beta 0 must overwrite: NaN left anywhere means a row range was skipped */
        for (int64_t i = 0; i < rows; i++) y[i] = b ? y0[i] : NAN;
        assert_int_equal(hq_sparse_spmv_threads(HQ_OP_N, 1.25f, s, x, beta, y, counts[c]), HQ_OK);
        if (memcmp(y, ref, (size_t)rows * sizeof(float)) != 0)
          fail_msg("index %s, beta %g, %d threads: y differs from one thread", it ? "i64" : "i32",
                   (double)beta, counts[c]);
      }
    }
    hq_sparse_free(s);
  }
  /* more threads than rows; COO and op T fall back to the calling thread, same results */
  float d[12] = {1, 0, 2, 0, 0, 3, 0, 4, 5, 0, 0, 6}, xs[4] = {1, 2, 3, 4}, ys[4], rs[4];
  hq_sparse_t *csr = NULL, *coo = NULL;
  assert_int_equal(hq_sparse_from_dense(d, 3, 4, 4, 0.0f, HQ_SPARSE_CSR, HQ_INDEX_I32, &csr), HQ_OK);
  assert_int_equal(hq_sparse_from_dense(d, 3, 4, 4, 0.0f, HQ_SPARSE_COO, HQ_INDEX_I32, &coo), HQ_OK);
  assert_int_equal(hq_sparse_spmv_threads(HQ_OP_N, 1.0f, csr, xs, 0.0f, ys, 8), HQ_OK);
  assert_true(ys[0] == 7.0f && ys[1] == 22.0f && ys[2] == 29.0f);
  assert_int_equal(hq_sparse_spmv_threads(HQ_OP_N, 1.0f, coo, xs, 0.0f, ys, 4), HQ_OK);
  assert_true(ys[0] == 7.0f && ys[1] == 22.0f && ys[2] == 29.0f);
  assert_int_equal(hq_sparse_spmv(HQ_OP_T, 1.0f, csr, xs, 0.0f, rs), HQ_OK);
  assert_int_equal(hq_sparse_spmv_threads(HQ_OP_T, 1.0f, csr, xs, 0.0f, ys, 4), HQ_OK);
  assert_memory_equal(ys, rs, sizeof rs);
  assert_int_equal(hq_sparse_spmv_threads(HQ_OP_N, 1.0f, csr, xs, 0.0f, ys, -1), HQ_EINVAL);
  assert_int_equal(hq_sparse_spmv_threads(HQ_OP_N, 1.0f, csr, NULL, 0.0f, ys, 2), HQ_EMISUSE);
  hq_sparse_free(csr), hq_sparse_free(coo);
  free(x), free(ref), free(y), free(y0);
}


static void test_sparse_arrays_from_pool(void **state) {
  (void)state;
  hq_pool_config_t cfg;
  hq_pool_t *pool = NULL;
  hq_sparse_t *csr = NULL, *heap = NULL, *coo = NULL, *big = NULL;
  float *d = calloc(10000, sizeof(float)), back[10000], back_heap[10000];
  for (int i = 0; i < 10000; i += 10) d[i] = 1.0f + (float)i; /* 100 x 100, 1000 entries */
  hq_pool_config_init(&cfg);
  cfg.backend = HQ_POOL_HOST_MALLOC;
  assert_int_equal(hq_pool_create(&cfg, &pool), HQ_OK);

  assert_int_equal(hq_sparse_from_dense_in(pool, d, 100, 100, 100, 0.0f, HQ_SPARSE_CSR,
                                           HQ_INDEX_I32, &csr), HQ_OK);
  assert_ptr_equal(csr->pool, pool);
  /* the struct and its three arrays, exactly the bytes asked for */
  assert_int_equal(hq_test_pool_stat(pool, "allocation.all.current"), 4);
  assert_int_equal(hq_test_pool_stat(pool, "requested_bytes.all.current"),
                   (int64_t)sizeof(hq_sparse_t) + 101 * 4 + 1000 * 4 + 1000 * 4);
  /* same matrix as from the heap */
  assert_int_equal(hq_sparse_from_dense(d, 100, 100, 100, 0.0f, HQ_SPARSE_CSR, HQ_INDEX_I32, &heap), HQ_OK);
  assert_null(heap->pool);
  assert_int_equal(hq_sparse_to_dense(csr, back, 100), HQ_OK);
  assert_int_equal(hq_sparse_to_dense(heap, back_heap, 100), HQ_OK);
  assert_memory_equal(back, back_heap, sizeof back);

  /* a conversion lands in the source's pool: COO = struct, rows, cols, values */
  assert_int_equal(hq_sparse_convert(csr, HQ_SPARSE_COO, &coo), HQ_OK);
  assert_ptr_equal(coo->pool, pool);
  assert_int_equal(hq_test_pool_stat(pool, "allocation.all.current"), 8);
  /* canonicalising a COO takes its scratch from the pool and gives it back */
  coo->canonical = 0;
  int64_t before = hq_test_pool_stat(pool, "allocation.all.allocated");
  assert_int_equal(hq_sparse_canonicalize(coo), HQ_OK);
  assert_int_equal(hq_test_pool_stat(pool, "allocation.all.allocated"), before + 4);
  assert_int_equal(hq_test_pool_stat(pool, "allocation.all.current"), 8);
  hq_sparse_free(coo);
  hq_sparse_free(csr);
  assert_int_equal(hq_test_pool_stat(pool, "allocation.all.current"), 0);
  assert_int_equal(hq_test_pool_stat(pool, "requested_bytes.all.current"), 0);

  /* a pool at its cap: HQ_ENOMEM and nothing left behind */
  assert_int_equal(hq_pool_set_memory_cap(pool, (size_t)2 << 20), HQ_OK);
  assert_int_equal(hq_sparse_create_in(pool, HQ_SPARSE_COO, HQ_INDEX_I64, 10, 10, 1 << 20, &big),
                   HQ_ENOMEM);
  assert_null(big);
  assert_int_equal(hq_test_pool_stat(pool, "allocation.all.current"), 0);
  /* an empty CSR from the pool: rowptr zero-filled (the pool's memory is not) */
  assert_int_equal(hq_sparse_create_in(pool, HQ_SPARSE_CSR, HQ_INDEX_I32, 50, 50, 0, &big), HQ_OK);
  for (int i = 0; i <= 50; i++) assert_int_equal(((int32_t *)big->rowptr)[i], 0);
  assert_null(big->colind);
  assert_int_equal(hq_test_pool_stat(pool, "allocation.all.current"), 2);
  hq_sparse_free(big);
  assert_int_equal(hq_test_pool_stat(pool, "allocation.all.current"), 0);
  hq_sparse_free(heap);
  hq_pool_destroy(pool);
  free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_sparse_from_dense_threshold),
    cmocka_unit_test(test_sparse_coo_to_csr_sums_duplicates),
    cmocka_unit_test(test_sparse_canonicalize_csr_in_place),
    cmocka_unit_test(test_sparse_spmv_equals_dense),
    cmocka_unit_test(test_sparse_spmm_matches_blas),
    cmocka_unit_test(test_sparse_sddmm_on_pattern),
    cmocka_unit_test(test_sparse_nbytes_each_form),
    cmocka_unit_test(test_sparse_bad_arguments),
    cmocka_unit_test(test_sparse_spmv_threads_bitwise_equal),
    cmocka_unit_test(test_sparse_arrays_from_pool),
  };
  return cmocka_run_group_tests_name("sparse", tests, NULL, NULL);
}
