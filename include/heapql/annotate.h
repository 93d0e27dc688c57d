/*
 * heapql/annotate.h: tell the heapql recorder what your code is doing.
 *
 * Regions (named, nested, per thread), counters (name = value at a moment) and the allocations
 * and frees of a custom allocator (a pool hands out blocks carved from segments it got from
 * malloc; reporting them lets heapql show tensors, not only segments).  Pool blocks are recorded
 * as kind 'pool', beside the heap, never mixed into it.
 *
 * Everything here is resolved at run time: when the program does not run under
 * libheapql_preload.so every call is a cheap no-op, so a library can annotate unconditionally.
 * Header-only; the recorder exports one symbol, heapql_annotate_v1, returning the table below.
 * All functions are thread-safe and never fail visibly.
 */
#ifndef HEAPQL_ANNOTATE_H
#define HEAPQL_ANNOTATE_H

#include <stddef.h>
#include <stdint.h>
#include <dlfcn.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hq_annotate_api_s {
  uint32_t version;     /* 1 */
  uint32_t size;        /* sizeof(hq_annotate_api_t) as built into the recorder */
  void (*region_begin)(const char *name);
  void (*region_end)(void);
  void (*counter)(const char *name, double value);
  void (*pool_alloc)(const void *ptr, size_t size, uint64_t pool_id);
  void (*pool_free)(const void *ptr, uint64_t pool_id);
} hq_annotate_api_t;

typedef const hq_annotate_api_t *(*hq_annotate_get_fn)(void);

/* The recorder's table, or NULL when not recording.  Looked up once per translation unit. */
static inline const hq_annotate_api_t *hq_annotate_api(void) {
  static const hq_annotate_api_t *api;
  static int looked;
  if (!__atomic_load_n(&looked, __ATOMIC_ACQUIRE)) {
    hq_annotate_get_fn get = (hq_annotate_get_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "heapql_annotate_v1");
    const hq_annotate_api_t *a = get ? get() : NULL;
    __atomic_store_n(&api, (a && a->version >= 1) ? a : NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&looked, 1, __ATOMIC_RELEASE);
  }
  return __atomic_load_n(&api, __ATOMIC_RELAXED);
}

/* 1 when a recorder is listening. */
static inline int hq_annotate_active(void) { return hq_annotate_api() != NULL; }

/* Open a region named `name` (copied; at most 127 bytes kept) on the calling thread.  Regions
 * nest; allocations made inside are tagged with the innermost one (allocations.region_id). */
static inline void hq_annotate_region_begin(const char *name) {
  const hq_annotate_api_t *a = hq_annotate_api();
  if (a) a->region_begin(name);
}

/* Close the calling thread's innermost open region (no-op if none is open). */
static inline void hq_annotate_region_end(void) {
  const hq_annotate_api_t *a = hq_annotate_api();
  if (a) a->region_end();
}

/* Record counter `name` (at most 127 bytes kept) = value now (table counters). */
static inline void hq_annotate_counter(const char *name, double value) {
  const hq_annotate_api_t *a = hq_annotate_api();
  if (a) a->counter(name, value);
}

/* A custom allocator handed out [ptr, ptr+size) from pool `pool_id` (any id you choose). */
static inline void hq_annotate_pool_alloc(const void *ptr, size_t size, uint64_t pool_id) {
  const hq_annotate_api_t *a = hq_annotate_api();
  if (a) a->pool_alloc(ptr, size, pool_id);
}

/* The block at ptr went back to pool `pool_id`. */
static inline void hq_annotate_pool_free(const void *ptr, uint64_t pool_id) {
  const hq_annotate_api_t *a = hq_annotate_api();
  if (a) a->pool_free(ptr, pool_id);
}

#ifdef __cplusplus
}
#endif
#endif /* HEAPQL_ANNOTATE_H */
