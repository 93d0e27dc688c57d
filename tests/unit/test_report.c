/*
 * test_report.c: every figure of the report on a database with a known truth (see
 * tests/support/hq_report_fixture.c for the rows and the arithmetic): the report structure, the
 * JSON (DESIGN §5 keys, and each value equal to its documented query in docs/schema.md), the
 * text, leak classes, --recommend findings, an empty database, the site/line/stack API, and
 * `heapql query`'s read-only runner.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq_test.h"
#include "hq_json_flat.h"
#include "hq_report_fixture.h"
#include "output/output_int.h"

static hq_db_t *fixture_db(int agg, int flags, int open_flags) {
  const char *path = hq_test_join(hq_test_tmpdir(), "fixture.db");
  hq_db_t *db = NULL;
  hq_fixture_report(path, agg, flags);
  if (hq_db_open(path, open_flags, &db) != HQ_OK) fail_msg("open: %s", hq_db_errmsg(db));
  return db;
}

/* Run fn into a memory buffer. */
static char *capture_report(const hq_report_t *r, int json) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  assert_int_equal(json ? hq_report_write_json(r, f) : hq_report_write_text(r, f), HQ_OK);
  fclose(f);
  return buf;
}

/* The known truth, worked out by hand in hq_report_fixture.c. */
static const double fixture_growth = 99670.0 / 110.0;

static void test_report_figures(void **state) {
  hq_db_t *db = fixture_db(HQ_FIXTURE_STREAM, 0, HQ_DB_READONLY);
  hq_report_t *r = NULL;
  (void)state;
  assert_int_equal(hq_report_compute(db, NULL, &r), HQ_OK);
  assert_string_equal(r->program, "victim");
  assert_string_equal(r->command_line, "./victim --leak");
  assert_int_equal(r->pid, 100);
  assert_int_equal(r->duration_ns, 10000000000LL);
  assert_true(r->has_exit_status);
  assert_int_equal(r->exit_status, 0);
  assert_true(r->complete);
  assert_null(r->incomplete_reason);
  assert_true(r->symbolized);
  /* peaks */
  assert_int_equal(r->peak_heap_bytes, 10836);
  assert_int_equal(r->peak_heap_t_ns, 7000000000LL);
  assert_int_equal(r->peak_device_bytes, 1048576);
  assert_int_equal(r->peak_device_t_ns, 5500000000LL);
  assert_int_equal(r->peak_mmap_bytes, 1048576);
  assert_int_equal(r->peak_mmap_t_ns, 3500000000LL);
  assert_true(r->has_rss);
  assert_int_equal(r->peak_rss_bytes, 5600000);
  assert_int_equal(r->peak_rss_t_ns, 8000000000LL);
  /* totals */
  assert_int_equal(r->allocations_count, 12);
  assert_int_equal(r->allocations_bytes, 13330);
  assert_int_equal(r->frees_count, 7);
  assert_int_equal(r->reallocs_count, 2);
  assert_int_equal(r->classes[HQ_CLASS_HEAP].realloced, 2);
  assert_int_equal(r->classes[HQ_CLASS_MMAP].allocations, 1);
  assert_int_equal(r->classes[HQ_CLASS_MMAP].temporary, 1);
  assert_int_equal(r->classes[HQ_CLASS_DEVICE].leaked_bytes, 1048576);
  assert_int_equal(r->classes[HQ_CLASS_POOL].allocations, 0);
  assert_false(r->classes[HQ_CLASS_POOL].has_peak);
  /* leaks */
  assert_int_equal(r->leak_blocks, 3);
  assert_int_equal(r->leak_bytes, 5796);
  assert_false(r->leaks_classified);
  assert_int_equal(r->unclassified.blocks, 3);
  assert_int_equal(r->unclassified.bytes, 5796);
  /* temporaries: rows 1, 6, 7, 8, 14 */
  assert_int_equal(r->temporary_count, 5);
  /* metrics */
  assert_int_equal(r->n_samples, 11);
  assert_true(r->has_growth_rate);
  assert_true(fabs(r->growth_rate_bytes_per_s - fixture_growth) < 1e-9 * fixture_growth);
  assert_true(r->has_fragmentation_ratio);
  assert_true(fabs(r->fragmentation_ratio - 5600000.0 / 1059412.0) < 1e-12);
  assert_true(fabs(r->efficiency_score - 41.8) < 1e-9);
  /* top lists: sites, ties by site text; each with its representative stack and callers */
  assert_int_equal(r->n_top_count, 4);
  assert_int_equal(r->top_count[0].stack_id, 2);
  assert_int_equal(r->top_count[1].stack_id, 5);
  assert_int_equal(r->top_count[2].stack_id, 3);
  assert_int_equal(r->top_count[3].stack_id, 4);
  assert_string_equal(r->top_count[0].location, "make_buffers victim.c:20");
  assert_string_equal(r->top_count[0].function, "make_buffers");
  assert_string_equal(r->top_count[0].file, "victim.c");
  assert_int_equal(r->top_count[0].line, 20);
  assert_int_equal(r->top_count[0].stacks, 1);
  assert_int_equal(r->top_count[0].n_callers, 1);
  assert_string_equal(r->top_count[0].callers[0].location, "main victim.c:40");
  assert_int_equal(r->top_count[0].callers[0].value, 4);
  assert_true(r->top_count[0].callers[0].share == 1.0);
  /* an inlined function is its own site, named without the [inlined] mark */
  assert_string_equal(r->top_count[1].location, "fill victim.c:12");
  assert_string_equal(r->top_count[1].callers[0].location, "make_buffers victim.c:21");
  /* a frame without symbols: module and offset; its caller is the first named frame */
  assert_string_equal(r->top_count[3].location, "libgone.so+0x1000");
  assert_null(r->top_count[3].function);
  assert_string_equal(r->top_count[3].module, "/opt/gone/libgone.so");
  assert_int_equal(r->top_count[3].offset, 0x1000);
  assert_string_equal(r->top_count[3].callers[0].location, "worker victim.c:30");
  assert_int_equal(r->top_bytes[0].stack_id, 4);
  assert_int_equal(r->top_bytes[0].bytes, 6096);
  assert_int_equal(r->n_top_peak, 4);
  assert_int_equal(r->top_peak[0].stack_id, 3);
  assert_int_equal(r->top_peak[0].peak_bytes, 5700);
  assert_int_equal(r->top_peak[0].peak_blocks, 2);
  assert_int_equal(r->top_peak[3].stack_id, 5);
  assert_int_equal(r->top_peak[3].peak_bytes, 40);
  assert_int_equal(r->n_top_temporary, 3);
  assert_int_equal(r->top_temporary[2].stack_id, 4);
  assert_int_equal(r->n_top_leaks, 4);
  assert_int_equal(r->top_leaks[0].cls, HQ_CLASS_DEVICE);
  assert_int_equal(r->top_leaks[0].stack_id, 3);
  assert_int_equal(r->top_leaks[3].cls, HQ_CLASS_HEAP);
  assert_int_equal(r->top_leaks[3].leaked_bytes, 700);
  assert_int_equal(r->n_top_lines, 4);
  assert_string_equal(r->top_lines[1].location, "worker victim.c:30");
  assert_int_equal(r->top_lines[1].peak_bytes, 5700);
  assert_string_equal(r->top_lines[3].file, "victim.c");
  assert_int_equal(r->top_lines[3].line, 12);
  assert_string_equal(r->top_lines[3].function, "fill");
  /* histogram: 9 buckets, the first is size 0 */
  assert_int_equal(r->n_histogram, 9);
  assert_int_equal(r->histogram[0].bucket, -1);
  assert_int_equal(r->histogram[0].allocations, 1);
  assert_int_equal(r->histogram[8].bucket, 12);
  assert_int_equal(r->histogram[8].bytes, 9096);
  assert_false(r->recommended);
  hq_report_free(r);
  hq_db_close(db);
}

/* A figure's value in the JSON equals the value of its documented query. */
static void compare_value(const hq_json_t *j, const char *path, sqlite3_stmt *st, int c,
                          const char *figure) {
  const hq_json_entry_t *e = hq_json_get(j, path);
  int type = sqlite3_column_type(st, c);
  if (!e) fail_msg("figure %s: JSON has no key %s", figure, path);
  switch (type) {
  case SQLITE_NULL:
    if (e->type != 'n') fail_msg("figure %s: %s is %s, the query says NULL", figure, path,
                                 e->value ? e->value : "?");
    break;
  case SQLITE_INTEGER:
    if (e->type == 'b')
      assert_int_equal(sqlite3_column_int64(st, c), !strcmp(e->value, "true"));
    else if (e->type != 'd' || strtod(e->value, NULL) != (double)sqlite3_column_int64(st, c))
      fail_msg("figure %s: %s is %s, the query says %lld", figure, path,
               e->value ? e->value : "null", (long long)sqlite3_column_int64(st, c));
    break;
  case SQLITE_FLOAT:
    if (e->type != 'd' || strtod(e->value, NULL) != sqlite3_column_double(st, c))
      fail_msg("figure %s: %s is %s, the query says %.17g", figure, path,
               e->value ? e->value : "null", sqlite3_column_double(st, c));
    break;
  default:
    if (e->type != 's' || strcmp(e->value, (const char *)sqlite3_column_text(st, c)))
      fail_msg("figure %s: %s is '%s', the query says '%s'", figure, path,
               e->value ? e->value : "null", sqlite3_column_text(st, c));
  }
}

static int check_figures(hq_db_t *db, const hq_json_t *j) {
  hq_doc_block_t *b = NULL;
  size_t n = hq_doc_blocks("figure", &b);
  int checked = 0;
  for (size_t i = 0; i < n; i++) {
    sqlite3_stmt *st = NULL;
    const hq_json_entry_t *node;
    char *brace = strchr(b[i].name, '{');
    char placeholder[64] = "";
    size_t row = 0;
    int step, is_list;
    if (sqlite3_prepare_v2(hq_db_sqlite(db), b[i].sql, -1, &st, NULL) != SQLITE_OK)
      fail_msg("figure %s: %s", b[i].name, sqlite3_errmsg(hq_db_sqlite(db)));
    if (brace) snprintf(placeholder, sizeof placeholder, "%.*s", (int)strcspn(brace + 1, "}"),
                        brace + 1);
    node = brace ? NULL : hq_json_get(j, b[i].name);
    if (!brace && !node) fail_msg("figure %s: no such key in the JSON", b[i].name);
    is_list = node && node->type == 'a';
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
      char base[256];
      if (brace) {
        const char *v = NULL;
        for (int c = 0; c < sqlite3_column_count(st); c++)
          if (!strcmp(sqlite3_column_name(st, c), placeholder))
            v = (const char *)sqlite3_column_text(st, c);
        assert_non_null(v);
        snprintf(base, sizeof base, "%.*s%s", (int)(brace - b[i].name), b[i].name, v);
      } else if (is_list) {
        snprintf(base, sizeof base, "%s[%zu]", b[i].name, row);
      } else {
        snprintf(base, sizeof base, "%s", b[i].name);
        assert_int_equal(row, 0); /* a scalar figure is one row */
      }
      if (node && node->type == 'n') {
        /* a null object: every value of the query must be NULL */
        for (int c = 0; c < sqlite3_column_count(st); c++)
          if (sqlite3_column_type(st, c) != SQLITE_NULL)
            fail_msg("figure %s is null in the JSON, the query says %s", b[i].name,
                     sqlite3_column_text(st, c));
      } else {
        for (int c = 0; c < sqlite3_column_count(st); c++) {
          char path[512];
          if (brace && !strcmp(sqlite3_column_name(st, c), placeholder)) continue;
          snprintf(path, sizeof path, "%s.%s", base, sqlite3_column_name(st, c));
          compare_value(j, path, st, c, b[i].name);
          checked++;
        }
      }
      row++;
    }
    assert_int_equal(step, SQLITE_DONE);
    if (is_list) {
      char path[256];
      snprintf(path, sizeof path, "%s[%zu]", b[i].name, row);
      if (hq_json_get(j, path)) fail_msg("figure %s: the JSON list is longer than the query's",
                                         b[i].name);
    }
    sqlite3_finalize(st);
  }
  hq_doc_blocks_free(b, n);
  return checked;
}

static void test_report_json_equals_documented_queries(void **state) {
  hq_db_t *db = fixture_db(HQ_FIXTURE_STREAM, 0, HQ_DB_READONLY);
  hq_report_t *r = NULL;
  hq_json_t j;
  char *json;
  (void)state;
  assert_int_equal(hq_report_compute(db, NULL, &r), HQ_OK);
  json = capture_report(r, 1);
  assert_int_equal(hq_json_parse(json, &j), 0);
  /* every figure block was compared, value by value */
  assert_true(check_figures(db, &j) >= 90);
  hq_json_free(&j);
  free(json);
  hq_report_free(r);
  hq_db_close(db);
}

static void expect_json(const hq_json_t *j, const char *path, char type, const char *value) {
  const hq_json_entry_t *e = hq_json_get(j, path);
  if (!e) fail_msg("JSON has no %s", path);
  if (e->type != type) fail_msg("%s: type %c, expected %c", path, e->type, type);
  if (value && strcmp(e->value, value)) fail_msg("%s = %s, expected %s", path, e->value, value);
}

static void test_report_json_contract_keys(void **state) {
  hq_db_t *db = fixture_db(HQ_FIXTURE_SCAN, 0, HQ_DB_READONLY);
  hq_report_t *r = NULL;
  hq_json_t j;
  char *json;
  (void)state;
  assert_int_equal(hq_report_compute(db, NULL, &r), HQ_OK);
  json = capture_report(r, 1);
  assert_int_equal(hq_json_parse(json, &j), 0);
  /* the keys DESIGN §5 fixes, with the fixture's values */
  expect_json(&j, "allocations.count", 'd', "12");
  expect_json(&j, "allocations.bytes", 'd', "13330");
  expect_json(&j, "frees.count", 'd', "7");
  expect_json(&j, "peak.heap_bytes", 'd', "10836");
  expect_json(&j, "peak.heap_time_s", 'd', "7.000000000");
  expect_json(&j, "peak.device_bytes", 'd', "1048576");
  expect_json(&j, "peak.rss_bytes", 'd', "5600000");
  expect_json(&j, "leaks.blocks", 'd', "3");
  expect_json(&j, "leaks.bytes", 'd', "5796");
  expect_json(&j, "leaks.definitely_lost", 'n', NULL);
  expect_json(&j, "leaks.indirectly_lost", 'n', NULL);
  expect_json(&j, "leaks.possibly_lost", 'n', NULL);
  expect_json(&j, "leaks.still_reachable", 'n', NULL);
  expect_json(&j, "temporary.count", 'd', "5");
  expect_json(&j, "metrics.growth_rate_bytes_per_s", 'd', NULL);
  expect_json(&j, "metrics.fragmentation_ratio", 'd', NULL);
  expect_json(&j, "metrics.efficiency_score", 'd', "41.8");
  assert_true(fabs(strtod(hq_json_get(&j, "metrics.growth_rate_bytes_per_s")->value, NULL) -
                   fixture_growth) < 1e-9 * fixture_growth);
  expect_json(&j, "top.by_count[1].location", 's', "fill victim.c:12");
  expect_json(&j, "top.by_count[1].line", 'd', "12");
  expect_json(&j, "top.by_count[1].callers[0].location", 's', "make_buffers victim.c:21");
  expect_json(&j, "top.by_count[1].callers[0].share", 'd', "1.0000");
  expect_json(&j, "leaks.top_sites[0].class", 's', "device");
  assert_null(hq_json_get(&j, "findings"));
  hq_json_free(&j);
  free(json);
  hq_report_free(r);
  hq_db_close(db);
}

/* Each needle must appear, in this order. */
static void expect_in_order(const char *text, const char *const *needles, size_t n) {
  const char *p = text;
  for (size_t i = 0; i < n; i++) {
    const char *q = strstr(p, needles[i]);
    if (!q) fail_msg("missing (or out of order): '%s'\n%s", needles[i], text);
    p = q + strlen(needles[i]);
  }
}

static void test_report_text(void **state) {
  static const char *const needles[] = {
    "heapql report: ",
    "== Run", "program          victim", "command line     ./victim --leak",
    "duration         10.000 s", "exit status      0", "complete         yes",
    "== Peak", "heap             10836 B (10.58 KiB) at 7.000 s",
    "device           1048576 B (1.00 MiB) at 5.500 s",
    "mmap             1048576 B (1.00 MiB) at 3.500 s",
    "RSS              5600000 B (5.34 MiB) at 8.000 s",
    "== Allocations (heap)", "allocations      12 calls, 13330 B (13.02 KiB)",
    "frees            7", "reallocs         2",
    "mmap             1 allocations, 1048576 B (1.00 MiB)",
    "== Leaks", "leaked           3 blocks, 5796 B (5.66 KiB)", "classes          not classified",
    "device           1 blocks, 1048576 B (1.00 MiB) never freed",
    "== Top leak sites", "device  worker victim.c:30\n", "100.0%  <- main victim.c:40\n",
    "== Metrics", "growth rate      906.1 B/s (least-squares slope of live heap over 11 samples",
    "fragmentation    5.29 (peak RSS / peak live heap+mmap)", "efficiency score 41.8 / 100",
    "== Temporary allocations", "temporary        5 of 12 heap allocations (41.7%)",
    "== Top sites by allocations", "make_buffers victim.c:20\n", "<- main victim.c:40\n",
    "== Top sites by bytes", "libgone.so+0x1000\n", "100.0%  <- worker victim.c:30\n",
    "== Top sites by peak contribution", "worker victim.c:30\n",
    "== Top sites by temporary allocations",
    "== Top source lines (by bytes)", "(/opt/gone/libgone.so+0x1000)", "worker victim.c:30",
    "make_buffers victim.c:20", "fill victim.c:12",
    "== Size histogram (heap)", "0                                     1              0",
    "4096 - 8191                           2           9096",
  };
  hq_db_t *db = fixture_db(HQ_FIXTURE_STREAM, 0, HQ_DB_READONLY);
  hq_report_t *r = NULL;
  char *text;
  (void)state;
  assert_int_equal(hq_report_compute(db, NULL, &r), HQ_OK);
  text = capture_report(r, 0);
  expect_in_order(text, needles, sizeof needles / sizeof needles[0]);
  assert_null(strstr(text, "== Findings"));
  free(text);
  hq_report_free(r);
  hq_db_close(db);
}

static void test_report_leak_classes(void **state) {
  hq_db_t *db = fixture_db(HQ_FIXTURE_STREAM, 0, 0);
  hq_report_t *r = NULL;
  hq_json_t j;
  char *json;
  (void)state;
  assert_int_equal(hq__db_exec(db, "UPDATE allocations SET leak_class = 'definitely_lost'"
                                   " WHERE id = 2; UPDATE allocations SET leak_class ="
                                   " 'possibly_lost' WHERE id = 12"), HQ_OK);
  assert_int_equal(hq__aggregate_refresh_leaks(db), HQ_OK);
  assert_int_equal(hq_report_compute(db, NULL, &r), HQ_OK);
  assert_true(r->leaks_classified);
  json = capture_report(r, 1);
  assert_int_equal(hq_json_parse(json, &j), 0);
  expect_json(&j, "leaks.definitely_lost.blocks", 'd', "1");
  expect_json(&j, "leaks.definitely_lost.bytes", 'd', "1000");
  expect_json(&j, "leaks.possibly_lost.bytes", 'd', "4096");
  expect_json(&j, "leaks.indirectly_lost.blocks", 'd', "0");
  expect_json(&j, "leaks.still_reachable.bytes", 'd', "0");
  expect_json(&j, "leaks.unclassified.bytes", 'd', "700");
  assert_true(check_figures(db, &j) >= 90);
  hq_json_free(&j);
  free(json);
  hq_report_free(r);
  hq_db_close(db);
}

static void test_report_recommend(void **state) {
  const char *path = hq_test_join(hq_test_tmpdir(), "patterns.db");
  hq_report_opts_t opts = {10, 1};
  hq_report_t *r = NULL;
  hq_db_t *db = NULL;
  char *text;
  (void)state;
  hq_fixture_recommend(path);
  assert_int_equal(hq_db_open(path, 0, &db), HQ_OK);
  assert_int_equal(hq_report_compute(db, &opts, &r), HQ_OK);
  assert_true(r->recommended);
  assert_int_equal(r->n_findings, 4);
  assert_string_equal(r->findings[0].name, "hot_temporaries");
  assert_string_equal(r->findings[0].fix, "pool");
  assert_int_equal(r->findings[0].n_evidence, 1);
  assert_int_equal(r->findings[0].evidence[0].stack_id, 2);
  assert_int_equal(r->findings[0].evidence[0].temporary, 1200);
  assert_string_equal(r->findings[0].evidence[0].location, "hot_loop hot.c:10");
  assert_string_equal(r->findings[1].name, "realloc_chain");
  assert_string_equal(r->findings[1].fix, "reserve");
  assert_int_equal(r->findings[1].evidence[0].stack_id, 3);
  assert_int_equal(r->findings[1].evidence[0].reallocs, 150);
  assert_string_equal(r->findings[2].name, "huge_buffer");
  assert_string_equal(r->findings[2].fix, "chunk or mmap");
  assert_int_equal(r->findings[2].evidence[0].stack_id, 4);
  assert_int_equal(r->findings[2].evidence[0].max_size, 64ull << 20);
  assert_string_equal(r->findings[3].name, "leak_growth");
  assert_string_equal(r->findings[3].fix, "leak");
  assert_int_equal(r->findings[3].evidence[0].stack_id, 5);
  assert_int_equal(r->findings[3].evidence[0].leaked_bytes, 40ull * (4 << 20));
  assert_true(r->growth_r2 > 0.99);
  /* 4 MiB never freed every second: the leak growth says so */
  assert_true(r->has_leak_growth);
  assert_true(fabs(r->leak_growth_rate_bytes_per_s - (4 << 20)) < 0.05 * (4 << 20));
  assert_true(r->leak_growth_r2 > 0.99);
  text = capture_report(r, 0);
  {
    static const char *const needles[] = {
      "== Findings", "[hot_temporaries] fix: pool", "1200 temporary allocations",
      "hot_loop hot.c:10", "[realloc_chain] fix: reserve", "150 realloc calls",
      "append grow.c:20", "[huge_buffer] fix: chunk or mmap", "(largest 64.00 MiB)",
      "load_all big.c:30", "[leak_growth] fix: leak", "never freed accumulates steadily",
      "remember leak.c:40"};
    expect_in_order(text, needles, sizeof needles / sizeof needles[0]);
  }
  free(text);
  text = capture_report(r, 1);
  {
    hq_json_t j;
    assert_int_equal(hq_json_parse(text, &j), 0);
    expect_json(&j, "findings[1].name", 's', "realloc_chain");
    expect_json(&j, "findings[1].evidence[0].stack_id", 'd', "3");
    expect_json(&j, "findings[3].evidence[0].location", 's', "remember leak.c:40");
    hq_json_free(&j);
  }
  free(text);
  hq_report_free(r);
  hq_db_close(db);
}

/* The fixture itself trips no rule: findings are not noise. */
static void test_report_recommend_quiet_on_small_run(void **state) {
  hq_db_t *db = fixture_db(HQ_FIXTURE_STREAM, 0, HQ_DB_READONLY);
  hq_report_opts_t opts = {10, 1};
  hq_report_t *r = NULL;
  char *text;
  (void)state;
  assert_int_equal(hq_report_compute(db, &opts, &r), HQ_OK);
  assert_int_equal(r->n_findings, 0);
  text = capture_report(r, 0);
  assert_non_null(strstr(text, "== Findings\n   none: no pattern crossed its threshold"));
  free(text);
  hq_report_free(r);
  hq_db_close(db);
}

static void test_report_empty_database(void **state) {
  const char *path = hq_test_join(hq_test_tmpdir(), "empty.db");
  hq_db_t *db = NULL;
  hq_report_t *r = NULL;
  hq_json_t j;
  char *json;
  (void)state;
  assert_int_equal(hq_db_open(path, HQ_DB_CREATE, &db), HQ_OK);
  assert_int_equal(hq_report_compute(db, NULL, &r), HQ_OK);
  assert_int_equal(r->allocations_count, 0);
  assert_int_equal(r->peak_heap_bytes, 0);
  assert_false(r->has_growth_rate);
  assert_false(r->has_rss);
  assert_int_equal(r->n_top_count, 0);
  assert_true(fabs(r->efficiency_score - 100.0) < 1e-9);
  json = capture_report(r, 1);
  assert_int_equal(hq_json_parse(json, &j), 0);
  expect_json(&j, "metrics.growth_rate_bytes_per_s", 'n', NULL);
  expect_json(&j, "metrics.fragmentation_ratio", 'n', NULL);
  expect_json(&j, "peak.rss_bytes", 'n', NULL);
  expect_json(&j, "top.by_count", 'a', NULL);
  hq_json_free(&j);
  free(json);
  hq_report_free(r);
  hq_db_close(db);
}

static void test_report_sites_lines_frames_api(void **state) {
  hq_db_t *db = fixture_db(HQ_FIXTURE_STREAM, 0, HQ_DB_READONLY);
  hq_site_t *s = NULL;
  hq_frame_t *f = NULL;
  size_t n = 0;
  (void)state;
  assert_int_equal(hq_sites_top(db, HQ_BY_PEAK, HQ_CLASS_HEAP, 2, &s, &n), HQ_OK);
  assert_int_equal(n, 2);
  assert_int_equal(s[0].stack_id, 3);
  assert_int_equal(s[1].stack_id, 4);
  hq_sites_free(s, n);
  assert_int_equal(hq_sites_top(db, HQ_BY_LEAKED, HQ_CLASS_DEVICE, 5, &s, &n), HQ_OK);
  assert_int_equal(n, 1);
  assert_int_equal(s[0].leaked_bytes, 1048576);
  assert_string_equal(s[0].location, "worker victim.c:30");
  hq_sites_free(s, n);
  assert_int_equal(hq_sites_top(db, HQ_BY_PEAK, HQ_CLASS_MMAP, 5, &s, &n), HQ_OK);
  assert_int_equal(n, 0);
  assert_null(s);
  assert_int_equal(hq_sites_top(db, HQ_BY_TEMPORARY, -1, 10, &s, &n), HQ_OK);
  assert_int_equal(n, 4); /* heap 2, 3, 4 and the mmap site 4 */
  hq_sites_free(s, n);
  assert_int_equal(hq_sites_top(db, (hq_metric_t)99, HQ_CLASS_HEAP, 1, &s, &n), HQ_EINVAL);

  assert_int_equal(hq_stack_frames(db, 5, &f, &n), HQ_OK);
  assert_int_equal(n, 3);
  assert_string_equal(f[0].function, "fill");
  assert_int_equal(f[0].line, 12);
  assert_true(f[0].inlined);
  assert_string_equal(f[0].text, "fill victim.c:12 [inlined]");
  assert_string_equal(f[1].function, "make_buffers");
  assert_int_equal(f[1].line, 21);
  assert_false(f[1].inlined);
  assert_string_equal(f[2].module, "/usr/bin/victim");
  assert_int_equal(f[2].offset, 0x1100);
  hq_frames_free(f, n);
  assert_int_equal(hq_stack_frames(db, 4, &f, &n), HQ_OK);
  assert_null(f[0].function);
  assert_int_equal(f[0].ip, 0x7f0000001000ull);
  assert_string_equal(f[0].text, "0x7f0000001000 (/opt/gone/libgone.so+0x1000)");
  hq_frames_free(f, n);
  assert_int_equal(hq_stack_frames(db, 999, &f, &n), HQ_OK);
  assert_int_equal(n, 0);
  hq_frames_free(f, n);
  assert_string_equal(hq_class_name(HQ_CLASS_DEVICE), "device");
  assert_null(hq_class_name(9));
  assert_int_equal(hq_class_parse("mmap"), HQ_CLASS_MMAP);
  assert_int_equal(hq_class_parse("gpu"), -1);
  hq_db_close(db);
}

static char *run_query(hq_db_t *db, const char *sql, hq_format_t fmt, int *out_rc) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  *out_rc = hq_query_run(db, sql, fmt, f);
  fclose(f);
  return buf;
}

static void test_query_refuses_writes(void **state) {
  static const char *const writes[] = {
    "DELETE FROM allocations", "INSERT INTO meta VALUES('x', 1)", "DROP VIEW leaks",
    "UPDATE frames SET function = 'x'", "CREATE TABLE t(x)", "CREATE TEMP TABLE t(x)",
  };
  hq_db_t *db = fixture_db(HQ_FIXTURE_STREAM, 0, 0);
  int rc;
  char *out;
  (void)state;
  for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
    out = run_query(db, writes[i], HQ_FORMAT_TEXT, &rc);
    assert_int_equal(rc, HQ_EINVAL);
    assert_string_equal(out, "");
    assert_non_null(strstr(hq_db_errmsg(db), "read-only"));
    free(out);
  }
  out = run_query(db, "SELECT 1; DELETE FROM allocations", HQ_FORMAT_TEXT, &rc);
  assert_int_equal(rc, HQ_EINVAL);
  assert_non_null(strstr(hq_db_errmsg(db), "one statement"));
  free(out);
  out = run_query(db, "SELECT * FROM no_such_view", HQ_FORMAT_TEXT, &rc);
  assert_int_equal(rc, HQ_EINVAL);
  assert_string_equal(hq_db_errmsg(db), "query: no such table: no_such_view");
  free(out);
  out = run_query(db, "   ", HQ_FORMAT_TEXT, &rc);
  assert_int_equal(rc, HQ_EINVAL);
  free(out);
  assert_int_equal(hq_test_q_int(hq_db_sqlite(db), "SELECT count(*) FROM allocations"), 14);
  hq_db_close(db);
}

static void test_query_formats(void **state) {
  hq_db_t *db = fixture_db(HQ_FIXTURE_STREAM, 0, HQ_DB_READONLY);
  int rc;
  char *out;
  (void)state;
  out = run_query(db, "SELECT stack_id, bytes FROM peak_sites LIMIT 2;", HQ_FORMAT_TEXT, &rc);
  assert_int_equal(rc, HQ_OK);
  assert_string_equal(out, "stack_id|bytes\n3|5700\n4|4096\n");
  free(out);
  out = run_query(db, "SELECT 'a,b' AS x, 'say \"hi\"' AS y, NULL AS z, 2.5 AS w",
                  HQ_FORMAT_CSV, &rc);
  assert_int_equal(rc, HQ_OK);
  assert_string_equal(out, "x,y,z,w\n\"a,b\",\"say \"\"hi\"\"\",,2.5\n");
  free(out);
  out = run_query(db, "SELECT stack_id, text FROM stack_text WHERE stack_id = 2",
                  HQ_FORMAT_JSON, &rc);
  assert_int_equal(rc, HQ_OK);
  assert_string_equal(out, "[\n  {\n    \"stack_id\": 2,\n    \"text\": \"make_buffers"
                           " victim.c:20\\nmain victim.c:40\"\n  }\n]\n");
  free(out);
  out = run_query(db, "SELECT 1 WHERE 0", HQ_FORMAT_JSON, &rc);
  assert_int_equal(rc, HQ_OK);
  assert_string_equal(out, "[]\n");
  free(out);
  hq_db_close(db);
}

static char *capture_fn(hq_db_t *db, int which, hq_format_t fmt) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  int rc;
  assert_non_null(f);
  rc = which == 0 ? hq_leaks_write(db, 2, fmt, f)
     : which == 1 ? hq_peak_write(db, 1, fmt, f)
                  : hq_top_write(db, HQ_BY_TEMPORARY, 0, HQ_CLASS_HEAP, 5, fmt, f);
  fclose(f);
  assert_int_equal(rc, HQ_OK);
  return buf;
}

static void test_leaks_peak_top_outputs(void **state) {
  hq_db_t *db = fixture_db(HQ_FIXTURE_STREAM, 0, HQ_DB_READONLY);
  hq_json_t j;
  char *out;
  (void)state;
  out = capture_fn(db, 0, HQ_FORMAT_TEXT);
  {
    static const char *const needles[] = {
      "heap     3 blocks, 5796 B (5.66 KiB)", "device   1 blocks, 1048576 B (1.00 MiB)",
      "heap leak classes: not classified",
      "#1  1048576 B in 1 blocks (device)\n    site: worker victim.c:30\n"
      "          100.0%  <- main victim.c:40\n    the stack with the most:\n"
      "      worker victim.c:30\n      main victim.c:40\n",
      "#2  4096 B in 1 blocks (heap)\n    site: libgone.so+0x1000\n"
      "          100.0%  <- worker victim.c:30\n    the stack with the most:\n"
      "      0x7f0000001000 (/opt/gone/libgone.so+0x1000)\n"
      "      worker victim.c:30\n      main victim.c:40\n"};
    expect_in_order(out, needles, sizeof needles / sizeof needles[0]);
  }
  assert_null(strstr(out, "#3"));
  free(out);
  out = capture_fn(db, 0, HQ_FORMAT_JSON);
  assert_int_equal(hq_json_parse(out, &j), 0);
  expect_json(&j, "leaks.bytes", 'd', "5796");
  expect_json(&j, "leaks.definitely_lost", 'n', NULL);
  expect_json(&j, "leaks.by_class.device.bytes", 'd', "1048576");
  expect_json(&j, "sites[1].frames[0].module", 's', "/opt/gone/libgone.so");
  expect_json(&j, "sites[1].frames[0].offset", 'd', "4096");
  expect_json(&j, "sites[1].frames[2].function", 's', "main");
  hq_json_free(&j);
  free(out);

  out = capture_fn(db, 1, HQ_FORMAT_TEXT);
  {
    static const char *const needles[] = {
      "peak heap    10836 B (10.58 KiB) at 7.000 s", "peak RSS     5600000 B (5.34 MiB) at 8.000 s",
      "#1  5700 B in 2 blocks\n    site: worker victim.c:30\n          100.0%  <- main victim.c:40\n"
      "    the stack with the most:\n      worker victim.c:30\n      main victim.c:40\n"};
    expect_in_order(out, needles, sizeof needles / sizeof needles[0]);
  }
  free(out);
  out = capture_fn(db, 1, HQ_FORMAT_JSON);
  assert_int_equal(hq_json_parse(out, &j), 0);
  expect_json(&j, "peak.heap_time_s", 'd', "7.000000000");
  expect_json(&j, "sites[0].peak_bytes", 'd', "5700");
  assert_null(hq_json_get(&j, "sites[1]"));
  hq_json_free(&j);
  free(out);

  out = capture_fn(db, 2, HQ_FORMAT_TEXT);
  {
    static const char *const needles[] = {
      "top heap sites by temporary", "1            4           1164            2  make_buffers"
      " victim.c:20\n", "<- main victim.c:40\n", "3            2           6096            1  "
      "libgone.so+0x1000\n", "<- worker victim.c:30\n"};
    expect_in_order(out, needles, sizeof needles / sizeof needles[0]);
  }
  free(out);
  out = capture_fn(db, 2, HQ_FORMAT_JSON);
  assert_int_equal(hq_json_parse(out, &j), 0);
  expect_json(&j, "sites[1].stack_id", 'd', "3");
  expect_json(&j, "sites[1].temporary", 'd', "2");
  hq_json_free(&j);
  free(out);
  hq_db_close(db);
}

/* A merged database of two processes: counts span both, the time figures describe the process
 * with the larger heap peak (meta peak_heap_pid), and the peak's sites are that process's. */
static void test_report_merged_database(void **state) {
  char dir[512], a[600], b[600], all[600], err[256];
  const char *inputs[2];
  hq_merge_opts_t mopts = {0, 0};
  hq_db_t *db = NULL;
  hq_report_t *r = NULL;
  sqlite3 *s;
  (void)state;
  snprintf(dir, sizeof dir, "%s", hq_test_tmpdir());
  snprintf(a, sizeof a, "%s/a.db", dir);
  snprintf(b, sizeof b, "%s/b.db", dir);
  snprintf(all, sizeof all, "%s/all.db", dir);
  hq_fixture_report(a, HQ_FIXTURE_STREAM, 0);
  hq_fixture_report(b, HQ_FIXTURE_STREAM, 0);
  /* b: process 200, every size and sample doubled */
  assert_int_equal(sqlite3_open(b, &s), SQLITE_OK);
  assert_int_equal(sqlite3_exec(s,
    "UPDATE allocations SET pid = 200, size = 2 * size; UPDATE modules SET pid = 200;"
    "UPDATE threads SET pid = 200; UPDATE processes SET pid = 200;"
    "UPDATE samples SET pid = 200, heap_bytes = 2 * heap_bytes, mmap_bytes = 2 * mmap_bytes,"
    " rss_bytes = 2 * rss_bytes;"
    "UPDATE meta SET value = 200 WHERE key = 'pid';"
    "UPDATE meta SET value = 21672 WHERE key = 'peak_heap_bytes';"
    "UPDATE meta SET value = 11200000 WHERE key = 'peak_rss_bytes';", NULL, NULL, NULL),
    SQLITE_OK);
  sqlite3_close(s);
  inputs[0] = a;
  inputs[1] = b;
  if (hq_merge(inputs, 2, all, &mopts, NULL, err, sizeof err) != HQ_OK) fail_msg("merge: %s", err);
  assert_int_equal(hq_db_open(all, 0, &db), HQ_OK);
  assert_int_equal(hq_report_compute(db, NULL, &r), HQ_OK);
  assert_true(r->has_peak_pid);
  assert_int_equal(r->peak_pid, 200);
  assert_int_equal(r->peak_heap_bytes, 21672);
  assert_int_equal(r->peak_heap_t_ns, 7000000000LL);
  assert_int_equal(r->peak_rss_bytes, 11200000);
  assert_int_equal(r->peak_device_bytes, 2097152);
  assert_int_equal(r->allocations_count, 24);
  assert_int_equal(r->allocations_bytes, 3 * 13330);
  assert_int_equal(r->leak_bytes, 3 * 5796);
  assert_int_equal(r->temporary_count, 10);
  assert_int_equal(r->n_samples, 11);
  assert_true(fabs(r->growth_rate_bytes_per_s - 2 * fixture_growth) < 1e-9 * fixture_growth);
  assert_int_equal(r->top_peak[0].peak_bytes, 11400);
  assert_int_equal(hq_test_q_int(hq_db_sqlite(db), "SELECT sum(bytes) FROM peak_sites"), 21672);
  assert_int_equal(hq_test_q_int(hq_db_sqlite(db), "SELECT value FROM meta"
                                                   " WHERE key = 'peak_heap_bytes'"), 21672);
  hq_report_free(r);
  hq_db_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_report_figures),
    cmocka_unit_test(test_report_json_equals_documented_queries),
    cmocka_unit_test(test_report_json_contract_keys),
    cmocka_unit_test(test_report_text),
    cmocka_unit_test(test_report_leak_classes),
    cmocka_unit_test(test_report_recommend),
    cmocka_unit_test(test_report_recommend_quiet_on_small_run),
    cmocka_unit_test(test_report_empty_database),
    cmocka_unit_test(test_report_sites_lines_frames_api),
    cmocka_unit_test(test_query_refuses_writes),
    cmocka_unit_test(test_query_formats),
    cmocka_unit_test(test_leaks_peak_top_outputs),
    cmocka_unit_test(test_report_merged_database),
  };
  return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
