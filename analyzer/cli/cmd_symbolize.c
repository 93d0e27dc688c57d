/*
 * cmd_symbolize.c: heapql symbolize DB [--debug-dir DIR]... [-q]
 *
 * Resolves every frame that has no symbol yet (also the ones an earlier run could not resolve,
 * e.g. after debug packages were installed), shows progress on a terminal and ends with a
 * one-line summary on stderr.
 */
#include <sqlite3.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

const char hq_usage_symbolize[] = "heapql symbolize DB [--debug-dir DIR]... [-q]";

#define UNRESOLVED_SQL                                                             \
  "SELECT count(*) FROM frames WHERE function IS NULL AND file IS NULL "          \
  "AND inline_parent IS NULL AND is_inline = 0 AND module_id IS NOT NULL"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f) {
  fprintf(f, "usage: %s\n"
             "  Resolve function, file:line and inline frames of DB's unresolved frames.\n"
             "  --debug-dir DIR  look here for a module that is missing or was rebuilt since the\n"
             "                   run: DIR/.build-id/xx/rest.debug, or a file of its name (up to\n"
             "                   four directories down) with the run's build-id; repeatable\n"
             "  -q, --quiet      no summary line\n", hq_usage_symbolize);
}

static int is_dir(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int count(sqlite3 *sql, const char *query, long long *out) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(sql, query, -1, &st, NULL);
  if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
    *out = sqlite3_column_int64(st, 0);
    rc = 0;
  } else {
    rc = -1;
  }
  sqlite3_finalize(st);
  return rc;
}

/* ", 2 missing" for each module status that occurs. */
static void status_summary(sqlite3 *sql, char *buf, size_t cap) {
  static const char *const names[][2] = {
    {"missing", "missing"}, {"changed", "changed"}, {"no-debug-info", "without debug info"},
  };
  size_t len = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char q[160];
    long long n = 0;
    snprintf(q, sizeof q, "SELECT count(*) FROM modules WHERE file_status = '%s'", names[i][0]);
    if (count(sql, q, &n) == 0 && n > 0 && len < cap)
      len += (size_t)snprintf(buf + len, cap - len, ", %lld %s", n, names[i][1]);
  }
}

int hq_cmd_symbolize(int argc, char **argv) {
  const char *path = NULL;
  hq_db_t *db = NULL;
  sqlite3 *sql;
  int quiet = 0, rc, exit_code = HQ_EXIT_OK;
  long long before = 0, after = 0, inl_before = 0, inl_after = 0, modules = 0;
  double t0 = now_s();
  char statuses[256], dirs[4096] = "";
  size_t dirs_len = 0;

  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
      quiet = 1;
    } else if (!strcmp(argv[i], "--debug-dir") || !strncmp(argv[i], "--debug-dir=", 12)) {
      const char *dir = argv[i][11] == '=' ? argv[i] + 12 : (i + 1 < argc ? argv[++i] : NULL);
      if (!dir || !*dir) {
        hq_cli_error("symbolize: --debug-dir needs a directory (see 'heapql symbolize --help')");
        return HQ_EXIT_USAGE;
      }
      if (!is_dir(dir)) {
        hq_cli_error("symbolize: --debug-dir %s: not a directory", dir);
        return HQ_EXIT_USAGE;
      }
      if (dirs_len + strlen(dir) + 2 > sizeof dirs) {
        hq_cli_error("symbolize: too many --debug-dir directories");
        return HQ_EXIT_USAGE;
      }
      dirs_len += (size_t)snprintf(dirs + dirs_len, sizeof dirs - dirs_len, "%s%s",
                                   dirs_len ? ":" : "", dir);
    } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return HQ_EXIT_OK;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      hq_cli_error("symbolize: unknown option '%s' (see 'heapql symbolize --help')", argv[i]);
      return HQ_EXIT_USAGE;
    } else if (path) {
      hq_cli_error("symbolize: one database at a time (see 'heapql symbolize --help')");
      return HQ_EXIT_USAGE;
    } else {
      path = argv[i];
    }
  }
  if (!path) {
    hq_cli_error("symbolize: no database given (see 'heapql symbolize --help')");
    return HQ_EXIT_USAGE;
  }

  rc = hq_db_open(path, HQ_DB_CHECK, &db); /* whatever its size: symbolize writes into it */
  if (rc) {
    hq_cli_error("%s", hq_db_errmsg(db));
    exit_code = hq_cli_exit_code(rc);
    goto out;
  }
  if (access(path, W_OK) != 0) {
    hq_cli_error("%s: not writable, cannot store symbols", path);
    exit_code = HQ_EXIT_USAGE;
    goto out;
  }
  sql = hq_db_sqlite(db);
  if (count(sql, UNRESOLVED_SQL, &before) ||
      count(sql, "SELECT count(*) FROM frames WHERE is_inline = 1", &inl_before)) {
    hq_cli_error("%s: cannot read frames: %s", path, sqlite3_errmsg(sql));
    exit_code = HQ_EXIT_USAGE;
    goto out;
  }
  /* An explicit request retries what earlier runs could not resolve. */
  rc = hq_db_set_debug_dirs(db, dirs);
  if (!rc) rc = hq_db_meta_set(db, "symbolized", "0");
  if (!rc) rc = hq_symbolize(db, 1);
  if (rc) {
    hq_cli_error("%s", hq_db_errmsg(db));
    exit_code = hq_cli_exit_code(rc) == HQ_EXIT_USAGE ? HQ_EXIT_USAGE : HQ_EXIT_INTERNAL;
    goto out;
  }
  if (!quiet) {
    count(sql, UNRESOLVED_SQL, &after);
    count(sql, "SELECT count(*) FROM frames WHERE is_inline = 1", &inl_after);
    count(sql, "SELECT count(*) FROM modules WHERE file_status IS NOT NULL", &modules);
    status_summary(sql, statuses, sizeof statuses);
    fprintf(stderr,
            "heapql: symbolized %lld of %lld frames (+%lld inline frames) from %lld modules%s "
            "in %.2f s\n",
            before - after, before, inl_after - inl_before, modules, statuses, now_s() - t0);
  }
out:
  hq_db_close(db);
  return exit_code;
}
