/*
 * hq_layer_act.c: elementwise activations, ReLU and GELU (tanh approximation).
 *
 * Neither saves anything: ReLU's backward reads its own output (y > 0 exactly where x > 0),
 * GELU's reads its input, and both are kept anyway as the neighbours' output and input.
 */
#include <math.h>

#include "hq_model_int.h"

static void relu_forward(const hq__layer_t *l, size_t batch, const float *x, float *y, float *saved,
                         float *scratch) {
  (void)saved;
  (void)scratch;
  size_t n = batch * l->out;
  for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static void relu_backward(hq__layer_t *l, size_t batch, const float *x, const float *y,
                          const float *saved, const float *dy, float *dx, float *scratch) {
  (void)x;
  (void)saved;
  (void)scratch;
  if (!dx) return;
  size_t n = batch * l->out;
  for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

const hq__layer_ops_t hq__relu_ops = {
  .kind = "relu",
  .forward = relu_forward,
  .backward = relu_backward,
};

/* GELU, tanh form: gelu(x) = x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3). */
#define GELU_K0 0.7978845608028654f   /* sqrt(2/pi) */
#define GELU_K1 0.044715f

static void gelu_forward(const hq__layer_t *l, size_t batch, const float *x, float *y, float *saved,
                         float *scratch) {
  (void)saved;
  (void)scratch;
  size_t n = batch * l->out;
  for (size_t i = 0; i < n; i++) {
    float v = x[i];
    float t = tanhf(GELU_K0 * (v + GELU_K1 * v * v * v));
    y[i] = 0.5f * v * (1.0f + t);
  }
}

static void gelu_backward(hq__layer_t *l, size_t batch, const float *x, const float *y,
                          const float *saved, const float *dy, float *dx, float *scratch) {
  (void)y;
  (void)saved;
  (void)scratch;
  if (!dx) return;
  size_t n = batch * l->out;
  for (size_t i = 0; i < n; i++) {
    /* d/dx = (1 + t)/2 + x/2 (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2) */
    float v = x[i];
    float t = tanhf(GELU_K0 * (v + GELU_K1 * v * v * v));
    float du = GELU_K0 * (1.0f + 3.0f * GELU_K1 * v * v);
    dx[i] = dy[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du);
  }
}

const hq__layer_ops_t hq__gelu_ops = {
  .kind = "gelu",
  .forward = gelu_forward,
  .backward = gelu_backward,
};

static int add_elementwise(hq_model_t *m, const hq__layer_ops_t *ops) {
  if (!hq__model_valid(m)) return hq__kerr(HQ_MISUSE_BKPT, "model_add_%s: model is NULL", ops->kind);
  hq__layer_t *l = NULL;
  int rc = hq__layer_new(m, ops, hq_model_out_features(m), &l);
  if (rc == HQ_OK) rc = hq__layer_commit(m, l);
  if (rc != HQ_OK) hq__layer_free(m, l);
  return rc;
}

int hq_model_add_relu(hq_model_t *m) { return add_elementwise(m, &hq__relu_ops); }

int hq_model_add_gelu(hq_model_t *m) { return add_elementwise(m, &hq__gelu_ops); }
