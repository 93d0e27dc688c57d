/* test_tensor.c: f16/bf16 conversions, tensor allocation, views, copies, memory reports and
 * the BLAS-backed products. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq_test.h"
#include "heapql/kernels.h"

static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static float float_of(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static void test_tensor_f16_known_values(void **state) {
  (void)state;
  assert_int_equal(hq_f32_to_f16(1.0f), 0x3c00);
  assert_int_equal(hq_f32_to_f16(-2.0f), 0xc000);
  assert_int_equal(hq_f32_to_f16(0.0f), 0x0000);
  assert_int_equal(hq_f32_to_f16(-0.0f), 0x8000);
  assert_int_equal(hq_f32_to_f16(65504.0f), 0x7bff);   /* largest finite */
  assert_int_equal(hq_f32_to_f16(65519.0f), 0x7bff);   /* below the halfway point */
  assert_int_equal(hq_f32_to_f16(65520.0f), 0x7c00);   /* halfway: rounds to inf */
  assert_int_equal(hq_f32_to_f16(INFINITY), 0x7c00);
  assert_int_equal(hq_f32_to_f16(-INFINITY), 0xfc00);
  assert_int_equal(hq_f32_to_f16(0.1f), 0x2e66);
  assert_int_equal(hq_f32_to_f16(1.0f / 3.0f), 0x3555);
  assert_int_equal(hq_f32_to_f16(0x1p-14f), 0x0400);   /* smallest normal */
  assert_int_equal(hq_f32_to_f16(0x1p-24f), 0x0001);   /* smallest subnormal */
  assert_int_equal(hq_f32_to_f16(0x1p-25f), 0x0000);   /* tie between 0 and 2^-24: even */
  assert_int_equal(hq_f32_to_f16(0x1.8p-25f), 0x0001); /* above the tie */
  assert_int_equal(hq_f32_to_f16(0x1.8p-24f), 0x0002); /* 1.5 units: tie, to even 2 */
  assert_int_equal(hq_f32_to_f16(0x1.4p-24f), 0x0001); /* 1.25 units */
  assert_int_equal(hq_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);     /* tie: to even */
  assert_int_equal(hq_f32_to_f16(1.0f + 0x3p-11f), 0x3c02);     /* tie: to even (up) */
  assert_int_equal(hq_f32_to_f16(1.0f + 0x1.2p-11f), 0x3c01);   /* just above the tie */
  assert_int_equal(hq_f32_to_f16(0x1.ffcp-15f), 0x0400); /* subnormal rounding up to normal */
  uint16_t nan = hq_f32_to_f16(NAN);
  assert_int_equal(nan & 0x7c00, 0x7c00);
  assert_true((nan & 0x03ff) != 0);
  assert_true(hq_f16_to_f32(0x3555) == 0.333251953125f);
  assert_true(hq_f16_to_f32(0x0001) == 0x1p-24f);
  assert_true(hq_f16_to_f32(0x03ff) == 0x1.ff8p-15f);
  assert_true(hq_f16_to_f32(0x7bff) == 65504.0f);
  assert_true(hq_f16_to_f32(0xfc00) == -INFINITY);
  assert_int_equal(bits_of(hq_f16_to_f32(0x8000)), 0x80000000u);
  assert_true(isnan(hq_f16_to_f32(0x7e00)));
}

static void test_tensor_f16_round_trip_all_values(void **state) {
  (void)state;
  int mismatches = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue; /* NaN payloads are not preserved */
    if (hq_f32_to_f16(hq_f16_to_f32((uint16_t)h)) != h) mismatches++;
  }
  assert_int_equal(mismatches, 0);
  /* every f32 halfway between two adjacent positive normal f16 values rounds to the even one */
  for (uint32_t h = 0x0400; h < 0x7bff; h += 97) {
    float lo = hq_f16_to_f32((uint16_t)h), hi = hq_f16_to_f32((uint16_t)(h + 1));
    float mid = lo + (hi - lo) / 2; /* exact in f32 */
    uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
    assert_int_equal(hq_f32_to_f16(mid), even);
  }
}

static void test_tensor_bf16_known_values(void **state) {
  (void)state;
  assert_int_equal(hq_f32_to_bf16(1.0f), 0x3f80);
  assert_int_equal(hq_f32_to_bf16(-1.0f), 0xbf80);
  assert_int_equal(hq_f32_to_bf16(1.0f / 3.0f), 0x3eab);       /* 0x3eaaaaab rounds up */
  assert_int_equal(hq_f32_to_bf16(float_of(0x3f808000u)), 0x3f80); /* tie: to even */
  assert_int_equal(hq_f32_to_bf16(float_of(0x3f818000u)), 0x3f82); /* tie: to even (up) */
  assert_int_equal(hq_f32_to_bf16(float_of(0x3f808001u)), 0x3f81); /* above the tie */
  assert_int_equal(hq_f32_to_bf16(float_of(0x7f7fffffu)), 0x7f80); /* FLT_MAX -> inf */
  assert_int_equal(hq_f32_to_bf16(INFINITY), 0x7f80);
  assert_int_equal(hq_f32_to_bf16(0x1p-149f), 0x0000); /* smallest f32 subnormal -> 0 */
  uint16_t nan = hq_f32_to_bf16(float_of(0x7f800001u)); /* signalling NaN stays NaN */
  assert_int_equal(nan & 0x7f80, 0x7f80);
  assert_true((nan & 0x7f) != 0);
  assert_true(hq_bf16_to_f32(0x3eab) == 0.333984375f);
  int mismatches = 0;
  for (uint32_t b = 0; b < 65536; b++) {
    if ((b & 0x7f80) == 0x7f80 && (b & 0x7f)) continue;
    if (hq_f32_to_bf16(hq_bf16_to_f32((uint16_t)b)) != b) mismatches++;
  }
  assert_int_equal(mismatches, 0);
}

static void test_tensor_convert_arrays(void **state) {
  (void)state;
  float src[5] = {1.0f, -0.5f, 65504.0f, 1e-8f, 3.14159f};
  uint16_t h[5], b[5], hb[5];
  float back[5];
  assert_int_equal(hq_convert(h, HQ_F16, src, HQ_F32, 5), HQ_OK);
  assert_int_equal(h[0], 0x3c00);
  assert_int_equal(h[1], 0xb800);
  assert_int_equal(h[2], 0x7bff);
  assert_int_equal(h[3], 0x0000);
  assert_int_equal(h[4], 0x4248); /* 3.140625 */
  assert_int_equal(hq_convert(back, HQ_F32, h, HQ_F16, 5), HQ_OK);
  assert_true(back[4] == 3.140625f);
  assert_int_equal(hq_convert(b, HQ_BF16, src, HQ_F32, 5), HQ_OK);
  assert_int_equal(b[4], 0x4049);
  assert_int_equal(hq_convert(hb, HQ_BF16, h, HQ_F16, 5), HQ_OK); /* f16 -> bf16 */
  assert_int_equal(hb[0], 0x3f80);
  assert_int_equal(hb[4], 0x4049);
  assert_int_equal(hq_convert(NULL, HQ_F32, src, HQ_F32, 0), HQ_OK);
  assert_int_equal(hq_convert(NULL, HQ_F32, src, HQ_F32, 1), HQ_EMISUSE);
  assert_int_equal(hq_convert(back, (hq_dtype_t)7, src, HQ_F32, 1), HQ_EINVAL);
  assert_int_equal(hq_dtype_size(HQ_F32), 4);
  assert_int_equal(hq_dtype_size(HQ_BF16), 2);
  assert_int_equal(hq_dtype_size((hq_dtype_t)9), 0);
}

static void fill_iota(hq_tensor_t *t) {
  int64_t n = hq_tensor_numel(t);
  float *f = t->data;
  for (int64_t i = 0; i < n; i++) f[i] = (float)i;
}

static float at(const hq_tensor_t *t, int64_t i0, int64_t i1, int64_t i2) {
  int64_t idx[3] = {i0, i1, i2};
  float v = NAN;
  assert_int_equal(hq_tensor_get(t, idx, &v), HQ_OK);
  return v;
}

static void test_tensor_alloc_and_memory_report(void **state) {
  (void)state;
  hq_tensor_t t, h;
  hq_tensor_mem_t mem;
  int64_t shape[3] = {2, 3, 4};
  assert_int_equal(hq_tensor_alloc(&t, HQ_F32, 3, shape, NULL), HQ_OK);
  assert_int_equal(t.strides[0], 12);
  assert_int_equal(t.strides[1], 4);
  assert_int_equal(t.strides[2], 1);
  assert_int_equal(hq_tensor_numel(&t), 24);
  assert_true(hq_tensor_is_contiguous(&t));
  assert_true(hq_tensor_owns(&t));
  assert_int_equal((uintptr_t)t.data % 64, 0);
  assert_int_equal(hq_tensor_nbytes(&t, &mem), HQ_OK);
  assert_int_equal(mem.logical_bytes, 96);
  assert_int_equal(mem.owned_bytes, 96);
  assert_int_equal(mem.viewed_bytes, 0);
  assert_int_equal(mem.storage_bytes, 96);
  assert_int_equal(hq_tensor_zeros(&h, HQ_F16, 3, shape, NULL), HQ_OK);
  assert_int_equal(hq_tensor_nbytes(&h, &mem), HQ_OK);
  assert_int_equal(mem.owned_bytes, 48);
  assert_true(at(&h, 1, 2, 3) == 0.0f);
  assert_int_equal(hq_tensor_release(&t), HQ_OK);
  assert_null(t.data);
  assert_int_equal(hq_tensor_release(&t), HQ_OK); /* released struct is empty: harmless */
  assert_int_equal(hq_tensor_release(&h), HQ_OK);
  assert_int_equal(hq_tensor_release(NULL), HQ_OK);
  /* a scalar and an empty tensor */
  assert_int_equal(hq_tensor_alloc(&t, HQ_F32, 0, NULL, NULL), HQ_OK);
  assert_int_equal(hq_tensor_numel(&t), 1);
  assert_int_equal(hq_tensor_set(&t, NULL, 2.5f), HQ_OK);
  float v;
  assert_int_equal(hq_tensor_get(&t, NULL, &v), HQ_OK);
  assert_true(v == 2.5f);
  assert_int_equal(hq_tensor_release(&t), HQ_OK);
  shape[1] = 0;
  assert_int_equal(hq_tensor_alloc(&t, HQ_F32, 3, shape, NULL), HQ_OK);
  assert_null(t.data);
  assert_false(hq_tensor_owns(&t));
  assert_int_equal(hq_tensor_release(&t), HQ_OK);
  /* bad arguments */
  shape[1] = -1;
  assert_int_equal(hq_tensor_alloc(&t, HQ_F32, 3, shape, NULL), HQ_EINVAL);
  assert_int_equal(hq_tensor_alloc(&t, HQ_F32, 9, shape, NULL), HQ_EINVAL);
  assert_int_equal(hq_tensor_alloc(&t, (hq_dtype_t)5, 3, shape, NULL), HQ_EINVAL);
  int64_t huge[2] = {INT64_MAX / 2, 16};
  assert_int_equal(hq_tensor_alloc(&t, HQ_F32, 2, huge, NULL), HQ_ERANGE);
}

static void test_tensor_pool_backed(void **state) {
  (void)state;
  hq_pool_t *pool = NULL;
  hq_pool_stats_t st;
  hq_tensor_t t, v;
  hq_tensor_mem_t mem;
  int64_t shape[2] = {10, 10};
  assert_int_equal(hq_pool_create(NULL, &pool), HQ_OK);
  assert_int_equal(hq_tensor_alloc(&t, HQ_F32, 2, shape, pool), HQ_OK);
  assert_int_equal(hq_pool_get_stats(pool, &st), HQ_OK);
  assert_int_equal(st.requested_bytes[HQ_STAT_ALL].current, 400);
  assert_int_equal(st.allocated_bytes[HQ_STAT_ALL].current, 512);
  assert_int_equal(hq_tensor_nbytes(&t, &mem), HQ_OK);
  assert_int_equal(mem.owned_bytes, 400);
  /* a view releases nothing */
  assert_int_equal(hq_tensor_view(&t, &v), HQ_OK);
  assert_int_equal(hq_tensor_release(&v), HQ_OK);
  assert_int_equal(hq_pool_get_stats(pool, &st), HQ_OK);
  assert_int_equal(st.allocation[HQ_STAT_ALL].current, 1);
  /* a copy of the owning struct released twice: the pool refuses the second */
  hq_tensor_t copy = t;
  assert_int_equal(hq_tensor_release(&t), HQ_OK);
  assert_int_equal(hq_tensor_release(&copy), HQ_EINVAL);
  assert_int_equal(hq_pool_get_stats(pool, &st), HQ_OK);
  assert_int_equal(st.allocation[HQ_STAT_ALL].current, 0);
  hq_pool_destroy(pool);
}

static void test_tensor_views_share_memory(void **state) {
  (void)state;
  hq_tensor_t t, s, sel, tr, perm, r, r2;
  hq_tensor_mem_t mem;
  int64_t shape[3] = {2, 3, 4};
  assert_int_equal(hq_tensor_alloc(&t, HQ_F32, 3, shape, NULL), HQ_OK);
  fill_iota(&t); /* t[i][j][k] = 12i + 4j + k */

  assert_int_equal(hq_tensor_slice(&t, 1, 1, 3, 1, &s), HQ_OK); /* t[:, 1:3, :] */
  assert_int_equal(s.shape[1], 2);
  assert_ptr_equal(s.data, (float *)t.data + 4);
  assert_true(at(&s, 1, 1, 3) == 12 + 8 + 3);
  assert_false(hq_tensor_is_contiguous(&s));
  assert_int_equal(hq_tensor_nbytes(&s, &mem), HQ_OK);
  assert_int_equal(mem.owned_bytes, 0);
  assert_int_equal(mem.logical_bytes, 64);
  assert_int_equal(mem.viewed_bytes, (12 + 4 + 3 + 1) * 4); /* first to last element */
  assert_int_equal(mem.storage_bytes, 96);

  assert_int_equal(hq_tensor_slice(&t, 2, 0, 4, 3, &s), HQ_OK); /* t[:, :, ::3] */
  assert_int_equal(s.shape[2], 2);
  assert_int_equal(s.strides[2], 3);
  assert_true(at(&s, 1, 2, 1) == 12 + 8 + 3);

  assert_int_equal(hq_tensor_select(&t, 0, 1, &sel), HQ_OK); /* t[1] */
  assert_int_equal(sel.ndim, 2);
  assert_true(hq_tensor_is_contiguous(&sel));
  int64_t i2[2] = {2, 3};
  float v;
  assert_int_equal(hq_tensor_get(&sel, i2, &v), HQ_OK);
  assert_true(v == 23.0f);

  assert_int_equal(hq_tensor_transpose(&t, 0, 2, &tr), HQ_OK); /* shape 4 x 3 x 2 */
  assert_int_equal(tr.shape[0], 4);
  assert_true(at(&tr, 3, 1, 1) == 12 + 4 + 3);
  assert_false(hq_tensor_is_contiguous(&tr));

  int p[3] = {2, 0, 1};
  assert_int_equal(hq_tensor_permute(&t, p, &perm), HQ_OK); /* shape 4 x 2 x 3 */
  assert_int_equal(perm.shape[0], 4);
  assert_int_equal(perm.shape[1], 2);
  assert_true(at(&perm, 2, 1, 0) == 12 + 0 + 2);
  int bad[3] = {0, 0, 1};
  assert_int_equal(hq_tensor_permute(&t, bad, &perm), HQ_EINVAL);

  int64_t ns[2] = {-1, 6};
  assert_int_equal(hq_tensor_reshape(&t, 2, ns, &r), HQ_OK);
  assert_int_equal(r.shape[0], 4);
  int64_t ri[2] = {3, 5};
  assert_int_equal(hq_tensor_get(&r, ri, &v), HQ_OK);
  assert_true(v == 23.0f);
  assert_ptr_equal(r.data, t.data);
  assert_int_equal(hq_tensor_reshape(&tr, 2, ns, &r2), HQ_EINVAL); /* not contiguous */
  assert_non_null(strstr(hq_kernels_errmsg(), "not contiguous"));
  int64_t wrong[2] = {5, 5};
  assert_int_equal(hq_tensor_reshape(&t, 2, wrong, &r2), HQ_EINVAL);

  /* writes through a view land in the owner */
  int64_t wi[3] = {0, 0, 1};
  assert_int_equal(hq_tensor_set(&tr, wi, -7.0f), HQ_OK); /* tr[0][0][1] = t[1][0][0] */
  assert_true(at(&t, 1, 0, 0) == -7.0f);

  /* range errors */
  assert_int_equal(hq_tensor_slice(&t, 1, 2, 4, 1, &s), HQ_EINVAL);
  assert_int_equal(hq_tensor_slice(&t, 3, 0, 1, 1, &s), HQ_EINVAL);
  assert_int_equal(hq_tensor_slice(&t, 1, 0, 1, 0, &s), HQ_EINVAL);
  assert_int_equal(hq_tensor_select(&t, 0, 2, &sel), HQ_EINVAL);
  int64_t oob[3] = {0, 3, 0};
  assert_int_equal(hq_tensor_get(&t, oob, &v), HQ_EINVAL);
  /* an owner cannot be turned into its own view */
  assert_int_equal(hq_tensor_transpose(&t, 0, 1, &t), HQ_EINVAL);
  /* a view can */
  assert_int_equal(hq_tensor_transpose(&tr, 0, 2, &tr), HQ_OK);
  assert_true(hq_tensor_is_contiguous(&tr));
  assert_int_equal(hq_tensor_release(&t), HQ_OK);
}

static void test_tensor_clone_converts_and_packs(void **state) {
  (void)state;
  hq_tensor_t t, tr, c16, back, packed;
  int64_t shape[2] = {3, 5};
  assert_int_equal(hq_tensor_alloc(&t, HQ_F32, 2, shape, NULL), HQ_OK);
  fill_iota(&t);
  ((float *)t.data)[7] = 0.1f;
  assert_int_equal(hq_tensor_clone(&t, HQ_F16, NULL, &c16), HQ_OK);
  assert_int_equal(((uint16_t *)c16.data)[7], 0x2e66);
  assert_int_equal(((uint16_t *)c16.data)[14], hq_f32_to_f16(14.0f));
  assert_int_equal(hq_tensor_clone(&c16, HQ_F32, NULL, &back), HQ_OK);
  assert_true(((float *)back.data)[7] == hq_f16_to_f32(0x2e66));
  assert_true(((float *)back.data)[14] == 14.0f);
  /* a transposed view becomes contiguous with the transposed values */
  assert_int_equal(hq_tensor_transpose(&t, 0, 1, &tr), HQ_OK);
  assert_int_equal(hq_tensor_clone(&tr, HQ_BF16, NULL, &packed), HQ_OK);
  assert_true(hq_tensor_is_contiguous(&packed));
  assert_int_equal(packed.shape[0], 5);
  int64_t idx[2] = {4, 2};
  float v;
  assert_int_equal(hq_tensor_get(&packed, idx, &v), HQ_OK);
  assert_true(v == 14.0f);
  /* strided copy into a strided destination, with conversion */
  hq_tensor_t col;
  assert_int_equal(hq_tensor_select(&t, 1, 0, &col), HQ_OK);    /* t[:, 0] = 0, 5, 10 */
  hq_tensor_t dst;
  assert_int_equal(hq_tensor_select(&packed, 0, 1, &dst), HQ_OK); /* packed[1, :], 3 elems */
  assert_int_equal(hq_tensor_copy(&dst, &col), HQ_OK);
  idx[0] = 1, idx[1] = 2;
  assert_int_equal(hq_tensor_get(&packed, idx, &v), HQ_OK);
  assert_true(v == 10.0f);
  assert_int_equal(hq_tensor_fill(&dst, 1.5f), HQ_OK);
  assert_int_equal(hq_tensor_get(&packed, idx, &v), HQ_OK);
  assert_true(v == 1.5f);
  assert_int_equal(hq_tensor_copy(&dst, &t), HQ_EINVAL); /* shape mismatch */
  assert_int_equal(hq_tensor_release(&t), HQ_OK);
  assert_int_equal(hq_tensor_release(&c16), HQ_OK);
  assert_int_equal(hq_tensor_release(&back), HQ_OK);
  assert_int_equal(hq_tensor_release(&packed), HQ_OK);
}

static void test_tensor_wrap_external(void **state) {
  (void)state;
  float buf[6] = {1, 2, 3, 4, 5, 6};
  hq_tensor_t t;
  hq_tensor_mem_t mem;
  int64_t shape[2] = {2, 3}, strides[2] = {1, 2}; /* column-major 2 x 3 */
  assert_int_equal(hq_tensor_wrap(&t, buf, HQ_F32, 2, shape, strides), HQ_OK);
  int64_t idx[2] = {1, 2};
  float v;
  assert_int_equal(hq_tensor_get(&t, idx, &v), HQ_OK);
  assert_true(v == 6.0f);
  idx[0] = 0, idx[1] = 1;
  assert_int_equal(hq_tensor_get(&t, idx, &v), HQ_OK);
  assert_true(v == 3.0f);
  assert_int_equal(hq_tensor_nbytes(&t, &mem), HQ_OK);
  assert_int_equal(mem.owned_bytes, 0);
  assert_int_equal(mem.viewed_bytes, 24);
  assert_int_equal(mem.storage_bytes, 0);
  assert_int_equal(hq_tensor_release(&t), HQ_OK); /* buf untouched */
  assert_true(buf[5] == 6.0f);
  assert_int_equal(hq_tensor_wrap(&t, NULL, HQ_F32, 2, shape, NULL), HQ_EMISUSE);
}

static void test_tensor_gemm_known_values(void **state) {
  (void)state;
  float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c[4] = {1, 1, 1, 1};
  assert_int_equal(hq_gemm(HQ_OP_N, HQ_OP_N, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2), HQ_OK);
  assert_true(c[0] == 19 && c[1] == 22 && c[2] == 43 && c[3] == 50);
  assert_int_equal(hq_gemm(HQ_OP_T, HQ_OP_N, 2, 2, 2, 1.0f, a, 2, b, 2, 1.0f, c, 2), HQ_OK);
  /* A^T B = [[26, 30], [38, 44]] */
  assert_true(c[0] == 45 && c[1] == 52 && c[2] == 81 && c[3] == 94);
  assert_int_equal(hq_gemm(HQ_OP_N, HQ_OP_N, 2, 2, 0, 1.0f, NULL, 1, NULL, 2, 0.5f, c, 2), HQ_OK);
  assert_true(c[0] == 22.5f && c[3] == 47.0f);
  assert_int_equal(hq_gemm(HQ_OP_N, HQ_OP_N, 2, 2, 2, 1.0f, a, 1, b, 2, 0.0f, c, 2), HQ_EINVAL);
  assert_int_equal(hq_gemm(HQ_OP_N, HQ_OP_N, -1, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2), HQ_EINVAL);
  assert_int_equal(hq_gemm(HQ_OP_N, HQ_OP_N, (int64_t)1 << 32, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2), HQ_ERANGE);
  float y[2] = {0, 0}, x[2] = {1, 1}, d;
  assert_int_equal(hq_gemv(HQ_OP_N, 2, 2, 1.0f, a, 2, x, 0.0f, y), HQ_OK);
  assert_true(y[0] == 3 && y[1] == 7);
  assert_int_equal(hq_gemv(HQ_OP_T, 2, 2, 1.0f, a, 2, x, 0.0f, y), HQ_OK);
  assert_true(y[0] == 4 && y[1] == 6);
  assert_int_equal(hq_axpy(2, 2.0f, x, y), HQ_OK);
  assert_true(y[0] == 6 && y[1] == 8);
  assert_int_equal(hq_scal(2, 0.5f, y), HQ_OK);
  assert_true(y[0] == 3 && y[1] == 4);
  assert_int_equal(hq_dot(2, x, y, &d), HQ_OK);
  assert_true(d == 7);
}

static float frand(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* c = a @ b computed in double from any strided f32/f16 tensors */
static void reference_matmul(const hq_tensor_t *a, const hq_tensor_t *b, double *out) {
  int64_t m = a->shape[0], k = a->shape[1], n = b->shape[1];
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t p = 0; p < k; p++) {
        int64_t ia[2] = {i, p}, ib[2] = {p, j};
        float x, y;
        assert_int_equal(hq_tensor_get(a, ia, &x), HQ_OK);
        assert_int_equal(hq_tensor_get(b, ib, &y), HQ_OK);
        s += (double)x * y;
      }
      out[i * n + j] = s;
    }
}

static void assert_close(const hq_tensor_t *c, const double *ref) {
  for (int64_t i = 0; i < c->shape[0]; i++)
    for (int64_t j = 0; j < c->shape[1]; j++) {
      int64_t idx[2] = {i, j};
      float v;
      assert_int_equal(hq_tensor_get(c, idx, &v), HQ_OK);
      double r = ref[i * c->shape[1] + j];
      if (fabs(v - r) > 1e-4 * (1 + fabs(r)))
        fail_msg("c[%lld][%lld] = %g, expected %g", (long long)i, (long long)j, v, r);
    }
}

static void test_tensor_matmul_layouts(void **state) {
  (void)state;
  uint32_t seed = 7;
  hq_tensor_t a, b, at_store, a_t, c, ct_store, c_t, a16, bs_big, bs;
  int64_t sa[2] = {5, 7}, sb[2] = {7, 3}, sat[2] = {7, 5}, sc[2] = {5, 3}, sct[2] = {3, 5};
  int64_t sbig[2] = {14, 6};
  double ref[15];
  assert_int_equal(hq_tensor_alloc(&a, HQ_F32, 2, sa, NULL), HQ_OK);
  assert_int_equal(hq_tensor_alloc(&b, HQ_F32, 2, sb, NULL), HQ_OK);
  for (int i = 0; i < 35; i++) ((float *)a.data)[i] = frand(&seed);
  for (int i = 0; i < 21; i++) ((float *)b.data)[i] = frand(&seed);
  reference_matmul(&a, &b, ref);

  assert_int_equal(hq_tensor_zeros(&c, HQ_F32, 2, sc, NULL), HQ_OK);
  assert_int_equal(hq_tensor_matmul(&a, HQ_OP_N, &b, HQ_OP_N, 1.0f, 0.0f, &c), HQ_OK);
  assert_close(&c, ref);

  /* A given as the transpose of a stored 7 x 5 matrix (a view: BLAS gets op T) */
  assert_int_equal(hq_tensor_alloc(&at_store, HQ_F32, 2, sat, NULL), HQ_OK);
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 7; j++) ((float *)at_store.data)[j * 5 + i] = ((float *)a.data)[i * 7 + j];
  assert_int_equal(hq_tensor_transpose(&at_store, 0, 1, &a_t), HQ_OK);
  assert_int_equal(hq_tensor_fill(&c, 0.0f), HQ_OK);
  assert_int_equal(hq_tensor_matmul(&a_t, HQ_OP_N, &b, HQ_OP_N, 1.0f, 0.0f, &c), HQ_OK);
  assert_close(&c, ref);
  /* the same through op_a = T on the stored matrix */
  assert_int_equal(hq_tensor_matmul(&at_store, HQ_OP_T, &b, HQ_OP_N, 1.0f, 0.0f, &c), HQ_OK);
  assert_close(&c, ref);

  /* C stored transposed */
  assert_int_equal(hq_tensor_zeros(&ct_store, HQ_F32, 2, sct, NULL), HQ_OK);
  assert_int_equal(hq_tensor_transpose(&ct_store, 0, 1, &c_t), HQ_OK);
  assert_int_equal(hq_tensor_matmul(&a, HQ_OP_N, &b, HQ_OP_N, 1.0f, 0.0f, &c_t), HQ_OK);
  assert_close(&c_t, ref);

  /* B as a strided slice (every other row and column of a 14 x 6) needs packing */
  assert_int_equal(hq_tensor_alloc(&bs_big, HQ_F32, 2, sbig, NULL), HQ_OK);
  assert_int_equal(hq_tensor_fill(&bs_big, 99.0f), HQ_OK);
  hq_tensor_t tmp;
  assert_int_equal(hq_tensor_slice(&bs_big, 0, 0, 14, 2, &tmp), HQ_OK);
  assert_int_equal(hq_tensor_slice(&tmp, 1, 0, 6, 2, &bs), HQ_OK);
  assert_int_equal(hq_tensor_copy(&bs, &b), HQ_OK);
  assert_int_equal(hq_tensor_matmul(&a, HQ_OP_N, &bs, HQ_OP_N, 1.0f, 0.0f, &c), HQ_OK);
  assert_close(&c, ref);

  /* f16 storage of A: the result matches the product of the rounded values */
  assert_int_equal(hq_tensor_clone(&a, HQ_F16, NULL, &a16), HQ_OK);
  reference_matmul(&a16, &b, ref);
  assert_int_equal(hq_tensor_matmul(&a16, HQ_OP_N, &b, HQ_OP_N, 1.0f, 0.0f, &c), HQ_OK);
  assert_close(&c, ref);

  /* alpha and beta: c = 2 * a@b + 1 * c */
  reference_matmul(&a16, &b, ref);
  for (int i = 0; i < 15; i++) ref[i] = 3 * ref[i];
  assert_int_equal(hq_tensor_matmul(&a16, HQ_OP_N, &b, HQ_OP_N, 2.0f, 1.0f, &c), HQ_OK);
  assert_close(&c, ref);

  assert_int_equal(hq_tensor_matmul(&a, HQ_OP_N, &a, HQ_OP_N, 1.0f, 0.0f, &c), HQ_EINVAL);
  hq_tensor_release(&a), hq_tensor_release(&b), hq_tensor_release(&at_store);
  hq_tensor_release(&c), hq_tensor_release(&ct_store), hq_tensor_release(&a16);
  hq_tensor_release(&bs_big);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_tensor_f16_known_values),
    cmocka_unit_test(test_tensor_f16_round_trip_all_values),
    cmocka_unit_test(test_tensor_bf16_known_values),
    cmocka_unit_test(test_tensor_convert_arrays),
    cmocka_unit_test(test_tensor_alloc_and_memory_report),
    cmocka_unit_test(test_tensor_pool_backed),
    cmocka_unit_test(test_tensor_views_share_memory),
    cmocka_unit_test(test_tensor_clone_converts_and_packs),
    cmocka_unit_test(test_tensor_wrap_external),
    cmocka_unit_test(test_tensor_gemm_known_values),
    cmocka_unit_test(test_tensor_matmul_layouts),
  };
  return cmocka_run_group_tests_name("tensor", tests, NULL, NULL);
}
