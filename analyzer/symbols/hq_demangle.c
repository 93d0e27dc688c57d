/*
 * hq_demangle.c: readable names for mangled symbols: C++ (Itanium ABI), Rust legacy and Rust v0.
 *
 * C++: libstdc++'s __cxa_demangle, looked up with dlopen at run time, so libheapql stays a plain
 * C library with no link-time C++ dependency.  Where libstdc++.so.6 cannot be loaded, C++ names
 * stay mangled (still exact, and c++filt can read them).
 *
 * Rust: both manglings are decoded here, following the rules rustc-demangle implements, printed
 * the way Rust's own backtraces print them (its "alternate" form: no crate disambiguator hashes,
 * no legacy "::h<hash>" suffix, no type suffix on constants).  A Rust v0 construct this decoder
 * does not know (punycode identifiers, structural constants, an encoding version) makes it give
 * up, and the caller keeps the mangled name.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "symbols/symbols_int.h"

/* ---- C++ ---- */

typedef char *(*cxa_demangle_fn)(const char *mangled, char *buf, size_t *len, int *status);
static cxa_demangle_fn cxa_demangle;
static pthread_once_t cxa_once = PTHREAD_ONCE_INIT;

static void cxa_load(void) {
  /* Already in the process (a C++ host, or heapql linked into one)?  Then no dlopen is needed. */
  void *fn = dlsym(RTLD_DEFAULT, "__cxa_demangle");
  if (!fn) {
    void *lib = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
    if (lib) fn = dlsym(lib, "__cxa_demangle"); /* the library stays loaded for the process */
  }
  cxa_demangle = (cxa_demangle_fn)fn;
}

static char *demangle_cxx(const char *name) {
  int status = -1;
  char *out;
  pthread_once(&cxa_once, cxa_load);
  if (!cxa_demangle) return NULL;
  out = cxa_demangle(name, NULL, NULL, &status);
  if (status != 0) {
    free(out);
    return NULL;
  }
  return out;
}

/* ---- an output buffer that fails instead of overflowing ---- */

#define OUT_CAP 4096
typedef struct {
  char buf[OUT_CAP];
  size_t len;
  int overflow;
} out_t;

static void put_n(out_t *o, const char *s, size_t n) {
  if (o->overflow || o->len + n >= OUT_CAP) {
    o->overflow = 1;
    return;
  }
  memcpy(o->buf + o->len, s, n);
  o->len += n;
  o->buf[o->len] = '\0';
}

static void put(out_t *o, const char *s) { put_n(o, s, strlen(s)); }

static void put_u64(out_t *o, uint64_t v) {
  char tmp[24];
  int i = (int)sizeof tmp;
  tmp[--i] = '\0';
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  put(o, tmp + i);
}

static void put_utf8(out_t *o, uint32_t c) {
  char b[4];
  size_t n;
  if (c < 0x80) { b[0] = (char)c; n = 1; }
  else if (c < 0x800) { b[0] = (char)(0xC0 | c >> 6); b[1] = (char)(0x80 | (c & 0x3F)); n = 2; }
  else if (c < 0x10000) {
    b[0] = (char)(0xE0 | c >> 12); b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    b[2] = (char)(0x80 | (c & 0x3F)); n = 3;
  } else {
    b[0] = (char)(0xF0 | c >> 18); b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((c >> 6) & 0x3F)); b[3] = (char)(0x80 | (c & 0x3F)); n = 4;
  }
  put_n(o, b, n);
}

static char *out_dup(const out_t *o) {
  return o->overflow ? NULL : strdup(o->buf);
}

static int is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* ---- Rust legacy: _ZN <len><ident>... 17h<16 hex>E ---- */

/* One legacy path element, with rustc's $..$ escapes and ".." for "::" undone. */
static int legacy_element(out_t *o, const char *s, size_t n) {
  size_t i = 0;
  if (n >= 2 && s[0] == '_' && s[1] == '$') i = 1;
  while (i < n) {
    if (s[i] == '.') {
      if (i + 1 < n && s[i + 1] == '.') { put(o, "::"); i += 2; }
      else { put(o, "."); i += 1; }
    } else if (s[i] == '$') {
      size_t end = i + 1;
      static const struct { const char *esc, *text; } simple[] = {
        {"SP", "@"}, {"BP", "*"}, {"RF", "&"}, {"LT", "<"}, {"GT", ">"},
        {"LP", "("}, {"RP", ")"}, {"C", ","},
      };
      size_t k, elen;
      int done = 0;
      while (end < n && s[end] != '$') end++;
      if (end >= n) return -1;
      elen = end - i - 1;
      for (k = 0; k < sizeof simple / sizeof simple[0]; k++) {
        if (strlen(simple[k].esc) == elen && !memcmp(simple[k].esc, s + i + 1, elen)) {
          put(o, simple[k].text);
          done = 1;
          break;
        }
      }
      if (!done) {
        uint32_t c = 0;
        if (elen < 2 || elen > 7 || s[i + 1] != 'u') return -1;
        for (k = i + 2; k < end; k++) {
          if (!is_hex(s[k])) return -1;
          c = c * 16 + (uint32_t)(is_digit(s[k]) ? s[k] - '0' : s[k] - 'a' + 10);
        }
        if (c < 0x20 || (c >= 0x7F && c < 0xA0) || c > 0x10FFFF) return -1;
        put_utf8(o, c);
      }
      i = end + 1;
    } else {
      size_t j = i;
      while (j < n && s[j] != '.' && s[j] != '$') j++;
      put_n(o, s + i, j - i);
      i = j;
    }
  }
  return 0;
}

static char *demangle_rust_legacy(const char *name) {
  const char *p = name + 3, *elem[256];
  size_t len[256], n = 0, k;
  out_t o;
  while (*p != 'E') {
    size_t l = 0;
    if (!is_digit(*p) || n == 256) return NULL;
    while (is_digit(*p)) {
      l = l * 10 + (size_t)(*p++ - '0');
      if (l > 4096) return NULL;
    }
    if (strnlen(p, l) < l) return NULL;
    elem[n] = p;
    len[n++] = l;
    p += l;
  }
  /* rustc ends every legacy path with a 16-digit hash element; without it this is C++. */
  if (n < 2 || len[n - 1] != 17 || elem[n - 1][0] != 'h') return NULL;
  for (k = 1; k < 17; k++)
    if (!is_hex(elem[n - 1][k])) return NULL;
  o.len = 0;
  o.overflow = 0;
  o.buf[0] = '\0';
  for (k = 0; k + 1 < n; k++) {
    if (k) put(&o, "::");
    if (legacy_element(&o, elem[k], len[k])) return NULL;
  }
  return out_dup(&o);
}

/* ---- Rust v0: _R <path> [<instantiating-crate>] [.suffix] ---- */

typedef struct {
  const char *sym; /* after "_R" */
  size_t len, pos;
  int depth;       /* recursion guard */
  int skip;        /* > 0: parse without printing */
  uint64_t bound_lifetimes;
  int bad;
  out_t *o;
} v0_t;

#define V0_MAX_DEPTH 300

static void v0_put(v0_t *v, const char *s) { if (!v->skip) put(v->o, s); }
static void v0_put_n(v0_t *v, const char *s, size_t n) { if (!v->skip) put_n(v->o, s, n); }
static int v0_peek(v0_t *v) { return v->pos < v->len ? (unsigned char)v->sym[v->pos] : 0; }
static int v0_next(v0_t *v) {
  if (v->pos >= v->len) { v->bad = 1; return 0; }
  return (unsigned char)v->sym[v->pos++];
}
static int v0_eat(v0_t *v, int c) {
  if (v0_peek(v) == c) { v->pos++; return 1; }
  return 0;
}

/* <base-62-number> = {0-9a-zA-Z} "_": "_" is 0, otherwise the digits' value plus one. */
static uint64_t v0_int62(v0_t *v) {
  uint64_t x = 0;
  if (v0_eat(v, '_')) return 0;
  for (;;) {
    int c = v0_next(v), d;
    if (c == '_') break;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'z') d = 10 + c - 'a';
    else if (c >= 'A' && c <= 'Z') d = 36 + c - 'A';
    else { v->bad = 1; return 0; }
    if (x > (UINT64_MAX - 61) / 62) { v->bad = 1; return 0; }
    x = x * 62 + (uint64_t)d;
  }
  return x + 1;
}

/* An optional "<tag> <base-62-number>": 0 when absent, the number plus one when present. */
static uint64_t v0_opt_int62(v0_t *v, int tag) {
  if (!v0_eat(v, tag)) return 0;
  return v0_int62(v) + 1;
}

/* <undisambiguated-identifier>; punycode is not decoded (gives up). */
static int v0_ident(v0_t *v, const char **out_s, size_t *out_n) {
  size_t n = 0;
  if (v0_peek(v) == 'u') { v->bad = 1; return -1; }
  if (!is_digit((char)v0_peek(v))) { v->bad = 1; return -1; }
  if (v0_peek(v) == '0') {
    v->pos++;
  } else {
    while (is_digit((char)v0_peek(v))) {
      n = n * 10 + (size_t)(v0_next(v) - '0');
      if (n > v->len) { v->bad = 1; return -1; }
    }
  }
  v0_eat(v, '_');
  if (v->pos + n > v->len) { v->bad = 1; return -1; }
  *out_s = v->sym + v->pos;
  *out_n = n;
  v->pos += n;
  return 0;
}

static void v0_path(v0_t *v, int in_value);
static void v0_type(v0_t *v);
static void v0_const(v0_t *v);

/* Follow a backref "B<n>" (the B already eaten) and run fn there; not followed while skipping. */
static void v0_backref(v0_t *v, void (*fn)(v0_t *, int), int arg) {
  size_t at = v->pos - 1, saved;
  uint64_t target = v0_int62(v);
  if (v->bad) return;
  if (target >= at) { v->bad = 1; return; }
  if (v->skip) return;
  if (++v->depth > V0_MAX_DEPTH) { v->bad = 1; return; }
  saved = v->pos;
  v->pos = (size_t)target;
  fn(v, arg);
  v->pos = saved;
  v->depth--;
}

static void v0_lifetime(v0_t *v, uint64_t lt) {
  char tmp[32];
  v0_put(v, "'");
  if (lt == 0) { v0_put(v, "_"); return; }
  if (lt > v->bound_lifetimes) { v->bad = 1; return; }
  lt = v->bound_lifetimes - lt;
  if (lt < 26) {
    tmp[0] = (char)('a' + lt);
    tmp[1] = '\0';
    v0_put(v, tmp);
  } else {
    v0_put(v, "_");
    if (!v->skip) put_u64(v->o, lt);
  }
}

/* "for<'a, 'b> " of a binder; returns how many lifetimes it bound. */
static uint64_t v0_binder(v0_t *v) {
  uint64_t n = v0_opt_int62(v, 'G'), i;
  if (n == 0 || v->bad) return 0;
  if (n > 1000) { v->bad = 1; return 0; }
  v0_put(v, "for<");
  for (i = 0; i < n; i++) {
    if (i) v0_put(v, ", ");
    v->bound_lifetimes++;
    v0_lifetime(v, 1);
  }
  v0_put(v, "> ");
  return n;
}

static void v0_generic_arg(v0_t *v) {
  if (v0_eat(v, 'L')) v0_lifetime(v, v0_int62(v));
  else if (v0_eat(v, 'K')) v0_const(v);
  else v0_type(v);
}

/* Items until "E", separated by sep; returns their count. */
static int v0_list(v0_t *v, void (*item)(v0_t *), const char *sep) {
  int n = 0;
  while (!v->bad && !v0_eat(v, 'E')) {
    if (v->pos >= v->len) { v->bad = 1; break; }
    if (n++) v0_put(v, sep);
    item(v);
  }
  return n;
}

static void v0_path_arg(v0_t *v, int in_value) { v0_path(v, in_value); }

static void v0_path(v0_t *v, int in_value) {
  int tag;
  if (++v->depth > V0_MAX_DEPTH) { v->bad = 1; return; }
  tag = v0_next(v);
  switch (tag) {
  case 'C': { /* crate root: the name, without its disambiguator hash */
    const char *s;
    size_t n;
    v0_opt_int62(v, 's');
    if (v0_ident(v, &s, &n) == 0) v0_put_n(v, s, n);
    break;
  }
  case 'M': case 'X': case 'Y': /* <T>, <T as Trait> */
    if (tag != 'Y') { /* the impl's own path is not printed */
      v0_opt_int62(v, 's');
      v->skip++;
      v0_path(v, 0);
      v->skip--;
    }
    v0_put(v, "<");
    v0_type(v);
    if (tag != 'M') {
      v0_put(v, " as ");
      v0_path(v, 0);
    }
    v0_put(v, ">");
    break;
  case 'N': { /* nested: closures and shims in braces, other lowercase namespaces by name */
    int ns = v0_next(v);
    uint64_t dis;
    const char *s;
    size_t n;
    v0_path(v, in_value);
    dis = v0_opt_int62(v, 's');
    if (v0_ident(v, &s, &n)) break;
    if (ns >= 'A' && ns <= 'Z') {
      char tag_text[2] = {(char)ns, '\0'};
      v0_put(v, "::{");
      v0_put(v, ns == 'C' ? "closure" : ns == 'S' ? "shim" : tag_text);
      if (n) {
        v0_put(v, ":");
        v0_put_n(v, s, n);
      }
      v0_put(v, "#");
      if (!v->skip) put_u64(v->o, dis);
      v0_put(v, "}");
    } else if (ns >= 'a' && ns <= 'z') {
      if (n) {
        v0_put(v, "::");
        v0_put_n(v, s, n);
      }
    } else {
      v->bad = 1;
    }
    break;
  }
  case 'I': /* generic arguments */
    v0_path(v, in_value);
    if (in_value) v0_put(v, "::");
    v0_put(v, "<");
    v0_list(v, v0_generic_arg, ", ");
    v0_put(v, ">");
    break;
  case 'B':
    v0_backref(v, v0_path_arg, in_value);
    break;
  default:
    v->bad = 1;
  }
  v->depth--;
}

static const char *v0_basic_type(int tag) {
  switch (tag) {
  case 'a': return "i8";    case 'b': return "bool";  case 'c': return "char";
  case 'd': return "f64";   case 'e': return "str";   case 'f': return "f32";
  case 'h': return "u8";    case 'i': return "isize"; case 'j': return "usize";
  case 'l': return "i32";   case 'm': return "u32";   case 'n': return "i128";
  case 'o': return "u128";  case 's': return "i16";   case 't': return "u16";
  case 'u': return "()";    case 'v': return "...";   case 'x': return "i64";
  case 'y': return "u64";   case 'z': return "!";     case 'p': return "_";
  default: return NULL;
  }
}

static void v0_type_arg(v0_t *v, int unused) { (void)unused; v0_type(v); }

/* "Trait<Args" left open (returns 1) so associated-type bindings can join the same list. */
static int v0_path_open_generics(v0_t *v) {
  if (v0_eat(v, 'B')) {
    size_t at = v->pos - 1, saved;
    uint64_t target = v0_int62(v);
    int open = 0;
    if (v->bad) return 0;
    if (target >= at) { v->bad = 1; return 0; }
    if (v->skip) return 0;
    if (++v->depth > V0_MAX_DEPTH) { v->bad = 1; return 0; }
    saved = v->pos;
    v->pos = (size_t)target;
    open = v0_path_open_generics(v);
    v->pos = saved;
    v->depth--;
    return open;
  }
  if (v0_eat(v, 'I')) {
    v0_path(v, 0);
    v0_put(v, "<");
    v0_list(v, v0_generic_arg, ", ");
    return 1;
  }
  v0_path(v, 0);
  return 0;
}

static void v0_dyn_trait(v0_t *v) {
  int open = v0_path_open_generics(v);
  while (!v->bad && v0_eat(v, 'p')) {
    const char *s;
    size_t n;
    v0_put(v, open ? ", " : "<");
    open = 1;
    if (v0_ident(v, &s, &n)) return;
    v0_put_n(v, s, n);
    v0_put(v, " = ");
    v0_type(v);
  }
  if (open) v0_put(v, ">");
}

static void v0_fn_sig(v0_t *v) {
  int is_unsafe = v0_eat(v, 'U');
  const char *abi = NULL;
  size_t abi_n = 0, i;
  if (v0_eat(v, 'K')) {
    if (v0_eat(v, 'C')) {
      abi = "C";
      abi_n = 1;
    } else if (v0_ident(v, &abi, &abi_n) || abi_n == 0) {
      v->bad = 1;
      return;
    }
  }
  if (is_unsafe) v0_put(v, "unsafe ");
  if (abi) {
    v0_put(v, "extern \"");
    for (i = 0; i < abi_n; i++) v0_put_n(v, abi[i] == '_' ? "-" : abi + i, 1);
    v0_put(v, "\" ");
  }
  v0_put(v, "fn(");
  v0_list(v, v0_type, ", ");
  v0_put(v, ")");
  if (!v0_eat(v, 'u')) {
    v0_put(v, " -> ");
    v0_type(v);
  }
}

static void v0_type(v0_t *v) {
  int tag;
  const char *basic;
  if (++v->depth > V0_MAX_DEPTH) { v->bad = 1; return; }
  tag = v0_next(v);
  basic = v0_basic_type(tag);
  if (basic) {
    v0_put(v, basic);
  } else {
    switch (tag) {
    case 'R': case 'Q':
      v0_put(v, "&");
      if (v0_eat(v, 'L')) {
        uint64_t lt = v0_int62(v);
        if (lt) {
          v0_lifetime(v, lt);
          v0_put(v, " ");
        }
      }
      if (tag == 'Q') v0_put(v, "mut ");
      v0_type(v);
      break;
    case 'P': case 'O':
      v0_put(v, tag == 'P' ? "*const " : "*mut ");
      v0_type(v);
      break;
    case 'A': case 'S':
      v0_put(v, "[");
      v0_type(v);
      if (tag == 'A') {
        v0_put(v, "; ");
        v0_const(v);
      }
      v0_put(v, "]");
      break;
    case 'T':
      v0_put(v, "(");
      if (v0_list(v, v0_type, ", ") == 1) v0_put(v, ",");
      v0_put(v, ")");
      break;
    case 'F': {
      uint64_t bound = v0_binder(v);
      v0_fn_sig(v);
      v->bound_lifetimes -= bound;
      break;
    }
    case 'D': {
      uint64_t bound, lt;
      v0_put(v, "dyn ");
      bound = v0_binder(v);
      v0_list(v, v0_dyn_trait, " + ");
      v->bound_lifetimes -= bound;
      if (!v0_eat(v, 'L')) { v->bad = 1; break; }
      lt = v0_int62(v);
      if (lt) {
        v0_put(v, " + ");
        v0_lifetime(v, lt);
      }
      break;
    }
    case 'B':
      v0_backref(v, v0_type_arg, 0);
      break;
    default: /* a path names the type */
      v->pos--;
      v0_path(v, 0);
    }
  }
  v->depth--;
}

static void v0_const_arg(v0_t *v, int unused) { (void)unused; v0_const(v); }

/* Hex nibbles up to "_" as an integer (decimal when it fits in 64 bits). */
static void v0_const_uint(v0_t *v, uint64_t *out_value) {
  size_t start = v->pos, n;
  uint64_t x = 0;
  while (is_hex((char)v0_peek(v))) v->pos++;
  n = v->pos - start;
  if (!v0_eat(v, '_')) { v->bad = 1; return; }
  if (n > 16) {
    v0_put(v, "0x");
    v0_put_n(v, v->sym + start, n);
    if (out_value) *out_value = UINT64_MAX;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    char c = v->sym[start + i];
    x = x * 16 + (uint64_t)(is_digit(c) ? c - '0' : c - 'a' + 10);
  }
  if (out_value) *out_value = x;
  else if (!v->skip) put_u64(v->o, x);
}

static void v0_const(v0_t *v) {
  int tag;
  uint64_t x;
  if (++v->depth > V0_MAX_DEPTH) { v->bad = 1; return; }
  tag = v0_next(v);
  switch (tag) {
  case 'p':
    v0_put(v, "_");
    break;
  case 'h': case 't': case 'm': case 'y': case 'o': case 'j':
    v0_const_uint(v, NULL);
    break;
  case 'a': case 's': case 'l': case 'x': case 'n': case 'i':
    if (v0_eat(v, 'n')) v0_put(v, "-");
    v0_const_uint(v, NULL);
    break;
  case 'b':
    v0_const_uint(v, &x);
    if (x > 1) v->bad = 1;
    else v0_put(v, x ? "true" : "false");
    break;
  case 'c':
    v0_const_uint(v, &x);
    if (x >= 0x20 && x < 0x7F && x != '\'' && x != '\\') {
      char lit[4] = {'\'', (char)x, '\'', '\0'};
      v0_put(v, lit);
    } else {
      v->bad = 1; /* escapes not worth the code: keep the mangled name */
    }
    break;
  case 'B':
    v0_backref(v, v0_const_arg, 0);
    break;
  default: /* structural constants (str, refs, arrays, tuples, variants) */
    v->bad = 1;
  }
  v->depth--;
}

static char *demangle_rust_v0(const char *name) {
  out_t o;
  v0_t v;
  const char *dot;
  memset(&v, 0, sizeof v);
  o.len = 0;
  o.overflow = 0;
  o.buf[0] = '\0';
  v.sym = name + 2;
  /* ".llvm.123" and similar vendor suffixes are dropped. */
  dot = strchr(v.sym, '.');
  v.len = dot ? (size_t)(dot - v.sym) : strlen(v.sym);
  v.o = &o;
  if (is_digit((char)v0_peek(&v))) return NULL; /* an encoding version we do not know */
  v0_path(&v, 1);
  if (!v.bad && v.pos < v.len && (v0_peek(&v) >= 'A' && v0_peek(&v) <= 'Z')) {
    v.skip++; /* the instantiating crate is not printed */
    v0_path(&v, 0);
    v.skip--;
  }
  if (v.bad || v.pos != v.len || o.len == 0) return NULL;
  return out_dup(&o);
}

char *hq__demangle(const char *name) {
  if (!name) return NULL;
  if (!strncmp(name, "_R", 2)) return demangle_rust_v0(name);
  if (!strncmp(name, "_ZN", 3)) {
    char *rust = demangle_rust_legacy(name);
    if (rust) return rust;
  }
  if (!strncmp(name, "_Z", 2)) return demangle_cxx(name);
  return NULL;
}
