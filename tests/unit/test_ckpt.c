/*
 * test_ckpt.c: gradient checkpointing by segments: bit-identical gradients, outputs and training
 * against the plain run, and the peak activation bytes against the documented law
 * (docs/kernels-model.md): peak = max(E, R_j), E = C_{k-1} + sum over the last segment of a_i,
 * R_j = C_j + sum over segment j of a_i.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq_test.h"
#include "heapql/kernels.h"
#include "fake/hq_fake_annotate.h"

static uint64_t lcg_state;

static float *rand_buf(size_t n, float lo, float hi) {
  float *p = malloc(n * sizeof *p);
  assert_non_null(p);
  for (size_t i = 0; i < n; i++) {
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    p[i] = lo + (hi - lo) * (float)((lcg_state >> 40) * (1.0 / 16777216.0));
  }
  return p;
}

static int setup(void **state) {
  (void)state;
  lcg_state = 7;
  return 0;
}

/* 13 layers of every kind; rows of 4 tokens x 8 features. */
static hq_model_t *mixed_model(void) {
  hq_model_t *m = NULL;
  assert_int_equal(hq_model_create(32, NULL, &m), HQ_OK);
  assert_int_equal(hq_model_add_attention(m, 4, 2, 1, 1), HQ_OK);
  assert_int_equal(hq_model_add_layernorm(m, 8, 1e-5f), HQ_OK);
  assert_int_equal(hq_model_add_linear(m, 48, 2), HQ_OK);
  assert_int_equal(hq_model_add_gelu(m), HQ_OK);
  assert_int_equal(hq_model_add_sklinear(m, 40, 2, 4, 3), HQ_OK);
  assert_int_equal(hq_model_add_relu(m), HQ_OK);
  assert_int_equal(hq_model_add_sparse_linear(m, 40, 0.3, 8), HQ_OK);
  assert_int_equal(hq_model_add_linear(m, 32, 4), HQ_OK);
  assert_int_equal(hq_model_add_attention(m, 4, 1, 0, 5), HQ_OK);
  assert_int_equal(hq_model_add_layernorm(m, 0, 1e-5f), HQ_OK);
  assert_int_equal(hq_model_add_linear(m, 24, 6), HQ_OK);
  assert_int_equal(hq_model_add_gelu(m), HQ_OK);
  assert_int_equal(hq_model_add_linear(m, 6, 7), HQ_OK);
  assert_int_equal(hq_model_layers(m), 13);
  return m;
}

/* One step's results: the output, dL/dx and every gradient, concatenated. */
typedef struct {
  float *buf;
  size_t n;
} run_t;

static run_t one_step(int segments, const float *x, const float *dy, size_t batch, int want_dx) {
  hq_model_t *m = mixed_model();
  assert_int_equal(hq_model_set_checkpoint(m, segments), HQ_OK);
  size_t total = batch * 6 + batch * 32;
  for (size_t p = 0; p < hq_model_params(m); p++) {
    size_t count;
    assert_int_equal(hq_model_param(m, p, NULL, NULL, &count), HQ_OK);
    total += count;
  }
  run_t r = {calloc(total, sizeof(float)), total};
  const float *y;
  assert_int_equal(hq_model_forward(m, x, batch, &y), HQ_OK);
  memcpy(r.buf, y, batch * 6 * sizeof(float));
  assert_int_equal(hq_model_backward(m, dy, want_dx ? r.buf + batch * 6 : NULL), HQ_OK);
  size_t off = batch * 6 + batch * 32;
  for (size_t p = 0; p < hq_model_params(m); p++) {
    float *grad;
    size_t count;
    assert_int_equal(hq_model_param(m, p, NULL, &grad, &count), HQ_OK);
    memcpy(r.buf + off, grad, count * sizeof(float));
    off += count;
  }
  hq_model_mem_t mem;
  assert_int_equal(hq_model_mem(m, &mem), HQ_OK);
  assert_int_equal(mem.activation_bytes, 0);
  assert_int_equal(mem.workspace_bytes, 0);
  hq_model_destroy(m);
  return r;
}

static void test_ckpt_segments_for(void **state) {
  (void)state;
  assert_int_equal(hq_ckpt_segments_for(16, HQ_CKPT_AUTO), 4);
  assert_int_equal(hq_ckpt_segments_for(10, HQ_CKPT_AUTO), 3);   /* sqrt 3.16 */
  assert_int_equal(hq_ckpt_segments_for(12, HQ_CKPT_AUTO), 3);   /* sqrt 3.46 */
  assert_int_equal(hq_ckpt_segments_for(13, HQ_CKPT_AUTO), 4);   /* sqrt 3.61 */
  assert_int_equal(hq_ckpt_segments_for(2, HQ_CKPT_AUTO), 1);
  assert_int_equal(hq_ckpt_segments_for(1, HQ_CKPT_AUTO), 1);
  assert_int_equal(hq_ckpt_segments_for(9, 0), 1);
  assert_int_equal(hq_ckpt_segments_for(9, 5), 5);
  assert_int_equal(hq_ckpt_segments_for(9, 50), 9);
}

static void test_ckpt_gradients_bit_equal(void **state) {
  (void)state;
  const size_t batch = 5;
  float *x = rand_buf(batch * 32, -1, 1), *dy = rand_buf(batch * 6, -1, 1);
  run_t ref = one_step(0, x, dy, batch, 1);
  const int segs[] = {1, 2, 3, 4, 5, 6, HQ_CKPT_AUTO, 12, 13, 40};
  for (size_t s = 0; s < sizeof segs / sizeof segs[0]; s++) {
    run_t r = one_step(segs[s], x, dy, batch, 1);
    assert_int_equal(r.n, ref.n);
    if (memcmp(r.buf, ref.buf, r.n * sizeof(float)) != 0)
      fail_msg("segments %d: output or gradients differ from the plain run", segs[s]);
    free(r.buf);
  }
  /* without an input gradient the parameter gradients are the same bits too */
  run_t no_dx = one_step(4, x, dy, batch, 0);
  const size_t off = batch * 6 + batch * 32;
  assert_memory_equal(no_dx.buf + off, ref.buf + off, (ref.n - off) * sizeof(float));
  assert_memory_equal(no_dx.buf, ref.buf, batch * 6 * sizeof(float));
  free(no_dx.buf);
  free(ref.buf);
  free(x);
  free(dy);
}

/* Three Adam steps on an MSE loss: the parameters stay bit-identical. */
static void test_ckpt_training_bit_equal(void **state) {
  (void)state;
  const size_t batch = 4;
  float *x = rand_buf(batch * 32, -1, 1), *target = rand_buf(batch * 6, -1, 1);
  float *final[3];
  float losses[3][3];
  const int segs[3] = {0, 3, HQ_CKPT_AUTO};
  size_t total = 0;
  for (int s = 0; s < 3; s++) {
    hq_model_t *m = mixed_model();
    hq_optim_t *opt = NULL;
    assert_int_equal(hq_model_set_checkpoint(m, segs[s]), HQ_OK);
    assert_int_equal(hq_optim_adam_create(m, 1e-2f, 0.9f, 0.999f, 1e-8f, &opt), HQ_OK);
    float dy[24];
    for (int step = 0; step < 3; step++) {
      const float *y;
      hq_model_zero_grad(m);
      assert_int_equal(hq_model_forward(m, x, batch, &y), HQ_OK);
      assert_int_equal(hq_loss_mse(y, target, batch, 6, &losses[s][step], dy), HQ_OK);
      assert_int_equal(hq_model_backward(m, dy, NULL), HQ_OK);
      assert_int_equal(hq_optim_step(opt), HQ_OK);
    }
    total = 0;
    for (size_t p = 0; p < hq_model_params(m); p++) {
      size_t count;
      hq_model_param(m, p, NULL, NULL, &count);
      total += count;
    }
    final[s] = malloc(total * sizeof(float));
    size_t off = 0;
    for (size_t p = 0; p < hq_model_params(m); p++) {
      float *data;
      size_t count;
      hq_model_param(m, p, &data, NULL, &count);
      memcpy(final[s] + off, data, count * sizeof(float));
      off += count;
    }
    hq_optim_destroy(opt);
    hq_model_destroy(m);
  }
  assert_true(losses[0][2] < losses[0][0]);   /* it trains */
  for (int s = 1; s < 3; s++) {
    assert_memory_equal(losses[s], losses[0], sizeof losses[0]);
    assert_memory_equal(final[s], final[0], total * sizeof(float));
  }
  for (int s = 0; s < 3; s++) free(final[s]);
  free(x);
  free(target);
}

/* Measured peak of one forward + backward. */
static size_t measured_peak(hq_model_t *m, int segments, const float *x, const float *dy,
                            size_t batch) {
  const float *y;
  hq_model_mem_t mem;
  assert_int_equal(hq_model_set_checkpoint(m, segments), HQ_OK);
  hq_model_reset_peaks(m);
  assert_int_equal(hq_model_forward(m, x, batch, &y), HQ_OK);
  assert_int_equal(hq_model_backward(m, dy, NULL), HQ_OK);
  assert_int_equal(hq_model_mem(m, &mem), HQ_OK);
  assert_int_equal(mem.activation_bytes, 0);
  return mem.activation_peak;
}

/* n equal linear layers, each output o bytes and nothing saved: the law reduces to
 * peak = (k - 1 + n - (k - 1) floor(n / k)) o  (k - 1 boundaries plus the whole last segment). */
static void test_ckpt_peak_uniform_formula(void **state) {
  (void)state;
  const size_t n = 9, width = 32, batch = 8, o = batch * width * 4;
  hq_model_t *m = NULL;
  assert_int_equal(hq_model_create(width, NULL, &m), HQ_OK);
  for (size_t i = 0; i < n; i++) assert_int_equal(hq_model_add_linear(m, width, i), HQ_OK);
  float *x = rand_buf(batch * width, -1, 1), *dy = rand_buf(batch * width, -1, 1);
  for (size_t k = 1; k <= n; k++) {
    const size_t formula = (k - 1 + n - (k - 1) * (n / k)) * o;
    size_t predicted;
    assert_int_equal(hq_model_predict_activation_peak(m, batch, (int)k, &predicted), HQ_OK);
    assert_int_equal(predicted, formula);
    assert_int_equal(measured_peak(m, (int)k, x, dy, batch), formula);
  }
  /* no checkpointing: everything, 9 o */
  assert_int_equal(measured_peak(m, 0, x, dy, batch), 9 * o);
  /* k = 3: 2 boundaries + 3 layers */
  assert_int_equal(measured_peak(m, 3, x, dy, batch), 5 * o);
  free(x);
  free(dy);
  hq_model_destroy(m);
}

/* 16 equal layers: the peak is smallest at k = sqrt(16) = 4, the O(n/k + k) law. */
static void test_ckpt_peak_smallest_at_sqrt_n(void **state) {
  (void)state;
  const size_t n = 16, width = 16, batch = 4, o = batch * width * 4;
  hq_model_t *m = NULL;
  assert_int_equal(hq_model_create(width, NULL, &m), HQ_OK);
  for (size_t i = 0; i < n; i++) assert_int_equal(hq_model_add_linear(m, width, i), HQ_OK);
  float *x = rand_buf(batch * width, -1, 1), *dy = rand_buf(batch * width, -1, 1);
  const size_t expect[5][2] = {{1, 16}, {2, 9}, {4, 7}, {8, 9}, {16, 16}};
  for (int i = 0; i < 5; i++)
    assert_int_equal(measured_peak(m, (int)expect[i][0], x, dy, batch), expect[i][1] * o);
  assert_int_equal(measured_peak(m, HQ_CKPT_AUTO, x, dy, batch), 7 * o);
  free(x);
  free(dy);
  hq_model_destroy(m);
}

/* Mixed layers (saved tensors, changing widths): measured equals predicted for every k, and one
 * case worked by hand where a recomputed segment, not the last one, sets the peak. */
static void test_ckpt_peak_mixed_matches_prediction(void **state) {
  (void)state;
  const size_t batch = 3;
  float *x = rand_buf(batch * 32, -1, 1), *dy = rand_buf(batch * 6, -1, 1);
  hq_model_t *m = mixed_model();
  for (int k = 0; k <= 13; k++) {
    size_t predicted;
    assert_int_equal(hq_model_predict_activation_peak(m, batch, k, &predicted), HQ_OK);
    assert_int_equal(measured_peak(m, k, x, dy, batch), predicted);
  }
  hq_model_destroy(m);

  /* [attention(4 tokens x 8, 2 heads), linear 32->8] [linear 8->8, linear 8->6], k = 2:
   * R_0 = a_0 + a_1 = 4B(32 + 4*4*8 + 2*16) + 4B*8 ;  E = o_1 + a_2 + a_3 = 4B(8 + 8 + 6) */
  assert_int_equal(hq_model_create(32, NULL, &m), HQ_OK);
  assert_int_equal(hq_model_add_attention(m, 4, 2, 0, 1), HQ_OK);
  assert_int_equal(hq_model_add_linear(m, 8, 2), HQ_OK);
  assert_int_equal(hq_model_add_linear(m, 8, 3), HQ_OK);
  assert_int_equal(hq_model_add_linear(m, 6, 4), HQ_OK);
  const size_t r0 = 4 * batch * (32 + 4 * 4 * 8 + 2 * 16) + 4 * batch * 8;
  size_t predicted;
  assert_int_equal(hq_model_predict_activation_peak(m, batch, 2, &predicted), HQ_OK);
  assert_int_equal(predicted, r0);
  assert_int_equal(measured_peak(m, 2, x, dy, batch), r0);
  /* and without checkpointing: all four layers */
  assert_int_equal(measured_peak(m, 0, x, dy, batch), r0 + 4 * batch * (8 + 6));
  hq_model_destroy(m);
  free(x);
  free(dy);
}

/* Inference keeps at most two outputs: predict's peak is the largest neighbouring pair. */
static void test_ckpt_predict_keeps_two_outputs(void **state) {
  (void)state;
  hq_model_t *m = NULL;
  assert_int_equal(hq_model_create(10, NULL, &m), HQ_OK);
  assert_int_equal(hq_model_add_linear(m, 20, 1), HQ_OK);
  assert_int_equal(hq_model_add_relu(m), HQ_OK);
  assert_int_equal(hq_model_add_linear(m, 5, 2), HQ_OK);
  float *x = rand_buf(2 * 10, -1, 1), y[10];
  hq_model_mem_t mem;
  hq_model_reset_peaks(m);
  assert_int_equal(hq_model_predict(m, x, 2, y), HQ_OK);
  assert_int_equal(hq_model_mem(m, &mem), HQ_OK);
  assert_int_equal(mem.activation_peak, 2 * (20 + 20) * 4);
  assert_int_equal(mem.activation_bytes, 0);
  free(x);
  hq_model_destroy(m);
}

/* The stand-in recorder must be there before the library's first annotation: group setup. */
static int fake_loaded;

static int group_setup(void **state) {
  (void)state;
  fake_loaded = hq_fake_annotate_load() == 0;
  return 0;
}

/* Regions through the stand-in recorder: forward and backward, one per layer run, one per
 * recomputed segment, all closed; two counters at the end of each pass. */
static void test_ckpt_regions_and_counters(void **state) {
  (void)state;
  if (!fake_loaded) fail_msg("the stand-in recorder was not loaded (make tests builds it)");
  const size_t n = 6, batch = 2;
  hq_model_t *m = NULL;
  assert_int_equal(hq_model_create(4, NULL, &m), HQ_OK);
  for (size_t i = 0; i < n; i++) assert_int_equal(hq_model_add_linear(m, 4, i), HQ_OK);
  float *x = rand_buf(batch * 4, -1, 1), *dy = rand_buf(batch * 4, -1, 1), y[8];
  const float *out;
  for (int k = 1; k <= 3; k++) {
    assert_int_equal(hq_model_set_checkpoint(m, k), HQ_OK);
    const hq_fake_counts_t before = hq_fake_counts();
    assert_int_equal(hq_model_forward(m, x, batch, &out), HQ_OK);
    assert_int_equal(hq_model_backward(m, dy, NULL), HQ_OK);
    const hq_fake_counts_t after = hq_fake_counts();
    /* forward: 1 + n; backward: 1 + n + (k - 1) recompute regions + (k - 1) * (n / k) layers */
    const long expect = (long)(2 + 2 * n + (k - 1) + (k - 1) * (n / k));
    assert_int_equal(after.regions_begun - before.regions_begun, expect);
    assert_int_equal(after.regions_ended - before.regions_ended, expect);
    assert_int_equal(after.open_depth, 0);
    assert_int_equal(after.counters - before.counters, 4);
  }
  /* backward > recompute segment > layer */
  assert_true(hq_fake_counts().max_depth >= 3);
  const hq_fake_counts_t before = hq_fake_counts();
  assert_int_equal(hq_model_predict(m, x, batch, y), HQ_OK);
  assert_int_equal(hq_fake_counts().regions_begun - before.regions_begun, (long)(1 + n));
  free(x);
  free(dy);
  hq_model_destroy(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup(test_ckpt_segments_for, setup),
    cmocka_unit_test_setup(test_ckpt_gradients_bit_equal, setup),
    cmocka_unit_test_setup(test_ckpt_training_bit_equal, setup),
    cmocka_unit_test_setup(test_ckpt_peak_uniform_formula, setup),
    cmocka_unit_test_setup(test_ckpt_peak_smallest_at_sqrt_n, setup),
    cmocka_unit_test_setup(test_ckpt_peak_mixed_matches_prediction, setup),
    cmocka_unit_test_setup(test_ckpt_predict_keeps_two_outputs, setup),
    cmocka_unit_test_setup(test_ckpt_regions_and_counters, setup),
  };
  return cmocka_run_group_tests_name("ckpt", tests, group_setup, NULL);
}
