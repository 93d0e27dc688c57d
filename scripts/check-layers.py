#!/usr/bin/python3
"""check-layers.py BUILD: the analyzer's file-level dependencies, read from its objects' symbol
tables (nm), must form no cycle, and each layer may use only itself and the layers below it:

    common  <-  base  <-  import, symbols  <-  query  <-  output

(docs/architecture.md).  Prints each violation and exits 1; exits 0 when the tree is clean."""
import collections
import os
import subprocess
import sys

LAYERS = {"common": 0, "base": 1, "import": 2, "symbols": 2, "query": 3, "output": 4}
# Link-time seams: declared by a lower layer, defined by whichever library links it (the
# importer's symbolization: libdw in libheapql, "not here" in the preload).
SEAMS = {"hq__imp_symbolize"}

def objects(build):
    src = "analyzer"
    for layer in LAYERS:
        d = os.path.join(src, layer)
        for f in sorted(os.listdir(d)):
            if f.endswith(".c"):
                yield layer, os.path.join(build, "obj", src, layer, f[:-2] + ".o")

def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    defs, uses, layer_of = {}, collections.defaultdict(set), {}
    for layer, obj in objects(build):
        name = os.path.relpath(obj, os.path.join(build, "obj", "analyzer"))[:-2] + ".c"
        layer_of[name] = layer
        out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            p = line.split()
            if len(p) == 3 and p[1] in "TDRBC":
                defs[p[2]] = name
            elif len(p) == 2 and p[0] == "U":
                uses[name].add(p[1])
    deps = collections.defaultdict(set)
    bad = []
    for f, syms in uses.items():
        for s in syms:
            g = defs.get(s)
            if g and g != f and s not in SEAMS:
                deps[f].add(g)
                if LAYERS[layer_of[g]] > LAYERS[layer_of[f]] or (
                        LAYERS[layer_of[g]] == LAYERS[layer_of[f]] and layer_of[g] != layer_of[f]):
                    bad.append("%s uses %s (%s) from %s: a layer may use only the ones below it"
                               % (f, s, layer_of[g], g))
    # cycles: Tarjan's strongly connected components
    index, low, stack, on, comps, n = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(deps.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))
    sys.setrecursionlimit(10000)
    for v in sorted(layer_of):
        if v not in index:
            visit(v)
    for c in comps:
        bad.append("a cycle of files: " + " -> ".join(c))
    for b in bad:
        print("check-layers: " + b)
    if not bad:
        print("check-layers: %d files, no cycle, every layer uses only the ones below it"
              % len(layer_of))
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
