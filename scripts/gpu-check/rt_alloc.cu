// rt_alloc.cu: every runtime-API allocation heapql must see at the driver boundary, once each.
// Built three ways by scripts/gpu-check.sh: static cudart (nvcc's default), -cudart shared, and
// --default-stream per-thread (the _ptsz entry points).  Prints what the database must hold:
//   EXPECT KIND SIZE FREED        exactly one allocations row of that kind and size
//   EXPECT_DEVICE SIZE ORDINAL    its device column
//   EXPECT_STREAM SIZE STREAM     its stream column (cudaStream_t is the driver's CUstream)
//   CALL API                      at least one successful cuda_calls row of that entry point
//   EXPECT_REGION SIZE NAME       the allocation of that size carries the NVTX range NAME
//   EXPECT_OOM SIZE               one device_failures row for a failed allocation of that size
//   POOL_SAMPLES                  pool_samples has rows, none using more than it reserved
// Sizes are odd and distinct so cudart's own allocations cannot be mistaken for these.
#include <cuda_runtime.h>
#include <nvtx3/nvToolsExt.h>
#include <stdint.h>
#include <stdio.h>

#define CK(x)                                                                          \
  do {                                                                                 \
    cudaError_t e_ = (x);                                                              \
    if (e_ != cudaSuccess) {                                                           \
      fprintf(stderr, "rt_alloc: %s: %s\n", #x, cudaGetErrorString(e_));               \
      return 1;                                                                        \
    }                                                                                  \
  } while (0)

int main(void) {
  void *d, *m, *h, *ha, *p, *a1, *a2, *leak;
  size_t pitch = 0;
  cudaPitchedPtr pp;
  cudaStream_t s;
  cudaMemPool_t pool;
  cudaMemPoolProps props = {};
  CK(cudaSetDevice(0));
  CK(cudaFree(0)); /* the context, before anything we count */
  CK(cudaMalloc(&d, 1000003));
  printf("EXPECT cuda_device 1000003 1\nEXPECT_DEVICE 1000003 0\n");
  CK(cudaMallocManaged(&m, 1000033));
  printf("EXPECT cuda_managed 1000033 1\n");
  CK(cudaMallocHost(&h, 1000037));
  printf("EXPECT cuda_host 1000037 1\n");
  CK(cudaHostAlloc(&ha, 1000039, cudaHostAllocDefault));
  printf("EXPECT cuda_host 1000039 1\n");
  CK(cudaMallocPitch(&p, &pitch, 1001, 17));
  printf("EXPECT cuda_device %zu 1\n", pitch * 17);
  CK(cudaMalloc3D(&pp, make_cudaExtent(1003, 7, 5)));
  printf("EXPECT cuda_device %zu 1\n", pp.pitch * 7 * 5);
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  CK(cudaMallocAsync(&a1, 1000081, s));
  printf("EXPECT cuda_async 1000081 1\nEXPECT_STREAM 1000081 %llu\n",
         (unsigned long long)(uintptr_t)s);
  props.allocType = cudaMemAllocationTypePinned;
  props.location.type = cudaMemLocationTypeDevice;
  props.location.id = 0;
  CK(cudaMemPoolCreate(&pool, &props));
  CK(cudaMallocFromPoolAsync(&a2, 1000099, pool, s));
  printf("EXPECT cuda_async 1000099 1\n");
  CK(cudaMalloc(&leak, 1000117));
  printf("EXPECT cuda_device 1000117 0\n");
  {
    /* an NVTX range around an allocation (heapql run names the preload as NVTX's tool) */
    void *r;
    nvtxRangePushA("gpu-check");
    CK(cudaMalloc(&r, 1000151));
    nvtxRangePop();
    printf("EXPECT cuda_device 1000151 1\nEXPECT_REGION 1000151 gpu-check\n");
    CK(cudaFree(r));
  }
  {
    /* host memory registered in place, and a CUDA array (size from its descriptor) */
    static char pinned_in_place[1000159];
    cudaArray_t arr;
    cudaChannelFormatDesc f4 = cudaCreateChannelDesc<float4>();
    CK(cudaHostRegister(pinned_in_place, sizeof pinned_in_place, cudaHostRegisterDefault));
    printf("EXPECT cuda_host_registered 1000159 1\n");
    CK(cudaMallocArray(&arr, &f4, 100, 50));
    printf("EXPECT cuda_array 80000 1\n");
    CK(cudaFreeArray(arr));
    CK(cudaHostUnregister(pinned_in_place));
  }
  {
    /* a device allocation that cannot succeed: an event with what was live then */
    void *huge = NULL;
    if (cudaMalloc(&huge, (size_t)1 << 50) == cudaSuccess) return 1;
    (void)cudaGetLastError();
    printf("EXPECT_OOM %zu\n", (size_t)1 << 50);
  }
  printf("POOL_SAMPLES\n");
#ifdef CUDA_API_PER_THREAD_DEFAULT_STREAM
  printf("CALL cuMemAllocAsync_ptsz\nCALL cuMemFreeAsync_ptsz\n");
#else
  printf("CALL cuMemAllocAsync\nCALL cuMemFreeAsync\n");
#endif
  CK(cudaFree(d));
  CK(cudaFree(m));
  CK(cudaFreeHost(h));
  CK(cudaFreeHost(ha));
  CK(cudaFree(p));
  CK(cudaFree(pp.ptr));
  CK(cudaFreeAsync(a1, s));
  CK(cudaFreeAsync(a2, s));
  CK(cudaStreamSynchronize(s));
  CK(cudaMemPoolDestroy(pool));
  CK(cudaStreamDestroy(s));
  return 0;
}
