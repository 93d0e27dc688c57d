/*
 * test_preload_python.c: Python frames in stacks (issue 12).  Scripts with known allocation
 * lines run under `heapql run` on Debian's /usr/bin/python3 (with numpy) and on every CPython
 * 3.8-3.13 pyenv has (skipped with a message where there is none): the top sites at the peak
 * and the top lines name exactly those files and lines, with the interpreter's native frames
 * below them; a leak in a C extension built here names its native site with the Python lines
 * that called it above it; --python-allocators malloc shows every object and says so.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hq_test.h"
#include "hq_json_flat.h"

#define HEAPQL() ((char *)hq_test_build_path("bin/heapql"))

/* a.py: a list grown at line 9 (8 MB), a dict cache of 3 MB filled at line 6 of b.py (called from line 13),
 * a numpy array made at line 14 (when numpy is there). */
static const char a_py[] =
  "import sys\n"                                      /* 1 */
  "sys.path.insert(0, sys.argv[1])\n"                 /* 2 */
  "import b\n"                                        /* 3 */
  "%s\n"                                              /* 4: import numpy, or pass */
  "\n"                                                /* 5 */
  "def grow():\n"                                     /* 6 */
  "    items = []\n"                                  /* 7 */
  "    for i in range(1000000):\n"                     /* 8 */
  "        items.append(i)\n"                         /* 9 */
  "    return items\n"                                /* 10 */
  "\n"                                                /* 11 */
  "keep = grow()\n"                                   /* 12 */
  "b.fill(3000)\n"                                    /* 13 */
  "%s\n"                                              /* 14: the numpy array, or pass */
  "class P:\n"                                        /* 15: objects made through __init__ */
  "    def __init__(self, i):\n"                      /* 16  (3.13 runs a trampoline frame) */
  "        self.i = [i]\n"                            /* 17 */
  "ps = [P(i) for i in range(2000)]\n";               /* 18 */

static const char b_py[] =
  "cache = {}\n"                                      /* 1 */
  "\n"                                                /* 2 */
  "\n"                                                /* 3 */
  "def fill(n):\n"                                    /* 4 */
  "    for i in range(n):\n"                          /* 5 */
  "        block = bytes(1000)\n"                     /* 6 */
  "        cache[i] = block\n";                       /* 7: the dict's own growth */

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

static hq_json_t heapql_json(char *const args[]) {
  char *argv[16];
  size_t n = 0;
  hq_test_proc_t p;
  hq_json_t j;
  argv[n++] = HEAPQL();
  while (*args && n < 15) argv[n++] = *args++;
  argv[n] = NULL;
  assert_int_equal(hq_test_run(argv, NULL, NULL, 120, &p), 0);
  if (p.exit_status != 0) print_message("heapql %s: %s", argv[1], p.err);
  assert_int_equal(p.exit_status, 0);
  assert_int_equal(hq_json_parse(p.out, &j), 0);
  hq_test_proc_free(&p);
  return j;
}

static const char *field(const hq_json_t *j, const char *list, int i, const char *name) {
  char path[128];
  const hq_json_entry_t *e;
  snprintf(path, sizeof path, "%s[%d].%s", list, i, name);
  e = hq_json_get(j, path);
  return e && e->value ? e->value : "";
}

static int ends_with(const char *s, const char *tail) {
  size_t n = strlen(s), t = strlen(tail);
  return n >= t && !strcmp(s + n - t, tail);
}

/* Site i of `list` is function fn at line `line` of a file ending in `file`. */
static void expect_at(const hq_json_t *j, const char *list, int i, const char *fn,
                      const char *file, int line) {
  char want[16];
  snprintf(want, sizeof want, "%d", line);
  if (strcmp(field(j, list, i, "function"), fn) || !ends_with(field(j, list, i, "file"), file) ||
      strcmp(field(j, list, i, "line"), want))
    fail_msg("%s[%d] is %s %s:%s, not %s %s:%d", list, i, field(j, list, i, "function"),
             field(j, list, i, "file"), field(j, list, i, "line"), fn, file, line);
}

/* The stack of the site text like `site` has the interpreter's native frames below its Python
 * frame (looked past), and `caller` (a Python frame "function file:line") further out. */
static void expect_stack(sqlite3 *db, const char *site_like, const char *caller_fn,
                         const char *caller_file, int caller_line) {
  int64_t stack = hq_test_q_int(db, "SELECT stack_id FROM stack_sites WHERE site LIKE '%s'"
                                    " ORDER BY stack_id LIMIT 1", site_like);
  int64_t pos = hq_test_q_int(db, "SELECT position FROM stack_sites WHERE stack_id = %lld",
                              (long long)stack);
  assert_true(pos >= 1);
  /* below the site: native frames only, the innermost in the interpreter */
  assert_int_equal(hq_test_q_int(db, "SELECT count(*) FROM stack_frames WHERE stack_id = %lld"
                                     " AND position < %lld AND ip >= 4611686018427387904",
                                 (long long)stack, (long long)pos), 0);
  assert_non_null(strstr(hq_test_q_text(db, "SELECT coalesce(module, '') FROM stack_frames"
                                            " WHERE stack_id = %lld AND position = 0",
                                        (long long)stack), "python"));
  assert_int_equal(hq_test_q_int(db, "SELECT count(*) FROM stack_frames WHERE stack_id = %lld"
                                     " AND position > %lld AND function = '%s'"
                                     " AND file LIKE '%%%s' AND line = %d"
                                     " AND ip >= 4611686018427387904",
                                 (long long)stack, (long long)pos, caller_fn, caller_file,
                                 caller_line), 1);
}

/* The flame graph, read by an XML parser: Python frames (class "py") have colours no native
 * frame has, and the script's lines are among them. */
static void check_flame_colours(const char *db) {
  static const char checker[] =
    "import sys, xml.etree.ElementTree as ET\n"
    "ns = '{http://www.w3.org/2000/svg}'\n"
    "py, native, names = set(), set(), set()\n"
    "for g in ET.parse(sys.argv[1]).getroot().iter(ns + 'g'):\n"
    "    cls = (g.get('class') or '').split()\n"
    "    if 'f' not in cls: continue\n"
    "    fill = g.find(ns + 'rect').get('fill')\n"
    "    name = g.get('data-n')\n"
    "    if 'py' in cls: py.add(fill); names.add(name)\n"
    "    elif name not in ('all',) and not name.startswith('['): native.add(fill)\n"
    "print(len(py) > 0, len(native) > 0, not (py & native), 'grow (a.py:9)' in names,"
    " 'fill (b.py:6)' in names, end='')\n";
  char *svg = strdup(hq_test_join(hq_test_tmpdir(), "py.svg"));
  hq_test_proc_t p;
  {
    char *argv[] = {HEAPQL(), "flamegraph", (char *)db, "-o", svg, NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 120, &p), 0);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
  }
  {
    char *argv[] = {"/usr/bin/python3", "-c", (char *)checker, svg, NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 120, &p), 0);
    if (p.exit_status) print_message("%s", p.err);
    assert_string_equal(p.out ? p.out : "", "True True True True True");
    hq_test_proc_free(&p);
  }
  free(svg);
}

static void check_python(const char *python, int with_numpy) {
  const char *dir = strdup(hq_test_tmpdir());
  char *a = strdup(hq_test_join(dir, "a.py")), *b = strdup(hq_test_join(dir, "b.py"));
  char *db = strdup(hq_test_join(dir, "py.db"));
  char text[2048];
  hq_test_proc_t p;
  hq_json_t j;
  sqlite3 *s;
  int i = 0;
  snprintf(text, sizeof text, a_py, with_numpy ? "import numpy" : "pass",
           with_numpy ? "arr = numpy.arange(4000000, dtype=numpy.float64)" : "pass");
  write_file(a, text);
  write_file(b, b_py);
  {
    char *cmd[] = {(char *)python, a, (char *)dir, NULL};
    hq_test_heapql_record(db, cmd, &p);
    if (p.exit_status != 0) print_message("%s: %s", python, p.err);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
  }
  {
    char *args[] = {"top", db, "--by", "peak", "--format", "json", "--limit", "5", NULL};
    j = heapql_json(args);
    if (with_numpy) {
      expect_at(&j, "sites", i, "<module>", "/a.py", 14);
      assert_string_equal(field(&j, "sites", i, "peak_blocks"), "1");
      assert_string_equal(field(&j, "sites", i, "peak_bytes"), "32000000");
      i++;
    }
    expect_at(&j, "sites", i, "grow", "/a.py", 9);
    assert_string_equal(field(&j, "sites", i, "peak_blocks"), "1");   /* the list's last buffer */
    assert_true(atol(field(&j, "sites", i, "peak_bytes")) >= 1000000 * 8);
    i++;
    expect_at(&j, "sites", i, "fill", "/b.py", 6);
    assert_string_equal(field(&j, "sites", i, "peak_blocks"), "3000");
    assert_string_equal(field(&j, "sites", i, "peak_bytes"), "3099000"); /* 3000 x (33 + 1000) */
    hq_json_free(&j);
  }
  {
    /* tracemalloc's "top lines": the innermost Python line of every stack */
    char *args[] = {"top", db, "--by", "line", "--format", "json", "--limit", "40", NULL};
    int found_fill = 0, found_grow = 0;
    j = heapql_json(args);
    for (int k = 0; k < 40; k++) {
      if (!strcmp(field(&j, "lines", k, "function"), "fill") &&
          ends_with(field(&j, "lines", k, "file"), "/b.py") && !strcmp(field(&j, "lines", k, "line"), "6"))
        found_fill = 1;
      if (!strcmp(field(&j, "lines", k, "function"), "grow") &&
          ends_with(field(&j, "lines", k, "file"), "/a.py") && !strcmp(field(&j, "lines", k, "line"), "9"))
        found_grow = 1;
      /* no line is a native frame of the interpreter when Python code was running */
      assert_null(strstr(field(&j, "lines", k, "function"), "PyList_Append"));
    }
    assert_true(found_fill && found_grow);
    hq_json_free(&j);
  }
  if (with_numpy) check_flame_colours(db);
  s = hq_test_sqlite_open(db);
  assert_string_equal(hq_test_q_text(s, "SELECT value FROM meta WHERE key = 'python_allocator'"),
                      "pymalloc");
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'python_frames'"), 1);
  /* pymalloc's arenas (1 MiB from 3.10, 256 KiB before) holding the million ints that the loop
   * of line 8 makes are mmap blocks with that line as their site */
  assert_true(hq_test_q_int(s, "SELECT count(*) FROM allocations a JOIN stack_sites ss"
                               " ON ss.stack_id = a.stack_id WHERE a.kind = 'mmap'"
                               " AND ss.function = 'grow' AND ss.file LIKE '%%/a.py'"
                               " AND ss.line = 8") >= 16);
  /* every Python frame has a function, a file and a line (interpreter trampolines left out) */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM frames WHERE ip >= 4611686018427387904 AND"
                                    " (function IS NULL OR file IS NULL OR line IS NULL OR line <= 0)"), 0);
  expect_stack(s, "fill %/b.py:6", "<module>", "/a.py", 13);
  expect_stack(s, "grow %/a.py:9", "<module>", "/a.py", 12);
  sqlite3_close(s);
  free(a);
  free(b);
  free(db);
  free((void *)dir);
}

static void test_python_lines_debian(void **state) {
  (void)state;
  HQ_TEST_REQUIRE(hq_test_exists("/usr/bin/python3"), "/usr/bin/python3");
  check_python("/usr/bin/python3", 1);
}

/* Every pyenv CPython 3.8..3.13 (3.8: co_lnotab and frame objects; 3.10: its own line table;
 * 3.11: is_entry frames; 3.12: shim frames; 3.13: current_frame on the thread state). */
static void test_python_lines_pyenv(void **state) {
  const char *home = getenv("HOME"), *root = getenv("PYENV_ROOT");
  char dir[1024];
  DIR *d;
  struct dirent *e;
  int tried = 0;
  (void)state;
  if (root && *root) snprintf(dir, sizeof dir, "%s/versions", root);
  else snprintf(dir, sizeof dir, "%s/.pyenv/versions", home ? home : "/root");
  if (!(d = opendir(dir))) {
    print_message("skipped: no pyenv CPython under %s\n", dir);
    return;
  }
  while ((e = readdir(d))) {
    unsigned major, minor, patch;
    char python[2048];
    if (sscanf(e->d_name, "%u.%u.%u", &major, &minor, &patch) != 3 || major != 3 || minor < 8 ||
        minor > 13 || strchr(e->d_name, 't'))
      continue;
    snprintf(python, sizeof python, "%s/%s/bin/python%u.%u", dir, e->d_name, major, minor);
    if (!hq_test_exists(python)) continue;
    print_message("CPython %s\n", e->d_name);
    check_python(python, 0);
    tried++;
  }
  closedir(d);
  if (!tried) print_message("skipped: no CPython 3.8-3.13 under %s\n", dir);
}

static const char ext_c[] =
  "#include <Python.h>\n"                                                  /* 1 */
  "#include <stdlib.h>\n"                                                  /* 2 */
  "#include <string.h>\n"                                                  /* 3 */
  "\n"                                                                     /* 4 */
  "__attribute__((noinline)) static void *make_block(size_t n) {\n"        /* 5 */
  "  void *p = malloc(n);\n"                                               /* 6 */
  "  if (p) memset(p, 7, n);\n"                                            /* 7 */
  "  return p;\n"                                                          /* 8 */
  "}\n"                                                                    /* 9 */
  "\n"                                                                     /* 10 */
  "static PyObject *leak(PyObject *self, PyObject *arg) {\n"               /* 11 */
  "  (void)self;\n"                                                        /* 12 */
  "  make_block((size_t)PyLong_AsLong(arg));\n"                            /* 13 */
  "  Py_RETURN_NONE;\n"                                                    /* 14 */
  "}\n"                                                                    /* 15 */
  "\n"
  "static PyMethodDef methods[] = {{\"leak\", leak, METH_O, NULL}, {NULL, NULL, 0, NULL}};\n"
  "static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, \"hqext\", NULL, -1, methods,"
  " NULL, NULL, NULL, NULL};\n"
  "PyMODINIT_FUNC PyInit_hqext(void) { return PyModule_Create(&def); }\n";

static const char c_py[] =
  "import sys\n"                                      /* 1 */
  "sys.path.insert(0, sys.argv[1])\n"                 /* 2 */
  "import hqext\n"                                    /* 3 */
  "\n"                                                /* 4 */
  "def work():\n"                                     /* 5 */
  "    hqext.leak(12345)\n"                           /* 6 */
  "\n"                                                /* 7 */
  "work()\n";                                         /* 8 */

static void test_python_extension_leak(void **state) {
  const char *dir;
  char *src, *so, *script, *db, inc[256];
  hq_test_proc_t p;
  sqlite3 *s;
  int64_t stack, pos;
  (void)state;
  HQ_TEST_REQUIRE(hq_test_exists("/usr/bin/python3"), "/usr/bin/python3");
  {
    char *argv[] = {"/usr/bin/python3", "-c",
                    "import sysconfig; print(sysconfig.get_paths()['include'], end='')", NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
    snprintf(inc, sizeof inc, "%s", p.out ? p.out : "");
    hq_test_proc_free(&p);
  }
  HQ_TEST_REQUIRE(hq_test_exists(hq_test_join(inc, "Python.h")), "Python.h (python3-dev)");
  dir = strdup(hq_test_tmpdir());
  src = strdup(hq_test_join(dir, "ext.c"));
  so = strdup(hq_test_join(dir, "hqext.so"));
  script = strdup(hq_test_join(dir, "c.py"));
  db = strdup(hq_test_join(dir, "ext.db"));
  write_file(src, ext_c);
  write_file(script, c_py);
  {
    char incflag[300];
    snprintf(incflag, sizeof incflag, "-I%s", inc);
    const char *cc = hq_test_which("cc");
    HQ_TEST_REQUIRE(cc, "cc");
    char *argv[] = {(char *)cc, "-shared", "-fPIC", "-g", "-O1", incflag, src, "-o", so, NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 120, &p), 0);
    if (p.exit_status) print_message("cc: %s", p.err);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
  }
  {
    char *cmd[] = {"/usr/bin/python3", script, (char *)dir, NULL};
    hq_test_heapql_record(db, cmd, &p);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
  }
  {
    char *args[] = {"leaks", db, "--format", "json", NULL}; /* builds stack_sites */
    hq_json_t j = heapql_json(args);
    hq_json_free(&j);
  }
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM leaks WHERE size = 12345"), 1);
  stack = hq_test_q_int(s, "SELECT stack_id FROM leaks WHERE size = 12345");
  pos = hq_test_q_int(s, "SELECT position FROM stack_sites WHERE stack_id = %lld", (long long)stack);
  /* the site is the extension's own line, not the Python line that called it */
  assert_string_equal(hq_test_q_text(s, "SELECT function FROM stack_sites WHERE stack_id = %lld",
                                     (long long)stack), "make_block");
  assert_true(ends_with(hq_test_q_text(s, "SELECT file FROM stack_sites WHERE stack_id = %lld",
                                       (long long)stack), "ext.c"));
  assert_int_equal(hq_test_q_int(s, "SELECT line FROM stack_sites WHERE stack_id = %lld",
                                 (long long)stack), 6);
  /* above it: the extension's entry point, then the Python lines that called it, in order */
  {
    int64_t leak_at = hq_test_q_int(s, "SELECT min(position) FROM stack_frames WHERE stack_id = %lld"
                                       " AND function = 'leak'", (long long)stack);
    int64_t work_at = hq_test_q_int(s, "SELECT min(position) FROM stack_frames WHERE stack_id = %lld"
                                       " AND function = 'work' AND file LIKE '%%/c.py' AND line = 6",
                                    (long long)stack);
    int64_t module_at = hq_test_q_int(s, "SELECT min(position) FROM stack_frames WHERE stack_id = %lld"
                                         " AND function = '<module>' AND file LIKE '%%/c.py'"
                                         " AND line = 8", (long long)stack);
    assert_true(pos < leak_at);
    assert_true(leak_at < work_at);
    assert_true(work_at < module_at);
  }
  sqlite3_close(s);
  free(src);
  free(so);
  free(script);
  free(db);
  free((void *)dir);
}

/* pymalloc hides small objects from malloc; --python-allocators malloc shows each, and the
 * database and the report say which one ran. */
static void test_python_allocators(void **state) {
  static const char m_py[] =
    "def make():\n"                                                   /* 1 */
    "    return [str(i) * 3 for i in range(5000)]\n"                  /* 2 */
    "keep = make()\n";                                                /* 3 */
  const char *dir;
  char *script, *db[2];
  int64_t counts[2];
  (void)state;
  HQ_TEST_REQUIRE(hq_test_exists("/usr/bin/python3"), "/usr/bin/python3");
  dir = strdup(hq_test_tmpdir());
  script = strdup(hq_test_join(dir, "m.py"));
  write_file(script, m_py);
  for (int k = 0; k < 2; k++) {
    const char *mode = k ? "malloc" : "pymalloc";
    char *argv[] = {HEAPQL(), "run", "-q", "--force", "--python-allocators", (char *)mode, "-o",
                    NULL, "--", "/usr/bin/python3", script, NULL};
    hq_test_proc_t p;
    hq_json_t j;
    sqlite3 *s;
    db[k] = strdup(hq_test_join(dir, k ? "malloc.db" : "pymalloc.db"));
    argv[7] = db[k];
    assert_int_equal(hq_test_run(argv, NULL, NULL, 120, &p), 0);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
    {
      char *args[] = {"report", db[k], "--format", "json", NULL};
      j = heapql_json(args);
      assert_string_equal(hq_json_get(&j, "run.python.allocator")->value, mode);
      assert_string_equal(hq_json_get(&j, "run.python.frames")->value, "true");
      hq_json_free(&j);
    }
    s = hq_test_sqlite_open(db[k]);
    counts[k] = hq_test_q_int(s, "SELECT coalesce(sum(c.allocations), 0) FROM callsites c"
                                 " JOIN stack_sites ss ON ss.stack_id = c.stack_id"
                                 " WHERE ss.file LIKE '%%/m.py' AND ss.line = 2 AND c.class = 'heap'");
    sqlite3_close(s);
    free(db[k]);
  }
  {
    /* HEAPQL_PYTHON_FRAMES=0: native frames only, and the database says so */
    char *off = strdup(hq_test_join(dir, "off.db"));
    char *argv[] = {HEAPQL(), "run", "-q", "--force", "-o", off, "--", "/usr/bin/python3", script,
                    NULL};
    char *env[] = {"HEAPQL_PYTHON_FRAMES=0", NULL};
    hq_test_proc_t p;
    sqlite3 *s;
    assert_int_equal(hq_test_run(argv, env, NULL, 120, &p), 0);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
    s = hq_test_sqlite_open(off);
    assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'python_frames'"), 0);
    assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM frames WHERE ip >= 4611686018427387904"), 0);
    assert_true(hq_test_q_int(s, "SELECT count(*) FROM frames") > 0);
    sqlite3_close(s);
    free(off);
  }
  /* pymalloc: the list's buffer growing past 512 B only; malloc: also the 4,990 str(i) that
   * are not cached single characters and their 4,990 tripled copies, one by one */
  assert_true(counts[0] < 100);
  assert_true(counts[1] >= counts[0] + 2 * 4990);
  free(script);
  free((void *)dir);
}

/* heapql diff of two runs of one script: the site that grew is matched through its Python
 * frames (function, file, line), with its counts from each run. */
static void test_python_diff(void **state) {
  static const char d_py[] =
    "import sys\n"                                     /* 1 */
    "cache = []\n"                                     /* 2 */
    "\n"                                               /* 3 */
    "def fill(n):\n"                                   /* 4 */
    "    for i in range(n):\n"                         /* 5 */
    "        cache.append(bytes(1000))\n"              /* 6 */
    "\n"                                               /* 7 */
    "fill(int(sys.argv[1]))\n";                        /* 8 */
  const char *dir;
  char *script, *db[2];
  hq_json_t j;
  int found = 0;
  (void)state;
  HQ_TEST_REQUIRE(hq_test_exists("/usr/bin/python3"), "/usr/bin/python3");
  dir = strdup(hq_test_tmpdir());
  script = strdup(hq_test_join(dir, "d.py"));
  write_file(script, d_py);
  for (int k = 0; k < 2; k++) {
    char *cmd[] = {"/usr/bin/python3", script, k ? "2500" : "1000", NULL};
    hq_test_proc_t p;
    db[k] = strdup(hq_test_join(dir, k ? "d2.db" : "d1.db"));
    hq_test_heapql_record(db[k], cmd, &p);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
  }
  {
    char *args[] = {"diff", db[0], db[1], "--format", "json", NULL};
    j = heapql_json(args);
  }
  for (int i = 0; i < 20; i++) {
    const char *key = field(&j, "grown_peak", i, "key");
    if (!strstr(key, "<module> (d.py:8);fill (d.py:6);")) continue;
    if (strcmp(field(&j, "grown_peak", i, "base.count"), "1000")) continue;
    assert_string_equal(field(&j, "grown_peak", i, "new.count"), "2500");
    assert_string_equal(field(&j, "grown_peak", i, "new.bytes"), "2582500"); /* 2500 x 1033 */
    found++;
  }
  assert_int_equal(found, 1);
  hq_json_free(&j);
  free(db[0]);
  free(db[1]);
  free(script);
  free((void *)dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_python_lines_debian),
    cmocka_unit_test(test_python_lines_pyenv),
    cmocka_unit_test(test_python_extension_leak),
    cmocka_unit_test(test_python_allocators),
    cmocka_unit_test(test_python_diff),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
