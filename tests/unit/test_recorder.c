/*
 * test_recorder.c: the recorder's ring, writer and record path driven directly, without
 * LD_PRELOAD (preload/hq_recorder.h), then imported and checked through the database.  Each
 * recording runs in a forked child, since a recorder starts once per process.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hq_test.h"
#include "heapql/analyzer.h"
#include "heapql/internal/fault.h"
#include "../../preload/hq_recorder.h"
#include "../../preload/preload_int.h"

#define THREADS 4
#define PER_THREAD 30000 /* pairs of records: far more than a 64 KiB ring holds */

/* Fake addresses: the recorder never touches the memory it records. */
static uintptr_t addr(int thread, int i) { return 0x100000000ull * (uintptr_t)(thread + 1) + (uintptr_t)i * 64; }

static void __attribute__((noinline)) burst(int thread, int n) {
  for (int i = 0; i < n; i++) {
    hq__record_alloc(HQ_KIND_MALLOC, (void *)addr(thread, i), (size_t)(i % 100) + 1, 0);
    if (i % 3 != 0) hq__record_free(HQ_FREE_FREE, (void *)addr(thread, i));
  }
}

static void *worker(void *arg) {
  burst((int)(intptr_t)arg, PER_THREAD);
  return NULL;
}

/* Record in a child with the given extra environment; returns the raw trace's path. */
static const char *record(const char *name, const char *fault) {
  const char *dir = hq_test_tmpdir();
  static char raw[4200];
  char db[4096];
  pid_t pid;
  int status;
  snprintf(db, sizeof db, "%s/%s", dir, name);
  snprintf(raw, sizeof raw, "%s.raw", db);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    char why[256];
    pthread_t th[THREADS];
    setenv("HEAPQL_OUTPUT", db, 1);
    setenv("HEAPQL_DEFER_IMPORT", "1", 1);
    setenv("HEAPQL_BUFFER_KB", "64", 1);
    if (fault) setenv("HEAPQL_FAULT", fault, 1);
    hq__fault_reset();
    if (hq__recorder_start(0, why, sizeof why) != 0) {
      fprintf(stderr, "start: %s\n", why);
      _exit(99);
    }
    burst(THREADS, 1000);
    for (int t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    hq__finish(7);
    _exit(0);
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  return raw;
}

static sqlite3 *import(const char *raw, const char *name, int expect_rc) {
  const char *db = hq_test_join(hq_test_tmpdir(), name);
  hq_import_opts_t o = {.symbolize = 1};
  char err[512];
  int rc = hq_import(raw, db, &o, NULL, err, sizeof err);
  if (rc != expect_rc) fail_msg("import: %s (%s)", hq_strerror(rc), err);
  return hq_test_sqlite_open(db);
}

static void test_recorder_round_trip(void **state) {
  sqlite3 *s;
  int64_t per = PER_THREAD, main_n = 1000;
  /* i % 3 == 0 stays live: ceil(n / 3) */
  int64_t live = THREADS * ((per + 2) / 3) + (main_n + 2) / 3;
  (void)state;
  s = import(record("rt.db", NULL), "rt_out.db", HQ_OK);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations"), THREADS * per + main_n);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE t_free IS NULL"), live);
  assert_int_equal(hq_test_q_int(s, "SELECT sum(size) FROM allocations WHERE tid = "
                                    "(SELECT min(tid) FROM threads)"),
                   /* the main thread: sizes (i % 100) + 1 for i < 1000 */ 10 * 5050);
  assert_int_equal(hq_test_q_int(s, "SELECT count(DISTINCT tid) FROM allocations"), THREADS + 1);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'complete'"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'exit_status'"), 7);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'dropped_events'"), 0);
  /* every allocation's stack is the real one: burst() called hq__record_alloc */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations a WHERE NOT EXISTS "
                                    "(SELECT 1 FROM stack_frames f WHERE f.stack_id = a.stack_id "
                                    "AND f.function = 'burst' AND f.position = 0)"), 0);
  assert_int_equal(hq_test_q_int(s, "SELECT count(DISTINCT stack_id) FROM allocations WHERE "
                                    "stack_id IN (SELECT stack_id FROM stack_frames WHERE "
                                    "function = 'worker')"), 1);
  sqlite3_close(s);
}

/* The trace's third write fails with ENOSPC: recording stops, the program is not told, and the
 * database says what happened. */
static void test_recorder_write_failure_stops_recording(void **state) {
  sqlite3 *s;
  (void)state;
  s = import(record("full.db", "trace_write=3"), "full_out.db", HQ_OK);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'complete'"), 0);
  assert_non_null(strstr(hq_test_q_text(s, "SELECT value FROM meta WHERE key = 'incomplete_reason'"),
                         "No space left on device"));
  assert_true(hq_test_q_int(s, "SELECT count(*) FROM allocations") < THREADS * PER_THREAD);
  sqlite3_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_recorder_round_trip),
    cmocka_unit_test(test_recorder_write_failure_stops_recording),
  };
  return cmocka_run_group_tests_name("recorder", tests, NULL, NULL);
}
