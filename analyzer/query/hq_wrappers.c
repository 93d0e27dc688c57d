/*
 * hq_wrappers.c: allocation wrappers, the frames a site looks past.
 *
 * A site is the first frame of an allocation's stack, from the allocator outwards, that is not an
 * allocation wrapper (hq_callsite.c).  Wrappers are named by patterns: the built-in list below
 * (the C++ standard library above operator new, strdup, glib, libiberty, CPython's allocators,
 * heapql's own pool), then the user's (hq_db_set_wrappers(), HEAPQL_WRAPPERS).  A pattern is
 *
 *   [fun:]GLOB    the frame's function: its full demangled name or its qualified name without
 *                 return type and parameters ("std::vector<int>::push_back(int const&)" is
 *                 matched by "std::*" and by "std::vector<*>::push_back")
 *   src:GLOB      the frame's source file
 *   lib:GLOB      the frame's module (the library's path)
 *
 * with fnmatch(3) globs.  A third-party library's own internals are not wrappers: only the entry
 * points that hand a caller's request to the allocator are.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"

static const char *const builtin[] = {
  /* C++: operator new, and every standard-library frame above it (allocators,
   * allocator_traits, containers, string growth), by name and by header, inline frames too */
  "operator new*", "operator delete*", "std::*", "__gnu_cxx::*", "__cxxabiv1::*",
  "src:*/include/c++/*", "src:*/c++/v1/*",
  /* C */
  "strdup", "strndup", "__strdup", "__strndup", "__GI___strdup", "__GI___strndup", "wcsdup",
  "__wcsdup",
  /* glib */
  "g_malloc", "g_malloc0", "g_realloc", "g_try_malloc", "g_try_malloc0", "g_try_realloc",
  "g_malloc_n", "g_malloc0_n", "g_realloc_n", "g_try_malloc_n", "g_try_malloc0_n",
  "g_try_realloc_n", "g_aligned_alloc", "g_aligned_alloc0", "g_strdup", "g_strndup", "g_memdup",
  "g_memdup2", "g_slice_alloc", "g_slice_alloc0", "g_slice_copy",
  /* libiberty (gcc, binutils) */
  "xmalloc", "xcalloc", "xrealloc", "xstrdup", "xstrndup", "xmemdup",
  /* CPython's allocators */
  "PyMem_*", "_PyMem_*", "PyObject_Malloc", "PyObject_Calloc", "PyObject_Realloc",
  "_PyObject_Malloc", "_PyObject_Calloc", "_PyObject_Realloc", "pymalloc_alloc",
  "pymalloc_realloc", "allocate_from_new_pool", "new_arena", "_PyObject_ArenaMmap",
  "_PyObject_ArenaMalloc",
  /* heapql's own caching pool (libheapql_kernels) */
  "hq_pool_alloc", "src:*/kernels/hq_pool.c",
};

enum { W_FUN, W_SRC, W_LIB };

typedef struct pattern_s {
  int what;
  char *glob;
} pattern_t;

struct hq__wrappers_s {
  pattern_t *p;
  size_t n, cap;
  uint64_t signature;       /* of the user's patterns: the built-in list is part of the version */
};

static int add(hq__wrappers_t *w, const char *text, size_t len) {
  pattern_t *p;
  int what = W_FUN;
  while (len && isspace((unsigned char)*text)) text++, len--;
  while (len && isspace((unsigned char)text[len - 1])) len--;
  if (len >= 4 && !strncmp(text, "fun:", 4)) text += 4, len -= 4;
  else if (len >= 4 && !strncmp(text, "src:", 4)) what = W_SRC, text += 4, len -= 4;
  else if (len >= 4 && !strncmp(text, "lib:", 4)) what = W_LIB, text += 4, len -= 4;
  if (len == 0) return HQ_EINVAL;
  if (hq__grow((void **)&w->p, &w->cap, w->n, sizeof *w->p, 64)) return HQ_ENOMEM;
  p = &w->p[w->n];
  p->what = what;
  p->glob = strndup(text, len);
  if (!p->glob) return HQ_ENOMEM;
  w->n++;
  return HQ_OK;
}

void hq__wrappers_free(hq__wrappers_t *w) {
  if (!w) return;
  for (size_t i = 0; i < w->n; i++) free(w->p[i].glob);
  free(w->p);
  free(w);
}

/* One pattern per line of a file; '#' starts a comment; blank lines are skipped. */
static int add_file(hq__wrappers_t *w, const char *path, char *err, size_t cap) {
  FILE *f = fopen(path, "r");
  char line[4096];
  int n = 0, rc = HQ_OK;
  if (!f) {
    snprintf(err, cap, "%s: %s", path, strerror(errno));
    return errno == ENOENT ? HQ_ENOENT : HQ_EIO;
  }
  while (!rc && fgets(line, sizeof line, f)) {
    char *hash = strchr(line, '#');
    size_t len;
    n++;
    if (hash) *hash = '\0';
    len = strcspn(line, "\r\n");
    line[len] = '\0';
    if (strspn(line, " \t") == len) continue;
    rc = add(w, line, len);
    if (rc == HQ_EINVAL) snprintf(err, cap, "%s:%d: an empty pattern after its 'fun:', 'src:' or 'lib:'", path, n);
  }
  fclose(f);
  return rc;
}

int hq__wrappers_parse(const char *user, hq__wrappers_t **out, char *err, size_t cap) {
  hq__wrappers_t *w = calloc(1, sizeof *w);
  int rc = HQ_OK;
  *out = NULL;
  if (!w) return HQ_ENOMEM;
  for (size_t i = 0; i < HQ_ARRAY_LEN(builtin) && !rc; i++) rc = add(w, builtin[i], strlen(builtin[i]));
  w->signature = hq__sites_hash(user ? user : "");
  for (const char *p = user; p && *p && !rc;) {
    size_t len = strcspn(p, ",\n");
    if (*p == '@') {
      char *path = strndup(p + 1, len - 1);
      rc = path ? add_file(w, path, err, cap) : HQ_ENOMEM;
      free(path);
    } else if (strspn(p, " \t") < len) {
      rc = add(w, p, len);
      if (rc == HQ_EINVAL) snprintf(err, cap, "wrapper pattern '%.*s': empty after its prefix", (int)len, p);
    }
    p += len + (p[len] != '\0');
  }
  if (rc) {
    hq__wrappers_free(w);
    return rc;
  }
  *out = w;
  return HQ_OK;
}

uint64_t hq__wrappers_signature(const hq__wrappers_t *w) {
  return w->signature;
}

/* "void std::vector<int>::push_back(int const&) const" -> "std::vector<int>::push_back": no
 * return type, parameters or qualifiers, template arguments kept. */
static void qualified(const char *name, char *out, size_t cap) {
  size_t len = strlen(name), start = 0;
  int depth = 0;
  /* trailing cv/ref qualifiers, then the balanced parameter list */
  for (;;) {
    static const char *const quals[] = {" const", " volatile", " &&", " &", " noexcept"};
    int cut = 0;
    for (size_t q = 0; q < HQ_ARRAY_LEN(quals); q++) {
      size_t ql = strlen(quals[q]);
      if (len > ql && !strncmp(name + len - ql, quals[q], ql)) {
        len -= ql;
        cut = 1;
      }
    }
    if (!cut) break;
  }
  if (len && name[len - 1] == ')') {
    size_t i = len;
    int d = 0;
    while (i-- > 0) {
      if (name[i] == ')') d++;
      else if (name[i] == '(' && --d == 0) break;
    }
    if (i < len && i > 0 && strncmp(name + (i >= 8 ? i - 8 : 0), "operator", 8)) len = i;
  }
  /* the return type ends at the last space outside template arguments, unless it belongs to
   * "operator new" and the like */
  for (size_t i = 0; i < len; i++) {
    if (name[i] == '<') depth++;
    else if (name[i] == '>') depth--;
    else if (name[i] == '(') depth++;
    else if (name[i] == ')') depth--;
    else if (name[i] == ' ' && depth == 0 && !(i >= 8 && !strncmp(name + i - 8, "operator", 8)))
      start = i + 1;
  }
  snprintf(out, cap, "%.*s", (int)(len - start), name + start);
}

int hq__wrappers_match(const hq__wrappers_t *w, const char *function, const char *file,
                       const char *module) {
  char q[1024];
  int have_q = 0;
  for (size_t i = 0; i < w->n; i++) {
    const pattern_t *p = &w->p[i];
    switch (p->what) {
    case W_FUN:
      if (!function) break;
      if (!fnmatch(p->glob, function, 0)) return 1;
      if (!have_q) {
        qualified(function, q, sizeof q);
        have_q = 1;
      }
      if (!fnmatch(p->glob, q, 0)) return 1;
      break;
    case W_SRC:
      if (file && !fnmatch(p->glob, file, 0)) return 1;
      break;
    case W_LIB:
      if (module && !fnmatch(p->glob, module, 0)) return 1;
      break;
    }
  }
  return 0;
}

int hq_db_set_wrappers(hq_db_t *db, const char *patterns) {
  hq__wrappers_t *w = NULL;
  char err[512] = "";
  int rc;
  if (!HQ_DB_OK(db)) return HQ_MISUSE_BKPT;
  rc = hq__wrappers_parse(patterns, &w, err, sizeof err);
  if (rc) return hq__db_seterr(db, rc, "%s", err[0] ? err : hq_strerror(rc));
  hq__wrappers_free(w); /* valid: kept as text, parsed again by whoever resolves sites */
  free(db->wrappers);
  db->wrappers = patterns && *patterns ? strdup(patterns) : NULL;
  if (patterns && *patterns && !db->wrappers) return HQ_ENOMEM;
  return HQ_OK;
}
