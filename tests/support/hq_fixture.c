/* hq_fixture.c: hand-built heapql databases for tests (see hq_fixture.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq_test.h"
#include "hq_fixture.h"

hq_db_t *hq_fx_create(const char *path, int64_t pid, const char *program) {
  hq_db_t *db = NULL;
  int rc = hq_db_open(path, HQ_DB_CREATE | HQ_DB_FORCE, &db);
  if (rc) fail_msg("cannot create %s: %s", path, hq_db_errmsg(db));
  hq_fx_meta(db, "pid", pid);
  if (hq_db_meta_set(db, "program", program)) fail_msg("meta: %s", hq_db_errmsg(db));
  return db;
}

void hq_fx_exec(hq_db_t *db, const char *fmt, ...) {
  va_list ap;
  char *sql, *err = NULL;
  va_start(ap, fmt);
  sql = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  if (sqlite3_exec(hq_db_sqlite(db), sql, NULL, NULL, &err) != SQLITE_OK)
    fail_msg("fixture SQL failed: %s: %s", sql, err ? err : "?");
  sqlite3_free(sql);
}

void hq_fx_meta(hq_db_t *db, const char *key, int64_t value) {
  hq_fx_exec(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(%Q, %lld)", key, (long long)value);
}

/* "NULL" or the number, for building SQL. */
static const char *num(int64_t v, char *buf) {
  if (v == HQ_FX_NULL) return "NULL";
  snprintf(buf, 32, "%lld", (long long)v);
  return buf;
}

int64_t hq_fx_module(hq_db_t *db, int64_t pid, const char *path, int64_t base, int64_t size) {
  hq_fx_exec(db, "INSERT INTO modules(pid, path, base, size, gen_first) VALUES(%lld, %Q, %lld, %lld, 1)",
             (long long)pid, path, (long long)base, (long long)size);
  return sqlite3_last_insert_rowid(hq_db_sqlite(db));
}

int64_t hq_fx_frame(hq_db_t *db, int64_t module_id, int64_t ip, const char *function,
                    const char *file, int64_t line, int64_t inline_parent, int is_inline) {
  char b1[32], b2[32];
  hq_fx_exec(db, "INSERT INTO frames(module_id, ip, offset, function, file, line, inline_parent,"
                 " is_inline) VALUES(%lld, %lld, %lld - (SELECT base FROM modules WHERE id = %lld),"
                 " %Q, %Q, %s, %s, %d)",
             (long long)module_id, (long long)ip, (long long)ip, (long long)module_id, function,
             file, num(line, b1), inline_parent ? num(inline_parent, b2) : "NULL", is_inline);
  return sqlite3_last_insert_rowid(hq_db_sqlite(db));
}

int64_t hq_fx_stack(hq_db_t *db, int64_t parent, int64_t frame_id) {
  if (parent)
    hq_fx_exec(db, "INSERT INTO stacks(parent_id, frame_id, depth) VALUES(%lld, %lld,"
                   " (SELECT depth + 1 FROM stacks WHERE id = %lld))",
               (long long)parent, (long long)frame_id, (long long)parent);
  else
    hq_fx_exec(db, "INSERT INTO stacks(parent_id, frame_id, depth) VALUES(NULL, %lld, 1)",
               (long long)frame_id);
  return sqlite3_last_insert_rowid(hq_db_sqlite(db));
}

int64_t hq_fx_alloc(hq_db_t *db, int64_t pid, const char *kind, int64_t size, int64_t stack_id,
                    int64_t t_alloc, int64_t t_free, const char *free_kind) {
  char b1[32], b2[32], b3[32];
  static int64_t address = 0x10000;
  address += 0x1000;
  hq_fx_exec(db, "INSERT INTO allocations(pid, kind, address, size, stack_id, tid, t_alloc,"
                 " t_free, free_tid, free_kind, alloc_seq) VALUES(%lld, %Q, %lld, %lld, %s, %lld,"
                 " %lld, %s, %s, %Q, (SELECT count(*) + 1 FROM allocations WHERE pid = %lld))",
             (long long)pid, kind, (long long)address, (long long)size,
             stack_id ? num(stack_id, b1) : "NULL", (long long)pid, (long long)t_alloc,
             num(t_free, b2), t_free == HQ_FX_NULL ? "NULL" : num(pid, b3),
             t_free == HQ_FX_NULL ? NULL : (free_kind ? free_kind : "free"), (long long)pid);
  return sqlite3_last_insert_rowid(hq_db_sqlite(db));
}

void hq_fx_sample(hq_db_t *db, int64_t pid, int64_t t, int64_t heap, int64_t mmap,
                  int64_t device, int64_t rss) {
  char b1[32], b2[32], b3[32];
  hq_fx_exec(db, "INSERT INTO samples(pid, t, heap_bytes, mmap_bytes, device_bytes, rss_bytes)"
                 " VALUES(%lld, %lld, %lld, %s, %s, %s)", (long long)pid, (long long)t,
             (long long)heap, num(mmap, b1), num(device, b2), num(rss, b3));
}

/*
 * The "victim" run (see hq_fixture.h for the figures).  variant 0 = BASE, 1 = NEW: NEW was
 * rebuilt (other addresses, victim.c lines one lower down), calls work() three times, leaks 64
 * more bytes from a new function leak2(), and its libfoo buffer doubled.
 */
hq_db_t *hq_fx_victim(const char *path, int64_t pid, int variant) {
  hq_db_t *db = hq_fx_create(path, pid, "victim");
  int64_t shift = variant ? 0x1000 : 0, dl = variant ? 1 : 0, m1, m2, f_main, f_work, f_leaky,
          f_foo, f_inl_outer, f_inl, f_leak2 = 0, s_main, s_work, s_leaky, s_foo, s_inl, s_leak2 = 0;
  hq_fx_exec(db, "BEGIN");
  hq_fx_meta(db, "ppid", variant ? 4242 : 999);
  hq_fx_meta(db, "duration_ns", HQ_FX_T(100));
  hq_fx_meta(db, "t_start_unix_ns", 1700000000000000000LL + (variant ? 5000000000LL : 0));
  hq_fx_meta(db, "complete", 1);
  hq_fx_meta(db, "exit_status", 0);
  hq_fx_meta(db, "dropped_events", variant ? 3 : 2);
  hq_fx_meta(db, "symbolized", 1);
  hq_fx_meta(db, "peak_heap_bytes", variant ? 2314 : 1250);
  hq_fx_meta(db, "peak_heap_t", variant ? HQ_FX_T(75) : HQ_FX_T(70));
  hq_fx_meta(db, "peak_rss_bytes", variant ? 27000 : 22000);
  if (hq_db_meta_set(db, "command_line", variant ? "./victim --new" : "./victim")) fail();
  m1 = hq_fx_module(db, pid, "/opt/victim/bin/victim", 0x400000 + shift, 0x10000);
  m2 = hq_fx_module(db, pid, "/usr/lib/libfoo.so", 0x7f0000000000 + shift * 16, 0x100000);
  f_main = hq_fx_frame(db, m1, 0x401100 + shift, "main", "/src/victim.c", 40 + dl, 0, 0);
  f_work = hq_fx_frame(db, m1, 0x401200 + shift, "work", "/src/victim.c", 20 + dl, 0, 0);
  f_leaky = hq_fx_frame(db, m1, 0x401300 + shift, "leaky", "/src/victim.c", 12 + dl, 0, 0);
  f_foo = hq_fx_frame(db, m2, 0x7f0000001234 + shift * 16, NULL, NULL, HQ_FX_NULL, 0, 0);
  /* inner_helper() inlined into work(): the physical row names the inlined function, its
   * inline_parent row (same ip) the caller. */
  f_inl_outer = hq_fx_frame(db, m1, 0x401400 + shift, "work", "/src/victim.c", 25 + dl, 0, 1);
  f_inl = hq_fx_frame(db, m1, 0x401400 + shift, "inner_helper", "/src/util.h", 7, f_inl_outer, 0);
  if (variant) f_leak2 = hq_fx_frame(db, m1, 0x401500 + shift, "leak2", "/src/victim.c", 60, 0, 0);
  s_main = hq_fx_stack(db, 0, f_main);
  s_work = hq_fx_stack(db, s_main, f_work);
  s_leaky = hq_fx_stack(db, s_work, f_leaky);
  s_foo = hq_fx_stack(db, s_main, f_foo);
  s_inl = hq_fx_stack(db, s_main, f_inl);
  if (variant) s_leak2 = hq_fx_stack(db, s_work, f_leak2);
  if (!variant) {
    hq_fx_alloc(db, pid, "malloc", 100, s_work, HQ_FX_T(10), HQ_FX_T(20), "free");
    hq_fx_alloc(db, pid, "mmap", 4096, s_work, HQ_FX_T(15), HQ_FX_NULL, NULL);
    hq_fx_alloc(db, pid, "malloc", 200, s_leaky, HQ_FX_T(30), HQ_FX_NULL, NULL);
    hq_fx_alloc(db, pid, "malloc", 300, s_leaky, HQ_FX_T(40), HQ_FX_T(50), "free");
    hq_fx_alloc(db, pid, "calloc", 1000, s_foo, HQ_FX_T(60), HQ_FX_T(90), "free");
    hq_fx_alloc(db, pid, "new", 50, s_inl, HQ_FX_T(70), HQ_FX_NULL, NULL);
    hq_fx_alloc(db, pid, "malloc", 8, 0, HQ_FX_T(95), HQ_FX_T(96), "free");
  } else {
    hq_fx_alloc(db, pid, "malloc", 100, s_work, HQ_FX_T(10), HQ_FX_T(12), "free");
    hq_fx_alloc(db, pid, "malloc", 100, s_work, HQ_FX_T(13), HQ_FX_T(15), "free");
    hq_fx_alloc(db, pid, "malloc", 100, s_work, HQ_FX_T(16), HQ_FX_T(18), "free");
    hq_fx_alloc(db, pid, "mmap", 4096, s_work, HQ_FX_T(15), HQ_FX_NULL, NULL);
    hq_fx_alloc(db, pid, "malloc", 200, s_leaky, HQ_FX_T(30), HQ_FX_NULL, NULL);
    hq_fx_alloc(db, pid, "malloc", 300, s_leaky, HQ_FX_T(40), HQ_FX_T(50), "free");
    hq_fx_alloc(db, pid, "calloc", 2000, s_foo, HQ_FX_T(60), HQ_FX_T(90), "free");
    hq_fx_alloc(db, pid, "new", 50, s_inl, HQ_FX_T(70), HQ_FX_NULL, NULL);
    hq_fx_alloc(db, pid, "malloc", 64, s_leak2, HQ_FX_T(75), HQ_FX_NULL, NULL);
    hq_fx_alloc(db, pid, "malloc", 8, 0, HQ_FX_T(95), HQ_FX_T(96), "free");
  }
  /* Samples every 10 "ms" plus the peak. */
  {
    static const int64_t base_heap[] = {0, 100, 0, 200, 500, 200, 1200, 1250, 1250, 250, 250};
    static const int64_t new_heap[] = {0, 100, 0, 200, 500, 200, 2200, 2250, 2314, 314, 314};
    for (int i = 0; i <= 10; i++) {
      int64_t t = HQ_FX_T(i * 10 - (variant && i == 8 ? 5 : 0)); /* NEW peaks at T(75) */
      hq_fx_sample(db, pid, t, variant ? new_heap[i] : base_heap[i], i >= 2 ? 4096 : 0,
                   HQ_FX_NULL, (variant ? 10000 : 5000) + 1000 * i + (i == 7 ? 10000 : 0));
    }
  }
  hq_fx_exec(db, "COMMIT");
  return db;
}

/* ---- checks shared by the analyzer tests ---- */

hq_test_proc_t hq_fx_cli(char **args) {
  char *argv[16] = {(char *)hq_test_build_path("bin/heapql")};
  hq_test_proc_t p;
  int n = 1;
  for (; args[n - 1] && n < 15; n++) argv[n] = args[n - 1];
  argv[n] = NULL;
  if (hq_test_run(argv, NULL, NULL, 60, &p) != 0) fail_msg("cannot run %s", argv[0]);
  return p;
}

void hq_fx_assert_one_line(const hq_test_proc_t *p, int status, const char *fragment) {
  if (p->exit_status != status) fail_msg("exit %d, expected %d; stderr: %s", p->exit_status, status, p->err);
  assert_int_equal(strncmp(p->err, "heapql: ", 8), 0);
  assert_int_equal(hq_fx_count(p->err, "\n"), 1);
  assert_int_equal(p->err[p->err_len - 1], '\n');
  if (!strstr(p->err, fragment)) fail_msg("expected '%s' in: %s", fragment, p->err);
}

void hq_fx_xml_ok(const char *path) {
  const char *xmllint = hq_test_which("xmllint");
  hq_test_proc_t p;
  HQ_TEST_REQUIRE(xmllint, "xmllint (Debian libxml2-utils)");
  char *argv[] = {(char *)xmllint, "--noout", (char *)path, NULL};
  assert_int_equal(hq_test_run(argv, NULL, NULL, 30, &p), 0);
  if (p.exit_status != 0) fail_msg("xmllint %s: %s", path, p.err);
  hq_test_proc_free(&p);
}

size_t hq_fx_count(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

char *hq_fx_python(const char *script, const char *path) {
  const char *py = "/usr/bin/python3";
  hq_test_proc_t p;
  char *out;
  HQ_TEST_REQUIRE(hq_test_exists(py), "/usr/bin/python3");
  char *argv[] = {(char *)py, "-c", (char *)script, (char *)path, NULL};
  assert_int_equal(hq_test_run(argv, NULL, NULL, 30, &p), 0);
  if (p.exit_status != 0) fail_msg("python: %s", p.err);
  out = p.out;
  p.out = NULL;
  hq_test_proc_free(&p);
  return out;
}
