/* test_rowq.c: the importer's row writer (analyzer/hq_rowq.c): order, NULLs, text, reals,
 * appended ids, and errors coming back from the writer thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq_test.h"
#include "heapql/heapql.h"
#include "import/hq_rowq.h"

static const hq__rowq_table_t tables[] = {
  {"scratch_a", "INSERT INTO scratch_a(kind, n, t, note, x)", 5},
  {"scratch_b", "INSERT INTO scratch_b(id, v)", 2},
};

/* A new heapql database at path with two scratch tables. */
static hq_db_t *scratch_db(const char *path) {
  hq_db_t *db = NULL;
  assert_int_equal(hq_db_open(path, HQ_DB_CREATE, &db), HQ_OK);
  assert_int_equal(hq__db_exec(db,
      "CREATE TABLE scratch_a(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, n INTEGER, t INTEGER, "
      "note TEXT, x REAL);"
      "CREATE TABLE scratch_b(id INTEGER PRIMARY KEY, v INTEGER);"), HQ_OK);
  return db;
}

/* Rows interleaved over two tables and many blocks keep each table's order and values. */
static void test_rowq_rows_in_order_across_blocks(void **state) {
  (void)state;
  char path[4096];
  hq_db_t *db;
  hq__rowq_t *q = NULL;
  const long n = 5 * HQ__ROWQ_BLOCK + 17;
  static const char note[] = "note-and-more"; /* only the first 4 bytes are the note */
  sqlite3 *s;
  snprintf(path, sizeof path, "%s", hq_test_join(hq_test_tmpdir(), "order.db"));
  db = scratch_db(path);
  assert_int_equal(hq__db_exec(db, "BEGIN"), HQ_OK);
  assert_int_equal(hq__rowq_start(db, tables, 2, &q), HQ_OK);
  for (long i = 1; i <= n; i++) {
    hq__row_t *r = hq__rowq_row(q, 0);
    assert_non_null(r);
    r->rowid = i;
    hq__row_text(r, 1, i % 2 ? "odd" : "even", i % 2 ? 3 : 4);
    hq__row_int(r, 2, i * 3);
    if (i % 5) hq__row_int(r, 3, -i);
    if (i % 7 == 0) hq__row_text(r, 4, note, 4);
    hq__row_double(r, 5, (double)i / 4);
    if (i % 100 == 0) {
      r = hq__rowq_row(q, 1);
      assert_non_null(r);
      hq__row_int(r, 1, 1000 - i / 100); /* explicit ids, descending */
      hq__row_int(r, 2, i);
    }
  }
  assert_int_equal(hq__rowq_finish(q), HQ_OK);
  assert_int_equal(hq__db_exec(db, "COMMIT"), HQ_OK);
  hq_db_close(db);

  s = hq_test_sqlite_open(path);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM scratch_a"), n);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM scratch_a WHERE n != id * 3"), 0);
  assert_int_equal(hq_test_q_int(s, "SELECT max(id) FROM scratch_a"), n);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM scratch_a WHERE kind = "
                                    "CASE id %% 2 WHEN 1 THEN 'odd' ELSE 'even' END"), n);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM scratch_a WHERE t IS NULL"), n / 5);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM scratch_a WHERE t = -id"), n - n / 5);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM scratch_a WHERE note = 'note'"), n / 7);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM scratch_a WHERE note IS NULL"), n - n / 7);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM scratch_a WHERE typeof(x) = 'real' "
                                    "AND x = id / 4.0"), n);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM scratch_b"), n / 100);
  /* Explicit ids descend while rows were queued in ascending v: order of queueing is kept. */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM scratch_b WHERE id = 1000 - v / 100"),
                   n / 100);
  assert_int_equal(hq_test_q_int(s, "SELECT v FROM scratch_b WHERE rowid = 999"), 100);
  sqlite3_close(s);
}

/* Blocks that set different columns get statements of their own (more than are kept). */
static void test_rowq_blocks_of_many_shapes(void **state) {
  (void)state;
  char path[4096];
  hq_db_t *db;
  hq__rowq_t *q = NULL;
  sqlite3 *s;
  const long n = 3 * 8 * HQ__ROWQ_BLOCK; /* shapes 0..7, three times over */
  snprintf(path, sizeof path, "%s", hq_test_join(hq_test_tmpdir(), "shapes.db"));
  db = scratch_db(path);
  assert_int_equal(hq__db_exec(db, "BEGIN"), HQ_OK);
  assert_int_equal(hq__rowq_start(db, tables, 2, &q), HQ_OK);
  for (long i = 0; i < n; i++) {
    long shape = (i / HQ__ROWQ_BLOCK) % 8;
    hq__row_t *r = hq__rowq_row(q, 0);
    assert_non_null(r);
    r->rowid = i + 1;
    hq__row_text(r, 1, "k", 1);
    if (shape & 1) hq__row_int(r, 2, i);
    if (shape & 2) hq__row_int(r, 3, 2 * i);
    if (shape & 4) hq__row_text(r, 4, "nn", 2);
    if (shape & 4) hq__row_double(r, 5, 0.5);
  }
  assert_int_equal(hq__rowq_finish(q), HQ_OK);
  assert_int_equal(hq__db_exec(db, "COMMIT"), HQ_OK);
  hq_db_close(db);
  s = hq_test_sqlite_open(path);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM scratch_a"), n);
  /* shape = ((id - 1) / block) %% 8 */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM scratch_a WHERE "
      "CASE WHEN ((id - 1) / %d) %% 2 THEN n = id - 1 ELSE n IS NULL END", HQ__ROWQ_BLOCK), n);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM scratch_a WHERE "
      "CASE WHEN ((id - 1) / %d / 2) %% 2 THEN t = 2 * (id - 1) ELSE t IS NULL END",
      HQ__ROWQ_BLOCK), n);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM scratch_a WHERE "
      "CASE WHEN ((id - 1) / %d / 4) %% 2 THEN note = 'nn' AND x = 0.5 "
      "ELSE note IS NULL AND x IS NULL END", HQ__ROWQ_BLOCK), n);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM scratch_a WHERE kind = 'k'"), n);
  sqlite3_close(s);
}

/* A row SQLite refuses stops the writer; the error and SQLite's message reach the caller. */
static void test_rowq_writer_error_reaches_the_sweep(void **state) {
  (void)state;
  hq_db_t *db = scratch_db(hq_test_join(hq_test_tmpdir(), "error.db"));
  hq__rowq_t *q = NULL;
  long pushed = 0;
  int rc = HQ_OK;
  assert_int_equal(hq__db_exec(db, "BEGIN"), HQ_OK);
  assert_int_equal(hq__rowq_start(db, tables, 2, &q), HQ_OK);
  /* kind is NOT NULL: the first row of the block fails. */
  for (long i = 0; i < 40 * HQ__ROWQ_BLOCK; i++) {
    hq__row_t *r = hq__rowq_row(q, 0);
    if (!r) {
      rc = hq__rowq_error(q);
      break;
    }
    hq__row_int(r, 2, i);
    pushed++;
  }
  /* The sweep learns it at a hand-over, at most the queue's length later. */
  assert_int_equal(rc, HQ_EDB);
  assert_true(pushed <= (long)(HQ__ROWQ_BLOCKS + 1) * HQ__ROWQ_BLOCK);
  assert_int_equal(hq__rowq_finish(q), HQ_EDB);
  assert_non_null(strstr(hq_db_errmsg(db), "scratch_a"));
  assert_non_null(strstr(hq_db_errmsg(db), "NOT NULL constraint failed: scratch_a.kind"));
  /* The connection is the caller's again. */
  assert_int_equal(hq__db_exec(db, "ROLLBACK"), HQ_OK);
  hq_db_close(db);
}

/* An id SQLite would assign differently from the sweep's is an error, never a silent shift. */
static void test_rowq_rowid_out_of_step_is_an_error(void **state) {
  (void)state;
  hq_db_t *db = scratch_db(hq_test_join(hq_test_tmpdir(), "rowid.db"));
  hq__rowq_t *q = NULL;
  assert_int_equal(hq__db_exec(db, "BEGIN; INSERT INTO scratch_a(id, kind) VALUES(7, 'x')"), HQ_OK);
  assert_int_equal(hq__rowq_start(db, tables, 2, &q), HQ_OK);
  for (long i = 1; i <= 3; i++) {
    hq__row_t *r = hq__rowq_row(q, 0);
    assert_non_null(r);
    r->rowid = i; /* SQLite appends after 7: 8, 9, 10 */
    hq__row_text(r, 1, "k", 1);
  }
  assert_int_equal(hq__rowq_finish(q), HQ_EDB);
  assert_non_null(strstr(hq_db_errmsg(db), "scratch_a: row id 10 where 3 was assigned"));
  assert_int_equal(hq__db_exec(db, "ROLLBACK"), HQ_OK);
  hq_db_close(db);
}

/* Abort hands the connection back without writing what was still queued. */
static void test_rowq_abort_returns_the_connection(void **state) {
  (void)state;
  char path[4096];
  hq_db_t *db;
  hq__rowq_t *q = NULL;
  sqlite3 *s;
  snprintf(path, sizeof path, "%s", hq_test_join(hq_test_tmpdir(), "abort.db"));
  db = scratch_db(path);
  assert_int_equal(hq__db_exec(db, "BEGIN"), HQ_OK);
  assert_int_equal(hq__rowq_start(db, tables, 2, &q), HQ_OK);
  for (long i = 1; i <= 10; i++) {
    hq__row_t *r = hq__rowq_row(q, 1);
    assert_non_null(r);
    hq__row_int(r, 1, i);
  }
  hq__rowq_abort(q); /* 10 rows in a block never handed over */
  hq__rowq_abort(NULL);
  assert_int_equal(hq__db_exec(db, "INSERT INTO scratch_b(id, v) VALUES(1, 2); COMMIT"), HQ_OK);
  hq_db_close(db);
  s = hq_test_sqlite_open(path);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM scratch_b"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT v FROM scratch_b WHERE id = 1"), 2);
  sqlite3_close(s);
}

static void test_rowq_start_rejects_bad_tables(void **state) {
  (void)state;
  hq_db_t *db = scratch_db(hq_test_join(hq_test_tmpdir(), "bad.db"));
  hq__rowq_t *q = (hq__rowq_t *)1;
  const hq__rowq_table_t wide = {"scratch_b", "INSERT INTO scratch_b(id, v)", HQ__ROWQ_COLS + 1};
  const hq__rowq_table_t missing = {"nope", "INSERT INTO nope(a)", 1};
  assert_int_equal(hq__rowq_start(db, &wide, 1, &q), HQ_EINVAL);
  assert_null(q);
  assert_int_equal(hq__rowq_start(db, tables, 0, &q), HQ_EINVAL);
  assert_int_equal(hq__rowq_start(db, &missing, 1, &q), HQ_EDB);
  assert_null(q);
  assert_non_null(strstr(hq_db_errmsg(db), "no such table: nope"));
  hq_db_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rowq_rows_in_order_across_blocks),
    cmocka_unit_test(test_rowq_blocks_of_many_shapes),
    cmocka_unit_test(test_rowq_writer_error_reaches_the_sweep),
    cmocka_unit_test(test_rowq_rowid_out_of_step_is_an_error),
    cmocka_unit_test(test_rowq_abort_returns_the_connection),
    cmocka_unit_test(test_rowq_start_rejects_bad_tables),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
