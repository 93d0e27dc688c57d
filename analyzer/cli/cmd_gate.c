/*
 * cmd_gate.c: heapql gate DB... [limits] [--suppressions F] [--baseline F] [outputs]
 *
 * CI's leak gate over recorded databases (docs/cli.md, "heapql gate"): exit 0 when it passes,
 * 1 when it fails, 2 for bad input (a malformed suppression or baseline: its file and line).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char hq_usage_gate[] =
  "heapql gate DB... [--max-definitely-lost N] [--max-indirectly-lost N]\n"
  "                  [--max-possibly-lost N] [--max-still-reachable N] [--max-leaked-bytes SIZE]\n"
  "                  [--max-leaks N] [--max-peak SIZE] [--max-allocations N] [--budget GLOB=SIZE]\n"
  "                  [--suppressions FILE] [--no-embedded-suppressions] [--fail-unclassified]\n"
  "                  [--baseline FILE] [--update-baseline FILE] [--only GLOB]\n"
  "                  [--format text|json|junit|sarif|github] [-o FILE] [--json FILE]\n"
  "                  [--junit FILE] [--sarif FILE] [--github[=FILE]] [--wrappers LIST|@FILE]";

int hq_cmd_gate(int argc, char **argv) {
  hq_cli_gate_t g;
  const char **dbs = calloc((size_t)argc, sizeof *dbs);
  size_t n = 0;
  int code = -1;
  if (!dbs) return HQ_EXIT_INTERNAL;
  hq_cli_gate_init(&g);
  for (int i = 1; i < argc && code < 0; i++) {
    int r;
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      hq_cli_usage(hq_usage_gate);
      code = HQ_EXIT_OK;
    } else if ((r = hq_cli_option(argc, argv, &i, "-o", &g.output))) {
      if (r < 0) code = HQ_EXIT_USAGE;
    } else if ((r = hq_cli_gate_option(argc, argv, &i, &g))) {
      if (r < 0) code = HQ_EXIT_USAGE;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      hq_cli_error("gate: unknown option '%s' (see 'heapql gate --help')", argv[i]);
      code = HQ_EXIT_USAGE;
    } else {
      dbs[n++] = argv[i];
    }
  }
  if (code < 0 && n == 0) {
    hq_cli_error("gate: which database? (see 'heapql gate --help')");
    code = HQ_EXIT_USAGE;
  }
  if (code < 0) code = hq_cli_gate_run(&g, dbs, n, stdout, stdout);
  hq_cli_gate_free(&g);
  free(dbs);
  return code;
}
