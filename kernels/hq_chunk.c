/*
 * hq_chunk.c: chunked processing of an array or a file.  The reader (open / next / close) is
 * the one engine: arrays are walked in place; files are read into one buffer that every chunk
 * reuses, so peak memory is the buffer plus the reader's state, not the file.  The callback
 * API (hq_chunk_array, hq_chunk_fd, hq_chunk_file) is a loop over a reader.  The chunk size
 * rule is in kernels.h (half the budget for the chunk).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heapql/annotate.h"
#include "kernels_int.h"

struct hq_chunk_reader_s {
  hq_chunk_opts_t o;
  size_t elem_size;
  const char *data;      /* array readers: the input, walked in place */
  size_t count;          /* array readers: elements in it */
  int fd;                /* file readers: the descriptor (-1 for arrays) */
  int own_fd;            /* opened by hq_chunk_reader_open_file: closed by close */
  int seekable;          /* pread at pos, else read */
  off_t pos;
  char *buf;             /* file readers: the one chunk buffer */
  int eof;               /* no more input to read */
  size_t stray;          /* bytes after the last whole element, seen at end of input */
  int failed;            /* an HQ_E* code once a call failed: later calls return it again */
  int region_open;       /* a "chunk" region is open for the chunk last returned */
  hq_chunk_info_t info;
};

int hq_chunk_size_for_budget(size_t elem_size, size_t budget_bytes, size_t *out_elems) {
  size_t n;
  if (!out_elems) return hq__kerr(HQ_MISUSE_BKPT, "chunk: out_elems is NULL");
  if (!elem_size) return hq__kerr(HQ_EINVAL, "chunk: elem_size is 0");
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

/* A reader with its options resolved; no buffer yet.  *out freed by the caller on failure. */
static int reader_new(size_t elem_size, const hq_chunk_opts_t *opts, hq_chunk_reader_t **out) {
  hq_chunk_reader_t *r;
  int rc;
  if (!elem_size) return hq__kerr(HQ_EINVAL, "chunk: elem_size is 0");
  r = calloc(1, sizeof *r);
  if (!r) return hq__kerr(HQ_ENOMEM, "chunk_reader: out of memory");
  if (opts) r->o = *opts;
  r->elem_size = elem_size;
  r->fd = -1;
  if ((rc = resolve_chunk(&r->o, elem_size, &r->info.chunk_elems)) != HQ_OK) {
    free(r);
    return rc;
  }
  *out = r;
  return HQ_OK;
}

int hq_chunk_reader_open_array(const void *data, size_t count, size_t elem_size,
                               const hq_chunk_opts_t *opts, hq_chunk_reader_t **out) {
  hq_chunk_reader_t *r;
  int rc;
  if (!out) return hq__kerr(HQ_MISUSE_BKPT, "chunk_reader: out is NULL");
  if (count && !data) return hq__kerr(HQ_MISUSE_BKPT, "chunk_array: data is NULL");
  if ((rc = reader_new(elem_size, opts, &r)) != HQ_OK) return rc;
  r->data = data;
  r->count = count;
  if (r->info.chunk_elems > count && count) r->info.chunk_elems = count;
  *out = r;
  return HQ_OK;
}

int hq_chunk_reader_open_fd(int fd, size_t elem_size, const hq_chunk_opts_t *opts,
                            hq_chunk_reader_t **out) {
  hq_chunk_reader_t *r = NULL;
  struct stat sb;
  size_t bytes;
  int rc;
  if (!out) return hq__kerr(HQ_MISUSE_BKPT, "chunk_reader: out is NULL");
  if (fd < 0) return hq__kerr(HQ_EINVAL, "chunk_fd: bad descriptor");
  if (opts && opts->offset < 0) return hq__kerr(HQ_EINVAL, "chunk_fd: negative offset");
  if ((rc = reader_new(elem_size, opts, &r)) != HQ_OK) return rc;
  if (fstat(fd, &sb) != 0) {
    rc = hq__kerr(HQ_EIO, "chunk_fd: fstat: %s", strerror(errno));
    goto out;
  }
  r->fd = fd;
  r->seekable = S_ISREG(sb.st_mode) || S_ISBLK(sb.st_mode);
  r->pos = r->o.offset;
  if (S_ISREG(sb.st_mode)) {
    /* never allocate more than the file holds */
    size_t avail = sb.st_size > r->o.offset ? (size_t)(sb.st_size - r->o.offset) / elem_size : 0;
    if (r->info.chunk_elems > avail) r->info.chunk_elems = avail ? avail : 1;
  }
  if (hq__mul_overflow(r->info.chunk_elems, elem_size, &bytes)) {
    rc = hq__kerr(HQ_ERANGE, "chunk_fd: chunk of %zu elements is too large", r->info.chunk_elems);
    goto out;
  }
  if (r->o.pool) rc = hq_pool_alloc(r->o.pool, bytes, (void **)&r->buf);
  else if (!(r->buf = malloc(bytes)))
    rc = hq__kerr(HQ_ENOMEM, "chunk_fd: cannot allocate %zu bytes", bytes);
  if (rc != HQ_OK) goto out;
  r->info.buffer_bytes = bytes;
  *out = r;
  r = NULL;
out:
  free(r);
  return rc;
}

int hq_chunk_reader_open_file(const char *path, size_t elem_size, const hq_chunk_opts_t *opts,
                              hq_chunk_reader_t **out) {
  int fd, rc;
  if (!path || !out) return hq__kerr(HQ_MISUSE_BKPT, "chunk_file: path or out is NULL");
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return hq__kerr(HQ_ENOENT, "chunk_file: cannot open %s: %s", path, strerror(errno));
  rc = hq_chunk_reader_open_fd(fd, elem_size, opts, out);
  if (rc != HQ_OK) close(fd);
  else (*out)->own_fd = 1;
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

static void end_region(hq_chunk_reader_t *r) {
  if (r->region_open) hq_annotate_region_end();
  r->region_open = 0;
}

/* The next n (<= want) elements of a file reader into its buffer; n 0 at end of input. */
static int read_chunk(hq_chunk_reader_t *r, size_t want, size_t *out_n) {
  size_t got = 0, n;
  int rc;
  if (r->eof) {
    *out_n = 0;
    return HQ_OK;
  }
  rc = fill(r->fd, r->seekable, &r->pos, r->buf, want * r->elem_size, &got);
  if (rc != HQ_OK) return rc;
  n = got / r->elem_size;
  r->stray = got - n * r->elem_size; /* only at end of input: fill stops short only there */
  if (got < want * r->elem_size) r->eof = 1;
  *out_n = n;
  return HQ_OK;
}

int hq_chunk_reader_next(hq_chunk_reader_t *r, size_t max_elems, const void **out_chunk,
                         size_t *out_count, size_t *out_first) {
  size_t want, n;
  const void *chunk;
  int rc;
  if (!r || !out_chunk || !out_count)
    return hq__kerr(HQ_MISUSE_BKPT, "chunk_reader_next: NULL reader or out-parameter");
  end_region(r); /* the caller is done with the previous chunk */
  if (r->failed)
    return hq__kerr(r->failed, "chunk_reader_next: the reader failed earlier (%s)",
                    hq_strerror(r->failed));
  want = max_elems && max_elems < r->info.chunk_elems ? max_elems : r->info.chunk_elems;
  if (r->fd < 0) {
    size_t left = r->count - r->info.elems;
    n = left < want ? left : want;
    chunk = n ? r->data + r->info.elems * r->elem_size : NULL;
  } else {
    if ((rc = read_chunk(r, want, &n)) != HQ_OK) {
      r->failed = rc;
      return rc;
    }
    chunk = r->buf;
  }
  if (n == 0) {
    if (r->stray) {
      r->failed = HQ_EFORMAT;
      return hq__kerr(HQ_EFORMAT, "chunk: the data ends inside an element (%zu stray bytes "
                      "after %zu elements)", r->stray, r->info.elems);
    }
    *out_chunk = NULL;
    *out_count = 0;
    if (out_first) *out_first = r->info.elems;
    return HQ_OK;
  }
  if (!r->o.no_regions) {
    hq_annotate_region_begin("chunk");
    r->region_open = 1;
  }
  *out_chunk = chunk;
  *out_count = n;
  if (out_first) *out_first = r->info.elems;
  r->info.chunks++;
  r->info.elems += n;
  return HQ_OK;
}

int hq_chunk_reader_info(const hq_chunk_reader_t *r, hq_chunk_info_t *out_info) {
  if (!r || !out_info) return hq__kerr(HQ_MISUSE_BKPT, "chunk_reader_info: NULL argument");
  *out_info = r->info;
  return HQ_OK;
}

void hq_chunk_reader_close(hq_chunk_reader_t *r) {
  if (!r) return;
  end_region(r);
  if (r->o.pool) (void)hq_pool_free(r->o.pool, r->buf);
  else free(r->buf);
  if (r->own_fd) close(r->fd);
  free(r);
}

/* ---- the callback API: a loop over a reader ------------------------------------------------ */

/* Call fn on every chunk of r, then close r.  The callback's answer: 0 go on, > 0 stop (info
 * stopped = 1), < 0 abort with that code. */
static int run_reader(hq_chunk_reader_t *r, hq_chunk_fn fn, void *ctx, hq_chunk_info_t *out_info) {
  int rc;
  for (;;) {
    const void *chunk;
    size_t n, first;
    int answer;
    rc = hq_chunk_reader_next(r, 0, &chunk, &n, &first);
    if (rc != HQ_OK || n == 0) break;
    answer = fn(ctx, chunk, n, r->info.chunks - 1, first);
    if (answer < 0) {
      rc = hq__kerr(answer, "chunk: callback returned %d at chunk %zu", answer, r->info.chunks - 1);
      break;
    }
    if (answer > 0) {
      r->info.stopped = 1;
      break;
    }
  }
  if (out_info) *out_info = r->info;
  hq_chunk_reader_close(r);
  return rc;
}

int hq_chunk_array(const void *data, size_t count, size_t elem_size, const hq_chunk_opts_t *opts,
                   hq_chunk_fn fn, void *ctx, hq_chunk_info_t *out_info) {
  hq_chunk_reader_t *r;
  int rc;
  if (!fn) return hq__kerr(HQ_MISUSE_BKPT, "chunk_array: NULL callback");
  if ((rc = hq_chunk_reader_open_array(data, count, elem_size, opts, &r)) != HQ_OK) return rc;
  return run_reader(r, fn, ctx, out_info);
}

int hq_chunk_fd(int fd, size_t elem_size, const hq_chunk_opts_t *opts, hq_chunk_fn fn, void *ctx,
                hq_chunk_info_t *out_info) {
  hq_chunk_reader_t *r;
  int rc;
  if (!fn) return hq__kerr(HQ_MISUSE_BKPT, "chunk_fd: NULL callback");
  if ((rc = hq_chunk_reader_open_fd(fd, elem_size, opts, &r)) != HQ_OK) return rc;
  return run_reader(r, fn, ctx, out_info);
}

int hq_chunk_file(const char *path, size_t elem_size, const hq_chunk_opts_t *opts, hq_chunk_fn fn,
                  void *ctx, hq_chunk_info_t *out_info) {
  hq_chunk_reader_t *r;
  int rc;
  if (!fn) return hq__kerr(HQ_MISUSE_BKPT, "chunk_file: NULL callback");
  if ((rc = hq_chunk_reader_open_file(path, elem_size, opts, &r)) != HQ_OK) return rc;
  return run_reader(r, fn, ctx, out_info);
}
