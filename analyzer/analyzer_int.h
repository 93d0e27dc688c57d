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

/* hq_import.c */
/* Build the aggregate tables and meta figures the reports read (hq_aggregate.c). */

/* hq_aggregate.c */
/* Called at the end of every import (and after merge): computes meta peak figures, per-site
 * aggregates and anything else reports read.  Must be idempotent. */
int hq__aggregate_build(hq_db_t *db);

#endif /* HQ_ANALYZER_INT_H */
