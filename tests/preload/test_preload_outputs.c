/*
 * test_preload_outputs.c: what heapql writes, and what it does when writing fails.  Outputs are
 * written beside their target and renamed into place; a device or FIFO is written in place and
 * never removed; a directory is refused; a symlink stays a symlink; a failure is one line, exit
 * 2 or 3, and leaves nothing behind.  Failures come from real devices where the machine has
 * them and from HEAPQL_FAULT (heapql/internal/fault.h) everywhere else.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hq_fixture.h"
#include "hq_test.h"

#define HEAPQL() ((char *)hq_test_build_path("bin/heapql"))

/* heapql ARGS with HEAPQL_FAULT=fault (NULL: none). */
static hq_test_proc_t cli(const char *fault, char **args) {
  char *argv[16] = {HEAPQL()};
  char env_fault[256];
  char *env[2] = {NULL, NULL};
  hq_test_proc_t p;
  int n = 1;
  for (; args[n - 1] && n < 15; n++) argv[n] = args[n - 1];
  argv[n] = NULL;
  if (fault) {
    snprintf(env_fault, sizeof env_fault, "HEAPQL_FAULT=%s", fault);
    env[0] = env_fault;
  }
  if (hq_test_run(argv, env, NULL, 60, &p) != 0) fail_msg("cannot run heapql");
  return p;
}

static char *fixture_db(const char *dir) {
  char *db = strdup(hq_test_join(dir, "v.db"));
  hq_db_close(hq_fx_victim(db, 1000, 0));
  return db;
}

static mode_t kind_of(const char *path) {
  struct stat sb;
  assert_int_equal(lstat(path, &sb), 0);
  return sb.st_mode & S_IFMT;
}

/* A node made like /dev/full (char 1,7) where we may make one; else /dev/full itself. */
static void test_output_to_full_device(void **state) {
  const char *dir = hq_test_tmpdir();
  char *db = fixture_db(dir);
  char node[4096];
  hq_test_proc_t p;
  (void)state;
  snprintf(node, sizeof node, "%s/full", dir);
  if (mknod(node, S_IFCHR | 0666, makedev(1, 7)) != 0) {
    print_message("mknod: %s: writing /dev/full itself\n", strerror(errno));
    snprintf(node, sizeof node, "/dev/full");
  }
  p = cli(NULL, (char *[]){"report", db, "-o", node, NULL});
  hq_fx_assert_one_line(&p, 2, "No space left on device");
  hq_test_proc_free(&p);
  assert_int_equal(kind_of(node), S_IFCHR); /* still the device: never removed */
  p = cli(NULL, (char *[]){"report", db, "-o", "/dev/null", NULL});
  assert_int_equal(p.exit_status, 0);
  assert_int_equal(p.err_len, 0);
  hq_test_proc_free(&p);
  assert_int_equal(kind_of("/dev/null"), S_IFCHR);
  free(db);
}

static void test_output_to_fifo(void **state) {
  const char *dir = hq_test_tmpdir();
  char *db = fixture_db(dir);
  char fifo[4096], got[65536];
  size_t n = 0;
  int fd, status;
  pid_t reader;
  hq_test_proc_t p;
  (void)state;
  snprintf(fifo, sizeof fifo, "%s/pipe", dir);
  assert_int_equal(mkfifo(fifo, 0600), 0);
  reader = fork();
  if (reader == 0) {
    char buf[65536];
    ssize_t r, total = 0;
    int in = open(fifo, O_RDONLY), out = open(hq_test_join(dir, "from_fifo.txt"), O_WRONLY | O_CREAT, 0600);
    while ((r = read(in, buf, sizeof buf)) > 0) total += write(out, buf, (size_t)r);
    _exit(total > 0 ? 0 : 1);
  }
  p = cli(NULL, (char *[]){"report", db, "-o", fifo, NULL});
  assert_int_equal(p.exit_status, 0);
  hq_test_proc_free(&p);
  assert_int_equal(waitpid(reader, &status, 0), reader);
  assert_int_equal(WEXITSTATUS(status), 0);
  fd = open(hq_test_join(dir, "from_fifo.txt"), O_RDONLY);
  assert_true(fd >= 0);
  n = (size_t)read(fd, got, sizeof got - 1);
  close(fd);
  got[n] = '\0';
  assert_non_null(strstr(got, "== Peak"));
  assert_int_equal(kind_of(fifo), S_IFIFO);
  free(db);
}

static void test_output_directory_and_dash_refused(void **state) {
  const char *dir = hq_test_tmpdir();
  char *db = fixture_db(dir);
  hq_test_proc_t p;
  (void)state;
  p = cli(NULL, (char *[]){"report", db, "-o", (char *)dir, NULL});
  hq_fx_assert_one_line(&p, 2, "is a directory");
  hq_test_proc_free(&p);
  assert_int_equal(kind_of(dir), S_IFDIR);
  /* a database output must be a regular file: "-" and a device are refused */
  p = cli(NULL, (char *[]){"merge", db, "-o", "-", NULL});
  hq_fx_assert_one_line(&p, 2, "'-'");
  hq_test_proc_free(&p);
  p = cli(NULL, (char *[]){"merge", db, "-o", "/dev/null", "--force", NULL});
  hq_fx_assert_one_line(&p, 2, "not a regular file");
  hq_test_proc_free(&p);
  assert_int_equal(kind_of("/dev/null"), S_IFCHR);
  free(db);
}

static void test_output_through_symlink(void **state) {
  const char *dir = hq_test_tmpdir();
  char *db = fixture_db(dir);
  char link[4096], target[4096], *text;
  FILE *f;
  hq_test_proc_t p;
  int files;
  (void)state;
  snprintf(link, sizeof link, "%s/report.txt", dir);
  snprintf(target, sizeof target, "%s/real.txt", dir);
  f = fopen(target, "w");
  fputs("old\n", f);
  fclose(f);
  assert_int_equal(symlink("real.txt", link), 0);
  files = hq_test_count_files(dir);
  p = cli(NULL, (char *[]){"report", db, "-o", link, NULL});
  assert_int_equal(p.exit_status, 0);
  hq_test_proc_free(&p);
  assert_int_equal(kind_of(link), S_IFLNK); /* the link stays a link */
  text = hq_test_read_file(target, NULL);
  assert_non_null(strstr(text, "== Peak"));  /* the file it points to got the report */
  free(text);
  assert_int_equal(hq_test_count_files(dir), files);
  /* a dangling link: the file it names is created */
  assert_int_equal(unlink(target), 0);
  p = cli(NULL, (char *[]){"report", db, "-o", link, NULL});
  assert_int_equal(p.exit_status, 0);
  hq_test_proc_free(&p);
  assert_int_equal(kind_of(link), S_IFLNK);
  assert_int_equal(kind_of(target), S_IFREG);
  free(db);
}

/* A report whose flush fails: the previous file stays byte for byte, nothing else is left. */
static void test_output_write_failure_keeps_previous(void **state) {
  const char *dir = hq_test_tmpdir();
  char *db = fixture_db(dir), *text;
  const char *out = hq_test_join(dir, "r.txt");
  FILE *f = fopen(out, "w");
  hq_test_proc_t p;
  int files;
  (void)state;
  fputs("the report from yesterday\n", f);
  fclose(f);
  files = hq_test_count_files(dir);
  p = cli("out_write=1", (char *[]){"report", db, "-o", (char *)out, NULL});
  hq_fx_assert_one_line(&p, 2, "write failed");
  hq_test_proc_free(&p);
  text = hq_test_read_file(out, NULL);
  assert_string_equal(text, "the report from yesterday\n");
  free(text);
  assert_int_equal(hq_test_count_files(dir), files);
  free(db);
}

/* A read error and an allocation failure inside SQLite on the report path. */
static void test_report_database_faults(void **state) {
  const char *dir = hq_test_tmpdir();
  char *db = fixture_db(dir);
  hq_test_proc_t p;
  (void)state;
  p = cli("db_read=3", (char *[]){"report", db, NULL});
  hq_fx_assert_one_line(&p, 2, "disk I/O error");
  assert_int_equal(p.out_len, 0);
  hq_test_proc_free(&p);
  p = cli("db_alloc=40", (char *[]){"report", db, NULL});
  hq_fx_assert_one_line(&p, 3, "out of memory");
  hq_test_proc_free(&p);
  free(db);
}

/* A raw trace of a real victim, left by the recorder for `heapql import`. */
static const char *recorded_raw(const char *dir) {
  static char raw[4200];
  char db[4096];
  char *argv[] = {(char *)hq_test_build_path("tests/victims/v_threads"), NULL};
  const char *extra[] = {"HEAPQL_DEFER_IMPORT=1", NULL};
  hq_test_proc_t p;
  snprintf(db, sizeof db, "%s/rec.db", dir);
  snprintf(raw, sizeof raw, "%s.raw", db);
  hq_test_run_preloaded(argv, db, extra, 60, &p);
  assert_int_equal(p.exit_status, 0);
  hq_test_proc_free(&p);
  assert_true(hq_test_exists(raw));
  return raw;
}

/* Import with the disk full at the N-th write and with SQLite out of memory: one line, the
 * right exit code, no database and no temporary file left; an existing database untouched. */
static void test_import_faults_leave_nothing(void **state) {
  const char *dir = hq_test_tmpdir();
  const char *raw = recorded_raw(dir);
  const char *out = hq_test_join(dir, "imported.db");
  char *keep;
  FILE *f;
  hq_test_proc_t p;
  int files = hq_test_count_files(dir);
  static const struct { const char *fault; int status; const char *line; } cases[] = {
    {"db_write=1", 2, "database or disk is full"},
    {"db_write=20", 2, "database or disk is full"},
    {"db_alloc=300", 3, "out of memory"},
  };
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    p = cli(cases[i].fault, (char *[]){"import", (char *)raw, "-o", (char *)out, NULL});
    hq_fx_assert_one_line(&p, cases[i].status, cases[i].line);
    hq_test_proc_free(&p);
    assert_false(hq_test_exists(out));
    assert_int_equal(hq_test_count_files(dir), files);
  }
  /* over an existing database, with --force: it survives the failure byte for byte */
  f = fopen(out, "w");
  fputs("not yet replaced\n", f);
  fclose(f);
  p = cli("db_write=20", (char *[]){"import", (char *)raw, "-o", (char *)out, "--force", NULL});
  hq_fx_assert_one_line(&p, 2, "database or disk is full");
  hq_test_proc_free(&p);
  keep = hq_test_read_file(out, NULL);
  assert_string_equal(keep, "not yet replaced\n");
  free(keep);
  /* and without faults the same import works, mode 0600 */
  p = cli(NULL, (char *[]){"import", (char *)raw, "-o", (char *)out, "--force", "-q", NULL});
  assert_int_equal(p.exit_status, 0);
  hq_test_proc_free(&p);
  {
    struct stat sb;
    sqlite3 *s;
    assert_int_equal(stat(out, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    s = hq_test_sqlite_open(out);
    assert_true(hq_test_q_int(s, "SELECT count(*) FROM allocations") > 0);
    sqlite3_close(s);
  }
}


/* A database with its last 4 KiB cut off: every command says it is damaged, exit 2. */
static void test_damaged_database_refused(void **state) {
  const char *dir = hq_test_tmpdir();
  char *db = fixture_db(dir);
  struct stat sb;
  (void)state;
  /* a fixture big enough to span several pages */
  {
    sqlite3 *s = NULL;
    assert_int_equal(sqlite3_open(db, &s), SQLITE_OK);
    assert_int_equal(sqlite3_exec(s, "CREATE TABLE pad(x); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL"
                                     " SELECT i + 1 FROM n WHERE i < 3000) INSERT INTO pad SELECT"
                                     " randomblob(100) FROM n; CREATE INDEX pad_x ON pad(x);",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(s);
  }
  assert_int_equal(stat(db, &sb), 0);
  assert_int_equal(truncate(db, sb.st_size - 4096), 0);
  static const char *const cmds[] = {"report", "leaks", "top", "peak"};
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    char *args[] = {(char *)cmds[i], db, NULL};
    hq_test_proc_t p = cli(NULL, args);
    hq_fx_assert_one_line(&p, 2, "damaged database");
    assert_int_equal(p.out_len, 0);
    hq_test_proc_free(&p);
  }
  {
    char *args[] = {"query", db, "SELECT 1", NULL};
    hq_test_proc_t p = cli(NULL, args);
    hq_fx_assert_one_line(&p, 2, "damaged database");
    hq_test_proc_free(&p);
  }
  free(db);
}

/* query reads its one database: ATTACH and DETACH are refused before anything opens; SQL that
 * starts with a comment is SQL. */
static void test_query_attach_and_comments(void **state) {
  const char *dir = hq_test_tmpdir();
  char *db = fixture_db(dir), *other = strdup(hq_test_join(dir, "other.db")), attach[4300];
  (void)state;
  snprintf(attach, sizeof attach, "ATTACH '%s' AS o", other);
  {
    char *args[] = {"query", db, attach, NULL};
    hq_test_proc_t p = cli(NULL, args);
    hq_fx_assert_one_line(&p, 2, "ATTACH and DETACH are refused");
    assert_false(hq_test_exists(other));
    hq_test_proc_free(&p);
  }
  {
    char *args[] = {"query", db, "-- the blocks\nSELECT count(*) AS n FROM allocations", NULL};
    hq_test_proc_t p = cli(NULL, args);
    assert_int_equal(p.exit_status, 0);
    assert_string_equal(p.out, "n\n7\n"); /* the fixture's seven blocks */
    hq_test_proc_free(&p);
  }
  free(db);
  free(other);
}

/* A database is a file: `run -o -` is refused before the program runs; a recorder told to write
 * into a directory runs the program untraced and leaves nothing; flamegraph of a process the
 * database does not hold is an error. */
static void test_database_outputs_are_files(void **state) {
  const char *dir = hq_test_tmpdir();
  char *db = fixture_db(dir), marker[4200], script[4300];
  hq_test_proc_t p;
  (void)state;
  snprintf(marker, sizeof marker, "%s/ran", dir);
  snprintf(script, sizeof script, "touch %s", marker);
  {
    char *args[] = {"run", "-o", "-", "--", "/bin/sh", "-c", script, NULL};
    p = cli(NULL, args);
    hq_fx_assert_one_line(&p, 2, "a database cannot go to standard output");
    assert_false(hq_test_exists(marker));
    hq_test_proc_free(&p);
  }
  {
    char out[4200], preload[4200];
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    snprintf(out, sizeof out, "HEAPQL_OUTPUT=%s", dir);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", hq_test_build_path("lib/libheapql_preload.so"));
    char *env[] = {preload, out, "HEAPQL_FORCE=1", NULL};
    int before = hq_test_count_files(dir);
    assert_int_equal(hq_test_run(argv, env, NULL, 60, &p), 0);
    assert_int_equal(p.exit_status, 0);
    assert_true(hq_test_exists(marker));
    assert_non_null(strstr(p.err, "is not a regular file"));
    assert_non_null(strstr(p.err, "running untraced"));
    /* the marker, and nothing else: no trace, no ring file beside the directory */
    assert_int_equal(hq_test_count_files(dir), before + 1);
    hq_test_proc_free(&p);
  }
  {
    char *args[] = {"flamegraph", db, "--pid", "999", NULL};
    p = cli(NULL, args);
    hq_fx_assert_one_line(&p, 2, "has no process 999");
    assert_int_equal(p.out_len, 0);
    hq_test_proc_free(&p);
  }
  free(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_output_to_full_device),
    cmocka_unit_test(test_output_to_fifo),
    cmocka_unit_test(test_output_directory_and_dash_refused),
    cmocka_unit_test(test_output_through_symlink),
    cmocka_unit_test(test_output_write_failure_keeps_previous),
    cmocka_unit_test(test_report_database_faults),
    cmocka_unit_test(test_import_faults_leave_nothing),
    cmocka_unit_test(test_damaged_database_refused),
    cmocka_unit_test(test_query_attach_and_comments),
    cmocka_unit_test(test_database_outputs_are_files),
  };
  return cmocka_run_group_tests_name("preload_outputs", tests, NULL, NULL);
}
