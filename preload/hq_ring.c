/*
 * hq_ring.c: per-thread event buffers, kept where a crash cannot take them.
 *
 * Each thread appends records to its own single-producer/single-consumer byte ring; the writer
 * thread drains every ring into the raw trace.  No lock is shared in the common case: the
 * producer only touches its own head and a cached copy of the tail.  When a ring is full the
 * producer drains it itself under the writer's file lock (the one place a thread may wait).
 *
 * A ring's head, tail and data live in a slot of the ring file (rawfmt.h), mapped MAP_SHARED:
 * what the thread appended is in the kernel's page cache the moment the append returns, so a
 * process killed by SIGKILL, the OOM killer or a crash before the writer ran loses nothing the
 * importer cannot read back.  Each slot's disk space is reserved with fallocate before it is
 * mapped, so a full disk means a ring in anonymous memory (durable only up to the last drain),
 * never SIGBUS in the program.  The ring's private part (its stack cache, its place in the
 * registry) is anonymous memory.  A ring whose thread exited is drained, then reused by the
 * next new thread with the same slot and stream, so the recorder's memory stays bounded by the
 * peak number of live threads.  Memory comes from raw mmap syscalls, never malloc.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload_int.h"

static _Atomic(hq_ring_t *) ring_list;
static _Atomic uint64_t ring_bytes;
static int rings_fd = -1;
static _Atomic uint32_t next_slot;
static char rings_path[sizeof hq__opts.raw + sizeof HQ_RINGS_SUFFIX];

/* The raw syscalls: our own mmap hooks must not see the recorder's memory.  Under
 * ThreadSanitizer (make check-tsan links the recorder into a test, no hooks) the memory must go
 * through libc's mmap instead, which TSan intercepts to give it shadow memory. */
static void *sys_map(size_t bytes, int shared_fd, off_t off) {
  int flags = shared_fd >= 0 ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS;
#if HQ_TSAN
  void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, flags, shared_fd, off);
  return m == MAP_FAILED ? NULL : m;
#else
  long p = syscall(SYS_mmap, NULL, bytes, PROT_READ | PROT_WRITE, flags, shared_fd, off);
  if (p < 0 && p > -4096) return NULL;
  return (void *)p;
#endif
}

static void sys_unmap(void *p, size_t bytes) {
#if HQ_TSAN
  if (p) munmap(p, bytes);
#else
  if (p) syscall(SYS_munmap, p, bytes);
#endif
}

static size_t slot_bytes(void) {
  return HQ_RING_HEADER_BYTES + (size_t)hq__opts.ring_kb * 1024;
}

hq_ring_t *hq__ring_list(void) {
  return atomic_load_explicit(&ring_list, memory_order_acquire);
}

uint64_t hq__ring_bytes(void) {
  return atomic_load_explicit(&ring_bytes, memory_order_relaxed);
}

/* ---- the ring file ---- */

void hq__rings_open(void) {
  int fd;
  snprintf(rings_path, sizeof rings_path, "%s%s", hq__opts.raw, HQ_RINGS_SUFFIX);
  atomic_store(&next_slot, 0);
  fd = open(rings_path, O_RDWR | O_CREAT | O_CLOEXEC | (hq__opts.force ? O_TRUNC : O_EXCL), 0600);
  /* Without it the rings are anonymous memory: what the writer has not drained dies with us. */
  rings_fd = fd >= 0 ? hq__writer_fd_high(fd) : -1;
  if (fd >= 0 && hq__opts.force && ftruncate(rings_fd, 0) != 0) { /* left by an earlier run */
    hq__real.close(rings_fd);
    rings_fd = -1;
  }
}

void hq__rings_remove(void) {
  if (rings_fd < 0) return;
  hq__real.close(rings_fd);
  rings_fd = -1;
  unlink(rings_path);
}

int hq__rings_owns_fd(int fd) {
  return fd >= 0 && fd == rings_fd;
}

int hq__writer_rings_fd(void) {
  return rings_fd;
}

void hq__rings_forget(void) {
  /* A fork child: the parent's ring file is the parent's to remove. */
  if (rings_fd >= 0) hq__real.close(rings_fd);
  rings_fd = -1;
}

void hq__rings_move_fd(int fd) {
  if (fd == rings_fd) {
    int nfd = fcntl(rings_fd, F_DUPFD_CLOEXEC, rings_fd + 1);
    rings_fd = nfd; /* -1: new rings are anonymous from now on */
  }
}

/* Reserve [off, off+len) of the ring file.  A limit on file size would turn the reservation into
 * SIGXFSZ for the program: such a slot is refused instead. */
static int reserve(off_t off, size_t len) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      (uint64_t)off + len > (uint64_t)rl.rlim_cur)
    return -1;
  return fallocate(rings_fd, 0, off, (off_t)len);
}

/* A fresh slot's memory: in the ring file when it can be, else anonymous.  *out_slot gets its
 * index or HQ_RING_NO_SLOT. */
static hq_raw_ring_t *slot_map(uint32_t *out_slot) {
  size_t bytes = slot_bytes();
  hq_raw_ring_t *sh = NULL;
  *out_slot = HQ_RING_NO_SLOT;
  if (rings_fd >= 0) {
    uint32_t slot = atomic_fetch_add_explicit(&next_slot, 1, memory_order_relaxed);
    off_t off = (off_t)slot * (off_t)bytes;
    /* A slot that fails stays a hole; the importer skips slots without the magic. */
    if (reserve(off, bytes) == 0 && (sh = sys_map(bytes, rings_fd, off)) != NULL)
      *out_slot = slot;
  }
  if (!sh) sh = sys_map(bytes, -1, 0);
  if (!sh) return NULL;
  sh->cap = (uint64_t)hq__opts.ring_kb * 1024;
  sh->slot = *out_slot;
  atomic_store_explicit(&sh->head, 0, memory_order_relaxed);
  atomic_store_explicit(&sh->tail, 0, memory_order_relaxed);
  sh->magic = HQ_RING_MAGIC;
  return sh;
}

static int attach_slot(hq_ring_t *r) {
  hq_raw_ring_t *sh = slot_map(&r->slot);
  if (!sh) return -1;
  r->sh = sh;
  r->data = (unsigned char *)sh + HQ_RING_HEADER_BYTES;
  r->tail_cache = 0;
  atomic_fetch_add_explicit(&ring_bytes, slot_bytes(), memory_order_relaxed);
  return 0;
}

static void detach_slot(hq_ring_t *r) {
  if (!r->sh) return;
  sys_unmap(r->sh, slot_bytes());
  atomic_fetch_sub_explicit(&ring_bytes, slot_bytes(), memory_order_relaxed);
  r->sh = NULL;
  r->data = NULL;
}

/* ---- rings ---- */

static void ring_take(hq_ring_t *r, uint32_t tid) {
  /* The stream goes on: head and tail are positions in the slot, not reset. */
  r->tail_cache = atomic_load_explicit(&r->sh->tail, memory_order_acquire);
  r->tid = tid;
  r->sh->tid = tid;
  r->alloc_events = 0;
  memset(r->stack_cache, 0, sizeof r->stack_cache);
}

hq_ring_t *hq__ring_acquire(uint32_t tid) {
  hq_ring_t *r, *head;

  /* Reuse a ring whose thread has gone and whose contents the writer has drained. */
  for (r = hq__ring_list(); r; r = r->next) {
    int expected = HQ_RING_FREE;
    if (atomic_compare_exchange_strong(&r->state, &expected, HQ_RING_ACTIVE)) {
      if (!r->sh && attach_slot(r) != 0) {
        atomic_store(&r->state, HQ_RING_FREE);
        return NULL;
      }
      ring_take(r, tid);
      return r;
    }
  }
  r = sys_map(sizeof *r, -1, 0);
  if (!r) return NULL;
  if (attach_slot(r) != 0) {
    sys_unmap(r, sizeof *r);
    return NULL;
  }
  r->cap = r->sh->cap;
  r->mask = r->cap - 1;
  ring_take(r, tid);
  atomic_fetch_add_explicit(&ring_bytes, sizeof *r, memory_order_relaxed);
  atomic_store_explicit(&r->state, HQ_RING_ACTIVE, memory_order_relaxed);
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
    r->tail_cache = atomic_load_explicit(&r->sh->tail, memory_order_acquire);
    if (head + len - r->tail_cache <= r->cap) return 0;
  }
  return -1;
}

int hq__ring_push(hq_ring_t *r, const void *rec, uint32_t len) {
  hq_raw_ring_t *sh = r->sh;
  uint64_t head = atomic_load_explicit(&sh->head, memory_order_relaxed);
  uint64_t used, off;
  if (hq_unlikely(head + len - r->tail_cache > r->cap)) {
    r->tail_cache = atomic_load_explicit(&sh->tail, memory_order_acquire);
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
  atomic_store_explicit(&sh->head, head + len, memory_order_release);
  used = head + len - r->tail_cache;
  /* Crossing half full: ask the writer to drain before we have to. */
  if (hq_unlikely(used >= r->cap / 2 && used - len < r->cap / 2)) hq__writer_wake();
  return 0;
}

void hq__ring_after_fork_child(hq_ring_t *keep, int traced) {
  /* The slots are shared with the parent, which still owns and will write out everything
   * buffered before the fork: the child lets go of them all and, when it records, puts the
   * forking thread's ring into a slot of its own ring file. */
  for (hq_ring_t *r = hq__ring_list(); r; r = r->next) {
    detach_slot(r);
    if (r != keep) atomic_store_explicit(&r->state, HQ_RING_FREE, memory_order_relaxed);
  }
  if (keep && traced) {
    if (attach_slot(keep) != 0) {
      /* No memory for it: the thread gets a ring (or none) on its next event. */
      atomic_store_explicit(&keep->state, HQ_RING_FREE, memory_order_relaxed);
      hq__tls_ring = NULL;
      return;
    }
    ring_take(keep, (uint32_t)syscall(SYS_gettid));
  } else if (keep) {
    atomic_store_explicit(&keep->state, HQ_RING_FREE, memory_order_relaxed);
    hq__tls_ring = NULL;
  }
}
