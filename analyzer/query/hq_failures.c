/*
 * hq_failures.c: device allocations that failed, with what filled the device at that instant
 * (device_failures, device_failure_live: docs/schema.md, "Device allocation failures").
 * Sites are those of stack_sites, which covers the failing calls' stacks too (hq_callsite.c).
 * A database made before schema 2 has no such tables: no failures.
 */
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"

#define TOP_LIVE 5

static int load_top(hq_db_t *db, hq_device_failure_t *f, size_t limit) {
  sqlite3_stmt *st = NULL;
  size_t cap = 0;
  int rc = hq__db_prepare(db,
      "SELECT l.stack_id, coalesce(ss.site, '(no stack)'), l.blocks, l.bytes"
      " FROM device_failure_live l LEFT JOIN stack_sites ss ON ss.stack_id = l.stack_id"
      " WHERE l.failure_id = ?1 ORDER BY l.bytes DESC, l.stack_id LIMIT ?2", &st);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, f->id);
  sqlite3_bind_int64(st, 2, (int64_t)limit);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    hq_failure_site_t *s;
    if (hq__grow((void **)&f->top, &cap, f->n_top, sizeof *f->top, 8)) { rc = HQ_ENOMEM; goto out; }
    s = &f->top[f->n_top];
    memset(s, 0, sizeof *s);
    s->stack_id = sqlite3_column_int64(st, 0);
    s->location = hq__col_strdup(st, 1);
    s->blocks = (uint64_t)sqlite3_column_int64(st, 2);
    s->bytes = (uint64_t)sqlite3_column_int64(st, 3);
    f->n_top++;
    if (!s->location) { rc = HQ_ENOMEM; goto out; }
  }
  rc = rc == SQLITE_DONE ? HQ_OK : hq__db_sqlerr(db, "reading device_failure_live");
out:
  sqlite3_finalize(st);
  return rc;
}

int hq__failures_load(hq_db_t *db, int64_t only_id, size_t limit, size_t top_live,
                      hq_device_failure_t **out, size_t *out_n, uint64_t *out_total) {
  sqlite3_stmt *st = NULL;
  hq_device_failure_t *v = NULL;
  size_t n = 0, cap = 0;
  int rc;
  *out = NULL;
  *out_n = 0;
  if (out_total) *out_total = 0;
  if (!hq__db_has_table(db, "device_failures")) return HQ_OK;
  if ((rc = hq__callsites_ensure(db))) return rc;
  rc = hq__db_prepare(db,
      "SELECT f.id, f.pid, f.t, f.api, f.result, f.size, coalesce(f.device, -1), f.live_blocks,"
      " f.live_bytes, coalesce(f.stack_id, 0), ss.site, (SELECT count(*) FROM device_failures)"
      " FROM device_failures f LEFT JOIN stack_sites ss ON ss.stack_id = f.stack_id"
      " WHERE ?1 = 0 OR f.id = ?1 ORDER BY f.t, f.id LIMIT ?2", &st);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, only_id);
  sqlite3_bind_int64(st, 2, (int64_t)limit);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    hq_device_failure_t *f;
    if (hq__grow((void **)&v, &cap, n, sizeof *v, 8)) { rc = HQ_ENOMEM; goto out; }
    f = &v[n++];
    memset(f, 0, sizeof *f);
    f->id = sqlite3_column_int64(st, 0);
    f->pid = sqlite3_column_int64(st, 1);
    f->t_ns = sqlite3_column_int64(st, 2);
    f->api = hq__col_strdup(st, 3);
    f->result = sqlite3_column_int(st, 4);
    f->size = (uint64_t)sqlite3_column_int64(st, 5);
    f->device = sqlite3_column_int(st, 6);
    f->live_blocks = (uint64_t)sqlite3_column_int64(st, 7);
    f->live_bytes = (uint64_t)sqlite3_column_int64(st, 8);
    f->stack_id = sqlite3_column_int64(st, 9);
    f->location = hq__col_strdup(st, 10);
    if (out_total) *out_total = (uint64_t)sqlite3_column_int64(st, 11);
    if (!f->api) { rc = HQ_ENOMEM; goto out; }
  }
  rc = rc == SQLITE_DONE ? HQ_OK : hq__db_sqlerr(db, "reading device_failures");
  for (size_t i = 0; i < n && !rc; i++) rc = load_top(db, &v[i], top_live ? top_live : TOP_LIVE);
out:
  sqlite3_finalize(st);
  if (rc) {
    hq__failures_free(v, n);
    return rc;
  }
  *out = v;
  *out_n = n;
  return HQ_OK;
}

void hq__failures_free(hq_device_failure_t *v, size_t n) {
  for (size_t i = 0; v && i < n; i++) {
    free(v[i].api);
    free(v[i].location);
    for (size_t k = 0; k < v[i].n_top; k++) free(v[i].top[k].location);
    free(v[i].top);
  }
  free(v);
}
