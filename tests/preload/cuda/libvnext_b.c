/* libvnext_b.c: vnext_foo that defers to the next definition in the search order. */
#include <dlfcn.h>

int vnext_foo(void);

int vnext_foo(void) {
  int (*next)(void) = (int (*)(void))dlsym(RTLD_NEXT, "vnext_foo");
  if (!next || next == vnext_foo) return -1; /* RTLD_NEXT resolved from the wrong caller */
  return next() + 1;
}
