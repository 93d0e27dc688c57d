/*
 * symchain.c: a known call chain for test_symbolize, built -O0 -g:
 *   main -> level1 -> level2 -> leaf
 * Runs without the preload.  Each function records the return address its call left, and main
 * prints them innermost first, one "ip=<hex> base=<hex>" line each (base: the program's load
 * bias, as the recorder stores it).  The lines marked LINE_* are the calls the test expects
 * symbolization to name.
 */
#define _GNU_SOURCE
#include <link.h>
#include <stdio.h>

static void *return_addresses[3];

static int main_program_bias(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  *(unsigned long *)data = (unsigned long)info->dlpi_addr;
  return 1; /* the first entry is the main program */
}

__attribute__((noinline)) int leaf(int x) {
  return_addresses[0] = __builtin_return_address(0);
  return x + 1;
}

__attribute__((noinline)) int level2(int x) {
  int r = leaf(x); /* LINE_CALL_LEAF */
  return_addresses[1] = __builtin_return_address(0);
  return r * 2;
}

__attribute__((noinline)) int level1(int x) {
  int r = level2(x); /* LINE_CALL_LEVEL2 */
  return_addresses[2] = __builtin_return_address(0);
  return r + 3;
}

int main(void) {
  unsigned long bias = 0;
  int r = level1(4); /* LINE_CALL_LEVEL1 */
  dl_iterate_phdr(main_program_bias, &bias);
  for (int i = 0; i < 3; i++)
    printf("ip=0x%lx base=0x%lx\n", (unsigned long)return_addresses[i], bias);
  return r == 13 ? 0 : 1;
}
