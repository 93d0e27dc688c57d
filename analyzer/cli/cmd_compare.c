/* cmd_compare.c: `heapql compare DB... [--format text|json|html] [-o FILE]`: one row per run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char hq_usage_compare[] = "heapql compare DB... [--format text|json|html] [-o FILE]";

typedef struct {
  hq_db_t **dbs;
  const char **names;
  size_t n;
  int format;
} compare_args_t;

static int write_compare(hq_db_t *db, const void *ctx, FILE *out) {
  const compare_args_t *a = ctx;
  (void)db;
  return hq_compare(a->dbs, a->names, a->n, a->format, out);
}

int hq_cmd_compare(int argc, char **argv) {
  hq_db_t **dbs = calloc((size_t)argc, sizeof *dbs);
  const char **names = calloc((size_t)argc, sizeof *names);
  const char *v, *out_path = NULL;
  size_t n = 0;
  int format = HQ_FORMAT_TEXT, rc, code = HQ_EXIT_OK, r;

  if (!dbs || !names) { hq_cli_error("compare: out of memory"); code = HQ_EXIT_INTERNAL; goto out; }
  for (int i = 1; i < argc; i++) {
    if ((r = hq_cli_option(argc, argv, &i, "--format", &v))) {
      if (r < 0) { code = HQ_EXIT_USAGE; goto out; }
      if (!strcmp(v, "text")) format = HQ_FORMAT_TEXT;
      else if (!strcmp(v, "json")) format = HQ_FORMAT_JSON;
      else if (!strcmp(v, "html")) format = HQ_FORMAT_HTML;
      else { hq_cli_error("compare: unknown format '%s' (text, json or html)", v); code = HQ_EXIT_USAGE; goto out; }
    } else if ((r = hq_cli_option(argc, argv, &i, "-o", &out_path))) {
      if (r < 0) { code = HQ_EXIT_USAGE; goto out; }
    } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      hq_cli_usage(hq_usage_compare);
      goto out;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      hq_cli_error("compare: unknown option '%s' (see 'heapql compare --help')", argv[i]);
      code = HQ_EXIT_USAGE;
      goto out;
    } else {
      names[n++] = argv[i];
    }
  }
  if (n == 0) { hq_cli_error("compare: no database given (see 'heapql compare --help')"); code = HQ_EXIT_USAGE; goto out; }
  for (size_t i = 0; i < n; i++) {
    code = hq_cli_open(names[i], 1, &dbs[i]);
    if (code) goto out;
  }
  {
    compare_args_t a = {dbs, names, n, format};
    (void)rc;
    code = hq_cli_write_output(dbs[0], out_path, write_compare, &a);
  }
out:
  for (size_t i = 0; dbs && i < n; i++) hq_db_close(dbs[i]);
  free(dbs);
  free(names);
  return code;
}
