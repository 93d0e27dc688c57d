/*
 * cmd_run.c: `heapql run [options] -- CMD [ARGS]` and `heapql import RAW...`.
 *
 * run starts CMD with libheapql_preload.so (found next to this binary: ../lib), waits for it,
 * imports and symbolizes its raw trace (and those of its traced children), prints one summary
 * line on stderr, and ends the way CMD ended: same exit code, or the same signal re-raised.
 * Problems with heapql's own options or output are found before CMD starts (exit 2).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "output/output_int.h"
#include "heapql/internal/outname.h"
#include "heapql/internal/rawfmt.h"
#include "cli.h"

typedef struct {
  const char *output;      /* -o pattern, or NULL */
  int force, follow_fork, follow_exec, quiet, mmap, free_stacks, leak_check;
  unsigned depth;
  const char *unwind;
  const char *label;       /* --label: meta.label of every database made */
  const char *python_allocators; /* --python-allocators: PYTHONMALLOC for the program */
  char **cmd;
  int gate;                /* --gate: gate every database this run made */
  int gate_exit;           /* --gate-exit-code (23, LeakSanitizer's) */
  hq_cli_gate_t g;
} run_opts_t;

/* The databases this run made (the program's, then its traced children's), for --gate. */
static char **made;
/* --label, written into each of them (meta.label: `heapql compare` names the run by it). */
static const char *run_label;
static size_t n_made, cap_made;

static void remember(const char *db_path) {
  if (hq__grow((void **)&made, &cap_made, n_made, sizeof *made, 8) == HQ_OK &&
      (made[n_made] = strdup(db_path)) != NULL)
    n_made++;
}

static volatile pid_t child_pid;

static void forward_signal(int sig) {
  if (child_pid > 0) kill(child_pid, sig);
}

static int find_preload(char *out, size_t cap) {
  char self[PATH_MAX - 64];
  const char *env = getenv("HEAPQL_PRELOAD_LIB");
  ssize_t n;
  char *slash;
  if (env && *env) {
    snprintf(out, cap, "%s", env);
    return access(out, R_OK) == 0 ? 0 : -1;
  }
  n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return -1;
  self[n] = '\0';
  slash = strrchr(self, '/');
  if (!slash) return -1;
  *slash = '\0';
  snprintf(out, cap, "%s/../lib/libheapql_preload.so", self);
  if (access(out, R_OK) == 0) return 0;
  snprintf(out, cap, "%s/libheapql_preload.so", self);
  return access(out, R_OK) == 0 ? 0 : -1;
}

static void dir_of(const char *path, char *out, size_t cap) {
  const char *slash = strrchr(path, '/');
  if (!slash) snprintf(out, cap, ".");
  else if (slash == path) snprintf(out, cap, "/");
  else snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

/* Can we create files where the database will go? */
static int check_output(const run_opts_t *o, const char *pattern, const char *prog) {
  char dir[PATH_MAX], probe[PATH_MAX + 64], path[PATH_MAX];
  struct stat sb;
  int fd;
  dir_of(pattern, dir, sizeof dir);
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    hq_cli_error("cannot write the database: directory '%s' does not exist", dir);
    return HQ_EXIT_USAGE;
  }
  snprintf(probe, sizeof probe, "%s/.heapql-probe-XXXXXX", dir);
  fd = mkstemp(probe);
  if (fd < 0) {
    hq_cli_error("cannot write the database in '%s': %s", dir, strerror(errno));
    return HQ_EXIT_USAGE;
  }
  close(fd);
  unlink(probe);
  if (!strstr(pattern, "%p")) {
    hq__expand_output(pattern, 0, prog, path, sizeof path);
    if (!o->force && stat(path, &sb) == 0) {
      hq_cli_error("%s already exists (use --force to replace it)", path);
      return HQ_EXIT_USAGE;
    }
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
      hq_cli_error("%s is a directory", path);
      return HQ_EXIT_USAGE;
    }
  }
  return 0;
}

const char hq_usage_run[] =
  "heapql run [-o DB] [--force] [--no-follow-fork] [--follow-exec] [--depth N]\n"
  "                  [--unwind fp|libunwind] [--no-mmap] [--free-stacks] [--no-leak-check] [-q]\n"
  "                  [--label TEXT] [--python-allocators pymalloc|malloc]\n"
  "                  [--gate [gate options] [--gate-exit-code N] [--gate-only GLOB]] [--] CMD [ARGS]\n"
  "                  (gate options: as heapql gate's; its verdict goes to stderr)";
const char hq_usage_import[] = "heapql import RAW... [-o DB] [--force] [--no-symbols] [-q]";

/* Returns 0 to run, 1 after --help, -1 after a one-line error. */
static int parse_run(int argc, char **argv, run_opts_t *o) {
  int i, r;
  memset(o, 0, sizeof *o);
  o->follow_fork = 1;
  o->mmap = 1;
  o->leak_check = 1;
  o->depth = 64;
  o->gate_exit = 23;
  hq_cli_gate_init(&o->g);
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) {
      i++;
      break;
    }
    if (a[0] != '-') break;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      hq_cli_usage(hq_usage_run);
      return 1;
    } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
      if (++i >= argc || !*argv[i]) { hq_cli_error("%s needs a path", a); return -1; }
      o->output = argv[i];
      if (!strcmp(o->output, "-")) {
        hq_cli_error("run: -o -: a database cannot go to standard output (name a file)");
        return -1;
      }
    } else if (!strcmp(a, "--force") || !strcmp(a, "-f")) {
      o->force = 1;
    } else if (!strcmp(a, "--no-follow-fork")) {
      o->follow_fork = 0;
    } else if (!strcmp(a, "--follow-exec")) {
      o->follow_exec = 1;
    } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
      o->quiet = 1;
    } else if (!strcmp(a, "--no-mmap")) {
      o->mmap = 0;
    } else if (!strcmp(a, "--free-stacks")) {
      o->free_stacks = 1;
    } else if (!strcmp(a, "--unwind")) {
      if (++i >= argc || (strcmp(argv[i], "fp") && strcmp(argv[i], "libunwind"))) {
        hq_cli_error("--unwind takes 'libunwind' or 'fp'");
        return -1;
      }
      o->unwind = argv[i];
    } else if (!strcmp(a, "--depth")) {
      char *end = NULL;
      unsigned long d;
      if (++i >= argc) { hq_cli_error("--depth needs a number"); return -1; }
      errno = 0;
      d = strtoul(argv[i], &end, 10);
      if (errno || *end || d < 1 || d > 256 || argv[i][0] == '-') {
        hq_cli_error("--depth '%s' must be a number from 1 to 256", argv[i]);
        return -1;
      }
      o->depth = (unsigned)d;
    } else if (!strcmp(a, "--no-leak-check")) {
      o->leak_check = 0;
    } else if (!strcmp(a, "--label")) {
      if (++i >= argc || !*argv[i]) { hq_cli_error("--label needs a text"); return -1; }
      o->label = argv[i];
    } else if (!strcmp(a, "--python-allocators")) {
      if (++i >= argc || (strcmp(argv[i], "pymalloc") && strcmp(argv[i], "malloc"))) {
        hq_cli_error("--python-allocators takes 'pymalloc' or 'malloc'");
        return -1;
      }
      o->python_allocators = argv[i];
    } else if (!strcmp(a, "--gate")) {
      o->gate = 1;
    } else if (!strcmp(a, "--gate-exit-code")) {
      char *end = NULL;
      long v;
      if (++i >= argc) { hq_cli_error("--gate-exit-code needs a number"); return -1; }
      v = strtol(argv[i], &end, 10);
      if (*end || v < 1 || v > 255 || argv[i][0] == '\0') {
        hq_cli_error("--gate-exit-code '%s' must be a number from 1 to 255", argv[i]);
        return -1;
      }
      o->gate_exit = (int)v;
      o->gate = 1;
    } else if (!strcmp(a, "--gate-only")) {
      if (++i >= argc || !*argv[i]) { hq_cli_error("--gate-only needs a program name pattern"); return -1; }
      o->g.opts.only = argv[i];
      o->gate = 1;
    } else if (!strcmp(a, "--format") || !strcmp(a, "--only")) {
      hq_cli_error("run: %s is heapql gate's; with run, the verdict is text on stderr (use --json, "
                   "--junit, --sarif, --github for files; --gate-only for --only)", a);
      return -1;
    } else if ((r = hq_cli_gate_option(argc, argv, &i, &o->g))) {
      if (r < 0) return -1;
      o->gate = 1; /* a gate option asks for the gate */
    } else {
      hq_cli_error("run: unknown option '%s' (see 'heapql run --help')", a);
      return -1;
    }
  }
  if (i >= argc) {
    hq_cli_error("run: no command given (see 'heapql run --help')");
    return -1;
  }
  if (o->gate) { /* bad gate input is found before the program runs */
    char err[1024];
    o->g.opts.suppressions = o->g.supp;
    o->g.opts.n_suppressions = o->g.n_supp;
    o->g.opts.budgets = o->g.budgets;
    if (hq_gate_check(&o->g.opts, err, sizeof err) != HQ_OK) {
      hq_cli_error("run: --gate: %s", err);
      return -1;
    }
  }
  o->cmd = argv + i;
  return 0;
}

static void set_child_env(const run_opts_t *o, const char *preload, const char *db) {
  char buf[PATH_MAX * 2 + 64];
  const char *old = getenv("LD_PRELOAD");
  if (old && *old) snprintf(buf, sizeof buf, "%s:%s", preload, old);
  else snprintf(buf, sizeof buf, "%s", preload);
  setenv("LD_PRELOAD", buf, 1);
  setenv("HEAPQL_OUTPUT", db, 1);
  setenv("HEAPQL_DEFER_IMPORT", "1", 1);
  setenv("HEAPQL_FORCE", "1", 1);
  setenv("HEAPQL_FOLLOW_FORK", o->follow_fork ? "1" : "0", 1);
  setenv("HEAPQL_FOLLOW_EXEC", o->follow_exec ? "1" : "0", 1);
  setenv("HEAPQL_MMAP", o->mmap ? "1" : "0", 1);
  setenv("HEAPQL_FREE_STACKS", o->free_stacks ? "1" : "0", 1);
  setenv("HEAPQL_LEAK_CHECK", o->leak_check ? "1" : "0", 1);
  snprintf(buf, sizeof buf, "%u", o->depth);
  setenv("HEAPQL_DEPTH", buf, 1);
  if (o->unwind) setenv("HEAPQL_UNWIND", o->unwind, 1);
  /* NVTX finds its tool through this variable at the program's first NVTX call: heapql's
   * preload is one (docs/recorder.md, "NVTX"); a tool the user named already keeps its place. */
  if (!getenv("NVTX_INJECTION64_PATH")) setenv("NVTX_INJECTION64_PATH", preload, 1);
  /* Asked for: the one variable the program sees changed (memray's --native does the same) */
  if (o->python_allocators) setenv("PYTHONMALLOC", o->python_allocators, 1);
}

static void summary(const char *db_path) {
  hq_db_t *db = NULL;
  sqlite3_stmt *st = NULL;
  char leaked[32], peak[32];
  if (hq_db_open(db_path, HQ_DB_READONLY | HQ_DB_NO_CHECK, &db) != HQ_OK) goto out; /* ours */
  if (hq__db_prepare(db,
      "SELECT count(*), coalesce(sum(CASE WHEN t_free IS NULL THEN size END), 0), "
      "sum(t_free IS NULL), (SELECT value FROM meta WHERE key='peak_heap_bytes'), "
      "(SELECT value FROM meta WHERE key='peak_heap_t'), "
      "coalesce((SELECT value FROM meta WHERE key='complete'), 1) "
      "FROM allocations JOIN kinds USING(kind) WHERE class = 'heap'", &st) != HQ_OK)
    goto out;
  if (sqlite3_step(st) == SQLITE_ROW) {
    hq__fmt_bytes((double)sqlite3_column_int64(st, 1), leaked, sizeof leaked);
    hq__fmt_bytes((double)sqlite3_column_int64(st, 3), peak, sizeof peak);
    fprintf(stderr, "heapql: %s: %lld allocations, peak heap %s at %.3f s, %s never freed in %lld blocks%s\n",
            db_path, (long long)sqlite3_column_int64(st, 0), peak,
            (double)sqlite3_column_int64(st, 4) / 1e9, leaked, (long long)sqlite3_column_int64(st, 2),
            sqlite3_column_int64(st, 5) ? "" : " (incomplete: the process did not finish normally)");
  }
out:
  sqlite3_finalize(st);
  hq_db_close(db);
}

/* One trace of this run to import: the program's (its status known), a fork child's or an
 * exec'd image's. */
typedef struct {
  char raw[PATH_MAX + 300], db[PATH_MAX + 300];
  int status_known, status;
  pid_t pid;
} job_t;

/* An early end of `heapql run`: what the options took is given back, code returned. */
static int run_done(run_opts_t *o, int code) {
  hq_cli_gate_free(&o->g);
  return code;
}

/* Import raw -> db, symbolize, and record how the process ended when we know it, and the run's
 * label.  progress: the import's progress line (on a terminal). */
static int import_one(const char *raw, const char *db_path, int status_known, int status,
                      int progress) {
  hq_import_opts_t io = {1, 1, progress};
  hq_import_stats_t stats;
  char err[1024];
  int rc = hq_import(raw, db_path, &io, &stats, err, sizeof err);
  if (rc != HQ_OK) {
    hq_cli_error("import failed: %s (the raw trace %s is kept)", err[0] ? err : hq_strerror(rc), raw);
    return rc;
  }
  unlink(raw);
  {
    char rings[PATH_MAX + 320];
    snprintf(rings, sizeof rings, "%s%s", raw, HQ_RINGS_SUFFIX);
    unlink(rings); /* a dead process's ring file, read into the database */
  }
  if (status_known || run_label) { /* one connection for what the run adds */
    hq_db_t *db = NULL;
    if (hq_db_open(db_path, HQ_DB_NO_CHECK, &db) == HQ_OK) { /* just imported */
      char sql[768] = "";
      if (status_known && WIFEXITED(status) && !stats.complete) {
        /* It exited, yet its trace has no end: the recorder could not write all of it. */
        snprintf(sql, sizeof sql,
                 "INSERT OR REPLACE INTO meta VALUES('exit_status', %d);"
                 "UPDATE processes SET exit_status = %d;"
                 "INSERT OR REPLACE INTO meta VALUES('incomplete_reason', 'the process exited"
                 " (status %d) but its trace stops early: the recorder could not write the rest"
                 " (full disk, file size limit, or its descriptor taken; its stderr line says which)')",
                 WEXITSTATUS(status), WEXITSTATUS(status), WEXITSTATUS(status));
      } else if (status_known && WIFEXITED(status)) {
        snprintf(sql, sizeof sql,
                 "INSERT OR REPLACE INTO meta VALUES('exit_status', %d);"
                 "UPDATE processes SET exit_status = %d", WEXITSTATUS(status), WEXITSTATUS(status));
      } else if (status_known) {
        snprintf(sql, sizeof sql,
                 "INSERT OR REPLACE INTO meta VALUES('exit_signal', %d);"
                 "UPDATE processes SET exit_signal = %d", WTERMSIG(status), WTERMSIG(status));
      }
      if (sql[0]) hq__db_exec(db, sql);
      if (run_label) {
        char *label = sqlite3_mprintf("INSERT OR REPLACE INTO meta VALUES('label', %Q)", run_label);
        if (label) hq__db_exec(db, label);
        sqlite3_free(label);
      }
    }
    hq_db_close(db);
  }
  return HQ_OK;
}

/* Import the jobs, in parallel when there are several (one process each, at most as many at
 * once as there are CPUs, 8 at most: heapql run's own, never the program's), then remember and
 * summarize each database in job order, so the output reads the same however they finished. */
static void import_all(const job_t *jobs, size_t n, const char *already, int quiet) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  size_t workers = cpus < 1 ? 1 : cpus > 8 ? 8 : (size_t)cpus, next = 0, running = 0;
  pid_t *pids = n > 1 && workers > 1 ? calloc(n, sizeof *pids) : NULL;
  char *ok = pids ? calloc(n, 1) : NULL;
  if (!ok) { /* one job, one CPU, or no memory for the bookkeeping: one after another, here */
    for (size_t i = 0; i < n; i++) {
      if (!(already && already[i]) &&
          import_one(jobs[i].raw, jobs[i].db, jobs[i].status_known, jobs[i].status, !quiet) != HQ_OK)
        continue;
      remember(jobs[i].db);
      if (!quiet) summary(jobs[i].db);
    }
    free(pids);
    return;
  }
  while (next < n || running) {
    while (next < n && running < workers) {
      const job_t *j = &jobs[next];
      pid_t pid;
      if (already && already[next]) { /* imported while the program ran */
        ok[next++] = 1;
        continue;
      }
      fflush(stderr);
      pid = fork();
      if (pid == 0) _exit(import_one(j->raw, j->db, j->status_known, j->status, 0) == HQ_OK ? 0 : 1);
      if (pid < 0) { /* no process to spare: this one here */
        ok[next] = import_one(j->raw, j->db, j->status_known, j->status, 0) == HQ_OK;
      } else {
        pids[next] = pid;
        running++;
      }
      next++;
    }
    if (running) {
      int st;
      pid_t done = waitpid(-1, &st, 0);
      if (done < 0) {
        if (errno == EINTR) continue;
        break; /* no child left to wait for */
      }
      for (size_t i = 0; i < n; i++)
        if (pids[i] == done) {
          ok[i] = WIFEXITED(st) && WEXITSTATUS(st) == 0;
          pids[i] = 0;
          running--;
        }
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (!ok[i]) continue;
    remember(jobs[i].db);
    if (!quiet) summary(jobs[i].db);
  }
  free(pids);
  free(ok);
}

/* ---- processes that finished while the program runs, imported meanwhile ---- */

static void find_children(const char *dir, pid_t root, const char *root_raw,
                          uint64_t started_unix_ns, const job_t *seen, size_t n_seen,
                          int skip_seen, job_t **jobs, size_t *n, size_t *cap);

/* 1 when the trace's last record is END: its process finished (exit, or exec) and the trace
 * holds everything it will ever hold. */
static int trace_finished(const char *raw) {
  hq_rec_end_t end;
  struct stat sb;
  int fd = open(raw, O_RDONLY | O_CLOEXEC), yes = 0;
  if (fd < 0) return 0;
  if (fstat(fd, &sb) == 0 && (size_t)sb.st_size >= sizeof(hq_raw_header_t) + sizeof end &&
      pread(fd, &end, sizeof end, sb.st_size - (off_t)sizeof end) == (ssize_t)sizeof end)
    yes = end.hdr.type == HQ_REC_END && end.hdr.len == sizeof end;
  close(fd);
  return yes;
}

typedef struct {
  job_t *v;
  pid_t *pid;       /* the importing process, 0 once reaped */
  char *ok;
  size_t n, cap, running;
} early_t;

static void early_reap(early_t *e, int wait) {
  for (size_t i = 0; i < e->n; i++) {
    int st;
    pid_t r;
    if (e->pid[i] <= 0) continue;
    while ((r = waitpid(e->pid[i], &st, wait ? 0 : WNOHANG)) < 0 && errno == EINTR) {}
    if (r != e->pid[i]) continue;
    e->ok[i] = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    e->pid[i] = 0;
    e->running--;
  }
}

/* While the program runs: each finished trace of the run's other processes goes to an import
 * process of its own (at most `slots` at once, a CPU left to the program). */
static void early_poll(early_t *e, const char *dir, pid_t root, const char *root_raw,
                       uint64_t started_unix_ns, size_t slots) {
  job_t *found = NULL;
  size_t n = 0, cap = 0;
  early_reap(e, 0);
  if (e->running >= slots) return;
  find_children(dir, root, root_raw, started_unix_ns, e->v, e->n, 1, &found, &n, &cap);
  for (size_t i = 0; i < n && e->running < slots; i++) {
    pid_t pid;
    size_t k = e->n;
    if (!trace_finished(found[i].raw)) continue;
    if (hq__grow((void **)&e->v, &e->cap, e->n, sizeof *e->v, 8)) break;
    {
      size_t c = e->cap;
      pid_t *p = realloc(e->pid, c * sizeof *p);
      char *o;
      if (!p) break;
      e->pid = p;
      if (!(o = realloc(e->ok, c))) break;
      e->ok = o;
    }
    fflush(stderr);
    pid = fork();
    if (pid < 0) break; /* imported after the program instead */
    if (pid == 0) _exit(import_one(found[i].raw, found[i].db, 0, 0, 0) == HQ_OK ? 0 : 1);
    e->v[k] = found[i];
    e->pid[k] = pid;
    e->ok[k] = 0;
    e->n++;
    e->running++;
  }
  free(found);
}

/* Raw traces in dir of this run's other processes: fork children, and images the root or a
 * child became by exec (--follow-exec: same pid, a trace of its own), appended to *jobs.  A
 * trace counts when its process or its parent is already of the run and it started after the
 * run began, so a stale trace of a recycled pid is left alone. */
static void find_children(const char *dir, pid_t root, const char *root_raw,
                          uint64_t started_unix_ns, const job_t *seen, size_t n_seen,
                          int skip_seen, job_t **jobs, size_t *n, size_t *cap) {
  const char *root_name = strrchr(root_raw, '/') ? strrchr(root_raw, '/') + 1 : root_raw;
  pid_t known[4096];
  int n_known = 1, progress = 1;
  known[0] = root;
  /* processes of the run whose traces are gone already (imported while the program ran) */
  for (size_t i = 0; i < n_seen && n_known < 4096; i++) known[n_known++] = seen[i].pid;
  while (progress) {
    DIR *d = opendir(dir);
    struct dirent *e;
    progress = 0;
    if (!d) return;
    while ((e = readdir(d)) != NULL) {
      char raw[PATH_MAX + 300];
      hq_raw_header_t h;
      size_t len = strlen(e->d_name), k;
      int fd, parent_known = 0;
      if (len < 5 || strcmp(e->d_name + len - 4, HQ_RAW_SUFFIX)) continue;
      snprintf(raw, sizeof raw, "%s/%s", dir, e->d_name);
      for (k = 0; k < *n && strcmp((*jobs)[k].raw, raw); k++) {}
      if (k < *n) continue; /* taken in an earlier pass */
      for (k = 0; skip_seen && k < n_seen && strcmp(seen[k].raw, raw); k++) {}
      if (skip_seen && k < n_seen) continue; /* being imported already */
      fd = open(raw, O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      if (read(fd, &h, sizeof h) != (ssize_t)sizeof h || memcmp(h.magic, HQ_RAW_MAGIC, 8)) {
        close(fd);
        continue;
      }
      close(fd);
      for (int i = 0; i < n_known; i++)
        parent_known |= (pid_t)h.ppid == known[i] || (pid_t)h.pid == known[i];
      if (!parent_known || h.t0_unix_ns < started_unix_ns || !strcmp(e->d_name, root_name))
        continue;
      if (hq__grow((void **)jobs, cap, *n, sizeof **jobs, 8)) break;
      memset(&(*jobs)[*n], 0, sizeof **jobs);
      snprintf((*jobs)[*n].raw, sizeof (*jobs)[*n].raw, "%s", raw);
      snprintf((*jobs)[*n].db, sizeof (*jobs)[*n].db, "%.*s", (int)(strlen(raw) - 4), raw);
      (*jobs)[*n].pid = (pid_t)h.pid;
      (*n)++;
      if (n_known < 4096) known[n_known++] = (pid_t)h.pid;
      progress = 1;
    }
    closedir(d);
  }
}

int hq_cmd_run(int argc, char **argv) {
  run_opts_t o;
  char preload[PATH_MAX + 64], db_path[PATH_MAX], raw[PATH_MAX + 8], dir[PATH_MAX];
  const char *prog, *pattern;
  struct sigaction ign, fwd, old_int, old_quit, old_term, old_hup;
  int status = 0, rc, err_pipe[2], gate_code = 0;
  uint64_t started_unix_ns;
  pid_t pid;
  hq_cli_nvml_t *nvml = NULL;
  early_t early = {NULL, NULL, NULL, 0, 0, 0};
  sigset_t chld, old_mask;
  ssize_t n;

  switch (parse_run(argc, argv, &o)) {
  case 0: break;
  case 1: return run_done(&o, HQ_EXIT_OK);
  default: return run_done(&o, HQ_EXIT_USAGE);
  }
  run_label = o.label;
  if (find_preload(preload, sizeof preload) != 0) {
    hq_cli_error("cannot find libheapql_preload.so next to heapql (set HEAPQL_PRELOAD_LIB)");
    return run_done(&o, HQ_EXIT_INTERNAL);
  }
  prog = strrchr(o.cmd[0], '/') ? strrchr(o.cmd[0], '/') + 1 : o.cmd[0];
  pattern = o.output ? o.output : "heapql.%n.%p.db";
  if ((rc = check_output(&o, pattern, prog)) != 0) return run_done(&o, rc);
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    hq_cli_error("pipe: %s", strerror(errno));
    return run_done(&o, HQ_EXIT_INTERNAL);
  }

  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  memset(&fwd, 0, sizeof fwd);
  fwd.sa_handler = forward_signal;
  /* Like system(): the terminal's ^C and ^\ reach the program; we stay to import. */
  sigaction(SIGINT, &ign, &old_int);
  sigaction(SIGQUIT, &ign, &old_quit);
  sigaction(SIGTERM, &fwd, &old_term);
  sigaction(SIGHUP, &fwd, &old_hup);

  {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    started_unix_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
  }
  fflush(NULL);
  nvml = hq_cli_nvml_start(); /* the driver's own count, from outside the program */
  /* SIGCHLD held while we wait: sigtimedwait wakes the moment the program (or an import of
   * ours) ends; the program gets the mask it would have had */
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &old_mask);
  pid = fork();
  if (pid < 0) {
    hq_cli_error("fork: %s", strerror(errno));
    hq_cli_nvml_free(nvml);
    return run_done(&o, HQ_EXIT_INTERNAL);
  }
  if (pid == 0) {
    int e;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    hq__expand_output(pattern, getpid(), prog, db_path, sizeof db_path);
    set_child_env(&o, preload, db_path);
    execvp(o.cmd[0], o.cmd);
    e = errno;
    n = write(err_pipe[1], &e, sizeof e);
    (void)n;
    _exit(127);
  }
  child_pid = pid;
  close(err_pipe[1]);
  {
    int e = 0;
    n = read(err_pipe[0], &e, sizeof e);
    close(err_pipe[0]);
    if (n == (ssize_t)sizeof e) {
      waitpid(pid, &status, 0);
      hq_cli_nvml_free(nvml);
      hq_cli_error("cannot run '%s': %s", o.cmd[0], strerror(e));
      return run_done(&o, e == ENOENT ? 127 : 126);
    }
  }
  hq__expand_output(pattern, pid, prog, db_path, sizeof db_path);
  snprintf(raw, sizeof raw, "%s%s", db_path, HQ_RAW_SUFFIX);
  dir_of(db_path, dir, sizeof dir);
  {
    /* Wait for the program, importing meanwhile what its other processes finished (fork
     * children, exec'd images): a build's compilers are in their databases by the time make
     * ends.  Polled every 50 ms; without other processes this is a plain wait. */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t slots = cpus > 2 ? (size_t)(cpus > 9 ? 8 : cpus - 1) : 1;
    for (;;) {
      struct timespec nap = {0, 50000000};
      pid_t r = waitpid(pid, &status, WNOHANG);
      if (r == pid || (r < 0 && errno != EINTR)) break;
      if (r == 0 && (o.follow_fork || o.follow_exec))
        early_poll(&early, dir, pid, raw, started_unix_ns, slots);
      if (r == 0) sigtimedwait(&chld, NULL, &nap);
    }
  }
  sigprocmask(SIG_SETMASK, &old_mask, NULL);
  child_pid = 0;
  hq_cli_nvml_stop(nvml);
  early_reap(&early, 1);
  {
    job_t *jobs = NULL;
    char *done = NULL;
    size_t n_jobs = 0, cap_jobs = 0;
    if (access(raw, F_OK) == 0) {
      if (hq__grow((void **)&jobs, &cap_jobs, 0, sizeof *jobs, 8) == HQ_OK) {
        memset(jobs, 0, sizeof *jobs);
        snprintf(jobs[0].raw, sizeof jobs[0].raw, "%s", raw);
        snprintf(jobs[0].db, sizeof jobs[0].db, "%s", db_path);
        jobs[0].status_known = 1;
        jobs[0].status = status;
        jobs[0].pid = pid;
        n_jobs = 1;
      }
    } else if (!o.quiet) {
      hq_cli_error("'%s' left no trace (a statically linked or setuid program cannot be preloaded)",
                   o.cmd[0]);
    }
    /* the ones imported meanwhile, in the order they were found, then the rest */
    for (size_t i = 0; i < early.n; i++) {
      if (!early.ok[i] || hq__grow((void **)&jobs, &cap_jobs, n_jobs, sizeof *jobs, 8)) continue;
      jobs[n_jobs++] = early.v[i];
    }
    {
      size_t before = n_jobs, n_rest = 0, cap_rest = 0;
      job_t *rest = NULL;
      /* every trace left: one whose early import failed is tried again, and a later image
       * of a process that took the same name (exec of the same program twice) is its own */
      find_children(dir, pid, raw, started_unix_ns, early.v, early.n, 0, &rest, &n_rest, &cap_rest);
      for (size_t i = 0; i < n_rest; i++) {
        if (hq__grow((void **)&jobs, &cap_jobs, n_jobs, sizeof *jobs, 8)) break;
        jobs[n_jobs++] = rest[i];
      }
      free(rest);
      done = calloc(n_jobs ? n_jobs : 1, 1);
      if (done)
        for (size_t i = 0; i < before; i++) done[i] = !jobs[i].status_known; /* not the program's */
    }
    import_all(jobs, n_jobs, done, o.quiet); /* done NULL (no memory): everything is tried */
    free(done);
    free(jobs);
  }
  free(early.v);
  free(early.pid);
  free(early.ok);
  for (size_t k = 0; k < n_made && nvml; k++) (void)hq_cli_nvml_write(nvml, made[k]);
  hq_cli_nvml_free(nvml);
  if (o.gate && n_made) {
    /* One verdict over every process recorded; nothing of it on the program's stdout. */
    o.g.just_imported = 1;
    gate_code = hq_cli_gate_run(&o.g, (const char *const *)made, n_made, stderr, stderr);
  } else if (o.gate) {
    hq_cli_error("run: --gate: no database to gate");
    gate_code = HQ_EXIT_USAGE;
  }
  hq_cli_gate_free(&o.g);
  for (size_t k = 0; k < n_made; k++) free(made[k]);
  free(made);

  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGQUIT, &old_quit, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  sigaction(SIGHUP, &old_hup, NULL);
  if (WIFSIGNALED(status)) {
    /* End the way the program ended; no core file of our own. */
    struct rlimit nocore = {0, 0};
    int sig = WTERMSIG(status);
    setrlimit(RLIMIT_CORE, &nocore);
    fflush(NULL);
    signal(sig, SIG_DFL);
    {
      sigset_t s;
      sigemptyset(&s);
      sigaddset(&s, sig);
      sigprocmask(SIG_UNBLOCK, &s, NULL);
    }
    raise(sig);
    return 128 + sig;
  }
  if (gate_code == HQ_EXIT_GATE) return o.gate_exit;
  if (gate_code > HQ_EXIT_GATE) return gate_code; /* the gate could not judge: say so */
  return WEXITSTATUS(status);
}

int hq_cmd_import(int argc, char **argv) {
  const char *out = NULL;
  int force = 0, symbols = 1, quiet = 0, n_raw = 0, worst = 0;
  char **raws = calloc((size_t)argc, sizeof *raws);
  if (!raws) return HQ_EXIT_INTERNAL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      hq_cli_usage(hq_usage_import);
      free(raws);
      return HQ_EXIT_OK;
    } else if (!strcmp(argv[i], "-o")) {
      if (++i >= argc) { hq_cli_error("-o needs a path"); free(raws); return HQ_EXIT_USAGE; }
      out = argv[i];
    } else if (!strcmp(argv[i], "--force") || !strcmp(argv[i], "-f")) {
      force = 1;
    } else if (!strcmp(argv[i], "--no-symbols")) {
      symbols = 0;
    } else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
      quiet = 1;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      hq_cli_error("import: unknown option '%s' (see 'heapql import --help')", argv[i]);
      free(raws);
      return HQ_EXIT_USAGE;
    } else {
      raws[n_raw++] = argv[i];
    }
  }
  if (n_raw == 0) {
    hq_cli_error("import: no raw trace given (see 'heapql import --help')");
    free(raws);
    return HQ_EXIT_USAGE;
  }
  if (out && n_raw > 1) {
    hq_cli_error("import: -o takes one raw trace at a time (or use 'heapql merge' afterwards)");
    free(raws);
    return HQ_EXIT_USAGE;
  }
  for (int i = 0; i < n_raw; i++) {
    char db_path[PATH_MAX], err[1024];
    hq_import_opts_t io = {force, symbols, 1};
    hq_import_stats_t stats;
    size_t len = strlen(raws[i]);
    int rc;
    if (out) snprintf(db_path, sizeof db_path, "%s", out);
    else if (len > 4 && !strcmp(raws[i] + len - 4, HQ_RAW_SUFFIX))
      snprintf(db_path, sizeof db_path, "%.*s", (int)(len - 4), raws[i]);
    else snprintf(db_path, sizeof db_path, "%s.db", raws[i]);
    rc = hq_import(raws[i], db_path, &io, &stats, err, sizeof err);
    if (rc != HQ_OK) {
      hq_cli_error("%s", err[0] ? err : hq_strerror(rc));
      if (hq_cli_exit_code(rc) > worst) worst = hq_cli_exit_code(rc);
      continue;
    }
    if (!quiet)
      fprintf(stderr, "heapql: %s: %llu events, %llu allocations, %llu stacks%s\n", db_path,
              (unsigned long long)stats.events, (unsigned long long)stats.allocations,
              (unsigned long long)stats.stacks,
              stats.complete ? "" : " (incomplete: the process did not finish normally)");
  }
  free(raws);
  return worst;
}
