/*
 * hq_top.c: ranked sites and source lines (from agg_stack / agg_line), stacks as frames, and
 * the `heapql top` and `heapql peak` outputs.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer_int.h"

static const char *const class_names[HQ_CLASS_COUNT] = {"heap", "mmap", "pool", "device"};

const char *hq_class_name(int cls) {
  return cls >= 0 && cls < HQ_CLASS_COUNT ? class_names[cls] : NULL;
}

int hq_class_parse(const char *name) {
  for (int i = 0; name && i < HQ_CLASS_COUNT; i++)
    if (strcmp(name, class_names[i]) == 0) return i;
  return -1;
}

void hq__fmt_bytes(char *buf, size_t cap, uint64_t bytes) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = (double)bytes;
  int u = 0;
  if (bytes < 1024) {
    snprintf(buf, cap, "%" PRIu64 " B", bytes);
    return;
  }
  while (v >= 1024.0 && u < 6) { v /= 1024.0; u++; }
  snprintf(buf, cap, "%.1f %s", v, units[u]);
}

char *hq__col_strdup(sqlite3_stmt *st, int col) {
  const unsigned char *t = sqlite3_column_text(st, col);
  return t ? strdup((const char *)t) : NULL;
}

/* One frame as one line of stack_text: keep in step with the view in hq_schema.sql. */
#define FRAME_TEXT_SQL                                                                      \
  "coalesce(function, printf('0x%x', ip)) ||"                                               \
  " CASE WHEN file IS NOT NULL THEN ' ' || file || ':' || coalesce(line, 0)"                \
  "      WHEN module IS NOT NULL THEN ' (' || module || '+' || printf('0x%x', offset) || ')'" \
  "      ELSE '' END ||"                                                                    \
  " CASE WHEN inlined THEN ' [inlined]' ELSE '' END"

int hq__site_location(hq_db_t *db, int64_t stack_id, char **out) {
  sqlite3_stmt *st = NULL;
  int rc, step;
  *out = NULL;
  if (stack_id < 0) {
    *out = strdup("(no stack)");
    return *out ? HQ_OK : HQ_ENOMEM;
  }
  rc = hq__db_prepare(db, "SELECT " FRAME_TEXT_SQL " FROM stack_frames WHERE stack_id = ?1"
                          " ORDER BY position LIMIT 1", &st);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, stack_id);
  step = sqlite3_step(st);
  if (step == SQLITE_ROW) {
    *out = hq__col_strdup(st, 0);
    if (!*out) rc = HQ_ENOMEM;
  } else if (step == SQLITE_DONE) {
    char buf[64];
    snprintf(buf, sizeof buf, "(stack %" PRId64 " not recorded)", stack_id);
    *out = strdup(buf);
    if (!*out) rc = HQ_ENOMEM;
  } else {
    rc = hq__db_sqlerr(db, "reading a stack");
  }
  sqlite3_finalize(st);
  return rc;
}

static const char *metric_column(hq_metric_t metric) {
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
  for (size_t i = 0; i < n; i++) free(sites[i].location);
  free(sites);
}

int hq__sites_sql(hq_db_t *db, const char *suffix, hq_site_t **out, size_t *out_n) {
  char sql[1024];
  sqlite3_stmt *st = NULL;
  hq_site_t *sites = NULL;
  size_t n = 0, cap = 0;
  int rc, step;

  *out = NULL;
  *out_n = 0;
  if (hq__fmt(sql, sizeof sql,
              "SELECT stack_id, class, allocations, bytes, frees, reallocs, realloced,"
              " leaked_blocks, leaked_bytes, temporary, max_size, peak_blocks, peak_bytes"
              " FROM agg_stack %s", suffix) != HQ_OK)
    return HQ_ERANGE;
  rc = hq__db_prepare(db, sql, &st);
  if (rc) return rc;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    hq_site_t *s;
    if ((rc = hq__grow((void **)&sites, &cap, n, sizeof *sites, 16))) goto out;
    s = &sites[n++];
    memset(s, 0, sizeof *s);
    s->stack_id = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 0);
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
  }
  if (step != SQLITE_DONE) { rc = hq__db_sqlerr(db, "reading agg_stack"); goto out; }
  sqlite3_finalize(st);
  st = NULL;
  for (size_t i = 0; i < n; i++) {
    rc = hq__site_location(db, sites[i].stack_id, &sites[i].location);
    if (rc) goto out;
  }
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
  const char *col = metric_column(metric);
  char suffix[256];
  *out = NULL;
  *out_n = 0;
  if (!col) return HQ_EINVAL;
  if (limit == 0) return HQ_OK;
  if (cls >= 0)
    hq__fmt(suffix, sizeof suffix, "WHERE class = '%s' AND %s > 0 ORDER BY %s DESC, stack_id"
            " LIMIT %zu", hq_class_name(cls), col, col, limit);
  else
    hq__fmt(suffix, sizeof suffix, "WHERE %s > 0 ORDER BY %s DESC, stack_id, class LIMIT %zu",
            col, col, limit);
  return hq__sites_sql(db, suffix, out, out_n);
}

int hq_sites_top(hq_db_t *db, hq_metric_t metric, int cls, size_t limit, hq_site_t **out_sites,
                 size_t *out_n) {
  int rc;
  if (!out_sites || !out_n) return HQ_EINVAL;
  *out_sites = NULL;
  *out_n = 0;
  if (!db || db->magic != HQ_DB_MAGIC) return HQ_EINVAL;
  if (cls >= HQ_CLASS_COUNT || !metric_column(metric)) return HQ_EINVAL;
  rc = hq__aggregate_ensure(db);
  if (rc) return rc;
  return hq__sites_load(db, metric, cls, limit, out_sites, out_n);
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
  const char *col = metric_column(metric);
  char sql[768];
  sqlite3_stmt *st = NULL;
  hq_line_t *lines = NULL;
  size_t n = 0, cap = 0;
  int rc, step;

  if (!out_lines || !out_n) return HQ_EINVAL;
  *out_lines = NULL;
  *out_n = 0;
  if (!db || db->magic != HQ_DB_MAGIC || !col || cls < 0 || cls >= HQ_CLASS_COUNT)
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

  if (!out_frames || !out_n) return HQ_EINVAL;
  *out_frames = NULL;
  *out_n = 0;
  if (!db || db->magic != HQ_DB_MAGIC) return HQ_EINVAL;
  rc = hq__db_prepare(db, "SELECT ip, function, file, line, module, offset, inlined, "
                          FRAME_TEXT_SQL " FROM stack_frames WHERE stack_id = ?1"
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
    if (!f->text) { rc = HQ_ENOMEM; goto out; }
  }
  if (step != SQLITE_DONE) rc = hq__db_sqlerr(db, "reading a stack");
out:
  sqlite3_finalize(st);
  if (rc) {
    hq_frames_free(frames, n);
    return rc;
  }
  *out_frames = frames;
  *out_n = n;
  return HQ_OK;
}

/* ---- output helpers shared by top, peak and leaks ---- */

void hq__site_json(hq__jw_t *w, const char *key, const hq_site_t *s) {
  hq__jw_object(w, key);
  if (s->stack_id >= 0) hq__jw_i64(w, "stack_id", s->stack_id);
  else hq__jw_null(w, "stack_id");
  hq__jw_str(w, "class", hq_class_name(s->cls));
  hq__jw_str(w, "location", s->location);
  hq__jw_u64(w, "allocations", s->allocations);
  hq__jw_u64(w, "bytes", s->bytes);
  hq__jw_u64(w, "frees", s->frees);
  hq__jw_u64(w, "reallocs", s->reallocs);
  hq__jw_u64(w, "realloced", s->realloced);
  hq__jw_u64(w, "leaked_blocks", s->leaked_blocks);
  hq__jw_u64(w, "leaked_bytes", s->leaked_bytes);
  hq__jw_u64(w, "temporary", s->temporary);
  hq__jw_u64(w, "max_size", s->max_size);
  hq__jw_u64(w, "peak_blocks", s->peak_blocks);
  hq__jw_u64(w, "peak_bytes", s->peak_bytes);
  hq__jw_end_object(w);
}

static void frames_json(hq__jw_t *w, const hq_frame_t *f, size_t n) {
  hq__jw_array(w, "frames");
  for (size_t i = 0; i < n; i++) {
    hq__jw_object(w, NULL);
    hq__jw_u64(w, "ip", f[i].ip);
    hq__jw_str(w, "function", f[i].function);
    hq__jw_str(w, "file", f[i].file);
    if (f[i].file) hq__jw_i64(w, "line", f[i].line);
    else hq__jw_null(w, "line");
    hq__jw_str(w, "module", f[i].module);
    if (f[i].module) hq__jw_u64(w, "offset", f[i].offset);
    else hq__jw_null(w, "offset");
    hq__jw_bool(w, "inlined", f[i].inlined);
    hq__jw_end_object(w);
  }
  hq__jw_end_array(w);
}

/* A site with its whole stack: text (indented frames) or a JSON object with "frames". */
int hq__site_with_stack(hq_db_t *db, const hq_site_t *s, const char *value_text, hq__jw_t *w,
                        FILE *out) {
  hq_frame_t *frames = NULL;
  size_t n = 0;
  int rc = s->stack_id >= 0 ? hq_stack_frames(db, s->stack_id, &frames, &n) : HQ_OK;
  if (rc) return rc;
  if (w) {
    hq__jw_object(w, NULL);
    if (s->stack_id >= 0) hq__jw_i64(w, "stack_id", s->stack_id);
    else hq__jw_null(w, "stack_id");
    hq__jw_str(w, "class", hq_class_name(s->cls));
    hq__jw_str(w, "location", s->location);
    hq__jw_u64(w, "allocations", s->allocations);
    hq__jw_u64(w, "bytes", s->bytes);
    hq__jw_u64(w, "leaked_blocks", s->leaked_blocks);
    hq__jw_u64(w, "leaked_bytes", s->leaked_bytes);
    hq__jw_u64(w, "peak_blocks", s->peak_blocks);
    hq__jw_u64(w, "peak_bytes", s->peak_bytes);
    frames_json(w, frames, n);
    hq__jw_end_object(w);
  } else {
    fprintf(out, "%s\n", value_text);
    if (n == 0) fprintf(out, "    %s\n", s->location);
    for (size_t i = 0; i < n; i++) fprintf(out, "    %s\n", frames[i].text);
  }
  hq_frames_free(frames, n);
  return HQ_OK;
}

static int out_status(FILE *out) {
  return ferror(out) ? HQ_EIO : HQ_OK;
}

static const char *metric_title(hq_metric_t metric) {
  switch (metric) {
  case HQ_BY_COUNT: return "allocations";
  case HQ_BY_BYTES: return "bytes";
  case HQ_BY_PEAK: return "peak";
  case HQ_BY_TEMPORARY: return "temporary";
  case HQ_BY_LEAKED: return "leaked";
  }
  return "?";
}

static uint64_t site_metric(const hq_site_t *s, hq_metric_t metric) {
  switch (metric) {
  case HQ_BY_COUNT: return s->allocations;
  case HQ_BY_BYTES: return s->bytes;
  case HQ_BY_PEAK: return s->peak_bytes;
  case HQ_BY_TEMPORARY: return s->temporary;
  case HQ_BY_LEAKED: return s->leaked_bytes;
  }
  return 0;
}

static uint64_t line_metric(const hq_line_t *l, hq_metric_t metric) {
  switch (metric) {
  case HQ_BY_COUNT: return l->allocations;
  case HQ_BY_BYTES: return l->bytes;
  case HQ_BY_PEAK: return l->peak_bytes;
  case HQ_BY_TEMPORARY: return l->temporary;
  case HQ_BY_LEAKED: return l->leaked_bytes;
  }
  return 0;
}

int hq_top_write(hq_db_t *db, hq_metric_t metric, int by_line, int cls, size_t limit,
                 hq_format_t format, FILE *out) {
  hq_site_t *sites = NULL;
  hq_line_t *lines = NULL;
  size_t n = 0;
  int rc;

  if (!db || db->magic != HQ_DB_MAGIC || !out || !metric_column(metric) || cls < 0 ||
      cls >= HQ_CLASS_COUNT || (format != HQ_FORMAT_TEXT && format != HQ_FORMAT_JSON))
    return HQ_EINVAL;
  rc = by_line ? hq_lines_top(db, metric, cls, limit, &lines, &n)
               : hq_sites_top(db, metric, cls, limit, &sites, &n);
  if (rc) return rc;
  if (format == HQ_FORMAT_JSON) {
    hq__jw_t w;
    hq__jw_init(&w, out);
    hq__jw_object(&w, NULL);
    hq__jw_str(&w, "by", by_line ? "line" : metric_title(metric));
    hq__jw_str(&w, "metric", metric_title(metric));
    hq__jw_str(&w, "class", hq_class_name(cls));
    hq__jw_array(&w, by_line ? "lines" : "sites");
    for (size_t i = 0; i < n; i++) {
      if (!by_line) {
        hq__site_json(&w, NULL, &sites[i]);
        continue;
      }
      hq__jw_object(&w, NULL);
      hq__jw_str(&w, "file", lines[i].file);
      if (lines[i].file) hq__jw_i64(&w, "line", lines[i].line);
      else hq__jw_null(&w, "line");
      hq__jw_str(&w, "function", lines[i].function);
      hq__jw_str(&w, "module", lines[i].module);
      if (lines[i].module) hq__jw_u64(&w, "offset", lines[i].offset);
      else hq__jw_null(&w, "offset");
      hq__jw_str(&w, "location", lines[i].location);
      hq__jw_u64(&w, "allocations", lines[i].allocations);
      hq__jw_u64(&w, "bytes", lines[i].bytes);
      hq__jw_u64(&w, "leaked_blocks", lines[i].leaked_blocks);
      hq__jw_u64(&w, "leaked_bytes", lines[i].leaked_bytes);
      hq__jw_u64(&w, "temporary", lines[i].temporary);
      hq__jw_u64(&w, "peak_bytes", lines[i].peak_bytes);
      hq__jw_end_object(&w);
    }
    hq__jw_end_array(&w);
    hq__jw_end_object(&w);
  } else {
    fprintf(out, "top %s %s by %s\n", hq_class_name(cls), by_line ? "source lines" : "sites",
            metric_title(metric));
    fprintf(out, "%4s %12s %14s %12s  %s\n", "#", "allocations", "bytes",
            metric == HQ_BY_COUNT || metric == HQ_BY_BYTES ? "" : metric_title(metric),
            by_line ? "line" : "site");
    for (size_t i = 0; i < n; i++) {
      uint64_t allocs = by_line ? lines[i].allocations : sites[i].allocations;
      uint64_t bytes = by_line ? lines[i].bytes : sites[i].bytes;
      char extra[32] = "";
      if (metric != HQ_BY_COUNT && metric != HQ_BY_BYTES)
        snprintf(extra, sizeof extra, "%" PRIu64,
                 by_line ? line_metric(&lines[i], metric) : site_metric(&sites[i], metric));
      if (by_line)
        fprintf(out, "%4zu %12" PRIu64 " %14" PRIu64 " %12s  %s\n", i + 1, allocs, bytes, extra,
                lines[i].location);
      else
        fprintf(out, "%4zu %12" PRIu64 " %14" PRIu64 " %12s  %s  [stack %" PRId64 "]\n", i + 1,
                allocs, bytes, extra, sites[i].location, sites[i].stack_id);
    }
    if (n == 0) fprintf(out, "   (none)\n");
  }
  hq_sites_free(sites, by_line ? 0 : n);
  hq_lines_free(lines, by_line ? n : 0);
  return out_status(out);
}

int hq_peak_write(hq_db_t *db, size_t limit, hq_format_t format, FILE *out) {
  hq_report_opts_t opts = {limit ? limit : 1, 0};
  hq_report_t *r = NULL;
  char b1[32], b2[32], b3[32], b4[32];
  size_t shown;
  int rc;

  if (!db || !out || (format != HQ_FORMAT_TEXT && format != HQ_FORMAT_JSON)) return HQ_EINVAL;
  rc = hq_report_compute(db, &opts, &r);
  if (rc) return rc;
  shown = limit ? r->n_top_peak : 0;
  if (format == HQ_FORMAT_JSON) {
    hq__jw_t w;
    hq__jw_init(&w, out);
    hq__jw_object(&w, NULL);
    hq__peak_json(&w, r);
    hq__jw_array(&w, "sites");
    for (size_t i = 0; i < shown && !rc; i++)
      rc = hq__site_with_stack(db, &r->top_peak[i], NULL, &w, out);
    hq__jw_end_array(&w);
    hq__jw_end_object(&w);
  } else {
    hq__fmt_bytes(b1, sizeof b1, r->peak_heap_bytes);
    hq__fmt_bytes(b2, sizeof b2, r->peak_mmap_bytes);
    hq__fmt_bytes(b3, sizeof b3, r->peak_device_bytes);
    hq__fmt_bytes(b4, sizeof b4, r->peak_rss_bytes);
    fprintf(out, "peak heap    %" PRIu64 " B (%s) at %.3f s\n", r->peak_heap_bytes, b1,
            (double)r->peak_heap_t_ns / 1e9);
    fprintf(out, "peak mmap    %" PRIu64 " B (%s) at %.3f s\n", r->peak_mmap_bytes, b2,
            (double)r->peak_mmap_t_ns / 1e9);
    fprintf(out, "peak device  %" PRIu64 " B (%s) at %.3f s\n", r->peak_device_bytes, b3,
            (double)r->peak_device_t_ns / 1e9);
    if (r->has_rss)
      fprintf(out, "peak RSS     %" PRIu64 " B (%s) at %.3f s\n", r->peak_rss_bytes, b4,
              (double)r->peak_rss_t_ns / 1e9);
    else
      fprintf(out, "peak RSS     not sampled\n");
    fprintf(out, "\nlive at the heap peak, by stack:\n");
    for (size_t i = 0; i < shown && !rc; i++) {
      char line[128];
      snprintf(line, sizeof line, "#%zu  %" PRIu64 " B in %" PRIu64 " blocks  [stack %" PRId64 "]",
               i + 1, r->top_peak[i].peak_bytes, r->top_peak[i].peak_blocks,
               r->top_peak[i].stack_id);
      rc = hq__site_with_stack(db, &r->top_peak[i], line, NULL, out);
    }
    if (shown == 0) fprintf(out, "   (none)\n");
  }
  hq_report_free(r);
  return rc ? rc : out_status(out);
}
