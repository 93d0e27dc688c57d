/* v_ctor.c: linked with libvctor.so, whose constructor allocated before main; frees the block
 * the library handed on. */
#include <stdlib.h>

extern void *vctor_handed;

int main(void) {
  free(vctor_handed);
  return 0;
}
