/*
 * hq_layer_norm.c: layer normalisation over groups of `dim` consecutive features.
 *
 *   xhat = (x - mean) * rstd,  rstd = 1 / sqrt(var + eps) (biased var),  y = xhat * gamma + beta
 *
 * Forward saves mean and rstd per group (2 floats); backward rebuilds xhat from x with the same
 * float expression, so it sees exactly the values forward used, then
 *   dgamma += sum dy xhat,  dbeta += sum dy,
 *   dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)),  dxhat = dy gamma.
 * Group sums are taken in double.
 */
#include <math.h>

#include "hq_model_int.h"

static size_t groups(const hq__layer_t *l, size_t batch) { return batch * (l->out / l->u.ln.dim); }

static size_t ln_saved(const hq__layer_t *l, size_t batch) { return 2 * groups(l, batch); }

static void ln_forward(const hq__layer_t *l, size_t batch, const float *x, float *y, float *saved,
                       float *scratch) {
  (void)scratch;
  const size_t d = l->u.ln.dim, ng = groups(l, batch);
  const float *gamma = l->param[0], *beta = l->param[1];
  for (size_t g = 0; g < ng; g++) {
    const float *xg = x + g * d;
    float *yg = y + g * d;
    double sum = 0.0;
    for (size_t j = 0; j < d; j++) sum += xg[j];
    float mean = (float)(sum / (double)d);
    double sq = 0.0;
    for (size_t j = 0; j < d; j++) {
      double c = (double)xg[j] - (double)mean;
      sq += c * c;
    }
    float rstd = (float)(1.0 / sqrt(sq / (double)d + (double)l->u.ln.eps));
    saved[2 * g] = mean;
    saved[2 * g + 1] = rstd;
    for (size_t j = 0; j < d; j++) yg[j] = (xg[j] - mean) * rstd * gamma[j] + beta[j];
  }
}

static void ln_backward(hq__layer_t *l, size_t batch, const float *x, const float *y,
                        const float *saved, const float *dy, float *dx, float *scratch) {
  (void)y;
  (void)scratch;
  const size_t d = l->u.ln.dim, ng = groups(l, batch);
  const float *gamma = l->param[0];
  float *dgamma = l->grad[0], *dbeta = l->grad[1];
  for (size_t g = 0; g < ng; g++) {
    const float *xg = x + g * d, *dyg = dy + g * d;
    const float mean = saved[2 * g], rstd = saved[2 * g + 1];
    double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
    for (size_t j = 0; j < d; j++) {
      float xhat = (xg[j] - mean) * rstd;
      float dxhat = dyg[j] * gamma[j];
      dgamma[j] += dyg[j] * xhat;
      dbeta[j] += dyg[j];
      sum_dxhat += dxhat;
      sum_dxhat_xhat += (double)dxhat * (double)xhat;
    }
    if (!dx) continue;
    const float a = (float)(sum_dxhat / (double)d), b = (float)(sum_dxhat_xhat / (double)d);
    float *dxg = dx + g * d;
    for (size_t j = 0; j < d; j++) {
      float xhat = (xg[j] - mean) * rstd;
      dxg[j] = rstd * (dyg[j] * gamma[j] - a - xhat * b);
    }
  }
}

const hq__layer_ops_t hq__layernorm_ops = {
  .kind = "layernorm",
  .saved_floats = ln_saved,
  .forward = ln_forward,
  .backward = ln_backward,
};

int hq_model_add_layernorm(hq_model_t *m, size_t norm_dim, float eps) {
  if (!hq__model_valid(m)) return hq__kerr(HQ_MISUSE_BKPT, "model_add_layernorm: NULL argument");
  if (!(eps >= 0.0f))
    return hq__kerr(HQ_EINVAL, "model_add_layernorm: eps < 0");
  size_t width = hq_model_out_features(m);
  if (norm_dim == 0) norm_dim = width;
  if (width % norm_dim != 0)
    return hq__kerr(HQ_EINVAL, "model_add_layernorm: %zu does not divide %zu features", norm_dim, width);
  hq__layer_t *l = NULL;
  float *gamma = NULL;
  int rc = hq__layer_new(m, &hq__layernorm_ops, width, &l);
  if (rc != HQ_OK) goto out;
  l->u.ln.dim = norm_dim;
  l->u.ln.eps = eps;
  rc = hq__layer_add_param(m, l, norm_dim, &gamma);
  if (rc != HQ_OK) goto out;
  rc = hq__layer_add_param(m, l, norm_dim, NULL);   /* beta: zeros */
  if (rc != HQ_OK) goto out;
  for (size_t j = 0; j < norm_dim; j++) gamma[j] = 1.0f;
  rc = hq__layer_commit(m, l);
out:
  if (rc != HQ_OK) hq__layer_free(m, l);
  return rc;
}
