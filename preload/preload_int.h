/*
 * preload_int.h: what the recorder's files share (hq__ prefix), grouped by defining file.
 *
 * The recorder's rules (DESIGN §3, STYLE §2.4): the hot path takes no lock shared by all threads,
 * calls no malloc, stdio, SQL or symbol lookup; it unwinds once into a fixed array, interns the
 * stack by hash in a per-thread cache, and appends one fixed-size record to the thread's ring.
 * Everything else (file writes, module maps, import) happens on the writer thread or on rare
 * paths (dlopen, fork, exit), always with the thread's guard set so the recorder's own
 * allocations go straight to the real allocator.
 */
#ifndef HQ_PRELOAD_INT_H
#define HQ_PRELOAD_INT_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "heapql/internal/compiler.h"
#include "heapql/internal/rawfmt.h"

#define HQ_MAX_DEPTH_LIMIT 256
#define HQ_STACK_CACHE     4096 /* per-thread direct-mapped cache of stack hashes sent */

/* ---- hq_real.c: the real functions, resolved with dlsym(RTLD_NEXT) ---- */
typedef struct hq_real_s {
  void *(*malloc)(size_t);
  void  (*free)(void *);
  void *(*calloc)(size_t, size_t);
  void *(*realloc)(void *, size_t);
  void *(*reallocarray)(void *, size_t, size_t);
  int   (*posix_memalign)(void **, size_t, size_t);
  void *(*aligned_alloc)(size_t, size_t);
  void *(*memalign)(size_t, size_t);
  void *(*valloc)(size_t);
  void *(*pvalloc)(size_t);
  void *(*mmap)(void *, size_t, int, int, int, off_t);
  int   (*munmap)(void *, size_t);
  void *(*mremap)(void *, size_t, size_t, int, ...);
  void *(*dlopen)(const char *, int);
  int   (*dlclose)(void *);
  int   (*close)(int);
  int   (*dup2)(int, int);
  int   (*dup3)(int, int, int);
  int   (*close_range)(unsigned, unsigned, int);
  void  (*exit_)(int) __attribute__((noreturn));
  void  (*Exit_)(int) __attribute__((noreturn));
  void  (*abort_)(void) __attribute__((noreturn));
  /* processes: resolved at start, so that a vfork child never calls dlsym (it allocates) */
  int   (*execve)(const char *, char *const[], char *const[]);
  int   (*execvpe)(const char *, char *const[], char *const[]);
  int   (*fexecve)(int, char *const[], char *const[]);
  int   (*execveat)(int, const char *, char *const[], char *const[], int);
  int   (*posix_spawn)(pid_t *, const char *, const void *, const void *, char *const[],
                       char *const[]);
  int   (*posix_spawnp)(pid_t *, const char *, const void *, const void *, char *const[],
                        char *const[]);
  int   (*system)(const char *);
  void *(*popen)(const char *, const char *);
  /* C++ runtime: resolved lazily (a C program has no libstdc++) */
  void *(*op_new)(size_t);
  void *(*op_new_array)(size_t);
  void *(*op_new_nothrow)(size_t, const void *);
  void *(*op_new_array_nothrow)(size_t, const void *);
  void *(*op_new_aligned)(size_t, size_t);
  void *(*op_new_array_aligned)(size_t, size_t);
  void *(*op_new_aligned_nothrow)(size_t, size_t, const void *);
  void *(*op_new_array_aligned_nothrow)(size_t, size_t, const void *);
} hq_real_t;

extern hq_real_t hq__real;
extern void *hq__real_dlopen;             /* read by the hq_dlopen.S stub */
void  hq__real_resolve(void);          /* idempotent; aborts only if a required hook is missing */
int   hq__real_ready(void);            /* 1 once every function above is known */
void *hq__real_cxx(const char *name);  /* dlsym(RTLD_NEXT, name) for the C++ runtime, or NULL */
/* The bootstrap pool serves calloc/malloc while dlsym itself allocates. */
void *hq__boot_alloc(size_t size);
int   hq__boot_owns(const void *p);
size_t hq__boot_size(const void *p);

/* ---- hq_guard.h (inline) ---- */

/* ---- hq_env.c: options, read once ---- */
typedef struct hq_opts_s {
  char     output[1024];     /* database path, patterns expanded */
  char     raw[1040];        /* output + ".raw" */
  unsigned depth;            /* frames per stack */
  unsigned ring_kb;          /* per-thread ring size */
  int      follow_fork;
  int      follow_exec;
  int      force;
  int      mmap;
  int      free_stacks;
  int      fp_unwind;
  int      clock_monotonic;  /* HEAPQL_CLOCK=monotonic: never the TSC */
  int      defer_import;     /* heapql run imports; the process leaves the raw trace */
  int      leak_check;       /* classify the heap blocks live at a normal exit (memcheck's) */
  int      python_frames;    /* read a CPython interpreter's Python frames (hq_python.c) */
  char     program[256];
  char     output_pattern[1024];
} hq_opts_t;
extern hq_opts_t hq__opts;
/* Read HEAPQL_* into hq__opts; returns 0, or -1 with a one-line reason in why. */
int  hq__env_load(char *why, size_t cap);
/* Expand the output pattern for pid into out. */
void hq__env_output_for(pid_t pid, char *out, size_t cap);
/* Take heapql out of the program's environment, in place and without allocating: every
 * HEAPQL_* variable, and our library from LD_PRELOAD (the variable too when nothing else is
 * left).  With follow_exec what a child needs is kept aside for hq__env_for_child. */
void hq__env_clean(void);
/* The entries hq__env_for_child may write for envp (the size of vec), NULL included. */
size_t hq__env_child_size(char *const *envp);
/* envp for a child to be recorded (follow_exec): envp without HEAPQL_* and LD_PRELOAD, then
 * LD_PRELOAD with our library first and the HEAPQL_* kept at start, written into vec (of
 * hq__env_child_size(envp) entries) and preload_buf.  Without follow_exec: envp itself. */
char *const *hq__env_for_child(char *const *envp, char **vec, char *preload_buf, size_t buf_cap);

/* ---- hq_trace.c ---- */
/* Fill ips (innermost first) with the caller's stack from the frame whose return address is
 * `from` (the caller of the hq__record_* entry point) outwards, then past any leading frames in
 * the recorder's own module (an interposer's wrappers, however they were inlined).  Returns the
 * depth (0..max). */
int      hq__trace_capture(uint64_t *ips, int max, const void *from);
uint64_t hq__trace_hash(const uint64_t *ips, int depth, uint32_t gen);
/* self_lo..self_hi: the recorder's own module, whose leading frames are dropped (0, 0: none,
 * when the recorder is linked into the program itself, as in tests). */
void     hq__trace_init(uintptr_t self_lo, uintptr_t self_hi);
void     hq__trace_thread_init(void);

/* ---- hq_ring.c: per-thread buffers, their slots in the ring file ---- */
typedef struct hq_ring_s {
  hq_raw_ring_t *sh;              /* head, tail (and the data after them): a slot of the ring
                                   * file, or anonymous memory when none could be had */
  unsigned char *data;            /* sh + HQ_RING_HEADER_BYTES */
  uint64_t tail_cache;            /* owner's last view of sh->tail */
  uint64_t cap;                   /* power of two */
  uint64_t mask;
  uint32_t tid;
  uint32_t slot;                  /* sh's index in the ring file, or HQ_RING_NO_SLOT */
  _Atomic int state;              /* HQ_RING_* */
  struct hq_ring_s *next;         /* registry (all rings ever made) */
  uint64_t alloc_events;          /* events pushed, for statistics */
  uint64_t stack_cache[HQ_STACK_CACHE];
} hq_ring_t;

/* ACTIVE: its thread records into it.  EXITING: its thread ran its last TLS destructor round
 * but may still free a little on its way out (glibc's own thread teardown); the writer frees
 * the ring once the kernel says the thread is gone.  FREE: drained, reusable. */
enum { HQ_RING_ACTIVE = 0, HQ_RING_EXITING = 1, HQ_RING_FREE = 2 };

/* Create this process's ring file (hq__opts.raw + HQ_RINGS_SUFFIX, mode 0600).  Without one,
 * rings are anonymous memory: recording goes on, durable only up to the writer's last drain. */
void       hq__rings_open(void);
/* The process ended normally and its trace holds everything: close and remove the ring file. */
void       hq__rings_remove(void);
int        hq__rings_owns_fd(int fd);
int        hq__writer_rings_fd(void);        /* the ring file's descriptor, or -1 */
void       hq__rings_forget(void);           /* fork child: close the parent's, never remove it */
void       hq__rings_move_fd(int fd);        /* fd is about to be taken by dup2: move ours */
hq_ring_t *hq__ring_acquire(uint32_t tid);   /* a ring for the calling thread; NULL if none */
void       hq__ring_retire(hq_ring_t *r);
/* Append len bytes; waits for the writer if the ring is full.  Returns 0 or -1 (recording off). */
int        hq__ring_push(hq_ring_t *r, const void *rec, uint32_t len);
hq_ring_t *hq__ring_list(void);
/* In a fork child: let go of the parent's slots; when the child records (traced), give the
 * forking thread's ring `keep` a slot in the child's ring file (hq__rings_open first). */
void       hq__ring_after_fork_child(hq_ring_t *keep, int traced);
uint64_t   hq__ring_bytes(void);

/* ---- hq_python.c: Python frames in a CPython interpreter ---- */
extern _Atomic int hq__py_on;     /* 1: the process runs a CPython whose frames we can read */
/* Replace the evaluation loop's frames in ips (depth of them, room for max) with the calling
 * thread's Python frames (describing new code objects into ring r); returns the new depth. */
int  hq__py_merge(hq_ring_t *r, uint64_t *ips, int depth, int max);
/* Look for a CPython interpreter in the process (once found, never again): at start and when
 * modules were loaded.  Writes HQ_REC_PYTHON when one is found. */
void hq__py_detect(void);
void hq__py_after_fork_child(void);  /* every code must be described again in the new trace */
void hq__py_thread_exit(void);

/* ---- hq_record.c: turning a call into records ---- */
extern __thread hq_ring_t *hq__tls_ring __attribute__((tls_model("initial-exec")));
void hq__record_alloc(int kind, const void *p, size_t size, size_t aux);
void hq__record_free(int free_kind, const void *p);
void hq__record_realloc(int kind, const void *old_p, const void *p, size_t size, uint64_t t_old);
void hq__record_munmap(const void *p, size_t len);
void hq__record_region(int type, const char *name);
/* A range: REGION_BEGIN/END (a thread's nested range) or RANGE_START/END (process-wide, id),
 * of NVTX domain code `domain` (0: annotate.h), with its category and name (BEGIN/START). */
void hq__record_range(int type, int domain, uint32_t category, uint64_t id, const char *name);
void hq__record_pool_reset(uint64_t pool);
/* A CUDA pool's (source HQ_POOL_SAMPLE_POOL) or a device's graph memory's (_GRAPH) bytes. */
void hq__record_pool_sample(int source, uint64_t pool, int32_t device, uint64_t reserved,
                            uint64_t used);
void hq__record_counter(const char *name, double value);
/* Stamp rec with the caller's stack and append it (the hook filled every other field). */
void hq__record_cuda_call(hq_rec_cuda_call_t *rec);
/* ---- hq_clock.c ---- */
/* Event time since t0: TSC ticks (rdtscp) when the kernel's clocksource is a stable TSC, else
 * CLOCK_MONOTONIC ns.  The importer turns ticks into ns with the writer's HQ_REC_CLOCK pairs. */
static inline uint64_t hq__now(void);
uint64_t hq__mono_ns(void);                /* CLOCK_MONOTONIC ns since t0, always */
void     hq__clock_start(void);            /* at start and in a fork child: t0, TSC choice */

/* ---- hq_writer.c ---- */
int  hq__writer_open(char *why, size_t cap);  /* create the raw trace, write its header */
int  hq__writer_start(void);                  /* start the writer thread */
void hq__writer_wake(void);
/* Write one top-level record (module, note, ...), under the file lock. */
void hq__writer_put(const void *rec, uint32_t len);
void hq__writer_end(int exit_status);          /* flush, END record, close */
int  hq__writer_fd(void);
int  hq__writer_statm_fd(void);
/* The process dies of signo: drain every ring and write HQ_REC_FATAL (waits up to 200 ms for
 * the file lock; nothing when this thread holds it).  Async-signal-safe enough for a handler:
 * no allocation, no stdio. */
void hq__writer_flush_fatal(int signo);
void hq__writer_drain_ring(hq_ring_t *r);
int  hq__writer_owns_fd(int fd);
int  hq__writer_fd_high(int fd);              /* fd moved out of the range programs reuse */
void hq__writer_move_fds(int fd);            /* fd is about to be taken by dup2: move ours */
void hq__writer_lock(void);
void hq__writer_unlock(void);
int  hq__writer_trylock_for(int ms);           /* the file lock within ms, or 0 */
void hq__writer_drain_all_locked(void);        /* every ring into the trace (lock held) */
void hq__writer_put_locked(const void *rec, uint32_t len); /* a top-level record (lock held) */
void hq__writer_thread(uint32_t *tid, uintptr_t *stack);  /* the writer's tid, a stack address */
void hq__writer_after_fork_child(void);
void hq__writer_note(const char *text);
extern _Atomic uint64_t hq__dropped;

/* ---- hq_init.c ---- */
/* The process exits normally with status: the leak check (unless HEAPQL_LEAK_CHECK=0), then
 * hq__finish. */
void hq__exit_finish(int status);

/* ---- hq_embedded.c ---- */
void hq__record_embedded_suppressions(void); /* at exit: __lsan_default_suppressions() */

/* ---- hq_leakscan.c ---- */
/* memcheck's leak check of the heap blocks live now (at a normal exit): classes into the trace.
 * caller_sp: the exiting thread's stack pointer where the check was entered (its stack is
 * scanned from there up); self_lo..self_hi: heapql's module; writer_*: the writer thread. */
void hq__leak_check(uintptr_t caller_sp, uintptr_t self_lo, uintptr_t self_hi, uint32_t writer_tid,
                    uintptr_t writer_stack);

/* ---- hq_signal.c ---- */
/* The real sigaction (the program's view is not touched). */
int  hq__signal_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
void hq__signals_start(void);        /* stand in for SIG_DFL of the fatal signals (at start) */
void hq__signals_fatal_written(void); /* abort() wrote HQ_REC_FATAL: the stand-in need not */

/* ---- hq_modmap.c ---- */
extern _Atomic uint32_t hq__modmap_gen;
void hq__modmap_refresh(void);                 /* after dlopen/dlclose, and at start */
void hq__modmap_rewrite(void);                 /* all live modules again (fork child) */
void hq__modmap_poll(void);                    /* writer: refresh if the loader's counters moved */
void hq__modmap_self(uintptr_t *lo, uintptr_t *hi);

/* ---- hq_cuda_hooks.c: the CUDA driver boundary (and the exported dlsym, hq_dlsym.S) ---- */
extern void *hq__real_dlsym;                 /* read by the hq_dlsym.S stub */
void  hq__cuda_dlsym_init(void);             /* resolve hq__real_dlsym with dlvsym */
int   hq__cuda_wraps(const char *name);      /* 1 if dlsym of this exact name is ours to map */
void *hq__cuda_dlsym(void *handle, const char *name); /* real dlsym, then our hook by identity */

/* ---- hq_recorder.c (its entry points: hq_recorder.h) ---- */
typedef struct hq_state_s {
  _Atomic int enabled;       /* recording on */
  uintptr_t self_lo, self_hi; /* heapql's own module (hq__modmap_self), 0 when linked in */
  int start_tried;           /* the first intercepted call (or the constructor) tried to start */
  _Atomic int finished;      /* hq__finish ran */
  int initialized;
  pid_t pid;
  uint64_t t0_mono;
  uint64_t t0_unix;
  int tsc;                   /* event times are TSC ticks (hq__now), see hq_clock.c */
  uint64_t tsc0;             /* TSC at t0 */
  double tsc_ns_per_tick;    /* first estimate, for the header */
  int exit_status;           /* from on_exit, -1 unknown */
  int degraded_err;
  char degraded_reason[200];
} hq_state_t;
extern hq_state_t hq__state;
void hq__finish(int exit_status);   /* hq_recorder.h */

#if defined(__x86_64__)
#include <x86intrin.h>
#endif
#include <time.h>

static inline uint64_t hq__now(void) {
#if defined(__x86_64__)
  if (hq_likely(hq__state.tsc)) {
    unsigned aux;
    /* rdtscp waits for the instructions before it (the real malloc) to finish. */
    return __rdtscp(&aux) - hq__state.tsc0;
  }
#endif
  return hq__mono_ns();
}

#endif /* HQ_PRELOAD_INT_H */
