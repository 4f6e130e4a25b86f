"""The seed's convenience helpers (hyper2kvm's VMCraft v9.1), rebuilt on
VMCraft's own calls so that code written for the seed runs unchanged: the
Windows registry (``win_registry_read``/``_write``/``_list_keys``/
``_list_values``, through the confined ``hivex_*`` calls), ``win_resolve_path``,
``win_inject_driver``, ``backup_files``/``restore_files`` (through ``tar_out``
and ``tar_in``), and the tree reports ``audit_permissions``,
``find_large_files``, ``find_duplicates``, ``analyze_disk_usage``,
``cleanup_temp_files``.

The registry helpers use the handle's one hive (``hivex_open`` ... ``hivex_close``):
a hive the caller opened with ``hivex_open`` is closed by them. The return
shapes are the seed's. Where the seed swallowed a failure (returning
``False``, ``None`` or ``{"ok": False}``), these raise ``vmcraft.Error``; a
missing hive, key or value still answers ``None`` (or an empty list or dict), as
it did. Paths are guest paths: nothing here hands out a host path into the
guest tree, which a hostile guest's symlinks could turn against the host.
"""

from __future__ import annotations

import logging
import os
import re
import tarfile as _tarfile
import tempfile
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

_log = logging.getLogger("vmcraft")

#: Hive file names ``win_registry_*`` take (a name, never a path).
_HIVE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")

#: Registry value types by the names ``win_registry_write`` takes.
REG_TYPES = {
    "sz": 1,
    "expand_sz": 2,
    "binary": 3,
    "dword": 4,
    "dword_big_endian": 5,
    "multi_sz": 7,
    "qword": 11,
}

#: Most entries a tree report walks (a hostile guest cannot make it run forever).
MAX_WALK = 2_000_000

#: Most bytes ``find_duplicates`` hashes.
MAX_HASHED = 64 << 30

_COMPRESSION = {"gzip": "gz", "gz": "gz", "bzip2": "bz2", "bz2": "bz2", "xz": "xz", "none": ""}


def _value_text(t: int, data: bytes) -> str:
    """A registry value as text, as ``hivexget`` shows it: strings decoded,
    numbers in decimal, a multi-string one item a line, anything else hex."""
    if t in (1, 2):
        return data.decode("utf-16-le", errors="replace").split("\x00", 1)[0]
    if t == 7:
        items = data.decode("utf-16-le", errors="replace").split("\x00")
        return "\n".join(i for i in items if i)
    if t == 4 and len(data) >= 4:
        return str(int.from_bytes(data[:4], "little"))
    if t == 5 and len(data) >= 4:
        return str(int.from_bytes(data[:4], "big"))
    if t == 11 and len(data) >= 8:
        return str(int.from_bytes(data[:8], "little"))
    return data.hex(",")


def _value_bytes(value: Any, value_type: str) -> Tuple[int, bytes]:
    """(type, data) of a value for ``win_registry_write``."""
    from . import InvalidArgumentError, _error

    t = REG_TYPES.get(value_type.lower())
    if t is None:
        raise _error(
            InvalidArgumentError,
            "win_registry_write",
            f"not a value type (one of {', '.join(REG_TYPES)})",
            value_type,
        )
    if t in (1, 2):
        return t, (str(value) + "\x00").encode("utf-16-le")
    if t == 7:
        items = value.split("\n") if isinstance(value, str) else [str(v) for v in value]
        return t, "".join(i + "\x00" for i in items).encode("utf-16-le") + b"\x00\x00"
    if t in (4, 5, 11):
        n, size = int(value), (8 if t == 11 else 4)
        if not 0 <= n < (1 << (8 * size)):
            raise _error(InvalidArgumentError, "win_registry_write", "out of range", str(value))
        return t, n.to_bytes(size, "big" if t == 5 else "little")
    if isinstance(value, (bytes, bytearray)):
        return t, bytes(value)
    return t, bytes.fromhex(str(value).replace(",", "").replace(" ", ""))


class SeedHelpers:
    """The seed's helpers; ``vmcraft`` copies them onto ``vmcraft.VMCraft``
    (so that they are its own methods, with stubs)."""

    # ------------------------------------------------------------ registry

    def _hive_path(self, call: str, hive_name: str) -> Optional[str]:
        """The guest path of hive ``hive_name`` (any case), or ``None`` when the
        guest has no such file."""
        from . import Error, InvalidArgumentError, _error

        if not _HIVE_NAME.match(hive_name) or hive_name in (".", ".."):
            raise _error(InvalidArgumentError, call, "not a hive name", hive_name)
        try:
            path = self.case_sensitive_path("/Windows/System32/config/" + hive_name)
        except Error:
            return None
        return path if self.is_file(path) else None

    def _hive_node(self, key_path: str, create: bool = False) -> Optional[int]:
        node = self.hivex_root()
        for part in (p for p in key_path.replace("/", "\\").split("\\") if p):
            child = self.hivex_node_get_child(node, part)
            if child == 0:
                if not create:
                    return None
                child = self.hivex_node_add_child(node, part)
            node = child
        return node

    def win_registry_read(self, hive_name: str, key_path: str, value_name: str) -> Optional[str]:
        """Value ``value_name`` of key ``key_path`` (backslashes) in the Windows
        hive ``hive_name`` (``SOFTWARE``, ``SYSTEM``, ...) of the guest mounted on
        ``/``, as text; ``None`` when the hive, key or value is not there."""
        path = self._hive_path("win_registry_read", hive_name)
        if path is None:
            return None
        self.hivex_open(path, write=False)
        try:
            node = self._hive_node(key_path)
            if node is None:
                return None
            v = self.hivex_node_get_value(node, value_name)
            if v == 0:
                return None
            return _value_text(self.hivex_value_type(v), self.hivex_value_value(v))
        finally:
            self.hivex_close()

    def win_registry_write(
        self,
        hive_name: str,
        key_path: str,
        value_name: str,
        value: Any,
        value_type: str = "sz",
    ) -> bool:
        """Set value ``value_name`` of key ``key_path`` (made if missing) in the
        guest's hive ``hive_name`` and write the hive back. ``value_type`` is
        ``sz`` (the seed's only kind), ``expand_sz``, ``multi_sz`` (a list, or
        lines), ``dword``, ``dword_big_endian``, ``qword`` or ``binary`` (bytes
        or hex). Returns ``True``; a failure raises."""
        from . import NotFoundError, _error

        t, data = _value_bytes(value, value_type)
        path = self._hive_path("win_registry_write", hive_name)
        if path is None:
            raise _error(NotFoundError, "win_registry_write", "no such hive in the guest", hive_name)
        self.hivex_open(path, write=True)
        try:
            node = self._hive_node(key_path, create=True)
            self.hivex_node_set_value(node, value_name, t, data)
            self.hivex_commit(None)
        finally:
            self.hivex_close()
        return True

    def win_registry_list_keys(self, hive_name: str, key_path: str = "") -> List[str]:
        """The subkeys of ``key_path`` in the guest's hive ``hive_name``
        (``[]`` when the hive or key is not there)."""
        path = self._hive_path("win_registry_list_keys", hive_name)
        if path is None:
            return []
        self.hivex_open(path, write=False)
        try:
            node = self._hive_node(key_path)
            if node is None:
                return []
            return [self.hivex_node_name(c["hivex_node_h"]) for c in self.hivex_node_children(node)]
        finally:
            self.hivex_close()

    def win_registry_list_values(self, hive_name: str, key_path: str) -> Dict[str, str]:
        """The values of ``key_path`` in the guest's hive ``hive_name``, name to
        text (``{}`` when the hive or key is not there)."""
        path = self._hive_path("win_registry_list_values", hive_name)
        if path is None:
            return {}
        self.hivex_open(path, write=False)
        try:
            node = self._hive_node(key_path)
            if node is None:
                return {}
            out = {}
            for v in self.hivex_node_values(node):
                h = v["hivex_value_h"]
                out[self.hivex_value_key(h)] = _value_text(
                    self.hivex_value_type(h), self.hivex_value_value(h)
                )
            return out
        finally:
            self.hivex_close()

    def win_resolve_path(self, path: str) -> Optional[str]:
        """A Windows path (``C:\\Windows\\System32``) as the guest path that
        exists with that name in any case (``/Windows/System32``), or ``None``.
        (The seed returned a host path; VMCraft hands out none.)"""
        p = re.sub(r"^[A-Za-z]:", "", path).replace("\\", "/")
        p = "/" + p.lstrip("/")
        try:
            found = self.case_sensitive_path(p)
        except Exception:  # noqa: BLE001 - a component that does not exist
            return None
        return found if self.exists(found) else None

    def win_inject_driver(self, driver_path: Union[str, os.PathLike], inf_file: Optional[str] = None) -> Dict[str, Any]:
        """Copy a Windows driver (the files of host directory ``driver_path``)
        into the guest's DriverStore, under the name of its ``.inf`` file
        (``inf_file``, or the first ``*.inf`` there). Returns the seed's dict
        (``ok``, ``driver_path``, ``inf_file``, ``destination``,
        ``files_copied``, ``error``); a failure raises."""
        from . import InvalidArgumentError, _error

        src = os.fspath(driver_path)
        if not os.path.isdir(src):
            raise _error(InvalidArgumentError, "win_inject_driver", "not a host directory", src)
        names = sorted(n for n in os.listdir(src) if os.path.isfile(os.path.join(src, n)))
        infs = [n for n in names if n.lower().endswith(".inf")]
        inf = inf_file or (infs[0] if infs else None)
        if inf is None or inf not in names:
            raise _error(InvalidArgumentError, "win_inject_driver", "no .inf file", src)
        store = (self.win_resolve_path("C:\\Windows\\System32\\DriverStore\\FileRepository")
                 or "/Windows/System32/DriverStore/FileRepository")
        dest = f"{store}/{os.path.splitext(inf)[0]}"
        self.mkdir_p(dest)
        for n in names:
            self.upload(os.path.join(src, n), f"{dest}/{n}")
        return {
            "ok": True,
            "driver_path": src,
            "inf_file": inf,
            "destination": dest,
            "files_copied": len(names),
            "error": None,
        }

    # ------------------------------------------------------------ backup

    def backup_files(
        self, paths: Union[str, Iterable[str]], dest_archive: Union[str, os.PathLike], compression: str = "gzip"
    ) -> Dict[str, Any]:
        """Archive the guest ``paths`` (files or directories, each under its own
        name) into the host tarball ``dest_archive``, compressed with
        ``compression`` (gzip, bzip2, xz or none; others mean gzip, as in the
        seed). Paths that do not exist are skipped with a warning. Returns the
        seed's dict (``ok``, ``archive``, ``compression``, ``files_backed_up``:
        the paths archived, ``error``)."""
        if isinstance(paths, str):
            paths = [paths]
        mode = _COMPRESSION.get(compression.lower(), "gz")
        dest = os.fspath(dest_archive)
        done = 0
        dirs_added: set = set()

        def parents(out: Any, name: str) -> None:
            # The directories above an entry, as they are in the guest, once.
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d in dirs_added:
                    continue
                dirs_added.add(d)
                st = self.lstatns("/" + d)
                info = _tarfile.TarInfo(d)
                info.type = _tarfile.DIRTYPE
                info.mode = st["st_mode"] & 0o7777
                info.uid, info.gid = st["st_uid"], st["st_gid"]
                info.mtime = st["st_mtime_sec"]
                out.addfile(info)

        used = {"gz": "gzip", "bz2": "bzip2", "xz": "xz", "": "none"}[mode]
        # Written beside the destination and renamed over it once complete: a
        # failure leaves no partial archive.
        partial = f"{dest}.partial-{os.getpid()}"
        with tempfile.TemporaryDirectory(prefix="vmcraft-backup-") as tmp:
            part = os.path.join(tmp, "part.tar")
            out = _tarfile.open(partial, "w:" + mode if mode else "w")
            try:
                with out:
                    for p in paths:
                        if not self.exists(p):
                            _log.warning("backup_files: %s does not exist in the guest; skipped", p)
                            continue
                        name = os.path.normpath(p.strip("/") or ".")
                        if name != ".":
                            parents(out, name)
                        if self.is_dir(p) and not self.is_symlink(p):
                            self.tar_out(p, part, numericowner=True)
                            with _tarfile.open(part) as t:
                                for m in t:
                                    f = t.extractfile(m) if m.isfile() else None
                                    m.name = os.path.normpath(os.path.join(name, m.name))
                                    if m.isdir():
                                        dirs_added.add(m.name)
                                    if m.islnk():
                                        m.linkname = os.path.normpath(os.path.join(name, m.linkname))
                                    out.addfile(m, f)
                        else:
                            st = self.lstatns(p)
                            info = _tarfile.TarInfo(name)
                            info.mode = st["st_mode"] & 0o7777
                            info.uid, info.gid = st["st_uid"], st["st_gid"]
                            info.mtime = st["st_mtime_sec"]
                            kind = st["st_mode"] & 0o170000
                            if kind == 0o120000:
                                info.type = _tarfile.SYMTYPE
                                info.linkname = self.readlink(p)
                                out.addfile(info)
                            elif kind != 0o100000:
                                # A FIFO or device node: its header only.
                                info.type = {
                                    0o010000: _tarfile.FIFOTYPE,
                                    0o020000: _tarfile.CHRTYPE,
                                    0o060000: _tarfile.BLKTYPE,
                                }.get(kind, _tarfile.FIFOTYPE)
                                rdev = st.get("st_rdev", 0)
                                info.devmajor, info.devminor = os.major(rdev), os.minor(rdev)
                                out.addfile(info)
                            else:
                                local = os.path.join(tmp, "file")
                                self.download(p, local)
                                info.size = os.path.getsize(local)
                                with open(local, "rb") as f:
                                    out.addfile(info, f)
                        done += 1
            except BaseException:
                try:
                    os.unlink(partial)
                except OSError:
                    pass
                raise
            os.replace(partial, dest)
        return {"ok": True, "archive": dest, "compression": used, "files_backed_up": done, "error": None}

    def restore_files(self, src_archive: Union[str, os.PathLike], dest_path: str = "/") -> Dict[str, Any]:
        """Unpack the host tarball ``src_archive`` (compression detected) into
        the guest directory ``dest_path`` through ``tar_in`` (checked first: a
        bad archive changes nothing). Returns the seed's dict (``ok``,
        ``archive``, ``destination``, ``files_restored``: its entries,
        ``error``)."""
        stats = self.tar_in(os.fspath(src_archive), dest_path)
        return {
            "ok": True,
            "archive": os.fspath(src_archive),
            "destination": dest_path,
            "files_restored": int(stats.get("entries", 0)) if isinstance(stats, dict) else 0,
            "error": None,
        }

    # ------------------------------------------------------------ reports

    def _walk(self, path: str) -> Iterator[Tuple[str, Dict[str, Any]]]:
        """(guest path, lstat) of everything under ``path``, bounded."""
        base = "/" + path.strip("/") if path.strip("/") else ""
        for i, rel in enumerate(self.find(path or "/")):
            if i >= MAX_WALK:
                _log.warning("stopped after %d entries under %s", MAX_WALK, path)
                return
            full = f"{base}/{rel.lstrip('/')}"
            try:
                yield full, self.lstatns(full)
            except Exception as e:  # noqa: BLE001 - a file gone or unreadable
                _log.debug("lstat %s: %s", full, e)

    def audit_permissions(self, path: str = "/") -> Dict[str, Any]:
        """Set-uid, set-gid and world-writable regular files under ``path``
        (paths relative to the guest root, as the seed gives them), and how many
        files were checked."""
        suid, sgid, ww, n = [], [], [], 0
        for full, st in self._walk(path):
            mode = st["st_mode"]
            if mode & 0o170000 != 0o100000:
                continue
            n += 1
            rel = full.lstrip("/")
            if mode & 0o4000:
                suid.append(rel)
            if mode & 0o2000:
                sgid.append(rel)
            if mode & 0o002:
                ww.append(rel)
        return {"suid_files": suid, "sgid_files": sgid, "world_writable": ww, "total_checked": n}

    def find_large_files(self, path: str = "/", min_size_mb: float = 100, limit: int = 50) -> List[Dict[str, Any]]:
        """Regular files under ``path`` of ``min_size_mb`` MiB or more, largest
        first, at most ``limit``: ``path`` (a guest path), ``size_bytes``,
        ``size_mb``."""
        floor = int(min_size_mb * 1024 * 1024)
        found = [
            (full, st["st_size"])
            for full, st in self._walk(path)
            if st["st_mode"] & 0o170000 == 0o100000 and st["st_size"] >= floor
        ]
        found.sort(key=lambda x: (-x[1], x[0]))
        return [
            {"path": p, "size_bytes": s, "size_mb": round(s / (1024 * 1024), 2)} for p, s in found[:limit]
        ]

    def find_duplicates(self, path: str = "/", min_size_mb: float = 1, limit: int = 100) -> List[Dict[str, Any]]:
        """Groups of identical regular files under ``path`` of ``min_size_mb``
        MiB or more (same size, then the same SHA-256), most space wasted
        first, at most ``limit``: ``checksum``, ``count``, ``files``,
        ``size_bytes``, ``total_wasted_bytes``."""
        floor = int(min_size_mb * 1024 * 1024)
        by_size: Dict[int, List[str]] = {}
        for full, st in self._walk(path):
            if st["st_mode"] & 0o170000 == 0o100000 and st["st_size"] >= floor:
                by_size.setdefault(st["st_size"], []).append(full)
        groups = []
        hashed = 0
        for size, files in sorted(by_size.items()):
            if len(files) < 2:
                continue
            by_sum: Dict[str, List[str]] = {}
            for f in files:
                # Bounded: a guest of huge sparse files cannot make this read
                # forever.
                hashed += size
                if hashed > MAX_HASHED:
                    _log.warning("find_duplicates: stopped after hashing %d bytes", MAX_HASHED)
                    break
                by_sum.setdefault(self.checksum("sha256", f), []).append(f)
            for digest, same in by_sum.items():
                if len(same) > 1:
                    groups.append(
                        {
                            "checksum": digest,
                            "count": len(same),
                            "files": sorted(same),
                            "size_bytes": size,
                            "total_wasted_bytes": size * (len(same) - 1),
                        }
                    )
        groups.sort(key=lambda g: (-g["total_wasted_bytes"], g["checksum"]))
        return groups[:limit]

    def analyze_disk_usage(self, path: str = "/", top_n: int = 20) -> Dict[str, Any]:
        """Bytes of regular files under ``path``, files and directories counted,
        and the ``top_n`` directories holding the most bytes directly (not
        counting their subdirectories, as the seed counts them)."""
        total, files, dirs = 0, 0, 0
        per_dir: Dict[str, int] = {}
        for full, st in self._walk(path):
            kind = st["st_mode"] & 0o170000
            if kind == 0o040000:
                dirs += 1
            elif kind == 0o100000:
                files += 1
                total += st["st_size"]
                parent = full.rsplit("/", 1)[0] or "/"
                per_dir[parent] = per_dir.get(parent, 0) + st["st_size"]
        top = sorted(per_dir.items(), key=lambda x: (-x[1], x[0]))[:top_n]
        return {
            "total_size": total,
            "total_files": files,
            "total_dirs": dirs,
            "top_directories": [
                {"path": p, "size": s, "size_mb": round(s / (1024 * 1024), 2)} for p, s in top
            ],
        }

    def cleanup_temp_files(self, dry_run: bool = True) -> Dict[str, Any]:
        """Regular files under ``/tmp``, ``/var/tmp`` and ``/var/cache`` of the
        guest, and their bytes; removed unless ``dry_run``."""
        found: List[Tuple[str, int]] = []
        for d in ("/tmp", "/var/tmp", "/var/cache"):
            if self.is_symlink(d) or not self.is_dir(d):
                continue
            found += [
                (full, st["st_size"])
                for full, st in self._walk(d)
                if st["st_mode"] & 0o170000 == 0o100000
            ]
        deleted = 0
        if not dry_run:
            for full, _ in found:
                self.rm(full)
                deleted += 1
        return {
            "dry_run": dry_run,
            "files_found": len(found),
            "files_deleted": deleted,
            "space_freed": sum(s for _, s in found),
            "paths": [p for p, _ in found],
        }
