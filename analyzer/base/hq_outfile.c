/*
 * hq_outfile.c: writing an output file without ever destroying one heapql did not create.
 *
 * A new or regular target is written to a temporary file heapql creates beside it
 * (O_CREAT|O_EXCL, the caller's mode) and renamed over it only on success; a failure removes
 * only that temporary file.  A symlink is followed: the file it points to is replaced, the link
 * stays a link.  An existing target that is not a regular file (a device, a FIFO) is opened and
 * written in place and never removed; a database must be a regular file; a directory is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base_int.h"

static int say(char *err, size_t cap, int rc, const char *fmt, const char *path, const char *why) {
  if (err && cap) snprintf(err, cap, fmt, path, why);
  return rc;
}

/* The file a path names once symlinks are followed, even when that file does not exist yet
 * (a dangling link: the path it points to).  malloc'd. */
static char *follow(const char *path) {
  char *cur = strdup(path);
  for (int hops = 0; cur && hops < 40; hops++) {
    char target[PATH_MAX], *next;
    struct stat sb;
    ssize_t n;
    if (lstat(cur, &sb) != 0 || !S_ISLNK(sb.st_mode)) return cur;
    n = readlink(cur, target, sizeof target - 1);
    if (n <= 0) return cur;
    target[n] = '\0';
    if (target[0] == '/') {
      next = strdup(target);
    } else {
      char *copy = strdup(cur);
      const char *dir = copy ? dirname(copy) : ".";
      next = malloc(strlen(dir) + (size_t)n + 2);
      if (next) sprintf(next, "%s/%s", dir, target);
      free(copy);
    }
    free(cur);
    cur = next;
  }
  return cur;
}

/* Create the temporary file beside o->final. */
static int make_temp(hq__out_t *o, const char *path, mode_t mode, char *err, size_t cap) {
  char *copy = strdup(o->final), *base_copy = strdup(o->final);
  const char *dir = copy ? dirname(copy) : NULL, *base = base_copy ? basename(base_copy) : NULL;
  size_t need = (dir ? strlen(dir) : 0) + (base ? strlen(base) : 0) + 32;
  int rc = HQ_OK, e = 0;
  o->tmp = dir && base ? malloc(need) : NULL;
  for (int attempt = 0; o->tmp && attempt < 100; attempt++) {
    snprintf(o->tmp, need, "%s/.%s.%ld.%d.tmp", dir, base, (long)getpid(), attempt);
    o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (o->fd >= 0 || (e = errno) != EEXIST) break;
  }
  if (!o->tmp) {
    rc = HQ_ENOMEM;
  } else if (o->fd < 0) {
    rc = say(err, cap, e == ENOENT || e == EACCES || e == EROFS ? HQ_EINVAL : HQ_EIO,
             "%s: cannot write: %s", path, strerror(e));
    free(o->tmp); /* never created: nothing of ours to remove */
    o->tmp = NULL;
  }
  free(copy);
  free(base_copy);
  return rc;
}

int hq__out_open(hq__out_t *o, const char *path, int flags, mode_t mode, char *err, size_t cap) {
  struct stat sb;
  int rc = HQ_OK;
  memset(o, 0, sizeof *o);
  o->fd = -1;
  if (!path || !*path) return say(err, cap, HQ_EINVAL, "%s%s", "", "no output path");
  if (!strcmp(path, "-") && !(flags & HQ__OUT_STDOUT_OK))
    return say(err, cap, HQ_EINVAL, "%s: %s", path,
               "'-' (standard output) is not a place for this output");
  o->final = follow(path);
  if (!o->final) return HQ_ENOMEM;
  if (stat(o->final, &sb) == 0) {
    if (S_ISDIR(sb.st_mode)) {
      rc = say(err, cap, HQ_EINVAL, "%s: %s", path, "is a directory");
    } else if (!S_ISREG(sb.st_mode)) {
      if (flags & HQ__OUT_REGULAR) {
        rc = say(err, cap, HQ_EINVAL, "%s: %s", path, "not a regular file (a database must be one)");
      } else if ((o->fd = open(o->final, O_WRONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
        rc = say(err, cap, HQ_EIO, "%s: cannot write: %s", path, strerror(errno));
      } else {
        o->in_place = 1;
      }
      goto out;
    } else if (!(flags & HQ__OUT_REPLACE)) {
      rc = say(err, cap, HQ_EEXIST, "%s: %s", path, "already exists (use --force to replace it)");
    }
  }
  if (!rc) rc = make_temp(o, path, mode, err, cap);
out:
  if (rc) hq__out_abort(o); /* nothing of ours is left: no temporary file, no memory */
  return rc;
}

const char *hq__out_path(const hq__out_t *o) {
  return o->tmp ? o->tmp : o->final;
}

int hq__out_commit(hq__out_t *o, char *err, size_t cap) {
  int rc = HQ_OK;
  if (o->fd >= 0 && close(o->fd) != 0)
    rc = say(err, cap, HQ_EIO, "%s: write failed: %s", o->final, strerror(errno));
  o->fd = -1;
  if (!rc && o->tmp && rename(o->tmp, o->final) != 0)
    rc = say(err, cap, HQ_EIO, "%s: cannot rename into place: %s", o->final, strerror(errno));
  if (rc) {
    hq__out_abort(o);
    return rc;
  }
  free(o->tmp);
  free(o->final);
  memset(o, 0, sizeof *o);
  o->fd = -1;
  return HQ_OK;
}

void hq__out_abort(hq__out_t *o) {
  if (o->fd >= 0) close(o->fd);
  if (o->tmp) unlink(o->tmp); /* ours: the target itself is never touched */
  free(o->tmp);
  free(o->final);
  memset(o, 0, sizeof *o);
  o->fd = -1;
}
