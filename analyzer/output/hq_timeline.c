/*
 * hq_timeline.c: memory over time as an SVG chart: live heap, anonymous mmap, device memory and
 * RSS from the samples table, the heap peak marked.  Long runs are downsampled by time bucket,
 * keeping each bucket's minimum and maximum so no spike disappears.  When the program's own
 * memory is small beside its RSS (code, libraries and the interpreter make up most of a small
 * program's RSS), RSS gets an axis of its own on the right, so the heap is not a flat line on
 * the time axis.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/output_int.h"

static const char *const series_name[HQ__S_N] = {"live heap", "mmap", "device", "RSS"};
static const char *const series_colour[HQ__S_N] = {"#1f77b4", "#9467bd", "#2ca02c", "#ff7f0e"};

/* A step of 1, 2, 2.5 or 5 times a power of ten giving about `ticks` ticks over range. */
static double nice_step(double range, int ticks) {
  double raw = range / ticks, p, f;
  if (raw <= 0) return 1;
  p = pow(10, floor(log10(raw)));
  f = raw / p;
  if (f <= 1) f = 1;
  else if (f <= 2) f = 2;
  else if (f <= 2.5) f = 2.5;
  else if (f <= 5) f = 5;
  else f = 10;
  return f * p;
}

static void fmt_seconds(int64_t ns, char *buf, size_t cap) {
  snprintf(buf, cap, "%.3f s", (double)ns / 1e9);
}

/* Below this share of RSS, the heap, mmap and device series get the left axis to themselves. */
#define RSS_OWN_AXIS_BELOW 0.25

typedef struct {
  double left, right, top, bottom;
  int64_t t0, span;
  double ymax;        /* of the left axis */
  double ymax_rss;    /* of the right axis, RSS's own; 0 = RSS shares the left axis */
} plot_t;

static double px_x(const plot_t *p, int64_t t) {
  return p->left + (double)(t - p->t0) / (double)p->span * (p->right - p->left);
}
static double px_y_of(const plot_t *p, double v, double ymax) {
  return p->bottom - v / ymax * (p->bottom - p->top);
}
static double px_y(const plot_t *p, double v) {
  return px_y_of(p, v, p->ymax);
}
/* Series s's y: RSS on its own axis when it has one. */
static double px_y_series(const plot_t *p, int s, double v) {
  return px_y_of(p, v, s == HQ__S_RSS && p->ymax_rss > 0 ? p->ymax_rss : p->ymax);
}

static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};

/* The unit for values up to ymax; *out_unit gets its size in bytes. */
static int unit_for(double ymax, double *out_unit) {
  int u = 0;
  *out_unit = 1;
  while (u < 4 && ymax / *out_unit >= 1024) { *out_unit *= 1024; u++; }
  return u;
}

/* The value ticks of one axis: grid lines on the left axis, tick labels on either side. */
static void draw_value_ticks(FILE *out, const plot_t *p, double ymax, int right) {
  double unit, step;
  int u = unit_for(ymax, &unit);
  step = nice_step(ymax / unit, 6);
  for (double v = 0; v <= ymax / unit + 1e-9; v += step) {
    double y = px_y_of(p, v * unit, ymax);
    if (!right)
      fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>",
              p->left, y, p->right, y);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"%s\">%g %s</text>\n",
            right ? p->right + 6 : p->left - 6, y + 4, right ? "start" : "end",
            right ? series_colour[HQ__S_RSS] : "#444", v, units[u]);
  }
}

static void draw_axes(FILE *out, const plot_t *p) {
  double unit, tstep, tscale;
  int u = unit_for(p->ymax, &unit);
  const char *tunit;

  draw_value_ticks(out, p, p->ymax, 0);
  if (p->ymax_rss > 0) {
    double runit;
    draw_value_ticks(out, p, p->ymax_rss, 1);
    fprintf(out, "<text transform=\"translate(%.1f %.1f) rotate(90)\" text-anchor=\"middle\" "
                 "fill=\"%s\">RSS (%s), its own scale</text>\n",
            p->right + 72, (p->top + p->bottom) / 2, series_colour[HQ__S_RSS],
            units[unit_for(p->ymax_rss, &runit)]);
  }
  /* Time axis: seconds, or milliseconds for runs shorter than a second. */
  if (p->span < 1000000000) { tscale = 1e6; tunit = "ms"; }
  else { tscale = 1e9; tunit = "s"; }
  tstep = nice_step((double)p->span / tscale, 8);
  for (double v = ceil((double)p->t0 / tscale / tstep) * tstep;
       v <= (double)(p->t0 + p->span) / tscale + 1e-9; v += tstep) {
    double x = px_x(p, (int64_t)llround(v * tscale));
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>"
                 "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#444\">%g</text>\n",
            x, p->top, x, p->bottom, x, p->bottom + 16, v);
  }
  fprintf(out, "<rect class=\"plot\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
               "fill=\"none\" stroke=\"#888\"/>\n", p->left, p->top, p->right - p->left,
          p->bottom - p->top);
  fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#222\">time (%s)</text>\n",
          (p->left + p->right) / 2, p->bottom + 36, tunit);
  fprintf(out, "<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\" "
               "fill=\"#222\">%s (%s)</text>\n", (p->top + p->bottom) / 2,
          p->ymax_rss > 0 ? "heap, mmap, device" : "memory", units[u]);
}

/* The outermost regions as shaded bands behind the series, two shades alternating by name so
 * neighbouring phases tell apart, each named on hover and, where it is wide enough, on top. */
#define REGIONS_MAX 4000
static void draw_regions(FILE *out, const plot_t *p, const hq__span_t *r, size_t n) {
  if (n) fputs("<g class=\"hq-regions\">\n", out);
  for (size_t i = 0; i < n; i++) {
    double x0 = px_x(p, r[i].t_begin < p->t0 ? p->t0 : r[i].t_begin);
    double x1 = px_x(p, r[i].t_end > p->t0 + p->span ? p->t0 + p->span : r[i].t_end);
    unsigned h = 0;
    for (const char *c = r[i].name; *c; c++) h = h * 31 + (unsigned char)*c;
    if (x1 - x0 < 0.5) x1 = x0 + 0.5;
    fprintf(out, "<rect class=\"hq-region\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                 "fill=\"%s\" fill-opacity=\"0.5\"><title>", x0, p->top, x1 - x0, p->bottom - p->top,
            h & 1 ? "#e8eef7" : "#f3ece2");
    hq__fmt_xml(out, r[i].name);
    fputs("</title></rect>\n", out);
    if (x1 - x0 >= 8.0 * (double)strlen(r[i].name)) {
      fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#777\" font-size=\"10\">", x0 + 3, p->top + 12);
      hq__fmt_xml(out, r[i].name);
      fputs("</text>\n", out);
    }
  }
  if (n) fputs("</g>\n", out);
}

static void draw_series(FILE *out, const plot_t *p, const hq__series_t *s, int idx) {
  if (s->n == 0) return;
  if (idx == HQ__S_HEAP) {
    /* The heap as a filled area, the others as lines over it. */
    fprintf(out, "<polygon fill=\"%s\" fill-opacity=\"0.18\" stroke=\"none\" points=\"%.1f,%.1f",
            series_colour[idx], px_x(p, s->t[0]), p->bottom);
    for (size_t i = 0; i < s->n; i++)
      fprintf(out, " %.1f,%.1f", px_x(p, s->t[i]), px_y(p, (double)s->v[i]));
    fprintf(out, " %.1f,%.1f\"/>\n", px_x(p, s->t[s->n - 1]), p->bottom);
  }
  fprintf(out, "<polyline class=\"series\" data-series=\"%s\" fill=\"none\" stroke=\"%s\" "
               "stroke-width=\"1.6\"%s points=\"",
          series_name[idx], series_colour[idx], idx == HQ__S_RSS ? " stroke-dasharray=\"6 3\"" : "");
  for (size_t i = 0; i < s->n; i++)
    fprintf(out, "%s%.1f,%.1f", i ? " " : "", px_x(p, s->t[i]), px_y_series(p, idx, (double)s->v[i]));
  fputs("\"/>\n", out);
}

static void draw_marker(FILE *out, const plot_t *p, int64_t t, int64_t bytes, const char *what,
                        const char *colour, double dy) {
  char b[32], ts[32];
  double x = px_x(p, t), y = px_y(p, (double)bytes);
  int right_side = x > (p->left + p->right) / 2;
  fmt_seconds(t, ts, sizeof ts);
  fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
               "stroke-dasharray=\"3 3\"/>\n", x, p->top, x, p->bottom, colour);
  fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\" stroke=\"#fff\"/>\n", x, y,
          colour);
  fprintf(out, "<text class=\"peak\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"#000\" "
               "font-weight=\"bold\">%s %s at %s</text>\n",
          right_side ? x - 8 : x + 8, (y - 8 + dy < p->top + 14) ? p->top + 14 + dy : y - 8 + dy,
          right_side ? "end" : "start", what, hq__fmt_bytes((double)bytes, b, sizeof b), ts);
}

int hq__timeline_svg(hq_db_t *db, const hq_timeline_opts_t *opts, FILE *out, int standalone) {
  hq_timeline_opts_t defaults = {0};
  hq__timeline_t in;
  plot_t p;
  int width, height, max_points, rc;
  double lx;
  char title[512];

  memset(&in, 0, sizeof in);
  if (!HQ_DB_OK(db) || !out) return HQ_MISUSE_BKPT;
  if (!opts) opts = &defaults;
  width = opts->width >= 300 ? opts->width : 1200;
  height = opts->height >= 200 ? opts->height : 500;
  max_points = opts->max_points >= 16 ? opts->max_points : 3000;
  rc = hq__timeline_load(db, opts, max_points, &in);
  if (rc) goto out;
  if (opts->title) snprintf(title, sizeof title, "%s", opts->title);
  else if (in.pid_null) snprintf(title, sizeof title, "Memory over time: %s", in.program[0] ? in.program : hq_db_path(db));
  else snprintf(title, sizeof title, "Memory over time: %s (pid %" PRId64 ")",
                in.program[0] ? in.program : hq_db_path(db), in.pid);

  p.left = 90;
  p.right = width - 30;
  p.top = 70;
  p.bottom = height - 50;
  p.t0 = in.t0;
  p.span = in.t1 - in.t0 > 0 ? in.t1 - in.t0 : 1;
  p.ymax = p.ymax_rss = 0;
  for (int s = 0; s < HQ__S_N; s++)
    if (in.present[s] && s != HQ__S_RSS && (double)in.max[s] > p.ymax) p.ymax = (double)in.max[s];
  if ((double)in.peak_bytes > p.ymax) p.ymax = (double)in.peak_bytes;
  if (in.present[HQ__S_RSS]) {
    double rss = (double)in.max[HQ__S_RSS];
    if (p.ymax > 0 && p.ymax < RSS_OWN_AXIS_BELOW * rss) {
      p.ymax_rss = rss * 1.08;
      p.right = width - 100; /* room for the right axis */
    } else if (rss > p.ymax) {
      p.ymax = rss;
    }
  }
  p.ymax = p.ymax > 0 ? p.ymax * 1.08 : 1024;

  if (in.rows == 0) height = 90; /* nothing to draw but a sentence */
  if (standalone) fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
  fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"hq-timeline\" version=\"1.1\" "
               "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"Verdana, DejaVu Sans, sans-serif\" font-size=\"12\">\n",
          width, height, width, height);
  fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", width, height);
  fprintf(out, "<text x=\"%d\" y=\"22\" font-size=\"16\" text-anchor=\"middle\">", width / 2);
  hq__fmt_xml(out, title);
  fputs("</text>\n", out);
  if (in.processes > 1)
    fprintf(out, "<text x=\"%d\" y=\"40\" text-anchor=\"middle\" fill=\"#555\">one of %" PRId64
                 " processes in this database (heapql timeline --pid selects another)</text>\n",
            width / 2, in.processes);
  if (in.rows == 0) {
    fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#555\">no samples "
                 "recorded in this database</text>\n</svg>\n", width / 2, height - 20);
    rc = ferror(out) ? HQ_EIO : HQ_OK;
    goto out;
  }
  draw_axes(out, &p);
  {
    hq__span_t *spans = NULL;
    size_t n_spans = 0;
    rc = hq__regions_outer(db, in.pid, in.pid_null, in.t1, REGIONS_MAX, &spans, &n_spans);
    if (rc) goto out;
    draw_regions(out, &p, spans, n_spans);
    hq__spans_free(spans, n_spans);
  }
  for (int s = 0; s < HQ__S_N; s++)
    if (in.present[s]) draw_series(out, &p, &in.ser[s], s);
  draw_marker(out, &p, in.peak_t, in.peak_bytes, "peak heap", series_colour[HQ__S_HEAP], 0);
  if (in.present[HQ__S_DEVICE])
    draw_marker(out, &p, in.dev_peak_t, in.dev_peak_bytes, "peak device", series_colour[HQ__S_DEVICE],
                16);
  /* Legend: each series with its maximum. */
  lx = p.left;
  for (int s = 0; s < HQ__S_N; s++) {
    char b[32];
    if (!in.present[s]) continue;
    fprintf(out, "<line x1=\"%.1f\" y1=\"56\" x2=\"%.1f\" y2=\"56\" stroke=\"%s\" "
                 "stroke-width=\"3\"%s/><text x=\"%.1f\" y=\"60\" fill=\"#222\">%s (max %s)</text>\n",
            lx, lx + 22, series_colour[s], s == HQ__S_RSS ? " stroke-dasharray=\"6 3\"" : "", lx + 27,
            series_name[s], hq__fmt_bytes((double)in.max[s], b, sizeof b));
    if (s == HQ__S_RSS && p.ymax_rss > 0)
      fprintf(out, "<text x=\"%.1f\" y=\"60\" fill=\"%s\" text-anchor=\"end\">RSS: right axis</text>\n",
              p.right, series_colour[HQ__S_RSS]);
    lx += 210;
  }
  fputs("</svg>\n", out);
  rc = ferror(out) ? HQ_EIO : HQ_OK;
out:
  hq__timeline_free(&in);
  return rc;
}

int hq_timeline_write_svg(hq_db_t *db, const hq_timeline_opts_t *opts, FILE *out) {
  return hq__timeline_svg(db, opts, out, 1);
}
