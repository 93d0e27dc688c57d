/*
 * hq_regions_print.c: `heapql regions`: the annotated regions as a tree of paths with what was
 * allocated inside each, and the counters summarised (text or JSON).  The figures are computed
 * by hq_regions.c; docs/cli.md and docs/schema.md define them.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "output/output_int.h"

static const char *const class_names[HQ__REGION_CLASSES] = {"heap", "pool", "device", "mmap"};

static int class_used(const hq__region_t *g, int c) {
  return g->cls[c].allocations || g->cls[c].kept_bytes || g->cls[c].peak_live_bytes;
}

static void write_json(const hq__regions_t *r, FILE *out) {
  hq__jw_t w;
  hq__jw_init(&w, out);
  hq__jw_object(&w, NULL);
  hq__jw_array(&w, "regions");
  for (size_t i = 0; i < r->n_regions; i++) {
    const hq__region_t *g = &r->regions[i];
    hq__jw_object(&w, NULL);
    hq__jw_i64(&w, "pid", g->pid);
    hq__jw_str(&w, "name", g->name);
    hq__jw_u64(&w, "depth", (uint64_t)g->depth);
    if (g->parent == SIZE_MAX) hq__jw_null(&w, "parent");
    else hq__jw_u64(&w, "parent", (uint64_t)g->parent);
    hq__jw_u64(&w, "instances", g->instances);
    hq__jw_u64(&w, "unfinished", g->unfinished);
    hq__jw_u64(&w, "time_ns", g->time_ns);
    hq__jw_object(&w, "classes");
    for (int c = 0; c < HQ__REGION_CLASSES; c++) {
      if (!class_used(g, c)) continue;
      hq__jw_object(&w, class_names[c]);
      hq__jw_u64(&w, "allocations", g->cls[c].allocations);
      hq__jw_u64(&w, "bytes", g->cls[c].bytes);
      hq__jw_u64(&w, "peak_live_bytes", g->cls[c].peak_live_bytes);
      hq__jw_u64(&w, "kept_bytes", g->cls[c].kept_bytes);
      hq__jw_end_object(&w);
    }
    hq__jw_end_object(&w);
    hq__jw_end_object(&w);
  }
  hq__jw_end_array(&w);
  hq__jw_array(&w, "counters");
  for (size_t i = 0; i < r->n_counters; i++) {
    const hq__counter_t *c = &r->counters[i];
    hq__jw_object(&w, NULL);
    hq__jw_i64(&w, "pid", c->pid);
    hq__jw_str(&w, "name", c->name);
    hq__jw_u64(&w, "samples", c->samples);
    hq__jw_double(&w, "first", c->first);
    hq__jw_double(&w, "last", c->last);
    hq__jw_double(&w, "min", c->min);
    hq__jw_double(&w, "max", c->max);
    hq__jw_end_object(&w);
  }
  hq__jw_end_array(&w);
  hq__jw_end_object(&w);
  fputc('\n', out);
}

static void seconds(char *buf, size_t cap, uint64_t ns) {
  if (ns < 1000000) snprintf(buf, cap, "%.1f us", (double)ns / 1e3);
  else if (ns < 1000000000) snprintf(buf, cap, "%.1f ms", (double)ns / 1e6);
  else snprintf(buf, cap, "%.2f s", (double)ns / 1e9);
}

static void write_text(const hq__regions_t *r, FILE *out) {
  int64_t pid = INT64_MIN;
  if (!r->n_regions) fprintf(out, "regions: none (the program annotated no region)\n");
  for (size_t i = 0; i < r->n_regions; i++) {
    const hq__region_t *g = &r->regions[i];
    char name[160], time[32], bytes[32], peak[32], kept[32], count[48];
    int first_class = 1;
    if (g->pid != pid) {
      pid = g->pid;
      fprintf(out, "%sregions of pid %" PRId64 " (heap, then other classes used inside)\n", i ? "\n" : "", pid);
      fprintf(out, "%-36s %10s %10s %12s %10s %10s %10s\n", "region", "count", "time", "allocations",
              "bytes", "peak live", "kept");
    }
    snprintf(name, sizeof name, "%*s%s", 2 * g->depth, "", g->name);
    seconds(time, sizeof time, g->time_ns);
    snprintf(count, sizeof count, "%" PRIu64 "%s", g->instances, g->unfinished ? "*" : "");
    for (int c = 0; c < HQ__REGION_CLASSES; c++) {
      if (c && !class_used(g, c)) continue;
      hq__fmt_bytes((double)g->cls[c].bytes, bytes, sizeof bytes);
      hq__fmt_bytes((double)g->cls[c].peak_live_bytes, peak, sizeof peak);
      hq__fmt_bytes((double)g->cls[c].kept_bytes, kept, sizeof kept);
      if (first_class)
        fprintf(out, "%-36s %10s %10s %12" PRIu64 " %10s %10s %10s\n", name, count, time,
                g->cls[c].allocations, bytes, peak, kept);
      else
        fprintf(out, "%*s%-*s %10s %10s %12" PRIu64 " %10s %10s %10s\n", 2 * g->depth + 2, "",
                34 - 2 * g->depth, class_names[c], "", "", g->cls[c].allocations, bytes, peak, kept);
      first_class = 0;
    }
  }
  for (size_t i = 0; i < r->n_regions; i++) {
    if (!r->regions[i].unfinished) continue;
    fprintf(out, "* instances never closed are counted up to their process's end\n");
    break;
  }
  if (r->n_counters) {
    fprintf(out, "\n%-36s %8s %14s %14s %14s %14s\n", "counter", "samples", "first", "last", "min",
            "max");
    for (size_t i = 0; i < r->n_counters; i++) {
      const hq__counter_t *c = &r->counters[i];
      char v[4][32];
      hq__fmt_double(v[0], sizeof v[0], c->first);
      hq__fmt_double(v[1], sizeof v[1], c->last);
      hq__fmt_double(v[2], sizeof v[2], c->min);
      hq__fmt_double(v[3], sizeof v[3], c->max);
      fprintf(out, "%-36s %8" PRIu64 " %14s %14s %14s %14s\n", c->name, c->samples, v[0], v[1], v[2],
              v[3]);
    }
  }
}

int hq_regions_write(hq_db_t *db, hq_format_t format, FILE *out) {
  hq__regions_t r;
  int rc;
  if (!HQ_DB_OK(db) || !out) return HQ_MISUSE_BKPT;
  if (format != HQ_FORMAT_TEXT && format != HQ_FORMAT_JSON) return HQ_EINVAL;
  rc = hq__regions_compute(db, &r);
  if (rc) return rc;
  if (format == HQ_FORMAT_JSON) write_json(&r, out);
  else write_text(&r, out);
  hq__regions_free(&r);
  return ferror(out) ? HQ_EIO : HQ_OK;
}
