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
#define HUGE_MIN          (64ull << 20)   /* one request of 64 MiB or more */
#define GROWTH_MIN_SAMPLES 10
#define GROWTH_MIN_R2     0.8
#define EVIDENCE_MAX      5

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

static int hot_temporaries(hq_db_t *db, hq_report_t *r) {
  char where[256];
  hq_site_t *ev = NULL;
  size_t n = 0;
  uint64_t temps = 0;
  int rc;
  hq__fmt(where, sizeof where,
          "WHERE class = 'heap' AND temporary >= %d AND 2 * temporary >= allocations"
          " AND bytes <= %d * allocations ORDER BY temporary DESC, stack_id LIMIT %d",
          HOT_TEMP_MIN, HOT_TEMP_MAX_AVG, EVIDENCE_MAX);
  rc = hq__sites_sql(db, where, &ev, &n);
  if (rc || n == 0) return rc;
  for (size_t i = 0; i < n; i++) temps += ev[i].temporary;
  return add(r, "hot_temporaries", "pool",
             dupf("%zu site%s allocate%s and free%s small blocks at once: %" PRIu64
                  " temporary allocations (%.1f%% of all heap allocations) from the site%s below",
                  n, n == 1 ? "" : "s", n == 1 ? "s" : "", n == 1 ? "s" : "", temps,
                  r->allocations_count ? 100.0 * (double)temps / (double)r->allocations_count : 0.0,
                  n == 1 ? "" : "s"),
             "Keep the buffer across iterations, or take it from a pool or free list sized for "
             "it (a stack buffer for small fixed sizes) instead of malloc+free each time.",
             ev, n);
}

static int realloc_chains(hq_db_t *db, hq_report_t *r) {
  char where[256];
  hq_site_t *ev = NULL;
  size_t n = 0;
  uint64_t reallocs = 0, again = 0;
  int rc;
  hq__fmt(where, sizeof where,
          "WHERE class = 'heap' AND reallocs >= %d AND 2 * realloced >= reallocs"
          " ORDER BY reallocs DESC, stack_id LIMIT %d", REALLOC_MIN, EVIDENCE_MAX);
  rc = hq__sites_sql(db, where, &ev, &n);
  if (rc || n == 0) return rc;
  for (size_t i = 0; i < n; i++) {
    reallocs += ev[i].reallocs;
    again += ev[i].realloced;
  }
  return add(r, "realloc_chain", "reserve",
             dupf("%zu site%s grow%s blocks step by step: %" PRIu64 " realloc calls, %" PRIu64
                  " of the blocks they return reallocated again",
                  n, n == 1 ? "" : "s", n == 1 ? "s" : "", reallocs, again),
             "Reserve (pre-size) the final capacity when it is known, or grow geometrically "
             "(capacity *= 2) so a buffer of n bytes costs O(log n) reallocs, not O(n).",
             ev, n);
}

static int huge_buffers(hq_db_t *db, hq_report_t *r) {
  char where[256];
  hq_site_t *ev = NULL;
  size_t n = 0;
  int rc;
  hq__fmt(where, sizeof where,
          "WHERE class = 'heap' AND max_size >= %llu ORDER BY max_size DESC, stack_id LIMIT %d",
          HUGE_MIN, EVIDENCE_MAX);
  rc = hq__sites_sql(db, where, &ev, &n);
  if (rc || n == 0) return rc;
  {
    char big[32];
    hq__fmt_bytes((double)(ev[0].max_size), big, sizeof big);
    return add(r, "huge_buffer", "chunk or mmap",
               dupf("%zu site%s request%s single heap blocks of 64 MiB or more (largest %s)",
                    n, n == 1 ? "" : "s", n == 1 ? "s" : "", big),
               "Process the data in chunks sized to a memory budget, or mmap the file (or "
               "anonymous memory) so pages are resident only while they are used.",
               ev, n);
  }
}

static int monotonic_growth(hq_db_t *db, hq_report_t *r) {
  sqlite3_stmt *st = NULL;
  int64_t span_ns = 0;
  hq_site_t *ev = NULL;
  size_t n = 0;
  int rc;
  char rate[32], peak[32], where[160];

  if (r->n_samples < GROWTH_MIN_SAMPLES || !r->has_growth_rate || r->growth_rate_bytes_per_s <= 0 ||
      r->growth_r2 < GROWTH_MIN_R2)
    return HQ_OK;
  rc = hq__db_prepare(db, "SELECT max(t) - min(t) FROM samples", &st);
  if (rc) return rc;
  if (sqlite3_step(st) == SQLITE_ROW) span_ns = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  /* the trend must account for at least half of the peak, or it is a slow drift */
  if (r->growth_rate_bytes_per_s * ((double)span_ns / 1e9) < 0.5 * (double)r->peak_heap_bytes)
    return HQ_OK;
  hq__fmt(where, sizeof where, "WHERE class = 'heap' AND %s > 0 ORDER BY %s DESC, stack_id"
          " LIMIT %d", r->leak_bytes ? "leaked_bytes" : "peak_bytes",
          r->leak_bytes ? "leaked_bytes" : "peak_bytes", EVIDENCE_MAX);
  rc = hq__sites_sql(db, where, &ev, &n);
  if (rc) return rc;
  hq__fmt_bytes(r->growth_rate_bytes_per_s, rate, sizeof rate);
  hq__fmt_bytes((double)(r->peak_heap_bytes), peak, sizeof peak);
  return add(r, "monotonic_growth", "leak",
             dupf("the live heap grows steadily: %s/s over %.1f s (R^2 %.2f), up to a peak of %s;"
                  " %s",
                  rate, (double)span_ns / 1e9, r->growth_r2, peak,
                  r->leak_bytes ? "the sites below leak the most" :
                                  "nothing leaks at exit, the sites below hold the most at the peak"),
             "Free what each iteration allocates (or bound the cache that keeps it): memory "
             "that only grows is a leak while the program runs, even if it is freed at exit.",
             ev, n);
}

int hq__recommend(hq_db_t *db, hq_report_t *r) {
  int rc;
  if ((rc = hot_temporaries(db, r)) || (rc = realloc_chains(db, r)) ||
      (rc = huge_buffers(db, r)) || (rc = monotonic_growth(db, r)))
    return rc;
  return HQ_OK;
}
