/*
 * hq_symbolize.c: fill frames.function/file/line (and inline chains) from the module files.
 *
 * Plan: read every unresolved physical frame once, sort by (module file, offset), open each
 * module file once (hq_dwarf.c), resolve each distinct address once, and write everything in one
 * savepoint with prepared statements.  Module rows that name the same file (same path and
 * build-id, as after a merge of several processes) share one resolver.
 *
 * A recorded ip is a return address: the call that made the frame ends just before it, so the
 * lookup uses offset - 1, which lands inside the call instruction and gives the call's line.
 */
#include <stdlib.h>
#include <string.h>

#include "symbols/symbols_int.h"

typedef struct {
  int64_t id;
  char *path;
  char *build_id;
  uint32_t group;   /* same group = same file */
  int status;       /* HQ__FILE_*, -1 = not looked at */
} modrow_t;

typedef struct {
  int64_t id;
  int64_t module_id;
  int64_t ip;
  uint64_t offset;
  uint32_t group;
} pending_t;

typedef struct {
  int64_t id;       /* first: bsearch compares it */
  size_t index;     /* in sym_t.mods */
} id_index_t;

typedef struct {
  hq_db_t *db;
  modrow_t *mods;
  size_t nmods;
  id_index_t *by_id; /* module ids, sorted */
  pending_t *frames;
  size_t nframes;
  sqlite3_stmt *upd, *ins, *mod_upd;
} sym_t;

static int str_cmp_null(const char *a, const char *b) {
  if (!a || !b) return a ? 1 : b ? -1 : 0;
  return strcmp(a, b);
}

static int modrow_cmp(const void *x, const void *y) {
  const modrow_t *a = x, *b = y;
  int c = str_cmp_null(a->path, b->path);
  return c ? c : str_cmp_null(a->build_id, b->build_id);
}

static int pending_cmp(const void *x, const void *y) {
  const pending_t *a = x, *b = y;
  if (a->group != b->group) return a->group < b->group ? -1 : 1;
  if (a->offset != b->offset) return a->offset < b->offset ? -1 : 1;
  return a->id < b->id ? -1 : a->id > b->id;
}

static int id_index_cmp(const void *x, const void *y) {
  int64_t a = ((const id_index_t *)x)->id, b = ((const id_index_t *)y)->id;
  return a < b ? -1 : a > b;
}

static char *dup_col(sqlite3_stmt *st, int col, int *oom) {
  const unsigned char *t = sqlite3_column_text(st, col);
  char *s;
  if (!t) return NULL;
  s = strdup((const char *)t);
  if (!s) *oom = 1;
  return s;
}

static int load_modules(sym_t *s) {
  sqlite3_stmt *st = NULL;
  size_t cap = 0, i;
  int rc, oom = 0;
  rc = hq__db_prepare(s->db, "SELECT id, path, build_id FROM modules", &st);
  if (rc) goto out;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    modrow_t *m;
    if (hq__grow((void **)&s->mods, &cap, s->nmods, sizeof *s->mods, 64)) { rc = HQ_ENOMEM; goto out; }
    m = &s->mods[s->nmods++];
    m->id = sqlite3_column_int64(st, 0);
    m->path = dup_col(st, 1, &oom);
    m->build_id = dup_col(st, 2, &oom);
    m->status = -1;
    if (m->build_id && !*m->build_id) { free(m->build_id); m->build_id = NULL; }
    if (oom) { rc = HQ_ENOMEM; goto out; }
  }
  if (rc != SQLITE_DONE) { rc = hq__db_sqlerr(s->db, "reading modules"); goto out; }
  rc = HQ_OK;
  if (s->nmods) qsort(s->mods, s->nmods, sizeof *s->mods, modrow_cmp);
  for (i = 0; i < s->nmods; i++)
    s->mods[i].group = (i && !modrow_cmp(&s->mods[i - 1], &s->mods[i])) ? s->mods[i - 1].group
                                                                        : (uint32_t)i;
  /* id -> index, for the frames' module_id */
  s->by_id = malloc((s->nmods + 1) * sizeof *s->by_id);
  if (!s->by_id) { rc = HQ_ENOMEM; goto out; }
  for (i = 0; i < s->nmods; i++) {
    s->by_id[i].id = s->mods[i].id;
    s->by_id[i].index = i;
  }
  if (s->nmods) qsort(s->by_id, s->nmods, sizeof *s->by_id, id_index_cmp);
out:
  sqlite3_finalize(st);
  return rc;
}

static modrow_t *module_by_id(sym_t *s, int64_t id) {
  id_index_t key = {id, 0}, *hit;
  hit = bsearch(&key, s->by_id, s->nmods, sizeof *s->by_id, id_index_cmp);
  return hit ? &s->mods[hit->index] : NULL;
}

/* Physical frames with nothing resolved yet.  Frames of modules without a file ([vdso] and
 * the like) are left alone. */
static int load_frames(sym_t *s) {
  sqlite3_stmt *st = NULL;
  size_t cap = 0;
  int rc = hq__db_prepare(s->db,
      "SELECT f.id, f.module_id, f.ip, coalesce(f.offset, f.ip - m.base) "
      "FROM frames f JOIN modules m ON m.id = f.module_id "
      "WHERE f.function IS NULL AND f.file IS NULL AND f.inline_parent IS NULL "
      "AND f.is_inline = 0", &st);
  if (rc) goto out;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    pending_t *p;
    modrow_t *m = module_by_id(s, sqlite3_column_int64(st, 1));
    if (!m || !m->path || !m->path[0] || m->path[0] == '[') continue;
    if (hq__grow((void **)&s->frames, &cap, s->nframes, sizeof *s->frames, 1024)) {
      rc = HQ_ENOMEM;
      goto out;
    }
    p = &s->frames[s->nframes++];
    p->id = sqlite3_column_int64(st, 0);
    p->module_id = m->id;
    p->ip = sqlite3_column_int64(st, 2);
    p->offset = (uint64_t)sqlite3_column_int64(st, 3);
    p->group = m->group;
  }
  if (rc != SQLITE_DONE) { rc = hq__db_sqlerr(s->db, "reading frames"); goto out; }
  rc = HQ_OK;
  if (s->nframes) qsort(s->frames, s->nframes, sizeof *s->frames, pending_cmp);
out:
  sqlite3_finalize(st);
  return rc;
}

static void bind_text_or_null(sqlite3_stmt *st, int col, const char *text) {
  if (text) sqlite3_bind_text(st, col, text, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, col);
}

static int step_done(sym_t *s, sqlite3_stmt *st, const char *what) {
  int rc = sqlite3_step(st) == SQLITE_DONE ? HQ_OK : hq__db_sqlerr(s->db, what);
  sqlite3_reset(st);
  return rc;
}

/* Write one frame's chain: extra rows from the outermost function inwards (each pointing at
 * the next one out), then the physical row pointing at the innermost of them. */
static int write_chain(sym_t *s, const pending_t *p, const hq__symframe_t *chain, int n) {
  int64_t parent = 0;
  int rc, i;
  for (i = n - 1; i >= 1; i--) {
    sqlite3_bind_int64(s->ins, 1, p->module_id);
    sqlite3_bind_int64(s->ins, 2, p->ip);
    sqlite3_bind_int64(s->ins, 3, (int64_t)p->offset);
    bind_text_or_null(s->ins, 4, chain[i].function);
    bind_text_or_null(s->ins, 5, chain[i].file);
    if (chain[i].line > 0) sqlite3_bind_int(s->ins, 6, chain[i].line);
    else sqlite3_bind_null(s->ins, 6);
    if (parent) sqlite3_bind_int64(s->ins, 7, parent);
    else sqlite3_bind_null(s->ins, 7);
    if ((rc = step_done(s, s->ins, "adding inline frames"))) return rc;
    parent = sqlite3_last_insert_rowid(hq_db_sqlite(s->db));
  }
  bind_text_or_null(s->upd, 1, chain[0].function);
  bind_text_or_null(s->upd, 2, chain[0].file);
  if (chain[0].line > 0) sqlite3_bind_int(s->upd, 3, chain[0].line);
  else sqlite3_bind_null(s->upd, 3);
  if (parent) sqlite3_bind_int64(s->upd, 4, parent);
  else sqlite3_bind_null(s->upd, 4);
  sqlite3_bind_int64(s->upd, 5, p->id);
  return step_done(s, s->upd, "updating frames");
}

/* One resolved frame of a group: its chain is chains[first, first + n). */
typedef struct {
  const pending_t *frame;
  size_t first;
  int n;
} result_t;

static int result_cmp(const void *x, const void *y) {
  int64_t a = ((const result_t *)x)->frame->id, b = ((const result_t *)y)->frame->id;
  return a < b ? -1 : a > b;
}

/* Resolve frames[from, to), all of one module file: look every distinct offset up once, then
 * write in frame-id order, so the updates walk the frames table forwards instead of hopping
 * across it (which matters once the table outgrows SQLite's page cache). */
static int resolve_group(sym_t *s, size_t from, size_t to, hq_progress_t *prog) {
  modrow_t *m = module_by_id(s, s->frames[from].module_id);
  hq__symres_t *res = NULL;
  result_t *results = NULL;
  hq__symframe_t *chains = NULL;
  size_t nresults = 0, nchains = 0, capchains = 0, i;
  int status, rc;

  rc = hq__symres_open(m->path, m->build_id, s->db->debug_dirs, &res, &status);
  if (rc) goto out;
  for (i = 0; i < s->nmods; i++)
    if (s->mods[i].group == m->group) s->mods[i].status = status;
  if (!res) goto out;
  results = malloc((to - from) * sizeof *results);
  if (!results) { rc = HQ_ENOMEM; goto out; }
  for (i = from; i < to; i++) {
    const pending_t *p = &s->frames[i];
    result_t *r = &results[nresults];
    if (nresults && results[nresults - 1].frame->offset == p->offset) {
      *r = results[nresults - 1]; /* same address: same answer */
    } else {
      r->first = nchains;
      r->n = 0;
      if (hq__grow((void **)&chains, &capchains, nchains + HQ__SYM_MAX_CHAIN, sizeof *chains, 4096)) {
        rc = HQ_ENOMEM;
        goto out;
      }
      /* The first byte of a module cannot be a return address; skip rather than wrap. */
      if (p->offset > 0 &&
          (rc = hq__symres_lookup(res, p->offset - 1, chains + nchains, HQ__SYM_MAX_CHAIN, &r->n)))
        goto out;
      nchains += (size_t)r->n;
    }
    r->frame = p;
    nresults++;
    hq__progress_update(prog, i + 1);
  }
  qsort(results, nresults, sizeof *results, result_cmp);
  for (i = 0; i < nresults; i++)
    if (results[i].n > 0 &&
        (rc = write_chain(s, results[i].frame, chains + results[i].first, results[i].n)))
      goto out;
out:
  free(results);
  free(chains);
  hq__symres_close(res);
  return rc;
}

static int write_statuses(sym_t *s) {
  int rc = HQ_OK;
  for (size_t i = 0; i < s->nmods && !rc; i++) {
    const char *name = s->mods[i].status >= 0 ? hq__file_status_name(s->mods[i].status) : NULL;
    if (!name) continue;
    sqlite3_bind_text(s->mod_upd, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s->mod_upd, 2, s->mods[i].id);
    rc = step_done(s, s->mod_upd, "updating modules");
  }
  return rc;
}

int hq_symbolize(hq_db_t *db, int progress) {
  sym_t s;
  hq_progress_t prog;
  int64_t done = 0;
  int rc, in_savepoint = 0;
  size_t i, start;

  if (!HQ_DB_OK(db)) return HQ_MISUSE_BKPT;
  memset(&s, 0, sizeof s);
  s.db = db;
  /* Symbolized before: nothing new to do (heapql symbolize clears the flag to retry). */
  rc = hq__meta_int(db, "symbolized", &done);
  if (rc == HQ_OK && done == 1) goto out;
  if (rc != HQ_OK && rc != HQ_ENOENT) goto out;
  if (sqlite3_db_readonly(db->sql, "main") == 1) {
    /* Resolving everything only to fail at the first write helps nobody. */
    rc = hq__db_seterr(db, HQ_EDB, "%s: read-only, cannot store symbols", db->path);
    goto out;
  }

  if ((rc = hq__db_exec(db, "SAVEPOINT hq_symbolize"))) goto out;
  in_savepoint = 1;
  if ((rc = load_modules(&s)) || (rc = load_frames(&s))) goto out;
  if ((rc = hq__db_prepare(db, "UPDATE frames SET function = ?1, file = ?2, line = ?3, "
                               "inline_parent = ?4 WHERE id = ?5", &s.upd)) ||
      (rc = hq__db_prepare(db, "INSERT INTO frames(module_id, ip, offset, function, file, line, "
                               "inline_parent, is_inline) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, 1)",
                           &s.ins)) ||
      (rc = hq__db_prepare(db, "UPDATE modules SET file_status = ?1 WHERE id = ?2", &s.mod_upd)))
    goto out;

  hq__progress_init(&prog, progress, "symbolizing", s.nframes);
  for (start = 0, i = 1; start < s.nframes; i++) {
    if (i < s.nframes && s.frames[i].group == s.frames[start].group) continue;
    if ((rc = resolve_group(&s, start, i, &prog))) break;
    start = i;
  }
  hq__progress_done(&prog);
  if (rc) goto out;
  if ((rc = write_statuses(&s))) goto out;
  if ((rc = hq__meta_set_int(db, "symbolized", 1))) goto out;
  /* per-line aggregates depend on the names just written (a no-op before any aggregates) */
  if ((rc = hq__aggregate_refresh_symbols(db))) goto out;
  rc = hq__db_exec(db, "RELEASE hq_symbolize");
  in_savepoint = 0;
out:
  if (in_savepoint) {
    /* Keep the error message of the failure, not of the rollback. */
    sqlite3_exec(db->sql, "ROLLBACK TO hq_symbolize; RELEASE hq_symbolize", NULL, NULL, NULL);
  }
  sqlite3_finalize(s.upd);
  sqlite3_finalize(s.ins);
  sqlite3_finalize(s.mod_upd);
  for (i = 0; i < s.nmods; i++) {
    free(s.mods[i].path);
    free(s.mods[i].build_id);
  }
  free(s.mods);
  free(s.by_id);
  free(s.frames);
  return rc;
}

/* The importer's symbolization seam (analyzer/import/import_int.h): in libheapql, libdw. */
int hq__imp_symbolize(hq_db_t *db, int progress);
int hq__imp_symbolize(hq_db_t *db, int progress) {
  return hq_symbolize(db, progress);
}

int hq_db_set_debug_dirs(hq_db_t *db, const char *dirs) {
  char *copy = NULL;
  if (!HQ_DB_OK(db)) return HQ_MISUSE_BKPT;
  if (dirs && *dirs && !(copy = strdup(dirs))) return HQ_ENOMEM;
  free(db->debug_dirs);
  db->debug_dirs = copy;
  return HQ_OK;
}
