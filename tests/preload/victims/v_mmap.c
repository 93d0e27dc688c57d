/* v_mmap.c: anonymous mappings: 1 MiB (unmapped), 2 MiB grown by mremap to 4 MiB (kept),
 * a file mapping (not recorded). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
  void *a = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void *b = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int fd = open("/proc/self/exe", O_RDONLY);
  void *f = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  munmap(a, 1 << 20);
  b = mremap(b, 2 << 20, 4 << 20, MREMAP_MAYMOVE);
  munmap(f, 4096);
  close(fd);
  return b == MAP_FAILED;
}
