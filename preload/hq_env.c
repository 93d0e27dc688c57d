/*
 * hq_env.c: HEAPQL_* options, read once at start into hq__opts with fixed buffers.
 *
 *   HEAPQL_OUTPUT       database path; %p = pid, %n = program name (default heapql.%n.%p.db)
 *   HEAPQL_DEPTH        frames per stack, 1..256 (default 64)
 *   HEAPQL_FOLLOW_FORK  0|1: fork children record into their own database (default 1)
 *   HEAPQL_FOLLOW_EXEC  0|1: exec'd programs are recorded too (default 0)
 *   HEAPQL_FORCE        0|1: replace an existing database (default 0)
 *   HEAPQL_MMAP         0|1: record anonymous mmap/mremap/munmap (default 1)
 *   HEAPQL_FREE_STACKS  0|1: record a stack for every free too (default 0)
 *   HEAPQL_UNWIND       libunwind|fp (default libunwind)
 *   HEAPQL_CLOCK        auto|monotonic: event times from the TSC when the kernel trusts it
 *                       (auto, the default) or always from clock_gettime
 *   HEAPQL_BUFFER_KB    per-thread buffer, 64..65536 KiB (default 1024)
 *   HEAPQL_DEFER_IMPORT set by `heapql run`: leave the raw trace for it to import
 *   HEAPQL_LEAK_CHECK   0|1: classify the blocks still live at a normal exit (default 1)
 *   HEAPQL_PYTHON_FRAMES 0|1: in a CPython process, put its Python frames into stacks (default 1)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heapql/internal/outname.h"
#include "preload_int.h"

hq_opts_t hq__opts;

static int parse_uint(const char *name, unsigned lo, unsigned hi, unsigned dflt, unsigned *out,
                      char *why, size_t cap) {
  const char *v = getenv(name);
  char *end = NULL;
  unsigned long x;
  *out = dflt;
  if (!v || !*v) return 0;
  errno = 0;
  x = strtoul(v, &end, 10);
  if (errno || *end || x < lo || x > hi || *v == '-') {
    snprintf(why, cap, "%s='%s' is not a number from %u to %u", name, v, lo, hi);
    return -1;
  }
  *out = (unsigned)x;
  return 0;
}

static int parse_bool(const char *name, int dflt, int *out, char *why, size_t cap) {
  const char *v = getenv(name);
  *out = dflt;
  if (!v || !*v) return 0;
  if (!strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on")) {
    *out = 1;
    return 0;
  }
  if (!strcmp(v, "0") || !strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcasecmp(v, "off")) {
    *out = 0;
    return 0;
  }
  snprintf(why, cap, "%s='%s' must be 0 or 1", name, v);
  return -1;
}

static void program_name(char *out, size_t cap) {
  char exe[1024];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  const char *base;
  if (n <= 0) {
    snprintf(out, cap, "unknown");
    return;
  }
  exe[n] = '\0';
  base = strrchr(exe, '/');
  base = base ? base + 1 : exe;
  snprintf(out, cap, "%.*s", (int)(cap - 1), base);
}

void hq__env_output_for(pid_t pid, char *out, size_t cap) {
  int has_pid = strstr(hq__opts.output_pattern, "%p") != NULL;
  hq__expand_output(hq__opts.output_pattern, (long)pid, hq__opts.program, out, cap);
  /* A traced fork child of a process whose output names no %p gets "<stem>.<pid>.db". */
  if (!has_pid && pid != hq__state.pid && hq__state.pid != 0) {
    char tmp[1024];
    char *dot = strrchr(out, '.');
    char *slash = strrchr(out, '/');
    if (dot && (!slash || dot > slash)) {
      snprintf(tmp, sizeof tmp, "%.*s.%d%s", (int)(dot - out), out, (int)pid, dot);
    } else {
      snprintf(tmp, sizeof tmp, "%s.%d", out, (int)pid);
    }
    snprintf(out, cap, "%s", tmp);
  }
}

int hq__env_load(char *why, size_t cap) {
  const char *out = getenv("HEAPQL_OUTPUT");
  const char *unwind = getenv("HEAPQL_UNWIND");
  const char *clock = getenv("HEAPQL_CLOCK");
  why[0] = '\0';
  program_name(hq__opts.program, sizeof hq__opts.program);
  if (parse_uint("HEAPQL_DEPTH", 1, HQ_MAX_DEPTH_LIMIT, 64, &hq__opts.depth, why, cap)) return -1;
  if (parse_uint("HEAPQL_BUFFER_KB", 64, 65536, 1024, &hq__opts.ring_kb, why, cap)) return -1;
  if (parse_bool("HEAPQL_FOLLOW_FORK", 1, &hq__opts.follow_fork, why, cap)) return -1;
  if (parse_bool("HEAPQL_FOLLOW_EXEC", 0, &hq__opts.follow_exec, why, cap)) return -1;
  if (parse_bool("HEAPQL_FORCE", 0, &hq__opts.force, why, cap)) return -1;
  if (parse_bool("HEAPQL_MMAP", 1, &hq__opts.mmap, why, cap)) return -1;
  if (parse_bool("HEAPQL_FREE_STACKS", 0, &hq__opts.free_stacks, why, cap)) return -1;
  if (parse_bool("HEAPQL_DEFER_IMPORT", 0, &hq__opts.defer_import, why, cap)) return -1;
  if (parse_bool("HEAPQL_LEAK_CHECK", 1, &hq__opts.leak_check, why, cap)) return -1;
  if (parse_bool("HEAPQL_PYTHON_FRAMES", 1, &hq__opts.python_frames, why, cap)) return -1;
  if (unwind && *unwind && strcmp(unwind, "libunwind") && strcmp(unwind, "fp")) {
    snprintf(why, cap, "HEAPQL_UNWIND='%s' must be 'libunwind' or 'fp'", unwind);
    return -1;
  }
  hq__opts.fp_unwind = unwind && !strcmp(unwind, "fp");
  if (clock && *clock && strcmp(clock, "auto") && strcmp(clock, "monotonic")) {
    snprintf(why, cap, "HEAPQL_CLOCK='%s' must be 'auto' or 'monotonic'", clock);
    return -1;
  }
  hq__opts.clock_monotonic = clock && !strcmp(clock, "monotonic");
  if (out && !*out) {
    snprintf(why, cap, "HEAPQL_OUTPUT is empty");
    return -1;
  }
  if (out && strlen(out) >= sizeof hq__opts.output_pattern - 32) {
    snprintf(why, cap, "HEAPQL_OUTPUT is too long");
    return -1;
  }
  out = out ? out : "heapql.%n.%p.db";
  if (out[0] == '/') {
    snprintf(hq__opts.output_pattern, sizeof hq__opts.output_pattern, "%s", out);
  } else {
    /* Where the program started: a chdir() later must not move the database. */
    char cwd[sizeof hq__opts.output_pattern];
    if (!getcwd(cwd, sizeof cwd) || strlen(cwd) + strlen(out) + 2 > sizeof hq__opts.output_pattern - 32) {
      snprintf(why, cap, "HEAPQL_OUTPUT '%s' is relative and the working directory is unknown", out);
      return -1;
    }
    size_t len = strlen(cwd);
    cwd[len] = '/';
    memcpy(hq__opts.output_pattern, cwd, len + 1);
    memcpy(hq__opts.output_pattern + len + 1, out, strlen(out) + 1); /* fits: checked above */
  }
  hq__env_output_for(getpid(), hq__opts.output, sizeof hq__opts.output);
  snprintf(hq__opts.raw, sizeof hq__opts.raw, "%s%s", hq__opts.output, HQ_RAW_SUFFIX);
  return 0;
}

extern char **environ;

/* ---- invisible: our variables leave the program's environment ---- */

/* What an exec'd (or spawned) child needs to be recorded too, "K=V" strings kept from start. */
#define CHILD_VARS 24
static char child_vars[CHILD_VARS][1100];
static int n_child_vars;
static char preload_token[1024]; /* our library as LD_PRELOAD named it */

/* The recorder's settings (the list above, and the test seam HEAPQL_FAULT): what heapql run
 * sets for the program, and what a user sets for plain LD_PRELOAD.  Other HEAPQL_* variables
 * (the analyzer's, a user's own) are not the recorder's to remove. */
static int is_ours(const char *kv) {
  static const char *const names[] = {
    "HEAPQL_OUTPUT=", "HEAPQL_DEPTH=", "HEAPQL_FOLLOW_FORK=", "HEAPQL_FOLLOW_EXEC=",
    "HEAPQL_FORCE=", "HEAPQL_MMAP=", "HEAPQL_FREE_STACKS=", "HEAPQL_UNWIND=", "HEAPQL_CLOCK=",
    "HEAPQL_BUFFER_KB=", "HEAPQL_DEFER_IMPORT=", "HEAPQL_FAULT=", "HEAPQL_LEAK_CHECK=",
    "HEAPQL_PYTHON_FRAMES="};
  if (strncmp(kv, "HEAPQL_", 7)) return 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strncmp(kv, names[i], strlen(names[i]))) return 1;
  return 0;
}

/* Our library's token in an LD_PRELOAD value (':' or ' ' separated), or NULL; *len its length. */
static const char *find_token(const char *v, size_t *len) {
  while (*v) {
    size_t n = strcspn(v, ": ");
    if (memmem(v, n, "libheapql_preload", 17)) {
      *len = n;
      return v;
    }
    v += n + (v[n] ? 1 : 0);
  }
  return NULL;
}

/* Remove our library from an LD_PRELOAD value in place; returns 1 when nothing else is left. */
static int strip_token(char *v) {
  char *src = v, *dst = v;
  while (*src) {
    char *tok = src;
    size_t len = strcspn(src, ": ");
    int ours = memmem(tok, len, "libheapql_preload", 17) != NULL;
    src += len + (src[len] ? 1 : 0);
    if (ours || len == 0) continue;
    if (dst != v) *dst++ = ':';
    memmove(dst, tok, len);
    dst += len;
  }
  *dst = '\0';
  return dst == v;
}

/* The HEAPQL_OUTPUT an exec'd child gets: without %p (and %n) they would all write one file.
 * The exec'd image keeps the pid of the process that exec'd, whose own (pre-exec) database is
 * <stem>.<pid>.db: the program name keeps the two apart. */
static void child_output(char *out, size_t cap) {
  const char *p = hq__opts.output_pattern, *dot = strrchr(p, '.'), *slash = strrchr(p, '/');
  if (strstr(p, "%p") && strstr(p, "%n"))
    snprintf(out, cap, "HEAPQL_OUTPUT=%s", p);
  else if (dot && (!slash || dot > slash))
    snprintf(out, cap, "HEAPQL_OUTPUT=%.*s.%%p.%%n%s", (int)(dot - p), p, dot);
  else
    snprintf(out, cap, "HEAPQL_OUTPUT=%s.%%p.%%n", p);
}

void hq__env_clean(void) {
  char **w = environ;
  if (!environ) return;
  n_child_vars = 0;
  for (char **e = environ; *e; e++) {
    if (is_ours(*e)) {
      /* kept for children; their output pattern is their own */
      if (hq__opts.follow_exec && n_child_vars < CHILD_VARS - 1 && strlen(*e) < sizeof child_vars[0]) {
        if (!strncmp(*e, "HEAPQL_OUTPUT=", 14)) child_output(child_vars[n_child_vars++], sizeof child_vars[0]);
        else snprintf(child_vars[n_child_vars++], sizeof child_vars[0], "%s", *e);
      }
      continue;
    }
    if (!strncmp(*e, "LD_PRELOAD=", 11)) {
      size_t len = 0;
      const char *tok = find_token(*e + 11, &len);
      if (tok && len < sizeof preload_token) snprintf(preload_token, sizeof preload_token, "%.*s", (int)len, tok);
      if (strip_token(*e + 11)) continue; /* only ours: the variable goes */
    }
    *w++ = *e;
  }
  *w = NULL;
  if (hq__opts.follow_exec && !getenv("HEAPQL_OUTPUT") && n_child_vars < CHILD_VARS)
    child_output(child_vars[n_child_vars++], sizeof child_vars[0]); /* the default pattern */
}

size_t hq__env_child_size(char *const *envp) {
  size_t n = 0;
  while (envp && envp[n]) n++;
  return n + (size_t)n_child_vars + 2;
}

char *const *hq__env_for_child(char *const *envp, char **vec, char *preload_buf, size_t buf_cap) {
  size_t n = 0;
  const char *user = NULL;
  if (!hq__opts.follow_exec || !preload_token[0]) return envp;
  for (char *const *e = envp; e && *e; e++) {
    if (is_ours(*e)) continue;
    if (!strncmp(*e, "LD_PRELOAD=", 11)) {
      user = *e + 11;
      continue;
    }
    vec[n++] = *e;
  }
  if (user && *user && !strstr(user, "libheapql_preload"))
    snprintf(preload_buf, buf_cap, "LD_PRELOAD=%s:%s", preload_token, user);
  else if (user && *user)
    snprintf(preload_buf, buf_cap, "LD_PRELOAD=%s", user);
  else
    snprintf(preload_buf, buf_cap, "LD_PRELOAD=%s", preload_token);
  vec[n++] = preload_buf;
  for (int i = 0; i < n_child_vars; i++) vec[n++] = child_vars[i];
  vec[n] = NULL;
  return vec;
}
