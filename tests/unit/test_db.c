/* test_db.c: opening databases: new, existing, foreign, not SQLite, newer schema. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hq_test.h"
#include "heapql/heapql.h"

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_db_create_then_open(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  const char *path = hq_test_join(dir, "new.db");
  hq_db_t *db = NULL;
  char buf[64];
  assert_int_equal(hq_db_open(path, HQ_DB_CREATE, &db), HQ_OK);
  assert_int_equal(hq_db_meta_set(db, "program", "victim"), HQ_OK);
  hq_db_close(db);
  assert_int_equal(hq_db_open(path, HQ_DB_READONLY, &db), HQ_OK);
  assert_int_equal(hq_db_meta_get(db, "program", buf, sizeof buf), HQ_OK);
  assert_string_equal(buf, "victim");
  assert_int_equal(hq_db_meta_get(db, "schema_version", buf, sizeof buf), HQ_OK);
  assert_string_equal(buf, "2");
  assert_int_equal(hq_db_meta_get(db, "nope", buf, sizeof buf), HQ_ENOENT);
  hq_db_close(db);
}

static void test_db_create_refuses_existing(void **state) {
  (void)state;
  const char *path = hq_test_join(hq_test_tmpdir(), "x.db");
  hq_db_t *db = NULL;
  write_file(path, "keep me");
  assert_int_equal(hq_db_open(path, HQ_DB_CREATE, &db), HQ_EEXIST);
  assert_non_null(strstr(hq_db_errmsg(db), "already exists"));
  hq_db_close(db);
  assert_int_equal(hq_db_open(path, HQ_DB_CREATE | HQ_DB_FORCE, &db), HQ_OK);
  hq_db_close(db);
}

static void test_db_open_not_sqlite(void **state) {
  (void)state;
  const char *path = hq_test_join(hq_test_tmpdir(), "text.db");
  hq_db_t *db = NULL;
  write_file(path, "this is plainly not a database, just some text for the test\n");
  assert_int_equal(hq_db_open(path, HQ_DB_READONLY, &db), HQ_ESCHEMA);
  assert_non_null(strstr(hq_db_errmsg(db), "not a SQLite database"));
  hq_db_close(db);
}

static void test_db_open_foreign_sqlite(void **state) {
  (void)state;
  const char *path = hq_test_join(hq_test_tmpdir(), "foreign.db");
  sqlite3 *s;
  hq_db_t *db = NULL;
  assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
  assert_int_equal(sqlite3_exec(s, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(s);
  assert_int_equal(hq_db_open(path, HQ_DB_READONLY, &db), HQ_ESCHEMA);
  assert_non_null(strstr(hq_db_errmsg(db), "not a heapql one"));
  hq_db_close(db);
}

static void test_db_open_newer_schema(void **state) {
  (void)state;
  const char *path = hq_test_join(hq_test_tmpdir(), "future.db");
  sqlite3 *s;
  hq_db_t *db = NULL;
  assert_int_equal(hq_db_open(path, HQ_DB_CREATE, &db), HQ_OK);
  hq_db_close(db);
  assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
  assert_int_equal(sqlite3_exec(s, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(s);
  assert_int_equal(hq_db_open(path, HQ_DB_READONLY, &db), HQ_ESCHEMA);
  assert_non_null(strstr(hq_db_errmsg(db), "schema version 99 is newer"));
  hq_db_close(db);
}

/* A schema-1 database (regions without the NVTX columns) reads as schema 2 does, unchanged. */
static void test_db_open_schema1(void **state) {
  (void)state;
  const char *path = hq_test_join(hq_test_tmpdir(), "v1.db");
  sqlite3 *s;
  sqlite3_stmt *st;
  hq_db_t *db = NULL;
  assert_int_equal(hq_db_open(path, HQ_DB_CREATE, &db), HQ_OK);
  hq_db_close(db);
  assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
  assert_int_equal(sqlite3_exec(s, "ALTER TABLE regions DROP COLUMN source; ALTER TABLE regions DROP COLUMN domain;"
                                   " ALTER TABLE regions DROP COLUMN category; ALTER TABLE regions DROP COLUMN category_name;"
                                   " ALTER TABLE regions DROP COLUMN scope; PRAGMA user_version=1;"
                                   " INSERT INTO regions(id, pid, name, tid, t_begin, t_end) VALUES(1, 7, 'load', 7, 10, 20)",
                                NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(s);
  assert_int_equal(hq_db_open(path, HQ_DB_READONLY, &db), HQ_OK);
  assert_int_equal(sqlite3_prepare_v2(hq_db_sqlite(db), "SELECT name, source, domain IS NULL, category IS NULL,"
                                      " scope FROM regions", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "load");
  assert_string_equal((const char *)sqlite3_column_text(st, 1), "annotate");
  assert_int_equal(sqlite3_column_int(st, 2), 1);
  assert_int_equal(sqlite3_column_int(st, 3), 1);
  assert_string_equal((const char *)sqlite3_column_text(st, 4), "thread");
  sqlite3_finalize(st);
  hq_db_close(db);
  /* the file itself is untouched: still schema 1, still without the columns */
  assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(s, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 1);
  sqlite3_finalize(st);
  assert_int_not_equal(sqlite3_prepare_v2(s, "SELECT scope FROM regions", -1, &st, NULL), SQLITE_OK);
  sqlite3_close(s);
}

static void test_db_open_missing(void **state) {
  (void)state;
  hq_db_t *db = NULL;
  assert_int_equal(hq_db_open("/nonexistent/heapql.db", HQ_DB_READONLY, &db), HQ_ENOENT);
  hq_db_close(db);
  assert_int_equal(hq_db_open(NULL, 0, &db), HQ_EMISUSE);
}

/* Misuse (a NULL handle or required pointer) has one answer in every public function. */
static void test_misuse_one_answer(void **state) {
  hq_report_t *r = NULL;
  hq_site_t *s = NULL;
  hq_line_t *l = NULL;
  hq_frame_t *f = NULL;
  size_t n = 0;
  hq_db_t *none = NULL;
  char buf[8];
  (void)state;
  assert_int_equal(hq_db_open("x.db", 0, NULL), HQ_EMISUSE);
  assert_int_equal(hq_db_meta_get(NULL, "pid", buf, sizeof buf), HQ_EMISUSE);
  assert_int_equal(hq_db_meta_set(NULL, "pid", "1"), HQ_EMISUSE);
  assert_int_equal(hq_import(NULL, "x.db", NULL, NULL, NULL, 0), HQ_EMISUSE);
  assert_int_equal(hq_symbolize(NULL, 0), HQ_EMISUSE);
  assert_int_equal(hq_aggregate_update(NULL), HQ_EMISUSE);
  assert_int_equal(hq_report_compute(NULL, NULL, &r), HQ_EMISUSE);
  assert_int_equal(hq_report_write_text(NULL, stdout), HQ_EMISUSE);
  assert_int_equal(hq_report_write_json(NULL, stdout), HQ_EMISUSE);
  assert_int_equal(hq_sites_top(NULL, HQ_BY_BYTES, HQ_CLASS_HEAP, 1, &s, &n), HQ_EMISUSE);
  assert_int_equal(hq_lines_top(NULL, HQ_BY_BYTES, HQ_CLASS_HEAP, 1, &l, &n), HQ_EMISUSE);
  assert_int_equal(hq_stack_frames(NULL, 1, &f, &n), HQ_EMISUSE);
  assert_int_equal(hq_leaks_write(NULL, 1, HQ_FORMAT_TEXT, stdout), HQ_EMISUSE);
  assert_int_equal(hq_top_write(NULL, HQ_BY_BYTES, 0, HQ_CLASS_HEAP, 1, HQ_FORMAT_TEXT, stdout),
                   HQ_EMISUSE);
  assert_int_equal(hq_peak_write(NULL, 1, HQ_FORMAT_TEXT, stdout), HQ_EMISUSE);
  assert_int_equal(hq_query_run(NULL, "SELECT 1", HQ_FORMAT_TEXT, stdout), HQ_EMISUSE);
  assert_int_equal(hq_flame_write_folded(NULL, NULL, stdout), HQ_EMISUSE);
  assert_int_equal(hq_flame_write_svg(NULL, NULL, stdout), HQ_EMISUSE);
  assert_int_equal(hq_timeline_write_svg(NULL, NULL, stdout), HQ_EMISUSE);
  assert_int_equal(hq_diff(NULL, NULL, NULL, stdout, NULL), HQ_EMISUSE);
  assert_int_equal(hq_compare(&none, NULL, 1, HQ_FORMAT_TEXT, stdout), HQ_EMISUSE);
}

static void test_error_names(void **state) {
  (void)state;
  assert_string_equal(hq_err_name(HQ_EINVAL), "HQ_EINVAL");
  assert_string_equal(hq_strerror(HQ_ENOMEM), "out of memory");
  assert_string_equal(hq_err_name(12345), "HQ_UNKNOWN");
  assert_string_equal(hq_strerror(HQ_OK), "success");
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_db_create_then_open),
    cmocka_unit_test(test_db_create_refuses_existing),
    cmocka_unit_test(test_db_open_not_sqlite),
    cmocka_unit_test(test_db_open_foreign_sqlite),
    cmocka_unit_test(test_db_open_newer_schema),
    cmocka_unit_test(test_db_open_schema1),
    cmocka_unit_test(test_db_open_missing),
    cmocka_unit_test(test_error_names),
    cmocka_unit_test(test_misuse_one_answer),
  };
  return cmocka_run_group_tests_name("db", tests, NULL, NULL);
}
