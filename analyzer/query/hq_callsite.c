/*
 * hq_callsite.c: the site of every stack.
 *
 * The site of an allocation is the first frame of its stack, from the allocator outwards and
 * inline frames expanded, that is not an allocation wrapper (hq_wrappers.c): the caller a
 * developer changes, not the allocator or the container that asked for the memory.  A stack
 * whose frames are all wrappers has its outermost frame as its site.
 *
 * The table stack_sites (docs/schema.md, "Sites") holds one row per stack that allocated: the
 * site's position in stack_frames, its function, file, line, module and offset, its text
 * ("function file:line", "function (module)" without line information, "module+0xOFFSET"
 * without a name), its caller (the next frame out; for a site without a name, the first named
 * frame further out, which is the entry point the allocation went through) and whether the
 * site's module changed or went missing since the run.  It is derived data, like the agg_*
 * tables: rebuilt when the symbols, the stacks or the wrapper patterns change, in the database
 * when it is writable, else in the connection's TEMP schema.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapql/internal/pyframe.h"
#include "query/query_int.h"

#define SITES_VERSION 4
#define MAX_CHAIN 100000   /* corrupt data must not loop forever */
#define MAX_INLINE 256

typedef struct frame_s {
  char *function, *file;
  int64_t line;                 /* 0 unknown */
  int32_t module;               /* index into modules, -1 none */
  int64_t offset, ip, inline_parent;
  int has_offset;
} frame_t;

typedef struct module_s {
  char *path;
  int stale;                    /* file_status 'changed' or 'missing' */
} module_t;

typedef struct load_s {
  frame_t *frames;              /* by frame id */
  int64_t max_frame;
  module_t *modules;            /* by module id */
  int64_t max_module;
  int64_t *stack_parent, *stack_frame; /* by stack id */
  int64_t max_stack;
} load_t;

static void load_free(load_t *l) {
  for (int64_t i = 0; l->frames && i <= l->max_frame; i++) {
    free(l->frames[i].function);
    free(l->frames[i].file);
  }
  for (int64_t i = 0; l->modules && i <= l->max_module; i++) free(l->modules[i].path);
  free(l->frames);
  free(l->modules);
  free(l->stack_parent);
  free(l->stack_frame);
}

static int64_t max_of(hq_db_t *db, const char *sql, int *rc) {
  sqlite3_stmt *st = NULL;
  int64_t v = 0;
  if ((*rc = hq__db_prepare(db, sql, &st))) return 0;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  else *rc = hq__db_sqlerr(db, "reading ids");
  sqlite3_finalize(st);
  return v < 0 ? 0 : v;
}

static int load(hq_db_t *db, load_t *l) {
  sqlite3_stmt *st = NULL;
  int rc;
  memset(l, 0, sizeof *l);
  l->max_module = max_of(db, "SELECT coalesce(max(id), 0) FROM modules", &rc);
  if (!rc) l->max_frame = max_of(db, "SELECT coalesce(max(id), 0) FROM frames", &rc);
  if (!rc) l->max_stack = max_of(db, "SELECT coalesce(max(id), 0) FROM stacks", &rc);
  if (rc) return rc;
  l->modules = calloc((size_t)l->max_module + 1, sizeof *l->modules);
  l->frames = calloc((size_t)l->max_frame + 1, sizeof *l->frames);
  l->stack_parent = calloc((size_t)l->max_stack + 1, sizeof *l->stack_parent);
  l->stack_frame = calloc((size_t)l->max_stack + 1, sizeof *l->stack_frame);
  if (!l->modules || !l->frames || !l->stack_parent || !l->stack_frame) return HQ_ENOMEM;

  if ((rc = hq__db_prepare(db, "SELECT id, path, file_status IN ('changed', 'missing') FROM modules", &st)))
    return rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0);
    if (id < 0 || id > l->max_module) continue;
    free(l->modules[id].path); /* a damaged database may repeat an id */
    l->modules[id].path = hq__col_strdup(st, 1);
    l->modules[id].stale = sqlite3_column_int(st, 2);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return hq__db_sqlerr(db, "reading modules");

  if ((rc = hq__db_prepare(db, "SELECT id, function, file, line, module_id, offset, ip, inline_parent"
                               " FROM frames", &st)))
    return rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0), mod = sqlite3_column_int64(st, 4);
    frame_t *f;
    if (id <= 0 || id > l->max_frame) continue;
    f = &l->frames[id];
    free(f->function);
    free(f->file);
    f->function = hq__col_strdup(st, 1);
    f->file = hq__col_strdup(st, 2);
    f->line = sqlite3_column_int64(st, 3);
    f->module = sqlite3_column_type(st, 4) == SQLITE_NULL || mod <= 0 || mod > l->max_module ? -1 : (int32_t)mod;
    f->has_offset = sqlite3_column_type(st, 5) != SQLITE_NULL;
    f->offset = sqlite3_column_int64(st, 5);
    f->ip = sqlite3_column_int64(st, 6);
    f->inline_parent = sqlite3_column_int64(st, 7);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return hq__db_sqlerr(db, "reading frames");

  if ((rc = hq__db_prepare(db, "SELECT id, parent_id, frame_id FROM stacks", &st))) return rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0);
    if (id <= 0 || id > l->max_stack) continue;
    l->stack_parent[id] = sqlite3_column_int64(st, 1);
    l->stack_frame[id] = sqlite3_column_int64(st, 2);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? HQ_OK : hq__db_sqlerr(db, "reading stacks");
}

static const char *base_name(const char *path) {
  const char *slash = path ? strrchr(path, '/') : NULL;
  return slash ? slash + 1 : path;
}

static int is_python(const frame_t *f) {
  return HQ_IS_PYFRAME((uint64_t)f->ip);
}

/* Below a Python frame, the interpreter's own C code (python3.X, libpython3.X.so) and code
 * without a name (a stripped extension such as numpy's) only carry the Python line's request to
 * the allocator: the Python line is where a developer acts. */
static int python_carrier(const load_t *l, const frame_t *f) {
  const char *m = f->module >= 0 ? base_name(l->modules[f->module].path) : NULL;
  if (!f->function && !f->file) return 1;
  return m && (!strncmp(m, "python", 6) || !strncmp(m, "libpython", 9));
}

/* A frame as a site: "function file:line", "function (module)", "module+0xOFF" or "0xIP". */
static void site_text(const load_t *l, const frame_t *f, char *buf, size_t cap) {
  const char *module = f->module >= 0 ? l->modules[f->module].path : NULL;
  if (f->function && f->file)
    snprintf(buf, cap, "%s %s:%" PRId64, f->function, f->file, f->line);
  else if (f->function && module)
    snprintf(buf, cap, "%s (%s)", f->function, base_name(module));
  else if (f->function)
    snprintf(buf, cap, "%s", f->function);
  else if (module && f->has_offset)
    snprintf(buf, cap, "%s+0x%" PRIx64, base_name(module), (uint64_t)f->offset);
  else
    snprintf(buf, cap, "0x%" PRIx64, (uint64_t)f->ip);
}

/* The frames of stack id, allocator first, inline frames expanded, as frame ids. */
static size_t expand(const load_t *l, int64_t id, int64_t *out, size_t cap) {
  size_t n = 0;
  for (int hops = 0; id > 0 && id <= l->max_stack && hops < MAX_CHAIN && n < cap; hops++) {
    int64_t f = l->stack_frame[id];
    for (int d = 0; f > 0 && f <= l->max_frame && d < MAX_INLINE && n < cap; d++) {
      out[n++] = f;
      f = l->frames[f].inline_parent;
    }
    id = l->stack_parent[id];
  }
  return n;
}

/* The tables as the schema has them (hq_schema.sql), for databases made before they existed and
 * for the TEMP schema of read-only ones. */
static const char create_sql[] =
  "DROP TABLE IF EXISTS %1$s.stack_sites;"
  "DROP TABLE IF EXISTS %1$s.stack_sites_info;"
  "CREATE TABLE %1$s.stack_sites(stack_id INTEGER PRIMARY KEY, position INTEGER NOT NULL,"
  " frame_id INTEGER, site TEXT NOT NULL, function TEXT, file TEXT, line INTEGER, module TEXT,"
  " offset INTEGER, caller TEXT, stale INTEGER NOT NULL);"
  "CREATE TABLE %1$s.stack_sites_info(key TEXT PRIMARY KEY, value) WITHOUT ROWID;";

static int build(hq_db_t *db, const char *schema, const hq__wrappers_t *w, int64_t signature) {
  load_t l;
  sqlite3_stmt *ids = NULL, *ins = NULL;
  int64_t *chain = NULL;
  char sql[1024], text[2048], caller[2048];
  int rc, step;
  size_t cap = 4096;

  if ((rc = load(db, &l))) goto out;
  chain = malloc(cap * sizeof *chain);
  if (!chain) { rc = HQ_ENOMEM; goto out; }
  hq__fmt(sql, sizeof sql, create_sql, schema);
  if ((rc = hq__db_exec(db, sql))) goto out;
  hq__fmt(sql, sizeof sql, "INSERT INTO %s.stack_sites VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
          schema);
  if ((rc = hq__db_prepare(db, sql, &ins))) goto out;
  /* the stacks that allocated, and those of failed device allocations (hq_failures.c) */
  if ((rc = hq__db_prepare(db, hq__db_has_table(db, "device_failures")
                               ? "SELECT stack_id FROM agg_stack WHERE stack_id IS NOT NULL UNION"
                                 " SELECT stack_id FROM device_failures WHERE stack_id IS NOT NULL"
                               : "SELECT DISTINCT stack_id FROM agg_stack WHERE stack_id IS NOT NULL",
                           &ids)))
    goto out;
  while ((step = sqlite3_step(ids)) == SQLITE_ROW) {
    int64_t stack = sqlite3_column_int64(ids, 0);
    size_t n = expand(&l, stack, chain, cap), site = 0, first_py;
    const frame_t *f;
    if (n == 0) continue;
    for (first_py = 0; first_py < n && !is_python(&l.frames[chain[first_py]]); first_py++) {
    }
    while (site < n - 1) {
      const frame_t *g = &l.frames[chain[site]];
      if (!hq__wrappers_match(w, g->function, g->file, g->module >= 0 ? l.modules[g->module].path : NULL) &&
          !(site < first_py && first_py < n && python_carrier(&l, g)))
        break;
      site++;
    }
    f = &l.frames[chain[site]];
    site_text(&l, f, text, sizeof text);
    caller[0] = '\0';
    for (size_t j = site + 1; j < n; j++) {
      const frame_t *g = &l.frames[chain[j]];
      /* A Python line's caller is the line (or the C code outside the interpreter) that called
       * its function, not the interpreter's calling machinery between them. */
      if (is_python(f) && !is_python(g) && python_carrier(&l, g)) continue;
      /* A site without a name is known by the entry point it was reached through. */
      if (f->function || g->function) {
        site_text(&l, g, caller, sizeof caller);
        break;
      }
    }
    sqlite3_reset(ins);
    sqlite3_clear_bindings(ins);
    sqlite3_bind_int64(ins, 1, stack);
    sqlite3_bind_int64(ins, 2, (int64_t)site);
    sqlite3_bind_int64(ins, 3, chain[site]);
    sqlite3_bind_text(ins, 4, text, -1, SQLITE_TRANSIENT);
    if (f->function) sqlite3_bind_text(ins, 5, f->function, -1, SQLITE_STATIC);
    if (f->file) sqlite3_bind_text(ins, 6, f->file, -1, SQLITE_STATIC);
    if (f->file && f->line > 0) sqlite3_bind_int64(ins, 7, f->line);
    if (f->module >= 0) sqlite3_bind_text(ins, 8, l.modules[f->module].path, -1, SQLITE_STATIC);
    if (f->module >= 0 && f->has_offset) sqlite3_bind_int64(ins, 9, f->offset);
    if (caller[0]) sqlite3_bind_text(ins, 10, caller, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(ins, 11, f->module >= 0 && l.modules[f->module].stale);
    if (sqlite3_step(ins) != SQLITE_DONE) { rc = hq__db_sqlerr(db, "writing stack_sites"); goto out; }
  }
  if (step != SQLITE_DONE) { rc = hq__db_sqlerr(db, "reading agg_stack"); goto out; }
  hq__fmt(sql, sizeof sql,
          "CREATE INDEX %1$s.stack_sites_by_site ON stack_sites(site);"
          "INSERT INTO %1$s.stack_sites_info VALUES('signature', %2$" PRId64 ");", schema, signature);
  rc = hq__db_exec(db, sql);
out:
  sqlite3_finalize(ids);
  sqlite3_finalize(ins);
  free(chain);
  load_free(&l);
  return rc;
}

/* The signature stack_sites was built with in schema, or 0 when it has none. */
static int64_t built_signature(hq_db_t *db, const char *schema) {
  char sql[256];
  sqlite3_stmt *st = NULL;
  int64_t v = 0;
  hq__fmt(sql, sizeof sql, "SELECT value FROM %s.stack_sites_info WHERE key = 'signature'", schema);
  if (sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

int hq__callsites_ensure(hq_db_t *db) {
  hq__wrappers_t *w = NULL;
  int64_t stamp = 0, stacks = 0, signature;
  const char *target;
  char err[512] = "";
  int rc = hq__aggregate_ensure(db);
  if (rc) return rc;
  if ((rc = hq__symbol_stamp(db, &stamp))) return rc;
  stacks = max_of(db, "SELECT coalesce(max(id), 0) FROM stacks", &rc);
  if (rc) return rc;
  if ((rc = hq__wrappers_parse(db->wrappers, &w, err, sizeof err)))
    return hq__db_seterr(db, rc, "%s", err[0] ? err : hq_strerror(rc));
  /* unsigned arithmetic: the signature wraps, it never overflows */
  signature = (int64_t)((((hq__wrappers_signature(w) * 31 + (uint64_t)stamp) * 31 +
                          (uint64_t)stacks) * 8 + SITES_VERSION) & INT64_MAX);
  if (!signature) signature = 1;
  target = sqlite3_db_readonly(db->sql, "main") ? "temp" : "main";
  /* temp shadows main: a fresh temp table, or a fresh main one not shadowed, will do */
  if (built_signature(db, "temp") == signature ||
      (built_signature(db, "temp") == 0 && built_signature(db, "main") == signature)) {
    hq__wrappers_free(w);
    return HQ_OK;
  }
  rc = hq__db_exec(db, "SAVEPOINT hq_sites");
  if (!rc) rc = hq__savepoint_end(db, "hq_sites", build(db, target, w, signature));
  hq__wrappers_free(w);
  return rc;
}

/* A text built row by row: the common directory of paths, or a list. */
typedef struct text_acc_s {
  char *text;
  size_t len;
} text_acc_t;

static int root_row(sqlite3_stmt *st, void *ctx) {
  text_acc_t *a = ctx;
  const char *f = (const char *)sqlite3_column_text(st, 0);
  if (!a->text) {
    const char *slash = strrchr(f, '/');
    if (!(a->text = strndup(f, (size_t)(slash - f) + 1))) return HQ_ENOMEM;
    a->len = strlen(a->text);
    return HQ_OK;
  }
  while (a->len > 0 && strncmp(a->text, f, a->len)) a->len--;
  while (a->len > 0 && a->text[a->len - 1] != '/') a->len--; /* a whole directory */
  a->text[a->len] = '\0';
  return HQ_OK;
}

int hq__source_root(hq_db_t *db, char **out) {
  text_acc_t a = {NULL, 0};
  /* The program's own sources: the absolute paths of the sites, system headers left out. */
  int rc = hq__db_each(db, "SELECT DISTINCT file FROM stack_sites WHERE file LIKE '/%'"
                           " AND file NOT LIKE '/usr/%'", "site files", root_row, &a);
  if (rc || a.len <= 1) { /* "/" is no root to speak of */
    free(a.text);
    a.text = NULL;
  }
  *out = a.text;
  return rc;
}

static int stale_row(sqlite3_stmt *st, void *ctx) {
  text_acc_t *a = ctx;
  const char *path = (const char *)sqlite3_column_text(st, 0);
  const char *status = (const char *)sqlite3_column_text(st, 1);
  size_t add = strlen(path) + strlen(status) + 8;
  char *grown = realloc(a->text, a->len + add);
  if (!grown) return HQ_ENOMEM;
  a->text = grown;
  a->len += (size_t)snprintf(a->text + a->len, add, "%s%s (%s)", a->len ? ", " : "", path, status);
  return HQ_OK;
}

int hq__stale_modules(hq_db_t *db, char **out) {
  text_acc_t a = {NULL, 0};
  int rc = hq__db_each(db, "SELECT path, file_status FROM modules WHERE file_status IN"
                           " ('changed', 'missing') GROUP BY path ORDER BY path", "modules",
                       stale_row, &a);
  if (rc) {
    free(a.text);
    a.text = NULL;
  }
  *out = a.text;
  return rc;
}
