/*
 * cuda_bench.c: the kernels library on a GPU, against the CUDA libraries called directly (not
 * a test; built only with HQ_CUDA=1; build/bin/hq-bench-cuda, run by make bench-cuda).
 *
 *   hq-bench-cuda [--quick] [--runs N] [--device D] [--only pool|spmm|spmv|gemm]
 *
 * 1. device pool allocate+release against cudaMalloc+cudaFree at 64 B, 4 KiB, 1 MiB, 64 MiB;
 * 2. SpMM (n dense columns): hq_cuda_spmm, which makes its cuSPARSE descriptors and asks for
 *    the workspace size on every call, against cusparseSpMM with descriptors, workspace and
 *    preprocessing made once (the cuSPARSE baseline), and against hq_sparse_spmm on the CPU;
 * 3. SpMV in GB/s (minimum bytes moved, as hq-bench-kernels counts them) against the device's
 *    copy bandwidth (cudaMemcpy device to device, read + write bytes);
 * 4. GEMM via cuBLAS: hq_cuda_gemm against cublasSgemm on its own handle, TFLOP/s.
 * GPU work is timed on the host clock over a batch of calls ended by a synchronisation; each
 * figure is the median of --runs runs (default 5).  Markdown output, for docs/benchmarks.md.
 * Without a CUDA device it prints "no CUDA device" and exits 0.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cuda_runtime_api.h>
#include <cublas_v2.h>
#include <cusparse.h>

#include "heapql/kernels.h"
#include "bench_util.h"

static int runs = 5;
static int quick;
static int device;

static void die(const char *what) {
  fprintf(stderr, "hq-bench-cuda: %s: %s\n", what, hq_kernels_errmsg());
  exit(3);
}

static void cuda_ok(cudaError_t e, const char *what) {
  if (e != cudaSuccess) {
    fprintf(stderr, "hq-bench-cuda: %s: %s\n", what, cudaGetErrorString(e));
    exit(3);
  }
}

static void sparse_ok(cusparseStatus_t st, const char *what) {
  if (st != CUSPARSE_STATUS_SUCCESS) {
    fprintf(stderr, "hq-bench-cuda: %s: %s\n", what, cusparseGetErrorString(st));
    exit(3);
  }
}

static void *dev_alloc(size_t bytes) {
  void *p = NULL;
  cuda_ok(cudaMalloc(&p, bytes), "cudaMalloc");
  return p;
}

/* n floats in [-1, 1) on the device. */
static float *dev_random(size_t n, uint32_t seed) {
  float *h = malloc(n * sizeof(float)), *d = dev_alloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1664525u + 1013904223u;
    h[i] = (float)(seed >> 8) / 8388608.0f - 1.0f;
  }
  cuda_ok(cudaMemcpy(d, h, n * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy");
  free(h);
  return d;
}

static hq_pool_t *device_pool(void) {
  hq_pool_config_t cfg;
  hq_pool_t *pool;
  hq_pool_config_init(&cfg);
  cfg.backend = HQ_POOL_CUDA;
  cfg.device = device;
  if (hq_pool_create(&cfg, &pool) != HQ_OK) die("hq_pool_create(HQ_POOL_CUDA)");
  return pool;
}

/* ---- 1. device pool vs cudaMalloc ------------------------------------------------------ */

static void bench_pool(void) {
  static const size_t sizes[] = {64, 4096, 1 << 20, (size_t)64 << 20};
  static const char *names[] = {"64 B", "4 KiB", "1 MiB", "64 MiB"};
  hq_pool_t *pool = device_pool();
  printf("\n### Device pool allocate+release vs cudaMalloc+cudaFree (us per pair, median of %d "
         "runs)\n\n| size | cudaMalloc+cudaFree | hq_pool (device) | speed-up |\n"
         "|---|---:|---:|---:|\n", runs);
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    long iters = sizes[s] >= (1 << 20) ? 200 : 2000;
    double cm[32], hp[32];
    void *p;
    if (quick) iters /= 10;
    if (hq_pool_alloc(pool, sizes[s], &p) != HQ_OK) die("hq_pool_alloc"); /* warm: cached */
    hq_pool_free(pool, p);
    for (int r = 0; r < runs; r++) {
      double t0 = now_s();
      for (long i = 0; i < iters; i++) {
        cuda_ok(cudaMalloc(&p, sizes[s]), "cudaMalloc");
        cuda_ok(cudaFree(p), "cudaFree");
      }
      cm[r] = (now_s() - t0) * 1e6 / (double)iters;
      t0 = now_s();
      for (long i = 0; i < iters; i++) {
        if (hq_pool_alloc(pool, sizes[s], &p) != HQ_OK) die("hq_pool_alloc");
        hq_pool_free(pool, p);
      }
      hp[r] = (now_s() - t0) * 1e6 / (double)iters;
    }
    double c = median(cm, runs), h = median(hp, runs);
    printf("| %s | %.2f | %.3f | %.0fx |\n", names[s], c, h, c / h);
  }
  hq_pool_destroy(pool);
}

/* ---- 2. SpMM --------------------------------------------------------------------------- */

static void bench_spmm(hq_cuda_t *ctx, hq_pool_t *pool) {
  int64_t rows = quick ? 50000 : 200000, n = 64;
  int nnz_row = 16, reps = quick ? 5 : 20;
  hq_sparse_t *host = bench_csr(rows, nnz_row, 4096);
  hq_cuda_csr_t a;
  cusparseHandle_t h;
  cusparseConstSpMatDescr_t ma;
  cusparseConstDnMatDescr_t mb;
  cusparseDnMatDescr_t mc;
  size_t need = 0, raw_need = 0;
  void *work = NULL, *raw_work = NULL;
  float alpha = 1.0f, beta = 0.0f;
  double t_hq[32], t_raw[32], t_cpu[32];
  if (!host) die("sparse matrix");
  if (hq_cuda_csr_upload(ctx, host, pool, &a) != HQ_OK) die("hq_cuda_csr_upload");
  float *b = dev_random((size_t)(rows * n), 1), *c = dev_alloc((size_t)(rows * n) * sizeof(float));
  float *hb = malloc((size_t)(rows * n) * sizeof(float)), *hc = malloc((size_t)(rows * n) * sizeof(float));
  cuda_ok(cudaMemcpy(hb, b, (size_t)(rows * n) * sizeof(float), cudaMemcpyDeviceToHost), "cudaMemcpy");

  /* ours: the workspace from the pool, once; each call makes its descriptors */
  if (hq_cuda_spmm_buffer_size(ctx, HQ_OP_N, 1.0f, &a, b, n, n, 0.0f, c, n, &need) != HQ_OK)
    die("hq_cuda_spmm_buffer_size");
  if (need && hq_pool_alloc(pool, need, &work) != HQ_OK) die("hq_pool_alloc");
  /* the baseline: cuSPARSE with everything made once */
  sparse_ok(cusparseCreate(&h), "cusparseCreate");
  sparse_ok(cusparseCreateConstCsr(&ma, a.rows, a.cols, a.nnz, a.rowptr, a.colind, a.values,
                                   CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO,
                                   CUDA_R_32F), "cusparseCreateConstCsr");
  sparse_ok(cusparseCreateConstDnMat(&mb, rows, n, n, b, CUDA_R_32F, CUSPARSE_ORDER_ROW), "DnMat B");
  sparse_ok(cusparseCreateDnMat(&mc, rows, n, n, c, CUDA_R_32F, CUSPARSE_ORDER_ROW), "DnMat C");
  sparse_ok(cusparseSpMM_bufferSize(h, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                    CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, ma, mb, &beta, mc,
                                    CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, &raw_need),
            "cusparseSpMM_bufferSize");
  if (raw_need) raw_work = dev_alloc(raw_need);
  sparse_ok(cusparseSpMM_preprocess(h, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                    CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, ma, mb, &beta, mc,
                                    CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, raw_work),
            "cusparseSpMM_preprocess");
  for (int r = 0; r < runs; r++) {
    double t0 = now_s();
    for (int i = 0; i < reps; i++)
      if (hq_cuda_spmm(ctx, HQ_OP_N, 1.0f, &a, b, n, n, 0.0f, c, n, work, need) != HQ_OK)
        die("hq_cuda_spmm");
    if (hq_cuda_synchronize(ctx) != HQ_OK) die("hq_cuda_synchronize");
    t_hq[r] = (now_s() - t0) / reps;
    t0 = now_s();
    for (int i = 0; i < reps; i++)
      sparse_ok(cusparseSpMM(h, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE,
                             &alpha, ma, mb, &beta, mc, CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT,
                             raw_work), "cusparseSpMM");
    cuda_ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    t_raw[r] = (now_s() - t0) / reps;
    t0 = now_s();
    if (hq_sparse_spmm(HQ_OP_N, 1.0f, host, hb, n, n, 0.0f, hc, n) != HQ_OK) die("hq_sparse_spmm");
    t_cpu[r] = now_s() - t0;
  }
  double flop = 2.0 * (double)a.nnz * (double)n, th = median(t_hq, runs), tr = median(t_raw, runs);
  double tc = median(t_cpu, runs);
  printf("\n### SpMM on the GPU (%lld x %lld CSR, %d entries per row, banded, int32 indices; "
         "B and C %lld x %lld row-major; median of %d runs of %d products)\n\n",
         (long long)rows, (long long)rows, nnz_row, (long long)rows, (long long)n, runs, reps);
  printf("| path | ms per product | GFLOP/s | vs cuSPARSE baseline |\n|---|---:|---:|---:|\n");
  printf("| cusparseSpMM, descriptors + workspace + preprocess made once | %.3f | %.1f | 1.00x |\n",
         tr * 1e3, flop / tr / 1e9);
  printf("| hq_cuda_spmm (descriptors and size query every call) | %.3f | %.1f | %.2fx |\n",
         th * 1e3, flop / th / 1e9, tr / th);
  printf("| hq_sparse_spmm on the CPU, one thread | %.1f | %.2f | %.4fx |\n", tc * 1e3,
         flop / tc / 1e9, tr / tc);
  cusparseDestroyDnMat(mc), cusparseDestroyDnMat(mb), cusparseDestroySpMat(ma), cusparseDestroy(h);
  cudaFree(raw_work), cudaFree(b), cudaFree(c);
  if (work) hq_pool_free(pool, work);
  hq_cuda_csr_release(ctx, &a);
  hq_sparse_free(host);
  free(hb), free(hc);
}

/* ---- 3. SpMV vs device copy bandwidth ------------------------------------------------- */

static void bench_spmv(hq_cuda_t *ctx, hq_pool_t *pool) {
  int64_t rows = quick ? 500000 : 2000000;
  int nnz_row = 16, reps = quick ? 10 : 50;
  size_t cbytes = quick ? (size_t)64 << 20 : (size_t)256 << 20, bytes, need = 0;
  hq_sparse_t *host = bench_csr(rows, nnz_row, 4096);
  hq_cuda_csr_t a;
  void *work = NULL;
  double copy[32], gbs[32], ratio[32];
  if (!host) die("sparse matrix");
  hq_sparse_nbytes(host, &bytes, NULL);
  bytes += 2 * (size_t)rows * sizeof(float); /* x once, y once: the minimum traffic */
  if (hq_cuda_csr_upload(ctx, host, pool, &a) != HQ_OK) die("hq_cuda_csr_upload");
  float *x = dev_random((size_t)rows, 2), *y = dev_alloc((size_t)rows * sizeof(float));
  char *ca = dev_alloc(cbytes), *cb = dev_alloc(cbytes);
  cuda_ok(cudaMemset(ca, 1, cbytes), "cudaMemset");
  if (hq_cuda_spmv_buffer_size(ctx, HQ_OP_N, 1.0f, &a, x, 0.0f, y, &need) != HQ_OK)
    die("hq_cuda_spmv_buffer_size");
  if (need && hq_pool_alloc(pool, need, &work) != HQ_OK) die("hq_pool_alloc");
  for (int r = 0; r < runs; r++) { /* interleaved: each ratio compares runs of the same moment */
    double t0 = now_s();
    for (int i = 0; i < reps; i++)
      cuda_ok(cudaMemcpy(cb, ca, cbytes, cudaMemcpyDeviceToDevice), "cudaMemcpy");
    cuda_ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    copy[r] = 2.0 * (double)cbytes * reps / (now_s() - t0) / 1e9;
    t0 = now_s();
    for (int i = 0; i < reps; i++)
      if (hq_cuda_spmv(ctx, HQ_OP_N, 1.0f, &a, x, 0.0f, y, work, need) != HQ_OK) die("hq_cuda_spmv");
    if (hq_cuda_synchronize(ctx) != HQ_OK) die("hq_cuda_synchronize");
    gbs[r] = (double)bytes * reps / (now_s() - t0) / 1e9;
    ratio[r] = gbs[r] / copy[r];
  }
  printf("\n### SpMV on the GPU (%lld x %lld CSR, banded, %d entries per row, %.0f MB per "
         "product)\n\nDevice copy bandwidth, cudaMemcpy device to device of %zu MiB counted as "
         "read + write bytes: **%.0f GB/s**\n\n| path | SpMV GB/s | vs copy |\n|---|---:|---:|\n"
         "| hq_cuda_spmv (cuSPARSE) | %.0f | %.0f%% |\n", (long long)rows, (long long)rows,
         nnz_row, (double)bytes / 1e6, cbytes >> 20, median(copy, runs), median(gbs, runs),
         100.0 * median(ratio, runs));
  if (work) hq_pool_free(pool, work);
  cudaFree(x), cudaFree(y), cudaFree(ca), cudaFree(cb);
  hq_cuda_csr_release(ctx, &a);
  hq_sparse_free(host);
}

/* ---- 4. GEMM via cuBLAS ----------------------------------------------------------------- */

static void bench_gemm(hq_cuda_t *ctx) {
  static const int64_t full[] = {1024, 4096, 8192}, small[] = {512, 1024, 2048};
  const int64_t *sizes = quick ? small : full;
  cublasHandle_t h;
  if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) die("cublasCreate");
  printf("\n### GEMM via cuBLAS (f32, square, row-major; median of %d runs)\n\n"
         "| n | cublasSgemm TFLOP/s | hq_cuda_gemm TFLOP/s | hq vs cuBLAS |\n"
         "|---:|---:|---:|---:|\n", runs);
  for (int s = 0; s < 3; s++) {
    int64_t n = sizes[s];
    int reps = n <= 1024 ? 50 : n <= 4096 ? 10 : 4;
    float *a = dev_random((size_t)(n * n), 3), *b = dev_random((size_t)(n * n), 4);
    float *c = dev_alloc((size_t)(n * n) * sizeof(float));
    float alpha = 1.0f, beta = 0.0f;
    double t_raw[32], t_hq[32];
    for (int r = 0; r <= runs; r++) { /* r == 0 warms both up */
      double t0 = now_s();
      for (int i = 0; i < reps; i++)
        if (cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, (int)n, (int)n, (int)n, &alpha, b, (int)n, a,
                        (int)n, &beta, c, (int)n) != CUBLAS_STATUS_SUCCESS)
          die("cublasSgemm");
      cuda_ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
      if (r) t_raw[r - 1] = (now_s() - t0) / reps;
      t0 = now_s();
      for (int i = 0; i < reps; i++)
        if (hq_cuda_gemm(ctx, HQ_OP_N, HQ_OP_N, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n) != HQ_OK)
          die("hq_cuda_gemm");
      if (hq_cuda_synchronize(ctx) != HQ_OK) die("hq_cuda_synchronize");
      if (r) t_hq[r - 1] = (now_s() - t0) / reps;
    }
    double flop = 2.0 * (double)n * (double)n * (double)n;
    double tr = median(t_raw, runs), th = median(t_hq, runs);
    printf("| %lld | %.1f | %.1f | %.2fx |\n", (long long)n, flop / tr / 1e12, flop / th / 1e12,
           tr / th);
    cudaFree(a), cudaFree(b), cudaFree(c);
  }
  cublasDestroy(h);
}

int main(int argc, char **argv) {
  int count = 0;
  const char *only = NULL;
  hq_pool_t *pool;
  hq_cuda_t *ctx;
  struct cudaDeviceProp prop;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) quick = 1, runs = 3;
    else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--device") && i + 1 < argc) device = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
    else {
      fprintf(stderr, "heapql: usage: hq-bench-cuda [--quick] [--runs N] [--device D] "
                      "[--only pool|spmm|spmv|gemm]\n");
      return 2;
    }
  }
  if (runs < 1 || runs > 31) {
    fprintf(stderr, "heapql: --runs must be 1..31\n");
    return 2;
  }
  if (hq_cuda_device_count(&count) != HQ_OK || count <= device || device < 0) {
    printf("no CUDA device%s\n", count > 0 ? " with that number" : "");
    return 0;
  }
  cuda_ok(cudaSetDevice(device), "cudaSetDevice");
  cuda_ok(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  printf("## Kernels on the GPU (hq-bench-cuda%s, libheapql_kernels %s, %s)\n", quick ? " --quick" : "",
         hq_kernels_version(), prop.name);
  if (!only || !strcmp(only, "pool")) bench_pool();
  pool = device_pool();
  if (hq_cuda_create(device, pool, &ctx) != HQ_OK) die("hq_cuda_create");
  if (!only || !strcmp(only, "spmm")) bench_spmm(ctx, pool);
  if (!only || !strcmp(only, "spmv")) bench_spmv(ctx, pool);
  if (!only || !strcmp(only, "gemm")) bench_gemm(ctx);
  hq_cuda_destroy(ctx);
  hq_pool_destroy(pool);
  return 0;
}
