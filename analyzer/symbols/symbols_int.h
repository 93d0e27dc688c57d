/*
 * symbols_int.h: symbolization's files share these (hq__ prefix), grouped by defining file.
 * libdw resolves addresses to functions, source lines and inline chains offline, after the
 * program has run (hq_symbolize.c drives it over a database).  Not installed; not public.
 */
#ifndef HQ_SYMBOLS_INT_H
#define HQ_SYMBOLS_INT_H

#include "base/base_int.h"

/* ---- hq_demangle.c ---- */
/* A readable name for a mangled C++ (Itanium), Rust legacy or Rust v0 symbol, malloc'd (caller
 * frees); NULL when name is not mangled or cannot be demangled (keep name as it is). */
char *hq__demangle(const char *name);

/* ---- hq_elfsyms.c: a module's ELF symbols, sorted once, binary-searched ---- */
typedef struct hq__elfsyms_s hq__elfsyms_t;
typedef struct Dwfl_Module Dwfl_Module;
/* Read the symbol table libdwfl chose for mod (.symtab, else .dynsym, plus MiniDebugInfo's).
 * *out is NULL when mod has no symbols.  Names point into mod's ELF data: the table must be
 * freed before the Dwfl is ended.  Returns HQ_OK or HQ_ENOMEM. */
int hq__elfsyms_build(Dwfl_Module *mod, hq__elfsyms_t **out);
/* The name of the symbol holding addr, chosen as dwfl_module_addrinfo chooses it, and its start
 * in *out_start; NULL when none (t may be NULL). */
const char *hq__elfsyms_find(const hq__elfsyms_t *t, uint64_t addr, uint64_t *out_start);
void hq__elfsyms_free(hq__elfsyms_t *t);

/* ---- hq_dwarf.c: one module file's address -> function/file:line resolver (libdw) ---- */
enum { HQ__FILE_OK, HQ__FILE_MISSING, HQ__FILE_CHANGED, HQ__FILE_NO_DEBUG_INFO };
typedef struct hq__symres_s hq__symres_t;
typedef struct hq__symframe_s {
  const char *function; /* demangled; NULL if unknown */
  const char *file;     /* source file; NULL if unknown */
  int line;             /* 0 if unknown */
} hq__symframe_t;
#define HQ__SYM_MAX_CHAIN 64
/* Open the module file at path, checking its build-id against build_id (hex; NULL or "" = do
 * not check).  A missing or rebuilt file is looked for in debug_dirs (colon-separated, may be
 * NULL): DIR/.build-id/xx/rest.debug, or a file of the module's name up to four directories
 * under DIR whose build-id matches; that counts as HQ__FILE_OK.  *out_status gets HQ__FILE_*;
 * *out_res is NULL when there is nothing to resolve from (missing or changed file and no copy or
 * separate debug file with that build-id).  Returns HQ_OK or HQ_ENOMEM. */
int  hq__symres_open(const char *path, const char *build_id, const char *debug_dirs,
                     hq__symres_t **out_res, int *out_status);
/* The chain at addr (a link-time address, already adjusted to point into the call): out[0] is
 * the innermost function with the line at addr, out[i] the function out[i-1] was inlined into,
 * with the line of that inlined call.  *out_n = 0 when nothing is known.  Strings are owned by
 * res and live until hq__symres_close().  Returns HQ_OK, HQ_EINVAL or HQ_ENOMEM. */
int  hq__symres_lookup(hq__symres_t *res, uint64_t addr, hq__symframe_t *out, int cap,
                       int *out_n);
void hq__symres_close(hq__symres_t *res);
/* "ok", "missing", "changed", "no-debug-info". */
const char *hq__file_status_name(int status);

#endif /* HQ_SYMBOLS_INT_H */
