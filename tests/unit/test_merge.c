/* test_merge.c: merging the databases of one job's processes; the queries of docs/schema.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hq_test.h"
#include "hq_fixture.h"
#include "output/output_int.h"

typedef struct {
  char dir[4096];
  char run1[4200], run2[4200], all[4200];
} fx_t;

/* run1: the victim, pid 1000 (meta only).  run2: its child pid 1001, program "worker", NEW
 * variant, with a processes row of its own. */
static int setup(void **state) {
  fx_t *f = calloc(1, sizeof *f);
  hq_db_t *db;
  snprintf(f->dir, sizeof f->dir, "%s", hq_test_tmpdir());
  snprintf(f->run1, sizeof f->run1, "%s/run1.db", f->dir);
  snprintf(f->run2, sizeof f->run2, "%s/run2.db", f->dir);
  snprintf(f->all, sizeof f->all, "%s/all.db", f->dir);
  hq_db_close(hq_fx_victim(f->run1, 1000, 0));
  db = hq_fx_victim(f->run2, 1001, 1);
  hq_fx_meta(db, "ppid", 1000);
  hq_db_meta_set(db, "program", "worker");
  hq_fx_exec(db, "INSERT INTO processes(pid, ppid, program, command_line, t_start_unix_ns,"
                 " duration_ns, exit_status, complete) VALUES(1001, 1000, 'worker', './worker',"
                 " 1700000005000000000, 1000000000, 0, 1)");
  hq_fx_exec(db, "INSERT INTO threads(pid, tid, name, t_start) VALUES(1001, 1001, 'worker', 0)");
  hq_db_close(db);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  free(*state);
  return 0;
}

static const char *folded(const char *path, int64_t pid) {
  static char *buf;
  size_t len = 0;
  hq_db_t *db = NULL;
  hq_flame_opts_t opts = {.metric = HQ_FLAME_ALLOCATED, .kind_class = "all", .pid = pid};
  FILE *f;
  free(buf);
  buf = NULL;
  assert_int_equal(hq_db_open(path, HQ_DB_READONLY, &db), HQ_OK);
  f = open_memstream(&buf, &len);
  assert_int_equal(hq_flame_write_folded(db, &opts, f), HQ_OK);
  fclose(f);
  hq_db_close(db);
  return buf;
}

static void merge_ok(fx_t *f) {
  const char *inputs[] = {f->run1, f->run2};
  hq_merge_opts_t opts = {.force = 1};
  hq_merge_stats_t st;
  char err[512];
  int rc = hq_merge(inputs, 2, f->all, &opts, &st, err, sizeof err);
  if (rc) fail_msg("merge failed: %s", err);
  assert_int_equal(st.inputs, 2);
  assert_int_equal(st.processes, 2);
  assert_int_equal(st.allocations, 17);
  assert_int_equal(st.stacks, 11);
  assert_int_equal(st.frames, 13);
}

static void test_merge_two_processes(void **state) {
  fx_t *f = *state;
  sqlite3 *s;
  char *one, *two;
  merge_ok(f);
  s = hq_test_sqlite_open(f->all);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations"), 17);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM modules"), 4);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM samples"), 22);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM threads"), 1);
  assert_string_equal(hq_test_q_text(s, "SELECT group_concat(pid) FROM (SELECT DISTINCT pid FROM allocations ORDER BY pid)"), "1000,1001");
  assert_string_equal(hq_test_q_text(s, "SELECT group_concat(pid) FROM (SELECT DISTINCT pid FROM samples ORDER BY pid)"), "1000,1001");
  assert_string_equal(hq_test_q_text(s, "SELECT group_concat(pid || ':' || ppid || ':' || program || ':' || complete, ' ') FROM (SELECT * FROM processes ORDER BY pid)"),
                      "1000:999:victim:1 1001:1000:worker:1");
  /* Every reference still lands on a row. */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations a LEFT JOIN stacks t ON t.id = a.stack_id WHERE a.stack_id IS NOT NULL AND t.id IS NULL"), 0);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM stacks s LEFT JOIN frames f ON f.id = s.frame_id WHERE f.id IS NULL"), 0);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM stacks s LEFT JOIN stacks p ON p.id = s.parent_id WHERE s.parent_id IS NOT NULL AND p.id IS NULL"), 0);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM frames f LEFT JOIN modules m ON m.id = f.module_id WHERE m.id IS NULL"), 0);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM frames f JOIN frames p ON p.id = f.inline_parent WHERE p.is_inline = 1 AND p.ip = f.ip AND p.function = 'work'"), 2);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM frames f JOIN modules m ON m.id = f.module_id WHERE m.pid <> (SELECT min(pid) FROM allocations a JOIN stacks t ON t.id = a.stack_id WHERE t.frame_id = f.id)"), 0);
  /* A query spanning both processes gives the known totals. */
  assert_int_equal(hq_test_q_int(s, "SELECT sum(size) FROM allocations JOIN kinds USING(kind) WHERE class = 'heap' AND t_free IS NULL"), 250 + 314);
  assert_int_equal(hq_test_q_int(s, "SELECT sum(size) FROM allocations WHERE pid = 1001 AND kind = 'calloc'"), 2000);
  /* Meta of the merge. */
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'processes'"), 2);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'merged'"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'aggregates_built'"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'pid'"), 1000);
  assert_string_equal(hq_test_q_text(s, "SELECT value FROM meta WHERE key = 'program'"), "victim");
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'dropped_events'"), 5);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'peak_heap_bytes'"), 2314);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'peak_heap_pid'"), 1001);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'peak_heap_t'"), HQ_FX_T(75));
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 't_start_unix_ns'"), 1700000000000000000LL);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'duration_ns'"), 6000000000LL);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'schema_version'"), 2);
  assert_int_equal(hq_test_q_int(s, "PRAGMA user_version"), 2);
  assert_int_equal(hq_test_q_int(s, "SELECT value = ('%s' || char(10) || '%s') FROM meta WHERE key = 'merged_from'", f->run1, f->run2), 1);
  sqlite3_close(s);
  /* Each process's flame graph in the merge is the one of its own database. */
  one = strdup(folded(f->run1, 0));
  two = strdup(folded(f->run2, 0));
  assert_string_equal(folded(f->all, 1000), one);
  assert_string_equal(folded(f->all, 1001), two);
  free(one);
  free(two);
  assert_int_equal(hq_test_exists(hq_test_join(f->dir, "all.db.partial")), 0);
}

/* Run every `-- sqlite3 FILE` block of the "## Many processes" section of docs/schema.md. */
static void test_merge_doc_queries(void **state) {
  static const char *const expected[] = {
    "pid,program,blocks,bytes\n1000,victim,2,250\n1001,worker,3,314\n",
    "allocations,bytes,leaked_blocks\n15,4580,5\n",
    "pid,peak_heap_bytes\n1000,1250\n1001,2314\n",
    "function,processes,bytes\nleaky,2,400\ninner_helper,2,100\nleak2,1,64\n",
    "pid,job_s,heap_bytes\n1000,0.7,1250\n1000,0.8,1250\n1001,5.75,2314\n",
    "run,allocations,bytes\nrun1,6,1658\nrun2,9,2922\n",
  };
  fx_t *f = *state;
  const char *sqlite = hq_test_which("sqlite3");
  char *doc = hq_test_read_file("docs/schema.md", NULL), *p;
  size_t n = 0;
  HQ_TEST_REQUIRE(sqlite, "the sqlite3 shell (Debian sqlite3)");
  assert_non_null(doc);
  merge_ok(f);
  p = strncmp(doc, "## Many processes\n", 18) == 0 ? doc : strstr(doc, "\n## Many processes\n");
  assert_non_null(p);
  p += 1;
  while ((p = strstr(p, "```sql\n-- ")) != NULL) {
    char *body = p + 7, *end = strstr(body, "```"), file[256];
    char *next_section = strstr(p, "\n## ");
    hq_test_proc_t r;
    if (!end || (next_section && next_section < p)) break;
    *end = '\0';
    p = end + 3;
    if (sscanf(body, "-- sqlite3 %255s", file) != 1) continue; /* DuckDB: not run offline */
    assert_true(n < sizeof expected / sizeof expected[0]);
    /* The shell would take SQL starting with "--" for an option: pass it without that line. */
    char *argv[] = {(char *)sqlite, "-bail", "-csv", "-header", file, strchr(body, '\n') + 1, NULL};
    assert_int_equal(hq_test_run(argv, NULL, f->dir, 30, &r), 0);
    if (r.exit_status != 0 || strcmp(r.out, expected[n]) != 0)
      fail_msg("docs/schema.md query %zu:\n%s\ngave (exit %d):\n%s%s\nexpected:\n%s", n + 1, body,
               r.exit_status, r.out, r.err, expected[n]);
    hq_test_proc_free(&r);
    n++;
  }
  assert_int_equal(n, sizeof expected / sizeof expected[0]);
  free(doc);
}

static void copy_file(const char *from, const char *to) {
  size_t len;
  char *data = hq_test_read_file(from, &len);
  FILE *f = fopen(to, "wb");
  assert_non_null(data);
  assert_non_null(f);
  fwrite(data, 1, len, f);
  fclose(f);
  free(data);
}

static void test_merge_refuses_bad_inputs(void **state) {
  fx_t *f = *state;
  const char *copy = hq_test_join(f->dir, "copy-of-run1.db");
  const char *text = hq_test_join(f->dir, "notes.db");
  const char *out = hq_test_join(f->dir, "x.db");
  const char *inputs[3];
  char err[512];
  FILE *t;
  char *before;
  size_t before_len, after_len;
  char *after;

  copy_file(f->run1, copy);
  inputs[0] = f->run1;
  inputs[1] = copy;
  assert_int_equal(hq_merge(inputs, 2, out, NULL, NULL, err, sizeof err), HQ_EINVAL);
  assert_non_null(strstr(err, "process 1000 is also in"));
  assert_int_equal(hq_test_exists(out), 0);
  assert_int_equal(hq_test_exists(hq_test_join(f->dir, "x.db.partial")), 0);

  inputs[1] = f->run1;
  assert_int_equal(hq_merge(inputs, 2, out, NULL, NULL, err, sizeof err), HQ_EINVAL);
  assert_non_null(strstr(err, "given twice"));

  t = fopen(text, "w");
  fputs("shopping list: eggs, milk, and a memory profiler that tells the truth\n", t);
  fclose(t);
  inputs[1] = text;
  assert_int_equal(hq_merge(inputs, 2, out, NULL, NULL, err, sizeof err), HQ_ESCHEMA);
  assert_non_null(strstr(err, "not a SQLite database"));

  inputs[1] = f->run2;
  assert_int_equal(hq_merge(inputs, 2, f->run1, NULL, NULL, err, sizeof err), HQ_EEXIST);
  {
    hq_merge_opts_t force = {.force = 1};
    assert_int_equal(hq_merge(inputs, 2, f->run1, &force, NULL, err, sizeof err), HQ_EINVAL);
    assert_non_null(strstr(err, "the output is also an input"));
  }
  /* An existing output stays as it was when the merge is refused. */
  merge_ok(f);
  before = hq_test_read_file(f->all, &before_len);
  assert_int_equal(hq_merge(inputs, 2, f->all, NULL, NULL, err, sizeof err), HQ_EEXIST);
  assert_non_null(strstr(err, "already exists (use --force"));
  after = hq_test_read_file(f->all, &after_len);
  assert_int_equal(before_len, after_len);
  assert_memory_equal(before, after, before_len);
  free(before);
  free(after);
  assert_int_equal(hq_merge(inputs, 0, out, NULL, NULL, err, sizeof err), HQ_EINVAL);
}

static void test_merge_of_a_merge(void **state) {
  fx_t *f = *state;
  const char *third = hq_test_join(f->dir, "run3.db");
  char *third_copy = strdup(third);
  const char *out = hq_test_join(f->dir, "all3.db");
  char *out_copy = strdup(out);
  const char *inputs[2];
  hq_merge_stats_t st;
  char err[512];
  sqlite3 *s;
  hq_db_t *db;

  merge_ok(f);
  db = hq_fx_victim(third_copy, 1002, 0);
  hq_fx_meta(db, "ppid", 1000);
  hq_db_close(db);
  inputs[0] = f->all;
  inputs[1] = third_copy;
  if (hq_merge(inputs, 2, out_copy, NULL, &st, err, sizeof err)) fail_msg("%s", err);
  assert_int_equal(st.processes, 3);
  assert_int_equal(st.allocations, 24);
  s = hq_test_sqlite_open(out_copy);
  assert_string_equal(hq_test_q_text(s, "SELECT group_concat(pid) FROM (SELECT pid FROM processes ORDER BY pid)"), "1000,1001,1002");
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'processes'"), 3);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'pid'"), 1000);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations a LEFT JOIN stacks t ON t.id = a.stack_id WHERE a.stack_id IS NOT NULL AND t.id IS NULL"), 0);
  sqlite3_close(s);
  {
    char *expect = strdup(folded(f->run1, 0));
    assert_string_equal(folded(out_copy, 1002), expect);
    free(expect);
  }
  free(third_copy);
  free(out_copy);
}

static void test_merge_cli(void **state) {
  fx_t *f = *state;
  char *out = strdup(hq_test_join(f->dir, "cli.db"));
  char expect[8400];
  hq_test_proc_t p;
  p = hq_fx_cli((char *[]){"merge", f->run1, f->run2, "-o", out, NULL});
  snprintf(expect, sizeof expect, "heapql: merged 2 databases (2 processes, 17 allocations, 11 stacks) into %s in ", out);
  assert_int_equal(p.exit_status, 0);
  assert_int_equal(strncmp(p.err, expect, strlen(expect)), 0);
  hq_fx_assert_one_line(&p, 0, " s");
  assert_string_equal(p.out, "");
  hq_test_proc_free(&p);
  p = hq_fx_cli((char *[]){"merge", f->run1, f->run2, "-o", out, NULL});
  hq_fx_assert_one_line(&p, 2, "already exists (use --force to replace it)");
  hq_test_proc_free(&p);
  p = hq_fx_cli((char *[]){"merge", f->run1, f->run2, "-o", out, "--force", "-q", NULL});
  assert_int_equal(p.exit_status, 0);
  assert_string_equal(p.err, "");
  hq_test_proc_free(&p);
  p = hq_fx_cli((char *[]){"merge", f->run1, f->run2, NULL});
  hq_fx_assert_one_line(&p, 2, "-o ALL.db is required");
  hq_test_proc_free(&p);
  p = hq_fx_cli((char *[]){"merge", f->run1, "/nonexistent/run9.db", "-o", out, "--force", NULL});
  hq_fx_assert_one_line(&p, 2, "/nonexistent/run9.db");
  hq_test_proc_free(&p);
  p = hq_fx_cli((char *[]){"merge", f->run1, f->run2, "-o", "/nonexistent-dir/all.db", NULL});
  hq_fx_assert_one_line(&p, 2, "/nonexistent-dir/all.db: cannot write");
  hq_test_proc_free(&p);
  free(out);
}

/* On a terminal, merge shows progress on stderr (and clears it) before its summary line. */
static void test_merge_progress_on_terminal(void **state) {
  fx_t *f = *state;
  const char *script = hq_test_which("script");
  char cmd[16384];
  hq_test_proc_t p;
  HQ_TEST_REQUIRE(script, "script (Debian bsdutils)");
  snprintf(cmd, sizeof cmd, "%s merge '%s' '%s' -o '%s/tty.db'", hq_test_build_path("bin/heapql"),
           f->run1, f->run2, f->dir);
  char *argv[] = {(char *)script, "-qec", cmd, "/dev/null", NULL};
  assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
  assert_int_equal(p.exit_status, 0);
  assert_non_null(strstr(p.out, "\rmerging: "));
  assert_non_null(strstr(p.out, "%\r\033[Kheapql: merged 2 databases (2 processes, 17 allocations"));
  hq_test_proc_free(&p);
  /* Redirected: no progress, only the summary. */
  p = hq_fx_cli((char *[]){"merge", f->run1, f->run2, "-o", (char *)hq_test_join(f->dir, "file.db"), NULL});
  assert_int_equal(p.exit_status, 0);
  assert_null(strstr(p.err, "merging:"));
  hq_test_proc_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_merge_two_processes, setup, teardown),
    cmocka_unit_test_setup_teardown(test_merge_doc_queries, setup, teardown),
    cmocka_unit_test_setup_teardown(test_merge_refuses_bad_inputs, setup, teardown),
    cmocka_unit_test_setup_teardown(test_merge_of_a_merge, setup, teardown),
    cmocka_unit_test_setup_teardown(test_merge_cli, setup, teardown),
    cmocka_unit_test_setup_teardown(test_merge_progress_on_terminal, setup, teardown),
  };
  return cmocka_run_group_tests_name("merge", tests, NULL, NULL);
}
