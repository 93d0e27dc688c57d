/*
 * hq_html.c: writing XML, HTML and JSON text safely, and the HTML report: one self-contained
 * file (no network, no external script) with the run's figures, the timeline, interactive flame
 * graphs and the top sites.  Everything is aggregated before it is written, so the page stays
 * small and quick for runs of millions of allocations.  The page is polyglot: it parses both
 * as HTML and as XML, so `xmllint --noout` can check it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "output/output_int.h"

#define HTML_TOP_SITES 25
#define HTML_FLAME_NODES 2500

/* Length of the valid UTF-8 sequence at s, or 0 when it is not one. */
/* ---- the report ---- */

static const char page_style[] =
  "body{font-family:Verdana,DejaVu Sans,sans-serif;margin:24px;color:#222;background:#fff}"
  "h1{font-size:22px;margin:0 0 6px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}"
  "code{background:#f3f3f3;padding:1px 4px;border-radius:3px}"
  ".cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}"
  ".card{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:150px}"
  ".card .v{font-size:19px;font-weight:bold}.card .l{font-size:12px;color:#666}"
  "table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #eee;"
  "text-align:left;vertical-align:top}td.n,th.n{text-align:right;white-space:nowrap}"
  "td.site{font-family:monospace;font-size:12px}.leaf{font-weight:bold}.caller{color:#666}"
  ".bar{background:#1f77b4;height:10px;display:inline-block}"
  "button.hq-tab{margin-right:6px;padding:4px 10px;border:1px solid #aaa;background:#f5f5f5;"
  "border-radius:4px;cursor:pointer}button.hq-tab.on{background:#1f77b4;color:#fff}"
  ".warn{color:#a40}footer{margin-top:30px;color:#777;font-size:12px}"
  "svg.hq-flame,svg.hq-timeline{max-width:100%;height:auto;display:block}";

static const char page_script[] =
  "(function () {\n"
  "  var svgs = document.querySelectorAll('svg.hq-flame');\n"
  "  for (var i = 0; i < svgs.length; i++) hqFlameInit(svgs[i]);\n"
  "  var tabs = document.querySelectorAll('button.hq-tab');\n"
  "  var views = document.querySelectorAll('div.hq-flame-view');\n"
  "  function show(m) {\n"
  "    for (var j = 0; j < views.length; j++)\n"
  "      views[j].style.display = views[j].getAttribute('data-metric') === m ? '' : 'none';\n"
  "    for (var k = 0; k < tabs.length; k++)\n"
  "      tabs[k].className = 'hq-tab' + (tabs[k].getAttribute('data-metric') === m ? ' on' : '');\n"
  "  }\n"
  "  for (var t = 0; t < tabs.length; t++)\n"
  "    tabs[t].addEventListener('click', function () { show(this.getAttribute('data-metric')); });\n"
  "  if (tabs.length) show(tabs[0].getAttribute('data-metric'));\n"
  "  document.body.setAttribute('data-hq-ready', '1');\n"
  "})();\n";

static void card(FILE *out, const char *label, const char *value, const char *sub) {
  fputs("<div class=\"card\"><div class=\"l\">", out);
  hq__fmt_xml(out, label);
  fputs("</div><div class=\"v\">", out);
  hq__fmt_xml(out, value);
  fputs("</div><div class=\"l\">", out);
  hq__fmt_xml(out, sub);
  fputs("</div></div>\n", out);
}

static void fact(FILE *out, hq_db_t *db, const char *label, const char *key) {
  char v[1024];
  if (hq_db_meta_get(db, key, v, sizeof v) != HQ_OK) return;
  fputs("<tr><th>", out);
  hq__fmt_xml(out, label);
  fputs("</th><td>", out);
  hq__fmt_xml(out, v);
  fputs("</td></tr>\n", out);
}

static void write_facts(FILE *out, hq_db_t *db, const hq__headline_t *h) {
  char v[128];
  int64_t start = 0;
  fputs("<table class=\"facts\">\n", out);
  fact(out, db, "program", "program");
  fact(out, db, "pid", "pid");
  if (h->processes > 1) {
    fprintf(out, "<tr><th>processes</th><td>%" PRId64 " (merged)</td></tr>\n", h->processes);
  }
  fact(out, db, "host", "host");
  if (hq__meta_int(db, "t_start_unix_ns", &start) == HQ_OK) {
    time_t secs = (time_t)(start / 1000000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(v, sizeof v, "%Y-%m-%d %H:%M:%S UTC", &tm);
    fprintf(out, "<tr><th>started</th><td>%s</td></tr>\n", v);
  }
  fprintf(out, "<tr><th>duration</th><td>%.3f s</td></tr>\n", (double)h->duration_ns / 1e9);
  fact(out, db, "exit status", "exit_status");
  if (h->complete == 0) {
    fputs("<tr><th>complete</th><td class=\"warn\">no: ", out);
    if (hq_db_meta_get(db, "incomplete_reason", v, sizeof v) == HQ_OK) hq__fmt_xml(out, v);
    fputs("</td></tr>\n", out);
  }
  fact(out, db, "dropped events", "dropped_events");
  fact(out, db, "symbolized", "symbolized");
  fact(out, db, "recorded by heapql", "heapql_version");
  fputs("</table>\n", out);
}

static void write_cards(FILE *out, const hq__headline_t *h) {
  char a[48], b[96];
  fputs("<div class=\"cards\">\n", out);
  if (h->peak_heap_t >= 0) snprintf(b, sizeof b, "at %.3f s", (double)h->peak_heap_t / 1e9);
  else snprintf(b, sizeof b, "moment unknown");
  card(out, "peak heap", hq__fmt_bytes((double)h->peak_heap_bytes, a, sizeof a), b);
  card(out, "peak device memory", hq__fmt_bytes((double)h->peak_device_bytes, a, sizeof a),
       h->peak_device_bytes ? "CUDA" : "CUDA (none recorded)");
  card(out, "peak RSS", hq__fmt_bytes((double)h->peak_rss_bytes, a, sizeof a), "resident set");
  snprintf(b, sizeof b, "%s requested", hq__fmt_bytes((double)h->alloc_bytes, a, sizeof a));
  snprintf(a, sizeof a, "%" PRId64, h->alloc_count);
  card(out, "heap allocations", a, b);
  snprintf(a, sizeof a, "%" PRId64, h->free_count);
  card(out, "frees", a, "free/delete calls");
  snprintf(b, sizeof b, "in %" PRId64 " blocks", h->leaked_blocks);
  card(out, "leaked", hq__fmt_bytes((double)h->leaked_bytes, a, sizeof a), b);
  snprintf(a, sizeof a, "%" PRId64, h->temporary_count);
  card(out, "temporary allocations", a, "freed before the thread's next allocation");
  fputs("</div>\n", out);
}

/* A name as people read it (C++ shortened, the path relative to root), the full text on hover. */
static void write_name(FILE *out, const char *cls, const char *prefix, const char *full,
                       const char *root) {
  char shown[2048];
  hq__fmt_short(full, root, shown, sizeof shown);
  fprintf(out, "<span class=\"%s\" title=\"", cls);
  hq__fmt_xml(out, full);
  fputs("\">", out);
  hq__fmt_xml(out, prefix);
  hq__fmt_xml(out, shown);
  fputs("</span>", out);
}

/* The top heap sites by one figure (docs/schema.md, "Site"), each with its callers. */
static int write_sites(FILE *out, hq_db_t *db, hq_metric_t metric, const char *root,
                       const char *empty) {
  hq_site_t *sites = NULL;
  size_t n = 0;
  char a[32], share[48];
  int rc = hq_sites_top(db, metric, HQ_CLASS_HEAP, HTML_TOP_SITES + 1, &sites, &n);
  if (rc) return rc;
  if (n == 0) {
    fprintf(out, "<p>%s</p>\n", empty);
    return HQ_OK;
  }
  fputs("<table class=\"sites\"><tr><th class=\"n\">#</th><th class=\"n\">allocated</th>"
        "<th class=\"n\">calls</th><th class=\"n\">leaked</th><th class=\"n\">live at peak</th>"
        "<th>site, then its callers with their share</th></tr>\n", out);
  for (size_t i = 0; i < n && i < HTML_TOP_SITES; i++) {
    const hq_site_t *s = &sites[i];
    fprintf(out, "<tr><td class=\"n\">%zu</td><td class=\"n\">%s</td>", i + 1,
            hq__fmt_bytes((double)s->bytes, a, sizeof a));
    fprintf(out, "<td class=\"n\">%" PRIu64 "</td>", s->allocations);
    fprintf(out, "<td class=\"n\">%s in %" PRIu64 "</td>",
            hq__fmt_bytes((double)s->leaked_bytes, a, sizeof a), s->leaked_blocks);
    fprintf(out, "<td class=\"n\">%s</td><td class=\"site\">",
            hq__fmt_bytes((double)s->peak_bytes, a, sizeof a));
    write_name(out, "leaf", "", s->location, root);
    if (s->stale) fputs(" [stale]", out);
    for (size_t c = 0; c < s->n_callers; c++) {
      snprintf(share, sizeof share, "%.1f%% <- ", 100.0 * s->callers[c].share);
      fputs("<br/>", out);
      write_name(out, "caller", share, s->callers[c].location, root);
    }
    fputs("</td></tr>\n", out);
  }
  fputs("</table>\n", out);
  if (n > HTML_TOP_SITES)
    fputs("<p class=\"l\">More sites: <code>heapql top</code> lists them all.</p>\n", out);
  hq_sites_free(sites, n);
  return HQ_OK;
}

static int write_histogram(FILE *out, hq_db_t *db) {
  char sql[4096], a[32], b[32];
  size_t len;
  sqlite3_stmt *st = NULL;
  int64_t maxcount = 0, rows[64][3];
  int n = 0, rc;

  /* Power-of-two buckets as in the size_histogram view, without its per-row subquery. */
  len = (size_t)snprintf(sql, sizeof sql, "SELECT CASE WHEN a.size <= 0 THEN -1");
  for (int i = 0; i < 62 && len < sizeof sql - 64; i++)
    len += (size_t)snprintf(sql + len, sizeof sql - len, " WHEN a.size < %" PRId64 " THEN %d",
                            (int64_t)1 << (i + 1), i);
  snprintf(sql + len, sizeof sql - len,
           " ELSE 62 END AS b, count(*), sum(a.size) FROM allocations a JOIN kinds k"
           " ON k.kind = a.kind WHERE k.class = 'heap' GROUP BY b ORDER BY b");
  rc = hq__db_prepare(db, sql, &st);
  if (rc) return rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < 64) {
    rows[n][0] = sqlite3_column_int64(st, 0);
    rows[n][1] = sqlite3_column_int64(st, 1);
    rows[n][2] = sqlite3_column_int64(st, 2);
    if (rows[n][1] > maxcount) maxcount = rows[n][1];
    n++;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return hq__db_sqlerr(db, "size histogram");
  if (n == 0) { fputs("<p>No heap allocations.</p>\n", out); return HQ_OK; }
  fputs("<table class=\"hist\"><tr><th class=\"n\">size</th><th class=\"n\">allocations</th>"
        "<th class=\"n\">bytes</th><th></th></tr>\n", out);
  for (int i = 0; i < n; i++) {
    int64_t lo = rows[i][0] < 0 ? 0 : (int64_t)1 << rows[i][0];
    int64_t hi = rows[i][0] < 0 ? 0 : ((int64_t)1 << (rows[i][0] + 1)) - 1;
    fprintf(out, "<tr><td class=\"n\">%s", hq__fmt_bytes((double)lo, a, sizeof a));
    if (hi > lo) fprintf(out, " - %s", hq__fmt_bytes((double)hi, b, sizeof b));
    fprintf(out, "</td><td class=\"n\">%" PRId64 "</td><td class=\"n\">%s</td>"
                 "<td><span class=\"bar\" style=\"width:%dpx\"></span></td></tr>\n",
            rows[i][1], hq__fmt_bytes((double)rows[i][2], a, sizeof a),
            (int)(1 + 400.0 * (double)rows[i][1] / (double)maxcount));
  }
  fputs("</table>\n", out);
  return HQ_OK;
}

static int write_flames(FILE *out, hq_db_t *db, const char *program) {
  static const struct { int metric; const char *tab, *what; } views[] = {
    {HQ_FLAME_ALLOCATED, "allocated", "bytes allocated"},
    {HQ_FLAME_PEAK, "peak", "bytes live at the heap peak"},
    {HQ_FLAME_LEAKED, "leaked", "bytes leaked"},
    {HQ_FLAME_COUNT, "count", "allocation calls"},
  };
  hq_flame_opts_t opts = {.metric = HQ_FLAME_PEAK, .max_nodes = HTML_FLAME_NODES};
  hq__flame_t *fl = NULL;
  char *root = NULL;
  int rc;

  rc = hq__flame_build(db, &opts, &fl);
  if (rc) return rc;
  fputs("<p>", out);
  for (size_t i = 0; i < sizeof views / sizeof views[0]; i++)
    fprintf(out, "<button class=\"hq-tab\" type=\"button\" data-metric=\"%s\">%s</button>",
            views[i].tab, views[i].what);
  fputs("</p>\n", out);
  for (size_t i = 0; i < sizeof views / sizeof views[0] && rc == HQ_OK; i++) {
    char title[512];
    snprintf(title, sizeof title, "Heap %s: %s", views[i].what, program);
    hq__flame_set_metric(fl, views[i].metric, title);
    fprintf(out, "<div class=\"hq-flame-view\" data-metric=\"%s\">\n", views[i].tab);
    rc = hq__flame_svg(fl, out, 0);
    fputs("</div>\n", out);
  }
  hq__flame_free(fl);
  if (rc == HQ_OK) rc = hq__callsites_ensure(db);
  if (rc == HQ_OK) rc = hq__source_root(db, &root);
  if (rc == HQ_OK) {
    fputs("<h2>Top sites by bytes allocated</h2>\n", out);
    rc = write_sites(out, db, HQ_BY_BYTES, root, "No heap allocations.");
  }
  if (rc == HQ_OK) {
    fputs("<h2>Leaks by site</h2>\n", out);
    rc = write_sites(out, db, HQ_BY_LEAKED, root, "No heap block was left unfreed.");
  }
  if (rc == HQ_OK) {
    fputs("<h2>Top contributors to the heap peak</h2>\n", out);
    rc = write_sites(out, db, HQ_BY_PEAK, root, "Nothing was live at the peak.");
  }
  free(root);
  return rc;
}

/*
 * The HTML report.  `report` (the text/JSON report's figures) is not read: every figure here is
 * computed from db, so this file does not depend on that structure.
 */
int hq__report_html(hq_db_t *db, FILE *out, const void *report) {
  hq__headline_t h;
  char program[300];
  int rc;

  (void)report;
  if (!HQ_DB_OK(db) || !out) return HQ_MISUSE_BKPT;
  rc = hq__headline_load(db, &h);
  if (rc) return rc;
  snprintf(program, sizeof program, "%s", h.program[0] ? h.program : hq_db_path(db));

  fputs("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
        "<meta charset=\"utf-8\"/>\n<meta name=\"generator\" content=\"heapql " HQ_VERSION_STRING
        "\"/>\n<title>heapql report: ", out);
  hq__fmt_xml(out, program);
  fprintf(out, "</title>\n<style>/*<![CDATA[*/%s/*]]>*/</style>\n</head>\n<body>\n", page_style);
  fputs("<h1>heapql report: ", out);
  hq__fmt_xml(out, program);
  fputs("</h1>\n", out);
  if (h.command_line[0]) {
    fputs("<p><code>", out);
    hq__fmt_xml(out, h.command_line);
    fputs("</code></p>\n", out);
  }
  write_facts(out, db, &h);
  write_cards(out, &h);

  fputs("<h2>Memory over time</h2>\n", out);
  rc = hq__timeline_svg(db, NULL, out, 0);
  if (rc) goto out;
  fputs("<h2>Flame graphs</h2>\n<p class=\"l\">Width is the share of the chosen measure; a "
        "frame's callers are below it. Click a frame to zoom in, [reset zoom] to come back; "
        "hover for figures. Frames too narrow to see are merged into [N small frames].</p>\n",
        out);
  rc = write_flames(out, db, program);
  if (rc) goto out;
  fputs("<h2>Allocation sizes (heap)</h2>\n", out);
  rc = write_histogram(out, db);
  if (rc) goto out;
  fputs("<footer>Generated by heapql " HQ_VERSION_STRING ". Every figure here is a query on the "
        "database: see docs/schema.md, or <code>heapql query</code>.</footer>\n", out);
  fprintf(out, "<script>//<![CDATA[\n%s%s//]]></script>\n</body>\n</html>\n", hq__flame_script,
          page_script);
  rc = ferror(out) ? HQ_EIO : HQ_OK;
out:
  return rc;
}
