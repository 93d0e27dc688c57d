/* v_leaf.c: a program for exec tests: malloc(4444), leaked, exit 5. */
#include <stdlib.h>
int main(void) {
  void *p = malloc(4444);
  (void)p;
  return 5;
}
