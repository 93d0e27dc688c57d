/*
 * hq_db.c: opening heapql databases, the schema-version check, the per-handle error message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base_int.h"
#include "hq_schema_sql.h"

int hq__db_seterr(hq_db_t *db, int rc, const char *fmt, ...) {
  va_list ap;
  if (!db) return rc;
  va_start(ap, fmt);
  vsnprintf(db->errmsg, sizeof db->errmsg, fmt, ap);
  va_end(ap);
  return rc;
}

/* SQLite's primary code as heapql's: a damaged file is bad input, a full disk or a failing
 * device an I/O error, the rest the database's own failure. */
static int code_of(int sqlite_code) {
  switch (sqlite_code & 0xff) {
  case SQLITE_NOTADB: case SQLITE_CORRUPT: return HQ_ESCHEMA;
  case SQLITE_FULL: case SQLITE_IOERR: case SQLITE_CANTOPEN: case SQLITE_READONLY: return HQ_EIO;
  case SQLITE_NOMEM: return HQ_ENOMEM;
  default: return HQ_EDB;
  }
}

int hq__db_sqlerr(hq_db_t *db, const char *what) {
  int code = sqlite3_errcode(db->sql);
  int rc = code_of(code);
  return hq__db_seterr(db, rc, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->sql));
}

int hq__db_exec(hq_db_t *db, const char *sql) {
  char *err = NULL;
  int code = sqlite3_exec(db->sql, sql, NULL, NULL, &err);
  if (code != SQLITE_OK) {
    int rc = code_of(code);
    hq__db_seterr(db, rc, "%s: %s", db->path, err ? err : sqlite3_errstr(code));
    sqlite3_free(err);
    return rc;
  }
  return HQ_OK;
}

int hq__db_prepare(hq_db_t *db, const char *sql, sqlite3_stmt **out_stmt) {
  if (sqlite3_prepare_v2(db->sql, sql, -1, out_stmt, NULL) != SQLITE_OK) {
    *out_stmt = NULL;
    return hq__db_sqlerr(db, "prepare");
  }
  return HQ_OK;
}

int hq__db_each(hq_db_t *db, const char *sql, const char *what,
                int (*row)(sqlite3_stmt *st, void *ctx), void *ctx) {
  sqlite3_stmt *st = NULL;
  int rc = hq__db_prepare(db, sql, &st), step;
  if (rc) return rc;
  while ((step = sqlite3_step(st)) == SQLITE_ROW)
    if ((rc = row(st, ctx))) break;
  if (!rc && step != SQLITE_DONE) rc = hq__db_seterr(db, HQ_EDB, "reading %s: %s", what,
                                                      sqlite3_errmsg(db->sql));
  sqlite3_finalize(st);
  return rc;
}

int hq__savepoint_end(hq_db_t *db, const char *name, int rc) {
  char sql[128];
  if (rc == HQ_OK) {
    snprintf(sql, sizeof sql, "RELEASE %s", name);
    return hq__db_exec(db, sql);
  }
  {
    char keep[sizeof db->errmsg];
    memcpy(keep, db->errmsg, sizeof keep);
    snprintf(sql, sizeof sql, "ROLLBACK TO %s; RELEASE %s", name, name);
    sqlite3_exec(db->sql, sql, NULL, NULL, NULL);
    memcpy(db->errmsg, keep, sizeof keep);
  }
  return rc;
}

char *hq__col_strdup(sqlite3_stmt *st, int col) {
  const unsigned char *t = sqlite3_column_text(st, col);
  return t ? strdup((const char *)t) : NULL;
}

/* ---- meta: every read goes through meta_lookup ---- */

/* Step the lookup of key: HQ_OK with the value in column 0 of *out_st (caller finalizes),
 * HQ_ENOENT when absent or NULL, or an error. */
static int meta_lookup(hq_db_t *db, const char *key, sqlite3_stmt **out_st) {
  int rc = hq__db_prepare(db, "SELECT value FROM meta WHERE key = ?1", out_st), step;
  if (rc) return rc;
  sqlite3_bind_text(*out_st, 1, key, -1, SQLITE_STATIC);
  step = sqlite3_step(*out_st);
  if (step == SQLITE_ROW && sqlite3_column_type(*out_st, 0) != SQLITE_NULL) return HQ_OK;
  if (step == SQLITE_ROW || step == SQLITE_DONE) return HQ_ENOENT;
  return hq__db_sqlerr(db, "reading meta");
}

int hq__meta_int(hq_db_t *db, const char *key, int64_t *out) {
  sqlite3_stmt *st = NULL;
  int rc = meta_lookup(db, key, &st);
  if (rc == HQ_OK) *out = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return rc;
}

int hq__meta_int_opt(hq_db_t *db, const char *key, int64_t *out, int *out_has) {
  int rc = hq__meta_int(db, key, out);
  if (out_has) *out_has = rc == HQ_OK;
  return rc == HQ_ENOENT ? HQ_OK : rc;
}

int64_t hq__meta_int_or(hq_db_t *db, const char *key, int64_t fallback) {
  int64_t v;
  return hq__meta_int(db, key, &v) == HQ_OK ? v : fallback;
}

int hq__meta_text(hq_db_t *db, const char *key, char **out) {
  sqlite3_stmt *st = NULL;
  int rc = meta_lookup(db, key, &st);
  *out = NULL;
  if (rc == HQ_OK && !(*out = hq__col_strdup(st, 0))) rc = HQ_ENOMEM;
  sqlite3_finalize(st);
  return rc == HQ_ENOENT ? HQ_OK : rc;
}

static int meta_set(hq_db_t *db, const char *key, const char *text, const int64_t *num) {
  sqlite3_stmt *st = NULL;
  int rc = hq__db_prepare(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", &st);
  if (rc) return rc;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  if (num) sqlite3_bind_int64(st, 2, *num);
  else if (text) sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
  rc = sqlite3_step(st) == SQLITE_DONE ? HQ_OK : hq__db_sqlerr(db, "writing meta");
  sqlite3_finalize(st);
  return rc;
}

int hq__meta_set_int(hq_db_t *db, const char *key, int64_t value) {
  return meta_set(db, key, NULL, &value);
}

int hq_db_meta_set(hq_db_t *db, const char *key, const char *value) {
  if (!HQ_DB_OK(db) || !key) return HQ_MISUSE_BKPT;
  return meta_set(db, key, value, NULL);
}

int hq_db_meta_get(hq_db_t *db, const char *key, char *buf, size_t cap) {
  sqlite3_stmt *st = NULL;
  int rc;
  if (!HQ_DB_OK(db) || !key || !buf || cap == 0) return HQ_MISUSE_BKPT;
  buf[0] = '\0';
  rc = meta_lookup(db, key, &st);
  if (rc == HQ_OK) snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return rc;
}

/* Is the database whole?  SQLite's quick_check: b-trees, pages, free lists (not index contents
 * against their tables, which would cost a full integrity_check). */
static int check_whole(hq_db_t *db) {
  sqlite3_stmt *st = NULL;
  int rc = hq__db_prepare(db, "PRAGMA quick_check(1)", &st);
  if (rc) {
    /* SQLite could not even read the schema: that is damage too */
    return hq__db_seterr(db, HQ_EFORMAT, "%s: damaged database: %s", db->path,
                         sqlite3_errmsg(db->sql));
  }
  if (sqlite3_step(st) != SQLITE_ROW) {
    rc = hq__db_seterr(db, HQ_EFORMAT, "%s: damaged database: %s", db->path, sqlite3_errmsg(db->sql));
  } else {
    const char *verdict = (const char *)sqlite3_column_text(st, 0);
    if (!verdict || strcmp(verdict, "ok")) {
      char line[256];
      snprintf(line, sizeof line, "%s", verdict ? verdict : "no answer");
      for (char *c = line; *c; c++)
        if (*c == '\n') *c = ' '; /* one line */
      rc = hq__db_seterr(db, HQ_EFORMAT, "%s: damaged database (SQLite's quick_check: %s)", db->path,
                         line);
    }
  }
  sqlite3_finalize(st);
  return rc;
}

/* Is the file at path a heapql database we can read? */
static int check_schema(hq_db_t *db) {
  sqlite3_stmt *st = NULL;
  int rc, app_id = 0, version = 0;

  rc = hq__db_prepare(db, "PRAGMA application_id", &st);
  if (rc) goto out;
  if (sqlite3_step(st) != SQLITE_ROW) { rc = hq__db_sqlerr(db, "reading the header"); goto out; }
  app_id = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  st = NULL;
  rc = hq__db_prepare(db, "PRAGMA user_version", &st);
  if (rc) goto out;
  if (sqlite3_step(st) != SQLITE_ROW) { rc = hq__db_sqlerr(db, "reading the header"); goto out; }
  version = sqlite3_column_int(st, 0);

  if (app_id != HQ_APPLICATION_ID) {
    rc = hq__db_seterr(db, HQ_ESCHEMA, "%s: a SQLite database, but not a heapql one", db->path);
  } else if (version > HQ_SCHEMA_VERSION_CURRENT) {
    rc = hq__db_seterr(db, HQ_ESCHEMA,
                       "%s: schema version %d is newer than this heapql reads (%d): upgrade heapql",
                       db->path, version, HQ_SCHEMA_VERSION_CURRENT);
  } else if (version < 1) {
    rc = hq__db_seterr(db, HQ_ESCHEMA, "%s: heapql database without a schema version", db->path);
  } else if (version == 1) {
    /* Schema 1 had no NVTX columns in regions: a TEMP view of that name shadows the table for
     * this connection with the columns schema 2 has, and the file stays as it is. */
    rc = hq__db_exec(db, "CREATE TEMP VIEW IF NOT EXISTS regions AS SELECT id, pid, name,"
                         " parent_id, tid, t_begin, t_end, 'annotate' AS source, NULL AS domain,"
                         " NULL AS category, NULL AS category_name, 'thread' AS scope"
                         " FROM main.regions");
  }
out:
  sqlite3_finalize(st);
  return rc;
}

static int create_schema(hq_db_t *db) {
  char pragmas[128], kinds[2048];
  int rc = hq__db_exec(db, "PRAGMA page_size=65536; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN");
  if (rc) return rc;
  rc = hq__db_exec(db, hq__schema_sql);
  if (rc) return rc;
  /* The kinds rows come from the one table of kinds (heapql/internal/kinds.h). */
  if (hq__kinds_insert_sql(kinds, sizeof kinds) != 0)
    return hq__db_seterr(db, HQ_ERANGE, "%s: the kinds table does not fit", db->path);
  rc = hq__db_exec(db, kinds);
  if (rc) return rc;
  snprintf(pragmas, sizeof pragmas, "PRAGMA application_id=%d; PRAGMA user_version=%d; COMMIT",
           HQ_APPLICATION_ID, HQ_SCHEMA_VERSION_CURRENT);
  rc = hq__db_exec(db, pragmas);
  if (rc) return rc;
  return hq__meta_set_int(db, "schema_version", HQ_SCHEMA_VERSION_CURRENT);
}

/* A file that is not SQLite at all deserves its own sentence. */
static int looks_like_sqlite(const char *path) {
  char head[16];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n;
  if (fd < 0) return 1; /* let SQLite report the real problem */
  n = read(fd, head, sizeof head);
  close(fd);
  if (n == 0) return 1; /* an empty file is an empty database to SQLite; checked later */
  return n == (ssize_t)sizeof head && memcmp(head, "SQLite format 3", 16) == 0;
}

int hq_db_open(const char *path, int flags, hq_db_t **out_db) {
  hq_db_t *db = NULL;
  struct stat sb;
  int rc = HQ_OK, oflags;

  if (!out_db) return HQ_MISUSE_BKPT;
  *out_db = NULL;
  hq__fault_db_install();
  if (!path) return HQ_MISUSE_BKPT;
  db = calloc(1, sizeof *db);
  if (!db) return HQ_ENOMEM;
  db->magic = HQ_DB_MAGIC;
  db->callers = 3;
  db->path = strdup(path);
  if (!db->path) { rc = HQ_ENOMEM; goto out; }
  *out_db = db;

  if (flags & HQ_DB_CREATE) {
    if ((flags & HQ__DB_INTO_EMPTY) && stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 0) {
      /* a file its caller just made for it (hq__out_open): SQLite takes an empty file as new */
    } else if (stat(path, &sb) == 0) {
      if (!(flags & HQ_DB_FORCE)) {
        rc = hq__db_seterr(db, HQ_EEXIST, "%s: already exists (use --force to replace it)", path);
        goto out;
      }
      if (unlink(path) != 0) {
        rc = hq__db_seterr(db, HQ_EIO, "%s: cannot replace: %s", path, strerror(errno));
        goto out;
      }
    }
    oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  } else {
    if (stat(path, &sb) != 0) {
      rc = hq__db_seterr(db, HQ_ENOENT, "%s: %s", path, strerror(errno));
      goto out;
    }
    if (S_ISDIR(sb.st_mode)) {
      rc = hq__db_seterr(db, HQ_ESCHEMA, "%s: is a directory, not a heapql database", path);
      goto out;
    }
    if (sb.st_size == 0 || !looks_like_sqlite(path)) {
      rc = hq__db_seterr(db, HQ_ESCHEMA, "%s: not a SQLite database (nor a heapql one)", path);
      goto out;
    }
    oflags = (flags & HQ_DB_READONLY) ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  }
  if (sqlite3_open_v2(path, &db->sql, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    rc = hq__db_seterr(db, HQ_EDB, "%s: cannot open: %s", path,
                       db->sql ? sqlite3_errmsg(db->sql) : "out of memory");
    goto out;
  }
  sqlite3_extended_result_codes(db->sql, 0);
  sqlite3_busy_timeout(db->sql, 2000);
  if (flags & HQ_DB_CREATE) {
    rc = create_schema(db);
  } else {
    rc = check_schema(db);
    if (!rc && !(flags & HQ_DB_NO_CHECK) && ((flags & HQ_DB_CHECK) || sb.st_size <= HQ_DB_CHECK_MAX_BYTES))
      rc = check_whole(db);
    if (!rc && (flags & HQ_DB_NO_CHECK)) rc = hq__db_exec(db, "PRAGMA synchronous=OFF");
  }
out:
  return rc;
}

int hq__db_prepare_cached(hq_db_t *db, int slot, const char *sql, sqlite3_stmt **out_stmt) {
  int rc;
  if (slot < 0 || (size_t)slot >= HQ_ARRAY_LEN(db->cached)) return HQ_MISUSE_BKPT;
  if (!db->cached[slot] && (rc = hq__db_prepare(db, sql, &db->cached[slot]))) return rc;
  sqlite3_reset(db->cached[slot]);
  sqlite3_clear_bindings(db->cached[slot]);
  *out_stmt = db->cached[slot];
  return HQ_OK;
}

void hq_db_close(hq_db_t *db) {
  if (!db) return;
  for (size_t i = 0; i < HQ_ARRAY_LEN(db->cached); i++) sqlite3_finalize(db->cached[i]);
  if (db->sql) sqlite3_close_v2(db->sql);
  free(db->path);
  free(db->wrappers);
  free(db->debug_dirs);
  db->magic = 0;
  free(db);
}

const char *hq_db_errmsg(const hq_db_t *db) {
  return db ? db->errmsg : "no database handle";
}

sqlite3 *hq_db_sqlite(hq_db_t *db) {
  return db ? db->sql : NULL;
}

const char *hq_db_path(const hq_db_t *db) {
  return db ? db->path : NULL;
}

int hq__db_has_table(hq_db_t *db, const char *name) {
  sqlite3_stmt *st = NULL;
  int has = 0;
  if (sqlite3_prepare_v2(db->sql, "SELECT 1 FROM sqlite_master WHERE name = ?1 AND type IN"
                                  " ('table', 'view')", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    has = sqlite3_step(st) == SQLITE_ROW;
  }
  sqlite3_finalize(st);
  return has;
}
