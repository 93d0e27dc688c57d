// v_wrappers.cpp: allocations that go through allocation wrappers, each called from a known
// line of a known function (the site a report must name).  Every block is leaked, so the
// leaks report names the same sites.  Line numbers are asserted by tests/preload/test_preload_sites.c.
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

extern "C" __attribute__((noinline)) void *my_alloc(size_t n) { return malloc(n); } // a project's own wrapper

static std::vector<int> *vec;
static std::string *str;
static std::map<std::string, int> *words;
static void *keep[4];

__attribute__((noinline)) void fill_vector(void) {
  vec = new std::vector<int>;
  for (int i = 0; i < 1000; i++) vec->push_back(i);              // line 19: vector growth
}

__attribute__((noinline)) void grow_string(void) {
  str = new std::string;
  for (int i = 0; i < 300; i++) str->append("abcdefghij");        // line 24: string growth
}

__attribute__((noinline)) void dup_names(void) {
  keep[0] = strdup("a name that is long enough to be its own block"); // line 28: strdup
}

__attribute__((noinline)) void use_my_alloc(void) {
  keep[1] = my_alloc(7000);                                          // line 32: my_alloc
}

__attribute__((noinline)) void count_words(void) {
  words = new std::map<std::string, int>;
  for (int i = 0; i < 50; i++)
    (*words)[std::string("a word long enough for the heap #") + std::to_string(i)]++; // line 38
}

int main(void) {
  fill_vector();
  grow_string();
  dup_names();
  use_my_alloc();
  count_words();
  return 0;
}
