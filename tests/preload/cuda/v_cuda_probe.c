/* v_cuda_probe.c: not linked with libcuda and no RUNPATH.  Looks up the exported driver names
 * through the global scope (under the preload they are heapql's hooks) and calls them with
 * arguments the driver rejects, to see what a hook does when the driver is missing. */
#include <dlfcn.h>
#include <stdio.h>

typedef int (*alloc_fn)(unsigned long long *, size_t);
typedef int (*create_fn)(unsigned long long *, size_t, const void *, unsigned long long);

int main(void) {
  alloc_fn alloc = (alloc_fn)dlsym(RTLD_DEFAULT, "cuMemAlloc_v2");
  create_fn create = (create_fn)dlsym(RTLD_DEFAULT, "cuMemCreate");
  unsigned long long p = 0;
  if (!alloc || !create) {
    printf("missing\n");
    return 0;
  }
  printf("alloc_rc=%d\n", alloc(&p, 0));
  printf("create_rc=%d\n", create(&p, 0, NULL, 0));
  return 0;
}
