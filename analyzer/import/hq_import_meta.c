/*
 * hq_import_meta.c: the rows that describe the run rather than its events: modules, threads,
 * regions, meta and the processes row.
 */
#include <stdio.h>
#include <string.h>

#include "import/import_int.h"

static void hex(const unsigned char *b, size_t n, char *out) {
  static const char d[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = d[b[i] >> 4];
    out[2 * i + 1] = d[b[i] & 15];
  }
  out[2 * n] = '\0';
}

int hq__imp_write_modules(import_t *im) {
  sqlite3_stmt *st = NULL;
  int rc = hq__db_prepare(im->db,
      "INSERT INTO modules(id, pid, path, build_id, base, size, gen_first, gen_last) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", &st);
  if (rc) return rc;
  for (size_t i = 0; i < im->modules.n && !rc; i++) {
    const module_t *m = &im->modules.v[i];
    char bid[129];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_int64(st, 1, (int64_t)i + 1);
    sqlite3_bind_int64(st, 2, im->hdr->pid);
    sqlite3_bind_text(st, 3, m->path, -1, SQLITE_STATIC);
    if (m->build_id_len) {
      hex(m->build_id, m->build_id_len > 64 ? 64 : m->build_id_len, bid);
      sqlite3_bind_text(st, 4, bid, -1, SQLITE_TRANSIENT);
    }
    sqlite3_bind_int64(st, 5, (int64_t)m->base);
    sqlite3_bind_int64(st, 6, (int64_t)m->size);
    sqlite3_bind_int64(st, 7, m->gen_first);
    if (m->gen_gone != UINT32_MAX) sqlite3_bind_int64(st, 8, (int64_t)m->gen_gone - 1);
    if (sqlite3_step(st) != SQLITE_DONE) rc = hq__db_sqlerr(im->db, "modules");
  }
  sqlite3_finalize(st);
  return rc;
}

/* The last name the program gave a domain, or a category of one. */
static const nvtx_name_t *nvtx_name(const import_t *im, uint32_t what, uint32_t domain, uint32_t id) {
  for (size_t i = im->nvtx_names.n; i-- > 0;) {
    const nvtx_name_t *n = &im->nvtx_names.v[i];
    if (n->what == what && n->domain == domain && n->id == id) return n;
  }
  return NULL;
}

int hq__imp_write_threads_regions(import_t *im) {
  sqlite3_stmt *st = NULL;
  int rc = hq__db_prepare(im->db,
      "INSERT OR REPLACE INTO threads(pid, tid, name, t_start, t_end) VALUES(?1, ?2, ?3, ?4, ?5)",
      &st);
  if (rc) return rc;
  for (size_t i = 0; i < im->streams.n && !rc; i++) {
    const stream_t *s = &im->streams.v[i];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_int64(st, 1, im->hdr->pid);
    sqlite3_bind_int64(st, 2, s->tid);
    if (s->name[0]) sqlite3_bind_text(st, 3, s->name, -1, SQLITE_STATIC);
    if (s->has_start) sqlite3_bind_int64(st, 4, (int64_t)s->t_start);
    if (s->has_end) sqlite3_bind_int64(st, 5, (int64_t)s->t_end);
    if (sqlite3_step(st) != SQLITE_DONE) rc = hq__db_sqlerr(im->db, "threads");
  }
  sqlite3_finalize(st);
  if (rc) return rc;
  rc = hq__db_prepare(im->db,
      "INSERT INTO regions(id, pid, name, parent_id, tid, t_begin, t_end, source, domain, "
      "category, category_name, scope) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
      &st);
  if (rc) return rc;
  for (size_t i = 0; i < im->regions.n && !rc; i++) {
    const region_t *r = &im->regions.v[i];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_int64(st, 1, r->id);
    sqlite3_bind_int64(st, 2, im->hdr->pid);
    sqlite3_bind_text(st, 3, r->name, (int)r->name_len, SQLITE_STATIC);
    if (r->parent) sqlite3_bind_int64(st, 4, r->parent);
    if (r->tid) sqlite3_bind_int64(st, 5, r->tid);
    sqlite3_bind_text(st, 8, r->domain ? "nvtx" : "annotate", -1, SQLITE_STATIC);
    if (r->domain > 1) {
      const nvtx_name_t *n = nvtx_name(im, HQ_NVTX_NAME_DOMAIN, r->domain, 0);
      if (n) sqlite3_bind_text(st, 9, n->name, (int)n->name_len, SQLITE_STATIC);
    }
    if (r->category) {
      const nvtx_name_t *n = nvtx_name(im, HQ_NVTX_NAME_CATEGORY, r->domain, r->category);
      sqlite3_bind_int64(st, 10, r->category);
      if (n) sqlite3_bind_text(st, 11, n->name, (int)n->name_len, SQLITE_STATIC);
    }
    sqlite3_bind_text(st, 12, r->tid ? "thread" : "process", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (int64_t)r->t_begin);
    if (r->ended) sqlite3_bind_int64(st, 7, (int64_t)r->t_end);
    if (sqlite3_step(st) != SQLITE_DONE) rc = hq__db_sqlerr(im->db, "regions");
  }
  sqlite3_finalize(st);
  return rc;
}

static int meta_text(import_t *im, const char *key, const char *value) {
  return hq_db_meta_set(im->db, key, value);
}

int hq__imp_write_meta(import_t *im) {
  const hq_raw_header_t *h = im->hdr;
  uint64_t duration = im->end ? im->end->t : im->last_t;
  uint64_t peak_rss = 0, peak_rss_t = 0, peak_mmap = 0;
  int64_t peak_mmap_t;
  sqlite3_stmt *st = NULL;
  int rc = HQ_OK;
  char prog[sizeof h->program + 1], cmd[sizeof h->cmdline + 1], host[sizeof h->host + 1];
  snprintf(prog, sizeof prog, "%.*s", (int)sizeof h->program, h->program);
  snprintf(cmd, sizeof cmd, "%.*s", (int)sizeof h->cmdline, h->cmdline);
  snprintf(host, sizeof host, "%.*s", (int)sizeof h->host, h->host);
  if (im->agg) hq__agg_class_peak(im->agg, HQ_CLASS_MMAP, &peak_mmap, &peak_mmap_t);
  for (size_t i = 0; i < im->rss.n; i++) {
    if (im->rss.v[i].rss_bytes > peak_rss) {
      peak_rss = im->rss.v[i].rss_bytes;
      peak_rss_t = im->rss.v[i].t;
    }
  }
  if (!im->complete && !im->reason[0])
    snprintf(im->reason, sizeof im->reason, "%s",
             im->truncated ? "the trace is truncated (the process was killed mid-write, or the disk filled)"
                           : "the process did not finish normally (killed, crashed, or still running)");
#define SETI(k, v) if (!rc) rc = hq__meta_set_int(im->db, k, (int64_t)(v))
#define SETT(k, v) if (!rc) rc = meta_text(im, k, v)
  SETT("heapql_version", HQ_VERSION_STRING);
  SETT("program", prog);
  SETT("command_line", cmd);
  SETT("host", host);
  SETI("pid", h->pid);
  SETI("ppid", h->ppid);
  SETI("t_start_unix_ns", h->t0_unix_ns);
  SETI("t0_mono_ns", h->t0_mono_ns); /* CLOCK_MONOTONIC at start: times outside the trace line up */
  SETI("duration_ns", duration);
  if (im->end && im->end->exit_status >= 0) SETI("exit_status", im->end->exit_status);
  if (im->fatal_signal > 0) SETI("exit_signal", im->fatal_signal);
  SETI("complete", im->complete);
  if (!im->complete) {
    SETT("incomplete_reason", im->reason);
  } else if (im->reason[0]) {
    SETT("notes", im->reason);
  }
  SETI("dropped_events", im->end ? im->end->dropped : 0);
  SETI("max_depth", h->max_depth);
  SETI("mmap_recorded", (h->flags & HQ_RAWF_MMAP) != 0);
  SETI("free_stacks", (h->flags & HQ_RAWF_FREE_STACK) != 0);
  SETT("unwinder", (h->flags & HQ_RAWF_FP_UNWIND) ? "fp" : "libunwind");
  SETT("clock", (h->flags & HQ_RAWF_TSC) ? "tsc" : "monotonic");
  if (im->end) SETI("recorder_bytes", im->end->recorder_bytes);
  SETI("unmatched_frees", im->unmatched_frees);
  SETI("recovered_bytes", im->recovered_bytes);
  if (im->embedded_suppressions) SETT("embedded_suppressions", im->embedded_suppressions);
  if (im->python) { /* docs/python.md */
    static const char *const alloc[] = {"pymalloc", "malloc", "debug"};
    char version[32];
    snprintf(version, sizeof version, "%u.%u", im->python->version >> 24,
             (im->python->version >> 16) & 0xff);
    SETT("python_version", version);
    SETI("python_frames", im->python->frames);
    SETT("python_allocator", im->python->allocator < 3 ? alloc[im->python->allocator] : "pymalloc");
  }
  /* the leak check at exit (docs/schema.md, "Leak classes") */
  {
    static const char *const status[] = {"done", "skipped: the recorder was busy writing",
                                         "skipped: no memory for it", "skipped: the trace could not be read"};
    const hq_rec_leak_scan_t *ls = im->leak_scan;
    if (ls) {
      SETT("leak_check", ls->status < 4 ? status[ls->status] : "skipped");
      SETI("leak_check_ns", ls->duration_ns);
      SETI("leak_check_threads", ls->threads);
      SETI("leak_check_threads_unanswered", ls->unanswered);
      SETI("leak_check_root_bytes", ls->root_bytes);
      SETI("leak_check_blocks", ls->blocks);
      SETI("leak_check_memory_bytes", (uint64_t)ls->memory_kib * 1024);
    } else {
      SETT("leak_check", im->complete ? "not run" : "not run: the process did not exit normally");
    }
  }
  /* heapql's own memory for this run (docs/reliability.md): the importer holds one pending row
   * per live block (and its slot in the live map, kept at most half full) */
  SETI("import_peak_live_blocks", im->pend.n);
  SETI("import_bytes_per_live_block", sizeof(pending_t) + 4 * sizeof(uint64_t));
  SETI("symbolized", 0);
  /* peak_heap_bytes and peak_heap_t: written by the aggregator, which finds the peak */
  SETI("peak_mmap_bytes", peak_mmap);
  SETI("peak_device_bytes", im->cu.peak_device);
  if (im->cu.peak_device) SETI("peak_device_t", im->cu.peak_device_t);
  if (im->rss.n) {
    SETI("peak_rss_bytes", peak_rss);
    SETI("peak_rss_t", peak_rss_t);
  }
  SETT("output", h->output);
#undef SETI
#undef SETT
  if (rc) return rc;
  rc = hq__db_prepare(im->db,
      "INSERT OR REPLACE INTO processes(pid, ppid, program, command_line, t_start_unix_ns, "
      "duration_ns, exit_status, exit_signal, complete) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?9, ?8)",
      &st);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, h->pid);
  sqlite3_bind_int64(st, 2, h->ppid);
  sqlite3_bind_text(st, 3, prog, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, cmd, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, (int64_t)h->t0_unix_ns);
  sqlite3_bind_int64(st, 6, (int64_t)duration);
  if (im->end && im->end->exit_status >= 0) sqlite3_bind_int64(st, 7, im->end->exit_status);
  sqlite3_bind_int64(st, 8, im->complete);
  if (im->fatal_signal > 0) sqlite3_bind_int64(st, 9, im->fatal_signal);
  if (sqlite3_step(st) != SQLITE_DONE) rc = hq__db_sqlerr(im->db, "processes");
  sqlite3_finalize(st);
  return rc;
}

