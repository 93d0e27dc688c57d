/*
 * heapql/internal/outname.h: output-name expansion, shared by `heapql run` and the recorder,
 * which must agree on every file name.
 */
#ifndef HEAPQL_INTERNAL_OUTNAME_H
#define HEAPQL_INTERNAL_OUTNAME_H

#include <stddef.h>

/* Expand an output pattern: %p = pid, %n = program name, %% = '%'; any other character is
 * copied.  out is always NUL-terminated (truncated to cap).  Allocates nothing: the recorder
 * calls it before the program's allocator may be used. */
void hq__expand_output(const char *pattern, long pid, const char *prog, char *out, size_t cap);

#endif /* HEAPQL_INTERNAL_OUTNAME_H */
