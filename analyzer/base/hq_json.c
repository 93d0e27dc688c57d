/* hq_json.c: a small streaming JSON writer (pretty-printed, two-space indent) for the reports. */
#include <math.h>
#include <string.h>

#include "base/base_int.h"

void hq__jw_init(hq__jw_t *w, FILE *out) {
  memset(w, 0, sizeof *w);
  w->out = out;
  w->first[0] = 1;
}

static void indent(hq__jw_t *w) {
  fputc('\n', w->out);
  for (int i = 0; i < w->depth; i++) fputs("  ", w->out);
}

/* Separator, indentation and "key": before every value. */
static void key(hq__jw_t *w, const char *k) {
  if (w->depth > 0) {
    if (!w->first[w->depth]) fputc(',', w->out);
    indent(w);
  }
  w->first[w->depth] = 0;
  if (k) {
    hq__fmt_json_string(w->out, k);
    fputs(": ", w->out);
  }
}

static void open_(hq__jw_t *w, const char *k, char c) {
  key(w, k);
  fputc(c, w->out);
  if (w->depth + 1 < (int)(sizeof w->first / sizeof w->first[0])) w->depth++;
  w->first[w->depth] = 1;
}

static void close_(hq__jw_t *w, char c) {
  int empty = w->first[w->depth];
  if (w->depth > 0) w->depth--;
  if (!empty) indent(w);
  fputc(c, w->out);
  if (w->depth == 0) fputc('\n', w->out);
}

void hq__jw_object(hq__jw_t *w, const char *k) { open_(w, k, '{'); }
void hq__jw_end_object(hq__jw_t *w) { close_(w, '}'); }
void hq__jw_array(hq__jw_t *w, const char *k) { open_(w, k, '['); }
void hq__jw_end_array(hq__jw_t *w) { close_(w, ']'); }

void hq__jw_u64(hq__jw_t *w, const char *k, uint64_t v) {
  key(w, k);
  fprintf(w->out, "%llu", (unsigned long long)v);
}

void hq__jw_i64(hq__jw_t *w, const char *k, int64_t v) {
  key(w, k);
  fprintf(w->out, "%lld", (long long)v);
}

void hq__jw_double(hq__jw_t *w, const char *k, double v) {
  char buf[40];
  key(w, k);
  if (isfinite(v)) {
    hq__fmt_double(buf, sizeof buf, v);
    fputs(buf, w->out);
  } else {
    fputs("null", w->out);
  }
}

void hq__jw_seconds(hq__jw_t *w, const char *k, int64_t ns) {
  key(w, k);
  /* nanoseconds printed exactly, as decimal seconds */
  if (ns >= 0)
    fprintf(w->out, "%lld.%09lld", (long long)(ns / 1000000000), (long long)(ns % 1000000000));
  else
    fprintf(w->out, "%.9f", (double)ns / 1e9);
}

void hq__jw_fixed(hq__jw_t *w, const char *k, double v, int decimals) {
  key(w, k);
  if (isfinite(v)) fprintf(w->out, "%.*f", decimals, v);
  else fputs("null", w->out);
}

void hq__jw_str(hq__jw_t *w, const char *k, const char *s) {
  key(w, k);
  if (s) hq__fmt_json_string(w->out, s);
  else fputs("null", w->out);
}

void hq__jw_bool(hq__jw_t *w, const char *k, int v) {
  key(w, k);
  fputs(v ? "true" : "false", w->out);
}

void hq__jw_null(hq__jw_t *w, const char *k) {
  key(w, k);
  fputs("null", w->out);
}
