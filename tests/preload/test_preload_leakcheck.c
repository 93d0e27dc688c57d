/*
 * test_preload_leakcheck.c: the leak check at exit against memcheck, on victims of known leak
 * structure (v_leakcheck.c, and the small ones of the other suites).  For the blocks the victim
 * itself allocated (the first frame past the allocator is in its source), each class's blocks and
 * bytes equal what `valgrind --leak-check=full --show-leak-kinds=all --run-libc-freeres=no
 * --run-cxx-freeres=no` reports for the same binary, read from Valgrind's XML; and each block's
 * class is the one its construction implies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq_test.h"

#define HEAPQL() ((char *)hq_test_build_path("bin/heapql"))
#define VICTIM(n) ((char *)hq_test_build_path("tests/victims/" n))

static char *keep(const char *s) {
  char *c = strdup(s);
  assert_non_null(c);
  return c;
}

/* memcheck's verdict for the blocks whose first frame past the allocator is in source `file`:
 * "definitely B N\nindirectly B N\npossibly B N\nreachable B N\n". */
static char *valgrind_classes(const char *victim, const char *file) {
  const char *dir = hq_test_tmpdir();
  char *xml = keep(hq_test_join(dir, "vg.xml")), xml_opt[4200], *out;
  const char *vg = hq_test_which("valgrind");
  char *vg_path = vg ? keep(vg) : NULL;
  hq_test_proc_t p;
  if (!vg_path) return NULL;
  snprintf(xml_opt, sizeof xml_opt, "--xml-file=%s", xml);
  {
    char *argv[] = {vg_path, "--leak-check=full", "--show-leak-kinds=all", "--run-libc-freeres=no",
                    "--run-cxx-freeres=no", "--xml=yes", xml_opt, (char *)victim, NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 300, &p), 0);
    hq_test_proc_free(&p);
  }
  {
    char *argv[] = {"/usr/bin/python3", "-c",
      "import sys, xml.etree.ElementTree as ET\n"
      "kinds = {'Leak_DefinitelyLost': 'definitely', 'Leak_IndirectlyLost': 'indirectly',\n"
      "         'Leak_PossiblyLost': 'possibly', 'Leak_StillReachable': 'reachable'}\n"
      "tot = {k: [0, 0] for k in kinds.values()}\n"
      "for e in ET.parse(sys.argv[1]).getroot().iter('error'):\n"
      "    k = kinds.get(e.findtext('kind'))\n"
      "    if not k: continue\n"
      "    frames = [f for f in e.find('stack').iter('frame') if 'vgpreload' not in (f.findtext('obj') or '')]\n"
      "    if not frames or frames[0].findtext('file') != sys.argv[2]: continue\n"
      "    import re\n"
      "    ind = re.search(r'\\(([0-9,]+) direct, ([0-9,]+) indirect\\)', e.find('xwhat').findtext('text'))\n"
      "    # a definitely lost record counts what its blocks lead to as well: keep the direct part\n"
      "    tot[k][0] += int(e.find('xwhat').findtext('leakedbytes')) - (int(ind.group(2).replace(',', '')) if ind else 0)\n"
      "    tot[k][1] += int(e.find('xwhat').findtext('leakedblocks'))\n"
      "for k in ('definitely', 'indirectly', 'possibly', 'reachable'): print(k, *tot[k])\n",
      xml, (char *)file, NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
    assert_int_equal(p.exit_status, 0);
  }
  out = p.out;
  p.out = NULL;
  hq_test_proc_free(&p);
  free(xml);
  free(vg_path);
  return out;
}

/* heapql's verdict, same form, for the same blocks. */
static char *heapql_classes(const char *db, const char *file) {
  static const char *const names[][2] = {{"definitely", "definitely_lost"}, {"indirectly", "indirectly_lost"},
                                         {"possibly", "possibly_lost"}, {"reachable", "still_reachable"}};
  sqlite3 *s = hq_test_sqlite_open(db);
  char *out = calloc(1, 512);
  size_t len = 0;
  for (int k = 0; k < 4; k++)
    len += (size_t)snprintf(out + len, 512 - len, "%s %lld %lld\n", names[k][0],
      (long long)hq_test_q_int(s, "SELECT coalesce(sum(a.size), 0) FROM allocations a JOIN stack_frames f"
                                  " ON f.stack_id = a.stack_id AND f.position = 0 WHERE a.t_free IS NULL"
                                  " AND a.leak_class = '%s' AND f.file LIKE '%%/%s'", names[k][1], file),
      (long long)hq_test_q_int(s, "SELECT count(*) FROM allocations a JOIN stack_frames f"
                                  " ON f.stack_id = a.stack_id AND f.position = 0 WHERE a.t_free IS NULL"
                                  " AND a.leak_class = '%s' AND f.file LIKE '%%/%s'", names[k][1], file));
  sqlite3_close(s);
  return out;
}

/* Record victim (it may exit with any status; it must not die of a signal). */
static void record(const char *db, const char *victim) {
  char *argv[] = {HEAPQL(), "run", "-q", "-o", (char *)db, "--", (char *)victim, NULL};
  hq_test_proc_t p;
  assert_int_equal(hq_test_run(argv, NULL, NULL, 120, &p), 0);
  assert_int_equal(p.term_signal, 0);
  hq_test_proc_free(&p);
}

/* Each block's class, by its size (sizes are unique in v_leakcheck). */
static void test_leak_classes_by_construction(void **state) {
  (void)state;
  char *db = keep(hq_test_join(hq_test_tmpdir(), "lc.db"));
  static const struct { int size; const char *cls; int blocks; } want[] = {
    {48, "definitely_lost", 1}, {48, "indirectly_lost", 3},     /* the list */
    {32, "definitely_lost", 1}, {32, "indirectly_lost", 6},     /* the tree */
    {2000, "possibly_lost", 1},                                  /* interior pointer */
    {1000, "still_reachable", 1}, {1100, "still_reachable", 1}, /* global, thread-local */
    {1200, "still_reachable", 1},                                /* a running thread's stack */
    {65, "still_reachable", 1}, {512, "still_reachable", 1}, {296, "still_reachable", 1},
    {3000, "definitely_lost", 1},
  };
  sqlite3 *s;
  record(db, VICTIM("v_leakcheck"));
  s = hq_test_sqlite_open(db);
  assert_string_equal(hq_test_q_text(s, "SELECT value FROM meta WHERE key = 'leak_check'"), "done");
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'leak_check_threads'"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'leak_check_threads_unanswered'"), 0);
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    int64_t n = hq_test_q_int(s, "SELECT count(*) FROM allocations a JOIN stack_frames f ON f.stack_id ="
                                 " a.stack_id AND f.position = 0 WHERE a.t_free IS NULL AND a.size = %d"
                                 " AND a.leak_class = '%s' AND f.file LIKE '%%/v_leakcheck.c'",
                              want[i].size, want[i].cls);
    if (n != want[i].blocks) fail_msg("%d-byte blocks %s: %lld, expected %d", want[i].size, want[i].cls, (long long)n, want[i].blocks);
  }
  /* blocks freed by another thread are no leak at all */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE size = 1300 AND t_free IS NULL"), 0);
  /* the aggregate and the report agree with the rows */
  assert_int_equal(hq_test_q_int(s, "SELECT sum(bytes) FROM agg_leak_class WHERE class = 'heap' AND leak_class ="
                                    " 'definitely_lost'"),
                   hq_test_q_int(s, "SELECT sum(size) FROM leaks WHERE class = 'heap' AND leak_class ="
                                    " 'definitely_lost'"));
  sqlite3_close(s);
  free(db);
}

/* Class by class, blocks and bytes equal memcheck's on the same binaries. */
static void test_leak_classes_equal_memcheck(void **state) {
  (void)state;
  static const struct { const char *victim, *file; } victims[] = {
    {"v_leakcheck", "v_leakcheck.c"}, {"v_kinds", "v_kinds.c"}, {"v_leaf", "v_leaf.c"},
  };
  HQ_TEST_REQUIRE(hq_test_which("valgrind"), "valgrind (Debian valgrind)");
  for (size_t i = 0; i < sizeof victims / sizeof victims[0]; i++) {
    char path[4200], *db = keep(hq_test_join(hq_test_tmpdir(), "m.db")), *vg, *hq;
    snprintf(path, sizeof path, "%s", hq_test_build_path("tests/victims/"));
    strncat(path, victims[i].victim, sizeof path - strlen(path) - 1);
    record(db, path);
    vg = valgrind_classes(path, victims[i].file);
    hq = heapql_classes(db, victims[i].file);
    if (strcmp(hq, vg)) fail_msg("%s: heapql\n%smemcheck\n%s", victims[i].victim, hq, vg);
    free(vg);
    free(hq);
    free(db);
  }
}

/* The live set at exit is rebuilt from the trace, where rings interleave: addresses freed by
 * one thread and handed out again to another, reallocs among them, leave exactly the blocks
 * still live, each classified. */
static void test_live_set_across_threads(void **state) {
  (void)state;
  char *db = keep(hq_test_join(hq_test_tmpdir(), "h.db"));
  sqlite3 *s;
  record(db, VICTIM("v_handoff"));
  s = hq_test_sqlite_open(db);
  assert_string_equal(hq_test_q_text(s, "SELECT value FROM meta WHERE key = 'leak_check'"), "done");
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations a JOIN stack_frames f ON f.stack_id ="
                                    " a.stack_id AND f.position = 0 WHERE a.t_free IS NULL"
                                    " AND f.file LIKE '%%/v_handoff.c'"), 128);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE t_free IS NULL AND size = 100"
                                    " AND leak_class = 'still_reachable'"), 64);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE t_free IS NULL AND size = 200"
                                    " AND leak_class = 'definitely_lost'"), 64);
  /* every heap block live at exit was in the check's live set */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM leaks WHERE class = 'heap' AND leak_class IS NULL"), 0);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'leak_check_blocks'"),
                   hq_test_q_int(s, "SELECT count(*) FROM leaks WHERE class = 'heap'"));
  sqlite3_close(s);
  free(db);
}

/* Memory the program mapped itself is a root even where the kernel merged it with a mapping of
 * the allocator's (v_mapped checks that it did). */
static void test_program_mapped_memory_is_a_root(void **state) {
  (void)state;
  char *db = keep(hq_test_join(hq_test_tmpdir(), "mp.db"));
  char *argv[] = {HEAPQL(), "run", "-q", "-o", db, "--", VICTIM("v_mapped"), NULL};
  hq_test_proc_t p;
  sqlite3 *s;
  assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
  assert_string_equal(p.out, "merged\n");
  hq_test_proc_free(&p);
  s = hq_test_sqlite_open(db);
  assert_string_equal(hq_test_q_text(s, "SELECT leak_class FROM allocations WHERE size = 4321 AND t_free IS NULL"), "still_reachable");
  assert_string_equal(hq_test_q_text(s, "SELECT leak_class FROM allocations WHERE size = 1234 AND t_free IS NULL"), "definitely_lost");
  assert_string_equal(hq_test_q_text(s, "SELECT leak_class FROM allocations WHERE size = 2097152 AND t_free IS NULL"), "still_reachable");
  sqlite3_close(s);
  free(db);
}

/* A thread that blocks the stop signal is not waited for: its whole stack is a root, and the
 * database and the report say it did not answer. */
static void test_thread_blocking_the_signal(void **state) {
  (void)state;
  char *db = keep(hq_test_join(hq_test_tmpdir(), "b.db"));
  char *argv[] = {HEAPQL(), "run", "-q", "-o", db, "--", VICTIM("v_blocked"), NULL};
  char *rep[] = {HEAPQL(), "report", db, NULL};
  hq_test_proc_t p;
  sqlite3 *s;
  assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
  assert_int_equal(p.exit_status, 0);
  hq_test_proc_free(&p);
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'leak_check_threads'"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'leak_check_threads_unanswered'"), 1);
  assert_string_equal(hq_test_q_text(s, "SELECT leak_class FROM allocations WHERE size = 7777 AND t_free IS NULL"), "still_reachable");
  assert_string_equal(hq_test_q_text(s, "SELECT leak_class FROM allocations WHERE size = 2222 AND t_free IS NULL"), "definitely_lost");
  sqlite3_close(s);
  assert_int_equal(hq_test_run(rep, NULL, NULL, 60, &p), 0);
  assert_non_null(strstr(p.out, "\nleak check       1 thread did not stop for it: its whole stack scanned as roots\n"));
  hq_test_proc_free(&p);
  free(db);
}

/* A killed program's blocks are unclassified: the check runs only at a normal exit. */
static void test_killed_program_unclassified(void **state) {
  (void)state;
  char *db = keep(hq_test_join(hq_test_tmpdir(), "k.db"));
  char *argv[] = {HEAPQL(), "run", "-q", "-o", db, "--", VICTIM("v_crash"), "kill", NULL};
  hq_test_proc_t p;
  sqlite3 *s;
  assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
  hq_test_proc_free(&p);
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM leaks WHERE leak_class IS NOT NULL"), 0);
  assert_non_null(strstr(hq_test_q_text(s, "SELECT value FROM meta WHERE key = 'leak_check'"), "not run"));
  sqlite3_close(s);
  free(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_leak_classes_by_construction),
    cmocka_unit_test(test_leak_classes_equal_memcheck),
    cmocka_unit_test(test_live_set_across_threads),
    cmocka_unit_test(test_program_mapped_memory_is_a_root),
    cmocka_unit_test(test_thread_blocking_the_signal),
    cmocka_unit_test(test_killed_program_unclassified),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
