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
/* Expand an output pattern: %p = pid, %n = program name, %% = '%'; out is always
 * NUL-terminated (truncated to cap).  Shared by `heapql run` and the recorder, which must agree
 * on every file name. */
void     hq__expand_output(const char *pattern, long pid, const char *prog, char *out, size_t cap);
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

/* ---- pictures and many runs (hq_sites.c, hq_flame.c, hq_timeline.c, hq_html.c, hq_diff.c) ---- */

/* hq_sites.c: frame labels, stack chains and per-stack sums shared by flame graphs, diff and the
 * HTML report. */
typedef struct hq__sitemap_s hq__sitemap_t;   /* frames and stacks of one database, in memory */
enum { HQ__LABEL_DISPLAY = 0, HQ__LABEL_KEY = 1 };
/* Per-stack sums, the columns of hq__sites_scan(). */
enum { HQ__V_COUNT, HQ__V_BYTES, HQ__V_LEAKED_BLOCKS, HQ__V_LEAKED_BYTES, HQ__V_PEAK_BYTES,
       HQ__V_N };
int  hq__sitemap_load(hq_db_t *db, hq__sitemap_t **out_map);
void hq__sitemap_free(hq__sitemap_t *map);
const char *hq__sitemap_label(const hq__sitemap_t *map, int32_t label);
/* A trie of label paths (root first), one node per distinct path, values per node. */
typedef struct hq__tnode_s {
  int32_t parent, label, depth;
  int32_t first_child, next_sibling;  /* filled by hq__tree_link(), siblings sorted by label */
  int64_t rep_stack;                  /* the stack that contributed most bytes here */
  int64_t rep_bytes;
} hq__tnode_t;
typedef struct hq__tree_s {
  const hq__sitemap_t *map;
  int mode;                 /* HQ__LABEL_DISPLAY or HQ__LABEL_KEY */
  hq__tnode_t *nodes;       /* nodes[0] is the root */
  int64_t *self;            /* HQ__V_N self values per node */
  size_t n, cap;
  uint64_t *hkeys;          /* (parent, label) -> node */
  int32_t *hvals;
  size_t hcap;
  int32_t *stack_node;      /* memo: stack id -> node (0 = not yet) */
  int64_t nstack;
} hq__tree_t;
int  hq__tree_init(hq__tree_t *t, const hq__sitemap_t *map, int mode);
void hq__tree_free(hq__tree_t *t);
/* The node of stack_id (NULL stack: pass 0 -> "[no stack]" node); -1 on out of memory. */
int32_t hq__tree_stack_node(hq__tree_t *t, int64_t stack_id);
int  hq__tree_link(hq__tree_t *t);
/* Run one scan of allocations (class filter; "all" = every class; pid 0 = all) and add each
 * stack's sums to its node.  want_peak computes HQ__V_PEAK_BYTES (needs the peak moment). */
int  hq__sites_scan(hq_db_t *db, hq__tree_t *t, const char *kind_class, int64_t pid,
                    int want_peak);
/* The class's largest live bytes and the first moment they were reached, by a sweep over
 * allocations and frees of one process's clock (0 and -1 when there are none). */
int  hq__sites_peak(hq_db_t *db, const char *kind_class, int64_t *out_bytes, int64_t *out_t);
/* FNV-1a of a string, for the hash tables of sites and labels. */
uint64_t hq__sites_hash(const char *s);
/* Is kind_class one of heap, mmap, pool, device, all? */
int  hq__sites_class_ok(const char *kind_class);

/* hq_html.c: XML/HTML/JSON writing helpers and the HTML report. */
void hq__html_escape(FILE *out, const char *s);         /* & < > " ' escaped */
void hq__html_json_string(FILE *out, const char *s);    /* a quoted JSON string */
/* "1.50 MiB" (binary units; bytes below 1 KiB as "123 B"). */
const char *hq__html_bytes(double bytes, char *buf, size_t cap);
int  hq__report_html(hq_db_t *db, FILE *out, const void *report);

/* hq_flame.c */
typedef struct hq__flame_s hq__flame_t;
int  hq__flame_build(hq_db_t *db, const hq_flame_opts_t *opts, hq__flame_t **out_flame);
/* standalone: 1 = an SVG document with its own script; 0 = an <svg> element for an HTML page
 * whose script calls hqFlameInit(svg) (hq__flame_script). */
int  hq__flame_svg(const hq__flame_t *fl, FILE *out, int standalone);
void hq__flame_free(hq__flame_t *fl);
/* Switch the metric of a flame built with HQ_FLAME_PEAK (which holds every column); title may
 * be NULL (keeps the current one). */
void hq__flame_set_metric(hq__flame_t *fl, int metric, const char *title);
const hq__tree_t *hq__flame_tree(const hq__flame_t *fl);
const hq__sitemap_t *hq__flame_map(const hq__flame_t *fl);
extern const char hq__flame_script[];

/* hq_timeline.c */
int  hq__timeline_svg(hq_db_t *db, const hq_timeline_opts_t *opts, FILE *out, int standalone);

/* hq_diff.c: headline figures of one run, shared by diff, compare and the HTML report. */
typedef struct hq__headline_s {
  char program[256];
  char command_line[1024];
  int64_t processes, pid;
  int64_t duration_ns;
  int64_t alloc_count, alloc_bytes, free_count;
  int64_t peak_heap_bytes, peak_heap_t;  /* peak_heap_t -1 when unknown */
  int64_t peak_device_bytes, peak_rss_bytes, peak_mmap_bytes;
  int64_t leaked_blocks, leaked_bytes;
  int64_t temporary_count;
  int complete;                           /* -1 unknown */
} hq__headline_t;
int  hq__diff_headline(hq_db_t *db, hq__headline_t *out);

#endif /* HQ_ANALYZER_INT_H */
