-- heapql schema, version 1: the one definition of a heapql database.
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
CREATE TABLE kinds(
  kind  TEXT PRIMARY KEY,
  class TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO kinds VALUES
  ('malloc','heap'), ('calloc','heap'), ('realloc','heap'), ('aligned','heap'),
  ('new','heap'), ('new[]','heap'), ('mmap','mmap'), ('pool','pool'),
  ('cuda_device','device'), ('cuda_managed','device'), ('cuda_host','device'),
  ('cuda_async','device'), ('cuda_vmm','device'), ('cuda_array','device');

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

CREATE TABLE regions(
  id        INTEGER PRIMARY KEY,
  pid       INTEGER,
  name      TEXT NOT NULL,
  parent_id INTEGER REFERENCES regions(id),
  tid       INTEGER,
  t_begin   INTEGER NOT NULL,
  t_end     INTEGER
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

-- ---- views ----

-- Every block never freed.
CREATE VIEW leaks AS
  SELECT a.* FROM allocations a WHERE a.t_free IS NULL;

-- Leaked blocks and bytes per allocation stack, largest first.
CREATE VIEW leak_sites AS
  SELECT a.stack_id, a.kind, k.class, count(*) AS blocks, sum(a.size) AS bytes
  FROM allocations a JOIN kinds k USING(kind)
  WHERE a.t_free IS NULL
  GROUP BY a.stack_id, a.kind
  ORDER BY bytes DESC;

-- Allocation calls and bytes per stack.
CREATE VIEW callsites AS
  SELECT a.stack_id, k.class, count(*) AS allocations, sum(a.size) AS bytes,
         sum(a.t_free IS NULL) AS leaked_blocks,
         coalesce(sum(CASE WHEN a.t_free IS NULL THEN a.size END), 0) AS leaked_bytes
  FROM allocations a JOIN kinds k USING(kind)
  GROUP BY a.stack_id, k.class
  ORDER BY bytes DESC;

-- Heaptrack's temporary allocations, per thread: freed by the allocating thread before that
-- thread made any other allocation.
CREATE VIEW temporary AS
  SELECT a.* FROM allocations a
  WHERE a.t_free IS NOT NULL AND a.free_tid = a.tid AND a.free_seq = a.alloc_seq;

-- Power-of-two size buckets: bucket b holds sizes in [2^b, 2^(b+1)); size 0 is bucket -1.
CREATE VIEW size_histogram AS
  WITH b AS (
    SELECT a.size, k.class,
           CASE WHEN a.size = 0 THEN -1 ELSE
             (SELECT max(n) FROM (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL
               SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL
               SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9 UNION ALL SELECT 10 UNION ALL
               SELECT 11 UNION ALL SELECT 12 UNION ALL SELECT 13 UNION ALL SELECT 14 UNION ALL
               SELECT 15 UNION ALL SELECT 16 UNION ALL SELECT 17 UNION ALL SELECT 18 UNION ALL
               SELECT 19 UNION ALL SELECT 20 UNION ALL SELECT 21 UNION ALL SELECT 22 UNION ALL
               SELECT 23 UNION ALL SELECT 24 UNION ALL SELECT 25 UNION ALL SELECT 26 UNION ALL
               SELECT 27 UNION ALL SELECT 28 UNION ALL SELECT 29 UNION ALL SELECT 30 UNION ALL
               SELECT 31 UNION ALL SELECT 32 UNION ALL SELECT 33 UNION ALL SELECT 34 UNION ALL
               SELECT 35 UNION ALL SELECT 36 UNION ALL SELECT 37 UNION ALL SELECT 38 UNION ALL
               SELECT 39 UNION ALL SELECT 40) WHERE (1 << n) <= a.size) END AS bucket
    FROM allocations a JOIN kinds k USING(kind))
  SELECT class, bucket,
         CASE WHEN bucket < 0 THEN 0 ELSE 1 << bucket END AS min_size,
         CASE WHEN bucket < 0 THEN 0 ELSE (1 << (bucket + 1)) - 1 END AS max_size,
         count(*) AS allocations, sum(size) AS bytes
  FROM b GROUP BY class, bucket ORDER BY class, bucket;

-- The timeline in seconds.
CREATE VIEW timeline AS
  SELECT pid, t, t / 1e9 AS t_s, heap_bytes, mmap_bytes, device_bytes, rss_bytes
  FROM samples ORDER BY pid, t;

-- Every frame of every stack, leaf (depth_from_leaf 0) to root, with inline frames expanded:
-- a physical frame contributes its innermost function first, then each function it was
-- inlined into.
CREATE VIEW stack_frames AS
  WITH RECURSIVE
    walk(stack_id, node, hop) AS (
      SELECT id, id, 0 FROM stacks
      UNION ALL
      SELECT w.stack_id, s.parent_id, w.hop + 1
      FROM walk w JOIN stacks s ON s.id = w.node WHERE s.parent_id IS NOT NULL),
    expand(stack_id, hop, inl, frame_id) AS (
      SELECT w.stack_id, w.hop, 0, s.frame_id FROM walk w JOIN stacks s ON s.id = w.node
      UNION ALL
      SELECT e.stack_id, e.hop, e.inl + 1, f.inline_parent
      FROM expand e JOIN frames f ON f.id = e.frame_id WHERE f.inline_parent IS NOT NULL)
  SELECT e.stack_id, e.hop, e.inl, f.id AS frame_id, f.ip, f.function, f.file, f.line,
         m.path AS module, f.offset
  FROM expand e JOIN frames f ON f.id = e.frame_id LEFT JOIN modules m ON m.id = f.module_id;

-- A stack as readable text, one line per frame from the allocation site outwards.
CREATE VIEW stack_text AS
  SELECT stack_id, group_concat(line_text, char(10)) AS text FROM (
    SELECT stack_id,
           coalesce(function, printf('0x%x', ip)) ||
           CASE WHEN file IS NOT NULL THEN ' ' || file || ':' || coalesce(line, 0)
                WHEN module IS NOT NULL THEN ' (' || module || '+' || printf('0x%x', offset) || ')'
                ELSE '' END AS line_text
    FROM stack_frames ORDER BY stack_id, hop, inl)
  GROUP BY stack_id;

-- What was live at the moment of peak heap (meta 'peak_heap_t'), grouped by stack.
CREATE VIEW peak_sites AS
  SELECT a.stack_id, count(*) AS blocks, sum(a.size) AS bytes
  FROM allocations a JOIN kinds k USING(kind)
  WHERE k.class = 'heap'
    AND a.t_alloc <= (SELECT value FROM meta WHERE key = 'peak_heap_t')
    AND (a.t_free IS NULL OR a.t_free > (SELECT value FROM meta WHERE key = 'peak_heap_t'))
  GROUP BY a.stack_id ORDER BY bytes DESC;

-- tracemalloc-style: bytes and count by the source line that called the allocator.
CREATE VIEW by_line AS
  SELECT f.file, f.line, f.function, count(*) AS allocations, sum(a.size) AS bytes,
         sum(a.t_free IS NULL) AS leaked_blocks
  FROM allocations a JOIN stacks s ON s.id = a.stack_id JOIN frames f ON f.id = s.frame_id
  GROUP BY f.file, f.line, f.function ORDER BY bytes DESC;
