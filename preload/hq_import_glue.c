/*
 * hq_import_glue.c: what the importer asks of the library it is linked into.  Inside the
 * recorded program heapql writes an unsymbolized database (symbols are the analyzer's, after
 * the run: DESIGN §3), so the importer's symbolization seam answers "not here".
 */
#include "heapql/error.h"

typedef struct hq_db_s hq_db_t;
int hq__imp_symbolize(hq_db_t *db, int progress);
int hq__imp_symbolize(hq_db_t *db, int progress) {
  (void)db;
  (void)progress;
  return HQ_ENOTSUP;
}
