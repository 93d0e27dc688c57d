/*
 * hq_nvtx.c: heapql as an NVTX injection library.
 *
 * A program built with NVTX3 (the CUDA toolkit's header-only NVTX, which PyTorch and our
 * kernels use) looks, at its first NVTX call, for the library named by NVTX_INJECTION64_PATH,
 * opens it and calls its InitializeInjectionNvtx2 with a function that hands out export tables;
 * the tool fills the slots of the calls it implements.  `heapql run` points that variable at the
 * preload itself (already loaded: the dlopen returns it).  The NVTX memory extension
 * (nvToolsExtMem.h) is found the same way through InitializeInjectionNvtxExtension.
 *
 *   push/pop ranges      REGION_BEGIN/END of the calling thread, domain and category attached:
 *                        nested regions, and the allocations made inside carry the innermost
 *   start/end ranges     RANGE_START/END with the id handed out: process-wide regions
 *   domains, categories, registered strings   kept in fixed tables; names go into the trace
 *   memory API           a region registered in a heap is a block of kind pool (pool id: the
 *                        heap), unregistered, resized, or released with its heap
 *
 * The ABI below is NVTX's (nvtxDetail/nvtxTypes.h, nvToolsExt.h, nvToolsExtMem.h), written out
 * here so that heapql builds without the toolkit.  No call here allocates.
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <wchar.h>

#include "hq_guard.h"
#include "preload_int.h"

/* ---- NVTX's ABI ---- */
enum { ETID_CALLBACKS = 1 };
enum { MODULE_CORE = 1, MODULE_CORE2 = 5 };
enum {
  CORE_RangeStartEx = 4, CORE_RangeStartA = 5, CORE_RangeStartW = 6, CORE_RangeEnd = 7,
  CORE_RangePushEx = 8, CORE_RangePushA = 9, CORE_RangePushW = 10, CORE_RangePop = 11,
  CORE_NameCategoryA = 12, CORE_NameCategoryW = 13,
};
enum {
  CORE2_DomainRangeStartEx = 2, CORE2_DomainRangeEnd = 3, CORE2_DomainRangePushEx = 4,
  CORE2_DomainRangePop = 5, CORE2_DomainNameCategoryA = 8, CORE2_DomainNameCategoryW = 9,
  CORE2_DomainRegisterStringA = 10, CORE2_DomainRegisterStringW = 11, CORE2_DomainCreateA = 12,
  CORE2_DomainCreateW = 13,
};
enum { MSG_ASCII = 1, MSG_UNICODE = 2, MSG_REGISTERED = 3 };
enum { EXT_MODULE_MEM = 1, EXT_COMPAT_MEM = 0x0102 };
enum {
  MEM_HeapRegister = 0, MEM_HeapUnregister = 1, MEM_HeapReset = 2, MEM_RegionsRegister = 3,
  MEM_RegionsResize = 4, MEM_RegionsUnregister = 5,
};
enum { MEM_TYPE_VIRTUAL_ADDRESS = 1, MEM_REF_POINTER = 1, MEM_REF_HANDLE = 2 };

typedef void (*fn_t)(void);
typedef struct {
  size_t struct_size;
  int (*get_module_function_table)(int module, fn_t ***out_table, unsigned *out_size);
} export_callbacks_t;

typedef struct {                /* nvtxEventAttributes_v2 */
  uint16_t version, size;
  uint32_t category;
  int32_t color_type;
  uint32_t color;
  int32_t payload_type, reserved0;
  uint64_t payload;
  int32_t message_type;
  const void *message;
} event_attributes_t;

typedef struct { size_t segment_id, slot_count; intptr_t *slots; } ext_segment_t;
typedef struct {
  uint16_t nvtx_version, struct_size, module_id, compat_id;
  size_t segment_count;
  ext_segment_t *segments;
  void *get_export_function;
  const void *ext_info;
} ext_module_t;

typedef struct { size_t size; const void *ptr; } mem_range_t;  /* nvtxMemVirtualRangeDesc_v1 */
typedef struct {                                              /* nvtxMemHeapDesc_v1 */
  uint16_t compat, struct_size;
  uint32_t reserved0, usage, type;
  size_t type_desc_size;
  const void *type_desc;
} mem_heap_desc_t;
typedef struct {                                              /* nvtxMemRegionsRegisterBatch_v1 */
  uint16_t compat, struct_size;
  uint32_t region_type;
  void *heap;
  size_t count, element_size;
  const void *elements;
  void **handles_out;
} mem_register_t;
typedef struct {                                              /* nvtxMemRegionsResizeBatch_v1 */
  uint16_t compat, struct_size;
  uint32_t region_type;
  size_t count, element_size;
  const void *elements;
} mem_resize_t;
typedef struct {                                              /* nvtxMemRegionsUnregisterBatch_v1 */
  uint16_t compat, struct_size;
  uint32_t ref_type;
  size_t count, element_size;
  const void *const *refs;
} mem_unregister_t;

/* ---- domains, strings ---- */
#define MAX_DOMAINS 254          /* codes 2..255; 1 is the default domain */
#define MAX_STRINGS 4096
#define NAME_CAP 128

static char domain_names[MAX_DOMAINS][NAME_CAP];
static _Atomic unsigned n_domains;
static char strings[MAX_STRINGS][NAME_CAP];
static _Atomic unsigned n_strings;
static _Atomic uint64_t next_range_id = 1;
static _Atomic uint64_t next_heap = 1;
static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;

static void copy_name(char *dst, const char *src) {
  size_t n = src ? strnlen(src, NAME_CAP - 1) : 0;
  if (n) memcpy(dst, src, n);
  dst[n] = '\0';
}

/* A domain handle is its code (2..255) as a pointer: never NULL, which is the default domain. */
static int domain_code(const void *domain) {
  uintptr_t d = (uintptr_t)domain;
  return d >= 2 && d < 2 + MAX_DOMAINS ? (int)d : 1;
}

static void copy_wide(char *dst, size_t cap, const wchar_t *w) {
  mbstate_t st;
  size_t n = 0;
  memset(&st, 0, sizeof st);
  for (; w && *w && n + MB_LEN_MAX < cap; w++) {
    size_t k = wcrtomb(dst + n, *w, &st);
    if (k == (size_t)-1) dst[n] = '?', k = 1;
    n += k;
  }
  dst[n] = '\0';
}

/* The text of an event's message into buf. */
static const char *message_of(const event_attributes_t *a, char *buf, size_t cap) {
  buf[0] = '\0';
  if (!a || a->size < sizeof *a || !a->message) return buf;
  switch (a->message_type) {
  case MSG_ASCII: return (const char *)a->message;
  case MSG_UNICODE: copy_wide(buf, cap, (const wchar_t *)a->message); return buf;
  case MSG_REGISTERED: return (const char *)a->message; /* our own handle: the copied text */
  default: return buf;
  }
}

static uint32_t category_of(const event_attributes_t *a) {
  return a && a->size >= offsetof(event_attributes_t, color_type) ? a->category : 0;
}

static void put_name(uint32_t what, int domain, uint32_t id, const char *name) {
  struct {
    hq_rec_nvtx_name_t rec;
    char text[NAME_CAP];
  } r;
  size_t n = name ? strnlen(name, NAME_CAP - 1) : 0;
  memset(&r, 0, sizeof r);
  memcpy(r.text, name, n);
  r.rec.hdr.type = HQ_REC_NVTX_NAME;
  r.rec.hdr.len = (uint32_t)HQ_REC_ALIGN(sizeof r.rec + n);
  r.rec.what = what;
  r.rec.domain = (uint32_t)domain;
  r.rec.id = id;
  r.rec.name_len = (uint32_t)n;
  hq_guard_enter();
  hq__writer_put(&r, r.rec.hdr.len);
  hq_guard_leave();
}

/* ---- the calls ---- */

static int push(int domain, uint32_t category, const char *name) {
  if (hq_tracking()) hq__record_range(HQ_REC_REGION_BEGIN, domain, category, 0, name);
  return 0;
}
static int pop(int domain) {
  if (hq_tracking()) hq__record_range(HQ_REC_REGION_END, domain, 0, 0, NULL);
  return 0;
}
static uint64_t start(int domain, uint32_t category, const char *name) {
  uint64_t id = atomic_fetch_add(&next_range_id, 1);
  if (hq_tracking()) hq__record_range(HQ_REC_RANGE_START, domain, category, id, name);
  return id;
}
static void end(int domain, uint64_t id) {
  if (hq_tracking()) hq__record_range(HQ_REC_RANGE_END, domain, 0, id, NULL);
}

static int push_a(const char *m) { return push(1, 0, m); }
static int push_w(const wchar_t *m) {
  char buf[NAME_CAP];
  copy_wide(buf, sizeof buf, m);
  return push(1, 0, buf);
}
static int push_ex(const event_attributes_t *a) {
  char buf[NAME_CAP];
  return push(1, category_of(a), message_of(a, buf, sizeof buf));
}
static int pop_default(void) { return pop(1); }
static int domain_push_ex(const void *d, const event_attributes_t *a) {
  char buf[NAME_CAP];
  return push(domain_code(d), category_of(a), message_of(a, buf, sizeof buf));
}
static int domain_pop(const void *d) { return pop(domain_code(d)); }

static uint64_t start_a(const char *m) { return start(1, 0, m); }
static uint64_t start_w(const wchar_t *m) {
  char buf[NAME_CAP];
  copy_wide(buf, sizeof buf, m);
  return start(1, 0, buf);
}
static uint64_t start_ex(const event_attributes_t *a) {
  char buf[NAME_CAP];
  return start(1, category_of(a), message_of(a, buf, sizeof buf));
}
static void end_default(uint64_t id) { end(1, id); }
static uint64_t domain_start_ex(const void *d, const event_attributes_t *a) {
  char buf[NAME_CAP];
  return start(domain_code(d), category_of(a), message_of(a, buf, sizeof buf));
}
static void domain_end(const void *d, uint64_t id) { end(domain_code(d), id); }

static void *domain_create(const char *name) {
  unsigned i;
  pthread_mutex_lock(&names_lock);
  /* The same name is the same domain (NVTX's rule: one handle per name). */
  for (i = 0; i < atomic_load(&n_domains); i++)
    if (!strncmp(domain_names[i], name ? name : "", NAME_CAP - 1)) break;
  if (i == atomic_load(&n_domains) && i < MAX_DOMAINS) {
    copy_name(domain_names[i], name);
    atomic_store(&n_domains, i + 1);
    put_name(HQ_NVTX_NAME_DOMAIN, (int)i + 2, 0, domain_names[i]);
  }
  pthread_mutex_unlock(&names_lock);
  return i < MAX_DOMAINS ? (void *)(uintptr_t)(i + 2) : NULL;
}
static void *domain_create_w(const wchar_t *name) {
  char buf[NAME_CAP];
  copy_wide(buf, sizeof buf, name);
  return domain_create(buf);
}

static void name_category(const void *d, uint32_t category, const char *name) {
  put_name(HQ_NVTX_NAME_CATEGORY, d ? domain_code(d) : 1, category, name);
}
static void name_category_a(uint32_t c, const char *n) { name_category(NULL, c, n); }
static void name_category_w(uint32_t c, const wchar_t *n) {
  char buf[NAME_CAP];
  copy_wide(buf, sizeof buf, n);
  name_category(NULL, c, buf);
}
static void domain_name_category_a(const void *d, uint32_t c, const char *n) {
  name_category(d, c, n);
}
static void domain_name_category_w(const void *d, uint32_t c, const wchar_t *n) {
  char buf[NAME_CAP];
  copy_wide(buf, sizeof buf, n);
  name_category(d, c, buf);
}

/* A registered string's handle is its copy here: a message of type REGISTERED is its text. */
static const void *register_string(const void *d, const char *s) {
  unsigned i = atomic_fetch_add(&n_strings, 1);
  (void)d;
  if (i >= MAX_STRINGS) return "";
  copy_name(strings[i], s);
  return strings[i];
}
static const void *register_string_w(const void *d, const wchar_t *s) {
  char buf[NAME_CAP];
  copy_wide(buf, sizeof buf, s);
  return register_string(d, buf);
}

/* ---- the memory extension ---- */

/* A heap's handle is its pool id as a pointer (never NULL, the process-wide heap's id). */
static void *heap_register(const void *d, const mem_heap_desc_t *desc) {
  (void)d;
  (void)desc;
  return (void *)(uintptr_t)atomic_fetch_add(&next_heap, 1);
}
static void heap_release(const void *d, void *heap) {
  (void)d;
  if (hq_tracking()) hq__record_pool_reset((uint64_t)(uintptr_t)heap);
}

static void regions_register(const void *d, const mem_register_t *b) {
  const unsigned char *e;
  (void)d;
  if (!b || b->region_type != MEM_TYPE_VIRTUAL_ADDRESS || !b->elements) return;
  e = b->elements;
  for (size_t i = 0; i < b->count; i++, e += b->element_size) {
    const mem_range_t *r = (const mem_range_t *)e;
    if (hq_tracking()) hq__record_alloc(HQ_KIND_POOL, r->ptr, r->size, (uintptr_t)b->heap);
    if (b->handles_out) b->handles_out[i] = (void *)r->ptr;
  }
}

static void regions_resize(const void *d, const mem_resize_t *b) {
  const unsigned char *e;
  (void)d;
  if (!b || b->region_type != MEM_TYPE_VIRTUAL_ADDRESS || !b->elements) return;
  e = b->elements;
  for (size_t i = 0; i < b->count; i++, e += b->element_size) {
    const mem_range_t *r = (const mem_range_t *)e;
    if (hq_tracking()) hq__record_realloc(HQ_KIND_POOL, r->ptr, r->ptr, r->size, hq__now());
  }
}

static void regions_unregister(const void *d, const mem_unregister_t *b) {
  (void)d;
  if (!b || !b->refs) return;
  for (size_t i = 0; i < b->count; i++) {
    const void *ref = *(const void *const *)((const unsigned char *)b->refs + i * b->element_size);
    /* a handle is the region's address (regions_register), so both kinds name the block */
    if (hq_tracking()) hq__record_free(HQ_FREE_POOL, ref);
  }
}

/* ---- the entry points NVTX looks for ---- */

static void set_slot(fn_t **table, unsigned size, unsigned id, fn_t fn) {
  if (id < size && table[id]) *table[id] = fn;
}

hq_export int InitializeInjectionNvtx2(const void *(*get_export_table)(uint32_t));
hq_export int InitializeInjectionNvtx2(const void *(*get_export_table)(uint32_t)) {
  const export_callbacks_t *cb = get_export_table ? get_export_table(ETID_CALLBACKS) : NULL;
  fn_t **t = NULL;
  unsigned n = 0;
  if (!hq__state.initialized) return 0; /* a dormant copy (hq_init.c): NVTX calls stay no-ops */
  if (!cb || cb->struct_size < sizeof *cb || !cb->get_module_function_table) return 0;
#define SET(id, f) set_slot(t, n, id, (fn_t)(f))
  if (cb->get_module_function_table(MODULE_CORE, &t, &n) && t) {
    SET(CORE_RangeStartEx, start_ex);
    SET(CORE_RangeStartA, start_a);
    SET(CORE_RangeStartW, start_w);
    SET(CORE_RangeEnd, end_default);
    SET(CORE_RangePushEx, push_ex);
    SET(CORE_RangePushA, push_a);
    SET(CORE_RangePushW, push_w);
    SET(CORE_RangePop, pop_default);
    SET(CORE_NameCategoryA, name_category_a);
    SET(CORE_NameCategoryW, name_category_w);
  }
  t = NULL;
  n = 0;
  if (cb->get_module_function_table(MODULE_CORE2, &t, &n) && t) {
    SET(CORE2_DomainRangeStartEx, domain_start_ex);
    SET(CORE2_DomainRangeEnd, domain_end);
    SET(CORE2_DomainRangePushEx, domain_push_ex);
    SET(CORE2_DomainRangePop, domain_pop);
    SET(CORE2_DomainNameCategoryA, domain_name_category_a);
    SET(CORE2_DomainNameCategoryW, domain_name_category_w);
    SET(CORE2_DomainRegisterStringA, register_string);
    SET(CORE2_DomainRegisterStringW, register_string_w);
    SET(CORE2_DomainCreateA, domain_create);
    SET(CORE2_DomainCreateW, domain_create_w);
  }
#undef SET
  return 1;
}

hq_export int InitializeInjectionNvtxExtension(ext_module_t *m);
hq_export int InitializeInjectionNvtxExtension(ext_module_t *m) {
  intptr_t *slots;
  size_t n;
  if (!hq__state.initialized || !m || m->module_id != EXT_MODULE_MEM || m->compat_id != EXT_COMPAT_MEM ||
      m->segment_count < 1 || !m->segments || !m->segments[0].slots)
    return 0;
  slots = m->segments[0].slots;
  n = m->segments[0].slot_count;
#define SLOT(id, f) if ((size_t)(id) < n) slots[id] = (intptr_t)(f)
  SLOT(MEM_HeapRegister, heap_register);
  SLOT(MEM_HeapUnregister, heap_release);
  SLOT(MEM_HeapReset, heap_release);
  SLOT(MEM_RegionsRegister, regions_register);
  SLOT(MEM_RegionsResize, regions_resize);
  SLOT(MEM_RegionsUnregister, regions_unregister);
#undef SLOT
  return 1;
}
