/*
 * hq_site_print.c: a site as a JSON object, and a site with its whole stack (text or JSON): the
 * pieces `top`, `peak`, `leaks` and the report print.
 */
#include <inttypes.h>
#include <stdio.h>

#include "output/output_int.h"

void hq__site_json(hq__jw_t *w, const char *key, const hq_site_t *s) {
  hq__jw_object(w, key);
  if (s->stack_id >= 0) hq__jw_i64(w, "stack_id", s->stack_id);
  else hq__jw_null(w, "stack_id");
  hq__jw_str(w, "class", hq_class_name(s->cls));
  hq__jw_str(w, "location", s->location);
  hq__jw_u64(w, "allocations", s->allocations);
  hq__jw_u64(w, "bytes", s->bytes);
  hq__jw_u64(w, "frees", s->frees);
  hq__jw_u64(w, "reallocs", s->reallocs);
  hq__jw_u64(w, "realloced", s->realloced);
  hq__jw_u64(w, "leaked_blocks", s->leaked_blocks);
  hq__jw_u64(w, "leaked_bytes", s->leaked_bytes);
  hq__jw_u64(w, "temporary", s->temporary);
  hq__jw_u64(w, "max_size", s->max_size);
  hq__jw_u64(w, "peak_blocks", s->peak_blocks);
  hq__jw_u64(w, "peak_bytes", s->peak_bytes);
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
    hq__jw_end_object(w);
  }
  hq__jw_end_array(w);
}

/* A site with its whole stack: text (indented frames) or a JSON object with "frames". */
int hq__site_with_stack(hq_db_t *db, const hq_site_t *s, const char *value_text, hq__jw_t *w,
                        FILE *out) {
  hq_frame_t *frames = NULL;
  size_t n = 0;
  int rc = s->stack_id >= 0 ? hq_stack_frames(db, s->stack_id, &frames, &n) : HQ_OK;
  if (rc) return rc;
  if (w) {
    hq__jw_object(w, NULL);
    if (s->stack_id >= 0) hq__jw_i64(w, "stack_id", s->stack_id);
    else hq__jw_null(w, "stack_id");
    hq__jw_str(w, "class", hq_class_name(s->cls));
    hq__jw_str(w, "location", s->location);
    hq__jw_u64(w, "allocations", s->allocations);
    hq__jw_u64(w, "bytes", s->bytes);
    hq__jw_u64(w, "leaked_blocks", s->leaked_blocks);
    hq__jw_u64(w, "leaked_bytes", s->leaked_bytes);
    hq__jw_u64(w, "peak_blocks", s->peak_blocks);
    hq__jw_u64(w, "peak_bytes", s->peak_bytes);
    frames_json(w, frames, n);
    hq__jw_end_object(w);
  } else {
    fprintf(out, "%s\n", value_text);
    if (n == 0) fprintf(out, "    %s\n", s->location);
    for (size_t i = 0; i < n; i++) fprintf(out, "    %s\n", frames[i].text);
  }
  hq_frames_free(frames, n);
  return HQ_OK;
}

