/* v_die.c MODE: allocate 50 blocks of sizes 1000..1049 (kept), sleep 200 ms (the recorder
 * flushes), then end by MODE: "kill" (SIGKILL itself), "abort", "_exit" (status 3), "segv". */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  struct timespec ts = {0, 200 * 1000 * 1000};
  void *keep[50];
  for (int i = 0; i < 50; i++) keep[i] = malloc(1000 + (size_t)i);
  nanosleep(&ts, NULL);
  if (argc < 2) return 0;
  if (!strcmp(argv[1], "kill")) kill(getpid(), SIGKILL);
  if (!strcmp(argv[1], "abort")) abort();
  if (!strcmp(argv[1], "_exit")) _exit(3);
  if (!strcmp(argv[1], "segv")) raise(SIGSEGV);
  (void)keep;
  return 0;
}
