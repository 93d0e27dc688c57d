/*
 * hq_gate.c: the leak gate's verdict (hq_gate in analyzer.h; the command: docs/cli.md).
 *
 * Leak records come from the rows: the heap blocks each process still held at exit, grouped by
 * process, stack and leak class (the leak check's, memcheck's classes; NULL for a process no
 * check ran in, a killed one).  Each record is located at its site and keeps its whole stack and
 * two fingerprints of it.  Then, in this order: suppressions (LeakSanitizer's and the program's
 * embedded ones), the baseline, the budgets; what is left is counted against the limits.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"

void hq_gate_opts_init(hq_gate_opts_t *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->max_blocks[HQ_GATE_DEFINITELY] = 0;
  o->max_blocks[HQ_GATE_INDIRECTLY] = 0;
  o->max_blocks[HQ_GATE_POSSIBLY] = -1;
  o->max_blocks[HQ_GATE_REACHABLE] = -1;
  o->max_leaked_bytes = o->max_leaks = o->max_peak = o->max_allocations = -1;
}

static int class_of(const char *name) {
  if (!name) return HQ__GATE_UNCLASSIFIED;
  for (int k = 0; k < HQ_GATE_CLASSES; k++)
    if (!strcmp(name, hq__gate_class_names[k])) return k;
  return HQ__GATE_UNCLASSIFIED;
}

static const char *base_name(const char *p) {
  const char *s = p ? strrchr(p, '/') : NULL;
  return s ? s + 1 : p;
}

/* FNV-1a over the stack's frames, outermost first: with lines, or function names only. */
static void fingerprints(hq__gate_leak_t *l) {
  uint64_t h[2] = {0xcbf29ce484222325ull, 0xcbf29ce484222325ull};
  for (size_t i = l->n_frames; i-- > 0;) {
    const hq__gate_frame_t *f = &l->frames[i];
    char part[2][1200];
    if (f->function) {
      snprintf(part[0], sizeof part[0], "%s|%s|%" PRId64 ";", f->function,
               f->file ? base_name(f->file) : "", f->line);
      snprintf(part[1], sizeof part[1], "%s;", f->function);
    } else { /* no name: where in which module, which a rebuild changes; both alike */
      snprintf(part[0], sizeof part[0], "%s;", f->text ? f->text : "?");
      snprintf(part[1], sizeof part[1], "%s;", f->module ? base_name(f->module) : "?");
    }
    for (int k = 0; k < 2; k++)
      for (const char *c = part[k]; *c; c++) h[k] = (h[k] ^ (unsigned char)*c) * 0x100000001b3ull;
  }
  snprintf(l->fp_lines, sizeof l->fp_lines, "%016" PRIx64, h[0]);
  snprintf(l->fp_funcs, sizeof l->fp_funcs, "%016" PRIx64, h[1]);
}

static void leak_free(hq__gate_leak_t *l) {
  for (size_t f = 0; f < l->n_frames; f++) {
    free(l->frames[f].text);
    free(l->frames[f].function);
    free(l->frames[f].file);
    free(l->frames[f].module);
  }
  free(l->frames);
  free(l->site);
  free(l->function);
  free(l->file);
  free(l->module);
  free(l->why);
}

void hq_gate_free(hq_gate_t *g) {
  if (!g) return;
  for (size_t i = 0; i < g->n_leaks; i++) leak_free(&g->leaks[i]);
  free(g->leaks);
  for (size_t i = 0; i < g->n_reasons; i++) free(g->reasons[i]);
  free(g->reasons);
  for (size_t i = 0; i < g->n_procs; i++) {
    free(g->procs[i].program);
    free(g->procs[i].leak_check);
    free(g->procs[i].db);
  }
  free(g->procs);
  for (size_t i = 0; i < g->n_stale; i++) free(g->stale[i]);
  free(g->stale);
  free(g->source_root);
  free(g);
}

int hq_gate_failed(const hq_gate_t *g) {
  return g ? g->failed : 1;
}

static char *dup_or_null(sqlite3_stmt *st, int col) {
  return hq__col_strdup(st, col);
}

/* The stack of a record, and its site. */
static int load_stack(hq_db_t *db, hq__gate_leak_t *l) {
  hq_frame_t *frames = NULL;
  size_t n = 0;
  sqlite3_stmt *st = NULL;
  int rc = l->stack_id > 0 ? hq_stack_frames(db, l->stack_id, &frames, &n) : HQ_OK;
  if (rc) return rc;
  l->frames = calloc(n ? n : 1, sizeof *l->frames);
  if (!l->frames) {
    hq_frames_free(frames, n);
    return HQ_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    hq__gate_frame_t *f = &l->frames[i];
    f->text = frames[i].text ? strdup(frames[i].text) : NULL;
    f->function = frames[i].function ? strdup(frames[i].function) : NULL;
    f->file = frames[i].file ? strdup(frames[i].file) : NULL;
    f->module = frames[i].module ? strdup(frames[i].module) : NULL;
    f->line = frames[i].line;
    l->n_frames++;
  }
  hq_frames_free(frames, n);
  fingerprints(l);
  if (l->stack_id <= 0) return HQ_OK;
  rc = hq__db_prepare(db, "SELECT site, function, file, line, module FROM stack_sites WHERE stack_id = ?1", &st);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, l->stack_id);
  if (sqlite3_step(st) == SQLITE_ROW) {
    l->site = dup_or_null(st, 0);
    l->function = dup_or_null(st, 1);
    l->file = dup_or_null(st, 2);
    l->line = sqlite3_column_int64(st, 3);
    l->module = dup_or_null(st, 4);
  }
  sqlite3_finalize(st);
  return HQ_OK;
}

/* The processes of db that `only` admits; their records. */
static int load_db(hq_gate_t *g, hq_db_t *db, hq__supp_t **supp, const hq_gate_opts_t *opts,
                   char *err, size_t cap) {
  sqlite3_stmt *st = NULL;
  size_t procs_cap = g->n_procs, leaks_cap = g->n_leaks;
  int rc = hq__callsites_ensure(db);
  size_t first_proc = g->n_procs;
  if (rc) return rc;
  rc = hq__db_prepare(db, "SELECT pid, program, complete FROM processes ORDER BY pid", &st);
  if (rc) return rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *prog = (const char *)sqlite3_column_text(st, 1);
    hq__gate_proc_t *p;
    if (opts->only && (!prog || fnmatch(opts->only, prog, 0))) continue;
    if ((rc = hq__grow((void **)&g->procs, &procs_cap, g->n_procs, sizeof *g->procs, 8))) break;
    p = &g->procs[g->n_procs++];
    memset(p, 0, sizeof *p);
    p->pid = sqlite3_column_int64(st, 0);
    p->program = prog ? strdup(prog) : strdup("?");
    p->complete = sqlite3_column_int(st, 2);
    p->db = strdup(hq_db_path(db));
    if (!p->program || !p->db) { rc = HQ_ENOMEM; break; }
    hq__meta_text(db, "leak_check", &p->leak_check);
    rc = SQLITE_DONE;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return rc == HQ_ENOMEM ? rc : hq__db_sqlerr(db, "reading processes");
  /* The program's embedded suppressions (__lsan_default_suppressions), recorded at exit. */
  if (!opts->no_embedded) {
    char *embedded = NULL;
    if (hq__meta_text(db, "embedded_suppressions", &embedded) == HQ_OK && embedded) {
      char where[600];
      snprintf(where, sizeof where, "%s: embedded suppressions", hq_db_path(db));
      rc = hq__supp_add(supp, embedded, where, err, cap);
      free(embedded);
      if (rc) return rc;
    }
  }
  if (!g->source_root) hq__source_root(db, &g->source_root);
  rc = hq__db_prepare(db, "SELECT a.pid, a.stack_id, a.leak_class, count(*), sum(a.size)"
                          " FROM allocations a JOIN kinds k USING(kind)"
                          " WHERE a.t_free IS NULL AND k.class = 'heap'"
                          " GROUP BY a.pid, a.stack_id, a.leak_class", &st);
  if (rc) return rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t pid = sqlite3_column_int64(st, 0);
    const char *program = NULL;
    hq__gate_leak_t *l;
    for (size_t i = first_proc; i < g->n_procs; i++)
      if (g->procs[i].pid == pid) program = g->procs[i].program;
    if (!program) continue; /* a process `only` left out */
    if ((rc = hq__grow((void **)&g->leaks, &leaks_cap, g->n_leaks, sizeof *g->leaks, 64))) break;
    l = &g->leaks[g->n_leaks++];
    memset(l, 0, sizeof *l);
    l->pid = pid;
    l->program = program;
    l->stack_id = sqlite3_column_type(st, 1) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 1);
    l->cls = class_of((const char *)sqlite3_column_text(st, 2));
    l->blocks = (uint64_t)sqlite3_column_int64(st, 3);
    l->bytes = (uint64_t)sqlite3_column_int64(st, 4);
    rc = SQLITE_DONE;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return rc == HQ_ENOMEM ? rc : hq__db_sqlerr(db, "reading leaks");
  for (size_t i = 0; i < g->n_leaks; i++)
    if (!g->leaks[i].frames && (rc = load_stack(db, &g->leaks[i]))) return rc;
  /* peaks and counts */
  {
    int64_t peak = 0, allocs = 0;
    hq__meta_int(db, "peak_heap_bytes", &peak);
    if ((uint64_t)peak > g->peak) g->peak = (uint64_t)peak;
    rc = hq__db_prepare(db, "SELECT coalesce(sum(allocations), 0) FROM agg_class WHERE class = 'heap'", &st);
    if (rc) return rc;
    if (sqlite3_step(st) == SQLITE_ROW) allocs = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    g->allocations += (uint64_t)allocs;
  }
  return HQ_OK;
}

/* "GLOB=BYTES[,...]": each budget takes the counted definitely/indirectly lost records whose site
 * function matches, if they fit together. */
static int apply_budgets(hq_gate_t *g, const char *budgets, char *err, size_t cap) {
  char buf[4096];
  if (!budgets) return HQ_OK;
  snprintf(buf, sizeof buf, "%s", budgets);
  for (char *save = NULL, *b = strtok_r(buf, ",", &save); b; b = strtok_r(NULL, ",", &save)) {
    char *eq = strrchr(b, '='), *end = NULL;
    unsigned long long limit, used = 0;
    if (!eq || eq == b || !eq[1]) {
      snprintf(err, cap, "--budget '%s': write GLOB=BYTES", b);
      return HQ_EFORMAT;
    }
    *eq = '\0';
    limit = strtoull(eq + 1, &end, 10);
    if (*end == 'K' || *end == 'k') limit <<= 10, end++;
    else if (*end == 'M' || *end == 'm') limit <<= 20, end++;
    else if (*end == 'G' || *end == 'g') limit <<= 30, end++;
    if (*end == 'i') end++;
    if (*end == 'B') end++;
    if (*end || eq[1] == '-') {
      snprintf(err, cap, "--budget '%s=%s': BYTES must be a size", b, eq + 1);
      return HQ_EFORMAT;
    }
    for (size_t i = 0; i < g->n_leaks; i++) {
      hq__gate_leak_t *l = &g->leaks[i];
      if (l->status == HQ__GATE_COUNTED && l->cls <= HQ_GATE_INDIRECTLY && l->function &&
          !fnmatch(b, l->function, 0))
        used += l->bytes;
    }
    if (used > limit) continue; /* over budget: they count */
    for (size_t i = 0; i < g->n_leaks; i++) {
      hq__gate_leak_t *l = &g->leaks[i];
      if (l->status == HQ__GATE_COUNTED && l->cls <= HQ_GATE_INDIRECTLY && l->function &&
          !fnmatch(b, l->function, 0)) {
        l->status = HQ__GATE_BUDGETED;
        free(l->why);
        l->why = strdup(b);
        g->budgeted++;
      }
    }
  }
  return HQ_OK;
}

static int reason(hq_gate_t *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int reason(hq_gate_t *g, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  size_t cap = g->n_reasons;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (hq__grow((void **)&g->reasons, &cap, g->n_reasons, sizeof *g->reasons, 8)) return HQ_ENOMEM;
  if (!(g->reasons[g->n_reasons] = strdup(buf))) return HQ_ENOMEM;
  g->n_reasons++;
  g->failed = 1;
  return HQ_OK;
}

static int cmp_leak(const void *a, const void *b) {
  const hq__gate_leak_t *x = a, *y = b;
  if (x->status != y->status) return x->status < y->status ? -1 : 1;
  if (x->cls != y->cls) return x->cls < y->cls ? -1 : 1;
  if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
  return strcmp(x->fp_lines, y->fp_lines);
}

/* The suppression files of opts into *supp; err gets FILE:LINE on bad input. */
static int read_suppressions(const hq_gate_opts_t *opts, hq__supp_t **supp, char *err, size_t cap) {
  for (size_t i = 0; i < opts->n_suppressions; i++) {
    size_t len = 0;
    char *text = hq__read_file(opts->suppressions[i], &len);
    int rc;
    if (!text) {
      int e = errno;
      snprintf(err, cap, "%s: %s", opts->suppressions[i], strerror(e));
      return e == ENOENT ? HQ_ENOENT : HQ_EIO;
    }
    rc = hq__supp_add(supp, text, opts->suppressions[i], err, cap);
    free(text);
    if (rc) return rc;
  }
  return HQ_OK;
}

int hq_gate_check(const hq_gate_opts_t *opts, char *err, size_t errcap) {
  hq__supp_t *supp = NULL;
  hq__baseline_t *base = NULL;
  hq_gate_t empty;
  char ebuf[1024] = "";
  int rc;
  if (!opts) return HQ_OK;
  rc = read_suppressions(opts, &supp, ebuf, sizeof ebuf);
  if (!rc && opts->baseline) rc = hq__baseline_read(opts->baseline, &base, ebuf, sizeof ebuf);
  memset(&empty, 0, sizeof empty);
  if (!rc) rc = apply_budgets(&empty, opts->budgets, ebuf, sizeof ebuf);
  hq__supp_free(supp);
  hq__baseline_free(base);
  if (rc && err && errcap) snprintf(err, errcap, "%s", ebuf[0] ? ebuf : hq_strerror(rc));
  return rc;
}

int hq_gate(hq_db_t *const *dbs, size_t n, const hq_gate_opts_t *opts, hq_gate_t **out, char *err,
            size_t errcap) {
  hq_gate_t *g;
  hq__supp_t *supp = NULL;
  hq__baseline_t *base = NULL;
  hq_gate_opts_t dflt;
  char ebuf[1024] = "";
  int rc = HQ_OK;
  if (!out || !dbs) return HQ_MISUSE_BKPT;
  *out = NULL;
  if (err && errcap) err[0] = '\0';
  if (!opts) {
    hq_gate_opts_init(&dflt);
    opts = &dflt;
  }
  if (n == 0) return HQ_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (!HQ_DB_OK(dbs[i])) return HQ_MISUSE_BKPT;
  if (!(g = calloc(1, sizeof *g))) return HQ_ENOMEM;
  g->opts = *opts;
#define FAIL(code) do { rc = (code); goto done; } while (0)
  if ((rc = read_suppressions(opts, &supp, ebuf, sizeof ebuf))) FAIL(rc);
  if (opts->baseline && (rc = hq__baseline_read(opts->baseline, &base, ebuf, sizeof ebuf))) FAIL(rc);
  for (size_t i = 0; i < n; i++) {
    if ((rc = load_db(g, dbs[i], &supp, opts, ebuf, sizeof ebuf))) {
      if (!ebuf[0]) snprintf(ebuf, sizeof ebuf, "%s", hq_db_errmsg(dbs[i]));
      FAIL(rc);
    }
  }
  if (g->n_procs == 0) {
    snprintf(ebuf, sizeof ebuf, "no process to gate%s%s", opts->only ? " matches " : "",
             opts->only ? opts->only : "");
    FAIL(HQ_EINVAL);
  }
  for (size_t i = 0; i < g->n_leaks; i++) {
    hq__gate_leak_t *l = &g->leaks[i];
    const char *by = hq__supp_match(supp, l);
    if (by) {
      l->status = HQ__GATE_SUPPRESSED;
      l->why = strdup(by);
      g->suppressed++;
    }
  }
  if ((rc = hq__baseline_match(base, g->leaks, g->n_leaks, &g->stale, &g->n_stale))) FAIL(rc);
  for (size_t i = 0; i < g->n_leaks; i++) g->baselined += g->leaks[i].status == HQ__GATE_BASELINED;
  if ((rc = apply_budgets(g, opts->budgets, ebuf, sizeof ebuf))) FAIL(rc);
  qsort(g->leaks, g->n_leaks, sizeof *g->leaks, cmp_leak);

  /* What is left counts. */
  {
    uint64_t records = 0;
    for (size_t i = 0; i < g->n_leaks; i++) {
      const hq__gate_leak_t *l = &g->leaks[i];
      if (l->status != HQ__GATE_COUNTED) continue;
      g->blocks[l->cls] += l->blocks;
      g->bytes[l->cls] += l->bytes;
      records += l->cls <= HQ_GATE_INDIRECTLY;
    }
    for (int k = 0; k < HQ_GATE_CLASSES && !rc; k++) {
      static const char *const words[] = {"definitely lost", "indirectly lost", "possibly lost",
                                          "still reachable"};
      if (opts->max_blocks[k] >= 0 && g->blocks[k] > (uint64_t)opts->max_blocks[k])
        rc = reason(g, "%s: %" PRIu64 " block%s, %" PRIu64 " bytes (limit %" PRId64 " block%s)",
                    words[k], g->blocks[k], g->blocks[k] == 1 ? "" : "s", g->bytes[k],
                    opts->max_blocks[k], opts->max_blocks[k] == 1 ? "" : "s");
    }
    if (!rc && opts->max_leaked_bytes >= 0 &&
        g->bytes[HQ_GATE_DEFINITELY] + g->bytes[HQ_GATE_INDIRECTLY] > (uint64_t)opts->max_leaked_bytes)
      rc = reason(g, "leaked bytes (definitely and indirectly lost): %" PRIu64 " (limit %" PRId64 ")",
                  g->bytes[HQ_GATE_DEFINITELY] + g->bytes[HQ_GATE_INDIRECTLY], opts->max_leaked_bytes);
    if (!rc && opts->max_leaks >= 0 && records > (uint64_t)opts->max_leaks)
      rc = reason(g, "leaks: %" PRIu64 " (limit %" PRId64 ")", records, opts->max_leaks);
    if (!rc && opts->max_peak >= 0 && g->peak > (uint64_t)opts->max_peak)
      rc = reason(g, "peak heap: %" PRIu64 " bytes (limit %" PRId64 ")", g->peak, opts->max_peak);
    if (!rc && opts->max_allocations >= 0 && g->allocations > (uint64_t)opts->max_allocations)
      rc = reason(g, "heap allocations: %" PRIu64 " (limit %" PRId64 ")", g->allocations,
                  opts->max_allocations);
    if (!rc && opts->fail_unclassified && g->blocks[HQ__GATE_UNCLASSIFIED])
      rc = reason(g, "unclassified: %" PRIu64 " blocks (no leak check ran)", g->blocks[HQ__GATE_UNCLASSIFIED]);
  }
#undef FAIL
done:
  hq__supp_free(supp);
  hq__baseline_free(base);
  if (rc) {
    if (err && errcap) snprintf(err, errcap, "%s", ebuf[0] ? ebuf : hq_strerror(rc));
    hq_gate_free(g);
    return rc;
  }
  *out = g;
  return HQ_OK;
}
