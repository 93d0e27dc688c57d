/* v_threads.c N_THREADS OPS: each thread does OPS malloc/free pairs of sizes 1 + (i % 97),
 * and names itself "worker-<k>".  Total bytes = N * sum over i of (1 + i % 97). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static long ops;

static void *work(void *arg) {
  char name[16];
  snprintf(name, sizeof name, "worker-%ld", (long)(intptr_t)arg);
  pthread_setname_np(pthread_self(), name);
  for (long i = 0; i < ops; i++) {
    volatile char *p = malloc((size_t)(1 + i % 97));
    p[0] = 1;
    free((void *)p);
  }
  return NULL;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 8;
  pthread_t th[64];
  ops = argc > 2 ? atol(argv[2]) : 200000;
  if (n > 64) n = 64;
  for (int i = 0; i < n; i++) pthread_create(&th[i], NULL, work, (void *)(intptr_t)i);
  for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
  return 0;
}
