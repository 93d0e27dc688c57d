/* cmd_stubs.c: subcommands not written yet.  Each one moves to its own cmd_*.c when it is. */
#include "cli.h"

#define HQ_STUB(fn, name)                                          \
  int fn(int argc, char **argv) {                                  \
    (void)argc; (void)argv;                                        \
    hq_cli_error("'%s' is not implemented in this build", name);   \
    return HQ_EXIT_INTERNAL;                                       \
  }

HQ_STUB(hq_cmd_gate, "gate")
