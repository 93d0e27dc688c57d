/*
 * hq_headline.c: the headline figures of one run (program, duration, heap counts, peaks, leaks),
 * as `heapql compare`, `heapql diff` and the HTML report show them.
 */
#include <stdio.h>
#include <string.h>

#include "query/query_int.h"

/* max(column) and the t of the row holding it, over every sample. */
static int samples_max(hq_db_t *db, const char *column, int64_t *out_v, int64_t *out_t) {
  char sql[256];
  sqlite3_stmt *st = NULL;
  int rc;
  snprintf(sql, sizeof sql, "SELECT %s, t FROM samples WHERE %s IS NOT NULL"
                            " ORDER BY %s DESC, t LIMIT 1", column, column, column);
  rc = hq__db_prepare(db, sql, &st);
  if (rc) return rc;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *out_v = sqlite3_column_int64(st, 0);
    if (out_t) *out_t = sqlite3_column_int64(st, 1);
    rc = HQ_OK;
  } else {
    rc = rc == SQLITE_DONE ? HQ_ENOENT : hq__db_sqlerr(db, "reading samples");
  }
  sqlite3_finalize(st);
  return rc;
}

int hq__headline_load(hq_db_t *db, hq__headline_t *h) {
  sqlite3_stmt *st = NULL;
  int rc;

  memset(h, 0, sizeof *h);
  hq_db_meta_get(db, "program", h->program, sizeof h->program);
  hq_db_meta_get(db, "command_line", h->command_line, sizeof h->command_line);
  h->processes = hq__meta_int_or(db, "processes", 1);
  h->pid = hq__meta_int_or(db, "pid", 0);
  h->duration_ns = hq__meta_int_or(db, "duration_ns", 0);
  h->complete = (int)hq__meta_int_or(db, "complete", -1);

  /* The counting rules of DESIGN §5: heap class only; a moving realloc's release of the old
   * block is not a free call; temporary per thread as in the `temporary` view. */
  rc = hq__db_prepare(db,
                      "SELECT count(*), coalesce(sum(a.size), 0),"
                      " coalesce(sum(a.t_free IS NOT NULL AND coalesce(a.free_kind, '') <> 'realloc'), 0),"
                      " coalesce(sum(a.t_free IS NULL), 0),"
                      " coalesce(sum(CASE WHEN a.t_free IS NULL THEN a.size ELSE 0 END), 0),"
                      " coalesce(sum(a.t_free IS NOT NULL AND a.free_tid = a.tid"
                      "              AND a.free_seq = a.alloc_seq), 0)"
                      " FROM allocations a JOIN kinds k ON k.kind = a.kind WHERE k.class = 'heap'",
                      &st);
  if (rc) return rc;
  if (sqlite3_step(st) != SQLITE_ROW) {
    rc = hq__db_sqlerr(db, "counting allocations");
    goto out;
  }
  h->alloc_count = sqlite3_column_int64(st, 0);
  h->alloc_bytes = sqlite3_column_int64(st, 1);
  h->free_count = sqlite3_column_int64(st, 2);
  h->leaked_blocks = sqlite3_column_int64(st, 3);
  h->leaked_bytes = sqlite3_column_int64(st, 4);
  h->temporary_count = sqlite3_column_int64(st, 5);

  h->peak_heap_t = -1;
  if (hq__meta_int(db, "peak_heap_bytes", &h->peak_heap_bytes) == HQ_OK) {
    h->peak_heap_t = hq__meta_int_or(db, "peak_heap_t", -1);
  } else {
    rc = samples_max(db, "heap_bytes", &h->peak_heap_bytes, &h->peak_heap_t);
    if (rc && rc != HQ_ENOENT) goto out;
    /* Neither meta nor samples: sweep the allocations (one clock: one process only). */
    if (rc == HQ_ENOENT && h->processes <= 1) {
      rc = hq__sites_peak(db, "heap", &h->peak_heap_bytes, &h->peak_heap_t);
      if (rc) goto out;
    }
  }
  if (hq__meta_int(db, "peak_rss_bytes", &h->peak_rss_bytes) != HQ_OK) {
    rc = samples_max(db, "rss_bytes", &h->peak_rss_bytes, NULL);
    if (rc && rc != HQ_ENOENT) goto out;
  }
  if (hq__meta_int(db, "peak_mmap_bytes", &h->peak_mmap_bytes) != HQ_OK) {
    rc = samples_max(db, "mmap_bytes", &h->peak_mmap_bytes, NULL);
    if (rc && rc != HQ_ENOENT) goto out;
  }
  if (hq__meta_int(db, "peak_device_bytes", &h->peak_device_bytes) != HQ_OK) {
    rc = samples_max(db, "device_bytes", &h->peak_device_bytes, NULL);
    if (rc && rc != HQ_ENOENT) goto out;
  }
  rc = HQ_OK;
out:
  sqlite3_finalize(st);
  return rc;
}

/* ---- compare ---- */
