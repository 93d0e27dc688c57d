// v_cpp.cpp: every operator new/delete form, and two mismatches:
//   new int[10] released with delete (not delete[]), malloc(48) released with delete.
// Leaks: one new(std::nothrow) char[100] block (100 bytes).
#include <cstdlib>
#include <new>

struct alignas(64) Wide { char b[128]; };

int main() {
  int *one = new int(5);                       // new, 4
  delete one;                                  // delete
  int *arr = new int[10];                      // new[], 40
  delete[] arr;                                // delete[]
  Wide *w = new Wide;                          // new (aligned), 128
  delete w;
  Wide *ws = new Wide[2];                      // new[] (aligned), 256
  delete[] ws;
  char *nt = new (std::nothrow) char[100];     // new[] nothrow: leaked
  int *bad = new int[10];                      // new[], released with delete: mismatch
  ::operator delete(bad);
  void *m = std::malloc(48);                   // malloc, released with delete: mismatch
  ::operator delete(m);
  (void)nt;
  return 0;
}
