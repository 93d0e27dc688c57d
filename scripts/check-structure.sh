#!/usr/bin/env bash
# check-structure.sh BUILD: the rules of docs/architecture.md that a machine can check.
#  1. preload/ includes only include/heapql/ headers and its own (no analyzer/ header);
#  2. no C file in preload/, analyzer/ or kernels/ is over 1,000 lines;
#  3. the analyzer's files form no cycle and each layer uses only the ones below it
#     (scripts/check-layers.py, from the objects' symbol tables).
set -u
build=${1:-build}
fail=0
while IFS= read -r line; do
  inc=${line#*#include \"}; inc=${inc%%\"*}
  case $inc in heapql/*) continue ;; esac
  [ -f "preload/$inc" ] && [ "${inc#*/}" = "$inc" ] && continue
  echo "check-structure: preload/ reaches outside include/heapql/ and preload/: $line"; fail=1
done < <(grep -Hn '^#include "' preload/*.c preload/*.h)
while read -r n f; do
  [ "$f" = total ] && continue
  if [ "$n" -gt 1000 ]; then echo "check-structure: $f has $n lines (at most 1000)"; fail=1; fi
done < <(find preload analyzer kernels -name '*.c' -print0 | xargs -0 wc -l)
/usr/bin/python3 scripts/check-layers.py "$build" || fail=1
[ "$fail" -eq 0 ] && echo "check-structure: ok"
exit "$fail"
