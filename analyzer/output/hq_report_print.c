/*
 * hq_report_print.c: the report as text (for people) and as JSON (the stable contract of
 * DESIGN §5; keys are only ever added, never renamed).
 */
#include <inttypes.h>
#include <string.h>

#include "output/output_int.h"

static const char *or_dash(const char *s) { return s && *s ? s : "-"; }

static void bytes_cell(char *buf, size_t cap, uint64_t bytes) {
  char human[32];
  hq__fmt_bytes((double)(bytes), human, sizeof human);
  if (bytes < 1024) snprintf(buf, cap, "%" PRIu64 " B", bytes);
  else snprintf(buf, cap, "%" PRIu64 " B (%s)", bytes, human);
}

static void sites_text(FILE *out, const char *title, const hq_site_t *s, size_t n, int show_class,
                       const char *root) {
  fprintf(out, "\n== %s\n", title);
  if (n == 0) {
    fprintf(out, "   (none)\n");
    return;
  }
  fprintf(out, "%4s %12s %14s %10s %14s %10s %14s  %s%s\n", "#", "allocations", "bytes", "leaked",
          "leaked bytes", "temporary", "peak bytes", show_class ? "class   " : "", "site");
  for (size_t i = 0; i < n; i++) {
    fprintf(out, "%4zu %12" PRIu64 " %14" PRIu64 " %10" PRIu64 " %14" PRIu64 " %10" PRIu64
            " %14" PRIu64 "  ", i + 1, s[i].allocations, s[i].bytes, s[i].leaked_blocks,
            s[i].leaked_bytes, s[i].temporary, s[i].peak_bytes);
    if (show_class) fprintf(out, "%-8s", hq_class_name(s[i].cls));
    hq__site_text(out, &s[i], root, show_class ? 91 : 83);
  }
}

int hq_report_write_text(const hq_report_t *r, FILE *out) {
  char b1[64], b2[64];
  const hq_class_totals_t *heap;

  if (!r || !out) return HQ_MISUSE_BKPT;
  heap = &r->classes[HQ_CLASS_HEAP];

  fprintf(out, "heapql report: %s\n", r->path);
  fprintf(out, "\n== Run\n");
  fprintf(out, "program          %s\n", or_dash(r->program));
  fprintf(out, "command line     %s\n", or_dash(r->command_line));
  if (r->pid) fprintf(out, "pid              %" PRId64 "\n", r->pid);
  else fprintf(out, "pid              -\n");
  fprintf(out, "duration         %.3f s\n", (double)r->duration_ns / 1e9);
  if (r->has_exit_status) fprintf(out, "exit status      %" PRId64 "\n", r->exit_status);
  else fprintf(out, "exit status      none (killed, or not recorded)\n");
  if (r->complete) fprintf(out, "complete         yes\n");
  else fprintf(out, "complete         no%s%s\n", r->incomplete_reason ? ": " : "",
               r->incomplete_reason ? r->incomplete_reason : "");
  fprintf(out, "dropped events   %" PRIu64 "\n", r->dropped_events);
  fprintf(out, "symbolized       %s\n", r->symbolized ? "yes" : "no");
  if (r->source_root) fprintf(out, "sources          %s (paths below are relative to it)\n", r->source_root);
  if (r->python_version) {
    const char *a = or_dash(r->python_allocator);
    fprintf(out, "python           CPython %s, %s, allocator %s%s\n", r->python_version,
            r->python_frames ? "Python frames in stacks" : "no Python frames (version not supported)",
            a, !strcmp(a, "pymalloc") ? " (objects of 512 B or less come from its arenas, class"
                                        " mmap; --python-allocators malloc shows each one)" : "");
  }
  if (r->stale_modules)
    fprintf(out, "stale modules    %s: changed or missing since the run, their frames may be wrong"
                 " (heapql symbolize --debug-dir DIR finds a copy of the right build)\n",
            r->stale_modules);

  fprintf(out, "\n== Peak\n");
  if (r->has_peak_pid)
    fprintf(out, "process          %" PRId64 " (the largest heap peak of this merged database)\n",
            r->peak_pid);
  bytes_cell(b1, sizeof b1, r->peak_heap_bytes);
  fprintf(out, "heap             %s at %.3f s\n", b1, (double)r->peak_heap_t_ns / 1e9);
  bytes_cell(b1, sizeof b1, r->peak_device_bytes);
  fprintf(out, "device           %s at %.3f s\n", b1, (double)r->peak_device_t_ns / 1e9);
  if (r->has_device_driver) {
    bytes_cell(b1, sizeof b1, r->peak_device_driver_bytes);
    fprintf(out, "device (driver)  %s at %.3f s (NVML: the CUDA context, modules and libraries'"
                 " workspaces too)\n", b1, (double)r->peak_device_driver_t_ns / 1e9);
  }
  bytes_cell(b1, sizeof b1, r->peak_mmap_bytes);
  fprintf(out, "mmap             %s at %.3f s\n", b1, (double)r->peak_mmap_t_ns / 1e9);
  if (r->has_rss) {
    bytes_cell(b1, sizeof b1, r->peak_rss_bytes);
    fprintf(out, "RSS              %s at %.3f s\n", b1, (double)r->peak_rss_t_ns / 1e9);
  } else {
    fprintf(out, "RSS              not sampled\n");
  }

  fprintf(out, "\n== Allocations (heap)\n");
  bytes_cell(b1, sizeof b1, r->allocations_bytes);
  fprintf(out, "allocations      %" PRIu64 " calls, %s\n", r->allocations_count, b1);
  fprintf(out, "frees            %" PRIu64 "\n", r->frees_count);
  fprintf(out, "reallocs         %" PRIu64 "\n", r->reallocs_count);
  for (int c = 1; c < HQ_CLASS_COUNT; c++) {
    if (!r->classes[c].allocations) continue;
    bytes_cell(b1, sizeof b1, r->classes[c].bytes);
    fprintf(out, "%-16s %" PRIu64 " allocations, %s (reported apart from the heap)\n",
            hq_class_name(c), r->classes[c].allocations, b1);
  }

  hq__failures_text(out, r);

  fprintf(out, "\n== Leaks (heap blocks never freed)\n");
  bytes_cell(b1, sizeof b1, r->leak_bytes);
  fprintf(out, "leaked           %" PRIu64 " blocks, %s\n", r->leak_blocks, b1);
  if (r->leaks_classified) {
    const struct { const char *name; hq_blocks_bytes_t v; } rows[] = {
      {"definitely lost", r->definitely_lost}, {"indirectly lost", r->indirectly_lost},
      {"possibly lost", r->possibly_lost}, {"still reachable", r->still_reachable},
      {"unclassified", r->unclassified}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
      fprintf(out, "  %-15s %" PRIu64 " blocks, %" PRIu64 " B\n", rows[i].name, rows[i].v.blocks,
              rows[i].v.bytes);
  } else if (r->leak_check && strcmp(r->leak_check, "done")) {
    fprintf(out, "classes          not classified: leak check %s\n", r->leak_check);
  } else {
    fprintf(out, "classes          not classified\n");
  }
  if (r->leak_check_unanswered > 0)
    fprintf(out, "leak check       %" PRId64 " thread%s did not stop for it: %s whole stack%s scanned"
                 " as roots\n", r->leak_check_unanswered, r->leak_check_unanswered == 1 ? "" : "s",
            r->leak_check_unanswered == 1 ? "its" : "their", r->leak_check_unanswered == 1 ? "" : "s");
  for (int c = 1; c < HQ_CLASS_COUNT; c++) {
    if (!r->classes[c].leaked_blocks) continue;
    bytes_cell(b1, sizeof b1, r->classes[c].leaked_bytes);
    fprintf(out, "%-16s %" PRIu64 " blocks, %s never freed\n", hq_class_name(c),
            r->classes[c].leaked_blocks, b1);
  }
  sites_text(out, "Top leak sites (by leaked bytes, every class)", r->top_leaks, r->n_top_leaks, 1,
             r->source_root);

  fprintf(out, "\n== Metrics\n");
  bytes_cell(b1, sizeof b1, r->peak_heap_bytes);
  fprintf(out, "peak usage       %s heap at %.3f s\n", b1, (double)r->peak_heap_t_ns / 1e9);
  if (!r->trend_ok) {
    fprintf(out, "growth rate      n/a: %zu samples over %.3f s; a trend needs at least 10 samples"
                 " over 0.1 s\n", r->n_samples, (double)r->duration_ns / 1e9);
  } else {
    if (r->has_growth_rate)
      fprintf(out, "growth rate      %.1f B/s (least-squares slope of live heap over %zu samples,"
              " R^2 %.2f)\n", r->growth_rate_bytes_per_s, r->n_samples, r->growth_r2);
    else
      fprintf(out, "growth rate      n/a (%zu samples)\n", r->n_samples);
    if (r->has_leak_growth)
      fprintf(out, "leak growth      %.1f B/s (never-freed bytes by allocation time, R^2 %.2f)\n",
              r->leak_growth_rate_bytes_per_s, r->leak_growth_r2);
    if (r->has_live_growth)
      fprintf(out, "live growth      %.1f B/s (live heap %s, R^2 %.2f)\n",
              r->live_growth_rate_bytes_per_s,
              r->teardown_t_ns >= 0 ? "before the teardown" : "over the run", r->live_growth_r2);
    if (r->teardown_t_ns >= 0)
      fprintf(out, "teardown         from %.3f s (the heap falls from its peak to the end)\n",
              (double)r->teardown_t_ns / 1e9);
  }
  if (r->has_fragmentation_ratio)
    fprintf(out, "fragmentation    %.2f (peak RSS / peak live heap+mmap)\n",
            r->fragmentation_ratio);
  else
    fprintf(out, "fragmentation    n/a (no RSS samples)\n");
  if (r->trend_ok) fprintf(out, "efficiency score %.1f / 100\n", r->efficiency_score);
  else fprintf(out, "efficiency score n/a: the run is too short to judge\n");

  fprintf(out, "\n== Temporary allocations\n");
  fprintf(out, "temporary        %" PRIu64 " of %" PRIu64 " heap allocations (%.1f%%)\n",
          r->temporary_count, r->allocations_count,
          r->allocations_count ? 100.0 * (double)r->temporary_count / (double)r->allocations_count
                               : 0.0);

  sites_text(out, "Top sites by allocations", r->top_count, r->n_top_count, 0, r->source_root);
  sites_text(out, "Top sites by bytes", r->top_bytes, r->n_top_bytes, 0, r->source_root);
  sites_text(out, "Top sites by peak contribution", r->top_peak, r->n_top_peak, 0, r->source_root);
  sites_text(out, "Top sites by temporary allocations", r->top_temporary, r->n_top_temporary, 0,
             r->source_root);

  fprintf(out, "\n== Top source lines (by bytes)\n");
  if (r->n_top_lines == 0) fprintf(out, "   (none)\n");
  else fprintf(out, "%4s %12s %14s %14s  %s\n", "#", "allocations", "bytes", "leaked bytes",
               "line");
  for (size_t i = 0; i < r->n_top_lines; i++) {
    char buf[2048];
    hq__fmt_short(r->top_lines[i].location, r->source_root, buf, sizeof buf);
    fprintf(out, "%4zu %12" PRIu64 " %14" PRIu64 " %14" PRIu64 "  %s\n", i + 1,
            r->top_lines[i].allocations, r->top_lines[i].bytes, r->top_lines[i].leaked_bytes, buf);
  }

  fprintf(out, "\n== Size histogram (heap)\n");
  if (r->n_histogram == 0) fprintf(out, "   (none)\n");
  else fprintf(out, "%-26s %12s %14s\n", "size", "allocations", "bytes");
  for (size_t i = 0; i < r->n_histogram; i++) {
    const hq_bucket_t *b = &r->histogram[i];
    if (b->bucket < 0) snprintf(b2, sizeof b2, "0");
    else snprintf(b2, sizeof b2, "%" PRIu64 " - %" PRIu64, b->min_size, b->max_size);
    fprintf(out, "%-26s %12" PRIu64 " %14" PRIu64 "\n", b2, b->allocations, b->bytes);
  }

  if (r->recommended) {
    fprintf(out, "\n== Findings\n");
    if (r->n_findings == 0) fprintf(out, "   none: no pattern crossed its threshold\n");
    for (size_t i = 0; i < r->n_findings; i++) {
      const hq_finding_t *f = &r->findings[i];
      fprintf(out, "[%s] fix: %s\n  %s.\n  %s\n", f->name, f->fix, f->summary, f->advice);
      for (size_t j = 0; j < f->n_evidence; j++) {
        const hq_site_t *s = &f->evidence[j];
        fprintf(out, "    %" PRIu64 " allocations, %" PRIu64 " B, %" PRIu64 " temporary, %" PRIu64
                " reallocs, max %" PRIu64 " B, %" PRIu64 " B leaked, %" PRIu64 " B at peak: ",
                s->allocations, s->bytes, s->temporary, s->reallocs, s->max_size, s->leaked_bytes,
                s->peak_bytes);
        hq__site_text(out, s, r->source_root, 6);
      }
    }
  }
  (void)heap;
  return ferror(out) ? HQ_EIO : HQ_OK;
}

static void blocks_bytes(hq__jw_t *w, const char *key, int valid, hq_blocks_bytes_t v) {
  if (!valid) {
    hq__jw_null(w, key);
    return;
  }
  hq__jw_object(w, key);
  hq__jw_u64(w, "blocks", v.blocks);
  hq__jw_u64(w, "bytes", v.bytes);
  hq__jw_end_object(w);
}

static void sites_json(hq__jw_t *w, const char *key, const hq_site_t *s, size_t n) {
  hq__jw_array(w, key);
  for (size_t i = 0; i < n; i++) hq__site_json(w, NULL, &s[i]);
  hq__jw_end_array(w);
}

/* "<what>_bytes" and "<what>_time_s", or two nulls when unknown. */
static void peak_pair(hq__jw_t *w, const char *what, int known, uint64_t bytes, int64_t t_ns) {
  char kb[32], kt[32];
  snprintf(kb, sizeof kb, "%s_bytes", what);
  snprintf(kt, sizeof kt, "%s_time_s", what);
  if (!known) {
    hq__jw_null(w, kb);
    hq__jw_null(w, kt);
    return;
  }
  hq__jw_u64(w, kb, bytes);
  hq__jw_seconds(w, kt, t_ns);
}

/* "<what>_rate_bytes_per_s" and "<what>_r2", or two nulls. */
static void growth_pair(hq__jw_t *w, const char *what, int known, double rate, double r2) {
  char kr[64], k2[64];
  snprintf(kr, sizeof kr, "%s_rate_bytes_per_s", what);
  snprintf(k2, sizeof k2, "%s_r2", what);
  if (!known) {
    hq__jw_null(w, kr);
    hq__jw_null(w, k2);
    return;
  }
  hq__jw_double(w, kr, rate);
  hq__jw_double(w, k2, r2);
}

void hq__peak_json(hq__jw_t *w, const hq_report_t *r) {
  hq__jw_object(w, "peak");
  if (r->has_peak_pid) hq__jw_i64(w, "pid", r->peak_pid);
  else hq__jw_null(w, "pid");
  peak_pair(w, "heap", 1, r->peak_heap_bytes, r->peak_heap_t_ns);
  peak_pair(w, "device", 1, r->peak_device_bytes, r->peak_device_t_ns);
  peak_pair(w, "mmap", 1, r->peak_mmap_bytes, r->peak_mmap_t_ns);
  peak_pair(w, "rss", r->has_rss, r->peak_rss_bytes, r->peak_rss_t_ns);
  if (r->has_device_driver)
    peak_pair(w, "device_driver", 1, r->peak_device_driver_bytes, r->peak_device_driver_t_ns);
  hq__jw_end_object(w);
}

int hq_report_write_json(const hq_report_t *r, FILE *out) {
  hq__jw_t w;
  if (!r || !out) return HQ_MISUSE_BKPT;
  hq__jw_init(&w, out);
  hq__jw_object(&w, NULL);
  hq__jw_str(&w, "database", r->path);
  hq__jw_i64(&w, "schema_version", HQ_SCHEMA_VERSION_CURRENT);

  hq__jw_object(&w, "run");
  hq__jw_str(&w, "program", r->program);
  hq__jw_str(&w, "command_line", r->command_line);
  hq__jw_str(&w, "host", r->host);
  hq__jw_str(&w, "heapql_version", r->heapql_version);
  if (r->pid) hq__jw_i64(&w, "pid", r->pid);
  else hq__jw_null(&w, "pid");
  hq__jw_seconds(&w, "duration_s", r->duration_ns);
  if (r->has_exit_status) hq__jw_i64(&w, "exit_status", r->exit_status);
  else hq__jw_null(&w, "exit_status");
  hq__jw_bool(&w, "complete", r->complete);
  hq__jw_str(&w, "incomplete_reason", r->incomplete_reason);
  hq__jw_u64(&w, "dropped_events", r->dropped_events);
  hq__jw_bool(&w, "symbolized", r->symbolized);
  hq__jw_str(&w, "source_root", r->source_root);
  hq__jw_str(&w, "stale_modules", r->stale_modules);
  if (r->python_version) {
    hq__jw_object(&w, "python");
    hq__jw_str(&w, "version", r->python_version);
    hq__jw_str(&w, "allocator", r->python_allocator);
    hq__jw_bool(&w, "frames", r->python_frames);
    hq__jw_end_object(&w);
  }
  hq__jw_end_object(&w);

  hq__peak_json(&w, r);
  hq__failures_json(&w, r);

  hq__jw_object(&w, "allocations");
  hq__jw_u64(&w, "count", r->allocations_count);
  hq__jw_u64(&w, "bytes", r->allocations_bytes);
  hq__jw_u64(&w, "reallocs", r->reallocs_count);
  hq__jw_end_object(&w);
  hq__jw_object(&w, "frees");
  hq__jw_u64(&w, "count", r->frees_count);
  hq__jw_end_object(&w);

  hq__jw_object(&w, "leaks");
  hq__jw_u64(&w, "blocks", r->leak_blocks);
  hq__jw_u64(&w, "bytes", r->leak_bytes);
  blocks_bytes(&w, "definitely_lost", r->leaks_classified, r->definitely_lost);
  blocks_bytes(&w, "indirectly_lost", r->leaks_classified, r->indirectly_lost);
  blocks_bytes(&w, "possibly_lost", r->leaks_classified, r->possibly_lost);
  blocks_bytes(&w, "still_reachable", r->leaks_classified, r->still_reachable);
  blocks_bytes(&w, "unclassified", r->leaks_classified, r->unclassified);
  if (r->leak_check) hq__jw_str(&w, "leak_check", r->leak_check);
  else hq__jw_null(&w, "leak_check");
  sites_json(&w, "top_sites", r->top_leaks, r->n_top_leaks);
  hq__jw_end_object(&w);

  hq__jw_object(&w, "temporary");
  hq__jw_u64(&w, "count", r->temporary_count);
  hq__jw_end_object(&w);

  hq__jw_object(&w, "metrics");
  hq__jw_u64(&w, "peak_heap_bytes", r->peak_heap_bytes);
  hq__jw_u64(&w, "samples", r->n_samples);
  hq__jw_bool(&w, "trend_ok", r->trend_ok);
  growth_pair(&w, "growth", r->trend_ok && r->has_growth_rate, r->growth_rate_bytes_per_s,
              r->growth_r2);
  growth_pair(&w, "leak_growth", r->trend_ok && r->has_leak_growth,
              r->leak_growth_rate_bytes_per_s, r->leak_growth_r2);
  growth_pair(&w, "live_growth", r->trend_ok && r->has_live_growth,
              r->live_growth_rate_bytes_per_s, r->live_growth_r2);
  if (r->teardown_t_ns >= 0) hq__jw_seconds(&w, "teardown_time_s", r->teardown_t_ns);
  else hq__jw_null(&w, "teardown_time_s");
  if (r->has_fragmentation_ratio) hq__jw_double(&w, "fragmentation_ratio", r->fragmentation_ratio);
  else hq__jw_null(&w, "fragmentation_ratio");
  if (r->trend_ok) hq__jw_fixed(&w, "efficiency_score", r->efficiency_score, 1);
  else hq__jw_null(&w, "efficiency_score");
  hq__jw_end_object(&w);

  hq__jw_object(&w, "classes");
  for (int c = 0; c < HQ_CLASS_COUNT; c++) {
    const hq_class_totals_t *k = &r->classes[c];
    hq__jw_object(&w, hq_class_name(c));
    hq__jw_u64(&w, "allocations", k->allocations);
    hq__jw_u64(&w, "bytes", k->bytes);
    hq__jw_u64(&w, "frees", k->frees);
    hq__jw_u64(&w, "reallocs", k->reallocs);
    hq__jw_u64(&w, "leaked_blocks", k->leaked_blocks);
    hq__jw_u64(&w, "leaked_bytes", k->leaked_bytes);
    hq__jw_u64(&w, "temporary", k->temporary);
    hq__jw_u64(&w, "peak_bytes", k->peak_bytes);
    if (k->has_peak) hq__jw_seconds(&w, "peak_time_s", k->peak_t_ns);
    else hq__jw_null(&w, "peak_time_s");
    hq__jw_end_object(&w);
  }
  hq__jw_end_object(&w);

  hq__jw_object(&w, "top");
  sites_json(&w, "by_count", r->top_count, r->n_top_count);
  sites_json(&w, "by_bytes", r->top_bytes, r->n_top_bytes);
  sites_json(&w, "by_peak", r->top_peak, r->n_top_peak);
  sites_json(&w, "by_temporary", r->top_temporary, r->n_top_temporary);
  hq__jw_array(&w, "lines");
  for (size_t i = 0; i < r->n_top_lines; i++) {
    const hq_line_t *l = &r->top_lines[i];
    hq__jw_object(&w, NULL);
    hq__jw_str(&w, "file", l->file);
    if (l->file) hq__jw_i64(&w, "line", l->line);
    else hq__jw_null(&w, "line");
    hq__jw_str(&w, "function", l->function);
    hq__jw_str(&w, "module", l->module);
    if (l->module) hq__jw_u64(&w, "offset", l->offset);
    else hq__jw_null(&w, "offset");
    hq__jw_str(&w, "location", l->location);
    hq__jw_u64(&w, "allocations", l->allocations);
    hq__jw_u64(&w, "bytes", l->bytes);
    hq__jw_u64(&w, "leaked_blocks", l->leaked_blocks);
    hq__jw_u64(&w, "leaked_bytes", l->leaked_bytes);
    hq__jw_u64(&w, "temporary", l->temporary);
    hq__jw_u64(&w, "peak_bytes", l->peak_bytes);
    hq__jw_end_object(&w);
  }
  hq__jw_end_array(&w);
  hq__jw_end_object(&w);

  hq__jw_array(&w, "size_histogram");
  for (size_t i = 0; i < r->n_histogram; i++) {
    const hq_bucket_t *b = &r->histogram[i];
    hq__jw_object(&w, NULL);
    hq__jw_i64(&w, "bucket", b->bucket);
    hq__jw_u64(&w, "min_size", b->min_size);
    hq__jw_u64(&w, "max_size", b->max_size);
    hq__jw_u64(&w, "allocations", b->allocations);
    hq__jw_u64(&w, "bytes", b->bytes);
    hq__jw_end_object(&w);
  }
  hq__jw_end_array(&w);

  if (r->recommended) {
    hq__jw_array(&w, "findings");
    for (size_t i = 0; i < r->n_findings; i++) {
      const hq_finding_t *f = &r->findings[i];
      hq__jw_object(&w, NULL);
      hq__jw_str(&w, "name", f->name);
      hq__jw_str(&w, "fix", f->fix);
      hq__jw_str(&w, "summary", f->summary);
      hq__jw_str(&w, "advice", f->advice);
      sites_json(&w, "evidence", f->evidence, f->n_evidence);
      hq__jw_end_object(&w);
    }
    hq__jw_end_array(&w);
  }
  hq__jw_end_object(&w);
  return ferror(out) ? HQ_EIO : HQ_OK;
}
