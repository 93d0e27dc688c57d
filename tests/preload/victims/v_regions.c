/*
 * v_regions.c: annotated regions with a known content, for `heapql regions`.
 * Three times: region "step" holding "forward" (two 1000-byte blocks, one freed inside, and a
 * 256-byte pool sub-allocation never released) and "backward" (a 4096-byte block freed inside,
 * then the forward's surviving block), then a 300-byte block made in "step" itself and kept;
 * the counter "steps" after each.  Last, "tail" opens, allocates 50 bytes and never closes.
 * Nothing else allocates inside a region (no stdio there).
 */
#include <stdint.h>
#include <stdlib.h>

#include "heapql/annotate.h"

static void *volatile keep[8];

int main(void) {
  for (int i = 0; i < 3; i++) {
    hq_annotate_region_begin("step");
    hq_annotate_region_begin("forward");
    void *a = malloc(1000), *b = malloc(1000);
    free(a);
    hq_annotate_pool_alloc((void *)(uintptr_t)(0x100000 + 0x1000 * i), 256, 7);
    hq_annotate_region_end();
    hq_annotate_region_begin("backward");
    void *c = malloc(4096);
    free(c);
    free(b);
    hq_annotate_region_end();
    keep[i] = malloc(300);
    hq_annotate_region_end();
    hq_annotate_counter("steps", i + 1);
  }
  hq_annotate_region_begin("tail");
  keep[3] = malloc(50);
  return 0;
}
