#!/usr/bin/env bash
# check-exports.sh LIB MAP: the dynamic symbols LIB defines must be exactly those MAP exports.
set -eu
lib=$1; map=$2
want=$(sed -n '/global:/,/local:/p' "$map" | sed 's|/\*.*\*/||g' | grep -oE '[A-Za-z_][A-Za-z0-9_]*;' \
       | tr -d ';' | sort -u)
have=$(nm -D --defined-only "$lib" | awk '$2 ~ /[TWiVBD]/ {sub(/@.*/, "", $3); print $3}' | sort -u)
extra=$(comm -13 <(echo "$want") <(echo "$have") | grep -v '^$' || true)
if [ -n "$extra" ]; then
  echo "check-exports: $lib exports symbols not in $map:" >&2; echo "$extra" >&2; exit 1
fi
echo "check-exports: ok ($(echo "$have" | wc -l) symbols)"
