/* v_kinds.c: one of every malloc-family call with known sizes; known leaks and a known peak.
 *   live after each step (heap bytes):         peak is 1000+2000+3000+4096+64+500 = 10660
 * Leaks at exit: b (2000), the aligned_alloc block (64), the realloc'd block (700): 2764 bytes
 * in 3 blocks.  No stdio: the victim's own calls are all the allocations there are. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  void *a = malloc(1000);                 /* malloc */
  void *b = calloc(10, 200);              /* calloc: 2000 */
  void *c = realloc(NULL, 3000);          /* realloc from NULL */
  void *d = NULL;
  void *e, *f, *g, *h;
  if (posix_memalign(&d, 64, 4096) != 0) return 1; /* aligned */
  e = aligned_alloc(64, 64);              /* aligned */
  f = memalign(32, 500);                  /* aligned: live now 10660 = the peak */
  memset(a, 1, 1000);
  free(a);                                /* 9660 */
  free(d);                                /* 5564 */
  g = realloc(c, 700);                    /* realloc: frees c (3000), allocates 700 -> 3264 */
  free(f);                                /* 2764 */
  h = valloc(100);                        /* aligned */
  free(h);
  free(NULL);                             /* not a free of anything */
  (void)b; (void)e; (void)g;
  return 0;
}
