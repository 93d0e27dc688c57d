/* v_nvtx_double.c: a test double of the NVTX3 headers' side of injection, for machines without
 * the CUDA toolkit.  It does what nvtxInitOnce and nvtxExtInitOnce do (read
 * NVTX_INJECTION64_PATH, open that library, call InitializeInjectionNvtx2 with an export-table
 * function, then call through the slots the tool filled; the same for the memory extension
 * with InitializeInjectionNvtxExtension), with the slot numbers and structures of the NVTX ABI
 * (nvtxDetail/nvtxTypes.h, nvToolsExt.h, nvToolsExtMem.h).  Prints "init=N ext=N" and, when the
 * tool attached, runs the same ranges and allocations as v_nvtx.c. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fake_cuda.h"

typedef void (*fn_t)(void);
enum { CORE_N = 16, CORE2_N = 16, MEM_SLOTS = 63 };
static fn_t core[CORE_N], core2[CORE2_N];
static fn_t *core_ptrs[CORE_N], *core2_ptrs[CORE2_N];
static intptr_t mem_slots[MEM_SLOTS];

static int get_module_table(int module, fn_t ***out, unsigned *size) {
  if (module == 1) { *out = core_ptrs; *size = CORE_N; return 1; }
  if (module == 5) { *out = core2_ptrs; *size = CORE2_N; return 1; }
  return 0;
}
static const struct { size_t size; int (*get)(int, fn_t ***, unsigned *); } callbacks = {
  sizeof callbacks, get_module_table};
static const void *get_export_table(uint32_t id) { return id == 1 ? &callbacks : NULL; }

typedef struct { size_t id, count; intptr_t *slots; } segment_t;
typedef struct {
  uint16_t version, size, module, compat;
  size_t nsegments;
  segment_t *segments;
  void *get_export, *info;
} module_t;

typedef struct {
  uint16_t version, size;
  uint32_t category;
  int32_t color_type;
  uint32_t color;
  int32_t payload_type, reserved0;
  uint64_t payload;
  int32_t message_type;
  const void *message;
} attrs_t;
typedef struct { size_t size; const void *ptr; } range_t;
typedef struct {
  uint16_t compat, size;
  uint32_t reserved0, usage, type;
  size_t desc_size;
  const void *desc;
  uint32_t category, message_type;
  const void *message;
} heap_desc_t;
typedef struct {
  uint16_t compat, size;
  uint32_t type;
  void *heap;
  size_t count, element_size;
  const void *elements;
  void **handles;
} register_t_;
typedef struct {
  uint16_t compat, size;
  uint32_t ref_type;
  size_t count, element_size;
  const void *refs;
} unregister_t_;

static void *end_epoch(void *arg) {
  ((void (*)(uint64_t))core[7])(*(uint64_t *)arg);   /* RangeEnd */
  return NULL;
}

static void *keep[8];

int main(void) {
  const char *path = getenv("NVTX_INJECTION64_PATH");
  void *lib = path ? dlopen(path, RTLD_LAZY) : NULL;
  int (*init)(const void *(*)(uint32_t)) = lib ? (int (*)(const void *(*)(uint32_t)))dlsym(lib, "InitializeInjectionNvtx2") : NULL;
  int (*ext)(module_t *) = lib ? (int (*)(module_t *))dlsym(lib, "InitializeInjectionNvtxExtension") : NULL;
  segment_t seg = {1, MEM_SLOTS, mem_slots};
  module_t mem = {3, sizeof(module_t), 1, 0x0102, 1, &seg, NULL, NULL};
  int ok_init, ok_ext;
  for (int i = 0; i < CORE_N; i++) core_ptrs[i] = &core[i];
  for (int i = 0; i < CORE2_N; i++) core2_ptrs[i] = &core2[i];
  ok_init = init ? init(get_export_table) : 0;
  ok_ext = ext ? ext(&mem) : 0;
  printf("init=%d ext=%d\n", ok_init, ok_ext);
  if (!ok_init || !ok_ext || !core[9] || !core2[12] || !mem_slots[3]) return 0;
  {
    void *train = ((void *(*)(const char *))core2[12])("train");           /* DomainCreateA */
    attrs_t at = {3, sizeof(attrs_t), 7, 0, 0, 0, 0, 0, 1, "step"};
    uint64_t epoch;
    CUdeviceptr dev = 0;
    CUcontext ctx;
    pthread_t t;
    char *heap = malloc(1 << 20);
    range_t whole = {1 << 20, heap}, regions[2] = {{100, heap}, {200, heap + 4096}};
    heap_desc_t hd = {0x0102, sizeof hd, 0, 1, 1, sizeof whole, &whole, 0, 0, NULL};
    register_t_ rb = {0x0102, sizeof rb, 1, NULL, 2, sizeof(range_t), regions, NULL};
    const void *first = heap;
    unregister_t_ ub = {0x0102, sizeof ub, 1, 1, sizeof first, &first};
    ((void (*)(void *, uint32_t, const char *))core2[8])(train, 7, "forward"); /* DomainNameCategoryA */
    epoch = ((uint64_t (*)(const char *))core[5])("epoch");                 /* RangeStartA */
    ((int (*)(const char *))core[9])("outer");                              /* RangePushA */
    keep[0] = malloc(1111);
    ((int (*)(void *, const attrs_t *))core2[4])(train, &at);              /* DomainRangePushEx */
    keep[1] = malloc(2222);
    if (cuInit(0) != CUDA_SUCCESS || cuDevicePrimaryCtxRetain(&ctx, 0) != CUDA_SUCCESS ||
        cuCtxSetCurrent(ctx) != CUDA_SUCCESS || cuMemAlloc_v2(&dev, 3333) != CUDA_SUCCESS)
      return 1;
    ((int (*)(void *))core2[5])(train);                                     /* DomainRangePop */
    ((int (*)(void))core[11])();                                            /* RangePop */
    keep[2] = malloc(5555);
    if (pthread_create(&t, NULL, end_epoch, &epoch) || pthread_join(t, NULL)) return 1;
    keep[3] = heap;
    rb.heap = ((void *(*)(void *, const heap_desc_t *))mem_slots[0])(train, &hd); /* HeapRegister */
    ((void (*)(void *, const register_t_ *))mem_slots[3])(train, &rb);            /* RegionsRegister */
    ((void (*)(void *, const unregister_t_ *))mem_slots[5])(train, &ub);          /* RegionsUnregister */
    printf("ok\n");
  }
  return 0;
}
