/*
 * hq_map.h: an open-addressing hash map from non-zero uint64 keys to uint64 values, with
 * linear probing and backward-shift deletion (no tombstones).  Internal to the analyzer.
 */
#ifndef HQ_MAP_H
#define HQ_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct hq_map_s {
  uint64_t *keys;   /* 0 = empty slot */
  uint64_t *vals;
  size_t cap;       /* power of two */
  size_t len;
} hq_map_t;

int  hq__map_init(hq_map_t *m, size_t expected);
void hq__map_free(hq_map_t *m);
/* Returns 1 and sets *out if key is present, else 0. */
int  hq__map_get(const hq_map_t *m, uint64_t key, uint64_t *out);
/* Insert or replace.  Returns 0 or HQ_ENOMEM. */
int  hq__map_put(hq_map_t *m, uint64_t key, uint64_t val);
/* Remove key; returns 1 if it was there (and sets *out if out != NULL), else 0. */
int  hq__map_del(hq_map_t *m, uint64_t key, uint64_t *out);

static inline uint64_t hq__map_hash(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

#endif /* HQ_MAP_H */
