/*
 * hq_fault.c: the failure-injection seam (heapql/internal/fault.h).  Parsed once from
 * HEAPQL_FAULT without allocating (the recorder may ask from inside the program's allocator).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heapql/internal/fault.h"

static const struct { const char *name; int dflt; } sites[HQ_FAULT_SITES_] = {
  [HQ_FAULT_TRACE_WRITE] = {"trace_write", ENOSPC}, [HQ_FAULT_DB_WRITE] = {"db_write", ENOSPC},
  [HQ_FAULT_DB_READ] = {"db_read", EIO}, [HQ_FAULT_DB_ALLOC] = {"db_alloc", ENOMEM},
  [HQ_FAULT_OUT_WRITE] = {"out_write", EIO},
};

static const struct { const char *name; int value; } errnos[] = {
  {"ENOSPC", ENOSPC}, {"EIO", EIO}, {"EFBIG", EFBIG}, {"ENOMEM", ENOMEM}, {"EBADF", EBADF},
  {"EACCES", EACCES}, {"EROFS", EROFS}, {"EDQUOT", EDQUOT}, {"EPIPE", EPIPE},
};

static _Atomic int state;                      /* 0 unread, 1 reading, 2 read */
static int any;
static unsigned long at[HQ_FAULT_SITES_];      /* 0 = never */
static int err_of[HQ_FAULT_SITES_];
static _Atomic unsigned long count[HQ_FAULT_SITES_];

static void complain(const char *v) {
  char line[300];
  int n = snprintf(line, sizeof line, "heapql: HEAPQL_FAULT='%.200s' is malformed: ignored\n", v);
  if (n > 0) {
    ssize_t w = write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    (void)w;
  }
}

/* One "site=N[:errno]" of length len at p. */
static int parse_one(const char *p, size_t len) {
  for (int s = 0; s < HQ_FAULT_SITES_; s++) {
    size_t nl = strlen(sites[s].name);
    char num[32], *end;
    const char *colon;
    size_t numlen;
    unsigned long n;
    if (len <= nl + 1 || strncmp(p, sites[s].name, nl) || p[nl] != '=') continue;
    colon = memchr(p + nl + 1, ':', len - nl - 1);
    numlen = (size_t)((colon ? colon : p + len) - (p + nl + 1));
    if (numlen == 0 || numlen >= sizeof num) return -1;
    memcpy(num, p + nl + 1, numlen);
    num[numlen] = '\0';
    n = strtoul(num, &end, 10);
    if (*end || n == 0) return -1;
    at[s] = n;
    err_of[s] = sites[s].dflt;
    if (colon) {
      size_t el = (size_t)(p + len - colon - 1);
      int found = 0;
      for (size_t e = 0; e < sizeof errnos / sizeof errnos[0]; e++)
        if (strlen(errnos[e].name) == el && !strncmp(colon + 1, errnos[e].name, el)) {
          err_of[s] = errnos[e].value;
          found = 1;
        }
      if (!found) return -1;
    }
    return 0;
  }
  return -1;
}

static void load(void) {
  int expected = 0;
  const char *v;
  if (atomic_load_explicit(&state, memory_order_acquire) == 2) return;
  if (!atomic_compare_exchange_strong(&state, &expected, 1)) {
    while (atomic_load_explicit(&state, memory_order_acquire) != 2) {
    }
    return;
  }
  v = getenv("HEAPQL_FAULT");
  if (v && *v) {
    const char *p = v;
    int ok = 1;
    while (*p && ok) {
      size_t len = strcspn(p, ",");
      ok = parse_one(p, len) == 0;
      p += len + (p[len] == ',');
    }
    if (!ok) {
      memset(at, 0, sizeof at);
      complain(v);
    }
    for (int s = 0; s < HQ_FAULT_SITES_; s++) any |= at[s] != 0;
  }
  atomic_store_explicit(&state, 2, memory_order_release);
}

void hq__fault_reset(void) {
  memset(at, 0, sizeof at);
  memset(err_of, 0, sizeof err_of);
  for (int s = 0; s < HQ_FAULT_SITES_; s++) atomic_store(&count[s], 0);
  any = 0;
  atomic_store(&state, 0);
}

int hq__fault_enabled(void) {
  load();
  return any;
}

int hq__fault(int site) {
  unsigned long n;
  load();
  if (!any || site < 0 || site >= HQ_FAULT_SITES_ || !at[site]) return 0;
  n = atomic_fetch_add_explicit(&count[site], 1, memory_order_relaxed) + 1;
  return n == at[site] ? err_of[site] : 0;
}
