/*
 * hq_layer_attn.c: a multi-head self-attention block.
 *
 * Each row is seq (T) tokens of dim (D) features; H heads of dh = D/H features each.
 *   QKV = x Wqkv + bqkv                       (BT x 3D; Q, K, V side by side in each token row)
 *   P_bh = softmax(Q_bh K_bh^T / sqrt(dh))    (T x T per row b and head h, row max subtracted)
 *   O_bh = P_bh V_bh                          (written into head h's columns of O, BT x D)
 *   y = O Wo + bo  (+ x with the residual)
 * Saved for backward: QKV, every P, and O.  Backward, with s = 1/sqrt(dh):
 *   dO = dy Wo^T, dWo += O^T dy, dbo += colsum(dy)
 *   dP = dO_bh V_bh^T, dV_bh = P^T dO_bh, dS = s P o (dP - rowsum(dP o P))
 *   dQ_bh = dS K_bh, dK_bh = dS^T Q_bh
 *   dWqkv += x^T dQKV, dbqkv += colsum(dQKV), dx = dQKV Wqkv^T (+ dy)
 * Every product is a strided GEMM on the packed buffers; nothing is transposed in memory.
 */
#include <math.h>
#include <cblas.h>

#include "hq_model_int.h"

static size_t attn_saved(const hq__layer_t *l, size_t batch) {
  const size_t t = l->u.at.seq, d = l->u.at.dim, h = l->u.at.heads;
  return batch * (4 * t * d + h * t * t);
}

static size_t attn_bwd_scratch(const hq__layer_t *l, size_t batch) {
  const size_t t = l->u.at.seq, d = l->u.at.dim;
  return batch * t * 4 * d + t * t;   /* dO, dQKV, one dP */
}

static void softmax_rows(float *p, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; r++) {
    float *row = p + r * cols;
    float max = row[0];
    for (size_t c = 1; c < cols; c++) max = row[c] > max ? row[c] : max;
    double sum = 0.0;
    for (size_t c = 0; c < cols; c++) {
      row[c] = expf(row[c] - max);
      sum += row[c];
    }
    float inv = (float)(1.0 / sum);
    for (size_t c = 0; c < cols; c++) row[c] *= inv;
  }
}

static void attn_forward(const hq__layer_t *l, size_t batch, const float *x, float *y, float *saved,
                         float *scratch) {
  (void)scratch;
  const int t = (int)l->u.at.seq, d = (int)l->u.at.dim, nh = (int)l->u.at.heads, dh = d / nh;
  const int bt = (int)batch * t;
  const float scale = 1.0f / sqrtf((float)dh);
  const float *wqkv = l->param[0], *bqkv = l->param[1], *wo = l->param[2], *bo = l->param[3];
  float *qkv = saved, *p = qkv + (size_t)bt * 3 * d, *o = p + batch * nh * t * t;

  hq__rows_set(qkv, (size_t)bt, 3 * (size_t)d, bqkv);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bt, 3 * d, d, 1.0f, x, d, wqkv, 3 * d,
              1.0f, qkv, 3 * d);
  for (size_t b = 0; b < batch; b++) {
    for (int h = 0; h < nh; h++) {
      const float *q = qkv + b * t * 3 * d + h * dh, *k = q + d, *v = q + 2 * d;
      float *pbh = p + (b * nh + h) * t * t;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t, t, dh, scale, q, 3 * d, k, 3 * d,
                  0.0f, pbh, t);
      softmax_rows(pbh, t, t);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, dh, t, 1.0f, pbh, t, v, 3 * d,
                  0.0f, o + b * t * d + h * dh, d);
    }
  }
  hq__rows_set(y, (size_t)bt, (size_t)d, bo);
  if (l->u.at.residual)
    for (size_t i = 0; i < (size_t)bt * d; i++) y[i] += x[i];
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bt, d, d, 1.0f, o, d, wo, d, 1.0f, y, d);
}

static void attn_backward(hq__layer_t *l, size_t batch, const float *x, const float *y,
                          const float *saved, const float *dy, float *dx, float *scratch) {
  (void)y;
  const int t = (int)l->u.at.seq, d = (int)l->u.at.dim, nh = (int)l->u.at.heads, dh = d / nh;
  const int bt = (int)batch * t;
  const float scale = 1.0f / sqrtf((float)dh);
  const float *wqkv = l->param[0], *wo = l->param[2];
  const float *qkv = saved, *p = qkv + (size_t)bt * 3 * d, *o = p + batch * nh * t * t;
  float *d_o = scratch, *dqkv = d_o + (size_t)bt * d, *dp = dqkv + (size_t)bt * 3 * d;

  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bt, d, d, 1.0f, dy, d, wo, d, 0.0f, d_o, d);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, bt, 1.0f, o, d, dy, d, 1.0f,
              l->grad[2], d);
  hq__rows_sum_add(l->grad[3], dy, (size_t)bt, (size_t)d);
  for (size_t b = 0; b < batch; b++) {
    for (int h = 0; h < nh; h++) {
      const size_t tok = b * t;
      const float *q = qkv + tok * 3 * d + h * dh, *k = q + d, *v = q + 2 * d;
      const float *pbh = p + (b * nh + h) * t * t, *dob = d_o + tok * d + h * dh;
      float *dq = dqkv + tok * 3 * d + h * dh, *dk = dq + d, *dv = dq + 2 * d;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t, t, dh, 1.0f, dob, d, v, 3 * d, 0.0f,
                  dp, t);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t, dh, t, 1.0f, pbh, t, dob, d, 0.0f,
                  dv, 3 * d);
      for (int r = 0; r < t; r++) {
        const float *prow = pbh + r * t;
        float *dprow = dp + r * t;
        double dot = 0.0;
        for (int c = 0; c < t; c++) dot += (double)dprow[c] * (double)prow[c];
        const float fdot = (float)dot;
        for (int c = 0; c < t; c++) dprow[c] = scale * prow[c] * (dprow[c] - fdot);
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, dh, t, 1.0f, dp, t, k, 3 * d, 0.0f,
                  dq, 3 * d);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t, dh, t, 1.0f, dp, t, q, 3 * d, 0.0f,
                  dk, 3 * d);
    }
  }
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, 3 * d, bt, 1.0f, x, d, dqkv, 3 * d, 1.0f,
              l->grad[0], 3 * d);
  hq__rows_sum_add(l->grad[1], dqkv, (size_t)bt, 3 * (size_t)d);
  if (!dx) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bt, d, 3 * d, 1.0f, dqkv, 3 * d, wqkv, 3 * d,
              0.0f, dx, d);
  if (l->u.at.residual)
    for (size_t i = 0; i < (size_t)bt * d; i++) dx[i] += dy[i];
}

const hq__layer_ops_t hq__attention_ops = {
  .kind = "attention",
  .saved_floats = attn_saved,
  .backward_scratch_floats = attn_bwd_scratch,
  .forward = attn_forward,
  .backward = attn_backward,
};

int hq_model_add_attention(hq_model_t *m, size_t seq_len, size_t heads, int residual,
                           uint64_t seed) {
  if (!hq__model_valid(m)) return hq__kerr(HQ_MISUSE_BKPT, "model_add_attention: NULL argument");
  if (seq_len == 0 || heads == 0)
    return hq__kerr(HQ_EINVAL, "model_add_attention: seq_len 0 or heads 0");
  size_t width = hq_model_out_features(m);
  if (width % seq_len != 0 || (width / seq_len) % heads != 0)
    return hq__kerr(HQ_EINVAL, "model_add_attention: %zu features are not %zu tokens of %zu heads",
                    width, seq_len, heads);
  const size_t d = width / seq_len;
  hq__layer_t *l = NULL;
  float *wqkv = NULL, *bqkv = NULL, *wo = NULL, *bo = NULL;
  int rc = hq__layer_new(m, &hq__attention_ops, width, &l);
  if (rc != HQ_OK) goto out;
  l->u.at.seq = seq_len;
  l->u.at.heads = heads;
  l->u.at.dim = d;
  l->u.at.residual = residual ? 1 : 0;
  rc = hq__layer_add_param(m, l, d * 3 * d, &wqkv);
  if (rc == HQ_OK) rc = hq__layer_add_param(m, l, 3 * d, &bqkv);
  if (rc == HQ_OK) rc = hq__layer_add_param(m, l, d * d, &wo);
  if (rc == HQ_OK) rc = hq__layer_add_param(m, l, d, &bo);
  if (rc != HQ_OK) goto out;
  /* The four projections are initialised as nn.Linear(d, d) would be. */
  hq__rng_t rng;
  hq__rng_seed(&rng, seed);
  float bound = 1.0f / sqrtf((float)d);
  hq__fill_uniform(wqkv, d * 3 * d, bound, &rng);
  hq__fill_uniform(bqkv, 3 * d, bound, &rng);
  hq__fill_uniform(wo, d * d, bound, &rng);
  hq__fill_uniform(bo, d, bound, &rng);
  rc = hq__layer_commit(m, l);
out:
  if (rc != HQ_OK) hq__layer_free(m, l);
  return rc;
}
