/*
 * fuzz_db.c: opening a database, and the report of one that opens.  The input is the database
 * file; heapql must refuse it with an error (not a heapql database, damaged, newer schema) or
 * read it, never crash on it.
 */
#include "heapql/heapql.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[128];
  hq_db_t *db = NULL;
  hq_report_t *r = NULL;
  if (fuzz_file("f.db", data, size, path, sizeof path)) return 0;
  if (hq_db_open(path, HQ_DB_READONLY, &db) == HQ_OK) {
    (void)hq_db_errmsg(db);
    if (hq_report_compute(db, NULL, &r) == HQ_OK) hq_report_free(r);
  }
  hq_db_close(db);
  return 0;
}
