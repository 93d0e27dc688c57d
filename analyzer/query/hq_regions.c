/*
 * hq_regions.c: what happened inside each annotated region (`regions`, from annotate.h and the
 * kernels), grouped by region path, and the counters summarised.
 *
 * A region instance holds the allocations whose region_id is itself or one of its descendants
 * (regions nest per thread; an allocation carries its thread's innermost one).  Per instance:
 * allocations and bytes by class, the peak of the bytes allocated inside it and still live,
 * taken while it was open, and what of them was still live when it closed ("kept").  Instances
 * with the same path (pid and the names from the outermost region in) are summed: count, time,
 * allocations, bytes and kept add up; the peak is the highest instance's.
 *
 * One sweep in time order over the region-tagged allocations and frees and the regions' ends
 * (SQL sorts it): an allocation adds to every instance on its region's chain, a release takes
 * from them, an instance's end reads its live bytes as kept.  Memory: the instances and groups,
 * not the events.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"

/* When an instance ended, in SQL over regions r LEFT JOIN processes p: one expression for its
 * time and for the sweep, so both agree.  One never closed ends with its process (its duration,
 * else its last sample); an end before the begin is the begin. */
/* A region as reports name it: an NVTX domain's ranges carry the domain ("train/step"), and a
 * process-wide (start/end) range says so. */
#define REGION_LABEL \
  "(coalesce(r.domain || '/', '') || r.name || CASE WHEN r.scope = 'process' THEN ' (process-wide)' ELSE '' END)"
#define REGION_END                                                                         \
  "max(r.t_begin, coalesce(r.t_end, p.duration_ns, "                                       \
  "(SELECT max(t) FROM samples s WHERE s.pid IS r.pid), r.t_begin))"

typedef struct {
  int64_t id, pid, parent;   /* parent: index in the instances, -1 at the top */
  int64_t t_begin, t_end;    /* t_end: the process end when the region never closed */
  int open;                  /* never closed */
  char *name;
  size_t group;
  uint64_t live[HQ__REGION_CLASSES], peak[HQ__REGION_CLASSES];
} inst_t;

typedef struct {
  inst_t *v;
  size_t n, cap;
  hq__region_t *groups;
  size_t n_groups, cap_groups;
  size_t *slots;             /* open addressing over groups: index + 1, 0 empty */
  size_t n_slots;            /* a power of two, at least twice the instances */
} regions_t;

static uint64_t group_hash(int64_t pid, size_t parent, const char *name) {
  uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)pid * 0x9e3779b97f4a7c15ull ^ (uint64_t)parent;
  for (const unsigned char *c = (const unsigned char *)name; *c; c++) h = (h ^ *c) * 0x100000001b3ull;
  return h ^ (h >> 29);
}

static int inst_by_id(const void *key, const void *elem) {
  int64_t k = *(const int64_t *)key, id = ((const inst_t *)elem)->id;
  return k < id ? -1 : k > id;
}

static inst_t *find_inst(regions_t *r, int64_t id) {
  return bsearch(&id, r->v, r->n, sizeof *r->v, inst_by_id);
}

static int load_instance(sqlite3_stmt *st, void *ctx) {
  regions_t *r = ctx;
  inst_t *in;
  if (hq__grow((void **)&r->v, &r->cap, r->n, sizeof *r->v, 64)) return HQ_ENOMEM;
  in = &r->v[r->n];
  memset(in, 0, sizeof *in);
  in->id = sqlite3_column_int64(st, 0);
  in->pid = sqlite3_column_int64(st, 1);
  in->name = hq__col_strdup(st, 2);
  in->parent = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 3);
  in->t_begin = sqlite3_column_int64(st, 4);
  in->t_end = sqlite3_column_int64(st, 5);
  in->open = sqlite3_column_int(st, 6);
  if (!in->name) return HQ_ENOMEM;
  r->n++;
  return 0;
}

/* The group of instance i (its parent's first): same pid, same parent group, same name. */
static int assign_group(regions_t *r, size_t i) {
  inst_t *in = &r->v[i];
  size_t parent_group = SIZE_MAX, slot;
  hq__region_t *g;
  if (in->group != SIZE_MAX) return HQ_OK;
  if (in->parent >= 0) {
    int rc = assign_group(r, (size_t)in->parent);
    if (rc) return rc;
    parent_group = r->v[in->parent].group;
  }
  for (slot = group_hash(in->pid, parent_group, in->name) & (r->n_slots - 1); r->slots[slot];
       slot = (slot + 1) & (r->n_slots - 1)) {
    g = &r->groups[r->slots[slot] - 1];
    if (g->pid == in->pid && g->parent == parent_group && !strcmp(g->name, in->name)) {
      in->group = r->slots[slot] - 1;
      if (in->t_begin < g->first_begin_ns) g->first_begin_ns = in->t_begin;
      return HQ_OK;
    }
  }
  if (hq__grow((void **)&r->groups, &r->cap_groups, r->n_groups, sizeof *r->groups, 16))
    return HQ_ENOMEM;
  g = &r->groups[r->n_groups];
  memset(g, 0, sizeof *g);
  g->pid = in->pid;
  g->parent = parent_group;
  g->depth = parent_group == SIZE_MAX ? 0 : r->groups[parent_group].depth + 1;
  g->first_begin_ns = in->t_begin;
  if (!(g->name = strdup(in->name))) return HQ_ENOMEM;
  in->group = r->n_groups++;
  r->slots[slot] = r->n_groups;
  return HQ_OK;
}

static int class_index(const char *cls) {
  static const char *const names[HQ__REGION_CLASSES] = {"heap", "pool", "device", "mmap"};
  for (int i = 0; cls && i < HQ__REGION_CLASSES; i++)
    if (!strcmp(cls, names[i])) return i;
  return -1;
}

/* One event of the sweep: 0 a release, 1 an allocation, 2 the release of a block allocated at
 * the same instant (after its allocation), 3 a region's end.  At one instant the releases come
 * first, a region's end last: what is allocated at its last instant is inside it, what is
 * released then is not kept. */
static int sweep_event(sqlite3_stmt *st, void *ctx) {
  regions_t *r = ctx;
  int ev = sqlite3_column_int(st, 1), cls;
  inst_t *in = find_inst(r, sqlite3_column_int64(st, 2));
  uint64_t size = (uint64_t)sqlite3_column_int64(st, 3);
  if (!in) return 0; /* a region_id without its region (a damaged or hand-made database) */
  if (ev == 3) {
    hq__region_t *g = &r->groups[in->group];
    for (int c = 0; c < HQ__REGION_CLASSES; c++) {
      g->cls[c].kept_bytes += in->live[c];
      if (in->peak[c] > g->cls[c].peak_live_bytes) g->cls[c].peak_live_bytes = in->peak[c];
    }
    return 0;
  }
  if ((cls = class_index((const char *)sqlite3_column_text(st, 4))) < 0) return 0;
  for (inst_t *a = in; a; a = a->parent >= 0 ? &r->v[a->parent] : NULL) {
    if (ev == 1) {
      hq__region_t *g = &r->groups[a->group];
      g->cls[cls].allocations++;
      g->cls[cls].bytes += size;
      a->live[cls] += size;
      if (a->live[cls] > a->peak[cls]) a->peak[cls] = a->live[cls];
    } else if (a->live[cls] >= size) {
      a->live[cls] -= size;
    }
  }
  return 0;
}

static int load_counter(sqlite3_stmt *st, void *ctx) {
  hq__regions_t *out = ctx;
  hq__counter_t *c;
  if (hq__grow((void **)&out->counters, &out->cap_counters, out->n_counters, sizeof *out->counters, 16))
    return HQ_ENOMEM;
  c = &out->counters[out->n_counters];
  memset(c, 0, sizeof *c);
  c->pid = sqlite3_column_int64(st, 0);
  if (!(c->name = hq__col_strdup(st, 1))) return HQ_ENOMEM;
  c->samples = (uint64_t)sqlite3_column_int64(st, 2);
  c->min = sqlite3_column_double(st, 3);
  c->max = sqlite3_column_double(st, 4);
  c->first = sqlite3_column_double(st, 5);
  c->last = sqlite3_column_double(st, 6);
  out->n_counters++;
  return 0;
}

/* Groups in tree order: each right after its parent's subtree begins, siblings by their first
 * begin (then name). */
static const hq__region_t *sort_base;
static int sibling_cmp(const void *x, const void *y) {
  const hq__region_t *a = &sort_base[*(const size_t *)x], *b = &sort_base[*(const size_t *)y];
  size_t pa = a->parent + 1, pb = b->parent + 1; /* the roots (SIZE_MAX) first */
  if (pa != pb) return pa < pb ? -1 : 1;
  if (a->first_begin_ns != b->first_begin_ns) return a->first_begin_ns < b->first_begin_ns ? -1 : 1;
  return strcmp(a->name, b->name);
}

static int order_tree(regions_t *r, hq__regions_t *out) {
  size_t g = r->n_groups, n = 0, top = 0;
  size_t *by_parent = malloc((g + 1) * sizeof *by_parent);  /* children contiguous, in order */
  size_t *first = calloc(g + 2, sizeof *first);            /* by_parent range of parent + 1 */
  size_t *stack = malloc((g + 1) * sizeof *stack), *remap = malloc((g + 1) * sizeof *remap);
  hq__region_t *sorted = malloc((g + 1) * sizeof *sorted);
  int rc = HQ_OK;
  if (!by_parent || !first || !stack || !remap || !sorted) {
    rc = HQ_ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < g; i++) by_parent[i] = i;
  sort_base = r->groups;
  qsort(by_parent, g, sizeof *by_parent, sibling_cmp);
  for (size_t i = 0; i < g; i++) first[r->groups[i].parent + 1 + 1]++; /* counts, shifted */
  for (size_t i = 1; i < g + 2; i++) first[i] += first[i - 1];
  /* depth-first: a parent's children pushed in reverse so the earliest comes out first */
  for (size_t k = first[1]; k-- > first[0];) stack[top++] = by_parent[k];
  while (top) {
    size_t cur = stack[--top];
    remap[cur] = n;
    sorted[n++] = r->groups[cur];
    for (size_t k = first[cur + 2]; k-- > first[cur + 1];) stack[top++] = by_parent[k];
  }
  for (size_t i = 0; i < n; i++)
    if (sorted[i].parent != SIZE_MAX) sorted[i].parent = remap[sorted[i].parent];
  out->regions = sorted;
  out->n_regions = n;
  sorted = NULL;
  free(r->groups); /* their names now belong to out */
  r->groups = NULL;
  r->n_groups = 0;
out:
  free(by_parent);
  free(first);
  free(stack);
  free(remap);
  free(sorted);
  return rc;
}

void hq__regions_free(hq__regions_t *out) {
  if (!out) return;
  for (size_t i = 0; i < out->n_regions; i++) free(out->regions[i].name);
  for (size_t i = 0; i < out->n_counters; i++) free(out->counters[i].name);
  free(out->regions);
  free(out->counters);
  memset(out, 0, sizeof *out);
}

int hq__regions_compute(hq_db_t *db, hq__regions_t *out) {
  regions_t r;
  int rc;
  if (!out) return HQ_MISUSE_BKPT;
  memset(out, 0, sizeof *out);
  if (!HQ_DB_OK(db)) return HQ_MISUSE_BKPT;
  memset(&r, 0, sizeof r);
  /* Instances by id; a region never closed ends with its process. */
  rc = hq__db_each(db,
                   "SELECT r.id, r.pid, " REGION_LABEL ", r.parent_id, r.t_begin, " REGION_END ", "
                   "r.t_end IS NULL FROM regions r LEFT JOIN processes p ON p.pid = r.pid ORDER BY r.id",
                   "reading regions", load_instance, &r);
  if (rc) goto out;
  for (r.n_slots = 16; r.n_slots < 2 * r.n; r.n_slots *= 2) {}
  if (!(r.slots = calloc(r.n_slots, sizeof *r.slots))) {
    rc = HQ_ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < r.n; i++) {
    inst_t *parent = r.v[i].parent >= 0 ? find_inst(&r, r.v[i].parent) : NULL;
    /* a parent that is missing, or not older than its child, cannot make a cycle */
    r.v[i].parent = parent && parent->id < r.v[i].id ? parent - r.v : -1;
    r.v[i].group = SIZE_MAX;
  }
  for (size_t i = 0; i < r.n && !rc; i++) rc = assign_group(&r, i);
  for (size_t i = 0; i < r.n && !rc; i++) {
    hq__region_t *g = &r.groups[r.v[i].group];
    g->instances++;
    g->unfinished += (uint64_t)r.v[i].open;
    g->time_ns += (uint64_t)(r.v[i].t_end - r.v[i].t_begin);
  }
  if (rc) goto out;
  rc = hq__db_each(db,
                   "SELECT t, ev, region, size, class FROM ("
                   " SELECT a.t_alloc AS t, 1 AS ev, a.region_id AS region, a.size AS size, k.class AS class"
                   " FROM allocations a JOIN kinds k ON k.kind = a.kind WHERE a.region_id IS NOT NULL"
                   " UNION ALL SELECT a.t_free, CASE WHEN a.t_free = a.t_alloc THEN 2 ELSE 0 END,"
                   " a.region_id, a.size, k.class FROM allocations a JOIN kinds k ON k.kind = a.kind"
                   " WHERE a.region_id IS NOT NULL AND a.t_free IS NOT NULL"
                   " UNION ALL SELECT " REGION_END ", 3, r.id, 0, NULL"
                   " FROM regions r LEFT JOIN processes p ON p.pid = r.pid)"
                   " ORDER BY t, ev", "reading the regions' allocations", sweep_event, &r);
  if (rc) goto out;
  if ((rc = order_tree(&r, out))) goto out;
  rc = hq__db_each(db,
                   "SELECT c.pid, c.name, count(*), min(c.value), max(c.value),"
                   " (SELECT value FROM counters f WHERE f.pid IS c.pid AND f.name = c.name ORDER BY t, rowid LIMIT 1),"
                   " (SELECT value FROM counters l WHERE l.pid IS c.pid AND l.name = c.name ORDER BY t DESC, rowid DESC LIMIT 1)"
                   " FROM counters c GROUP BY c.pid, c.name ORDER BY c.pid, c.name",
                   "reading counters", load_counter, out);
out:
  for (size_t i = 0; i < r.n; i++) free(r.v[i].name);
  free(r.v);
  for (size_t i = 0; i < r.n_groups; i++) free(r.groups[i].name);
  free(r.groups);
  free(r.slots);
  if (rc) hq__regions_free(out);
  return rc;
}

typedef struct {
  hq__span_t *v;
  size_t n, cap;
  int64_t t_end;
} spans_t;

static int load_span(sqlite3_stmt *st, void *ctx) {
  spans_t *s = ctx;
  hq__span_t *sp;
  if (hq__grow((void **)&s->v, &s->cap, s->n, sizeof *s->v, 64)) return HQ_ENOMEM;
  sp = &s->v[s->n];
  if (!(sp->name = hq__col_strdup(st, 0))) return HQ_ENOMEM;
  sp->t_begin = sqlite3_column_int64(st, 1);
  sp->t_end = sqlite3_column_type(st, 2) == SQLITE_NULL ? s->t_end : sqlite3_column_int64(st, 2);
  s->n++;
  return 0;
}

void hq__spans_free(hq__span_t *s, size_t n) {
  for (size_t i = 0; s && i < n; i++) free(s[i].name);
  free(s);
}

int hq__regions_outer(hq_db_t *db, int64_t pid, int pid_null, int64_t t_end, size_t max,
                      hq__span_t **out, size_t *out_n) {
  spans_t s = {NULL, 0, 0, t_end};
  char sql[512], where[64] = "";
  int rc;
  *out = NULL;
  *out_n = 0;
  if (!pid_null) hq__fmt(where, sizeof where, " AND pid IS %" PRId64, pid);
  hq__fmt(sql, sizeof sql, "SELECT " REGION_LABEL ", t_begin, t_end FROM regions r WHERE parent_id IS NULL%s "
                           "ORDER BY t_begin, id LIMIT %zu", where, max);
  rc = hq__db_each(db, sql, "reading regions", load_span, &s);
  if (rc) {
    hq__spans_free(s.v, s.n);
    return rc;
  }
  *out = s.v;
  *out_n = s.n;
  return HQ_OK;
}
