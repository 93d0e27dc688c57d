/*
 * hq_suppress.c: what the leak gate may ignore.
 *
 * Suppressions in LeakSanitizer's syntax: one `leak:PATTERN` a line, `#` comments.  A leak is
 * suppressed when a frame of its stack matches: its function name, its source file or its module
 * (the library's path) contains PATTERN, where `*` matches anything, a leading `^` anchors the
 * start and a trailing `$` the end.  The program's own __lsan_default_suppressions (recorded at
 * exit) are read the same way.
 *
 * A baseline: the leaks a project has accepted, one a line, each keyed by two fingerprints of
 * its stack (its frames with their lines; its function names alone):
 *
 *   # heapql baseline 1
 *   CLASS FP_LINES FP_FUNCTIONS BLOCKS BYTES SITE...
 *
 * Leaks match an entry of their class with the same frames-with-lines first; those left match
 * by function names; each entry is used at most once.  So a rebuild or a moved line still
 * matches, and a new leak next to an accepted one in the same function does not.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"

struct hq__supp_s {
  char **glob;      /* fnmatch patterns */
  char **text;      /* as written, for "suppressed by" */
  size_t n, cap;
};

/* Here, not in hq_gate.c: baselines name the classes too, and the gate uses this file. */
const char *const hq__gate_class_names[HQ_GATE_CLASSES + 1] = {
  "definitely_lost", "indirectly_lost", "possibly_lost", "still_reachable", "unclassified"};

static int supp_push(hq__supp_t *s, const char *pattern, size_t len) {
  size_t gl = len + 3;
  char *glob, *text;
  int start = len && pattern[0] == '^', end = len > (size_t)start && pattern[len - 1] == '$';
  if (hq__grow((void **)&s->glob, &s->cap, s->n, sizeof *s->glob, 16)) return HQ_ENOMEM;
  if (s->n >= s->cap) return HQ_ENOMEM;
  {
    /* grow text in step: same capacity */
    char **t = realloc(s->text, s->cap * sizeof *t);
    if (!t) return HQ_ENOMEM;
    s->text = t;
  }
  glob = malloc(gl);
  text = strndup(pattern, len);
  if (!glob || !text) {
    free(glob);
    free(text);
    return HQ_ENOMEM;
  }
  snprintf(glob, gl, "%s%.*s%s", start ? "" : "*", (int)(len - (size_t)start - (size_t)end),
           pattern + start, end ? "" : "*");
  s->glob[s->n] = glob;
  s->text[s->n++] = text;
  return HQ_OK;
}

int hq__supp_add(hq__supp_t **sp, const char *text, const char *where, char *err, size_t cap) {
  hq__supp_t *s = *sp;
  int line = 0, rc = HQ_OK;
  if (!s && !(s = *sp = calloc(1, sizeof *s))) return HQ_ENOMEM;
  for (const char *p = text; p && *p && !rc;) {
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    const char *a = p, *b = p + len;
    line++;
    while (a < b && isspace((unsigned char)*a)) a++;
    while (b > a && isspace((unsigned char)b[-1])) b--;
    if (a < b && *a != '#') {
      if ((size_t)(b - a) < 5 || strncmp(a, "leak:", 5)) {
        snprintf(err, cap, "%s:%d: not a leak suppression (leak:PATTERN): '%.*s'", where, line,
                 (int)(b - a), a);
        return HQ_EFORMAT;
      }
      a += 5;
      if (a == b || (b - a == 1 && (*a == '^' || *a == '$'))) {
        snprintf(err, cap, "%s:%d: leak: with an empty pattern", where, line);
        return HQ_EFORMAT;
      }
      rc = supp_push(s, a, (size_t)(b - a));
    }
    p = eol ? eol + 1 : NULL;
  }
  return rc;
}

const char *hq__supp_match(const hq__supp_t *s, const hq__gate_leak_t *leak) {
  if (!s) return NULL;
  for (size_t f = 0; f < leak->n_frames; f++) {
    const hq__gate_frame_t *fr = &leak->frames[f];
    for (size_t i = 0; i < s->n; i++) {
      if ((fr->function && !fnmatch(s->glob[i], fr->function, 0)) ||
          (fr->file && !fnmatch(s->glob[i], fr->file, 0)) ||
          (fr->module && !fnmatch(s->glob[i], fr->module, 0)))
        return s->text[i];
    }
  }
  return NULL;
}

void hq__supp_free(hq__supp_t *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) {
    free(s->glob[i]);
    free(s->text[i]);
  }
  free(s->glob);
  free(s->text);
  free(s);
}

/* ---- baselines ---- */

typedef struct entry_s {
  int cls;
  char fp_lines[17], fp_funcs[17];
  char *line;   /* as written */
  int used;
} entry_t;

struct hq__baseline_s {
  entry_t *v;
  size_t n, cap;
};

static int is_fp(const char *s, size_t len) {
  if (len != 16) return 0;
  for (size_t i = 0; i < len; i++)
    if (!isxdigit((unsigned char)s[i])) return 0;
  return 1;
}

int hq__baseline_read(const char *path, hq__baseline_t **out, char *err, size_t cap) {
  FILE *f = fopen(path, "r");
  hq__baseline_t *b;
  char buf[8192];
  int line = 0, rc = HQ_OK;
  *out = NULL;
  if (!f) {
    snprintf(err, cap, "%s: %s", path, strerror(errno));
    return errno == ENOENT ? HQ_ENOENT : HQ_EIO;
  }
  if (!(b = calloc(1, sizeof *b))) {
    fclose(f);
    return HQ_ENOMEM;
  }
  while (!rc && fgets(buf, sizeof buf, f)) {
    char cls[64], fl[64], ff[64];
    unsigned long long blocks, bytes;
    int c = -1, consumed = 0;
    entry_t *e;
    line++;
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!buf[strspn(buf, " \t")] || buf[strspn(buf, " \t")] == '#') continue;
    if (sscanf(buf, "%63s %63s %63s %llu %llu %n", cls, fl, ff, &blocks, &bytes, &consumed) < 5 ||
        !is_fp(fl, strlen(fl)) || !is_fp(ff, strlen(ff))) {
      snprintf(err, cap, "%s:%d: not a baseline entry (CLASS FP_LINES FP_FUNCTIONS BLOCKS BYTES SITE)",
               path, line);
      rc = HQ_EFORMAT;
      break;
    }
    for (int k = 0; k <= HQ_GATE_CLASSES; k++)
      if (!strcmp(cls, hq__gate_class_names[k])) c = k;
    if (c < 0) {
      snprintf(err, cap, "%s:%d: unknown leak class '%s'", path, line, cls);
      rc = HQ_EFORMAT;
      break;
    }
    if ((rc = hq__grow((void **)&b->v, &b->cap, b->n, sizeof *b->v, 32))) break;
    e = &b->v[b->n];
    memset(e, 0, sizeof *e);
    e->cls = c;
    memcpy(e->fp_lines, fl, 17);
    memcpy(e->fp_funcs, ff, 17);
    if (!(e->line = strdup(buf))) {
      rc = HQ_ENOMEM;
      break;
    }
    b->n++;
  }
  if (!rc && ferror(f)) {
    snprintf(err, cap, "%s: %s", path, strerror(errno));
    rc = HQ_EIO;
  }
  fclose(f);
  if (rc) {
    hq__baseline_free(b);
    return rc;
  }
  *out = b;
  return HQ_OK;
}

int hq__baseline_match(hq__baseline_t *b, hq__gate_leak_t *leaks, size_t n, char ***stale,
                       size_t *n_stale) {
  *stale = NULL;
  *n_stale = 0;
  if (!b) return HQ_OK;
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < n; i++) {
      hq__gate_leak_t *l = &leaks[i];
      if (l->status != HQ__GATE_COUNTED) continue;
      for (size_t k = 0; k < b->n; k++) {
        entry_t *e = &b->v[k];
        if (e->used || e->cls != l->cls) continue;
        if (strcmp(pass ? e->fp_funcs : e->fp_lines, pass ? l->fp_funcs : l->fp_lines)) continue;
        e->used = 1;
        l->status = HQ__GATE_BASELINED;
        break;
      }
    }
  }
  for (size_t k = 0; k < b->n; k++) {
    size_t cap = *n_stale;
    if (b->v[k].used) continue;
    if (hq__grow((void **)stale, &cap, *n_stale, sizeof **stale, 8)) return HQ_ENOMEM;
    if (!((*stale)[*n_stale] = strdup(b->v[k].line))) return HQ_ENOMEM;
    (*n_stale)++;
  }
  return HQ_OK;
}

void hq__baseline_free(hq__baseline_t *b) {
  if (!b) return;
  for (size_t i = 0; i < b->n; i++) free(b->v[i].line);
  free(b->v);
  free(b);
}
