/*
 * v_handoff.c: blocks handed between threads, so the same addresses are allocated by one thread
 * and freed by another, over and over, and the rings reach the trace in any order.  Four threads
 * each allocate (and grow with realloc) 20,000 blocks of 16..1024 bytes and pass each to the next
 * thread, which frees it; main frees what is left in the mailboxes.  Then, on main's thread, 64
 * blocks of 100 bytes stay reachable from a global and 64 of 200 bytes are lost: at exit exactly
 * those are live, and the leak check must say so for every one of them.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define ROUNDS  20000

static _Atomic(void *) mailbox[THREADS];
void *reachable[64];

static void *worker(void *arg) {
  int me = (int)(long)arg;
  for (int r = 0; r < ROUNDS; r++) {
    size_t size = 16 + (size_t)((r * 7 + me) % 64) * 16;
    char *p = malloc(size), *old;
    if (!p) abort();
    memset(p, me, size);
    if (r % 3 == 0) {
      char *q = realloc(p, size + 512);
      if (!q) abort();
      p = q;
    }
    old = atomic_exchange(&mailbox[(me + 1) % THREADS], p);
    free(old);
  }
  return NULL;
}

__attribute__((noinline)) static void keep_and_lose(void) {
  for (int i = 0; i < 64; i++) {
    void *volatile lost = malloc(200);
    reachable[i] = malloc(100);
    lost = NULL;
    (void)lost;
  }
}

int main(void) {
  pthread_t t[THREADS];
  for (long i = 0; i < THREADS; i++)
    if (pthread_create(&t[i], NULL, worker, (void *)i)) return 1;
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < THREADS; i++) free(atomic_exchange(&mailbox[i], NULL));
  keep_and_lose();
  return 0;
}
