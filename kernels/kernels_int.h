/*
 * kernels_int.h: prototypes shared between kernels/ files (hq__ prefix), grouped by the file
 * that defines them.  Not installed; not public.
 */
#ifndef HQ_KERNELS_INT_H
#define HQ_KERNELS_INT_H

#include <stddef.h>
#include <stdint.h>
#include "heapql/internal/compiler.h"
#include "heapql/internal/misuse.h"
#include "heapql/kernels.h"

/* hq_kerr.c */
/* Record a detail for hq_kernels_errmsg() and return rc, so that `return hq__kerr(...)` and
 * `rc = hq__kerr(...); goto out;` read naturally. */
int hq__kerr(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* hq_blas.c */
/* What a valid gemm asks for (hq__gemm_check's *out_work). */
enum { HQ__GEMM_NOTHING = 0, HQ__GEMM_SCALE_C = 1, HQ__GEMM_PRODUCT = 2 };
/* hq_gemm's argument rules, shared with hq_cuda_gemm (fn names the caller in the detail):
 * HQ_OK with *out_work NOTHING (m or n is 0), SCALE_C (k is 0: C = beta C) or PRODUCT; else
 * HQ_EINVAL or HQ_ERANGE with a detail.  Pointers are only compared with NULL. */
int hq__gemm_check(const char *fn, hq_op_t op_a, hq_op_t op_b, int64_t m, int64_t n, int64_t k,
                   const void *a, int64_t lda, const void *b, int64_t ldb, const void *c,
                   int64_t ldc, int *out_work);

/* hq_dtype.c */
/* Multiply a * b into *out; 0 on success, -1 on size_t overflow. */
static inline int hq__mul_overflow(size_t a, size_t b, size_t *out) {
  return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}

/* hq_pool.c */
/* The pool's backend (a hq_pool_backend_t value) and, through out_device (may be NULL), its
 * configured device; -1 for NULL or a pointer that is not a live pool.  Lets other modules
 * refuse device pools where they need host memory, and check a device pool's ordinal. */
int hq__pool_backend(const hq_pool_t *p, int *out_device);

#endif /* HQ_KERNELS_INT_H */
