/* v_cuda_dlopen.c: the way static cudart reaches the driver (reference A2).  Not linked with
 * libcuda: dlopen("libcuda.so.1") (found through this program's RUNPATH), one
 * dlsym(handle, "cuGetProcAddress_v2"), then every entry point through the pointer returned for
 * ("cuGetProcAddress", 12000).  Prints which module each pointer it was handed lives in. */
#include <stdio.h>

#include "victim_util.h"

typedef CUresult (*retain_fn)(CUcontext *, CUdevice);
typedef CUresult (*set_ctx_fn)(CUcontext);
typedef CUresult (*managed_fn)(CUdeviceptr *, size_t, unsigned);

#define LOOKUP(gpa, name, out, version, flags)                                          \
  do {                                                                                  \
    int st_ = -1;                                                                       \
    if (gpa(name, (void **)&(out), version, flags, &st_) != CUDA_SUCCESS || !(out)) {   \
      printf("lookup failed: %s@%d\n", name, version);                                  \
      return 3;                                                                         \
    }                                                                                   \
  } while (0)

int main(void) {
  void *h = dlopen("libcuda.so.1", RTLD_NOW);
  PFN_cuGetProcAddress_v12000 bootstrap, gpa;
  PFN_cuGetProcAddress_v11030 gpa4;
  PFN_cuInit_v2000 init;
  retain_fn retain;
  set_ctx_fn set_ctx;
  PFN_cuMemAlloc_v3020 alloc, alloc_dlsym;
  PFN_cuMemAllocAsync_v11020 alloc_async;
  PFN_cuMemFree_v3020 mem_free;
  PFN_cuMemFreeAsync_v11020 free_async;
  managed_fn managed;
  void *legacy = NULL;
  CUcontext ctx;
  CUdeviceptr p, q, r, s;
  int st = -1;
  if (!h) return 2;
  bootstrap = (PFN_cuGetProcAddress_v12000)dlsym(h, "cuGetProcAddress_v2");
  if (!bootstrap) return 2;
  printf("bootstrap=%s\n", module_of((void *)bootstrap));
  LOOKUP(bootstrap, "cuInit", init, 2000, 0);
  LOOKUP(bootstrap, "cuGetProcAddress", gpa, 12000, 0);
  gpa4 = NULL;
  if (bootstrap("cuGetProcAddress", (void **)&gpa4, 11030, 0, &st) != CUDA_SUCCESS || !gpa4) return 3;
  printf("init=%s\ngpa=%s\ngpa4=%s\n", module_of((void *)init), module_of((void *)gpa),
         module_of((void *)gpa4));
  if (init(0) != CUDA_SUCCESS) return 4;
  LOOKUP(gpa, "cuDevicePrimaryCtxRetain", retain, 7000, 0);
  LOOKUP(gpa, "cuCtxSetCurrent", set_ctx, 4000, 0);
  if (retain(&ctx, 0) != CUDA_SUCCESS || set_ctx(ctx) != CUDA_SUCCESS) return 4;
  LOOKUP(gpa, "cuMemAlloc", alloc, 3020, 0);
  LOOKUP(gpa, "cuMemAllocAsync", alloc_async, 11020, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM);
  LOOKUP(gpa, "cuMemFree", mem_free, 3020, 0);
  LOOKUP(gpa, "cuMemFreeAsync", free_async, 11020, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM);
  if (gpa4("cuMemAllocManaged", (void **)&managed, 6000, 0) != CUDA_SUCCESS || !managed) return 3;
  /* The legacy 32-bit cuMemAlloc: not a variant heapql wraps; handed back untouched. */
  LOOKUP(gpa, "cuMemAlloc", legacy, 2000, 0);
  printf("alloc=%s\nalloc_async=%s\nmanaged=%s\nlegacy=%s\n", module_of((void *)alloc),
         module_of((void *)alloc_async), module_of((void *)managed), module_of(legacy));
  printf("alloc_async_is_ptsz=%d\n",
         (void *)alloc_async == dlsym(RTLD_DEFAULT, "cuMemAllocAsync_ptsz") ||
         (void *)alloc_async == dlsym(h, "cuMemAllocAsync_ptsz"));
  alloc_dlsym = (PFN_cuMemAlloc_v3020)dlsym(h, "cuMemAlloc_v2");
  printf("alloc_dlsym=%s\ninit_dlsym=%s\n", module_of((void *)alloc_dlsym),
         module_of(dlsym(h, "cuInit")));
  if (alloc(&p, 11111) || alloc_async(&q, 22222, NULL) || managed(&r, 33333, CU_MEM_ATTACH_GLOBAL) ||
      !alloc_dlsym || alloc_dlsym(&s, 44444))
    return 5;
  if (mem_free(p) || free_async(q, NULL)) return 6;
  printf("p=%llu\nq=%llu\nr=%llu\ns=%llu\n", p, q, r, s);
  return 0;
}
