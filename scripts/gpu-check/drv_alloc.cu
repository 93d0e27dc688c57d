// drv_alloc.cu: the driver API called directly (linked with -lcuda: PLT binding), stream-ordered
// allocation from the default and an explicit pool, VMM, and one call that must fail.  Built
// plain and with --default-stream per-thread by scripts/gpu-check.sh.  Output lines as in
// rt_alloc.cu, plus
//   EXPECT_FAIL API SIZE RESULT   a cuda_calls row with that result code
//   EXPECT_VMM HANDLE SIZE WHEN   the cuda_vmm row's t_free is the t of the cuMemUnmap (WHEN =
//                                 unmap: released while mapped) or of its cuMemRelease (release)
#include <cuda.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CK(x)                                                                          \
  do {                                                                                 \
    CUresult e_ = (x);                                                                 \
    if (e_ != CUDA_SUCCESS) {                                                          \
      const char *s_ = "?";                                                            \
      cuGetErrorString(e_, &s_);                                                       \
      fprintf(stderr, "drv_alloc: %s: %d %s\n", #x, (int)e_, s_);                      \
      return 1;                                                                        \
    }                                                                                  \
  } while (0)

int main(void) {
  CUdevice dev;
  CUcontext ctx;
  CUdeviceptr a, b, c, as, ap, x = 0, va;
  void *h, *h2;
  size_t pitch = 0, gran = 0, size;
  CUstream s;
  CUmemoryPool pool;
  CUmemGenericAllocationHandle v1, v2;
  CUmemAllocationProp prop;
  CUmemAccessDesc access;
  CUresult rc;
  CK(cuInit(0));
  CK(cuDeviceGet(&dev, 0));
  CK(cuDevicePrimaryCtxRetain(&ctx, dev));
  CK(cuCtxSetCurrent(ctx));
  CK(cuMemAlloc(&a, 2000003));
  printf("EXPECT cuda_device 2000003 1\nEXPECT_DEVICE 2000003 0\n");
  CK(cuMemAllocPitch(&b, &pitch, 2001, 9, 4));
  printf("EXPECT cuda_device %zu 1\n", pitch * 9);
  CK(cuMemAllocManaged(&c, 2000029, CU_MEM_ATTACH_GLOBAL));
  printf("EXPECT cuda_managed 2000029 1\n");
  CK(cuMemAllocHost(&h, 2000039));
  printf("EXPECT cuda_host 2000039 1\n");
  CK(cuMemHostAlloc(&h2, 2000081, 0));
  printf("EXPECT cuda_host 2000081 1\n");
  CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  CK(cuMemAllocAsync(&as, 2000083, s));
  printf("EXPECT cuda_async 2000083 1\nEXPECT_STREAM 2000083 %llu\n", (unsigned long long)(uintptr_t)s);
  CK(cuDeviceGetDefaultMemPool(&pool, dev));
  CK(cuMemAllocFromPoolAsync(&ap, 2000099, pool, s));
  printf("EXPECT cuda_async 2000099 1\n");
#ifdef CUDA_API_PER_THREAD_DEFAULT_STREAM
  printf("CALL cuMemAllocAsync_ptsz\nCALL cuMemAllocFromPoolAsync_ptsz\nCALL cuMemFreeAsync_ptsz\n");
#else
  printf("CALL cuMemAllocAsync\nCALL cuMemAllocFromPoolAsync\nCALL cuMemFreeAsync\n");
#endif
  rc = cuMemAlloc(&x, (size_t)1 << 50); /* a petabyte: fails */
  printf("EXPECT_FAIL cuMemAlloc_v2 %zu %d\n", (size_t)1 << 50, (int)rc);

  /* VMM: two physical chunks mapped back to back; v1 released while mapped. */
  memset(&prop, 0, sizeof prop);
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = dev;
  CK(cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
  size = 2 * gran;
  CK(cuMemAddressReserve(&va, 2 * size, 0, 0, 0));
  CK(cuMemCreate(&v1, size, &prop, 0));
  CK(cuMemCreate(&v2, size, &prop, 0));
  CK(cuMemMap(va, size, 0, v1, 0));
  CK(cuMemMap(va + size, size, 0, v2, 0));
  memset(&access, 0, sizeof access);
  access.location = prop.location;
  access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  CK(cuMemSetAccess(va, 2 * size, &access, 1));
  CK(cuMemsetD8(va, 0x5a, 2 * size));
  CK(cuMemRelease(v1));
  CK(cuMemUnmap(va, 2 * size));
  CK(cuMemRelease(v2));
  CK(cuMemAddressFree(va, 2 * size));
  printf("EXPECT_VMM %llu %zu unmap\nEXPECT_VMM %llu %zu release\n", (unsigned long long)v1, size,
         (unsigned long long)v2, size);
  printf("CALL cuMemAddressReserve\nCALL cuMemAddressFree\nCALL cuMemMap\nCALL cuMemUnmap\n");

  CK(cuMemFree(a));
  CK(cuMemFree(b));
  CK(cuMemFree(c));
  CK(cuMemFreeHost(h));
  CK(cuMemFreeHost(h2));
  CK(cuMemFreeAsync(as, s));
  CK(cuMemFreeAsync(ap, s));
  CK(cuStreamSynchronize(s));
  CK(cuStreamDestroy(s));
  CK(cuDevicePrimaryCtxRelease(dev));
  return 0;
}
