/* test_diff.c: two runs site by site (matched by names, not addresses or lines); compare. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq_test.h"
#include "hq_json_flat.h"
#include "hq_fixture.h"
#include "output/output_int.h"

typedef struct {
  char *base, *new_, *same;
} paths_t;

static int setup(void **state) {
  const char *dir = hq_test_tmpdir();
  paths_t *p = calloc(1, sizeof *p);
  p->base = strdup(hq_test_join(dir, "base.db"));
  p->new_ = strdup(hq_test_join(dir, "new.db"));
  p->same = strdup(hq_test_join(dir, "same.db"));
  hq_db_close(hq_fx_victim(p->base, 1000, 0));
  hq_db_close(hq_fx_victim(p->new_, 2000, 1));
  hq_db_close(hq_fx_victim(p->same, 3000, 0));
  *state = p;
  return 0;
}

static int teardown(void **state) {
  paths_t *p = *state;
  free(p->base);
  free(p->new_);
  free(p->same);
  free(p);
  return 0;
}

static char *run_diff(const char *a, const char *b, const hq_diff_opts_t *opts,
                      hq_diff_result_t *r) {
  hq_db_t *x = NULL, *y = NULL;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_int_equal(hq_db_open(a, HQ_DB_READONLY, &x), HQ_OK);
  assert_int_equal(hq_db_open(b, HQ_DB_READONLY, &y), HQ_OK);
  assert_int_equal(hq_diff(x, y, opts, f, r), HQ_OK);
  fclose(f);
  hq_db_close(x);
  hq_db_close(y);
  return buf;
}

static void test_diff_new_leak_and_grown_sites(void **state) {
  paths_t *p = *state;
  hq_diff_opts_t opts = {.fail_on = HQ_DIFF_FAIL_NEW_LEAKS | HQ_DIFF_FAIL_PEAK_GROWTH,
                         .peak_growth_pct = 100};
  hq_diff_result_t r;
  char *text = run_diff(p->base, p->new_, &opts, &r);
  assert_int_equal(r.new_leak_sites, 1);
  assert_int_equal(r.new_leak_bytes, 64);
  assert_int_equal(r.grown_leak_sites, 0);
  assert_int_equal(r.fixed_leak_sites, 0);
  assert_int_equal(r.grown_peak_sites, 2);      /* libfoo 1000 -> 2000, leak2 0 -> 64 */
  assert_int_equal(r.changed_count_sites, 2);   /* work 1 -> 3 calls, leak2 0 -> 1 */
  assert_int_equal(r.leaked_bytes_base, 250);
  assert_int_equal(r.leaked_bytes_new, 314);
  assert_int_equal(r.peak_bytes_base, 1250);
  assert_int_equal(r.peak_bytes_new, 2314);
  assert_int_equal(r.failed, HQ_DIFF_FAIL_NEW_LEAKS); /* 2314 <= 1250 * 2 */
  /* Sites matched although every address moved and victim.c's lines shifted by one. */
  assert_non_null(strstr(text, "\nnew leaks: 1 site\n  +64 B in 1 block\n"
                               "      leak2 (victim.c:60) <- work (victim.c:21) <- main (victim.c:41)\n"));
  assert_non_null(strstr(text, "\ngrown peak contributors: 2 sites\n"
                               "  1000 B -> 1.95 KiB live at peak\n"
                               "      libfoo.so+0x1234 <- main (victim.c:41)\n"
                               "  0 B -> 64 B live at peak\n"));
  assert_non_null(strstr(text, "\nchanged allocation counts: 2 sites\n  +2 calls (1 -> 3)\n"
                               "      work (victim.c:21) <- main (victim.c:41)\n"));
  assert_non_null(strstr(text, "\ngrown leaks: 0 sites\n"));
  assert_non_null(strstr(text, "fail-on new-leaks: FAILED (1 new leak site)\n"));
  assert_non_null(strstr(text, "fail-on peak-growth: ok (peak bytes 1250 -> 2314, limit +100%)\n"));
  free(text);
}

static void test_diff_reversed_finds_fixed_leak(void **state) {
  paths_t *p = *state;
  hq_diff_opts_t opts = {.fail_on = HQ_DIFF_FAIL_NEW_LEAKS | HQ_DIFF_FAIL_LEAK_GROWTH};
  hq_diff_result_t r;
  char *text = run_diff(p->new_, p->base, &opts, &r);
  assert_int_equal(r.new_leak_sites, 0);
  assert_int_equal(r.fixed_leak_sites, 1);
  assert_int_equal(r.grown_peak_sites, 0);
  assert_int_equal(r.failed, 0);
  assert_non_null(strstr(text, "\nfixed leaks: 1 site\n  64 B -> 0 B (1 -> 0 blocks)\n"
                               "      leak2 (victim.c:60) <- work (victim.c:21) <- main (victim.c:41)\n"));
  free(text);
}

static void test_diff_same_program_has_no_changes(void **state) {
  paths_t *p = *state;
  hq_diff_result_t r;
  char *text = run_diff(p->base, p->same, NULL, &r);
  assert_int_equal(r.new_leak_sites + r.fixed_leak_sites + r.grown_leak_sites +
                   r.grown_peak_sites + r.changed_count_sites, 0);
  assert_non_null(strstr(text, "\nchanged allocation counts: 0 sites\n"));
  free(text);
}

static int exit_of(char **args) {
  hq_test_proc_t p = hq_fx_cli(args);
  int rc = p.exit_status;
  hq_test_proc_free(&p);
  return rc;
}

static void test_diff_cli_fail_on(void **state) {
  paths_t *p = *state;
  assert_int_equal(exit_of((char *[]){"diff", p->base, p->new_, NULL}), 0);
  assert_int_equal(exit_of((char *[]){"diff", p->base, p->new_, "--fail-on", "new-leaks", NULL}), 1);
  assert_int_equal(exit_of((char *[]){"diff", p->base, p->new_, "--fail-on", "leak-growth", NULL}), 1);
  assert_int_equal(exit_of((char *[]){"diff", p->base, p->new_, "--fail-on=peak-growth=100", NULL}), 0);
  assert_int_equal(exit_of((char *[]){"diff", p->base, p->new_, "--fail-on", "peak-growth=84", NULL}), 1);
  assert_int_equal(exit_of((char *[]){"diff", p->base, p->new_, "--fail-on", "peak-growth", NULL}), 1);
  assert_int_equal(exit_of((char *[]){"diff", p->new_, p->base, "--fail-on", "new-leaks,leak-growth,peak-growth", NULL}), 0);
  assert_int_equal(exit_of((char *[]){"diff", p->base, p->same, "--fail-on", "new-leaks", NULL}), 0);
}

/* Write the stdout of `heapql args` to a file and run a Python check of it as JSON. */
static char *json_check(char **args, int status, const char *script) {
  char *path = strdup(hq_test_join(hq_test_tmpdir(), "out.json")), *out;
  hq_test_proc_t r = hq_fx_cli(args);
  FILE *f = fopen(path, "w");
  assert_int_equal(r.exit_status, status);
  fputs(r.out, f);
  fclose(f);
  hq_test_proc_free(&r);
  out = hq_fx_python(script, path);
  free(path);
  return out;
}

static void test_diff_cli_json(void **state) {
  paths_t *p = *state;
  char *out = json_check((char *[]){"diff", p->base, p->new_, "--format", "json", "--fail-on", "new-leaks", NULL}, 1,
                         "import json,sys; d=json.load(open(sys.argv[1]));"
                         "print(len(d['new_leaks']), d['new_leaks'][0]['site'],"
                         " d['new_leaks'][0]['new']['leaked_bytes'], d['grown_peak'][0]['base']['peak_bytes'],"
                         " d['grown_peak'][0]['new']['peak_bytes'], d['changed_counts'][0]['new']['count'],"
                         " d['new']['headline']['peak']['heap_bytes'], d['failed'],"
                         " d['fail_on'][0]['condition'])");
  assert_string_equal(out, "1 leak2 (victim.c:60) <- work (victim.c:21) <- main (victim.c:41) 64 "
                           "1000 2000 3 2314 True new-leaks\n");
  free(out);
}

static void test_diff_cli_bad_input(void **state) {
  paths_t *p = *state;
  hq_test_proc_t r;
  r = hq_fx_cli((char *[]){"diff", p->base, p->new_, "--fail-on", "more-leaks", NULL});
  hq_fx_assert_one_line(&r, 2, "unknown --fail-on condition 'more-leaks'");
  hq_test_proc_free(&r);
  r = hq_fx_cli((char *[]){"diff", p->base, p->new_, "--format", "xml", NULL});
  hq_fx_assert_one_line(&r, 2, "unknown format 'xml'");
  hq_test_proc_free(&r);
  r = hq_fx_cli((char *[]){"diff", p->base, NULL});
  hq_fx_assert_one_line(&r, 2, "needs BASE.db and NEW.db");
  hq_test_proc_free(&r);
  r = hq_fx_cli((char *[]){"diff", p->base, "/nonexistent/new.db", NULL});
  hq_fx_assert_one_line(&r, 2, "/nonexistent/new.db");
  hq_test_proc_free(&r);
  r = hq_fx_cli((char *[]){"diff", p->base, p->new_, "--fail-on", "peak-growth=lots", NULL});
  hq_fx_assert_one_line(&r, 2, "bad peak-growth percentage 'lots'");
  hq_test_proc_free(&r);
}

static void test_compare_cli(void **state) {
  paths_t *p = *state;
  hq_test_proc_t r = hq_fx_cli((char *[]){"compare", p->base, p->new_, NULL});
  char *out, *row;
  assert_int_equal(r.exit_status, 0);
  /* one row per run, labelled by the options only it has: the fixture's new run has --new */
  assert_true(!strncmp(r.out, "run ", 4));
  {
    char title[8][32];
    assert_int_equal(sscanf(r.out, "run %31s %31s %31s %31s %31s %31s %31s", title[0], title[1], title[2],
                            title[3], title[4], title[5], title[6]), 7);
    assert_string_equal(title[0], "peak");
    assert_string_equal(title[1], "heap");
    assert_string_equal(title[6], "allocations");
  }
  row = strstr(r.out, "\n--new ");
  assert_non_null(row);
  assert_non_null(strstr(row, " 2.26 KiB (x1.85) "));
  assert_non_null(strstr(row, " 9 (x1.50) "));
  assert_non_null(strstr(r.out, "\nplain "));
  assert_non_null(strstr(r.out, "(xR: against the first run, plain)\n"));
  hq_test_proc_free(&r);
  out = json_check((char *[]){"compare", "--format", "json", p->base, p->new_, p->same, NULL}, 0,
                   "import json,sys; d=json.load(open(sys.argv[1]));"
                   "print([(x['label'], x['allocations'], x['peak_heap_bytes'], x['ratios']['allocations'],"
                   " x['loss'], x['headline']['frees']['count'], x['headline']['leaks']['bytes'],"
                   " x['headline']['peak']['heap_time_s']) for x in d])");
  assert_string_equal(out, "[('plain', 6, 1250, 1, None, 4, 250, 0.7), ('--new', 9, 2314, 1.5, None, 6, 314, "
                           "0.75), ('plain', 6, 1250, 1, None, 4, 250, 0.7)]\n");
  free(out);
  r = hq_fx_cli((char *[]){"compare", NULL});
  hq_fx_assert_one_line(&r, 2, "no database given");
  hq_test_proc_free(&r);
  r = hq_fx_cli((char *[]){"compare", "--format", "csv", p->base, NULL});
  hq_fx_assert_one_line(&r, 2, "unknown format 'csv' (text, json or html)");
  hq_test_proc_free(&r);
}

/* Runs of one program with different options: each labelled by the options only it has
 * ("plain" without any), the loss it reported (its last "loss" counter) beside the memory. */
static void test_compare_labels_and_loss(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  char *paths[3];
  hq_db_t *dbs[3];
  const char *cmd[3] = {"/opt/demo --layers 16", "/opt/demo --layers 16 --pool",
                        "/opt/demo --chunk-size 256 --layers 16"};
  char *buf = NULL;
  size_t len = 0;
  FILE *f;
  hq_json_t j;
  for (int i = 0; i < 3; i++) {
    char name[32];
    snprintf(name, sizeof name, "run%d.db", i);
    paths[i] = strdup(hq_test_join(dir, name));
    dbs[i] = hq_fx_victim(paths[i], 1000 + i, 0);
    hq_fx_exec(dbs[i], "UPDATE processes SET command_line = '%s';"
               "INSERT OR REPLACE INTO meta VALUES('command_line', '%s')", cmd[i], cmd[i]);
    if (i != 2) hq_fx_exec(dbs[i], "INSERT INTO counters VALUES(%d, 'loss', 1, 0.5), (%d, 'loss', 9, %s)",
                           1000 + i, 1000 + i, i ? "0.125" : "0.25");
  }
  f = open_memstream(&buf, &len);
  assert_int_equal(hq_compare(dbs, NULL, 3, HQ_FORMAT_JSON, f), HQ_OK);
  fclose(f);
  assert_int_equal(hq_json_parse(buf, &j), 0);
  assert_string_equal(hq_json_get(&j, "[0].label")->value, "plain");
  assert_string_equal(hq_json_get(&j, "[1].label")->value, "--pool");
  assert_string_equal(hq_json_get(&j, "[2].label")->value, "--chunk-size 256");
  assert_string_equal(hq_json_get(&j, "[0].loss")->value, "0.25");
  assert_string_equal(hq_json_get(&j, "[1].loss")->value, "0.125");
  assert_string_equal(hq_json_get(&j, "[1].ratios.loss")->value, "0.5");
  assert_int_equal(hq_json_get(&j, "[2].loss")->type, 'n');
  assert_int_equal(hq_json_get(&j, "[2].ratios.loss")->type, 'n');
  hq_json_free(&j);
  free(buf);
  for (int i = 0; i < 3; i++) {
    hq_db_close(dbs[i]);
    free(paths[i]);
  }
}

/* No meta peak and no samples: the headline finds the peak from the allocations. */
static void test_compare_peak_from_allocations(void **state) {
  (void)state;
  const char *path = hq_test_join(hq_test_tmpdir(), "bare.db");
  hq_db_t *db = hq_fx_victim(path, 1000, 0);
  const char *names[] = {"bare"};
  char *buf = NULL;
  size_t len = 0;
  FILE *f;
  hq_fx_exec(db, "DELETE FROM meta WHERE key LIKE 'peak_%%'; DELETE FROM samples");
  f = open_memstream(&buf, &len);
  assert_int_equal(hq_compare(&db, names, 1, HQ_FORMAT_JSON, f), HQ_OK);
  fclose(f);
  {
    hq_json_t j;
    assert_int_equal(hq_json_parse(buf, &j), 0);
    assert_string_equal(hq_json_get(&j, "[0].peak_heap_bytes")->value, "1250");
    assert_string_equal(hq_json_get(&j, "[0].headline.peak.heap_time_s")->value, "0.700000000");
    assert_string_equal(hq_json_get(&j, "[0].peak_rss_bytes")->value, "0");
    hq_json_free(&j);
  }
  free(buf);
  hq_db_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_diff_new_leak_and_grown_sites),
    cmocka_unit_test(test_diff_reversed_finds_fixed_leak),
    cmocka_unit_test(test_diff_same_program_has_no_changes),
    cmocka_unit_test(test_diff_cli_fail_on),
    cmocka_unit_test(test_diff_cli_json),
    cmocka_unit_test(test_diff_cli_bad_input),
    cmocka_unit_test(test_compare_cli),
    cmocka_unit_test(test_compare_labels_and_loss),
    cmocka_unit_test(test_compare_peak_from_allocations),
  };
  return cmocka_run_group_tests_name("diff", tests, setup, teardown);
}
