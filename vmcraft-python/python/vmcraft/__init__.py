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
    EVENT_ALL,
    EVENT_APPLIANCE,
    EVENT_CLOSE,
    EVENT_ENTER,
    EVENT_LAUNCH_DONE,
    EVENT_LIBRARY,
    EVENT_LIBVIRT_AUTH,
    EVENT_PROGRESS,
    EVENT_SUBPROCESS_QUIT,
    EVENT_TRACE,
    EVENT_WARNING,
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
    "EVENT_CLOSE",
    "EVENT_SUBPROCESS_QUIT",
    "EVENT_LAUNCH_DONE",
    "EVENT_PROGRESS",
    "EVENT_APPLIANCE",
    "EVENT_LIBRARY",
    "EVENT_TRACE",
    "EVENT_ENTER",
    "EVENT_LIBVIRT_AUTH",
    "EVENT_WARNING",
    "EVENT_ALL",
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
        devices: Union[Iterable[Tuple[str, str]], Mapping[str, str], Iterable[str]],
        max_workers: int = 4,
        readonly: bool = True,
        *,
        fallback: bool = False,
        details: bool = False,
    ) -> Dict[str, Any]:
        """Mount many filesystems at once, parents before children (the seed's
        ``mount_all_parallel(devices, max_workers=4, readonly=True)``).

        ``devices`` is the seed's ``[(device, mountpoint), ...]``, a dict
        ``{mountpoint: device}`` (as ``inspect_get_mountpoints`` returns), or the
        command line's ``["MOUNTPOINT:DEVICE", ...]``. Each depth is mounted in
        parallel (``max_workers`` is accepted for the seed's signature; the facade
        sizes its own pool). ``readonly`` (default true, as the seed) mounts
        read-only; ``fallback`` tries the strategies of ``mount_with_fallback``.

        Returns ``{mountpoint: True/False}`` in the order given, as the seed. With
        ``details=True`` each value is a dict instead: ``device``, ``mountpoint``,
        ``ok`` and, when mounted, ``fstype``, ``strategy``, ``options``,
        ``attempts``; when not, ``error`` and ``kind``. A child of a mount point that
        failed is not attempted (false). A bad list (a mount point twice, a
        relative one) raises ``InvalidArgumentError`` and mounts nothing.
        """
        del max_workers
        pairs: List[Tuple[str, str]] = []
        if isinstance(devices, Mapping):
            pairs = [(str(mp), str(dev)) for mp, dev in devices.items()]
        else:
            for item in devices:
                if isinstance(item, str):
                    mp, sep, dev = item.partition(":")
                    if not sep or not mp or not dev:
                        raise _error(
                            InvalidArgumentError,
                            "mount_all_parallel",
                            f"'{item}' is not MOUNTPOINT:DEVICE",
                            "devices",
                        )
                    pairs.append((mp, dev))
                else:
                    dev, mp = item
                    pairs.append((str(mp), str(dev)))
        results = self._mount_all_parallel(pairs, bool(readonly), bool(fallback))
        if details:
            return {r["mountpoint"]: r for r in results}
        return {r["mountpoint"]: bool(r["ok"]) for r in results}

    def mount_with_fallback(
        self, device: str, mountpoint: str = "/", fstype: Optional[str] = None, *, details: bool = False
    ) -> Union[bool, Dict[str, Any]]:
        """Mount trying each strategy in turn: normal, then ``ro,norecovery``,
        ``ro,noload``, then read-only FUSE drivers; none changes the filesystem
        (the seed's ``mount_with_fallback(device, mountpoint, fstype=None)``).
        ``fstype`` names the filesystem type instead of probing it.

        Returns True, or with ``details=True`` a dict: ``device``, ``mountpoint``,
        ``fstype``, ``strategy`` (the one that worked), ``options`` and ``attempts``
        (every strategy tried: ``strategy``, ``options``, ``error``). Where the seed
        returned False, raises ``MountError`` (or the kind of the failure) with every
        attempt in the message.
        """
        out = self._mount_with_fallback(device, mountpoint, fstype)
        return out if details else True

    def command_with_mounts(self, cmd: List[str], quiet: bool = False) -> str:
        """Run a guest command (the seed's ``command_with_mounts``): as ``command``,
        whose sandbox always has the guest's tree with a fresh /dev (the session's
        disks) and /proc; it has no /sys. ``quiet`` is accepted for the seed's
        signature (VMCraft does not log). Raises on failure."""
        del quiet
        return self._call("command", (cmd,))

    def command_quiet(self, cmd: List[str]) -> str:
        """Run a guest command (the seed's ``command_quiet``): as ``command``."""
        return self._call("command", (cmd,))

    def _audit(self, audit: Dict[str, Any], run: Callable[[], Any], done: Dict[str, Any]) -> Dict[str, Any]:
        audit["attempted"] = True
        try:
            run()
        except Error as e:
            audit["error"] = str(e)
            e.audit = audit
            raise
        audit["ok"] = True
        audit.update(done)
        return audit

    def pvcreate(self, devices: Union[str, Iterable[str]]) -> Dict[str, Any]:
        """Make LVM physical volumes on ``devices`` (a list, or one device).

        Returns the seed's audit dict: ``{"attempted": True, "ok": True,
        "error": None, "pvs": devices}``. Where the seed returned ``ok: False``,
        raises; the audit dict (``ok`` false, ``error`` set) is the exception's
        ``audit`` attribute.
        """
        devs = [devices] if isinstance(devices, str) else list(devices)
        audit: Dict[str, Any] = {"attempted": False, "ok": False, "error": None, "pvs": []}
        return self._audit(audit, lambda: self._call("pvcreate", (devs,)), {"pvs": devs})

    def vgcreate(self, vgname: str, pvs: Union[str, Iterable[str]]) -> Dict[str, Any]:
        """Make volume group ``vgname`` on the physical volumes ``pvs``.

        Returns ``{"attempted": True, "ok": True, "error": None, "vg": vgname}``;
        raises on failure, the audit dict as the exception's ``audit``.
        """
        pv = [pvs] if isinstance(pvs, str) else list(pvs)
        audit: Dict[str, Any] = {"attempted": False, "ok": False, "error": None, "vg": None}
        return self._audit(audit, lambda: self._call("vgcreate", (vgname, pv)), {"vg": vgname})

    def lvcreate(
        self,
        lvname: str,
        vgname: str,
        size_mb: Optional[int] = None,
        extents: Optional[Union[str, int]] = None,
        *,
        mbytes: Optional[int] = None,
    ) -> Dict[str, Any]:
        """Make logical volume ``lvname`` in ``vgname`` of ``size_mb`` MiB
        (libguestfs's third argument, ``mbytes``) or ``extents``: a number of
        extents, or ``"N%FREE"`` (``"100%FREE"``: all the free space); exactly one.

        Returns ``{"attempted": True, "ok": True, "error": None, "lv":
        "/dev/VG/LV"}``; raises on failure (``InvalidArgumentError`` for a missing or
        double size, where the seed answered ``ok: False``), the audit dict as the
        exception's ``audit``.
        """
        if mbytes is not None:
            if size_mb is not None:
                raise TypeError("lvcreate() got both size_mb and mbytes")
            size_mb = mbytes
        audit: Dict[str, Any] = {"attempted": False, "ok": False, "error": None, "lv": None}

        def refuse(message: str) -> Error:
            e = _error(InvalidArgumentError, "lvcreate", message, lvname)
            audit["error"] = message
            e.audit = audit
            return e

        if (size_mb is None) == (extents is None):
            raise refuse("give exactly one of size_mb and extents")
        if size_mb is not None:
            run: Callable[[], Any] = lambda: self._call("lvcreate", (lvname, vgname, size_mb))
        else:
            text = str(extents).strip().upper()
            if text.endswith("%FREE") and text[:-5].isdigit():
                percent = int(text[:-5])
                run = lambda: self._lvcreate_percent_free(lvname, vgname, percent)
            elif text.isdigit():
                count = int(text)
                run = lambda: self._lvcreate_extents(lvname, vgname, count)
            else:
                raise refuse(f"extents: '{extents}' is not a number of extents or N%FREE")
        return self._audit(audit, run, {"lv": f"/dev/{vgname}/{lvname}"})

    def lvresize(self, lvpath: str, size_mb: int) -> Dict[str, Any]:
        """Resize logical volume ``lvpath`` to ``size_mb`` MiB (libguestfs's
        ``lvresize(device, mbytes)``). Returns ``{"attempted": True, "ok": True,
        "error": None}``; raises on failure, the audit dict as ``audit``."""
        audit: Dict[str, Any] = {"attempted": False, "ok": False, "error": None}
        return self._audit(audit, lambda: self._call("lvresize", (lvpath, size_mb)), {})

    def lvremove(self, lvpath: str, force: bool = False) -> Dict[str, Any]:
        """Remove logical volume ``lvpath`` (or every LV of ``/dev/VG``). VMCraft
        removes without asking, as libguestfs: ``force`` is accepted for the seed's
        signature. Returns the audit dict; raises on failure."""
        del force
        audit: Dict[str, Any] = {"attempted": False, "ok": False, "error": None}
        return self._audit(audit, lambda: self._call("lvremove", (lvpath,)), {})

    def vgremove(self, vgname: str, force: bool = False) -> Dict[str, Any]:
        """Remove volume group ``vgname`` and its logical volumes (``force`` as for
        ``lvremove``). Returns the audit dict; raises on failure."""
        del force
        audit: Dict[str, Any] = {"attempted": False, "ok": False, "error": None}
        return self._audit(audit, lambda: self._call("vgremove", (vgname,)), {})

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

    @property
    def converted_image_path(self) -> Optional[str]:
        """The seed's: the temporary qcow2 it converted a VMDK to before attaching
        it. VMCraft attaches every format as it is and converts nothing, so there
        is never one: always ``None``."""
        return None

    def keep_converted_image(self) -> None:
        """The seed's: keep the temporary qcow2 of ``converted_image_path`` after
        ``close``. VMCraft makes none, so there is nothing to keep."""

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
    "Key": "str",
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
    # The seed's helpers (registry, backup, tree reports) first: own methods.
    from . import _seed

    for name, fn in vars(_seed.SeedHelpers).items():
        if callable(fn) and not name.startswith("__"):
            setattr(VMCraft, name, fn)
    own = set(vars(VMCraft)) | set(vars(_native.VMCraft))
    for entry in calls:
        for name in [entry["name"], *entry["aliases"]]:
            if name in own or not name.isidentifier():
                continue
            setattr(VMCraft, name, _method(entry, name))
    VMCraft.cryptsetup_open = _seed_key_order(VMCraft.cryptsetup_open)


def _seed_key_order(table_method: Callable[..., Any]) -> Callable[..., Any]:
    """``cryptsetup_open`` in libguestfs's order ``(device, key, mapname)``, and
    in the seed's ``(device, mapname, key)`` when the key is ``bytes`` (as
    hyper2kvm passes it): a key is told from a map name by its type, never by
    guessing from the text. A ``bytes`` key must be UTF-8 (keys reach cryptsetup
    as text, as libguestfs's do)."""

    def cryptsetup_open(self: VMCraft, device: str, key: Any, mapname: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(mapname, (bytes, bytearray)) and isinstance(key, str):
            key, mapname = mapname, key
        if isinstance(key, (bytes, bytearray)):
            try:
                key = bytes(key).decode("utf-8")
            except UnicodeDecodeError:
                raise _error(
                    InvalidArgumentError,
                    "cryptsetup_open",
                    "the key is not UTF-8 text (keys reach cryptsetup as text)",
                    device,
                ) from None
        return table_method(self, device, key, mapname, *args, **kwargs)

    for attr in ("__name__", "__qualname__", "__module__", "__doc__", "__signature__"):
        if hasattr(table_method, attr):
            setattr(cryptsetup_open, attr, getattr(table_method, attr))
    cryptsetup_open.__doc__ = (cryptsetup_open.__doc__ or "") + (
        "\n\nAlso takes the seed's order, cryptsetup_open(device, mapname, key), "
        "when the key is bytes."
    )
    return cryptsetup_open


_install()
