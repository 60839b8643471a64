"""The ctypes structures against the C header: sizes and every field offset,
measured by a C program compiled with the system compiler (the C side is
authoritative)."""

from __future__ import annotations

import ctypes
import shutil
import subprocess

import pytest
from conftest import REPO

from byol import _lib


def _c_program() -> str:
    lines = ["#include <stddef.h>", "#include <stdio.h>", "#include <byol/byol.h>",
             "int main(void) {"]
    for cname, cls in _lib.STRUCTS.items():
        lines.append(f'    printf("{cname} sizeof %zu\\n", sizeof({cname}));')
        for field, _ in cls._fields_:
            lines.append(f'    printf("{cname} {field} %zu\\n", offsetof({cname}, {field}));')
    lines += ["    return 0;", "}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory) -> dict[tuple[str, str], int]:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler (cc) to measure the C structs")
    d = tmp_path_factory.mktemp("layout")
    (d / "layout.c").write_text(_c_program())
    subprocess.run([cc, "-std=c11", "-I", str(REPO / "include"), str(d / "layout.c"), "-o",
                    str(d / "layout")], check=True, capture_output=True, text=True)
    out = subprocess.run([str(d / "layout")], check=True, capture_output=True, text=True).stdout
    layout = {}
    for line in out.splitlines():
        name, field, value = line.split()
        layout[(name, field)] = int(value)
    return layout


@pytest.mark.parametrize("cname", sorted(_lib.STRUCTS))
def test_struct_matches_c(cname, c_layout):
    cls = _lib.STRUCTS[cname]
    assert ctypes.sizeof(cls) == c_layout[(cname, "sizeof")], f"sizeof({cname})"
    for field, _ in cls._fields_:
        assert getattr(cls, field).offset == c_layout[(cname, field)], f"{cname}.{field}"
