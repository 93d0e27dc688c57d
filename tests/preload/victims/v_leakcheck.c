/*
 * v_leakcheck.c: heap blocks of a known leak structure at exit, for the leak check against
 * memcheck (tests/preload/test_preload_leakcheck.c).  Every block is made by a function of this
 * file, so a test can tell them from the C library's.
 *
 *   list      a list of 4 whose head pointer is overwritten: 1 definitely, 3 indirectly lost
 *   tree      a tree of 7 reachable only from a lost root: 1 definitely, 6 indirectly lost
 *   interior  a block held only through a pointer 16 bytes in: possibly lost
 *   global    a block held by a global: still reachable
 *   tls       a block held by a thread-local of main: still reachable
 *   running   a block held only by the stack of a thread still running at exit: reachable
 *   freed     blocks freed by another thread than the one that made them: not leaked
 *   heuristics  blocks held only through interior pointers that memcheck's stdstring, length64
 *             and newarray heuristics accept: still reachable
 *   plain     a block whose pointer was dropped: definitely lost
 * Stale copies of the pointers are wiped from the stack before main returns, as memcheck's own
 * tests do.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct node { struct node *next; char pad[40]; };
struct tree { struct tree *left, *right; char pad[16]; };

void *global_keep;
char *interior_keep;
char *heuristic_keep[3];
__thread void *tls_keep;
static pthread_mutex_t running_up = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) static void make_list(void) {
  struct node *head = NULL;
  for (int i = 0; i < 4; i++) {
    struct node *n = calloc(1, sizeof *n);
    n->next = head;
    head = n;
  }
  head = NULL;
}

__attribute__((noinline)) static struct tree *make_tree(int depth) {
  struct tree *t = calloc(1, sizeof *t);
  if (depth > 1) {
    t->left = make_tree(depth - 1);
    t->right = make_tree(depth - 1);
  }
  return t;
}

__attribute__((noinline)) static void lose_tree(void) {
  volatile struct tree *root = make_tree(3);
  root = NULL;
  (void)root;
}

__attribute__((noinline)) static void make_interior(void) {
  char *p = malloc(2000);
  interior_keep = p + 16;
}

__attribute__((noinline)) static void make_global(void) {
  global_keep = malloc(1000);
}

__attribute__((noinline)) static void make_tls(void) {
  tls_keep = malloc(1100);
}

static void *run_forever(void *arg) {
  volatile char *held = malloc(1200);
  held[0] = 1;
  (void)arg;
  pthread_mutex_unlock(&running_up);
  for (;;) pause();
  return (void *)held;
}

static void *free_it(void *arg) {
  free(arg);
  return NULL;
}

__attribute__((noinline)) static void make_freed_elsewhere(void) {
  for (int i = 0; i < 3; i++) {
    pthread_t th;
    void *p = malloc(1300);
    pthread_create(&th, NULL, free_it, p);
    pthread_join(th, NULL);
  }
}

__attribute__((noinline)) static void make_heuristics(void) {
  /* std::string's old layout: length, capacity, refcount, then the characters and a NUL */
  uint64_t *s = malloc(24 + 40 + 1);
  s[0] = 10;
  s[1] = 40;
  s[2] = 0;
  heuristic_keep[0] = (char *)s + 24;
  /* length64: the first word is the rest's length */
  uint64_t *l = malloc(8 + 504);
  l[0] = 504;
  heuristic_keep[1] = (char *)l + 8;
  /* new[] of objects with a destructor: the count, then 12 elements of 24 bytes */
  uint64_t *a = malloc(8 + 12 * 24);
  a[0] = 12;
  heuristic_keep[2] = (char *)a + 8;
}

__attribute__((noinline)) static void make_plain(void) {
  volatile void *p = malloc(3000);
  p = NULL;
  (void)p;
}

/* Overwrite the stack below the caller, where the calls above left copies of their pointers. */
__attribute__((noinline)) static void wipe_stack(void) {
  volatile char junk[64 * 1024];
  memset((char *)junk, 0, sizeof junk);
}

int main(void) {
  pthread_t th;
  make_list();
  lose_tree();
  make_interior();
  make_global();
  make_tls();
  make_freed_elsewhere();
  make_heuristics();
  make_plain();
  pthread_mutex_lock(&running_up);
  pthread_create(&th, NULL, run_forever, NULL);
  pthread_mutex_lock(&running_up); /* the thread holds its block now */
  wipe_stack();
  return 0;
}
