/*
 * hq_optim.c: SGD (optional momentum) and Adam over a model's parameters, as torch.optim does
 * them.  State lives in one buffer per optimiser, allocated through the model's allocator and
 * counted there as optimiser state; the parameters are walked in hq_model_param order.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hq_model_int.h"

typedef enum { OPT_SGD, OPT_ADAM } opt_kind_t;

struct hq_optim_s {
  hq_model_t *model;
  opt_kind_t kind;
  float lr, momentum, beta1, beta2, eps;
  uint64_t steps;
  float *state;          /* SGD: momentum buffers; Adam: first moments then second moments */
  size_t state_bytes;
  size_t total;          /* parameters, in floats */
};

static size_t total_params(const hq_model_t *m) {
  size_t total = 0;
  for (size_t i = 0; i < m->n_layers; i++)
    for (size_t p = 0; p < m->layers[i]->n_params; p++) total += m->layers[i]->count[p];
  return total;
}

static int create(hq_model_t *m, opt_kind_t kind, size_t state_per_param, hq_optim_t **out) {
  hq_optim_t *o = hq__model_zalloc(m, HQ__MEM_META, sizeof *o);
  if (!o) return HQ_ENOMEM;   /* hq__model_alloc left the detail */
  o->model = m;
  o->kind = kind;
  o->total = total_params(m);
  o->state_bytes = state_per_param * o->total * sizeof(float);
  if (o->state_bytes) {
    o->state = hq__model_zalloc(m, HQ__MEM_OPTIM, o->state_bytes);
    if (!o->state) {
      hq__model_release(m, HQ__MEM_META, o, sizeof *o);
      return HQ_ENOMEM;   /* hq__model_alloc left the detail */
    }
  }
  *out = o;
  return HQ_OK;
}

int hq_optim_sgd_create(hq_model_t *m, float lr, float momentum, hq_optim_t **out) {
  if (out) *out = NULL;
  if (!hq__model_valid(m) || !out) return hq__kerr(HQ_MISUSE_BKPT, "optim_sgd_create: NULL argument");
  if (!(lr > 0.0f) || !(momentum >= 0.0f && momentum < 1.0f))
    return hq__kerr(HQ_EINVAL, "optim_sgd_create: lr <= 0 or momentum outside [0, 1)");
  int rc = create(m, OPT_SGD, momentum > 0.0f ? 1 : 0, out);
  if (rc == HQ_OK) {
    (*out)->lr = lr;
    (*out)->momentum = momentum;
  }
  return rc;
}

int hq_optim_adam_create(hq_model_t *m, float lr, float beta1, float beta2, float eps,
                         hq_optim_t **out) {
  if (out) *out = NULL;
  if (!hq__model_valid(m) || !out) return hq__kerr(HQ_MISUSE_BKPT, "optim_adam_create: NULL argument");
  if (!(lr > 0.0f) || !(beta1 >= 0.0f && beta1 < 1.0f) || !(beta2 >= 0.0f && beta2 < 1.0f) ||
      !(eps >= 0.0f))
    return hq__kerr(HQ_EINVAL, "optim_adam_create: lr <= 0, a beta outside [0, 1) or eps < 0");
  int rc = create(m, OPT_ADAM, 2, out);
  if (rc == HQ_OK) {
    (*out)->lr = lr;
    (*out)->beta1 = beta1;
    (*out)->beta2 = beta2;
    (*out)->eps = eps;
  }
  return rc;
}

static void sgd_update(const hq_optim_t *o, float *p, const float *g, float *buf, size_t n) {
  if (!buf) {
    for (size_t i = 0; i < n; i++) p[i] -= o->lr * g[i];
    return;
  }
  for (size_t i = 0; i < n; i++) {
    buf[i] = o->steps == 1 ? g[i] : o->momentum * buf[i] + g[i];
    p[i] -= o->lr * buf[i];
  }
}

static void adam_update(const hq_optim_t *o, float *p, const float *g, float *m1, float *m2,
                        size_t n) {
  const float c1 = (float)(1.0 - pow((double)o->beta1, (double)o->steps));
  const float c2 = (float)(1.0 - pow((double)o->beta2, (double)o->steps));
  for (size_t i = 0; i < n; i++) {
    m1[i] = o->beta1 * m1[i] + (1.0f - o->beta1) * g[i];
    m2[i] = o->beta2 * m2[i] + (1.0f - o->beta2) * g[i] * g[i];
    const float mhat = m1[i] / c1, vhat = m2[i] / c2;
    p[i] -= o->lr * mhat / (sqrtf(vhat) + o->eps);
  }
}

int hq_optim_step(hq_optim_t *o) {
  if (!o) return hq__kerr(HQ_MISUSE_BKPT, "optim_step: optimiser is NULL");
  o->steps++;
  size_t offset = 0;
  const hq_model_t *m = o->model;
  for (size_t i = 0; i < m->n_layers; i++) {
    hq__layer_t *l = m->layers[i];
    for (size_t p = 0; p < l->n_params; p++) {
      const size_t n = l->count[p];
      if (o->kind == OPT_SGD)
        sgd_update(o, l->param[p], l->grad[p], o->state ? o->state + offset : NULL, n);
      else
        adam_update(o, l->param[p], l->grad[p], o->state + offset, o->state + o->total + offset, n);
      offset += n;
    }
  }
  return HQ_OK;
}

size_t hq_optim_state_bytes(const hq_optim_t *o) { return o ? o->state_bytes : 0; }

void hq_optim_destroy(hq_optim_t *o) {
  if (!o) return;
  hq__model_release(o->model, HQ__MEM_OPTIM, o->state, o->state_bytes);
  hq__model_release(o->model, HQ__MEM_META, o, sizeof *o);
}
