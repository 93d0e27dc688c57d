/* hq_util.c: small helpers: time, bounded snprintf, growable arrays, terminal progress. */
#include <errno.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/base_int.h"

uint64_t hq__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int hq__fmt(char *buf, size_t cap, const char *fmt, ...) {
  va_list ap;
  int n;
  if (cap == 0) return HQ_ERANGE;
  va_start(ap, fmt);
  n = vsnprintf(buf, cap, fmt, ap);
  va_end(ap);
  if (n < 0) { buf[0] = '\0'; return HQ_EINVAL; }
  return (size_t)n >= cap ? HQ_ERANGE : HQ_OK;
}

void hq__progress_init(hq_progress_t *p, int enabled, const char *what, uint64_t total) {
  p->enabled = enabled && isatty(2);
  p->what = what;
  p->total = total;
  p->last_ns = 0;
}

void hq__progress_update(hq_progress_t *p, uint64_t done) {
  uint64_t now;
  if (!p->enabled) return;
  now = hq__now_ns();
  if (now - p->last_ns < 100000000u) return; /* 10 updates a second at most */
  p->last_ns = now;
  if (p->total)
    fprintf(stderr, "\r%s: %3u%%", p->what, (unsigned)(done * 100 / p->total));
  else
    fprintf(stderr, "\r%s: %llu", p->what, (unsigned long long)done);
  fflush(stderr);
}

void hq__progress_done(hq_progress_t *p) {
  if (!p->enabled) return;
  fprintf(stderr, "\r\033[K");
  fflush(stderr);
}

int hq__grow(void **arr, size_t *cap, size_t n, size_t elem, size_t first_cap) {
  size_t ncap;
  void *grown;
  if (n < *cap) return HQ_OK;
  ncap = *cap ? *cap * 2 : first_cap;
  if (ncap <= n) ncap = n + 1;
  grown = realloc(*arr, ncap * elem);
  if (!grown) return HQ_ENOMEM;
  *arr = grown;
  *cap = ncap;
  return HQ_OK;
}

char *hq__read_file(const char *path, size_t *out_len) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t len = 0, cap = 0;
  if (!f) return NULL;
  for (;;) {
    size_t got;
    if (len + 4096 + 1 > cap) {
      char *grown = realloc(buf, cap = cap ? cap * 2 : 8192);
      if (!grown) {
        free(buf);
        fclose(f);
        errno = ENOMEM;
        return NULL;
      }
      buf = grown;
    }
    got = fread(buf + len, 1, cap - len - 1, f);
    len += got;
    if (got == 0) break;
  }
  if (ferror(f)) {
    free(buf);
    fclose(f);
    errno = EIO;
    return NULL;
  }
  fclose(f);
  buf[len] = '\0';
  if (out_len) *out_len = len;
  return buf;
}
