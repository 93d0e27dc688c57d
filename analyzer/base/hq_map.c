/* hq_map.c: see hq_map.h. */
#include <stdlib.h>
#include <string.h>

#include "heapql/error.h"
#include "base/hq_map.h"

int hq__map_init(hq_map_t *m, size_t expected) {
  size_t cap = 16;
  while (cap < expected * 2) cap <<= 1;
  m->keys = calloc(cap, sizeof *m->keys);
  m->vals = calloc(cap, sizeof *m->vals);
  m->cap = cap;
  m->len = 0;
  if (!m->keys || !m->vals) {
    hq__map_free(m);
    return HQ_ENOMEM;
  }
  return HQ_OK;
}

void hq__map_free(hq_map_t *m) {
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

int hq__map_get(const hq_map_t *m, uint64_t key, uint64_t *out) {
  size_t mask = m->cap - 1, i = hq__map_hash(key) & mask;
  for (;;) {
    uint64_t k = m->keys[i];
    if (k == key) {
      *out = m->vals[i];
      return 1;
    }
    if (k == 0) return 0;
    i = (i + 1) & mask;
  }
}

static int grow(hq_map_t *m) {
  hq_map_t n;
  if (hq__map_init(&n, m->cap) != HQ_OK) return HQ_ENOMEM; /* doubles: init makes cap*2 */
  for (size_t i = 0; i < m->cap; i++)
    if (m->keys[i]) hq__map_put(&n, m->keys[i], m->vals[i]);
  hq__map_free(m);
  *m = n;
  return HQ_OK;
}

int hq__map_put(hq_map_t *m, uint64_t key, uint64_t val) {
  size_t mask, i;
  if ((m->len + 1) * 10 > m->cap * 7 && grow(m) != HQ_OK) return HQ_ENOMEM;
  mask = m->cap - 1;
  i = hq__map_hash(key) & mask;
  for (;;) {
    uint64_t k = m->keys[i];
    if (k == key) {
      m->vals[i] = val;
      return HQ_OK;
    }
    if (k == 0) {
      m->keys[i] = key;
      m->vals[i] = val;
      m->len++;
      return HQ_OK;
    }
    i = (i + 1) & mask;
  }
}

int hq__map_del(hq_map_t *m, uint64_t key, uint64_t *out) {
  size_t mask = m->cap - 1, i = hq__map_hash(key) & mask, j;
  for (;;) {
    if (m->keys[i] == key) break;
    if (m->keys[i] == 0) return 0;
    i = (i + 1) & mask;
  }
  if (out) *out = m->vals[i];
  /* Backward-shift: pull later members of the probe run into the hole. */
  j = i;
  for (;;) {
    size_t home;
    j = (j + 1) & mask;
    if (m->keys[j] == 0) break;
    home = hq__map_hash(m->keys[j]) & mask;
    /* Move j to i if home is not cyclically in (i, j]. */
    if ((i <= j) ? (home <= i || home > j) : (home <= i && home > j)) {
      m->keys[i] = m->keys[j];
      m->vals[i] = m->vals[j];
      i = j;
    }
  }
  m->keys[i] = 0;
  m->vals[i] = 0;
  m->len--;
  return 1;
}
