/*
 * hq_compare.c: `heapql compare`: several runs, one row each, labelled by what sets each run
 * apart (the label `heapql run --label` gave it, else its own command-line options), with peak heap, peak device, peak RSS, heap
 * allocations and bytes, wall time and the loss a run reports (its last counter named "loss"),
 * each against the first run.  Text, JSON, or an HTML page with the runs' heap timelines
 * overlaid.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/output_int.h"

#define MAX_TOKENS 64

typedef struct {
  const char *database;
  char label[256];
  char given_label[256];   /* meta.label (heapql run --label), "" when none */
  hq__headline_t h;
  int has_loss;
  double loss;
  int64_t *t, *heap; /* the root process's heap over time (HTML) */
  size_t n_points;
} run_t;

/* The figures of a row, in column order. */
enum { F_PEAK_HEAP, F_PEAK_DEVICE, F_PEAK_RSS, F_ALLOCS, F_BYTES, F_WALL, F_LOSS, F_N };
static const struct {
  const char *title, *json;
} figures[F_N] = {
  {"peak heap", "peak_heap_bytes"},   {"peak device", "peak_device_bytes"},
  {"peak RSS", "peak_rss_bytes"},     {"allocations", "allocations"},
  {"bytes allocated", "bytes_allocated"}, {"wall time", "wall_time_s"},
  {"loss", "loss"},
};

/* The value of figure f; NAN when the run has none (a loss it did not report). */
static double figure(const run_t *r, int f) {
  switch (f) {
  case F_PEAK_HEAP: return (double)r->h.peak_heap_bytes;
  case F_PEAK_DEVICE: return (double)r->h.peak_device_bytes;
  case F_PEAK_RSS: return (double)r->h.peak_rss_bytes;
  case F_ALLOCS: return (double)r->h.alloc_count;
  case F_BYTES: return (double)r->h.alloc_bytes;
  case F_WALL: return r->h.duration_ns >= 0 ? (double)r->h.duration_ns / 1e9 : NAN;
  default: return r->has_loss ? r->loss : NAN;
  }
}

/* value / the first run's; NAN when either is missing or the first is 0. */
static double ratio(const run_t *runs, size_t i, int f) {
  double base = figure(&runs[0], f), v = figure(&runs[i], f);
  return isnan(base) || isnan(v) || base == 0 ? NAN : v / base;
}

static void format_value(const run_t *r, int f, char *buf, size_t cap) {
  double v = figure(r, f);
  if (isnan(v)) snprintf(buf, cap, "-");
  else if (f == F_ALLOCS) snprintf(buf, cap, "%.0f", v);
  else if (f == F_WALL) snprintf(buf, cap, "%.3f s", v);
  else if (f == F_LOSS) snprintf(buf, cap, "%.6g", v);
  else hq__fmt_bytes(v, buf, cap);
}

/* ---- labels: the options a run has and not every run has ---- */

static size_t split(const char *line, char *copy, size_t cap, char **tok) {
  size_t n = 0;
  snprintf(copy, cap, "%s", line);
  for (char *save = NULL, *t = strtok_r(copy, " ", &save); t && n < MAX_TOKENS; t = strtok_r(NULL, " ", &save))
    tok[n++] = t;
  return n;
}

static const char *program_name(const char *command_line, char *buf, size_t cap) {
  const char *slash;
  size_t len = strcspn(command_line, " ");
  snprintf(buf, cap, "%.*s", (int)len, command_line);
  slash = strrchr(buf, '/');
  return slash ? slash + 1 : buf;
}

/* One run's command line cut into words (the program first). */
typedef struct {
  char copy[1024];
  char *tok[MAX_TOKENS];
  size_t n;
} words_t;

static int has_word(const words_t *w, const char *word) {
  for (size_t m = 1; m < w->n; m++)
    if (!strcmp(w->tok[m], word)) return 1;
  return 0;
}

static int make_labels(run_t *runs, size_t n) {
  int any = 0, same_program = 1;
  char a[256], b[256];
  words_t *w = calloc(n, sizeof *w);
  if (!w) return HQ_ENOMEM;
  for (size_t i = 0; i < n; i++) w[i].n = split(runs[i].h.command_line, w[i].copy, sizeof w[i].copy, w[i].tok);
  for (size_t i = 1; i < n; i++)
    same_program &= !strcmp(program_name(runs[0].h.command_line, a, sizeof a),
                            program_name(runs[i].h.command_line, b, sizeof b));
  for (size_t i = 0; i < n; i++) {
    size_t len = 0;
    runs[i].label[0] = '\0';
    if (!same_program) { /* different programs: each is named first */
      len = (size_t)snprintf(runs[i].label, sizeof runs[i].label, "%s",
                             program_name(runs[i].h.command_line, a, sizeof a));
      if (len >= sizeof runs[i].label) len = sizeof runs[i].label - 1;
    }
    for (size_t k = 1; k < w[i].n; k++) { /* the program itself never tells runs apart */
      int everywhere = 1;
      for (size_t j = 0; j < n && everywhere; j++) everywhere = has_word(&w[j], w[i].tok[k]);
      if (everywhere) continue;
      len += (size_t)snprintf(runs[i].label + len, sizeof runs[i].label - len, "%s%s", len ? " " : "",
                              w[i].tok[k]);
      if (len >= sizeof runs[i].label) len = sizeof runs[i].label - 1;
    }
    any |= runs[i].label[0] != '\0';
  }
  free(w);
  for (size_t i = 0; i < n; i++) {
    if (runs[i].given_label[0]) { /* heapql run --label */
      snprintf(runs[i].label, sizeof runs[i].label, "%s", runs[i].given_label);
      continue;
    }
    if (runs[i].label[0]) continue;
    if (any) {
      snprintf(runs[i].label, sizeof runs[i].label, "plain");
    } else { /* the same command everywhere: the databases' names tell them apart */
      const char *slash = strrchr(runs[i].database, '/');
      snprintf(runs[i].label, sizeof runs[i].label, "%s", slash ? slash + 1 : runs[i].database);
    }
  }
  return HQ_OK;
}

/* ---- loading ---- */

static int load_run(hq_db_t *db, run_t *r, int want_timeline) {
  sqlite3_stmt *st = NULL;
  size_t cap = 0;
  int rc = hq__headline_load(db, &r->h), step;
  if (rc) return rc;
  hq_db_meta_get(db, "label", r->given_label, sizeof r->given_label);
  rc = hq__db_prepare(db, "SELECT value FROM counters WHERE name = 'loss' ORDER BY t DESC, rowid DESC "
                          "LIMIT 1", &st);
  if (rc) return rc;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
    r->has_loss = 1;
    r->loss = sqlite3_column_double(st, 0);
  }
  sqlite3_finalize(st);
  if (!want_timeline) return HQ_OK;
  rc = hq__db_prepare(db, "SELECT t, heap_bytes FROM samples WHERE pid IS ?1 ORDER BY t", &st);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, r->h.pid);
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    if (r->n_points == cap) {
      size_t nc = cap ? cap * 2 : 256;
      int64_t *t = realloc(r->t, nc * sizeof *t), *h;
      if (t) r->t = t;
      h = t ? realloc(r->heap, nc * sizeof *h) : NULL;
      if (!h) {
        rc = HQ_ENOMEM;
        break;
      }
      r->heap = h;
      cap = nc;
    }
    r->t[r->n_points] = sqlite3_column_int64(st, 0);
    r->heap[r->n_points++] = sqlite3_column_int64(st, 1);
  }
  if (!rc && step != SQLITE_DONE) rc = hq__db_sqlerr(db, "reading samples");
  sqlite3_finalize(st);
  return rc;
}

/* ---- writers ---- */

static int write_text(const run_t *runs, size_t n, FILE *out) {
  int lw = 3, w[F_N];
  char (*cells)[F_N][64] = calloc(n ? n : 1, sizeof *cells);
  if (!cells) return HQ_ENOMEM;
  for (int f = 0; f < F_N; f++) w[f] = (int)strlen(figures[f].title);
  for (size_t i = 0; i < n; i++) {
    if ((int)strlen(runs[i].label) > lw) lw = (int)strlen(runs[i].label) > 40 ? 40 : (int)strlen(runs[i].label);
    for (int f = 0; f < F_N; f++) {
      char v[32];
      double q = ratio(runs, i, f);
      format_value(&runs[i], f, v, sizeof v);
      if (i && !isnan(q)) snprintf(cells[i][f], sizeof cells[i][f], "%s (x%.2f)", v, q);
      else snprintf(cells[i][f], sizeof cells[i][f], "%s", v);
      if ((int)strlen(cells[i][f]) > w[f]) w[f] = (int)strlen(cells[i][f]);
    }
  }
  fprintf(out, "%-*s", lw, "run");
  for (int f = 0; f < F_N; f++) fprintf(out, "  %*s", w[f], figures[f].title);
  fprintf(out, "  database\n");
  for (size_t i = 0; i < n; i++) {
    fprintf(out, "%-*.*s", lw, lw, runs[i].label);
    for (int f = 0; f < F_N; f++) fprintf(out, "  %*s", w[f], cells[i][f]);
    fprintf(out, "  %s\n", runs[i].database);
  }
  if (n > 1) fprintf(out, "(xR: against the first run, %s)\n", runs[0].label);
  free(cells);
  return HQ_OK;
}

static void json_number(hq__jw_t *w, const char *key, double v) {
  if (isnan(v)) hq__jw_null(w, key);
  else hq__jw_double(w, key, v);
}

static void write_json(const run_t *runs, size_t n, FILE *out) {
  hq__jw_t w;
  hq__jw_init(&w, out);
  hq__jw_array(&w, NULL);
  for (size_t i = 0; i < n; i++) {
    hq__jw_object(&w, NULL);
    hq__jw_str(&w, "database", runs[i].database);
    hq__jw_str(&w, "label", runs[i].label);
    hq__jw_str(&w, "command_line", runs[i].h.command_line);
    for (int f = 0; f < F_N; f++) json_number(&w, figures[f].json, figure(&runs[i], f));
    hq__jw_object(&w, "ratios");
    for (int f = 0; f < F_N; f++) json_number(&w, figures[f].json, ratio(runs, i, f));
    hq__jw_end_object(&w);
    fputs(", \"headline\": ", out); /* the figures `heapql diff` shows, as it writes them */
    hq__headline_json(out, &runs[i].h);
    hq__jw_end_object(&w);
  }
  hq__jw_end_array(&w);
  fputc('\n', out);
}

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                     "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

static void write_html(const run_t *runs, size_t n, FILE *out) {
  const double W = 960, H = 320, L = 70, B = 30;
  double t_max = 1, h_max = 1;
  char v[32];
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < runs[i].n_points; k++) {
      if ((double)runs[i].t[k] > t_max) t_max = (double)runs[i].t[k];
      if ((double)runs[i].heap[k] > h_max) h_max = (double)runs[i].heap[k];
    }
  fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>heapql compare</title>\n"
        "<style>body{font:14px sans-serif;margin:20px}table{border-collapse:collapse}"
        "td,th{padding:3px 10px;text-align:right;border-bottom:1px solid #ddd}"
        "td:first-child,th:first-child{text-align:left}.r{color:#666}</style></head><body>\n"
        "<h1>heapql compare</h1>\n<table class=\"hq-compare\"><tr><th>run</th>", out);
  for (int f = 0; f < F_N; f++) fprintf(out, "<th>%s</th>", figures[f].title);
  fputs("<th>database</th></tr>\n", out);
  for (size_t i = 0; i < n; i++) {
    fprintf(out, "<tr><td style=\"color:%s\">", colors[i % 10]);
    hq__fmt_xml(out, runs[i].label);
    fputs("</td>", out);
    for (int f = 0; f < F_N; f++) {
      double q = ratio(runs, i, f);
      format_value(&runs[i], f, v, sizeof v);
      fprintf(out, "<td>%s", v);
      if (i && !isnan(q)) fprintf(out, " <span class=\"r\">x%.2f</span>", q);
      fputs("</td>", out);
    }
    fputs("<td>", out);
    hq__fmt_xml(out, runs[i].database);
    fputs("</td></tr>\n", out);
  }
  fprintf(out, "</table>\n<h2>Heap over time</h2>\n<svg class=\"hq-compare-timeline\" "
               "xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\">\n",
          W + L + 20, H + B + 20);
  fprintf(out, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#000\"/>\n", L, H + 10,
          L + W, H + 10);
  fprintf(out, "<line x1=\"%.0f\" y1=\"10\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#000\"/>\n", L, L, H + 10);
  fprintf(out, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.3f s</text>\n", L + W, H + B + 10,
          t_max / 1e9);
  fprintf(out, "<text x=\"%.0f\" y=\"20\" text-anchor=\"end\">%s</text>\n", L - 5,
          hq__fmt_bytes(h_max, v, sizeof v));
  for (size_t i = 0; i < n; i++) {
    fprintf(out, "<polyline class=\"hq-run\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
            colors[i % 10]);
    for (size_t k = 0; k < runs[i].n_points; k++)
      fprintf(out, "%s%.1f,%.1f", k ? " " : "", L + W * (double)runs[i].t[k] / t_max,
              10 + H - H * (double)runs[i].heap[k] / h_max);
    fputs("\"><title>", out);
    hq__fmt_xml(out, runs[i].label);
    fputs("</title></polyline>\n", out);
  }
  fputs("</svg>\n<p>Heap bytes live over each run's own time; colours as in the table.</p>\n"
        "</body></html>\n", out);
}

int hq_compare(hq_db_t *const *dbs, const char *const *names, size_t n, int format, FILE *out) {
  run_t *runs;
  int rc = HQ_OK;
  if (!dbs || !out) return HQ_MISUSE_BKPT;
  if (n == 0 || (format != HQ_FORMAT_TEXT && format != HQ_FORMAT_JSON && format != HQ_FORMAT_HTML))
    return HQ_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (!HQ_DB_OK(dbs[i])) return HQ_MISUSE_BKPT;
  if (!(runs = calloc(n, sizeof *runs))) return HQ_ENOMEM;
  for (size_t i = 0; i < n && !rc; i++) {
    runs[i].database = names ? names[i] : hq_db_path(dbs[i]);
    rc = load_run(dbs[i], &runs[i], format == HQ_FORMAT_HTML);
  }
  if (rc) goto out;
  if ((rc = make_labels(runs, n))) goto out;
  if (format == HQ_FORMAT_JSON) write_json(runs, n, out);
  else if (format == HQ_FORMAT_HTML) write_html(runs, n, out);
  else rc = write_text(runs, n, out);
  if (!rc && ferror(out)) rc = HQ_EIO;
out:
  for (size_t i = 0; i < n; i++) {
    free(runs[i].t);
    free(runs[i].heap);
  }
  free(runs);
  return rc;
}
