/* hq_error.c: messages and names for the HQ_ERRNO_MAP codes, and the misuse breakpoint.  Built
 * into every heapql library (libheapql, libheapql_kernels, the preload). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "heapql/error.h"
#include "heapql/internal/misuse.h"

const char *hq_strerror(int rc) {
  switch (rc) {
  case HQ_OK: return "success";
#define HQ__ERR_MSG(name, value, msg) case HQ_##name: return msg;
  HQ_ERRNO_MAP(HQ__ERR_MSG)
#undef HQ__ERR_MSG
  default: return "unknown error";
  }
}

const char *hq_err_name(int rc) {
  switch (rc) {
  case HQ_OK: return "HQ_OK";
#define HQ__ERR_NAME(name, value, msg) case HQ_##name: return "HQ_" #name;
  HQ_ERRNO_MAP(HQ__ERR_NAME)
#undef HQ__ERR_NAME
  default: return "HQ_UNKNOWN";
  }
}

int hq__misuse(const char *file, int line) {
  static int logged;
  if (!logged) {
    char msg[256];
    const char *base = strrchr(file, '/');
    int n = snprintf(msg, sizeof msg, "heapql: API misuse caught at %s:%d\n", base ? base + 1 : file, line);
    logged = 1;
    if (n > 0) {
      ssize_t w = write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
      (void)w;
    }
  }
  return HQ_EMISUSE;
}
