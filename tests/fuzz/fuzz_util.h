/*
 * fuzz_util.h: what the fuzz targets share.  Each target is a libFuzzer entry point
 * (LLVMFuzzerTestOneInput) over a file-reading API of heapql: the input becomes a file in a
 * private directory, the API reads it, and whatever it answers is fine as long as it answers
 * (a crash, a leak, undefined behaviour or a hang is the finding).  `make fuzz` builds them with
 * clang's libFuzzer; tests/unit/test_fuzz_corpus.c replays their corpus and every regression
 * input in `make test` without it.
 */
#ifndef HQ_FUZZ_UTIL_H
#define HQ_FUZZ_UTIL_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A private directory for this process's files (made once, left behind: a fuzzer's tmp). */
static const char *fuzz_dir(void) {
  static char dir[64];
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "/tmp/heapql-fuzz-XXXXXX");
    if (!mkdtemp(dir)) abort();
  }
  return dir;
}

/* Write data to dir/name (replacing it); the path in out.  Returns 0 or -1. */
static int fuzz_file(const char *name, const uint8_t *data, size_t size, char *out, size_t cap) {
  int fd;
  snprintf(out, cap, "%s/%s", fuzz_dir(), name);
  fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  while (size > 0) {
    ssize_t w = write(fd, data, size);
    if (w <= 0) {
      close(fd);
      return -1;
    }
    data += w;
    size -= (size_t)w;
  }
  close(fd);
  return 0;
}

#endif
