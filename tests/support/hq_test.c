/* hq_test.c: helpers for heapql's cmocka tests (see hq_test.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hq_test.h"

extern char **environ;

static char *rot_buf(void) {
  static char bufs[8][4096];
  static int i;
  return bufs[i++ & 7];
}

const char *hq_test_build_path(const char *rel) {
  const char *b = getenv("HEAPQL_TEST_BUILD");
  char *out = rot_buf();
  snprintf(out, 4096, "%s/%s", b && *b ? b : "build", rel);
  return out;
}

const char *hq_test_tmpdir(void) {
  const char *t = getenv("TMPDIR");
  char *out = rot_buf();
  snprintf(out, 4096, "%s/heapql-test-XXXXXX", t && *t ? t : "/tmp");
  if (!mkdtemp(out)) fail_msg("mkdtemp: %s", strerror(errno));
  return out;
}

const char *hq_test_join(const char *dir, const char *name) {
  char *out = rot_buf();
  snprintf(out, 4096, "%s/%s", dir, name);
  return out;
}

static void drain(int fd, char **buf, size_t *len, size_t *cap) {
  char tmp[65536];
  ssize_t n = read(fd, tmp, sizeof tmp);
  if (n <= 0) return;
  if (*len + (size_t)n + 1 > *cap) {
    *cap = (*len + (size_t)n + 1) * 2;
    *buf = realloc(*buf, *cap);
  }
  memcpy(*buf + *len, tmp, (size_t)n);
  *len += (size_t)n;
  (*buf)[*len] = '\0';
}

int hq_test_run(char *const argv[], char *const env[], const char *cwd, int timeout_s,
                hq_test_proc_t *out) {
  int outp[2], errp[2], status = 0;
  size_t ocap = 1, ecap = 1;
  pid_t pid;
  time_t deadline = time(NULL) + timeout_s;
  int open_fds = 2, killed = 0;

  memset(out, 0, sizeof *out);
  out->out = calloc(1, 1);
  out->err = calloc(1, 1);
  if (pipe2(outp, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) return -1;
  pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    setpgid(0, 0); /* its own group: a timeout takes its descendants too */
    dup2(devnull, 0);
    dup2(outp[1], 1);
    dup2(errp[1], 2);
    if (cwd && chdir(cwd) != 0) _exit(126);
    for (size_t i = 0; env && env[i]; i++) putenv(env[i]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(outp[1]);
  close(errp[1]);
  while (open_fds > 0) {
    struct pollfd p[2] = {{outp[0], POLLIN, 0}, {errp[0], POLLIN, 0}};
    int r = poll(p, 2, 200);
    if (r > 0) {
      for (int i = 0; i < 2; i++) {
        if (p[i].revents & (POLLIN | POLLHUP)) {
          size_t before = i ? out->err_len : out->out_len;
          if (i) drain(errp[0], &out->err, &out->err_len, &ecap);
          else drain(outp[0], &out->out, &out->out_len, &ocap);
          if ((i ? out->err_len : out->out_len) == before && (p[i].revents & POLLHUP)) {
            open_fds--;
            p[i].fd = -1;
            if (i) { close(errp[0]); errp[0] = -1; } else { close(outp[0]); outp[0] = -1; }
          }
        }
      }
      if (outp[0] < 0 && errp[0] < 0) break;
    }
    if (!killed && time(NULL) > deadline) {
      kill(-pid, SIGKILL); /* a grandchild holding the pipes must not hang the suite */
      kill(pid, SIGKILL);
      killed = 1;
    }
    if (outp[0] < 0 && errp[0] < 0) break;
  }
  if (outp[0] >= 0) close(outp[0]);
  if (errp[0] >= 0) close(errp[0]);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (WIFEXITED(status)) {
    out->exit_status = WEXITSTATUS(status);
  } else {
    out->exit_status = -1;
    out->term_signal = WTERMSIG(status);
  }
  if (killed) fail_msg("%s timed out after %d s", argv[0], timeout_s);
  return 0;
}

void hq_test_run_preloaded(char *const argv[], const char *db, const char *const *extra,
                           int timeout_s, hq_test_proc_t *out) {
  static char env_preload[4200], env_out[4200];
  char *env[32];
  int n = 0;
  if (db) {
    snprintf(env_preload, sizeof env_preload, "LD_PRELOAD=%s",
             hq_test_build_path("lib/libheapql_preload.so"));
    snprintf(env_out, sizeof env_out, "HEAPQL_OUTPUT=%s", db);
    env[n++] = env_preload;
    env[n++] = env_out;
  }
  for (int i = 0; extra && extra[i] && n < 31; i++) env[n++] = (char *)extra[i];
  env[n] = NULL;
  if (hq_test_run(argv, env, NULL, timeout_s, out) != 0) fail_msg("cannot start %s", argv[0]);
}

void hq_test_heapql_record(const char *db, char *const cmd[], hq_test_proc_t *out) {
  char *argv[32] = {(char *)hq_test_build_path("bin/heapql"), "run", "-q", "--force", "-o", (char *)db,
                    "--"};
  size_t n = 7;
  while (*cmd && n < 31) argv[n++] = *cmd++;
  argv[n] = NULL;
  if (hq_test_run(argv, NULL, NULL, 120, out) != 0) fail_msg("cannot start %s", argv[0]);
}

void hq_test_proc_free(hq_test_proc_t *p) {
  free(p->out);
  free(p->err);
  memset(p, 0, sizeof *p);
}

sqlite3 *hq_test_sqlite_open(const char *path) {
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
    fail_msg("cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "?");
  return db;
}

static sqlite3_stmt *one_row(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    fail_msg("SQL error in '%s': %s", sql, sqlite3_errmsg(db));
  if (sqlite3_step(st) != SQLITE_ROW)
    fail_msg("no row from '%s': %s", sql, sqlite3_errmsg(db));
  return st;
}

int64_t hq_test_q_int(sqlite3 *db, const char *fmt, ...) {
  char sql[8192];
  va_list ap;
  sqlite3_stmt *st;
  int64_t v;
  va_start(ap, fmt);
  vsnprintf(sql, sizeof sql, fmt, ap);
  va_end(ap);
  st = one_row(db, sql);
  if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
    sqlite3_finalize(st);
    fail_msg("NULL from '%s'", sql);
  }
  v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

const char *hq_test_q_text(sqlite3 *db, const char *fmt, ...) {
  char sql[8192];
  char *out = rot_buf();
  va_list ap;
  sqlite3_stmt *st;
  const unsigned char *t;
  va_start(ap, fmt);
  vsnprintf(sql, sizeof sql, fmt, ap);
  va_end(ap);
  st = one_row(db, sql);
  t = sqlite3_column_text(st, 0);
  snprintf(out, 4096, "%s", t ? (const char *)t : "");
  sqlite3_finalize(st);
  return out;
}

char *hq_test_read_file(const char *path, size_t *out_len) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t len = 0, cap = 0, n;
  char tmp[65536];
  if (!f) return NULL;
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
    if (len + n + 1 > cap) { cap = (len + n + 1) * 2; buf = realloc(buf, cap); }
    memcpy(buf + len, tmp, n);
    len += n;
  }
  fclose(f);
  if (!buf) buf = calloc(1, 1);
  buf[len] = '\0';
  if (out_len) *out_len = len;
  return buf;
}

int hq_test_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

const char *hq_test_which(const char *prog) {
  char *out = rot_buf();
  const char *path = getenv("PATH");
  char dirs[8192];
  if (!path) return NULL;
  snprintf(dirs, sizeof dirs, "%s", path);
  for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    snprintf(out, 4096, "%s/%s", d, prog);
    if (access(out, X_OK) == 0) return out;
  }
  return NULL;
}

int hq_test_count_files(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  if (!d) return -1;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}
