/* hq_cuda_stub.c: built when HQ_CUDA=0; CUDA entry points return HQ_ENOTSUP. */
#include "heapql/kernels.h"

int hq__cuda_available(void);
int hq__cuda_available(void) { return 0; }
