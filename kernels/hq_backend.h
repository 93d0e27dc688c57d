/*
 * hq_backend.h: where the pool's segments come from (mimalloc prim.h model).
 *
 * A backend is a table of functions; the pool calls nothing else to get or give back memory,
 * so host/CUDA differences live behind this table.  Contracts:
 *   open       prepare for `device` (ignored by host backends); *out_ctx is passed to the others.
 *              HQ_OK, HQ_ENOTSUP, HQ_ECUDA (with hq__kerr detail).  May be NULL (ctx NULL).
 *   seg_alloc  size bytes (a multiple of 512), aligned to at least 512; *out_cookie is kept
 *              by the pool with the segment and handed back below (NVTX heap handle on CUDA).
 *              HQ_OK, or HQ_ENOMEM when the memory is not there (the pool then releases its
 *              cache and retries), or HQ_ECUDA for any other device failure.
 *   seg_free   give back a segment from seg_alloc, with its size.  HQ_OK, HQ_EIO or HQ_ECUDA.
 *   sub_alloc, sub_free  tell device tools about a block carved from a segment (NVTX memory
 *              API on CUDA); may be NULL.  Host pools report to heapql directly.
 *   close      undo open.  May be NULL.
 * Called with the pool's mutex held; none of them may call back into the pool.
 */
#ifndef HQ_BACKEND_H
#define HQ_BACKEND_H

#include <stddef.h>
#include "heapql/kernels.h"

typedef struct hq__backend_s {
  const char *name;
  int  (*open)(int device, void **out_ctx);
  int  (*seg_alloc)(void *ctx, size_t size, void **out_ptr, void **out_cookie);
  int  (*seg_free)(void *ctx, void *ptr, size_t size, void *cookie);
  void (*sub_alloc)(void *ctx, void *cookie, void *ptr, size_t size);
  void (*sub_free)(void *ctx, void *cookie, void *ptr);
  void (*close)(void *ctx);
} hq__backend_t;

/* hq_backend_host.c */
extern const hq__backend_t hq__backend_host_mmap;
extern const hq__backend_t hq__backend_host_malloc;

/* cuda/hq_backend_cuda.c when built with CUDA, cuda/hq_cuda_stub.c otherwise (NULL). */
const hq__backend_t *hq__backend_cuda(void);

#endif /* HQ_BACKEND_H */
