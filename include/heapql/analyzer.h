/*
 * heapql/analyzer.h: open heapql databases, import raw traces, symbolize, report.
 *
 * A heapql database is an ordinary SQLite file whose schema is documented in docs/schema.md.
 * Handles are not thread-safe: use one hq_db_t per thread.  Every function that can fail returns
 * HQ_OK or a negative HQ_E* code; the detail is then available from hq_db_errmsg() where a
 * handle exists.
 *
 * API misuse has one answer everywhere: a NULL or closed handle, or a NULL required pointer
 * (out-parameter, path, output stream), returns HQ_EMISUSE (after one line on stderr naming
 * where it was caught).  The lists of return codes below leave it out.  HQ_EINVAL means a
 * value that is out of range (an unknown format, class or metric).
 */
#ifndef HEAPQL_ANALYZER_H
#define HEAPQL_ANALYZER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "heapql/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef HQ_API
#define HQ_API __attribute__((visibility("default")))
#endif

typedef struct hq_db_s hq_db_t;
struct sqlite3;

/* hq_db_open() flags. */
enum {
  HQ_DB_READONLY = 1 << 0, /* open an existing database read-only */
  HQ_DB_CREATE   = 1 << 1, /* create a new database with the current schema */
  HQ_DB_FORCE    = 1 << 2, /* with HQ_DB_CREATE: replace an existing file */
  HQ_DB_CHECK    = 1 << 3, /* check an existing database's integrity whatever its size */
  HQ_DB_NO_CHECK = 1 << 4, /* the caller has just written this database itself (heapql run
                            * opening what it imported): no integrity check, and writes are
                            * not synced (the import did not sync either, so a sync would
                            * only wait for the whole file to reach the disk) */
};

/* Databases up to this size are checked whole on every open (quick_check reads them all once:
 * well under a second).  Larger ones only with HQ_DB_CHECK (heapql symbolize). */
#define HQ_DB_CHECK_MAX_BYTES (256ll << 20)

/*
 * Open the heapql database at path.
 *
 * Without HQ_DB_CREATE the file must exist and be a heapql database of a schema version this
 * library reads, and whole: one of up to HQ_DB_CHECK_MAX_BYTES (or any size, with HQ_DB_CHECK)
 * passes SQLite's `PRAGMA quick_check` before it is used (unless HQ_DB_NO_CHECK).  With HQ_DB_CREATE a new database is
 * made; an existing file is an error (HQ_EEXIST) unless HQ_DB_FORCE is given.
 *
 * On success *out_db owns the connection; release it with hq_db_close().  On failure *out_db is
 * still set when a handle could be made, so hq_db_errmsg() can explain; close it as well.
 *
 * Returns HQ_OK; HQ_ENOENT (no such file); HQ_EEXIST (exists, no
 * FORCE); HQ_ESCHEMA (not SQLite, not heapql, or a newer schema); HQ_EFORMAT (damaged: the
 * message quotes quick_check); HQ_EDB (SQLite failed); HQ_ENOMEM.
 */
HQ_API int hq_db_open(const char *path, int flags, hq_db_t **out_db /* OUT */);

/* Close db and free it.  NULL is a harmless no-op. */
HQ_API void hq_db_close(hq_db_t *db);

/* The message for the last failure on db ("" if none).  Owned by db; valid until the next call
 * on db.  Never NULL, also for db == NULL. */
HQ_API const char *hq_db_errmsg(const hq_db_t *db);

/* The underlying SQLite connection, for queries of your own.  Owned by db. */
HQ_API struct sqlite3 *hq_db_sqlite(hq_db_t *db);

/* The path db was opened with.  Owned by db. */
HQ_API const char *hq_db_path(const hq_db_t *db);

/*
 * Read meta value `key` as text into buf (always NUL-terminated when cap > 0).
 * Returns HQ_OK, HQ_ENOENT (no such key or NULL value), HQ_EDB.
 */
HQ_API int hq_db_meta_get(hq_db_t *db, const char *key, char *buf, size_t cap);

/* Set meta value `key` (text or integer stored as given text).  Returns HQ_OK or HQ_EDB. */
HQ_API int hq_db_meta_set(hq_db_t *db, const char *key, const char *value);

/*
 * Name the program's own allocation wrappers, so reports name their callers as the sites.
 * A site is the first frame of an allocation's stack, from the allocator outwards (inline frames
 * included), that is not a wrapper; heapql knows the C++ standard library above operator new,
 * strdup/strndup, glib's g_malloc family, libiberty's xmalloc family, CPython's PyMem_ and
 * PyObject_ allocators and its own pool (docs/cli.md, "Sites").  patterns: comma- or
 * newline-separated, each "[fun:]GLOB" (the function, with or without its return type and
 * parameters), "src:GLOB" (the source file) or "lib:GLOB" (the module), fnmatch globs; "@FILE"
 * reads one pattern a line from FILE ('#' comments).  NULL or "" keeps only the built-in list.
 * Returns HQ_OK; HQ_EINVAL (an empty pattern: the message names it, or FILE:LINE); HQ_ENOENT or
 * HQ_EIO (a pattern file cannot be read); HQ_ENOMEM.
 */
HQ_API int hq_db_set_wrappers(hq_db_t *db, const char *patterns);

/* How many callers reports list under each site (default 3; 0 lists none).  Returns HQ_OK. */
HQ_API int hq_db_set_callers(hq_db_t *db, size_t n);

/* ---- import ---- */

typedef struct hq_import_opts_s {
  int force;          /* replace an existing database */
  int symbolize;      /* resolve frames with libdw after import */
  int progress;       /* show progress on stderr (only if stderr is a terminal) */
} hq_import_opts_t;

typedef struct hq_import_stats_s {
  uint64_t events;        /* records imported */
  uint64_t allocations;   /* allocation rows written */
  uint64_t stacks;        /* distinct stacks */
  int      complete;      /* 1 if the trace ended with the process's normal exit */
} hq_import_stats_t;

/*
 * Turn the raw trace at raw_path into the database db_path.  A trace cut short (process killed,
 * disk full) still gives a valid database, marked incomplete (meta 'complete' = 0).
 *
 * errbuf (may be NULL) receives a one-line reason on failure.
 * Returns HQ_OK; HQ_ENOENT (no raw file); HQ_EFORMAT (not a heapql trace, or unreadable
 * header); HQ_EEXIST (db exists and !opts->force); HQ_EDB; HQ_EIO; HQ_ENOMEM.
 */
HQ_API int hq_import(const char *raw_path, const char *db_path, const hq_import_opts_t *opts,
                     hq_import_stats_t *out_stats /* OUT, may be NULL */,
                     char *errbuf, size_t errcap);

/* ---- symbolization ---- */

/*
 * Where hq_symbolize looks for a module whose file is missing or was rebuilt since the run:
 * dirs is colon-separated; in each DIR, DIR/.build-id/xx/rest.debug, then a file of the module's
 * name up to four directories under DIR, is used when its build-id is the run's.  NULL or ""
 * looks nowhere else.  The setting lasts while db is open.  Returns HQ_OK or HQ_ENOMEM.
 */
HQ_API int hq_db_set_debug_dirs(hq_db_t *db, const char *dirs);

/*
 * Resolve every unresolved frame of db with libdw (function, file:line, inline chain, demangled
 * names), matching modules by build-id.  Idempotent: resolved frames are never resolved again.
 *
 * Does nothing when meta 'symbolized' is 1 (set at the end of every run); set it to 0 to retry
 * the frames earlier runs could not resolve (`heapql symbolize` does).  A frame's `offset` is
 * looked up minus one, since the recorded ip is a return address: the line is the call's.
 * Writes, in one transaction: frames.function/file/line of each physical frame (the innermost
 * inlined function there), one extra row (is_inline = 1, same ip) per function it was inlined
 * into, chained by inline_parent, and modules.file_status ('ok', 'missing', 'changed',
 * 'no-debug-info') of each module it looked at.  Modules whose path is empty or "[...]" (vdso)
 * are skipped.  Separate debug files are searched by build-id and .gnu_debuglink under
 * HEAPQL_DEBUGINFO_PATH (elfutils syntax, default ":.debug:/usr/lib/debug"); debuginfod only
 * with HEAPQL_DEBUGINFOD=1.  progress: a progress line on stderr when it is a terminal.
 *
 * Returns HQ_OK (also when some modules are missing: those are marked in modules.file_status),
 * HQ_EDB (SQLite failed, or the database is read-only; see hq_db_errmsg()), HQ_ENOMEM,
 * HQ_EMISUSE.  On failure nothing is written.
 */
HQ_API int hq_symbolize(hq_db_t *db, int progress);

/* ---- reports (hq_report*.c, hq_leaks.c, hq_top.c, hq_query.c) ----
 *
 * Every figure below is defined in docs/schema.md together with the query over the documented
 * views and tables that reproduces it.  The functions read the aggregate tables (agg_*) built at
 * import; when they are missing or stale (a database from an older heapql, or rows added since)
 * they are rebuilt first, in the database when it is writable, otherwise in the connection's
 * TEMP schema, so a read-only file works too (slower the first time).
 *
 * Strings in the structures are owned by the structure and released by its *_free function.
 */

/*
 * Build the aggregate tables (agg_*, docs/schema.md) and the sites of the stacks (stack_sites,
 * for db's wrapper patterns) if they are missing or stale, so your own queries can read them;
 * the functions below do this themselves.  Writes into db when it is
 * writable, else into the connection's TEMP schema.  Returns HQ_OK, HQ_EDB,
 * HQ_ESCHEMA, HQ_ENOMEM.
 */
HQ_API int hq_aggregate_update(hq_db_t *db);

/* Allocation classes: the kinds.class column.  "Heap" figures count HQ_CLASS_HEAP only. */
typedef enum hq_class_e {
  HQ_CLASS_HEAP = 0,   /* malloc family and operator new */
  HQ_CLASS_MMAP,       /* anonymous mmap */
  HQ_CLASS_POOL,       /* custom-allocator sub-allocations (annotate.h) */
  HQ_CLASS_DEVICE,     /* CUDA memory */
  HQ_CLASS_COUNT
} hq_class_t;

/* The class's name as in kinds.class ("heap", "mmap", "pool", "device"); NULL if out of range. */
HQ_API const char *hq_class_name(int cls);

/* The class named name, or -1 if there is none. */
HQ_API int hq_class_parse(const char *name);

/* What a site list is ranked by. */
typedef enum hq_metric_e {
  HQ_BY_COUNT = 0,     /* allocation calls */
  HQ_BY_BYTES,         /* bytes requested */
  HQ_BY_PEAK,          /* bytes live at the moment of peak heap (heap class only) */
  HQ_BY_TEMPORARY,     /* temporary allocations */
  HQ_BY_LEAKED         /* bytes never freed */
} hq_metric_t;

/* Output formats. */
typedef enum hq_format_e { HQ_FORMAT_TEXT = 0, HQ_FORMAT_JSON, HQ_FORMAT_CSV, HQ_FORMAT_HTML } hq_format_t;

/* A caller of a site: the next frame out (for a site without a name, the first named frame
 * further out: the entry point the allocation went through), with its share of the site. */
typedef struct hq_caller_s {
  char    *location;       /* as a site's location */
  uint64_t value;          /* the list's metric over the stacks through this caller */
  double   share;          /* value / the site's total, 0..1 */
} hq_caller_t;

/* One allocation site and class: the first frame of the stacks outside allocation wrappers
 * (hq_db_set_wrappers), with the figures of every stack that reaches it (a row of the `sites`
 * view; per stack, the rows of agg_stack / the callsites view add up to it). */
typedef struct hq_site_s {
  int64_t  stack_id;       /* the representative stack: the one with the most of the list's
                            * metric; -1 for allocations recorded without a stack */
  int      cls;            /* hq_class_t */
  uint64_t stacks;         /* distinct stacks that reach the site */
  char    *function, *file;   /* the site frame's; NULL when unknown */
  int64_t  line;           /* 0 when unknown */
  char    *module;         /* the site frame's module path, NULL when none */
  uint64_t offset;         /* in module */
  int      stale;          /* the module changed or went missing since the run (file_status) */
  hq_caller_t *callers;    /* the top callers by the list's metric (hq_db_set_callers) */
  size_t   n_callers;
  uint64_t allocations;    /* allocation calls (a realloc is one) */
  uint64_t bytes;          /* bytes requested */
  uint64_t frees;          /* free calls (not counting the old block of a moving realloc) */
  uint64_t reallocs;       /* of the allocations, realloc calls (realloc_from set) */
  uint64_t realloced;      /* blocks later passed to realloc (free_kind 'realloc') */
  uint64_t leaked_blocks, leaked_bytes;   /* never freed */
  uint64_t temporary;      /* temporary allocations (view `temporary`) */
  uint64_t max_size;       /* largest single request */
  uint64_t peak_blocks, peak_bytes;       /* live at the moment of peak heap (heap class) */
  char    *location;       /* the site as one line: "function file:line", "function (module)"
                            * without line information, "module+0xOFFSET" without a name */
} hq_site_t;

/* One source line (a row of agg_line / the by_line view). */
typedef struct hq_line_s {
  int      cls;            /* hq_class_t */
  char    *file;           /* NULL when the frame has no line information */
  int64_t  line;           /* 0 when unknown */
  char    *function;       /* NULL when unknown */
  char    *module;         /* set only when file is NULL: module path, or NULL */
  uint64_t offset;         /* with module: the frame's offset in it */
  char    *location;       /* "function file:line", or "function (module+0xOFF)"; the function
                            * and its space are left out when unknown */
  uint64_t allocations, bytes, leaked_blocks, leaked_bytes, temporary, peak_bytes;
} hq_line_t;

/* One frame of a stack, allocation site first (a row of the stack_frames view). */
typedef struct hq_frame_s {
  uint64_t ip;             /* return address as recorded */
  char    *function;       /* NULL until symbolized or when unknown */
  char    *file;           /* NULL when unknown */
  int64_t  line;           /* 0 when unknown */
  char    *module;         /* NULL when no module contains ip */
  uint64_t offset;         /* ip - module base, valid when module != NULL */
  int      inlined;        /* 1: this function was inlined into the next frame's */
  char    *text;           /* the frame as one line of stack_text */
  int      stale;          /* 1: its module changed or went missing since the run, so the frame
                              stays unresolved (modules.file_status 'changed' or 'missing') */
} hq_frame_t;

/* Size histogram bucket: sizes in [min_size, max_size]; bucket -1 holds size 0, bucket b >= 0
 * holds [2^b, 2^(b+1)). */
typedef struct hq_bucket_s {
  int      bucket;
  uint64_t min_size, max_size, allocations, bytes;
} hq_bucket_t;

/* Totals of one class (a row of agg_class). */
typedef struct hq_class_totals_s {
  uint64_t allocations, bytes, frees, reallocs, realloced, leaked_blocks, leaked_bytes, temporary;
  uint64_t peak_bytes;     /* largest live total of the class */
  int64_t  peak_t_ns;      /* earliest time it was reached */
  int      has_peak;       /* 0 when the class has no allocations */
} hq_class_totals_t;

typedef struct hq_blocks_bytes_s { uint64_t blocks, bytes; } hq_blocks_bytes_t;

/* A --recommend finding: a named pattern, the fix, and the sites that show it. */
typedef struct hq_finding_s {
  const char *name;        /* "hot_temporaries", "realloc_chain", "huge_buffer",
                            * "leak_growth"; static */
  const char *fix;         /* "pool", "reserve", "chunk or mmap", "leak"; static */
  char       *summary;     /* one sentence with the numbers */
  char       *advice;      /* what to change, in the user's words */
  hq_site_t  *evidence;    /* the sites that show the pattern, strongest first */
  size_t      n_evidence;
} hq_finding_t;

typedef struct hq_report_opts_s {
  size_t top;              /* entries per "top" list; 0 means 10 */
  int    recommend;        /* 1: compute findings (hq_report_t.findings) */
} hq_report_opts_t;

/* One live site of a device-failure snapshot. */
typedef struct hq_failure_site_s {
  int64_t  stack_id;
  char    *location;       /* the site, as hq_site_t.location; "(no stack)" without one */
  uint64_t blocks, bytes;  /* live on the failing call's device at that instant */
} hq_failure_site_t;

/* A device allocation that failed (a device_failures row) and what filled the device then. */
typedef struct hq_device_failure_s {
  int64_t  id;             /* device_failures.id: `heapql peak --at-failure ID` */
  int64_t  pid, t_ns;
  char    *api;            /* "cuMemAlloc_v2", ... */
  int      result;         /* the CUresult (2: out of memory) */
  uint64_t size;           /* bytes asked for */
  int      device;         /* -1 when unknown */
  uint64_t live_blocks, live_bytes;
  int64_t  stack_id;       /* the failing call's stack, 0 none */
  char    *location;       /* its site (NULL without a stack) */
  hq_failure_site_t *top;  /* the largest live sites then, by bytes */
  size_t   n_top;
} hq_device_failure_t;

/* What `heapql report` prints, in its order. */
typedef struct hq_report_s {
  /* what ran (meta) */
  char    *path;           /* the database */
  char    *program, *command_line, *host, *heapql_version;   /* NULL when not recorded */
  int64_t  pid;            /* 0 when not recorded */
  int      has_exit_status;
  int64_t  exit_status;
  int      complete;       /* meta 'complete' = 1 */
  char    *incomplete_reason;  /* NULL when complete or not recorded */
  int64_t  duration_ns;
  uint64_t dropped_events;
  int      symbolized;     /* meta 'symbolized' = 1 */
  char    *source_root;    /* the directory of the program's sources, text paths are relative
                            * to it; NULL when unknown */
  char    *stale_modules;  /* "path (changed), path (missing)": modules whose file changed or
                            * went missing since the run, their frames may be wrong; NULL if none */
  char    *python_version;   /* "3.11" when the program was a CPython interpreter, else NULL */
  char    *python_allocator; /* "pymalloc", "malloc" or "debug" (PYTHONMALLOC at start); NULL */
  int      python_frames;    /* 1: stacks carry its Python frames (docs/python.md) */
  /* peaks; in a merged database they (and the metrics) describe the process peak_pid, the one
   * with the largest heap peak (meta 'peak_heap_pid'), while counts span every process */
  int      has_peak_pid;
  int64_t  peak_pid;
  uint64_t peak_heap_bytes;   int64_t peak_heap_t_ns;
  uint64_t peak_mmap_bytes;   int64_t peak_mmap_t_ns;
  uint64_t peak_device_bytes; int64_t peak_device_t_ns;
  /* the device memory the driver counted for the process (NVML, sampled by heapql run: CUDA
   * context, modules and libraries' workspaces included); has_device_driver 0 without NVML */
  int      has_device_driver;
  uint64_t peak_device_driver_bytes; int64_t peak_device_driver_t_ns;
  int      has_rss;        /* 0 when no sample carries an RSS */
  uint64_t peak_rss_bytes;    int64_t peak_rss_t_ns;
  /* totals per class; the heap's are the headline figures */
  hq_class_totals_t classes[HQ_CLASS_COUNT];
  uint64_t allocations_count, allocations_bytes, frees_count, reallocs_count;
  /* leaks: heap blocks never freed */
  uint64_t leak_blocks, leak_bytes;
  int      leaks_classified;   /* some heap leak has a leak_class; the four below are valid */
  hq_blocks_bytes_t definitely_lost, indirectly_lost, possibly_lost, still_reachable;
  hq_blocks_bytes_t unclassified;  /* heap leaks whose leak_class is NULL */
  char    *leak_check;     /* meta 'leak_check': "done", or why not ("not run: ..."); NULL when
                            * not recorded (a merged database, an older trace) */
  int64_t  leak_check_unanswered; /* threads that did not stop for the check: their whole stacks
                                   * were scanned as roots (meta leak_check_threads_unanswered) */
  /* temporary allocations (heap) */
  uint64_t temporary_count;
  /* headline metrics (docs/schema.md "Definitions") */
  size_t   n_samples;
  int      trend_ok;       /* enough samples (10) over a long enough run (100 ms) for trends:
                            * growth rates and the efficiency score are given only then */
  int      has_growth_rate;  double growth_rate_bytes_per_s;  double growth_r2;
  /* growth the teardown does not hide (docs/schema.md "Definitions") */
  int      has_leak_growth;  double leak_growth_rate_bytes_per_s;  double leak_growth_r2;
  int      has_live_growth;  double live_growth_rate_bytes_per_s;  double live_growth_r2;
  int64_t  teardown_t_ns;  /* when the teardown began; -1 when there is none */
  int      has_fragmentation_ratio;  double fragmentation_ratio;
  double   efficiency_score;       /* 0..100, one decimal */
  /* top lists (heap class), at most opts.top entries each */
  hq_site_t   *top_leaks;     size_t n_top_leaks;      /* by leaked bytes, every class */
  hq_site_t   *top_count;     size_t n_top_count;
  hq_site_t   *top_bytes;     size_t n_top_bytes;
  hq_site_t   *top_peak;      size_t n_top_peak;
  hq_site_t   *top_temporary; size_t n_top_temporary;
  hq_line_t   *top_lines;     size_t n_top_lines;      /* by bytes */
  hq_bucket_t *histogram;     size_t n_histogram;      /* heap, by bucket */
  /* device allocations that failed, in time order (at most opts.top), and how many in all */
  hq_device_failure_t *failures; size_t n_failures;
  uint64_t failures_total;
  /* --recommend */
  int           recommended;  /* findings were computed (opts.recommend) */
  hq_finding_t *findings;     size_t n_findings;
} hq_report_t;

/*
 * Compute the report of db.  opts may be NULL (defaults).  On success *out_report is a new
 * report owned by the caller (hq_report_free()).
 * Returns HQ_OK; HQ_ESCHEMA (a damaged database); HQ_EDB;
 * HQ_ENOMEM.
 */
HQ_API int hq_report_compute(hq_db_t *db, const hq_report_opts_t *opts,
                             hq_report_t **out_report /* OUT */);

/* Free a report.  NULL is a no-op. */
HQ_API void hq_report_free(hq_report_t *report);

/* Print the report as text (the sections of `heapql report`) or as one JSON object (the keys
 * of DESIGN §5 and docs/cli.md).  Returns HQ_OK, HQ_EIO (write
 * error on out). */
HQ_API int hq_report_write_text(const hq_report_t *report, FILE *out);
HQ_API int hq_report_write_json(const hq_report_t *report, FILE *out);

/*
 * The top `limit` sites of class cls (hq_class_t) ranked by metric, largest first, ties by
 * stack_id; sites whose metric is 0 are left out.  HQ_BY_PEAK is defined for the heap class
 * only (other classes give no sites).  *out_sites (free with hq_sites_free()) may be NULL when
 * *out_n is 0.  Returns HQ_OK, HQ_EINVAL (bad metric or class), HQ_EDB, HQ_ENOMEM.
 */
HQ_API int hq_sites_top(hq_db_t *db, hq_metric_t metric, int cls, size_t limit,
                        hq_site_t **out_sites /* OUT */, size_t *out_n /* OUT */);
HQ_API void hq_sites_free(hq_site_t *sites, size_t n);

/*
 * The top `limit` source lines of class cls by metric (HQ_BY_COUNT, HQ_BY_BYTES, HQ_BY_PEAK,
 * HQ_BY_TEMPORARY, HQ_BY_LEAKED), largest first; lines whose metric is 0 are left out.
 * Free with hq_lines_free().  Returns HQ_OK, HQ_EINVAL (bad metric or class), HQ_EDB, HQ_ENOMEM.
 */
HQ_API int hq_lines_top(hq_db_t *db, hq_metric_t metric, int cls, size_t limit,
                        hq_line_t **out_lines /* OUT */, size_t *out_n /* OUT */);
HQ_API void hq_lines_free(hq_line_t *lines, size_t n);

/*
 * The frames of stack stack_id, allocation site first, inline frames expanded (the rows of
 * `SELECT * FROM stack_frames WHERE stack_id = ?`).  An unknown stack gives 0 frames.
 * Free with hq_frames_free().  Returns HQ_OK, HQ_EDB, HQ_ENOMEM.
 */
HQ_API int hq_stack_frames(hq_db_t *db, int64_t stack_id, hq_frame_t **out_frames /* OUT */,
                           size_t *out_n /* OUT */);
HQ_API void hq_frames_free(hq_frame_t *frames, size_t n);

/*
 * `heapql leaks`: leaked blocks and bytes of each class, the leak classes when known, then the
 * top `limit` leak sites of every class by leaked bytes, each with its whole stack.
 * format: HQ_FORMAT_TEXT or HQ_FORMAT_JSON.  Returns HQ_OK, HQ_EINVAL (bad format, metric or class),
 * HQ_EDB, HQ_ESCHEMA, HQ_ENOMEM, HQ_EIO (write error).
 */
HQ_API int hq_leaks_write(hq_db_t *db, size_t limit, hq_format_t format, FILE *out);

/*
 * `heapql top`: the top `limit` sites (or source lines when by_line is 1) of class cls by
 * metric, as text or JSON.  Returns as hq_leaks_write().
 */
HQ_API int hq_top_write(hq_db_t *db, hq_metric_t metric, int by_line, int cls, size_t limit,
                        hq_format_t format, FILE *out);

/*
 * `heapql peak`: peak heap, mmap, device memory and RSS with their times, then the top `limit`
 * stacks live at the moment of peak heap, each with its whole stack.  Returns as
 * hq_leaks_write().
 */
HQ_API int hq_peak_write(hq_db_t *db, size_t limit, hq_format_t format, FILE *out);

/*
 * `heapql peak --at-failure ID`: the device allocation failure ID (device_failures.id) and the
 * `limit` largest sites live on its device at that instant, each with its stack.
 * Returns HQ_OK; HQ_ENOENT (no failure ID; a database without device failures has none);
 * HQ_EINVAL (format); HQ_EDB; HQ_ENOMEM; HQ_EIO (write error).
 */
HQ_API int hq_failure_write(hq_db_t *db, int64_t id, size_t limit, hq_format_t format, FILE *out);

/*
 * `heapql regions`: the annotated regions (table `regions`: annotate.h, the kernels) grouped by
 * path (pid and the names from the outermost region in), as a tree, each path with its number
 * of instances, their summed time, and per allocation class (heap, pool, device, mmap) used
 * inside: the allocations and bytes made inside an instance or a region nested in it (summed),
 * the highest instance's peak of those bytes still live while it was open, and the bytes of
 * them still live when each instance closed (summed, "kept").  Then every counter (table
 * `counters`) with its samples, first, last, min and max value.  docs/cli.md shows the layout
 * and docs/schema.md the SQL of each figure.  format: HQ_FORMAT_TEXT or HQ_FORMAT_JSON.
 * Returns HQ_OK; HQ_EINVAL (another format); HQ_MISUSE_BKPT (NULL db or out); HQ_EDB;
 * HQ_ENOMEM; HQ_EIO (write error on out).
 */
HQ_API int hq_regions_write(hq_db_t *db, hq_format_t format, FILE *out);

/*
 * `heapql query`: run one read-only SQL statement on db and print its rows: HQ_FORMAT_TEXT (a
 * header line and '|'-separated rows, as the sqlite3 shell's list mode), HQ_FORMAT_CSV (RFC 4180,
 * with a header) or HQ_FORMAT_JSON (an array of objects keyed by column name).  Statements that
 * would write (INSERT, UPDATE, DELETE, CREATE, DROP, ATTACH, PRAGMA with a value, ...) are refused
 * before they run, as is more than one statement.
 * Returns HQ_OK; HQ_EINVAL (a write, several statements, a syntax error, an unknown table, view
 * or column: the message is in hq_db_errmsg()); HQ_ESCHEMA (damaged database); HQ_EDB;
 * HQ_EIO (write error on out).
 */
HQ_API int hq_query_run(hq_db_t *db, const char *sql, hq_format_t format, FILE *out);

/* ---- pictures: flame graphs and timelines (hq_flame.c, hq_timeline.c) ---- */

/* What a flame graph's widths measure. */
typedef enum {
  HQ_FLAME_ALLOCATED = 0, /* bytes requested by every allocation call */
  HQ_FLAME_LEAKED    = 1, /* bytes of blocks never freed */
  HQ_FLAME_PEAK      = 2, /* bytes live at the class's peak (per process) */
  HQ_FLAME_COUNT     = 3, /* number of allocation calls */
} hq_flame_metric_t;

typedef struct hq_flame_opts_s {
  int metric;               /* an hq_flame_metric_t */
  const char *kind_class;   /* 'heap' (also when NULL), 'mmap', 'pool', 'device' or 'all' */
  int64_t pid;              /* only this process; 0 = every process in the database */
  double min_fraction;      /* SVG: frames narrower than this share of the total are merged
                               into one "[N small]" box per parent; 0 = 0.001 */
  int max_nodes;            /* SVG: most boxes drawn (min_fraction grows until it fits);
                               0 = 20000 */
  int width;                /* SVG width in pixels; 0 = 1200 */
  const char *title;        /* SVG title; NULL = "<metric> <class> bytes: <program>" */
} hq_flame_opts_t;

/*
 * Write the flame graph of db in the folded ("collapsed") stack format read by flamegraph.pl
 * and speedscope: one line per distinct stack, frames root first separated by ';', one space,
 * then the value (bytes, or calls for HQ_FLAME_COUNT).  Stacks whose value is 0 are left out.
 * A frame reads "function (file:line)" with the file's base name, "function" when no line is
 * known, "module+0xoffset" (module base name) when unsymbolized, "0xADDRESS" without a module.
 * Inline frames are expanded: a function inlined into its caller appears as its own frame above
 * the caller.  ';' inside a name is written as ':'.  Lines come in a fixed order: depth first,
 * siblings sorted by frame name (bytewise), a stack before the stacks that extend it.
 * opts may be NULL (allocated heap bytes).
 *
 * Returns HQ_OK; HQ_EINVAL (bad metric or class); HQ_EDB (query failed; see hq_db_errmsg);
 * HQ_EIO (write to out failed); HQ_ENOMEM.
 */
HQ_API int hq_flame_write_folded(hq_db_t *db, const hq_flame_opts_t *opts, FILE *out);

/*
 * Write the flame graph as one self-contained SVG document (no external resources; embedded
 * JavaScript zooms into a frame on click and shows a frame's figures on hover; without
 * scripts it is still a complete static picture).  Stacks are aggregated first; frames narrower
 * than opts->min_fraction of the total are merged, and at most opts->max_nodes boxes are drawn.
 * Returns as hq_flame_write_folded().
 */
HQ_API int hq_flame_write_svg(hq_db_t *db, const hq_flame_opts_t *opts, FILE *out);

typedef struct hq_timeline_opts_s {
  int64_t pid;              /* the process to draw; 0 = meta 'pid' if it has samples, else the
                               lowest pid in samples */
  int max_points;           /* most points per series (min/max kept per time bucket);
                               0 = 3000 */
  int width, height;        /* pixels; 0 = 1200 x 500 */
  const char *title;        /* NULL = "Memory over time: <program> (pid N)" */
} hq_timeline_opts_t;

/*
 * Write live heap, anonymous mmap, device memory and RSS over time (from the samples table) as
 * one self-contained SVG document, with axes in seconds and bytes (binary units), a legend
 * with each series' maximum, and the heap peak marked and labelled ("peak heap 1.50 MiB at
 * 2.31 s"; the exact figure from meta 'peak_heap_bytes'/'peak_heap_t' when the database holds
 * one process, else the largest sample).  Series that are NULL or zero throughout are left
 * out.  A database without samples gives a valid SVG saying so.
 *
 * Returns HQ_OK; HQ_ENOENT (opts->pid has no samples); HQ_EDB;
 * HQ_EIO; HQ_ENOMEM.
 */
HQ_API int hq_timeline_write_svg(hq_db_t *db, const hq_timeline_opts_t *opts, FILE *out);

/* ---- many runs: diff, compare, merge (hq_diff.c, hq_merge.c) ---- */

/* formats: HQ_FORMAT_TEXT, HQ_FORMAT_JSON (hq_format_t, in the reports section) */

/* Conditions that make hq_diff() report failure (bit set). */
enum {
  HQ_DIFF_FAIL_NEW_LEAKS   = 1 << 0, /* a site leaks in NEW that did not leak in BASE */
  HQ_DIFF_FAIL_LEAK_GROWTH = 1 << 1, /* NEW leaks more bytes in total than BASE */
  HQ_DIFF_FAIL_PEAK_GROWTH = 1 << 2, /* NEW's peak heap > BASE's * (1 + peak_growth_pct/100) */
};

typedef struct hq_diff_opts_s {
  int format;               /* HQ_FORMAT_TEXT or HQ_FORMAT_JSON */
  int fail_on;              /* HQ_DIFF_FAIL_* bits */
  double peak_growth_pct;   /* threshold for HQ_DIFF_FAIL_PEAK_GROWTH; e.g. 10 */
  int limit;                /* most rows per list; 0 = 20, negative = all */
  const char *kind_class;   /* which allocations: 'heap' (also when NULL), 'mmap', 'pool',
                               'device' or 'all' */
} hq_diff_opts_t;

typedef struct hq_diff_result_s {
  uint64_t new_leak_sites;     /* sites leaking in NEW, not in BASE */
  uint64_t new_leak_bytes;
  uint64_t fixed_leak_sites;   /* sites leaking in BASE, not in NEW */
  uint64_t grown_leak_sites;   /* leaking in both, more bytes in NEW */
  uint64_t grown_peak_sites;   /* more bytes live at peak in NEW */
  uint64_t changed_count_sites;/* allocation calls differ */
  int64_t  leaked_bytes_base, leaked_bytes_new;
  int64_t  peak_bytes_base, peak_bytes_new;
  int      failed;             /* HQ_DIFF_FAIL_* bits of opts->fail_on that hold */
} hq_diff_result_t;

/*
 * Compare two runs site by site and write the differences to out (text or JSON).  A site is a
 * distinct symbolized stack, inline frames included.  Sites are matched first by the chain of
 * "function (file:line)" of their frames, then, for those left unmatched on both sides, by the
 * chain of "function (file base name)" alone, each at most once: rebuilt binaries, moved lines
 * and other load addresses still match, and a new leak beside an old one in the same function
 * does not hide behind it.  An unsymbolized frame matches by "module+0xoffset".  Lists: new leaks, grown leaks,
 * fixed leaks, grown peak contributors (bytes live at the moment of peak), changed allocation
 * counts, each largest change first.  The conditions in opts->fail_on are evaluated and
 * reported; out_result (may be NULL) receives the figures.  opts may be NULL.
 *
 * Returns HQ_OK (whether or not a condition holds: see out_result->failed); HQ_EINVAL (bad class
 * or format);
 * HQ_EDB (the message is on the handle that failed); HQ_EIO; HQ_ENOMEM.
 */
HQ_API int hq_diff(hq_db_t *base, hq_db_t *new_db, const hq_diff_opts_t *opts, FILE *out,
                   hq_diff_result_t *out_result /* OUT, may be NULL */);

/* ---- the leak gate (heapql gate, docs/cli.md) ---- */

typedef enum hq_gate_format_e {
  HQ_GATE_TEXT = 0, HQ_GATE_JSON, HQ_GATE_JUNIT, HQ_GATE_SARIF, HQ_GATE_GITHUB
} hq_gate_format_t;

/* The leak classes, in the order hq_gate_opts_t.max_blocks lists them. */
enum { HQ_GATE_DEFINITELY, HQ_GATE_INDIRECTLY, HQ_GATE_POSSIBLY, HQ_GATE_REACHABLE, HQ_GATE_CLASSES };

typedef struct hq_gate_opts_s {
  int64_t max_blocks[HQ_GATE_CLASSES]; /* blocks of each class the gate accepts; -1: any number
                                          (hq_gate_opts_init: 0, 0, -1, -1) */
  int64_t max_leaked_bytes;   /* bytes definitely + indirectly lost; -1: any */
  int64_t max_leaks;          /* leak records (distinct stacks) definitely or indirectly lost */
  int64_t max_peak;           /* peak heap bytes of any process; -1: any */
  int64_t max_allocations;    /* heap allocation calls, all processes together; -1: any */
  const char *budgets;        /* "GLOB=BYTES[,GLOB=BYTES...]": the sites whose function matches
                                 GLOB may leak up to BYTES together; NULL: none */
  const char *const *suppressions; /* LeakSanitizer suppression files (leak:PATTERN lines) */
  size_t n_suppressions;
  int no_embedded;            /* ignore the program's __lsan_default_suppressions */
  const char *baseline;       /* a baseline file (--update-baseline writes one); NULL: none */
  const char *only;           /* gate only the processes whose program matches this glob */
  int fail_unclassified;      /* blocks no leak check classified (a killed process) fail too */
} hq_gate_opts_t;

/* The defaults: definitely and indirectly lost must be 0 blocks, nothing else is limited. */
HQ_API void hq_gate_opts_init(hq_gate_opts_t *opts);

typedef struct hq_gate_s hq_gate_t;  /* a verdict and what it rests on */

/*
 * Gate the leaks (and peaks, and allocation counts) of the processes in dbs[0..n) together:
 * leaks are the heap blocks each process still held at exit, one record per distinct stack and
 * leak class, located at their site (docs/schema.md, "Site").  Suppressions are applied first,
 * then the baseline (records matched by stack fingerprint, lines first, function names for the
 * rest, each entry at most once), then the budgets; what is left counts against the limits.
 * On success *out holds the verdict (hq_gate_failed) for hq_gate_write; free with hq_gate_free.
 * Returns HQ_OK (passed or failed alike); HQ_EFORMAT (a malformed suppression, baseline or
 * budget: err says FILE:LINE and why); HQ_ENOENT or HQ_EIO (a file cannot be read); HQ_EINVAL
 * (n == 0, nothing left after `only`); HQ_EDB; HQ_ENOMEM.
 */
HQ_API int hq_gate(hq_db_t *const *dbs, size_t n, const hq_gate_opts_t *opts, hq_gate_t **out,
                   char *err, size_t errcap);
/* Read opts' suppression and baseline files and budgets as hq_gate would, without a database:
 * bad input found before a program runs.  Returns HQ_OK, HQ_EFORMAT, HQ_ENOENT, HQ_EIO (err says
 * which file and line), HQ_ENOMEM. */
HQ_API int hq_gate_check(const hq_gate_opts_t *opts, char *err, size_t errcap);
/* 1 when the gate failed, 0 when it passed. */
HQ_API int hq_gate_failed(const hq_gate_t *g);
/* Write the verdict: text (for people), JSON, JUnit XML, SARIF 2.1.0, or GitHub Actions
 * workflow commands.  Returns HQ_OK, HQ_EINVAL (format), HQ_EIO. */
HQ_API int hq_gate_write(const hq_gate_t *g, hq_gate_format_t format, FILE *out);
/* Write a baseline that accepts every leak record the gate saw (its classes of any kind). */
HQ_API int hq_gate_write_baseline(const hq_gate_t *g, FILE *out);
HQ_API void hq_gate_free(hq_gate_t *g);

/*
 * Compare n runs, one row each (`heapql compare`): labelled by meta.label (`heapql run
 * --label`), else by the command-line options a run has that not every run has ("plain" for one with none of its own; the database names
 * (names[i], else the path) when every run ran the same command; a program's name first when the
 * runs ran different programs), with peak heap, peak device
 * memory, peak RSS, heap allocations and bytes allocated, wall time and the loss the run
 * reported (the last value of its counter "loss"; none when it has none), each also as a ratio
 * to the first run.  format: HQ_FORMAT_TEXT (an aligned table), HQ_FORMAT_JSON (an array of
 * objects: database, label, command_line, the figures, ratios, and headline as in `heapql diff
 * --format json`) or HQ_FORMAT_HTML (a page with the table and the runs' heap timelines
 * overlaid).  docs/cli.md shows each.
 * Returns HQ_OK; HQ_EINVAL (n == 0, another format); HQ_EDB; HQ_EIO; HQ_ENOMEM.
 */
HQ_API int hq_compare(hq_db_t *const *dbs, const char *const *names, size_t n, int format,
                      FILE *out);

typedef struct hq_merge_opts_s {
  int force;                /* replace an existing output */
  int progress;             /* progress line on stderr (only when stderr is a terminal) */
} hq_merge_opts_t;

typedef struct hq_merge_stats_s {
  uint64_t inputs;          /* databases merged */
  uint64_t processes;       /* rows of the merged processes table */
  uint64_t allocations;     /* allocation rows copied */
  uint64_t stacks, frames;  /* stack nodes and frames copied */
  uint64_t elapsed_ns;
} hq_merge_stats_t;

/*
 * Combine the databases of one job's processes (fork children, exec'd tools, MPI ranks,
 * workers) into one new database at out_path, so one query spans them all.  Every table keeps
 * its pid column (filled from the input's meta 'pid' where a row has none); ids are renumbered
 * by per-input offsets and every reference (frames, modules, stacks, allocations, regions,
 * CUDA tables) is remapped; the processes table gets one row per process (copied, or made from
 * the input's meta); meta describes the merge (merged_from, processes, summed counters, the root
 * process's program and command line, the largest process peak with peak_heap_pid).  The output
 * is written to a temporary file beside out_path (mode 0600) and renamed only when complete, so a failed
 * merge leaves no half database and an existing file survives until success.
 *
 * Inputs must be heapql databases with distinct pids, none of them out_path.  errbuf (may be
 * NULL) receives a one-line reason on failure.
 * Returns HQ_OK; HQ_EINVAL (no inputs, an input twice, a pid in two inputs, output is an input);
 * HQ_ENOENT; HQ_ESCHEMA (an input is not a heapql database this version reads); HQ_EEXIST
 * (out_path exists and !opts->force); HQ_EIO (cannot write the output); HQ_EDB; HQ_ENOMEM.
 */
HQ_API int hq_merge(const char *const *inputs, size_t n, const char *out_path,
                    const hq_merge_opts_t *opts, hq_merge_stats_t *out_stats /* OUT, may be NULL */,
                    char *errbuf, size_t errcap);

#ifdef __cplusplus
}
#endif
#endif /* HEAPQL_ANALYZER_H */
