/*
 * test_preload_run.c: `heapql run` and `heapql import` as a user meets them, and real programs
 * (python3, perl, sqlite3, gcc, git, bash) wrapped with byte-identical output and status.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hq_test.h"
#include "heapql/heapql.h"

#define HEAPQL() ((char *)hq_test_build_path("bin/heapql"))
#define VICTIM(n) ((char *)hq_test_build_path("tests/victims/" n))

static char *abs_path(const char *p) {
  static char buf[8][4096];
  static int i;
  char *out = buf[i++ & 7];
  if (p[0] == '/') snprintf(out, 4096, "%s", p);
  else if (!realpath(p, out)) snprintf(out, 4096, "%s", p);
  return out;
}

static void test_run_exit_status_and_summary(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "leaf.db");
  char *argv[] = {HEAPQL(), "run", "-o", (char *)db, "--", VICTIM("v_leaf"), NULL};
  hq_test_proc_t p;
  sqlite3 *s;
  hq_test_run(argv, NULL, NULL, 60, &p);
  assert_int_equal(p.exit_status, 5);
  assert_int_equal(p.out_len, 0);
  /* exactly one summary line */
  assert_non_null(strstr(p.err, "heapql: "));
  assert_non_null(strstr(p.err, ": 1 allocations, peak heap 4.34 KiB at "));
  assert_non_null(strstr(p.err, "4.34 KiB never freed in 1 blocks\n"));
  assert_ptr_equal(strchr(p.err, '\n'), p.err + p.err_len - 1);
  assert_false(hq_test_exists(hq_test_join(hq_test_tmpdir(), "leaf.db.raw")));
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='exit_status'"), 5);
  assert_int_equal(hq_test_q_int(s, "SELECT exit_status FROM processes"), 5);
  assert_int_equal(hq_test_q_int(s, "SELECT sum(size) FROM leaks"), 4444);
  sqlite3_close(s);
  hq_test_proc_free(&p);
}

static void test_run_quiet(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "q.db");
  char *argv[] = {HEAPQL(), "run", "-q", "-o", (char *)db, "--", VICTIM("v_leaf"), NULL};
  hq_test_proc_t p;
  sqlite3 *s;
  hq_test_run(argv, NULL, NULL, 60, &p);
  assert_int_equal(p.exit_status, 5);
  assert_int_equal(p.err_len, 0); /* -q: not even the summary line */
  assert_int_equal(p.out_len, 0);
  s = hq_test_sqlite_open(db);  /* and the database is all there */
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='exit_status'"), 5);
  assert_int_equal(hq_test_q_int(s, "SELECT sum(size) FROM leaks"), 4444);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='symbolized'"), 1);
  sqlite3_close(s);
  hq_test_proc_free(&p);
}

static void test_run_reraises_signal(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "killed.db");
  char *argv[] = {HEAPQL(), "run", "-q", "-o", (char *)db, "--", VICTIM("v_die"), "kill", NULL};
  hq_test_proc_t p;
  sqlite3 *s;
  hq_test_run(argv, NULL, NULL, 60, &p);
  assert_int_equal(p.term_signal, SIGKILL);
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='complete'"), 0);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='exit_signal'"), SIGKILL);
  assert_int_equal(hq_test_q_int(s, "SELECT exit_signal FROM processes"), SIGKILL);
  assert_int_equal(hq_test_q_int(s, "SELECT exit_status IS NULL FROM processes"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM leaks WHERE size BETWEEN 1000 AND 1049"), 50);
  sqlite3_close(s);
  hq_test_proc_free(&p);
}

static void test_run_default_name(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  char *argv[] = {abs_path(HEAPQL()), "run", "-q", "--", abs_path(VICTIM("v_leaf")), NULL};
  char cmd[4400];
  int n = 0;
  hq_test_proc_t p;
  FILE *f;
  hq_test_run(argv, NULL, dir, 60, &p);
  assert_int_equal(p.exit_status, 5);
  snprintf(cmd, sizeof cmd, "ls %s | grep -cE '^heapql\\.v_leaf\\.[0-9]+\\.db$'", dir);
  f = popen(cmd, "r");
  assert_int_equal(fscanf(f, "%d", &n), 1);
  pclose(f);
  assert_int_equal(n, 1);
  hq_test_proc_free(&p);
}

static void test_run_bad_output_before_start(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  const char *marker = hq_test_join(dir, "ran");
  char script[4200];
  hq_test_proc_t p;
  snprintf(script, sizeof script, "touch %s", marker);
  {
    char *argv[] = {HEAPQL(), "run", "-o", "/nonexistent-dir/x.db", "--", "/bin/sh", "-c", script, NULL};
    hq_test_run(argv, NULL, NULL, 60, &p);
    assert_int_equal(p.exit_status, 2);
    assert_string_equal(p.err, "heapql: cannot write the database: directory '/nonexistent-dir' does not exist\n");
    assert_false(hq_test_exists(marker));
    hq_test_proc_free(&p);
  }
  {
    const char *db = hq_test_join(dir, "exists.db");
    FILE *f = fopen(db, "w");
    fputs("mine", f);
    fclose(f);
    char *argv[] = {HEAPQL(), "run", "-o", (char *)db, "--", "/bin/sh", "-c", script, NULL};
    hq_test_run(argv, NULL, NULL, 60, &p);
    assert_int_equal(p.exit_status, 2);
    assert_non_null(strstr(p.err, "exists.db already exists (use --force to replace it)"));
    assert_false(hq_test_exists(marker));
    hq_test_proc_free(&p);
    char *argv2[] = {HEAPQL(), "run", "-q", "--force", "-o", (char *)db, "--", "/bin/sh", "-c", script, NULL};
    hq_test_run(argv2, NULL, NULL, 60, &p);
    assert_int_equal(p.exit_status, 0);
    assert_true(hq_test_exists(marker));
    sqlite3 *s = hq_test_sqlite_open(db);
    assert_string_equal(hq_test_q_text(s, "SELECT value FROM meta WHERE key='program'"), "dash");
    sqlite3_close(s);
    hq_test_proc_free(&p);
  }
}

static void test_run_bad_flags(void **state) {
  (void)state;
  hq_test_proc_t p;
  char *a1[] = {HEAPQL(), "run", "--depth", "0", "--", "/bin/true", NULL};
  char *a2[] = {HEAPQL(), "run", "--bogus", "--", "/bin/true", NULL};
  char *a3[] = {HEAPQL(), "run", NULL};
  char *a4[] = {HEAPQL(), "frobnicate", NULL};
  hq_test_run(a1, NULL, NULL, 30, &p);
  assert_int_equal(p.exit_status, 2);
  assert_string_equal(p.err, "heapql: --depth '0' must be a number from 1 to 256\n");
  hq_test_proc_free(&p);
  hq_test_run(a2, NULL, NULL, 30, &p);
  assert_int_equal(p.exit_status, 2);
  assert_string_equal(p.err, "heapql: run: unknown option '--bogus' (see 'heapql run --help')\n");
  hq_test_proc_free(&p);
  hq_test_run(a3, NULL, NULL, 30, &p);
  assert_int_equal(p.exit_status, 2);
  hq_test_proc_free(&p);
  hq_test_run(a4, NULL, NULL, 30, &p);
  assert_int_equal(p.exit_status, 2);
  assert_string_equal(p.err, "heapql: unknown command 'frobnicate' (try 'heapql --help')\n");
  hq_test_proc_free(&p);
}

static void test_run_fork_children_imported(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  const char *db = hq_test_join(dir, "f.db");
  char *argv[] = {HEAPQL(), "run", "-q", "-o", (char *)db, "--", VICTIM("v_fork"), NULL};
  char cmd[4400], name[256];
  hq_test_proc_t p;
  FILE *f;
  sqlite3 *s;
  hq_test_run(argv, NULL, NULL, 60, &p);
  assert_int_equal(p.exit_status, 0);
  snprintf(cmd, sizeof cmd, "ls %s", dir);
  f = popen(cmd, "r");
  int dbs = 0, raws = 0;
  while (fgets(name, sizeof name, f)) {
    name[strcspn(name, "\n")] = '\0';
    if (strstr(name, ".raw")) raws++;
    else if (strstr(name, ".db")) dbs++;
  }
  pclose(f);
  assert_int_equal(dbs, 2);
  assert_int_equal(raws, 0);
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT sum(size) FROM allocations"), 444);
  sqlite3_close(s);
  hq_test_proc_free(&p);
}

static void test_import_truncated_and_foreign(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  const char *db = hq_test_join(dir, "k.db");
  char raw[4200], cut[4200], buf[65536];
  hq_test_proc_t p;
  /* a complete raw trace: heapql run keeps none, so record with HEAPQL_DEFER_IMPORT */
  {
    static char e1[4200], e2[4200];
    char *env[] = {e1, e2, "HEAPQL_DEFER_IMPORT=1", NULL};
    char *argv[] = {VICTIM("v_kinds"), NULL};
    snprintf(e1, sizeof e1, "LD_PRELOAD=%s", hq_test_build_path("lib/libheapql_preload.so"));
    snprintf(e2, sizeof e2, "HEAPQL_OUTPUT=%s", db);
    hq_test_run(argv, env, NULL, 60, &p);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
  }
  snprintf(raw, sizeof raw, "%s.raw", db);
  assert_true(hq_test_exists(raw));
  /* cut it in the middle of a record */
  snprintf(cut, sizeof cut, "%s/cut.raw", dir);
  {
    FILE *in = fopen(raw, "rb"), *out = fopen(cut, "wb");
    size_t n = fread(buf, 1, sizeof buf, in);
    assert_true(n > 4000);
    fwrite(buf, 1, n - 13, out);
    fclose(in);
    fclose(out);
  }
  {
    char *argv[] = {HEAPQL(), "import", cut, NULL};
    hq_test_run(argv, NULL, NULL, 60, &p);
    assert_int_equal(p.exit_status, 0);
    assert_non_null(strstr(p.err, "(incomplete: the process did not finish normally)"));
    hq_test_proc_free(&p);
    sqlite3 *s = hq_test_sqlite_open(hq_test_join(dir, "cut"));
    assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='complete'"), 0);
    assert_non_null(strstr(hq_test_q_text(s, "SELECT value FROM meta WHERE key='incomplete_reason'"), "truncated"));
    sqlite3_close(s);
  }
  {
    char *argv[] = {HEAPQL(), "import", raw, NULL};
    hq_test_run(argv, NULL, NULL, 60, &p);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
    sqlite3 *s = hq_test_sqlite_open(db);
    assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations"), 8);
    assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='complete'"), 1);
    sqlite3_close(s);
  }
  {
    char *argv[] = {HEAPQL(), "import", "/etc/passwd", "-o", (char *)hq_test_join(dir, "x.db"), NULL};
    hq_test_run(argv, NULL, NULL, 60, &p);
    assert_int_equal(p.exit_status, 2);
    assert_string_equal(p.err, "heapql: /etc/passwd: not a heapql raw trace\n");
    assert_false(hq_test_exists(hq_test_join(dir, "x.db")));
    hq_test_proc_free(&p);
  }
  {
    char *argv[] = {HEAPQL(), "import", "/nonexistent.raw", NULL};
    hq_test_run(argv, NULL, NULL, 60, &p);
    assert_int_equal(p.exit_status, 2);
    assert_string_equal(p.err, "heapql: /nonexistent.raw: No such file or directory\n");
    hq_test_proc_free(&p);
  }
}

/* The recorder's stacks, symbolized by `heapql run`: function and file:line of every call. */
static void test_run_symbolized_call_chain(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "chain.db");
  char *argv[] = {HEAPQL(), "run", "-q", "-o", (char *)db, "--", VICTIM("v_chain"), NULL};
  char want[17000];
  char src[4096];
  hq_test_proc_t p;
  sqlite3 *s;
  hq_test_run(argv, NULL, NULL, 60, &p);
  assert_int_equal(p.exit_status, 0);
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='symbolized'"), 1);
  if (!realpath("tests/preload/victims/v_chain.c", src)) fail_msg("no v_chain.c");
  /* lines 15, 20, 25, 33 of v_chain.c: the calls of malloc, level_c, level_b, level_a */
  snprintf(want, sizeof want, "level_c %s:15\nlevel_b %s:20\nlevel_a %s:25\nmain %s:33\n", src, src,
           src, src);
  assert_string_equal(hq_test_q_text(s, "SELECT substr(text, 1, %d) FROM stack_text WHERE stack_id = "
                                        "(SELECT stack_id FROM allocations WHERE size = 12345)",
                                     (int)strlen(want)), want);
  sqlite3_close(s);
  hq_test_proc_free(&p);
}

/* The report's JSON contract on a recorded victim whose truth is known (v_kinds.c). */
static void test_run_report_json_truth(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "kinds.db");
  char *run[] = {HEAPQL(), "run", "-q", "-o", (char *)db, "--", VICTIM("v_kinds"), NULL};
  char *rep[] = {HEAPQL(), "report", (char *)db, "--format", "json", NULL};
  char *py[] = {"/usr/bin/python3", "-c",
                "import json,sys; d=json.load(open(sys.argv[1])); "
                "print(d['allocations']['count'], d['allocations']['bytes'], d['frees']['count'], "
                "d['peak']['heap_bytes'], d['leaks']['blocks'], d['leaks']['bytes'], "
                "d['temporary']['count'], d['leaks']['definitely_lost'])", NULL, NULL};
  const char *json = hq_test_join(hq_test_tmpdir(), "kinds.json");
  hq_test_proc_t p;
  FILE *f;
  HQ_TEST_REQUIRE(hq_test_exists("/usr/bin/python3"), "/usr/bin/python3");
  hq_test_run(run, NULL, NULL, 60, &p);
  assert_int_equal(p.exit_status, 0);
  hq_test_proc_free(&p);
  hq_test_run(rep, NULL, NULL, 60, &p);
  assert_int_equal(p.exit_status, 0);
  f = fopen(json, "w");
  fwrite(p.out, 1, p.out_len, f);
  fclose(f);
  hq_test_proc_free(&p);
  py[3] = (char *)json;
  hq_test_run(py, NULL, NULL, 60, &p);
  /* 8 calls, 11460 B, 4 frees, peak 10660 B, 3 leaked blocks of 2764 B, 1 temporary; the leak
   * check at exit: all three definitely lost (as memcheck says) */
  assert_string_equal(p.out, "8 11460 4 10660 3 2764 1 {'blocks': 3, 'bytes': 2764}\n");
  hq_test_proc_free(&p);
}

/* ---- real programs ---- */

static void compare_real(const char *name, char *const argv[], int64_t min_allocs) {
  const char *dir = hq_test_tmpdir();
  const char *db = hq_test_join(dir, "real.db");
  char *wrapped[32];
  hq_test_proc_t plain, traced;
  sqlite3 *s;
  int n = 0;
  wrapped[n++] = abs_path(HEAPQL());
  wrapped[n++] = "run";
  wrapped[n++] = "-q";
  wrapped[n++] = "-o";
  wrapped[n++] = (char *)db;
  wrapped[n++] = "--";
  for (int i = 0; argv[i] && n < 31; i++) wrapped[n++] = argv[i];
  wrapped[n] = NULL;
  assert_int_equal(hq_test_run(argv, NULL, dir, 120, &plain), 0);
  assert_int_equal(hq_test_run(wrapped, NULL, dir, 120, &traced), 0);
  if (plain.out_len != traced.out_len || memcmp(plain.out, traced.out, plain.out_len))
    fail_msg("%s: stdout differs under heapql (%zu vs %zu bytes)", name, plain.out_len, traced.out_len);
  assert_int_equal(plain.exit_status, traced.exit_status);
  assert_int_equal(plain.term_signal, traced.term_signal);
  assert_string_equal(plain.err, traced.err);
  s = hq_test_sqlite_open(db);
  if (hq_test_q_int(s, "SELECT count(*) FROM allocations") < min_allocs)
    fail_msg("%s: only %lld allocations recorded", name,
             (long long)hq_test_q_int(s, "SELECT count(*) FROM allocations"));
  assert_true(hq_test_q_int(s, "SELECT sum(size) FROM allocations") > 0);
  assert_true(hq_test_q_int(s, "SELECT count(*) FROM stacks") > 10);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='complete'"), 1);
  sqlite3_close(s);
  hq_test_proc_free(&plain);
  hq_test_proc_free(&traced);
}

static void test_real_python3(void **state) {
  (void)state;
  char *argv[] = {"/usr/bin/python3", "-c",
                  "import json,collections\n"
                  "d={str(i): list(range(i % 50)) for i in range(20000)}\n"
                  "s=json.dumps(d)\nprint(len(s), collections.Counter(s).most_common(3))", NULL};
  HQ_TEST_REQUIRE(hq_test_exists("/usr/bin/python3"), "/usr/bin/python3");
  compare_real("python3", argv, 1000);
}

static void test_real_perl(void **state) {
  (void)state;
  char *argv[] = {"/usr/bin/perl", "-e",
                  "my %h; $h{$_} = join(',', 1..($_ % 40)) for 1..20000; "
                  "print scalar(keys %h), ' ', length(join('', values %h)), \"\\n\"; exit 3;", NULL};
  HQ_TEST_REQUIRE(hq_test_exists("/usr/bin/perl"), "/usr/bin/perl");
  compare_real("perl", argv, 1000);
}

static void test_real_sqlite3(void **state) {
  (void)state;
  char *argv[] = {"/usr/bin/sqlite3", ":memory:",
                  "CREATE TABLE t(a, b); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 "
                  "FROM c WHERE x < 20000) INSERT INTO t SELECT x, printf('%08d', x) FROM c; "
                  "SELECT count(*), sum(a), max(b) FROM t;", NULL};
  HQ_TEST_REQUIRE(hq_test_exists("/usr/bin/sqlite3"), "/usr/bin/sqlite3");
  compare_real("sqlite3", argv, 100);
}

static void test_real_bash(void **state) {
  (void)state;
  char *argv[] = {"/bin/bash", "-c",
                  "a=(); for i in $(seq 1 3000); do a+=(\"x$i\"); done; echo ${#a[@]} ${a[2999]}; exit 4", NULL};
  compare_real("bash", argv, 1000);
}

static void test_real_git(void **state) {
  (void)state;
  /* real work in one process: a diff of two source files (exit 1: they differ) */
  char *argv[] = {"/usr/bin/git", "diff", "--no-index", "--numstat", abs_path("analyzer/base/hq_db.c"),
                  abs_path("analyzer/base/hq_util.c"), NULL};
  HQ_TEST_REQUIRE(hq_test_exists("/usr/bin/git"), "/usr/bin/git");
  compare_real("git", argv, 50);
}

static void test_real_gcc(void **state) {
  (void)state;
  char *argv[] = {"/usr/bin/gcc", "-dumpfullversion", NULL};
  char *argv2[] = {"/usr/bin/gcc", "-E", "-dM", "-x", "c", "/dev/null", NULL};
  HQ_TEST_REQUIRE(hq_test_exists("/usr/bin/gcc"), "/usr/bin/gcc");
  compare_real("gcc", argv, 5);
  compare_real("gcc -E", argv2, 5);
}

/* A fork child's trace is imported while the program still runs: the shell lists the child's
 * database before it exits (the child is done at once; the shell waits 2 s), and the program's
 * own database comes after. */
static void test_run_children_imported_meanwhile(void **state) {
  char *dir = strdup(hq_test_tmpdir()), script[8192], *db = strdup(hq_test_join(dir, "p.db"));
  hq_test_proc_t p;
  int child_dbs = 0;
  (void)state;
  snprintf(script, sizeof script, "/bin/true; sleep 2; ls %s", dir);
  {
    char *argv[] = {HEAPQL(), "run", "-q", "-o", db, "--", "/bin/bash", "-c", script, NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
  }
  assert_int_equal(p.exit_status, 0);
  for (const char *l = p.out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    size_t len = strcspn(l, "\n");
    /* p.<pid>.db: a fork child's database, complete (not its .raw) */
    if (len > 5 && !strncmp(l, "p.", 2) && !strncmp(l + len - 3, ".db", 3) && strncmp(l, "p.db\n", 5))
      child_dbs++;
  }
  if (!child_dbs) print_message("listing during the run:\n%s", p.out);
  assert_true(child_dbs >= 1);
  assert_null(strstr(p.out, "p.db\n")); /* the program's own: after it ended */
  hq_test_proc_free(&p);
  assert_true(hq_test_exists(db));
  free(db);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_run_exit_status_and_summary),
    cmocka_unit_test(test_run_quiet),
    cmocka_unit_test(test_run_reraises_signal),
    cmocka_unit_test(test_run_default_name),
    cmocka_unit_test(test_run_bad_output_before_start),
    cmocka_unit_test(test_run_bad_flags),
    cmocka_unit_test(test_run_fork_children_imported),
    cmocka_unit_test(test_import_truncated_and_foreign),
    cmocka_unit_test(test_run_symbolized_call_chain),
    cmocka_unit_test(test_run_report_json_truth),
    cmocka_unit_test(test_real_python3),
    cmocka_unit_test(test_real_perl),
    cmocka_unit_test(test_real_sqlite3),
    cmocka_unit_test(test_real_bash),
    cmocka_unit_test(test_real_git),
    cmocka_unit_test(test_real_gcc),
    cmocka_unit_test(test_run_children_imported_meanwhile),
  };
  return cmocka_run_group_tests_name("preload_run", tests, NULL, NULL);
}
