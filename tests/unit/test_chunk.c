/* test_chunk.c: chunked processing of arrays, files and pipes, through callbacks and through
 * readers (open / next / close): exact chunk boundaries, the budget rule, early stop, errors,
 * one reused buffer whatever the input size, regions. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hq_test.h"
#include "heapql/kernels.h"
#include "fake/hq_fake_annotate.h"

#define MAX_SEEN 64

typedef struct seen_s {
  size_t n;
  const void *ptr[MAX_SEEN];
  size_t count[MAX_SEEN], index[MAX_SEEN], first[MAX_SEEN];
  int64_t sum;          /* of int32 elements */
  int stop_at;          /* return 1 at this chunk index (-1: never) */
  int fail_at;          /* return HQ_EIO at this chunk index (-1: never) */
  int64_t expect_next;  /* int32 files: element i holds i */
  int out_of_order;
} seen_t;

static int record(void *ctx, const void *chunk, size_t count, size_t index, size_t first) {
  seen_t *s = ctx;
  if (s->n < MAX_SEEN) {
    s->ptr[s->n] = chunk;
    s->count[s->n] = count;
    s->index[s->n] = index;
    s->first[s->n] = first;
  }
  s->n++;
  if ((int)index == s->fail_at) return HQ_EIO;
  if ((int)index == s->stop_at) return 1;
  return 0;
}

static int sum_ints(void *ctx, const void *chunk, size_t count, size_t index, size_t first) {
  seen_t *s = ctx;
  const int32_t *v = chunk;
  (void)index;
  if ((int64_t)first != s->expect_next) s->out_of_order++;
  for (size_t i = 0; i < count; i++) {
    if (v[i] != (int32_t)(first + i)) s->out_of_order++;
    s->sum += v[i];
  }
  s->expect_next = (int64_t)(first + count);
  return record(ctx, chunk, count, index, first);
}

static void seen_init(seen_t *s) {
  memset(s, 0, sizeof *s);
  s->stop_at = -1;
  s->fail_at = -1;
}

static void test_chunk_budget_rule(void **state) {
  (void)state;
  size_t n = 0;
  assert_int_equal(hq_chunk_size_for_budget(8, 1000, &n), HQ_OK);
  assert_int_equal(n, 62); /* (1000 / 2) / 8 */
  assert_int_equal(hq_chunk_size_for_budget(4, 0, &n), HQ_OK);
  assert_int_equal(n, (64u << 20) / 2 / 4); /* default budget 64 MiB */
  assert_int_equal(hq_chunk_size_for_budget(1000, 1000, &n), HQ_OK);
  assert_int_equal(n, 1); /* never less than one element */
  assert_int_equal(hq_chunk_size_for_budget(0, 1000, &n), HQ_EINVAL);
  assert_int_equal(hq_chunk_size_for_budget(4, 1000, NULL), HQ_EMISUSE);
}

static void test_chunk_array_exact_boundaries(void **state) {
  (void)state;
  double data[1000] = {0};
  seen_t s;
  hq_chunk_info_t info;
  hq_chunk_opts_t o = {0};
  seen_init(&s);
  o.chunk_elems = 300;
  assert_int_equal(hq_chunk_array(data, 1000, sizeof(double), &o, record, &s, &info), HQ_OK);
  assert_int_equal(s.n, 4);
  size_t count[4] = {300, 300, 300, 100}, first[4] = {0, 300, 600, 900};
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(s.count[i], count[i]);
    assert_int_equal(s.first[i], first[i]);
    assert_int_equal(s.index[i], i);
    assert_ptr_equal(s.ptr[i], &data[first[i]]); /* no copy */
  }
  assert_int_equal(info.chunks, 4);
  assert_int_equal(info.elems, 1000);
  assert_int_equal(info.chunk_elems, 300);
  assert_int_equal(info.buffer_bytes, 0);
  assert_int_equal(info.stopped, 0);
}

static void test_chunk_array_from_budget(void **state) {
  (void)state;
  double data[1000] = {0};
  seen_t s;
  hq_chunk_info_t info;
  hq_chunk_opts_t o = {0};
  seen_init(&s);
  o.budget_bytes = 1000; /* 62 doubles per chunk */
  assert_int_equal(hq_chunk_array(data, 1000, sizeof(double), &o, record, &s, &info), HQ_OK);
  assert_int_equal(info.chunk_elems, 62);
  assert_int_equal(info.chunks, 17); /* 16 x 62 = 992, then 8 */
  assert_int_equal(s.count[15], 62);
  assert_int_equal(s.count[16], 8);
  assert_int_equal(s.first[16], 992);
  /* with no options: the default budget is bigger than the input: one chunk of it all */
  seen_init(&s);
  assert_int_equal(hq_chunk_array(data, 1000, sizeof(double), NULL, record, &s, &info), HQ_OK);
  assert_int_equal(info.chunks, 1);
  assert_int_equal(info.chunk_elems, 1000);
  /* empty input: no callback */
  seen_init(&s);
  assert_int_equal(hq_chunk_array(NULL, 0, 4, NULL, record, &s, &info), HQ_OK);
  assert_int_equal(s.n, 0);
}

static void test_chunk_array_stop_and_error(void **state) {
  (void)state;
  int32_t data[100] = {0};
  seen_t s;
  hq_chunk_info_t info;
  hq_chunk_opts_t o = {0};
  o.chunk_elems = 10;
  seen_init(&s);
  s.stop_at = 1;
  assert_int_equal(hq_chunk_array(data, 100, 4, &o, record, &s, &info), HQ_OK);
  assert_int_equal(s.n, 2);
  assert_int_equal(info.stopped, 1);
  assert_int_equal(info.elems, 20);
  seen_init(&s);
  s.fail_at = 3;
  assert_int_equal(hq_chunk_array(data, 100, 4, &o, record, &s, &info), HQ_EIO);
  assert_int_equal(s.n, 4);
  assert_non_null(strstr(hq_kernels_errmsg(), "callback returned"));
  assert_int_equal(hq_chunk_array(data, 100, 4, &o, NULL, &s, &info), HQ_EMISUSE);
  assert_int_equal(hq_chunk_array(NULL, 100, 4, &o, record, &s, &info), HQ_EMISUSE);
  assert_int_equal(hq_chunk_array(data, 100, 0, &o, record, &s, &info), HQ_EINVAL);
}

/* A file of n int32 values i = 0..n-1 after `header` bytes of 0xff. */
static const char *write_ints(const char *name, size_t n, size_t header, size_t extra_bytes) {
  const char *path = hq_test_join(hq_test_tmpdir(), name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  for (size_t i = 0; i < header; i++) fputc(0xff, f);
  for (size_t i = 0; i < n; i++) {
    int32_t v = (int32_t)i;
    fwrite(&v, 4, 1, f);
  }
  for (size_t i = 0; i < extra_bytes; i++) fputc(0x11, f);
  fclose(f);
  return path;
}

static void test_chunk_file_exact_boundaries(void **state) {
  (void)state;
  const char *path = write_ints("ints.bin", 10007, 12, 0);
  seen_t s;
  hq_chunk_info_t info;
  hq_chunk_opts_t o = {0};
  seen_init(&s);
  o.chunk_elems = 1000;
  o.offset = 12;
  assert_int_equal(hq_chunk_file(path, 4, &o, sum_ints, &s, &info), HQ_OK);
  assert_int_equal(info.chunks, 11);
  assert_int_equal(info.elems, 10007);
  assert_int_equal(info.buffer_bytes, 4000);
  assert_int_equal(s.count[10], 7);
  assert_int_equal(s.first[10], 10000);
  assert_int_equal(s.out_of_order, 0);
  assert_int_equal(s.sum, (int64_t)10006 * 10007 / 2);
  for (size_t i = 1; i < 11; i++) assert_ptr_equal(s.ptr[i], s.ptr[0]); /* one reused buffer */
}

static void test_chunk_file_budget_and_flat_peak(void **state) {
  (void)state;
  /* two files, one ten times the other: the same buffer, from the same budget */
  const char *small = write_ints("small.bin", 100000, 0, 0);
  const char *large = write_ints("large.bin", 1000000, 0, 0);
  hq_pool_t *pool = NULL;
  hq_pool_stats_t st;
  seen_t s;
  hq_chunk_info_t a, b;
  hq_chunk_opts_t o = {0};
  assert_int_equal(hq_pool_create(NULL, &pool), HQ_OK);
  o.budget_bytes = 64 * 1024; /* 8192 int32 per chunk */
  o.pool = pool;
  seen_init(&s);
  assert_int_equal(hq_chunk_file(small, 4, &o, sum_ints, &s, &a), HQ_OK);
  assert_int_equal(s.out_of_order, 0);
  seen_init(&s);
  assert_int_equal(hq_chunk_file(large, 4, &o, sum_ints, &s, &b), HQ_OK);
  assert_int_equal(s.out_of_order, 0);
  assert_int_equal(s.sum, (int64_t)999999 * 1000000 / 2);
  assert_int_equal(a.chunk_elems, 8192);
  assert_int_equal(b.chunk_elems, 8192);
  assert_int_equal(a.buffer_bytes, 32768);
  assert_int_equal(b.buffer_bytes, 32768);
  assert_int_equal(a.chunks, 13); /* ceil(100000 / 8192) */
  assert_int_equal(b.chunks, 123);
  /* the pool saw one 32 KiB buffer at a time, for both sizes */
  assert_int_equal(hq_pool_get_stats(pool, &st), HQ_OK);
  assert_int_equal(st.requested_bytes[HQ_STAT_ALL].peak, 32768);
  assert_int_equal(st.requested_bytes[HQ_STAT_ALL].current, 0);
  assert_int_equal(st.allocation[HQ_STAT_ALL].allocated, 2);
  hq_pool_destroy(pool);
  /* a file smaller than the chunk gets a buffer of its own size */
  const char *tiny = write_ints("tiny.bin", 10, 0, 0);
  seen_init(&s);
  assert_int_equal(hq_chunk_file(tiny, 4, NULL, sum_ints, &s, &a), HQ_OK);
  assert_int_equal(a.buffer_bytes, 40);
  assert_int_equal(a.chunks, 1);
}

static void test_chunk_file_partial_element(void **state) {
  (void)state;
  const char *path = write_ints("odd.bin", 1000, 0, 3);
  seen_t s;
  hq_chunk_info_t info;
  hq_chunk_opts_t o = {0};
  seen_init(&s);
  o.chunk_elems = 256;
  assert_int_equal(hq_chunk_file(path, 4, &o, sum_ints, &s, &info), HQ_EFORMAT);
  assert_int_equal(info.elems, 1000); /* every whole element was processed first */
  assert_int_equal(s.out_of_order, 0);
  assert_non_null(strstr(hq_kernels_errmsg(), "3 stray bytes"));
}

static void test_chunk_file_errors(void **state) {
  (void)state;
  seen_t s;
  seen_init(&s);
  assert_int_equal(hq_chunk_file("/nonexistent/heapql/file", 4, NULL, record, &s, NULL), HQ_ENOENT);
  assert_non_null(strstr(hq_kernels_errmsg(), "/nonexistent/heapql/file"));
  assert_int_equal(hq_chunk_fd(-1, 4, NULL, record, &s, NULL), HQ_EINVAL);
  assert_int_equal(hq_chunk_file(NULL, 4, NULL, record, &s, NULL), HQ_EMISUSE);
  /* a directory cannot be read */
  assert_int_equal(hq_chunk_file(hq_test_tmpdir(), 4, NULL, record, &s, NULL), HQ_EIO);
}

typedef struct writer_s {
  int fd;
  size_t n;
} writer_t;

static void *write_pipe(void *varg) {
  writer_t *w = varg;
  /* dribble in odd-sized pieces so reads come back short and split elements */
  int32_t buf[777];
  size_t i = 0;
  while (i < w->n) {
    size_t k = 0;
    for (; k < 777 && i < w->n; k++, i++) buf[k] = (int32_t)i;
    const char *p = (const char *)buf;
    size_t left = k * 4;
    while (left) {
      size_t piece = left < 1001 ? left : 1001;
      ssize_t r = write(w->fd, p, piece);
      if (r <= 0) break;
      p += r;
      left -= (size_t)r;
    }
  }
  close(w->fd);
  return NULL;
}

/* A pipe a thread writes 0 .. w->n - 1 into (int32, in odd pieces); returns the read end. */
static int start_pipe_writer(writer_t *w, size_t n, pthread_t *th) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  w->fd = fds[1];
  w->n = n;
  assert_int_equal(pthread_create(th, NULL, write_pipe, w), 0);
  return fds[0];
}

static void test_chunk_pipe(void **state) {
  (void)state;
  pthread_t th;
  writer_t w;
  seen_t s;
  hq_chunk_info_t info;
  hq_chunk_opts_t o = {0};
  int fd = start_pipe_writer(&w, 50000, &th);
  seen_init(&s);
  o.chunk_elems = 4096;
  assert_int_equal(hq_chunk_fd(fd, 4, &o, sum_ints, &s, &info), HQ_OK);
  pthread_join(th, NULL);
  close(fd);
  assert_int_equal(info.chunks, 13); /* 12 x 4096 = 49152, then 848 */
  assert_int_equal(s.count[12], 848);
  assert_int_equal(s.out_of_order, 0);
  assert_int_equal(s.sum, (int64_t)49999 * 50000 / 2);
}

static int fake_loaded;

static int group_setup(void **state) {
  (void)state;
  fake_loaded = hq_fake_annotate_load() == 0;
  return 0;
}

static void test_chunk_regions(void **state) {
  (void)state;
  int32_t data[100] = {0};
  seen_t s;
  hq_chunk_opts_t o = {0};
  if (!fake_loaded) fail_msg("the stand-in recorder was not loaded (make tests builds it)");
  hq_fake_counts_t before = hq_fake_counts(), now;
  o.chunk_elems = 30;
  seen_init(&s);
  assert_int_equal(hq_chunk_array(data, 100, 4, &o, record, &s, NULL), HQ_OK);
  now = hq_fake_counts();
  assert_int_equal(now.chunk_regions - before.chunk_regions, 4);
  assert_int_equal(now.regions_ended - before.regions_ended, 4);
  assert_int_equal(now.open_depth, 0);
  o.no_regions = 1;
  seen_init(&s);
  assert_int_equal(hq_chunk_array(data, 100, 4, &o, record, &s, NULL), HQ_OK);
  assert_int_equal(hq_fake_counts().chunk_regions, now.chunk_regions);
}

/* ---- readers (open / next / close) ------------------------------------------------------------ */

/* Pull every chunk of r with next(max_elems) into s (as the callbacks do), checking the
 * int32-file contents; returns the code of the call that ended the loop. */
static int pull_all(hq_chunk_reader_t *r, size_t max_elems, seen_t *s) {
  for (;;) {
    const void *chunk = (const void *)1;
    size_t n = 99, first = 99;
    int rc = hq_chunk_reader_next(r, max_elems, &chunk, &n, &first);
    if (rc != HQ_OK) return rc;
    if (n == 0) {
      assert_null(chunk);
      assert_int_equal(first, (size_t)s->expect_next); /* where the input ended */
      return HQ_OK;
    }
    sum_ints(s, chunk, n, s->n, first);
  }
}

static void test_chunk_reader_file_exact_boundaries(void **state) {
  (void)state;
  const char *path = write_ints("rints.bin", 10007, 12, 0);
  hq_chunk_reader_t *r = NULL;
  hq_chunk_info_t info;
  hq_chunk_opts_t o = {0};
  seen_t s;
  const void *chunk;
  size_t n, first;
  seen_init(&s);
  o.chunk_elems = 1000;
  o.offset = 12;
  assert_int_equal(hq_chunk_reader_open_file(path, 4, &o, &r), HQ_OK);
  assert_int_equal(pull_all(r, 0, &s), HQ_OK);
  assert_int_equal(s.n, 11);
  for (size_t i = 0; i < 11; i++) {
    assert_int_equal(s.count[i], i < 10 ? 1000 : 7);
    assert_int_equal(s.first[i], i * 1000);
    assert_ptr_equal(s.ptr[i], s.ptr[0]); /* one buffer, reused by every chunk */
  }
  assert_int_equal(s.out_of_order, 0);
  assert_int_equal(s.sum, (int64_t)10006 * 10007 / 2);
  /* the end stays the end */
  assert_int_equal(hq_chunk_reader_next(r, 0, &chunk, &n, NULL), HQ_OK);
  assert_int_equal(n, 0);
  assert_int_equal(hq_chunk_reader_info(r, &info), HQ_OK);
  assert_int_equal(info.chunks, 11);
  assert_int_equal(info.elems, 10007);
  assert_int_equal(info.chunk_elems, 1000);
  assert_int_equal(info.buffer_bytes, 4000);
  assert_int_equal(info.stopped, 0);
  hq_chunk_reader_close(r);

  /* next(max_elems): asked-for sizes, capped at the chunk size; boundaries follow the asks */
  static const size_t asks[] = {300, 5000, 1, 0, 999};
  static const size_t got[] = {300, 1000, 1, 1000, 999};
  assert_int_equal(hq_chunk_reader_open_file(path, 4, &o, &r), HQ_OK);
  size_t at = 0;
  for (size_t i = 0; i < 5; i++) {
    assert_int_equal(hq_chunk_reader_next(r, asks[i], &chunk, &n, &first), HQ_OK);
    assert_int_equal(n, got[i]);
    assert_int_equal(first, at);
    assert_int_equal(((const int32_t *)chunk)[0], (int32_t)at);
    assert_int_equal(((const int32_t *)chunk)[n - 1], (int32_t)(at + n - 1));
    at += n;
  }
  seen_init(&s);
  s.expect_next = (int64_t)at;
  assert_int_equal(pull_all(r, 0, &s), HQ_OK); /* the rest: 10007 - 3300 = 6707 */
  assert_int_equal(s.n, 7);
  assert_int_equal(s.first[0], 3300);
  assert_int_equal(s.count[6], 707);
  assert_int_equal(s.out_of_order, 0);
  hq_chunk_reader_close(r);
}

static void test_chunk_reader_array_in_place(void **state) {
  (void)state;
  double data[1000];
  hq_chunk_reader_t *r = NULL;
  hq_chunk_opts_t o = {0};
  hq_chunk_info_t info;
  const void *chunk;
  size_t n, first;
  for (int i = 0; i < 1000; i++) data[i] = i;
  o.chunk_elems = 300;
  assert_int_equal(hq_chunk_reader_open_array(data, 1000, sizeof(double), &o, &r), HQ_OK);
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(hq_chunk_reader_next(r, 0, &chunk, &n, &first), HQ_OK);
    assert_int_equal(n, i < 3 ? 300 : 100);
    assert_int_equal(first, i * 300);
    assert_ptr_equal(chunk, &data[i * 300]); /* no copy */
  }
  assert_int_equal(hq_chunk_reader_next(r, 0, &chunk, &n, &first), HQ_OK);
  assert_int_equal(n, 0);
  assert_int_equal(first, 1000);
  assert_int_equal(hq_chunk_reader_info(r, &info), HQ_OK);
  assert_int_equal(info.buffer_bytes, 0);
  assert_int_equal(info.chunks, 4);
  hq_chunk_reader_close(r);
  /* an empty array: the end at once */
  assert_int_equal(hq_chunk_reader_open_array(NULL, 0, 8, NULL, &r), HQ_OK);
  assert_int_equal(hq_chunk_reader_next(r, 0, &chunk, &n, NULL), HQ_OK);
  assert_int_equal(n, 0);
  hq_chunk_reader_close(r);
  hq_chunk_reader_close(NULL);
  assert_int_equal(hq_chunk_reader_open_array(NULL, 5, 8, NULL, &r), HQ_EMISUSE);
  assert_int_equal(hq_chunk_reader_open_array(data, 5, 0, NULL, &r), HQ_EINVAL);
  assert_int_equal(hq_chunk_reader_open_array(data, 5, 8, NULL, NULL), HQ_EMISUSE);
  assert_int_equal(hq_chunk_reader_next(NULL, 0, &chunk, &n, NULL), HQ_EMISUSE);
  assert_int_equal(hq_chunk_reader_info(NULL, &info), HQ_EMISUSE);
  assert_int_equal(hq_chunk_reader_open_file("/nonexistent/heapql/file", 4, NULL, &r), HQ_ENOENT);
  assert_int_equal(hq_chunk_reader_open_fd(-1, 4, NULL, &r), HQ_EINVAL);
}

static void test_chunk_reader_flat_peak(void **state) {
  (void)state;
  /* two files, one ten times the other: one buffer of the same size, from the same budget */
  const char *small = write_ints("rsmall.bin", 100000, 0, 0);
  const char *large = write_ints("rlarge.bin", 1000000, 0, 0);
  const char *paths[2] = {small, large};
  static const size_t chunks[2] = {13, 123}, elems[2] = {100000, 1000000};
  hq_pool_t *pool = NULL;
  hq_pool_stats_t st;
  hq_chunk_opts_t o = {0};
  assert_int_equal(hq_pool_create(NULL, &pool), HQ_OK);
  o.budget_bytes = 64 * 1024; /* 8192 int32 per chunk */
  o.pool = pool;
  for (int f = 0; f < 2; f++) {
    hq_chunk_reader_t *r = NULL;
    hq_chunk_info_t info;
    seen_t s;
    seen_init(&s);
    assert_int_equal(hq_chunk_reader_open_file(paths[f], 4, &o, &r), HQ_OK);
    assert_int_equal(pull_all(r, 0, &s), HQ_OK);
    assert_int_equal(s.out_of_order, 0);
    assert_int_equal(hq_chunk_reader_info(r, &info), HQ_OK);
    assert_int_equal(info.chunk_elems, 8192);
    assert_int_equal(info.buffer_bytes, 32768);
    assert_int_equal(info.chunks, chunks[f]);
    assert_int_equal(info.elems, elems[f]);
    /* while open, the pool holds exactly the chunk buffer */
    assert_int_equal(hq_pool_get_stats(pool, &st), HQ_OK);
    assert_int_equal(st.requested_bytes[HQ_STAT_ALL].current, 32768);
    hq_chunk_reader_close(r);
  }
  assert_int_equal(hq_pool_get_stats(pool, &st), HQ_OK);
  assert_int_equal(st.requested_bytes[HQ_STAT_ALL].peak, 32768); /* the same for both sizes */
  assert_int_equal(st.requested_bytes[HQ_STAT_ALL].current, 0);
  assert_int_equal(st.allocation[HQ_STAT_ALL].allocated, 2);
  hq_pool_destroy(pool);
}

static void test_chunk_reader_partial_element(void **state) {
  (void)state;
  const char *path = write_ints("rodd.bin", 1000, 0, 3);
  hq_chunk_reader_t *r = NULL;
  hq_chunk_opts_t o = {0};
  hq_chunk_info_t info;
  const void *chunk;
  size_t n;
  seen_t s;
  seen_init(&s);
  o.chunk_elems = 256;
  assert_int_equal(hq_chunk_reader_open_file(path, 4, &o, &r), HQ_OK);
  assert_int_equal(pull_all(r, 0, &s), HQ_EFORMAT);
  assert_non_null(strstr(hq_kernels_errmsg(), "3 stray bytes after 1000 elements"));
  assert_int_equal(s.n, 4); /* 256, 256, 256, then the 232 whole elements before the error */
  assert_int_equal(s.count[3], 232);
  assert_int_equal(s.out_of_order, 0);
  assert_int_equal(hq_chunk_reader_next(r, 0, &chunk, &n, NULL), HQ_EFORMAT); /* sticky */
  assert_int_equal(hq_chunk_reader_info(r, &info), HQ_OK);
  assert_int_equal(info.elems, 1000);
  hq_chunk_reader_close(r);
}

static void test_chunk_reader_pipe(void **state) {
  (void)state;
  pthread_t th;
  writer_t w;
  seen_t s;
  hq_chunk_reader_t *r = NULL;
  hq_chunk_opts_t o = {0};
  int fd = start_pipe_writer(&w, 50000, &th);
  seen_init(&s);
  o.chunk_elems = 4096;
  assert_int_equal(hq_chunk_reader_open_fd(fd, 4, &o, &r), HQ_OK);
  assert_int_equal(pull_all(r, 0, &s), HQ_OK);
  hq_chunk_reader_close(r);
  pthread_join(th, NULL);
  assert_int_equal(close(fd), 0); /* the reader did not close a descriptor it was given */
  assert_int_equal(s.n, 13); /* 12 x 4096 = 49152, then 848: short pipe reads are filled up */
  for (size_t i = 0; i < 12; i++) assert_int_equal(s.count[i], 4096);
  assert_int_equal(s.count[12], 848);
  assert_int_equal(s.out_of_order, 0);
  assert_int_equal(s.sum, (int64_t)49999 * 50000 / 2);
}

static void test_chunk_reader_regions(void **state) {
  (void)state;
  int32_t data[100] = {0};
  hq_chunk_reader_t *r = NULL;
  hq_chunk_opts_t o = {0};
  const void *chunk;
  size_t n;
  if (!fake_loaded) fail_msg("the stand-in recorder was not loaded (make tests builds it)");
  hq_fake_counts_t before = hq_fake_counts(), now;
  o.chunk_elems = 30;
  assert_int_equal(hq_chunk_reader_open_array(data, 100, 4, &o, &r), HQ_OK);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(hq_chunk_reader_next(r, 0, &chunk, &n, NULL), HQ_OK);
    now = hq_fake_counts();
    /* the region of chunk i is open while the caller works on it */
    assert_int_equal(now.open_depth, before.open_depth + 1);
    assert_int_equal(now.chunk_regions - before.chunk_regions, i + 1);
  }
  assert_int_equal(hq_chunk_reader_next(r, 0, &chunk, &n, NULL), HQ_OK);
  assert_int_equal(n, 0);
  now = hq_fake_counts();
  assert_int_equal(now.open_depth, before.open_depth);
  assert_int_equal(now.regions_ended - before.regions_ended, 4);
  hq_chunk_reader_close(r);
  /* close ends the region of a chunk still being worked on */
  assert_int_equal(hq_chunk_reader_open_array(data, 100, 4, &o, &r), HQ_OK);
  assert_int_equal(hq_chunk_reader_next(r, 0, &chunk, &n, NULL), HQ_OK);
  assert_int_equal(hq_fake_counts().open_depth, before.open_depth + 1);
  hq_chunk_reader_close(r);
  now = hq_fake_counts();
  assert_int_equal(now.open_depth, before.open_depth);
  assert_int_equal(now.regions_ended - before.regions_ended, 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_chunk_budget_rule),
    cmocka_unit_test(test_chunk_array_exact_boundaries),
    cmocka_unit_test(test_chunk_array_from_budget),
    cmocka_unit_test(test_chunk_array_stop_and_error),
    cmocka_unit_test(test_chunk_file_exact_boundaries),
    cmocka_unit_test(test_chunk_file_budget_and_flat_peak),
    cmocka_unit_test(test_chunk_file_partial_element),
    cmocka_unit_test(test_chunk_file_errors),
    cmocka_unit_test(test_chunk_pipe),
    cmocka_unit_test(test_chunk_regions),
    cmocka_unit_test(test_chunk_reader_file_exact_boundaries),
    cmocka_unit_test(test_chunk_reader_array_in_place),
    cmocka_unit_test(test_chunk_reader_flat_peak),
    cmocka_unit_test(test_chunk_reader_partial_element),
    cmocka_unit_test(test_chunk_reader_pipe),
    cmocka_unit_test(test_chunk_reader_regions),
  };
  return cmocka_run_group_tests_name("chunk", tests, group_setup, NULL);
}
