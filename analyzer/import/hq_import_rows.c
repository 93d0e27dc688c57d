/*
 * hq_import_rows.c: what the sweep does with one event.  A live map from address to the pending
 * allocation pairs each release with its allocation, running totals give the timeline, and each
 * allocations row is written when its fate is known (released, or still live at the end).
 * Stacks become trie nodes and frames the first time an event names them.  The aggregator
 * (base/hq_aggregate.c) is fed every allocation and release in the order they come.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "import/import_int.h"

/* ---- the tables the sweep writes (through the writer thread, hq_rowq.h) ---- */


/* The columns of an allocations row, in the order of its INSERT below.  The id is not one of
 * them: rows are queued in id order, so SQLite appends each with the next id, which is the one
 * the sweep assigned (hq__row_t.rowid, checked by the writer), and skips the lookup of an
 * explicit id. */
enum {
  AC_PID = 1, AC_KIND, AC_ADDRESS, AC_SIZE, AC_ALIGNMENT, AC_STACK_ID, AC_TID, AC_T_ALLOC,
  AC_T_FREE, AC_FREE_STACK_ID, AC_FREE_TID, AC_FREE_KIND, AC_ALLOC_SEQ, AC_FREE_SEQ,
  AC_REALLOC_FROM, AC_POOL, AC_REGION_ID, AC_DEVICE, AC_STREAM, AC_LEAK_CLASS
};

/* Other tables: parameter numbers (hq__row_int(r, 3, ...)) are positions in these lists. */
const hq__rowq_table_t hq__imp_tables[T_N_] = {
  [T_ALLOC] = {"allocations",
      "INSERT INTO allocations(pid, kind, address, size, alignment, stack_id, tid, t_alloc, "
      "t_free, free_stack_id, free_tid, free_kind, alloc_seq, free_seq, realloc_from, pool, "
      "region_id, device, stream, leak_class)", AC_LEAK_CLASS},
  [T_FRAME] = {"frames", "INSERT INTO frames(id, module_id, ip, offset, function, file, line)", 7},
  [T_STACK] = {"stacks", "INSERT INTO stacks(id, parent_id, frame_id, depth)", 4},
  [T_SAMPLE] = {"samples",
      "INSERT INTO samples(pid, t, heap_bytes, mmap_bytes, device_bytes, rss_bytes)", 6},
  [T_COUNTER] = {"counters", "INSERT INTO counters(pid, name, t, value)", 4},
  [T_CUDA_CALL] = {"cuda_calls",
      "INSERT INTO cuda_calls(id, pid, tid, t, api, result, address, handle, size, flags, stream, "
      "pool, device, duration_ns, stack_id)", 15},
  [T_VMM_HANDLE] = {"vmm_handles",
      "INSERT INTO vmm_handles(id, pid, handle, size, device, t_create, t_release, stack_id)", 8},
  [T_VMM_MAP] = {"vmm_mappings",
      "INSERT INTO vmm_mappings(id, pid, handle_id, address, size, offset, t_map, t_unmap)", 8},
};

hq__row_t *hq__imp_row(import_t *im, int t, int *rc) {
  hq__row_t *r = hq__rowq_row(im->rowq, t);
  if (hq_unlikely(!r)) *rc = hq__rowq_error(im->rowq);
  return r;
}

/* ---- frames, stacks ---- */

static int module_for(import_t *im, uint64_t ip, uint32_t gen) {
  int later = -1, any = -1;
  for (size_t i = 0; i < im->modules.n; i++) {
    const module_t *m = &im->modules.v[i];
    if (ip < m->base || ip >= m->base + m->size) continue;
    if (m->gen_first <= gen && gen < m->gen_gone) return (int)i;
    /* Captured before the writer saw the load: the first later mapping is the one. */
    if (m->gen_first > gen && later < 0) later = (int)i;
    if (any < 0) any = (int)i;
  }
  return later >= 0 ? later : any;
}

static int frame_id_for(import_t *im, uint64_t ip, uint32_t gen, int64_t *out) {
  int mod = HQ_IS_PYFRAME(ip) ? -1 : module_for(im, ip, gen);
  uint64_t key = ip ^ ((uint64_t)(mod + 1) << 48), id;
  hq__row_t *r;
  int rc = HQ_OK;
  if (key == 0) key = 1ull << 63;
  if (hq__map_get(&im->frame_of, key, &id)) {
    *out = (int64_t)id;
    return HQ_OK;
  }
  id = (uint64_t)++im->next_frame_id;
  if (!(r = hq__imp_row(im, T_FRAME, &rc))) return rc;
  hq__row_int(r, 1, (int64_t)id);
  if (HQ_IS_PYFRAME(ip)) {
    if ((rc = hq__imp_python_frame(im, ip, r))) return rc;
  } else if (mod >= 0) {
    hq__row_int(r, 2, mod + 1);
    hq__row_int(r, 4, (int64_t)(ip - im->modules.v[mod].base));
    hq__row_int(r, 3, (int64_t)ip);
  } else {
    hq__row_int(r, 3, (int64_t)ip);
  }
  rc = hq__map_put(&im->frame_of, key, id);
  *out = (int64_t)id;
  return rc;
}

int hq__imp_stack_id(import_t *im, uint64_t hash, int64_t *out) {
  uint64_t v, off;
  const hq_rec_stack_t *s;
  const uint64_t *ips;
  int64_t node = 0;
  int rc;
  *out = 0;
  if (hash == 0) return HQ_OK;
  if (hq__map_get(&im->stack_id, hash, &v)) {
    *out = (int64_t)v;
    return HQ_OK;
  }
  if (!hq__map_get(&im->stack_def, hash, &off)) return HQ_OK; /* definition lost: no stack */
  s = (const hq_rec_stack_t *)(im->map + off);
  ips = (const uint64_t *)(s + 1);
  for (uint32_t d = 0; d < s->depth; d++) {
    int64_t frame = 0;
    uint64_t key, child;
    hq__row_t *r;
    rc = frame_id_for(im, ips[s->depth - 1 - d], s->gen, &frame);
    if (rc) return rc;
    key = ((uint64_t)node << 32) ^ (uint64_t)frame;
    if (hq__map_get(&im->trie, key, &child)) {
      node = (int64_t)child;
      continue;
    }
    child = (uint64_t)++im->next_node_id;
    if (!(r = hq__imp_row(im, T_STACK, &rc))) return rc;
    hq__row_int(r, 1, (int64_t)child);
    if (node) hq__row_int(r, 2, node);
    hq__row_int(r, 3, frame);
    hq__row_int(r, 4, d + 1);
    if ((rc = hq__map_put(&im->trie, key, child))) return rc;
    node = (int64_t)child;
  }
  *out = node;
  return hq__map_put(&im->stack_id, hash, (uint64_t)node);
}

/* ---- rows ---- */

/* The aggregate tables are built while the events stream by, in the order the sweep meets
 * them (time order): one feed per allocation, one per release.  The aggregator finds the heap's
 * peak (hq__agg_on_heap_peak tells the sweep when): the sweep's own totals are updated only
 * after each feed, so at that moment they are the totals just before the current event. */
/* The aggregator's view of block a at time t. */
static void agg_event(hq__agg_event_t *ev, const pending_t *a, uint64_t t) {
  memset(ev, 0, sizeof *ev);
  ev->kind = a->kind;
  ev->stack_id = a->stack_id;
  ev->has_stack = a->stack_id != 0;
  ev->size = a->size;
  ev->t = (int64_t)t;
  ev->from_realloc = a->realloc_from != 0;
}

int hq__imp_agg_alloc(import_t *im, const pending_t *a) {
  hq__agg_event_t ev;
  if (!im->agg) return HQ_OK;
  agg_event(&ev, a, a->t_alloc);
  return hq__agg_alloc(im->agg, &ev);
}

static int agg_free(import_t *im, const pending_t *a, uint64_t t_free, int free_kind,
                    uint32_t free_tid, uint64_t free_seq) {
  hq__agg_event_t ev;
  if (!im->agg) return HQ_OK;
  agg_event(&ev, a, t_free);
  ev.free_kind = free_kind;
  ev.t_alloc = (int64_t)a->t_alloc;
  ev.tid = a->tid;
  ev.alloc_seq = (int64_t)a->alloc_seq;
  ev.free_tid = free_tid;
  ev.free_seq = (int64_t)free_seq;
  return hq__agg_free(im->agg, &ev);
}

/* Rows get ascending ids in the order they are written (when the block's fate is known), so
 * SQLite appends instead of searching the b-tree; allocation order is t_alloc. */
int hq__imp_write_row(import_t *im, pending_t *a, const uint64_t *t_free, int free_kind,
                      uint32_t free_tid, uint64_t free_seq, int64_t free_stack) {
  const hq__kind_info_t *name;
  int rc = HQ_OK;
  hq__row_t *r = hq__imp_row(im, T_ALLOC, &rc);
  if (!r) return rc;
  a->id = ++im->next_alloc_id;
  r->rowid = a->id;
  hq__row_int(r, AC_PID, im->hdr->pid);
  name = hq__kind(a->kind);
  hq__row_text(r, AC_KIND, name->name, name->len);
  hq__row_int(r, AC_ADDRESS, (int64_t)a->address);
  hq__row_int(r, AC_SIZE, (int64_t)a->size);
  if (a->align) hq__row_int(r, AC_ALIGNMENT, (int64_t)a->align);
  if (a->stack_id) hq__row_int(r, AC_STACK_ID, a->stack_id);
  hq__row_int(r, AC_TID, a->tid);
  hq__row_int(r, AC_T_ALLOC, (int64_t)a->t_alloc);
  if (t_free) {
    hq__row_int(r, AC_T_FREE, (int64_t)*t_free);
    if (free_stack) hq__row_int(r, AC_FREE_STACK_ID, free_stack);
    hq__row_int(r, AC_FREE_TID, free_tid);
    name = hq__free_kind(free_kind);
    hq__row_text(r, AC_FREE_KIND, name->name, name->len); /* after AC_KIND: text in column order */
    hq__row_int(r, AC_FREE_SEQ, (int64_t)free_seq);
  }
  hq__row_int(r, AC_ALLOC_SEQ, (int64_t)a->alloc_seq);
  if (a->realloc_from) hq__row_int(r, AC_REALLOC_FROM, a->realloc_from);
  if (a->kind == HQ_KIND_POOL || (a->cuda && a->pool)) hq__row_int(r, AC_POOL, (int64_t)a->pool);
  if (a->region_id) hq__row_int(r, AC_REGION_ID, a->region_id);
  if (a->cuda && a->device >= 0) hq__row_int(r, AC_DEVICE, a->device);
  if (a->cuda && a->kind == HQ_KIND_CUDA_ASYNC) hq__row_int(r, AC_STREAM, (int64_t)a->stream);
  if (!t_free && a->leak_class) { /* the leak check's verdict on a block live at exit */
    static const struct { const char *name; size_t len; } names[] = {
      [HQ_LEAK_DEFINITELY] = {"definitely_lost", 15}, [HQ_LEAK_INDIRECTLY] = {"indirectly_lost", 15},
      [HQ_LEAK_POSSIBLY] = {"possibly_lost", 13}, [HQ_LEAK_REACHABLE] = {"still_reachable", 15}};
    unsigned cls = a->leak_class;
    if (hq__kind(a->kind)->cls == HQ_CLASS_HEAP && cls >= HQ_LEAK_DEFINITELY && cls <= HQ_LEAK_REACHABLE) {
      hq__row_text(r, AC_LEAK_CLASS, names[cls].name, names[cls].len);
      hq__agg_leak_class(im->agg, names[cls].name, a->size);
      im->classified++;
    }
  }
  im->rows++;
  return t_free ? agg_free(im, a, *t_free, free_kind, free_tid, free_seq) : HQ_OK;
}

int hq__imp_emit_sample(import_t *im, uint64_t t, const uint64_t *rss) {
  int rc = HQ_OK;
  hq__row_t *r = hq__imp_row(im, T_SAMPLE, &rc);
  if (!r) return rc;
  hq__row_int(r, 1, im->hdr->pid);
  hq__row_int(r, 2, (int64_t)t);
  hq__row_int(r, 3, (int64_t)im->heap_live);
  hq__row_int(r, 4, (int64_t)im->mmap_live);
  if (im->device_live || im->cu.seen) hq__row_int(r, 5, (int64_t)im->device_live);
  if (rss) hq__row_int(r, 6, (int64_t)*rss);
  return HQ_OK;
}

/* Samples due before time t: the recorded RSS samples, or one every 20 ms without them. */
int hq__imp_samples_until(import_t *im, uint64_t t) {
  int rc;
  if (im->rss.n) {
    while (im->rss_i < im->rss.n && im->rss.v[im->rss_i].t <= t) {
      im->last_rss = im->rss.v[im->rss_i].rss_bytes;
      if ((rc = hq__imp_emit_sample(im, im->rss.v[im->rss_i].t, &im->last_rss))) return rc;
      im->rss_i++;
    }
    return HQ_OK;
  }
  while (im->next_synth_sample <= t) {
    const uint64_t every = 20 * 1000 * 1000;
    if ((rc = hq__imp_emit_sample(im, im->next_synth_sample, NULL))) return rc;
    if (im->next_synth_sample > UINT64_MAX - every) break; /* the end of time */
    im->next_synth_sample += every;
    /* Nothing changes between two events: a gap of more than 10,000 samples (a trace whose
     * times jump, a damaged one) gets its first and last, not millions in between. */
    if (t - im->next_synth_sample > 10000 * every && t >= im->next_synth_sample)
      im->next_synth_sample += (t - im->next_synth_sample) / every * every;
  }
  return HQ_OK;
}

int hq__imp_do_alloc(import_t *im, stream_t *s, int kind, uint64_t t, uint64_t ptr,
                     uint64_t size, uint64_t aux, uint64_t stack_hash, int64_t realloc_from) {
  pending_t a;
  uint64_t idx, key;
  int space = hq__imp_space_of_kind(kind), rc;
  uint64_t *total = hq__imp_total(im, space);
  if (!hq__kind(kind)) return HQ_OK; /* a newer recorder's kind */
  memset(&a, 0, sizeof a);
  if ((rc = hq__imp_stack_id(im, stack_hash, &a.stack_id))) return rc;
  a.kind = kind;
  a.address = ptr;
  a.size = size;
  a.align = (kind == HQ_KIND_ALIGNED || kind == HQ_KIND_NEW || kind == HQ_KIND_NEW_ARRAY) ? aux : 0;
  a.pool = aux;
  a.tid = s->tid;
  a.t_alloc = t;
  a.alloc_seq = ++s->alloc_seq;
  a.realloc_from = realloc_from;
  a.region_id = hq__imp_region(s);
  if (im->cu.alloc_pending) {
    a.cuda = 1;
    a.device = im->cu.device;
    a.stream = im->cu.stream;
    a.pool = im->cu.pool;
  }
  key = hq__imp_live_key(space, ptr);
  if (hq__map_del(&im->live, key, &idx)) {
    /* Handed out again while we thought it live: its release was not seen (MAP_FIXED over a
     * mapping, a free through a path the recorder could not interpose). */
    pending_t *old = &im->pend.v[idx - 1];
    if ((rc = hq__imp_write_row(im, old, &t, space == SPACE_MMAP ? HQ_FREE_MUNMAP : HQ_FREE_UNSEEN,
                                s->tid, s->alloc_seq - 1, 0)))
      return rc;
    *total -= old->size;
    VEC_PUSH(im->pend_free, (uint32_t)(idx - 1), rc);
    if (rc) return rc;
  }
  if (im->pend_free.n) {
    idx = im->pend_free.v[--im->pend_free.n];
    im->pend.v[idx] = a;
  } else {
    VEC_PUSH(im->pend, a, rc);
    if (rc) return rc;
    idx = im->pend.n - 1;
  }
  if ((rc = hq__map_put(&im->live, key, idx + 1))) return rc;
  if ((rc = hq__imp_agg_alloc(im, &im->pend.v[idx]))) return rc;
  *total += size;
  return HQ_OK;
}

int hq__imp_do_free_in(import_t *im, stream_t *s, int space, int free_kind, uint64_t t,
                       uint64_t ptr, uint64_t stack_hash, int64_t *out_id) {
  uint64_t idx;
  int rc;
  int64_t free_stack = 0;
  pending_t *a;
  if (out_id) *out_id = 0;
  if (!hq__map_del(&im->live, hq__imp_live_key(space, ptr), &idx)) {
    im->unmatched_frees++;
    return HQ_OK;
  }
  a = &im->pend.v[idx - 1];
  if (stack_hash && (rc = hq__imp_stack_id(im, stack_hash, &free_stack))) return rc;
  if ((rc = hq__imp_write_row(im, a, &t, free_kind, s->tid, s->alloc_seq, free_stack))) return rc;
  *hq__imp_total(im, space) -= a->size;
  if (out_id) *out_id = a->id; /* assigned by write_row */
  VEC_PUSH(im->pend_free, (uint32_t)(idx - 1), rc);
  return rc;
}

/* The address space a release acts in. */
static int space_of_free(int free_kind) {
  switch (free_kind) {
  case HQ_FREE_MUNMAP: return SPACE_MMAP;
  case HQ_FREE_POOL: return SPACE_POOL;
  case HQ_FREE_CUDA: return SPACE_DEVICE;
  default: return SPACE_HEAP;
  }
}

int hq__imp_do_free(import_t *im, stream_t *s, int free_kind, uint64_t t, uint64_t ptr,
                   uint64_t stack_hash, int64_t *out_id) {
  return hq__imp_do_free_in(im, s, space_of_free(free_kind), free_kind, t, ptr, stack_hash, out_id);
}


int hq__imp_pool_reset(import_t *im, stream_t *s, uint64_t t, uint64_t pool) {
  int rc = HQ_OK;
  for (size_t i = 0; i < im->pend.n && !rc; i++) {
    const pending_t *a = &im->pend.v[i];
    uint64_t idx;
    if (a->kind != HQ_KIND_POOL || a->pool != pool ||
        !hq__map_get(&im->live, hq__imp_live_key(SPACE_POOL, a->address), &idx) || idx != i + 1)
      continue;
    rc = hq__imp_do_free_in(im, s, SPACE_POOL, HQ_FREE_POOL, t, a->address, 0, NULL);
  }
  return rc;
}
