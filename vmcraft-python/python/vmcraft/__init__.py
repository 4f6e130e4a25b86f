"""VMCraft: manipulate virtual-machine disk images on the host, without an appliance.

``vmcraft.VMCraft`` is a drop-in for both libguestfs's Python handle
(``guestfs.GuestFS(python_return_dict=True)``) and hyper2kvm's VMCraft (the seed)::

    import vmcraft
    with vmcraft.VMCraft() as g:
        g.add_drive_opts("disk.qcow2", readonly=True)
        g.launch()
        for root in g.inspect_os():
            print(g.inspect_get_distro(root))

Every call of the call table is a method: positional arguments in libguestfs's
order, optional arguments as keywords (``g.mkfs("ext4", "/dev/sda1", label="root")``).
Results: hashes and structs as ``dict``, lists as ``list``, booleans as ``bool``,
integers as ``int``, buffers (``read_file``, ``pread``) as ``bytes``. Errors are
``vmcraft.Error`` (a ``RuntimeError``) or a subclass by kind, with ``call``,
``kind``, ``subject``, ``device`` and ``path`` attributes. The GIL is released while a
call runs; one handle may be used from several threads.
"""

from __future__ import annotations

import inspect as _inspect
import os
import threading as _threading
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from . import _native
from ._native import (
    BusyError,
    CancelledError,
    CommandError,
    CorruptError,
    Error,
    InvalidArgumentError,
    MountError,
    NotFoundError,
    PermissionDeniedError,
    ReadOnlyError,
    StateError,
    TimedOutError,
    UnsupportedError,
)

__all__ = [
    "VMCraft",
    "GuestFS",
    "Error",
    "NotFoundError",
    "InvalidArgumentError",
    "ReadOnlyError",
    "UnsupportedError",
    "BusyError",
    "CorruptError",
    "StateError",
    "MountError",
    "PermissionDeniedError",
    "CommandError",
    "TimedOutError",
    "CancelledError",
    "calls",
]

__version__ = _native._version()

#: Every call of the table: dicts with ``name``, ``table_name``, ``aliases``,
#: ``args``/``optargs`` (lists of ``(name, kind)``), ``variadic``, ``ret``,
#: ``summary``, ``doc`` and ``flags``.
calls: List[Dict[str, Any]] = _native._calls()


def _error(cls: type, call: str, message: str, subject: Optional[str] = None) -> Error:
    """An exception of ``cls`` with the attributes the native ones carry."""
    e = cls(f"{call}: {subject}: {message}" if subject else f"{call}: {message}")
    e.call = call
    e.kind = {
        InvalidArgumentError: "invalid_argument",
        NotFoundError: "not_found",
    }.get(cls, "other")
    e.message = str(e)
    e.subject = subject
    e.device = subject if subject and subject.startswith("/dev/") else None
    e.path = subject if subject and not subject.startswith("/dev/") else None
    return e


class VMCraft(_native.VMCraft):
    """A VMCraft handle: drives, devices, filesystems and guest files.

    ``VMCraft(python_return_dict=True, progress=None)``: ``python_return_dict`` as in
    libguestfs (true, the default as in the seed: hashes as ``dict``; false: lists of
    ``(key, value)`` tuples); ``progress`` a callable ``progress(call, done, total)``
    for long calls. Use it as a context manager: leaving the block shuts the handle
    down (unmounts, detaches drives), also when the block raised.
    """

    # -- the seed's API (hyper2kvm's VMCraft), on top of the table's calls --

    def mount_all_parallel(
        self,
        mounts: Union[Iterable[Tuple[str, str]], Mapping[str, str], Iterable[str]],
        readonly: bool = False,
        fallback: bool = False,
        max_workers: Optional[int] = None,
    ) -> Dict[str, Dict[str, Any]]:
        """Mount many filesystems at once, parents before children.

        ``mounts`` is the seed's ``[(device, mountpoint), ...]``, a dict
        ``{mountpoint: device}`` (as ``inspect_get_mountpoints`` returns), or the
        command line's ``["MOUNTPOINT:DEVICE", ...]``. Each depth is mounted in
        parallel (``max_workers`` is accepted for the seed's signature; the facade
        sizes its own pool). ``readonly`` mounts read-only; ``fallback`` tries the
        strategies of ``mount_with_fallback``.

        Returns ``{mountpoint: result}`` in the order given, each result a dict with
        ``device``, ``mountpoint``, ``ok`` and, when mounted, ``fstype``,
        ``strategy``, ``options``, ``attempts``; when not, ``error`` and ``kind``. A
        child of a mount point that failed is not attempted (``ok`` false). A bad list
        (a mount point twice, a relative one) raises and mounts nothing.
        """
        del max_workers
        pairs: List[Tuple[str, str]] = []
        if isinstance(mounts, Mapping):
            pairs = [(str(mp), str(dev)) for mp, dev in mounts.items()]
        else:
            for item in mounts:
                if isinstance(item, str):
                    mp, sep, dev = item.rpartition(":")
                    if not sep or not mp or not dev:
                        raise _error(
                            InvalidArgumentError,
                            "mount_all_parallel",
                            f"'{item}' is not MOUNTPOINT:DEVICE",
                            "mounts",
                        )
                    pairs.append((mp, dev))
                else:
                    dev, mp = item
                    pairs.append((str(mp), str(dev)))
        results = self._mount_all_parallel(pairs, bool(readonly), bool(fallback))
        return {r["mountpoint"]: r for r in results}

    def mount_with_fallback(self, device: str, mountpoint: str = "/") -> Dict[str, Any]:
        """Mount trying each strategy in turn: normal, then ``ro,norecovery``,
        ``ro,noload``, then read-only FUSE drivers; none changes the filesystem.

        Returns a dict: ``device``, ``mountpoint``, ``fstype``, ``strategy`` (the one
        that worked), ``options`` and ``attempts`` (every strategy tried, each a dict
        ``strategy``, ``options``, ``error``). Raises ``MountError`` when none worked
        (the seed returned false).
        """
        _value, detail = self._call_detailed("mount-with-fallback", (device, mountpoint))
        return detail

    def _audit(self, operation: str, fields: Dict[str, Any], run: Callable[[], Any]) -> Dict[str, Any]:
        audit: Dict[str, Any] = {
            "operation": operation,
            "attempted": True,
            "ok": False,
            "error": None,
            **fields,
        }
        try:
            run()
        except Error as e:
            audit["error"] = str(e)
            e.audit = audit
            raise
        audit["ok"] = True
        return audit

    def pvcreate(self, devices: Union[str, Iterable[str]]) -> Dict[str, Any]:
        """Make LVM physical volumes on ``devices`` (one device or a list).

        Returns the seed's audit dict: ``operation``, ``attempted``, ``ok``,
        ``error``, ``devices``. On failure raises, the audit dict (``ok`` false,
        ``error`` set) as the exception's ``audit`` attribute.
        """
        devs = [devices] if isinstance(devices, str) else list(devices)
        return self._audit("pvcreate", {"devices": devs}, lambda: self._call("pvcreate", (devs,)))

    def vgcreate(self, vgname: str, pvs: Union[str, Iterable[str]]) -> Dict[str, Any]:
        """Make volume group ``vgname`` on the physical volumes ``pvs``.

        Returns the audit dict (``operation``, ``attempted``, ``ok``, ``error``,
        ``vgname``, ``pvs``); raises on failure with it as ``audit``.
        """
        pv = [pvs] if isinstance(pvs, str) else list(pvs)
        return self._audit(
            "vgcreate", {"vgname": vgname, "pvs": pv}, lambda: self._call("vgcreate", (vgname, pv))
        )

    def lvcreate(
        self,
        lvname: str,
        vgname: str,
        size_mb: Optional[int] = None,
        extents: Optional[int] = None,
        *,
        mbytes: Optional[int] = None,
    ) -> Dict[str, Any]:
        """Make logical volume ``lvname`` in ``vgname``: ``size_mb`` MiB (libguestfs's
        third argument, ``mbytes``) or ``extents`` extents, exactly one of them.

        Returns the audit dict (``operation``, ``attempted``, ``ok``, ``error``,
        ``lvname``, ``vgname``, ``size_mb``, ``extents``, ``lvpath``); raises on
        failure with it as ``audit``.
        """
        if mbytes is not None:
            if size_mb is not None:
                raise TypeError("lvcreate() got both size_mb and mbytes")
            size_mb = mbytes
        if (size_mb is None) == (extents is None):
            raise _error(
                InvalidArgumentError, "lvcreate", "give exactly one of size_mb and extents", lvname
            )
        fields = {
            "lvname": lvname,
            "vgname": vgname,
            "size_mb": size_mb,
            "extents": extents,
            "lvpath": f"/dev/{vgname}/{lvname}",
        }
        if extents is not None:
            return self._audit(
                "lvcreate", fields, lambda: self._lvcreate_extents(lvname, vgname, int(extents))
            )
        return self._audit(
            "lvcreate", fields, lambda: self._call("lvcreate", (lvname, vgname, size_mb))
        )

    def lvresize(self, lvpath: str, size_mb: int) -> Dict[str, Any]:
        """Resize logical volume ``lvpath`` to ``size_mb`` MiB (libguestfs's
        ``lvresize(device, mbytes)``). Returns the audit dict; raises on failure."""
        return self._audit(
            "lvresize",
            {"lvpath": lvpath, "size_mb": size_mb},
            lambda: self._call("lvresize", (lvpath, size_mb)),
        )

    def lvremove(self, lvpath: str, force: bool = False) -> Dict[str, Any]:
        """Remove logical volume ``lvpath`` (or every LV of ``/dev/VG``). VMCraft
        always removes without asking, as libguestfs: ``force`` is recorded in the
        audit dict only. Returns the audit dict; raises on failure."""
        return self._audit(
            "lvremove",
            {"lvpath": lvpath, "force": bool(force)},
            lambda: self._call("lvremove", (lvpath,)),
        )

    def vgremove(self, vgname: str, force: bool = False) -> Dict[str, Any]:
        """Remove volume group ``vgname`` and its logical volumes (``force`` is
        recorded only, as for ``lvremove``). Returns the audit dict; raises on
        failure."""
        return self._audit(
            "vgremove",
            {"vgname": vgname, "force": bool(force)},
            lambda: self._call("vgremove", (vgname,)),
        )

    def _with_progress(self, progress: Optional[Callable[[str, int, int], Any]], run: Callable[[], Any]) -> Any:
        if progress is None:
            return run()
        with _progress_lock:
            before = self.get_progress_callback()
            self.set_progress_callback(progress)
            try:
                return run()
            finally:
                self.set_progress_callback(before)

    def tar_in(
        self,
        tarfile: Union[str, os.PathLike[str]],
        directory: str,
        compress: Optional[str] = None,
        *,
        progress: Optional[Callable[[str, int, int], Any]] = None,
        **opts: Any,
    ) -> Dict[str, Any]:
        """Unpack host tarball ``tarfile`` into guest ``directory``; ``compress`` is
        none, gzip, bzip2, xz or zstd (detected when not given); ``xattrs``,
        ``selinux``, ``acls`` as keywords. ``progress(call, done, total)`` is called
        as it advances. Returns the statistics (``entries``, ``bytes``, ...)."""
        kw = dict(opts, compress=compress)
        return self._with_progress(
            progress, lambda: self._call_detailed("tar-in", (tarfile, directory), kw)[1]
        )

    def tar_out(
        self,
        directory: str,
        tarfile: Union[str, os.PathLike[str]],
        compress: Optional[str] = None,
        *,
        progress: Optional[Callable[[str, int, int], Any]] = None,
        **opts: Any,
    ) -> Dict[str, Any]:
        """Pack guest ``directory`` into host tarball ``tarfile``; ``compress`` is
        none, gzip, bzip2, xz or zstd; ``numericowner``, ``excludes`` (a list of
        globs), ``xattrs``, ``selinux``, ``acls`` as keywords. Returns the
        statistics."""
        kw = dict(opts, compress=compress)
        return self._with_progress(
            progress, lambda: self._call_detailed("tar-out", (directory, tarfile), kw)[1]
        )

    def copy_device_to_device(
        self,
        src: str,
        dest: str,
        *,
        progress: Optional[Callable[[str, int, int], Any]] = None,
        **opts: Any,
    ) -> Dict[str, Any]:
        """Copy ``src`` onto ``dest`` (devices); ``srcoffset``, ``destoffset``,
        ``size``, ``sparse``, ``append`` as keywords, as libguestfs. Returns the
        statistics; ``progress(call, done, total)`` as it advances."""
        return self._with_progress(
            progress, lambda: self._call_detailed("copy-device-to-device", (src, dest), opts)[1]
        )

    def __repr__(self) -> str:
        return f"<vmcraft.VMCraft at {id(self):#x}>"


_progress_lock = _threading.RLock()

#: libguestfs's name for the handle class (``guestfs.GuestFS``).
GuestFS = VMCraft

_ANNOTATION = {
    "String": "str",
    "Device": "str",
    "Path": "str",
    "OptString": "Optional[str]",
    "Int": "int",
    "Int64": "int",
    "Bool": "bool",
    "List": "List[str]",
    "FileIn": "Union[str, os.PathLike[str]]",
    "FileOut": "Union[str, os.PathLike[str]]",
    "Buffer": "Union[bytes, str]",
}

_RETURN = {
    "RErr": "None",
    "RBool": "bool",
    "RInt": "int",
    "RInt64": "int",
    "RString": "str",
    "RBufferOut": "bytes",
    "RStringList": "List[str]",
    "RHashtable": "Dict[str, str]",
    "RStruct": "Dict[str, Any]",
    "RStructList": "List[Dict[str, Any]]",
}


def _signature(entry: Dict[str, Any]) -> _inspect.Signature:
    P = _inspect.Parameter
    params = [P("self", P.POSITIONAL_OR_KEYWORD)]
    if entry["variadic"]:
        params.append(P("words", P.VAR_POSITIONAL, annotation="str"))
    else:
        for name, kind in entry["args"]:
            params.append(P(name, P.POSITIONAL_OR_KEYWORD, annotation=_ANNOTATION[kind]))
        for name, kind in entry["optargs"]:
            ann = _ANNOTATION[kind]
            if not ann.startswith("Optional["):
                ann = f"Optional[{ann}]"
            params.append(P(name, P.KEYWORD_ONLY, default=None, annotation=ann))
    return _inspect.Signature(params, return_annotation=_RETURN[entry["ret"]])


def _doc(entry: Dict[str, Any], name: str) -> str:
    """libguestfs-style documentation: the Python synopsis, the summary, then the
    table's description (guestfish's wording about ``name:value`` turned into
    keywords)."""
    text = entry["doc"]
    desc = text.split("DESCRIPTION\n", 1)[-1]
    lines = [line[4:] if line.startswith("    ") else line for line in desc.splitlines()]
    desc = "\n".join(lines).strip()
    desc = desc.replace("Optional arguments are written name:value.", "Optional arguments are keywords.")
    desc = desc.replace(
        "Use - instead of a filename to read/write from stdin/stdout.",
        "Use \"-\" instead of a filename for standard input/output.",
    )
    params = []
    for p in list(_signature(entry).parameters.values())[1:]:
        text = f"{p.name}: {p.annotation}"
        if p.kind is p.VAR_POSITIONAL:
            text = f"*{text}"
        elif p.kind is p.KEYWORD_ONLY:
            if not any(q.startswith("*") for q in params):
                params.append("*")
            text += " = None"
        params.append(text)
    sig = f"({', '.join(params)}) -> {_RETURN[entry['ret']]}"
    head = f"{name}{sig}\n\n{entry['summary']}"
    if name != entry["name"]:
        head += f" (an alias of {entry['name']})"
    return f"{head}\n\n{desc}\n"


def _method(entry: Dict[str, Any], name: str) -> Callable[..., Any]:
    index = entry["index"]

    def method(self: VMCraft, *args: Any, **kwargs: Any) -> Any:
        return self._call(index, args, kwargs)

    method.__name__ = name
    method.__qualname__ = f"VMCraft.{name}"
    method.__module__ = __name__
    method.__doc__ = _doc(entry, name)
    method.__signature__ = _signature(entry)  # type: ignore[attr-defined]
    return method


def _install() -> None:
    own = set(vars(VMCraft)) | set(vars(_native.VMCraft))
    for entry in calls:
        for name in [entry["name"], *entry["aliases"]]:
            if name in own or not name.isidentifier():
                continue
            setattr(VMCraft, name, _method(entry, name))


_install()
