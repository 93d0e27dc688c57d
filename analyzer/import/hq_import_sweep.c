/*
 * hq_import_sweep.c: pass 2.  The threads' event streams (each already in time order) are merged
 * into one, in time order, and each event goes where it belongs: allocations and releases to
 * hq_import_rows.c, CUDA driver calls to hq_import_cuda.c, regions, counters and thread starts
 * and ends here.  At the end, the blocks still live and the last samples.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "import/import_int.h"

/* ---- pass 2: the merge ---- */

/* Load the stream's next record and the time of its next part; cur = NULL at the end. */
static void stream_advance(import_t *im, stream_t *s) {
  for (;;) {
    const hq_rec_hdr_t *h;
    span_t *sp;
    if (s->span_i >= s->spans.n) {
      s->cur = NULL;
      return;
    }
    sp = &s->spans.v[s->span_i];
    if (s->pos + sizeof *h > sp->len) {
      hq__imp_span_done(im, sp);
      s->span_i++;
      s->pos = 0;
      continue;
    }
    if (s->pos == 0) hq__imp_span_ready(im, sp);
    h = (const hq_rec_hdr_t *)(sp->p + s->pos);
    s->pos += h->len;
    switch (h->type) {
    case HQ_REC_ALLOC: case HQ_REC_FREE: case HQ_REC_MUNMAP: case HQ_REC_THREAD_START:
    case HQ_REC_THREAD_END: case HQ_REC_REGION_BEGIN: case HQ_REC_REGION_END:
    case HQ_REC_COUNTER: case HQ_REC_RANGE_START: case HQ_REC_RANGE_END: case HQ_REC_POOL_RESET:
    case HQ_REC_POOL_SAMPLE:
      s->cur = h;
      s->sub = 1;
      s->t = ((const hq_rec_time_t *)h)->t;
      return;
    case HQ_REC_CUDA_CALL:
      if (h->len < sizeof(hq_rec_cuda_call_t)) continue;
      s->cur = h;
      s->sub = 1;
      s->t = hq__imp_cuda_order_t((const hq_rec_cuda_call_t *)h);
      return;
    case HQ_REC_REALLOC: {
      const hq_rec_realloc_t *r = (const hq_rec_realloc_t *)h;
      s->cur = h;
      s->sub = r->old_ptr ? 0 : 1;
      s->t = s->sub ? r->t : r->t_old;
      return;
    }
    case HQ_REC_THREAD_NAME: {
      const hq_rec_thread_name_t *tn = (const hq_rec_thread_name_t *)h;
      memcpy(s->name, tn->name, 16);
      s->name[16] = '\0';
      continue;
    }
    default:
      continue; /* stack definitions were indexed in pass 1 */
    }
  }
}

static int process(import_t *im, stream_t *s) {
  const hq_rec_hdr_t *h = s->cur;
  int rc = HQ_OK;
  if (!s->has_start) {
    s->has_start = 1;
    s->t_start = s->t;
  }
  im->events++;
  if (s->t > im->last_t) im->last_t = s->t;
  switch (h->type) {
  case HQ_REC_ALLOC: {
    const hq_rec_alloc_t *a = (const hq_rec_alloc_t *)h;
    rc = hq__imp_do_alloc(im, s, h->kind, a->t, a->ptr, a->size, a->aux, a->stack, 0);
    break;
  }
  case HQ_REC_FREE: {
    const hq_rec_free_t *f = (const hq_rec_free_t *)h;
    /* Without free stacks the record stops before its stack field. */
    rc = hq__imp_do_free(im, s, h->kind, f->t, f->ptr, h->len >= sizeof *f ? f->stack : 0, NULL);
    break;
  }
  case HQ_REC_MUNMAP: {
    const hq_rec_munmap_t *m = (const hq_rec_munmap_t *)h;
    uint64_t idx;
    /* Only a munmap that starts where a recorded mapping starts releases it. */
    if (hq__map_get(&im->live, hq__imp_live_key(SPACE_MMAP, m->ptr), &idx))
      rc = hq__imp_do_free(im, s, HQ_FREE_MUNMAP, m->t, m->ptr, 0, NULL);
    break;
  }
  case HQ_REC_REALLOC: {
    const hq_rec_realloc_t *r = (const hq_rec_realloc_t *)h;
    int release = h->kind == HQ_KIND_MMAP ? HQ_FREE_MUNMAP
                  : h->kind == HQ_KIND_POOL ? HQ_FREE_POOL : HQ_FREE_REALLOC;
    if (s->sub == 0) {
      int64_t from = 0;
      uint64_t idx;
      /* a resized pool block stays in its pool */
      s->realloc_pool = release == HQ_FREE_POOL &&
                        hq__map_get(&im->live, hq__imp_live_key(SPACE_POOL, r->old_ptr), &idx)
                        ? im->pend.v[idx - 1].pool : 0;
      rc = hq__imp_do_free(im, s, release, r->t_old, r->old_ptr, 0, &from);
      /* The allocation part stays in the merge, remembering which row it continues. */
      s->sub = 1;
      s->t = r->t;
      s->realloc_from = from;
      s->pending_alloc_part = 1;
      return rc;
    }
    rc = hq__imp_do_alloc(im, s, h->kind, r->t, r->ptr, r->size,
                          h->kind == HQ_KIND_POOL ? s->realloc_pool : 0, r->stack, s->realloc_from);
    s->realloc_from = 0;
    break;
  }
  case HQ_REC_THREAD_START:
    s->t_start = ((const hq_rec_time_t *)h)->t;
    break;
  case HQ_REC_THREAD_END:
    s->has_end = 1;
    s->t_end = ((const hq_rec_time_t *)h)->t;
    break;
  case HQ_REC_REGION_BEGIN: {
    const hq_rec_region_t *r = (const hq_rec_region_t *)h;
    region_t reg;
    memset(&reg, 0, sizeof reg);
    reg.id = (int64_t)im->regions.n + 1;
    reg.parent = hq__imp_region(s);
    reg.tid = s->tid;
    reg.t_begin = r->t;
    reg.name = (const char *)(r + 1);
    reg.name_len = r->name_len;
    reg.domain = h->kind;
    reg.category = r->category;
    if (sizeof *r + r->name_len > h->len) reg.name_len = 0;
    VEC_PUSH(im->regions, reg, rc);
    if (!rc) VEC_PUSH(s->regions, reg.id, rc);
    break;
  }
  case HQ_REC_REGION_END: {
    /* the innermost open range of the same domain (annotate.h's, or one NVTX domain's) */
    size_t k = s->regions.n;
    while (k > 0 && im->regions.v[s->regions.v[k - 1] - 1].domain != h->kind) k--;
    if (k > 0) {
      region_t *reg = &im->regions.v[s->regions.v[k - 1] - 1];
      reg->t_end = ((const hq_rec_region_t *)h)->t;
      reg->ended = 1;
      memmove(&s->regions.v[k - 1], &s->regions.v[k], (s->regions.n - k) * sizeof *s->regions.v);
      s->regions.n--;
    }
    break;
  }
  case HQ_REC_RANGE_START: {
    const hq_rec_range_t *r = (const hq_rec_range_t *)h;
    region_t reg;
    if (h->len < sizeof *r) break;
    memset(&reg, 0, sizeof reg);
    reg.id = (int64_t)im->regions.n + 1;
    reg.t_begin = r->t;
    reg.name = (const char *)(r + 1);
    reg.name_len = sizeof *r + r->name_len <= h->len ? r->name_len : 0;
    reg.domain = h->kind;
    reg.category = r->category;
    VEC_PUSH(im->regions, reg, rc);
    if (!rc) rc = hq__map_put(&im->range_of, r->id, im->regions.n);
    break;
  }
  case HQ_REC_RANGE_END: {
    const hq_rec_range_t *r = (const hq_rec_range_t *)h;
    uint64_t idx;
    if (h->len >= sizeof *r && hq__map_del(&im->range_of, r->id, &idx)) {
      im->regions.v[idx - 1].t_end = r->t;
      im->regions.v[idx - 1].ended = 1;
    }
    break;
  }
  case HQ_REC_POOL_SAMPLE:
    if (h->len >= sizeof(hq_rec_pool_sample_t))
      VEC_PUSH(im->cu.pool_samples, *(const hq_rec_pool_sample_t *)h, rc);
    break;
  case HQ_REC_POOL_RESET:
    if (h->len >= sizeof(hq_rec_pool_reset_t))
      rc = hq__imp_pool_reset(im, s, ((const hq_rec_pool_reset_t *)h)->t,
                              ((const hq_rec_pool_reset_t *)h)->pool);
    break;
  case HQ_REC_COUNTER: {
    const hq_rec_counter_t *c = (const hq_rec_counter_t *)h;
    uint32_t n = sizeof *c + c->name_len <= h->len ? c->name_len : 0;
    hq__row_t *r = hq__imp_row(im, T_COUNTER, &rc);
    if (!r) break;
    hq__row_int(r, 1, im->hdr->pid);
    hq__row_text(r, 2, (const char *)(c + 1), n); /* the mapping outlives the writer */
    hq__row_int(r, 3, (int64_t)c->t);
    hq__row_double(r, 4, c->value);
    break;
  }
  case HQ_REC_CUDA_CALL:
    rc = hq__imp_cuda_call(im, s, (const hq_rec_cuda_call_t *)h);
    break;
  default:
    break;
  }
  return rc;
}

/* A binary min-heap of stream indices ordered by (time, stream index). */
static int earlier(import_t *im, uint32_t a, uint32_t b) {
  const stream_t *sa = &im->streams.v[a], *sb = &im->streams.v[b];
  return sa->t < sb->t || (sa->t == sb->t && a < b);
}

static void sift_down(import_t *im, uint32_t *heap, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && earlier(im, heap[l], heap[m])) m = l;
    if (r < n && earlier(im, heap[r], heap[m])) m = r;
    if (m == i) return;
    uint32_t t = heap[i];
    heap[i] = heap[m];
    heap[m] = t;
    i = m;
  }
}

int hq__imp_pass2(import_t *im, hq_progress_t *prog) {
  size_t n = 0;
  uint32_t *heap = calloc(im->streams.n + 1, sizeof *heap);
  int rc = HQ_OK;
  if (!heap) return HQ_ENOMEM;
  for (size_t i = 0; i < im->streams.n; i++) {
    stream_advance(im, &im->streams.v[i]);
    if (im->streams.v[i].cur) heap[n++] = (uint32_t)i;
  }
  for (size_t i = n / 2; i-- > 0;) sift_down(im, heap, n, i);
  while (n > 0) {
    stream_t *s = &im->streams.v[heap[0]];
    if ((rc = hq__imp_samples_until(im, s->t))) break;
    if ((rc = process(im, s))) break;
    if (s->pending_alloc_part) {
      s->pending_alloc_part = 0; /* the realloc's allocation part is next for this stream */
    } else {
      stream_advance(im, s);
    }
    if (!s->cur) heap[0] = heap[--n];
    sift_down(im, heap, n, 0);
    if ((im->events & 0xffff) == 0) hq__progress_update(prog, im->events);
  }
  free(heap);
  return rc;
}
int hq__imp_finish_rows(import_t *im) {
  uint64_t t_end = im->end ? im->end->t : im->last_t;
  int rc = HQ_OK;
  /* The last instant is over: the aggregator settles whether it was the heap's peak. */
  if (im->agg) hq__agg_flush(im->agg);
  /* The leak check's class of each heap block it found live (written after the program's last
   * event, so the blocks live now are the ones it saw). */
  for (size_t r = 0; r < im->leak_recs.n; r++) {
    const hq_rec_leak_classes_t *lc = im->leak_recs.v[r];
    const hq_leak_entry_t *e = (const hq_leak_entry_t *)(lc + 1);
    for (uint32_t k = 0; k < lc->n; k++) {
      uint64_t idx;
      if (e[k].ptr && hq__map_get(&im->live, hq__imp_live_key(SPACE_HEAP, e[k].ptr), &idx))
        im->pend.v[idx - 1].leak_class = e[k].leak_class;
    }
  }
  /* Still live at the end: leaks (or blocks of a program that was killed). */
  for (size_t i = 0; i < im->live.cap && !rc; i++) {
    if (!im->live.keys[i]) continue;
    rc = hq__imp_write_row(im, &im->pend.v[im->live.vals[i] - 1], NULL, 0, 0, 0, 0);
  }
  if (rc) return rc;
  /* all the recorded RSS samples; without any, the synthetic ones up to the end */
  if ((rc = hq__imp_samples_until(im, im->rss.n ? UINT64_MAX : t_end))) return rc;
  if (!im->rss.n && (rc = hq__imp_emit_sample(im, t_end, NULL))) return rc;
  /* One sample at the exact peak, so the timeline shows it. */
  if (im->peak_heap) {
    uint64_t heap = im->heap_live, mmap = im->mmap_live, dev = im->device_live;
    im->heap_live = im->peak_heap;
    im->mmap_live = im->mmap_at_heap_peak;
    im->device_live = im->device_at_heap_peak;
    rc = hq__imp_emit_sample(im, im->peak_heap_t, NULL);
    im->heap_live = heap;
    im->mmap_live = mmap;
    im->device_live = dev;
  }
  if (!rc) rc = hq__imp_cuda_finish(im);
  return rc;
}

