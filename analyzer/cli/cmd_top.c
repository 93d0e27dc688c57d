/*
 * cmd_top.c: heapql top DB [--by count|bytes|peak|temporary|leaked|line] [--limit N]
 *                          [--class heap|mmap|pool|device] [--format text|json] [-o FILE]
 */
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
  fprintf(f, "usage: heapql top DB [--by count|bytes|peak|temporary|leaked|line] [--limit N]\n"
             "                     [--class heap|mmap|pool|device] [--format text|json] [-o FILE]\n");
}

int hq_cmd_top(int argc, char **argv) {
  static const struct { const char *name; hq_metric_t metric; int by_line; } bys[] = {
    {"count", HQ_BY_COUNT, 0}, {"bytes", HQ_BY_BYTES, 0}, {"peak", HQ_BY_PEAK, 0},
    {"temporary", HQ_BY_TEMPORARY, 0}, {"leaked", HQ_BY_LEAKED, 0}, {"line", HQ_BY_BYTES, 1}};
  const char *path = NULL, *out_path = NULL, *by = "bytes", *cls_name = "heap";
  size_t limit = 10, which = sizeof bys / sizeof bys[0];
  hq_format_t format = HQ_FORMAT_TEXT;
  hq_db_t *db = NULL;
  FILE *out;
  int rc, code, cls;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return HQ_EXIT_OK;
    } else if (!strcmp(a, "--by") || !strcmp(a, "--limit") || !strcmp(a, "--class") ||
               !strcmp(a, "--format") || !strcmp(a, "-o")) {
      if (i + 1 >= argc) {
        hq_cli_error("top: %s needs a value", a);
        return HQ_EXIT_USAGE;
      }
      if (!strcmp(a, "--by")) {
        by = argv[++i];
      } else if (!strcmp(a, "--class")) {
        cls_name = argv[++i];
      } else if (!strcmp(a, "-o")) {
        out_path = argv[++i];
      } else if (!strcmp(a, "--limit")) {
        if (hq_cli_parse_count(argv[++i], &limit) != 0) {
          hq_cli_error("top: --limit wants a positive number, not '%s'", argv[i]);
          return HQ_EXIT_USAGE;
        }
      } else if (hq_cli_parse_format(argv[++i], "top", 0, &format) != 0) {
        return HQ_EXIT_USAGE;
      }
    } else if (a[0] == '-' && a[1]) {
      hq_cli_error("top: unknown option '%s' (see 'heapql top --help')", a);
      return HQ_EXIT_USAGE;
    } else if (path) {
      hq_cli_error("top: one database at a time ('%s' and '%s')", path, a);
      return HQ_EXIT_USAGE;
    } else {
      path = a;
    }
  }
  if (!path) {
    hq_cli_error("top: which database? (see 'heapql top --help')");
    return HQ_EXIT_USAGE;
  }
  for (size_t i = 0; i < sizeof bys / sizeof bys[0]; i++)
    if (!strcmp(by, bys[i].name)) which = i;
  if (which == sizeof bys / sizeof bys[0]) {
    hq_cli_error("top: --by must be count, bytes, peak, temporary, leaked or line, not '%s'", by);
    return HQ_EXIT_USAGE;
  }
  cls = hq_class_parse(cls_name);
  if (cls < 0) {
    hq_cli_error("top: --class must be heap, mmap, pool or device, not '%s'", cls_name);
    return HQ_EXIT_USAGE;
  }
  code = hq_cli_open(path, 0, &db);
  if (code) return code;
  out = hq_cli_fopen_out(out_path);
  if (!out) {
    hq_db_close(db);
    return HQ_EXIT_USAGE;
  }
  rc = hq_top_write(db, bys[which].metric, bys[which].by_line, cls, limit, format, out);
  if (rc && rc != HQ_EIO) {
    hq_cli_error("%s", hq_db_errmsg(db)[0] ? hq_db_errmsg(db) : hq_strerror(rc));
    code = hq_cli_exit_code(rc);
  }
  rc = hq_cli_fclose_out(out, out_path);
  if (!code) code = rc;
  hq_db_close(db);
  return code;
}
