/*
 * hq_writer.c: the raw trace file and the thread that fills it.
 *
 * One writer thread per process wakes every 10 ms (sooner when a ring passes half full), drains
 * every ring into the trace with writev(2), samples RSS every 20 ms and notices modules the
 * loader mapped behind dlopen's back.  Every file write happens under one mutex (the writer's,
 * or a producer draining its own full ring, or exit): it is never taken on the hot path.
 * What write(2) accepted survives SIGKILL, so a killed program loses at most the last ~10 ms.
 * A failed write (disk full, descriptor closed or replaced) stops recording; the program runs on.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "heapql/internal/fault.h"
#include "hq_guard.h"
#include "preload_int.h"

_Atomic uint64_t hq__dropped;

static pthread_mutex_t file_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint32_t file_lock_owner; /* tid holding file_lock through lock_file(), or 0 */
static int trace_fd = -1, statm_fd = -1;
static dev_t trace_dev;
static ino_t trace_ino;
static _Atomic uint32_t wake_word;
static _Atomic int writer_running;
static uint64_t last_rss_t;
static _Atomic uint32_t writer_tid;       /* the writer thread, for the leak check to leave alone */
static _Atomic uintptr_t writer_stack;    /* an address on its stack */

static __thread int cancel_state_before __attribute__((tls_model("initial-exec")));

/* The file lock is never held across a cancellation: writev and open are cancellation points,
 * and a thread of the program cancelled inside a drain would leave the lock held forever. */
static void lock_file(void) {
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state_before);
  pthread_mutex_lock(&file_lock);
  atomic_store_explicit(&file_lock_owner, (uint32_t)syscall(SYS_gettid), memory_order_relaxed);
}

static void unlock_file(void) {
  int ignored;
  atomic_store_explicit(&file_lock_owner, 0, memory_order_relaxed);
  pthread_mutex_unlock(&file_lock);
  pthread_setcancelstate(cancel_state_before, &ignored);
}

void hq__writer_lock(void) { lock_file(); }
void hq__writer_unlock(void) { unlock_file(); }

int hq__writer_trylock_for(int ms) {
  for (int tries = 0; tries <= ms; tries++) {
    int ignored;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state_before);
    if (pthread_mutex_trylock(&file_lock) == 0) {
      atomic_store_explicit(&file_lock_owner, (uint32_t)syscall(SYS_gettid), memory_order_relaxed);
      return 1;
    }
    pthread_setcancelstate(cancel_state_before, &ignored);
    struct timespec one = {0, 1000000};
    nanosleep(&one, NULL);
  }
  return 0;
}
int hq__writer_fd(void) { return trace_fd; }
int hq__writer_statm_fd(void) { return statm_fd; }
int hq__writer_owns_fd(int fd) {
  return fd >= 0 && (fd == trace_fd || fd == statm_fd || hq__rings_owns_fd(fd));
}

void hq__writer_wake(void) {
  atomic_fetch_add_explicit(&wake_word, 1, memory_order_release);
  syscall(SYS_futex, &wake_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Keep our descriptors out of the range programs usually reuse. */
int hq__writer_fd_high(int fd) {
  struct rlimit rl;
  int lo = 1000, nfd;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <= 1024)
    lo = (int)rl.rlim_cur / 2;
  nfd = fcntl(fd, F_DUPFD_CLOEXEC, lo);
  if (nfd < 0) return fd;
  hq__real.close(fd);
  return nfd;
}

void hq__writer_move_fds(int fd) {
  /* The program is about to dup2 something onto one of our descriptors. */
  if (fd == trace_fd) {
    int nfd = fcntl(trace_fd, F_DUPFD_CLOEXEC, trace_fd + 1);
    if (nfd >= 0) trace_fd = nfd; /* the old number is the program's now */
    else trace_fd = -1;
  }
  if (fd == statm_fd) {
    int nfd = fcntl(statm_fd, F_DUPFD_CLOEXEC, statm_fd + 1);
    statm_fd = nfd >= 0 ? nfd : -1;
  }
  hq__rings_move_fd(fd);
}

static void writer_degrade(const char *reason, int err) {
  if (!hq__state.degraded_reason[0]) {
    snprintf(hq__state.degraded_reason, sizeof hq__state.degraded_reason, "%s%s%s", reason,
             err ? ": " : "", err ? strerror(err) : "");
    hq__state.degraded_err = err ? err : EIO;
  }
  atomic_store_explicit(&hq__state.enabled, 0, memory_order_release);
}

static __thread int on_writer_thread __attribute__((tls_model("initial-exec")));

/* writev that never lets SIGXFSZ reach the program: past RLIMIT_FSIZE the kernel sends it to
 * the writing thread along with EFBIG, and its default action would end the program because of
 * heapql's own write.  The writer thread blocks every signal already. */
static ssize_t writev_quiet(int fd, const struct iovec *iov, int n) {
  sigset_t xfsz, old;
  int blocked = 0, err;
  ssize_t w;
  sigemptyset(&xfsz);
  sigaddset(&xfsz, SIGXFSZ);
  if (!on_writer_thread) blocked = pthread_sigmask(SIG_BLOCK, &xfsz, &old) == 0;
  w = writev(fd, iov, n);
  err = errno;
  if (w < 0 && err == EFBIG) {
    struct timespec now = {0, 0};
    sigtimedwait(&xfsz, NULL, &now); /* the one this write raised */
  }
  if (blocked) pthread_sigmask(SIG_SETMASK, &old, NULL);
  errno = err;
  return w;
}

/* Write all of iov or degrade.  Called with file_lock held. */
static int write_all(struct iovec *iov, int n) {
  int injected;
  if (trace_fd < 0 || hq__state.degraded_reason[0]) return -1;
  if (hq_unlikely(injected = hq__fault(HQ_FAULT_TRACE_WRITE))) { /* HEAPQL_FAULT, for tests */
    writer_degrade("cannot write the trace", injected);
    return -1;
  }
  while (n > 0) {
    ssize_t w = writev_quiet(trace_fd, iov, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      writer_degrade("cannot write the trace", errno);
      return -1;
    }
    while (n > 0 && (size_t)w >= iov->iov_len) {
      w -= (ssize_t)iov->iov_len;
      iov++;
      n--;
    }
    if (n > 0) {
      iov->iov_base = (char *)iov->iov_base + w;
      iov->iov_len -= (size_t)w;
    }
  }
  return 0;
}

void hq__writer_thread(uint32_t *tid, uintptr_t *stack) {
  /* A program that exits at once may do so before the writer ran its first line: give it a
   * moment to say who it is (it blocks every signal, so the leak check could not stop it). */
  for (int i = 0; i < 500 && atomic_load(&writer_running) &&
                  (!atomic_load(&writer_tid) || !atomic_load(&writer_stack)); i++) {
    struct timespec t = {0, 200 * 1000};
    nanosleep(&t, NULL);
  }
  *tid = atomic_load(&writer_tid);
  *stack = atomic_load(&writer_stack);
}

void hq__writer_put_locked(const void *rec, uint32_t len) {
  struct iovec iov = {(void *)rec, len};
  write_all(&iov, 1);
}

void hq__writer_put(const void *rec, uint32_t len) {
  struct iovec iov = {(void *)rec, len};
  lock_file();
  write_all(&iov, 1);
  unlock_file();
}

static void note_init(hq_rec_note_t *n, const char *text) {
  memset(n, 0, sizeof *n);
  n->hdr = (hq_rec_hdr_t){HQ_REC_NOTE, 0, sizeof *n};
  n->t = hq__now();
  snprintf(n->text, sizeof n->text, "%s", text);
}

void hq__writer_note(const char *text) {
  hq_rec_note_t n;
  note_init(&n, text);
  hq__writer_put(&n, sizeof n);
}

static void drain_locked(hq_ring_t *r) {
  uint64_t tail, head;
  if (!r->sh) return; /* a free ring of a fork child, without a slot yet */
  tail = atomic_load_explicit(&r->sh->tail, memory_order_relaxed);
  head = atomic_load_explicit(&r->sh->head, memory_order_acquire);
  uint64_t len = head - tail, off = tail & r->mask;
  hq_rec_chunk_t c;
  struct iovec iov[3];
  int n = 1;
  if (len == 0) return;
  memset(&c, 0, sizeof c);
  c.hdr.type = HQ_REC_CHUNK;
  c.hdr.len = (uint32_t)(sizeof c + len);
  c.tid = r->tid;
  c.slot = r->slot;
  c.pos = tail;
  iov[0].iov_base = &c;
  iov[0].iov_len = sizeof c;
  if (off + len <= r->cap) {
    iov[n].iov_base = r->data + off;
    iov[n++].iov_len = len;
  } else {
    iov[n].iov_base = r->data + off;
    iov[n++].iov_len = r->cap - off;
    iov[n].iov_base = r->data;
    iov[n++].iov_len = len - (r->cap - off);
  }
  if (write_all(iov, n) != 0) {
    /* Recording is off; the events are gone, and counted. */
    atomic_fetch_add_explicit(&hq__dropped, 1, memory_order_relaxed);
  }
  atomic_store_explicit(&r->sh->tail, head, memory_order_release);
}

void hq__writer_drain_ring(hq_ring_t *r) {
  lock_file();
  drain_locked(r);
  unlock_file();
}

static void drain_all_locked(void) {
  for (hq_ring_t *r = hq__ring_list(); r; r = r->next) {
    int state = atomic_load_explicit(&r->state, memory_order_acquire);
    if (state == HQ_RING_FREE) continue;
    /* An exiting thread may still be writing; once the kernel no longer knows its tid, the
     * last drain below is complete and the ring can serve a new thread. */
    int gone = state == HQ_RING_EXITING &&
               syscall(SYS_tgkill, (long)hq__state.pid, (long)r->tid, 0) != 0 && errno == ESRCH;
    drain_locked(r);
    if (gone) atomic_store_explicit(&r->state, HQ_RING_FREE, memory_order_release);
  }
}

void hq__writer_drain_all_locked(void) { drain_all_locked(); }

void hq__writer_flush_fatal(int signo) {
  hq_rec_fatal_t f = {.hdr = {HQ_REC_FATAL, 0, sizeof f}, .t = hq__now(), .signo = signo};
  struct iovec iov = {&f, sizeof f};
  uint32_t self = (uint32_t)syscall(SYS_gettid);
  /* The lock holder may be the writer (it lets go within a drain) or this very thread,
   * interrupted inside a drain: then nothing is written here (the ring file keeps it all). */
  for (int tries = 0; atomic_load_explicit(&file_lock_owner, memory_order_relaxed) != self; tries++) {
    if (pthread_mutex_trylock(&file_lock) == 0) {
      atomic_store_explicit(&file_lock_owner, self, memory_order_relaxed);
      drain_all_locked();
      write_all(&iov, 1);
      atomic_store_explicit(&file_lock_owner, 0, memory_order_relaxed);
      pthread_mutex_unlock(&file_lock);
      return;
    }
    if (tries == 200) return; /* 200 ms: something is wrong with the lock holder */
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
}

/* A (tick, ns) pair, for traces whose times are TSC ticks. */
static void write_clock_locked(void) {
  hq_rec_clock_t c = {.hdr = {HQ_REC_CLOCK, 0, sizeof c}};
  struct iovec iov = {&c, sizeof c};
  if (!hq__state.tsc) return;
  c.mono_ns = hq__mono_ns();
  c.tick = hq__now();
  write_all(&iov, 1);
}

static void sample_rss_locked(void) {
  char buf[128];
  unsigned long size_pages = 0, rss_pages = 0;
  hq_rec_rss_t rec = {.hdr = {HQ_REC_RSS, 0, sizeof rec}};
  struct iovec iov = {&rec, sizeof rec};
  ssize_t n;
  if (statm_fd < 0) return;
  n = pread(statm_fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return;
  buf[n] = '\0';
  if (sscanf(buf, "%lu %lu", &size_pages, &rss_pages) != 2) return;
  rec.t = hq__now();
  rec.rss_bytes = (uint64_t)rss_pages * (uint64_t)sysconf(_SC_PAGESIZE);
  last_rss_t = hq__mono_ns();
  write_all(&iov, 1);
  write_clock_locked();
}

/* Is trace_fd still the file we opened?  A program may have closed or dup2'd over it. */
static int fd_still_ours(void) {
  struct stat sb;
  if (trace_fd < 0) return 0;
  if (fstat(trace_fd, &sb) != 0) return 0;
  return sb.st_dev == trace_dev && sb.st_ino == trace_ino;
}

static void *writer_main(void *arg) {
  (void)arg;
  hq__guard = 1; /* forever: nothing this thread does is the program's */
  on_writer_thread = 1;
  atomic_store(&writer_tid, (uint32_t)syscall(SYS_gettid));
  atomic_store(&writer_stack, (uintptr_t)&arg);
  prctl(PR_SET_NAME, "heapql-writer", 0, 0, 0);
  while (!atomic_load_explicit(&hq__state.finished, memory_order_acquire)) {
    uint32_t seen = atomic_load_explicit(&wake_word, memory_order_acquire);
    struct timespec ts = {0, 10 * 1000 * 1000};
    syscall(SYS_futex, &wake_word, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
    if (atomic_load_explicit(&hq__state.finished, memory_order_acquire)) break;
    lock_file();
    if (!hq__state.degraded_reason[0] && !fd_still_ours())
      writer_degrade("the program closed or replaced heapql's trace file descriptor", 0);
    drain_all_locked();
    if (hq__mono_ns() - last_rss_t >= 20 * 1000 * 1000) sample_rss_locked();
    unlock_file();
    hq__modmap_poll();
  }
  atomic_store_explicit(&writer_running, 0, memory_order_release);
  return NULL;
}

int hq__writer_start(void) {
  pthread_t th;
  pthread_attr_t attr;
  sigset_t all, old;
  int rc;
  sigfillset(&all);
  /* The writer must never receive the program's signals. */
  pthread_sigmask(SIG_BLOCK, &all, &old);
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  atomic_store(&writer_running, 1);
  rc = pthread_create(&th, &attr, writer_main, NULL);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) atomic_store(&writer_running, 0);
  return rc == 0 ? 0 : -1;
}

static void fill_header(hq_raw_header_t *h) {
  int fd;
  ssize_t n;
  memset(h, 0, sizeof *h);
  memcpy(h->magic, HQ_RAW_MAGIC, 8);
  h->version = HQ_RAW_VERSION;
  h->header_size = sizeof *h;
  h->pid = (uint32_t)getpid();
  h->ppid = (uint32_t)getppid();
  h->t0_mono_ns = hq__state.t0_mono;
  h->t0_unix_ns = hq__state.t0_unix;
  h->max_depth = hq__opts.depth;
  h->flags = (hq__opts.mmap ? HQ_RAWF_MMAP : 0) | (hq__opts.free_stacks ? HQ_RAWF_FREE_STACK : 0) |
             (hq__opts.fp_unwind ? HQ_RAWF_FP_UNWIND : 0) | (hq__state.tsc ? HQ_RAWF_TSC : 0);
  h->tsc_ns_per_tick = hq__state.tsc ? hq__state.tsc_ns_per_tick : 0.0;
  snprintf(h->program, sizeof h->program, "%s", hq__opts.program);
  snprintf(h->output, sizeof h->output, "%s", hq__opts.output);
  gethostname(h->host, sizeof h->host - 1);
  fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    n = read(fd, h->cmdline, sizeof h->cmdline - 1);
    hq__real.close(fd);
    for (ssize_t i = 0; i < n - 1; i++)
      if (h->cmdline[i] == '\0') h->cmdline[i] = ' ';
    if (n > 0) h->cmdline[n - 1] = '\0';
  }
}

int hq__writer_open(char *why, size_t cap) {
  hq_raw_header_t h;
  struct stat sb;
  struct iovec iov = {&h, sizeof h};
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (hq__opts.force ? O_TRUNC : O_EXCL);
  int fd;

  if (stat(hq__opts.output, &sb) == 0 && !S_ISREG(sb.st_mode)) {
    snprintf(why, cap, "%s is not a regular file (a database goes into a file of its own)",
             hq__opts.output);
    return -1;
  }
  if (!hq__opts.defer_import && !hq__opts.force && stat(hq__opts.output, &sb) == 0) {
    snprintf(why, cap, "%s already exists (set HEAPQL_FORCE=1 to replace it)", hq__opts.output);
    return -1;
  }
  fd = open(hq__opts.raw, flags, 0600); /* addresses and paths: the owner's only */
  if (fd < 0) {
    snprintf(why, cap, "cannot create %s: %s", hq__opts.raw, strerror(errno));
    return -1;
  }
  trace_fd = hq__writer_fd_high(fd);
  if (fstat(trace_fd, &sb) == 0) {
    trace_dev = sb.st_dev;
    trace_ino = sb.st_ino;
  }
  fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  statm_fd = fd >= 0 ? hq__writer_fd_high(fd) : -1;
  fill_header(&h);
  last_rss_t = 0;
  lock_file();
  if (write_all(&iov, 1) != 0) {
    unlock_file();
    snprintf(why, cap, "cannot write %s: %s", hq__opts.raw, strerror(hq__state.degraded_err));
    return -1;
  }
  sample_rss_locked();
  unlock_file();
  return 0;
}

void hq__writer_end(int exit_status) {
  hq_rec_end_t end;
  struct iovec iov = {&end, sizeof end};
  lock_file();
  drain_all_locked();
  /* Names of the threads still alive. */
  for (hq_ring_t *r = hq__ring_list(); r; r = r->next) {
    char path[64], name[32] = "";
    hq_rec_thread_name_t tn;
    struct iovec tv = {&tn, sizeof tn};
    int fd;
    ssize_t n;
    if (atomic_load_explicit(&r->state, memory_order_relaxed) != HQ_RING_ACTIVE) continue;
    snprintf(path, sizeof path, "/proc/self/task/%u/comm", r->tid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    n = read(fd, name, sizeof name - 1);
    hq__real.close(fd);
    if (n <= 0) continue;
    name[n] = '\0';
    name[strcspn(name, "\n")] = '\0';
    memset(&tn, 0, sizeof tn);
    tn.hdr = (hq_rec_hdr_t){HQ_REC_THREAD_NAME, 0, sizeof tn};
    tn.tid = r->tid;
    memcpy(tn.name, name, sizeof tn.name - 1);
    write_all(&tv, 1);
  }
  sample_rss_locked();
  if (hq__state.degraded_reason[0]) {
    /* Still worth trying: a closed descriptor cannot take it, a full disk might. */
    hq_rec_note_t note;
    struct iovec nv = {&note, sizeof note};
    note_init(&note, hq__state.degraded_reason);
    if (trace_fd >= 0 && fd_still_ours()) {
      ssize_t w = writev_quiet(trace_fd, &nv, 1);
      (void)w;
    }
  }
  memset(&end, 0, sizeof end);
  end.hdr = (hq_rec_hdr_t){HQ_REC_END, 0, sizeof end};
  end.t = hq__now();
  end.exit_status = exit_status;
  end.dropped = atomic_load(&hq__dropped);
  end.recorder_bytes = hq__ring_bytes();
  write_all(&iov, 1);
  if (trace_fd >= 0 && fd_still_ours()) hq__real.close(trace_fd);
  trace_fd = -1;
  if (statm_fd >= 0) hq__real.close(statm_fd);
  statm_fd = -1;
  unlock_file();
}

void hq__writer_after_fork_child(void) {
  /* The mutex was held across fork by the prepare handler; the child owns that copy. */
  pthread_mutex_init(&file_lock, NULL);
  atomic_store(&file_lock_owner, 0);
  pthread_setcancelstate(cancel_state_before, NULL); /* as fork_prepare's lock found it */
  if (trace_fd >= 0) hq__real.close(trace_fd);
  if (statm_fd >= 0) hq__real.close(statm_fd);
  trace_fd = statm_fd = -1;
  atomic_store(&writer_running, 0);
}
