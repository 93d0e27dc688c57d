/*
 * v_glib.c: allocations through glib's g_malloc family, each from a known line (the site a
 * report must name, not g_malloc).  Every block is leaked.  Line numbers are asserted by
 * tests/preload/test_preload_sites.c.
 */
#include <glib.h>

static gpointer keep[3];

__attribute__((noinline)) void make_table(void) {
  keep[0] = g_malloc(12000);                                  /* line 11: g_malloc */
}

__attribute__((noinline)) void make_name(void) {
  keep[1] = g_strdup("a glib string long enough to notice");  /* line 15: g_strdup */
}

__attribute__((noinline)) void make_zeroed(void) {
  keep[2] = g_malloc0_n(100, 33);                             /* line 19: g_malloc0_n */
}

int main(void) {
  make_table();
  make_name();
  make_zeroed();
  return 0;
}
