/* hq_version.c: the kernels library's version string. */
#include "heapql/kernels.h"

const char *hq_kernels_version(void) { return HQ_VERSION_STRING; }
