#!/usr/bin/env bash
# bench-cc1-input.sh OUT.i: the C file gcc's cc1 compiles in `make bench` and `make bench-gate`:
# 2,000 generated lines (400 structs and functions), preprocessed (cc1 alone does not know the
# include paths).
set -eu
out=$1
src="${out%.i}.c"
{
  echo '#include <stdlib.h>'
  echo '#include <string.h>'
  for i in $(seq 400); do
    echo "struct s$i { int a[$((i % 7 + 1))]; double d; char name[$((i % 13 + 4))]; };"
    echo "int f$i(struct s$i *p, int n) { int t = 0; for (int k = 0; k < n; k++) t += p->a[k % $((i % 7 + 1))] * k;"
    echo "  if (t > $i) { p->d = t / 3.0; memset(p->name, 0, sizeof p->name); } else p->d = -t;"
    echo "  return t + (int)p->d + 0; }"
    echo "int f${i}_used(void) { return $i; }"
  done
} > "$src"
cc -E "$src" -o "$out"
