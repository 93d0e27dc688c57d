/*
 * hq_signal.c: dying the way the program would, with the trace written first.
 *
 * For each signal whose default action ends the process (SEGV, BUS, ILL, FPE, ABRT, SYS, TRAP,
 * XCPU, XFSZ, TERM, INT, HUP, QUIT), while the program leaves it at SIG_DFL heapql's handler
 * stands in for the default: it drains every ring into the trace, writes HQ_REC_FATAL (the
 * importer's exit_signal), restores SIG_DFL and raises the signal again, so the process dies of
 * it exactly as it would have (status, core dump).  The ring file already holds everything a
 * thread appended; the handler makes the trace whole without it and names the signal.
 *
 * The program never sees the stand-in: sigaction, signal, bsd_signal, sysv_signal and sigset
 * report and install the program's own dispositions.  A handler the program installs is
 * installed as given (SA_ONSTACK, SA_SIGINFO and the rest kept), so programs that recover from
 * SIGSEGV behave as before; when such a program later asks for SIG_DFL again, the stand-in
 * returns.  SIG_IGN stays SIG_IGN.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hq_guard.h"
#include "preload_int.h"

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef sighandler_t (*sigset_fn)(int, sighandler_t);

static sigaction_fn real_sigaction;
static sigset_fn real_sigset;
static _Atomic int fatal_written;

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL,  SIGFPE, SIGABRT, SIGSYS, SIGTRAP,
                                    SIGXCPU, SIGXFSZ, SIGTERM, SIGINT, SIGHUP,  SIGQUIT};

/* Per signal: 1 while heapql's stand-in is installed in place of the program's SIG_DFL. */
static _Atomic unsigned char standing_in[NSIG];

static int is_fatal(int sig) {
  for (size_t i = 0; i < HQ_ARRAY_LEN(fatal_signals); i++)
    if (fatal_signals[i] == sig) return 1;
  return 0;
}

static void resolve(void) {
  if (!real_sigaction) real_sigaction = (sigaction_fn)hq__real_cxx("sigaction");
  if (!real_sigset) real_sigset = (sigset_fn)hq__real_cxx("sigset");
}

static int is_default(const struct sigaction *a) {
  return !(a->sa_flags & SA_SIGINFO) && a->sa_handler == SIG_DFL;
}

static void stand_in(int sig, siginfo_t *info, void *uctx);

static int install_stand_in(int sig) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = stand_in;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  return real_sigaction(sig, &sa, NULL);
}

static void stand_in(int sig, siginfo_t *info, void *uctx) {
  struct sigaction dfl, cur;
  int saved = errno;
  if (!atomic_load(&standing_in[sig]) && real_sigaction(sig, NULL, &cur) == 0 &&
      cur.sa_sigaction != stand_in) {
    /* The program installed its handler after this signal was sent: it is the program's. */
    if (cur.sa_flags & SA_SIGINFO) cur.sa_sigaction(sig, info, uctx);
    else if (cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN) cur.sa_handler(sig);
    if (cur.sa_handler != SIG_DFL || (cur.sa_flags & SA_SIGINFO)) return;
  }
  hq__guard++;
  if (hq__state.initialized && getpid() == hq__state.pid &&
      !atomic_load_explicit(&hq__state.finished, memory_order_acquire) &&
      !atomic_exchange(&fatal_written, 1)) {
    hq__writer_flush_fatal(sig);
  }
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  real_sigaction(sig, &dfl, NULL);
  atomic_store(&standing_in[sig], 0);
  /* Blocked while this handler runs: delivered, with its default action, when it returns. */
  syscall(SYS_tgkill, (long)getpid(), (long)syscall(SYS_gettid), (long)sig);
  hq__guard--;
  errno = saved;
}

void hq__signals_start(void) {
  resolve();
  if (!real_sigaction) return;
  for (size_t i = 0; i < HQ_ARRAY_LEN(fatal_signals); i++) {
    int sig = fatal_signals[i];
    struct sigaction cur;
    if (real_sigaction(sig, NULL, &cur) != 0 || !is_default(&cur)) continue; /* the program's */
    if (install_stand_in(sig) == 0) atomic_store(&standing_in[sig], 1);
  }
}

int hq__signal_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  resolve();
  if (!real_sigaction) {
    errno = ENOSYS;
    return -1;
  }
  return real_sigaction(sig, act, old);
}

void hq__signals_fatal_written(void) {
  atomic_store(&fatal_written, 1);
}

/* The program's sigaction: its disposition installed (or the stand-in for its SIG_DFL), and the
 * previous one reported as the program set it. */
static int program_sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  struct sigaction prev;
  int was_standing, rc;
  if (act && is_default(act)) {
    rc = real_sigaction(sig, NULL, &prev);
    if (rc == 0) rc = install_stand_in(sig);
  } else {
    rc = real_sigaction(sig, act, &prev);
  }
  if (rc != 0) return rc;
  was_standing = atomic_load(&standing_in[sig]);
  if (act) atomic_store(&standing_in[sig], is_default(act));
  if (old) {
    *old = prev;
    if (was_standing) { /* what the program last asked for: the default */
      memset(old, 0, sizeof *old);
      old->sa_handler = SIG_DFL;
      sigemptyset(&old->sa_mask);
    }
  }
  return 0;
}

hq_export int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  resolve();
  if (!real_sigaction) {
    errno = ENOSYS;
    return -1;
  }
  if (sig <= 0 || sig >= NSIG || !is_fatal(sig) || !hq__state.initialized)
    return real_sigaction(sig, act, old);
  return program_sigaction(sig, act, old);
}

/* signal() and bsd_signal(): BSD semantics, as glibc gives them (SA_RESTART, sig blocked in its
 * handler); sysv_signal(): one-shot, not blocked. */
static sighandler_t set_handler(int sig, sighandler_t handler, int flags, int block_self) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  if (block_self && sig > 0 && sig < NSIG) sigaddset(&sa.sa_mask, sig);
  if (handler == SIG_ERR || sigaction(sig, &sa, &old) != 0) {
    if (handler == SIG_ERR) errno = EINVAL;
    return SIG_ERR;
  }
  return old.sa_handler;
}

hq_export sighandler_t signal(int sig, sighandler_t handler) {
  return set_handler(sig, handler, SA_RESTART, 1);
}

hq_export sighandler_t bsd_signal(int sig, sighandler_t handler) {
  return set_handler(sig, handler, SA_RESTART, 1);
}

hq_export sighandler_t sysv_signal(int sig, sighandler_t handler) {
  return set_handler(sig, handler, SA_RESETHAND | SA_NODEFER, 0);
}

hq_export sighandler_t sigset(int sig, sighandler_t disp) {
  sigset_t one, before;
  sighandler_t prev;
  resolve();
  if (disp == SIG_HOLD || sig <= 0 || sig >= NSIG || !is_fatal(sig) || !hq__state.initialized) {
    if (!real_sigset) {
      errno = ENOSYS;
      return SIG_ERR;
    }
    return real_sigset(sig, disp);
  }
  /* SysV: install, then unblock sig; a previously blocked sig reads as SIG_HOLD. */
  sigemptyset(&one);
  sigaddset(&one, sig);
  if (sigprocmask(SIG_UNBLOCK, &one, &before) != 0) return SIG_ERR;
  prev = set_handler(sig, disp, 0, 0);
  if (prev != SIG_ERR && sigismember(&before, sig)) prev = SIG_HOLD;
  return prev;
}
