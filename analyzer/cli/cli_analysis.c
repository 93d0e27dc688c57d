/*
 * cli_analysis.c: what the analysis commands (report, leaks, top, peak, query) share: their
 * argument parsing and the open-database / write-output / report-error sequence.
 */
#include <stdio.h>
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
      printf("usage: %s\n", usage);
      return HQ_EXIT_OK;
    }
    if (!only_pos && !strcmp(a, "--")) {
      only_pos = 1;
      continue;
    }
    if (!only_pos && a[0] == '-' && a[1]) {
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

int hq_cli_analyze(const char *path, const char *out_path, hq_cli_writer_fn fn,
                   const void *ctx) {
  hq_db_t *db = NULL;
  int code = hq_cli_open(path, 0, &db);
  if (code) return code;
  code = hq_cli_write_output(db, out_path, fn, ctx);
  hq_db_close(db);
  return code;
}
