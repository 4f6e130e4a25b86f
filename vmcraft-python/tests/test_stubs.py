"""The committed type stubs are what the real module generates (regenerate them
with ``cargo xtask wheel --stubs``), and they name every public method."""

from __future__ import annotations

import ast
from pathlib import Path

import vmcraft
from vmcraft import _stubgen

STUBS = Path(__file__).resolve().parent.parent / "python" / "vmcraft" / "__init__.pyi"


def test_committed_stubs_match_the_module():
    assert STUBS.read_text(encoding="utf-8") == _stubgen.render(), (
        "vmcraft-python/python/vmcraft/__init__.pyi is stale: run `cargo xtask wheel --stubs`"
    )


def test_stubs_cover_every_public_method_with_docs():
    tree = ast.parse(STUBS.read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "VMCraft")
    methods = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
    public = {n for n in dir(vmcraft.VMCraft) if not n.startswith("_")}
    assert public - set(methods) == set()
    seed = set(vars(vmcraft.VMCraft)) - set(_stubgen._generated())
    for entry in vmcraft.calls:
        m = methods[entry["name"]]
        assert ast.get_docstring(m), entry["name"]
        if entry["name"] in seed or entry["variadic"]:
            continue  # the seed's signature (lvcreate(lvname, vgname, size_mb, extents))
        # Positional parameters in libguestfs's order, optional ones keyword-only.
        assert [a.arg for a in m.args.args[1:]] == [a for a, _ in entry["args"]]
        assert [a.arg for a in m.args.kwonlyargs] == [a for a, _ in entry["optargs"]]
    errors = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    assert {"Error", "NotFoundError", "ReadOnlyError", "CancelledError"} <= errors
