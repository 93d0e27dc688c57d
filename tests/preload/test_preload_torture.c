/*
 * test_preload_torture.c: the hard cases for a recorder (tests/preload/victims/v_torture.c).
 * Each mode runs without heapql, then under `heapql run` (and, where the in-process import at
 * exit is what is tested, under plain LD_PRELOAD): same stdout, same end, and a database that
 * holds the mode's own blocks (5000..5999 bytes) exactly, or says precisely what it lost.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hq_test.h"

/* Absolute: the runs below change their working directory. */
static char *abs_build(const char *rel) {
  static char out[8][4096];
  static int next;
  char *o = out[next++ & 7];
  if (!realpath(hq_test_build_path(rel), o)) fail_msg("no %s", rel);
  return o;
}
#define HEAPQL() abs_build("bin/heapql")
#define VICTIM(n) abs_build("tests/victims/" n)

static char *keep(const char *s) {
  char *c = strdup(s);
  assert_non_null(c);
  return c;
}

static int64_t blocks(sqlite3 *s) {
  return hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE size BETWEEN 5000 AND 5999");
}

/* Runs MODE without heapql, then under `heapql run -o DB`; both must agree.  Returns the
 * database, open (the caller closes it), and in *dir_out the directory it is in. */
static sqlite3 *run_mode(const char *mode, const char *extra, const char *expect_out, char **dir_out) {
  char *dir = keep(hq_test_tmpdir()), *db = keep(hq_test_join(dir, "t.db"));
  char *plain_argv[] = {VICTIM("v_torture"), (char *)mode, (char *)extra, NULL};
  char *run_argv[] = {HEAPQL(), "run", "-q", "-o", db, "--", VICTIM("v_torture"), (char *)mode,
                      (char *)extra, NULL};
  hq_test_proc_t plain, run;
  sqlite3 *s;
  assert_int_equal(hq_test_run(plain_argv, NULL, dir, 120, &plain), 0);
  assert_int_equal(hq_test_run(run_argv, NULL, dir, 120, &run), 0);
  if (strcmp(plain.out, expect_out)) fail_msg("%s: printed '%s', expected '%s'", mode, plain.out, expect_out);
  assert_string_equal(run.out, plain.out);
  assert_int_equal(run.exit_status, plain.exit_status);
  assert_int_equal(run.term_signal, plain.term_signal);
  assert_int_equal(plain.err_len, 0);
  hq_test_proc_free(&plain);
  hq_test_proc_free(&run);
  s = hq_test_sqlite_open(db);
  free(db);
  *dir_out = dir;
  return s;
}

static void expect_whole(sqlite3 *s, int64_t want_blocks) {
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'complete'"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'unmatched_frees'"), 0);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'dropped_events'"), 0);
  if (want_blocks >= 0) assert_int_equal(blocks(s), want_blocks);
}

#define SIMPLE_MODE(name, mode, out, want)                          \
  static void name(void **state) {                                  \
    char *dir;                                                      \
    sqlite3 *s;                                                     \
    (void)state;                                                    \
    s = run_mode(mode, NULL, out, &dir);                            \
    expect_whole(s, want);                                          \
    sqlite3_close(s);                                               \
    free(dir);                                                      \
  }

SIMPLE_MODE(test_torture_threads, "threads", "threads 64x8\n", 64 * 8 * 10)
SIMPLE_MODE(test_torture_signal_handlers, "handlers", "handled 1000\n", 2000)
SIMPLE_MODE(test_torture_cancel, "cancel", "cancelled 8\n", -1)
SIMPLE_MODE(test_torture_longjmp, "longjmp", "jumped after 50\n", 50)
SIMPLE_MODE(test_torture_close_range, "closeall", "closed\n", 100)
SIMPLE_MODE(test_torture_dup2_over_all, "dup2all", "dup2 over all\n", 100)
SIMPLE_MODE(test_torture_chdir, "chdir", "moved\n", 100)
SIMPLE_MODE(test_torture_nofile, "nofile", "nofile refused\n", 100)
SIMPLE_MODE(test_torture_address_space_limit, "as", "huge refused\n", 100)

static void test_torture_fork_in_threads(void **state) {
  char *dir, cmd[4200];
  int children = 0;
  FILE *f;
  sqlite3 *s;
  (void)state;
  s = run_mode("forkmt", NULL, "forks 5\n", &dir);
  expect_whole(s, -1);
  sqlite3_close(s);
  /* each child: its own database, whole, with its one block */
  snprintf(cmd, sizeof cmd, "for d in %s/t.*.db; do sqlite3 $d \"SELECT count(*) || ' ' ||"
           " (SELECT value FROM meta WHERE key = 'complete') FROM allocations WHERE size = 5999\";"
           " done", dir);
  f = popen(cmd, "r");
  for (char line[64]; fgets(line, sizeof line, f);) {
    assert_string_equal(line, "1 1\n");
    children++;
  }
  pclose(f);
  assert_int_equal(children, 5);
  free(dir);
}

static void test_torture_vfork_exec(void **state) {
  char *dir;
  sqlite3 *s;
  (void)state;
  s = run_mode("vfork", NULL, "vforks 5\n", &dir);
  expect_whole(s, 10);
  sqlite3_close(s);
  assert_int_equal(hq_test_count_files(dir), 1); /* vfork children are never recorded */
  free(dir);
}

static void test_torture_dlopen_cycles(void **state) {
  char *dir, *lib = keep(abs_build("tests/victims/libvdl.so"));
  sqlite3 *s;
  (void)state;
  s = run_mode("dlopen", lib, "dlopened 20\n", &dir);
  expect_whole(s, 10);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE size = 4321"), 20);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE size = 4321 AND t_free IS NULL"), 0);
  sqlite3_close(s);
  free(dir);
  free(lib);
}

/* A file size limit: heapql's writes fail (EFBIG), SIGXFSZ never reaches the program, and the
 * database says the trace stops early although the process exited. */
static void test_torture_file_size_limit(void **state) {
  char *dir;
  sqlite3 *s;
  (void)state;
  s = run_mode("fsize", NULL, "fsize limited\n", &dir);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'complete'"), 0);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'exit_status'"), 0);
  assert_non_null(strstr(hq_test_q_text(s, "SELECT value FROM meta WHERE key = 'incomplete_reason'"),
                         "trace stops early"));
  assert_true(blocks(s) < 20000);
  sqlite3_close(s);
  free(dir);
}

/* Plain LD_PRELOAD imports at exit, in the program: a working directory changed on the way, or
 * no descriptor left for the database, must not lose the recording. */
static void test_torture_in_process_import(void **state) {
  (void)state;
  char *dir = keep(hq_test_tmpdir());
  hq_test_proc_t p;
  {
    char *argv[] = {VICTIM("v_torture"), "chdir", NULL};
    char *env[] = {"HEAPQL_OUTPUT=rel.db", NULL}, preload[4200];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", abs_build("lib/libheapql_preload.so"));
    char *envp[] = {preload, env[0], NULL};
    assert_int_equal(hq_test_run(argv, envp, dir, 60, &p), 0);
    assert_string_equal(p.out, "moved\n");
    assert_int_equal(p.err_len, 0);
    hq_test_proc_free(&p);
    sqlite3 *s = hq_test_sqlite_open(hq_test_join(dir, "rel.db")); /* where it started, not / */
    expect_whole(s, 100);
    sqlite3_close(s);
  }
  {
    char *argv[] = {VICTIM("v_torture"), "nofile", NULL};
    char preload[4200], out[4300];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", abs_build("lib/libheapql_preload.so"));
    snprintf(out, sizeof out, "HEAPQL_OUTPUT=%s/n.db", dir);
    char *envp[] = {preload, out, NULL};
    assert_int_equal(hq_test_run(argv, envp, dir, 60, &p), 0);
    assert_string_equal(p.out, "nofile refused\n");
    assert_int_equal(p.exit_status, 0);
    /* one line that says what happened, and the trace kept for heapql import */
    assert_non_null(strstr(p.err, "heapql: cannot write the database: "));
    assert_non_null(strstr(p.err, "Too many open files (the raw trace "));
    assert_int_equal(hq_test_count_files(dir), 2); /* rel.db and n.db.raw */
    hq_test_proc_free(&p);
    char *raw = keep(hq_test_join(dir, "n.db.raw")), *db = keep(hq_test_join(dir, "n2.db"));
    char *imp[] = {HEAPQL(), "import", "-q", raw, "-o", db, NULL};
    assert_int_equal(hq_test_run(imp, NULL, NULL, 60, &p), 0);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
    sqlite3 *s = hq_test_sqlite_open(db);
    expect_whole(s, 100);
    sqlite3_close(s);
    free(raw);
    free(db);
  }
  free(dir);
}

/* A full file system: a 1 MiB tmpfs in a private mount namespace where this machine allows it
 * (root, unshare -m); otherwise the failure-injection seam answers ENOSPC to the trace's 20th
 * write.  Either way the program runs to its end with its status, and heapql says one line. */
static void test_torture_full_disk(void **state) {
  (void)state;
  const char *unshare = hq_test_which("unshare");
  char *unshare_path = unshare ? keep(unshare) : NULL;
  char *dir = keep(hq_test_tmpdir()), script[8192];
  hq_test_proc_t p;
  int tmpfs = 0;
  if (unshare_path && geteuid() == 0) {
    char *probe[] = {unshare_path, "-m", "/bin/true", NULL};
    tmpfs = hq_test_run(probe, NULL, NULL, 30, &p) == 0 && p.exit_status == 0;
    hq_test_proc_free(&p);
  }
  if (tmpfs) {
    snprintf(script, sizeof script,
             "mkdir -p %1$s/full && mount -t tmpfs -o size=1m tmpfs %1$s/full && "
             "%2$s run -q -o %1$s/full/c.db -- %3$s churn; echo \"status $?\"; ls %1$s/full",
             dir, HEAPQL(), VICTIM("v_torture"));
    char *argv[] = {unshare_path, "-m", "/bin/sh", "-c", script, NULL};
    print_message("full disk: a 1 MiB tmpfs in a private mount namespace\n");
    assert_int_equal(hq_test_run(argv, NULL, NULL, 120, &p), 0);
    assert_non_null(strstr(p.out, "churned\nstatus 0\n"));
    assert_non_null(strstr(p.err, "heapql: "));
    assert_non_null(strstr(p.err, "No space left on device"));
    assert_null(strstr(p.out, "c.db\n")); /* no half database */
    hq_test_proc_free(&p);
  } else {
    char *db = keep(hq_test_join(dir, "c.db"));
    char *argv[] = {HEAPQL(), "run", "-q", "-o", db, "--", VICTIM("v_torture"), "churn", NULL};
    char *env[] = {"HEAPQL_FAULT=trace_write=20:ENOSPC", NULL};
    print_message("full disk: no private mount namespace here; HEAPQL_FAULT answers ENOSPC\n");
    assert_int_equal(hq_test_run(argv, env, NULL, 120, &p), 0);
    assert_string_equal(p.out, "churned\n");
    assert_int_equal(p.exit_status, 0);
    assert_non_null(strstr(p.err, "heapql: recording stopped: cannot write the trace: No space left on device"));
    hq_test_proc_free(&p);
    sqlite3 *s = hq_test_sqlite_open(db);
    assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'complete'"), 0);
    sqlite3_close(s);
    free(db);
  }
  free(dir);
  free(unshare_path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_torture_threads),
    cmocka_unit_test(test_torture_signal_handlers),
    cmocka_unit_test(test_torture_fork_in_threads),
    cmocka_unit_test(test_torture_cancel),
    cmocka_unit_test(test_torture_vfork_exec),
    cmocka_unit_test(test_torture_longjmp),
    cmocka_unit_test(test_torture_dlopen_cycles),
    cmocka_unit_test(test_torture_close_range),
    cmocka_unit_test(test_torture_dup2_over_all),
    cmocka_unit_test(test_torture_chdir),
    cmocka_unit_test(test_torture_nofile),
    cmocka_unit_test(test_torture_file_size_limit),
    cmocka_unit_test(test_torture_address_space_limit),
    cmocka_unit_test(test_torture_in_process_import),
    cmocka_unit_test(test_torture_full_disk),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
