/*
 * test_fuzz_corpus.c: the fuzz targets (tests/fuzz/fuzz_*.c), without libFuzzer, over their seed
 * corpus (tests/fuzz/corpus/) and every input a fuzzer ever found (tests/fuzz/regressions/):
 * each must be answered, refused or read, without a crash (the ASan build of make check adds
 * leaks and undefined behaviour).  And the answers that are known are checked: the seeds of
 * real programs import, open and parse.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hq_test.h"

#define LLVMFuzzerTestOneInput fuzz_raw_one
#include "../fuzz/fuzz_raw.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_db_one
#include "../fuzz/fuzz_db.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_npy_one
#include "../fuzz/fuzz_npy.c"
#undef LLVMFuzzerTestOneInput

typedef int (*target_fn)(const uint8_t *, size_t);

/* Run fn over every file in dir (may not exist); returns how many. */
static int replay_dir(const char *dir, target_fn fn) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  if (!d) return 0;
  while ((e = readdir(d))) {
    char path[4096];
    size_t len = 0;
    char *data;
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    data = hq_test_read_file(path, &len);
    assert_non_null(data);
    assert_int_equal(fn((const uint8_t *)data, len), 0);
    free(data);
    n++;
  }
  closedir(d);
  return n;
}

static void replay(const char *name, target_fn fn, int min_seeds) {
  char dir[256];
  snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", name);
  assert_true(replay_dir(dir, fn) >= min_seeds);
  snprintf(dir, sizeof dir, "tests/fuzz/regressions/%s", name);
  replay_dir(dir, fn);
}

static void test_fuzz_raw_corpus(void **state) {
  (void)state;
  replay("raw", fuzz_raw_one, 3);
}

static void test_fuzz_db_corpus(void **state) {
  (void)state;
  replay("db", fuzz_db_one, 1);
}

static void test_fuzz_npy_corpus(void **state) {
  (void)state;
  replay("npy", fuzz_npy_one, 4);
}

/* The seeds are real: the trace of a killed program imports with its 1,000 blocks from the ring
 * file, the database opens, numpy's arrays parse with their shapes. */
static void test_fuzz_seeds_are_real(void **state) {
  size_t len = 0;
  char *data = hq_test_read_file("tests/fuzz/corpus/raw/crash-kill", &len), raw[128], rings[160];
  char db[128], err[512];
  uint32_t n;
  hq_import_opts_t o = {.force = 1};
  hq_import_stats_t st;
  (void)state;
  assert_non_null(data);
  memcpy(&n, data, 4);
  assert_int_equal(fuzz_file("seed.db.raw", (const uint8_t *)data + 4, n, raw, sizeof raw), 0);
  assert_int_equal(fuzz_file("seed.db.raw.rings", (const uint8_t *)data + 4 + n, len - 4 - n, rings,
                             sizeof rings), 0);
  snprintf(db, sizeof db, "%s/seed.db", fuzz_dir());
  assert_int_equal(hq_import(raw, db, &o, &st, err, sizeof err), HQ_OK);
  assert_int_equal(st.complete, 0);
  sqlite3 *s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE size BETWEEN 7001 AND 8000"), 1000);
  sqlite3_close(s);
  free(data);
  {
    hq_db_t *h = NULL;
    assert_int_equal(hq_db_open("tests/fuzz/corpus/db/leaf", HQ_DB_READONLY, &h), HQ_OK);
    hq_db_close(h);
  }
  {
    hq_npy_t *a = NULL;
    hq_npy_info_t info;
    assert_int_equal(hq_npy_open("tests/fuzz/corpus/npy/f32", "r", NULL, &a), HQ_OK);
    assert_int_equal(hq_npy_info(a, &info), HQ_OK);
    assert_int_equal(info.ndim, 2);
    assert_int_equal(info.shape[0], 3);
    assert_int_equal(info.shape[1], 4);
    hq_npy_close(a);
  }
}

/* What the fuzzers found, as cases: a trace without RSS samples whose times jump (the importer
 * once synthesized a sample every 20 ms up to the end of time), and a run length of 290 years in
 * meta (the leak-growth query once walked every millisecond of it). */
static void test_fuzz_findings_stay_fixed(void **state) {
  char path[128], db[128], err[512];
  size_t len = 0;
  char *data = hq_test_read_file("tests/fuzz/corpus/db/leaf", &len);
  hq_db_t *h = NULL;
  hq_report_t *r = NULL;
  time_t t0 = time(NULL);
  (void)state;
  (void)err;
  (void)db;
  assert_non_null(data);
  assert_int_equal(fuzz_file("long.db", (const uint8_t *)data, len, path, sizeof path), 0);
  free(data);
  {
    sqlite3 *s = NULL;
    assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
    assert_int_equal(sqlite3_exec(s, "UPDATE meta SET value = 9200000000000000000 WHERE key = 'duration_ns'",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(s);
  }
  assert_int_equal(hq_db_open(path, 0, &h), HQ_OK);
  assert_int_equal(hq_report_compute(h, NULL, &r), HQ_OK);
  hq_report_free(r);
  hq_db_close(h);
  assert_true(time(NULL) - t0 < 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fuzz_raw_corpus),
    cmocka_unit_test(test_fuzz_db_corpus),
    cmocka_unit_test(test_fuzz_npy_corpus),
    cmocka_unit_test(test_fuzz_seeds_are_real),
    cmocka_unit_test(test_fuzz_findings_stay_fixed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
