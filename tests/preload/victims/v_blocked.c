/*
 * v_blocked.c: a thread that blocks every signal holds a 7777-byte block only in a local
 * variable, and is still running when main exits.  The leak check cannot stop it: it scans its
 * whole stack instead, so the block is still reachable, and says one thread did not answer.
 * The 2222-byte block main drops is definitely lost.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

static atomic_int ready;

static void *holder(void *arg) {
  sigset_t all;
  void *volatile mine;
  (void)arg;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  mine = malloc(7777);
  atomic_store(&ready, 1);
  for (;;) pause(); /* no signal reaches it: sleeps until the process ends */
  return (void *)mine;
}

int main(void) {
  pthread_t t;
  if (pthread_create(&t, NULL, holder, NULL)) return 1;
  while (!atomic_load(&ready)) usleep(1000);
  {
    void *volatile lost = malloc(2222);
    lost = NULL;
    (void)lost;
  }
  return 0;
}
