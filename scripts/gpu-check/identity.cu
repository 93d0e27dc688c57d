// identity.cu: run WITHOUT heapql.  heapql maps what cuGetProcAddress returns to its hooks by
// pointer identity, which assumes the driver hands out the addresses of its exported symbols
// (reference A4/A6).  For every entry point heapql wraps, at several versions and all three
// flags, the pointer must equal dlsym(libcuda, exact versioned name).  Exit 1 on any mismatch.
#include <cuda.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef CUresult (*gpa_v2_fn)(const char *, void **, int, cuuint64_t, CUdriverProcAddressQueryResult *);

static const struct {
  const char *base, *exact, *exact_ptsz;
  int version;
} names[] = {
  {"cuMemAlloc", "cuMemAlloc_v2", NULL, 3020},
  {"cuMemAllocPitch", "cuMemAllocPitch_v2", NULL, 3020},
  {"cuMemAllocManaged", "cuMemAllocManaged", NULL, 6000},
  {"cuMemAllocHost", "cuMemAllocHost_v2", NULL, 3020},
  {"cuMemHostAlloc", "cuMemHostAlloc", NULL, 2020},
  {"cuMemFree", "cuMemFree_v2", NULL, 3020},
  {"cuMemFreeHost", "cuMemFreeHost", NULL, 2000},
  {"cuMemAllocAsync", "cuMemAllocAsync", "cuMemAllocAsync_ptsz", 11020},
  {"cuMemAllocFromPoolAsync", "cuMemAllocFromPoolAsync", "cuMemAllocFromPoolAsync_ptsz", 11020},
  {"cuMemFreeAsync", "cuMemFreeAsync", "cuMemFreeAsync_ptsz", 11020},
  {"cuMemCreate", "cuMemCreate", NULL, 10020},
  {"cuMemRelease", "cuMemRelease", NULL, 10020},
  {"cuMemMap", "cuMemMap", NULL, 10020},
  {"cuMemUnmap", "cuMemUnmap", NULL, 10020},
  {"cuMemAddressReserve", "cuMemAddressReserve", NULL, 10020},
  {"cuMemAddressFree", "cuMemAddressFree", NULL, 10020},
  {"cuGetProcAddress", "cuGetProcAddress", NULL, 11030},
  {"cuGetProcAddress", "cuGetProcAddress_v2", NULL, 12000},
};

int main(void) {
  void *h = dlopen("libcuda.so.1", RTLD_NOW);
  gpa_v2_fn gpa;
  int bad = 0, checked = 0, driver = 0;
  static const int versions[] = {0, 12000, 13000};
  if (!h) {
    fprintf(stderr, "identity: no libcuda.so.1: %s\n", dlerror());
    return 2;
  }
  gpa = (gpa_v2_fn)dlsym(h, "cuGetProcAddress_v2");
  if (!gpa) {
    fprintf(stderr, "identity: libcuda.so.1 has no cuGetProcAddress_v2\n");
    return 2;
  }
  {
    CUresult (*get_version)(int *) = (CUresult (*)(int *))dlsym(h, "cuDriverGetVersion");
    if (get_version) get_version(&driver);
  }
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    for (int vi = 0; vi < 3; vi++) {
      int version = versions[vi] ? versions[vi] : names[i].version;
      if (!strcmp(names[i].exact, "cuGetProcAddress") && version >= 12000) continue;
      if (!strcmp(names[i].exact, "cuGetProcAddress_v2") && version < 12000) continue;
      for (unsigned flags = 0; flags <= 2; flags++) {
        const char *exact = flags == 2 && names[i].exact_ptsz ? names[i].exact_ptsz : names[i].exact;
        void *p = NULL, *want = dlsym(h, exact);
        CUdriverProcAddressQueryResult st;
        CUresult rc = gpa(names[i].base, &p, version, flags, &st);
        checked++;
        if (rc != CUDA_SUCCESS || p != want || !want) {
          printf("MISMATCH %s@%d/%u: cuGetProcAddress %p (rc %d), dlsym(%s) %p\n", names[i].base,
                 version, flags, p, (int)rc, exact, want);
          bad++;
        }
      }
    }
  }
  printf("identity: driver %d, %d lookups, %d mismatches\n", driver, checked, bad);
  return bad ? 1 : 0;
}
