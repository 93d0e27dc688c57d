/*
 * import_int.h: the importer's files share these (hq__imp_ prefix), grouped by defining file.
 *
 * The importer turns one raw trace (heapql/internal/rawfmt.h) into a database.  Its pieces:
 *   hq_import.c        the driver: hq_import(), the temporary file, the transaction, the rename
 *   hq_import_read.c   mapping the trace, TSC ticks to ns, pass 1 over the top-level records
 *   hq_import_sweep.c  pass 2: the threads' events merged in time order, each sent on
 *   hq_import_rows.c   allocations paired with releases into rows; frames, stacks, samples
 *   hq_import_cuda.c   CUDA driver calls, device totals, VMM handles and mappings
 *   hq_import_meta.c   modules, threads, regions, meta and processes rows
 *   hq_rowq.c          the writer thread that turns rows into SQLite records
 *
 * RULES FOR CODE THAT MAY RUN INSIDE THE HOST PROGRAM'S EXIT.  The preload calls hq_import() from
 * the recorded program's exit path (on_exit, _exit, the library destructor), so everything
 * reachable from it, and the database layer below it (analyzer/base/), must:
 *   - never call exit(), abort() or assert() and never raise a signal: every failure is a return
 *     code, and the program's own exit status stands;
 *   - write nothing to stdout, and to stderr only through the caller (errbuf);
 *   - start threads only with every signal blocked (the program's handlers must never run on
 *     them) and join them before returning;
 *   - use no static state that survives the call (a fork child may import again), no atexit or
 *     TLS destructors, and no lock a fork could leave held;
 *   - allocate freely (the recorder's guard is set: nothing of this is recorded) but free
 *     everything before returning, success or not.
 */
#ifndef HQ_IMPORT_INT_H
#define HQ_IMPORT_INT_H

#include <stdint.h>
#include <stdlib.h>

#include "base/base_int.h"
#include "heapql/internal/rawfmt.h"
#include "base/hq_map.h"
#include "import/hq_rowq.h"

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
  int64_t id, parent, tid;      /* tid 0: a process-wide (NVTX start/end) range */
  uint64_t t_begin, t_end;
  int ended;
  const char *name;
  uint32_t name_len;
  uint16_t domain;              /* 0 annotate.h; else the NVTX domain code (rawfmt.h) */
  uint32_t category;            /* NVTX category, 0 none */
} region_t;

/* An NVTX name (HQ_REC_NVTX_NAME): of domain code `domain`, or of its category `id`. */
typedef struct nvtx_name_s {
  uint32_t what, domain, id;
  const char *name;
  uint32_t name_len;
} nvtx_name_t;

typedef struct {
  uint32_t tid;
  VEC(span_t) spans;
  size_t span_i, pos;      /* cursor */
  const hq_rec_hdr_t *cur; /* current record, NULL when done */
  int sub;                 /* realloc: 0 = release part pending, 1 = allocation part */
  int64_t realloc_from;    /* row released by the pending realloc's first part */
  uint64_t realloc_pool;   /* and, for a pool block, its pool */
  int pending_alloc_part;  /* the current realloc record's allocation part is still to come */
  uint64_t t;              /* time of the current part */
  uint64_t alloc_seq;
  uint64_t t_start, t_end;
  int has_start, has_end, seen_event;
  char name[17];
  VEC(int64_t) regions;    /* open region ids (stack) */
} stream_t;

/* A device allocation that failed, and what was live on its device then (hq_import_oom.c). */
typedef struct {
  int64_t call_id, stack_id;
  uint64_t t, size, live_blocks, live_bytes;
  int32_t device, result;
  uint16_t api;
} cuda_failure_t;
typedef struct {
  uint32_t failure;           /* index into failures */
  int64_t stack_id;
  uint64_t blocks, bytes;
} cuda_failure_live_t;
#define HQ__MAX_FAILURES 1000

/* A virtual address range reserved with cuMemAddressReserve (no memory: a va_reservations row). */
typedef struct {
  uint64_t address, size, alignment, t_reserve, t_free;
  int64_t stack_id;
  int32_t device;
  uint32_t tid;
  int freed;
} cuda_va_t;

typedef struct {
  int64_t id;
  int kind;
  uint64_t address, size, align, pool;
  int64_t stack_id, realloc_from, region_id;
  uint32_t tid;
  uint8_t leak_class;      /* HQ_LEAK_* of the leak check at exit, 0 none */
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
  uint64_t ipc_live;       /* cuda_ipc: other processes' device memory mapped here */
  uint64_t peak_device, peak_device_t, heap_at_peak, mmap_at_peak;
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
  VEC(cuda_failure_t) failures;     /* failed device allocations (hq_import_oom.c) */
  VEC(cuda_va_t) vas;               /* address reservations, in the order made */
  VEC(hq_rec_pool_sample_t) pool_samples; /* stream-ordered pools' reserved/used, in time order */
  VEC(cuda_failure_live_t) failure_live;
  uint64_t failures_dropped;        /* past HQ__MAX_FAILURES: counted, not kept */
} cuda_import_t;

typedef struct {
  hq_db_t *db;
  const unsigned char *map;
  size_t map_len;
  const hq_raw_header_t *hdr;
  int complete, truncated;
  int map_owned;             /* map is an anonymous copy (the trace with its rings appended) */
  int lazy_tsc;              /* TSC times of chunk records still in ticks: converted span by
                              * span as the sweep reaches them (hq__imp_span_ready) */
  double tsc_k;              /* ns per tick */
  uint64_t recovered_bytes;  /* events read back from the ring file of a process that died */
  int fatal_signal;          /* HQ_REC_FATAL: the signal the process died of (0 = none seen) */
  const hq_rec_end_t *end;
  char reason[256];

  VEC(module_t) modules;
  VEC(hq_rec_rss_t) rss;
  VEC(stream_t) streams;
  VEC(region_t) regions;
  VEC(nvtx_name_t) nvtx_names;
  hq_map_t range_of;      /* NVTX start/end range id -> regions index+1, while open */
  hq_map_t stream_of;     /* tid -> stream index+1 */
  hq_map_t stack_def;     /* hash -> offset of hq_rec_stack_t in map */
  hq_map_t pycode;        /* Python code id -> offset of hq_rec_pycode_t in map */
  const hq_rec_python_t *python; /* the interpreter the process ran, or NULL */
  hq_map_t stack_id;      /* hash -> trie leaf id */
  hq_map_t frame_of;      /* ip ^ module<<48 -> frame id */
  hq_map_t trie;          /* parent<<32 | frame -> node id */
  hq_map_t live;          /* class<<56 | address -> pending index+1 */
  VEC(const hq_rec_leak_classes_t *) leak_recs; /* the leak check's verdicts, in the trace */
  const hq_rec_leak_scan_t *leak_scan; /* how the leak check went, or NULL */
  const char *embedded_suppressions;   /* __lsan_default_suppressions(), NUL-terminated, or NULL */
  uint64_t classified;    /* rows given a leak class */

  VEC(pending_t) pend;
  VEC(uint32_t) pend_free;

  int64_t next_alloc_id, next_frame_id, next_node_id;
  uint64_t heap_live, mmap_live, pool_live, device_live;
  /* the other totals at the heap's peak, which the aggregator finds (hq__agg_on_heap_peak) */
  uint64_t mmap_at_heap_peak, device_at_heap_peak;
  int64_t peak_heap_t;
  uint64_t peak_heap;
  uint64_t unmatched_frees, events, rows, last_t;
  size_t rss_i;
  uint64_t next_synth_sample;
  uint64_t last_rss;

  hq__rowq_t *rowq;       /* the rows' way into the database during the sweep (hq_rowq.h) */
  hq__agg_t *agg;         /* streaming aggregates (hq_aggregate.c), fed in time order */
  cuda_import_t cu;
} import_t;

/* Address spaces: heap, mmap, pool and device blocks never pair with each other.  Pinned host
 * memory (cuda_host, class 'device' in `kinds`) is CUDA's but not on the device: it pairs apart
 * and is not in device_bytes. */
enum { SPACE_HEAP = 1, SPACE_MMAP, SPACE_POOL, SPACE_DEVICE, SPACE_PINNED, SPACE_IPC };

static inline int hq__imp_space_of_kind(int kind) {
  const hq__kind_info_t *k = hq__kind(kind);
  if (!k) return SPACE_HEAP;
  switch (k->cls) {
  case HQ_CLASS_MMAP: return SPACE_MMAP;
  case HQ_CLASS_POOL: return SPACE_POOL;
  case HQ_CLASS_DEVICE:
    /* another process's memory mapped here is neither this device's nor pinned host memory */
    if (kind == HQ_KIND_CUDA_IPC) return SPACE_IPC;
    return k->on_device ? SPACE_DEVICE : SPACE_PINNED;
  default: return SPACE_HEAP;
  }
}

static inline uint64_t hq__imp_live_key(int space, uint64_t addr) {
  return ((uint64_t)space << 56) ^ addr;
}

/* The running total of an address space (samples' heap_bytes, mmap_bytes, device_bytes). */
static inline uint64_t *hq__imp_total(import_t *im, int space) {
  switch (space) {
  case SPACE_MMAP: return &im->mmap_live;
  case SPACE_POOL: return &im->pool_live;
  case SPACE_DEVICE: return &im->device_live;
  case SPACE_PINNED: return &im->cu.pinned_live;
  case SPACE_IPC: return &im->cu.ipc_live;
  default: return &im->heap_live;
  }
}

/* The innermost open region of a thread (0 = none): an allocation's region_id. */
static inline int64_t hq__imp_region(const stream_t *s) {
  return s->regions.n ? s->regions.v[s->regions.n - 1] : 0;
}

/* The tables the sweep writes through the row queue (hq_rowq.h). */
enum { T_ALLOC, T_FRAME, T_STACK, T_SAMPLE, T_COUNTER, T_CUDA_CALL, T_VMM_HANDLE, T_VMM_MAP, T_N_ };

/* ---- hq_import_read.c ---- */
/* Map the trace at raw_path (fd open on it) into im: header checked, TSC times converted.
 * On failure errbuf says why.  Returns HQ_OK, HQ_EFORMAT, HQ_EIO. */
int hq__imp_map(import_t *im, int fd, const char *raw_path, char *errbuf, size_t errcap);
/* ---- hq_import_rings.c ---- */
/* A trace without END: append what its ring file (raw_path + HQ_RINGS_SUFFIX) holds beyond the
 * trace, as chunks, to an anonymous copy of im->map.  No ring file, or nothing in it: nothing
 * changes.  Returns HQ_OK or HQ_ENOMEM. */
int hq__imp_add_rings(import_t *im, const char *raw_path);
/* Pass 1: modules, RSS samples, notes, END, thread names, each thread's chunks, stack
 * definitions indexed by hash.  Sets im->complete / im->truncated. */
int hq__imp_pass1(import_t *im);

/* ---- hq_import_rows.c ---- */
extern const hq__rowq_table_t hq__imp_tables[T_N_];
/* The next row of table t; NULL (and *rc set) when the writer has failed. */
hq__row_t *hq__imp_row(import_t *im, int t, int *rc);
/* The trie leaf of the stack with this hash (0 = no stack), writing its nodes and frames the
 * first time. */
int  hq__imp_stack_id(import_t *im, uint64_t hash, int64_t *out);
/* The sweep is about to read span sp: its times in ns (lazy TSC conversion). */
void hq__imp_span_ready(import_t *im, const span_t *sp);
/* The sweep (or pass 1) is done with span sp: give back the pages only it occupies (a file
 * mapping refaults them from the page cache if a record there is read again, e.g. a stack
 * definition; nothing read after this needs its times).  Keeps heapql's memory flat. */
void hq__imp_span_done(import_t *im, const span_t *sp);

/* ---- hq_import_oom.c ---- */
/* A failed device allocation (call c at time t, its cuda_calls row call_id): snapshot what is
 * live on its device, by stack. */
int  hq__imp_cuda_failure(import_t *im, const hq_rec_cuda_call_t *c, uint64_t t, int64_t call_id,
                          int64_t stack_id);
/* After the sweep: the device_failures and device_failure_live rows, and va_reservations. */
int  hq__imp_write_failures(import_t *im);

/* ---- hq_import_python.c ---- */
/* The line PyCode_Addr2Line gives for a byte offset, from a line table in format (HQ_PYLINES_*);
 * first_line where the table has none for it. */
int  hq__py_line(int format, const uint8_t *table, size_t len, int first_line, uint32_t offset);
int  hq__imp_index_pycode(import_t *im, const hq_rec_hdr_t *h); /* pass 1: id -> record */
/* Fill the frames row r (columns 3 on) of the Python frame at pseudo address ip. */
int  hq__imp_python_frame(import_t *im, uint64_t ip, hq__row_t *r);
/* The allocations row of a, released at *t_free (NULL: never). */
int  hq__imp_write_row(import_t *im, pending_t *a, const uint64_t *t_free, int free_kind,
                       uint32_t free_tid, uint64_t free_seq, int64_t free_stack);
int  hq__imp_emit_sample(import_t *im, uint64_t t, const uint64_t *rss);
int  hq__imp_do_alloc(import_t *im, stream_t *s, int kind, uint64_t t, uint64_t ptr,
                      uint64_t size, uint64_t aux, uint64_t stack_hash, int64_t realloc_from);
/* Feed the aggregator the allocation of a (rows of kinds the sweep does not make itself). */
int  hq__imp_agg_alloc(import_t *im, const pending_t *a);
/* Release ptr in address space `space`; *out_id (may be NULL) gets the released row's id. */
int  hq__imp_do_free_in(import_t *im, stream_t *s, int space, int free_kind, uint64_t t,
                        uint64_t ptr, uint64_t stack_hash, int64_t *out_id);
/* A release of kind free_kind, in the address space it acts in. */
int  hq__imp_do_free(import_t *im, stream_t *s, int free_kind, uint64_t t, uint64_t ptr,
                     uint64_t stack_hash, int64_t *out_id);
/* Release every live pool block of pool `pool` (an NVTX heap reset or unregistered). */
int  hq__imp_pool_reset(import_t *im, stream_t *s, uint64_t t, uint64_t pool);
/* The samples due up to time t: the recorded RSS samples, or one every 20 ms without them. */
int  hq__imp_samples_until(import_t *im, uint64_t t);

/* ---- hq_import_sweep.c ---- */
/* Pass 2: every event in time order. */
int  hq__imp_pass2(import_t *im, hq_progress_t *prog);
/* After pass 2: the blocks still live, the remaining samples, one sample at each exact peak. */
int  hq__imp_finish_rows(import_t *im);

/* ---- hq_import_cuda.c ---- */
/* When a driver call acts in the merge: releases when entered, everything else on return. */
uint64_t hq__imp_cuda_order_t(const hq_rec_cuda_call_t *c);
int  hq__imp_cuda_call(import_t *im, stream_t *s, const hq_rec_cuda_call_t *c);
int  hq__imp_cuda_finish(import_t *im);
void hq__imp_cuda_free(import_t *im);

/* ---- hq_import_meta.c ---- */
int  hq__imp_write_modules(import_t *im);
int  hq__imp_write_threads_regions(import_t *im);
int  hq__imp_write_meta(import_t *im);

/* ---- symbolization: provided by the library the importer is linked into ---- */
/* libheapql resolves frames with libdw (analyzer/symbols/); the preload, which runs inside the
 * program and leaves symbols to the analyzer, answers HQ_ENOTSUP. */
int  hq__imp_symbolize(hq_db_t *db, int progress);

#endif /* HQ_IMPORT_INT_H */
