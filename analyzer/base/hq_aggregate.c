/*
 * hq_aggregate.c: the agg_* tables the reports read, built from the base tables in one pass.
 *
 * Reports must answer in well under 2 s on 10 million allocations, so everything proportional to
 * the number of allocations is computed once, here, at import: per stack and class (agg_stack),
 * per class (agg_class), per size bucket (agg_size), per leak class (agg_leak_class).  Figures
 * that depend on symbols (agg_line) are derived from agg_stack and rebuilt after symbolization
 * (hq__aggregate_refresh_symbols).  Every agg_* column equals a documented query over the views
 * (docs/schema.md "Aggregate tables"); tests/unit/test_views.c checks that they agree.
 *
 * The one pass reads the allocations table in rowid order and accumulates into a hash table in
 * memory; no SQL GROUP BY (which would sort 10 million rows).  The peak of the heap class is the
 * one figure that needs time order: the importer records the time of the peak in meta
 * 'peak_heap_t' while it streams the events, and this pass verifies it (the bytes live at that
 * time must equal meta 'peak_heap_bytes').  Without it, or when it disagrees, the peak is found
 * by a sweep over the sorted alloc/free events, as for the other (small) classes.
 *
 * The tables live in the schema of the database when it is writable, and in the connection's
 * TEMP schema when it is not (a read-only file still gets fast reports, at the price of one
 * pass per connection).  agg_info records what they were built from, so staleness is detected.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_int.h"

#define AGG_VERSION 2 /* 2: agg_leak_time */

/* Class indexes are hq_class_t; their names are the kinds.class values. */
enum { CLS_HEAP = HQ_CLASS_HEAP, CLS_N = HQ_CLASS_COUNT };

/* ---- per (stack, class) accumulation: open addressing on a 64-bit key ---- */

typedef struct site_acc_s {
  int64_t  stack_id;   /* STACK_NONE for rows without a stack */
  int      cls;        /* -1 = empty slot */
  uint64_t allocations, bytes, frees, reallocs, realloced, leaked_blocks, leaked_bytes;
  uint64_t temporary, max_size, peak_blocks, peak_bytes;
  /* streaming only: live now, and live at the latest heap peak (saved when first touched after
   * that peak; see struct hq__agg_s) */
  int64_t  live_blocks, live_bytes, saved_blocks, saved_bytes;
  uint64_t saved_epoch;
} site_acc_t;

#define STACK_NONE INT64_MIN

typedef struct site_map_s {
  site_acc_t *slots;
  size_t cap, used;
} site_map_t;

static uint64_t mix64(uint64_t x) {
  x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27; x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static int map_grow(site_map_t *m) {
  size_t ncap = m->cap ? m->cap * 2 : 4096;
  site_acc_t *n = malloc(ncap * sizeof *n);
  if (!n) return HQ_ENOMEM;
  for (size_t i = 0; i < ncap; i++) n[i].cls = -1;
  for (size_t i = 0; i < m->cap; i++) {
    site_acc_t *o = &m->slots[i];
    if (o->cls < 0) continue;
    size_t h = mix64((uint64_t)o->stack_id * 8 + (uint64_t)o->cls) & (ncap - 1);
    while (n[h].cls >= 0) h = (h + 1) & (ncap - 1);
    n[h] = *o;
  }
  free(m->slots);
  m->slots = n;
  m->cap = ncap;
  return HQ_OK;
}

static site_acc_t *map_get(site_map_t *m, int64_t stack_id, int cls) {
  size_t h;
  if ((m->used + 1) * 4 > m->cap * 3 && map_grow(m) != HQ_OK) return NULL;
  h = mix64((uint64_t)stack_id * 8 + (uint64_t)cls) & (m->cap - 1);
  for (;;) {
    site_acc_t *s = &m->slots[h];
    if (s->cls < 0) {
      memset(s, 0, sizeof *s);
      s->stack_id = stack_id;
      s->cls = cls;
      m->used++;
      return s;
    }
    if (s->stack_id == stack_id && s->cls == cls) return s;
    h = (h + 1) & (m->cap - 1);
  }
}

/* ---- peak sweeps: (time, +/-bytes) events, sorted, grouped by time ---- */

typedef struct event_s { int64_t t; int64_t delta; } event_t;
typedef struct event_vec_s { event_t *v; size_t n, cap; } event_vec_t;

static int ev_push(event_vec_t *e, int64_t t, int64_t delta) {
  if (hq__grow((void **)&e->v, &e->cap, e->n, sizeof *e->v, 1024) != HQ_OK) return HQ_ENOMEM;
  e->v[e->n].t = t;
  e->v[e->n].delta = delta;
  e->n++;
  return HQ_OK;
}

static int ev_cmp(const void *a, const void *b) {
  const event_t *x = a, *y = b;
  return (x->t > y->t) - (x->t < y->t);
}

/* The peak of live bytes, where live(t) counts every event at or before t; the earliest t that
 * reaches the maximum.  *out_t stays unset when there are no events. */
static void ev_sweep(event_vec_t *e, uint64_t *out_peak, int64_t *out_t, int *out_has) {
  int64_t live = 0, best = 0, best_t = 0;
  int has = 0;
  if (e->n > 1) qsort(e->v, e->n, sizeof *e->v, ev_cmp);
  for (size_t i = 0; i < e->n;) {
    int64_t t = e->v[i].t;
    while (i < e->n && e->v[i].t == t) live += e->v[i++].delta;
    if (!has || live > best) { best = live; best_t = t; has = 1; }
  }
  *out_peak = best > 0 ? (uint64_t)best : 0;
  *out_t = best_t;
  *out_has = has;
}

/* ---- the build ---- */

typedef struct leak_acc_s { int cls; char *leak_class; uint64_t blocks, bytes; } leak_acc_t;

typedef struct class_acc_s {
  uint64_t allocations, bytes, frees, reallocs, realloced, leaked_blocks, leaked_bytes, temporary;
  uint64_t peak_bytes;
  int64_t  peak_t;
  int      has_peak;
  uint64_t hist_count[64], hist_bytes[64]; /* [0] is size 0 (bucket -1), [b + 1] is bucket b */
} class_acc_t;

typedef struct build_s {
  hq_db_t *db;
  const char *schema;            /* "main" or "temp" */
  site_map_t sites;
  class_acc_t cls[CLS_N];
  event_vec_t events[CLS_N];     /* only for classes whose peak is found by a sweep */
  int sweep[CLS_N];
  int64_t heap_peak_t;           /* from meta, when present */
  int have_heap_peak_t;
  int64_t heap_peak_bytes_meta;
  int have_heap_peak_bytes;
  int64_t peak_pid;              /* merged databases: the process the peaks describe */
  int have_peak_pid;
  leak_acc_t leaks[32];
  hq__ltime_t leak_time;         /* heap bytes never freed, by allocation time (peak process) */
  size_t n_leaks;
  int64_t max_id;
  uint64_t rows;
} build_t;

static int refresh_lines_in(hq_db_t *db, const char *schema);
static int max_allocation_id(hq_db_t *db, int64_t *out);

/* Kind name -> class index, from the kinds table (a handful of rows). */
typedef struct kind_map_s { char name[32]; size_t len; int cls; } kind_map_t;

static int load_kinds(hq_db_t *db, kind_map_t *out, size_t cap, size_t *out_n) {
  sqlite3_stmt *st = NULL;
  size_t n = 0;
  int rc = hq__db_prepare(db, "SELECT kind, class FROM kinds", &st), step;
  if (rc) return rc;
  while ((step = sqlite3_step(st)) == SQLITE_ROW && n < cap) {
    const char *k = (const char *)sqlite3_column_text(st, 0);
    if (!k || strlen(k) >= sizeof out[n].name) continue;
    snprintf(out[n].name, sizeof out[n].name, "%s", k);
    out[n].len = strlen(k);
    out[n].cls = hq_class_parse((const char *)sqlite3_column_text(st, 1));
    n++;
  }
  if (step != SQLITE_ROW && step != SQLITE_DONE) rc = hq__db_sqlerr(db, "reading kinds");
  sqlite3_finalize(st);
  *out_n = n;
  return rc;
}

static int leak_add(build_t *b, int cls, const unsigned char *leak_class, uint64_t size) {
  for (size_t i = 0; i < b->n_leaks; i++) {
    leak_acc_t *l = &b->leaks[i];
    if (l->cls == cls && ((!l->leak_class && !leak_class) ||
                          (l->leak_class && leak_class &&
                           strcmp(l->leak_class, (const char *)leak_class) == 0))) {
      l->blocks++;
      l->bytes += size;
      return HQ_OK;
    }
  }
  if (b->n_leaks == sizeof b->leaks / sizeof b->leaks[0])
    return hq__db_seterr(b->db, HQ_ERANGE, "%s: more than %zu distinct leak classes",
                         b->db->path, sizeof b->leaks / sizeof b->leaks[0]);
  b->leaks[b->n_leaks].cls = cls;
  b->leaks[b->n_leaks].leak_class = leak_class ? strdup((const char *)leak_class) : NULL;
  if (leak_class && !b->leaks[b->n_leaks].leak_class) return HQ_ENOMEM;
  b->leaks[b->n_leaks].blocks = 1;
  b->leaks[b->n_leaks].bytes = size;
  b->n_leaks++;
  return HQ_OK;
}

static int hist_slot(uint64_t size) {
  return size == 0 ? 0 : 64 - __builtin_clzll(size); /* bucket floor(log2(size)) + 1 */
}

/* The class of a kind; *last caches the previous match (runs of one kind are the rule). */
static int kind_lookup(const kind_map_t *kinds, size_t n, size_t *last, const char *kind,
                       size_t len) {
  if (*last < n && kinds[*last].len == len && memcmp(kinds[*last].name, kind, len) == 0)
    return kinds[*last].cls;
  for (size_t i = 0; i < n; i++)
    if (kinds[i].len == len && memcmp(kinds[i].name, kind, len) == 0) {
      *last = i;
      return kinds[i].cls;
    }
  return -1; /* a kind missing from `kinds`: the views' join drops it too */
}

/* The accounting both paths share: an allocation call, and the end of a block. */
static void count_alloc(build_t *b, site_acc_t *s, int cls, uint64_t size, int from_realloc) {
  class_acc_t *c = &b->cls[cls];
  s->allocations++;
  s->bytes += size;
  if (size > s->max_size) s->max_size = size;
  c->allocations++;
  c->bytes += size;
  c->hist_count[hist_slot(size)]++;
  c->hist_bytes[hist_slot(size)] += size;
  if (from_realloc) { s->reallocs++; c->reallocs++; }
  b->rows++;
}

static void count_free(build_t *b, site_acc_t *s, int cls, int by_realloc, int temporary) {
  class_acc_t *c = &b->cls[cls];
  if (by_realloc) {
    s->realloced++;
    c->realloced++;
  } else {
    s->frees++;
    c->frees++;
  }
  if (temporary) { s->temporary++; c->temporary++; }
}

/* The single pass over allocations.  SQLite folds the per-row tests into one flags column:
 * each column fetched is an API call, and this loop runs once per allocation. */
enum { F_TEMPORARY = 1, F_REALLOC_FREE = 2, F_FROM_REALLOC = 4, F_PEAK_PID = 8 };

static int scan_allocations(build_t *b) {
  /* ?1: the pid the peaks are about (merged databases), NULL for every row */
  static const char sql[] =
    "SELECT kind, size, stack_id, t_alloc, t_free,"
    " coalesce(t_free IS NOT NULL AND free_tid = tid AND free_seq = alloc_seq, 0)"
    " | (coalesce(free_kind = 'realloc', 0) << 1) | ((realloc_from IS NOT NULL) << 2)"
    " | (coalesce(?1 IS NULL OR pid = ?1, 0) << 3),"
    " CASE WHEN t_free IS NULL THEN leak_class END"
    " FROM allocations";
  kind_map_t kinds[64];
  size_t n_kinds = 0, last = 0;
  sqlite3_stmt *st = NULL;
  int rc, step;

  rc = load_kinds(b->db, kinds, sizeof kinds / sizeof kinds[0], &n_kinds);
  if (rc) goto out;
  rc = max_allocation_id(b->db, &b->max_id);
  if (rc) goto out;
  rc = hq__db_prepare(b->db, sql, &st);
  if (rc) goto out;
  if (b->have_peak_pid) sqlite3_bind_int64(st, 1, b->peak_pid);
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    const char *kind = (const char *)sqlite3_column_text(st, 0);
    size_t klen = (size_t)sqlite3_column_bytes(st, 0);
    int cls = -1, freed, flags;
    uint64_t size;
    int64_t stack_id;
    site_acc_t *s;
    class_acc_t *c;

    if (!kind || (cls = kind_lookup(kinds, n_kinds, &last, kind, klen)) < 0) continue;
    size = (uint64_t)sqlite3_column_int64(st, 1);
    stack_id = sqlite3_column_type(st, 2) == SQLITE_NULL ? STACK_NONE : sqlite3_column_int64(st, 2);
    freed = sqlite3_column_type(st, 4) != SQLITE_NULL;
    flags = sqlite3_column_int(st, 5);
    s = map_get(&b->sites, stack_id, cls);
    if (!s) { rc = HQ_ENOMEM; goto out; }
    c = &b->cls[cls];
    count_alloc(b, s, cls, size, flags & F_FROM_REALLOC);
    if (freed) {
      count_free(b, s, cls, flags & F_REALLOC_FREE, flags & F_TEMPORARY);
    } else {
      s->leaked_blocks++;
      s->leaked_bytes += size;
      c->leaked_blocks++;
      c->leaked_bytes += size;
      rc = leak_add(b, cls, sqlite3_column_text(st, 6), size);
      if (rc) goto out;
    }

    if (!(flags & F_PEAK_PID)) continue; /* another process of a merged database */
    if (cls == CLS_HEAP && !freed) hq__ltime_add(&b->leak_time, sqlite3_column_int64(st, 3), (int64_t)size, 1);
    if (cls == CLS_HEAP && b->have_heap_peak_t) {
      int64_t t_alloc = sqlite3_column_int64(st, 3);
      if (t_alloc <= b->heap_peak_t && (!freed || sqlite3_column_int64(st, 4) > b->heap_peak_t)) {
        s->peak_blocks++;
        s->peak_bytes += size;
        c->peak_bytes += size;
      }
    }
    if (b->sweep[cls]) {
      if (ev_push(&b->events[cls], sqlite3_column_int64(st, 3), (int64_t)size) ||
          (freed && ev_push(&b->events[cls], sqlite3_column_int64(st, 4), -(int64_t)size))) {
        rc = HQ_ENOMEM;
        goto out;
      }
    }
  }
  if (step != SQLITE_DONE) rc = hq__db_sqlerr(b->db, "reading allocations");
out:
  sqlite3_finalize(st);
  return rc;
}

/* Per-stack heap bytes live at time t, by SQL: the slow path, used only when the importer's
 * peak time was missing or wrong. */
static int heap_peak_sites_sql(build_t *b, int64_t t) {
  static const char sql[] =
    "SELECT a.stack_id, count(*), sum(a.size) FROM allocations a JOIN kinds k ON k.kind = a.kind"
    " WHERE k.class = 'heap' AND a.t_alloc <= ?1 AND (a.t_free IS NULL OR a.t_free > ?1)"
    " AND (?2 IS NULL OR a.pid = ?2) GROUP BY a.stack_id";
  sqlite3_stmt *st = NULL;
  int rc = hq__db_prepare(b->db, sql, &st), step;
  if (rc) return rc;
  for (size_t i = 0; i < b->sites.cap; i++)
    if (b->sites.slots[i].cls == CLS_HEAP)
      b->sites.slots[i].peak_blocks = b->sites.slots[i].peak_bytes = 0;
  sqlite3_bind_int64(st, 1, t);
  if (b->have_peak_pid) sqlite3_bind_int64(st, 2, b->peak_pid);
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t stack_id = sqlite3_column_type(st, 0) == SQLITE_NULL ? STACK_NONE
                                                                 : sqlite3_column_int64(st, 0);
    site_acc_t *s = map_get(&b->sites, stack_id, CLS_HEAP);
    if (!s) { rc = HQ_ENOMEM; break; }
    s->peak_blocks = (uint64_t)sqlite3_column_int64(st, 1);
    s->peak_bytes = (uint64_t)sqlite3_column_int64(st, 2);
  }
  if (!rc && step != SQLITE_DONE) rc = hq__db_sqlerr(b->db, "peak sites");
  sqlite3_finalize(st);
  return rc;
}

/* The heap sweep: one more pass, collecting only heap events. */
static int heap_sweep(build_t *b) {
  static const char sql[] =
    "SELECT a.t_alloc, a.t_free, a.size FROM allocations a JOIN kinds k ON k.kind = a.kind"
    " WHERE k.class = 'heap' AND (?1 IS NULL OR a.pid = ?1)";
  event_vec_t *e = &b->events[CLS_HEAP];
  class_acc_t *c = &b->cls[CLS_HEAP];
  sqlite3_stmt *st = NULL;
  int rc = hq__db_prepare(b->db, sql, &st), step;
  if (rc) return rc;
  if (b->have_peak_pid) sqlite3_bind_int64(st, 1, b->peak_pid);
  e->n = 0;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t size = sqlite3_column_int64(st, 2);
    if (ev_push(e, sqlite3_column_int64(st, 0), size) ||
        (sqlite3_column_type(st, 1) != SQLITE_NULL &&
         ev_push(e, sqlite3_column_int64(st, 1), -size))) {
      rc = HQ_ENOMEM;
      break;
    }
  }
  if (!rc && step != SQLITE_DONE) rc = hq__db_sqlerr(b->db, "reading heap events");
  sqlite3_finalize(st);
  if (rc) return rc;
  ev_sweep(e, &c->peak_bytes, &c->peak_t, &c->has_peak);
  free(e->v);
  memset(e, 0, sizeof *e);
  return c->has_peak ? heap_peak_sites_sql(b, c->peak_t) : HQ_OK;
}

static int exec_fmt(hq_db_t *db, const char *fmt, const char *schema) {
  char sql[4096];
  if (hq__fmt(sql, sizeof sql, fmt, schema) != HQ_OK) return HQ_ERANGE;
  return hq__db_exec(db, sql);
}

/* The agg_* tables; %1$s is the schema. */
static const char create_sql[] =
  "DROP TABLE IF EXISTS %1$s.agg_info;"
  "DROP TABLE IF EXISTS %1$s.agg_stack;"
  "DROP TABLE IF EXISTS %1$s.agg_class;"
  "DROP TABLE IF EXISTS %1$s.agg_size;"
  "DROP TABLE IF EXISTS %1$s.agg_leak_class;"
  "DROP TABLE IF EXISTS %1$s.agg_line;"
  "CREATE TABLE %1$s.agg_info(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
  "CREATE TABLE %1$s.agg_stack(stack_id INTEGER, class TEXT NOT NULL,"
  " allocations INTEGER NOT NULL, bytes INTEGER NOT NULL, frees INTEGER NOT NULL,"
  " reallocs INTEGER NOT NULL, realloced INTEGER NOT NULL, leaked_blocks INTEGER NOT NULL,"
  " leaked_bytes INTEGER NOT NULL, temporary INTEGER NOT NULL, max_size INTEGER NOT NULL,"
  " peak_blocks INTEGER NOT NULL, peak_bytes INTEGER NOT NULL);"
  "CREATE TABLE %1$s.agg_class(class TEXT PRIMARY KEY, allocations INTEGER NOT NULL,"
  " bytes INTEGER NOT NULL, frees INTEGER NOT NULL, reallocs INTEGER NOT NULL,"
  " realloced INTEGER NOT NULL, leaked_blocks INTEGER NOT NULL, leaked_bytes INTEGER NOT NULL,"
  " temporary INTEGER NOT NULL, peak_bytes INTEGER NOT NULL, peak_t INTEGER) WITHOUT ROWID;"
  "CREATE TABLE %1$s.agg_size(class TEXT NOT NULL, bucket INTEGER NOT NULL,"
  " min_size INTEGER NOT NULL, max_size INTEGER NOT NULL, allocations INTEGER NOT NULL,"
  " bytes INTEGER NOT NULL, PRIMARY KEY(class, bucket)) WITHOUT ROWID;"
  "CREATE TABLE %1$s.agg_leak_class(class TEXT NOT NULL, leak_class TEXT,"
  " blocks INTEGER NOT NULL, bytes INTEGER NOT NULL);"
  "CREATE TABLE %1$s.agg_line(class TEXT NOT NULL, file TEXT, line INTEGER, function TEXT,"
  " module TEXT, offset INTEGER, allocations INTEGER NOT NULL, bytes INTEGER NOT NULL,"
  " leaked_blocks INTEGER NOT NULL, leaked_bytes INTEGER NOT NULL,"
  " temporary INTEGER NOT NULL, peak_bytes INTEGER NOT NULL);";

static int bind_u64(sqlite3_stmt *st, int i, uint64_t v) {
  return sqlite3_bind_int64(st, i, (int64_t)v);
}

static int step_reset(hq_db_t *db, sqlite3_stmt *st, const char *what) {
  int rc = sqlite3_step(st) == SQLITE_DONE ? HQ_OK : hq__db_sqlerr(db, what);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc;
}

static int write_tables(build_t *b) {
  char sql[512];
  sqlite3_stmt *st = NULL;
  int rc = exec_fmt(b->db, create_sql, b->schema);
  if (rc) goto out;

  /* agg_stack */
  hq__fmt(sql, sizeof sql, "INSERT INTO %s.agg_stack VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,"
          "?12,?13)", b->schema);
  rc = hq__db_prepare(b->db, sql, &st);
  if (rc) goto out;
  for (size_t i = 0; i < b->sites.cap; i++) {
    const site_acc_t *s = &b->sites.slots[i];
    if (s->cls < 0) continue;
    if (s->stack_id != STACK_NONE) sqlite3_bind_int64(st, 1, s->stack_id);
    sqlite3_bind_text(st, 2, hq_class_name(s->cls), -1, SQLITE_STATIC);
    bind_u64(st, 3, s->allocations);
    bind_u64(st, 4, s->bytes);
    bind_u64(st, 5, s->frees);
    bind_u64(st, 6, s->reallocs);
    bind_u64(st, 7, s->realloced);
    bind_u64(st, 8, s->leaked_blocks);
    bind_u64(st, 9, s->leaked_bytes);
    bind_u64(st, 10, s->temporary);
    bind_u64(st, 11, s->max_size);
    bind_u64(st, 12, s->peak_blocks);
    bind_u64(st, 13, s->peak_bytes);
    rc = step_reset(b->db, st, "writing agg_stack");
    if (rc) goto out;
  }
  sqlite3_finalize(st);
  st = NULL;

  /* agg_class: one row per class, zeros included, so reports never miss a row */
  hq__fmt(sql, sizeof sql, "INSERT INTO %s.agg_class VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
          b->schema);
  rc = hq__db_prepare(b->db, sql, &st);
  if (rc) goto out;
  for (int c = 0; c < CLS_N; c++) {
    const class_acc_t *a = &b->cls[c];
    sqlite3_bind_text(st, 1, hq_class_name(c), -1, SQLITE_STATIC);
    bind_u64(st, 2, a->allocations);
    bind_u64(st, 3, a->bytes);
    bind_u64(st, 4, a->frees);
    bind_u64(st, 5, a->reallocs);
    bind_u64(st, 6, a->realloced);
    bind_u64(st, 7, a->leaked_blocks);
    bind_u64(st, 8, a->leaked_bytes);
    bind_u64(st, 9, a->temporary);
    bind_u64(st, 10, a->peak_bytes);
    if (a->has_peak) sqlite3_bind_int64(st, 11, a->peak_t);
    rc = step_reset(b->db, st, "writing agg_class");
    if (rc) goto out;
  }
  sqlite3_finalize(st);
  st = NULL;

  /* agg_size */
  hq__fmt(sql, sizeof sql, "INSERT INTO %s.agg_size VALUES(?1,?2,?3,?4,?5,?6)", b->schema);
  rc = hq__db_prepare(b->db, sql, &st);
  if (rc) goto out;
  for (int c = 0; c < CLS_N; c++) {
    for (int slot = 0; slot < 64; slot++) {
      int bucket = slot - 1;
      if (!b->cls[c].hist_count[slot]) continue;
      sqlite3_bind_text(st, 1, hq_class_name(c), -1, SQLITE_STATIC);
      sqlite3_bind_int(st, 2, bucket);
      sqlite3_bind_int64(st, 3, bucket < 0 ? 0 : (int64_t)1 << bucket);
      sqlite3_bind_int64(st, 4, bucket < 0 ? 0 : bucket >= 62 ? INT64_MAX
                                                              : ((int64_t)1 << (bucket + 1)) - 1);
      bind_u64(st, 5, b->cls[c].hist_count[slot]);
      bind_u64(st, 6, b->cls[c].hist_bytes[slot]);
      rc = step_reset(b->db, st, "writing agg_size");
      if (rc) goto out;
    }
  }
  sqlite3_finalize(st);
  st = NULL;

  /* agg_leak_class */
  hq__fmt(sql, sizeof sql, "INSERT INTO %s.agg_leak_class VALUES(?1,?2,?3,?4)", b->schema);
  rc = hq__db_prepare(b->db, sql, &st);
  if (rc) goto out;
  for (size_t i = 0; i < b->n_leaks; i++) {
    sqlite3_bind_text(st, 1, hq_class_name(b->leaks[i].cls), -1, SQLITE_STATIC);
    if (b->leaks[i].leak_class)
      sqlite3_bind_text(st, 2, b->leaks[i].leak_class, -1, SQLITE_STATIC);
    bind_u64(st, 3, b->leaks[i].blocks);
    bind_u64(st, 4, b->leaks[i].bytes);
    rc = step_reset(b->db, st, "writing agg_leak_class");
    if (rc) goto out;
  }
  sqlite3_finalize(st);
  st = NULL;

  /* agg_info: what the tables were built from */
  hq__fmt(sql, sizeof sql,
          "INSERT INTO %s.agg_info VALUES('version', ?1), ('max_id', ?2), ('rows', ?3)",
          b->schema);
  rc = hq__db_prepare(b->db, sql, &st);
  if (rc) goto out;
  sqlite3_bind_int(st, 1, AGG_VERSION);
  sqlite3_bind_int64(st, 2, b->max_id);
  bind_u64(st, 3, b->rows);
  rc = step_reset(b->db, st, "writing agg_info");
  if (rc) goto out;
  rc = exec_fmt(b->db, "CREATE INDEX %1$s.agg_stack_by_stack ON agg_stack(stack_id)", b->schema);
  if (!rc) rc = hq__ltime_write(b->db, b->schema, &b->leak_time);
out:
  sqlite3_finalize(st);
  return rc;
}



static int build_in(hq_db_t *db, const char *schema) {
  build_t b;
  int rc;
  memset(&b, 0, sizeof b);
  b.db = db;
  b.schema = schema;

  rc = hq__meta_int_opt(db, "peak_heap_t", &b.heap_peak_t, &b.have_heap_peak_t);
  if (!rc) rc = hq__meta_int_opt(db, "peak_heap_bytes", &b.heap_peak_bytes_meta,
                             &b.have_heap_peak_bytes);
  if (!rc) rc = hq__meta_int_opt(db, "peak_heap_pid", &b.peak_pid, &b.have_peak_pid);
  if (rc) goto out;
  for (int c = 0; c < CLS_N; c++) b.sweep[c] = c != CLS_HEAP;
  rc = scan_allocations(&b);
  if (rc) goto out;

  for (int c = 0; c < CLS_N; c++) {
    if (!b.sweep[c]) continue;
    ev_sweep(&b.events[c], &b.cls[c].peak_bytes, &b.cls[c].peak_t, &b.cls[c].has_peak);
  }
  if (b.have_heap_peak_t && b.cls[CLS_HEAP].allocations &&
      (!b.have_heap_peak_bytes ||
       (uint64_t)b.heap_peak_bytes_meta == b.cls[CLS_HEAP].peak_bytes)) {
    b.cls[CLS_HEAP].peak_t = b.heap_peak_t;
    b.cls[CLS_HEAP].has_peak = 1;
  } else if (b.cls[CLS_HEAP].allocations) {
    /* No peak time from the importer, or one that disagrees with the rows: sweep. */
    rc = heap_sweep(&b);
    if (rc) goto out;
    if (strcmp(schema, "main") == 0) {
      rc = hq__meta_set_int(db, "peak_heap_t", b.cls[CLS_HEAP].peak_t);
      if (!rc) rc = hq__meta_set_int(db, "peak_heap_bytes",
                                        (int64_t)b.cls[CLS_HEAP].peak_bytes);
      if (rc) goto out;
    }
  }
  rc = write_tables(&b);
  if (!rc) rc = refresh_lines_in(db, schema);
out:
  free(b.sites.slots);
  for (int c = 0; c < CLS_N; c++) free(b.events[c].v);
  for (size_t i = 0; i < b.n_leaks; i++) free(b.leaks[i].leak_class);
  return rc;
}

/* Run fn inside a savepoint: works inside the importer's transaction and on its own. */
static int in_savepoint(hq_db_t *db, const char *schema, int (*fn)(hq_db_t *, const char *)) {
  int rc = hq__db_exec(db, "SAVEPOINT hq_aggregate");
  if (rc) return rc;
  return hq__savepoint_end(db, "hq_aggregate", fn(db, schema));
}

/* ---- streaming: the importer feeds events in time order, no second pass ---- */

/*
 * The heap peak per stack without keeping rows: each site keeps its live bytes, and the first
 * time it changes after a new peak was recorded, it saves the value it had at that peak
 * (saved_epoch = the peak's number).  A site untouched since the latest peak still holds its
 * value at the peak in live_*.  A peak is judged once all events of one timestamp are in, which
 * is the definition the documented sweep query uses.
 */
struct hq__agg_s {
  build_t b;
  void (*on_heap_peak)(void *arg, uint64_t bytes, int64_t t);
  void *peak_arg;
  int64_t cur_t;
  int started, unordered;
  int64_t live[CLS_N];
  int touched[CLS_N];
  uint64_t epoch;
  struct { const char *name; uint64_t blocks, bytes; } heap_leak[4]; /* hq__agg_leak_class */
};

static void close_timestamp(hq__agg_t *a) {
  for (int c = 0; c < CLS_N; c++) {
    class_acc_t *k = &a->b.cls[c];
    if (!a->touched[c]) continue;
    a->touched[c] = 0;
    if (!k->has_peak || a->live[c] > (int64_t)k->peak_bytes) {
      k->has_peak = 1;
      k->peak_bytes = a->live[c] > 0 ? (uint64_t)a->live[c] : 0;
      k->peak_t = a->cur_t;
      if (c == CLS_HEAP) {
        a->epoch++;
        if (a->on_heap_peak) a->on_heap_peak(a->peak_arg, k->peak_bytes, k->peak_t);
      }
    }
  }
}

static void advance(hq__agg_t *a, int64_t t) {
  if (!a->started) {
    a->started = 1;
    a->cur_t = t;
  } else if (t < a->cur_t) {
    a->unordered = 1; /* finish() falls back to the scan */
  } else if (t > a->cur_t) {
    close_timestamp(a);
    a->cur_t = t;
  }
}

static void touch(hq__agg_t *a, site_acc_t *s) {
  if (s->saved_epoch != a->epoch) {
    s->saved_blocks = s->live_blocks;
    s->saved_bytes = s->live_bytes;
    s->saved_epoch = a->epoch;
  }
}

int hq__agg_begin(hq_db_t *db, hq__agg_t **out) {
  hq__agg_t *a;
  if (!out) return HQ_MISUSE_BKPT;
  *out = NULL;
  if (!HQ_DB_OK(db)) return HQ_MISUSE_BKPT;
  a = calloc(1, sizeof *a);
  if (!a) return HQ_ENOMEM;
  a->b.db = db;
  a->b.schema = "main";
  *out = a;
  return HQ_OK;
}

void hq__agg_on_heap_peak(hq__agg_t *a, void (*fn)(void *arg, uint64_t bytes, int64_t t),
                          void *arg) {
  a->on_heap_peak = fn;
  a->peak_arg = arg;
}

void hq__agg_flush(hq__agg_t *a) {
  if (a->started) close_timestamp(a);
}

int hq__agg_class_peak(const hq__agg_t *a, int cls, uint64_t *out_bytes, int64_t *out_t) {
  const class_acc_t *c;
  if (cls < 0 || cls >= CLS_N || !a->b.cls[cls].has_peak) return HQ_ENOENT;
  c = &a->b.cls[cls];
  *out_bytes = c->peak_bytes;
  *out_t = c->peak_t;
  return HQ_OK;
}

/* The site of an event, with the time advanced and the site's value at the last peak saved. */
static site_acc_t *event_site(hq__agg_t *a, const hq__agg_event_t *ev, int *out_cls) {
  site_acc_t *s;
  const hq__kind_info_t *k = hq__kind(ev->kind);
  *out_cls = k ? k->cls : -1;
  if (*out_cls < 0) return NULL;
  advance(a, ev->t);
  s = map_get(&a->b.sites, ev->has_stack ? ev->stack_id : STACK_NONE, *out_cls);
  if (s && *out_cls == CLS_HEAP) touch(a, s);
  a->touched[*out_cls] = 1;
  return s;
}

int hq__agg_alloc(hq__agg_t *a, const hq__agg_event_t *ev) {
  site_acc_t *s;
  int cls;
  if (!a || !ev) return HQ_EINVAL;
  s = event_site(a, ev, &cls);
  if (!s) return cls < 0 ? HQ_OK : HQ_ENOMEM;
  count_alloc(&a->b, s, cls, ev->size, ev->from_realloc);
  if (cls == CLS_HEAP) hq__ltime_add(&a->b.leak_time, ev->t, (int64_t)ev->size, 1);
  s->live_blocks++;
  s->live_bytes += (int64_t)ev->size;
  a->live[cls] += (int64_t)ev->size;
  return HQ_OK;
}

int hq__agg_free(hq__agg_t *a, const hq__agg_event_t *ev) {
  site_acc_t *s;
  int cls;
  if (!a || !ev) return HQ_EINVAL;
  s = event_site(a, ev, &cls);
  if (!s) return cls < 0 ? HQ_OK : HQ_ENOMEM;
  count_free(&a->b, s, cls, ev->free_kind == HQ_FREE_REALLOC,
             ev->free_tid == ev->tid && ev->free_seq == ev->alloc_seq);
  if (cls == CLS_HEAP) hq__ltime_add(&a->b.leak_time, ev->t_alloc, -(int64_t)ev->size, -1);
  s->live_blocks--;
  s->live_bytes -= (int64_t)ev->size;
  a->live[cls] -= (int64_t)ev->size;
  return HQ_OK;
}

void hq__agg_leak_class(hq__agg_t *a, const char *leak_class, uint64_t size) {
  if (!a || !leak_class) return;
  for (size_t k = 0; k < HQ_ARRAY_LEN(a->heap_leak); k++) {
    if (a->heap_leak[k].name && strcmp(a->heap_leak[k].name, leak_class)) continue;
    a->heap_leak[k].name = leak_class;
    a->heap_leak[k].blocks++;
    a->heap_leak[k].bytes += size;
    return;
  }
}

void hq__agg_abort(hq__agg_t *a) {
  if (!a) return;
  for (size_t i = 0; i < a->b.n_leaks; i++) free(a->b.leaks[i].leak_class);
  free(a->b.sites.slots);
  free(a);
}

int hq__agg_finish(hq__agg_t *a) {
  hq_db_t *db;
  build_t *b;
  int rc = HQ_OK;
  if (!a) return HQ_EINVAL;
  db = a->b.db;
  b = &a->b;
  if (a->unordered) {
    /* Events came out of time order: the running peak is not trustworthy; read the rows. */
    hq__agg_abort(a);
    return hq__aggregate_build(db);
  }
  if (a->started) close_timestamp(a);
  for (size_t i = 0; i < b->sites.cap; i++) {
    site_acc_t *s = &b->sites.slots[i];
    if (s->cls < 0) continue;
    s->leaked_blocks = s->live_blocks > 0 ? (uint64_t)s->live_blocks : 0;
    s->leaked_bytes = s->live_bytes > 0 ? (uint64_t)s->live_bytes : 0;
    b->cls[s->cls].leaked_blocks += s->leaked_blocks;
    b->cls[s->cls].leaked_bytes += s->leaked_bytes;
    if (s->cls == CLS_HEAP && a->epoch > 0) {
      int at_peak_saved = s->saved_epoch == a->epoch;
      s->peak_blocks = (uint64_t)(at_peak_saved ? s->saved_blocks : s->live_blocks);
      s->peak_bytes = (uint64_t)(at_peak_saved ? s->saved_bytes : s->live_bytes);
    }
  }
  for (int c = 0; c < CLS_N && b->n_leaks < sizeof b->leaks / sizeof b->leaks[0]; c++) {
    uint64_t blocks = b->cls[c].leaked_blocks, bytes = b->cls[c].leaked_bytes;
    if (!blocks) continue;
    /* the heap's classified blocks apart; what is left is unclassified (NULL) */
    for (size_t k = 0; c == CLS_HEAP && k < HQ_ARRAY_LEN(a->heap_leak); k++) {
      if (!a->heap_leak[k].name || a->heap_leak[k].blocks > blocks ||
          b->n_leaks == sizeof b->leaks / sizeof b->leaks[0])
        continue;
      b->leaks[b->n_leaks].cls = c;
      b->leaks[b->n_leaks].leak_class = strdup(a->heap_leak[k].name);
      if (!b->leaks[b->n_leaks].leak_class) { rc = HQ_ENOMEM; goto out; }
      b->leaks[b->n_leaks].blocks = a->heap_leak[k].blocks;
      b->leaks[b->n_leaks].bytes = a->heap_leak[k].bytes;
      b->n_leaks++;
      blocks -= a->heap_leak[k].blocks;
      bytes -= a->heap_leak[k].bytes;
    }
    if (!blocks || b->n_leaks == sizeof b->leaks / sizeof b->leaks[0]) continue;
    b->leaks[b->n_leaks].cls = c;
    b->leaks[b->n_leaks].blocks = blocks;
    b->leaks[b->n_leaks].bytes = bytes;
    b->n_leaks++;
  }
  rc = max_allocation_id(db, &b->max_id);
  if (rc) goto out;
  rc = hq__db_exec(db, "SAVEPOINT hq_aggregate");
  if (rc) goto out;
  /* A run without heap allocations has a peak of 0 at 0. */
  rc = hq__meta_set_int(db, "peak_heap_t", b->cls[CLS_HEAP].has_peak ? b->cls[CLS_HEAP].peak_t : 0);
  if (!rc) rc = hq__meta_set_int(db, "peak_heap_bytes", (int64_t)b->cls[CLS_HEAP].peak_bytes);
  if (!rc) rc = write_tables(b);
  if (!rc) rc = refresh_lines_in(db, "main");
  rc = hq__savepoint_end(db, "hq_aggregate", rc);
out:
  hq__agg_abort(a);
  return rc;
}

int hq__aggregate_build(hq_db_t *db) {
  if (!HQ_DB_OK(db)) return HQ_MISUSE_BKPT;
  return in_savepoint(db, "main", build_in);
}

/* Which schema holds the aggregate tables: "temp" shadows "main"; NULL when neither does. */
static const char *agg_schema(hq_db_t *db) {
  static const char *const schemas[] = {"temp", "main"};
  for (size_t i = 0; i < 2; i++) {
    char sql[128];
    sqlite3_stmt *st = NULL;
    int found = 0;
    hq__fmt(sql, sizeof sql,
            "SELECT 1 FROM %s.sqlite_master WHERE type = 'table' AND name = 'agg_info'",
            schemas[i]);
    if (sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL) == SQLITE_OK)
      found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (found) return schemas[i];
  }
  return NULL;
}

/* Frames with any symbol information: the stamp that tells whether agg_line is current. */
int hq__symbol_stamp(hq_db_t *db, int64_t *out) {
  sqlite3_stmt *st = NULL;
  int rc = hq__db_prepare(db, "SELECT count(*) FROM frames WHERE function IS NOT NULL OR"
                              " file IS NOT NULL", &st);
  if (rc) return rc;
  if (sqlite3_step(st) == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
  else rc = hq__db_sqlerr(db, "counting symbolized frames");
  sqlite3_finalize(st);
  return rc;
}

/* The line of a stack is its leaf frame's, or, in a stack with Python frames, its innermost
 * Python frame's (tracemalloc's line): the same walk as the by_line view (hq_schema.sql). */
#define PY_TAG_SQL "4611686018427387904" /* HQ_PYFRAME_TAG (heapql/internal/pyframe.h) */
static int refresh_lines_in(hq_db_t *db, const char *schema) {
  static const char fmt[] =
    "DROP TABLE IF EXISTS temp.hq_python_line;"
    "CREATE TEMP TABLE hq_python_line(stack_id INTEGER PRIMARY KEY, frame_id INTEGER);"
    "INSERT OR IGNORE INTO temp.hq_python_line"
    " WITH RECURSIVE up(stack_id, node, frame_id) AS ("
    "  SELECT s.id, s.parent_id, s.frame_id FROM stacks s"
    "   WHERE EXISTS (SELECT 1 FROM frames WHERE ip >= " PY_TAG_SQL ")"
    "     AND s.id IN (SELECT stack_id FROM %1$s.agg_stack)"
    "  UNION ALL"
    "  SELECT u.stack_id, s.parent_id, s.frame_id FROM up u JOIN stacks s ON s.id = u.node"
    "   WHERE (SELECT ip FROM frames WHERE id = u.frame_id) < " PY_TAG_SQL ")"
    " SELECT u.stack_id, u.frame_id FROM up u JOIN frames f ON f.id = u.frame_id"
    "  WHERE f.ip >= " PY_TAG_SQL ";"
    "DELETE FROM %1$s.agg_line;"
    "INSERT INTO %1$s.agg_line"
    " SELECT g.class, f.file, f.line, f.function,"
    "  CASE WHEN f.file IS NULL THEN m.path END, CASE WHEN f.file IS NULL THEN f.offset END,"
    "  sum(g.allocations), sum(g.bytes), sum(g.leaked_blocks), sum(g.leaked_bytes),"
    "  sum(g.temporary), sum(g.peak_bytes)"
    " FROM %1$s.agg_stack g JOIN stacks s ON s.id = g.stack_id"
    "  LEFT JOIN temp.hq_python_line p ON p.stack_id = g.stack_id"
    "  JOIN frames f ON f.id = coalesce(p.frame_id, s.frame_id)"
    "  LEFT JOIN modules m ON m.id = f.module_id"
    " GROUP BY g.class, f.file, f.line, f.function,"
    "  CASE WHEN f.file IS NULL THEN m.path END, CASE WHEN f.file IS NULL THEN f.offset END;"
    "DROP TABLE temp.hq_python_line;";
  char sql[256];
  sqlite3_stmt *st = NULL;
  int64_t stamp = 0;
  int rc = exec_fmt(db, fmt, schema);
  if (!rc) rc = hq__symbol_stamp(db, &stamp);
  if (rc) return rc;
  hq__fmt(sql, sizeof sql, "INSERT OR REPLACE INTO %s.agg_info VALUES('symbols', ?1)", schema);
  rc = hq__db_prepare(db, sql, &st);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, stamp);
  rc = sqlite3_step(st) == SQLITE_DONE ? HQ_OK : hq__db_sqlerr(db, "writing agg_info");
  sqlite3_finalize(st);
  return rc;
}

int hq__aggregate_refresh_symbols(hq_db_t *db) {
  const char *schema;
  if (!HQ_DB_OK(db)) return HQ_MISUSE_BKPT;
  schema = agg_schema(db);
  if (!schema) return HQ_OK; /* nothing built yet: the first report builds everything */
  return in_savepoint(db, schema, refresh_lines_in);
}

static int refresh_leaks_in(hq_db_t *db, const char *schema) {
  static const char fmt[] =
    "DELETE FROM %1$s.agg_leak_class;"
    "INSERT INTO %1$s.agg_leak_class"
    " SELECT class, leak_class, count(*), sum(size) FROM leaks GROUP BY class, leak_class;";
  return exec_fmt(db, fmt, schema);
}

int hq__aggregate_refresh_leaks(hq_db_t *db) {
  const char *schema;
  if (!HQ_DB_OK(db)) return HQ_MISUSE_BKPT;
  schema = agg_schema(db);
  if (!schema) return HQ_OK;
  return in_savepoint(db, schema, refresh_leaks_in);
}

static int info_int(hq_db_t *db, const char *schema, const char *key, int64_t *out, int *has) {
  char sql[128];
  sqlite3_stmt *st = NULL;
  int rc;
  *has = 0;
  hq__fmt(sql, sizeof sql, "SELECT value FROM %s.agg_info WHERE key = ?1", schema);
  rc = hq__db_prepare(db, sql, &st);
  if (rc) return rc;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *has = sqlite3_column_type(st, 0) != SQLITE_NULL;
    *out = sqlite3_column_int64(st, 0);
    rc = HQ_OK;
  } else {
    rc = rc == SQLITE_DONE ? HQ_OK : hq__db_sqlerr(db, "reading agg_info");
  }
  sqlite3_finalize(st);
  return rc;
}

static int max_allocation_id(hq_db_t *db, int64_t *out) {
  sqlite3_stmt *st = NULL;
  /* exactly "SELECT max(id)": SQLite answers that from the end of the b-tree, without a scan */
  int rc = hq__db_prepare(db, "SELECT max(id) FROM allocations", &st);
  if (rc) return rc;
  if (sqlite3_step(st) == SQLITE_ROW) *out = sqlite3_column_int64(st, 0); /* NULL -> 0 */
  else rc = hq__db_sqlerr(db, "reading allocations");
  sqlite3_finalize(st);
  return rc;
}

int hq__aggregate_ensure(hq_db_t *db) {
  const char *schema, *target;
  int64_t version = 0, built_max = 0, max_id = 0, sym_built = 0, sym_now = 0;
  int has_version = 0, has_max = 0, has_sym = 0, rc;

  if (!HQ_DB_OK(db)) return HQ_MISUSE_BKPT;
  rc = max_allocation_id(db, &max_id);
  if (rc) return rc;
  schema = agg_schema(db);
  if (schema) {
    rc = info_int(db, schema, "version", &version, &has_version);
    if (!rc) rc = info_int(db, schema, "max_id", &built_max, &has_max);
    if (!rc) rc = info_int(db, schema, "symbols", &sym_built, &has_sym);
    if (rc) return rc;
  }
  target = sqlite3_db_readonly(db->sql, "main") ? "temp" : "main";
  if (!schema || !has_version || version != AGG_VERSION || !has_max || built_max != max_id)
    return in_savepoint(db, target, build_in);
  rc = hq__symbol_stamp(db, &sym_now);
  if (rc) return rc;
  if (!has_sym || sym_built != sym_now) {
    /* Symbols arrived after the build and nobody refreshed agg_line: do it now, in place when
     * we may write there, else rebuild everything in TEMP. */
    if (strcmp(schema, "temp") == 0 || strcmp(target, "main") == 0)
      rc = in_savepoint(db, schema, refresh_lines_in);
    else
      rc = in_savepoint(db, "temp", build_in);
  }
  return rc;
}
