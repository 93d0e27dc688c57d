/*
 * fake_libcuda.c: a test double of the CUDA driver, built as libcuda.so.1 (soname libcuda.so.1,
 * -Bsymbolic: its own references to cuGetProcAddress_v2 & co. must bind to itself, never to the
 * preload's exports; reference A6).  No GPU: "device" memory is host memory from a raw mmap
 * system call, so the recorder's mmap hook never sees it and the tests count only CUDA rows.
 *
 * Implements cuInit, cuDriverGetVersion, cuDeviceGetCount (2 devices), primary contexts and the
 * current context (per thread), cuGetProcAddress and _v2 (the newest variant not newer than the
 * version asked for; _ptsz under CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM; the legacy
 * 32-bit cuMemAlloc below 3020), and the memory entry points heapql wraps.
 *
 * Environment:
 *   FAKE_CUDA_FAIL=NAME[@SIZE]=CODE,...  NAME (the exact exported name) returns CODE instead of
 *                                        doing anything; with @SIZE only for that size.
 * Built with -DFAKE_CUDA_NO_VMM_CREATE it stands for an older driver without cuMemCreate.
 *
 *   FAKE_CUDA_LOG=1                      every cuGetProcAddress(_v2) call prints
 *                                        "gpa SYMBOL@VERSION/FLAGS from MODULE" on stderr, MODULE
 *                                        being the caller's (heapql's hook, or cudart itself).
 *   FAKE_CUDA_SELF_CALL=1                cuMemAllocHost_v2 calls the exported cuMemHostAlloc
 *                                        through dlsym(RTLD_DEFAULT), as a driver calling its
 *                                        own exports would (under the preload: through the hook).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fake_cuda.h"

#define FAKE_API __attribute__((visibility("default")))
#define NDEV 2
#define MAX_BLOCKS 1024
#define MAX_HANDLES 256
#define MAX_MAPS 256

struct CUctx_st { int device; };
static struct CUctx_st contexts[NDEV] = {{0}, {1}};
static __thread CUcontext current;
static int initialized;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct { uintptr_t addr; size_t len; int host; uintptr_t pool; } blocks[MAX_BLOCKS];
static struct { CUmemGenericAllocationHandle h; size_t size; int released; } handles[MAX_HANDLES];
static struct { CUdeviceptr addr; size_t size; CUmemGenericAllocationHandle h; } maps[MAX_MAPS];
static CUmemGenericAllocationHandle next_handle = 0xc0de0000;

/* ---- failure injection ---- */

static CUresult injected(const char *name, size_t size) {
  const char *spec = getenv("FAKE_CUDA_FAIL");
  size_t n = strlen(name);
  while (spec && *spec) {
    if (!strncmp(spec, name, n) && (spec[n] == '=' || spec[n] == '@')) {
      const char *p = spec + n;
      int match = 1;
      if (*p == '@') {
        char *end;
        match = strtoull(p + 1, &end, 10) == size;
        p = end;
      }
      if (match && *p == '=') return (CUresult)strtol(p + 1, NULL, 10);
    }
    spec = strchr(spec, ',');
    if (spec) spec++;
  }
  return CUDA_SUCCESS;
}

/* ---- "device" memory ---- */

static void *raw_map(size_t len, int prot) {
  long p = syscall(SYS_mmap, NULL, len ? len : 1, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p < 0 && p > -4096 ? NULL : (void *)p;
}

static CUresult block_new(uintptr_t *out, size_t len, int host) {
  void *p;
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (!current) return CUDA_ERROR_INVALID_CONTEXT;
  p = raw_map(len, PROT_READ | PROT_WRITE);
  if (!p) return CUDA_ERROR_OUT_OF_MEMORY;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_BLOCKS; i++) {
    if (blocks[i].addr) continue;
    blocks[i].addr = (uintptr_t)p;
    blocks[i].len = len;
    blocks[i].host = host;
    pthread_mutex_unlock(&lock);
    *out = (uintptr_t)p;
    return CUDA_SUCCESS;
  }
  pthread_mutex_unlock(&lock);
  syscall(SYS_munmap, p, len ? len : 1);
  return CUDA_ERROR_OUT_OF_MEMORY;
}

static CUresult block_free(uintptr_t addr, int host) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_BLOCKS; i++) {
    if (blocks[i].addr != addr || !addr || blocks[i].host != host) continue;
    syscall(SYS_munmap, (void *)addr, blocks[i].len ? blocks[i].len : 1);
    blocks[i].addr = 0;
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
  }
  pthread_mutex_unlock(&lock);
  return CUDA_ERROR_INVALID_VALUE;
}

#define FAIL_IF_INJECTED(name, size)              \
  do {                                            \
    CUresult rc_ = injected(name, size);          \
    if (rc_ != CUDA_SUCCESS) return rc_;          \
  } while (0)

/* ---- initialization, devices, contexts ---- */

FAKE_API CUresult cuInit(unsigned flags) {
  FAIL_IF_INJECTED("cuInit", 0);
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  initialized = 1;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuDriverGetVersion(int *version) {
  if (!version) return CUDA_ERROR_INVALID_VALUE;
  *version = 13000;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuDeviceGetCount(int *count) {
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  *count = NDEV;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice dev) {
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (!ctx || dev < 0 || dev >= NDEV) return CUDA_ERROR_INVALID_VALUE;
  *ctx = &contexts[dev];
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuCtxSetCurrent(CUcontext ctx) {
  current = ctx;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuCtxGetCurrent(CUcontext *ctx) {
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  *ctx = current;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuCtxGetDevice(CUdevice *dev) {
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (!current) return CUDA_ERROR_INVALID_CONTEXT;
  *dev = current->device;
  return CUDA_SUCCESS;
}

/* ---- allocations ---- */

/* The legacy 32-bit ABI, what cuGetProcAddress hands out for "cuMemAlloc" below 3020. */
FAKE_API CUresult cuMemAlloc(unsigned *dptr, unsigned bytesize) {
  (void)dptr;
  (void)bytesize;
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_API CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize) {
  uintptr_t p;
  CUresult rc;
  FAIL_IF_INJECTED("cuMemAlloc_v2", bytesize);
  if (!dptr || !bytesize) return CUDA_ERROR_INVALID_VALUE;
  if ((rc = block_new(&p, bytesize, 0)) == CUDA_SUCCESS) *dptr = p;
  return rc;
}

FAKE_API CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pitch, size_t width, size_t height,
                                     unsigned elem) {
  size_t row = (width + 511) & ~(size_t)511;
  uintptr_t p;
  CUresult rc;
  FAIL_IF_INJECTED("cuMemAllocPitch_v2", width * height);
  if (!dptr || !pitch || !width || !height || (elem != 4 && elem != 8 && elem != 16))
    return CUDA_ERROR_INVALID_VALUE;
  if ((rc = block_new(&p, row * height, 0)) == CUDA_SUCCESS) {
    *dptr = p;
    *pitch = row;
  }
  return rc;
}

FAKE_API CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned flags) {
  uintptr_t p;
  CUresult rc;
  FAIL_IF_INJECTED("cuMemAllocManaged", bytesize);
  if (!dptr || !bytesize || (flags != 1 && flags != 2)) return CUDA_ERROR_INVALID_VALUE;
  if ((rc = block_new(&p, bytesize, 0)) == CUDA_SUCCESS) *dptr = p;
  return rc;
}

FAKE_API CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned flags) {
  uintptr_t p;
  CUresult rc;
  FAIL_IF_INJECTED("cuMemHostAlloc", bytesize);
  if (!pp || flags > 0xf) return CUDA_ERROR_INVALID_VALUE;
  if ((rc = block_new(&p, bytesize, 1)) == CUDA_SUCCESS) *pp = (void *)p;
  return rc;
}

FAKE_API CUresult cuMemAllocHost_v2(void **pp, size_t bytesize) {
  const char *self = getenv("FAKE_CUDA_SELF_CALL");
  FAIL_IF_INJECTED("cuMemAllocHost_v2", bytesize);
  if (self && *self == '1') {
    /* What a driver calling its own export through the global scope would reach. */
    PFN_cuMemHostAlloc_v2020 fn = (PFN_cuMemHostAlloc_v2020)dlsym(RTLD_DEFAULT, "cuMemHostAlloc");
    if (fn) return fn(pp, bytesize, 0);
  }
  return cuMemHostAlloc(pp, bytesize, 0);
}

FAKE_API CUresult cuMemFree_v2(CUdeviceptr dptr) {
  FAIL_IF_INJECTED("cuMemFree_v2", 0);
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  return block_free(dptr, 0);
}

FAKE_API CUresult cuMemFreeHost(void *p) {
  FAIL_IF_INJECTED("cuMemFreeHost", 0);
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  return block_free((uintptr_t)p, 1);
}

/* ---- registered host memory, arrays, IPC ---- */

#define MAX_ARRAYS 64
static struct { void *p; size_t len; } registered[MAX_BLOCKS];
struct CUarray_st { int used; };
struct CUmipmappedArray_st { int used; };
static struct CUarray_st arrays[MAX_ARRAYS];
static struct CUmipmappedArray_st mipmapped[MAX_ARRAYS];

FAKE_API CUresult cuMemHostRegister_v2(void *p, size_t bytesize, unsigned flags) {
  (void)flags;
  FAIL_IF_INJECTED("cuMemHostRegister_v2", bytesize);
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (!p || !bytesize) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_BLOCKS; i++) {
    if (registered[i].p) continue;
    registered[i].p = p;
    registered[i].len = bytesize;
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
  }
  pthread_mutex_unlock(&lock);
  return CUDA_ERROR_OUT_OF_MEMORY;
}

FAKE_API CUresult cuMemHostUnregister(void *p) {
  FAIL_IF_INJECTED("cuMemHostUnregister", 0);
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_BLOCKS; i++) {
    if (registered[i].p != p || !p) continue;
    registered[i].p = NULL;
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
  }
  pthread_mutex_unlock(&lock);
  return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
}

/* Array handles come from static tables: the double itself never allocates. */
static void *take_array(int mip) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_ARRAYS; i++) {
    int *used = mip ? &mipmapped[i].used : &arrays[i].used;
    if (*used) continue;
    *used = 1;
    pthread_mutex_unlock(&lock);
    return mip ? (void *)&mipmapped[i] : (void *)&arrays[i];
  }
  pthread_mutex_unlock(&lock);
  return NULL;
}

static CUresult give_array(int *used) {
  if (!used || !*used) return CUDA_ERROR_INVALID_VALUE;
  *used = 0;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuArrayCreate_v2(CUarray *h, const CUDA_ARRAY_DESCRIPTOR *d) {
  FAIL_IF_INJECTED("cuArrayCreate_v2", d ? d->Width : 0);
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (!h || !d || !d->Width) return CUDA_ERROR_INVALID_VALUE;
  return (*h = take_array(0)) ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

FAKE_API CUresult cuArray3DCreate_v2(CUarray *h, const CUDA_ARRAY3D_DESCRIPTOR *d) {
  FAIL_IF_INJECTED("cuArray3DCreate_v2", d ? d->Width : 0);
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (!h || !d || !d->Width) return CUDA_ERROR_INVALID_VALUE;
  return (*h = take_array(0)) ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

FAKE_API CUresult cuMipmappedArrayCreate(CUmipmappedArray *h, const CUDA_ARRAY3D_DESCRIPTOR *d,
                                         unsigned levels) {
  FAIL_IF_INJECTED("cuMipmappedArrayCreate", d ? d->Width : 0);
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (!h || !d || !d->Width || !levels) return CUDA_ERROR_INVALID_VALUE;
  return (*h = take_array(1)) ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

FAKE_API CUresult cuArrayDestroy(CUarray h) {
  FAIL_IF_INJECTED("cuArrayDestroy", 0);
  return give_array(h ? &h->used : NULL);
}

FAKE_API CUresult cuMipmappedArrayDestroy(CUmipmappedArray h) {
  FAIL_IF_INJECTED("cuMipmappedArrayDestroy", 0);
  return give_array(h ? &h->used : NULL);
}

/* An IPC handle of this double carries the size of the exporter's allocation in its first
 * bytes; opening it maps that many bytes ("device" memory of another process). */
FAKE_API CUresult cuIpcOpenMemHandle_v2(CUdeviceptr *dptr, CUipcMemHandle handle, unsigned flags) {
  size_t size;
  uintptr_t p;
  CUresult rc;
  (void)flags;
  memcpy(&size, handle.reserved, sizeof size);
  FAIL_IF_INJECTED("cuIpcOpenMemHandle_v2", size);
  if (!dptr || !size) return CUDA_ERROR_INVALID_VALUE;
  if ((rc = block_new(&p, size, 0)) == CUDA_SUCCESS) *dptr = p;
  return rc;
}

FAKE_API CUresult cuIpcCloseMemHandle(CUdeviceptr dptr) {
  FAIL_IF_INJECTED("cuIpcCloseMemHandle", 0);
  return block_free(dptr, 0);
}

FAKE_API CUresult cuMemGetAddressRange_v2(CUdeviceptr *base, size_t *size, CUdeviceptr dptr) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_BLOCKS; i++) {
    if (!blocks[i].addr || dptr < blocks[i].addr || dptr >= blocks[i].addr + blocks[i].len) continue;
    if (base) *base = blocks[i].addr;
    if (size) *size = blocks[i].len;
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
  }
  pthread_mutex_unlock(&lock);
  return CUDA_ERROR_NOT_FOUND;
}

/* Stream-ordered pools: each device's default pool is (CUmemoryPool)(0x9000 + ordinal).  A pool
 * reserves in 2 MiB steps and keeps what it reserved (no trimming): reserved = the largest
 * 2 MiB multiple its used bytes ever needed. */
#define POOL_STEP ((uint64_t)2 << 20)
#define MAX_POOLS 16
static struct { uintptr_t pool; uint64_t used, reserved; } pools[MAX_POOLS];

static int pool_slot(uintptr_t pool) {
  for (int i = 0; i < MAX_POOLS; i++) {
    if (pools[i].pool == pool) return i;
    if (!pools[i].pool) {
      pools[i].pool = pool;
      return i;
    }
  }
  return -1;
}

static void pool_account(uintptr_t pool, int64_t delta) {
  int i;
  pthread_mutex_lock(&lock);
  if ((i = pool_slot(pool)) >= 0) {
    uint64_t need;
    pools[i].used += (uint64_t)delta;
    need = (pools[i].used + POOL_STEP - 1) / POOL_STEP * POOL_STEP;
    if (need > pools[i].reserved) pools[i].reserved = need;
  }
  pthread_mutex_unlock(&lock);
}

FAKE_API CUresult cuDeviceGetMemPool(CUmemoryPool *pool, CUdevice dev) {
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (!pool || dev < 0 || dev >= NDEV) return CUDA_ERROR_INVALID_VALUE;
  *pool = (CUmemoryPool)(uintptr_t)(0x9000 + dev);
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuMemPoolGetAttribute(CUmemoryPool pool, int attr, void *value) {
  int i;
  uint64_t v;
  if (!pool || !value) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  i = pool_slot((uintptr_t)pool);
  v = i < 0 ? 0 : attr == CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT ? pools[i].reserved
                : attr == CU_MEMPOOL_ATTR_USED_MEM_CURRENT ? pools[i].used : 0;
  pthread_mutex_unlock(&lock);
  if (attr != CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT && attr != CU_MEMPOOL_ATTR_USED_MEM_CURRENT)
    return CUDA_ERROR_NOT_SUPPORTED;
  memcpy(value, &v, sizeof v);
  return CUDA_SUCCESS;
}

/* Graphs: this double's CUgraphExec is the number of bytes of graph memory one launch leaves
 * allocated on the current device (graph memory reserves in 2 MiB steps too). */
static struct { uint64_t used, reserved; } graph_mem[NDEV];

static CUresult graph_launch(const char *name, CUgraphExec exec) {
  uint64_t add = (uint64_t)(uintptr_t)exec, need;
  FAIL_IF_INJECTED(name, add);
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (!current) return CUDA_ERROR_INVALID_CONTEXT;
  if (!exec) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  graph_mem[current->device].used += add;
  need = (graph_mem[current->device].used + POOL_STEP - 1) / POOL_STEP * POOL_STEP;
  if (need > graph_mem[current->device].reserved) graph_mem[current->device].reserved = need;
  pthread_mutex_unlock(&lock);
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuGraphLaunch(CUgraphExec exec, CUstream s) {
  (void)s;
  return graph_launch("cuGraphLaunch", exec);
}
FAKE_API CUresult cuGraphLaunch_ptsz(CUgraphExec exec, CUstream s) {
  (void)s;
  return graph_launch("cuGraphLaunch_ptsz", exec);
}

FAKE_API CUresult cuDeviceGetGraphMemAttribute(CUdevice dev, int attr, void *value) {
  uint64_t v;
  if (dev < 0 || dev >= NDEV || !value) return CUDA_ERROR_INVALID_VALUE;
  if (attr != CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT && attr != CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT)
    return CUDA_ERROR_NOT_SUPPORTED;
  pthread_mutex_lock(&lock);
  v = attr == CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT ? graph_mem[dev].used : graph_mem[dev].reserved;
  pthread_mutex_unlock(&lock);
  memcpy(value, &v, sizeof v);
  return CUDA_SUCCESS;
}

static CUresult alloc_async(const char *name, CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                            int need_pool) {
  uintptr_t p, from;
  CUresult rc = injected(name, bytesize);
  if (rc != CUDA_SUCCESS) return rc;
  if (!dptr || !bytesize || (need_pool && !pool)) return CUDA_ERROR_INVALID_VALUE;
  if ((rc = block_new(&p, bytesize, 0)) != CUDA_SUCCESS) return rc;
  from = pool ? (uintptr_t)pool : (uintptr_t)(0x9000 + current->device);
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_BLOCKS; i++)
    if (blocks[i].addr == p) blocks[i].pool = from;
  pthread_mutex_unlock(&lock);
  pool_account(from, (int64_t)bytesize);
  *dptr = p;
  return rc;
}

static CUresult free_async(CUdeviceptr dptr) {
  uintptr_t from = 0;
  size_t len = 0;
  CUresult rc;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_BLOCKS; i++)
    if (blocks[i].addr == dptr && dptr) from = blocks[i].pool, len = blocks[i].len, blocks[i].pool = 0;
  pthread_mutex_unlock(&lock);
  rc = block_free(dptr, 0);
  if (rc == CUDA_SUCCESS && from) pool_account(from, -(int64_t)len);
  return rc;
}

FAKE_API CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream s) {
  (void)s;
  return alloc_async("cuMemAllocAsync", dptr, bytesize, NULL, 0);
}
FAKE_API CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream s) {
  (void)s;
  return alloc_async("cuMemAllocAsync_ptsz", dptr, bytesize, NULL, 0);
}
FAKE_API CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                          CUstream s) {
  (void)s;
  return alloc_async("cuMemAllocFromPoolAsync", dptr, bytesize, pool, 1);
}
FAKE_API CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                               CUstream s) {
  (void)s;
  return alloc_async("cuMemAllocFromPoolAsync_ptsz", dptr, bytesize, pool, 1);
}
FAKE_API CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream s) {
  (void)s;
  FAIL_IF_INJECTED("cuMemFreeAsync", 0);
  return free_async(dptr);
}
FAKE_API CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream s) {
  (void)s;
  FAIL_IF_INJECTED("cuMemFreeAsync_ptsz", 0);
  return free_async(dptr);
}

/* ---- virtual memory management ---- */

FAKE_API CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment,
                                      CUdeviceptr addr, unsigned long long flags) {
  void *p;
  (void)alignment;
  (void)addr;
  FAIL_IF_INJECTED("cuMemAddressReserve", size);
  if (!ptr || !size || flags) return CUDA_ERROR_INVALID_VALUE;
  if (!(p = raw_map(size, PROT_NONE))) return CUDA_ERROR_OUT_OF_MEMORY;
  *ptr = (uintptr_t)p;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size) {
  FAIL_IF_INJECTED("cuMemAddressFree", size);
  if (!ptr || !size) return CUDA_ERROR_INVALID_VALUE;
  syscall(SYS_munmap, (void *)(uintptr_t)ptr, size);
  return CUDA_SUCCESS;
}

#ifndef FAKE_CUDA_NO_VMM_CREATE /* the "old driver" build: no cuMemCreate at all */
FAKE_API CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                              const CUmemAllocationProp *prop, unsigned long long flags) {
  CUresult rc = CUDA_ERROR_OUT_OF_MEMORY;
  FAIL_IF_INJECTED("cuMemCreate", size);
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (!handle || !size || !prop || flags || prop->type != CU_MEM_ALLOCATION_TYPE_PINNED ||
      prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE || prop->location.id < 0 ||
      prop->location.id >= NDEV)
    return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_HANDLES; i++) {
    if (handles[i].h) continue;
    handles[i].h = ++next_handle;
    handles[i].size = size;
    handles[i].released = 0;
    *handle = handles[i].h;
    rc = CUDA_SUCCESS;
    break;
  }
  pthread_mutex_unlock(&lock);
  return rc;
}
#endif

/* An imported handle of this double: the os handle is the allocation's size. */
FAKE_API CUresult cuMemImportFromShareableHandle(CUmemGenericAllocationHandle *handle, void *os,
                                                 int type) {
  CUresult rc = CUDA_ERROR_OUT_OF_MEMORY;
  (void)type;
  FAIL_IF_INJECTED("cuMemImportFromShareableHandle", (size_t)(uintptr_t)os);
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (!handle || !os) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_HANDLES; i++) {
    if (handles[i].h) continue;
    handles[i].h = ++next_handle;
    handles[i].size = (size_t)(uintptr_t)os;
    handles[i].released = 0;
    *handle = handles[i].h;
    rc = CUDA_SUCCESS;
    break;
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

static int handle_index(CUmemGenericAllocationHandle h) {
  for (int i = 0; i < MAX_HANDLES; i++)
    if (h && handles[i].h == h) return i;
  return -1;
}

/* A handle's memory goes once it is released and no longer mapped. */
static void handle_gc(int i) {
  for (int m = 0; m < MAX_MAPS; m++)
    if (maps[m].h == handles[i].h) return;
  if (handles[i].released) handles[i].h = 0;
}

FAKE_API CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
  int i;
  FAIL_IF_INJECTED("cuMemRelease", 0);
  pthread_mutex_lock(&lock);
  i = handle_index(handle);
  if (i >= 0 && !handles[i].released) {
    handles[i].released = 1;
    handle_gc(i);
  }
  pthread_mutex_unlock(&lock);
  return i >= 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

FAKE_API CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
                           CUmemGenericAllocationHandle handle, unsigned long long flags) {
  CUresult rc = CUDA_ERROR_INVALID_VALUE;
  int i;
  FAIL_IF_INJECTED("cuMemMap", size);
  pthread_mutex_lock(&lock);
  i = handle_index(handle);
  if (i >= 0 && !handles[i].released && ptr && !flags && offset + size <= handles[i].size) {
    for (int m = 0; m < MAX_MAPS; m++) {
      if (maps[m].addr) continue;
      maps[m].addr = ptr;
      maps[m].size = size;
      maps[m].h = handle;
      rc = CUDA_SUCCESS;
      break;
    }
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

FAKE_API CUresult cuMemUnmap(CUdeviceptr ptr, size_t size) {
  int found = 0;
  FAIL_IF_INJECTED("cuMemUnmap", size);
  pthread_mutex_lock(&lock);
  for (int m = 0; m < MAX_MAPS; m++) {
    if (!maps[m].addr || maps[m].addr < ptr || maps[m].addr + maps[m].size > ptr + size) continue;
    int i = handle_index(maps[m].h);
    maps[m].addr = 0;
    maps[m].h = 0;
    found = 1;
    if (i >= 0) handle_gc(i);
  }
  pthread_mutex_unlock(&lock);
  return found ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* ---- the rest of what scripts/gpu-check/drv_alloc.cu calls, so that script can be dry-run
 * against this double: streams and pools are opaque numbers, memsets do nothing ---- */

FAKE_API CUresult cuDeviceGet(CUdevice *dev, int ordinal) {
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (!dev || ordinal < 0 || ordinal >= NDEV) return CUDA_ERROR_INVALID_VALUE;
  *dev = ordinal;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  return dev >= 0 && dev < NDEV ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
FAKE_API CUresult cuStreamCreate(CUstream *s, unsigned flags) {
  static uintptr_t next = 0x57000;
  (void)flags;
  if (!s) return CUDA_ERROR_INVALID_VALUE;
  *s = (CUstream)(next += 0x100);
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuStreamSynchronize(CUstream s) { (void)s; return CUDA_SUCCESS; }
FAKE_API CUresult cuStreamSynchronize_ptsz(CUstream s) { (void)s; return CUDA_SUCCESS; }
FAKE_API CUresult cuStreamDestroy_v2(CUstream s) { return s ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE; }
FAKE_API CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool, CUdevice dev) {
  if (!pool || dev < 0 || dev >= NDEV) return CUDA_ERROR_INVALID_VALUE;
  *pool = (CUmemoryPool)(uintptr_t)(0x9000 + dev);
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuMemGetAllocationGranularity(size_t *gran, const CUmemAllocationProp *prop, int option) {
  (void)option;
  if (!gran || !prop) return CUDA_ERROR_INVALID_VALUE;
  *gran = 2u << 20;
  return CUDA_SUCCESS;
}
FAKE_API CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const void *desc, size_t count) {
  return ptr && size && desc && count ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
FAKE_API CUresult cuMemsetD8_v2(CUdeviceptr ptr, unsigned char value, size_t n) {
  (void)value;
  return ptr && n ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
FAKE_API CUresult cuMemsetD8_v2_ptds(CUdeviceptr ptr, unsigned char value, size_t n) {
  return cuMemsetD8_v2(ptr, value, n);
}
FAKE_API CUresult cuGetErrorString(CUresult rc, const char **str) {
  if (!str) return CUDA_ERROR_INVALID_VALUE;
  *str = rc == CUDA_SUCCESS ? "no error" : "fake_libcuda error";
  return CUDA_SUCCESS;
}

/* ---- entry points by name ---- */

typedef struct {
  const char *base;
  int version;       /* the variant exists from this CUDA version on */
  void *fn;
  void *fn_ptsz;     /* the per-thread-default-stream variant, if any */
} proc_t;

static const proc_t procs[] = {
  {"cuInit", 2000, (void *)cuInit, NULL},
  {"cuDriverGetVersion", 2020, (void *)cuDriverGetVersion, NULL},
  {"cuDeviceGetCount", 2000, (void *)cuDeviceGetCount, NULL},
  {"cuDevicePrimaryCtxRetain", 7000, (void *)cuDevicePrimaryCtxRetain, NULL},
  {"cuCtxSetCurrent", 4000, (void *)cuCtxSetCurrent, NULL},
  {"cuCtxGetCurrent", 4000, (void *)cuCtxGetCurrent, NULL},
  {"cuCtxGetDevice", 2000, (void *)cuCtxGetDevice, NULL},
  {"cuGetProcAddress", 11030, (void *)cuGetProcAddress, NULL},
  {"cuGetProcAddress", 12000, (void *)cuGetProcAddress_v2, NULL},
  {"cuMemAlloc", 2000, (void *)cuMemAlloc, NULL},
  {"cuMemAlloc", 3020, (void *)cuMemAlloc_v2, NULL},
  {"cuMemAllocPitch", 3020, (void *)cuMemAllocPitch_v2, NULL},
  {"cuMemAllocManaged", 6000, (void *)cuMemAllocManaged, NULL},
  {"cuMemAllocHost", 3020, (void *)cuMemAllocHost_v2, NULL},
  {"cuMemHostAlloc", 2020, (void *)cuMemHostAlloc, NULL},
  {"cuMemFree", 3020, (void *)cuMemFree_v2, NULL},
  {"cuMemFreeHost", 2000, (void *)cuMemFreeHost, NULL},
  {"cuMemAllocAsync", 11020, (void *)cuMemAllocAsync, (void *)cuMemAllocAsync_ptsz},
  {"cuMemAllocFromPoolAsync", 11020, (void *)cuMemAllocFromPoolAsync,
   (void *)cuMemAllocFromPoolAsync_ptsz},
  {"cuMemFreeAsync", 11020, (void *)cuMemFreeAsync, (void *)cuMemFreeAsync_ptsz},
#ifndef FAKE_CUDA_NO_VMM_CREATE
  {"cuMemCreate", 10020, (void *)cuMemCreate, NULL},
#endif
  {"cuMemRelease", 10020, (void *)cuMemRelease, NULL},
  {"cuMemMap", 10020, (void *)cuMemMap, NULL},
  {"cuMemUnmap", 10020, (void *)cuMemUnmap, NULL},
  {"cuMemAddressReserve", 10020, (void *)cuMemAddressReserve, NULL},
  {"cuMemAddressFree", 10020, (void *)cuMemAddressFree, NULL},
  {"cuMemHostRegister", 6050, (void *)cuMemHostRegister_v2, NULL},
  {"cuMemHostUnregister", 4000, (void *)cuMemHostUnregister, NULL},
  {"cuArrayCreate", 3020, (void *)cuArrayCreate_v2, NULL},
  {"cuArray3DCreate", 3020, (void *)cuArray3DCreate_v2, NULL},
  {"cuMipmappedArrayCreate", 5000, (void *)cuMipmappedArrayCreate, NULL},
  {"cuArrayDestroy", 2000, (void *)cuArrayDestroy, NULL},
  {"cuMipmappedArrayDestroy", 5000, (void *)cuMipmappedArrayDestroy, NULL},
  {"cuIpcOpenMemHandle", 11000, (void *)cuIpcOpenMemHandle_v2, NULL},
  {"cuIpcCloseMemHandle", 4010, (void *)cuIpcCloseMemHandle, NULL},
  {"cuMemGetAddressRange", 3020, (void *)cuMemGetAddressRange_v2, NULL},
  {"cuDeviceGetMemPool", 11020, (void *)cuDeviceGetMemPool, NULL},
  {"cuMemPoolGetAttribute", 11020, (void *)cuMemPoolGetAttribute, NULL},
  {"cuGraphLaunch", 10000, (void *)cuGraphLaunch, (void *)cuGraphLaunch_ptsz},
  {"cuDeviceGetGraphMemAttribute", 11040, (void *)cuDeviceGetGraphMemAttribute, NULL},
  {"cuMemImportFromShareableHandle", 10020, (void *)cuMemImportFromShareableHandle, NULL},
};

static void log_lookup(const char *symbol, int version, cuuint64_t flags, const void *caller) {
  const char *log = getenv("FAKE_CUDA_LOG"), *module = "?", *slash;
  Dl_info info;
  if (!log || *log != '1') return;
  if (dladdr(caller, &info) && info.dli_fname) {
    slash = strrchr(info.dli_fname, '/');
    module = slash ? slash + 1 : info.dli_fname;
  }
  fprintf(stderr, "gpa %s@%d/%llu from %s\n", symbol ? symbol : "(null)", version,
          (unsigned long long)flags, module);
}

static CUresult get_proc(const char *symbol, void **pfn, int version, cuuint64_t flags, int *status) {
  const proc_t *best = NULL;
  int known = 0;
  if (!symbol || !pfn || flags > 2) return CUDA_ERROR_INVALID_VALUE;
  *pfn = NULL;
  for (size_t i = 0; i < sizeof procs / sizeof procs[0]; i++) {
    if (strcmp(procs[i].base, symbol)) continue;
    known = 1;
    if (procs[i].version <= version && (!best || procs[i].version > best->version)) best = &procs[i];
  }
  if (best) {
    *pfn = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) && best->fn_ptsz ? best->fn_ptsz
                                                                                   : best->fn;
  }
  if (status) {
    *status = best ? CU_GET_PROC_ADDRESS_SUCCESS
                   : known ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT
                           : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  }
  return CUDA_SUCCESS; /* *pfn = NULL for what is not there, as the driver does */
}

FAKE_API CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version, cuuint64_t flags,
                                      int *status) {
  log_lookup(symbol, version, flags, __builtin_return_address(0));
  return get_proc(symbol, pfn, version, flags, status);
}

FAKE_API CUresult cuGetProcAddress(const char *symbol, void **pfn, int version, cuuint64_t flags) {
  log_lookup(symbol, version, flags, __builtin_return_address(0));
  return get_proc(symbol, pfn, version, flags, NULL);
}
