#!/usr/bin/env python3
"""Module dependencies of a crate's src/: import cycles and imports that run upward.

    tools/layers.py server/src [--layers layers.txt] [--edges] [--check]

A module is a file (`a/b.rs` and `a/b/mod.rs` are `a::b`). An edge A -> B is a path
`crate::B...` (or `super::`, `self::` or a child module's name, resolved) written in A, outside `#[cfg(test)]` modules and
comments. Prints the strongly connected components with more than one module (the
import cycles) and the folders each spans. With a layers file (one line per layer, lowest
first, each a list of module prefixes separated by spaces), also counts the edges that run
from a lower layer to a higher one (upward imports) and lists them. With --check, exits
with status 1 if a cycle spans more than one folder, an import runs upward or a module is
in no layer (server/tests/boundaries.rs runs it in the test suite).
"""
import os
import re
import sys
from collections import defaultdict


def modules(src):
    mods = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(path, src)[:-3].split(os.sep)
            if len(rel) > 1:
                TREES.add(rel[0])
            if rel[-1] == "mod":
                rel = rel[:-1]
                DIRS.add("::".join(rel))
            if rel in (["lib"], ["main"]):
                rel = []
            mods["::".join(rel)] = path
    return mods


def strip(text):
    # Comments, strings and #[cfg(test)] modules do not count.
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def resolve(mod, path, known):
    """The longest known module a path names, from module `mod`."""
    parts = path.split("::")
    base = mod.split("::") if mod else []
    if parts[0] == "crate":
        parts = parts[1:]
        base = []
    else:
        # super:: / self::
        cur = list(base)
        while parts and parts[0] in ("super", "self"):
            if parts[0] == "super":
                cur = cur[:-1]
            parts = parts[1:]
        base = cur
    full = base + parts
    for n in range(len(full), 0, -1):
        name = "::".join(full[:n])
        if name in known:
            return name
    return None


def edges(src):
    mods = modules(src)
    known = set(mods)
    out = defaultdict(set)
    for mod, path in mods.items():
        text = strip(open(path, encoding="utf-8").read())
        # Expand `use a::{b, c::d}` one level.
        for m in re.finditer(r"\b((?:crate|super|self)(?:::\w+)*)::\{([^}]*)\}", text):
            for item in m.group(2).split(","):
                item = item.strip().split(" as ")[0].strip()
                if item and item != "self":
                    target = resolve(mod, m.group(1) + "::" + item.split("::{")[0], known)
                    if target is not None and target != mod and target != "":
                        out[mod].add(target)
        for m in re.finditer(r"\b((?:crate|super)(?:::\w+)*)::\*", text):
            target = resolve(mod, m.group(1), known)
            if target is not None and target != mod and target != "":
                out[mod].add(target)
        for m in re.finditer(r"\b((?:crate|super)(?:::\w+)+)", text):
            target = resolve(mod, m.group(1), known)
            if target is not None and target != mod and target != "":
                out[mod].add(target)
        # Paths that start with a child module's name (`use clients::accept_loop`).
        for m in re.finditer(r"(?<![:\w])([a-z_]\w*)((?:::\w+)*)::", text):
            name = m.group(1)
            child = f"{mod}::{name}" if mod else name
            if name in ("crate", "super", "self") or child not in known or not mod:
                continue
            target = resolve(mod, "self::" + name + m.group(2), known)
            if target is not None and target != mod:
                out[mod].add(target)
    return mods, out


def sccs(nodes, out):
    index, low, on, stack, res, counter = {}, {}, set(), [], [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(out.get(v, ())):
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
            res.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return res


DIRS = set()
TREES = set()


def folder(mod):
    """The folder of src/ a module's tree is in: `a/b.rs`, `a/mod.rs`, and `a.rs` beside an
    `a/` folder are in `a`."""
    top = mod.split("::")[0]
    return top if "::" in mod or mod in DIRS or top in TREES else "(top)"


def main():
    src = sys.argv[1]
    mods, out = edges(src)
    nodes = set(mods)
    comps = [c for c in sccs(nodes, out) if len(c) > 1]
    n_edges = sum(len(v) for v in out.values())
    print(f"{len(nodes)} modules, {n_edges} edges")
    failures = []
    if not comps:
        print("no import cycle")
    for c in comps:
        folders = sorted({folder(m) for m in c})
        print(f"cycle of {len(c)} modules spanning {len(folders)} folder(s) {folders}:")
        print("   " + " ".join(c))
        if len(folders) > 1:
            failures.append(f"a cycle spans {len(folders)} folders")
    if "--layers" in sys.argv:
        spec = open(sys.argv[sys.argv.index("--layers") + 1]).read().split("\n")
        layers = [l.split() for l in spec if l.strip() and not l.startswith("#")]

        def layer(m):
            best, best_len = None, -1
            for i, prefixes in enumerate(layers):
                for p in prefixes:
                    if (m == p or m.startswith(p + "::")) and len(p) > best_len:
                        best, best_len = i, len(p)
            return best

        up = [(a, b) for a in sorted(out) for b in sorted(out[a])
              if layer(a) is not None and layer(b) is not None and layer(b) > layer(a)]
        unplaced = sorted(m for m in nodes if layer(m) is None and m)
        print(f"{len(up)} upward imports")
        for a, b in up:
            print(f"   {a} (layer {layer(a)}) -> {b} (layer {layer(b)})")
        if unplaced:
            print("modules in no layer: " + " ".join(unplaced))
            failures.append("modules in no layer")
        if up:
            failures.append(f"{len(up)} upward imports")
    if "--edges" in sys.argv:
        for a in sorted(out):
            print(f"{a} -> {' '.join(sorted(out[a]))}")
    if "--check" in sys.argv and failures:
        print("FAILED: " + "; ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
