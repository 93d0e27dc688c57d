/*
 * hq_format.c: how heapql writes numbers and strings, for every output: byte counts (one
 * precision everywhere), doubles that read back exactly, and text escaped for XML/HTML and for
 * JSON (always valid UTF-8: bytes that are not are written as '?').
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

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

