/*
 * cmd_report.c: heapql report DB [--format text|json|html] [-o FILE] [--recommend] [--top N]
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../analyzer_int.h"

static void usage(FILE *f) {
  fprintf(f, "usage: heapql report DB [--format text|json|html] [-o FILE] [--recommend] "
             "[--top N]\n");
}

int hq_cmd_report(int argc, char **argv) {
  const char *path = NULL, *out_path = NULL, *format = "text";
  hq_report_opts_t opts = {10, 0};
  hq_report_t *report = NULL;
  hq_db_t *db = NULL;
  FILE *out = NULL;
  int rc, code = HQ_EXIT_OK;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return HQ_EXIT_OK;
    } else if (!strcmp(a, "--format") || !strcmp(a, "-o") || !strcmp(a, "--top")) {
      if (i + 1 >= argc) {
        hq_cli_error("report: %s needs a value", a);
        return HQ_EXIT_USAGE;
      }
      if (!strcmp(a, "--format")) format = argv[++i];
      else if (!strcmp(a, "-o")) out_path = argv[++i];
      else if (hq_cli_parse_count(argv[++i], &opts.top) != 0) {
        hq_cli_error("report: --top wants a positive number, not '%s'", argv[i]);
        return HQ_EXIT_USAGE;
      }
    } else if (!strncmp(a, "--format=", 9)) {
      format = a + 9;
    } else if (!strcmp(a, "--recommend")) {
      opts.recommend = 1;
    } else if (a[0] == '-' && a[1]) {
      hq_cli_error("report: unknown option '%s' (see 'heapql report --help')", a);
      return HQ_EXIT_USAGE;
    } else if (path) {
      hq_cli_error("report: one database at a time ('%s' and '%s')", path, a);
      return HQ_EXIT_USAGE;
    } else {
      path = a;
    }
  }
  if (!path) {
    hq_cli_error("report: which database? (see 'heapql report --help')");
    return HQ_EXIT_USAGE;
  }
  if (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "html")) {
    hq_cli_error("report: --format must be text, json or html, not '%s'", format);
    return HQ_EXIT_USAGE;
  }

  code = hq_cli_open(path, 0, &db);
  if (code) return code;
  rc = hq_report_compute(db, &opts, &report);
  if (rc) {
    hq_cli_error("%s", hq_db_errmsg(db));
    code = hq_cli_exit_code(rc);
    goto out;
  }
  out = hq_cli_fopen_out(out_path);
  if (!out) { code = HQ_EXIT_USAGE; goto out; }
  if (!strcmp(format, "json")) rc = hq_report_write_json(report, out);
  else if (!strcmp(format, "html")) rc = hq__report_html(db, out, report);
  else rc = hq_report_write_text(report, out);
  if (rc && rc != HQ_EIO) {
    hq_cli_error("%s", hq_db_errmsg(db)[0] ? hq_db_errmsg(db) : hq_strerror(rc));
    code = hq_cli_exit_code(rc);
  }
  {
    int close_code = hq_cli_fclose_out(out, out_path);
    if (!code) code = close_code;
  }
out:
  hq_report_free(report);
  hq_db_close(db);
  return code;
}
