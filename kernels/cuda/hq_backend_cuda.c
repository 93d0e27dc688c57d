/*
 * hq_backend_cuda.c: device segments for the pool through the CUDA runtime (cudaMalloc /
 * cudaFree), and the NVTX memory API so device tools see the pool's sub-allocations, not only
 * its segments.  Built only when HQ_CUDA=1 (compiled by the C compiler against the toolkit's
 * headers; no device code).
 */
#include <stdint.h>
#include <stdlib.h>
#include <cuda_runtime_api.h>
#include <nvtx3/nvToolsExtMem.h>

#include "heapql/annotate.h"

#include "heapql/kernels.h"
#include "../hq_backend.h"
#include "../kernels_int.h"

typedef struct cuda_ctx_s {
  int device;
  nvtxDomainHandle_t domain;
} cuda_ctx_t;

static int cuda_open(int device, void **out_ctx) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  cuda_ctx_t *ctx;
  if (e != cudaSuccess)
    return hq__kerr(HQ_ECUDA, "pool: no CUDA device: %s", cudaGetErrorString(e));
  if (device < 0 || device >= n)
    return hq__kerr(HQ_ECUDA, "pool: CUDA device %d does not exist (%d present)", device, n);
  ctx = calloc(1, sizeof *ctx);
  if (!ctx) return hq__kerr(HQ_ENOMEM, "pool: out of memory");
  ctx->device = device;
  ctx->domain = nvtxDomainCreateA("heapql.pool");
  *out_ctx = ctx;
  return HQ_OK;
}

/* The pool's device for one call, and the caller's back after it: a pool on device 1 must not
 * leave the program's thread on device 1. */
static cudaError_t enter_device(int device, int *saved) {
  cudaError_t e = cudaGetDevice(saved);
  if (e != cudaSuccess) *saved = -1;
  return *saved == device ? cudaSuccess : cudaSetDevice(device);
}
static void leave_device(int device, int saved) {
  if (saved >= 0 && saved != device) (void)cudaSetDevice(saved);
}

static int cuda_seg_alloc(void *vctx, size_t size, void **out_ptr, void **out_cookie) {
  cuda_ctx_t *ctx = vctx;
  void *p = NULL;
  int saved;
  cudaError_t e = enter_device(ctx->device, &saved);
  if (e == cudaSuccess) e = cudaMalloc(&p, size);
  leave_device(ctx->device, saved);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError(); /* clear the sticky-free error so the retry starts clean */
    return hq__kerr(HQ_ENOMEM, "pool: cudaMalloc(%zu) on device %d: out of memory", size,
                    ctx->device);
  }
  if (e != cudaSuccess)
    return hq__kerr(HQ_ECUDA, "pool: cudaMalloc(%zu) on device %d: %s", size, ctx->device,
                    cudaGetErrorString(e));
  {
    /* The segment is a heap for NVTX; the blocks carved from it are its regions. */
    nvtxMemVirtualRangeDesc_t range = {size, p};
    nvtxMemHeapDesc_t desc = {0};
    desc.extCompatID = NVTX_EXT_COMPATID_MEM;
    desc.structSize = sizeof desc;
    desc.usage = NVTX_MEM_HEAP_USAGE_TYPE_SUB_ALLOCATOR;
    desc.type = NVTX_MEM_TYPE_VIRTUAL_ADDRESS;
    desc.typeSpecificDescSize = sizeof range;
    desc.typeSpecificDesc = &range;
    *out_cookie = (void *)nvtxMemHeapRegister(ctx->domain, &desc);
  }
  *out_ptr = p;
  return HQ_OK;
}

static int cuda_seg_free(void *vctx, void *ptr, size_t size, void *cookie) {
  cuda_ctx_t *ctx = vctx;
  cudaError_t e;
  (void)size;
  int saved;
  if (cookie) nvtxMemHeapUnregister(ctx->domain, (nvtxMemHeapHandle_t)cookie);
  e = enter_device(ctx->device, &saved);
  if (e == cudaSuccess) e = cudaFree(ptr);
  leave_device(ctx->device, saved);
  if (e != cudaSuccess)
    return hq__kerr(HQ_ECUDA, "pool: cudaFree(%p) on device %d: %s", ptr, ctx->device,
                    cudaGetErrorString(e));
  return HQ_OK;
}

/* The blocks carved from a segment, for NVTX tools (Nsight).  Not while heapql records: it has
 * each block from the pool itself (annotate.h, with the pool's id), and would count it twice. */
static void cuda_sub_alloc(void *vctx, void *cookie, void *ptr, size_t size) {
  cuda_ctx_t *ctx = vctx;
  nvtxMemVirtualRangeDesc_t range = {size, ptr};
  nvtxMemRegionsRegisterBatch_t batch = {0};
  if (hq_annotate_active()) return;
  batch.extCompatID = NVTX_EXT_COMPATID_MEM;
  batch.structSize = sizeof batch;
  batch.heap = (nvtxMemHeapHandle_t)cookie;
  batch.regionType = NVTX_MEM_TYPE_VIRTUAL_ADDRESS;
  batch.regionCount = 1;
  batch.regionDescElementSize = sizeof range;
  batch.regionDescElements = &range;
  nvtxMemRegionsRegister(ctx->domain, &batch);
}

static void cuda_sub_free(void *vctx, void *cookie, void *ptr) {
  cuda_ctx_t *ctx = vctx;
  (void)cookie;
  nvtxMemRegionRef_t ref;
  nvtxMemRegionsUnregisterBatch_t batch = {0};
  if (hq_annotate_active()) return;
  ref.pointer = ptr;
  batch.extCompatID = NVTX_EXT_COMPATID_MEM;
  batch.structSize = sizeof batch;
  batch.refType = NVTX_MEM_REGION_REF_TYPE_POINTER;
  batch.refCount = 1;
  batch.refElementSize = sizeof ref;
  batch.refElements = &ref;
  nvtxMemRegionsUnregister(ctx->domain, &batch);
}

static void cuda_close(void *vctx) {
  cuda_ctx_t *ctx = vctx;
  if (!ctx) return;
  if (ctx->domain) nvtxDomainDestroy(ctx->domain);
  free(ctx);
}

static const hq__backend_t cuda_backend = {
  "cuda", cuda_open, cuda_seg_alloc, cuda_seg_free, cuda_sub_alloc, cuda_sub_free, cuda_close,
};

const hq__backend_t *hq__backend_cuda(void) { return &cuda_backend; }
