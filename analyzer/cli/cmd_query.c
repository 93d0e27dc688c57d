/*
 * cmd_query.c: heapql query DB 'SQL' [--csv|--json] [-o FILE] [--wrappers LIST|@FILE]
 *
 * The statement runs on a read-only connection (and is refused before it runs if it would
 * write), after the usual read-write open that symbolizes the database and builds the
 * aggregate tables if needed, so function names and agg_* are there to query.
 */
#include "cli.h"
#include "output/output_int.h"

const char hq_usage_query[] = "heapql query DB 'SQL' [--csv|--json] [-o FILE] [--wrappers LIST|@FILE]";

typedef struct query_args_s { const char *path, *sql; hq_format_t format; } query_args_t;

static int run_query(hq_db_t *db, const void *ctx, FILE *out) {
  const query_args_t *a = ctx;
  hq_db_t *ro = NULL;
  int rc;
  hq_aggregate_update(db); /* best effort: a read-only file is still queried */
  rc = hq_db_open(a->path, HQ_DB_READONLY, &ro);
  if (!rc) rc = hq_query_run(ro, a->sql, a->format, out);
  if (rc) hq__db_seterr(db, rc, "%s", hq_db_errmsg(ro)); /* reported through db */
  hq_db_close(ro);
  return rc;
}

int hq_cmd_query(int argc, char **argv) {
  query_args_t a = {NULL, NULL, HQ_FORMAT_TEXT};
  const char *out = NULL, *pos[2];
  int csv = 0, json = 0;
  size_t n_pos = 0;
  hq_cli_sites_t sites = {NULL, NULL};
  const hq_cli_opt_t opts[] = {{"--csv", NULL, &csv}, {"--json", NULL, &json}, {"-o", &out, NULL},
                               {"--wrappers", &sites.wrappers, NULL}};
  int code = hq_cli_args("query", hq_usage_query, argc, argv, opts, sizeof opts / sizeof opts[0], pos, 2,
                         &n_pos);
  if (code >= 0) return code;
  if (n_pos < 2) {
    hq_cli_error("query: needs a database and one SQL statement (see 'heapql query --help')");
    return HQ_EXIT_USAGE;
  }
  if (csv && json) {
    hq_cli_error("query: --csv or --json, not both");
    return HQ_EXIT_USAGE;
  }
  a.path = pos[0];
  a.sql = pos[1];
  a.format = csv ? HQ_FORMAT_CSV : json ? HQ_FORMAT_JSON : HQ_FORMAT_TEXT;
  return hq_cli_analyze(a.path, out, &sites, run_query, &a);
}
