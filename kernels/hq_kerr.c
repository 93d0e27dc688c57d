/* hq_kerr.c: the thread-local detail behind the last failing kernels call. */
#include <stdarg.h>
#include <stdio.h>

#include "kernels_int.h"

static __thread char last_error[512];

const char *hq__kerr_str(int rc) {
  switch (rc) {
  case HQ_OK: return "success";
#define HQ__KERR_MSG(name, value, msg) case HQ_##name: return msg;
  HQ_ERRNO_MAP(HQ__KERR_MSG)
#undef HQ__KERR_MSG
  default: return "unknown error";
  }
}

int hq__kerr(int rc, const char *fmt, ...) {
  va_list ap;
  if (!fmt) {
    snprintf(last_error, sizeof last_error, "%s", hq__kerr_str(rc));
    return rc;
  }
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return rc;
}

const char *hq_kernels_errmsg(void) { return last_error; }
