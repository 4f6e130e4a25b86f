"""Write ``vmcraft/__init__.pyi`` from the real module: every call of the table with
its signature and documentation, the seed's methods, the errors.

Run by ``cargo xtask wheel --stubs`` (``python -m vmcraft._stubgen`` prints the stubs);
the test suite checks that the committed stubs are what this prints."""

from __future__ import annotations

import inspect
import sys
from typing import Any, Dict, List

import vmcraft
from vmcraft import _native

HEADER = '''\
# Type stubs of the vmcraft package. Generated from the call table by
# `cargo xtask wheel --stubs` (vmcraft/_stubgen.py); do not edit.

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

__version__: str
calls: List[Dict[str, Any]]

EVENT_CLOSE: int
EVENT_SUBPROCESS_QUIT: int
EVENT_LAUNCH_DONE: int
EVENT_PROGRESS: int
EVENT_APPLIANCE: int
EVENT_LIBRARY: int
EVENT_TRACE: int
EVENT_ENTER: int
EVENT_LIBVIRT_AUTH: int
EVENT_WARNING: int
EVENT_ALL: int

class Error(RuntimeError):
    """A VMCraft call failed (libguestfs raises RuntimeError too)."""

    call: str
    """The call that failed (libguestfs's name, ``part_add``)."""
    kind: str
    """The kind of failure (``not_found``, ``invalid_argument``, ``read_only`` ...)."""
    message: str
    """The whole message."""
    subject: Optional[str]
    """The device or path the failure is about, when there is one."""
    device: Optional[str]
    """The device the failure is about (``/dev/sda1``), or None."""
    path: Optional[str]
    """The path the failure is about, or None."""
    audit: Dict[str, Any]
    """The seed's audit dict, on failures of its LVM calls."""
    result: Any
    """The partial result, on a call that partly failed."""

'''

PROGRESS = "Optional[Callable[[str, int, int], Any]]"


def _quote(doc: str, indent: str) -> str:
    doc = doc.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').rstrip()
    lines = doc.splitlines()
    body = "\n".join((indent + line) if line.strip() else "" for line in lines)
    return f'{indent}"""\n{body}\n{indent}"""\n'


def _params(sig: inspect.Signature) -> str:
    out: List[str] = []
    star = False
    for p in sig.parameters.values():
        ann = p.annotation
        text = p.name
        if p.kind is p.VAR_POSITIONAL:
            text = "*" + text
            star = True
        elif p.kind is p.VAR_KEYWORD:
            text = "**" + text
        elif p.kind is p.KEYWORD_ONLY and not star:
            out.append("*")
            star = True
        if ann is not inspect.Parameter.empty:
            text += f": {ann if isinstance(ann, str) else ann.__name__}"
        if p.default is not inspect.Parameter.empty:
            text += f" = {p.default!r}"
        out.append(text)
    return ", ".join(out)


def _ret(sig: inspect.Signature) -> str:
    r = sig.return_annotation
    if r is inspect.Signature.empty:
        return "Any"
    return r if isinstance(r, str) else r.__name__


def _method(name: str, fn: Any) -> str:
    sig = inspect.signature(fn)
    doc = inspect.getdoc(fn) or ""
    s = f"    def {name}({_params(sig)}) -> {_ret(sig)}:\n"
    return s + _quote(doc, "        ") + "        ...\n"


def render() -> str:
    out = [HEADER]
    for name in vmcraft.__all__:
        obj = getattr(vmcraft, name)
        if isinstance(obj, type) and issubclass(obj, vmcraft.Error) and obj is not vmcraft.Error:
            out.append(f"class {name}(Error):\n")
            out.append(_quote(obj.__doc__ or name, "    "))
            out.append("\n")
    out.append("class VMCraft:\n")
    out.append(_quote(inspect.getdoc(vmcraft.VMCraft) or "", "    "))
    out.append(
        "    def __init__(self, python_return_dict: bool = True, "
        f"progress: {PROGRESS} = None, close_on_exit: bool = True, "
        "environment: bool = True, **kwargs: Any) -> None: ...\n"
        "    @property\n"
        "    def python_return_dict(self) -> bool:\n"
        '        """Whether hashes are returned as dict (libguestfs\'s python_return_dict)."""\n'
        "        ...\n"
        "    def __enter__(self) -> VMCraft: ...\n"
        "    def __exit__(self, exc_type: Any = None, exc: Any = None, tb: Any = None) -> bool: ...\n"
    )
    native = vars(_native.VMCraft)
    for name in (
        "close",
        "cancel",
        "set_progress_callback",
        "get_progress_callback",
        "set_event_callback",
        "delete_event_callback",
    ):
        doc = native[name].__doc__ or ""
        # Native methods carry their signature in the text_signature only.
        sig = {
            "close": "(self) -> None",
            "cancel": "(self) -> None",
            "set_progress_callback": f"(self, callback: {PROGRESS}) -> None",
            "get_progress_callback": f"(self) -> {PROGRESS}",
            "set_event_callback": "(self, callback: Callable[[int, int, bytes, List[int]], Any], events: int) -> int",
            "delete_event_callback": "(self, event_handle: int) -> None",
        }[name]
        doc_lines = [line for line in doc.splitlines() if not line.startswith(f"{name}(")]
        out.append(f"    def {name}{sig}:\n" + _quote("\n".join(doc_lines).strip(), "        ") + "        ...\n")
    own = vars(vmcraft.VMCraft)
    for name, prop in sorted(own.items()):
        if isinstance(prop, property) and not name.startswith("_"):
            ret = prop.fget.__annotations__.get("return", "Any")
            out.append(
                f"    @property\n    def {name}(self) -> {ret}:\n"
                + _quote(inspect.getdoc(prop) or name, "        ")
                + "        ...\n"
            )
    seed = sorted(n for n, v in own.items() if callable(v) and not n.startswith("_") and n not in _generated())
    for name in seed:
        out.append(_method(name, own[name]))
    for name in sorted(_generated()):
        out.append(_method(name, own[name]))
    out.append("\nGuestFS = VMCraft\n")
    return "".join(out)


def _generated() -> Dict[str, Dict[str, Any]]:
    """The methods made from the table (those the seed's API does not replace)."""
    made: Dict[str, Dict[str, Any]] = {}
    for entry in vmcraft.calls:
        for name in [entry["name"], *entry["aliases"]]:
            fn = vars(vmcraft.VMCraft).get(name)
            if fn is not None and getattr(fn, "__qualname__", "") == f"VMCraft.{name}" and hasattr(fn, "__signature__"):
                made[name] = entry
    return made


if __name__ == "__main__":
    sys.stdout.write(render())
