/*
 * hq_record.c: what one intercepted call costs.  A clock read, one unwind into a fixed array,
 * the stack interned through this thread's cache of hashes already sent, and one fixed-size
 * record appended to this thread's ring.  No lock, no malloc, no stdio, no symbol lookup.
 */
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "hq_guard.h"
#include "preload_int.h"

__thread int hq__guard __attribute__((tls_model("initial-exec")));
__thread hq_ring_t *hq__tls_ring __attribute__((tls_model("initial-exec")));
static __thread int tls_exit_round __attribute__((tls_model("initial-exec")));

static pthread_key_t exit_key;
static int exit_key_ok;


static void record_thread_exit(void);

static void on_thread_exit(void *arg) {
  /* Stay registered through the other keys' destructors (they may still free), then retire.
   * ThreadSanitizer's runtime tears the thread down in the last round: retire before it. */
  if (++tls_exit_round < PTHREAD_DESTRUCTOR_ITERATIONS - (HQ_TSAN ? 2 : 0)) {
    pthread_setspecific(exit_key, arg);
    return;
  }
  record_thread_exit();
}

void hq__record_init_thread_key(void);
void hq__record_init_thread_key(void) {
  exit_key_ok = pthread_key_create(&exit_key, on_thread_exit) == 0;
}

void hq__record_after_fork_child(void);
void hq__record_after_fork_child(void) {
  /* Only the forking thread survives; hq__ring_after_fork_child gave its ring a new slot. */
  if (hq__tls_ring) hq__tls_ring->tid = (uint32_t)syscall(SYS_gettid);
  hq__py_after_fork_child();
}

hq_cold static hq_ring_t *thread_ring(void) {
  hq_ring_t *r;
  hq_rec_time_t start;
  r = hq__ring_acquire((uint32_t)syscall(SYS_gettid));
  if (!r) {
    atomic_fetch_add_explicit(&hq__dropped, 1, memory_order_relaxed);
    return NULL;
  }
  hq__tls_ring = r;
  if (exit_key_ok) pthread_setspecific(exit_key, r);
  hq__trace_thread_init();
  memset(&start, 0, sizeof start);
  start.hdr.type = HQ_REC_THREAD_START;
  start.hdr.len = sizeof start;
  start.t = hq__now();
  hq__ring_push(r, &start, sizeof start);
  return r;
}

static inline hq_ring_t *my_ring(void) {
  hq_ring_t *r = hq__tls_ring;
  return hq_likely(r != NULL) ? r : thread_ring();
}

/* Capture the stack from `from` (the return address into the caller of the hq__record_* entry
 * point) outwards; send its frames once per thread; return its hash. */
static uint64_t intern_stack(hq_ring_t *r, const void *from) {
  struct {
    hq_rec_stack_t rec;
    uint64_t ips[HQ_MAX_DEPTH_LIMIT];
  } s;
  uint32_t gen = atomic_load_explicit(&hq__modmap_gen, memory_order_acquire);
  int depth = hq__trace_capture(s.ips, (int)hq__opts.depth, from);
  uint64_t h;
  uint64_t *slot;
  if (hq_unlikely(atomic_load_explicit(&hq__py_on, memory_order_acquire)))
    depth = hq__py_merge(r, s.ips, depth, (int)hq__opts.depth);
  if (depth <= 0) return 0;
  h = hq__trace_hash(s.ips, depth, gen);
  slot = &r->stack_cache[h & (HQ_STACK_CACHE - 1)];
  if (hq_likely(*slot == h)) return h;
  s.rec.hdr.type = HQ_REC_STACK;
  s.rec.hdr.kind = 0;
  s.rec.hdr.len = (uint32_t)(sizeof s.rec + (size_t)depth * 8);
  s.rec.hash = h;
  s.rec.gen = gen;
  s.rec.depth = (uint32_t)depth;
  if (hq__ring_push(r, &s, s.rec.hdr.len) == 0) *slot = h;
  return h;
}

/* Append a record its entry point filled (header included) to this thread's ring, with the
 * stack from `from` in *stack_field (unless NULL) and the time in *t_field (unless NULL). */
static inline void emit(hq_rec_hdr_t *rec, uint64_t *stack_field, uint64_t *t_field,
                        const void *from) {
  hq_ring_t *r;
  hq_guard_enter();
  r = my_ring();
  if (hq_likely(r != NULL)) {
    if (stack_field) *stack_field = intern_stack(r, from);
    if (t_field) *t_field = hq__now();
    hq__ring_push(r, rec, rec->len);
  }
  hq_guard_leave();
}

#define U64(p) ((uint64_t)(uintptr_t)(p))

void hq__record_alloc(int kind, const void *p, size_t size, size_t aux) {
  hq_rec_alloc_t rec = {.hdr = {HQ_REC_ALLOC, (uint16_t)kind, sizeof rec}, .ptr = U64(p),
                        .size = size, .aux = aux};
  emit(&rec.hdr, &rec.stack, &rec.t, __builtin_return_address(0));
}

void hq__record_free(int free_kind, const void *p) {
  /* Most runs record no free stacks: the record then ends before its stack field. */
  int with_stack = hq_unlikely(hq__opts.free_stacks);
  hq_rec_free_t rec = {.hdr = {HQ_REC_FREE, (uint16_t)free_kind,
                               with_stack ? sizeof rec : offsetof(hq_rec_free_t, stack)},
                       .ptr = U64(p)};
  emit(&rec.hdr, with_stack ? &rec.stack : NULL, &rec.t, __builtin_return_address(0));
}

void hq__record_realloc(int kind, const void *old_p, const void *p, size_t size, uint64_t t_old) {
  hq_rec_realloc_t rec = {.hdr = {HQ_REC_REALLOC, (uint16_t)kind, sizeof rec}, .t_old = t_old,
                          .old_ptr = U64(old_p), .ptr = U64(p), .size = size};
  emit(&rec.hdr, &rec.stack, &rec.t, __builtin_return_address(0));
}

void hq__record_munmap(const void *p, size_t len) {
  hq_rec_munmap_t rec = {.hdr = {HQ_REC_MUNMAP, HQ_FREE_MUNMAP, sizeof rec}, .ptr = U64(p), .len = len};
  emit(&rec.hdr, NULL, &rec.t, NULL);
}

void hq__record_cuda_call(hq_rec_cuda_call_t *rec) {
  rec->hdr.type = HQ_REC_CUDA_CALL;
  rec->hdr.len = sizeof *rec;
  emit(&rec->hdr, &rec->stack, NULL, __builtin_return_address(0)); /* the hook set t */
}

/* Records that carry a name: the record, then up to 127 bytes of it, zero-padded to 8. */
#define NAMED(type_t) struct { type_t rec; char name[128]; }
static uint32_t set_name(char *dst, const char *name) {
  size_t n = name ? strnlen(name, 127) : 0;
  if (n) memcpy(dst, name, n);
  return (uint32_t)n;
}

void hq__record_region(int type, const char *name) {
  hq__record_range(type, 0, 0, 0, name);
}

void hq__record_range(int type, int domain, uint32_t category, uint64_t id, const char *name) {
  if (type == HQ_REC_RANGE_START || type == HQ_REC_RANGE_END) {
    NAMED(hq_rec_range_t) s;
    memset(&s, 0, sizeof s);
    s.rec.name_len = type == HQ_REC_RANGE_START ? set_name(s.name, name) : 0;
    s.rec.hdr.type = (uint16_t)type;
    s.rec.hdr.kind = (uint16_t)domain;
    s.rec.hdr.len = (uint32_t)HQ_REC_ALIGN(sizeof s.rec + s.rec.name_len);
    s.rec.id = id;
    s.rec.category = category;
    emit(&s.rec.hdr, NULL, &s.rec.t, NULL);
  } else {
    NAMED(hq_rec_region_t) s;
    memset(&s, 0, sizeof s);
    s.rec.name_len = type == HQ_REC_REGION_BEGIN ? set_name(s.name, name) : 0;
    s.rec.hdr.type = (uint16_t)type;
    s.rec.hdr.kind = (uint16_t)domain;
    s.rec.hdr.len = (uint32_t)HQ_REC_ALIGN(sizeof s.rec + s.rec.name_len);
    s.rec.category = category;
    emit(&s.rec.hdr, NULL, &s.rec.t, NULL);
  }
}

void hq__record_pool_sample(int source, uint64_t pool, int32_t device, uint64_t reserved,
                            uint64_t used) {
  hq_rec_pool_sample_t rec = {.hdr = {HQ_REC_POOL_SAMPLE, (uint16_t)source, sizeof rec}, .pool = pool,
                              .reserved = reserved, .used = used, .device = device};
  emit(&rec.hdr, NULL, &rec.t, NULL);
}

void hq__record_pool_reset(uint64_t pool) {
  hq_rec_pool_reset_t rec = {.hdr = {HQ_REC_POOL_RESET, 0, sizeof rec}, .pool = pool};
  emit(&rec.hdr, NULL, &rec.t, NULL);
}

void hq__record_counter(const char *name, double value) {
  NAMED(hq_rec_counter_t) s;
  memset(&s, 0, sizeof s);
  s.rec.name_len = set_name(s.name, name);
  s.rec.hdr.type = HQ_REC_COUNTER;
  s.rec.hdr.len = (uint32_t)HQ_REC_ALIGN(sizeof s.rec + s.rec.name_len);
  s.rec.value = value;
  emit(&s.rec.hdr, NULL, &s.rec.t, NULL);
}

static void record_thread_exit(void) {
  hq_ring_t *r = hq__tls_ring;
  hq_guard_enter();
  if (r) {
    hq_rec_thread_name_t tn;
    hq_rec_time_t end;
    memset(&tn, 0, sizeof tn);
    tn.hdr.type = HQ_REC_THREAD_NAME;
    tn.hdr.len = sizeof tn;
    tn.tid = r->tid;
    prctl(PR_GET_NAME, tn.name, 0, 0, 0);
    tn.name[15] = '\0';
    hq__ring_push(r, &tn, sizeof tn);
    memset(&end, 0, sizeof end);
    end.hdr.type = HQ_REC_THREAD_END;
    end.hdr.len = sizeof end;
    end.t = hq__now();
    hq__ring_push(r, &end, sizeof end);
    /* The ring stays this thread's until it is gone: glibc frees a little after this. */
    hq__ring_retire(r);
    hq__py_thread_exit();
  }
  hq_guard_leave();
}
