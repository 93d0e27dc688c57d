/* hq_kerr.c: the thread-local detail behind the last failing kernels call.  The fixed messages
 * are hq_strerror()'s (analyzer/common/hq_error.c, built into this library too). */
#include <stdarg.h>
#include <stdio.h>

#include "kernels_int.h"

static __thread char last_error[512];

int hq__kerr(int rc, const char *fmt, ...) {
  va_list ap;
  if (!fmt) {
    snprintf(last_error, sizeof last_error, "%s", hq_strerror(rc));
    return rc;
  }
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return rc;
}

const char *hq_kernels_errmsg(void) { return last_error; }
