/*
 * hq_leaktime.c: when the blocks that were never freed were allocated.
 *
 * A histogram of bytes (and blocks) by allocation time, over the whole run, kept in 256 bins
 * whose width doubles (and neighbours merge) whenever a time beyond the last bin arrives, so it
 * needs neither the run's length in advance nor time-ordered input.  The aggregator adds each
 * heap allocation and takes each release back out at the block's allocation time: what stays is
 * the leaked bytes by when they were allocated, the table agg_leak_time, from which the report
 * measures leak growth (docs/schema.md, "Definitions").
 */
#include <string.h>

#include "base/base_int.h"

#define FIRST_WIDTH (1 << 20) /* ns: about a millisecond */

static void fold(hq__ltime_t *h) {
  for (int i = 0; i < HQ__LTIME_BINS / 2; i++) {
    h->bytes[i] = h->bytes[2 * i] + h->bytes[2 * i + 1];
    h->blocks[i] = h->blocks[2 * i] + h->blocks[2 * i + 1];
  }
  memset(h->bytes + HQ__LTIME_BINS / 2, 0, sizeof h->bytes / 2);
  memset(h->blocks + HQ__LTIME_BINS / 2, 0, sizeof h->blocks / 2);
  h->width *= 2;
}

void hq__ltime_add(hq__ltime_t *h, int64_t t_alloc, int64_t bytes, int64_t blocks) {
  if (!h->width) h->width = FIRST_WIDTH;
  if (t_alloc < 0) t_alloc = 0;
  while (t_alloc / h->width >= HQ__LTIME_BINS) fold(h);
  h->bytes[t_alloc / h->width] += bytes;
  h->blocks[t_alloc / h->width] += blocks;
}

int hq__ltime_write(hq_db_t *db, const char *schema, const hq__ltime_t *h) {
  char sql[512];
  sqlite3_stmt *st = NULL;
  int rc;
  hq__fmt(sql, sizeof sql,
          "DROP TABLE IF EXISTS %1$s.agg_leak_time;"
          "CREATE TABLE %1$s.agg_leak_time(bin INTEGER PRIMARY KEY, t_begin INTEGER NOT NULL,"
          " t_end INTEGER NOT NULL, blocks INTEGER NOT NULL, bytes INTEGER NOT NULL);", schema);
  if ((rc = hq__db_exec(db, sql))) return rc;
  hq__fmt(sql, sizeof sql, "INSERT INTO %s.agg_leak_time VALUES(?1, ?2, ?3, ?4, ?5)", schema);
  if ((rc = hq__db_prepare(db, sql, &st))) return rc;
  for (int i = 0; i < HQ__LTIME_BINS && !rc; i++) {
    if (!h->blocks[i]) continue;
    sqlite3_bind_int(st, 1, i);
    sqlite3_bind_int64(st, 2, (int64_t)i * h->width);
    sqlite3_bind_int64(st, 3, (int64_t)(i + 1) * h->width);
    sqlite3_bind_int64(st, 4, h->blocks[i]);
    sqlite3_bind_int64(st, 5, h->bytes[i]);
    if (sqlite3_step(st) != SQLITE_DONE) rc = hq__db_sqlerr(db, "writing agg_leak_time");
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  return rc;
}
