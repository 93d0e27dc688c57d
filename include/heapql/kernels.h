/*
 * heapql/kernels.h: libheapql_kernels, memory-conscious model kernels (see docs/kernels.md).
 *
 * Modules, in the order they appear below:
 *   errors     hq_kernels_errmsg(): the detail behind the last failing call on this thread
 *   dtypes     f32 compute, f32/f16/bf16 storage; round-to-nearest-even conversions
 *   pool       a caching allocator (PyTorch CUDACachingAllocator design) for host or CUDA memory
 *   tensor     n-d tensors (up to 8 dims) with strides, views without copies, memory reports
 *   blas       dense products through CBLAS (OpenBLAS); never hand loops
 *   chunk      array and file processing in chunks sized from a memory budget (callbacks or
 *              readers)
 *   sparse     CSR/COO f32 matrices, int32 or int64 indices, SpMV/SpMM
 *   cuda       the dense and sparse products on a GPU (cuBLAS, cuSPARSE); HQ_ENOTSUP without
 *   npy        memory-mapped numpy .npy arrays (numpy.memmap modes r, r+, w+, c)
 *
 * Conventions.  Every fallible function returns HQ_OK (0) or a negative HQ_E* code
 * (heapql/error.h) and passes results through out-parameters (named out*).  On failure the
 * out-parameters are left untouched unless a function says otherwise, and a one-line detail is
 * available from hq_kernels_errmsg().  A few pure accessors that cannot fail (hq_dtype_size,
 * hq_tensor_numel, the scalar conversions) return their value directly.  Sizes and indices are
 * int64_t element counts; byte counts are size_t.  Thread safety: pools are thread-safe; other
 * objects may be used from several threads only if no thread modifies them.
 *
 * API misuse has one answer, as in the analyzer: a NULL or released handle, a NULL required
 * pointer (an out-parameter, a buffer that holds elements, a callback), or a call out of order
 * (backward without a forward) returns HQ_EMISUSE after one line on stderr naming where it was
 * caught.  The lists of return codes below leave it out; HQ_EINVAL is a value out of range.
 *
 * Memory the library obtains is reported to heapql: pool sub-allocations through
 * hq_annotate_pool_alloc/free (heapql/annotate.h), chunks as regions named "chunk".
 */
#ifndef HEAPQL_KERNELS_H
#define HEAPQL_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "heapql/error.h"

#ifndef HQ_API
#define HQ_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the kernels library ("0.1.0"). Never NULL. */
HQ_API const char *hq_kernels_version(void);

/* =============================================================================================
 * Errors
 * ========================================================================================== */

/* The detail of the most recent failing call into this library on the calling thread, e.g.
 * "npy: 'descr' '>f4' is big-endian; only little-endian data can be mapped".  When the failing
 * call left no detail, the fixed message of its code.  "" before any failure.  Never NULL; the
 * string belongs to the thread and stays valid until its next failing call. */
HQ_API const char *hq_kernels_errmsg(void);

/* =============================================================================================
 * Element types and conversions
 * ========================================================================================== */

/* Storage types.  Arithmetic is always done in f32; f16 (IEEE binary16) and bf16 (bfloat16,
 * the top half of an f32) halve the bytes stored. */
typedef enum hq_dtype_e {
  HQ_F32 = 0,
  HQ_F16 = 1,
  HQ_BF16 = 2
} hq_dtype_t;

/* Bytes per element of dtype: 4, 2, 2; 0 for a value that is not a hq_dtype_t. */
HQ_API size_t hq_dtype_size(hq_dtype_t dtype);

/* f32 -> f16 with round-to-nearest-even.  Overflow gives +-inf (65520 and above round to inf),
 * values below the smallest subnormal (2^-24) round to +-0 (ties to even), NaN stays a quiet NaN
 * with the sign kept. */
HQ_API uint16_t hq_f32_to_f16(float value);
/* f16 -> f32, exact (every f16 is an f32), subnormals and inf/NaN included. */
HQ_API float hq_f16_to_f32(uint16_t bits);
/* f32 -> bf16 with round-to-nearest-even on the low 16 bits; NaN stays a quiet NaN. */
HQ_API uint16_t hq_f32_to_bf16(float value);
/* bf16 -> f32, exact. */
HQ_API float hq_bf16_to_f32(uint16_t bits);

/*
 * Convert n contiguous elements from src (of src_dtype) to dst (of dst_dtype); same dtype is a
 * copy.  src and dst must not overlap unless they are the same pointer with the same dtype.
 * n == 0 is a no-op (pointers may then be NULL).
 * Returns HQ_OK; HQ_EINVAL for an unknown dtype.
 */
HQ_API int hq_convert(void *dst, hq_dtype_t dst_dtype, const void *src, hq_dtype_t src_dtype,
                      size_t n);

/* =============================================================================================
 * Caching pool
 *
 * A PyTorch-CUDACachingAllocator-style allocator: request sizes are rounded up to 512 bytes;
 * requests up to 1 MiB are served from the small pool, carved from 2 MiB segments; larger
 * requests from the large pool (20 MiB segments for requests under 10 MiB, otherwise a segment
 * of the request rounded up to 2 MiB).  A free block is found best-fit (smallest size that
 * fits, lowest address among equals) in a size-ordered tree, split when the remainder is worth
 * keeping (>= 512 B in the small pool, > 1 MiB in the large pool), and merged with free
 * neighbours when released.  Segments come from a backend (host: mmap or malloc; CUDA:
 * cudaMalloc) and are kept cached when fully free until hq_pool_empty_cache() or until a memory
 * cap would be exceeded.  Statistics use torch.cuda.memory_stats() names.  See docs/kernels.md.
 * ========================================================================================== */

typedef struct hq_pool_s hq_pool_t;

/* Where segments come from. */
typedef enum hq_pool_backend_e {
  HQ_POOL_HOST_MMAP = 0,   /* anonymous private mmap (default): segments are page-aligned */
  HQ_POOL_HOST_MALLOC = 1, /* posix_memalign(512) segments: visible to heapql as heap blocks */
  HQ_POOL_CUDA = 2         /* cudaMalloc on config.device; only in builds with CUDA */
} hq_pool_backend_t;

typedef struct hq_pool_config_s {
  hq_pool_backend_t backend;
  int device;              /* CUDA device ordinal (HQ_POOL_CUDA only) */
  size_t memory_cap;       /* reserved_bytes never exceeds this; 0 = no cap */
  size_t max_split_size;   /* blocks of this size or more are never split (PyTorch
                              max_split_size); 0 = no limit */
  uint64_t pool_id;        /* id given to heapql's annotations; 0 = a fresh id (1, 2, ...) */
} hq_pool_config_t;

/* Fill cfg with the defaults: HQ_POOL_HOST_MMAP, device 0, no cap, no split limit, fresh id.
 * NULL is ignored. */
HQ_API void hq_pool_config_init(hq_pool_config_t *cfg);

/*
 * Create a pool.  cfg NULL means the defaults (hq_pool_config_init).  No memory is reserved
 * until the first allocation.  The pool is thread-safe (one mutex per pool).
 * Returns HQ_OK and *out_pool; HQ_EINVAL (unknown backend); HQ_ENOTSUP
 * (HQ_POOL_CUDA in a build without CUDA); HQ_ECUDA (no such device, or the CUDA runtime
 * failed: see hq_kernels_errmsg()); HQ_ENOMEM.
 */
HQ_API int hq_pool_create(const hq_pool_config_t *cfg, hq_pool_t **out_pool);

/*
 * Destroy a pool: every segment goes back to its backend, including segments that still hold
 * allocated blocks (those pointers become invalid; each is reported to heapql as freed).
 * NULL is a no-op.
 */
HQ_API void hq_pool_destroy(hq_pool_t *pool);

/*
 * Allocate size bytes; *out_ptr is aligned to 512 bytes (the block granularity) and is valid
 * until hq_pool_free() or hq_pool_destroy().  size 0 gives *out_ptr = NULL and HQ_OK without
 * touching the statistics.  If no cached block fits, a new segment is obtained; if that would
 * exceed the memory cap or the backend fails, every cached (fully free) segment is released
 * and the attempt is retried once (stat num_alloc_retries); if it still fails, num_ooms is
 * incremented.  Reported to heapql as a pool allocation of `size` bytes.
 * Returns HQ_OK; HQ_ENOMEM (cap or backend exhausted: the
 * detail says which); HQ_ERANGE (size too large to round).
 */
HQ_API int hq_pool_alloc(hq_pool_t *pool, size_t size, void **out_ptr);

/*
 * Return a block to the pool.  ptr must be a pointer returned by hq_pool_alloc() on this pool
 * and not yet freed; anything else (a pointer from another pool or malloc, an interior pointer,
 * a second release) is refused with HQ_EINVAL and changes nothing: the pool never dereferences
 * ptr to find its block.  ptr NULL is a no-op returning HQ_OK.
 * Returns HQ_OK; HQ_EINVAL (unknown ptr).
 */
HQ_API int hq_pool_free(hq_pool_t *pool, void *ptr);

/*
 * Usable size of an allocated block (its rounded size, >= the requested size) in *out_size.
 * Returns HQ_OK; HQ_EINVAL (ptr not an allocated block of this pool).
 */
HQ_API int hq_pool_block_size(hq_pool_t *pool, const void *ptr, size_t *out_size);

/*
 * Release every cached segment (one that holds no allocated block) to the backend, like
 * torch.cuda.empty_cache().  Segments with any allocated block stay.  *out_released (may be
 * NULL) receives the bytes released.
 * Returns HQ_OK; HQ_ECUDA (the backend failed to free; the segment is
 * dropped from the pool's accounting anyway).
 */
HQ_API int hq_pool_empty_cache(hq_pool_t *pool, size_t *out_released);

/*
 * Change the memory cap (0 = none).  Lowering it below reserved_bytes releases cached segments
 * first; segments in use are never taken away, so reserved_bytes may stay above the new cap
 * until blocks are freed (no new segment is obtained meanwhile).
 * Returns HQ_OK.
 */
HQ_API int hq_pool_set_memory_cap(hq_pool_t *pool, size_t memory_cap);

/* One statistic: value now, highest value since creation or the last reset_peak, and the
 * running totals of increments and decrements (torch's current/peak/allocated/freed). */
typedef struct hq_stat_s {
  int64_t current;
  int64_t peak;
  int64_t allocated;
  int64_t freed;
} hq_stat_t;

/* Index of the per-pool breakdown, torch's all / small_pool / large_pool. */
enum { HQ_STAT_ALL = 0, HQ_STAT_SMALL_POOL = 1, HQ_STAT_LARGE_POOL = 2, HQ_STAT_TYPES = 3 };

typedef struct hq_pool_stats_s {
  hq_stat_t allocation[HQ_STAT_TYPES];           /* blocks handed out */
  hq_stat_t segment[HQ_STAT_TYPES];              /* segments obtained from the backend */
  hq_stat_t active[HQ_STAT_TYPES];               /* blocks in use (== allocation on host) */
  hq_stat_t inactive_split[HQ_STAT_TYPES];       /* free blocks inside split segments */
  hq_stat_t allocated_bytes[HQ_STAT_TYPES];      /* bytes of allocated blocks (rounded sizes) */
  hq_stat_t reserved_bytes[HQ_STAT_TYPES];       /* bytes of segments */
  hq_stat_t active_bytes[HQ_STAT_TYPES];         /* bytes of active blocks */
  hq_stat_t inactive_split_bytes[HQ_STAT_TYPES]; /* bytes of inactive_split blocks */
  hq_stat_t requested_bytes[HQ_STAT_TYPES];      /* bytes asked for (before rounding) */
  hq_stat_t oversize_allocations;                /* allocations >= max_split_size */
  hq_stat_t oversize_segments;                   /* segments >= max_split_size */
  int64_t num_alloc_retries;    /* allocations that released the cache and retried */
  int64_t num_ooms;             /* allocations that failed after the retry */
  int64_t num_device_alloc;     /* segment obtained from the backend (torch's name) */
  int64_t num_device_free;      /* segments given back to the backend */
  int64_t num_cache_hits;       /* allocations served from a cached free block */
  int64_t num_cache_misses;     /* allocations that needed a new segment */
  int64_t max_split_size;       /* the configured value (SIZE_MAX as -1 when unlimited) */
  int64_t memory_cap;           /* the configured value (0 = none) */
} hq_pool_stats_t;

/*
 * Snapshot of the statistics (consistent: taken under the pool's lock).
 * Returns HQ_OK.
 */
HQ_API int hq_pool_get_stats(hq_pool_t *pool, hq_pool_stats_t *out_stats);

/*
 * One statistic by its torch.cuda.memory_stats() key, e.g. "allocated_bytes.all.current",
 * "reserved_bytes.small_pool.peak", "segment.large_pool.freed", "num_ooms".  Also accepted:
 * "num_cache_hits", "num_cache_misses", "num_device_alloc", "num_device_free",
 * "max_split_size", "memory_cap".
 * Returns HQ_OK and *out_value; HQ_ENOENT (unknown key).
 */
HQ_API int hq_pool_stats_get(const hq_pool_stats_t *stats, const char *key, int64_t *out_value);

/*
 * Set every peak to its current value (torch.cuda.reset_peak_memory_stats()).
 * Returns HQ_OK.
 */
HQ_API int hq_pool_reset_peak(hq_pool_t *pool);

/* The pool's annotation id (as in hq_annotate_pool_alloc); 0 for NULL. */
HQ_API uint64_t hq_pool_id(const hq_pool_t *pool);

/* =============================================================================================
 * Tensors
 *
 * A tensor is a caller-owned struct (no allocation for the header itself) describing
 * ndim <= 8 dims with element strides over some memory.  The memory is either owned (allocated
 * by hq_tensor_alloc/zeros/clone from malloc or a pool, released by hq_tensor_release) or
 * viewed (a view of another tensor, or wrapped external memory).  A view never copies and never
 * outlives the memory it views: release the owner only after its views are no longer used.
 * Do not copy an owning struct and release both copies; make a view instead.
 * A zero-filled hq_tensor_t is a valid empty tensor (no data) that may be released.
 * ========================================================================================== */

#define HQ_TENSOR_MAX_DIMS 8

/* Fields are public to read; change them only through the functions below. */
typedef struct hq_tensor_s {
  void *data;                          /* element [0,...,0]; NULL when numel == 0 */
  hq_dtype_t dtype;
  int ndim;                            /* 0 (a scalar, one element) .. HQ_TENSOR_MAX_DIMS */
  int64_t shape[HQ_TENSOR_MAX_DIMS];   /* >= 0 */
  int64_t strides[HQ_TENSOR_MAX_DIMS]; /* in elements, >= 0 (0 repeats an element) */
  /* private */
  void *base_;                         /* start of the owned or viewed allocation */
  size_t base_nbytes_;                 /* its size in bytes */
  hq_pool_t *pool_;                    /* pool it came from (owned only), else NULL */
  uint32_t flags_;
} hq_tensor_t;

/* What a tensor's memory costs.  For an owner, owned_bytes == storage_bytes and
 * viewed_bytes == 0; for a view, owned_bytes == 0 and viewed_bytes is the span of the
 * storage it can reach (first to last element + 1, in bytes). */
typedef struct hq_tensor_mem_s {
  size_t logical_bytes;   /* numel * dtype size: what its elements occupy if packed */
  size_t owned_bytes;     /* bytes this tensor allocated and will free */
  size_t viewed_bytes;    /* bytes of someone else's memory it spans */
  size_t storage_bytes;   /* size of the allocation it lies in (owned or viewed; 0 external) */
} hq_tensor_mem_t;

/* Number of elements (product of shape; 1 for ndim 0); 0 for NULL. */
HQ_API int64_t hq_tensor_numel(const hq_tensor_t *t);

/* 1 when the elements are packed in C (row-major) order with no gaps, else 0 (0 for NULL).
 * Dims of extent 1 may have any stride. */
HQ_API int hq_tensor_is_contiguous(const hq_tensor_t *t);

/* 1 when t owns its memory (hq_tensor_release will free it), else 0. */
HQ_API int hq_tensor_owns(const hq_tensor_t *t);

/*
 * Allocate a contiguous C-order tensor of the given dtype and shape.  The data comes from pool
 * (hq_pool_alloc) when pool is not NULL, else from posix_memalign with 64-byte alignment; it is
 * not initialised (hq_tensor_zeros: zero-filled).  shape may be NULL when ndim is 0.  A tensor
 * with a zero extent has data NULL and owns nothing.  *out is overwritten (an owning tensor in
 * it is NOT released first).
 * Returns HQ_OK; HQ_EINVAL (ndim outside 0..8, negative extent, unknown dtype);
 * HQ_ERANGE (byte size overflows); HQ_ENOMEM (malloc or pool failure: see the pool's rules).
 */
HQ_API int hq_tensor_alloc(hq_tensor_t *out, hq_dtype_t dtype, int ndim, const int64_t *shape,
                           hq_pool_t *pool);
HQ_API int hq_tensor_zeros(hq_tensor_t *out, hq_dtype_t dtype, int ndim, const int64_t *shape,
                           hq_pool_t *pool);

/*
 * Describe external memory as a (viewing, non-owning) tensor.  strides NULL means C-contiguous.
 * data may be NULL only when an extent is 0.  Release is a no-op for the memory.
 * Returns HQ_OK; HQ_EINVAL (as hq_tensor_alloc, negative strides).
 */
HQ_API int hq_tensor_wrap(hq_tensor_t *out, void *data, hq_dtype_t dtype, int ndim,
                          const int64_t *shape, const int64_t *strides);

/*
 * Free owned memory (to its pool or to free()) and reset *t to the empty tensor.  Views and
 * wrapped tensors are only reset.  NULL or an empty tensor: HQ_OK.
 * Returns HQ_OK; HQ_EINVAL (the pool refused the pointer: a copy was already released).
 */
HQ_API int hq_tensor_release(hq_tensor_t *t);

/*
 * Views: *out describes part of src's memory without copying, and owns nothing.  out may be
 * the same struct as src only when src does not own its memory (else HQ_EINVAL, since the
 * owner would be lost).
 *   hq_tensor_view       the same elements (an alias)
 *   hq_tensor_slice      along dim: indices start, start+step, ... < stop (Python's
 *                        start:stop:step with 0 <= start <= stop <= shape[dim], step >= 1)
 *   hq_tensor_select     fix dim at index; the result has ndim-1 dims
 *   hq_tensor_transpose  swap dims d0 and d1 (strides swapped)
 *   hq_tensor_permute    dims reordered: out dim i is src dim perm[i] (perm a permutation)
 *   hq_tensor_reshape    new shape with the same numel (one extent may be -1: inferred);
 *                        only for contiguous src (else HQ_EINVAL: clone it first)
 * Returns HQ_OK; HQ_EINVAL (dim or index out of range, bad perm, numel
 * mismatch, non-contiguous reshape; the detail says which).
 */
HQ_API int hq_tensor_view(const hq_tensor_t *src, hq_tensor_t *out);
HQ_API int hq_tensor_slice(const hq_tensor_t *src, int dim, int64_t start, int64_t stop,
                           int64_t step, hq_tensor_t *out);
HQ_API int hq_tensor_select(const hq_tensor_t *src, int dim, int64_t index, hq_tensor_t *out);
HQ_API int hq_tensor_transpose(const hq_tensor_t *src, int d0, int d1, hq_tensor_t *out);
HQ_API int hq_tensor_permute(const hq_tensor_t *src, const int *perm, hq_tensor_t *out);
HQ_API int hq_tensor_reshape(const hq_tensor_t *src, int ndim, const int64_t *shape,
                             hq_tensor_t *out);

/*
 * New contiguous owning tensor with src's shape and elements converted to dtype (f32 <-> f16
 * <-> bf16, round-to-nearest-even), from pool (NULL = malloc).  This is how a view becomes
 * contiguous and how f32 data is stored as f16.
 * Returns HQ_OK; HQ_EINVAL (unknown dtype); HQ_ENOMEM; HQ_ERANGE.
 */
HQ_API int hq_tensor_clone(const hq_tensor_t *src, hq_dtype_t dtype, hq_pool_t *pool,
                           hq_tensor_t *out);

/*
 * Element-wise copy src -> dst of the same shape, any strides and dtypes (converted).  dst
 * and src must not overlap partially.
 * Returns HQ_OK; HQ_EINVAL (shape mismatch).
 */
HQ_API int hq_tensor_copy(hq_tensor_t *dst, const hq_tensor_t *src);

/* Set every element of t to value (converted to t's dtype).
 * Returns HQ_OK. */
HQ_API int hq_tensor_fill(hq_tensor_t *t, float value);

/*
 * Read / write one element at index idx[0..ndim-1] (idx may be NULL for ndim 0), as f32.
 * Returns HQ_OK; HQ_EINVAL (index out of range).
 */
HQ_API int hq_tensor_get(const hq_tensor_t *t, const int64_t *idx, float *out_value);
HQ_API int hq_tensor_set(hq_tensor_t *t, const int64_t *idx, float value);

/*
 * Memory report of t (see hq_tensor_mem_t).  Returns HQ_OK.
 */
HQ_API int hq_tensor_nbytes(const hq_tensor_t *t, hq_tensor_mem_t *out_mem);

/* =============================================================================================
 * Dense products through CBLAS (row-major).  Dimensions are element counts; leading dimensions
 * are the row strides (>= the number of columns of the stored matrix).  Dimensions above
 * INT_MAX are refused with HQ_ERANGE (OpenBLAS takes int).
 * ========================================================================================== */

typedef enum hq_op_e {
  HQ_OP_N = 0, /* use the matrix as stored */
  HQ_OP_T = 1  /* use its transpose */
} hq_op_t;

/*
 * C[m x n] = alpha * op(A) * op(B) + beta * C, with op(A) m x k and op(B) k x n, row-major.
 * beta == 0 overwrites C (NaN in C is not propagated).  k == 0 scales C by beta.
 * Returns HQ_OK; HQ_EINVAL (negative sizes, leading
 * dimensions too small, unknown op); HQ_ERANGE.
 */
HQ_API int hq_gemm(hq_op_t op_a, hq_op_t op_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                   float *c, int64_t ldc);

/*
 * y[op(A) rows] = alpha * op(A) * x + beta * y for A stored m x n row-major (lda >= n);
 * x and y have unit stride.  Returns as hq_gemm.
 */
HQ_API int hq_gemv(hq_op_t op_a, int64_t m, int64_t n, float alpha, const float *a, int64_t lda,
                   const float *x, float beta, float *y);

/* y += alpha * x over n elements.  Returns HQ_OK; HQ_EINVAL (n < 0). */
HQ_API int hq_axpy(int64_t n, float alpha, const float *x, float *y);
/* x *= alpha over n elements.  Returns as hq_axpy. */
HQ_API int hq_scal(int64_t n, float alpha, float *x);
/* *out = sum x[i] * y[i] over n elements.  Returns as hq_axpy. */
HQ_API int hq_dot(int64_t n, const float *x, const float *y, float *out);

/*
 * Tensor product: c = alpha * op(a) @ op(b) + beta * c for 2-d tensors (op(a) m x k,
 * op(b) k x n, c m x n).  Operands may be transposed views: a 2-d tensor whose last stride is 1
 * goes to BLAS as stored, one whose first stride is 1 goes as a transpose, so no copy is made.
 * Other layouts and f16/bf16 operands are first converted into f32 scratch (from c's pool when
 * c owns pool memory, else malloc) and c, if not f32, receives the converted result.
 * Returns HQ_OK; HQ_EINVAL (not 2-d, shape mismatch, unknown op);
 * HQ_ENOMEM; HQ_ERANGE.
 */
HQ_API int hq_tensor_matmul(const hq_tensor_t *a, hq_op_t op_a, const hq_tensor_t *b,
                            hq_op_t op_b, float alpha, float beta, hq_tensor_t *c);

/* =============================================================================================
 * Chunked processing
 *
 * Chunk-size rule (when chunk_elems is 0): the chunk gets half of the memory budget, the other
 * half being left to what the callback keeps per chunk (its output, its scratch):
 *     chunk_elems = max(1, (budget_bytes / 2) / elem_size)
 * with budget_bytes = HQ_CHUNK_DEFAULT_BUDGET (64 MiB) when 0, and never more than the input
 * holds.  Files are read with read() into one buffer of chunk_elems * elem_size bytes reused
 * for every chunk, so peak memory is that buffer whatever the file size.  Each chunk runs
 * inside a heapql region named "chunk".
 * ========================================================================================== */

#define HQ_CHUNK_DEFAULT_BUDGET ((size_t)64 << 20)

/*
 * Called once per chunk, in order: chunk points at count elements (count > 0; only the last
 * chunk may be shorter than chunk_elems); index is the chunk number (0, 1, ...) and first the
 * element number of chunk[0] in the whole input.  For files the buffer is reused: copy what
 * must outlive the call.  Return 0 to go on, a positive value to stop early (the run then
 * returns HQ_OK with info.stopped = 1), or a negative HQ_E* code to abort with that code.
 */
typedef int (*hq_chunk_fn)(void *ctx, const void *chunk, size_t count, size_t index,
                           size_t first);

typedef struct hq_chunk_opts_s {
  size_t chunk_elems;   /* elements per chunk; 0 = from budget_bytes (rule above) */
  size_t budget_bytes;  /* 0 = HQ_CHUNK_DEFAULT_BUDGET */
  hq_pool_t *pool;      /* where a file's chunk buffer comes from; NULL = malloc */
  off_t offset;         /* files: bytes to skip before the first element (e.g. a header) */
  int no_regions;       /* 1 = do not emit the "chunk" regions */
} hq_chunk_opts_t;

typedef struct hq_chunk_info_s {
  size_t chunk_elems;   /* the chunk size used */
  size_t chunks;        /* callbacks made */
  size_t elems;         /* elements passed to callbacks */
  size_t buffer_bytes;  /* bytes of the chunk buffer allocated (0 for arrays) */
  int stopped;          /* 1 if the callback stopped the run early */
} hq_chunk_info_t;

/*
 * The chunk size the rule above gives for elem_size and budget_bytes (0 = default budget),
 * before the cap at the input size.  Returns HQ_OK; HQ_EINVAL (elem_size 0).
 */
HQ_API int hq_chunk_size_for_budget(size_t elem_size, size_t budget_bytes, size_t *out_elems);

/*
 * Run fn over count elements of elem_size bytes at data, in chunks (no copy: chunks point into
 * data).  opts NULL = defaults.  count 0 makes no callback.  out_info may be NULL.
 * Returns HQ_OK; HQ_EINVAL (elem_size 0); the callback's
 * negative code.
 */
HQ_API int hq_chunk_array(const void *data, size_t count, size_t elem_size,
                          const hq_chunk_opts_t *opts, hq_chunk_fn fn, void *ctx,
                          hq_chunk_info_t *out_info);

/*
 * Run fn over the elements of a file descriptor (read from opts.offset with pread() for
 * regular files, or from the current position with read() when the descriptor cannot seek),
 * in chunks of whole elements.  The descriptor is not closed.
 * Returns HQ_OK; HQ_EINVAL (fd < 0, elem_size 0); HQ_EIO (read failed: the detail
 * has strerror); HQ_EFORMAT (the data ends inside an element: every whole element has been
 * processed by then); HQ_ENOMEM (buffer); the callback's negative code.
 */
HQ_API int hq_chunk_fd(int fd, size_t elem_size, const hq_chunk_opts_t *opts, hq_chunk_fn fn,
                       void *ctx, hq_chunk_info_t *out_info);

/* hq_chunk_fd on the file at path (opened read-only, closed before returning).
 * Also returns HQ_ENOENT (cannot open: the detail has the path and strerror). */
HQ_API int hq_chunk_file(const char *path, size_t elem_size, const hq_chunk_opts_t *opts,
                         hq_chunk_fn fn, void *ctx, hq_chunk_info_t *out_info);

/*
 * Chunk readers: the same chunks, pulled by the caller instead of pushed to a callback (the
 * pattern of pandas' TextFileReader: open, next, close).  A file reader owns one buffer of
 * info.chunk_elems * elem_size bytes (from opts.pool, else malloc) that every chunk reuses, so
 * its peak memory is that buffer plus the reader's own small state, whatever the input size.
 * The chunk size and the file rules (opts.offset, pread or read, whole elements, the buffer
 * never larger than the file) are those of hq_chunk_fd; hq_chunk_array/fd/file are loops over
 * a reader.  When opts.no_regions is 0, each chunk returned opens a heapql region "chunk" that
 * the next call to hq_chunk_reader_next (or hq_chunk_reader_close) ends, so the caller's work
 * on the chunk is inside it: call next and close on one thread (regions are per thread).
 * A reader is not thread-safe.
 */
typedef struct hq_chunk_reader_s hq_chunk_reader_t;

/*
 * A reader over count elements of elem_size bytes at data (chunks point into data: no copy,
 * no buffer; data must outlive the reader).  opts NULL = defaults.
 * Returns HQ_OK and *out; HQ_EINVAL (elem_size 0);
 * HQ_ENOMEM.
 */
HQ_API int hq_chunk_reader_open_array(const void *data, size_t count, size_t elem_size,
                                      const hq_chunk_opts_t *opts, hq_chunk_reader_t **out);

/*
 * A reader over the elements of fd (from opts.offset with pread() for regular files, or from
 * the current position with read() when fd cannot seek).  fd is not closed by the reader.
 * Returns HQ_OK and *out; HQ_EINVAL (fd < 0, elem_size 0, negative offset); HQ_EIO
 * (fstat failed); HQ_ERANGE (chunk too large); HQ_ENOMEM (the buffer: malloc or the pool).
 */
HQ_API int hq_chunk_reader_open_fd(int fd, size_t elem_size, const hq_chunk_opts_t *opts,
                                   hq_chunk_reader_t **out);

/*
 * A reader over the file at path, opened read-only here and closed by hq_chunk_reader_close.
 * Returns as hq_chunk_reader_open_fd; also HQ_ENOENT (cannot open: the
 * detail has the path and strerror).
 */
HQ_API int hq_chunk_reader_open_file(const char *path, size_t elem_size,
                                     const hq_chunk_opts_t *opts, hq_chunk_reader_t **out);

/*
 * The next chunk: *out_chunk points at *out_count elements (1 .. max_elems, or .. chunk_elems
 * when max_elems is 0 or larger), the element number of its first in *out_first (may be NULL).
 * Only the chunk at the end of the input is shorter than asked.  For file readers the memory
 * is the reader's buffer, overwritten by the next call: copy what must outlive it.  At the end
 * of the input: HQ_OK with *out_count 0 and *out_chunk NULL (again on every later call).
 * Returns HQ_OK; HQ_EINVAL (out_chunk or out_count); HQ_EIO (read failed: the
 * detail has strerror); HQ_EFORMAT (the data ends inside an element: returned by the call after
 * the last whole element was handed out).  After an HQ_EIO or HQ_EFORMAT every later call
 * returns the same code.
 */
HQ_API int hq_chunk_reader_next(hq_chunk_reader_t *r, size_t max_elems, const void **out_chunk,
                                size_t *out_count, size_t *out_first);

/* Progress so far: chunk_elems, buffer_bytes, chunks and elems handed out (stopped is always 0
 * for readers).  Returns HQ_OK. */
HQ_API int hq_chunk_reader_info(const hq_chunk_reader_t *r, hq_chunk_info_t *out_info);

/* Free the buffer and the reader, end the open "chunk" region, close the file of a reader
 * opened by path.  NULL is a no-op. */
HQ_API void hq_chunk_reader_close(hq_chunk_reader_t *r);

/* =============================================================================================
 * Sparse matrices (f32 values)
 *
 * CSR: rowptr[rows+1] offsets, colind[nnz], values[nnz].  COO: rowptr holds nnz row indices
 * (the name is kept for both), colind[nnz], values[nnz].  Indices are int32 or int64 (all
 * arrays of one matrix use the same type).  "Canonical" means indices sorted (row-major) with
 * no duplicates, as in scipy.  The arrays (and the hq_sparse_t itself) are owned by the
 * matrix: from the C heap, or from a host pool for matrices made by the *_in constructors, and
 * matrices derived from one (hq_sparse_convert, the scratch of hq_sparse_canonicalize) come
 * from the same pool.
 * ========================================================================================== */

typedef enum hq_sparse_format_e { HQ_SPARSE_CSR = 0, HQ_SPARSE_COO = 1 } hq_sparse_format_t;
typedef enum hq_index_type_e { HQ_INDEX_I32 = 0, HQ_INDEX_I64 = 1 } hq_index_type_t;

/* Fields are public to read (and the arrays' contents to write, after which call
 * hq_sparse_canonicalize if the order or uniqueness may have changed). */
typedef struct hq_sparse_s {
  hq_sparse_format_t format;
  hq_index_type_t itype;
  int64_t rows, cols;
  int64_t nnz;          /* stored entries (duplicates count until canonicalised) */
  int64_t capacity;     /* entries allocated */
  void *rowptr;         /* CSR: rows + 1 offsets; COO: nnz row indices */
  void *colind;         /* nnz column indices */
  float *values;        /* nnz values */
  int canonical;        /* 1 when sorted with no duplicates */
  hq_pool_t *pool;      /* where the arrays and this struct come from; NULL = the C heap.
                           Read only: hq_sparse_free gives everything back to it */
} hq_sparse_t;

/*
 * Create an empty rows x cols matrix in format with room for capacity entries (nnz = 0; a
 * CSR's rowptr is all zeros).  Fill the COO arrays then set nnz, or use the builders below.
 * Returns HQ_OK and *out; HQ_EINVAL (negative sizes, unknown format or itype);
 * HQ_ERANGE (a dimension or capacity does not fit the index type); HQ_ENOMEM.
 */
HQ_API int hq_sparse_create(hq_sparse_format_t format, hq_index_type_t itype, int64_t rows,
                            int64_t cols, int64_t capacity, hq_sparse_t **out);

/*
 * hq_sparse_create with the struct and every array taken from pool (hq_pool_alloc; NULL = the C
 * heap, exactly hq_sparse_create), so the matrix shows in the pool's statistics and in heapql
 * as pool blocks, and makes no heap allocation.  The pool must be a host pool
 * (HQ_POOL_HOST_MMAP or HQ_POOL_HOST_MALLOC) and outlive the matrix.
 * Returns as hq_sparse_create; also HQ_EINVAL (pool is a device pool or not a live pool);
 * HQ_ENOMEM also when the pool cannot serve (its memory cap).
 */
HQ_API int hq_sparse_create_in(hq_pool_t *pool, hq_sparse_format_t format, hq_index_type_t itype,
                               int64_t rows, int64_t cols, int64_t capacity, hq_sparse_t **out);

/*
 * COO matrix from nnz triplets (row[i], col[i], value[i]), copied; int32 indices.  Duplicates
 * are kept until canonicalisation (hq_sparse_canonicalize, or conversion to CSR).
 * Returns HQ_OK; HQ_EINVAL (an index out of range: the detail names
 * the entry); HQ_ENOMEM.
 */
HQ_API int hq_sparse_coo_from_triplets(int64_t rows, int64_t cols, int64_t nnz,
                                       const int32_t *row, const int32_t *col,
                                       const float *value, hq_sparse_t **out);

/*
 * Matrix of the entries of dense (rows x cols, row stride ld >= cols) with |x| > threshold
 * (threshold 0 keeps every nonzero; NaN entries are kept).  Result canonical.
 * Returns HQ_OK; HQ_EINVAL (ld < cols, negative threshold); HQ_ERANGE; HQ_ENOMEM.
 */
HQ_API int hq_sparse_from_dense(const float *dense, int64_t rows, int64_t cols, int64_t ld,
                                float threshold, hq_sparse_format_t format,
                                hq_index_type_t itype, hq_sparse_t **out);

/* hq_sparse_from_dense with the matrix in pool (as hq_sparse_create_in; NULL = the C heap).
 * Returns as hq_sparse_from_dense; also HQ_EINVAL (device pool or not a live pool). */
HQ_API int hq_sparse_from_dense_in(hq_pool_t *pool, const float *dense, int64_t rows,
                                   int64_t cols, int64_t ld, float threshold,
                                   hq_sparse_format_t format, hq_index_type_t itype,
                                   hq_sparse_t **out);

/*
 * Write the matrix into dense (rows x cols, row stride ld), zeros elsewhere; duplicate entries
 * are summed.  Returns HQ_OK; HQ_EINVAL (ld < cols).
 */
HQ_API int hq_sparse_to_dense(const hq_sparse_t *s, float *dense, int64_t ld);

/*
 * Sort the entries (row-major, then column) and sum duplicates, in place; nnz may shrink (the
 * arrays keep their capacity).  Sets canonical = 1.  Explicit zeros are kept.
 * Returns HQ_OK; HQ_EINVAL (a malformed CSR: rowptr not non-decreasing from 0 to nnz, or
 * an index out of range); HQ_ENOMEM (scratch).
 */
HQ_API int hq_sparse_canonicalize(hq_sparse_t *s);

/*
 * A new matrix in format (CSR or COO) with s's entries, canonical (duplicates summed, as scipy
 * does for COO -> CSR); s is unchanged.  Converting to the same format gives a canonical copy.
 * Returns HQ_OK; HQ_EINVAL; HQ_ENOMEM.
 */
HQ_API int hq_sparse_convert(const hq_sparse_t *s, hq_sparse_format_t format, hq_sparse_t **out);

/* Free the matrix and its arrays (to its pool when it has one).  NULL is a no-op. */
HQ_API void hq_sparse_free(hq_sparse_t *s);

/*
 * Bytes of the matrix's arrays as stored: for CSR (rows + 1 + nnz) * index size + nnz * 4, for
 * COO 2 * nnz * index size + nnz * 4 (used entries; *out_capacity_bytes, may be NULL, counts
 * the allocated capacity, and the struct itself in both).  10% density with int32 indices: CSR
 * is about 8 * 0.1 = 0.8 bytes per dense element, 20% of the dense f32 bytes.
 * Returns HQ_OK.
 */
HQ_API int hq_sparse_nbytes(const hq_sparse_t *s, size_t *out_bytes, size_t *out_capacity_bytes);

/*
 * y[rows or cols] = alpha * op(A) * x + beta * y.  beta == 0 overwrites y.  CSR with op N is
 * the fast path (one streaming pass, four accumulators, no writes but y); op T scatters into
 * y; COO works in either op with a scatter.  Duplicates need not be canonicalised.
 * Returns HQ_OK; HQ_EINVAL (unknown op).
 */
HQ_API int hq_sparse_spmv(hq_op_t op, float alpha, const hq_sparse_t *a, const float *x,
                          float beta, float *y);

#define HQ_SPMV_ENTRIES_PER_THREAD ((int64_t)1 << 18) /* default: one thread per 256 Ki entries */
#define HQ_SPMV_MAX_THREADS 64

/*
 * hq_sparse_spmv with the rows of a CSR matrix (op N) split between `threads` threads, the
 * calling thread included.  Rows are cut into contiguous ranges holding about equal numbers of
 * stored entries (a row is never cut), and each row is computed by one thread with the same
 * loop as hq_sparse_spmv, so y is bit for bit the same as hq_sparse_spmv's whatever the thread
 * count.  threads 0 = the default: one thread per HQ_SPMV_ENTRIES_PER_THREAD entries, at most
 * the CPUs this process may run on (so small matrices stay on the calling thread); at most
 * HQ_SPMV_MAX_THREADS and never more than rows.  Threads are created for the call and joined
 * before it returns (a thread that cannot be created has its rows done by the calling thread).
 * COO matrices and op T scatter into y, so they run on the calling thread (hq_sparse_spmv).
 * Returns as hq_sparse_spmv; also HQ_EINVAL (threads < 0).
 */
HQ_API int hq_sparse_spmv_threads(hq_op_t op, float alpha, const hq_sparse_t *a, const float *x,
                                  float beta, float *y, int threads);

/*
 * C = alpha * op(A) * B + beta * C with B dense row-major (op(A) cols x n, row stride ldb >= n)
 * and C dense row-major (op(A) rows x n, row stride ldc >= n).
 * Returns HQ_OK; HQ_EINVAL (strides too small, n < 0, unknown op).
 */
HQ_API int hq_sparse_spmm(hq_op_t op, float alpha, const hq_sparse_t *a, const float *b,
                          int64_t ldb, int64_t n, float beta, float *c, int64_t ldc);

/*
 * Sampled dense-dense product on a's pattern: for each stored entry (i, j),
 * value = alpha * dot(X[i, :], Y[j, :]) + beta * value, with X rows x k (stride ldx >= k) and
 * Y cols x k (stride ldy >= k).  This is the gradient of a sparse weight restricted to its
 * pattern (dW = dY^T X masked).  Returns HQ_OK; HQ_EINVAL.
 */
HQ_API int hq_sparse_sddmm(hq_sparse_t *a, float alpha, const float *x, int64_t ldx,
                           const float *y, int64_t ldy, int64_t k, float beta);

/* =============================================================================================
 * CUDA: dense and sparse products on the device (cuBLAS, cuSPARSE)
 *
 * Built when the library is built with CUDA (HQ_CUDA=1, the default when nvcc is found); in a
 * build without it every function below returns HQ_ENOTSUP (hq_cuda_destroy and
 * hq_cuda_csr_release do nothing).  Device memory is plain device pointers: from an
 * HQ_POOL_CUDA pool, from cudaMalloc, or anything else the caller owns.  The functions take the
 * same row-major arguments as their CPU counterparts (hq_gemm, hq_sparse_spmv, hq_sparse_spmm),
 * so a CPU result can be checked against a GPU one call for call.
 *
 * A context (hq_cuda_t) holds one device, one CUDA stream (an ordinary, blocking stream, so
 * work on the legacy default stream, e.g. a plain cudaMemcpy, is ordered with it) and the
 * cuBLAS and cuSPARSE handles.  Products are queued on the context's stream and return before
 * they finish: hq_cuda_synchronize() waits, and hq_cuda_memcpy() waits for its copy (and for
 * everything queued before it).  Release device memory that queued work still uses only after
 * hq_cuda_synchronize (a pool has no notion of streams).
 *
 * Memory the library uses on the device is visible: the cuBLAS workspace of a context made
 * with a pool is a block of that pool, and cuSPARSE's workspace is allocated by the caller after
 * a buffer-size query (the caller owns all memory, as in cuSPARSE's generic API), so pool
 * blocks are reported to heapql (hq_annotate_pool_alloc) and to NVTX (a heap per segment, a
 * region per block).  Each product runs inside a heapql region ("cuda.gemm", "cuda.spmv",
 * "cuda.spmm"), so the host allocations cuSPARSE makes for its descriptors are tagged too.
 * A context may be used by one thread at a time.
 * ========================================================================================== */

typedef struct hq_cuda_s hq_cuda_t;

/*
 * Number of CUDA devices in *out_count: 0 when there is none, or no usable driver (such
 * failures are not errors here: this is the question "is there a GPU?").
 * Returns HQ_OK; HQ_ENOTSUP (built without CUDA).
 */
HQ_API int hq_cuda_device_count(int *out_count);

/*
 * A context on `device`.  pool (may be NULL) must be an HQ_POOL_CUDA pool of the same device;
 * the cuBLAS workspace is then taken from it (32 MiB on compute capability 9.0 and later,
 * 4 MiB before, NVIDIA's recommendation) and given back by hq_cuda_destroy; with pool NULL,
 * cuBLAS allocates its own.  The pool must outlive the context.
 * Returns HQ_OK and *out; HQ_EINVAL (pool not a CUDA pool of this device);
 * HQ_ECUDA (no such device, no driver, or a CUDA, cuBLAS or cuSPARSE call failed: the detail
 * has CUDA's message); HQ_ENOMEM (host memory, or the pool could not give the workspace);
 * HQ_ENOTSUP (built without CUDA).
 */
HQ_API int hq_cuda_create(int device, hq_pool_t *pool, hq_cuda_t **out);

/* Wait for the context's queued work, then free its handles, its stream and its workspace.
 * NULL is a no-op. */
HQ_API void hq_cuda_destroy(hq_cuda_t *ctx);

/*
 * Wait until everything queued on the context's stream has finished.
 * Returns HQ_OK; HQ_ECUDA (queued work failed: CUDA's message in the
 * detail); HQ_ENOTSUP.
 */
HQ_API int hq_cuda_synchronize(hq_cuda_t *ctx);

/*
 * Copy bytes from src to dst, each host or device memory (the direction is found from the
 * pointers: unified addressing), in order with the context's queued work, and wait for it, so
 * host buffers may be reused on return.  bytes 0 is a no-op.
 * Returns HQ_OK; HQ_ECUDA; HQ_ENOTSUP.
 */
HQ_API int hq_cuda_memcpy(hq_cuda_t *ctx, void *dst, const void *src, size_t bytes);

/*
 * hq_gemm on the device through cuBLAS (cublasSgemm): C[m x n] = alpha op(A) op(B) + beta C,
 * row-major, a, b and c device pointers.  Same argument rules and return codes as hq_gemm
 * (beta == 0 overwrites C; k == 0 scales C by beta), plus HQ_ECUDA
 * (cuBLAS failed) and HQ_ENOTSUP.  Queued: returns before the product is done.  Computed in
 * f32 (cuBLAS's default math mode; TF32 only if the environment forces it,
 * NVIDIA_TF32_OVERRIDE=1).
 */
HQ_API int hq_cuda_gemm(hq_cuda_t *ctx, hq_op_t op_a, hq_op_t op_b, int64_t m, int64_t n,
                        int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                        int64_t ldb, float beta, float *c, int64_t ldc);

/* A CSR matrix in device memory: the arrays of hq_sparse_t's CSR form (zero-based, f32
 * values, int32 or int64 indices), with device pointers.  Fill the public fields to describe
 * arrays you own (release then does nothing to them), or let hq_cuda_csr_upload fill it. */
typedef struct hq_cuda_csr_s {
  hq_index_type_t itype;
  int64_t rows, cols, nnz;
  void *rowptr;      /* rows + 1 offsets */
  void *colind;      /* nnz column indices, sorted within each row */
  float *values;     /* nnz values */
  /* private */
  hq_pool_t *pool_;  /* where hq_cuda_csr_upload took the arrays from (NULL: cudaMalloc) */
  uint32_t owned_;   /* 1 when hq_cuda_csr_upload allocated the arrays */
} hq_cuda_csr_t;

/*
 * Copy a host matrix (CSR or COO, any index type) to the device in canonical CSR form
 * (duplicates summed, columns sorted: a canonical CSR is copied as it is, anything else goes
 * through hq_sparse_convert on the host first).  The three arrays come from pool (an
 * HQ_POOL_CUDA pool of the context's device), or from cudaMalloc when pool is NULL; *out is
 * overwritten.  Waits for the copies.
 * Returns HQ_OK; HQ_EINVAL (host or out, malformed host matrix, pool not a CUDA
 * pool of this device); HQ_ENOMEM (host scratch, the pool, or cudaMalloc out of memory);
 * HQ_ECUDA; HQ_ENOTSUP.
 */
HQ_API int hq_cuda_csr_upload(hq_cuda_t *ctx, const hq_sparse_t *host, hq_pool_t *pool,
                              hq_cuda_csr_t *out);

/* Wait for ctx's queued work, then give arrays that hq_cuda_csr_upload allocated back to
 * their pool (or cudaFree), and zero *csr.  A csr describing the caller's own arrays is only
 * zeroed.  NULL csr is a no-op; ctx may be NULL when no work using csr is queued. */
HQ_API void hq_cuda_csr_release(hq_cuda_t *ctx, hq_cuda_csr_t *csr);

/*
 * y = alpha op(A) x + beta y on the device through cuSPARSE's generic API (cusparseSpMV),
 * x and y device vectors of op(A)'s columns and rows.  beta == 0 overwrites y, NaN included
 * (y is zeroed first).  cuSPARSE needs a workspace: hq_cuda_spmv_buffer_size, called with the
 * same arguments, gives its size in *out_bytes (0 possible), and the caller passes that much
 * device memory as buffer (NULL when 0).  The buffer may be reused for any later call whose
 * query gives no more bytes.  Queued: returns before the product is done.  The additions are
 * not done in the CPU's order, so results agree with hq_sparse_spmv to rounding (exactly when
 * every partial sum is exact, e.g. small integers); with op T the order may even change from
 * run to run (cuSPARSE uses atomics there).
 * Returns HQ_OK; HQ_EINVAL (a, or a vector with elements, malformed a, unknown op); HQ_ECUDA (cuSPARSE failed);
 * HQ_ENOTSUP (built without CUDA, or cuSPARSE does not support the case).
 */
HQ_API int hq_cuda_spmv_buffer_size(hq_cuda_t *ctx, hq_op_t op, float alpha,
                                    const hq_cuda_csr_t *a, const float *x, float beta,
                                    float *y, size_t *out_bytes);
HQ_API int hq_cuda_spmv(hq_cuda_t *ctx, hq_op_t op, float alpha, const hq_cuda_csr_t *a,
                        const float *x, float beta, float *y, void *buffer, size_t buffer_bytes);

/*
 * C = alpha op(A) B + beta C on the device through cusparseSpMM, with B and C dense row-major
 * device matrices exactly as in hq_sparse_spmm (B: op(A) cols x n, row stride ldb >= n; C:
 * op(A) rows x n, row stride ldc >= n; the columns between n and the stride are not touched).
 * Workspace, beta == 0, queueing and op T as for hq_cuda_spmv: query with
 * hq_cuda_spmm_buffer_size and the same arguments.
 * Returns as hq_cuda_spmv; also HQ_EINVAL (n < 0, ldb or ldc < n).
 */
HQ_API int hq_cuda_spmm_buffer_size(hq_cuda_t *ctx, hq_op_t op, float alpha,
                                    const hq_cuda_csr_t *a, const float *b, int64_t ldb,
                                    int64_t n, float beta, float *c, int64_t ldc,
                                    size_t *out_bytes);
HQ_API int hq_cuda_spmm(hq_cuda_t *ctx, hq_op_t op, float alpha, const hq_cuda_csr_t *a,
                        const float *b, int64_t ldb, int64_t n, float beta, float *c,
                        int64_t ldc, void *buffer, size_t buffer_bytes);

/* =============================================================================================
 * Memory-mapped .npy arrays
 *
 * Files in numpy's .npy format (v1.0 written with the header padded so the data starts at a
 * multiple of 64; v1.0, v2.0 and v3.0 read), mapped like numpy.memmap:
 *   "r"   read-only (PROT_READ, MAP_SHARED)
 *   "r+"  read/write an existing file (MAP_SHARED: writes reach the file)
 *   "w+"  create or overwrite with spec's dtype and shape (MAP_SHARED), zero-filled
 *   "c"   copy-on-write (MAP_PRIVATE: writes stay in memory, the file is never changed)
 * Little-endian (or byte-order-free) dtypes only; big-endian, object and structured dtypes are
 * refused with HQ_ENOTSUP and a message.  Malformed headers are refused with HQ_EFORMAT.
 * ========================================================================================== */

typedef enum hq_npy_dtype_e {
  HQ_NPY_F2 = 0, /* <f2 */
  HQ_NPY_F4,     /* <f4 */
  HQ_NPY_F8,     /* <f8 */
  HQ_NPY_I1,     /* |i1 */
  HQ_NPY_I2,     /* <i2 */
  HQ_NPY_I4,     /* <i4 */
  HQ_NPY_I8,     /* <i8 */
  HQ_NPY_U1,     /* |u1 */
  HQ_NPY_U2,     /* <u2 */
  HQ_NPY_U4,     /* <u4 */
  HQ_NPY_U8,     /* <u8 */
  HQ_NPY_B1,     /* |b1 (numpy bool) */
  HQ_NPY_DTYPES
} hq_npy_dtype_t;

#define HQ_NPY_MAX_DIMS 32 /* numpy's limit (NPY_MAXDIMS) */

typedef struct hq_npy_s hq_npy_t;

/* Shape and type of a .npy array: the spec for "w+", and what hq_npy_info reports. */
typedef struct hq_npy_info_s {
  hq_npy_dtype_t dtype;
  int ndim;                         /* 0 (one element) .. HQ_NPY_MAX_DIMS */
  int64_t shape[HQ_NPY_MAX_DIMS];
  int fortran_order;                /* 1: column-major data */
  /* reported only: */
  size_t itemsize;                  /* bytes per element */
  size_t nbytes;                    /* data bytes (numel * itemsize) */
  size_t data_offset;               /* header bytes before the data */
  int version_major;                /* 1, 2 or 3 */
  int version_minor;
} hq_npy_info_t;

/*
 * Open path in mode "r", "r+", "w+" or "c" (numpy.memmap's modes).  spec is required for "w+"
 * (dtype, ndim, shape, fortran_order; the other fields are ignored) and ignored otherwise.
 * "w+" writes a v1.0 header (v2.0 if the header would exceed 65535 bytes) and sizes the file
 * with zeros.  Release with hq_npy_close().
 * Returns HQ_OK and *out; HQ_EINVAL (unknown mode, "w+" without a valid spec);
 * HQ_ENOENT (cannot open); HQ_EIO (stat, truncate or mmap failed); HQ_EFORMAT (bad magic,
 * version, header dict, shape, or a file shorter than the data it declares);
 * HQ_ENOTSUP (big-endian, object or other unsupported dtype); HQ_ENOMEM.
 */
HQ_API int hq_npy_open(const char *path, const char *mode, const hq_npy_info_t *spec,
                       hq_npy_t **out);

/*
 * Unmap and close (no implicit flush beyond what MAP_SHARED gives: call hq_npy_flush to be
 * sure data reached the file).  NULL is a no-op.
 */
HQ_API void hq_npy_close(hq_npy_t *a);

/* Shape, dtype and layout of an open array.  Returns HQ_OK. */
HQ_API int hq_npy_info(const hq_npy_t *a, hq_npy_info_t *out_info);

/*
 * Address of the mapped data (nbytes long; read-only memory in mode "r").  NULL data is
 * reported for an array with no elements.  Returns HQ_OK.
 */
HQ_API int hq_npy_data(const hq_npy_t *a, void **out_data);

/*
 * Copy the n-d box start[d] .. start[d]+count[d]-1 (d < ndim) out of / into the array.  The
 * buffer holds the box packed in C order (last index fastest) whatever the file's order, in
 * the array's dtype.  For ndim 0, start and count may be NULL.
 * write_slice needs mode "r+", "w+" or "c" (HQ_EMISUSE in "r").
 * Returns HQ_OK; HQ_EINVAL (box outside the shape).
 */
HQ_API int hq_npy_read_slice(const hq_npy_t *a, const int64_t *start, const int64_t *count,
                             void *dst);
HQ_API int hq_npy_write_slice(hq_npy_t *a, const int64_t *start, const int64_t *count,
                              const void *src);

/*
 * Write modified pages to the file (msync MS_SYNC) in "r+" and "w+"; a no-op in "r" and "c"
 * (numpy's memmap.flush does nothing useful there either).
 * Returns HQ_OK; HQ_EIO (msync failed).
 */
HQ_API int hq_npy_flush(hq_npy_t *a);

/* Bytes per element of dtype (0 for an unknown value), and its descr string ("<f4", "|u1";
 * "" for an unknown value). */
HQ_API size_t hq_npy_dtype_size(hq_npy_dtype_t dtype);
HQ_API const char *hq_npy_dtype_descr(hq_npy_dtype_t dtype);

#ifdef __cplusplus
}
#endif
#endif /* HEAPQL_KERNELS_H */
#include "heapql/kernels_model.h"
