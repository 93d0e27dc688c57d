/*
 * v_torture.c MODE: the hard cases for a recorder, one mode each.  Every mode prints the same
 * lines and ends the same way with or without heapql, and its own allocations are blocks of
 * 5000..5999 bytes, so a test can count them (tests/preload/test_preload_torture.c).
 *
 *   threads    64 threads, each creating and joining 8 threads that allocate (5,120 blocks)
 *   handlers   1,000 SIGUSR1s whose handler allocates and frees, while main allocates
 *   forkmt     fork 5 times while 8 threads allocate; each child allocates one block, exits
 *   cancel     8 threads allocating until pthread_cancel stops them
 *   vfork      vfork + execve /bin/true, 5 times
 *   longjmp    longjmp out of a qsort comparator that allocates
 *   dlopen     dlopen/dlclose a library whose constructor allocates, 20 times
 *   closeall   close_range(3, ~0U), then allocate
 *   dup2all    dup2 stdout over every descriptor from 3 to 1023, then allocate
 *   chdir      chdir("/") then allocate (a relative database path still lands where it was)
 *   nofile     RLIMIT_NOFILE lowered to 3 (heapql cannot open anything more), then allocate
 *   fsize      RLIMIT_FSIZE of 64 KiB (heapql's writes fail), then 20,000 allocations
 *   as         RLIMIT_AS 256 MiB above what is mapped now; a 1 GiB malloc fails
 *   churn      200,000 allocations (a full disk is made around it by the test)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIZE(i) (5000 + (size_t)(i) % 1000)

static void *inner(void *arg) {
  for (int i = 0; i < 10; i++) free(malloc(SIZE(i + (int)(intptr_t)arg)));
  return NULL;
}

static void *outer(void *arg) {
  pthread_t th[8];
  for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, inner, arg);
  for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
  return NULL;
}

static volatile sig_atomic_t handled;
static void on_usr1(int sig) {
  (void)sig;
  free(malloc(SIZE(handled)));
  handled++;
}

static volatile int stop;
static void *spin_alloc(void *arg) {
  (void)arg;
  while (!stop) free(malloc(SIZE(7)));
  return NULL;
}

static void *cancel_me(void *arg) {
  (void)arg;
  for (;;) {
    free(malloc(SIZE(3)));
    pthread_testcancel();
  }
  return NULL;
}

static jmp_buf out_of_sort;
static int compares;
static int cmp_then_jump(const void *a, const void *b) {
  free(malloc(SIZE(compares)));
  if (++compares == 50) longjmp(out_of_sort, 1);
  return *(const int *)a - *(const int *)b;
}

static void allocate_some(int n) {
  void *keep[64];
  for (int i = 0; i < n; i++) {
    keep[i % 64] = malloc(SIZE(i));
    if (i % 64 == 63 || i == n - 1)
      for (int k = 0; k <= i % 64; k++) free(keep[k]);
  }
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "threads")) {
    pthread_t th[64];
    for (int i = 0; i < 64; i++) pthread_create(&th[i], NULL, outer, (void *)(intptr_t)i);
    for (int i = 0; i < 64; i++) pthread_join(th[i], NULL);
    printf("threads 64x8\n");
  } else if (!strcmp(mode, "handlers")) {
    signal(SIGUSR1, on_usr1);
    for (int i = 0; i < 1000; i++) {
      void *p = malloc(SIZE(i));
      raise(SIGUSR1);
      free(p);
    }
    printf("handled %d\n", (int)handled);
  } else if (!strcmp(mode, "forkmt")) {
    pthread_t th[8];
    int ok = 0;
    for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, spin_alloc, NULL);
    for (int i = 0; i < 5; i++) {
      pid_t pid = fork();
      int status;
      if (pid == 0) {
        free(malloc(SIZE(999)));
        _exit(0);
      }
      if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status)) ok++;
    }
    stop = 1;
    for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
    printf("forks %d\n", ok);
  } else if (!strcmp(mode, "cancel")) {
    pthread_t th[8];
    struct timespec ms = {0, 10 * 1000 * 1000};
    int cancelled = 0;
    for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, cancel_me, NULL);
    nanosleep(&ms, NULL);
    for (int i = 0; i < 8; i++) {
      void *res;
      pthread_cancel(th[i]);
      pthread_join(th[i], &res);
      cancelled += res == PTHREAD_CANCELED;
    }
    printf("cancelled %d\n", cancelled);
  } else if (!strcmp(mode, "vfork")) {
    int ok = 0;
    for (int i = 0; i < 5; i++) {
      char *args[] = {"/bin/true", NULL};
      int status;
      pid_t pid = vfork();
      if (pid == 0) {
        execve("/bin/true", args, NULL);
        _exit(127);
      }
      if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status)) ok++;
    }
    allocate_some(10);
    printf("vforks %d\n", ok);
  } else if (!strcmp(mode, "longjmp")) {
    int v[200];
    for (int i = 0; i < 200; i++) v[i] = (i * 7919) % 200;
    if (!setjmp(out_of_sort)) qsort(v, 200, sizeof v[0], cmp_then_jump);
    printf("jumped after %d\n", compares);
  } else if (!strcmp(mode, "dlopen")) {
    int ok = 0;
    for (int i = 0; i < 20; i++) {
      void *h = dlopen(argc > 2 ? argv[2] : "libvdl.so", RTLD_NOW | RTLD_LOCAL);
      void *(*make)(void) = h ? (void *(*)(void))dlsym(h, "vdl_make") : NULL;
      if (make) {
        free(make());
        ok++;
      }
      if (h) dlclose(h);
    }
    allocate_some(10);
    printf("dlopened %d\n", ok);
  } else if (!strcmp(mode, "closeall")) {
    close_range(3u, ~0u, 0);
    allocate_some(100);
    printf("closed\n");
  } else if (!strcmp(mode, "dup2all")) {
    fflush(stdout);
    for (int fd = 3; fd < 1024; fd++) dup2(1, fd);
    allocate_some(100);
    printf("dup2 over all\n");
  } else if (!strcmp(mode, "chdir")) {
    if (chdir("/") != 0) return 3;
    allocate_some(100);
    printf("moved\n");
  } else if (!strcmp(mode, "nofile")) {
    struct rlimit rl = {3, 3};
    setrlimit(RLIMIT_NOFILE, &rl);
    allocate_some(100);
    printf("nofile %s\n", fopen("/etc/hostname", "r") ? "opened" : "refused");
  } else if (!strcmp(mode, "fsize")) {
    struct rlimit rl = {64 * 1024, 64 * 1024};
    setrlimit(RLIMIT_FSIZE, &rl);
    allocate_some(20000);
    printf("fsize limited\n");
  } else if (!strcmp(mode, "as")) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f && fscanf(f, "%lu", &pages) != 1) pages = 0;
    if (f) fclose(f);
    struct rlimit rl = {pages * 4096 + (256ul << 20), pages * 4096 + (256ul << 20)};
    setrlimit(RLIMIT_AS, &rl);
    allocate_some(100);
    printf("huge %s\n", malloc(1ul << 30) ? "granted" : "refused");
  } else if (!strcmp(mode, "churn")) {
    allocate_some(200000);
    printf("churned\n");
  } else {
    fprintf(stderr, "v_torture: unknown mode '%s'\n", mode);
    return 2;
  }
  return 0;
}
