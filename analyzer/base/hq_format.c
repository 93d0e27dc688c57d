/*
 * hq_format.c: how heapql writes numbers and strings, for every output: byte counts (one
 * precision everywhere), doubles that read back exactly, and text escaped for XML/HTML and for
 * JSON (always valid UTF-8: bytes that are not are written as '?').
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_int.h"

const char *hq__fmt_bytes(double bytes, char *buf, size_t cap) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = bytes < 0 ? -bytes : bytes;
  int u = 0;
  while (v >= 1024 && u < 6) { v /= 1024; u++; }
  if (u == 0) snprintf(buf, cap, "%s%.0f B", bytes < 0 ? "-" : "", v);
  else snprintf(buf, cap, "%s%.2f %s", bytes < 0 ? "-" : "", v, units[u]);
  return buf;
}

void hq__fmt_double(char *buf, size_t cap, double v) {
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, cap, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) return;
  }
}

static int utf8_len(const unsigned char *s) {
  int n;
  if (s[0] < 0x80) return 1;
  if ((s[0] & 0xe0) == 0xc0) n = 2;
  else if ((s[0] & 0xf0) == 0xe0) n = 3;
  else if ((s[0] & 0xf8) == 0xf0) n = 4;
  else return 0;
  if (n == 2 && s[0] < 0xc2) return 0; /* overlong */
  for (int i = 1; i < n; i++)
    if ((s[i] & 0xc0) != 0x80) return 0;
  return n;
}

void hq__fmt_xml(FILE *out, const char *s) {
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  while (*p) {
    int n = utf8_len(p);
    switch (*p) {
    case '&': fputs("&amp;", out); break;
    case '<': fputs("&lt;", out); break;
    case '>': fputs("&gt;", out); break;
    case '"': fputs("&quot;", out); break;
    case '\'': fputs("&#39;", out); break;
    case '\n': case '\t': fputc(' ', out); break;
    default:
      /* XML forbids most control characters; bytes that are not UTF-8 become '?'. */
      if (n == 0 || *p < 0x20) { fputc('?', out); n = 1; break; }
      fwrite(p, 1, (size_t)n, out);
      p += n;
      continue;
    }
    p++;
  }
}

void hq__fmt_json_string(FILE *out, const char *s) {
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  fputc('"', out);
  while (*p) {
    int n = utf8_len(p);
    if (*p == '"' || *p == '\\') {
      fputc('\\', out);
      fputc(*p, out);
    } else if (*p == '\n') {
      fputs("\\n", out);
    } else if (*p == '\t') {
      fputs("\\t", out);
    } else if (*p < 0x20) {
      fprintf(out, "\\u%04x", *p);
    } else if (n == 0) {
      fputc('?', out);
    } else {
      fwrite(p, 1, (size_t)n, out);
      p += n;
      continue;
    }
    p++;
  }
  fputc('"', out);
}


/* An identifier character, or the end of a name that a template or parameter list follows. */
static int name_end(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '>' || c == ']';
}

/* Index just past the bracket that closes the one at s[i] (open/close: '<' '>' or '(' ')'). */
static size_t close_of(const char *s, size_t i, char open, char close) {
  int depth = 0;
  for (; s[i]; i++) {
    if (s[i] == open) depth++;
    else if (s[i] == close && --depth == 0) return i + 1;
  }
  return i;
}

void hq__fmt_short(const char *in, const char *root, char *out, size_t cap) {
  size_t o = 0, rl = root ? strlen(root) : 0;
  if (cap == 0) return;
  for (size_t i = 0; in[i] && o + 1 < cap;) {
    int after_operator = i >= 8 && !strncmp(in + i - 8, "operator", 8);
    if (rl && !strncmp(in + i, root, rl) && (i == 0 || in[i - 1] == ' ')) {
      i += rl; /* a path under the source root, written relative to it */
      continue;
    }
    if (i > 0 && name_end(in[i - 1]) && !after_operator && (in[i] == '<' || in[i] == '(') &&
        strncmp(in + i, "(anonymous", 10)) {
      char open = in[i], close = open == '<' ? '>' : ')';
      i = close_of(in, i, open, close);
      out[o++] = open;
      if (o + 1 < cap) out[o++] = close;
      continue;
    }
    out[o++] = in[i++];
  }
  out[o] = '\0';
}
