/* libvctor.c: a library whose constructor allocates, before any constructor of a library
 * loaded after it: a block it leaks (333 B), one it frees (444 B) and one it hands on to the
 * program (555 B, freed by v_ctor's main). */
#include <stdlib.h>
#include <string.h>

void *vctor_handed;
static void *vctor_leaked;

__attribute__((constructor)) static void vctor_init(void) {
  void *temp = malloc(444);
  memset(temp, 1, 444);
  free(temp);
  vctor_leaked = malloc(333);
  vctor_handed = malloc(555);
}
