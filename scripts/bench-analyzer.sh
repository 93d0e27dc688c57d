#!/usr/bin/env bash
# bench-analyzer.sh: the analyzer benchmark of docs/benchmarks.md ("Analyzer").
#
# Synthesizes a database of HQ_BENCH_ALLOCATIONS (default 10 million) allocations with
# build/bench/gen_db (aggregates built the importer's way, while streaming), then times
# `heapql report` and `heapql leaks` on it (hyperfine when installed), the first report on a copy
# without aggregate tables (what an importer that skips them costs), and a few documented views.
# Usage: scripts/bench-analyzer.sh   (after `make bench` or `make all build/bench/gen_db`)
set -euo pipefail
build=${HEAPQL_BUILD:-build}
n=${HQ_BENCH_ALLOCATIONS:-10000000}
heapql=$build/bin/heapql
gen=$build/bench/gen_db
[ -x "$heapql" ] && [ -x "$gen" ] || { echo "bench-analyzer: build first: make all $gen" >&2; exit 2; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/heapql-bench-XXXXXX")
trap 'rm -rf "$dir"' EXIT
db=$dir/bench.db

echo "== generating $n allocations"
"$gen" "$db" --allocations "$n"
bytes=$(stat -c %s "$db")
echo "database: $bytes bytes, $(( bytes / n )) bytes per allocation"

echo "== heapql report / leaks ($n allocations)"
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 2 --runs 10 -N "$heapql report $db" "$heapql leaks $db" \
    "$heapql report $db --format json" "$heapql report $db --recommend"
else
  for cmd in report leaks; do
    /usr/bin/time -f "$cmd: %e s" "$heapql" "$cmd" "$db" >/dev/null
  done
fi

echo "== first report without aggregate tables (one pass over the rows)"
cp "$db" "$dir/noagg.db"
sqlite3 "$dir/noagg.db" "DROP TABLE agg_info; DROP TABLE agg_stack; DROP TABLE agg_class;
  DROP TABLE agg_size; DROP TABLE agg_leak_class; DROP TABLE agg_line;"
/usr/bin/time -f "report, building aggregates: %e s, %M KB" "$heapql" report "$dir/noagg.db" >/dev/null
/usr/bin/time -f "report, aggregates built:    %e s" "$heapql" report "$dir/noagg.db" >/dev/null

echo "== documented views over the base tables (no aggregates)"
for q in "SELECT count(*), sum(size) FROM leaks WHERE class = 'heap'" \
         "SELECT count(*) FROM temporary WHERE class = 'heap'" \
         "SELECT stack_id, bytes FROM peak_sites LIMIT 10" \
         "SELECT stack_id, allocations FROM callsites WHERE class = 'heap' ORDER BY allocations DESC, stack_id LIMIT 10" \
         "SELECT text FROM stack_text WHERE stack_id = 100"; do
  /usr/bin/time -f "%e s  $q" "$heapql" query "$db" "$q" >/dev/null
done
