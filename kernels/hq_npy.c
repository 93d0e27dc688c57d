/*
 * hq_npy.c: numpy .npy files, memory-mapped with numpy.memmap's modes.
 *
 * Reading accepts format versions 1.0, 2.0 and 3.0 and parses the header dict tolerantly
 * (any key order, whitespace, trailing comma, "()" / "(n,)" shapes, Python 2 "L" suffixes).
 * Writing produces exactly what numpy.save writes for the same array (version 1.0 unless the
 * header needs 2.0, sorted keys, the spare space numpy leaves for growing the first axis,
 * padding so the data starts at a multiple of 64), so files are byte-identical to numpy's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels_int.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64
#define NPY_GROWTH_AXIS_MAX_DIGITS 21   /* numpy leaves room for this many digits */
#define NPY_MAX_HEADER ((size_t)16 << 20) /* refuse absurd header lengths */

typedef enum { MODE_R, MODE_RPLUS, MODE_WPLUS, MODE_C } npy_mode_t;

struct hq_npy_s {
  int fd;
  npy_mode_t mode;
  char *map;
  size_t map_len;
  hq_npy_info_t info;
};

static const struct {
  const char *code; /* kind + size, without the byte-order character */
  size_t size;
} dtypes[HQ_NPY_DTYPES] = {
  [HQ_NPY_F2] = {"f2", 2}, [HQ_NPY_F4] = {"f4", 4}, [HQ_NPY_F8] = {"f8", 8},
  [HQ_NPY_I1] = {"i1", 1}, [HQ_NPY_I2] = {"i2", 2}, [HQ_NPY_I4] = {"i4", 4},
  [HQ_NPY_I8] = {"i8", 8}, [HQ_NPY_U1] = {"u1", 1}, [HQ_NPY_U2] = {"u2", 2},
  [HQ_NPY_U4] = {"u4", 4}, [HQ_NPY_U8] = {"u8", 8}, [HQ_NPY_B1] = {"b1", 1},
};

static const char *const descrs[HQ_NPY_DTYPES] = {
  [HQ_NPY_F2] = "<f2", [HQ_NPY_F4] = "<f4", [HQ_NPY_F8] = "<f8", [HQ_NPY_I1] = "|i1",
  [HQ_NPY_I2] = "<i2", [HQ_NPY_I4] = "<i4", [HQ_NPY_I8] = "<i8", [HQ_NPY_U1] = "|u1",
  [HQ_NPY_U2] = "<u2", [HQ_NPY_U4] = "<u4", [HQ_NPY_U8] = "<u8", [HQ_NPY_B1] = "|b1",
};

size_t hq_npy_dtype_size(hq_npy_dtype_t dtype) {
  return (unsigned)dtype < HQ_NPY_DTYPES ? dtypes[dtype].size : 0;
}

const char *hq_npy_dtype_descr(hq_npy_dtype_t dtype) {
  return (unsigned)dtype < HQ_NPY_DTYPES ? descrs[dtype] : "";
}

/* ---- header parsing ---------------------------------------------------------------------- */

typedef struct parser_s {
  const char *p, *end;
  const char *path;
} parser_t;

static int perr(const parser_t *ps, const char *what) {
  return hq__kerr(HQ_EFORMAT, "npy: %s: malformed header: %s", ps->path, what);
}

static void skip_ws(parser_t *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
    ps->p++;
}

/* A quoted Python string literal (no escapes needed for our keys) into buf. */
static int parse_string(parser_t *ps, char *buf, size_t cap) {
  char q;
  size_t n = 0;
  if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"')) return perr(ps, "expected a string");
  q = *ps->p++;
  while (ps->p < ps->end && *ps->p != q) {
    if (*ps->p == '\\' || n + 1 >= cap) return perr(ps, "unexpected string");
    buf[n++] = *ps->p++;
  }
  if (ps->p >= ps->end) return perr(ps, "unterminated string");
  ps->p++;
  buf[n] = '\0';
  return HQ_OK;
}

static int parse_descr(parser_t *ps, hq_npy_dtype_t *out) {
  char d[64], order;
  const char *code;
  int rc;
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == '[')
    return hq__kerr(HQ_ENOTSUP, "npy: %s: structured dtypes are not supported", ps->path);
  if ((rc = parse_string(ps, d, sizeof d)) != HQ_OK) return rc;
  order = d[0];
  code = (order == '<' || order == '>' || order == '|' || order == '=') ? d + 1 : d;
  if (!strcmp(code, "O"))
    return hq__kerr(HQ_ENOTSUP, "npy: %s: object arrays ('%s') hold pickled Python objects and "
                    "cannot be memory-mapped", ps->path, d);
  for (int t = 0; t < HQ_NPY_DTYPES; t++) {
    if (strcmp(code, dtypes[t].code)) continue;
    if (order == '>' && dtypes[t].size > 1)
      return hq__kerr(HQ_ENOTSUP, "npy: %s: 'descr' '%s' is big-endian; only little-endian data "
                      "can be mapped", ps->path, d);
    *out = (hq_npy_dtype_t)t;
    return HQ_OK;
  }
  return hq__kerr(HQ_ENOTSUP, "npy: %s: dtype '%s' is not supported (f2 f4 f8 i1 i2 i4 i8 u1 u2 "
                  "u4 u8 b1)", ps->path, d);
}

static int parse_bool(parser_t *ps, int *out) {
  skip_ws(ps);
  if (ps->end - ps->p >= 4 && !strncmp(ps->p, "True", 4)) {
    ps->p += 4;
    *out = 1;
  } else if (ps->end - ps->p >= 5 && !strncmp(ps->p, "False", 5)) {
    ps->p += 5;
    *out = 0;
  } else {
    return perr(ps, "'fortran_order' must be True or False");
  }
  return HQ_OK;
}

static int parse_shape(parser_t *ps, int *ndim, int64_t *shape) {
  int n = 0;
  skip_ws(ps);
  if (ps->p >= ps->end || *ps->p != '(') return perr(ps, "'shape' must be a tuple");
  ps->p++;
  for (;;) {
    int64_t v = 0;
    int digits = 0;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ')') break;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
      if (v > (INT64_MAX - 9) / 10) return perr(ps, "a dimension is too large");
      v = v * 10 + (*ps->p++ - '0');
      digits++;
    }
    if (!digits) return perr(ps, "a dimension is not a non-negative integer");
    if (ps->p < ps->end && (*ps->p == 'L' || *ps->p == 'l')) ps->p++; /* Python 2 long */
    if (n >= HQ_NPY_MAX_DIMS) return perr(ps, "more than 32 dimensions");
    shape[n++] = v;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ')') break;
    return perr(ps, "expected ',' or ')' in 'shape'");
  }
  ps->p++; /* ')' */
  /* "(5)" is an int in Python, not a tuple: numpy would reject it too */
  *ndim = n;
  return HQ_OK;
}

static int parse_header(const char *path, const char *text, size_t len, hq_npy_info_t *info) {
  parser_t ps = {text, text + len, path};
  int have_descr = 0, have_order = 0, have_shape = 0, rc;
  skip_ws(&ps);
  if (ps.p >= ps.end || *ps.p != '{') return perr(&ps, "the header is not a dict");
  ps.p++;
  for (;;) {
    char key[32];
    skip_ws(&ps);
    if (ps.p < ps.end && *ps.p == '}') break;
    if ((rc = parse_string(&ps, key, sizeof key)) != HQ_OK) return rc;
    skip_ws(&ps);
    if (ps.p >= ps.end || *ps.p != ':') return perr(&ps, "expected ':' after a key");
    ps.p++;
    if (!strcmp(key, "descr") && !have_descr++) rc = parse_descr(&ps, &info->dtype);
    else if (!strcmp(key, "fortran_order") && !have_order++) rc = parse_bool(&ps, &info->fortran_order);
    else if (!strcmp(key, "shape") && !have_shape++) rc = parse_shape(&ps, &info->ndim, info->shape);
    else return hq__kerr(HQ_EFORMAT, "npy: %s: malformed header: unexpected or repeated key '%s'",
                         path, key);
    if (rc != HQ_OK) return rc;
    skip_ws(&ps);
    if (ps.p < ps.end && *ps.p == ',') {
      ps.p++;
      continue;
    }
    skip_ws(&ps);
    if (ps.p < ps.end && *ps.p == '}') break;
    return perr(&ps, "expected ',' or '}' after a value");
  }
  ps.p++; /* '}' */
  skip_ws(&ps);
  if (ps.p != ps.end) return perr(&ps, "text after the dict");
  if (!have_descr || !have_order || !have_shape)
    return perr(&ps, "'descr', 'fortran_order' and 'shape' are all required");
  return HQ_OK;
}

/* numel * itemsize with overflow checks. */
static int info_sizes(const char *path, hq_npy_info_t *info) {
  size_t n = 1;
  info->itemsize = hq_npy_dtype_size(info->dtype);
  for (int d = 0; d < info->ndim; d++)
    if (info->shape[d] < 0 || hq__mul_overflow(n, (size_t)info->shape[d], &n))
      return hq__kerr(HQ_EFORMAT, "npy: %s: the shape is too large", path);
  if (hq__mul_overflow(n, info->itemsize, &info->nbytes))
    return hq__kerr(HQ_EFORMAT, "npy: %s: the shape is too large", path);
  return HQ_OK;
}

static int read_exact(int fd, void *buf, size_t len, off_t off) {
  size_t have = 0;
  while (have < len) {
    ssize_t r = pread(fd, (char *)buf + have, len - have, off + (off_t)have);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    have += (size_t)r;
  }
  return 0;
}

static int read_header(int fd, const char *path, hq_npy_info_t *info) {
  unsigned char pre[12];
  size_t hlen, start;
  char *text = NULL;
  int rc;
  if (read_exact(fd, pre, 10, 0) != 0)
    return hq__kerr(HQ_EFORMAT, "npy: %s: too short to be a .npy file", path);
  if (memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
    return hq__kerr(HQ_EFORMAT, "npy: %s: not a .npy file (bad magic)", path);
  info->version_major = pre[6];
  info->version_minor = pre[7];
  if (pre[7] != 0 || pre[6] < 1 || pre[6] > 3)
    return hq__kerr(HQ_EFORMAT, "npy: %s: unsupported format version %d.%d (1.0, 2.0, 3.0 are "
                    "read)", path, pre[6], pre[7]);
  if (pre[6] == 1) {
    hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    start = 10;
  } else {
    if (read_exact(fd, pre + 10, 2, 10) != 0)
      return hq__kerr(HQ_EFORMAT, "npy: %s: truncated header", path);
    hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    start = 12;
  }
  if (hlen > NPY_MAX_HEADER)
    return hq__kerr(HQ_EFORMAT, "npy: %s: header length %zu is unreasonable", path, hlen);
  text = malloc(hlen + 1);
  if (!text) return hq__kerr(HQ_ENOMEM, "npy: out of memory");
  if (read_exact(fd, text, hlen, (off_t)start) != 0) {
    rc = hq__kerr(HQ_EFORMAT, "npy: %s: truncated header (%zu bytes declared)", path, hlen);
    goto out;
  }
  text[hlen] = '\0';
  if (memchr(text, '\0', hlen)) {
    rc = hq__kerr(HQ_EFORMAT, "npy: %s: malformed header: NUL byte", path);
    goto out;
  }
  rc = parse_header(path, text, hlen, info);
  if (rc == HQ_OK) rc = info_sizes(path, info);
  info->data_offset = start + hlen;
out:
  free(text);
  return rc;
}

/* ---- header writing ---------------------------------------------------------------------- */

/* The bytes numpy.save writes before the data, into buf (cap bytes); *out_len its length. */
static int format_header(const hq_npy_info_t *info, char *buf, size_t cap, size_t *out_len) {
  char dict[2048], shape[1024];
  size_t n = 0, hlen, pre, pad, total;
  int major;
  /* repr() of the shape tuple */
  n += (size_t)snprintf(shape + n, sizeof shape - n, "(");
  for (int d = 0; d < info->ndim; d++)
    n += (size_t)snprintf(shape + n, sizeof shape - n, d ? ", %lld" : "%lld",
                          (long long)info->shape[d]);
  if (info->ndim == 1) n += (size_t)snprintf(shape + n, sizeof shape - n, ",");
  snprintf(shape + n, sizeof shape - n, ")");
  n = (size_t)snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }",
                       descrs[info->dtype], info->fortran_order ? "True" : "False", shape);
  if (info->ndim > 0) {
    /* spare room so the growth axis can be rewritten in place (numpy >= 1.24) */
    char digits[32];
    int64_t axis = info->shape[info->fortran_order ? info->ndim - 1 : 0];
    int len = snprintf(digits, sizeof digits, "%lld", (long long)axis);
    for (int i = len; i < NPY_GROWTH_AXIS_MAX_DIGITS && n + 1 < sizeof dict; i++) dict[n++] = ' ';
    dict[n] = '\0';
  }
  hlen = n + 1; /* + the final '\n' */
  major = 1;
  pre = NPY_MAGIC_LEN + 2 + 2;
  pad = NPY_ALIGN - ((pre + hlen) % NPY_ALIGN);
  if (hlen + pad > 65535) {
    major = 2;
    pre = NPY_MAGIC_LEN + 2 + 4;
    pad = NPY_ALIGN - ((pre + hlen) % NPY_ALIGN);
  }
  total = pre + hlen + pad;
  if (total > cap) return hq__kerr(HQ_ERANGE, "npy: header too long");
  memcpy(buf, NPY_MAGIC, NPY_MAGIC_LEN);
  buf[6] = (char)major;
  buf[7] = 0;
  {
    size_t field = hlen + pad;
    buf[8] = (char)(field & 0xff);
    buf[9] = (char)((field >> 8) & 0xff);
    if (major == 2) {
      buf[10] = (char)((field >> 16) & 0xff);
      buf[11] = (char)((field >> 24) & 0xff);
    }
  }
  memcpy(buf + pre, dict, n);
  memset(buf + pre + n, ' ', pad);
  buf[total - 1] = '\n';
  *out_len = total;
  return HQ_OK;
}

static int write_all(int fd, const char *buf, size_t len) {
  while (len) {
    ssize_t w = write(fd, buf, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    buf += w;
    len -= (size_t)w;
  }
  return 0;
}

/* ---- open / close ------------------------------------------------------------------------ */

static int parse_mode(const char *mode, npy_mode_t *out) {
  if (!strcmp(mode, "r")) *out = MODE_R;
  else if (!strcmp(mode, "r+")) *out = MODE_RPLUS;
  else if (!strcmp(mode, "w+")) *out = MODE_WPLUS;
  else if (!strcmp(mode, "c")) *out = MODE_C;
  else return -1;
  return 0;
}

static int check_spec(const hq_npy_info_t *spec) {
  if (!spec) return hq__kerr(HQ_MISUSE_BKPT, "npy: mode \"w+\" needs a spec (dtype and shape)");
  if ((unsigned)spec->dtype >= HQ_NPY_DTYPES)
    return hq__kerr(HQ_EINVAL, "npy: unknown dtype %d", (int)spec->dtype);
  if (spec->ndim < 0 || spec->ndim > HQ_NPY_MAX_DIMS)
    return hq__kerr(HQ_EINVAL, "npy: ndim %d outside 0..%d", spec->ndim, HQ_NPY_MAX_DIMS);
  for (int d = 0; d < spec->ndim; d++)
    if (spec->shape[d] < 0) return hq__kerr(HQ_EINVAL, "npy: extent %d is negative", d);
  return HQ_OK;
}

int hq_npy_open(const char *path, const char *mode, const hq_npy_info_t *spec, hq_npy_t **out) {
  hq_npy_t *a = NULL;
  npy_mode_t m;
  struct stat sb;
  int rc = HQ_OK, flags, prot, share;
  char header[4096 + 128];

  if (!path || !mode || !out) return hq__kerr(HQ_MISUSE_BKPT, "npy_open: NULL argument");
  if (parse_mode(mode, &m) != 0)
    return hq__kerr(HQ_EINVAL, "npy_open: mode \"%s\" is not one of r, r+, w+, c", mode);
  if (m == MODE_WPLUS && (rc = check_spec(spec)) != HQ_OK) return rc;
  a = calloc(1, sizeof *a);
  if (!a) return hq__kerr(HQ_ENOMEM, "npy_open: out of memory");
  a->fd = -1;
  a->mode = m;
  flags = m == MODE_R || m == MODE_C ? O_RDONLY : O_RDWR;
  if (m == MODE_WPLUS) flags |= O_CREAT | O_TRUNC;
  a->fd = open(path, flags | O_CLOEXEC, 0644);
  if (a->fd < 0) {
    rc = hq__kerr(HQ_ENOENT, "npy: cannot open %s: %s", path, strerror(errno));
    goto out;
  }
  if (m == MODE_WPLUS) {
    size_t hl = 0;
    a->info = *spec;
    a->info.version_major = 1;
    a->info.version_minor = 0;
    if ((rc = info_sizes(path, &a->info)) != HQ_OK) goto out;
    if ((rc = format_header(&a->info, header, sizeof header, &hl)) != HQ_OK) goto out;
    a->info.version_major = header[6];
    a->info.data_offset = hl;
    if (write_all(a->fd, header, hl) != 0 ||
        ftruncate(a->fd, (off_t)(hl + a->info.nbytes)) != 0) {
      rc = hq__kerr(HQ_EIO, "npy: cannot write %s: %s", path, strerror(errno));
      goto out;
    }
  } else {
    if ((rc = read_header(a->fd, path, &a->info)) != HQ_OK) goto out;
  }
  if (fstat(a->fd, &sb) != 0) {
    rc = hq__kerr(HQ_EIO, "npy: stat %s: %s", path, strerror(errno));
    goto out;
  }
  if ((uint64_t)sb.st_size < a->info.data_offset + a->info.nbytes) {
    rc = hq__kerr(HQ_EFORMAT, "npy: %s is truncated: %lld bytes, the header declares %zu",
                  path, (long long)sb.st_size, a->info.data_offset + a->info.nbytes);
    goto out;
  }
  a->map_len = a->info.data_offset + a->info.nbytes;
  prot = m == MODE_R ? PROT_READ : PROT_READ | PROT_WRITE;
  share = m == MODE_C ? MAP_PRIVATE : MAP_SHARED;
  a->map = mmap(NULL, a->map_len, prot, share, a->fd, 0);
  if (a->map == MAP_FAILED) {
    a->map = NULL;
    rc = hq__kerr(HQ_EIO, "npy: mmap %s: %s", path, strerror(errno));
    goto out;
  }
  *out = a;
  a = NULL;
out:
  if (a) {
    if (a->fd >= 0) close(a->fd);
    free(a);
  }
  return rc;
}

void hq_npy_close(hq_npy_t *a) {
  if (!a) return;
  if (a->map) munmap(a->map, a->map_len);
  if (a->fd >= 0) close(a->fd);
  free(a);
}

int hq_npy_info(const hq_npy_t *a, hq_npy_info_t *out) {
  if (!a || !out) return hq__kerr(HQ_MISUSE_BKPT, "npy_info: NULL argument");
  *out = a->info;
  return HQ_OK;
}

int hq_npy_data(const hq_npy_t *a, void **out) {
  if (!a || !out) return hq__kerr(HQ_MISUSE_BKPT, "npy_data: NULL argument");
  *out = a->info.nbytes ? a->map + a->info.data_offset : NULL;
  return HQ_OK;
}

int hq_npy_flush(hq_npy_t *a) {
  if (!a) return hq__kerr(HQ_MISUSE_BKPT, "npy_flush: NULL array");
  if (a->mode != MODE_RPLUS && a->mode != MODE_WPLUS) return HQ_OK;
  if (msync(a->map, a->map_len, MS_SYNC) != 0)
    return hq__kerr(HQ_EIO, "npy_flush: msync: %s", strerror(errno));
  return HQ_OK;
}

/* ---- slices ------------------------------------------------------------------------------ */

static int check_box(const char *fn, const hq_npy_t *a, const int64_t *start, const int64_t *count,
                     const void *buf) {
  int empty = 0;
  if (!a) return hq__kerr(HQ_MISUSE_BKPT, "%s: NULL array", fn);
  if (a->info.ndim > 0 && (!start || !count)) return hq__kerr(HQ_MISUSE_BKPT, "%s: NULL box", fn);
  for (int d = 0; d < a->info.ndim; d++) {
    if (start[d] < 0 || count[d] < 0 || start[d] > a->info.shape[d] ||
        count[d] > a->info.shape[d] - start[d])
      return hq__kerr(HQ_EINVAL, "%s: box %lld+%lld outside extent %lld of dim %d", fn,
                      (long long)start[d], (long long)count[d], (long long)a->info.shape[d], d);
    if (count[d] == 0) empty = 1;
  }
  if (!buf && !empty) return hq__kerr(HQ_MISUSE_BKPT, "%s: NULL buffer", fn);
  return HQ_OK;
}

/* Copy the box between the mapped data and a C-ordered buffer (to_file chooses the way). */
static void box_copy(const hq_npy_t *a, const int64_t *start, const int64_t *count, char *buf,
                     int to_file) {
  const hq_npy_info_t *in = &a->info;
  int nd = in->ndim, r;
  size_t isz = in->itemsize, run;
  int64_t fstride[HQ_NPY_MAX_DIMS], bstride[HQ_NPY_MAX_DIMS], idx[HQ_NPY_MAX_DIMS] = {0};
  char *base = a->map + in->data_offset;

  if (nd == 0) {
    if (to_file) memcpy(base, buf, isz);
    else memcpy(buf, base, isz);
    return;
  }
  for (int d = 0; d < nd; d++)
    if (count[d] == 0) return;
  {
    int64_t s = (int64_t)isz;
    for (int d = nd - 1; d >= 0; d--) {
      bstride[d] = s;
      s *= count[d];
    }
    s = (int64_t)isz;
    if (in->fortran_order) {
      for (int d = 0; d < nd; d++) fstride[d] = s, s *= in->shape[d];
    } else {
      for (int d = nd - 1; d >= 0; d--) fstride[d] = s, s *= in->shape[d];
    }
  }
  /* C order: the trailing full dims and the last partial one form one contiguous run */
  if (!in->fortran_order) {
    r = nd - 1;
    while (r > 0 && count[r] == in->shape[r]) r--;
    run = isz;
    for (int d = r; d < nd; d++) run *= (size_t)count[d];
  } else {
    r = nd; /* element by element: the buffer is C order, the file Fortran order */
    run = isz;
  }
  for (;;) {
    int64_t fo = 0, bo = 0;
    for (int d = 0; d < r && d < nd; d++) {
      fo += (start[d] + idx[d]) * fstride[d];
      bo += idx[d] * bstride[d];
    }
    if (r < nd) fo += start[r] * fstride[r];
    if (to_file) memcpy(base + fo, buf + bo, run);
    else memcpy(buf + bo, base + fo, run);
    /* next outer index over dims [0, min(r, nd)) */
    int d = (r < nd ? r : nd) - 1;
    for (; d >= 0; d--) {
      if (++idx[d] < count[d]) break;
      idx[d] = 0;
    }
    if (d < 0) break;
  }
}

int hq_npy_read_slice(const hq_npy_t *a, const int64_t *start, const int64_t *count, void *dst) {
  int rc = check_box("npy_read_slice", a, start, count, dst);
  if (rc != HQ_OK) return rc;
  box_copy(a, start, count, dst, 0);
  return HQ_OK;
}

int hq_npy_write_slice(hq_npy_t *a, const int64_t *start, const int64_t *count, const void *src) {
  int rc = check_box("npy_write_slice", a, start, count, src);
  if (rc != HQ_OK) return rc;
  if (a->mode == MODE_R) return hq__kerr(HQ_EMISUSE, "npy_write_slice: the array is open read-only");
  box_copy(a, start, count, (char *)(uintptr_t)src, 1);
  return HQ_OK;
}
