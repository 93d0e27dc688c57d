/* v_cuda_threads.c: 4 threads, released together by a barrier so their first driver calls (and
 * heapql's first resolution of the driver) race; thread i makes device (i % 2) current and does
 * 1000 cuMemAlloc_v2(100 + i) / cuMemFree_v2 pairs.  Linked with -lcuda. */
#include <pthread.h>
#include <stdio.h>

#include "fake_cuda.h"

#define THREADS 4
#define ROUNDS 1000

static pthread_barrier_t start;
static CUcontext ctx[2];

static void *worker(void *arg) {
  long i = (long)arg;
  CUdeviceptr p;
  long bad = 0;
  cuCtxSetCurrent(ctx[i % 2]);
  pthread_barrier_wait(&start);
  for (int r = 0; r < ROUNDS; r++) {
    if (cuMemAlloc_v2(&p, 100 + (size_t)i) != CUDA_SUCCESS || cuMemFree_v2(p) != CUDA_SUCCESS) bad++;
  }
  return (void *)bad;
}

int main(void) {
  pthread_t th[THREADS];
  long bad = 0;
  if (cuInit(0) || cuDevicePrimaryCtxRetain(&ctx[0], 0) || cuDevicePrimaryCtxRetain(&ctx[1], 1)) return 2;
  pthread_barrier_init(&start, NULL, THREADS);
  for (long i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, worker, (void *)i);
  for (int i = 0; i < THREADS; i++) {
    void *r;
    pthread_join(th[i], &r);
    bad += (long)r;
  }
  printf("bad=%ld\n", bad);
  return bad ? 1 : 0;
}
