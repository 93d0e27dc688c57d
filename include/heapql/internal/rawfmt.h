/*
 * heapql/internal/rawfmt.h: the raw trace the recorder appends while a program runs, and the
 * importer reads.
 *
 * INTERNAL and versioned (HQ_RAW_VERSION): a trace is read by the heapql that wrote it; the
 * format is not a public interface and will change (crash durability, speed) without notice.
 *
 * A raw trace is one file per process, written with write(2) only (so whatever reached the
 * kernel survives SIGKILL), little-endian, native layout:
 *
 *   hq_raw_header_t                       once, at offset 0
 *   record*                               each starts with hq_rec_hdr_t; len is a multiple of 8
 *
 * Record times ("t") are ns since t0, or TSC ticks since t0 when the header has HQ_RAWF_TSC
 * (the importer converts them with the HQ_REC_CLOCK pairs before anything reads them).
 * Top-level records come from the recorder's writer thread.  HQ_REC_CHUNK wraps a run of
 * records drained from one thread's ring; the records inside a chunk are that thread's events in
 * the order it made them.  A file that ends inside a record is "truncated": the importer keeps
 * everything before it and marks the database incomplete.  HQ_REC_END is written only by a
 * process that finished normally (exit, _exit, return from main).
 *
 * Beside the trace X.db.raw, the recorder keeps every thread's ring in a ring file,
 * X.db.raw.rings (HQ_RINGS_SUFFIX): slots of HQ_RING_HEADER_BYTES of hq_raw_ring_t, then `cap`
 * bytes of ring data, mapped MAP_SHARED with their disk space reserved (fallocate) first.  What
 * a thread had appended but the writer had not yet written into the trace is in that file when
 * the process dies, even by SIGKILL or the OOM killer: the kernel keeps a shared mapping's pages.
 * Each chunk says which slot it came from and where in the slot's stream (`pos`) it starts, so
 * the importer of a trace without END appends, per slot, what follows the last byte the trace
 * holds.  A process that ends normally removes its ring file after the END record.
 *
 * The recorder (preload/) writes it and the importer (analyzer/import/) reads it; with
 * kinds.h it is the whole contract between the two.
 */
#ifndef HEAPQL_INTERNAL_RAWFMT_H
#define HEAPQL_INTERNAL_RAWFMT_H

#include <stdint.h>

#include "heapql/internal/kinds.h"
#include "heapql/internal/pyframe.h"

#define HQ_RAW_MAGIC   "HQLRAW\0\1"  /* 8 bytes */
#define HQ_RAW_VERSION 2u            /* 2: chunks carry slot and pos; the ring file */
#define HQ_RAW_SUFFIX  ".raw"
#define HQ_RINGS_SUFFIX ".rings"     /* appended to the trace's path */

/* The head of one slot of the ring file.  head and tail are stream positions: bytes the thread
 * ever appended, bytes the writer ever wrote into the trace; the data byte of position x is at
 * data[x % cap].  A slot keeps its stream when a new thread takes it over (tid changes). */
#define HQ_RING_MAGIC        0x31474e4952514848ull  /* "HHQRING1" */
#define HQ_RING_HEADER_BYTES 4096u
#define HQ_RING_NO_SLOT      0xffffffffu            /* a chunk from a ring outside the file */
typedef struct hq_raw_ring_s {
  _Atomic uint64_t head;      /* written by the thread (release), after the record's bytes */
  char     pad0[56];
  _Atomic uint64_t tail;      /* written by the writer (release), after the trace took it */
  char     pad1[56];
  uint64_t magic;             /* HQ_RING_MAGIC once the slot is in use */
  uint64_t cap;               /* data bytes, a power of two */
  uint32_t slot;              /* its index in the file */
  uint32_t tid;               /* the thread that appends to it now */
} hq_raw_ring_t;

typedef struct hq_raw_header_s {
  char     magic[8];
  uint32_t version;
  uint32_t header_size;       /* sizeof(hq_raw_header_t) as written */
  uint32_t pid;
  uint32_t ppid;
  uint64_t t0_mono_ns;        /* CLOCK_MONOTONIC at start: record times are relative to it */
  uint64_t t0_unix_ns;        /* CLOCK_REALTIME at start */
  uint32_t max_depth;         /* frames per stack at most */
  uint32_t flags;             /* HQ_RAWF_* */
  char     program[256];      /* NUL-terminated, truncated */
  char     cmdline[2048];     /* arguments separated by ' ', NUL-terminated, truncated */
  char     host[64];
  char     output[1024];      /* the database this trace is meant to become */
  double   tsc_ns_per_tick;   /* HQ_RAWF_TSC: a first estimate, measured over ~100 us at start */
  uint64_t reserved;
} hq_raw_header_t;

enum {
  HQ_RAWF_MMAP       = 1u << 0, /* anonymous mmap recorded */
  HQ_RAWF_FREE_STACK = 1u << 1, /* free events carry stacks */
  HQ_RAWF_FP_UNWIND  = 1u << 2, /* stacks from frame pointers, not libunwind */
  HQ_RAWF_FORK_CHILD = 1u << 3, /* this process is a traced fork child */
  HQ_RAWF_TSC        = 1u << 4, /* times are TSC ticks since t0; HQ_REC_CLOCK records map them
                                 * to CLOCK_MONOTONIC ns; the importer converts */
};

typedef struct hq_rec_hdr_s {
  uint16_t type;  /* HQ_REC_* */
  uint16_t kind;  /* HQ_KIND_* for allocation events, HQ_FREE_* for frees, else 0 */
  uint32_t len;   /* whole record, header included; multiple of 8 */
} hq_rec_hdr_t;

enum {
  /* top level */
  HQ_REC_CHUNK = 1,      /* hq_rec_chunk_t + records of one thread */
  HQ_REC_MODULE,         /* hq_rec_module_t + build-id bytes + path (NUL-terminated) */
  HQ_REC_MODULE_GONE,    /* hq_rec_module_gone_t */
  HQ_REC_RSS,            /* hq_rec_rss_t */
  HQ_REC_THREAD_NAME,    /* hq_rec_thread_name_t */
  HQ_REC_NOTE,           /* hq_rec_note_t: recorder degraded, with a reason */
  HQ_REC_END,            /* hq_rec_end_t: the process finished normally */
  HQ_REC_CLOCK,          /* hq_rec_clock_t: a (tick, ns) pair for HQ_RAWF_TSC traces */
  HQ_REC_FATAL,          /* hq_rec_fatal_t: the process is about to die by this signal */
  HQ_REC_LEAK_CLASSES,   /* hq_rec_leak_classes_t + entries: the leak check at exit */
  HQ_REC_LEAK_SCAN,      /* hq_rec_leak_scan_t: how the leak check went */
  HQ_REC_TEXT,           /* hq_rec_text_t + text: a text the program gave (hdr.kind: HQ_TEXT_*) */
  HQ_REC_PYTHON,         /* hq_rec_python_t: the process runs a CPython interpreter */
  HQ_REC_NVTX_NAME,      /* hq_rec_nvtx_name_t + name: an NVTX domain or category was named */
  /* inside chunks */
  HQ_REC_ALLOC = 32,     /* hq_rec_alloc_t */
  HQ_REC_FREE,           /* hq_rec_free_t */
  HQ_REC_REALLOC,        /* hq_rec_realloc_t */
  HQ_REC_STACK,          /* hq_rec_stack_t + ips[depth] */
  HQ_REC_THREAD_START,   /* hq_rec_time_t */
  HQ_REC_THREAD_END,     /* hq_rec_time_t */
  HQ_REC_MUNMAP,         /* hq_rec_munmap_t: range unmapped (may cover part of a mapping) */
  HQ_REC_REGION_BEGIN,   /* hq_rec_region_t + name */
  HQ_REC_REGION_END,     /* hq_rec_region_t (name empty) */
  HQ_REC_COUNTER,        /* hq_rec_counter_t + name */
  HQ_REC_CUDA_CALL,      /* hq_rec_cuda_call_t: one wrapped CUDA driver call, after it returned */
  HQ_REC_PYCODE,         /* hq_rec_pycode_t + name + file + line table: one Python code object */
  HQ_REC_RANGE_START,    /* hq_rec_range_t + name: an NVTX start/end range began (process-wide) */
  HQ_REC_RANGE_END,      /* hq_rec_range_t: it ended (on any thread) */
  HQ_REC_POOL_RESET,     /* hq_rec_pool_reset_t: every pool block of one pool is released */
  HQ_REC_POOL_SAMPLE,    /* hq_rec_pool_sample_t: a CUDA memory pool's reserved and used bytes */
};

/* Allocation kinds (hdr.kind of HQ_REC_ALLOC/HQ_REC_REALLOC) and release kinds (hdr.kind of
 * HQ_REC_FREE) are the numbers of heapql/internal/kinds.h. */

typedef struct hq_rec_chunk_s {
  hq_rec_hdr_t hdr;
  uint32_t tid;
  uint32_t slot;   /* the ring's slot in the ring file, or HQ_RING_NO_SLOT */
  uint64_t pos;    /* stream position of the chunk's first byte in that slot */
} hq_rec_chunk_t;

typedef struct hq_rec_alloc_s {
  hq_rec_hdr_t hdr;
  uint64_t t;          /* ns since t0 */
  uint64_t ptr;
  uint64_t size;
  uint64_t stack;      /* stack hash, 0 = no stack */
  uint64_t aux;        /* alignment for aligned kinds, pool id for HQ_KIND_POOL */
} hq_rec_alloc_t;

typedef struct hq_rec_free_s {
  hq_rec_hdr_t hdr;    /* len 24 without the stack field (no HQ_RAWF_FREE_STACK), 32 with it */
  uint64_t t;
  uint64_t ptr;
  uint64_t stack;      /* present only when len >= 32 */
} hq_rec_free_t;

typedef struct hq_rec_realloc_s {
  hq_rec_hdr_t hdr;    /* kind = HQ_KIND_REALLOC or HQ_KIND_MMAP (mremap) */
  uint64_t t;          /* when the new block was handed out (after the call) */
  uint64_t t_old;      /* when the old block was released (before the call) */
  uint64_t old_ptr;
  uint64_t ptr;
  uint64_t size;
  uint64_t stack;
} hq_rec_realloc_t;

typedef struct hq_rec_stack_s {
  hq_rec_hdr_t hdr;
  uint64_t hash;
  uint32_t gen;        /* module-map generation the addresses belong to */
  uint32_t depth;
  /* uint64_t ips[depth]: innermost (the allocator's caller) first */
} hq_rec_stack_t;

typedef struct hq_rec_time_s {
  hq_rec_hdr_t hdr;
  uint64_t t;
} hq_rec_time_t;

typedef struct hq_rec_munmap_s {
  hq_rec_hdr_t hdr;
  uint64_t t;
  uint64_t ptr;
  uint64_t len;
} hq_rec_munmap_t;

/* REGION_BEGIN/END: a thread's nested range.  hdr.kind 0: heapql's annotate.h; otherwise an
 * NVTX push/pop of the domain whose code is hdr.kind (1 the default domain, 2.. the domains the
 * program created, named by HQ_REC_NVTX_NAME); an END closes the innermost open range of its
 * domain on its thread. */
typedef struct hq_rec_region_s {
  hq_rec_hdr_t hdr;
  uint64_t t;
  uint32_t name_len;   /* bytes of name that follow (no NUL) */
  uint32_t category;   /* NVTX category (0 none) */
} hq_rec_region_t;

/* RANGE_START/END: an NVTX start/end range (hdr.kind: its domain's code, as above), which may
 * end on another thread than it began; id is the nvtxRangeId_t heapql handed out. */
typedef struct hq_rec_range_s {
  hq_rec_hdr_t hdr;
  uint64_t t;
  uint64_t id;
  uint32_t name_len;   /* START: bytes of name that follow; END: 0 */
  uint32_t category;
} hq_rec_range_t;

/* NVTX_NAME: what 1 names the domain `domain` (its code); what 2 names category `id` of it. */
enum { HQ_NVTX_NAME_DOMAIN = 1, HQ_NVTX_NAME_CATEGORY = 2 };
typedef struct hq_rec_nvtx_name_s {
  hq_rec_hdr_t hdr;
  uint32_t what;
  uint32_t domain;
  uint32_t id;
  uint32_t name_len;   /* bytes of name that follow */
} hq_rec_nvtx_name_t;

/* POOL_RESET: a custom allocator's heap was reset or unregistered (NVTX memory API): every
 * block of kind pool with this pool id still live is released. */
/* POOL_SAMPLE: a stream-ordered CUDA memory pool (cuMemPoolGetAttribute RESERVED_MEM_CURRENT
 * and USED_MEM_CURRENT), read right after an allocation from it or a release on its device;
 * with hdr.kind HQ_POOL_SAMPLE_GRAPH, a device's graph memory (cuDeviceGetGraphMemAttribute)
 * after a graph launch, pool 0. */
enum { HQ_POOL_SAMPLE_POOL = 0, HQ_POOL_SAMPLE_GRAPH = 1 };
typedef struct hq_rec_pool_sample_s {
  hq_rec_hdr_t hdr;
  uint64_t t;
  uint64_t pool;       /* the CUmemoryPool */
  uint64_t reserved;   /* bytes the pool holds from the device */
  uint64_t used;       /* bytes of it handed out */
  int32_t  device;     /* -1 unknown */
  uint32_t pad;
} hq_rec_pool_sample_t;

typedef struct hq_rec_pool_reset_s {
  hq_rec_hdr_t hdr;
  uint64_t t;
  uint64_t pool;
} hq_rec_pool_reset_t;

typedef struct hq_rec_counter_s {
  hq_rec_hdr_t hdr;
  uint64_t t;
  double   value;
  uint32_t name_len;
  uint32_t pad;
} hq_rec_counter_t;

typedef struct hq_rec_module_s {
  hq_rec_hdr_t hdr;
  uint32_t gen;         /* first generation it is mapped in */
  uint16_t build_id_len;
  uint16_t path_len;    /* including the NUL */
  uint64_t base;
  uint64_t size;
  uint64_t t;
} hq_rec_module_t;

typedef struct hq_rec_module_gone_s {
  hq_rec_hdr_t hdr;
  uint32_t gen;         /* first generation it is no longer mapped in */
  uint32_t pad;
  uint64_t base;
  uint64_t t;
} hq_rec_module_gone_t;

typedef struct hq_rec_rss_s {
  hq_rec_hdr_t hdr;
  uint64_t t;
  uint64_t rss_bytes;
} hq_rec_rss_t;

typedef struct hq_rec_thread_name_s {
  hq_rec_hdr_t hdr;
  uint32_t tid;
  uint32_t pad;
  char     name[16];
} hq_rec_thread_name_t;

typedef struct hq_rec_note_s {
  hq_rec_hdr_t hdr;
  uint64_t t;
  char     text[240];
} hq_rec_note_t;

typedef struct hq_rec_clock_s {
  hq_rec_hdr_t hdr;
  uint64_t tick;          /* the time unit of every other record's t */
  uint64_t mono_ns;       /* CLOCK_MONOTONIC ns since t0 at the same moment */
} hq_rec_clock_t;

typedef struct hq_rec_fatal_s {
  hq_rec_hdr_t hdr;
  uint64_t t;
  int32_t  signo;         /* SIGABRT from abort(), or the fatal signal a handler caught */
  uint32_t pad;
} hq_rec_fatal_t;

/* The leak check at a normal exit (preload/hq_leakscan.c): the class of every heap block still
 * live then, memcheck's: HQ_LEAK_* below.  Blocks without an entry are unclassified. */
enum {
  HQ_LEAK_DEFINITELY = 1, /* no pointer to it anywhere */
  HQ_LEAK_INDIRECTLY,     /* reachable only from definitely lost blocks */
  HQ_LEAK_POSSIBLY,       /* reached only through interior pointers */
  HQ_LEAK_REACHABLE,      /* a pointer to its start from a root or a reachable block */
};
/* A reachable block found through one of memcheck's interior-pointer heuristics. */
enum { HQ_LEAK_VIA_NONE, HQ_LEAK_VIA_STDSTRING, HQ_LEAK_VIA_LENGTH64, HQ_LEAK_VIA_NEWARRAY,
       HQ_LEAK_VIA_MULTIPLE_INHERITANCE };
typedef struct hq_leak_entry_s {
  uint64_t ptr;           /* the block's address */
  uint8_t  leak_class;    /* HQ_LEAK_* */
  uint8_t  via;           /* HQ_LEAK_VIA_* */
  uint8_t  pad[6];
} hq_leak_entry_t;
typedef struct hq_rec_leak_classes_s {
  hq_rec_hdr_t hdr;       /* len = sizeof + n * sizeof(hq_leak_entry_t) */
  uint32_t n;
  uint32_t pad;
  /* hq_leak_entry_t entries[n] */
} hq_rec_leak_classes_t;
typedef struct hq_rec_leak_scan_s {
  hq_rec_hdr_t hdr;
  uint64_t t;
  uint64_t duration_ns;   /* the check's wall time */
  uint64_t blocks;        /* heap blocks live at the check */
  uint64_t root_bytes;    /* memory scanned as roots (mappings, stacks, registers) */
  uint64_t scanned_bytes; /* roots and the contents of the blocks reached */
  uint32_t threads;       /* other threads the check stopped (their registers and stacks) */
  uint32_t unanswered;    /* threads that did not stop in time: their whole stacks scanned */
  uint32_t status;        /* 0 done; else HQ_LEAK_SCAN_* (nothing classified) */
  uint32_t memory_kib;    /* the most memory the check held at once (its own mmaps), KiB */
} hq_rec_leak_scan_t;
enum { HQ_LEAK_SCAN_DONE = 0, HQ_LEAK_SCAN_BUSY = 1, HQ_LEAK_SCAN_NO_MEMORY = 2,
       HQ_LEAK_SCAN_NO_TRACE = 3 };

/* A text: its NUL-terminated bytes follow (len of them, NUL excluded). */
enum { HQ_TEXT_SUPPRESSIONS = 1 }; /* what __lsan_default_suppressions() returned */
typedef struct hq_rec_text_s {
  hq_rec_hdr_t hdr;
  uint32_t len;
  uint32_t pad;
} hq_rec_text_t;

typedef struct hq_rec_end_s {
  hq_rec_hdr_t hdr;
  uint64_t t;
  int32_t  exit_status;   /* -1 if unknown */
  uint32_t pad;
  uint64_t dropped;       /* events lost (recorder degraded) */
  uint64_t recorder_bytes;/* memory the recorder itself held at its peak */
} hq_rec_end_t;

/* ---- Python ----
 *
 * In a CPython interpreter the recorder reads the calling thread's Python frames at each event
 * (preload/hq_python.c) and puts them into the stack in place of the evaluation loop's native
 * frames, as pseudo return addresses: HQ_PYFRAME_TAG | code id << 32 | bytecode offset.  The
 * code id names an HQ_REC_PYCODE record of the same thread, sent before the first stack that
 * uses it (ids are per process and never reused; one code object may have several).  The
 * offset is in bytes from the code's first instruction, as PyCode_Addr2Line takes it, or
 * HQ_PYFRAME_NOT_STARTED for a frame that has run no instruction yet (its line is the code's
 * first line). */

enum {
  HQ_PYALLOC_PYMALLOC = 0,  /* Python's small-object allocator (the default) */
  HQ_PYALLOC_MALLOC = 1,    /* PYTHONMALLOC=malloc: every object from malloc */
  HQ_PYALLOC_DEBUG = 2,     /* PYTHONMALLOC=*debug: the debug hooks */
};
typedef struct hq_rec_python_s {
  hq_rec_hdr_t hdr;
  uint32_t version;       /* PY_VERSION_HEX of the interpreter */
  uint16_t frames;        /* 1: Python frames are read; 0: this version's layout is unknown */
  uint16_t allocator;     /* HQ_PYALLOC_* from PYTHONMALLOC at start */
  uint64_t eval_lo, eval_hi; /* the evaluation loop's code, whose native frames are replaced */
} hq_rec_python_t;

/* Line-table formats of hq_rec_pycode_t (the interpreter's own bytes, copied). */
enum {
  HQ_PYLINES_LNOTAB = 1,    /* 3.8, 3.9: co_lnotab (byte offset, signed line delta) pairs */
  HQ_PYLINES_310 = 2,       /* 3.10: co_linetable (byte delta, line delta or -128) pairs */
  HQ_PYLINES_LOCATIONS = 3, /* 3.11+: co_linetable location entries (Objects/locations.md) */
};
typedef struct hq_rec_pycode_s {
  hq_rec_hdr_t hdr;
  uint32_t id;            /* > 0 */
  uint16_t format;        /* HQ_PYLINES_* */
  uint16_t name_len;      /* bytes of the qualified name (UTF-8) that follow */
  int32_t  first_line;    /* co_firstlineno */
  uint16_t file_len;      /* bytes of co_filename (UTF-8) after the name */
  uint16_t pad;
  uint32_t table_len;     /* bytes of the line table after the file (cut at HQ_PYCODE_TABLE_MAX) */
  uint32_t pad2;
} hq_rec_pycode_t;
#define HQ_PYCODE_TABLE_MAX 16384u

/* ---- CUDA driver calls ----
 *
 * The driver entry points the recorder wraps (preload/hq_cuda_hooks.c): the id stored in the
 * record's hdr.kind, the exported name, what a successful call does to memory, and the kind of
 * the block it hands out (or, for releases, the kind that picks the address space).  Ids are
 * part of the trace format: new entry points are appended, never inserted.
 */
enum {
  HQ_CU_ROLE_ALLOC = 1,   /* hands out a block: address, size */
  HQ_CU_ROLE_FREE,        /* releases a block (cuMemFreeAsync: the release is requested on a stream) */
  HQ_CU_ROLE_VMM_CREATE,  /* physical memory: handle, size */
  HQ_CU_ROLE_VMM_RELEASE, /* the handle is released; memory goes when its last mapping goes */
  HQ_CU_ROLE_VMM_MAP,     /* handle mapped at address, size, offset (aux) */
  HQ_CU_ROLE_VMM_UNMAP,   /* every mapping inside [address, address + size) */
  HQ_CU_ROLE_VA,          /* address-range reservation: no memory */
  HQ_CU_ROLE_LAUNCH,      /* a graph launch: graph memory sampled after it (pool_samples) */
};

#define HQ_CUDA_API_MAP(XX)                                                                   \
  XX(HQ_CU_MEM_ALLOC,                "cuMemAlloc_v2",                HQ_CU_ROLE_ALLOC,  HQ_KIND_CUDA_DEVICE)  \
  XX(HQ_CU_MEM_ALLOC_PITCH,          "cuMemAllocPitch_v2",           HQ_CU_ROLE_ALLOC,  HQ_KIND_CUDA_DEVICE)  \
  XX(HQ_CU_MEM_ALLOC_MANAGED,        "cuMemAllocManaged",            HQ_CU_ROLE_ALLOC,  HQ_KIND_CUDA_MANAGED) \
  XX(HQ_CU_MEM_ALLOC_HOST,           "cuMemAllocHost_v2",            HQ_CU_ROLE_ALLOC,  HQ_KIND_CUDA_HOST)    \
  XX(HQ_CU_MEM_HOST_ALLOC,           "cuMemHostAlloc",               HQ_CU_ROLE_ALLOC,  HQ_KIND_CUDA_HOST)    \
  XX(HQ_CU_MEM_ALLOC_ASYNC,          "cuMemAllocAsync",              HQ_CU_ROLE_ALLOC,  HQ_KIND_CUDA_ASYNC)   \
  XX(HQ_CU_MEM_ALLOC_ASYNC_PTSZ,     "cuMemAllocAsync_ptsz",         HQ_CU_ROLE_ALLOC,  HQ_KIND_CUDA_ASYNC)   \
  XX(HQ_CU_MEM_ALLOC_POOL_ASYNC,     "cuMemAllocFromPoolAsync",      HQ_CU_ROLE_ALLOC,  HQ_KIND_CUDA_ASYNC)   \
  XX(HQ_CU_MEM_ALLOC_POOL_ASYNC_PTSZ,"cuMemAllocFromPoolAsync_ptsz", HQ_CU_ROLE_ALLOC,  HQ_KIND_CUDA_ASYNC)   \
  XX(HQ_CU_MEM_FREE,                 "cuMemFree_v2",                 HQ_CU_ROLE_FREE,   HQ_KIND_CUDA_DEVICE)  \
  XX(HQ_CU_MEM_FREE_HOST,            "cuMemFreeHost",                HQ_CU_ROLE_FREE,   HQ_KIND_CUDA_HOST)    \
  XX(HQ_CU_MEM_FREE_ASYNC,           "cuMemFreeAsync",               HQ_CU_ROLE_FREE,   HQ_KIND_CUDA_DEVICE)  \
  XX(HQ_CU_MEM_FREE_ASYNC_PTSZ,      "cuMemFreeAsync_ptsz",          HQ_CU_ROLE_FREE,   HQ_KIND_CUDA_DEVICE)  \
  XX(HQ_CU_MEM_CREATE,               "cuMemCreate",                  HQ_CU_ROLE_VMM_CREATE,  HQ_KIND_CUDA_VMM) \
  XX(HQ_CU_MEM_RELEASE,              "cuMemRelease",                 HQ_CU_ROLE_VMM_RELEASE, HQ_KIND_CUDA_VMM) \
  XX(HQ_CU_MEM_MAP,                  "cuMemMap",                     HQ_CU_ROLE_VMM_MAP,     HQ_KIND_CUDA_VMM) \
  XX(HQ_CU_MEM_UNMAP,                "cuMemUnmap",                   HQ_CU_ROLE_VMM_UNMAP,   HQ_KIND_CUDA_VMM) \
  XX(HQ_CU_MEM_ADDRESS_RESERVE,      "cuMemAddressReserve",          HQ_CU_ROLE_VA,          0)               \
  XX(HQ_CU_MEM_ADDRESS_FREE,         "cuMemAddressFree",             HQ_CU_ROLE_VA,          0)               \
  XX(HQ_CU_MEM_HOST_REGISTER,        "cuMemHostRegister_v2",         HQ_CU_ROLE_ALLOC,  HQ_KIND_CUDA_HOST_REGISTERED) \
  XX(HQ_CU_MEM_HOST_UNREGISTER,      "cuMemHostUnregister",          HQ_CU_ROLE_FREE,   HQ_KIND_CUDA_HOST_REGISTERED) \
  XX(HQ_CU_ARRAY_CREATE,             "cuArrayCreate_v2",             HQ_CU_ROLE_ALLOC,  HQ_KIND_CUDA_ARRAY)   \
  XX(HQ_CU_ARRAY_3D_CREATE,          "cuArray3DCreate_v2",           HQ_CU_ROLE_ALLOC,  HQ_KIND_CUDA_ARRAY)   \
  XX(HQ_CU_MIPMAPPED_ARRAY_CREATE,   "cuMipmappedArrayCreate",       HQ_CU_ROLE_ALLOC,  HQ_KIND_CUDA_ARRAY)   \
  XX(HQ_CU_ARRAY_DESTROY,            "cuArrayDestroy",               HQ_CU_ROLE_FREE,   HQ_KIND_CUDA_ARRAY)   \
  XX(HQ_CU_MIPMAPPED_ARRAY_DESTROY,  "cuMipmappedArrayDestroy",      HQ_CU_ROLE_FREE,   HQ_KIND_CUDA_ARRAY)   \
  XX(HQ_CU_IPC_OPEN,                 "cuIpcOpenMemHandle_v2",        HQ_CU_ROLE_ALLOC,  HQ_KIND_CUDA_IPC)     \
  XX(HQ_CU_IPC_CLOSE,                "cuIpcCloseMemHandle",          HQ_CU_ROLE_FREE,   HQ_KIND_CUDA_IPC)     \
  XX(HQ_CU_GRAPH_LAUNCH,             "cuGraphLaunch",                HQ_CU_ROLE_LAUNCH, 0)                    \
  XX(HQ_CU_GRAPH_LAUNCH_PTSZ,        "cuGraphLaunch_ptsz",           HQ_CU_ROLE_LAUNCH, 0)                    \
  XX(HQ_CU_MEM_IMPORT_SHAREABLE,     "cuMemImportFromShareableHandle", HQ_CU_ROLE_VMM_CREATE, HQ_KIND_CUDA_IPC)

#define HQ_CU_ENUM_(id, name, role, kind) id,
enum { HQ_CU_NONE_ = 0, HQ_CUDA_API_MAP(HQ_CU_ENUM_) HQ_CU_MAX_ };
#undef HQ_CU_ENUM_

#define HQ_CU_STREAM_PER_THREAD 2u  /* CU_STREAM_PER_THREAD: what stream 0 means to a _ptsz call */

typedef struct hq_rec_cuda_call_s {
  hq_rec_hdr_t hdr;     /* kind = HQ_CU_* */
  uint64_t t;           /* when the call returned (ns since t0) */
  uint64_t duration_ns; /* it was entered at t - duration_ns */
  uint64_t address;     /* the pointer or address the call handed out or took; 0 if none */
  uint64_t handle;      /* VMM handle (cuMemCreate, cuMemRelease, cuMemMap) */
  uint64_t size;        /* bytes; pitch x height for cuMemAllocPitch */
  uint64_t flags;       /* the call's flags argument (ElementSizeBytes for cuMemAllocPitch) */
  uint64_t stream;      /* CUstream as a number; a _ptsz call's stream 0 as HQ_CU_STREAM_PER_THREAD */
  uint64_t pool;        /* CUmemoryPool of cuMemAllocFromPoolAsync */
  uint64_t aux;         /* pitch (cuMemAllocPitch), offset (cuMemMap), alignment (cuMemAddressReserve) */
  uint64_t stack;       /* stack hash of the caller */
  int32_t  result;      /* CUresult; 0 = CUDA_SUCCESS */
  int32_t  device;      /* device ordinal: the current context's, or cuMemCreate's location; -1 unknown */
} hq_rec_cuda_call_t;

#define HQ_REC_ALIGN(n) (((n) + 7u) & ~7u)

#endif /* HEAPQL_INTERNAL_RAWFMT_H */
