/*
 * heapql/kernels.h: libheapql_kernels, memory-conscious model kernels (see docs/kernels.md).
 * (Filled in by the kernels work.)
 */
#ifndef HEAPQL_KERNELS_H
#define HEAPQL_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "heapql/error.h"

#ifndef HQ_API
#define HQ_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the kernels library ("0.1.0"). Never NULL. */
HQ_API const char *hq_kernels_version(void);

#ifdef __cplusplus
}
#endif
#endif /* HEAPQL_KERNELS_H */
#include "heapql/kernels_model.h"
