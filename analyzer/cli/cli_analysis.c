/*
 * cli_analysis.c: what the analysis commands (report, leaks, top, peak, query) share: their
 * argument parsing and the open-database / write-output / report-error sequence.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int hq_cli_args(const char *cmd, const char *usage, int argc, char **argv,
                const hq_cli_opt_t *opts, size_t n_opts, const char **pos, size_t max_pos,
                size_t *out_n_pos) {
  size_t n_pos = 0;
  int only_pos = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const hq_cli_opt_t *o = NULL;
    const char *eq = NULL;
    if (!only_pos && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
      printf("usage: %s\n", usage);
      return HQ_EXIT_OK;
    }
    if (!only_pos && !strcmp(a, "--")) {
      only_pos = 1;
      continue;
    }
    if (!only_pos && a[0] == '-' && a[1]) {
      eq = strchr(a, '=');
      for (size_t k = 0; k < n_opts && !o; k++) {
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        if (strlen(opts[k].name) == len && !strncmp(opts[k].name, a, len)) o = &opts[k];
      }
      if (!o) {
        hq_cli_error("%s: unknown option '%s' (see 'heapql %s --help')", cmd, a, cmd);
        return HQ_EXIT_USAGE;
      }
      if (o->flag) {
        if (eq) {
          hq_cli_error("%s: %s takes no value", cmd, o->name);
          return HQ_EXIT_USAGE;
        }
        *o->flag = 1;
      } else if (eq) {
        *o->value = eq + 1;
      } else if (i + 1 < argc) {
        *o->value = argv[++i];
      } else {
        hq_cli_error("%s: %s needs a value", cmd, o->name);
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

int hq_cli_analyze(const char *path, const char *out_path,
                   int (*fn)(hq_db_t *db, FILE *out, void *ctx), void *ctx) {
  hq_db_t *db = NULL;
  FILE *out;
  int rc, code = hq_cli_open(path, 0, &db);
  if (code) return code;
  out = hq_cli_fopen_out(out_path);
  if (!out) {
    hq_db_close(db);
    return HQ_EXIT_USAGE;
  }
  rc = fn(db, out, ctx);
  if (rc && rc != HQ_EIO) {
    hq_cli_error("%s", hq_db_errmsg(db)[0] ? hq_db_errmsg(db) : hq_strerror(rc));
    code = hq_cli_exit_code(rc);
  }
  rc = hq_cli_fclose_out(out, out_path);
  if (!code) code = rc;
  /* a failed command leaves no half-written output behind */
  if (code && out_path && strcmp(out_path, "-") != 0) unlink(out_path);
  hq_db_close(db);
  return code;
}
