/*
 * hq_recorder.h: the recorder without the interposer, in the spirit of heaptrack's
 * libheaptrack.h.  The preload's constructor (hq_init.c) starts it and its exit hooks finish
 * it; a test links the recorder's objects (everything in preload/ but the interposed symbols:
 * hq_preload.c, hq_cuda_hooks.c, the dlsym/dlopen stubs, hq_init.c) and drives the same ring,
 * writer and record path directly, without LD_PRELOAD (tests/unit/test_recorder.c).
 *
 *   hq__recorder_start()        read HEAPQL_* (HEAPQL_OUTPUT, HEAPQL_DEFER_IMPORT, ...), open
 *                               the raw trace, start the writer thread, switch recording on
 *   hq__record_alloc() ...      one event from the calling thread (preload_int.h, "hq_record.c")
 *   hq__finish(exit_status)     drain every ring, write END, import unless deferred
 *
 * Internal to the preload.
 */
#ifndef HQ_RECORDER_H
#define HQ_RECORDER_H

#include <stddef.h>

/* Start recording.  preloaded: the recorder is its own module (libheapql_preload.so), whose
 * frames stacks leave out; 0 when it is linked into the program (a test).  Returns 0, or -1 with
 * a one-line reason in why (nothing is recorded then, and no trace file is left). */
int  hq__recorder_start(int preloaded, char *why, size_t cap);
/* hq__recorder_start in two steps, for a start inside the program's first intercepted call:
 * begin reads the options, takes heapql out of the environment, opens the trace and the ring
 * file and switches recording on, without starting a thread or taking a lock the loader may
 * hold; start_writer (from the constructor) starts the writer thread.  Each returns 0 or -1
 * with a reason in why. */
int  hq__recorder_begin(int preloaded, char *why, size_t cap);
int  hq__recorder_start_writer(char *why, size_t cap);
/* End the recording of this process (idempotent): see preload_int.h "hq_recorder.c". */
void hq__finish(int exit_status);
/* The process replaces itself with exec: note it, then finish. */
void hq__finish_exec(void);
/* One line "heapql: what: detail" on stderr with write(2) (no stdio, no allocation). */
void hq__say(const char *what, const char *detail);

#endif /* HQ_RECORDER_H */
