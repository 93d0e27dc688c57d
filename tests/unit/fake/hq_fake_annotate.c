/*
 * hq_fake_annotate.c: a stand-in recorder for the kernels tests.  Exports heapql_annotate_v1
 * like libheapql_preload.so does, and counts what it is told; the tests dlopen it with
 * RTLD_GLOBAL before the library's first annotation and read the counts back.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "heapql/annotate.h"

typedef struct hq_fake_counts_s {
  long regions_begun, regions_ended, open_depth, max_depth;
  long chunk_regions;            /* regions named exactly "chunk" */
  long counters;                 /* counter calls */
  double last_hits, last_misses; /* last value of pool<N>.hits / .misses */
  long pool_allocs, pool_frees;
  long long pool_live_bytes;     /* sum of sizes alloc'd minus freed (matched by pointer) */
  uint64_t last_pool_id;
} hq_fake_counts_t;

static hq_fake_counts_t counts;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct { const void *p; size_t size; } live[65536];

static void region_begin(const char *name) {
  pthread_mutex_lock(&lock);
  counts.regions_begun++;
  if (!strcmp(name, "chunk")) counts.chunk_regions++;
  if (++counts.open_depth > counts.max_depth) counts.max_depth = counts.open_depth;
  pthread_mutex_unlock(&lock);
}

static void region_end(void) {
  pthread_mutex_lock(&lock);
  counts.regions_ended++;
  if (counts.open_depth > 0) counts.open_depth--;
  pthread_mutex_unlock(&lock);
}

static void counter(const char *name, double value) {
  size_t n = strlen(name);
  pthread_mutex_lock(&lock);
  counts.counters++;
  if (n > 5 && !strcmp(name + n - 5, ".hits")) counts.last_hits = value;
  if (n > 7 && !strcmp(name + n - 7, ".misses")) counts.last_misses = value;
  pthread_mutex_unlock(&lock);
}

static void pool_alloc(const void *ptr, size_t size, uint64_t pool_id) {
  pthread_mutex_lock(&lock);
  counts.pool_allocs++;
  counts.pool_live_bytes += (long long)size;
  counts.last_pool_id = pool_id;
  for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
    if (!live[i].p) {
      live[i].p = ptr;
      live[i].size = size;
      break;
    }
  pthread_mutex_unlock(&lock);
}

static void pool_free(const void *ptr, uint64_t pool_id) {
  pthread_mutex_lock(&lock);
  counts.pool_frees++;
  counts.last_pool_id = pool_id;
  for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
    if (live[i].p == ptr) {
      counts.pool_live_bytes -= (long long)live[i].size;
      live[i].p = NULL;
      break;
    }
  pthread_mutex_unlock(&lock);
}

static const hq_annotate_api_t api = {
  1, sizeof(hq_annotate_api_t), region_begin, region_end, counter, pool_alloc, pool_free,
};

__attribute__((visibility("default"))) const hq_annotate_api_t *heapql_annotate_v1(void);
const hq_annotate_api_t *heapql_annotate_v1(void) { return &api; }

/* A copy of the counts so far. */
__attribute__((visibility("default"))) void hq_fake_annotate_counts(hq_fake_counts_t *out);
void hq_fake_annotate_counts(hq_fake_counts_t *out) {
  pthread_mutex_lock(&lock);
  *out = counts;
  pthread_mutex_unlock(&lock);
}
