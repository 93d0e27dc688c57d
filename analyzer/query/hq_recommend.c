/*
 * hq_recommend.c: `heapql report --recommend`: named patterns, the fix, and evidence sites.
 *
 * Each rule is a query over agg_stack (documented in docs/schema.md "Findings" with its
 * equivalent over the callsites view) plus thresholds chosen so that a finding is worth a
 * user's time: a pattern seen a handful of times is noise.  Not detected: float64 buffers that
 * could be float32.  Sizes alone cannot tell a double array from any other buffer of the same
 * size (a multiple of 8 is the common case for every struct), so no sound rule exists without
 * type information; we report nothing rather than guess.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"

/* Thresholds (docs/schema.md "Findings"). */
#define HOT_TEMP_MIN      1000            /* temporary allocations at one site */
#define HOT_TEMP_MAX_AVG  65536           /* average request size at the site, bytes */
#define REALLOC_MIN       100             /* realloc calls at one site */
#define HUGE_MIN          67108864        /* one request of 64 MiB or more */
#define SHORT_LIVED_MIN   1000            /* allocations at one site, nearly all freed ... */
#define SHORT_LIVED_FREED 99              /* ... this percentage of them at least ... */
#define SHORT_LIVED_SHARE 1               /* ... each living this percentage of the run at most */
#define GROWTH_MIN_R2     0.8             /* leak growth: never-freed bytes against time */
#define LIVE_GROWTH_MIN_R2 0.9            /* live growth before the teardown */
#define LEAK_GROWTH_MIN_BYTES (64ull << 10)
#define EVIDENCE_MAX      5
#define STR_(x) #x
#define STR(x) STR_(x)

void hq__findings_free(hq_finding_t *f, size_t n) {
  if (!f) return;
  for (size_t i = 0; i < n; i++) {
    free(f[i].summary);
    free(f[i].advice);
    hq_sites_free(f[i].evidence, f[i].n_evidence);
  }
  free(f);
}

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dupf(const char *fmt, ...) {
  char *s = NULL;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  va_end(ap);
  return s;
}

/* Append a finding; takes ownership of evidence (also on failure). */
/* Append a finding; takes ownership of summary and evidence (also on failure). */
static int add(hq_report_t *r, const char *name, const char *fix, char *summary,
               const char *advice, hq_site_t *evidence, size_t n_evidence) {
  size_t cap = r->n_findings;
  hq_finding_t *f;
  if (!summary || hq__grow((void **)&r->findings, &cap, r->n_findings, sizeof *f, 4) != HQ_OK) {
    free(summary);
    hq_sites_free(evidence, n_evidence);
    return HQ_ENOMEM;
  }
  f = &r->findings[r->n_findings++];
  f->name = name;
  f->fix = fix;
  f->summary = summary;
  f->advice = strdup(advice);
  f->evidence = evidence;
  f->n_evidence = n_evidence;
  return f->advice ? HQ_OK : HQ_ENOMEM;
}

/* ---- the site rules: a query over the sites, thresholds, a sentence ---- */

typedef struct site_rule_s {
  const char *name, *fix, *col;  /* col: ranks the evidence and its callers */
  const char *where;             /* over the `sites` columns, thresholds written in */
  char *(*summary)(const hq_report_t *r, const hq_site_t *ev, size_t n);
  const char *advice;
} site_rule_t;

#define PLURAL_VERB(n) ((n) == 1 ? "s" : "")

static char *hot_summary(const hq_report_t *r, const hq_site_t *ev, size_t n) {
  uint64_t temps = 0;
  for (size_t i = 0; i < n; i++) temps += ev[i].temporary;
  return dupf("%zu site%s allocate%s and free%s small blocks at once: %" PRIu64
              " temporary allocations (%.1f%% of all heap allocations) from the site%s below",
              n, n == 1 ? "" : "s", PLURAL_VERB(n), PLURAL_VERB(n), temps,
              r->allocations_count ? 100.0 * (double)temps / (double)r->allocations_count : 0.0,
              n == 1 ? "" : "s");
}

static char *realloc_summary(const hq_report_t *r, const hq_site_t *ev, size_t n) {
  uint64_t reallocs = 0, again = 0;
  (void)r;
  for (size_t i = 0; i < n; i++) {
    reallocs += ev[i].reallocs;
    again += ev[i].realloced;
  }
  return dupf("%zu site%s grow%s blocks step by step: %" PRIu64 " realloc calls, %" PRIu64
              " of the blocks they return reallocated again",
              n, n == 1 ? "" : "s", PLURAL_VERB(n), reallocs, again);
}

static char *huge_summary(const hq_report_t *r, const hq_site_t *ev, size_t n) {
  char big[32];
  (void)r;
  hq__fmt_bytes((double)ev[0].max_size, big, sizeof big);
  return dupf("%zu site%s request%s single heap blocks of 64 MiB or more (largest %s)", n,
              n == 1 ? "" : "s", PLURAL_VERB(n), big);
}

static const site_rule_t site_rules[] = {
  {"hot_temporaries", "pool", "temporary",
   "WHERE class = 'heap' AND temporary >= " STR(HOT_TEMP_MIN) " AND 2 * temporary >= allocations"
   " AND bytes <= " STR(HOT_TEMP_MAX_AVG) " * allocations ORDER BY temporary DESC, site"
   " LIMIT " STR(EVIDENCE_MAX), hot_summary,
   "Keep the buffer across iterations, or take it from a pool or free list sized for "
   "it (a stack buffer for small fixed sizes) instead of malloc+free each time."},
  {"realloc_chain", "reserve", "reallocs",
   "WHERE class = 'heap' AND reallocs >= " STR(REALLOC_MIN) " AND 2 * realloced >= reallocs"
   " ORDER BY reallocs DESC, site LIMIT " STR(EVIDENCE_MAX), realloc_summary,
   "Reserve (pre-size) the final capacity when it is known, or grow geometrically "
   "(capacity *= 2) so a buffer of n bytes costs O(log n) reallocs, not O(n)."},
  {"huge_buffer", "chunk or mmap", "max_size",
   "WHERE class = 'heap' AND max_size >= " STR(HUGE_MIN) " ORDER BY max_size DESC, site"
   " LIMIT " STR(EVIDENCE_MAX), huge_summary,
   "Process the data in chunks sized to a memory budget, or mmap the file (or "
   "anonymous memory) so pages are resident only while they are used."},
};

static int site_rule(hq_db_t *db, hq_report_t *r, const site_rule_t *rule) {
  hq_site_t *ev = NULL;
  size_t n = 0;
  int rc = hq__sites_sql(db, rule->where, rule->col, &ev, &n);
  if (rc || n == 0) return rc;
  return add(r, rule->name, rule->fix, rule->summary(r, ev, n), rule->advice, ev, n);
}

/* ---- growth ---- */

/* The heap grew steadily while the program ran, whatever its teardown freed: never-freed bytes
 * accumulated over the run (leak growth), or the live heap climbed up to the teardown (live
 * growth).  A run too short for a trend has no finding. */
static int leak_growth(hq_db_t *db, hq_report_t *r) {
  int leaked = r->has_leak_growth && r->leak_growth_rate_bytes_per_s > 0 &&
               r->leak_growth_r2 >= GROWTH_MIN_R2 && r->leak_bytes >= LEAK_GROWTH_MIN_BYTES &&
               10 * r->leak_bytes >= r->peak_heap_bytes;
  double before = r->teardown_t_ns >= 0 ? (double)r->teardown_t_ns / 1e9 : (double)r->duration_ns / 1e9;
  int live = !leaked && r->has_live_growth && r->live_growth_rate_bytes_per_s > 0 &&
             r->live_growth_r2 >= LIVE_GROWTH_MIN_R2 &&
             r->live_growth_rate_bytes_per_s * before >= 0.5 * (double)r->peak_heap_bytes;
  char rate[32], total[32], where[160];
  hq_site_t *ev = NULL;
  size_t n = 0;
  int rc;
  if (!r->trend_ok || (!leaked && !live)) return HQ_OK;
  hq__fmt(where, sizeof where, "WHERE class = 'heap' AND %1$s > 0 ORDER BY %1$s DESC, site"
          " LIMIT " STR(EVIDENCE_MAX), leaked ? "leaked_bytes" : "peak_bytes");
  rc = hq__sites_sql(db, where, leaked ? "leaked_bytes" : "peak_bytes", &ev, &n);
  if (rc) return rc;
  if (leaked) {
    hq__fmt_bytes(r->leak_growth_rate_bytes_per_s, rate, sizeof rate);
    hq__fmt_bytes((double)r->leak_bytes, total, sizeof total);
    return add(r, "leak_growth", "leak",
               dupf("memory that is never freed accumulates steadily while the program runs: %s/s"
                    " (R^2 %.2f), %s in all by the end; the sites below leak the most",
                    rate, r->leak_growth_r2, total),
               "Free what each iteration allocates, or bound the cache or list that keeps it: "
               "memory that only grows is a leak while the program runs.",
               ev, n);
  }
  hq__fmt_bytes(r->live_growth_rate_bytes_per_s, rate, sizeof rate);
  hq__fmt_bytes((double)r->peak_heap_bytes, total, sizeof total);
  return add(r, "leak_growth", "leak",
             dupf("the live heap grows steadily until %s: %s/s over %.1f s (R^2 %.2f), up to a peak"
                  " of %s; the sites below hold the most at the peak",
                  r->teardown_t_ns >= 0 ? "the teardown frees it" : "the end", rate, before,
                  r->live_growth_r2, total),
             "Something keeps what the program is done with (a cache, a list of listeners, a "
             "history) and lets go only at exit: bound it, or drop entries when they are no "
             "longer needed.",
             ev, n);
}

/* ---- short-lived churn: a pool's case beyond temporaries ---- */

typedef struct {
  char *in;       /* "'site1','site2'" for an IN list */
  size_t len, cap;
} names_t;

static int add_name(sqlite3_stmt *st, void *ctx) {
  names_t *n = ctx;
  char *q = sqlite3_mprintf("%s%Q", n->len ? "," : "", (const char *)sqlite3_column_text(st, 0));
  size_t l;
  if (!q) return HQ_ENOMEM;
  l = strlen(q);
  if (hq__grow((void **)&n->in, &n->cap, n->len + l + 1, 1, 256)) {
    sqlite3_free(q);
    return HQ_ENOMEM;
  }
  memcpy(n->in + n->len, q, l + 1);
  n->len += l;
  sqlite3_free(q);
  return 0;
}

/* Sites that allocate and release blocks over and over, each block gone soon (on average within
 * 1% of the run), though not at once (other allocations come between, so they are not
 * "temporary"): a step's buffers, made and dropped every step.  A pool (or buffers kept across
 * steps) pays the allocator once instead.  Sites hot_temporaries already names are left to it. */
static int short_lived(hq_db_t *db, hq_report_t *r) {
  names_t names = {NULL, 0, 0};
  char sql[1024], *where = NULL;
  hq_site_t *ev = NULL;
  size_t n = 0;
  uint64_t allocs = 0;
  int rc;
  if (r->duration_ns <= 0) return HQ_OK;
  if ((rc = hq__callsites_ensure(db))) return rc;
  hq__fmt(sql, sizeof sql,
          "SELECT ss.site FROM allocations a JOIN kinds k ON k.kind = a.kind"
          " JOIN stack_sites ss ON ss.stack_id = a.stack_id WHERE k.class = 'heap'"
          " GROUP BY ss.site HAVING count(*) >= " STR(SHORT_LIVED_MIN)
          " AND 100 * count(a.t_free) >= " STR(SHORT_LIVED_FREED) " * count(*)"
          " AND 100 * avg(a.t_free - a.t_alloc) <= " STR(SHORT_LIVED_SHARE) " * %" PRId64,
          r->duration_ns);
  rc = hq__db_each(db, sql, "finding short-lived sites", add_name, &names);
  if (rc || !names.len) goto out;
  where = sqlite3_mprintf("WHERE class = 'heap' AND 2 * temporary < allocations AND site IN (%s)"
                          " ORDER BY allocations DESC, site LIMIT " STR(EVIDENCE_MAX), names.in);
  if (!where) {
    rc = HQ_ENOMEM;
    goto out;
  }
  rc = hq__sites_sql(db, where, "allocations", &ev, &n);
  if (rc || n == 0) goto out;
  for (size_t i = 0; i < n; i++) allocs += ev[i].allocations;
  rc = add(r, "short_lived", "pool",
           dupf("%zu site%s allocate%s and free%s blocks over and over, each gone within %d%% of the"
                " run on average: %" PRIu64 " heap allocations (%.1f%% of all) from the site%s below",
                n, n == 1 ? "" : "s", PLURAL_VERB(n), PLURAL_VERB(n), SHORT_LIVED_SHARE, allocs,
                r->allocations_count ? 100.0 * (double)allocs / (double)r->allocations_count : 0.0,
                n == 1 ? "" : "s"),
           "Take these buffers from a caching pool (the kernels' hq_pool, PyTorch's caching "
           "allocator) or keep them across iterations: the allocator's work is then paid once, "
           "not every time.",
           ev, n);
  ev = NULL;
out:
  sqlite3_free(where);
  free(names.in);
  return rc;
}

int hq__recommend(hq_db_t *db, hq_report_t *r) {
  int rc = HQ_OK;
  for (size_t i = 0; i < HQ_ARRAY_LEN(site_rules) && !rc; i++) rc = site_rule(db, r, &site_rules[i]);
  if (!rc) rc = short_lived(db, r);
  if (!rc) rc = leak_growth(db, r);
  return rc;
}
