/*
 * hq_test_kernels.h: helpers for the kernels tests: random dense data and their comparison (for
 * products checked against a reference: sparse against BLAS, GPU against CPU), and pool
 * statistics by name.
 */
#ifndef HQ_TEST_KERNELS_H
#define HQ_TEST_KERNELS_H

#include <stdint.h>
#include "heapql/kernels.h"

/* Uniform in [0, 1): one fixed sequence per process (an LCG), so failures reproduce.  Not
 * thread-safe. */
float hq_test_urand(void);

/* rows x cols row-major, calloc'd: each entry is nonzero with probability density, a small
 * integer in [-8, 8] when ints (so every sum of products is exact in f32, in any order), else
 * uniform in [-1, 1).  Never NULL (aborts the test when out of memory). */
float *hq_test_random_dense(int64_t rows, int64_t cols, float density, int ints);

/* Largest |a[i] - b[i]| over i < n, relative to the largest |b[i]| (absolute when b is 0). */
double hq_test_max_rel_diff(const float *a, const float *b, int64_t n);

/* One statistic of pool by its torch key ("allocation.all.current"); fails the test when the
 * snapshot or the key is refused. */
int64_t hq_test_pool_stat(hq_pool_t *pool, const char *key);

#endif /* HQ_TEST_KERNELS_H */
