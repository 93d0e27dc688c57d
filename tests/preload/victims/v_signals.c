/*
 * v_signals.c MODE: what a program sees of its signal dispositions, and a program that
 * recovers from SIGSEGV.
 *
 *   view     prints, for each signal, what sigaction(sig, NULL, &old) reports, then what
 *            signal() and sigaction() hand back when the program installs and restores
 *   recover  SIGSEGV handler on an alternate stack (SA_SIGINFO | SA_ONSTACK) that siglongjmps
 *            out: three faults recovered ("recovered 3"); then signal(SIGSEGV, SIG_DFL) (it
 *            must hand back the program's handler: "restored"), 20 blocks of 6001..6020
 *            bytes, and a fault that kills the process by SIGSEGV
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGTRAP, SIGXCPU,
                           SIGXFSZ, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1};

static void on_usr(int sig) { (void)sig; }

static const char *what(const struct sigaction *a) {
  if (a->sa_flags & SA_SIGINFO) return "siginfo-handler";
  if (a->sa_handler == SIG_DFL) return "default";
  if (a->sa_handler == SIG_IGN) return "ignore";
  return a->sa_handler == on_usr ? "on_usr" : "other-handler";
}

static sigjmp_buf back;
static volatile int faults;

static void on_segv(int sig, siginfo_t *info, void *uctx) {
  (void)sig;
  (void)info;
  (void)uctx;
  faults++;
  siglongjmp(back, 1);
}

static void fault(void) {
  volatile int *volatile nothing = NULL;
  *nothing = 1;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "view";
  if (!strcmp(mode, "view")) {
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
      struct sigaction old, sa;
      sighandler_t prev;
      sigaction(sigs[i], NULL, &old);
      printf("%d %s", sigs[i], what(&old));
      prev = signal(sigs[i], on_usr);
      printf(" signal->%s", prev == SIG_DFL ? "default" : prev == SIG_IGN ? "ignore" : "other");
      memset(&sa, 0, sizeof sa);
      sa.sa_handler = SIG_DFL;
      sigaction(sigs[i], &sa, &old);
      printf(" sigaction->%s", what(&old));
      sigaction(sigs[i], NULL, &old);
      printf(" now->%s\n", what(&old));
    }
    return 0;
  }
  {
    static char alt[65536];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
    struct sigaction sa;
    sighandler_t prev;
    void *keep[20];
    sigaltstack(&ss, NULL);
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, NULL);
    for (int i = 0; i < 3; i++)
      if (!sigsetjmp(back, 1)) fault();
    printf("recovered %d\n", faults);
    prev = signal(SIGSEGV, SIG_DFL);
    printf("%s\n", (void *)prev == (void *)on_segv ? "restored" : "lost");
    fflush(stdout);
    for (int i = 0; i < 20; i++) keep[i] = malloc(6001 + (size_t)i);
    (void)keep;
    fault();
    return 0;
  }
}
