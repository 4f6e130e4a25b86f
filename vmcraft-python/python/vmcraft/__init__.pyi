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

class NotFoundError(Error):
    """
    A device, file, volume or match that does not exist.
    """

class InvalidArgumentError(Error):
    """
    An argument refused before anything was done.
    """

class ReadOnlyError(Error):
    """
    A write to something read-only (a drive added read-only, a read-only mount).
    """

class UnsupportedError(Error):
    """
    Not supported here: a missing kernel feature or tool.
    """

class BusyError(Error):
    """
    A device or path is busy.
    """

class CorruptError(Error):
    """
    Damaged or unreadable on-disk data (a partition table, an image, tool output).
    """

class StateError(Error):
    """
    The handle is in the wrong state: not launched, already launched or shut down.
    """

class MountError(Error):
    """
    A mount failed, or a path is not mounted.
    """

class PermissionDeniedError(Error):
    """
    The host refused: permission denied.
    """

class CommandError(Error):
    """
    An external tool or a guest command failed.
    """

class TimedOutError(Error):
    """
    An operation timed out.
    """

class CancelledError(Error):
    """
    A long call was cancelled through the handle's cancellation token.
    """

class VMCraft:
    """
    A VMCraft handle: drives, devices, filesystems and guest files.

    ``VMCraft(python_return_dict=True, progress=None)``: ``python_return_dict`` as in
    libguestfs (true, the default as in the seed: hashes as ``dict``; false: lists of
    ``(key, value)`` tuples); ``progress`` a callable ``progress(call, done, total)``
    for long calls. Use it as a context manager: leaving the block shuts the handle
    down (unmounts, detaches drives), also when the block raised.
    """
    def __init__(self, python_return_dict: bool = True, progress: Optional[Callable[[str, int, int], Any]] = None, close_on_exit: bool = True, environment: bool = True, **kwargs: Any) -> None: ...
    @property
    def python_return_dict(self) -> bool:
        """Whether hashes are returned as dict (libguestfs's python_return_dict)."""
        ...
    def __enter__(self) -> VMCraft: ...
    def __exit__(self, exc_type: Any = None, exc: Any = None, tb: Any = None) -> bool: ...
    def close(self) -> None:
        """
        Shut the handle down (`shutdown`) and close it: every mount undone,
        drives detached. Calling it twice is harmless.
        """
        ...
    def cancel(self) -> None:
        """
        Cancel the long call running on this handle (from another thread): it
        fails with `CancelledError`. The handle's later long calls fail too:
        shut it down.
        """
        ...
    def set_progress_callback(self, callback: Optional[Callable[[str, int, int], Any]]) -> None:
        """
        Set (or with `None` clear) the progress callback:
        `callback(call: str, done: int, total: int)`, called from the thread doing
        the work with the GIL held only for the callback.
        """
        ...
    def get_progress_callback(self) -> Optional[Callable[[str, int, int], Any]]:
        """
        The progress callback set, or `None`.
        """
        ...
    def set_event_callback(self, callback: Callable[[int, int, bytes, List[int]], Any], events: int) -> int:
        """
        Register a libguestfs-style event callback (`guestfs.GuestFS.set_event_callback`):
        `callback(event, event_handle, buf, array)` for the events in the mask
        `events`. VMCraft sends `EVENT_PROGRESS` (array: proc, serial, position,
        total) and `EVENT_CLOSE`; the appliance's events never come. Returns the
        event handle for `delete_event_callback`.
        """
        ...
    def delete_event_callback(self, event_handle: int) -> None:
        """
        Remove the event callback `event_handle` (unknown handles are ignored, as
        libguestfs does).
        """
        ...
    @property
    def converted_image_path(self) -> Optional[str]:
        """
        The seed's: the temporary qcow2 it converted a VMDK to before attaching
        it. VMCraft attaches every format as it is and converts nothing, so there
        is never one: always ``None``.
        """
        ...
    def analyze_disk_usage(self, path: str = '/', top_n: int = 20) -> Dict[str, Any]:
        """
        Bytes of regular files under ``path``, files and directories counted,
        and the ``top_n`` directories holding the most bytes directly (not
        counting their subdirectories, as the seed counts them).
        """
        ...
    def audit_permissions(self, path: str = '/') -> Dict[str, Any]:
        """
        Set-uid, set-gid and world-writable regular files under ``path``
        (paths relative to the guest root, as the seed gives them), and how many
        files were checked.
        """
        ...
    def backup_files(self, paths: Union[str, Iterable[str]], dest_archive: Union[str, os.PathLike], compression: str = 'gzip') -> Dict[str, Any]:
        """
        Archive the guest ``paths`` (files or directories, each under its own
        name) into the host tarball ``dest_archive``, compressed with
        ``compression`` (gzip, bzip2, xz or none; others mean gzip, as in the
        seed). Paths that do not exist are skipped with a warning. Returns the
        seed's dict (``ok``, ``archive``, ``compression``, ``files_backed_up``:
        the paths archived, ``error``).
        """
        ...
    def cleanup_temp_files(self, dry_run: bool = True) -> Dict[str, Any]:
        """
        Regular files under ``/tmp``, ``/var/tmp`` and ``/var/cache`` of the
        guest, and their bytes; removed unless ``dry_run``.
        """
        ...
    def command_quiet(self, cmd: List[str]) -> str:
        """
        Run a guest command (the seed's ``command_quiet``): as ``command``.
        """
        ...
    def command_with_mounts(self, cmd: List[str], quiet: bool = False) -> str:
        """
        Run a guest command (the seed's ``command_with_mounts``): as ``command``,
        whose sandbox always has the guest's tree with a fresh /dev (the session's
        disks) and /proc; it has no /sys. ``quiet`` is accepted for the seed's
        signature (VMCraft does not log). Raises on failure.
        """
        ...
    def copy_device_to_device(self, src: str, dest: str, *, progress: Optional[Callable[[str, int, int], Any]] = None, **opts: Any) -> Dict[str, Any]:
        """
        Copy ``src`` onto ``dest`` (devices); ``srcoffset``, ``destoffset``,
        ``size``, ``sparse``, ``append`` as keywords, as libguestfs. Returns the
        statistics; ``progress(call, done, total)`` as it advances.
        """
        ...
    def find_duplicates(self, path: str = '/', min_size_mb: float = 1, limit: int = 100) -> List[Dict[str, Any]]:
        """
        Groups of identical regular files under ``path`` of ``min_size_mb``
        MiB or more (same size, then the same SHA-256), most space wasted
        first, at most ``limit``: ``checksum``, ``count``, ``files``,
        ``size_bytes``, ``total_wasted_bytes``.
        """
        ...
    def find_large_files(self, path: str = '/', min_size_mb: float = 100, limit: int = 50) -> List[Dict[str, Any]]:
        """
        Regular files under ``path`` of ``min_size_mb`` MiB or more, largest
        first, at most ``limit``: ``path`` (a guest path), ``size_bytes``,
        ``size_mb``.
        """
        ...
    def keep_converted_image(self) -> None:
        """
        The seed's: keep the temporary qcow2 of ``converted_image_path`` after
        ``close``. VMCraft makes none, so there is nothing to keep.
        """
        ...
    def lvcreate(self, lvname: str, vgname: str, size_mb: Optional[int] = None, extents: Optional[Union[str, int]] = None, *, mbytes: Optional[int] = None) -> Dict[str, Any]:
        """
        Make logical volume ``lvname`` in ``vgname`` of ``size_mb`` MiB
        (libguestfs's third argument, ``mbytes``) or ``extents``: a number of
        extents, or ``"N%FREE"`` (``"100%FREE"``: all the free space); exactly one.

        Returns ``{"attempted": True, "ok": True, "error": None, "lv":
        "/dev/VG/LV"}``; raises on failure (``InvalidArgumentError`` for a missing or
        double size, where the seed answered ``ok: False``), the audit dict as the
        exception's ``audit``.
        """
        ...
    def lvremove(self, lvpath: str, force: bool = False) -> Dict[str, Any]:
        """
        Remove logical volume ``lvpath`` (or every LV of ``/dev/VG``). VMCraft
        removes without asking, as libguestfs: ``force`` is accepted for the seed's
        signature. Returns the audit dict; raises on failure.
        """
        ...
    def lvresize(self, lvpath: str, size_mb: int) -> Dict[str, Any]:
        """
        Resize logical volume ``lvpath`` to ``size_mb`` MiB (libguestfs's
        ``lvresize(device, mbytes)``). Returns ``{"attempted": True, "ok": True,
        "error": None}``; raises on failure, the audit dict as ``audit``.
        """
        ...
    def mount_all_parallel(self, devices: Union[Iterable[Tuple[str, str]], Mapping[str, str], Iterable[str]], max_workers: int = 4, readonly: bool = True, *, fallback: bool = False, details: bool = False) -> Dict[str, Any]:
        """
        Mount many filesystems at once, parents before children (the seed's
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
        ...
    def mount_with_fallback(self, device: str, mountpoint: str = '/', fstype: Optional[str] = None, *, details: bool = False) -> Union[bool, Dict[str, Any]]:
        """
        Mount trying each strategy in turn: normal, then ``ro,norecovery``,
        ``ro,noload``, then read-only FUSE drivers; none changes the filesystem
        (the seed's ``mount_with_fallback(device, mountpoint, fstype=None)``).
        ``fstype`` names the filesystem type instead of probing it.

        Returns True, or with ``details=True`` a dict: ``device``, ``mountpoint``,
        ``fstype``, ``strategy`` (the one that worked), ``options`` and ``attempts``
        (every strategy tried: ``strategy``, ``options``, ``error``). Where the seed
        returned False, raises ``MountError`` (or the kind of the failure) with every
        attempt in the message.
        """
        ...
    def pvcreate(self, devices: Union[str, Iterable[str]]) -> Dict[str, Any]:
        """
        Make LVM physical volumes on ``devices`` (a list, or one device).

        Returns the seed's audit dict: ``{"attempted": True, "ok": True,
        "error": None, "pvs": devices}``. Where the seed returned ``ok: False``,
        raises; the audit dict (``ok`` false, ``error`` set) is the exception's
        ``audit`` attribute.
        """
        ...
    def restore_files(self, src_archive: Union[str, os.PathLike], dest_path: str = '/') -> Dict[str, Any]:
        """
        Unpack the host tarball ``src_archive`` (compression detected) into
        the guest directory ``dest_path`` through ``tar_in`` (checked first: a
        bad archive changes nothing). Returns the seed's dict (``ok``,
        ``archive``, ``destination``, ``files_restored``: its entries,
        ``error``).
        """
        ...
    def tar_in(self, tarfile: Union[str, os.PathLike[str]], directory: str, compress: Optional[str] = None, *, progress: Optional[Callable[[str, int, int], Any]] = None, **opts: Any) -> Dict[str, Any]:
        """
        Unpack host tarball ``tarfile`` into guest ``directory``; ``compress`` is
        none, gzip, bzip2, xz or zstd (detected when not given); ``xattrs``,
        ``selinux``, ``acls`` as keywords. ``progress(call, done, total)`` is called
        as it advances. Returns the statistics (``entries``, ``bytes``, ...).
        """
        ...
    def tar_out(self, directory: str, tarfile: Union[str, os.PathLike[str]], compress: Optional[str] = None, *, progress: Optional[Callable[[str, int, int], Any]] = None, **opts: Any) -> Dict[str, Any]:
        """
        Pack guest ``directory`` into host tarball ``tarfile``; ``compress`` is
        none, gzip, bzip2, xz or zstd; ``numericowner``, ``excludes`` (a list of
        globs), ``xattrs``, ``selinux``, ``acls`` as keywords. Returns the
        statistics.
        """
        ...
    def vgcreate(self, vgname: str, pvs: Union[str, Iterable[str]]) -> Dict[str, Any]:
        """
        Make volume group ``vgname`` on the physical volumes ``pvs``.

        Returns ``{"attempted": True, "ok": True, "error": None, "vg": vgname}``;
        raises on failure, the audit dict as the exception's ``audit``.
        """
        ...
    def vgremove(self, vgname: str, force: bool = False) -> Dict[str, Any]:
        """
        Remove volume group ``vgname`` and its logical volumes (``force`` as for
        ``lvremove``). Returns the audit dict; raises on failure.
        """
        ...
    def win_inject_driver(self, driver_path: Union[str, os.PathLike], inf_file: Optional[str] = None) -> Dict[str, Any]:
        """
        Copy a Windows driver (the files of host directory ``driver_path``)
        into the guest's DriverStore, under the name of its ``.inf`` file
        (``inf_file``, or the first ``*.inf`` there). Returns the seed's dict
        (``ok``, ``driver_path``, ``inf_file``, ``destination``,
        ``files_copied``, ``error``); a failure raises.
        """
        ...
    def win_registry_list_keys(self, hive_name: str, key_path: str = '') -> List[str]:
        """
        The subkeys of ``key_path`` in the guest's hive ``hive_name``
        (``[]`` when the hive or key is not there).
        """
        ...
    def win_registry_list_values(self, hive_name: str, key_path: str) -> Dict[str, str]:
        """
        The values of ``key_path`` in the guest's hive ``hive_name``, name to
        text (``{}`` when the hive or key is not there).
        """
        ...
    def win_registry_read(self, hive_name: str, key_path: str, value_name: str) -> Optional[str]:
        """
        Value ``value_name`` of key ``key_path`` (backslashes) in the Windows
        hive ``hive_name`` (``SOFTWARE``, ``SYSTEM``, ...) of the guest mounted on
        ``/``, as text; ``None`` when the hive, key or value is not there.
        """
        ...
    def win_registry_write(self, hive_name: str, key_path: str, value_name: str, value: Any, value_type: str = 'sz') -> bool:
        """
        Set value ``value_name`` of key ``key_path`` (made if missing) in the
        guest's hive ``hive_name`` and write the hive back. ``value_type`` is
        ``sz`` (the seed's only kind), ``expand_sz``, ``multi_sz`` (a list, or
        lines), ``dword``, ``dword_big_endian``, ``qword`` or ``binary`` (bytes
        or hex). Returns ``True``; a failure raises.
        """
        ...
    def win_resolve_path(self, path: str) -> Optional[str]:
        """
        A Windows path (``C:\\Windows\\System32``) as the guest path that
        exists with that name in any case (``/Windows/System32``), or ``None``.
        (The seed returned a host path; VMCraft hands out none.)
        """
        ...
    def add(self, filename: str, *, readonly: Optional[bool] = None, format: Optional[str] = None, allowbacking: Optional[bool] = None, allowextents: Optional[bool] = None, label: Optional[str] = None) -> None:
        """
        add(filename: str, *, readonly: Optional[bool] = None, format: Optional[str] = None, allowbacking: Optional[bool] = None, allowextents: Optional[bool] = None, label: Optional[str] = None) -> None

        add an image to examine or modify (an alias of add_drive)

        Add a disk image (or host block device) to the session. The first is
        /dev/sda, the second /dev/sdb, and so on. Before launch it is attached
        at launch; after, at once.

        readonly:true attaches it so that nothing can write to it. format:FMT
        gives the image format (raw, qcow2, vmdk, vhdx, vdi, vpc); without it
        the format is detected from the image's header.

        An image that names other files (a backing file, a qcow2 external data
        file, the extents of a split VMDK) is refused unless allowed, since a
        guest controls those names. allowbacking:true follows a backing chain
        whose every format is known: format:FMT given here and each backing
        file's format recorded in its overlay. allowextents:true (with
        format:vmdk) follows a VMDK descriptor's extents when they are plain
        files in the descriptor's own directory.

        label:NAME gives the drive a label: 1 to 20 ASCII letters (a-z, A-Z),
        unique in the session. list-disk-labels maps labels to devices, and
        remove-drive removes a drive by its label (a drive without one cannot be
        removed). Where libguestfs also names the drive /dev/disk/guestfs/NAME,
        VMCraft keeps its usual name only.

        After launch, a drive added where one was removed takes the first free
        name.

        Optional arguments are keywords.

        You can use 'add' or 'add-drive-opts' as an alias for this command.
        """
        ...
    def add_cdrom(self, filename: str) -> None:
        """
        add_cdrom(filename: str) -> None

        add a CD-ROM disk image to examine

        The old way to add a CD-ROM image: as add-drive-ro.
        """
        ...
    def add_drive(self, filename: str, *, readonly: Optional[bool] = None, format: Optional[str] = None, allowbacking: Optional[bool] = None, allowextents: Optional[bool] = None, label: Optional[str] = None) -> None:
        """
        add_drive(filename: str, *, readonly: Optional[bool] = None, format: Optional[str] = None, allowbacking: Optional[bool] = None, allowextents: Optional[bool] = None, label: Optional[str] = None) -> None

        add an image to examine or modify

        Add a disk image (or host block device) to the session. The first is
        /dev/sda, the second /dev/sdb, and so on. Before launch it is attached
        at launch; after, at once.

        readonly:true attaches it so that nothing can write to it. format:FMT
        gives the image format (raw, qcow2, vmdk, vhdx, vdi, vpc); without it
        the format is detected from the image's header.

        An image that names other files (a backing file, a qcow2 external data
        file, the extents of a split VMDK) is refused unless allowed, since a
        guest controls those names. allowbacking:true follows a backing chain
        whose every format is known: format:FMT given here and each backing
        file's format recorded in its overlay. allowextents:true (with
        format:vmdk) follows a VMDK descriptor's extents when they are plain
        files in the descriptor's own directory.

        label:NAME gives the drive a label: 1 to 20 ASCII letters (a-z, A-Z),
        unique in the session. list-disk-labels maps labels to devices, and
        remove-drive removes a drive by its label (a drive without one cannot be
        removed). Where libguestfs also names the drive /dev/disk/guestfs/NAME,
        VMCraft keeps its usual name only.

        After launch, a drive added where one was removed takes the first free
        name.

        Optional arguments are keywords.

        You can use 'add' or 'add-drive-opts' as an alias for this command.
        """
        ...
    def add_drive_opts(self, filename: str, *, readonly: Optional[bool] = None, format: Optional[str] = None, allowbacking: Optional[bool] = None, allowextents: Optional[bool] = None, label: Optional[str] = None) -> None:
        """
        add_drive_opts(filename: str, *, readonly: Optional[bool] = None, format: Optional[str] = None, allowbacking: Optional[bool] = None, allowextents: Optional[bool] = None, label: Optional[str] = None) -> None

        add an image to examine or modify (an alias of add_drive)

        Add a disk image (or host block device) to the session. The first is
        /dev/sda, the second /dev/sdb, and so on. Before launch it is attached
        at launch; after, at once.

        readonly:true attaches it so that nothing can write to it. format:FMT
        gives the image format (raw, qcow2, vmdk, vhdx, vdi, vpc); without it
        the format is detected from the image's header.

        An image that names other files (a backing file, a qcow2 external data
        file, the extents of a split VMDK) is refused unless allowed, since a
        guest controls those names. allowbacking:true follows a backing chain
        whose every format is known: format:FMT given here and each backing
        file's format recorded in its overlay. allowextents:true (with
        format:vmdk) follows a VMDK descriptor's extents when they are plain
        files in the descriptor's own directory.

        label:NAME gives the drive a label: 1 to 20 ASCII letters (a-z, A-Z),
        unique in the session. list-disk-labels maps labels to devices, and
        remove-drive removes a drive by its label (a drive without one cannot be
        removed). Where libguestfs also names the drive /dev/disk/guestfs/NAME,
        VMCraft keeps its usual name only.

        After launch, a drive added where one was removed takes the first free
        name.

        Optional arguments are keywords.

        You can use 'add' or 'add-drive-opts' as an alias for this command.
        """
        ...
    def add_drive_ro(self, filename: str) -> None:
        """
        add_drive_ro(filename: str) -> None

        add a drive read-only

        Add a disk image read-only: as add-drive with readonly:true.

        You can use 'add-ro' as an alias for this command.
        """
        ...
    def add_drive_ro_with_if(self, filename: str, iface: str) -> None:
        """
        add_drive_ro_with_if(filename: str, iface: str) -> None

        add a drive read-only specifying the QEMU block emulation to use

        As add-drive-with-if, read-only.
        """
        ...
    def add_drive_scratch(self, size: int, *, label: Optional[str] = None) -> None:
        """
        add_drive_scratch(size: int, *, label: Optional[str] = None) -> None

        add a temporary scratch drive

        Add a new, empty, sparse raw drive of SIZE bytes: a private file in the
        temporary directory, removed when the session shuts down. label:NAME
        gives it a label as add-drive does (1 to 20 ASCII letters, unique), for
        list-disk-labels and remove-drive. libguestfs's name and blocksize are
        not taken.

        Optional arguments are keywords.

        You can use 'scratch' as an alias for this command.
        """
        ...
    def add_drive_with_if(self, filename: str, iface: str) -> None:
        """
        add_drive_with_if(filename: str, iface: str) -> None

        add a drive specifying the QEMU block emulation to use

        The old form of add-drive with an interface (virtio, ide, ...): VMCraft
        has no emulated interface, so IFACE is accepted and has no effect; the
        drive is added as add-drive adds it.
        """
        ...
    def add_ro(self, filename: str) -> None:
        """
        add_ro(filename: str) -> None

        add a drive read-only (an alias of add_drive_ro)

        Add a disk image read-only: as add-drive with readonly:true.

        You can use 'add-ro' as an alias for this command.
        """
        ...
    def append(self, append: Optional[str]) -> None:
        """
        append(append: Optional[str]) -> None

        add options to kernel command line (an alias of set_append)

        Remembered. VMCraft boots no appliance kernel.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'append' as an alias for this command.
        """
        ...
    def attach_method(self, backend: str) -> None:
        """
        attach_method(backend: str) -> None

        set the backend (an alias of set_attach_method)

        The old name of set-backend. Remembered, no effect.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'attach-method' as an alias for this command.
        """
        ...
    def aug_clear(self, augpath: str) -> None:
        """
        aug_clear(augpath: str) -> None

        clear Augeas path

        Remove the value at an Augeas path (the node stays).
        """
        ...
    def aug_close(self) -> None:
        """
        aug_close() -> None

        close the current Augeas handle

        Close Augeas, dropping unsaved changes.
        """
        ...
    def aug_defnode(self, name: str, expr: str, val: str) -> Dict[str, Any]:
        """
        aug_defnode(name: str, expr: str, val: str) -> Dict[str, Any]

        define an Augeas node

        Define variable NAME as EXPR, creating a node with value VAL when EXPR
        matches nothing. Prints i (the number of nodes) and b (1 when a node was
        created).
        """
        ...
    def aug_defvar(self, name: str, expr: Optional[str]) -> int:
        """
        aug_defvar(name: str, expr: Optional[str]) -> int

        define an Augeas variable

        Define variable NAME as the node set of EXPR ("" undefines it); prints
        the number of nodes.
        """
        ...
    def aug_get(self, augpath: str) -> str:
        """
        aug_get(augpath: str) -> str

        look up the value of an Augeas path

        The value at an Augeas path, which must match exactly one node.
        """
        ...
    def aug_init(self, root: str, flags: int) -> None:
        """
        aug_init(root: str, flags: int) -> None

        create a new Augeas handle

        Open Augeas on the guest tree at ROOT (usually /) with libguestfs's flag
        bits: 1 save with .augsave backups, 2 save .augnew files, 4 type-check
        lenses, 8 no standard load path, 16 save nothing, 32 load no files, 64
        load no lenses automatically, 128 keep spans. Augeas runs confined to
        the guest root. A handle already open is closed first.
        """
        ...
    def aug_insert(self, augpath: str, label: str, before: bool) -> None:
        """
        aug_insert(augpath: str, label: str, before: bool) -> None

        insert a sibling Augeas node

        Insert a node labelled LABEL before (true) or after (false) the node at
        AUGPATH.
        """
        ...
    def aug_label(self, augpath: str) -> str:
        """
        aug_label(augpath: str) -> str

        return the label from an Augeas path expression

        The label of the node at an Augeas path.
        """
        ...
    def aug_load(self) -> None:
        """
        aug_load() -> None

        load files into the tree

        Load (or reload) the files into the Augeas tree.
        """
        ...
    def aug_ls(self, augpath: str) -> List[str]:
        """
        aug_ls(augpath: str) -> List[str]

        list Augeas nodes under augpath

        The children of a node, sorted.
        """
        ...
    def aug_match(self, augpath: str) -> List[str]:
        """
        aug_match(augpath: str) -> List[str]

        return Augeas nodes which match augpath

        Every path matching an Augeas path expression.
        """
        ...
    def aug_mv(self, src: str, dest: str) -> None:
        """
        aug_mv(src: str, dest: str) -> None

        move Augeas node

        Move the node at SRC to DEST.
        """
        ...
    def aug_rm(self, augpath: str) -> int:
        """
        aug_rm(augpath: str) -> int

        remove an Augeas path

        Remove every node matching the path and below; prints how many were
        removed.
        """
        ...
    def aug_save(self) -> None:
        """
        aug_save() -> None

        write all pending Augeas changes to disk

        Write the changed files back into the guest.
        """
        ...
    def aug_set(self, augpath: str, val: str) -> None:
        """
        aug_set(augpath: str, val: str) -> None

        set Augeas path to value

        Set the value at an Augeas path, creating the node if needed.
        """
        ...
    def aug_setm(self, base: str, sub: Optional[str], val: str) -> int:
        """
        aug_setm(base: str, sub: Optional[str], val: str) -> int

        set multiple Augeas nodes

        Set the value of SUB ("" for the node itself) below every node matching
        BASE; prints how many were set.
        """
        ...
    def aug_transform(self, lens: str, file: str, *, remove: Optional[bool] = None) -> None:
        """
        aug_transform(lens: str, file: str, *, remove: Optional[bool] = None) -> None

        add/remove an Augeas lens transformation

        Have LENS load FILE (a path in the guest, globs allowed); remove:true
        takes the pairing away.

        Optional arguments are keywords.
        """
        ...
    def autosync(self, autosync: bool) -> None:
        """
        autosync(autosync: bool) -> None

        set autosync mode (an alias of set_autosync)

        Remembered. VMCraft always writes out what it changed when the session
        shuts down, whatever this says; libguestfs syncs on close when it is
        true (the default).

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'autosync' as an alias for this command.
        """
        ...
    def available(self, groups: List[str]) -> None:
        """
        available(groups: List[str]) -> None

        test availability of some parts of the API

        Fail unless every option group named works here, naming the first that
        does not and why. A group works when VMCraft implements its calls and
        the host has the tools they need; see available-all-groups and
        feature-available.
        """
        ...
    def available_all_groups(self) -> List[str]:
        """
        available_all_groups() -> List[str]

        return a list of all optional groups

        Every option group libguestfs defines. Which of them work here is what
        feature-available answers.
        """
        ...
    def backend(self, backend: str) -> None:
        """
        backend(backend: str) -> None

        set the backend (an alias of set_backend)

        Remembered. VMCraft attaches images itself (loop devices,
        qemu-storage-daemon, kernel NBD) whatever this says.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'backend' as an alias for this command.
        """
        ...
    def base64_in(self, base64file: Union[str, os.PathLike[str]], filename: str) -> None:
        """
        base64_in(base64file: Union[str, os.PathLike[str]], filename: str) -> None

        upload base64-encoded data to file

        Decode a host file of base64 text into a guest file (created or
        truncated). Characters outside the alphabet are ignored, as base64 -d
        -i; input that does not decode is refused before the guest file is
        touched.

        Use "-" instead of a filename for standard input/output.
        """
        ...
    def base64_out(self, filename: str, base64file: Union[str, os.PathLike[str]]) -> None:
        """
        base64_out(filename: str, base64file: Union[str, os.PathLike[str]]) -> None

        download file and encode as base64

        Encode a guest file as base64 into a host file, 76 characters a line, as
        base64.

        Use "-" instead of a filename for standard input/output.
        """
        ...
    def blkdiscard(self, device: str) -> None:
        """
        blkdiscard(device: str) -> None

        discard all blocks on a device

        Discard every block of the device (BLKDISCARD), giving the space back to
        the host: on a loop device the image file gets holes. Fails where the
        device or the filesystem under the image cannot discard. The device must
        not be mounted.
        """
        ...
    def blkdiscardzeroes(self, device: str) -> bool:
        """
        blkdiscardzeroes(device: str) -> bool

        return true if discarded blocks are read as zeroes

        Whether blocks discarded by blkdiscard read back as zeroes, as the
        kernel answers BLKDISCARDZEROES for the device (current kernels always
        answer false; discarded blocks may then read as anything).
        """
        ...
    def blkid(self, device: str) -> Dict[str, str]:
        """
        blkid(device: str) -> Dict[str, str]

        print block device attributes

        What blkid reports for a device (TYPE, USAGE, UUID, LABEL, ...), probed
        in-process.
        """
        ...
    def blockdev_flushbufs(self, device: str) -> None:
        """
        blockdev_flushbufs(device: str) -> None

        flush device buffers

        Flush the device's buffers to the image.
        """
        ...
    def blockdev_getbsz(self, device: str) -> int:
        """
        blockdev_getbsz(device: str) -> int

        get blocksize of block device

        The kernel's block size for the device.
        """
        ...
    def blockdev_getro(self, device: str) -> bool:
        """
        blockdev_getro(device: str) -> bool

        is block device set to read-only

        Whether the device is read-only.
        """
        ...
    def blockdev_getsize64(self, device: str) -> int:
        """
        blockdev_getsize64(device: str) -> int

        get total size of device in bytes

        The size of the device in bytes.
        """
        ...
    def blockdev_getss(self, device: str) -> int:
        """
        blockdev_getss(device: str) -> int

        get sectorsize of block device

        The device's logical sector size (usually 512).
        """
        ...
    def blockdev_getsz(self, device: str) -> int:
        """
        blockdev_getsz(device: str) -> int

        get total size of device in 512-byte sectors

        The size of the device in 512-byte sectors, whatever its sector size.
        """
        ...
    def blockdev_rereadpt(self, device: str) -> None:
        """
        blockdev_rereadpt(device: str) -> None

        reread partition table

        Ask the kernel to re-read the device's partition table.
        """
        ...
    def blockdev_setbsz(self, device: str, blocksize: int) -> None:
        """
        blockdev_setbsz(device: str, blocksize: int) -> None

        set blocksize of block device

        Does nothing, as in libguestfs, where this call never did anything (the
        device must exist).
        """
        ...
    def blockdev_setra(self, device: str, sectors: int) -> None:
        """
        blockdev_setra(device: str, sectors: int) -> None

        set readahead

        Set the device's read-ahead, in 512-byte sectors.
        """
        ...
    def blockdev_setro(self, device: str) -> None:
        """
        blockdev_setro(device: str) -> None

        set block device to read-only

        Make the device read-only.
        """
        ...
    def blockdev_setrw(self, device: str) -> None:
        """
        blockdev_setrw(device: str) -> None

        set block device to read-write

        Make the device read-write; refused on a drive added read-only.
        """
        ...
    def btrfs_balance(self, fs: str) -> None:
        """
        btrfs_balance(fs: str) -> None

        balance a btrfs filesystem (an alias of btrfs_filesystem_balance)

        Balance the chunks of the btrfs filesystem mounted at FS across its
        devices (a full balance, waited for).

        You can use 'btrfs-balance' as an alias for this command.
        """
        ...
    def btrfs_balance_cancel(self, path: str) -> None:
        """
        btrfs_balance_cancel(path: str) -> None

        cancel a running or paused balance

        Cancel a running or paused balance on the btrfs filesystem holding PATH.
        """
        ...
    def btrfs_balance_pause(self, path: str) -> None:
        """
        btrfs_balance_pause(path: str) -> None

        pause a running balance

        Pause a running balance on the btrfs filesystem holding PATH.
        """
        ...
    def btrfs_balance_resume(self, path: str) -> None:
        """
        btrfs_balance_resume(path: str) -> None

        resume a paused balance

        Resume a paused balance on the btrfs filesystem holding PATH.
        """
        ...
    def btrfs_balance_status(self, path: str) -> Dict[str, Any]:
        """
        btrfs_balance_status(path: str) -> Dict[str, Any]

        show the status of a running or paused balance

        The state of a balance on the btrfs filesystem holding PATH:
        btrfsbalance_status is none, running or paused, with the chunks
        balanced, considered, their total and the percentage left.
        """
        ...
    def btrfs_device_add(self, devices: List[str], fs: str) -> None:
        """
        btrfs_device_add(devices: List[str], fs: str) -> None

        add devices to a btrfs filesystem

        Add the unmounted DEVICES to the btrfs filesystem mounted at FS; an
        empty list does nothing.
        """
        ...
    def btrfs_device_delete(self, devices: List[str], fs: str) -> None:
        """
        btrfs_device_delete(devices: List[str], fs: str) -> None

        remove devices from a btrfs filesystem

        Remove DEVICES from the btrfs filesystem mounted at FS, moving their
        data to the other devices; an empty list does nothing.
        """
        ...
    def btrfs_filesystem_balance(self, fs: str) -> None:
        """
        btrfs_filesystem_balance(fs: str) -> None

        balance a btrfs filesystem

        Balance the chunks of the btrfs filesystem mounted at FS across its
        devices (a full balance, waited for).

        You can use 'btrfs-balance' as an alias for this command.
        """
        ...
    def btrfs_filesystem_defragment(self, path: str, *, flush: Optional[bool] = None, compress: Optional[str] = None) -> None:
        """
        btrfs_filesystem_defragment(path: str, *, flush: Optional[bool] = None, compress: Optional[str] = None) -> None

        defragment a file or directory

        Defragment a file or directory (recursively) on a btrfs filesystem.
        flush:true writes the data out after each file; compress:.. (zlib, lzo,
        or zstd) recompresses it.

        Optional arguments are keywords.
        """
        ...
    def btrfs_filesystem_resize(self, mountpoint: str, *, size: Optional[int] = None) -> None:
        """
        btrfs_filesystem_resize(mountpoint: str, *, size: Optional[int] = None) -> None

        resize a btrfs filesystem

        Resize the mounted btrfs filesystem at MOUNTPOINT (btrfs resizes only
        mounted filesystems) to size:N bytes, or to fill its device when size is
        not given.

        Optional arguments are keywords.
        """
        ...
    def btrfs_filesystem_show(self, device: str) -> List[str]:
        """
        btrfs_filesystem_show(device: str) -> List[str]

        list devices for btrfs filesystem

        The devices of the btrfs filesystem on DEVICE. A filesystem with a
        missing device is an error, and so is one btrfs finds on a device
        outside the session.
        """
        ...
    def btrfs_filesystem_sync(self, fs: str) -> None:
        """
        btrfs_filesystem_sync(fs: str) -> None

        sync a btrfs filesystem

        Force a sync of the btrfs filesystem mounted at FS.
        """
        ...
    def btrfs_fsck(self, device: str, *, superblock: Optional[int] = None, repair: Optional[bool] = None) -> None:
        """
        btrfs_fsck(device: str, *, superblock: Optional[int] = None, repair: Optional[bool] = None) -> None

        check a btrfs filesystem

        Check the unmounted btrfs filesystem on DEVICE (btrfs check); problems
        found are an error. superblock:N uses superblock copy N; repair:true
        repairs (not on a read-only drive).

        Optional arguments are keywords.
        """
        ...
    def btrfs_image(self, source: List[str], image: str, *, compresslevel: Optional[int] = None) -> None:
        """
        btrfs_image(source: List[str], image: str, *, compresslevel: Optional[int] = None) -> None

        create an image of a btrfs filesystem

        Write an image of the btrfs filesystem on SOURCE to the guest file
        IMAGE: all data zeroed, the metadata kept. compresslevel:N (0 to 9)
        compresses it. IMAGE is made in its directory, or replaced when it is a
        regular file.

        Optional arguments are keywords.
        """
        ...
    def btrfs_qgroup_assign(self, src: str, dst: str, path: str) -> None:
        """
        btrfs_qgroup_assign(src: str, dst: str, path: str) -> None

        add a qgroup to a parent qgroup

        Make quota group SRC a member of quota group DST on the btrfs filesystem
        holding PATH.
        """
        ...
    def btrfs_qgroup_create(self, qgroupid: str, subvolume: str) -> None:
        """
        btrfs_qgroup_create(qgroupid: str, subvolume: str) -> None

        create a subvolume quota group

        Create quota group QGROUPID (LEVEL/ID) on the btrfs filesystem holding
        SUBVOLUME.
        """
        ...
    def btrfs_qgroup_destroy(self, qgroupid: str, subvolume: str) -> None:
        """
        btrfs_qgroup_destroy(qgroupid: str, subvolume: str) -> None

        destroy a subvolume quota group

        Destroy quota group QGROUPID on the btrfs filesystem holding SUBVOLUME.
        """
        ...
    def btrfs_qgroup_limit(self, subvolume: str, size: int) -> None:
        """
        btrfs_qgroup_limit(subvolume: str, size: int) -> None

        limit the size of a subvolume

        Limit the size of the qgroup of SUBVOLUME to SIZE bytes.
        """
        ...
    def btrfs_qgroup_remove(self, src: str, dst: str, path: str) -> None:
        """
        btrfs_qgroup_remove(src: str, dst: str, path: str) -> None

        remove a qgroup from its parent qgroup

        Take quota group SRC out of quota group DST on the btrfs filesystem
        holding PATH.
        """
        ...
    def btrfs_qgroup_show(self, path: str) -> List[Dict[str, Any]]:
        """
        btrfs_qgroup_show(path: str) -> List[Dict[str, Any]]

        show subvolume quota groups

        The quota groups of the btrfs filesystem holding PATH, with the bytes
        each references and holds exclusively.
        """
        ...
    def btrfs_quota_enable(self, fs: str, enable: bool) -> None:
        """
        btrfs_quota_enable(fs: str, enable: bool) -> None

        enable or disable subvolume quota support

        Turn quotas on or off on the btrfs filesystem FS: a device (mounted
        read-write for the call if it is not mounted) or a guest path on a
        mounted btrfs.
        """
        ...
    def btrfs_quota_rescan(self, fs: str) -> None:
        """
        btrfs_quota_rescan(fs: str) -> None

        trash all qgroup numbers and scan the metadata again with the current config

        Rescan the quotas of the btrfs filesystem FS (as btrfs-quota-enable),
        waiting for the rescan to finish.
        """
        ...
    def btrfs_replace(self, srcdev: str, targetdev: str, mntpoint: str) -> None:
        """
        btrfs_replace(srcdev: str, targetdev: str, mntpoint: str) -> None

        replace a btrfs managed device with another device

        Replace SRCDEV of the btrfs filesystem mounted at MNTPOINT with
        TARGETDEV, waiting for the copy. TARGETDEV must be at least as large as
        SRCDEV and not mounted; SRCDEV is wiped and taken out of the filesystem
        afterwards.
        """
        ...
    def btrfs_rescue_chunk_recover(self, device: str) -> None:
        """
        btrfs_rescue_chunk_recover(device: str) -> None

        recover the chunk tree of btrfs filesystem

        Recover the chunk tree of the unmounted btrfs filesystem on DEVICE by
        scanning its devices.
        """
        ...
    def btrfs_rescue_super_recover(self, device: str) -> None:
        """
        btrfs_rescue_super_recover(device: str) -> None

        recover bad superblocks from good copies

        Repair bad superblocks of the unmounted btrfs filesystem on DEVICE from
        good copies.
        """
        ...
    def btrfs_scrub_cancel(self, path: str) -> None:
        """
        btrfs_scrub_cancel(path: str) -> None

        cancel a running scrub

        Cancel a running scrub on the btrfs filesystem holding PATH.
        """
        ...
    def btrfs_scrub_full(self, path: str, *, readonly: Optional[bool] = None) -> None:
        """
        btrfs_scrub_full(path: str, *, readonly: Optional[bool] = None) -> None

        run a full scrub on a btrfs filesystem

        Scrub the btrfs filesystem holding PATH and wait for it to finish;
        errors found are an error. readonly:true only reports, repairing
        nothing.

        Optional arguments are keywords.
        """
        ...
    def btrfs_scrub_resume(self, path: str) -> None:
        """
        btrfs_scrub_resume(path: str) -> None

        resume a previously canceled or interrupted scrub

        Resume a cancelled or interrupted scrub on the btrfs filesystem holding
        PATH, waiting for it to finish.
        """
        ...
    def btrfs_scrub_start(self, path: str) -> None:
        """
        btrfs_scrub_start(path: str) -> None

        read all data from all disks and verify checksums

        Scrub the btrfs filesystem holding PATH: read all data and metadata,
        verify checksums and repair from good copies. Unlike libguestfs, which
        leaves the scrub running, VMCraft waits for it to finish.
        """
        ...
    def btrfs_scrub_status(self, path: str) -> Dict[str, Any]:
        """
        btrfs_scrub_status(path: str) -> Dict[str, Any]

        show status of running or finished scrub

        The counters of the last or running scrub on the btrfs filesystem
        holding PATH, as libguestfs's btrfsscrub struct.
        """
        ...
    def btrfs_set_seeding(self, device: str, seeding: bool) -> None:
        """
        btrfs_set_seeding(device: str, seeding: bool) -> None

        enable or disable the seeding feature of device

        Turn the seeding flag of the unmounted btrfs filesystem on DEVICE on or
        off (a seed filesystem mounts read-only).
        """
        ...
    def btrfs_subvolume_create(self, dest: str, *, qgroupid: Optional[str] = None) -> None:
        """
        btrfs_subvolume_create(dest: str, *, qgroupid: Optional[str] = None) -> None

        create a btrfs subvolume

        Create a btrfs subvolume at DEST (/path/to/parent/name), optionally in
        qgroup qgroupid:LEVEL/ID. The parent resolves inside the guest.

        Optional arguments are keywords.

        You can use 'btrfs-subvolume-create-opts' as an alias for this command.
        """
        ...
    def btrfs_subvolume_create_opts(self, dest: str, *, qgroupid: Optional[str] = None) -> None:
        """
        btrfs_subvolume_create_opts(dest: str, *, qgroupid: Optional[str] = None) -> None

        create a btrfs subvolume (an alias of btrfs_subvolume_create)

        Create a btrfs subvolume at DEST (/path/to/parent/name), optionally in
        qgroup qgroupid:LEVEL/ID. The parent resolves inside the guest.

        Optional arguments are keywords.

        You can use 'btrfs-subvolume-create-opts' as an alias for this command.
        """
        ...
    def btrfs_subvolume_delete(self, subvolume: str) -> None:
        """
        btrfs_subvolume_delete(subvolume: str) -> None

        delete a btrfs subvolume or snapshot

        Delete the named btrfs subvolume or snapshot.
        """
        ...
    def btrfs_subvolume_get_default(self, fs: str) -> int:
        """
        btrfs_subvolume_get_default(fs: str) -> int

        get the default subvolume or snapshot of a filesystem

        The ID of the subvolume mounted by default on the btrfs filesystem FS (a
        device or a guest path on a mounted btrfs); 5 is the top level.
        """
        ...
    def btrfs_subvolume_list(self, fs: str) -> List[Dict[str, Any]]:
        """
        btrfs_subvolume_list(fs: str) -> List[Dict[str, Any]]

        list btrfs snapshots and subvolumes

        List the subvolumes and snapshots of the btrfs filesystem FS: a device
        (mounted read-only for the call if it is not mounted) or a guest path on
        a mounted btrfs.
        """
        ...
    def btrfs_subvolume_set_default(self, id: int, fs: str) -> None:
        """
        btrfs_subvolume_set_default(id: int, fs: str) -> None

        set default btrfs subvolume

        Make subvolume ID the one mounted by default on the btrfs filesystem FS
        (see btrfs-subvolume-list for the IDs).
        """
        ...
    def btrfs_subvolume_show(self, subvolume: str) -> Dict[str, str]:
        """
        btrfs_subvolume_show(subvolume: str) -> Dict[str, str]

        return detailed information of the subvolume

        What btrfs subvolume show says about SUBVOLUME, as pairs: path (from the
        top of the filesystem), Name, UUID, Parent UUID, ..., Snapshot(s) (comma
        separated); a value of - is empty. The top level of the filesystem and a
        directory that is not a subvolume are errors.
        """
        ...
    def btrfs_subvolume_snapshot(self, source: str, dest: str, *, ro: Optional[bool] = None, qgroupid: Optional[str] = None) -> None:
        """
        btrfs_subvolume_snapshot(source: str, dest: str, *, ro: Optional[bool] = None, qgroupid: Optional[str] = None) -> None

        create a btrfs snapshot

        Snapshot the btrfs subvolume SOURCE as DEST (/path/to/parent/name):
        writable unless ro:true, optionally in qgroup qgroupid:LEVEL/ID.

        Optional arguments are keywords.

        You can use 'btrfs-subvolume-snapshot-opts' as an alias for this command.
        """
        ...
    def btrfs_subvolume_snapshot_opts(self, source: str, dest: str, *, ro: Optional[bool] = None, qgroupid: Optional[str] = None) -> None:
        """
        btrfs_subvolume_snapshot_opts(source: str, dest: str, *, ro: Optional[bool] = None, qgroupid: Optional[str] = None) -> None

        create a btrfs snapshot (an alias of btrfs_subvolume_snapshot)

        Snapshot the btrfs subvolume SOURCE as DEST (/path/to/parent/name):
        writable unless ro:true, optionally in qgroup qgroupid:LEVEL/ID.

        Optional arguments are keywords.

        You can use 'btrfs-subvolume-snapshot-opts' as an alias for this command.
        """
        ...
    def btrfstune_enable_extended_inode_refs(self, device: str) -> None:
        """
        btrfstune_enable_extended_inode_refs(device: str) -> None

        enable extended inode refs

        Enable extended inode refs on the unmounted btrfs filesystem on DEVICE.
        """
        ...
    def btrfstune_enable_skinny_metadata_extent_refs(self, device: str) -> None:
        """
        btrfstune_enable_skinny_metadata_extent_refs(device: str) -> None

        enable skinny metadata extent refs

        Enable skinny metadata extent refs on the unmounted btrfs filesystem on
        DEVICE.
        """
        ...
    def btrfstune_seeding(self, device: str, seeding: bool) -> None:
        """
        btrfstune_seeding(device: str, seeding: bool) -> None

        enable or disable seeding of a btrfs device

        Turn seeding of the unmounted btrfs filesystem on DEVICE on or off, as
        btrfs-set-seeding: a seed filesystem mounts read-only, to build other
        filesystems on.
        """
        ...
    def cachedir(self, cachedir: Optional[str]) -> None:
        """
        cachedir(cachedir: Optional[str]) -> None

        set the appliance cache directory (an alias of set_cachedir)

        Remembered. VMCraft has no appliance to cache.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'cachedir' as an alias for this command.
        """
        ...
    def canonical_device_name(self, device: str) -> str:
        """
        canonical_device_name(device: str) -> str

        return canonical device name

        The canonical spelling of a device name: /dev/vda1 and /dev/hda1 become
        /dev/sda1, /dev/mapper/VG-LV becomes /dev/VG/LV.
        """
        ...
    def case_sensitive_path(self, path: str) -> str:
        """
        case_sensitive_path(path: str) -> str

        return true path on case-insensitive filesystem

        PATH with each element's case corrected to what the guest has, each
        element looked up case-insensitively in its directory: useful for
        Windows guests on a case-sensitive mount (/windows/system32 ->
        /Windows/System32). The last element may be missing and is then returned
        as given; an earlier missing element is an error. . and .. elements are
        refused; symlinks are not resolved.
        """
        ...
    def cat(self, path: str) -> str:
        """
        cat(path: str) -> str

        list the contents of a file

        The content of a file, printed as it is (bytes that are not UTF-8
        included), up to its first NUL byte, as guestfish prints it. For binary
        files use read-file or download.
        """
        ...
    def checksum(self, csumtype: str, path: str) -> str:
        """
        checksum(csumtype: str, path: str) -> str

        compute MD5, SHAx or CRC checksum of file

        The checksum of a file: crc (as cksum prints it), md5, sha1, sha224,
        sha256, sha384 or sha512.
        """
        ...
    def checksum_device(self, csumtype: str, device: str) -> str:
        """
        checksum_device(csumtype: str, device: str) -> str

        compute MD5, SHAx or CRC checksum of the contents of a device

        The checksum of a whole device; the types are checksum's.
        """
        ...
    def checksums_out(self, csumtype: str, directory: str, sumsfile: Union[str, os.PathLike[str]]) -> None:
        """
        checksums_out(csumtype: str, directory: str, sumsfile: Union[str, os.PathLike[str]]) -> None

        compute MD5, SHAx or CRC checksum of files in a directory

        Checksum every regular file below DIRECTORY (symbolic links not
        followed) into a host file, one line each as coreutils prints them: HASH
        ./path for md5, sha1, sha224, sha256, sha384 and sha512 (a name with a
        backslash or newline escaped, the line starting with a backslash), CRC
        SIZE ./path for crc (cksum).

        Use "-" instead of a filename for standard input/output.
        """
        ...
    def chmod(self, mode: int, path: str) -> None:
        """
        chmod(mode: int, path: str) -> None

        change file mode

        Change the mode of a path (write it in octal with a leading 0: 0644).
        """
        ...
    def chown(self, owner: int, group: int, path: str) -> None:
        """
        chown(owner: int, group: int, path: str) -> None

        change file owner and group

        Change the owner and group (numeric ids) of a path.
        """
        ...
    def clear_backend_setting(self, name: str) -> int:
        """
        clear_backend_setting(name: str) -> int

        remove a single per-backend settings string

        Remove NAME (and NAME=...) from the backend settings; prints how many
        were removed.

        VMCraft has no appliance: the value is remembered and has no effect.
        """
        ...
    def command(self, arguments: List[str]) -> str:
        """
        command(arguments: List[str]) -> str

        run a command from the guest filesystem

        Run the guest's program ARGUMENTS[0] with the rest of ARGUMENTS as its
        arguments (no shell: use sh for one), and return its standard output. A
        program without a / is looked up in PATH inside the guest. A program
        that exits with a status other than 0 fails the call, with the status
        and its standard error in the error.

        The program runs in a sandbox (bubblewrap): its root is the guest tree
        mounted on / (and what is mounted under it), with a fresh /dev holding
        the session's disks under their libguestfs names, a fresh /proc, no
        /sys, its own PID, network (loopback only), IPC and UTS namespaces, no
        new privileges, a reduced set of capabilities and a seccomp filter (no
        mounting, module loading, kexec, bpf, perf, reboot, swap, keyrings,
        ptrace). It runs as root with PATH set to the usual directories, no
        standard input, and the limits of the backend settings command_timeout
        (seconds, default 600), command_output_max (bytes, default 4 MiB),
        command_memory_max and command_pids_max; past the timeout the whole
        sandbox is killed.

        A guest whose /bin/sh is a binary for another machine than the host's is
        refused. What the program changes in the guest is written to the image;
        cached partition lists, probes and inspection results are forgotten
        afterwards.
        """
        ...
    def command_lines(self, arguments: List[str]) -> List[str]:
        """
        command_lines(arguments: List[str]) -> List[str]

        run a command, returning lines

        As command, with the output split into lines (a final newline ends the
        last line).

        The program runs in a sandbox (bubblewrap): its root is the guest tree
        mounted on / (and what is mounted under it), with a fresh /dev holding
        the session's disks under their libguestfs names, a fresh /proc, no
        /sys, its own PID, network (loopback only), IPC and UTS namespaces, no
        new privileges, a reduced set of capabilities and a seccomp filter (no
        mounting, module loading, kexec, bpf, perf, reboot, swap, keyrings,
        ptrace). It runs as root with PATH set to the usual directories, no
        standard input, and the limits of the backend settings command_timeout
        (seconds, default 600), command_output_max (bytes, default 4 MiB),
        command_memory_max and command_pids_max; past the timeout the whole
        sandbox is killed.

        A guest whose /bin/sh is a binary for another machine than the host's is
        refused. What the program changes in the guest is written to the image;
        cached partition lists, probes and inspection results are forgotten
        afterwards.
        """
        ...
    def compress_device_out(self, ctype: str, device: str, zdevice: Union[str, os.PathLike[str]], *, level: Optional[int] = None) -> None:
        """
        compress_device_out(ctype: str, device: str, zdevice: Union[str, os.PathLike[str]], *, level: Optional[int] = None) -> None

        output compressed device

        Compress a whole device into a host file; CTYPE and level:N as
        compress-out.

        Use "-" instead of a filename for standard input/output.

        Optional arguments are keywords.
        """
        ...
    def compress_out(self, ctype: str, file: str, zfile: Union[str, os.PathLike[str]], *, level: Optional[int] = None) -> None:
        """
        compress_out(ctype: str, file: str, zfile: Union[str, os.PathLike[str]], *, level: Optional[int] = None) -> None

        output compressed file

        Compress a guest file into a host file with CTYPE: compress, gzip,
        bzip2, xz or lzop, each the external program of that name (a program
        that is not installed gives an error saying the type is not supported);
        level:N as the program takes it (gzip, bzip2, lzop 1..9, xz 0..9, none
        for compress). The input goes through the program in 16 MiB pieces whose
        streams are concatenated, which the programs' decompressors read as one;
        compress cannot be concatenated and takes at most one piece.

        Use "-" instead of a filename for standard input/output.

        Optional arguments are keywords.
        """
        ...
    def config(self, hvparam: str, hvvalue: Optional[str]) -> None:
        """
        config(hvparam: str, hvvalue: Optional[str]) -> None

        add hypervisor parameters

        Remembered (the parameter must start with -). VMCraft runs no
        hypervisor.

        VMCraft has no appliance: the value is remembered and has no effect.
        """
        ...
    def copy_attributes(self, src: str, dest: str, *, all: Optional[bool] = None, mode: Optional[bool] = None, xattributes: Optional[bool] = None, ownership: Optional[bool] = None) -> None:
        """
        copy_attributes(src: str, dest: str, *, all: Optional[bool] = None, mode: Optional[bool] = None, xattributes: Optional[bool] = None, ownership: Optional[bool] = None) -> None

        copy the attributes of a path (file/directory) to another

        Copy SRC's permission bits to DEST (the default), or what the optional
        arguments ask: mode:true, xattributes:true (the extended attributes),
        ownership:true (owner and group), all:true (everything).

        Optional arguments are keywords.
        """
        ...
    def copy_device_to_file(self, src: str, dest: str, *, srcoffset: Optional[int] = None, destoffset: Optional[int] = None, size: Optional[int] = None, sparse: Optional[bool] = None, append: Optional[bool] = None) -> None:
        """
        copy_device_to_file(src: str, dest: str, *, srcoffset: Optional[int] = None, destoffset: Optional[int] = None, size: Optional[int] = None, sparse: Optional[bool] = None, append: Optional[bool] = None) -> None

        copy from source device to destination file

        Copy blocks (not a file copy: see cp). srcoffset:N and destoffset:N are
        byte offsets, size:N the bytes to copy (all of the source from srcoffset
        by default); sparse:true does not write zero blocks (the destination
        must already read as zeros there). A destination file is created if
        needed and truncated first, unless append:true adds the data at its end;
        append is refused for a device. Guest files are resolved inside the
        guest tree (a symlink never leaves it) and must be regular files; a
        destination device must not be mounted. With --json the byte counts are
        printed.

        Optional arguments are keywords.
        """
        ...
    def copy_file_to_device(self, src: str, dest: str, *, srcoffset: Optional[int] = None, destoffset: Optional[int] = None, size: Optional[int] = None, sparse: Optional[bool] = None, append: Optional[bool] = None) -> None:
        """
        copy_file_to_device(src: str, dest: str, *, srcoffset: Optional[int] = None, destoffset: Optional[int] = None, size: Optional[int] = None, sparse: Optional[bool] = None, append: Optional[bool] = None) -> None

        copy from source file to destination device

        Copy blocks (not a file copy: see cp). srcoffset:N and destoffset:N are
        byte offsets, size:N the bytes to copy (all of the source from srcoffset
        by default); sparse:true does not write zero blocks (the destination
        must already read as zeros there). A destination file is created if
        needed and truncated first, unless append:true adds the data at its end;
        append is refused for a device. Guest files are resolved inside the
        guest tree (a symlink never leaves it) and must be regular files; a
        destination device must not be mounted. With --json the byte counts are
        printed.

        Optional arguments are keywords.
        """
        ...
    def copy_file_to_file(self, src: str, dest: str, *, srcoffset: Optional[int] = None, destoffset: Optional[int] = None, size: Optional[int] = None, sparse: Optional[bool] = None, append: Optional[bool] = None) -> None:
        """
        copy_file_to_file(src: str, dest: str, *, srcoffset: Optional[int] = None, destoffset: Optional[int] = None, size: Optional[int] = None, sparse: Optional[bool] = None, append: Optional[bool] = None) -> None

        copy from source file to destination file

        Copy blocks (not a file copy: see cp). srcoffset:N and destoffset:N are
        byte offsets, size:N the bytes to copy (all of the source from srcoffset
        by default); sparse:true does not write zero blocks (the destination
        must already read as zeros there). A destination file is created if
        needed and truncated first, unless append:true adds the data at its end;
        append is refused for a device. Guest files are resolved inside the
        guest tree (a symlink never leaves it) and must be regular files; a
        destination device must not be mounted. With --json the byte counts are
        printed.

        Optional arguments are keywords.
        """
        ...
    def copy_in(self, *words: str) -> None:
        """
        copy_in(*words: str) -> None

        copy local files or directories into an image

        copy-in LOCAL [LOCAL ...] REMOTEDIR copies each host file, symlink or
        directory (recursively, with modes, owners and times) into the guest
        directory REMOTEDIR, which must exist, as REMOTEDIR/NAME. Directories
        travel as a tarball through the confined packer and extractor; host
        FIFOs and device nodes are refused.
        """
        ...
    def copy_out(self, *words: str) -> None:
        """
        copy_out(*words: str) -> None

        copy remote files or directories out of an image

        copy-out REMOTE [REMOTE ...] LOCALDIR copies each guest file or
        directory (recursively) into the host directory LOCALDIR, which must
        exist, as LOCALDIR/NAME (the guest's / into LOCALDIR itself). A guest
        tree is hostile on the host: nothing in it can land outside its target,
        no device node or FIFO is made, no setuid or setgid bit is set, and
        owners are restored only when running as root, as GNU tar does. A guest
        symlink, FIFO or device named directly is refused.
        """
        ...
    def cp(self, src: str, dest: str) -> None:
        """
        cp(src: str, dest: str) -> None

        copy a file

        Copy a file.
        """
        ...
    def cp_a(self, src: str, dest: str) -> None:
        """
        cp_a(src: str, dest: str) -> None

        copy a file or directory recursively

        Copy a tree, keeping modes, owners, times and links.
        """
        ...
    def cp_r(self, src: str, dest: str) -> None:
        """
        cp_r(src: str, dest: str) -> None

        copy a file or directory recursively

        Copy a file or directory recursively as cp -rP: symbolic links are
        copied as links, FIFOs and device nodes recreated (never opened), modes
        kept under the umask, owners and times not (use cp-a for those). Into
        DEST when it is an existing directory.
        """
        ...
    def cpio_out(self, directory: str, cpiofile: Union[str, os.PathLike[str]], *, format: Optional[str] = None) -> None:
        """
        cpio_out(directory: str, cpiofile: Union[str, os.PathLike[str]], *, format: Optional[str] = None) -> None

        pack directory into cpio file

        Pack DIRECTORY into a host cpio archive, format:newc (the default, the
        initramfs format) or format:crc, entries named ., ./etc, ... as find |
        cpio -o names them. Symbolic links are stored as links, FIFOs and device
        nodes as headers (never opened); files of 4 GiB or more do not fit the
        format and are refused.

        Use "-" instead of a filename for standard input/output.

        Optional arguments are keywords.
        """
        ...
    def cryptsetup_close(self, device: str) -> None:
        """
        cryptsetup_close(device: str) -> None

        close an encrypted device

        Close a mapping cryptsetup-open made, given as /dev/mapper/MAPNAME (not
        the device under it). Refused while it is mounted or holds an active LV.
        """
        ...
    def cryptsetup_open(self, device: str, key: str, mapname: str, *, readonly: Optional[bool] = None, crypttype: Optional[str] = None, cipher: Optional[str] = None) -> None:
        """
        cryptsetup_open(device: str, key: str, mapname: str, *, readonly: Optional[bool] = None, crypttype: Optional[str] = None, cipher: Optional[str] = None) -> None

        open an encrypted block device

        Open a device encrypted with LUKS (or BitLocker and the other types
        cryptsetup knows) with one of its keys: its decrypted content becomes
        the device /dev/mapper/MAPNAME of the session, listed by list-dm-devices
        and list-filesystems, mountable, and scanned by LVM. crypttype:.. is
        luks, luks1, luks2, bitlk, plain or tcrypt (guessed from the device when
        left out), readonly:true makes a read-only mapping (always so over a
        read-only drive), cipher:.. sets the cipher for types whose header does
        not hold it. MAPNAME is 1 to 127 letters, digits and _.+-, not control,
        and must not exist. The key is never a word of the command: the command
        line asks for it (or reads it from standard input with
        --keys-from-stdin).

        Optional arguments are keywords.


        Also takes the seed's order, cryptsetup_open(device, mapname, key), when the key is bytes.
        """
        ...
    def dd(self, src: str, dest: str) -> None:
        """
        dd(src: str, dest: str) -> None

        copy from source to destination using dd

        Copy all of the source device onto the destination device (as
        copy-device-to-device without optional arguments).
        """
        ...
    def device_index(self, device: str) -> int:
        """
        device_index(device: str) -> int

        convert device to index

        The index of a drive among the drives added, from 0 (/dev/sda is 0,
        /dev/sdb 1, ...), as its name says, also after a drive before it was
        removed. The drive must exist; a partition is not a drive.
        """
        ...
    def device_name(self, index: int) -> str:
        """
        device_name(index: int) -> str

        convert device index to name

        The name of drive INDEX (0 is /dev/sda); an error when there is no such
        drive.
        """
        ...
    def df(self) -> str:
        """
        df() -> str

        report file system disk space usage

        df of the mounted filesystems, with guest device names and mount points
        under /sysroot as the libguestfs appliance shows them. For people to
        read: use statvfs in programs.
        """
        ...
    def df_h(self) -> str:
        """
        df_h() -> str

        report file system disk space usage (human readable)

        As df, with sizes in human units (df -h).
        """
        ...
    def direct(self, direct: bool) -> None:
        """
        direct(direct: bool) -> None

        enable or disable direct appliance mode (an alias of set_direct)

        Remembered. There is no appliance console to connect to.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'direct' as an alias for this command.
        """
        ...
    def disk_create(self, filename: str, format: str, size: int, *, backingfile: Optional[str] = None, backingformat: Optional[str] = None, preallocation: Optional[str] = None, compat: Optional[str] = None, clustersize: Optional[int] = None) -> None:
        """
        disk_create(filename: str, format: str, size: int, *, backingfile: Optional[str] = None, backingformat: Optional[str] = None, preallocation: Optional[str] = None, compat: Optional[str] = None, clustersize: Optional[int] = None) -> None

        create a blank disk image

        Create a blank host image file of SIZE bytes: raw (sparse;
        preallocation:full allocates it) or qcow2 (qemu-img create;
        preallocation:off|sparse|metadata|full, compat:0.10|1.1, clustersize:N a
        power of 2 from 512 to 2097152). backingfile:FILE makes a qcow2 overlay;
        its backingformat must be given too (a backing file's format is never
        probed), and SIZE may then be -1 to take the backing file's size. An
        existing file is overwritten.

        Optional arguments are keywords.
        """
        ...
    def disk_format(self, filename: str) -> str:
        """
        disk_format(filename: str) -> str

        detect the disk format of a disk image

        The format of a host image file (raw, qcow2, vmdk, vhdx, vdi or vpc),
        from its header. Nothing the image names (a backing file, an extent) is
        opened.
        """
        ...
    def disk_has_backing_file(self, filename: str) -> bool:
        """
        disk_has_backing_file(filename: str) -> bool

        return whether disk has a backing file

        Whether a host image file names a backing file, from its header; the
        backing file itself is never opened.
        """
        ...
    def disk_virtual_size(self, filename: str) -> int:
        """
        disk_virtual_size(filename: str) -> int

        return virtual size of a disk

        The virtual size in bytes of a host image file, from its header (or from
        qemu-img info told the format). No backing file is opened.
        """
        ...
    def download(self, remotefilename: str, filename: Union[str, os.PathLike[str]]) -> None:
        """
        download(remotefilename: str, filename: Union[str, os.PathLike[str]]) -> None

        download a file to the local machine

        Copy a guest file out to the host.

        Use "-" instead of a filename for standard input/output.
        """
        ...
    def download_offset(self, remotefilename: str, filename: Union[str, os.PathLike[str]], offset: int, size: int) -> None:
        """
        download_offset(remotefilename: str, filename: Union[str, os.PathLike[str]], offset: int, size: int) -> None

        download a file to the local machine with offset and size

        Copy SIZE bytes from OFFSET of a guest file or device (/dev/...) to a
        host file; the range must lie within the file or device. Unlike pread
        there is no size limit.

        Use "-" instead of a filename for standard input/output.
        """
        ...
    def drop_caches(self, whattodrop: int) -> None:
        """
        drop_caches(whattodrop: int) -> None

        drop kernel page cache, dentries and inodes

        sync, then drop the kernel's buffers of the session's drives (WHATTODROP
        is 1, 2 or 3 as libguestfs takes it). The host's other caches are left
        alone.
        """
        ...
    def du(self, path: str) -> int:
        """
        du(path: str) -> int

        estimate file space usage

        The disk space a file or directory tree uses, in KiB (du -s).
        """
        ...
    def e2fsck(self, device: str, *, correct: Optional[bool] = None, forceall: Optional[bool] = None) -> None:
        """
        e2fsck(device: str, *, correct: Optional[bool] = None, forceall: Optional[bool] = None) -> None

        check an ext2/ext3 filesystem

        Check an unmounted ext2/3/4 filesystem even if it looks clean (e2fsck
        -f). correct:true repairs what can be repaired without asking (-p);
        forceall:true answers yes to every question (-y); only one of them may
        be given.

        Optional arguments are keywords.
        """
        ...
    def e2fsck_f(self, device: str) -> None:
        """
        e2fsck_f(device: str) -> None

        check an ext2/ext3 filesystem

        Check an unmounted ext2/3/4 filesystem even if it looks clean, repairing
        what can be repaired without asking (e2fsck -f -p): what resize2fs needs
        first.
        """
        ...
    def echo_daemon(self, words: List[str]) -> str:
        """
        echo_daemon(words: List[str]) -> str

        echo arguments back to the client

        The words joined by single spaces.
        """
        ...
    def egrep(self, regex: str, path: str) -> List[str]:
        """
        egrep(regex: str, path: str) -> List[str]

        return lines matching a pattern

        grep with an extended regular expression (grep -E).
        """
        ...
    def egrepi(self, regex: str, path: str) -> List[str]:
        """
        egrepi(regex: str, path: str) -> List[str]

        return lines matching a pattern

        grep with an extended regular expression, ignoring case (grep -E -i).
        """
        ...
    def equal(self, file1: str, file2: str) -> bool:
        """
        equal(file1: str, file2: str) -> bool

        test if two files have equal contents

        true when the two guest files have the same content.
        """
        ...
    def exists(self, path: str) -> bool:
        """
        exists(path: str) -> bool

        test if file or directory exists

        Whether anything exists at the path.
        """
        ...
    def fallocate(self, path: str, len: int) -> None:
        """
        fallocate(path: str, len: int) -> None

        preallocate a file in the guest filesystem

        Create (or replace) PATH as a file of LEN bytes with its blocks
        allocated. fallocate64 takes a 64-bit length.
        """
        ...
    def fallocate64(self, path: str, len: int) -> None:
        """
        fallocate64(path: str, len: int) -> None

        preallocate a file in the guest filesystem

        Create (or replace) PATH as a file of LEN bytes with its blocks
        allocated.
        """
        ...
    def feature_available(self, groups: List[str]) -> bool:
        """
        feature_available(groups: List[str]) -> bool

        test availability of some parts of the API

        Whether every option group named works here (true only for groups whose
        calls VMCraft implements and whose tools the host has). An unknown group
        is an error.
        """
        ...
    def fgrep(self, pattern: str, path: str) -> List[str]:
        """
        fgrep(pattern: str, path: str) -> List[str]

        return lines matching a pattern

        grep for a fixed string (grep -F).
        """
        ...
    def fgrepi(self, pattern: str, path: str) -> List[str]:
        """
        fgrepi(pattern: str, path: str) -> List[str]

        return lines matching a pattern

        grep for a fixed string, ignoring case (grep -F -i).
        """
        ...
    def file(self, path: str) -> str:
        """
        file(path: str) -> str

        determine file type

        What a file is. For anything but a regular file, its type: directory,
        character device, block device, FIFO, symbolic link or socket (a symlink
        is not followed). For a regular file, what file -zb says of its content
        (compressed files are looked into), e.g. "ELF 64-bit LSB executable,
        ..." or "ASCII text". A device name (/dev/sda1) describes the device's
        content.

        file(1) reads the exact inode that was found inside the guest, never a
        host path a guest symlink could redirect.
        """
        ...
    def file_architecture(self, filename: str) -> str:
        """
        file_architecture(filename: str) -> str

        detect the architecture of a binary file

        The architecture of a binary, as libguestfs names it: i386, x86_64,
        aarch64, arm, ppc, ppc64, ppc64le, riscv64, s390, s390x, sparc, sparc64,
        ia64, loongarch64, ... For ELF executables, shared libraries and
        objects, Windows PE executables and DLLs (PE32 is i386, PE32+ x86_64),
        compressed or not, and Linux initrd images (cpio, compressed or not,
        whose bin/ls, bin/sh, ... is looked at; nothing is extracted to disk).
        Anything else is an error.
        """
        ...
    def filesize(self, file: str) -> int:
        """
        filesize(file: str) -> int

        return the size of the file in bytes

        The size of a file in bytes, following symlinks (inside the guest). For
        a directory or special file it is what stat says.
        """
        ...
    def filesystem_available(self, filesystem: str) -> bool:
        """
        filesystem_available(filesystem: str) -> bool

        check if filesystem is available

        Whether filesystems of this type can be mounted here: the running kernel
        has the driver (listed in /proc/filesystems, or a module it loads on
        mount), or VMCraft's FUSE fallback for it is installed (fusefat for
        vfat, ntfs-3g for ntfs). Nothing is loaded to find out.
        """
        ...
    def fill(self, c: int, len: int, path: str) -> None:
        """
        fill(c: int, len: int, path: str) -> None

        fill a file with octets

        Write LEN octets of C (0..255) into PATH, creating it. As in libguestfs,
        an existing longer file is written over from its start, not truncated.
        """
        ...
    def fill_dir(self, dir: str, nr: int) -> None:
        """
        fill_dir(dir: str, nr: int) -> None

        fill a directory with empty files

        Create NR empty files in DIR named 00000000 to NR-1, eight digits each.
        """
        ...
    def fill_pattern(self, pattern: str, len: int, path: str) -> None:
        """
        fill_pattern(pattern: str, len: int, path: str) -> None

        fill a file with a repeating pattern of bytes

        Like fill, with the repeating PATTERN, cut so that exactly LEN bytes are
        written.
        """
        ...
    def find(self, directory: str) -> List[str]:
        """
        find(directory: str) -> List[str]

        find all files and directories

        Every path below a directory, relative to it, sorted.
        """
        ...
    def find0(self, directory: str, files: Union[str, os.PathLike[str]]) -> None:
        """
        find0(directory: str, files: Union[str, os.PathLike[str]]) -> None

        find all files and directories, returning NUL-separated list

        Every path below DIRECTORY, each ended by a NUL byte, into a host file:
        named as find names them, but unsorted (in the filesystem's order).

        Use "-" instead of a filename for standard input/output.
        """
        ...
    def findfs_label(self, label: str) -> str:
        """
        findfs_label(label: str) -> str

        find a filesystem by label

        The device holding the filesystem with this label (the first in
        list-filesystems order); an error when none has it. See vfs-label.
        """
        ...
    def findfs_partlabel(self, label: str) -> str:
        """
        findfs_partlabel(label: str) -> str

        find a partition by partition label

        The partition whose GPT partition name is LABEL; an error when none has
        it.
        """
        ...
    def findfs_partuuid(self, uuid: str) -> str:
        """
        findfs_partuuid(uuid: str) -> str

        find a partition by partition UUID

        The partition whose GPT unique partition GUID is UUID (any case); an
        error when none has it.
        """
        ...
    def findfs_uuid(self, uuid: str) -> str:
        """
        findfs_uuid(uuid: str) -> str

        find a filesystem by UUID

        The device holding the filesystem with this UUID (the first in
        list-filesystems order); an error when none has it. See vfs-uuid.
        """
        ...
    def fsck(self, fstype: str, device: str) -> int:
        """
        fsck(fstype: str, device: str) -> int

        run the filesystem checker

        Run the filesystem checker on DEVICE, which holds a filesystem of type
        FSTYPE (fsck -a -t FSTYPE), and return its status: 0 clean, 1 errors
        corrected, 4 errors left uncorrected, 8 an operational error (no checker
        for the type, no filesystem), summed as fsck(8) says. A non-zero status
        is a result, not an error. fsck -a repairs, so the device must be
        unmounted and its drive writable. NTFS has no checker (see ntfsfix).
        Printed in hexadecimal, as guestfish prints it.
        """
        ...
    def fstrim(self, mountpoint: str, *, offset: Optional[int] = None, length: Optional[int] = None, minimumfreeextent: Optional[int] = None) -> None:
        """
        fstrim(mountpoint: str, *, offset: Optional[int] = None, length: Optional[int] = None, minimumfreeextent: Optional[int] = None) -> None

        trim free space in a filesystem

        Trim the free space of the filesystem holding the guest directory
        MOUNTPOINT, giving it back to the image (FITRIM). offset:N and length:N
        (bytes) bound the range, minimumfreeextent:N skips shorter free ranges.
        The filesystem must be mounted read-write from a writable drive; one
        whose driver cannot trim (vfat) is refused as unsupported.

        Optional arguments are keywords.
        """
        ...
    def get_append(self) -> str:
        """
        get_append() -> str

        get the additional kernel options

        What set-append set; (null) when nothing was.
        """
        ...
    def get_attach_method(self) -> str:
        """
        get_attach_method() -> str

        get the backend

        The old name of get-backend.
        """
        ...
    def get_autosync(self) -> bool:
        """
        get_autosync() -> bool

        get autosync mode

        What set-autosync set (its default until then).
        """
        ...
    def get_backend(self) -> str:
        """
        get_backend() -> str

        get the backend

        What set-backend set, else direct.
        """
        ...
    def get_backend_setting(self, name: str) -> str:
        """
        get_backend_setting(name: str) -> str

        get a single per-backend settings string

        The value of NAME=VALUE among the backend settings (1 for a bare NAME);
        an error when it is not set.
        """
        ...
    def get_backend_settings(self) -> List[str]:
        """
        get_backend_settings() -> List[str]

        get per-backend settings

        What set-backend-settings and set-backend-setting set.
        """
        ...
    def get_cachedir(self) -> str:
        """
        get_cachedir() -> str

        get the appliance cache directory

        What set-cachedir set, else the temporary directory.
        """
        ...
    def get_direct(self) -> bool:
        """
        get_direct() -> bool

        get direct appliance mode flag

        What set-direct set (its default until then).
        """
        ...
    def get_e2generation(self, file: str) -> int:
        """
        get_e2generation(file: str) -> int

        get ext2 file generation of a file

        The generation number of a regular file or directory on ext2/3/4.
        """
        ...
    def get_e2label(self, device: str) -> str:
        """
        get_e2label(device: str) -> str

        get the ext2/3/4 filesystem label

        The label of the filesystem on DEVICE (deprecated in libguestfs: it is
        vfs-label).
        """
        ...
    def get_e2uuid(self, device: str) -> str:
        """
        get_e2uuid(device: str) -> str

        get the ext2/3/4 filesystem UUID

        The UUID of the filesystem on DEVICE (deprecated in libguestfs: it is
        vfs-uuid).
        """
        ...
    def get_hv(self) -> str:
        """
        get_hv() -> str

        get the hypervisor binary

        What set-hv set, else qemu-system-x86_64.
        """
        ...
    def get_identifier(self) -> str:
        """
        get_identifier() -> str

        get the handle identifier

        What set-identifier set, else an empty string.
        """
        ...
    def get_libvirt_requested_credential_challenge(self, index: int) -> str:
        """
        get_libvirt_requested_credential_challenge(index: int) -> str

        challenge of i'th requested credential

        An error: no credential was requested (VMCraft does not use libvirt).
        """
        ...
    def get_libvirt_requested_credential_defresult(self, index: int) -> str:
        """
        get_libvirt_requested_credential_defresult(index: int) -> str

        default result of i'th requested credential

        An error: no credential was requested (VMCraft does not use libvirt).
        """
        ...
    def get_libvirt_requested_credential_prompt(self, index: int) -> str:
        """
        get_libvirt_requested_credential_prompt(index: int) -> str

        prompt of i'th requested credential

        An error: no credential was requested (VMCraft does not use libvirt).
        """
        ...
    def get_libvirt_requested_credentials(self) -> List[str]:
        """
        get_libvirt_requested_credentials() -> List[str]

        get list of credentials requested by libvirt

        None: VMCraft does not use libvirt.
        """
        ...
    def get_memsize(self) -> int:
        """
        get_memsize() -> int

        get memory allocated to the hypervisor

        What set-memsize set, else libguestfs's default (1280).
        """
        ...
    def get_network(self) -> bool:
        """
        get_network() -> bool

        get enable network flag

        What set-network set (its default until then).
        """
        ...
    def get_path(self) -> str:
        """
        get_path() -> str

        get the search path

        What set-path set, else an empty string.
        """
        ...
    def get_pgroup(self) -> bool:
        """
        get_pgroup() -> bool

        get process group flag

        What set-pgroup set (its default until then).
        """
        ...
    def get_pid(self) -> int:
        """
        get_pid() -> int

        get PID of hypervisor

        Always an error: no hypervisor runs, as libguestfs answers when none
        does.

        You can use 'pid' as an alias for this command.
        """
        ...
    def get_program(self) -> str:
        """
        get_program() -> str

        get the program name

        What set-program set, else the executable's name.
        """
        ...
    def get_qemu(self) -> str:
        """
        get_qemu() -> str

        get the hypervisor binary (usually qemu)

        The old name of get-hv.
        """
        ...
    def get_recovery_proc(self) -> bool:
        """
        get_recovery_proc() -> bool

        get recovery process enabled flag

        What set-recovery-proc set (its default until then).
        """
        ...
    def get_selinux(self) -> bool:
        """
        get_selinux() -> bool

        get SELinux enabled flag

        What set-selinux set (its default until then).
        """
        ...
    def get_smp(self) -> int:
        """
        get_smp() -> int

        get number of virtual CPUs in appliance

        What set-smp set, else 1.
        """
        ...
    def get_sockdir(self) -> str:
        """
        get_sockdir() -> str

        get the temporary directory for sockets and PID files

        $XDG_RUNTIME_DIR when set, else /tmp.
        """
        ...
    def get_state(self) -> int:
        """
        get_state() -> int

        get the current state

        0 before launch (config), 2 once launched (ready), as libguestfs numbers
        them.
        """
        ...
    def get_tmpdir(self) -> str:
        """
        get_tmpdir() -> str

        get the temporary directory

        The directory launches make the session directory in.
        """
        ...
    def get_trace(self) -> bool:
        """
        get_trace() -> bool

        get command trace enabled flag

        What set-trace set (its default until then).
        """
        ...
    def get_umask(self) -> int:
        """
        get_umask() -> int

        get the current umask

        The umask new guest files are created with, in octal.
        """
        ...
    def get_verbose(self) -> bool:
        """
        get_verbose() -> bool

        get verbose mode

        What set-verbose set (its default until then).
        """
        ...
    def getxattr(self, path: str, name: str) -> bytes:
        """
        getxattr(path: str, name: str) -> bytes

        get a single extended attribute

        The value of the extended attribute NAME of PATH, following symbolic
        links; a missing attribute is an error.
        """
        ...
    def getxattrs(self, path: str) -> List[Dict[str, Any]]:
        """
        getxattrs(path: str) -> List[Dict[str, Any]]

        list extended attributes of a file or directory

        Every extended attribute of PATH, following symbolic links, sorted by
        name.
        """
        ...
    def glob_expand(self, pattern: str, *, directoryslash: Optional[bool] = None) -> List[str]:
        """
        glob_expand(pattern: str, *, directoryslash: Optional[bool] = None) -> List[str]

        expand a wildcard path

        The paths matching a shell wildcard pattern, as glob(3) with GLOB_BRACE
        and GLOB_MARK: directories get a trailing slash unless
        directoryslash:false. No match is an empty list, not an error.

        Optional arguments are keywords.

        You can use 'glob-expand-opts' as an alias for this command.
        """
        ...
    def glob_expand_opts(self, pattern: str, *, directoryslash: Optional[bool] = None) -> List[str]:
        """
        glob_expand_opts(pattern: str, *, directoryslash: Optional[bool] = None) -> List[str]

        expand a wildcard path (an alias of glob_expand)

        The paths matching a shell wildcard pattern, as glob(3) with GLOB_BRACE
        and GLOB_MARK: directories get a trailing slash unless
        directoryslash:false. No match is an empty list, not an error.

        Optional arguments are keywords.

        You can use 'glob-expand-opts' as an alias for this command.
        """
        ...
    def grep(self, regex: str, path: str, *, extended: Optional[bool] = None, fixed: Optional[bool] = None, insensitive: Optional[bool] = None, compressed: Optional[bool] = None) -> List[str]:
        """
        grep(regex: str, path: str, *, extended: Optional[bool] = None, fixed: Optional[bool] = None, insensitive: Optional[bool] = None, compressed: Optional[bool] = None) -> List[str]

        return lines matching a pattern

        The lines of a file that match REGEX, as GNU grep matches them (a basic
        regular expression). extended:true for an extended one (grep -E),
        fixed:true for a fixed string (grep -F; not with extended),
        insensitive:true to ignore case (grep -i), compressed:true to look into
        a compressed file (zgrep). No match is an empty list.

        Optional arguments are keywords.

        You can use 'grep-opts' as an alias for this command.
        """
        ...
    def grep_opts(self, regex: str, path: str, *, extended: Optional[bool] = None, fixed: Optional[bool] = None, insensitive: Optional[bool] = None, compressed: Optional[bool] = None) -> List[str]:
        """
        grep_opts(regex: str, path: str, *, extended: Optional[bool] = None, fixed: Optional[bool] = None, insensitive: Optional[bool] = None, compressed: Optional[bool] = None) -> List[str]

        return lines matching a pattern (an alias of grep)

        The lines of a file that match REGEX, as GNU grep matches them (a basic
        regular expression). extended:true for an extended one (grep -E),
        fixed:true for a fixed string (grep -F; not with extended),
        insensitive:true to ignore case (grep -i), compressed:true to look into
        a compressed file (zgrep). No match is an empty list.

        Optional arguments are keywords.

        You can use 'grep-opts' as an alias for this command.
        """
        ...
    def grepi(self, regex: str, path: str) -> List[str]:
        """
        grepi(regex: str, path: str) -> List[str]

        return lines matching a pattern

        grep ignoring case (grep -i).
        """
        ...
    def head(self, path: str) -> List[str]:
        """
        head(path: str) -> List[str]

        return first 10 lines of a file

        The first 10 lines of a file, without their newlines. The file is read
        as a stream; a result over 4 MiB is an error (use download).
        """
        ...
    def head_n(self, nrlines: int, path: str) -> List[str]:
        """
        head_n(nrlines: int, path: str) -> List[str]

        return first N lines of a file

        The first NRLINES lines of a file. A negative NRLINES gives every line
        but the last -NRLINES; zero gives none.
        """
        ...
    def hexdump(self, path: str) -> str:
        """
        hexdump(path: str) -> str

        dump a file in hexadecimal

        The content of a file as hexdump -C shows it (identical lines squeezed
        into a * line).
        """
        ...
    def hivex_close(self) -> None:
        """
        hivex_close() -> None

        close the current hivex handle

        Close the open hive, dropping changes not committed.
        """
        ...
    def hivex_commit(self, filename: Optional[str]) -> None:
        """
        hivex_commit(filename: Optional[str]) -> None

        commit (write) changes back to the hive

        Write the open hive with its changes: back over the guest file it was
        opened from when FILENAME is "", else to the guest path FILENAME
        (created or replaced; the opened file is left alone). The hive must have
        been opened with write:true; paths are resolved inside the guest root.
        """
        ...
    def hivex_node_add_child(self, parent: int, name: str) -> int:
        """
        hivex_node_add_child(parent: int, name: str) -> int

        add a child node

        Add a subkey NAME to node PARENT and print its handle. The hive must be
        open for writing; the change is written by hivex-commit.
        """
        ...
    def hivex_node_children(self, nodeh: int) -> List[Dict[str, Any]]:
        """
        hivex_node_children(nodeh: int) -> List[Dict[str, Any]]

        return list of nodes which are subkeys of node

        The subkeys of NODEH, as hivex_node structs (field hivex_node_h).
        """
        ...
    def hivex_node_delete_child(self, nodeh: int) -> None:
        """
        hivex_node_delete_child(nodeh: int) -> None

        delete a node (recursively)

        Delete node NODEH and everything below it (not the root). The hive must
        be open for writing.
        """
        ...
    def hivex_node_get_child(self, nodeh: int, name: str) -> int:
        """
        hivex_node_get_child(nodeh: int, name: str) -> int

        return the named child of node

        The subkey of NODEH named NAME (compared case-insensitively), or 0 when
        there is none.
        """
        ...
    def hivex_node_get_value(self, nodeh: int, key: str) -> int:
        """
        hivex_node_get_value(nodeh: int, key: str) -> int

        return the named value

        The value of NODEH named KEY (compared case-insensitively; "" for the
        default value), or 0 when there is none.
        """
        ...
    def hivex_node_name(self, nodeh: int) -> str:
        """
        hivex_node_name(nodeh: int) -> str

        return the name of the node

        The name of node NODEH.
        """
        ...
    def hivex_node_parent(self, nodeh: int) -> int:
        """
        hivex_node_parent(nodeh: int) -> int

        return the parent of node

        The parent node of NODEH; the root has none (an error).
        """
        ...
    def hivex_node_set_value(self, nodeh: int, key: str, t: int, val: Union[bytes, str]) -> None:
        """
        hivex_node_set_value(nodeh: int, key: str, t: int, val: Union[bytes, str]) -> None

        set or replace a single value in a node

        Set the value KEY of NODEH (replacing one of the same name) to type T
        with data VAL as stored. The hive must be open for writing.
        """
        ...
    def hivex_node_values(self, nodeh: int) -> List[Dict[str, Any]]:
        """
        hivex_node_values(nodeh: int) -> List[Dict[str, Any]]

        return list of values attached to node

        The values of NODEH, as hivex_value structs (field hivex_value_h).
        """
        ...
    def hivex_open(self, filename: str, *, verbose: Optional[bool] = None, debug: Optional[bool] = None, write: Optional[bool] = None, unsafe: Optional[bool] = None) -> None:
        """
        hivex_open(filename: str, *, verbose: Optional[bool] = None, debug: Optional[bool] = None, write: Optional[bool] = None, unsafe: Optional[bool] = None) -> None

        open a Windows Registry hive file

        Open the registry hive file FILENAME of the guest (resolved inside the
        guest root; a regular file of at most 1 GiB). A hive this handle had
        open is closed first. write:true allows changes and hivex-commit;
        verbose and debug turn on libhivex's messages on standard error;
        unsafe:true lets libhivex skip damaged parts of a corrupt hive instead
        of refusing it. libhivex works on a private copy of the file: the guest
        file changes only on hivex-commit.

        Optional arguments are keywords.
        """
        ...
    def hivex_root(self) -> int:
        """
        hivex_root() -> int

        return the root node of the hive

        The handle of the hive's root node.
        """
        ...
    def hivex_value_key(self, valueh: int) -> str:
        """
        hivex_value_key(valueh: int) -> str

        return the key field from the (key, datatype, data) tuple

        The name of value VALUEH (empty for a node's default value).
        """
        ...
    def hivex_value_string(self, valueh: int) -> str:
        """
        hivex_value_string(valueh: int) -> str

        return the data field as a UTF-8 string

        The data of a string value (REG_SZ, REG_EXPAND_SZ, REG_LINK), converted
        from UTF-16LE to UTF-8; another type, or data that is not UTF-16, is an
        error.
        """
        ...
    def hivex_value_type(self, valueh: int) -> int:
        """
        hivex_value_type(valueh: int) -> int

        return the data type from the (key, datatype, data) tuple

        The type of value VALUEH: 0 REG_NONE, 1 REG_SZ, 2 REG_EXPAND_SZ, 3
        REG_BINARY, 4 REG_DWORD, 5 REG_DWORD_BIG_ENDIAN, 6 REG_LINK, 7
        REG_MULTI_SZ, 11 REG_QWORD, ...
        """
        ...
    def hivex_value_utf8(self, valueh: int) -> str:
        """
        hivex_value_utf8(valueh: int) -> str

        return the data field as a UTF-8 string

        Deprecated: the same as hivex-value-string.
        """
        ...
    def hivex_value_value(self, valueh: int) -> bytes:
        """
        hivex_value_value(valueh: int) -> bytes

        return the data field from the (key, datatype, data) tuple

        The data of value VALUEH as stored, byte for byte (at most 8 MB). See
        also hivex-value-string.
        """
        ...
    def host_path(self, device: str) -> str:
        """
        host_path(device: str) -> str

        the host device node behind a device name

        The host node that backs a device name of the session (/dev/sda1 may be
        /dev/loop3p1). VMCraft only; for debugging and for tools that need the
        node.
        """
        ...
    def hv(self, hv: str) -> None:
        """
        hv(hv: str) -> None

        set the hypervisor binary (an alias of set_hv)

        Remembered. VMCraft runs no hypervisor.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'hv' as an alias for this command.
        """
        ...
    def identifier(self, identifier: str) -> None:
        """
        identifier(identifier: str) -> None

        set the handle identifier (an alias of set_identifier)

        The handle's identifier (letters, digits, _ and -), which traces are
        prefixed with.

        You can use 'identifier' as an alias for this command.
        """
        ...
    def inspect_get_arch(self, root: str) -> str:
        """
        inspect_get_arch(root: str) -> str

        get architecture of inspected operating system

        The architecture of the guest's binaries: x86_64, aarch64, i386, ...
        """
        ...
    def inspect_get_build_id(self, root: str) -> str:
        """
        inspect_get_build_id(root: str) -> str

        get the system build ID

        Windows: the registry's CurrentBuildNumber (19045); unknown for other
        guests.
        """
        ...
    def inspect_get_distro(self, root: str) -> str:
        """
        inspect_get_distro(root: str) -> str

        get distro of inspected operating system

        The distribution: debian, ubuntu, fedora, rhel, windows, ...
        """
        ...
    def inspect_get_drive_mappings(self, root: str) -> Dict[str, str]:
        """
        inspect_get_drive_mappings(root: str) -> Dict[str, str]

        get drive letter mappings

        Windows: drive letter: device, from HKLM\\SYSTEM\\MountedDevices (an MBR
        disk's signature and partition offset, or a GPT partition's GUID), for
        the session's partitions; empty for other guests.
        """
        ...
    def inspect_get_filesystems(self, root: str) -> List[str]:
        """
        inspect_get_filesystems(root: str) -> List[str]

        get filesystems associated with inspected operating system

        The filesystems that belong to the operating system: its root and every
        device its fstab names, swap included.
        """
        ...
    def inspect_get_format(self, root: str) -> str:
        """
        inspect_get_format(root: str) -> str

        get format of inspected operating system

        Always installed (deprecated in libguestfs, which stopped detecting
        installer and live disks in 1.38).
        """
        ...
    def inspect_get_hostname(self, root: str) -> str:
        """
        inspect_get_hostname(root: str) -> str

        get hostname of the operating system

        The hostname configured in the guest, or unknown.
        """
        ...
    def inspect_get_major_version(self, root: str) -> int:
        """
        inspect_get_major_version(root: str) -> int

        get major version of inspected operating system

        The major version number.
        """
        ...
    def inspect_get_minor_version(self, root: str) -> int:
        """
        inspect_get_minor_version(root: str) -> int

        get minor version of inspected operating system

        The minor version number.
        """
        ...
    def inspect_get_mountpoints(self, root: str) -> Dict[str, str]:
        """
        inspect_get_mountpoints(root: str) -> Dict[str, str]

        get mountpoints of inspected operating system

        The guest's mount points from its fstab, as mountpoint: mountable,
        parents first; / is the root when the fstab does not name it. Devices
        named by UUID, LABEL, PARTUUID, PARTLABEL, /dev/disk/by-*, LVM and
        /dev/mapper names are mapped to the session's; a btrfs entry with
        subvol= is the subvolume (btrfsvol:/dev/sda2/root); swap, pseudo
        filesystems and devices the session does not have are left out.
        """
        ...
    def inspect_get_osinfo(self, root: str) -> str:
        """
        inspect_get_osinfo(root: str) -> str

        get a possible osinfo short ID corresponding to this operating system

        A guess at the libosinfo short ID of the system, made as libguestfs
        makes it from the type, distro and version: debian12, rhel7.9,
        centos7.0, ubuntu22.04, sles11sp4, sle15sp5, fedora38, archlinux, ...
        The ID need not exist in osinfo-db; unknown when nothing can be guessed.
        """
        ...
    def inspect_get_package_format(self, root: str) -> str:
        """
        inspect_get_package_format(root: str) -> str

        get package format used by the operating system

        rpm, deb, ebuild, pisi, pacman, apk, xbps, or unknown: libguestfs's
        table of the distro's format.
        """
        ...
    def inspect_get_package_management(self, root: str) -> str:
        """
        inspect_get_package_management(root: str) -> str

        get package management tool used by the operating system

        yum, dnf, up2date, apt, portage, pisi, pacman, urpmi, zypper, apk, xbps,
        or unknown: libguestfs's table of the distro's manager by major version
        (RHEL and its rebuilds 8 and later dnf, 5 to 7 yum; Fedora 22 and later
        dnf when /usr/bin/dnf is on the root filesystem).
        """
        ...
    def inspect_get_product_name(self, root: str) -> str:
        """
        inspect_get_product_name(root: str) -> str

        get product name of inspected operating system

        The product name, as the guest names itself.
        """
        ...
    def inspect_get_product_variant(self, root: str) -> str:
        """
        inspect_get_product_variant(root: str) -> str

        get product variant of inspected operating system

        Windows: the registry's InstallationType (Client, Server, Server Core);
        unknown for other guests, or when the registry does not say.
        """
        ...
    def inspect_get_roots(self) -> List[str]:
        """
        inspect_get_roots() -> List[str]

        return list of operating systems found by last inspection

        The roots found by the last inspect-os.
        """
        ...
    def inspect_get_type(self, root: str) -> str:
        """
        inspect_get_type(root: str) -> str

        get type of inspected operating system

        linux, windows, or unknown.
        """
        ...
    def inspect_get_windows_current_control_set(self, root: str) -> str:
        """
        inspect_get_windows_current_control_set(root: str) -> str

        get Windows CurrentControlSet of inspected operating system

        Windows: the current control set from HKLM\\SYSTEM\\Select
        (ControlSet001); an error when the registry does not say.
        """
        ...
    def inspect_get_windows_software_hive(self, root: str) -> str:
        """
        inspect_get_windows_software_hive(root: str) -> str

        get the path of the Windows software hive

        Windows: the guest path of the SOFTWARE hive, as spelt on the
        filesystem; an error when there is none.
        """
        ...
    def inspect_get_windows_system_hive(self, root: str) -> str:
        """
        inspect_get_windows_system_hive(root: str) -> str

        get the path of the Windows system hive

        Windows: the guest path of the SYSTEM hive, as spelt on the filesystem;
        an error when there is none.
        """
        ...
    def inspect_get_windows_systemroot(self, root: str) -> str:
        """
        inspect_get_windows_systemroot(root: str) -> str

        get Windows systemroot of inspected operating system

        The Windows system directory (/Windows); an error for other guests.
        """
        ...
    def inspect_is_live(self, root: str) -> bool:
        """
        inspect_is_live(root: str) -> bool

        get live flag for install disk

        Always false (deprecated in libguestfs).
        """
        ...
    def inspect_is_multipart(self, root: str) -> bool:
        """
        inspect_is_multipart(root: str) -> bool

        get multipart flag for install disk

        Always false (deprecated in libguestfs).
        """
        ...
    def inspect_is_netinst(self, root: str) -> bool:
        """
        inspect_is_netinst(root: str) -> bool

        get netinst (network installer) flag for install disk

        Always false (deprecated in libguestfs).
        """
        ...
    def inspect_list_applications(self, root: str) -> List[Dict[str, Any]]:
        """
        inspect_list_applications(root: str) -> List[Dict[str, Any]]

        get list of applications installed in the operating system

        The same as inspect-list-applications2 with libguestfs's older structure
        (app_ fields, no arch or class); deprecated in libguestfs.
        """
        ...
    def inspect_list_applications2(self, root: str) -> List[Dict[str, Any]]:
        """
        inspect_list_applications2(root: str) -> List[Dict[str, Any]]

        get list of applications installed in the operating system

        The packages installed in the inspected system, sorted by name, with
        libguestfs's fields (app2_name, app2_display_name, app2_epoch,
        app2_version, app2_release, app2_arch, app2_install_path,
        app2_trans_path, app2_publisher, app2_url, app2_source_package,
        app2_summary, app2_description, app2_class and three spare fields); a
        field the package format does not have is empty.

        As in libguestfs, mount the guest's filesystems first (inspect-os, then
        its mount points): the package database is read from the mounted tree,
        in-process, without running guest code. dpkg, apk, pacman and rpm
        databases (rpmdb.sqlite, the Berkeley DB Packages of older guests,
        SUSE's ndb Packages.db) are read; other systems give an empty list. As
        librpm answers, a string an rpm header lacks is (none). A dpkg package
        is listed when its status says installed.
        """
        ...
    def inspect_os(self) -> List[str]:
        """
        inspect_os() -> List[str]

        inspect disk and return list of operating systems found

        Look for operating systems on the session's disks and return the root
        filesystem of each, by libguestfs's rules (Linux, CoreOS, GNU/Hurd and
        Windows roots; a separate /usr completes its root; every btrfs subvolume
        is looked at, so a root in one is btrfsvol:DEVICE/SUBVOL, and a snapshot
        of a root already found is not another system). Filesystems are looked
        at read-only, through the user's mounts when they are mounted; RAID and
        LVM members and LUKS containers are never mounted.
        """
        ...
    def invalidate_partition_cache(self) -> None:
        """
        invalidate_partition_cache() -> None

        forget the cached partition lists

        Drop every cached partition list. VMCraft's own calls keep the cache
        right; this is for changes made behind its back.
        """
        ...
    def invalidate_probe_cache(self) -> None:
        """
        invalidate_probe_cache() -> None

        forget the cached filesystem probes

        Drop every cached filesystem probe (blkid). VMCraft's own calls keep the
        cache right; this is for changes made behind its back.
        """
        ...
    def is_blockdev(self, path: str, *, followsymlinks: Optional[bool] = None) -> bool:
        """
        is_blockdev(path: str, *, followsymlinks: Optional[bool] = None) -> bool

        test if block device

        Whether PATH is a block device node; followsymlinks:true follows a final
        symlink. A path that does not exist is false.

        Optional arguments are keywords.
        """
        ...
    def is_busy(self) -> bool:
        """
        is_busy() -> bool

        is busy processing a command

        Always false between calls.
        """
        ...
    def is_chardev(self, path: str, *, followsymlinks: Optional[bool] = None) -> bool:
        """
        is_chardev(path: str, *, followsymlinks: Optional[bool] = None) -> bool

        test if character device

        Whether PATH is a character device node; followsymlinks:true follows a
        final symlink.

        Optional arguments are keywords.
        """
        ...
    def is_config(self) -> bool:
        """
        is_config() -> bool

        is in configuration state

        true before launch.
        """
        ...
    def is_dir(self, path: str) -> bool:
        """
        is_dir(path: str) -> bool

        test if a directory

        Whether the path is a directory (following symbolic links).
        """
        ...
    def is_fifo(self, path: str, *, followsymlinks: Optional[bool] = None) -> bool:
        """
        is_fifo(path: str, *, followsymlinks: Optional[bool] = None) -> bool

        test if FIFO (named pipe)

        Whether PATH is a FIFO; followsymlinks:true follows a final symlink.

        Optional arguments are keywords.
        """
        ...
    def is_file(self, path: str) -> bool:
        """
        is_file(path: str) -> bool

        test if a regular file

        Whether the path is a regular file (following symbolic links).
        """
        ...
    def is_launched(self) -> bool:
        """
        is_launched() -> bool

        whether the session is launched

        true once launch (or run, -i, -m, -N) attached the drives, false before
        and after shutdown.
        """
        ...
    def is_launching(self) -> bool:
        """
        is_launching() -> bool

        is launching subprocess

        Always false: a launch happens within the launch call.
        """
        ...
    def is_link(self, path: str) -> bool:
        """
        is_link(path: str) -> bool

        test if symbolic link (an alias of is_symlink)

        Whether the path is a symbolic link.

        You can use 'is-link' as an alias for this command.
        """
        ...
    def is_lv(self, mountable: str) -> bool:
        """
        is_lv(mountable: str) -> bool

        test if mountable is a logical volume

        Whether a mountable is an LVM logical volume (/dev/VG/LV).
        """
        ...
    def is_ready(self) -> bool:
        """
        is_ready() -> bool

        is ready to accept commands

        true once launched, until shutdown.
        """
        ...
    def is_socket(self, path: str, *, followsymlinks: Optional[bool] = None) -> bool:
        """
        is_socket(path: str, *, followsymlinks: Optional[bool] = None) -> bool

        test if socket

        Whether PATH is a Unix domain socket; followsymlinks:true follows a
        final symlink.

        Optional arguments are keywords.
        """
        ...
    def is_symlink(self, path: str) -> bool:
        """
        is_symlink(path: str) -> bool

        test if symbolic link

        Whether the path is a symbolic link.

        You can use 'is-link' as an alias for this command.
        """
        ...
    def is_whole_device(self, device: str) -> bool:
        """
        is_whole_device(device: str) -> bool

        test if a device is a whole device

        Whether a device is a whole drive (/dev/sda), not a partition or a
        logical volume.
        """
        ...
    def is_zero(self, path: str) -> bool:
        """
        is_zero(path: str) -> bool

        test if a file contains all zero bytes

        Whether a regular file holds only zero bytes (an empty file does). Holes
        of a sparse file are not read.
        """
        ...
    def is_zero_device(self, device: str) -> bool:
        """
        is_zero_device(device: str) -> bool

        test if a device contains all zero bytes

        Whether a device holds only zero bytes. The whole device is read up to
        its first non-zero byte.
        """
        ...
    def kill_subprocess(self) -> None:
        """
        kill_subprocess() -> None

        kill the hypervisor

        There is no hypervisor: shuts the session down, as libguestfs says to do
        instead.
        """
        ...
    def launch(self) -> None:
        """
        launch() -> None

        launch the session

        Attach every drive added, so that the other commands can be used.
        Scripts written for guestfish start with run. As in guestfish, a session
        launches once: after -i, -m or -N (which launch it) or a first run, run
        is an error.

        You can use 'run' as an alias for this command.
        """
        ...
    def lchown(self, owner: int, group: int, path: str) -> None:
        """
        lchown(owner: int, group: int, path: str) -> None

        change file owner and group

        As chown, but a final symlink is changed itself, not what it points to.
        """
        ...
    def lgetxattr(self, path: str, name: str) -> bytes:
        """
        lgetxattr(path: str, name: str) -> bytes

        get a single extended attribute

        Like getxattr, of a symbolic link itself.
        """
        ...
    def lgetxattrs(self, path: str) -> List[Dict[str, Any]]:
        """
        lgetxattrs(path: str) -> List[Dict[str, Any]]

        list extended attributes of a file or directory

        Like getxattrs, of a symbolic link itself.
        """
        ...
    def list_9p(self) -> List[str]:
        """
        list_9p() -> List[str]

        list 9p filesystems

        None: there is no appliance to export 9p filesystems to.
        """
        ...
    def list_devices(self) -> List[str]:
        """
        list_devices() -> List[str]

        list the block devices

        The drives of the session: /dev/sda, /dev/sdb, ... in the order they
        were added. A drive removed after launch (remove-drive) leaves a gap:
        the others keep their names.
        """
        ...
    def list_disk_labels(self) -> Dict[str, str]:
        """
        list_disk_labels() -> Dict[str, str]

        mapping of disk labels to devices

        The labels given to drives (add-drive ... label:NAME) mapped to the
        drives, and each label followed by a partition number mapped to that
        partition (data: /dev/sdb, data1: /dev/sdb1). Where libguestfs reads its
        appliance's /dev/disk/guestfs/ symlinks, VMCraft maps each label to the
        drive's usual name. Empty when no drive has a label.
        """
        ...
    def list_dm_devices(self) -> List[str]:
        """
        list_dm_devices() -> List[str]

        list device mapper devices

        The device-mapper devices on the session's disks that are not logical
        volumes (see lvs), as /dev/mapper/NAME. A host without device-mapper has
        none.
        """
        ...
    def list_filesystems(self) -> Dict[str, str]:
        """
        list_filesystems() -> Dict[str, str]

        list filesystems

        Every filesystem of the session with its type, as device: type. Devices
        holding nothing recognisable are unknown; LVM physical volumes are left
        out and their logical volumes listed instead.
        """
        ...
    def list_md_devices(self) -> List[str]:
        """
        list_md_devices() -> List[str]

        list Linux md (RAID) devices

        The Linux md arrays built on the session's disks, as /dev/mdN. A host
        without md has none.
        """
        ...
    def list_partitions(self) -> List[str]:
        """
        list_partitions() -> List[str]

        list the partitions

        Every partition of every drive: /dev/sda1, /dev/sda2, /dev/sdb1, ...
        """
        ...
    def ll(self, directory: str) -> str:
        """
        ll(directory: str) -> str

        list the files in a directory (long format)

        The directory listed as ls -la lists it, in the C locale and UTC. For
        people to read, not for programs to parse: use lstatnslist or find.
        """
        ...
    def llz(self, directory: str) -> str:
        """
        llz(directory: str) -> str

        list the files in a directory (long format with SELinux contexts)

        As ll, with each file's SELinux context (ls -laZ; ? where a file has
        none).
        """
        ...
    def ln(self, target: str, linkname: str) -> None:
        """
        ln(target: str, linkname: str) -> None

        create a hard link

        Create a hard link LINKNAME to the existing file TARGET (a final
        symbolic link of TARGET is linked, not followed).
        """
        ...
    def ln_f(self, target: str, linkname: str) -> None:
        """
        ln_f(target: str, linkname: str) -> None

        create a hard link

        Create a hard link, removing whatever non-directory is at LINKNAME
        first. TARGET must exist, or nothing is removed.
        """
        ...
    def ln_s(self, target: str, linkname: str) -> None:
        """
        ln_s(target: str, linkname: str) -> None

        create a symbolic link

        Create a symbolic link LINKNAME pointing to TARGET.
        """
        ...
    def ln_sf(self, target: str, linkname: str) -> None:
        """
        ln_sf(target: str, linkname: str) -> None

        create a symbolic link

        Create a symbolic link LINKNAME pointing to TARGET, as ln -sf: whatever
        non-directory is at LINKNAME is removed first, and when LINKNAME is a
        directory the link is made in it, named after TARGET's last component.
        TARGET is stored as given and, when followed, resolves inside the guest.
        """
        ...
    def lremovexattr(self, xattr: str, path: str) -> None:
        """
        lremovexattr(xattr: str, path: str) -> None

        remove extended attribute of a file or directory

        Like removexattr, on a symbolic link itself.
        """
        ...
    def ls(self, directory: str) -> List[str]:
        """
        ls(directory: str) -> List[str]

        list the files in a directory

        The names in a directory, sorted, without . and ..
        """
        ...
    def ls0(self, directory: str, filenames: Union[str, os.PathLike[str]]) -> None:
        """
        ls0(directory: str, filenames: Union[str, os.PathLike[str]]) -> None

        get list of files in a directory

        The names in DIRECTORY (as ls), written to the host file FILENAMES
        separated by NUL bytes.

        Use "-" instead of a filename for standard input/output.
        """
        ...
    def lsetxattr(self, xattr: str, val: str, vallen: int, path: str) -> None:
        """
        lsetxattr(xattr: str, val: str, vallen: int, path: str) -> None

        set extended attribute of a file or directory

        Like setxattr, on a symbolic link itself.
        """
        ...
    def lstat(self, path: str) -> Dict[str, Any]:
        """
        lstat(path: str) -> Dict[str, Any]

        get file information for a symbolic link

        The status of a path, not following a final symbolic link.
        """
        ...
    def lstatlist(self, path: str, names: List[str]) -> List[Dict[str, Any]]:
        """
        lstatlist(path: str, names: List[str]) -> List[Dict[str, Any]]

        lstat on multiple files

        As lstatnslist, with the older stat struct (whole-second times); ino is
        -1 for a name that cannot be looked at.
        """
        ...
    def lstatns(self, path: str) -> Dict[str, Any]:
        """
        lstatns(path: str) -> Dict[str, Any]

        get file information for a symbolic link

        As statns, but a final symlink is looked at itself, not followed.
        """
        ...
    def lstatnslist(self, path: str, names: List[str]) -> List[Dict[str, Any]]:
        """
        lstatnslist(path: str, names: List[str]) -> List[Dict[str, Any]]

        lstat on multiple files

        lstatns of each of NAMES in the directory PATH, one struct per name in
        the same order. A name that cannot be looked at (it does not exist) gets
        a struct whose st_ino is -1.
        """
        ...
    def luks_add_key(self, device: str, key: str, newkey: str, keyslot: int) -> None:
        """
        luks_add_key(device: str, key: str, newkey: str, keyslot: int) -> None

        add a key on a LUKS encrypted device

        Add NEWKEY in key slot KEYSLOT of a LUKS device; KEY is any key it has.
        A slot that holds a key is refused: remove that key first with
        luks-kill-slot.
        """
        ...
    def luks_close(self, device: str) -> None:
        """
        luks_close(device: str) -> None

        close a LUKS device

        Deprecated by libguestfs for cryptsetup-close: the same.
        """
        ...
    def luks_format(self, device: str, key: str, keyslot: int) -> None:
        """
        luks_format(device: str, key: str, keyslot: int) -> None

        format a block device as a LUKS encrypted device

        Erase DEVICE and make it a LUKS container whose first key, KEY, is in
        key slot KEYSLOT (0 to 31; LUKS1 has 0 to 7).
        """
        ...
    def luks_format_cipher(self, device: str, key: str, keyslot: int, cipher: str) -> None:
        """
        luks_format_cipher(device: str, key: str, keyslot: int, cipher: str) -> None

        format a block device as a LUKS encrypted device

        luks-format with the cipher given (for example aes-xts-plain64).
        """
        ...
    def luks_kill_slot(self, device: str, key: str, keyslot: int) -> None:
        """
        luks_kill_slot(device: str, key: str, keyslot: int) -> None

        remove a key from a LUKS encrypted device

        Remove the key in slot KEYSLOT of a LUKS device; KEY must be one of its
        other keys.
        """
        ...
    def luks_open(self, device: str, key: str, mapname: str) -> None:
        """
        luks_open(device: str, key: str, mapname: str) -> None

        open a LUKS-encrypted block device

        Deprecated by libguestfs for cryptsetup-open: the same, with the type
        luks.
        """
        ...
    def luks_open_ro(self, device: str, key: str, mapname: str) -> None:
        """
        luks_open_ro(device: str, key: str, mapname: str) -> None

        open a LUKS-encrypted block device read-only

        Deprecated by libguestfs for cryptsetup-open readonly:true: luks-open
        with a read-only mapping.
        """
        ...
    def luks_uuid(self, device: str) -> str:
        """
        luks_uuid(device: str) -> str

        get the UUID of a LUKS device

        The UUID in a LUKS device's header.
        """
        ...
    def lvcreate_free(self, logvol: str, volgroup: str, percent: int) -> None:
        """
        lvcreate_free(logvol: str, volgroup: str, percent: int) -> None

        create an LVM logical volume in % remaining free space

        Make a logical volume over PERCENT of the volume group's free space.
        """
        ...
    def lvm_canonical_lv_name(self, lvname: str) -> str:
        """
        lvm_canonical_lv_name(lvname: str) -> str

        get canonical name of an LV

        The canonical name of a logical volume: /dev/VG/LV for /dev/VG/LV or
        /dev/mapper/VG-LV. Anything that is not a logical volume of the session
        is an error.
        """
        ...
    def lvm_clear_filter(self) -> None:
        """
        lvm_clear_filter() -> None

        clear LVM device filter

        Let LVM see every device of the session again (undo lvm-set-filter).
        """
        ...
    def lvm_remove_all(self) -> None:
        """
        lvm_remove_all() -> None

        remove all LVM LVs, VGs and PVs

        Remove every logical volume, volume group and physical volume of the
        session.
        """
        ...
    def lvm_scan(self, activate: bool) -> None:
        """
        lvm_scan(activate: bool) -> None

        scan for LVM physical volumes, volume groups and logical volumes

        Rescan the session's devices for physical volumes, volume groups and
        logical volumes, forgetting what was cached. With activate:true what is
        found is also activated, which needs device-mapper (on a host without
        it, lvm2 works on metadata only and activation fails).
        """
        ...
    def lvm_set_filter(self, devices: List[str]) -> None:
        """
        lvm_set_filter(devices: List[str]) -> None

        set LVM device filter

        Let LVM see only these drives or partitions of the session, each exactly
        (a drive does not bring its partitions): a way past duplicate PVs or VGs
        on cloned disks. Refused while a logical volume is mounted. The filter
        holds, by device name, until lvm-clear-filter, also when drives are
        added or partition tables written.
        """
        ...
    def lvrename(self, logvol: str, newlogvol: str) -> None:
        """
        lvrename(logvol: str, newlogvol: str) -> None

        rename an LVM logical volume

        Rename a logical volume: both names are full paths in the same volume
        group (lvrename /dev/VG/old /dev/VG/new). The LV must not be mounted.
        """
        ...
    def lvresize_free(self, lv: str, percent: int) -> None:
        """
        lvresize_free(lv: str, percent: int) -> None

        expand an LV to fill free space

        Grow a logical volume by PERCENT of the volume group's free space.
        """
        ...
    def lvs(self) -> List[str]:
        """
        lvs() -> List[str]

        list the LVM logical volumes (LVs)

        The logical volumes, as /dev/VG/LV.
        """
        ...
    def lvs_full(self) -> List[Dict[str, Any]]:
        """
        lvs_full() -> List[Dict[str, Any]]

        list the LVM logical volumes (LVs)

        Every field lvm2 reports for each logical volume.
        """
        ...
    def lvuuid(self, device: str) -> str:
        """
        lvuuid(device: str) -> str

        get the UUID of a logical volume

        The UUID of a logical volume (32 characters, no dashes).
        """
        ...
    def lxattrlist(self, path: str, names: List[str]) -> List[Dict[str, Any]]:
        """
        lxattrlist(path: str, names: List[str]) -> List[Dict[str, Any]]

        lgetxattr on multiple files

        lgetxattrs of each of NAMES (file names in the directory PATH),
        flattened: for each file an entry with an empty attrname whose attrval
        is the number of attributes that follow (empty when the file could not
        be read), then those attributes.
        """
        ...
    def max_disks(self) -> int:
        """
        max_disks() -> int

        maximum number of disks that may be added

        255, as libguestfs's direct backend.
        """
        ...
    def md_assemble(self) -> List[str]:
        """
        md_assemble() -> List[str]

        assemble the md arrays on the session's devices

        VMCraft only (libguestfs's appliance does it as it boots): assemble
        every md array whose members are all devices of the session, read-only
        where a member's drive is read-only, and list them (/dev/mdN). An array
        with a member elsewhere is left alone; one missing members is not
        started.
        """
        ...
    def md_create(self, name: str, devices: List[str], *, missingbitmap: Optional[int] = None, nrdevices: Optional[int] = None, spare: Optional[int] = None, chunk: Optional[int] = None, level: Optional[str] = None) -> None:
        """
        md_create(name: str, devices: List[str], *, missingbitmap: Optional[int] = None, nrdevices: Optional[int] = None, spare: Optional[int] = None, chunk: Optional[int] = None, level: Optional[str] = None) -> None

        create a Linux md (RAID) device

        Create an md array named NAME on DEVICES (mdadm --create --run): RAID 1
        of all of them unless level:.. (linear, raid0, raid1, raid4, raid5,
        raid6, raid10 and their other spellings) says otherwise; nrdevices:N
        active devices, spare:N spares, chunk:N bytes (a multiple of 1024),
        missingbitmap:N the slots left missing (bit i for slot i). The array
        shows as /dev/mdN in list-md-devices.

        Optional arguments are keywords.
        """
        ...
    def md_detail(self, md: str) -> Dict[str, str]:
        """
        md_detail(md: str) -> Dict[str, str]

        obtain metadata for an MD device

        What mdadm --detail --export says of an md array of the session, each
        key without MD_ and in lower case (level, devices, metadata, uuid, name,
        ...).
        """
        ...
    def md_stat(self, md: str) -> List[Dict[str, Any]]:
        """
        md_stat(md: str) -> List[Dict[str, Any]]

        get underlying devices from an MD device

        The members of an md array with their index and flags (W write-mostly, F
        faulty, S spare, R replacement), from /proc/mdstat.
        """
        ...
    def md_stop(self, md: str) -> None:
        """
        md_stop(md: str) -> None

        stop a Linux md (RAID) device

        Stop an md array of the session; refused while it is mounted.
        """
        ...
    def memsize(self, memsize: int) -> None:
        """
        memsize(memsize: int) -> None

        set memory allocated to the hypervisor (an alias of set_memsize)

        Remembered (in MiB, at least 128). VMCraft has no appliance to give
        memory to.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'memsize' as an alias for this command.
        """
        ...
    def mkdir(self, path: str) -> None:
        """
        mkdir(path: str) -> None

        create a directory

        Create a directory (its parent must exist).
        """
        ...
    def mkdir_mode(self, path: str, mode: int) -> None:
        """
        mkdir_mode(path: str, mode: int) -> None

        create a directory with a particular mode

        Create a directory with MODE (write it in octal with a leading 0: 0755).
        """
        ...
    def mkdir_p(self, path: str) -> None:
        """
        mkdir_p(path: str) -> None

        create a directory and parents

        Create a directory and any missing parents; an existing directory is
        fine.
        """
        ...
    def mkdtemp(self, tmpl: str) -> str:
        """
        mkdtemp(tmpl: str) -> str

        create a temporary directory

        Create a directory (mode 0700) named by TMPL with its final XXXXXX
        replaced by random characters, and print its name.
        """
        ...
    def mke2fs(self, device: str, *, blockscount: Optional[int] = None, blocksize: Optional[int] = None, fragsize: Optional[int] = None, blockspergroup: Optional[int] = None, numberofgroups: Optional[int] = None, bytesperinode: Optional[int] = None, inodesize: Optional[int] = None, journalsize: Optional[int] = None, numberofinodes: Optional[int] = None, stridesize: Optional[int] = None, stripewidth: Optional[int] = None, maxonlineresize: Optional[int] = None, reservedblockspercentage: Optional[int] = None, mmpupdateinterval: Optional[int] = None, journaldevice: Optional[str] = None, label: Optional[str] = None, lastmounteddir: Optional[str] = None, creatoros: Optional[str] = None, fstype: Optional[str] = None, usagetype: Optional[str] = None, uuid: Optional[str] = None, forcecreate: Optional[bool] = None, writesbandgrouponly: Optional[bool] = None, lazyitableinit: Optional[bool] = None, lazyjournalinit: Optional[bool] = None, testfs: Optional[bool] = None, discard: Optional[bool] = None, quotatype: Optional[bool] = None, extent: Optional[bool] = None, filetype: Optional[bool] = None, flexbg: Optional[bool] = None, hasjournal: Optional[bool] = None, journaldev: Optional[bool] = None, largefile: Optional[bool] = None, quota: Optional[bool] = None, resizeinode: Optional[bool] = None, sparsesuper: Optional[bool] = None, uninitbg: Optional[bool] = None) -> None:
        """
        mke2fs(device: str, *, blockscount: Optional[int] = None, blocksize: Optional[int] = None, fragsize: Optional[int] = None, blockspergroup: Optional[int] = None, numberofgroups: Optional[int] = None, bytesperinode: Optional[int] = None, inodesize: Optional[int] = None, journalsize: Optional[int] = None, numberofinodes: Optional[int] = None, stridesize: Optional[int] = None, stripewidth: Optional[int] = None, maxonlineresize: Optional[int] = None, reservedblockspercentage: Optional[int] = None, mmpupdateinterval: Optional[int] = None, journaldevice: Optional[str] = None, label: Optional[str] = None, lastmounteddir: Optional[str] = None, creatoros: Optional[str] = None, fstype: Optional[str] = None, usagetype: Optional[str] = None, uuid: Optional[str] = None, forcecreate: Optional[bool] = None, writesbandgrouponly: Optional[bool] = None, lazyitableinit: Optional[bool] = None, lazyjournalinit: Optional[bool] = None, testfs: Optional[bool] = None, discard: Optional[bool] = None, quotatype: Optional[bool] = None, extent: Optional[bool] = None, filetype: Optional[bool] = None, flexbg: Optional[bool] = None, hasjournal: Optional[bool] = None, journaldev: Optional[bool] = None, largefile: Optional[bool] = None, quota: Optional[bool] = None, resizeinode: Optional[bool] = None, sparsesuper: Optional[bool] = None, uninitbg: Optional[bool] = None) -> None

        create an ext2/ext3/ext4 filesystem on device

        Make an ext2/3/4 filesystem on the unmounted DEVICE with mke2fs's own
        options: blockscount (the size in blocks), blocksize (-b), fragsize
        (-f), blockspergroup (-g), numberofgroups (-G), bytesperinode (-i),
        inodesize (-I), journalsize (-J size=), numberofinodes (-N), stridesize,
        stripewidth, maxonlineresize, mmpupdateinterval (-E),
        reservedblockspercentage (-m), journaldevice (-J device=, a device of
        this session made with journaldev:true; LABEL= and UUID= forms are
        refused, mke2fs would search the host for them), label (-L),
        lastmounteddir (-M), creatoros (-o), fstype (-t ext2|ext3|ext4),
        usagetype (-T), uuid (-U), forcecreate (-F), writesbandgrouponly (-S),
        lazyitableinit, lazyjournalinit, testfs, discard (-E), and the features
        extent, filetype, flexbg, hasjournal, journaldev, largefile, quota,
        quotatype, resizeinode, sparsesuper, uninitbg (-O, false clears). A
        filesystem too small for a journal silently becomes ext2, as with
        mke2fs.

        Optional arguments are keywords.
        """
        ...
    def mkfifo(self, mode: int, path: str) -> None:
        """
        mkfifo(mode: int, path: str) -> None

        make FIFO (named pipe)

        Create a FIFO with MODE, which holds only permission bits (write it in
        octal with a leading 0); the umask reduces it.
        """
        ...
    def mkfs(self, fstype: str, device: str, *, blocksize: Optional[int] = None, features: Optional[str] = None, inode: Optional[int] = None, sectorsize: Optional[int] = None, label: Optional[str] = None) -> None:
        """
        mkfs(fstype: str, device: str, *, blocksize: Optional[int] = None, features: Optional[str] = None, inode: Optional[int] = None, sectorsize: Optional[int] = None, label: Optional[str] = None) -> None

        make a filesystem

        Make a filesystem of FSTYPE (ext2, ext3, ext4, xfs, vfat, btrfs, ntfs,
        swap) on a device that is not mounted. blocksize:N is the block
        (cluster) size in bytes, features:.. the ext2/3/4 features, inode:N the
        ext2/3/4 inode size, sectorsize:N the sector size, label:.. the label.

        Optional arguments are keywords.

        You can use 'mkfs-opts' as an alias for this command.
        """
        ...
    def mkfs_b(self, fstype: str, blocksize: int, device: str) -> None:
        """
        mkfs_b(fstype: str, blocksize: int, device: str) -> None

        make a filesystem with block size

        mkfs with a block size (the cluster size for vfat and NTFS); deprecated
        in libguestfs for mkfs blocksize:N.
        """
        ...
    def mkfs_btrfs(self, devices: List[str], *, allocstart: Optional[int] = None, bytecount: Optional[int] = None, datatype: Optional[str] = None, leafsize: Optional[int] = None, label: Optional[str] = None, metadata: Optional[str] = None, nodesize: Optional[int] = None, sectorsize: Optional[int] = None) -> None:
        """
        mkfs_btrfs(devices: List[str], *, allocstart: Optional[int] = None, bytecount: Optional[int] = None, datatype: Optional[str] = None, leafsize: Optional[int] = None, label: Optional[str] = None, metadata: Optional[str] = None, nodesize: Optional[int] = None, sectorsize: Optional[int] = None) -> None

        create a btrfs filesystem

        Make a btrfs filesystem over the (non-empty) list of unmounted DEVICES.
        Options as mkfs.btrfs(8): bytecount:N (bytes of each device),
        datatype:.. and metadata:.. (single, dup, raid0, raid1, raid1c3,
        raid1c4, raid5, raid6, raid10), label:.., nodesize:N and sectorsize:N
        (powers of two), leafsize:N (the old name of nodesize), allocstart:N
        (ignored, as btrfs-progs no longer has it).

        Optional arguments are keywords.
        """
        ...
    def mkfs_opts(self, fstype: str, device: str, *, blocksize: Optional[int] = None, features: Optional[str] = None, inode: Optional[int] = None, sectorsize: Optional[int] = None, label: Optional[str] = None) -> None:
        """
        mkfs_opts(fstype: str, device: str, *, blocksize: Optional[int] = None, features: Optional[str] = None, inode: Optional[int] = None, sectorsize: Optional[int] = None, label: Optional[str] = None) -> None

        make a filesystem (an alias of mkfs)

        Make a filesystem of FSTYPE (ext2, ext3, ext4, xfs, vfat, btrfs, ntfs,
        swap) on a device that is not mounted. blocksize:N is the block
        (cluster) size in bytes, features:.. the ext2/3/4 features, inode:N the
        ext2/3/4 inode size, sectorsize:N the sector size, label:.. the label.

        Optional arguments are keywords.

        You can use 'mkfs-opts' as an alias for this command.
        """
        ...
    def mknod(self, mode: int, devmajor: int, devminor: int, path: str) -> None:
        """
        mknod(mode: int, devmajor: int, devminor: int, path: str) -> None

        make block, character or FIFO devices

        Create a block or character device node, FIFO or socket. MODE holds the
        type (S_IFBLK 060000, S_IFCHR 020000, S_IFIFO 010000, S_IFSOCK 0140000;
        none makes a regular file, as mknod(2)) and the permission bits, which
        the umask reduces; DEVMAJOR and DEVMINOR are used for device nodes.
        mknod-b, mknod-c and mkfifo add the type for you.
        """
        ...
    def mknod_b(self, mode: int, devmajor: int, devminor: int, path: str) -> None:
        """
        mknod_b(mode: int, devmajor: int, devminor: int, path: str) -> None

        make block device node

        Create a block device node with MODE (permission bits only) and the
        device numbers DEVMAJOR:DEVMINOR. Guest filesystems are mounted nodev:
        the node is never a way to the host's device.
        """
        ...
    def mknod_c(self, mode: int, devmajor: int, devminor: int, path: str) -> None:
        """
        mknod_c(mode: int, devmajor: int, devminor: int, path: str) -> None

        make char device node

        Create a character device node with MODE (permission bits only) and the
        device numbers DEVMAJOR:DEVMINOR.
        """
        ...
    def mkswap(self, device: str, *, label: Optional[str] = None) -> None:
        """
        mkswap(device: str, *, label: Optional[str] = None) -> None

        create a swap partition

        Make a swap area on a device, with an optional label:...

        Optional arguments are keywords.
        """
        ...
    def mkswap_L(self, label: str, device: str) -> None:
        """
        mkswap_L(label: str, device: str) -> None

        create a swap partition with a label

        Make a swap area on DEVICE with a label of at most 16 bytes (deprecated
        in libguestfs for mkswap label:..).
        """
        ...
    def mkswap_U(self, uuid: str, device: str) -> None:
        """
        mkswap_U(uuid: str, device: str) -> None

        create a swap partition with an explicit UUID

        Make a swap area on DEVICE with the given UUID (deprecated in libguestfs
        for mkswap uuid:..).
        """
        ...
    def mkswap_file(self, path: str) -> None:
        """
        mkswap_file(path: str) -> None

        create a swap file

        Write a swap signature to the existing guest file PATH (make it first,
        e.g. with fallocate). The path is resolved inside the guest (a symlink
        cannot lead out of it); it must be a regular file of at least 40 KiB.
        """
        ...
    def mktemp(self, tmpl: str, *, suffix: Optional[str] = None) -> str:
        """
        mktemp(tmpl: str, *, suffix: Optional[str] = None) -> str

        create a temporary file

        Create an empty file (mode 0600) named by TMPL with its final XXXXXX
        replaced by random characters and suffix:.. appended, and print its
        name.

        Optional arguments are keywords.
        """
        ...
    def modprobe(self, modulename: str) -> None:
        """
        modprobe(modulename: str) -> None

        load a kernel module

        Refused: it would load a module into the host's kernel (libguestfs loads
        it into its appliance's).
        """
        ...
    def mount(self, mountable: str, mountpoint: str) -> None:
        """
        mount(mountable: str, mountpoint: str) -> None

        mount a guest disk at a position in the filesystem

        Mount a filesystem at MOUNTPOINT in the guest tree (/ first). Its type
        is probed; types the kernel has no driver for (vfat, ntfs on some hosts)
        are mounted through their FUSE driver. Guest filesystems are always
        mounted nosuid,nodev.
        """
        ...
    def mount_local(self, localmountpoint: str, *, readonly: Optional[bool] = None, options: Optional[str] = None, cachetimeout: Optional[int] = None, debugcalls: Optional[bool] = None) -> None:
        """
        mount_local(localmountpoint: str, *, readonly: Optional[bool] = None, options: Optional[str] = None, cachetimeout: Optional[int] = None, debugcalls: Optional[bool] = None) -> None

        mount on the local filesystem

        Make the guest tree (what is mounted on / and under it) visible at the
        host directory LOCALMOUNTPOINT, an existing empty directory: a bind
        mount, nosuid,nodev, read-only with readonly:true, in this process's
        mount namespace (the vmcraft command's own is private: its ! commands
        see it), a copy of its own (guest mounts made later do not show in it).
        umount refuses while it is there. options:.. takes the FUSE options a
        bind mount needs none of (allow_other, allow_root, default_permissions);
        cachetimeout:N and debugcalls:true have no effect. One at a time;
        umount-local, umount-all and shutdown remove it.

        Optional arguments are keywords.
        """
        ...
    def mount_local_run(self) -> None:
        """
        mount_local_run() -> None

        run main loop of mount on the local filesystem

        Wait until the local mount mount-local made goes: umount-local from
        another thread, or an unmount from outside.
        """
        ...
    def mount_loop(self, file: str, mountpoint: str) -> None:
        """
        mount_loop(file: str, mountpoint: str) -> None

        mount a file using the loop device

        Mount a guest file holding a filesystem image at the mount point,
        through a loop device. The file is resolved inside the guest tree and
        must be a regular file; the loop device is bound to the file the session
        opened, never to a path a guest symlink could redirect. Read-only when
        the file's filesystem is mounted read-only. The loop device goes away
        when the filesystem is unmounted.
        """
        ...
    def mount_options(self, options: str, mountable: str, mountpoint: str) -> None:
        """
        mount_options(options: str, mountable: str, mountpoint: str) -> None

        mount a guest disk with mount options

        As mount, with mount options (ro,noatime,...). suid and dev are refused.
        """
        ...
    def mount_ro(self, mountable: str, mountpoint: str) -> None:
        """
        mount_ro(mountable: str, mountpoint: str) -> None

        mount a guest disk, read-only

        As mount, read-only.
        """
        ...
    def mount_vfs(self, options: str, vfstype: str, mountable: str, mountpoint: str) -> None:
        """
        mount_vfs(options: str, vfstype: str, mountable: str, mountpoint: str) -> None

        mount a guest disk with mount options and vfstype

        As mount-options, with the filesystem type given rather than probed.
        """
        ...
    def mountable_device(self, mountable: str) -> str:
        """
        mountable_device(mountable: str) -> str

        extract the device part of a mountable

        The device of a mountable: /dev/sda1 for /dev/sda1 and for
        btrfsvol:/dev/sda1/root.
        """
        ...
    def mountable_subvolume(self, mountable: str) -> str:
        """
        mountable_subvolume(mountable: str) -> str

        extract the subvolume part of a mountable

        The btrfs subvolume of a mountable: root for btrfsvol:/dev/sda1/root; an
        error when the mountable is not a subvolume.
        """
        ...
    def mountpoints(self) -> Dict[str, str]:
        """
        mountpoints() -> Dict[str, str]

        show mountpoints

        Each mounted device with its mount point, as device: mountpoint.
        """
        ...
    def mounts(self) -> List[str]:
        """
        mounts() -> List[str]

        show mounted filesystems

        The devices mounted in the guest tree, in mount order.
        """
        ...
    def mv(self, src: str, dest: str) -> None:
        """
        mv(src: str, dest: str) -> None

        move a file

        Move or rename a file or directory.
        """
        ...
    def network(self, network: bool) -> None:
        """
        network(network: bool) -> None

        set enable network flag (an alias of set_network)

        Remembered. VMCraft has no appliance and so no appliance network.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'network' as an alias for this command.
        """
        ...
    def nr_devices(self) -> int:
        """
        nr_devices() -> int

        return number of whole block devices (disks) added

        The number of drives: as many as list-devices lists (a removed drive is
        not counted).
        """
        ...
    def ntfsfix(self, device: str, *, clearbadsectors: Optional[bool] = None) -> None:
        """
        ntfsfix(device: str, *, clearbadsectors: Optional[bool] = None) -> None

        fix common errors and force Windows to check NTFS

        Repair fundamental NTFS inconsistencies on the unmounted DEVICE, reset
        its journal and mark it for a consistency check at Windows' next boot;
        clearbadsectors:true also clears the bad-sector list. Not a chkdsk.

        Optional arguments are keywords.
        """
        ...
    def ntfsresize(self, device: str, *, size: Optional[int] = None, force: Optional[bool] = None) -> None:
        """
        ntfsresize(device: str, *, size: Optional[int] = None, force: Optional[bool] = None) -> None

        resize an NTFS filesystem

        Resize the unmounted NTFS filesystem on DEVICE to size:N bytes, or to
        fill its device. The volume is then marked for a check at Windows' next
        boot; a second resize before that boot needs force:true.

        Optional arguments are keywords.
        """
        ...
    def ntfsresize_opts(self, device: str, *, size: Optional[int] = None, force: Optional[bool] = None) -> None:
        """
        ntfsresize_opts(device: str, *, size: Optional[int] = None, force: Optional[bool] = None) -> None

        resize an NTFS filesystem

        ntfsresize under its older libguestfs name, with the same optional
        arguments.

        Optional arguments are keywords.
        """
        ...
    def ntfsresize_size(self, device: str, size: int) -> None:
        """
        ntfsresize_size(device: str, size: int) -> None

        resize an NTFS filesystem (with size)

        ntfsresize to SIZE bytes (deprecated in libguestfs for ntfsresize
        size:N).
        """
        ...
    def parse_environment(self) -> None:
        """
        parse_environment() -> None

        parse the environment and set handle flags accordingly

        Read LIBGUESTFS_TRACE, LIBGUESTFS_DEBUG, LIBGUESTFS_PATH, LIBGUESTFS_HV,
        LIBGUESTFS_APPEND, LIBGUESTFS_MEMSIZE, LIBGUESTFS_BACKEND,
        LIBGUESTFS_BACKEND_SETTINGS, LIBGUESTFS_TMPDIR or TMPDIR, and
        LIBGUESTFS_CACHEDIR into the settings, as libguestfs does for a new
        handle.
        """
        ...
    def parse_environment_list(self, environment: List[str]) -> None:
        """
        parse_environment_list(environment: List[str]) -> None

        parse the environment and set handle flags accordingly

        As parse-environment, from a list of NAME=VALUE strings.
        """
        ...
    def part_add(self, device: str, prlogex: str, startsect: int, endsect: int) -> None:
        """
        part_add(device: str, prlogex: str, startsect: int, endsect: int) -> None

        add a partition to the device

        Add a partition from sector STARTSECT to sector ENDSECT, both included
        (a negative ENDSECT counts back from the end of the disk). PRLOGEX is p
        (primary), l (logical) or e (extended); GPT partitions are all primary,
        and named primary as guestfish names them. Overlapping or out-of-range
        sectors are refused and the table is left as it was.
        """
        ...
    def part_del(self, device: str, partnum: int) -> None:
        """
        part_del(device: str, partnum: int) -> None

        delete a partition

        Delete partition PARTNUM.
        """
        ...
    def part_disk(self, device: str, parttype: str) -> None:
        """
        part_disk(device: str, parttype: str) -> None

        partition whole disk with a single primary partition

        Create a new table of PARTTYPE with one partition over the whole disk.
        """
        ...
    def part_expand_gpt(self, device: str) -> None:
        """
        part_expand_gpt(device: str) -> None

        move backup GPT header to the end of the disk

        Move the backup GPT header and table to the end of a disk that has
        grown.
        """
        ...
    def part_get_bootable(self, device: str, partnum: int) -> bool:
        """
        part_get_bootable(device: str, partnum: int) -> bool

        return true if a partition is bootable

        Whether the partition has the bootable flag.
        """
        ...
    def part_get_disk_guid(self, device: str) -> str:
        """
        part_get_disk_guid(device: str) -> str

        get the GUID of a GPT-partitioned disk

        The disk GUID of a GPT table.
        """
        ...
    def part_get_gpt_attributes(self, device: str, partnum: int) -> int:
        """
        part_get_gpt_attributes(device: str, partnum: int) -> int

        get the attribute flags of a GPT partition

        The 64 attribute bits of a GPT partition.
        """
        ...
    def part_get_gpt_guid(self, device: str, partnum: int) -> str:
        """
        part_get_gpt_guid(device: str, partnum: int) -> str

        get the GUID of a GPT partition

        The unique GUID of a GPT partition.
        """
        ...
    def part_get_gpt_type(self, device: str, partnum: int) -> str:
        """
        part_get_gpt_type(device: str, partnum: int) -> str

        get the type GUID of a GPT partition

        The partition type GUID of a GPT partition, upper-case.
        """
        ...
    def part_get_mbr_id(self, device: str, partnum: int) -> int:
        """
        part_get_mbr_id(device: str, partnum: int) -> int

        get the MBR type byte (ID byte) from a partition

        The type byte of an MBR partition, in hex.
        """
        ...
    def part_get_mbr_part_type(self, device: str, partnum: int) -> str:
        """
        part_get_mbr_part_type(device: str, partnum: int) -> str

        get the MBR partition type

        primary, extended or logical.
        """
        ...
    def part_get_name(self, device: str, partnum: int) -> str:
        """
        part_get_name(device: str, partnum: int) -> str

        get partition name

        The name of a GPT partition.
        """
        ...
    def part_get_parttype(self, device: str) -> str:
        """
        part_get_parttype(device: str) -> str

        get the partition table type

        gpt or msdos.
        """
        ...
    def part_init(self, device: str, parttype: str) -> None:
        """
        part_init(device: str, parttype: str) -> None

        create an empty partition table

        Create a new, empty partition table on a drive: gpt (or efi) or msdos
        (or mbr). Whatever table was there is replaced.
        """
        ...
    def part_list(self, device: str) -> List[Dict[str, Any]]:
        """
        part_list(device: str) -> List[Dict[str, Any]]

        list partitions on a device

        The partitions of a drive: number, first byte, last byte (included) and
        size in bytes.
        """
        ...
    def part_resize(self, device: str, partnum: int, endsect: int) -> None:
        """
        part_resize(device: str, partnum: int, endsect: int) -> None

        resize a partition

        Move the end of partition PARTNUM to sector ENDSECT (the start stays).
        """
        ...
    def part_set_bootable(self, device: str, partnum: int, bootable: bool) -> None:
        """
        part_set_bootable(device: str, partnum: int, bootable: bool) -> None

        make a partition bootable

        Set or clear the bootable flag of a partition.
        """
        ...
    def part_set_disk_guid(self, device: str, guid: str) -> None:
        """
        part_set_disk_guid(device: str, guid: str) -> None

        set the GUID of a GPT-partitioned disk

        Set the disk GUID of a GPT table.
        """
        ...
    def part_set_disk_guid_random(self, device: str) -> None:
        """
        part_set_disk_guid_random(device: str) -> None

        set the GUID of a GPT-partitioned disk to random value

        Give a GPT table a new random disk GUID.
        """
        ...
    def part_set_gpt_attributes(self, device: str, partnum: int, attributes: int) -> None:
        """
        part_set_gpt_attributes(device: str, partnum: int, attributes: int) -> None

        set the attribute flags of a GPT partition

        Set the 64 attribute bits of a GPT partition.
        """
        ...
    def part_set_gpt_guid(self, device: str, partnum: int, guid: str) -> None:
        """
        part_set_gpt_guid(device: str, partnum: int, guid: str) -> None

        set the GUID of a GPT partition

        Set the unique GUID of a GPT partition.
        """
        ...
    def part_set_gpt_type(self, device: str, partnum: int, guid: str) -> None:
        """
        part_set_gpt_type(device: str, partnum: int, guid: str) -> None

        set the type GUID of a GPT partition

        Set the partition type GUID of a GPT partition.
        """
        ...
    def part_set_mbr_id(self, device: str, partnum: int, idbyte: int) -> None:
        """
        part_set_mbr_id(device: str, partnum: int, idbyte: int) -> None

        set the MBR type byte (ID byte) of a partition

        Set the type byte of an MBR partition (0x83 Linux, 0x8e LVM, 0x07 NTFS,
        ...).
        """
        ...
    def part_set_name(self, device: str, partnum: int, name: str) -> None:
        """
        part_set_name(device: str, partnum: int, name: str) -> None

        set partition name

        Set the name of a GPT partition.
        """
        ...
    def part_to_dev(self, partition: str) -> str:
        """
        part_to_dev(partition: str) -> str

        convert partition name to device name

        The drive a partition is on (/dev/sda1 gives /dev/sda).
        """
        ...
    def part_to_partnum(self, partition: str) -> int:
        """
        part_to_partnum(partition: str) -> int

        convert partition name to partition number

        A partition's number (/dev/sda1 gives 1).
        """
        ...
    def path(self, searchpath: Optional[str]) -> None:
        """
        path(searchpath: Optional[str]) -> None

        set the search path (an alias of set_path)

        Remembered. VMCraft has no appliance to search for.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'path' as an alias for this command.
        """
        ...
    def pgroup(self, pgroup: bool) -> None:
        """
        pgroup(pgroup: bool) -> None

        set process group flag (an alias of set_pgroup)

        Remembered. The tools VMCraft runs are in process groups of their own
        whatever this says.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'pgroup' as an alias for this command.
        """
        ...
    def pid(self) -> int:
        """
        pid() -> int

        get PID of hypervisor (an alias of get_pid)

        Always an error: no hypervisor runs, as libguestfs answers when none
        does.

        You can use 'pid' as an alias for this command.
        """
        ...
    def ping_daemon(self) -> None:
        """
        ping_daemon() -> None

        ping the guest daemon

        Succeeds when the session is launched. VMCraft has no daemon: this is
        how scripts check that the session is usable.
        """
        ...
    def pread(self, path: str, count: int, offset: int) -> bytes:
        """
        pread(path: str, count: int, offset: int) -> bytes

        read part of a file

        Read up to COUNT bytes of a regular file from OFFSET, written out as
        they are; like pread(2) it may read fewer (none at the end). COUNT must
        be below 4 MiB, libguestfs's message limit: use download-offset for
        more.
        """
        ...
    def pread_device(self, device: str, count: int, offset: int) -> bytes:
        """
        pread_device(device: str, count: int, offset: int) -> bytes

        read part of a device

        Read up to COUNT bytes of a device from OFFSET (COUNT below 4 MiB).
        """
        ...
    def program(self, program: str) -> None:
        """
        program(program: str) -> None

        set the program name (an alias of set_program)

        Remembered: the program name (the executable's name by default).

        You can use 'program' as an alias for this command.
        """
        ...
    def pvchange_uuid(self, device: str) -> None:
        """
        pvchange_uuid(device: str) -> None

        generate a new random UUID for a physical volume

        Give the physical volume on the device a new random UUID.
        """
        ...
    def pvchange_uuid_all(self) -> None:
        """
        pvchange_uuid_all() -> None

        generate new random UUIDs for all physical volumes

        Give every physical volume of the session a new random UUID.
        """
        ...
    def pvremove(self, device: str) -> None:
        """
        pvremove(device: str) -> None

        remove an LVM physical volume

        Remove the physical volume label from a device.
        """
        ...
    def pvresize(self, device: str) -> None:
        """
        pvresize(device: str) -> None

        resize an LVM physical volume

        Resize the physical volume to the size of its device (after the
        partition or disk under it grew or shrank).
        """
        ...
    def pvresize_size(self, device: str, size: int) -> None:
        """
        pvresize_size(device: str, size: int) -> None

        resize an LVM physical volume (with size)

        Resize the physical volume to SIZE bytes, at most the device's size;
        lvm2 refuses to cut into allocated extents.
        """
        ...
    def pvs(self) -> List[str]:
        """
        pvs() -> List[str]

        list the LVM physical volumes (PVs)

        The physical volumes, by device name.
        """
        ...
    def pvs_full(self) -> List[Dict[str, Any]]:
        """
        pvs_full() -> List[Dict[str, Any]]

        list the LVM physical volumes (PVs)

        Every field lvm2 reports for each physical volume.
        """
        ...
    def pvuuid(self, device: str) -> str:
        """
        pvuuid(device: str) -> str

        get the UUID of a physical volume

        The UUID of the physical volume on a device (32 characters, no dashes).
        """
        ...
    def pwrite(self, path: str, content: Union[bytes, str], offset: int) -> int:
        """
        pwrite(path: str, content: Union[bytes, str], offset: int) -> int

        write to part of a file

        Write CONTENT into an existing regular file at OFFSET; prints the number
        of bytes written, as pwrite(2).
        """
        ...
    def pwrite_device(self, device: str, content: Union[bytes, str], offset: int) -> int:
        """
        pwrite_device(device: str, content: Union[bytes, str], offset: int) -> int

        write to part of a device

        Write CONTENT to a device at OFFSET; prints the number of bytes written.
        Refused on a read-only drive.
        """
        ...
    def qemu(self, hv: Optional[str]) -> None:
        """
        qemu(hv: Optional[str]) -> None

        set the hypervisor binary (usually qemu) (an alias of set_qemu)

        The old name of set-hv; an empty string restores the default.
        Remembered, no effect.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'qemu' as an alias for this command.
        """
        ...
    def read_file(self, path: str) -> bytes:
        """
        read_file(path: str) -> bytes

        read a file

        The content of a file, written out byte for byte.
        """
        ...
    def read_lines(self, path: str) -> List[str]:
        """
        read_lines(path: str) -> List[str]

        read file as lines

        The lines of a text file, without their line endings.
        """
        ...
    def readdir(self, dir: str) -> List[Dict[str, Any]]:
        """
        readdir(dir: str) -> List[Dict[str, Any]]

        read directories entries

        Every entry of a directory, . and .. included, unsorted, with its inode
        number and type: b block device, c char device, d directory, f FIFO, l
        symbolic link, r regular file, s socket, u unknown.
        """
        ...
    def readlink(self, path: str) -> str:
        """
        readlink(path: str) -> str

        read the target of a symbolic link

        The target of a symbolic link.
        """
        ...
    def readlinklist(self, path: str, names: List[str]) -> List[str]:
        """
        readlinklist(path: str, names: List[str]) -> List[str]

        readlink on multiple files

        The target of each symlink NAMES in directory PATH, in order; an empty
        string for a name that is not a symlink. Names are single components.
        """
        ...
    def realpath(self, path: str) -> str:
        """
        realpath(path: str) -> str

        canonicalized absolute pathname

        The canonical absolute path: every symlink, ., .. and repeated /
        resolved, inside the guest (an absolute symlink is taken from the
        guest's root, and .. stops there). The path must exist.
        """
        ...
    def recovery_proc(self, recoveryproc: bool) -> None:
        """
        recovery_proc(recoveryproc: bool) -> None

        enable or disable the recovery process (an alias of set_recovery_proc)

        Remembered. Every process a VMCraft session starts dies with it whatever
        this says (libguestfs's recovery process kills its appliance when the
        program dies).

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'recovery-proc' as an alias for this command.
        """
        ...
    def remount(self, mountpoint: str, *, rw: Optional[bool] = None) -> None:
        """
        remount(mountpoint: str, *, rw: Optional[bool] = None) -> None

        remount a filesystem with different options

        Switch the filesystem mounted at the mount point between read-only
        (rw:false) and read-write (rw:true); rw must be given. The other options
        it was mounted with, nosuid and nodev included, are kept. Read-write is
        refused for a drive added read-only; a FUSE mount cannot be remounted.

        Optional arguments are keywords.
        """
        ...
    def remove_drive(self, label: str) -> None:
        """
        remove_drive(label: str) -> None

        remove a disk image

        Remove the drive added with label:LABEL (see add-drive); a drive added
        without a label cannot be removed, and an unknown label is an error.

        Before launch the drive is never attached and the drives added after it
        move up (/dev/sdc becomes /dev/sdb), as in libguestfs.

        After launch the drive is detached, as libguestfs once did by
        hot-unplugging it: the other drives keep their names (/dev/sdc stays
        /dev/sdc when /dev/sdb goes), and the removed drive and its partitions
        are no devices any more. It is refused, with nothing changed, while
        anything uses it: a filesystem on it mounted (also through mount-loop of
        a file on it), a mounted logical volume with its physical volume on it,
        an active volume group, swap or any other device stacked on it. What was
        cached about it is forgotten, and the session's crash-cleanup record no
        longer names it.
        """
        ...
    def removexattr(self, xattr: str, path: str) -> None:
        """
        removexattr(xattr: str, path: str) -> None

        remove extended attribute of a file or directory

        Remove the extended attribute XATTR of PATH, following symbolic links.
        """
        ...
    def rename(self, oldpath: str, newpath: str) -> None:
        """
        rename(oldpath: str, newpath: str) -> None

        rename a file on the same filesystem

        Rename a file to a new place on the same filesystem, as rename(2)
        (neither final name followed). mv also moves across filesystems.
        """
        ...
    def resize2fs(self, device: str) -> None:
        """
        resize2fs(device: str) -> None

        resize an ext2, ext3 or ext4 filesystem

        Grow (or shrink) an unmounted ext2/3/4 filesystem to fill its device.
        The filesystem is not checked here: one mounted since its last check is
        refused until e2fsck-f (or e2fsck correct:true or forceall:true) has
        run.
        """
        ...
    def resize2fs_M(self, device: str) -> None:
        """
        resize2fs_M(device: str) -> None

        resize an ext2, ext3 or ext4 filesystem to the minimum size

        Shrink the unmounted ext2/3/4 filesystem on DEVICE to its minimum size
        (resize2fs -M); Block count times Block size from tune2fs-l is the
        result. As resize2fs, the filesystem is not checked here: one mounted
        since its last check is refused until e2fsck-f has run.
        """
        ...
    def resize2fs_size(self, device: str, size: int) -> None:
        """
        resize2fs_size(device: str, size: int) -> None

        resize an ext2, ext3 or ext4 filesystem (with size)

        Resize the unmounted ext2/3/4 filesystem on DEVICE to SIZE bytes, a
        positive multiple of 1024; otherwise as resize2fs-M.
        """
        ...
    def rm(self, path: str) -> None:
        """
        rm(path: str) -> None

        remove a file

        Remove a file.
        """
        ...
    def rm_f(self, path: str) -> None:
        """
        rm_f(path: str) -> None

        remove a file ignoring errors

        Remove a file if it exists.
        """
        ...
    def rm_rf(self, path: str) -> None:
        """
        rm_rf(path: str) -> None

        remove a file or directory recursively

        Remove a tree; nothing there is not an error.
        """
        ...
    def rmdir(self, path: str) -> None:
        """
        rmdir(path: str) -> None

        remove a directory

        Remove an empty directory.
        """
        ...
    def run(self) -> None:
        """
        run() -> None

        launch the session (an alias of launch)

        Attach every drive added, so that the other commands can be used.
        Scripts written for guestfish start with run. As in guestfish, a session
        launches once: after -i, -m or -N (which launch it) or a first run, run
        is an error.

        You can use 'run' as an alias for this command.
        """
        ...
    def scratch(self, size: int, *, label: Optional[str] = None) -> None:
        """
        scratch(size: int, *, label: Optional[str] = None) -> None

        add a temporary scratch drive (an alias of add_drive_scratch)

        Add a new, empty, sparse raw drive of SIZE bytes: a private file in the
        temporary directory, removed when the session shuts down. label:NAME
        gives it a label as add-drive does (1 to 20 ASCII letters, unique), for
        list-disk-labels and remove-drive. libguestfs's name and blocksize are
        not taken.

        Optional arguments are keywords.

        You can use 'scratch' as an alias for this command.
        """
        ...
    def selinux(self, selinux: bool) -> None:
        """
        selinux(selinux: bool) -> None

        set SELinux enabled or disabled at appliance boot (an alias of set_selinux)

        Remembered. There is no appliance to boot with SELinux.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'selinux' as an alias for this command.
        """
        ...
    def selinux_relabel(self, specfile: str, path: str, *, force: Optional[bool] = None) -> None:
        """
        selinux_relabel(specfile: str, path: str, *, force: Optional[bool] = None) -> None

        relabel parts of the filesystem

        Set the SELinux labels of PATH and everything under it from the guest
        policy's file contexts SPECFILE (a guest path, such as
        /etc/selinux/targeted/contexts/files/file_contexts), excluding /dev,
        /proc, /selinux and /sys. With force:true every label is reset (setfiles
        -F), not only wrong ones.

        The guest's own setfiles decides the labels in the sandbox without
        changing anything (setfiles -n -v); VMCraft then writes each
        security.selinux attribute itself, inside the guest tree, so that the
        guest program never needs CAP_SYS_ADMIN (which writing the attribute
        takes on a host without SELinux).

        The program runs in a sandbox (bubblewrap): its root is the guest tree
        mounted on / (and what is mounted under it), with a fresh /dev holding
        the session's disks under their libguestfs names, a fresh /proc, no
        /sys, its own PID, network (loopback only), IPC and UTS namespaces, no
        new privileges, a reduced set of capabilities and a seccomp filter (no
        mounting, module loading, kexec, bpf, perf, reboot, swap, keyrings,
        ptrace). It runs as root with PATH set to the usual directories, no
        standard input, and the limits of the backend settings command_timeout
        (seconds, default 600), command_output_max (bytes, default 4 MiB),
        command_memory_max and command_pids_max; past the timeout the whole
        sandbox is killed.

        A guest whose /bin/sh is a binary for another machine than the host's is
        refused. What the program changes in the guest is written to the image;
        cached partition lists, probes and inspection results are forgotten
        afterwards.

        Optional arguments are keywords.
        """
        ...
    def set_append(self, append: Optional[str]) -> None:
        """
        set_append(append: Optional[str]) -> None

        add options to kernel command line

        Remembered. VMCraft boots no appliance kernel.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'append' as an alias for this command.
        """
        ...
    def set_attach_method(self, backend: str) -> None:
        """
        set_attach_method(backend: str) -> None

        set the backend

        The old name of set-backend. Remembered, no effect.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'attach-method' as an alias for this command.
        """
        ...
    def set_autosync(self, autosync: bool) -> None:
        """
        set_autosync(autosync: bool) -> None

        set autosync mode

        Remembered. VMCraft always writes out what it changed when the session
        shuts down, whatever this says; libguestfs syncs on close when it is
        true (the default).

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'autosync' as an alias for this command.
        """
        ...
    def set_backend(self, backend: str) -> None:
        """
        set_backend(backend: str) -> None

        set the backend

        Remembered. VMCraft attaches images itself (loop devices,
        qemu-storage-daemon, kernel NBD) whatever this says.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'backend' as an alias for this command.
        """
        ...
    def set_backend_setting(self, name: str, val: str) -> None:
        """
        set_backend_setting(name: str, val: str) -> None

        set a single per-backend settings string

        Set NAME=VAL among the backend settings, replacing an earlier NAME.
        Remembered, no effect.

        VMCraft has no appliance: the value is remembered and has no effect.
        """
        ...
    def set_backend_settings(self, settings: List[str]) -> None:
        """
        set_backend_settings(settings: List[str]) -> None

        replace per-backend settings strings

        Remembered. VMCraft has no backend to configure.

        VMCraft has no appliance: the value is remembered and has no effect.
        """
        ...
    def set_cachedir(self, cachedir: Optional[str]) -> None:
        """
        set_cachedir(cachedir: Optional[str]) -> None

        set the appliance cache directory

        Remembered. VMCraft has no appliance to cache.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'cachedir' as an alias for this command.
        """
        ...
    def set_direct(self, direct: bool) -> None:
        """
        set_direct(direct: bool) -> None

        enable or disable direct appliance mode

        Remembered. There is no appliance console to connect to.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'direct' as an alias for this command.
        """
        ...
    def set_e2generation(self, file: str, generation: int) -> None:
        """
        set_e2generation(file: str, generation: int) -> None

        set ext2 file generation of a file

        Set the generation number of a regular file or directory on ext2/3/4 (0
        to 2^32-1). ext4 with metadata checksums (mke2fs's default) refuses it,
        as it refuses chattr -v.
        """
        ...
    def set_e2label(self, device: str, label: str) -> None:
        """
        set_e2label(device: str, label: str) -> None

        set the ext2/3/4 filesystem label

        Set the label of the ext2/3/4 filesystem on DEVICE (at most 16 bytes;
        deprecated in libguestfs for set-label). Another type is refused.
        """
        ...
    def set_e2uuid(self, device: str, uuid: str) -> None:
        """
        set_e2uuid(device: str, uuid: str) -> None

        set the ext2/3/4 filesystem UUID

        Set the UUID of the ext2/3/4 filesystem on DEVICE: a textual UUID, or
        tune2fs's clear, random or time (deprecated in libguestfs for set-uuid).
        Another type is refused.
        """
        ...
    def set_hv(self, hv: str) -> None:
        """
        set_hv(hv: str) -> None

        set the hypervisor binary

        Remembered. VMCraft runs no hypervisor.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'hv' as an alias for this command.
        """
        ...
    def set_identifier(self, identifier: str) -> None:
        """
        set_identifier(identifier: str) -> None

        set the handle identifier

        The handle's identifier (letters, digits, _ and -), which traces are
        prefixed with.

        You can use 'identifier' as an alias for this command.
        """
        ...
    def set_label(self, mountable: str, label: str) -> None:
        """
        set_label(mountable: str, label: str) -> None

        set filesystem label

        Set the label of the filesystem on MOUNTABLE, by its type: ext2/3/4 (16
        bytes), vfat (11 bytes), NTFS (128 characters), XFS (12 bytes, not ---),
        btrfs (255 bytes), swap (16 bytes). Other types are refused as
        unsupported. The filesystem must be unmounted and its drive writable;
        vfs-label shows the new label at once.
        """
        ...
    def set_libvirt_requested_credential(self, index: int, cred: Union[bytes, str]) -> None:
        """
        set_libvirt_requested_credential(index: int, cred: Union[bytes, str]) -> None

        pass requested credential back to libvirt

        An error: no credential was requested (VMCraft does not use libvirt).
        """
        ...
    def set_libvirt_supported_credentials(self, creds: List[str]) -> None:
        """
        set_libvirt_supported_credentials(creds: List[str]) -> None

        set libvirt credentials supported by calling program

        Checked and accepted: VMCraft does not use libvirt, so none is ever
        requested.

        VMCraft has no appliance: the value is remembered and has no effect.
        """
        ...
    def set_memsize(self, memsize: int) -> None:
        """
        set_memsize(memsize: int) -> None

        set memory allocated to the hypervisor

        Remembered (in MiB, at least 128). VMCraft has no appliance to give
        memory to.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'memsize' as an alias for this command.
        """
        ...
    def set_network(self, network: bool) -> None:
        """
        set_network(network: bool) -> None

        set enable network flag

        Remembered. VMCraft has no appliance and so no appliance network.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'network' as an alias for this command.
        """
        ...
    def set_path(self, searchpath: Optional[str]) -> None:
        """
        set_path(searchpath: Optional[str]) -> None

        set the search path

        Remembered. VMCraft has no appliance to search for.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'path' as an alias for this command.
        """
        ...
    def set_pgroup(self, pgroup: bool) -> None:
        """
        set_pgroup(pgroup: bool) -> None

        set process group flag

        Remembered. The tools VMCraft runs are in process groups of their own
        whatever this says.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'pgroup' as an alias for this command.
        """
        ...
    def set_program(self, program: str) -> None:
        """
        set_program(program: str) -> None

        set the program name

        Remembered: the program name (the executable's name by default).

        You can use 'program' as an alias for this command.
        """
        ...
    def set_qemu(self, hv: Optional[str]) -> None:
        """
        set_qemu(hv: Optional[str]) -> None

        set the hypervisor binary (usually qemu)

        The old name of set-hv; an empty string restores the default.
        Remembered, no effect.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'qemu' as an alias for this command.
        """
        ...
    def set_recovery_proc(self, recoveryproc: bool) -> None:
        """
        set_recovery_proc(recoveryproc: bool) -> None

        enable or disable the recovery process

        Remembered. Every process a VMCraft session starts dies with it whatever
        this says (libguestfs's recovery process kills its appliance when the
        program dies).

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'recovery-proc' as an alias for this command.
        """
        ...
    def set_selinux(self, selinux: bool) -> None:
        """
        set_selinux(selinux: bool) -> None

        set SELinux enabled or disabled at appliance boot

        Remembered. There is no appliance to boot with SELinux.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'selinux' as an alias for this command.
        """
        ...
    def set_smp(self, smp: int) -> None:
        """
        set_smp(smp: int) -> None

        set number of virtual CPUs in appliance

        Remembered (at least 1). VMCraft has no appliance to give CPUs to.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'smp' as an alias for this command.
        """
        ...
    def set_tmpdir(self, tmpdir: Optional[str]) -> None:
        """
        set_tmpdir(tmpdir: Optional[str]) -> None

        set the temporary directory

        Where the next launch makes the session's private directory (its mounts,
        its state file). An empty string restores the default: the configured
        one, else $TMPDIR, else /tmp. Only before launch.

        You can use 'tmpdir' as an alias for this command.
        """
        ...
    def set_trace(self, trace: bool) -> None:
        """
        set_trace(trace: bool) -> None

        enable or disable command traces

        Trace every call made through the call table on standard error: its name
        and arguments before it runs, its result after (vmcraft: trace: CALL
        ARGS and vmcraft: trace: CALL = RESULT), prefixed with the identifier
        when one is set.

        You can use 'trace' as an alias for this command.
        """
        ...
    def set_uuid(self, device: str, uuid: str) -> None:
        """
        set_uuid(device: str, uuid: str) -> None

        set the filesystem UUID

        Set the UUID of the filesystem on DEVICE, by its type: ext2/3/4, XFS,
        btrfs and swap take a textual UUID (not the tools' magic words such as
        random or generate), vfat its volume id (XXXX-XXXX), NTFS its serial
        number (16 hex digits). Other types are refused as unsupported. The
        filesystem must be unmounted and its drive writable.
        """
        ...
    def set_uuid_random(self, device: str) -> None:
        """
        set_uuid_random(device: str) -> None

        set a random UUID for the filesystem

        Give the filesystem on DEVICE a new random UUID (volume id for vfat,
        serial number for NTFS); the types of set-uuid.
        """
        ...
    def set_verbose(self, verbose: bool) -> None:
        """
        set_verbose(verbose: bool) -> None

        set verbose mode

        Remembered. What VMCraft logs is set by -v and RUST_LOG.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'verbose' as an alias for this command.
        """
        ...
    def setxattr(self, xattr: str, val: str, vallen: int, path: str) -> None:
        """
        setxattr(xattr: str, val: str, vallen: int, path: str) -> None

        set extended attribute of a file or directory

        Set the extended attribute XATTR of PATH (following symbolic links) to
        the first VALLEN bytes of VAL.
        """
        ...
    def sh(self, command: str) -> str:
        """
        sh(command: str) -> str

        run a command via the shell

        Run COMMAND with the guest's /bin/sh -c and return its standard output;
        otherwise as command.

        The program runs in a sandbox (bubblewrap): its root is the guest tree
        mounted on / (and what is mounted under it), with a fresh /dev holding
        the session's disks under their libguestfs names, a fresh /proc, no
        /sys, its own PID, network (loopback only), IPC and UTS namespaces, no
        new privileges, a reduced set of capabilities and a seccomp filter (no
        mounting, module loading, kexec, bpf, perf, reboot, swap, keyrings,
        ptrace). It runs as root with PATH set to the usual directories, no
        standard input, and the limits of the backend settings command_timeout
        (seconds, default 600), command_output_max (bytes, default 4 MiB),
        command_memory_max and command_pids_max; past the timeout the whole
        sandbox is killed.

        A guest whose /bin/sh is a binary for another machine than the host's is
        refused. What the program changes in the guest is written to the image;
        cached partition lists, probes and inspection results are forgotten
        afterwards.
        """
        ...
    def sh_lines(self, command: str) -> List[str]:
        """
        sh_lines(command: str) -> List[str]

        run a command via the shell returning lines

        As sh, with the output split into lines.

        The program runs in a sandbox (bubblewrap): its root is the guest tree
        mounted on / (and what is mounted under it), with a fresh /dev holding
        the session's disks under their libguestfs names, a fresh /proc, no
        /sys, its own PID, network (loopback only), IPC and UTS namespaces, no
        new privileges, a reduced set of capabilities and a seccomp filter (no
        mounting, module loading, kexec, bpf, perf, reboot, swap, keyrings,
        ptrace). It runs as root with PATH set to the usual directories, no
        standard input, and the limits of the backend settings command_timeout
        (seconds, default 600), command_output_max (bytes, default 4 MiB),
        command_memory_max and command_pids_max; past the timeout the whole
        sandbox is killed.

        A guest whose /bin/sh is a binary for another machine than the host's is
        refused. What the program changes in the guest is written to the image;
        cached partition lists, probes and inspection results are forgotten
        afterwards.
        """
        ...
    def shutdown(self) -> None:
        """
        shutdown() -> None

        shut the session down

        Unmount everything (deepest first), close Augeas and LVM, and detach
        every drive. The session cannot be used afterwards. This also happens at
        the end of every script, on errors and on Ctrl-C.
        """
        ...
    def sleep(self, secs: int) -> None:
        """
        sleep(secs: int) -> None

        sleep for some seconds

        Sleep SECS seconds (a cancel stops it).
        """
        ...
    def smp(self, smp: int) -> None:
        """
        smp(smp: int) -> None

        set number of virtual CPUs in appliance (an alias of set_smp)

        Remembered (at least 1). VMCraft has no appliance to give CPUs to.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'smp' as an alias for this command.
        """
        ...
    def stat(self, path: str) -> Dict[str, Any]:
        """
        stat(path: str) -> Dict[str, Any]

        get file information

        The status of a path, following symbolic links.
        """
        ...
    def statns(self, path: str) -> Dict[str, Any]:
        """
        statns(path: str) -> Dict[str, Any]

        get file information

        A file's status, following symlinks inside the guest, with nanosecond
        times (the statns struct: st_dev, st_ino, st_mode, ..., st_ctime_nsec,
        and spare fields).
        """
        ...
    def statvfs(self, path: str) -> Dict[str, Any]:
        """
        statvfs(path: str) -> Dict[str, Any]

        get file system statistics

        The status of the filesystem holding a path.
        """
        ...
    def strings(self, path: str) -> List[str]:
        """
        strings(path: str) -> List[str]

        print the printable strings in a file

        The runs of at least 4 printable characters in a file, one a line, as
        strings -a finds them.
        """
        ...
    def strings_e(self, encoding: str, path: str) -> List[str]:
        """
        strings_e(encoding: str, path: str) -> List[str]

        print the printable strings in a file

        As strings, with the character encoding of strings -e: s 7-bit bytes
        (the default), S 8-bit bytes, b and l 16-bit big and little endian (l
        for the UTF-16 strings of Windows binaries), B and L 32-bit big and
        little endian.
        """
        ...
    def swapoff_device(self, device: str) -> None:
        """
        swapoff_device(device: str) -> None

        disable swap on device (refused)

        Refused: libguestfs lets its appliance swap on guest storage; VMCraft
        has no appliance and runs on the host, where this would make the host
        kernel swap onto (or stop swapping onto) a guest disk, leaking host
        memory into the image. The call fails with an unsupported error and
        changes nothing.
        """
        ...
    def swapoff_file(self, file: str) -> None:
        """
        swapoff_file(file: str) -> None

        disable swap on file (refused)

        Refused: libguestfs lets its appliance swap on guest storage; VMCraft
        has no appliance and runs on the host, where this would make the host
        kernel swap onto (or stop swapping onto) a guest disk, leaking host
        memory into the image. The call fails with an unsupported error and
        changes nothing.
        """
        ...
    def swapoff_label(self, label: str) -> None:
        """
        swapoff_label(label: str) -> None

        disable swap on labeled swap partition (refused)

        Refused: libguestfs lets its appliance swap on guest storage; VMCraft
        has no appliance and runs on the host, where this would make the host
        kernel swap onto (or stop swapping onto) a guest disk, leaking host
        memory into the image. The call fails with an unsupported error and
        changes nothing.
        """
        ...
    def swapoff_uuid(self, uuid: str) -> None:
        """
        swapoff_uuid(uuid: str) -> None

        disable swap on swap partition by UUID (refused)

        Refused: libguestfs lets its appliance swap on guest storage; VMCraft
        has no appliance and runs on the host, where this would make the host
        kernel swap onto (or stop swapping onto) a guest disk, leaking host
        memory into the image. The call fails with an unsupported error and
        changes nothing.
        """
        ...
    def swapon_device(self, device: str) -> None:
        """
        swapon_device(device: str) -> None

        enable swap on device (refused)

        Refused: libguestfs lets its appliance swap on guest storage; VMCraft
        has no appliance and runs on the host, where this would make the host
        kernel swap onto (or stop swapping onto) a guest disk, leaking host
        memory into the image. The call fails with an unsupported error and
        changes nothing.
        """
        ...
    def swapon_file(self, file: str) -> None:
        """
        swapon_file(file: str) -> None

        enable swap on file (refused)

        Refused: libguestfs lets its appliance swap on guest storage; VMCraft
        has no appliance and runs on the host, where this would make the host
        kernel swap onto (or stop swapping onto) a guest disk, leaking host
        memory into the image. The call fails with an unsupported error and
        changes nothing.
        """
        ...
    def swapon_label(self, label: str) -> None:
        """
        swapon_label(label: str) -> None

        enable swap on labeled swap partition (refused)

        Refused: libguestfs lets its appliance swap on guest storage; VMCraft
        has no appliance and runs on the host, where this would make the host
        kernel swap onto (or stop swapping onto) a guest disk, leaking host
        memory into the image. The call fails with an unsupported error and
        changes nothing.
        """
        ...
    def swapon_uuid(self, uuid: str) -> None:
        """
        swapon_uuid(uuid: str) -> None

        enable swap on swap partition by UUID (refused)

        Refused: libguestfs lets its appliance swap on guest storage; VMCraft
        has no appliance and runs on the host, where this would make the host
        kernel swap onto (or stop swapping onto) a guest disk, leaking host
        memory into the image. The call fails with an unsupported error and
        changes nothing.
        """
        ...
    def sync(self) -> None:
        """
        sync() -> None

        sync disks, writes are flushed through to the disk image

        Write out what the session's mounted filesystems hold (syncfs) and flush
        its drives. Other filesystems of the host are not touched.
        """
        ...
    def tail(self, path: str) -> List[str]:
        """
        tail(path: str) -> List[str]

        return last 10 lines of a file

        The last 10 lines of a file, without their newlines.
        """
        ...
    def tail_n(self, nrlines: int, path: str) -> List[str]:
        """
        tail_n(nrlines: int, path: str) -> List[str]

        return last N lines of a file

        The last NRLINES lines of a file. A negative NRLINES gives the lines
        from line number -NRLINES on (tail -n +N); zero gives none.
        """
        ...
    def tgz_in(self, tarball: Union[str, os.PathLike[str]], directory: str) -> None:
        """
        tgz_in(tarball: Union[str, os.PathLike[str]], directory: str) -> None

        unpack compressed tarball to directory

        tar-in of a gzip-compressed tarball.

        Use "-" instead of a filename for standard input/output.
        """
        ...
    def tgz_out(self, directory: str, tarball: Union[str, os.PathLike[str]]) -> None:
        """
        tgz_out(directory: str, tarball: Union[str, os.PathLike[str]]) -> None

        pack directory into compressed tarball

        tar-out to a gzip-compressed tarball.

        Use "-" instead of a filename for standard input/output.
        """
        ...
    def tmpdir(self, tmpdir: Optional[str]) -> None:
        """
        tmpdir(tmpdir: Optional[str]) -> None

        set the temporary directory (an alias of set_tmpdir)

        Where the next launch makes the session's private directory (its mounts,
        its state file). An empty string restores the default: the configured
        one, else $TMPDIR, else /tmp. Only before launch.

        You can use 'tmpdir' as an alias for this command.
        """
        ...
    def touch(self, path: str) -> None:
        """
        touch(path: str) -> None

        update file timestamps or create a new file

        Create an empty file, or update the times of an existing one.
        """
        ...
    def trace(self, trace: bool) -> None:
        """
        trace(trace: bool) -> None

        enable or disable command traces (an alias of set_trace)

        Trace every call made through the call table on standard error: its name
        and arguments before it runs, its result after (vmcraft: trace: CALL
        ARGS and vmcraft: trace: CALL = RESULT), prefixed with the identifier
        when one is set.

        You can use 'trace' as an alias for this command.
        """
        ...
    def truncate(self, path: str) -> None:
        """
        truncate(path: str) -> None

        truncate a file to zero size

        Truncate an existing regular file to zero bytes.
        """
        ...
    def truncate_size(self, path: str, size: int) -> None:
        """
        truncate_size(path: str, size: int) -> None

        truncate a file to a particular size

        Truncate an existing regular file to SIZE bytes; a larger size extends
        it sparsely with zero bytes.
        """
        ...
    def tune2fs(self, device: str, *, force: Optional[bool] = None, maxmountcount: Optional[int] = None, mountcount: Optional[int] = None, errorbehavior: Optional[str] = None, group: Optional[int] = None, intervalbetweenchecks: Optional[int] = None, reservedblockspercentage: Optional[int] = None, lastmounteddirectory: Optional[str] = None, reservedblockscount: Optional[int] = None, user: Optional[int] = None) -> None:
        """
        tune2fs(device: str, *, force: Optional[bool] = None, maxmountcount: Optional[int] = None, mountcount: Optional[int] = None, errorbehavior: Optional[str] = None, group: Optional[int] = None, intervalbetweenchecks: Optional[int] = None, reservedblockspercentage: Optional[int] = None, lastmounteddirectory: Optional[str] = None, reservedblockscount: Optional[int] = None, user: Optional[int] = None) -> None

        adjust ext2/ext3/ext4 filesystem parameters

        Adjust parameters of the unmounted ext2/3/4 filesystem on DEVICE, each
        as the tune2fs option beside it: force:true (-f), maxmountcount:N (-c, 0
        disregards the count), mountcount:N (-C),
        errorbehavior:continue|remount-ro|panic (-e), group:GID (-g),
        intervalbetweenchecks:SECONDS (-i, 0 disables),
        reservedblockspercentage:N (-m), lastmounteddirectory:DIR (-M),
        reservedblockscount:N (-r), user:UID (-u). Negative numbers are refused.
        Read the values back with tune2fs-l.

        Optional arguments are keywords.
        """
        ...
    def tune2fs_l(self, device: str) -> Dict[str, str]:
        """
        tune2fs_l(device: str) -> Dict[str, str]

        get ext2/ext3/ext4 superblock details

        The superblock of the ext2/3/4 filesystem on DEVICE as tune2fs -l prints
        it, one key: value pair a line, in tune2fs's order; <none> and <not
        available> are empty values. The fields depend on the tune2fs version
        and the filesystem. Reads only.
        """
        ...
    def txz_in(self, tarball: Union[str, os.PathLike[str]], directory: str) -> None:
        """
        txz_in(tarball: Union[str, os.PathLike[str]], directory: str) -> None

        unpack compressed tarball to directory

        tar-in of an xz-compressed tarball.

        Use "-" instead of a filename for standard input/output.
        """
        ...
    def txz_out(self, directory: str, tarball: Union[str, os.PathLike[str]]) -> None:
        """
        txz_out(directory: str, tarball: Union[str, os.PathLike[str]]) -> None

        pack directory into compressed tarball

        tar-out to an xz-compressed tarball.

        Use "-" instead of a filename for standard input/output.
        """
        ...
    def umask(self, mask: int) -> int:
        """
        umask(mask: int) -> int

        set file mode creation mask (umask)

        Set the umask new guest files and directories are created with (write,
        write-append, upload, touch, mkdir, mkdir-p, mkdir-mode) and print the
        previous one, in octal as libguestfs does. It is 022 to begin with.
        """
        ...
    def umount(self, pathordevice: str) -> None:
        """
        umount(pathordevice: str) -> None

        unmount a filesystem

        Unmount the filesystem at a mount point, or mounted from a device.
        Anything mounted below it must be unmounted first.

        You can use 'unmount' as an alias for this command.
        """
        ...
    def umount_all(self) -> None:
        """
        umount_all() -> None

        unmount all filesystems

        Unmount every filesystem of the guest tree, deepest first.

        You can use 'unmount-all' as an alias for this command.
        """
        ...
    def umount_local(self, *, retry: Optional[bool] = None) -> None:
        """
        umount_local(*, retry: Optional[bool] = None) -> None

        unmount a locally mounted filesystem

        Remove the local mount mount-local made, which ends mount-local-run. A
        mount in use on the host is not pulled away: the call fails as busy and
        the mount stays; retry:true tries again for a few seconds first.

        Optional arguments are keywords.
        """
        ...
    def unmount(self, pathordevice: str) -> None:
        """
        unmount(pathordevice: str) -> None

        unmount a filesystem (an alias of umount)

        Unmount the filesystem at a mount point, or mounted from a device.
        Anything mounted below it must be unmounted first.

        You can use 'unmount' as an alias for this command.
        """
        ...
    def unmount_all(self) -> None:
        """
        unmount_all() -> None

        unmount all filesystems (an alias of umount_all)

        Unmount every filesystem of the guest tree, deepest first.

        You can use 'unmount-all' as an alias for this command.
        """
        ...
    def upload(self, filename: Union[str, os.PathLike[str]], remotefilename: str) -> None:
        """
        upload(filename: Union[str, os.PathLike[str]], remotefilename: str) -> None

        upload a file from the local machine

        Copy a host file into the guest.

        Use "-" instead of a filename for standard input/output.
        """
        ...
    def upload_offset(self, filename: Union[str, os.PathLike[str]], remotefilename: str, offset: int) -> None:
        """
        upload_offset(filename: Union[str, os.PathLike[str]], remotefilename: str, offset: int) -> None

        upload a file from the local machine with offset

        Write a host file into a guest file or device (/dev/...) from OFFSET on:
        an existing file is overwritten in place, not truncated; a missing one
        is created with a hole before OFFSET. A device of a read-only drive is
        refused.

        Use "-" instead of a filename for standard input/output.
        """
        ...
    def user_cancel(self) -> None:
        """
        user_cancel() -> None

        cancel the current upload or download operation

        Cancel the long call running (a copy, tar, mkfs, e2fsck ...); the
        handle's later long calls fail too: shut it down afterwards.
        """
        ...
    def utimens(self, path: str, atsecs: int, atnsecs: int, mtsecs: int, mtnsecs: int) -> None:
        """
        utimens(path: str, atsecs: int, atnsecs: int, mtsecs: int, mtnsecs: int) -> None

        set timestamp of a file with nanosecond precision

        Set the access and modification times (seconds and nanoseconds since the
        epoch) of PATH, a final symbolic link not followed. A nanoseconds value
        of -1 sets that time to now, -2 leaves it unchanged (the seconds are
        then ignored).
        """
        ...
    def utsname(self) -> Dict[str, Any]:
        """
        utsname() -> Dict[str, Any]

        appliance kernel version

        The name, release, version and machine of the kernel that handles the
        session's filesystems: the host's own, since VMCraft has no appliance.
        """
        ...
    def verbose(self, verbose: bool) -> None:
        """
        verbose(verbose: bool) -> None

        set verbose mode (an alias of set_verbose)

        Remembered. What VMCraft logs is set by -v and RUST_LOG.

        VMCraft has no appliance: the value is remembered and has no effect.

        You can use 'verbose' as an alias for this command.
        """
        ...
    def version(self) -> Dict[str, Any]:
        """
        version() -> Dict[str, Any]

        get the library version number

        VMCraft's own version, in libguestfs's struct: major, minor, release,
        and extra naming VMCraft. It is not a libguestfs version: test for the
        calls you need with feature-available or help instead.
        """
        ...
    def vfs_label(self, mountable: str) -> str:
        """
        vfs_label(mountable: str) -> str

        get the filesystem label

        The filesystem label of a device, empty when it has none.
        """
        ...
    def vfs_minimum_size(self, mountable: str) -> int:
        """
        vfs_minimum_size(mountable: str) -> int

        get minimum filesystem size

        The minimum size in bytes the filesystem on MOUNTABLE can be shrunk to:
        ext2/3/4 (resize2fs -P), NTFS (ntfsresize --info), XFS (which cannot
        shrink: its size), btrfs (mounted; btrfs inspect-internal min-dev-size).
        Other types are refused as unsupported. Reads only.
        """
        ...
    def vfs_type(self, mountable: str) -> str:
        """
        vfs_type(mountable: str) -> str

        get the Linux VFS type corresponding to a mounted device

        The filesystem type of a device (ext4, xfs, vfat, ...), empty when
        unknown.
        """
        ...
    def vfs_uuid(self, mountable: str) -> str:
        """
        vfs_uuid(mountable: str) -> str

        get the filesystem UUID

        The filesystem UUID of a device, empty when it has none.
        """
        ...
    def vg_activate(self, activate: bool, volgroups: List[str]) -> None:
        """
        vg_activate(activate: bool, volgroups: List[str]) -> None

        activate or deactivate some volume groups

        Activate or deactivate the volume groups given as one space-separated
        list.
        """
        ...
    def vg_activate_all(self, activate: bool) -> None:
        """
        vg_activate_all(activate: bool) -> None

        activate or deactivate all volume groups

        Activate (true) or deactivate (false) every volume group. Activation
        needs device-mapper on the host.

        You can use 'vgchange-activate-all' as an alias for this command.
        """
        ...
    def vgchange_activate_all(self, activate: bool) -> None:
        """
        vgchange_activate_all(activate: bool) -> None

        activate or deactivate all volume groups (an alias of vg_activate_all)

        Activate (true) or deactivate (false) every volume group. Activation
        needs device-mapper on the host.

        You can use 'vgchange-activate-all' as an alias for this command.
        """
        ...
    def vgchange_uuid(self, vg: str) -> None:
        """
        vgchange_uuid(vg: str) -> None

        generate a new random UUID for a volume group

        Give the volume group a new random UUID. None of its LVs may be mounted.
        """
        ...
    def vgchange_uuid_all(self) -> None:
        """
        vgchange_uuid_all() -> None

        generate new random UUIDs for all volume groups

        Give every volume group of the session a new random UUID.
        """
        ...
    def vglvuuids(self, vgname: str) -> List[str]:
        """
        vglvuuids(vgname: str) -> List[str]

        get the LV UUIDs of all LVs in the volume group

        The UUIDs of every logical volume of the volume group, hidden ones
        included, in lvm2's order. With lvs and lvuuid they tell which LV is in
        which VG.
        """
        ...
    def vgmeta(self, vgname: str) -> bytes:
        """
        vgmeta(vgname: str) -> bytes

        get volume group metadata

        The volume group's metadata in lvm2's text format, as vgcfgbackup writes
        it.
        """
        ...
    def vgpvuuids(self, vgname: str) -> List[str]:
        """
        vgpvuuids(vgname: str) -> List[str]

        get the PV UUIDs containing the volume group

        The UUIDs of every physical volume of the volume group, in lvm2's order.
        With pvs and pvuuid they tell which PV is in which VG.
        """
        ...
    def vgrename(self, volgroup: str, newvolgroup: str) -> None:
        """
        vgrename(volgroup: str, newvolgroup: str) -> None

        rename an LVM volume group

        Rename a volume group. None of its LVs may be mounted.
        """
        ...
    def vgs(self) -> List[str]:
        """
        vgs() -> List[str]

        list the LVM volume groups (VGs)

        The volume group names.
        """
        ...
    def vgs_full(self) -> List[Dict[str, Any]]:
        """
        vgs_full() -> List[Dict[str, Any]]

        list the LVM volume groups (VGs)

        Every field lvm2 reports for each volume group.
        """
        ...
    def vgscan(self) -> None:
        """
        vgscan() -> None

        rescan for LVM physical volumes, volume groups and logical volumes

        Rescan the session's devices for LVM metadata.
        """
        ...
    def vguuid(self, vgname: str) -> str:
        """
        vguuid(vgname: str) -> str

        get the UUID of a volume group

        The UUID of a volume group (32 characters, no dashes).
        """
        ...
    def wait_ready(self) -> None:
        """
        wait_ready() -> None

        wait until the hypervisor launches (no op)

        Does nothing: a launch returns once the session is ready.
        """
        ...
    def wc_c(self, path: str) -> int:
        """
        wc_c(path: str) -> int

        count characters in a file

        The number of bytes in a file (wc -c).
        """
        ...
    def wc_l(self, path: str) -> int:
        """
        wc_l(path: str) -> int

        count lines in a file

        The number of lines in a file (its newlines, as wc -l counts them).
        """
        ...
    def wc_w(self, path: str) -> int:
        """
        wc_w(path: str) -> int

        count words in a file

        The number of words in a file, as wc -w counts them in the C locale.
        """
        ...
    def windows_add_driver_service(self, root: str, driver: str) -> None:
        """
        windows_add_driver_service(root: str, driver: str) -> None

        register a boot-start virtio driver service (VMCraft)

        Register the boot-start driver service DRIVER (viostor for virtio-blk,
        vioscsi for virtio-scsi) in the SYSTEM hive of the inspected Windows
        root, mounted read-write at /, as virt-v2v does: the service key under
        the current control set (Type 1, Start 0, ErrorControl 1, ImagePath
        system32\\drivers\\DRIVER.sys, Group SCSI miniport) and a
        CriticalDeviceDatabase entry (Service, ClassGUID) for each of the
        device's PCI IDs. The guest's hive is rewritten only once every change
        succeeded. Upload the driver file itself first. Not in libguestfs.
        """
        ...
    def wipefs(self, device: str) -> None:
        """
        wipefs(device: str) -> None

        wipe a filesystem signature from a device

        Erase the filesystem, RAID and partition-table signatures of the
        unmounted DEVICE (wipefs -a) so that blkid no longer sees them; the data
        stays.
        """
        ...
    def write(self, path: str, content: Union[bytes, str]) -> None:
        """
        write(path: str, content: Union[bytes, str]) -> None

        create a new file

        Create or overwrite a file with CONTENT. Use a double-quoted argument
        for escapes such as \\n.
        """
        ...
    def write_append(self, path: str, content: Union[bytes, str]) -> None:
        """
        write_append(path: str, content: Union[bytes, str]) -> None

        append content to end of file

        Append CONTENT to a file, creating it if needed.
        """
        ...
    def write_file(self, path: str, content: str, size: int) -> None:
        """
        write_file(path: str, content: str, size: int) -> None

        create a file

        The old form of write: create or overwrite PATH with the first SIZE
        bytes of CONTENT, all of it when SIZE is 0.
        """
        ...
    def xfs_admin(self, device: str, *, extunwritten: Optional[bool] = None, imgfile: Optional[bool] = None, v2log: Optional[bool] = None, projid32bit: Optional[bool] = None, lazycounter: Optional[bool] = None, label: Optional[str] = None, uuid: Optional[str] = None) -> None:
        """
        xfs_admin(device: str, *, extunwritten: Optional[bool] = None, imgfile: Optional[bool] = None, v2log: Optional[bool] = None, projid32bit: Optional[bool] = None, lazycounter: Optional[bool] = None, label: Optional[str] = None, uuid: Optional[str] = None) -> None

        change parameters of an XFS filesystem

        Change the parameters of the unmounted XFS filesystem on DEVICE:
        extunwritten:true (-e), imgfile:true (-f), v2log:true (-j),
        projid32bit:true (-p), lazycounter:true|false (-c 1/0, no effect on v5
        filesystems), label:.. (at most 12 bytes), uuid:.. (a UUID, generate or
        nil). A mounted device and a read-only drive are refused.

        Optional arguments are keywords.
        """
        ...
    def xfs_growfs(self, path: str) -> None:
        """
        xfs_growfs(path: str) -> None

        expand an existing XFS filesystem

        Grow the xfs filesystem mounted at PATH to fill its device.
        """
        ...
    def xfs_info(self, pathordevice: str) -> Dict[str, Any]:
        """
        xfs_info(pathordevice: str) -> Dict[str, Any]

        get information about the XFS filesystem

        PATHORDEVICE is a device holding an XFS filesystem, or a guest path on a
        mounted one (or an XFS image file in the guest). Returns what xfs_info
        prints as libguestfs's xfsinfo struct; xfs_mntpoint is the device's
        name. A field xfs_info does not print is an error. Guest paths resolve
        inside the guest.
        """
        ...
    def xfs_info2(self, pathordevice: str) -> Dict[str, str]:
        """
        xfs_info2(pathordevice: str) -> Dict[str, str]

        get information about the XFS filesystem

        What xfs_info prints about the XFS filesystem on PATHORDEVICE (as
        xfs-info) as pairs: meta-data, meta-data.isize, data.bsize, log,
        log.version, ... in xfs_info's order; sizes in blocks keep their unit
        (19200 blks).
        """
        ...
    def xfs_repair(self, device: str, *, forcelogzero: Optional[bool] = None, nomodify: Optional[bool] = None, noprefetch: Optional[bool] = None, forcegeometry: Optional[bool] = None, maxmem: Optional[int] = None, ihashsize: Optional[int] = None, bhashsize: Optional[int] = None, agstride: Optional[int] = None, logdev: Optional[str] = None, rtdev: Optional[str] = None) -> int:
        """
        xfs_repair(device: str, *, forcelogzero: Optional[bool] = None, nomodify: Optional[bool] = None, noprefetch: Optional[bool] = None, forcegeometry: Optional[bool] = None, maxmem: Optional[int] = None, ihashsize: Optional[int] = None, bhashsize: Optional[int] = None, agstride: Optional[int] = None, logdev: Optional[str] = None, rtdev: Optional[str] = None) -> int

        repair an XFS filesystem

        Check and repair the unmounted XFS filesystem on DEVICE (or an XFS image
        file in the guest, given by its path). Prints xfs_repair's status: 0
        when no corruption was found, 1 when it was (with nomodify:true, which
        only checks and is allowed on a read-only drive), 2 when the log is
        dirty (mount the filesystem once, or zero it with forcelogzero:true).
        Options: forcelogzero, nomodify, noprefetch, forcegeometry (true|false),
        maxmem, ihashsize, bhashsize, agstride (N >= 0), logdev and rtdev
        (devices).

        Optional arguments are keywords.
        """
        ...
    def zegrep(self, regex: str, path: str) -> List[str]:
        """
        zegrep(regex: str, path: str) -> List[str]

        return lines matching a pattern

        zgrep with an extended regular expression (zgrep -E).
        """
        ...
    def zegrepi(self, regex: str, path: str) -> List[str]:
        """
        zegrepi(regex: str, path: str) -> List[str]

        return lines matching a pattern

        zgrep with an extended regular expression, ignoring case (zgrep -E -i).
        """
        ...
    def zero(self, device: str) -> None:
        """
        zero(device: str) -> None

        write zeroes to the device

        Write zeroes over the first 128 KiB of the device: enough to remove
        partition tables and filesystem superblocks, not a secure wipe. Blocks
        that are already zero are not written, so a sparse image stays sparse.
        The device must not be mounted.
        """
        ...
    def zero_device(self, device: str) -> None:
        """
        zero_device(device: str) -> None

        write zeroes to an entire device

        Write zeroes over the whole device, skipping blocks that are already
        zero (so a sparse image stays sparse). The device must not be mounted.
        Cancellable.
        """
        ...
    def zero_free_space(self, directory: str) -> None:
        """
        zero_free_space(directory: str) -> None

        zero free space in a filesystem

        Fill the free space of the filesystem mounted on the directory with
        zeroes, then free it again (a temporary file with a random 8.3 name is
        written until the filesystem is full, synced and removed). Files are not
        affected. The filesystem must be mounted read-write. Blocks the
        filesystem keeps back even from root (ext4's reserved clusters) are not
        reached. The free space is not trimmed (see fstrim).
        """
        ...
    def zerofree(self, device: str) -> None:
        """
        zerofree(device: str) -> None

        zero unused inodes and disk blocks on ext2/3 filesystem

        Zero the unused blocks of the unmounted ext2/3/4 filesystem on DEVICE
        with zerofree, so the image compresses well. Needs the zerofree tool.
        """
        ...
    def zfgrep(self, pattern: str, path: str) -> List[str]:
        """
        zfgrep(pattern: str, path: str) -> List[str]

        return lines matching a pattern

        zgrep for a fixed string (zgrep -F).
        """
        ...
    def zfgrepi(self, pattern: str, path: str) -> List[str]:
        """
        zfgrepi(pattern: str, path: str) -> List[str]

        return lines matching a pattern

        zgrep for a fixed string, ignoring case (zgrep -F -i).
        """
        ...
    def zgrep(self, regex: str, path: str) -> List[str]:
        """
        zgrep(regex: str, path: str) -> List[str]

        return lines matching a pattern

        grep in a file that may be compressed (zgrep).
        """
        ...
    def zgrepi(self, regex: str, path: str) -> List[str]:
        """
        zgrepi(regex: str, path: str) -> List[str]

        return lines matching a pattern

        zgrep ignoring case (zgrep -i).
        """
        ...

GuestFS = VMCraft
