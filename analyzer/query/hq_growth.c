/*
 * hq_growth.c: growth that a program's teardown does not hide.
 *
 * The slope of the live heap over the whole run (hq__sql_growth, metrics.growth_rate_bytes_per_s)
 * says little about a program that frees everything at exit, or that frees one big buffer at the
 * end: the last samples drag the line down.  Two more measures do not look at the teardown:
 *
 *   leak growth   the never-freed heap bytes accumulated over the run: the cumulative bytes of
 *                 blocks never freed, by allocation time (agg_leak_time), against time;
 *   live growth   the live heap before the teardown: the samples up to the last time the heap
 *                 stood within 10% of its peak, when after that it falls to half of it or less
 *                 within the last quarter of the run (else every sample).
 *
 * Each is a least-squares slope with its R^2.  No trend is given from fewer than
 * HQ__TREND_MIN_POINTS points or a run shorter than HQ__TREND_MIN_NS: the report says so.  The
 * SQL below is what docs/schema.md documents, run as it is.
 */
#include <stdio.h>

#include "query/query_int.h"

/* A trend is given only from enough points over a long enough run: the run (meta duration_ns,
 * at least 0.1 s) and the samples (at least 10) of %1$s. */
#define TREND_OK_SQL(points)                                                                    \
  "(CAST((SELECT value FROM meta WHERE key = 'duration_ns') AS INTEGER) >= 100000000"           \
  " AND (SELECT count(*) FROM %1$s) >= 10 AND " points " >= 10)"
#define SLOPE_SQL                                                                               \
  "sum((s.x - m.mx) * (s.y - m.my)) / nullif(sum((s.x - m.mx) * (s.x - m.mx)), 0)"
#define R2_SQL                                                                                  \
  "sum((s.x - m.mx) * (s.y - m.my)) * sum((s.x - m.mx) * (s.y - m.my))"                          \
  " / nullif(sum((s.x - m.mx) * (s.x - m.mx)) * sum((s.y - m.my) * (s.y - m.my)), 0)"

/* One point per agg_leak_time bin from the start to the end of the run: (end of the bin in s,
 * bytes never freed allocated up to then). */
const char hq__sql_leak_growth[] =
  "WITH RECURSIVE\n"
  "  w AS (SELECT max(t_end - t_begin) AS width FROM agg_leak_time),\n"
  "  n AS (SELECT min((CAST((SELECT value FROM meta WHERE key = 'duration_ns') AS INTEGER)\n"
  "                    + width - 1) / width, 1024) AS bins FROM w WHERE width > 0),\n"
  "  i(k) AS (SELECT 0 FROM n WHERE bins > 0 UNION ALL SELECT k + 1 FROM i, n WHERE k + 1 < bins),\n"
  "  s AS (SELECT (i.k + 1) * w.width / 1e9 AS x,\n"
  "               CAST((SELECT coalesce(sum(bytes), 0) FROM agg_leak_time WHERE bin <= i.k) AS REAL)\n"
  "                 AS y FROM i, w),\n"
  "  m AS (SELECT avg(x) AS mx, avg(y) AS my FROM s)\n"
  "SELECT CASE WHEN " TREND_OK_SQL("count(*)") " THEN " SLOPE_SQL " END\n"
  "         AS leak_growth_rate_bytes_per_s,\n"
  "       CASE WHEN " TREND_OK_SQL("count(*)") " THEN " R2_SQL " END AS leak_growth_r2\n"
  "FROM s, m";

/* Over %1$s (the samples): the teardown's start (the last time the live heap stood within 10%%
 * of its peak, when the last sample holds half of the peak or less and comes within a quarter
 * of the run after it; NULL without such a teardown), and the live heap's line up to then. */
const char hq__sql_live_growth[] =
  "WITH\n"
  "  p AS (SELECT max(heap_bytes) AS peak, min(t) AS t0, max(t) AS t1 FROM %1$s),\n"
  "  c AS (SELECT max(t) AS t_cut FROM %1$s, p WHERE heap_bytes * 10 >= peak * 9),\n"
  "  l AS (SELECT min(heap_bytes) AS last FROM %1$s, p WHERE t = p.t1),\n"
  "  td AS (SELECT CASE WHEN l.last * 2 <= p.peak AND p.peak > 0\n"
  "                      AND (p.t1 - c.t_cut) * 4 <= p.t1 - p.t0 THEN c.t_cut END AS t\n"
  "         FROM p, c, l),\n"
  "  s AS (SELECT t / 1e9 AS x, CAST(heap_bytes AS REAL) AS y FROM %1$s\n"
  "        WHERE t <= coalesce((SELECT t FROM td), 9223372036854775807)),\n"
  "  m AS (SELECT avg(x) AS mx, avg(y) AS my FROM s)\n"
  "SELECT (SELECT t FROM td) / 1e9 AS teardown_time_s,\n"
  "       CASE WHEN " TREND_OK_SQL("count(*)") " AND max(x) - min(x) >= 0.1 THEN " SLOPE_SQL " END\n"
  "         AS live_growth_rate_bytes_per_s,\n"
  "       CASE WHEN " TREND_OK_SQL("count(*)") " AND max(x) - min(x) >= 0.1 THEN " R2_SQL " END\n"
  "         AS live_growth_r2\n"
  "FROM s, m";

int hq__growth_compute(hq_db_t *db, const char *samples, hq_report_t *r) {
  char sql[4096];
  sqlite3_stmt *st = NULL;
  int rc;

  r->trend_ok = r->n_samples >= HQ__TREND_MIN_POINTS && r->duration_ns >= HQ__TREND_MIN_NS;
  r->teardown_t_ns = -1;
  hq__fmt(sql, sizeof sql, hq__sql_leak_growth, samples);
  if ((rc = hq__db_prepare(db, sql, &st))) return rc;
  if (sqlite3_step(st) == SQLITE_ROW) {
    r->has_leak_growth = sqlite3_column_type(st, 0) != SQLITE_NULL;
    r->leak_growth_rate_bytes_per_s = sqlite3_column_double(st, 0);
    r->leak_growth_r2 = sqlite3_column_double(st, 1);
  } else {
    rc = hq__db_sqlerr(db, "leak growth");
  }
  sqlite3_finalize(st);
  st = NULL;
  if (rc) return rc;
  hq__fmt(sql, sizeof sql, hq__sql_live_growth, samples);
  if ((rc = hq__db_prepare(db, sql, &st))) return rc;
  if (sqlite3_step(st) == SQLITE_ROW) {
    if (sqlite3_column_type(st, 0) != SQLITE_NULL)
      r->teardown_t_ns = (int64_t)(sqlite3_column_double(st, 0) * 1e9 + 0.5);
    r->has_live_growth = sqlite3_column_type(st, 1) != SQLITE_NULL;
    r->live_growth_rate_bytes_per_s = sqlite3_column_double(st, 1);
    r->live_growth_r2 = sqlite3_column_double(st, 2);
  } else {
    rc = hq__db_sqlerr(db, "live growth");
  }
  sqlite3_finalize(st);
  return rc;
}
