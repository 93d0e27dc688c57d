/*
 * heapql.c: the `heapql` command: dispatch to one subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *synopsis; /* the command's own, shared with its --help */
} command_t;

static const command_t commands[] = {
  {"run", hq_cmd_run, hq_usage_run},
  {"import", hq_cmd_import, hq_usage_import},
  {"symbolize", hq_cmd_symbolize, hq_usage_symbolize},
  {"query", hq_cmd_query, hq_usage_query},
  {"report", hq_cmd_report, hq_usage_report},
  {"leaks", hq_cmd_leaks, hq_usage_leaks},
  {"top", hq_cmd_top, hq_usage_top},
  {"peak", hq_cmd_peak, hq_usage_peak},
  {"regions", hq_cmd_regions, hq_usage_regions},
  {"flamegraph", hq_cmd_flamegraph, hq_usage_flamegraph},
  {"timeline", hq_cmd_timeline, hq_usage_timeline},
  {"gate", hq_cmd_gate, hq_usage_gate},
  {"diff", hq_cmd_diff, hq_usage_diff},
  {"compare", hq_cmd_compare, hq_usage_compare},
  {"merge", hq_cmd_merge, hq_usage_merge},
};

static void usage(FILE *f) {
  size_t i;
  fprintf(f, "usage: heapql COMMAND [ARGS]   (heapql COMMAND --help for one command)\n\n"
             "commands:\n");
  for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %s\n", commands[i].synopsis);
  fprintf(f, "\nexit codes: 0 ok, 1 gate failed, 2 bad usage or input, 3 internal error\n"
             "(`heapql run` exits as the program did). See docs/cli.md.\n");
}

int main(int argc, char **argv) {
  size_t i;
  if (argc < 2) {
    hq_cli_error("which command? (see 'heapql --help')");
    return HQ_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return HQ_EXIT_OK;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
    printf("heapql %s (schema %d)\n", HQ_VERSION_STRING, HQ_SCHEMA_VERSION);
    return HQ_EXIT_OK;
  }
  for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name))
      return commands[i].fn(argc - 1, argv + 1);
  hq_cli_error("unknown command '%s' (try 'heapql --help')", argv[1]);
  return HQ_EXIT_USAGE;
}
