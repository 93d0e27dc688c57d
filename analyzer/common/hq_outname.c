/* hq_outname.c: output-name expansion (heapql/internal/outname.h). */
#include <stdio.h>

#include "heapql/internal/outname.h"

void hq__expand_output(const char *pattern, long pid, const char *prog, char *out, size_t cap) {
  size_t o = 0;
  if (cap == 0) return;
  for (const char *p = pattern; *p && o + 1 < cap; p++) {
    if (p[0] == '%' && p[1] == 'p') {
      o += (size_t)snprintf(out + o, cap - o, "%ld", pid);
      p++;
    } else if (p[0] == '%' && p[1] == 'n') {
      o += (size_t)snprintf(out + o, cap - o, "%s", prog);
      p++;
    } else if (p[0] == '%' && p[1] == '%') {
      out[o++] = '%';
      p++;
    } else {
      out[o++] = *p;
    }
    if (o >= cap) o = cap - 1;
  }
  out[o] = '\0';
}
