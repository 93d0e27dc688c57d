#!/usr/bin/env bash
# bench-analyzer.sh: the analyzer benchmark of docs/benchmarks.md ("Analyzer").
#
# Part 1, one recorded workload, heapql beside heaptrack: build/bench/churn with
# HQ_BENCH_PAIRS (default 10 million) malloc/free pairs, i.e. that many allocations and twice as
# many events, recorded by heapql and by heaptrack.  Times, interleaved run by run and reported
# as medians of HQ_BENCH_RUNS (default 5): the program alone, `heapql run` (record + import +
# symbols + aggregates), heapql's recorder alone, `heapql import` of its raw trace (the import
# rate in events per second), `heaptrack` (record + its interpreter + zstd); then
# `heapql report`, `heapql leaks` and `heaptrack_print` (default report, and --print-leaks) on
# the same workload (hyperfine when installed), and the size of each file per event.
#
# Part 2, reports on a synthetic database: HQ_BENCH_ALLOCATIONS (default 10 million)
# allocations made by build/bench/gen_db (aggregates built the importer's way, while
# streaming), then `heapql report` and `heapql leaks` on it, the first report on a copy without
# aggregate tables (what an importer that skips them costs), and a few documented views.
#
# Usage: scripts/bench-analyzer.sh   (after `make bench` or `make all build/bench/gen_db
#        build/bench/churn`); HQ_BENCH_SKIP_RECORDED=1 skips part 1.
set -euo pipefail
build=${HEAPQL_BUILD:-build}
n=${HQ_BENCH_ALLOCATIONS:-10000000}
pairs=${HQ_BENCH_PAIRS:-10000000}
runs=${HQ_BENCH_RUNS:-5}
heapql=$(realpath "$build/bin/heapql")
gen=$build/bench/gen_db
churn=$(realpath "$build/bench/churn")
preload=$(realpath "$build/lib/libheapql_preload.so")
[ -x "$heapql" ] && [ -x "$gen" ] && [ -x "$churn" ] ||
  { echo "bench-analyzer: build first: make all $gen $build/bench/churn" >&2; exit 2; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/heapql-bench-XXXXXX")
trap 'rm -rf "$dir"' EXIT
db=$dir/bench.db

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# elapsed CMD...: wall seconds of one run, output discarded
elapsed() {
  local s e
  s=$(now)
  "$@" >/dev/null 2>&1
  e=$(now)
  echo "$e - $s" | bc -l
}

recorded() {
  local w=$dir/rec raw t_plain t_run t_rec t_imp t_ht events hdb ht
  mkdir -p "$w"
  echo "== one workload, heapql and heaptrack: churn 1 $pairs ($runs interleaved runs, medians)"
  # The raw trace that `heapql import` reads, kept for every run (import leaves it in place).
  HEAPQL_DEFER_IMPORT=1 HEAPQL_OUTPUT="$w/raw.db" LD_PRELOAD="$preload" "$churn" 1 "$pairs" >/dev/null
  raw=$w/raw.db.raw
  events=$("$heapql" import "$raw" -o "$w/imp.db" --force 2>&1 | sed -n 's/.*: \([0-9]*\) events.*/\1/p')
  for i in $(seq "$runs"); do
    rm -f "$w/run.db" "$w/imp.db" "$w/rec.db" "$w/rec.db.raw" "$w"/ht.*
    echo "plain $(elapsed "$churn" 1 "$pairs")"
    echo "run $(elapsed "$heapql" run -q -o "$w/run.db" -- "$churn" 1 "$pairs")"
    echo "record $(elapsed env HEAPQL_DEFER_IMPORT=1 HEAPQL_OUTPUT="$w/rec.db" LD_PRELOAD="$preload" "$churn" 1 "$pairs")"
    echo "import $(elapsed "$heapql" import "$raw" -o "$w/imp.db" -q)"
    if command -v heaptrack >/dev/null; then
      echo "heaptrack $(elapsed heaptrack -o "$w/ht" "$churn" 1 "$pairs")"
    fi
  done > "$w/times"
  med() { awk -v k="$1" '$1 == k {print $2}' "$w/times" | median; }
  t_plain=$(med plain); t_run=$(med run); t_rec=$(med record); t_imp=$(med import)
  hdb=$(stat -c %s "$w/imp.db")
  printf '%-44s %8.2f s\n' "program alone" "$t_plain"
  printf '%-44s %8.2f s\n' "heapql run (record + import + symbols)" "$t_run"
  printf '%-44s %8.2f s\n' "heapql recorder alone (LD_PRELOAD)" "$t_rec"
  printf '%-44s %8.2f s   %.2f million events/s (%d events)\n' "heapql import (+ symbolize + aggregates)" \
    "$t_imp" "$(echo "$events / $t_imp / 1000000" | bc -l)" "$events"
  printf '%-44s %8d bytes, %.1f bytes/event\n' "heapql database" "$hdb" "$(echo "$hdb / $events" | bc -l)"
  if ! command -v heaptrack >/dev/null; then
    echo "heaptrack: not installed - comparison skipped"
    "$heapql" report "$w/imp.db" >/dev/null
    hyperfine --warmup 1 --runs "$runs" -N "$heapql report $w/imp.db" "$heapql leaks $w/imp.db" 2>/dev/null || true
    return
  fi
  t_ht=$(med heaptrack)
  ht=$(ls "$w"/ht.* | head -1)
  printf '%-44s %8.2f s\n' "heaptrack (record + interpret + zstd)" "$t_ht"
  printf '%-44s %8d bytes, %.1f bytes/event\n' "heaptrack file ($(basename "$ht"))" "$(stat -c %s "$ht")" \
    "$(echo "$(stat -c %s "$ht") / $events" | bc -l)"
  echo "-- the reports, same workload"
  if command -v hyperfine >/dev/null; then
    hyperfine --warmup 1 --runs "$runs" -N "$heapql report $w/imp.db" "$heapql leaks $w/imp.db" \
      "heaptrack_print -f $ht" "heaptrack_print -f $ht --print-leaks"
  else
    for c in "$heapql report $w/imp.db" "$heapql leaks $w/imp.db" "heaptrack_print -f $ht" \
             "heaptrack_print -f $ht --print-leaks"; do
      /usr/bin/time -f "%e s  $c" $c >/dev/null
    done
  fi
  rm -rf "$w"
}
[ "${HQ_BENCH_SKIP_RECORDED:-0}" = 1 ] || recorded

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
