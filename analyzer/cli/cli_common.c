/* cli_common.c: error printing, exit-code mapping, opening databases and output files. */
#include <errno.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cli.h"

void hq_cli_error(const char *fmt, ...) {
  va_list ap;
  fputs("heapql: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

void hq_cli_usage(const char *synopsis) {
  printf("usage: %s\n", synopsis);
}

int hq_cli_exit_code(int rc) {
  switch (rc) {
  case HQ_OK: return HQ_EXIT_OK;
  case HQ_EINVAL: case HQ_ENOENT: case HQ_ESCHEMA: case HQ_EFORMAT: case HQ_EEXIST:
  case HQ_ERANGE: case HQ_EIO:
    return HQ_EXIT_USAGE;
  default:
    return HQ_EXIT_INTERNAL;
  }
}

/* One warning line when modules of the run changed or went missing: their frames cannot be
 * resolved and reports would otherwise show raw addresses without saying why. */
static void warn_stale(hq_db_t *db, const char *path) {
  sqlite3_stmt *st = NULL;
  char list[1024] = "";
  size_t len = 0, n = 0;
  if (sqlite3_prepare_v2(hq_db_sqlite(db),
                         "SELECT path, min(file_status) FROM modules"
                         " WHERE file_status IN ('changed', 'missing') GROUP BY path ORDER BY path",
                         -1, &st, NULL) != SQLITE_OK) {
    sqlite3_finalize(st);
    return; /* an older database without file_status: nothing to say */
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    n++;
    if (len < sizeof list - 1)
      len += (size_t)snprintf(list + len, sizeof list - len, "%s%s (%s)", len ? ", " : "",
                              (const char *)sqlite3_column_text(st, 0),
                              (const char *)sqlite3_column_text(st, 1));
  }
  sqlite3_finalize(st);
  if (len >= sizeof list - 1) snprintf(list + sizeof list - 5, 5, "...");
  if (n)
    hq_cli_error("warning: %s: %zu module%s changed or missing since the run, %s frames are "
                 "unresolved and marked [stale]: %s; 'heapql symbolize %s --debug-dir DIR' "
                 "reaches a copy of the run's build",
                 path, n, n == 1 ? "" : "s", n == 1 ? "its" : "their", list, path);
}

int hq_cli_open(const char *path, int readonly, hq_db_t **out_db) {
  return hq_cli_open_flags(path, readonly, 0, out_db);
}

int hq_cli_open_flags(const char *path, int readonly, int flags, hq_db_t **out_db) {
  hq_db_t *db = NULL;
  int rc = hq_db_open(path, (readonly ? HQ_DB_READONLY : 0) | flags, &db);
  if (rc == HQ_OK && !readonly) {
    rc = hq_symbolize(db, 1);
    if (rc) {
      /* A database we cannot write (read-only file, full disk) is still worth reading. */
      rc = HQ_OK;
    }
  }
  if (rc) {
    hq_cli_error("%s", hq_db_errmsg(db));
    hq_db_close(db);
    *out_db = NULL;
    return hq_cli_exit_code(rc);
  }
  warn_stale(db, path);
  *out_db = db;
  return 0;
}

int hq_cli_parse_size(const char *s, unsigned long long *out) {
  char *end = NULL;
  unsigned long long v, mul = 1;
  if (!s || !*s || *s == '-') return -1;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno || end == s) return -1;
  switch (*end) {
  case '\0': break;
  case 'k': case 'K': mul = 1ull << 10; end++; break;
  case 'm': case 'M': mul = 1ull << 20; end++; break;
  case 'g': case 'G': mul = 1ull << 30; end++; break;
  case 't': case 'T': mul = 1ull << 40; end++; break;
  default: return -1;
  }
  if (*end == 'i' || *end == 'I') end++;
  if (*end == 'b' || *end == 'B') end++;
  if (*end) return -1;
  if (v > ~0ull / mul) return -1;
  *out = v * mul;
  return 0;
}

int hq_cli_parse_count(const char *s, size_t *out) {
  char *end = NULL;
  unsigned long long v;
  if (!s || !*s || *s == '-' || *s == '+') return -1;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno || *end || v == 0 || v > (unsigned long long)SIZE_MAX / 2) return -1;
  *out = (size_t)v;
  return 0;
}

int hq_cli_parse_format(const char *s, const char *cmd, int allow_csv, hq_format_t *out) {
  if (s && !strcmp(s, "text")) *out = HQ_FORMAT_TEXT;
  else if (s && !strcmp(s, "json")) *out = HQ_FORMAT_JSON;
  else if (s && allow_csv && !strcmp(s, "csv")) *out = HQ_FORMAT_CSV;
  else {
    hq_cli_error("%s: --format must be text%s or json, not '%s'", cmd, allow_csv ? ", csv" : "",
                 s ? s : "");
    return -1;
  }
  return 0;
}
