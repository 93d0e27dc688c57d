/* cmd_stubs.c: subcommands not written yet.  Each one moves to its own cmd_*.c when it is. */
#include "cli.h"

#define HQ_STUB(fn, name)                                          \
  int fn(int argc, char **argv) {                                  \
    (void)argc; (void)argv;                                        \
    hq_cli_error("'%s' is not implemented in this build", name);   \
    return HQ_EXIT_INTERNAL;                                       \
  }

HQ_STUB(hq_cmd_query, "query")
HQ_STUB(hq_cmd_report, "report")
HQ_STUB(hq_cmd_leaks, "leaks")
HQ_STUB(hq_cmd_top, "top")
HQ_STUB(hq_cmd_peak, "peak")
HQ_STUB(hq_cmd_gate, "gate")
