/* cli_output.c: writing a command's output file completely or not at all. */
#include <string.h>
#include <unistd.h>

#include "cli.h"

int hq_cli_write_output(hq_db_t *db, const char *out_path, hq_cli_writer_fn write_fn,
                        const void *opts) {
  FILE *out = hq_cli_fopen_out(out_path);
  int rc, code;
  if (!out) return HQ_EXIT_USAGE;
  rc = write_fn(db, opts, out);
  if (rc && rc != HQ_EIO) hq_cli_error("%s", hq_db_errmsg(db));
  code = hq_cli_fclose_out(out, out_path);
  if (rc == HQ_EIO && !code) {
    hq_cli_error("%s: write failed", out_path ? out_path : "stdout");
    code = HQ_EXIT_USAGE;
  }
  /* A half-written picture is worse than none. */
  if ((rc || code) && out_path && strcmp(out_path, "-") != 0) unlink(out_path);
  if (code) return code;
  return rc ? hq_cli_exit_code(rc) : HQ_EXIT_OK;
}
