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
# and prints, per workload: times and ratios to plain; the speed issue's goal 1 (heapql run's
# wall time / heaptrack's) and goal 2 (heapql's added recording time / heaptrack's); ns per event
# recorded; `heapql import` alone (median of RUNS) in events per second; the peak RSS of each
# whole run (GNU time: the tool and the program it ran); bytes per event of heapql's database
# and of heaptrack's compressed trace.  Workloads: a deep-stack churn (one and two threads),
# python3, sqlite3, perl and gcc's cc1 on a generated 2,000-line file.
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

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# time_cmd CMD...: "WALL MAXRSS_KIB", each the median of RUNS runs.  MAXRSS is GNU time's %M:
# the largest resident set of the command and the processes it waited for (so a tool's figure
# includes the program it ran).
time_cmd() {
  local runs
  runs=$(for i in $(seq "$RUNS"); do
    rm -rf "$work/out"; mkdir -p "$work/out"
    (cd "$work/out" && /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >/dev/null 2>&1)
    tail -1 "$work/time.txt"
  done)
  echo "$(echo "$runs" | awk '{print $1}' | median) $(echo "$runs" | awk '{print $2}' | median)"
}

declare -A T
run_workload() {
  local name=$1; shift
  local r
  r=$(time_cmd "$@"); T[$name.plain]=${r% *}; T[$name.plain_rss]=${r#* }
  r=$(time_cmd env LD_PRELOAD="$PRELOAD" HEAPQL_DEFER_IMPORT=1 HEAPQL_OUTPUT=r.db "$@"); T[$name.record]=${r% *}
  r=$(time_cmd "$HEAPQL" run -q -o h.db -- "$@"); T[$name.heapql]=${r% *}; T[$name.heapql_rss]=${r#* }
  if [ "$have_heaptrack" = 1 ]; then
    r=$(time_cmd heaptrack -o "$work/out/ht" "$@"); T[$name.heaptrack]=${r% *}; T[$name.heaptrack_rss]=${r#* }
    rm -rf "$work/ht"; mkdir -p "$work/ht"
    (cd "$work/ht" && heaptrack -o "$work/ht/ht" "$@" >/dev/null 2>&1)
    T[$name.htbytes]=$(stat -c %s "$work"/ht/ht.* 2>/dev/null | head -1)
  else
    T[$name.heaptrack]=nan; T[$name.heaptrack_rss]=nan; T[$name.htbytes]=nan
  fi
  # one more recording kept: the import alone (events/s), events and bytes per event
  rm -rf "$work/keep"; mkdir -p "$work/keep"
  (cd "$work/keep" && env LD_PRELOAD="$PRELOAD" HEAPQL_DEFER_IMPORT=1 HEAPQL_OUTPUT=k.db "$@" >/dev/null 2>&1)
  cp "$work/keep/k.db.raw" "$work/keep/saved.raw"
  T[$name.import]=$(for i in $(seq "$RUNS"); do
    rm -f "$work/keep/k.db"; cp "$work/keep/saved.raw" "$work/keep/k.db.raw"
    /usr/bin/time -f "%e" -o "$work/time.txt" "$HEAPQL" import "$work/keep/k.db.raw" -o "$work/keep/k.db" -q
    tail -1 "$work/time.txt"
  done | median)
  local ev
  ev=$("$HEAPQL" query "$work/keep/k.db" "SELECT count(*) + count(t_free) FROM allocations" --csv 2>/dev/null | tail -1)
  [ -z "$ev" ] && ev=$(sqlite3 "$work/keep/k.db" "SELECT count(*) + count(t_free) FROM allocations")
  T[$name.events]=$ev
  T[$name.dbbytes]=$(stat -c %s "$work/keep/k.db")
}

report() {
  local name=$1
  awk -v n="$name" -v p="${T[$name.plain]}" -v r="${T[$name.record]}" -v h="${T[$name.heapql]}" \
      -v k="${T[$name.heaptrack]}" -v ev="${T[$name.events]}" -v db="${T[$name.dbbytes]}" \
      -v imp="${T[$name.import]}" -v prss="${T[$name.plain_rss]}" -v hrss="${T[$name.heapql_rss]}" \
      -v krss="${T[$name.heaptrack_rss]}" -v kb="${T[$name.htbytes]}" 'BEGIN {
    printf "%-22s plain %7.3fs | record %7.3fs (x%5.2f) | heapql run %7.3fs (x%5.2f) | heaptrack %s\n",
      n, p, r, r/p, h, h/p, (k == "nan" ? "n/a" : sprintf("%7.3fs (x%5.2f)", k, k/p));
    if (k != "nan")
      printf "%-22s goal 1: heapql run / heaptrack %.2f | goal 2: added recording time / heaptrack'"'"'s %.2f\n",
        "", h/k, (r-p)/(k-p);
    printf "%-22s events %d | record %.0f ns/event | import %.3fs, %.2fM events/s\n", "", ev,
      (r-p)*1e9/ev, imp, ev/imp/1e6;
    printf "%-22s peak RSS: plain %.0f MiB, heapql run %.0f MiB%s\n", "", prss/1024, hrss/1024,
      (krss == "nan" ? "" : sprintf(", heaptrack %.0f MiB", krss/1024));
    printf "%-22s bytes/event: database %.1f%s\n", "", db/ev,
      (kb == "nan" || kb == "" ? "" : sprintf(", heaptrack trace %.1f", kb/ev));
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
cc1=$(cc -print-prog-name=cc1 2>/dev/null)
if [ -x "$cc1" ]; then
  # gcc's compiler proper on a generated 2,000-line C file (the leak-gate bench's workload)
  bash "$(dirname "$0")/bench-cc1-input.sh" "$work/gen.i"
  run_workload "cc1-2000-lines" "$cc1" -quiet -fpreprocessed -O2 "$work/gen.i" -o "$work/gen.s"
  report "cc1-2000-lines"
else
  echo "cc1-2000-lines         gcc's cc1 not found - skipped"
fi

if [ "$have_memray" = 1 ]; then
  # Side by side on one interpreter: plain, heapql (record only and full run), memray.
  run_workload "python3-memray-interp" "$MEMRAY_PY" "$work/py.py"; report "python3-memray-interp"
  tm=$(time_cmd "$MEMRAY_PY" -m memray run -q -f -o "$work/out/m.bin" "$work/py.py"); tm=${tm% *}
  tmn=$(time_cmd "$MEMRAY_PY" -m memray run --native -q -f -o "$work/out/m.bin" "$work/py.py"); tmn=${tmn% *}
  awk -v p="${T[python3-memray-interp.plain]}" -v m="$tm" -v mn="$tmn" -v h="${T[python3-memray-interp.heapql]}" \
      -v r="${T[python3-memray-interp.record]}" 'BEGIN {
    printf "%-22s memray %7.3fs (x%5.2f) | memray --native %7.3fs (x%5.2f) | heapql record x%5.2f, run x%5.2f\n",
      "python3 (memray)", m, m/p, mn, mn/p, r/p, h/p }'
else
  echo "python3 (memray)       memray: not installable here (pip install memray) - skipped"
fi

# What reading the Python frames costs (docs/python.md): every object through malloc, a stack
# 20 Python calls deep, recorded with and without the Python frames, and with frame-pointer
# unwinding (so the native unwind's own share shows).
cat > "$work/pydeep.py" <<'EOF'
def deep(n):
    if n == 0:
        return [str(i) * 3 for i in range(300000)]
    return deep(n - 1)
x = deep(20)
EOF
pyrec() { time_cmd env PYTHONMALLOC=malloc LD_PRELOAD="$PRELOAD" HEAPQL_DEFER_IMPORT=1 HEAPQL_OUTPUT=r.db "$@" /usr/bin/python3 "$work/pydeep.py"; }
pp=$(time_cmd env PYTHONMALLOC=malloc /usr/bin/python3 "$work/pydeep.py"); pp=${pp% *}
pf=$(pyrec); pf=${pf% *}
pn=$(pyrec HEAPQL_PYTHON_FRAMES=0); pn=${pn% *}
pfp=$(pyrec HEAPQL_PYTHON_FRAMES=0 HEAPQL_UNWIND=fp); pfp=${pfp% *}
awk -v p="$pp" -v f="$pf" -v n="$pn" -v fp="$pfp" 'BEGIN {
  printf "%-22s plain %7.3fs | record, Python frames %7.3fs | without them %7.3fs | without, fp unwind %7.3fs\n",
    "python3 frames", p, f, n, fp;
  printf "%-22s Python frames add %.3fs; the libunwind unwind over fp costs %.3fs\n", "", f - n, n - fp }'


awk -v p="${T[churn-1thread.plain]}" -v r="${T[churn-1thread.record]}" -v k="${T[churn-1thread.heaptrack]}" 'BEGIN {
  if (k == "nan") { print "ratio heapql/heaptrack added recording time (churn, full stacks): n/a (heaptrack missing)"; exit }
  printf "ratio heapql/heaptrack added recording time (churn, full stacks): %.2f\n", (r-p)/(k-p) }'
