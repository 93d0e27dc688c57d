/*
 * test_preload_cuda.c: CUDA recording at the driver boundary, against the libcuda.so.1 test
 * double (tests/preload/cuda/fake_libcuda.c; no GPU, no toolkit).  Each victim runs as a child
 * process under libheapql_preload.so and prints what the driver handed it; the database must
 * hold exactly those calls, blocks, devices, streams and VMM handles.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq_fixture.h"
#include "hq_test.h"
#include "hq_json_flat.h"

#define HEAPQL() ((char *)hq_test_build_path("bin/heapql"))

#define MIB (1ll << 20)

/* Run build/tests/cuda/<victim>, preloaded when db is not NULL; extra: "K=V" entries. */
static void run_cuda(const char *victim, const char *db, const char *const *extra, hq_test_proc_t *out) {
  char path[4200];
  char *argv[] = {path, NULL};
  snprintf(path, sizeof path, "%s", hq_test_build_path("tests/cuda/"));
  snprintf(path + strlen(path), sizeof path - strlen(path), "%s", victim);
  hq_test_run_preloaded(argv, db, extra, 60, out);
}

/* The value of "key=" in a victim's output (decimal), failing the test if absent. */
static int64_t out_int(const hq_test_proc_t *p, const char *key) {
  char pat[64];
  const char *at;
  snprintf(pat, sizeof pat, "\n%s=", key);
  if (!strncmp(p->out, pat + 1, strlen(pat + 1))) at = p->out + strlen(pat + 1);
  else if ((at = strstr(p->out, pat))) at += strlen(pat);
  else fail_msg("victim printed no %s= (output: %s)", key, p->out);
  return (int64_t)strtoull(at, NULL, 10);
}

static int out_has(const hq_test_proc_t *p, const char *line) {
  char pat[256];
  snprintf(pat, sizeof pat, "\n%s\n", line);
  return strstr(p->out, pat) != NULL || !strncmp(p->out, pat + 1, strlen(pat + 1));
}

/* Rows of cuda_calls whose leaf frame is in the named program: the stack starts at its call. */
#define CALLS_FROM "FROM cuda_calls c JOIN stacks s ON s.id = c.stack_id JOIN frames f ON f.id = s.frame_id " \
                   "JOIN modules m ON m.id = f.module_id WHERE m.path LIKE '%%/%s'"

static const char *const plt_env[] = {"FAKE_CUDA_FAIL=cuMemAlloc_v2@777=2", "FAKE_CUDA_SELF_CALL=1", NULL};

static void test_cuda_plt_rows_exact(void **state) {
  (void)state;
  char db[4096];
  snprintf(db, sizeof db, "%s", hq_test_join(hq_test_tmpdir(), "plt.db"));
  hq_test_proc_t p;
  sqlite3 *s;
  /* Unpreloaded first: the program runs the same without heapql. */
  run_cuda("v_cuda_plt", NULL, plt_env, &p);
  assert_int_equal(p.exit_status, 0);
  assert_true(out_has(&p, "plt_module=libcuda.so.1"));
  hq_test_proc_free(&p);

  run_cuda("v_cuda_plt", db, plt_env, &p);
  assert_int_equal(p.exit_status, 0);
  assert_int_equal(p.err_len, 0);
  assert_true(out_has(&p, "fail_rc=2"));
  assert_true(out_has(&p, "bad_free_rc=1"));
  assert_true(out_has(&p, "pitch=512"));
  /* The exported driver names are heapql's: the fake's self-call went through our hook. */
  assert_true(out_has(&p, "plt_module=libheapql_preload.so"));
  s = hq_test_sqlite_open(db);

  /* Every wrapped call, failed ones too, once; all from the victim's own code. */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls"), 20);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) " CALLS_FROM, "v_cuda_plt"), 20);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls WHERE api='cuMemAlloc_v2'"), 4);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls WHERE api='cuMemFree_v2'"), 5);
  assert_int_equal(hq_test_q_int(s, "SELECT count(DISTINCT api) FROM cuda_calls"), 13);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls WHERE result <> 0"), 2);
  assert_int_equal(hq_test_q_int(s, "SELECT result FROM cuda_calls WHERE size = 777"), 2);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls WHERE size = 777 AND address IS NULL"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT result FROM cuda_calls WHERE address = %lld", 0xdead0000ll), 1);
  /* The driver's nested cuMemHostAlloc (inside cuMemAllocHost_v2) is not a second call. */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls WHERE api='cuMemHostAlloc'"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT size FROM cuda_calls WHERE api='cuMemHostAlloc'"), 5000);
  assert_int_equal(hq_test_q_int(s, "SELECT size FROM cuda_calls WHERE api='cuMemAllocHost_v2'"), 4000);
  /* Devices: the current context's, five calls on device 0, the rest on device 1. */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls WHERE device = 0"), 5);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls WHERE device = 1"), 15);
  assert_int_equal(hq_test_q_int(s, "SELECT max(id) FROM cuda_calls WHERE device = 0"), 5);
  /* Streams: only the stream-ordered calls have one; a _ptsz call's stream 0 is 2. */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls WHERE stream IS NOT NULL"), 6);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls WHERE stream = %d", 0x5a5a), 3);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls WHERE stream = 2 AND api LIKE '%%_ptsz'"), 3);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls WHERE pool = %d", 0x7070), 2);
  assert_int_equal(hq_test_q_int(s, "SELECT flags FROM cuda_calls WHERE api='cuMemAllocPitch_v2'"), 4);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls WHERE duration_ns IS NULL OR t <= 0"), 0);

  /* Allocation rows: exactly the blocks the driver handed out, at their addresses. */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind LIKE 'cuda%%'"), 11);
  {
    static const struct {
      const char *key, *kind;
      int64_t size, device, stream, pool;
      int freed;
    } want[] = {
      {"a", "cuda_device", 1000, 0, -1, -1, 1},
      {"b", "cuda_device", 5120, 0, -1, -1, 1},  /* pitch 512 x 10 rows */
      {"c", "cuda_managed", 3000, 0, -1, -1, 0},
      {"d", "cuda_host", 4000, -1, -1, -1, 1},   /* pinned host memory: no device */
      {"e", "cuda_host", 5000, -1, -1, -1, 0},
      {"f", "cuda_device", 6000, 1, -1, -1, 0},
      {"g", "cuda_async", 7000, 1, 0x5a5a, -1, 1},
      {"h", "cuda_async", 8000, 1, 2, -1, 1},
      {"i", "cuda_async", 9000, 1, 0x5a5a, 0x7070, 1},
      {"j", "cuda_async", 500, 1, 2, 0x7070, 0},
      {"k", "cuda_device", 1111, 1, -1, -1, 1},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
      long long addr = (long long)out_int(&p, want[i].key);
#define ROW(col) "SELECT " col " FROM allocations WHERE address = %lld AND kind LIKE 'cuda%%'", addr
      assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE address = %lld", addr), 1);
      assert_string_equal(hq_test_q_text(s, ROW("kind")), want[i].kind);
      assert_int_equal(hq_test_q_int(s, ROW("size")), want[i].size);
      assert_int_equal(hq_test_q_int(s, ROW("coalesce(device, -1)")), want[i].device);
      assert_int_equal(hq_test_q_int(s, ROW("coalesce(stream, -1)")), want[i].stream);
      assert_int_equal(hq_test_q_int(s, ROW("coalesce(pool, -1)")), want[i].pool);
      assert_int_equal(hq_test_q_int(s, ROW("t_free IS NOT NULL")), want[i].freed);
      if (want[i].freed) {
        assert_string_equal(hq_test_q_text(s, ROW("free_kind")), "cuda");
        /* A release counts from the moment the free was called, like free() recorded first. */
        assert_int_equal(hq_test_q_int(s, ROW("t_free")),
                         hq_test_q_int(s, "SELECT t FROM cuda_calls WHERE address = %lld AND api LIKE "
                                          "'cuMemFree%%' AND result = 0", addr));
      }
      /* Each block was made after the call that made it was entered. */
      assert_true(hq_test_q_int(s, ROW("t_alloc")) >=
                  hq_test_q_int(s, "SELECT t FROM cuda_calls WHERE address = %lld AND api NOT LIKE "
                                   "'cuMemFree%%'", addr));
#undef ROW
    }
  }
  /* Device totals: everything CUDA but pinned host memory. */
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='peak_device_bytes'"),
                   1000 + 5120 + 3000 + 6000 + 7000 + 8000 + 9000 + 500 + 1111);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='peak_device_t'"),
                   hq_test_q_int(s, "SELECT t_alloc FROM allocations WHERE size = 1111"));
  assert_int_equal(hq_test_q_int(s, "SELECT device_bytes FROM samples ORDER BY t DESC LIMIT 1"), 3000 + 6000 + 500);
  assert_int_equal(hq_test_q_int(s, "SELECT max(device_bytes) FROM samples"), 40731);
  assert_int_equal(hq_test_q_int(s, "SELECT sum(size) FROM leaks WHERE kind LIKE 'cuda%%'"), 3000 + 5000 + 6000 + 500);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='unmatched_frees'"), 0);
  /* docs/schema.md, "CUDA": failed calls; device memory left at exit per device and stack. */
  assert_string_equal(hq_test_q_text(s, "SELECT group_concat(api || ':' || result || ':' || calls, ' ') FROM "
                                        "(SELECT api, result, count(*) AS calls FROM cuda_calls WHERE result <> 0 "
                                        "GROUP BY api, result)"), "cuMemAlloc_v2:2:1 cuMemFree_v2:1:1");
  assert_string_equal(hq_test_q_text(s, "SELECT group_concat(device || ':' || bytes, ' ') FROM (SELECT device, "
                                        "stack_id, count(*) AS blocks, sum(size) AS bytes FROM allocations WHERE kind "
                                        "IN ('cuda_device', 'cuda_managed', 'cuda_async', 'cuda_vmm') AND t_free IS NULL "
                                        "GROUP BY device, stack_id ORDER BY bytes DESC)"), "1:6000 0:3000 1:500");
  /* CUDA never counts as heap. */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations a JOIN kinds k USING(kind) "
                                    "WHERE k.class = 'heap' AND a.size IN (1000, 4000, 5000, 7000)"), 0);
  /* Stream-ordered pools, read after each allocation from one (device 1's default pool 0x9001,
   * and the pool 0x7070) and after each release (every pool seen): reserved in 2 MiB steps, used
   * as the blocks come and go. */
  assert_string_equal(hq_test_q_text(s, "SELECT group_concat(printf('%%x', pool) || ':' || coalesce(device, '-')"
                                        " || ':' || reserved_bytes || ':' || used_bytes, ' ')"
                                        " FROM (SELECT * FROM pool_samples ORDER BY t, rowid)"),
                      "9001:1:2097152:7000 9001:1:2097152:15000 7070:1:2097152:9000 7070:1:2097152:9500"
                      " 9001:-:2097152:8000 7070:-:2097152:9500 9001:-:2097152:0 7070:-:2097152:9500");
  /* The failed cuMemAlloc_v2(777) on device 1, as an event: its call, and what was live on
   * device 1 then (f, g, h, i, j, k; a and c are on device 0, the pinned d and e not on a
   * device), by stack, exactly once. */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM device_failures"), 1);
  assert_string_equal(hq_test_q_text(s, "SELECT api || ' ' || result || ' ' || size || ' ' || device || ' '"
                                        " || live_blocks || ' ' || live_bytes FROM device_failures"),
                      "cuMemAlloc_v2 2 777 1 6 31611");
  assert_int_equal(hq_test_q_int(s, "SELECT call_id FROM device_failures"),
                   hq_test_q_int(s, "SELECT id FROM cuda_calls WHERE size = 777"));
  assert_int_equal(hq_test_q_int(s, "SELECT stack_id FROM device_failures"),
                   hq_test_q_int(s, "SELECT stack_id FROM cuda_calls WHERE size = 777"));
  assert_string_equal(hq_test_q_text(s, "SELECT group_concat(bytes, ' ') FROM (SELECT bytes FROM"
                                        " device_failure_live ORDER BY bytes)"),
                      "500 1111 6000 7000 8000 9000");
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM device_failure_live l JOIN allocations a"
                                    " ON a.stack_id = l.stack_id AND a.size = l.bytes"), 6);
  sqlite3_close(s);
  hq_test_proc_free(&p);
  {
    /* the report's section, and heapql peak --at-failure, read by a JSON parser */
    char *argv[] = {HEAPQL(), "report", (char *)db, "--format", "json", NULL};
    hq_json_t j;
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
    assert_int_equal(p.exit_status, 0);
    assert_int_equal(hq_json_parse(p.out, &j), 0);
    assert_string_equal(hq_json_get(&j, "device_failures.count")->value, "1");
    assert_string_equal(hq_json_get(&j, "device_failures.failures[0].live_bytes")->value, "31611");
    assert_string_equal(hq_json_get(&j, "device_failures.failures[0].live_sites[0].bytes")->value, "9000");
    assert_non_null(strstr(hq_json_get(&j, "device_failures.failures[0].location")->value, "v_cuda_plt.c:"));
    hq_json_free(&j);
    hq_test_proc_free(&p);
  }
  {
    char *argv[] = {HEAPQL(), "peak", (char *)db, "--at-failure", "1", "--limit", "2", "--format", "json", NULL};
    hq_json_t j;
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
    assert_int_equal(p.exit_status, 0);
    assert_int_equal(hq_json_parse(p.out, &j), 0);
    assert_string_equal(hq_json_get(&j, "live_blocks")->value, "6");
    assert_non_null(hq_json_get(&j, "sites[1].location"));
    assert_null(hq_json_get(&j, "sites[2]"));
    assert_non_null(strstr(hq_json_get(&j, "sites[0].location")->value, "v_cuda_plt.c:32"));
    hq_json_free(&j);
    hq_test_proc_free(&p);
  }
  {
    char *argv[] = {HEAPQL(), "peak", (char *)db, "--at-failure", "2", NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
    assert_int_equal(p.exit_status, 2);
    assert_non_null(strstr(p.err, "no device allocation failure 2"));
    hq_test_proc_free(&p);
  }
}

static void test_cuda_getprocaddress_routes(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "dlopen.db");
  hq_test_proc_t p;
  sqlite3 *s;
  static const char *const hooked[] = {"bootstrap", "gpa", "gpa4", "alloc", "alloc_async", "managed",
                                       "alloc_dlsym"};
  char line[64];
  run_cuda("v_cuda_dlopen", NULL, NULL, &p);
  assert_int_equal(p.exit_status, 0);
  for (size_t i = 0; i < sizeof hooked / sizeof hooked[0]; i++) {
    snprintf(line, sizeof line, "%s=libcuda.so.1", hooked[i]);
    assert_true(out_has(&p, line));
  }
  hq_test_proc_free(&p);

  run_cuda("v_cuda_dlopen", db, NULL, &p);
  assert_int_equal(p.exit_status, 0);
  assert_int_equal(p.err_len, 0);
  /* dlsym(libcuda, "cuGetProcAddress_v2"), both cuGetProcAddress ABIs, what they return, and a
   * direct dlsym of cuMemAlloc_v2 are heapql's hooks ... */
  for (size_t i = 0; i < sizeof hooked / sizeof hooked[0]; i++) {
    snprintf(line, sizeof line, "%s=libheapql_preload.so", hooked[i]);
    assert_true(out_has(&p, line));
  }
  /* ... the per-thread-stream lookup got the _ptsz hook, and what heapql does not wrap (cuInit,
   * the legacy 32-bit cuMemAlloc) is the driver's own. */
  assert_true(out_has(&p, "alloc_async_is_ptsz=1"));
  assert_true(out_has(&p, "init=libcuda.so.1"));
  assert_true(out_has(&p, "init_dlsym=libcuda.so.1"));
  assert_true(out_has(&p, "legacy=libcuda.so.1"));
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls"), 6);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) " CALLS_FROM, "v_cuda_dlopen"), 6);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls WHERE api='cuMemAlloc_v2'"), 2);
  assert_int_equal(hq_test_q_int(s, "SELECT stream FROM cuda_calls WHERE api='cuMemAllocAsync_ptsz'"), 2);
  assert_int_equal(hq_test_q_int(s, "SELECT stream FROM cuda_calls WHERE api='cuMemFreeAsync_ptsz'"), 2);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls WHERE api IN ('cuMemAllocManaged', "
                                    "'cuMemFree_v2') AND result = 0"), 2);
  assert_string_equal(hq_test_q_text(s, "SELECT kind FROM allocations WHERE address = %lld",
                                     (long long)out_int(&p, "q")), "cuda_async");
  assert_int_equal(hq_test_q_int(s, "SELECT size FROM allocations WHERE address = %lld AND t_free IS NOT NULL",
                                 (long long)out_int(&p, "p")), 11111);
  assert_int_equal(hq_test_q_int(s, "SELECT size FROM allocations WHERE address = %lld AND t_free IS NULL",
                                 (long long)out_int(&p, "s")), 44444);
  assert_int_equal(hq_test_q_int(s, "SELECT size FROM allocations WHERE address = %lld AND kind = 'cuda_managed'",
                                 (long long)out_int(&p, "r")), 33333);
  /* The variant heapql could not identify is counted, not wrapped. */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM counters WHERE name = 'cuda_unhooked:cuMemAlloc@2000/0'"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM counters WHERE name LIKE 'cuda_unhooked:%%'"), 1);
  sqlite3_close(s);
  hq_test_proc_free(&p);
}

static void test_cuda_vmm_handles_and_mappings(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "vmm.db");
  static const char *const env[] = {"FAKE_CUDA_FAIL=cuMemCreate@12345=2", NULL};
  hq_test_proc_t p;
  sqlite3 *s;
  long long va, h[5];
  int64_t t_release1, t_release2, t_unmap;
  run_cuda("v_cuda_vmm", db, env, &p);
  assert_int_equal(p.exit_status, 0);
  assert_true(out_has(&p, "fail_rc=2"));
  va = (long long)out_int(&p, "va");
  h[1] = (long long)out_int(&p, "h1");
  h[2] = (long long)out_int(&p, "h2");
  h[3] = (long long)out_int(&p, "h3");
  h[4] = (long long)out_int(&p, "h4");
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls"), 14);
  assert_int_equal(hq_test_q_int(s, "SELECT result FROM cuda_calls WHERE api='cuMemCreate' AND size=12345"), 2);
  t_release1 = hq_test_q_int(s, "SELECT t FROM cuda_calls WHERE api='cuMemRelease' AND handle=%lld", h[1]);
  t_release2 = hq_test_q_int(s, "SELECT t FROM cuda_calls WHERE api='cuMemRelease' AND handle=%lld", h[2]);
  t_unmap = hq_test_q_int(s, "SELECT t FROM cuda_calls WHERE api='cuMemUnmap'");
  assert_true(t_release1 < t_unmap && t_unmap < t_release2);

  /* Address reservations: rows of their own (no memory), the second freed when
   * cuMemAddressFree was entered. */
  assert_string_equal(hq_test_q_text(s, "SELECT group_concat(size || ':' || (t_free IS NULL), ' ')"
                                        " FROM (SELECT * FROM va_reservations ORDER BY id)"),
                      "4194304:1 1048576:0");
  assert_int_equal(hq_test_q_int(s, "SELECT address FROM va_reservations WHERE id = 1"), va);
  assert_int_equal(hq_test_q_int(s, "SELECT t_free FROM va_reservations WHERE id = 2"),
                   hq_test_q_int(s, "SELECT t FROM cuda_calls WHERE api = 'cuMemAddressFree'"));
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE size IN (4194304, 1048576)"
                                    " AND kind <> 'cuda_vmm'"), 0);
  /* the failed cuMemCreate is a device failure event, on the device its properties named */
  assert_string_equal(hq_test_q_text(s, "SELECT api || ' ' || size || ' ' || result FROM device_failures"),
                      "cuMemCreate 12345 2");

  /* Handles: the four that were created, not the failed one. */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM vmm_handles"), 4);
  assert_int_equal(hq_test_q_int(s, "SELECT t_release FROM vmm_handles WHERE handle=%lld", h[1]), t_release1);
  assert_int_equal(hq_test_q_int(s, "SELECT t_release FROM vmm_handles WHERE handle=%lld", h[2]), t_release2);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM vmm_handles WHERE t_release IS NULL AND handle IN "
                                    "(%lld, %lld)", h[3], h[4]), 2);
  assert_int_equal(hq_test_q_int(s, "SELECT device FROM vmm_handles WHERE handle=%lld", h[2]), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT sum(size) FROM vmm_handles"), 6 * MIB);
  /* Physical memory: h1 released while mapped goes at the unmap; h2 at its release. */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind='cuda_vmm'"), 4);
  assert_int_equal(hq_test_q_int(s, "SELECT t_free FROM allocations WHERE kind='cuda_vmm' AND address=%lld", h[1]), t_unmap);
  assert_int_equal(hq_test_q_int(s, "SELECT t_free FROM allocations WHERE kind='cuda_vmm' AND address=%lld", h[2]), t_release2);
  assert_int_equal(hq_test_q_int(s, "SELECT device FROM allocations WHERE kind='cuda_vmm' AND address=%lld", h[2]), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM leaks WHERE kind='cuda_vmm' AND address IN (%lld, %lld)",
                                 h[3], h[4]), 2);
  /* Mappings: two unmapped by one cuMemUnmap of the whole range, h4's still open. */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM vmm_mappings"), 3);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM vmm_mappings WHERE t_unmap = %lld", (long long)t_unmap), 2);
  assert_int_equal(hq_test_q_int(s, "SELECT m.address FROM vmm_mappings m JOIN vmm_handles h ON h.id = m.handle_id "
                                    "WHERE h.handle = %lld", h[2]), va + 2 * MIB);
  assert_int_equal(hq_test_q_int(s, "SELECT m.address FROM vmm_mappings m JOIN vmm_handles h ON h.id = m.handle_id "
                                    "WHERE h.handle = %lld AND m.t_unmap IS NULL", h[4]), va);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM vmm_mappings WHERE t_unmap IS NULL"), 1);
  /* Device totals: 4 MiB at the peak (h1 + h2), 2 MiB at the end (h3 + h4). */
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='peak_device_bytes'"), 4 * MIB);
  assert_int_equal(hq_test_q_int(s, "SELECT device_bytes FROM samples ORDER BY t DESC LIMIT 1"), 2 * MIB);
  /* docs/schema.md, "CUDA": handles whose memory outlived their release. */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM (SELECT h.handle, h.size, h.t_release, a.t_free "
                                    "FROM vmm_handles h JOIN allocations a ON a.kind = 'cuda_vmm' AND "
                                    "a.address = h.handle AND a.t_alloc = h.t_create WHERE a.t_free > h.t_release)"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT h.handle FROM vmm_handles h JOIN allocations a ON a.kind = 'cuda_vmm' "
                                    "AND a.address = h.handle AND a.t_alloc = h.t_create WHERE a.t_free > h.t_release"), h[1]);
  /* Address reservations hold no memory: calls only. */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls WHERE api LIKE 'cuMemAddress%%'"), 3);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE size = %lld", 4 * MIB), 0);
  sqlite3_close(s);
  hq_test_proc_free(&p);
}

static void test_cuda_threads_devices_exact(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "threads.db");
  hq_test_proc_t p;
  sqlite3 *s;
  run_cuda("v_cuda_threads", db, NULL, &p);
  assert_int_equal(p.exit_status, 0);
  assert_string_equal(p.out, "bad=0\n");
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls"), 8000);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls WHERE result <> 0"), 0);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind = 'cuda_device'"), 4000);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind = 'cuda_device' AND t_free IS NULL"), 0);
  assert_int_equal(hq_test_q_int(s, "SELECT count(DISTINCT tid) FROM allocations WHERE kind = 'cuda_device'"), 4);
  /* Each thread's blocks carry its own context's device: size 100 + i on device i % 2. */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind = 'cuda_device' AND "
                                    "device = (size - 100) %% 2"), 4000);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls WHERE api = 'cuMemFree_v2' AND "
                                    "device = (SELECT a.device FROM allocations a WHERE a.address = "
                                    "cuda_calls.address AND a.t_free = cuda_calls.t)"), 4000);
  assert_true(hq_test_q_int(s, "SELECT value FROM meta WHERE key='peak_device_bytes'") <= 100 + 101 + 102 + 103);
  assert_true(hq_test_q_int(s, "SELECT value FROM meta WHERE key='peak_device_bytes'") >= 100);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key='unmatched_frees'"), 0);
  sqlite3_close(s);
  hq_test_proc_free(&p);
}

static void test_cuda_dlsym_rtld_next_from_library(void **state) {
  (void)state;
  const char *db = hq_test_join(hq_test_tmpdir(), "next.db");
  hq_test_proc_t p;
  /* libvnext_b's vnext_foo calls dlsym(RTLD_NEXT, "vnext_foo"): it must get libvnext_c's, which
   * only happens when heapql's dlsym leaves the caller's return address to the real one. */
  run_cuda("v_next", db, NULL, &p);
  assert_string_equal(p.out, "vnext_foo=42\n");
  assert_int_equal(p.exit_status, 0);
  assert_int_equal(p.err_len, 0);
  hq_test_proc_free(&p);
}

static void test_cuda_dlsym_is_a_jump(void **state) {
  (void)state;
  char cmd[4400], line[512];
  int lines = 0, indirect_jumps = 0, calls = 0, to_hook = 0;
  FILE *f;
  HQ_TEST_REQUIRE(hq_test_which("objdump") != NULL, "objdump (binutils)");
  snprintf(cmd, sizeof cmd, "objdump -d --no-show-raw-insn --disassemble=dlsym %s",
           hq_test_build_path("lib/libheapql_preload.so"));
  f = popen(cmd, "r");
  assert_non_null(f);
  while (fgets(line, sizeof line, f)) {
    if (!strchr(line, '\t')) continue; /* instructions only */
    lines++;
    if (strstr(line, "jmp") && strstr(line, "*%")) indirect_jumps++;
    if (strstr(line, "call")) {
      calls++;
      /* The only calls are to our own helpers, never to the real dlsym. */
      assert_true(strstr(line, "<hq__cuda_wraps>") || strstr(line, "<hq__cuda_dlsym_init>"));
    }
    if (strstr(line, "<hq__cuda_dlsym>")) {
      to_hook++;
      assert_null(strstr(line, "call"));
    }
  }
  assert_int_equal(pclose(f), 0);
  assert_true(lines > 0);
  assert_int_equal(indirect_jumps, 1); /* jmp *%rax: the real dlsym */
  assert_int_equal(calls, 2);
  assert_int_equal(to_hook, 1);        /* a conditional jump, not a call */
}

static int system_has_libcuda(void) {
  return system("ldconfig -p 2>/dev/null | grep -q 'libcuda\\.so\\.1 '") == 0;
}

static void test_cuda_missing_driver(void **state) {
  (void)state;
  static char dir[4200], old_path[4200];
  const char *env_none[] = {"LD_LIBRARY_PATH=/nonexistent", NULL};
  const char *env_old[] = {old_path, NULL};
  hq_test_proc_t p;
  sqlite3 *s;
  snprintf(dir, sizeof dir, "%s", hq_test_tmpdir()); /* the helpers' buffers rotate */
  /* Unpreloaded, the program finds no driver names at all. */
  run_cuda("v_cuda_probe", NULL, env_none, &p);
  assert_string_equal(p.out, "missing\n");
  hq_test_proc_free(&p);
  /* An older driver without cuMemCreate: cuMemAlloc_v2 reaches it, cuMemCreate is not found. */
  snprintf(old_path, sizeof old_path, "LD_LIBRARY_PATH=%s", hq_test_build_path("tests/cuda/old"));
  run_cuda("v_cuda_probe", hq_test_join(dir, "old.db"), env_old, &p);
  assert_int_equal(p.exit_status, 0);
  assert_string_equal(p.out, "alloc_rc=1\ncreate_rc=500\n");
  s = hq_test_sqlite_open(hq_test_join(dir, "old.db"));
  assert_int_equal(hq_test_q_int(s, "SELECT result FROM cuda_calls WHERE api='cuMemAlloc_v2'"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT result FROM cuda_calls WHERE api='cuMemCreate'"), 500);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind LIKE 'cuda%%'"), 0);
  sqlite3_close(s);
  hq_test_proc_free(&p);
  /* No driver at all: the hooks answer CUDA_ERROR_NOT_INITIALIZED, and the calls are recorded. */
  if (system_has_libcuda()) {
    print_message("skipped the no-driver half: this machine has a libcuda.so.1\n");
    return;
  }
  run_cuda("v_cuda_probe", hq_test_join(dir, "none.db"), env_none, &p);
  assert_int_equal(p.exit_status, 0);
  assert_string_equal(p.out, "alloc_rc=3\ncreate_rc=3\n");
  s = hq_test_sqlite_open(hq_test_join(dir, "none.db"));
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls WHERE result = 3"), 2);
  sqlite3_close(s);
  hq_test_proc_free(&p);
}

static void test_cuda_static_cudart_bootstrap(void **state) {
  (void)state;
  static char lib_path[4200];
  const char *env[] = {lib_path, "FAKE_CUDA_LOG=1", NULL};
  const char *db = hq_test_join(hq_test_tmpdir(), "cudart.db");
  hq_test_proc_t plain, p;
  sqlite3 *s;
  int lookups;
  if (!hq_test_exists(hq_test_build_path("tests/cuda/rt_bootstrap"))) {
    print_message("skipped: no CUDA toolkit (nvcc) to build a static-cudart program\n");
    skip();
  }
  snprintf(lib_path, sizeof lib_path, "LD_LIBRARY_PATH=%s", hq_test_build_path("tests/cuda"));
  /* Unpreloaded, cudart asks the driver for every entry point itself. */
  run_cuda("rt_bootstrap", NULL, env, &plain);
  lookups = (int)hq_fx_count(plain.err, "\ngpa ") + !strncmp(plain.err, "gpa ", 4);
  assert_true(lookups > 100);
  assert_int_equal((int)hq_fx_count(plain.err, " from rt_bootstrap\n"), lookups);
  /* Preloaded, the same lookups all come through heapql's cuGetProcAddress_v2 hook: cudart got
   * it from dlsym(libcuda, "cuGetProcAddress_v2") and then from ("cuGetProcAddress", 12000). */
  run_cuda("rt_bootstrap", db, env, &p);
  assert_int_equal(p.exit_status, plain.exit_status);
  assert_string_equal(p.out, plain.out);
  assert_int_equal((int)hq_fx_count(p.err, " from libheapql_preload.so\n"), lookups);
  assert_int_equal((int)hq_fx_count(p.err, " from rt_bootstrap\n"), 0);
  assert_int_equal((int)hq_fx_count(p.err, "gpa cuGetProcAddress@12000/0 from libheapql_preload.so\n"), 1);
  assert_int_equal((int)hq_fx_count(p.err, "gpa cuMemAlloc@3020/0 from libheapql_preload.so\n"), 1);
  assert_int_equal((int)hq_fx_count(p.err, "gpa cuMemAllocAsync@11020/2 from libheapql_preload.so\n"), 1);
  /* and every variant of a wrapped entry point that cudart was handed was recognised. */
  s = hq_test_sqlite_open(db);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM counters WHERE name LIKE 'cuda_unhooked:%%'"), 0);
  sqlite3_close(s);
  hq_test_proc_free(&plain);
  hq_test_proc_free(&p);
}

/* Registered host memory, CUDA arrays (size from the descriptor, every mip level) and IPC
 * mappings, each exactly once, of its own kind: arrays are device memory, registered host memory
 * is pinned host memory, an IPC mapping is another process's memory (in no total). */
static void test_cuda_more_kinds(void **state) {
  char db[4096];
  hq_test_proc_t p;
  sqlite3 *s;
  (void)state;
  snprintf(db, sizeof db, "%s", hq_test_join(hq_test_tmpdir(), "kinds.db"));
  run_cuda("v_cuda_kinds", db, NULL, &p);
  assert_int_equal(p.exit_status, 0);
  assert_string_equal(p.out, "ok\n");
  hq_test_proc_free(&p);
  s = hq_test_sqlite_open(db);
  assert_string_equal(hq_test_q_text(s, "SELECT group_concat(kind || ':' || size || ':' || (t_free IS NULL), ' ')"
                                        " FROM (SELECT * FROM allocations WHERE kind LIKE 'cuda%%' ORDER BY t_alloc, id)"),
                      "cuda_host_registered:8192:0 cuda_array:80000:1 cuda_array:16384:0 cuda_array:5376:0"
                      " cuda_array:0:1 cuda_ipc:65536:0 cuda_device:1000:1 cuda_array:80000:1 cuda_ipc:0:0");
  /* the imported handle: its mapping holds the extent; released with its handle */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM vmm_handles"), 1);
  assert_int_equal(hq_test_q_int(s, "SELECT m.size FROM vmm_mappings m JOIN vmm_handles h ON h.id = m.handle_id"
                                    " JOIN allocations a ON a.address = h.handle AND a.kind = 'cuda_ipc'"), 131072);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM kinds WHERE kind IN ('cuda_host_registered',"
                                    " 'cuda_ipc', 'cuda_array') AND class = 'device'"), 3);
  /* twenty calls, one row each; the one through cuGetProcAddress too */
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls"), 20);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls WHERE api = 'cuArrayCreate_v2'"), 3);
  assert_int_equal(hq_test_q_int(s, "SELECT size FROM cuda_calls WHERE api = 'cuMipmappedArrayCreate'"), 5376);
  /* device bytes: arrays and cuMemAlloc, never registered host memory or the IPC mapping */
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'peak_device_bytes'"),
                   80000 + 0 + 1000 + 80000);
  assert_int_equal(hq_test_q_int(s, "SELECT max(device_bytes) FROM samples"), 161000);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'unmatched_frees'"), 0);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM allocations WHERE kind = 'cuda_host_registered'"
                                    " AND device IS NULL"), 1);
  /* graph memory after each launch: used 4096 then 8192, reserved one 2 MiB step */
  assert_string_equal(hq_test_q_text(s, "SELECT group_concat(source || ':' || pool || ':' || device || ':'"
                                        " || reserved_bytes || ':' || used_bytes, ' ')"
                                        " FROM (SELECT * FROM pool_samples ORDER BY t, rowid)"),
                      "graph:0:0:2097152:4096 graph:0:0:2097152:8192");
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM cuda_calls WHERE api LIKE 'cuGraphLaunch%%'"
                                    " AND stream IS NOT NULL"), 2);
  sqlite3_close(s);
}

/* heapql run samples the device memory the driver counts for the program through NVML (a test
 * double here: 123456789 bytes for each child of heapql), from its own process; without NVML,
 * nothing. */
static void test_cuda_nvml_driver_bytes(void **state) {
  char db[4096], nvml_dir[PATH_MAX], env_lib[PATH_MAX + 32];
  char *env[] = {env_lib, "FAKE_NVML_BYTES=123456789", NULL};
  hq_test_proc_t p;
  sqlite3 *s;
  hq_json_t j;
  (void)state;
  snprintf(db, sizeof db, "%s", hq_test_join(hq_test_tmpdir(), "nvml.db"));
  if (!realpath(hq_test_build_path("tests/cuda/nvml"), nvml_dir)) fail_msg("no NVML test double");
  snprintf(env_lib, sizeof env_lib, "LD_LIBRARY_PATH=%s", nvml_dir);
  {
    char *argv[] = {HEAPQL(), "run", "-q", "--force", "-o", db, "--", "/bin/sleep", "0.2", NULL};
    assert_int_equal(hq_test_run(argv, env, NULL, 60, &p), 0);
    assert_int_equal(p.exit_status, 0);
    hq_test_proc_free(&p);
  }
  s = hq_test_sqlite_open(db);
  /* every 20 ms over 0.2 s: well over three samples, all of the program, within its run */
  assert_true(hq_test_q_int(s, "SELECT count(*) FROM device_memory_samples") >= 3);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM device_memory_samples WHERE driver_bytes <> 123456789"
                                    " OR device <> 0 OR pid <> (SELECT value FROM meta WHERE key = 'pid')"), 0);
  assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM device_memory_samples WHERE t < 0 OR t >"
                                    " (SELECT value FROM meta WHERE key = 'duration_ns') + 100000000"), 0);
  assert_int_equal(hq_test_q_int(s, "SELECT value FROM meta WHERE key = 'peak_device_driver_bytes'"), 123456789);
  sqlite3_close(s);
  {
    char *argv[] = {HEAPQL(), "report", db, "--format", "json", NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
    assert_int_equal(hq_json_parse(p.out, &j), 0);
    assert_string_equal(hq_json_get(&j, "peak.device_driver_bytes")->value, "123456789");
    hq_json_free(&j);
    hq_test_proc_free(&p);
  }
  {
    /* no NVML: no samples, no figure */
    char *argv[] = {HEAPQL(), "run", "-q", "--force", "-o", db, "--", "/bin/true", NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 60, &p), 0);
    hq_test_proc_free(&p);
    s = hq_test_sqlite_open(db);
    assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM device_memory_samples"), 0);
    assert_int_equal(hq_test_q_int(s, "SELECT count(*) FROM meta WHERE key = 'peak_device_driver_bytes'"), 0);
    sqlite3_close(s);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cuda_plt_rows_exact),
    cmocka_unit_test(test_cuda_getprocaddress_routes),
    cmocka_unit_test(test_cuda_vmm_handles_and_mappings),
    cmocka_unit_test(test_cuda_threads_devices_exact),
    cmocka_unit_test(test_cuda_dlsym_rtld_next_from_library),
    cmocka_unit_test(test_cuda_dlsym_is_a_jump),
    cmocka_unit_test(test_cuda_missing_driver),
    cmocka_unit_test(test_cuda_static_cudart_bootstrap),
    cmocka_unit_test(test_cuda_more_kinds),
    cmocka_unit_test(test_cuda_nvml_driver_bytes),
  };
  return cmocka_run_group_tests_name("preload_cuda", tests, NULL, NULL);
}
