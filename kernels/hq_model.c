/*
 * hq_model.c: the sequential model handle: layers, parameters, the allocation hook and the
 * memory accounting every other model file goes through.  Forward and backward live in
 * hq_ckpt.c, the layer kinds in hq_layer_*.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq_model_int.h"

/* ---- Default allocator ---- */

static void *default_alloc(void *ctx, size_t bytes) {
  (void)ctx;
  /* aligned_alloc wants a multiple of the alignment. */
  size_t rounded = (bytes + 63) & ~(size_t)63;
  return aligned_alloc(64, rounded);
}

static void default_release(void *ctx, void *ptr, size_t bytes) {
  (void)ctx;
  (void)bytes;
  free(ptr);
}

/* ---- Accounting ---- */

void *hq__model_alloc(hq_model_t *m, hq__mem_cat_t cat, size_t bytes) {
  if (bytes == 0) return NULL;
  void *p = m->alloc.alloc(m->alloc.ctx, bytes);
  if (!p) {
    hq__kerr(HQ_ENOMEM, "model: the allocator gave no %zu bytes", bytes);
    return NULL;
  }
  m->allocations++;
  m->cur[cat] += bytes;
  if (m->cur[cat] > m->peak[cat]) m->peak[cat] = m->cur[cat];
  return p;
}

void *hq__model_zalloc(hq_model_t *m, hq__mem_cat_t cat, size_t bytes) {
  void *p = hq__model_alloc(m, cat, bytes);
  if (p) memset(p, 0, bytes);
  return p;
}

void hq__model_release(hq_model_t *m, hq__mem_cat_t cat, void *ptr, size_t bytes) {
  if (!ptr) return;
  m->cur[cat] -= bytes;
  m->alloc.release(m->alloc.ctx, ptr, bytes);
}

void hq__model_account(hq_model_t *m, hq__mem_cat_t cat, size_t bytes, int grow) {
  if (grow) {
    m->cur[cat] += bytes;
    if (m->cur[cat] > m->peak[cat]) m->peak[cat] = m->cur[cat];
  } else {
    m->cur[cat] -= bytes;
  }
}

/* ---- Model ---- */

int hq_model_create(size_t in_features, const hq_model_allocator_t *alloc, hq_model_t **out) {
  if (!out) return hq__kerr(HQ_MISUSE_BKPT, "model_create: out is NULL");
  *out = NULL;
  if (in_features == 0) return hq__kerr(HQ_EINVAL, "model_create: in_features is 0");
  if (alloc && (!alloc->alloc || !alloc->release))
    return hq__kerr(HQ_EINVAL, "model_create: the allocator lacks alloc or release");
  const hq_model_allocator_t use = alloc ? *alloc : (hq_model_allocator_t){default_alloc,
                                                                            default_release, NULL};
  /* Even the handle comes from the allocator, so a pool serves every byte of the model. */
  hq_model_t *m = use.alloc(use.ctx, sizeof *m);
  if (!m) return hq__kerr(HQ_ENOMEM, "model_create: the allocator gave no %zu bytes", sizeof *m);
  memset(m, 0, sizeof *m);
  m->magic = HQ__MODEL_MAGIC;
  m->in_features = in_features;
  m->alloc = use;
  m->allocations = 1;
  m->cur[HQ__MEM_META] = m->peak[HQ__MEM_META] = sizeof *m;
  *out = m;
  return HQ_OK;
}

int hq__model_valid(const hq_model_t *m) { return m && m->magic == HQ__MODEL_MAGIC; }

/* The layer list: layers, then outputs, then saved tensors, `cap` pointers each. */
static size_t lists_bytes(size_t cap) { return cap * (sizeof(hq__layer_t *) + 2 * sizeof(float *)); }

void hq_model_destroy(hq_model_t *m) {
  if (!hq__model_valid(m)) return;
  hq__ckpt_release(m);
  for (size_t i = 0; i < m->n_layers; i++) hq__layer_free(m, m->layers[i]);
  hq__model_release(m, HQ__MEM_META, m->layers, lists_bytes(m->cap_layers));
  const hq_model_allocator_t alloc = m->alloc;
  m->magic = 0;
  alloc.release(alloc.ctx, m, sizeof *m);
}

size_t hq_model_layers(const hq_model_t *m) { return hq__model_valid(m) ? m->n_layers : 0; }

size_t hq_model_in_features(const hq_model_t *m) { return hq__model_valid(m) ? m->in_features : 0; }

size_t hq_model_out_features(const hq_model_t *m) {
  if (!hq__model_valid(m)) return 0;
  return m->n_layers ? m->layers[m->n_layers - 1]->out : m->in_features;
}

/* ---- Layers ---- */

int hq__layer_new(hq_model_t *m, const hq__layer_ops_t *ops, size_t out, hq__layer_t **out_layer) {
  *out_layer = NULL;
  if (m->pending)
    return hq__kerr(HQ_EMISUSE, "model: a forward is pending; backward or release it before adding layers");
  hq__layer_t *l = hq__model_zalloc(m, HQ__MEM_META, sizeof *l);
  if (!l) return HQ_ENOMEM;   /* hq__model_alloc left the detail */
  l->ops = ops;
  l->in = hq_model_out_features(m);
  l->out = out;
  snprintf(l->name, sizeof l->name, "layer %zu %s", m->n_layers, ops->kind);
  *out_layer = l;
  return HQ_OK;
}

int hq__layer_commit(hq_model_t *m, hq__layer_t *l) {
  if (m->n_layers == m->cap_layers) {
    const size_t cap = m->cap_layers ? 2 * m->cap_layers : 16;
    hq__layer_t **layers = hq__model_alloc(m, HQ__MEM_META, lists_bytes(cap));
    if (!layers) return HQ_ENOMEM;   /* hq__model_alloc left the detail */
    float **outs = (float **)(layers + cap), **saved = outs + cap;
    for (size_t i = 0; i < m->n_layers; i++) {
      layers[i] = m->layers[i];
      outs[i] = m->out[i];
      saved[i] = m->saved[i];
    }
    hq__model_release(m, HQ__MEM_META, m->layers, lists_bytes(m->cap_layers));
    m->layers = layers;
    m->out = outs;
    m->saved = saved;
    m->cap_layers = cap;
  }
  m->out[m->n_layers] = NULL;
  m->saved[m->n_layers] = NULL;
  m->layers[m->n_layers++] = l;
  return HQ_OK;
}

void hq__layer_free(hq_model_t *m, hq__layer_t *l) {
  if (!l) return;
  if (l->ops->destroy) l->ops->destroy(m, l);
  for (size_t p = 0; p < l->n_params; p++) {
    hq__model_release(m, HQ__MEM_PARAM, l->param[p], l->count[p] * sizeof(float));
    hq__model_release(m, HQ__MEM_GRAD, l->grad[p], l->count[p] * sizeof(float));
  }
  hq__model_release(m, HQ__MEM_FIXED, l->fixed, l->fixed_count * sizeof(float));
  hq__model_release(m, HQ__MEM_META, l, sizeof *l);
}

int hq__layer_add_param(hq_model_t *m, hq__layer_t *l, size_t count, float **out_data) {
  if (l->n_params == HQ__LAYER_MAX_PARAMS) return hq__kerr(HQ_EMISUSE, "model: too many parameters");
  float *data = hq__model_zalloc(m, HQ__MEM_PARAM, count * sizeof(float));
  if (!data) return HQ_ENOMEM;   /* hq__model_alloc left the detail */
  float *grad = hq__model_zalloc(m, HQ__MEM_GRAD, count * sizeof(float));
  if (!grad) {
    hq__model_release(m, HQ__MEM_PARAM, data, count * sizeof(float));
    return HQ_ENOMEM;
  }
  l->param[l->n_params] = data;
  l->grad[l->n_params] = grad;
  l->count[l->n_params] = count;
  l->n_params++;
  if (out_data) *out_data = data;
  return HQ_OK;
}

int hq__layer_add_fixed(hq_model_t *m, hq__layer_t *l, size_t count) {
  l->fixed = hq__model_zalloc(m, HQ__MEM_FIXED, count * sizeof(float));
  if (!l->fixed) return HQ_ENOMEM;
  l->fixed_count = count;
  return HQ_OK;
}

int hq_model_layer_info(const hq_model_t *m, size_t index, size_t batch, hq_layer_info_t *out) {
  if (!hq__model_valid(m) || !out) return hq__kerr(HQ_MISUSE_BKPT, "model_layer_info: NULL argument");
  if (index >= m->n_layers)
    return hq__kerr(HQ_EINVAL, "model_layer_info: NULL argument or no layer %zu", index);
  const hq__layer_t *l = m->layers[index];
  memset(out, 0, sizeof *out);
  out->kind = l->ops->kind;
  out->in_features = l->in;
  out->out_features = l->out;
  for (size_t p = 0; p < l->n_params; p++) out->param_bytes += l->count[p] * sizeof(float);
  out->grad_bytes = out->param_bytes;
  out->fixed_bytes = l->fixed_count * sizeof(float) + l->other_fixed_bytes;
  out->output_bytes = batch * l->out * sizeof(float);
  out->saved_bytes = hq__layer_floats(l->ops->saved_floats, l, batch) * sizeof(float);
  return HQ_OK;
}

size_t hq_model_params(const hq_model_t *m) {
  if (!hq__model_valid(m)) return 0;
  size_t n = 0;
  for (size_t i = 0; i < m->n_layers; i++) n += m->layers[i]->n_params;
  return n;
}

int hq_model_param(hq_model_t *m, size_t index, float **data, float **grad, size_t *count) {
  if (!hq__model_valid(m)) return hq__kerr(HQ_MISUSE_BKPT, "model_param: model is NULL");
  const size_t asked = index;
  for (size_t i = 0; i < m->n_layers; i++) {
    hq__layer_t *l = m->layers[i];
    if (index < l->n_params) {
      if (data) *data = l->param[index];
      if (grad) *grad = l->grad[index];
      if (count) *count = l->count[index];
      return HQ_OK;
    }
    index -= l->n_params;
  }
  return hq__kerr(HQ_EINVAL, "model_param: no parameter %zu", asked);
}

void hq_model_zero_grad(hq_model_t *m) {
  if (!hq__model_valid(m)) return;
  for (size_t i = 0; i < m->n_layers; i++) {
    hq__layer_t *l = m->layers[i];
    for (size_t p = 0; p < l->n_params; p++) memset(l->grad[p], 0, l->count[p] * sizeof(float));
  }
}

/* ---- Checkpoint setting, forward, backward ---- */

int hq_model_set_checkpoint(hq_model_t *m, int segments) {
  if (!hq__model_valid(m)) return hq__kerr(HQ_MISUSE_BKPT, "model_set_checkpoint: NULL argument");
  if (segments < HQ_CKPT_AUTO)
    return hq__kerr(HQ_EINVAL, "model_set_checkpoint: segments %d", segments);
  if (m->pending) return hq__kerr(HQ_EMISUSE, "model_set_checkpoint: a forward is pending");
  m->ckpt_setting = segments;
  return HQ_OK;
}

int hq_model_forward(hq_model_t *m, const float *x, size_t batch, const float **out_y) {
  if (out_y) *out_y = NULL;
  if (!hq__model_valid(m) || !x || !out_y) return hq__kerr(HQ_MISUSE_BKPT, "model_forward: NULL argument");
  if (batch == 0 || m->n_layers == 0)
    return hq__kerr(HQ_EINVAL, "model_forward: batch 0 or a model without layers");
  int rc = hq__ckpt_forward(m, x, batch);
  if (rc == HQ_OK) *out_y = m->out[m->n_layers - 1];
  return rc;
}

int hq_model_backward(hq_model_t *m, const float *dy, float *dx) {
  if (!hq__model_valid(m) || !dy) return hq__kerr(HQ_MISUSE_BKPT, "model_backward: NULL argument");
  if (!m->pending) return hq__kerr(HQ_EMISUSE, "model_backward: no forward is pending");
  return hq__ckpt_backward(m, dy, dx);
}

void hq_model_release(hq_model_t *m) {
  if (hq__model_valid(m)) hq__ckpt_release(m);
}

int hq_model_predict(hq_model_t *m, const float *x, size_t batch, float *y) {
  if (!hq__model_valid(m) || !x || !y) return hq__kerr(HQ_MISUSE_BKPT, "model_predict: NULL argument");
  if (batch == 0 || m->n_layers == 0)
    return hq__kerr(HQ_EINVAL, "model_predict: batch 0 or a model without layers");
  return hq__ckpt_predict(m, x, batch, y);
}

int hq_model_mem(const hq_model_t *m, hq_model_mem_t *out) {
  if (!hq__model_valid(m) || !out) return hq__kerr(HQ_MISUSE_BKPT, "model_mem: NULL argument");
  memset(out, 0, sizeof *out);
  out->param_bytes = m->cur[HQ__MEM_PARAM];
  out->grad_bytes = m->cur[HQ__MEM_GRAD];
  out->fixed_bytes = m->cur[HQ__MEM_FIXED];
  out->activation_bytes = m->cur[HQ__MEM_ACT];
  out->activation_peak = m->peak[HQ__MEM_ACT];
  out->workspace_bytes = m->cur[HQ__MEM_WORK];
  out->workspace_peak = m->peak[HQ__MEM_WORK];
  out->optimizer_bytes = m->cur[HQ__MEM_OPTIM];
  out->handle_bytes = m->cur[HQ__MEM_META];
  out->allocations = m->allocations;
  return HQ_OK;
}

void hq_model_reset_peaks(hq_model_t *m) {
  if (!hq__model_valid(m)) return;
  m->peak[HQ__MEM_ACT] = m->cur[HQ__MEM_ACT];
  m->peak[HQ__MEM_WORK] = m->cur[HQ__MEM_WORK];
}
