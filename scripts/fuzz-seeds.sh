#!/usr/bin/env bash
# fuzz-seeds.sh BUILD: (re)make the fuzzers' seed corpus in tests/fuzz/corpus/{raw,db,npy} from
# real programs: raw traces (a normal exit, and a SIGKILL with its ring file), a small database,
# numpy's own .npy files.  The seeds are committed; run this after a raw-format change.
set -eu
build=${1:-build}
out=tests/fuzz/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out/raw" "$out/db" "$out/npy"
preload=$(realpath "$build/lib/libheapql_preload.so")

# raw: 4-byte little-endian trace length, the trace, then the ring file (fuzz_raw.c)
pack() { # pack RAW RINGS OUT
  /usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import struct, sys, os
raw = open(sys.argv[1], 'rb').read()
rings = open(sys.argv[2], 'rb').read() if os.path.exists(sys.argv[2]) else b''
# a ring file is mostly reserved zeros: keep its first slot's header and data in use
rings = rings[:4096 + 65536]
open(sys.argv[3], 'wb').write(struct.pack('<I', len(raw)) + raw + rings)
PY
}
LD_PRELOAD=$preload HEAPQL_OUTPUT=$tmp/leaf.db HEAPQL_DEFER_IMPORT=1 HEAPQL_BUFFER_KB=64 \
  "$build/tests/victims/v_leaf" || true
pack "$tmp/leaf.db.raw" "$tmp/none" "$out/raw/leaf"
( LD_PRELOAD=$preload HEAPQL_OUTPUT=$tmp/crash.db HEAPQL_BUFFER_KB=64 \
    "$build/tests/victims/v_crash" kill ) 2>/dev/null || true
pack "$tmp/crash.db.raw" "$tmp/crash.db.raw.rings" "$out/raw/crash-kill"
LD_PRELOAD=$preload HEAPQL_OUTPUT=$tmp/thr.db HEAPQL_DEFER_IMPORT=1 HEAPQL_BUFFER_KB=64 \
  HEAPQL_CLOCK=monotonic "$build/tests/victims/v_threads" >/dev/null 2>&1 || true
[ -f "$tmp/thr.db.raw" ] && head -c 60000 "$tmp/thr.db.raw" > "$tmp/thr.cut" && \
  pack "$tmp/thr.cut" "$tmp/none" "$out/raw/threads-cut"

# db: a real database, made small (1 KiB pages)
"$build/bin/heapql" import -q "$tmp/leaf.db.raw" -o "$tmp/leaf.db"
sqlite3 "$tmp/leaf.db" "PRAGMA page_size=1024; VACUUM;"
cp "$tmp/leaf.db" "$out/db/leaf"

# npy: numpy's own files
/usr/bin/python3 - "$out/npy" <<'PY'
import numpy as np, sys
d = sys.argv[1]
np.save(d + '/f32.npy', np.arange(12, dtype=np.float32).reshape(3, 4))
np.save(d + '/f64-fortran.npy', np.asfortranarray(np.ones((2, 3))))
np.save(d + '/i8-scalar.npy', np.array(7, dtype=np.int8))
np.save(d + '/u16-empty.npy', np.zeros((0, 5), dtype=np.uint16))
import os
for f in os.listdir(d):
    if f.endswith('.npy'): os.rename(d + '/' + f, d + '/' + f[:-4])
PY
ls -la "$out"/*
