/*
 * v_mapped.c: a block reachable only from memory the program mapped itself (as a garbage
 * collector's pages are), with a large block glibc maps on its own right below it: the kernel
 * merges the two into one line of /proc/self/maps, allocator's memory and program's memory
 * together.  The 4321-byte block is still reachable, the 1234-byte one definitely lost, the
 * large one reachable from a global.  Prints "merged" when the two mappings did merge.  It reads
 * glibc's chunk headers to find the mappings, so it is a test of heapql on glibc's malloc (under
 * memcheck's allocator it exits 1).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

void *big;

/* The mapping that holds p, from /proc/self/maps: 0, or -1. */
static int mapping_of(const void *p, uintptr_t *lo, uintptr_t *hi) {
  char line[256];
  int found = -1;
  FILE *maps = fopen("/proc/self/maps", "r");
  while (maps && found && fgets(line, sizeof line, maps))
    if (sscanf(line, "%lx-%lx", lo, hi) == 2 && *lo <= (uintptr_t)p && (uintptr_t)p < *hi) found = 0;
  if (maps) fclose(maps);
  return found;
}

int main(void) {
  enum { N = 8 };
  size_t len = 1u << 20;
  void *chunk[N], **pages = MAP_FAILED;
  uintptr_t lo[N], hi[N], plo, phi;
  /* Large blocks, each a mapping of glibc's, most of them side by side; every other one freed
   * leaves a hole right above a live one: the program's pages go there. */
  for (int i = 0; i < N; i++) {
    chunk[i] = malloc(2u << 20); /* above the mmap threshold: a mapping of its own */
    if (!chunk[i]) return 1;
    /* glibc's header: the chunk starts 16 bytes before, its mapping with it, size in the 2nd word */
    lo[i] = (uintptr_t)chunk[i] - 16;
    hi[i] = lo[i] + (((const size_t *)chunk[i])[-1] & ~(size_t)7);
  }
  for (int i = 0; i < N; i += 2) free(chunk[i]);
  for (int i = 0; i < N && pages == MAP_FAILED; i += 2)
    for (int j = 1; j < N && pages == MAP_FAILED; j += 2)
      if (hi[j] == lo[i])
        pages = mmap((void *)lo[i], len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (pages == MAP_FAILED) return 1;
  big = NULL;
  for (int j = 1; j < N; j += 2)
    if (hi[j] == (uintptr_t)pages) big = chunk[j];
  for (int j = 1; j < N; j += 2)
    if (chunk[j] != big) free(chunk[j]);
  pages[1000] = malloc(4321);
  {
    void *volatile lost = malloc(1234);
    lost = NULL;
    (void)lost;
  }
  if (!mapping_of(pages, &plo, &phi) && plo <= (uintptr_t)big && (uintptr_t)big < phi) puts("merged");
  return 0;
}
