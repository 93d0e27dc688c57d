/* cmd_leaks.c: heapql leaks DB [--limit N] [--format text|json] [-o FILE] */
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
  fprintf(f, "usage: heapql leaks DB [--limit N] [--format text|json] [-o FILE]\n");
}

int hq_cmd_leaks(int argc, char **argv) {
  const char *path = NULL, *out_path = NULL;
  size_t limit = 10;
  hq_format_t format = HQ_FORMAT_TEXT;
  hq_db_t *db = NULL;
  FILE *out;
  int rc, code;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return HQ_EXIT_OK;
    } else if (!strcmp(a, "--limit") || !strcmp(a, "--format") || !strcmp(a, "-o")) {
      if (i + 1 >= argc) {
        hq_cli_error("leaks: %s needs a value", a);
        return HQ_EXIT_USAGE;
      }
      if (!strcmp(a, "-o")) {
        out_path = argv[++i];
      } else if (!strcmp(a, "--limit")) {
        if (hq_cli_parse_count(argv[++i], &limit) != 0) {
          hq_cli_error("leaks: --limit wants a positive number, not '%s'", argv[i]);
          return HQ_EXIT_USAGE;
        }
      } else if (hq_cli_parse_format(argv[++i], "leaks", 0, &format) != 0) {
        return HQ_EXIT_USAGE;
      }
    } else if (a[0] == '-' && a[1]) {
      hq_cli_error("leaks: unknown option '%s' (see 'heapql leaks --help')", a);
      return HQ_EXIT_USAGE;
    } else if (path) {
      hq_cli_error("leaks: one database at a time ('%s' and '%s')", path, a);
      return HQ_EXIT_USAGE;
    } else {
      path = a;
    }
  }
  if (!path) {
    hq_cli_error("leaks: which database? (see 'heapql leaks --help')");
    return HQ_EXIT_USAGE;
  }
  code = hq_cli_open(path, 0, &db);
  if (code) return code;
  out = hq_cli_fopen_out(out_path);
  if (!out) {
    hq_db_close(db);
    return HQ_EXIT_USAGE;
  }
  rc = hq_leaks_write(db, limit, format, out);
  if (rc && rc != HQ_EIO) {
    hq_cli_error("%s", hq_db_errmsg(db)[0] ? hq_db_errmsg(db) : hq_strerror(rc));
    code = hq_cli_exit_code(rc);
  }
  rc = hq_cli_fclose_out(out, out_path);
  if (!code) code = rc;
  hq_db_close(db);
  return code;
}
