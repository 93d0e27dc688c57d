/*
 * hq_tensor.c: n-d tensors over owned or viewed memory; views without copies; strided,
 * dtype-converting copies; memory reports.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels_int.h"

#define T_OWNS 1u

/* ---- small helpers ----------------------------------------------------------------------- */

static int check_shape(const char *fn, hq_dtype_t dtype, int ndim, const int64_t *shape) {
  if (!hq_dtype_size(dtype)) return hq__kerr(HQ_EINVAL, "%s: unknown dtype %d", fn, (int)dtype);
  if (ndim < 0 || ndim > HQ_TENSOR_MAX_DIMS)
    return hq__kerr(HQ_EINVAL, "%s: ndim %d outside 0..%d", fn, ndim, HQ_TENSOR_MAX_DIMS);
  if (ndim > 0 && !shape) return hq__kerr(HQ_MISUSE_BKPT, "%s: shape is NULL", fn);
  for (int i = 0; i < ndim; i++)
    if (shape[i] < 0)
      return hq__kerr(HQ_EINVAL, "%s: extent %lld of dim %d is negative", fn,
                      (long long)shape[i], i);
  return HQ_OK;
}

/* numel * elem_size in *out_bytes; HQ_ERANGE on overflow. */
static int shape_bytes(const char *fn, hq_dtype_t dtype, int ndim, const int64_t *shape,
                       size_t *out_numel, size_t *out_bytes) {
  size_t n = 1;
  for (int i = 0; i < ndim; i++)
    if (hq__mul_overflow(n, (size_t)shape[i], &n)) goto overflow;
  if (hq__mul_overflow(n, hq_dtype_size(dtype), out_bytes)) goto overflow;
  *out_numel = n;
  return HQ_OK;
overflow:
  return hq__kerr(HQ_ERANGE, "%s: tensor size overflows", fn);
}

static void c_strides(int ndim, const int64_t *shape, int64_t *strides) {
  int64_t s = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i] > 0 ? shape[i] : 1;
  }
}

int64_t hq_tensor_numel(const hq_tensor_t *t) {
  int64_t n = 1;
  if (!t) return 0;
  for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
  return n;
}

int hq_tensor_is_contiguous(const hq_tensor_t *t) {
  int64_t expect = 1;
  if (!t) return 0;
  if (hq_tensor_numel(t) == 0) return 1;
  for (int i = t->ndim - 1; i >= 0; i--) {
    if (t->shape[i] == 1) continue;
    if (t->strides[i] != expect) return 0;
    expect *= t->shape[i];
  }
  return 1;
}

int hq_tensor_owns(const hq_tensor_t *t) { return t && (t->flags_ & T_OWNS) ? 1 : 0; }

static size_t span_bytes(const hq_tensor_t *t) {
  int64_t last = 0;
  if (hq_tensor_numel(t) == 0) return 0;
  for (int i = 0; i < t->ndim; i++) last += (t->shape[i] - 1) * t->strides[i];
  return (size_t)(last + 1) * hq_dtype_size(t->dtype);
}

static inline char *elem_ptr(const hq_tensor_t *t, const int64_t *idx) {
  int64_t off = 0;
  for (int i = 0; i < t->ndim; i++) off += idx[i] * t->strides[i];
  return (char *)t->data + off * (int64_t)hq_dtype_size(t->dtype);
}

static inline float load_f32(const void *p, hq_dtype_t dt) {
  if (dt == HQ_F32) {
    float f;
    memcpy(&f, p, sizeof f);
    return f;
  }
  uint16_t h;
  memcpy(&h, p, sizeof h);
  return dt == HQ_F16 ? hq_f16_to_f32(h) : hq_bf16_to_f32(h);
}

static inline void store_f32(void *p, hq_dtype_t dt, float v) {
  if (dt == HQ_F32) {
    memcpy(p, &v, sizeof v);
  } else {
    uint16_t h = dt == HQ_F16 ? hq_f32_to_f16(v) : hq_f32_to_bf16(v);
    memcpy(p, &h, sizeof h);
  }
}

/* Advance a multi-index over dims 0..nd-2 (the last dim is the caller's inner loop).
 * Returns 0 when the iteration is over. */
static int next_outer(int nd, const int64_t *shape, int64_t *idx) {
  for (int i = nd - 2; i >= 0; i--) {
    if (++idx[i] < shape[i]) return 1;
    idx[i] = 0;
  }
  return 0;
}

/* ---- creation and release ---------------------------------------------------------------- */

static int alloc_common(const char *fn, hq_tensor_t *out, hq_dtype_t dtype, int ndim,
                        const int64_t *shape, hq_pool_t *pool, int zero) {
  size_t numel = 0, bytes = 0;
  void *mem = NULL;
  int rc;
  hq_tensor_t t;

  if (!out) return hq__kerr(HQ_MISUSE_BKPT, "%s: out is NULL", fn);
  if ((rc = check_shape(fn, dtype, ndim, shape)) != HQ_OK) return rc;
  if ((rc = shape_bytes(fn, dtype, ndim, shape, &numel, &bytes)) != HQ_OK) return rc;
  memset(&t, 0, sizeof t);
  t.dtype = dtype;
  t.ndim = ndim;
  for (int i = 0; i < ndim; i++) t.shape[i] = shape[i];
  c_strides(ndim, t.shape, t.strides);
  if (bytes > 0) {
    if (pool) {
      rc = hq_pool_alloc(pool, bytes, &mem);
      if (rc != HQ_OK) return rc;
    } else if (posix_memalign(&mem, 64, bytes) != 0) {
      return hq__kerr(HQ_ENOMEM, "%s: cannot allocate %zu bytes", fn, bytes);
    }
    if (zero) memset(mem, 0, bytes);
    t.data = mem;
    t.base_ = mem;
    t.base_nbytes_ = bytes;
    t.pool_ = pool;
    t.flags_ = T_OWNS;
  }
  *out = t;
  return HQ_OK;
}

int hq_tensor_alloc(hq_tensor_t *out, hq_dtype_t dtype, int ndim, const int64_t *shape,
                    hq_pool_t *pool) {
  return alloc_common("tensor_alloc", out, dtype, ndim, shape, pool, 0);
}

int hq_tensor_zeros(hq_tensor_t *out, hq_dtype_t dtype, int ndim, const int64_t *shape,
                    hq_pool_t *pool) {
  return alloc_common("tensor_zeros", out, dtype, ndim, shape, pool, 1);
}

int hq_tensor_wrap(hq_tensor_t *out, void *data, hq_dtype_t dtype, int ndim,
                   const int64_t *shape, const int64_t *strides) {
  size_t numel = 0, bytes = 0;
  int rc;
  hq_tensor_t t;
  if (!out) return hq__kerr(HQ_MISUSE_BKPT, "tensor_wrap: out is NULL");
  if ((rc = check_shape("tensor_wrap", dtype, ndim, shape)) != HQ_OK) return rc;
  if ((rc = shape_bytes("tensor_wrap", dtype, ndim, shape, &numel, &bytes)) != HQ_OK) return rc;
  if (numel > 0 && !data) return hq__kerr(HQ_MISUSE_BKPT, "tensor_wrap: data is NULL");
  memset(&t, 0, sizeof t);
  t.dtype = dtype;
  t.ndim = ndim;
  for (int i = 0; i < ndim; i++) t.shape[i] = shape[i];
  if (strides) {
    for (int i = 0; i < ndim; i++) {
      if (strides[i] < 0)
        return hq__kerr(HQ_EINVAL, "tensor_wrap: stride %lld of dim %d is negative",
                        (long long)strides[i], i);
      t.strides[i] = strides[i];
    }
  } else {
    c_strides(ndim, t.shape, t.strides);
  }
  t.data = numel ? data : NULL;
  t.base_ = t.data;
  *out = t;
  return HQ_OK;
}

int hq_tensor_release(hq_tensor_t *t) {
  int rc = HQ_OK;
  if (!t) return HQ_OK;
  if ((t->flags_ & T_OWNS) && t->base_) {
    if (t->pool_) rc = hq_pool_free(t->pool_, t->base_);
    else free(t->base_);
  }
  memset(t, 0, sizeof *t);
  return rc;
}

/* ---- views ------------------------------------------------------------------------------- */

/* Start a view of src in *v; refuses out == src when src owns its memory. */
static int view_begin(const char *fn, const hq_tensor_t *src, const hq_tensor_t *out,
                      hq_tensor_t *v) {
  if (!src || !out) return hq__kerr(HQ_MISUSE_BKPT, "%s: NULL tensor", fn);
  if (src == out && (src->flags_ & T_OWNS))
    return hq__kerr(HQ_EINVAL, "%s: out is the owning source; the owner would be lost", fn);
  *v = *src;
  v->flags_ &= ~T_OWNS;
  v->pool_ = NULL;
  return HQ_OK;
}

static void view_end(hq_tensor_t *v, hq_tensor_t *out) {
  if (hq_tensor_numel(v) == 0) v->data = NULL;
  *out = *v;
}

int hq_tensor_view(const hq_tensor_t *src, hq_tensor_t *out) {
  hq_tensor_t v;
  int rc = view_begin("tensor_view", src, out, &v);
  if (rc != HQ_OK) return rc;
  view_end(&v, out);
  return HQ_OK;
}

int hq_tensor_slice(const hq_tensor_t *src, int dim, int64_t start, int64_t stop, int64_t step,
                    hq_tensor_t *out) {
  hq_tensor_t v;
  int rc = view_begin("tensor_slice", src, out, &v);
  if (rc != HQ_OK) return rc;
  if (dim < 0 || dim >= v.ndim)
    return hq__kerr(HQ_EINVAL, "tensor_slice: dim %d outside 0..%d", dim, v.ndim - 1);
  if (start < 0 || start > stop || stop > v.shape[dim] || step < 1)
    return hq__kerr(HQ_EINVAL, "tensor_slice: %lld:%lld:%lld does not fit extent %lld",
                    (long long)start, (long long)stop, (long long)step,
                    (long long)v.shape[dim]);
  if (v.data && start < v.shape[dim])
    v.data = (char *)v.data + start * v.strides[dim] * (int64_t)hq_dtype_size(v.dtype);
  v.shape[dim] = (stop - start + step - 1) / step;
  v.strides[dim] *= step;
  view_end(&v, out);
  return HQ_OK;
}

int hq_tensor_select(const hq_tensor_t *src, int dim, int64_t index, hq_tensor_t *out) {
  hq_tensor_t v;
  int rc = view_begin("tensor_select", src, out, &v);
  if (rc != HQ_OK) return rc;
  if (dim < 0 || dim >= v.ndim)
    return hq__kerr(HQ_EINVAL, "tensor_select: dim %d outside 0..%d", dim, v.ndim - 1);
  if (index < 0 || index >= v.shape[dim])
    return hq__kerr(HQ_EINVAL, "tensor_select: index %lld outside 0..%lld", (long long)index,
                    (long long)v.shape[dim] - 1);
  v.data = (char *)v.data + index * v.strides[dim] * (int64_t)hq_dtype_size(v.dtype);
  for (int i = dim; i < v.ndim - 1; i++) {
    v.shape[i] = v.shape[i + 1];
    v.strides[i] = v.strides[i + 1];
  }
  v.ndim--;
  v.shape[v.ndim] = 0;
  v.strides[v.ndim] = 0;
  view_end(&v, out);
  return HQ_OK;
}

int hq_tensor_transpose(const hq_tensor_t *src, int d0, int d1, hq_tensor_t *out) {
  hq_tensor_t v;
  int64_t tmp;
  int rc = view_begin("tensor_transpose", src, out, &v);
  if (rc != HQ_OK) return rc;
  if (d0 < 0 || d0 >= v.ndim || d1 < 0 || d1 >= v.ndim)
    return hq__kerr(HQ_EINVAL, "tensor_transpose: dims %d, %d outside 0..%d", d0, d1,
                    v.ndim - 1);
  tmp = v.shape[d0], v.shape[d0] = v.shape[d1], v.shape[d1] = tmp;
  tmp = v.strides[d0], v.strides[d0] = v.strides[d1], v.strides[d1] = tmp;
  view_end(&v, out);
  return HQ_OK;
}

int hq_tensor_permute(const hq_tensor_t *src, const int *perm, hq_tensor_t *out) {
  hq_tensor_t v;
  int seen[HQ_TENSOR_MAX_DIMS] = {0};
  int rc = view_begin("tensor_permute", src, out, &v);
  if (rc != HQ_OK) return rc;
  if (!perm && v.ndim > 0) return hq__kerr(HQ_MISUSE_BKPT, "tensor_permute: perm is NULL");
  for (int i = 0; i < v.ndim; i++) {
    if (perm[i] < 0 || perm[i] >= v.ndim || seen[perm[i]]++)
      return hq__kerr(HQ_EINVAL, "tensor_permute: perm is not a permutation of 0..%d",
                      v.ndim - 1);
    v.shape[i] = src->shape[perm[i]];
    v.strides[i] = src->strides[perm[i]];
  }
  view_end(&v, out);
  return HQ_OK;
}

int hq_tensor_reshape(const hq_tensor_t *src, int ndim, const int64_t *shape, hq_tensor_t *out) {
  hq_tensor_t v;
  int infer = -1;
  int64_t known = 1, numel;
  int rc = view_begin("tensor_reshape", src, out, &v);
  if (rc != HQ_OK) return rc;
  if (ndim > 0 && !shape) return hq__kerr(HQ_MISUSE_BKPT, "tensor_reshape: NULL argument");
  if (ndim < 0 || ndim > HQ_TENSOR_MAX_DIMS)
    return hq__kerr(HQ_EINVAL, "tensor_reshape: bad ndim %d or NULL shape", ndim);
  if (!hq_tensor_is_contiguous(src))
    return hq__kerr(HQ_EINVAL, "tensor_reshape: the source is not contiguous; clone it first");
  numel = hq_tensor_numel(src);
  for (int i = 0; i < ndim; i++) {
    if (shape[i] == -1 && infer < 0) {
      infer = i;
    } else if (shape[i] < 0) {
      return hq__kerr(HQ_EINVAL, "tensor_reshape: extent %lld of dim %d", (long long)shape[i], i);
    } else {
      known *= shape[i];
    }
  }
  for (int i = 0; i < ndim; i++) v.shape[i] = shape[i];
  if (infer >= 0) {
    if (known == 0 || numel % known != 0)
      return hq__kerr(HQ_EINVAL, "tensor_reshape: cannot infer dim %d from %lld elements", infer,
                      (long long)numel);
    v.shape[infer] = numel / known;
    known *= v.shape[infer];
  }
  if (known != numel)
    return hq__kerr(HQ_EINVAL, "tensor_reshape: %lld elements cannot take a shape of %lld",
                    (long long)numel, (long long)known);
  for (int i = ndim; i < HQ_TENSOR_MAX_DIMS; i++) v.shape[i] = 0, v.strides[i] = 0;
  v.ndim = ndim;
  c_strides(ndim, v.shape, v.strides);
  view_end(&v, out);
  return HQ_OK;
}

/* ---- element access and copies ----------------------------------------------------------- */

static int same_shape(const hq_tensor_t *a, const hq_tensor_t *b) {
  if (a->ndim != b->ndim) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return 0;
  return 1;
}

int hq_tensor_copy(hq_tensor_t *dst, const hq_tensor_t *src) {
  int64_t idx[HQ_TENSOR_MAX_DIMS] = {0};
  int nd;
  int64_t inner, ds, ss;
  size_t desz, sesz;
  if (!dst || !src) return hq__kerr(HQ_MISUSE_BKPT, "tensor_copy: NULL tensor");
  if (!same_shape(dst, src)) return hq__kerr(HQ_EINVAL, "tensor_copy: shapes differ");
  if (hq_tensor_numel(src) == 0) return HQ_OK;
  if (hq_tensor_is_contiguous(dst) && hq_tensor_is_contiguous(src))
    return hq_convert(dst->data, dst->dtype, src->data, src->dtype,
                      (size_t)hq_tensor_numel(src));
  nd = src->ndim;
  inner = nd ? src->shape[nd - 1] : 1;
  ds = nd ? dst->strides[nd - 1] : 0;
  ss = nd ? src->strides[nd - 1] : 0;
  desz = hq_dtype_size(dst->dtype);
  sesz = hq_dtype_size(src->dtype);
  do {
    char *d = elem_ptr(dst, idx);
    const char *s = elem_ptr(src, idx);
    if (dst->dtype == src->dtype) {
      for (int64_t j = 0; j < inner; j++) memcpy(d + j * ds * (int64_t)desz, s + j * ss * (int64_t)sesz, desz);
    } else {
      for (int64_t j = 0; j < inner; j++)
        store_f32(d + j * ds * (int64_t)desz, dst->dtype, load_f32(s + j * ss * (int64_t)sesz, src->dtype));
    }
  } while (nd > 1 && next_outer(nd, src->shape, idx));
  return HQ_OK;
}

int hq_tensor_fill(hq_tensor_t *t, float value) {
  int64_t idx[HQ_TENSOR_MAX_DIMS] = {0};
  unsigned char bits[4];
  size_t esz;
  int nd;
  int64_t inner, st;
  if (!t) return hq__kerr(HQ_MISUSE_BKPT, "tensor_fill: NULL tensor");
  if (hq_tensor_numel(t) == 0) return HQ_OK;
  esz = hq_dtype_size(t->dtype);
  store_f32(bits, t->dtype, value);
  nd = t->ndim;
  inner = nd ? t->shape[nd - 1] : 1;
  st = nd ? t->strides[nd - 1] : 0;
  do {
    char *d = elem_ptr(t, idx);
    if (t->dtype == HQ_F32 && st == 1) {
      float *f = (float *)(void *)d;
      for (int64_t j = 0; j < inner; j++) f[j] = value;
    } else {
      for (int64_t j = 0; j < inner; j++) memcpy(d + j * st * (int64_t)esz, bits, esz);
    }
  } while (nd > 1 && next_outer(nd, t->shape, idx));
  return HQ_OK;
}

static int check_index(const char *fn, const hq_tensor_t *t, const int64_t *idx) {
  if (t->ndim > 0 && !idx) return hq__kerr(HQ_MISUSE_BKPT, "%s: idx is NULL", fn);
  for (int i = 0; i < t->ndim; i++)
    if (idx[i] < 0 || idx[i] >= t->shape[i])
      return hq__kerr(HQ_EINVAL, "%s: index %lld of dim %d outside 0..%lld", fn,
                      (long long)idx[i], i, (long long)t->shape[i] - 1);
  if (!t->data) return hq__kerr(HQ_MISUSE_BKPT, "%s: tensor has no data", fn);
  return HQ_OK;
}

int hq_tensor_get(const hq_tensor_t *t, const int64_t *idx, float *out_value) {
  int rc;
  if (!t || !out_value) return hq__kerr(HQ_MISUSE_BKPT, "tensor_get: NULL argument");
  if ((rc = check_index("tensor_get", t, idx)) != HQ_OK) return rc;
  *out_value = load_f32(elem_ptr(t, idx), t->dtype);
  return HQ_OK;
}

int hq_tensor_set(hq_tensor_t *t, const int64_t *idx, float value) {
  int rc;
  if (!t) return hq__kerr(HQ_MISUSE_BKPT, "tensor_set: NULL tensor");
  if ((rc = check_index("tensor_set", t, idx)) != HQ_OK) return rc;
  store_f32(elem_ptr(t, idx), t->dtype, value);
  return HQ_OK;
}

int hq_tensor_clone(const hq_tensor_t *src, hq_dtype_t dtype, hq_pool_t *pool, hq_tensor_t *out) {
  hq_tensor_t t;
  int rc;
  if (!src || !out) return hq__kerr(HQ_MISUSE_BKPT, "tensor_clone: NULL tensor");
  rc = hq_tensor_alloc(&t, dtype, src->ndim, src->shape, pool);
  if (rc != HQ_OK) return rc;
  rc = hq_tensor_copy(&t, src);
  if (rc != HQ_OK) {
    (void)hq_tensor_release(&t);
    return rc;
  }
  *out = t;
  return HQ_OK;
}

int hq_tensor_nbytes(const hq_tensor_t *t, hq_tensor_mem_t *out) {
  if (!t || !out) return hq__kerr(HQ_MISUSE_BKPT, "tensor_nbytes: NULL argument");
  memset(out, 0, sizeof *out);
  out->logical_bytes = (size_t)hq_tensor_numel(t) * hq_dtype_size(t->dtype);
  out->storage_bytes = t->base_nbytes_;
  if (t->flags_ & T_OWNS) out->owned_bytes = t->base_nbytes_;
  else out->viewed_bytes = span_bytes(t);
  return HQ_OK;
}
