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

#ifdef __cplusplus
}
#endif
#endif /* HEAPQL_ANALYZER_H */
