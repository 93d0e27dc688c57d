/* cmd_merge.c: `heapql merge A.db B.db ... -o ALL.db [--force] [-q]`. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char hq_usage_merge[] = "heapql merge DB... -o ALL.db [--force] [-q]";

int hq_cmd_merge(int argc, char **argv) {
  const char **inputs = calloc((size_t)argc, sizeof *inputs);
  const char *out_path = NULL, *v;
  hq_merge_opts_t opts = {.progress = 1};
  hq_merge_stats_t stats;
  size_t n = 0;
  int quiet = 0, rc, code = HQ_EXIT_OK, r;
  char err[1024];

  if (!inputs) { hq_cli_error("merge: out of memory"); return HQ_EXIT_INTERNAL; }
  for (int i = 1; i < argc; i++) {
    if ((r = hq_cli_option(argc, argv, &i, "-o", &v))) {
      if (r < 0) { code = HQ_EXIT_USAGE; goto out; }
      out_path = v;
    } else if (!strcmp(argv[i], "--force") || !strcmp(argv[i], "-f")) {
      opts.force = 1;
    } else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
      quiet = 1;
    } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      hq_cli_usage(hq_usage_merge);
      goto out;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      hq_cli_error("merge: unknown option '%s' (see 'heapql merge --help')", argv[i]);
      code = HQ_EXIT_USAGE;
      goto out;
    } else {
      inputs[n++] = argv[i];
    }
  }
  if (n == 0) { hq_cli_error("merge: no input database (see 'heapql merge --help')"); code = HQ_EXIT_USAGE; goto out; }
  if (!out_path) { hq_cli_error("merge: -o ALL.db is required (see 'heapql merge --help')"); code = HQ_EXIT_USAGE; goto out; }
  opts.progress = !quiet;
  rc = hq_merge(inputs, n, out_path, &opts, &stats, err, sizeof err);
  if (rc) {
    hq_cli_error("%s", err[0] ? err : hq_strerror(rc));
    code = hq_cli_exit_code(rc);
    goto out;
  }
  if (!quiet)
    fprintf(stderr, "heapql: merged %" PRIu64 " database%s (%" PRIu64 " process%s, %" PRIu64
                    " allocations, %" PRIu64 " stacks) into %s in %.2f s\n",
            stats.inputs, stats.inputs == 1 ? "" : "s", stats.processes,
            stats.processes == 1 ? "" : "es", stats.allocations, stats.stacks, out_path,
            (double)stats.elapsed_ns / 1e9);
out:
  free(inputs);
  return code;
}
