/*
 * heapql/analyzer.h: open heapql databases, import raw traces, symbolize, report.
 *
 * A heapql database is an ordinary SQLite file whose schema is documented in docs/schema.md.
 * Handles are not thread-safe: use one hq_db_t per thread.  Every function that can fail returns
 * HQ_OK or a negative HQ_E* code; the detail is then available from hq_db_errmsg() where a
 * handle exists.
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
};

/*
 * Open the heapql database at path.
 *
 * Without HQ_DB_CREATE the file must exist and be a heapql database of a schema version this
 * library reads.  With HQ_DB_CREATE a new database is made; an existing file is an error
 * (HQ_EEXIST) unless HQ_DB_FORCE is given.
 *
 * On success *out_db owns the connection; release it with hq_db_close().  On failure *out_db is
 * still set when a handle could be made, so hq_db_errmsg() can explain; close it as well.
 *
 * Returns HQ_OK; HQ_EINVAL (NULL argument); HQ_ENOENT (no such file); HQ_EEXIST (exists, no
 * FORCE); HQ_ESCHEMA (not SQLite, not heapql, or a newer schema); HQ_EDB (SQLite failed);
 * HQ_ENOMEM.
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
 * Returns HQ_OK, HQ_ENOENT (no such key or NULL value), HQ_EDB, HQ_EINVAL.
 */
HQ_API int hq_db_meta_get(hq_db_t *db, const char *key, char *buf, size_t cap);

/* Set meta value `key` (text or integer stored as given text).  Returns HQ_OK or HQ_EDB. */
HQ_API int hq_db_meta_set(hq_db_t *db, const char *key, const char *value);

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
 * HQ_EMISUSE (db is not an open handle).  On failure nothing is written.
 */
HQ_API int hq_symbolize(hq_db_t *db, int progress);

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
 * Returns HQ_OK; HQ_EINVAL (NULL db or out); HQ_ENOENT (opts->pid has no samples); HQ_EDB;
 * HQ_EIO; HQ_ENOMEM.
 */
HQ_API int hq_timeline_write_svg(hq_db_t *db, const hq_timeline_opts_t *opts, FILE *out);

/* ---- many runs: diff, compare, merge (hq_diff.c, hq_merge.c) ---- */

enum { HQ_FORMAT_TEXT = 0, HQ_FORMAT_JSON = 1 };

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
 * Compare two runs site by site and write the differences to out (text or JSON).  Sites are
 * matched by their symbolized stack: the chain of "function (file base name)" of every frame,
 * inline frames included, so rebuilt binaries, moved lines and other load addresses still
 * match; an unsymbolized frame matches by "module+0xoffset".  Lists: new leaks, grown leaks,
 * fixed leaks, grown peak contributors (bytes live at the moment of peak), changed allocation
 * counts, each largest change first.  The conditions in opts->fail_on are evaluated and
 * reported; out_result (may be NULL) receives the figures.  opts may be NULL.
 *
 * Returns HQ_OK (whether or not a condition holds: see out_result->failed); HQ_EINVAL;
 * HQ_EDB (the message is on the handle that failed); HQ_EIO; HQ_ENOMEM.
 */
HQ_API int hq_diff(hq_db_t *base, hq_db_t *new_db, const hq_diff_opts_t *opts, FILE *out,
                   hq_diff_result_t *out_result /* OUT, may be NULL */);

/*
 * Write the headline figures of n runs side by side (one column per database, labelled
 * names[i] or the database path when names is NULL): program, processes, duration, heap
 * allocation calls and bytes, frees, peak heap and when, peak device memory, peak RSS, leaked
 * blocks and bytes, temporary allocations.  format: HQ_FORMAT_TEXT (an aligned table) or
 * HQ_FORMAT_JSON (an array of objects, keys as in `heapql report --format json`).
 * Returns HQ_OK; HQ_EINVAL (n == 0, NULL db); HQ_EDB; HQ_EIO; HQ_ENOMEM.
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
 * is written beside out_path as "<out_path>.partial" and renamed only when complete, so a failed
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
