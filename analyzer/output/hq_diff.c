/*
 * hq_diff.c: `heapql diff`: two runs site by site, sites matched by the names of their frames,
 * never by addresses; and the headline figures of one run as JSON (shared with compare).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/output_int.h"

/* ---- headline figures ---- */

static void json_time(FILE *out, int64_t ns) {
  if (ns < 0) fputs("null", out);
  else fprintf(out, "%.9f", (double)ns / 1e9);
}

void hq__headline_json(FILE *out, const hq__headline_t *h) {
  fputs("{\"program\": ", out);
  hq__fmt_json_string(out, h->program);
  fprintf(out, ", \"processes\": %" PRId64 ", \"duration_s\": ", h->processes);
  json_time(out, h->duration_ns);
  fprintf(out, ", \"allocations\": {\"count\": %" PRId64 ", \"bytes\": %" PRId64 "}"
               ", \"frees\": {\"count\": %" PRId64 "}, \"peak\": {\"heap_bytes\": %" PRId64
               ", \"heap_time_s\": ",
          h->alloc_count, h->alloc_bytes, h->free_count, h->peak_heap_bytes);
  json_time(out, h->peak_heap_t);
  fprintf(out, ", \"device_bytes\": %" PRId64 ", \"rss_bytes\": %" PRId64 "}"
               ", \"leaks\": {\"blocks\": %" PRId64 ", \"bytes\": %" PRId64 "}"
               ", \"temporary\": {\"count\": %" PRId64 "}}",
          h->peak_device_bytes, h->peak_rss_bytes, h->leaked_blocks, h->leaked_bytes,
          h->temporary_count);
}

/* ---- diff ---- */

typedef struct {
  char *key;            /* frames root first with their lines, ';'-joined: matched first */
  char *fkey;           /* function names only: matched for the rest */
  char *shown;          /* leaf first, with lines, from the run that has it (NEW preferred) */
  int64_t v[2][HQ__V_N];/* [0] base, [1] new */
  int sides;            /* 1 base, 2 new, 3 both */
  int gone;             /* merged into another site by its function names */
} site_t;

typedef struct {
  site_t *v;
  size_t n, cap;
  size_t *slot;         /* hash of key -> index + 1 */
  size_t slot_cap;
} sites_t;

static int sites_grow(sites_t *s) {
  size_t cap = s->slot_cap ? s->slot_cap * 2 : 1024;
  size_t *slot = calloc(cap, sizeof *slot);
  if (!slot) return HQ_ENOMEM;
  for (size_t i = 0; i < s->n; i++) {
    size_t j = hq__sites_hash(s->v[i].key) & (cap - 1);
    while (slot[j]) j = (j + 1) & (cap - 1);
    slot[j] = i + 1;
  }
  free(s->slot);
  s->slot = slot;
  s->slot_cap = cap;
  return HQ_OK;
}

/* The site named key (taking ownership of key), added if new; NULL when out of memory. */
static site_t *site_get(sites_t *s, char *key) {
  size_t j;
  if ((s->n + 1) * 2 > s->slot_cap && sites_grow(s)) { free(key); return NULL; }
  j = hq__sites_hash(key) & (s->slot_cap - 1);
  while (s->slot[j]) {
    site_t *e = &s->v[s->slot[j] - 1];
    if (strcmp(e->key, key) == 0) { free(key); return e; }
    j = (j + 1) & (s->slot_cap - 1);
  }
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256;
    site_t *v = realloc(s->v, cap * sizeof *v);
    if (!v) { free(key); return NULL; }
    s->v = v;
    s->cap = cap;
  }
  memset(&s->v[s->n], 0, sizeof s->v[s->n]);
  s->v[s->n].key = key;
  s->slot[j] = s->n + 1;
  return &s->v[s->n++];
}

static void sites_free(sites_t *s) {
  for (size_t i = 0; i < s->n; i++) {
    free(s->v[i].key);
    free(s->v[i].fkey);
    free(s->v[i].shown);
  }
  free(s->v);
  free(s->slot);
}

/* Join the names from the root down to node with sep (root_first) or from node up. */
static char *path_text(const hq__tree_t *t, int32_t node, int root_first, const char *sep,
                       int max_frames) {
  size_t len = 0, cap = 256, seplen = strlen(sep);
  int32_t chain[512];
  int n = 0, shown;
  char *buf = malloc(cap);
  if (!buf) return NULL;
  for (int32_t p = node; p > 0 && n < 512; p = t->nodes[p].parent) chain[n++] = p;
  shown = max_frames > 0 && n > max_frames ? max_frames : n;
  buf[0] = '\0';
  for (int i = 0; i < shown; i++) {
    int32_t p = root_first ? chain[n - 1 - i] : chain[i];
    const char *name = hq__sitemap_label(t->map, t->nodes[p].label);
    size_t need = len + strlen(name) + seplen + 8;
    if (need > cap) {
      char *b;
      cap = need * 2;
      b = realloc(buf, cap);
      if (!b) { free(buf); return NULL; }
      buf = b;
    }
    if (i) { memcpy(buf + len, sep, seplen); len += seplen; }
    memcpy(buf + len, name, strlen(name));
    len += strlen(name);
    buf[len] = '\0';
  }
  if (shown < n) {
    char *b = realloc(buf, len + seplen + 8);
    if (!b) { free(buf); return NULL; }
    buf = b;
    snprintf(buf + len, seplen + 8, "%s...", sep);
  }
  return buf;
}

/* Add one run's sites (side 0 base, 1 new) to s: one per distinct chain of frames with their
 * lines, keyed by it, with the chain of function names kept for the second pass. */
static int collect(hq_db_t *db, const char *kind_class, int side, sites_t *s) {
  hq__sitemap_t *map = NULL;
  hq__tree_t keys, shown;
  int rc, have_keys = 0, have_shown = 0;

  rc = hq__sitemap_load(db, &map);
  if (rc) goto out;
  rc = hq__tree_init(&keys, map, HQ__LABEL_KEY);
  if (rc) goto out;
  have_keys = 1;
  rc = hq__tree_init(&shown, map, HQ__LABEL_DISPLAY);
  if (rc) goto out;
  have_shown = 1;
  rc = hq__sites_scan(db, &shown, kind_class, 0, 1);
  if (rc) goto out;
  for (size_t i = 1; i < shown.n; i++) {
    const int64_t *v = shown.self + i * HQ__V_N;
    char *key;
    site_t *site;
    int32_t knode;
    if (v[HQ__V_COUNT] == 0) continue;
    key = path_text(&shown, (int32_t)i, 1, ";", 0);
    if (!key) { rc = HQ_ENOMEM; goto out; }
    site = site_get(s, key);
    if (!site) { rc = HQ_ENOMEM; goto out; }
    for (int c = 0; c < HQ__V_N; c++) site->v[side][c] += v[c];
    site->sides |= 1 << side;
    if (!site->fkey) {
      knode = hq__tree_stack_node(&keys, shown.nodes[i].rep_stack);
      if (knode < 0) { rc = HQ_ENOMEM; goto out; }
      site->fkey = path_text(&keys, knode, 1, ";", 0);
      if (!site->fkey) { rc = HQ_ENOMEM; goto out; }
    }
    if (side == 1 || !site->shown) {
      free(site->shown);
      site->shown = path_text(&shown, (int32_t)i, 0, " <- ", 6);
      if (!site->shown) { rc = HQ_ENOMEM; goto out; }
    }
  }
out:
  if (have_keys) hq__tree_free(&keys);
  if (have_shown) hq__tree_free(&shown);
  hq__sitemap_free(map);
  return rc;
}

static int cmp_fkey(const void *a, const void *b) {
  const site_t *x = *(site_t *const *)a, *y = *(site_t *const *)b;
  int c = strcmp(x->fkey, y->fkey);
  return c ? c : strcmp(x->key, y->key);
}

/* Second pass: a site only BASE has and a site only NEW has, with the same chain of function
 * names, are the same site (rebuilt, moved by a few lines, its file renamed).  Each is matched
 * at most once, in key order, so a new leak beside an old one in the same function stays new. */
static int match_by_functions(sites_t *s) {
  site_t **base = malloc((s->n + 1) * sizeof *base), **fresh = malloc((s->n + 1) * sizeof *fresh);
  size_t nb = 0, nf = 0, b = 0;
  if (!base || !fresh) {
    free(base);
    free(fresh);
    return HQ_ENOMEM;
  }
  for (size_t i = 0; i < s->n; i++) {
    if (s->v[i].sides == 1) base[nb++] = &s->v[i];
    else if (s->v[i].sides == 2) fresh[nf++] = &s->v[i];
  }
  qsort(base, nb, sizeof *base, cmp_fkey);
  qsort(fresh, nf, sizeof *fresh, cmp_fkey);
  for (size_t f = 0; f < nf && b < nb;) { /* merge two sorted lists */
    int c = strcmp(base[b]->fkey, fresh[f]->fkey);
    if (c < 0) { b++; continue; }
    if (c > 0) { f++; continue; }
    for (int col = 0; col < HQ__V_N; col++) base[b]->v[1][col] += fresh[f]->v[1][col];
    base[b]->sides = 3;
    free(base[b]->shown);
    base[b]->shown = fresh[f]->shown; /* NEW's lines */
    fresh[f]->shown = NULL;
    fresh[f]->gone = 1;
    b++;
    f++;
  }
  free(base);
  free(fresh);
  return HQ_OK;
}

enum { L_NEW_LEAKS, L_GROWN_LEAKS, L_FIXED_LEAKS, L_GROWN_PEAK, L_CHANGED_COUNT, L_N };

static const struct {
  const char *title, *json;
  int column;
} lists[L_N] = {
  {"new leaks", "new_leaks", HQ__V_LEAKED_BYTES},
  {"grown leaks", "grown_leaks", HQ__V_LEAKED_BYTES},
  {"fixed leaks", "fixed_leaks", HQ__V_LEAKED_BYTES},
  {"grown peak contributors", "grown_peak", HQ__V_PEAK_BYTES},
  {"changed allocation counts", "changed_counts", HQ__V_COUNT},
};

static int in_list(const site_t *e, int list) {
  const int64_t *b = e->v[0], *n = e->v[1];
  if (e->gone) return 0;
  switch (list) {
  case L_NEW_LEAKS: return n[HQ__V_LEAKED_BLOCKS] > 0 && b[HQ__V_LEAKED_BLOCKS] == 0;
  case L_GROWN_LEAKS:
    return n[HQ__V_LEAKED_BLOCKS] > 0 && b[HQ__V_LEAKED_BLOCKS] > 0 &&
           n[HQ__V_LEAKED_BYTES] > b[HQ__V_LEAKED_BYTES];
  case L_FIXED_LEAKS: return b[HQ__V_LEAKED_BLOCKS] > 0 && n[HQ__V_LEAKED_BLOCKS] == 0;
  case L_GROWN_PEAK: return n[HQ__V_PEAK_BYTES] > b[HQ__V_PEAK_BYTES];
  case L_CHANGED_COUNT: return n[HQ__V_COUNT] != b[HQ__V_COUNT];
  default: return 0;
  }
}

static int cmp_change(const void *a, const void *b, void *ctx) {
  const site_t *x = *(site_t *const *)a, *y = *(site_t *const *)b;
  int sort_list_column = *(const int *)ctx;
  int64_t dx = x->v[1][sort_list_column] - x->v[0][sort_list_column];
  int64_t dy = y->v[1][sort_list_column] - y->v[0][sort_list_column];
  int64_t ax = dx < 0 ? -dx : dx, ay = dy < 0 ? -dy : dy;
  if (ax != ay) return ax > ay ? -1 : 1;
  return strcmp(x->key, y->key);
}

static void pct_text(int64_t base, int64_t now, char *buf, size_t cap) {
  if (base == 0) snprintf(buf, cap, now == 0 ? "" : "(new)");
  else snprintf(buf, cap, "(%+.1f%%)", 100.0 * (double)(now - base) / (double)base);
}

static void text_row(FILE *out, const char *label, int64_t b, int64_t n, int bytes) {
  char x[32], y[32], d[40], p[32];
  if (bytes) {
    hq__fmt_bytes((double)b, x, sizeof x);
    hq__fmt_bytes((double)n, y, sizeof y);
    hq__fmt_bytes((double)(n - b), d, sizeof d);
    if (n - b > 0) { memmove(d + 1, d, strlen(d) + 1); d[0] = '+'; }
  } else {
    snprintf(x, sizeof x, "%" PRId64, b);
    snprintf(y, sizeof y, "%" PRId64, n);
    snprintf(d, sizeof d, "%+" PRId64, n - b);
  }
  pct_text(b, n, p, sizeof p);
  fprintf(out, "  %-22s %14s %14s %14s %s\n", label, x, y, d, p);
}

static void text_entry(FILE *out, const site_t *e, int list) {
  const int64_t *b = e->v[0], *n = e->v[1];
  char x[32], y[32];
  switch (list) {
  case L_NEW_LEAKS:
    fprintf(out, "  +%s in %" PRId64 " block%s\n", hq__fmt_bytes((double)n[HQ__V_LEAKED_BYTES], x, sizeof x),
            n[HQ__V_LEAKED_BLOCKS], n[HQ__V_LEAKED_BLOCKS] == 1 ? "" : "s");
    break;
  case L_GROWN_LEAKS: case L_FIXED_LEAKS:
    fprintf(out, "  %s -> %s (%" PRId64 " -> %" PRId64 " blocks)\n",
            hq__fmt_bytes((double)b[HQ__V_LEAKED_BYTES], x, sizeof x),
            hq__fmt_bytes((double)n[HQ__V_LEAKED_BYTES], y, sizeof y), b[HQ__V_LEAKED_BLOCKS],
            n[HQ__V_LEAKED_BLOCKS]);
    break;
  case L_GROWN_PEAK:
    fprintf(out, "  %s -> %s live at peak\n", hq__fmt_bytes((double)b[HQ__V_PEAK_BYTES], x, sizeof x),
            hq__fmt_bytes((double)n[HQ__V_PEAK_BYTES], y, sizeof y));
    break;
  default:
    fprintf(out, "  %+" PRId64 " calls (%" PRId64 " -> %" PRId64 ")\n",
            n[HQ__V_COUNT] - b[HQ__V_COUNT], b[HQ__V_COUNT], n[HQ__V_COUNT]);
    break;
  }
  fprintf(out, "      %s\n", e->shown ? e->shown : e->key);
}

static void json_entry(FILE *out, const site_t *e) {
  static const char *const names[HQ__V_N] = {"count", "bytes", "leaked_blocks", "leaked_bytes",
                                             "peak_bytes"};
  fputs("{\"site\": ", out);
  hq__fmt_json_string(out, e->shown ? e->shown : e->key);
  fputs(", \"key\": ", out);
  hq__fmt_json_string(out, e->key);
  for (int side = 0; side < 2; side++) {
    fprintf(out, ", \"%s\": {", side ? "new" : "base");
    for (int c = 0; c < HQ__V_N; c++)
      fprintf(out, "%s\"%s\": %" PRId64, c ? ", " : "", names[c], e->v[side][c]);
    fputc('}', out);
  }
  fputc('}', out);
}

int hq_diff(hq_db_t *base, hq_db_t *new_db, const hq_diff_opts_t *opts, FILE *out,
            hq_diff_result_t *out_result) {
  hq_diff_opts_t defaults = {0};
  hq_diff_result_t r;
  hq__headline_t hb, hn;
  sites_t s = {0};
  site_t **sel = NULL;
  size_t limit;
  int rc;
  const char *cls;

  memset(&r, 0, sizeof r);
  if (!opts) opts = &defaults;
  cls = opts->kind_class ? opts->kind_class : "heap";
  if (!HQ_DB_OK(base) || !HQ_DB_OK(new_db) || !out) return HQ_MISUSE_BKPT;
  if (!hq__sites_class_ok(cls) || (opts->format != HQ_FORMAT_TEXT && opts->format != HQ_FORMAT_JSON))
    return HQ_EINVAL;
  limit = opts->limit == 0 ? 20 : opts->limit < 0 ? SIZE_MAX : (size_t)opts->limit;
  rc = hq__headline_load(base, &hb);
  if (!rc) rc = hq__headline_load(new_db, &hn);
  if (!rc) rc = collect(base, cls, 0, &s);
  if (!rc) rc = collect(new_db, cls, 1, &s);
  if (!rc) rc = match_by_functions(&s);
  if (rc) goto out;
  sel = malloc((s.n + 1) * sizeof *sel);
  if (!sel) { rc = HQ_ENOMEM; goto out; }

  for (size_t i = 0; i < s.n; i++) {
    const site_t *e = &s.v[i];
    if (e->gone) continue;
    r.leaked_bytes_base += e->v[0][HQ__V_LEAKED_BYTES];
    r.leaked_bytes_new += e->v[1][HQ__V_LEAKED_BYTES];
    r.peak_bytes_base += e->v[0][HQ__V_PEAK_BYTES];
    r.peak_bytes_new += e->v[1][HQ__V_PEAK_BYTES];
    if (in_list(e, L_NEW_LEAKS)) { r.new_leak_sites++; r.new_leak_bytes += (uint64_t)e->v[1][HQ__V_LEAKED_BYTES]; }
    if (in_list(e, L_GROWN_LEAKS)) r.grown_leak_sites++;
    if (in_list(e, L_FIXED_LEAKS)) r.fixed_leak_sites++;
    if (in_list(e, L_GROWN_PEAK)) r.grown_peak_sites++;
    if (in_list(e, L_CHANGED_COUNT)) r.changed_count_sites++;
  }
  if ((opts->fail_on & HQ_DIFF_FAIL_NEW_LEAKS) && r.new_leak_sites > 0)
    r.failed |= HQ_DIFF_FAIL_NEW_LEAKS;
  if ((opts->fail_on & HQ_DIFF_FAIL_LEAK_GROWTH) && r.leaked_bytes_new > r.leaked_bytes_base)
    r.failed |= HQ_DIFF_FAIL_LEAK_GROWTH;
  if ((opts->fail_on & HQ_DIFF_FAIL_PEAK_GROWTH) &&
      (double)r.peak_bytes_new > (double)r.peak_bytes_base * (1 + opts->peak_growth_pct / 100))
    r.failed |= HQ_DIFF_FAIL_PEAK_GROWTH;

  if (opts->format == HQ_FORMAT_JSON) {
    fputs("{\n  \"class\": ", out);
    hq__fmt_json_string(out, cls);
    fputs(",\n  \"base\": {\"database\": ", out);
    hq__fmt_json_string(out, hq_db_path(base));
    fputs(", \"headline\": ", out);
    hq__headline_json(out, &hb);
    fputs("},\n  \"new\": {\"database\": ", out);
    hq__fmt_json_string(out, hq_db_path(new_db));
    fputs(", \"headline\": ", out);
    hq__headline_json(out, &hn);
    fprintf(out, "},\n  \"totals\": {\"leaked_bytes\": {\"base\": %" PRId64 ", \"new\": %" PRId64
                 "}, \"peak_bytes\": {\"base\": %" PRId64 ", \"new\": %" PRId64 "}}",
            r.leaked_bytes_base, r.leaked_bytes_new, r.peak_bytes_base, r.peak_bytes_new);
  } else {
    fprintf(out, "heapql diff (%s allocations)\n  base: %s (%s)\n  new:  %s (%s)\n\n", cls,
            hq_db_path(base), hb.program[0] ? hb.program : "?", hq_db_path(new_db),
            hn.program[0] ? hn.program : "?");
    fprintf(out, "  %-22s %14s %14s %14s\n", "", "base", "new", "change");
    text_row(out, "heap allocations", hb.alloc_count, hn.alloc_count, 0);
    text_row(out, "heap bytes allocated", hb.alloc_bytes, hn.alloc_bytes, 1);
    text_row(out, "frees", hb.free_count, hn.free_count, 0);
    text_row(out, "peak heap", hb.peak_heap_bytes, hn.peak_heap_bytes, 1);
    text_row(out, "peak RSS", hb.peak_rss_bytes, hn.peak_rss_bytes, 1);
    text_row(out, "leaked blocks", hb.leaked_blocks, hn.leaked_blocks, 0);
    text_row(out, "leaked bytes", hb.leaked_bytes, hn.leaked_bytes, 1);
    text_row(out, "temporary allocations", hb.temporary_count, hn.temporary_count, 0);
  }

  for (int l = 0; l < L_N; l++) {
    size_t n = 0;
    for (size_t i = 0; i < s.n; i++)
      if (in_list(&s.v[i], l)) sel[n++] = &s.v[i];
    qsort_r(sel, n, sizeof *sel, cmp_change, (void *)&lists[l].column);
    if (opts->format == HQ_FORMAT_JSON) {
      fprintf(out, ",\n  \"%s\": [", lists[l].json);
      for (size_t i = 0; i < n && i < limit; i++) {
        fputs(i ? ",\n    " : "\n    ", out);
        json_entry(out, sel[i]);
      }
      fputs(n ? "\n  ]" : "]", out);
    } else {
      fprintf(out, "\n%s: %zu site%s\n", lists[l].title, n, n == 1 ? "" : "s");
      for (size_t i = 0; i < n && i < limit; i++) text_entry(out, sel[i], l);
      if (n > limit) fprintf(out, "  ... %zu more (--limit)\n", n - limit);
    }
  }

  {
    static const struct { int bit; const char *name; } conds[] = {
      {HQ_DIFF_FAIL_NEW_LEAKS, "new-leaks"},
      {HQ_DIFF_FAIL_LEAK_GROWTH, "leak-growth"},
      {HQ_DIFF_FAIL_PEAK_GROWTH, "peak-growth"},
    };
    int first = 1;
    if (opts->format == HQ_FORMAT_JSON) fputs(",\n  \"fail_on\": [", out);
    else if (opts->fail_on) fputc('\n', out);
    for (size_t c = 0; c < sizeof conds / sizeof conds[0]; c++) {
      char detail[160];
      int held = (r.failed & conds[c].bit) != 0;
      if (!(opts->fail_on & conds[c].bit)) continue;
      switch (conds[c].bit) {
      case HQ_DIFF_FAIL_NEW_LEAKS:
        snprintf(detail, sizeof detail, "%" PRIu64 " new leak site%s", r.new_leak_sites,
                 r.new_leak_sites == 1 ? "" : "s");
        break;
      case HQ_DIFF_FAIL_LEAK_GROWTH:
        snprintf(detail, sizeof detail, "leaked bytes %" PRId64 " -> %" PRId64,
                 r.leaked_bytes_base, r.leaked_bytes_new);
        break;
      default:
        snprintf(detail, sizeof detail, "peak bytes %" PRId64 " -> %" PRId64 ", limit +%g%%",
                 r.peak_bytes_base, r.peak_bytes_new, opts->peak_growth_pct);
        break;
      }
      if (opts->format == HQ_FORMAT_JSON) {
        fprintf(out, "%s{\"condition\": \"%s\", \"failed\": %s, \"detail\": ", first ? "" : ", ",
                conds[c].name, held ? "true" : "false");
        hq__fmt_json_string(out, detail);
        fputc('}', out);
      } else {
        fprintf(out, "fail-on %s: %s (%s)\n", conds[c].name, held ? "FAILED" : "ok", detail);
      }
      first = 0;
    }
    if (opts->format == HQ_FORMAT_JSON)
      fprintf(out, "],\n  \"failed\": %s\n}\n", r.failed ? "true" : "false");
  }
  rc = ferror(out) ? HQ_EIO : HQ_OK;
out:
  free(sel);
  sites_free(&s);
  if (out_result) *out_result = r;
  return rc;
}
