/*
 * hq_merge.c: one database from the databases of one job's processes.  Each input is ATTACHed
 * in turn and its rows copied with every id shifted by the output's current largest id, so ids
 * stay unique and every reference (frames -> modules, stacks -> frames, allocations -> stacks,
 * regions, CUDA tables) still points at the same row.  Rows keep their pid; the processes
 * table gets a row per process; meta describes the merge.  The output is built under a
 * temporary name and renamed at the end.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base_int.h"

/* Allocations are copied in slices of this many ids, so progress moves on big inputs. */
#define SLICE 250000

/* The id columns renumbered per input. */
enum { O_MODULE, O_FRAME, O_STACK, O_ALLOC, O_REGION, O_CUDA, O_VMMH, O_VMMM, O_FAIL, O_VA, O_N };
static const char *const id_tables[O_N] = {"modules", "frames", "stacks", "allocations",
                                           "regions", "cuda_calls", "vmm_handles", "vmm_mappings",
                                           "device_failures", "va_reservations"};

/* Meta keys merged across inputs, and how. */
enum { M_SUM, M_MAX, M_MIN };
static const struct { const char *key; int how; } merged_keys[] = {
  {"dropped_events", M_SUM}, {"recorder_bytes", M_SUM}, {"unmatched_frees", M_SUM},
  {"max_depth", M_MAX}, {"complete", M_MIN}, {"symbolized", M_MIN},
};
#define N_MERGED (sizeof merged_keys / sizeof merged_keys[0])

/* Process peaks the merge keeps the largest of: "<name>_bytes", "<name>_t", "<name>_pid". */
#define N_PEAKS 3
static const char *const peak_names[N_PEAKS] = {"peak_heap", "peak_rss", "peak_device"};

typedef struct {
  const char *path;
  int64_t pid, ppid;
  int64_t rows;                /* allocations */
  int64_t start_ns, end_ns;    /* wall clock, 0 when unknown */
  int have_start;
  int64_t peak[N_PEAKS], peak_t[N_PEAKS], peak_mmap;  /* indexed like peak_names */
  int have_peak[N_PEAKS];
  int64_t merged[N_MERGED];
  int have_merged[N_MERGED];
} input_t;

typedef struct {
  hq_db_t *out;
  char *errbuf;
  size_t errcap;
  hq_progress_t progress;
  uint64_t done, total;
} merge_t;

static int fail(merge_t *m, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(merge_t *m, int rc, const char *fmt, ...) {
  va_list ap;
  if (m->errbuf && m->errcap) {
    va_start(ap, fmt);
    vsnprintf(m->errbuf, m->errcap, fmt, ap);
    va_end(ap);
  }
  return rc;
}

static int fail_db(merge_t *m, hq_db_t *db, int rc) {
  return fail(m, rc, "%s", hq_db_errmsg(db));
}

/* One integer from sql on db (NULL -> *found = 0). */
static int q_int(hq_db_t *db, const char *sql, int64_t *out, int *found) {
  sqlite3_stmt *st = NULL;
  int rc = hq__db_prepare(db, sql, &st);
  if (rc) return rc;
  *found = 0;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
      *out = sqlite3_column_int64(st, 0);
      *found = 1;
    }
    rc = HQ_OK;
  } else if (rc == SQLITE_DONE) {
    rc = HQ_OK;
  } else {
    rc = hq__db_sqlerr(db, "query");
  }
  sqlite3_finalize(st);
  return rc;
}

/* Open an input read-only and read what the merge needs to know before copying. */
static int survey(merge_t *m, input_t *in) {
  hq_db_t *db = NULL;
  int64_t dur = 0;
  int rc, found;

  rc = hq_db_open(in->path, HQ_DB_READONLY, &db);
  if (rc) { rc = fail_db(m, db, rc); goto out; }
  if (hq__meta_int(db, "pid", &in->pid) != HQ_OK) {
    rc = q_int(db, "SELECT min(pid) FROM allocations", &in->pid, &found);
    if (rc) { rc = fail_db(m, db, rc); goto out; }
    if (!found) {
      rc = q_int(db, "SELECT min(pid) FROM processes", &in->pid, &found);
      if (rc) { rc = fail_db(m, db, rc); goto out; }
    }
    if (!found) {
      rc = fail(m, HQ_EINVAL, "%s: no process id in meta or allocations", in->path);
      goto out;
    }
  }
  if (hq__meta_int(db, "ppid", &in->ppid) != HQ_OK) in->ppid = -1;
  rc = q_int(db, "SELECT count(*) FROM allocations", &in->rows, &found);
  if (rc) { rc = fail_db(m, db, rc); goto out; }
  in->have_start = hq__meta_int(db, "t_start_unix_ns", &in->start_ns) == HQ_OK;
  if (hq__meta_int(db, "duration_ns", &dur) != HQ_OK) dur = 0;
  in->end_ns = in->start_ns + dur;
  for (int k = 0; k < N_PEAKS; k++) {
    char key[64];
    snprintf(key, sizeof key, "%s_bytes", peak_names[k]);
    in->have_peak[k] = hq__meta_int(db, key, &in->peak[k]) == HQ_OK;
    snprintf(key, sizeof key, "%s_t", peak_names[k]);
    if (hq__meta_int(db, key, &in->peak_t[k]) != HQ_OK) in->peak_t[k] = -1;
  }
  if (hq__meta_int(db, "peak_mmap_bytes", &in->peak_mmap) != HQ_OK) in->peak_mmap = 0;
  for (size_t k = 0; k < N_MERGED; k++)
    in->have_merged[k] = hq__meta_int(db, merged_keys[k].key, &in->merged[k]) == HQ_OK;
out:
  hq_db_close(db);
  return rc;
}

static int exec_fmt(merge_t *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int exec_fmt(merge_t *m, const char *fmt, ...) {
  char sql[4096];
  va_list ap;
  int rc;
  va_start(ap, fmt);
  vsnprintf(sql, sizeof sql, fmt, ap);
  va_end(ap);
  rc = hq__db_exec(m->out, sql);
  return rc ? fail_db(m, m->out, rc) : HQ_OK;
}

static int copy_allocations(merge_t *m, const int64_t *off, int64_t pid) {
  int64_t lo = 0, hi = 0;
  int found, rc;

  rc = q_int(m->out, "SELECT coalesce(min(id), 1) - 1 FROM src.allocations", &lo, &found);
  if (!rc) rc = q_int(m->out, "SELECT coalesce(max(id), 0) FROM src.allocations", &hi, &found);
  if (rc) return fail_db(m, m->out, rc);
  for (int64_t a = lo; a < hi; a += SLICE) {
    int64_t before = 0, after = 0;
    rc = q_int(m->out, "SELECT total_changes()", &before, &found);
    if (rc) return fail_db(m, m->out, rc);
    rc = exec_fmt(m,
                  "INSERT INTO main.allocations(id, pid, kind, device, address, size, alignment,"
                  " stack_id, tid, t_alloc, t_free, free_stack_id, free_tid, free_kind, alloc_seq,"
                  " free_seq, realloc_from, leak_class, stream, pool, region_id)"
                  " SELECT id + %" PRId64 ", coalesce(pid, %" PRId64 "), kind, device, address,"
                  " size, alignment, stack_id + %" PRId64 ", tid, t_alloc, t_free,"
                  " free_stack_id + %" PRId64 ", free_tid, free_kind, alloc_seq, free_seq,"
                  " realloc_from + %" PRId64 ", leak_class, stream, pool, region_id + %" PRId64
                  " FROM src.allocations WHERE id > %" PRId64 " AND id <= %" PRId64,
                  off[O_ALLOC], pid, off[O_STACK], off[O_STACK], off[O_ALLOC], off[O_REGION], a,
                  a + SLICE);
    if (rc) return rc;
    rc = q_int(m->out, "SELECT total_changes()", &after, &found);
    if (rc) return fail_db(m, m->out, rc);
    m->done += (uint64_t)(after - before);
    hq__progress_update(&m->progress, m->done);
  }
  return HQ_OK;
}

static int copy_input(merge_t *m, const input_t *in) {
  int64_t off[O_N], pid = in->pid, n = 0;
  int rc, found, attached = 0, began = 0;
  char *quoted = sqlite3_mprintf("%Q", in->path);

  if (!quoted) return fail(m, HQ_ENOMEM, "out of memory");
  rc = exec_fmt(m, "ATTACH DATABASE %s AS src", quoted);
  sqlite3_free(quoted);
  if (rc) return rc;
  attached = 1;
  rc = exec_fmt(m, "BEGIN");
  if (rc) goto out;
  began = 1;
  for (int t = 0; t < O_N; t++) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT coalesce(max(id), 0) FROM main.%s", id_tables[t]);
    rc = q_int(m->out, sql, &off[t], &found);
    if (rc) { rc = fail_db(m, m->out, rc); goto out; }
  }
  /* Processes: copied when the input has them (a merge of merges), else made from its meta. */
  rc = q_int(m->out, "SELECT count(*) FROM src.processes", &n, &found);
  if (rc) { rc = fail_db(m, m->out, rc); goto out; }
  rc = q_int(m->out,
             "SELECT p.pid FROM main.processes p WHERE p.pid IN (SELECT pid FROM src.processes)"
             " OR (NOT EXISTS(SELECT 1 FROM src.processes) AND p.pid = "
             "(SELECT value FROM src.meta WHERE key = 'pid'))", &n, &found);
  if (rc) { rc = fail_db(m, m->out, rc); goto out; }
  if (found) {
    rc = fail(m, HQ_EINVAL, "%s: process %" PRId64 " is already in the merge (the same database "
              "twice, or runs that are not one job?)", in->path, n);
    goto out;
  }
  rc = exec_fmt(m, "INSERT INTO main.processes SELECT pid, ppid, program, command_line,"
                   " t_start_unix_ns, duration_ns, exit_status, exit_signal, complete"
                   " FROM src.processes");
  if (!rc)
    rc = exec_fmt(m, "INSERT INTO main.processes(pid, ppid, program, command_line,"
                     " t_start_unix_ns, duration_ns, exit_status, exit_signal, complete)"
                     " SELECT %" PRId64 ", (SELECT value FROM src.meta WHERE key = 'ppid'),"
                     " (SELECT value FROM src.meta WHERE key = 'program'),"
                     " (SELECT value FROM src.meta WHERE key = 'command_line'),"
                     " (SELECT value FROM src.meta WHERE key = 't_start_unix_ns'),"
                     " (SELECT value FROM src.meta WHERE key = 'duration_ns'),"
                     " (SELECT value FROM src.meta WHERE key = 'exit_status'),"
                     " (SELECT value FROM src.meta WHERE key = 'exit_signal'),"
                     " coalesce((SELECT value FROM src.meta WHERE key = 'complete'), 0)"
                     " WHERE NOT EXISTS(SELECT 1 FROM src.processes)", pid);
  if (!rc) rc = exec_fmt(m, "INSERT OR IGNORE INTO main.kinds(kind, class) SELECT kind, class FROM src.kinds");
  if (!rc)
    rc = exec_fmt(m, "INSERT INTO main.modules(id, pid, path, build_id, base, size, gen_first,"
                     " gen_last, file_status) SELECT id + %" PRId64 ", coalesce(pid, %" PRId64 "),"
                     " path, build_id, base, size, gen_first, gen_last, file_status"
                     " FROM src.modules", off[O_MODULE], pid);
  if (!rc)
    rc = exec_fmt(m, "INSERT INTO main.frames(id, module_id, ip, offset, function, file, line,"
                     " inline_parent, is_inline) SELECT id + %" PRId64 ", module_id + %" PRId64
                     ", ip, offset, function, file, line, inline_parent + %" PRId64 ", is_inline"
                     " FROM src.frames", off[O_FRAME], off[O_MODULE], off[O_FRAME]);
  if (!rc)
    rc = exec_fmt(m, "INSERT INTO main.stacks(id, parent_id, frame_id, depth) SELECT id + %" PRId64
                     ", parent_id + %" PRId64 ", frame_id + %" PRId64 ", depth FROM src.stacks",
                  off[O_STACK], off[O_STACK], off[O_FRAME]);
  if (!rc)
    rc = exec_fmt(m, "INSERT INTO main.threads(pid, tid, name, t_start, t_end)"
                     " SELECT coalesce(pid, %" PRId64 "), tid, name, t_start, t_end FROM src.threads",
                  pid);
  if (!rc) {
    /* schema 1 databases have no NVTX columns: theirs are annotate.h's thread regions */
    int64_t v2 = 0;
    int has = 0;
    rc = q_int(m->out, "SELECT count(*) FROM pragma_table_info('regions', 'src') WHERE name = 'scope'",
               &v2, &has);
    if (!rc)
      rc = exec_fmt(m, "INSERT INTO main.regions(id, pid, name, parent_id, tid, t_begin, t_end,"
                       " source, domain, category, category_name, scope)"
                       " SELECT id + %" PRId64 ", coalesce(pid, %" PRId64 "), name, parent_id + %" PRId64
                       ", tid, t_begin, t_end, %s FROM src.regions", off[O_REGION], pid, off[O_REGION],
                    v2 ? "source, domain, category, category_name, scope"
                       : "'annotate', NULL, NULL, NULL, 'thread'");
  }
  if (!rc) rc = copy_allocations(m, off, pid);
  if (!rc)
    rc = exec_fmt(m, "INSERT INTO main.counters(pid, name, t, value) SELECT coalesce(pid, %" PRId64
                     "), name, t, value FROM src.counters", pid);
  if (!rc)
    rc = exec_fmt(m, "INSERT INTO main.samples(pid, t, heap_bytes, mmap_bytes, device_bytes,"
                     " rss_bytes) SELECT coalesce(pid, %" PRId64 "), t, heap_bytes, mmap_bytes,"
                     " device_bytes, rss_bytes FROM src.samples", pid);
  if (!rc)
    rc = exec_fmt(m, "INSERT INTO main.cuda_calls(id, pid, tid, t, api, result, address, handle,"
                     " size, flags, stream, pool, device, duration_ns, stack_id) SELECT id + %" PRId64
                     ", coalesce(pid, %" PRId64 "), tid, t, api, result, address, handle, size, flags,"
                     " stream, pool, device, duration_ns, stack_id + %" PRId64 " FROM src.cuda_calls",
                  off[O_CUDA], pid, off[O_STACK]);
  if (!rc)
    rc = exec_fmt(m, "INSERT INTO main.vmm_handles(id, pid, handle, size, device, t_create,"
                     " t_release, stack_id) SELECT id + %" PRId64 ", coalesce(pid, %" PRId64 "),"
                     " handle, size, device, t_create, t_release, stack_id + %" PRId64
                     " FROM src.vmm_handles", off[O_VMMH], pid, off[O_STACK]);
  if (!rc)
    rc = exec_fmt(m, "INSERT INTO main.vmm_mappings(id, pid, handle_id, address, size, offset,"
                     " t_map, t_unmap) SELECT id + %" PRId64 ", coalesce(pid, %" PRId64 "),"
                     " handle_id + %" PRId64 ", address, size, offset, t_map, t_unmap"
                     " FROM src.vmm_mappings", off[O_VMMM], pid, off[O_VMMH]);
  if (!rc) {
    /* schema 2's CUDA tables; a schema-1 input has none */
    int64_t v2 = 0;
    int has = 0;
    rc = q_int(m->out, "SELECT count(*) FROM src.sqlite_master WHERE name = 'device_failures'",
               &v2, &has);
    if (!rc && v2)
      rc = exec_fmt(m, "INSERT INTO main.device_failures(id, pid, call_id, t, api, result, size,"
                       " device, live_blocks, live_bytes, stack_id) SELECT id + %" PRId64
                       ", coalesce(pid, %" PRId64 "), call_id + %" PRId64 ", t, api, result, size,"
                       " device, live_blocks, live_bytes, stack_id + %" PRId64
                       " FROM src.device_failures", off[O_FAIL], pid, off[O_CUDA], off[O_STACK]);
    if (!rc && v2)
      rc = exec_fmt(m, "INSERT INTO main.device_failure_live(failure_id, stack_id, blocks, bytes)"
                       " SELECT failure_id + %" PRId64 ", stack_id + %" PRId64 ", blocks, bytes"
                       " FROM src.device_failure_live", off[O_FAIL], off[O_STACK]);
    if (!rc && v2)
      rc = exec_fmt(m, "INSERT INTO main.va_reservations(id, pid, tid, address, size, alignment,"
                       " device, t_reserve, t_free, stack_id) SELECT id + %" PRId64
                       ", coalesce(pid, %" PRId64 "), tid, address, size, alignment, device,"
                       " t_reserve, t_free, stack_id + %" PRId64 " FROM src.va_reservations",
                    off[O_VA], pid, off[O_STACK]);
    if (!rc && v2)
      rc = exec_fmt(m, "INSERT INTO main.pool_samples(pid, t, pool, device, reserved_bytes,"
                       " used_bytes, source) SELECT coalesce(pid, %" PRId64 "), t, pool, device,"
                       " reserved_bytes, used_bytes, source FROM src.pool_samples", pid);
  }
  if (rc) goto out;
  rc = exec_fmt(m, "COMMIT");
  began = 0;
out:
  if (began) hq__db_exec(m->out, "ROLLBACK");
  if (attached) hq__db_exec(m->out, "DETACH DATABASE src");
  return rc;
}

static int set_meta_int(merge_t *m, const char *key, int64_t v) {
  int rc = hq__meta_set_int(m->out, key, v);
  return rc ? fail_db(m, m->out, rc) : HQ_OK;
}

/* The process the job started from: the first input whose parent is not among the inputs. */
static size_t root_input(const input_t *in, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int child = 0;
    for (size_t j = 0; j < n && !child; j++) child = j != i && in[j].pid == in[i].ppid;
    if (!child) return i;
  }
  return 0;
}

static int write_meta(merge_t *m, const input_t *in, size_t n) {
  size_t root = root_input(in, n);
  int64_t start = INT64_MAX, end = INT64_MIN, processes = 0;
  int rc, found;
  char *quoted = NULL;
  size_t len = 0;
  char *from = NULL;

  /* Copy the root input's own meta first; the merge's figures then replace what they must. */
  quoted = sqlite3_mprintf("%Q", in[root].path);
  if (!quoted) return fail(m, HQ_ENOMEM, "out of memory");
  rc = exec_fmt(m, "ATTACH DATABASE %s AS src", quoted);
  sqlite3_free(quoted);
  if (rc) return rc;
  rc = exec_fmt(m, "INSERT OR REPLACE INTO main.meta(key, value) SELECT key, value FROM src.meta"
                   " WHERE key NOT IN ('schema_version', 'aggregates_built')");
  hq__db_exec(m->out, "DETACH DATABASE src");
  if (rc) return rc;

  for (size_t i = 0; i < n; i++) {
    if (in[i].have_start) {
      if (in[i].start_ns < start) start = in[i].start_ns;
      if (in[i].end_ns > end) end = in[i].end_ns;
    }
  }
  for (size_t k = 0; k < N_MERGED && !rc; k++) {
    int64_t v = 0;
    int have = 0;
    for (size_t i = 0; i < n; i++) {
      if (!in[i].have_merged[k]) continue;
      if (!have) v = in[i].merged[k];
      else if (merged_keys[k].how == M_SUM) v += in[i].merged[k];
      else if (merged_keys[k].how == M_MAX && in[i].merged[k] > v) v = in[i].merged[k];
      else if (merged_keys[k].how == M_MIN && in[i].merged[k] < v) v = in[i].merged[k];
      have = 1;
    }
    if (have) rc = set_meta_int(m, merged_keys[k].key, v);
  }
  if (!rc && start != INT64_MAX) {
    rc = set_meta_int(m, "t_start_unix_ns", start);
    if (!rc) rc = set_meta_int(m, "duration_ns", end - start);
  }
  /* Peaks of different processes happened on different clocks: the merge keeps the largest
   * process peak and says whose it is (peak_heap_t is on that process's clock). */
  for (int k = 0; k < N_PEAKS && !rc; k++) {
    size_t best = n;
    char key[64];
    for (size_t i = 0; i < n; i++)
      if (in[i].have_peak[k] && (best == n || in[i].peak[k] > in[best].peak[k])) best = i;
    if (best == n) continue;
    snprintf(key, sizeof key, "%s_bytes", peak_names[k]);
    rc = set_meta_int(m, key, in[best].peak[k]);
    snprintf(key, sizeof key, "%s_t", peak_names[k]);
    if (!rc && in[best].peak_t[k] >= 0) rc = set_meta_int(m, key, in[best].peak_t[k]);
    snprintf(key, sizeof key, "%s_pid", peak_names[k]);
    if (!rc) rc = set_meta_int(m, key, in[best].pid);
  }
  if (!rc) {
    int64_t mm = 0;
    for (size_t i = 0; i < n; i++) if (in[i].peak_mmap > mm) mm = in[i].peak_mmap;
    rc = set_meta_int(m, "peak_mmap_bytes", mm);
  }
  if (!rc) {
    rc = q_int(m->out, "SELECT count(*) FROM processes", &processes, &found);
    if (rc) rc = fail_db(m, m->out, rc);
  }
  if (!rc) rc = set_meta_int(m, "processes", processes);
  if (!rc) rc = set_meta_int(m, "pid", in[root].pid);
  if (!rc) rc = set_meta_int(m, "merged", 1);
  for (size_t i = 0; i < n; i++) len += strlen(in[i].path) + 1;
  from = malloc(len + 1);
  if (!from) return fail(m, HQ_ENOMEM, "out of memory");
  from[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    strcat(from, in[i].path);
    if (i + 1 < n) strcat(from, "\n");
  }
  if (!rc) {
    rc = hq_db_meta_set(m->out, "merged_from", from);
    if (rc) rc = fail_db(m, m->out, rc);
  }
  if (!rc) {
    rc = hq_db_meta_set(m->out, "heapql_version", HQ_VERSION_STRING);
    if (rc) rc = fail_db(m, m->out, rc);
  }
  free(from);
  return rc;
}

static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int hq_merge(const char *const *inputs, size_t n, const char *out_path,
             const hq_merge_opts_t *opts, hq_merge_stats_t *out_stats, char *errbuf,
             size_t errcap) {
  hq_merge_opts_t defaults = {0};
  merge_t m = {.errbuf = errbuf, .errcap = errcap};
  input_t *in = NULL;
  hq__out_t out;
  uint64_t t0 = hq__now_ns();
  int rc = HQ_OK, created = 0;

  if (errbuf && errcap) errbuf[0] = '\0';
  if (out_stats) memset(out_stats, 0, sizeof *out_stats);
  if (!opts) opts = &defaults;
  if (!inputs || n == 0 || !out_path) return fail(&m, HQ_EINVAL, "merge: no input databases");
  if (!opts->force && access(out_path, F_OK) == 0)
    return fail(&m, HQ_EEXIST, "%s: already exists (use --force to replace it)", out_path);
  in = calloc(n, sizeof *in);
  if (!in) { rc = fail(&m, HQ_ENOMEM, "out of memory"); goto out; }

  for (size_t i = 0; i < n; i++) {
    in[i].path = inputs[i];
    if (same_file(inputs[i], out_path)) {
      rc = fail(&m, HQ_EINVAL, "%s: the output is also an input", out_path);
      goto out;
    }
    for (size_t j = 0; j < i; j++) {
      if (same_file(inputs[i], inputs[j])) {
        rc = fail(&m, HQ_EINVAL, "%s: given twice", inputs[i]);
        goto out;
      }
    }
    rc = survey(&m, &in[i]);
    if (rc) goto out;
    for (size_t j = 0; j < i; j++) {
      if (in[i].pid == in[j].pid) {
        rc = fail(&m, HQ_EINVAL, "%s: process %" PRId64 " is also in %s (the same run twice, or "
                  "runs that are not one job?)", inputs[i], in[i].pid, inputs[j]);
        goto out;
      }
    }
    m.total += (uint64_t)in[i].rows;
  }

  /* A temporary file beside the output, renamed into place only when complete. */
  rc = hq__out_open(&out, out_path, HQ__OUT_REGULAR | (opts->force ? HQ__OUT_REPLACE : 0), 0600,
                    errbuf, errcap);
  if (rc) goto out;
  created = 1;
  close(out.fd);
  out.fd = -1;
  rc = hq_db_open(hq__out_path(&out), HQ_DB_CREATE | HQ__DB_INTO_EMPTY, &m.out);
  if (rc) {
    rc = fail(&m, rc == HQ_EDB ? HQ_EIO : rc, "%s: cannot write: %s", out_path,
              hq_db_errmsg(m.out));
    goto out;
  }
  hq__progress_init(&m.progress, opts->progress, "merging", m.total);
  for (size_t i = 0; i < n && !rc; i++) rc = copy_input(&m, &in[i]);
  if (!rc) rc = write_meta(&m, in, n);
  if (!rc) {
    rc = hq__db_exec(m.out, "BEGIN");
    if (!rc) rc = hq__aggregate_build(m.out);
    if (!rc) rc = hq__meta_set_int(m.out, "aggregates_built", 1); /* as the importer does */
    if (!rc) rc = hq__db_exec(m.out, "COMMIT");
    if (rc) rc = fail_db(&m, m.out, rc);
  }
  hq__progress_done(&m.progress);
  if (rc) goto out;
  if (out_stats) {
    int found;
    int64_t v = 0;
    out_stats->inputs = n;
    if (q_int(m.out, "SELECT count(*) FROM processes", &v, &found) == HQ_OK) out_stats->processes = (uint64_t)v;
    if (q_int(m.out, "SELECT count(*) FROM allocations", &v, &found) == HQ_OK) out_stats->allocations = (uint64_t)v;
    if (q_int(m.out, "SELECT count(*) FROM stacks", &v, &found) == HQ_OK) out_stats->stacks = (uint64_t)v;
    if (q_int(m.out, "SELECT count(*) FROM frames", &v, &found) == HQ_OK) out_stats->frames = (uint64_t)v;
  }
  hq_db_close(m.out);
  m.out = NULL;
  created = 0;
  if ((rc = hq__out_commit(&out, errbuf, errcap))) goto out;
  if (out_stats) out_stats->elapsed_ns = hq__now_ns() - t0;
out:
  hq_db_close(m.out);
  if (created) hq__out_abort(&out); /* the temporary file only */
  free(in);
  return rc;
}
