/* test_flame.c: folded lines and SVG flame graphs of hand-built databases; the CLI's errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hq_test.h"
#include "hq_fixture.h"
#include "output/output_int.h"

static const char *folded(hq_db_t *db, int metric, const char *kind_class) {
  static char *buf;
  size_t len = 0;
  FILE *f;
  hq_flame_opts_t opts = {.metric = metric, .kind_class = kind_class};
  free(buf);
  buf = NULL;
  f = open_memstream(&buf, &len);
  assert_non_null(f);
  assert_int_equal(hq_flame_write_folded(db, &opts, f), HQ_OK);
  fclose(f);
  return buf;
}

static void test_flame_folded_allocated(void **state) {
  (void)state;
  hq_db_t *db = hq_fx_victim(hq_test_join(hq_test_tmpdir(), "v.db"), 1000, 0);
  assert_string_equal(folded(db, HQ_FLAME_ALLOCATED, NULL),
                      "[no stack] 8\n"
                      "main (victim.c:40);libfoo.so+0x1234 1000\n"
                      "main (victim.c:40);work (victim.c:20) 100\n"
                      "main (victim.c:40);work (victim.c:20);leaky (victim.c:12) 500\n"
                      "main (victim.c:40);work (victim.c:25);inner_helper (util.h:7) 50\n");
  hq_db_close(db);
}

static void test_flame_folded_leaked_peak_count(void **state) {
  (void)state;
  hq_db_t *db = hq_fx_victim(hq_test_join(hq_test_tmpdir(), "v.db"), 1000, 0);
  assert_string_equal(folded(db, HQ_FLAME_LEAKED, "heap"),
                      "main (victim.c:40);work (victim.c:20);leaky (victim.c:12) 200\n"
                      "main (victim.c:40);work (victim.c:25);inner_helper (util.h:7) 50\n");
  /* Live at T(70): leaky's 200 (the 300 was freed at T(50)), libfoo's 1000, the 50 born then. */
  assert_string_equal(folded(db, HQ_FLAME_PEAK, "heap"),
                      "main (victim.c:40);libfoo.so+0x1234 1000\n"
                      "main (victim.c:40);work (victim.c:20);leaky (victim.c:12) 200\n"
                      "main (victim.c:40);work (victim.c:25);inner_helper (util.h:7) 50\n");
  assert_string_equal(folded(db, HQ_FLAME_COUNT, "heap"),
                      "[no stack] 1\n"
                      "main (victim.c:40);libfoo.so+0x1234 1\n"
                      "main (victim.c:40);work (victim.c:20) 1\n"
                      "main (victim.c:40);work (victim.c:20);leaky (victim.c:12) 2\n"
                      "main (victim.c:40);work (victim.c:25);inner_helper (util.h:7) 1\n");
  assert_string_equal(folded(db, HQ_FLAME_ALLOCATED, "mmap"), "main (victim.c:40);work (victim.c:20) 4096\n");
  hq_db_close(db);
}

/* Without meta peak_heap_t (or for other classes) the moment of peak is found by a sweep. */
static void test_flame_peak_without_meta(void **state) {
  (void)state;
  hq_db_t *db = hq_fx_victim(hq_test_join(hq_test_tmpdir(), "v.db"), 1000, 0);
  hq_fx_exec(db, "DELETE FROM meta WHERE key LIKE 'peak_heap%%'");
  assert_string_equal(folded(db, HQ_FLAME_PEAK, "heap"),
                      "main (victim.c:40);libfoo.so+0x1234 1000\n"
                      "main (victim.c:40);work (victim.c:20);leaky (victim.c:12) 200\n"
                      "main (victim.c:40);work (victim.c:25);inner_helper (util.h:7) 50\n");
  hq_db_close(db);
}

static void test_flame_svg_parses_with_sites(void **state) {
  (void)state;
  const char *path = hq_test_join(hq_test_tmpdir(), "flame.svg");
  hq_db_t *db = hq_fx_victim(hq_test_join(hq_test_tmpdir(), "v.db"), 1000, 0);
  hq_flame_opts_t opts = {.metric = HQ_FLAME_ALLOCATED};
  FILE *f = fopen(path, "w");
  char *svg;
  assert_int_equal(hq_flame_write_svg(db, &opts, f), HQ_OK);
  fclose(f);
  hq_db_close(db);
  hq_fx_xml_ok(path);
  svg = hq_test_read_file(path, NULL);
  assert_non_null(strstr(svg, "data-n=\"leaky (victim.c:12)\""));
  assert_non_null(strstr(svg, "data-n=\"libfoo.so+0x1234\""));
  assert_non_null(strstr(svg, "data-n=\"inner_helper (util.h:7)\""));
  assert_non_null(strstr(svg, "data-n=\"work (victim.c:25)\""));
  assert_non_null(strstr(svg, "total 1.62 KiB, 1658 bytes"));
  assert_non_null(strstr(svg, "hqFlameInit(document.documentElement)"));
  /* all, [no stack], main, libfoo, work:20, leaky, work:25, inner_helper */
  assert_int_equal(hq_fx_count(svg, "<g class=\"f\""), 8);
  free(svg);
}

/* 500 stacks of 100 B beside one of 1 MB: too thin to draw, merged into one box. */
static void test_flame_svg_merges_small_frames(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  hq_db_t *db = hq_fx_create(hq_test_join(dir, "many.db"), 7, "many");
  int64_t m = hq_fx_module(db, 7, "/bin/many", 0x1000, 0x100000);
  int64_t s_main = hq_fx_stack(db, 0, hq_fx_frame(db, m, 0x1100, "main", "m.c", 1, 0, 0));
  char name[32];
  char *buf = NULL;
  size_t len = 0;
  FILE *f;
  hq_fx_exec(db, "BEGIN");
  hq_fx_alloc(db, 7, "malloc", 1000000, hq_fx_stack(db, s_main, hq_fx_frame(db, m, 0x1200, "big", "m.c", 2, 0, 0)), 1, HQ_FX_NULL, NULL);
  for (int i = 0; i < 500; i++) {
    snprintf(name, sizeof name, "small_%03d", i);
    hq_fx_alloc(db, 7, "malloc", 100,
                hq_fx_stack(db, s_main, hq_fx_frame(db, m, 0x2000 + i, name, "m.c", 3, 0, 0)),
                2 + i, HQ_FX_NULL, NULL);
  }
  hq_fx_exec(db, "COMMIT");
  f = open_memstream(&buf, &len);
  assert_int_equal(hq_flame_write_svg(db, NULL, f), HQ_OK);
  fclose(f);
  assert_int_equal(hq_fx_count(buf, "<g class=\"f\""), 4); /* all, main, big, the merged box */
  assert_non_null(strstr(buf, "data-n=\"[500 small frames]\""));
  assert_null(strstr(buf, "small_000"));
  free(buf);
  /* The folded format is data for other tools: nothing merged there. */
  f = open_memstream(&buf, &len);
  assert_int_equal(hq_flame_write_folded(db, NULL, f), HQ_OK);
  fclose(f);
  assert_int_equal(hq_fx_count(buf, "\n"), 501);
  assert_non_null(strstr(buf, "main (m.c:1);small_499 (m.c:3) 100\n"));
  free(buf);
  hq_db_close(db);
}

/* 1000 equal stacks, each exactly at the width threshold, with a budget of 100 boxes. */
static void test_flame_svg_caps_boxes(void **state) {
  (void)state;
  hq_db_t *db = hq_fx_create(hq_test_join(hq_test_tmpdir(), "wide.db"), 8, "wide");
  int64_t m = hq_fx_module(db, 8, "/bin/wide", 0x1000, 0x100000);
  int64_t s_main = hq_fx_stack(db, 0, hq_fx_frame(db, m, 0x1100, "main", "w.c", 1, 0, 0));
  hq_flame_opts_t opts = {.metric = HQ_FLAME_ALLOCATED, .max_nodes = 100};
  char name[32], *buf = NULL;
  size_t len = 0;
  FILE *f;
  hq_fx_exec(db, "BEGIN");
  for (int i = 0; i < 1000; i++) {
    snprintf(name, sizeof name, "f%04d", i);
    hq_fx_alloc(db, 8, "malloc", 1000,
                hq_fx_stack(db, s_main, hq_fx_frame(db, m, 0x2000 + i, name, "w.c", 2, 0, 0)),
                i, HQ_FX_NULL, NULL);
  }
  hq_fx_exec(db, "COMMIT");
  f = open_memstream(&buf, &len);
  assert_int_equal(hq_flame_write_svg(db, NULL, f), HQ_OK);
  fclose(f);
  assert_int_equal(hq_fx_count(buf, "<g class=\"f\""), 1002); /* default budget: all drawn */
  free(buf);
  buf = NULL;
  f = open_memstream(&buf, &len);
  assert_int_equal(hq_flame_write_svg(db, &opts, f), HQ_OK);
  fclose(f);
  assert_int_equal(hq_fx_count(buf, "<g class=\"f\""), 3);
  assert_non_null(strstr(buf, "data-n=\"[1000 small frames]\""));
  free(buf);
  hq_db_close(db);
}

static void test_flame_bad_options(void **state) {
  (void)state;
  hq_db_t *db = hq_fx_victim(hq_test_join(hq_test_tmpdir(), "v.db"), 1000, 0);
  hq_flame_opts_t opts = {.metric = 9};
  assert_int_equal(hq_flame_write_folded(db, &opts, stdout), HQ_EINVAL);
  opts.metric = HQ_FLAME_ALLOCATED;
  opts.kind_class = "heap'; DROP TABLE allocations; --";
  assert_int_equal(hq_flame_write_svg(db, &opts, stdout), HQ_EINVAL);
  assert_non_null(strstr(hq_db_errmsg(db), "unknown allocation class"));
  hq_db_close(db);
}

/* ---- through the CLI ---- */

static void test_flame_cli_folded_and_errors(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  char *db = strdup(hq_test_join(dir, "v.db"));
  char *out = strdup(hq_test_join(dir, "x.folded"));
  char *junk = strdup(hq_test_join(dir, "junk.db"));
  hq_test_proc_t p;
  char *text;
  FILE *f;

  hq_db_close(hq_fx_victim(db, 1000, 0));
  p = hq_fx_cli((char *[]){"flamegraph", db, "--metric", "leaked", "--folded", NULL});
  assert_int_equal(p.exit_status, 0);
  assert_string_equal(p.out, "main (victim.c:40);work (victim.c:20);leaky (victim.c:12) 200\n"
                             "main (victim.c:40);work (victim.c:25);inner_helper (util.h:7) 50\n");
  assert_string_equal(p.err, "");
  hq_test_proc_free(&p);

  p = hq_fx_cli((char *[]){"flamegraph", db, "--metric=peak", "-o", out, NULL});
  assert_int_equal(p.exit_status, 0);
  hq_test_proc_free(&p);
  /* Every line parses the way speedscope and flamegraph.pl read folded stacks. */
  text = hq_fx_python("import re,sys; m=[re.match(r'^(.*) (\\d+)$', l) for l in open(sys.argv[1])];"
                      "print(all(m), len(m), sum(int(x.group(2)) for x in m),"
                      " sorted({f for x in m for f in x.group(1).split(';')})[0])", out);
  assert_string_equal(text, "True 3 1250 inner_helper (util.h:7)\n");
  free(text);
  text = hq_test_read_file(out, NULL);
  assert_string_equal(text, "main (victim.c:40);libfoo.so+0x1234 1000\n"
                            "main (victim.c:40);work (victim.c:20);leaky (victim.c:12) 200\n"
                            "main (victim.c:40);work (victim.c:25);inner_helper (util.h:7) 50\n");
  free(text);

  p = hq_fx_cli((char *[]){"flamegraph", db, "--metric", "freed", NULL});
  hq_fx_assert_one_line(&p, 2, "unknown metric 'freed'");
  hq_test_proc_free(&p);
  p = hq_fx_cli((char *[]){"flamegraph", db, "--class", "gpu", NULL});
  hq_fx_assert_one_line(&p, 2, "unknown class 'gpu'");
  hq_test_proc_free(&p);
  p = hq_fx_cli((char *[]){"flamegraph", db, "-o", "/nonexistent-dir/x.svg", NULL});
  hq_fx_assert_one_line(&p, 2, "/nonexistent-dir/x.svg: cannot write");
  hq_test_proc_free(&p);
  p = hq_fx_cli((char *[]){"flamegraph", db, "--metric", NULL});
  hq_fx_assert_one_line(&p, 2, "needs a value");
  hq_test_proc_free(&p);

  f = fopen(junk, "w");
  fputs("not a database, only words, long enough to look like a header to nobody\n", f);
  fclose(f);
  p = hq_fx_cli((char *[]){"flamegraph", junk, "-o", out, NULL});
  hq_fx_assert_one_line(&p, 2, "not a SQLite database");
  hq_test_proc_free(&p);
  p = hq_fx_cli((char *[]){"flamegraph", NULL});
  hq_fx_assert_one_line(&p, 2, "no database given");
  hq_test_proc_free(&p);
  free(db);
  free(out);
  free(junk);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_flame_folded_allocated),
    cmocka_unit_test(test_flame_folded_leaked_peak_count),
    cmocka_unit_test(test_flame_peak_without_meta),
    cmocka_unit_test(test_flame_svg_parses_with_sites),
    cmocka_unit_test(test_flame_svg_merges_small_frames),
    cmocka_unit_test(test_flame_svg_caps_boxes),
    cmocka_unit_test(test_flame_bad_options),
    cmocka_unit_test(test_flame_cli_folded_and_errors),
  };
  return cmocka_run_group_tests_name("flame", tests, NULL, NULL);
}
