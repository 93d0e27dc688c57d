/*
 * hq_import_oom.c: a failed device allocation as an event.
 *
 * When an allocating driver call fails (cuMemAlloc* on a full device, cuMemCreate, ...), the
 * sweep knows at that instant every device block still live: the snapshot is those blocks on the
 * failing call's device (every device when the call's is unknown), summed by stack.  The rows
 * are written after the sweep (the writer thread holds the connection until then):
 * device_failures, one per failure, and device_failure_live, one per (failure, stack).  The
 * first HQ__MAX_FAILURES failures are kept (a program retrying in a loop fails without end); the
 * rest are counted in meta 'device_failures_dropped'.  The other CUDA rows made after the sweep
 * are here too: va_reservations and pool_samples.
 */
#include <string.h>

#include "import/import_int.h"

int hq__imp_cuda_failure(import_t *im, const hq_rec_cuda_call_t *c, uint64_t t, int64_t call_id,
                         int64_t stack_id) {
  cuda_failure_t f;
  hq_map_t by_stack;
  size_t first = im->cu.failure_live.n;
  int rc = HQ_OK;
  if (im->cu.failures.n >= HQ__MAX_FAILURES) {
    im->cu.failures_dropped++;
    return HQ_OK;
  }
  memset(&f, 0, sizeof f);
  f.call_id = call_id;
  f.stack_id = stack_id;
  f.t = t;
  f.size = c->size;
  f.device = c->device;
  f.result = c->result;
  f.api = c->hdr.kind;
  if (hq__map_init(&by_stack, 64)) return HQ_ENOMEM;
  for (size_t i = 0; i < im->pend.n && !rc; i++) {
    const pending_t *a = &im->pend.v[i];
    uint64_t idx, at;
    if (!a->cuda || hq__imp_space_of_kind(a->kind) != SPACE_DEVICE ||
        (f.device >= 0 && a->device >= 0 && a->device != f.device) ||
        !hq__map_get(&im->live, hq__imp_live_key(SPACE_DEVICE, a->address), &idx) || idx != i + 1)
      continue;
    f.live_blocks++;
    f.live_bytes += a->size;
    if (hq__map_get(&by_stack, (uint64_t)a->stack_id + 1, &at)) {
      im->cu.failure_live.v[at].blocks++;
      im->cu.failure_live.v[at].bytes += a->size;
    } else {
      cuda_failure_live_t l = {(uint32_t)im->cu.failures.n, a->stack_id, 1, a->size};
      VEC_PUSH(im->cu.failure_live, l, rc);
      if (!rc) rc = hq__map_put(&by_stack, (uint64_t)a->stack_id + 1, im->cu.failure_live.n - 1);
    }
  }
  hq__map_free(&by_stack);
  if (!rc) VEC_PUSH(im->cu.failures, f, rc);
  if (rc) im->cu.failure_live.n = first;
  return rc;
}

/* Address reservations hold no memory; they are rows of their own (docs/schema.md). */
static int write_vas(import_t *im) {
  sqlite3_stmt *st = NULL;
  int rc;
  if (!im->cu.vas.n) return HQ_OK;
  if ((rc = hq__db_prepare(im->db, "INSERT INTO va_reservations(id, pid, tid, address, size,"
                                   " alignment, device, t_reserve, t_free, stack_id)"
                                   " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)", &st)))
    return rc;
  for (size_t i = 0; i < im->cu.vas.n && !rc; i++) {
    const cuda_va_t *v = &im->cu.vas.v[i];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_int64(st, 1, (int64_t)i + 1);
    sqlite3_bind_int64(st, 2, im->hdr->pid);
    sqlite3_bind_int64(st, 3, v->tid);
    sqlite3_bind_int64(st, 4, (int64_t)v->address);
    sqlite3_bind_int64(st, 5, (int64_t)v->size);
    sqlite3_bind_int64(st, 6, (int64_t)v->alignment);
    if (v->device >= 0) sqlite3_bind_int64(st, 7, v->device);
    sqlite3_bind_int64(st, 8, (int64_t)v->t_reserve);
    if (v->freed) sqlite3_bind_int64(st, 9, (int64_t)v->t_free);
    if (v->stack_id) sqlite3_bind_int64(st, 10, v->stack_id);
    if (sqlite3_step(st) != SQLITE_DONE) rc = hq__db_sqlerr(im->db, "va_reservations");
  }
  sqlite3_finalize(st);
  return rc;
}

static int write_pool_samples(import_t *im) {
  sqlite3_stmt *st = NULL;
  int rc;
  if (!im->cu.pool_samples.n) return HQ_OK;
  if ((rc = hq__db_prepare(im->db, "INSERT INTO pool_samples(pid, t, pool, device, reserved_bytes,"
                                   " used_bytes, source) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)", &st)))
    return rc;
  for (size_t i = 0; i < im->cu.pool_samples.n && !rc; i++) {
    const hq_rec_pool_sample_t *x = &im->cu.pool_samples.v[i];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_int64(st, 1, im->hdr->pid);
    sqlite3_bind_int64(st, 2, (int64_t)x->t);
    sqlite3_bind_int64(st, 3, (int64_t)x->pool);
    if (x->device >= 0) sqlite3_bind_int64(st, 4, x->device);
    sqlite3_bind_int64(st, 5, (int64_t)x->reserved);
    sqlite3_bind_int64(st, 6, (int64_t)x->used);
    sqlite3_bind_text(st, 7, x->hdr.kind == HQ_POOL_SAMPLE_GRAPH ? "graph" : "pool", -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) rc = hq__db_sqlerr(im->db, "pool_samples");
  }
  sqlite3_finalize(st);
  return rc;
}

int hq__imp_write_failures(import_t *im) {
  static const char *const api_names[] = {
#define XX(id, name, role, kind) [id] = name,
    HQ_CUDA_API_MAP(XX)
#undef XX
  };
  sqlite3_stmt *f = NULL, *l = NULL;
  int rc = HQ_OK;
  if ((rc = write_vas(im)) || (rc = write_pool_samples(im))) return rc;
  if (!im->cu.failures.n && !im->cu.failures_dropped) return HQ_OK;
  if ((rc = hq__db_prepare(im->db, "INSERT INTO device_failures(id, pid, call_id, t, api, result,"
                                   " size, device, live_blocks, live_bytes, stack_id)"
                                   " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)", &f)) ||
      (rc = hq__db_prepare(im->db, "INSERT INTO device_failure_live(failure_id, stack_id, blocks,"
                                   " bytes) VALUES(?1, ?2, ?3, ?4)", &l)))
    goto out;
  for (size_t i = 0; i < im->cu.failures.n && !rc; i++) {
    const cuda_failure_t *x = &im->cu.failures.v[i];
    const char *api = x->api < sizeof api_names / sizeof *api_names && api_names[x->api]
                          ? api_names[x->api] : "unknown";
    sqlite3_reset(f);
    sqlite3_clear_bindings(f);
    sqlite3_bind_int64(f, 1, (int64_t)i + 1);
    sqlite3_bind_int64(f, 2, im->hdr->pid);
    sqlite3_bind_int64(f, 3, x->call_id);
    sqlite3_bind_int64(f, 4, (int64_t)x->t);
    sqlite3_bind_text(f, 5, api, -1, SQLITE_STATIC);
    sqlite3_bind_int64(f, 6, x->result);
    sqlite3_bind_int64(f, 7, (int64_t)x->size);
    if (x->device >= 0) sqlite3_bind_int64(f, 8, x->device);
    sqlite3_bind_int64(f, 9, (int64_t)x->live_blocks);
    sqlite3_bind_int64(f, 10, (int64_t)x->live_bytes);
    if (x->stack_id) sqlite3_bind_int64(f, 11, x->stack_id);
    if (sqlite3_step(f) != SQLITE_DONE) rc = hq__db_sqlerr(im->db, "device_failures");
  }
  for (size_t i = 0; i < im->cu.failure_live.n && !rc; i++) {
    const cuda_failure_live_t *x = &im->cu.failure_live.v[i];
    sqlite3_reset(l);
    sqlite3_clear_bindings(l);
    sqlite3_bind_int64(l, 1, (int64_t)x->failure + 1);
    if (x->stack_id) sqlite3_bind_int64(l, 2, x->stack_id);
    sqlite3_bind_int64(l, 3, (int64_t)x->blocks);
    sqlite3_bind_int64(l, 4, (int64_t)x->bytes);
    if (sqlite3_step(l) != SQLITE_DONE) rc = hq__db_sqlerr(im->db, "device_failure_live");
  }
  if (!rc) rc = hq__meta_set_int(im->db, "device_failures_dropped", (int64_t)im->cu.failures_dropped);
out:
  sqlite3_finalize(f);
  sqlite3_finalize(l);
  return rc;
}
