/*
 * demo_train.c: the risk model, its training loop and the memory summary.
 *
 * Model (input: a window of W days x N assets, flattened; output: the K factors of the last day):
 *   [attention over the W days (tokens of N features), layer norm per day]   with --heads
 *   linear(W N -> H), GELU
 *   (layers - 1) x [ linear | sketched linear | sparse linear (H -> H), layer norm, GELU ]
 *   linear(H -> K)
 * trained with Adam on the mean squared error.  Without --chunked every window is built once
 * into one buffer (samples x W N floats); with --chunked only one chunk of windows exists at a
 * time.  Either way an epoch visits the samples block by block (a block: the samples of one
 * chunk), each block in a fresh random order, so chunking changes what is held, not the
 * arithmetic: the two train identically.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "heapql/annotate.h"
#include "demo.h"
#include "../hq_model_int.h"   /* hq__rng_t: the shuffles use the library's seeded generator */

typedef struct trainer_s {
  const demo_config_t *cfg;
  demo_mem_t *mem;
  demo_data_t *data;
  hq_model_t *model;
  hq_optim_t *opt;
  size_t in, out;
  float *xb, *yb, *dy;            /* one batch */
  float *windows, *targets;       /* every sample, or one chunk's */
  size_t *order;
  size_t capacity;                /* samples the buffers above hold */
  size_t block;                   /* samples shuffled together: one chunk's */
  hq__rng_t rng;
  double loss_sum;
  size_t loss_rows, batches;
} trainer_t;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- model ---- */

/* The region lets the recorder's database answer "what do the hidden weights cost" by query. */
static int add_hidden(hq_model_t *m, const demo_config_t *cfg, uint64_t seed) {
  int rc;
  hq_annotate_region_begin("hidden weights");
  if (cfg->sketch_terms)
    rc = hq_model_add_sklinear(m, cfg->hidden, cfg->sketch_terms, cfg->sketch_rank, seed);
  else if (cfg->sparse_density > 0.0)
    rc = hq_model_add_sparse_linear(m, cfg->hidden, cfg->sparse_density, seed);
  else
    rc = hq_model_add_linear(m, cfg->hidden, seed);
  hq_annotate_region_end();
  return rc;
}

static int build_model(trainer_t *t) {
  const demo_config_t *cfg = t->cfg;
  const hq_model_allocator_t alloc = demo_model_allocator(t->mem);
  uint64_t seed = cfg->seed * 7919u;
  int rc = hq_model_create(t->in, &alloc, &t->model);
  hq_model_t *m = t->model;
  if (rc == HQ_OK && cfg->heads) {
    rc = hq_model_add_attention(m, cfg->window, cfg->heads, 1, ++seed);
    if (rc == HQ_OK) rc = hq_model_add_layernorm(m, cfg->assets, 1e-5f);
  }
  if (rc == HQ_OK) rc = hq_model_add_linear(m, cfg->hidden, ++seed);
  if (rc == HQ_OK) rc = hq_model_add_gelu(m);
  for (size_t i = 1; i < cfg->layers && rc == HQ_OK; i++) {
    rc = add_hidden(m, cfg, ++seed);
    if (rc == HQ_OK) rc = hq_model_add_layernorm(m, 0, 1e-5f);
    if (rc == HQ_OK) rc = hq_model_add_gelu(m);
  }
  if (rc == HQ_OK) rc = hq_model_add_linear(m, t->out, ++seed);
  if (rc == HQ_OK) rc = hq_model_set_checkpoint(m, cfg->checkpoint ? cfg->segments : 0);
  if (rc == HQ_OK) rc = hq_optim_adam_create(m, cfg->lr, 0.9f, 0.999f, 1e-8f, &t->opt);
  return rc;
}

/* ---- training ---- */

static int train_batch(trainer_t *t, const size_t *idx, size_t rows) {
  for (size_t r = 0; r < rows; r++) {
    memcpy(t->xb + r * t->in, t->windows + idx[r] * t->in, t->in * sizeof(float));
    memcpy(t->yb + r * t->out, t->targets + idx[r] * t->out, t->out * sizeof(float));
  }
  const float *y = NULL;
  float loss = 0.0f;
  hq_model_zero_grad(t->model);
  int rc = hq_model_forward(t->model, t->xb, rows, &y);
  if (rc == HQ_OK) rc = hq_loss_mse(y, t->yb, rows, t->out, &loss, t->dy);
  if (rc == HQ_OK) rc = hq_model_backward(t->model, t->dy, NULL);
  if (rc == HQ_OK) rc = hq_optim_step(t->opt);
  t->loss_sum += (double)loss * (double)rows;
  t->loss_rows += rows;
  t->batches++;
  return rc;
}

/* Build windows of samples first .. first+count-1 into the buffers. */
static void build_windows(trainer_t *t, size_t first, size_t count) {
  for (size_t s = 0; s < count; s++)
    demo_data_sample(t->data, first + s, t->windows + s * t->in, t->targets + s * t->out);
}

/* One pass over the `count` samples of the buffers from `base` on, in a fresh random order. */
static int train_buffer(trainer_t *t, size_t base, size_t count) {
  for (size_t i = 0; i < count; i++) t->order[i] = base + i;
  for (size_t i = count; i > 1; i--) {
    size_t j = (size_t)(hq__rng_next(&t->rng) % i), tmp = t->order[i - 1];
    t->order[i - 1] = t->order[j];
    t->order[j] = tmp;
  }
  int rc = HQ_OK;
  for (size_t b = 0; b < count && rc == HQ_OK; b += t->cfg->batch) {
    size_t rows = count - b < t->cfg->batch ? count - b : t->cfg->batch;
    rc = train_batch(t, t->order + b, rows);
  }
  return rc;
}

/* One chunk of the returns' rows = the samples whose windows start there. */
static int train_chunk(void *ctx, const void *chunk, size_t count, size_t index, size_t first) {
  trainer_t *t = ctx;
  char name[32];
  (void)chunk;   /* the windows reach past the chunk's end: they are read from the whole array */
  /* inside the library's "chunk" region, one named after the chunk's number */
  snprintf(name, sizeof name, "chunk %zu", index);
  hq_annotate_region_begin(name);
  build_windows(t, first, count);
  int rc = train_buffer(t, 0, count);
  hq_annotate_region_end();
  return rc;
}

static int train_epoch_chunked(trainer_t *t, size_t samples) {
  hq_chunk_opts_t opts = {.chunk_elems = t->block, .pool = t->mem->pool};
  const size_t row_bytes = t->data->assets * hq_dtype_size(t->data->dtype);
  return hq_chunk_array(t->data->returns, samples, row_bytes, &opts, train_chunk, t, NULL);
}

/* The whole buffer, block by block: the same blocks, in the same orders, as chunked training. */
static int train_epoch_whole(trainer_t *t, size_t samples) {
  int rc = HQ_OK;
  for (size_t first = 0; first < samples && rc == HQ_OK; first += t->block)
    rc = train_buffer(t, first, samples - first < t->block ? samples - first : t->block);
  return rc;
}

/* Samples of one chunk (given, or what the budget affords), chunked or not. */
static size_t block_size(const demo_config_t *cfg, size_t samples, size_t in, size_t out) {
  size_t cap = cfg->chunk_size;
  if (!cap) cap = cfg->chunk_budget / ((in + out) * sizeof(float));
  if (cap < cfg->batch) cap = cfg->batch;
  return cap < samples ? cap : samples;
}

static int alloc_buffers(trainer_t *t) {
  const size_t b = t->cfg->batch, c = t->capacity;
  t->xb = demo_alloc(t->mem, b * t->in * sizeof(float));
  t->yb = demo_alloc(t->mem, b * t->out * sizeof(float));
  t->dy = demo_alloc(t->mem, b * t->out * sizeof(float));
  t->windows = demo_alloc(t->mem, c * t->in * sizeof(float));
  t->targets = demo_alloc(t->mem, c * t->out * sizeof(float));
  t->order = demo_alloc(t->mem, c * sizeof(size_t));
  return t->xb && t->yb && t->dy && t->windows && t->targets && t->order ? HQ_OK : HQ_ENOMEM;
}

static void free_buffers(trainer_t *t) {
  const size_t b = t->cfg->batch, c = t->capacity;
  demo_free(t->mem, t->xb, b * t->in * sizeof(float));
  demo_free(t->mem, t->yb, b * t->out * sizeof(float));
  demo_free(t->mem, t->dy, b * t->out * sizeof(float));
  demo_free(t->mem, t->windows, c * t->in * sizeof(float));
  demo_free(t->mem, t->targets, c * t->out * sizeof(float));
  demo_free(t->mem, t->order, c * sizeof(size_t));
}

/* ---- report ---- */

static void summary(const trainer_t *t) {
  const demo_config_t *cfg = t->cfg;
  hq_model_mem_t mem;
  size_t predicted = 0, plain = 0;
  const int setting = cfg->checkpoint ? cfg->segments : 0;
  const size_t n = hq_model_layers(t->model);
  hq_model_mem(t->model, &mem);
  hq_model_predict_activation_peak(t->model, cfg->batch, setting, &predicted);
  hq_model_predict_activation_peak(t->model, cfg->batch, 0, &plain);
  printf("model: %zu layers, %zu -> %zu, checkpoint segments %zu\n", n, t->in, t->out,
         hq_ckpt_segments_for(n, setting));
  printf("memory: params %zu B, grads %zu B, fixed buffers %zu B\n", mem.param_bytes,
         mem.grad_bytes, mem.fixed_bytes);
  printf("memory: optimizer state %zu B (adam)\n", hq_optim_state_bytes(t->opt));
  printf("memory: activations peak %zu B (law %zu B; without checkpointing %zu B)\n",
         mem.activation_peak, predicted, plain);
  printf("memory: workspace peak %zu B\n", mem.workspace_peak);
  if (cfg->sparse_density > 0.0) {
    /* hidden weights: CSR values and indices against the dense matrices they replace */
    size_t sparse = 0, dense = 0;
    hq_layer_info_t info;
    for (size_t i = 0; i < n; i++) {
      if (hq_model_layer_info(t->model, i, cfg->batch, &info) != HQ_OK ||
          strcmp(info.kind, "sparse_linear"))
        continue;
      sparse += info.param_bytes - info.out_features * sizeof(float) + info.fixed_bytes;
      dense += info.in_features * info.out_features * sizeof(float);
    }
    printf("memory: sparse hidden weights %zu B (values + int32 indices) vs %zu B dense: %.1f%%\n",
           sparse, dense, dense ? 100.0 * (double)sparse / (double)dense : 0.0);
  }
  printf("memory: data %zu B returns (%s, %s) + %zu B targets; windows %zu B (%s)\n",
         t->data->returns_bytes, cfg->f16_storage ? "f16" : "f32",
         cfg->mmap_data ? "mmap" : "heap", t->data->target_bytes,
         t->capacity * (t->in + t->out) * sizeof(float),
         cfg->chunked ? "one chunk" : "all samples");
  printf("memory: %llu allocations, %zu B peak through %s\n",
         (unsigned long long)t->mem->allocations, t->mem->peak_bytes,
         t->mem->pool ? "the pool" : "malloc");
  if (t->mem->pool) {
    hq_pool_stats_t st;
    if (hq_pool_get_stats(t->mem->pool, &st) == HQ_OK)
      printf("pool: reserved peak %lld B, cache hits %lld, misses %lld\n",
             (long long)st.reserved_bytes[HQ_STAT_ALL].peak, (long long)st.num_cache_hits,
             (long long)st.num_cache_misses);
  }
}

int demo_run(const demo_config_t *cfg) {
  demo_mem_t mem;
  demo_data_t data;
  trainer_t t;
  memset(&data, 0, sizeof data);
  memset(&t, 0, sizeof t);
  int rc = demo_mem_init(&mem, cfg->pool), exit_code = DEMO_EXIT_INTERNAL;
  if (rc != HQ_OK) {
    demo_fail("creating the pool", rc);
    return DEMO_EXIT_INTERNAL;
  }
  t.cfg = cfg;
  t.mem = &mem;
  t.data = &data;
  t.in = cfg->window * cfg->assets;
  t.out = cfg->factors;
  hq__rng_seed(&t.rng, cfg->seed ^ 0x9e3779b97f4a7c15ull);
  rc = demo_data_create(&data, cfg, &mem);
  if (rc != HQ_OK) {
    /* an unusable temporary directory is the environment's fault, as an unwritable output */
    if (rc == HQ_EIO || rc == HQ_ENOENT) exit_code = DEMO_EXIT_USAGE;
    goto out;
  }
  const size_t samples = demo_data_samples(&data);
  t.block = block_size(cfg, samples, t.in, t.out);
  t.capacity = cfg->chunked ? t.block : samples; /* samples held at once */
  rc = build_model(&t);
  if (rc != HQ_OK) {
    if (rc != HQ_ENOTSUP) demo_fail("building the model", rc);
    goto out;
  }
  rc = alloc_buffers(&t);
  if (rc != HQ_OK) {
    demo_fail("allocating the training buffers", rc);
    goto out;
  }
  printf("heapql-demo: %zu assets x %zu days, %zu factors, window %zu: %zu samples; "
         "%zu epochs of batch %zu\n", cfg->assets, cfg->days, cfg->factors, cfg->window, samples,
         cfg->epochs, cfg->batch);
  if (!cfg->chunked) build_windows(&t, 0, samples);
  for (size_t e = 0; e < cfg->epochs; e++) {
    const double t0 = now_s();
    t.loss_sum = 0.0;
    t.loss_rows = t.batches = 0;
    rc = cfg->chunked ? train_epoch_chunked(&t, samples) : train_epoch_whole(&t, samples);
    if (rc != HQ_OK) {
      demo_fail("training", rc);
      goto out;
    }
    printf("epoch %zu/%zu: loss %.6f (%zu batches, %.3f s)\n", e + 1, cfg->epochs,
           t.loss_sum / (double)t.loss_rows, t.batches, now_s() - t0);
    /* the epoch's loss as a counter: `heapql compare` puts the last one beside the memory */
    hq_annotate_counter("loss", t.loss_sum / (double)t.loss_rows);
  }
  summary(&t);
  exit_code = DEMO_EXIT_OK;
out:
  free_buffers(&t);
  hq_optim_destroy(t.opt);
  hq_model_destroy(t.model);
  demo_data_destroy(&data);
  demo_mem_fini(&mem);
  return exit_code;
}
