/*
 * v_storm.c THREADS: allocation as fast as THREADS threads can go (blocks of 1000..1999 bytes,
 * half of them freed at once), until killed.  A reporter thread writes to stdout, every
 * millisecond, how many allocation calls had returned by then ("N\n"): whatever kills the
 * process, the database must hold at least the last number written.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic unsigned long done;

static void *work(void *arg) {
  unsigned long seed = (unsigned long)(uintptr_t)arg * 2654435761u + 1;
  void *keep[256] = {0};
  for (unsigned long i = 0;; i++) {
    seed = seed * 6364136223846793005ul + 1442695040888963407ul;
    void *p = malloc(1000 + (seed >> 33) % 1000);
    atomic_fetch_add_explicit(&done, 1, memory_order_release);
    if (i & 1) {
      free(p);
    } else {
      free(keep[i / 2 % 256]);
      keep[i / 2 % 256] = p;
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 4;
  pthread_t th;
  for (int t = 0; t < threads; t++) pthread_create(&th, NULL, work, (void *)(uintptr_t)(t + 1));
  for (;;) {
    char line[32];
    struct timespec ms = {0, 1000000};
    /* read before writing: every call counted had returned before the line was written */
    int n = snprintf(line, sizeof line, "%lu\n", atomic_load_explicit(&done, memory_order_acquire));
    if (write(1, line, (size_t)n) < 0) return 1;
    nanosleep(&ms, NULL);
  }
}
