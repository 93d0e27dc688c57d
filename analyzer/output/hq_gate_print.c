/*
 * hq_gate_print.c: the leak gate's verdict in the forms CI reads: text for people, JSON, JUnit
 * XML (one test case per leak record and per limit), SARIF 2.1.0 (one result per counted leak,
 * located at its site, its stack as a code flow) and GitHub Actions workflow commands; and the
 * baseline file that accepts what the gate saw.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "output/output_int.h"

static const char *const class_words[HQ_GATE_CLASSES + 1] = {
  "definitely lost", "indirectly lost", "possibly lost", "still reachable", "unclassified"};
static const char *const status_names[] = {"new", "suppressed", "baselined", "budgeted"};

/* A leak the verdict counts against a limit: counted, and of a class with a limit. */
static int is_failure(const hq_gate_t *g, const hq__gate_leak_t *l) {
  if (l->status != HQ__GATE_COUNTED) return 0;
  if (l->cls == HQ__GATE_UNCLASSIFIED) return g->opts.fail_unclassified;
  return g->opts.max_blocks[l->cls] >= 0 || (l->cls <= HQ_GATE_INDIRECTLY &&
                                             (g->opts.max_leaked_bytes >= 0 || g->opts.max_leaks >= 0));
}

/* The site's file relative to the source root (or as recorded). */
static const char *rel_file(const hq_gate_t *g, const char *file) {
  size_t n = g->source_root ? strlen(g->source_root) : 0;
  if (file && n && !strncmp(file, g->source_root, n)) return file + n;
  return file;
}

static void leak_title(const hq__gate_leak_t *l, char *buf, size_t cap) {
  char b[32];
  hq__fmt_bytes((double)l->bytes, b, sizeof b);
  snprintf(buf, cap, "%s: %s in %" PRIu64 " block%s allocated at %s", class_words[l->cls], b,
           l->blocks, l->blocks == 1 ? "" : "s", l->site ? l->site : "(no stack)");
}

/* ---- text ---- */

static void write_text(const hq_gate_t *g, FILE *out) {
  size_t shown = 0;
  fprintf(out, "heapql gate: %s", g->failed ? "FAIL" : "PASS");
  if (g->failed) fprintf(out, " (%zu check%s failed)", g->n_reasons, g->n_reasons == 1 ? "" : "s");
  fputc('\n', out);
  for (size_t i = 0; i < g->n_reasons; i++) fprintf(out, "  %s\n", g->reasons[i]);
  fputs("processes:", out);
  for (size_t i = 0; i < g->n_procs; i++)
    fprintf(out, " %s (pid %" PRId64 "%s)", g->procs[i].program, g->procs[i].pid,
            g->procs[i].leak_check && !strcmp(g->procs[i].leak_check, "done") ? "" : ", not leak-checked");
  fputc('\n', out);
  fputs("counted:", out);
  for (int k = 0; k <= HQ_GATE_CLASSES; k++)
    fprintf(out, "%s %s %" PRIu64 " B in %" PRIu64, k ? "," : "", class_words[k], g->bytes[k], g->blocks[k]);
  fprintf(out, "\nsuppressed %zu, baselined %zu, within budgets %zu leak record%s\n", g->suppressed,
          g->baselined, g->budgeted, g->suppressed + g->baselined + g->budgeted == 1 ? "" : "s");
  for (size_t i = 0; i < g->n_leaks; i++) {
    const hq__gate_leak_t *l = &g->leaks[i];
    char title[1400], buf[2048];
    if (!is_failure(g, l)) continue;
    if (!shown++) fputs("\nleaks:\n", out);
    leak_title(l, title, sizeof title);
    hq__fmt_short(title, g->source_root, buf, sizeof buf);
    fprintf(out, "  %s (%s, pid %" PRId64 ")\n", buf, l->program, l->pid);
    for (size_t f = 0; f < l->n_frames && f < 12; f++) {
      hq__fmt_short(l->frames[f].text, g->source_root, buf, sizeof buf);
      fprintf(out, "      %s\n", buf);
    }
  }
  if (g->n_stale) {
    fprintf(out, "\nstale baseline entries (no longer seen): %zu\n", g->n_stale);
    for (size_t i = 0; i < g->n_stale; i++) fprintf(out, "  %s\n", g->stale[i]);
  }
}

/* ---- JSON ---- */

static void write_json(const hq_gate_t *g, FILE *out) {
  hq__jw_t w;
  hq__jw_init(&w, out);
  hq__jw_object(&w, NULL);
  hq__jw_str(&w, "verdict", g->failed ? "fail" : "pass");
  hq__jw_array(&w, "reasons");
  for (size_t i = 0; i < g->n_reasons; i++) hq__jw_str(&w, NULL, g->reasons[i]);
  hq__jw_end_array(&w);
  hq__jw_array(&w, "processes");
  for (size_t i = 0; i < g->n_procs; i++) {
    hq__jw_object(&w, NULL);
    hq__jw_i64(&w, "pid", g->procs[i].pid);
    hq__jw_str(&w, "program", g->procs[i].program);
    hq__jw_str(&w, "database", g->procs[i].db);
    hq__jw_bool(&w, "complete", g->procs[i].complete);
    hq__jw_str(&w, "leak_check", g->procs[i].leak_check);
    hq__jw_end_object(&w);
  }
  hq__jw_end_array(&w);
  hq__jw_object(&w, "counted");
  for (int k = 0; k <= HQ_GATE_CLASSES; k++) {
    hq__jw_object(&w, hq__gate_class_names[k]);
    hq__jw_u64(&w, "blocks", g->blocks[k]);
    hq__jw_u64(&w, "bytes", g->bytes[k]);
    hq__jw_end_object(&w);
  }
  hq__jw_end_object(&w);
  hq__jw_object(&w, "limits");
  for (int k = 0; k < HQ_GATE_CLASSES; k++)
    if (g->opts.max_blocks[k] >= 0) hq__jw_i64(&w, hq__gate_class_names[k], g->opts.max_blocks[k]);
    else hq__jw_null(&w, hq__gate_class_names[k]);
  if (g->opts.max_leaked_bytes >= 0) hq__jw_i64(&w, "leaked_bytes", g->opts.max_leaked_bytes); else hq__jw_null(&w, "leaked_bytes");
  if (g->opts.max_leaks >= 0) hq__jw_i64(&w, "leaks", g->opts.max_leaks); else hq__jw_null(&w, "leaks");
  if (g->opts.max_peak >= 0) hq__jw_i64(&w, "peak_bytes", g->opts.max_peak); else hq__jw_null(&w, "peak_bytes");
  if (g->opts.max_allocations >= 0) hq__jw_i64(&w, "allocations", g->opts.max_allocations); else hq__jw_null(&w, "allocations");
  hq__jw_end_object(&w);
  hq__jw_u64(&w, "peak_bytes", g->peak);
  hq__jw_u64(&w, "allocations", g->allocations);
  hq__jw_u64(&w, "suppressed", g->suppressed);
  hq__jw_u64(&w, "baselined", g->baselined);
  hq__jw_u64(&w, "budgeted", g->budgeted);
  hq__jw_array(&w, "leaks");
  for (size_t i = 0; i < g->n_leaks; i++) {
    const hq__gate_leak_t *l = &g->leaks[i];
    hq__jw_object(&w, NULL);
    hq__jw_str(&w, "class", hq__gate_class_names[l->cls]);
    hq__jw_str(&w, "status", status_names[l->status]);
    hq__jw_bool(&w, "fails", is_failure(g, l) && g->failed);
    hq__jw_str(&w, "why", l->why);
    hq__jw_u64(&w, "blocks", l->blocks);
    hq__jw_u64(&w, "bytes", l->bytes);
    hq__jw_i64(&w, "pid", l->pid);
    hq__jw_str(&w, "program", l->program);
    hq__jw_object(&w, "site");
    hq__jw_str(&w, "location", l->site);
    hq__jw_str(&w, "function", l->function);
    hq__jw_str(&w, "file", l->file);
    if (l->file && l->line > 0) hq__jw_i64(&w, "line", l->line); else hq__jw_null(&w, "line");
    hq__jw_str(&w, "module", l->module);
    hq__jw_end_object(&w);
    hq__jw_array(&w, "stack");
    for (size_t f = 0; f < l->n_frames; f++) hq__jw_str(&w, NULL, l->frames[f].text);
    hq__jw_end_array(&w);
    hq__jw_str(&w, "fingerprint", l->fp_lines);
    hq__jw_str(&w, "fingerprint_functions", l->fp_funcs);
    hq__jw_end_object(&w);
  }
  hq__jw_end_array(&w);
  hq__jw_array(&w, "stale_baseline");
  for (size_t i = 0; i < g->n_stale; i++) hq__jw_str(&w, NULL, g->stale[i]);
  hq__jw_end_array(&w);
  hq__jw_end_object(&w);
  fputc('\n', out);
}

/* ---- JUnit XML ---- */

static void junit_case(FILE *out, const char *classname, const char *name, const char *failure,
                       const char *detail) {
  fputs("    <testcase classname=\"", out);
  hq__fmt_xml(out, classname);
  fputs("\" name=\"", out);
  hq__fmt_xml(out, name);
  if (!failure) {
    fputs("\"/>\n", out);
    return;
  }
  fputs("\">\n      <failure message=\"", out);
  hq__fmt_xml(out, failure);
  fputs("\" type=\"heapql.leak\">", out);
  hq__fmt_xml(out, detail ? detail : failure);
  fputs("</failure>\n    </testcase>\n", out);
}

static void write_junit(const hq_gate_t *g, FILE *out) {
  size_t tests = 0, failures = 0;
  static const char *const checks[] = {"definitely lost", "indirectly lost", "possibly lost",
                                       "still reachable", "leaked bytes", "leaks", "peak heap",
                                       "heap allocations"};
  for (size_t i = 0; i < g->n_leaks; i++)
    if (is_failure(g, &g->leaks[i])) tests++, failures += g->failed;
  tests += sizeof checks / sizeof checks[0];
  for (size_t c = 0; c < sizeof checks / sizeof checks[0]; c++)
    for (size_t r = 0; r < g->n_reasons; r++)
      if (!strncmp(g->reasons[r], checks[c], strlen(checks[c])) && g->reasons[r][strlen(checks[c])] == ':') failures++;
  fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", out);
  fprintf(out, "<testsuites name=\"heapql gate\" tests=\"%zu\" failures=\"%zu\">\n", tests, failures);
  fprintf(out, "  <testsuite name=\"heapql gate\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"0\">\n",
          tests, failures);
  for (size_t c = 0; c < sizeof checks / sizeof checks[0]; c++) {
    const char *why = NULL;
    for (size_t r = 0; r < g->n_reasons; r++)
      if (!strncmp(g->reasons[r], checks[c], strlen(checks[c])) && g->reasons[r][strlen(checks[c])] == ':')
        why = g->reasons[r];
    junit_case(out, "heapql.limits", checks[c], why, why);
  }
  for (size_t i = 0; i < g->n_leaks; i++) {
    const hq__gate_leak_t *l = &g->leaks[i];
    char classname[600], title[1400], stack[8192];
    size_t len = 0;
    if (!is_failure(g, l)) continue;
    snprintf(classname, sizeof classname, "heapql.leaks.%s", l->program);
    leak_title(l, title, sizeof title);
    stack[0] = '\0';
    for (size_t f = 0; f < l->n_frames && len < sizeof stack - 1; f++)
      len += (size_t)snprintf(stack + len, sizeof stack - len, "%s\n", l->frames[f].text);
    junit_case(out, classname, title, g->failed ? title : NULL, stack);
  }
  fputs("  </testsuite>\n</testsuites>\n", out);
}

/* ---- SARIF 2.1.0 ---- */

/* A file as a SARIF artifact location: relative to the source root (uriBaseId SRCROOT), or an
 * absolute file: URI. */
static void sarif_artifact(hq__jw_t *w, const hq_gate_t *g, const char *file) {
  const char *rel = rel_file(g, file);
  char uri[4200];
  hq__jw_object(w, "artifactLocation");
  if (rel != file) {
    hq__jw_str(w, "uri", rel);
    hq__jw_str(w, "uriBaseId", "SRCROOT");
  } else {
    snprintf(uri, sizeof uri, "%s%s", file[0] == '/' ? "file://" : "", file);
    hq__jw_str(w, "uri", uri);
  }
  hq__jw_end_object(w);
}

static void sarif_location(hq__jw_t *w, const hq_gate_t *g, const char *file, int64_t line,
                           const char *message) {
  hq__jw_object(w, NULL);
  hq__jw_object(w, "physicalLocation");
  sarif_artifact(w, g, file);
  if (line > 0) {
    hq__jw_object(w, "region");
    hq__jw_i64(w, "startLine", line);
    hq__jw_end_object(w);
  }
  hq__jw_end_object(w);
  if (message) {
    hq__jw_object(w, "message");
    hq__jw_str(w, "text", message);
    hq__jw_end_object(w);
  }
  hq__jw_end_object(w);
}

static void write_sarif(const hq_gate_t *g, FILE *out) {
  static const char *const rule_ids[HQ_GATE_CLASSES + 1] = {
    "heapql/definitely-lost", "heapql/indirectly-lost", "heapql/possibly-lost",
    "heapql/still-reachable", "heapql/unclassified"};
  static const char *const rule_help[HQ_GATE_CLASSES + 1] = {
    "A heap block nothing points to at exit: neither to its start nor inside it (memcheck's definitely lost).",
    "A heap block reachable at exit only from blocks that are themselves lost (memcheck's indirectly lost).",
    "A heap block reached at exit only through pointers into its middle (memcheck's possibly lost).",
    "A heap block still pointed to at exit from a global, a stack or another reachable block (memcheck's still reachable).",
    "A heap block live when the process ended without a leak check (killed or crashed)."};
  hq__jw_t w;
  hq__jw_init(&w, out);
  hq__jw_object(&w, NULL);
  hq__jw_str(&w, "$schema", "https://json.schemastore.org/sarif-2.1.0.json");
  hq__jw_str(&w, "version", "2.1.0");
  hq__jw_array(&w, "runs");
  hq__jw_object(&w, NULL);
  hq__jw_object(&w, "tool");
  hq__jw_object(&w, "driver");
  hq__jw_str(&w, "name", "heapql");
  hq__jw_str(&w, "version", HQ_VERSION_STRING);
  hq__jw_str(&w, "informationUri", "https://github.com/heapql/heapql");
  hq__jw_array(&w, "rules");
  for (int k = 0; k <= HQ_GATE_CLASSES; k++) {
    hq__jw_object(&w, NULL);
    hq__jw_str(&w, "id", rule_ids[k]);
    hq__jw_str(&w, "name", hq__gate_class_names[k]);
    hq__jw_object(&w, "shortDescription");
    hq__jw_str(&w, "text", class_words[k]);
    hq__jw_end_object(&w);
    hq__jw_object(&w, "fullDescription");
    hq__jw_str(&w, "text", rule_help[k]);
    hq__jw_end_object(&w);
    hq__jw_end_object(&w);
  }
  hq__jw_end_array(&w);
  hq__jw_end_object(&w);
  hq__jw_end_object(&w);
  if (g->source_root) {
    char uri[4200];
    hq__jw_object(&w, "originalUriBaseIds");
    hq__jw_object(&w, "SRCROOT");
    snprintf(uri, sizeof uri, "file://%s", g->source_root);
    hq__jw_str(&w, "uri", uri);
    hq__jw_end_object(&w);
    hq__jw_end_object(&w);
  }
  hq__jw_array(&w, "results");
  for (size_t i = 0; i < g->n_leaks; i++) {
    const hq__gate_leak_t *l = &g->leaks[i];
    char title[1400];
    if (!is_failure(g, l)) continue;
    leak_title(l, title, sizeof title);
    hq__jw_object(&w, NULL);
    hq__jw_str(&w, "ruleId", rule_ids[l->cls]);
    hq__jw_str(&w, "level", g->failed ? "error" : "warning");
    hq__jw_object(&w, "message");
    hq__jw_str(&w, "text", title);
    hq__jw_end_object(&w);
    hq__jw_array(&w, "locations");
    if (l->file) sarif_location(&w, g, l->file, l->line, NULL);
    hq__jw_end_array(&w);
    hq__jw_object(&w, "partialFingerprints");
    hq__jw_str(&w, "heapqlStack/v1", l->fp_lines);
    hq__jw_str(&w, "heapqlFunctions/v1", l->fp_funcs);
    hq__jw_end_object(&w);
    /* the stack, outermost call first, as a code flow */
    hq__jw_array(&w, "codeFlows");
    hq__jw_object(&w, NULL);
    hq__jw_array(&w, "threadFlows");
    hq__jw_object(&w, NULL);
    hq__jw_array(&w, "locations");
    for (size_t f = l->n_frames; f-- > 0;) {
      const hq__gate_frame_t *fr = &l->frames[f];
      hq__jw_object(&w, NULL);
      hq__jw_object(&w, "location");
      if (fr->file) {
        hq__jw_object(&w, "physicalLocation");
        sarif_artifact(&w, g, fr->file);
        if (fr->line > 0) {
          hq__jw_object(&w, "region");
          hq__jw_i64(&w, "startLine", fr->line);
          hq__jw_end_object(&w);
        }
        hq__jw_end_object(&w);
      }
      hq__jw_object(&w, "message");
      hq__jw_str(&w, "text", fr->text ? fr->text : "?");
      hq__jw_end_object(&w);
      hq__jw_end_object(&w);
      hq__jw_end_object(&w);
    }
    hq__jw_end_array(&w);
    hq__jw_end_object(&w);
    hq__jw_end_array(&w);
    hq__jw_end_object(&w);
    hq__jw_end_array(&w);
    hq__jw_end_object(&w);
  }
  hq__jw_end_array(&w);
  hq__jw_end_object(&w);
  hq__jw_end_array(&w);
  hq__jw_end_object(&w);
  fputc('\n', out);
}

/* ---- GitHub Actions ---- */

/* A workflow command's value: % CR LF escaped, and in properties also : and ,. */
static void gh_escape(FILE *out, const char *s, int property) {
  for (; s && *s; s++) {
    if (*s == '%') fputs("%25", out);
    else if (*s == '\r') fputs("%0D", out);
    else if (*s == '\n') fputs("%0A", out);
    else if (property && *s == ':') fputs("%3A", out);
    else if (property && *s == ',') fputs("%2C", out);
    else fputc(*s, out);
  }
}

/* GitHub annotates files relative to the workspace: the working directory, else the source root. */
static const char *workspace_file(const hq_gate_t *g, const char *file) {
  char cwd[4096];
  size_t n;
  if (file && file[0] == '/' && getcwd(cwd, sizeof cwd) && (n = strlen(cwd)) > 1 &&
      !strncmp(file, cwd, n) && file[n] == '/')
    return file + n + 1;
  return rel_file(g, file);
}

static void write_github(const hq_gate_t *g, FILE *out) {
  for (size_t i = 0; i < g->n_leaks; i++) {
    const hq__gate_leak_t *l = &g->leaks[i];
    char title[1400];
    if (!is_failure(g, l)) continue;
    leak_title(l, title, sizeof title);
    fputs(g->failed ? "::error " : "::warning ", out);
    if (l->file) {
      fputs("file=", out);
      gh_escape(out, workspace_file(g, l->file), 1);
      if (l->line > 0) fprintf(out, ",line=%" PRId64, l->line);
      fputc(',', out);
    }
    fputs("title=", out);
    gh_escape(out, "heapql: ", 1);
    gh_escape(out, class_words[l->cls], 1);
    fputs("::", out);
    gh_escape(out, title, 0);
    fputc('\n', out);
  }
  for (size_t r = 0; r < g->n_reasons; r++) {
    fputs("::error title=heapql gate::", out);
    gh_escape(out, g->reasons[r], 0);
    fputc('\n', out);
  }
  if (!g->failed) fputs("::notice title=heapql gate::passed\n", out);
}

int hq_gate_write(const hq_gate_t *g, hq_gate_format_t format, FILE *out) {
  if (!g || !out) return HQ_MISUSE_BKPT;
  switch (format) {
  case HQ_GATE_TEXT: write_text(g, out); break;
  case HQ_GATE_JSON: write_json(g, out); break;
  case HQ_GATE_JUNIT: write_junit(g, out); break;
  case HQ_GATE_SARIF: write_sarif(g, out); break;
  case HQ_GATE_GITHUB: write_github(g, out); break;
  default: return HQ_EINVAL;
  }
  return ferror(out) ? HQ_EIO : HQ_OK;
}

int hq_gate_write_baseline(const hq_gate_t *g, FILE *out) {
  if (!g || !out) return HQ_MISUSE_BKPT;
  fputs("# heapql baseline 1: leaks `heapql gate --baseline` accepts (made by --update-baseline)\n"
        "# CLASS FP_LINES FP_FUNCTIONS BLOCKS BYTES SITE\n", out);
  for (size_t i = 0; i < g->n_leaks; i++) {
    const hq__gate_leak_t *l = &g->leaks[i];
    char site[2048];
    if (l->status == HQ__GATE_SUPPRESSED) continue;
    hq__fmt_short(l->site ? l->site : "(no stack)", g->source_root, site, sizeof site);
    for (char *c = site; *c; c++)
      if (*c == '\n') *c = ' ';
    fprintf(out, "%s %s %s %" PRIu64 " %" PRIu64 " %s\n", hq__gate_class_names[l->cls], l->fp_lines,
            l->fp_funcs, l->blocks, l->bytes, site);
  }
  return ferror(out) ? HQ_EIO : HQ_OK;
}
