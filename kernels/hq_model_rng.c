/* hq_model_rng.c: a small reproducible generator (splitmix64) for initialisation and sketches. */
#include <math.h>

#include "hq_model_int.h"

void hq__rng_seed(hq__rng_t *r, uint64_t seed) { r->s = seed; }

uint64_t hq__rng_next(hq__rng_t *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

float hq__rng_uniform(hq__rng_t *r, float lo, float hi) {
  /* 24 random bits: every value is exactly representable, and the result stays below hi. */
  float u = (float)(hq__rng_next(r) >> 40) * (1.0f / 16777216.0f);
  return lo + (hi - lo) * u;
}

double hq__rng_normal(hq__rng_t *r) {
  /* Box-Muller on two 53-bit uniforms; u1 kept away from 0 so log is finite. */
  double u1 = ((double)(hq__rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
  double u2 = (double)(hq__rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
