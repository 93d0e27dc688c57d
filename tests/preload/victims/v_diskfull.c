/* v_diskfull.c: limits its own file size (as a full disk would: writes fail), then allocates
 * 200000 blocks of 64 bytes, freeing them; writes "done" to stdout and exits 0. */
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

int main(void) {
  struct rlimit rl = {256 * 1024, 256 * 1024};
  signal(SIGXFSZ, SIG_IGN);
  setrlimit(RLIMIT_FSIZE, &rl);
  for (int i = 0; i < 200000; i++) {
    volatile char *p = malloc(64);
    p[0] = 1;
    free((void *)p);
  }
  return write(1, "done\n", 5) == 5 ? 0 : 1;
}
