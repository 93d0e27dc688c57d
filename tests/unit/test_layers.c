/*
 * test_layers.c: every layer and loss: forward values, backward against central finite
 * differences, and the bytes each reports.
 *
 * The finite-difference check drives the model with L(x, params) = sum(r o y) for a fixed random
 * r, summed in double, so dL/dy = r is fed to backward.  Each parameter tensor and the input are
 * compared as vectors: |fd - analytic| / |analytic| < 1e-3.  eps = 1e-2 keeps the f32 rounding
 * of y (about 1e-7 relative) well below the difference taken, while the truncation error
 * (eps^2 f'''/6) stays around 1e-5.  FD_PRINT=1 in the environment prints each relative error.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq_test.h"
#include "heapql/kernels.h"
#include "hq_model_int.h"

#define FD_EPS 1e-2
#define FD_TOL 1e-3

static uint64_t lcg_state;

static float frand(float lo, float hi) {
  lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
  return lo + (hi - lo) * (float)((lcg_state >> 40) * (1.0 / 16777216.0));
}

static float *rand_buf(size_t n, float lo, float hi) {
  float *p = malloc(n * sizeof *p);
  assert_non_null(p);
  for (size_t i = 0; i < n; i++) p[i] = frand(lo, hi);
  return p;
}

/* Values bounded away from 0, so no ReLU kink lies within eps of an input. */
static float *rand_away_from_zero(size_t n) {
  float *p = rand_buf(n, 0.1f, 1.0f);
  for (size_t i = 0; i < n; i++)
    if (i % 2) p[i] = -p[i];
  return p;
}

static double proj_loss(hq_model_t *m, const float *x, size_t batch, const float *r) {
  size_t n = batch * hq_model_out_features(m);
  float *y = malloc(n * sizeof *y);
  assert_non_null(y);
  assert_int_equal(hq_model_predict(m, x, batch, y), HQ_OK);
  double sum = 0.0;
  for (size_t i = 0; i < n; i++) sum += (double)r[i] * (double)y[i];
  free(y);
  return sum;
}

/* Central differences of proj_loss in every element of v (perturbed in place), compared with
 * `analytic` as vectors. */
static void check_vector(hq_model_t *m, float *x, size_t batch, const float *r, float *v, size_t n,
                         const float *analytic, const char *what) {
  double diff2 = 0.0, norm2 = 0.0;
  for (size_t i = 0; i < n; i++) {
    const float keep = v[i], up = (float)(keep + FD_EPS), down = (float)(keep - FD_EPS);
    v[i] = up;
    const double hi = proj_loss(m, x, batch, r);
    v[i] = down;
    const double lo = proj_loss(m, x, batch, r);
    v[i] = keep;
    const double fd = (hi - lo) / ((double)up - (double)down);
    diff2 += (fd - analytic[i]) * (fd - analytic[i]);
    norm2 += (double)analytic[i] * analytic[i];
  }
  const double rel = sqrt(diff2) / sqrt(norm2);
  if (getenv("FD_PRINT")) print_message("%s: rel %.3g\n", what, rel);
  if (!(norm2 > 0.0) || !(rel < FD_TOL))
    fail_msg("%s: |fd - analytic| / |analytic| = %g (|analytic| = %g)", what, rel, sqrt(norm2));
}

/* Backward of the whole model (every parameter and the input) against finite differences. */
static void check_model_gradients(hq_model_t *m, float *x, size_t batch) {
  const size_t n_out = batch * hq_model_out_features(m), n_in = batch * hq_model_in_features(m);
  float *r = rand_buf(n_out, -1.0f, 1.0f);
  float *dx = malloc(n_in * sizeof *dx);
  const float *y = NULL;
  hq_model_zero_grad(m);
  assert_int_equal(hq_model_forward(m, x, batch, &y), HQ_OK);
  assert_int_equal(hq_model_backward(m, r, dx), HQ_OK);
  char what[64];
  for (size_t p = 0; p < hq_model_params(m); p++) {
    float *data, *grad;
    size_t count;
    assert_int_equal(hq_model_param(m, p, &data, &grad, &count), HQ_OK);
    float *analytic = malloc(count * sizeof *analytic);
    memcpy(analytic, grad, count * sizeof *analytic);
    snprintf(what, sizeof what, "parameter %zu", p);
    check_vector(m, x, batch, r, data, count, analytic, what);
    free(analytic);
  }
  check_vector(m, x, batch, r, x, n_in, dx, "input");
  free(dx);
  free(r);
}

static hq_model_t *new_model(size_t in) {
  hq_model_t *m = NULL;
  assert_int_equal(hq_model_create(in, NULL, &m), HQ_OK);
  return m;
}

static int setup(void **state) {
  (void)state;
  lcg_state = 42;
  return 0;
}

/* ---- linear ---- */

static void test_layers_linear_forward_values(void **state) {
  (void)state;
  hq_model_t *m = new_model(2);
  assert_int_equal(hq_model_add_linear(m, 3, 1), HQ_OK);
  float *w, *b;
  size_t n;
  assert_int_equal(hq_model_param(m, 0, &w, NULL, &n), HQ_OK);
  assert_int_equal(n, 6);
  assert_int_equal(hq_model_param(m, 1, &b, NULL, &n), HQ_OK);
  assert_int_equal(n, 3);
  const float wv[6] = {1, 2, 3, 4, 5, 6}, bv[3] = {0.5f, -1, 2};
  memcpy(w, wv, sizeof wv);
  memcpy(b, bv, sizeof bv);
  const float x[4] = {1, -1, 2, 0.5f};
  float y[6];
  assert_int_equal(hq_model_predict(m, x, 2, y), HQ_OK);
  /* [1 -1] W = [-3 -3 -3];  [2 0.5] W = [4 6.5 9] */
  const float expect[6] = {-2.5f, -4, -1, 4.5f, 5.5f, 11};
  for (int i = 0; i < 6; i++) assert_true(y[i] == expect[i]);
  hq_model_destroy(m);
}

static void test_layers_linear_backward_matches_fd(void **state) {
  (void)state;
  hq_model_t *m = new_model(7);
  assert_int_equal(hq_model_add_linear(m, 5, 11), HQ_OK);
  float *x = rand_buf(4 * 7, -1, 1);
  check_model_gradients(m, x, 4);
  free(x);
  hq_model_destroy(m);
}

static void test_layers_linear_memory_exact(void **state) {
  (void)state;
  hq_model_t *m = new_model(64);
  assert_int_equal(hq_model_add_linear(m, 32, 3), HQ_OK);
  hq_model_mem_t mem;
  assert_int_equal(hq_model_mem(m, &mem), HQ_OK);
  assert_int_equal(mem.param_bytes, 64 * 32 * 4 + 32 * 4);
  assert_int_equal(mem.grad_bytes, 64 * 32 * 4 + 32 * 4);
  assert_int_equal(mem.fixed_bytes, 0);
  assert_int_equal(mem.activation_bytes, 0);
  hq_layer_info_t info;
  assert_int_equal(hq_model_layer_info(m, 0, 16, &info), HQ_OK);
  assert_string_equal(info.kind, "linear");
  assert_int_equal(info.param_bytes, 8320);
  assert_int_equal(info.output_bytes, 16 * 32 * 4);
  assert_int_equal(info.saved_bytes, 0);
  /* After a forward the output is held; backward gives it back. */
  float *x = rand_buf(16 * 64, -1, 1), *dy = rand_buf(16 * 32, -1, 1);
  const float *y;
  assert_int_equal(hq_model_forward(m, x, 16, &y), HQ_OK);
  assert_int_equal(hq_model_mem(m, &mem), HQ_OK);
  assert_int_equal(mem.activation_bytes, 16 * 32 * 4);
  assert_int_equal(hq_model_backward(m, dy, NULL), HQ_OK);
  assert_int_equal(hq_model_mem(m, &mem), HQ_OK);
  assert_int_equal(mem.activation_bytes, 0);
  assert_int_equal(mem.activation_peak, 16 * 32 * 4);
  assert_int_equal(mem.workspace_bytes, 0);
  free(x);
  free(dy);
  hq_model_destroy(m);
}

/* ---- sketched linear ---- */

static void test_layers_sklinear_forward_is_the_sketch_sum(void **state) {
  (void)state;
  const size_t in = 6, out = 5, terms = 3, rank = 2, batch = 3, r = terms * rank;
  hq_model_t *m = new_model(in);
  assert_int_equal(hq_model_add_sklinear(m, out, terms, rank, 9), HQ_OK);
  const hq__layer_t *l = m->layers[0];
  const float *s1 = l->param[0], *s2 = l->param[1], *b = l->param[2];
  const float *u1 = l->fixed, *u2 = l->fixed + r * out;
  /* The sketches are signs of magnitude 1/sqrt(k). */
  for (size_t i = 0; i < l->fixed_count; i++) assert_true(fabsf(fabsf(l->fixed[i]) - 1.0f / sqrtf(2.0f)) < 1e-7f);
  float *x = rand_buf(batch * in, -1, 1);
  float y[15];
  assert_int_equal(hq_model_predict(m, x, batch, y), HQ_OK);
  /* Term by term, in double: (1/2L) sum_t [(x S1_t) U1_t + (x U2_t) S2_t] + b */
  for (size_t row = 0; row < batch; row++) {
    for (size_t o = 0; o < out; o++) {
      double acc = 0.0;
      for (size_t t = 0; t < terms; t++) {
        for (size_t q = 0; q < rank; q++) {
          const size_t c = t * rank + q;
          double xs1 = 0.0, xu2 = 0.0;
          for (size_t i = 0; i < in; i++) {
            xs1 += (double)x[row * in + i] * s1[i * r + c];
            xu2 += (double)x[row * in + i] * u2[i * r + c];
          }
          acc += xs1 * u1[c * out + o] + xu2 * s2[c * out + o];
        }
      }
      const double expect = acc / (2.0 * terms) + b[o];
      assert_true(fabs(y[row * out + o] - expect) < 1e-5);
    }
  }
  free(x);
  hq_model_destroy(m);
}

static void test_layers_sklinear_backward_matches_fd(void **state) {
  (void)state;
  hq_model_t *m = new_model(8);
  assert_int_equal(hq_model_add_sklinear(m, 6, 2, 3, 5), HQ_OK);
  float *x = rand_buf(3 * 8, -1, 1);
  check_model_gradients(m, x, 3);
  free(x);
  hq_model_destroy(m);
}

static void test_layers_sklinear_memory_exact(void **state) {
  (void)state;
  hq_model_t *m = new_model(64);
  assert_int_equal(hq_model_add_sklinear(m, 32, 2, 4, 1), HQ_OK);
  hq_model_mem_t mem;
  assert_int_equal(hq_model_mem(m, &mem), HQ_OK);
  /* trainable L k (in + out) + out, fixed L k (in + out) */
  assert_int_equal(mem.param_bytes, 4 * (2 * 4 * (64 + 32) + 32));
  assert_int_equal(mem.grad_bytes, mem.param_bytes);
  assert_int_equal(mem.fixed_bytes, 4 * 2 * 4 * (64 + 32));
  assert_int_equal(mem.workspace_bytes, 0);   /* the dense W used for init is gone */
  hq_layer_info_t info;
  assert_int_equal(hq_model_layer_info(m, 0, 10, &info), HQ_OK);
  assert_string_equal(info.kind, "sklinear");
  assert_int_equal(info.saved_bytes, 4 * 10 * 2 * 4);   /* x U2: batch x Lk */
  assert_int_equal(hq_model_add_sklinear(m, 4, 0, 4, 1), HQ_EINVAL);
  assert_int_equal(hq_model_add_sklinear(m, 4, 1, 0, 1), HQ_EINVAL);
  hq_model_destroy(m);
}

/* With many terms the sketch approaches x W: check the error shrinks as L grows. */
static void test_layers_sklinear_error_falls_with_terms(void **state) {
  (void)state;
  const size_t in = 32, out = 16, batch = 8;
  float *x = rand_buf(batch * in, -1, 1);
  double err[2];
  const size_t terms[2] = {1, 64};
  for (int t = 0; t < 2; t++) {
    hq_model_t *sk = new_model(in), *dense = new_model(in);
    assert_int_equal(hq_model_add_sklinear(sk, out, terms[t], 4, 77), HQ_OK);
    assert_int_equal(hq_model_add_linear(dense, out, 77), HQ_OK);   /* the same W and b */
    float ys[128], yd[128];
    assert_int_equal(hq_model_predict(sk, x, batch, ys), HQ_OK);
    assert_int_equal(hq_model_predict(dense, x, batch, yd), HQ_OK);
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < batch * out; i++) {
      num += (ys[i] - yd[i]) * (double)(ys[i] - yd[i]);
      den += (double)yd[i] * yd[i];
    }
    err[t] = sqrt(num / den);
    hq_model_destroy(sk);
    hq_model_destroy(dense);
  }
  assert_true(err[1] < err[0] / 3.0);
  assert_true(err[1] < 0.35);
  free(x);
}

/* ---- sparse linear ---- */

/* At density 1 nothing is pruned: the same outputs as the dense layer from the same seed. */
static void test_layers_sparse_linear_full_density_is_dense(void **state) {
  (void)state;
  hq_model_t *sp = new_model(12), *dense = new_model(12);
  assert_int_equal(hq_model_add_sparse_linear(sp, 7, 1.0, 31), HQ_OK);
  assert_int_equal(hq_model_add_linear(dense, 7, 31), HQ_OK);
  float *x = rand_buf(5 * 12, -1, 1), ys[35], yd[35];
  assert_int_equal(hq_model_predict(sp, x, 5, ys), HQ_OK);
  assert_int_equal(hq_model_predict(dense, x, 5, yd), HQ_OK);
  for (int i = 0; i < 35; i++) assert_true(fabsf(ys[i] - yd[i]) < 1e-5f);
  free(x);
  hq_model_destroy(sp);
  hq_model_destroy(dense);
}

/* 10% of a 64 x 64 weight: 410 values kept, the largest; values + int32 indices under 22% of
 * the dense bytes. */
static void test_layers_sparse_linear_memory_exact(void **state) {
  (void)state;
  hq_model_t *m = new_model(64);
  assert_int_equal(hq_model_add_sparse_linear(m, 64, 0.1, 5), HQ_OK);
  hq_layer_info_t info;
  assert_int_equal(hq_model_layer_info(m, 0, 8, &info), HQ_OK);
  assert_string_equal(info.kind, "sparse_linear");
  assert_int_equal(info.param_bytes, 4 * (410 + 64));          /* values + bias */
  assert_int_equal(info.fixed_bytes, 4 * (64 + 1 + 410));      /* rowptr + colind */
  const size_t weight = info.param_bytes - 4 * 64 + info.fixed_bytes;
  assert_int_equal(weight, 3540);
  assert_true(weight <= 0.22 * 64 * 64 * 4);
  hq_model_mem_t mem;
  assert_int_equal(hq_model_mem(m, &mem), HQ_OK);
  assert_int_equal(mem.param_bytes, info.param_bytes);
  assert_int_equal(mem.grad_bytes, info.param_bytes);
  assert_int_equal(mem.fixed_bytes, info.fixed_bytes);
  assert_int_equal(mem.workspace_bytes, 0);
  /* the kept values are the largest: every one at least as large as the dense layer's 90% */
  hq_model_t *dense = new_model(64);
  assert_int_equal(hq_model_add_linear(dense, 64, 5), HQ_OK);
  float *w, *v;
  size_t nw, nv;
  assert_int_equal(hq_model_param(dense, 0, &w, NULL, &nw), HQ_OK);
  assert_int_equal(hq_model_param(m, 0, &v, NULL, &nv), HQ_OK);
  assert_int_equal(nv, 410);
  float min_kept = INFINITY;
  for (size_t i = 0; i < nv; i++) min_kept = fminf(min_kept, fabsf(v[i]));
  size_t above = 0;
  for (size_t i = 0; i < nw; i++) above += fabsf(w[i]) >= min_kept;
  assert_int_equal(above, 410);
  assert_int_equal(hq_model_add_sparse_linear(m, 4, 0.0, 1), HQ_EINVAL);
  assert_int_equal(hq_model_add_sparse_linear(m, 4, 1.5, 1), HQ_EINVAL);
  hq_model_destroy(dense);
  hq_model_destroy(m);
}

static void test_layers_sparse_linear_backward_matches_fd(void **state) {
  (void)state;
  hq_model_t *m = new_model(10);
  assert_int_equal(hq_model_add_sparse_linear(m, 6, 0.4, 17), HQ_OK);
  float *x = rand_buf(3 * 10, -1, 1);
  check_model_gradients(m, x, 3);
  free(x);
  hq_model_destroy(m);
}

/* ---- activations ---- */

static void test_layers_relu_gelu_forward_values(void **state) {
  (void)state;
  hq_model_t *relu = new_model(4), *gelu = new_model(4);
  assert_int_equal(hq_model_add_relu(relu), HQ_OK);
  assert_int_equal(hq_model_add_gelu(gelu), HQ_OK);
  const float x[4] = {-2.0f, -0.5f, 0.0f, 1.0f};
  float y[4];
  assert_int_equal(hq_model_predict(relu, x, 1, y), HQ_OK);
  assert_true(y[0] == 0.0f && y[1] == 0.0f && y[2] == 0.0f && y[3] == 1.0f);
  assert_int_equal(hq_model_predict(gelu, x, 1, y), HQ_OK);
  /* torch.nn.functional.gelu(x, approximate='tanh') */
  const double expect[4] = {-0.04540230591222, -0.15428599017486, 0.0, 0.84119199030288};
  for (int i = 0; i < 4; i++) assert_true(fabs(y[i] - expect[i]) < 2e-7);
  hq_layer_info_t info;
  assert_int_equal(hq_model_layer_info(gelu, 0, 5, &info), HQ_OK);
  assert_int_equal(info.param_bytes, 0);
  assert_int_equal(info.saved_bytes, 0);
  assert_int_equal(info.output_bytes, 5 * 4 * 4);
  hq_model_destroy(relu);
  hq_model_destroy(gelu);
}

static void test_layers_relu_backward_matches_fd(void **state) {
  (void)state;
  hq_model_t *m = new_model(9);
  assert_int_equal(hq_model_add_relu(m), HQ_OK);
  float *x = rand_away_from_zero(4 * 9);
  check_model_gradients(m, x, 4);
  free(x);
  hq_model_destroy(m);
}

static void test_layers_gelu_backward_matches_fd(void **state) {
  (void)state;
  hq_model_t *m = new_model(9);
  assert_int_equal(hq_model_add_gelu(m), HQ_OK);
  float *x = rand_buf(4 * 9, -3, 3);
  check_model_gradients(m, x, 4);
  free(x);
  hq_model_destroy(m);
}

/* ---- layer norm ---- */

static void test_layers_layernorm_forward_normalises_groups(void **state) {
  (void)state;
  hq_model_t *m = new_model(8);
  assert_int_equal(hq_model_add_layernorm(m, 4, 0.0f), HQ_OK);
  const float x[8] = {1, 2, 3, 4, 10, 10, 10, 14};
  float y[8];
  assert_int_equal(hq_model_predict(m, x, 1, y), HQ_OK);
  /* group 1: mean 2.5, var 1.25; group 2: mean 11, var 3 */
  const double g1 = 1.0 / sqrt(1.25), g2 = 1.0 / sqrt(3.0);
  const double expect[8] = {-1.5 * g1, -0.5 * g1, 0.5 * g1, 1.5 * g1, -g2, -g2, -g2, 3 * g2};
  for (int i = 0; i < 8; i++) assert_true(fabs(y[i] - expect[i]) < 1e-6);
  hq_layer_info_t info;
  assert_int_equal(hq_model_layer_info(m, 0, 3, &info), HQ_OK);
  assert_int_equal(info.param_bytes, 2 * 4 * 4);
  assert_int_equal(info.saved_bytes, 3 * 2 * 2 * 4);   /* mean and rstd per group */
  assert_int_equal(hq_model_add_layernorm(m, 3, 1e-5f), HQ_EINVAL);
  assert_int_equal(hq_model_add_layernorm(m, 4, -1.0f), HQ_EINVAL);
  hq_model_destroy(m);
}

static void test_layers_layernorm_backward_matches_fd(void **state) {
  (void)state;
  hq_model_t *m = new_model(12);
  assert_int_equal(hq_model_add_layernorm(m, 6, 1e-5f), HQ_OK);
  /* gamma and beta away from their 1/0 start so every term of the gradient counts */
  float *gamma, *beta;
  assert_int_equal(hq_model_param(m, 0, &gamma, NULL, NULL), HQ_OK);
  assert_int_equal(hq_model_param(m, 1, &beta, NULL, NULL), HQ_OK);
  for (int j = 0; j < 6; j++) {
    gamma[j] = frand(0.5f, 1.5f);
    beta[j] = frand(-0.5f, 0.5f);
  }
  float *x = rand_buf(3 * 12, -2, 2);
  check_model_gradients(m, x, 3);
  free(x);
  hq_model_destroy(m);
}

/* ---- attention ---- */

/* One token: softmax over one key is 1, so y = (x Wv + bv) Wo + bo (+ x). */
static void test_layers_attention_single_token_is_value_projection(void **state) {
  (void)state;
  const size_t d = 4;
  hq_model_t *m = new_model(d);
  assert_int_equal(hq_model_add_attention(m, 1, 2, 1, 3), HQ_OK);
  const hq__layer_t *l = m->layers[0];
  const float *wqkv = l->param[0], *bqkv = l->param[1], *wo = l->param[2], *bo = l->param[3];
  float *x = rand_buf(2 * d, -1, 1);
  float y[8];
  assert_int_equal(hq_model_predict(m, x, 2, y), HQ_OK);
  for (size_t r = 0; r < 2; r++) {
    double v[4];
    for (size_t c = 0; c < d; c++) {
      v[c] = bqkv[2 * d + c];
      for (size_t i = 0; i < d; i++) v[c] += (double)x[r * d + i] * wqkv[i * 3 * d + 2 * d + c];
    }
    for (size_t c = 0; c < d; c++) {
      double expect = bo[c] + x[r * d + c];
      for (size_t i = 0; i < d; i++) expect += v[i] * wo[i * d + c];
      assert_true(fabs(y[r * d + c] - expect) < 1e-5);
    }
  }
  free(x);
  hq_model_destroy(m);
}

static void test_layers_attention_backward_matches_fd(void **state) {
  (void)state;
  /* 2 rows of 3 tokens of 4 features, 2 heads, no residual */
  hq_model_t *m = new_model(12);
  assert_int_equal(hq_model_add_attention(m, 3, 2, 0, 21), HQ_OK);
  float *x = rand_buf(2 * 12, -1, 1);
  check_model_gradients(m, x, 2);
  free(x);
  hq_model_destroy(m);
}

static void test_layers_attention_residual_backward_matches_fd(void **state) {
  (void)state;
  hq_model_t *m = new_model(16);
  assert_int_equal(hq_model_add_attention(m, 4, 1, 1, 22), HQ_OK);
  float *x = rand_buf(2 * 16, -1, 1);
  check_model_gradients(m, x, 2);
  free(x);
  hq_model_destroy(m);
}

static void test_layers_attention_memory_exact(void **state) {
  (void)state;
  /* rows of 5 tokens x 8 features, 2 heads */
  hq_model_t *m = new_model(40);
  assert_int_equal(hq_model_add_attention(m, 5, 2, 1, 1), HQ_OK);
  hq_layer_info_t info;
  assert_int_equal(hq_model_layer_info(m, 0, 3, &info), HQ_OK);
  assert_string_equal(info.kind, "attention");
  assert_int_equal(info.param_bytes, 4 * (4 * 8 * 8 + 4 * 8));
  assert_int_equal(info.output_bytes, 3 * 40 * 4);
  assert_int_equal(info.saved_bytes, 4 * 3 * (4 * 5 * 8 + 2 * 5 * 5));
  assert_int_equal(hq_model_add_attention(m, 3, 1, 0, 1), HQ_EINVAL);   /* 3 does not divide 40 */
  assert_int_equal(hq_model_add_attention(m, 5, 3, 0, 1), HQ_EINVAL);   /* 3 does not divide 8 */
  hq_model_destroy(m);
}

/* ---- a stack of everything ---- */

static void test_layers_stack_backward_matches_fd(void **state) {
  (void)state;
  hq_model_t *m = new_model(12);
  assert_int_equal(hq_model_add_attention(m, 3, 2, 1, 1), HQ_OK);
  assert_int_equal(hq_model_add_layernorm(m, 4, 1e-5f), HQ_OK);
  assert_int_equal(hq_model_add_linear(m, 10, 2), HQ_OK);
  assert_int_equal(hq_model_add_gelu(m), HQ_OK);
  assert_int_equal(hq_model_add_sklinear(m, 6, 2, 2, 3), HQ_OK);
  assert_int_equal(hq_model_add_sparse_linear(m, 5, 0.5, 8), HQ_OK);
  assert_int_equal(hq_model_add_linear(m, 3, 4), HQ_OK);
  assert_int_equal(hq_model_layers(m), 7);
  float *x = rand_buf(2 * 12, -1, 1);
  check_model_gradients(m, x, 2);
  free(x);
  hq_model_destroy(m);
}

/* ---- losses ---- */

static void test_layers_mse_values_and_gradient(void **state) {
  (void)state;
  const float pred[4] = {1, 2, 3, 4}, target[4] = {0, 2, 5, 3};
  float loss, d[4];
  assert_int_equal(hq_loss_mse(pred, target, 2, 2, &loss, d), HQ_OK);
  assert_true(loss == 1.5f);   /* (1 + 0 + 4 + 1) / 4 */
  const float expect[4] = {0.5f, 0.0f, -1.0f, 0.5f};
  for (int i = 0; i < 4; i++) assert_true(d[i] == expect[i]);
  /* finite differences on random data */
  float *p = rand_buf(12, -1, 1), *t = rand_buf(12, -1, 1), g[12];
  assert_int_equal(hq_loss_mse(p, t, 3, 4, &loss, g), HQ_OK);
  for (int i = 0; i < 12; i++) {
    float keep = p[i], hi, lo;
    p[i] = keep + 1e-2f;
    hq_loss_mse(p, t, 3, 4, &hi, NULL);
    p[i] = keep - 1e-2f;
    hq_loss_mse(p, t, 3, 4, &lo, NULL);
    p[i] = keep;
    const double fd = ((double)hi - lo) / ((double)(keep + 1e-2f) - (double)(keep - 1e-2f));
    assert_true(fabs(fd - g[i]) <= 1e-3 * fabs(g[i]) + 1e-5);
  }
  assert_int_equal(hq_loss_mse(p, t, 0, 4, &loss, NULL), HQ_EINVAL);
  assert_int_equal(hq_loss_mse(NULL, t, 3, 4, &loss, NULL), HQ_EMISUSE);
  free(p);
  free(t);
}

static void test_layers_xent_values_and_gradient(void **state) {
  (void)state;
  /* uniform logits: loss log(C), gradient (1/C - onehot) / rows */
  const float z0[6] = {0, 0, 0, 1, 1, 1};
  const int32_t lab0[2] = {2, 0};
  float loss, d[6];
  assert_int_equal(hq_loss_softmax_xent(z0, lab0, 2, 3, &loss, d), HQ_OK);
  assert_true(fabs(loss - log(3.0)) < 1e-7);
  assert_true(fabs(d[2] - (1.0 / 3 - 1) / 2) < 1e-7 && fabs(d[0] - 1.0 / 6) < 1e-7);
  /* large logits stay finite thanks to the max subtraction */
  const float big[2] = {1000.0f, 0.0f};
  const int32_t lab1[1] = {1};
  assert_int_equal(hq_loss_softmax_xent(big, lab1, 1, 2, &loss, NULL), HQ_OK);
  assert_true(loss == 1000.0f);
  /* finite differences */
  float *z = rand_buf(15, -2, 2), g[15];
  const int32_t lab[3] = {4, 0, 2};
  assert_int_equal(hq_loss_softmax_xent(z, lab, 3, 5, &loss, g), HQ_OK);
  double diff2 = 0, norm2 = 0;
  for (int i = 0; i < 15; i++) {
    float keep = z[i], hi, lo;
    z[i] = keep + 1e-2f;
    hq_loss_softmax_xent(z, lab, 3, 5, &hi, NULL);
    z[i] = keep - 1e-2f;
    hq_loss_softmax_xent(z, lab, 3, 5, &lo, NULL);
    z[i] = keep;
    const double fd = ((double)hi - lo) / ((double)(keep + 1e-2f) - (double)(keep - 1e-2f));
    diff2 += (fd - g[i]) * (fd - g[i]);
    norm2 += (double)g[i] * g[i];
  }
  assert_true(sqrt(diff2 / norm2) < FD_TOL);
  const int32_t bad[3] = {4, 5, 0};
  assert_int_equal(hq_loss_softmax_xent(z, bad, 3, 5, &loss, g), HQ_EINVAL);
  free(z);
}

/* ---- misuse ---- */

static void test_layers_misuse_is_reported(void **state) {
  (void)state;
  hq_model_t *m = NULL;
  assert_int_equal(hq_model_create(0, NULL, &m), HQ_EINVAL);
  assert_null(m);
  m = new_model(3);
  const float x[3] = {1, 2, 3};
  const float *y = NULL;
  float out[3];
  assert_int_equal(hq_model_forward(m, x, 1, &y), HQ_EINVAL);   /* no layers */
  assert_int_equal(hq_model_add_linear(m, 0, 1), HQ_EINVAL);
  assert_int_equal(hq_model_add_linear(m, 3, 1), HQ_OK);
  assert_int_equal(hq_model_backward(m, x, NULL), HQ_EMISUSE);   /* no forward */
  assert_int_equal(hq_model_forward(m, x, 0, &y), HQ_EINVAL);
  assert_int_equal(hq_model_forward(m, x, 1, &y), HQ_OK);
  assert_non_null(y);
  assert_int_equal(hq_model_add_relu(m), HQ_EMISUSE);           /* forward pending */
  assert_non_null(strstr(hq_kernels_errmsg(), "a forward is pending"));
  assert_int_equal(hq_model_set_checkpoint(m, 2), HQ_EMISUSE);
  hq_model_release(m);
  hq_model_mem_t mem;
  assert_int_equal(hq_model_mem(m, &mem), HQ_OK);
  assert_int_equal(mem.activation_bytes, 0);
  assert_int_equal(hq_model_predict(m, x, 1, out), HQ_OK);
  assert_int_equal(hq_model_set_checkpoint(m, -2), HQ_EINVAL);
  assert_int_equal(hq_model_layer_info(m, 1, 1, &(hq_layer_info_t){0}), HQ_EINVAL);
  assert_int_equal(hq_model_param(m, 2, NULL, NULL, NULL), HQ_EINVAL);
  assert_string_equal(hq_kernels_errmsg(), "model_param: no parameter 2");
  hq_model_destroy(m);
  hq_model_destroy(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup(test_layers_linear_forward_values, setup),
    cmocka_unit_test_setup(test_layers_linear_backward_matches_fd, setup),
    cmocka_unit_test_setup(test_layers_linear_memory_exact, setup),
    cmocka_unit_test_setup(test_layers_sklinear_forward_is_the_sketch_sum, setup),
    cmocka_unit_test_setup(test_layers_sklinear_backward_matches_fd, setup),
    cmocka_unit_test_setup(test_layers_sklinear_memory_exact, setup),
    cmocka_unit_test_setup(test_layers_sklinear_error_falls_with_terms, setup),
    cmocka_unit_test_setup(test_layers_sparse_linear_full_density_is_dense, setup),
    cmocka_unit_test_setup(test_layers_sparse_linear_memory_exact, setup),
    cmocka_unit_test_setup(test_layers_sparse_linear_backward_matches_fd, setup),
    cmocka_unit_test_setup(test_layers_relu_gelu_forward_values, setup),
    cmocka_unit_test_setup(test_layers_relu_backward_matches_fd, setup),
    cmocka_unit_test_setup(test_layers_gelu_backward_matches_fd, setup),
    cmocka_unit_test_setup(test_layers_layernorm_forward_normalises_groups, setup),
    cmocka_unit_test_setup(test_layers_layernorm_backward_matches_fd, setup),
    cmocka_unit_test_setup(test_layers_attention_single_token_is_value_projection, setup),
    cmocka_unit_test_setup(test_layers_attention_backward_matches_fd, setup),
    cmocka_unit_test_setup(test_layers_attention_residual_backward_matches_fd, setup),
    cmocka_unit_test_setup(test_layers_attention_memory_exact, setup),
    cmocka_unit_test_setup(test_layers_stack_backward_matches_fd, setup),
    cmocka_unit_test_setup(test_layers_mse_values_and_gradient, setup),
    cmocka_unit_test_setup(test_layers_xent_values_and_gradient, setup),
    cmocka_unit_test_setup(test_layers_misuse_is_reported, setup),
  };
  return cmocka_run_group_tests_name("layers", tests, NULL, NULL);
}
