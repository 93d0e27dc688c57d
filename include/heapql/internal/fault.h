/*
 * heapql/internal/fault.h: the failure-injection seam, for tests.
 *
 * HEAPQL_FAULT="site=N[:errno][,site=N[:errno]...]" makes the N-th event at each site fail
 * (N counts from 1 in the process; errno by name or number, default per site).  Sites:
 *
 *   trace_write    the recorder's N-th write of its raw trace fails with errno (ENOSPC)
 *   db_write       the N-th write SQLite makes to any database file fails (SQLITE_FULL for
 *                  ENOSPC, SQLITE_IOERR otherwise), through a VFS shim (analyzer/base)
 *   db_read        the N-th read SQLite makes fails (SQLITE_IOERR)
 *   db_alloc       SQLite's N-th memory allocation fails (SQLITE_NOMEM)
 *   out_write      the N-th flush of a report, picture or export to its output fails (EIO)
 *
 * Unset (the normal case), every check is one relaxed load of a flag that is 0.  The variable
 * is read once, at the first check; a malformed value is ignored with one stderr line.
 *
 * Internal (not installed).
 */
#ifndef HEAPQL_INTERNAL_FAULT_H
#define HEAPQL_INTERNAL_FAULT_H

enum { HQ_FAULT_TRACE_WRITE, HQ_FAULT_DB_WRITE, HQ_FAULT_DB_READ, HQ_FAULT_DB_ALLOC,
       HQ_FAULT_OUT_WRITE, HQ_FAULT_SITES_ };

/* Counts one event at site; returns the errno to fail it with, or 0 to let it happen. */
int hq__fault(int site);
/* Whether HEAPQL_FAULT names any site (reads it on the first call). */
int hq__fault_enabled(void);
/* Forget what was read and counted: the next check reads HEAPQL_FAULT again (a test's forked
 * child that sets its own).  Not thread-safe: call it while no other thread checks. */
void hq__fault_reset(void);

#endif /* HEAPQL_INTERNAL_FAULT_H */
