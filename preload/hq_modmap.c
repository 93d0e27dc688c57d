/*
 * hq_modmap.c: the module map (what is loaded where), written into the trace as it changes.
 *
 * Stacks hold raw return addresses; the importer maps them to (module, offset) with these
 * records and symbolizes offline.  Every change to the set of mapped objects bumps a
 * generation, and each stack carries the generation it was captured in, so an address is
 * resolved against the modules mapped at that moment even if a library is unloaded and
 * another one is later loaded at the same place.  Refreshes happen after dlopen/dlclose and
 * when the writer sees the loader's add/remove counters move (loads the hooks did not see,
 * such as NSS modules).  Fixed-size table: never malloc.
 */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "preload_int.h"

#define HQ_MAX_MODULES 8192

typedef struct {
  uint64_t base, size;
  uint64_t name_hash;
  int alive;
  int seen;
} module_t;

_Atomic uint32_t hq__modmap_gen;
static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static module_t modules[HQ_MAX_MODULES];
static int n_modules;
/* the loader\'s counters at the last refresh: read by the writer\'s poll without the lock */
static _Atomic unsigned long long last_adds, last_subs;
static uintptr_t self_lo, self_hi;
static int changed;
static uint32_t next_gen;
static int first_refresh = 1;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static size_t find_build_id(struct dl_phdr_info *info, unsigned char *out, size_t cap) {
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    const unsigned char *p, *end;
    if (ph->p_type != PT_NOTE) continue;
    p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
    end = p + ph->p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
      const unsigned char *name = p + sizeof *nh;
      const unsigned char *desc = name + ((nh->n_namesz + 3) & ~3u);
      if (desc + nh->n_descsz > end) break;
      if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name, "GNU", 4)) {
        size_t n = nh->n_descsz < cap ? nh->n_descsz : cap;
        memcpy(out, desc, n);
        return n;
      }
      p = desc + ((nh->n_descsz + 3) & ~3u);
    }
  }
  return 0;
}

static void write_module(const char *path, uint64_t base, uint64_t size, uint32_t gen,
                         const unsigned char *bid, size_t bid_len) {
  unsigned char buf[sizeof(hq_rec_module_t) + 64 + 4096];
  hq_rec_module_t *m = (hq_rec_module_t *)buf;
  size_t plen = strlen(path) + 1, len;
  if (plen > 4096) plen = 4096;
  if (bid_len > 64) bid_len = 64;
  len = HQ_REC_ALIGN(sizeof *m + bid_len + plen);
  memset(buf, 0, len);
  m->hdr.type = HQ_REC_MODULE;
  m->hdr.len = (uint32_t)len;
  m->gen = gen;
  m->build_id_len = (uint16_t)bid_len;
  m->path_len = (uint16_t)plen;
  m->base = base;
  m->size = size;
  m->t = hq__now();
  memcpy(buf + sizeof *m, bid, bid_len);
  memcpy(buf + sizeof *m + bid_len, path, plen - 1);
  hq__writer_put(buf, (uint32_t)len);
}

static void module_extent(struct dl_phdr_info *info, uint64_t *lo, uint64_t *hi) {
  *lo = ~0ull;
  *hi = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    if (ph->p_vaddr < *lo) *lo = ph->p_vaddr;
    if (ph->p_vaddr + ph->p_memsz > *hi) *hi = ph->p_vaddr + ph->p_memsz;
  }
  if (*lo == ~0ull) *lo = *hi = 0;
}

static int visit(struct dl_phdr_info *info, size_t size, void *arg) {
  char exe[1024];
  const char *path = info->dlpi_name;
  uint64_t lo, hi, h;
  int *index = arg;
  (void)size;
  if (*index == 0 && (!path || !*path)) {
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    path = exe;
  }
  (*index)++;
  atomic_store_explicit(&last_adds, info->dlpi_adds, memory_order_relaxed);
  atomic_store_explicit(&last_subs, info->dlpi_subs, memory_order_relaxed);
  if (!path || !*path) return 0;
  module_extent(info, &lo, &hi);
  if (hi == 0) return 0;
  h = hash_str(path);
  for (int i = 0; i < n_modules; i++) {
    if (modules[i].alive && modules[i].base == info->dlpi_addr && modules[i].name_hash == h) {
      modules[i].seen = 1;
      return 0;
    }
  }
  if (n_modules < HQ_MAX_MODULES) {
    unsigned char bid[64];
    size_t bid_len = find_build_id(info, bid, sizeof bid);
    module_t *m = &modules[n_modules++];
    m->base = info->dlpi_addr;
    m->size = hi;
    m->name_hash = h;
    m->alive = 1;
    m->seen = 1;
    write_module(path, info->dlpi_addr, hi, next_gen, bid, bid_len);
    changed = 1;
  }
  return 0;
}

void hq__modmap_refresh(void) {
  int index = 0;
  pthread_mutex_lock(&map_lock);
  next_gen = first_refresh ? 0 : atomic_load(&hq__modmap_gen) + 1;
  changed = 0;
  for (int i = 0; i < n_modules; i++) modules[i].seen = 0;
  dl_iterate_phdr(visit, &index);
  for (int i = 0; i < n_modules; i++) {
    if (modules[i].alive && !modules[i].seen) {
      hq_rec_module_gone_t g;
      memset(&g, 0, sizeof g);
      g.hdr.type = HQ_REC_MODULE_GONE;
      g.hdr.len = sizeof g;
      g.gen = next_gen;
      g.base = modules[i].base;
      g.t = hq__now();
      hq__writer_put(&g, sizeof g);
      modules[i].alive = 0;
      changed = 1;
    }
  }
  /* Compact the table: dead entries are in the trace already. */
  {
    int j = 0;
    for (int i = 0; i < n_modules; i++)
      if (modules[i].alive) modules[j++] = modules[i];
    n_modules = j;
  }
  if (changed && !first_refresh) atomic_store(&hq__modmap_gen, next_gen);
  first_refresh = 0;
  pthread_mutex_unlock(&map_lock);
}

static int count_visit(struct dl_phdr_info *info, size_t size, void *arg) {
  unsigned long long *c = arg;
  (void)size;
  c[0] = info->dlpi_adds;
  c[1] = info->dlpi_subs;
  return 1; /* the counters are the same in every entry: one is enough */
}

void hq__modmap_poll(void) {
  unsigned long long c[2] = {0, 0};
  dl_iterate_phdr(count_visit, c);
  if (c[0] != atomic_load_explicit(&last_adds, memory_order_relaxed) ||
      c[1] != atomic_load_explicit(&last_subs, memory_order_relaxed)) {
    hq__modmap_refresh();
    hq__py_detect(); /* a program that loaded libpython itself */
  }
}

void hq__modmap_rewrite(void) {
  /* A fork child's new trace needs the whole map again. */
  pthread_mutex_init(&map_lock, NULL);
  n_modules = 0;
  first_refresh = 1;
  atomic_store(&hq__modmap_gen, 0);
  hq__modmap_refresh();
}

void hq__modmap_self(uintptr_t *lo, uintptr_t *hi) {
  Dl_info info;
  struct link_map *lm = NULL;
  if (!self_hi && dladdr1((void *)hq__modmap_self, &info, (void **)&lm, RTLD_DL_LINKMAP) && lm) {
    /* Our text: from the load base to the end of the last PT_LOAD of our own ELF headers. */
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)info.dli_fbase;
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)((const char *)eh + eh->e_phoff);
    uint64_t end = 0;
    for (int i = 0; i < eh->e_phnum; i++)
      if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr + ph[i].p_memsz > end)
        end = ph[i].p_vaddr + ph[i].p_memsz;
    self_lo = (uintptr_t)lm->l_addr;
    self_hi = (uintptr_t)lm->l_addr + end;
  }
  *lo = self_lo;
  *hi = self_hi;
}
