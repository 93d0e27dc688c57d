/* cmd_timeline.c: `heapql timeline DB [-o out.svg] [--pid N] [--width W] [--height H]`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char hq_usage_timeline[] =
  "heapql timeline DB [-o out.svg] [--pid N] [--width PX] [--height PX]\n"
  "                  [--max-points N] [--title T]";

static int parse_int(const char *what, const char *v, long lo, long hi, long *out) {
  char *end;
  long n = strtol(v, &end, 10);
  if (*v == '\0' || *end || n < lo || n > hi) {
    hq_cli_error("timeline: bad %s '%s' (%ld to %ld)", what, v, lo, hi);
    return -1;
  }
  *out = n;
  return 0;
}

static int write_svg(hq_db_t *db, const void *opts, FILE *out) {
  return hq_timeline_write_svg(db, opts, out);
}

int hq_cmd_timeline(int argc, char **argv) {
  hq_timeline_opts_t opts = {0};
  const char *db_path = NULL, *out_path = NULL, *v;
  hq_db_t *db = NULL;
  int code, r;
  long n;

  for (int i = 1; i < argc; i++) {
    if ((r = hq_cli_option(argc, argv, &i, "-o", &v))) {
      if (r < 0) return HQ_EXIT_USAGE;
      out_path = v;
    } else if ((r = hq_cli_option(argc, argv, &i, "--pid", &v))) {
      if (r < 0 || parse_int("--pid", v, 1, 0x7fffffffL, &n)) return HQ_EXIT_USAGE;
      opts.pid = n;
    } else if ((r = hq_cli_option(argc, argv, &i, "--width", &v))) {
      if (r < 0 || parse_int("--width", v, 300, 20000, &n)) return HQ_EXIT_USAGE;
      opts.width = (int)n;
    } else if ((r = hq_cli_option(argc, argv, &i, "--height", &v))) {
      if (r < 0 || parse_int("--height", v, 200, 20000, &n)) return HQ_EXIT_USAGE;
      opts.height = (int)n;
    } else if ((r = hq_cli_option(argc, argv, &i, "--max-points", &v))) {
      if (r < 0 || parse_int("--max-points", v, 16, 1000000, &n)) return HQ_EXIT_USAGE;
      opts.max_points = (int)n;
    } else if ((r = hq_cli_option(argc, argv, &i, "--title", &v))) {
      if (r < 0) return HQ_EXIT_USAGE;
      opts.title = v;
    } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      hq_cli_usage(hq_usage_timeline);
      return HQ_EXIT_OK;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      hq_cli_error("timeline: unknown option '%s' (see 'heapql timeline --help')", argv[i]);
      return HQ_EXIT_USAGE;
    } else if (!db_path) {
      db_path = argv[i];
    } else {
      hq_cli_error("timeline: one database only, got '%s' too", argv[i]);
      return HQ_EXIT_USAGE;
    }
  }
  if (!db_path) { hq_cli_error("timeline: no database given (see 'heapql timeline --help')"); return HQ_EXIT_USAGE; }
  code = hq_cli_open(db_path, 1, &db);
  if (code) return code;
  code = hq_cli_write_output(db, out_path, write_svg, &opts);
  hq_db_close(db);
  return code;
}
