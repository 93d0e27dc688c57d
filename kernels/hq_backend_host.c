/* hq_backend_host.c: host segments for the pool, from anonymous mmap or from malloc. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hq_backend.h"
#include "kernels_int.h"

static int mmap_seg_alloc(void *ctx, size_t size, void **out_ptr, void **out_cookie) {
  (void)ctx;
  *out_cookie = NULL;
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return hq__kerr(HQ_ENOMEM, "pool: mmap of a %zu-byte segment failed: %s", size,
                    strerror(errno));
  *out_ptr = p;
  return HQ_OK;
}

static int mmap_seg_free(void *ctx, void *ptr, size_t size, void *cookie) {
  (void)ctx;
  (void)cookie;
  if (munmap(ptr, size) != 0)
    return hq__kerr(HQ_EIO, "pool: munmap of a %zu-byte segment failed: %s", size,
                    strerror(errno));
  return HQ_OK;
}

static int malloc_seg_alloc(void *ctx, size_t size, void **out_ptr, void **out_cookie) {
  (void)ctx;
  *out_cookie = NULL;
  void *p = NULL;
  if (posix_memalign(&p, 512, size) != 0)
    return hq__kerr(HQ_ENOMEM, "pool: malloc of a %zu-byte segment failed", size);
  *out_ptr = p;
  return HQ_OK;
}

static int malloc_seg_free(void *ctx, void *ptr, size_t size, void *cookie) {
  (void)ctx;
  (void)cookie;
  (void)size;
  free(ptr);
  return HQ_OK;
}

const hq__backend_t hq__backend_host_mmap = {
  "host-mmap", NULL, mmap_seg_alloc, mmap_seg_free, NULL, NULL, NULL,
};

const hq__backend_t hq__backend_host_malloc = {
  "host-malloc", NULL, malloc_seg_alloc, malloc_seg_free, NULL, NULL, NULL,
};
