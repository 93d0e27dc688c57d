/*
 * test_cli_report.c: `heapql report|leaks|top|peak|query` run as child processes on the report
 * fixture: outputs, files, exit codes, and bad input (one line on stderr, exit 2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hq_test.h"
#include "hq_json_flat.h"
#include "hq_report_fixture.h"

static const char *heapql(void) {
  const char *bin = hq_test_build_path("bin/heapql");
  if (!hq_test_exists(bin)) fail_msg("%s not built", bin);
  return bin;
}

/* Run heapql with up to 8 arguments (NULL-terminated). */
static hq_test_proc_t run(const char *a1, ...) {
  char *argv[12];
  hq_test_proc_t p;
  va_list ap;
  int n = 0;
  argv[n++] = (char *)heapql();
  argv[n++] = (char *)a1;
  va_start(ap, a1);
  while (n < 11 && (argv[n] = va_arg(ap, char *)) != NULL) n++;
  va_end(ap);
  argv[n] = NULL;
  if (hq_test_run(argv, NULL, NULL, 60, &p) != 0) fail_msg("cannot run %s", argv[0]);
  return p;
}

static const char *fixture(void) {
  const char *path = hq_test_join(hq_test_tmpdir(), "app.db");
  hq_fixture_report(path, HQ_FIXTURE_STREAM, 0);
  return path;
}

/* Exit 2 and exactly one stderr line "heapql: ...", containing what. */
static void expect_bad(hq_test_proc_t *p, const char *what) {
  if (p->exit_status != 2) fail_msg("exit %d (expected 2), stderr: %s", p->exit_status, p->err);
  if (strncmp(p->err, "heapql: ", 8) != 0) fail_msg("stderr does not start 'heapql: ': %s", p->err);
  if (!p->err_len || p->err[p->err_len - 1] != '\n' || strchr(p->err, '\n') != p->err + p->err_len - 1)
    fail_msg("stderr is not exactly one line: %s", p->err);
  if (what && !strstr(p->err, what)) fail_msg("stderr lacks '%s': %s", what, p->err);
  hq_test_proc_free(p);
}

static void test_cli_report_text_and_json(void **state) {
  const char *db = fixture();
  const char *out = hq_test_join(hq_test_tmpdir(), "report.json");
  hq_test_proc_t p;
  hq_json_t j;
  char *json;
  (void)state;
  p = run("report", db, NULL);
  assert_int_equal(p.exit_status, 0);
  assert_string_equal(p.err, "");
  assert_non_null(strstr(p.out, "allocations      12 calls, 13330 B (13.02 KiB)"));
  assert_non_null(strstr(p.out, "heap             10836 B (10.58 KiB) at 7.000 s"));
  assert_non_null(strstr(p.out, "efficiency score 41.8 / 100"));
  hq_test_proc_free(&p);

  p = run("report", db, "--format", "json", "-o", out, NULL);
  assert_int_equal(p.exit_status, 0);
  assert_string_equal(p.out, "");
  hq_test_proc_free(&p);
  json = hq_test_read_file(out, NULL);
  assert_non_null(json);
  assert_int_equal(hq_json_parse(json, &j), 0);
  assert_string_equal(hq_json_get(&j, "allocations.count")->value, "12");
  assert_string_equal(hq_json_get(&j, "frees.count")->value, "7");
  assert_string_equal(hq_json_get(&j, "leaks.bytes")->value, "5796");
  assert_string_equal(hq_json_get(&j, "temporary.count")->value, "5");
  assert_int_equal(hq_json_get(&j, "leaks.definitely_lost")->type, 'n');
  hq_json_free(&j);
  free(json);

  p = run("report", "--format=json", db, "--top", "1", NULL);
  assert_int_equal(p.exit_status, 0);
  assert_int_equal(hq_json_parse(p.out, &j), 0);
  assert_non_null(hq_json_get(&j, "top.by_count[0]"));
  assert_null(hq_json_get(&j, "top.by_count[1]"));
  hq_json_free(&j);
  hq_test_proc_free(&p);
}

static void test_cli_report_recommend(void **state) {
  const char *db = hq_test_join(hq_test_tmpdir(), "patterns.db");
  hq_test_proc_t p;
  (void)state;
  hq_fixture_recommend(db);
  p = run("report", db, "--recommend", NULL);
  assert_int_equal(p.exit_status, 0);
  assert_non_null(strstr(p.out, "[hot_temporaries] fix: pool"));
  assert_non_null(strstr(p.out, "[realloc_chain] fix: reserve"));
  assert_non_null(strstr(p.out, "[huge_buffer] fix: chunk or mmap"));
  assert_non_null(strstr(p.out, "[leak_growth] fix: leak"));
  hq_test_proc_free(&p);
}

static void test_cli_leaks_top_peak(void **state) {
  const char *db = fixture();
  hq_test_proc_t p;
  (void)state;
  p = run("leaks", db, "--limit", "1", NULL);
  assert_int_equal(p.exit_status, 0);
  assert_non_null(strstr(p.out, "#1  1048576 B in 1 blocks (device)\n    site: worker victim.c:30\n"
                                "          100.0%  <- main victim.c:40\n    the stack with the most:\n"
                                "      worker victim.c:30\n      main victim.c:40\n"));
  assert_null(strstr(p.out, "#2"));
  hq_test_proc_free(&p);
  p = run("leaks", db, "--format", "json", NULL);
  assert_int_equal(p.exit_status, 0);
  assert_non_null(strstr(p.out, "\"blocks\": 3,\n    \"bytes\": 5796,"));
  hq_test_proc_free(&p);
  p = run("top", db, "--by", "peak", "--limit", "2", NULL);
  assert_int_equal(p.exit_status, 0);
  assert_non_null(strstr(p.out, "top heap sites by peak"));
  assert_non_null(strstr(p.out, "5700  worker victim.c:30\n"));
  assert_non_null(strstr(p.out, "4096  libgone.so+0x1000\n"));
  assert_null(strstr(p.out, "\n   3 "));
  hq_test_proc_free(&p);
  p = run("top", db, "--by", "line", NULL);
  assert_int_equal(p.exit_status, 0);
  assert_non_null(strstr(p.out, "fill victim.c:12\n"));
  hq_test_proc_free(&p);
  p = run("top", db, "--by", "count", "--class", "device", NULL);
  assert_int_equal(p.exit_status, 0);
  assert_non_null(strstr(p.out, "1        1048576               worker victim.c:30"));
  hq_test_proc_free(&p);
  p = run("peak", db, NULL);
  assert_int_equal(p.exit_status, 0);
  assert_non_null(strstr(p.out, "peak heap    10836 B (10.58 KiB) at 7.000 s\n"));
  assert_non_null(strstr(p.out, "#4  40 B in 1 blocks\n    site: fill victim.c:12\n"
                                "          100.0%  <- make_buffers victim.c:21\n"
                                "    the stack with the most:\n      fill victim.c:12 [inlined]\n"
                                "      make_buffers victim.c:21\n      main victim.c:40\n"));
  hq_test_proc_free(&p);
}

static void test_cli_query(void **state) {
  const char *db = fixture();
  hq_test_proc_t p;
  (void)state;
  p = run("query", db, "SELECT stack_id, bytes FROM leak_sites WHERE class = 'heap'", NULL);
  assert_int_equal(p.exit_status, 0);
  assert_string_equal(p.out, "stack_id|bytes\n4|4096\n2|1000\n3|700\n");
  hq_test_proc_free(&p);
  p = run("query", db, "SELECT count(*) AS n FROM temporary", "--csv", NULL);
  assert_int_equal(p.exit_status, 0);
  assert_string_equal(p.out, "n\n6\n");
  hq_test_proc_free(&p);
  p = run("query", db, "SELECT class, bytes FROM agg_class WHERE class = 'heap'", "--json", NULL);
  assert_int_equal(p.exit_status, 0);
  assert_string_equal(p.out, "[\n  {\n    \"class\": \"heap\",\n    \"bytes\": 13330\n  }\n]\n");
  hq_test_proc_free(&p);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_cli_bad_input(void **state) {
  char dir[512], db[512], text[600], foreign[600], future[600], cut[600], missing[600];
  hq_test_proc_t p;
  sqlite3 *s;
  char *whole;
  size_t len;
  (void)state;
  /* hq_test_join() rotates 8 static buffers: keep our own copies */
  snprintf(dir, sizeof dir, "%s", hq_test_tmpdir());
  snprintf(db, sizeof db, "%s", fixture());
  snprintf(text, sizeof text, "%s/notes.db", dir);
  snprintf(foreign, sizeof foreign, "%s/foreign.db", dir);
  snprintf(future, sizeof future, "%s/future.db", dir);
  snprintf(cut, sizeof cut, "%s/cut.db", dir);
  snprintf(missing, sizeof missing, "%s/missing.db", dir);

  write_file(text, "these are my notes, not a database, and long enough to read a header\n");
  p = run("report", text, NULL);
  expect_bad(&p, "not a SQLite database");

  assert_int_equal(sqlite3_open(foreign, &s), SQLITE_OK);
  assert_int_equal(sqlite3_exec(s, "CREATE TABLE t(x); INSERT INTO t VALUES(1)", NULL, NULL,
                                NULL), SQLITE_OK);
  sqlite3_close(s);
  p = run("leaks", foreign, NULL);
  expect_bad(&p, "not a heapql one");

  hq_fixture_report(future, HQ_FIXTURE_STREAM, 0);
  assert_int_equal(sqlite3_open(future, &s), SQLITE_OK);
  assert_int_equal(sqlite3_exec(s, "PRAGMA user_version=3", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(s);
  p = run("report", future, NULL);
  expect_bad(&p, "schema version 3 is newer");

  /* a database cut in half, as by a full disk or an interrupted copy */
  whole = hq_test_read_file(db, &len);
  assert_non_null(whole);
  {
    FILE *f = fopen(cut, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(whole, 1, len / 2, f), len / 2);
    fclose(f);
  }
  free(whole);
  p = run("report", cut, NULL);
  expect_bad(&p, NULL);
  p = run("query", cut, "SELECT count(*) FROM allocations", NULL);
  expect_bad(&p, NULL);

  p = run("report", missing, NULL);
  expect_bad(&p, "No such file");
  p = run("query", db, "SELECT * FROM no_such_view", NULL);
  expect_bad(&p, "no such table: no_such_view");
  {
    char csv[700];
    snprintf(csv, sizeof csv, "%s/rows.csv", dir);
    p = run("query", db, "SELECT * FROM no_such_view", "--csv", "-o", csv, NULL);
    expect_bad(&p, "no such table: no_such_view");
    assert_false(hq_test_exists(csv)); /* a failed command leaves nothing behind */
  }
  p = run("query", db, "DELETE FROM allocations", NULL);
  expect_bad(&p, "read-only");
  p = run("query", db, "DROP VIEW leaks", "--json", NULL);
  expect_bad(&p, "read-only");
  p = run("query", db, "SELECT 1; SELECT 2", NULL);
  expect_bad(&p, "one statement");
  p = run("query", db, NULL);
  expect_bad(&p, "needs a database and one SQL statement");
  p = run("report", db, "--format", "xml", NULL);
  expect_bad(&p, "--format must be text, json or html, not 'xml'");
  p = run("report", db, "--format", NULL);
  expect_bad(&p, "--format needs a value");
  p = run("leaks", db, "--format", "csv", NULL);
  expect_bad(&p, "--format must be text or json");
  p = run("report", db, "--frobnicate", NULL);
  expect_bad(&p, "unknown option '--frobnicate'");
  p = run("top", db, "--by", "colour", NULL);
  expect_bad(&p, "--by must be");
  p = run("top", db, "--limit", "0", NULL);
  expect_bad(&p, "--limit wants a positive number");
  p = run("peak", db, "--limit", "ten", NULL);
  expect_bad(&p, "--limit wants a positive number");
  p = run("top", db, "--class", "gpu", NULL);
  expect_bad(&p, "--class must be");
  p = run("report", db, "-o", "/nonexistent-dir/report.txt", NULL);
  expect_bad(&p, "/nonexistent-dir/report.txt: cannot write");
  p = run("report", NULL);
  expect_bad(&p, "which database?");
  p = run("report", db, db, NULL);
  expect_bad(&p, "unexpected argument");

  /* the database is untouched by all of this */
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations"), 14);
  sqlite3_close(s);
}

static void test_cli_help(void **state) {
  static const char *const cmds[] = {"report", "leaks", "top", "peak", "query"};
  (void)state;
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    hq_test_proc_t p = run(cmds[i], "--help", NULL);
    assert_int_equal(p.exit_status, 0);
    assert_non_null(strstr(p.out, "usage: heapql "));
    assert_non_null(strstr(p.out, cmds[i]));
    hq_test_proc_free(&p);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cli_report_text_and_json),
    cmocka_unit_test(test_cli_report_recommend),
    cmocka_unit_test(test_cli_leaks_top_peak),
    cmocka_unit_test(test_cli_query),
    cmocka_unit_test(test_cli_bad_input),
    cmocka_unit_test(test_cli_help),
  };
  return cmocka_run_group_tests_name("cli_report", tests, NULL, NULL);
}
