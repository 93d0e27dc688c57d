/* hq_symbolize.c: offline symbolization with libdw (placeholder: resolves nothing yet). */
#include "analyzer_int.h"

int hq_symbolize(hq_db_t *db, int progress) {
  (void)progress;
  if (!db || db->magic != HQ_DB_MAGIC) return HQ_MISUSE_BKPT;
  return HQ_OK;
}
