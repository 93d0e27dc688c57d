/*
 * hq_import_python.c: Python frames (rawfmt.h, "Python") as frames rows.
 *
 * A Python frame's pseudo address names a code object the recorder described once
 * (HQ_REC_PYCODE: qualified name, file, first line, the interpreter's line table) and a bytecode
 * offset; its row gets function = the qualified name, file = co_filename, line = the line the
 * table gives for that offset, as PyCode_Addr2Line would.  The three table formats are
 * CPython's own (Objects/lnotab_notes.txt for 3.8 to 3.10, Objects/locations.md for 3.11+).
 */
#include <string.h>

#include "import/import_int.h"

/* 3.8, 3.9: (byte offset delta, signed line delta) pairs; the line of the last pair whose
 * offset is at or before the instruction. */
static int lnotab_line(const uint8_t *t, size_t n, int line, uint32_t addr) {
  uint32_t at = 0;
  for (size_t i = 0; i + 1 < n; i += 2) {
    at += t[i];
    if (at > addr) break;
    line += (int8_t)t[i + 1];
  }
  return line;
}

/* 3.10: (bytes covered, line delta) pairs, each a range [start, start + bytes); a delta of -128
 * means the range has no line. */
static int linetable310_line(const uint8_t *t, size_t n, int line, uint32_t addr) {
  uint32_t start = 0;
  for (size_t i = 0; i + 1 < n; i += 2) {
    uint32_t end = start + t[i];
    int delta = (int8_t)t[i + 1];
    if (delta != -128) line += delta;
    if (addr >= start && addr < end) return delta == -128 ? -1 : line;
    start = end;
  }
  return -1;
}

static uint32_t varint(const uint8_t *t, size_t n, size_t *i) {
  uint32_t v = 0;
  unsigned shift = 0;
  while (*i < n) {
    uint8_t b = t[(*i)++];
    v |= (uint32_t)(b & 63) << shift;
    shift += 6;
    if (!(b & 64) || shift > 30) break;
  }
  return v;
}

static int svarint(const uint8_t *t, size_t n, size_t *i) {
  uint32_t v = varint(t, n, i);
  return (v & 1) ? -(int)(v >> 1) : (int)(v >> 1);
}

/* 3.11+: location entries, each covering 1..8 code units (2 bytes each). */
static int locations_line(const uint8_t *t, size_t n, int line, uint32_t addr) {
  uint32_t unit = addr / 2, start = 0;
  size_t i = 0;
  while (i < n) {
    uint8_t head = t[i++];
    unsigned code = (head >> 3) & 15, length = (head & 7) + 1;
    int this_line = line, none = 0;
    if (!(head & 128)) return -1; /* not at an entry: a damaged table */
    switch (code) {
    case 15: none = 1; break;
    case 14:
      this_line = line + svarint(t, n, &i);
      varint(t, n, &i); /* end line */
      varint(t, n, &i); /* column */
      varint(t, n, &i); /* end column */
      break;
    case 13: this_line = line + svarint(t, n, &i); break;
    case 12: case 11: case 10: this_line = line + (int)(code - 10); i += 2; break;
    default: i += 1; break; /* short form: same line, one column byte */
    }
    if (!none) line = this_line;
    if (unit >= start && unit < start + length) return none ? -1 : this_line;
    start += length;
  }
  return -1;
}

int hq__py_line(int format, const uint8_t *table, size_t len, int first_line, uint32_t offset) {
  int line;
  if (offset == HQ_PYFRAME_NOT_STARTED) return first_line;
  switch (format) {
  case HQ_PYLINES_LNOTAB: line = lnotab_line(table, len, first_line, offset); break;
  case HQ_PYLINES_310: line = linetable310_line(table, len, first_line, offset); break;
  case HQ_PYLINES_LOCATIONS: line = locations_line(table, len, first_line, offset); break;
  default: line = -1; break;
  }
  /* An instruction without a line (or past a table cut short) is known by its code's start. */
  return line > 0 ? line : first_line;
}

int hq__imp_index_pycode(import_t *im, const hq_rec_hdr_t *h) {
  const hq_rec_pycode_t *c = (const hq_rec_pycode_t *)h;
  uint64_t dummy;
  if (h->len < sizeof *c ||
      sizeof *c + (size_t)c->name_len + c->file_len + c->table_len > h->len || c->id == 0)
    return HQ_EFORMAT;
  if (hq__map_get(&im->pycode, c->id, &dummy)) return HQ_OK;
  return hq__map_put(&im->pycode, c->id, (uint64_t)((const unsigned char *)c - im->map));
}

int hq__imp_python_frame(import_t *im, uint64_t ip, hq__row_t *r) {
  uint64_t off;
  const hq_rec_pycode_t *c;
  const char *name;
  hq__row_int(r, 3, (int64_t)ip);
  if (!hq__map_get(&im->pycode, HQ_PYFRAME_ID(ip), &off)) return HQ_OK; /* description lost */
  c = (const hq_rec_pycode_t *)(im->map + off);
  name = (const char *)(c + 1);
  hq__row_text(r, 5, name, c->name_len);
  hq__row_text(r, 6, name + c->name_len, c->file_len);
  hq__row_int(r, 7, hq__py_line(c->format, (const uint8_t *)name + c->name_len + c->file_len,
                                c->table_len, c->first_line, HQ_PYFRAME_OFFSET(ip)));
  return HQ_OK;
}
