/*
 * hq_leakscan.h: what the leak check's files share (hq_leakscan.c the check, hq_liveset.c the
 * live heap rebuilt from the trace).  Private to preload/.
 */
#ifndef HQ_LEAKSCAN_H
#define HQ_LEAKSCAN_H

#include <stddef.h>
#include <stdint.h>

typedef struct own_map_s { uintptr_t lo, hi; } own_map_t;

typedef struct blk_s { uint64_t addr, size; } blk_t;

typedef struct scan_s {
  /* One region of our own memory (region_bytes): while the trace is replayed, an open-addressing
   * table of the live blocks (table_cap slots, addr 0 = empty); then the live blocks sorted by
   * address (n of them), followed by their state, via and the mark stack.  A slot is 16 bytes and
   * the table at most 70% full, so the region holds all of that: about 23 bytes a live block. */
  blk_t *blk;
  size_t region_bytes, table_cap, table_used;
  uint8_t *state, *via;
  uint32_t *stack;                       /* mark stack */
  size_t n, top;
  uint64_t lo, hi;                       /* [lowest start, highest end) */
  own_map_t own[16];
  int n_own;
  size_t own_bytes, own_peak;            /* what own_alloc holds now, and at most */
  uint64_t root_bytes, scanned_bytes;
} scan_t;


/* The check's state: one at a time, at exit. */
extern scan_t hq__scan;

/* Memory of the check's own: raw mmap, remembered so the scan leaves it out. */
void *hq__scan_alloc(size_t bytes);
void  hq__scan_free(void *p, size_t bytes);

/* Rebuild the heap blocks live now from the trace at path (every ring drained into it): sorted
 * by address in hq__scan.blk[0..n), with state, via and stack after them, zeroed.  0, or -1
 * (no memory, an unreadable trace). */
int hq__liveset_build(const char *path);

#endif
