/*
 * hq_liveset.c: the heap blocks live at exit, rebuilt from the trace for the leak check
 * (hq_leakscan.h).  Nothing of this runs before exit: the hot path keeps no live set.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload_int.h"
#include "hq_leakscan.h"

#define sc hq__scan /* this file's short name for the check's state */

/* ---- the live set, from the trace ----
 *
 * The trace holds each ring's chunks in the ring's own order, and rings interleave: a block freed
 * by one thread and its address handed to another can reach the file in either order.  So the
 * events are replayed in time order, a merge of the rings' streams, and the table holds only what
 * is live at each step: a release removes its block.  Its size comes from a first pass that
 * counts the most blocks live at once in file order (it grows, rarely, when that count was low:
 * frees of blocks allocated before the recorder started make it so). */

static int is_heap_kind(int kind) {
  return kind > 0 && kind < HQ_KIND_MAX_ && hq__kinds[kind].cls == HQ_CLASS_HEAP;
}

static inline size_t home_of(uint64_t addr, size_t cap) {
  return (size_t)(((unsigned __int128)((addr >> 4) * 0x9e3779b97f4a7c15ull) * cap) >> 64);
}

static inline size_t next_slot(size_t i, size_t cap) {
  return i + 1 == cap ? 0 : i + 1;
}

static blk_t *table_slot(uint64_t addr) {
  size_t i = home_of(addr, sc.table_cap);
  while (sc.blk[i].addr && sc.blk[i].addr != addr) i = next_slot(i, sc.table_cap);
  return &sc.blk[i];
}

/* The table for cap slots: 0, or -1 without memory. */
static int table_make(size_t cap) {
  blk_t *old = sc.blk;
  size_t old_cap = sc.table_cap, old_bytes = sc.region_bytes, bytes = (cap * sizeof(blk_t) + 4095) & ~(size_t)4095;
  sc.blk = hq__scan_alloc(bytes);
  if (!sc.blk) {
    sc.blk = old;
    return -1;
  }
  sc.region_bytes = bytes;
  sc.table_cap = cap;
  for (size_t i = 0; i < old_cap; i++)
    if (old[i].addr) *table_slot(old[i].addr) = old[i];
  if (old) hq__scan_free(old, old_bytes);
  return 0;
}

static int live_add(uint64_t addr, uint64_t size) {
  blk_t *s;
  if (!addr) return 0;
  if ((sc.table_used + 1) * 10 > sc.table_cap * 7 && table_make(sc.table_cap + sc.table_cap / 2) != 0)
    return -1;
  s = table_slot(addr);
  if (!s->addr) sc.table_used++;
  s->addr = addr;
  s->size = size;
  return 0;
}

/* Remove addr, shifting back the entries its slot kept from their home (no tombstones). */
static void live_remove(uint64_t addr) {
  blk_t *s = addr ? table_slot(addr) : NULL;
  size_t i, j, cap = sc.table_cap;
  if (!s || !s->addr) return; /* a block allocated before recording began */
  i = j = (size_t)(s - sc.blk);
  for (;;) {
    size_t k;
    j = next_slot(j, cap);
    if (!sc.blk[j].addr) break;
    k = home_of(sc.blk[j].addr, cap);
    if (i <= j ? (i < k && k <= j) : (i < k || k <= j)) continue; /* at or past its home */
    sc.blk[i] = sc.blk[j];
    i = j;
  }
  sc.blk[i].addr = 0;
  sc.table_used--;
}

/* One ring's stream: its chunks in order, and where it is in them. */
typedef struct stream_s {
  const uint64_t *chunk, *chunk_end;     /* file offsets of its chunks (sorted index entries) */
  const unsigned char *p, *end;          /* the current chunk's events */
  const unsigned char *begin;            /* the current chunk's first byte */
  const hq_rec_hdr_t *ev;                /* the current event */
  uint64_t t;                            /* its time */
  int second;                            /* a realloc: its release is done, its alloc next */
} stream_t;

static const unsigned char *trace_map;

/* The next heap event of st at or after its position (a realloc twice: release, then alloc);
 * 0 when the stream ends. */
/* The trace's pages between lo and hi are not needed now: give them back (the mapping is a
 * read-only file mapping, so a page read again refaults from the page cache).  The check holds
 * no more of the trace in memory than it is reading: flat however long the run was. */
static void drop_pages(const unsigned char *lo, const unsigned char *hi) {
  uintptr_t a = ((uintptr_t)lo + 4095) & ~(uintptr_t)4095, b = (uintptr_t)hi & ~(uintptr_t)4095;
  if (b > a) syscall(SYS_madvise, (void *)a, b - a, MADV_DONTNEED);
}

static int stream_next(stream_t *st) {
  if (st->ev && st->ev->type == HQ_REC_REALLOC && !st->second) {
    const hq_rec_realloc_t *r = (const hq_rec_realloc_t *)st->ev;
    if (r->ptr) {
      st->second = 1;
      st->t = r->t;
      return 1;
    }
  }
  if (st->ev) st->p += st->ev->len;
  st->ev = NULL;
  st->second = 0;
  for (;;) {
    while (st->p + sizeof(hq_rec_hdr_t) <= st->end) {
      const hq_rec_hdr_t *h = (const hq_rec_hdr_t *)st->p;
      if (h->len < sizeof *h || st->p + h->len > st->end) break;
      if (h->type == HQ_REC_ALLOC && h->len >= sizeof(hq_rec_alloc_t) && is_heap_kind(h->kind)) {
        st->ev = h;
        st->t = ((const hq_rec_alloc_t *)h)->t;
        return 1;
      }
      if (h->type == HQ_REC_FREE && h->len >= 24 &&
          (h->kind == HQ_FREE_FREE || h->kind == HQ_FREE_DELETE || h->kind == HQ_FREE_DELETE_ARRAY)) {
        st->ev = h;
        st->t = ((const hq_rec_free_t *)h)->t;
        return 1;
      }
      if (h->type == HQ_REC_REALLOC && h->len >= sizeof(hq_rec_realloc_t) && is_heap_kind(h->kind)) {
        const hq_rec_realloc_t *r = (const hq_rec_realloc_t *)h;
        st->ev = h;
        st->t = r->old_ptr ? r->t_old : r->t;
        st->second = !r->old_ptr;
        return 1;
      }
      st->p += h->len;
    }
    if (st->begin) drop_pages(st->begin, st->end); /* done with that chunk */
    st->begin = NULL;
    if (st->chunk == st->chunk_end) return 0;
    {
      const hq_rec_hdr_t *c = (const hq_rec_hdr_t *)(trace_map + *st->chunk++);
      st->begin = (const unsigned char *)c;
      st->p = (const unsigned char *)c + sizeof(hq_rec_chunk_t);
      st->end = (const unsigned char *)c + c->len;
    }
  }
}

/* Table operations in time order, applied a batch at a time: each batch's slots are fetched
 * from memory together first (the table is far larger than any cache). */
#define BATCH_OPS 32
static struct op_s { uint64_t addr, size; int add; } batch[BATCH_OPS];
static size_t n_batch;

/* 0, or -1 when the table could not grow. */
static int batch_apply(void) {
  int rc = 0;
  for (size_t k = 0; k < n_batch; k++)
    __builtin_prefetch(&sc.blk[home_of(batch[k].addr, sc.table_cap)], 1);
  for (size_t k = 0; k < n_batch && !rc; k++) {
    if (batch[k].add) rc = live_add(batch[k].addr, batch[k].size);
    else live_remove(batch[k].addr);
  }
  n_batch = 0;
  return rc;
}

static int stream_apply(const stream_t *st) {
  const hq_rec_hdr_t *h = st->ev;
  struct op_s *op = &batch[n_batch++];
  if (h->type == HQ_REC_ALLOC) {
    const hq_rec_alloc_t *a = (const hq_rec_alloc_t *)h;
    *op = (struct op_s){a->ptr, a->size, 1};
  } else if (h->type == HQ_REC_FREE) {
    *op = (struct op_s){((const hq_rec_free_t *)h)->ptr, 0, 0};
  } else if (st->second) {
    const hq_rec_realloc_t *r = (const hq_rec_realloc_t *)h;
    *op = (struct op_s){r->ptr, r->size, 1};
  } else {
    *op = (struct op_s){((const hq_rec_realloc_t *)h)->old_ptr, 0, 0};
  }
  return n_batch == BATCH_OPS ? batch_apply() : 0;
}

/* In-place introsort of pairs of words, by the first, then the second (nothing here may
 * allocate, and the blocks' addresses are unique). */
static inline int pair_less(const blk_t *a, const blk_t *b) {
  return a->addr < b->addr || (a->addr == b->addr && a->size < b->size);
}

static void pair_sift(blk_t *v, size_t i, size_t n) {
  for (;;) {
    size_t c = 2 * i + 1;
    blk_t t;
    if (c >= n) return;
    if (c + 1 < n && pair_less(&v[c], &v[c + 1])) c++;
    if (!pair_less(&v[i], &v[c])) return;
    t = v[i], v[i] = v[c], v[c] = t;
    i = c;
  }
}

static void pair_sort(blk_t *v, size_t n, int depth) {
  while (n > 16) {
    blk_t pivot, t;
    size_t i = 0, j = n - 1, m = n / 2;
    if (depth-- == 0) { /* quicksort going badly: heapsort this part */
      for (size_t k = n / 2; k-- > 0;) pair_sift(v, k, n);
      for (size_t e = n; e-- > 1;) {
        t = v[0], v[0] = v[e], v[e] = t;
        pair_sift(v, 0, e);
      }
      return;
    }
    if (pair_less(&v[m], &v[0])) t = v[m], v[m] = v[0], v[0] = t;
    if (pair_less(&v[n - 1], &v[0])) t = v[n - 1], v[n - 1] = v[0], v[0] = t;
    if (pair_less(&v[n - 1], &v[m])) t = v[n - 1], v[n - 1] = v[m], v[m] = t;
    pivot = v[m];
    for (;;) { /* Hoare's partition */
      while (pair_less(&v[i], &pivot)) i++;
      while (pair_less(&pivot, &v[j])) j--;
      if (i >= j) break;
      t = v[i], v[i] = v[j], v[j] = t;
      i++, j--;
    }
    /* [0, j] and [j + 1, n): recurse into the smaller */
    if (j + 1 < n - j - 1) {
      pair_sort(v, j + 1, depth);
      v += j + 1;
      n -= j + 1;
    } else {
      pair_sort(v + j + 1, n - j - 1, depth);
      n = j + 1;
    }
  }
  for (size_t i = 1; i < n; i++) {
    blk_t x = v[i];
    size_t j = i;
    for (; j > 0 && pair_less(&x, &v[j - 1]); j--) v[j] = v[j - 1];
    v[j] = x;
  }
}

/* Most significant digit first (American flag sort, in place): a byte of the first word a pass,
 * from the highest that differs, until the buckets are small enough for the introsort. */
static void radix_pairs(blk_t *v, size_t n, uint64_t base, int shift) {
  size_t count[256] = {0}, next[256], end[256];
  int depth = 0;
  if (n < 4096 || shift < 0) {
    for (size_t k = n; k > 1; k >>= 1) depth += 2;
    pair_sort(v, n, depth);
    return;
  }
  for (size_t i = 0; i < n; i++) count[((v[i].addr - base) >> shift) & 255]++;
  for (size_t b = 0, at = 0; b < 256; b++) {
    next[b] = at;
    at += count[b];
    end[b] = at;
  }
  for (size_t b = 0; b < 256; b++) {
    while (next[b] < end[b]) {
      blk_t x = v[next[b]];
      size_t d = ((x.addr - base) >> shift) & 255;
      while (d != b) { /* carry x to its bucket, bringing back what was there */
        blk_t y = v[next[d]];
        v[next[d]++] = x;
        x = y;
        d = ((x.addr - base) >> shift) & 255;
      }
      v[next[b]++] = x;
    }
  }
  for (size_t b = 0, at = 0; b < 256; at += count[b], b++)
    if (count[b] > 1) radix_pairs(v + at, count[b], base, shift - 8);
}

static void sort_pairs(blk_t *v, size_t n) {
  uint64_t lo = ~0ull, hi = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i].addr < lo) lo = v[i].addr;
    if (v[i].addr > hi) hi = v[i].addr;
  }
  if (n > 1) bits = 64 - __builtin_clzll((hi - lo) | 1);
  radix_pairs(v, n, lo, bits > 8 ? bits - 8 : 0);
}

/* The heap events of one chunk, counted in file order: the most live at once, so far. */
static void count_chunk(const unsigned char *p, size_t len, int64_t *live, int64_t *most) {
  size_t pos = 0;
  while (pos + sizeof(hq_rec_hdr_t) <= len) {
    const hq_rec_hdr_t *h = (const hq_rec_hdr_t *)(p + pos);
    if (h->len < sizeof *h || pos + h->len > len) break;
    if (h->type == HQ_REC_ALLOC && h->len >= sizeof(hq_rec_alloc_t) && is_heap_kind(h->kind)) {
      if (++*live > *most) *most = *live;
    } else if (h->type == HQ_REC_FREE && h->len >= 24 &&
               (h->kind == HQ_FREE_FREE || h->kind == HQ_FREE_DELETE || h->kind == HQ_FREE_DELETE_ARRAY)) {
      --*live;
    }
    pos += h->len;
  }
}

int hq__liveset_build(const char *path) {
  struct stat sb;
  size_t pos, n_chunks = 0, n_streams = 0, index_bytes = 0, streams_bytes = 0;
  blk_t *index = NULL;          /* (stream key, file offset) of each chunk */
  stream_t *streams = NULL;
  uint32_t *heap = NULL;        /* streams by their next event's time */
  size_t n_heap = 0;
  int64_t live = 0, most = 0;
  int rc = -1, fd = open(path, O_RDONLY | O_CLOEXEC); /* the writer's descriptor only writes */
  if (fd < 0) return -1;
  if (fstat(fd, &sb) != 0 || (size_t)sb.st_size < sizeof(hq_raw_header_t)) {
    hq__real.close(fd);
    return -1;
  }
  trace_map = (const unsigned char *)syscall(SYS_mmap, NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  hq__real.close(fd);
  if ((long)trace_map < 0 && (long)trace_map > -4096) {
    trace_map = NULL;
    return -1;
  }
  /* 1. The chunks, and how many blocks may be live at once. */
  for (int fill = 0; fill < 2; fill++) {
    size_t k = 0;
    pos = ((const hq_raw_header_t *)trace_map)->header_size;
    while (pos + sizeof(hq_rec_hdr_t) <= (size_t)sb.st_size) {
      const hq_rec_hdr_t *h = (const hq_rec_hdr_t *)(trace_map + pos);
      if (h->len < sizeof *h || pos + h->len > (size_t)sb.st_size) break;
      if (h->type == HQ_REC_CHUNK && h->len >= sizeof(hq_rec_chunk_t)) {
        const hq_rec_chunk_t *c = (const hq_rec_chunk_t *)h;
        if (fill) {
          /* a ring in the ring file is its slot; one outside it, its thread's */
          index[k].addr = c->slot != HQ_RING_NO_SLOT ? c->slot : (1ull << 32) | c->tid;
          index[k].size = pos;
        } else {
          count_chunk(trace_map + pos + sizeof *c, h->len - sizeof *c, &live, &most);
          drop_pages(trace_map + pos, trace_map + pos + h->len);
        }
        k++;
      }
      pos += h->len;
    }
    if (!fill) {
      n_chunks = k;
      index_bytes = (n_chunks ? n_chunks : 1) * sizeof *index;
      if (!(index = hq__scan_alloc(index_bytes))) goto out;
    }
  }
  sort_pairs(index, n_chunks);
  for (size_t k = 0; k < n_chunks; k++) n_streams += k == 0 || index[k].addr != index[k - 1].addr;
  streams_bytes = (n_streams ? n_streams : 1) * (sizeof *streams + sizeof *heap);
  if (!(streams = hq__scan_alloc(streams_bytes))) goto out;
  heap = (uint32_t *)(streams + (n_streams ? n_streams : 1));
  /* the offsets, in place of the pairs: each stream walks its own run of them */
  {
    uint64_t *offsets = (uint64_t *)index, key = 0;
    size_t s = 0;
    for (size_t k = 0; k < n_chunks; k++) {
      uint64_t this_key = index[k].addr, off = index[k].size;
      if (k == 0 || this_key != key) {
        memset(&streams[s], 0, sizeof streams[s]);
        streams[s++].chunk = offsets + k;
      }
      key = this_key;
      offsets[k] = off; /* word k: pair k is read, the pairs after it untouched */
    }
    for (s = 0; s < n_streams; s++)
      streams[s].chunk_end = s + 1 < n_streams ? streams[s + 1].chunk : offsets + n_chunks;
  }
  /* 2. The table, sized for the most live at once. */
  if (table_make((size_t)(most > 0 ? most : 0) * 10 / 7 + 1024) != 0) goto out;
  /* 3. Replay in time order. */
  for (size_t s = 0; s < n_streams; s++) {
    if (!stream_next(&streams[s])) continue;
    size_t i = n_heap++;
    while (i > 0 && streams[heap[(i - 1) / 2]].t > streams[s].t) {
      heap[i] = heap[(i - 1) / 2];
      i = (i - 1) / 2;
    }
    heap[i] = (uint32_t)s;
  }
  while (n_heap > 0) {
    stream_t *st = &streams[heap[0]];
    uint32_t top = heap[0];
    size_t i = 0;
    if (stream_apply(st) != 0) goto out;
    if (!stream_next(st)) top = heap[--n_heap];
    /* sift top down from the root */
    for (;;) {
      size_t c = 2 * i + 1;
      if (c >= n_heap) break;
      if (c + 1 < n_heap && streams[heap[c + 1]].t < streams[heap[c]].t) c++;
      if (streams[heap[c]].t >= streams[top].t) break;
      heap[i] = heap[c];
      i = c;
    }
    if (n_heap > 0) heap[i] = top;
  }
  if (batch_apply() != 0) goto out;
  /* 4. The live blocks to the front, sorted; state, via and the mark stack after them. */
  for (size_t i = 0; i < sc.table_cap; i++)
    if (sc.blk[i].addr) sc.blk[sc.n++] = sc.blk[i];
  sort_pairs(sc.blk, sc.n);
  {
    unsigned char *rest = (unsigned char *)(sc.blk + sc.n), *end = (unsigned char *)sc.blk + sc.region_bytes;
    sc.state = rest;
    sc.via = rest + sc.n;
    sc.stack = (uint32_t *)(((uintptr_t)(sc.via + sc.n) + 3) & ~(uintptr_t)3);
    if ((unsigned char *)(sc.stack + sc.n) > end) goto out; /* cannot happen below 70% full */
    memset(rest, 0, 2 * sc.n);
  }
  if (sc.n) {
    sc.lo = sc.blk[0].addr;
    sc.hi = 0;
    for (size_t i = 0; i < sc.n; i++) {
      uint64_t end = sc.blk[i].addr + (sc.blk[i].size ? sc.blk[i].size : 1);
      if (end > sc.hi) sc.hi = end;
    }
  }
  rc = 0;
out:
  if (streams) hq__scan_free(streams, streams_bytes);
  if (index) hq__scan_free(index, index_bytes);
  syscall(SYS_munmap, trace_map, (size_t)sb.st_size);
  trace_map = NULL;
  return rc;
}

