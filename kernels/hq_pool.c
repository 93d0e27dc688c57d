/*
 * hq_pool.c: a caching allocator modelled on PyTorch's CUDACachingAllocator.
 *
 * Layout.  A segment is one piece of backend memory.  It is cut into blocks that tile it
 * exactly, linked by prev/next in address order.  Free blocks live in one of two size-ordered
 * treaps (small pool: blocks from 2 MiB segments; large pool: the rest), keyed by (size,
 * address), so best fit is a lower-bound search.  Allocated blocks live in a pointer-keyed hash
 * table, which is how a release finds its block without ever trusting (dereferencing) the
 * caller's pointer: foreign pointers and double releases are simply not in the table.
 *
 * Statistics follow torch.cuda.memory_stats().  Every change goes through stat_add so current,
 * peak, allocated and freed move together; inactive_split is accumulated per operation and
 * applied once at its end, so its running totals match PyTorch's net updates.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapql/annotate.h"
#include "hq_backend.h"
#include "kernels_int.h"

#define POOL_MAGIC       0x68717070u            /* "hqpp" */
#define MIN_BLOCK_SIZE   ((size_t)512)          /* kMinBlockSize: all sizes are multiples */
#define SMALL_SIZE       ((size_t)1 << 20)      /* kSmallSize: <= 1 MiB -> small pool */
#define SMALL_BUFFER     ((size_t)2 << 20)      /* kSmallBuffer: small pool segment size */
#define LARGE_BUFFER     ((size_t)20 << 20)     /* kLargeBuffer: segment for 1-10 MiB requests */
#define MIN_LARGE_ALLOC  ((size_t)10 << 20)     /* kMinLargeAlloc */
#define ROUND_LARGE      ((size_t)2 << 20)      /* kRoundLarge: >= 10 MiB rounded to 2 MiB */
#define BLOCKS_PER_SLAB  128
#define HIT_COUNTER_EVERY 4096                  /* emit the hits counter every N hits */

typedef struct block_s block_t;
struct block_s {
  uintptr_t ptr;
  size_t size;
  size_t requested;        /* bytes asked for, while allocated */
  block_t *prev, *next;    /* neighbours in the segment, by address */
  block_t *left, *right;   /* treap children, while free */
  uint32_t prio;           /* treap priority */
  uint8_t allocated;
  uint8_t is_small;        /* which pool (fixed for the segment's life) */
  uint8_t counted_split;   /* counted in inactive_split while free */
  uint8_t in_tree;
  /* Valid on a segment's head block only (prev == NULL): the head struct never changes for a
   * segment's life, since merges keep the lower block and splits keep the allocated part. */
  size_t seg_size;
  void *seg_cookie;
  block_t *seg_prev, *seg_next;
  block_t *free_link;      /* metadata free list */
};

typedef struct slab_s {
  struct slab_s *next;
  block_t blocks[BLOCKS_PER_SLAB];
} slab_t;

struct hq_pool_s {
  uint32_t magic;
  pthread_mutex_t lock;
  hq_pool_config_t cfg;
  size_t max_split;                 /* cfg.max_split_size, SIZE_MAX when unlimited */
  const hq__backend_t *backend;
  void *backend_ctx;
  block_t *free_tree[2];            /* [0] large, [1] small */
  block_t *segments;                /* list of segment head blocks */
  /* allocated blocks: open addressing, linear probing, backward-shift deletion */
  block_t **table;
  size_t table_cap;                 /* power of two */
  size_t table_used;
  /* metadata recycling, so steady-state allocation never calls malloc */
  slab_t *slabs;
  block_t *spare;
  uint32_t rng;
  /* statistics */
  hq_pool_stats_t st;
  int64_t pend_split_n[2], pend_split_b[2];
  char name_hits[48], name_misses[48], name_cached[48], name_reserved[48];
};

static uint64_t next_pool_id = 1;

/* ---- statistics ---------------------------------------------------------------------------- */

static inline __attribute__((always_inline)) void stat_add(hq_stat_t *s, int64_t delta) {
  s->current += delta;
  if (delta > 0) {
    s->allocated += delta;
    if (s->current > s->peak) s->peak = s->current; /* only a rise can make a new peak */
  } else {
    s->freed -= delta;
  }
}

/* Apply delta to the "all" entry and to the pool's own entry of a per-pool stat array. */
static inline __attribute__((always_inline)) void stat_pool(hq_stat_t *arr, int is_small,
                                                            int64_t delta) {
  stat_add(&arr[HQ_STAT_ALL], delta);
  stat_add(&arr[is_small ? HQ_STAT_SMALL_POOL : HQ_STAT_LARGE_POOL], delta);
}

static int is_split(const block_t *b) { return b->prev != NULL || b->next != NULL; }

/* A block becomes free (and cached): count it if it is a piece of a split segment. */
static void free_enter(hq_pool_t *p, block_t *b) {
  b->counted_split = (uint8_t)is_split(b);
  if (b->counted_split) {
    p->pend_split_n[b->is_small] += 1;
    p->pend_split_b[b->is_small] += (int64_t)b->size;
  }
}

/* A free block stops being free as it is (allocated, merged, or released). */
static void free_leave(hq_pool_t *p, block_t *b) {
  if (b->counted_split) {
    p->pend_split_n[b->is_small] -= 1;
    p->pend_split_b[b->is_small] -= (int64_t)b->size;
    b->counted_split = 0;
  }
}

static void flush_split_stats(hq_pool_t *p) {
  for (int i = 0; i < 2; i++) {
    if (p->pend_split_n[i] | p->pend_split_b[i]) {
      if (p->pend_split_n[i]) stat_pool(p->st.inactive_split, i, p->pend_split_n[i]);
      if (p->pend_split_b[i]) stat_pool(p->st.inactive_split_bytes, i, p->pend_split_b[i]);
      p->pend_split_n[i] = 0;
      p->pend_split_b[i] = 0;
    }
  }
}

static void emit_counters(hq_pool_t *p) {
  if (!hq_annotate_active()) return;
  hq_annotate_counter(p->name_hits, (double)p->st.num_cache_hits);
  hq_annotate_counter(p->name_misses, (double)p->st.num_cache_misses);
  hq_annotate_counter(p->name_reserved, (double)p->st.reserved_bytes[HQ_STAT_ALL].current);
  hq_annotate_counter(p->name_cached, (double)(p->st.reserved_bytes[HQ_STAT_ALL].current -
                                               p->st.allocated_bytes[HQ_STAT_ALL].current));
}

/* ---- block metadata ------------------------------------------------------------------------ */

static block_t *block_new(hq_pool_t *p) {
  block_t *b;
  if (!p->spare) {
    slab_t *s = malloc(sizeof *s);
    if (!s) return NULL;
    s->next = p->slabs;
    p->slabs = s;
    for (int i = BLOCKS_PER_SLAB - 1; i >= 0; i--) {
      s->blocks[i].free_link = p->spare;
      p->spare = &s->blocks[i];
    }
  }
  b = p->spare;
  p->spare = b->free_link;
  memset(b, 0, sizeof *b);
  /* xorshift32: treap priorities only need to be unpredictable relative to the keys */
  p->rng ^= p->rng << 13;
  p->rng ^= p->rng >> 17;
  p->rng ^= p->rng << 5;
  b->prio = p->rng;
  return b;
}

static void block_recycle(hq_pool_t *p, block_t *b) {
  b->free_link = p->spare;
  p->spare = b;
}

/* ---- the size-ordered treap of free blocks ---------------------------------------------- */

static int key_less(const block_t *a, const block_t *b) {
  return a->size < b->size || (a->size == b->size && a->ptr < b->ptr);
}

/* Split t into keys < k (*l) and keys >= k (*r). */
static void treap_split(block_t *t, const block_t *k, block_t **l, block_t **r) {
  if (!t) {
    *l = *r = NULL;
  } else if (key_less(t, k)) {
    treap_split(t->right, k, &t->right, r);
    *l = t;
  } else {
    treap_split(t->left, k, l, &t->left);
    *r = t;
  }
}

static block_t *treap_merge(block_t *l, block_t *r) {
  if (!l) return r;
  if (!r) return l;
  if (l->prio > r->prio) {
    l->right = treap_merge(l->right, r);
    return l;
  }
  r->left = treap_merge(l, r->left);
  return r;
}

static block_t *treap_insert(block_t *t, block_t *b) {
  if (!t) return b;
  if (b->prio > t->prio) {
    treap_split(t, b, &b->left, &b->right);
    return b;
  }
  if (key_less(b, t)) t->left = treap_insert(t->left, b);
  else t->right = treap_insert(t->right, b);
  return t;
}

static block_t *treap_remove(block_t *t, block_t *b) {
  if (!t) return NULL;
  if (t == b) return treap_merge(t->left, t->right);
  if (key_less(b, t)) t->left = treap_remove(t->left, b);
  else t->right = treap_remove(t->right, b);
  return t;
}

/* Smallest block with size >= size (lowest address among equal sizes). */
static block_t *treap_lower_bound(block_t *t, size_t size) {
  block_t *best = NULL;
  while (t) {
    if (t->size >= size) {
      best = t;
      t = t->left;
    } else {
      t = t->right;
    }
  }
  return best;
}

static void tree_insert(hq_pool_t *p, block_t *b) {
  b->left = b->right = NULL;
  b->in_tree = 1;
  p->free_tree[b->is_small] = treap_insert(p->free_tree[b->is_small], b);
}

static void tree_remove(hq_pool_t *p, block_t *b) {
  p->free_tree[b->is_small] = treap_remove(p->free_tree[b->is_small], b);
  b->left = b->right = NULL;
  b->in_tree = 0;
}

/* ---- allocated-block table --------------------------------------------------------------- */

static size_t slot_of(uintptr_t ptr, size_t cap) {
  /* Blocks are 512-aligned: drop those bits, then Fibonacci hashing. */
  return (size_t)(((uint64_t)(ptr >> 9) * 0x9e3779b97f4a7c15ull) >> 7) & (cap - 1);
}

static int table_grow(hq_pool_t *p) {
  size_t ncap = p->table_cap ? p->table_cap * 2 : 1024;
  block_t **nt = calloc(ncap, sizeof *nt);
  if (!nt) return HQ_ENOMEM;
  for (size_t i = 0; i < p->table_cap; i++) {
    block_t *b = p->table[i];
    if (!b) continue;
    size_t s = slot_of(b->ptr, ncap);
    while (nt[s]) s = (s + 1) & (ncap - 1);
    nt[s] = b;
  }
  free(p->table);
  p->table = nt;
  p->table_cap = ncap;
  return HQ_OK;
}

/* Room for one more entry (grow at 50% load); call before anything irreversible. */
static int table_reserve(hq_pool_t *p) {
  if ((p->table_used + 1) * 2 > p->table_cap) return table_grow(p);
  return HQ_OK;
}

static void table_insert(hq_pool_t *p, block_t *b) {
  size_t s = slot_of(b->ptr, p->table_cap);
  while (p->table[s]) s = (s + 1) & (p->table_cap - 1);
  p->table[s] = b;
  p->table_used++;
}

static size_t table_find(const hq_pool_t *p, uintptr_t ptr) {
  if (!p->table_cap) return SIZE_MAX;
  size_t s = slot_of(ptr, p->table_cap);
  while (p->table[s]) {
    if (p->table[s]->ptr == ptr) return s;
    s = (s + 1) & (p->table_cap - 1);
  }
  return SIZE_MAX;
}

static void table_delete_at(hq_pool_t *p, size_t hole) {
  size_t mask = p->table_cap - 1, j = hole;
  p->table[hole] = NULL;
  p->table_used--;
  /* Backward-shift: move later entries of the probe run into the hole when their home slot
   * does not lie cyclically within (hole, j]. */
  for (;;) {
    j = (j + 1) & mask;
    block_t *b = p->table[j];
    if (!b) break;
    size_t home = slot_of(b->ptr, p->table_cap);
    int between = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (between) continue;
    p->table[hole] = b;
    p->table[j] = NULL;
    hole = j;
  }
}

/* ---- segments ---------------------------------------------------------------------------- */

static size_t allocation_size(size_t rounded) {
  if (rounded <= SMALL_SIZE) return SMALL_BUFFER;
  if (rounded < MIN_LARGE_ALLOC) return LARGE_BUFFER;
  return (rounded + ROUND_LARGE - 1) / ROUND_LARGE * ROUND_LARGE;
}

/* Get a new segment of seg_size bytes for the given pool; its single free block (not in the
 * tree) in *out.  HQ_ENOMEM when the cap would be crossed or the backend is out of memory. */
static int segment_new(hq_pool_t *p, size_t seg_size, int is_small, block_t **out) {
  void *mem = NULL, *cookie = NULL;
  block_t *b;
  int rc;
  size_t reserved = (size_t)p->st.reserved_bytes[HQ_STAT_ALL].current;
  if (p->cfg.memory_cap && (reserved > p->cfg.memory_cap ||
                            seg_size > p->cfg.memory_cap - reserved))
    return hq__kerr(HQ_ENOMEM, "pool %" PRIu64 ": a %zu-byte segment would exceed the memory "
                    "cap (%zu reserved of %zu)", p->cfg.pool_id, seg_size, reserved,
                    p->cfg.memory_cap);
  b = block_new(p);
  if (!b) return hq__kerr(HQ_ENOMEM, "pool: out of memory for block metadata");
  rc = p->backend->seg_alloc(p->backend_ctx, seg_size, &mem, &cookie);
  if (rc != HQ_OK) {
    block_recycle(p, b);
    return rc;
  }
  b->ptr = (uintptr_t)mem;
  b->size = seg_size;
  b->is_small = (uint8_t)is_small;
  b->seg_size = seg_size;
  b->seg_cookie = cookie;
  b->seg_next = p->segments;
  if (p->segments) p->segments->seg_prev = b;
  p->segments = b;
  stat_pool(p->st.segment, is_small, 1);
  stat_pool(p->st.reserved_bytes, is_small, (int64_t)seg_size);
  if (seg_size >= p->max_split) stat_add(&p->st.oversize_segments, 1);
  p->st.num_device_alloc++;
  *out = b;
  return HQ_OK;
}

/* Give a whole-segment free block back to the backend.  The block is already out of the tree
 * and out of the free counts. */
static int segment_release(hq_pool_t *p, block_t *head) {
  int rc;
  if (head->seg_prev) head->seg_prev->seg_next = head->seg_next;
  else p->segments = head->seg_next;
  if (head->seg_next) head->seg_next->seg_prev = head->seg_prev;
  rc = p->backend->seg_free(p->backend_ctx, (void *)head->ptr, head->seg_size, head->seg_cookie);
  stat_pool(p->st.segment, head->is_small, -1);
  stat_pool(p->st.reserved_bytes, head->is_small, -(int64_t)head->seg_size);
  if (head->seg_size >= p->max_split) stat_add(&p->st.oversize_segments, -1);
  p->st.num_device_free++;
  block_recycle(p, head);
  return rc;
}

/* Release every cached segment (a free block spanning its whole segment).  Returns the bytes
 * released in *out_bytes and the first backend error, if any. */
static int release_cached(hq_pool_t *p, size_t *out_bytes) {
  int rc = HQ_OK;
  size_t bytes = 0;
  block_t *h = p->segments;
  while (h) {
    block_t *next = h->seg_next;
    if (!h->allocated && !h->next) { /* head, free, nothing after it: the whole segment */
      int r;
      bytes += h->seg_size;
      tree_remove(p, h);
      free_leave(p, h);
      r = segment_release(p, h);
      if (r != HQ_OK && rc == HQ_OK) rc = r;
    }
    h = next;
  }
  flush_split_stats(p);
  if (out_bytes) *out_bytes = bytes;
  return rc;
}

/* ---- allocation -------------------------------------------------------------------------- */

/* A cached block for a request of rounded size, following PyTorch's get_free_block rules for
 * oversize blocks; removed from the tree.  NULL if none. */
static block_t *take_free_block(hq_pool_t *p, size_t size, int is_small) {
  block_t *b = treap_lower_bound(p->free_tree[is_small], size);
  if (!b) return NULL;
  /* Do not hand out an oversize block for a request below max_split_size, and do not let an
   * oversize request take a block much bigger than itself (it could not be split back). */
  if (size < p->max_split && b->size >= p->max_split) return NULL;
  if (size >= p->max_split && b->size >= size + LARGE_BUFFER) return NULL;
  tree_remove(p, b);
  free_leave(p, b);
  return b;
}

static int should_split(const hq_pool_t *p, const block_t *b, size_t size) {
  size_t remaining = b->size - size;
  if (b->is_small) return remaining >= MIN_BLOCK_SIZE;
  return size < p->max_split && remaining > SMALL_SIZE;
}

int hq_pool_alloc(hq_pool_t *p, size_t size, void **out_ptr) {
  size_t rounded;
  int is_small, rc = HQ_OK, hit = 0;
  block_t *b = NULL;

  if (!p || p->magic != POOL_MAGIC || !out_ptr)
    return hq__kerr(HQ_MISUSE_BKPT, "pool_alloc: NULL or invalid pool or out_ptr");
  if (size == 0) {
    *out_ptr = NULL;
    return HQ_OK;
  }
  if (size > SIZE_MAX - ROUND_LARGE)
    return hq__kerr(HQ_ERANGE, "pool_alloc: %zu bytes cannot be rounded", size);
  rounded = size < MIN_BLOCK_SIZE ? MIN_BLOCK_SIZE
                                  : (size + MIN_BLOCK_SIZE - 1) / MIN_BLOCK_SIZE * MIN_BLOCK_SIZE;
  is_small = rounded <= SMALL_SIZE;

  pthread_mutex_lock(&p->lock);
  rc = table_reserve(p);
  if (rc != HQ_OK) {
    rc = hq__kerr(HQ_ENOMEM, "pool: out of memory for the block table");
    goto out;
  }
  b = take_free_block(p, rounded, is_small);
  if (b) {
    hit = 1;
    p->st.num_cache_hits++;
  } else {
    size_t seg_size = allocation_size(rounded);
    p->st.num_cache_misses++;
    rc = segment_new(p, seg_size, is_small, &b);
    if (rc == HQ_ENOMEM) {
      /* Free every cached segment and try once more (PyTorch's num_alloc_retries). */
      (void)release_cached(p, NULL);
      p->st.num_alloc_retries++;
      rc = segment_new(p, seg_size, is_small, &b);
    }
    if (rc != HQ_OK) {
      if (rc == HQ_ENOMEM) p->st.num_ooms++;
      goto out;
    }
  }
  if (should_split(p, b, rounded)) {
    block_t *rest = block_new(p);
    if (!rest) {
      /* Keep the block whole rather than fail: correct, only less tight. */
    } else {
      rest->ptr = b->ptr + rounded;
      rest->size = b->size - rounded;
      rest->is_small = b->is_small;
      rest->prev = b;
      rest->next = b->next;
      if (b->next) b->next->prev = rest;
      b->next = rest;
      b->size = rounded;
      free_enter(p, rest);
      tree_insert(p, rest);
    }
  }
  b->allocated = 1;
  b->requested = size;
  table_insert(p, b);
  stat_pool(p->st.allocation, b->is_small, 1);
  stat_pool(p->st.allocated_bytes, b->is_small, (int64_t)b->size);
  stat_pool(p->st.requested_bytes, b->is_small, (int64_t)size);
  if (b->size >= p->max_split) stat_add(&p->st.oversize_allocations, 1);
  if (p->backend->sub_alloc) {
    block_t *h = b;
    while (h->prev) h = h->prev;
    p->backend->sub_alloc(p->backend_ctx, h->seg_cookie, (void *)b->ptr, size);
  }
  if (!hit || p->st.num_cache_hits % HIT_COUNTER_EVERY == 0) emit_counters(p);
  *out_ptr = (void *)b->ptr;
out:
  flush_split_stats(p);
  pthread_mutex_unlock(&p->lock);
  if (rc == HQ_OK) hq_annotate_pool_alloc(*out_ptr, size, p->cfg.pool_id);
  return rc;
}

int hq_pool_free(hq_pool_t *p, void *ptr) {
  size_t slot;
  block_t *b;
  int rc = HQ_OK;

  if (!p || p->magic != POOL_MAGIC) return hq__kerr(HQ_MISUSE_BKPT, "pool_free: NULL or invalid pool");
  if (!ptr) return HQ_OK;
  pthread_mutex_lock(&p->lock);
  slot = table_find(p, (uintptr_t)ptr);
  if (slot == SIZE_MAX) {
    rc = hq__kerr(HQ_EINVAL, "pool %" PRIu64 ": %p is not an allocated block of this pool "
                  "(released twice, or from elsewhere)", p->cfg.pool_id, ptr);
    goto out;
  }
  b = p->table[slot];
  table_delete_at(p, slot);
  /* Report before the block can be handed out again (heaptrack's free-first rule). */
  hq_annotate_pool_free(ptr, p->cfg.pool_id);
  if (p->backend->sub_free) {
    block_t *h = b;
    while (h->prev) h = h->prev;
    p->backend->sub_free(p->backend_ctx, h->seg_cookie, ptr);
  }
  stat_pool(p->st.allocation, b->is_small, -1);
  stat_pool(p->st.allocated_bytes, b->is_small, -(int64_t)b->size);
  stat_pool(p->st.requested_bytes, b->is_small, -(int64_t)b->requested);
  if (b->size >= p->max_split) stat_add(&p->st.oversize_allocations, -1);
  b->allocated = 0;
  b->requested = 0;
  if (b->prev && !b->prev->allocated) { /* merge into the lower neighbour; it survives */
    block_t *lo = b->prev;
    tree_remove(p, lo);
    free_leave(p, lo);
    lo->size += b->size;
    lo->next = b->next;
    if (b->next) b->next->prev = lo;
    block_recycle(p, b);
    b = lo;
  }
  if (b->next && !b->next->allocated) { /* absorb the upper neighbour */
    block_t *hi = b->next;
    tree_remove(p, hi);
    free_leave(p, hi);
    b->size += hi->size;
    b->next = hi->next;
    if (hi->next) hi->next->prev = b;
    block_recycle(p, hi);
  }
  free_enter(p, b);
  tree_insert(p, b);
out:
  flush_split_stats(p);
  pthread_mutex_unlock(&p->lock);
  return rc;
}

int hq_pool_block_size(hq_pool_t *p, const void *ptr, size_t *out_size) {
  size_t slot;
  int rc = HQ_OK;
  if (!p || p->magic != POOL_MAGIC || !ptr || !out_size)
    return hq__kerr(HQ_MISUSE_BKPT, "pool_block_size: NULL argument");
  pthread_mutex_lock(&p->lock);
  slot = table_find(p, (uintptr_t)ptr);
  if (slot == SIZE_MAX)
    rc = hq__kerr(HQ_EINVAL, "pool %" PRIu64 ": %p is not an allocated block of this pool",
                  p->cfg.pool_id, ptr);
  else
    *out_size = p->table[slot]->size;
  pthread_mutex_unlock(&p->lock);
  return rc;
}

/* ---- lifecycle and queries --------------------------------------------------------------- */

void hq_pool_config_init(hq_pool_config_t *cfg) {
  if (!cfg) return;
  memset(cfg, 0, sizeof *cfg);
  cfg->backend = HQ_POOL_HOST_MMAP;
}

int hq_pool_create(const hq_pool_config_t *cfg, hq_pool_t **out_pool) {
  hq_pool_t *p = NULL;
  hq_pool_config_t c;
  int rc = HQ_OK;

  if (!out_pool) return hq__kerr(HQ_MISUSE_BKPT, "pool_create: out_pool is NULL");
  if (cfg) c = *cfg;
  else hq_pool_config_init(&c);
  p = calloc(1, sizeof *p);
  if (!p) return hq__kerr(HQ_ENOMEM, "pool_create: out of memory");
  switch (c.backend) {
  case HQ_POOL_HOST_MMAP: p->backend = &hq__backend_host_mmap; break;
  case HQ_POOL_HOST_MALLOC: p->backend = &hq__backend_host_malloc; break;
  case HQ_POOL_CUDA:
    p->backend = hq__backend_cuda();
    if (!p->backend) {
      rc = hq__kerr(HQ_ENOTSUP, "pool_create: this build has no CUDA support");
      goto out;
    }
    break;
  default:
    rc = hq__kerr(HQ_EINVAL, "pool_create: unknown backend %d", (int)c.backend);
    goto out;
  }
  if (p->backend->open) {
    rc = p->backend->open(c.device, &p->backend_ctx);
    if (rc != HQ_OK) goto out;
  }
  if (!c.pool_id) c.pool_id = __atomic_fetch_add(&next_pool_id, 1, __ATOMIC_RELAXED);
  p->cfg = c;
  p->max_split = c.max_split_size ? c.max_split_size : SIZE_MAX;
  p->rng = (uint32_t)(c.pool_id * 2654435761u) | 1u;
  p->st.max_split_size = c.max_split_size ? (int64_t)c.max_split_size : -1;
  p->st.memory_cap = (int64_t)c.memory_cap;
  snprintf(p->name_hits, sizeof p->name_hits, "pool%" PRIu64 ".hits", c.pool_id);
  snprintf(p->name_misses, sizeof p->name_misses, "pool%" PRIu64 ".misses", c.pool_id);
  snprintf(p->name_cached, sizeof p->name_cached, "pool%" PRIu64 ".cached_bytes", c.pool_id);
  snprintf(p->name_reserved, sizeof p->name_reserved, "pool%" PRIu64 ".reserved_bytes",
           c.pool_id);
  pthread_mutex_init(&p->lock, NULL);
  p->magic = POOL_MAGIC;
  *out_pool = p;
  p = NULL;
out:
  free(p);
  return rc;
}

void hq_pool_destroy(hq_pool_t *p) {
  if (!p || p->magic != POOL_MAGIC) return;
  pthread_mutex_lock(&p->lock);
  /* Blocks still allocated die with their segments: tell heapql they are gone. */
  for (size_t i = 0; i < p->table_cap; i++)
    if (p->table[i]) hq_annotate_pool_free((void *)p->table[i]->ptr, p->cfg.pool_id);
  while (p->segments) {
    block_t *h = p->segments;
    p->segments = h->seg_next;
    (void)p->backend->seg_free(p->backend_ctx, (void *)h->ptr, h->seg_size, h->seg_cookie);
    p->st.num_device_free++;
  }
  p->st.reserved_bytes[HQ_STAT_ALL].current = 0;
  emit_counters(p);
  if (p->backend->close) p->backend->close(p->backend_ctx);
  while (p->slabs) {
    slab_t *s = p->slabs;
    p->slabs = s->next;
    free(s);
  }
  free(p->table);
  p->magic = 0;
  pthread_mutex_unlock(&p->lock);
  pthread_mutex_destroy(&p->lock);
  free(p);
}

int hq_pool_empty_cache(hq_pool_t *p, size_t *out_released) {
  int rc;
  size_t bytes = 0;
  if (!p || p->magic != POOL_MAGIC) return hq__kerr(HQ_MISUSE_BKPT, "pool_empty_cache: NULL pool");
  pthread_mutex_lock(&p->lock);
  rc = release_cached(p, &bytes);
  emit_counters(p);
  pthread_mutex_unlock(&p->lock);
  if (out_released) *out_released = bytes;
  return rc;
}

int hq_pool_set_memory_cap(hq_pool_t *p, size_t memory_cap) {
  int rc = HQ_OK;
  if (!p || p->magic != POOL_MAGIC) return hq__kerr(HQ_MISUSE_BKPT, "pool_set_memory_cap: NULL pool");
  pthread_mutex_lock(&p->lock);
  p->cfg.memory_cap = memory_cap;
  p->st.memory_cap = (int64_t)memory_cap;
  if (memory_cap && (size_t)p->st.reserved_bytes[HQ_STAT_ALL].current > memory_cap)
    rc = release_cached(p, NULL);
  pthread_mutex_unlock(&p->lock);
  return rc;
}

int hq_pool_get_stats(hq_pool_t *p, hq_pool_stats_t *out) {
  if (!p || p->magic != POOL_MAGIC || !out) return hq__kerr(HQ_MISUSE_BKPT, "pool_get_stats: NULL");
  pthread_mutex_lock(&p->lock);
  *out = p->st;
  pthread_mutex_unlock(&p->lock);
  /* Active = allocated plus blocks freed but still awaited by a stream.  Host pools and the
   * CUDA backend (one stream, synchronous frees) have no such blocks, so active mirrors
   * allocation; it is derived here rather than counted twice on every call. */
  memcpy(out->active, out->allocation, sizeof out->active);
  memcpy(out->active_bytes, out->allocated_bytes, sizeof out->active_bytes);
  return HQ_OK;
}

static void reset_peaks(hq_stat_t *arr, int n) {
  for (int i = 0; i < n; i++) arr[i].peak = arr[i].current;
}

int hq_pool_reset_peak(hq_pool_t *p) {
  if (!p || p->magic != POOL_MAGIC) return hq__kerr(HQ_MISUSE_BKPT, "pool_reset_peak: NULL pool");
  pthread_mutex_lock(&p->lock);
  reset_peaks(p->st.allocation, HQ_STAT_TYPES);
  reset_peaks(p->st.segment, HQ_STAT_TYPES);
  reset_peaks(p->st.inactive_split, HQ_STAT_TYPES);
  reset_peaks(p->st.allocated_bytes, HQ_STAT_TYPES);
  reset_peaks(p->st.reserved_bytes, HQ_STAT_TYPES);
  reset_peaks(p->st.inactive_split_bytes, HQ_STAT_TYPES);
  reset_peaks(p->st.requested_bytes, HQ_STAT_TYPES);
  reset_peaks(&p->st.oversize_allocations, 1);
  reset_peaks(&p->st.oversize_segments, 1);
  pthread_mutex_unlock(&p->lock);
  return HQ_OK;
}

uint64_t hq_pool_id(const hq_pool_t *p) {
  return p && p->magic == POOL_MAGIC ? p->cfg.pool_id : 0;
}

int hq__pool_backend(const hq_pool_t *p, int *out_device) {
  if (!p || p->magic != POOL_MAGIC) return -1;
  if (out_device) *out_device = p->cfg.device;
  return (int)p->cfg.backend;
}

/* ---- stats by torch key ------------------------------------------------------------------ */

static const struct {
  const char *name;
  size_t offset;
} array_stats[] = {
  {"allocation", offsetof(hq_pool_stats_t, allocation)},
  {"segment", offsetof(hq_pool_stats_t, segment)},
  {"active", offsetof(hq_pool_stats_t, active)},
  {"inactive_split", offsetof(hq_pool_stats_t, inactive_split)},
  {"allocated_bytes", offsetof(hq_pool_stats_t, allocated_bytes)},
  {"reserved_bytes", offsetof(hq_pool_stats_t, reserved_bytes)},
  {"active_bytes", offsetof(hq_pool_stats_t, active_bytes)},
  {"inactive_split_bytes", offsetof(hq_pool_stats_t, inactive_split_bytes)},
  {"requested_bytes", offsetof(hq_pool_stats_t, requested_bytes)},
};

static const struct {
  const char *name;
  size_t offset;
} scalar_stats[] = {
  {"num_alloc_retries", offsetof(hq_pool_stats_t, num_alloc_retries)},
  {"num_ooms", offsetof(hq_pool_stats_t, num_ooms)},
  {"num_device_alloc", offsetof(hq_pool_stats_t, num_device_alloc)},
  {"num_device_free", offsetof(hq_pool_stats_t, num_device_free)},
  {"num_cache_hits", offsetof(hq_pool_stats_t, num_cache_hits)},
  {"num_cache_misses", offsetof(hq_pool_stats_t, num_cache_misses)},
  {"max_split_size", offsetof(hq_pool_stats_t, max_split_size)},
  {"memory_cap", offsetof(hq_pool_stats_t, memory_cap)},
};

static int stat_field(const hq_stat_t *s, const char *field, int64_t *out) {
  if (!strcmp(field, "current")) *out = s->current;
  else if (!strcmp(field, "peak")) *out = s->peak;
  else if (!strcmp(field, "allocated")) *out = s->allocated;
  else if (!strcmp(field, "freed")) *out = s->freed;
  else return HQ_ENOENT;
  return HQ_OK;
}

int hq_pool_stats_get(const hq_pool_stats_t *st, const char *key, int64_t *out) {
  const char *dot;
  size_t len;
  if (!st || !key || !out) return hq__kerr(HQ_MISUSE_BKPT, "pool_stats_get: NULL argument");
  for (size_t i = 0; i < sizeof scalar_stats / sizeof scalar_stats[0]; i++)
    if (!strcmp(key, scalar_stats[i].name)) {
      *out = *(const int64_t *)(const void *)((const char *)st + scalar_stats[i].offset);
      return HQ_OK;
    }
  dot = strchr(key, '.');
  if (!dot) goto unknown;
  len = (size_t)(dot - key);
  if (len == strlen("oversize_allocations") && !strncmp(key, "oversize_allocations", len)) {
    if (stat_field(&st->oversize_allocations, dot + 1, out) == HQ_OK) return HQ_OK;
    goto unknown;
  }
  if (len == strlen("oversize_segments") && !strncmp(key, "oversize_segments", len)) {
    if (stat_field(&st->oversize_segments, dot + 1, out) == HQ_OK) return HQ_OK;
    goto unknown;
  }
  for (size_t i = 0; i < sizeof array_stats / sizeof array_stats[0]; i++) {
    const hq_stat_t *arr;
    const char *pool = dot + 1, *dot2 = strchr(pool, '.');
    int idx;
    if (strlen(array_stats[i].name) != len || strncmp(key, array_stats[i].name, len)) continue;
    if (!dot2) goto unknown;
    if ((size_t)(dot2 - pool) == 3 && !strncmp(pool, "all", 3)) idx = HQ_STAT_ALL;
    else if ((size_t)(dot2 - pool) == 10 && !strncmp(pool, "small_pool", 10)) idx = HQ_STAT_SMALL_POOL;
    else if ((size_t)(dot2 - pool) == 10 && !strncmp(pool, "large_pool", 10)) idx = HQ_STAT_LARGE_POOL;
    else goto unknown;
    arr = (const hq_stat_t *)(const void *)((const char *)st + array_stats[i].offset);
    if (stat_field(&arr[idx], dot2 + 1, out) == HQ_OK) return HQ_OK;
    goto unknown;
  }
unknown:
  return hq__kerr(HQ_ENOENT, "pool_stats_get: unknown statistic '%s'", key);
}
