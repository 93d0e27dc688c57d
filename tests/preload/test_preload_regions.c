/*
 * test_preload_regions.c: `heapql regions` on a victim whose regions hold known allocations
 * (tests/preload/victims/v_regions.c): per path its instances, time, allocations, bytes, peak
 * live and kept bytes by class, in JSON (read by a JSON reader) and text; counters summarised;
 * bad usage exits 2.  And `heapql run --label`, the name `heapql compare` gives a run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq_test.h"
#include "hq_json_flat.h"

#define HEAPQL() ((char *)hq_test_build_path("bin/heapql"))

/* heapql ARGS... (NULL-ended): its stdout; *code gets the exit status. */
static char *heapql(int *code, char *a1, char *a2, char *a3, char *a4) {
  char *argv[] = {HEAPQL(), a1, a2, a3, a4, NULL};
  hq_test_proc_t p;
  char *out;
  assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
  *code = p.exit_status;
  if (p.exit_status == 0 && p.err_len) print_message("heapql %s: %s", a1, p.err);
  out = p.out;
  p.out = NULL;
  hq_test_proc_free(&p);
  return out;
}

static const char *recorded_db(void) {
  static const char *db;
  if (!db) {
    char *cmd[] = {(char *)hq_test_build_path("tests/victims/v_regions"), NULL};
    hq_test_proc_t p;
    db = strdup(hq_test_join(hq_test_tmpdir(), "regions.db")); /* kept: the helper's buffers rotate */
    hq_test_heapql_record(db, cmd, &p);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
  }
  return db;
}

static const char *field(const hq_json_t *j, const char *fmt, int i, const char *rest) {
  char path[256];
  const hq_json_entry_t *e;
  snprintf(path, sizeof path, fmt, i, rest);
  e = hq_json_get(j, path);
  if (!e) fail_msg("no %s in the JSON", path);
  return e->value ? e->value : "null";
}

static long long num(const hq_json_t *j, int i, const char *rest) {
  return atoll(field(j, "regions[%d].%s", i, rest));
}

/* Region i of the JSON: name, depth, instances, unfinished, then heap's allocations, bytes, peak
 * live and kept. */
static void expect_region(const hq_json_t *j, int i, const char *name, int depth, int instances,
                          int unfinished, long long allocs, long long bytes, long long peak,
                          long long kept) {
  assert_string_equal(field(j, "regions[%d].%s", i, "name"), name);
  assert_int_equal(num(j, i, "depth"), depth);
  assert_int_equal(num(j, i, "instances"), instances);
  assert_int_equal(num(j, i, "unfinished"), unfinished);
  assert_int_equal(num(j, i, "classes.heap.allocations"), allocs);
  assert_int_equal(num(j, i, "classes.heap.bytes"), bytes);
  assert_int_equal(num(j, i, "classes.heap.peak_live_bytes"), peak);
  assert_int_equal(num(j, i, "classes.heap.kept_bytes"), kept);
}

static void test_regions_json(void **state) {
  (void)state;
  int code;
  hq_json_t j;
  sqlite3 *db;
  char *out = heapql(&code, "regions", (char *)recorded_db(), "--format", "json");
  assert_int_equal(code, 0);
  assert_int_equal(hq_json_parse(out, &j), 0);
  /* tree order: step, its children by first begin, then tail */
  expect_region(&j, 0, "step", 0, 3, 0, 12, 3 * (2000 + 4096 + 300), 1000 + 4096, 3 * 300);
  expect_region(&j, 1, "forward", 1, 3, 0, 6, 6000, 2000, 3 * 1000);
  expect_region(&j, 2, "backward", 1, 3, 0, 3, 3 * 4096, 4096, 0);
  expect_region(&j, 3, "tail", 0, 1, 1, 1, 50, 50, 50);
  assert_null(hq_json_get(&j, "regions[4]"));
  assert_string_equal(field(&j, "regions[%d].%s", 0, "parent"), "null");
  assert_int_equal(num(&j, 1, "parent"), 0);
  assert_int_equal(num(&j, 2, "parent"), 0);
  /* the pool sub-allocations made in forward count there and in step, and nowhere else */
  for (int i = 0; i < 2; i++) {
    assert_int_equal(num(&j, i, "classes.pool.allocations"), 3);
    assert_int_equal(num(&j, i, "classes.pool.bytes"), 768);
    assert_int_equal(num(&j, i, "classes.pool.peak_live_bytes"), 256);
    assert_int_equal(num(&j, i, "classes.pool.kept_bytes"), 768);
  }
  assert_null(hq_json_get(&j, "regions[2].classes.pool"));
  assert_null(hq_json_get(&j, "regions[0].classes.device"));
  /* times: the instances' own durations, summed; the unfinished one up to the process's end */
  db = hq_test_sqlite_open(recorded_db());
  assert_int_equal(num(&j, 0, "time_ns"),
                   hq_test_q_int(db, "SELECT sum(t_end - t_begin) FROM regions WHERE name = 'step'"));
  assert_int_equal(num(&j, 2, "time_ns"),
                   hq_test_q_int(db, "SELECT sum(t_end - t_begin) FROM regions WHERE name = 'backward'"));
  assert_int_equal(num(&j, 3, "time_ns"),
                   hq_test_q_int(db, "SELECT p.duration_ns - r.t_begin FROM regions r JOIN processes p "
                                     "USING(pid) WHERE r.name = 'tail'"));
  assert_true(num(&j, 0, "time_ns") > num(&j, 1, "time_ns"));
  sqlite3_close(db);
  /* the counter */
  assert_string_equal(field(&j, "counters[%d].%s", 0, "name"), "steps");
  assert_string_equal(field(&j, "counters[%d].%s", 0, "samples"), "3");
  assert_string_equal(field(&j, "counters[%d].%s", 0, "first"), "1");
  assert_string_equal(field(&j, "counters[%d].%s", 0, "last"), "3");
  assert_string_equal(field(&j, "counters[%d].%s", 0, "min"), "1");
  assert_string_equal(field(&j, "counters[%d].%s", 0, "max"), "3");
  assert_null(hq_json_get(&j, "counters[1]"));
  hq_json_free(&j);
}

/* The text table: one line per path, children indented under their parent, the other classes
 * used on their own lines; counters at the end. */
static void test_regions_text(void **state) {
  (void)state;
  int code, seen = 0;
  char *out = heapql(&code, "regions", (char *)recorded_db(), NULL, NULL);
  assert_int_equal(code, 0);
  for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
    char name[64], count[16], unit[8];
    double t;
    unsigned long long allocs;
    if (sscanf(line, "%63s %15s %lf %7s %llu", name, count, &t, unit, &allocs) != 5) continue;
    if (!strcmp(name, "step") && line[0] == 's') {
      assert_string_equal(count, "3");
      assert_int_equal(allocs, 12);
      seen |= 1;
    } else if (!strcmp(name, "forward") && !strncmp(line, "  forward", 9)) {
      assert_int_equal(allocs, 6);
      seen |= 2;
    } else if (!strcmp(name, "tail") && line[0] == 't') {
      assert_string_equal(count, "1*"); /* never closed */
      assert_int_equal(allocs, 1);
      seen |= 4;
    }
  }
  assert_int_equal(seen, 7);
  free(out);
  out = heapql(&code, "regions", (char *)recorded_db(), NULL, NULL);
  assert_non_null(strstr(out, "\n    pool "));           /* forward's pool line, under it */
  assert_non_null(strstr(out, "\nsteps "));              /* the counter */
  assert_non_null(strstr(out, "* instances never closed"));
  free(out);
}

static void test_regions_bad_usage_and_none(void **state) {
  (void)state;
  int code;
  free(heapql(&code, "regions", NULL, NULL, NULL));
  assert_int_equal(code, 2);
  free(heapql(&code, "regions", (char *)recorded_db(), "--format", "csv"));
  assert_int_equal(code, 2);
  free(heapql(&code, "regions", "/nonexistent/x.db", NULL, NULL));
  assert_int_equal(code, 2);
  {
    /* a program without regions */
    const char *db = hq_test_join(hq_test_tmpdir(), "noregions.db");
    char *cmd[] = {"/bin/true", NULL};
    hq_test_proc_t p;
    char *out;
    hq_test_heapql_record(db, cmd, &p);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
    out = heapql(&code, "regions", (char *)db, NULL, NULL);
    assert_int_equal(code, 0);
    assert_string_equal(out, "regions: none (the program annotated no region)\n");
    free(out);
  }
}

/* heapql run --label NAME: meta.label of the database, and the row's label in compare. */
static void test_run_label_names_compare_row(void **state) {
  (void)state;
  const char *dbs[2] = {strdup(hq_test_join(hq_test_tmpdir(), "label-a.db")),
                        strdup(hq_test_join(hq_test_tmpdir(), "label-b.db"))};
  const char *labels[2] = {"first try", "it's faster"};
  int code;
  char *out;
  hq_json_t j;
  for (int i = 0; i < 2; i++) {
    char *argv[] = {HEAPQL(), "run", "-q", "--label", (char *)labels[i], "-o", (char *)dbs[i], "--",
                    (char *)hq_test_build_path("tests/victims/v_regions"), NULL};
    hq_test_proc_t p;
    sqlite3 *db;
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
    db = hq_test_sqlite_open(dbs[i]);
    assert_string_equal(hq_test_q_text(db, "SELECT value FROM meta WHERE key = 'label'"), labels[i]);
    sqlite3_close(db);
  }
  {
    char *argv[] = {HEAPQL(), "compare", "--format", "json", (char *)dbs[0], (char *)dbs[1], NULL};
    hq_test_proc_t p;
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
    assert_int_equal(p.exit_status, 0);
    assert_int_equal(hq_json_parse(p.out, &j), 0);
    hq_test_proc_free(&p);
  }
  assert_string_equal(hq_json_get(&j, "[0].label")->value, "first try");
  assert_string_equal(hq_json_get(&j, "[1].label")->value, "it's faster");
  assert_string_equal(hq_json_get(&j, "[1].ratios.allocations")->value, "1");
  hq_json_free(&j);
  out = heapql(&code, "run", "--label", NULL, NULL);
  assert_int_equal(code, 2);
  free(out);
  free((char *)dbs[0]);
  free((char *)dbs[1]);
}

/* The timeline shades the outermost regions: one band per instance, named, read by xmllint. */
static void test_timeline_shades_regions(void **state) {
  (void)state;
  const char *xmllint = hq_test_which("xmllint");
  char *svg = strdup(hq_test_join(hq_test_tmpdir(), "regions.svg"));
  int code;
  hq_test_proc_t p;
  HQ_TEST_REQUIRE(xmllint, "xmllint (Debian libxml2-utils)");
  free(heapql(&code, "timeline", (char *)recorded_db(), "-o", svg));
  assert_int_equal(code, 0);
  {
    char *argv[] = {(char *)xmllint, "--xpath",
                    "//*[local-name()='rect'][@class='hq-region']/*[local-name()='title']/text()",
                    (char *)svg, NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 30, &p), 0);
    assert_int_equal(p.exit_status, 0);
    assert_string_equal(p.out, "step\nstep\nstep\ntail\n");
    hq_test_proc_free(&p);
  }
  free(svg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_regions_json),
    cmocka_unit_test(test_regions_text),
    cmocka_unit_test(test_regions_bad_usage_and_none),
    cmocka_unit_test(test_run_label_names_compare_row),
    cmocka_unit_test(test_timeline_shades_regions),
  };
  return cmocka_run_group_tests_name("regions", tests, NULL, NULL);
}
