// overhead.cu: what one allocate+release pair costs, for cudaMalloc/cudaFree and for
// cudaMallocAsync/cudaFreeAsync; scripts/gpu-check.sh runs it plain and under the recorder.
// Prints "cudaMalloc+cudaFree NS" and "cudaMallocAsync+cudaFreeAsync NS" (median of 5 rounds).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cuda_runtime.h>

static double round_ns(int async, cudaStream_t s, int n) {
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; i++) {
    void *p = nullptr;
    if (async) {
      if (cudaMallocAsync(&p, 1 << 20, s) != cudaSuccess || cudaFreeAsync(p, s) != cudaSuccess) return -1;
    } else {
      if (cudaMalloc(&p, 1 << 20) != cudaSuccess || cudaFree(p) != cudaSuccess) return -1;
    }
  }
  if (async) cudaStreamSynchronize(s);
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / n;
}

int main() {
  cudaStream_t s;
  if (cudaFree(0) != cudaSuccess || cudaStreamCreate(&s) != cudaSuccess) return 1;
  const char *names[2] = {"cudaMalloc+cudaFree", "cudaMallocAsync+cudaFreeAsync"};
  for (int async = 0; async < 2; async++) {
    double r[5];
    round_ns(async, s, 200); /* warm */
    for (double &x : r) x = round_ns(async, s, 2000);
    std::sort(r, r + 5);
    if (r[0] < 0) return 1;
    printf("%s %.1f\n", names[async], r[2]);
  }
  return 0;
}
