/* cmd_run.c: heapql run (placeholder). */
#include "cli.h"
int hq_cmd_run(int argc, char **argv) { (void)argc; (void)argv; return HQ_EXIT_INTERNAL; }
int hq_cmd_import(int argc, char **argv) { (void)argc; (void)argv; return HQ_EXIT_INTERNAL; }
