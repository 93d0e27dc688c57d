/*
 * fuzz_npy.c: the .npy header parser.  The input is the file; hq_npy_open must refuse it or
 * describe an array whose data lies inside the file.
 */
#include "heapql/heapql.h"
#include "heapql/kernels.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[128];
  hq_npy_t *a = NULL;
  if (fuzz_file("f.npy", data, size, path, sizeof path)) return 0;
  if (hq_npy_open(path, "r", NULL, &a) == HQ_OK) {
    hq_npy_info_t info;
    void *p = NULL;
    if (hq_npy_info(a, &info) == HQ_OK && hq_npy_data(a, &p) == HQ_OK && info.nbytes > 0) {
      /* every byte the header promises is readable */
      volatile unsigned char sink = ((unsigned char *)p)[info.nbytes - 1];
      (void)sink;
    }
    hq_npy_close(a);
  }
  return 0;
}
