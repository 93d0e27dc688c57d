/*
 * gen_db.c: synthesize a large heapql database for analyzer benchmarks (not a test).
 *
 *   build/bench/gen_db OUT.db [--allocations N] [--threads N] [--stacks N] [--seed N] [--force]
 *
 * Writes what the importer would write for a plausible program: a trie of symbolized stacks
 * (depth 6 to 40, shared prefixes), call sites with their own size and lifetime habits
 * (temporaries, short-, medium- and long-lived blocks, leaking sites, realloc chains, a few
 * mmaps and CUDA buffers), several threads with per-thread allocation sequence numbers, a 20 ms
 * timeline with a sample at the heap peak, and the importer's meta keys.  Like an importer it
 * feeds every event to the streaming aggregation (hq__agg_*) and finishes it inside the same
 * transaction, printing how long the finish took; --scan calls hq__aggregate_build() instead
 * (the pass that reads every row back).  Used by scripts/bench-analyzer.sh; the numbers go to docs/benchmarks.md ("Analyzer").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/output_int.h"

/* ---- deterministic randomness ---- */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  uint64_t x = rng_state;
  x ^= x << 13; x ^= x >> 7; x ^= x << 17;
  return rng_state = x;
}
static double rnd01(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }
static uint64_t rnd_below(uint64_t n) { return n ? rnd() % n : 0; }

/* ---- call sites ---- */
enum { LIFE_TEMP, LIFE_SHORT, LIFE_MEDIUM, LIFE_LONG, LIFE_LEAK, LIFE_REALLOC };

typedef struct site_s {
  int64_t stack_id;
  uint64_t size;        /* typical request */
  int life;
  const char *kind;
} site_t;

/* ---- blocks waiting for their free ---- */
typedef struct row_s {
  int64_t id, stack_id, tid, t_alloc, t_free, free_tid, alloc_seq, free_seq, realloc_from;
  uint64_t size;
  const char *kind, *free_kind;
} row_t;

typedef struct heap_s { int64_t *t; uint32_t *slot; size_t n, cap; } heap_t;

static row_t *pool;
static uint32_t *free_slots;
static size_t pool_cap, n_free_slots, pool_top;

static uint32_t slot_new(void) {
  if (n_free_slots) return free_slots[--n_free_slots];
  if (pool_top == pool_cap) {
    pool_cap = pool_cap ? pool_cap * 2 : 1 << 16;
    pool = realloc(pool, pool_cap * sizeof *pool);
    free_slots = realloc(free_slots, pool_cap * sizeof *free_slots);
    if (!pool || !free_slots) { fprintf(stderr, "gen_db: out of memory\n"); exit(3); }
  }
  return (uint32_t)pool_top++;
}

static void heap_push(heap_t *h, int64_t t, uint32_t slot) {
  size_t i;
  if (h->n == h->cap) {
    h->cap = h->cap ? h->cap * 2 : 1 << 16;
    h->t = realloc(h->t, h->cap * sizeof *h->t);
    h->slot = realloc(h->slot, h->cap * sizeof *h->slot);
    if (!h->t || !h->slot) { fprintf(stderr, "gen_db: out of memory\n"); exit(3); }
  }
  i = h->n++;
  while (i > 0 && h->t[(i - 1) / 2] > t) {
    h->t[i] = h->t[(i - 1) / 2];
    h->slot[i] = h->slot[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  h->t[i] = t;
  h->slot[i] = slot;
}

static uint32_t heap_pop(heap_t *h) {
  uint32_t top = h->slot[0];
  int64_t t = h->t[--h->n];
  uint32_t s = h->slot[h->n];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= h->n) break;
    if (c + 1 < h->n && h->t[c + 1] < h->t[c]) c++;
    if (h->t[c] >= t) break;
    h->t[i] = h->t[c];
    h->slot[i] = h->slot[c];
    i = c;
  }
  if (h->n) { h->t[i] = t; h->slot[i] = s; }
  return top;
}

/* ---- the database ---- */
static hq_db_t *db;
static sqlite3_stmt *ins_alloc, *ins_sample;
static hq__agg_t *agg;    /* the importer's streaming aggregation, unless --scan */

static void agg_event(const row_t *r, int is_free) {
  hq__agg_event_t ev;
  int rc;
  if (!agg) return;
  memset(&ev, 0, sizeof ev);
  ev.kind = hq__kind_parse(r->kind);
  ev.stack_id = r->stack_id;
  ev.has_stack = 1;
  ev.size = r->size;
  ev.t = is_free ? r->t_free : r->t_alloc;
  ev.from_realloc = r->realloc_from >= 0;
  ev.free_kind = hq__free_kind_parse(r->free_kind);
  ev.t_alloc = r->t_alloc;
  ev.tid = r->tid;
  ev.alloc_seq = r->alloc_seq;
  ev.free_tid = r->free_tid;
  ev.free_seq = r->free_seq;
  rc = is_free ? hq__agg_free(agg, &ev) : hq__agg_alloc(agg, &ev);
  if (rc) { fprintf(stderr, "gen_db: aggregate: %s\n", hq_strerror(rc)); exit(3); }
}

static void die_db(const char *what) {
  fprintf(stderr, "gen_db: %s: %s\n", what, sqlite3_errmsg(hq_db_sqlite(db)));
  exit(3);
}

static void exec(const char *sql) {
  if (sqlite3_exec(hq_db_sqlite(db), sql, NULL, NULL, NULL) != SQLITE_OK) die_db(sql);
}

static void bind_opt(sqlite3_stmt *st, int i, int64_t v) {
  if (v >= 0) sqlite3_bind_int64(st, i, v);
  else sqlite3_bind_null(st, i);
}

static void write_row(const row_t *r) {
  sqlite3_stmt *st = ins_alloc;
  sqlite3_bind_int64(st, 1, r->id);
  sqlite3_bind_text(st, 2, r->kind, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, (int64_t)(0x7f0000000000ull + (uint64_t)r->id * 48));
  sqlite3_bind_int64(st, 4, (int64_t)r->size);
  sqlite3_bind_int64(st, 5, r->stack_id);
  sqlite3_bind_int64(st, 6, r->tid);
  sqlite3_bind_int64(st, 7, r->t_alloc);
  bind_opt(st, 8, r->t_free);
  bind_opt(st, 9, r->free_tid);
  if (r->free_kind) sqlite3_bind_text(st, 10, r->free_kind, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, 10);
  sqlite3_bind_int64(st, 11, r->alloc_seq);
  bind_opt(st, 12, r->free_seq);
  bind_opt(st, 13, r->realloc_from);
  if (sqlite3_step(st) != SQLITE_DONE) die_db("insert allocation");
  sqlite3_reset(st);
}

/* ---- stacks: a trie keyed by (parent, frame) ---- */
typedef struct node_key_s { int64_t parent, frame, id; } node_key_t;
static node_key_t *trie;
static size_t trie_cap = 1 << 20, trie_n;
static int64_t next_stack_id = 1;
static sqlite3_stmt *ins_stack;

static int64_t trie_node(int64_t parent, int64_t frame, int depth) {
  uint64_t h = ((uint64_t)parent * 0x9e3779b97f4a7c15ull ^ (uint64_t)frame * 0xc2b2ae3d27d4eb4full);
  size_t i = (size_t)(h >> 20) & (trie_cap - 1);
  while (trie[i].id) {
    if (trie[i].parent == parent && trie[i].frame == frame) return trie[i].id;
    i = (i + 1) & (trie_cap - 1);
  }
  if (++trie_n * 2 > trie_cap) { fprintf(stderr, "gen_db: too many stack nodes\n"); exit(3); }
  trie[i].parent = parent;
  trie[i].frame = frame;
  trie[i].id = next_stack_id++;
  sqlite3_bind_int64(ins_stack, 1, trie[i].id);
  if (parent) sqlite3_bind_int64(ins_stack, 2, parent);
  else sqlite3_bind_null(ins_stack, 2);
  sqlite3_bind_int64(ins_stack, 3, frame);
  sqlite3_bind_int(ins_stack, 4, depth);
  if (sqlite3_step(ins_stack) != SQLITE_DONE) die_db("insert stack");
  sqlite3_reset(ins_stack);
  return trie[i].id;
}

#define N_FUNCS 600
#define LINES_PER_FUNC 8
#define N_FRAMES (N_FUNCS * LINES_PER_FUNC)

static void write_frames(void) {
  static const char *const verbs[] = {"parse", "load", "build", "emit", "merge", "split", "scan",
                                      "eval", "copy", "grow", "hash", "index"};
  static const char *const nouns[] = {"Node", "Table", "Buffer", "Token", "Row", "Graph",
                                      "Block", "Page", "Tensor", "Cache"};
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(hq_db_sqlite(db),
                         "INSERT INTO frames(id, module_id, ip, offset, function, file, line)"
                         " VALUES(?1, 1, ?2, ?3, ?4, ?5, ?6)", -1, &st, NULL) != SQLITE_OK)
    die_db("prepare frames");
  for (int f = 0; f < N_FUNCS; f++) {
    char fn[128], file[64];
    snprintf(fn, sizeof fn, "app::%s::%s_%d", nouns[f % 10], verbs[(f / 10) % 12], f);
    snprintf(file, sizeof file, "src/%s_%d.cpp", nouns[f % 10], f / 40);
    for (int l = 0; l < LINES_PER_FUNC; l++) {
      int64_t id = (int64_t)f * LINES_PER_FUNC + l + 1;
      int64_t offset = 0x10000 + (int64_t)f * 0x400 + l * 0x20 + 5;
      sqlite3_bind_int64(st, 1, id);
      sqlite3_bind_int64(st, 2, 0x555555554000 + offset);
      sqlite3_bind_int64(st, 3, offset);
      sqlite3_bind_text(st, 4, fn, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 5, file, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(st, 6, 20 + (f % 40) * 25 + l * 3);
      if (sqlite3_step(st) != SQLITE_DONE) die_db("insert frame");
      sqlite3_reset(st);
    }
  }
  sqlite3_finalize(st);
}

/* Leaf stacks: each extends a prefix of an earlier one, so the trie shares prefixes. */
static site_t *make_sites(size_t n) {
  site_t *sites = calloc(n, sizeof *sites);
  int64_t (*paths)[40] = calloc(n, sizeof *paths);
  int *depths = calloc(n, sizeof *depths);
  if (!sites || !paths || !depths) { fprintf(stderr, "gen_db: out of memory\n"); exit(3); }
  for (size_t i = 0; i < n; i++) {
    int depth = 6 + (int)rnd_below(35), keep = 0;
    int64_t node = 0;
    if (i > 0) {
      size_t from = rnd_below(i);
      keep = (int)rnd_below((uint64_t)depths[from]);
      if (keep > depth - 1) keep = depth - 1;
      memcpy(paths[i], paths[from], (size_t)keep * sizeof paths[i][0]);
    } else {
      paths[i][0] = 1; /* main */
      keep = 1;
    }
    for (int d = keep; d < depth; d++)
      paths[i][d] = 1 + (int64_t)rnd_below(N_FRAMES);
    depths[i] = depth;
    for (int d = 0; d < depth; d++) node = trie_node(node, paths[i][d], d + 1);
    sites[i].stack_id = node;
    {
      double u = rnd01(), v = rnd01();
      sites[i].life = u < 0.35 ? LIFE_TEMP : u < 0.65 ? LIFE_SHORT : u < 0.88 ? LIFE_MEDIUM
                    : u < 0.95 ? LIFE_LONG : u < 0.97 ? LIFE_LEAK : LIFE_REALLOC;
      /* mostly small requests, some pages, a few large buffers */
      sites[i].size = (uint64_t)1 << (v < 0.85 ? 3 + rnd_below(9) : v < 0.98 ? 12 + rnd_below(4)
                                                                  : 16 + rnd_below(5));
    }
    sites[i].size += rnd_below(sites[i].size);
    {
      uint64_t k = rnd_below(20);
      sites[i].kind = k < 12 ? "malloc" : k < 14 ? "calloc" : k < 18 ? "new" : "new[]";
    }
  }
  free(paths);
  free(depths);
  return sites;
}

typedef struct gen_opts_s {
  uint64_t allocations, stacks, seed;
  int threads, force, scan;
  const char *out;
} gen_opts_t;

static void usage(void) {
  fprintf(stderr, "usage: gen_db OUT.db [--allocations N] [--threads N] [--stacks N] [--seed N]"
                  " [--force] [--scan]\n");
  exit(2);
}

int main(int argc, char **argv) {
  gen_opts_t o = {10000000, 20000, 1, 8, 0, 0, NULL};
  site_t *sites;
  heap_t due = {0};
  int64_t *seq, t = 0, next_id = 1, next_sample = 0;
  int64_t live_heap = 0, live_mmap = 0, live_dev = 0, peak_heap = 0, peak_t = 0;
  int64_t peak_mmap = 0, peak_rss = 0, peak_rss_t = 0, peak_mmap_at = 0, peak_dev_at = 0;
  uint64_t t0, t_build;
  int rc;

  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--allocations") && i + 1 < argc) o.allocations = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) o.threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--stacks") && i + 1 < argc) o.stacks = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc) o.seed = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--force")) o.force = 1;
    else if (!strcmp(argv[i], "--scan")) o.scan = 1;
    else if (argv[i][0] == '-' || o.out) usage();
    else o.out = argv[i];
  }
  if (!o.out || o.threads < 1 || o.stacks < 1 || o.allocations < 1) usage();
  rng_state ^= o.seed * 0x2545f4914f6cdd1dull;

  rc = hq_db_open(o.out, HQ_DB_CREATE | (o.force ? HQ_DB_FORCE : 0), &db);
  if (rc) { fprintf(stderr, "gen_db: %s\n", hq_db_errmsg(db)); return 2; }
  t0 = hq__now_ns();
  exec("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-262144; BEGIN");
  exec("INSERT INTO modules(id, pid, path, build_id, base, size, gen_first) VALUES"
       " (1, 4242, '/opt/bench/app', 'aa11bb22cc33dd44', 93824992231424, 2097152, 0),"
       " (2, 4242, '/usr/lib/x86_64-linux-gnu/libc.so.6', 'ee55ff66', 139637976727552,"
       "  2097152, 0)");
  write_frames();
  trie = calloc(trie_cap, sizeof *trie);
  if (!trie) return 3;
  if (sqlite3_prepare_v2(hq_db_sqlite(db), "INSERT INTO stacks(id, parent_id, frame_id, depth)"
                         " VALUES(?1, ?2, ?3, ?4)", -1, &ins_stack, NULL) != SQLITE_OK)
    die_db("prepare stacks");
  sites = make_sites(o.stacks);
  if (sqlite3_prepare_v2(hq_db_sqlite(db),
        "INSERT INTO allocations(id, pid, kind, address, size, stack_id, tid, t_alloc, t_free,"
        " free_tid, free_kind, alloc_seq, free_seq, realloc_from)"
        " VALUES(?1, 4242, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        -1, &ins_alloc, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(hq_db_sqlite(db),
        "INSERT INTO samples(pid, t, heap_bytes, mmap_bytes, device_bytes, rss_bytes)"
        " VALUES(4242, ?1, ?2, ?3, ?4, ?5)", -1, &ins_sample, NULL) != SQLITE_OK)
    die_db("prepare");
  seq = calloc((size_t)o.threads, sizeof *seq);
  if (!o.scan && hq__agg_begin(db, &agg) != HQ_OK) die_db("aggregate");

#define SAMPLE(at)                                                                   \
  do {                                                                               \
    int64_t rss_ = 32 * 1048576 + live_heap + live_heap / 8 + live_mmap;             \
    if (rss_ > peak_rss) { peak_rss = rss_; peak_rss_t = (at); }                     \
    sqlite3_bind_int64(ins_sample, 1, (at));                                         \
    sqlite3_bind_int64(ins_sample, 2, live_heap);                                    \
    sqlite3_bind_int64(ins_sample, 3, live_mmap);                                    \
    sqlite3_bind_int64(ins_sample, 4, live_dev);                                     \
    sqlite3_bind_int64(ins_sample, 5, rss_);                                         \
    if (sqlite3_step(ins_sample) != SQLITE_DONE) die_db("insert sample");            \
    sqlite3_reset(ins_sample);                                                       \
  } while (0)

  /* Times: allocation events at multiples of 4 ns, frees at 4k+1..3, so no free shares a
   * timestamp with an allocation and the running peak is exact at timestamp granularity. */
  for (uint64_t made = 0; made < o.allocations;) {
    site_t *s;
    row_t *r;
    uint32_t slot = 0;
    int tid_i = (int)rnd_below((uint64_t)o.threads);
    int chain = 1;
    double u = rnd01();

    t += 4 * (1 + (int64_t)rnd_below(500));
#define POP_DUE()                                                                    \
    do {                                                                             \
      while (due.n && due.t[0] <= t) {                                               \
        row_t *f = &pool[heap_pop(&due)];                                            \
        f->free_seq = seq[f->free_tid - 1000];                                       \
        if (!strcmp(f->kind, "mmap")) live_mmap -= (int64_t)f->size;                 \
        else if (!strcmp(f->kind, "cuda_device")) live_dev -= (int64_t)f->size;      \
        else live_heap -= (int64_t)f->size;                                          \
        agg_event(f, 1);                                                             \
        write_row(f);                                                                \
        free_slots[n_free_slots++] = (uint32_t)(f - pool);                           \
      }                                                                              \
      while (t >= next_sample) {                                                     \
        SAMPLE(next_sample);                                                         \
        next_sample += 20000000;                                                     \
      }                                                                              \
    } while (0)
    POP_DUE();

    s = &sites[(size_t)((double)o.stacks * u * u * u)];
    if (s->life == LIFE_REALLOC) chain = 2 + (int)rnd_below(6);
    for (int c = 0; c < chain && made < o.allocations; c++, made++) {
      int64_t from = -1;
      uint64_t size = c == 0 ? s->size : s->size << c;
      const char *kind = c == 0 ? (s->life == LIFE_REALLOC ? "malloc" : s->kind) : "realloc";
      if (c > 0) {
        /* the previous block of the chain goes to realloc */
        row_t *prev = &pool[slot];
        prev->t_free = t;
        prev->free_tid = prev->tid;
        prev->free_kind = "realloc";
        live_heap -= (int64_t)prev->size;
        from = prev->id;
        seq[tid_i]++;
        prev->free_seq = seq[tid_i];
        agg_event(prev, 1);
        write_row(prev);
        free_slots[n_free_slots++] = slot;
      } else {
        seq[tid_i]++;
      }
      if (c == 0 && rnd_below(40000) == 0) { kind = "mmap"; size = (1 + rnd_below(64)) << 20; }
      else if (c == 0 && rnd_below(100000) == 0) {
        kind = "cuda_device";
        size = (1 + rnd_below(256)) << 20;
      }
      slot = slot_new();
      r = &pool[slot];
      memset(r, 0, sizeof *r);
      r->id = next_id++;
      r->kind = kind;
      r->size = size;
      r->stack_id = s->stack_id;
      r->tid = 1000 + tid_i;
      r->t_alloc = t;
      r->alloc_seq = seq[tid_i];
      r->realloc_from = from;
      r->t_free = r->free_tid = r->free_seq = -1;
      if (!strcmp(kind, "mmap")) live_mmap += (int64_t)size;
      else if (!strcmp(kind, "cuda_device")) live_dev += (int64_t)size;
      else live_heap += (int64_t)size;
      agg_event(r, 0);
      if (live_heap > peak_heap) {
        peak_heap = live_heap;
        peak_t = t;
        peak_mmap_at = live_mmap;
        peak_dev_at = live_dev;
      }
      if (live_mmap > peak_mmap) peak_mmap = live_mmap;
      if (c + 1 < chain) { t += 4; POP_DUE(); continue; }
      switch (s->life) {
      case LIFE_TEMP: r->t_free = t + 1; break;
      case LIFE_SHORT: r->t_free = t + 4 * (1 + (int64_t)rnd_below(20000)) + 2; break;
      case LIFE_MEDIUM: r->t_free = t + 4 * (1 + (int64_t)rnd_below(20000000)) + 2; break;
      case LIFE_LEAK: if (rnd_below(2)) break; /* FALLTHROUGH */
      case LIFE_REALLOC: case LIFE_LONG: r->t_free = INT64_MAX; break;
      }
      if (r->t_free >= 0) {
        r->free_tid = r->tid;
        r->free_kind = !strcmp(kind, "new") ? "delete" : !strcmp(kind, "new[]") ? "delete[]"
                     : !strcmp(kind, "mmap") ? "munmap" : "free";
        if (r->t_free != INT64_MAX) heap_push(&due, r->t_free, slot);
        else heap_push(&due, INT64_MAX - 1, slot); /* freed at exit */
      } else {
        write_row(r); /* never freed: written now, t_free stays NULL */
        free_slots[n_free_slots++] = slot;
      }
    }
  }
  /* Exit: everything still scheduled is freed in order, the long-lived at the very end. */
  t += 4;
  while (due.n) {
    row_t *f = &pool[heap_pop(&due)];
    if (f->t_free == INT64_MAX || f->t_free > t) { t += 4; f->t_free = t + 1; }
    f->free_seq = seq[f->free_tid - 1000];
    if (!strcmp(f->kind, "mmap")) live_mmap -= (int64_t)f->size;
    else if (!strcmp(f->kind, "cuda_device")) live_dev -= (int64_t)f->size;
    else live_heap -= (int64_t)f->size;
    agg_event(f, 1);
    write_row(f);
  }
  t += 4;
  SAMPLE(t);
  { /* the importer's extra sample at the heap peak */
    int64_t h = live_heap, m = live_mmap, d = live_dev;
    live_heap = peak_heap; live_mmap = peak_mmap_at; live_dev = peak_dev_at;
    SAMPLE(peak_t);
    live_heap = h; live_mmap = m; live_dev = d;
  }

  {
    char sql[1024];
    for (int i = 0; i < o.threads; i++) {
      snprintf(sql, sizeof sql, "INSERT INTO threads VALUES(4242, %d, 'worker-%d', 0, %lld)",
               1000 + i, i, (long long)t);
      exec(sql);
    }
    snprintf(sql, sizeof sql,
             "INSERT OR REPLACE INTO meta VALUES ('heapql_version', '%s'), ('program', 'app'),"
             " ('command_line', '/opt/bench/app --synthetic'), ('pid', 4242), ('ppid', 1),"
             " ('host', 'bench'), ('t_start_unix_ns', 1700000000000000000),"
             " ('duration_ns', %lld), ('exit_status', 0), ('complete', 1),"
             " ('dropped_events', 0), ('max_depth', 64), ('symbolized', 1),"
             " ('unmatched_frees', 0), ('peak_heap_bytes', %lld), ('peak_heap_t', %lld),"
             " ('peak_mmap_bytes', %lld), ('peak_rss_bytes', %lld), ('peak_rss_t', %lld)",
             HQ_VERSION_STRING, (long long)t, (long long)peak_heap, (long long)peak_t,
             (long long)peak_mmap, (long long)peak_rss, (long long)peak_rss_t);
    exec(sql);
  }
  sqlite3_finalize(ins_alloc);
  sqlite3_finalize(ins_sample);
  sqlite3_finalize(ins_stack);
  fprintf(stderr, "gen_db: %lld allocations, %lld stack nodes written in %.1f s\n",
          (long long)(next_id - 1), (long long)(next_stack_id - 1),
          (double)(hq__now_ns() - t0) / 1e9);
  t_build = hq__now_ns();
  rc = o.scan ? hq__aggregate_build(db) : hq__agg_finish(agg);
  if (rc) { fprintf(stderr, "gen_db: aggregate: %s\n", hq_db_errmsg(db)); return 3; }
  t_build = hq__now_ns() - t_build;
  exec("COMMIT");
  printf("%s_s %.3f\n", o.scan ? "aggregate_build" : "aggregate_finish", (double)t_build / 1e9);
  hq_db_close(db);
  (void)errno;
  return 0;
}
