/*
 * analyzer_int.h: prototypes shared between analyzer/ files (hq__ prefix), grouped by the file
 * that defines them.  Not installed; not public.
 */
#ifndef HQ_ANALYZER_INT_H
#define HQ_ANALYZER_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include "heapql/analyzer.h"

#define HQ_DB_MAGIC 0x68716462u /* "hqdb" */
#define HQ_APPLICATION_ID 0x48514C31 /* "HQL1" in PRAGMA application_id */
#define HQ_SCHEMA_VERSION_CURRENT 1

struct hq_db_s {
  uint32_t magic;
  sqlite3 *sql;
  char *path;
  char errmsg[512];
};

#define hq_likely(x)   __builtin_expect(!!(x), 1)
#define hq_unlikely(x) __builtin_expect(!!(x), 0)

/* hq_db.c */
int  hq__db_seterr(hq_db_t *db, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int  hq__db_sqlerr(hq_db_t *db, const char *what);   /* HQ_EDB with SQLite's message */
int  hq__db_exec(hq_db_t *db, const char *sql);
int  hq__db_prepare(hq_db_t *db, const char *sql, sqlite3_stmt **out_stmt);
int  hq__db_meta_int(hq_db_t *db, const char *key, int64_t *out);
int  hq__db_meta_set_int(hq_db_t *db, const char *key, int64_t value);
int  hq__misuse(int line);
#define HQ_MISUSE_BKPT hq__misuse(__LINE__)

/* hq_util.c */
/* A progress line on stderr, only when stderr is a terminal and enabled. */
typedef struct hq_progress_s {
  int enabled;
  const char *what;
  uint64_t total;
  uint64_t last_ns;
} hq_progress_t;
void     hq__progress_init(hq_progress_t *p, int enabled, const char *what, uint64_t total);
void     hq__progress_update(hq_progress_t *p, uint64_t done);
void     hq__progress_done(hq_progress_t *p);
uint64_t hq__now_ns(void);
/* snprintf into buf, always NUL-terminated; returns HQ_ERANGE if truncated. */
int      hq__fmt(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Make room in a realloc'd array *arr of *cap elements of elem bytes for element n (doubling,
 * first_cap at the start).  Returns HQ_OK or HQ_ENOMEM (then *arr and *cap are unchanged). */
int      hq__grow(void **arr, size_t *cap, size_t n, size_t elem, size_t first_cap);

/* hq_import.c */
/* Build the aggregate tables and meta figures the reports read (hq_aggregate.c). */

/* hq_aggregate.c */
/* Called at the end of every import (and after merge): computes meta peak figures, per-site
 * aggregates and anything else reports read.  Must be idempotent. */
int hq__aggregate_build(hq_db_t *db);

/* hq_demangle.c */
/* A readable name for a mangled C++ (Itanium), Rust legacy or Rust v0 symbol, malloc'd (caller
 * frees); NULL when name is not mangled or cannot be demangled (keep name as it is). */
char *hq__demangle(const char *name);

/* hq_dwarf.c: one module file's address -> function/file:line resolver (libdw). */
enum { HQ__FILE_OK, HQ__FILE_MISSING, HQ__FILE_CHANGED, HQ__FILE_NO_DEBUG_INFO };
typedef struct hq__symres_s hq__symres_t;
typedef struct hq__symframe_s {
  const char *function; /* demangled; NULL if unknown */
  const char *file;     /* source file; NULL if unknown */
  int line;             /* 0 if unknown */
} hq__symframe_t;
#define HQ__SYM_MAX_CHAIN 64
/* Open the module file at path, checking its build-id against build_id (hex; NULL or "" = do
 * not check).  *out_status gets HQ__FILE_*; *out_res is NULL when there is nothing to resolve
 * from (missing or changed file and no separate debug file with that build-id).  Returns HQ_OK
 * or HQ_ENOMEM. */
int  hq__symres_open(const char *path, const char *build_id, hq__symres_t **out_res,
                     int *out_status);
/* The chain at addr (a link-time address, already adjusted to point into the call): out[0] is
 * the innermost function with the line at addr, out[i] the function out[i-1] was inlined into,
 * with the line of that inlined call.  *out_n = 0 when nothing is known.  Strings are owned by
 * res and live until hq__symres_close().  Returns HQ_OK, HQ_EINVAL or HQ_ENOMEM. */
int  hq__symres_lookup(hq__symres_t *res, uint64_t addr, hq__symframe_t *out, int cap,
                       int *out_n);
void hq__symres_close(hq__symres_t *res);
/* "ok", "missing", "changed", "no-debug-info". */
const char *hq__file_status_name(int status);

#endif /* HQ_ANALYZER_INT_H */
