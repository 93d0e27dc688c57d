/*
 * hq_flame.c: flame graphs.  Stacks are aggregated into a trie of frame names first (hq_sites.c),
 * so the output grows with the number of distinct stacks, never with the number of
 * allocations.  Two writers: the folded format for flamegraph.pl and speedscope, and an SVG of
 * our own that merges frames too narrow to see and caps the number of boxes.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/output_int.h"

#define ROW_H 16
#define TOP_H 64
#define BOTTOM_H 28
#define MARGIN_X 10
#define CHAR_W 7.0 /* average glyph width of 12px Verdana, for fitting labels */

struct hq__flame_s {
  hq__sitemap_t *map;
  hq__tree_t tree;
  int64_t *total;        /* per node: its value plus its descendants' */
  int metric;
  int column;            /* HQ__V_* column the metric reads */
  char kind_class[16];
  char title[512];
  double min_fraction;
  int max_nodes;
  int width;
};

static const char *const metric_names[] = {"allocated", "leaked", "peak", "count"};

static int metric_column(int metric) {
  switch (metric) {
  case HQ_FLAME_ALLOCATED: return HQ__V_BYTES;
  case HQ_FLAME_LEAKED: return HQ__V_LEAKED_BYTES;
  case HQ_FLAME_PEAK: return HQ__V_PEAK_BYTES;
  case HQ_FLAME_COUNT: return HQ__V_COUNT;
  default: return -1;
  }
}

void hq__flame_free(hq__flame_t *fl) {
  if (!fl) return;
  hq__tree_free(&fl->tree);
  hq__sitemap_free(fl->map);
  free(fl->total);
  free(fl);
}

int hq__flame_build(hq_db_t *db, const hq_flame_opts_t *opts, hq__flame_t **out_flame) {
  hq_flame_opts_t defaults = {0};
  hq__flame_t *fl = NULL;
  char program[256] = "";
  int rc;

  *out_flame = NULL;
  if (!opts) opts = &defaults;
  if (!HQ_DB_OK(db)) return HQ_MISUSE_BKPT;
  if (metric_column(opts->metric) < 0)
    return hq__db_seterr(db, HQ_EINVAL, "unknown flame graph metric %d", opts->metric);
  if (!hq__sites_class_ok(opts->kind_class))
    return hq__db_seterr(db, HQ_EINVAL, "unknown allocation class '%s'", opts->kind_class);
  fl = calloc(1, sizeof *fl);
  if (!fl) return HQ_ENOMEM;
  fl->metric = opts->metric;
  fl->column = metric_column(opts->metric);
  snprintf(fl->kind_class, sizeof fl->kind_class, "%s", opts->kind_class ? opts->kind_class : "heap");
  fl->min_fraction = opts->min_fraction > 0 ? opts->min_fraction : 0.001;
  fl->max_nodes = opts->max_nodes > 0 ? opts->max_nodes : 20000;
  fl->width = opts->width >= 200 ? opts->width : 1200;
  if (opts->title) {
    snprintf(fl->title, sizeof fl->title, "%s", opts->title);
  } else {
    hq_db_meta_get(db, "program", program, sizeof program);
    snprintf(fl->title, sizeof fl->title, "%s %s %s: %s", metric_names[fl->metric],
             fl->kind_class, fl->metric == HQ_FLAME_COUNT ? "allocation calls" : "bytes",
             program[0] ? program : hq_db_path(db));
  }
  rc = hq__sitemap_load(db, &fl->map);
  if (rc) goto out;
  rc = hq__tree_init(&fl->tree, fl->map, HQ__LABEL_DISPLAY);
  if (rc) goto out;
  rc = hq__sites_scan(db, &fl->tree, opts->kind_class, opts->pid, fl->metric == HQ_FLAME_PEAK);
  if (rc) goto out;
  rc = hq__tree_link(&fl->tree);
  if (rc) goto out;
  fl->total = calloc(fl->tree.n, sizeof *fl->total);
  if (!fl->total) { rc = HQ_ENOMEM; goto out; }
  hq__flame_set_metric(fl, fl->metric, NULL);
out:
  if (rc) hq__flame_free(fl);
  else *out_flame = fl;
  return rc;
}

/* ---- folded ---- */

/* Depth-first walk over nodes with a non-zero total, without recursion: next node after i. */
static int32_t next_node(const hq__flame_t *fl, int32_t i, int descend) {
  const hq__tnode_t *nodes = fl->tree.nodes;
  if (descend) {
    for (int32_t c = nodes[i].first_child; c >= 0; c = nodes[c].next_sibling)
      if (fl->total[c] > 0) return c;
  }
  while (i > 0) {
    for (int32_t s = nodes[i].next_sibling; s >= 0; s = nodes[s].next_sibling)
      if (fl->total[s] > 0) return s;
    i = nodes[i].parent;
  }
  return -1;
}

static int write_folded(const hq__flame_t *fl, FILE *out) {
  const hq__tree_t *t = &fl->tree;
  size_t *cut = NULL, cut_cap = 0, len = 0, cap = 4096;
  char *path = malloc(cap);
  int rc = HQ_OK;

  if (!path) return HQ_ENOMEM;
  for (int32_t i = next_node(fl, 0, 1); i >= 0; i = next_node(fl, i, 1)) {
    const hq__tnode_t *nd = &t->nodes[i];
    const char *name = hq__sitemap_label(fl->map, nd->label);
    size_t nlen = strlen(name), d = (size_t)nd->depth;
    int64_t self = t->self[(size_t)i * HQ__V_N + (size_t)fl->column];
    if (d >= cut_cap) {
      size_t *c = realloc(cut, (d + 64) * sizeof *c);
      if (!c) { rc = HQ_ENOMEM; goto out; }
      cut = c;
      cut_cap = d + 64;
    }
    len = d > 1 ? cut[d - 1] : 0; /* the path of the parent */
    if (len + nlen + 2 > cap) {
      char *p;
      cap = (len + nlen + 2) * 2;
      p = realloc(path, cap);
      if (!p) { rc = HQ_ENOMEM; goto out; }
      path = p;
    }
    if (d > 1) path[len++] = ';';
    memcpy(path + len, name, nlen);
    len += nlen;
    path[len] = '\0';
    cut[d] = len;
    if (self > 0) fprintf(out, "%s %" PRId64 "\n", path, self);
  }
  if (ferror(out)) rc = HQ_EIO;
out:
  free(path);
  free(cut);
  return rc;
}

int hq_flame_write_folded(hq_db_t *db, const hq_flame_opts_t *opts, FILE *out) {
  hq__flame_t *fl = NULL;
  int rc;
  if (!HQ_DB_OK(db) || !out) return HQ_MISUSE_BKPT;
  rc = hq__flame_build(db, opts, &fl);
  if (rc) return rc;
  rc = write_folded(fl, out);
  hq__flame_free(fl);
  return rc;
}

/* ---- SVG ---- */

const char hq__flame_script[] =
  "function hqFlameInit(svg) {\n"
  "  var X0 = parseFloat(svg.getAttribute('data-x0')), W = parseFloat(svg.getAttribute('data-pw'));\n"
  "  var CW = 7, eps = 1e-9;\n"
  "  var frames = Array.prototype.slice.call(svg.querySelectorAll('g.f'));\n"
  "  var info = svg.querySelector('.hq-info'), reset = svg.querySelector('.hq-reset');\n"
  "  var infoDefault = info ? info.textContent : '';\n"
  "  if (!frames.length) { svg.setAttribute('data-ready', '1'); return; }\n"
  "  function num(g, k) { return parseFloat(g.getAttribute(k)); }\n"
  "  function place(g, x, w) {\n"
  "    var r = g.querySelector('rect'), t = g.querySelector('text'), px = w * W;\n"
  "    r.setAttribute('x', (X0 + x * W).toFixed(2));\n"
  "    r.setAttribute('width', Math.max(px - 0.5, 0.1).toFixed(2));\n"
  "    t.setAttribute('x', (X0 + x * W + 3).toFixed(2));\n"
  "    var name = g.getAttribute('data-n'), fit = Math.floor((px - 6) / CW);\n"
  "    t.textContent = fit < 3 ? '' : (name.length <= fit ? name : name.substring(0, fit - 2) + '..');\n"
  "  }\n"
  "  function zoom(z) {\n"
  "    var zx = num(z, 'data-x'), zw = num(z, 'data-w'), zd = num(z, 'data-d');\n"
  "    frames.forEach(function (g) {\n"
  "      var x = num(g, 'data-x'), w = num(g, 'data-w'), d = num(g, 'data-d');\n"
  "      if (d < zd) {\n"
  "        if (x <= zx + eps && x + w >= zx + zw - eps) {\n"
  "          g.style.display = ''; g.setAttribute('opacity', '0.6'); place(g, 0, 1);\n"
  "        } else { g.style.display = 'none'; }\n"
  "      } else if (x >= zx - eps && x + w <= zx + zw + eps) {\n"
  "        g.style.display = ''; g.removeAttribute('opacity'); place(g, (x - zx) / zw, w / zw);\n"
  "      } else { g.style.display = 'none'; }\n"
  "    });\n"
  "    if (reset) reset.style.display = zd > 0 ? '' : 'none';\n"
  "  }\n"
  "  frames.forEach(function (g) {\n"
  "    g.addEventListener('click', function (e) { zoom(g); e.stopPropagation(); });\n"
  "    g.addEventListener('mouseover', function () {\n"
  "      if (info) info.textContent = g.querySelector('title').textContent;\n"
  "    });\n"
  "    g.addEventListener('mouseout', function () { if (info) info.textContent = infoDefault; });\n"
  "  });\n"
  "  if (reset) reset.addEventListener('click', function () { zoom(frames[0]); });\n"
  "  svg.setAttribute('data-ready', '1');\n"
  "}\n";

typedef struct {
  int32_t node;    /* tree node, or -1 for a box of merged small frames */
  int32_t parent;  /* parent box index */
  int64_t x;       /* left edge, in metric units */
  int64_t value;
  int32_t depth;
  int32_t merged;  /* number of frames in a merged box */
} box_t;

typedef struct {
  box_t *v;
  size_t n, cap;
} boxes_t;

static int push_box(boxes_t *b, box_t box) {
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 1024;
    box_t *v = realloc(b->v, cap * sizeof *v);
    if (!v) return HQ_ENOMEM;
    b->v = v;
    b->cap = cap;
  }
  b->v[b->n++] = box;
  return HQ_OK;
}

/* Lay out every box at least min_value wide, parents before children (breadth first). */
static int layout(const hq__flame_t *fl, int64_t min_value, size_t limit, boxes_t *b) {
  const hq__tnode_t *nodes = fl->tree.nodes;
  int rc;
  b->n = 0;
  rc = push_box(b, (box_t){.node = 0, .parent = -1, .x = 0, .value = fl->total[0]});
  for (size_t i = 0; rc == HQ_OK && i < b->n; i++) {
    box_t parent = b->v[i];
    int64_t x = parent.x, small = 0;
    int32_t nsmall = 0;
    if (parent.node < 0) continue;
    for (int32_t c = nodes[parent.node].first_child; c >= 0 && rc == HQ_OK;
         c = nodes[c].next_sibling) {
      if (fl->total[c] <= 0) continue;
      if (fl->total[c] < min_value) {
        small += fl->total[c];
        nsmall++;
        continue;
      }
      rc = push_box(b, (box_t){.node = c, .parent = (int32_t)i, .x = x, .value = fl->total[c],
                               .depth = parent.depth + 1});
      x += fl->total[c];
    }
    if (rc == HQ_OK && nsmall > 0 && small >= min_value)
      rc = push_box(b, (box_t){.node = -1, .parent = (int32_t)i, .x = x, .value = small,
                               .depth = parent.depth + 1, .merged = nsmall});
    if (b->n > limit) return HQ_ERANGE;
  }
  return rc;
}

static uint32_t name_hash(const char *s) {
  uint32_t h = 2166136261u;
  /* Colour by function, so one function keeps its colour whatever line called it. */
  for (; *s && *s != ' ' && *s != '('; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

/* Python frames (docs/python.md) have a palette of their own in every metric: teal, apart from
 * the native frames' warm, blue, green and red ones. */
static void box_colour(int metric, const char *name, int merged, int python, char *buf,
                       size_t cap) {
  uint32_t h = name_hash(name);
  double v1 = (h & 0xff) / 255.0, v2 = ((h >> 8) & 0xff) / 255.0, v3 = ((h >> 16) & 0xff) / 255.0;
  int r, g, b;
  if (merged || name[0] == '[') { snprintf(buf, cap, "rgb(200,200,200)"); return; }
  if (strcmp(name, "all") == 0) { snprintf(buf, cap, "rgb(215,215,205)"); return; }
  if (python) {
    snprintf(buf, cap, "rgb(%d,%d,%d)", 20 + (int)(40 * v1), 150 + (int)(50 * v2),
             140 + (int)(40 * v3));
    return;
  }
  if (strncmp(name, "0x", 2) == 0 || (strstr(name, "+0x") && !strchr(name, '('))) {
    snprintf(buf, cap, "rgb(%d,%d,%d)", 150 + (int)(40 * v1), 150 + (int)(40 * v1),
             160 + (int)(40 * v1));
    return;
  }
  switch (metric) {
  case HQ_FLAME_LEAKED:  r = 200 + (int)(55 * v1); g = 50 + (int)(80 * v2); b = 80 + (int)(90 * v3); break;
  case HQ_FLAME_PEAK:    r = 40 + (int)(80 * v1); g = 110 + (int)(90 * v2); b = 200 + (int)(55 * v3); break;
  case HQ_FLAME_COUNT:   r = 60 + (int)(90 * v1); g = 170 + (int)(70 * v2); b = 60 + (int)(70 * v3); break;
  default:               r = 205 + (int)(50 * v3); g = (int)(230 * v1); b = (int)(55 * v2); break;
  }
  snprintf(buf, cap, "rgb(%d,%d,%d)", r, g, b);
}

static void value_text(const hq__flame_t *fl, int64_t value, char *buf, size_t cap) {
  char h[32];
  double pct = fl->total[0] > 0 ? 100.0 * (double)value / (double)fl->total[0] : 0;
  if (fl->metric == HQ_FLAME_COUNT)
    snprintf(buf, cap, "%" PRId64 " calls (%.2f%%)", value, pct);
  else
    snprintf(buf, cap, "%s, %" PRId64 " bytes (%.2f%%)", hq__fmt_bytes((double)value, h, sizeof h),
             value, pct);
}

static void fit_label(const char *name, double px, char *buf, size_t cap) {
  int fit = (int)floor((px - 6) / CHAR_W);
  size_t len = strlen(name);
  if (fit < 3) { buf[0] = '\0'; return; }
  if (len <= (size_t)fit) { snprintf(buf, cap, "%s", name); return; }
  snprintf(buf, cap, "%.*s..", fit - 2, name);
}

int hq__flame_svg(const hq__flame_t *fl, FILE *out, int standalone) {
  boxes_t b = {0};
  double frac = fl->min_fraction, pw = fl->width - 2 * MARGIN_X;
  int64_t total = fl->total[0];
  int32_t max_depth = 0;
  int height, rc;
  char vt[128];

  /* Merge more aggressively until the picture fits the box budget. */
  for (;;) {
    int64_t min_value = (int64_t)ceil((double)total * frac);
    rc = layout(fl, min_value > 0 ? min_value : 1, (size_t)fl->max_nodes, &b);
    if (rc != HQ_ERANGE) break;
    frac *= 2;
  }
  if (rc) goto out;
  for (size_t i = 0; i < b.n; i++)
    if (b.v[i].depth > max_depth) max_depth = b.v[i].depth;
  height = TOP_H + (max_depth + 1) * ROW_H + BOTTOM_H;
  value_text(fl, total, vt, sizeof vt);

  if (standalone) fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
  fprintf(out,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"hq-flame\" version=\"1.1\" "
          "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" data-x0=\"%d\" data-pw=\"%.2f\" "
          "font-family=\"Verdana, DejaVu Sans, sans-serif\" font-size=\"12\">\n",
          fl->width, height, fl->width, height, MARGIN_X, pw);
  fprintf(out, "<style>.f{cursor:pointer}.f:hover rect{stroke:#000;stroke-width:0.5}"
               ".hq-reset{cursor:pointer}</style>\n");
  fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f8f8f2\"/>\n", fl->width,
          height);
  fprintf(out, "<text x=\"%d\" y=\"24\" font-size=\"17\" text-anchor=\"middle\">", fl->width / 2);
  hq__fmt_xml(out, fl->title);
  fprintf(out, "</text>\n<text x=\"%d\" y=\"44\" fill=\"#555\" text-anchor=\"middle\">total ",
          fl->width / 2);
  hq__fmt_xml(out, vt);
  fprintf(out, "; %zu frames drawn; click a frame to zoom, hover for figures</text>\n", b.n);
  fprintf(out, "<text class=\"hq-reset\" x=\"%d\" y=\"24\" fill=\"#06c\" style=\"display:none\">"
               "[reset zoom]</text>\n", MARGIN_X);
  if (total <= 0) {
    fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">no %s %s recorded</text>\n",
            fl->width / 2, TOP_H + ROW_H, fl->kind_class,
            fl->metric == HQ_FLAME_LEAKED ? "leaks" : "allocations");
  }
  for (size_t i = 0; total > 0 && i < b.n; i++) {
    const box_t *bx = &b.v[i];
    char name[1100], colour[48], label[1100], vtext[128];
    int python;
    double x = (double)bx->x / (double)total, w = (double)bx->value / (double)total;
    double px = w * pw, y = TOP_H + (double)(max_depth - bx->depth) * ROW_H;
    if (bx->node < 0)
      snprintf(name, sizeof name, "[%d small frames]", bx->merged);
    else
      snprintf(name, sizeof name, "%s", bx->node == 0 ? "all"
                                      : hq__sitemap_label(fl->map, fl->tree.nodes[bx->node].label));
    python = bx->node > 0 && hq__sitemap_label_is_python(fl->map, fl->tree.nodes[bx->node].label);
    box_colour(fl->metric, name, bx->node < 0, python, colour, sizeof colour);
    value_text(fl, bx->value, vtext, sizeof vtext);
    fit_label(name, px, label, sizeof label);
    fprintf(out, "<g class=\"f%s\" data-x=\"%.9g\" data-w=\"%.9g\" data-d=\"%d\" data-n=\"",
            python ? " py" : "", x, w, bx->depth);
    hq__fmt_xml(out, name);
    fputs("\"><title>", out);
    hq__fmt_xml(out, name);
    fputs(": ", out);
    hq__fmt_xml(out, vtext);
    fprintf(out, "</title><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" fill=\"%s\" "
                 "rx=\"2\"/><text x=\"%.2f\" y=\"%.1f\">",
            MARGIN_X + x * pw, y, px > 0.6 ? px - 0.5 : 0.1, ROW_H - 1, colour,
            MARGIN_X + x * pw + 3, y + ROW_H - 4);
    hq__fmt_xml(out, label);
    fputs("</text></g>\n", out);
  }
  fprintf(out, "<text class=\"hq-info\" x=\"%d\" y=\"%d\" fill=\"#333\"> </text>\n", MARGIN_X,
          height - 9);
  if (standalone) {
    fprintf(out, "<script type=\"text/ecmascript\"><![CDATA[\n%s"
                 "hqFlameInit(document.documentElement);\n]]></script>\n",
            hq__flame_script);
  }
  fputs("</svg>\n", out);
  rc = ferror(out) ? HQ_EIO : HQ_OK;
out:
  free(b.v);
  return rc;
}

int hq_flame_write_svg(hq_db_t *db, const hq_flame_opts_t *opts, FILE *out) {
  hq__flame_t *fl = NULL;
  int rc;
  if (!HQ_DB_OK(db) || !out) return HQ_MISUSE_BKPT;
  rc = hq__flame_build(db, opts, &fl);
  if (rc) return rc;
  rc = hq__flame_svg(fl, out, 1);
  hq__flame_free(fl);
  return rc;
}

/* A child always has a larger index than its parent: one backward pass sums subtrees. */
void hq__flame_set_metric(hq__flame_t *fl, int metric, const char *title) {
  if (metric_column(metric) < 0) return;
  fl->metric = metric;
  fl->column = metric_column(metric);
  if (title) snprintf(fl->title, sizeof fl->title, "%s", title);
  memset(fl->total, 0, fl->tree.n * sizeof *fl->total);
  for (size_t i = fl->tree.n; i-- > 0;) {
    fl->total[i] += fl->tree.self[i * HQ__V_N + (size_t)fl->column];
    if (i > 0) fl->total[fl->tree.nodes[i].parent] += fl->total[i];
  }
}

const hq__tree_t *hq__flame_tree(const hq__flame_t *fl) {
  return &fl->tree;
}
