/* cmd_peak.c: heapql peak DB [--limit N] [--format text|json] [-o FILE] */
#include "cli.h"

const char hq_usage_peak[] = "heapql peak DB [--limit N] [--at-failure ID] [--format text|json] [-o FILE]\n"
              "                  " HQ_CLI_SITE_USAGE;

typedef struct peak_args_s { size_t limit; hq_format_t format; int64_t failure; } peak_args_t;

static int write_peak(hq_db_t *db, const void *ctx, FILE *out) {
  const peak_args_t *a = ctx;
  /* --at-failure: what filled the device when that allocation failed, not the heap's peak */
  if (a->failure) return hq_failure_write(db, a->failure, a->limit, a->format, out);
  return hq_peak_write(db, a->limit, a->format, out);
}

int hq_cmd_peak(int argc, char **argv) {
  peak_args_t a = {10, HQ_FORMAT_TEXT, 0};
  const char *out = NULL, *limit = NULL, *format = "text", *failure = NULL, *db[1];
  size_t n_db = 0;
  hq_cli_sites_t sites = {NULL, NULL};
  const hq_cli_opt_t opts[] = {HQ_CLI_SITE_OPTS(&sites),
    {"--limit", &limit, NULL}, {"--format", &format, NULL}, {"-o", &out, NULL},
    {"--at-failure", &failure, NULL}};
  int code = hq_cli_args("peak", hq_usage_peak, argc, argv, opts, sizeof opts / sizeof opts[0], db, 1,
                         &n_db);
  if (code >= 0) return code;
  if (n_db == 0) {
    hq_cli_error("peak: which database? (see 'heapql peak --help')");
    return HQ_EXIT_USAGE;
  }
  if (limit && hq_cli_parse_count(limit, &a.limit) != 0) {
    hq_cli_error("peak: --limit wants a positive number, not '%s'", limit);
    return HQ_EXIT_USAGE;
  }
  if (failure) {
    size_t id = 0;
    if (hq_cli_parse_count(failure, &id) != 0 || id > INT64_MAX) {
      hq_cli_error("peak: --at-failure wants a failure's id (1, 2, ...), not '%s'", failure);
      return HQ_EXIT_USAGE;
    }
    a.failure = (int64_t)id;
  }
  if (hq_cli_parse_format(format, "peak", 0, &a.format) != 0) return HQ_EXIT_USAGE;
  return hq_cli_analyze(db[0], out, &sites, write_peak, &a);
}
