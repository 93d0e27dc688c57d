/* v_fds.c: closes every descriptor from 3 up (close() in a loop, then close_range), dup2s
 * /dev/null over 3..1100, then allocates 3 blocks of 3333 (1 freed) and exits 0. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int main(void) {
  void *a, *b, *c;
  int fd;
  for (int i = 3; i < 1024; i++) close(i);
  close_range(3, ~0u, 0);
  fd = open("/dev/null", O_RDWR);
  for (int i = 3; i < 1100; i++)
    if (i != fd) dup2(fd, i);
  a = malloc(3333);
  b = malloc(3333);
  c = malloc(3333);
  free(b);
  (void)a; (void)c;
  return 0;
}
