#!/usr/bin/env python3
"""Prints the table of docs/presets.md: every key a preset sets, with its
value in each preset ("·" where the preset leaves the key alone).

Run with the Python bindings against the library of this tree, e.g.
    make python-test PYTEST_ARGS=-q   # once: builds build/python-venv
    BYOL_LIBRARY=$PWD/lib/libbyol.so.1 build/python-venv/bin/python scripts/gen-presets-table.py

A preset sets key k when applying it overwrites another value of k; the
values are what byol_config_serialize()/Config[k] read back, not guesses.
"""
import byol

presets = byol.presets()
keys = byol.keys()
info = {k: byol.key_info(k) for k in keys}


def another(k, v):
    """A valid value of key k other than v."""
    i = info[k]
    if i.type == "bool":
        return not v
    if i.type in ("int", "float"):
        x = i.max if v != i.max else i.min
        return int(x) if i.type == "int" else x
    if i.choices:
        return [c for c in i.choices if c != v][0]
    return v + "x" if v else "x"


def text(v, t):
    if t == "bool":
        return "true" if v else "false"
    return "%.6g" % v if t == "float" else str(v)


sets = {p: set() for p in presets}
value = {p: byol.Config(p) for p in presets}
for p in presets:
    for k in keys:
        c = byol.Config()
        c[k] = another(k, value[p][k])
        c.apply_preset(p)
        if c[k] == value[p][k]:
            sets[p].add(k)

default = byol.Config()
print("| key | default | " + " | ".join("`%s`" % p for p in presets) + " |")
print("|---|---|" + "---|" * len(presets))
for k in keys:
    if any(k in sets[p] for p in presets):
        t = info[k].type
        cells = [text(value[p][k], t) if k in sets[p] else "·" for p in presets]
        print("| `%s` | %s | %s |" % (k, text(default[k], t), " | ".join(cells)))
