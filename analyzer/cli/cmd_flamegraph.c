/* cmd_flamegraph.c: `heapql flamegraph DB [--metric M] [--class C] [--pid N] [--folded] [-o F]`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cli.h"

const char hq_usage_flamegraph[] =
  "heapql flamegraph DB [--metric allocated|leaked|peak|count]\n"
  "                  [--class heap|mmap|pool|device|all] [--pid N] [--folded] [--max-nodes N]\n"
  "                  [--title T] [-o out.svg|out.folded]";

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int class_ok(const char *c) {
  return !strcmp(c, "heap") || !strcmp(c, "mmap") || !strcmp(c, "pool") ||
         !strcmp(c, "device") || !strcmp(c, "all");
}

/* Whether the database recorded process pid (an allocation of it, or its processes row). */
static int has_process(hq_db_t *db, long long pid) {
  sqlite3_stmt *st = NULL;
  int found = 0;
  if (sqlite3_prepare_v2(hq_db_sqlite(db), "SELECT EXISTS(SELECT 1 FROM processes WHERE pid = ?1)"
                         " OR EXISTS(SELECT 1 FROM allocations WHERE pid = ?1)", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, pid);
    found = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0);
  }
  sqlite3_finalize(st);
  return found;
}

static int write_folded(hq_db_t *db, const void *opts, FILE *out) {
  return hq_flame_write_folded(db, opts, out);
}

static int write_svg(hq_db_t *db, const void *opts, FILE *out) {
  return hq_flame_write_svg(db, opts, out);
}

int hq_cmd_flamegraph(int argc, char **argv) {
  static const char *const metrics[] = {"allocated", "leaked", "peak", "count"};
  hq_flame_opts_t opts = {.metric = HQ_FLAME_ALLOCATED};
  const char *db_path = NULL, *out_path = NULL, *v;
  int folded = 0, code, r;
  hq_db_t *db = NULL;
  char *end;

  for (int i = 1; i < argc; i++) {
    if ((r = hq_cli_option(argc, argv, &i, "--metric", &v))) {
      size_t m = 0;
      if (r < 0) return HQ_EXIT_USAGE;
      while (m < 4 && strcmp(v, metrics[m]) != 0) m++;
      if (m == 4) {
        hq_cli_error("flamegraph: unknown metric '%s' (allocated, leaked, peak or count)", v);
        return HQ_EXIT_USAGE;
      }
      opts.metric = (int)m;
    } else if ((r = hq_cli_option(argc, argv, &i, "--class", &v))) {
      if (r < 0) return HQ_EXIT_USAGE;
      if (!class_ok(v)) {
        hq_cli_error("flamegraph: unknown class '%s' (heap, mmap, pool, device or all)", v);
        return HQ_EXIT_USAGE;
      }
      opts.kind_class = v;
    } else if ((r = hq_cli_option(argc, argv, &i, "--pid", &v))) {
      if (r < 0) return HQ_EXIT_USAGE;
      opts.pid = strtoll(v, &end, 10);
      if (*end || opts.pid <= 0) { hq_cli_error("flamegraph: bad --pid '%s'", v); return HQ_EXIT_USAGE; }
    } else if ((r = hq_cli_option(argc, argv, &i, "--max-nodes", &v))) {
      long n;
      if (r < 0) return HQ_EXIT_USAGE;
      n = strtol(v, &end, 10);
      if (*end || n < 1 || n > 10000000) {
        hq_cli_error("flamegraph: bad --max-nodes '%s'", v);
        return HQ_EXIT_USAGE;
      }
      opts.max_nodes = (int)n;
    } else if ((r = hq_cli_option(argc, argv, &i, "--title", &v))) {
      if (r < 0) return HQ_EXIT_USAGE;
      opts.title = v;
    } else if ((r = hq_cli_option(argc, argv, &i, "-o", &v))) {
      if (r < 0) return HQ_EXIT_USAGE;
      out_path = v;
    } else if (!strcmp(argv[i], "--folded")) {
      folded = 1;
    } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      hq_cli_usage(hq_usage_flamegraph);
      return HQ_EXIT_OK;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      hq_cli_error("flamegraph: unknown option '%s' (see 'heapql flamegraph --help')", argv[i]);
      return HQ_EXIT_USAGE;
    } else if (!db_path) {
      db_path = argv[i];
    } else {
      hq_cli_error("flamegraph: one database only, got '%s' too", argv[i]);
      return HQ_EXIT_USAGE;
    }
  }
  if (!db_path) { hq_cli_error("flamegraph: no database given (see 'heapql flamegraph --help')"); return HQ_EXIT_USAGE; }
  if (out_path && (ends_with(out_path, ".folded") || ends_with(out_path, ".collapsed") ||
                   ends_with(out_path, ".txt")))
    folded = 1;

  code = hq_cli_open(db_path, 0, &db);
  if (code) return code;
  if (opts.pid > 0 && !has_process(db, opts.pid)) {
    hq_cli_error("flamegraph: %s has no process %lld (heapql query %s 'SELECT pid, program FROM"
                 " processes' lists them)", db_path, (long long)opts.pid, db_path);
    hq_db_close(db);
    return HQ_EXIT_USAGE;
  }
  code = hq_cli_write_output(db, out_path, folded ? write_folded : write_svg, &opts);
  hq_db_close(db);
  return code;
}
