/*
 * hq_real.c: the real allocator and libc functions, resolved with dlsym(RTLD_NEXT), and the
 * bootstrap pool that serves allocations dlsym makes while we resolve (heaptrack's DummyPool).
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "preload_int.h"

hq_real_t hq__real;
void *hq__real_dlopen;

/* ---- bootstrap pool: bump allocation, never freed ---- */
#define HQ_BOOT_BYTES (256 * 1024)
static _Alignas(64) unsigned char boot_pool[HQ_BOOT_BYTES];
static _Atomic size_t boot_used;

void *hq__boot_alloc(size_t size) {
  size_t need = ((size + 15) & ~(size_t)15) + 16;
  size_t at = atomic_fetch_add(&boot_used, need);
  if (at + need > HQ_BOOT_BYTES) return NULL;
  memcpy(boot_pool + at, &size, sizeof size);
  return boot_pool + at + 16; /* zeroed: static storage, never reused */
}

int hq__boot_owns(const void *p) {
  return (const unsigned char *)p >= boot_pool && (const unsigned char *)p < boot_pool + HQ_BOOT_BYTES;
}

size_t hq__boot_size(const void *p) {
  size_t size;
  memcpy(&size, (const unsigned char *)p - 16, sizeof size);
  return size;
}

/* ---- resolution ---- */
static void die_missing(const char *name) {
  /* Only at bootstrap, and only for a function no program can run without (heaptrack's rule). */
  static const char msg1[] = "heapql: cannot find the real '";
  static const char msg2[] = "' (dlsym RTLD_NEXT failed); aborting\n";
  ssize_t r = write(2, msg1, sizeof msg1 - 1);
  r = write(2, name, strlen(name));
  r = write(2, msg2, sizeof msg2 - 1);
  (void)r;
  _exit(127);
}

#define REQUIRED(field, name)                                             \
  do {                                                                    \
    void *p_ = dlsym(RTLD_NEXT, name);                                    \
    if (!p_) die_missing(name);                                           \
    memcpy(&hq__real.field, &p_, sizeof p_);                              \
  } while (0)
#define OPTIONAL(field, name)                                             \
  do {                                                                    \
    void *p_ = dlsym(RTLD_NEXT, name);                                    \
    memcpy(&hq__real.field, &p_, sizeof p_);                              \
  } while (0)

static _Atomic int state; /* 0 unresolved, 1 resolving, 2 done */

int hq__real_ready(void) {
  return atomic_load_explicit(&state, memory_order_acquire) == 2;
}

void hq__real_resolve(void) {
  int expected = 0;
  if (atomic_load_explicit(&state, memory_order_acquire) == 2) return;
  if (!atomic_compare_exchange_strong(&state, &expected, 1)) {
    /* Another thread (or a dlsym-internal allocation of ours) is resolving: callers fall back to
     * the bootstrap pool until the table is complete. */
    return;
  }
  /* calloc first: dlsym's own allocations are served by the pool until malloc is known. */
  REQUIRED(calloc, "calloc");
  REQUIRED(free, "free");
  REQUIRED(realloc, "realloc");
  REQUIRED(malloc, "malloc");
  OPTIONAL(reallocarray, "reallocarray");
  REQUIRED(posix_memalign, "posix_memalign");
  OPTIONAL(aligned_alloc, "aligned_alloc");
  OPTIONAL(memalign, "memalign");
  OPTIONAL(valloc, "valloc");
  OPTIONAL(pvalloc, "pvalloc");
  REQUIRED(mmap, "mmap");
  REQUIRED(munmap, "munmap");
  REQUIRED(mremap, "mremap");
  REQUIRED(dlopen, "dlopen");
  REQUIRED(dlclose, "dlclose");
  REQUIRED(close, "close");
  REQUIRED(dup2, "dup2");
  REQUIRED(dup3, "dup3");
  OPTIONAL(close_range, "close_range");
  REQUIRED(exit_, "_exit");
  REQUIRED(Exit_, "_Exit");
  REQUIRED(abort_, "abort");
  OPTIONAL(execve, "execve");
  OPTIONAL(execvpe, "execvpe");
  OPTIONAL(fexecve, "fexecve");
  OPTIONAL(execveat, "execveat");
  OPTIONAL(posix_spawn, "posix_spawn");
  OPTIONAL(posix_spawnp, "posix_spawnp");
  OPTIONAL(system, "system");
  OPTIONAL(popen, "popen");
  hq__real_dlopen = (void *)hq__real.dlopen;
  atomic_store_explicit(&state, 2, memory_order_release);
}

void *hq__real_cxx(const char *name) {
  return dlsym(RTLD_NEXT, name);
}
