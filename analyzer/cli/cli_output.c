/* cli_output.c: writing a command's output completely or not at all, and never destroying a
 * file heapql did not create (analyzer/base/hq_outfile.c). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "base/base_int.h"
#include "heapql/internal/fault.h"

/* Flush and check a stream: 0, or the errno of the failure (HEAPQL_FAULT out_write too). */
static int finish_stream(FILE *f) {
  int injected = hq__fault(HQ_FAULT_OUT_WRITE);
  if (fflush(f) != 0 || ferror(f)) return errno ? errno : EIO;
  return injected;
}

int hq_cli_write_output(hq_db_t *db, const char *out_path, hq_cli_writer_fn write_fn,
                        const void *opts) {
  hq__out_t o;
  FILE *out = stdout;
  char err[512];
  int rc, e, to_stdout = !out_path || !strcmp(out_path, "-");
  if (!to_stdout) {
    rc = hq__out_open(&o, out_path, HQ__OUT_REPLACE, 0644, err, sizeof err);
    if (rc) {
      hq_cli_error("%s", err);
      return hq_cli_exit_code(rc);
    }
    out = fdopen(o.fd, "w");
    if (!out) {
      hq_cli_error("%s: cannot write: %s", out_path, strerror(errno));
      hq__out_abort(&o);
      return HQ_EXIT_INTERNAL;
    }
    o.fd = -1; /* the stream owns it now */
  }
  errno = 0;
  rc = write_fn(db, opts, out);
  e = rc == HQ_EIO ? (errno ? errno : EIO) : 0; /* the writer saw its stream fail */
  if (rc && rc != HQ_EIO) hq_cli_error("%s", hq_db_errmsg(db));
  if (!e) e = finish_stream(out);
  if (!to_stdout && fclose(out) != 0 && !e) e = errno ? errno : EIO;
  if ((!rc || rc == HQ_EIO) && e) {
    hq_cli_error("%s: write failed: %s", to_stdout ? "stdout" : out_path, strerror(e));
    rc = HQ_EIO;
  }
  if (!to_stdout) {
    /* A half-written picture is worse than none: only a complete one takes the target's place. */
    if (rc) hq__out_abort(&o);
    else if (hq__out_commit(&o, err, sizeof err)) {
      hq_cli_error("%s", err);
      rc = HQ_EIO;
    }
  }
  return rc == HQ_EIO ? HQ_EXIT_USAGE : hq_cli_exit_code(rc);
}

int hq_cli_finish_stdout(void) {
  int e = finish_stream(stdout);
  if (!e) return 0;
  hq_cli_error("stdout: write failed: %s", strerror(e));
  return HQ_EXIT_USAGE;
}
