// rt_bootstrap.cu: a runtime-API program as nvcc builds it by default, with cudart linked
// statically, so no cudaMalloc symbol exists for a preload to interpose.  Run against the fake
// libcuda.so.1 it gets as far as cudart's private export tables (reference A2/A6), which is far
// enough to show every driver lookup cudart makes passing through heapql's hooks.
#include <cuda_runtime.h>
#include <stdio.h>

int main(void) {
  void *p = NULL;
  cudaError_t rc = cudaMalloc(&p, 1000003);
  printf("cudaMalloc=%d\n", (int)rc);
  if (rc == cudaSuccess) cudaFree(p);
  return 0;
}
