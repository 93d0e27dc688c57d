/*
 * test_views.c: the SQL contract: every view's documented example (extracted from
 * docs/schema.md) returns the documented rows on the fixture; the aggregate tables equal the
 * views they summarize, however they were built (one pass over the rows, the importer's
 * streaming events, lazily into TEMP for a read-only file), and stay current after
 * symbolization, leak classification and new rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hq_test.h"
#include "hq_report_fixture.h"
#include "output/output_int.h"

static const char *fixture(int agg, int flags) {
  const char *path = hq_test_join(hq_test_tmpdir(), "fixture.db");
  hq_fixture_report(path, agg, flags);
  return path;
}

static hq_db_t *open_db(const char *path, int flags) {
  hq_db_t *db = NULL;
  if (hq_db_open(path, flags, &db) != HQ_OK) fail_msg("open %s: %s", path, hq_db_errmsg(db));
  return db;
}

static char *rows(hq_db_t *db, const char *sql) {
  return hq_sql_rows(hq_db_sqlite(db), sql);
}

static void assert_rows(hq_db_t *db, const char *sql, const char *expected) {
  char *got = rows(db, sql);
  if (strcmp(got, expected) != 0) fail_msg("%s\n-- got:\n%s-- expected:\n%s", sql, got, expected);
  free(got);
}

static void test_views_doc_examples(void **state) {
  static const char *const views[] = {"leaks", "leak_sites", "callsites", "temporary",
                                      "stack_frames", "stack_text", "peak_sites", "by_line",
                                      "size_histogram", "timeline", "agg_stack"};
  hq_doc_block_t *b = NULL;
  size_t n = hq_doc_blocks("example", &b);
  hq_db_t *db = open_db(fixture(HQ_FIXTURE_STREAM, 0), HQ_DB_READONLY);
  (void)state;
  assert_true(n >= sizeof views / sizeof views[0]);
  for (size_t v = 0; v < sizeof views / sizeof views[0]; v++) {
    int found = 0;
    for (size_t i = 0; i < n; i++) found |= !strcmp(b[i].name, views[v]);
    if (!found) fail_msg("docs/schema.md has no '-- example: %s' block", views[v]);
  }
  for (size_t i = 0; i < n; i++) {
    char *got = rows(db, b[i].sql);
    const char *want = b[i].expected ? b[i].expected : "";
    if (strcmp(got, want) != 0)
      fail_msg("example '%s':\n%s-- got:\n%s-- documented:\n%s", b[i].name, b[i].sql, got, want);
    free(got);
  }
  hq_doc_blocks_free(b, n);
  hq_db_close(db);
}

static void test_views_stack_filter_is_a_lookup(void **state) {
  hq_db_t *db = open_db(fixture(HQ_FIXTURE_NO_AGG, 0), HQ_DB_READONLY);
  char *plan = rows(db, "EXPLAIN QUERY PLAN SELECT text FROM stack_text WHERE stack_id = 4");
  (void)state;
  /* the outer stacks scan is a primary-key search, so one stack is walked, not the trie */
  assert_non_null(strstr(plan, "SEARCH s USING INTEGER PRIMARY KEY"));
  free(plan);
  plan = rows(db, "EXPLAIN QUERY PLAN SELECT * FROM stack_frames WHERE stack_id = 4");
  assert_non_null(strstr(plan, "SEARCH s USING INTEGER PRIMARY KEY"));
  free(plan);
  hq_db_close(db);
}

static void test_views_unsymbolized_stack_text(void **state) {
  hq_db_t *db = open_db(fixture(HQ_FIXTURE_NO_AGG, HQ_FIXTURE_UNSYMBOLIZED), HQ_DB_READONLY);
  (void)state;
  assert_rows(db, "SELECT text FROM stack_text WHERE stack_id = 2",
              "0x401200 (/usr/bin/victim+0x1200)\n0x401100 (/usr/bin/victim+0x1100)\n");
  assert_rows(db, "SELECT file, line, function, module, offset, bytes FROM by_line"
                  " WHERE class = 'heap'",
              "|||/opt/gone/libgone.so|4096|6096\n"
              "|||/usr/bin/victim|4864|6000\n"
              "|||/usr/bin/victim|4608|1164\n"
              "|||/usr/bin/victim|5120|70\n");
  hq_db_close(db);
}

static const char *const agg_dumps[] = {
  "SELECT * FROM agg_stack ORDER BY stack_id, class",
  "SELECT * FROM agg_class ORDER BY class",
  "SELECT * FROM agg_size ORDER BY class, bucket",
  "SELECT * FROM agg_leak_class ORDER BY class, leak_class",
  "SELECT * FROM agg_line ORDER BY class, file, line, function, module, offset",
};

static void test_aggregate_stream_equals_scan(void **state) {
  hq_db_t *scan = open_db(fixture(HQ_FIXTURE_SCAN, 0), HQ_DB_READONLY);
  hq_db_t *stream = open_db(fixture(HQ_FIXTURE_STREAM, 0), HQ_DB_READONLY);
  (void)state;
  for (size_t i = 0; i < sizeof agg_dumps / sizeof agg_dumps[0]; i++) {
    char *a = rows(scan, agg_dumps[i]), *b = rows(stream, agg_dumps[i]);
    if (strcmp(a, b)) fail_msg("%s\n-- scan:\n%s-- stream:\n%s", agg_dumps[i], a, b);
    assert_true(strlen(a) > 0);
    free(a);
    free(b);
  }
  hq_db_close(scan);
  hq_db_close(stream);
}

/* Events out of time order: the streaming aggregation must fall back to reading the rows. */
static void test_aggregate_stream_out_of_order_falls_back(void **state) {
  const char *path = fixture(HQ_FIXTURE_SCAN, 0);
  const char *ref_path = fixture(HQ_FIXTURE_SCAN, 0);
  hq_db_t *db = open_db(path, 0), *ref = open_db(ref_path, HQ_DB_READONLY);
  hq__agg_t *agg = NULL;
  hq__agg_event_t e;
  (void)state;
  assert_int_equal(hq_db_meta_set(db, "peak_heap_t", "7000000000"), HQ_OK);
  assert_int_equal(hq__agg_begin(db, &agg), HQ_OK);
  memset(&e, 0, sizeof e);
  e.kind = HQ_KIND_MALLOC;
  e.has_stack = 1;
  e.stack_id = 2;
  e.size = 1;
  e.t = 10;
  assert_int_equal(hq__agg_alloc(agg, &e), HQ_OK);
  e.t = 5; /* earlier than the previous event */
  assert_int_equal(hq__agg_alloc(agg, &e), HQ_OK);
  assert_int_equal(hq__agg_finish(agg), HQ_OK);
  for (size_t i = 0; i < sizeof agg_dumps / sizeof agg_dumps[0]; i++) {
    char *a = rows(ref, agg_dumps[i]), *b = rows(db, agg_dumps[i]);
    assert_string_equal(a, b);
    free(a);
    free(b);
  }
  hq_db_close(db);
  hq_db_close(ref);
}

/* Each aggregate table equals the documented query over the views. */
static void test_aggregate_equals_views(void **state) {
  static const char *const pairs[][2] = {
    {"SELECT stack_id, class, allocations, bytes, frees, reallocs, realloced, leaked_blocks,"
     " leaked_bytes, temporary, max_size, peak_blocks, peak_bytes FROM agg_stack"
     " ORDER BY stack_id, class",
     "SELECT c.stack_id, c.class, c.allocations, c.bytes, c.frees, c.reallocs, c.realloced,"
     " c.leaked_blocks, c.leaked_bytes, c.temporary, c.max_size, coalesce(p.blocks, 0),"
     " coalesce(p.bytes, 0) FROM callsites c"
     " LEFT JOIN peak_sites p ON p.stack_id = c.stack_id AND c.class = 'heap'"
     " ORDER BY c.stack_id, c.class"},
    {"SELECT class, bucket, min_size, max_size, allocations, bytes FROM agg_size"
     " ORDER BY class, bucket",
     "SELECT class, bucket, min_size, max_size, allocations, bytes FROM size_histogram"},
    {"SELECT class, leak_class, blocks, bytes FROM agg_leak_class ORDER BY class, leak_class",
     "SELECT class, leak_class, count(*), sum(size) FROM leaks GROUP BY class, leak_class"
     " ORDER BY class, leak_class"},
    {"SELECT class, file, line, function, module, offset, allocations, bytes, leaked_blocks,"
     " leaked_bytes, temporary FROM agg_line"
     " ORDER BY bytes DESC, allocations DESC, class, file, line, function, module, offset",
     "SELECT class, file, line, function, module, offset, allocations, bytes, leaked_blocks,"
     " leaked_bytes, temporary FROM by_line"},
    {"SELECT class, allocations, bytes, frees, reallocs, leaked_blocks, leaked_bytes, temporary"
     " FROM agg_class WHERE allocations > 0 ORDER BY class",
     "SELECT class, sum(allocations), sum(bytes), sum(frees), sum(reallocs), sum(leaked_blocks),"
     " sum(leaked_bytes), sum(temporary) FROM callsites GROUP BY class ORDER BY class"},
  };
  hq_db_t *db = open_db(fixture(HQ_FIXTURE_SCAN, 0), HQ_DB_READONLY);
  (void)state;
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
    char *a = rows(db, pairs[i][0]), *b = rows(db, pairs[i][1]);
    if (strcmp(a, b)) fail_msg("%s\n-- agg:\n%s-- view:\n%s", pairs[i][0], a, b);
    free(a);
    free(b);
  }
  /* peaks per class, with their times */
  assert_rows(db, "SELECT class, peak_bytes, peak_t FROM agg_class ORDER BY class",
              "device|1048576|5500000000\nheap|10836|7000000000\nmmap|1048576|3500000000\n"
              "pool|0|\n");
  assert_rows(db, "SELECT sum(bytes) FROM peak_sites", "10836\n");
  hq_db_close(db);
}

static void test_aggregate_peak_without_importer_meta(void **state) {
  hq_db_t *db = open_db(fixture(HQ_FIXTURE_SCAN, HQ_FIXTURE_NO_PEAK_META), HQ_DB_READONLY);
  (void)state;
  assert_rows(db, "SELECT value FROM meta WHERE key IN ('peak_heap_bytes', 'peak_heap_t')"
                  " ORDER BY key", "10836\n7000000000\n");
  assert_rows(db, "SELECT stack_id, peak_bytes FROM agg_stack WHERE class = 'heap'"
                  " ORDER BY stack_id", "2|1000\n3|5700\n4|4096\n5|40\n");
  hq_db_close(db);
}

static void test_aggregate_peak_corrects_importer(void **state) {
  /* meta says 6000 ms; the rows say 10836 B is reached at 7000 ms */
  hq_db_t *db = open_db(fixture(HQ_FIXTURE_SCAN, HQ_FIXTURE_BAD_PEAK_META), HQ_DB_READONLY);
  (void)state;
  assert_rows(db, "SELECT value FROM meta WHERE key = 'peak_heap_t'", "7000000000\n");
  assert_rows(db, "SELECT peak_bytes, peak_t FROM agg_class WHERE class = 'heap'",
              "10836|7000000000\n");
  hq_db_close(db);
}

static void test_aggregate_readonly_builds_in_temp(void **state) {
  const char *path = fixture(HQ_FIXTURE_NO_AGG, 0);
  hq_db_t *db = open_db(path, HQ_DB_READONLY);
  hq_report_t *r = NULL;
  sqlite3 *check;
  (void)state;
  assert_int_equal(hq_report_compute(db, NULL, &r), HQ_OK);
  assert_int_equal(r->allocations_count, 12);
  assert_int_equal(r->peak_heap_bytes, 10836);
  assert_rows(db, "SELECT count(*) FROM temp.sqlite_master WHERE name = 'agg_stack'", "1\n");
  hq_report_free(r);
  hq_db_close(db);
  check = hq_test_sqlite_open(path);
  assert_int_equal(hq_test_q_int(check, "SELECT count(*) FROM sqlite_master WHERE name LIKE"
                                        " 'agg_%%'"), 0);
  sqlite3_close(check);
}

static void test_aggregate_rebuilt_when_rows_change(void **state) {
  const char *path = fixture(HQ_FIXTURE_STREAM, 0);
  hq_db_t *db = open_db(path, 0);
  hq_report_t *r = NULL;
  (void)state;
  assert_int_equal(hq__db_exec(db, "INSERT INTO allocations(id, pid, kind, address, size,"
                                   " stack_id, tid, t_alloc, alloc_seq) VALUES(15, 100, 'malloc',"
                                   " 1, 5, 2, 100, 9900000000, 8)"), HQ_OK);
  assert_int_equal(hq_report_compute(db, NULL, &r), HQ_OK);
  assert_int_equal(r->allocations_count, 13);
  assert_int_equal(r->leak_blocks, 4);
  assert_int_equal(r->leak_bytes, 5801);
  assert_rows(db, "SELECT value FROM agg_info WHERE key = 'max_id'", "15\n");
  hq_report_free(r);
  hq_db_close(db);
}

static void symbolize_by_hand(hq_db_t *db) {
  assert_int_equal(hq__db_exec(db,
    "UPDATE frames SET function = 'main', file = 'victim.c', line = 40 WHERE id = 1;"
    "UPDATE frames SET function = 'make_buffers', file = 'victim.c', line = 20 WHERE id = 2;"
    "UPDATE frames SET function = 'worker', file = 'victim.c', line = 30 WHERE id = 3;"
    "UPDATE frames SET function = 'fill', file = 'victim.c', line = 12 WHERE id = 5;"), HQ_OK);
}

static void test_aggregate_refresh_symbols(void **state) {
  const char *path = fixture(HQ_FIXTURE_STREAM, HQ_FIXTURE_UNSYMBOLIZED);
  hq_db_t *db = open_db(path, 0);
  (void)state;
  assert_rows(db, "SELECT count(*) FROM agg_line WHERE file IS NOT NULL", "0\n");
  symbolize_by_hand(db);
  assert_int_equal(hq__aggregate_refresh_symbols(db), HQ_OK);
  assert_rows(db, "SELECT file, line, function, bytes FROM agg_line WHERE class = 'heap'"
                  " ORDER BY bytes DESC",
              "|||6096\nvictim.c|30|worker|6000\nvictim.c|20|make_buffers|1164\n"
              "victim.c|12|fill|70\n");
  hq_db_close(db);
}

static void test_aggregate_notices_symbols_without_refresh(void **state) {
  const char *path = fixture(HQ_FIXTURE_STREAM, HQ_FIXTURE_UNSYMBOLIZED);
  hq_db_t *db = open_db(path, 0);
  hq_line_t *lines = NULL;
  size_t n = 0;
  (void)state;
  symbolize_by_hand(db); /* a symbolizer that forgot to call the refresh */
  assert_int_equal(hq_lines_top(db, HQ_BY_BYTES, HQ_CLASS_HEAP, 2, &lines, &n), HQ_OK);
  assert_int_equal(n, 2);
  assert_null(lines[0].file);
  assert_string_equal(lines[0].location, "(/opt/gone/libgone.so+0x1000)");
  assert_string_equal(lines[1].location, "worker victim.c:30");
  assert_string_equal(lines[1].file, "victim.c");
  assert_int_equal(lines[1].line, 30);
  hq_lines_free(lines, n);
  hq_db_close(db);
}

static void test_aggregate_refresh_leaks(void **state) {
  const char *path = fixture(HQ_FIXTURE_STREAM, 0);
  hq_db_t *db = open_db(path, 0);
  (void)state;
  assert_int_equal(hq__db_exec(db, "UPDATE allocations SET leak_class = 'definitely_lost'"
                                   " WHERE id = 2; UPDATE allocations SET leak_class ="
                                   " 'possibly_lost' WHERE id IN (12, 13)"), HQ_OK);
  assert_int_equal(hq__aggregate_refresh_leaks(db), HQ_OK);
  assert_rows(db, "SELECT class, leak_class, blocks, bytes FROM agg_leak_class"
                  " ORDER BY class, leak_class",
              "device|possibly_lost|1|1048576\nheap||1|700\nheap|definitely_lost|1|1000\n"
              "heap|possibly_lost|1|4096\n");
  hq_db_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_views_doc_examples),
    cmocka_unit_test(test_views_stack_filter_is_a_lookup),
    cmocka_unit_test(test_views_unsymbolized_stack_text),
    cmocka_unit_test(test_aggregate_stream_equals_scan),
    cmocka_unit_test(test_aggregate_stream_out_of_order_falls_back),
    cmocka_unit_test(test_aggregate_equals_views),
    cmocka_unit_test(test_aggregate_peak_without_importer_meta),
    cmocka_unit_test(test_aggregate_peak_corrects_importer),
    cmocka_unit_test(test_aggregate_readonly_builds_in_temp),
    cmocka_unit_test(test_aggregate_rebuilt_when_rows_change),
    cmocka_unit_test(test_aggregate_refresh_symbols),
    cmocka_unit_test(test_aggregate_notices_symbols_without_refresh),
    cmocka_unit_test(test_aggregate_refresh_leaks),
  };
  return cmocka_run_group_tests_name("views", tests, NULL, NULL);
}
