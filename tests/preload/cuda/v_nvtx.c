/* v_nvtx.c: a program built with the CUDA toolkit's NVTX3 headers (compiled by the test, where
 * the headers are found) and linked with the libcuda.so.1 test double.  Nested push/pop ranges
 * in the default domain and in a domain of its own (a category named, a registered string),
 * host and device allocations inside them, a start/end range ended by another thread, and the
 * NVTX memory API describing a sub-allocator's regions.  Sizes are distinct so the test can
 * name each block.  Prints "ok" when every call returned what NVTX documents. */
#include <nvtx3/nvToolsExt.h>
#if __has_include(<nvtx3/nvToolsExtMem.h>)
#include <nvtx3/nvToolsExtMem.h>
#define HAVE_MEM 1
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "fake_cuda.h"

static void *end_epoch(void *arg) {
  nvtxRangeEnd(*(nvtxRangeId_t *)arg);
  return NULL;
}

static void *keep[16];

int main(void) {
  nvtxDomainHandle_t train = nvtxDomainCreateA("train");
  nvtxEventAttributes_t at = {0};
  nvtxRangeId_t epoch;
  CUdeviceptr dev = 0;
  CUcontext ctx;
  pthread_t t;

  nvtxDomainNameCategoryA(train, 7, "forward");
  epoch = nvtxRangeStartA("epoch");                  /* process-wide, ended by another thread */
  nvtxRangePushA("outer");                           /* default domain */
  keep[0] = malloc(1111);                            /* in "outer" */
  at.version = NVTX_VERSION;
  at.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
  at.category = 7;
  at.messageType = NVTX_MESSAGE_TYPE_ASCII;
  at.message.ascii = "step";
  nvtxDomainRangePushEx(train, &at);                 /* "step" in "outer", domain train */
  keep[1] = malloc(2222);                            /* in "step" */
  if (cuInit(0) != CUDA_SUCCESS || cuDevicePrimaryCtxRetain(&ctx, 0) != CUDA_SUCCESS ||
      cuCtxSetCurrent(ctx) != CUDA_SUCCESS || cuMemAlloc_v2(&dev, 3333) != CUDA_SUCCESS)
    return 1;
  at.category = 0;
  at.messageType = NVTX_MESSAGE_TYPE_REGISTERED;
  at.message.registered = nvtxDomainRegisterStringA(train, "registered");
  nvtxDomainRangePushEx(train, &at);                 /* "registered" in "step" */
  keep[2] = malloc(4444);
  nvtxDomainRangePop(train);
  nvtxDomainRangePop(train);
  nvtxRangePop();
  keep[3] = malloc(5555);                            /* in no range */
  if (pthread_create(&t, NULL, end_epoch, &epoch) || pthread_join(t, NULL)) return 1;
#ifdef HAVE_MEM
  {
    char *heap = malloc(1 << 20);
    nvtxMemVirtualRangeDesc_t whole = {1 << 20, heap};
    nvtxMemHeapDesc_t hd = {0};
    nvtxMemHeapHandle_t h;
    nvtxMemVirtualRangeDesc_t regions[3] = {{100, heap}, {200, heap + 4096}, {300, heap + 8192}};
    nvtxMemRegionHandle_t handles[3];
    nvtxMemRegionsRegisterBatch_t rb = {0};
    nvtxMemRegionRef_t first = {.pointer = heap};
    nvtxMemRegionsUnregisterBatch_t ub = {0};
    nvtxMemVirtualRangeDesc_t grown = {250, heap + 4096};
    nvtxMemRegionsResizeBatch_t zb = {0};
    nvtxMemVirtualRangeDesc_t last = {400, heap + 16384};
    keep[4] = heap;
    hd.extCompatID = NVTX_EXT_COMPATID_MEM;
    hd.structSize = sizeof hd;
    hd.usage = NVTX_MEM_HEAP_USAGE_TYPE_SUB_ALLOCATOR;
    hd.type = NVTX_MEM_TYPE_VIRTUAL_ADDRESS;
    hd.typeSpecificDescSize = sizeof whole;
    hd.typeSpecificDesc = &whole;
    h = nvtxMemHeapRegister(train, &hd);
    if (!h) return 3;
    rb.extCompatID = NVTX_EXT_COMPATID_MEM;
    rb.structSize = sizeof rb;
    rb.regionType = NVTX_MEM_TYPE_VIRTUAL_ADDRESS;
    rb.heap = h;
    rb.regionCount = 3;
    rb.regionDescElementSize = sizeof regions[0];
    rb.regionDescElements = regions;
    rb.regionHandleElementsOut = handles;
    nvtxMemRegionsRegister(train, &rb);                /* three pool blocks: 100, 200, 300 */
    ub.extCompatID = NVTX_EXT_COMPATID_MEM;
    ub.structSize = sizeof ub;
    ub.refType = NVTX_MEM_REGION_REF_TYPE_POINTER;
    ub.refCount = 1;
    ub.refElementSize = sizeof first;
    ub.refElements = &first;
    nvtxMemRegionsUnregister(train, &ub);              /* 100 released */
    zb.extCompatID = NVTX_EXT_COMPATID_MEM;
    zb.structSize = sizeof zb;
    zb.regionType = NVTX_MEM_TYPE_VIRTUAL_ADDRESS;
    zb.regionDescCount = 1;
    zb.regionDescElementSize = sizeof grown;
    zb.regionDescElements = &grown;
    nvtxMemRegionsResize(train, &zb);                  /* 200 becomes 250 */
    nvtxMemHeapReset(train, h);                        /* 250 and 300 released */
    rb.regionCount = 1;
    rb.regionDescElements = &last;
    nvtxMemRegionsRegister(train, &rb);                /* 400, still live at exit */
    printf("mem=1\n");
  }
#endif
  printf("ok\n");
  return 0;
}
