/*
 * cmd_top.c: heapql top DB [--by count|bytes|peak|temporary|leaked|line] [--limit N]
 *                          [--class heap|mmap|pool|device] [--format text|json] [-o FILE]
 */
#include <string.h>

#include "cli.h"

const char hq_usage_top[] = "heapql top DB [--by count|bytes|peak|temporary|leaked|line] [--limit N]\n"
              "                  [--class heap|mmap|pool|device] [--format text|json] [-o FILE]\n"
              "                  " HQ_CLI_SITE_USAGE;

typedef struct top_args_s {
  hq_metric_t metric;
  int by_line, cls;
  size_t limit;
  hq_format_t format;
} top_args_t;

static int write_top(hq_db_t *db, const void *ctx, FILE *out) {
  const top_args_t *a = ctx;
  return hq_top_write(db, a->metric, a->by_line, a->cls, a->limit, a->format, out);
}

int hq_cmd_top(int argc, char **argv) {
  static const struct { const char *name; hq_metric_t metric; int by_line; } bys[] = {
    {"count", HQ_BY_COUNT, 0}, {"bytes", HQ_BY_BYTES, 0}, {"peak", HQ_BY_PEAK, 0},
    {"temporary", HQ_BY_TEMPORARY, 0}, {"leaked", HQ_BY_LEAKED, 0}, {"line", HQ_BY_BYTES, 1}};
  top_args_t a = {HQ_BY_BYTES, 0, HQ_CLASS_HEAP, 10, HQ_FORMAT_TEXT};
  const char *out = NULL, *limit = NULL, *format = "text", *by = "bytes", *cls = "heap", *db[1];
  size_t n_db = 0, which = sizeof bys / sizeof bys[0];
  hq_cli_sites_t sites = {NULL, NULL};
  const hq_cli_opt_t opts[] = {HQ_CLI_SITE_OPTS(&sites),
    {"--by", &by, NULL}, {"--limit", &limit, NULL}, {"--class", &cls, NULL},
    {"--format", &format, NULL}, {"-o", &out, NULL}};
  int code = hq_cli_args("top", hq_usage_top, argc, argv, opts, sizeof opts / sizeof opts[0], db, 1,
                         &n_db);
  if (code >= 0) return code;
  if (n_db == 0) {
    hq_cli_error("top: which database? (see 'heapql top --help')");
    return HQ_EXIT_USAGE;
  }
  for (size_t i = 0; i < sizeof bys / sizeof bys[0]; i++)
    if (!strcmp(by, bys[i].name)) which = i;
  if (which == sizeof bys / sizeof bys[0]) {
    hq_cli_error("top: --by must be count, bytes, peak, temporary, leaked or line, not '%s'", by);
    return HQ_EXIT_USAGE;
  }
  a.metric = bys[which].metric;
  a.by_line = bys[which].by_line;
  a.cls = hq_class_parse(cls);
  if (a.cls < 0) {
    hq_cli_error("top: --class must be heap, mmap, pool or device, not '%s'", cls);
    return HQ_EXIT_USAGE;
  }
  if (limit && hq_cli_parse_count(limit, &a.limit) != 0) {
    hq_cli_error("top: --limit wants a positive number, not '%s'", limit);
    return HQ_EXIT_USAGE;
  }
  if (hq_cli_parse_format(format, "top", 0, &a.format) != 0) return HQ_EXIT_USAGE;
  return hq_cli_analyze(db[0], out, &sites, write_top, &a);
}
