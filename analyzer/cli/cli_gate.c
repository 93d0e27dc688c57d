/*
 * cli_gate.c: the leak gate's options and outputs, shared by `heapql gate` and
 * `heapql run --gate` (docs/cli.md, "heapql gate").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void hq_cli_gate_init(hq_cli_gate_t *g) {
  memset(g, 0, sizeof *g);
  hq_gate_opts_init(&g->opts);
  g->format = "text";
}

void hq_cli_gate_free(hq_cli_gate_t *g) {
  free(g->supp);
  free(g->budgets);
}

/* A limit: a count or size, or "any" (no limit). */
static int limit_value(const char *opt, const char *v, int size, int64_t *out) {
  unsigned long long x;
  if (!strcmp(v, "any")) {
    *out = -1;
    return 0;
  }
  if (size ? hq_cli_parse_size(v, &x) != 0 : hq_cli_parse_size(v, &x) != 0 || strspn(v, "0123456789") != strlen(v)) {
    hq_cli_error("gate: %s wants %s or 'any', not '%s'", opt, size ? "a size (1M, 512K, 1000)" : "a number", v);
    return -1;
  }
  *out = (int64_t)x;
  return 0;
}

int hq_cli_gate_option(int argc, char **argv, int *i, hq_cli_gate_t *g) {
  static const struct { const char *name; int cls; } classes[] = {
    {"--max-definitely-lost", HQ_GATE_DEFINITELY}, {"--max-indirectly-lost", HQ_GATE_INDIRECTLY},
    {"--max-possibly-lost", HQ_GATE_POSSIBLY}, {"--max-still-reachable", HQ_GATE_REACHABLE}};
  static const struct { const char *name; size_t offset; int size; } limits[] = {
    {"--max-leaked-bytes", offsetof(hq_gate_opts_t, max_leaked_bytes), 1},
    {"--max-leaks", offsetof(hq_gate_opts_t, max_leaks), 0},
    {"--max-peak", offsetof(hq_gate_opts_t, max_peak), 1},
    {"--max-allocations", offsetof(hq_gate_opts_t, max_allocations), 0}};
  const char *v = NULL;
  int r;
  for (size_t k = 0; k < sizeof classes / sizeof classes[0]; k++)
    if ((r = hq_cli_option(argc, argv, i, classes[k].name, &v)))
      return r < 0 ? -1 : limit_value(classes[k].name, v, 0, &g->opts.max_blocks[classes[k].cls]) ? -1 : 1;
  for (size_t k = 0; k < sizeof limits / sizeof limits[0]; k++)
    if ((r = hq_cli_option(argc, argv, i, limits[k].name, &v)))
      return r < 0 ? -1 : limit_value(limits[k].name, v, limits[k].size,
                                      (int64_t *)(void *)((char *)&g->opts + limits[k].offset)) ? -1 : 1;
  if ((r = hq_cli_option(argc, argv, i, "--suppressions", &v))) {
    const char **grown;
    if (r < 0) return -1;
    if (!(grown = realloc(g->supp, (g->n_supp + 1) * sizeof *grown))) return -1;
    g->supp = grown;
    g->supp[g->n_supp++] = v;
    return 1;
  }
  if ((r = hq_cli_option(argc, argv, i, "--budget", &v))) {
    size_t len = g->budgets ? strlen(g->budgets) : 0;
    char *grown;
    if (r < 0) return -1;
    if (!strchr(v, '=')) {
      hq_cli_error("gate: --budget wants GLOB=SIZE, not '%s'", v);
      return -1;
    }
    if (!(grown = realloc(g->budgets, len + strlen(v) + 2))) return -1;
    g->budgets = grown;
    snprintf(g->budgets + len, strlen(v) + 2, "%s%s", len ? "," : "", v);
    return 1;
  }
  if (!strcmp(argv[*i], "--no-embedded-suppressions")) return g->opts.no_embedded = 1;
  if (!strcmp(argv[*i], "--fail-unclassified")) return g->opts.fail_unclassified = 1;
  if ((r = hq_cli_option(argc, argv, i, "--baseline", &g->opts.baseline))) return r;
  if ((r = hq_cli_option(argc, argv, i, "--update-baseline", &g->update_baseline))) return r;
  if ((r = hq_cli_option(argc, argv, i, "--only", &g->opts.only))) return r;
  if ((r = hq_cli_option(argc, argv, i, "--format", &g->format))) return r;
  if ((r = hq_cli_option(argc, argv, i, "--json", &g->json))) return r;
  if ((r = hq_cli_option(argc, argv, i, "--junit", &g->junit))) return r;
  if ((r = hq_cli_option(argc, argv, i, "--sarif", &g->sarif))) return r;
  if (!strcmp(argv[*i], "--github")) return g->github = "", 1;
  if (!strncmp(argv[*i], "--github=", 9)) {
    g->github = argv[*i] + 9;
    return 1;
  }
  if ((r = hq_cli_option(argc, argv, i, "--wrappers", &g->sites.wrappers))) return r;
  return 0;
}

static const struct { const char *name; hq_gate_format_t format; } formats[] = {
  {"text", HQ_GATE_TEXT}, {"json", HQ_GATE_JSON}, {"junit", HQ_GATE_JUNIT},
  {"sarif", HQ_GATE_SARIF}, {"github", HQ_GATE_GITHUB}};

typedef struct writer_ctx_s { const hq_gate_t *g; hq_gate_format_t format; int baseline; } writer_ctx_t;

static int write_one(hq_db_t *db, const void *opts, FILE *out) {
  const writer_ctx_t *w = opts;
  (void)db;
  return w->baseline ? hq_gate_write_baseline(w->g, out) : hq_gate_write(w->g, w->format, out);
}

/* Write the verdict in format to path ("-" or NULL: the stream given). */
static int emit(hq_db_t *db, const hq_gate_t *g, hq_gate_format_t format, int baseline,
                const char *path, FILE *stream) {
  writer_ctx_t w = {g, format, baseline};
  if (!path || !*path || !strcmp(path, "-")) {
    int rc = write_one(db, &w, stream);
    fflush(stream);
    if (rc || ferror(stream)) {
      hq_cli_error("gate: cannot write the verdict: %s", strerror(errno ? errno : EIO));
      return HQ_EXIT_USAGE;
    }
    return 0;
  }
  return hq_cli_write_output(db, path, write_one, &w);
}

int hq_cli_gate_run(hq_cli_gate_t *cg, const char *const *paths, size_t n, FILE *stream,
                    FILE *github_stream) {
  hq_db_t **dbs = calloc(n ? n : 1, sizeof *dbs);
  hq_gate_t *g = NULL;
  hq_gate_format_t format = HQ_GATE_TEXT;
  char err[1024];
  int code = 0, rc;
  size_t k, opened = 0;
  size_t which = sizeof formats / sizeof formats[0];
  if (!dbs) return HQ_EXIT_INTERNAL;
  for (k = 0; k < sizeof formats / sizeof formats[0]; k++)
    if (!strcmp(cg->format, formats[k].name)) which = k;
  if (which == sizeof formats / sizeof formats[0]) {
    hq_cli_error("gate: --format must be text, json, junit, sarif or github, not '%s'", cg->format);
    code = HQ_EXIT_USAGE;
    goto out;
  }
  format = formats[which].format;
  cg->opts.suppressions = cg->supp;
  cg->opts.n_suppressions = cg->n_supp;
  cg->opts.budgets = cg->budgets;
  for (opened = 0; opened < n; opened++) {
    if ((code = hq_cli_open_flags(paths[opened], 0, cg->just_imported ? HQ_DB_NO_CHECK : 0,
                                  &dbs[opened])))
      goto out;
    if ((code = hq_cli_apply_sites(dbs[opened], &cg->sites))) {
      opened++;
      goto out;
    }
  }
  rc = hq_gate(dbs, n, &cg->opts, &g, err, sizeof err);
  if (rc) {
    hq_cli_error("gate: %s", err);
    code = hq_cli_exit_code(rc);
    goto out;
  }
  if ((code = emit(dbs[0], g, format, 0, cg->output, stream))) goto out;
  if (cg->json && (code = emit(dbs[0], g, HQ_GATE_JSON, 0, cg->json, stream))) goto out;
  if (cg->junit && (code = emit(dbs[0], g, HQ_GATE_JUNIT, 0, cg->junit, stream))) goto out;
  if (cg->sarif && (code = emit(dbs[0], g, HQ_GATE_SARIF, 0, cg->sarif, stream))) goto out;
  if (cg->github && (code = emit(dbs[0], g, HQ_GATE_GITHUB, 0, cg->github, github_stream))) goto out;
  if (cg->update_baseline && (code = emit(dbs[0], g, HQ_GATE_TEXT, 1, cg->update_baseline, stream)))
    goto out;
  code = hq_gate_failed(g) ? HQ_EXIT_GATE : HQ_EXIT_OK;
out:
  hq_gate_free(g);
  for (k = 0; k < opened; k++) hq_db_close(dbs[k]);
  free(dbs);
  return code;
}
