/*
 * hq_top.c: ranked sites and source lines (from agg_stack / agg_line), stacks as frames, and
 * the `heapql top` and `heapql peak` outputs.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "output/output_int.h"

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
  char *root = NULL;
  size_t n = 0;
  int rc;

  if (!HQ_DB_OK(db) || !out) return HQ_MISUSE_BKPT;
  if (!hq__metric_column(metric) || cls < 0 ||
      cls >= HQ_CLASS_COUNT || (format != HQ_FORMAT_TEXT && format != HQ_FORMAT_JSON))
    return HQ_EINVAL;
  rc = by_line ? hq_lines_top(db, metric, cls, limit, &lines, &n)
               : hq_sites_top(db, metric, cls, limit, &sites, &n);
  if (!rc) rc = hq__source_root(db, &root);
  if (rc) {
    hq_sites_free(sites, by_line ? 0 : n);
    hq_lines_free(lines, by_line ? n : 0);
    return rc;
  }
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
      fprintf(out, "%4zu %12" PRIu64 " %14" PRIu64 " %12s  ", i + 1, allocs, bytes, extra);
      if (by_line) {
        char buf[2048];
        hq__fmt_short(lines[i].location, root, buf, sizeof buf);
        fprintf(out, "%s\n", buf);
      } else {
        hq__site_text(out, &sites[i], root, 46);
      }
    }
    if (n == 0) fprintf(out, "   (none)\n");
  }
  hq_sites_free(sites, by_line ? 0 : n);
  hq_lines_free(lines, by_line ? n : 0);
  free(root);
  return out_status(out);
}

int hq_peak_write(hq_db_t *db, size_t limit, hq_format_t format, FILE *out) {
  hq_report_opts_t opts = {limit ? limit : 1, 0};
  hq_report_t *r = NULL;
  char b1[32], b2[32], b3[32], b4[32];
  size_t shown;
  int rc;

  if (!HQ_DB_OK(db) || !out) return HQ_MISUSE_BKPT;
  if (format != HQ_FORMAT_TEXT && format != HQ_FORMAT_JSON) return HQ_EINVAL;
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
      rc = hq__site_with_stack(db, &r->top_peak[i], NULL, NULL, &w, out);
    hq__jw_end_array(&w);
    hq__jw_end_object(&w);
  } else {
    hq__fmt_bytes((double)(r->peak_heap_bytes), b1, sizeof b1);
    hq__fmt_bytes((double)(r->peak_mmap_bytes), b2, sizeof b2);
    hq__fmt_bytes((double)(r->peak_device_bytes), b3, sizeof b3);
    hq__fmt_bytes((double)(r->peak_rss_bytes), b4, sizeof b4);
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
    fprintf(out, "\nlive at the heap peak, by site:\n");
    for (size_t i = 0; i < shown && !rc; i++) {
      char line[128];
      snprintf(line, sizeof line, "#%zu  %" PRIu64 " B in %" PRIu64 " blocks",
               i + 1, r->top_peak[i].peak_bytes, r->top_peak[i].peak_blocks);
      rc = hq__site_with_stack(db, &r->top_peak[i], line, r->source_root, NULL, out);
    }
    if (shown == 0) fprintf(out, "   (none)\n");
  }
  hq_report_free(r);
  return rc ? rc : out_status(out);
}
