/*
 * cli_analysis.c: what the analysis commands (report, leaks, top, peak, query) share: their
 * argument parsing and the open-database / write-output / report-error sequence.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int hq_cli_args(const char *cmd, const char *usage, int argc, char **argv,
                const hq_cli_opt_t *opts, size_t n_opts, const char **pos, size_t max_pos,
                size_t *out_n_pos) {
  size_t n_pos = 0;
  int only_pos = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!only_pos && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
      hq_cli_usage(usage);
      return HQ_EXIT_OK;
    }
    if (!only_pos && !strcmp(a, "--")) {
      only_pos = 1;
      continue;
    }
    /* "-- comment" (SQL that starts with a comment) is an argument, not an option */
    if (!only_pos && a[0] == '-' && a[1] && !(a[1] == '-' && (a[2] == ' ' || a[2] == '\t' || a[2] == '\n'))) {
      int r = 0;
      for (size_t k = 0; k < n_opts && !r; k++) {
        if (opts[k].flag) {
          r = !strcmp(a, opts[k].name);
          if (r) *opts[k].flag = 1;
        } else {
          r = hq_cli_option(argc, argv, &i, opts[k].name, opts[k].value);
        }
      }
      if (r < 0) return HQ_EXIT_USAGE;
      if (!r) {
        hq_cli_error("%s: unknown option '%s' (see 'heapql %s --help')", cmd, a, cmd);
        return HQ_EXIT_USAGE;
      }
      continue;
    }
    if (n_pos == max_pos) {
      hq_cli_error("%s: unexpected argument '%s' (see 'heapql %s --help')", cmd, a, cmd);
      return HQ_EXIT_USAGE;
    }
    pos[n_pos++] = a;
  }
  *out_n_pos = n_pos;
  return -1;
}

int hq_cli_apply_sites(hq_db_t *db, const hq_cli_sites_t *sites) {
  const char *env = getenv("HEAPQL_WRAPPERS");
  const char *opt = sites ? sites->wrappers : NULL;
  char *both = NULL;
  int rc = HQ_OK;
  if (sites && sites->callers) {
    char *end = NULL;
    unsigned long n;
    errno = 0;
    n = strtoul(sites->callers, &end, 10);
    if (errno || end == sites->callers || *end || sites->callers[0] == '-' || n > 1000) {
      hq_cli_error("--callers wants a number from 0 to 1000, not '%s'", sites->callers);
      return HQ_EXIT_USAGE;
    }
    hq_db_set_callers(db, (size_t)n);
  }
  if (env && !*env) env = NULL;
  if (env && opt) { /* both: the environment's patterns, then the command line's */
    size_t len = strlen(env) + strlen(opt) + 2;
    if (!(both = malloc(len))) {
      hq_cli_error("out of memory");
      return HQ_EXIT_INTERNAL;
    }
    snprintf(both, len, "%s,%s", env, opt);
  }
  if (env || opt) rc = hq_db_set_wrappers(db, both ? both : opt ? opt : env);
  free(both);
  if (rc) {
    hq_cli_error("%s%s", opt ? "--wrappers: " : "HEAPQL_WRAPPERS: ", hq_db_errmsg(db));
    return hq_cli_exit_code(rc);
  }
  return 0;
}

int hq_cli_analyze(const char *path, const char *out_path, const hq_cli_sites_t *sites,
                   hq_cli_writer_fn fn, const void *ctx) {
  hq_db_t *db = NULL;
  int code = hq_cli_open(path, 0, &db);
  if (code) return code;
  code = hq_cli_apply_sites(db, sites);
  if (!code) code = hq_cli_write_output(db, out_path, fn, ctx);
  hq_db_close(db);
  return code;
}
