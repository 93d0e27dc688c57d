/*
 * hq_leakscan.c: memcheck's leak check, at a normal exit, on an unmodified program.
 *
 * When the program exits (after its atexit handlers and every library's destructors), every heap
 * block still live is classified with memcheck's definitions:
 *
 *   still reachable    a pointer to its start (or one of memcheck's four interior-pointer
 *                      heuristics: stdstring, length64, newarray, multipleinheritance) from a
 *                      root, or from a block that is itself reachable that way
 *   possibly lost      reached only through interior pointers (or from possibly lost blocks)
 *   indirectly lost    reachable only from definitely lost blocks
 *   definitely lost    nothing points at it, its start or inside it
 *
 * Roots, as memcheck's: the registers of every thread, each thread's stack from its stack
 * pointer up (its TLS lies above), and every other writable mapping, less the allocator's own
 * memory (the brk heap, glibc's arena heaps, and the live blocks themselves: they are the graph's
 * nodes, scanned once reached; free chunks are not memory of the program) and heapql's own (its
 * module, its rings, this check's buffers, the writer thread's stack).
 *
 * The hot path pays nothing for it: the live set is rebuilt from the trace already written
 * (hq_liveset.c).
 * Other threads are stopped the way conservative collectors stop them: a signal to each, the
 * registers captured in its handler, which then waits until the check is done (no ptrace).  A
 * thread that blocks the signal or does not answer within 200 ms has its whole stack mapping
 * scanned instead, and the trace says how many did not answer.  The check allocates nothing
 * (raw mmap), takes no lock another thread may hold for long, and reads the roots through
 * process_vm_readv, so a page that cannot be read is skipped rather than fatal.
 *
 * The classes go into the trace (HQ_REC_LEAK_CLASSES, HQ_REC_LEAK_SCAN) and from there into
 * allocations.leak_class.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <link.h>
#include <malloc.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "hq_guard.h"
#include "preload_int.h"
#include "hq_leakscan.h"

#define STOP_SIGNAL      SIGPWR          /* as conservative collectors use on Linux */
#define STOP_WAIT_NS     (200ull * 1000 * 1000)
#define MAX_THREADS      4096
#define MAX_MAPPINGS     65536
#define NO_BLOCK         0xffffffffu

enum { UNREACHED = 0, INDIRECT, POSSIBLE, REACHABLE };
#define PENDING 0x80                     /* in the mark stack */
#define STATE(i) (sc.state[i] & 0x7f)

scan_t hq__scan;
#define sc hq__scan /* this file's short name for it */

void *hq__scan_alloc(size_t bytes) {
  long p = syscall(SYS_mmap, NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p < 0 && p > -4096) return NULL;
  if (sc.n_own < (int)HQ_ARRAY_LEN(sc.own)) {
    sc.own[sc.n_own].lo = (uintptr_t)p;
    sc.own[sc.n_own++].hi = (uintptr_t)p + bytes;
  }
  sc.own_bytes += bytes;
  if (sc.own_bytes > sc.own_peak) sc.own_peak = sc.own_bytes;
  return (void *)p;
}

void hq__scan_free(void *p, size_t bytes) {
  if (!p) return;
  syscall(SYS_munmap, p, bytes);
  sc.own_bytes -= bytes;
  for (int i = 0; i < sc.n_own; i++)
    if (sc.own[i].lo == (uintptr_t)p) sc.own[i] = sc.own[--sc.n_own];
}

/* The block whose [start, start + max(size, 1)) holds v, or NO_BLOCK. */
static inline uint32_t find_block(uint64_t v) {
  size_t lo = 0, hi = sc.n;
  if (v < sc.lo || v >= sc.hi) return NO_BLOCK;
  while (lo < hi) { /* the last block starting at or below v */
    size_t mid = (lo + hi) / 2;
    if (sc.blk[mid].addr <= v) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return NO_BLOCK;
  lo--;
  return v < sc.blk[lo].addr + (sc.blk[lo].size ? sc.blk[lo].size : 1) ? (uint32_t)lo : NO_BLOCK;
}

/* ---- memcheck's interior-pointer heuristics ---- */

/* Mappings, for the vtable test: [lo, hi) with their permissions and whether file-backed. */
typedef struct mapping_s { uintptr_t lo, hi; char r, w, x, file, special; } mapping_t;
static mapping_t *maps;
static size_t n_maps;

static const mapping_t *mapping_of(uintptr_t a) {
  size_t lo = 0, hi = n_maps;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (maps[mid].hi <= a) lo = mid + 1;
    else hi = mid;
  }
  return lo < n_maps && maps[lo].lo <= a ? &maps[lo] : NULL;
}

/* A table of at least two function pointers (NULLs allowed) in a readable file mapping. */
static int is_vtable(uintptr_t p) {
  const mapping_t *m = mapping_of(p);
  int fns = 0;
  if (!m || !m->file || !m->r || (p & 7)) return 0;
  for (uintptr_t s = p; s + 8 <= m->hi && s < p + 20 * 8; s += 8) {
    uintptr_t fn = *(const uintptr_t *)s;
    const mapping_t *t;
    if (!fn) continue;
    t = mapping_of(fn);
    if (!t || !t->file || !t->x) return 0;
    if (++fns == 2) return 1;
  }
  return 0;
}

/* Which heuristic makes interior pointer v to block i a start pointer, or NONE. */
static int heuristic(uint64_t v, uint32_t i) {
  const uint64_t start = sc.blk[i].addr, size = sc.blk[i].size;
  if (v == start + 24 && size >= 24) { /* std::string: length capacity refcount chars \0 */
    uint64_t len = ((const uint64_t *)start)[0], capacity = ((const uint64_t *)start)[1];
    if (24 + capacity + 1 == size && len <= capacity) return HQ_LEAK_VIA_STDSTRING;
  }
  if (v == start + 8 && size >= 8) {
    uint64_t first = *(const uint64_t *)start;
    if (first > 0 && size - 8 == first) return HQ_LEAK_VIA_LENGTH64;
    if (first > 0 && (size - 8) % first == 0) return HQ_LEAK_VIA_NEWARRAY;
  }
  if (!(v & 7) && v + 8 <= start + size && size >= 8) { /* multiple inheritance */
    uintptr_t inner = *(const uintptr_t *)v, first = *(const uintptr_t *)start;
    if (!(inner & 7) && inner >= 4096 && !(first & 7) && first >= 4096 && is_vtable(inner) &&
        is_vtable(first))
      return HQ_LEAK_VIA_MULTIPLE_INHERITANCE;
  }
  return HQ_LEAK_VIA_NONE;
}

/* ---- marking ---- */

static inline void push(uint32_t i) {
  if (sc.state[i] & PENDING) return;
  sc.state[i] |= PENDING;
  sc.stack[sc.top++] = i;
}

/* memcheck's lc_push_without_clique_if_a_chunk_ptr */
static inline void reach(uint64_t v, int prior_definite) {
  uint32_t i = find_block(v);
  int via_start, state;
  if (i == NO_BLOCK) return;
  state = STATE(i);
  if (state == REACHABLE) {
    if (v == sc.blk[i].addr) sc.via[i] = HQ_LEAK_VIA_NONE;
    return;
  }
  via_start = v == sc.blk[i].addr;
  /* The allocator's own pointer to the chunk after this block (its free lists, its top chunk)
   * points at that chunk's header, which overlaps the block's last 8 usable bytes: it is not a
   * reference to this block.  memcheck never sees it: its malloc replaces the program's. */
  if (!via_start && v == sc.blk[i].addr + malloc_usable_size((void *)sc.blk[i].addr) - 8) return;
  if (!via_start) {
    int h = heuristic(v, i);
    if (h != HQ_LEAK_VIA_NONE) {
      via_start = 1;
      if (prior_definite) sc.via[i] = (uint8_t)h;
    }
  }
  if (via_start && prior_definite) {
    sc.state[i] = (uint8_t)((sc.state[i] & PENDING) | REACHABLE);
    push(i);
  } else if (state == UNREACHED) {
    sc.state[i] = (uint8_t)((sc.state[i] & PENDING) | POSSIBLE);
    push(i);
  }
}

/* memcheck's lc_push_with_clique_if_a_chunk_ptr (start and interior pointers alike) */
static inline void reach_from_lost(uint64_t v, uint32_t leader) {
  uint32_t i = find_block(v);
  if (i == NO_BLOCK || i == leader || STATE(i) != UNREACHED) return;
  sc.state[i] = (uint8_t)((sc.state[i] & PENDING) | INDIRECT);
  push(i);
}

static void scan_words(const uint64_t *w, size_t n, int prior_definite, uint32_t leader) {
  sc.scanned_bytes += n * 8;
  for (size_t k = 0; k < n; k++) {
    uint64_t v = w[k];
    if (v < sc.lo || v >= sc.hi) continue;
    if (leader == NO_BLOCK) reach(v, prior_definite);
    else reach_from_lost(v, leader);
  }
}

static void process(uint32_t leader) {
  while (sc.top > 0) {
    uint32_t i = sc.stack[--sc.top];
    int prior_definite;
    sc.state[i] &= (uint8_t)~PENDING;
    prior_definite = STATE(i) != POSSIBLE;
    /* a live block is the program's own memory: readable, 16-byte aligned */
    scan_words((const uint64_t *)sc.blk[i].addr, sc.blk[i].size / 8, prior_definite, leader);
  }
}

/* A root: [lo, hi) read with process_vm_readv, a chunk at a time, unreadable pages skipped. */
static void scan_root(uintptr_t lo, uintptr_t hi, uint64_t *buf, size_t buf_bytes) {
  lo = (lo + 7) & ~(uintptr_t)7;
  hi &= ~(uintptr_t)7;
  while (lo < hi) {
    size_t want = hi - lo < buf_bytes ? hi - lo : buf_bytes;
    struct iovec local = {buf, want}, remote = {(void *)lo, want};
    ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (got <= 0) { /* an unreadable page: skip it */
      lo = (lo + 4096) & ~(uintptr_t)4095;
      continue;
    }
    sc.root_bytes += (uint64_t)got;
    scan_words(buf, (size_t)got / 8, 1, NO_BLOCK);
    lo += (uintptr_t)got & ~(uintptr_t)7;
    if ((size_t)got < 8) lo += 8;
  }
}

/* ---- stopping the other threads ---- */

typedef struct thread_regs_s {
  _Atomic uint32_t tid;
  _Atomic uint32_t answered;
  int blocks_signal;                     /* not asked: it blocks STOP_SIGNAL */
  uint64_t sp;
  uint64_t regs[NGREG];
} thread_regs_t;

static thread_regs_t *threads;         /* own memory, MAX_THREADS entries */
static _Atomic uint32_t n_threads;
static _Atomic uint32_t release_word;
static _Atomic uint32_t writer_tid_seen;

static void on_stop(int sig, siginfo_t *info, void *uctx) {
  ucontext_t *uc = uctx;
  uint32_t self = (uint32_t)syscall(SYS_gettid), n = atomic_load(&n_threads);
  int saved = errno;
  (void)sig;
  (void)info;
  for (uint32_t k = 0; k < n; k++) {
    if (atomic_load(&threads[k].tid) != self) continue;
    memcpy(threads[k].regs, uc->uc_mcontext.gregs, sizeof threads[k].regs);
    threads[k].sp = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
    atomic_store_explicit(&threads[k].answered, 1, memory_order_release);
    while (atomic_load_explicit(&release_word, memory_order_acquire) == 0)
      syscall(SYS_futex, &release_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    break;
  }
  errno = saved;
}

/* Signal every thread but this one and the writer; returns how many were asked. */
/* Does thread tid block STOP_SIGNAL (its SigBlk in /proc/self/task/TID/status)? */
static int blocks_stop_signal(uint32_t tid) {
  char path[64], text[2048];
  const char *p;
  uint64_t mask = 0;
  ssize_t n;
  int fd;
  snprintf(path, sizeof path, "/proc/self/task/%u/status", tid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  n = read(fd, text, sizeof text - 1);
  hq__real.close(fd);
  if (n <= 0) return 0;
  text[n] = '\0';
  p = strstr(text, "\nSigBlk:");
  if (!p) return 0;
  for (p += 8; *p == ' ' || *p == '\t'; p++) {}
  for (; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); p++)
    mask = mask << 4 | (uint64_t)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
  return (mask >> (STOP_SIGNAL - 1)) & 1;
}

static uint32_t stop_threads(uint32_t self, uint32_t writer) {
  char buf[4096];
  int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  uint32_t asked = 0;
  long n;
  if (fd < 0) return 0;
  while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
    for (long off = 0; off < n;) {
      struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *d =
        (void *)(buf + off);
      uint32_t tid = 0;
      off += d->reclen;
      for (const char *c = d->name; *c >= '0' && *c <= '9'; c++) tid = tid * 10 + (uint32_t)(*c - '0');
      if (!tid || tid == self || tid == writer || asked >= MAX_THREADS) continue;
      atomic_store(&threads[asked].tid, tid);
      atomic_store(&threads[asked].answered, 0);
      threads[asked].blocks_signal = blocks_stop_signal(tid);
      atomic_store(&n_threads, asked + 1);
      /* one that blocks the signal is not waited for: its whole stack is scanned */
      if (threads[asked].blocks_signal ||
          syscall(SYS_tgkill, (long)getpid(), (long)tid, STOP_SIGNAL) == 0)
        asked++;
    }
  }
  hq__real.close(fd);
  return asked;
}

static uint32_t wait_for_threads(uint32_t asked) {
  struct timespec t0, now;
  uint32_t answered = 0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    uint32_t waiting = 0;
    answered = 0;
    for (uint32_t k = 0; k < asked; k++) {
      answered += atomic_load(&threads[k].answered);
      waiting += !threads[k].blocks_signal && !atomic_load(&threads[k].answered);
    }
    if (!waiting) return answered;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((uint64_t)(now.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)(now.tv_nsec - t0.tv_nsec) > STOP_WAIT_NS)
      return answered;
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
}

/* ---- the mappings ---- */

static size_t read_maps(char *buf, size_t cap) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  size_t len = 0;
  ssize_t n;
  if (fd < 0) return 0;
  while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0) len += (size_t)n;
  hq__real.close(fd);
  buf[len] = '\0';
  return len;
}

static uintptr_t hexval(const char **p) {
  uintptr_t v = 0;
  for (;; (*p)++) {
    char c = **p;
    if (c >= '0' && c <= '9') v = v * 16 + (uintptr_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + (uintptr_t)(c - 'a' + 10);
    else return v;
  }
}

static int parse_maps(const char *text) {
  n_maps = 0;
  for (const char *p = text; *p && n_maps < MAX_MAPPINGS;) {
    mapping_t m;
    const char *eol = strchr(p, '\n'), *name;
    memset(&m, 0, sizeof m);
    m.lo = hexval(&p);
    p++;
    m.hi = hexval(&p);
    p++;
    m.r = p[0] == 'r';
    m.w = p[1] == 'w';
    m.x = p[2] == 'x';
    name = p;
    for (int field = 0; field < 4 && name && *name && name < (eol ? eol : name + 1); field++) {
      name = strchr(name, ' ');
      if (name) while (*name == ' ') name++;
    }
    if (name && eol && name < eol && *name == '/') {
      m.file = 1;
      m.special = !strncmp(name, "/dev/", 5);
    } else if (name && eol && name < eol && *name == '[') {
      /* [heap] is the allocator's; [stack] the main thread's; [vvar], [vdso]... not ours to read */
      m.special = strncmp(name, "[stack]", 7) != 0 ? (strncmp(name, "[heap]", 6) ? 2 : 3) : 0;
    }
    maps[n_maps++] = m;
    if (!eol) break;
    p = eol + 1;
  }
  return 0;
}

/* ---- what of a mapping is a root ----
 *
 * The kernel merges neighbouring anonymous mappings of the same permissions: one line of
 * /proc/self/maps may hold the program's memory beside heapql's (its rings, this check's
 * buffers) or beside the allocator's.  So a mapping is scanned less exactly those parts, never
 * skipped whole for them. */

typedef struct range_s { uintptr_t lo, hi; } range_t;
static range_t *excl;                    /* heapql's memory, sorted by lo */
static size_t n_excl, excl_cap;

static void excl_add(uintptr_t lo, uintptr_t hi) {
  if (lo < hi && n_excl < excl_cap) excl[n_excl++] = (range_t){lo & ~(uintptr_t)4095, (hi + 4095) & ~(uintptr_t)4095};
}

/* heapql's memory: its module, its rings, this check's own.  0, or -1 without memory. */
static int exclusions(uintptr_t self_lo, uintptr_t self_hi) {
  size_t rings = 0;
  for (hq_ring_t *r = hq__ring_list(); r; r = r->next) rings++;
  excl_cap = 2 * rings + HQ_ARRAY_LEN(sc.own) + 8;
  excl = hq__scan_alloc(excl_cap * sizeof *excl);
  if (!excl) return -1;
  n_excl = 0;
  excl_add(self_lo, self_hi);
  for (hq_ring_t *r = hq__ring_list(); r; r = r->next) {
    excl_add((uintptr_t)r, (uintptr_t)r + sizeof *r);
    if (r->sh) excl_add((uintptr_t)r->sh, (uintptr_t)r->data + r->cap);
  }
  for (int i = 0; i < sc.n_own; i++) excl_add(sc.own[i].lo, sc.own[i].hi);
  for (size_t i = 1; i < n_excl; i++) { /* insertion sort: few entries, nothing may allocate */
    range_t x = excl[i];
    size_t j = i;
    for (; j > 0 && excl[j - 1].lo > x.lo; j--) excl[j] = excl[j - 1];
    excl[j] = x;
  }
  return 0;
}

/* The first live block ending after a. */
static size_t first_block_after(uintptr_t a) {
  size_t lo = 0, hi = sc.n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (sc.blk[mid].addr + (sc.blk[mid].size ? sc.blk[mid].size : 1) <= a) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* glibc's heap of a thread arena at base (64 MiB aligned): the bytes of it in use, or 0 when
 * base does not hold one.  Its header: arena pointer, previous heap, size, mprotect'ed size. */
#define ARENA_HEAP_MAX (64ul << 20)
static size_t arena_heap_at(uintptr_t base) {
  uint64_t h[4];
  struct iovec local = {h, sizeof h}, remote = {(void *)base, sizeof h};
  if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)sizeof h) return 0;
  if (!h[0] || (h[0] & 7) || (h[1] & (ARENA_HEAP_MAX - 1)) || !h[2] || (h[2] & 4095) ||
      h[2] > ARENA_HEAP_MAX || (h[3] & 4095) || h[3] > ARENA_HEAP_MAX || h[3] < h[2])
    return 0;
  return (size_t)h[3];
}

/* Scan [lo, hi) of an anonymous mapping but for the live blocks in it (nodes, scanned when
 * reached) and glibc's arena heaps (their free chunks hold stale pointers). */
static void scan_around_blocks(uintptr_t lo, uintptr_t hi, uint64_t *buf, size_t buf_bytes) {
  size_t i = first_block_after(lo);
  if (i == sc.n || sc.blk[i].addr >= hi) { /* no block here */
    scan_root(lo, hi, buf, buf_bytes);
    return;
  }
  for (uintptr_t base = (lo + ARENA_HEAP_MAX - 1) & ~(ARENA_HEAP_MAX - 1); base && base < hi;
       base += ARENA_HEAP_MAX) {
    size_t used = arena_heap_at(base);
    if (!used) continue;
    if (lo < base) scan_around_blocks(lo, base, buf, buf_bytes);
    lo = base + used;
    if (lo >= hi) return;
    i = first_block_after(lo);
  }
  while (lo < hi) {
    uintptr_t end = i < sc.n && sc.blk[i].addr < hi ? (uintptr_t)sc.blk[i].addr : hi;
    if (end > lo) scan_root(lo, end, buf, buf_bytes);
    if (end >= hi) return;
    lo = (uintptr_t)(sc.blk[i].addr + (sc.blk[i].size ? sc.blk[i].size : 1));
    i++;
  }
}

/* Scan [lo, hi) of a mapping but for heapql's memory in it. */
static void scan_mapping(uintptr_t lo, uintptr_t hi, int anonymous, uint64_t *buf, size_t buf_bytes) {
  for (size_t k = 0; k < n_excl && lo < hi; k++) {
    if (excl[k].hi <= lo) continue;
    if (excl[k].lo >= hi) break;
    if (excl[k].lo > lo) {
      if (anonymous) scan_around_blocks(lo, excl[k].lo, buf, buf_bytes);
      else scan_root(lo, excl[k].lo, buf, buf_bytes);
    }
    lo = excl[k].hi;
  }
  if (lo >= hi) return;
  if (anonymous) scan_around_blocks(lo, hi, buf, buf_bytes);
  else scan_root(lo, hi, buf, buf_bytes);
}

/* ---- the check ---- */

static void write_classes(void) {
  enum { BATCH = 4096 };
  size_t bytes = sizeof(hq_rec_leak_classes_t) + BATCH * sizeof(hq_leak_entry_t);
  unsigned char *rec = hq__scan_alloc(bytes);
  if (!rec) return;
  for (size_t i = 0; i < sc.n;) {
    hq_rec_leak_classes_t *h = (hq_rec_leak_classes_t *)rec;
    hq_leak_entry_t *e = (hq_leak_entry_t *)(h + 1);
    uint32_t k = 0;
    for (; k < BATCH && i < sc.n; k++, i++) {
      static const uint8_t cls[] = {[UNREACHED] = HQ_LEAK_DEFINITELY, [INDIRECT] = HQ_LEAK_INDIRECTLY,
                                    [POSSIBLE] = HQ_LEAK_POSSIBLY, [REACHABLE] = HQ_LEAK_REACHABLE};
      memset(&e[k], 0, sizeof e[k]);
      e[k].ptr = sc.blk[i].addr;
      e[k].leak_class = cls[STATE(i)];
      e[k].via = STATE(i) == REACHABLE ? sc.via[i] : HQ_LEAK_VIA_NONE;
    }
    memset(h, 0, sizeof *h);
    h->hdr.type = HQ_REC_LEAK_CLASSES;
    h->hdr.len = (uint32_t)(sizeof *h + k * sizeof(hq_leak_entry_t));
    h->n = k;
    hq__writer_put_locked(rec, h->hdr.len);
  }
  hq__scan_free(rec, bytes);
}

/* This thread's callee-saved registers: the only ones that can still hold the program's values
 * here (x86-64). */
static void own_registers(uint64_t out[6]) {
  __asm__ volatile("movq %%rbx, 0(%0)\n\tmovq %%rbp, 8(%0)\n\tmovq %%r12, 16(%0)\n\t"
                   "movq %%r13, 24(%0)\n\tmovq %%r14, 32(%0)\n\tmovq %%r15, 40(%0)"
                   : : "r"(out) : "memory");
}

/* Where the exiting thread's live stack begins, and its registers there.  The frames between
 * here and the program's call to exit() (exit, its handlers' runner, heapql's own) hold only the
 * exit machinery's state and stale copies of what the program's last calls left on the stack
 * (memcheck sees no stale copies: its malloc runs off the program's stack and popped frames are
 * undefined to it).  So the scan starts at the caller of libc's exit(), or of heapql's _exit
 * wrapper, with that frame's callee-saved registers as libunwind recovers them (the values the
 * program held when it called exit).  0 when the frame is not found. */
static int program_frame(uintptr_t self_lo, uintptr_t self_hi, uintptr_t *out_sp, uint64_t regs[6]) {
  static const int saved[6] = {UNW_X86_64_RBX, UNW_X86_64_RBP, UNW_X86_64_R12, UNW_X86_64_R13,
                               UNW_X86_64_R14, UNW_X86_64_R15};
  unw_context_t uc;
  unw_cursor_t c;
  Dl_info info;
  void *exit_sym = dlsym(RTLD_NEXT, "exit");
  const ElfW(Sym) *sym = NULL;
  uintptr_t exit_lo = 0, exit_hi = 0;
  int in_machinery = 0;
  if (exit_sym && dladdr1(exit_sym, &info, (void **)&sym, RTLD_DL_SYMENT) && sym) {
    exit_lo = (uintptr_t)exit_sym;
    exit_hi = exit_lo + (sym->st_size ? sym->st_size : 1);
  }
  if (unw_getcontext(&uc) != 0 || unw_init_local(&c, &uc) != 0) return 0;
  for (int depth = 0; depth < 64 && unw_step(&c) > 0; depth++) {
    unw_word_t ip = 0, sp = 0;
    unw_get_reg(&c, UNW_REG_IP, &ip);
    unw_get_reg(&c, UNW_REG_SP, &sp);
    if ((ip >= self_lo && ip < self_hi) || (ip > exit_lo && ip <= exit_hi)) {
      in_machinery = ip > exit_lo && ip <= exit_hi ? 2 : in_machinery ? in_machinery : 1;
      continue;
    }
    /* the first frame past exit() (or past heapql's _exit wrapper, reached without exit) */
    if (in_machinery == 2 || (in_machinery == 1 && !exit_lo)) {
      for (int r = 0; r < 6; r++) {
        unw_word_t v = 0;
        unw_get_reg(&c, saved[r], &v);
        regs[r] = v;
      }
      *out_sp = sp;
      return 1;
    }
  }
  return 0;
}

/* Registers of a thread, as root words. */
static void scan_regs(const uint64_t *regs, size_t n) {
  sc.root_bytes += n * 8;
  scan_words(regs, n, 1, NO_BLOCK);
}

void hq__leak_check(uintptr_t caller_sp, uintptr_t self_lo, uintptr_t self_hi, uint32_t writer_tid,
                    uintptr_t writer_stack) {
  hq_rec_leak_scan_t summary;
  struct sigaction stop, old_stop;
  struct timespec t0, t1;
  uint32_t self = (uint32_t)syscall(SYS_gettid), asked = 0, answered = 0;
  size_t maps_cap = 4u << 20;
  char *text = NULL;
  uint64_t *buf = NULL;
  const size_t buf_bytes = 1u << 18;
  int handler_set = 0, locked = 0;
  uint64_t here[6];

  memset(&sc, 0, sizeof sc);
  memset(&summary, 0, sizeof summary);
  summary.hdr.type = HQ_REC_LEAK_SCAN;
  summary.hdr.len = sizeof summary;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  (void)writer_tid_seen;
  threads = hq__scan_alloc(MAX_THREADS * sizeof *threads);
  maps = hq__scan_alloc(MAX_MAPPINGS * sizeof *maps);
  text = hq__scan_alloc(maps_cap);
  buf = hq__scan_alloc(buf_bytes);
  if (!threads || !maps || !text || !buf) {
    summary.status = HQ_LEAK_SCAN_NO_MEMORY;
    goto out;
  }

  /* 1. Stop the other threads, so that what follows sees memory that does not move. */
  atomic_store(&release_word, 0);
  atomic_store(&n_threads, 0);
  memset(&stop, 0, sizeof stop);
  stop.sa_sigaction = on_stop;
  stop.sa_flags = SA_SIGINFO | SA_RESTART;
  sigfillset(&stop.sa_mask);
  if (hq__signal_real_sigaction(STOP_SIGNAL, &stop, &old_stop) == 0) {
    handler_set = 1;
    asked = stop_threads(self, writer_tid);
    answered = wait_for_threads(asked);
  }
  summary.threads = asked;
  summary.unanswered = asked - answered;

  /* 2. Everything recorded so far into the trace, then the live set from it.  A thread stopped
   * while holding the file lock would keep it: give up rather than wait. */
  if (!hq__writer_trylock_for(200)) {
    summary.status = HQ_LEAK_SCAN_BUSY;
    goto out;
  }
  locked = 1;
  hq__writer_drain_all_locked();
  if (hq__liveset_build(hq__opts.raw) != 0) {
    summary.status = HQ_LEAK_SCAN_NO_TRACE;
    goto out;
  }
  summary.blocks = sc.n;

  /* 3. Roots: registers, stacks from their stack pointers, writable mappings but the allocator's
   * and ours. */
  if (read_maps(text, maps_cap) == 0) {
    summary.status = HQ_LEAK_SCAN_NO_TRACE;
    goto out;
  }
  parse_maps(text);
  {
    uintptr_t program_sp = 0;
    if (program_frame(self_lo, self_hi, &program_sp, here) && program_sp > caller_sp) {
      caller_sp = program_sp;
    } else {
      own_registers(here); /* not found: this thread's registers and stack from here, to be safe */
    }
    scan_regs(here, 6);
  }
  for (uint32_t k = 0; k < asked; k++)
    if (atomic_load(&threads[k].answered)) scan_regs(threads[k].regs, NGREG);
  if (exclusions(self_lo, self_hi) != 0) {
    summary.status = HQ_LEAK_SCAN_NO_MEMORY;
    goto out;
  }
  for (size_t m = 0; m < n_maps; m++) {
    const mapping_t *mp = &maps[m];
    uintptr_t lo = mp->lo, hi = mp->hi;
    if (!mp->r || !mp->w || mp->special) continue;
    if (writer_stack && lo <= writer_stack && writer_stack < hi) continue; /* heapql's thread */
    /* a stack: from its thread's stack pointer up (what lies below is dead) */
    if (caller_sp && lo <= caller_sp && caller_sp < hi) lo = caller_sp;
    for (uint32_t k = 0; k < asked; k++)
      if (atomic_load(&threads[k].answered) && threads[k].sp >= lo && threads[k].sp < hi)
        lo = threads[k].sp > 128 ? threads[k].sp - 128 : threads[k].sp; /* the red zone */
    scan_mapping(lo, hi, !mp->file, buf, buf_bytes);
  }
  process(NO_BLOCK);

  /* 4. What nothing reached: each unreached block leads a clique of what it reaches. */
  for (size_t i = 0; i < sc.n; i++) {
    if (STATE(i) != UNREACHED) continue;
    push((uint32_t)i);
    process((uint32_t)i);
  }
  write_classes();

out:
  if (locked) {
    clock_gettime(CLOCK_MONOTONIC, &t1);
    summary.t = hq__now();
    summary.duration_ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)(t1.tv_nsec - t0.tv_nsec);
    summary.root_bytes = sc.root_bytes;
    summary.scanned_bytes = sc.scanned_bytes;
    summary.memory_kib = (uint32_t)((sc.own_peak + 1023) / 1024);
    hq__writer_put_locked(&summary, sizeof summary);
    hq__writer_unlock();
  }
  /* Let the threads go.  A thread that never answered may still get the signal later: the
   * handler stays, and finds nothing to do. */
  atomic_store_explicit(&release_word, 1, memory_order_release);
  syscall(SYS_futex, &release_word, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
  if (handler_set && answered == asked) {
    /* each thread leaves the handler once it sees release_word; then the old disposition */
    struct timespec ms = {0, 2000000};
    nanosleep(&ms, NULL);
    hq__signal_real_sigaction(STOP_SIGNAL, &old_stop, NULL);
  }
  atomic_store(&n_threads, 0);
  if (sc.blk) hq__scan_free(sc.blk, sc.region_bytes);
  if (excl) hq__scan_free(excl, excl_cap * sizeof *excl);
  excl = NULL;
  hq__scan_free(buf, buf_bytes);
  hq__scan_free(text, maps_cap);
  hq__scan_free(maps, MAX_MAPPINGS * sizeof *maps);
  /* threads stays: a late signal's handler reads it */
}
