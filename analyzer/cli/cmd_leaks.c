/* cmd_leaks.c: heapql leaks DB [--limit N] [--format text|json] [-o FILE] */
#include "cli.h"

const char hq_usage_leaks[] = "heapql leaks DB [--limit N] [--format text|json] [-o FILE]\n"
              "                  " HQ_CLI_SITE_USAGE;

typedef struct leaks_args_s { size_t limit; hq_format_t format; } leaks_args_t;

static int write_leaks(hq_db_t *db, const void *ctx, FILE *out) {
  const leaks_args_t *a = ctx;
  return hq_leaks_write(db, a->limit, a->format, out);
}

int hq_cmd_leaks(int argc, char **argv) {
  leaks_args_t a = {10, HQ_FORMAT_TEXT};
  const char *out = NULL, *limit = NULL, *format = "text", *db[1];
  size_t n_db = 0;
  hq_cli_sites_t sites = {NULL, NULL};
  const hq_cli_opt_t opts[] = {HQ_CLI_SITE_OPTS(&sites),
    {"--limit", &limit, NULL}, {"--format", &format, NULL}, {"-o", &out, NULL}};
  int code = hq_cli_args("leaks", hq_usage_leaks, argc, argv, opts, sizeof opts / sizeof opts[0], db, 1,
                         &n_db);
  if (code >= 0) return code;
  if (n_db == 0) {
    hq_cli_error("leaks: which database? (see 'heapql leaks --help')");
    return HQ_EXIT_USAGE;
  }
  if (limit && hq_cli_parse_count(limit, &a.limit) != 0) {
    hq_cli_error("leaks: --limit wants a positive number, not '%s'", limit);
    return HQ_EXIT_USAGE;
  }
  if (hq_cli_parse_format(format, "leaks", 0, &a.format) != 0) return HQ_EXIT_USAGE;
  return hq_cli_analyze(db[0], out, &sites, write_leaks, &a);
}
