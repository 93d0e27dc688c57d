/*
 * hq_layer_sklinear.c: Panther's sketched linear layer (SKLinear).
 *
 *   y = (1/2L) sum_i [ (x S1_i) U1_i + (x U2_i) S2_i ] + b
 *
 * The L terms are stored side by side so each sum is two GEMMs, not 2L:
 *   S1 = [S1_0 .. S1_{L-1}]      in x Lk     (trainable)
 *   U1 = [U1_0; ..; U1_{L-1}]    Lk x out    (fixed signs +-1/sqrt(k))
 *   U2 = [U2_0 .. U2_{L-1}]      in x Lk     (fixed)
 *   S2 = [S2_0; ..; S2_{L-1}]    Lk x out    (trainable)
 * so that sum_i (x S1_i) U1_i = (x S1) U1 and sum_i (x U2_i) S2_i = (x U2) S2.
 * Backward (no gradient for U):
 *   dS1 += c x^T (dy U1^T),  dS2 += c (x U2)^T dy,  db += colsum(dy),
 *   dx = c [ (dy U1^T) S1^T + (dy S2^T) U2^T ],  c = 1/2L.
 * x U2 (batch x Lk) is saved by forward; dy U1^T and dy S2^T are backward scratch.
 */
#include <math.h>
#include <cblas.h>

#include "hq_model_int.h"

static size_t lk(const hq__layer_t *l) { return l->u.sk.terms * l->u.sk.rank; }

static size_t sk_saved(const hq__layer_t *l, size_t batch) { return batch * lk(l); }
static size_t sk_bwd_scratch(const hq__layer_t *l, size_t batch) { return 2 * batch * lk(l); }

/* Fixed buffer layout: U1 (Lk x out) then U2 (in x Lk). */
static const float *u1_of(const hq__layer_t *l) { return l->fixed; }
static const float *u2_of(const hq__layer_t *l) { return l->fixed + lk(l) * l->out; }

static void sk_forward(const hq__layer_t *l, size_t batch, const float *x, float *y, float *saved,
                       float *scratch) {
  const int b = (int)batch, in = (int)l->in, out = (int)l->out, r = (int)lk(l);
  const float c = 1.0f / (2.0f * (float)l->u.sk.terms);
  const float *s1 = l->param[0], *s2 = l->param[1], *bias = l->param[2];
  float *t1 = scratch, *t2 = saved;
  hq__rows_set(y, batch, l->out, bias);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, r, in, 1.0f, x, in, s1, r, 0.0f, t1, r);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, out, r, c, t1, r, u1_of(l), out, 1.0f,
              y, out);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, r, in, 1.0f, x, in, u2_of(l), r, 0.0f,
              t2, r);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, out, r, c, t2, r, s2, out, 1.0f, y, out);
}

static void sk_backward(hq__layer_t *l, size_t batch, const float *x, const float *y,
                        const float *saved, const float *dy, float *dx, float *scratch) {
  (void)y;
  const int b = (int)batch, in = (int)l->in, out = (int)l->out, r = (int)lk(l);
  const float c = 1.0f / (2.0f * (float)l->u.sk.terms);
  const float *s1 = l->param[0], *s2 = l->param[1], *t2 = saved;
  float *g1 = scratch, *g2 = scratch + batch * lk(l);
  /* g1 = dy U1^T */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, r, out, 1.0f, dy, out, u1_of(l), out,
              0.0f, g1, r);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, r, b, c, x, in, g1, r, 1.0f, l->grad[0],
              r);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, out, b, c, t2, r, dy, out, 1.0f,
              l->grad[1], out);
  hq__rows_sum_add(l->grad[2], dy, batch, l->out);
  if (!dx) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, in, r, c, g1, r, s1, r, 0.0f, dx, in);
  /* g2 = dy S2^T */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, r, out, 1.0f, dy, out, s2, out, 0.0f, g2,
              r);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, in, r, c, g2, r, u2_of(l), r, 1.0f, dx,
              in);
}

const hq__layer_ops_t hq__sklinear_ops = {
  .kind = "sklinear",
  .saved_floats = sk_saved,
  .forward_scratch_floats = sk_saved,    /* x S1: same shape as the saved x U2 */
  .backward_scratch_floats = sk_bwd_scratch,
  .forward = sk_forward,
  .backward = sk_backward,
};

/* Fill n floats with independent signs +-scale. */
static void fill_signs(float *dst, size_t n, float scale, hq__rng_t *rng) {
  for (size_t i = 0; i < n; i += 64) {
    uint64_t bits = hq__rng_next(rng);
    for (size_t j = i; j < n && j < i + 64; j++, bits >>= 1) dst[j] = (bits & 1) ? scale : -scale;
  }
}

int hq_model_add_sklinear(hq_model_t *m, size_t out_features, size_t num_terms, size_t low_rank,
                          uint64_t seed) {
  if (!hq__model_valid(m)) return hq__kerr(HQ_MISUSE_BKPT, "model_add_sklinear: NULL argument");
  if (out_features == 0 || num_terms == 0 || low_rank == 0)
    return hq__kerr(HQ_EINVAL, "model_add_sklinear: a size is 0");
  hq__layer_t *l = NULL;
  float *s1 = NULL, *s2 = NULL, *bias = NULL, *w = NULL;
  size_t w_bytes = 0;
  int rc = hq__layer_new(m, &hq__sklinear_ops, out_features, &l);
  if (rc != HQ_OK) goto out;
  l->u.sk.terms = num_terms;
  l->u.sk.rank = low_rank;
  const size_t in = l->in, out = l->out, r = lk(l);
  rc = hq__layer_add_param(m, l, in * r, &s1);
  if (rc != HQ_OK) goto out;
  rc = hq__layer_add_param(m, l, r * out, &s2);
  if (rc != HQ_OK) goto out;
  rc = hq__layer_add_param(m, l, out, &bias);
  if (rc != HQ_OK) goto out;
  rc = hq__layer_add_fixed(m, l, r * out + in * r);
  if (rc != HQ_OK) goto out;
  /* The dense W only seeds S1 and S2 (Panther's W_init), so it is construction scratch. */
  w_bytes = in * out * sizeof(float);
  w = hq__model_alloc(m, HQ__MEM_WORK, w_bytes);
  if (!w) {
    rc = HQ_ENOMEM;   /* hq__model_alloc left the detail */
    goto out;
  }
  hq__rng_t rng;
  hq__rng_seed(&rng, seed);
  float bound = 1.0f / sqrtf((float)in);
  hq__fill_uniform(w, in * out, bound, &rng);
  hq__fill_uniform(bias, out, bound, &rng);
  float *u1 = l->fixed, *u2 = l->fixed + r * out;
  fill_signs(u1, r * out, 1.0f / sqrtf((float)low_rank), &rng);
  fill_signs(u2, in * r, 1.0f / sqrtf((float)low_rank), &rng);
  /* S1 = W U1^T (in x Lk), S2 = U2^T W (Lk x out) */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)in, (int)r, (int)out, 1.0f, w,
              (int)out, u1, (int)out, 0.0f, s1, (int)r);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)r, (int)out, (int)in, 1.0f, u2,
              (int)r, w, (int)out, 0.0f, s2, (int)out);
  rc = hq__layer_commit(m, l);
out:
  hq__model_release(m, HQ__MEM_WORK, w, w_bytes);
  if (rc != HQ_OK) hq__layer_free(m, l);
  return rc;
}
