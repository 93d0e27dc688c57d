/*
 * hq_exec.c: programs that start other programs.
 *
 * exec: this process's recording ends here (its trace gets END), and the new image is recorded
 * only with follow_exec (heapql run --follow-exec, HEAPQL_FOLLOW_EXEC=1).  The program's
 * environment has no trace of heapql (hq_env.c), so a child is recorded only when its
 * environment is given back what it needs: LD_PRELOAD with our library first, and the HEAPQL_*
 * settings kept at start (its output pattern naming each child apart).  The exec family and
 * posix_spawn(p) take an explicit environment, built here on the stack: no allocation, since a
 * vfork child may call them.  system() and popen() spawn from `environ` inside libc, out of
 * reach: for the length of the call, `environ` points at such a child environment (another
 * thread reading environ meanwhile sees heapql's variables; docs/recorder.md says so).
 */
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "hq_recorder.h"
#include "preload_int.h"

extern char **environ;

/* Most entries a child environment is built with on the stack; more, and it is passed on as it
 * is (the child then runs untraced). */
#define CHILD_ENV_MAX 16384

/* env for the child, as `name` (a stack array of `n` entries) and `buf` (a stack buffer). */
#define CHILD_ENV(env, name, buf)                                                              \
  size_t n_##name = hq__env_child_size(env);                                                   \
  char *name##_vec[n_##name <= CHILD_ENV_MAX ? n_##name : 1];                                  \
  char buf[1200];                                                                              \
  char *const *name = n_##name <= CHILD_ENV_MAX ? hq__env_for_child(env, name##_vec, buf,      \
                                                                     sizeof buf)               \
                                                 : (env)

static int missing(void) {
  errno = ENOSYS;
  return -1;
}

hq_export int execve(const char *path, char *const argv[], char *const envp[]) {
  CHILD_ENV(envp, env, preload);
  hq__finish_exec();
  return hq__real.execve ? hq__real.execve(path, argv, env) : missing();
}

hq_export int execvpe(const char *file, char *const argv[], char *const envp[]) {
  CHILD_ENV(envp, env, preload);
  hq__finish_exec();
  return hq__real.execvpe ? hq__real.execvpe(file, argv, env) : missing();
}

hq_export int execv(const char *path, char *const argv[]) { return execve(path, argv, environ); }
hq_export int execvp(const char *file, char *const argv[]) { return execvpe(file, argv, environ); }

hq_export int fexecve(int fd, char *const argv[], char *const envp[]) {
  CHILD_ENV(envp, env, preload);
  hq__finish_exec();
  return hq__real.fexecve ? hq__real.fexecve(fd, argv, env) : missing();
}

hq_export int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags) {
  CHILD_ENV(envp, env, preload);
  hq__finish_exec();
  return hq__real.execveat ? hq__real.execveat(dirfd, path, argv, env, flags) : missing();
}

/* execl, execlp, execle: gather the variadic arguments on the stack (no malloc). */
#define HQ_EXECL_ARGV(first, ap, argv_out, envp_out, with_env)                 \
  size_t n_ = 1;                                                               \
  va_list c_;                                                                  \
  va_copy(c_, ap);                                                             \
  while (va_arg(c_, char *) != NULL) n_++;                                     \
  va_end(c_);                                                                  \
  char *argv_out[n_ + 1];                                                      \
  argv_out[0] = (char *)(first);                                               \
  for (size_t i_ = 1; i_ <= n_; i_++) argv_out[i_] = va_arg(ap, char *);       \
  char *const *envp_out = with_env ? va_arg(ap, char *const *) : environ

typedef int (*exec_fn)(const char *, char *const[], char *const[]);

/* execl, execlp, execle: the argument list gathered, then the vector call. */
static int execl_impl(exec_fn fn, const char *path, const char *arg, va_list ap, int with_env) {
  HQ_EXECL_ARGV(arg, ap, argv, envp, with_env);
  return fn(path, argv, envp);
}

#define HQ_EXECL(name, fn, with_env)                                     \
  hq_export int name(const char *path, const char *arg, ...) {           \
    va_list ap;                                                          \
    int rc;                                                              \
    va_start(ap, arg);                                                   \
    rc = execl_impl(fn, path, arg, ap, with_env);                        \
    va_end(ap);                                                          \
    return rc;                                                           \
  }

HQ_EXECL(execl, execve, 0)
HQ_EXECL(execlp, execvpe, 0)
HQ_EXECL(execle, execve, 1)

/* ---- spawners: the child is a new process, this one goes on recording ---- */

hq_export int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                          const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
  CHILD_ENV(envp, env, preload);
  return hq__real.posix_spawn ? hq__real.posix_spawn(pid, path, fa, attr, argv, env) : ENOSYS;
}

hq_export int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
  CHILD_ENV(envp, env, preload);
  return hq__real.posix_spawnp ? hq__real.posix_spawnp(pid, file, fa, attr, argv, env) : ENOSYS;
}

/* system() and popen() read `environ` themselves: it is swapped for the call. */
static pthread_mutex_t environ_swap = PTHREAD_MUTEX_INITIALIZER;

hq_export int system(const char *command) {
  int rc;
  char **saved;
  if (!hq__real.system) return missing();
  if (!command) return hq__real.system(NULL); /* "is there a shell?": nothing runs */
  CHILD_ENV(environ, env, preload);
  if (env == environ) return hq__real.system(command);
  pthread_mutex_lock(&environ_swap);
  saved = environ;
  environ = (char **)env;
  rc = hq__real.system(command);
  environ = saved;
  pthread_mutex_unlock(&environ_swap);
  return rc;
}

hq_export FILE *popen(const char *command, const char *type) {
  FILE *f;
  char **saved;
  if (!hq__real.popen) {
    errno = ENOSYS;
    return NULL;
  }
  CHILD_ENV(environ, env, preload);
  if (env == environ) return hq__real.popen(command, type);
  pthread_mutex_lock(&environ_swap);
  saved = environ;
  environ = (char **)env;
  f = hq__real.popen(command, type);
  environ = saved;
  pthread_mutex_unlock(&environ_swap);
  return f;
}
