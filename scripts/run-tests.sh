#!/usr/bin/env bash
# run-tests.sh TEST_BINARY...: run each cmocka test binary in its own process with a timeout,
# then print one closing line "N passed, N failed".  Exit 1 if anything failed.
set -u
timeout_s=${HEAPQL_TEST_TIMEOUT:-600}
passed=0; failed=0; broken=()
for t in "$@"; do
  name=$(basename "$t")
  log=$(mktemp)
  start=$(date +%s)
  timeout --kill-after=10 "$timeout_s" "$t" >"$log" 2>&1
  rc=$?
  cat "$log"
  p=$(grep -Eo '^\[  PASSED  \] [0-9]+' "$log" | grep -Eo '[0-9]+$' | awk '{s+=$1} END {print s+0}')
  f=$(grep -Eo '^\[  FAILED  \] [0-9]+' "$log" | grep -Eo '[0-9]+$' | awk '{s+=$1} END {print s+0}')
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$rc" -ne 0 ]; then
    [ "$f" -eq 0 ] && failed=$((failed + 1))
    broken+=("$name (exit $rc)")
  fi
  echo "== $name: $p passed, $f failed, $(( $(date +%s) - start ))s"
  rm -f "$log"
done
if [ ${#broken[@]} -gt 0 ]; then
  printf 'failing test binaries:\n'; printf '  %s\n' "${broken[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#broken[@]} -eq 0 ]
