#!/usr/bin/env bash
# fuzz.sh BUILD SECONDS TARGET...: run each libFuzzer target (built by `make fuzz` into
# BUILD/fuzz/bin) for SECONDS over a working copy of its corpus (tests/fuzz/corpus/TARGET plus
# what earlier runs found in BUILD/fuzz/corpus/TARGET).  A crash, leak, timeout or out-of-memory
# stops with the input kept in BUILD/fuzz/findings/TARGET: fix it, then put the input into
# tests/fuzz/regressions/TARGET (make test replays it).  Prints one line per target.
set -u
build=$1; seconds=$2; shift 2
status=0
for t in "$@"; do
  work=$build/fuzz/corpus/$t; findings=$build/fuzz/findings/$t
  mkdir -p "$work" "$findings"
  cp -n tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  [ -d tests/fuzz/regressions/"$t" ] && cp -n tests/fuzz/regressions/"$t"/* "$work"/ 2>/dev/null
  log=$build/fuzz/$t.log
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    "$build/fuzz/bin/fuzz_$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
    -artifact_prefix="$findings/" -print_final_stats=1 "$work" >"$log" 2>&1
  rc=$?
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)
  if [ $rc -ne 0 ]; then
    echo "fuzz $t: FOUND a problem after $execs executions (exit $rc): $(ls "$findings" | head -3 | tr '\n' ' ')(log: $log)"
    status=1
  else
    echo "fuzz $t: $execs executions in ${seconds} s, $(ls "$work" | wc -l) inputs in the corpus, nothing found"
  fi
done
exit $status
