/*
 * hq_chunk.c: run a callback over an array or a file in chunks.  Arrays are walked in place;
 * files are read into one buffer that every chunk reuses, so peak memory is the buffer, not
 * the file.  The chunk size rule is in kernels.h (half the budget for the chunk).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heapql/annotate.h"
#include "kernels_int.h"

int hq_chunk_size_for_budget(size_t elem_size, size_t budget_bytes, size_t *out_elems) {
  size_t n;
  if (!elem_size || !out_elems)
    return hq__kerr(HQ_EINVAL, "chunk: elem_size is 0 or out_elems is NULL");
  if (!budget_bytes) budget_bytes = HQ_CHUNK_DEFAULT_BUDGET;
  n = (budget_bytes / 2) / elem_size;
  *out_elems = n ? n : 1;
  return HQ_OK;
}

static int resolve_chunk(const hq_chunk_opts_t *o, size_t elem_size, size_t *out) {
  if (o->chunk_elems) {
    *out = o->chunk_elems;
    return HQ_OK;
  }
  return hq_chunk_size_for_budget(elem_size, o->budget_bytes, out);
}

/* One callback inside its "chunk" region; maps the callback's answer onto ours. */
static int run_one(const hq_chunk_opts_t *o, hq_chunk_fn fn, void *ctx, const void *chunk,
                   size_t count, hq_chunk_info_t *info, int *stop) {
  int r;
  if (!o->no_regions) hq_annotate_region_begin("chunk");
  r = fn(ctx, chunk, count, info->chunks, info->elems);
  if (!o->no_regions) hq_annotate_region_end();
  info->chunks++;
  info->elems += count;
  if (r < 0) return hq__kerr(r, "chunk: callback returned %d at chunk %zu", r, info->chunks - 1);
  if (r > 0) {
    info->stopped = 1;
    *stop = 1;
  }
  return HQ_OK;
}

int hq_chunk_array(const void *data, size_t count, size_t elem_size, const hq_chunk_opts_t *opts,
                   hq_chunk_fn fn, void *ctx, hq_chunk_info_t *out_info) {
  hq_chunk_opts_t o = {0};
  hq_chunk_info_t info = {0};
  size_t chunk;
  int rc, stop = 0;
  if (!fn || !elem_size || (count && !data))
    return hq__kerr(HQ_EINVAL, "chunk_array: NULL callback or data, or elem_size 0");
  if (opts) o = *opts;
  if ((rc = resolve_chunk(&o, elem_size, &chunk)) != HQ_OK) return rc;
  if (chunk > count && count) chunk = count;
  info.chunk_elems = chunk;
  for (size_t first = 0; first < count && !stop; first += chunk) {
    size_t n = count - first < chunk ? count - first : chunk;
    rc = run_one(&o, fn, ctx, (const char *)data + first * elem_size, n, &info, &stop);
    if (rc != HQ_OK) goto out;
  }
out:
  if (out_info) *out_info = info;
  return rc;
}

/* Fill buf with up to want bytes from fd (pread at *pos when seekable, else read); stops early
 * only at end of file.  *got receives the bytes read. */
static int fill(int fd, int seekable, off_t *pos, char *buf, size_t want, size_t *got) {
  size_t have = 0;
  while (have < want) {
    ssize_t r = seekable ? pread(fd, buf + have, want - have, *pos) : read(fd, buf + have, want - have);
    if (r < 0) {
      if (errno == EINTR) continue;
      return hq__kerr(HQ_EIO, "chunk: read failed: %s", strerror(errno));
    }
    if (r == 0) break;
    have += (size_t)r;
    *pos += r;
  }
  *got = have;
  return HQ_OK;
}

int hq_chunk_fd(int fd, size_t elem_size, const hq_chunk_opts_t *opts, hq_chunk_fn fn, void *ctx,
                hq_chunk_info_t *out_info) {
  hq_chunk_opts_t o = {0};
  hq_chunk_info_t info = {0};
  struct stat sb;
  size_t chunk, bytes, carry = 0;
  char *buf = NULL;
  int rc, stop = 0, seekable;
  off_t pos;

  if (fd < 0 || !fn || !elem_size)
    return hq__kerr(HQ_EINVAL, "chunk_fd: bad descriptor, NULL callback or elem_size 0");
  if (opts) o = *opts;
  if (o.offset < 0) return hq__kerr(HQ_EINVAL, "chunk_fd: negative offset");
  if ((rc = resolve_chunk(&o, elem_size, &chunk)) != HQ_OK) return rc;
  if (fstat(fd, &sb) != 0) return hq__kerr(HQ_EIO, "chunk_fd: fstat: %s", strerror(errno));
  seekable = S_ISREG(sb.st_mode) || S_ISBLK(sb.st_mode);
  pos = o.offset;
  if (S_ISREG(sb.st_mode)) {
    /* never allocate more than the file holds */
    size_t avail = sb.st_size > o.offset ? (size_t)(sb.st_size - o.offset) / elem_size : 0;
    if (chunk > avail) chunk = avail ? avail : 1;
  }
  if (hq__mul_overflow(chunk, elem_size, &bytes))
    return hq__kerr(HQ_ERANGE, "chunk_fd: chunk of %zu elements is too large", chunk);
  info.chunk_elems = chunk;
  if (o.pool) rc = hq_pool_alloc(o.pool, bytes, (void **)&buf);
  else if (!(buf = malloc(bytes))) rc = hq__kerr(HQ_ENOMEM, "chunk_fd: cannot allocate %zu bytes", bytes);
  if (rc != HQ_OK) return rc;
  info.buffer_bytes = bytes;

  while (!stop) {
    size_t got = 0, n;
    rc = fill(fd, seekable, &pos, buf, bytes, &got);
    if (rc != HQ_OK) goto out;
    n = got / elem_size;
    carry = got - n * elem_size; /* only at end of input: bytes is whole elements */
    if (n > 0) {
      rc = run_one(&o, fn, ctx, buf, n, &info, &stop);
      if (rc != HQ_OK) goto out;
    }
    if (got < bytes) break; /* end of input */
  }
  if (!stop && carry)
    rc = hq__kerr(HQ_EFORMAT, "chunk_fd: the data ends inside an element (%zu stray bytes after "
                  "%zu elements)", carry, info.elems);
out:
  if (o.pool) (void)hq_pool_free(o.pool, buf);
  else free(buf);
  if (out_info) *out_info = info;
  return rc;
}

int hq_chunk_file(const char *path, size_t elem_size, const hq_chunk_opts_t *opts, hq_chunk_fn fn,
                  void *ctx, hq_chunk_info_t *out_info) {
  int fd, rc;
  if (!path) return hq__kerr(HQ_EINVAL, "chunk_file: path is NULL");
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return hq__kerr(HQ_ENOENT, "chunk_file: cannot open %s: %s", path, strerror(errno));
  rc = hq_chunk_fd(fd, elem_size, opts, fn, ctx, out_info);
  close(fd);
  return rc;
}
