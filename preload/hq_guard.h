/*
 * hq_guard.h: the per-thread reentrancy guard.
 *
 * While a thread's guard is set, the interposers forward to the real functions and record
 * nothing: the recorder's own allocations (libunwind's caches, SQLite at exit, dlsym) and
 * allocations made by the real operator new or by a signal handler interrupting a record are
 * never recorded.  Initial-exec TLS: reading it never calls __tls_get_addr, which may allocate.
 */
#ifndef HQ_GUARD_H
#define HQ_GUARD_H

#include "preload_int.h"

extern __thread int hq__guard __attribute__((tls_model("initial-exec")));

/* Recording begins in the program's first intercepted call (hq_init.c): 1 when it is on. */
int hq__start_on_first_call(void);

/* 1 when this call should be recorded: recording is on and we are not inside the recorder. */
static inline int hq_tracking(void) {
  if (hq_likely(atomic_load_explicit(&hq__state.enabled, memory_order_relaxed)))
    return hq_likely(!hq__guard);
  return hq_unlikely(!hq__state.start_tried) && hq__start_on_first_call();
}

static inline void hq_guard_enter(void) { hq__guard++; }
static inline void hq_guard_leave(void) { hq__guard--; }

#endif /* HQ_GUARD_H */
