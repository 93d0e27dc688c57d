/* hq_cuda_stub.c: built when HQ_CUDA=0; CUDA entry points report HQ_ENOTSUP. */
#include "heapql/kernels.h"
#include "../hq_backend.h"

int hq__cuda_available(void);
int hq__cuda_available(void) { return 0; }

/* No device backend in this build: hq_pool_create(HQ_POOL_CUDA) answers HQ_ENOTSUP. */
const hq__backend_t *hq__backend_cuda(void) { return NULL; }
