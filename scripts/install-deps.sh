#!/usr/bin/env bash
# install-deps.sh: install the Debian packages heapql builds, tests and benchmarks with.
# As root it installs what is missing; otherwise it prints the exact command and fails.
#
# Trap (DESIGN §7): "libunwind" is the nongnu libunwind (libunwind-dev). LLVM's libunwind-14-dev
# conflicts with it and owns libunwind.so until libunwind-dev replaces it, so it is removed first.
set -eu

pkgs=(
  build-essential pkg-config
  libsqlite3-dev sqlite3            # database + the sqlite3 shell (tests wrap it)
  libunwind-dev                     # nongnu libunwind (not LLVM's libunwind-14-dev)
  libdw-dev libelf-dev elfutils     # offline symbolization
  libcmocka-dev                     # unit tests
  libopenblas-dev                   # kernels: CBLAS
  python3 python3-numpy perl git    # real programs wrapped by the integration tests, .npy interop
  python3-dev                       # a C extension the Python tests build (Python.h)
  heaptrack                         # benchmarks compare against it
  chromium                          # HTML report checks
  valgrind hyperfine time           # benchmarks / checks (GNU time: peak memory)
  libxml2-utils                     # xmllint: SVG/HTML/JUnit checks
  python3-jsonschema python3-junitparser python3-yaml  # the gate's SARIF, JUnit and CI templates, read by their consumers
  libglib2.0-dev                    # a victim allocating through g_malloc (wrapper sites)
  clang                             # make fuzz (libFuzzer) and make check-tsan
)

missing=()
for p in "${pkgs[@]}"; do
  case "$p" in \#*) continue ;; esac
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
llvm_unwind=$(dpkg-query -W -f='${Package} ${Status}\n' 'libunwind-*-dev' 2>/dev/null \
              | awk '/install ok installed/ && $1 != "libunwind-dev" {print $1}' || true)

if [ ${#missing[@]} -eq 0 ] && [ -z "$llvm_unwind" ]; then
  echo "install-deps: all dependencies present"
  exit 0
fi

cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
[ -n "$llvm_unwind" ] && cmd="apt-get remove -y $llvm_unwind && $cmd"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]} ${llvm_unwind}" >&2
  echo "install-deps: run as root:  $cmd" >&2
  exit 1
fi
echo "install-deps: installing: ${missing[*]} ${llvm_unwind:+(removing $llvm_unwind)}"
export DEBIAN_FRONTEND=noninteractive
[ -n "$llvm_unwind" ] && apt-get remove -y $llvm_unwind
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
