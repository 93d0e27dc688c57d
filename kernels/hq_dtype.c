/* hq_dtype.c: f32 <-> f16 / bf16 conversions, round-to-nearest-even, and bulk conversion. */
#include <string.h>

#include "kernels_int.h"

size_t hq_dtype_size(hq_dtype_t dtype) {
  switch (dtype) {
  case HQ_F32: return 4;
  case HQ_F16: return 2;
  case HQ_BF16: return 2;
  default: return 0;
  }
}

static inline uint32_t f32_bits(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  return x;
}

static inline float bits_f32(uint32_t x) {
  float f;
  memcpy(&f, &x, sizeof f);
  return f;
}

static inline uint16_t to_f16(float value) {
  uint32_t x = f32_bits(value);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t abs = x & 0x7fffffffu;
  uint32_t exp = abs >> 23;

  if (abs > 0x7f800000u) /* NaN: quiet it, keep the top payload bits */
    return (uint16_t)(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
  if (abs >= 0x477ff000u) /* >= 65520 rounds to infinity (inf itself included) */
    return (uint16_t)(sign | 0x7c00u);
  if (exp >= 113) { /* a normal f16: rebias 127 -> 15 and round the 13 dropped bits */
    uint32_t h = ((exp - 112) << 10) | ((abs >> 13) & 0x3ffu);
    uint32_t rem = abs & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
    return (uint16_t)(sign | h);
  }
  if (exp < 102) /* below 2^-25: rounds to zero (2^-25 itself is a tie, to even 0) */
    return (uint16_t)sign;
  {
    /* Subnormal: value = mant * 2^(exp-150), f16 unit 2^-24, so shift by 126 - exp. */
    uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - exp; /* 14 .. 24 */
    uint32_t r = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1u))) r++; /* may carry into the smallest normal */
    return (uint16_t)(sign | r);
  }
}

static inline float from_f16(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    float v = (float)mant * 0x1p-24f; /* exact: zero or subnormal */
    return sign ? -v : v;
  }
  if (exp == 31) return bits_f32(sign | 0x7f800000u | (mant << 13));
  return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

static inline uint16_t to_bf16(float value) {
  uint32_t x = f32_bits(value);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u); /* quiet NaN */
  x += 0x7fffu + ((x >> 16) & 1u); /* round to nearest even; overflow lands on inf */
  return (uint16_t)(x >> 16);
}

static inline float from_bf16(uint16_t b) { return bits_f32((uint32_t)b << 16); }

uint16_t hq_f32_to_f16(float value) { return to_f16(value); }
float hq_f16_to_f32(uint16_t bits) { return from_f16(bits); }
uint16_t hq_f32_to_bf16(float value) { return to_bf16(value); }
float hq_bf16_to_f32(uint16_t bits) { return from_bf16(bits); }

int hq_convert(void *dst, hq_dtype_t dst_dtype, const void *src, hq_dtype_t src_dtype,
               size_t n) {
  size_t dsz = hq_dtype_size(dst_dtype), ssz = hq_dtype_size(src_dtype);
  if (!dsz || !ssz) return hq__kerr(HQ_EINVAL, "convert: unknown dtype (%d -> %d)",
                                    (int)src_dtype, (int)dst_dtype);
  if (n == 0) return HQ_OK;
  if (!dst || !src) return hq__kerr(HQ_MISUSE_BKPT, "convert: NULL buffer with %zu elements", n);
  if (dst_dtype == src_dtype) {
    if (dst != src) memmove(dst, src, n * dsz);
    return HQ_OK;
  }
  if (src_dtype == HQ_F32) {
    const float *s = src;
    uint16_t *d = dst;
    if (dst_dtype == HQ_F16)
      for (size_t i = 0; i < n; i++) d[i] = to_f16(s[i]);
    else
      for (size_t i = 0; i < n; i++) d[i] = to_bf16(s[i]);
  } else if (dst_dtype == HQ_F32) {
    const uint16_t *s = src;
    float *d = dst;
    if (src_dtype == HQ_F16)
      for (size_t i = 0; i < n; i++) d[i] = from_f16(s[i]);
    else
      for (size_t i = 0; i < n; i++) d[i] = from_bf16(s[i]);
  } else {
    /* f16 <-> bf16 through f32 (exact widening, one rounding). */
    const uint16_t *s = src;
    uint16_t *d = dst;
    if (src_dtype == HQ_F16)
      for (size_t i = 0; i < n; i++) d[i] = to_bf16(from_f16(s[i]));
    else
      for (size_t i = 0; i < n; i++) d[i] = to_f16(from_bf16(s[i]));
  }
  return HQ_OK;
}
