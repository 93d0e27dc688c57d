/* hq_query.c: `heapql query`: one read-only SQL statement, printed as text, CSV or JSON. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "output/output_int.h"

/* The shortest %g rendering that reads back as the same double. */
static int sql_error(hq_db_t *db, int code, const char *what) {
  int rc = HQ_EINVAL;
  if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) rc = HQ_ESCHEMA;
  else if (code == SQLITE_NOMEM) rc = HQ_ENOMEM;
  else if (code == SQLITE_IOERR || code == SQLITE_FULL || code == SQLITE_CANTOPEN) rc = HQ_EDB;
  return hq__db_seterr(db, rc, "query: %s%s%s", what ? what : "", what ? ": " : "",
                       sqlite3_errmsg(db->sql));
}

static int only_separators(const char *s) {
  for (; s && *s; s++) {
    if (*s == '-' && s[1] == '-') { /* a trailing comment */
      while (*s && *s != '\n') s++;
      if (!*s) break;
      continue;
    }
    if (!isspace((unsigned char)*s) && *s != ';') return 0;
  }
  return 1;
}

static void csv_field(FILE *out, const char *s) {
  int quote = 0;
  for (const char *p = s; *p; p++)
    if (*p == ',' || *p == '"' || *p == '\n' || *p == '\r') quote = 1;
  if (*s && (isspace((unsigned char)s[0]) || isspace((unsigned char)s[strlen(s) - 1]))) quote = 1;
  if (!quote) {
    fputs(s, out);
    return;
  }
  fputc('"', out);
  for (const char *p = s; *p; p++) {
    if (*p == '"') fputc('"', out);
    fputc(*p, out);
  }
  fputc('"', out);
}

/* A column value as text: NULL as "" (text/CSV), blobs as X'hex'. */
static char *value_text(sqlite3_stmt *st, int col) {
  char num[40];
  switch (sqlite3_column_type(st, col)) {
  case SQLITE_NULL: return strdup("");
  case SQLITE_INTEGER:
    snprintf(num, sizeof num, "%lld", (long long)sqlite3_column_int64(st, col));
    return strdup(num);
  case SQLITE_FLOAT:
    hq__fmt_double(num, sizeof num, sqlite3_column_double(st, col));
    return strdup(num);
  case SQLITE_BLOB: {
    const unsigned char *b = sqlite3_column_blob(st, col);
    int n = sqlite3_column_bytes(st, col);
    char *s = malloc((size_t)n * 2 + 4);
    if (!s) return NULL;
    s[0] = 'X';
    s[1] = '\'';
    for (int i = 0; i < n; i++) sprintf(s + 2 + 2 * i, "%02x", b[i]);
    s[2 + 2 * n] = '\'';
    s[3 + 2 * n] = '\0';
    return s;
  }
  default: {
    const unsigned char *t = sqlite3_column_text(st, col);
    return strdup(t ? (const char *)t : "");
  }
  }
}

static void json_value(hq__jw_t *w, sqlite3_stmt *st, int col) {
  const char *name = sqlite3_column_name(st, col);
  char *s;
  switch (sqlite3_column_type(st, col)) {
  case SQLITE_NULL: hq__jw_null(w, name); return;
  case SQLITE_INTEGER: hq__jw_i64(w, name, sqlite3_column_int64(st, col)); return;
  case SQLITE_FLOAT: hq__jw_double(w, name, sqlite3_column_double(st, col)); return;
  default:
    s = value_text(st, col);
    hq__jw_str(w, name, s ? s : "");
    free(s);
  }
}

/* The one database and nothing else: no ATTACH, no DETACH (ATTACH would open or even create
 * another file, which is not a query of this one). */
static int authorize(void *ctx, int action, const char *a, const char *b, const char *c,
                     const char *d) {
  (void)a; (void)b; (void)c; (void)d;
  if (action == SQLITE_ATTACH || action == SQLITE_DETACH) {
    *(int *)ctx = 1;
    return SQLITE_DENY;
  }
  return SQLITE_OK;
}

int hq_query_run(hq_db_t *db, const char *sql, hq_format_t format, FILE *out) {
  sqlite3_stmt *st = NULL;
  const char *tail = NULL;
  hq__jw_t w;
  int rc = HQ_OK, step, ncol;

  if (!HQ_DB_OK(db) || !sql || !out) return HQ_MISUSE_BKPT;
  if (format != HQ_FORMAT_TEXT && format != HQ_FORMAT_CSV && format != HQ_FORMAT_JSON)
    return HQ_EINVAL;
  {
    int attach = 0, ok;
    sqlite3_set_authorizer(db->sql, authorize, &attach);
    ok = sqlite3_prepare_v2(db->sql, sql, -1, &st, &tail) == SQLITE_OK;
    sqlite3_set_authorizer(db->sql, NULL, NULL);
    if (attach)
      return hq__db_seterr(db, HQ_EINVAL, "query: ATTACH and DETACH are refused: heapql query reads"
                                          " the one database it was given");
    if (!ok) return sql_error(db, sqlite3_errcode(db->sql), NULL);
  }
  if (!st) return hq__db_seterr(db, HQ_EINVAL, "query: the SQL is empty");
  if (!only_separators(tail)) {
    rc = hq__db_seterr(db, HQ_EINVAL, "query: one statement at a time, please (found more after"
                                      " the first ';')");
    goto out;
  }
  if (!sqlite3_stmt_readonly(st)) {
    rc = hq__db_seterr(db, HQ_EINVAL, "query: read-only: this statement would modify the"
                                      " database (heapql query only reads)");
    goto out;
  }
  ncol = sqlite3_column_count(st);
  if (format == HQ_FORMAT_JSON) {
    hq__jw_init(&w, out);
    hq__jw_array(&w, NULL);
  } else if (ncol > 0) {
    for (int c = 0; c < ncol; c++) {
      if (c) fputc(format == HQ_FORMAT_CSV ? ',' : '|', out);
      if (format == HQ_FORMAT_CSV) csv_field(out, sqlite3_column_name(st, c));
      else fputs(sqlite3_column_name(st, c), out);
    }
    fputc('\n', out);
  }
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    if (format == HQ_FORMAT_JSON) {
      hq__jw_object(&w, NULL);
      for (int c = 0; c < ncol; c++) json_value(&w, st, c);
      hq__jw_end_object(&w);
      continue;
    }
    for (int c = 0; c < ncol; c++) {
      char *v = value_text(st, c);
      if (!v) { rc = HQ_ENOMEM; goto out; }
      if (c) fputc(format == HQ_FORMAT_CSV ? ',' : '|', out);
      if (format == HQ_FORMAT_CSV) csv_field(out, v);
      else fputs(v, out);
      free(v);
    }
    fputc('\n', out);
  }
  if (step != SQLITE_DONE) {
    rc = sql_error(db, sqlite3_errcode(db->sql), NULL);
    if (format == HQ_FORMAT_JSON) hq__jw_end_array(&w);
    goto out;
  }
  if (format == HQ_FORMAT_JSON) hq__jw_end_array(&w);
  if (ferror(out)) rc = HQ_EIO;
out:
  sqlite3_finalize(st);
  return rc;
}

