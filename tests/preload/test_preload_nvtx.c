/*
 * test_preload_nvtx.c: heapql as an NVTX injection library (issue 13).  A program built with the
 * CUDA toolkit's NVTX3 headers (where the toolkit is installed; skipped with a message
 * elsewhere) and a test double of the headers' injection protocol (always) run under
 * `heapql run`: push/pop ranges are nested regions with their domain, category and its name;
 * each host and test-double device allocation carries the innermost range; a start/end range
 * ended by another thread is a process-wide region; the NVTX memory API's regions are pool
 * blocks with exact sizes, released by unregister, resize and heap reset.  A program that
 * inherits NVTX_INJECTION64_PATH without being recorded opens the library and gets no tool.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hq_test.h"

#define HEAPQL() ((char *)hq_test_build_path("bin/heapql"))
#define CUDA_BIN(n) ((char *)hq_test_build_path("tests/cuda/" n))

static sqlite3 *record(const char *db, char *program) {
  char *cmd[] = {program, NULL};
  hq_test_proc_t p;
  hq_test_heapql_record(db, cmd, &p);
  if (p.exit_status) print_message("%s: %s%s", program, p.out, p.err);
  assert_int_equal(p.exit_status, 0);
  assert_non_null(strstr(p.out, "ok\n"));
  hq_test_proc_free(&p);
  return hq_test_sqlite_open(db);
}

/* The region row named name: its id, and its columns as text ("-" for NULL). */
static int64_t region(sqlite3 *s, const char *name, const char *want) {
  const char *got = hq_test_q_text(s,
      "SELECT coalesce(parent_id, '-') || ' ' || (tid IS NULL) || ' ' || (t_end IS NOT NULL) || ' '"
      " || source || ' ' || coalesce(domain, '-') || ' ' || coalesce(category, '-') || ' '"
      " || coalesce(category_name, '-') || ' ' || scope FROM regions WHERE name = '%s'", name);
  if (strcmp(got, want)) fail_msg("region %s: '%s', want '%s'", name, got, want);
  return hq_test_q_int(s, "SELECT id FROM regions WHERE name = '%s'", name);
}

/* The one allocation of kind and size: its region ("-" none). */
static void in_region(sqlite3 *s, const char *kind, int size, int64_t want) {
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind = '%s' AND size = %d",
                                 kind, size), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT coalesce(region_id, 0) FROM allocations"
                                    " WHERE kind = '%s' AND size = %d", kind, size), want);
}

/* What both programs do alike (v_nvtx.c, v_nvtx_double.c). */
static void check_ranges(sqlite3 *s, int registered) {
  int64_t outer, step;
  char want[64];
  region(s, "epoch", "- 1 1 nvtx - - - process");
  outer = region(s, "outer", "- 0 1 nvtx - - - thread");
  snprintf(want, sizeof want, "%lld 0 1 nvtx train 7 forward thread", (long long)outer);
  step = region(s, "step", want);
  /* the start/end range ended on another thread, after the push/pop ranges */
  assert_int_equal(hq_test_q_int(s, "SELECT (SELECT t_end FROM regions WHERE name = 'epoch') >"
                                    " (SELECT t_end FROM regions WHERE name = 'outer')"), 1);
  in_region(s, "malloc", 1111, outer);
  in_region(s, "malloc", 2222, step);
  in_region(s, "cuda_device", 3333, step);
  in_region(s, "malloc", 5555, 0);
  if (registered) {
    snprintf(want, sizeof want, "%lld 0 1 nvtx train - - thread", (long long)step);
    in_region(s, "malloc", 4444, region(s, "registered", want));
  }
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM regions"), registered ? 4 : 3);
}

static void test_nvtx_protocol_double(void **state) {
  const char *db = strdup(hq_test_join(hq_test_tmpdir(), "double.db"));
  sqlite3 *s;
  (void)state;
  s = record(db, CUDA_BIN("v_nvtx_double"));
  check_ranges(s, 0);
  {
    /* heapql regions names a domain's ranges by domain, and a process-wide range as such */
    char *argv[] = {HEAPQL(), "regions", (char *)db, "--format", "json", NULL};
    hq_test_proc_t p;
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
    assert_int_equal(p.exit_status, 0);
    assert_non_null(strstr(p.out, "\"name\": \"epoch (process-wide)\""));
    assert_non_null(strstr(p.out, "\"name\": \"outer\""));
    assert_non_null(strstr(p.out, "\"name\": \"train/step\""));
    hq_test_proc_free(&p);
  }
  /* two regions of a 1 MiB heap registered, the first unregistered by its address */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind = 'pool'"), 2);
  assert_int_equal(hq_test_q_int(s, "SELECT free_kind = 'pool' FROM allocations WHERE kind = 'pool' AND size = 100"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT t_free IS NULL FROM allocations WHERE kind = 'pool' AND size = 200"), 1);
  sqlite3_close(s);
  free((void *)db);
}

/* A program that inherited NVTX_INJECTION64_PATH (a child heapql does not record) opens the
 * library, which stays dormant: no tool for NVTX, no file anywhere. */
static void test_nvtx_dormant_without_recording(void **state) {
  const char *dir = hq_test_tmpdir();
  char env_path[PATH_MAX + 32], exe[PATH_MAX], lib[PATH_MAX];
  char *argv[] = {exe, NULL};
  char *env[] = {env_path, NULL};
  hq_test_proc_t p;
  (void)state;
  if (!realpath(CUDA_BIN("v_nvtx_double"), exe) ||
      !realpath(hq_test_build_path("lib/libheapql_preload.so"), lib))
    fail_msg("the build's victim or preload is missing");
  snprintf(env_path, sizeof env_path, "NVTX_INJECTION64_PATH=%s", lib);
  assert_int_equal(hq_test_run(argv, env, dir, 60, &p), 0);
  assert_int_equal(p.exit_status, 0);
  assert_string_equal(p.out, "init=0 ext=0\n");
  assert_int_equal(p.err_len, 0);
  assert_int_equal(hq_test_count_files(dir), 0);
  hq_test_proc_free(&p);
}

/* The NVTX3 headers of a CUDA toolkit on this machine, or NULL. */
static const char *nvtx_include(void) {
  static char dir[1024];
  const char *home = getenv("CUDA_HOME");
  const char *cands[] = {home, "/usr/local/cuda", "/usr"};
  for (size_t i = 0; i < sizeof cands / sizeof *cands; i++) {
    char probe[1200];
    if (!cands[i]) continue;
    snprintf(dir, sizeof dir, "%s/include", cands[i]);
    snprintf(probe, sizeof probe, "%s/nvtx3/nvToolsExt.h", dir);
    if (hq_test_exists(probe)) return dir;
  }
  return NULL;
}

static void test_nvtx_toolkit_headers(void **state) {
  const char *inc = nvtx_include(), *cc = hq_test_which("cc");
  const char *dir = strdup(hq_test_tmpdir());
  char *exe = strdup(hq_test_join(dir, "v_nvtx")), *db = strdup(hq_test_join(dir, "nvtx.db"));
  char incflag[1100], libflag[PATH_MAX + 8], rpath[PATH_MAX + 16], src[128], hdrs[64], libdir[PATH_MAX];
  hq_test_proc_t p;
  sqlite3 *s;
  int has_mem;
  (void)state;
  if (!inc || !cc) {
    print_message("skipped: no CUDA toolkit NVTX3 headers (nvtx3/nvToolsExt.h) here;"
                  " the protocol double covers the injection\n");
    return;
  }
  if (!realpath(hq_test_build_path("tests/cuda"), libdir)) fail_msg("no %s", hq_test_build_path("tests/cuda"));
  snprintf(incflag, sizeof incflag, "-I%s", inc);
  snprintf(hdrs, sizeof hdrs, "-Itests/preload/cuda");    /* make test runs from the source root */
  snprintf(src, sizeof src, "tests/preload/cuda/v_nvtx.c");
  snprintf(libflag, sizeof libflag, "-L%s", libdir);
  snprintf(rpath, sizeof rpath, "-Wl,-rpath,%s", libdir);
  {
    char *argv[] = {(char *)cc, "-g", "-O0", incflag, hdrs, src, "-o", exe, libflag,
                    "-l:libcuda.so.1", rpath, "-ldl", "-lpthread", NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 120, &p), 0);
    if (p.exit_status) print_message("cc: %s", p.err);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
  }
  s = record(db, exe);
  check_ranges(s, 1);
  has_mem = hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind = 'pool'") > 0;
  if (has_mem) {
    /* regions 100, 200 (resized to 250), 300 and 400 of one heap: 100 unregistered, 250 and 300
     * released by the heap's reset, 400 live at exit */
    assert_string_equal(hq_test_q_text(s, "SELECT group_concat(size || ':' || coalesce(free_kind, 'live'), ' ')"
                                          " FROM (SELECT * FROM allocations WHERE kind = 'pool' ORDER BY size)"),
                        "100:pool 200:pool 250:pool 300:pool 400:live");
    assert_int_equal(hq_test_q_int(s, "SELECT count(DISTINCT pool) FROM allocations WHERE kind = 'pool'"), 1);
    assert_int_equal(hq_test_q_int(s, "SELECT b.size FROM allocations a JOIN allocations b"
                                      " ON b.realloc_from = a.id WHERE a.kind = 'pool' AND a.size = 200"), 250);
  } else {
    print_message("note: these NVTX3 headers have no nvToolsExtMem.h; the memory API is checked"
                  " through the protocol double only\n");
  }
  sqlite3_close(s);
  free(exe);
  free(db);
  free((void *)dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_nvtx_protocol_double),
    cmocka_unit_test(test_nvtx_dormant_without_recording),
    cmocka_unit_test(test_nvtx_toolkit_headers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
