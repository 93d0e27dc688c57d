/*
 * test_symbolize.c: offline symbolization (hq_symbolize, `heapql symbolize`).
 *
 * The victims symchain (-O0), symchain_O2 (-O2, with an always-inlined function) and symcpp
 * (C++) run without the preload and print the return addresses of a known call chain with the
 * program's load bias.  Each test builds a database by hand from them (one modules row with the
 * victim's path and the build-id read here from its ELF notes, one frames row per address),
 * symbolizes it and checks function, file and line of every frame exactly against the victim's
 * source, whose call lines are found at test time by their LINE_* markers.
 */
#include <elf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <dwarf.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output/output_int.h"
#include "symbols/symbols_int.h"
#include "hq_test.h"
#include "heapql/heapql.h"

#define SRC_O0  "tests/preload/victims/symchain.c"
#define SRC_O2  "tests/preload/victims/symchain_O2.c"
#define SRC_CXX "tests/preload/victims/symcpp.cpp"

typedef struct {
  uint64_t ip[8];
  uint64_t base;
  int n;
} victim_out_t;

typedef struct {
  char function[1024];
  char file[PATH_MAX];
  int has_function, has_file, has_line;
  int64_t line, inline_parent, is_inline, ip, offset, module_id;
} frame_row_t;

/* ---- helpers ---- */

/* Run a victim (a path, or a name under the build directory) and collect its addresses. */
static void run_victim(const char *name, victim_out_t *out) {
  char path[PATH_MAX];
  char *argv[2];
  hq_test_proc_t p;
  const char *line;
  snprintf(path, sizeof path, "%s", name[0] == '/' ? name : hq_test_build_path(name));
  argv[0] = path;
  argv[1] = NULL;
  memset(out, 0, sizeof *out);
  assert_int_equal(hq_test_run(argv, NULL, NULL, 20, &p), 0);
  assert_int_equal(p.exit_status, 0);
  for (line = p.out; line && *line && out->n < 8; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
    unsigned long ip, base;
    if (sscanf(line, "ip=%lx base=%lx", &ip, &base) != 2) continue;
    out->ip[out->n++] = ip;
    out->base = base;
  }
  hq_test_proc_free(&p);
  assert_int_equal(out->n, 3);
}

/* The 1-based number of the single source line that carries the comment marker. */
static int marker_line(const char *src, const char *name) {
  char *text = hq_test_read_file(src, NULL), *p, marker[128];
  int line = 1, found = 0;
  assert_non_null(text);
  snprintf(marker, sizeof marker, "/* %s */", name);
  for (p = text; *p; p++) {
    if (*p == '\n') {
      line++;
    } else if (!strncmp(p, marker, strlen(marker))) {
      assert_int_equal(found, 0);
      found = line;
    }
  }
  free(text);
  assert_true(found > 0);
  return found;
}

/* The GNU build-id of an ELF file, in hex, read from its SHT_NOTE sections. */
static void read_build_id(const char *path, char *hex, size_t cap) {
  size_t len = 0;
  char *buf = hq_test_read_file(path, &len);
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;
  int found = 0;
  assert_non_null(buf);
  assert_true(len > sizeof *eh && !memcmp(eh->e_ident, ELFMAG, SELFMAG));
  for (int i = 0; i < eh->e_shnum && !found; i++) {
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(buf + eh->e_shoff + (size_t)i * eh->e_shentsize);
    size_t off = sh->sh_offset, end = sh->sh_offset + sh->sh_size;
    if (sh->sh_type != SHT_NOTE) continue;
    while (off + sizeof(Elf64_Nhdr) <= end) {
      const Elf64_Nhdr *nh = (const Elf64_Nhdr *)(buf + off);
      size_t name_off = off + sizeof *nh, desc_off = name_off + ((nh->n_namesz + 3) & ~3u);
      if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(buf + name_off, "GNU", 4)) {
        assert_true(nh->n_descsz * 2 < cap);
        for (size_t k = 0; k < nh->n_descsz; k++)
          sprintf(hex + 2 * k, "%02x", (unsigned char)buf[desc_off + k]);
        found = 1;
        break;
      }
      off = desc_off + ((nh->n_descsz + 3) & ~3u);
    }
  }
  free(buf);
  assert_true(found);
}

static void copy_file(const char *from, const char *to) {
  size_t len = 0;
  char *buf = hq_test_read_file(from, &len);
  FILE *f = fopen(to, "wb");
  assert_non_null(buf);
  assert_non_null(f);
  assert_int_equal(fwrite(buf, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
  assert_int_equal(chmod(to, 0755), 0);
  free(buf);
}

static void exec_sql(sqlite3 *s, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(s, sql, NULL, NULL, &err) != SQLITE_OK) fail_msg("%s: %s", sql, err);
}

static int64_t add_module(hq_db_t *db, int pid, const char *path, const char *build_id,
                          uint64_t base) {
  sqlite3 *s = hq_db_sqlite(db);
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(s, "INSERT INTO modules(pid, path, build_id, base, size, "
                                         "gen_first) VALUES(?1, ?2, ?3, ?4, 65536, 0)", -1, &st, NULL),
                   SQLITE_OK);
  sqlite3_bind_int(st, 1, pid);
  sqlite3_bind_text(st, 2, path, -1, SQLITE_TRANSIENT);
  if (build_id) sqlite3_bind_text(st, 3, build_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 4, (int64_t)base);
  assert_int_equal(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  return sqlite3_last_insert_rowid(s);
}

static int64_t add_frame(hq_db_t *db, int64_t module_id, uint64_t ip, uint64_t base) {
  sqlite3 *s = hq_db_sqlite(db);
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(s, "INSERT INTO frames(module_id, ip, offset) "
                                         "VALUES(?1, ?2, ?3)", -1, &st, NULL), SQLITE_OK);
  sqlite3_bind_int64(st, 1, module_id);
  sqlite3_bind_int64(st, 2, (int64_t)ip);
  sqlite3_bind_int64(st, 3, (int64_t)(ip - base));
  assert_int_equal(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  return sqlite3_last_insert_rowid(s);
}

/* A new database with one module (path, build_id) and one frame per victim address. */
static hq_db_t *make_db(const char *module_path, const char *build_id, const victim_out_t *v,
                        int64_t *frame_ids);

/* Run a victim and make a database of its frames, with the victim's own path and build-id;
 * other_build: one hex digit of the build-id changed, as if the run had been of another build. */
static hq_db_t *victim_db(const char *victim, int other_build, victim_out_t *v, int64_t *ids) {
  char path[PATH_MAX], bid[128];
  snprintf(path, sizeof path, "%s", hq_test_build_path(victim));
  run_victim(victim, v);
  read_build_id(path, bid, sizeof bid);
  if (other_build) bid[0] = bid[0] == '0' ? '1' : '0';
  return make_db(path, bid, v, ids);
}

static hq_db_t *make_db(const char *module_path, const char *build_id, const victim_out_t *v,
                        int64_t *frame_ids /* OUT: v->n ids */) {
  const char *path = hq_test_join(hq_test_tmpdir(), "sym.db");
  hq_db_t *db = NULL;
  int64_t mod;
  assert_int_equal(hq_db_open(path, HQ_DB_CREATE, &db), HQ_OK);
  mod = add_module(db, 1, module_path, build_id, v->base);
  for (int i = 0; i < v->n; i++) frame_ids[i] = add_frame(db, mod, v->ip[i], v->base);
  return db;
}

static void get_row(hq_db_t *db, int64_t id, frame_row_t *r) {
  sqlite3_stmt *st = NULL;
  memset(r, 0, sizeof *r);
  assert_int_equal(sqlite3_prepare_v2(hq_db_sqlite(db),
                                      "SELECT function, file, line, inline_parent, is_inline, ip, "
                                      "offset, module_id FROM frames WHERE id = ?1", -1, &st, NULL),
                   SQLITE_OK);
  sqlite3_bind_int64(st, 1, id);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  if ((r->has_function = sqlite3_column_type(st, 0) != SQLITE_NULL))
    snprintf(r->function, sizeof r->function, "%s", sqlite3_column_text(st, 0));
  if ((r->has_file = sqlite3_column_type(st, 1) != SQLITE_NULL))
    snprintf(r->file, sizeof r->file, "%s", sqlite3_column_text(st, 1));
  r->has_line = sqlite3_column_type(st, 2) != SQLITE_NULL;
  r->line = sqlite3_column_int64(st, 2);
  r->inline_parent = sqlite3_column_int64(st, 3);
  r->is_inline = sqlite3_column_int64(st, 4);
  r->ip = sqlite3_column_int64(st, 5);
  r->offset = sqlite3_column_int64(st, 6);
  r->module_id = sqlite3_column_int64(st, 7);
  sqlite3_finalize(st);
}

/* The same file?  DWARF names the file as the compiler saw it (absolute, via the compilation
 * directory); compare real paths so a symlinked checkout still matches. */
static void assert_same_file(const char *got, const char *want_rel) {
  char a[PATH_MAX], b[PATH_MAX];
  assert_true(got[0] == '/');
  assert_non_null(realpath(want_rel, b));
  if (!realpath(got, a)) fail_msg("symbolized file '%s' does not exist", got);
  assert_string_equal(a, b);
}

static void assert_frame(hq_db_t *db, int64_t id, const char *function, const char *src, int line,
                         frame_row_t *out /* OUT, may be NULL */) {
  frame_row_t r;
  get_row(db, id, &r);
  assert_true(r.has_function);
  assert_string_equal(r.function, function);
  assert_true(r.has_file);
  assert_same_file(r.file, src);
  assert_true(r.has_line);
  assert_int_equal(r.line, line);
  if (out) *out = r;
}

static const char *module_status(hq_db_t *db, int64_t module_id) {
  return hq_test_q_text(hq_db_sqlite(db), "SELECT file_status FROM modules WHERE id = %lld",
                        (long long)module_id);
}

static int64_t q_int(hq_db_t *db, const char *sql) {
  return hq_test_q_int(hq_db_sqlite(db), "%s", sql);
}

static int setup(void **state) {
  (void)state;
  unsetenv("HEAPQL_DEBUGINFO_PATH");
  unsetenv("HEAPQL_DEBUGINFOD");
  return 0;
}

/* ---- tests ---- */

static void test_symbolize_O0_call_chain(void **state) {
  (void)state;
  victim_out_t v;
  int64_t ids[3];
  frame_row_t r;
  hq_db_t *db = victim_db("tests/victims/symchain", 0, &v, ids);
  assert_int_equal(hq_symbolize(db, 0), HQ_OK);
  assert_frame(db, ids[0], "level2", SRC_O0, marker_line(SRC_O0, "LINE_CALL_LEAF"), &r);
  assert_int_equal(r.inline_parent, 0);
  assert_int_equal(r.is_inline, 0);
  assert_frame(db, ids[1], "level1", SRC_O0, marker_line(SRC_O0, "LINE_CALL_LEVEL2"), NULL);
  assert_frame(db, ids[2], "main", SRC_O0, marker_line(SRC_O0, "LINE_CALL_LEVEL1"), NULL);
  assert_int_equal(q_int(db, "SELECT count(*) FROM frames"), 3);
  assert_string_equal(module_status(db, 1), "ok");
  assert_int_equal(q_int(db, "SELECT value FROM meta WHERE key = 'symbolized'"), 1);
  hq_db_close(db);
}

static void test_symbolize_O2_inline_frame(void **state) {
  (void)state;
  victim_out_t v;
  int64_t ids[3];
  frame_row_t phys, outer;
  hq_db_t *db;
  db = victim_db("tests/victims/symchain_O2", 0, &v, ids);
  assert_int_equal(hq_symbolize(db, 0), HQ_OK);

  /* The call to leaf sits in helper, which was inlined into level2. */
  assert_frame(db, ids[0], "helper", SRC_O2, marker_line(SRC_O2, "LINE_CALL_LEAF"), &phys);
  assert_int_equal(phys.is_inline, 0);
  assert_true(phys.inline_parent > 0);
  assert_frame(db, phys.inline_parent, "level2", SRC_O2, marker_line(SRC_O2, "LINE_CALL_HELPER"),
               &outer);
  assert_int_equal(outer.is_inline, 1);
  assert_int_equal(outer.inline_parent, 0);
  assert_int_equal(outer.ip, phys.ip);
  assert_int_equal(outer.offset, phys.offset);
  assert_int_equal(outer.module_id, phys.module_id);

  assert_frame(db, ids[1], "level1", SRC_O2, marker_line(SRC_O2, "LINE_CALL_LEVEL2"), &phys);
  assert_int_equal(phys.inline_parent, 0);
  assert_frame(db, ids[2], "main", SRC_O2, marker_line(SRC_O2, "LINE_CALL_LEVEL1"), &phys);
  assert_int_equal(phys.inline_parent, 0);
  assert_int_equal(q_int(db, "SELECT count(*) FROM frames"), 4);
  assert_int_equal(q_int(db, "SELECT count(*) FROM frames WHERE is_inline = 1"), 1);
  assert_string_equal(module_status(db, 1), "ok");
  /* The chain query of docs/schema.md, for the physical frame of ids[0]. */
  {
    char want[PATH_MAX * 3];
    frame_row_t r0, r1;
    get_row(db, ids[0], &r0);
    get_row(db, r0.inline_parent, &r1);
    snprintf(want, sizeof want, "0 helper %s:%d|1 level2 %s:%d", r0.file,
             marker_line(SRC_O2, "LINE_CALL_LEAF"), r1.file, marker_line(SRC_O2, "LINE_CALL_HELPER"));
    assert_string_equal(hq_test_q_text(hq_db_sqlite(db),
        "SELECT group_concat(t, '|') FROM (WITH RECURSIVE chain(id, level) AS ("
        "  SELECT %lld, 0"
        "  UNION ALL"
        "  SELECT f.inline_parent, c.level + 1 FROM chain c JOIN frames f ON f.id = c.id"
        "  WHERE f.inline_parent IS NOT NULL)"
        "SELECT c.level || ' ' || f.function || ' ' || f.file || ':' || f.line AS t "
        "FROM chain c JOIN frames f ON f.id = c.id ORDER BY c.level)", (long long)ids[0]),
        want);
  }
  hq_db_close(db);
}

static void test_symbolize_cxx_demangled(void **state) {
  (void)state;
  victim_out_t v;
  int64_t ids[3];
  hq_db_t *db;
  db = victim_db("tests/victims/symcpp", 0, &v, ids);
  assert_int_equal(hq_symbolize(db, 0), HQ_OK);
  assert_frame(db, ids[0], "ns::Widget<int>::make(unsigned long)", SRC_CXX,
               marker_line(SRC_CXX, "LINE_CALL_LEAF"), NULL);
  assert_frame(db, ids[1], "ns::run(int)", SRC_CXX, marker_line(SRC_CXX, "LINE_CALL_MAKE"), NULL);
  assert_frame(db, ids[2], "main", SRC_CXX, marker_line(SRC_CXX, "LINE_CALL_RUN"), NULL);
  hq_db_close(db);
}

static void test_symbolize_changed_build_id(void **state) {
  (void)state;
  victim_out_t v;
  int64_t ids[3];
  hq_db_t *db;
  db = victim_db("tests/victims/symchain", 1, &v, ids);
  assert_int_equal(hq_symbolize(db, 0), HQ_OK);
  assert_string_equal(module_status(db, 1), "changed");
  assert_int_equal(q_int(db, "SELECT count(*) FROM frames WHERE function IS NULL AND file IS NULL "
                             "AND line IS NULL AND inline_parent IS NULL"), 3);
  assert_int_equal(q_int(db, "SELECT count(*) FROM frames"), 3);
  assert_int_equal(q_int(db, "SELECT value FROM meta WHERE key = 'symbolized'"), 1);
  hq_db_close(db);
}

static void test_symbolize_missing_file(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  char path[PATH_MAX], bid[128];
  victim_out_t v;
  int64_t ids[3];
  hq_db_t *db;
  snprintf(path, sizeof path, "%s", hq_test_join(dir, "gone"));
  copy_file(hq_test_build_path("tests/victims/symchain"), path);
  read_build_id(path, bid, sizeof bid);
  run_victim("tests/victims/symchain", &v);
  assert_int_equal(unlink(path), 0);
  db = make_db(path, bid, &v, ids);
  assert_int_equal(hq_symbolize(db, 0), HQ_OK);
  assert_string_equal(module_status(db, 1), "missing");
  assert_int_equal(q_int(db, "SELECT count(*) FROM frames WHERE function IS NULL AND file IS NULL"), 3);
  /* The query of docs/schema.md, "modules that could not be used". */
  assert_string_equal(hq_test_q_text(hq_db_sqlite(db),
      "SELECT m.path || ' ' || m.file_status || ' ' || count(f.id) "
      "FROM modules m LEFT JOIN frames f ON f.module_id = m.id AND f.function IS NULL "
      "WHERE m.file_status IN ('missing', 'changed') GROUP BY m.id"),
      hq_test_join(dir, "gone missing 3"));
  hq_db_close(db);
}

/* The module file is gone, but a debug file with its build-id is where elfutils looks. */
static void test_symbolize_debug_file_by_build_id(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  char path[PATH_MAX * 2], root[PATH_MAX * 2], sub[PATH_MAX * 3], debug[PATH_MAX * 4], bid[128];
  victim_out_t v;
  int64_t ids[3];
  hq_db_t *db;
  snprintf(path, sizeof path, "%s/symchain-was-here", dir);
  read_build_id(hq_test_build_path("tests/victims/symchain"), bid, sizeof bid);
  snprintf(root, sizeof root, "%s/debug", dir);
  snprintf(sub, sizeof sub, "%s/.build-id", root);
  assert_int_equal(mkdir(root, 0755), 0);
  assert_int_equal(mkdir(sub, 0755), 0);
  snprintf(sub, sizeof sub, "%s/.build-id/%.2s", root, bid);
  assert_int_equal(mkdir(sub, 0755), 0);
  snprintf(debug, sizeof debug, "%s/%s.debug", sub, bid + 2);
  copy_file(hq_test_build_path("tests/victims/symchain"), debug);
  run_victim("tests/victims/symchain", &v);
  db = make_db(path, bid, &v, ids);
  setenv("HEAPQL_DEBUGINFO_PATH", root, 1);
  assert_int_equal(hq_symbolize(db, 0), HQ_OK);
  unsetenv("HEAPQL_DEBUGINFO_PATH");
  assert_string_equal(module_status(db, 1), "missing");
  assert_frame(db, ids[0], "level2", SRC_O0, marker_line(SRC_O0, "LINE_CALL_LEAF"), NULL);
  assert_frame(db, ids[1], "level1", SRC_O0, marker_line(SRC_O0, "LINE_CALL_LEVEL2"), NULL);
  assert_frame(db, ids[2], "main", SRC_O0, marker_line(SRC_O0, "LINE_CALL_LEVEL1"), NULL);
  hq_db_close(db);
}

static const char *dirname_of(const char *path) {
  static char dir[PATH_MAX];
  const char *slash = strrchr(path, '/');
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
  return dir;
}

/* The same chain from the other DWARF forms compilers produce: DWARF 4, split DWARF (functions
 * in a .dwo file beside the program), compressed debug sections. */
static void test_symbolize_dwarf_variants(void **state) {
  (void)state;
  static const char *const variants[] = {"-gdwarf-4", "-gsplit-dwarf", "-gz"};
  const char *gcc = hq_test_which("gcc");
  char cc[PATH_MAX], exe[PATH_MAX], bid[128];
  HQ_TEST_REQUIRE(gcc != NULL, "gcc");
  snprintf(cc, sizeof cc, "%s", gcc);
  for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
    char *argv[] = {cc, "-std=gnu11", "-O2", "-g", (char *)variants[i], "-fno-omit-frame-pointer",
                    "-o", exe, SRC_O2, NULL};
    hq_test_proc_t p;
    victim_out_t v;
    int64_t ids[3];
    frame_row_t r;
    hq_db_t *db;
    snprintf(exe, sizeof exe, "%s", hq_test_join(hq_test_tmpdir(), "victim"));
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
    if (p.exit_status != 0) fail_msg("gcc %s: %s", variants[i], p.err);
    hq_test_proc_free(&p);
    if (!strcmp(variants[i], "-gsplit-dwarf")) /* the functions really are elsewhere */
      assert_true(hq_test_exists(hq_test_join(dirname_of(exe), "victim-symchain_O2.dwo")));
    run_victim(exe, &v);
    read_build_id(exe, bid, sizeof bid);
    db = make_db(exe, bid, &v, ids);
    assert_int_equal(hq_symbolize(db, 0), HQ_OK);
    assert_frame(db, ids[0], "helper", SRC_O2, marker_line(SRC_O2, "LINE_CALL_LEAF"), &r);
    assert_frame(db, r.inline_parent, "level2", SRC_O2, marker_line(SRC_O2, "LINE_CALL_HELPER"), &r);
    assert_int_equal(r.inline_parent, 0);
    assert_frame(db, ids[1], "level1", SRC_O2, marker_line(SRC_O2, "LINE_CALL_LEVEL2"), NULL);
    assert_frame(db, ids[2], "main", SRC_O2, marker_line(SRC_O2, "LINE_CALL_LEVEL1"), NULL);
    assert_string_equal(module_status(db, 1), "ok");
    hq_db_close(db);
  }
}

static void test_symbolize_no_debug_info(void **state) {
  (void)state;
  const char *objcopy = hq_test_which("objcopy");
  const char *dir = hq_test_tmpdir();
  char tool[PATH_MAX], path[PATH_MAX], src[PATH_MAX], bid[128];
  char *argv[5];
  hq_test_proc_t p;
  victim_out_t v;
  int64_t ids[3];
  frame_row_t r;
  hq_db_t *db;
  static const char *const names[3] = {"level2", "level1", "main"};
  HQ_TEST_REQUIRE(objcopy != NULL, "objcopy (binutils)");
  snprintf(tool, sizeof tool, "%s", objcopy);
  snprintf(src, sizeof src, "%s", hq_test_build_path("tests/victims/symchain"));
  snprintf(path, sizeof path, "%s/symchain-stripped", dir);
  argv[0] = tool;
  argv[1] = "--strip-debug";
  argv[2] = src;
  argv[3] = path;
  argv[4] = NULL;
  assert_int_equal(hq_test_run(argv, NULL, NULL, 30, &p), 0);
  assert_int_equal(p.exit_status, 0);
  hq_test_proc_free(&p);
  read_build_id(path, bid, sizeof bid);
  run_victim("tests/victims/symchain", &v);
  db = make_db(path, bid, &v, ids);
  assert_int_equal(hq_symbolize(db, 0), HQ_OK);
  assert_string_equal(module_status(db, 1), "no-debug-info");
  for (int i = 0; i < 3; i++) {
    get_row(db, ids[i], &r);
    assert_true(r.has_function);
    assert_string_equal(r.function, names[i]);
    assert_false(r.has_file);
    assert_false(r.has_line);
    assert_int_equal(r.inline_parent, 0);
  }
  hq_db_close(db);
}

static void test_symbolize_idempotent(void **state) {
  (void)state;
  victim_out_t v;
  int64_t ids[3];
  frame_row_t before, after;
  hq_db_t *db;
  db = victim_db("tests/victims/symchain_O2", 0, &v, ids);
  assert_int_equal(hq_symbolize(db, 0), HQ_OK);
  get_row(db, ids[0], &before);
  assert_int_equal(hq_symbolize(db, 0), HQ_OK);
  /* Even when asked to retry (as `heapql symbolize` does), resolved frames stay as they are. */
  assert_int_equal(hq_db_meta_set(db, "symbolized", "0"), HQ_OK);
  assert_int_equal(hq_symbolize(db, 0), HQ_OK);
  get_row(db, ids[0], &after);
  assert_int_equal(q_int(db, "SELECT count(*) FROM frames"), 4);
  assert_string_equal(after.function, before.function);
  assert_int_equal(after.line, before.line);
  assert_int_equal(after.inline_parent, before.inline_parent);
  assert_int_equal(q_int(db, "SELECT value FROM meta WHERE key = 'symbolized'"), 1);
  hq_db_close(db);
}

/* Two processes (a merge) with the same file at different bases: one resolver, both resolved;
 * a [vdso] module is left alone. */
static void test_symbolize_shared_file_and_pseudo_module(void **state) {
  (void)state;
  const char *dbpath = hq_test_join(hq_test_tmpdir(), "merged.db");
  char path[PATH_MAX], bid[128];
  victim_out_t v;
  hq_db_t *db = NULL;
  int64_t m1, m2, vdso, f1, f2, fv;
  const uint64_t other_base = 0x7f0000000000ull;
  snprintf(path, sizeof path, "%s", hq_test_build_path("tests/victims/symchain"));
  run_victim("tests/victims/symchain", &v);
  read_build_id(path, bid, sizeof bid);
  assert_int_equal(hq_db_open(dbpath, HQ_DB_CREATE, &db), HQ_OK);
  m1 = add_module(db, 1, path, bid, v.base);
  m2 = add_module(db, 2, path, bid, other_base);
  vdso = add_module(db, 1, "[vdso]", NULL, 0x7ffff7fc1000ull);
  f1 = add_frame(db, m1, v.ip[1], v.base);
  f2 = add_frame(db, m2, v.ip[1] - v.base + other_base, other_base);
  fv = add_frame(db, vdso, 0x7ffff7fc1a10ull, 0x7ffff7fc1000ull);
  assert_int_equal(hq_symbolize(db, 0), HQ_OK);
  assert_frame(db, f1, "level1", SRC_O0, marker_line(SRC_O0, "LINE_CALL_LEVEL2"), NULL);
  assert_frame(db, f2, "level1", SRC_O0, marker_line(SRC_O0, "LINE_CALL_LEVEL2"), NULL);
  assert_string_equal(module_status(db, m1), "ok");
  assert_string_equal(module_status(db, m2), "ok");
  assert_int_equal(hq_test_q_int(hq_db_sqlite(db), "SELECT file_status IS NULL FROM modules "
                                                   "WHERE id = %lld", (long long)vdso), 1);
  assert_int_equal(hq_test_q_int(hq_db_sqlite(db), "SELECT function IS NULL FROM frames "
                                                   "WHERE id = %lld", (long long)fv), 1);
  hq_db_close(db);
}

static void test_symbolize_empty_database(void **state) {
  (void)state;
  hq_db_t *db = NULL;
  assert_int_equal(hq_db_open(hq_test_join(hq_test_tmpdir(), "empty.db"), HQ_DB_CREATE, &db), HQ_OK);
  assert_int_equal(hq_symbolize(db, 0), HQ_OK);
  assert_int_equal(q_int(db, "SELECT value FROM meta WHERE key = 'symbolized'"), 1);
  assert_int_equal(q_int(db, "SELECT count(*) FROM frames"), 0);
  hq_db_close(db);
}

static void test_symbolize_read_only_and_misuse(void **state) {
  (void)state;
  char dbpath[PATH_MAX];
  victim_out_t v;
  int64_t ids[3];
  hq_db_t *db;
  db = victim_db("tests/victims/symchain", 0, &v, ids);
  snprintf(dbpath, sizeof dbpath, "%s", hq_db_path(db));
  hq_db_close(db);
  assert_int_equal(hq_db_open(dbpath, HQ_DB_READONLY, &db), HQ_OK);
  assert_int_equal(hq_symbolize(db, 0), HQ_EDB);
  assert_non_null(strstr(hq_db_errmsg(db), "read-only, cannot store symbols"));
  assert_int_equal(q_int(db, "SELECT count(*) FROM frames WHERE function IS NULL"), 3);
  hq_db_close(db);
  assert_int_equal(hq_symbolize(NULL, 0), HQ_EMISUSE);
}

static void test_symbolize_demangle_names(void **state) {
  (void)state;
  static const char *const cases[][2] = {
    {"_ZN2ns6WidgetIiE4makeEm", "ns::Widget<int>::make(unsigned long)"},
    {"_ZN1h5inner10W$LT$T$GT$4make17hbc4f45b31ba6e2f6E", "h::inner::W<T>::make"},
    {"_ZN4core3ptr85drop_in_place$LT$std..rt..lang_start$LT$$LP$$RP$$GT$..$u7b$$u7b$closure"
     "$u7d$$u7d$$GT$17h0123456789abcdefE",
     "core::ptr::drop_in_place<std::rt::lang_start<()>::{{closure}}>"},
    {"_RNvNtNtNtNtNtCsjrHSEGnQ3l9_3std3sys3pal4unix14stack_overflow3imp12make_handler",
     "std::sys::pal::unix::stack_overflow::imp::make_handler"},
    {"_RINvMNtCsgEmfK2I1SDS_4core3stre18trim_start_matchesReECsgY6Mt91CT9J_14rustc_demangle",
     "<str>::trim_start_matches::<&str>"},
    {"_RINvMNtCsgEmfK2I1SDS_4core5sliceSh11copy_withinINtNtNtB5_3ops5range14RangeInclusivejEE"
     "CsfEOYDRpO4Ta_11miniz_oxide",
     "<[u8]>::copy_within::<core::ops::range::RangeInclusive<usize>>"},
    {"_RNvXs1g_NtCsgEmfK2I1SDS_4core3fmtRDNtB6_5DebugEL_Bx_3fmtB8_",
     "<&dyn core::fmt::Debug as core::fmt::Debug>::fmt"},
    {"_RINvNtCsgEmfK2I1SDS_4core3ptr13drop_in_placeINtNtCslNYArtu3iFV_5alloc5boxed3BoxDG0_INtNtNtB4"
     "_3ops8function2FnTRL1_INtNtCsjrHSEGnQ3l9_3std5panic13PanicHookInfoL0_EEEp6OutputuNtNtB4_6mar"
     "ker4SyncNtB2N_4SendEL_EEB1T_",
     "core::ptr::drop_in_place::<alloc::boxed::Box<dyn for<'a, 'b> core::ops::function::Fn<(&'a "
     "std::panic::PanicHookInfo<'b>,), Output = ()> + core::marker::Sync + core::marker::Send>>"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *got = hq__demangle(cases[i][0]);
    if (!got) fail_msg("no demangling for %s", cases[i][0]);
    assert_string_equal(got, cases[i][1]);
    free(got);
  }
  assert_null(hq__demangle("main"));
  assert_null(hq__demangle("_Rbroken"));
}

static void test_symbolize_cli(void **state) {
  (void)state;
  char heapql[PATH_MAX], dbpath[PATH_MAX], text[PATH_MAX];
  char *argv[5];
  hq_test_proc_t p;
  victim_out_t v;
  int64_t ids[3];
  hq_db_t *db;
  FILE *f;
  snprintf(heapql, sizeof heapql, "%s", hq_test_build_path("bin/heapql"));
  db = victim_db("tests/victims/symchain_O2", 0, &v, ids);
  snprintf(dbpath, sizeof dbpath, "%s", hq_db_path(db));
  hq_db_close(db);

  argv[0] = heapql;
  argv[1] = "symbolize";
  argv[2] = dbpath;
  argv[3] = NULL;
  assert_int_equal(hq_test_run(argv, NULL, NULL, 30, &p), 0);
  assert_int_equal(p.exit_status, 0);
  assert_int_equal(p.out_len, 0);
  assert_non_null(strstr(p.err, "heapql: symbolized 3 of 3 frames (+1 inline frames) from 1 modules in "));
  assert_int_equal(strchr(p.err, '\n') - p.err + 1, (long)p.err_len); /* one line */
  hq_test_proc_free(&p);
  assert_int_equal(hq_db_open(dbpath, 0, &db), HQ_OK);
  assert_frame(db, ids[0], "helper", SRC_O2, marker_line(SRC_O2, "LINE_CALL_LEAF"), NULL);
  hq_db_close(db);

  /* Not a database: one line, exit 2. */
  snprintf(text, sizeof text, "%s", hq_test_join(hq_test_tmpdir(), "notes.txt"));
  f = fopen(text, "w");
  assert_non_null(f);
  fputs("these are not the frames you are looking for\n", f);
  fclose(f);
  argv[2] = text;
  assert_int_equal(hq_test_run(argv, NULL, NULL, 30, &p), 0);
  assert_int_equal(p.exit_status, 2);
  assert_true(!strncmp(p.err, "heapql: ", 8));
  assert_int_equal(strchr(p.err, '\n') - p.err + 1, (long)p.err_len);
  hq_test_proc_free(&p);

  /* No database, and an unknown option: usage errors. */
  argv[2] = NULL;
  assert_int_equal(hq_test_run(argv, NULL, NULL, 30, &p), 0);
  assert_int_equal(p.exit_status, 2);
  assert_string_equal(p.err, "heapql: symbolize: no database given (see 'heapql symbolize --help')\n");
  hq_test_proc_free(&p);
  argv[2] = "--frobnicate";
  argv[3] = dbpath;
  argv[4] = NULL;
  assert_int_equal(hq_test_run(argv, NULL, NULL, 30, &p), 0);
  assert_int_equal(p.exit_status, 2);
  assert_int_equal(strchr(p.err, '\n') - p.err + 1, (long)p.err_len);
  hq_test_proc_free(&p);
}

/* ---- many addresses: the function index agrees with libdw's dwarf_getscopes ---- */

typedef struct {
  const char *function;
  const char *file;
  int line;
} ref_frame_t;

/* DWARF's relative names are relative to the compilation directory. */
static const char *ref_abs(Dwarf_Die *cudie, const char *name) {
  static char buf[4][PATH_MAX * 2];
  static int k;
  char joined[PATH_MAX * 2];
  Dwarf_Attribute attr;
  const char *dir = dwarf_formstring(dwarf_attr(cudie, DW_AT_comp_dir, &attr));
  char *out = buf[k++ & 3];
  if (!name) return NULL;
  if (name[0] != '/' && dir) snprintf(joined, sizeof joined, "%s/%s", dir, name);
  else snprintf(joined, sizeof joined, "%s", name);
  if (!realpath(joined, out)) snprintf(out, PATH_MAX * 2, "%s", joined);
  return out;
}

static const char *ref_file(Dwarf_Die *cudie, Dwarf_Word idx) {
  Dwarf_Files *files;
  size_t n;
  if (dwarf_getsrcfiles(cudie, &files, &n) != 0 || idx >= n) return NULL;
  return ref_abs(cudie, dwarf_filesrc(files, idx, NULL, NULL));
}

static int is_function(Dwarf_Die *die) {
  int tag = dwarf_tag(die);
  return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine;
}

/* The reference chain at a: the innermost function from dwarf_getscopes, then for each inlined
 * instance the function whose DIE encloses it (dwarf_getscopes_die), with the call's line. */
static int ref_chain(Dwfl_Module *mod, Dwarf_Addr a, ref_frame_t *out, int cap) {
  Dwarf_Addr bias;
  Dwarf_Die *cudie = dwfl_module_addrdie(mod, a, &bias), *scopes = NULL, fn;
  int nscopes, n = 0, i;
  if (!cudie) return 0;
  nscopes = dwarf_getscopes(cudie, a - bias, &scopes);
  for (i = 0; i < nscopes && !is_function(&scopes[i]); i++) {}
  if (i >= nscopes) {
    free(scopes);
    return 0;
  }
  fn = scopes[i];
  free(scopes);
  {
    Dwarf_Line *l = dwarf_getsrc_die(cudie, a - bias);
    int lineno = 0;
    out[0].function = dwarf_diename(&fn);
    out[0].file = l ? ref_abs(cudie, dwarf_linesrc(l, NULL, NULL)) : NULL;
    out[0].line = l && dwarf_lineno(l, &lineno) == 0 ? lineno : 0;
    n = 1;
  }
  while (dwarf_tag(&fn) == DW_TAG_inlined_subroutine && n < cap) {
    Dwarf_Attribute attr;
    Dwarf_Word w;
    Dwarf_Die inl = fn;
    nscopes = dwarf_getscopes_die(&inl, &scopes);
    for (i = 1; i < nscopes && !is_function(&scopes[i]); i++) {}
    if (i >= nscopes) {
      free(scopes);
      break;
    }
    fn = scopes[i];
    free(scopes);
    out[n].function = dwarf_diename(&fn);
    out[n].file = dwarf_formudata(dwarf_attr(&inl, DW_AT_call_file, &attr), &w) == 0
                      ? ref_file(cudie, w) : NULL;
    out[n].line = dwarf_formudata(dwarf_attr(&inl, DW_AT_call_line, &attr), &w) == 0 ? (int)w : 0;
    n++;
  }
  return n;
}

static int first_object(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  *(uint64_t *)data = info->dlpi_addr;
  return 1;
}

static void test_symbolize_many_addresses_match_libdw(void **state) {
  (void)state;
  static const Dwfl_Callbacks cb = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
  };
  char self[PATH_MAX], bid[128];
  const char *dbpath = hq_test_join(hq_test_tmpdir(), "many.db");
  Dwfl *dwfl = dwfl_begin(&cb);
  Dwfl_Module *mod;
  Dwarf_Addr start, end;
  uint64_t base = 0, t0, t1;
  hq_db_t *db = NULL;
  sqlite3_stmt *st = NULL;
  int64_t mid, compared = 0, frames;
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  assert_true(n > 0);
  self[n] = '\0';
  read_build_id(self, bid, sizeof bid);
  dl_iterate_phdr(first_object, &base);

  assert_non_null(dwfl);
  dwfl_report_begin(dwfl);
  mod = dwfl_report_elf(dwfl, "self", self, -1, 0, true);
  dwfl_report_end(dwfl, NULL, NULL);
  assert_non_null(mod);
  {
    /* The addresses of .text: where return addresses live. */
    GElf_Addr bias;
    Elf *elf = dwfl_module_getelf(mod, &bias);
    Elf_Scn *scn = NULL;
    size_t shstrndx;
    assert_non_null(elf);
    assert_int_equal(elf_getshdrstrndx(elf, &shstrndx), 0);
    start = end = 0;
    while ((scn = elf_nextscn(elf, scn))) {
      GElf_Shdr sh;
      const char *name;
      if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name))) continue;
      if (!strcmp(name, ".text")) {
        start = sh.sh_addr + bias;
        end = start + sh.sh_size;
      }
    }
    assert_true(end > start);
  }

  /* One frame for every 3rd byte of the program's code: offsets o, looked up at o - 1. */
  assert_int_equal(hq_db_open(dbpath, HQ_DB_CREATE, &db), HQ_OK);
  exec_sql(hq_db_sqlite(db), "BEGIN");
  mid = add_module(db, 1, self, bid, base);
  assert_int_equal(sqlite3_prepare_v2(hq_db_sqlite(db), "INSERT INTO frames(module_id, ip, offset) "
                                      "VALUES(?1, ?2, ?3)", -1, &st, NULL), SQLITE_OK);
  for (Dwarf_Addr o = start + 1; o < end; o += 3) {
    sqlite3_bind_int64(st, 1, mid);
    sqlite3_bind_int64(st, 2, (int64_t)(base + o));
    sqlite3_bind_int64(st, 3, (int64_t)o);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  exec_sql(hq_db_sqlite(db), "COMMIT");
  frames = q_int(db, "SELECT count(*) FROM frames");

  t0 = hq__now_ns();
  assert_int_equal(hq_symbolize(db, 0), HQ_OK);
  t1 = hq__now_ns();
  print_message("symbolized %lld frames in %.1f ms\n", (long long)frames, (double)(t1 - t0) / 1e6);

  assert_int_equal(sqlite3_prepare_v2(hq_db_sqlite(db), "SELECT id, offset FROM frames WHERE "
                                      "is_inline = 0 ORDER BY id", -1, &st, NULL), SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    ref_frame_t ref[64];
    int64_t id = sqlite3_column_int64(st, 0);
    int nref = ref_chain(mod, (Dwarf_Addr)sqlite3_column_int64(st, 1) - 1, ref, 64);
    if (nref == 0 || !ref[0].function) continue;
    for (int k = 0; k < nref; k++) {
      frame_row_t r;
      char real[PATH_MAX];
      if (id == 0) fail_msg("chain shorter than libdw's at offset %lld", sqlite3_column_int64(st, 1));
      get_row(db, id, &r);
      if (r.has_file && realpath(r.file, real)) snprintf(r.file, sizeof r.file, "%s", real);
      if (!ref[k].function || strcmp(r.function, ref[k].function) ||
          (ref[k].file ? strcmp(r.file, ref[k].file) : r.has_file) ||
          (ref[k].file && r.line != ref[k].line))
        fail_msg("offset 0x%llx level %d: got %s %s:%lld, libdw says %s %s:%d",
                 (unsigned long long)sqlite3_column_int64(st, 1), k, r.function, r.file,
                 (long long)r.line, ref[k].function, ref[k].file ? ref[k].file : "-", ref[k].line);
      id = r.inline_parent;
    }
    if (id != 0) fail_msg("chain longer than libdw's at offset %lld", sqlite3_column_int64(st, 1));
    compared++;
  }
  sqlite3_finalize(st);
  print_message("%lld frames agree with dwarf_getscopes\n", (long long)compared);
  assert_true(compared > frames / 2);
  hq_db_close(db);
  dwfl_end(dwfl);
}

/* The executable sections of the module: the addresses a stack's return addresses are in. */
static int in_code(Dwfl_Module *mod, GElf_Addr a) {
  GElf_Addr bias;
  Elf *elf = dwfl_module_getelf(mod, &bias);
  Elf_Scn *scn = NULL;
  while (elf && (scn = elf_nextscn(elf, scn))) {
    GElf_Shdr sh;
    if (gelf_getshdr(scn, &sh) && (sh.sh_flags & SHF_EXECINSTR) && a >= sh.sh_addr + bias &&
        a < sh.sh_addr + bias + sh.sh_size)
      return 1;
  }
  return 0;
}

/* Probe one address of the code: hq__elfsyms_find must name what dwfl_module_addrinfo names. */
static void probe_symbol(Dwfl_Module *mod, const hq__elfsyms_t *t, GElf_Addr a, long *probes,
                         long *named, const char *path) {
  GElf_Off off;
  GElf_Sym sym;
  uint64_t start = 0;
  const char *want;
  if (!in_code(mod, a)) return;
  want = dwfl_module_addrinfo(mod, a, &off, &sym, NULL, NULL, NULL);
  const char *got = hq__elfsyms_find(t, a, &start);
  if (want && !*want) want = NULL;
  if (!want != !got || (want && (strcmp(want, got) || start != a - off)))
    fail_msg("%s at 0x%llx: got %s (start 0x%llx), libdwfl says %s (start 0x%llx)", path,
             (unsigned long long)a, got ? got : "nothing", (unsigned long long)start,
             want ? want : "nothing", (unsigned long long)(a - off));
  (*probes)++;
  *named += want != NULL;
}

/* The sorted ELF symbol table answers as libdwfl's linear search does, address by address in
 * the code (where return addresses are): around every symbol's bounds and every 61st byte (a sample of them in large
 * tables, where libdwfl's answers are slow), in binaries with .symtab
 * (heapql itself), with only .dynsym and many weak and local aliases (libc, libstdc++), and a
 * large stripped program (gcc's cc1, when installed). */
static void test_elf_symbols_match_libdwfl(void **state) {
  (void)state;
  char cc1[PATH_MAX] = "";
  FILE *f = popen("cc -print-prog-name=cc1 2>/dev/null", "r");
  if (f) {
    if (!fgets(cc1, sizeof cc1, f)) cc1[0] = '\0';
    cc1[strcspn(cc1, "\n")] = '\0';
    pclose(f);
  }
  const char *paths[] = {hq_test_build_path("bin/heapql"), "/lib/x86_64-linux-gnu/libc.so.6",
                         "/lib/x86_64-linux-gnu/libstdc++.so.6", cc1};
  for (size_t p = 0; p < sizeof paths / sizeof *paths; p++) {
    static const Dwfl_Callbacks cb = {.find_elf = dwfl_build_id_find_elf,
                                      .find_debuginfo = dwfl_standard_find_debuginfo};
    Dwfl *dwfl;
    Dwfl_Module *mod;
    hq__elfsyms_t *t = NULL;
    long probes = 0, named = 0, stride;
    int n;
    if (!paths[p][0] || access(paths[p], R_OK)) {
      print_message("%s: not here, not compared\n", paths[p][0] ? paths[p] : "cc1");
      continue;
    }
    dwfl = dwfl_begin(&cb);
    assert_non_null(dwfl);
    mod = dwfl_report_elf(dwfl, paths[p], paths[p], -1, 0, true);
    assert_non_null(mod);
    dwfl_report_end(dwfl, NULL, NULL);
    n = dwfl_module_getsymtab(mod);
    assert_true(n > 100);
    assert_int_equal(hq__elfsyms_build(mod, &t), HQ_OK);
    assert_non_null(t);
    /* libdwfl walks every symbol per lookup: about 2.5 * 10^7 symbol visits per module at most */
    stride = (long)n * 5 * n / 25000000 + 1;
    for (int i = 1; i < n; i += (int)stride) {
      GElf_Sym sym;
      GElf_Addr a;
      GElf_Word shndx;
      if (!dwfl_module_getsym_info(mod, i, &sym, &a, &shndx, NULL, NULL) || !a) continue;
      probe_symbol(mod, t, a - 1, &probes, &named, paths[p]);
      probe_symbol(mod, t, a, &probes, &named, paths[p]);
      probe_symbol(mod, t, a + sym.st_size / 2, &probes, &named, paths[p]);
      if (sym.st_size) probe_symbol(mod, t, a + sym.st_size - 1, &probes, &named, paths[p]);
      probe_symbol(mod, t, a + sym.st_size, &probes, &named, paths[p]);
    }
    {
      GElf_Addr bias;
      Elf *elf = dwfl_module_getelf(mod, &bias);
      Elf_Scn *scn = NULL;
      while (elf && (scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_EXECINSTR)) continue;
        for (GElf_Addr a = sh.sh_addr; a < sh.sh_addr + sh.sh_size; a += 61 * (GElf_Addr)stride)
          probe_symbol(mod, t, a + bias, &probes, &named, paths[p]);
      }
    }
    print_message("%s: %d symbols, %ld addresses named as libdwfl names them (%ld named)\n",
                  paths[p], n, probes, named);
    assert_true(named > 1000);
    hq__elfsyms_free(t);
    dwfl_end(dwfl);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup(test_symbolize_O0_call_chain, setup),
    cmocka_unit_test_setup(test_symbolize_O2_inline_frame, setup),
    cmocka_unit_test_setup(test_symbolize_cxx_demangled, setup),
    cmocka_unit_test_setup(test_symbolize_changed_build_id, setup),
    cmocka_unit_test_setup(test_symbolize_missing_file, setup),
    cmocka_unit_test_setup(test_symbolize_debug_file_by_build_id, setup),
    cmocka_unit_test_setup(test_symbolize_dwarf_variants, setup),
    cmocka_unit_test_setup(test_symbolize_no_debug_info, setup),
    cmocka_unit_test_setup(test_symbolize_idempotent, setup),
    cmocka_unit_test_setup(test_symbolize_shared_file_and_pseudo_module, setup),
    cmocka_unit_test_setup(test_symbolize_empty_database, setup),
    cmocka_unit_test_setup(test_symbolize_read_only_and_misuse, setup),
    cmocka_unit_test_setup(test_symbolize_demangle_names, setup),
    cmocka_unit_test_setup(test_symbolize_cli, setup),
    cmocka_unit_test_setup(test_symbolize_many_addresses_match_libdw, setup),
    cmocka_unit_test_setup(test_elf_symbols_match_libdwfl, setup),
  };
  return cmocka_run_group_tests_name("symbolize", tests, NULL, NULL);
}
