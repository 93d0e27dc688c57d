/*
 * hq_preload.c: the interposed functions, and nothing else.
 *
 * Every wrapper has the same shape: make sure the real function is known, call it, record the
 * result if this thread is tracking.  Releases (free, delete, munmap) record BEFORE the real
 * call: once the memory is back, another thread may be handed the same address and record its
 * allocation, and the two records must come in the right order.  realloc and mremap take the
 * release time before the call and the allocation time after it, for the same reason.
 *
 * operator new is served by the real malloc directly (its inner malloc is not seen twice); only
 * when that fails is the real operator new called, so new_handler and bad_alloc behave exactly
 * as they did.  dlopen is an assembly stub (hq_dlopen.S): see there.  The exec family and the
 * spawners are in hq_exec.c, the signal functions in hq_signal.c.
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hq_guard.h"
#include "hq_recorder.h"
#include "preload_int.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define ENSURE_REAL(fn)                                    \
  do {                                                     \
    if (hq_unlikely(!hq__real.fn)) hq__real_resolve();     \
  } while (0)

/* ---- malloc family ---- */

hq_export void *malloc(size_t size) {
  void *p;
  if (hq_unlikely(!hq__real.malloc)) {
    hq__real_resolve();
    if (!hq__real.malloc) return hq__boot_alloc(size);
  }
  p = hq__real.malloc(size);
  if (hq_tracking() && p) hq__record_alloc(HQ_KIND_MALLOC, p, size, 0);
  return p;
}

hq_export void free(void *p) {
  if (!p || hq_unlikely(hq__boot_owns(p))) return;
  if (hq_tracking()) hq__record_free(HQ_FREE_FREE, p);
  ENSURE_REAL(free);
  hq__real.free(p);
}

hq_export void *calloc(size_t n, size_t size) {
  void *p;
  if (hq_unlikely(!hq__real.calloc)) {
    hq__real_resolve();
    if (!hq__real.calloc) {
      if (size && n > SIZE_MAX / size) return NULL;
      return hq__boot_alloc(n * size);
    }
  }
  p = hq__real.calloc(n, size);
  if (hq_tracking() && p) hq__record_alloc(HQ_KIND_CALLOC, p, n * size, 0);
  return p;
}

/* A block from the bootstrap pool moves to the real heap; the pool keeps its copy. */
hq_cold static void *realloc_boot(void *old, size_t size) {
  void *p = malloc(size);
  size_t old_size = hq__boot_size(old);
  if (p) memcpy(p, old, old_size < size ? old_size : size);
  return p;
}

hq_export void *realloc(void *old, size_t size) {
  uint64_t t_old = 0;
  void *p;
  int track;
  if (hq_unlikely(old && hq__boot_owns(old))) return realloc_boot(old, size);
  if (hq_unlikely(!hq__real.realloc)) {
    hq__real_resolve();
    if (!hq__real.realloc) return old ? NULL : hq__boot_alloc(size);
  }
  track = hq_tracking();
  if (track && old && size == 0) {
    /* glibc frees the block and returns NULL: a free. */
    hq__record_free(HQ_FREE_FREE, old);
    return hq__real.realloc(old, size);
  }
  if (track) t_old = hq__now();
  p = hq__real.realloc(old, size);
  if (track && p) hq__record_realloc(HQ_KIND_REALLOC, old, p, size, t_old);
  return p;
}

hq_export void *reallocarray(void *old, size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc(old, n * size);
}

hq_export int posix_memalign(void **out, size_t align, size_t size) {
  int rc;
  ENSURE_REAL(posix_memalign);
  rc = hq__real.posix_memalign(out, align, size);
  if (hq_tracking() && rc == 0 && *out) hq__record_alloc(HQ_KIND_ALIGNED, *out, size, align);
  return rc;
}

/* aligned_alloc and memalign: the same contract under two names (C11 and the old one). */
#define ALIGNED_HOOK(fn)                                                              \
  hq_export void *fn(size_t align, size_t size) {                                     \
    void *p;                                                                          \
    ENSURE_REAL(fn);                                                                  \
    p = hq__real.fn(align, size);                                                     \
    if (hq_tracking() && p) hq__record_alloc(HQ_KIND_ALIGNED, p, size, align);        \
    return p;                                                                         \
  }
ALIGNED_HOOK(aligned_alloc)
ALIGNED_HOOK(memalign)

hq_export void *valloc(size_t size) {
  void *p;
  ENSURE_REAL(valloc);
  p = hq__real.valloc(size);
  if (hq_tracking() && p) hq__record_alloc(HQ_KIND_ALIGNED, p, size, (size_t)sysconf(_SC_PAGESIZE));
  return p;
}

hq_export void *pvalloc(size_t size) {
  void *p;
  ENSURE_REAL(pvalloc);
  p = hq__real.pvalloc(size);
  if (hq_tracking() && p) hq__record_alloc(HQ_KIND_ALIGNED, p, size, (size_t)sysconf(_SC_PAGESIZE));
  return p;
}

/* C23; glibc may not have them yet, so they are plain frees with a size hint. */
hq_export void free_sized(void *p, size_t size) {
  (void)size;
  free(p);
}

hq_export void free_aligned_sized(void *p, size_t align, size_t size) {
  (void)align;
  (void)size;
  free(p);
}

hq_export void cfree(void *p) { free(p); }

/* ---- operator new / delete (Itanium C++ ABI names) ---- */

typedef struct { int unused; } hq_nothrow_t;

hq_cold static void *new_fallback(const char *name, size_t size, size_t align, int nothrow) {
  /* Only after malloc failed: the real operator new runs the new_handler loop or throws. */
  void *fn = hq__real_cxx(name);
  static const hq_nothrow_t nt;
  if (!fn) return NULL;
  if (align) {
    if (nothrow) return ((void *(*)(size_t, size_t, const void *))fn)(size, align, &nt);
    return ((void *(*)(size_t, size_t))fn)(size, align);
  }
  if (nothrow) return ((void *(*)(size_t, const void *))fn)(size, &nt);
  return ((void *(*)(size_t))fn)(size);
}

static inline void *new_impl(size_t size, int kind, const char *name, int nothrow) {
  void *p;
  ENSURE_REAL(malloc);
  p = hq__real.malloc(size ? size : 1);
  if (hq_unlikely(!p)) return new_fallback(name, size, 0, nothrow);
  if (hq_tracking()) hq__record_alloc(kind, p, size, 0);
  return p;
}

static inline void *new_aligned_impl(size_t size, size_t align, int kind, const char *name,
                                     int nothrow) {
  void *p = NULL;
  ENSURE_REAL(posix_memalign);
  if (align < sizeof(void *)) align = sizeof(void *);
  if (hq__real.posix_memalign(&p, align, size ? size : 1) != 0) p = NULL;
  if (hq_unlikely(!p)) return new_fallback(name, size, align, nothrow);
  if (hq_tracking()) hq__record_alloc(kind, p, size, align);
  return p;
}

static inline void delete_impl(void *p, int kind) {
  if (!p) return;
  if (hq_tracking()) hq__record_free(kind, p);
  ENSURE_REAL(free);
  hq__real.free(p);
}

hq_export void *_Znwm(size_t n) { return new_impl(n, HQ_KIND_NEW, "_Znwm", 0); }
hq_export void *_Znam(size_t n) { return new_impl(n, HQ_KIND_NEW_ARRAY, "_Znam", 0); }
hq_export void *_ZnwmRKSt9nothrow_t(size_t n, const void *nt) {
  (void)nt;
  return new_impl(n, HQ_KIND_NEW, "_ZnwmRKSt9nothrow_t", 1);
}
hq_export void *_ZnamRKSt9nothrow_t(size_t n, const void *nt) {
  (void)nt;
  return new_impl(n, HQ_KIND_NEW_ARRAY, "_ZnamRKSt9nothrow_t", 1);
}
hq_export void *_ZnwmSt11align_val_t(size_t n, size_t a) {
  return new_aligned_impl(n, a, HQ_KIND_NEW, "_ZnwmSt11align_val_t", 0);
}
hq_export void *_ZnamSt11align_val_t(size_t n, size_t a) {
  return new_aligned_impl(n, a, HQ_KIND_NEW_ARRAY, "_ZnamSt11align_val_t", 0);
}
hq_export void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t a, const void *nt) {
  (void)nt;
  return new_aligned_impl(n, a, HQ_KIND_NEW, "_ZnwmSt11align_val_tRKSt9nothrow_t", 1);
}
hq_export void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t a, const void *nt) {
  (void)nt;
  return new_aligned_impl(n, a, HQ_KIND_NEW_ARRAY, "_ZnamSt11align_val_tRKSt9nothrow_t", 1);
}

hq_export void _ZdlPv(void *p) { delete_impl(p, HQ_FREE_DELETE); }
hq_export void _ZdaPv(void *p) { delete_impl(p, HQ_FREE_DELETE_ARRAY); }
hq_export void _ZdlPvm(void *p, size_t n) { (void)n; delete_impl(p, HQ_FREE_DELETE); }
hq_export void _ZdaPvm(void *p, size_t n) { (void)n; delete_impl(p, HQ_FREE_DELETE_ARRAY); }
hq_export void _ZdlPvRKSt9nothrow_t(void *p, const void *nt) { (void)nt; delete_impl(p, HQ_FREE_DELETE); }
hq_export void _ZdaPvRKSt9nothrow_t(void *p, const void *nt) { (void)nt; delete_impl(p, HQ_FREE_DELETE_ARRAY); }
hq_export void _ZdlPvSt11align_val_t(void *p, size_t a) { (void)a; delete_impl(p, HQ_FREE_DELETE); }
hq_export void _ZdaPvSt11align_val_t(void *p, size_t a) { (void)a; delete_impl(p, HQ_FREE_DELETE_ARRAY); }
hq_export void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t a) {
  (void)n; (void)a;
  delete_impl(p, HQ_FREE_DELETE);
}
hq_export void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t a) {
  (void)n; (void)a;
  delete_impl(p, HQ_FREE_DELETE_ARRAY);
}
hq_export void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t a, const void *nt) {
  (void)a; (void)nt;
  delete_impl(p, HQ_FREE_DELETE);
}
hq_export void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t a, const void *nt) {
  (void)a; (void)nt;
  delete_impl(p, HQ_FREE_DELETE_ARRAY);
}

/* ---- anonymous mappings ---- */

static inline void *mmap_impl(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  void *p;
  ENSURE_REAL(mmap);
  p = hq__real.mmap(addr, len, prot, flags, fd, off);
  if (hq_tracking() && hq__opts.mmap && (flags & MAP_ANONYMOUS) && p != MAP_FAILED)
    hq__record_alloc(HQ_KIND_MMAP, p, len, 0);
  return p;
}

hq_export void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  return mmap_impl(addr, len, prot, flags, fd, off);
}

hq_export void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  return mmap_impl(addr, len, prot, flags, fd, off);
}

hq_export int munmap(void *addr, size_t len) {
  if (hq_tracking() && hq__opts.mmap) hq__record_munmap(addr, len);
  ENSURE_REAL(munmap);
  return hq__real.munmap(addr, len);
}

hq_export void *mremap(void *old, size_t old_len, size_t len, int flags, ...) {
  void *p, *want = NULL;
  uint64_t t_old = 0;
  int track = hq_tracking() && hq__opts.mmap;
  if (flags & MREMAP_FIXED) {
    va_list ap;
    va_start(ap, flags);
    want = va_arg(ap, void *);
    va_end(ap);
  }
  (void)old_len;
  ENSURE_REAL(mremap);
  if (track) t_old = hq__now();
  p = hq__real.mremap(old, old_len, len, flags, want);
  if (track && p != MAP_FAILED) hq__record_realloc(HQ_KIND_MMAP, old, p, len, t_old);
  return p;
}

/* ---- modules ---- */

hq_export int dlclose(void *handle) {
  int rc;
  int on = atomic_load_explicit(&hq__state.enabled, memory_order_relaxed);
  ENSURE_REAL(dlclose);
  /* Before: a library loaded and closed between two polls of the writer is still in the map.
   * After: what dlclose really unmapped is marked gone. */
  if (on) {
    hq_guard_enter();
    hq__modmap_refresh();
    hq_guard_leave();
  }
  rc = hq__real.dlclose(handle);
  if (on) {
    hq_guard_enter();
    hq__modmap_refresh();
    hq_guard_leave();
  }
  return rc;
}

/* ---- our descriptors are not the program's to close ---- */

hq_export int close(int fd) {
  ENSURE_REAL(close);
  if (hq_unlikely(hq__writer_owns_fd(fd))) return 0;
  return hq__real.close(fd);
}

hq_export int dup2(int oldfd, int newfd) {
  ENSURE_REAL(dup2);
  if (hq_unlikely(hq__writer_owns_fd(newfd) && oldfd != newfd)) {
    hq__writer_lock();
    hq__writer_move_fds(newfd);
    hq__writer_unlock();
  }
  return hq__real.dup2(oldfd, newfd);
}

hq_export int dup3(int oldfd, int newfd, int flags) {
  ENSURE_REAL(dup3);
  if (hq_unlikely(hq__writer_owns_fd(newfd) && oldfd != newfd)) {
    hq__writer_lock();
    hq__writer_move_fds(newfd);
    hq__writer_unlock();
  }
  return hq__real.dup3(oldfd, newfd, flags);
}

/* Close [first, last] except our descriptors. */
static int close_range_around(unsigned first, unsigned last, int flags) {
  int ours[3] = {hq__writer_fd(), hq__writer_statm_fd(), hq__writer_rings_fd()}, rc = 0;
  unsigned long lo = first;
  for (int i = 0; i < 3; i++) /* in order: three elements, insertion sort */
    for (int j = i; j > 0 && ours[j - 1] > ours[j]; j--) {
      int t = ours[j];
      ours[j] = ours[j - 1];
      ours[j - 1] = t;
    }
  for (int i = 0; i < 3; i++) {
    if (ours[i] < 0 || (unsigned long)ours[i] < lo || (unsigned)ours[i] > last) continue;
    if ((unsigned long)ours[i] > lo) rc |= hq__real.close_range((unsigned)lo, (unsigned)ours[i] - 1, flags);
    lo = (unsigned long)ours[i] + 1;
  }
  if (lo <= last) rc |= hq__real.close_range((unsigned)lo, last, flags);
  return rc ? -1 : 0;
}

hq_export int close_range(unsigned first, unsigned last, int flags) {
  ENSURE_REAL(close_range);
  if (!hq__real.close_range) {
    errno = ENOSYS;
    return -1;
  }
  if (flags & CLOSE_RANGE_CLOEXEC) return hq__real.close_range(first, last, flags);
  return close_range_around(first, last, flags);
}

hq_export void closefrom(int lowfd) {
  ENSURE_REAL(close_range);
  if (lowfd < 0) lowfd = 0;
  if (hq__real.close_range) {
    close_range_around((unsigned)lowfd, ~0u, 0);
  } else {
    for (int fd = lowfd; fd < 65536; fd++) close(fd);
  }
}

/* ---- ends ---- */

hq_export void _exit(int status) {
  hq__exit_finish(status);
  ENSURE_REAL(exit_);
  hq__real.exit_(status);
}

hq_export void _Exit(int status) {
  hq__exit_finish(status);
  ENSURE_REAL(Exit_);
  hq__real.Exit_(status);
}

hq_export void abort(void) {
  /* Everything recorded so far reaches the trace before the program dies. */
  if (atomic_load_explicit(&hq__state.enabled, memory_order_relaxed)) {
    hq_guard_enter();
    hq__writer_flush_fatal(SIGABRT);
    hq__signals_fatal_written();
    hq_guard_leave();
  }
  ENSURE_REAL(abort_);
  hq__real.abort_();
}


