/*
 * hq_import_rings.c: what a dead process still had in its rings.
 *
 * A trace without END belongs to a process that was killed or crashed.  Its ring file
 * (rawfmt.h, "the ring file") holds, per slot, the records the thread had appended after the
 * writer's last drain.  They are appended to the in-memory copy of the trace as chunks, cut at
 * the last byte of the slot's stream the trace already holds, so nothing is read twice; pass 1
 * and the sweep then treat them as any other chunk.  A trace cut inside a record is first cut
 * back to its last whole record.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import/import_int.h"

/* The slots' stream positions the trace already holds, and where the trace's last whole
 * top-level record ends.  Returns 1 when the trace has END (nothing to recover). */
static int scan_trace(const import_t *im, uint64_t *written, uint32_t n_slots, size_t *out_end) {
  size_t pos = im->hdr->header_size;
  while (pos + sizeof(hq_rec_hdr_t) <= im->map_len) {
    const hq_rec_hdr_t *h = (const hq_rec_hdr_t *)(im->map + pos);
    if (h->len < sizeof *h || (h->len & 7) || pos + h->len > im->map_len) break;
    if (h->type == HQ_REC_END) return 1;
    if (h->type == HQ_REC_CHUNK && h->len >= sizeof(hq_rec_chunk_t)) {
      const hq_rec_chunk_t *c = (const hq_rec_chunk_t *)h;
      uint64_t end = c->pos + (h->len - sizeof *c);
      if (c->slot < n_slots && end > written[c->slot]) written[c->slot] = end;
    }
    pos += h->len;
  }
  *out_end = pos;
  return 0;
}

/* The records of [from, to) of a slot's stream, whole records only. */
static uint64_t whole_records(const unsigned char *data, uint64_t cap, uint64_t from, uint64_t to) {
  uint64_t at = from;
  while (to - at >= sizeof(hq_rec_hdr_t)) {
    hq_rec_hdr_t h;
    uint64_t off = at % cap;
    for (size_t i = 0; i < sizeof h; i++) ((unsigned char *)&h)[i] = data[(off + i) % cap];
    if (h.len < sizeof h || (h.len & 7) || h.len > to - at) break;
    at += h.len;
  }
  return at;
}

int hq__imp_add_rings(import_t *im, const char *raw_path) {
  char path[4096];
  struct stat sb;
  const unsigned char *rings = MAP_FAILED;
  uint64_t *written = NULL, stride, extra = 0;
  uint32_t n_slots;
  size_t trace_end = 0, at;
  unsigned char *buf = MAP_FAILED;
  int fd, rc = HQ_OK;

  snprintf(path, sizeof path, "%s%s", raw_path, HQ_RINGS_SUFFIX);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return HQ_OK; /* none: the process ended normally, or could not make one */
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
      (uint64_t)sb.st_size < HQ_RING_HEADER_BYTES + sizeof(hq_raw_ring_t))
    goto out;
  rings = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (rings == MAP_FAILED) goto out;
  /* Every slot has the same size: the first one in use says which. */
  {
    const hq_raw_ring_t *first = (const hq_raw_ring_t *)rings;
    if (first->magic != HQ_RING_MAGIC || first->cap == 0 || (first->cap & (first->cap - 1)))
      goto out;
    stride = HQ_RING_HEADER_BYTES + first->cap;
  }
  n_slots = (uint32_t)((uint64_t)sb.st_size / stride);
  if (!(written = calloc(n_slots ? n_slots : 1, sizeof *written))) {
    rc = HQ_ENOMEM;
    goto out;
  }
  if (scan_trace(im, written, n_slots, &trace_end)) goto out;

  /* Size what is left in each slot, then copy the trace and append it. */
  for (int copy = 0; copy < 2; copy++) {
    at = trace_end;
    for (uint32_t i = 0; i < n_slots; i++) {
      const hq_raw_ring_t *sh = (const hq_raw_ring_t *)(rings + (uint64_t)i * stride);
      const unsigned char *data = (const unsigned char *)sh + HQ_RING_HEADER_BYTES;
      uint64_t head = sh->head, from = sh->tail, to;
      hq_rec_chunk_t c;
      if (sh->magic != HQ_RING_MAGIC || sh->cap + HQ_RING_HEADER_BYTES != stride) continue;
      if (written[i] > from) from = written[i];
      if (head <= from || head - from > sh->cap) continue; /* nothing new, or inconsistent */
      to = whole_records(data, sh->cap, from, head);
      if (to == from) continue;
      if (!copy) {
        extra += sizeof c + (to - from);
        continue;
      }
      memset(&c, 0, sizeof c);
      c.hdr.type = HQ_REC_CHUNK;
      c.hdr.len = (uint32_t)(sizeof c + (to - from));
      c.tid = sh->tid;
      c.slot = i;
      c.pos = from;
      memcpy(buf + at, &c, sizeof c);
      at += sizeof c;
      for (uint64_t x = from; x < to;) { /* at most two runs: the ring wraps once */
        uint64_t off = x % sh->cap, run = sh->cap - off < to - x ? sh->cap - off : to - x;
        memcpy(buf + at, data + off, run);
        at += run;
        x += run;
      }
      im->recovered_bytes += to - from;
    }
    if (!copy) {
      if (extra == 0) goto out;
      buf = mmap(NULL, trace_end + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (buf == MAP_FAILED) {
        rc = HQ_ENOMEM;
        goto out;
      }
      memcpy(buf, im->map, trace_end);
    }
  }
  munmap((void *)im->map, im->map_len);
  im->map = buf;
  im->map_len = trace_end + extra;
  im->hdr = (const hq_raw_header_t *)buf;
  im->map_owned = 1;
  buf = MAP_FAILED;
out:
  if (buf != MAP_FAILED) munmap(buf, trace_end + extra);
  if (rings != MAP_FAILED) munmap((void *)rings, (size_t)sb.st_size);
  free(written);
  close(fd);
  return rc;
}
