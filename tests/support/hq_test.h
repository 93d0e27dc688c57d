/*
 * hq_test.h: helpers for heapql's cmocka tests.
 *
 * Tests run from the repository root; HEAPQL_TEST_BUILD names the build directory (default
 * "build").  Victims run as child processes, preloaded only when asked; the test binary itself
 * is never preloaded.
 */
#ifndef HQ_TEST_H
#define HQ_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>

/* Path of a build artefact: hq_test_build_path("lib/libheapql_preload.so") -> build/lib/... .
 * Returns a static buffer (one of 8 rotating). */
const char *hq_test_build_path(const char *rel);

/* A fresh temporary directory for this test (mkdtemp under $TMPDIR or /tmp); static buffer. */
const char *hq_test_tmpdir(void);

/* Join dir and name into a static rotating buffer. */
const char *hq_test_join(const char *dir, const char *name);

typedef struct hq_test_proc_s {
  int exit_status;       /* exit code, or -1 if killed by a signal */
  int term_signal;       /* signal that ended it, or 0 */
  char *out;             /* captured stdout (malloc'd, NUL-terminated) */
  size_t out_len;
  char *err;             /* captured stderr */
  size_t err_len;
} hq_test_proc_t;

/*
 * Run argv (argv[0] a path) with extra environment entries env ("K=V", NULL-terminated, may be
 * NULL) added to the current environment, in working directory cwd (NULL = current), stdin from
 * /dev/null, stdout and stderr captured; kills it after timeout_s.  Returns 0 or -1 (spawn
 * failure).  Free with hq_test_proc_free().
 */
int  hq_test_run(char *const argv[], char *const env[], const char *cwd, int timeout_s,
                 hq_test_proc_t *out);
void hq_test_proc_free(hq_test_proc_t *p);

/*
 * Run argv (argv[0] a path) preloaded with build/lib/libheapql_preload.so writing to db
 * (HEAPQL_OUTPUT), or not preloaded when db is NULL; extra: more "K=V" entries (NULL-ended, may
 * be NULL).  Fails the test if it cannot be started.
 */
void hq_test_run_preloaded(char *const argv[], const char *db, const char *const *extra,
                           int timeout_s, hq_test_proc_t *out);

/* `heapql run -q --force -o DB -- CMD...` (cmd NULL-ended, at most 24 words) with the build's
 * heapql, given up after 120 s; *out gets how it ended (free with hq_test_proc_free).  Fails
 * the test if it cannot be started. */
void hq_test_heapql_record(const char *db, char *const cmd[], hq_test_proc_t *out);

/* Open a SQLite file read-only, failing the test if it cannot. */
sqlite3 *hq_test_sqlite_open(const char *path);
/* One integer from a query that must return exactly one row; fails the test otherwise.
 * printf-style formatting of the SQL. */
int64_t hq_test_q_int(sqlite3 *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One text value (static rotating buffer; "" for NULL). */
const char *hq_test_q_text(sqlite3 *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Read a whole file (malloc'd, NUL-terminated); NULL if unreadable. */
char *hq_test_read_file(const char *path, size_t *out_len);
/* 1 if the file exists. */
int hq_test_exists(const char *path);
/* The number of entries in directory dir (. and .. not counted); -1 if unreadable. */
int hq_test_count_files(const char *dir);
/* Full path of a program on PATH, or NULL (static buffer). */
const char *hq_test_which(const char *prog);
/* Under CI=true a missing test dependency fails; elsewhere it skips with a message. */
#define HQ_TEST_REQUIRE(cond, what)                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      const char *ci_ = getenv("CI");                                            \
      if (ci_ && !strcmp(ci_, "true")) fail_msg("missing test dependency: %s", what); \
      print_message("skipped: missing %s\n", what);                              \
      skip();                                                                    \
    }                                                                            \
  } while (0)

#endif /* HQ_TEST_H */
