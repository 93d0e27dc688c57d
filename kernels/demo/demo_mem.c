/*
 * demo_mem.c: the demo's one allocation hook.  Everything the demo and its model allocate goes
 * through demo_alloc: aligned malloc by default, the kernels' caching pool with --pool (its
 * segments are mmap'd, so the recorder sees pool blocks, not a stream of heap calls).
 */
#include <stdlib.h>
#include <string.h>

#include "demo.h"

int demo_mem_init(demo_mem_t *mem, int use_pool) {
  memset(mem, 0, sizeof *mem);
  if (!use_pool) return HQ_OK;
  hq_pool_config_t cfg;
  hq_pool_config_init(&cfg);
  return hq_pool_create(&cfg, &mem->pool);
}

void demo_mem_fini(demo_mem_t *mem) {
  hq_pool_destroy(mem->pool);
  mem->pool = NULL;
}

void *demo_alloc(demo_mem_t *mem, size_t bytes) {
  void *p = NULL;
  if (bytes == 0) return NULL;
  if (mem->pool) {
    if (hq_pool_alloc(mem->pool, bytes, &p) != HQ_OK) return NULL;
  } else {
    p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!p) return NULL;
  }
  mem->allocations++;
  mem->live_bytes += bytes;
  if (mem->live_bytes > mem->peak_bytes) mem->peak_bytes = mem->live_bytes;
  return p;
}

void demo_free(demo_mem_t *mem, void *ptr, size_t bytes) {
  if (!ptr) return;
  mem->live_bytes -= bytes;
  if (mem->pool)
    hq_pool_free(mem->pool, ptr);
  else
    free(ptr);
}

static void *model_alloc(void *ctx, size_t bytes) { return demo_alloc(ctx, bytes); }

static void model_release(void *ctx, void *ptr, size_t bytes) { demo_free(ctx, ptr, bytes); }

hq_model_allocator_t demo_model_allocator(demo_mem_t *mem) {
  return (hq_model_allocator_t){model_alloc, model_release, mem};
}
