/*
 * hq_import_cuda.c: CUDA driver calls, device totals, VMM handles and mappings.
 */
#include <stdio.h>
#include <string.h>

#include "import/import_int.h"

/*
 * One HQ_REC_CUDA_CALL per wrapped driver call becomes one cuda_calls row (failed calls too).
 * A successful call then acts on memory: an allocation row (kinds cuda_device, cuda_managed,
 * cuda_host, cuda_async), the release of one, or VMM bookkeeping.  Releases take effect at the
 * time the call was entered, allocations at the time it returned, so a block given back by one
 * thread and handed out again to another pairs in the right order.
 *
 * VMM: cuMemCreate's handle is physical memory (an allocation row of kind cuda_vmm whose
 * address is the handle); it is returned only once cuMemRelease was called AND every mapping of
 * it is unmapped, whichever comes last.  Address reservations hold no memory.
 */

static const char *cuda_api_name(int api) {
#define HQ_CU_NAME_(id, name, role, kind) [id] = name,
  static const char *const names[HQ_CU_MAX_] = {HQ_CUDA_API_MAP(HQ_CU_NAME_)};
#undef HQ_CU_NAME_
  return api > 0 && api < HQ_CU_MAX_ ? names[api] : NULL;
}

static int cuda_api_role(int api) {
#define HQ_CU_ROLE_(id, name, role, kind) [id] = role,
  static const int roles[HQ_CU_MAX_] = {HQ_CUDA_API_MAP(HQ_CU_ROLE_)};
#undef HQ_CU_ROLE_
  return api > 0 && api < HQ_CU_MAX_ ? roles[api] : 0;
}

static int cuda_api_kind(int api) {
#define HQ_CU_KIND_(id, name, role, kind) [id] = kind,
  static const int kinds[HQ_CU_MAX_] = {HQ_CUDA_API_MAP(HQ_CU_KIND_)};
#undef HQ_CU_KIND_
  return api > 0 && api < HQ_CU_MAX_ ? kinds[api] : 0;
}

static int cuda_api_has_stream(int api) {
  switch (api) {
  case HQ_CU_MEM_ALLOC_ASYNC: case HQ_CU_MEM_ALLOC_ASYNC_PTSZ: case HQ_CU_MEM_ALLOC_POOL_ASYNC:
  case HQ_CU_MEM_ALLOC_POOL_ASYNC_PTSZ: case HQ_CU_MEM_FREE_ASYNC: case HQ_CU_MEM_FREE_ASYNC_PTSZ:
  case HQ_CU_GRAPH_LAUNCH: case HQ_CU_GRAPH_LAUNCH_PTSZ:
    return 1;
  default:
    return 0;
  }
}

/* When the call acts in the merge: releases when entered, everything else when it returned. */
uint64_t hq__imp_cuda_order_t(const hq_rec_cuda_call_t *c) {
  int role = cuda_api_role(c->hdr.kind);
  int release = role == HQ_CU_ROLE_FREE || role == HQ_CU_ROLE_VMM_RELEASE || role == HQ_CU_ROLE_VMM_UNMAP;
  return release && c->duration_ns <= c->t ? c->t - c->duration_ns : c->t;
}

static uint64_t nz_key(uint64_t v) { return v ? v : 1ull << 63; }

static int cuda_prepare(import_t *im) {
  int rc;
  if (im->cu.ready) return HQ_OK;
  if ((rc = hq__map_init(&im->cu.handle_live, 64)) || (rc = hq__map_init(&im->cu.map_live, 64)))
    return rc;
  im->cu.ready = 1;
  return HQ_OK;
}

void hq__imp_cuda_free(import_t *im) {
  for (size_t i = 0; i < im->cu.unknown_api.n; i++) free(im->cu.unknown_api.v[i]);
  free(im->cu.unknown_api.v);
  memset(&im->cu.unknown_api, 0, sizeof im->cu.unknown_api);
  im->cu.ready = 0;
  free(im->cu.handles.v);
  free(im->cu.maps.v);
  memset(&im->cu.handles, 0, sizeof im->cu.handles);
  memset(&im->cu.maps, 0, sizeof im->cu.maps);
  hq__map_free(&im->cu.handle_live);
  hq__map_free(&im->cu.map_live);
  free(im->cu.failures.v);
  free(im->cu.vas.v);
  memset(&im->cu.vas, 0, sizeof im->cu.vas);
  free(im->cu.pool_samples.v);
  memset(&im->cu.pool_samples, 0, sizeof im->cu.pool_samples);
  free(im->cu.failure_live.v);
  memset(&im->cu.failures, 0, sizeof im->cu.failures);
  memset(&im->cu.failure_live, 0, sizeof im->cu.failure_live);
}

static void cuda_note_peak(import_t *im, uint64_t t) {
  if (im->device_live <= im->cu.peak_device) return;
  im->cu.peak_device = im->device_live;
  im->cu.peak_device_t = t;
  im->cu.heap_at_peak = im->heap_live;
  im->cu.mmap_at_peak = im->mmap_live;
}

/* The name of driver call api; "unknown_<id>" (kept until the import ends) when it is not ours. */
static const char *cuda_call_name(import_t *im, int api, int *rc) {
  const char *name = cuda_api_name(api);
  char unknown[32], *copy;
  if (name) return name;
  snprintf(unknown, sizeof unknown, "unknown_%u", (unsigned)api);
  for (size_t i = 0; i < im->cu.unknown_api.n; i++)
    if (!strcmp(im->cu.unknown_api.v[i], unknown)) return im->cu.unknown_api.v[i];
  if (!(copy = strdup(unknown))) {
    *rc = HQ_ENOMEM;
    return NULL;
  }
  VEC_PUSH(im->cu.unknown_api, copy, *rc);
  if (*rc) {
    free(copy);
    return NULL;
  }
  return copy;
}

static int cuda_insert_call(import_t *im, stream_t *s, const hq_rec_cuda_call_t *c, int64_t stack_id) {
  int rc = HQ_OK;
  const char *name = cuda_call_name(im, c->hdr.kind, &rc);
  hq__row_t *r;
  if (!name || !(r = hq__imp_row(im, T_CUDA_CALL, &rc))) return rc;
  hq__row_int(r, 1, ++im->cu.next_call_id);
  hq__row_int(r, 2, im->hdr->pid);
  hq__row_int(r, 3, s->tid);
  hq__row_int(r, 4, (int64_t)(c->duration_ns <= c->t ? c->t - c->duration_ns : c->t));
  hq__row_text(r, 5, name, strlen(name));
  hq__row_int(r, 6, c->result);
  if (c->address) hq__row_int(r, 7, (int64_t)c->address);
  if (c->handle) hq__row_int(r, 8, (int64_t)c->handle);
  if (c->size || cuda_api_role(c->hdr.kind) == HQ_CU_ROLE_ALLOC) hq__row_int(r, 9, (int64_t)c->size);
  hq__row_int(r, 10, (int64_t)c->flags);
  if (cuda_api_has_stream(c->hdr.kind)) hq__row_int(r, 11, (int64_t)c->stream);
  if (c->pool) hq__row_int(r, 12, (int64_t)c->pool);
  if (c->device >= 0) hq__row_int(r, 13, c->device);
  hq__row_int(r, 14, (int64_t)c->duration_ns);
  if (stack_id) hq__row_int(r, 15, stack_id);
  return HQ_OK;
}

static int cuda_write_handle(import_t *im, const vmm_handle_t *h) {
  int rc = HQ_OK;
  hq__row_t *r = hq__imp_row(im, T_VMM_HANDLE, &rc);
  if (!r) return rc;
  hq__row_int(r, 1, h->id);
  hq__row_int(r, 2, im->hdr->pid);
  hq__row_int(r, 3, (int64_t)h->handle);
  hq__row_int(r, 4, (int64_t)h->size);
  if (h->device >= 0) hq__row_int(r, 5, h->device);
  hq__row_int(r, 6, (int64_t)h->t_create);
  if (h->released) hq__row_int(r, 7, (int64_t)h->t_release);
  if (h->row.stack_id) hq__row_int(r, 8, h->row.stack_id);
  return HQ_OK;
}

static int cuda_write_map(import_t *im, const vmm_map_t *m, const uint64_t *t_unmap) {
  int rc = HQ_OK;
  hq__row_t *r = hq__imp_row(im, T_VMM_MAP, &rc);
  if (!r) return rc;
  hq__row_int(r, 1, m->id);
  hq__row_int(r, 2, im->hdr->pid);
  if (m->handle_ix) hq__row_int(r, 3, im->cu.handles.v[m->handle_ix - 1].id);
  hq__row_int(r, 4, (int64_t)m->address);
  hq__row_int(r, 5, (int64_t)m->size);
  hq__row_int(r, 6, (int64_t)m->offset);
  hq__row_int(r, 7, (int64_t)m->t_map);
  if (t_unmap) hq__row_int(r, 8, (int64_t)*t_unmap);
  return HQ_OK;
}

/* The physical memory of handle h is gone (released and unmapped) at t. */
static int vmm_free(import_t *im, stream_t *s, vmm_handle_t *h, uint64_t t, int64_t free_stack) {
  int rc;
  h->freed = 1;
  if ((rc = hq__imp_write_row(im, &h->row, &t, HQ_FREE_CUDA, s->tid, s->alloc_seq, free_stack))) return rc;
  if (h->device >= 0 && h->row.kind == HQ_KIND_CUDA_VMM) im->device_live -= h->size;
  return cuda_write_handle(im, h);
}

static int vmm_release(import_t *im, stream_t *s, uint64_t handle, uint64_t t, int64_t stack) {
  uint64_t ix;
  vmm_handle_t *h;
  if (!hq__map_del(&im->cu.handle_live, nz_key(handle), &ix)) {
    im->unmatched_frees++;
    return HQ_OK;
  }
  h = &im->cu.handles.v[ix - 1];
  h->released = 1;
  h->t_release = t;
  return h->maps ? HQ_OK : vmm_free(im, s, h, t, stack);
}

static int vmm_create(import_t *im, stream_t *s, const hq_rec_cuda_call_t *c, int64_t stack_id) {
  vmm_handle_t h;
  int rc = HQ_OK;
  /* The driver hands out a handle value again only after it was released: that release was
   * not seen.  Treat it as released now. */
  if (hq__map_get(&im->cu.handle_live, nz_key(c->handle), &(uint64_t){0}) &&
      (rc = vmm_release(im, s, c->handle, c->t, 0)))
    return rc;
  memset(&h, 0, sizeof h);
  h.id = ++im->cu.next_handle_id;
  h.handle = c->handle;
  h.size = c->size;
  h.device = c->device;
  h.t_create = c->t;
  /* cuMemCreate's memory is this process's; an imported handle's is another process's, mapped
   * here: kind cuda_ipc, in no total, its size unknown to the importer (its mappings say it) */
  h.row.kind = cuda_api_kind(c->hdr.kind) == HQ_KIND_CUDA_IPC ? HQ_KIND_CUDA_IPC : HQ_KIND_CUDA_VMM;
  h.row.address = c->handle;
  h.row.size = c->size;
  h.row.stack_id = stack_id;
  h.row.tid = s->tid;
  h.row.t_alloc = c->t;
  h.row.alloc_seq = ++s->alloc_seq;
  h.row.region_id = hq__imp_region(s);
  h.row.cuda = 1;
  h.row.device = c->device;
  VEC_PUSH(im->cu.handles, h, rc);
  if (rc) return rc;
  if ((rc = hq__map_put(&im->cu.handle_live, nz_key(c->handle), im->cu.handles.n))) return rc;
  if ((rc = hq__imp_agg_alloc(im, &h.row))) return rc;
  /* A handle on a host location (CUDA 12.2+) is not device memory. */
  if (c->device >= 0 && h.row.kind == HQ_KIND_CUDA_VMM) im->device_live += c->size;
  cuda_note_peak(im, c->t);
  return HQ_OK;
}

static int vmm_unmap_one(import_t *im, stream_t *s, uint64_t addr, uint64_t t, int64_t stack,
                         uint64_t *out_size) {
  uint64_t ix;
  vmm_map_t *m;
  int rc;
  *out_size = 0;
  if (!hq__map_del(&im->cu.map_live, nz_key(addr), &ix)) return HQ_OK;
  m = &im->cu.maps.v[ix - 1];
  *out_size = m->size;
  if ((rc = cuda_write_map(im, m, &t))) return rc;
  if (m->handle_ix) {
    vmm_handle_t *h = &im->cu.handles.v[m->handle_ix - 1];
    if (h->maps) h->maps--;
    if (!h->maps && h->released && !h->freed) return vmm_free(im, s, h, t, stack);
  }
  return HQ_OK;
}

static int vmm_map(import_t *im, stream_t *s, const hq_rec_cuda_call_t *c) {
  vmm_map_t m;
  uint64_t ix = 0, dummy;
  int rc = HQ_OK;
  if (hq__map_get(&im->cu.map_live, nz_key(c->address), &dummy) &&
      (rc = vmm_unmap_one(im, s, c->address, c->t, 0, &dummy)))
    return rc; /* mapped again: its unmap was not seen */
  memset(&m, 0, sizeof m);
  m.id = ++im->cu.next_map_id;
  if (hq__map_get(&im->cu.handle_live, nz_key(c->handle), &ix)) {
    m.handle_ix = (size_t)ix;
    im->cu.handles.v[ix - 1].maps++;
  }
  m.address = c->address;
  m.size = c->size;
  m.offset = c->aux;
  m.t_map = c->t;
  VEC_PUSH(im->cu.maps, m, rc);
  if (rc) return rc;
  return hq__map_put(&im->cu.map_live, nz_key(c->address), im->cu.maps.n);
}

/* cuMemUnmap takes a whole mapped range: every mapping from address on, back to back. */
static int vmm_unmap(import_t *im, stream_t *s, const hq_rec_cuda_call_t *c, uint64_t t, int64_t stack) {
  uint64_t addr = c->address, end = c->address + c->size, size;
  int rc;
  while (addr < end) {
    if ((rc = vmm_unmap_one(im, s, addr, t, stack, &size))) return rc;
    if (!size) break;
    addr += size;
  }
  return HQ_OK;
}

/* cuMemAddressReserve opens a va_reservations row; cuMemAddressFree of its address closes it. */
static int va_event(import_t *im, stream_t *s, const hq_rec_cuda_call_t *c, int64_t stack_id) {
  int rc = HQ_OK;
  if (c->hdr.kind == HQ_CU_MEM_ADDRESS_RESERVE) {
    cuda_va_t v;
    memset(&v, 0, sizeof v);
    v.address = c->address;
    v.size = c->size;
    v.alignment = c->aux;
    v.t_reserve = c->t;
    v.stack_id = stack_id;
    v.device = c->device;
    v.tid = s->tid;
    VEC_PUSH(im->cu.vas, v, rc);
    return rc;
  }
  for (size_t i = im->cu.vas.n; i-- > 0;) {
    cuda_va_t *v = &im->cu.vas.v[i];
    if (v->freed || v->address != c->address) continue;
    v->freed = 1;
    /* like a release: from when cuMemAddressFree was entered (cuda_calls.t) */
    v->t_free = c->duration_ns <= c->t ? c->t - c->duration_ns : c->t;
    break;
  }
  return HQ_OK;
}

int hq__imp_cuda_call(import_t *im, stream_t *s, const hq_rec_cuda_call_t *c) {
  int api = c->hdr.kind, kind = cuda_api_kind(api), rc;
  uint64_t t_enter = hq__imp_cuda_order_t(c);
  int64_t stack_id = 0;
  im->cu.seen = 1;
  if ((rc = cuda_prepare(im))) return rc;
  if ((rc = hq__imp_stack_id(im, c->stack, &stack_id))) return rc;
  if ((rc = cuda_insert_call(im, s, c, stack_id))) return rc;
  if (c->result != 0) {
    /* a device allocation that failed: what filled the device then (hq_import_oom.c) */
    int role = cuda_api_role(api);
    if ((role == HQ_CU_ROLE_ALLOC || role == HQ_CU_ROLE_VMM_CREATE) &&
        hq__imp_space_of_kind(kind) == SPACE_DEVICE)
      return hq__imp_cuda_failure(im, c, t_enter, im->cu.next_call_id, stack_id);
    return HQ_OK;
  }
  switch (cuda_api_role(api)) {
  case HQ_CU_ROLE_ALLOC:
    im->cu.alloc_pending = 1;
    /* host memory has no device */
    im->cu.device = hq__imp_space_of_kind(kind) == SPACE_PINNED ? -1 : c->device;
    im->cu.stream = c->stream;
    im->cu.pool = c->pool;
    rc = hq__imp_do_alloc(im, s, kind, c->t, c->address, c->size, 0, c->stack, 0);
    im->cu.alloc_pending = 0;
    cuda_note_peak(im, c->t);
    return rc;
  case HQ_CU_ROLE_FREE:
    return hq__imp_do_free_in(im, s, hq__imp_space_of_kind(kind), HQ_FREE_CUDA,
                      t_enter, c->address, c->stack, NULL);
  case HQ_CU_ROLE_VMM_CREATE:
    return vmm_create(im, s, c, stack_id);
  case HQ_CU_ROLE_VMM_RELEASE:
    return vmm_release(im, s, c->handle, t_enter, stack_id);
  case HQ_CU_ROLE_VMM_MAP:
    return vmm_map(im, s, c);
  case HQ_CU_ROLE_VMM_UNMAP:
    return vmm_unmap(im, s, c, t_enter, stack_id);
  case HQ_CU_ROLE_VA:
    return va_event(im, s, c, stack_id);
  default:
    return HQ_OK;
  }
}

/* At the end: VMM rows still open, and one sample at the exact device peak. */
int hq__imp_cuda_finish(import_t *im) {
  int rc = HQ_OK;
  if (!im->cu.seen) return HQ_OK;
  for (size_t i = 0; i < im->cu.maps.n && !rc; i++) {
    uint64_t ix;
    if (hq__map_get(&im->cu.map_live, nz_key(im->cu.maps.v[i].address), &ix) && ix == i + 1)
      rc = cuda_write_map(im, &im->cu.maps.v[i], NULL);
  }
  for (size_t i = 0; i < im->cu.handles.n && !rc; i++) {
    vmm_handle_t *h = &im->cu.handles.v[i];
    if (h->freed) continue;
    if (!(rc = hq__imp_write_row(im, &h->row, NULL, 0, 0, 0, 0))) rc = cuda_write_handle(im, h);
  }
  if (!rc && im->cu.peak_device) {
    uint64_t heap = im->heap_live, mmap = im->mmap_live, dev = im->device_live;
    im->heap_live = im->cu.heap_at_peak;
    im->mmap_live = im->cu.mmap_at_peak;
    im->device_live = im->cu.peak_device;
    rc = hq__imp_emit_sample(im, im->cu.peak_device_t, NULL);
    im->heap_live = heap;
    im->mmap_live = mmap;
    im->device_live = dev;
  }
  return rc;
}
