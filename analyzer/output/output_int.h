/*
 * output_int.h: the writers (hq__ prefix), grouped by defining file: text, JSON, CSV, SVG and
 * HTML renderings of what the loaders (analyzer/query/) compute.  Not installed; not public.
 */
#ifndef HQ_OUTPUT_INT_H
#define HQ_OUTPUT_INT_H

#include "query/query_int.h"

/* ---- hq_site_print.c ---- */
/* A site as text: its location (C++ names shortened, paths relative to root), "[stale]" when its
 * module changed since the run, a newline, then one line per caller (share, location) indented
 * by `indent` spaces. */
void hq__site_text(FILE *out, const hq_site_t *s, const char *root, int indent);
/* A site (with its location) as a JSON object. */
void hq__site_json(hq__jw_t *w, const char *key, const hq_site_t *s);
/* A site with its representative stack: to w as a JSON object when w is not NULL, else to out as
 * the line value_text, the site with its callers, and the stack's frames, indented (names
 * shortened, paths relative to root). */
int  hq__site_with_stack(hq_db_t *db, const hq_site_t *s, const char *value_text, const char *root,
                         hq__jw_t *w, FILE *out);

/* ---- hq_failure_print.c: device allocation failures in the report ---- */
void hq__failures_text(FILE *out, const hq_report_t *r);   /* nothing when there are none */
void hq__failures_json(hq__jw_t *w, const hq_report_t *r); /* nothing when there are none */

/* ---- hq_report_print.c ---- */
/* The "peak" object of the report JSON (also printed by `heapql peak`). */
void hq__peak_json(hq__jw_t *w, const hq_report_t *r);
/* hq_diff.c: a run's headline figures as one JSON object (diff's and compare's "headline"). */
void hq__headline_json(FILE *out, const hq__headline_t *h);

/* ---- hq_html.c: the HTML report ---- */
int  hq__report_html(hq_db_t *db, FILE *out, const void *report);

/* ---- hq_flame.c ---- */
typedef struct hq__flame_s hq__flame_t;
int  hq__flame_build(hq_db_t *db, const hq_flame_opts_t *opts, hq__flame_t **out_flame);
/* standalone: 1 = an SVG document with its own script; 0 = an <svg> element for an HTML page
 * whose script calls hqFlameInit(svg) (hq__flame_script). */
int  hq__flame_svg(const hq__flame_t *fl, FILE *out, int standalone);
void hq__flame_free(hq__flame_t *fl);
/* Switch the metric of a flame built with HQ_FLAME_PEAK (which holds every column); title may
 * be NULL (keeps the current one). */
void hq__flame_set_metric(hq__flame_t *fl, int metric, const char *title);
const hq__tree_t *hq__flame_tree(const hq__flame_t *fl);
extern const char hq__flame_script[];

/* ---- hq_timeline.c ---- */
int  hq__timeline_svg(hq_db_t *db, const hq_timeline_opts_t *opts, FILE *out, int standalone);

#endif /* HQ_OUTPUT_INT_H */
