/*
 * hq_report.c: compute the report (hq_report_t) from the aggregate tables and the samples.
 *
 * The float metrics are computed by the very SQL that docs/schema.md documents (the strings
 * below), over the same rows in the same order, so the documented queries reproduce them
 * exactly; the integer figures come from agg_* tables whose documented equivalents are queries
 * over the views (tests/unit/test_report.c checks each one).
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"

/* The samples SQL: %1$s is "samples", or the samples of one process of a merged database.
 * Least-squares slope of live heap bytes against time in seconds over the samples, and the
 * coefficient of determination of that line. */
const char hq__sql_growth[] =
  "WITH s AS (SELECT t / 1e9 AS x, CAST(heap_bytes AS REAL) AS y FROM %1$s),\n"
  "     m AS (SELECT avg(x) AS mx, avg(y) AS my FROM s)\n"
  "SELECT count(*) AS samples,\n"
  "       sum((s.x - m.mx) * (s.y - m.my)) / nullif(sum((s.x - m.mx) * (s.x - m.mx)), 0)\n"
  "         AS growth_rate_bytes_per_s,\n"
  "       sum((s.x - m.mx) * (s.y - m.my)) * sum((s.x - m.mx) * (s.y - m.my))\n"
  "         / nullif(sum((s.x - m.mx) * (s.x - m.mx)) * sum((s.y - m.my) * (s.y - m.my)), 0)\n"
  "         AS r2\n"
  "FROM s, m";

/* Peak RSS over peak live heap + mmap bytes, both over the samples. */
const char hq__sql_fragmentation[] =
  "SELECT CAST(max(rss_bytes) AS REAL) / nullif(max(heap_bytes + coalesce(mmap_bytes, 0)), 0)\n"
  "         AS fragmentation_ratio\n"
  "FROM %1$s";

/* The efficiency score; ?1 leaked heap bytes, ?2 peak heap bytes, ?3 temporary heap
 * allocations, ?4 heap allocations. */
const char hq__sql_efficiency[] =
  "SELECT round(40.0 * (1.0 - min(1.0, CAST(?1 AS REAL) / max(?2, 1)))\n"
  "           + 30.0 * (1.0 - CAST(?3 AS REAL) / max(?4, 1))\n"
  "           + 30.0 * coalesce(min(1.0, (SELECT CAST(max(heap_bytes + coalesce(mmap_bytes, 0))"
  " AS REAL)\n"
  "                                              / nullif(max(rss_bytes), 0) FROM %1$s)),"
  " 1.0),\n"
  "             1) AS efficiency_score";

static int read_run(hq_db_t *db, hq_report_t *r) {
  int64_t v = 0;
  int has = 0, rc;
  r->path = strdup(db->path);
  if (!r->path) return HQ_ENOMEM;
  if ((rc = hq__meta_text(db, "program", &r->program)) ||
      (rc = hq__meta_text(db, "command_line", &r->command_line)) ||
      (rc = hq__meta_text(db, "host", &r->host)) ||
      (rc = hq__meta_text(db, "heapql_version", &r->heapql_version)) ||
      (rc = hq__meta_text(db, "incomplete_reason", &r->incomplete_reason)) ||
      (rc = hq__meta_text(db, "leak_check", &r->leak_check)) ||
      (rc = hq__meta_text(db, "python_version", &r->python_version)) ||
      (rc = hq__meta_text(db, "python_allocator", &r->python_allocator)) ||
      (rc = hq__meta_int_opt(db, "leak_check_threads_unanswered", &r->leak_check_unanswered, NULL)) ||
      (rc = hq__meta_int_opt(db, "pid", &r->pid, NULL)) ||
      (rc = hq__meta_int_opt(db, "exit_status", &r->exit_status, &r->has_exit_status)) ||
      (rc = hq__meta_int_opt(db, "duration_ns", &r->duration_ns, NULL)) ||
      (rc = hq__meta_int_opt(db, "peak_heap_pid", &r->peak_pid, &r->has_peak_pid)))
    return rc;
  if ((rc = hq__meta_int_opt(db, "complete", &v, &has))) return rc;
  r->complete = has && v == 1;
  if (r->complete) {
    free(r->incomplete_reason);
    r->incomplete_reason = NULL;
  }
  v = 0;
  if ((rc = hq__meta_int_opt(db, "dropped_events", &v, NULL))) return rc;
  r->dropped_events = v > 0 ? (uint64_t)v : 0;
  v = 0;
  if ((rc = hq__meta_int_opt(db, "symbolized", &v, NULL))) return rc;
  r->symbolized = v == 1;
  v = 0;
  if ((rc = hq__meta_int_opt(db, "python_frames", &v, NULL))) return rc;
  r->python_frames = v == 1;
  v = 0;
  if ((rc = hq__meta_int_opt(db, "peak_device_driver_bytes", &v, &r->has_device_driver))) return rc;
  r->peak_device_driver_bytes = v > 0 ? (uint64_t)v : 0;
  if ((rc = hq__meta_int_opt(db, "peak_device_driver_t", &r->peak_device_driver_t_ns, NULL))) return rc;
  return HQ_OK;
}

/* agg_class's figure columns (1..9 of the query below), in hq_class_totals_t. */
static const size_t class_columns[] = {
  offsetof(hq_class_totals_t, allocations), offsetof(hq_class_totals_t, bytes),
  offsetof(hq_class_totals_t, frees), offsetof(hq_class_totals_t, reallocs),
  offsetof(hq_class_totals_t, realloced), offsetof(hq_class_totals_t, leaked_blocks),
  offsetof(hq_class_totals_t, leaked_bytes), offsetof(hq_class_totals_t, temporary),
  offsetof(hq_class_totals_t, peak_bytes),
};

/* The report's headline figures: copies of one class's totals (all 8-byte integers). */
static const struct { size_t to; int cls; size_t from; } headline[] = {
  {offsetof(hq_report_t, allocations_count), HQ_CLASS_HEAP, offsetof(hq_class_totals_t, allocations)},
  {offsetof(hq_report_t, allocations_bytes), HQ_CLASS_HEAP, offsetof(hq_class_totals_t, bytes)},
  {offsetof(hq_report_t, frees_count), HQ_CLASS_HEAP, offsetof(hq_class_totals_t, frees)},
  {offsetof(hq_report_t, reallocs_count), HQ_CLASS_HEAP, offsetof(hq_class_totals_t, reallocs)},
  {offsetof(hq_report_t, leak_blocks), HQ_CLASS_HEAP, offsetof(hq_class_totals_t, leaked_blocks)},
  {offsetof(hq_report_t, leak_bytes), HQ_CLASS_HEAP, offsetof(hq_class_totals_t, leaked_bytes)},
  {offsetof(hq_report_t, temporary_count), HQ_CLASS_HEAP, offsetof(hq_class_totals_t, temporary)},
  {offsetof(hq_report_t, peak_heap_bytes), HQ_CLASS_HEAP, offsetof(hq_class_totals_t, peak_bytes)},
  {offsetof(hq_report_t, peak_heap_t_ns), HQ_CLASS_HEAP, offsetof(hq_class_totals_t, peak_t_ns)},
  {offsetof(hq_report_t, peak_mmap_bytes), HQ_CLASS_MMAP, offsetof(hq_class_totals_t, peak_bytes)},
  {offsetof(hq_report_t, peak_mmap_t_ns), HQ_CLASS_MMAP, offsetof(hq_class_totals_t, peak_t_ns)},
  {offsetof(hq_report_t, peak_device_bytes), HQ_CLASS_DEVICE, offsetof(hq_class_totals_t, peak_bytes)},
  {offsetof(hq_report_t, peak_device_t_ns), HQ_CLASS_DEVICE, offsetof(hq_class_totals_t, peak_t_ns)},
};

static int class_row(sqlite3_stmt *st, void *ctx) {
  hq_report_t *r = ctx;
  int cls = hq_class_parse((const char *)sqlite3_column_text(st, 0));
  hq_class_totals_t *c;
  if (cls < 0) return HQ_OK;
  c = &r->classes[cls];
  for (size_t i = 0; i < HQ_ARRAY_LEN(class_columns); i++) {
    uint64_t v = (uint64_t)sqlite3_column_int64(st, (int)i + 1);
    memcpy((char *)c + class_columns[i], &v, sizeof v);
  }
  c->has_peak = sqlite3_column_type(st, 10) != SQLITE_NULL;
  c->peak_t_ns = c->has_peak ? sqlite3_column_int64(st, 10) : 0;
  return HQ_OK;
}

static int read_classes(hq_db_t *db, hq_report_t *r) {
  int rc = hq__db_each(db, "SELECT class, allocations, bytes, frees, reallocs, realloced,"
                           " leaked_blocks, leaked_bytes, temporary, peak_bytes, peak_t"
                           " FROM agg_class", "agg_class", class_row, r);
  if (rc) return rc;
  for (size_t i = 0; i < HQ_ARRAY_LEN(headline); i++)
    memcpy((char *)r + headline[i].to, (const char *)&r->classes[headline[i].cls] + headline[i].from,
           sizeof(uint64_t));
  return HQ_OK;
}

static int leak_class_row(sqlite3_stmt *st, void *ctx) {
  hq_report_t *r = ctx;
  const char *name = (const char *)sqlite3_column_text(st, 0);
  hq_blocks_bytes_t v = {(uint64_t)sqlite3_column_int64(st, 1), (uint64_t)sqlite3_column_int64(st, 2)};
  if (!name) {
    r->unclassified = v;
    return HQ_OK;
  }
  r->leaks_classified = 1;
  if (!strcmp(name, "definitely_lost")) r->definitely_lost = v;
  else if (!strcmp(name, "indirectly_lost")) r->indirectly_lost = v;
  else if (!strcmp(name, "possibly_lost")) r->possibly_lost = v;
  else if (!strcmp(name, "still_reachable")) r->still_reachable = v;
  return HQ_OK;
}

static int read_leak_classes(hq_db_t *db, hq_report_t *r) {
  return hq__db_each(db, "SELECT leak_class, sum(blocks), sum(bytes) FROM agg_leak_class"
                         " WHERE class = 'heap' GROUP BY leak_class", "agg_leak_class",
                     leak_class_row, r);
}

/* Prepare one of the samples queries above over `samples` (or, in a merged database, the
 * samples of the process the peaks describe). */
static void samples_source(const hq_report_t *r, char *src, size_t cap) {
  if (r->has_peak_pid)
    hq__fmt(src, cap, "(SELECT * FROM samples WHERE pid = %lld)", (long long)r->peak_pid);
  else
    hq__fmt(src, cap, "samples");
}

static int prepare_samples_sql(hq_db_t *db, const hq_report_t *r, const char *fmt,
                               sqlite3_stmt **st) {
  char src[96], sql[1024];
  samples_source(r, src, sizeof src);
  if (hq__fmt(sql, sizeof sql, fmt, src) != HQ_OK) return HQ_ERANGE;
  return hq__db_prepare(db, sql, st);
}

static int read_metrics(hq_db_t *db, hq_report_t *r) {
  static const char rss_sql[] =
    "SELECT rss_bytes, t FROM %1$s WHERE rss_bytes IS NOT NULL ORDER BY rss_bytes DESC, t LIMIT 1";
  sqlite3_stmt *st = NULL;
  int rc;

  rc = prepare_samples_sql(db, r, rss_sql, &st);
  if (rc) return rc;
  if (sqlite3_step(st) == SQLITE_ROW) {
    r->has_rss = 1;
    r->peak_rss_bytes = (uint64_t)sqlite3_column_int64(st, 0);
    r->peak_rss_t_ns = sqlite3_column_int64(st, 1);
  }
  sqlite3_finalize(st);

  rc = prepare_samples_sql(db, r, hq__sql_growth, &st);
  if (rc) return rc;
  if (sqlite3_step(st) != SQLITE_ROW) { rc = hq__db_sqlerr(db, "growth rate"); goto out; }
  r->n_samples = (size_t)sqlite3_column_int64(st, 0);
  r->has_growth_rate = sqlite3_column_type(st, 1) != SQLITE_NULL;
  r->growth_rate_bytes_per_s = sqlite3_column_double(st, 1);
  r->growth_r2 = sqlite3_column_double(st, 2); /* NULL (a flat heap) reads as 0 */
  sqlite3_finalize(st);

  rc = prepare_samples_sql(db, r, hq__sql_fragmentation, &st);
  if (rc) return rc;
  if (sqlite3_step(st) != SQLITE_ROW) { rc = hq__db_sqlerr(db, "fragmentation"); goto out; }
  r->has_fragmentation_ratio = sqlite3_column_type(st, 0) != SQLITE_NULL;
  r->fragmentation_ratio = sqlite3_column_double(st, 0);
  sqlite3_finalize(st);

  rc = prepare_samples_sql(db, r, hq__sql_efficiency, &st);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, (int64_t)r->leak_bytes);
  sqlite3_bind_int64(st, 2, (int64_t)r->peak_heap_bytes);
  sqlite3_bind_int64(st, 3, (int64_t)r->temporary_count);
  sqlite3_bind_int64(st, 4, (int64_t)r->allocations_count);
  if (sqlite3_step(st) != SQLITE_ROW) { rc = hq__db_sqlerr(db, "efficiency score"); goto out; }
  r->efficiency_score = sqlite3_column_double(st, 0);
  sqlite3_finalize(st);
  st = NULL;
  {
    char src[96];
    samples_source(r, src, sizeof src);
    rc = hq__growth_compute(db, src, r);
  }
out:
  sqlite3_finalize(st);
  return rc;
}

static int bucket_row(sqlite3_stmt *st, void *ctx) {
  hq_report_t *r = ctx;
  hq_bucket_t *b;
  if (r->n_histogram == 64) return HQ_OK; /* buckets -1..62: never more */
  b = &r->histogram[r->n_histogram++];
  b->bucket = sqlite3_column_int(st, 0);
  b->min_size = (uint64_t)sqlite3_column_int64(st, 1);
  b->max_size = (uint64_t)sqlite3_column_int64(st, 2);
  b->allocations = (uint64_t)sqlite3_column_int64(st, 3);
  b->bytes = (uint64_t)sqlite3_column_int64(st, 4);
  return HQ_OK;
}

static int read_histogram(hq_db_t *db, hq_report_t *r) {
  r->histogram = calloc(64, sizeof *r->histogram);
  if (!r->histogram) return HQ_ENOMEM;
  return hq__db_each(db, "SELECT bucket, min_size, max_size, allocations, bytes"
                         " FROM agg_size WHERE class = 'heap' ORDER BY bucket", "agg_size",
                     bucket_row, r);
}

int hq_report_compute(hq_db_t *db, const hq_report_opts_t *opts, hq_report_t **out_report) {
  hq_report_t *r = NULL;
  size_t top = opts && opts->top ? opts->top : 10;
  int rc;

  if (!out_report) return HQ_MISUSE_BKPT;
  *out_report = NULL;
  if (!HQ_DB_OK(db)) return HQ_MISUSE_BKPT;
  r = calloc(1, sizeof *r);
  if (!r) return HQ_ENOMEM;
  rc = hq__callsites_ensure(db);
  if (rc) goto out;
  if ((rc = hq__source_root(db, &r->source_root)) || (rc = hq__stale_modules(db, &r->stale_modules)))
    goto out;
  if ((rc = read_run(db, r)) || (rc = read_classes(db, r)) || (rc = read_leak_classes(db, r)) ||
      (rc = read_metrics(db, r)) || (rc = read_histogram(db, r)))
    goto out;
  if ((rc = hq__sites_load(db, HQ_BY_LEAKED, -1, top, &r->top_leaks, &r->n_top_leaks)) ||
      (rc = hq__sites_load(db, HQ_BY_COUNT, HQ_CLASS_HEAP, top, &r->top_count, &r->n_top_count)) ||
      (rc = hq__sites_load(db, HQ_BY_BYTES, HQ_CLASS_HEAP, top, &r->top_bytes, &r->n_top_bytes)) ||
      (rc = hq__sites_load(db, HQ_BY_PEAK, HQ_CLASS_HEAP, top, &r->top_peak, &r->n_top_peak)) ||
      (rc = hq__sites_load(db, HQ_BY_TEMPORARY, HQ_CLASS_HEAP, top, &r->top_temporary,
                           &r->n_top_temporary)) ||
      (rc = hq_lines_top(db, HQ_BY_BYTES, HQ_CLASS_HEAP, top, &r->top_lines, &r->n_top_lines)))
    goto out;
  if ((rc = hq__failures_load(db, 0, top, 0, &r->failures, &r->n_failures, &r->failures_total)))
    goto out;
  if (opts && opts->recommend) {
    rc = hq__recommend(db, r);
    if (rc) goto out;
    r->recommended = 1;
  }
out:
  if (rc) {
    hq_report_free(r);
    return rc;
  }
  *out_report = r;
  return HQ_OK;
}

void hq_report_free(hq_report_t *r) {
  if (!r) return;
  free(r->path);
  free(r->program);
  free(r->command_line);
  free(r->host);
  free(r->heapql_version);
  free(r->incomplete_reason);
  free(r->leak_check);
  free(r->python_version);
  free(r->python_allocator);
  free(r->source_root);
  free(r->stale_modules);
  hq__failures_free(r->failures, r->n_failures);
  hq_sites_free(r->top_leaks, r->n_top_leaks);
  hq_sites_free(r->top_count, r->n_top_count);
  hq_sites_free(r->top_bytes, r->n_top_bytes);
  hq_sites_free(r->top_peak, r->n_top_peak);
  hq_sites_free(r->top_temporary, r->n_top_temporary);
  hq_lines_free(r->top_lines, r->n_top_lines);
  free(r->histogram);
  hq__findings_free(r->findings, r->n_findings);
  free(r);
}
