/* test_npy.c: memory-mapped .npy arrays: the header we write, numpy interop both ways
 * (through /usr/bin/python3 with numpy as a child process), modes, n-d slices, bad headers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hq_test.h"
#include "heapql/kernels.h"

#define PY "/usr/bin/python3"

static int have_numpy(void) {
  static int cached = -1;
  if (cached < 0) {
    char *argv[] = {PY, "-c", "import numpy", NULL};
    hq_test_proc_t p;
    cached = hq_test_exists(PY) && hq_test_run(argv, NULL, NULL, 60, &p) == 0 && p.exit_status == 0;
    if (hq_test_exists(PY)) hq_test_proc_free(&p);
  }
  return cached;
}

/* Run a Python snippet with argv[1] = dir; fails the test unless it exits 0; returns stdout
 * (static rotating buffer via hq_test_join's storage is too small, so a malloc'd copy). */
static char *python(const char *script, const char *dir) {
  char *argv[] = {PY, "-c", (char *)script, (char *)dir, NULL};
  hq_test_proc_t p;
  char *out;
  assert_int_equal(hq_test_run(argv, NULL, NULL, 120, &p), 0);
  if (p.exit_status != 0) fail_msg("python failed (%d):\n%s\n%s", p.exit_status, p.out, p.err);
  out = strdup(p.out);
  hq_test_proc_free(&p);
  return out;
}

static void write_bytes(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  fclose(f);
}

static hq_npy_t *create(const char *path, hq_npy_dtype_t dt, int fortran, int ndim, ...) {
  hq_npy_info_t spec;
  hq_npy_t *a = NULL;
  va_list ap;
  memset(&spec, 0, sizeof spec);
  spec.dtype = dt;
  spec.ndim = ndim;
  spec.fortran_order = fortran;
  va_start(ap, ndim);
  for (int d = 0; d < ndim; d++) spec.shape[d] = va_arg(ap, int64_t);
  va_end(ap);
  assert_int_equal(hq_npy_open(path, "w+", &spec, &a), HQ_OK);
  return a;
}

static void test_npy_write_header_layout(void **state) {
  (void)state;
  const char *path = hq_test_join(hq_test_tmpdir(), "a.npy");
  hq_npy_t *a = create(path, HQ_NPY_F4, 0, 2, (int64_t)3, (int64_t)4);
  hq_npy_info_t info;
  void *data;
  assert_int_equal(hq_npy_info(a, &info), HQ_OK);
  assert_int_equal(info.data_offset, 128);
  assert_int_equal(info.nbytes, 48);
  assert_int_equal(info.itemsize, 4);
  assert_int_equal(info.version_major, 1);
  assert_int_equal(hq_npy_data(a, &data), HQ_OK);
  assert_int_equal((uintptr_t)data % 64, 0);
  for (int i = 0; i < 12; i++) ((float *)data)[i] = (float)i * 0.5f;
  assert_int_equal(hq_npy_flush(a), HQ_OK);
  hq_npy_close(a);
  size_t len;
  char *bytes = hq_test_read_file(path, &len);
  assert_int_equal(len, 128 + 48);
  /* exactly what numpy.save writes: magic, v1.0, HEADER_LEN 118, the dict, growth spaces,
   * padding, '\n' at byte 127 */
  const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
  assert_memory_equal(bytes, "\x93NUMPY\x01\x00\x76\x00", 10);
  assert_memory_equal(bytes + 10, dict, strlen(dict));
  for (size_t i = 10 + strlen(dict); i < 127; i++) assert_int_equal(bytes[i], ' ');
  assert_int_equal(bytes[127], '\n');
  float f;
  memcpy(&f, bytes + 128 + 11 * 4, 4);
  assert_true(f == 5.5f);
  free(bytes);
}

/* Arrays we write; python checks np.load equality and byte-identity with np.save. */
static void test_npy_numpy_loads_ours(void **state) {
  (void)state;
  HQ_TEST_REQUIRE(have_numpy(), PY " with numpy");
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", hq_test_tmpdir()); /* hq_test_* buffers rotate */
  hq_npy_t *a;
  void *d;
  a = create(hq_test_join(dir, "f4.npy"), HQ_NPY_F4, 0, 3, (int64_t)2, (int64_t)3, (int64_t)4);
  hq_npy_data(a, &d);
  for (int i = 0; i < 24; i++) ((float *)d)[i] = (float)i / 8.0f - 1.0f;
  hq_npy_close(a);
  a = create(hq_test_join(dir, "f8F.npy"), HQ_NPY_F8, 1, 2, (int64_t)3, (int64_t)5);
  hq_npy_data(a, &d); /* Fortran order: element (i, j) at j * 3 + i */
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 5; j++) ((double *)d)[j * 3 + i] = i * 10.0 + j;
  hq_npy_close(a);
  a = create(hq_test_join(dir, "i8.npy"), HQ_NPY_I8, 0, 1, (int64_t)7);
  hq_npy_data(a, &d);
  for (int i = 0; i < 7; i++) ((int64_t *)d)[i] = (int64_t)i * 1000000000000LL - 3;
  hq_npy_close(a);
  a = create(hq_test_join(dir, "i4.npy"), HQ_NPY_I4, 0, 2, (int64_t)4, (int64_t)2);
  hq_npy_data(a, &d);
  for (int i = 0; i < 8; i++) ((int32_t *)d)[i] = -i * 7;
  hq_npy_close(a);
  a = create(hq_test_join(dir, "u1.npy"), HQ_NPY_U1, 0, 1, (int64_t)300);
  hq_npy_data(a, &d);
  for (int i = 0; i < 300; i++) ((uint8_t *)d)[i] = (uint8_t)i;
  hq_npy_close(a);
  a = create(hq_test_join(dir, "f2.npy"), HQ_NPY_F2, 0, 1, (int64_t)4);
  hq_npy_data(a, &d);
  float f2v[4] = {1.0f, -2.5f, 65504.0f, 0.1f};
  hq_convert(d, HQ_F16, f2v, HQ_F32, 4);
  hq_npy_close(a);
  a = create(hq_test_join(dir, "scalar.npy"), HQ_NPY_F8, 0, 0);
  hq_npy_data(a, &d);
  *(double *)d = 3.25;
  hq_npy_close(a);
  a = create(hq_test_join(dir, "empty.npy"), HQ_NPY_F4, 0, 2, (int64_t)0, (int64_t)7);
  assert_int_equal(hq_npy_data(a, &d), HQ_OK);
  assert_null(d);
  hq_npy_close(a);
  char *out = python(
      "import sys, os, io, numpy as np\n"
      "d = sys.argv[1]\n"
      "exp = {\n"
      " 'f4': (np.arange(24, dtype='<f4') / 8 - 1).reshape(2, 3, 4),\n"
      " 'f8F': np.asfortranarray(np.add.outer(np.arange(3) * 10.0, np.arange(5.0))),\n"
      " 'i8': np.arange(7, dtype='<i8') * 1000000000000 - 3,\n"
      " 'i4': (-np.arange(8, dtype='<i4') * 7).reshape(4, 2),\n"
      " 'u1': (np.arange(300) % 256).astype('|u1'),\n"
      " 'f2': np.array([1.0, -2.5, 65504.0, 0.1], dtype='<f2'),\n"
      " 'scalar': np.array(3.25),\n"
      " 'empty': np.zeros((0, 7), dtype='<f4'),\n"
      "}\n"
      "for name, e in exp.items():\n"
      "    p = os.path.join(d, name + '.npy')\n"
      "    got = np.load(p, mmap_mode='r')\n"
      "    assert got.dtype == e.dtype and got.shape == e.shape, (name, got.dtype, got.shape)\n"
      "    assert got.flags.f_contiguous == e.flags.f_contiguous or e.ndim < 2, name\n"
      "    assert np.array_equal(got, e), name\n"
      "    b = io.BytesIO(); np.save(b, e)\n"
      "    assert open(p, 'rb').read() == b.getvalue(), name + ': bytes differ from np.save'\n"
      "    print('ok', name)\n",
      dir);
  assert_non_null(strstr(out, "ok f4\nok f8F\nok i8\nok i4\nok u1\nok f2\nok scalar\nok empty\n"));
  free(out);
}

static void test_npy_we_open_numpys(void **state) {
  (void)state;
  HQ_TEST_REQUIRE(have_numpy(), PY " with numpy");
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", hq_test_tmpdir()); /* hq_test_* buffers rotate */
  char *out = python(
      "import sys, os, numpy as np\n"
      "from numpy.lib import format as fmt\n"
      "d = sys.argv[1]\n"
      "a = (np.arange(60, dtype='<f4') * 1.5).reshape(3, 4, 5)\n"
      "np.save(os.path.join(d, 'v1.npy'), a)\n"
      "for v in (2, 3):\n"
      "    with open(os.path.join(d, 'v%d.npy' % v), 'wb') as f:\n"
      "        fmt.write_array(f, a, version=(v, 0))\n"
      "np.save(os.path.join(d, 'fort.npy'), np.asfortranarray(np.arange(12, dtype='<i4').reshape(3, 4)))\n"
      "np.save(os.path.join(d, 'f2.npy'), np.array([0.5, -1, 2048], dtype='<f2'))\n"
      "np.save(os.path.join(d, 'b1.npy'), np.array([True, False, True]))\n"
      "np.save(os.path.join(d, 'u8.npy'), np.array([2**64 - 1, 7], dtype='<u8'))\n"
      "print('written')\n",
      dir);
  assert_non_null(strstr(out, "written"));
  free(out);
  for (int v = 1; v <= 3; v++) {
    char name[16];
    hq_npy_t *a = NULL;
    hq_npy_info_t info;
    float *data;
    snprintf(name, sizeof name, "v%d.npy", v);
    assert_int_equal(hq_npy_open(hq_test_join(dir, name), "r", NULL, &a), HQ_OK);
    assert_int_equal(hq_npy_info(a, &info), HQ_OK);
    assert_int_equal(info.version_major, v);
    assert_int_equal(info.dtype, HQ_NPY_F4);
    assert_int_equal(info.ndim, 3);
    assert_int_equal(info.shape[0], 3);
    assert_int_equal(info.shape[1], 4);
    assert_int_equal(info.shape[2], 5);
    assert_int_equal(info.fortran_order, 0);
    assert_int_equal(info.data_offset % 64, 0);
    assert_int_equal(hq_npy_data(a, (void **)&data), HQ_OK);
    for (int i = 0; i < 60; i++) assert_true(data[i] == (float)i * 1.5f);
    hq_npy_close(a);
  }
  hq_npy_t *a = NULL;
  hq_npy_info_t info;
  int32_t box[2 * 2];
  int64_t start[2] = {1, 2}, count[2] = {2, 2};
  assert_int_equal(hq_npy_open(hq_test_join(dir, "fort.npy"), "r", NULL, &a), HQ_OK);
  assert_int_equal(hq_npy_info(a, &info), HQ_OK);
  assert_int_equal(info.fortran_order, 1);
  assert_int_equal(hq_npy_read_slice(a, start, count, box), HQ_OK); /* rows 1-2, cols 2-3 */
  assert_int_equal(box[0], 6);
  assert_int_equal(box[1], 7);
  assert_int_equal(box[2], 10);
  assert_int_equal(box[3], 11);
  hq_npy_close(a);
  uint16_t *h;
  assert_int_equal(hq_npy_open(hq_test_join(dir, "f2.npy"), "r", NULL, &a), HQ_OK);
  assert_int_equal(hq_npy_data(a, (void **)&h), HQ_OK);
  assert_true(hq_f16_to_f32(h[0]) == 0.5f && hq_f16_to_f32(h[1]) == -1.0f && hq_f16_to_f32(h[2]) == 2048.0f);
  hq_npy_close(a);
  uint8_t *b;
  assert_int_equal(hq_npy_open(hq_test_join(dir, "b1.npy"), "r", NULL, &a), HQ_OK);
  assert_int_equal(hq_npy_info(a, &info), HQ_OK);
  assert_int_equal(info.dtype, HQ_NPY_B1);
  assert_int_equal(hq_npy_data(a, (void **)&b), HQ_OK);
  assert_true(b[0] == 1 && b[1] == 0 && b[2] == 1);
  hq_npy_close(a);
  uint64_t *u;
  assert_int_equal(hq_npy_open(hq_test_join(dir, "u8.npy"), "r", NULL, &a), HQ_OK);
  assert_int_equal(hq_npy_data(a, (void **)&u), HQ_OK);
  assert_true(u[0] == UINT64_MAX && u[1] == 7);
  hq_npy_close(a);
}

static void test_npy_modes(void **state) {
  (void)state;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", hq_test_tmpdir()); /* hq_test_* buffers rotate */
  const char *path = hq_test_join(dir, "m.npy");
  hq_npy_t *a = create(path, HQ_NPY_I4, 0, 1, (int64_t)10);
  int32_t *d, v;
  int64_t s = 4, c = 1;
  hq_npy_data(a, (void **)&d);
  for (int i = 0; i < 10; i++) d[i] = i;
  hq_npy_close(a);
  /* r+: writes reach the file */
  assert_int_equal(hq_npy_open(path, "r+", NULL, &a), HQ_OK);
  v = 444;
  assert_int_equal(hq_npy_write_slice(a, &s, &c, &v), HQ_OK);
  assert_int_equal(hq_npy_flush(a), HQ_OK);
  hq_npy_close(a);
  /* c: writes stay in memory */
  assert_int_equal(hq_npy_open(path, "c", NULL, &a), HQ_OK);
  hq_npy_data(a, (void **)&d);
  assert_int_equal(d[4], 444);
  d[5] = -5;
  v = 999;
  assert_int_equal(hq_npy_write_slice(a, &s, &c, &v), HQ_OK);
  assert_int_equal(d[4], 999);
  assert_int_equal(hq_npy_flush(a), HQ_OK); /* a no-op */
  hq_npy_close(a);
  /* r: sees r+'s write, not c's; refuses writes */
  assert_int_equal(hq_npy_open(path, "r", NULL, &a), HQ_OK);
  hq_npy_data(a, (void **)&d);
  assert_int_equal(d[4], 444);
  assert_int_equal(d[5], 5);
  assert_int_equal(hq_npy_write_slice(a, &s, &c, &v), HQ_EMISUSE);
  assert_int_equal(hq_npy_flush(a), HQ_OK);
  hq_npy_close(a);
  /* w+ overwrites an existing file */
  a = create(path, HQ_NPY_U1, 0, 1, (int64_t)3);
  hq_npy_close(a);
  size_t len;
  free(hq_test_read_file(path, &len));
  assert_int_equal(len, 128 + 3);
  if (have_numpy()) {
    char *out = python("import sys, numpy as np\n"
                       "print(np.load(sys.argv[1] + '/m.npy').tolist())\n", dir);
    assert_string_equal(out, "[0, 0, 0]\n");
    free(out);
  }
  /* bad arguments */
  assert_int_equal(hq_npy_open(path, "rw", NULL, &a), HQ_EINVAL);
  assert_int_equal(hq_npy_open(path, "w+", NULL, &a), HQ_EMISUSE);
  assert_int_equal(hq_npy_open(NULL, "r", NULL, &a), HQ_EMISUSE);
  assert_int_equal(hq_npy_open(hq_test_join(dir, "missing.npy"), "r", NULL, &a), HQ_ENOENT);
  assert_non_null(strstr(hq_kernels_errmsg(), "missing.npy"));
  hq_npy_close(NULL);
}

static void test_npy_slices(void **state) {
  (void)state;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", hq_test_tmpdir()); /* hq_test_* buffers rotate */
  for (int fortran = 0; fortran < 2; fortran++) {
    const char *path = hq_test_join(dir, fortran ? "F.npy" : "C.npy");
    hq_npy_t *a = create(path, HQ_NPY_I4, fortran, 3, (int64_t)4, (int64_t)5, (int64_t)6);
    int32_t all[120], box[120];
    int64_t s0[3] = {0, 0, 0}, c0[3] = {4, 5, 6};
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 5; j++)
        for (int k = 0; k < 6; k++) all[(i * 5 + j) * 6 + k] = 100 * i + 10 * j + k;
    assert_int_equal(hq_npy_write_slice(a, s0, c0, all), HQ_OK); /* whole array, C-ordered */
    int32_t *raw;
    hq_npy_data(a, (void **)&raw);
    /* the file holds its own order */
    assert_int_equal(raw[1], fortran ? 100 : 1);
    /* a box in the middle */
    int64_t s[3] = {1, 2, 3}, c[3] = {2, 3, 2};
    assert_int_equal(hq_npy_read_slice(a, s, c, box), HQ_OK);
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 3; j++)
        for (int k = 0; k < 2; k++)
          assert_int_equal(box[(i * 3 + j) * 2 + k], 100 * (i + 1) + 10 * (j + 2) + (k + 3));
    /* trailing full dims (one run per outer index in C order) */
    int64_t s2[3] = {2, 0, 0}, c2[3] = {2, 5, 6};
    assert_int_equal(hq_npy_read_slice(a, s2, c2, box), HQ_OK);
    assert_memory_equal(box, all + 60, 60 * sizeof(int32_t));
    /* write a box, read everything back */
    int32_t patch[4] = {-1, -2, -3, -4};
    int64_t s3[3] = {3, 4, 2}, c3[3] = {1, 1, 4};
    assert_int_equal(hq_npy_write_slice(a, s3, c3, patch), HQ_OK);
    assert_int_equal(hq_npy_read_slice(a, s0, c0, box), HQ_OK);
    for (int k = 0; k < 4; k++) all[(3 * 5 + 4) * 6 + 2 + k] = -(k + 1);
    assert_memory_equal(box, all, sizeof all);
    /* empty and out-of-range boxes */
    int64_t ce[3] = {0, 5, 6};
    assert_int_equal(hq_npy_read_slice(a, s0, ce, NULL), HQ_OK);
    int64_t sb[3] = {3, 0, 0}, cb[3] = {2, 1, 1};
    assert_int_equal(hq_npy_read_slice(a, sb, cb, box), HQ_EINVAL);
    assert_non_null(strstr(hq_kernels_errmsg(), "outside extent 4 of dim 0"));
    assert_int_equal(hq_npy_read_slice(a, s0, c0, NULL), HQ_EMISUSE);
    hq_npy_close(a);
  }
  /* 0-d */
  hq_npy_t *a = create(hq_test_join(dir, "s.npy"), HQ_NPY_F8, 0, 0);
  double x = 2.5, y = 0;
  assert_int_equal(hq_npy_write_slice(a, NULL, NULL, &x), HQ_OK);
  assert_int_equal(hq_npy_read_slice(a, NULL, NULL, &y), HQ_OK);
  assert_true(y == 2.5);
  hq_npy_close(a);
}

/* A v1.0 file with the given header text (padded to 64 with '\n' at the end unless raw). */
static const char *npy_with_header(const char *dir, const char *name, const char *dict,
                                   size_t data_bytes) {
  char buf[4096];
  size_t n = strlen(dict), hlen = n + 1, pad = 64 - ((10 + hlen) % 64), total;
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  buf[8] = (char)((hlen + pad) & 0xff);
  buf[9] = (char)((hlen + pad) >> 8);
  memcpy(buf + 10, dict, n);
  memset(buf + 10 + n, ' ', pad);
  total = 10 + hlen + pad;
  buf[total - 1] = '\n';
  memset(buf + total, 0, data_bytes);
  const char *path = hq_test_join(dir, name);
  write_bytes(path, buf, total + data_bytes);
  return path;
}

static void expect_refused(const char *path, int rc, const char *fragment) {
  hq_npy_t *a = (hq_npy_t *)1;
  int got = hq_npy_open(path, "r", NULL, &a);
  if (got != rc) fail_msg("%s: got %s, expected %d (%s)", path, hq_kernels_errmsg(), rc, fragment);
  assert_ptr_equal(a, (hq_npy_t *)1);
  if (!strstr(hq_kernels_errmsg(), fragment))
    fail_msg("%s: message '%s' lacks '%s'", path, hq_kernels_errmsg(), fragment);
}

static void test_npy_malformed_headers_refused(void **state) {
  (void)state;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", hq_test_tmpdir()); /* hq_test_* buffers rotate */
  const char *p;
  p = hq_test_join(dir, "magic.npy");
  write_bytes(p, "\x93NUMPZ\x01\x00\x10\x00{}", 12);
  expect_refused(p, HQ_EFORMAT, "bad magic");
  p = hq_test_join(dir, "short.npy");
  write_bytes(p, "\x93NUM", 4);
  expect_refused(p, HQ_EFORMAT, "too short");
  p = hq_test_join(dir, "v4.npy");
  write_bytes(p, "\x93NUMPY\x04\x00\x10\x00{}", 12);
  expect_refused(p, HQ_EFORMAT, "version 4.0");
  p = hq_test_join(dir, "trunc.npy");
  write_bytes(p, "\x93NUMPY\x01\x00\x76\x00{'descr'", 17);
  expect_refused(p, HQ_EFORMAT, "truncated header");
  p = npy_with_header(dir, "list.npy", "['descr', '<f4']", 0);
  expect_refused(p, HQ_EFORMAT, "not a dict");
  p = npy_with_header(dir, "nokey.npy", "{'descr': '<f4', 'shape': (3,), }", 12);
  expect_refused(p, HQ_EFORMAT, "all required");
  p = npy_with_header(dir, "extra.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}", 12);
  expect_refused(p, HQ_EFORMAT, "unexpected or repeated key 'x'");
  p = npy_with_header(dir, "twice.npy", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", 12);
  expect_refused(p, HQ_EFORMAT, "repeated key 'descr'");
  p = npy_with_header(dir, "neg.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3, -1), }", 12);
  expect_refused(p, HQ_EFORMAT, "non-negative integer");
  p = npy_with_header(dir, "word.npy", "{'descr': '<f4', 'fortran_order': Nope, 'shape': (3,), }", 12);
  expect_refused(p, HQ_EFORMAT, "True or False");
  p = npy_with_header(dir, "tail.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), } junk", 12);
  expect_refused(p, HQ_EFORMAT, "text after the dict");
  p = npy_with_header(dir, "huge.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 8), }", 0);
  expect_refused(p, HQ_EFORMAT, "too large");
  p = npy_with_header(dir, "data.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (100,), }", 12);
  expect_refused(p, HQ_EFORMAT, "truncated: ");
  p = npy_with_header(dir, "be.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", 12);
  expect_refused(p, HQ_ENOTSUP, "big-endian");
  p = npy_with_header(dir, "obj.npy", "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }", 24);
  expect_refused(p, HQ_ENOTSUP, "object arrays");
  p = npy_with_header(dir, "rec.npy", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }", 12);
  expect_refused(p, HQ_ENOTSUP, "structured");
  p = npy_with_header(dir, "c8.npy", "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", 24);
  expect_refused(p, HQ_ENOTSUP, "not supported");
}

static void test_npy_tolerant_header(void **state) {
  (void)state;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", hq_test_tmpdir()); /* hq_test_* buffers rotate */
  hq_npy_t *a = NULL;
  hq_npy_info_t info;
  /* keys in another order, double quotes, odd spacing, no trailing comma, Python 2 longs */
  const char *p = npy_with_header(dir, "odd.npy",
                                  "{ \"shape\" :( 5L , 2 ) ,'fortran_order':True,\t'descr':'>u1'}", 10);
  assert_int_equal(hq_npy_open(p, "r", NULL, &a), HQ_OK);
  assert_int_equal(hq_npy_info(a, &info), HQ_OK);
  assert_int_equal(info.ndim, 2);
  assert_int_equal(info.shape[0], 5);
  assert_int_equal(info.shape[1], 2);
  assert_int_equal(info.fortran_order, 1);
  assert_int_equal(info.dtype, HQ_NPY_U1); /* byte order does not matter for one byte */
  hq_npy_close(a);
  p = npy_with_header(dir, "s.npy", "{'descr': '<i2', 'fortran_order': False, 'shape': ()}", 2);
  assert_int_equal(hq_npy_open(p, "r", NULL, &a), HQ_OK);
  assert_int_equal(hq_npy_info(a, &info), HQ_OK);
  assert_int_equal(info.ndim, 0);
  assert_int_equal(info.nbytes, 2);
  hq_npy_close(a);
  assert_int_equal(hq_npy_dtype_size(HQ_NPY_F8), 8);
  assert_string_equal(hq_npy_dtype_descr(HQ_NPY_B1), "|b1");
  assert_string_equal(hq_npy_dtype_descr((hq_npy_dtype_t)99), "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_npy_write_header_layout),
    cmocka_unit_test(test_npy_numpy_loads_ours),
    cmocka_unit_test(test_npy_we_open_numpys),
    cmocka_unit_test(test_npy_modes),
    cmocka_unit_test(test_npy_slices),
    cmocka_unit_test(test_npy_malformed_headers_refused),
    cmocka_unit_test(test_npy_tolerant_header),
  };
  return cmocka_run_group_tests_name("npy", tests, NULL, NULL);
}
