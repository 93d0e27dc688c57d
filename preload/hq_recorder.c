/*
 * hq_recorder.c: the recorder's life: start, fork, finish (preload/hq_recorder.h).
 *
 * Start: resolve the real functions, read HEAPQL_*, open the raw trace, write the module map,
 * start the writer, then switch recording on.  Finish: drain every ring, write END and, unless
 * `heapql run` imports it, turn the trace into the database in-process and remove the trace.
 * fork: the child records into its own database (HEAPQL_FOLLOW_FORK=0 turns it off).  The
 * preload's constructor (hq_init.c) and a test (tests/unit/test_recorder.c) drive it the same
 * way.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "heapql/analyzer.h"
#include "heapql/internal/fault.h"
#include "hq_guard.h"
#include "hq_recorder.h"
#include "preload_int.h"

hq_state_t hq__state = {.exit_status = -1};

void hq__say(const char *what, const char *detail) {
  char line[512];
  int n = snprintf(line, sizeof line, "heapql: %s%s%s\n", what, detail && *detail ? ": " : "",
                   detail ? detail : "");
  if (n > 0) {
    ssize_t w = write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    (void)w;
  }
}

void hq__record_init_thread_key(void);
void hq__record_after_fork_child(void);

/* ---- fork ---- */

static int fork_was_enabled;

static void fork_prepare(void) {
  hq__guard++;
  fork_was_enabled = atomic_load(&hq__state.enabled);
  if (hq__state.initialized) hq__writer_lock();
}

static void fork_parent(void) {
  if (hq__state.initialized) hq__writer_unlock();
  hq__guard--;
}

static void fork_child(void) {
  char why[256];
  if (!hq__state.initialized) {
    hq__guard--;
    return;
  }
  hq__writer_after_fork_child();
  hq__rings_forget();
  atomic_store(&hq__state.enabled, 0);
  if (!hq__opts.follow_fork || !fork_was_enabled) {
    hq__ring_after_fork_child(hq__tls_ring, 0);
    atomic_store(&hq__state.finished, 1);
    hq__guard--;
    return;
  }
  /* Named while hq__state.pid is still the parent's: a child gets "<stem>.<pid>.db". */
  hq__env_output_for(getpid(), hq__opts.output, sizeof hq__opts.output);
  hq__state.pid = getpid();
  hq__clock_start();
  hq__state.exit_status = -1;
  hq__state.degraded_reason[0] = '\0';
  atomic_store(&hq__dropped, 0);
  snprintf(hq__opts.raw, sizeof hq__opts.raw, "%s%s", hq__opts.output, HQ_RAW_SUFFIX);
  if (hq__writer_open(why, sizeof why) != 0) {
    hq__say("fork child runs untraced", why);
    hq__ring_after_fork_child(hq__tls_ring, 0);
    atomic_store(&hq__state.finished, 1);
    hq__guard--;
    return;
  }
  hq__rings_open();
  hq__ring_after_fork_child(hq__tls_ring, 1);
  hq__modmap_rewrite();
  hq__record_after_fork_child();
  if (hq__writer_start() != 0) {
    hq__say("fork child runs untraced", "cannot start the writer thread");
    unlink(hq__opts.raw);
    hq__rings_remove();
    atomic_store(&hq__state.finished, 1);
    hq__guard--;
    return;
  }
  atomic_store(&hq__state.enabled, 1);
  hq__guard--;
}

/* ---- start ---- */

int hq__recorder_begin(int preloaded, char *why, size_t cap) {
  uintptr_t lo = 0, hi = 0;
  int rc = -1;
  hq__guard++;
  hq__real_resolve();
  hq__state.pid = getpid();
  if (hq__env_load(why, cap) != 0) goto out;
  hq__fault_enabled(); /* HEAPQL_FAULT is read now: the variable is about to go */
  hq__env_clean();
  hq__clock_start();
  if (preloaded) hq__modmap_self(&lo, &hi);
  hq__state.self_lo = lo;
  hq__state.self_hi = hi;
  hq__trace_init(lo, hi);
  if (hq__writer_open(why, cap) != 0) goto out;
  hq__rings_open();
  hq__state.initialized = 1;
  hq__modmap_refresh();
  hq__record_init_thread_key();
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  /* Recording starts now; until the writer thread runs, a full ring drains itself. */
  atomic_store(&hq__state.enabled, 1);
  rc = 0;
out:
  hq__guard--;
  return rc;
}

int hq__recorder_start_writer(char *why, size_t cap) {
  int rc = 0;
  hq__guard++;
  if (hq__writer_start() != 0) {
    snprintf(why, cap, "cannot start the writer thread");
    atomic_store(&hq__state.enabled, 0);
    hq__state.initialized = 0;
    unlink(hq__opts.raw);
    hq__rings_remove();
    rc = -1;
  } else {
    hq__py_detect(); /* every library the program was linked with is loaded by now */
  }
  hq__guard--;
  return rc;
}

int hq__recorder_start(int preloaded, char *why, size_t cap) {
  if (hq__recorder_begin(preloaded, why, cap) != 0) return -1;
  return hq__recorder_start_writer(why, cap);
}

/* ---- end ---- */


/* The in-process import, with SIGXFSZ held back: past RLIMIT_FSIZE its writes fail with EFBIG
 * (one line at exit) instead of ending the program, whose exit status is not heapql's to set. */
static int import_quietly(const hq_import_opts_t *opts, char *err, size_t cap) {
  sigset_t xfsz, old;
  struct timespec now = {0, 0};
  int rc, blocked;
  sigemptyset(&xfsz);
  sigaddset(&xfsz, SIGXFSZ);
  blocked = pthread_sigmask(SIG_BLOCK, &xfsz, &old) == 0;
  rc = hq_import(hq__opts.raw, hq__opts.output, opts, NULL, err, cap);
  while (sigtimedwait(&xfsz, NULL, &now) == SIGXFSZ) {
  }
  if (blocked) pthread_sigmask(SIG_SETMASK, &old, NULL);
  return rc;
}


void hq__finish(int exit_status) {
  char err[512];
  hq_import_opts_t opts;
  int rc;
  /* A vfork child shares our memory: it must not touch the parent's recorder. */
  if (!hq__state.initialized || getpid() != hq__state.pid) return;
  if (atomic_exchange(&hq__state.finished, 1)) return;
  hq__guard++; /* for good: nothing after this is the program's to record */
  atomic_store(&hq__state.enabled, 0);
  hq__modmap_refresh(); /* libraries loaded since the writer last looked */
  hq__writer_end(exit_status);
  hq__rings_remove(); /* the trace holds everything now */
  hq__writer_wake();
  if (hq__state.degraded_reason[0]) hq__say("recording stopped", hq__state.degraded_reason);
  if (hq__opts.defer_import) return;
  memset(&opts, 0, sizeof opts);
  opts.force = 1; /* our own output: existence was checked at start */
  err[0] = '\0';
  rc = import_quietly(&opts, err, sizeof err);
  if (rc == HQ_OK) {
    unlink(hq__opts.raw);
  } else {
    char line[2048];
    snprintf(line, sizeof line, "%s (the raw trace %s is kept: run 'heapql import' on it)",
             err[0] ? err : hq_strerror(rc), hq__opts.raw);
    hq__say("cannot write the database", line);
  }
}

/* The process replaces itself: its recording ends here. */
void hq__finish_exec(void) {
  if (!hq__state.initialized || getpid() != hq__state.pid ||
      atomic_load(&hq__state.finished))
    return;
  hq__guard++;
  hq__writer_note("the process replaced itself with exec");
  hq__guard--;
  hq__finish(-1);
}

