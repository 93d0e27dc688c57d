/*
 * hq_series.c: the timeline's data: which process to draw, its samples' extent and maxima, the
 * exact heap and device peaks, and each series downsampled by time bucket (each bucket's
 * minimum and maximum kept, so no spike disappears).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"

static int push_point(hq__series_t *s, int64_t t, int64_t v) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 1024;
    int64_t *nt = realloc(s->t, cap * sizeof *nt), *nv;
    if (!nt) return HQ_ENOMEM;
    s->t = nt;
    nv = realloc(s->v, cap * sizeof *nv);
    if (!nv) return HQ_ENOMEM;
    s->v = nv;
    s->cap = cap;
  }
  s->t[s->n] = t;
  s->v[s->n] = v;
  s->n++;
  return HQ_OK;
}

/* Emit the held bucket: its minimum and maximum, in time order. */
static int flush_bucket(hq__series_t *s) {
  int rc = HQ_OK;
  if (!s->have) return HQ_OK;
  if (s->min_t == s->max_t) rc = push_point(s, s->max_t, s->max_v);
  else if (s->min_t < s->max_t) {
    rc = push_point(s, s->min_t, s->min_v);
    if (!rc) rc = push_point(s, s->max_t, s->max_v);
  } else {
    rc = push_point(s, s->max_t, s->max_v);
    if (!rc) rc = push_point(s, s->min_t, s->min_v);
  }
  s->have = 0;
  return rc;
}

static int add_sample(hq__series_t *s, int64_t bucket, int64_t t, int64_t v, int decimate) {
  if (!decimate) return push_point(s, t, v);
  if (s->have && bucket != s->bucket) {
    int rc = flush_bucket(s);
    if (rc) return rc;
  }
  if (!s->have) {
    s->have = 1;
    s->bucket = bucket;
    s->min_t = s->max_t = t;
    s->min_v = s->max_v = v;
  } else {
    if (v < s->min_v) { s->min_v = v; s->min_t = t; }
    if (v > s->max_v) { s->max_v = v; s->max_t = t; }
  }
  return HQ_OK;
}

static void bind_pid(sqlite3_stmt *st, const hq__timeline_t *in) {
  if (in->pid_null) sqlite3_bind_null(st, 1);
  else sqlite3_bind_int64(st, 1, in->pid);
}

static int choose_pid(hq_db_t *db, const hq_timeline_opts_t *opts, hq__timeline_t *in) {
  sqlite3_stmt *st = NULL;
  int64_t meta_pid = 0;
  int rc, have_meta = hq__meta_int(db, "pid", &meta_pid) == HQ_OK;

  rc = hq__db_prepare(db, "SELECT count(DISTINCT coalesce(pid, -1)), sum(pid = ?1),"
                          " min(pid), sum(pid IS NULL) FROM samples", &st);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, opts->pid ? opts->pid : meta_pid);
  if (sqlite3_step(st) != SQLITE_ROW) { rc = hq__db_sqlerr(db, "reading samples"); goto out; }
  in->processes = sqlite3_column_int64(st, 0);
  if (opts->pid) {
    if (sqlite3_column_int64(st, 1) == 0) {
      rc = hq__db_seterr(db, HQ_ENOENT, "%s: no samples for pid %" PRId64, hq_db_path(db),
                         opts->pid);
      goto out;
    }
    in->pid = opts->pid;
  } else if (have_meta && sqlite3_column_int64(st, 1) > 0) {
    in->pid = meta_pid;
  } else if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
    in->pid = sqlite3_column_int64(st, 2);
  } else {
    in->pid_null = 1;     /* no pid in samples (or no samples): draw the NULL-pid rows */
    in->pid = have_meta ? meta_pid : 0;
  }
out:
  sqlite3_finalize(st);
  return rc;
}

static int read_info(hq_db_t *db, hq__timeline_t *in) {
  sqlite3_stmt *st = NULL;
  int64_t processes = 1, meta_pid = 0, pb = 0, pt = 0;
  int rc;

  rc = hq__db_prepare(db, "SELECT count(*), min(t), max(t), max(heap_bytes), max(mmap_bytes),"
                          " max(device_bytes), max(rss_bytes) FROM samples WHERE pid IS ?1", &st);
  if (rc) return rc;
  bind_pid(st, in);
  if (sqlite3_step(st) != SQLITE_ROW) { rc = hq__db_sqlerr(db, "reading samples"); goto out; }
  in->rows = sqlite3_column_int64(st, 0);
  in->t0 = sqlite3_column_int64(st, 1);
  in->t1 = sqlite3_column_int64(st, 2);
  for (int s = 0; s < HQ__S_N; s++) {
    in->max[s] = sqlite3_column_int64(st, 3 + s);
    /* The heap is always drawn; the others only when they hold something. */
    in->present[s] = s == HQ__S_HEAP ? in->rows > 0 : in->max[s] > 0;
  }
  sqlite3_finalize(st);
  st = NULL;

  /* The exact heap peak comes from meta when the database is one process. */
  if (hq__meta_int(db, "processes", &processes) != HQ_OK) processes = 1;
  if (processes <= 1 && hq__meta_int(db, "peak_heap_bytes", &pb) == HQ_OK &&
      hq__meta_int(db, "peak_heap_t", &pt) == HQ_OK &&
      (hq__meta_int(db, "pid", &meta_pid) != HQ_OK || meta_pid == in->pid || in->pid_null)) {
    in->peak_bytes = pb;
    in->peak_t = pt;
  } else if (in->rows > 0) {
    rc = hq__db_prepare(db, "SELECT t, heap_bytes FROM samples WHERE pid IS ?1"
                            " ORDER BY heap_bytes DESC, t LIMIT 1", &st);
    if (rc) return rc;
    bind_pid(st, in);
    if (sqlite3_step(st) == SQLITE_ROW) {
      in->peak_t = sqlite3_column_int64(st, 0);
      in->peak_bytes = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    st = NULL;
  }
  if (in->present[HQ__S_DEVICE]) {
    rc = hq__db_prepare(db, "SELECT t, device_bytes FROM samples WHERE pid IS ?1"
                            " ORDER BY device_bytes DESC, t LIMIT 1", &st);
    if (rc) return rc;
    bind_pid(st, in);
    if (sqlite3_step(st) == SQLITE_ROW) {
      in->dev_peak_t = sqlite3_column_int64(st, 0);
      in->dev_peak_bytes = sqlite3_column_int64(st, 1);
    }
  }
  if (in->rows > 0) {
    if (in->peak_t < in->t0) in->t0 = in->peak_t;
    if (in->peak_t > in->t1) in->t1 = in->peak_t;
  }
  hq_db_meta_get(db, "program", in->program, sizeof in->program);
out:
  sqlite3_finalize(st);
  return rc;
}

static int read_series(hq_db_t *db, const hq__timeline_t *in, int max_points, hq__series_t *ser) {
  sqlite3_stmt *st = NULL;
  int64_t buckets = max_points / 2, span = in->t1 - in->t0 + 1;
  int decimate = in->rows > max_points, rc;

  rc = hq__db_prepare(db, "SELECT t, heap_bytes, mmap_bytes, device_bytes, rss_bytes FROM samples"
                          " WHERE pid IS ?1 ORDER BY t", &st);
  if (rc) return rc;
  bind_pid(st, in);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t t = sqlite3_column_int64(st, 0);
    int64_t bucket = (int64_t)((double)(t - in->t0) * (double)buckets / (double)span);
    for (int s = 0; s < HQ__S_N; s++) {
      if (!in->present[s] || sqlite3_column_type(st, 1 + s) == SQLITE_NULL) continue;
      rc = add_sample(&ser[s], bucket, t, sqlite3_column_int64(st, 1 + s), decimate);
      if (rc) goto out;
    }
  }
  if (rc != SQLITE_DONE) { rc = hq__db_sqlerr(db, "reading samples"); goto out; }
  rc = HQ_OK;
  for (int s = 0; s < HQ__S_N && !rc; s++) rc = flush_bucket(&ser[s]);
out:
  sqlite3_finalize(st);
  return rc;
}

int hq__timeline_load(hq_db_t *db, const hq_timeline_opts_t *opts, int max_points,
                      hq__timeline_t *out) {
  int rc;
  memset(out, 0, sizeof *out);
  rc = choose_pid(db, opts, out);
  if (!rc) rc = read_info(db, out);
  if (!rc && out->rows > 0) rc = read_series(db, out, max_points, out->ser);
  if (rc) hq__timeline_free(out);
  return rc;
}

void hq__timeline_free(hq__timeline_t *tl) {
  for (int s = 0; s < HQ__S_N; s++) {
    free(tl->ser[s].t);
    free(tl->ser[s].v);
    tl->ser[s].t = tl->ser[s].v = NULL;
    tl->ser[s].n = tl->ser[s].cap = 0;
  }
}
