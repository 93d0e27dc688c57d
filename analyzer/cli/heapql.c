/*
 * heapql.c: the `heapql` command: dispatch to one subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *synopsis;
} command_t;

static const command_t commands[] = {
  {"run", hq_cmd_run, "run [-o DB] [--force] [--no-follow-fork] [--follow-exec] [--depth N] [-q] [--gate ...] -- CMD [ARGS]"},
  {"import", hq_cmd_import, "import RAW... [-o DB] [--force] [--no-symbols]"},
  {"symbolize", hq_cmd_symbolize, "symbolize DB [-q]"},
  {"query", hq_cmd_query, "query DB 'SQL' [--csv|--json]"},
  {"report", hq_cmd_report, "report DB [--format text|json|html] [-o FILE] [--recommend]"},
  {"leaks", hq_cmd_leaks, "leaks DB [--limit N] [--format text|json]"},
  {"top", hq_cmd_top, "top DB [--by count|bytes|peak|temporary|line] [--limit N]"},
  {"peak", hq_cmd_peak, "peak DB [--limit N]"},
  {"flamegraph", hq_cmd_flamegraph, "flamegraph DB [--metric allocated|leaked|peak|count] [--class C] [--pid N] [--folded] [-o out.svg|out.folded]"},
  {"timeline", hq_cmd_timeline, "timeline DB [-o out.svg] [--pid N] [--width PX] [--height PX]"},
  {"gate", hq_cmd_gate, "gate DB [--max-leaked-bytes N] [--max-leaks N] [--max-peak N] [--suppressions F] [--baseline F] [--format text|json|junit|sarif|github]"},
  {"diff", hq_cmd_diff, "diff BASE.db NEW.db [--fail-on new-leaks|leak-growth|peak-growth[=PCT]] [--format text|json] [--limit N]"},
  {"compare", hq_cmd_compare, "compare DB... [--format text|json]"},
  {"merge", hq_cmd_merge, "merge DB... -o ALL.db [--force] [-q]"},
};

static void usage(FILE *f) {
  size_t i;
  fprintf(f, "usage: heapql COMMAND [ARGS]\n\ncommands:\n");
  for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  heapql %s\n", commands[i].synopsis);
  fprintf(f, "\nexit codes: 0 ok, 1 gate failed, 2 bad usage or input, 3 internal error\n"
             "(`heapql run` exits as the program did). See docs/cli.md.\n");
}

int main(int argc, char **argv) {
  size_t i;
  if (argc < 2) {
    usage(stderr);
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
