/*
 * test_preload_demo.c: the kernels demo under the recorder.  Each memory switch must show in the
 * database what it promises (issue "kernels"): pool -> >= 100x fewer heap allocations;
 * checkpointing -> the peak falls by exactly what the sqrt(n) law predicts; chunked -> peak
 * independent of the data size; sparse at 10% -> hidden weights <= 22% of dense; mmap -> the
 * dataset leaves the heap; f16 -> half the bytes; the loss unchanged where the arithmetic is.  Counts and
 * peaks are the model's own (no BLAS frame in the stack), so they hold whatever kernel the BLAS
 * picks for the CPU.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq_test.h"
#include "hq_json_flat.h"

/* Run heapql-demo ARGS... under `heapql run`; returns the open database and the demo's stdout. */
static sqlite3 *run_demo(const char *name, char **out_text, const char *a1, const char *a2,
                         const char *a3, const char *a4, const char *a5, const char *a6) {
#ifdef HQ_SANITIZED
  /* A sanitizer runtime interposes malloc too and must come first: a sanitized heapql-demo
   * cannot run under the recorder (the preload is never sanitized). */
  print_message("skipped: heapql-demo is built with a sanitizer in this build\n");
  skip();
#endif
  const char *db = hq_test_join(hq_test_tmpdir(), name);
  char *argv[16] = {(char *)hq_test_build_path("bin/heapql"), "run", "-q", "-o", (char *)db, "--",
                    (char *)hq_test_build_path("bin/heapql-demo")};
  const char *extra[] = {a1, a2, a3, a4, a5, a6};
  hq_test_proc_t p;
  int n = 7;
  for (int i = 0; i < 6 && extra[i]; i++) argv[n++] = (char *)extra[i];
  argv[n] = NULL;
  assert_int_equal(hq_test_run(argv, NULL, NULL, 120, &p), 0);
  if (p.exit_status != 0) fail_msg("heapql-demo failed: %s", p.err);
  if (out_text) *out_text = strdup(p.out);
  hq_test_proc_free(&p);
  return hq_test_sqlite_open(db);
}

/*
 * The model's own heap blocks: heap-class allocations whose stack passes through no BLAS module.
 * Which kernel a BLAS picks depends on the CPU (OpenBLAS's AVX-512 COOPERLAKE sgemm allocates a
 * 1 KiB temporary per call where its Haswell and Zen kernels allocate nothing), so no figure a
 * test asserts may count the BLAS's own allocations: they are counted apart (BLAS_ALLOCS).
 */
#define BLAS_STACKS                                                                    \
  "SELECT DISTINCT stack_id FROM stack_frames WHERE module LIKE '%%blas%%' AND stack_id IN " \
  "(SELECT DISTINCT stack_id FROM allocations)"
#define OWN_HEAP                                                                       \
  "SELECT a.* FROM allocations a JOIN kinds k ON k.kind = a.kind "                     \
  "WHERE k.class = 'heap' AND a.stack_id NOT IN (" BLAS_STACKS ")"
#define HEAP_ALLOCS "SELECT count(*) FROM (" OWN_HEAP ")"
#define BLAS_ALLOCS                                                                    \
  "SELECT count(*) FROM allocations a JOIN kinds k ON k.kind = a.kind "                \
  "WHERE k.class = 'heap' AND a.stack_id IN (" BLAS_STACKS ")"
/* The peak of the model's own live heap bytes: a sweep over its allocations and frees in time
 * order (a free at the same instant as an allocation first, as a moving realloc releases). */
#define PEAK                                                                           \
  "WITH own AS (" OWN_HEAP "), "                                                       \
  "ev(t, ord, d) AS (SELECT t_alloc, 1, size FROM own "                                \
  "                  UNION ALL SELECT t_free, 0, -size FROM own WHERE t_free IS NOT NULL) " \
  "SELECT coalesce(max(live), 0) FROM "                                                \
  "(SELECT sum(d) OVER (ORDER BY t, ord ROWS UNBOUNDED PRECEDING) AS live FROM ev)"

static void test_demo_pool_cuts_heap_allocations(void **state) {
  (void)state;
  char *t_pool;
  long buffers = -1;
  sqlite3 *plain = run_demo("plain.db", NULL, NULL, NULL, NULL, NULL, NULL, NULL);
  sqlite3 *pool = run_demo("pool.db", &t_pool, "--pool", NULL, NULL, NULL, NULL, NULL);
  int64_t a = hq_test_q_int(plain, HEAP_ALLOCS), b = hq_test_q_int(pool, HEAP_ALLOCS);
  print_message("the model's heap allocations: %lld without the pool, %lld with it; the BLAS's own: "
                "%lld and %lld\n", (long long)a, (long long)b, (long long)hq_test_q_int(plain, BLAS_ALLOCS),
                (long long)hq_test_q_int(pool, BLAS_ALLOCS));
  assert_true(b > 0);
  assert_true(a >= 100 * b);
  /* the pool's blocks are reported beside the heap, as kind 'pool': every buffer the demo
   * says it took from the pool */
  for (const char *line = t_pool; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
    if (sscanf(line, "memory: %ld allocations, ", &buffers) == 1) break;
  assert_int_equal(hq_test_q_int(pool, "SELECT count(*) FROM allocations WHERE kind = 'pool'"), buffers);
  assert_true(a >= buffers);
  free(t_pool);
  /* and its counters and the regions of the training step are there */
  assert_true(hq_test_q_int(pool, "SELECT count(*) FROM counters WHERE name LIKE 'pool%%.hits'") > 0);
  assert_int_equal(hq_test_q_int(pool, "SELECT count(*) FROM regions WHERE name = 'forward'"),
                   hq_test_q_int(pool, "SELECT count(*) FROM regions WHERE name = 'backward'"));
  sqlite3_close(plain);
  sqlite3_close(pool);
}

static long activation_peak(const char *text, const char *what) {
  const char *p = strstr(text, "activations peak ");
  long peak = -1, law = -1, without = -1;
  assert_non_null(p);
  assert_int_equal(sscanf(p, "activations peak %ld B (law %ld B; without checkpointing %ld B)", &peak,
                          &law, &without), 3);
  assert_int_equal(peak, law); /* the demo's own accounting agrees with the law */
  return !strcmp(what, "without") ? without : peak;
}

static void test_demo_checkpoint_peak_follows_law(void **state) {
  (void)state;
  char *t_plain, *t_ckpt;
  sqlite3 *plain = run_demo("nockpt.db", &t_plain, "--layers", "16", NULL, NULL, NULL, NULL);
  sqlite3 *ckpt = run_demo("ckpt.db", &t_ckpt, "--layers", "16", "--checkpoint", NULL, NULL, NULL);
  long act_plain = activation_peak(t_plain, "peak"), act_ckpt = activation_peak(t_ckpt, "peak");
  int64_t measured = hq_test_q_int(plain, PEAK) - hq_test_q_int(ckpt, PEAK);
  print_message("peak heap fell by %lld B; the sqrt(n) law predicts %ld B\n", (long long)measured,
                act_plain - act_ckpt);
  assert_true(act_ckpt < act_plain);
  assert_int_equal(activation_peak(t_ckpt, "without"), act_plain);
  assert_int_equal(measured, act_plain - act_ckpt);
  /* the recomputation shows as its own regions */
  assert_true(hq_test_q_int(ckpt, "SELECT count(*) FROM regions WHERE name LIKE '%%recompute%%'") > 0);
  assert_int_equal(hq_test_q_int(plain, "SELECT count(*) FROM regions WHERE name LIKE '%%recompute%%'"), 0);
  free(t_plain);
  free(t_ckpt);
  sqlite3_close(plain);
  sqlite3_close(ckpt);
}

static void test_demo_chunked_peak_independent_of_size(void **state) {
  (void)state;
  sqlite3 *small = run_demo("small.db", NULL, "--chunk-size", "256", "--mmap-data", "--days", "2048", NULL);
  sqlite3 *big = run_demo("big.db", NULL, "--chunk-size", "256", "--mmap-data", "--days", "8192", NULL);
  sqlite3 *whole_small = run_demo("ws.db", NULL, "--days", "2048", NULL, NULL, NULL, NULL);
  sqlite3 *whole_big = run_demo("wb.db", NULL, "--days", "8192", NULL, NULL, NULL, NULL);
  int64_t s = hq_test_q_int(small, PEAK), b = hq_test_q_int(big, PEAK);
  print_message("chunked peak heap: %lld B at 2048 days, %lld B at 8192 days\n", (long long)s, (long long)b);
  assert_int_equal(s, b);
  /* without chunking the peak grows with the data */
  assert_true(hq_test_q_int(whole_big, PEAK) > hq_test_q_int(whole_small, PEAK) + 1000000);
  sqlite3_close(small);
  sqlite3_close(big);
  sqlite3_close(whole_small);
  sqlite3_close(whole_big);
}

/* Bytes allocated inside the "hidden weights" regions and still live when each region ended. */
#define HIDDEN "SELECT sum(a.size) FROM allocations a JOIN regions r ON r.id = a.region_id " \
               "WHERE r.name = 'hidden weights' AND (a.t_free IS NULL OR a.t_free > r.t_end)"

static void test_demo_sparse_weights_bytes(void **state) {
  (void)state;
  sqlite3 *dense = run_demo("dense.db", NULL, NULL, NULL, NULL, NULL, NULL, NULL);
  sqlite3 *sparse = run_demo("sparse.db", NULL, "--sparse-weights", "0.1", NULL, NULL, NULL, NULL);
  int64_t d = hq_test_q_int(dense, HIDDEN), s = hq_test_q_int(sparse, HIDDEN);
  print_message("hidden weights: %lld B dense, %lld B sparse (%.1f%%)\n", (long long)d, (long long)s,
                100.0 * (double)s / (double)d);
  assert_true(s > 0);
  assert_true(s * 100 <= d * 22);
  sqlite3_close(dense);
  sqlite3_close(sparse);
}

/* The final loss the demo reported (its last "loss" counter), at full precision. */
static double final_loss(sqlite3 *db) {
  sqlite3_stmt *st;
  double v = -1;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM counters WHERE name = 'loss' "
                                          "ORDER BY t DESC, rowid DESC LIMIT 1", -1, &st, NULL), SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_double(st, 0);
  sqlite3_finalize(st);
  assert_true(v > 0);
  return v;
}

/* The demo's own account of its data: "memory: data R B returns (TYPE, WHERE) + T B targets". */
static void data_bytes(const char *text, long *returns, long *targets, char *type) {
  const char *p = strstr(text, "memory: data ");
  assert_non_null(p);
  assert_int_equal(sscanf(p, "memory: data %ld B returns (%3s %*[^)]) + %ld B targets", returns, type,
                          targets), 3);
  if (type[strlen(type) - 1] == ',') type[strlen(type) - 1] = '\0';
}

/* mmap: the heap peak falls by the dataset (returns and targets) less the few hundred bytes the
 * maps' bookkeeping takes, and no heap block holds the data any more; f16: the returns take exactly half the bytes; the loss is the same to 1e-6
 * (relative) where the arithmetic is (pool, mmap, checkpointing), within 1e-3 with f16 storage
 * (returns rounded to 11 bits) and within a factor 2 with 10% sparse hidden weights (another
 * model).  Chunked training: test_demo_chunked_same_loss. */
static void test_demo_mmap_f16_and_loss(void **state) {
  (void)state;
  char *t_plain, *t_mmap, *t_f16, type[8];
  long r_plain, tg_plain, r_mmap, tg_mmap, r_f16, tg_f16;
  sqlite3 *plain = run_demo("lplain.db", &t_plain, NULL, NULL, NULL, NULL, NULL, NULL);
  sqlite3 *mmap = run_demo("lmmap.db", &t_mmap, "--mmap-data", NULL, NULL, NULL, NULL, NULL);
  sqlite3 *f16 = run_demo("lf16.db", &t_f16, "--f16-storage", NULL, NULL, NULL, NULL, NULL);
  sqlite3 *pool = run_demo("lpool.db", NULL, "--pool", NULL, NULL, NULL, NULL, NULL);
  sqlite3 *ckpt = run_demo("lckpt.db", NULL, "--checkpoint", NULL, NULL, NULL, NULL, NULL);
  sqlite3 *sparse = run_demo("lsparse.db", NULL, "--sparse-weights", "0.1", NULL, NULL, NULL, NULL);
  double l0 = final_loss(plain);

  data_bytes(t_plain, &r_plain, &tg_plain, type);
  assert_string_equal(type, "f32");
  data_bytes(t_mmap, &r_mmap, &tg_mmap, type);
  assert_int_equal(r_mmap, r_plain);
  {
    /* the maps' own bookkeeping (file names, headers) takes a few hundred heap bytes */
    int64_t fell = hq_test_q_int(plain, PEAK) - hq_test_q_int(mmap, PEAK);
    print_message("mmap: the heap peak fell by %lld B; the dataset is %ld B\n", (long long)fell,
                  r_plain + tg_plain);
    assert_true(fell <= r_plain + tg_plain && fell >= r_plain + tg_plain - 1024);
  }
  assert_int_equal(hq_test_q_int(plain, "SELECT count(*) FROM (" OWN_HEAP ") WHERE size = %ld", r_plain), 1);
  assert_int_equal(hq_test_q_int(mmap, "SELECT count(*) FROM (" OWN_HEAP ") WHERE size = %ld", r_plain), 0);

  data_bytes(t_f16, &r_f16, &tg_f16, type);
  assert_string_equal(type, "f16");
  assert_int_equal(r_f16 * 2, r_plain);
  assert_int_equal(hq_test_q_int(f16, "SELECT count(*) FROM (" OWN_HEAP ") WHERE size = %ld", r_plain / 2), 1);
  assert_int_equal(hq_test_q_int(f16, "SELECT count(*) FROM (" OWN_HEAP ") WHERE size = %ld", r_plain), 0);

  print_message("final loss: plain %.9g, pool %.9g, mmap %.9g, checkpoint %.9g, f16 %.9g, sparse %.9g\n",
                l0, final_loss(pool), final_loss(mmap), final_loss(ckpt), final_loss(f16), final_loss(sparse));
  assert_true(fabs(final_loss(pool) - l0) <= 1e-6 * l0);
  assert_true(fabs(final_loss(mmap) - l0) <= 1e-6 * l0);
  assert_true(fabs(final_loss(ckpt) - l0) <= 1e-6 * l0);
  assert_true(fabs(final_loss(f16) - l0) <= 1e-3 * l0);
  assert_true(final_loss(sparse) < 2 * l0 && final_loss(sparse) > l0 / 2);
  free(t_plain);
  free(t_mmap);
  free(t_f16);
  sqlite3_close(plain);
  sqlite3_close(mmap);
  sqlite3_close(f16);
  sqlite3_close(pool);
  sqlite3_close(ckpt);
  sqlite3_close(sparse);
}

/* `heapql report --recommend` on the plain run names the pool (the layers' buffers, made and
 * dropped every step) and says nothing of the kind once the pool is on. */
static const char *recommend_json(const char *name, const char *a1) {
  static char *kept[2];
  static int next;
  sqlite3 *h = run_demo(name, NULL, a1, NULL, NULL, NULL, NULL, NULL);
  char *db = strdup(sqlite3_db_filename(h, "main")); /* where run_demo recorded */
  char *argv[] = {(char *)hq_test_build_path("bin/heapql"), "report", (char *)db, "--recommend",
                  "--format", "json", "--wrappers", "fun:demo_alloc,fun:model_alloc,fun:hq__model_alloc",
                  NULL};
  hq_test_proc_t p;
  sqlite3_close(h);
  assert_int_equal(hq_test_run(argv, NULL, NULL, 120, &p), 0);
  if (p.exit_status) print_message("%s", p.err);
  assert_int_equal(p.exit_status, 0);
  free(db);
  free(kept[next & 1]);
  kept[next & 1] = p.out;
  p.out = NULL;
  hq_test_proc_free(&p);
  return kept[next++ & 1];
}

static void test_demo_recommend_names_pool(void **state) {
  (void)state;
  hq_json_t j;
  assert_int_equal(hq_json_parse(recommend_json("rplain.db", NULL), &j), 0);
  assert_string_equal(hq_json_get(&j, "findings[0].name")->value, "short_lived");
  assert_string_equal(hq_json_get(&j, "findings[0].fix")->value, "pool");
  assert_null(hq_json_get(&j, "findings[1]"));
  assert_string_equal(hq_json_get(&j, "findings[0].evidence[0].function")->value, "layer_forward");
  assert_string_equal(hq_json_get(&j, "findings[0].evidence[0].allocations")->value, "2304");
  assert_string_equal(hq_json_get(&j, "findings[0].evidence[1].function")->value, "layer_backward");
  assert_string_equal(hq_json_get(&j, "findings[0].evidence[1].allocations")->value, "2112");
  assert_null(hq_json_get(&j, "findings[0].evidence[2]"));
  hq_json_free(&j);
  assert_int_equal(hq_json_parse(recommend_json("rpool.db", "--pool"), &j), 0);
  assert_null(hq_json_get(&j, "findings[0]"));
  hq_json_free(&j);
}

/* Chunked training holds one chunk of windows at a time (4 MiB by default: three chunks of the
 * 8,184 samples of 8,192 days) but visits the samples in the same blocks and orders as training
 * on the whole buffer: the same loss, to 1e-6. */
static void test_demo_chunked_same_loss(void **state) {
  (void)state;
  sqlite3 *whole = run_demo("cwhole.db", NULL, "--days", "8192", NULL, NULL, NULL, NULL);
  sqlite3 *chunked = run_demo("cchunk.db", NULL, "--chunked", "--days", "8192", NULL, NULL, NULL);
  double lw = final_loss(whole), lc = final_loss(chunked);
  print_message("final loss: whole %.9g, chunked %.9g\n", lw, lc);
  assert_true(fabs(lc - lw) <= 1e-6 * lw);
  /* several chunks, each a region of its own */
  assert_true(hq_test_q_int(chunked, "SELECT count(DISTINCT name) FROM regions WHERE name LIKE 'chunk %%'") >= 3);
  assert_int_equal(hq_test_q_int(whole, "SELECT count(*) FROM regions WHERE name LIKE 'chunk%%'"), 0);
  sqlite3_close(whole);
  sqlite3_close(chunked);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_demo_pool_cuts_heap_allocations),
    cmocka_unit_test(test_demo_checkpoint_peak_follows_law),
    cmocka_unit_test(test_demo_chunked_peak_independent_of_size),
    cmocka_unit_test(test_demo_sparse_weights_bytes),
    cmocka_unit_test(test_demo_mmap_f16_and_loss),
    cmocka_unit_test(test_demo_chunked_same_loss),
    cmocka_unit_test(test_demo_recommend_names_pool),
  };
  return cmocka_run_group_tests_name("preload_demo", tests, NULL, NULL);
}
