/* libvdl.c: a library loaded with dlopen; vdl_make allocates 4321 bytes from inside it. */
#include <stdlib.h>
__attribute__((noinline)) void *vdl_make(void) { return malloc(4321); }
