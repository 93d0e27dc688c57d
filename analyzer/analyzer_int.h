/*
 * analyzer_int.h: prototypes shared between analyzer/ files (hq__ prefix), grouped by the file
 * that defines them.  Not installed; not public.
 */
#ifndef HQ_ANALYZER_INT_H
#define HQ_ANALYZER_INT_H

#include <stdarg.h>
#include <stdio.h>
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
/* Make room for `need` elements of elem_size in *(void **)pbuf (capacity *cap, doubled as
 * needed).  HQ_OK or HQ_ENOMEM (the buffer is then unchanged). */
int hq__grow(void *pbuf, size_t *cap, size_t need, size_t elem_size);
/* Rebuild the symbol-dependent aggregates (agg_line: per source line) from agg_stack and the
 * current frames.  The symbolizer calls it at its end, after writing frames; cheap (proportional
 * to the number of stacks, not allocations).  HQ_OK when no aggregates exist yet (the first
 * report builds them).  Safe inside or outside a transaction (uses a savepoint). */
int hq__aggregate_refresh_symbols(hq_db_t *db);
/* Recompute agg_leak_class after allocations.leak_class was written (leak classification).
 * HQ_OK when no aggregates exist yet.  Scans the leaked rows. */
int hq__aggregate_refresh_leaks(hq_db_t *db);
/*
 * Streaming aggregation, the fast path for the importer: instead of hq__aggregate_build()
 * reading every row back, feed each allocation event and each free event as you process them,
 * in nondecreasing time order (ties allowed), then call hq__agg_finish() after the rows are
 * written (inside the same transaction).  The tables come out identical to
 * hq__aggregate_build()'s.  hq__agg_finish() also writes meta peak_heap_bytes/peak_heap_t (the
 * earliest timestamp after whose events the live heap is largest).  Events out of time order are
 * tolerated: finish() then falls back to hq__aggregate_build().  Kinds missing from the kinds
 * table are ignored (as the views' join ignores them).
 */
typedef struct hq__agg_s hq__agg_t;
typedef struct hq__agg_event_s {
  const char *kind;      /* allocations.kind of the block */
  int64_t stack_id;      /* allocations.stack_id of the block (the allocation's stack) */
  int has_stack;         /* 0 when stack_id is NULL */
  uint64_t size;         /* allocations.size */
  int64_t t;             /* t_alloc for hq__agg_alloc, t_free for hq__agg_free */
  int from_realloc;      /* alloc: realloc_from IS NOT NULL */
  const char *free_kind; /* free: allocations.free_kind ('realloc' for a moving realloc) */
  int64_t tid, alloc_seq, free_tid, free_seq; /* free: the block's columns (temporary test) */
} hq__agg_event_t;
int  hq__agg_begin(hq_db_t *db, hq__agg_t **out);
int  hq__agg_alloc(hq__agg_t *agg, const hq__agg_event_t *ev);
int  hq__agg_free(hq__agg_t *agg, const hq__agg_event_t *ev);
/* Write the agg_* tables and free agg (also on failure). */
int  hq__agg_finish(hq__agg_t *agg);
/* Free agg without writing anything. */
void hq__agg_abort(hq__agg_t *agg);
/* Make sure current aggregates exist before a report reads them: builds them when missing or
 * built from other rows (agg_info 'max_id' differs from max(allocations.id)), refreshes agg_line
 * when frames were symbolized since.  Writes into the database when it is writable, else into
 * the connection's TEMP schema (same table names, which shadow stale ones). */
int hq__aggregate_ensure(hq_db_t *db);

/* hq_weak_defaults.c, overridden by the HTML report (strong definition elsewhere) */
/* Write the self-contained HTML report of db to out; report is the const hq_report_t * already
 * computed by the caller (may be NULL: then compute what you need).  The weak default returns
 * HQ_ENOTSUP. */
int hq__report_html(hq_db_t *db, FILE *out, const void *report);

/* hq_json.c: a streaming JSON writer; keys are NULL inside arrays */
typedef struct hq__jw_s {
  FILE *out;
  int depth;
  int first[32];
} hq__jw_t;
void hq__jw_init(hq__jw_t *w, FILE *out);
void hq__jw_object(hq__jw_t *w, const char *key);
void hq__jw_end_object(hq__jw_t *w);
void hq__jw_array(hq__jw_t *w, const char *key);
void hq__jw_end_array(hq__jw_t *w);
void hq__jw_u64(hq__jw_t *w, const char *key, uint64_t v);
void hq__jw_i64(hq__jw_t *w, const char *key, int64_t v);
void hq__jw_double(hq__jw_t *w, const char *key, double v);         /* %.17g; null if not finite */
void hq__jw_fixed(hq__jw_t *w, const char *key, double v, int decimals);
void hq__jw_seconds(hq__jw_t *w, const char *key, int64_t ns);      /* exact decimal seconds */
void hq__jw_str(hq__jw_t *w, const char *key, const char *s);       /* NULL -> null */
void hq__jw_bool(hq__jw_t *w, const char *key, int v);
void hq__jw_null(hq__jw_t *w, const char *key);
void hq__jw_string_raw(FILE *out, const char *s);

/* hq_query.c */
/* The shortest "%.15g".."%.17g" rendering of v that reads back as v. */
void hq__fmt_double(char *buf, size_t cap, double v);

/* hq_top.c */
/* "12.3 MiB"-style rendering of a byte count (powers of 1024). */
void hq__fmt_bytes(char *buf, size_t cap, uint64_t bytes);
/* The allocation site of a stack: the first line of stack_text (malloc'd; "(no stack)" for -1). */
int  hq__site_location(hq_db_t *db, int64_t stack_id, char **out);
/* Load agg_stack rows: WHERE class = cls (all classes when cls < 0) AND metric > 0, ORDER BY
 * metric DESC, stack_id, LIMIT limit; each with its location. */
int  hq__sites_load(hq_db_t *db, hq_metric_t metric, int cls, size_t limit, hq_site_t **out,
                    size_t *out_n);
/* Load agg_stack rows selected by suffix ("WHERE ... ORDER BY ... LIMIT n"), with locations. */
int  hq__sites_sql(hq_db_t *db, const char *suffix, hq_site_t **out, size_t *out_n);
/* A site (with its location) as a JSON object. */
void hq__site_json(hq__jw_t *w, const char *key, const hq_site_t *s);
/* A site with its whole stack: to w as a JSON object when w is not NULL, else to out as the
 * line value_text followed by the frames, indented. */
int  hq__site_with_stack(hq_db_t *db, const hq_site_t *s, const char *value_text, hq__jw_t *w,
                         FILE *out);
/* strdup of a column value, NULL for SQL NULL. */
char *hq__col_strdup(sqlite3_stmt *st, int col);

/* hq_report.c */
/* The report SQL shared with docs/schema.md: growth rate and R^2 over samples, fragmentation. */
extern const char hq__sql_growth[];
extern const char hq__sql_fragmentation[];
extern const char hq__sql_efficiency[];

/* hq_report_print.c */
/* The "peak" object of the report JSON (also printed by `heapql peak`). */
void hq__peak_json(hq__jw_t *w, const hq_report_t *r);

/* hq_recommend.c */
/* Fill r->findings from db and the figures already in r. */
int  hq__recommend(hq_db_t *db, hq_report_t *r);
void hq__findings_free(hq_finding_t *f, size_t n);

#endif /* HQ_ANALYZER_INT_H */
