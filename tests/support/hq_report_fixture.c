/*
 * hq_report_fixture.c: the report/view fixture (see hq_report_fixture.h).
 *
 * Times in ms (x HQ_FIXTURE_MS in the database).  Three threads (100 main, 101, 102).
 * Stacks (leaf first):
 *   2 "A": make_buffers victim.c:20 <- main victim.c:40
 *   3 "B": worker victim.c:30 <- main victim.c:40
 *   4 "C": 0x7f0000001000 (/opt/gone/libgone.so+0x1000) <- worker victim.c:30 <- main victim.c:40
 *   5 "D": fill victim.c:12 [inlined] <- make_buffers victim.c:21 <- main victim.c:40
 *
 *  id kind        size    stack tid  t_alloc t_free  free_tid free_kind alloc_seq free_seq from
 *   1 malloc       100    A    100    1000    2000   100      free       1        1
 *   2 malloc      1000    A    100    3000    -                         2                   leak
 *   3 malloc        10    D    100    4000    5000   100      realloc    3        4
 *   4 realloc       20    D    100    5000    6000   100      realloc    4        5       3
 *   5 realloc       40    D    100    6000    9000   100      free       5        7       4
 *   6 calloc      5000    B    100    7000    8000   100      free       6        6
 *   7 new         2000    C    100    8500    9500   100      delete     7        7
 *   8 malloc       300    B    101    1500    1600   101      free       1        1
 *   9 malloc       700    B    101    2500    -                         2                   leak
 *  10 mmap     1048576    C    101    3500    7500   101      munmap     3        3
 *  11 malloc        64    A    102    2200    2300   100      free       1        1   (other thread)
 *  12 new[]       4096    C    102    4500    -                         2                   leak
 *  13 cuda_device 1 MiB   B    102    5500    -                         3               device leak
 *  14 malloc         0    A    102    6500    6600   102      free       4        4
 *
 * Heap truth: 12 allocations, 13330 B, 7 frees, 2 reallocs, 3 leaked blocks / 5796 B,
 * temporaries 1 6 7 8 14 (5), peak 10836 B at 7000 ms (live: 2, 5, 6, 9, 12).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hq_test.h"
#include "hq_report_fixture.h"
#include "output/output_int.h"

#define MS HQ_FIXTURE_MS

typedef struct fx_row_s {
  int64_t id;
  const char *kind;
  int64_t size, stack, tid, t_alloc, t_free, free_tid;
  const char *free_kind;
  int64_t alloc_seq, free_seq, from;
} fx_row_t;

#define NONE (-1)

static const fx_row_t rows[] = {
  {1, "malloc", 100, 2, 100, 1000, 2000, 100, "free", 1, 1, NONE},
  {2, "malloc", 1000, 2, 100, 3000, NONE, NONE, NULL, 2, NONE, NONE},
  {3, "malloc", 10, 5, 100, 4000, 5000, 100, "realloc", 3, 4, NONE},
  {4, "realloc", 20, 5, 100, 5000, 6000, 100, "realloc", 4, 5, 3},
  {5, "realloc", 40, 5, 100, 6000, 9000, 100, "free", 5, 7, 4},
  {6, "calloc", 5000, 3, 100, 7000, 8000, 100, "free", 6, 6, NONE},
  {7, "new", 2000, 4, 100, 8500, 9500, 100, "delete", 7, 7, NONE},
  {8, "malloc", 300, 3, 101, 1500, 1600, 101, "free", 1, 1, NONE},
  {9, "malloc", 700, 3, 101, 2500, NONE, NONE, NULL, 2, NONE, NONE},
  {10, "mmap", 1048576, 4, 101, 3500, 7500, 101, "munmap", 3, 3, NONE},
  {11, "malloc", 64, 2, 102, 2200, 2300, 100, "free", 1, 1, NONE},
  {12, "new[]", 4096, 4, 102, 4500, NONE, NONE, NULL, 2, NONE, NONE},
  {13, "cuda_device", 1048576, 3, 102, 5500, NONE, NONE, NULL, 3, NONE, NONE},
  {14, "malloc", 0, 2, 102, 6500, 6600, 102, "free", 4, 4, NONE},
};

static void exec_ok(sqlite3 *s, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(s, sql, NULL, NULL, &err) != SQLITE_OK)
    fail_msg("fixture SQL failed: %s\n%s", err ? err : "?", sql);
}

static void bind_opt(sqlite3_stmt *st, int i, int64_t v) {
  if (v == NONE) sqlite3_bind_null(st, i);
  else sqlite3_bind_int64(st, i, v);
}

static void insert_rows(sqlite3 *s, const fx_row_t *r, size_t n, int64_t unit) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s, "INSERT INTO allocations(id, pid, kind, address, size, stack_id, tid,"
                            " t_alloc, t_free, free_tid, free_kind, alloc_seq, free_seq,"
                            " realloc_from) VALUES(?1, 100, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
                            " ?11, ?12, ?13)", -1, &st, NULL) != SQLITE_OK)
    fail_msg("prepare: %s", sqlite3_errmsg(s));
  for (size_t i = 0; i < n; i++) {
    sqlite3_bind_int64(st, 1, r[i].id);
    sqlite3_bind_text(st, 2, r[i].kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, 0x10000 + r[i].id * 0x100);
    sqlite3_bind_int64(st, 4, r[i].size);
    sqlite3_bind_int64(st, 5, r[i].stack);
    sqlite3_bind_int64(st, 6, r[i].tid);
    sqlite3_bind_int64(st, 7, r[i].t_alloc * unit);
    bind_opt(st, 8, r[i].t_free == NONE ? NONE : r[i].t_free * unit);
    bind_opt(st, 9, r[i].free_tid);
    if (r[i].free_kind) sqlite3_bind_text(st, 10, r[i].free_kind, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, 10);
    sqlite3_bind_int64(st, 11, r[i].alloc_seq);
    bind_opt(st, 12, r[i].free_seq);
    bind_opt(st, 13, r[i].from);
    if (sqlite3_step(st) != SQLITE_DONE) fail_msg("insert: %s", sqlite3_errmsg(s));
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
}

/* Feed the rows to the streaming aggregation as an importer would: events in time order. */
typedef struct fx_event_s { int64_t t; int is_free; size_t row; } fx_event_t;

static int ev_cmp(const void *a, const void *b) {
  const fx_event_t *x = a, *y = b;
  if (x->t != y->t) return x->t < y->t ? -1 : 1;
  return (x->row > y->row) - (x->row < y->row);
}

static void stream_rows(hq_db_t *db, const fx_row_t *r, size_t n, int64_t unit) {
  fx_event_t *ev = calloc(2 * n, sizeof *ev);
  size_t m = 0;
  hq__agg_t *agg = NULL;
  assert_non_null(ev);
  for (size_t i = 0; i < n; i++) {
    ev[m++] = (fx_event_t){r[i].t_alloc * unit, 0, i};
    if (r[i].t_free != NONE) ev[m++] = (fx_event_t){r[i].t_free * unit, 1, i};
  }
  qsort(ev, m, sizeof *ev, ev_cmp);
  assert_int_equal(hq__agg_begin(db, &agg), HQ_OK);
  for (size_t i = 0; i < m; i++) {
    const fx_row_t *x = &r[ev[i].row];
    hq__agg_event_t e;
    memset(&e, 0, sizeof e);
    e.kind = hq__kind_parse(x->kind);
    e.stack_id = x->stack;
    e.has_stack = 1;
    e.size = (uint64_t)x->size;
    e.t = ev[i].t;
    e.from_realloc = x->from != NONE;
    e.free_kind = hq__free_kind_parse(x->free_kind);
    e.t_alloc = x->t_alloc * unit;
    e.tid = x->tid;
    e.alloc_seq = x->alloc_seq;
    e.free_tid = x->free_tid;
    e.free_seq = x->free_seq;
    assert_int_equal(ev[i].is_free ? hq__agg_free(agg, &e) : hq__agg_alloc(agg, &e), HQ_OK);
  }
  assert_int_equal(hq__agg_finish(agg), HQ_OK);
  free(ev);
}

static hq_db_t *create(const char *path) {
  hq_db_t *db = NULL;
  unlink(path);
  if (hq_db_open(path, HQ_DB_CREATE | HQ_DB_FORCE, &db) != HQ_OK)
    fail_msg("create %s: %s", path, hq_db_errmsg(db));
  return db;
}

void hq_fixture_report(const char *path, int agg_mode, int flags) {
  hq_db_t *db = create(path);
  sqlite3 *s = hq_db_sqlite(db);
  char sql[2048];

  exec_ok(s, "BEGIN");
  exec_ok(s,
    "INSERT INTO processes VALUES(100, 1, 'victim', './victim --leak', 1700000000000000000,"
    " 10000000000, 0, NULL, 1);"
    "INSERT INTO modules(id, pid, path, build_id, base, size, gen_first) VALUES"
    " (1, 100, '/usr/bin/victim', 'abcd1234', 4194304, 65536, 0),"
    " (2, 100, '/opt/gone/libgone.so', NULL, 139637976727552, 2097152, 0);"
    "INSERT INTO threads VALUES (100, 100, 'main', 0, 10000000000),"
    " (100, 101, 'worker-1', 1000000000, 8000000000),"
    " (100, 102, 'worker-2', 2000000000, 9000000000);");
  if (flags & HQ_FIXTURE_UNSYMBOLIZED)
    exec_ok(s,
      "INSERT INTO frames(id, module_id, ip, offset) VALUES"
      " (1, 1, 4198656, 4352), (2, 1, 4198912, 4608), (3, 1, 4199168, 4864),"
      " (4, 2, 139637976731648, 4096), (5, 1, 4199424, 5120);");
  else
    exec_ok(s,
      "INSERT INTO frames(id, module_id, ip, offset, function, file, line, inline_parent,"
      " is_inline) VALUES"
      " (1, 1, 4198656, 4352, 'main', 'victim.c', 40, NULL, 0),"
      " (2, 1, 4198912, 4608, 'make_buffers', 'victim.c', 20, NULL, 0),"
      " (3, 1, 4199168, 4864, 'worker', 'victim.c', 30, NULL, 0),"
      " (4, 2, 139637976731648, 4096, NULL, NULL, NULL, NULL, 0),"
      " (5, 1, 4199424, 5120, 'fill', 'victim.c', 12, 6, 0),"
      " (6, 1, 4199424, 5120, 'make_buffers', 'victim.c', 21, NULL, 1);");
  exec_ok(s,
    "INSERT INTO stacks VALUES (1, NULL, 1, 1), (2, 1, 2, 2), (3, 1, 3, 2), (4, 3, 4, 3),"
    " (5, 1, 5, 2);"
    "INSERT INTO samples(pid, t, heap_bytes, mmap_bytes, device_bytes, rss_bytes) VALUES"
    " (100, 0, 0, 0, 0, 4000000),"
    " (100, 1000000000, 100, 0, 0, 4100000),"
    " (100, 2000000000, 0, 0, 0, 4100000),"
    " (100, 3000000000, 1700, 0, 0, 4200000),"
    " (100, 4000000000, 1710, 1048576, 0, 5300000),"
    " (100, 5000000000, 5816, 1048576, 0, 5400000),"
    " (100, 6000000000, 5836, 1048576, 1048576, 5400000),"
    " (100, 7000000000, 10836, 1048576, 1048576, 5500000),"
    " (100, 8000000000, 5836, 0, 1048576, 5600000),"
    " (100, 9000000000, 7796, 0, 1048576, 5500000),"
    " (100, 10000000000, 5796, 0, 1048576, 5500000);");
  snprintf(sql, sizeof sql,
    "INSERT OR REPLACE INTO meta VALUES ('heapql_version', '0.1.0'), ('program', 'victim'),"
    " ('command_line', './victim --leak'), ('pid', 100), ('ppid', 1), ('host', 'testhost'),"
    " ('t_start_unix_ns', 1700000000000000000), ('duration_ns', 10000000000),"
    " ('exit_status', 0), ('complete', 1), ('incomplete_reason', NULL), ('dropped_events', 0),"
    " ('max_depth', 64), ('recorder_bytes', 123456), ('unmatched_frees', 0),"
    " ('symbolized', %d), ('peak_mmap_bytes', 1048576), ('peak_rss_bytes', 5600000),"
    " ('peak_rss_t', 8000000000)", (flags & HQ_FIXTURE_UNSYMBOLIZED) ? 0 : 1);
  exec_ok(s, sql);
  if (flags & HQ_FIXTURE_BAD_PEAK_META)
    exec_ok(s, "INSERT OR REPLACE INTO meta VALUES ('peak_heap_bytes', 10836),"
               " ('peak_heap_t', 6000000000)");
  else if (!(flags & HQ_FIXTURE_NO_PEAK_META))
    exec_ok(s, "INSERT OR REPLACE INTO meta VALUES ('peak_heap_bytes', 10836),"
               " ('peak_heap_t', 7000000000)");
  insert_rows(s, rows, sizeof rows / sizeof rows[0], MS);
  if (agg_mode == HQ_FIXTURE_SCAN) {
    if (hq__aggregate_build(db) != HQ_OK) fail_msg("aggregate: %s", hq_db_errmsg(db));
  } else if (agg_mode == HQ_FIXTURE_STREAM) {
    stream_rows(db, rows, sizeof rows / sizeof rows[0], MS);
  }
  exec_ok(s, "COMMIT");
  /* the sites of the stacks, as the first report (or heapql query) leaves them */
  if (agg_mode != HQ_FIXTURE_NO_AGG && hq_aggregate_update(db) != HQ_OK)
    fail_msg("sites: %s", hq_db_errmsg(db));
  hq_db_close(db);
}

void hq_fixture_recommend(const char *path) {
  enum { N_TEMP = 1200, N_CHAIN = 150, N_LEAK = 40 };
  hq_db_t *db = create(path);
  sqlite3 *s = hq_db_sqlite(db);
  fx_row_t *r = calloc(N_TEMP + N_CHAIN + 3 + N_LEAK, sizeof *r);
  sqlite3_stmt *st = NULL;
  size_t n = 0;
  int64_t id = 1, seq1 = 0, seq2 = 0, t = 1;

  assert_non_null(r);
  exec_ok(s, "BEGIN");
  exec_ok(s,
    "INSERT INTO modules(id, pid, path, build_id, base, size, gen_first) VALUES"
    " (1, 100, '/usr/bin/patterns', 'ee', 4194304, 65536, 0);"
    "INSERT INTO frames(id, module_id, ip, offset, function, file, line) VALUES"
    " (1, 1, 4198400, 4096, 'main', 'patterns.c', 90),"
    " (2, 1, 4198656, 4352, 'hot_loop', 'hot.c', 10),"
    " (3, 1, 4198912, 4608, 'append', 'grow.c', 20),"
    " (4, 1, 4199168, 4864, 'load_all', 'big.c', 30),"
    " (5, 1, 4199424, 5120, 'remember', 'leak.c', 40);"
    "INSERT INTO stacks VALUES (1, NULL, 1, 1), (2, 1, 2, 2), (3, 1, 3, 2), (4, 1, 4, 2),"
    " (5, 1, 5, 2);"
    "INSERT INTO meta VALUES ('program', 'patterns'), ('pid', 100), ('complete', 1),"
    " ('duration_ns', 41000000000), ('exit_status', 0), ('symbolized', 1);");
  /* thread 1: hot temporaries (stack 2), then a realloc chain (stack 3), then a huge buffer
   * (stack 4); all within the first second */
  for (int i = 0; i < N_TEMP; i++, t += 2) {
    seq1++;
    r[n++] = (fx_row_t){id++, "malloc", 64, 2, 1, t, t + 1, 1, "free", seq1, seq1, NONE};
  }
  for (int i = 0; i <= N_CHAIN; i++, t += 2) {
    int last = i == N_CHAIN;
    seq1++;
    /* each block is released by the next realloc (which counts as the thread's next
     * allocation); the last one is freed before anything else is allocated */
    r[n++] = (fx_row_t){id, i ? "realloc" : "malloc", 16 * (i + 1), 3, 1, t,
                        last ? t + 1 : t + 2, 1, last ? "free" : "realloc", seq1,
                        last ? seq1 : seq1 + 1, i ? id - 1 : NONE};
    id++;
  }
  seq1++;
  r[n++] = (fx_row_t){id++, "malloc", 64ll << 20, 4, 1, t, t + 100, 1, "free", seq1, seq1, NONE};
  t += 200;
  seq1++;
  r[n++] = (fx_row_t){id++, "malloc", 8, 4, 1, t, NONE, NONE, NULL, seq1, NONE, NONE};
  /* thread 2: 4 MiB remembered every second, at k - 0.5 s, never freed (stack 5) */
  for (int k = 1; k <= N_LEAK; k++) {
    seq2++;
    r[n++] = (fx_row_t){id++, "malloc", 4ll << 20, 5, 2, (k * 1000 - 500) * MS, NONE, NONE,
                        NULL, seq2, NONE, NONE};
  }
  insert_rows(s, r, n, 1);
  if (sqlite3_prepare_v2(s, "INSERT INTO samples(pid, t, heap_bytes, mmap_bytes, device_bytes,"
                            " rss_bytes) VALUES(100, ?1, ?2, 0, 0, ?3)", -1, &st, NULL) != SQLITE_OK)
    fail_msg("prepare: %s", sqlite3_errmsg(s));
  for (int k = 0; k <= N_LEAK; k++) {
    sqlite3_bind_int64(st, 1, (int64_t)k * 1000000000);
    sqlite3_bind_int64(st, 2, (int64_t)k * (4 << 20) + (k ? 8 : 0));
    sqlite3_bind_int64(st, 3, (int64_t)k * (5 << 20) + 8000000);
    if (sqlite3_step(st) != SQLITE_DONE) fail_msg("sample: %s", sqlite3_errmsg(s));
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  exec_ok(s, "COMMIT");
  free(r);
  hq_db_close(db);
}

/* ---- docs/schema.md blocks ---- */

static void append(char **buf, size_t *len, const char *s, size_t n) {
  char *g = realloc(*buf, *len + n + 1);
  if (!g) fail_msg("out of memory");
  memcpy(g + *len, s, n);
  *len += n;
  g[*len] = '\0';
  *buf = g;
}

size_t hq_doc_blocks(const char *marker, hq_doc_block_t **out) {
  char *doc = hq_test_read_file("docs/schema.md", NULL);
  char head[64];
  hq_doc_block_t *blocks = NULL;
  size_t n = 0;
  const char *p;
  if (!doc) fail_msg("docs/schema.md not readable (tests run from the repository root)");
  snprintf(head, sizeof head, "-- %s: ", marker);
  for (p = strstr(doc, "```sql\n"); p; p = strstr(p, "```sql\n")) {
    const char *line = p + 7, *end = strstr(line, "```");
    char *sql = NULL, *expected = NULL, *name;
    size_t sql_len = 0, exp_len = 0;
    int in_expected = 0;
    if (!end) break;
    p = end + 3;
    if (strncmp(line, head, strlen(head)) != 0) continue;
    {
      const char *nl = strchr(line, '\n');
      name = strndup(line + strlen(head), (size_t)(nl - line - (long)strlen(head)));
      line = nl + 1;
    }
    while (line < end) {
      const char *nl = strchr(line, '\n');
      size_t len = (size_t)(nl - line);
      if (len >= 3 && !strncmp(line, "-- ", 3) && sql_len) in_expected = 1;
      if (in_expected) {
        append(&expected, &exp_len, line + 3, len - 3);
        append(&expected, &exp_len, "\n", 1);
      } else {
        append(&sql, &sql_len, line, len + 1);
      }
      line = nl + 1;
    }
    blocks = realloc(blocks, (n + 1) * sizeof *blocks);
    if (!blocks) fail_msg("out of memory");
    blocks[n].name = name;
    blocks[n].sql = sql;
    blocks[n].expected = expected;
    n++;
  }
  free(doc);
  *out = blocks;
  return n;
}

void hq_doc_blocks_free(hq_doc_block_t *blocks, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(blocks[i].name);
    free(blocks[i].sql);
    free(blocks[i].expected);
  }
  free(blocks);
}

char *hq_sql_rows(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  char *out = calloc(1, 1);
  size_t len = 0;
  int step;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    fail_msg("SQL error: %s\n%s", sqlite3_errmsg(db), sql);
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    for (int c = 0; c < sqlite3_column_count(st); c++) {
      const unsigned char *t = sqlite3_column_text(st, c);
      if (c) append(&out, &len, "|", 1);
      if (t) append(&out, &len, (const char *)t, strlen((const char *)t));
    }
    append(&out, &len, "\n", 1);
  }
  if (step != SQLITE_DONE) fail_msg("SQL error: %s\n%s", sqlite3_errmsg(db), sql);
  sqlite3_finalize(st);
  return out;
}
