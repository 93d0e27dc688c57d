/* v_chain.c: main -> level_a -> level_b -> level_c -> malloc(12345).  Prints (after the
 * allocation) the module-relative addresses the stack must contain, for the test to check:
 *   "start_c=<hex> ra_c=<hex> ra_b=<hex> ra_a=<hex>"
 * start_c: where level_c begins (frame 0 lies just after it); ra_x: return address of level_x,
 * which is frame 1, 2, 3 of the recorded stack. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uintptr_t ra_a, ra_b, ra_c;

__attribute__((noinline)) void *level_c(void) {
  void *p = malloc(12345);
  ra_c = (uintptr_t)__builtin_return_address(0);
  return p;
}
__attribute__((noinline)) void *level_b(void) {
  void *p = level_c();
  ra_b = (uintptr_t)__builtin_return_address(0);
  return p;
}
__attribute__((noinline)) void *level_a(void) {
  void *p = level_b();
  ra_a = (uintptr_t)__builtin_return_address(0);
  return p;
}

int main(void) {
  Dl_info info;
  uintptr_t base;
  void *p = level_a();
  if (!dladdr((void *)level_c, &info)) return 1;
  base = (uintptr_t)info.dli_fbase;
  printf("start_c=%lx ra_c=%lx ra_b=%lx ra_a=%lx\n", (unsigned long)((uintptr_t)level_c - base),
         (unsigned long)(ra_c - base), (unsigned long)(ra_b - base), (unsigned long)(ra_a - base));
  free(p);
  return 0;
}
