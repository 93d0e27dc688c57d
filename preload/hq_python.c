/*
 * hq_python.c: the Python frames of the calling thread, in a CPython interpreter, read straight
 * from the interpreter's memory.
 *
 * At each event the thread's frame chain is walked (thread state -> innermost frame -> previous
 * ...) and each frame becomes a pseudo return address (code id, bytecode offset; rawfmt.h,
 * "Python") that takes the place of the evaluation loop's native frame it runs in, so that the
 * stack reads as memray's native mode shows it: Python lines interleaved with the C frames of
 * extensions and of the interpreter.  Nothing calls into the interpreter on the hot path (no
 * reference counts, no GIL, no allocation): the thread state comes from the GIL-state TLS key
 * (PyGILState_GetThisThreadState, a pthread_getspecific), and everything else is loads at
 * offsets known per minor version (the layouts py-spy and austin read from outside, taken from
 * each version's internal headers; tests/preload/test_preload_python.c checks every CPython
 * 3.8-3.13 it finds end to end).
 *
 * A code object is described once per thread (HQ_REC_PYCODE: qualified name, file, first line
 * and a copy of its line table); the importer turns offsets into lines.  Each thread keeps a
 * small cache from code object address to code id, validated on every hit by the object's
 * name, file and line-table pointers, so a code object freed and another made at the same
 * address gets a new id.  The frame -> native frame pairing: up to 3.10 each Python frame has
 * its own _PyEval_EvalFrameDefault call; 3.11 runs several in one call, the first of them marked
 * is_entry; 3.12 and 3.13 put a C-stack-owned shim frame below each call's frames.
 */
#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hq_guard.h"
#include "preload_int.h"

#define PY_MAX_FRAMES 256
#define PY_CACHE      2048u   /* per-thread code cache, 2-way */
#define OWNED_BY_CSTACK 3     /* _PyInterpreterFrame.owner, 3.12+ */

enum { WALK_FRAMEOBJ, WALK_CFRAME, WALK_CURRENT };   /* how the thread state names its frame */
enum { LASTI_BYTES, LASTI_UNITS, INSTR_PTR };        /* how a frame says where it is */
enum { ENTRY_EACH, ENTRY_FLAG, ENTRY_SHIM };          /* which frames share one native call */

typedef struct layout_s {
  uint32_t minor;
  uint8_t walk, lasti, entry, lines;
  uint16_t ts_frame;        /* PyThreadState: frame (<=3.10), cframe (3.11, 3.12), current_frame */
  uint16_t cframe_current;  /* _PyCFrame.current_frame */
  uint16_t f_back, f_code, f_instr;
  int16_t  f_owner, f_is_entry;
  uint16_t co_filename, co_name, co_firstlineno, co_lines, co_code;
  uint16_t str_ascii, str_compact; /* sizeof PyASCIIObject, PyCompactUnicodeObject */
} layout_t;

/* Offsets for x86-64, default (GIL) release builds. */
static const layout_t layouts[] = {
  {8, WALK_FRAMEOBJ, LASTI_BYTES, ENTRY_EACH, HQ_PYLINES_LNOTAB,
   24, 0, 24, 32, 104, -1, -1, 104, 112, 40, 120, 0, 48, 72},
  {9, WALK_FRAMEOBJ, LASTI_BYTES, ENTRY_EACH, HQ_PYLINES_LNOTAB,
   24, 0, 24, 32, 104, -1, -1, 104, 112, 40, 120, 0, 48, 72},
  {10, WALK_FRAMEOBJ, LASTI_UNITS, ENTRY_EACH, HQ_PYLINES_310,
   24, 0, 24, 32, 96, -1, -1, 104, 112, 40, 120, 0, 48, 72},
  {11, WALK_CFRAME, INSTR_PTR, ENTRY_FLAG, HQ_PYLINES_LOCATIONS,
   56, 8, 48, 32, 56, 69, 68, 112, 128, 72, 136, 184, 48, 72},
  {12, WALK_CFRAME, INSTR_PTR, ENTRY_SHIM, HQ_PYLINES_LOCATIONS,
   56, 0, 8, 0, 56, 70, -1, 112, 128, 68, 136, 192, 40, 56},
  {13, WALK_CURRENT, INSTR_PTR, ENTRY_SHIM, HQ_PYLINES_LOCATIONS,
   72, 0, 8, 0, 56, 70, -1, 112, 128, 68, 136, 200, 40, 56},
};

_Atomic int hq__py_on;
static layout_t L;
static void *(*this_thread_state)(void);
static uintptr_t code_type, unicode_type, bytes_type;
static uintptr_t eval_lo, eval_hi;
static _Atomic uint32_t next_code_id = 1;
static _Atomic uint32_t epoch = 1;           /* bumped in a fork child: every cache is stale */
static int detected;                         /* the interpreter was looked for and found */
static hq_rec_python_t info;

typedef struct slot_s {
  uintptr_t code, check;
  uint32_t id, epoch;
} slot_t;

/* A frame seen at the previous events: the same frame running the same code object (and the
 * same line table) is the same code id, without the checks of code_id(). */
typedef struct memo_s {
  uintptr_t frame, code, lines;
  uint32_t id, epoch;
} memo_t;
#define PY_MEMO 256u

typedef struct py_tls_s {
  memo_t memo[PY_MEMO];
  slot_t slot[PY_CACHE];
  uint64_t rec[(sizeof(hq_rec_pycode_t) + 512 + 1024 + HQ_PYCODE_TABLE_MAX + 8) / 8];
} py_tls_t;

static __thread py_tls_t *tls_py __attribute__((tls_model("initial-exec")));
/* Set when the thread's tables were given back: it is on its way out, and reads no frames more. */
static __thread int tls_py_done __attribute__((tls_model("initial-exec")));

/* ---- reading the interpreter's memory ---- */

static inline int plausible(uintptr_t p) {
  return p >= 4096 && p < (1ull << 47) && !(p & 7);
}
static inline uintptr_t ld(uintptr_t base, unsigned off) {
  return *(const uintptr_t *)(base + off);
}
static inline int is_a(uintptr_t obj, uintptr_t type) {
  return plausible(obj) && ld(obj, 8) == type; /* ob_type */
}

/* A str object's text as UTF-8 into dst (at most cap bytes, whole characters only). */
static uint16_t utf8_of(uintptr_t s, char *dst, size_t cap) {
  uint32_t state;
  int64_t len;
  unsigned kind;
  const unsigned char *data;
  size_t n = 0;
  if (!is_a(s, unicode_type)) return 0;
  len = *(const int64_t *)(s + 16);
  state = *(const uint32_t *)(s + 32);
  kind = (state >> 2) & 7;
  if (!(state & (1u << 5)) || len < 0) return 0; /* not compact: never a code object's name */
  data = (const unsigned char *)(s + ((state & (1u << 6)) ? L.str_ascii : L.str_compact));
  for (int64_t i = 0; i < len; i++) {
    uint32_t c = kind == 1 ? data[i] : kind == 2 ? ((const uint16_t *)data)[i]
                                                 : ((const uint32_t *)data)[i];
    unsigned char b[4];
    size_t k;
    if (c < 0x80) b[0] = (unsigned char)c, k = 1;
    else if (c < 0x800) b[0] = (unsigned char)(0xc0 | c >> 6), b[1] = (unsigned char)(0x80 | (c & 63)), k = 2;
    else if (c < 0x10000) b[0] = (unsigned char)(0xe0 | c >> 12), b[1] = (unsigned char)(0x80 | ((c >> 6) & 63)),
                          b[2] = (unsigned char)(0x80 | (c & 63)), k = 3;
    else b[0] = (unsigned char)(0xf0 | c >> 18), b[1] = (unsigned char)(0x80 | ((c >> 12) & 63)),
         b[2] = (unsigned char)(0x80 | ((c >> 6) & 63)), b[3] = (unsigned char)(0x80 | (c & 63)), k = 4;
    if (n + k > cap) break;
    memcpy(dst + n, b, k);
    n += k;
  }
  return (uint16_t)n;
}

static inline uintptr_t check_of(uintptr_t code) {
  uintptr_t h = ld(code, L.co_filename) * 0x9e3779b97f4a7c15ull;
  h ^= ld(code, L.co_name) * 0xc2b2ae3d27d4eb4full;
  h ^= ld(code, L.co_lines) * 0x87c37b91114253d5ull;
  return h ^ *(const uint32_t *)(code + L.co_firstlineno);
}

/* Describe a code object once (HQ_REC_PYCODE into this thread's ring): its new id, or 0. */
static uint32_t describe(hq_ring_t *r, py_tls_t *t, uintptr_t code) {
  hq_rec_pycode_t *rec = (hq_rec_pycode_t *)t->rec;
  char *text = (char *)(rec + 1);
  uintptr_t lines = ld(code, L.co_lines);
  int64_t table_len = 0;
  size_t len;
  memset(rec, 0, sizeof *rec);
  rec->id = atomic_fetch_add_explicit(&next_code_id, 1, memory_order_relaxed);
  if (rec->id >= (1u << 30)) return 0;
  rec->format = L.lines;
  rec->first_line = *(const int32_t *)(code + L.co_firstlineno);
  rec->name_len = utf8_of(ld(code, L.co_name), text, 512);
  rec->file_len = utf8_of(ld(code, L.co_filename), text + rec->name_len, 1024);
  if (is_a(lines, bytes_type)) table_len = *(const int64_t *)(lines + 16);
  if (table_len < 0) table_len = 0;
  if (table_len > (int64_t)HQ_PYCODE_TABLE_MAX) table_len = HQ_PYCODE_TABLE_MAX;
  rec->table_len = (uint32_t)table_len;
  memcpy(text + rec->name_len + rec->file_len, (const void *)(lines + 32), (size_t)table_len);
  len = sizeof *rec + rec->name_len + rec->file_len + rec->table_len;
  memset(text + (len - sizeof *rec), 0, HQ_REC_ALIGN(len) - len);
  rec->hdr.type = HQ_REC_PYCODE;
  rec->hdr.len = (uint32_t)HQ_REC_ALIGN(len);
  return hq__ring_push(r, rec, rec->hdr.len) == 0 ? rec->id : 0;
}

static uint32_t code_id(hq_ring_t *r, py_tls_t *t, uintptr_t code) {
  uint32_t ep = atomic_load_explicit(&epoch, memory_order_relaxed);
  uintptr_t check = check_of(code);
  size_t i = (size_t)(((code >> 4) * 0x9e3779b97f4a7c15ull) >> 53) & (PY_CACHE - 2);
  slot_t *a = &t->slot[i], *b = &t->slot[i + 1];
  uint32_t id;
  if (hq_likely(a->code == code && a->check == check && a->epoch == ep)) return a->id;
  if (b->code == code && b->check == check && b->epoch == ep) return b->id;
  if (!(id = describe(r, t, code))) return 0;
  *b = *a; /* the newer entry first */
  a->code = code;
  a->check = check;
  a->id = id;
  a->epoch = ep;
  return id;
}

static py_tls_t *thread_tables(void) {
  void *p;
  if (hq_likely(tls_py != NULL)) return tls_py;
  if (tls_py_done) return NULL;
  p = hq__real.mmap(NULL, sizeof(py_tls_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                    -1, 0);
  if (p == MAP_FAILED) return NULL;
  tls_py = p;
  return p;
}

/* The thread's Python frames, innermost first, into pf; ends[i] = 1 when frame i is the last
 * (outermost) one run by its native evaluation-loop call. */
static int python_frames(hq_ring_t *r, uint64_t *pf, unsigned char *ends, int max) {
  uintptr_t ts = (uintptr_t)this_thread_state(), f;
  uint32_t ep = atomic_load_explicit(&epoch, memory_order_relaxed);
  py_tls_t *t;
  memo_t *m;
  int n = 0;
  if (!plausible(ts) || !(t = thread_tables())) return 0;
  f = ld(ts, L.ts_frame);
  if (L.walk == WALK_CFRAME) f = plausible(f) ? ld(f, L.cframe_current) : 0;
  for (int hops = 0; plausible(f) && n < max && hops < 4 * PY_MAX_FRAMES; hops++) {
    uintptr_t code, next = ld(f, L.f_back);
    int64_t off;
    uint32_t id;
    if (L.entry == ENTRY_SHIM && *(const char *)(f + L.f_owner) == OWNED_BY_CSTACK) {
      if (n) ends[n - 1] = 1;
      f = next;
      continue;
    }
    code = ld(f, L.f_code);
    m = &t->memo[(f >> 4) & (PY_MEMO - 1)];
    if (hq_likely(m->frame == f && m->code == code && m->epoch == ep && plausible(code) &&
                  m->lines == ld(code, L.co_lines))) {
      id = m->id;
    } else {
      if (!is_a(code, code_type)) { /* 3.13: an executable that is not code */
        f = next;
        continue;
      }
      /* Code without a first line is the interpreter's own trampoline (3.13's __init__ cleanup
       * frame), no line of the program's: id 0, left out. */
      if (*(const int32_t *)(code + L.co_firstlineno) <= 0) id = 0;
      else if (!(id = code_id(r, t, code))) break;
      m->frame = f;
      m->code = code;
      m->lines = ld(code, L.co_lines);
      m->id = id;
      m->epoch = ep;
    }
    if (!id) {
      f = next;
      continue;
    }
    if (L.lasti == INSTR_PTR) {
      off = (int64_t)(ld(f, L.f_instr) - (code + L.co_code));
    } else {
      off = *(const int32_t *)(f + L.f_instr);
      if (L.lasti == LASTI_UNITS) off *= 2;
    }
    if (off < 0 || off >= (int64_t)HQ_PYFRAME_NOT_STARTED) off = HQ_PYFRAME_NOT_STARTED;
    pf[n] = HQ_PYFRAME_TAG | (uint64_t)id << 32 | (uint64_t)(uint32_t)off;
    ends[n] = L.entry == ENTRY_EACH || (L.entry == ENTRY_FLAG && *(const char *)(f + L.f_is_entry));
    n++;
    f = next;
  }
  return n;
}

int hq__py_merge(hq_ring_t *r, uint64_t *ips, int depth, int max) {
  uint64_t pf[PY_MAX_FRAMES], out[HQ_MAX_DEPTH_LIMIT];
  unsigned char ends[PY_MAX_FRAMES];
  int np = python_frames(r, pf, ends, max < PY_MAX_FRAMES ? max : PY_MAX_FRAMES), p = 0, o = 0;
  if (np == 0) return depth;
  for (int i = 0; i < depth && o < max; i++) {
    uint64_t ip = ips[i];
    if (p < np && ip > eval_lo && ip <= eval_hi) {
      /* A return address inside the evaluation loop: that call's Python frames instead. */
      do out[o++] = pf[p]; while (!ends[p++] && p < np && o < max);
      continue;
    }
    out[o++] = ip;
  }
  /* Frames whose native calls lie past the captured depth (or could not be unwound). */
  while (p < np && o < max) out[o++] = pf[p++];
  memcpy(ips, out, (size_t)o * sizeof *ips);
  return o;
}

/* ---- finding the interpreter ---- */

/* dlsym that leaves nothing behind: a failed lookup allocates the error message, which the
 * program's next dl* call would free (a free of a block it never saw allocated); two dlerror()
 * calls here free it while the guard is set. */
static void *lookup(const char *name) {
  void *p = dlsym(RTLD_DEFAULT, name);
  if (!p) {
    dlerror();
    dlerror();
  }
  return p;
}

static int allocator_from_env(void) {
  const char *v = getenv("PYTHONMALLOC");
  if (!v || !*v) return HQ_PYALLOC_PYMALLOC;
  if (strstr(v, "debug")) return HQ_PYALLOC_DEBUG;
  return strcmp(v, "malloc") == 0 ? HQ_PYALLOC_MALLOC : HQ_PYALLOC_PYMALLOC;
}

static uint32_t version_hex(void) {
  const unsigned long *hex = lookup("Py_Version"); /* 3.11+ */
  const char *(*get)(void);
  const char *s;
  unsigned major = 0, minor = 0;
  if (hex) return (uint32_t)*hex;
  *(void **)&get = lookup("Py_GetVersion");
  if (!get || !(s = get())) return 0;
  while (*s >= '0' && *s <= '9') major = major * 10 + (unsigned)(*s++ - '0');
  if (*s++ != '.') return 0;
  while (*s >= '0' && *s <= '9') minor = minor * 10 + (unsigned)(*s++ - '0');
  return major << 24 | minor << 16;
}

void hq__py_detect(void) {
  void *eval, *ts_fn;
  Dl_info di;
  const ElfW(Sym) *sym = NULL;
  uint32_t version;
  if (detected) return;
  hq__guard++;
  ts_fn = lookup("PyGILState_GetThisThreadState");
  hq__guard--;
  if (!ts_fn) return;
  hq__guard++;
  detected = 1;
  version = version_hex();
  memset(&info, 0, sizeof info);
  info.hdr.type = HQ_REC_PYTHON;
  info.hdr.len = sizeof info;
  info.version = version;
  info.allocator = (uint16_t)allocator_from_env();
  eval = lookup("_PyEval_EvalFrameDefault");
  code_type = (uintptr_t)lookup("PyCode_Type");
  unicode_type = (uintptr_t)lookup("PyUnicode_Type");
  bytes_type = (uintptr_t)lookup("PyBytes_Type");
  if (eval && dladdr1(eval, &di, (void **)&sym, RTLD_DL_SYMENT) && sym && sym->st_size) {
    eval_lo = (uintptr_t)eval;
    eval_hi = eval_lo + sym->st_size;
  }
  for (size_t i = 0; i < sizeof layouts / sizeof *layouts; i++)
    if ((version >> 24) == 3 && ((version >> 16) & 0xff) == layouts[i].minor) L = layouts[i];
  if (L.minor && code_type && unicode_type && bytes_type && eval_hi && hq__opts.python_frames) {
    *(void **)&this_thread_state = ts_fn;
    info.frames = 1;
    info.eval_lo = eval_lo;
    info.eval_hi = eval_hi;
  }
  hq__writer_put(&info, sizeof info);
  atomic_store_explicit(&hq__py_on, info.frames, memory_order_release);
  hq__guard--;
}

void hq__py_after_fork_child(void) {
  atomic_fetch_add(&epoch, 1);
  if (detected) hq__writer_put(&info, sizeof info);
}

void hq__py_thread_exit(void) {
  py_tls_t *t = tls_py;
  tls_py = NULL;
  tls_py_done = 1;
  if (t) hq__real.munmap(t, sizeof *t);
}
