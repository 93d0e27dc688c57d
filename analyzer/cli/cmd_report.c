/* cmd_report.c: heapql report DB [--format text|json|html] [-o FILE] [--recommend] [--top N] */
#include <string.h>

#include "cli.h"
#include "output/output_int.h"

const char hq_usage_report[] = "heapql report DB [--format text|json|html] [-o FILE] [--recommend] [--top N]\n"
              "                  " HQ_CLI_SITE_USAGE;

typedef struct report_args_s {
  const char *format;
  hq_report_opts_t opts;
} report_args_t;

static int write_report(hq_db_t *db, const void *ctx, FILE *out) {
  const report_args_t *a = ctx;
  hq_report_t *report = NULL;
  int rc = hq_report_compute(db, &a->opts, &report);
  if (rc) return rc;
  if (!strcmp(a->format, "json")) rc = hq_report_write_json(report, out);
  else if (!strcmp(a->format, "html")) rc = hq__report_html(db, out, report);
  else rc = hq_report_write_text(report, out);
  hq_report_free(report);
  return rc;
}

int hq_cmd_report(int argc, char **argv) {
  report_args_t a = {"text", {10, 0}};
  const char *out = NULL, *top = NULL, *db[1];
  size_t n_db = 0;
  hq_cli_sites_t sites = {NULL, NULL};
  const hq_cli_opt_t opts[] = {HQ_CLI_SITE_OPTS(&sites),
    {"--format", &a.format, NULL}, {"-o", &out, NULL}, {"--top", &top, NULL},
    {"--recommend", NULL, &a.opts.recommend}};
  int code = hq_cli_args("report", hq_usage_report, argc, argv, opts, sizeof opts / sizeof opts[0], db, 1,
                         &n_db);
  if (code >= 0) return code;
  if (n_db == 0) {
    hq_cli_error("report: which database? (see 'heapql report --help')");
    return HQ_EXIT_USAGE;
  }
  if (strcmp(a.format, "text") && strcmp(a.format, "json") && strcmp(a.format, "html")) {
    hq_cli_error("report: --format must be text, json or html, not '%s'", a.format);
    return HQ_EXIT_USAGE;
  }
  if (top && hq_cli_parse_count(top, &a.opts.top) != 0) {
    hq_cli_error("report: --top wants a positive number, not '%s'", top);
    return HQ_EXIT_USAGE;
  }
  return hq_cli_analyze(db[0], out, &sites, write_report, &a);
}
