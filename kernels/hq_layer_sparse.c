/*
 * hq_layer_sparse.c: a linear layer whose weight is a CSR matrix (the kernels' sparse module).
 *
 * W (in x out) is stored transposed, Wt = W^T (out x in), so that every product has the sparse
 * matrix on the left, as hq_sparse_spmm wants:
 *   forward   y^T = Wt x^T                      (CSR SpMM, op N)
 *   backward  dWt += dy^T x  on Wt's pattern     (SDDMM: dot(dy^T[o, :], x^T[i, :]) per entry)
 *             dx^T = Wt^T dy^T                   (SpMM, op T)
 * x^T, y^T, dy^T and dx^T are scratch (batch columns); the transposes are plain copies.  The
 * gradient of the values is a separate array; SDDMM writes it through a copy of Wt's header
 * whose values pointer is the gradient (same pattern, other values).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hq_model_int.h"

static size_t sp_fwd_scratch(const hq__layer_t *l, size_t batch) { return batch * (l->in + l->out); }

static size_t sp_bwd_scratch(const hq__layer_t *l, size_t batch) {
  return batch * (2 * l->in + l->out);
}

/* dst (cols x rows) = src (rows x cols)^T */
static void transpose(float *dst, const float *src, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; r++)
    for (size_t c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
}

static void sp_forward(const hq__layer_t *l, size_t batch, const float *x, float *y, float *saved,
                       float *scratch) {
  (void)saved;
  float *xt = scratch, *yt = scratch + batch * l->in;
  const float *b = l->param[1];
  transpose(xt, x, batch, l->in);
  hq_sparse_spmm(HQ_OP_N, 1.0f, l->u.sp.wt, xt, (int64_t)batch, (int64_t)batch, 0.0f, yt,
                 (int64_t)batch);
  for (size_t r = 0; r < batch; r++)
    for (size_t o = 0; o < l->out; o++) y[r * l->out + o] = yt[o * batch + r] + b[o];
}

static void sp_backward(hq__layer_t *l, size_t batch, const float *x, const float *y,
                        const float *saved, const float *dy, float *dx, float *scratch) {
  (void)y;
  (void)saved;
  float *xt = scratch, *gt = xt + batch * l->in, *dxt = gt + batch * l->out;
  transpose(xt, x, batch, l->in);
  transpose(gt, dy, batch, l->out);
  hq_sparse_t grad_view = *l->u.sp.wt;
  grad_view.values = l->grad[0];
  hq_sparse_sddmm(&grad_view, 1.0f, gt, (int64_t)batch, xt, (int64_t)batch, (int64_t)batch, 1.0f);
  hq__rows_sum_add(l->grad[1], dy, batch, l->out);
  if (!dx) return;
  hq_sparse_spmm(HQ_OP_T, 1.0f, l->u.sp.wt, gt, (int64_t)batch, (int64_t)batch, 0.0f, dxt,
                 (int64_t)batch);
  transpose(dx, dxt, l->in, batch);
}

static void sp_destroy(hq_model_t *m, hq__layer_t *l) {
  hq_sparse_t *wt = l->u.sp.wt;
  if (!wt) return;
  const size_t value_bytes = (size_t)wt->nnz * sizeof(float);
  hq__model_account(m, HQ__MEM_PARAM, value_bytes, 0);
  hq__model_account(m, HQ__MEM_FIXED, l->other_fixed_bytes, 0);
  hq__model_release(m, HQ__MEM_GRAD, l->grad[0], value_bytes);
  hq_sparse_free(wt);
  l->u.sp.wt = NULL;
  l->other_fixed_bytes = 0;
  l->param[0] = l->grad[0] = NULL;   /* the generic free skips them */
}

const hq__layer_ops_t hq__sparse_linear_ops = {
  .kind = "sparse_linear",
  .forward_scratch_floats = sp_fwd_scratch,
  .backward_scratch_floats = sp_bwd_scratch,
  .forward = sp_forward,
  .backward = sp_backward,
  .destroy = sp_destroy,
};

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* The magnitude above which round(density * n) of the n values lie. */
static float keep_threshold(float *mag, size_t n, double density) {
  size_t keep = (size_t)llround(density * (double)n);
  if (keep < 1) keep = 1;
  if (keep >= n) return 0.0f;
  qsort(mag, n, sizeof *mag, cmp_float);
  return mag[n - keep - 1];
}

/* Make Wt (CSR, out x in) from a dense W drawn as a linear layer's, and the bias. */
static int make_weight(hq_model_t *m, hq__layer_t *l, double density, uint64_t seed, float *bias) {
  const size_t n = l->in * l->out, bytes = n * sizeof(float);
  float *w = hq__model_alloc(m, HQ__MEM_WORK, bytes);
  float *wt = hq__model_alloc(m, HQ__MEM_WORK, bytes);
  float *mag = hq__model_alloc(m, HQ__MEM_WORK, bytes);
  int rc = HQ_ENOMEM;   /* hq__model_alloc left the detail */
  if (!w || !wt || !mag) goto out;
  hq__rng_t rng;
  hq__rng_seed(&rng, seed);
  const float bound = 1.0f / sqrtf((float)l->in);
  hq__fill_uniform(w, n, bound, &rng);
  hq__fill_uniform(bias, l->out, bound, &rng);
  transpose(wt, w, l->in, l->out);
  for (size_t i = 0; i < n; i++) mag[i] = fabsf(wt[i]);
  const float threshold = keep_threshold(mag, n, density);
  rc = hq_sparse_from_dense(wt, (int64_t)l->out, (int64_t)l->in, (int64_t)l->in, threshold,
                            HQ_SPARSE_CSR, HQ_INDEX_I32, &l->u.sp.wt);
out:
  hq__model_release(m, HQ__MEM_WORK, mag, bytes);
  hq__model_release(m, HQ__MEM_WORK, wt, bytes);
  hq__model_release(m, HQ__MEM_WORK, w, bytes);
  return rc;
}

int hq_model_add_sparse_linear(hq_model_t *m, size_t out_features, double density, uint64_t seed) {
  if (!hq__model_valid(m)) return hq__kerr(HQ_MISUSE_BKPT, "model_add_sparse_linear: NULL argument");
  if (out_features == 0 || !(density > 0.0 && density <= 1.0))
    return hq__kerr(HQ_EINVAL, "model_add_sparse_linear: out_features 0 or density "
                               "outside (0, 1]");
  hq__layer_t *l = NULL;
  float *bias = NULL;
  int rc = hq__layer_new(m, &hq__sparse_linear_ops, out_features, &l);
  if (rc != HQ_OK) goto out;
  /* Slot 0 is the CSR values (owned by the matrix), slot 1 the bias. */
  l->n_params = 1;
  rc = hq__layer_add_param(m, l, l->out, &bias);
  if (rc != HQ_OK) goto out;
  rc = make_weight(m, l, density, seed, bias);
  if (rc != HQ_OK) goto out;
  /* From here sp_destroy undoes everything, on failure as at the end. */
  hq_sparse_t *wt = l->u.sp.wt;
  const size_t nnz = (size_t)wt->nnz;
  size_t nbytes = 0;
  hq_sparse_nbytes(wt, &nbytes, NULL);
  l->param[0] = wt->values;
  l->count[0] = nnz;
  l->other_fixed_bytes = nbytes - nnz * sizeof(float);
  hq__model_account(m, HQ__MEM_PARAM, nnz * sizeof(float), 1);
  hq__model_account(m, HQ__MEM_FIXED, l->other_fixed_bytes, 1);
  l->grad[0] = hq__model_zalloc(m, HQ__MEM_GRAD, nnz * sizeof(float));
  if (!l->grad[0] && nnz) {
    rc = HQ_ENOMEM;
    goto out;
  }
  rc = hq__layer_commit(m, l);
out:
  if (rc != HQ_OK) hq__layer_free(m, l);
  return rc;
}
