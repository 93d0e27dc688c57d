/*
 * fuzz_raw.c: the raw-trace reader.  The input is a trace and, after it, a ring file: its first
 * 4 bytes (little-endian) say how many of the following bytes are the trace, the rest is the
 * ring file (none when nothing is left).  hq_import turns them into a database, or refuses.
 */
#include "heapql/heapql.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char raw[128], rings[160], db[128], err[512];
  hq_import_opts_t opts = {.force = 1};
  uint32_t n;
  if (size < 4) return 0;
  memcpy(&n, data, 4);
  data += 4;
  size -= 4;
  if (n > size) n = (uint32_t)size;
  if (fuzz_file("t.db.raw", data, n, raw, sizeof raw)) return 0;
  snprintf(rings, sizeof rings, "%s.rings", raw);
  unlink(rings);
  if (size > n && fuzz_file("t.db.raw.rings", data + n, size - n, rings, sizeof rings)) return 0;
  snprintf(db, sizeof db, "%s/t.db", fuzz_dir());
  if (hq_import(raw, db, &opts, NULL, err, sizeof err) == HQ_OK) {
    hq_db_t *h = NULL;
    hq_report_t *r = NULL;
    if (hq_db_open(db, 0, &h) == HQ_OK && hq_report_compute(h, NULL, &r) == HQ_OK) hq_report_free(r);
    hq_db_close(h);
  }
  unlink(db);
  return 0;
}
