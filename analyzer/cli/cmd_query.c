/*
 * cmd_query.c: heapql query DB 'SQL' [--csv|--json] [-o FILE]
 *
 * The statement runs on a read-only connection (and is refused before it runs if it would
 * write), after a read-write open that symbolizes the database and builds the aggregate tables
 * if needed, so function names and agg_* are there to query.
 */
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
  fprintf(f, "usage: heapql query DB 'SQL' [--csv|--json] [-o FILE]\n");
}

int hq_cmd_query(int argc, char **argv) {
  const char *path = NULL, *sql = NULL, *out_path = NULL;
  hq_format_t format = HQ_FORMAT_TEXT;
  hq_db_t *db = NULL;
  FILE *out;
  int rc, code;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return HQ_EXIT_OK;
    } else if (!strcmp(a, "--csv")) {
      format = HQ_FORMAT_CSV;
    } else if (!strcmp(a, "--json")) {
      format = HQ_FORMAT_JSON;
    } else if (!strcmp(a, "-o")) {
      if (i + 1 >= argc) {
        hq_cli_error("query: -o needs a value");
        return HQ_EXIT_USAGE;
      }
      out_path = argv[++i];
    } else if (!strcmp(a, "--")) {
      if (i + 1 < argc && !sql && path) sql = argv[++i];
    } else if (a[0] == '-' && a[1] == '-') {
      hq_cli_error("query: unknown option '%s' (see 'heapql query --help')", a);
      return HQ_EXIT_USAGE;
    } else if (!path) {
      path = a;
    } else if (!sql) {
      sql = a;
    } else {
      hq_cli_error("query: one SQL statement, as one argument (quote it)");
      return HQ_EXIT_USAGE;
    }
  }
  if (!path || !sql) {
    hq_cli_error("query: needs a database and one SQL statement (see 'heapql query --help')");
    return HQ_EXIT_USAGE;
  }
  /* Read-write first: symbols and aggregates; then the user's SQL on a read-only handle. */
  code = hq_cli_open(path, 0, &db);
  if (code) return code;
  hq_aggregate_update(db); /* best effort: a read-only file is still queried */
  hq_db_close(db);
  db = NULL;
  rc = hq_db_open(path, HQ_DB_READONLY, &db);
  if (rc) {
    hq_cli_error("%s", hq_db_errmsg(db));
    hq_db_close(db);
    return hq_cli_exit_code(rc);
  }
  out = hq_cli_fopen_out(out_path);
  if (!out) {
    hq_db_close(db);
    return HQ_EXIT_USAGE;
  }
  rc = hq_query_run(db, sql, format, out);
  code = 0;
  if (rc && rc != HQ_EIO) {
    hq_cli_error("%s", hq_db_errmsg(db)[0] ? hq_db_errmsg(db) : hq_strerror(rc));
    code = hq_cli_exit_code(rc);
  }
  rc = hq_cli_fclose_out(out, out_path);
  if (!code) code = rc;
  hq_db_close(db);
  return code;
}
