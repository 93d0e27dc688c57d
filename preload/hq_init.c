/*
 * hq_init.c: start, fork and end of a recorded process, and the annotation table.
 *
 * Start (constructor): resolve the real functions, read HEAPQL_*, open the raw trace, write the
 * module map, start the writer, then switch recording on.  Any problem: one stderr line and the
 * program runs on untraced.  End: on_exit() learns the exit status, the destructor (or _exit)
 * drains every ring, writes END and, unless `heapql run` imports it, turns the trace into the
 * database in-process and removes the trace.  fork: the child records into its own database
 * (HEAPQL_FOLLOW_FORK=0 turns it off).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "heapql/analyzer.h"
#include "heapql/annotate.h"
#include "hq_guard.h"
#include "preload_int.h"

hq_state_t hq__state = {.exit_status = -1};

void hq__record_init_thread_key(void);
void hq__record_after_fork_child(void);

static void say(const char *what, const char *detail) {
  char line[512];
  int n = snprintf(line, sizeof line, "heapql: %s%s%s\n", what, detail && *detail ? ": " : "",
                   detail ? detail : "");
  if (n > 0) {
    ssize_t w = write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    (void)w;
  }
}

static int on_exit_registered;

/* Registered before __libc_start_main registers the loader's destructor pass, so it runs after
 * every library's destructors: frees made there are still recorded. */
static void on_exit_status(int status, void *arg) {
  (void)arg;
  if (getpid() != hq__state.pid) return;
  hq__state.exit_status = status;
  hq__finish(status);
}

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
  hq__ring_reset_all_after_fork(hq__tls_ring);
  atomic_store(&hq__state.enabled, 0);
  if (!hq__opts.follow_fork || !fork_was_enabled) {
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
    say("fork child runs untraced", why);
    atomic_store(&hq__state.finished, 1);
    hq__guard--;
    return;
  }
  hq__modmap_rewrite();
  hq__record_after_fork_child();
  if (hq__writer_start() != 0) {
    say("fork child runs untraced", "cannot start the writer thread");
    unlink(hq__opts.raw);
    atomic_store(&hq__state.finished, 1);
    hq__guard--;
    return;
  }
  atomic_store(&hq__state.enabled, 1);
  hq__guard--;
}

/* ---- start ---- */

__attribute__((constructor(101))) static void hq_init(void) {
  char why[512];
  uintptr_t lo = 0, hi = 0;
  hq__guard++;
  hq__real_resolve();
  hq__state.pid = getpid();
  if (hq__env_load(why, sizeof why) != 0) {
    say(why, "running untraced");
    goto out;
  }
  if (hq__opts.follow_exec)
    hq__env_children_output();
  else
    hq__env_strip_preload();
  hq__clock_start();
  hq__modmap_self(&lo, &hi);
  hq__trace_init(lo, hi);
  if (hq__writer_open(why, sizeof why) != 0) {
    say(why, "running untraced");
    goto out;
  }
  hq__state.initialized = 1;
  hq__modmap_refresh();
  hq__record_init_thread_key();
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  on_exit_registered = on_exit(on_exit_status, NULL) == 0;
  if (hq__writer_start() != 0) {
    say("cannot start the writer thread", "running untraced");
    hq__state.initialized = 0;
    unlink(hq__opts.raw);
    goto out;
  }
  atomic_store(&hq__state.enabled, 1);
out:
  hq__guard--;
}

/* ---- end ---- */

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
  hq__writer_wake();
  if (hq__state.degraded_reason[0]) say("recording stopped", hq__state.degraded_reason);
  if (hq__opts.defer_import) return;
  memset(&opts, 0, sizeof opts);
  opts.force = 1; /* our own output: existence was checked at start */
  err[0] = '\0';
  rc = hq_import(hq__opts.raw, hq__opts.output, &opts, NULL, err, sizeof err);
  if (rc == HQ_OK) {
    unlink(hq__opts.raw);
  } else {
    char line[2048];
    snprintf(line, sizeof line, "%s (the raw trace %s is kept: run 'heapql import' on it)",
             err[0] ? err : hq_strerror(rc), hq__opts.raw);
    say("cannot write the database", line);
  }
}

/* Only when on_exit could not be registered (or the library is unloaded some other way). */
void hq__finish_exec(void) {
  if (!hq__state.initialized || getpid() != hq__state.pid ||
      atomic_load(&hq__state.finished))
    return;
  hq__guard++;
  hq__writer_note("the process replaced itself with exec");
  hq__guard--;
  hq__finish(-1);
}

__attribute__((destructor(101))) static void hq_fini(void) {
  if (!on_exit_registered) hq__finish(hq__state.exit_status);
}

/* ---- annotations (include/heapql/annotate.h) ---- */

static void ann_region_begin(const char *name) {
  if (hq_tracking()) hq__record_region(HQ_REC_REGION_BEGIN, name);
}
static void ann_region_end(void) {
  if (hq_tracking()) hq__record_region(HQ_REC_REGION_END, NULL);
}
static void ann_counter(const char *name, double value) {
  if (hq_tracking()) hq__record_counter(name, value);
}
static void ann_pool_alloc(const void *p, size_t size, uint64_t pool) {
  if (hq_tracking() && p) hq__record_alloc(HQ_KIND_POOL, p, size, pool);
}
static void ann_pool_free(const void *p, uint64_t pool) {
  (void)pool;
  if (hq_tracking() && p) hq__record_free(HQ_FREE_POOL, p);
}

static const hq_annotate_api_t annotate_api = {
  1, sizeof(hq_annotate_api_t), ann_region_begin, ann_region_end, ann_counter, ann_pool_alloc,
  ann_pool_free,
};

hq_export const hq_annotate_api_t *heapql_annotate_v1(void) {
  return hq__state.initialized ? &annotate_api : NULL;
}
