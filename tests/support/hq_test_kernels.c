/* hq_test_kernels.c: see hq_test_kernels.h. */
#include <math.h>
#include <stdlib.h>

#include "hq_test.h"
#include "hq_test_kernels.h"

static uint32_t rng = 1;

float hq_test_urand(void) {
  rng = rng * 1664525u + 1013904223u;
  return (float)(rng >> 8) / 16777216.0f;
}

float *hq_test_random_dense(int64_t rows, int64_t cols, float density, int ints) {
  float *d = calloc((size_t)(rows * cols) + 1, sizeof(float));
  if (!d) fail_msg("out of memory for a %lld x %lld matrix", (long long)rows, (long long)cols);
  for (int64_t i = 0; i < rows * cols; i++)
    if (hq_test_urand() < density)
      d[i] = ints ? (float)((int)(hq_test_urand() * 17) - 8) : hq_test_urand() * 2 - 1;
  return d;
}

double hq_test_max_rel_diff(const float *a, const float *b, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; i++) {
    num = fmax(num, fabs((double)a[i] - b[i]));
    den = fmax(den, fabs((double)b[i]));
  }
  return den > 0 ? num / den : num;
}

int64_t hq_test_pool_stat(hq_pool_t *pool, const char *key) {
  hq_pool_stats_t st;
  int64_t v = -1;
  assert_int_equal(hq_pool_get_stats(pool, &st), HQ_OK);
  assert_int_equal(hq_pool_stats_get(&st, key, &v), HQ_OK);
  return v;
}
