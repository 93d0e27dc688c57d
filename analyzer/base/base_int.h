/*
 * base_int.h: the analyzer's lowest layer (hq__ prefix), grouped by defining file: the database
 * handle, meta, the aggregate tables, small helpers, and how heapql writes numbers and text.
 * Every other analyzer layer (import, symbols, query, output) builds on it; it includes nothing
 * of theirs.  Code here may run inside a recorded program's exit (analyzer/import/import_int.h
 * states the rules).  Not installed; not public.
 */
#ifndef HQ_BASE_INT_H
#define HQ_BASE_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <sqlite3.h>

#include "heapql/analyzer.h"
#include "heapql/internal/compiler.h"
#include "heapql/internal/kinds.h"
#include "heapql/internal/misuse.h"

#define HQ_DB_MAGIC 0x68716462u /* "hqdb" */
#define HQ_APPLICATION_ID 0x48514C31 /* "HQL1" in PRAGMA application_id */
#define HQ_SCHEMA_VERSION_CURRENT 2

struct hq_db_s {
  uint32_t magic;
  sqlite3 *sql;
  char *path;
  char *wrappers;     /* the user's allocation-wrapper patterns (hq_db_set_wrappers), or NULL */
  size_t callers;     /* callers listed under each site (hq_db_set_callers); 3 at open */
  char *debug_dirs;   /* where symbolization looks for a module's build (hq_db_set_debug_dirs) */
  struct sqlite3_stmt *cached[1]; /* statements run once per stack or row: HQ__STMT_* */
  char errmsg[512];
};

/* Statements prepared once per connection (hq__db_prepare_cached), finalized by hq_db_close. */
enum { HQ__STMT_STACK_FRAMES };

/* hq_db_open() flag for heapql's own callers: with HQ_DB_CREATE, an existing empty regular
 * file (the temporary file hq__out_open() made) is where the new database goes. */
#define HQ__DB_INTO_EMPTY (1 << 16)

/* A live handle: public entry points answer HQ_MISUSE_BKPT otherwise. */
#define HQ_DB_OK(db) ((db) != NULL && (db)->magic == HQ_DB_MAGIC)

/* ---- hq_db.c: the handle, its error message, statements ---- */
int  hq__db_seterr(hq_db_t *db, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int  hq__db_sqlerr(hq_db_t *db, const char *what);   /* HQ_EDB with SQLite's message */
int  hq__db_exec(hq_db_t *db, const char *sql);
int  hq__db_prepare(hq_db_t *db, const char *sql, sqlite3_stmt **out_stmt);
/* The connection's statement in slot (HQ__STMT_*), prepared from sql on first use and kept:
 * a query run once per stack costs its planning once.  The caller sqlite3_reset()s it when
 * done, never finalizes it; it must not be stepped by two callers at once. */
int  hq__db_prepare_cached(hq_db_t *db, int slot, const char *sql, sqlite3_stmt **out_stmt);
/* Each row of sql: row(st, ctx) for every one, stopping at its first nonzero answer (returned).
 * A failed step is HQ_EDB with "reading WHAT: <SQLite's message>".  Returns HQ_OK at the end. */
int  hq__db_each(hq_db_t *db, const char *sql, const char *what,
                 int (*row)(sqlite3_stmt *st, void *ctx), void *ctx);
/* End the savepoint `name` (begun with "SAVEPOINT name"): released when rc is HQ_OK, else rolled
 * back keeping the failure's error message.  Returns rc, or the release's failure. */
int  hq__savepoint_end(hq_db_t *db, const char *name, int rc);
/* strdup of a column value, NULL for SQL NULL. */
char *hq__col_strdup(sqlite3_stmt *st, int col);

/* ---- hq_db.c: meta, the one reader and writer ---- */
/* The integer value of meta `key`: HQ_OK, HQ_ENOENT (absent or NULL), HQ_EDB. */
int     hq__meta_int(hq_db_t *db, const char *key, int64_t *out);
/* As hq__meta_int, but absence is not an error: *out_has says whether it was there. */
int     hq__meta_int_opt(hq_db_t *db, const char *key, int64_t *out, int *out_has);
/* The integer value of meta `key`, or fallback when absent or unreadable. */
int64_t hq__meta_int_or(hq_db_t *db, const char *key, int64_t fallback);
/* The text value of meta `key`, malloc'd into *out (NULL when absent): HQ_OK, HQ_ENOMEM, HQ_EDB. */
int     hq__meta_text(hq_db_t *db, const char *key, char **out);
/* 1 when the main schema has a table (or view) of that name, else 0 (errors read as 0). */
int     hq__db_has_table(hq_db_t *db, const char *name);
int     hq__meta_set_int(hq_db_t *db, const char *key, int64_t value);

/* ---- hq_faultvfs.c ---- */
/* When HEAPQL_FAULT names a database site, put the fault shims under SQLite (once, before the
 * first database opens; hq_db_open() calls it). */
void hq__fault_db_install(void);

/* ---- hq_outfile.c: outputs that never destroy a file heapql did not create ---- */
typedef struct hq__out_s {
  char *final;     /* the file to end up written: the path, symlinks followed */
  char *tmp;       /* the temporary file beside it, renamed over it on commit; NULL in place */
  int fd;          /* open for writing (closed by commit/abort) */
  int in_place;    /* an existing device or FIFO, written directly */
} hq__out_t;
enum {
  HQ__OUT_REPLACE   = 1 << 0, /* an existing regular file may be replaced (on success only) */
  HQ__OUT_REGULAR   = 1 << 1, /* the output must be a regular file (a database) */
  HQ__OUT_STDOUT_OK = 1 << 2, /* "-" is accepted (the caller writes stdout itself) */
};
/* Prepare to write path: a new or regular target gets a temporary file of mode `mode` in its
 * directory (O_EXCL); an existing device or FIFO is opened in place (refused with
 * HQ__OUT_REGULAR); a directory is refused.  err gets one line.  Returns HQ_OK, HQ_EINVAL
 * (directory, not regular, '-', unwritable place), HQ_EEXIST (exists, no HQ__OUT_REPLACE),
 * HQ_EIO, HQ_ENOMEM.  On failure nothing was created. */
int  hq__out_open(hq__out_t *o, const char *path, int flags, mode_t mode, char *err, size_t cap);
/* The path to write (the temporary file, or the target in place). */
const char *hq__out_path(const hq__out_t *o);
/* Close and rename into place.  On failure the temporary file is removed.  HQ_OK or HQ_EIO. */
int  hq__out_commit(hq__out_t *o, char *err, size_t cap);
/* Close and remove the temporary file (never the target). */
void hq__out_abort(hq__out_t *o);

/* ---- hq_util.c ---- */
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
/* A whole file, malloc'd and NUL-terminated (*out_len its length, may be NULL); NULL with errno
 * set when it cannot be read. */
char    *hq__read_file(const char *path, size_t *out_len);

/* ---- hq_format.c: numbers and text, one way for every output ---- */
/* "123 B", "1.50 MiB" (binary units, two decimals; negative values keep their sign); returns buf. */
const char *hq__fmt_bytes(double bytes, char *buf, size_t cap);
/* The shortest "%.15g".."%.17g" rendering of v that reads back as v. */
void hq__fmt_double(char *buf, size_t cap, double v);
/* Text for XML/HTML: & < > " ' escaped, newlines and tabs as spaces, control characters and
 * invalid UTF-8 as '?'. */
void hq__fmt_xml(FILE *out, const char *s);
/* A quoted JSON string (valid UTF-8 always: invalid bytes as '?'); NULL as "". */
void hq__fmt_json_string(FILE *out, const char *s);
/* A location as people read it: C++ template arguments and parameter lists shortened
 * ("std::map<std::string, int>::operator[](std::string&&)" -> "std::map<>::operator[]()"), and
 * paths that start with root (a directory ending in '/', NULL for none) written relative to it. */
void hq__fmt_short(const char *in, const char *root, char *out, size_t cap);

/* ---- hq_json.c: a streaming JSON writer; keys are NULL inside arrays ---- */
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

/* ---- hq_leaktime.c: leaked bytes by allocation time (agg_leak_time) ---- */
#define HQ__LTIME_BINS 256
typedef struct hq__ltime_s {
  int64_t width;                   /* ns per bin; 0 before the first event */
  int64_t bytes[HQ__LTIME_BINS];   /* allocated minus released, by allocation time */
  int64_t blocks[HQ__LTIME_BINS];
} hq__ltime_t;
/* Count bytes and blocks (negative: a release) at allocation time t_alloc. */
void hq__ltime_add(hq__ltime_t *h, int64_t t_alloc, int64_t bytes, int64_t blocks);
/* (Re)create schema.agg_leak_time from h: one row per bin that holds leaked blocks. */
int  hq__ltime_write(hq_db_t *db, const char *schema, const hq__ltime_t *h);

/* ---- hq_aggregate.c: the agg_* tables the reports read ---- */
/* Computes meta peak figures, per-site aggregates and anything else reports read from the rows.
 * Idempotent. */
int hq__aggregate_build(hq_db_t *db);
/* Rebuild the symbol-dependent aggregates (agg_line: per source line) from agg_stack and the
 * current frames.  The symbolizer calls it at its end, after writing frames; cheap (proportional
 * to the number of stacks, not allocations).  HQ_OK when no aggregates exist yet (the first
 * report builds them).  Safe inside or outside a transaction (uses a savepoint). */
int hq__aggregate_refresh_symbols(hq_db_t *db);
/* Recompute agg_leak_class after allocations.leak_class was written (leak classification).
 * HQ_OK when no aggregates exist yet.  Scans the leaked rows. */
int hq__aggregate_refresh_leaks(hq_db_t *db);
/* Make sure current aggregates exist before a report reads them: builds them when missing or
 * built from other rows (agg_info 'max_id' differs from max(allocations.id)), refreshes agg_line
 * when frames were symbolized since.  Writes into the database when it is writable, else into
 * the connection's TEMP schema (same table names, which shadow stale ones). */
int hq__aggregate_ensure(hq_db_t *db);
/* How much of the frames is symbolized (a number that changes whenever symbolization writes):
 * derived tables that depend on symbols record it to notice when they are stale. */
int hq__symbol_stamp(hq_db_t *db, int64_t *out);
/*
 * Streaming aggregation, the importer's fast path: instead of hq__aggregate_build() reading every
 * row back, feed each allocation event and each release event as you process them, in
 * nondecreasing time order (ties allowed), then call hq__agg_finish() after the rows are written
 * (inside the same transaction).  The tables come out identical to hq__aggregate_build()'s.
 * The aggregator finds each class's peak: the largest live total once all events of one
 * timestamp are in, at the earliest such timestamp; hq__agg_finish() writes meta
 * peak_heap_bytes/peak_heap_t.  Events out of time order are tolerated: finish() then falls back
 * to hq__aggregate_build().  Kinds that are not in heapql/internal/kinds.h are ignored.
 */
typedef struct hq__agg_s hq__agg_t;
typedef struct hq__agg_event_s {
  int kind;              /* HQ_KIND_* of the block */
  int64_t stack_id;      /* allocations.stack_id of the block (the allocation's stack) */
  int has_stack;         /* 0 when stack_id is NULL */
  uint64_t size;         /* allocations.size */
  int64_t t;             /* t_alloc for hq__agg_alloc, t_free for hq__agg_free */
  int64_t t_alloc;       /* free: when the block was allocated */
  int from_realloc;      /* alloc: realloc_from IS NOT NULL */
  int free_kind;         /* free: HQ_FREE_* (HQ_FREE_REALLOC for a moving realloc) */
  int64_t tid, alloc_seq, free_tid, free_seq; /* free: the block's columns (temporary test) */
} hq__agg_event_t;
int  hq__agg_begin(hq_db_t *db, hq__agg_t **out);
/* fn(arg, bytes, t) whenever a new heap peak is settled: called from inside hq__agg_alloc(),
 * hq__agg_free() or hq__agg_flush(), before the event being fed is counted. */
void hq__agg_on_heap_peak(hq__agg_t *agg, void (*fn)(void *arg, uint64_t bytes, int64_t t),
                          void *arg);
int  hq__agg_alloc(hq__agg_t *agg, const hq__agg_event_t *ev);
int  hq__agg_free(hq__agg_t *agg, const hq__agg_event_t *ev);
/* A heap block live at the end, of leak class leak_class ("definitely_lost", ...; a static
 * string): agg_leak_class counts it there instead of with the unclassified ones. */
void hq__agg_leak_class(hq__agg_t *agg, const char *leak_class, uint64_t size);
/* No more events at the current timestamp: settle its peaks now. */
void hq__agg_flush(hq__agg_t *agg);
/* The peak of class cls (hq_class_t) so far: HQ_OK, or HQ_ENOENT when the class has none. */
int  hq__agg_class_peak(const hq__agg_t *agg, int cls, uint64_t *out_bytes, int64_t *out_t);
/* Write the agg_* tables and free agg (also on failure). */
int  hq__agg_finish(hq__agg_t *agg);
/* Free agg without writing anything. */
void hq__agg_abort(hq__agg_t *agg);

#endif /* HQ_BASE_INT_H */
