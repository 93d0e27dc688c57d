/* v_next.c: linked with libvnext_b.so then libvnext_c.so, which both define vnext_foo.  B's
 * vnext_foo asks dlsym(RTLD_NEXT, "vnext_foo") for C's and adds 1 to its 41: 42 when dlsym
 * resolves RTLD_NEXT relative to B, its real caller (reference A3). */
#include <stdio.h>

int vnext_foo(void);

int main(void) {
  int v = vnext_foo();
  printf("vnext_foo=%d\n", v);
  return v == 42 ? 0 : 1;
}
