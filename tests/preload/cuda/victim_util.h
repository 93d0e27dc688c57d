/* victim_util.h: what the CUDA victims share: a check that prints the failing call, and the file
 * name of the module a function pointer lives in (heapql's preload, or the driver). */
#ifndef VICTIM_UTIL_H
#define VICTIM_UTIL_H

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "fake_cuda.h"

#define CHECK(call)                                                  \
  do {                                                               \
    CUresult rc_ = (call);                                           \
    if (rc_ != CUDA_SUCCESS) {                                       \
      printf("failed=%s rc=%d\n", #call, rc_);                       \
      return 1;                                                      \
    }                                                                \
  } while (0)

static inline const char *module_of(const void *fn) {
  Dl_info info;
  const char *slash;
  if (!fn || !dladdr(fn, &info) || !info.dli_fname) return "none";
  slash = strrchr(info.dli_fname, '/');
  return slash ? slash + 1 : info.dli_fname;
}

#endif /* VICTIM_UTIL_H */
