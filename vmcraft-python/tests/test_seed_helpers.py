"""The seed's helpers on a real guest (an ext4 tree with a Windows hive, files
of known sizes, set-id and world-writable files, duplicates, temp files): the
registry helpers against hivexget as the oracle, win_resolve_path and
win_inject_driver, backup_files/restore_files against Python's tarfile, and
the tree reports with the seed's return shapes. Bad input raises."""

from __future__ import annotations

import shutil
import subprocess
import tarfile

import pytest

import vmcraft
from conftest import blank_hive, require_root, require_tool, small_guest

CURRENT = "Microsoft\\Windows NT\\CurrentVersion"


def test_seed_helpers(tmp_path):
    require_root()
    require_tool("mkfs.ext4")
    img = small_guest(tmp_path)
    hive = tmp_path / "SOFTWARE"
    hive.write_bytes(blank_hive())
    g = vmcraft.VMCraft()
    try:
        g.add_drive_opts(str(img), format="raw")
        g.launch()
        g.mount("/dev/sda", "/")
        g.mkdir_p("/Windows/System32/config")
        g.upload(str(hive), "/Windows/System32/config/SOFTWARE")

        # Registry: write (keys made as needed), read back, list; hivexget agrees.
        assert g.win_registry_write("SOFTWARE", CURRENT, "ProductName", "Windows 10 Pro") is True
        assert g.win_registry_write("SOFTWARE", CURRENT, "CurrentMajorVersionNumber", 10, "dword")
        assert g.win_registry_write("SOFTWARE", CURRENT, "Paths", ["C:\\a", "C:\\b"], "multi_sz")
        assert g.win_registry_read("SOFTWARE", CURRENT, "ProductName") == "Windows 10 Pro"
        assert g.win_registry_read("software", CURRENT, "currentmajorversionnumber") == "10"
        assert g.win_registry_read("SOFTWARE", CURRENT, "Paths") == "C:\\a\nC:\\b"
        assert g.win_registry_read("SOFTWARE", CURRENT, "Missing") is None
        assert g.win_registry_read("SOFTWARE", "No\\Such\\Key", "X") is None
        assert g.win_registry_read("SAM", CURRENT, "X") is None  # no such hive
        assert g.win_registry_list_keys("SOFTWARE", "Microsoft") == ["Windows NT"]
        assert g.win_registry_list_keys("SOFTWARE", "Nope") == []
        assert g.win_registry_list_values("SOFTWARE", CURRENT) == {
            "ProductName": "Windows 10 Pro",
            "CurrentMajorVersionNumber": "10",
            "Paths": "C:\\a\nC:\\b",
        }
        if shutil.which("hivexget"):
            g.download("/Windows/System32/config/SOFTWARE", str(tmp_path / "out.hive"))
            got = subprocess.run(
                ["hivexget", str(tmp_path / "out.hive"), CURRENT, "ProductName"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            assert got == "Windows 10 Pro"
        for bad in ("../etc/passwd", "a/b", ""):
            with pytest.raises(vmcraft.InvalidArgumentError):
                g.win_registry_read(bad, CURRENT, "X")
        with pytest.raises(vmcraft.InvalidArgumentError):
            g.win_registry_write("SOFTWARE", CURRENT, "X", 1, "dword64")

        # Windows paths in any case, and a driver copied into the DriverStore.
        assert g.win_resolve_path("C:\\windows\\SYSTEM32\\Config") == "/Windows/System32/config"
        assert g.win_resolve_path("C:\\Windows\\nothing") is None
        drv = tmp_path / "viostor"
        drv.mkdir()
        (drv / "viostor.inf").write_text("[Version]\n")
        (drv / "viostor.sys").write_bytes(b"MZ driver")
        r = g.win_inject_driver(str(drv))
        assert r["ok"] and r["files_copied"] == 2 and r["inf_file"] == "viostor.inf"
        assert g.cat(r["destination"] + "/viostor.sys") == "MZ driver"
        with pytest.raises(vmcraft.InvalidArgumentError):
            g.win_inject_driver(str(tmp_path / "missing"))

        # Files for the reports.
        g.mkdir_p("/data/sub")
        g.fallocate64("/data/big", 3 << 20)
        g.write("/data/dup1", b"x" * 4096)
        g.write("/data/sub/dup2", b"x" * 4096)
        g.write("/data/suid", b"#!/bin/sh\n")
        g.chmod(0o4755, "/data/suid")
        g.write("/data/open", b"")
        g.chmod(0o666, "/data/open")
        g.mkdir_p("/tmp")
        g.write("/tmp/junk", b"12345")
        g.mkdir_p("/var/cache/apt")
        g.write("/var/cache/apt/pkgcache.bin", b"abc")

        audit = g.audit_permissions("/")
        assert "data/suid" in audit["suid_files"] and "data/open" in audit["world_writable"]
        assert audit["total_checked"] >= 8
        big = g.find_large_files("/", min_size_mb=2.5)
        assert big == [{"path": "/data/big", "size_bytes": 3 << 20, "size_mb": 3.0}]
        dups = g.find_duplicates("/data", min_size_mb=0.001)
        assert len(dups) == 1 and dups[0]["files"] == ["/data/dup1", "/data/sub/dup2"]
        assert dups[0]["count"] == 2 and dups[0]["total_wasted_bytes"] == 4096
        usage = g.analyze_disk_usage("/data", top_n=1)
        assert usage["top_directories"] == [{"path": "/data", "size": (3 << 20) + 4096 + 10, "size_mb": 3.0}]
        assert usage["total_files"] == 5 and usage["total_dirs"] == 1
        dry = g.cleanup_temp_files()
        assert dry["dry_run"] and dry["files_found"] == 2 and dry["space_freed"] == 8
        assert g.exists("/tmp/junk")
        done = g.cleanup_temp_files(dry_run=False)
        assert done["files_deleted"] == 2 and not g.exists("/tmp/junk")

        # Backup and restore.
        archive = tmp_path / "backup.tar.xz"
        r = g.backup_files(["/etc", "/data/big", "/missing"], str(archive), compression="xz")
        assert r["ok"] and r["files_backed_up"] == 2
        with tarfile.open(archive) as t:
            names = set(t.getnames())
        assert {"etc/hostname", "etc/os-release", "data/big"} <= names
        g.mkdir("/restore")
        r = g.restore_files(str(archive), "/restore")
        assert r["ok"] and r["files_restored"] >= 4
        assert g.cat("/restore/etc/hostname") == "pyguest\n"
        assert g.filesize("/restore/data/big") == 3 << 20
        g.umount_all()
    finally:
        g.close()
