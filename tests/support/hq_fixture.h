/*
 * hq_fixture.h: databases built by hand for analyzer tests, row by row as the importer writes
 * them (see the schema and the importer's data contract), so analyzer tests do not depend on
 * the recorder.  Every function fails the test on an SQL error.
 */
#ifndef HQ_FIXTURE_H
#define HQ_FIXTURE_H

#include <stdint.h>
#include "heapql/heapql.h"
#include "hq_test.h"

#define HQ_FX_NULL INT64_MIN   /* a NULL integer column */

/* A new database at path (replaced if present) with meta pid and program set. */
hq_db_t *hq_fx_create(const char *path, int64_t pid, const char *program);
/* fmt is sqlite3_mprintf's: %Q quotes a string or writes NULL. */
void     hq_fx_exec(hq_db_t *db, const char *fmt, ...);
void     hq_fx_meta(hq_db_t *db, const char *key, int64_t value);
int64_t  hq_fx_module(hq_db_t *db, int64_t pid, const char *path, int64_t base, int64_t size);
/* A frame row; function/file NULL and line HQ_FX_NULL for unsymbolized; returns its id. */
int64_t  hq_fx_frame(hq_db_t *db, int64_t module_id, int64_t ip, const char *function,
                     const char *file, int64_t line, int64_t inline_parent, int is_inline);
/* A stack node under parent (0 = a root); depth computed. */
int64_t  hq_fx_stack(hq_db_t *db, int64_t parent, int64_t frame_id);
/* An allocation row; stack_id 0 = NULL; t_free HQ_FX_NULL = never freed (free_kind ignored). */
int64_t  hq_fx_alloc(hq_db_t *db, int64_t pid, const char *kind, int64_t size, int64_t stack_id,
                     int64_t t_alloc, int64_t t_free, const char *free_kind);
void     hq_fx_sample(hq_db_t *db, int64_t pid, int64_t t, int64_t heap, int64_t mmap,
                      int64_t device, int64_t rss);

/* Times in the fixtures: x "ticks" of 10 ms, in ns. */
#define HQ_FX_T(x) ((int64_t)(x) * 10000000LL)

/*
 * The "victim" run, pid `pid`, program "victim", as analyzer tests know it:
 *   frames  main (victim.c:40) <- work (victim.c:20) <- leaky (victim.c:12)
 *           libfoo.so+0x1234 (unsymbolized, called from main)
 *           inner_helper (util.h:7) inlined into work (victim.c:25), called from main
 *   variant 0 (BASE), heap: work 100 B (freed), leaky 200 B (leaked) + 300 B (freed),
 *           libfoo 1000 B calloc (freed), inner_helper 50 B new (leaked), 8 B with no stack
 *           (freed); mmap class: work 4096 B (never unmapped).  Peak heap 1250 B at T(70).
 *   variant 1 (NEW): lines in victim.c one higher, other addresses; work 3 x 100 B, libfoo
 *           2000 B, a new leak leak2 (victim.c:60) 64 B called from work; peak 2314 B at T(75).
 * Samples every T(10) from T(0) to T(100) (heap, mmap, RSS; no device).
 */
hq_db_t *hq_fx_victim(const char *path, int64_t pid, int variant);

/* ---- checks shared by the analyzer tests ---- */

/* Run build/bin/heapql with args (NULL-terminated, at most 14) and capture its output. */
hq_test_proc_t hq_fx_cli(char **args);
/* The process printed exactly one line "heapql: ...fragment..." on stderr and exited `status`. */
void   hq_fx_assert_one_line(const hq_test_proc_t *p, int status, const char *fragment);
/* `xmllint --noout path` accepts the file (skips, or fails under CI, without xmllint). */
void   hq_fx_xml_ok(const char *path);
/* How many times needle occurs in hay. */
size_t hq_fx_count(const char *hay, const char *needle);
/* Run `/usr/bin/python3 -c script path` (skips, or fails under CI, without it): its stdout,
 * malloc'd. */
char  *hq_fx_python(const char *script, const char *path);

#endif /* HQ_FIXTURE_H */
