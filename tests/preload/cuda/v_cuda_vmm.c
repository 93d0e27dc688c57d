/* v_cuda_vmm.c: CUDA virtual memory management (linked with -lcuda).  Physical memory is
 * returned only after cuMemRelease AND the unmap of every mapping, whichever comes last:
 *   h1 (2 MiB, device 0): mapped, released while mapped, freed by the unmap
 *   h2 (2 MiB, device 1): mapped, unmapped, freed by its release
 *   h3 (1 MiB): never mapped, never released (leak)
 *   h4 (1 MiB): mapped and left mapped, never released (leak, mapping open)
 * plus a failed cuMemCreate (FAKE_CUDA_FAIL=cuMemCreate@12345=2) and a reserve/free pair. */
#include <stdio.h>

#include "victim_util.h"

#define MIB (1ull << 20)

int main(void) {
  CUcontext ctx;
  CUdeviceptr va, va2;
  CUmemGenericAllocationHandle h1, h2, h3, h4, bad = 0;
  CUmemAllocationProp p0, p1;
  memset(&p0, 0, sizeof p0);
  p0.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  p0.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  p0.location.id = 0;
  p1 = p0;
  p1.location.id = 1;
  CHECK(cuInit(0));
  CHECK(cuDevicePrimaryCtxRetain(&ctx, 0));
  CHECK(cuCtxSetCurrent(ctx));
  CHECK(cuMemAddressReserve(&va, 4 * MIB, 0, 0, 0));
  CHECK(cuMemCreate(&h1, 2 * MIB, &p0, 0));
  CHECK(cuMemCreate(&h2, 2 * MIB, &p1, 0));
  CHECK(cuMemMap(va, 2 * MIB, 0, h1, 0));
  CHECK(cuMemMap(va + 2 * MIB, 2 * MIB, 0, h2, 0));
  CHECK(cuMemRelease(h1));
  CHECK(cuMemUnmap(va, 4 * MIB));
  CHECK(cuMemRelease(h2));
  CHECK(cuMemCreate(&h3, 1 * MIB, &p0, 0));
  CHECK(cuMemCreate(&h4, 1 * MIB, &p0, 0));
  CHECK(cuMemMap(va, 1 * MIB, 0, h4, 0));
  printf("fail_rc=%d\n", cuMemCreate(&bad, 12345, &p0, 0));
  CHECK(cuMemAddressReserve(&va2, 1 * MIB, 0, 0, 0));
  CHECK(cuMemAddressFree(va2, 1 * MIB));
  printf("va=%llu\nh1=%llu\nh2=%llu\nh3=%llu\nh4=%llu\n", va, h1, h2, h3, h4);
  return 0;
}
