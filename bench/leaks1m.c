/*
 * leaks1m.c: a program that ends with 1,000,000 live heap blocks of 32 bytes, half reachable
 * from a global array, half lost: the leak check's benchmark (scripts/bench-gate.sh), run as it
 * is, under heapql, under memcheck, and built with -fsanitize=leak.
 */
#include <stdlib.h>

void **kept;

int main(void) {
  kept = malloc(500000 * sizeof *kept);
  if (!kept) return 1;
  for (int i = 0; i < 1000000; i++) {
    void *volatile p = malloc(32);
    if (i % 2 == 0) kept[i / 2] = p;
  }
  return 0;
}
