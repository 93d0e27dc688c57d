/* cmd_regions.c: heapql regions DB [--format text|json] [-o FILE] */
#include "cli.h"

const char hq_usage_regions[] = "heapql regions DB [--format text|json] [-o FILE]";

static int write_regions(hq_db_t *db, const void *ctx, FILE *out) {
  return hq_regions_write(db, *(const hq_format_t *)ctx, out);
}

int hq_cmd_regions(int argc, char **argv) {
  hq_format_t fmt = HQ_FORMAT_TEXT;
  const char *out = NULL, *format = "text", *db[1];
  size_t n_db = 0;
  const hq_cli_opt_t opts[] = {{"--format", &format, NULL}, {"-o", &out, NULL}};
  int code = hq_cli_args("regions", hq_usage_regions, argc, argv, opts, sizeof opts / sizeof opts[0],
                         db, 1, &n_db);
  if (code >= 0) return code;
  if (n_db == 0) {
    hq_cli_error("regions: which database? (see 'heapql regions --help')");
    return HQ_EXIT_USAGE;
  }
  if (hq_cli_parse_format(format, "regions", 0, &fmt) != 0) return HQ_EXIT_USAGE;
  return hq_cli_analyze(db[0], out, NULL, write_regions, &fmt);
}
