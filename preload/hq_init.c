/*
 * hq_init.c: what makes the recorder a preload: the constructor that starts it, the exit hooks
 * that finish it, and the annotation table the kernels find with dlsym.  The recorder itself is
 * hq_recorder.c.  Any problem at start: one stderr line and the program runs on untraced.
 */
#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heapql/annotate.h"
#include "hq_guard.h"
#include "hq_recorder.h"
#include "preload_int.h"

static int on_exit_registered;

void hq__exit_finish(int status) {
  /* Everything below this frame is heapql's: the exiting thread's stack is scanned from here up. */
  uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
  if (hq__opts.leak_check && hq__state.initialized && getpid() == hq__state.pid &&
      atomic_load(&hq__state.enabled) && !atomic_load(&hq__state.finished)) {
    uint32_t writer_tid;
    uintptr_t writer_stack;
    hq__writer_thread(&writer_tid, &writer_stack);
    hq__guard++;
    hq__record_embedded_suppressions();
    hq__leak_check(sp, hq__state.self_lo, hq__state.self_hi, writer_tid, writer_stack);
    hq__guard--;
  }
  hq__finish(status);
}

/* Registered before __libc_start_main registers the loader's destructor pass, so it runs after
 * every library's destructors: frees made there are still recorded, and the leak check sees the
 * heap the way memcheck does at exit. */
static void on_exit_status(int status, void *arg) {
  (void)arg;
  if (getpid() != hq__state.pid) return;
  hq__state.exit_status = status;
  hq__exit_finish(status);
}

/* 1: recording has begun (in the first intercepted call or the constructor); 2: it will not. */
static _Atomic int start_state;

/* Begin recording, once: in whichever comes first, the program's first intercepted call (a
 * library's constructor that allocates before ours runs) or our constructor. */
static int begin_once(void) {
  char why[512];
  int expected = 0;
  if (!atomic_compare_exchange_strong(&start_state, &expected, 1)) return expected == 1;
  hq__state.start_tried = 1;
  if (hq__recorder_begin(1, why, sizeof why) != 0) {
    atomic_store(&start_state, 2);
    hq__say(why, "running untraced");
    return 0;
  }
  return 1;
}

int hq__start_on_first_call(void) {
  /* Not while resolving the real functions (dlsym allocates), nor inside the recorder. */
  if (hq__guard || !hq__real_ready() || hq__state.start_tried) return 0;
  return begin_once() && atomic_load_explicit(&hq__state.enabled, memory_order_relaxed);
}

/* Preloaded (our library comes before libc in the program's search order, so its malloc is the
 * program's), or opened by a program as its NVTX tool because it inherited
 * NVTX_INJECTION64_PATH from a recorded parent (heapql run sets it; LD_PRELOAD and HEAPQL_* are
 * not passed on), after libc: then the library cannot record, and stays dormant: it writes
 * nothing and tells NVTX it is not there.  (dlsym(RTLD_DEFAULT, "malloc") cannot tell: in an
 * executable that takes malloc's address, it names the executable's PLT entry.) */
typedef struct {
  uintptr_t self, libc_fn;
  int index, self_at, libc_at;
} order_t;

static int visit_order(struct dl_phdr_info *info, size_t size, void *arg) {
  order_t *o = arg;
  (void)size;
  o->index++;
  if (info->dlpi_addr == o->self && !o->self_at) o->self_at = o->index;
  for (int i = 0; i < info->dlpi_phnum && !o->libc_at; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && o->libc_fn >= lo && o->libc_fn < lo + ph->p_memsz)
      o->libc_at = o->index;
  }
  return 0;
}

static int preloaded(void) {
  order_t o;
  uintptr_t hi = 0;
  memset(&o, 0, sizeof o);
  hq__modmap_self(&o.self, &hi);
  o.libc_fn = (uintptr_t)hq__real.malloc;
  if (!o.self || !o.libc_fn) return 1; /* cannot tell: behave as before */
  dl_iterate_phdr(visit_order, &o);
  return !o.self_at || !o.libc_at || o.self_at < o.libc_at;
}

__attribute__((constructor(101))) static void hq_init(void) {
  char why[512];
  int expected = 0;
  hq__real_resolve();
  if (!preloaded() && atomic_compare_exchange_strong(&start_state, &expected, 2)) {
    hq__state.start_tried = 1;
    return;
  }
  if (!begin_once()) return;
  if (hq__recorder_start_writer(why, sizeof why) != 0) {
    hq__say(why, "running untraced");
    return;
  }
  hq__guard++; /* on_exit may allocate: that is the recorder's, not the program's */
  on_exit_registered = on_exit(on_exit_status, NULL) == 0;
  hq__guard--;
  hq__signals_start();
}

__attribute__((destructor(101))) static void hq_fini(void) {
  if (!on_exit_registered) hq__exit_finish(hq__state.exit_status);
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
