/* hq_leaks.c: `heapql leaks`: what was never freed, per class, and where, with whole stacks. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "output/output_int.h"

int hq_leaks_write(hq_db_t *db, size_t limit, hq_format_t format, FILE *out) {
  hq_report_opts_t opts = {1, 0};
  hq_report_t *r = NULL;
  hq_site_t *sites = NULL;
  size_t n = 0;
  int rc;

  if (!HQ_DB_OK(db) || !out) return HQ_MISUSE_BKPT;
  if (format != HQ_FORMAT_TEXT && format != HQ_FORMAT_JSON) return HQ_EINVAL;
  /* The report's totals come from agg_class and agg_leak_class: cheap. */
  rc = hq_report_compute(db, &opts, &r);
  if (!rc) rc = hq__sites_load(db, HQ_BY_LEAKED, -1, limit, &sites, &n);
  if (rc) goto out;

  if (format == HQ_FORMAT_JSON) {
    hq__jw_t w;
    hq__jw_init(&w, out);
    hq__jw_object(&w, NULL);
    hq__jw_str(&w, "database", r->path);
    hq__jw_object(&w, "leaks");
    hq__jw_u64(&w, "blocks", r->leak_blocks);
    hq__jw_u64(&w, "bytes", r->leak_bytes);
    if (r->leaks_classified) {
      const struct { const char *key; hq_blocks_bytes_t v; } rows[] = {
        {"definitely_lost", r->definitely_lost}, {"indirectly_lost", r->indirectly_lost},
        {"possibly_lost", r->possibly_lost}, {"still_reachable", r->still_reachable},
        {"unclassified", r->unclassified}};
      for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        hq__jw_object(&w, rows[i].key);
        hq__jw_u64(&w, "blocks", rows[i].v.blocks);
        hq__jw_u64(&w, "bytes", rows[i].v.bytes);
        hq__jw_end_object(&w);
      }
    } else {
      hq__jw_null(&w, "definitely_lost");
      hq__jw_null(&w, "indirectly_lost");
      hq__jw_null(&w, "possibly_lost");
      hq__jw_null(&w, "still_reachable");
      hq__jw_null(&w, "unclassified");
    }
    hq__jw_object(&w, "by_class");
    for (int c = 0; c < HQ_CLASS_COUNT; c++) {
      hq__jw_object(&w, hq_class_name(c));
      hq__jw_u64(&w, "blocks", r->classes[c].leaked_blocks);
      hq__jw_u64(&w, "bytes", r->classes[c].leaked_bytes);
      hq__jw_end_object(&w);
    }
    hq__jw_end_object(&w);
    hq__jw_end_object(&w);
    hq__jw_array(&w, "sites");
    for (size_t i = 0; i < n && !rc; i++) rc = hq__site_with_stack(db, &sites[i], NULL, NULL, &w, out);
    hq__jw_end_array(&w);
    hq__jw_end_object(&w);
  } else {
    char human[32];
    fprintf(out, "leaks in %s (blocks never freed)\n", r->path);
    for (int c = 0; c < HQ_CLASS_COUNT; c++) {
      if (c != HQ_CLASS_HEAP && !r->classes[c].leaked_blocks) continue;
      hq__fmt_bytes((double)(r->classes[c].leaked_bytes), human, sizeof human);
      fprintf(out, "%-8s %" PRIu64 " blocks, %" PRIu64 " B (%s)\n", hq_class_name(c),
              r->classes[c].leaked_blocks, r->classes[c].leaked_bytes, human);
    }
    if (r->leaks_classified)
      fprintf(out, "heap leak classes: definitely lost %" PRIu64 " B, indirectly lost %" PRIu64
              " B, possibly lost %" PRIu64 " B, still reachable %" PRIu64 " B, unclassified %"
              PRIu64 " B\n", r->definitely_lost.bytes, r->indirectly_lost.bytes,
              r->possibly_lost.bytes, r->still_reachable.bytes, r->unclassified.bytes);
    else
      fprintf(out, "heap leak classes: not classified\n");
    if (!r->complete)
      fprintf(out, "note: the run did not finish normally; what it still held when it stopped "
                   "is listed as leaked\n");
    fputc('\n', out);
    for (size_t i = 0; i < n && !rc; i++) {
      char line[160];
      snprintf(line, sizeof line, "#%zu  %" PRIu64 " B in %" PRIu64 " blocks (%s)", i + 1,
               sites[i].leaked_bytes, sites[i].leaked_blocks, hq_class_name(sites[i].cls));
      rc = hq__site_with_stack(db, &sites[i], line, r->source_root, NULL, out);
    }
    if (n == 0) fprintf(out, "no leaks\n");
  }
  if (!rc && ferror(out)) rc = HQ_EIO;
out:
  hq_sites_free(sites, n);
  hq_report_free(r);
  return rc;
}
