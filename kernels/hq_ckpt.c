/*
 * hq_ckpt.c: forward and backward by segments (PyTorch's checkpoint_sequential), the one engine
 * behind hq_model_forward/backward.
 *
 * n layers, k segments, S = floor(n / k).  Segments 0 .. k-2 hold S layers each and are
 * checkpointed; the last one holds the rest and runs normally.  Without checkpointing k = 1: no
 * checkpointed segment, and the "last segment" is the whole model, so both runs go through the
 * same code, call each layer's forward and backward on the same inputs in the same order, and
 * therefore produce the same bits.
 *
 * Forward.  A checkpointed segment runs each layer, then drops that layer's saved tensors and
 * its input (unless the input is a segment boundary); only the segment's output survives, as the
 * next segment's input.  The last segment keeps outputs and saved tensors.
 * Backward.  The last segment backward as usual, freeing each layer's output and saved tensors
 * after its backward.  Then for j = k-2 .. 0: the boundary the next segment started from is
 * freed, segment j is recomputed from its input keeping everything, and backward through it.
 *
 * Activation accounting (o_i output bytes of layer i, s_i its saved bytes, a_i = o_i + s_i,
 * C_j = sum of the boundary outputs of segments before j).  The live bytes peak at one of
 *   E: end of forward:           C_{k-1} + sum of a_i over the last segment
 *   R: recompute of segment j:   C_j + sum of a_i over segment j        (j = 0 .. k-2)
 * The forward of layer i in checkpointed segment j holds C_j + o_{i-1} + a_i at most, never more
 * than R_j since a_{i-1} >= o_{i-1}; backward only frees.  hq_model_predict_activation_peak()
 * evaluates max(E, R_j); the engine's allocations measure the same number.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "heapql/annotate.h"
#include "hq_model_int.h"

size_t hq_ckpt_segments_for(size_t layers, int segments) {
  if (layers == 0) return 1;
  size_t k;
  if (segments == HQ_CKPT_AUTO)
    k = (size_t)lround(sqrt((double)layers));
  else
    k = segments > 0 ? (size_t)segments : 1;
  if (k < 1) k = 1;
  if (k > layers) k = layers;
  return k;
}

/* ---- one layer ---- */

static const float *input_of(const hq_model_t *m, size_t i) { return i == 0 ? m->x : m->out[i - 1]; }

static size_t out_bytes(const hq_model_t *m, size_t i) {
  return m->batch * m->layers[i]->out * sizeof(float);
}

static size_t saved_bytes(const hq_model_t *m, size_t i) {
  return hq__layer_floats(m->layers[i]->ops->saved_floats, m->layers[i], m->batch) * sizeof(float);
}

static void drop_output(hq_model_t *m, size_t i) {
  hq__model_release(m, HQ__MEM_ACT, m->out[i], out_bytes(m, i));
  m->out[i] = NULL;
}

static void drop_saved(hq_model_t *m, size_t i) {
  hq__model_release(m, HQ__MEM_ACT, m->saved[i], saved_bytes(m, i));
  m->saved[i] = NULL;
}

/* Run layer i on its input into a new output; keep its saved tensors only when keep is set. */
static int layer_forward(hq_model_t *m, size_t i, int keep) {
  hq__layer_t *l = m->layers[i];
  const size_t scratch_bytes = hq__layer_floats(l->ops->forward_scratch_floats, l, m->batch) * sizeof(float);
  float *scratch = NULL;
  int rc = HQ_ENOMEM;
  hq_annotate_region_begin(l->name);
  m->out[i] = hq__model_alloc(m, HQ__MEM_ACT, out_bytes(m, i));
  if (!m->out[i]) goto out;
  if (saved_bytes(m, i)) {
    m->saved[i] = hq__model_alloc(m, HQ__MEM_ACT, saved_bytes(m, i));
    if (!m->saved[i]) goto out;
  }
  if (scratch_bytes) {
    scratch = hq__model_alloc(m, HQ__MEM_WORK, scratch_bytes);
    if (!scratch) goto out;
  }
  l->ops->forward(l, m->batch, input_of(m, i), m->out[i], m->saved[i], scratch);
  if (!keep) drop_saved(m, i);
  rc = HQ_OK;
out:
  hq__model_release(m, HQ__MEM_WORK, scratch, scratch_bytes);
  hq_annotate_region_end();
  return rc;
}

/* Backward through layer i from *g (dL/d out_i), leaving dL/d in_i in *g.  *g_bytes is the size
 * of the workspace buffer *g owns (0 when *g is the caller's dy).  dx_final receives the input
 * gradient of layer 0 (NULL: not wanted). */
static int layer_backward(hq_model_t *m, size_t i, const float **g, size_t *g_bytes,
                          float *dx_final) {
  hq__layer_t *l = m->layers[i];
  const size_t scratch_bytes = hq__layer_floats(l->ops->backward_scratch_floats, l, m->batch) * sizeof(float);
  const size_t dx_bytes = i > 0 ? m->batch * l->in * sizeof(float) : 0;
  float *scratch = NULL, *dx = dx_final;
  int rc = HQ_ENOMEM;
  hq_annotate_region_begin(l->name);
  if (dx_bytes) {
    dx = hq__model_alloc(m, HQ__MEM_WORK, dx_bytes);
    if (!dx) goto out;
  }
  if (scratch_bytes) {
    scratch = hq__model_alloc(m, HQ__MEM_WORK, scratch_bytes);
    if (!scratch) goto out;
  }
  l->ops->backward(l, m->batch, input_of(m, i), m->out[i], m->saved[i], *g, dx, scratch);
  drop_saved(m, i);
  drop_output(m, i);
  if (*g_bytes) hq__model_release(m, HQ__MEM_WORK, (void *)*g, *g_bytes);
  *g = dx;
  *g_bytes = dx_bytes;
  dx = NULL;
  rc = HQ_OK;
out:
  hq__model_release(m, HQ__MEM_WORK, scratch, scratch_bytes);
  if (dx != dx_final) hq__model_release(m, HQ__MEM_WORK, dx, dx_bytes);
  hq_annotate_region_end();
  return rc;
}

/* ---- the pending state ---- */

void hq__ckpt_release(hq_model_t *m) {
  if (!m->pending) return;
  for (size_t i = 0; i < m->n_layers; i++) {
    drop_saved(m, i);
    drop_output(m, i);
  }
  m->pending = 0;
  m->x = NULL;
}

static void counters(const hq_model_t *m) {
  hq_annotate_counter("model.activation_bytes", (double)m->cur[HQ__MEM_ACT]);
  hq_annotate_counter("model.activation_peak_bytes", (double)m->peak[HQ__MEM_ACT]);
}

int hq__ckpt_forward(hq_model_t *m, const float *x, size_t batch) {
  hq__ckpt_release(m);
  const size_t n = m->n_layers, k = hq_ckpt_segments_for(n, m->ckpt_setting), seg = n / k;
  const size_t last_start = (k - 1) * seg;
  int rc = HQ_OK;
  m->batch = batch;
  m->segments = k;
  m->x = x;
  m->pending = 1;
  hq_annotate_region_begin("forward");
  for (size_t i = 0; i < last_start && rc == HQ_OK; i++) {
    rc = layer_forward(m, i, 0);
    /* The input is transient unless it starts the segment (model input or a boundary). */
    if (rc == HQ_OK && i % seg != 0) drop_output(m, i - 1);
  }
  for (size_t i = last_start; i < n && rc == HQ_OK; i++) rc = layer_forward(m, i, 1);
  counters(m);
  hq_annotate_region_end();
  if (rc != HQ_OK) hq__ckpt_release(m);
  return rc;
}

int hq__ckpt_backward(hq_model_t *m, const float *dy, float *dx) {
  const size_t n = m->n_layers, k = m->segments, seg = n / k, last_start = (k - 1) * seg;
  const float *g = dy;
  size_t g_bytes = 0;
  char name[48];
  int rc = HQ_OK;
  hq_annotate_region_begin("backward");
  for (size_t i = n; i-- > last_start && rc == HQ_OK;) rc = layer_backward(m, i, &g, &g_bytes, dx);
  for (size_t j = k - 1; j-- > 0 && rc == HQ_OK;) {
    const size_t start = j * seg, end = start + seg;
    /* The boundary segment j produced has served the next segment's backward; the recompute
     * makes it again. */
    drop_output(m, end - 1);
    snprintf(name, sizeof name, "recompute segment %zu", j);
    hq_annotate_region_begin(name);
    for (size_t i = start; i < end && rc == HQ_OK; i++) rc = layer_forward(m, i, 1);
    hq_annotate_region_end();
    for (size_t i = end; i-- > start && rc == HQ_OK;) rc = layer_backward(m, i, &g, &g_bytes, dx);
  }
  if (g_bytes) hq__model_release(m, HQ__MEM_WORK, (void *)g, g_bytes);
  counters(m);
  hq_annotate_region_end();
  hq__ckpt_release(m);
  return rc;
}

int hq__ckpt_predict(hq_model_t *m, const float *x, size_t batch, float *y) {
  hq__ckpt_release(m);
  int rc = HQ_OK;
  m->batch = batch;
  m->x = x;
  m->pending = 1;   /* so a failure below releases what was made */
  hq_annotate_region_begin("predict");
  for (size_t i = 0; i < m->n_layers && rc == HQ_OK; i++) {
    rc = layer_forward(m, i, 0);
    if (rc == HQ_OK && i > 0) drop_output(m, i - 1);
  }
  if (rc == HQ_OK) memcpy(y, m->out[m->n_layers - 1], out_bytes(m, m->n_layers - 1));
  hq_annotate_region_end();
  hq__ckpt_release(m);
  return rc;
}

/* ---- the law ---- */

/* a_i: what layer i keeps from forward to backward for `batch` rows. */
static size_t layer_act_bytes(const hq__layer_t *l, size_t batch) {
  return (batch * l->out + hq__layer_floats(l->ops->saved_floats, l, batch)) * sizeof(float);
}

int hq_model_predict_activation_peak(const hq_model_t *m, size_t batch, int segments,
                                     size_t *out_bytes) {
  if (out_bytes) *out_bytes = 0;
  if (!hq__model_valid(m) || !out_bytes) return hq__kerr(HQ_MISUSE_BKPT, "model_predict_activation_peak: NULL argument");
  if (batch == 0 || segments < HQ_CKPT_AUTO)
    return hq__kerr(HQ_EINVAL, "model_predict_activation_peak: batch 0 or segments %d",
                    segments);
  const size_t n = m->n_layers, k = hq_ckpt_segments_for(n, segments), seg = n ? n / k : 0;
  const size_t last_start = (k - 1) * seg;
  size_t peak = 0, boundaries = 0, sum;
  for (size_t j = 0; j + 1 < k; j++) {
    sum = boundaries;
    for (size_t i = j * seg; i < (j + 1) * seg; i++) sum += layer_act_bytes(m->layers[i], batch);
    if (sum > peak) peak = sum;                                              /* R_j */
    boundaries += batch * m->layers[(j + 1) * seg - 1]->out * sizeof(float);
  }
  sum = boundaries;
  for (size_t i = last_start; i < n; i++) sum += layer_act_bytes(m->layers[i], batch);
  if (sum > peak) peak = sum;                                                /* E */
  *out_bytes = peak;
  return HQ_OK;
}
