/*
 * hq_sites.c: ranked sites and source lines (from agg_stack / agg_line), and stacks as frames.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"

/* One frame as one line of stack_text: keep in step with the view in hq_schema.sql. */
#define FRAME_TEXT_SQL                                                                      \
  "coalesce(function, printf('0x%x', ip)) ||"                                               \
  " CASE WHEN file IS NOT NULL THEN ' ' || file || ':' || coalesce(line, 0)"                \
  "      WHEN module IS NOT NULL THEN ' (' || module || '+' || printf('0x%x', offset) || ')'" \
  "      ELSE '' END ||"                                                                    \
  " CASE WHEN inlined THEN ' [inlined]' ELSE '' END"

const char *hq__metric_column(hq_metric_t metric) {
  switch (metric) {
  case HQ_BY_COUNT: return "allocations";
  case HQ_BY_BYTES: return "bytes";
  case HQ_BY_PEAK: return "peak_bytes";
  case HQ_BY_TEMPORARY: return "temporary";
  case HQ_BY_LEAKED: return "leaked_bytes";
  }
  return NULL;
}

void hq_sites_free(hq_site_t *sites, size_t n) {
  if (!sites) return;
  for (size_t i = 0; i < n; i++) {
    free(sites[i].location);
    free(sites[i].function);
    free(sites[i].file);
    free(sites[i].module);
    for (size_t c = 0; c < sites[i].n_callers; c++) free(sites[i].callers[c].location);
    free(sites[i].callers);
  }
  free(sites);
}

/* Per site and class: the agg_stack figures of its stacks, summed (the `sites` view's columns,
 * read from the aggregate tables).  %s is the caller's WHERE / ORDER BY / LIMIT. */
#define SITES_SQL                                                                              \
  "SELECT site, class, allocations, bytes, frees, reallocs, realloced, leaked_blocks,"        \
  " leaked_bytes, temporary, max_size, peak_blocks, peak_bytes, stacks FROM"                  \
  " (SELECT coalesce(ss.site, '(no stack)') AS site, a.class AS class,"                      \
  "   sum(a.allocations) AS allocations, sum(a.bytes) AS bytes, sum(a.frees) AS frees,"        \
  "   sum(a.reallocs) AS reallocs, sum(a.realloced) AS realloced,"                             \
  "   sum(a.leaked_blocks) AS leaked_blocks, sum(a.leaked_bytes) AS leaked_bytes,"             \
  "   sum(a.temporary) AS temporary, max(a.max_size) AS max_size,"                             \
  "   sum(a.peak_blocks) AS peak_blocks, sum(a.peak_bytes) AS peak_bytes, count(*) AS stacks"  \
  "  FROM agg_stack a LEFT JOIN stack_sites ss ON ss.stack_id = a.stack_id GROUP BY 1, 2) %s"

/* The site's details (from its stack with the most of col: the representative) and its top
 * callers by col. */
static int site_details(hq_db_t *db, hq_site_t *s, const char *col) {
  char sql[768];
  sqlite3_stmt *st = NULL;
  uint64_t total = 0;
  int rc;
  hq__fmt(sql, sizeof sql,
          "SELECT a.stack_id, ss.function, ss.file, ss.line, ss.module, ss.offset, ss.stale,"
          " a.%s FROM agg_stack a LEFT JOIN stack_sites ss ON ss.stack_id = a.stack_id"
          " WHERE coalesce(ss.site, '(no stack)') = ?1 AND a.class = ?2"
          " ORDER BY a.%s DESC, a.stack_id LIMIT 1", col, col);
  if ((rc = hq__db_prepare(db, sql, &st))) return rc;
  sqlite3_bind_text(st, 1, s->location, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, hq_class_name(s->cls), -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) {
    s->stack_id = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 0);
    s->function = hq__col_strdup(st, 1);
    s->file = hq__col_strdup(st, 2);
    s->line = sqlite3_column_int64(st, 3);
    s->module = hq__col_strdup(st, 4);
    s->offset = (uint64_t)sqlite3_column_int64(st, 5);
    s->stale = sqlite3_column_int(st, 6);
  }
  sqlite3_finalize(st);
  st = NULL;
  if (db->callers == 0 || s->stack_id < 0) return HQ_OK;
  hq__fmt(sql, sizeof sql,
          "SELECT ss.caller, sum(a.%s), (SELECT sum(b.%s) FROM agg_stack b JOIN stack_sites t"
          " ON t.stack_id = b.stack_id WHERE t.site = ?1 AND b.class = ?2)"
          " FROM agg_stack a JOIN stack_sites ss ON ss.stack_id = a.stack_id"
          " WHERE ss.site = ?1 AND a.class = ?2 AND ss.caller IS NOT NULL"
          " GROUP BY ss.caller HAVING sum(a.%s) > 0 ORDER BY 2 DESC, 1 LIMIT ?3", col, col, col);
  if ((rc = hq__db_prepare(db, sql, &st))) return rc;
  sqlite3_bind_text(st, 1, s->location, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, hq_class_name(s->cls), -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, (int64_t)db->callers);
  s->callers = calloc(db->callers, sizeof *s->callers);
  if (!s->callers) rc = HQ_ENOMEM;
  while (!rc && sqlite3_step(st) == SQLITE_ROW) {
    hq_caller_t *c = &s->callers[s->n_callers];
    total = (uint64_t)sqlite3_column_int64(st, 2);
    c->location = hq__col_strdup(st, 0);
    if (!c->location) { rc = HQ_ENOMEM; break; }
    c->value = (uint64_t)sqlite3_column_int64(st, 1);
    c->share = total ? (double)c->value / (double)total : 0.0;
    s->n_callers++;
  }
  sqlite3_finalize(st);
  return rc;
}

int hq__sites_sql(hq_db_t *db, const char *suffix, const char *col, hq_site_t **out,
                  size_t *out_n) {
  char sql[2048];
  sqlite3_stmt *st = NULL;
  hq_site_t *sites = NULL;
  size_t n = 0, cap = 0;
  int rc, step;

  *out = NULL;
  *out_n = 0;
  if ((rc = hq__callsites_ensure(db))) return rc;
  if (hq__fmt(sql, sizeof sql, SITES_SQL, suffix) != HQ_OK) return HQ_ERANGE;
  rc = hq__db_prepare(db, sql, &st);
  if (rc) return rc;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    hq_site_t *s;
    if ((rc = hq__grow((void **)&sites, &cap, n, sizeof *sites, 16))) goto out;
    s = &sites[n++];
    memset(s, 0, sizeof *s);
    s->location = hq__col_strdup(st, 0);
    if (!s->location) { rc = HQ_ENOMEM; goto out; }
    s->stack_id = -1;
    s->cls = hq_class_parse((const char *)sqlite3_column_text(st, 1));
    s->allocations = (uint64_t)sqlite3_column_int64(st, 2);
    s->bytes = (uint64_t)sqlite3_column_int64(st, 3);
    s->frees = (uint64_t)sqlite3_column_int64(st, 4);
    s->reallocs = (uint64_t)sqlite3_column_int64(st, 5);
    s->realloced = (uint64_t)sqlite3_column_int64(st, 6);
    s->leaked_blocks = (uint64_t)sqlite3_column_int64(st, 7);
    s->leaked_bytes = (uint64_t)sqlite3_column_int64(st, 8);
    s->temporary = (uint64_t)sqlite3_column_int64(st, 9);
    s->max_size = (uint64_t)sqlite3_column_int64(st, 10);
    s->peak_blocks = (uint64_t)sqlite3_column_int64(st, 11);
    s->peak_bytes = (uint64_t)sqlite3_column_int64(st, 12);
    s->stacks = (uint64_t)sqlite3_column_int64(st, 13);
  }
  if (step != SQLITE_DONE) { rc = hq__db_sqlerr(db, "reading sites"); goto out; }
  sqlite3_finalize(st);
  st = NULL;
  for (size_t i = 0; i < n && !rc; i++) rc = site_details(db, &sites[i], col);
out:
  sqlite3_finalize(st);
  if (rc) {
    hq_sites_free(sites, n);
    return rc;
  }
  *out = sites;
  *out_n = n;
  return HQ_OK;
}

int hq__sites_load(hq_db_t *db, hq_metric_t metric, int cls, size_t limit, hq_site_t **out,
                   size_t *out_n) {
  const char *col = hq__metric_column(metric);
  char suffix[256];
  *out = NULL;
  *out_n = 0;
  if (!col) return HQ_EINVAL;
  if (limit == 0) return HQ_OK;
  if (cls >= 0)
    hq__fmt(suffix, sizeof suffix, "WHERE class = '%s' AND %s > 0 ORDER BY %s DESC, site"
            " LIMIT %zu", hq_class_name(cls), col, col, limit);
  else
    hq__fmt(suffix, sizeof suffix, "WHERE %s > 0 ORDER BY %s DESC, site, class LIMIT %zu",
            col, col, limit);
  return hq__sites_sql(db, suffix, col, out, out_n);
}

int hq_sites_top(hq_db_t *db, hq_metric_t metric, int cls, size_t limit, hq_site_t **out_sites,
                 size_t *out_n) {
  if (!out_sites || !out_n) return HQ_MISUSE_BKPT;
  *out_sites = NULL;
  *out_n = 0;
  if (!HQ_DB_OK(db)) return HQ_MISUSE_BKPT;
  if (cls >= HQ_CLASS_COUNT || !hq__metric_column(metric)) return HQ_EINVAL;
  return hq__sites_load(db, metric, cls, limit, out_sites, out_n);
}

int hq_aggregate_update(hq_db_t *db) {
  if (!HQ_DB_OK(db)) return HQ_MISUSE_BKPT;
  return hq__callsites_ensure(db);
}

int hq_db_set_callers(hq_db_t *db, size_t n) {
  if (!HQ_DB_OK(db)) return HQ_MISUSE_BKPT;
  db->callers = n;
  return HQ_OK;
}

/* ---- source lines ---- */

void hq_lines_free(hq_line_t *lines, size_t n) {
  if (!lines) return;
  for (size_t i = 0; i < n; i++) {
    free(lines[i].file);
    free(lines[i].function);
    free(lines[i].module);
    free(lines[i].location);
  }
  free(lines);
}

int hq_lines_top(hq_db_t *db, hq_metric_t metric, int cls, size_t limit, hq_line_t **out_lines,
                 size_t *out_n) {
  const char *col = hq__metric_column(metric);
  char sql[768];
  sqlite3_stmt *st = NULL;
  hq_line_t *lines = NULL;
  size_t n = 0, cap = 0;
  int rc, step;

  if (!out_lines || !out_n) return HQ_MISUSE_BKPT;
  *out_lines = NULL;
  *out_n = 0;
  if (!HQ_DB_OK(db)) return HQ_MISUSE_BKPT;
  if (!col || cls < 0 || cls >= HQ_CLASS_COUNT)
    return HQ_EINVAL;
  rc = hq__aggregate_ensure(db);
  if (rc || limit == 0) return rc;
  hq__fmt(sql, sizeof sql,
          "SELECT file, line, function, module, offset, allocations, bytes, leaked_blocks,"
          " leaked_bytes, temporary, peak_bytes,"
          " coalesce(function || ' ', '') || CASE WHEN file IS NOT NULL"
          "  THEN file || ':' || coalesce(line, 0)"
          "  ELSE '(' || coalesce(module, '?') || '+' || printf('0x%%x', offset) || ')' END"
          " FROM agg_line WHERE class = ?1 AND %s > 0"
          " ORDER BY %s DESC, bytes DESC, allocations DESC, file, line, function, module, offset"
          " LIMIT ?2", col, col);
  rc = hq__db_prepare(db, sql, &st);
  if (rc) return rc;
  sqlite3_bind_text(st, 1, hq_class_name(cls), -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, (int64_t)limit);
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    hq_line_t *l;
    if ((rc = hq__grow((void **)&lines, &cap, n, sizeof *lines, 16))) goto out;
    l = &lines[n++];
    memset(l, 0, sizeof *l);
    l->cls = cls;
    l->file = hq__col_strdup(st, 0);
    l->line = sqlite3_column_int64(st, 1);
    l->function = hq__col_strdup(st, 2);
    l->module = hq__col_strdup(st, 3);
    l->offset = (uint64_t)sqlite3_column_int64(st, 4);
    l->allocations = (uint64_t)sqlite3_column_int64(st, 5);
    l->bytes = (uint64_t)sqlite3_column_int64(st, 6);
    l->leaked_blocks = (uint64_t)sqlite3_column_int64(st, 7);
    l->leaked_bytes = (uint64_t)sqlite3_column_int64(st, 8);
    l->temporary = (uint64_t)sqlite3_column_int64(st, 9);
    l->peak_bytes = (uint64_t)sqlite3_column_int64(st, 10);
    l->location = hq__col_strdup(st, 11);
    if (!l->location) { rc = HQ_ENOMEM; goto out; }
  }
  if (step != SQLITE_DONE) rc = hq__db_sqlerr(db, "reading agg_line");
out:
  sqlite3_finalize(st);
  if (rc) {
    hq_lines_free(lines, n);
    return rc;
  }
  if (n == 0) { free(lines); lines = NULL; }
  *out_lines = lines;
  *out_n = n;
  return HQ_OK;
}

/* ---- stacks ---- */

void hq_frames_free(hq_frame_t *frames, size_t n) {
  if (!frames) return;
  for (size_t i = 0; i < n; i++) {
    free(frames[i].function);
    free(frames[i].file);
    free(frames[i].module);
    free(frames[i].text);
  }
  free(frames);
}

int hq_stack_frames(hq_db_t *db, int64_t stack_id, hq_frame_t **out_frames, size_t *out_n) {
  sqlite3_stmt *st = NULL;
  hq_frame_t *frames = NULL;
  size_t n = 0, cap = 0;
  int rc, step;

  if (!out_frames || !out_n) return HQ_MISUSE_BKPT;
  *out_frames = NULL;
  *out_n = 0;
  if (!HQ_DB_OK(db)) return HQ_MISUSE_BKPT;
  rc = hq__db_prepare_cached(db, HQ__STMT_STACK_FRAMES,
                          "SELECT ip, function, file, line, module, offset, inlined, "
                          FRAME_TEXT_SQL ", coalesce((SELECT m.file_status IN ('changed', 'missing')"
                          " FROM frames fr JOIN modules m ON m.id = fr.module_id"
                          " WHERE fr.id = frame_id), 0)"
                          " FROM stack_frames WHERE stack_id = ?1"
                          " ORDER BY position", &st);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, stack_id);
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    hq_frame_t *f;
    if ((rc = hq__grow((void **)&frames, &cap, n, sizeof *frames, 32))) goto out;
    f = &frames[n++];
    memset(f, 0, sizeof *f);
    f->ip = (uint64_t)sqlite3_column_int64(st, 0);
    f->function = hq__col_strdup(st, 1);
    f->file = hq__col_strdup(st, 2);
    f->line = sqlite3_column_int64(st, 3);
    f->module = hq__col_strdup(st, 4);
    f->offset = (uint64_t)sqlite3_column_int64(st, 5);
    f->inlined = sqlite3_column_int(st, 6);
    f->text = hq__col_strdup(st, 7);
    f->stale = sqlite3_column_int(st, 8);
    if (!f->text) { rc = HQ_ENOMEM; goto out; }
  }
  if (step != SQLITE_DONE) rc = hq__db_sqlerr(db, "reading a stack");
out:
  sqlite3_reset(st); /* kept for the next stack */
  if (rc) {
    hq_frames_free(frames, n);
    return rc;
  }
  *out_frames = frames;
  *out_n = n;
  return HQ_OK;
}

