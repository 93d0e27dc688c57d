-- heapql schema, version 2: the one definition of a heapql database.
-- Embedded at build time (scripts/embed.sh) and executed on a new database; docs/schema.md is the
-- contract users read.  Times are integer nanoseconds since the recorded process started
-- (CLOCK_MONOTONIC); sizes are the bytes the program asked for.

CREATE TABLE meta(
  key   TEXT PRIMARY KEY,
  value
) WITHOUT ROWID;

-- One row per recorded process (several after `heapql merge`).
CREATE TABLE processes(
  pid             INTEGER PRIMARY KEY,
  ppid            INTEGER,
  program         TEXT,
  command_line    TEXT,
  t_start_unix_ns INTEGER,      -- wall clock at start
  duration_ns     INTEGER,
  exit_status     INTEGER,      -- NULL when killed or unknown
  exit_signal     INTEGER,      -- NULL unless it died by a signal (when known)
  complete        INTEGER NOT NULL DEFAULT 0
);

-- Allocation kinds and the class each belongs to: 'heap' (malloc family and operator new),
-- 'mmap' (anonymous mappings), 'pool' (custom-allocator sub-allocations), 'device' (CUDA).
-- Its rows are generated from the one table of kinds, HQ_KIND_MAP in
-- include/heapql/internal/kinds.h, when a database is created (analyzer/base/hq_db.c).
CREATE TABLE kinds(
  kind  TEXT PRIMARY KEY,
  class TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE modules(
  id          INTEGER PRIMARY KEY,
  pid         INTEGER NOT NULL,
  path        TEXT NOT NULL,
  build_id    TEXT,             -- hex GNU build-id, NULL if the module has none
  base        INTEGER NOT NULL, -- load bias (dlpi_addr)
  size        INTEGER NOT NULL, -- extent of the PT_LOAD segments from base
  gen_first   INTEGER NOT NULL, -- module-map generation in which it was first seen
  gen_last    INTEGER,          -- last generation in which it was mapped; NULL = still mapped
  file_status TEXT              -- set by symbolization: 'ok', 'missing', 'changed', 'no-debug-info'
);

-- One row per distinct return address.  Rows referenced by stacks are physical frames; with
-- inlining, function/file/line describe the innermost inlined function, and inline_parent
-- points at a row (same ip) for the function it was inlined into.
CREATE TABLE frames(
  id            INTEGER PRIMARY KEY,
  module_id     INTEGER REFERENCES modules(id),
  ip            INTEGER NOT NULL, -- absolute return address as recorded
  offset        INTEGER,          -- ip - module base (file-relative address), NULL if no module
  function      TEXT,             -- demangled; NULL until symbolized or when unknown
  file          TEXT,
  line          INTEGER,
  inline_parent INTEGER REFERENCES frames(id),
  is_inline     INTEGER NOT NULL DEFAULT 0
);

-- Stacks form a trie: root = outermost frame, each node adds one frame further in.  A stack is
-- named by its leaf node; walk parent_id to the root.
CREATE TABLE stacks(
  id        INTEGER PRIMARY KEY,
  parent_id INTEGER REFERENCES stacks(id),
  frame_id  INTEGER NOT NULL REFERENCES frames(id),
  depth     INTEGER NOT NULL      -- 1 for a root node
);

CREATE TABLE threads(
  pid     INTEGER NOT NULL,
  tid     INTEGER NOT NULL,
  name    TEXT,
  t_start INTEGER,
  t_end   INTEGER,
  PRIMARY KEY(pid, tid)
) WITHOUT ROWID;

CREATE TABLE allocations(
  id            INTEGER PRIMARY KEY,
  pid           INTEGER NOT NULL,
  kind          TEXT NOT NULL REFERENCES kinds(kind),
  device        INTEGER,          -- CUDA device ordinal; NULL for host memory
  address       INTEGER NOT NULL,
  size          INTEGER NOT NULL, -- bytes requested
  alignment     INTEGER,          -- requested alignment for aligned kinds
  stack_id      INTEGER REFERENCES stacks(id),
  tid           INTEGER,
  t_alloc       INTEGER NOT NULL,
  t_free        INTEGER,          -- NULL = never freed
  free_stack_id INTEGER REFERENCES stacks(id),
  free_tid      INTEGER,
  free_kind     TEXT,             -- 'free', 'delete', 'delete[]', 'realloc', 'munmap', ...
  alloc_seq     INTEGER,          -- n-th allocation event of its thread (1-based)
  free_seq      INTEGER,          -- allocation events of the freeing thread at the free
  realloc_from  INTEGER REFERENCES allocations(id),
  leak_class    TEXT,             -- set by leak classification; NULL until then
  stream        INTEGER,          -- CUDA stream
  pool          INTEGER,          -- custom pool / CUDA memory pool
  region_id     INTEGER REFERENCES regions(id)
);

-- Phases of the program: heapql's annotate.h regions and NVTX ranges (schema 2 added source,
-- domain, category, category_name and scope).  Thread-scoped regions nest (parent_id) and the
-- allocations made inside one carry the innermost's id; NVTX start/end ranges are process-wide.
CREATE TABLE regions(
  id            INTEGER PRIMARY KEY,
  pid           INTEGER,
  name          TEXT NOT NULL,
  parent_id     INTEGER REFERENCES regions(id),
  tid           INTEGER,          -- NULL for a process-wide range
  t_begin       INTEGER NOT NULL,
  t_end         INTEGER,
  source        TEXT NOT NULL DEFAULT 'annotate', -- 'annotate' (annotate.h) or 'nvtx'
  domain        TEXT,             -- the NVTX domain's name; NULL: annotate.h, NVTX's default domain
  category      INTEGER,          -- the NVTX category; NULL: none
  category_name TEXT,             -- its name (nvtxNameCategory), when the program gave one
  scope         TEXT NOT NULL DEFAULT 'thread'    -- 'thread' (push/pop) or 'process' (start/end)
);

CREATE TABLE counters(
  pid   INTEGER,
  name  TEXT NOT NULL,
  t     INTEGER NOT NULL,
  value REAL
);

-- Timeline.  heap_bytes: live heap-class bytes; mmap_bytes: live anonymous mappings;
-- device_bytes: live CUDA device memory; rss_bytes: resident set size read from /proc.
CREATE TABLE samples(
  pid          INTEGER,
  t            INTEGER NOT NULL,
  heap_bytes   INTEGER NOT NULL,
  mmap_bytes   INTEGER,
  device_bytes INTEGER,
  rss_bytes    INTEGER
);

CREATE TABLE cuda_calls(
  id          INTEGER PRIMARY KEY,
  pid         INTEGER,
  tid         INTEGER,
  t           INTEGER NOT NULL,
  api         TEXT NOT NULL,
  result      INTEGER NOT NULL,
  address     INTEGER,
  handle      INTEGER,
  size        INTEGER,
  flags       INTEGER,
  stream      INTEGER,
  pool        INTEGER,
  device      INTEGER,
  duration_ns INTEGER,
  stack_id    INTEGER REFERENCES stacks(id)
);

-- Device allocations that failed (schema 2): the allocating driver call (cuda_calls.id) and,
-- at that instant, the device blocks live on its device: in all (live_*) and by stack
-- (device_failure_live).  Devices are CUDA ordinals; NULL when the call's device is unknown.
CREATE TABLE device_failures(
  id          INTEGER PRIMARY KEY,
  pid         INTEGER,
  call_id     INTEGER REFERENCES cuda_calls(id),
  t           INTEGER NOT NULL,
  api         TEXT NOT NULL,
  result      INTEGER NOT NULL,   -- the CUresult (2: CUDA_ERROR_OUT_OF_MEMORY)
  size        INTEGER,            -- bytes asked for
  device      INTEGER,
  live_blocks INTEGER NOT NULL,
  live_bytes  INTEGER NOT NULL,
  stack_id    INTEGER REFERENCES stacks(id)  -- the failing call's stack
);
CREATE TABLE device_failure_live(
  failure_id INTEGER NOT NULL REFERENCES device_failures(id),
  stack_id   INTEGER REFERENCES stacks(id),
  blocks     INTEGER NOT NULL,
  bytes      INTEGER NOT NULL
);

-- Virtual address ranges reserved with cuMemAddressReserve (schema 2): no memory of their
-- own (cuMemMap puts cuMemCreate's into them), so no allocations rows; t_free from
-- cuMemAddressFree, NULL when never freed.
CREATE TABLE va_reservations(
  id        INTEGER PRIMARY KEY,
  pid       INTEGER,
  tid       INTEGER,
  address   INTEGER NOT NULL,
  size      INTEGER NOT NULL,
  alignment INTEGER,
  device    INTEGER,           -- the calling thread's context's device
  t_reserve INTEGER NOT NULL,
  t_free    INTEGER,
  stack_id  INTEGER REFERENCES stacks(id)
);

-- Stream-ordered memory pools (cuMemAllocAsync & co., schema 2): what the pool holds from the
-- device (reserved_bytes) and what of it is handed out (used_bytes), read from the driver right
-- after each allocation from the pool and each release (every pool seen, after a release); and
-- a device's graph memory after each graph launch (source 'graph', pool 0).
CREATE TABLE pool_samples(
  pid            INTEGER,
  t              INTEGER NOT NULL,
  pool           INTEGER NOT NULL,  -- the CUmemoryPool; 0 for graph memory
  device         INTEGER,
  reserved_bytes INTEGER NOT NULL,
  used_bytes     INTEGER NOT NULL,
  source         TEXT NOT NULL DEFAULT 'pool'  -- 'pool' or 'graph'
);

-- The device memory the driver counts for the process (NVML's per-process used memory, which
-- includes the CUDA context, module images and libraries' workspaces), sampled every 20 ms by
-- `heapql run` while the program ran; absent without NVML (schema 2).
CREATE TABLE device_memory_samples(
  pid          INTEGER,
  t            INTEGER NOT NULL,
  device       INTEGER NOT NULL,
  driver_bytes INTEGER NOT NULL
);

CREATE TABLE vmm_handles(
  id        INTEGER PRIMARY KEY,
  pid       INTEGER,
  handle    INTEGER NOT NULL,
  size      INTEGER NOT NULL,
  device    INTEGER,
  t_create  INTEGER NOT NULL,
  t_release INTEGER,
  stack_id  INTEGER REFERENCES stacks(id)
);

CREATE TABLE vmm_mappings(
  id        INTEGER PRIMARY KEY,
  pid       INTEGER,
  handle_id INTEGER REFERENCES vmm_handles(id),
  address   INTEGER NOT NULL,
  size      INTEGER NOT NULL,
  offset    INTEGER,
  t_map     INTEGER NOT NULL,
  t_unmap   INTEGER
);

-- The site of every stack that allocated: the first frame from the allocator outwards (inline
-- frames expanded) that is not an allocation wrapper (docs/schema.md, "Sites").  Derived, like
-- the agg_* tables: heapql fills it on the first report, `heapql query` or `heapql symbolize`
-- after symbols or the wrapper patterns change, and refills it when they do.
CREATE TABLE stack_sites(
  stack_id  INTEGER PRIMARY KEY REFERENCES stacks(id),
  position  INTEGER NOT NULL,  -- stack_frames.position of the site's frame
  frame_id  INTEGER REFERENCES frames(id),
  site      TEXT NOT NULL,     -- "function file:line", "function (module)", "module+0xOFFSET"
  function  TEXT,
  file      TEXT,
  line      INTEGER,
  module    TEXT,
  offset    INTEGER,
  caller    TEXT,              -- the next frame out, as a site; for a site without a name the
                               -- first named frame further out
  stale     INTEGER NOT NULL   -- 1: the site's module changed or went missing since the run
);
CREATE TABLE stack_sites_info(key TEXT PRIMARY KEY, value) WITHOUT ROWID;

-- ---- views ----
-- The views are the documented query interface (docs/schema.md).  They read the base tables
-- only, so they are always true; the reports read the agg_* tables that hq__aggregate_build()
-- derives from the same rows (analyzer/hq_aggregate.c), and docs/schema.md gives, for every
-- report figure, the query over these views and tables that reproduces it.  Orderings end with a
-- unique key so that equal values always come out in the same order.

-- Every block never freed, of every class (the report's leak figures count class 'heap').
CREATE VIEW leaks AS
  SELECT a.*, k.class AS class
  FROM allocations a JOIN kinds k ON k.kind = a.kind
  WHERE a.t_free IS NULL;

-- Leaked blocks and bytes per allocation stack and class, largest first.
CREATE VIEW leak_sites AS
  SELECT a.stack_id, k.class, count(*) AS blocks, sum(a.size) AS bytes
  FROM allocations a JOIN kinds k ON k.kind = a.kind
  WHERE a.t_free IS NULL
  GROUP BY a.stack_id, k.class
  ORDER BY bytes DESC, a.stack_id, k.class;

-- Heaptrack's temporary allocations, per thread: freed by the allocating thread before that
-- thread made any other allocation (the free happened while the thread's allocation count was
-- still the block's own alloc_seq).
CREATE VIEW temporary AS
  SELECT a.*, k.class AS class
  FROM allocations a JOIN kinds k ON k.kind = a.kind
  WHERE a.t_free IS NOT NULL AND a.free_tid = a.tid AND a.free_seq = a.alloc_seq;

-- Per allocation stack and class: allocation calls (a realloc is one call), requested bytes,
-- free calls (the release of a block by a moving realloc is not a free call), realloc calls,
-- blocks passed on to a later realloc, leaks, temporaries, and the largest single request.
CREATE VIEW callsites AS
  SELECT g.stack_id AS stack_id, k.class AS class,
         sum(g.allocations) AS allocations, sum(g.bytes) AS bytes, sum(g.frees) AS frees,
         sum(g.reallocs) AS reallocs, sum(g.realloced) AS realloced,
         sum(g.leaked_blocks) AS leaked_blocks, sum(g.leaked_bytes) AS leaked_bytes,
         sum(g.temporary) AS temporary, max(g.max_size) AS max_size
  FROM (SELECT a.stack_id, a.kind,
               count(*) AS allocations,
               sum(a.size) AS bytes,
               sum(a.t_free IS NOT NULL AND coalesce(a.free_kind, '') <> 'realloc') AS frees,
               sum(a.realloc_from IS NOT NULL) AS reallocs,
               sum(coalesce(a.free_kind, '') = 'realloc') AS realloced,
               sum(a.t_free IS NULL) AS leaked_blocks,
               coalesce(sum(CASE WHEN a.t_free IS NULL THEN a.size END), 0) AS leaked_bytes,
               sum(coalesce(a.t_free IS NOT NULL AND a.free_tid = a.tid
                            AND a.free_seq = a.alloc_seq, 0)) AS temporary,
               max(a.size) AS max_size
        FROM allocations a GROUP BY a.stack_id, a.kind) g
       JOIN kinds k ON k.kind = g.kind
  GROUP BY g.stack_id, k.class
  ORDER BY bytes DESC, g.stack_id, k.class;

-- Power-of-two size buckets: bucket b holds sizes in [2^b, 2^(b+1)); size 0 is bucket -1.
CREATE VIEW size_histogram AS
  SELECT k.class AS class, g.bucket AS bucket,
         CASE WHEN g.bucket < 0 THEN 0 ELSE 1 << g.bucket END AS min_size,
         CASE WHEN g.bucket < 0 THEN 0 WHEN g.bucket >= 62 THEN 9223372036854775807
              ELSE (1 << (g.bucket + 1)) - 1 END AS max_size,
         sum(g.allocations) AS allocations, sum(g.bytes) AS bytes
  FROM (SELECT a.kind,
               CASE WHEN a.size <= 0 THEN -1 WHEN a.size < 2 THEN 0 WHEN a.size < 4 THEN 1
                 WHEN a.size < 8 THEN 2 WHEN a.size < 16 THEN 3 WHEN a.size < 32 THEN 4
                 WHEN a.size < 64 THEN 5 WHEN a.size < 128 THEN 6 WHEN a.size < 256 THEN 7
                 WHEN a.size < 512 THEN 8 WHEN a.size < 1024 THEN 9 WHEN a.size < 2048 THEN 10
                 WHEN a.size < 4096 THEN 11 WHEN a.size < 8192 THEN 12
                 WHEN a.size < 16384 THEN 13 WHEN a.size < 32768 THEN 14
                 WHEN a.size < 65536 THEN 15 WHEN a.size < 131072 THEN 16
                 WHEN a.size < 262144 THEN 17 WHEN a.size < 524288 THEN 18
                 WHEN a.size < 1048576 THEN 19 WHEN a.size < 2097152 THEN 20
                 WHEN a.size < 4194304 THEN 21 WHEN a.size < 8388608 THEN 22
                 WHEN a.size < 16777216 THEN 23 WHEN a.size < 33554432 THEN 24
                 WHEN a.size < 67108864 THEN 25 WHEN a.size < 134217728 THEN 26
                 WHEN a.size < 268435456 THEN 27 WHEN a.size < 536870912 THEN 28
                 WHEN a.size < 1073741824 THEN 29 WHEN a.size < 2147483648 THEN 30
                 WHEN a.size < 4294967296 THEN 31 WHEN a.size < 8589934592 THEN 32
                 WHEN a.size < 17179869184 THEN 33 WHEN a.size < 34359738368 THEN 34
                 WHEN a.size < 68719476736 THEN 35 WHEN a.size < 137438953472 THEN 36
                 WHEN a.size < 274877906944 THEN 37 WHEN a.size < 549755813888 THEN 38
                 WHEN a.size < 1099511627776 THEN 39 WHEN a.size < 2199023255552 THEN 40
                 WHEN a.size < 4398046511104 THEN 41 WHEN a.size < 8796093022208 THEN 42
                 WHEN a.size < 17592186044416 THEN 43 WHEN a.size < 35184372088832 THEN 44
                 WHEN a.size < 70368744177664 THEN 45 WHEN a.size < 140737488355328 THEN 46
                 WHEN a.size < 281474976710656 THEN 47 WHEN a.size < 562949953421312 THEN 48
                 WHEN a.size < 1125899906842624 THEN 49 WHEN a.size < 2251799813685248 THEN 50
                 WHEN a.size < 4503599627370496 THEN 51 WHEN a.size < 9007199254740992 THEN 52
                 WHEN a.size < 18014398509481984 THEN 53 WHEN a.size < 36028797018963968 THEN 54
                 WHEN a.size < 72057594037927936 THEN 55 WHEN a.size < 144115188075855872 THEN 56
                 WHEN a.size < 288230376151711744 THEN 57
                 WHEN a.size < 576460752303423488 THEN 58
                 WHEN a.size < 1152921504606846976 THEN 59
                 WHEN a.size < 2305843009213693952 THEN 60
                 WHEN a.size < 4611686018427387904 THEN 61 ELSE 62 END AS bucket,
               count(*) AS allocations, sum(a.size) AS bytes
        FROM allocations a GROUP BY 1, 2) g
       JOIN kinds k ON k.kind = g.kind
  GROUP BY k.class, g.bucket ORDER BY k.class, g.bucket;

-- The timeline, with times also in seconds.
CREATE VIEW timeline AS
  SELECT pid, t, t / 1e9 AS t_s, heap_bytes, mmap_bytes, device_bytes, rss_bytes
  FROM samples ORDER BY pid, t;

-- Every frame of every stack, from the allocation site (position 0) outwards to the root, with
-- inline frames expanded: a physical frame (hop h) gives its innermost function first
-- (is_inline 0), then each function it was inlined into (is_inline 1).  A filter on stack_id is
-- applied before the walk, so "WHERE stack_id = N" costs one stack's depth, not the whole trie.
CREATE VIEW stack_frames AS
  SELECT s.id AS stack_id,
         CAST(j.key AS INTEGER) AS position,
         json_extract(j.value, '$[0]') AS hop,
         f.is_inline,
         f.inline_parent IS NOT NULL AS inlined,
         f.id AS frame_id, f.ip, f.function, f.file, f.line,
         m.path AS module, f.offset
  FROM stacks s,
       json_each((
         WITH RECURSIVE
           walk(node, hop) AS (
             SELECT s.id, 0
             UNION ALL
             SELECT p.parent_id, w.hop + 1 FROM walk w JOIN stacks p ON p.id = w.node
             WHERE p.parent_id IS NOT NULL),
           expand(hop, inl, frame_id) AS (
             SELECT w.hop, 0, n.frame_id FROM walk w JOIN stacks n ON n.id = w.node
             UNION ALL
             SELECT e.hop, e.inl + 1, f.inline_parent
             FROM expand e JOIN frames f ON f.id = e.frame_id
             WHERE f.inline_parent IS NOT NULL)
         SELECT json_group_array(json_array(hop, frame_id))
         FROM (SELECT hop, frame_id FROM expand ORDER BY hop, inl))) j
       JOIN frames f ON f.id = json_extract(j.value, '$[1]')
       LEFT JOIN modules m ON m.id = f.module_id;

-- A stack as readable text, one line per frame from the allocation site outwards:
-- "function file:line", "function (module+0xOFFSET)" or "0xIP (module+0xOFFSET)", and
-- " [inlined]" after a function that was inlined into the next line's.
CREATE VIEW stack_text AS
  SELECT s.id AS stack_id,
         (SELECT group_concat(line_text, char(10)) FROM (
            SELECT coalesce(sf.function, printf('0x%x', sf.ip)) ||
                   CASE WHEN sf.file IS NOT NULL THEN ' ' || sf.file || ':' || coalesce(sf.line, 0)
                        WHEN sf.module IS NOT NULL
                          THEN ' (' || sf.module || '+' || printf('0x%x', sf.offset) || ')'
                        ELSE '' END ||
                   CASE WHEN sf.inlined THEN ' [inlined]' ELSE '' END AS line_text
            FROM stack_frames sf WHERE sf.stack_id = s.id
            ORDER BY sf.position)) AS text
  FROM stacks s;

-- What was live at the moment of peak heap (meta 'peak_heap_t'), grouped by stack: heap-class
-- blocks allocated at or before that time and not freed by then.  Summed, the bytes equal the
-- peak heap figure.  In a merged database: the blocks of the process meta 'peak_heap_pid'.
CREATE VIEW peak_sites AS
  SELECT a.stack_id, count(*) AS blocks, sum(a.size) AS bytes
  FROM allocations a
  WHERE a.kind IN (SELECT kind FROM kinds WHERE class = 'heap')
    AND a.pid = coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'peak_heap_pid'),
                         a.pid)
    AND a.t_alloc <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'peak_heap_t')
    AND (a.t_free IS NULL
         OR a.t_free > (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'peak_heap_t'))
  GROUP BY a.stack_id ORDER BY bytes DESC, a.stack_id;

-- tracemalloc-style: allocations and bytes by the source line that called the allocator (the
-- innermost function of the allocation's leaf frame; in a stack with Python frames, the
-- innermost Python frame, whose ip is at or above 2^62).  Frames without line information are
-- grouped by module and offset instead (file and line NULL).
CREATE VIEW by_line AS
  WITH RECURSIVE up(stack_id, node, frame_id) AS (
    SELECT s.id, s.parent_id, s.frame_id FROM stacks s
    UNION ALL
    SELECT u.stack_id, s.parent_id, s.frame_id FROM up u JOIN stacks s ON s.id = u.node
     WHERE (SELECT ip FROM frames WHERE id = u.frame_id) < 4611686018427387904),
  python_line(stack_id, frame_id) AS (
    SELECT u.stack_id, min(u.frame_id) FROM up u JOIN frames f ON f.id = u.frame_id
     WHERE f.ip >= 4611686018427387904 GROUP BY u.stack_id)
  SELECT k.class AS class, f.file AS file, f.line AS line, f.function AS function,
         CASE WHEN f.file IS NULL THEN m.path END AS module,
         CASE WHEN f.file IS NULL THEN f.offset END AS offset,
         sum(g.allocations) AS allocations, sum(g.bytes) AS bytes,
         sum(g.leaked_blocks) AS leaked_blocks, sum(g.leaked_bytes) AS leaked_bytes,
         sum(g.temporary) AS temporary
  FROM (SELECT a.stack_id, a.kind, count(*) AS allocations, sum(a.size) AS bytes,
               sum(a.t_free IS NULL) AS leaked_blocks,
               coalesce(sum(CASE WHEN a.t_free IS NULL THEN a.size END), 0) AS leaked_bytes,
               sum(coalesce(a.t_free IS NOT NULL AND a.free_tid = a.tid
                            AND a.free_seq = a.alloc_seq, 0)) AS temporary
        FROM allocations a GROUP BY a.stack_id, a.kind) g
       JOIN kinds k ON k.kind = g.kind
       JOIN stacks s ON s.id = g.stack_id
       LEFT JOIN python_line p ON p.stack_id = g.stack_id
       JOIN frames f ON f.id = coalesce(p.frame_id, s.frame_id)
       LEFT JOIN modules m ON m.id = f.module_id
  GROUP BY k.class, f.file, f.line, f.function,
           CASE WHEN f.file IS NULL THEN m.path END, CASE WHEN f.file IS NULL THEN f.offset END
  ORDER BY bytes DESC, allocations DESC, k.class, f.file, f.line, f.function,
           CASE WHEN f.file IS NULL THEN m.path END, CASE WHEN f.file IS NULL THEN f.offset END;

-- Per site and class: the callsites figures of every stack that reaches the site, summed;
-- stacks: how many stacks do.  Allocations recorded without a stack are the site '(no stack)'.
CREATE VIEW sites AS
  SELECT coalesce(ss.site, '(no stack)') AS site, c.class AS class,
         sum(c.allocations) AS allocations, sum(c.bytes) AS bytes, sum(c.frees) AS frees,
         sum(c.reallocs) AS reallocs, sum(c.realloced) AS realloced,
         sum(c.leaked_blocks) AS leaked_blocks, sum(c.leaked_bytes) AS leaked_bytes,
         sum(c.temporary) AS temporary, max(c.max_size) AS max_size, count(*) AS stacks
  FROM callsites c LEFT JOIN stack_sites ss ON ss.stack_id = c.stack_id
  GROUP BY 1, 2
  ORDER BY bytes DESC, site, class;
