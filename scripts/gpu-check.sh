#!/usr/bin/env bash
# gpu-check.sh [--compile-only] [--keep]: what heapql's CUDA recording must do on a real GPU.
#
# The unit tests drive the recorder against a fake libcuda.so.1 (tests/preload/cuda/); only a GPU
# with its driver can show that real cudart and the real driver take the paths heapql hooks
# (reference A6, "Checks that need a GPU").  This script builds, from scripts/gpu-check/:
#   identity      run without heapql: cuGetProcAddress hands out the driver's exported symbols
#                 (heapql's pointer-identity mapping depends on it)
#   rt_static     runtime API, cudart linked statically (nvcc's default: no cudaMalloc to preload)
#   rt_shared     the same with -cudart shared
#   rt_ptsz       the same with --default-stream per-thread (the _ptsz driver entry points)
#   drv, drv_ptsz the driver API directly (-lcuda), pools, VMM, a failing call
#   overhead      cudaMalloc/cudaFree and cudaMallocAsync/cudaFreeAsync pairs timed, plain and
#                 recorded: what heapql adds per call
# and then the kernels' GPU tests and hq-bench-cuda (make BUILD=build-cuda HQ_CUDA=1).
# runs each under `heapql run`, and compares the rows found with the rows each program says it
# made (its EXPECT lines); then PyTorch, if `python3 -c 'import torch'` works, under its three
# allocator settings.  Prints one line per check and exits 1 on any mismatch, 2 when it cannot run
# (no nvcc, no GPU, no heapql build).  --compile-only stops after building (no GPU needed).
#
# Environment: NVCC (default nvcc, else /usr/local/cuda/bin/nvcc), NVCC_FLAGS (e.g. -arch=sm_90),
# HEAPQL (default build/bin/heapql, built with `make` if missing), PYTHON (default python3),
# GPU_CHECK_ONLY (programs to run, default "rt_static rt_shared rt_ptsz drv drv_ptsz").
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
src=$here/gpu-check
compile_only=0
keep=0
for a in "$@"; do
  case $a in
    --compile-only) compile_only=1 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown option '$a'" >&2; exit 2 ;;
  esac
done

NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
NVCC_FLAGS=${NVCC_FLAGS:-}
HEAPQL=${HEAPQL:-$root/build/bin/heapql}
PYTHON=${PYTHON:-python3}
if [ ! -x "$NVCC" ]; then echo "gpu-check: no nvcc (set NVCC)" >&2; exit 2; fi
cuda_home=$(cd "$(dirname "$NVCC")/.." && pwd)
stubs=$cuda_home/lib64/stubs
[ -d "$stubs" ] || stubs=$cuda_home/targets/x86_64-linux/lib/stubs

work=$(mktemp -d "${TMPDIR:-/tmp}/heapql-gpu-check.XXXXXX")
# shellcheck disable=SC2317  # called by the trap
cleanup() { if [ "$keep" = 1 ]; then echo "gpu-check: files kept in $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT

# ---- build ----
build() { # build NAME SOURCE NVCC-ARGS...
  local name=$1 source=$2; shift 2
  # shellcheck disable=SC2086
  if ! "$NVCC" -O1 -g $NVCC_FLAGS -o "$work/$name" "$source" "$@" >"$work/$name.build" 2>&1; then
    echo "gpu-check: cannot build $name:" >&2; cat "$work/$name.build" >&2; exit 2
  fi
  echo "built   $name"
}
build identity  "$src/identity.cu" -ldl
build rt_static "$src/rt_alloc.cu"
build rt_shared "$src/rt_alloc.cu" -cudart shared
build rt_ptsz   "$src/rt_alloc.cu" --default-stream per-thread
# -lcuda links against the toolkit's stub; at run time the driver's libcuda.so.1 is loaded.
build drv       "$src/drv_alloc.cu" -L"$stubs" -lcuda
build drv_ptsz  "$src/drv_alloc.cu" --default-stream per-thread -L"$stubs" -lcuda
build overhead  "$src/overhead.cu"
if [ "$compile_only" = 1 ]; then echo "gpu-check: compiled (no run requested)"; exit 0; fi

# ---- can we run? ----
if [ ! -x "$HEAPQL" ]; then
  make -C "$root" -j"$(nproc)" >/dev/null || { echo "gpu-check: cannot build heapql" >&2; exit 2; }
fi
# GPU_CHECK_ASSUME_GPU=1: dry-run against a stand-in libcuda.so.1 (LD_LIBRARY_PATH), e.g. the test
# double in build/tests/cuda; only the drv programs and identity can get anywhere with one.
if [ "${GPU_CHECK_ASSUME_GPU:-0}" != 1 ] && { ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; }; then
  echo "gpu-check: no GPU (nvidia-smi -L fails)" >&2; exit 2
fi

q() { # q DB SQL: the first column of the first row ("" for none or NULL)
  if command -v sqlite3 >/dev/null; then
    sqlite3 -batch -noheader "$1" "$2"
  else
    "$PYTHON" -c 'import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()
print("" if r is None or r[0] is None else r[0])' "$1" "$2"
  fi
}

fail=0
checks=0
report() { # report PROGRAM WHAT EXPECTED FOUND
  checks=$((checks + 1))
  if [ "$3" = "$4" ]; then
    printf 'ok       %-10s %-52s expected %s, found %s\n' "$1" "$2" "$3" "$4"
  else
    printf 'MISMATCH %-10s %-52s expected %s, found %s\n' "$1" "$2" "$3" "$4"
    fail=1
  fi
}

# ---- pointer identity (no heapql) ----
if "$work/identity" >"$work/identity.out" 2>&1; then
  report identity "cuGetProcAddress == dlsym(exact name)" 0 0
else
  cat "$work/identity.out"
  report identity "cuGetProcAddress == dlsym(exact name)" 0 "$(grep -c MISMATCH "$work/identity.out")"
fi

# ---- programs under heapql ----
check_program() { # check_program NAME
  local name=$1 db=$work/$1.db out=$work/$1.out tag a b c rc
  "$HEAPQL" run -q --force -o "$db" -- "$work/$name" >"$out" 2>"$work/$name.err"
  rc=$?
  if [ "$rc" != 0 ]; then
    report "$name" "program exit status (stderr: $(tail -1 "$work/$name.err"))" 0 "$rc"
    return
  fi
  report "$name" "database complete" 1 "$(q "$db" "SELECT value FROM meta WHERE key='complete'")"
  while read -r tag a b c; do
    case $tag in
      EXPECT)
        report "$name" "$a size $b freed=$c" 1 "$(q "$db" "SELECT count(*) FROM allocations \
          WHERE kind='$a' AND size=$b AND (t_free IS NOT NULL)=$c")" ;;
      EXPECT_DEVICE)
        report "$name" "device of size $a" "$b" "$(q "$db" "SELECT group_concat(device) FROM allocations \
          WHERE kind LIKE 'cuda%' AND size=$a")" ;;
      EXPECT_STREAM)
        report "$name" "stream of size $a" "$b" "$(q "$db" "SELECT group_concat(stream) FROM allocations \
          WHERE kind='cuda_async' AND size=$a")" ;;
      CALL)
        report "$name" "successful $a calls > 0" 1 "$(q "$db" "SELECT count(*) > 0 FROM cuda_calls \
          WHERE api='$a' AND result=0")" ;;
      EXPECT_FAIL)
        report "$name" "$a size $b failing with $c" 1 "$(q "$db" "SELECT count(*) FROM cuda_calls \
          WHERE api='$a' AND size=$b AND result=$c")" ;;
      EXPECT_REGION)
        report "$name" "NVTX range of size $a" "$b" "$(q "$db" "SELECT group_concat(r.name) FROM \
          allocations a JOIN regions r ON r.id = a.region_id WHERE a.kind LIKE 'cuda%' AND a.size=$a")" ;;
      EXPECT_OOM)
        report "$name" "device failure of size $a" 1 "$(q "$db" "SELECT count(*) FROM device_failures \
          WHERE size=$a")" ;;
      POOL_SAMPLES)
        report "$name" "pool_samples rows, used <= reserved" 1 "$(q "$db" "SELECT count(*) > 0 AND \
          sum(used_bytes > reserved_bytes) = 0 FROM pool_samples WHERE source='pool'")" ;;
      EXPECT_VMM)
        local when="(SELECT t FROM cuda_calls WHERE api='cuMemUnmap' AND result=0)"
        [ "$c" = release ] && when="(SELECT t FROM cuda_calls WHERE api='cuMemRelease' AND handle=$a)"
        report "$name" "cuda_vmm $b freed at its $c" 1 "$(q "$db" "SELECT count(*) FROM allocations \
          WHERE kind='cuda_vmm' AND address=$a AND size=$b AND t_free=$when")"
        report "$name" "vmm_handles row of $a" 1 "$(q "$db" "SELECT count(*) FROM vmm_handles \
          WHERE handle=$a AND size=$b AND t_release IS NOT NULL")" ;;
    esac
  done < <(grep -E '^(EXPECT|CALL|POOL_SAMPLES)' "$out")
  # No driver-API variant slipped past the hooks.
  report "$name" "unrecognised driver variants (cuda_unhooked:*)" "" \
    "$(q "$db" "SELECT group_concat(DISTINCT name) FROM counters WHERE name LIKE 'cuda_unhooked:%'")"
}
for p in ${GPU_CHECK_ONLY:-rt_static rt_shared rt_ptsz drv drv_ptsz}; do check_program "$p"; done

# ---- what recording costs per call (issue 13): plain, then recorded ----
overhead() { # overhead LABEL: ns per allocate+release pair, for cudaMalloc and cudaMallocAsync
  local plain rec
  plain=$("$work/overhead" 2>/dev/null) || { echo "skipped  overhead   (the program failed)"; return; }
  rec=$(env LD_PRELOAD="$root/build/lib/libheapql_preload.so" HEAPQL_OUTPUT="$work/overhead.db" \
        HEAPQL_FORCE=1 HEAPQL_DEFER_IMPORT=1 "$work/overhead" 2>/dev/null) || {
    echo "skipped  overhead   (the recorded program failed)"; return; }
  paste <(echo "$plain") <(echo "$rec") | awk '{
    printf "measure  overhead   %-30s plain %8.1f ns, recorded %8.1f ns: +%.1f ns per pair\n", $1, $2, $4, $4 - $2 }'
}
overhead

# ---- PyTorch, if it is here ----
torch_check() { # torch_check LABEL ALLOC_CONF
  local label=$1 db=$work/torch_$1.db out=$work/torch_$1.out rc want got
  PYTORCH_CUDA_ALLOC_CONF=$2 "$HEAPQL" run -q --force -o "$db" -- "$PYTHON" "$src/torch_check.py" \
    >"$out" 2>"$work/torch_$1.err"
  rc=$?
  if [ "$rc" = 3 ]; then echo "skipped  torch      (no torch or no GPU for it)"; return; fi
  if [ "$rc" != 0 ]; then report "torch_$label" "exit status" 0 "$rc"; return; fi
  # What heapql sees is what the allocator got from the driver: cudaMalloc segments (native),
  # cuMemCreate handles (expandable segments), or the blocks themselves (cudaMallocAsync).
  if [ "$label" = async ]; then
    want=$(awk '$2 == "allocated_peak" {print $3}' "$out")
  else
    want=$(awk '$2 == "reserved_peak" {print $3}' "$out")
  fi
  got=$(q "$db" "SELECT value FROM meta WHERE key='peak_device_bytes'")
  report "torch_$label" "peak_device_bytes $got >= torch's $want" 1 \
    "$([ -n "$got" ] && [ -n "$want" ] && [ "$got" -ge "$want" ] && echo 1 || echo 0)"
  if [ "$label" = expandable ]; then
    report "torch_$label" "cuMemCreate/cuMemMap seen" 1 "$(q "$db" "SELECT count(*) > 0 FROM cuda_calls \
      WHERE api='cuMemCreate' AND result=0")"
  fi
}
if "$PYTHON" -c 'import torch' >/dev/null 2>&1; then
  torch_check native ""
  torch_check expandable "expandable_segments:True"
  torch_check async "backend:cudaMallocAsync"
else
  echo "skipped  torch      ($PYTHON cannot import torch)"
fi

# ---- the kernels on the GPU: their tests and benchmark (GPU_CHECK_KERNELS=0 to skip) ----
if [ "${GPU_CHECK_KERNELS:-1}" = 1 ]; then
  if make -C "$root" BUILD=build-cuda HQ_CUDA=1 -j"$(nproc)" tests >"$work/kernels.build" 2>&1; then
    for t in "$root"/build-cuda/tests/gpu/*; do
      [ -x "$t" ] || continue
      if (cd "$root" && HEAPQL_TEST_BUILD=build-cuda "$t") >"$work/$(basename "$t").log" 2>&1; then
        report kernels "$(basename "$t")" 0 0
      else
        tail -20 "$work/$(basename "$t").log"
        report kernels "$(basename "$t")" 0 1
      fi
    done
    [ -x "$root/build-cuda/bin/hq-bench-cuda" ] && "$root/build-cuda/bin/hq-bench-cuda"
  else
    tail -20 "$work/kernels.build"
    report kernels "make BUILD=build-cuda HQ_CUDA=1 tests" 0 1
  fi
fi

echo "gpu-check: $checks checks, $([ "$fail" = 0 ] && echo "all as expected" || echo "MISMATCHES above")"
exit "$fail"
