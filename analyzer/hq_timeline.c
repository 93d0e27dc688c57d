/*
 * hq_timeline.c: memory over time as an SVG chart: live heap, anonymous mmap, device memory and
 * RSS from the samples table, the heap peak marked.  Long runs are downsampled by time bucket,
 * keeping each bucket's minimum and maximum so no spike disappears.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer_int.h"

enum { S_HEAP, S_MMAP, S_DEVICE, S_RSS, S_N };

static const char *const series_name[S_N] = {"live heap", "mmap", "device", "RSS"};
static const char *const series_colour[S_N] = {"#1f77b4", "#9467bd", "#2ca02c", "#ff7f0e"};

typedef struct {
  int64_t *t, *v;
  size_t n, cap;
  /* the current bucket */
  int64_t bucket;
  int64_t min_t, min_v, max_t, max_v;
  int have;
} series_t;

typedef struct {
  int64_t pid;
  int pid_null;           /* samples without a pid */
  int64_t processes;      /* distinct pids in samples */
  int64_t rows, t0, t1;
  int64_t max[S_N];
  int present[S_N];       /* series drawn */
  int64_t peak_bytes, peak_t;
  int64_t dev_peak_bytes, dev_peak_t;
  char program[256];
} info_t;

static int push_point(series_t *s, int64_t t, int64_t v) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 1024;
    int64_t *nt = realloc(s->t, cap * sizeof *nt), *nv;
    if (!nt) return HQ_ENOMEM;
    s->t = nt;
    nv = realloc(s->v, cap * sizeof *nv);
    if (!nv) return HQ_ENOMEM;
    s->v = nv;
    s->cap = cap;
  }
  s->t[s->n] = t;
  s->v[s->n] = v;
  s->n++;
  return HQ_OK;
}

/* Emit the held bucket: its minimum and maximum, in time order. */
static int flush_bucket(series_t *s) {
  int rc = HQ_OK;
  if (!s->have) return HQ_OK;
  if (s->min_t == s->max_t) rc = push_point(s, s->max_t, s->max_v);
  else if (s->min_t < s->max_t) {
    rc = push_point(s, s->min_t, s->min_v);
    if (!rc) rc = push_point(s, s->max_t, s->max_v);
  } else {
    rc = push_point(s, s->max_t, s->max_v);
    if (!rc) rc = push_point(s, s->min_t, s->min_v);
  }
  s->have = 0;
  return rc;
}

static int add_sample(series_t *s, int64_t bucket, int64_t t, int64_t v, int decimate) {
  if (!decimate) return push_point(s, t, v);
  if (s->have && bucket != s->bucket) {
    int rc = flush_bucket(s);
    if (rc) return rc;
  }
  if (!s->have) {
    s->have = 1;
    s->bucket = bucket;
    s->min_t = s->max_t = t;
    s->min_v = s->max_v = v;
  } else {
    if (v < s->min_v) { s->min_v = v; s->min_t = t; }
    if (v > s->max_v) { s->max_v = v; s->max_t = t; }
  }
  return HQ_OK;
}

static void bind_pid(sqlite3_stmt *st, const info_t *in) {
  if (in->pid_null) sqlite3_bind_null(st, 1);
  else sqlite3_bind_int64(st, 1, in->pid);
}

static int choose_pid(hq_db_t *db, const hq_timeline_opts_t *opts, info_t *in) {
  sqlite3_stmt *st = NULL;
  int64_t meta_pid = 0;
  int rc, have_meta = hq__db_meta_int(db, "pid", &meta_pid) == HQ_OK;

  rc = hq__db_prepare(db, "SELECT count(DISTINCT coalesce(pid, -1)), sum(pid = ?1),"
                          " min(pid), sum(pid IS NULL) FROM samples", &st);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, opts->pid ? opts->pid : meta_pid);
  if (sqlite3_step(st) != SQLITE_ROW) { rc = hq__db_sqlerr(db, "reading samples"); goto out; }
  in->processes = sqlite3_column_int64(st, 0);
  if (opts->pid) {
    if (sqlite3_column_int64(st, 1) == 0) {
      rc = hq__db_seterr(db, HQ_ENOENT, "%s: no samples for pid %" PRId64, hq_db_path(db),
                         opts->pid);
      goto out;
    }
    in->pid = opts->pid;
  } else if (have_meta && sqlite3_column_int64(st, 1) > 0) {
    in->pid = meta_pid;
  } else if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
    in->pid = sqlite3_column_int64(st, 2);
  } else {
    in->pid_null = 1;     /* no pid in samples (or no samples): draw the NULL-pid rows */
    in->pid = have_meta ? meta_pid : 0;
  }
out:
  sqlite3_finalize(st);
  return rc;
}

static int read_info(hq_db_t *db, info_t *in) {
  sqlite3_stmt *st = NULL;
  int64_t processes = 1, meta_pid = 0, pb = 0, pt = 0;
  int rc;

  rc = hq__db_prepare(db, "SELECT count(*), min(t), max(t), max(heap_bytes), max(mmap_bytes),"
                          " max(device_bytes), max(rss_bytes) FROM samples WHERE pid IS ?1", &st);
  if (rc) return rc;
  bind_pid(st, in);
  if (sqlite3_step(st) != SQLITE_ROW) { rc = hq__db_sqlerr(db, "reading samples"); goto out; }
  in->rows = sqlite3_column_int64(st, 0);
  in->t0 = sqlite3_column_int64(st, 1);
  in->t1 = sqlite3_column_int64(st, 2);
  for (int s = 0; s < S_N; s++) {
    in->max[s] = sqlite3_column_int64(st, 3 + s);
    /* The heap is always drawn; the others only when they hold something. */
    in->present[s] = s == S_HEAP ? in->rows > 0 : in->max[s] > 0;
  }
  sqlite3_finalize(st);
  st = NULL;

  /* The exact heap peak comes from meta when the database is one process. */
  if (hq__db_meta_int(db, "processes", &processes) != HQ_OK) processes = 1;
  if (processes <= 1 && hq__db_meta_int(db, "peak_heap_bytes", &pb) == HQ_OK &&
      hq__db_meta_int(db, "peak_heap_t", &pt) == HQ_OK &&
      (hq__db_meta_int(db, "pid", &meta_pid) != HQ_OK || meta_pid == in->pid || in->pid_null)) {
    in->peak_bytes = pb;
    in->peak_t = pt;
  } else if (in->rows > 0) {
    rc = hq__db_prepare(db, "SELECT t, heap_bytes FROM samples WHERE pid IS ?1"
                            " ORDER BY heap_bytes DESC, t LIMIT 1", &st);
    if (rc) return rc;
    bind_pid(st, in);
    if (sqlite3_step(st) == SQLITE_ROW) {
      in->peak_t = sqlite3_column_int64(st, 0);
      in->peak_bytes = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    st = NULL;
  }
  if (in->present[S_DEVICE]) {
    rc = hq__db_prepare(db, "SELECT t, device_bytes FROM samples WHERE pid IS ?1"
                            " ORDER BY device_bytes DESC, t LIMIT 1", &st);
    if (rc) return rc;
    bind_pid(st, in);
    if (sqlite3_step(st) == SQLITE_ROW) {
      in->dev_peak_t = sqlite3_column_int64(st, 0);
      in->dev_peak_bytes = sqlite3_column_int64(st, 1);
    }
  }
  if (in->rows > 0) {
    if (in->peak_t < in->t0) in->t0 = in->peak_t;
    if (in->peak_t > in->t1) in->t1 = in->peak_t;
  }
  hq_db_meta_get(db, "program", in->program, sizeof in->program);
out:
  sqlite3_finalize(st);
  return rc;
}

static int read_series(hq_db_t *db, const info_t *in, int max_points, series_t *ser) {
  sqlite3_stmt *st = NULL;
  int64_t buckets = max_points / 2, span = in->t1 - in->t0 + 1;
  int decimate = in->rows > max_points, rc;

  rc = hq__db_prepare(db, "SELECT t, heap_bytes, mmap_bytes, device_bytes, rss_bytes FROM samples"
                          " WHERE pid IS ?1 ORDER BY t", &st);
  if (rc) return rc;
  bind_pid(st, in);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t t = sqlite3_column_int64(st, 0);
    int64_t bucket = (int64_t)((double)(t - in->t0) * (double)buckets / (double)span);
    for (int s = 0; s < S_N; s++) {
      if (!in->present[s] || sqlite3_column_type(st, 1 + s) == SQLITE_NULL) continue;
      rc = add_sample(&ser[s], bucket, t, sqlite3_column_int64(st, 1 + s), decimate);
      if (rc) goto out;
    }
  }
  if (rc != SQLITE_DONE) { rc = hq__db_sqlerr(db, "reading samples"); goto out; }
  rc = HQ_OK;
  for (int s = 0; s < S_N && !rc; s++) rc = flush_bucket(&ser[s]);
out:
  sqlite3_finalize(st);
  return rc;
}

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

typedef struct {
  double left, right, top, bottom;
  int64_t t0, span;
  double ymax;
} plot_t;

static double px_x(const plot_t *p, int64_t t) {
  return p->left + (double)(t - p->t0) / (double)p->span * (p->right - p->left);
}
static double px_y(const plot_t *p, double v) {
  return p->bottom - v / p->ymax * (p->bottom - p->top);
}

static void draw_axes(FILE *out, const plot_t *p) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double unit = 1, step, tstep, tscale;
  int u = 0;
  const char *tunit;

  while (u < 4 && p->ymax / unit >= 1024) { unit *= 1024; u++; }
  step = nice_step(p->ymax / unit, 6);
  for (double v = 0; v <= p->ymax / unit + 1e-9; v += step) {
    double y = px_y(p, v * unit);
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>"
                 "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#444\">%g %s</text>\n",
            p->left, y, p->right, y, p->left - 6, y + 4, v, units[u]);
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
  fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"#888\"/>\n", p->left, p->top, p->right - p->left, p->bottom - p->top);
  fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#222\">time (%s)</text>\n",
          (p->left + p->right) / 2, p->bottom + 36, tunit);
  fprintf(out, "<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\" "
               "fill=\"#222\">memory (%s)</text>\n", (p->top + p->bottom) / 2, units[u]);
}

static void draw_series(FILE *out, const plot_t *p, const series_t *s, int idx) {
  if (s->n == 0) return;
  if (idx == S_HEAP) {
    /* The heap as a filled area, the others as lines over it. */
    fprintf(out, "<polygon fill=\"%s\" fill-opacity=\"0.18\" stroke=\"none\" points=\"%.1f,%.1f",
            series_colour[idx], px_x(p, s->t[0]), p->bottom);
    for (size_t i = 0; i < s->n; i++) fprintf(out, " %.1f,%.1f", px_x(p, s->t[i]), px_y(p, (double)s->v[i]));
    fprintf(out, " %.1f,%.1f\"/>\n", px_x(p, s->t[s->n - 1]), p->bottom);
  }
  fprintf(out, "<polyline class=\"series\" data-series=\"%s\" fill=\"none\" stroke=\"%s\" "
               "stroke-width=\"1.6\"%s points=\"",
          series_name[idx], series_colour[idx], idx == S_RSS ? " stroke-dasharray=\"6 3\"" : "");
  for (size_t i = 0; i < s->n; i++)
    fprintf(out, "%s%.1f,%.1f", i ? " " : "", px_x(p, s->t[i]), px_y(p, (double)s->v[i]));
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
          right_side ? "end" : "start", what, hq__html_bytes((double)bytes, b, sizeof b), ts);
}

int hq__timeline_svg(hq_db_t *db, const hq_timeline_opts_t *opts, FILE *out, int standalone) {
  hq_timeline_opts_t defaults = {0};
  series_t ser[S_N];
  info_t in;
  plot_t p;
  int width, height, max_points, rc;
  double lx;
  char title[512];

  memset(ser, 0, sizeof ser);
  memset(&in, 0, sizeof in);
  if (!db || db->magic != HQ_DB_MAGIC || !out) return HQ_EINVAL;
  if (!opts) opts = &defaults;
  width = opts->width >= 300 ? opts->width : 1200;
  height = opts->height >= 200 ? opts->height : 500;
  max_points = opts->max_points >= 16 ? opts->max_points : 3000;
  rc = choose_pid(db, opts, &in);
  if (rc) goto out;
  rc = read_info(db, &in);
  if (rc) goto out;
  if (in.rows > 0) {
    rc = read_series(db, &in, max_points, ser);
    if (rc) goto out;
  }
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
  p.ymax = 0;
  for (int s = 0; s < S_N; s++)
    if (in.present[s] && (double)in.max[s] > p.ymax) p.ymax = (double)in.max[s];
  if ((double)in.peak_bytes > p.ymax) p.ymax = (double)in.peak_bytes;
  p.ymax = p.ymax > 0 ? p.ymax * 1.08 : 1024;

  if (in.rows == 0) height = 90; /* nothing to draw but a sentence */
  if (standalone) fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
  fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"hq-timeline\" version=\"1.1\" "
               "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"Verdana, DejaVu Sans, sans-serif\" font-size=\"12\">\n",
          width, height, width, height);
  fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", width, height);
  fprintf(out, "<text x=\"%d\" y=\"22\" font-size=\"16\" text-anchor=\"middle\">", width / 2);
  hq__html_escape(out, title);
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
  for (int s = 0; s < S_N; s++)
    if (in.present[s]) draw_series(out, &p, &ser[s], s);
  draw_marker(out, &p, in.peak_t, in.peak_bytes, "peak heap", series_colour[S_HEAP], 0);
  if (in.present[S_DEVICE])
    draw_marker(out, &p, in.dev_peak_t, in.dev_peak_bytes, "peak device", series_colour[S_DEVICE],
                16);
  /* Legend: each series with its maximum. */
  lx = p.left;
  for (int s = 0; s < S_N; s++) {
    char b[32];
    if (!in.present[s]) continue;
    fprintf(out, "<line x1=\"%.1f\" y1=\"56\" x2=\"%.1f\" y2=\"56\" stroke=\"%s\" "
                 "stroke-width=\"3\"%s/><text x=\"%.1f\" y=\"60\" fill=\"#222\">%s (max %s)</text>\n",
            lx, lx + 22, series_colour[s], s == S_RSS ? " stroke-dasharray=\"6 3\"" : "", lx + 27,
            series_name[s], hq__html_bytes((double)in.max[s], b, sizeof b));
    lx += 210;
  }
  fputs("</svg>\n", out);
  rc = ferror(out) ? HQ_EIO : HQ_OK;
out:
  for (int s = 0; s < S_N; s++) {
    free(ser[s].t);
    free(ser[s].v);
  }
  return rc;
}

int hq_timeline_write_svg(hq_db_t *db, const hq_timeline_opts_t *opts, FILE *out) {
  return hq__timeline_svg(db, opts, out, 1);
}
