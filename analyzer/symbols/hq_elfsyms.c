/*
 * hq_elfsyms.c: one module's ELF symbol table, read once into sorted arrays and searched by
 * binary search.
 *
 * libdwfl's dwfl_module_addrinfo walks the whole symbol table for every address (and looks up
 * the address's section header by header for sizeless symbols): on gcc's cc1, 29,000 dynamic
 * symbols times 5,000 addresses was most of an import.  Here the table is read once through
 * dwfl_module_getsym_info (so it is the table libdwfl chose: .symtab, else .dynsym, with
 * MiniDebugInfo's auxiliary table) and each lookup costs a binary search.
 *
 * The answer is libdwfl's:
 *   - the sized symbol (st_size > 0) holding the address, global and weak ones before local ones
 *     (libdwfl searches the locals only when no global holds it), the one starting closest below
 *     the address when several do, global before weak at equal start, then the smaller, then the
 *     first in table order; symbols without a name, section and file symbols are never chosen;
 *   - failing that, the closest sizeless symbol (an assembly label) at or below the address in
 *     the address's own section, unless a sized symbol starting at or below the address ends
 *     above that label (the label is then inside another function's bounds).
 * tests/unit/test_symbolize.c checks it against dwfl_module_addrinfo, address by address.
 */
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "symbols/symbols_int.h"

typedef struct {
  uint64_t lo, hi;  /* hi = lo + st_size; lo for a sizeless symbol */
  const char *name; /* in libelf's string table: lives as long as the Dwfl */
  uint32_t order;   /* index in the symbol table: the first wins a full tie */
  uint32_t shndx;
  uint8_t rank;     /* libdwfl's preference: global 3, weak 2, local 1, other 0 */
} esym_t;

/* Sized symbols of one binding pass, by start; max_hi[i] is the highest end of a[0..i]. */
typedef struct {
  esym_t *a;
  uint64_t *max_hi;
  size_t n, cap;
} sized_t;

typedef struct {
  uint64_t lo, hi;
  uint32_t ndx;
} esec_t;

struct hq__elfsyms_s {
  sized_t global, local; /* libdwfl looks at locals only when no global holds the address */
  esym_t *labels;        /* sizeless symbols, by start */
  size_t nlabels, caplabels;
  esec_t *sections;      /* allocated sections by address */
  size_t nsections;
};

static int esym_cmp(const void *x, const void *y) {
  const esym_t *a = x, *b = y;
  if (a->lo != b->lo) return a->lo < b->lo ? -1 : 1;
  if (a->rank != b->rank) return a->rank > b->rank ? -1 : 1;
  if (a->hi != b->hi) return a->hi < b->hi ? -1 : 1; /* the tighter of two at one start */
  return a->order < b->order ? -1 : a->order > b->order;
}

/* Labels: the last in table order wins at one address, whatever the binding (libdwfl replaces
 * its sizeless candidate by any later one at the same address). */
static int label_cmp(const void *x, const void *y) {
  const esym_t *a = x, *b = y;
  if (a->lo != b->lo) return a->lo < b->lo ? -1 : 1;
  return a->order > b->order ? -1 : a->order < b->order;
}

static int esec_cmp(const void *x, const void *y) {
  const esec_t *a = x, *b = y;
  return a->lo < b->lo ? -1 : a->lo > b->lo;
}

static uint8_t rank_of(int bind) {
  return bind == STB_GLOBAL ? 3 : bind == STB_WEAK ? 2 : bind == STB_LOCAL ? 1 : 0;
}

/* The sections of the file the symbols came from, for the same-section rule of labels. */
static int read_sections(hq__elfsyms_t *t, Elf *elf, GElf_Addr bias) {
  Elf_Scn *scn = NULL;
  size_t cap = 0;
  while ((scn = elf_nextscn(elf, scn)) != NULL) {
    GElf_Shdr mem, *sh = gelf_getshdr(scn, &mem);
    if (!sh || !(sh->sh_flags & SHF_ALLOC) || !sh->sh_size) continue;
    if (hq__grow((void **)&t->sections, &cap, t->nsections, sizeof *t->sections, 64)) return HQ_ENOMEM;
    t->sections[t->nsections].lo = sh->sh_addr + bias;
    t->sections[t->nsections].hi = sh->sh_addr + bias + sh->sh_size;
    t->sections[t->nsections].ndx = (uint32_t)elf_ndxscn(scn);
    t->nsections++;
  }
  if (t->nsections) qsort(t->sections, t->nsections, sizeof *t->sections, esec_cmp);
  return HQ_OK;
}

/* The index of the section holding addr; SHN_ABS when none does (libdwfl's answer). */
static uint32_t section_of(const hq__elfsyms_t *t, uint64_t addr) {
  size_t lo = 0, hi = t->nsections;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->sections[mid].lo <= addr) lo = mid + 1;
    else hi = mid;
  }
  /* sections do not overlap in a linked file (.tbss may, and holds no code) */
  for (size_t i = lo; i > 0 && i + 4 > lo; i--)
    if (addr < t->sections[i - 1].hi) return t->sections[i - 1].ndx;
  return SHN_ABS;
}

/* The number of elements of a (sorted by lo) starting at or below addr. */
static size_t upper_bound(const esym_t *a, size_t n, uint64_t addr) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (a[mid].lo <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static int sized_finish(sized_t *s) {
  if (!s->n) return HQ_OK;
  qsort(s->a, s->n, sizeof *s->a, esym_cmp);
  if (!(s->max_hi = malloc(s->n * sizeof *s->max_hi))) return HQ_ENOMEM;
  for (size_t i = 0; i < s->n; i++)
    s->max_hi[i] = i && s->max_hi[i - 1] > s->a[i].hi ? s->max_hi[i - 1] : s->a[i].hi;
  return HQ_OK;
}

/* The sized symbol of s holding addr that starts closest below it (the best rank, then the
 * first in table order, at equal start); NULL if none.  *min_label rises to the highest end of
 * the symbols starting at or below addr. */
static const esym_t *sized_find(const sized_t *s, uint64_t addr, uint64_t *min_label) {
  size_t i = upper_bound(s->a, s->n, addr), k;
  if (i && s->max_hi[i - 1] > *min_label) *min_label = s->max_hi[i - 1];
  /* walk down while a symbol that far down could still reach addr */
  for (k = i; k > 0 && s->max_hi[k - 1] > addr; k--) {
    const esym_t *e = &s->a[k - 1], *best = e;
    if (addr >= e->hi) continue;
    for (size_t j = k - 1; j > 0 && s->a[j - 1].lo == e->lo; j--)
      if (addr < s->a[j - 1].hi) best = &s->a[j - 1];
    return best;
  }
  return NULL;
}

int hq__elfsyms_build(Dwfl_Module *mod, hq__elfsyms_t **out) {
  hq__elfsyms_t *t = NULL;
  int n = dwfl_module_getsymtab(mod), rc = HQ_OK, have_sections = 0;

  *out = NULL;
  if (n <= 1) return HQ_OK;
  if (!(t = calloc(1, sizeof *t))) return HQ_ENOMEM;
  for (int i = 1; i < n; i++) {
    GElf_Sym sym;
    GElf_Addr addr, bias;
    GElf_Word shndx;
    Elf *elf = NULL;
    const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr, &shndx, &elf, &bias);
    int type = GELF_ST_TYPE(sym.st_info), bind = GELF_ST_BIND(sym.st_info);
    esym_t *e;
    /* a TLS symbol's value is an offset in the thread's block, not an address */
    if (!name || !*name || type == STT_SECTION || type == STT_FILE || type == STT_TLS ||
        shndx == SHN_UNDEF)
      continue;
    if (!have_sections && elf) {
      if ((rc = read_sections(t, elf, bias))) goto fail;
      have_sections = 1;
    }
    if (sym.st_size) {
      sized_t *s = bind == STB_LOCAL ? &t->local : &t->global;
      if (hq__grow((void **)&s->a, &s->cap, s->n, sizeof *s->a, 1024)) goto oom;
      e = &s->a[s->n++];
    } else {
      if (hq__grow((void **)&t->labels, &t->caplabels, t->nlabels, sizeof *t->labels, 256)) goto oom;
      e = &t->labels[t->nlabels++];
    }
    e->lo = addr;
    e->hi = addr + sym.st_size;
    e->name = name;
    e->order = (uint32_t)i;
    e->shndx = shndx;
    e->rank = rank_of(bind);
  }
  if (sized_finish(&t->global) || sized_finish(&t->local)) goto oom;
  if (t->nlabels) qsort(t->labels, t->nlabels, sizeof *t->labels, label_cmp);
  *out = t;
  return HQ_OK;
oom:
  rc = HQ_ENOMEM;
fail:
  hq__elfsyms_free(t);
  return rc;
}

const char *hq__elfsyms_find(const hq__elfsyms_t *t, uint64_t addr, uint64_t *out_start) {
  const esym_t *e;
  uint64_t min_label = 0;
  size_t i, k;
  uint32_t shndx;
  if (!t) return NULL;
  if ((e = sized_find(&t->global, addr, &min_label))) {
    *out_start = e->lo;
    return e->name;
  }
  /* libdwfl looks at the locals only when no global label sits exactly at addr either; of
   * several, the last in table order (the first of its start in label order) */
  i = upper_bound(t->labels, t->nlabels, addr);
  for (k = i; k > 0 && t->labels[k - 1].lo == addr; k--) {}
  for (; k < i; k++)
    if (t->labels[k].rank >= 2) {
      *out_start = addr;
      return t->labels[k].name;
    }
  if ((e = sized_find(&t->local, addr, &min_label))) {
    *out_start = e->lo;
    return e->name;
  }
  /* A label: the closest at or below addr in addr's section, above every sized symbol's end. */
  i = upper_bound(t->labels, t->nlabels, addr);
  if (!i || t->labels[i - 1].lo < min_label) return NULL;
  shndx = section_of(t, addr);
  for (k = i, e = NULL; k > 0 && t->labels[k - 1].lo >= min_label; k--) {
    const esym_t *c = &t->labels[k - 1];
    if (e && c->lo != e->lo) break; /* the best of the closest start is found */
    /* a label exactly at addr counts whatever its section */
    if (c->lo != addr && (shndx >= SHN_LORESERVE || c->shndx >= SHN_LORESERVE || c->shndx != shndx))
      continue;
    e = c; /* same start further down sorts better */
  }
  if (!e) return NULL;
  *out_start = e->lo;
  return e->name;
}

void hq__elfsyms_free(hq__elfsyms_t *t) {
  if (!t) return;
  free(t->global.a);
  free(t->global.max_hi);
  free(t->local.a);
  free(t->local.max_hi);
  free(t->labels);
  free(t->sections);
  free(t);
}
