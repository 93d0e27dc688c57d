/*
 * test_preload_recorder.c: victims run under libheapql_preload.so as child processes; their
 * databases must hold exactly what each victim knows it did.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hq_test.h"
#include "heapql/heapql.h"

/* Run a victim under the preload; db is the HEAPQL_OUTPUT.  extra: more "K=V" (NULL-ended). */
static void run_victim(const char *victim, const char *arg1, const char *arg2, const char *db,
                       const char *const *extra, hq_test_proc_t *out) {
  char *argv[] = {(char *)hq_test_build_path(victim), (char *)arg1, arg1 ? (char *)arg2 : NULL, NULL};
  hq_test_run_preloaded(argv, db, extra, 120, out);
}

/* The allocations a victim made itself: rows whose leaf frame is in the victim's own module. */
#define OWN "FROM allocations a JOIN stacks s ON s.id = a.stack_id JOIN frames f ON f.id = s.frame_id " \
            "JOIN modules m ON m.id = f.module_id WHERE m.path LIKE '%%/%s' "

static void test_preload_kinds_exact(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "kinds.db");
  hq_test_proc_t p;
  sqlite3 *s;
  run_victim("tests/victims/v_kinds", NULL, NULL, db, NULL, &p);
  assert_int_equal(p.exit_status, 0);
  assert_int_equal(p.err_len, 0);   /* silence */
  assert_int_equal(p.out_len, 0);
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations"), 8);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) " OWN, "v_kinds"), 8);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind='malloc'"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind='calloc'"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind='realloc'"), 2);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind='aligned'"), 4);
  assert_int_equal(hq_test_q_int(s, "SELECT sum(size) FROM allocations"), 11460);
  assert_int_equal(hq_test_q_int(s, "SELECT size FROM allocations WHERE kind='calloc'"), 2000);
  assert_int_equal(hq_test_q_int(s, "SELECT alignment FROM allocations WHERE size=4096"), 64);
  assert_int_equal(hq_test_q_int(s, "SELECT alignment FROM allocations WHERE size=500"), 32);
  /* frees: four free() calls, and the block realloc moved */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE free_kind='free'"), 4);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE free_kind='realloc'"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT size FROM allocations WHERE free_kind='realloc'"), 3000);
  assert_int_equal(hq_test_q_int(s, "SELECT b.size FROM allocations a JOIN allocations b "
                                    "ON b.realloc_from = a.id WHERE a.size = 3000"), 700);
  /* leaks */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM leaks"), 3);
  assert_int_equal(hq_test_q_int(s, "SELECT sum(size) FROM leaks"), 2764);
  /* peak */
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='peak_heap_bytes'"), 10660);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='peak_heap_t'"),
                   hq_test_q_int(s, "SELECT t_alloc FROM allocations WHERE size=500"));
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='complete'"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='exit_status'"), 0);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='unmatched_frees'"), 0);
  /* every allocation is on the main thread, in order */
  assert_int_equal(hq_test_q_int(s, "SELECT count(DISTINCT tid) FROM allocations"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT max(alloc_seq) FROM allocations"), 8);
  /* valloc's block (100) is the only temporary: freed before the thread's next allocation */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM temporary"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT size FROM temporary"), 100);
  sqlite3_close(s);
  hq_test_proc_free(&p);
}

static void test_preload_stack_return_addresses(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "chain.db");
  hq_test_proc_t p;
  unsigned long start_c, ra_c, ra_b, ra_a;
  int64_t leaf;
  sqlite3 *s;
  run_victim("tests/victims/v_chain", NULL, NULL, db, NULL, &p);
  assert_int_equal(p.exit_status, 0);
  assert_int_equal(sscanf(p.out, "start_c=%lx ra_c=%lx ra_b=%lx ra_a=%lx", &start_c, &ra_c, &ra_b,
                          &ra_a), 4);
  s = hq_test_sqlite_open(db);
  leaf = hq_test_q_int(s, "SELECT stack_id FROM allocations WHERE size = 12345");
  /* frame 0: inside level_c, just after its call to malloc */
  {
    int64_t off0 = hq_test_q_int(s, "SELECT f.offset FROM stacks s JOIN frames f ON f.id = s.frame_id "
                                    "WHERE s.id = %lld", (long long)leaf);
    assert_true(off0 > (int64_t)start_c && off0 < (int64_t)start_c + 64);
  }
#define NTH_PARENT_OFFSET(n)                                                                   \
  hq_test_q_int(s, "WITH RECURSIVE up(id, k) AS (SELECT %lld, 0 UNION ALL "                    \
                   "SELECT st.parent_id, up.k + 1 FROM up JOIN stacks st ON st.id = up.id "    \
                   "WHERE st.parent_id IS NOT NULL) SELECT f.offset FROM up JOIN stacks st "   \
                   "ON st.id = up.id JOIN frames f ON f.id = st.frame_id WHERE up.k = %d",     \
                (long long)leaf, n)
  assert_int_equal(NTH_PARENT_OFFSET(1), ra_c);
  assert_int_equal(NTH_PARENT_OFFSET(2), ra_b);
  assert_int_equal(NTH_PARENT_OFFSET(3), ra_a);
  /* every frame of the chain is in the victim's module */
  assert_string_equal(hq_test_q_text(s, "SELECT substr(m.path, -7) FROM stacks st JOIN frames f "
                                        "ON f.id = st.frame_id JOIN modules m ON m.id = f.module_id "
                                        "WHERE st.id = %lld", (long long)leaf), "v_chain");
  /* the module carries a build-id for offline symbolization */
  assert_int_equal(hq_test_q_int(s, "SELECT length(build_id) FROM modules WHERE path LIKE '%%/v_chain'"), 40);
  sqlite3_close(s);
  hq_test_proc_free(&p);
}

static void test_preload_threads_exact(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "threads.db");
  hq_test_proc_t p;
  sqlite3 *s;
  long long per_thread = 0;
  for (long i = 0; i < 200000; i++) per_thread += 1 + i % 97;
  run_victim("tests/victims/v_threads", "8", "200000", db, NULL, &p);
  assert_int_equal(p.exit_status, 0);
  assert_int_equal(p.err_len, 0);
  s = hq_test_sqlite_open(db);
  /* glibc's pthread_create allocates too (one block per thread); the victim's own work: */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) " OWN, "v_threads"), 8 * 200000);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) " OWN "AND a.t_free IS NULL", "v_threads"), 0);
  assert_int_equal(hq_test_q_int(s, "SELECT sum(a.size) " OWN, "v_threads"), 8 * per_thread);
  assert_int_equal(hq_test_q_int(s, "SELECT count(DISTINCT a.tid) " OWN, "v_threads"), 8);
  assert_int_equal(hq_test_q_int(s, "SELECT min(c) FROM (SELECT count(*) c " OWN "GROUP BY a.tid)", "v_threads"), 200000);
  assert_int_equal(hq_test_q_int(s, "SELECT max(c) FROM (SELECT count(*) c " OWN "GROUP BY a.tid)", "v_threads"), 200000);
  /* every block freed by the thread that made it, right away: all temporary */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM temporary t JOIN stacks s ON s.id = t.stack_id "
                                    "JOIN frames f ON f.id = s.frame_id JOIN modules m ON m.id = f.module_id "
                                    "WHERE m.path LIKE '%%/v_threads'"), 8 * 200000);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM threads WHERE name LIKE 'worker-%%'"), 8);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM threads WHERE name LIKE 'worker-%%' AND t_end IS NOT NULL"), 8);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='dropped_events'"), 0);
  /* peak: at most one victim block per thread live at once, beside glibc's thread blocks */
  assert_true(hq_test_q_int(s, "SELECT value FROM meta WHERE key='peak_heap_bytes'") <=
              8 * 97 + hq_test_q_int(s, "SELECT sum(a.size) FROM allocations a WHERE a.id NOT IN "
                                        "(SELECT a.id " OWN ")", "v_threads"));
  assert_true(hq_test_q_int(s, "SELECT value FROM meta WHERE key='peak_heap_bytes'") >= 97);
  sqlite3_close(s);
  hq_test_proc_free(&p);
}

static void test_preload_fork_follows(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  const char *db = hq_test_join(dir, "fork.db");
  char child_db[4200] = "";
  hq_test_proc_t p;
  sqlite3 *s;
  run_victim("tests/victims/v_fork", NULL, NULL, db, NULL, &p);
  assert_int_equal(p.exit_status, 0);
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations"), 2);
  assert_int_equal(hq_test_q_int(s, "SELECT sum(size) FROM allocations"), 111 + 333);
  sqlite3_close(s);
  /* the child's database: fork.<pid>.db beside it */
  {
    char cmd[4400];
    FILE *f;
    snprintf(cmd, sizeof cmd, "ls %s | grep -E '^fork\\.[0-9]+\\.db$'", dir);
    f = popen(cmd, "r");
    assert_non_null(f);
    assert_non_null(fgets(child_db, sizeof child_db, f));
    pclose(f);
    child_db[strcspn(child_db, "\n")] = '\0';
  }
  s = hq_test_sqlite_open(hq_test_join(dir, child_db));
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT size FROM allocations"), 222);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='exit_status'"), 7);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='ppid'"),
                   hq_test_q_int(s, "SELECT value FROM meta WHERE key='ppid'"));
  sqlite3_close(s);
  hq_test_proc_free(&p);
}

static int count_dbs(const char *dir) {
  char cmd[4400];
  int n = 0;
  FILE *f;
  snprintf(cmd, sizeof cmd, "ls %s | grep -c '\\.db$'", dir);
  f = popen(cmd, "r");
  if (f && fscanf(f, "%d", &n) != 1) n = -1;
  if (f) pclose(f);
  return n;
}

static void test_preload_fork_not_followed(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  const char *extra[] = {"HEAPQL_FOLLOW_FORK=0", NULL};
  hq_test_proc_t p;
  sqlite3 *s;
  run_victim("tests/victims/v_fork", NULL, NULL, hq_test_join(dir, "nofollow.db"), extra, &p);
  assert_int_equal(p.exit_status, 0);
  assert_int_equal(count_dbs(dir), 1);
  s = hq_test_sqlite_open(hq_test_join(dir, "nofollow.db"));
  assert_int_equal(hq_test_q_int(s, "SELECT sum(size) FROM allocations"), 111 + 333);
  sqlite3_close(s);
  hq_test_proc_free(&p);
}

static void test_preload_exec_default_untraced(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  hq_test_proc_t p;
  run_victim("tests/victims/v_fork", "exec", hq_test_build_path("tests/victims/v_leaf"),
             hq_test_join(dir, "ex.db"), NULL, &p);
  assert_int_equal(p.exit_status, 0);
  /* parent + forked child; the exec'd v_leaf is not recorded */
  assert_int_equal(count_dbs(dir), 2);
  hq_test_proc_free(&p);
}

static void test_preload_exec_followed(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  const char *extra[] = {"HEAPQL_FOLLOW_EXEC=1", NULL};
  char cmd[4400], name[256];
  hq_test_proc_t p;
  FILE *f;
  sqlite3 *s;
  int found = 0;
  run_victim("tests/victims/v_fork", "exec", hq_test_build_path("tests/victims/v_leaf"),
             hq_test_join(dir, "ex.db"), extra, &p);
  assert_int_equal(p.exit_status, 0);
  /* parent, forked child up to its exec, and the exec'd v_leaf (ex.<pid>.v_leaf.db) */
  assert_int_equal(count_dbs(dir), 3);
  snprintf(cmd, sizeof cmd, "ls %s | grep -E '^ex\\.[0-9]+\\.(v_leaf\\.)?db$'", dir);
  f = popen(cmd, "r");
  assert_non_null(f);
  while (fgets(name, sizeof name, f)) {
    name[strcspn(name, "\n")] = '\0';
    s = hq_test_sqlite_open(hq_test_join(dir, name));
    if (hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE size=4444") == 1) {
      found = 1;
      assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='exit_status'"), 5);
      assert_string_equal(hq_test_q_text(s, "SELECT value FROM meta WHERE key='program'"), "v_leaf");
    }
    sqlite3_close(s);
  }
  pclose(f);
  assert_true(found);
  hq_test_proc_free(&p);
}

static void test_preload_dlopen_deepbind(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "dl.db");
  hq_test_proc_t p;
  sqlite3 *s;
  run_victim("tests/victims/v_dlopen", hq_test_build_path("tests/victims/libvdl.so"), NULL, db,
             NULL, &p);
  assert_int_equal(p.exit_status, 0);
  s = hq_test_sqlite_open(db);
  /* the library's malloc was seen despite RTLD_DEEPBIND, and freed */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE size=4321 AND t_free IS NOT NULL"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE size=77 AND t_free IS NOT NULL"), 1);
  /* its leaf frame resolves to the library, which the module map shows unloaded */
  assert_string_equal(hq_test_q_text(s, "SELECT substr(m.path, -9) FROM allocations a JOIN stacks st "
                                        "ON st.id = a.stack_id JOIN frames f ON f.id = st.frame_id JOIN "
                                        "modules m ON m.id = f.module_id WHERE a.size = 4321"), "libvdl.so");
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM modules WHERE path LIKE '%%libvdl.so' AND gen_last IS NOT NULL"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='unmatched_frees'"), 0);
  sqlite3_close(s);
  hq_test_proc_free(&p);
}

/* Import the raw trace a dead victim left; check its 50 blocks and the signal it died of, which
 * the recorder knows when it saw the death coming (abort) and cannot know under SIGKILL
 * (want_exit_signal 0: the database must say it does not know). */
static void check_dead(const char *db, int want_exit_signal) {
  char raw[4200];
  hq_import_opts_t io = {0, 0, 0};
  hq_import_stats_t st;
  char err[512];
  sqlite3 *s;
  snprintf(raw, sizeof raw, "%s.raw", db);
  assert_false(hq_test_exists(db));
  assert_true(hq_test_exists(raw));
  assert_int_equal(hq_import(raw, db, &io, &st, err, sizeof err), HQ_OK);
  assert_int_equal(st.complete, 0);
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE size BETWEEN 1000 AND 1049"), 50);
  assert_int_equal(hq_test_q_int(s, "SELECT sum(size) FROM leaks"), 50 * 1000 + 49 * 50 / 2);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='complete'"), 0);
  assert_non_null(strstr(hq_test_q_text(s, "SELECT value FROM meta WHERE key='incomplete_reason'"),
                         "did not finish normally"));
  if (want_exit_signal) {
    assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='exit_signal'"), want_exit_signal);
    assert_int_equal(hq_test_q_int(s, "SELECT exit_signal FROM processes"), want_exit_signal);
  } else {
    assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM meta WHERE key='exit_signal'"), 0);
    assert_int_equal(hq_test_q_int(s, "SELECT exit_signal IS NULL FROM processes"), 1);
  }
  assert_int_equal(hq_test_q_int(s, "SELECT exit_status IS NULL FROM processes"), 1);
  sqlite3_close(s);
}

static void test_preload_sigkill_recovered(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "kill.db");
  hq_test_proc_t p;
  run_victim("tests/victims/v_die", "kill", NULL, db, NULL, &p);
  assert_int_equal(p.term_signal, SIGKILL);
  check_dead(db, 0); /* plain LD_PRELOAD cannot see SIGKILL coming; `heapql run` can (test_preload_run) */
  hq_test_proc_free(&p);
}

static void test_preload_abort_recovered(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "abort.db");
  hq_test_proc_t p;
  run_victim("tests/victims/v_die", "abort", NULL, db, NULL, &p);
  assert_int_equal(p.term_signal, SIGABRT);
  check_dead(db, SIGABRT);
  hq_test_proc_free(&p);
}

static void test_preload_underscore_exit(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "uexit.db");
  hq_test_proc_t p;
  sqlite3 *s;
  run_victim("tests/victims/v_die", "_exit", NULL, db, NULL, &p);
  assert_int_equal(p.exit_status, 3);
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM leaks"), 50);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='complete'"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='exit_status'"), 3);
  assert_int_equal(hq_test_q_int(s, "SELECT exit_status FROM processes"), 3);
  assert_int_equal(hq_test_q_int(s, "SELECT exit_signal IS NULL FROM processes"), 1);
  sqlite3_close(s);
  /* the raw trace became the database and is gone */
  {
    char raw[4200];
    snprintf(raw, sizeof raw, "%s.raw", db);
    assert_false(hq_test_exists(raw));
  }
  hq_test_proc_free(&p);
}

static void test_preload_closes_all_fds(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "fds.db");
  hq_test_proc_t p;
  sqlite3 *s;
  run_victim("tests/victims/v_fds", NULL, NULL, db, NULL, &p);
  assert_int_equal(p.exit_status, 0);
  assert_int_equal(p.err_len, 0);
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE size=3333"), 3);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM leaks WHERE size=3333"), 2);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='complete'"), 1);
  sqlite3_close(s);
  hq_test_proc_free(&p);
}

static void test_preload_disk_full_program_carries_on(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "full.db");
  hq_test_proc_t p;
  run_victim("tests/victims/v_diskfull", NULL, NULL, db, NULL, &p);
  assert_int_equal(p.exit_status, 0);
  assert_string_equal(p.out, "done\n");
  assert_non_null(strstr(p.err, "heapql: recording stopped: cannot write the trace: File too large"));
  hq_test_proc_free(&p);
}

static void test_preload_cpp_new_delete(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "cpp.db");
  hq_test_proc_t p;
  sqlite3 *s;
  run_victim("tests/victims/v_cpp", NULL, NULL, db, NULL, &p);
  assert_int_equal(p.exit_status, 0);
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) " OWN "AND a.kind='new'", "v_cpp"), 2);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) " OWN "AND a.kind='new[]'", "v_cpp"), 4);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) " OWN "AND a.kind='malloc'", "v_cpp"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT alignment FROM allocations WHERE kind='new' AND size=128"), 64);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind='new' AND free_kind='delete'"), 2);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind='new[]' AND free_kind='delete[]'"), 2);
  /* the two mismatches */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind='new[]' AND free_kind='delete' AND size=40"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind='malloc' AND free_kind='delete' AND size=48"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT sum(a.size) " OWN "AND a.t_free IS NULL", "v_cpp"), 100);
  sqlite3_close(s);
  hq_test_proc_free(&p);
}

static void test_preload_mmap_kind(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "mmap.db");
  hq_test_proc_t p;
  sqlite3 *s;
  run_victim("tests/victims/v_mmap", NULL, NULL, db, NULL, &p);
  assert_int_equal(p.exit_status, 0);
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) " OWN "AND a.kind='mmap'", "v_mmap"), 3);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind='mmap' AND size=%d AND free_kind='munmap'", 1 << 20), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind='mmap' AND size=%d AND t_free IS NULL", 4 << 20), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind='mmap' AND size=%d AND free_kind='munmap' AND id IN (SELECT realloc_from FROM allocations)", 2 << 20), 1);
  /* mappings are never heap */
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='peak_heap_bytes'"), 0);
  /* 1 MiB + 2 MiB live, then 2 MiB alone, then grown to 4 MiB */
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='peak_mmap_bytes'"), 4 << 20);
  sqlite3_close(s);
  hq_test_proc_free(&p);
}

static void test_preload_bad_env_runs_untraced(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  const char *extra[] = {"HEAPQL_DEPTH=lots", NULL};
  hq_test_proc_t p;
  run_victim("tests/victims/v_chain", NULL, NULL, hq_test_join(dir, "bad.db"), extra, &p);
  assert_int_equal(p.exit_status, 0);
  assert_non_null(strstr(p.out, "start_c="));
  assert_string_equal(p.err, "heapql: HEAPQL_DEPTH='lots' is not a number from 1 to 256: running untraced\n");
  assert_int_equal(count_dbs(dir), 0);
  hq_test_proc_free(&p);
}

static void test_preload_unwritable_output_runs_untraced(void **state) {
  (void)state;
  hq_test_proc_t p;
  run_victim("tests/victims/v_chain", NULL, NULL, "/nonexistent-dir/x.db", NULL, &p);
  assert_int_equal(p.exit_status, 0);
  assert_non_null(strstr(p.out, "start_c="));
  assert_non_null(strstr(p.err, "heapql: cannot create /nonexistent-dir/x.db.raw: No such file or directory: running untraced"));
  assert_null(strchr(p.err, '\n') == p.err + strlen(p.err) - 1 ? NULL : "more than one line");
  hq_test_proc_free(&p);
}

static void test_preload_existing_output_kept(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "exists.db");
  const char *force[] = {"HEAPQL_FORCE=1", NULL};
  hq_test_proc_t p;
  FILE *f = fopen(db, "w");
  size_t len;
  char *text;
  sqlite3 *s;
  fputs("precious", f);
  fclose(f);
  run_victim("tests/victims/v_kinds", NULL, NULL, db, NULL, &p);
  assert_int_equal(p.exit_status, 0);
  assert_non_null(strstr(p.err, "already exists (set HEAPQL_FORCE=1 to replace it): running untraced"));
  text = hq_test_read_file(db, &len);
  assert_string_equal(text, "precious");
  free(text);
  hq_test_proc_free(&p);
  run_victim("tests/victims/v_kinds", NULL, NULL, db, force, &p);
  assert_int_equal(p.err_len, 0);
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations"), 8);
  sqlite3_close(s);
  hq_test_proc_free(&p);
}

static void test_preload_free_stacks(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "fs.db");
  const char *extra[] = {"HEAPQL_FREE_STACKS=1", NULL};
  hq_test_proc_t p;
  sqlite3 *s;
  run_victim("tests/victims/v_kinds", NULL, NULL, db, extra, &p);
  assert_int_equal(p.exit_status, 0);
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='free_stacks'"), 1);
  /* the four free() calls carry the stack of their caller, main in v_kinds */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations a JOIN stacks st ON st.id = a.free_stack_id "
                                    "JOIN frames f ON f.id = st.frame_id JOIN modules m ON m.id = f.module_id "
                                    "WHERE a.free_kind = 'free' AND m.path LIKE '%%/v_kinds'"), 4);
  assert_int_equal(hq_test_q_int(s, "SELECT count(DISTINCT free_stack_id) FROM allocations WHERE free_kind = 'free'"), 4);
  sqlite3_close(s);
  hq_test_proc_free(&p);
  /* and without the switch, none */
  db = hq_test_join(hq_test_tmpdir(), "nofs.db");
  run_victim("tests/victims/v_kinds", NULL, NULL, db, NULL, &p);
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE free_stack_id IS NOT NULL"), 0);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE free_kind = 'free'"), 4);
  sqlite3_close(s);
  hq_test_proc_free(&p);
}

/* Event times from the TSC (when the kernel trusts it) or from clock_gettime: both in ns. */
static void test_preload_clock_modes(void **state) {
  (void)state;
  const char *modes[] = {"HEAPQL_CLOCK=auto", "HEAPQL_CLOCK=monotonic"};
  for (int i = 0; i < 2; i++) {
    const char *db = hq_test_join(hq_test_tmpdir(), "clock.db");
    const char *extra[] = {modes[i], NULL};
    hq_test_proc_t p;
    sqlite3 *s;
    int64_t duration, first, last;
    run_victim("tests/victims/v_die", NULL, NULL, db, extra, &p);
    assert_int_equal(p.exit_status, 0);
    assert_int_equal(p.err_len, 0);
    s = hq_test_sqlite_open(db);
    if (i == 1) assert_string_equal(hq_test_q_text(s, "SELECT value FROM meta WHERE key='clock'"), "monotonic");
    duration = hq_test_q_int(s, "SELECT value FROM meta WHERE key='duration_ns'");
    first = hq_test_q_int(s, "SELECT min(t_alloc) FROM allocations");
    last = hq_test_q_int(s, "SELECT max(t_alloc) FROM allocations");
    /* v_die allocates 50 blocks, then sleeps 200 ms before it exits */
    assert_true(duration >= 200000000 && duration < 5000000000ll);
    assert_true(first >= 0 && last >= first && last < 100000000);
    assert_true(duration - last >= 200000000);
    assert_true(hq_test_q_int(s, "SELECT max(t) FROM samples") <= duration);
    sqlite3_close(s);
    hq_test_proc_free(&p);
  }
  {
    const char *extra[] = {"HEAPQL_CLOCK=sundial", NULL};
    hq_test_proc_t p;
    run_victim("tests/victims/v_die", NULL, NULL, hq_test_join(hq_test_tmpdir(), "c.db"), extra, &p);
    assert_int_equal(p.exit_status, 0);
    assert_string_equal(p.err, "heapql: HEAPQL_CLOCK='sundial' must be 'auto' or 'monotonic': running untraced\n");
    hq_test_proc_free(&p);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_preload_kinds_exact),
    cmocka_unit_test(test_preload_stack_return_addresses),
    cmocka_unit_test(test_preload_threads_exact),
    cmocka_unit_test(test_preload_fork_follows),
    cmocka_unit_test(test_preload_fork_not_followed),
    cmocka_unit_test(test_preload_exec_default_untraced),
    cmocka_unit_test(test_preload_exec_followed),
    cmocka_unit_test(test_preload_dlopen_deepbind),
    cmocka_unit_test(test_preload_sigkill_recovered),
    cmocka_unit_test(test_preload_abort_recovered),
    cmocka_unit_test(test_preload_underscore_exit),
    cmocka_unit_test(test_preload_closes_all_fds),
    cmocka_unit_test(test_preload_disk_full_program_carries_on),
    cmocka_unit_test(test_preload_cpp_new_delete),
    cmocka_unit_test(test_preload_mmap_kind),
    cmocka_unit_test(test_preload_bad_env_runs_untraced),
    cmocka_unit_test(test_preload_unwritable_output_runs_untraced),
    cmocka_unit_test(test_preload_existing_output_kept),
    cmocka_unit_test(test_preload_clock_modes),
    cmocka_unit_test(test_preload_free_stacks),
  };
  return cmocka_run_group_tests_name("preload_recorder", tests, NULL, NULL);
}
