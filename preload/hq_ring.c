/*
 * hq_ring.c: per-thread event buffers.
 *
 * Each thread appends records to its own single-producer/single-consumer byte ring; the writer
 * thread drains every ring into the raw trace.  No lock is shared in the common case: the
 * producer only touches its own head and a cached copy of the tail.  When a ring is full the
 * producer drains it itself under the writer's file lock (the one place a thread may wait).
 * Rings come from mmap, never malloc; a ring whose thread exited is drained, then reused by the
 * next new thread, so the recorder's memory stays bounded by the peak number of live threads.
 */
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload_int.h"

static _Atomic(hq_ring_t *) ring_list;
static _Atomic uint64_t ring_bytes;

static void *sys_map(size_t bytes) {
  /* The raw syscall: our own mmap hook must not see the recorder's memory. */
  long p = syscall(SYS_mmap, NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
  if (p < 0 && p > -4096) return NULL;
  return (void *)p;
}

hq_ring_t *hq__ring_list(void) {
  return atomic_load_explicit(&ring_list, memory_order_acquire);
}

uint64_t hq__ring_bytes(void) {
  return atomic_load_explicit(&ring_bytes, memory_order_relaxed);
}

static void ring_reset(hq_ring_t *r, uint32_t tid) {
  atomic_store_explicit(&r->head, 0, memory_order_relaxed);
  atomic_store_explicit(&r->tail, 0, memory_order_relaxed);
  r->tail_cache = 0;
  r->tid = tid;
  r->alloc_events = 0;
  memset(r->stack_cache, 0, sizeof r->stack_cache);
}

hq_ring_t *hq__ring_acquire(uint32_t tid) {
  hq_ring_t *r, *head;
  uint64_t cap = (uint64_t)hq__opts.ring_kb * 1024;
  size_t bytes;

  /* Reuse a ring whose thread has gone and whose contents the writer has drained. */
  for (r = hq__ring_list(); r; r = r->next) {
    int expected = HQ_RING_FREE;
    if (r->cap == cap &&
        atomic_compare_exchange_strong(&r->state, &expected, HQ_RING_ACTIVE)) {
      ring_reset(r, tid);
      return r;
    }
  }
  bytes = sizeof(hq_ring_t) + cap;
  r = sys_map(bytes);
  if (!r) return NULL;
  r->cap = cap;
  r->mask = cap - 1;
  r->map_bytes = bytes;
  ring_reset(r, tid);
  atomic_store_explicit(&r->state, HQ_RING_ACTIVE, memory_order_relaxed);
  atomic_fetch_add_explicit(&ring_bytes, bytes, memory_order_relaxed);
  head = atomic_load_explicit(&ring_list, memory_order_relaxed);
  do {
    r->next = head;
  } while (!atomic_compare_exchange_weak_explicit(&ring_list, &head, r, memory_order_release,
                                                  memory_order_relaxed));
  return r;
}

void hq__ring_retire(hq_ring_t *r) {
  atomic_store_explicit(&r->state, HQ_RING_EXITING, memory_order_release);
}

/* The ring is full: drain it now, on this thread, under the writer's lock. */
hq_cold static int ring_make_room(hq_ring_t *r, uint64_t head, uint32_t len) {
  for (int tries = 0; tries < 3; tries++) {
    if (!atomic_load_explicit(&hq__state.enabled, memory_order_relaxed)) return -1;
    hq__writer_drain_ring(r);
    r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head + len - r->tail_cache <= r->cap) return 0;
  }
  return -1;
}

int hq__ring_push(hq_ring_t *r, const void *rec, uint32_t len) {
  uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
  uint64_t used, off;
  if (hq_unlikely(head + len - r->tail_cache > r->cap)) {
    r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head + len - r->tail_cache > r->cap && ring_make_room(r, head, len)) return -1;
  }
  off = head & r->mask;
  if (hq_likely(off + len <= r->cap)) {
    memcpy(r->data + off, rec, len);
  } else {
    uint64_t first = r->cap - off;
    memcpy(r->data + off, rec, first);
    memcpy(r->data, (const unsigned char *)rec + first, len - first);
  }
  atomic_store_explicit(&r->head, head + len, memory_order_release);
  used = head + len - r->tail_cache;
  /* Crossing half full: ask the writer to drain before we have to. */
  if (hq_unlikely(used >= r->cap / 2 && used - len < r->cap / 2)) hq__writer_wake();
  return 0;
}

void hq__ring_reset_all_after_fork(hq_ring_t *keep) {
  /* The parent still owns and will write out everything buffered before the fork. */
  for (hq_ring_t *r = hq__ring_list(); r; r = r->next) {
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    atomic_store_explicit(&r->tail, head, memory_order_relaxed);
    r->tail_cache = head;
    memset(r->stack_cache, 0, sizeof r->stack_cache);
    if (r != keep) atomic_store_explicit(&r->state, HQ_RING_FREE, memory_order_relaxed);
  }
}
