/* hq_aggregate.c: aggregate tables and meta figures built at import (placeholder). */
#include "analyzer_int.h"

int hq__aggregate_build(hq_db_t *db) {
  (void)db;
  return HQ_OK;
}
