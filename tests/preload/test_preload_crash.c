/*
 * test_preload_crash.c: recording you can trust (issue 9).  A program that crashes, is killed
 * or killed by the OOM killer loses nothing it had recorded; the signal dispositions a program
 * sees and the way it dies are its own; allocations made before heapql's constructor (a
 * library's constructor, libstdc++'s emergency pool) are recorded; the environment is the
 * program's; children started by exec, posix_spawn, system and popen are recorded with
 * --follow-exec and never see heapql otherwise; and a storm of kills at random moments of a
 * multi-threaded program allocating millions of blocks a second leaves databases that hold
 * every allocation the program had reported done.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hq_test.h"
#include "heapql/heapql.h"

#define HEAPQL() ((char *)hq_test_build_path("bin/heapql"))
#define VICTIM(n) ((char *)hq_test_build_path("tests/victims/" n))
#define PRELOAD() hq_test_build_path("lib/libheapql_preload.so")

static char *keep(const char *s) {
  char *c = strdup(s);
  assert_non_null(c);
  return c;
}

/* The 1,000 blocks v_crash makes, all of them, whatever ended it.  exit_signal: the signal the
 * database names, 0 for a normal exit (status 0), -1 when it cannot know (SIGKILL, plain
 * LD_PRELOAD). */
static void check_crash_db(const char *db, int complete, int exit_signal) {
  sqlite3 *s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE size BETWEEN 7001 AND 8000"), 1000);
  assert_int_equal(hq_test_q_int(s, "SELECT sum(size) FROM allocations WHERE size BETWEEN 7001 AND 8000"),
                   1000 * 7001 + 999 * 1000 / 2);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'complete'"), complete);
  if (exit_signal > 0)
    assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'exit_signal'"), exit_signal);
  else if (exit_signal == 0)
    assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'exit_status'"), 0);
  else
    assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM meta WHERE key IN ('exit_signal', 'exit_status')"), 0);
  sqlite3_close(s);
}

static void test_crash_under_heapql_run(void **state) {
  (void)state;
  static const struct { const char *mode; int sig; } ends[] = {
    {"segv", SIGSEGV}, {"kill", SIGKILL}, {"term", SIGTERM}, {"none", 0}};
  char *dir = keep(hq_test_tmpdir());
  for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
    char name[32];
    snprintf(name, sizeof name, "%s.db", ends[i].mode);
    char *db = keep(hq_test_join(dir, name));
    char *argv[] = {HEAPQL(), "run", "-o", db, "--", VICTIM("v_crash"), (char *)ends[i].mode, NULL};
    hq_test_proc_t p;
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
    /* heapql run ends as the program did, and says when the database is incomplete */
    assert_int_equal(p.term_signal, ends[i].sig);
    if (!ends[i].sig) assert_int_equal(p.exit_status, 0);
    assert_non_null(strstr(p.err, ": 1000 allocations, "));
    assert_int_equal(strstr(p.err, "(incomplete: the process did not finish normally)") != NULL,
                     ends[i].sig != 0);
    check_crash_db(db, ends[i].sig == 0, ends[i].sig);
    /* nothing left beside the database: no raw trace, no ring file */
    assert_int_equal(hq_test_count_files(dir), (int)i + 1);
    hq_test_proc_free(&p);
    free(db);
  }
  free(dir);
}

/* Plain LD_PRELOAD: the process leaves its raw trace and ring file; heapql import reads both. */
static void test_crash_plain_preload_sigkill(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  char *db = keep(hq_test_join(dir, "k.db")), *raw = keep(hq_test_join(dir, "k.db.raw"));
  char *rings = keep(hq_test_join(dir, "k.db.raw.rings")), *out = keep(hq_test_join(dir, "out.db"));
  char *argv[] = {VICTIM("v_crash"), "kill", NULL};
  hq_test_proc_t p;
  hq_test_run_preloaded(argv, db, NULL, 60, &p);
  assert_int_equal(p.term_signal, SIGKILL);
  hq_test_proc_free(&p);
  assert_true(hq_test_exists(raw));
  assert_true(hq_test_exists(rings));
  {
    char *imp[] = {HEAPQL(), "import", "-q", raw, "-o", out, NULL};
    assert_int_equal(hq_test_run(imp, NULL, NULL, 60, &p), 0);
    if (p.exit_status) print_message("import: %s", p.err);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
  }
  check_crash_db(out, 0, -1); /* SIGKILL gives no warning: the signal is unknown */
  free(db);
  free(raw);
  free(rings);
  free(out);
}

/* The sh of the issue: `echo hi; kill -SEGV $$` records what `echo hi; kill -0 $$` records. */
static void test_crash_shell_kills_itself(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  char *crash = keep(hq_test_join(dir, "crash.db")), *calm = keep(hq_test_join(dir, "calm.db"));
  hq_test_proc_t p;
  sqlite3 *a, *b;
  {
    char *argv[] = {HEAPQL(), "run", "-q", "-o", crash, "--", "/bin/sh", "-c", "echo hi; kill -SEGV $$", NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
    assert_int_equal(p.term_signal, SIGSEGV);
    assert_string_equal(p.out, "hi\n");
    hq_test_proc_free(&p);
  }
  {
    char *argv[] = {HEAPQL(), "run", "-q", "-o", calm, "--", "/bin/sh", "-c", "echo hi; kill -0 $$", NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
  }
  a = hq_test_sqlite_open(crash);
  b = hq_test_sqlite_open(calm);
  assert_true(hq_test_q_int(a, "SELECT count(*) FROM allocations") >= 40);
  assert_int_equal(hq_test_q_int(a, "SELECT count(*) FROM allocations"),
                   hq_test_q_int(b, "SELECT count(*) FROM allocations"));
  assert_int_equal(hq_test_q_int(a, "SELECT value FROM meta WHERE key = 'exit_signal'"), SIGSEGV);
  assert_int_equal(hq_test_q_int(a, "SELECT exit_signal FROM processes"), SIGSEGV);
  sqlite3_close(a);
  sqlite3_close(b);
  free(crash);
  free(calm);
}

/* ---- signals are the program's ---- */

static void test_signal_dispositions_unchanged(void **state) {
  (void)state;
  char *db = keep(hq_test_join(hq_test_tmpdir(), "view.db"));
  char *argv[] = {VICTIM("v_signals"), "view", NULL};
  hq_test_proc_t plain, traced;
  hq_test_run_preloaded(argv, NULL, NULL, 60, &plain);
  hq_test_run_preloaded(argv, db, NULL, 60, &traced);
  assert_int_equal(plain.exit_status, 0);
  assert_int_equal(traced.exit_status, 0);
  /* 15 signals, each seen at SIG_DFL, then the program's handler, then SIG_DFL again */
  assert_int_equal(strncmp(plain.out, "11 default signal->default sigaction->on_usr now->default\n", 58), 0);
  assert_string_equal(traced.out, plain.out);
  assert_string_equal(traced.err, plain.err);
  hq_test_proc_free(&plain);
  hq_test_proc_free(&traced);
  free(db);
}

static void test_signal_program_recovers_then_dies(void **state) {
  (void)state;
  char *db = keep(hq_test_join(hq_test_tmpdir(), "rec.db"));
  char *argv[] = {VICTIM("v_signals"), "recover", NULL};
  char *run[] = {HEAPQL(), "run", "-q", "-o", db, "--", VICTIM("v_signals"), "recover", NULL};
  hq_test_proc_t plain, traced;
  sqlite3 *s;
  hq_test_run_preloaded(argv, NULL, NULL, 60, &plain);
  assert_int_equal(hq_test_run(run, NULL, NULL, 60, &traced), 0);
  assert_string_equal(plain.out, "recovered 3\nrestored\n");
  assert_string_equal(traced.out, plain.out);
  assert_int_equal(plain.term_signal, SIGSEGV);
  assert_int_equal(traced.term_signal, SIGSEGV);
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE size BETWEEN 6001 AND 6020"), 20);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'exit_signal'"), SIGSEGV);
  sqlite3_close(s);
  hq_test_proc_free(&plain);
  hq_test_proc_free(&traced);
  free(db);
}

/* ---- from the first allocation ---- */

static void test_library_constructor_recorded(void **state) {
  (void)state;
  char *db = keep(hq_test_join(hq_test_tmpdir(), "ctor.db"));
  char *argv[] = {HEAPQL(), "run", "-q", "-o", db, "--", VICTIM("v_ctor"), NULL};
  hq_test_proc_t p;
  sqlite3 *s;
  assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
  assert_int_equal(p.exit_status, 0);
  hq_test_proc_free(&p);
  s = hq_test_sqlite_open(db);
  /* leaked, freed at once, handed on and freed by main: each once, with its place */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE size = 333 AND t_free IS NULL"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE size = 444 AND t_free IS NOT NULL"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE size = 555 AND t_free IS NOT NULL"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations a JOIN stack_frames f"
                                    " ON f.stack_id = a.stack_id AND f.position = 0 WHERE a.size = 333"
                                    " AND f.function = 'vctor_init' AND f.file LIKE '%%/libvctor.c'"
                                    " AND f.line = 14"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'unmatched_frees'"), 0);
  sqlite3_close(s);
  free(db);
}

/* libstdc++'s emergency pool: allocated while the library loads, before any constructor of
 * ours; the count and peak equal heaptrack's on the same program, and the leaks too but the pool
 * (heaptrack frees it at exit; heapql classifies it, still reachable). */
static void test_cpp_matches_heaptrack(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  char *db = keep(hq_test_join(dir, "cpp.db")), *ht = keep(hq_test_join(dir, "ht"));
  char *zst = keep(hq_test_join(dir, "ht.zst"));
  const char *heaptrack = hq_test_which("heaptrack");
  char *heaptrack_path = heaptrack ? keep(heaptrack) : NULL;
  const char *print = hq_test_which("heaptrack_print");
  char *print_path = print ? keep(print) : NULL;
  hq_test_proc_t p;
  sqlite3 *s;
  long calls = -1;
  char *line;
  HQ_TEST_REQUIRE(heaptrack_path && print_path, "heaptrack (Debian heaptrack)");
  {
    char *argv[] = {HEAPQL(), "run", "-q", "-o", db, "--", VICTIM("v_wrappers"), NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
  }
  {
    char *argv[] = {heaptrack_path, "-o", ht, VICTIM("v_wrappers"), NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 120, &p), 0);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
  }
  {
    char *argv[] = {print_path, zst, NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 120, &p), 0);
    line = strstr(p.out, "calls to allocation functions: ");
    assert_non_null(line);
    calls = strtol(line + 31, NULL, 10);
  }
  s = hq_test_sqlite_open(db);
  /* the pool is there (its size is libstdc++'s choice: the block allocated in its loading) */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations a JOIN stack_frames f"
                                    " ON f.stack_id = a.stack_id WHERE f.function = '_dl_init'"
                                    " AND a.size >= 65536"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations JOIN kinds USING(kind)"
                                    " WHERE class = 'heap'"), calls);
  /* heaptrack prints the peak and the leaks in K with two decimals: compare at that precision */
  {
    char want[64];
    snprintf(want, sizeof want, "peak heap memory consumption: %.2fK\n",
             (double)hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'peak_heap_bytes'") / 1000.0);
    assert_non_null(strstr(p.out, want));
    /* heaptrack hands libstdc++'s emergency pool back at exit; heapql, like memcheck, frees no
     * pool of the program's and calls it what it is: still reachable */
    snprintf(want, sizeof want, "total memory leaked: %.2fK\n",
             (double)hq_test_q_int(s, "SELECT sum(size) FROM leaks WHERE class = 'heap' AND NOT"
                                      " (size >= 65536 AND leak_class = 'still_reachable')") / 1000.0);
    assert_non_null(strstr(p.out, want));
  }
  sqlite3_close(s);
  hq_test_proc_free(&p);
  free(db);
  free(ht);
  free(zst);
  free(heaptrack_path);
  free(print_path);
}

/* ---- invisible ---- */

static int str_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lines of an env listing without the `_` a shell sets, sorted. */
static char *env_lines(const char *text) {
  char *copy = keep(text), *lines[1024], *out, *save = NULL;
  size_t n = 0, len = 0;
  for (char *l = strtok_r(copy, "\n", &save); l && n < 1024; l = strtok_r(NULL, "\n", &save))
    if (strncmp(l, "_=", 2)) lines[n++] = l;
  qsort(lines, n, sizeof *lines, str_cmp);
  for (size_t i = 0; i < n; i++) len += strlen(lines[i]) + 1;
  out = calloc(1, len + 1);
  for (size_t i = 0; i < n; i++) strcat(strcat(out, lines[i]), "\n");
  free(copy);
  return out;
}

/* Fails naming the first line that is in one listing and not in the other. */
static void expect_same_lines(const char *what, const char *got, const char *want) {
  for (int pass = 0; pass < 2; pass++) {
    const char *from = pass ? want : got, *other = pass ? got : want;
    for (const char *l = from; *l;) {
      const char *eol = strchr(l, '\n');
      size_t n = eol ? (size_t)(eol - l) + 1 : strlen(l);
      char line[4096];
      snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), l);
      if (!strstr(other, line))
        fail_msg("%s: '%.*s' %s heapql", what, (int)strcspn(line, "\n"), line, pass ? "only without" : "only with");
      l += n;
    }
  }
}

static void test_environment_is_the_programs(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  char *db = keep(hq_test_join(dir, "env.db")), *db2 = keep(hq_test_join(dir, "env2.db"));
  hq_test_proc_t plain, run, preloaded;
  char *a, *b, *c;
  {
    char *argv[] = {"/usr/bin/env", NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &plain), 0);
  }
  {
    char *argv[] = {HEAPQL(), "run", "-q", "-o", db, "--", "/usr/bin/env", NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &run), 0);
  }
  {
    char *argv[] = {"/usr/bin/env", NULL};
    hq_test_run_preloaded(argv, db2, NULL, 60, &preloaded);
  }
  a = env_lines(plain.out);
  b = env_lines(run.out);
  c = env_lines(preloaded.out);
  assert_true(strlen(a) > 20);
  {
    /* the one documented exception: NVTX finds heapql through NVTX_INJECTION64_PATH, which
     * names the preload itself (docs/recorder.md, "NVTX") */
    char *nvtx = strstr(b, "NVTX_INJECTION64_PATH=");
    char *eol;
    assert_non_null(nvtx);
    eol = strchr(nvtx, '\n');
    assert_non_null(eol);
    *eol = '\0';
    assert_non_null(strstr(nvtx, "/libheapql_preload.so"));
    memmove(nvtx, eol + 1, strlen(eol + 1) + 1);
  }
  expect_same_lines("heapql run -- env", b, a);
  expect_same_lines("LD_PRELOAD= env", c, a);
  assert_null(strstr(run.out, "HEAPQL_OUTPUT"));
  assert_null(strstr(run.out, "HEAPQL_DEFER_IMPORT"));
  assert_null(strstr(run.out, "LD_PRELOAD"));
  /* and the database was written: heapql did run */
  assert_true(hq_test_exists(db));
  assert_true(hq_test_exists(db2));
  free(a);
  free(b);
  free(c);
  hq_test_proc_free(&plain);
  hq_test_proc_free(&run);
  hq_test_proc_free(&preloaded);
  free(db);
  free(db2);
}

/* posix_spawn, system and popen: children recorded with --follow-exec, untouched without. */
static void test_spawned_children(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  char *db = keep(hq_test_join(dir, "sp.db"));
  char cmd[4300];
  int n = 0;
  hq_test_proc_t p;
  FILE *f;
  {
    char *argv[] = {HEAPQL(), "run", "-q", "-o", db, "--", VICTIM("v_spawn"), "/usr/bin/env", NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
    assert_int_equal(p.exit_status, 0);
    assert_null(strstr(p.out, "HEAPQL_OUTPUT")); /* the children's environment: no heapql either */
    /* heapql's library is named only where NVTX looks for its tool (a child that opens it is
     * not recorded: the library stays dormant there) */
    for (const char *l = p.out; (l = strstr(l, "libheapql")) != NULL; l++) {
      const char *bol = l;
      while (bol > p.out && bol[-1] != '\n') bol--;
      assert_int_equal(strncmp(bol, "NVTX_INJECTION64_PATH=", 22), 0);
    }
    assert_int_equal(hq_test_count_files(dir), 1);
    hq_test_proc_free(&p);
  }
  {
    char *argv[] = {HEAPQL(), "run", "-q", "--force", "--follow-exec", "-o", db, "--", VICTIM("v_spawn"),
                    VICTIM("v_leaf"), NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
  }
  /* three v_leaf (posix_spawn, system's sh -c, popen's sh -c) and the two shells */
  snprintf(cmd, sizeof cmd, "ls %s | grep -cE '^sp\\.[0-9]+\\.v_leaf\\.db$'", dir);
  f = popen(cmd, "r");
  assert_int_equal(fscanf(f, "%d", &n), 1);
  pclose(f);
  assert_int_equal(n, 3);
  snprintf(cmd, sizeof cmd, "ls %s | grep -cE '^sp\\.[0-9]+\\.(dash|sh|bash)\\.db$'", dir);
  f = popen(cmd, "r");
  assert_int_equal(fscanf(f, "%d", &n), 1);
  pclose(f);
  assert_int_equal(n, 2);
  /* each v_leaf's database holds its leak */
  snprintf(cmd, sizeof cmd, "for d in %s/sp.*.v_leaf.db; do sqlite3 $d 'SELECT sum(size) FROM leaks'; done", dir);
  f = popen(cmd, "r");
  for (int i = 0; i < 3; i++) {
    long leaked = 0;
    assert_int_equal(fscanf(f, "%ld", &leaked), 1);
    assert_int_equal(leaked, 4444);
  }
  pclose(f);
  free(db);
}

/* ---- a storm of kills ---- */

static void test_crash_storm(void **state) {
  (void)state;
  const char *env_runs = getenv("HEAPQL_CRASH_RUNS");
  int runs = env_runs && atoi(env_runs) > 0 ? atoi(env_runs) : 20;
  unsigned seed = (unsigned)time(NULL);
  print_message("crash storm: %d runs, seed %u\n", runs, seed);
  srand(seed);
  for (int r = 0; r < runs; r++) {
    const char *dir = hq_test_tmpdir();
    char name[64], *db, *raw, *rings, *out, buf[65536];
    char preload[4200], output[4200], *last = NULL;
    int pipefd[2], sig = r % 2 ? SIGSEGV : SIGKILL, status;
    long ms = 20 + rand() % 180, reported = 0, got;
    size_t len = 0;
    pid_t pid;
    ssize_t k;
    char *imp[] = {HEAPQL(), "import", "-q", NULL, "-o", NULL, NULL};
    hq_test_proc_t p;
    sqlite3 *s;
    snprintf(name, sizeof name, "storm%d.db", r);
    db = keep(hq_test_join(dir, name));
    snprintf(name, sizeof name, "storm%d.db.raw", r);
    raw = keep(hq_test_join(dir, name));
    snprintf(name, sizeof name, "storm%d.db.raw.rings", r);
    rings = keep(hq_test_join(dir, name));
    snprintf(name, sizeof name, "out%d.db", r);
    out = keep(hq_test_join(dir, name));
    imp[3] = raw;
    imp[5] = out;
    assert_int_equal(pipe(pipefd), 0);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", PRELOAD());
    snprintf(output, sizeof output, "HEAPQL_OUTPUT=%s", db);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      char *argv[] = {VICTIM("v_storm"), "3", NULL};
      char *envp[] = {preload, output, NULL};
      dup2(pipefd[1], 1);
      close(pipefd[0]);
      close(pipefd[1]);
      execve(argv[0], argv, envp);
      _exit(127);
    }
    close(pipefd[1]);
    {
      struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
      nanosleep(&ts, NULL);
    }
    kill(pid, sig);
    while ((k = read(pipefd[0], buf + len, sizeof buf - 1 - len)) > 0 || (k < 0 && errno == EINTR)) {
      if (k > 0) len += (size_t)k;
      if (len > sizeof buf / 2) { /* keep the tail */
        memmove(buf, buf + len - 4096, 4096);
        len = 4096;
      }
    }
    close(pipefd[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), sig);
    buf[len] = '\0';
    /* the last whole line the victim wrote */
    while (len > 0 && buf[len - 1] != '\n') buf[--len] = '\0';
    if (len > 0) {
      buf[len - 1] = '\0';
      last = strrchr(buf, '\n');
      reported = strtol(last ? last + 1 : buf, NULL, 10);
    }
    assert_int_equal(hq_test_run(imp, NULL, NULL, 120, &p), 0);
    if (p.exit_status) print_message("import: %s", p.err);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
    s = hq_test_sqlite_open(out);
    got = (long)hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE size BETWEEN 1000 AND 1999");
    if (got < reported) fail_msg("run %d (signal %d after %ld ms): %ld allocations recorded, %ld reported done",
                                 r, sig, ms, got, reported);
    assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'complete'"), 0);
    if (sig == SIGSEGV)
      assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'exit_signal'"), SIGSEGV);
    sqlite3_close(s);
    unlink(raw); /* tens of MB each */
    unlink(rings);
    unlink(out);
    free(db);
    free(raw);
    free(rings);
    free(out);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_crash_under_heapql_run),
    cmocka_unit_test(test_crash_plain_preload_sigkill),
    cmocka_unit_test(test_crash_shell_kills_itself),
    cmocka_unit_test(test_signal_dispositions_unchanged),
    cmocka_unit_test(test_signal_program_recovers_then_dies),
    cmocka_unit_test(test_library_constructor_recorded),
    cmocka_unit_test(test_cpp_matches_heaptrack),
    cmocka_unit_test(test_environment_is_the_programs),
    cmocka_unit_test(test_spawned_children),
    cmocka_unit_test(test_crash_storm),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
