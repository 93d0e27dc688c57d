/*
 * hq_report_fixture.h: a hand-built heapql database with a known truth, for the report and view
 * tests.  The rows follow the importer's data contract exactly; every figure the report prints is
 * worked out by hand in hq_report_fixture.c (and asserted in tests/unit/test_report.c and
 * tests/unit/test_views.c).
 */
#ifndef HQ_REPORT_FIXTURE_H
#define HQ_REPORT_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

/* How the aggregate tables get built. */
enum {
  HQ_FIXTURE_NO_AGG = 0,    /* none: the first report builds them */
  HQ_FIXTURE_SCAN,          /* hq__aggregate_build() after the rows, as a plain importer */
  HQ_FIXTURE_STREAM,        /* hq__agg_* fed with every event in time order */
};
/* Flags. */
enum {
  HQ_FIXTURE_NO_PEAK_META = 1 << 0,  /* leave meta peak_heap_t/peak_heap_bytes out */
  HQ_FIXTURE_BAD_PEAK_META = 1 << 1, /* write a wrong peak time (an importer bug) */
  HQ_FIXTURE_UNSYMBOLIZED = 1 << 2,  /* frames without function/file/line */
};

/* 1 ms in the fixture's time unit (times below are in ms; the database holds ns). */
#define HQ_FIXTURE_MS 1000000LL

/* Create the fixture database at path (replacing it).  Returns 0, or fails the test. */
void hq_fixture_report(const char *path, int agg_mode, int flags);

/* A workload that trips every --recommend rule: hot temporaries, a realloc chain, a huge
 * buffer, and a heap that grows linearly while leaking. */
void hq_fixture_recommend(const char *path);

/* A ```sql block of docs/schema.md whose first line is "-- MARKER: NAME": the SQL that
 * follows, and the expected rows from the trailing "-- " comment lines (NULL when none). */
typedef struct hq_doc_block_s {
  char *name;
  char *sql;
  char *expected;   /* "a|b\nc|d\n" */
} hq_doc_block_t;

/* All blocks with the given marker ("example" or "figure"), in document order. */
size_t hq_doc_blocks(const char *marker, hq_doc_block_t **out);
void   hq_doc_blocks_free(hq_doc_block_t *blocks, size_t n);

/* Every row of sql as "a|b|c\n" (NULL as empty), as the sqlite3 shell's list mode; malloc'd.
 * An SQL error fails the test. */
char  *hq_sql_rows(sqlite3 *db, const char *sql);

#endif /* HQ_REPORT_FIXTURE_H */
