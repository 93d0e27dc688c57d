/*
 * heapql/kernels_model.h: the model and training part of libheapql_kernels.
 *
 * A sequential model of layers (linear, sketched linear, ReLU, GELU, layer norm, multi-head
 * self-attention) with forward and backward passes, two losses (MSE, softmax cross-entropy), two
 * optimisers (SGD with optional momentum, Adam), and gradient checkpointing by segments with the
 * semantics of PyTorch's checkpoint_sequential.  Every piece reports the bytes it holds.
 * See docs/kernels-model.md for the memory laws and the demo.
 *
 * Conventions.
 *  - Data is f32, row-major.  A batch is `batch` rows of `features` floats.  The attention layer
 *    reads each row as seq_len tokens of dim features (features = seq_len * dim).
 *  - Dense products go through CBLAS (OpenBLAS).  Results are deterministic: the same inputs
 *    and the same model give the same bits, which is what makes checkpointed gradients equal
 *    non-checkpointed ones exactly.
 *  - Every buffer the model, its layers or an optimiser hold is obtained through one allocator
 *    (hq_model_allocator_t, malloc by default) and counted in one of the hq_model_mem_t
 *    categories.  Byte counts are logical sizes (elements * 4), never allocator overhead.
 *  - Regions ("forward", "backward", "layer 3 linear", "recompute segment 1") and counters
 *    ("model.activation_bytes", ...) are emitted through heapql/annotate.h; they cost a failed
 *    pointer test when no recorder is loaded.
 *  - Functions return HQ_OK or a negative HQ_E* code (heapql/error.h), leaving a one-line
 *    detail in hq_kernels_errmsg(); NULL handles give HQ_EINVAL unless said otherwise.  A model
 *    is not thread-safe; use one per thread.
 */
#ifndef HEAPQL_KERNELS_MODEL_H
#define HEAPQL_KERNELS_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "heapql/error.h"

#ifndef HQ_API
#define HQ_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Allocation hook ------------------------------------------------------------------- */

/*
 * Where the model's memory comes from: every byte the model, its layers and its optimisers hold,
 * the model handle included (a sparse layer's CSR arrays excepted: the sparse module allocates
 * them).  alloc returns `bytes` of memory aligned to at least 64 bytes, or NULL when it cannot;
 * release gives back a block alloc returned, with its size.  ctx is passed through untouched.
 * The default (a NULL allocator anywhere one is accepted) is aligned_alloc/free.  A caching
 * pool plugs in here.
 */
typedef struct hq_model_allocator_s {
  void *(*alloc)(void *ctx, size_t bytes);
  void (*release)(void *ctx, void *ptr, size_t bytes);
  void *ctx;
} hq_model_allocator_t;

/* ---- Memory report ---------------------------------------------------------------------- */

/* What a model holds, by category, in bytes.  `*_peak` is the high-water mark since creation
 * or the last hq_model_reset_peaks(). */
typedef struct hq_model_mem_s {
  size_t param_bytes;       /* trainable parameters */
  size_t grad_bytes;        /* their gradients (same size as param_bytes) */
  size_t fixed_bytes;       /* non-trainable buffers: the sign sketches of sketched layers */
  size_t activation_bytes;  /* kept from forward for backward: layer outputs + saved tensors */
  size_t activation_peak;
  size_t workspace_bytes;   /* transient scratch: gradients flowing back, per-call temporaries */
  size_t workspace_peak;
  size_t optimizer_bytes;   /* state of the optimisers made for this model (momentum, moments) */
  size_t handle_bytes;      /* the structures themselves: model, layer records, layer list,
                               optimiser handles (sizeof, as allocated) */
  uint64_t allocations;     /* calls made to the allocator since creation (the handle's too) */
} hq_model_mem_t;

/* ---- Model ------------------------------------------------------------------------------ */

typedef struct hq_model_s hq_model_t;

/*
 * Create an empty sequential model taking rows of in_features floats.  alloc may be NULL
 * (aligned_alloc/free); it is copied and used for everything the model and its optimisers
 * allocate, and must outlive the model.  *out is set to the model or NULL.
 * Returns HQ_OK, HQ_EINVAL (out NULL, in_features 0), HQ_ENOMEM.
 */
HQ_API int hq_model_create(size_t in_features, const hq_model_allocator_t *alloc,
                           hq_model_t **out /* OUT */);

/* Free the model, its layers and any pending forward state.  NULL is a no-op.  Optimisers made
 * for it must be destroyed first. */
HQ_API void hq_model_destroy(hq_model_t *m);

/*
 * Append a dense linear layer y = x W + b, W in_features x out_features (row-major), b of
 * out_features.  Initialised like PyTorch's nn.Linear: W and b uniform in +-1/sqrt(in), from
 * `seed`.  Parameter bytes: 4 * (in * out + out).
 * Returns HQ_OK, HQ_EINVAL (m NULL, out_features 0), HQ_EMISUSE (a forward is pending), HQ_ENOMEM.
 */
HQ_API int hq_model_add_linear(hq_model_t *m, size_t out_features, uint64_t seed);

/*
 * Append a sketched linear layer (Panther's SKLinear): num_terms (L) terms of rank low_rank (k),
 *   y = (1/2L) * sum_i [ (x S1_i) U1_i + (x U2_i) S2_i ] + b,
 * U1_i (k x out) and U2_i (in x k) fixed scaled-sign sketches with entries +-1/sqrt(k), S1_i =
 * W U1_i^T (in x k) and S2_i = U2_i^T W (k x out) trainable, initialised from a dense W drawn
 * as for hq_model_add_linear.  Parameter bytes 4 * (L k (in + out) + out); fixed bytes
 * 4 * L k (in + out); activation bytes per row saved for backward 4 * L k.
 * Returns HQ_OK, HQ_EINVAL (a size 0), HQ_EMISUSE (forward pending), HQ_ENOMEM.
 */
HQ_API int hq_model_add_sklinear(hq_model_t *m, size_t out_features, size_t num_terms,
                                 size_t low_rank, uint64_t seed);

/*
 * Append a sparse linear layer y = x W + b with W kept as CSR (int32 indices) at `density`
 * (0 < density <= 1): W is drawn as for hq_model_add_linear (the same seed gives the same dense
 * W), then only its round(density * in * out) entries of largest magnitude are kept (ties at
 * the cut may keep fewer).  The pattern is fixed; training updates the kept values (their
 * gradient is a sampled dense-dense product on the pattern) and b.  Stored transposed (out x in)
 * so forward is one CSR SpMM.  Parameter bytes 4 * (nnz + out); the CSR indices,
 * 4 * (out + 1 + nnz), count as fixed bytes: at 10% density values and indices are about
 * 0.8 bytes per dense weight, 20% of the dense layer.
 * Returns HQ_OK, HQ_EINVAL (NULL model, out_features 0, density outside (0, 1]), HQ_EMISUSE,
 * HQ_ENOMEM.
 */
HQ_API int hq_model_add_sparse_linear(hq_model_t *m, size_t out_features, double density,
                                      uint64_t seed);

/* Append y = max(x, 0).  Its backward reads its own output.  HQ_OK, HQ_EINVAL, HQ_EMISUSE, HQ_ENOMEM. */
HQ_API int hq_model_add_relu(hq_model_t *m);

/* Append GELU, tanh approximation: y = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (as
 * PyTorch's approximate='tanh').  HQ_OK, HQ_EINVAL, HQ_EMISUSE, HQ_ENOMEM. */
HQ_API int hq_model_add_gelu(hq_model_t *m);

/*
 * Append layer normalisation over groups of norm_dim consecutive features (0 = the whole row;
 * otherwise norm_dim must divide the row), with learnable gamma (ones) and beta (zeros) of
 * norm_dim each: y = (x - mean) / sqrt(var + eps) * gamma + beta, var biased.  Saves mean and
 * 1/std per group (8 bytes per group per row) for backward.
 * Returns HQ_OK, HQ_EINVAL (norm_dim does not divide the row, eps < 0), HQ_EMISUSE, HQ_ENOMEM.
 */
HQ_API int hq_model_add_layernorm(hq_model_t *m, size_t norm_dim, float eps);

/*
 * Append a multi-head self-attention block over each row read as seq_len tokens of
 * dim = features / seq_len: Q, K, V = x Wq + bq, x Wk + bk, x Wv + bv (stored as one packed
 * dim x 3dim matrix), per head softmax(Q_h K_h^T / sqrt(dim / heads)) V_h with the row maximum
 * subtracted before exp, heads concatenated, then y = O Wo + bo, plus x when residual is 1.
 * No mask.  Parameter bytes 4 * (4 dim^2 + 4 dim).  Saved for backward per row:
 * 4 * (4 seq_len dim + heads seq_len^2) bytes (Q, K, V, the attention matrices, O).
 * Returns HQ_OK, HQ_EINVAL (seq_len does not divide the row, heads does not divide dim),
 * HQ_EMISUSE, HQ_ENOMEM.
 */
HQ_API int hq_model_add_attention(hq_model_t *m, size_t seq_len, size_t heads, int residual,
                                  uint64_t seed);

/* Number of layers (activations count as layers, as in nn.Sequential); 0 for NULL. */
HQ_API size_t hq_model_layers(const hq_model_t *m);

/* Features of a row entering the model (0 for NULL). */
HQ_API size_t hq_model_in_features(const hq_model_t *m);

/* Features of a row leaving the model: the last layer's output (in_features when empty). */
HQ_API size_t hq_model_out_features(const hq_model_t *m);

/* What one layer is and holds. */
typedef struct hq_layer_info_s {
  const char *kind;          /* "linear", "sklinear", "sparse_linear", "relu", "gelu",
                                "layernorm", "attention" */
  size_t in_features, out_features;
  size_t param_bytes, grad_bytes, fixed_bytes;
  size_t output_bytes;       /* 4 * batch * out_features */
  size_t saved_bytes;        /* tensors besides the output kept for backward, for `batch` rows */
} hq_layer_info_t;

/* Describe layer `index` for a batch of `batch` rows.  HQ_OK, HQ_EINVAL (NULL, index out of
 * range). */
HQ_API int hq_model_layer_info(const hq_model_t *m, size_t index, size_t batch,
                               hq_layer_info_t *out /* OUT */);

/*
 * One trainable tensor: for optimisers and for tests.  data and grad stay valid for the model's
 * life; count is in floats.  Returns HQ_OK, HQ_EINVAL (index >= hq_model_params(m)).
 */
HQ_API size_t hq_model_params(const hq_model_t *m);
HQ_API int hq_model_param(hq_model_t *m, size_t index, float **data /* OUT */,
                          float **grad /* OUT */, size_t *count /* OUT */);

/* Set every gradient to zero.  Backward adds into the gradients (as PyTorch does), so call this
 * before each step.  NULL is a no-op. */
HQ_API void hq_model_zero_grad(hq_model_t *m);

/* ---- Checkpointing ---------------------------------------------------------------------- */

/* hq_model_set_checkpoint(m, HQ_CKPT_AUTO): round(sqrt(layers)) segments. */
#define HQ_CKPT_AUTO (-1)

/*
 * Turn gradient checkpointing on with `segments` segments (checkpoint_sequential semantics: the
 * layers split into segments of floor(n / segments) layers, the remainder going to the last
 * one; forward keeps only the inputs of segments, every segment except the last one runs
 * without keeping its activations and is recomputed in backward), or off with 0.  1 segment is
 * the same as off.  HQ_CKPT_AUTO picks round(sqrt(n)) at each forward; a count above the number
 * of layers is clamped to it.  Gradients are bit-identical with and without checkpointing.
 * Returns HQ_OK, HQ_EINVAL (segments < -1), HQ_EMISUSE (a forward is pending).
 */
HQ_API int hq_model_set_checkpoint(hq_model_t *m, int segments);

/* The segment count the next forward will use for `layers` layers and setting `segments`
 * (0 or 1: 1; HQ_CKPT_AUTO: round(sqrt(layers)), at least 1; clamped to layers). */
HQ_API size_t hq_ckpt_segments_for(size_t layers, int segments);

/*
 * The peak activation bytes a forward + backward of `batch` rows will reach with `segments`
 * (as in hq_model_set_checkpoint), predicted from the layer sizes by the law in
 * docs/kernels-model.md.  It equals what the model's own accounting measures
 * (hq_model_mem_t.activation_peak after hq_model_reset_peaks and one step).
 * Returns HQ_OK, HQ_EINVAL (NULL, batch 0, segments < -1).
 */
HQ_API int hq_model_predict_activation_peak(const hq_model_t *m, size_t batch, int segments,
                                            size_t *out_bytes /* OUT */);

/* ---- Forward, backward, inference ------------------------------------------------------- */

/*
 * Forward `batch` rows of x (batch x in_features, borrowed: it must stay unchanged until the
 * matching hq_model_backward) and keep what backward needs (all activations, or only segment
 * inputs when checkpointing).  *out_y points at the batch x out_features output, owned by the
 * model and valid until backward or the next forward.  A pending forward is dropped first.
 * Returns HQ_OK, HQ_EINVAL (NULL argument, batch 0, empty model), HQ_ENOMEM.
 */
HQ_API int hq_model_forward(hq_model_t *m, const float *x, size_t batch,
                            const float **out_y /* OUT */);

/*
 * Backward from dy (batch x out_features, dL/dy) through the pending forward: adds every
 * parameter's gradient into its grad and, when dx is not NULL, writes dL/dx (batch x
 * in_features).  Frees the forward state as it goes.
 * Returns HQ_OK, HQ_EINVAL (dy NULL), HQ_EMISUSE (no pending forward), HQ_ENOMEM (then the
 * gradients are incomplete and the forward state is dropped).
 */
HQ_API int hq_model_backward(hq_model_t *m, const float *dy, float *dx);

/* Drop a pending forward's state without a backward.  NULL is a no-op. */
HQ_API void hq_model_release(hq_model_t *m);

/*
 * Inference: forward batch rows of x into y (batch x out_features, caller's), keeping nothing:
 * at most two layer outputs are alive at a time.  Drops a pending forward first.
 * Returns HQ_OK, HQ_EINVAL, HQ_ENOMEM.
 */
HQ_API int hq_model_predict(hq_model_t *m, const float *x, size_t batch, float *y);

/* Fill *out with the model's memory now.  HQ_OK, HQ_EINVAL. */
HQ_API int hq_model_mem(const hq_model_t *m, hq_model_mem_t *out /* OUT */);

/* Restart the activation and workspace high-water marks from the current values.  NULL no-op. */
HQ_API void hq_model_reset_peaks(hq_model_t *m);

/* ---- Losses ----------------------------------------------------------------------------- */

/*
 * Mean squared error over all rows * cols elements: loss = mean((pred - target)^2), summed in
 * double.  When dpred is not NULL it receives dloss/dpred = 2 (pred - target) / (rows * cols).
 * Returns HQ_OK, HQ_EINVAL (NULL pred/target/out_loss, rows or cols 0).
 */
HQ_API int hq_loss_mse(const float *pred, const float *target, size_t rows, size_t cols,
                       float *out_loss /* OUT */, float *dpred /* OUT, may be NULL */);

/*
 * Softmax cross-entropy, mean over rows: loss = mean(logsumexp(z_r) - z_r[label_r]), the row
 * maximum subtracted first.  When dlogits is not NULL it receives (softmax(z_r) - onehot) / rows.
 * Returns HQ_OK, HQ_EINVAL (NULL arguments, rows or classes 0, a label outside [0, classes)).
 */
HQ_API int hq_loss_softmax_xent(const float *logits, const int32_t *labels, size_t rows,
                                size_t classes, float *out_loss /* OUT */,
                                float *dlogits /* OUT, may be NULL */);

/* ---- Optimisers ------------------------------------------------------------------------- */

typedef struct hq_optim_s hq_optim_t;

/*
 * SGD over all of m's parameters, as torch.optim.SGD: with momentum mu > 0, buf = mu buf + g
 * (buf = g at the first step), p -= lr buf; without, p -= lr g.  Momentum buffers (4 bytes per
 * parameter) are allocated here, through the model's allocator.
 * Returns HQ_OK, HQ_EINVAL (NULL, lr <= 0, momentum outside [0, 1)), HQ_ENOMEM.
 */
HQ_API int hq_optim_sgd_create(hq_model_t *m, float lr, float momentum, hq_optim_t **out /* OUT */);

/*
 * Adam, as torch.optim.Adam (no weight decay): m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
 * p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).  State 8 bytes per parameter.
 * Returns HQ_OK, HQ_EINVAL (NULL, lr <= 0, betas outside [0, 1), eps < 0), HQ_ENOMEM.
 */
HQ_API int hq_optim_adam_create(hq_model_t *m, float lr, float beta1, float beta2, float eps,
                                hq_optim_t **out /* OUT */);

/* Apply one update from the current gradients.  Returns HQ_OK, HQ_EINVAL (NULL). */
HQ_API int hq_optim_step(hq_optim_t *o);

/* Bytes of optimiser state (momentum, first and second moments); 0 for NULL. */
HQ_API size_t hq_optim_state_bytes(const hq_optim_t *o);

/* Free the optimiser's state.  NULL is a no-op. */
HQ_API void hq_optim_destroy(hq_optim_t *o);

#ifdef __cplusplus
}
#endif
#endif /* HEAPQL_KERNELS_MODEL_H */
