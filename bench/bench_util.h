/*
 * bench_util.h: what the kernels benchmarks share (hq-bench-kernels, hq-bench-cuda): a clock,
 * medians, and the test matrices.  Header-only; each benchmark is one program.
 */
#ifndef HQ_BENCH_UTIL_H
#define HQ_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "heapql/kernels.h"

static inline double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Median of v[0..n-1] (sorts v). */
static inline double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* rows x rows CSR (int32 indices) with nnz_per_row entries per row; columns within +-band of
 * the diagonal (band 0: anywhere), sorted per row, values in [0, 1).  NULL on failure. */
static inline hq_sparse_t *bench_csr(int64_t rows, int nnz_per_row, int64_t band) {
  hq_sparse_t *s;
  uint64_t r = 88172645463325252ull;
  if (hq_sparse_create(HQ_SPARSE_CSR, HQ_INDEX_I32, rows, rows, rows * nnz_per_row, &s) != HQ_OK)
    return NULL;
  int32_t *rp = s->rowptr, *ci = s->colind;
  for (int64_t i = 0; i < rows; i++) {
    rp[i] = (int32_t)(i * nnz_per_row);
    for (int k = 0; k < nnz_per_row; k++) {
      r ^= r << 13, r ^= r >> 7, r ^= r << 17;
      int64_t c = band ? i - band + (int64_t)(r % (uint64_t)(2 * band)) : (int64_t)(r % (uint64_t)rows);
      if (c < 0) c += rows;
      if (c >= rows) c -= rows;
      ci[i * nnz_per_row + k] = (int32_t)c;
      s->values[i * nnz_per_row + k] = (float)(r % 1000) / 1000.0f;
    }
  }
  rp[rows] = (int32_t)(rows * nnz_per_row);
  s->nnz = rows * nnz_per_row;
  s->canonical = 0;
  if (hq_sparse_canonicalize(s) != HQ_OK) {
    hq_sparse_free(s);
    return NULL;
  }
  return s;
}

#endif /* HQ_BENCH_UTIL_H */
