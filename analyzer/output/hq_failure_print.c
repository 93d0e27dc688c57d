/*
 * hq_failure_print.c: device allocation failures, as the report's section and as
 * `heapql peak --at-failure ID`.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "output/output_int.h"

static void failure_line(FILE *out, const hq_device_failure_t *f) {
  char size[48] = "", live[32];
  if (f->size >= 1024) {
    size[0] = ',';
    size[1] = ' ';
    hq__fmt_bytes((double)f->size, size + 2, sizeof size - 2);
  }
  hq__fmt_bytes((double)f->live_bytes, live, sizeof live);
  fprintf(out, "#%" PRId64 " at %.3f s: %s(%" PRIu64 " B%s) on device %s%d%s failed with %d%s;"
               " %s live on the device in %" PRIu64 " blocks\n",
          f->id, (double)f->t_ns / 1e9, f->api, f->size, size, f->device < 0 ? "?" : "",
          f->device < 0 ? 0 : f->device, f->device < 0 ? " (unknown)" : "", f->result,
          f->result == 2 ? " (out of memory)" : "", live, f->live_blocks);
}

void hq__failures_text(FILE *out, const hq_report_t *r) {
  if (!r->n_failures) return;
  fprintf(out, "\n== Device allocation failures (%" PRIu64 "; heapql peak --at-failure ID for one)\n",
          r->failures_total);
  for (size_t i = 0; i < r->n_failures; i++) {
    const hq_device_failure_t *f = &r->failures[i];
    failure_line(out, f);
    fprintf(out, "    called from  %s\n", f->location ? f->location : "(no stack)");
    for (size_t k = 0; k < f->n_top; k++) {
      char b[32];
      hq__fmt_bytes((double)f->top[k].bytes, b, sizeof b);
      fprintf(out, "    live %10s in %5" PRIu64 " blocks  %s\n", b, f->top[k].blocks,
              f->top[k].location);
    }
  }
}

/* The members a failure has in both JSON shapes, in one order; the report's list also names the
 * process, `peak --at-failure` already answered for one. */
static void failure_members(hq__jw_t *w, const hq_device_failure_t *f, int with_pid) {
  hq__jw_i64(w, "id", f->id);
  if (with_pid) hq__jw_i64(w, "pid", f->pid);
  hq__jw_seconds(w, "time_s", f->t_ns);
  hq__jw_str(w, "api", f->api);
  hq__jw_i64(w, "result", f->result);
  hq__jw_u64(w, "size", f->size);
  if (f->device >= 0) hq__jw_i64(w, "device", f->device);
  else hq__jw_null(w, "device");
  hq__jw_u64(w, "live_blocks", f->live_blocks);
  hq__jw_u64(w, "live_bytes", f->live_bytes);
  hq__jw_str(w, "location", f->location);
}

static void failure_json(hq__jw_t *w, const hq_device_failure_t *f) {
  hq__jw_object(w, NULL);
  failure_members(w, f, 1);
  hq__jw_array(w, "live_sites");
  for (size_t k = 0; k < f->n_top; k++) {
    hq__jw_object(w, NULL);
    hq__jw_str(w, "location", f->top[k].location);
    hq__jw_u64(w, "blocks", f->top[k].blocks);
    hq__jw_u64(w, "bytes", f->top[k].bytes);
    hq__jw_end_object(w);
  }
  hq__jw_end_array(w);
  hq__jw_end_object(w);
}

void hq__failures_json(hq__jw_t *w, const hq_report_t *r) {
  if (!r->n_failures) return;
  hq__jw_object(w, "device_failures");
  hq__jw_u64(w, "count", r->failures_total);
  hq__jw_array(w, "failures");
  for (size_t i = 0; i < r->n_failures; i++) failure_json(w, &r->failures[i]);
  hq__jw_end_array(w);
  hq__jw_end_object(w);
}

/* The k-th site live at the failure, as a site the shared site printer takes. */
static hq_site_t live_site(const hq_device_failure_t *f, size_t k) {
  hq_site_t s;
  memset(&s, 0, sizeof s);
  s.stack_id = f->top[k].stack_id ? f->top[k].stack_id : -1;
  s.cls = HQ_CLASS_DEVICE;
  s.location = f->top[k].location;
  s.peak_blocks = f->top[k].blocks;
  s.peak_bytes = f->top[k].bytes;
  return s;
}

int hq_failure_write(hq_db_t *db, int64_t id, size_t limit, hq_format_t format, FILE *out) {
  hq_device_failure_t *f = NULL;
  size_t n = 0;
  int rc;
  if (!HQ_DB_OK(db) || !out) return HQ_MISUSE_BKPT;
  if (format != HQ_FORMAT_TEXT && format != HQ_FORMAT_JSON) return HQ_EINVAL;
  if (id <= 0) return hq__db_seterr(db, HQ_ENOENT, "%s: no device allocation failure %" PRId64,
                                    db->path, id);
  if ((rc = hq__failures_load(db, id, 1, limit ? limit : 10, &f, &n, NULL))) return rc;
  if (n == 0) {
    rc = hq__db_seterr(db, HQ_ENOENT, "%s: no device allocation failure %" PRId64, db->path, id);
    goto out;
  }
  if (format == HQ_FORMAT_JSON) {
    hq__jw_t w;
    hq__jw_init(&w, out);
    hq__jw_object(&w, NULL);
    failure_members(&w, f, 0);
    hq__jw_array(&w, "sites");
    for (size_t k = 0; k < f->n_top && !rc; k++) {
      hq_site_t s = live_site(f, k);
      rc = hq__site_with_stack(db, &s, NULL, NULL, &w, out);
    }
    hq__jw_end_array(&w);
    hq__jw_end_object(&w);
  } else {
    hq_frame_t *frames = NULL;
    size_t nf = 0;
    failure_line(out, f);
    if (f->stack_id && !(rc = hq_stack_frames(db, f->stack_id, &frames, &nf))) {
      fprintf(out, "the failing call:\n");
      for (size_t i = 0; i < nf; i++) fprintf(out, "      %s\n", frames[i].text);
      hq_frames_free(frames, nf);
    }
    fprintf(out, "\nlive on the device then, by site:\n");
    for (size_t k = 0; k < f->n_top && !rc; k++) {
      hq_site_t s = live_site(f, k);
      char line[128];
      snprintf(line, sizeof line, "#%zu  %" PRIu64 " B in %" PRIu64 " blocks", k + 1,
               f->top[k].bytes, f->top[k].blocks);
      rc = hq__site_with_stack(db, &s, line, NULL, NULL, out);
    }
    if (f->n_top == 0) fprintf(out, "   (none)\n");
  }
out:
  hq__failures_free(f, n);
  if (!rc && (fflush(out) != 0 || ferror(out))) rc = HQ_EIO;
  return rc;
}
