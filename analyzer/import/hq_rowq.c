/* hq_rowq.c: see hq_rowq.h. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/hq_rowq.h"

/* ---- the virtual table: the rows of one table in the block being written ----
 *
 * Eponymous (no CREATE VIRTUAL TABLE, nothing in the schema) and registered on this connection
 * only while the queue lives.  Its columns c0..c19 are the row's columns; the INSERT ... SELECT
 * of a table reads the first ncols of them.
 */

#define ROWS_MODULE "hq_rowq_batch"

typedef struct {
  sqlite3_vtab base;
  hq__rowq_t *q;
} rows_vtab_t;

typedef struct {
  sqlite3_vtab_cursor base;
  hq__rowq_t *q;
  size_t i;
} rows_cursor_t;

static int rows_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                        sqlite3_vtab **out, char **err) {
  char decl[64 + 8 * HQ__ROWQ_COLS];
  size_t n;
  rows_vtab_t *t;
  int rc;
  (void)argc;
  (void)argv;
  (void)err;
  n = (size_t)snprintf(decl, sizeof decl, "CREATE TABLE x(");
  for (int c = 0; c < HQ__ROWQ_COLS; c++)
    n += (size_t)snprintf(decl + n, sizeof decl - n, "%sc%d", c ? ", " : "", c);
  snprintf(decl + n, sizeof decl - n, ")");
  if ((rc = sqlite3_declare_vtab(db, decl)) != SQLITE_OK) return rc;
  t = sqlite3_malloc(sizeof *t);
  if (!t) return SQLITE_NOMEM;
  memset(t, 0, sizeof *t);
  t->q = aux;
  *out = &t->base;
  return SQLITE_OK;
}

static int rows_disconnect(sqlite3_vtab *vt) {
  sqlite3_free(vt);
  return SQLITE_OK;
}

static int rows_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
  (void)vt;
  info->estimatedCost = HQ__ROWQ_BLOCK;
  info->estimatedRows = HQ__ROWQ_BLOCK;
  return SQLITE_OK;
}

static int rows_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
  rows_cursor_t *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  c->q = ((rows_vtab_t *)vt)->q;
  *out = &c->base;
  return SQLITE_OK;
}

static int rows_close(sqlite3_vtab_cursor *cur) {
  sqlite3_free(cur);
  return SQLITE_OK;
}

/* Move to the first row of the batch's table at or after i. */
static void rows_skip(rows_cursor_t *c) {
  const hq__rowq_t *q = c->q;
  while (c->i < q->batch_n && q->batch[c->i].table != q->batch_table) c->i++;
}

static int rows_filter(sqlite3_vtab_cursor *cur, int idx, const char *idx_str, int argc,
                       sqlite3_value **argv) {
  rows_cursor_t *c = (rows_cursor_t *)cur;
  (void)idx;
  (void)idx_str;
  (void)argc;
  (void)argv;
  c->i = 0;
  rows_skip(c);
  return SQLITE_OK;
}

static int rows_next(sqlite3_vtab_cursor *cur) {
  rows_cursor_t *c = (rows_cursor_t *)cur;
  c->i++;
  rows_skip(c);
  return SQLITE_OK;
}

static int rows_eof(sqlite3_vtab_cursor *cur) {
  const rows_cursor_t *c = (const rows_cursor_t *)cur;
  return c->i >= c->q->batch_n;
}

static int rows_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  const rows_cursor_t *c = (const rows_cursor_t *)cur;
  const hq__row_t *r = &c->q->batch[c->i];
  uint32_t bit = 1u << col;
  if (!(r->nonnull & bit)) return SQLITE_OK; /* no result: NULL */
  if (r->text & bit) {
    int k = (r->text & (bit - 1)) != 0; /* at most two text columns */
    sqlite3_result_text(ctx, (const char *)(intptr_t)r->v[col], (int)r->tlen[k], SQLITE_STATIC);
  } else if (r->real & bit) {
    double d;
    memcpy(&d, &r->v[col], sizeof d);
    sqlite3_result_double(ctx, d);
  } else {
    sqlite3_result_int64(ctx, r->v[col]);
  }
  return SQLITE_OK;
}

static int rows_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *out) {
  *out = (sqlite3_int64)((const rows_cursor_t *)cur)->i;
  return SQLITE_OK;
}

static const sqlite3_module rows_module = {
  .iVersion = 0,
  .xCreate = NULL, /* eponymous only */
  .xConnect = rows_connect,
  .xBestIndex = rows_best_index,
  .xDisconnect = rows_disconnect,
  .xOpen = rows_open,
  .xClose = rows_close,
  .xFilter = rows_filter,
  .xNext = rows_next,
  .xEof = rows_eof,
  .xColumn = rows_column,
  .xRowid = rows_rowid,
};

/* ---- writing one block (on the writer thread) ---- */

/* INSERT ... SELECT c0, NULL, c2, ... FROM the virtual table: the columns in cols, NULL for
 * the others. */
static int prepare(hq__rowq_t *q, size_t k, uint32_t cols, sqlite3_stmt **out) {
  const hq__rowq_table_t *t = &q->tables[k];
  size_t cap = strlen(t->insert) + 64 + 8 * (size_t)t->ncols, n;
  char *sql = malloc(cap);
  int rc = HQ_OK;
  if (!sql) return HQ_ENOMEM;
  n = (size_t)snprintf(sql, cap, "%s SELECT ", t->insert);
  for (int c = 0; c < t->ncols; c++) {
    const char *sep = c ? ", " : "";
    if (cols & (1u << c)) n += (size_t)snprintf(sql + n, cap - n, "%sc%d", sep, c);
    else n += (size_t)snprintf(sql + n, cap - n, "%sNULL", sep);
  }
  snprintf(sql + n, cap - n, " FROM " ROWS_MODULE);
  if (sqlite3_prepare_v3(q->db->sql, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK) {
    *out = NULL;
    rc = hq__db_sqlerr(q->db, t->name);
  }
  free(sql);
  return rc;
}

/* The statement of table k that reads exactly the columns in cols (prepared when new). */
static int statement(hq__rowq_t *q, size_t k, uint32_t cols, sqlite3_stmt **out) {
  unsigned slot;
  int rc;
  for (unsigned i = 0; i < HQ__ROWQ_SHAPES; i++) {
    if (q->shape[k][i].st && q->shape[k][i].cols == cols) {
      *out = q->shape[k][i].st;
      return HQ_OK;
    }
  }
  if ((rc = prepare(q, k, cols, out))) return rc;
  slot = q->shape_next[k]++ % HQ__ROWQ_SHAPES;
  sqlite3_finalize(q->shape[k][slot].st);
  q->shape[k][slot].cols = cols;
  q->shape[k][slot].st = *out;
  return HQ_OK;
}

static int write_block(hq__rowq_t *q, const hq__row_t *rows, size_t n) {
  int64_t last_rowid[HQ__ROWQ_TABLES] = {0};
  uint32_t cols[HQ__ROWQ_TABLES] = {0};
  uint32_t present = 0;
  for (size_t i = 0; i < n; i++) {
    present |= 1u << rows[i].table;
    cols[rows[i].table] |= rows[i].nonnull;
    last_rowid[rows[i].table] = rows[i].rowid;
  }
  /* One INSERT ... SELECT per table present, in table order: each table's rows keep theirs. */
  for (size_t k = 0; k < q->n_tables; k++) {
    sqlite3_stmt *st;
    int rc;
    if (!(present & (1u << k))) continue;
    if ((rc = statement(q, k, cols[k], &st))) return rc;
    q->batch = rows;
    q->batch_n = n;
    q->batch_table = (int)k;
    if (sqlite3_step(st) != SQLITE_DONE) {
      rc = hq__db_sqlerr(q->db, q->tables[k].name);
      sqlite3_reset(st);
      return rc;
    }
    sqlite3_reset(st); /* closes the virtual table's cursor while the block is still there */
    if (last_rowid[k] && sqlite3_last_insert_rowid(q->db->sql) != last_rowid[k])
      return hq__db_seterr(q->db, HQ_EDB, "%s: %s: row id %lld where %lld was assigned",
                           q->db->path, q->tables[k].name,
                           (long long)sqlite3_last_insert_rowid(q->db->sql),
                           (long long)last_rowid[k]);
  }
  return HQ_OK;
}

static void *writer_main(void *arg) {
  hq__rowq_t *q = arg;
  pthread_mutex_lock(&q->mu);
  for (;;) {
    size_t b;
    int rc;
    while (q->written == q->queued && !q->ending && !q->stop) pthread_cond_wait(&q->more, &q->mu);
    if (q->stop || q->written == q->queued) break;
    b = (size_t)(q->written % HQ__ROWQ_BLOCKS);
    pthread_mutex_unlock(&q->mu);
    rc = write_block(q, &q->blocks[b * HQ__ROWQ_BLOCK], q->fills[b]);
    pthread_mutex_lock(&q->mu);
    q->written++;
    pthread_cond_signal(&q->room);
    if (rc) {
      q->rc = rc;
      break;
    }
  }
  q->stop = 1; /* the producer sees it at its next hand-over */
  pthread_cond_signal(&q->room);
  pthread_mutex_unlock(&q->mu);
  return NULL;
}

/* ---- the producer's side ---- */

int hq__rowq_flush(hq__rowq_t *q) {
  size_t b;
  if (q->failed) return q->rc;
  if (!q->threaded) {
    int rc = write_block(q, q->cur, q->fill);
    if (rc) {
      q->rc = rc;
      q->failed = 1;
      return rc;
    }
    q->fill = 0;
    return HQ_OK;
  }
  pthread_mutex_lock(&q->mu);
  b = (size_t)(q->queued % HQ__ROWQ_BLOCKS);
  q->fills[b] = q->fill;
  q->queued++;
  pthread_cond_signal(&q->more);
  while (q->queued - q->written >= HQ__ROWQ_BLOCKS && !q->stop) pthread_cond_wait(&q->room, &q->mu);
  if (q->stop) {
    q->failed = 1;
    pthread_mutex_unlock(&q->mu);
    return q->rc ? q->rc : HQ_EINVAL;
  }
  b = (size_t)(q->queued % HQ__ROWQ_BLOCKS);
  pthread_mutex_unlock(&q->mu);
  q->cur = &q->blocks[b * HQ__ROWQ_BLOCK];
  q->fill = 0;
  return HQ_OK;
}

int hq__rowq_error(hq__rowq_t *q) {
  return q->rc ? q->rc : HQ_EINVAL;
}

/* Finalize the statements, drop the module, free q (the writer is joined, or never ran). */
static void rowq_free(hq__rowq_t *q) {
  for (size_t k = 0; k < q->n_tables; k++)
    for (unsigned i = 0; i < HQ__ROWQ_SHAPES; i++) sqlite3_finalize(q->shape[k][i].st);
  if (q->module) sqlite3_create_module_v2(q->db->sql, ROWS_MODULE, NULL, NULL, NULL);
  pthread_mutex_destroy(&q->mu);
  pthread_cond_destroy(&q->more);
  pthread_cond_destroy(&q->room);
  free(q->blocks);
  free(q);
}

static void rowq_join(hq__rowq_t *q, int stop) {
  if (!q->threaded) return;
  pthread_mutex_lock(&q->mu);
  if (stop) q->stop = 1;
  q->ending = 1;
  pthread_cond_signal(&q->more);
  pthread_mutex_unlock(&q->mu);
  pthread_join(q->thread, NULL);
  q->threaded = 0;
}

int hq__rowq_finish(hq__rowq_t *q) {
  int rc = HQ_OK;
  if (!q) return HQ_EINVAL;
  if (q->failed) {
    rc = q->rc;
  } else if (q->fill) {
    if (q->threaded) {
      pthread_mutex_lock(&q->mu);
      q->fills[q->queued % HQ__ROWQ_BLOCKS] = q->fill;
      q->queued++;
      pthread_mutex_unlock(&q->mu);
    } else {
      rc = write_block(q, q->cur, q->fill);
    }
  }
  rowq_join(q, rc != HQ_OK);
  if (!rc) rc = q->rc;
  rowq_free(q);
  return rc;
}

void hq__rowq_abort(hq__rowq_t *q) {
  if (!q) return;
  rowq_join(q, 1);
  rowq_free(q);
}

int hq__rowq_start(hq_db_t *db, const hq__rowq_table_t *tables, size_t n_tables,
                   hq__rowq_t **out_q) {
  hq__rowq_t *q;
  int rc = HQ_OK;
  if (!out_q) return HQ_EINVAL;
  *out_q = NULL;
  if (!db || !tables || n_tables == 0 || n_tables > HQ__ROWQ_TABLES) return HQ_EINVAL;
  for (size_t k = 0; k < n_tables; k++)
    if (tables[k].ncols < 1 || tables[k].ncols > HQ__ROWQ_COLS) return HQ_EINVAL;
  q = calloc(1, sizeof *q);
  if (!q) return HQ_ENOMEM;
  q->blocks = malloc(sizeof *q->blocks * HQ__ROWQ_BLOCK * HQ__ROWQ_BLOCKS);
  if (!q->blocks) {
    free(q);
    return HQ_ENOMEM;
  }
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->more, NULL);
  pthread_cond_init(&q->room, NULL);
  q->db = db;
  q->n_tables = n_tables;
  memcpy(q->tables, tables, n_tables * sizeof *tables);
  q->cur = q->blocks;
  if (sqlite3_create_module_v2(db->sql, ROWS_MODULE, &rows_module, q, NULL) != SQLITE_OK)
    rc = hq__db_sqlerr(db, "virtual table");
  else
    q->module = 1;
  /* Every column read: checks each INSERT now, and is the shape of most blocks of most tables. */
  for (size_t k = 0; k < n_tables && !rc; k++) {
    sqlite3_stmt *st;
    rc = statement(q, k, (uint32_t)((1ull << tables[k].ncols) - 1), &st);
  }
  if (rc) {
    rowq_free(q);
    return rc;
  }
  /* Without a thread the rows are written inline, block by block: slower, same result. */
  {
    /* The writer must never take a signal meant for the program (the recorder imports inside
     * the program's exit): it starts with every signal blocked. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    q->threaded = pthread_create(&q->thread, NULL, writer_main, q) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
  *out_q = q;
  return HQ_OK;
}
