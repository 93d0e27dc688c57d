#!/usr/bin/env bash
# bench.sh: heapql against the uninstrumented program and heaptrack (and memray on Python), side
# by side in one run.  Medians of $RUNS runs; ratios, not absolute times, are what to compare.
#
#   make bench                 (RUNS=5 PAIRS=2500000 by default)
#
# For each workload:
#   plain      the program alone
#   record     heapql's recorder only (LD_PRELOAD, raw trace left for import)
#   heapql     `heapql run`: record + import + symbolize into SQLite, ready to query
#   heaptrack  `heaptrack`: record + interpret + compress (analysis happens later, in heaptrack_print)
# and prints added time (vs plain) ratios, ns per event, and database bytes per event.
# The last line is the headline ratio: heapql's added recording time / heaptrack's on the churn.
set -u
BUILD=${BUILD:-build}
RUNS=${RUNS:-5}
PAIRS=${PAIRS:-2500000}
HEAPQL=$(realpath "$BUILD/bin/heapql")
PRELOAD=$(realpath "$BUILD/lib/libheapql_preload.so")
CHURN=$(realpath "$BUILD/bench/churn")
work=$(mktemp -d /tmp/heapql-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

have_heaptrack=0; command -v heaptrack >/dev/null && have_heaptrack=1
# memray needs an interpreter it is installed in; Debian's python3 is externally managed, so the
# Python comparison uses the first python3 on PATH (installing memray there when missing), run
# by its real path (a pyenv shim would exec past the preload).
MEMRAY_PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || true)
have_memray=0
if [ -n "$MEMRAY_PY" ]; then
  "$MEMRAY_PY" -c 'import memray' 2>/dev/null || "$MEMRAY_PY" -m pip install -q memray >/dev/null 2>&1
  "$MEMRAY_PY" -c 'import memray' 2>/dev/null && have_memray=1
fi

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# time_cmd LABEL CMD...: median wall time of RUNS runs, in seconds
time_cmd() {
  local label=$1; shift
  local t
  for i in $(seq "$RUNS"); do
    rm -rf "$work/out"; mkdir -p "$work/out"
    local s; s=$(now)
    (cd "$work/out" && "$@" >/dev/null 2>&1)
    local e; e=$(now)
    echo "$e - $s" | bc -l
  done | median
}

declare -A T
run_workload() {
  local name=$1; shift
  T[$name.plain]=$(time_cmd plain "$@")
  T[$name.record]=$(time_cmd record env LD_PRELOAD="$PRELOAD" HEAPQL_DEFER_IMPORT=1 HEAPQL_OUTPUT=r.db "$@")
  T[$name.heapql]=$(time_cmd heapql "$HEAPQL" run -q -o h.db -- "$@")
  if [ "$have_heaptrack" = 1 ]; then
    T[$name.heaptrack]=$(time_cmd heaptrack heaptrack -o "$work/out/ht" "$@")
  else
    T[$name.heaptrack]=nan
  fi
  # one more heapql run kept, for events and bytes per event
  rm -rf "$work/keep"; mkdir -p "$work/keep"
  (cd "$work/keep" && "$HEAPQL" run -q -o h.db -- "$@" >/dev/null 2>&1)
  local ev bytes
  ev=$("$HEAPQL" query "$work/keep/h.db" "SELECT count(*) + count(t_free) FROM allocations" --csv 2>/dev/null | tail -1)
  [ -z "$ev" ] && ev=$(sqlite3 "$work/keep/h.db" "SELECT count(*) + count(t_free) FROM allocations")
  bytes=$(stat -c %s "$work/keep/h.db")
  T[$name.events]=$ev
  T[$name.dbbytes]=$bytes
}

report() {
  local name=$1
  local p=${T[$name.plain]} r=${T[$name.record]} h=${T[$name.heapql]} k=${T[$name.heaptrack]}
  local ev=${T[$name.events]} db=${T[$name.dbbytes]}
  awk -v n="$name" -v p="$p" -v r="$r" -v h="$h" -v k="$k" -v ev="$ev" -v db="$db" 'BEGIN {
    printf "%-22s plain %7.3fs | record %7.3fs (x%5.2f) | heapql run %7.3fs (x%5.2f) | heaptrack %s\n",
      n, p, r, r/p, h, h/p, (k == "nan" ? "n/a" : sprintf("%7.3fs (x%5.2f)", k, k/p));
    printf "%-22s events %d | record %.0f ns/event | run %.0f ns/event | db %.1f B/event", "", ev,
      (r-p)*1e9/ev, (h-p)*1e9/ev, db/ev;
    if (k != "nan") printf " | added vs heaptrack: record %.2f, run %.2f", (r-p)/(k-p), (h-p)/(k-p);
    printf "\n";
  }'
}

echo "heapql bench: $(nproc) cores, RUNS=$RUNS (medians), $(date -u +%Y-%m-%d)"
run_workload "churn-1thread" "$CHURN" 1 "$PAIRS"; report "churn-1thread"
run_workload "churn-2threads" "$CHURN" 2 $((PAIRS / 2)); report "churn-2threads"
cat > "$work/py.py" <<'EOF'
import json, collections
d = {str(i): list(range(i % 50)) for i in range(60000)}
s = json.dumps(d)
print(len(s), collections.Counter(s).most_common(2))
EOF
run_workload "python3-json" /usr/bin/python3 "$work/py.py"; report "python3-json"
run_workload "sqlite3-insert" /usr/bin/sqlite3 :memory: "CREATE TABLE t(a,b); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<200000) INSERT INTO t SELECT x, printf('%08d', x) FROM c; CREATE INDEX tb ON t(b); SELECT count(*) FROM t;"
report "sqlite3-insert"
run_workload "perl-hash" /usr/bin/perl -e 'my %h; $h{$_} = join(",", 1..($_ % 40)) for 1..100000; print scalar(keys %h), "\n";'
report "perl-hash"

if [ "$have_memray" = 1 ]; then
  # Side by side on one interpreter: plain, heapql (record only and full run), memray.
  run_workload "python3-memray-interp" "$MEMRAY_PY" "$work/py.py"; report "python3-memray-interp"
  tm=$(time_cmd memray "$MEMRAY_PY" -m memray run -q -f -o "$work/out/m.bin" "$work/py.py")
  tmn=$(time_cmd memray-native "$MEMRAY_PY" -m memray run --native -q -f -o "$work/out/m.bin" "$work/py.py")
  awk -v p="${T[python3-memray-interp.plain]}" -v m="$tm" -v mn="$tmn" -v h="${T[python3-memray-interp.heapql]}" \
      -v r="${T[python3-memray-interp.record]}" 'BEGIN {
    printf "%-22s memray %7.3fs (x%5.2f) | memray --native %7.3fs (x%5.2f) | heapql record x%5.2f, run x%5.2f\n",
      "python3 (memray)", m, m/p, mn, mn/p, r/p, h/p }'
else
  echo "python3 (memray)       memray: not installable here (pip install memray) - skipped"
fi

awk -v p="${T[churn-1thread.plain]}" -v r="${T[churn-1thread.record]}" -v k="${T[churn-1thread.heaptrack]}" 'BEGIN {
  if (k == "nan") { print "ratio heapql/heaptrack added recording time (churn, full stacks): n/a (heaptrack missing)"; exit }
  printf "ratio heapql/heaptrack added recording time (churn, full stacks): %.2f\n", (r-p)/(k-p) }'
