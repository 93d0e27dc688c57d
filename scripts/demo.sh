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

banner "2. The kernels demo (risk-factor model): plain, then with the memory techniques"
"$HEAPQL" run --force -q -o "$out/model-plain.db" -- "$DEMO" --layers 16 > "$out/model-plain.txt"
"$HEAPQL" run --force -q -o "$out/model-tuned.db" -- "$DEMO" --layers 16 --pool --checkpoint \
  --chunk-size 256 --mmap-data > "$out/model-tuned.txt"
tail -n 8 "$out/model-tuned.txt"
"$HEAPQL" compare "$out/model-plain.db" "$out/model-tuned.db"
"$HEAPQL" report "$out/model-tuned.db"

banner "3. Pictures and SQL"
"$HEAPQL" flamegraph "$out/python.db" --metric allocated -o "$out/python-flame.svg"
"$HEAPQL" timeline "$out/model-plain.db" -o "$out/model-timeline.svg"
"$HEAPQL" report "$out/python.db" --format html -o "$out/python.html"
"$HEAPQL" query "$out/model-tuned.db" \
  "SELECT kind, count(*) AS allocations, sum(size) AS bytes FROM allocations GROUP BY kind ORDER BY bytes DESC"
echo
echo "databases, flame graph, timeline and HTML report are in $out"
