/*
 * hq_import_read.c: the raw trace in memory, its times in ns, and pass 1 over its top-level
 * records (module map, RSS samples, notes, END, thread names, each thread's chunks, and an index
 * of the stack definitions by hash).  A trace cut short ends pass 1 where it stops being whole.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import/import_int.h"

/* ---- TSC traces: ticks to ns, before anything reads a time ---- */

/* Call fn on every complete record, top level and (unless top_only) inside chunks, until the
 * first bad one. */
static void walk_records(import_t *im, int top_only, void (*fn)(hq_rec_hdr_t *h, void *arg),
                         void *arg) {
  size_t pos = im->hdr->header_size;
  while (pos + sizeof(hq_rec_hdr_t) <= im->map_len) {
    hq_rec_hdr_t *h = (hq_rec_hdr_t *)(uintptr_t)(im->map + pos);
    if (h->len < sizeof *h || (h->len & 7) || pos + h->len > im->map_len) return;
    if (h->type == HQ_REC_CHUNK && top_only) {
      /* its records are converted when the sweep reaches them */
    } else if (h->type == HQ_REC_CHUNK && h->len >= sizeof(hq_rec_chunk_t)) {
      size_t in = sizeof(hq_rec_chunk_t);
      while (in + sizeof(hq_rec_hdr_t) <= h->len) {
        hq_rec_hdr_t *r = (hq_rec_hdr_t *)((unsigned char *)h + in);
        if (r->len < sizeof *r || (r->len & 7) || in + r->len > h->len) break;
        fn(r, arg);
        in += r->len;
      }
    } else {
      fn(h, arg);
    }
    pos += h->len;
  }
}

static void find_last_clock(hq_rec_hdr_t *h, void *arg) {
  const hq_rec_clock_t **last = arg;
  if (h->type == HQ_REC_CLOCK && h->len >= sizeof(hq_rec_clock_t) &&
      ((const hq_rec_clock_t *)h)->tick > 0)
    *last = (const hq_rec_clock_t *)h;
}

static void convert_record(hq_rec_hdr_t *h, void *arg) {
  const double k = *(const double *)arg;
  uint64_t *t = NULL, *t2 = NULL;
#define TIME_FIELD(type, field) \
  (h->len >= offsetof(type, field) + sizeof(uint64_t) ? &((type *)h)->field : NULL)
  switch (h->type) {
  case HQ_REC_ALLOC: t = TIME_FIELD(hq_rec_alloc_t, t); break;
  case HQ_REC_FREE: t = TIME_FIELD(hq_rec_free_t, t); break;
  case HQ_REC_REALLOC: t = TIME_FIELD(hq_rec_realloc_t, t); t2 = TIME_FIELD(hq_rec_realloc_t, t_old); break;
  case HQ_REC_THREAD_START: case HQ_REC_THREAD_END: t = TIME_FIELD(hq_rec_time_t, t); break;
  case HQ_REC_MUNMAP: t = TIME_FIELD(hq_rec_munmap_t, t); break;
  case HQ_REC_REGION_BEGIN: case HQ_REC_REGION_END: t = TIME_FIELD(hq_rec_region_t, t); break;
  case HQ_REC_COUNTER: t = TIME_FIELD(hq_rec_counter_t, t); break;
  case HQ_REC_RANGE_START: case HQ_REC_RANGE_END: t = TIME_FIELD(hq_rec_range_t, t); break;
  case HQ_REC_POOL_RESET: t = TIME_FIELD(hq_rec_pool_reset_t, t); break;
  case HQ_REC_POOL_SAMPLE: t = TIME_FIELD(hq_rec_pool_sample_t, t); break;
  case HQ_REC_CUDA_CALL: t = TIME_FIELD(hq_rec_cuda_call_t, t); t2 = TIME_FIELD(hq_rec_cuda_call_t, duration_ns); break;
  case HQ_REC_MODULE: t = TIME_FIELD(hq_rec_module_t, t); break;
  case HQ_REC_MODULE_GONE: t = TIME_FIELD(hq_rec_module_gone_t, t); break;
  case HQ_REC_RSS: t = TIME_FIELD(hq_rec_rss_t, t); break;
  case HQ_REC_NOTE: t = TIME_FIELD(hq_rec_note_t, t); break;
  case HQ_REC_END: t = TIME_FIELD(hq_rec_end_t, t); break;
  case HQ_REC_FATAL: t = TIME_FIELD(hq_rec_fatal_t, t); break;
  default: break;
  }
#undef TIME_FIELD
  /* One linear map through the origin: the order of ticks is the order of the ns. */
  if (t) *t = (uint64_t)((double)*t * k + 0.5);
  if (t2) *t2 = (uint64_t)((double)*t2 * k + 0.5);
}

/* Ticks to ns.  An anonymous copy (a trace with a dead process's rings appended) is converted
 * whole; a file mapping only at the top level now, and each chunk's records as the sweep reaches
 * them (hq__imp_span_ready): written pages of a private file mapping become private copies, and
 * converting up front would hold the whole trace in memory at once. */
static void convert_tsc_times(import_t *im) {
  const hq_rec_clock_t *last = NULL;
  double k = im->hdr->tsc_ns_per_tick;
  walk_records(im, 1, find_last_clock, &last);
  /* The longest span measured by the writer beats the start-up estimate. */
  if (last && last->mono_ns > 1000000) k = (double)last->mono_ns / (double)last->tick;
  if (!(k > 0.0)) k = 1.0;
  im->tsc_k = k;
  im->lazy_tsc = !im->map_owned;
  walk_records(im, !im->map_owned, convert_record, &k);
}

void hq__imp_span_ready(import_t *im, const span_t *sp) {
  size_t pos = 0;
  if (!im->lazy_tsc) return;
  while (pos + sizeof(hq_rec_hdr_t) <= sp->len) {
    hq_rec_hdr_t *h = (hq_rec_hdr_t *)(uintptr_t)(sp->p + pos);
    if (h->len < sizeof *h || (h->len & 7) || pos + h->len > sp->len) break;
    convert_record(h, &im->tsc_k);
    pos += h->len;
  }
}

void hq__imp_span_done(import_t *im, const span_t *sp) {
  long page = sysconf(_SC_PAGESIZE);
  uintptr_t lo, hi;
  if (im->map_owned || page <= 0) return; /* an anonymous copy would come back as zeros */
  lo = ((uintptr_t)sp->p + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
  hi = ((uintptr_t)sp->p + sp->len) & ~((uintptr_t)page - 1);
  /* only the pages inside the span: a page it shares holds another span's records, or a
   * top-level record, which may be read (or converted) later */
  if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* ---- pass 1: top-level records ---- */

static stream_t *stream_for(import_t *im, uint32_t tid, int *rc) {
  uint64_t idx;
  stream_t s;
  if (hq__map_get(&im->stream_of, (uint64_t)tid + 1, &idx)) return &im->streams.v[idx - 1];
  memset(&s, 0, sizeof s);
  s.tid = tid;
  VEC_PUSH(im->streams, s, *rc);
  if (*rc) return NULL;
  *rc = hq__map_put(&im->stream_of, (uint64_t)tid + 1, im->streams.n);
  return *rc ? NULL : &im->streams.v[im->streams.n - 1];
}

/* Index the stack definitions inside one chunk. */
static int index_chunk(import_t *im, span_t sp) {
  size_t pos = 0;
  while (pos + sizeof(hq_rec_hdr_t) <= sp.len) {
    const hq_rec_hdr_t *h = (const hq_rec_hdr_t *)(sp.p + pos);
    if (h->len < sizeof *h || (h->len & 7) || pos + h->len > sp.len) return HQ_EFORMAT;
    if (h->type == HQ_REC_STACK) {
      const hq_rec_stack_t *s = (const hq_rec_stack_t *)h;
      uint64_t dummy;
      if (h->len < sizeof *s || sizeof *s + (size_t)s->depth * 8 > h->len) return HQ_EFORMAT;
      if (!hq__map_get(&im->stack_def, s->hash, &dummy) &&
          hq__map_put(&im->stack_def, s->hash, (uint64_t)((const unsigned char *)s - im->map)))
        return HQ_ENOMEM;
    } else if (h->type == HQ_REC_PYCODE) {
      int rc = hq__imp_index_pycode(im, h);
      if (rc) return rc;
    }
    pos += h->len;
  }
  return HQ_OK;
}

int hq__imp_pass1(import_t *im) {
  size_t pos = im->hdr->header_size;
  int rc = HQ_OK;
  while (pos < im->map_len) {
    const hq_rec_hdr_t *h = (const hq_rec_hdr_t *)(im->map + pos);
    if (pos + sizeof *h > im->map_len || h->len < sizeof *h || (h->len & 7) ||
        pos + h->len > im->map_len) {
      im->truncated = 1;
      break;
    }
    switch (h->type) {
    case HQ_REC_CHUNK: {
      const hq_rec_chunk_t *c = (const hq_rec_chunk_t *)h;
      span_t sp = {im->map + pos + sizeof *c, h->len - sizeof *c};
      stream_t *s;
      if (h->len < sizeof *c) { im->truncated = 1; goto done; }
      if (index_chunk(im, sp) != HQ_OK) { im->truncated = 1; goto done; }
      hq__imp_span_done(im, &sp); /* read again, span by span, by the sweep */
      s = stream_for(im, c->tid, &rc);
      if (!s) return rc;
      VEC_PUSH(s->spans, sp, rc);
      break;
    }
    case HQ_REC_MODULE: {
      const hq_rec_module_t *m = (const hq_rec_module_t *)h;
      module_t mod;
      if (sizeof *m + m->build_id_len + m->path_len > h->len || m->path_len == 0) {
        im->truncated = 1;
        goto done;
      }
      mod.base = m->base;
      mod.size = m->size;
      mod.gen_first = m->gen;
      mod.gen_gone = UINT32_MAX;
      mod.build_id = (const unsigned char *)(m + 1);
      mod.build_id_len = m->build_id_len;
      mod.path = (const char *)(m + 1) + m->build_id_len;
      if (mod.path[m->path_len - 1] != '\0') { im->truncated = 1; goto done; }
      VEC_PUSH(im->modules, mod, rc);
      break;
    }
    case HQ_REC_MODULE_GONE: {
      const hq_rec_module_gone_t *g = (const hq_rec_module_gone_t *)h;
      for (size_t i = im->modules.n; i-- > 0;) {
        module_t *m = &im->modules.v[i];
        if (m->base == g->base && m->gen_gone == UINT32_MAX && m->gen_first < g->gen) {
          m->gen_gone = g->gen;
          break;
        }
      }
      break;
    }
    case HQ_REC_RSS:
      VEC_PUSH(im->rss, *(const hq_rec_rss_t *)h, rc);
      break;
    case HQ_REC_THREAD_NAME: {
      const hq_rec_thread_name_t *tn = (const hq_rec_thread_name_t *)h;
      stream_t *s = stream_for(im, tn->tid, &rc);
      if (!s) return rc;
      memcpy(s->name, tn->name, 16);
      s->name[16] = '\0';
      break;
    }
    case HQ_REC_NOTE: {
      const hq_rec_note_t *n = (const hq_rec_note_t *)h;
      snprintf(im->reason, sizeof im->reason, "%.*s", (int)sizeof n->text, n->text);
      break;
    }
    case HQ_REC_END:
      im->end = (const hq_rec_end_t *)h;
      break;
    case HQ_REC_FATAL:
      if (h->len >= sizeof(hq_rec_fatal_t)) im->fatal_signal = ((const hq_rec_fatal_t *)h)->signo;
      break;
    case HQ_REC_LEAK_CLASSES: {
      const hq_rec_leak_classes_t *lc = (const hq_rec_leak_classes_t *)h;
      const hq_leak_entry_t *e = (const hq_leak_entry_t *)(lc + 1);
      if (h->len < sizeof *lc || sizeof *lc + (size_t)lc->n * sizeof *e > h->len) {
        im->truncated = 1;
        goto done;
      }
      VEC_PUSH(im->leak_recs, lc, rc); /* applied to the blocks still live at the end */
      break;
    }
    case HQ_REC_TEXT: {
      const hq_rec_text_t *tx = (const hq_rec_text_t *)h;
      if (h->len >= sizeof *tx && sizeof *tx + tx->len < h->len && h->kind == HQ_TEXT_SUPPRESSIONS)
        im->embedded_suppressions = (const char *)(tx + 1);
      break;
    }
    case HQ_REC_NVTX_NAME: {
      const hq_rec_nvtx_name_t *nn = (const hq_rec_nvtx_name_t *)h;
      nvtx_name_t n;
      if (h->len < sizeof *nn || sizeof *nn + (size_t)nn->name_len > h->len) break;
      n.what = nn->what;
      n.domain = nn->domain;
      n.id = nn->id;
      n.name = (const char *)(nn + 1);
      n.name_len = nn->name_len;
      VEC_PUSH(im->nvtx_names, n, rc);
      break;
    }
    case HQ_REC_PYTHON:
      if (h->len >= sizeof(hq_rec_python_t)) im->python = (const hq_rec_python_t *)h;
      break;
    case HQ_REC_LEAK_SCAN:
      if (h->len >= sizeof(hq_rec_leak_scan_t)) im->leak_scan = (const hq_rec_leak_scan_t *)h;
      break;
    default:
      break; /* a newer recorder's record: skip it */
    }
    if (rc) return rc;
    pos += h->len;
  }
done:
  im->complete = im->end != NULL && !im->truncated;
  return rc;
}

/* ---- the mapping ---- */

int hq__imp_map(import_t *im, int fd, const char *raw_path, char *errbuf, size_t errcap) {
  struct stat sb;
  int rc = HQ_OK;
#define FAIL(code, ...) do { rc = (code); if (errbuf && errcap) snprintf(errbuf, errcap, __VA_ARGS__); goto out; } while (0)
  if (fstat(fd, &sb) != 0) FAIL(HQ_EIO, "%s: %s", raw_path, strerror(errno));
  if (!S_ISREG(sb.st_mode)) FAIL(HQ_EFORMAT, "%s: not a regular file", raw_path);
  if ((size_t)sb.st_size < sizeof(hq_raw_header_t))
    FAIL(HQ_EFORMAT, "%s: not a heapql raw trace", raw_path);
  im->map_len = (size_t)sb.st_size;
  /* Private and writable: TSC traces get their times converted in place (copy on write). */
  im->map = mmap(NULL, im->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (im->map == MAP_FAILED) {
    im->map = NULL;
    FAIL(HQ_EIO, "%s: cannot map: %s", raw_path, strerror(errno));
  }
  im->hdr = (const hq_raw_header_t *)im->map;
  if (memcmp(im->hdr->magic, HQ_RAW_MAGIC, 8) != 0)
    FAIL(HQ_EFORMAT, "%s: not a heapql raw trace", raw_path);
  if (im->hdr->version != HQ_RAW_VERSION)
    FAIL(HQ_EFORMAT, "%s: raw trace version %u, this heapql reads version %u", raw_path,
         im->hdr->version, HQ_RAW_VERSION);
  if (im->hdr->header_size < sizeof(hq_raw_header_t) || im->hdr->header_size > im->map_len)
    FAIL(HQ_EFORMAT, "%s: corrupt raw trace header", raw_path);
  if ((rc = hq__imp_add_rings(im, raw_path))) FAIL(rc, "%s: out of memory", raw_path);
  if (im->hdr->flags & HQ_RAWF_TSC) convert_tsc_times(im);
#undef FAIL
out:
  return rc;
}
