/*
 * hq_import.c: hq_import(), the importer's driver.  A raw trace (heapql/internal/rawfmt.h)
 * becomes a heapql database, built in a temporary file beside the target inside one
 * transaction and renamed into place only when complete: never a half database.  A trace cut
 * short gives a valid database marked incomplete.  The rules for code that may run inside the
 * host program's exit are in import_int.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "import/import_int.h"

/* The aggregator found a new heap peak: remember the other totals at that moment. */
static void on_heap_peak(void *arg, uint64_t bytes, int64_t t) {
  import_t *im = arg;
  im->peak_heap = bytes;
  im->peak_heap_t = t;
  im->mmap_at_heap_peak = im->mmap_live;
  im->device_at_heap_peak = im->device_live;
}

static void import_free(import_t *im) {
  hq__rowq_abort(im->rowq); /* first: its rows point into the mapping */
  im->rowq = NULL;
  if (im->agg) hq__agg_abort(im->agg);
  im->agg = NULL;
  hq__imp_cuda_free(im);
  for (size_t i = 0; i < im->streams.n; i++) {
    free(im->streams.v[i].spans.v);
    free(im->streams.v[i].regions.v);
  }
  free(im->streams.v);
  free(im->modules.v);
  free(im->rss.v);
  free(im->regions.v);
  free(im->nvtx_names.v);
  hq__map_free(&im->range_of);
  free(im->pend.v);
  free(im->pend_free.v);
  hq__map_free(&im->stream_of);
  hq__map_free(&im->stack_def);
  hq__map_free(&im->pycode);
  free(im->leak_recs.v);
  hq__map_free(&im->stack_id);
  hq__map_free(&im->frame_of);
  hq__map_free(&im->trie);
  hq__map_free(&im->live);
  if (im->map) munmap((void *)im->map, im->map_len);
}

int hq_import(const char *raw_path, const char *db_path, const hq_import_opts_t *opts,
              hq_import_stats_t *out_stats, char *errbuf, size_t errcap) {
  import_t im;
  hq_progress_t prog;
  hq__out_t out;
  int fd = -1, rc = HQ_OK, in_txn = 0, have_out = 0;
  hq_import_opts_t dflt = {0, 0, 0};

  memset(&im, 0, sizeof im);
  if (errbuf && errcap) errbuf[0] = '\0';
  if (!opts) opts = &dflt;
  if (!raw_path || !db_path) return HQ_MISUSE_BKPT;
#define FAIL(code, ...) do { rc = (code); if (errbuf && errcap) snprintf(errbuf, errcap, __VA_ARGS__); goto out; } while (0)
  fd = open(raw_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) FAIL(errno == ENOENT ? HQ_ENOENT : HQ_EIO, "%s: %s", raw_path, strerror(errno));
  if ((rc = hq__imp_map(&im, fd, raw_path, errbuf, errcap))) goto out;
  if (hq__map_init(&im.stream_of, 64) || hq__map_init(&im.stack_def, 4096) || hq__map_init(&im.pycode, 64) || hq__map_init(&im.range_of, 64) ||
      hq__map_init(&im.stack_id, 4096) || hq__map_init(&im.frame_of, 4096) ||
      hq__map_init(&im.trie, 4096) || hq__map_init(&im.live, 4096))
    FAIL(HQ_ENOMEM, "out of memory");
  if ((rc = hq__imp_pass1(&im))) FAIL(rc, "%s: %s", raw_path, hq_strerror(rc));

  /* Build into a temporary file beside the target (mode 0600: a database holds addresses and
   * paths), then rename: never a half database, never a file heapql did not create removed. */
  if ((rc = hq__out_open(&out, db_path, HQ__OUT_REGULAR | (opts->force ? HQ__OUT_REPLACE : 0),
                         0600, errbuf, errcap)))
    goto out;
  have_out = 1;
  close(out.fd);
  out.fd = -1;
  rc = hq_db_open(hq__out_path(&out), HQ_DB_CREATE | HQ__DB_INTO_EMPTY, &im.db);
  if (rc) FAIL(rc, "%s", hq_db_errmsg(im.db));
  /* Import-time only: in-memory sorting, and a page cache of 64 MiB.  Rows are appended, so
   * full pages are never touched again: written out as the writer goes, they cost less than
   * all of them at COMMIT, where nothing else can run (a 1 GiB cache took 0.5 s longer on 10M
   * events, and 270 MB more memory). */
  if ((rc = hq__db_exec(im.db, "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY; BEGIN")))
    FAIL(rc, "%s", hq_db_errmsg(im.db));
  in_txn = 1;
  if ((rc = hq__agg_begin(im.db, &im.agg))) FAIL(rc, "%s", hq_db_errmsg(im.db));
  hq__agg_on_heap_peak(im.agg, on_heap_peak, &im);
  if ((rc = hq__imp_write_modules(&im))) FAIL(rc, "%s", hq_db_errmsg(im.db));
  /* The sweep: rows go to the writer thread, which holds the connection until it is done. */
  if ((rc = hq__rowq_start(im.db, hq__imp_tables, T_N_, &im.rowq)))
    FAIL(rc, "%s", hq_db_errmsg(im.db));
  hq__progress_init(&prog, opts->progress, "importing", 0);
  rc = hq__imp_pass2(&im, &prog);
  if (!rc) {
    hq__progress_done(&prog);
    rc = hq__imp_finish_rows(&im);
  }
  if (rc) hq__rowq_abort(im.rowq);
  else rc = hq__rowq_finish(im.rowq);
  im.rowq = NULL;
  if (rc) FAIL(rc, "%s", im.db->errmsg[0] ? hq_db_errmsg(im.db) : hq_strerror(rc));
  if ((rc = hq__imp_write_threads_regions(&im))) FAIL(rc, "%s", hq_db_errmsg(im.db));
  if ((rc = hq__imp_write_failures(&im))) FAIL(rc, "%s", hq_db_errmsg(im.db));
  if ((rc = hq__imp_write_meta(&im))) FAIL(rc, "%s", hq_db_errmsg(im.db));
  /* No index on allocations: building one costs a third of the import, and reports read the
   * aggregate tables.  Ad-hoc queries that filter allocations by stack can add their own. */
  if ((rc = hq__db_exec(im.db, "CREATE INDEX stacks_by_parent ON stacks(parent_id);")))
    FAIL(rc, "%s", hq_db_errmsg(im.db));
  /* The aggregates were fed during the sweep; this writes them (and the exact peak meta). */
  rc = hq__agg_finish(im.agg);
  im.agg = NULL;
  if (rc) FAIL(rc, "%s", hq_db_errmsg(im.db));
  if ((rc = hq__meta_set_int(im.db, "aggregates_built", 1))) FAIL(rc, "%s", hq_db_errmsg(im.db));
  if ((rc = hq__db_exec(im.db, "COMMIT"))) FAIL(rc, "%s", hq_db_errmsg(im.db));
  in_txn = 0;
  if (opts->symbolize && (rc = hq__imp_symbolize(im.db, opts->progress)))
    FAIL(rc, "%s", hq_db_errmsg(im.db));
  hq__imp_cuda_free(&im);
  hq_db_close(im.db);
  im.db = NULL;
  have_out = 0;
  if ((rc = hq__out_commit(&out, errbuf, errcap))) goto out;
  if (out_stats) {
    out_stats->events = im.events;
    out_stats->allocations = im.rows;
    out_stats->stacks = im.stack_id.len;
    out_stats->complete = im.complete;
  }
#undef FAIL
out:
  hq__rowq_abort(im.rowq); /* the connection is ours again before anything else touches it */
  im.rowq = NULL;
  if (im.db) {
    if (in_txn) sqlite3_exec(im.db->sql, "ROLLBACK", NULL, NULL, NULL);
    import_free(&im);
    hq_db_close(im.db);
  } else {
    import_free(&im);
  }
  if (have_out) hq__out_abort(&out); /* the temporary file only */
  if (fd >= 0) close(fd);
  return rc;
}

