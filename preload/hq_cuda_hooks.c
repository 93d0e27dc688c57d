/*
 * hq_cuda_hooks.c: the CUDA driver boundary, and nothing else.
 *
 * Static cudart never calls an exported cudaMalloc we could interpose; it dlopens libcuda.so.1,
 * asks dlsym for "cuGetProcAddress_v2" once, and from then on fetches every driver entry point
 * through cuGetProcAddress (reference A2).  So heapql wraps the driver, reached three ways:
 *
 *   - PLT binding: programs linked with -lcuda bind to the exact versioned names exported here
 *     (cuMemAlloc_v2, cuMemAllocAsync_ptsz, ...), never to a "cu" prefix;
 *   - dlsym(handle, name) for one of those names (or cuGetProcAddress/_v2): the real dlsym answers
 *     first, and a result equal to the real driver function is replaced by our hook with the
 *     same ABI (pointer identity).  Every other dlsym is a true tail jump (hq_dlsym.S): glibc
 *     resolves RTLD_NEXT from its caller's return address, so a forwarding call would break it;
 *   - cuGetProcAddress / cuGetProcAddress_v2: the real one runs first with the caller's version
 *     and flags, then *pfn is mapped by identity in the same way, so the _v2/_ptsz variant the
 *     driver chose gets the hook of exactly that variant.  "cuGetProcAddress" itself maps to our
 *     4- or 5-argument wrapper by the version asked for.  A pointer we cannot identify for a name
 *     we wrap is left alone (fail open) and counted ("cuda_unhooked:NAME@VERSION/FLAGS").
 *
 * The real functions come from dlopen("libcuda.so.1", RTLD_NOLOAD) (a plain dlopen only if it is
 * not loaded yet) and the real dlsym of each exact name; never RTLD_DEFAULT or RTLD_NEXT, which
 * would find these hooks again.  Every hook is optional: with no libcuda at all a hook returns
 * CUDA_ERROR_NOT_INITIALIZED, with a libcuda that lacks the entry point CUDA_ERROR_NOT_FOUND
 * (either way the call is still recorded, with that result).
 *
 * Each hook: find the real function, call it, record one HQ_REC_CUDA_CALL (failed calls too)
 * with the caller's stack, the duration and the current context's device.  The importer orders
 * a release by the time the call was entered (like free, recorded before the memory is given
 * back) and an allocation by the time it returned.  Only the outermost driver call of a thread
 * is recorded: a driver that calls its own exports (through our hooks) is not counted twice.
 * Nothing here takes a lock or allocates; resolution runs once, with the recorder's guard set.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hq_guard.h"
#include "preload_int.h"

/* ---- the few driver types we need (forward-declared: no toolkit is needed to build) ---- */
typedef int CUresult;
typedef unsigned long long CUdeviceptr;
typedef int CUdevice;
typedef struct CUctx_st *CUcontext;
typedef struct CUstream_st *CUstream;
typedef struct CUmemPoolHandle_st *CUmemoryPool;
typedef unsigned long long CUmemGenericAllocationHandle;
/* The leading fields of CUmemAllocationProp (cuda.h): type, requestedHandleTypes, location. */
typedef struct {
  int type;
  int requested_handle_types;
  int location_type;
  int location_id;
} hq_cu_alloc_prop_head_t;

enum {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_NOT_INITIALIZED = 3,
  CUDA_ERROR_NOT_FOUND = 500,
  CU_MEM_LOCATION_TYPE_DEVICE = 1,
};

/* ---- the table: every wrapped entry point, plus the few real functions we call ourselves ---- */
enum {
  CU_GET_PROC = HQ_CU_MAX_,  /* cuGetProcAddress (4 arguments, CUDA 11.3) */
  CU_GET_PROC_V2,            /* cuGetProcAddress_v2 (5 arguments, CUDA 12.0) */
  CU_CTX_GET_CURRENT,        /* not hooked: for the device ordinal */
  CU_CTX_GET_DEVICE,
  CU_MEM_GET_ADDRESS_RANGE,  /* not hooked: the extent of an IPC mapping */
  CU_DEVICE_GET_MEM_POOL,    /* not hooked: a device's current stream-ordered pool */
  CU_MEM_POOL_GET_ATTRIBUTE, /* not hooked: a pool's reserved and used bytes */
  CU_DEVICE_GET_GRAPH_MEM_ATTRIBUTE, /* not hooked: a device's graph memory */
  CU_N
};

#define HQ_CU_NAME_(id, name, role, kind) [id] = name,
static const char *const cu_name[CU_N] = {
  HQ_CUDA_API_MAP(HQ_CU_NAME_)
  [CU_GET_PROC] = "cuGetProcAddress",
  [CU_GET_PROC_V2] = "cuGetProcAddress_v2",
  [CU_CTX_GET_CURRENT] = "cuCtxGetCurrent",
  [CU_CTX_GET_DEVICE] = "cuCtxGetDevice",
  [CU_MEM_GET_ADDRESS_RANGE] = "cuMemGetAddressRange_v2",
  [CU_DEVICE_GET_MEM_POOL] = "cuDeviceGetMemPool",
  [CU_MEM_POOL_GET_ATTRIBUTE] = "cuMemPoolGetAttribute",
  [CU_DEVICE_GET_GRAPH_MEM_ATTRIBUTE] = "cuDeviceGetGraphMemAttribute",
};
#undef HQ_CU_NAME_

static void *real_fn[CU_N];       /* written before cu_resolved is set, read after */
static int cu_resolved;           /* libcuda found and real_fn filled */
static int cu_plain_open_failed;  /* do not search the disk for libcuda on every call */
void *hq__real_dlsym;

static __thread int cu_depth __attribute__((tls_model("initial-exec")));
static __thread CUcontext cu_last_ctx __attribute__((tls_model("initial-exec")));
static __thread int cu_last_dev __attribute__((tls_model("initial-exec")));

/* ---- resolution ---- */

void hq__cuda_dlsym_init(void) {
  void *p;
  if (__atomic_load_n(&hq__real_dlsym, __ATOMIC_ACQUIRE)) return;
  p = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
  if (!p) p = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
  __atomic_store_n(&hq__real_dlsym, p, __ATOMIC_RELEASE);
}

static void *real_dlsym(void *handle, const char *name) {
  void *(*fn)(void *, const char *);
  if (!__atomic_load_n(&hq__real_dlsym, __ATOMIC_ACQUIRE)) hq__cuda_dlsym_init();
  fn = (void *(*)(void *, const char *))__atomic_load_n(&hq__real_dlsym, __ATOMIC_ACQUIRE);
  return fn ? fn(handle, name) : NULL;
}

/* Lock-free and idempotent: threads racing here store the same pointers.  No lock, because the
 * dlopen below takes the loader's lock, and a thread holding that one may be calling a hook. */
hq_cold static void resolve(void) {
  void *h;
  hq_guard_enter();
  if (!hq__real.dlopen) hq__real_resolve();
  /* NODELETE: the pointers below must outlive a dlclose of libcuda by the program. */
  h = hq__real.dlopen ? hq__real.dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) : NULL;
  if (!h && hq__real.dlopen && !__atomic_load_n(&cu_plain_open_failed, __ATOMIC_RELAXED)) {
    h = hq__real.dlopen("libcuda.so.1", RTLD_NOW | RTLD_NODELETE);
    if (!h) __atomic_store_n(&cu_plain_open_failed, 1, __ATOMIC_RELAXED);
  }
  if (h) {
    for (int i = 1; i < CU_N; i++)
      __atomic_store_n(&real_fn[i], real_dlsym(h, cu_name[i]), __ATOMIC_RELAXED);
    __atomic_store_n(&cu_resolved, 1, __ATOMIC_RELEASE);
  }
  hq_guard_leave();
}

static inline void cu_ensure(void) {
  if (hq_unlikely(!__atomic_load_n(&cu_resolved, __ATOMIC_ACQUIRE))) resolve();
}

static inline void *cu_real(int id) {
  cu_ensure();
  return __atomic_load_n(&real_fn[id], __ATOMIC_RELAXED);
}

/* What a hook returns when it has nothing to forward to. */
static CUresult cu_missing(void) {
  return __atomic_load_n(&cu_resolved, __ATOMIC_ACQUIRE) ? CUDA_ERROR_NOT_FOUND
                                                         : CUDA_ERROR_NOT_INITIALIZED;
}

/* ---- recording ---- */

/* The current context's device, cached per thread for the last context seen. */
static int32_t current_device(void) {
  CUresult (*get_ctx)(CUcontext *) = (CUresult (*)(CUcontext *))real_fn[CU_CTX_GET_CURRENT];
  CUresult (*get_dev)(CUdevice *) = (CUresult (*)(CUdevice *))real_fn[CU_CTX_GET_DEVICE];
  CUcontext ctx = NULL;
  CUdevice dev = -1;
  if (!get_ctx || get_ctx(&ctx) != CUDA_SUCCESS || !ctx) return -1;
  if (ctx == cu_last_ctx) return cu_last_dev;
  if (!get_dev || get_dev(&dev) != CUDA_SUCCESS) return -1;
  cu_last_ctx = ctx;
  cu_last_dev = dev;
  return dev;
}

typedef struct {
  hq_rec_cuda_call_t rec;
  int track;
  int device_known;
} cu_call_t;

static inline void cu_enter(cu_call_t *c, int api) {
  c->track = hq_tracking() && cu_depth == 0;
  c->device_known = 0;
  cu_depth++;
  if (c->track) {
    memset(&c->rec, 0, sizeof c->rec);
    c->rec.hdr.kind = (uint16_t)api;
    c->rec.t = hq__now();
  }
}

static inline CUresult cu_leave(cu_call_t *c, CUresult rc) {
  cu_depth--;
  if (c->track) {
    uint64_t now = hq__now();
    c->rec.duration_ns = now - c->rec.t;
    c->rec.t = now;
    c->rec.result = rc;
    if (!c->device_known) c->rec.device = current_device();
    hq__record_cuda_call(&c->rec);
  }
  return rc;
}

#define U64(x) ((uint64_t)(uintptr_t)(x))

/* The start every hook shares: the real entry point, the call's record begun, the call made. */
#define CU_CALL(c, rc, id, fn_t, ...)                                   \
  fn_t real_ = REAL(id, fn_t);                                          \
  cu_call_t c;                                                          \
  CUresult rc;                                                          \
  cu_enter(&c, id);                                                     \
  rc = real_ ? real_(__VA_ARGS__) : cu_missing()

#define REAL(id, type) ((type)cu_real(id))

/* ---- allocations and frees ---- */

typedef CUresult (*alloc_fn)(CUdeviceptr *, size_t);
typedef CUresult (*alloc_flags_fn)(CUdeviceptr *, size_t, unsigned);
typedef CUresult (*pitch_fn)(CUdeviceptr *, size_t *, size_t, size_t, unsigned);
typedef CUresult (*host_fn)(void **, size_t);
typedef CUresult (*host_flags_fn)(void **, size_t, unsigned);
typedef CUresult (*free_fn)(CUdeviceptr);
typedef CUresult (*free_host_fn)(void *);
typedef CUresult (*async_fn)(CUdeviceptr *, size_t, CUstream);
typedef CUresult (*pool_async_fn)(CUdeviceptr *, size_t, CUmemoryPool, CUstream);
typedef CUresult (*free_async_fn)(CUdeviceptr, CUstream);

hq_export CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t size) {
  CU_CALL(c, rc, HQ_CU_MEM_ALLOC, alloc_fn, dptr, size);
  c.rec.address = rc == CUDA_SUCCESS && dptr ? *dptr : 0;
  c.rec.size = size;
  return cu_leave(&c, rc);
}

hq_export CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pitch, size_t width, size_t height,
                                      unsigned elem_size) {
  CU_CALL(c, rc, HQ_CU_MEM_ALLOC_PITCH, pitch_fn, dptr, pitch, width, height, elem_size);
  /* The block is pitch x height: the driver's row padding is the program's memory too. */
  c.rec.aux = rc == CUDA_SUCCESS && pitch ? *pitch : 0;
  c.rec.address = rc == CUDA_SUCCESS && dptr ? *dptr : 0;
  c.rec.size = c.rec.aux ? c.rec.aux * height : width * height;
  c.rec.flags = elem_size;
  return cu_leave(&c, rc);
}

hq_export CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t size, unsigned flags) {
  CU_CALL(c, rc, HQ_CU_MEM_ALLOC_MANAGED, alloc_flags_fn, dptr, size, flags);
  c.rec.address = rc == CUDA_SUCCESS && dptr ? *dptr : 0;
  c.rec.size = size;
  c.rec.flags = flags;
  return cu_leave(&c, rc);
}

hq_export CUresult cuMemAllocHost_v2(void **pp, size_t size) {
  CU_CALL(c, rc, HQ_CU_MEM_ALLOC_HOST, host_fn, pp, size);
  c.rec.address = rc == CUDA_SUCCESS && pp ? U64(*pp) : 0;
  c.rec.size = size;
  return cu_leave(&c, rc);
}

hq_export CUresult cuMemHostAlloc(void **pp, size_t size, unsigned flags) {
  CU_CALL(c, rc, HQ_CU_MEM_HOST_ALLOC, host_flags_fn, pp, size, flags);
  c.rec.address = rc == CUDA_SUCCESS && pp ? U64(*pp) : 0;
  c.rec.size = size;
  c.rec.flags = flags;
  return cu_leave(&c, rc);
}

/* A release that takes one argument: the record names it in `field`. */
#define HQ_CU_RELEASE_HOOK(name, id, fn_t, arg_t, field)                \
  hq_export CUresult name(arg_t arg) {                                  \
    fn_t real = REAL(id, fn_t);                                         \
    cu_call_t c;                                                        \
    cu_enter(&c, id);                                                   \
    c.rec.field = U64(arg);                                             \
    return cu_leave(&c, real ? real(arg) : cu_missing());               \
  }

HQ_CU_RELEASE_HOOK(cuMemFree_v2, HQ_CU_MEM_FREE, free_fn, CUdeviceptr, address)
HQ_CU_RELEASE_HOOK(cuMemFreeHost, HQ_CU_MEM_FREE_HOST, free_host_fn, void *, address)

/* ---- stream-ordered pools: what they hold, sampled as blocks come and go ---- */

#define POOLS_SEEN 16
enum { ATTR_RESERVED_MEM_CURRENT = 5, ATTR_USED_MEM_CURRENT = 7 };
typedef CUresult (*get_mem_pool_fn)(CUmemoryPool *, CUdevice);
typedef CUresult (*pool_attr_fn)(CUmemoryPool, int, void *);
/* Pools allocated from (up to POOLS_SEEN): a release does not say its pool, so each of these is
 * sampled after one. */
static _Atomic(uintptr_t) pools_seen[POOLS_SEEN];

static void pool_sample(CUmemoryPool pool, int32_t device) {
  pool_attr_fn attr = (pool_attr_fn)cu_real(CU_MEM_POOL_GET_ATTRIBUTE);
  uint64_t reserved = 0, used = 0;
  if (!attr || !pool || attr(pool, ATTR_RESERVED_MEM_CURRENT, &reserved) != CUDA_SUCCESS ||
      attr(pool, ATTR_USED_MEM_CURRENT, &used) != CUDA_SUCCESS)
    return;
  hq__record_pool_sample(HQ_POOL_SAMPLE_POOL, U64(pool), device, reserved, used);
}

/* After a successful allocation from pool (NULL: the device's current pool). */
static void pool_after_alloc(CUmemoryPool pool, int32_t device) {
  uintptr_t p;
  if (!pool) {
    get_mem_pool_fn get = (get_mem_pool_fn)cu_real(CU_DEVICE_GET_MEM_POOL);
    if (device < 0 || !get || get(&pool, device) != CUDA_SUCCESS) return;
  }
  p = (uintptr_t)pool;
  for (int i = 0; i < POOLS_SEEN; i++) {
    uintptr_t seen = atomic_load_explicit(&pools_seen[i], memory_order_relaxed), none = 0;
    if (seen == p) break;
    if (!seen && atomic_compare_exchange_strong(&pools_seen[i], &none, p)) break;
    if (none == p) break;
  }
  pool_sample(pool, device);
}

static void pool_after_release(void) {
  for (int i = 0; i < POOLS_SEEN; i++) {
    uintptr_t p = atomic_load_explicit(&pools_seen[i], memory_order_relaxed);
    if (!p) break;
    pool_sample((CUmemoryPool)p, -1);
  }
}

/* The stream-ordered family.  ptsz: stream 0 is this thread's default stream. */
static inline CUresult alloc_async(int api, CUdeviceptr *dptr, size_t size, int from_pool,
                                   CUmemoryPool pool, CUstream stream, int ptsz) {
  void *real = cu_real(api);
  cu_call_t c;
  CUresult rc;
  cu_enter(&c, api);
  if (!real) rc = cu_missing();
  else if (from_pool) rc = ((pool_async_fn)real)(dptr, size, pool, stream);
  else rc = ((async_fn)real)(dptr, size, stream);
  c.rec.address = rc == CUDA_SUCCESS && dptr ? *dptr : 0;
  c.rec.size = size;
  c.rec.pool = U64(pool);
  c.rec.stream = (ptsz && !stream) ? HQ_CU_STREAM_PER_THREAD : U64(stream);
  if (c.track && rc == CUDA_SUCCESS) {
    c.rec.device = current_device();
    c.device_known = 1;
    pool_after_alloc(pool, c.rec.device);
  }
  return cu_leave(&c, rc);
}

static inline CUresult free_async(int api, CUdeviceptr dptr, CUstream stream, int ptsz) {
  free_async_fn real = (free_async_fn)cu_real(api);
  cu_call_t c;
  cu_enter(&c, api);
  CUresult rc;
  c.rec.address = dptr;
  c.rec.stream = (ptsz && !stream) ? HQ_CU_STREAM_PER_THREAD : U64(stream);
  rc = real ? real(dptr, stream) : cu_missing();
  if (c.track && rc == CUDA_SUCCESS) pool_after_release();
  return cu_leave(&c, rc);
}

hq_export CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t size, CUstream stream) {
  return alloc_async(HQ_CU_MEM_ALLOC_ASYNC, dptr, size, 0, NULL, stream, 0);
}
hq_export CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t size, CUstream stream) {
  return alloc_async(HQ_CU_MEM_ALLOC_ASYNC_PTSZ, dptr, size, 0, NULL, stream, 1);
}
hq_export CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t size, CUmemoryPool pool,
                                           CUstream stream) {
  return alloc_async(HQ_CU_MEM_ALLOC_POOL_ASYNC, dptr, size, 1, pool, stream, 0);
}
hq_export CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t size, CUmemoryPool pool,
                                                CUstream stream) {
  return alloc_async(HQ_CU_MEM_ALLOC_POOL_ASYNC_PTSZ, dptr, size, 1, pool, stream, 1);
}
hq_export CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream stream) {
  return free_async(HQ_CU_MEM_FREE_ASYNC, dptr, stream, 0);
}
hq_export CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream stream) {
  return free_async(HQ_CU_MEM_FREE_ASYNC_PTSZ, dptr, stream, 1);
}

/* ---- virtual memory management ---- */

typedef CUresult (*create_fn)(CUmemGenericAllocationHandle *, size_t, const void *, unsigned long long);
typedef CUresult (*release_fn)(CUmemGenericAllocationHandle);
typedef CUresult (*map_fn)(CUdeviceptr, size_t, size_t, CUmemGenericAllocationHandle, unsigned long long);
typedef CUresult (*unmap_fn)(CUdeviceptr, size_t);
typedef CUresult (*reserve_fn)(CUdeviceptr *, size_t, size_t, CUdeviceptr, unsigned long long);

hq_export CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size, const void *prop,
                               unsigned long long flags) {
  const hq_cu_alloc_prop_head_t *head = prop;
  CU_CALL(c, rc, HQ_CU_MEM_CREATE, create_fn, handle, size, prop, flags);
  c.rec.handle = rc == CUDA_SUCCESS && handle ? *handle : 0;
  c.rec.size = size;
  c.rec.flags = flags;
  /* The memory lives where prop says, not necessarily on the current context's device. */
  c.device_known = 1;
  c.rec.device = head && head->location_type == CU_MEM_LOCATION_TYPE_DEVICE ? head->location_id : -1;
  return cu_leave(&c, rc);
}

HQ_CU_RELEASE_HOOK(cuMemRelease, HQ_CU_MEM_RELEASE, release_fn, CUmemGenericAllocationHandle, handle)

/* Another process's allocation, imported as a handle (POSIX fd, ...): mapped, not allocated. */
typedef CUresult (*import_fn)(CUmemGenericAllocationHandle *, void *, int);
hq_export CUresult cuMemImportFromShareableHandle(CUmemGenericAllocationHandle *handle,
                                                  void *os_handle, int type) {
  CU_CALL(c, rc, HQ_CU_MEM_IMPORT_SHAREABLE, import_fn, handle, os_handle, type);
  c.rec.handle = rc == CUDA_SUCCESS && handle ? *handle : 0;
  c.rec.flags = (uint64_t)type;
  return cu_leave(&c, rc);
}

hq_export CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
                            CUmemGenericAllocationHandle handle, unsigned long long flags) {
  CU_CALL(c, rc, HQ_CU_MEM_MAP, map_fn, ptr, size, offset, handle, flags);
  c.rec.address = ptr;
  c.rec.size = size;
  c.rec.aux = offset;
  c.rec.handle = handle;
  c.rec.flags = flags;
  return cu_leave(&c, rc);
}

/* A call on an address range (ptr, size). */
#define HQ_CU_RANGE_HOOK(name, id)                                      \
  hq_export CUresult name(CUdeviceptr ptr, size_t size) {               \
    unmap_fn real = REAL(id, unmap_fn);                                 \
    cu_call_t c;                                                        \
    cu_enter(&c, id);                                                   \
    c.rec.address = ptr;                                                \
    c.rec.size = size;                                                  \
    return cu_leave(&c, real ? real(ptr, size) : cu_missing());         \
  }

HQ_CU_RANGE_HOOK(cuMemUnmap, HQ_CU_MEM_UNMAP)

hq_export CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment,
                                       CUdeviceptr addr, unsigned long long flags) {
  CU_CALL(c, rc, HQ_CU_MEM_ADDRESS_RESERVE, reserve_fn, ptr, size, alignment, addr, flags);
  c.rec.address = rc == CUDA_SUCCESS && ptr ? *ptr : 0;
  c.rec.size = size;
  c.rec.aux = alignment;
  c.rec.flags = flags;
  return cu_leave(&c, rc);
}

HQ_CU_RANGE_HOOK(cuMemAddressFree, HQ_CU_MEM_ADDRESS_FREE)

/* ---- registered host memory, arrays, IPC mappings ---- */

typedef CUresult (*host_register_fn)(void *, size_t, unsigned);
typedef CUresult (*handle_release_fn)(void *);
/* CUDA_ARRAY_DESCRIPTOR_v2 and CUDA_ARRAY3D_DESCRIPTOR_v2 (cuda.h) */
typedef struct { size_t width, height; int format; unsigned channels; } hq_cu_array_desc_t;
typedef struct { size_t width, height, depth; int format; unsigned channels, flags; } hq_cu_array3d_desc_t;
typedef CUresult (*array_create_fn)(void **, const hq_cu_array_desc_t *);
typedef CUresult (*array3d_create_fn)(void **, const hq_cu_array3d_desc_t *);
typedef CUresult (*mipmapped_create_fn)(void **, const hq_cu_array3d_desc_t *, unsigned);
typedef struct { char reserved[64]; } hq_cu_ipc_handle_t;  /* CUipcMemHandle, passed by value */
typedef CUresult (*ipc_open_fn)(CUdeviceptr *, hq_cu_ipc_handle_t, unsigned);
typedef CUresult (*addr_range_fn)(CUdeviceptr *, size_t *, CUdeviceptr);

hq_export CUresult cuMemHostRegister_v2(void *p, size_t size, unsigned flags) {
  CU_CALL(c, rc, HQ_CU_MEM_HOST_REGISTER, host_register_fn, p, size, flags);
  c.rec.address = rc == CUDA_SUCCESS ? U64(p) : 0;
  c.rec.size = size;
  c.rec.flags = flags;
  return cu_leave(&c, rc);
}

HQ_CU_RELEASE_HOOK(cuMemHostUnregister, HQ_CU_MEM_HOST_UNREGISTER, handle_release_fn, void *, address)

/* Bytes of one element of an array format (CUarray_format, cuda.h) and whether the channel
 * count multiplies it; 0 for the formats whose size heapql does not know (block-compressed, YUV). */
static size_t format_bytes(int format, unsigned channels) {
  switch (format) {
  case 0x01: case 0x08: return 1 * channels;          /* (un)signed int8 */
  case 0x02: case 0x09: case 0x10: return 2 * channels; /* (un)signed int16, half */
  case 0x03: case 0x0a: case 0x20: return 4 * channels; /* (un)signed int32, float */
  case 0xc0: case 0xc6: return 1;                       /* normalized int8 x1 */
  case 0xc1: case 0xc7: case 0xc3: case 0xc9: return 2; /* int8 x2, int16 x1 */
  case 0xc2: case 0xc8: case 0xc4: case 0xca: return 4; /* int8 x4, int16 x2 */
  case 0xc5: case 0xcb: return 8;                       /* int16 x4 */
  default: return 0;
  }
}

static inline size_t at_least_1(size_t v) { return v ? v : 1; }

/* What an array holds as its descriptor asks: every mip level of `levels`, each dimension halved
 * per level down to 1 (a zero height or depth is a 1D or 2D array). */
static uint64_t array_bytes(size_t w, size_t h, size_t d, int format, unsigned channels,
                            unsigned levels) {
  uint64_t elems = 0, elem = format_bytes(format, channels);
  for (unsigned l = 0; l < (levels ? levels : 1) && l < 64; l++)
    elems += (uint64_t)at_least_1(w >> l) * at_least_1(h >> l) * at_least_1(d >> l);
  return elems * elem;
}

hq_export CUresult cuArrayCreate_v2(void **array, const hq_cu_array_desc_t *desc) {
  CU_CALL(c, rc, HQ_CU_ARRAY_CREATE, array_create_fn, array, desc);
  c.rec.address = rc == CUDA_SUCCESS && array ? U64(*array) : 0;
  c.rec.size = desc ? array_bytes(desc->width, desc->height, 0, desc->format, desc->channels, 1) : 0;
  return cu_leave(&c, rc);
}

hq_export CUresult cuArray3DCreate_v2(void **array, const hq_cu_array3d_desc_t *desc) {
  CU_CALL(c, rc, HQ_CU_ARRAY_3D_CREATE, array3d_create_fn, array, desc);
  c.rec.address = rc == CUDA_SUCCESS && array ? U64(*array) : 0;
  c.rec.size = desc ? array_bytes(desc->width, desc->height, desc->depth, desc->format,
                                  desc->channels, 1) : 0;
  c.rec.flags = desc ? desc->flags : 0;
  return cu_leave(&c, rc);
}

hq_export CUresult cuMipmappedArrayCreate(void **array, const hq_cu_array3d_desc_t *desc,
                                          unsigned levels) {
  CU_CALL(c, rc, HQ_CU_MIPMAPPED_ARRAY_CREATE, mipmapped_create_fn, array, desc, levels);
  c.rec.address = rc == CUDA_SUCCESS && array ? U64(*array) : 0;
  c.rec.size = desc ? array_bytes(desc->width, desc->height, desc->depth, desc->format,
                                  desc->channels, levels) : 0;
  c.rec.aux = levels;
  c.rec.flags = desc ? desc->flags : 0;
  return cu_leave(&c, rc);
}

HQ_CU_RELEASE_HOOK(cuArrayDestroy, HQ_CU_ARRAY_DESTROY, handle_release_fn, void *, address)
HQ_CU_RELEASE_HOOK(cuMipmappedArrayDestroy, HQ_CU_MIPMAPPED_ARRAY_DESTROY, handle_release_fn, void *, address)

/* Another process's allocation mapped here: recorded with its extent (the driver's
 * cuMemGetAddressRange), as kind cuda_ipc, which is not this process's device memory. */
hq_export CUresult cuIpcOpenMemHandle_v2(CUdeviceptr *dptr, hq_cu_ipc_handle_t handle, unsigned flags) {
  CU_CALL(c, rc, HQ_CU_IPC_OPEN, ipc_open_fn, dptr, handle, flags);
  c.rec.address = rc == CUDA_SUCCESS && dptr ? *dptr : 0;
  c.rec.flags = flags;
  if (c.rec.address) {
    addr_range_fn range = (addr_range_fn)cu_real(CU_MEM_GET_ADDRESS_RANGE);
    CUdeviceptr base = 0;
    size_t size = 0;
    if (range && range(&base, &size, c.rec.address) == CUDA_SUCCESS) c.rec.size = size;
  }
  return cu_leave(&c, rc);
}

HQ_CU_RELEASE_HOOK(cuIpcCloseMemHandle, HQ_CU_IPC_CLOSE, free_fn, CUdeviceptr, address)

/* ---- graph launches: graph memory after each ---- */

typedef CUresult (*graph_launch_fn)(void *, CUstream);
typedef CUresult (*graph_mem_attr_fn)(CUdevice, int, void *);
enum { GRAPH_ATTR_USED_MEM_CURRENT = 0, GRAPH_ATTR_RESERVED_MEM_CURRENT = 2 };

static CUresult graph_launch(int api, void *exec, CUstream stream, int ptsz) {
  graph_launch_fn real = (graph_launch_fn)cu_real(api);
  cu_call_t c;
  CUresult rc;
  cu_enter(&c, api);
  rc = real ? real(exec, stream) : cu_missing();
  c.rec.handle = U64(exec);
  c.rec.stream = (ptsz && !stream) ? HQ_CU_STREAM_PER_THREAD : U64(stream);
  if (c.track && rc == CUDA_SUCCESS) {
    graph_mem_attr_fn attr = (graph_mem_attr_fn)cu_real(CU_DEVICE_GET_GRAPH_MEM_ATTRIBUTE);
    uint64_t used = 0, reserved = 0;
    c.rec.device = current_device();
    c.device_known = 1;
    if (attr && c.rec.device >= 0 &&
        attr(c.rec.device, GRAPH_ATTR_USED_MEM_CURRENT, &used) == CUDA_SUCCESS &&
        attr(c.rec.device, GRAPH_ATTR_RESERVED_MEM_CURRENT, &reserved) == CUDA_SUCCESS)
      hq__record_pool_sample(HQ_POOL_SAMPLE_GRAPH, 0, c.rec.device, reserved, used);
  }
  return cu_leave(&c, rc);
}

hq_export CUresult cuGraphLaunch(void *exec, CUstream stream) {
  return graph_launch(HQ_CU_GRAPH_LAUNCH, exec, stream, 0);
}
hq_export CUresult cuGraphLaunch_ptsz(void *exec, CUstream stream) {
  return graph_launch(HQ_CU_GRAPH_LAUNCH_PTSZ, exec, stream, 1);
}

/* ---- lookups: dlsym (hq_dlsym.S), cuGetProcAddress, cuGetProcAddress_v2 ---- */

typedef CUresult (*get_proc_fn)(const char *, void **, int, uint64_t);
typedef CUresult (*get_proc_v2_fn)(const char *, void **, int, uint64_t, int *);

hq_export CUresult cuGetProcAddress(const char *symbol, void **pfn, int version, uint64_t flags);
hq_export CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version, uint64_t flags,
                                       int *status);

/* Our hook for each real entry point (NULL: called by us, not wrapped). */
static void *cu_hook(int id) {
  switch (id) {
  case HQ_CU_MEM_ALLOC: return (void *)cuMemAlloc_v2;
  case HQ_CU_MEM_ALLOC_PITCH: return (void *)cuMemAllocPitch_v2;
  case HQ_CU_MEM_ALLOC_MANAGED: return (void *)cuMemAllocManaged;
  case HQ_CU_MEM_ALLOC_HOST: return (void *)cuMemAllocHost_v2;
  case HQ_CU_MEM_HOST_ALLOC: return (void *)cuMemHostAlloc;
  case HQ_CU_MEM_ALLOC_ASYNC: return (void *)cuMemAllocAsync;
  case HQ_CU_MEM_ALLOC_ASYNC_PTSZ: return (void *)cuMemAllocAsync_ptsz;
  case HQ_CU_MEM_ALLOC_POOL_ASYNC: return (void *)cuMemAllocFromPoolAsync;
  case HQ_CU_MEM_ALLOC_POOL_ASYNC_PTSZ: return (void *)cuMemAllocFromPoolAsync_ptsz;
  case HQ_CU_MEM_FREE: return (void *)cuMemFree_v2;
  case HQ_CU_MEM_FREE_HOST: return (void *)cuMemFreeHost;
  case HQ_CU_MEM_FREE_ASYNC: return (void *)cuMemFreeAsync;
  case HQ_CU_MEM_FREE_ASYNC_PTSZ: return (void *)cuMemFreeAsync_ptsz;
  case HQ_CU_MEM_CREATE: return (void *)cuMemCreate;
  case HQ_CU_MEM_RELEASE: return (void *)cuMemRelease;
  case HQ_CU_MEM_MAP: return (void *)cuMemMap;
  case HQ_CU_MEM_UNMAP: return (void *)cuMemUnmap;
  case HQ_CU_MEM_ADDRESS_RESERVE: return (void *)cuMemAddressReserve;
  case HQ_CU_MEM_ADDRESS_FREE: return (void *)cuMemAddressFree;
  case HQ_CU_MEM_HOST_REGISTER: return (void *)cuMemHostRegister_v2;
  case HQ_CU_MEM_HOST_UNREGISTER: return (void *)cuMemHostUnregister;
  case HQ_CU_ARRAY_CREATE: return (void *)cuArrayCreate_v2;
  case HQ_CU_ARRAY_3D_CREATE: return (void *)cuArray3DCreate_v2;
  case HQ_CU_MIPMAPPED_ARRAY_CREATE: return (void *)cuMipmappedArrayCreate;
  case HQ_CU_ARRAY_DESTROY: return (void *)cuArrayDestroy;
  case HQ_CU_MIPMAPPED_ARRAY_DESTROY: return (void *)cuMipmappedArrayDestroy;
  case HQ_CU_IPC_OPEN: return (void *)cuIpcOpenMemHandle_v2;
  case HQ_CU_IPC_CLOSE: return (void *)cuIpcCloseMemHandle;
  case HQ_CU_GRAPH_LAUNCH: return (void *)cuGraphLaunch;
  case HQ_CU_GRAPH_LAUNCH_PTSZ: return (void *)cuGraphLaunch_ptsz;
  case HQ_CU_MEM_IMPORT_SHAREABLE: return (void *)cuMemImportFromShareableHandle;
  case CU_GET_PROC: return (void *)cuGetProcAddress;
  case CU_GET_PROC_V2: return (void *)cuGetProcAddress_v2;
  default: return NULL;
  }
}

/* The hook whose real function is p, or p itself. */
static void *hook_by_identity(void *p) {
  for (int i = 1; i < CU_N; i++) {
    void *hook = cu_hook(i);
    if (hook && p == __atomic_load_n(&real_fn[i], __ATOMIC_RELAXED)) return hook;
  }
  return p;
}

static int is_our_hook(const void *p) {
  for (int i = 1; i < CU_N; i++)
    if (cu_hook(i) && cu_hook(i) == p) return 1;
  return 0;
}

int hq__cuda_wraps(const char *name) {
  if (!name || name[0] != 'c' || name[1] != 'u') return 0; /* cheap reject; the match is exact */
  for (int i = 1; i < CU_N; i++)
    if (cu_hook(i) && strcmp(name, cu_name[i]) == 0) return 1;
  return 0;
}

/* Reached from hq_dlsym.S only for an explicit handle and one of our exact names: glibc ignores
 * the caller's address for explicit handles, so this call need not be a tail call. */
void *hq__cuda_dlsym(void *handle, const char *name) {
  void *p;
  cu_ensure(); /* first: a failed dlopen here must not replace the caller's dlerror() */
  p = real_dlsym(handle, name);
  return p ? hook_by_identity(p) : NULL;
}

/* Does symbol name one of the entry points we wrap, as cuGetProcAddress names them ("cuMemAlloc"
 * for cuMemAlloc_v2, "cuMemAllocAsync" for its _ptsz variant)? */
static int wrapped_base_name(const char *symbol) {
  size_t n = strlen(symbol);
  for (int i = 1; i < CU_N; i++) {
    const char *name = cu_name[i];
    if (!cu_hook(i) || strncmp(name, symbol, n) != 0) continue;
    if (!name[n] || !strcmp(name + n, "_v2") || !strcmp(name + n, "_ptsz")) return 1;
  }
  return 0;
}

hq_cold static void note_unhooked(const char *symbol, int version, uint64_t flags) {
  char name[128];
  snprintf(name, sizeof name, "cuda_unhooked:%.64s@%d/%llu", symbol, version,
           (unsigned long long)flags);
  hq__record_counter(name, 1);
}

static void *proc_hook(const char *symbol, void *p, int version, uint64_t flags) {
  void *hook;
  if (!symbol || !p || is_our_hook(p)) return p;
  if (!strcmp(symbol, "cuGetProcAddress")) {
    /* Whatever the driver hands out, the caller expects the ABI of the version it asked for. */
    int id = version >= 12000 ? CU_GET_PROC_V2 : CU_GET_PROC;
    return __atomic_load_n(&real_fn[id], __ATOMIC_RELAXED) ? cu_hook(id) : p;
  }
  hook = hook_by_identity(p);
  if (hook == p && hq_tracking() && wrapped_base_name(symbol)) note_unhooked(symbol, version, flags);
  return hook;
}

hq_export CUresult cuGetProcAddress(const char *symbol, void **pfn, int version, uint64_t flags) {
  get_proc_fn real = REAL(CU_GET_PROC, get_proc_fn);
  CUresult rc = real ? real(symbol, pfn, version, flags) : cu_missing();
  if (rc == CUDA_SUCCESS && pfn && *pfn) *pfn = proc_hook(symbol, *pfn, version, flags);
  return rc;
}

hq_export CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version, uint64_t flags,
                                       int *status) {
  get_proc_v2_fn real = REAL(CU_GET_PROC_V2, get_proc_v2_fn);
  CUresult rc = real ? real(symbol, pfn, version, flags, status) : cu_missing();
  if (rc == CUDA_SUCCESS && pfn && *pfn) *pfn = proc_hook(symbol, *pfn, version, flags);
  return rc;
}
