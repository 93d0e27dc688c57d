/*
 * hq_dwarf.c: address -> (function, file, line) chains for one module file, with elfutils.
 *
 * One resolver per module file, opened once (libdwfl, offline: the module is placed at its own
 * link-time addresses, so a frame's `offset` is the address to look up).  Lookups are cheap after
 * the first touch of a compilation unit:
 *   - a sorted table of CU address ranges, built once per module, finds the CU;
 *   - each CU, on first use, is walked once into a sorted table of the address ranges of its
 *     functions and inlined-subroutine instances with their nesting, so the innermost function
 *     at an address and the chain of functions it was inlined into come from a binary search
 *     (dwarf_getscopes would re-walk the CU for every address);
 *   - names are demangled once per DIE (or ELF symbol) and cached.
 * Without DWARF, names come from the ELF symbol table (.symtab, else .dynsym).  Split DWARF
 * units are read through their skeletons (addresses, lines) and .dwo files (functions).  CUs are
 * found from their own DW_AT_ranges, so binaries without .debug_aranges (clang) work too.
 *
 * Separate debug information is looked up by build-id and .gnu_debuglink under the directories
 * of HEAPQL_DEBUGINFO_PATH (elfutils' syntax; default ":.debug:/usr/lib/debug").  debuginfod is
 * asked only when HEAPQL_DEBUGINFOD=1 (and DEBUGINFOD_URLS is set), so symbolization stays
 * offline and fast by default.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <dirent.h>
#include <fcntl.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbols/symbols_int.h"

#define DEFAULT_DEBUGINFO_PATH ":.debug:/usr/lib/debug"
#define MAX_DIE_DEPTH 256

/* ---- a small open-addressing map: uint64 key -> name ---- */

typedef struct {
  uint64_t *keys; /* key + 1; 0 marks an empty slot */
  const char **names;
  uint8_t *owned; /* 1: names[i] was malloc'd here */
  size_t cap, n;
} name_map_t;

static size_t map_slot(const name_map_t *m, uint64_t key) {
  uint64_t h = (key + 1) * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 17) & (m->cap - 1);
}

static int map_grow(name_map_t *m) {
  name_map_t g;
  size_t i;
  g.cap = m->cap ? m->cap * 2 : 1024;
  g.n = m->n;
  g.keys = calloc(g.cap, sizeof *g.keys);
  g.names = calloc(g.cap, sizeof *g.names);
  g.owned = calloc(g.cap, 1);
  if (!g.keys || !g.names || !g.owned) {
    free(g.keys);
    free(g.names);
    free(g.owned);
    return HQ_ENOMEM;
  }
  for (i = 0; i < m->cap; i++) {
    size_t j;
    if (!m->keys[i]) continue;
    for (j = map_slot(&g, m->keys[i] - 1); g.keys[j]; j = (j + 1) & (g.cap - 1)) {}
    g.keys[j] = m->keys[i];
    g.names[j] = m->names[i];
    g.owned[j] = m->owned[i];
  }
  free(m->keys);
  free(m->names);
  free(m->owned);
  *m = g;
  return HQ_OK;
}

/* 1 and *out_name when key is in the map. */
static int map_get(const name_map_t *m, uint64_t key, const char **out_name) {
  size_t i;
  if (!m->cap) return 0;
  for (i = map_slot(m, key); m->keys[i]; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == key + 1) {
      *out_name = m->names[i];
      return 1;
    }
  }
  return 0;
}

/* Insert key (not yet present).  On failure an owned name is freed. */
static int map_put(name_map_t *m, uint64_t key, const char *name, int owned) {
  size_t i;
  if ((m->n + 1) * 2 > m->cap && map_grow(m)) {
    if (owned) free((char *)name);
    return HQ_ENOMEM;
  }
  for (i = map_slot(m, key); m->keys[i]; i = (i + 1) & (m->cap - 1)) {}
  m->keys[i] = key + 1;
  m->names[i] = name;
  m->owned[i] = (uint8_t)owned;
  m->n++;
  return HQ_OK;
}

static void map_free(name_map_t *m) {
  size_t i;
  for (i = 0; i < m->cap; i++)
    if (m->keys[i] && m->owned[i]) free((char *)m->names[i]);
  free(m->keys);
  free(m->names);
  free(m->owned);
  memset(m, 0, sizeof *m);
}

/* ---- per-CU function index ---- */

typedef struct {
  Dwarf_Addr lo, hi;
  uint32_t node;
  uint32_t depth; /* nesting depth of node: deeper ranges sort after shallower ones */
} frange_t;

typedef struct {
  Dwarf_Off die_off;
  int32_t parent;     /* enclosing function node, -1 at the top */
  uint32_t first, count; /* its ranges in cu_t.ranges */
  uint32_t call_file, call_line; /* inlined instances: where the call was */
  uint8_t inlined;    /* DW_TAG_inlined_subroutine (else DW_TAG_subprogram) */
} fnode_t;

typedef struct {
  Dwarf_Die die;        /* the unit DIE: address ranges and the line table */
  Dwarf_Die funcs;      /* where its functions are: die, or the split unit of a skeleton */
  Dwarf *funcs_dbg;     /* the Dwarf holding funcs (a .dwo file's for split DWARF) */
  uint64_t key_base;    /* added to DIE offsets for the name cache: 0, or unique per .dwo */
  const char *comp_dir; /* makes relative file names absolute; NULL if unknown */
  int version;
  int state;          /* 0 not indexed yet, 1 indexed, -1 failed */
  fnode_t *nodes;
  size_t nnodes, capnodes;
  frange_t *ranges;   /* in node order */
  size_t nranges, capranges;
  frange_t *sorted;   /* by lo, then depth */
  Dwarf_Files *files;
  size_t nfiles;
  int files_state;    /* 0 not read, 1 read, -1 none */
} cu_t;

typedef struct {
  Dwarf_Addr lo, hi;
  size_t cu;
} cu_range_t;

struct hq__symres_s {
  Dwfl_Callbacks callbacks; /* must outlive dwfl */
  char *debuginfo_path;
  Dwfl *dwfl;
  Dwfl_Module *mod;
  Dwarf *dbg;          /* NULL: ELF symbols only */
  Dwarf_Addr dbias;
  int cus_state;       /* 0 not built, 1 built */
  cu_t *cus;
  size_t ncus;
  cu_range_t *cu_ranges;
  size_t ncu_ranges;
  name_map_t die_names, sym_names;
  name_map_t abs_files; /* libdw's relative file name (by address) -> absolute path */
  hq__elfsyms_t *syms;  /* the ELF symbol table, sorted on first use */
  int syms_state;       /* 0 not read yet, 1 read */
  int oom;
};

static int range_cmp(const void *a, const void *b) {
  const frange_t *x = a, *y = b;
  if (x->lo != y->lo) return x->lo < y->lo ? -1 : 1;
  if (x->depth != y->depth) return x->depth < y->depth ? -1 : 1;
  return 0;
}

static int cu_range_cmp(const void *a, const void *b) {
  const cu_range_t *x = a, *y = b;
  if (x->lo != y->lo) return x->lo < y->lo ? -1 : 1;
  return 0;
}

/* Record one function DIE with its ranges; returns its node index, -1 when it has no code
 * (a declaration or an abstract instance), -2 when out of memory. */
static int32_t add_node(cu_t *cu, Dwarf_Die *die, int inlined, int32_t parent, uint32_t depth) {
  Dwarf_Addr base, lo, hi;
  ptrdiff_t off = 0;
  fnode_t *node;
  uint32_t first = (uint32_t)cu->nranges;
  Dwarf_Attribute attr;
  Dwarf_Word w;

  while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
    if (hi <= lo) continue;
    if (hq__grow((void **)&cu->ranges, &cu->capranges, cu->nranges, sizeof *cu->ranges, 256))
      return -2;
    cu->ranges[cu->nranges].lo = lo;
    cu->ranges[cu->nranges].hi = hi;
    cu->ranges[cu->nranges].node = (uint32_t)cu->nnodes;
    cu->ranges[cu->nranges].depth = depth;
    cu->nranges++;
  }
  if (cu->nranges == first) return -1;
  if (hq__grow((void **)&cu->nodes, &cu->capnodes, cu->nnodes, sizeof *cu->nodes, 128)) return -2;
  node = &cu->nodes[cu->nnodes];
  node->die_off = dwarf_dieoffset(die);
  node->parent = parent;
  node->first = first;
  node->count = (uint32_t)(cu->nranges - first);
  node->inlined = (uint8_t)inlined;
  node->call_file = node->call_line = 0;
  if (inlined) {
    if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &attr), &w) == 0) node->call_file = (uint32_t)w;
    if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &attr), &w) == 0) node->call_line = (uint32_t)w;
  }
  return (int32_t)cu->nnodes++;
}

/* Walk the children of parent_die: functions become nodes; scopes that can hold functions
 * (lexical blocks, namespaces, Fortran modules) are walked through. */
static int walk(cu_t *cu, Dwarf_Die *parent_die, int32_t parent_node, uint32_t depth) {
  Dwarf_Die child;
  if (depth > MAX_DIE_DEPTH) return HQ_OK;
  if (dwarf_child(parent_die, &child) != 0) return HQ_OK;
  do {
    int tag = dwarf_tag(&child), rc;
    int32_t idx;
    switch (tag) {
    case DW_TAG_subprogram:
    case DW_TAG_inlined_subroutine:
      idx = add_node(cu, &child, tag == DW_TAG_inlined_subroutine, parent_node, depth);
      if (idx == -2) return HQ_ENOMEM;
      if (idx >= 0 && (rc = walk(cu, &child, idx, depth + 1))) return rc;
      break;
    case DW_TAG_lexical_block:
    case DW_TAG_namespace:
    case DW_TAG_module:
      if ((rc = walk(cu, &child, parent_node, depth + 1))) return rc;
      break;
    default:
      break;
    }
  } while (dwarf_siblingof(&child, &child) == 0);
  return HQ_OK;
}

static int index_cu(cu_t *cu) {
  int rc = walk(cu, &cu->funcs, -1, 0);
  if (rc) return rc;
  if (cu->nranges) {
    cu->sorted = malloc(cu->nranges * sizeof *cu->sorted);
    if (!cu->sorted) return HQ_ENOMEM;
    memcpy(cu->sorted, cu->ranges, cu->nranges * sizeof *cu->sorted);
    qsort(cu->sorted, cu->nranges, sizeof *cu->sorted, range_cmp);
  }
  cu->state = 1;
  return HQ_OK;
}

static int node_contains(const cu_t *cu, int32_t node, Dwarf_Addr a) {
  const fnode_t *n = &cu->nodes[node];
  for (uint32_t i = 0; i < n->count; i++) {
    const frange_t *r = &cu->ranges[n->first + i];
    if (a >= r->lo && a < r->hi) return 1;
  }
  return 0;
}

/* The innermost function node whose ranges hold a, or -1.  Function ranges nest (an inlined
 * instance lies inside the function it was inlined into), so the innermost holder is the range
 * starting last at or before a, or one of that range's enclosing nodes. */
static int32_t innermost(const cu_t *cu, Dwarf_Addr a) {
  size_t lo = 0, hi = cu->nranges;
  int32_t node;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cu->sorted[mid].lo <= a) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return -1;
  node = (int32_t)cu->sorted[lo - 1].node;
  if (a < cu->sorted[lo - 1].hi) return node;
  for (node = cu->nodes[node].parent; node >= 0; node = cu->nodes[node].parent)
    if (node_contains(cu, node, a)) return node;
  return -1;
}

/* ---- per-module CU table ---- */

static int build_cus(hq__symres_t *r) {
  Dwarf_CU *unit = NULL, *next = NULL;
  Dwarf_Half version;
  uint8_t unit_type;
  Dwarf_Die cudie, subdie;
  size_t capcus = 0, capranges = 0;

  r->cus_state = 1;
  while (dwarf_get_units(r->dbg, unit, &next, &version, &unit_type, &cudie, &subdie) == 0) {
    Dwarf_Addr base, lo, hi;
    Dwarf_Attribute attr;
    ptrdiff_t off = 0;
    cu_t *cu;
    unit = next;
    if (unit_type != DW_UT_compile && unit_type != DW_UT_skeleton) continue;
    if (hq__grow((void **)&r->cus, &capcus, r->ncus, sizeof *r->cus, 64)) return HQ_ENOMEM;
    cu = &r->cus[r->ncus];
    memset(cu, 0, sizeof *cu);
    cu->die = cu->funcs = cudie;
    cu->funcs_dbg = r->dbg;
    /* Split DWARF: addresses and lines stay in the skeleton, the functions are in the .dwo. */
    if (unit_type == DW_UT_skeleton && dwarf_tag(&subdie) == DW_TAG_compile_unit) {
      cu->funcs = subdie;
      cu->funcs_dbg = dwarf_cu_getdwarf(subdie.cu);
      cu->key_base = (uint64_t)(r->ncus + 1) << 40;
    }
    cu->version = version;
    cu->comp_dir = dwarf_formstring(dwarf_attr(&cudie, DW_AT_comp_dir, &attr));
    while ((off = dwarf_ranges(&cudie, off, &base, &lo, &hi)) > 0) {
      if (hi <= lo) continue;
      if (hq__grow((void **)&r->cu_ranges, &capranges, r->ncu_ranges, sizeof *r->cu_ranges, 64))
        return HQ_ENOMEM;
      r->cu_ranges[r->ncu_ranges].lo = lo;
      r->cu_ranges[r->ncu_ranges].hi = hi;
      r->cu_ranges[r->ncu_ranges].cu = r->ncus;
      r->ncu_ranges++;
    }
    r->ncus++;
  }
  if (r->ncu_ranges) qsort(r->cu_ranges, r->ncu_ranges, sizeof *r->cu_ranges, cu_range_cmp);
  return HQ_OK;
}

static cu_t *find_cu(hq__symres_t *r, Dwarf_Addr a) {
  size_t lo = 0, hi = r->ncu_ranges, i, steps;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (r->cu_ranges[mid].lo <= a) lo = mid + 1;
    else hi = mid;
  }
  /* CU ranges should not overlap; look a few back in case a producer made them. */
  for (i = lo, steps = 0; i > 0 && steps < 8; i--, steps++)
    if (a < r->cu_ranges[i - 1].hi) return &r->cus[r->cu_ranges[i - 1].cu];
  return NULL;
}

/* ---- names and files ---- */

static const char *die_name(hq__symres_t *r, const cu_t *cu, Dwarf_Off off) {
  const char *name = NULL, *linkage;
  char *demangled = NULL;
  Dwarf_Die die;
  Dwarf_Attribute attr;
  if (map_get(&r->die_names, cu->key_base + off, &name)) return name;
  if (!dwarf_offdie(cu->funcs_dbg, off, &die)) return NULL;
  /* The linkage name gives C++ scopes and parameter types (dwarf_attr_integrate follows
   * DW_AT_abstract_origin and DW_AT_specification to the declaration that has it). */
  linkage = dwarf_formstring(dwarf_attr_integrate(&die, DW_AT_linkage_name, &attr));
  if (!linkage) linkage = dwarf_formstring(dwarf_attr_integrate(&die, DW_AT_MIPS_linkage_name, &attr));
  if (linkage) demangled = hq__demangle(linkage);
  name = demangled ? demangled : linkage ? linkage : dwarf_diename(&die);
  if (map_put(&r->die_names, cu->key_base + off, name, demangled != NULL)) {
    r->oom = 1;
    return NULL;
  }
  return name;
}

static const char *sym_name(hq__symres_t *r, Dwarf_Addr a) {
  uint64_t start = 0;
  const char *raw, *name;
  char *demangled;
  if (!r->syms_state) {
    r->syms_state = 1;
    if (hq__elfsyms_build(r->mod, &r->syms)) {
      r->oom = 1;
      return NULL;
    }
  }
  raw = hq__elfsyms_find(r->syms, a, &start);
  if (!raw || !*raw) return NULL;
  if (map_get(&r->sym_names, start, &name)) return name;
  demangled = hq__demangle(raw);
  name = demangled ? demangled : raw;
  if (map_put(&r->sym_names, start, name, demangled != NULL)) {
    r->oom = 1;
    return NULL;
  }
  return name;
}

/* Lexically clean an absolute path in place: "//" and "/./" go, "dir/.." goes. */
static void clean_path(char *p) {
  char *out = p, *in = p;
  while (*in) {
    if (in[0] == '/' && (in[1] == '/' || in[1] == '\0') && out != p) { in++; continue; }
    if (in[0] == '/' && in[1] == '/') { in++; continue; }
    if (in[0] == '/' && in[1] == '.' && (in[2] == '/' || in[2] == '\0')) { in += 2; continue; }
    if (in[0] == '/' && in[1] == '.' && in[2] == '.' && (in[3] == '/' || in[3] == '\0')) {
      while (out > p && out[-1] != '/') out--;
      if (out > p) out--; /* drop the previous component and its slash */
      in += 3;
      continue;
    }
    *out++ = *in++;
  }
  if (out == p) *out++ = '/';
  *out = '\0';
}

/* name as an absolute path: DWARF 5 line tables name files relative to the compilation
 * directory, which a reader of the database does not have. */
static const char *abs_file(hq__symres_t *r, const cu_t *cu, const char *name) {
  const char *cached;
  char *joined;
  size_t dl, nl;
  if (!name || name[0] == '/' || !cu->comp_dir || cu->comp_dir[0] != '/') return name;
  if (map_get(&r->abs_files, (uint64_t)(uintptr_t)name, &cached)) return cached;
  dl = strlen(cu->comp_dir);
  nl = strlen(name);
  joined = malloc(dl + nl + 2);
  if (!joined) {
    r->oom = 1;
    return NULL;
  }
  memcpy(joined, cu->comp_dir, dl);
  joined[dl] = '/';
  memcpy(joined + dl + 1, name, nl + 1);
  clean_path(joined);
  if (map_put(&r->abs_files, (uint64_t)(uintptr_t)name, joined, 1)) {
    r->oom = 1;
    return NULL;
  }
  return joined;
}

static const char *cu_file(cu_t *cu, uint32_t idx) {
  const char *name;
  if (cu->files_state == 0)
    cu->files_state = dwarf_getsrcfiles(&cu->funcs, &cu->files, &cu->nfiles) == 0 ||
                      dwarf_getsrcfiles(&cu->die, &cu->files, &cu->nfiles) == 0 ? 1 : -1;
  if (cu->files_state < 0 || idx >= cu->nfiles) return NULL;
  if (idx == 0 && cu->version < 5) return NULL; /* before DWARF 5, file 0 means "none" */
  name = dwarf_filesrc(cu->files, idx, NULL, NULL);
  return name && strcmp(name, "???") ? name : NULL;
}

int hq__symres_lookup(hq__symres_t *r, uint64_t addr, hq__symframe_t *out, int cap,
                      int *out_n) {
  int n = 0, rc = HQ_OK;
  *out_n = 0;
  if (!r || !out || cap <= 0) return HQ_EINVAL;
  if (r->dbg) {
    Dwarf_Addr a = addr - r->dbias;
    cu_t *cu;
    if (!r->cus_state && (rc = build_cus(r))) goto out;
    cu = find_cu(r, a);
    if (cu && cu->state == 0 && (rc = index_cu(cu))) {
      cu->state = -1;
      goto out;
    }
    if (cu && cu->state == 1) {
      Dwarf_Line *line = dwarf_getsrc_die(&cu->die, a);
      int lineno = 0;
      int32_t node = innermost(cu, a);
      out[0].function = node >= 0 ? die_name(r, cu, cu->nodes[node].die_off) : NULL;
      if (!out[0].function) out[0].function = sym_name(r, addr);
      out[0].file = NULL;
      out[0].line = 0;
      if (line && dwarf_lineno(line, &lineno) == 0 && lineno > 0) {
        out[0].file = abs_file(r, cu, dwarf_linesrc(line, NULL, NULL));
        out[0].line = out[0].file ? lineno : 0;
      }
      n = 1;
      /* Each inlined instance adds the function it was inlined into, at the call's line. */
      while (node >= 0 && cu->nodes[node].inlined && cu->nodes[node].parent >= 0 && n < cap) {
        const fnode_t *inl = &cu->nodes[node];
        out[n].function = die_name(r, cu, cu->nodes[inl->parent].die_off);
        out[n].file = abs_file(r, cu, cu_file(cu, inl->call_file));
        out[n].line = out[n].file ? (int)inl->call_line : 0;
        n++;
        node = inl->parent;
      }
    }
  }
  if (n == 0) {
    const char *name = sym_name(r, addr);
    if (name) {
      out[0].function = name;
      out[0].file = NULL;
      out[0].line = 0;
      n = 1;
    }
  }
  if (r->oom) rc = HQ_ENOMEM;
out:
  *out_n = rc ? 0 : n;
  return rc;
}

/* ---- finding separate debug information ---- */

/* The directories of the debuginfo path, as elfutils reads it. */
static const char *debuginfo_path_of(const hq__symres_t *r) {
  return r->debuginfo_path;
}

static int build_id_of_fd(int fd, const void **bits, Elf **out_elf) {
  Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
  ssize_t n = elf ? dwelf_elf_gnu_build_id(elf, bits) : -1;
  *out_elf = elf;
  return (int)n;
}

/* .gnu_debuglink, searched as elfutils does (for each entry of the debuginfo path: "" is the
 * file's directory, a relative entry a subdirectory of it, an absolute entry a root under which
 * the file's directory is repeated), without debuginfod.  A candidate must carry the module's
 * build-id when both have one. */
static int find_by_debuglink(Dwfl_Module *mod, const char *search, const char *file_name,
                             const char *link, GElf_Word crc, char **out_name) {
  char dir[4096], cand[8192];
  const char *entry = search;
  const unsigned char *want = NULL;
  GElf_Addr vaddr;
  int want_len = dwfl_module_build_id(mod, &want, &vaddr);

  if (!link || !*link || !file_name) return -1;
  {
    const char *slash = strrchr(file_name, '/');
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - file_name), file_name);
    else snprintf(dir, sizeof dir, ".");
  }
  for (;;) {
    const char *end = strchr(entry, ':');
    int elen = (int)(end ? (size_t)(end - entry) : strlen(entry)), fd;
    if (link[0] == '/') snprintf(cand, sizeof cand, "%s", link);
    else if (elen && entry[0] == '/') snprintf(cand, sizeof cand, "%.*s%s/%s", elen, entry, dir, link);
    else if (elen) snprintf(cand, sizeof cand, "%s/%.*s/%s", dir, elen, entry, link);
    else snprintf(cand, sizeof cand, "%s/%s", dir, link);
    if (strcmp(cand, file_name) && (fd = open(cand, O_RDONLY | O_CLOEXEC)) >= 0) {
      int same = 1;
      if (crc && want_len > 0) {
        const void *have = NULL;
        Elf *elf = NULL;
        int have_len = build_id_of_fd(fd, &have, &elf);
        same = have_len == want_len && !memcmp(have, want, (size_t)want_len);
        elf_end(elf);
      }
      if (same) {
        *out_name = strdup(cand);
        return fd;
      }
      close(fd);
    }
    if (!end || link[0] == '/') break;
    entry = end + 1;
  }
  return -1;
}

static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                          const char *file_name, const char *debuglink_file,
                          GElf_Word debuglink_crc, char **debuginfo_file_name) {
  const char *want = getenv("HEAPQL_DEBUGINFOD");
  const hq__symres_t *r = userdata ? *userdata : NULL;
  int fd;
  if (want && !strcmp(want, "1"))
    return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
                                        debuglink_crc, debuginfo_file_name);
  fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
                                    debuglink_crc, debuginfo_file_name);
  if (fd >= 0) return fd;
  return find_by_debuglink(mod, r ? debuginfo_path_of(r) : DEFAULT_DEBUGINFO_PATH, file_name, debuglink_file, debuglink_crc,
                           debuginfo_file_name);
}

/* ---- opening ---- */

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Does the module's ELF carry the build-id given in hex? */
static int build_id_matches(Dwfl_Module *mod, const char *hex) {
  const unsigned char *bits = NULL;
  GElf_Addr vaddr;
  int len = dwfl_module_build_id(mod, &bits, &vaddr);
  size_t hl = strlen(hex);
  if (len <= 0 || hl != (size_t)len * 2) return 0;
  for (int i = 0; i < len; i++) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0 || bits[i] != (unsigned char)(hi << 4 | lo)) return 0;
  }
  return 1;
}

void hq__symres_close(hq__symres_t *r) {
  if (!r) return;
  for (size_t i = 0; i < r->ncus; i++) {
    free(r->cus[i].nodes);
    free(r->cus[i].ranges);
    free(r->cus[i].sorted);
  }
  free(r->cus);
  free(r->cu_ranges);
  map_free(&r->die_names);
  map_free(&r->sym_names);
  hq__elfsyms_free(r->syms);
  map_free(&r->abs_files);
  if (r->dwfl) dwfl_end(r->dwfl);
  free(r->debuginfo_path);
  free(r);
}

/* Report the ELF file at path; *out_res is NULL when it is not a usable ELF file. */
static int report(const char *path, hq__symres_t **out_res) {
  hq__symres_t *r = calloc(1, sizeof *r);
  const char *dpath = getenv("HEAPQL_DEBUGINFO_PATH");
  *out_res = NULL;
  if (!r) return HQ_ENOMEM;
  if (!(r->debuginfo_path = strdup(dpath && *dpath ? dpath : DEFAULT_DEBUGINFO_PATH))) {
    free(r);
    return HQ_ENOMEM;
  }
  r->callbacks.find_elf = dwfl_build_id_find_elf;
  r->callbacks.find_debuginfo = find_debuginfo;
  r->callbacks.section_address = dwfl_offline_section_address;
  r->callbacks.debuginfo_path = &r->debuginfo_path;
  r->dwfl = dwfl_begin(&r->callbacks);
  if (!r->dwfl) {
    hq__symres_close(r);
    return HQ_ENOMEM;
  }
  dwfl_report_begin(r->dwfl);
  /* Base 0 with add_p_vaddr: the module sits at its link-time addresses, so a frame's offset
   * (ip - load bias) is directly the address to look up, for PIE, shared objects and ET_EXEC. */
  r->mod = dwfl_report_elf(r->dwfl, path, path, -1, 0, true);
  dwfl_report_end(r->dwfl, NULL, NULL);
  if (!r->mod) {
    hq__symres_close(r);
    return HQ_OK;
  }
  /* find_debuginfo gets this handle back as its userdata. */
  {
    void **userdata = NULL;
    dwfl_module_info(r->mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
    if (userdata) *userdata = r;
  }
  *out_res = r;
  return HQ_OK;
}

static void load_dwarf(hq__symres_t *r) {
  r->dbg = dwfl_module_getdwarf(r->mod, &r->dbias);
}

/* The separate debug file named by the recorded build-id, under each absolute root of the
 * debuginfo path: used when the module file itself is gone or changed. */
static int open_by_build_id(const char *hex, hq__symres_t **out_res) {
  const char *dpath = getenv("HEAPQL_DEBUGINFO_PATH");
  char roots[4096], cand[8192];
  size_t n = hex ? strlen(hex) : 0;
  int rc = HQ_OK;
  *out_res = NULL;
  if (n < 4 || n % 2) return HQ_OK;
  for (size_t i = 0; i < n; i++)
    if (hex_value(hex[i]) < 0) return HQ_OK;
  snprintf(roots, sizeof roots, "%s", dpath && *dpath ? dpath : DEFAULT_DEBUGINFO_PATH);
  for (char *save = NULL, *e = strtok_r(roots, ":", &save); e; e = strtok_r(NULL, ":", &save)) {
    hq__symres_t *r = NULL;
    if (e[0] != '/') continue;
    snprintf(cand, sizeof cand, "%s/.build-id/%.2s/%s.debug", e, hex, hex + 2);
    if (access(cand, R_OK) != 0) continue;
    if ((rc = report(cand, &r))) break;
    if (!r) continue;
    if (!build_id_matches(r->mod, hex)) {
      hq__symres_close(r);
      continue;
    }
    load_dwarf(r);
    *out_res = r;
    break;
  }
  return rc;
}

/* A file under dir (at most `depth` directories down) named base whose build-id is hex. */
static int find_in_dir(const char *dir, const char *base, const char *hex, int depth,
                       hq__symres_t **out_res) {
  char cand[4096];
  DIR *d;
  struct dirent *e;
  int rc = HQ_OK;
  snprintf(cand, sizeof cand, "%s/%s", dir, base);
  if (access(cand, R_OK) == 0) {
    hq__symres_t *r = NULL;
    if ((rc = report(cand, &r))) return rc;
    if (r && build_id_matches(r->mod, hex)) {
      load_dwarf(r);
      *out_res = r;
      return HQ_OK;
    }
    hq__symres_close(r);
  }
  if (depth <= 0 || !(d = opendir(dir))) return HQ_OK;
  while (!rc && !*out_res && (e = readdir(d))) {
    struct stat sb;
    if (e->d_name[0] == '.') continue;
    snprintf(cand, sizeof cand, "%s/%s", dir, e->d_name);
    if (lstat(cand, &sb) == 0 && S_ISDIR(sb.st_mode))
      rc = find_in_dir(cand, base, hex, depth - 1, out_res);
  }
  closedir(d);
  return rc;
}

/* The module's build in one of the debug directories (colon-separated): DIR/.build-id/xx/rest
 * (.debug), or a file of the module's name under DIR whose build-id matches. */
static int open_in_debug_dirs(const char *dirs, const char *path, const char *hex,
                              hq__symres_t **out_res) {
  char list[4096];
  const char *base = path ? strrchr(path, '/') : NULL;
  int rc = HQ_OK;
  *out_res = NULL;
  if (!dirs || !*dirs || !hex || strlen(hex) < 4) return HQ_OK;
  base = base ? base + 1 : path;
  snprintf(list, sizeof list, "%s", dirs);
  for (char *save = NULL, *dir = strtok_r(list, ":", &save); dir && !rc && !*out_res;
       dir = strtok_r(NULL, ":", &save)) {
    char cand[4608];
    hq__symres_t *r = NULL;
    snprintf(cand, sizeof cand, "%s/.build-id/%.2s/%s.debug", dir, hex, hex + 2);
    if (access(cand, R_OK) == 0 && !(rc = report(cand, &r)) && r && build_id_matches(r->mod, hex)) {
      load_dwarf(r);
      *out_res = r;
      break;
    }
    hq__symres_close(r);
    if (!rc && base) rc = find_in_dir(dir, base, hex, 4, out_res);
  }
  return rc;
}

int hq__symres_open(const char *path, const char *build_id, const char *debug_dirs,
                    hq__symres_t **out_res, int *out_status) {
  struct stat sb;
  hq__symres_t *r = NULL;
  int rc;
  *out_res = NULL;
  *out_status = HQ__FILE_MISSING;
  if (!path || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    rc = open_in_debug_dirs(debug_dirs, path, build_id, out_res);
    if (!rc && *out_res) *out_status = HQ__FILE_OK;
    return rc || *out_res ? rc : open_by_build_id(build_id, out_res);
  }
  if ((rc = report(path, &r))) return rc;
  if (!r || (build_id && *build_id && !build_id_matches(r->mod, build_id))) {
    hq__symres_close(r);
    /* The file at the path was rebuilt: a copy of the run's build may be in a debug dir. */
    rc = open_in_debug_dirs(debug_dirs, path, build_id, out_res);
    *out_status = !rc && *out_res ? HQ__FILE_OK : HQ__FILE_CHANGED;
    return rc || *out_res ? rc : open_by_build_id(build_id, out_res);
  }
  load_dwarf(r);
  *out_status = r->dbg ? HQ__FILE_OK : HQ__FILE_NO_DEBUG_INFO;
  *out_res = r;
  return HQ_OK;
}

const char *hq__file_status_name(int status) {
  switch (status) {
  case HQ__FILE_OK: return "ok";
  case HQ__FILE_MISSING: return "missing";
  case HQ__FILE_CHANGED: return "changed";
  case HQ__FILE_NO_DEBUG_INFO: return "no-debug-info";
  default: return NULL;
  }
}
