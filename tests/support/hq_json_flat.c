/* hq_json_flat.c: see hq_json_flat.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq_json_flat.h"

typedef struct parser_s {
  const char *p;
  hq_json_t *out;
  int bad;
} parser_t;

static void ws(parser_t *ps) {
  while (isspace((unsigned char)*ps->p)) ps->p++;
}

static void add(parser_t *ps, const char *path, char type, char *value) {
  hq_json_entry_t *e = realloc(ps->out->e, (ps->out->n + 1) * sizeof *e);
  if (!e) { ps->bad = 1; free(value); return; }
  ps->out->e = e;
  e[ps->out->n].path = strdup(path);
  e[ps->out->n].type = type;
  e[ps->out->n].value = value;
  ps->out->n++;
}

static char *string(parser_t *ps) {
  size_t cap = 64, n = 0;
  char *s = malloc(cap);
  if (*ps->p != '"' || !s) { ps->bad = 1; free(s); return NULL; }
  ps->p++;
  while (*ps->p && *ps->p != '"') {
    char c = *ps->p++;
    if (c == '\\') {
      c = *ps->p++;
      switch (c) {
      case 'n': c = '\n'; break;
      case 't': c = '\t'; break;
      case 'r': c = '\r'; break;
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'u': {
        unsigned v = 0;
        if (sscanf(ps->p, "%4x", &v) != 1) { ps->bad = 1; free(s); return NULL; }
        ps->p += 4;
        c = v < 0x80 ? (char)v : '?';
        break;
      }
      default: break; /* " \ / */
      }
    }
    if (n + 2 > cap) {
      char *g = realloc(s, cap *= 2);
      if (!g) { free(s); ps->bad = 1; return NULL; }
      s = g;
    }
    s[n++] = c;
  }
  if (*ps->p != '"') { ps->bad = 1; free(s); return NULL; }
  ps->p++;
  s[n] = '\0';
  return s;
}

static void value(parser_t *ps, const char *path);

static void child_path(char *buf, size_t cap, const char *path, const char *key, long index) {
  if (key) snprintf(buf, cap, "%s%s%s", path, *path ? "." : "", key);
  else snprintf(buf, cap, "%s[%ld]", path, index);
}

static void value(parser_t *ps, const char *path) {
  char child[1024];
  ws(ps);
  if (ps->bad) return;
  if (*ps->p == '{') {
    ps->p++;
    add(ps, path, 'o', NULL);
    ws(ps);
    if (*ps->p == '}') { ps->p++; return; }
    for (;;) {
      char *k;
      ws(ps);
      k = string(ps);
      if (!k) return;
      ws(ps);
      if (*ps->p++ != ':') { ps->bad = 1; free(k); return; }
      child_path(child, sizeof child, path, k, 0);
      free(k);
      value(ps, child);
      if (ps->bad) return;
      ws(ps);
      if (*ps->p == ',') { ps->p++; continue; }
      if (*ps->p == '}') { ps->p++; return; }
      ps->bad = 1;
      return;
    }
  } else if (*ps->p == '[') {
    long i = 0;
    ps->p++;
    add(ps, path, 'a', NULL);
    ws(ps);
    if (*ps->p == ']') { ps->p++; return; }
    for (;; i++) {
      child_path(child, sizeof child, path, NULL, i);
      value(ps, child);
      if (ps->bad) return;
      ws(ps);
      if (*ps->p == ',') { ps->p++; continue; }
      if (*ps->p == ']') { ps->p++; return; }
      ps->bad = 1;
      return;
    }
  } else if (*ps->p == '"') {
    char *s = string(ps);
    if (s) add(ps, path, 's', s);
  } else if (!strncmp(ps->p, "true", 4) || !strncmp(ps->p, "false", 5)) {
    int t = *ps->p == 't';
    add(ps, path, 'b', strdup(t ? "true" : "false"));
    ps->p += t ? 4 : 5;
  } else if (!strncmp(ps->p, "null", 4)) {
    add(ps, path, 'n', NULL);
    ps->p += 4;
  } else if (*ps->p == '-' || isdigit((unsigned char)*ps->p)) {
    const char *start = ps->p;
    char *num;
    while (*ps->p && (isdigit((unsigned char)*ps->p) || strchr("+-.eE", *ps->p))) ps->p++;
    num = strndup(start, (size_t)(ps->p - start));
    add(ps, path, 'd', num);
  } else {
    ps->bad = 1;
  }
}

int hq_json_parse(const char *text, hq_json_t *out) {
  parser_t ps = {text, out, 0};
  out->e = NULL;
  out->n = 0;
  value(&ps, "");
  ws(&ps);
  if (ps.bad || *ps.p) {
    hq_json_free(out);
    return -1;
  }
  return 0;
}

void hq_json_free(hq_json_t *j) {
  for (size_t i = 0; i < j->n; i++) {
    free(j->e[i].path);
    free(j->e[i].value);
  }
  free(j->e);
  j->e = NULL;
  j->n = 0;
}

const hq_json_entry_t *hq_json_get(const hq_json_t *j, const char *path) {
  for (size_t i = 0; i < j->n; i++)
    if (!strcmp(j->e[i].path, path)) return &j->e[i];
  return NULL;
}
