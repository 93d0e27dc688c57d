/*
 * hq_model_int.h: internals shared by the model files (hq_model*.c, hq_layer*.c, hq_loss.c,
 * hq_optim.c, hq_ckpt.c).  Grouped by the file that defines them.
 */
#ifndef HQ_MODEL_INT_H
#define HQ_MODEL_INT_H

#include <stddef.h>
#include <stdint.h>
#include "heapql/kernels.h"
#include "kernels_int.h"   /* hq__kerr: the detail behind hq_kernels_errmsg() */

#define HQ__MODEL_MAGIC 0x6d6f646cu   /* "modl" */
#define HQ__LAYER_MAX_PARAMS 4

/* Memory categories of the model's accounting (hq_model_mem_t). */
typedef enum {
  HQ__MEM_PARAM,
  HQ__MEM_GRAD,
  HQ__MEM_FIXED,
  HQ__MEM_ACT,
  HQ__MEM_WORK,
  HQ__MEM_OPTIM,
  HQ__MEM_META,        /* the handles themselves: model, layers, layer lists, optimisers */
  HQ__MEM_COUNT
} hq__mem_cat_t;

typedef struct hq__layer_s hq__layer_t;

/*
 * What a layer kind does.  Sizes are in floats for `batch` rows.  forward writes y (batch x out)
 * and, when the kind saves anything, `saved`; it never fails (all memory is given).  backward
 * reads what forward produced, adds parameter gradients into the layer's grads, and writes dx
 * (batch x in) unless dx is NULL.  scratch holds at least the kind's scratch size.  A size
 * function left NULL means the kind needs no buffer of that sort (hq__layer_floats).
 */
typedef struct hq__layer_ops_s {
  const char *kind;
  size_t (*saved_floats)(const hq__layer_t *l, size_t batch);
  size_t (*forward_scratch_floats)(const hq__layer_t *l, size_t batch);
  size_t (*backward_scratch_floats)(const hq__layer_t *l, size_t batch);
  void (*forward)(const hq__layer_t *l, size_t batch, const float *x, float *y, float *saved,
                  float *scratch);
  void (*backward)(hq__layer_t *l, size_t batch, const float *x, const float *y,
                   const float *saved, const float *dy, float *dx, float *scratch);
  /* Free what the kind holds outside param/grad/fixed (NULL: nothing). */
  void (*destroy)(hq_model_t *m, hq__layer_t *l);
} hq__layer_ops_t;

struct hq__layer_s {
  const hq__layer_ops_t *ops;
  size_t in, out;
  char name[48];                    /* region name: "layer 3 linear" */
  size_t n_params;
  float *param[HQ__LAYER_MAX_PARAMS];
  float *grad[HQ__LAYER_MAX_PARAMS];
  size_t count[HQ__LAYER_MAX_PARAMS];
  float *fixed;                     /* non-trainable buffer (sketches), or NULL */
  size_t fixed_count;
  size_t other_fixed_bytes;         /* fixed bytes held elsewhere: a sparse weight's indices */
  union {
    struct { size_t terms, rank; } sk;
    struct { size_t dim; float eps; } ln;
    struct { size_t seq, heads, dim; int residual; } at;
    struct { hq_sparse_t *wt; } sp;
  } u;
};

struct hq_model_s {
  uint32_t magic;
  size_t in_features;
  hq__layer_t **layers;
  size_t n_layers, cap_layers;
  hq_model_allocator_t alloc;
  int ckpt_setting;                 /* 0 off, HQ_CKPT_AUTO, or a count */
  /* the pending forward (hq_ckpt.c) */
  int pending;
  size_t batch;
  size_t segments;
  const float *x;
  float **out;                      /* per layer: its output, or NULL */
  float **saved;                    /* per layer: its saved tensors, or NULL */
  /* accounting */
  size_t cur[HQ__MEM_COUNT];
  size_t peak[HQ__MEM_COUNT];
  uint64_t allocations;
};

/* hq_model.c */
/* 1 when m is a live model handle. */
int hq__model_valid(const hq_model_t *m);
void *hq__model_alloc(hq_model_t *m, hq__mem_cat_t cat, size_t bytes);
void *hq__model_zalloc(hq_model_t *m, hq__mem_cat_t cat, size_t bytes);
void hq__model_release(hq_model_t *m, hq__mem_cat_t cat, void *ptr, size_t bytes);
/* Count bytes someone else allocated (a sparse matrix's arrays) in cat: added when grow is 1,
 * taken off when 0. */
void hq__model_account(hq_model_t *m, hq__mem_cat_t cat, size_t bytes, int grow);
/* Add a trainable tensor of count floats to l (zero-filled, gradient zeroed); HQ_OK/HQ_ENOMEM. */
int hq__layer_add_param(hq_model_t *m, hq__layer_t *l, size_t count, float **out_data);
/* Give l a fixed buffer of count floats; HQ_OK/HQ_ENOMEM. */
int hq__layer_add_fixed(hq_model_t *m, hq__layer_t *l, size_t count);
/* Allocate a layer of `ops` taking the model's current output width; appended by commit. */
int hq__layer_new(hq_model_t *m, const hq__layer_ops_t *ops, size_t out, hq__layer_t **out_layer);
int hq__layer_commit(hq_model_t *m, hq__layer_t *l);
void hq__layer_free(hq_model_t *m, hq__layer_t *l);

/* hq_model_rng.c: splitmix64, so every initialisation is reproducible from a seed. */
typedef struct { uint64_t s; } hq__rng_t;
void hq__rng_seed(hq__rng_t *r, uint64_t seed);
uint64_t hq__rng_next(hq__rng_t *r);
float hq__rng_uniform(hq__rng_t *r, float lo, float hi);   /* [lo, hi) */
double hq__rng_normal(hq__rng_t *r);                        /* standard normal */

/* hq_layer_*.c: the kinds and their setup */
extern const hq__layer_ops_t hq__linear_ops;
extern const hq__layer_ops_t hq__sklinear_ops;
extern const hq__layer_ops_t hq__relu_ops;
extern const hq__layer_ops_t hq__gelu_ops;
extern const hq__layer_ops_t hq__layernorm_ops;
extern const hq__layer_ops_t hq__attention_ops;
extern const hq__layer_ops_t hq__sparse_linear_ops;
/* Fill n floats uniformly in +-bound. */
void hq__fill_uniform(float *dst, size_t n, float bound, hq__rng_t *r);
/* What one of a kind's size functions (ops->saved_floats, ...) says for l, 0 when it has none. */
static inline size_t hq__layer_floats(size_t (*fn)(const hq__layer_t *, size_t),
                                      const hq__layer_t *l, size_t batch) {
  return fn ? fn(l, batch) : 0;
}
/* y[r, :] = b for every row r. */
void hq__rows_set(float *y, size_t rows, size_t cols, const float *b);
/* db[c] += sum over rows of g[r, c]. */
void hq__rows_sum_add(float *db, const float *g, size_t rows, size_t cols);

/* hq_ckpt.c: the forward/backward engine (checkpointing with 1 segment is the plain run). */
int hq__ckpt_forward(hq_model_t *m, const float *x, size_t batch);
int hq__ckpt_backward(hq_model_t *m, const float *dy, float *dx);
void hq__ckpt_release(hq_model_t *m);
int hq__ckpt_predict(hq_model_t *m, const float *x, size_t batch, float *y);

#endif /* HQ_MODEL_INT_H */
