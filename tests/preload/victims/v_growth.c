/*
 * v_growth.c: heaps that grow, and one that does not, for the leak-growth finding.
 *
 *   v_growth leak    a 100 MiB buffer, then 40,000 blocks of 1 KiB never freed over ~0.4 s, then
 *                    the buffer freed at the end (the final free must not hide the leak)
 *   v_growth clean   the same work, every 1 KiB block freed after use: nothing grows
 *   v_growth short   a few allocations and out, well under 10 ms: too short for any trend
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BIG (100u << 20)
#define BLOCKS 40000
#define BLOCK 1024

static void pause_1ms(void) {
  struct timespec ts = {0, 1000000};
  nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "leak";
  static void *keep[BLOCKS];
  char *big;
  if (!strcmp(mode, "short")) {
    for (int i = 0; i < 100; i++) keep[i] = malloc(1000 + (size_t)i);
    for (int i = 0; i < 100; i++) free(keep[i]);
    return 0;
  }
  big = malloc(BIG);
  if (!big) return 1;
  memset(big, 1, BIG);
  for (int i = 0; i < BLOCKS; i++) {
    char *p = malloc(BLOCK);
    if (!p) return 1;
    memset(p, i, BLOCK);
    if (!strcmp(mode, "clean")) free(p);
    else keep[i] = p;
    if (i % 100 == 99) pause_1ms();
  }
  free(big);
  return 0;
}
