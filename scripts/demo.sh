#!/usr/bin/env bash
# demo.sh: heapql on a real program and on the kernels demo, with the reports they produce.
# Run by `make demo` after scripts/install-deps.sh and the build.
set -euo pipefail
BUILD=${BUILD:-build}
HEAPQL=$(realpath "$BUILD/bin/heapql")
DEMO=$(realpath "$BUILD/bin/heapql-demo")
out=${HEAPQL_DEMO_DIR:-$(mktemp -d /tmp/heapql-demo-XXXXXX)}
mkdir -p "$out"
py=/usr/bin/python3; [ -x "$py" ] || py=$(command -v python3)

banner() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

banner "1. A real program: $py building and serializing a JSON document"
cat > "$out/workload.py" <<'PY'
import json
cache = []
def build(n):
    return {str(i): {"id": i, "tags": ["t%d" % (i % 7)] * (i % 5), "blob": "x" * (i % 300)} for i in range(n)}
for round in range(3):
    doc = build(20000)
    cache.append(json.dumps(doc)[:1000])   # keeps a little from every round
print("rounds:", len(cache), "bytes kept:", sum(map(len, cache)))
PY
"$HEAPQL" run --force -o "$out/python.db" -- "$py" "$out/workload.py"
"$HEAPQL" report "$out/python.db" --recommend

banner "2. The kernels demo (risk-factor model): what each memory technique saves, measured"
# One plain run, one run per technique alone, one with all of them; each recorded by heapql.
# 40,000 days of 64 assets: a training-window buffer of ~84 MB, so chunking and mmap matter.
size=(--days 40000 --assets 64 --layers 8 --epochs 2)
runs=(plain pool chunked sparse checkpoint mmap f16 all)
declare -A opts=(
  [plain]="" [pool]="--pool" [chunked]="--chunked" [sparse]="--sparse-weights 0.1"
  [checkpoint]="--checkpoint" [mmap]="--mmap-data" [f16]="--f16-storage"
  [all]="--pool --chunked --sparse-weights 0.1 --checkpoint --mmap-data --f16-storage")
dbs=()
for r in "${runs[@]}"; do
  # shellcheck disable=SC2086 # the options are words
  "$HEAPQL" run --force -q --label "$r" -o "$out/model-$r.db" -- "$DEMO" "${size[@]}" ${opts[$r]} \
    > "$out/model-$r.txt"
  dbs+=("$out/model-$r.db")
done
echo "What heapql sees in the plain run (its findings name the techniques to try):"
"$HEAPQL" report "$out/model-plain.db" --recommend \
  --wrappers 'fun:demo_alloc,fun:model_alloc,fun:hq__model_alloc' | sed -n '/== Findings/,$p'
echo
echo "Each technique alone, then all of them, against the plain run:"
"$HEAPQL" compare "${dbs[@]}"
"$HEAPQL" compare "${dbs[@]}" --format html -o "$out/model-compare.html"
echo "the same table with the heap timelines overlaid: $out/model-compare.html"

banner "3. Pictures and SQL"
"$HEAPQL" flamegraph "$out/python.db" --metric allocated -o "$out/python-flame.svg"
"$HEAPQL" timeline "$out/model-plain.db" -o "$out/model-timeline.svg"
"$HEAPQL" regions "$out/model-all.db" > "$out/model-all-regions.txt"
head -n 12 "$out/model-all-regions.txt"   # the whole tree is in that file
"$HEAPQL" report "$out/python.db" --format html -o "$out/python.html"
"$HEAPQL" query "$out/model-all.db" \
  "SELECT kind, count(*) AS allocations, sum(size) AS bytes FROM allocations GROUP BY kind ORDER BY bytes DESC"
echo
echo "databases, flame graph, timeline and HTML report are in $out"
