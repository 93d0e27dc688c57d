/*
 * kernels_bench.c: speed of the kernels library against its natural baselines (not a test).
 *
 *   hq-bench-kernels [--quick] [--runs N] [--dir DIR] [--only pool|spmv|npy] [--threads N]
 *
 * 1. pool allocate+release against malloc/free at 64 B, 4 KiB, 1 MiB and 64 MiB;
 * 2. CSR SpMV in GB/s (minimum bytes moved) against this machine's measured copy bandwidth,
 *    on matrices far larger than the last-level cache: on one thread, then on --threads threads
 *    (default: every CPU this process may use) against copy bandwidth measured with as many;
 * 3. .npy slice reads in GB/s against memcpy from the same (page-cache) mapping and pread.
 * Each figure is the median of --runs runs (default 7).  Output is a Markdown table, so the
 * result can be pasted into docs/benchmarks.md.
 */
#include <fcntl.h>
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heapql/kernels.h"
#include "bench_util.h"

static int runs = 7;
static int quick;
static volatile uintptr_t sink;

static void die(const char *what, int rc) {
  fprintf(stderr, "hq-bench-kernels: %s: %s\n", what, hq_kernels_errmsg());
  exit(rc ? 3 : 3);
}

/* ---- 1. pool vs malloc ------------------------------------------------------------------- */

static double ns_per_pair_malloc(size_t size, long iters, int touch) {
  double t0 = now_s();
  for (long i = 0; i < iters; i++) {
    char *p = malloc(size);
    if (touch) for (size_t o = 0; o < size; o += 4096) p[o] = (char)i;
    sink += (uintptr_t)p;
    free(p);
  }
  return (now_s() - t0) * 1e9 / (double)iters;
}

static double ns_per_pair_pool(hq_pool_t *pool, size_t size, long iters, int touch) {
  double t0 = now_s();
  for (long i = 0; i < iters; i++) {
    char *p;
    if (hq_pool_alloc(pool, size, (void **)&p) != HQ_OK) die("pool_alloc", 1);
    if (touch) for (size_t o = 0; o < size; o += 4096) p[o] = (char)i;
    sink += (uintptr_t)p;
    hq_pool_free(pool, p);
  }
  return (now_s() - t0) * 1e9 / (double)iters;
}

static void bench_pool(void) {
  static const size_t sizes[] = {64, 4096, 1 << 20, (size_t)64 << 20};
  static const char *names[] = {"64 B", "4 KiB", "1 MiB", "64 MiB"};
  hq_pool_t *pool;
  if (hq_pool_create(NULL, &pool) != HQ_OK) die("pool_create", 1);
  printf("\n### Pool allocate+release vs malloc/free (ns per pair, median of %d runs)\n\n", runs);
  printf("| size | touch | malloc/free | hq_pool | speed-up |\n|---|---|---:|---:|---:|\n");
  for (int t = 0; t < 2; t++) {
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      long iters = sizes[s] < (1 << 20) ? 2000000 : !t ? 20000 : sizes[s] > (1 << 20) ? 20 : 2000;
      double m[32], p[32];
      if (quick) iters /= 10;
      if (t && sizes[s] < (1 << 20)) continue; /* touching small blocks measures nothing new */
      ns_per_pair_pool(pool, sizes[s], iters / 10 + 1, t); /* warm: the segment is cached */
      for (int r = 0; r < runs; r++) {
        m[r] = ns_per_pair_malloc(sizes[s], iters, t);
        p[r] = ns_per_pair_pool(pool, sizes[s], iters, t);
      }
      double mm = median(m, runs), pm = median(p, runs);
      printf("| %s | %s | %.1f | %.1f | %.1fx |\n", names[s], t ? "every page" : "no", mm, pm,
             mm / pm);
    }
  }
  hq_pool_destroy(pool);
}

/* ---- 2. SpMV vs copy bandwidth ---------------------------------------------------------- */

/* The copy and read passes below run on `threads` threads at once, each on its own slice of
 * the buffers (64-byte aligned), timed from before the first thread starts to after the last
 * one ends: the bandwidth that many cores can draw together, to compare with an SpMV using as
 * many threads. */
typedef struct pass_s {
  char *dst;
  const char *src;
  size_t bytes;
  uint64_t out;
} pass_t;

static void *copy_slice(void *arg) {
  pass_t *p = arg;
  memcpy(p->dst, p->src, p->bytes);
  return NULL;
}

/* One pass reading `bytes` (what a read-only kernel such as SpMV could hope for).  AVX2 loads
 * where the CPU has them, so the loop itself is never the bottleneck. */
__attribute__((target("avx2"))) static uint64_t read_avx2(const char *src, size_t bytes) {
  const __m256i *p = (const __m256i *)(const void *)src;
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  for (size_t i = 0; i + 4 <= bytes / 32; i += 4) {
    a = _mm256_xor_si256(a, _mm256_load_si256(p + i));
    b = _mm256_xor_si256(b, _mm256_load_si256(p + i + 1));
    c = _mm256_xor_si256(c, _mm256_load_si256(p + i + 2));
    d = _mm256_xor_si256(d, _mm256_load_si256(p + i + 3));
  }
  a = _mm256_xor_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(c, d));
  return (uint64_t)_mm256_extract_epi64(a, 0);
}

static uint64_t read_scalar(const char *src, size_t bytes) {
  const uint64_t *p = (const uint64_t *)(const void *)src;
  uint64_t a = 0, b = 0, c = 0, d = 0;
  for (size_t i = 0; i + 4 <= bytes / 8; i += 4) a ^= p[i], b ^= p[i + 1], c ^= p[i + 2], d ^= p[i + 3];
  return a ^ b ^ c ^ d;
}

static void *read_slice(void *arg) {
  static int avx2 = -1;
  pass_t *p = arg;
  if (__atomic_load_n(&avx2, __ATOMIC_RELAXED) < 0)
    __atomic_store_n(&avx2, __builtin_cpu_supports("avx2"), __ATOMIC_RELAXED);
  p->out = avx2 ? read_avx2(p->src, p->bytes) : read_scalar(p->src, p->bytes);
  return NULL;
}

/* Seconds for fn over [src, src + bytes) split between threads (slice 0 on this thread). */
static double pass_mt(void *(*fn)(void *), char *dst, const char *src, size_t bytes, int threads) {
  pass_t part[64];
  pthread_t tid[64];
  size_t slice = (bytes / (size_t)threads) & ~(size_t)63;
  for (int t = 0; t < threads; t++) {
    part[t].dst = dst ? dst + (size_t)t * slice : NULL;
    part[t].src = src + (size_t)t * slice;
    part[t].bytes = t == threads - 1 ? bytes - (size_t)t * slice : slice;
  }
  double t0 = now_s();
  for (int t = 1; t < threads; t++)
    if (pthread_create(&tid[t], NULL, fn, &part[t]) != 0) die("pthread_create", 1);
  fn(&part[0]);
  for (int t = 1; t < threads; t++) pthread_join(tid[t], NULL);
  double dt = now_s() - t0;
  for (int t = 0; t < threads; t++) sink += part[t].out;
  return dt;
}

/* memcpy of `bytes` (STREAM's Copy: read + write bytes per second). */
static double copy_once(char *dst, const char *src, size_t bytes, int threads) {
  double t = pass_mt(copy_slice, dst, src, bytes, threads);
  sink += (uintptr_t)dst[bytes / 2];
  return 2.0 * (double)bytes / t / 1e9;
}

static double read_once(const char *src, size_t bytes, int threads) {
  return (double)bytes / pass_mt(read_slice, NULL, src, bytes, threads) / 1e9;
}

static hq_sparse_t *make_csr(int64_t rows, int nnz_per_row, int64_t band) {
  hq_sparse_t *s = bench_csr(rows, nnz_per_row, band);
  if (!s) die("sparse matrix", 1);
  return s;
}

/* SpMV on `threads` threads (hq_sparse_spmv for 1, hq_sparse_spmv_threads above) against copy
 * and read bandwidth measured with the same number of threads. */
static void bench_spmv(int threads) {
  int64_t rows = quick ? 500000 : 2000000;
  int nnz_row = 16;
  size_t cbytes = quick ? (size_t)64 << 20 : (size_t)256 << 20;
  char *ca = aligned_alloc(64, cbytes), *cb = aligned_alloc(64, cbytes);
  hq_sparse_t *m[2];
  size_t bytes[2];
  float *x = malloc((size_t)rows * sizeof(float)), *y = malloc((size_t)rows * sizeof(float));
  double copy[32], rd[32], gbs[2][32], rc[2][32], rr[2][32];
  memset(ca, 1, cbytes);
  memset(cb, 2, cbytes);
  for (int64_t i = 0; i < rows; i++) x[i] = 1.0f, y[i] = 0.0f;
  for (int k = 0; k < 2; k++) {
    m[k] = make_csr(rows, nnz_row, k == 0 ? 4096 : 0);
    hq_sparse_nbytes(m[k], &bytes[k], NULL);
    bytes[k] += 2 * (size_t)rows * sizeof(float); /* x once, y once: the minimum traffic */
    hq_sparse_spmv_threads(HQ_OP_N, 1.0f, m[k], x, 0.0f, y, threads); /* warm */
  }
  copy_once(cb, ca, cbytes, threads);
  /* interleaved, so that every ratio compares runs taken under the same machine load */
  for (int r = 0; r < runs; r++) {
    copy[r] = copy_once(cb, ca, cbytes, threads);
    rd[r] = read_once(ca, cbytes, threads);
    for (int k = 0; k < 2; k++) {
      double t0 = now_s();
      if (threads == 1) hq_sparse_spmv(HQ_OP_N, 1.0f, m[k], x, 0.0f, y);
      else hq_sparse_spmv_threads(HQ_OP_N, 1.0f, m[k], x, 0.0f, y, threads);
      gbs[k][r] = (double)bytes[k] / (now_s() - t0) / 1e9;
      rc[k][r] = gbs[k][r] / copy[r];
      rr[k][r] = gbs[k][r] / rd[r];
    }
  }
  if (threads == 1)
    printf("\n### CSR SpMV (f32 values, int32 indices, one thread: hq_sparse_spmv)\n\n");
  else
    printf("\n### CSR SpMV (f32 values, int32 indices, %d threads: hq_sparse_spmv_threads)\n\n",
           threads);
  printf("Copy bandwidth on %d thread%s, memcpy of %zu MiB counted as read + write bytes (STREAM "
         "Copy): **%.2f GB/s** (bytes copied: %.2f GB/s); read bandwidth on %d thread%s: "
         "**%.2f GB/s**\n\n", threads, threads > 1 ? "s" : "", cbytes >> 20, median(copy, runs),
         median(copy, runs) / 2, threads, threads > 1 ? "s" : "", median(rd, runs));
  printf("| matrix | nnz | bytes/iteration | SpMV GB/s | GFLOP/s | vs copy (read+write) | "
         "vs bytes copied | vs read |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int k = 0; k < 2; k++) {
    double g = median(gbs[k], runs);
    printf("| %lld x %lld, %s | %lld | %.0f MB | %.2f | %.2f | %.0f%% | %.0f%% | %.0f%% |\n",
           (long long)rows, (long long)rows, k == 0 ? "banded (+-4096)" : "uniform random columns",
           (long long)m[k]->nnz, (double)bytes[k] / 1e6, g,
           g / ((double)bytes[k] / 1e9) * 2.0 * (double)m[k]->nnz / 1e9,
           100.0 * median(rc[k], runs), 200.0 * median(rc[k], runs), 100.0 * median(rr[k], runs));
    hq_sparse_free(m[k]);
  }
  free(x), free(y), free(ca), free(cb);
}

/* ---- 3. .npy slice reads ----------------------------------------------------------------- */

typedef struct box_s {
  const char *name;
  int64_t start[2], count[2];
} box_t;

/* The same bytes as read_slice, copied by hand from the mapping: one memcpy per contiguous run
 * (the whole box when it spans full rows, else one per row). */
static void memcpy_box(const float *data, int64_t n, const box_t *b, float *buf) {
  if (b->count[1] == n) {
    memcpy(buf, data + b->start[0] * n, (size_t)(b->count[0] * n) * sizeof(float));
    return;
  }
  for (int64_t i = 0; i < b->count[0]; i++)
    memcpy(buf + i * b->count[1], data + (b->start[0] + i) * n + b->start[1],
           (size_t)b->count[1] * sizeof(float));
}

/* The same with pread from the file. */
static void pread_box(int fd, size_t offset, int64_t n, const box_t *b, float *buf) {
  int64_t rows = b->count[1] == n ? 1 : b->count[0];
  size_t run = (size_t)(b->count[1] == n ? b->count[0] * n : b->count[1]) * sizeof(float);
  for (int64_t i = 0; i < rows; i++) {
    off_t off = (off_t)offset + (off_t)(((b->start[0] + i) * n + b->start[1]) * 4);
    char *dst = (char *)(buf + i * b->count[1]);
    size_t done = 0;
    while (done < run) {
      ssize_t r = pread(fd, dst + done, run - done, off + (off_t)done);
      if (r <= 0) die("pread", 1);
      done += (size_t)r;
    }
  }
}

static void bench_npy(const char *dir) {
  char path[4096];
  int64_t n = quick ? 4096 : 8192; /* n x n f32: 64 or 256 MiB */
  hq_npy_info_t spec = {0}, info;
  hq_npy_t *a;
  float *data, *buf;
  size_t total = (size_t)(n * n) * sizeof(float);
  int fd;
  snprintf(path, sizeof path, "%s/hq-bench-kernels.%d.npy", dir, (int)getpid());
  spec.dtype = HQ_NPY_F4;
  spec.ndim = 2;
  spec.shape[0] = n;
  spec.shape[1] = n;
  if (hq_npy_open(path, "w+", &spec, &a) != HQ_OK) die("npy_open w+", 1);
  hq_npy_data(a, (void **)&data);
  for (size_t i = 0; i < (size_t)(n * n); i++) data[i] = (float)i;
  hq_npy_flush(a);
  hq_npy_close(a);
  if (hq_npy_open(path, "r", NULL, &a) != HQ_OK) die("npy_open r", 1);
  hq_npy_data(a, (void **)&data);
  hq_npy_info(a, &info);
  buf = aligned_alloc(64, total);
  memcpy(buf, data, total); /* fault the mapping in: everything is in the page cache now */
  fd = open(path, O_RDONLY);
  if (fd < 0) die("open", 1);

  printf("\n### .npy slice reads (%lld x %lld f32, %zu MiB, file in the page cache)\n\n",
         (long long)n, (long long)n, total >> 20);
  printf("| box | bytes | read_slice GB/s | memcpy GB/s | pread GB/s | read_slice vs memcpy |\n"
         "|---|---:|---:|---:|---:|---:|\n");
  box_t boxes[] = {
    {"whole array", {0, 0}, {n, n}},
    {"row block (n/4 full rows)", {n / 4, 0}, {n / 4, n}},
    {"column block (all rows, 256 columns)", {0, n / 2}, {n, 256}},
    {"tile 1024 x 1024", {n / 3, n / 5}, {1024, 1024}},
  };
  for (size_t b = 0; b < sizeof boxes / sizeof boxes[0]; b++) {
    size_t bytes = (size_t)(boxes[b].count[0] * boxes[b].count[1]) * sizeof(float);
    double vs[32], vm[32], vp[32], ratio[32];
    hq_npy_read_slice(a, boxes[b].start, boxes[b].count, buf); /* warm the TLB and caches */
    memcpy_box(data, n, &boxes[b], buf);
    for (int r = 0; r < runs; r++) { /* interleaved, order alternating: same load for both */
      for (int k = 0; k < 2; k++) {
        double t0 = now_s();
        if ((k ^ r) & 1) memcpy_box(data, n, &boxes[b], buf);
        else hq_npy_read_slice(a, boxes[b].start, boxes[b].count, buf);
        if ((k ^ r) & 1) vm[r] = now_s() - t0;
        else vs[r] = now_s() - t0;
      }
      double t0 = now_s();
      pread_box(fd, info.data_offset, n, &boxes[b], buf);
      vp[r] = now_s() - t0;
      ratio[r] = vm[r] / vs[r];
    }
    printf("| %s | %.1f MB | %.2f | %.2f | %.2f | %.0f%% |\n", boxes[b].name, (double)bytes / 1e6,
           (double)bytes / median(vs, runs) / 1e9, (double)bytes / median(vm, runs) / 1e9,
           (double)bytes / median(vp, runs) / 1e9, 100.0 * median(ratio, runs));
  }
  close(fd);
  free(buf);
  hq_npy_close(a);
  unlink(path);
}

int main(int argc, char **argv) {
  const char *dir = "/tmp";
  const char *only = NULL;
  int threads = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) quick = 1, runs = 3;
    else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
    else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else {
      fprintf(stderr, "heapql: usage: hq-bench-kernels [--quick] [--runs N] [--dir DIR] "
                      "[--only pool|spmv|npy] [--threads N]\n");
      return 2;
    }
  }
  if (runs < 1 || runs > 31) {
    fprintf(stderr, "heapql: --runs must be 1..31\n");
    return 2;
  }
  if (threads < 0 || threads > 64) {
    fprintf(stderr, "heapql: --threads must be 1..64 (0: every CPU this process may use)\n");
    return 2;
  }
  if (!threads) {
    cpu_set_t set;
    threads = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    if (threads > 64) threads = 64;
  }
  printf("## Kernels (hq-bench-kernels%s, libheapql_kernels %s)\n", quick ? " --quick" : "",
         hq_kernels_version());
  if (!only || !strcmp(only, "pool")) bench_pool();
  if (!only || !strcmp(only, "spmv")) {
    bench_spmv(1);
    if (threads > 1) bench_spmv(threads);
  }
  if (!only || !strcmp(only, "npy")) bench_npy(dir);
  return 0;
}
