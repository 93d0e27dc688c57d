/* test_pool.c: the caching pool: rounding, segments, best fit, split/merge seen through the
 * statistics, the memory cap and its retry, rejection of bad releases, threads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq_test.h"
#include "heapql/kernels.h"
#include "fake/hq_fake_annotate.h"

#define KiB ((int64_t)1024)
#define MiB ((int64_t)1024 * 1024)

static int64_t stat_of(hq_pool_t *pool, const char *key) {
  hq_pool_stats_t st;
  int64_t v = -12345;
  assert_int_equal(hq_pool_get_stats(pool, &st), HQ_OK);
  if (hq_pool_stats_get(&st, key, &v) != HQ_OK) fail_msg("no statistic %s", key);
  return v;
}

#define assert_stat(pool, key, expect) assert_int_equal(stat_of(pool, key), (expect))

static hq_pool_t *new_pool(hq_pool_backend_t backend, size_t cap, size_t max_split) {
  hq_pool_config_t cfg;
  hq_pool_t *pool = NULL;
  hq_pool_config_init(&cfg);
  cfg.backend = backend;
  cfg.memory_cap = cap;
  cfg.max_split_size = max_split;
  assert_int_equal(hq_pool_create(&cfg, &pool), HQ_OK);
  assert_non_null(pool);
  return pool;
}

static void test_pool_alloc_small_rounds_and_reserves_segment(void **state) {
  (void)state;
  hq_pool_t *pool = new_pool(HQ_POOL_HOST_MMAP, 0, 0);
  void *p = NULL;
  size_t bs = 0;
  assert_int_equal(hq_pool_alloc(pool, 1000, &p), HQ_OK);
  assert_non_null(p);
  assert_int_equal((uintptr_t)p % 512, 0);
  memset(p, 0xab, 1000); /* writable */
  assert_int_equal(hq_pool_block_size(pool, p, &bs), HQ_OK);
  assert_int_equal(bs, 1024);
  assert_stat(pool, "allocated_bytes.all.current", 1024);
  assert_stat(pool, "allocated_bytes.small_pool.current", 1024);
  assert_stat(pool, "allocated_bytes.large_pool.current", 0);
  assert_stat(pool, "requested_bytes.all.current", 1000);
  assert_stat(pool, "reserved_bytes.all.current", 2 * MiB);
  assert_stat(pool, "reserved_bytes.small_pool.current", 2 * MiB);
  assert_stat(pool, "segment.all.current", 1);
  assert_stat(pool, "allocation.all.current", 1);
  assert_stat(pool, "active.all.current", 1);
  assert_stat(pool, "active_bytes.all.current", 1024);
  /* the rest of the segment is a free piece of a split segment */
  assert_stat(pool, "inactive_split.all.current", 1);
  assert_stat(pool, "inactive_split_bytes.all.current", 2 * MiB - 1024);
  assert_stat(pool, "num_cache_misses", 1);
  assert_stat(pool, "num_cache_hits", 0);
  assert_stat(pool, "num_device_alloc", 1);
  assert_int_equal(hq_pool_free(pool, p), HQ_OK);
  assert_stat(pool, "allocated_bytes.all.current", 0);
  assert_stat(pool, "allocated_bytes.all.peak", 1024);
  assert_stat(pool, "allocated_bytes.all.allocated", 1024);
  assert_stat(pool, "allocated_bytes.all.freed", 1024);
  assert_stat(pool, "requested_bytes.all.current", 0);
  assert_stat(pool, "inactive_split.all.current", 0); /* merged back: one unsplit block */
  assert_stat(pool, "inactive_split_bytes.all.current", 0);
  assert_stat(pool, "reserved_bytes.all.current", 2 * MiB); /* cached, not released */
  hq_pool_destroy(pool);
}

static void test_pool_rounding_edges(void **state) {
  (void)state;
  hq_pool_t *pool = new_pool(HQ_POOL_HOST_MMAP, 0, 0);
  void *a, *b, *c;
  assert_int_equal(hq_pool_alloc(pool, 1, &a), HQ_OK);
  assert_int_equal(hq_pool_alloc(pool, 512, &b), HQ_OK);
  assert_int_equal(hq_pool_alloc(pool, 513, &c), HQ_OK);
  assert_stat(pool, "allocated_bytes.all.current", 512 + 512 + 1024);
  assert_stat(pool, "requested_bytes.all.current", 1 + 512 + 513);
  /* best fit in address order: the three blocks are consecutive in one segment */
  assert_ptr_equal((char *)a + 512, b);
  assert_ptr_equal((char *)b + 512, c);
  assert_stat(pool, "num_cache_hits", 2);
  assert_int_equal(hq_pool_free(pool, a), HQ_OK);
  assert_int_equal(hq_pool_free(pool, b), HQ_OK);
  assert_int_equal(hq_pool_free(pool, c), HQ_OK);
  hq_pool_destroy(pool);
}

static void test_pool_split_merge_visible_in_stats(void **state) {
  (void)state;
  hq_pool_t *pool = new_pool(HQ_POOL_HOST_MMAP, 0, 0);
  void *a, *b, *c, *d;
  assert_int_equal(hq_pool_alloc(pool, 1000, &a), HQ_OK);
  assert_int_equal(hq_pool_alloc(pool, 1000, &b), HQ_OK);
  assert_int_equal(hq_pool_alloc(pool, 1000, &c), HQ_OK);
  assert_stat(pool, "allocated_bytes.all.current", 3072);
  assert_stat(pool, "inactive_split.all.current", 1);
  assert_stat(pool, "inactive_split_bytes.all.current", 2 * MiB - 3072);
  /* a hole in the middle: two free pieces */
  assert_int_equal(hq_pool_free(pool, b), HQ_OK);
  assert_stat(pool, "inactive_split.all.current", 2);
  assert_stat(pool, "inactive_split_bytes.all.current", 2 * MiB - 2048);
  /* a merges with the hole b: still two free pieces, one bigger */
  assert_int_equal(hq_pool_free(pool, a), HQ_OK);
  assert_stat(pool, "inactive_split.all.current", 2);
  assert_stat(pool, "inactive_split_bytes.all.current", 2 * MiB - 1024);
  assert_stat(pool, "inactive_split.all.peak", 2);
  /* a 2048-byte request fits the merged a+b exactly: same address as a */
  assert_int_equal(hq_pool_alloc(pool, 2048, &d), HQ_OK);
  assert_ptr_equal(d, a);
  assert_stat(pool, "inactive_split.all.current", 1);
  assert_int_equal(hq_pool_free(pool, d), HQ_OK);
  assert_int_equal(hq_pool_free(pool, c), HQ_OK);
  /* everything merged back into one unsplit block spanning the segment */
  assert_stat(pool, "inactive_split.all.current", 0);
  assert_stat(pool, "inactive_split_bytes.all.current", 0);
  assert_stat(pool, "allocation.all.current", 0);
  assert_stat(pool, "allocation.all.allocated", 4);
  assert_stat(pool, "allocation.all.freed", 4);
  assert_stat(pool, "segment.all.current", 1);
  hq_pool_destroy(pool);
}

static void test_pool_best_fit(void **state) {
  (void)state;
  hq_pool_t *pool = new_pool(HQ_POOL_HOST_MMAP, 0, 0);
  void *x1, *x2, *x3, *s1, *s2, *s3, *r;
  assert_int_equal(hq_pool_alloc(pool, 4096, &x1), HQ_OK);
  assert_int_equal(hq_pool_alloc(pool, 512, &s1), HQ_OK);
  assert_int_equal(hq_pool_alloc(pool, 1024, &x2), HQ_OK);
  assert_int_equal(hq_pool_alloc(pool, 512, &s2), HQ_OK);
  assert_int_equal(hq_pool_alloc(pool, 2048, &x3), HQ_OK);
  assert_int_equal(hq_pool_alloc(pool, 512, &s3), HQ_OK);
  assert_int_equal(hq_pool_free(pool, x1), HQ_OK);
  assert_int_equal(hq_pool_free(pool, x2), HQ_OK);
  assert_int_equal(hq_pool_free(pool, x3), HQ_OK);
  /* free pieces of 4096, 1024, 2048 and the tail: each request takes the smallest that fits */
  assert_int_equal(hq_pool_alloc(pool, 1000, &r), HQ_OK);
  assert_ptr_equal(r, x2);
  assert_int_equal(hq_pool_free(pool, r), HQ_OK);
  assert_int_equal(hq_pool_alloc(pool, 1500, &r), HQ_OK);
  assert_ptr_equal(r, x3);
  assert_int_equal(hq_pool_free(pool, r), HQ_OK);
  assert_int_equal(hq_pool_alloc(pool, 3000, &r), HQ_OK);
  assert_ptr_equal(r, x1);
  /* 3000 rounds to 3072: the 1024 left of x1 stays a free piece in front of s1 */
  assert_stat(pool, "inactive_split.all.current", 4);
  assert_stat(pool, "inactive_split_bytes.all.current", 1024 + 1024 + 2048 + (2 * MiB - 8704));
  hq_pool_destroy(pool);
  (void)s1, (void)s2, (void)s3;
}

static void test_pool_large_segments(void **state) {
  (void)state;
  hq_pool_t *pool = new_pool(HQ_POOL_HOST_MMAP, 0, 0);
  void *a, *b, *c, *d;
  /* 11 MiB: a segment of 12 MiB (rounded to 2 MiB); 1 MiB left is not > 1 MiB: no split */
  assert_int_equal(hq_pool_alloc(pool, 11 * MiB, &b), HQ_OK);
  assert_stat(pool, "reserved_bytes.large_pool.current", 12 * MiB);
  assert_stat(pool, "allocated_bytes.large_pool.current", 12 * MiB);
  assert_stat(pool, "requested_bytes.large_pool.current", 11 * MiB);
  assert_stat(pool, "inactive_split_bytes.large_pool.current", 0);
  /* 12 MiB + 1: rounded to 12 MiB + 512, segment 14 MiB, 2 MiB - 512 left > 1 MiB: split */
  assert_int_equal(hq_pool_alloc(pool, 12 * MiB + 1, &c), HQ_OK);
  assert_stat(pool, "reserved_bytes.large_pool.current", 26 * MiB);
  assert_stat(pool, "allocated_bytes.large_pool.current", 24 * MiB + 512);
  assert_stat(pool, "inactive_split_bytes.large_pool.current", 2 * MiB - 512);
  /* 1.5 MiB fits that remainder (best fit); 0.5 MiB - 512 would be left: not split */
  assert_int_equal(hq_pool_alloc(pool, 3 * MiB / 2, &a), HQ_OK);
  assert_ptr_equal(a, (char *)c + 12 * MiB + 512);
  assert_stat(pool, "reserved_bytes.large_pool.current", 26 * MiB);
  assert_stat(pool, "allocated_bytes.large_pool.current", 26 * MiB);
  assert_stat(pool, "inactive_split_bytes.large_pool.current", 0);
  assert_stat(pool, "inactive_split.large_pool.current", 0);
  /* another 1.5 MiB: a 20 MiB segment, split */
  assert_int_equal(hq_pool_alloc(pool, 3 * MiB / 2, &d), HQ_OK);
  assert_stat(pool, "reserved_bytes.large_pool.current", 46 * MiB);
  assert_stat(pool, "allocated_bytes.large_pool.current", 26 * MiB + 3 * MiB / 2);
  assert_stat(pool, "inactive_split_bytes.large_pool.current", 20 * MiB - 3 * MiB / 2);
  assert_stat(pool, "segment.large_pool.current", 3);
  assert_stat(pool, "segment.small_pool.current", 0);
  assert_stat(pool, "reserved_bytes.small_pool.current", 0);
  assert_int_equal(hq_pool_free(pool, a), HQ_OK);
  assert_int_equal(hq_pool_free(pool, b), HQ_OK);
  assert_int_equal(hq_pool_free(pool, c), HQ_OK);
  assert_int_equal(hq_pool_free(pool, d), HQ_OK);
  assert_stat(pool, "inactive_split.all.current", 0);
  hq_pool_destroy(pool);
}

static void test_pool_empty_cache_releases_free_segments(void **state) {
  (void)state;
  hq_pool_t *pool = new_pool(HQ_POOL_HOST_MMAP, 0, 0);
  void *a, *b, *big;
  size_t released = 0;
  assert_int_equal(hq_pool_alloc(pool, 1000, &a), HQ_OK);
  assert_int_equal(hq_pool_alloc(pool, 2 * MiB, &big), HQ_OK); /* 20 MiB segment */
  assert_int_equal(hq_pool_free(pool, big), HQ_OK);
  assert_stat(pool, "reserved_bytes.all.current", 22 * MiB);
  /* the small segment is in use: only the cached large one goes */
  assert_int_equal(hq_pool_empty_cache(pool, &released), HQ_OK);
  assert_int_equal(released, 20 * MiB);
  assert_stat(pool, "reserved_bytes.all.current", 2 * MiB);
  assert_stat(pool, "segment.all.current", 1);
  assert_stat(pool, "num_device_free", 1);
  /* the cache was emptied: the same request now misses */
  assert_int_equal(hq_pool_alloc(pool, 1000, &b), HQ_OK);
  assert_int_equal(hq_pool_free(pool, a), HQ_OK);
  assert_int_equal(hq_pool_free(pool, b), HQ_OK);
  assert_int_equal(hq_pool_empty_cache(pool, &released), HQ_OK);
  assert_int_equal(released, 2 * MiB);
  assert_stat(pool, "reserved_bytes.all.current", 0);
  assert_stat(pool, "reserved_bytes.all.peak", 22 * MiB);
  assert_stat(pool, "segment.all.current", 0);
  assert_stat(pool, "num_device_alloc", 2);
  assert_stat(pool, "num_device_free", 2);
  hq_pool_destroy(pool);
}

static void test_pool_memory_cap_respected(void **state) {
  (void)state;
  hq_pool_t *pool = new_pool(HQ_POOL_HOST_MMAP, 4 * MiB, 0);
  void *p[4] = {0}, *big = (void *)1;
  /* a large request needs a 20 MiB segment: over the cap even after the retry */
  assert_int_equal(hq_pool_alloc(pool, 3 * MiB / 2, &big), HQ_ENOMEM);
  assert_ptr_equal(big, (void *)1); /* untouched on failure */
  assert_non_null(strstr(hq_kernels_errmsg(), "memory cap"));
  assert_stat(pool, "num_alloc_retries", 1);
  assert_stat(pool, "num_ooms", 1);
  assert_stat(pool, "reserved_bytes.all.current", 0);
  /* 1 MiB blocks: two per 2 MiB segment, two segments fit under 4 MiB */
  for (int i = 0; i < 4; i++) assert_int_equal(hq_pool_alloc(pool, MiB, &p[i]), HQ_OK);
  assert_stat(pool, "reserved_bytes.all.current", 4 * MiB);
  assert_stat(pool, "segment.all.current", 2);
  void *q = (void *)1;
  assert_int_equal(hq_pool_alloc(pool, MiB, &q), HQ_ENOMEM);
  assert_stat(pool, "num_alloc_retries", 2);
  assert_stat(pool, "num_ooms", 2);
  assert_stat(pool, "reserved_bytes.all.peak", 4 * MiB);
  /* freeing makes room inside the cap again without any new segment */
  assert_int_equal(hq_pool_free(pool, p[3]), HQ_OK);
  assert_int_equal(hq_pool_alloc(pool, MiB, &q), HQ_OK);
  assert_ptr_equal(q, p[3]);
  assert_stat(pool, "num_device_alloc", 2);
  assert_int_equal(hq_pool_free(pool, q), HQ_OK);
  for (int i = 0; i < 3; i++) assert_int_equal(hq_pool_free(pool, p[i]), HQ_OK);
  hq_pool_destroy(pool);
}

static void test_pool_cap_retry_releases_cache(void **state) {
  (void)state;
  hq_pool_t *pool = new_pool(HQ_POOL_HOST_MMAP, 21 * MiB, 0);
  void *small, *big;
  assert_int_equal(hq_pool_alloc(pool, 1000, &small), HQ_OK);
  assert_int_equal(hq_pool_free(pool, small), HQ_OK); /* 2 MiB cached in the small pool */
  /* 20 MiB more would make 22 MiB > 21 MiB: the cached 2 MiB go, then the retry succeeds */
  assert_int_equal(hq_pool_alloc(pool, 3 * MiB / 2, &big), HQ_OK);
  assert_stat(pool, "num_alloc_retries", 1);
  assert_stat(pool, "num_ooms", 0);
  assert_stat(pool, "reserved_bytes.all.current", 20 * MiB);
  assert_stat(pool, "reserved_bytes.all.peak", 20 * MiB);
  assert_stat(pool, "segment.small_pool.current", 0);
  assert_stat(pool, "num_device_free", 1);
  assert_int_equal(hq_pool_free(pool, big), HQ_OK);
  /* lowering the cap below what is reserved releases what is cached */
  assert_int_equal(hq_pool_set_memory_cap(pool, 4 * MiB), HQ_OK);
  assert_stat(pool, "reserved_bytes.all.current", 0);
  assert_stat(pool, "memory_cap", 4 * MiB);
  hq_pool_destroy(pool);
}

static void test_pool_double_release_and_foreign_pointer(void **state) {
  (void)state;
  hq_pool_t *pool = new_pool(HQ_POOL_HOST_MMAP, 0, 0);
  hq_pool_t *other = new_pool(HQ_POOL_HOST_MMAP, 0, 0);
  void *p, *o, *m = malloc(64);
  int stack_var;
  assert_int_equal(hq_pool_alloc(pool, 4096, &p), HQ_OK);
  assert_int_equal(hq_pool_alloc(other, 4096, &o), HQ_OK);
  assert_int_equal(hq_pool_free(pool, (char *)p + 512), HQ_EINVAL); /* interior pointer */
  assert_int_equal(hq_pool_free(pool, m), HQ_EINVAL);               /* from malloc */
  assert_int_equal(hq_pool_free(pool, &stack_var), HQ_EINVAL);      /* from the stack */
  assert_int_equal(hq_pool_free(pool, o), HQ_EINVAL);               /* another pool's */
  assert_non_null(strstr(hq_kernels_errmsg(), "not an allocated block"));
  assert_stat(pool, "allocation.all.current", 1); /* nothing changed */
  assert_stat(pool, "allocated_bytes.all.current", 4096);
  assert_int_equal(hq_pool_free(pool, p), HQ_OK);
  assert_int_equal(hq_pool_free(pool, p), HQ_EINVAL); /* second release */
  assert_stat(pool, "allocation.all.current", 0);
  assert_stat(pool, "allocation.all.freed", 1);
  assert_int_equal(hq_pool_block_size(pool, p, &(size_t){0}), HQ_EINVAL);
  assert_int_equal(hq_pool_free(other, o), HQ_OK);
  free(m);
  hq_pool_destroy(pool);
  hq_pool_destroy(other);
}

static void test_pool_null_and_zero(void **state) {
  (void)state;
  hq_pool_t *pool = new_pool(HQ_POOL_HOST_MMAP, 0, 0);
  void *p = (void *)1;
  assert_int_equal(hq_pool_alloc(pool, 0, &p), HQ_OK);
  assert_null(p);
  assert_int_equal(hq_pool_free(pool, NULL), HQ_OK);
  assert_stat(pool, "allocation.all.allocated", 0);
  assert_stat(pool, "segment.all.current", 0);
  assert_int_equal(hq_pool_alloc(NULL, 10, &p), HQ_EMISUSE);
  assert_int_equal(hq_pool_alloc(pool, 10, NULL), HQ_EMISUSE);
  assert_int_equal(hq_pool_alloc(pool, SIZE_MAX, &p), HQ_ERANGE);
  assert_int_equal(hq_pool_free(NULL, p), HQ_EMISUSE);
  assert_int_equal(hq_pool_create(NULL, NULL), HQ_EMISUSE);
  hq_pool_destroy(NULL);
  hq_pool_destroy(pool);
}

static void test_pool_stats_keys_and_reset_peak(void **state) {
  (void)state;
  hq_pool_t *pool = new_pool(HQ_POOL_HOST_MMAP, 0, 0);
  hq_pool_stats_t st;
  int64_t v;
  void *a, *b;
  assert_int_equal(hq_pool_alloc(pool, 100 * KiB, &a), HQ_OK);
  assert_int_equal(hq_pool_alloc(pool, 100 * KiB, &b), HQ_OK);
  assert_int_equal(hq_pool_free(pool, b), HQ_OK);
  assert_stat(pool, "allocated_bytes.all.peak", 200 * KiB);
  assert_int_equal(hq_pool_reset_peak(pool), HQ_OK);
  assert_stat(pool, "allocated_bytes.all.peak", 100 * KiB);
  assert_stat(pool, "allocated_bytes.all.allocated", 200 * KiB); /* totals are not reset */
  assert_stat(pool, "max_split_size", -1);
  assert_int_equal(hq_pool_get_stats(pool, &st), HQ_OK);
  assert_int_equal(hq_pool_stats_get(&st, "allocated_bytes.all", &v), HQ_ENOENT);
  assert_int_equal(hq_pool_stats_get(&st, "allocated_bytes.gpu.current", &v), HQ_ENOENT);
  assert_int_equal(hq_pool_stats_get(&st, "bogus", &v), HQ_ENOENT);
  assert_int_equal(hq_pool_stats_get(&st, "oversize_allocations.current", &v), HQ_OK);
  assert_int_equal(v, 0);
  assert_int_equal(hq_pool_stats_get(&st, "allocation.small_pool.current", &v), HQ_OK);
  assert_int_equal(v, 1);
  assert_true(hq_pool_id(pool) > 0);
  assert_int_equal(hq_pool_free(pool, a), HQ_OK);
  hq_pool_destroy(pool);
}

static void test_pool_max_split_size(void **state) {
  (void)state;
  hq_pool_t *pool = new_pool(HQ_POOL_HOST_MMAP, 0, 4 * MiB);
  void *a, *b;
  /* 6 MiB >= max_split: the 20 MiB segment is not split, the whole block is handed out */
  assert_int_equal(hq_pool_alloc(pool, 6 * MiB, &a), HQ_OK);
  assert_stat(pool, "allocated_bytes.all.current", 20 * MiB);
  assert_stat(pool, "oversize_allocations.current", 1);
  assert_stat(pool, "oversize_segments.current", 1);
  assert_int_equal(hq_pool_free(pool, a), HQ_OK);
  /* a 2 MiB request must not take the cached oversize block: it gets a new segment */
  assert_int_equal(hq_pool_alloc(pool, 2 * MiB, &b), HQ_OK);
  assert_stat(pool, "segment.all.current", 2);
  assert_stat(pool, "allocated_bytes.all.current", 2 * MiB);
  assert_int_equal(hq_pool_free(pool, b), HQ_OK);
  hq_pool_destroy(pool);
}

/* Random alloc/free against a shadow list: blocks never overlap, stats match the shadow. */
static void check_random_sequence(hq_pool_backend_t backend) {
  enum { N = 400 };
  hq_pool_t *pool = new_pool(backend, 0, 0);
  void *ptr[N] = {0};
  size_t size[N] = {0};
  uint32_t rng = 12345;
  for (int step = 0; step < 20000; step++) {
    rng = rng * 1103515245u + 12345u;
    int i = (int)((rng >> 8) % N);
    if (ptr[i]) {
      memset(ptr[i], 0, size[i]);
      assert_int_equal(hq_pool_free(pool, ptr[i]), HQ_OK);
      ptr[i] = NULL;
    } else {
      rng = rng * 1103515245u + 12345u;
      size_t s = (rng >> 4) % 8 == 0 ? 1 + (rng >> 8) % (3 * MiB) : 1 + (rng >> 8) % 20000;
      assert_int_equal(hq_pool_alloc(pool, s, &ptr[i]), HQ_OK);
      size[i] = s;
      memset(ptr[i], 0x5a, s);
    }
  }
  int64_t live = 0, live_rounded = 0;
  for (int i = 0; i < N; i++) {
    size_t bs;
    if (!ptr[i]) continue;
    assert_int_equal(hq_pool_block_size(pool, ptr[i], &bs), HQ_OK);
    live += (int64_t)size[i];
    live_rounded += (int64_t)bs;
    for (int j = 0; j < N; j++) {
      if (j == i || !ptr[j]) continue;
      uintptr_t a0 = (uintptr_t)ptr[i], b0 = (uintptr_t)ptr[j];
      assert_true(a0 + size[i] <= b0 || b0 + size[j] <= a0);
    }
  }
  assert_stat(pool, "requested_bytes.all.current", live);
  assert_stat(pool, "allocated_bytes.all.current", live_rounded);
  for (int i = 0; i < N; i++)
    if (ptr[i]) assert_int_equal(hq_pool_free(pool, ptr[i]), HQ_OK);
  assert_stat(pool, "allocated_bytes.all.current", 0);
  assert_stat(pool, "inactive_split.all.current", 0); /* everything merged */
  assert_stat(pool, "inactive_split_bytes.all.current", 0);
  assert_int_equal(hq_pool_empty_cache(pool, NULL), HQ_OK);
  assert_stat(pool, "reserved_bytes.all.current", 0);
  assert_stat(pool, "segment.all.current", 0);
  hq_pool_destroy(pool);
}

static void test_pool_random_sequence_mmap(void **state) {
  (void)state;
  check_random_sequence(HQ_POOL_HOST_MMAP);
}

static void test_pool_random_sequence_malloc(void **state) {
  (void)state;
  check_random_sequence(HQ_POOL_HOST_MALLOC);
}

typedef struct thread_arg_s {
  hq_pool_t *pool;
  unsigned seed;
  int failures;
} thread_arg_t;

static void *thread_main(void *varg) {
  thread_arg_t *arg = varg;
  void *mine[64] = {0};
  unsigned r = arg->seed;
  for (int step = 0; step < 20000; step++) {
    r = r * 1103515245u + 12345u;
    int i = (int)((r >> 8) % 64);
    if (mine[i]) {
      if (*(unsigned *)mine[i] != arg->seed) arg->failures++; /* someone else wrote here */
      if (hq_pool_free(arg->pool, mine[i]) != HQ_OK) arg->failures++;
      mine[i] = NULL;
    } else {
      if (hq_pool_alloc(arg->pool, 16 + (r >> 12) % 70000, &mine[i]) != HQ_OK) arg->failures++;
      else *(unsigned *)mine[i] = arg->seed;
    }
  }
  for (int i = 0; i < 64; i++)
    if (mine[i] && hq_pool_free(arg->pool, mine[i]) != HQ_OK) arg->failures++;
  return NULL;
}

static void test_pool_threads(void **state) {
  (void)state;
  hq_pool_t *pool = new_pool(HQ_POOL_HOST_MMAP, 0, 0);
  pthread_t th[4];
  thread_arg_t args[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (thread_arg_t){pool, 1000u + (unsigned)i, 0};
    assert_int_equal(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(args[i].failures, 0);
  }
  assert_stat(pool, "allocation.all.current", 0);
  assert_stat(pool, "allocated_bytes.all.current", 0);
  assert_stat(pool, "inactive_split.all.current", 0);
  hq_pool_destroy(pool);
}

static void test_pool_cuda_backend_availability(void **state) {
  (void)state;
  hq_pool_config_t cfg;
  hq_pool_t *pool = NULL;
  int rc;
  hq_pool_config_init(&cfg);
  cfg.backend = HQ_POOL_CUDA;
  rc = hq_pool_create(&cfg, &pool);
#if HQ_CUDA_ENABLED
  /* With CUDA built in: a device works, no device is a clear CUDA error. */
  if (rc == HQ_OK) {
    void *d = NULL;
    assert_int_equal(hq_pool_alloc(pool, 1000, &d), HQ_OK);
    assert_stat(pool, "reserved_bytes.all.current", 2 * MiB);
    assert_int_equal(hq_pool_free(pool, d), HQ_OK);
    hq_pool_destroy(pool);
  } else {
    assert_int_equal(rc, HQ_ECUDA);
    assert_null(pool);
    print_message("no CUDA device: %s\n", hq_kernels_errmsg());
  }
#else
  assert_int_equal(rc, HQ_ENOTSUP);
  assert_null(pool);
#endif
  cfg.backend = (hq_pool_backend_t)42;
  assert_int_equal(hq_pool_create(&cfg, &pool), HQ_EINVAL);
}

static int fake_loaded;

static int group_setup(void **state) {
  (void)state;
  fake_loaded = hq_fake_annotate_load() == 0;
  return 0;
}

static void test_pool_annotations_report_blocks(void **state) {
  (void)state;
  hq_pool_config_t cfg;
  hq_pool_t *pool = NULL;
  void *a, *b, *c;
  if (!fake_loaded) fail_msg("the stand-in recorder was not loaded (make tests builds it)");
  hq_fake_counts_t before = hq_fake_counts(), now;
  hq_pool_config_init(&cfg);
  cfg.pool_id = 77;
  assert_int_equal(hq_pool_create(&cfg, &pool), HQ_OK);
  assert_int_equal(hq_pool_id(pool), 77);
  assert_int_equal(hq_pool_alloc(pool, 100, &a), HQ_OK);
  assert_int_equal(hq_pool_alloc(pool, 2000, &b), HQ_OK);
  assert_int_equal(hq_pool_alloc(pool, 5 * MiB, &c), HQ_OK);
  now = hq_fake_counts();
  assert_int_equal(now.pool_allocs - before.pool_allocs, 3);
  /* requested sizes, not rounded ones: heapql shows what the program asked for */
  assert_int_equal(now.pool_live_bytes - before.pool_live_bytes, 100 + 2000 + 5 * MiB);
  assert_int_equal(now.last_pool_id, 77);
  assert_true(now.last_misses == 2.0); /* small segment, large segment */
  assert_int_equal(hq_pool_free(pool, b), HQ_OK);
  assert_int_equal(hq_pool_free(pool, b), HQ_EINVAL); /* rejected: not reported */
  now = hq_fake_counts();
  assert_int_equal(now.pool_frees - before.pool_frees, 1);
  assert_int_equal(now.pool_live_bytes - before.pool_live_bytes, 100 + 5 * MiB);
  /* destroying the pool frees what was still allocated, and says so */
  hq_pool_destroy(pool);
  now = hq_fake_counts();
  assert_int_equal(now.pool_frees - before.pool_frees, 3);
  assert_int_equal(now.pool_live_bytes - before.pool_live_bytes, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_pool_alloc_small_rounds_and_reserves_segment),
    cmocka_unit_test(test_pool_rounding_edges),
    cmocka_unit_test(test_pool_split_merge_visible_in_stats),
    cmocka_unit_test(test_pool_best_fit),
    cmocka_unit_test(test_pool_large_segments),
    cmocka_unit_test(test_pool_empty_cache_releases_free_segments),
    cmocka_unit_test(test_pool_memory_cap_respected),
    cmocka_unit_test(test_pool_cap_retry_releases_cache),
    cmocka_unit_test(test_pool_double_release_and_foreign_pointer),
    cmocka_unit_test(test_pool_null_and_zero),
    cmocka_unit_test(test_pool_stats_keys_and_reset_peak),
    cmocka_unit_test(test_pool_max_split_size),
    cmocka_unit_test(test_pool_random_sequence_mmap),
    cmocka_unit_test(test_pool_random_sequence_malloc),
    cmocka_unit_test(test_pool_threads),
    cmocka_unit_test(test_pool_cuda_backend_availability),
    cmocka_unit_test(test_pool_annotations_report_blocks),
  };
  return cmocka_run_group_tests_name("pool", tests, group_setup, NULL);
}
