/* cmd_compare.c: `heapql compare DB... [--format text|json]`: headline figures side by side. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char hq_usage_compare[] = "heapql compare DB... [--format text|json]";

int hq_cmd_compare(int argc, char **argv) {
  hq_db_t **dbs = calloc((size_t)argc, sizeof *dbs);
  const char **names = calloc((size_t)argc, sizeof *names);
  const char *v;
  size_t n = 0;
  int format = HQ_FORMAT_TEXT, rc, code = HQ_EXIT_OK, r;

  if (!dbs || !names) { hq_cli_error("compare: out of memory"); code = HQ_EXIT_INTERNAL; goto out; }
  for (int i = 1; i < argc; i++) {
    if ((r = hq_cli_option(argc, argv, &i, "--format", &v))) {
      if (r < 0) { code = HQ_EXIT_USAGE; goto out; }
      if (!strcmp(v, "text")) format = HQ_FORMAT_TEXT;
      else if (!strcmp(v, "json")) format = HQ_FORMAT_JSON;
      else { hq_cli_error("compare: unknown format '%s' (text or json)", v); code = HQ_EXIT_USAGE; goto out; }
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
  rc = hq_compare(dbs, names, n, format, stdout);
  if (rc && rc != HQ_EIO) {
    for (size_t i = 0; i < n; i++)
      if (hq_db_errmsg(dbs[i])[0]) { hq_cli_error("%s", hq_db_errmsg(dbs[i])); break; }
  }
  code = hq_cli_finish_stdout();
  if (rc) code = rc == HQ_EIO ? HQ_EXIT_USAGE : hq_cli_exit_code(rc);
out:
  for (size_t i = 0; dbs && i < n; i++) hq_db_close(dbs[i]);
  free(dbs);
  free(names);
  return code;
}
