/* v_dlopen.c LIB: dlopen LIB (with RTLD_DEEPBIND: heapql must still see its malloc), call
 * vdl_make (malloc 4321 inside the library), free it, dlclose, then malloc(77) and free it. */
#include <dlfcn.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  void *h, *p;
  void *(*make)(void);
  if (argc < 2) return 2;
  h = dlopen(argv[1], RTLD_NOW | RTLD_DEEPBIND);
  if (!h) return 3;
  make = (void *(*)(void))dlsym(h, "vdl_make");
  if (!make) return 4;
  p = make();
  free(p);
  dlclose(h);
  p = malloc(77);
  free(p);
  return 0;
}
