/* test_timeline.c: the timeline SVG: series, axes, the peak label, downsampling, pid choice. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq_test.h"
#include "hq_fixture.h"
#include "output/output_int.h"

static char *timeline(hq_db_t *db, const hq_timeline_opts_t *opts, int expect_rc) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  assert_int_equal(hq_timeline_write_svg(db, opts, f), expect_rc);
  fclose(f);
  return buf;
}

/* The points of the polyline of `series`: how many, and the smallest y (the highest value). */
static size_t polyline(const char *svg, const char *series, double *min_y) {
  char key[64];
  const char *p;
  size_t n = 0;
  snprintf(key, sizeof key, "data-series=\"%s\"", series);
  p = strstr(svg, key);
  assert_non_null(p);
  p = strstr(p, "points=\"");
  assert_non_null(p);
  p += 8;
  *min_y = 1e9;
  while (*p && *p != '"') {
    double x, y;
    int used = 0;
    if (sscanf(p, "%lf,%lf%n", &x, &y, &used) != 2) fail_msg("bad points near %.20s", p);
    if (y < *min_y) *min_y = y;
    n++;
    p += used;
    while (*p == ' ') p++;
  }
  return n;
}

static void test_timeline_victim_series_and_peak(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  const char *path = hq_test_join(dir, "t.svg");
  hq_db_t *db = hq_fx_victim(hq_test_join(dir, "v.db"), 1000, 0);
  char *svg = timeline(db, NULL, HQ_OK);
  double min_y;
  FILE *f = fopen(path, "w");
  fputs(svg, f);
  fclose(f);
  hq_fx_xml_ok(path);
  assert_non_null(strstr(svg, ">Memory over time: victim (pid 1000)</text>"));
  assert_non_null(strstr(svg, ">peak heap 1.22 KiB at 0.700 s</text>"));
  assert_non_null(strstr(svg, ">live heap (max 1.22 KiB)</text>"));
  assert_non_null(strstr(svg, ">mmap (max 4.00 KiB)</text>"));
  assert_non_null(strstr(svg, ">RSS (max 21.48 KiB)</text>"));
  assert_null(strstr(svg, "data-series=\"device\""));   /* NULL throughout: not drawn */
  assert_non_null(strstr(svg, ">time (s)</text>"));
  /* heap and mmap (4 KiB) under a quarter of RSS (21.48 KiB): RSS gets an axis of its own */
  assert_non_null(strstr(svg, ">heap, mmap, device (KiB)</text>"));
  assert_non_null(strstr(svg, ">RSS (KiB), its own scale</text>"));
  assert_non_null(strstr(svg, "text-anchor=\"start\" fill=\"#ff7f0e\">20 KiB</text>"));
  assert_non_null(strstr(svg, "text-anchor=\"end\" fill=\"#444\">4 KiB</text>"));
  assert_int_equal(polyline(svg, "live heap", &min_y), 11);
  /* plot from y 70 to 450, left axis up to 4 KiB x 1.08: the 1.22 KiB peak at y 343 */
  assert_true(min_y > 340 && min_y < 346);
  assert_int_equal(polyline(svg, "RSS", &min_y), 11);
  /* RSS's 21.48 KiB at the top of its own axis (x 1.08) */
  assert_true(min_y > 95 && min_y < 101);
  free(svg);
  hq_db_close(db);
}

/* 20000 samples, a sawtooth with one spike: at most max_points points, and the spike kept. */
static void test_timeline_downsamples_keeping_spike(void **state) {
  (void)state;
  hq_db_t *db = hq_fx_create(hq_test_join(hq_test_tmpdir(), "long.db"), 5, "long");
  hq_timeline_opts_t opts = {.max_points = 1000};
  char *svg, cy[64];
  double min_y;
  size_t n;
  hq_fx_exec(db, "BEGIN");
  for (int i = 0; i < 20000; i++)
    hq_fx_sample(db, 5, (int64_t)i * 1000000, i == 12345 ? 1000000 : (i % 100) * 1024, HQ_FX_NULL,
                 HQ_FX_NULL, HQ_FX_NULL);
  hq_fx_exec(db, "COMMIT");
  svg = timeline(db, &opts, HQ_OK);
  n = polyline(svg, "live heap", &min_y);
  assert_true(n <= 1000);
  assert_true(n >= 900);
  assert_non_null(strstr(svg, ">peak heap 976.56 KiB at 12.345 s</text>"));
  /* The highest point drawn is the peak marker's. */
  snprintf(cy, sizeof cy, "cy=\"%.1f\"", min_y);
  assert_non_null(strstr(svg, cy));
  assert_null(strstr(svg, "data-series=\"RSS\""));
  free(svg);
  hq_db_close(db);
}

static void test_timeline_chooses_process(void **state) {
  (void)state;
  hq_db_t *db = hq_fx_create(hq_test_join(hq_test_tmpdir(), "two.db"), 2, "two");
  hq_timeline_opts_t opts = {0};
  char *svg;
  hq_fx_meta(db, "processes", 2);
  for (int i = 0; i < 5; i++) {
    hq_fx_sample(db, 1, HQ_FX_T(i), 100 * i, HQ_FX_NULL, HQ_FX_NULL, HQ_FX_NULL);
    hq_fx_sample(db, 2, HQ_FX_T(i), 2048 * i, HQ_FX_NULL, 4096, HQ_FX_NULL);
  }
  svg = timeline(db, &opts, HQ_OK);   /* meta pid 2 */
  assert_non_null(strstr(svg, "two (pid 2)"));
  assert_non_null(strstr(svg, "one of 2 processes"));
  assert_non_null(strstr(svg, ">peak heap 8.00 KiB at 0.040 s</text>"));
  assert_non_null(strstr(svg, ">device (max 4.00 KiB)</text>"));
  assert_non_null(strstr(svg, ">peak device 4.00 KiB at 0.000 s</text>"));
  assert_non_null(strstr(svg, ">time (ms)</text>"));
  free(svg);
  opts.pid = 1;
  svg = timeline(db, &opts, HQ_OK);
  assert_non_null(strstr(svg, "two (pid 1)"));
  assert_non_null(strstr(svg, ">peak heap 400 B at 0.040 s</text>"));
  free(svg);
  opts.pid = 3;
  free(timeline(db, &opts, HQ_ENOENT));
  assert_non_null(strstr(hq_db_errmsg(db), "no samples for pid 3"));
  hq_db_close(db);
}

static void test_timeline_without_samples(void **state) {
  (void)state;
  const char *path = hq_test_join(hq_test_tmpdir(), "empty.svg");
  hq_db_t *db = hq_fx_create(hq_test_join(hq_test_tmpdir(), "empty.db"), 3, "empty");
  char *svg = timeline(db, NULL, HQ_OK);
  FILE *f = fopen(path, "w");
  fputs(svg, f);
  fclose(f);
  hq_fx_xml_ok(path);
  assert_non_null(strstr(svg, "no samples recorded in this database"));
  free(svg);
  hq_db_close(db);
}

static void test_timeline_cli(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  char *db = strdup(hq_test_join(dir, "v.db"));
  char *out = strdup(hq_test_join(dir, "t.svg"));
  char *junk = strdup(hq_test_join(dir, "foreign.db"));
  hq_test_proc_t p;
  char *svg;
  sqlite3 *s;
  int files;

  hq_db_close(hq_fx_victim(db, 1000, 0));
  p = hq_fx_cli((char *[]){"timeline", db, "-o", out, NULL});
  assert_int_equal(p.exit_status, 0);
  assert_string_equal(p.err, "");
  hq_test_proc_free(&p);
  svg = hq_test_read_file(out, NULL);
  assert_non_null(strstr(svg, "peak heap 1.22 KiB at 0.700 s"));

  files = hq_test_count_files(dir);
  p = hq_fx_cli((char *[]){"timeline", db, "--pid", "99", "-o", out, NULL});
  hq_fx_assert_one_line(&p, 2, "no samples for pid 99");
  hq_test_proc_free(&p);
  /* A failed write leaves no half-written picture: the complete one from before stays, byte
   * for byte, and nothing else is left in its directory. */
  {
    char *again = hq_test_read_file(out, NULL);
    assert_non_null(again);
    assert_string_equal(again, svg);
    free(again);
    assert_int_equal(hq_test_count_files(dir), files);
  }
  free(svg);
  p = hq_fx_cli((char *[]){"timeline", db, "--width", "wide", NULL});
  hq_fx_assert_one_line(&p, 2, "bad --width 'wide'");
  hq_test_proc_free(&p);
  p = hq_fx_cli((char *[]){"timeline", db, "-o", "/nonexistent-dir/t.svg", NULL});
  hq_fx_assert_one_line(&p, 2, "cannot write");
  hq_test_proc_free(&p);
  assert_int_equal(sqlite3_open(junk, &s), SQLITE_OK);
  assert_int_equal(sqlite3_exec(s, "CREATE TABLE samples(t)", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(s);
  p = hq_fx_cli((char *[]){"timeline", junk, NULL});
  hq_fx_assert_one_line(&p, 2, "not a heapql one");
  hq_test_proc_free(&p);
  free(db);
  free(out);
  free(junk);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_timeline_victim_series_and_peak),
    cmocka_unit_test(test_timeline_downsamples_keeping_spike),
    cmocka_unit_test(test_timeline_chooses_process),
    cmocka_unit_test(test_timeline_without_samples),
    cmocka_unit_test(test_timeline_cli),
  };
  return cmocka_run_group_tests_name("timeline", tests, NULL, NULL);
}
