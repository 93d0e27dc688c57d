/*
 * test_optim.c: SGD and Adam: exact values after one and two steps on a tiny problem, the state
 * bytes each reports, the allocator hook, and a small regression that must converge.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hq_test.h"
#include "heapql/kernels.h"
#include "hq_model_int.h"   /* sizeof the handles */

/* Linear 1->2 then linear 2->1: 7 parameters.  The tests set the first layer's W (1 x 2) and b (2)
 * and their gradients by hand; the second layer's gradients stay zero. */
static hq_model_t *tiny(float **p, float **g) {
  hq_model_t *m = NULL;
  assert_int_equal(hq_model_create(1, NULL, &m), HQ_OK);
  assert_int_equal(hq_model_add_linear(m, 2, 1), HQ_OK);
  assert_int_equal(hq_model_add_linear(m, 1, 2), HQ_OK);
  assert_int_equal(hq_model_param(m, 0, &p[0], &g[0], NULL), HQ_OK);
  assert_int_equal(hq_model_param(m, 1, &p[1], &g[1], NULL), HQ_OK);
  return m;
}

static void set4(float **v, const float vals[4]) {
  v[0][0] = vals[0];
  v[0][1] = vals[1];
  v[1][0] = vals[2];
  v[1][1] = vals[3];
}

static void expect4(float **v, const float vals[4]) {
  assert_true(v[0][0] == vals[0]);
  assert_true(v[0][1] == vals[1]);
  assert_true(v[1][0] == vals[2]);
  assert_true(v[1][1] == vals[3]);
}

static void test_optim_sgd_one_step_exact(void **state) {
  (void)state;
  float *p[2], *g[2];
  hq_model_t *m = tiny(p, g);
  hq_optim_t *o = NULL;
  assert_int_equal(hq_optim_sgd_create(m, 0.5f, 0.0f, &o), HQ_OK);
  assert_int_equal(hq_optim_state_bytes(o), 0);
  set4(p, (const float[4]){1.0f, -2.0f, 0.5f, 3.0f});
  set4(g, (const float[4]){0.5f, 0.25f, -1.0f, 0.0f});
  assert_int_equal(hq_optim_step(o), HQ_OK);
  expect4(p, (const float[4]){0.75f, -2.125f, 1.0f, 3.0f});
  hq_optim_destroy(o);
  hq_model_destroy(m);
}

static void test_optim_sgd_momentum_two_steps_exact(void **state) {
  (void)state;
  float *p[2], *g[2];
  hq_model_t *m = tiny(p, g);
  hq_optim_t *o = NULL;
  assert_int_equal(hq_optim_sgd_create(m, 0.5f, 0.5f, &o), HQ_OK);
  /* one momentum float per parameter: 1x2 + 2 + 2x1 + 1 = 7 */
  assert_int_equal(hq_optim_state_bytes(o), 7 * 4);
  set4(p, (const float[4]){1.0f, -2.0f, 0.5f, 3.0f});
  set4(g, (const float[4]){0.5f, 0.25f, -1.0f, 0.0f});
  assert_int_equal(hq_optim_step(o), HQ_OK);            /* buf = g */
  expect4(p, (const float[4]){0.75f, -2.125f, 1.0f, 3.0f});
  assert_int_equal(hq_optim_step(o), HQ_OK);            /* buf = 0.5 g + g = 1.5 g */
  expect4(p, (const float[4]){0.375f, -2.3125f, 1.75f, 3.0f});
  hq_optim_destroy(o);
  hq_model_destroy(m);
}

/* Adam's first step moves each parameter by lr * sign(g) (bias correction makes mhat = g and
 * vhat = g^2); with eps = 0 and lr a power of two that is exact. */
static void test_optim_adam_one_step_exact(void **state) {
  (void)state;
  float *p[2], *g[2];
  hq_model_t *m = tiny(p, g);
  hq_optim_t *o = NULL;
  assert_int_equal(hq_optim_adam_create(m, 0.125f, 0.5f, 0.75f, 0.0f, &o), HQ_OK);
  assert_int_equal(hq_optim_state_bytes(o), 2 * 7 * 4);
  set4(p, (const float[4]){1.0f, -2.0f, 0.5f, 3.0f});
  set4(g, (const float[4]){0.5f, 0.25f, -1.0f, 4.0f});
  assert_int_equal(hq_optim_step(o), HQ_OK);
  expect4(p, (const float[4]){0.875f, -2.125f, 0.625f, 2.875f});
  /* step 2 with g2: m = 0.5 m1 + 0.5 g2, v = 0.75 v1 + 0.25 g2^2, corrections 0.75 and 0.4375 */
  set4(g, (const float[4]){0.25f, 0.25f, -0.5f, 0.0f});
  assert_int_equal(hq_optim_step(o), HQ_OK);
  const double g1[4] = {0.5, 0.25, -1.0, 4.0}, g2[4] = {0.25, 0.25, -0.5, 0.0};
  const double p1[4] = {0.875, -2.125, 0.625, 2.875};
  const float got[4] = {p[0][0], p[0][1], p[1][0], p[1][1]};
  for (int i = 0; i < 4; i++) {
    double m2 = 0.5 * (0.5 * g1[i]) + 0.5 * g2[i];
    double v2 = 0.75 * (0.25 * g1[i] * g1[i]) + 0.25 * g2[i] * g2[i];
    double expect = p1[i] - 0.125 * (m2 / 0.75) / sqrt(v2 / 0.4375);
    assert_true(fabs(got[i] - expect) <= 2e-7 * fabs(expect));
  }
  hq_optim_destroy(o);
  hq_model_destroy(m);
}

static void test_optim_state_bytes_reported_by_model(void **state) {
  (void)state;
  hq_model_t *m = NULL;
  assert_int_equal(hq_model_create(64, NULL, &m), HQ_OK);
  assert_int_equal(hq_model_add_linear(m, 32, 1), HQ_OK);
  const size_t params = 64 * 32 + 32;
  hq_optim_t *adam = NULL, *sgd = NULL;
  assert_int_equal(hq_optim_adam_create(m, 1e-3f, 0.9f, 0.999f, 1e-8f, &adam), HQ_OK);
  assert_int_equal(hq_optim_sgd_create(m, 1e-2f, 0.9f, &sgd), HQ_OK);
  assert_int_equal(hq_optim_state_bytes(adam), 2 * params * 4);
  assert_int_equal(hq_optim_state_bytes(sgd), params * 4);
  hq_model_mem_t mem;
  assert_int_equal(hq_model_mem(m, &mem), HQ_OK);
  assert_int_equal(mem.optimizer_bytes, 3 * params * 4);
  hq_optim_destroy(adam);
  assert_int_equal(hq_model_mem(m, &mem), HQ_OK);
  assert_int_equal(mem.optimizer_bytes, params * 4);
  hq_optim_destroy(sgd);
  assert_int_equal(hq_model_mem(m, &mem), HQ_OK);
  assert_int_equal(mem.optimizer_bytes, 0);
  assert_int_equal(hq_optim_state_bytes(NULL), 0);
  hq_model_destroy(m);
}

static void test_optim_bad_arguments(void **state) {
  (void)state;
  hq_model_t *m = NULL;
  hq_optim_t *o = (hq_optim_t *)1;
  assert_int_equal(hq_model_create(2, NULL, &m), HQ_OK);
  assert_int_equal(hq_model_add_linear(m, 1, 1), HQ_OK);
  assert_int_equal(hq_optim_sgd_create(m, 0.0f, 0.0f, &o), HQ_EINVAL);
  assert_null(o);
  assert_int_equal(hq_optim_sgd_create(m, 0.1f, 1.0f, &o), HQ_EINVAL);
  assert_int_equal(hq_optim_sgd_create(NULL, 0.1f, 0.0f, &o), HQ_EMISUSE);
  assert_int_equal(hq_optim_adam_create(m, 0.1f, 1.0f, 0.9f, 1e-8f, &o), HQ_EINVAL);
  assert_int_equal(hq_optim_adam_create(m, 0.1f, 0.9f, 0.9f, -1.0f, &o), HQ_EINVAL);
  assert_int_equal(hq_optim_adam_create(m, NAN, 0.9f, 0.9f, 0.0f, &o), HQ_EINVAL);
  assert_int_equal(hq_optim_step(NULL), HQ_EMISUSE);
  hq_optim_destroy(NULL);
  hq_model_destroy(m);
}

/* A counting allocator: every byte the model and optimiser hold goes through it. */
typedef struct {
  size_t live_bytes, calls, releases;
} counting_t;

static void *count_alloc(void *ctx, size_t bytes) {
  counting_t *c = ctx;
  c->live_bytes += bytes;
  c->calls++;
  return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
}

static void count_release(void *ctx, void *ptr, size_t bytes) {
  counting_t *c = ctx;
  c->live_bytes -= bytes;
  c->releases++;
  free(ptr);
}

static void test_optim_allocator_hook_sees_everything(void **state) {
  (void)state;
  counting_t c = {0, 0, 0};
  const hq_model_allocator_t alloc = {count_alloc, count_release, &c};
  hq_model_t *m = NULL;
  hq_optim_t *o = NULL;
  assert_int_equal(hq_model_create(8, &alloc, &m), HQ_OK);
  assert_int_equal(hq_model_add_linear(m, 4, 1), HQ_OK);
  assert_int_equal(hq_model_add_relu(m), HQ_OK);
  assert_int_equal(hq_model_add_linear(m, 2, 2), HQ_OK);
  hq_model_mem_t before;
  assert_int_equal(hq_model_mem(m, &before), HQ_OK);
  /* the handle, three layer records, the first layer list (16 slots of 3 pointers) */
  assert_int_equal(before.handle_bytes,
                   sizeof(struct hq_model_s) + 3 * sizeof(hq__layer_t) + 16 * 3 * sizeof(void *));
  assert_int_equal(hq_optim_adam_create(m, 1e-3f, 0.9f, 0.999f, 1e-8f, &o), HQ_OK);
  const size_t params = 8 * 4 + 4 + 4 * 2 + 2;
  hq_model_mem_t mem;
  assert_int_equal(hq_model_mem(m, &mem), HQ_OK);
  const size_t handles = mem.handle_bytes;
  assert_true(handles > before.handle_bytes);   /* plus the optimiser's handle */
  /* params, grads, Adam's m and v, and the handles */
  assert_int_equal(c.live_bytes, 2 * params * 4 + 2 * params * 4 + handles);
  float x[16] = {0}, dy[4] = {1, 1, 1, 1};
  const float *y;
  assert_int_equal(hq_model_forward(m, x, 2, &y), HQ_OK);
  assert_int_equal(c.live_bytes, 4 * params * 4 + handles + 2 * (4 + 4 + 2) * 4);
  assert_int_equal(hq_model_backward(m, dy, NULL), HQ_OK);
  assert_int_equal(c.live_bytes, 4 * params * 4 + handles);
  assert_int_equal(hq_model_mem(m, &mem), HQ_OK);
  assert_int_equal(mem.allocations, c.calls);
  hq_optim_destroy(o);
  hq_model_destroy(m);
  assert_int_equal(c.live_bytes, 0);
  assert_int_equal(c.releases, c.calls);
  /* an allocator without functions is refused */
  const hq_model_allocator_t half = {count_alloc, NULL, &c};
  assert_int_equal(hq_model_create(8, &half, &m), HQ_EINVAL);
}

/* y = 2 x0 - x1 + 0.5 learnt by one linear layer with Adam and with SGD + momentum. */
static void test_optim_linear_regression_converges(void **state) {
  (void)state;
  float x[64], t[32];
  for (int i = 0; i < 32; i++) {
    x[2 * i] = (float)((i * 7) % 11) / 5.0f - 1.0f;
    x[2 * i + 1] = (float)((i * 5) % 13) / 6.0f - 1.0f;
    t[i] = 2.0f * x[2 * i] - x[2 * i + 1] + 0.5f;
  }
  for (int kind = 0; kind < 2; kind++) {
    hq_model_t *m = NULL;
    hq_optim_t *o = NULL;
    assert_int_equal(hq_model_create(2, NULL, &m), HQ_OK);
    assert_int_equal(hq_model_add_linear(m, 1, 3), HQ_OK);
    if (kind == 0)
      assert_int_equal(hq_optim_adam_create(m, 0.05f, 0.9f, 0.999f, 1e-8f, &o), HQ_OK);
    else
      assert_int_equal(hq_optim_sgd_create(m, 0.1f, 0.9f, &o), HQ_OK);
    float loss = 0, dy[32];
    for (int step = 0; step < 400; step++) {
      const float *y;
      hq_model_zero_grad(m);
      assert_int_equal(hq_model_forward(m, x, 32, &y), HQ_OK);
      assert_int_equal(hq_loss_mse(y, t, 32, 1, &loss, dy), HQ_OK);
      assert_int_equal(hq_model_backward(m, dy, NULL), HQ_OK);
      assert_int_equal(hq_optim_step(o), HQ_OK);
    }
    float *w, *b;
    hq_model_param(m, 0, &w, NULL, NULL);
    hq_model_param(m, 1, &b, NULL, NULL);
    assert_true(loss < 1e-5f);
    assert_true(fabsf(w[0] - 2.0f) < 1e-2f && fabsf(w[1] + 1.0f) < 1e-2f && fabsf(b[0] - 0.5f) < 1e-2f);
    hq_optim_destroy(o);
    hq_model_destroy(m);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_optim_sgd_one_step_exact),
    cmocka_unit_test(test_optim_sgd_momentum_two_steps_exact),
    cmocka_unit_test(test_optim_adam_one_step_exact),
    cmocka_unit_test(test_optim_state_bytes_reported_by_model),
    cmocka_unit_test(test_optim_bad_arguments),
    cmocka_unit_test(test_optim_allocator_hook_sees_everything),
    cmocka_unit_test(test_optim_linear_regression_converges),
  };
  return cmocka_run_group_tests_name("optim", tests, NULL, NULL);
}
