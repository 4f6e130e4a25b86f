"""mount_local as libguestfs's Python users call it: mount_local(dir) in one
thread, mount_local_run() in another (the GIL is released while it waits),
the host reads the guest's files under dir, then umount_local() ends the
run. Also: mount_local needs something mounted on /, takes readonly=True, and
refuses a second local mount."""

from __future__ import annotations

import threading

import pytest

import vmcraft
from conftest import require_root, require_tool, small_guest


def test_mount_local_run_in_a_thread(tmp_path):
    require_root()
    require_tool("mkfs.ext4")
    img = small_guest(tmp_path)
    local = tmp_path / "local"
    local.mkdir()
    g = vmcraft.VMCraft(python_return_dict=True)
    try:
        g.add_drive_opts(str(img), format="raw", readonly=True)
        g.launch()
        with pytest.raises(vmcraft.Error):
            g.mount_local(str(local))  # nothing mounted on / yet
        g.mount_ro("/dev/sda", "/")
        g.mount_local(str(local), readonly=True)
        errors = []

        def run():
            try:
                g.mount_local_run()
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        t = threading.Thread(target=run)
        t.start()
        assert (local / "etc/hostname").read_text() == "pyguest\n"
        other = tmp_path / "other"
        other.mkdir()
        with pytest.raises(vmcraft.BusyError):
            g.mount_local(str(other))  # one at a time
        # Let the thread reach mount_local_run before ending it.
        for _ in range(10):
            if not t.is_alive():
                break
            t.join(timeout=0.05)
        assert t.is_alive() and errors == []
        g.umount_local()
        t.join(timeout=60)
        assert not t.is_alive() and errors == []
        assert list(local.iterdir()) == []
    finally:
        g.close()
