/*
 * hq_sites.c: allocation sites as people read them.  Loads a database's frames and stacks into
 * memory once, names every frame ("function (file:line)", or "module+0xoffset" unsymbolized),
 * turns stacks into paths of names (inline frames expanded, outermost first) in a trie, and adds
 * per-stack sums from one scan of allocations.  Flame graphs, diff and the HTML report all stand
 * on this, so they agree on what a site is.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapql/internal/pyframe.h"
#include "query/query_int.h"

/* Corrupt data must not loop forever: no real stack or inline chain is this deep. */
#define MAX_CHAIN 100000
#define MAX_INLINE 256

struct hq__sitemap_s {
  /* interned labels */
  char **labels;
  size_t nlabels, label_cap;
  int32_t *lhash;            /* open addressing: label index + 1, 0 = empty */
  size_t lhash_cap;
  int32_t *label_rank;       /* bytewise order of each label, for sorting siblings */
  unsigned char *label_python; /* per label: 1 when it names a Python frame (nlabels of them) */
  size_t python_cap;
  /* frames by id */
  int64_t max_frame;
  int32_t *frame_label[2];   /* HQ__LABEL_DISPLAY, HQ__LABEL_KEY; -1 = no such frame */
  int64_t *frame_inline_parent;
  /* stacks by id */
  int64_t max_stack;
  int64_t *stack_parent;
  int64_t *stack_frame;      /* 0 = no such stack node */
  int32_t no_stack_label, bad_frame_label;
};

uint64_t hq__sites_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return h;
}

static int lhash_grow(hq__sitemap_t *m) {
  size_t cap = m->lhash_cap ? m->lhash_cap * 2 : 1024;
  int32_t *tab = calloc(cap, sizeof *tab);
  if (!tab) return HQ_ENOMEM;
  for (size_t i = 0; i < m->nlabels; i++) {
    size_t j = hq__sites_hash(m->labels[i]) & (cap - 1);
    while (tab[j]) j = (j + 1) & (cap - 1);
    tab[j] = (int32_t)i + 1;
  }
  free(m->lhash);
  m->lhash = tab;
  m->lhash_cap = cap;
  return HQ_OK;
}

/* The index of label s, added if new; -1 when out of memory. */
static int32_t intern(hq__sitemap_t *m, const char *s) {
  size_t j;
  if ((m->nlabels + 1) * 2 > m->lhash_cap && lhash_grow(m)) return -1;
  j = hq__sites_hash(s) & (m->lhash_cap - 1);
  while (m->lhash[j]) {
    if (strcmp(m->labels[m->lhash[j] - 1], s) == 0) return m->lhash[j] - 1;
    j = (j + 1) & (m->lhash_cap - 1);
  }
  if (m->nlabels == m->label_cap) {
    size_t cap = m->label_cap ? m->label_cap * 2 : 1024;
    char **l = realloc(m->labels, cap * sizeof *l);
    if (!l) return -1;
    m->labels = l;
    m->label_cap = cap;
  }
  m->labels[m->nlabels] = strdup(s);
  if (!m->labels[m->nlabels]) return -1;
  m->lhash[j] = (int32_t)m->nlabels + 1;
  return (int32_t)m->nlabels++;
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* Flame graph tools split frames at ';' and lines at '\n'. */
static void sanitize(char *s) {
  for (; *s; s++) {
    if (*s == ';') *s = ':';
    else if (*s == '\n' || *s == '\r' || *s == '\t') *s = ' ';
  }
}

/* disp: what a frame is shown as.  key: what survives a rebuild, a moved line, a renamed file:
 * the function's name, or for a frame without one its module's name (its offset moves) — the
 * same parts as the gate's function fingerprint, so diff and baselines match sites alike. */
static void frame_names(const char *function, const char *file, int64_t line, int has_line,
                        const char *module, int64_t offset, int has_offset, int64_t ip,
                        char *disp, char *key, size_t cap) {
  if (function && file && has_line && line > 0)
    snprintf(disp, cap, "%s (%s:%" PRId64 ")", function, base_name(file), line);
  else if (function && file)
    snprintf(disp, cap, "%s (%s)", function, base_name(file));
  else if (function)
    snprintf(disp, cap, "%s", function);
  else if (module && has_offset)
    snprintf(disp, cap, "%s+0x%" PRIx64, base_name(module), (uint64_t)offset);
  else
    snprintf(disp, cap, "0x%" PRIx64, (uint64_t)ip);
  if (function) snprintf(key, cap, "%s", function);
  else if (module) snprintf(key, cap, "%s", base_name(module));
  else snprintf(key, cap, "?");
  sanitize(disp);
  sanitize(key);
}

static int64_t max_id(hq_db_t *db, const char *sql, int *rc) {
  sqlite3_stmt *st = NULL;
  int64_t v = 0;
  *rc = hq__db_prepare(db, sql, &st);
  if (*rc) return 0;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  else *rc = hq__db_sqlerr(db, "reading ids");
  sqlite3_finalize(st);
  return v < 0 ? 0 : v;
}

static int load_frames(hq_db_t *db, hq__sitemap_t *m) {
  sqlite3_stmt *st = NULL;
  char disp[1024], key[1024];
  int rc;
  int64_t n;

  m->max_frame = max_id(db, "SELECT coalesce(max(id), 0) FROM frames", &rc);
  if (rc) return rc;
  n = m->max_frame + 1;
  m->frame_label[0] = malloc((size_t)n * sizeof(int32_t));
  m->frame_label[1] = malloc((size_t)n * sizeof(int32_t));
  m->frame_inline_parent = calloc((size_t)n, sizeof(int64_t));
  if (!m->frame_label[0] || !m->frame_label[1] || !m->frame_inline_parent) return HQ_ENOMEM;
  for (int64_t i = 0; i < n; i++) m->frame_label[0][i] = m->frame_label[1][i] = -1;

  rc = hq__db_prepare(db,
                      "SELECT f.id, f.function, f.file, f.line, m.path, f.offset, f.ip, "
                      "f.inline_parent FROM frames f LEFT JOIN modules m ON m.id = f.module_id",
                      &st);
  if (rc) return rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0);
    const char *function = (const char *)sqlite3_column_text(st, 1);
    const char *file = (const char *)sqlite3_column_text(st, 2);
    const char *module = (const char *)sqlite3_column_text(st, 4);
    int32_t ld, lk;
    if (id <= 0 || id > m->max_frame) continue;
    frame_names(function, file, sqlite3_column_int64(st, 3),
                sqlite3_column_type(st, 3) != SQLITE_NULL, module, sqlite3_column_int64(st, 5),
                sqlite3_column_type(st, 5) != SQLITE_NULL, sqlite3_column_int64(st, 6), disp, key,
                sizeof disp);
    ld = intern(m, disp);
    lk = intern(m, key);
    if (ld < 0 || lk < 0) { rc = HQ_ENOMEM; goto out; }
    m->frame_label[0][id] = ld;
    m->frame_label[1][id] = lk;
    if (HQ_IS_PYFRAME(sqlite3_column_int64(st, 6))) {
      if ((size_t)ld >= m->python_cap) {
        size_t cap = ((size_t)ld + 1) * 2;
        unsigned char *grown = realloc(m->label_python, cap);
        if (!grown) { rc = HQ_ENOMEM; goto out; }
        memset(grown + m->python_cap, 0, cap - m->python_cap);
        m->label_python = grown;
        m->python_cap = cap;
      }
      m->label_python[ld] = 1;
    }
    m->frame_inline_parent[id] = sqlite3_column_int64(st, 7); /* NULL reads as 0 */
  }
  rc = rc == SQLITE_DONE ? HQ_OK : hq__db_sqlerr(db, "reading frames");
out:
  sqlite3_finalize(st);
  return rc;
}

static int load_stacks(hq_db_t *db, hq__sitemap_t *m) {
  sqlite3_stmt *st = NULL;
  int rc;

  m->max_stack = max_id(db, "SELECT coalesce(max(id), 0) FROM stacks", &rc);
  if (rc) return rc;
  m->stack_parent = calloc((size_t)m->max_stack + 1, sizeof(int64_t));
  m->stack_frame = calloc((size_t)m->max_stack + 1, sizeof(int64_t));
  if (!m->stack_parent || !m->stack_frame) return HQ_ENOMEM;
  rc = hq__db_prepare(db, "SELECT id, parent_id, frame_id FROM stacks", &st);
  if (rc) return rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0);
    if (id <= 0 || id > m->max_stack) continue;
    m->stack_parent[id] = sqlite3_column_int64(st, 1);
    m->stack_frame[id] = sqlite3_column_int64(st, 2);
  }
  rc = rc == SQLITE_DONE ? HQ_OK : hq__db_sqlerr(db, "reading stacks");
  sqlite3_finalize(st);
  return rc;
}

/* qsort_r (glibc): handles stay usable from several threads at once. */
static int cmp_label(const void *a, const void *b, void *ctx) {
  const hq__sitemap_t *m = ctx;
  return strcmp(m->labels[*(const int32_t *)a], m->labels[*(const int32_t *)b]);
}

static int rank_labels(hq__sitemap_t *m) {
  int32_t *order = malloc((m->nlabels + 1) * sizeof *order);
  m->label_rank = malloc((m->nlabels + 1) * sizeof *m->label_rank);
  if (!order || !m->label_rank) { free(order); return HQ_ENOMEM; }
  for (size_t i = 0; i < m->nlabels; i++) order[i] = (int32_t)i;
  qsort_r(order, m->nlabels, sizeof *order, cmp_label, m);
  for (size_t i = 0; i < m->nlabels; i++) m->label_rank[order[i]] = (int32_t)i;
  free(order);
  return HQ_OK;
}

int hq__sitemap_load(hq_db_t *db, hq__sitemap_t **out_map) {
  hq__sitemap_t *m = calloc(1, sizeof *m);
  int rc = HQ_OK;
  *out_map = NULL;
  if (!m) return HQ_ENOMEM;
  m->no_stack_label = intern(m, "[no stack]");
  m->bad_frame_label = intern(m, "[unknown frame]");
  if (m->no_stack_label < 0 || m->bad_frame_label < 0) { rc = HQ_ENOMEM; goto out; }
  rc = load_frames(db, m);
  if (rc) goto out;
  rc = load_stacks(db, m);
  if (rc) goto out;
  rc = rank_labels(m);
out:
  if (rc) hq__sitemap_free(m);
  else *out_map = m;
  return rc;
}

void hq__sitemap_free(hq__sitemap_t *m) {
  if (!m) return;
  for (size_t i = 0; i < m->nlabels; i++) free(m->labels[i]);
  free(m->labels);
  free(m->lhash);
  free(m->label_rank);
  free(m->label_python);
  free(m->frame_label[0]);
  free(m->frame_label[1]);
  free(m->frame_inline_parent);
  free(m->stack_parent);
  free(m->stack_frame);
  free(m);
}

const char *hq__sitemap_label(const hq__sitemap_t *m, int32_t label) {
  if (label < 0 || (size_t)label >= m->nlabels) return "all";
  return m->labels[label];
}

/* ---- the trie of label paths ---- */

int hq__tree_init(hq__tree_t *t, const hq__sitemap_t *map, int mode) {
  memset(t, 0, sizeof *t);
  t->map = map;
  t->mode = mode;
  t->nstack = map->max_stack + 1;
  t->stack_node = calloc((size_t)t->nstack, sizeof *t->stack_node);
  t->cap = 1024;
  t->nodes = calloc(t->cap, sizeof *t->nodes);
  t->self = calloc(t->cap * HQ__V_N, sizeof *t->self);
  if (!t->stack_node || !t->nodes || !t->self) { hq__tree_free(t); return HQ_ENOMEM; }
  t->nodes[0] = (hq__tnode_t){.parent = -1, .label = -1, .depth = 0, .first_child = -1,
                              .next_sibling = -1, .rep_stack = -1};
  t->n = 1;
  return HQ_OK;
}

void hq__tree_free(hq__tree_t *t) {
  free(t->nodes);
  free(t->self);
  free(t->hkeys);
  free(t->hvals);
  free(t->stack_node);
  memset(t, 0, sizeof *t);
}

static uint64_t child_key(int32_t parent, int32_t label) {
  return ((uint64_t)(uint32_t)parent << 32) | (uint32_t)label;
}

static size_t key_slot(uint64_t k, size_t cap) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  return (size_t)k & (cap - 1);
}

static int child_hash_grow(hq__tree_t *t) {
  size_t cap = t->hcap ? t->hcap * 2 : 4096;
  uint64_t *keys = malloc(cap * sizeof *keys);
  int32_t *vals = malloc(cap * sizeof *vals);
  if (!keys || !vals) { free(keys); free(vals); return HQ_ENOMEM; }
  for (size_t i = 0; i < cap; i++) vals[i] = -1;
  for (size_t i = 1; i < t->n; i++) {
    uint64_t k = child_key(t->nodes[i].parent, t->nodes[i].label);
    size_t j = key_slot(k, cap);
    while (vals[j] >= 0) j = (j + 1) & (cap - 1);
    keys[j] = k;
    vals[j] = (int32_t)i;
  }
  free(t->hkeys);
  free(t->hvals);
  t->hkeys = keys;
  t->hvals = vals;
  t->hcap = cap;
  return HQ_OK;
}

/* The child of parent named label, made if new; -1 when out of memory. */
static int32_t child(hq__tree_t *t, int32_t parent, int32_t label) {
  uint64_t k = child_key(parent, label);
  size_t j;
  if ((t->n + 1) * 2 > t->hcap && child_hash_grow(t)) return -1;
  j = key_slot(k, t->hcap);
  while (t->hvals[j] >= 0) {
    if (t->hkeys[j] == k) return t->hvals[j];
    j = (j + 1) & (t->hcap - 1);
  }
  if (t->n == t->cap || t->n >= INT32_MAX - 1) {
    size_t cap = t->cap * 2;
    hq__tnode_t *nodes;
    int64_t *self;
    if (t->n >= INT32_MAX - 1) return -1;
    nodes = realloc(t->nodes, cap * sizeof *nodes);
    if (!nodes) return -1;
    t->nodes = nodes;
    self = realloc(t->self, cap * HQ__V_N * sizeof *self);
    if (!self) return -1;
    t->self = self;
    t->cap = cap;
  }
  t->nodes[t->n] = (hq__tnode_t){.parent = parent, .label = label,
                                 .depth = t->nodes[parent].depth + 1, .first_child = -1,
                                 .next_sibling = -1, .rep_stack = -1};
  memset(t->self + t->n * HQ__V_N, 0, HQ__V_N * sizeof *t->self);
  t->hkeys[j] = k;
  t->hvals[j] = (int32_t)t->n;
  return (int32_t)t->n++;
}

/* Append one physical frame's names under node: the outermost function it was inlined into
 * first, the innermost (the physical row itself) last. */
static int32_t add_frame(hq__tree_t *t, int32_t node, int64_t frame_id) {
  const hq__sitemap_t *m = t->map;
  int64_t chain[MAX_INLINE];
  int n = 0;
  for (int64_t f = frame_id; f > 0 && f <= m->max_frame && n < MAX_INLINE;
       f = m->frame_inline_parent[f]) {
    if (m->frame_label[0][f] < 0) break;
    chain[n++] = f;
  }
  if (n == 0) return child(t, node, m->bad_frame_label);
  while (n-- > 0) {
    node = child(t, node, m->frame_label[t->mode][chain[n]]);
    if (node < 0) return -1;
  }
  return node;
}

int32_t hq__tree_stack_node(hq__tree_t *t, int64_t stack_id) {
  const hq__sitemap_t *m = t->map;
  int64_t *path = NULL;
  size_t n = 0, cap = 0;
  int64_t s = stack_id;
  int32_t node = 0;

  if (stack_id <= 0 || stack_id > m->max_stack || m->stack_frame[stack_id] == 0)
    return child(t, 0, m->no_stack_label);
  if (t->stack_node[stack_id]) return t->stack_node[stack_id];
  /* Walk up to the first node already placed (or the root), then come back down. */
  while (s > 0 && s <= m->max_stack && m->stack_frame[s] && !t->stack_node[s] && n < MAX_CHAIN) {
    if (n == cap) {
      int64_t *p;
      cap = cap ? cap * 2 : 64;
      p = realloc(path, cap * sizeof *p);
      if (!p) { free(path); return -1; }
      path = p;
    }
    path[n++] = s;
    s = m->stack_parent[s];
  }
  if (s > 0 && s <= m->max_stack && t->stack_node[s]) node = t->stack_node[s];
  while (n-- > 0) {
    node = add_frame(t, node, m->stack_frame[path[n]]);
    if (node < 0) break;
    t->stack_node[path[n]] = node;
  }
  free(path);
  return node;
}

static int cmp_sibling(const void *a, const void *b, void *ctx) {
  const hq__tree_t *link_tree = ctx;
  const hq__tnode_t *x = &link_tree->nodes[*(const int32_t *)a];
  const hq__tnode_t *y = &link_tree->nodes[*(const int32_t *)b];
  int32_t rx, ry;
  if (x->parent != y->parent) return x->parent < y->parent ? -1 : 1;
  rx = link_tree->map->label_rank[x->label];
  ry = link_tree->map->label_rank[y->label];
  return (rx > ry) - (rx < ry);
}

int hq__tree_link(hq__tree_t *t) {
  int32_t *order;
  size_t k = 0;
  if (t->n <= 1) return HQ_OK;
  order = malloc((t->n - 1) * sizeof *order);
  if (!order) return HQ_ENOMEM;
  for (size_t i = 1; i < t->n; i++) order[k++] = (int32_t)i;
  qsort_r(order, k, sizeof *order, cmp_sibling, t);
  for (size_t i = 0; i < t->n; i++) t->nodes[i].first_child = t->nodes[i].next_sibling = -1;
  while (k-- > 0) {
    hq__tnode_t *nd = &t->nodes[order[k]];
    nd->next_sibling = t->nodes[nd->parent].first_child;
    t->nodes[nd->parent].first_child = order[k];
  }
  free(order);
  return HQ_OK;
}

/* ---- per-stack sums ---- */

static const char *const classes[] = {"heap", "mmap", "pool", "device", "all"};

int hq__sites_class_ok(const char *kind_class) {
  if (!kind_class) return 1;
  for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
    if (strcmp(kind_class, classes[i]) == 0) return 1;
  return 0;
}

/* The SQL condition selecting allocations of a class; `IN` on the tiny kinds table is cheaper
 * per row than a join. */
static void class_filter(const char *kind_class, char *buf, size_t cap) {
  if (!kind_class) kind_class = "heap";
  if (strcmp(kind_class, "all") == 0) snprintf(buf, cap, "1");
  else snprintf(buf, cap, "a.kind IN (SELECT kind FROM kinds WHERE class = '%s')",
                kind_class); /* whitelisted by hq__sites_class_ok */
}

/* The moment each process's class peaked: one constant, or one per pid. */
typedef struct {
  int single;           /* t applies to every row */
  int64_t t;
  int64_t *pid, *pt, *bytes;  /* per process, when !single */
  size_t n;
} peaks_t;

static void peaks_free(peaks_t *pk) {
  free(pk->pid);
  free(pk->pt);
  free(pk->bytes);
}

static int64_t peak_of(const peaks_t *pk, int64_t pid, size_t *hint) {
  if (pk->single) return pk->t;
  if (*hint < pk->n && pk->pid[*hint] == pid) return pk->pt[*hint];
  for (size_t i = 0; i < pk->n; i++) {
    if (pk->pid[i] == pid) { *hint = i; return pk->pt[i]; }
  }
  return INT64_MIN; /* a process with no allocation of the class: nothing live */
}

static int peaks_push(peaks_t *pk, size_t *cap, int64_t pid, int64_t t, int64_t bytes) {
  if (pk->n == *cap) {
    size_t c = *cap ? *cap * 2 : 16;
    int64_t *a = realloc(pk->pid, c * sizeof *a), *b, *d;
    if (!a) return HQ_ENOMEM;
    pk->pid = a;
    b = realloc(pk->pt, c * sizeof *b);
    if (!b) return HQ_ENOMEM;
    pk->pt = b;
    d = realloc(pk->bytes, c * sizeof *d);
    if (!d) return HQ_ENOMEM;
    pk->bytes = d;
    *cap = c;
  }
  pk->pid[pk->n] = pid;
  pk->pt[pk->n] = t;
  pk->bytes[pk->n] = bytes;
  pk->n++;
  return HQ_OK;
}

/*
 * Sweep the allocations and frees of each process in time order: its largest live bytes and the
 * first moment they were reached.  SQLite groups the events per (pid, t) with its sorter, which
 * stays within bounded memory; the running sum is done here (much faster than a window function).
 */
static int sweep_peaks(hq_db_t *db, const char *filter, peaks_t *pk) {
  char sql[1024];
  sqlite3_stmt *st = NULL;
  size_t cap = 0;
  int64_t cur_pid = 0, live = 0, best = INT64_MIN, best_t = 0;
  int have = 0, rc;

  snprintf(sql, sizeof sql,
           "WITH ev(pid, t, d) AS ("
           "  SELECT a.pid, a.t_alloc, a.size FROM allocations a WHERE %s"
           "  UNION ALL"
           "  SELECT a.pid, a.t_free, -a.size FROM allocations a WHERE %s AND a.t_free IS NOT NULL)"
           " SELECT pid, t, sum(d) FROM ev GROUP BY pid, t ORDER BY pid, t",
           filter, filter);
  rc = hq__db_prepare(db, sql, &st);
  if (rc) return rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t pid = sqlite3_column_int64(st, 0), t = sqlite3_column_int64(st, 1);
    if (!have || pid != cur_pid) {
      if (have && (rc = peaks_push(pk, &cap, cur_pid, best_t, best))) goto out;
      have = 1;
      cur_pid = pid;
      live = 0;
      best = INT64_MIN;
    }
    live += sqlite3_column_int64(st, 2);
    if (live > best) { best = live; best_t = t; }
  }
  if (rc != SQLITE_DONE) { rc = hq__db_sqlerr(db, "finding the peak"); goto out; }
  rc = have ? peaks_push(pk, &cap, cur_pid, best_t, best) : HQ_OK;
out:
  sqlite3_finalize(st);
  return rc;
}

/* When did the class peak?  One process with the heap's exact moment in meta: that constant;
 * otherwise a sweep per process. */
static int find_peaks(hq_db_t *db, const char *filter, int is_heap, peaks_t *pk) {
  int64_t processes = 1;
  memset(pk, 0, sizeof *pk);
  if (hq__meta_int(db, "processes", &processes) != HQ_OK) processes = 1;
  if (is_heap && processes <= 1 && hq__meta_int(db, "peak_heap_t", &pk->t) == HQ_OK) {
    pk->single = 1;
    return HQ_OK;
  }
  return sweep_peaks(db, filter, pk);
}

/*
 * One pass over the class's allocations, summed per stack in arrays indexed by stack id (no
 * GROUP BY sort: several times faster on millions of rows), then each stack's sums go to its
 * node.  Slot 0 collects allocations without a (known) stack.
 */
int hq__sites_scan(hq_db_t *db, hq__tree_t *t, const char *kind_class, int64_t pid,
                   int want_peak) {
  const hq__sitemap_t *m = t->map;
  char filter[160], pidcond[64], sql[512];
  sqlite3_stmt *st = NULL;
  peaks_t pk = {0};
  int64_t *acc = NULL;
  size_t hint = 0;
  int rc;

  if (!hq__sites_class_ok(kind_class)) return HQ_EINVAL;
  class_filter(kind_class, filter, sizeof filter);
  if (pid) snprintf(pidcond, sizeof pidcond, " AND a.pid = %" PRId64, pid);
  else pidcond[0] = '\0';
  if (want_peak) {
    char both[240];
    snprintf(both, sizeof both, "%s%s", filter, pidcond);
    rc = find_peaks(db, both, !kind_class || strcmp(kind_class, "heap") == 0, &pk);
    if (rc) goto out;
  }
  acc = calloc((size_t)(m->max_stack + 1) * HQ__V_N, sizeof *acc);
  if (!acc) { rc = HQ_ENOMEM; goto out; }
  snprintf(sql, sizeof sql, "SELECT a.stack_id, a.size, a.t_alloc, a.t_free, a.pid"
                            " FROM allocations a WHERE %s%s", filter, pidcond);
  rc = hq__db_prepare(db, sql, &st);
  if (rc) goto out;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0), size = sqlite3_column_int64(st, 1);
    int freed = sqlite3_column_type(st, 3) != SQLITE_NULL;
    int64_t *v;
    if (id <= 0 || id > m->max_stack || !m->stack_frame[id]) id = 0;
    v = acc + (size_t)id * HQ__V_N;
    v[HQ__V_COUNT]++;
    v[HQ__V_BYTES] += size;
    if (!freed) {
      v[HQ__V_LEAKED_BLOCKS]++;
      v[HQ__V_LEAKED_BYTES] += size;
    }
    if (want_peak) {
      int64_t tp = peak_of(&pk, sqlite3_column_int64(st, 4), &hint);
      if (tp != INT64_MIN && sqlite3_column_int64(st, 2) <= tp &&
          (!freed || sqlite3_column_int64(st, 3) > tp))
        v[HQ__V_PEAK_BYTES] += size;
    }
  }
  if (rc != SQLITE_DONE) { rc = hq__db_sqlerr(db, "scanning allocations"); goto out; }
  rc = HQ_OK;
  for (int64_t id = 0; id <= m->max_stack; id++) {
    const int64_t *v = acc + (size_t)id * HQ__V_N;
    int32_t node;
    hq__tnode_t *nd;
    if (v[HQ__V_COUNT] == 0) continue;
    node = hq__tree_stack_node(t, id);
    if (node < 0) { rc = HQ_ENOMEM; goto out; }
    for (int i = 0; i < HQ__V_N; i++) t->self[(size_t)node * HQ__V_N + (size_t)i] += v[i];
    nd = &t->nodes[node];
    if (nd->rep_stack < 0 || v[HQ__V_BYTES] > nd->rep_bytes) {
      nd->rep_stack = id;
      nd->rep_bytes = v[HQ__V_BYTES];
    }
  }
out:
  sqlite3_finalize(st);
  free(acc);
  peaks_free(&pk);
  return rc;
}

int hq__sites_peak(hq_db_t *db, const char *kind_class, int64_t *out_bytes, int64_t *out_t) {
  char filter[160];
  peaks_t pk = {0};
  int rc;
  *out_bytes = 0;
  *out_t = -1;
  if (!hq__sites_class_ok(kind_class)) return HQ_EINVAL;
  class_filter(kind_class, filter, sizeof filter);
  rc = sweep_peaks(db, filter, &pk);
  for (size_t i = 0; rc == HQ_OK && i < pk.n; i++) {
    if (pk.bytes[i] > *out_bytes) {
      *out_bytes = pk.bytes[i];
      *out_t = pk.pt[i];
    }
  }
  peaks_free(&pk);
  return rc;
}

int hq__sitemap_label_is_python(const hq__sitemap_t *m, int32_t label) {
  return label >= 0 && (size_t)label < m->python_cap && m->label_python[label];
}
