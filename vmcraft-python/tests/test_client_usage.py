"""The calls and shapes hyper2kvm's code outside its VMCraft package uses
(shared/CLIENT-USAGE.md), on a small guest: truthiness of is_file/exists/is_dir,
write of bytes and str, cat as str, read_file as bytes, ls, mount_options,
list_filesystems as a dict, glob_expand, inspect_get_mountpoints().get("/"),
ln_sf, chmod with the mode first, stat()["mtime"], blkid().items(), download and
upload of a host file, command with an argv list, realpath, vfs_uuid."""

from __future__ import annotations

import subprocess

import pytest

import vmcraft
from conftest import require_root, require_tool, small_guest


def test_the_clients_calls(tmp_path, image):
    require_root()
    require_tool("mkfs.ext4")
    img = small_guest(tmp_path)
    image  # no loop device left on images (checked by the fixture for its own)
    g = vmcraft.VMCraft(python_return_dict=True)
    try:
        g.add_drive_opts(str(img), readonly=False, format="raw")
        g.launch()
        roots = g.inspect_os()
        root = roots[0]
        assert g.inspect_get_mountpoints(root).get("/") == "/dev/sda"
        g.mount_options("ro,norecovery", "/dev/sda", "/")
        assert g.mountpoints() == {"/dev/sda": "/"}
        if g.is_file("/etc/os-release") and g.exists("/etc") and g.is_dir("/etc"):
            text = g.cat("/etc/os-release")
            assert isinstance(text, str) and "debian" in text.splitlines()[1]
        assert not g.is_file("/etc/missing")
        assert isinstance(g.read_file("/etc/hostname"), bytes)
        assert g.read_file("/etc/hostname").decode().strip() == "pyguest"
        assert sorted(g.ls("/etc")) == ["debian_version", "fstab", "hostname", "os-release"]
        fs = g.list_filesystems()
        assert fs == {"/dev/sda": "ext4"}
        assert g.glob_expand("/etc/*name") == ["/etc/hostname"]
        uuid = g.vfs_uuid("/dev/sda")
        blkid = subprocess.run(
            ["blkid", "-o", "value", "-s", "UUID", str(img)], capture_output=True, text=True
        ).stdout.strip()
        assert uuid == blkid
        assert dict(g.blkid("/dev/sda").items())["TYPE"] == "ext4"
        assert g.realpath("/etc/../etc/hostname") == "/etc/hostname"
        g.umount_all()

        g.mount("/dev/sda", "/")
        g.write("/etc/motd", "from str\n")
        g.write("/etc/motd2", "from bytes\n".encode())
        assert g.cat("/etc/motd") == "from str\n" and g.cat("/etc/motd2") == "from bytes\n"
        g.chmod(0o755, "/etc/motd")
        st = g.stat("/etc/motd")
        assert st["mode"] & 0o7777 == 0o755 and isinstance(st["mtime"], int)
        g.mkdir_p("/etc/systemd/system")
        g.ln_sf("/dev/null", "/etc/systemd/system/x.service")
        assert g.is_symlink("/etc/systemd/system/x.service")
        # The seed's names for two libguestfs calls.
        assert g.is_link("/etc/systemd/system/x.service") and not g.is_link("/etc/motd")
        g.vgchange_activate_all(0)  # libguestfs's vg_activate_all; an int is a bool
        try:
            g.vgchange_activate_all(True)
        except vmcraft.UnsupportedError as e:  # a host without device-mapper says so
            assert "device-mapper" in str(e) and e.call == "vg_activate_all"
        # Registry-hive style: download, edit on the host, upload back.
        host = tmp_path / "hostname.copy"
        g.download("/etc/hostname", str(host))
        host.write_text(host.read_text().replace("pyguest", "edited"))
        g.upload(host, "/etc/hostname")
        assert g.cat("/etc/hostname") == "edited\n"
        # A guest command with an argv list; output as str.
        try:
            out = g.command(["/bin/true"])
        except vmcraft.UnsupportedError as e:
            from conftest import skip_kernel

            skip_kernel(f"guest commands (sandbox): {e}")
        assert out == ""
        with pytest.raises(vmcraft.Error) as e:
            g.command(["/bin/not-there"])
        assert e.value.call == "command"
        g.umount_all()
    finally:
        g.close()
