/*
 * test_preload_sites.c: reports a developer acts on (issue 8).  The site of an allocation is
 * the caller of its allocation wrappers (C++ containers, strdup, glib, libiberty in gcc's cc1, a
 * project's own wrapper named by --wrappers), with its callers; a library without symbols is
 * named through the entry point it was called by (sqlite3); growth findings fire on programs
 * that grow and not on one that does not; a rebuilt binary is named in a warning and reached
 * with --debug-dir; the HTML timeline draws a small heap above the axis (headless Chromium).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hq_test.h"
#include "hq_json_flat.h"

#define HEAPQL() ((char *)hq_test_build_path("bin/heapql"))
#define VICTIM(n) ((char *)hq_test_build_path("tests/victims/" n))

/* heapql ARGS... (NULL-ended) with extra environment env; must exit 0 with nothing on stderr. */
static char *heapql_out(char *const env[], char *const args[]) {
  char *argv[32];
  size_t n = 0;
  hq_test_proc_t p;
  char *out;
  argv[n++] = HEAPQL();
  while (*args && n < 31) argv[n++] = *args++;
  argv[n] = NULL;
  assert_int_equal(hq_test_run(argv, env, NULL, 120, &p), 0);
  if (p.exit_status != 0 || p.err_len) print_message("heapql %s: %s", argv[1], p.err);
  assert_int_equal(p.exit_status, 0);
  assert_int_equal(p.err_len, 0);
  out = p.out;
  p.out = NULL;
  hq_test_proc_free(&p);
  return out;
}

static void record(const char *db, char *const cmd[]) {
  hq_test_proc_t p;
  hq_test_heapql_record(db, cmd, &p);
  assert_int_equal(p.term_signal, 0);
  hq_test_proc_free(&p);
}

/* The index of the site under `list` ("sites", "top.by_bytes") whose function is fn, or -1. */
static int site_index(const hq_json_t *j, const char *list, const char *fn) {
  char path[256];
  for (int i = 0;; i++) {
    const hq_json_entry_t *e;
    snprintf(path, sizeof path, "%s[%d]", list, i);
    if (!hq_json_get(j, path)) return -1;
    snprintf(path, sizeof path, "%s[%d].function", list, i);
    e = hq_json_get(j, path);
    if (e && e->value && !strcmp(e->value, fn)) return i;
  }
}

static const char *site_field(const hq_json_t *j, const char *list, int i, const char *field) {
  char path[256];
  const hq_json_entry_t *e;
  snprintf(path, sizeof path, "%s[%d].%s", list, i, field);
  e = hq_json_get(j, path);
  return e && e->value ? e->value : "";
}

/* The site named fn is listed under `list` at line `line` of file `file`, with `bytes` (-1: any). */
static void expect_site(const hq_json_t *j, const char *list, const char *fn, const char *file,
                        int line, long bytes) {
  int i = site_index(j, list, fn);
  char want[16];
  if (i < 0) fail_msg("no site %s under %s", fn, list);
  assert_non_null(strstr(site_field(j, list, i, "file"), file));
  snprintf(want, sizeof want, "%d", line);
  assert_string_equal(site_field(j, list, i, "line"), want);
  if (bytes >= 0) {
    snprintf(want, sizeof want, "%ld", bytes);
    assert_string_equal(site_field(j, list, i, "bytes"), want);
  }
}

/* A copy of a static-buffer answer (hq_test_which), kept for the test's life; NULL stays NULL. */
static const char *keep_copy(const char *s) {
  static char kept[8][4096];
  static int next;
  if (!s) return NULL;
  snprintf(kept[next & 7], sizeof kept[0], "%s", s);
  return kept[next++ & 7];
}

static hq_json_t parse(char *text) {
  hq_json_t j;
  assert_int_equal(hq_json_parse(text, &j), 0);
  free(text);
  return j;
}

/* ---- wrappers ---- */

static void check_wrapper_sites(const hq_json_t *j, const char *list, int named_my_alloc) {
  expect_site(j, list, "fill_vector()", "v_wrappers.cpp", 19, 8188); /* 1+2+...+1024 ints */
  expect_site(j, list, "grow_string()", "v_wrappers.cpp", 24, -1);
  expect_site(j, list, "dup_names()", "v_wrappers.cpp", 28, 47);
  expect_site(j, list, "count_words()", "v_wrappers.cpp", 38, -1);
  if (named_my_alloc) {
    expect_site(j, list, "use_my_alloc()", "v_wrappers.cpp", 32, 7000);
    assert_int_equal(site_index(j, list, "my_alloc"), -1);
  } else {
    expect_site(j, list, "my_alloc", "v_wrappers.cpp", 10, 7000);
  }
  /* nothing of the standard library is a site */
  for (int i = 0; site_field(j, list, i, "location")[0]; i++) {
    const char *fn = site_field(j, list, i, "function");
    assert_null(strstr(fn, "std::"));
    assert_null(strstr(fn, "operator new"));
    assert_string_not_equal(fn, "strdup");
    assert_string_not_equal(fn, "__GI___strdup");
  }
}

static void test_sites_past_wrappers(void **state) {
  (void)state;
  const char *db = strdup(hq_test_join(hq_test_tmpdir(), "w.db"));
  char *cmd[] = {VICTIM("v_wrappers"), NULL};
  hq_json_t j;
  record(db, cmd);
  {
    char *a[] = {"top", (char *)db, "--format", "json", "--limit", "20", NULL};
    j = parse(heapql_out(NULL, a));
    check_wrapper_sites(&j, "sites", 0);
    /* the vector's site lists its caller, all of it */
    int i = site_index(&j, "sites", "fill_vector()");
    char path[64];
    snprintf(path, sizeof path, "sites[%d].callers[0].location", i);
    assert_non_null(strstr(hq_json_get(&j, path)->value, "main "));
    assert_non_null(strstr(hq_json_get(&j, path)->value, "v_wrappers.cpp:42"));
    snprintf(path, sizeof path, "sites[%d].callers[0].share", i);
    assert_string_equal(hq_json_get(&j, path)->value, "1.0000");
    hq_json_free(&j);
  }
  {
    char *a[] = {"top", (char *)db, "--format", "json", "--limit", "20", "--wrappers", "my_alloc", NULL};
    j = parse(heapql_out(NULL, a));
    check_wrapper_sites(&j, "sites", 1);
    hq_json_free(&j);
  }
  {
    char *env[] = {"HEAPQL_WRAPPERS=fun:my_al*", NULL};
    char *a[] = {"leaks", (char *)db, "--format", "json", "--limit", "20", NULL};
    j = parse(heapql_out(env, a));
    check_wrapper_sites(&j, "sites", 1);
    /* the whole stack is still there: the vector's site is reached through _M_realloc_insert */
    int i = site_index(&j, "sites", "fill_vector()"), found = 0;
    char path[128];
    for (int k = 0; k < 20; k++) {
      const hq_json_entry_t *e;
      snprintf(path, sizeof path, "sites[%d].frames[%d].function", i, k);
      e = hq_json_get(&j, path);
      if (e && e->value && strstr(e->value, "_M_realloc_insert")) found = 1;
    }
    assert_true(found);
    hq_json_free(&j);
  }
  {
    char *a[] = {"report", (char *)db, "--format", "json", "--top", "20", "--wrappers",
                 "src:*/v_wrappers.cpp,fun:nothing", NULL};
    /* every frame of the victim's source is a wrapper now: the sites are main's callers */
    j = parse(heapql_out(NULL, a));
    assert_int_equal(site_index(&j, "top.by_bytes", "fill_vector()"), -1);
    hq_json_free(&j);
  }
  {
    char *a[] = {"report", (char *)db, "--format", "json", "--top", "20", "--wrappers", "my_alloc", NULL};
    j = parse(heapql_out(NULL, a));
    check_wrapper_sites(&j, "top.by_bytes", 1);
    check_wrapper_sites(&j, "leaks.top_sites", 1);
    hq_json_free(&j);
  }
  {
    /* text: the caller with its share under each site; --callers 0 lists none */
    char *a[] = {"report", (char *)db, "--wrappers", "my_alloc", NULL};
    char *text = heapql_out(NULL, a);
    assert_non_null(strstr(text, "use_my_alloc() v_wrappers.cpp:32"));
    assert_non_null(strstr(text, "100.0%  <- main v_wrappers.cpp:45"));
    free(text);
    /* C++ names shortened in text, whole in JSON */
    char *l[] = {"leaks", (char *)db, "--limit", "20", NULL};
    text = heapql_out(NULL, l);
    assert_non_null(strstr(text, "      std::map<>::operator[]() /usr/include/c++/"));
    assert_null(strstr(text, "std::map<std::"));
    free(text);
    char *lj[] = {"leaks", (char *)db, "--limit", "20", "--format", "json", NULL};
    text = heapql_out(NULL, lj);
    assert_non_null(strstr(text, "\"function\": \"std::map<std::__cxx11::basic_string<char"));
    free(text);
    char *b[] = {"top", (char *)db, "--callers", "0", NULL};
    text = heapql_out(NULL, b);
    assert_non_null(strstr(text, "fill_vector() v_wrappers.cpp:19"));
    assert_null(strstr(text, "<- "));
    free(text);
  }
  {
    sqlite3 *s = hq_test_sqlite_open(db);
    assert_true(hq_test_q_int(s, "SELECT count(*) FROM stack_text WHERE text LIKE "
                                      "'%%_M_realloc_insert%%vector.tcc%%'") >= 1);
    sqlite3_close(s);
  }
  free((void *)db);
}

static void test_sites_bad_wrappers(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  const char *db = strdup(hq_test_join(dir, "w.db"));
  const char *list = strdup(hq_test_join(dir, "wrappers.txt"));
  char *cmd[] = {VICTIM("v_leaf"), NULL};
  char at[4200];
  hq_test_proc_t p;
  FILE *f;
  record(db, cmd);
  {
    char *argv[] = {HEAPQL(), "top", (char *)db, "--wrappers", "fun:", NULL};
    hq_test_run(argv, NULL, NULL, 60, &p);
    assert_int_equal(p.exit_status, 2);
    assert_int_equal(p.out_len, 0);
    assert_non_null(strstr(p.err, "heapql: --wrappers: "));
    assert_ptr_equal(strchr(p.err, '\n'), p.err + p.err_len - 1);
    hq_test_proc_free(&p);
  }
  f = fopen(list, "w");
  fputs("# my wrappers\nmy_alloc\n\nsrc:\n", f);
  fclose(f);
  snprintf(at, sizeof at, "@%s", list);
  {
    char *argv[] = {HEAPQL(), "leaks", (char *)db, "--wrappers", at, NULL};
    hq_test_run(argv, NULL, NULL, 60, &p);
    assert_int_equal(p.exit_status, 2);
    assert_non_null(strstr(p.err, "wrappers.txt:4: an empty pattern"));
    hq_test_proc_free(&p);
  }
  {
    char *argv[] = {HEAPQL(), "report", (char *)db, "--wrappers", "@/nonexistent/w.txt", NULL};
    hq_test_run(argv, NULL, NULL, 60, &p);
    assert_int_equal(p.exit_status, 2);
    assert_string_equal(p.err, "heapql: --wrappers: /nonexistent/w.txt: No such file or directory\n");
    hq_test_proc_free(&p);
  }
  {
    char *argv[] = {HEAPQL(), "peak", (char *)db, "--callers", "-1", NULL};
    hq_test_run(argv, NULL, NULL, 60, &p);
    assert_int_equal(p.exit_status, 2);
    assert_string_equal(p.err, "heapql: --callers wants a number from 0 to 1000, not '-1'\n");
    hq_test_proc_free(&p);
  }
  free((void *)db);
  free((void *)list);
}

static void test_sites_glib(void **state) {
  (void)state;
  const char *db = strdup(hq_test_join(hq_test_tmpdir(), "g.db"));
  char *cmd[] = {VICTIM("v_glib"), NULL};
  hq_json_t j;
  HQ_TEST_REQUIRE(hq_test_exists(VICTIM("v_glib")), "glib (Debian libglib2.0-dev)");
  record(db, cmd);
  char *a[] = {"leaks", (char *)db, "--format", "json", "--limit", "50", NULL};
  j = parse(heapql_out(NULL, a));
  expect_site(&j, "sites", "make_table", "v_glib.c", 11, -1);
  expect_site(&j, "sites", "make_name", "v_glib.c", 15, -1);
  expect_site(&j, "sites", "make_zeroed", "v_glib.c", 19, -1);
  assert_string_equal(site_field(&j, "sites", site_index(&j, "sites", "make_table"), "leaked_bytes"),
                      "12000");
  assert_string_equal(site_field(&j, "sites", site_index(&j, "sites", "make_zeroed"), "leaked_bytes"),
                      "3300");
  assert_int_equal(site_index(&j, "sites", "g_malloc"), -1);
  assert_int_equal(site_index(&j, "sites", "g_strdup"), -1);
  hq_json_free(&j);
  free((void *)db);
}

/* ---- real programs ---- */

static void test_sites_gcc_cc1(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  const char *src = strdup(hq_test_join(dir, "unit.c"));
  const char *obj = strdup(hq_test_join(dir, "unit.o"));
  const char *db = strdup(hq_test_join(dir, "cc.db"));
  char cc1db[4200] = "", line[4200];
  const char *gcc = keep_copy(hq_test_which("gcc"));
  FILE *f;
  HQ_TEST_REQUIRE(gcc, "gcc");
  f = fopen(src, "w");
  fputs("#include <stdio.h>\nstruct s { int a[64]; };\n"
        "static int pick(const struct s *p, int i) { return p->a[i & 63]; }\n"
        "int main(int c, char **v) { struct s x = {{1, 2, 3}}; (void)v;"
        " printf(\"%d\\n\", pick(&x, c)); return 0; }\n", f);
  fclose(f);
  {
    char *argv[] = {HEAPQL(), "run", "-q", "--follow-exec", "-o", (char *)db, "--",
                    (char *)gcc, "-c", (char *)src, "-o", (char *)obj, NULL};
    hq_test_proc_t p;
    assert_int_equal(hq_test_run(argv, NULL, NULL, 300, &p), 0);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
  }
  snprintf(line, sizeof line, "ls %s | grep -E '^cc\\.[0-9]+\\.cc1\\.db$'", dir);
  f = popen(line, "r");
  if (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    snprintf(cc1db, sizeof cc1db, "%.2000s/%.2000s", dir, line);
  }
  pclose(f);
  assert_true(cc1db[0]);
  char *a[] = {"top", cc1db, "--format", "json", "--limit", "10", NULL};
  hq_json_t j = parse(heapql_out(NULL, a));
  int n = 0;
  for (int i = 0; site_field(&j, "sites", i, "location")[0]; i++, n++) {
    const char *fn = site_field(&j, "sites", i, "function");
    assert_string_not_equal(fn, "xmalloc");
    assert_string_not_equal(fn, "xcalloc");
    assert_string_not_equal(fn, "xrealloc");
  }
  assert_int_equal(n, 10);
  hq_json_free(&j);
  /* ... and libiberty's wrappers were stepped over, not absent: many sites are reached
   * through them (cc1's .dynsym names xmalloc even in Debian's stripped build) */
  sqlite3 *s = hq_test_sqlite_open(cc1db);
  assert_true(hq_test_q_int(s, "SELECT count(DISTINCT ss.site) FROM stack_sites ss"
                               " JOIN stack_frames f ON f.stack_id = ss.stack_id"
                               " WHERE f.function IN ('xmalloc', 'xcalloc', 'xrealloc')") >= 10);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM stack_sites"
                                    " WHERE function IN ('xmalloc', 'xcalloc', 'xrealloc')"), 0);
  sqlite3_close(s);
  free((void *)src);
  free((void *)obj);
  free((void *)db);
}

static void test_sites_sqlite3_named_callers(void **state) {
  (void)state;
  const char *db = strdup(hq_test_join(hq_test_tmpdir(), "s.db"));
  const char *sqlite = keep_copy(hq_test_which("sqlite3"));
  HQ_TEST_REQUIRE(sqlite, "sqlite3 (Debian sqlite3)");
  char *cmd[] = {(char *)sqlite, ":memory:",
                 "CREATE TABLE t(a, b); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1"
                 " FROM c WHERE x < 20000) INSERT INTO t SELECT x, randomblob(100) FROM c;"
                 " CREATE INDEX i ON t(b); SELECT count(*) FROM t;", NULL};
  record(db, cmd);
  char *a[] = {"top", (char *)db, "--format", "json", "--limit", "5", NULL};
  hq_json_t j = parse(heapql_out(NULL, a));
  int bare = 0;
  for (int i = 0; i < 5; i++) {
    const char *loc = site_field(&j, "sites", i, "location");
    char path[64];
    const hq_json_entry_t *caller;
    assert_true(loc[0]);
    if (site_field(&j, "sites", i, "function")[0]) continue;
    /* a site without a name: its first caller is a named function of the library */
    bare++;
    snprintf(path, sizeof path, "sites[%d].callers[0].location", i);
    caller = hq_json_get(&j, path);
    assert_non_null(caller);
    assert_true(caller->value[0] == '_' || (caller->value[0] >= 'a' && caller->value[0] <= 'z') ||
                (caller->value[0] >= 'A' && caller->value[0] <= 'Z'));
    assert_null(strstr(caller->value, "+0x"));
  }
  assert_true(bare >= 1); /* Debian's libsqlite3 has no debug info: the case this is about */
  hq_json_free(&j);
  /* and the text report prints that caller under the bare address */
  char *b[] = {"report", (char *)db, NULL};
  char *text = heapql_out(NULL, b);
  const char *site = strstr(text, "libsqlite3.so.0+0x");
  assert_non_null(site);
  const char *next = strchr(site, '\n');
  assert_non_null(next);
  assert_non_null(strstr(next, "%  <- sqlite3"));
  free(text);
  free((void *)db);
}

/* ---- growth ---- */

static int has_finding(const hq_json_t *j, const char *name) {
  char path[64];
  for (int i = 0;; i++) {
    const hq_json_entry_t *e;
    snprintf(path, sizeof path, "findings[%d].name", i);
    if (!(e = hq_json_get(j, path))) return 0;
    if (!strcmp(e->value, name)) return 1;
  }
}

static hq_json_t recommend(const char *db) {
  char *a[] = {"report", (char *)db, "--recommend", "--format", "json", NULL};
  return parse(heapql_out(NULL, a));
}

static void test_growth_findings(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  const char *leak = strdup(hq_test_join(dir, "leak.db")), *clean = strdup(hq_test_join(dir, "clean.db"));
  const char *py = strdup(hq_test_join(dir, "py.db")), *brief = strdup(hq_test_join(dir, "short.db"));
  hq_json_t j;
  {
    char *cmd[] = {VICTIM("v_growth"), "leak", NULL};
    record(leak, cmd);
    j = recommend(leak);
    assert_true(has_finding(&j, "leak_growth"));
    assert_string_equal(hq_json_get(&j, "metrics.trend_ok")->value, "true");
    assert_string_equal(hq_json_get(&j, "leaks.bytes")->value, "40960000");
    /* never-freed bytes rise on a straight line, whatever the final free of 100 MiB does */
    assert_true(atof(hq_json_get(&j, "metrics.leak_growth_r2")->value) >= 0.9);
    assert_true(atof(hq_json_get(&j, "metrics.leak_growth_rate_bytes_per_s")->value) > 1e6);
    hq_json_free(&j);
  }
  {
    char *cmd[] = {VICTIM("v_growth"), "clean", NULL};
    record(clean, cmd);
    j = recommend(clean);
    assert_string_equal(hq_json_get(&j, "metrics.trend_ok")->value, "true");
    assert_false(has_finding(&j, "leak_growth"));
    assert_true(has_finding(&j, "huge_buffer")); /* the 100 MiB block; findings did run */
    hq_json_free(&j);
  }
  {
    /* a cache that grows at about 64 MB/s and is released only at exit */
    const char *python = keep_copy(hq_test_which("python3"));
    HQ_TEST_REQUIRE(python, "python3");
    char *cmd[] = {"/usr/bin/python3", "-c",
                   "import time\n"
                   "cache = {}\n"
                   "t0 = time.monotonic()\n"
                   "i = 0\n"
                   "while time.monotonic() - t0 < 0.5:\n"
                   "    cache[i] = bytes(65536)\n"
                   "    i += 1\n"
                   "    time.sleep(0.001)\n", NULL};
    record(py, cmd);
    j = recommend(py);
    assert_true(has_finding(&j, "leak_growth"));
    assert_true(atof(hq_json_get(&j, "metrics.live_growth_r2")->value) >= 0.9);
    assert_string_not_equal(hq_json_get(&j, "metrics.teardown_time_s")->value, "");
    hq_json_free(&j);
  }
  {
    char *cmd[] = {VICTIM("v_growth"), "short", NULL};
    record(brief, cmd);
    j = recommend(brief);
    assert_string_equal(hq_json_get(&j, "metrics.trend_ok")->value, "false");
    assert_int_equal(hq_json_get(&j, "metrics.growth_rate_bytes_per_s")->type, 'n');
    assert_int_equal(hq_json_get(&j, "metrics.efficiency_score")->type, 'n');
    assert_false(has_finding(&j, "leak_growth"));
    hq_json_free(&j);
    char *a[] = {"report", (char *)brief, NULL};
    char *text = heapql_out(NULL, a);
    assert_non_null(strstr(text, "growth rate      n/a: "));
    assert_null(strstr(text, " B/s"));
    assert_non_null(strstr(text, "efficiency score n/a"));
    free(text);
  }
  free((void *)leak);
  free((void *)clean);
  free((void *)py);
  free((void *)brief);
}

/* ---- stale binaries ---- */

static void build_prog(const char *cc, const char *src, const char *exe, int variant) {
  FILE *f = fopen(src, "w");
  fprintf(f, "#include <stdlib.h>\n"
             "void *keep;\n"
             "__attribute__((noinline)) void fill(void) {\n"
             "  keep = malloc(%d);\n"
             "}\n"
             "int main(void) { fill(); return 0; }\n", 5000 + variant);
  fclose(f);
  char *argv[] = {(char *)cc, "-g", "-O0", "-fno-omit-frame-pointer", "-o", (char *)exe,
                  (char *)src, NULL};
  hq_test_proc_t p;
  assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
  assert_int_equal(p.exit_status, 0);
  hq_test_proc_free(&p);
}

static void test_stale_binary_named(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  const char *cc = keep_copy(hq_test_which("cc"));
  char *src = strdup(hq_test_join(dir, "prog.c")), *exe = strdup(hq_test_join(dir, "prog"));
  char *copies = strdup(hq_test_join(dir, "copies")), *db = strdup(hq_test_join(dir, "p.db"));
  char warning[8300], cmd[8300];
  hq_test_proc_t p;
  HQ_TEST_REQUIRE(cc, "a C compiler");
  build_prog(cc, src, exe, 0);
  /* recorded with plain LD_PRELOAD: the database is symbolized only when first read */
  {
    char *argv[] = {exe, NULL};
    hq_test_run_preloaded(argv, db, NULL, 60, &p);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
  }
  snprintf(cmd, sizeof cmd, "mkdir -p %s/build/bin && cp %s %s/build/bin/prog", copies, exe, copies);
  assert_int_equal(system(cmd), 0);
  build_prog(cc, src, exe, 1); /* rebuilt: another build-id at the same path */
  snprintf(warning, sizeof warning,
           "heapql: warning: %s: 1 module changed or missing since the run, its frames are "
           "unresolved and marked [stale]: %s (changed); 'heapql symbolize %s --debug-dir DIR' "
           "reaches a copy of the run's build\n", db, exe, db);
  {
    char *argv[] = {HEAPQL(), "leaks", db, NULL};
    hq_test_run(argv, NULL, NULL, 60, &p);
    assert_int_equal(p.exit_status, 0);
    assert_string_equal(p.err, warning);
    assert_non_null(strstr(p.out, "site: prog+0x"));
    assert_non_null(strstr(p.out, " [stale]\n"));
    hq_test_proc_free(&p);
  }
  {
    /* every report command says it, once */
    char *argv[] = {HEAPQL(), "top", db, "--format", "json", NULL};
    hq_test_run(argv, NULL, NULL, 60, &p);
    assert_int_equal(p.exit_status, 0);
    assert_string_equal(p.err, warning);
    assert_non_null(strstr(p.out, "\"stale\": true"));
    hq_test_proc_free(&p);
  }
  {
    char *argv[] = {HEAPQL(), "symbolize", db, "-q", "--debug-dir", copies, NULL};
    hq_test_run(argv, NULL, NULL, 60, &p);
    assert_int_equal(p.exit_status, 0);
    assert_int_equal(p.err_len, 0);
    hq_test_proc_free(&p);
  }
  {
    /* the copy of the run's build resolved it: no warning, the site by name and line */
    char *argv[] = {HEAPQL(), "leaks", db, NULL};
    hq_test_run(argv, NULL, NULL, 60, &p);
    assert_int_equal(p.exit_status, 0);
    assert_int_equal(p.err_len, 0);
    assert_non_null(strstr(p.out, "site: fill prog.c:4\n"));
    assert_null(strstr(p.out, "[stale]"));
    hq_test_proc_free(&p);
  }
  {
    char *argv[] = {HEAPQL(), "symbolize", db, "--debug-dir", "/nonexistent-dir", NULL};
    hq_test_run(argv, NULL, NULL, 60, &p);
    assert_int_equal(p.exit_status, 2);
    assert_string_equal(p.err, "heapql: symbolize: --debug-dir /nonexistent-dir: not a directory\n");
    hq_test_proc_free(&p);
  }
  free(src);
  free(exe);
  free(copies);
  free(db);
}

/* ---- the HTML timeline ---- */

/* Reads the heap's line and the plot's frame as Chromium lays them out. */
static const char probe[] =
  "<script>//<![CDATA[\n"
  "(function () {\n"
  "  var svg = document.querySelector('svg.hq-timeline');\n"
  "  var plot = svg.querySelector('rect.plot').getBBox();\n"
  "  var heap = svg.querySelector('polyline[data-series=\"live heap\"]').getBBox();\n"
  "  var frac = (plot.y + plot.height - heap.y) / plot.height;\n"
  "  document.body.setAttribute('data-heap-rise', Math.round(frac * 100));\n"
  "})();\n"
  "//]]></script>\n</body>";

static void test_html_small_heap_above_axis(void **state) {
  (void)state;
  const char *chromium = keep_copy(hq_test_which("chromium"));
  const char *dir = hq_test_tmpdir();
  char *db = strdup(hq_test_join(dir, "small.db")), *html = strdup(hq_test_join(dir, "r.html"));
  char *probed = strdup(hq_test_join(dir, "probed.html"));
  char *profile = strdup(hq_test_join(dir, "chromium-profile"));
  char url[4200], udd[4200], *text, *body, *rise;
  hq_test_proc_t p;
  FILE *f;
  HQ_TEST_REQUIRE(chromium, "chromium (Debian chromium)");
  char *cmd[] = {VICTIM("v_growth"), "short", NULL};
  record(db, cmd);
  char *a[] = {"report", db, "--format", "html", "-o", html, NULL};
  free(heapql_out(NULL, a));
  text = hq_test_read_file(html, NULL);
  body = strstr(text, "</body>");
  assert_non_null(body);
  f = fopen(probed, "w");
  fprintf(f, "%.*s%s%s", (int)(body - text), text, probe, body + 7);
  fclose(f);
  free(text);
  snprintf(url, sizeof url, "file://%s", probed);
  snprintf(udd, sizeof udd, "--user-data-dir=%s", profile);
  char *argv[] = {(char *)chromium, "--headless", "--no-sandbox", "--disable-gpu", udd,
                  "--dump-dom", url, NULL};
  assert_int_equal(hq_test_run(argv, NULL, NULL, 120, &p), 0);
  if (p.exit_status) print_message("chromium: %s\n", p.err);
  assert_int_equal(p.exit_status, 0);
  rise = strstr(p.out, "data-heap-rise=\"");
  assert_non_null(rise);
  /* about 100 KiB of heap beside about 3 MiB of RSS: its peak stands at the top of the plot
   * (the axis has 8% headroom), not 3% above the axis */
  assert_true(atoi(rise + 16) >= 85);
  hq_test_proc_free(&p);
  free(db);
  free(html);
  free(probed);
  free(profile);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_sites_past_wrappers),
    cmocka_unit_test(test_sites_bad_wrappers),
    cmocka_unit_test(test_sites_glib),
    cmocka_unit_test(test_sites_gcc_cc1),
    cmocka_unit_test(test_sites_sqlite3_named_callers),
    cmocka_unit_test(test_growth_findings),
    cmocka_unit_test(test_stale_binary_named),
    cmocka_unit_test(test_html_small_heap_above_axis),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
