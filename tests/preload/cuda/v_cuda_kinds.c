/* v_cuda_kinds.c: the driver's other ways to hold memory, through the test double: host memory
 * registered (pinned in place), CUDA arrays (1D/2D, 3D, mipmapped, and a block-compressed format
 * whose size heapql does not know), another process's allocation opened by IPC, next to one
 * ordinary device allocation, and graph launches.  Some released, some left live.  Prints "ok". */
#include <stdio.h>
#include <string.h>

#include "victim_util.h"

static char pinned[8192];

int main(void) {
  CUcontext ctx;
  CUarray a, b, c, d;
  CUmipmappedArray m;
  CUdeviceptr peer = 0, own = 0;
  CUipcMemHandle ipc;
  size_t peer_size = 65536;
  PFN_cuArrayCreate_v3020 create_by_proc = NULL;
  int status = -1;
  CUDA_ARRAY_DESCRIPTOR d2 = {100, 50, CU_AD_FORMAT_FLOAT, 4};           /* 100*50*4*4 = 80000 */
  CUDA_ARRAY3D_DESCRIPTOR d3 = {32, 16, 8, CU_AD_FORMAT_HALF, 2, 0};     /* 32*16*8*2*2 = 16384 */
  CUDA_ARRAY3D_DESCRIPTOR dm = {64, 64, 0, CU_AD_FORMAT_UNSIGNED_INT8, 1, 0}; /* 4096+1024+256 */
  CUDA_ARRAY_DESCRIPTOR dbc = {64, 64, CU_AD_FORMAT_BC1_UNORM, 4};       /* size unknown: 0 */

  CHECK(cuInit(0));
  CHECK(cuDevicePrimaryCtxRetain(&ctx, 0));
  CHECK(cuCtxSetCurrent(ctx));
  CHECK(cuMemHostRegister_v2(pinned, sizeof pinned, CU_MEMHOSTREGISTER_PORTABLE));
  CHECK(cuArrayCreate_v2(&a, &d2));
  CHECK(cuArray3DCreate_v2(&b, &d3));
  CHECK(cuMipmappedArrayCreate(&m, &dm, 3));
  CHECK(cuArrayCreate_v2(&c, &dbc));
  memset(&ipc, 0, sizeof ipc);
  memcpy(ipc.reserved, &peer_size, sizeof peer_size);
  CHECK(cuIpcOpenMemHandle_v2(&peer, ipc, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
  CHECK(cuMemAlloc_v2(&own, 1000));
  CHECK(cuArrayDestroy(b));
  CHECK(cuMipmappedArrayDestroy(m));
  CHECK(cuIpcCloseMemHandle(peer));
  CHECK(cuMemHostUnregister(pinned));
  /* the same entry point through cuGetProcAddress: one call, one row */
  CHECK(cuGetProcAddress_v2("cuArrayCreate", (void **)&create_by_proc, 3020, 0, &status));
  if (!create_by_proc || status != CU_GET_PROC_ADDRESS_SUCCESS) return 2;
  CHECK(create_by_proc(&d, &d2));
  {
    /* another process's allocation imported as a handle (the double takes its size as the os
     * handle), mapped into a reservation, unmapped, released */
    CUmemGenericAllocationHandle imp;
    CUdeviceptr va;
    CHECK(cuMemImportFromShareableHandle(&imp, (void *)(uintptr_t)131072,
                                         CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR));
    CHECK(cuMemAddressReserve(&va, 131072, 0, 0, 0));
    CHECK(cuMemMap(va, 131072, 0, imp, 0));
    CHECK(cuMemUnmap(va, 131072));
    CHECK(cuMemRelease(imp));
    CHECK(cuMemAddressFree(va, 131072));
  }
  /* two graph launches, each leaving 4096 B of graph memory (this double's convention) */
  CHECK(cuGraphLaunch((CUgraphExec)(uintptr_t)4096, NULL));
  CHECK(cuGraphLaunch_ptsz((CUgraphExec)(uintptr_t)4096, NULL));
  printf("ok\n");
  return 0;
}
