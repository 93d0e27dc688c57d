/*
 * heapql/internal/kinds.h: the one table of allocation kinds and release kinds.
 *
 * Each kind has a number (in raw traces), a name (allocations.kind in the database), a class
 * (kinds.class: hq_class_t) and whether its bytes sit on a CUDA device.  The enum, the names,
 * the classes and the `kinds` rows of every new database (hq__kinds_insert_sql) are generated
 * from HQ_KIND_MAP, so they cannot disagree.  Numbers are part of the raw-trace format: new
 * kinds are appended, never inserted.
 *
 * Internal (not installed).
 */
#ifndef HEAPQL_INTERNAL_KINDS_H
#define HEAPQL_INTERNAL_KINDS_H

#include <string.h>
#include "heapql/analyzer.h" /* hq_class_t */

/* XX(ID, number, name, class, on_device) */
#define HQ_KIND_MAP(XX)                                                          \
  XX(MALLOC,        1, "malloc",       HQ_CLASS_HEAP,   0)                       \
  XX(CALLOC,        2, "calloc",       HQ_CLASS_HEAP,   0)                       \
  XX(REALLOC,       3, "realloc",      HQ_CLASS_HEAP,   0)                       \
  XX(ALIGNED,       4, "aligned",      HQ_CLASS_HEAP,   0) /* posix_memalign, aligned_alloc, memalign, valloc, pvalloc */ \
  XX(NEW,           5, "new",          HQ_CLASS_HEAP,   0)                       \
  XX(NEW_ARRAY,     6, "new[]",        HQ_CLASS_HEAP,   0)                       \
  XX(MMAP,          7, "mmap",         HQ_CLASS_MMAP,   0)                       \
  XX(POOL,          8, "pool",         HQ_CLASS_POOL,   0)                       \
  XX(CUDA_DEVICE,   9, "cuda_device",  HQ_CLASS_DEVICE, 1)                       \
  XX(CUDA_MANAGED, 10, "cuda_managed", HQ_CLASS_DEVICE, 1)                       \
  XX(CUDA_HOST,    11, "cuda_host",    HQ_CLASS_DEVICE, 0) /* pinned host memory */ \
  XX(CUDA_ASYNC,   12, "cuda_async",   HQ_CLASS_DEVICE, 1)                       \
  XX(CUDA_VMM,     13, "cuda_vmm",     HQ_CLASS_DEVICE, 1)                       \
  XX(CUDA_ARRAY,   14, "cuda_array",   HQ_CLASS_DEVICE, 1) /* CUDA arrays: size from the descriptor */ \
  XX(CUDA_HOST_REGISTERED, 15, "cuda_host_registered", HQ_CLASS_DEVICE, 0) /* cuMemHostRegister: the program's own host memory, pinned */ \
  XX(CUDA_IPC,     16, "cuda_ipc",     HQ_CLASS_DEVICE, 0) /* another process's device memory, mapped here: not allocated */

#define HQ__KIND_ENUM(id, num, name, cls, dev) HQ_KIND_##id = (num),
enum { HQ_KIND_NONE_ = 0, HQ_KIND_MAP(HQ__KIND_ENUM) HQ_KIND_MAX_ };
#undef HQ__KIND_ENUM

/* How a block was released.  XX(ID, number, name); 0 ("unseen") is a block handed out again
 * while it was live, whose release the recorder never saw. */
#define HQ_FREE_MAP(XX)                                                          \
  XX(FREE,         1, "free")     /* free, cfree, free_sized, free_aligned_sized */ \
  XX(DELETE,       2, "delete")   /* operator delete (any non-array variant) */  \
  XX(DELETE_ARRAY, 3, "delete[]")                                                \
  XX(REALLOC,      4, "realloc")  /* realloc moved the block */                  \
  XX(MUNMAP,       5, "munmap")                                                  \
  XX(POOL,         6, "pool")                                                    \
  XX(CUDA,         7, "cuda")

#define HQ__FREE_ENUM(id, num, name) HQ_FREE_##id = (num),
enum { HQ_FREE_UNSEEN = 0, HQ_FREE_MAP(HQ__FREE_ENUM) HQ_FREE_MAX_ };
#undef HQ__FREE_ENUM

typedef struct hq__kind_info_s {
  const char *name;   /* NULL: no such kind */
  unsigned    len;    /* strlen(name) */
  int         cls;    /* hq_class_t */
  int         on_device;
} hq__kind_info_t;

/* Indexed by kind number; entry 0 and gaps have name NULL. */
extern const hq__kind_info_t hq__kinds[HQ_KIND_MAX_];
/* Indexed by release number; entry 0 is "unseen". */
extern const hq__kind_info_t hq__free_kinds[HQ_FREE_MAX_];

/* The kind's entry, or NULL for a number that is no kind. */
static inline const hq__kind_info_t *hq__kind(int kind) {
  return kind > 0 && kind < HQ_KIND_MAX_ && hq__kinds[kind].name ? &hq__kinds[kind] : 0;
}
/* The release's entry; "unseen" for a number that is none. */
static inline const hq__kind_info_t *hq__free_kind(int free_kind) {
  return free_kind > 0 && free_kind < HQ_FREE_MAX_ ? &hq__free_kinds[free_kind] : &hq__free_kinds[0];
}
/* The kind named name, or 0. */
int hq__kind_parse(const char *name);
/* The release named name ("free", "realloc", ...), or HQ_FREE_UNSEEN. */
int hq__free_kind_parse(const char *name);

/* Write "INSERT INTO kinds(kind, class) VALUES(...),...;" (the `kinds` rows of a new database, one per
 * kind of HQ_KIND_MAP) into buf; returns 0, or -1 when cap is too small. */
int hq__kinds_insert_sql(char *buf, size_t cap);

#endif /* HEAPQL_INTERNAL_KINDS_H */
