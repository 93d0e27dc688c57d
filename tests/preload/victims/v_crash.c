/*
 * v_crash.c MODE: 1000 blocks of 7001..8000 bytes, kept, then at once (no pause for the
 * recorder's writer): "segv" dereferences NULL, "kill" sends itself SIGKILL, "term" SIGTERM,
 * "none" returns 0.  Every block must be in the database whatever the end.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *keep[1000];

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "none";
  for (int i = 0; i < 1000; i++) keep[i] = malloc(7001 + (size_t)i);
  if (!strcmp(mode, "segv")) {
    volatile int *volatile nothing = NULL;
    *nothing = 1;
  }
  if (!strcmp(mode, "kill")) kill(getpid(), SIGKILL);
  if (!strcmp(mode, "term")) kill(getpid(), SIGTERM);
  return 0;
}
