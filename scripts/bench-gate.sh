#!/usr/bin/env bash
# bench-gate.sh: the leak check and gate against memcheck and LeakSanitizer, side by side.
# Medians of $RUNS runs (memcheck, being slow, runs $SLOW_RUNS times).
#
#   make bench-gate            (also part of make bench)
#
# 1. leaks1m: 1,000,000 live blocks at exit, half reachable from a global, half lost:
#    plain | its -fsanitize=leak build | valgrind --leak-check=full | heapql run (leak check on)
#    | heapql run --no-leak-check; then the check's own time and memory per live block (meta).
# 2. cc1 compiling a generated 2,000-line C file: plain | heapql run --gate | memcheck's leak
#    check, and what each finds definitely and indirectly lost.
set -u
BUILD=${BUILD:-build}
RUNS=${RUNS:-5}
SLOW_RUNS=${SLOW_RUNS:-1}
HEAPQL=$(realpath "$BUILD/bin/heapql")
work=$(mktemp -d /tmp/heapql-bench-gate-XXXXXX)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# time_n N CMD...: median wall time of N runs, in seconds, in a fresh $work/out
time_n() {
  local n=$1; shift
  for i in $(seq "$n"); do
    rm -rf "$work/out"; mkdir -p "$work/out"
    local s; s=$(now)
    (cd "$work/out" && "$@" >/dev/null 2>&1)
    local e; e=$(now)
    echo "$e - $s" | bc -l
  done | median
}
have_vg=0; command -v valgrind >/dev/null && have_vg=1
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "heapql bench-gate: $(nproc) cores, RUNS=$RUNS (memcheck: $SLOW_RUNS), $(date -u +%Y-%m-%d)"

# ---- 1. one million live blocks ----
cc -O1 -g -o "$work/leaks1m" bench/leaks1m.c
lsan=n/a
if cc -O1 -g -fsanitize=leak -o "$work/leaks1m-lsan" bench/leaks1m.c 2>/dev/null; then
  lsan=$(time_n "$RUNS" env LSAN_OPTIONS=exitcode=0 "$work/leaks1m-lsan")
fi
plain=$(time_n "$RUNS" "$work/leaks1m")
hq=$(time_n "$RUNS" "$HEAPQL" run -q -o h.db -- "$work/leaks1m")
hq_off=$(time_n "$RUNS" "$HEAPQL" run -q --no-leak-check -o h.db -- "$work/leaks1m")
vg=n/a
[ "$have_vg" = 1 ] && vg=$(time_n "$SLOW_RUNS" valgrind --leak-check=full --run-libc-freeres=no --run-cxx-freeres=no "$work/leaks1m")
rm -rf "$work/keep"; mkdir -p "$work/keep"
(cd "$work/keep" && "$HEAPQL" run -q -o h.db -- "$work/leaks1m" >/dev/null 2>&1)
meta() { sqlite3 "$work/keep/h.db" "SELECT value FROM meta WHERE key = '$1'"; }
check_ns=$(meta leak_check_ns); check_mem=$(meta leak_check_memory_bytes); blocks=$(meta leak_check_blocks)
classes=$(sqlite3 "$work/keep/h.db" "SELECT group_concat(leak_class || ' ' || n, ', ') FROM (SELECT leak_class, count(*) n FROM leaks WHERE class = 'heap' GROUP BY 1)")
printf "%-22s plain %6.3fs | LSan build %s | memcheck %s | heapql run %6.3fs | heapql run --no-leak-check %6.3fs\n" \
  "leaks1m (1M live)" "$plain" "$( [ "$lsan" = n/a ] && echo n/a || printf '%6.3fs' "$lsan")" \
  "$( [ "$vg" = n/a ] && echo n/a || printf '%6.3fs' "$vg")" "$hq" "$hq_off"
awk -v ns="$check_ns" -v mem="$check_mem" -v b="$blocks" -v on="$hq" -v off="$hq_off" -v c="$classes" 'BEGIN {
  printf "%-22s the check: %.3f s, %.1f MiB (%.1f B per live block); the run with it: +%.3f s; %s\n",
    "", ns / 1e9, mem / 1048576, mem / b, on - off, c }'

# ---- 2. cc1 on a 2,000-line file ----
cc1=$(cc -print-prog-name=cc1)
bash "$(dirname "$0")/bench-cc1-input.sh" "$work/gen.i"
cc1_cmd=("$cc1" -quiet -fpreprocessed -O2 "$work/gen.i" -o "$work/gen.s")
"${cc1_cmd[@]}" || { echo "bench-gate: cc1 cannot compile the generated file" >&2; exit 1; }
plain=$(time_n "$RUNS" "${cc1_cmd[@]}")
gate=$(time_n "$RUNS" "$HEAPQL" run -q --gate -o h.db -- "${cc1_cmd[@]}")
verdict=$(cd "$work/keep" && rm -f g.db && "$HEAPQL" run -q --gate -o g.db -- "${cc1_cmd[@]}" 2>&1 >/dev/null | grep '^counted:' | sed 's/, possibly.*//')
vg=n/a; vg_found=n/a
if [ "$have_vg" = 1 ]; then
  vg=$(time_n "$SLOW_RUNS" valgrind --leak-check=full --run-libc-freeres=no --run-cxx-freeres=no "${cc1_cmd[@]}")
  vg_found=$(valgrind --leak-check=full --run-libc-freeres=no --run-cxx-freeres=no "${cc1_cmd[@]}" 2>&1 \
             | grep -E 'definitely lost:|indirectly lost:' | sed 's/==[0-9]*== *//' | tr '\n' ';' | tr -s ' ')
fi
printf "%-22s plain %6.3fs | heapql run --gate %6.3fs (x%s) | memcheck %s\n" "cc1 (2,000 lines)" "$plain" "$gate" \
  "$(ratio "$gate" "$plain")" "$( [ "$vg" = n/a ] && echo n/a || printf '%6.3fs (x%s), heapql %sx faster' "$vg" "$(ratio "$vg" "$plain")" "$(ratio "$vg" "$gate")")"
printf "%-22s heapql %s | memcheck %s\n" "" "$verdict" "$vg_found"
