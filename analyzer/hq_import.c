/*
 * hq_import.c: a raw trace (hq_rawfmt.h) becomes a heapql database.
 *
 * Pass 1 walks the top-level records: module map, RSS samples, notes, END, and the chunk spans
 * of each thread; it indexes every stack definition by hash.  Pass 2 merges the threads' event
 * streams in time order (each stream is already ordered) and sweeps them once: a live map from
 * address to the pending allocation pairs frees with allocations, running totals give the
 * exact peak and the timeline, and each allocation row is written when its fate is known
 * (freed, or still live at the end).  Stacks become trie nodes and frames the first time an
 * event names them.  A trace cut short gives a valid database marked incomplete.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analyzer_int.h"
#include "hq_map.h"
#include "hq_rawfmt.h"
#include "hq_rowq.h"

/* ---- small growable arrays ---- */
#define VEC(T) struct { T *v; size_t n, cap; }
#define VEC_PUSH(vec, item, rc_out)                                           \
  do {                                                                        \
    if ((vec).n == (vec).cap) {                                               \
      size_t nc_ = (vec).cap ? (vec).cap * 2 : 16;                            \
      void *nv_ = realloc((vec).v, nc_ * sizeof *(vec).v);                    \
      if (!nv_) { (rc_out) = HQ_ENOMEM; break; }                              \
      (vec).v = nv_;                                                          \
      (vec).cap = nc_;                                                        \
    }                                                                         \
    (vec).v[(vec).n++] = (item);                                              \
  } while (0)

typedef struct {
  const unsigned char *p;
  size_t len;
} span_t;

typedef struct {
  uint64_t base, size;
  uint32_t gen_first;
  uint32_t gen_gone;     /* UINT32_MAX while mapped */
  const char *path;
  const unsigned char *build_id;
  uint16_t build_id_len;
} module_t;

typedef struct region_s {
  int64_t id, parent, tid;
  uint64_t t_begin, t_end;
  int ended;
  const char *name;
  uint32_t name_len;
} region_t;

typedef struct {
  uint32_t tid;
  VEC(span_t) spans;
  size_t span_i, pos;      /* cursor */
  const hq_rec_hdr_t *cur; /* current record, NULL when done */
  int sub;                 /* realloc: 0 = release part pending, 1 = allocation part */
  int64_t realloc_from;    /* row released by the pending realloc's first part */
  int pending_alloc_part;  /* the current realloc record's allocation part is still to come */
  uint64_t t;              /* time of the current part */
  uint64_t alloc_seq;
  uint64_t t_start, t_end;
  int has_start, has_end, seen_event;
  char name[17];
  VEC(int64_t) regions;    /* open region ids (stack) */
} stream_t;

typedef struct {
  int64_t id;
  int kind;
  uint64_t address, size, align, pool;
  int64_t stack_id, realloc_from, region_id;
  uint32_t tid;
  uint64_t t_alloc, alloc_seq;
  int cuda;                /* a CUDA block: device, stream and pool are its own */
  int32_t device;          /* ordinal, -1 unknown */
  uint64_t stream;
} pending_t;

/* CUDA VMM: physical handles and their mappings (hq_rec_cuda_call_t, "CUDA" below). */
typedef struct {
  int64_t id;              /* vmm_handles.id */
  uint64_t handle, size, t_create, t_release;
  int32_t device;
  int released, freed;
  uint32_t maps;           /* live mappings */
  pending_t row;           /* its allocations row (kind cuda_vmm), written when the memory goes */
} vmm_handle_t;

typedef struct {
  int64_t id;              /* vmm_mappings.id */
  size_t handle_ix;        /* index+1 into handles, 0 = a handle the trace never saw */
  uint64_t address, size, offset, t_map;
} vmm_map_t;

typedef struct {
  int seen;                /* any CUDA call: samples carry device_bytes from then on */
  uint64_t pinned_live;    /* cuda_host: pinned host memory, not device memory */
  uint64_t peak_device, peak_device_t, heap_at_peak, mmap_at_peak;
  uint64_t device_at_heap_peak;
  int64_t next_call_id, next_handle_id, next_map_id;
  int alloc_pending;       /* do_alloc is making a CUDA row: the three fields below are its */
  int32_t device;
  uint64_t stream, pool;
  VEC(vmm_handle_t) handles;
  VEC(vmm_map_t) maps;
  hq_map_t handle_live;    /* handle -> handles index+1, until cuMemRelease */
  hq_map_t map_live;       /* mapped address -> maps index+1, until cuMemUnmap */
  int ready;               /* the two maps above exist */
  VEC(char *) unknown_api; /* names of driver calls this importer does not know (row text) */
} cuda_import_t;

typedef struct {
  hq_db_t *db;
  const unsigned char *map;
  size_t map_len;
  const hq_raw_header_t *hdr;
  int complete, truncated;
  const hq_rec_end_t *end;
  char reason[256];

  VEC(module_t) modules;
  VEC(hq_rec_rss_t) rss;
  VEC(stream_t) streams;
  VEC(region_t) regions;
  hq_map_t stream_of;     /* tid -> stream index+1 */
  hq_map_t stack_def;     /* hash -> offset of hq_rec_stack_t in map */
  hq_map_t stack_id;      /* hash -> trie leaf id */
  hq_map_t frame_of;      /* ip ^ module<<48 -> frame id */
  hq_map_t trie;          /* parent<<32 | frame -> node id */
  hq_map_t live;          /* class<<56 | address -> pending index+1 */

  VEC(pending_t) pend;
  VEC(uint32_t) pend_free;

  int64_t next_alloc_id, next_frame_id, next_node_id;
  uint64_t heap_live, mmap_live, pool_live, device_live;
  uint64_t peak_heap, peak_heap_t, peak_mmap, peak_mmap_at_heap_peak;
  uint64_t unmatched_frees, events, rows, last_t;
  size_t rss_i;
  uint64_t next_synth_sample;
  uint64_t last_rss;

  hq__rowq_t *rowq;       /* the rows' way into the database during the sweep (hq_rowq.h) */
  hq__agg_t *agg;         /* streaming aggregates (hq_aggregate.c), fed in time order */
  cuda_import_t cu;
} import_t;

/* Names as the database spells them, with their lengths (rows carry both). */
typedef struct {
  const char *s;
  size_t len;
} name_t;
#define NAME_(str) {str, sizeof str - 1}

static const name_t *kind_text(int kind) {
  static const name_t names[HQ_KIND_MAX_] = {
    [HQ_KIND_MALLOC] = NAME_("malloc"), [HQ_KIND_CALLOC] = NAME_("calloc"),
    [HQ_KIND_REALLOC] = NAME_("realloc"), [HQ_KIND_ALIGNED] = NAME_("aligned"),
    [HQ_KIND_NEW] = NAME_("new"), [HQ_KIND_NEW_ARRAY] = NAME_("new[]"),
    [HQ_KIND_MMAP] = NAME_("mmap"), [HQ_KIND_POOL] = NAME_("pool"),
    [HQ_KIND_CUDA_DEVICE] = NAME_("cuda_device"), [HQ_KIND_CUDA_MANAGED] = NAME_("cuda_managed"),
    [HQ_KIND_CUDA_HOST] = NAME_("cuda_host"), [HQ_KIND_CUDA_ASYNC] = NAME_("cuda_async"),
    [HQ_KIND_CUDA_VMM] = NAME_("cuda_vmm"), [HQ_KIND_CUDA_ARRAY] = NAME_("cuda_array"),
  };
  return (kind > 0 && kind < HQ_KIND_MAX_ && names[kind].s) ? &names[kind] : NULL;
}

static const char *kind_name(int kind) {
  const name_t *n = kind_text(kind);
  return n ? n->s : NULL;
}

static const name_t *free_kind_text(int k) {
  static const name_t names[HQ_FREE_MAX_] = {
    [0] = NAME_("unseen"), [HQ_FREE_FREE] = NAME_("free"), [HQ_FREE_DELETE] = NAME_("delete"),
    [HQ_FREE_DELETE_ARRAY] = NAME_("delete[]"), [HQ_FREE_REALLOC] = NAME_("realloc"),
    [HQ_FREE_MUNMAP] = NAME_("munmap"), [HQ_FREE_POOL] = NAME_("pool"),
    [HQ_FREE_CUDA] = NAME_("cuda"),
  };
  return (k > 0 && k < HQ_FREE_MAX_ && names[k].s) ? &names[k] : &names[0];
}

static const char *free_kind_name(int k) {
  return free_kind_text(k)->s;
}

/* Address spaces: heap, mmap, pool and device blocks never pair with each other.  Pinned host
 * memory (cuda_host) is CUDA's but not on the device: paired apart, not in device_bytes. */
enum { CLASS_HEAP = 1, CLASS_MMAP, CLASS_POOL, CLASS_DEVICE, CLASS_PINNED };

static int class_of_kind(int kind) {
  switch (kind) {
  case HQ_KIND_MMAP: return CLASS_MMAP;
  case HQ_KIND_POOL: return CLASS_POOL;
  case HQ_KIND_CUDA_HOST: return CLASS_PINNED;
  case HQ_KIND_CUDA_DEVICE: case HQ_KIND_CUDA_MANAGED:
  case HQ_KIND_CUDA_ASYNC: case HQ_KIND_CUDA_VMM: case HQ_KIND_CUDA_ARRAY:
    return CLASS_DEVICE;
  default: return CLASS_HEAP;
  }
}

static int class_of_free(int fk) {
  switch (fk) {
  case HQ_FREE_MUNMAP: return CLASS_MMAP;
  case HQ_FREE_POOL: return CLASS_POOL;
  case HQ_FREE_CUDA: return CLASS_DEVICE;
  default: return CLASS_HEAP;
  }
}

static uint64_t live_key(int cls, uint64_t addr) {
  return ((uint64_t)cls << 56) ^ addr;
}

static uint64_t *class_total(import_t *im, int cls) {
  switch (cls) {
  case CLASS_MMAP: return &im->mmap_live;
  case CLASS_POOL: return &im->pool_live;
  case CLASS_DEVICE: return &im->device_live;
  case CLASS_PINNED: return &im->cu.pinned_live;
  default: return &im->heap_live;
  }
}

/* ---- TSC traces: ticks to ns, before anything reads a time ---- */

/* Call fn on every complete record, top level and inside chunks, until the first bad one. */
static void walk_records(import_t *im, void (*fn)(hq_rec_hdr_t *h, void *arg), void *arg) {
  size_t pos = im->hdr->header_size;
  while (pos + sizeof(hq_rec_hdr_t) <= im->map_len) {
    hq_rec_hdr_t *h = (hq_rec_hdr_t *)(uintptr_t)(im->map + pos);
    if (h->len < sizeof *h || (h->len & 7) || pos + h->len > im->map_len) return;
    if (h->type == HQ_REC_CHUNK && h->len >= sizeof(hq_rec_chunk_t)) {
      size_t in = sizeof(hq_rec_chunk_t);
      while (in + sizeof(hq_rec_hdr_t) <= h->len) {
        hq_rec_hdr_t *r = (hq_rec_hdr_t *)((unsigned char *)h + in);
        if (r->len < sizeof *r || (r->len & 7) || in + r->len > h->len) break;
        fn(r, arg);
        in += r->len;
      }
    } else {
      fn(h, arg);
    }
    pos += h->len;
  }
}

static void find_last_clock(hq_rec_hdr_t *h, void *arg) {
  const hq_rec_clock_t **last = arg;
  if (h->type == HQ_REC_CLOCK && h->len >= sizeof(hq_rec_clock_t) &&
      ((const hq_rec_clock_t *)h)->tick > 0)
    *last = (const hq_rec_clock_t *)h;
}

static void convert_record(hq_rec_hdr_t *h, void *arg) {
  const double k = *(const double *)arg;
  uint64_t *t = NULL, *t2 = NULL;
#define TIME_FIELD(type, field) \
  (h->len >= offsetof(type, field) + sizeof(uint64_t) ? &((type *)h)->field : NULL)
  switch (h->type) {
  case HQ_REC_ALLOC: t = TIME_FIELD(hq_rec_alloc_t, t); break;
  case HQ_REC_FREE: t = TIME_FIELD(hq_rec_free_t, t); break;
  case HQ_REC_REALLOC: t = TIME_FIELD(hq_rec_realloc_t, t); t2 = TIME_FIELD(hq_rec_realloc_t, t_old); break;
  case HQ_REC_THREAD_START: case HQ_REC_THREAD_END: t = TIME_FIELD(hq_rec_time_t, t); break;
  case HQ_REC_MUNMAP: t = TIME_FIELD(hq_rec_munmap_t, t); break;
  case HQ_REC_REGION_BEGIN: case HQ_REC_REGION_END: t = TIME_FIELD(hq_rec_region_t, t); break;
  case HQ_REC_COUNTER: t = TIME_FIELD(hq_rec_counter_t, t); break;
  case HQ_REC_CUDA_CALL: t = TIME_FIELD(hq_rec_cuda_call_t, t); t2 = TIME_FIELD(hq_rec_cuda_call_t, duration_ns); break;
  case HQ_REC_MODULE: t = TIME_FIELD(hq_rec_module_t, t); break;
  case HQ_REC_MODULE_GONE: t = TIME_FIELD(hq_rec_module_gone_t, t); break;
  case HQ_REC_RSS: t = TIME_FIELD(hq_rec_rss_t, t); break;
  case HQ_REC_NOTE: t = TIME_FIELD(hq_rec_note_t, t); break;
  case HQ_REC_END: t = TIME_FIELD(hq_rec_end_t, t); break;
  default: break;
  }
#undef TIME_FIELD
  /* One linear map through the origin: the order of ticks is the order of the ns. */
  if (t) *t = (uint64_t)((double)*t * k + 0.5);
  if (t2) *t2 = (uint64_t)((double)*t2 * k + 0.5);
}

/* TSC traces are rewritten in place.  One anonymous copy read in a single pass costs a fraction
 * of the copy-on-write faults the file mapping would take page by page.  On failure the
 * (private, writable) file mapping stays and copy-on-write does the work. */
static void private_copy(import_t *im, int fd) {
  unsigned char *buf = mmap(NULL, im->map_len, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  size_t done = 0;
  if (buf == MAP_FAILED) return;
  while (done < im->map_len) {
    ssize_t n = pread(fd, buf + done, im->map_len - done, (off_t)done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      munmap(buf, im->map_len);
      return;
    }
    done += (size_t)n;
  }
  munmap((void *)im->map, im->map_len);
  im->map = buf;
  im->hdr = (const hq_raw_header_t *)buf;
}

static void convert_tsc_times(import_t *im) {
  const hq_rec_clock_t *last = NULL;
  double k = im->hdr->tsc_ns_per_tick;
  walk_records(im, find_last_clock, &last);
  /* The longest span measured by the writer beats the start-up estimate. */
  if (last && last->mono_ns > 1000000) k = (double)last->mono_ns / (double)last->tick;
  if (!(k > 0.0)) k = 1.0;
  walk_records(im, convert_record, &k);
}

/* ---- pass 1: top-level records ---- */

static stream_t *stream_for(import_t *im, uint32_t tid, int *rc) {
  uint64_t idx;
  stream_t s;
  if (hq__map_get(&im->stream_of, (uint64_t)tid + 1, &idx)) return &im->streams.v[idx - 1];
  memset(&s, 0, sizeof s);
  s.tid = tid;
  VEC_PUSH(im->streams, s, *rc);
  if (*rc) return NULL;
  *rc = hq__map_put(&im->stream_of, (uint64_t)tid + 1, im->streams.n);
  return *rc ? NULL : &im->streams.v[im->streams.n - 1];
}

/* Index the stack definitions inside one chunk. */
static int index_chunk(import_t *im, span_t sp) {
  size_t pos = 0;
  while (pos + sizeof(hq_rec_hdr_t) <= sp.len) {
    const hq_rec_hdr_t *h = (const hq_rec_hdr_t *)(sp.p + pos);
    if (h->len < sizeof *h || (h->len & 7) || pos + h->len > sp.len) return HQ_EFORMAT;
    if (h->type == HQ_REC_STACK) {
      const hq_rec_stack_t *s = (const hq_rec_stack_t *)h;
      uint64_t dummy;
      if (h->len < sizeof *s || sizeof *s + (size_t)s->depth * 8 > h->len) return HQ_EFORMAT;
      if (!hq__map_get(&im->stack_def, s->hash, &dummy) &&
          hq__map_put(&im->stack_def, s->hash, (uint64_t)((const unsigned char *)s - im->map)))
        return HQ_ENOMEM;
    }
    pos += h->len;
  }
  return HQ_OK;
}

static int pass1(import_t *im) {
  size_t pos = im->hdr->header_size;
  int rc = HQ_OK;
  while (pos < im->map_len) {
    const hq_rec_hdr_t *h = (const hq_rec_hdr_t *)(im->map + pos);
    if (pos + sizeof *h > im->map_len || h->len < sizeof *h || (h->len & 7) ||
        pos + h->len > im->map_len) {
      im->truncated = 1;
      break;
    }
    switch (h->type) {
    case HQ_REC_CHUNK: {
      const hq_rec_chunk_t *c = (const hq_rec_chunk_t *)h;
      span_t sp = {im->map + pos + sizeof *c, h->len - sizeof *c};
      stream_t *s;
      if (h->len < sizeof *c) { im->truncated = 1; goto done; }
      if (index_chunk(im, sp) != HQ_OK) { im->truncated = 1; goto done; }
      s = stream_for(im, c->tid, &rc);
      if (!s) return rc;
      VEC_PUSH(s->spans, sp, rc);
      break;
    }
    case HQ_REC_MODULE: {
      const hq_rec_module_t *m = (const hq_rec_module_t *)h;
      module_t mod;
      if (sizeof *m + m->build_id_len + m->path_len > h->len || m->path_len == 0) {
        im->truncated = 1;
        goto done;
      }
      mod.base = m->base;
      mod.size = m->size;
      mod.gen_first = m->gen;
      mod.gen_gone = UINT32_MAX;
      mod.build_id = (const unsigned char *)(m + 1);
      mod.build_id_len = m->build_id_len;
      mod.path = (const char *)(m + 1) + m->build_id_len;
      if (mod.path[m->path_len - 1] != '\0') { im->truncated = 1; goto done; }
      VEC_PUSH(im->modules, mod, rc);
      break;
    }
    case HQ_REC_MODULE_GONE: {
      const hq_rec_module_gone_t *g = (const hq_rec_module_gone_t *)h;
      for (size_t i = im->modules.n; i-- > 0;) {
        module_t *m = &im->modules.v[i];
        if (m->base == g->base && m->gen_gone == UINT32_MAX && m->gen_first < g->gen) {
          m->gen_gone = g->gen;
          break;
        }
      }
      break;
    }
    case HQ_REC_RSS:
      VEC_PUSH(im->rss, *(const hq_rec_rss_t *)h, rc);
      break;
    case HQ_REC_THREAD_NAME: {
      const hq_rec_thread_name_t *tn = (const hq_rec_thread_name_t *)h;
      stream_t *s = stream_for(im, tn->tid, &rc);
      if (!s) return rc;
      memcpy(s->name, tn->name, 16);
      s->name[16] = '\0';
      break;
    }
    case HQ_REC_NOTE: {
      const hq_rec_note_t *n = (const hq_rec_note_t *)h;
      snprintf(im->reason, sizeof im->reason, "%.*s", (int)sizeof n->text, n->text);
      break;
    }
    case HQ_REC_END:
      im->end = (const hq_rec_end_t *)h;
      break;
    default:
      break; /* a newer recorder's record: skip it */
    }
    if (rc) return rc;
    pos += h->len;
  }
done:
  im->complete = im->end != NULL && !im->truncated;
  return rc;
}

/* ---- the tables the sweep writes (through the writer thread, hq_rowq.h) ---- */

enum { T_ALLOC, T_FRAME, T_STACK, T_SAMPLE, T_COUNTER, T_CUDA_CALL, T_VMM_HANDLE, T_VMM_MAP, T_N_ };

/* The columns of an allocations row, in the order of its INSERT below.  The id is not one of
 * them: rows are queued in id order, so SQLite appends each with the next id, which is the one
 * the sweep assigned (hq__row_t.rowid, checked by the writer), and skips the lookup of an
 * explicit id. */
enum {
  AC_PID = 1, AC_KIND, AC_ADDRESS, AC_SIZE, AC_ALIGNMENT, AC_STACK_ID, AC_TID, AC_T_ALLOC,
  AC_T_FREE, AC_FREE_STACK_ID, AC_FREE_TID, AC_FREE_KIND, AC_ALLOC_SEQ, AC_FREE_SEQ,
  AC_REALLOC_FROM, AC_POOL, AC_REGION_ID, AC_DEVICE, AC_STREAM
};

/* Other tables: parameter numbers (hq__row_int(r, 3, ...)) are positions in these lists. */
static const hq__rowq_table_t import_tables[T_N_] = {
  [T_ALLOC] = {"allocations",
      "INSERT INTO allocations(pid, kind, address, size, alignment, stack_id, tid, t_alloc, "
      "t_free, free_stack_id, free_tid, free_kind, alloc_seq, free_seq, realloc_from, pool, "
      "region_id, device, stream)", AC_STREAM},
  [T_FRAME] = {"frames", "INSERT INTO frames(id, module_id, ip, offset)", 4},
  [T_STACK] = {"stacks", "INSERT INTO stacks(id, parent_id, frame_id, depth)", 4},
  [T_SAMPLE] = {"samples",
      "INSERT INTO samples(pid, t, heap_bytes, mmap_bytes, device_bytes, rss_bytes)", 6},
  [T_COUNTER] = {"counters", "INSERT INTO counters(pid, name, t, value)", 4},
  [T_CUDA_CALL] = {"cuda_calls",
      "INSERT INTO cuda_calls(id, pid, tid, t, api, result, address, handle, size, flags, stream, "
      "pool, device, duration_ns, stack_id)", 15},
  [T_VMM_HANDLE] = {"vmm_handles",
      "INSERT INTO vmm_handles(id, pid, handle, size, device, t_create, t_release, stack_id)", 8},
  [T_VMM_MAP] = {"vmm_mappings",
      "INSERT INTO vmm_mappings(id, pid, handle_id, address, size, offset, t_map, t_unmap)", 8},
};

/* The next row of table t; NULL (and *rc set) when the writer has failed. */
static hq__row_t *new_row(import_t *im, int t, int *rc) {
  hq__row_t *r = hq__rowq_row(im->rowq, t);
  if (hq_unlikely(!r)) *rc = hq__rowq_error(im->rowq);
  return r;
}

/* ---- frames, stacks ---- */

static int module_for(import_t *im, uint64_t ip, uint32_t gen) {
  int later = -1, any = -1;
  for (size_t i = 0; i < im->modules.n; i++) {
    const module_t *m = &im->modules.v[i];
    if (ip < m->base || ip >= m->base + m->size) continue;
    if (m->gen_first <= gen && gen < m->gen_gone) return (int)i;
    /* Captured before the writer saw the load: the first later mapping is the one. */
    if (m->gen_first > gen && later < 0) later = (int)i;
    if (any < 0) any = (int)i;
  }
  return later >= 0 ? later : any;
}

static int frame_id_for(import_t *im, uint64_t ip, uint32_t gen, int64_t *out) {
  int mod = module_for(im, ip, gen);
  uint64_t key = ip ^ ((uint64_t)(mod + 1) << 48), id;
  hq__row_t *r;
  int rc = HQ_OK;
  if (key == 0) key = 1ull << 63;
  if (hq__map_get(&im->frame_of, key, &id)) {
    *out = (int64_t)id;
    return HQ_OK;
  }
  id = (uint64_t)++im->next_frame_id;
  if (!(r = new_row(im, T_FRAME, &rc))) return rc;
  hq__row_int(r, 1, (int64_t)id);
  if (mod >= 0) {
    hq__row_int(r, 2, mod + 1);
    hq__row_int(r, 4, (int64_t)(ip - im->modules.v[mod].base));
  }
  hq__row_int(r, 3, (int64_t)ip);
  rc = hq__map_put(&im->frame_of, key, id);
  *out = (int64_t)id;
  return rc;
}

static int stack_id_for(import_t *im, uint64_t hash, int64_t *out) {
  uint64_t v, off;
  const hq_rec_stack_t *s;
  const uint64_t *ips;
  int64_t node = 0;
  int rc;
  *out = 0;
  if (hash == 0) return HQ_OK;
  if (hq__map_get(&im->stack_id, hash, &v)) {
    *out = (int64_t)v;
    return HQ_OK;
  }
  if (!hq__map_get(&im->stack_def, hash, &off)) return HQ_OK; /* definition lost: no stack */
  s = (const hq_rec_stack_t *)(im->map + off);
  ips = (const uint64_t *)(s + 1);
  for (uint32_t d = 0; d < s->depth; d++) {
    int64_t frame = 0;
    uint64_t key, child;
    hq__row_t *r;
    rc = frame_id_for(im, ips[s->depth - 1 - d], s->gen, &frame);
    if (rc) return rc;
    key = ((uint64_t)node << 32) ^ (uint64_t)frame;
    if (hq__map_get(&im->trie, key, &child)) {
      node = (int64_t)child;
      continue;
    }
    child = (uint64_t)++im->next_node_id;
    if (!(r = new_row(im, T_STACK, &rc))) return rc;
    hq__row_int(r, 1, (int64_t)child);
    if (node) hq__row_int(r, 2, node);
    hq__row_int(r, 3, frame);
    hq__row_int(r, 4, d + 1);
    if ((rc = hq__map_put(&im->trie, key, child))) return rc;
    node = (int64_t)child;
  }
  *out = node;
  return hq__map_put(&im->stack_id, hash, (uint64_t)node);
}

/* ---- rows ---- */

/* The aggregate tables are built while the events stream by, in the order the sweep meets
 * them (time order): one feed per allocation, one per release. */
static int agg_alloc(import_t *im, const pending_t *a) {
  hq__agg_event_t ev;
  if (!im->agg) return HQ_OK;
  memset(&ev, 0, sizeof ev);
  ev.kind = kind_name(a->kind);
  ev.stack_id = a->stack_id;
  ev.has_stack = a->stack_id != 0;
  ev.size = a->size;
  ev.t = (int64_t)a->t_alloc;
  ev.from_realloc = a->realloc_from != 0;
  return hq__agg_alloc(im->agg, &ev);
}

static int agg_free(import_t *im, const pending_t *a, uint64_t t_free, int free_kind,
                    uint32_t free_tid, uint64_t free_seq) {
  hq__agg_event_t ev;
  if (!im->agg) return HQ_OK;
  memset(&ev, 0, sizeof ev);
  ev.kind = kind_name(a->kind);
  ev.stack_id = a->stack_id;
  ev.has_stack = a->stack_id != 0;
  ev.size = a->size;
  ev.t = (int64_t)t_free;
  ev.from_realloc = a->realloc_from != 0;
  ev.free_kind = free_kind_name(free_kind);
  ev.tid = a->tid;
  ev.alloc_seq = (int64_t)a->alloc_seq;
  ev.free_tid = free_tid;
  ev.free_seq = (int64_t)free_seq;
  return hq__agg_free(im->agg, &ev);
}

/* Rows get ascending ids in the order they are written (when the block's fate is known), so
 * SQLite appends instead of searching the b-tree; allocation order is t_alloc. */
static int write_row(import_t *im, pending_t *a, const uint64_t *t_free, int free_kind,
                     uint32_t free_tid, uint64_t free_seq, int64_t free_stack) {
  const name_t *name;
  int rc = HQ_OK;
  hq__row_t *r = new_row(im, T_ALLOC, &rc);
  if (!r) return rc;
  a->id = ++im->next_alloc_id;
  r->rowid = a->id;
  hq__row_int(r, AC_PID, im->hdr->pid);
  name = kind_text(a->kind);
  hq__row_text(r, AC_KIND, name->s, name->len);
  hq__row_int(r, AC_ADDRESS, (int64_t)a->address);
  hq__row_int(r, AC_SIZE, (int64_t)a->size);
  if (a->align) hq__row_int(r, AC_ALIGNMENT, (int64_t)a->align);
  if (a->stack_id) hq__row_int(r, AC_STACK_ID, a->stack_id);
  hq__row_int(r, AC_TID, a->tid);
  hq__row_int(r, AC_T_ALLOC, (int64_t)a->t_alloc);
  if (t_free) {
    hq__row_int(r, AC_T_FREE, (int64_t)*t_free);
    if (free_stack) hq__row_int(r, AC_FREE_STACK_ID, free_stack);
    hq__row_int(r, AC_FREE_TID, free_tid);
    name = free_kind_text(free_kind);
    hq__row_text(r, AC_FREE_KIND, name->s, name->len); /* after AC_KIND: text in column order */
    hq__row_int(r, AC_FREE_SEQ, (int64_t)free_seq);
  }
  hq__row_int(r, AC_ALLOC_SEQ, (int64_t)a->alloc_seq);
  if (a->realloc_from) hq__row_int(r, AC_REALLOC_FROM, a->realloc_from);
  if (a->kind == HQ_KIND_POOL || (a->cuda && a->pool)) hq__row_int(r, AC_POOL, (int64_t)a->pool);
  if (a->region_id) hq__row_int(r, AC_REGION_ID, a->region_id);
  if (a->cuda && a->device >= 0) hq__row_int(r, AC_DEVICE, a->device);
  if (a->cuda && a->kind == HQ_KIND_CUDA_ASYNC) hq__row_int(r, AC_STREAM, (int64_t)a->stream);
  im->rows++;
  return t_free ? agg_free(im, a, *t_free, free_kind, free_tid, free_seq) : HQ_OK;
}

static int emit_sample(import_t *im, uint64_t t, const uint64_t *rss) {
  int rc = HQ_OK;
  hq__row_t *r = new_row(im, T_SAMPLE, &rc);
  if (!r) return rc;
  hq__row_int(r, 1, im->hdr->pid);
  hq__row_int(r, 2, (int64_t)t);
  hq__row_int(r, 3, (int64_t)im->heap_live);
  hq__row_int(r, 4, (int64_t)im->mmap_live);
  if (im->device_live || im->cu.seen) hq__row_int(r, 5, (int64_t)im->device_live);
  if (rss) hq__row_int(r, 6, (int64_t)*rss);
  return HQ_OK;
}

/* Samples due before time t: the recorded RSS samples, or one every 20 ms without them. */
static int samples_until(import_t *im, uint64_t t) {
  int rc;
  if (im->rss.n) {
    while (im->rss_i < im->rss.n && im->rss.v[im->rss_i].t <= t) {
      im->last_rss = im->rss.v[im->rss_i].rss_bytes;
      if ((rc = emit_sample(im, im->rss.v[im->rss_i].t, &im->last_rss))) return rc;
      im->rss_i++;
    }
    return HQ_OK;
  }
  while (im->next_synth_sample <= t) {
    if ((rc = emit_sample(im, im->next_synth_sample, NULL))) return rc;
    im->next_synth_sample += 20 * 1000 * 1000;
  }
  return HQ_OK;
}

static int do_alloc(import_t *im, stream_t *s, int kind, uint64_t t, uint64_t ptr, uint64_t size,
                    uint64_t aux, uint64_t stack_hash, int64_t realloc_from) {
  pending_t a;
  uint64_t idx, key;
  int cls = class_of_kind(kind), rc;
  uint64_t *total = class_total(im, cls);
  if (!kind_name(kind)) return HQ_OK;
  memset(&a, 0, sizeof a);
  if ((rc = stack_id_for(im, stack_hash, &a.stack_id))) return rc;
  a.kind = kind;
  a.address = ptr;
  a.size = size;
  a.align = (kind == HQ_KIND_ALIGNED || kind == HQ_KIND_NEW || kind == HQ_KIND_NEW_ARRAY) ? aux : 0;
  a.pool = aux;
  a.tid = s->tid;
  a.t_alloc = t;
  a.alloc_seq = ++s->alloc_seq;
  a.realloc_from = realloc_from;
  a.region_id = s->regions.n ? s->regions.v[s->regions.n - 1] : 0;
  if (im->cu.alloc_pending) {
    a.cuda = 1;
    a.device = im->cu.device;
    a.stream = im->cu.stream;
    a.pool = im->cu.pool;
  }
  key = live_key(cls, ptr);
  if (hq__map_del(&im->live, key, &idx)) {
    /* Handed out again while we thought it live: its release was not seen (MAP_FIXED over a
     * mapping, a free through a path the recorder could not interpose). */
    pending_t *old = &im->pend.v[idx - 1];
    *total -= old->size;
    if ((rc = write_row(im, old, &t, cls == CLASS_MMAP ? HQ_FREE_MUNMAP : 0, s->tid,
                        s->alloc_seq - 1, 0)))
      return rc;
    VEC_PUSH(im->pend_free, (uint32_t)(idx - 1), rc);
    if (rc) return rc;
  }
  if (im->pend_free.n) {
    idx = im->pend_free.v[--im->pend_free.n];
    im->pend.v[idx] = a;
  } else {
    VEC_PUSH(im->pend, a, rc);
    if (rc) return rc;
    idx = im->pend.n - 1;
  }
  if ((rc = hq__map_put(&im->live, key, idx + 1))) return rc;
  if ((rc = agg_alloc(im, &im->pend.v[idx]))) return rc;
  *total += size;
  if (cls == CLASS_HEAP && im->heap_live > im->peak_heap) {
    im->peak_heap = im->heap_live;
    im->peak_heap_t = t;
    im->peak_mmap_at_heap_peak = im->mmap_live;
    im->cu.device_at_heap_peak = im->device_live;
  }
  if (cls == CLASS_MMAP && im->mmap_live > im->peak_mmap) im->peak_mmap = im->mmap_live;
  return HQ_OK;
}

/* Release ptr in address space cls; *out_id gets the released row's id (0 if unknown). */
static int do_free_in(import_t *im, stream_t *s, int cls, int free_kind, uint64_t t, uint64_t ptr,
                      uint64_t stack_hash, int64_t *out_id) {
  uint64_t idx;
  int rc;
  int64_t free_stack = 0;
  pending_t *a;
  if (out_id) *out_id = 0;
  if (!hq__map_del(&im->live, live_key(cls, ptr), &idx)) {
    im->unmatched_frees++;
    return HQ_OK;
  }
  a = &im->pend.v[idx - 1];
  if (stack_hash && (rc = stack_id_for(im, stack_hash, &free_stack))) return rc;
  *class_total(im, cls) -= a->size;
  if ((rc = write_row(im, a, &t, free_kind, s->tid, s->alloc_seq, free_stack))) return rc;
  if (out_id) *out_id = a->id; /* assigned by write_row */
  VEC_PUSH(im->pend_free, (uint32_t)(idx - 1), rc);
  return rc;
}

static int do_free(import_t *im, stream_t *s, int free_kind, uint64_t t, uint64_t ptr,
                   uint64_t stack_hash, int64_t *out_id) {
  return do_free_in(im, s, class_of_free(free_kind), free_kind, t, ptr, stack_hash, out_id);
}

/* ---- CUDA: driver calls, device totals, VMM handles and mappings ----
 *
 * One HQ_REC_CUDA_CALL per wrapped driver call becomes one cuda_calls row (failed calls too).
 * A successful call then acts on memory: an allocation row (kinds cuda_device, cuda_managed,
 * cuda_host, cuda_async), the release of one, or VMM bookkeeping.  Releases take effect at the
 * time the call was entered, allocations at the time it returned, so a block given back by one
 * thread and handed out again to another pairs in the right order.
 *
 * VMM: cuMemCreate's handle is physical memory (an allocation row of kind cuda_vmm whose
 * address is the handle); it is returned only once cuMemRelease was called AND every mapping of
 * it is unmapped, whichever comes last.  Address reservations hold no memory.
 */

static const char *cuda_api_name(int api) {
#define HQ_CU_NAME_(id, name, role, kind) [id] = name,
  static const char *const names[HQ_CU_MAX_] = {HQ_CUDA_API_MAP(HQ_CU_NAME_)};
#undef HQ_CU_NAME_
  return api > 0 && api < HQ_CU_MAX_ ? names[api] : NULL;
}

static int cuda_api_role(int api) {
#define HQ_CU_ROLE_(id, name, role, kind) [id] = role,
  static const int roles[HQ_CU_MAX_] = {HQ_CUDA_API_MAP(HQ_CU_ROLE_)};
#undef HQ_CU_ROLE_
  return api > 0 && api < HQ_CU_MAX_ ? roles[api] : 0;
}

static int cuda_api_kind(int api) {
#define HQ_CU_KIND_(id, name, role, kind) [id] = kind,
  static const int kinds[HQ_CU_MAX_] = {HQ_CUDA_API_MAP(HQ_CU_KIND_)};
#undef HQ_CU_KIND_
  return api > 0 && api < HQ_CU_MAX_ ? kinds[api] : 0;
}

static int cuda_api_has_stream(int api) {
  switch (api) {
  case HQ_CU_MEM_ALLOC_ASYNC: case HQ_CU_MEM_ALLOC_ASYNC_PTSZ: case HQ_CU_MEM_ALLOC_POOL_ASYNC:
  case HQ_CU_MEM_ALLOC_POOL_ASYNC_PTSZ: case HQ_CU_MEM_FREE_ASYNC: case HQ_CU_MEM_FREE_ASYNC_PTSZ:
    return 1;
  default:
    return 0;
  }
}

/* When the call acts in the merge: releases when entered, everything else when it returned. */
static uint64_t cuda_order_t(const hq_rec_cuda_call_t *c) {
  int role = cuda_api_role(c->hdr.kind);
  int release = role == HQ_CU_ROLE_FREE || role == HQ_CU_ROLE_VMM_RELEASE || role == HQ_CU_ROLE_VMM_UNMAP;
  return release && c->duration_ns <= c->t ? c->t - c->duration_ns : c->t;
}

static uint64_t nz_key(uint64_t v) { return v ? v : 1ull << 63; }

static int cuda_prepare(import_t *im) {
  int rc;
  if (im->cu.ready) return HQ_OK;
  if ((rc = hq__map_init(&im->cu.handle_live, 64)) || (rc = hq__map_init(&im->cu.map_live, 64)))
    return rc;
  im->cu.ready = 1;
  return HQ_OK;
}

static void cuda_free(import_t *im) {
  for (size_t i = 0; i < im->cu.unknown_api.n; i++) free(im->cu.unknown_api.v[i]);
  free(im->cu.unknown_api.v);
  memset(&im->cu.unknown_api, 0, sizeof im->cu.unknown_api);
  im->cu.ready = 0;
  free(im->cu.handles.v);
  free(im->cu.maps.v);
  memset(&im->cu.handles, 0, sizeof im->cu.handles);
  memset(&im->cu.maps, 0, sizeof im->cu.maps);
  hq__map_free(&im->cu.handle_live);
  hq__map_free(&im->cu.map_live);
}

static void cuda_note_peak(import_t *im, uint64_t t) {
  if (im->device_live <= im->cu.peak_device) return;
  im->cu.peak_device = im->device_live;
  im->cu.peak_device_t = t;
  im->cu.heap_at_peak = im->heap_live;
  im->cu.mmap_at_peak = im->mmap_live;
}

/* The name of driver call api; "unknown_<id>" (kept until the import ends) when it is not ours. */
static const char *cuda_call_name(import_t *im, int api, int *rc) {
  const char *name = cuda_api_name(api);
  char unknown[32], *copy;
  if (name) return name;
  snprintf(unknown, sizeof unknown, "unknown_%u", (unsigned)api);
  for (size_t i = 0; i < im->cu.unknown_api.n; i++)
    if (!strcmp(im->cu.unknown_api.v[i], unknown)) return im->cu.unknown_api.v[i];
  if (!(copy = strdup(unknown))) {
    *rc = HQ_ENOMEM;
    return NULL;
  }
  VEC_PUSH(im->cu.unknown_api, copy, *rc);
  if (*rc) {
    free(copy);
    return NULL;
  }
  return copy;
}

static int cuda_insert_call(import_t *im, stream_t *s, const hq_rec_cuda_call_t *c, int64_t stack_id) {
  int rc = HQ_OK;
  const char *name = cuda_call_name(im, c->hdr.kind, &rc);
  hq__row_t *r;
  if (!name || !(r = new_row(im, T_CUDA_CALL, &rc))) return rc;
  hq__row_int(r, 1, ++im->cu.next_call_id);
  hq__row_int(r, 2, im->hdr->pid);
  hq__row_int(r, 3, s->tid);
  hq__row_int(r, 4, (int64_t)(c->duration_ns <= c->t ? c->t - c->duration_ns : c->t));
  hq__row_text(r, 5, name, strlen(name));
  hq__row_int(r, 6, c->result);
  if (c->address) hq__row_int(r, 7, (int64_t)c->address);
  if (c->handle) hq__row_int(r, 8, (int64_t)c->handle);
  if (c->size || cuda_api_role(c->hdr.kind) == HQ_CU_ROLE_ALLOC) hq__row_int(r, 9, (int64_t)c->size);
  hq__row_int(r, 10, (int64_t)c->flags);
  if (cuda_api_has_stream(c->hdr.kind)) hq__row_int(r, 11, (int64_t)c->stream);
  if (c->pool) hq__row_int(r, 12, (int64_t)c->pool);
  if (c->device >= 0) hq__row_int(r, 13, c->device);
  hq__row_int(r, 14, (int64_t)c->duration_ns);
  if (stack_id) hq__row_int(r, 15, stack_id);
  return HQ_OK;
}

static int cuda_write_handle(import_t *im, const vmm_handle_t *h) {
  int rc = HQ_OK;
  hq__row_t *r = new_row(im, T_VMM_HANDLE, &rc);
  if (!r) return rc;
  hq__row_int(r, 1, h->id);
  hq__row_int(r, 2, im->hdr->pid);
  hq__row_int(r, 3, (int64_t)h->handle);
  hq__row_int(r, 4, (int64_t)h->size);
  if (h->device >= 0) hq__row_int(r, 5, h->device);
  hq__row_int(r, 6, (int64_t)h->t_create);
  if (h->released) hq__row_int(r, 7, (int64_t)h->t_release);
  if (h->row.stack_id) hq__row_int(r, 8, h->row.stack_id);
  return HQ_OK;
}

static int cuda_write_map(import_t *im, const vmm_map_t *m, const uint64_t *t_unmap) {
  int rc = HQ_OK;
  hq__row_t *r = new_row(im, T_VMM_MAP, &rc);
  if (!r) return rc;
  hq__row_int(r, 1, m->id);
  hq__row_int(r, 2, im->hdr->pid);
  if (m->handle_ix) hq__row_int(r, 3, im->cu.handles.v[m->handle_ix - 1].id);
  hq__row_int(r, 4, (int64_t)m->address);
  hq__row_int(r, 5, (int64_t)m->size);
  hq__row_int(r, 6, (int64_t)m->offset);
  hq__row_int(r, 7, (int64_t)m->t_map);
  if (t_unmap) hq__row_int(r, 8, (int64_t)*t_unmap);
  return HQ_OK;
}

/* The physical memory of handle h is gone (released and unmapped) at t. */
static int vmm_free(import_t *im, stream_t *s, vmm_handle_t *h, uint64_t t, int64_t free_stack) {
  int rc;
  h->freed = 1;
  if (h->device >= 0) im->device_live -= h->size;
  if ((rc = write_row(im, &h->row, &t, HQ_FREE_CUDA, s->tid, s->alloc_seq, free_stack))) return rc;
  return cuda_write_handle(im, h);
}

static int vmm_release(import_t *im, stream_t *s, uint64_t handle, uint64_t t, int64_t stack) {
  uint64_t ix;
  vmm_handle_t *h;
  if (!hq__map_del(&im->cu.handle_live, nz_key(handle), &ix)) {
    im->unmatched_frees++;
    return HQ_OK;
  }
  h = &im->cu.handles.v[ix - 1];
  h->released = 1;
  h->t_release = t;
  return h->maps ? HQ_OK : vmm_free(im, s, h, t, stack);
}

static int vmm_create(import_t *im, stream_t *s, const hq_rec_cuda_call_t *c, int64_t stack_id) {
  vmm_handle_t h;
  int rc = HQ_OK;
  /* The driver hands out a handle value again only after it was released: that release was
   * not seen.  Treat it as released now. */
  if (hq__map_get(&im->cu.handle_live, nz_key(c->handle), &(uint64_t){0}) &&
      (rc = vmm_release(im, s, c->handle, c->t, 0)))
    return rc;
  memset(&h, 0, sizeof h);
  h.id = ++im->cu.next_handle_id;
  h.handle = c->handle;
  h.size = c->size;
  h.device = c->device;
  h.t_create = c->t;
  h.row.kind = HQ_KIND_CUDA_VMM;
  h.row.address = c->handle;
  h.row.size = c->size;
  h.row.stack_id = stack_id;
  h.row.tid = s->tid;
  h.row.t_alloc = c->t;
  h.row.alloc_seq = ++s->alloc_seq;
  h.row.region_id = s->regions.n ? s->regions.v[s->regions.n - 1] : 0;
  h.row.cuda = 1;
  h.row.device = c->device;
  VEC_PUSH(im->cu.handles, h, rc);
  if (rc) return rc;
  if ((rc = hq__map_put(&im->cu.handle_live, nz_key(c->handle), im->cu.handles.n))) return rc;
  if ((rc = agg_alloc(im, &h.row))) return rc;
  /* A handle on a host location (CUDA 12.2+) is not device memory. */
  if (c->device >= 0) im->device_live += c->size;
  cuda_note_peak(im, c->t);
  return HQ_OK;
}

static int vmm_unmap_one(import_t *im, stream_t *s, uint64_t addr, uint64_t t, int64_t stack,
                         uint64_t *out_size) {
  uint64_t ix;
  vmm_map_t *m;
  int rc;
  *out_size = 0;
  if (!hq__map_del(&im->cu.map_live, nz_key(addr), &ix)) return HQ_OK;
  m = &im->cu.maps.v[ix - 1];
  *out_size = m->size;
  if ((rc = cuda_write_map(im, m, &t))) return rc;
  if (m->handle_ix) {
    vmm_handle_t *h = &im->cu.handles.v[m->handle_ix - 1];
    if (h->maps) h->maps--;
    if (!h->maps && h->released && !h->freed) return vmm_free(im, s, h, t, stack);
  }
  return HQ_OK;
}

static int vmm_map(import_t *im, stream_t *s, const hq_rec_cuda_call_t *c) {
  vmm_map_t m;
  uint64_t ix = 0, dummy;
  int rc = HQ_OK;
  if (hq__map_get(&im->cu.map_live, nz_key(c->address), &dummy) &&
      (rc = vmm_unmap_one(im, s, c->address, c->t, 0, &dummy)))
    return rc; /* mapped again: its unmap was not seen */
  memset(&m, 0, sizeof m);
  m.id = ++im->cu.next_map_id;
  if (hq__map_get(&im->cu.handle_live, nz_key(c->handle), &ix)) {
    m.handle_ix = (size_t)ix;
    im->cu.handles.v[ix - 1].maps++;
  }
  m.address = c->address;
  m.size = c->size;
  m.offset = c->aux;
  m.t_map = c->t;
  VEC_PUSH(im->cu.maps, m, rc);
  if (rc) return rc;
  return hq__map_put(&im->cu.map_live, nz_key(c->address), im->cu.maps.n);
}

/* cuMemUnmap takes a whole mapped range: every mapping from address on, back to back. */
static int vmm_unmap(import_t *im, stream_t *s, const hq_rec_cuda_call_t *c, uint64_t t, int64_t stack) {
  uint64_t addr = c->address, end = c->address + c->size, size;
  int rc;
  while (addr < end) {
    if ((rc = vmm_unmap_one(im, s, addr, t, stack, &size))) return rc;
    if (!size) break;
    addr += size;
  }
  return HQ_OK;
}

static int cuda_call(import_t *im, stream_t *s, const hq_rec_cuda_call_t *c) {
  int api = c->hdr.kind, kind = cuda_api_kind(api), rc;
  uint64_t t_enter = cuda_order_t(c);
  int64_t stack_id = 0;
  im->cu.seen = 1;
  if ((rc = cuda_prepare(im))) return rc;
  if ((rc = stack_id_for(im, c->stack, &stack_id))) return rc;
  if ((rc = cuda_insert_call(im, s, c, stack_id))) return rc;
  if (c->result != 0) return HQ_OK;
  switch (cuda_api_role(api)) {
  case HQ_CU_ROLE_ALLOC:
    im->cu.alloc_pending = 1;
    im->cu.device = kind == HQ_KIND_CUDA_HOST ? -1 : c->device; /* host memory has no device */
    im->cu.stream = c->stream;
    im->cu.pool = c->pool;
    rc = do_alloc(im, s, kind, c->t, c->address, c->size, 0, c->stack, 0);
    im->cu.alloc_pending = 0;
    cuda_note_peak(im, c->t);
    return rc;
  case HQ_CU_ROLE_FREE:
    return do_free_in(im, s, kind == HQ_KIND_CUDA_HOST ? CLASS_PINNED : CLASS_DEVICE, HQ_FREE_CUDA,
                      t_enter, c->address, c->stack, NULL);
  case HQ_CU_ROLE_VMM_CREATE:
    return vmm_create(im, s, c, stack_id);
  case HQ_CU_ROLE_VMM_RELEASE:
    return vmm_release(im, s, c->handle, t_enter, stack_id);
  case HQ_CU_ROLE_VMM_MAP:
    return vmm_map(im, s, c);
  case HQ_CU_ROLE_VMM_UNMAP:
    return vmm_unmap(im, s, c, t_enter, stack_id);
  default:
    return HQ_OK; /* address reservations: the cuda_calls row is all */
  }
}

/* At the end: VMM rows still open, and one sample at the exact device peak. */
static int cuda_finish(import_t *im) {
  int rc = HQ_OK;
  if (!im->cu.seen) return HQ_OK;
  for (size_t i = 0; i < im->cu.maps.n && !rc; i++) {
    uint64_t ix;
    if (hq__map_get(&im->cu.map_live, nz_key(im->cu.maps.v[i].address), &ix) && ix == i + 1)
      rc = cuda_write_map(im, &im->cu.maps.v[i], NULL);
  }
  for (size_t i = 0; i < im->cu.handles.n && !rc; i++) {
    vmm_handle_t *h = &im->cu.handles.v[i];
    if (h->freed) continue;
    if (!(rc = write_row(im, &h->row, NULL, 0, 0, 0, 0))) rc = cuda_write_handle(im, h);
  }
  if (!rc && im->cu.peak_device) {
    uint64_t heap = im->heap_live, mmap = im->mmap_live, dev = im->device_live;
    im->heap_live = im->cu.heap_at_peak;
    im->mmap_live = im->cu.mmap_at_peak;
    im->device_live = im->cu.peak_device;
    rc = emit_sample(im, im->cu.peak_device_t, NULL);
    im->heap_live = heap;
    im->mmap_live = mmap;
    im->device_live = dev;
  }
  return rc;
}

/* ---- pass 2: the merge ---- */

/* Load the stream's next record and the time of its next part; cur = NULL at the end. */
static void stream_advance(import_t *im, stream_t *s) {
  (void)im;
  for (;;) {
    const hq_rec_hdr_t *h;
    span_t *sp;
    if (s->span_i >= s->spans.n) {
      s->cur = NULL;
      return;
    }
    sp = &s->spans.v[s->span_i];
    if (s->pos + sizeof *h > sp->len) {
      s->span_i++;
      s->pos = 0;
      continue;
    }
    h = (const hq_rec_hdr_t *)(sp->p + s->pos);
    s->pos += h->len;
    switch (h->type) {
    case HQ_REC_ALLOC: case HQ_REC_FREE: case HQ_REC_MUNMAP: case HQ_REC_THREAD_START:
    case HQ_REC_THREAD_END: case HQ_REC_REGION_BEGIN: case HQ_REC_REGION_END:
    case HQ_REC_COUNTER:
      s->cur = h;
      s->sub = 1;
      s->t = ((const hq_rec_time_t *)h)->t;
      return;
    case HQ_REC_CUDA_CALL:
      if (h->len < sizeof(hq_rec_cuda_call_t)) continue;
      s->cur = h;
      s->sub = 1;
      s->t = cuda_order_t((const hq_rec_cuda_call_t *)h);
      return;
    case HQ_REC_REALLOC: {
      const hq_rec_realloc_t *r = (const hq_rec_realloc_t *)h;
      s->cur = h;
      s->sub = r->old_ptr ? 0 : 1;
      s->t = s->sub ? r->t : r->t_old;
      return;
    }
    case HQ_REC_THREAD_NAME: {
      const hq_rec_thread_name_t *tn = (const hq_rec_thread_name_t *)h;
      memcpy(s->name, tn->name, 16);
      s->name[16] = '\0';
      continue;
    }
    default:
      continue; /* stack definitions were indexed in pass 1 */
    }
  }
}

static int process(import_t *im, stream_t *s) {
  const hq_rec_hdr_t *h = s->cur;
  int rc = HQ_OK;
  if (!s->has_start) {
    s->has_start = 1;
    s->t_start = s->t;
  }
  im->events++;
  if (s->t > im->last_t) im->last_t = s->t;
  switch (h->type) {
  case HQ_REC_ALLOC: {
    const hq_rec_alloc_t *a = (const hq_rec_alloc_t *)h;
    rc = do_alloc(im, s, h->kind, a->t, a->ptr, a->size, a->aux, a->stack, 0);
    break;
  }
  case HQ_REC_FREE: {
    const hq_rec_free_t *f = (const hq_rec_free_t *)h;
    /* Without free stacks the record stops before its stack field. */
    rc = do_free(im, s, h->kind, f->t, f->ptr, h->len >= sizeof *f ? f->stack : 0, NULL);
    break;
  }
  case HQ_REC_MUNMAP: {
    const hq_rec_munmap_t *m = (const hq_rec_munmap_t *)h;
    uint64_t idx;
    /* Only a munmap that starts where a recorded mapping starts releases it. */
    if (hq__map_get(&im->live, live_key(CLASS_MMAP, m->ptr), &idx))
      rc = do_free(im, s, HQ_FREE_MUNMAP, m->t, m->ptr, 0, NULL);
    break;
  }
  case HQ_REC_REALLOC: {
    const hq_rec_realloc_t *r = (const hq_rec_realloc_t *)h;
    int release = h->kind == HQ_KIND_MMAP ? HQ_FREE_MUNMAP : HQ_FREE_REALLOC;
    if (s->sub == 0) {
      int64_t from = 0;
      rc = do_free(im, s, release, r->t_old, r->old_ptr, 0, &from);
      /* The allocation part stays in the merge, remembering which row it continues. */
      s->sub = 1;
      s->t = r->t;
      s->realloc_from = from;
      s->pending_alloc_part = 1;
      return rc;
    }
    rc = do_alloc(im, s, h->kind, r->t, r->ptr, r->size, 0, r->stack, s->realloc_from);
    s->realloc_from = 0;
    break;
  }
  case HQ_REC_THREAD_START:
    s->t_start = ((const hq_rec_time_t *)h)->t;
    break;
  case HQ_REC_THREAD_END:
    s->has_end = 1;
    s->t_end = ((const hq_rec_time_t *)h)->t;
    break;
  case HQ_REC_REGION_BEGIN: {
    const hq_rec_region_t *r = (const hq_rec_region_t *)h;
    region_t reg;
    memset(&reg, 0, sizeof reg);
    reg.id = (int64_t)im->regions.n + 1;
    reg.parent = s->regions.n ? s->regions.v[s->regions.n - 1] : 0;
    reg.tid = s->tid;
    reg.t_begin = r->t;
    reg.name = (const char *)(r + 1);
    reg.name_len = r->name_len;
    if (sizeof *r + r->name_len > h->len) reg.name_len = 0;
    VEC_PUSH(im->regions, reg, rc);
    if (!rc) VEC_PUSH(s->regions, reg.id, rc);
    break;
  }
  case HQ_REC_REGION_END:
    if (s->regions.n) {
      region_t *reg = &im->regions.v[s->regions.v[--s->regions.n] - 1];
      reg->t_end = ((const hq_rec_region_t *)h)->t;
      reg->ended = 1;
    }
    break;
  case HQ_REC_COUNTER: {
    const hq_rec_counter_t *c = (const hq_rec_counter_t *)h;
    uint32_t n = sizeof *c + c->name_len <= h->len ? c->name_len : 0;
    hq__row_t *r = new_row(im, T_COUNTER, &rc);
    if (!r) break;
    hq__row_int(r, 1, im->hdr->pid);
    hq__row_text(r, 2, (const char *)(c + 1), n); /* the mapping outlives the writer */
    hq__row_int(r, 3, (int64_t)c->t);
    hq__row_double(r, 4, c->value);
    break;
  }
  case HQ_REC_CUDA_CALL:
    rc = cuda_call(im, s, (const hq_rec_cuda_call_t *)h);
    break;
  default:
    break;
  }
  return rc;
}

/* A binary min-heap of stream indices ordered by (time, stream index). */
static int earlier(import_t *im, uint32_t a, uint32_t b) {
  const stream_t *sa = &im->streams.v[a], *sb = &im->streams.v[b];
  return sa->t < sb->t || (sa->t == sb->t && a < b);
}

static void sift_down(import_t *im, uint32_t *heap, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && earlier(im, heap[l], heap[m])) m = l;
    if (r < n && earlier(im, heap[r], heap[m])) m = r;
    if (m == i) return;
    uint32_t t = heap[i];
    heap[i] = heap[m];
    heap[m] = t;
    i = m;
  }
}

static int pass2(import_t *im, hq_progress_t *prog) {
  size_t n = 0;
  uint32_t *heap = calloc(im->streams.n + 1, sizeof *heap);
  int rc = HQ_OK;
  if (!heap) return HQ_ENOMEM;
  for (size_t i = 0; i < im->streams.n; i++) {
    stream_advance(im, &im->streams.v[i]);
    if (im->streams.v[i].cur) heap[n++] = (uint32_t)i;
  }
  for (size_t i = n / 2; i-- > 0;) sift_down(im, heap, n, i);
  while (n > 0) {
    stream_t *s = &im->streams.v[heap[0]];
    if ((rc = samples_until(im, s->t))) break;
    if ((rc = process(im, s))) break;
    if (s->pending_alloc_part) {
      s->pending_alloc_part = 0; /* the realloc's allocation part is next for this stream */
    } else {
      stream_advance(im, s);
    }
    if (!s->cur) heap[0] = heap[--n];
    sift_down(im, heap, n, 0);
    if ((im->events & 0xffff) == 0) hq__progress_update(prog, im->events);
  }
  free(heap);
  return rc;
}

/* ---- the rest of the database ---- */

static void hex(const unsigned char *b, size_t n, char *out) {
  static const char d[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = d[b[i] >> 4];
    out[2 * i + 1] = d[b[i] & 15];
  }
  out[2 * n] = '\0';
}

static int write_modules(import_t *im) {
  sqlite3_stmt *st = NULL;
  int rc = hq__db_prepare(im->db,
      "INSERT INTO modules(id, pid, path, build_id, base, size, gen_first, gen_last) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", &st);
  if (rc) return rc;
  for (size_t i = 0; i < im->modules.n && !rc; i++) {
    const module_t *m = &im->modules.v[i];
    char bid[129];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_int64(st, 1, (int64_t)i + 1);
    sqlite3_bind_int64(st, 2, im->hdr->pid);
    sqlite3_bind_text(st, 3, m->path, -1, SQLITE_STATIC);
    if (m->build_id_len) {
      hex(m->build_id, m->build_id_len > 64 ? 64 : m->build_id_len, bid);
      sqlite3_bind_text(st, 4, bid, -1, SQLITE_TRANSIENT);
    }
    sqlite3_bind_int64(st, 5, (int64_t)m->base);
    sqlite3_bind_int64(st, 6, (int64_t)m->size);
    sqlite3_bind_int64(st, 7, m->gen_first);
    if (m->gen_gone != UINT32_MAX) sqlite3_bind_int64(st, 8, (int64_t)m->gen_gone - 1);
    if (sqlite3_step(st) != SQLITE_DONE) rc = hq__db_sqlerr(im->db, "modules");
  }
  sqlite3_finalize(st);
  return rc;
}

static int write_threads_regions(import_t *im) {
  sqlite3_stmt *st = NULL;
  int rc = hq__db_prepare(im->db,
      "INSERT OR REPLACE INTO threads(pid, tid, name, t_start, t_end) VALUES(?1, ?2, ?3, ?4, ?5)",
      &st);
  if (rc) return rc;
  for (size_t i = 0; i < im->streams.n && !rc; i++) {
    const stream_t *s = &im->streams.v[i];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_int64(st, 1, im->hdr->pid);
    sqlite3_bind_int64(st, 2, s->tid);
    if (s->name[0]) sqlite3_bind_text(st, 3, s->name, -1, SQLITE_STATIC);
    if (s->has_start) sqlite3_bind_int64(st, 4, (int64_t)s->t_start);
    if (s->has_end) sqlite3_bind_int64(st, 5, (int64_t)s->t_end);
    if (sqlite3_step(st) != SQLITE_DONE) rc = hq__db_sqlerr(im->db, "threads");
  }
  sqlite3_finalize(st);
  if (rc) return rc;
  rc = hq__db_prepare(im->db,
      "INSERT INTO regions(id, pid, name, parent_id, tid, t_begin, t_end) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)", &st);
  if (rc) return rc;
  for (size_t i = 0; i < im->regions.n && !rc; i++) {
    const region_t *r = &im->regions.v[i];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_int64(st, 1, r->id);
    sqlite3_bind_int64(st, 2, im->hdr->pid);
    sqlite3_bind_text(st, 3, r->name, (int)r->name_len, SQLITE_STATIC);
    if (r->parent) sqlite3_bind_int64(st, 4, r->parent);
    sqlite3_bind_int64(st, 5, r->tid);
    sqlite3_bind_int64(st, 6, (int64_t)r->t_begin);
    if (r->ended) sqlite3_bind_int64(st, 7, (int64_t)r->t_end);
    if (sqlite3_step(st) != SQLITE_DONE) rc = hq__db_sqlerr(im->db, "regions");
  }
  sqlite3_finalize(st);
  return rc;
}

static int meta_text(import_t *im, const char *key, const char *value) {
  return hq_db_meta_set(im->db, key, value);
}

static int write_meta(import_t *im) {
  const hq_raw_header_t *h = im->hdr;
  uint64_t duration = im->end ? im->end->t : im->last_t;
  uint64_t peak_rss = 0, peak_rss_t = 0;
  sqlite3_stmt *st = NULL;
  int rc = HQ_OK;
  char prog[sizeof h->program + 1], cmd[sizeof h->cmdline + 1], host[sizeof h->host + 1];
  snprintf(prog, sizeof prog, "%.*s", (int)sizeof h->program, h->program);
  snprintf(cmd, sizeof cmd, "%.*s", (int)sizeof h->cmdline, h->cmdline);
  snprintf(host, sizeof host, "%.*s", (int)sizeof h->host, h->host);
  for (size_t i = 0; i < im->rss.n; i++) {
    if (im->rss.v[i].rss_bytes > peak_rss) {
      peak_rss = im->rss.v[i].rss_bytes;
      peak_rss_t = im->rss.v[i].t;
    }
  }
  if (!im->complete && !im->reason[0])
    snprintf(im->reason, sizeof im->reason, "%s",
             im->truncated ? "the trace is truncated (the process was killed mid-write, or the disk filled)"
                           : "the process did not finish normally (killed, crashed, or still running)");
#define SETI(k, v) if (!rc) rc = hq__db_meta_set_int(im->db, k, (int64_t)(v))
#define SETT(k, v) if (!rc) rc = meta_text(im, k, v)
  SETT("heapql_version", HQ_VERSION_STRING);
  SETT("program", prog);
  SETT("command_line", cmd);
  SETT("host", host);
  SETI("pid", h->pid);
  SETI("ppid", h->ppid);
  SETI("t_start_unix_ns", h->t0_unix_ns);
  SETI("duration_ns", duration);
  if (im->end && im->end->exit_status >= 0) SETI("exit_status", im->end->exit_status);
  SETI("complete", im->complete);
  if (!im->complete) {
    SETT("incomplete_reason", im->reason);
  } else if (im->reason[0]) {
    SETT("notes", im->reason);
  }
  SETI("dropped_events", im->end ? im->end->dropped : 0);
  SETI("max_depth", h->max_depth);
  SETI("mmap_recorded", (h->flags & HQ_RAWF_MMAP) != 0);
  SETI("free_stacks", (h->flags & HQ_RAWF_FREE_STACK) != 0);
  SETT("unwinder", (h->flags & HQ_RAWF_FP_UNWIND) ? "fp" : "libunwind");
  SETT("clock", (h->flags & HQ_RAWF_TSC) ? "tsc" : "monotonic");
  if (im->end) SETI("recorder_bytes", im->end->recorder_bytes);
  SETI("unmatched_frees", im->unmatched_frees);
  SETI("symbolized", 0);
  SETI("peak_heap_bytes", im->peak_heap);
  SETI("peak_heap_t", im->peak_heap_t);
  SETI("peak_mmap_bytes", im->peak_mmap);
  SETI("peak_device_bytes", im->cu.peak_device);
  if (im->cu.peak_device) SETI("peak_device_t", im->cu.peak_device_t);
  if (im->rss.n) {
    SETI("peak_rss_bytes", peak_rss);
    SETI("peak_rss_t", peak_rss_t);
  }
  SETT("output", h->output);
#undef SETI
#undef SETT
  if (rc) return rc;
  rc = hq__db_prepare(im->db,
      "INSERT OR REPLACE INTO processes(pid, ppid, program, command_line, t_start_unix_ns, "
      "duration_ns, exit_status, exit_signal, complete) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8)",
      &st);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, h->pid);
  sqlite3_bind_int64(st, 2, h->ppid);
  sqlite3_bind_text(st, 3, prog, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, cmd, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, (int64_t)h->t0_unix_ns);
  sqlite3_bind_int64(st, 6, (int64_t)duration);
  if (im->end && im->end->exit_status >= 0) sqlite3_bind_int64(st, 7, im->end->exit_status);
  sqlite3_bind_int64(st, 8, im->complete);
  if (sqlite3_step(st) != SQLITE_DONE) rc = hq__db_sqlerr(im->db, "processes");
  sqlite3_finalize(st);
  return rc;
}

static int finish_rows(import_t *im) {
  uint64_t t_end = im->end ? im->end->t : im->last_t;
  int rc = HQ_OK;
  /* Still live at the end: leaks (or blocks of a program that was killed). */
  for (size_t i = 0; i < im->live.cap && !rc; i++) {
    if (!im->live.keys[i]) continue;
    rc = write_row(im, &im->pend.v[im->live.vals[i] - 1], NULL, 0, 0, 0, 0);
  }
  if (rc) return rc;
  if ((rc = samples_until(im, UINT64_MAX))) return rc;
  if (!im->rss.n && (rc = emit_sample(im, t_end, NULL))) return rc;
  /* One sample at the exact peak, so the timeline shows it. */
  if (im->peak_heap) {
    uint64_t heap = im->heap_live, mmap = im->mmap_live, dev = im->device_live;
    im->heap_live = im->peak_heap;
    im->mmap_live = im->peak_mmap_at_heap_peak;
    im->device_live = im->cu.device_at_heap_peak;
    rc = emit_sample(im, im->peak_heap_t, NULL);
    im->heap_live = heap;
    im->mmap_live = mmap;
    im->device_live = dev;
  }
  if (!rc) rc = cuda_finish(im);
  return rc;
}

static void import_free(import_t *im) {
  hq__rowq_abort(im->rowq); /* first: its rows point into the mapping */
  im->rowq = NULL;
  if (im->agg) hq__agg_abort(im->agg);
  im->agg = NULL;
  cuda_free(im);
  for (size_t i = 0; i < im->streams.n; i++) {
    free(im->streams.v[i].spans.v);
    free(im->streams.v[i].regions.v);
  }
  free(im->streams.v);
  free(im->modules.v);
  free(im->rss.v);
  free(im->regions.v);
  free(im->pend.v);
  free(im->pend_free.v);
  hq__map_free(&im->stream_of);
  hq__map_free(&im->stack_def);
  hq__map_free(&im->stack_id);
  hq__map_free(&im->frame_of);
  hq__map_free(&im->trie);
  hq__map_free(&im->live);
  if (im->map) munmap((void *)im->map, im->map_len);
}

int hq_import(const char *raw_path, const char *db_path, const hq_import_opts_t *opts,
              hq_import_stats_t *out_stats, char *errbuf, size_t errcap) {
  import_t im;
  hq_progress_t prog;
  struct stat sb;
  char tmp_path[4200];
  int fd = -1, rc = HQ_OK, in_txn = 0;
  hq_import_opts_t dflt = {0, 0, 0};

  memset(&im, 0, sizeof im);
  if (errbuf && errcap) errbuf[0] = '\0';
  if (!opts) opts = &dflt;
  if (!raw_path || !db_path) return HQ_EINVAL;
#define FAIL(code, ...) do { rc = (code); if (errbuf && errcap) snprintf(errbuf, errcap, __VA_ARGS__); goto out; } while (0)
  fd = open(raw_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) FAIL(errno == ENOENT ? HQ_ENOENT : HQ_EIO, "%s: %s", raw_path, strerror(errno));
  if (fstat(fd, &sb) != 0) FAIL(HQ_EIO, "%s: %s", raw_path, strerror(errno));
  if (!S_ISREG(sb.st_mode)) FAIL(HQ_EFORMAT, "%s: not a regular file", raw_path);
  if ((size_t)sb.st_size < sizeof(hq_raw_header_t))
    FAIL(HQ_EFORMAT, "%s: not a heapql raw trace", raw_path);
  im.map_len = (size_t)sb.st_size;
  /* Private and writable: TSC traces get their times converted in place (copy on write). */
  im.map = mmap(NULL, im.map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (im.map == MAP_FAILED) {
    im.map = NULL;
    FAIL(HQ_EIO, "%s: cannot map: %s", raw_path, strerror(errno));
  }
  im.hdr = (const hq_raw_header_t *)im.map;
  if (memcmp(im.hdr->magic, HQ_RAW_MAGIC, 8) != 0)
    FAIL(HQ_EFORMAT, "%s: not a heapql raw trace", raw_path);
  if (im.hdr->version != HQ_RAW_VERSION)
    FAIL(HQ_EFORMAT, "%s: raw trace version %u, this heapql reads version %u", raw_path,
         im.hdr->version, HQ_RAW_VERSION);
  if (im.hdr->header_size < sizeof(hq_raw_header_t) || im.hdr->header_size > im.map_len)
    FAIL(HQ_EFORMAT, "%s: corrupt raw trace header", raw_path);

  if (hq__map_init(&im.stream_of, 64) || hq__map_init(&im.stack_def, 4096) ||
      hq__map_init(&im.stack_id, 4096) || hq__map_init(&im.frame_of, 4096) ||
      hq__map_init(&im.trie, 4096) || hq__map_init(&im.live, 4096))
    FAIL(HQ_ENOMEM, "out of memory");
  if (im.hdr->flags & HQ_RAWF_TSC) {
    private_copy(&im, fd);
    convert_tsc_times(&im);
  }
  if ((rc = pass1(&im))) FAIL(rc, "%s: %s", raw_path, hq_strerror(rc));

  /* Build into a temporary file beside the target, then rename: never a half database. */
  snprintf(tmp_path, sizeof tmp_path, "%s.importing", db_path);
  if (!opts->force && stat(db_path, &sb) == 0)
    FAIL(HQ_EEXIST, "%s: already exists (use --force to replace it)", db_path);
  rc = hq_db_open(tmp_path, HQ_DB_CREATE | HQ_DB_FORCE, &im.db);
  if (rc) FAIL(rc, "%s", hq_db_errmsg(im.db));
  /* Import-time only: in-memory sorting, and a page cache of 64 MiB.  Rows are appended, so
   * full pages are never touched again: written out as the writer goes, they cost less than
   * all of them at COMMIT, where nothing else can run (a 1 GiB cache took 0.5 s longer on 10M
   * events, and 270 MB more memory). */
  if ((rc = hq__db_exec(im.db, "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY; BEGIN")))
    FAIL(rc, "%s", hq_db_errmsg(im.db));
  in_txn = 1;
  if ((rc = hq__agg_begin(im.db, &im.agg))) FAIL(rc, "%s", hq_db_errmsg(im.db));
  if ((rc = write_modules(&im))) FAIL(rc, "%s", hq_db_errmsg(im.db));
  /* The sweep: rows go to the writer thread, which holds the connection until it is done. */
  if ((rc = hq__rowq_start(im.db, import_tables, T_N_, &im.rowq)))
    FAIL(rc, "%s", hq_db_errmsg(im.db));
  hq__progress_init(&prog, opts->progress, "importing", 0);
  rc = pass2(&im, &prog);
  if (!rc) {
    hq__progress_done(&prog);
    rc = finish_rows(&im);
  }
  if (rc) hq__rowq_abort(im.rowq);
  else rc = hq__rowq_finish(im.rowq);
  im.rowq = NULL;
  if (rc) FAIL(rc, "%s", im.db->errmsg[0] ? hq_db_errmsg(im.db) : hq_strerror(rc));
  if ((rc = write_threads_regions(&im))) FAIL(rc, "%s", hq_db_errmsg(im.db));
  if ((rc = write_meta(&im))) FAIL(rc, "%s", hq_db_errmsg(im.db));
  /* No index on allocations: building one costs a third of the import, and reports read the
   * aggregate tables.  Ad-hoc queries that filter allocations by stack can add their own. */
  if ((rc = hq__db_exec(im.db, "CREATE INDEX stacks_by_parent ON stacks(parent_id);")))
    FAIL(rc, "%s", hq_db_errmsg(im.db));
  /* The aggregates were fed during the sweep; this writes them (and the exact peak meta). */
  rc = hq__agg_finish(im.agg);
  im.agg = NULL;
  if (rc) FAIL(rc, "%s", hq_db_errmsg(im.db));
  if ((rc = hq__db_meta_set_int(im.db, "aggregates_built", 1))) FAIL(rc, "%s", hq_db_errmsg(im.db));
  if ((rc = hq__db_exec(im.db, "COMMIT"))) FAIL(rc, "%s", hq_db_errmsg(im.db));
  in_txn = 0;
#ifndef HQ_IN_PRELOAD
  if (opts->symbolize && (rc = hq_symbolize(im.db, opts->progress)))
    FAIL(rc, "%s", hq_db_errmsg(im.db));
#endif
  cuda_free(&im);
  hq_db_close(im.db);
  im.db = NULL;
  if (rename(tmp_path, db_path) != 0)
    FAIL(HQ_EIO, "%s: cannot rename into place: %s", db_path, strerror(errno));
  if (out_stats) {
    out_stats->events = im.events;
    out_stats->allocations = im.rows;
    out_stats->stacks = im.stack_id.len;
    out_stats->complete = im.complete;
  }
#undef FAIL
out:
  hq__rowq_abort(im.rowq); /* the connection is ours again before anything else touches it */
  im.rowq = NULL;
  if (im.db) {
    if (in_txn) sqlite3_exec(im.db->sql, "ROLLBACK", NULL, NULL, NULL);
    import_free(&im);
    hq_db_close(im.db);
    im.map = NULL;
    unlink(tmp_path);
  } else {
    import_free(&im);
  }
  if (fd >= 0) close(fd);
  return rc;
}
