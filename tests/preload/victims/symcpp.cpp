/*
 * symcpp.cpp: a known C++ call chain for test_symbolize, built -O0 -g:
 *   main -> ns::run(int) -> ns::Widget<int>::make(unsigned long) -> ns::leaf(unsigned long)
 * Runs without the preload and prints the return address each call left, innermost first, one
 * "ip=<hex> base=<hex>" line each.  Symbolization must give the demangled names.
 */
#include <link.h>
#include <cstddef>
#include <cstdio>

static void *return_addresses[3];

static int main_program_bias(struct dl_phdr_info *info, size_t, void *data) {
  *static_cast<unsigned long *>(data) = static_cast<unsigned long>(info->dlpi_addr);
  return 1;
}

namespace ns {

__attribute__((noinline)) int leaf(std::size_t n) {
  return_addresses[0] = __builtin_return_address(0);
  return static_cast<int>(n) + 1;
}

template <typename T> struct Widget {
  __attribute__((noinline)) static T make(std::size_t n) {
    T r = static_cast<T>(leaf(n)); /* LINE_CALL_LEAF */
    return_addresses[1] = __builtin_return_address(0);
    return r;
  }
};

__attribute__((noinline)) int run(int x) {
  int r = Widget<int>::make(static_cast<std::size_t>(x)); /* LINE_CALL_MAKE */
  return_addresses[2] = __builtin_return_address(0);
  return r;
}

} // namespace ns

int main() {
  unsigned long bias = 0;
  int r = ns::run(5); /* LINE_CALL_RUN */
  dl_iterate_phdr(main_program_bias, &bias);
  for (int i = 0; i < 3; i++)
    std::printf("ip=0x%lx base=0x%lx\n", reinterpret_cast<unsigned long>(return_addresses[i]), bias);
  return r == 6 ? 0 : 1;
}
