/* v_cuda_plt.c: a program linked with -lcuda (the test double) calling the driver's memory
 * entry points through the PLT, as driver-API code does.  Prints what it got, one "key=value"
 * per line, for the test to compare with the database.  Exit 0 when every call did what the
 * driver documents (the test runs it with FAKE_CUDA_FAIL=cuMemAlloc_v2@777=2). */
#include <stdio.h>

#include "victim_util.h"

int main(void) {
  CUcontext c0, c1;
  CUdeviceptr a, b, c, f, g, h, i, j, k, x = 0;
  void *d, *e;
  size_t pitch = 0;
  CUmemoryPool pool = (CUmemoryPool)0x7070;
  CUstream stream = (CUstream)0x5a5a;
  PFN_cuMemAlloc_v3020 alloc_by_proc = NULL;
  int status = -1;

  CHECK(cuInit(0));
  CHECK(cuDevicePrimaryCtxRetain(&c0, 0));
  CHECK(cuDevicePrimaryCtxRetain(&c1, 1));
  CHECK(cuCtxSetCurrent(c0));
  CHECK(cuMemAlloc_v2(&a, 1000));
  CHECK(cuMemAllocPitch_v2(&b, &pitch, 100, 10, 4));
  CHECK(cuMemAllocManaged(&c, 3000, CU_MEM_ATTACH_GLOBAL));
  CHECK(cuMemAllocHost_v2(&d, 4000));
  CHECK(cuMemHostAlloc(&e, 5000, CU_MEMHOSTALLOC_PORTABLE));
  CHECK(cuCtxSetCurrent(c1));
  CHECK(cuMemAlloc_v2(&f, 6000));
  CHECK(cuMemAllocAsync(&g, 7000, stream));
  CHECK(cuMemAllocAsync_ptsz(&h, 8000, NULL));
  CHECK(cuMemAllocFromPoolAsync(&i, 9000, pool, stream));
  CHECK(cuMemAllocFromPoolAsync_ptsz(&j, 500, pool, NULL));
  /* The same entry point reached through cuGetProcAddress: one call, one row. */
  CHECK(cuGetProcAddress_v2("cuMemAlloc", (void **)&alloc_by_proc, 3020, 0, &status));
  if (!alloc_by_proc || status != CU_GET_PROC_ADDRESS_SUCCESS) return 2;
  CHECK(alloc_by_proc(&k, 1111));
  printf("fail_rc=%d\n", cuMemAlloc_v2(&x, 777));
  CHECK(cuMemFree_v2(a));
  CHECK(cuMemFree_v2(b));
  CHECK(cuMemFreeHost(d));
  CHECK(cuMemFreeAsync(g, stream));
  CHECK(cuMemFreeAsync_ptsz(h, NULL));
  printf("bad_free_rc=%d\n", cuMemFree_v2(0xdead0000ull));
  CHECK(cuMemFree_v2(i));
  CHECK(cuMemFree_v2(k));
  printf("a=%llu\nb=%llu\nc=%llu\nd=%llu\ne=%llu\nf=%llu\ng=%llu\nh=%llu\ni=%llu\nj=%llu\nk=%llu\n",
         a, b, c, (unsigned long long)(uintptr_t)d, (unsigned long long)(uintptr_t)e, f, g, h, i,
         j, k);
  printf("pitch=%zu\n", pitch);
  printf("plt_module=%s\n", module_of(dlsym(RTLD_DEFAULT, "cuMemHostAlloc")));
  return 0;
}
