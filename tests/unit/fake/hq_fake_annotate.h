/*
 * hq_fake_annotate.h: load the stand-in recorder (build/tests/unit/libhq_fake_annotate.so)
 * into a kernels test.  Call hq_fake_annotate_load() from the group setup, before the library
 * makes its first annotation (each translation unit looks the recorder up once).
 */
#ifndef HQ_FAKE_ANNOTATE_H
#define HQ_FAKE_ANNOTATE_H

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>

typedef struct hq_fake_counts_s {
  long regions_begun, regions_ended, open_depth, max_depth;
  long chunk_regions;
  long counters;
  double last_hits, last_misses;
  long pool_allocs, pool_frees;
  long long pool_live_bytes;
  uint64_t last_pool_id;
} hq_fake_counts_t;

typedef void (*hq_fake_counts_fn)(hq_fake_counts_t *);
static hq_fake_counts_fn hq_fake_counts_get;

/* 0 when loaded; -1 (with a message) when the library is missing. */
static inline int hq_fake_annotate_load(void) {
  void *h = dlopen(hq_test_build_path("tests/unit/libhq_fake_annotate.so"), RTLD_NOW | RTLD_GLOBAL);
  if (!h) {
    fprintf(stderr, "fake recorder not loaded: %s\n", dlerror());
    return -1;
  }
  hq_fake_counts_get = (hq_fake_counts_fn)(uintptr_t)dlsym(h, "hq_fake_annotate_counts");
  return hq_fake_counts_get ? 0 : -1;
}

static inline hq_fake_counts_t hq_fake_counts(void) {
  hq_fake_counts_t c = {0};
  if (hq_fake_counts_get) hq_fake_counts_get(&c);
  return c;
}

#endif /* HQ_FAKE_ANNOTATE_H */
