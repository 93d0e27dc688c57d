/*
 * hq_site_print.c: a site as a JSON object, and a site with its whole stack (text or JSON): the
 * pieces `top`, `peak`, `leaks` and the report print.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>

#include "output/output_int.h"

/* The figures of a site, in the order every JSON output writes them. */
static const struct { const char *key; size_t offset; } site_figures[] = {
  {"allocations", offsetof(hq_site_t, allocations)}, {"bytes", offsetof(hq_site_t, bytes)},
  {"frees", offsetof(hq_site_t, frees)}, {"reallocs", offsetof(hq_site_t, reallocs)},
  {"realloced", offsetof(hq_site_t, realloced)},
  {"leaked_blocks", offsetof(hq_site_t, leaked_blocks)},
  {"leaked_bytes", offsetof(hq_site_t, leaked_bytes)},
  {"temporary", offsetof(hq_site_t, temporary)}, {"max_size", offsetof(hq_site_t, max_size)},
  {"peak_blocks", offsetof(hq_site_t, peak_blocks)}, {"peak_bytes", offsetof(hq_site_t, peak_bytes)},
};

/* The site's figures, as members of the object being written. */
static void site_members(hq__jw_t *w, const hq_site_t *s) {
  if (s->stack_id >= 0) hq__jw_i64(w, "stack_id", s->stack_id);
  else hq__jw_null(w, "stack_id");
  hq__jw_str(w, "class", hq_class_name(s->cls));
  hq__jw_str(w, "location", s->location);
  hq__jw_str(w, "function", s->function);
  hq__jw_str(w, "file", s->file);
  if (s->file && s->line > 0) hq__jw_i64(w, "line", s->line);
  else hq__jw_null(w, "line");
  hq__jw_str(w, "module", s->module);
  if (s->module) hq__jw_u64(w, "offset", s->offset);
  else hq__jw_null(w, "offset");
  hq__jw_bool(w, "stale", s->stale);
  hq__jw_u64(w, "stacks", s->stacks);
  for (size_t i = 0; i < HQ_ARRAY_LEN(site_figures); i++)
    hq__jw_u64(w, site_figures[i].key,
               *(const uint64_t *)(const void *)((const char *)s + site_figures[i].offset));
  hq__jw_array(w, "callers");
  for (size_t i = 0; i < s->n_callers; i++) {
    hq__jw_object(w, NULL);
    hq__jw_str(w, "location", s->callers[i].location);
    hq__jw_u64(w, "value", s->callers[i].value);
    hq__jw_fixed(w, "share", s->callers[i].share, 4);
    hq__jw_end_object(w);
  }
  hq__jw_end_array(w);
}

void hq__site_text(FILE *out, const hq_site_t *s, const char *root, int indent) {
  char buf[2048];
  hq__fmt_short(s->location, root, buf, sizeof buf);
  fprintf(out, "%s%s\n", buf, s->stale ? " [stale]" : "");
  for (size_t i = 0; i < s->n_callers; i++) {
    hq__fmt_short(s->callers[i].location, root, buf, sizeof buf);
    fprintf(out, "%*s%5.1f%%  <- %s\n", indent, "", 100.0 * s->callers[i].share, buf);
  }
}

void hq__site_json(hq__jw_t *w, const char *key, const hq_site_t *s) {
  hq__jw_object(w, key);
  site_members(w, s);
  hq__jw_end_object(w);
}

static void frames_json(hq__jw_t *w, const hq_frame_t *f, size_t n) {
  hq__jw_array(w, "frames");
  for (size_t i = 0; i < n; i++) {
    hq__jw_object(w, NULL);
    hq__jw_u64(w, "ip", f[i].ip);
    hq__jw_str(w, "function", f[i].function);
    hq__jw_str(w, "file", f[i].file);
    if (f[i].file) hq__jw_i64(w, "line", f[i].line);
    else hq__jw_null(w, "line");
    hq__jw_str(w, "module", f[i].module);
    if (f[i].module) hq__jw_u64(w, "offset", f[i].offset);
    else hq__jw_null(w, "offset");
    hq__jw_bool(w, "inlined", f[i].inlined);
    hq__jw_bool(w, "stale", f[i].stale);
    hq__jw_end_object(w);
  }
  hq__jw_end_array(w);
}

/* A site with its whole stack: text (indented frames) or a JSON object with "frames". */
int hq__site_with_stack(hq_db_t *db, const hq_site_t *s, const char *value_text, const char *root,
                        hq__jw_t *w, FILE *out) {
  hq_frame_t *frames = NULL;
  size_t n = 0;
  int rc = s->stack_id >= 0 ? hq_stack_frames(db, s->stack_id, &frames, &n) : HQ_OK;
  if (rc) return rc;
  if (w) {
    hq__jw_object(w, NULL);
    site_members(w, s);
    frames_json(w, frames, n);
    hq__jw_end_object(w);
  } else {
    char buf[2048];
    fprintf(out, "%s\n    site: ", value_text);
    hq__site_text(out, s, root, 10);
    if (n) fprintf(out, "    the stack with the most%s:\n",
                   s->stacks > 1 ? " (of the site's stacks)" : "");
    for (size_t i = 0; i < n; i++) {
      hq__fmt_short(frames[i].text, root, buf, sizeof buf);
      fprintf(out, "      %s%s\n", buf, frames[i].stale ? " [stale]" : "");
    }
  }
  hq_frames_free(frames, n);
  return HQ_OK;
}

