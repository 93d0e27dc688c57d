/*
 * hq_layer_linear.c: the dense linear layer y = x W + b (W in x out, row-major, the layout of
 * Panther's transposed weights), and the row helpers the other layers share.
 */
#include <math.h>
#include <string.h>
#include <cblas.h>

#include "hq_model_int.h"

void hq__fill_uniform(float *dst, size_t n, float bound, hq__rng_t *r) {
  for (size_t i = 0; i < n; i++) dst[i] = hq__rng_uniform(r, -bound, bound);
}

void hq__rows_set(float *y, size_t rows, size_t cols, const float *b) {
  for (size_t r = 0; r < rows; r++) memcpy(y + r * cols, b, cols * sizeof(float));
}

void hq__rows_sum_add(float *db, const float *g, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; r++) {
    const float *row = g + r * cols;
    for (size_t c = 0; c < cols; c++) db[c] += row[c];
  }
}

static void linear_forward(const hq__layer_t *l, size_t batch, const float *x, float *y,
                           float *saved, float *scratch) {
  (void)saved;
  (void)scratch;
  const float *w = l->param[0], *b = l->param[1];
  hq__rows_set(y, batch, l->out, b);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)batch, (int)l->out, (int)l->in,
              1.0f, x, (int)l->in, w, (int)l->out, 1.0f, y, (int)l->out);
}

static void linear_backward(hq__layer_t *l, size_t batch, const float *x, const float *y,
                            const float *saved, const float *dy, float *dx, float *scratch) {
  (void)y;
  (void)saved;
  (void)scratch;
  /* dW += x^T dy, db += colsum(dy), dx = dy W^T */
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)l->in, (int)l->out, (int)batch,
              1.0f, x, (int)l->in, dy, (int)l->out, 1.0f, l->grad[0], (int)l->out);
  hq__rows_sum_add(l->grad[1], dy, batch, l->out);
  if (dx)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)batch, (int)l->in, (int)l->out,
                1.0f, dy, (int)l->out, l->param[0], (int)l->out, 0.0f, dx, (int)l->in);
}

const hq__layer_ops_t hq__linear_ops = {
  .kind = "linear",
  .forward = linear_forward,
  .backward = linear_backward,
};

int hq_model_add_linear(hq_model_t *m, size_t out_features, uint64_t seed) {
  if (!hq__model_valid(m)) return hq__kerr(HQ_MISUSE_BKPT, "model_add_linear: NULL argument");
  if (out_features == 0) return hq__kerr(HQ_EINVAL, "model_add_linear: out_features 0");
  hq__layer_t *l = NULL;
  float *w = NULL, *b = NULL;
  int rc = hq__layer_new(m, &hq__linear_ops, out_features, &l);
  if (rc != HQ_OK) goto out;
  rc = hq__layer_add_param(m, l, l->in * l->out, &w);
  if (rc != HQ_OK) goto out;
  rc = hq__layer_add_param(m, l, l->out, &b);
  if (rc != HQ_OK) goto out;
  /* nn.Linear's default: kaiming_uniform(a = sqrt(5)) gives bound 1/sqrt(in) for W and b. */
  hq__rng_t rng;
  hq__rng_seed(&rng, seed);
  float bound = 1.0f / sqrtf((float)l->in);
  hq__fill_uniform(w, l->in * l->out, bound, &rng);
  hq__fill_uniform(b, l->out, bound, &rng);
  rc = hq__layer_commit(m, l);
out:
  if (rc != HQ_OK) hq__layer_free(m, l);
  return rc;
}
