/*
 * hq_rowq.h: rows on their way into SQLite, written by a thread of their own.
 *
 * The importer's sweep (hq_import.c) decides every row: its table, its values, its id.  Turning
 * rows into b-tree records is most of an import's time, and it needs nothing from the sweep but
 * the row, so it runs on a writer thread: the sweep fills fixed-size row structs into blocks,
 * hands full blocks over through a bounded queue (single producer, single consumer), and goes
 * on.  From hq__rowq_start() until hq__rowq_finish() or hq__rowq_abort() the connection belongs
 * to the writer; the caller must not use it (nor the hq_db_t's error message) in between.
 *
 * Rows of one table reach SQLite in the order they were queued.  Each block is written with one
 * INSERT ... SELECT per table present in it, from an eponymous virtual table over the block's
 * rows, which costs about two thirds of a one-row INSERT with bound parameters (columns that no
 * row of the block sets are NULL literals in that statement, which is cheaper still).  A table with
 * an INTEGER PRIMARY KEY may leave it out of its INSERT so that SQLite appends with the next
 * id (cheaper than an explicit id, which is looked up first); the row's `rowid` then says which
 * id SQLite must assign, and the writer checks it at the end of each block.
 *
 * Internal to the analyzer.
 */
#ifndef HQ_ROWQ_H
#define HQ_ROWQ_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "base/base_int.h"

#define HQ__ROWQ_COLS   20     /* columns per row at most */
#define HQ__ROWQ_TABLES 8      /* tables per queue at most */
#define HQ__ROWQ_BLOCK  1024   /* rows per block */
#define HQ__ROWQ_BLOCKS 16     /* blocks in the queue: the sweep runs at most this far ahead */
#define HQ__ROWQ_SHAPES 4      /* statements kept per table, one per set of non-NULL columns */

/* One row.  Column c (0-based, parameter ?c+1 of the table's INSERT) is NULL unless bit c of
 * nonnull is set; then it is v[c] as an integer, or, with bit c of `real`, the double whose
 * bits v[c] holds, or, with bit c of `text`, the string at (const char *)v[c] whose length is
 * tlen[0] for the row's first text column and tlen[1] for its second.  Text must stay valid
 * until the queue is finished (static strings, or the import's mapping). */
typedef struct hq__row_s {
  int64_t v[HQ__ROWQ_COLS];
  int64_t rowid;        /* the id SQLite must assign to the row (0 = no check) */
  uint32_t nonnull, text, real;
  uint32_t tlen[2];
  uint8_t table;
} hq__row_t;

typedef struct hq__rowq_table_s {
  const char *name;     /* for error messages: "allocations" */
  const char *insert;   /* "INSERT INTO allocations(id, pid, ...)": columns, no VALUES */
  int ncols;
} hq__rowq_table_t;

typedef struct hq__rowq_s {
  /* Producer side (the sweep): the block being filled. */
  hq__row_t *cur;
  size_t fill;
  int failed;                 /* the writer stopped: hq__rowq_row() returns NULL */

  /* Shared, under mu. */
  pthread_mutex_t mu;
  pthread_cond_t more;        /* a block was queued, or the end */
  pthread_cond_t room;        /* a block was written */
  uint64_t queued, written;   /* blocks, counted from the start */
  int ending, stop, rc;       /* rc: the writer's result (HQ_OK, or why it stopped) */

  /* Writer side. */
  hq_db_t *db;
  hq__rowq_table_t tables[HQ__ROWQ_TABLES];
  /* Per table, statements by the columns they read: a column no row of a block sets is a
   * literal NULL in its SELECT, which saves a virtual-table call and a copy per row. */
  struct {
    uint32_t cols;
    sqlite3_stmt *st;
  } shape[HQ__ROWQ_TABLES][HQ__ROWQ_SHAPES];
  unsigned shape_next[HQ__ROWQ_TABLES]; /* slot the next new shape replaces */
  size_t n_tables;
  const hq__row_t *batch;     /* what the virtual table yields: rows of batch_table in batch */
  size_t batch_n;
  int batch_table;
  pthread_t thread;
  int threaded;               /* 0: pthread_create failed, blocks are written inline */
  int module;                 /* the virtual table module is registered */

  hq__row_t *blocks;          /* HQ__ROWQ_BLOCKS x HQ__ROWQ_BLOCK */
  size_t fills[HQ__ROWQ_BLOCKS];
} hq__rowq_t;

/* Prepare one INSERT per table (tables[i] is table i of hq__row_t.table) and start the writer
 * thread (blocks are written inline if no thread can be started).  Returns HQ_OK, HQ_ENOMEM,
 * HQ_EINVAL (too many tables or columns), or HQ_EDB with db's message set. */
int  hq__rowq_start(hq_db_t *db, const hq__rowq_table_t *tables, size_t n_tables,
                    hq__rowq_t **out_q);
/* Queue whatever is pending, wait until the writer has written it, hand the connection back
 * and free q.  Returns HQ_OK or the writer's error (db's message set). */
int  hq__rowq_finish(hq__rowq_t *q);
/* Stop the writer without writing what is pending, hand the connection back, free q.  NULL is
 * a no-op.  db's message is left as the writer set it (if it failed). */
void hq__rowq_abort(hq__rowq_t *q);
/* The writer's error after hq__rowq_row() returned NULL. */
int  hq__rowq_error(hq__rowq_t *q);
/* Hand the full block over; the next one is empty (internal to hq__rowq_row). */
int  hq__rowq_flush(hq__rowq_t *q);

/* The next row to fill, all columns NULL; NULL when the writer failed (hq__rowq_error). */
static inline hq__row_t *hq__rowq_row(hq__rowq_t *q, int table) {
  hq__row_t *r;
  if (hq_unlikely(q->fill == HQ__ROWQ_BLOCK) && hq__rowq_flush(q) != HQ_OK) return NULL;
  r = &q->cur[q->fill++];
  r->table = (uint8_t)table;
  r->nonnull = r->text = r->real = 0;
  r->rowid = 0;
  return r;
}

/* Setters take the column as the INSERT's parameter number (1-based), like sqlite3_bind_*. */
static inline void hq__row_int(hq__row_t *r, int param, int64_t v) {
  r->v[param - 1] = v;
  r->nonnull |= 1u << (param - 1);
}

static inline void hq__row_double(hq__row_t *r, int param, double d) {
  memcpy(&r->v[param - 1], &d, sizeof d);
  r->nonnull |= 1u << (param - 1);
  r->real |= 1u << (param - 1);
}

/* At most two text columns per row, set in column order. */
static inline void hq__row_text(hq__row_t *r, int param, const char *s, size_t len) {
  r->tlen[r->text ? 1 : 0] = (uint32_t)len;
  r->v[param - 1] = (int64_t)(intptr_t)s;
  r->nonnull |= 1u << (param - 1);
  r->text |= 1u << (param - 1);
}

#endif /* HQ_ROWQ_H */
