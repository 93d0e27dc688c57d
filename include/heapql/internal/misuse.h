/*
 * heapql/internal/misuse.h: the one answer to API misuse (STYLE §2.3).
 *
 * A public function called with a NULL or dead handle, or a NULL out-parameter, returns
 * HQ_MISUSE_BKPT: HQ_EMISUSE, after hq__misuse() has said once on stderr where it was caught.
 * hq__misuse is the one place to set a breakpoint (SQLite's SQLITE_MISUSE_BKPT).  Values that
 * are merely out of range (a bad format, a negative size) are HQ_EINVAL, not misuse.
 */
#ifndef HEAPQL_INTERNAL_MISUSE_H
#define HEAPQL_INTERNAL_MISUSE_H

#include "heapql/error.h"

/* Logs "heapql: API misuse at FILE:LINE" once per process; returns HQ_EMISUSE. */
int hq__misuse(const char *file, int line);
#define HQ_MISUSE_BKPT hq__misuse(__FILE__, __LINE__)

#endif /* HEAPQL_INTERNAL_MISUSE_H */
