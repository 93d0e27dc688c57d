/*
 * test_preload_gate.c: CI leak gates (issue 10).  `heapql gate` over recorded programs, its five
 * formats read by their real consumers (SARIF against the OASIS 2.1.0 schema with
 * python3-jsonschema, JUnit with python3-junitparser, JSON with a JSON parser, GitHub lines in
 * their documented form); suppressions (files and the program's own), baselines (a new leak
 * beside an accepted one fails; moved code and a renamed file still match; stale entries are
 * listed); malformed input exits 2 with its line; `heapql run --gate`; `heapql diff`'s matching.
 */
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hq_test.h"

#define HEAPQL() ((char *)hq_test_build_path("bin/heapql"))
#define VICTIM(n) ((char *)hq_test_build_path("tests/victims/" n))
#define PY "/usr/bin/python3"

static char *keep(const char *s) {
  char *c = strdup(s);
  assert_non_null(c);
  return c;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* heapql ARGS (NULL-ended); its result in *p. */
static void heapql(hq_test_proc_t *p, char *const args[]) {
  char *argv[40];
  size_t n = 0;
  argv[n++] = HEAPQL();
  while (*args && n < 39) argv[n++] = *args++;
  argv[n] = NULL;
  assert_int_equal(hq_test_run(argv, NULL, NULL, 120, p), 0);
}

static void record(const char *db, char *const cmd[]) {
  hq_test_proc_t p;
  hq_test_heapql_record(db, cmd, &p);
  assert_int_equal(p.term_signal, 0);
  hq_test_proc_free(&p);
}

/* Compile src (C) to exe with debug info. */
static void compile(const char *src, const char *exe) {
  const char *cc = hq_test_which("cc");
  char *cc_path = cc ? keep(cc) : NULL;
  hq_test_proc_t p;
  assert_non_null(cc_path);
  char *argv[] = {cc_path, "-g", "-O0", "-fno-omit-frame-pointer", "-o", (char *)exe, (char *)src, NULL};
  assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
  if (p.exit_status) print_message("cc: %s\n", p.err);
  assert_int_equal(p.exit_status, 0);
  hq_test_proc_free(&p);
  free(cc_path);
}

/* A python check over files; fails with its output unless it prints "ok". */
static void python_check(const char *script, char *const args[]) {
  char *argv[16] = {PY, "-c", (char *)script};
  size_t n = 3;
  hq_test_proc_t p;
  while (*args && n < 15) argv[n++] = *args++;
  argv[n] = NULL;
  assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
  if (strcmp(p.out, "ok\n")) fail_msg("check failed: %s%s", p.out, p.err);
  hq_test_proc_free(&p);
}

/* ---- the formats, by their consumers ---- */

static void test_gate_formats_read_by_consumers(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  char *db = keep(hq_test_join(dir, "lc.db")), *json = keep(hq_test_join(dir, "g.json"));
  char *junit = keep(hq_test_join(dir, "g.xml")), *sarif = keep(hq_test_join(dir, "g.sarif"));
  char *gh = keep(hq_test_join(dir, "g.github")), gh_opt[4300];
  char *cmd[] = {VICTIM("v_leakcheck"), NULL};
  hq_test_proc_t p;
  HQ_TEST_REQUIRE(hq_test_exists(PY), "/usr/bin/python3");
  record(db, cmd);
  snprintf(gh_opt, sizeof gh_opt, "--github=%s", gh);
  {
    char *a[] = {"gate", db, "--json", json, "--junit", junit, "--sarif", sarif, gh_opt, NULL};
    heapql(&p, a);
    assert_int_equal(p.exit_status, 1);
    assert_int_equal(strncmp(p.out, "heapql gate: FAIL (2 checks failed)\n", 36), 0);
    hq_test_proc_free(&p);
  }
  /* JSON: the verdict and the counts */
  {
    char *args[] = {json, NULL};
    python_check("import json, sys\n"
                 "d = json.load(open(sys.argv[1]))\n"
                 "assert d['verdict'] == 'fail', d['verdict']\n"
                 "c = d['counted']\n"
                 "assert (c['definitely_lost']['blocks'], c['definitely_lost']['bytes']) == (3, 3080), c\n"
                 "assert (c['indirectly_lost']['blocks'], c['indirectly_lost']['bytes']) == (9, 336), c\n"
                 "assert c['possibly_lost']['blocks'] == 2 and c['still_reachable']['blocks'] == 6, c\n"
                 "top = [l for l in d['leaks'] if l['fails']][0]\n"
                 "assert top['class'] == 'definitely_lost' and top['bytes'] == 3000, top\n"
                 "assert top['site']['function'] == 'make_plain' and top['site']['line'] == 114, top['site']\n"
                 "assert top['stack'][0].startswith('make_plain '), top['stack']\n"
                 "print('ok')\n", args);
  }
  /* SARIF 2.1.0: the standard's own schema, then what the results say */
  {
    char *args[] = {sarif, (char *)"tests/data/sarif-schema-2.1.0.json", NULL};
    python_check("import json, sys, jsonschema\n"
                 "doc = json.load(open(sys.argv[1]))\n"
                 "jsonschema.validate(doc, json.load(open(sys.argv[2])))\n"
                 "res = doc['runs'][0]['results']\n"
                 "assert len(res) == 10, len(res)\n"
                 "r = res[0]\n"
                 "assert r['ruleId'] == 'heapql/definitely-lost' and r['level'] == 'error', r\n"
                 "loc = r['locations'][0]['physicalLocation']\n"
                 "assert loc['artifactLocation']['uri'].endswith('v_leakcheck.c'), loc\n"
                 "assert loc['region']['startLine'] == 114, loc\n"
                 "flow = r['codeFlows'][0]['threadFlows'][0]['locations']\n"
                 "assert flow[-1]['location']['message']['text'].startswith('make_plain'), flow[-1]\n"
                 "assert len(r['partialFingerprints']['heapqlStack/v1']) == 16\n"
                 "print('ok')\n", args);
  }
  /* JUnit: junitparser reads the suites and their failures */
  {
    char *args[] = {junit, NULL};
    python_check("import sys\n"
                 "from junitparser import JUnitXml, Failure\n"
                 "xml = JUnitXml.fromfile(sys.argv[1])\n"
                 "cases = [c for s in xml for c in s]\n"
                 "failed = [c for c in cases if any(isinstance(r, Failure) for r in c.result)]\n"
                 "names = [c.name for c in failed]\n"
                 "assert 'definitely lost' in names and 'indirectly lost' in names, names\n"
                 "assert any(n.startswith('definitely lost: 2.93 KiB in 1 block allocated at make_plain') for n in names), names\n"
                 "assert len(failed) == 12, len(failed)\n"
                 "print('ok')\n", args);
  }
  /* GitHub: workflow commands, one per failing leak and per failed check */
  {
    char *args[] = {gh, NULL};
    python_check("import re, sys\n"
                 "lines = open(sys.argv[1]).read().splitlines()\n"
                 "leak = re.compile(r'^::error file=[^,:]*v_leakcheck\\.c,line=[0-9]+,title=heapql%3A (definitely|indirectly) lost::.+$')\n"
                 "check = re.compile(r'^::error title=heapql gate::.+$')\n"
                 "assert sum(bool(leak.match(l)) for l in lines) == 10, lines\n"
                 "assert sum(bool(check.match(l)) for l in lines) == 2, lines\n"
                 "assert len(lines) == 12, lines\n"
                 "print('ok')\n", args);
  }
  free(db);
  free(json);
  free(junit);
  free(sarif);
  free(gh);
}

/* ---- suppressions ---- */

static void test_gate_suppressions(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  char *db = keep(hq_test_join(dir, "lc.db")), *supp = keep(hq_test_join(dir, "lsan.supp"));
  char *bad = keep(hq_test_join(dir, "bad.supp"));
  char *cmd[] = {VICTIM("v_leakcheck"), NULL};
  hq_test_proc_t p;
  record(db, cmd);
  write_file(supp, "# LeakSanitizer's syntax\nleak:make_plain\nleak:^make_list$\n\nleak:v_leakcheck.c\n");
  {
    char *a[] = {"gate", db, "--suppressions", supp, "--format", "json", NULL};
    heapql(&p, a);
    assert_int_equal(p.exit_status, 0);
    assert_non_null(strstr(p.out, "\"verdict\": \"pass\""));
    assert_non_null(strstr(p.out, "\"why\": \"make_plain\""));
    assert_non_null(strstr(p.out, "\"why\": \"^make_list$\""));
    hq_test_proc_free(&p);
  }
  write_file(bad, "leak:ok_one\nrace:not_ours\n");
  {
    char *a[] = {"gate", db, "--suppressions", bad, NULL};
    char want[4400];
    heapql(&p, a);
    assert_int_equal(p.exit_status, 2);
    snprintf(want, sizeof want, "heapql: gate: %s:2: not a leak suppression (leak:PATTERN): 'race:not_ours'\n", bad);
    assert_string_equal(p.err, want);
    assert_int_equal(p.out_len, 0);
    hq_test_proc_free(&p);
  }
  free(db);
  free(supp);
  free(bad);
}

static const char embedded_src[] =
  "#include <stdlib.h>\n"
  "const char *__lsan_default_suppressions(void) { return \"leak:known_leak\\n\"; }\n"
  "__attribute__((noinline)) void known_leak(void) { void *volatile p = malloc(4321); p = 0; (void)p; }\n"
  "int main(void) { known_leak(); return 0; }\n";

static void test_gate_embedded_suppressions(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  char *src = keep(hq_test_join(dir, "emb.c")), *exe = keep(hq_test_join(dir, "emb"));
  char *db = keep(hq_test_join(dir, "emb.db"));
  char *cmd[] = {exe, NULL};
  hq_test_proc_t p;
  write_file(src, embedded_src);
  compile(src, exe);
  record(db, cmd);
  {
    char *a[] = {"gate", db, NULL};
    heapql(&p, a);
    assert_int_equal(p.exit_status, 0); /* the program's own suppression holds */
    assert_non_null(strstr(p.out, "suppressed 1,"));
    hq_test_proc_free(&p);
  }
  {
    char *a[] = {"gate", db, "--no-embedded-suppressions", NULL};
    heapql(&p, a);
    assert_int_equal(p.exit_status, 1);
    assert_non_null(strstr(p.out, "allocated at known_leak emb.c:3"));
    hq_test_proc_free(&p);
  }
  free(src);
  free(exe);
  free(db);
}

/* ---- baselines, and diff's matching ---- */

/* The program of a project at three moments: v1 leaks once; v2 adds a leak on the next line of
 * the same function; v3 is v1 with the function moved down and its file renamed. */
static void write_version(const char *path, int version) {
  char text[2048];
  snprintf(text, sizeof text,
           "#include <stdlib.h>\n"
           "%s"
           "__attribute__((noinline)) void leak_some(void) {\n"
           "  void *volatile a = malloc(5555);\n"
           "%s"
           "  a = 0; (void)a;\n"
           "}\n"
           "int main(void) { leak_some(); return 0; }\n",
           version == 3 ? "/* moved */\n/* down */\n/* three lines */\n" : "",
           version == 2 ? "  void *volatile b = malloc(7777); b = 0; (void)b;\n" : "");
  write_file(path, text);
}

static char *project_db(const char *dir, int version) {
  char name[32], *src, *exe, *db;
  snprintf(name, sizeof name, version == 3 ? "renamed%d.c" : "proj%d.c", version);
  src = keep(hq_test_join(dir, name));
  snprintf(name, sizeof name, "proj%d", version);
  exe = keep(hq_test_join(dir, name));
  snprintf(name, sizeof name, "proj%d.db", version);
  db = keep(hq_test_join(dir, name));
  write_version(src, version);
  compile(src, exe);
  {
    char *cmd[] = {exe, NULL};
    record(db, cmd);
  }
  free(src);
  free(exe);
  return db;
}

static void test_gate_baselines(void **state) {
  (void)state;
  char *dir = keep(hq_test_tmpdir());
  char *v1 = project_db(dir, 1), *v2 = project_db(dir, 2), *v3 = project_db(dir, 3);
  char *base = keep(hq_test_join(dir, "leaks.baseline")), *bad = keep(hq_test_join(dir, "bad.baseline"));
  hq_test_proc_t p;
  {
    char *a[] = {"gate", v1, "--update-baseline", base, NULL};
    heapql(&p, a);
    assert_int_equal(p.exit_status, 1); /* the verdict without a baseline */
    hq_test_proc_free(&p);
  }
  {
    char *a[] = {"gate", v1, "--baseline", base, NULL};
    heapql(&p, a);
    assert_int_equal(p.exit_status, 0);
    assert_non_null(strstr(p.out, "baselined 1,"));
    hq_test_proc_free(&p);
  }
  {
    /* the new leak beside the accepted one fails, alone */
    char *a[] = {"gate", v2, "--baseline", base, "--format", "json", NULL};
    heapql(&p, a);
    assert_int_equal(p.exit_status, 1);
    assert_non_null(strstr(p.out, "\"bytes\": 7777"));
    assert_non_null(strstr(p.out, "\"counted\": {\n    \"definitely_lost\": {\n      \"blocks\": 1,\n      \"bytes\": 7777\n    },"));
    hq_test_proc_free(&p);
  }
  {
    /* moved three lines down, its file renamed: still the accepted leak */
    char *a[] = {"gate", v3, "--baseline", base, NULL};
    heapql(&p, a);
    if (p.exit_status != 0) print_message("%s", p.out);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
  }
  {
    /* a program that no longer leaks: the entry is stale, and listed */
    char *lc = keep(hq_test_join(dir, "clean.db"));
    char *cmd[] = {VICTIM("v_growth"), "short", NULL};
    record(lc, cmd);
    char *a[] = {"gate", lc, "--baseline", base, NULL};
    heapql(&p, a);
    assert_int_equal(p.exit_status, 0);
    assert_non_null(strstr(p.out, "stale baseline entries (no longer seen): 1\n  definitely_lost "));
    hq_test_proc_free(&p);
    free(lc);
  }
  write_file(bad, "# heapql baseline 1\ndefinitely_lost 0123456789abcdef 0123456789abcdef 1 5 x.c:1\nnot a baseline line\n");
  {
    char *a[] = {"gate", v1, "--baseline", bad, NULL};
    char want[4400];
    heapql(&p, a);
    assert_int_equal(p.exit_status, 2);
    snprintf(want, sizeof want, "heapql: gate: %s:3: not a baseline entry (CLASS FP_LINES FP_FUNCTIONS BLOCKS BYTES SITE)\n", bad);
    assert_string_equal(p.err, want);
    hq_test_proc_free(&p);
  }
  /* diff: the same matching */
  {
    char *a[] = {"diff", v1, v2, "--fail-on", "new-leaks", "--format", "json", NULL};
    heapql(&p, a);
    assert_int_equal(p.exit_status, 1);
    assert_non_null(strstr(p.out, "\"new_leaks\": [\n    {\"site\": \"leak_some (proj2.c:4)"));
    hq_test_proc_free(&p);
  }
  {
    char *a[] = {"diff", v1, v3, "--fail-on", "new-leaks", NULL};
    heapql(&p, a);
    if (p.exit_status != 0) print_message("%s", p.out);
    assert_int_equal(p.exit_status, 0);
    assert_non_null(strstr(p.out, "new leaks: 0 sites"));
    assert_non_null(strstr(p.out, "fixed leaks: 0 sites"));
    hq_test_proc_free(&p);
  }
  free(v1);
  free(v2);
  free(v3);
  free(base);
  free(bad);
  free(dir);
}

/* ---- heapql run --gate ---- */

static void test_run_gate(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  char *db = keep(hq_test_join(dir, "r.db")), *json = keep(hq_test_join(dir, "r.json"));
  hq_test_proc_t p, plain;
  {
    /* leaks: exit 23, the program's stdout untouched, the verdict on stderr */
    char *argv[] = {HEAPQL(), "run", "-q", "--follow-exec", "--gate", "--json", json, "-o", db, "--",
                    "/bin/sh", "-c", "echo out; exec \"$0\"", VICTIM("v_leakcheck"), NULL};
    char *pl[] = {"/bin/sh", "-c", "echo out; exec \"$0\"", VICTIM("v_leakcheck"), NULL};
    assert_int_equal(hq_test_run(pl, NULL, NULL, 60, &plain), 0);
    assert_int_equal(hq_test_run(argv, NULL, NULL, 120, &p), 0);
    assert_int_equal(p.exit_status, 23);
    assert_string_equal(p.out, plain.out);
    assert_non_null(strstr(p.err, "heapql gate: FAIL"));
    assert_true(hq_test_exists(json));
    hq_test_proc_free(&p);
    hq_test_proc_free(&plain);
  }
  {
    /* clean: the program's own status; another gate exit code on request */
    char *argv[] = {HEAPQL(), "run", "-q", "--force", "--gate", "-o", db, "--", "/bin/sh", "-c", "exit 3", NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
    assert_int_equal(p.exit_status, 3);
    hq_test_proc_free(&p);
    char *argv2[] = {HEAPQL(), "run", "-q", "--force", "--gate-exit-code", "42", "-o", db, "--",
                     VICTIM("v_leaf"), NULL};
    assert_int_equal(hq_test_run(argv2, NULL, NULL, 60, &p), 0);
    assert_int_equal(p.exit_status, 42);
    hq_test_proc_free(&p);
  }
  {
    /* died of a signal: the signal, its blocks unclassified and not failed by default */
    char *argv[] = {HEAPQL(), "run", "-q", "--force", "--gate", "-o", db, "--", VICTIM("v_crash"), "segv", NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
    assert_int_equal(p.term_signal, SIGSEGV);
    assert_non_null(strstr(p.err, "heapql gate: PASS"));
    assert_non_null(strstr(p.err, "unclassified 7500500 B in 1000"));
    hq_test_proc_free(&p);
  }
  {
    /* bad gate input: refused before the program runs */
    char marker[4300], script[4400];
    snprintf(marker, sizeof marker, "%s/ran", dir);
    snprintf(script, sizeof script, "touch %s", marker);
    char *argv[] = {HEAPQL(), "run", "--gate", "--suppressions", "/nonexistent.supp", "--", "/bin/sh", "-c", script, NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
    assert_int_equal(p.exit_status, 2);
    assert_false(hq_test_exists(marker));
    assert_string_equal(p.err, "heapql: run: --gate: /nonexistent.supp: No such file or directory\n");
    hq_test_proc_free(&p);
  }
  free(db);
  free(json);
}

/* Every process of a --follow-exec run gated together; --gate-only picks the programs. */
static void test_run_gate_processes(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  char *db = keep(hq_test_join(dir, "fx.db")), *json = keep(hq_test_join(dir, "fx.json"));
  hq_test_proc_t p;
  char *argv[] = {HEAPQL(), "run", "-q", "--follow-exec", "--gate", "--json", json, "-o", db, "--",
                  VICTIM("v_spawn"), VICTIM("v_leaf"), NULL};
  assert_int_equal(hq_test_run(argv, NULL, NULL, 120, &p), 0);
  assert_int_equal(p.exit_status, 23); /* v_leaf leaks, three times */
  hq_test_proc_free(&p);
  {
    char *args[] = {json, NULL};
    python_check("import json, sys\n"
                 "d = json.load(open(sys.argv[1]))\n"
                 "progs = sorted(p['program'] for p in d['processes'])\n"
                 "assert progs.count('v_leaf') == 3 and 'v_spawn' in progs, progs\n"
                 "c = d['counted']['definitely_lost']\n"
                 "assert (c['blocks'], c['bytes']) == (4, 3 * 4444 + 2222), c\n"
                 "print('ok')\n", args);
  }
  {
    /* only the shells: they leak nothing */
    char *argv2[] = {HEAPQL(), "run", "-q", "--force", "--follow-exec", "--gate-only", "*sh", "-o", db, "--",
                     VICTIM("v_spawn"), VICTIM("v_leaf"), NULL};
    assert_int_equal(hq_test_run(argv2, NULL, NULL, 120, &p), 0);
    if (p.exit_status) print_message("%s", p.err);
    assert_int_equal(p.exit_status, 0);
    assert_non_null(strstr(p.err, "heapql gate: PASS"));
    hq_test_proc_free(&p);
  }
  free(db);
  free(json);
}

/* ---- scripts/ci: the templates' gate step, run as their CI would run it ---- */

/* The gate step of template (scripts/ci/...) as a script file in dir, read with a YAML parser. */
static void ci_step(const char *template, const char *dir, const char *script) {
  char *argv[] = {"/usr/bin/python3", "-c",
    "import sys, yaml\n"
    "d = yaml.safe_load(open(sys.argv[1]))\n"
    "if 'jobs' in d:\n"
    "    steps = [s for s in d['jobs']['leaks']['steps'] if s.get('name') == 'Tests under heapql, gated on leaks']\n"
    "    text = steps[0]['run']\n"
    "else:\n"
    "    text = '\\n'.join(d['heapql-leaks']['script'])\n"
    "open(sys.argv[2], 'w').write(text)\n",
    (char *)template, (char *)script, NULL};
  hq_test_proc_t p;
  (void)dir;
  assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
  if (p.exit_status) print_message("%s", p.err);
  assert_int_equal(p.exit_status, 0);
  hq_test_proc_free(&p);
}

static void test_ci_templates(void **state) {
  static const struct { const char *template, *shell; } ci[] = {
    {"scripts/ci/github-actions.yml", "/bin/bash"}, /* GitHub's run: is bash -e */
    {"scripts/ci/gitlab-ci.yml", "/bin/sh"},
  };
  (void)state;
  for (size_t i = 0; i < sizeof ci / sizeof ci[0]; i++) {
    char *dir = keep(hq_test_tmpdir()), *script = keep(hq_test_join(dir, "step.sh"));
    char path_env[8300], test_cmd[8300], bin[PATH_MAX], victim[PATH_MAX];
    hq_test_proc_t p;
    assert_non_null(realpath(hq_test_build_path("bin"), bin));
    snprintf(path_env, sizeof path_env, "PATH=%s:%s", bin, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    assert_non_null(realpath(VICTIM("v_leakcheck"), victim));
    snprintf(test_cmd, sizeof test_cmd, "TEST_CMD=%s", victim);
    char *env[] = {path_env, test_cmd, "TEST_PROGRAMS=v_*", "HEAPQL_BASELINE=leaks.baseline",
                   "HEAPQL_SUPPRESSIONS=lsan.supp", NULL};
    char *run[] = {(char *)ci[i].shell, "-e", script, NULL};
    ci_step(ci[i].template, dir, script);
    /* leaks: the job fails with the gate's code, every report written */
    assert_int_equal(hq_test_run(run, env, dir, 120, &p), 0);
    if (p.exit_status != 23) print_message("%s: %s", ci[i].template, p.err);
    assert_int_equal(p.exit_status, 23);
    hq_test_proc_free(&p);
    {
      char *argv[] = {"/usr/bin/python3", "-c",
        "import json, sys, xml.etree.ElementTree as ET\n"
        "d = json.load(open('heapql-out/leaks.json'))\n"
        "s = json.load(open('heapql-out/leaks.sarif'))\n"
        "j = ET.parse('heapql-out/leaks.xml').getroot()\n"
        "print(d['verdict'], d['counted']['definitely_lost']['blocks'], len(s['runs'][0]['results']),\n"
        "      j.get('failures'), sorted(p['program'] for p in d['processes']))\n", NULL};
      assert_int_equal(hq_test_run(argv, NULL, dir, 60, &p), 0);
      assert_string_equal(p.out, "fail 3 10 12 ['v_leakcheck']\n");
      hq_test_proc_free(&p);
    }
    /* accepted as they are: the baseline the docs tell to write, then the job passes */
    {
      char *argv[] = {"/bin/sh", "-c", "heapql gate heapql-out/*.db --only 'v_*' --update-baseline leaks.baseline"
                      " >/dev/null; rm -rf heapql-out", NULL};
      assert_int_equal(hq_test_run(argv, env, dir, 60, &p), 0);
      hq_test_proc_free(&p);
    }
    assert_int_equal(hq_test_run(run, env, dir, 120, &p), 0);
    if (p.exit_status != 0) print_message("%s: %s", ci[i].template, p.err);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
    free(script);
    free(dir);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_gate_formats_read_by_consumers),
    cmocka_unit_test(test_gate_suppressions),
    cmocka_unit_test(test_gate_embedded_suppressions),
    cmocka_unit_test(test_gate_baselines),
    cmocka_unit_test(test_run_gate),
    cmocka_unit_test(test_run_gate_processes),
    cmocka_unit_test(test_ci_templates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
