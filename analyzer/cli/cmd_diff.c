/* cmd_diff.c: `heapql diff BASE.db NEW.db [--fail-on C[,C...]] [--format text|json] [--limit N]`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char hq_usage_diff[] =
  "heapql diff BASE.db NEW.db [--fail-on new-leaks|leak-growth|peak-growth[=PCT]]\n"
  "                  [--format text|json] [--limit N] [--class heap|mmap|pool|device|all]";

/* Default threshold of peak-growth: runs vary a little; 10% is a real change. */
#define DEFAULT_PEAK_GROWTH_PCT 10.0

/* Add the comma-separated conditions in list to opts; -1 (message printed) if one is unknown. */
static int parse_fail_on(const char *list, hq_diff_opts_t *opts) {
  char buf[256], *save = NULL;
  snprintf(buf, sizeof buf, "%s", list);
  for (char *c = strtok_r(buf, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
    if (!strcmp(c, "new-leaks")) {
      opts->fail_on |= HQ_DIFF_FAIL_NEW_LEAKS;
    } else if (!strcmp(c, "leak-growth")) {
      opts->fail_on |= HQ_DIFF_FAIL_LEAK_GROWTH;
    } else if (!strncmp(c, "peak-growth", 11) && (c[11] == '\0' || c[11] == '=')) {
      opts->fail_on |= HQ_DIFF_FAIL_PEAK_GROWTH;
      if (c[11] == '=') {
        char *end;
        double pct = strtod(c + 12, &end);
        if (end == c + 12 || (*end && strcmp(end, "%")) || pct < 0) {
          hq_cli_error("diff: bad peak-growth percentage '%s'", c + 12);
          return -1;
        }
        opts->peak_growth_pct = pct;
      }
    } else {
      hq_cli_error("diff: unknown --fail-on condition '%s' (new-leaks, leak-growth, "
                   "peak-growth[=PCT])", c);
      return -1;
    }
  }
  return 0;
}

int hq_cmd_diff(int argc, char **argv) {
  hq_diff_opts_t opts = {.format = HQ_FORMAT_TEXT, .peak_growth_pct = DEFAULT_PEAK_GROWTH_PCT};
  hq_diff_result_t res;
  const char *paths[2] = {NULL, NULL}, *v;
  hq_db_t *base = NULL, *cur = NULL;
  int npaths = 0, rc, code, r;

  for (int i = 1; i < argc; i++) {
    if ((r = hq_cli_option(argc, argv, &i, "--fail-on", &v))) {
      if (r < 0 || parse_fail_on(v, &opts)) return HQ_EXIT_USAGE;
    } else if ((r = hq_cli_option(argc, argv, &i, "--format", &v))) {
      if (r < 0) return HQ_EXIT_USAGE;
      if (!strcmp(v, "text")) opts.format = HQ_FORMAT_TEXT;
      else if (!strcmp(v, "json")) opts.format = HQ_FORMAT_JSON;
      else { hq_cli_error("diff: unknown format '%s' (text or json)", v); return HQ_EXIT_USAGE; }
    } else if ((r = hq_cli_option(argc, argv, &i, "--limit", &v))) {
      char *end;
      long n;
      if (r < 0) return HQ_EXIT_USAGE;
      n = strtol(v, &end, 10);
      if (*v == '\0' || *end || n < 0 || n > 1000000000) {
        hq_cli_error("diff: bad --limit '%s' (0 = all)", v);
        return HQ_EXIT_USAGE;
      }
      opts.limit = n == 0 ? -1 : (int)n;
    } else if ((r = hq_cli_option(argc, argv, &i, "--class", &v))) {
      if (r < 0) return HQ_EXIT_USAGE;
      if (strcmp(v, "heap") && strcmp(v, "mmap") && strcmp(v, "pool") && strcmp(v, "device") &&
          strcmp(v, "all")) {
        hq_cli_error("diff: unknown class '%s' (heap, mmap, pool, device or all)", v);
        return HQ_EXIT_USAGE;
      }
      opts.kind_class = v;
    } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      hq_cli_usage(hq_usage_diff);
      return HQ_EXIT_OK;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      hq_cli_error("diff: unknown option '%s' (see 'heapql diff --help')", argv[i]);
      return HQ_EXIT_USAGE;
    } else if (npaths < 2) {
      paths[npaths++] = argv[i];
    } else {
      hq_cli_error("diff: two databases, BASE and NEW; got '%s' too", argv[i]);
      return HQ_EXIT_USAGE;
    }
  }
  if (npaths != 2) { hq_cli_error("diff: needs BASE.db and NEW.db (see 'heapql diff --help')"); return HQ_EXIT_USAGE; }
  code = hq_cli_open(paths[0], 0, &base);
  if (code) return code;
  code = hq_cli_open(paths[1], 0, &cur);
  if (code) { hq_db_close(base); return code; }
  rc = hq_diff(base, cur, &opts, stdout, &res);
  if (rc && rc != HQ_EIO)
    hq_cli_error("%s", hq_db_errmsg(base)[0] ? hq_db_errmsg(base) : hq_db_errmsg(cur));
  code = hq_cli_finish_stdout();
  hq_db_close(base);
  hq_db_close(cur);
  if (rc) return rc == HQ_EIO ? HQ_EXIT_USAGE : hq_cli_exit_code(rc);
  if (code) return code;
  return res.failed ? HQ_EXIT_GATE : HQ_EXIT_OK;
}
