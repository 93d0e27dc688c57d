/*
 * symchain_O2.c: a known call chain with an inlined function for test_symbolize, built -O2 -g:
 *   main -> level1 -> level2 -> [helper, always inlined into level2] -> leaf
 * Runs without the preload.  Each out-of-line function records the return address its call
 * left, and main prints them innermost first, one "ip=<hex> base=<hex>" line each.  The return
 * address into level2 lies in helper's inlined code, so symbolization must give two frames for
 * it: helper at LINE_CALL_LEAF, inlined into level2 at LINE_CALL_HELPER.
 */
#define _GNU_SOURCE
#include <link.h>
#include <stdio.h>

static void *return_addresses[3];
static volatile int sink; /* keeps every call a real call, never a tail call */

static int main_program_bias(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  *(unsigned long *)data = (unsigned long)info->dlpi_addr;
  return 1;
}

__attribute__((noinline, noclone)) int leaf(int x) {
  return_addresses[0] = __builtin_return_address(0);
  sink = x;
  return x + 1;
}

static inline __attribute__((always_inline)) int helper(int x) {
  int r = leaf(x * 3); /* LINE_CALL_LEAF */
  sink = r;
  return r + sink;
}

__attribute__((noinline, noclone)) int level2(int x) {
  int r = helper(x + 1); /* LINE_CALL_HELPER */
  return_addresses[1] = __builtin_return_address(0);
  sink = r;
  return r * 2;
}

__attribute__((noinline, noclone)) int level1(int x) {
  int r = level2(x); /* LINE_CALL_LEVEL2 */
  return_addresses[2] = __builtin_return_address(0);
  sink = r;
  return r + 3;
}

int main(int argc, char **argv) {
  unsigned long bias = 0;
  int r;
  (void)argv;
  r = level1(argc + 3); /* LINE_CALL_LEVEL1 */
  dl_iterate_phdr(main_program_bias, &bias);
  for (int i = 0; i < 3; i++)
    printf("ip=0x%lx base=0x%lx\n", (unsigned long)return_addresses[i], bias);
  return r == 67 ? 0 : 1;
}
