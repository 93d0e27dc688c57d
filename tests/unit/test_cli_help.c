/*
 * test_cli_help.c: help that is true.  Every command of docs/cli.md answers -h and --help with
 * its usage on stdout and exit 0, and that usage names every option the docs give the command;
 * every option a usage names is one the command accepts; `heapql --help` lists every command;
 * an unknown command or option is one line on stderr and exit 2.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq_test.h"

#define HEAPQL() ((char *)hq_test_build_path("bin/heapql"))
#define MAX_CMDS 32
#define MAX_OPTS 48

typedef struct {
  char name[32];
  char opts[MAX_OPTS][32];
  int n_opts;
} doc_cmd_t;

static void add_opt(doc_cmd_t *c, const char *o, size_t len) {
  if (len >= sizeof c->opts[0] || c->n_opts == MAX_OPTS) return;
  for (int i = 0; i < c->n_opts; i++)
    if (strlen(c->opts[i]) == len && !strncmp(c->opts[i], o, len)) return;
  memcpy(c->opts[c->n_opts], o, len);
  c->opts[c->n_opts++][len] = '\0';
}

/* Options in text: "--word[-word]" and "-x" that start a token (after space, '[', '`', '|'). */
static void scan_opts(doc_cmd_t *c, const char *text, size_t len) {
  for (size_t i = 0; i < len; i++) {
    size_t j;
    if (text[i] != '-' || (i > 0 && !strchr(" [`|(,", text[i - 1]))) continue;
    j = i + 1;
    if (j < len && text[j] == '-') j++;
    if (j >= len || !isalpha((unsigned char)text[j])) continue;
    while (j < len && (isalnum((unsigned char)text[j]) || text[j] == '-')) j++;
    if (j - i == 2 || text[i + 1] == '-') add_opt(c, text + i, j - i);
    i = j;
  }
}

/* The commands of docs/cli.md ("## heapql NAME" sections; "heapql report --format html" is
 * report's), each with the options of its synopsis block and of its option tables. */
static int read_docs(doc_cmd_t *cmds) {
  char *doc = hq_test_read_file("docs/cli.md", NULL), *line, *save = NULL;
  doc_cmd_t *cur = NULL;
  int n = 0, in_block = 0, blocks = 0; /* blocks: code blocks seen in this section */
  assert_non_null(doc);
  for (line = strtok_r(doc, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (!strncmp(line, "## heapql ", 10)) {
      char name[32];
      in_block = 0;
      blocks = 0;
      if (sscanf(line + 10, "%31[a-z]", name) != 1) { cur = NULL; continue; }
      cur = NULL;
      for (int i = 0; i < n; i++) if (!strcmp(cmds[i].name, name)) cur = &cmds[i];
      if (!cur) {
        assert_true(n < MAX_CMDS);
        cur = &cmds[n++];
        memset(cur, 0, sizeof *cur);
        snprintf(cur->name, sizeof cur->name, "%s", name);
      }
      continue;
    }
    if (!strncmp(line, "## ", 3) || !strncmp(line, "### ", 4)) { cur = NULL; continue; }
    if (!cur) continue;
    if (!strncmp(line, "```", 3)) {
      in_block = !in_block;
      blocks += in_block;
      continue;
    }
    /* the synopsis (the section's first block) and the option tables */
    if (in_block && blocks == 1)
      scan_opts(cur, line, strlen(line));
    else if (!in_block && !strncmp(line, "| `-", 4))
      scan_opts(cur, line + 2, strcspn(line + 2, "|"));
  }
  free(doc);
  return n;
}

static void run(char *const argv[], hq_test_proc_t *p) {
  assert_int_equal(hq_test_run(argv, NULL, NULL, 60, p), 0);
}

static void test_every_documented_option_in_help(void **state) {
  (void)state;
  doc_cmd_t cmds[MAX_CMDS];
  int n = read_docs(cmds), total = 0;
  hq_test_proc_t top;
  char *all[] = {HEAPQL(), "--help", NULL};
  assert_true(n >= 13);
  run(all, &top);
  assert_int_equal(top.exit_status, 0);
  assert_int_equal(top.err_len, 0);
  for (int i = 0; i < n; i++) {
    char listed[64];
    snprintf(listed, sizeof listed, "  heapql %.31s ", cmds[i].name);
    if (!strstr(top.out, listed)) fail_msg("heapql --help does not list '%s'", cmds[i].name);
    for (int h = 0; h < 2; h++) {
      char *argv[] = {HEAPQL(), cmds[i].name, h ? "-h" : "--help", NULL};
      char head[64];
      hq_test_proc_t p;
      run(argv, &p);
      snprintf(head, sizeof head, "usage: heapql %.31s", cmds[i].name);
      if (p.exit_status != 0 || strncmp(p.out, head, strlen(head)) || p.err_len)
        fail_msg("heapql %s %s: exit %d, stdout '%.80s', stderr '%s'", cmds[i].name, argv[2],
                 p.exit_status, p.out, p.err);
      for (int k = 0; k < cmds[i].n_opts; k++) {
        const char *o = cmds[i].opts[k];
        const char *at = p.out;
        int found = 0;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) continue;
        /* a whole option, not a prefix of a longer one */
        while ((at = strstr(at, o))) {
          char next = at[strlen(o)];
          if (!isalnum((unsigned char)next) && next != '-') { found = 1; break; }
          at++;
        }
        if (!found) fail_msg("heapql %s --help does not name %s (docs/cli.md does)", cmds[i].name, o);
        total++;
      }
      hq_test_proc_free(&p);
    }
  }
  assert_true(total >= 2 * 60); /* the walk did read the docs' options */
  hq_test_proc_free(&top);
}

/* Every option a usage names is accepted: never "unknown option". */
static void test_every_usage_option_exists(void **state) {
  (void)state;
  static const char *const names[] = {"run", "import", "symbolize", "query", "report", "leaks",
                                      "top", "peak", "flamegraph", "timeline", "diff",
                                      "compare", "merge"};
  int checked = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char *argv[] = {HEAPQL(), (char *)names[i], "--help", NULL};
    doc_cmd_t c;
    hq_test_proc_t p;
    memset(&c, 0, sizeof c);
    run(argv, &p);
    scan_opts(&c, p.out, p.out_len);
    hq_test_proc_free(&p);
    for (int k = 0; k < c.n_opts; k++) {
      char *try[] = {HEAPQL(), (char *)names[i], c.opts[k], "x", "/nonexistent/a.db", NULL};
      if (!strcmp(c.opts[k], "-h") || !strcmp(c.opts[k], "--help")) continue;
      run(try, &p);
      if (strstr(p.err, "unknown option"))
        fail_msg("heapql %s --help names %s, which it refuses: %s", names[i], c.opts[k], p.err);
      hq_test_proc_free(&p);
      checked++;
    }
  }
  assert_true(checked >= 50);
}

static void test_unknown_command_and_option(void **state) {
  (void)state;
  static const char *const names[] = {"run", "import", "symbolize", "query", "report", "leaks",
                                      "top", "peak", "flamegraph", "timeline", "diff",
                                      "compare", "merge"};
  hq_test_proc_t p;
  {
    char *argv[] = {HEAPQL(), "frobnicate", NULL};
    run(argv, &p);
    assert_int_equal(p.exit_status, 2);
    assert_int_equal(p.out_len, 0);
    assert_string_equal(p.err, "heapql: unknown command 'frobnicate' (try 'heapql --help')\n");
    hq_test_proc_free(&p);
  }
  {
    char *argv[] = {HEAPQL(), NULL};
    run(argv, &p);
    assert_int_equal(p.exit_status, 2);
    assert_int_equal(p.out_len, 0);
    assert_ptr_equal(strchr(p.err, '\n'), p.err + p.err_len - 1);
    hq_test_proc_free(&p);
  }
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char *argv[] = {HEAPQL(), (char *)names[i], "--no-such-option", "x.db", NULL};
    char want[128];
    run(argv, &p);
    assert_int_equal(p.exit_status, 2);
    assert_int_equal(p.out_len, 0);
    snprintf(want, sizeof want, "heapql: %s: unknown option '--no-such-option' (see 'heapql %s --help')\n",
             names[i], names[i]);
    assert_string_equal(p.err, want);
    hq_test_proc_free(&p);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_documented_option_in_help),
    cmocka_unit_test(test_every_usage_option_exists),
    cmocka_unit_test(test_unknown_command_and_option),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
