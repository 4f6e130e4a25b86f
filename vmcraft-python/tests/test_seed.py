"""A script written against the seed's documented API (hyper2kvm's VMCraft):
partitions, LVM with audit dicts, an Augeas fstab edit, tar in/out with each
compression, blockdev sizes, a dd copy, parallel and fallback mounting, and
inspection of a small guest. Real images, root, no mocks."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

import pytest

import vmcraft
from conftest import require_root, require_tool, skip_kernel, small_guest


def test_inspect_a_small_guest(tmp_path, image):
    require_root()
    require_tool("mkfs.ext4")
    img = small_guest(tmp_path)
    image  # the fixture checks no loop device is left on images it made
    with vmcraft.VMCraft() as g:
        g.add_drive_opts(str(img), readonly=True, format="raw")
        g.launch()
        roots = g.inspect_os()
        assert roots == ["/dev/sda"]
        root = roots[0]
        assert g.inspect_get_type(root) == "linux"
        assert g.inspect_get_distro(root) == "debian"
        assert g.inspect_get_major_version(root) == 12
        assert g.inspect_get_hostname(root) == "pyguest"
        assert g.inspect_get_mountpoints(root) == {"/": "/dev/sda"}
        # The seed's way: mount what inspection found, in parallel.
        res = g.mount_all_parallel(g.inspect_get_mountpoints(root), readonly=True, details=True)
        assert res["/"]["ok"] is True and res["/"]["fstype"] == "ext4"
        assert g.cat("/etc/hostname").strip() == "pyguest"


def test_seed_script(tmp_path, image):
    require_root()
    for tool in ("mkfs.ext4", "tar", "gzip", "bzip2", "xz", "zstd"):
        require_tool(tool)
    disk = image("disk.img", 128 << 20)
    lvdisk = image("lv.img", 64 << 20)
    with vmcraft.VMCraft() as g:
        g.add_drive_opts(str(disk), format="raw")
        g.add_drive_opts(str(lvdisk), format="raw")
        g.launch()
        # Partitions, blockdev sizes.
        g.part_init("/dev/sda", "mbr")
        g.part_add("/dev/sda", "p", 2048, 67583)
        g.part_add("/dev/sda", "p", 67584, -1)
        g.invalidate_partition_cache()
        assert g.list_partitions() == ["/dev/sda1", "/dev/sda2"]
        assert g.blockdev_getsize64("/dev/sda") == 128 << 20
        assert g.blockdev_getsize64("/dev/sda1") == (67583 - 2048 + 1) * 512
        assert g.blockdev_getss("/dev/sda") == 512
        # Where the seed answered 0, VMCraft raises.
        with pytest.raises(vmcraft.NotFoundError):
            g.blockdev_getsize64("/dev/sdz")
        g.mkfs("ext4", "/dev/sda1", label="boot")
        g.mkfs("ext4", "/dev/sda2", label="root")

        # Parallel mounting with the seed's (device, mountpoint) pairs; / first.
        g.mount("/dev/sda2", "/")
        g.mkdir("/boot")
        g.umount_all()
        # The seed's call as written: max_workers, read-only by default, bools back.
        res = g.mount_all_parallel([("/dev/sda1", "/boot"), ("/dev/sda2", "/")], max_workers=2)
        assert res == {"/boot": True, "/": True}
        assert g.mountpoints() == {"/dev/sda2": "/", "/dev/sda1": "/boot"}
        with pytest.raises(vmcraft.Error):
            g.write("/boot/x", b"read-only by default, as the seed")
        g.umount_all()
        res = g.mount_all_parallel(["/:/dev/sda2", "/boot:/dev/sda1"], readonly=False, details=True)
        assert res["/boot"]["device"] == "/dev/sda1" and res["/"]["strategy"]
        assert res["/"]["ok"] is True and res["/"]["fstype"] == "ext4"
        # A failed mount is a result, not an exception; its child not attempted.
        g.umount_all()
        assert g.mount_all_parallel([("/dev/sdb", "/"), ("/dev/sda1", "/boot")]) == {
            "/": False,
            "/boot": False,
        }
        res = g.mount_all_parallel([("/dev/sdb", "/"), ("/dev/sda1", "/boot")], details=True)
        assert res["/"]["ok"] is False and res["/"]["error"]
        assert res["/boot"]["ok"] is False and "not attempted" in res["/boot"]["error"]
        # A bad list mounts nothing.
        with pytest.raises(vmcraft.InvalidArgumentError):
            g.mount_all_parallel([("/dev/sda2", "/"), ("/dev/sda1", "/")])
        assert g.mounts() == []

        # Fallback mounting: the strategy that worked and every attempt.
        assert g.mount_with_fallback("/dev/sda1", "/") is True
        g.umount_all()
        out = g.mount_with_fallback("/dev/sda2", "/", "ext4", details=True)
        assert out["strategy"] and out["fstype"] == "ext4"
        assert out["attempts"][-1]["error"] is None
        with pytest.raises(vmcraft.Error) as e:
            g.mount_with_fallback("/dev/sdb", "/boot")  # no filesystem there
        assert e.value.call == "mount_with_fallback"

        # Augeas: edit fstab.
        g.mkdir("/etc")
        g.write("/etc/fstab", b"LABEL=root / ext4 defaults 0 1\n")
        g.aug_init("/", 0)
        g.aug_set("/files/etc/fstab/1/opt", "noatime")
        g.aug_save()
        g.aug_close()
        assert g.cat("/etc/fstab").split()[3] == "noatime"

        # tar in/out with each compression, checked with GNU tar.
        g.mkdir_p("/data/sub")
        g.write("/data/sub/f.txt", b"payload\n")
        for compress, flag in [(None, ""), ("gzip", "z"), ("bzip2", "j"), ("xz", "J"), ("zstd", "--zstd")]:
            out_tar = tmp_path / f"data-{compress}.tar"
            stats = g.tar_out("/data", str(out_tar), compress=compress)
            assert isinstance(stats, dict)
            listing = subprocess.run(
                ["tar", "-t" + ("" if flag.startswith("-") else flag) + "f", str(out_tar)]
                + ([flag] if flag.startswith("-") else []),
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            assert "./sub/f.txt" in listing or "sub/f.txt" in listing, listing
            g.mkdir(f"/in-{compress}")
            g.tar_in(out_tar, f"/in-{compress}", compress=compress)
            assert g.read_file(f"/in-{compress}/sub/f.txt") == b"payload\n"
        # A host tarball made by GNU tar, compression detected.
        src = tmp_path / "host"
        (src / "d").mkdir(parents=True)
        (src / "d/x").write_text("x\n")
        with tarfile.open(tmp_path / "host.tgz", "w:gz") as t:
            t.add(src / "d", arcname="d")
        g.mkdir("/host")
        g.tar_in(str(tmp_path / "host.tgz"), "/host")
        assert g.cat("/host/d/x") == "x\n"
        g.umount_all()

        # dd copy of the boot partition onto the LVM disk, then LVM there.
        g.dd("/dev/sda1", "/dev/sdb")
        assert g.vfs_label("/dev/sdb") == "boot"
        g.zero_device("/dev/sdb")

        # The seed's audit dicts, key for key.
        assert g.pvcreate(["/dev/sdb"]) == {"attempted": True, "ok": True, "error": None, "pvs": ["/dev/sdb"]}
        assert g.vgcreate("pyvg", ["/dev/sdb"]) == {"attempted": True, "ok": True, "error": None, "vg": "pyvg"}
        assert g.vgs() == ["pyvg"]
        try:
            a = g.lvcreate("pylv", "pyvg", size_mb=16)
        except vmcraft.UnsupportedError as e:
            assert e.audit["ok"] is False and e.audit["error"]
            skip_kernel(f"LV creation (device-mapper activation): {e}")
        assert a == {"attempted": True, "ok": True, "error": None, "lv": "/dev/pyvg/pylv"}
        assert "/dev/pyvg/pylv" in g.lvs()
        assert g.lvcreate("pylv2", "pyvg", extents=2)["lv"] == "/dev/pyvg/pylv2"
        assert g.lvcreate("pylv3", "pyvg", extents="50%FREE")["ok"]
        sizes = {lv["lv_name"]: lv["lv_size"] for lv in g.lvs_full()}
        assert sizes["pylv"] == 16 << 20 and sizes["pylv2"] == 2 * (4 << 20), sizes
        assert g.lvresize("/dev/pyvg/pylv", 24) == {"attempted": True, "ok": True, "error": None}
        assert g.lvremove("/dev/pyvg/pylv2", force=True)["ok"]
        assert g.lvremove("/dev/pyvg/pylv3")["ok"]
        with pytest.raises(vmcraft.InvalidArgumentError) as e:
            g.lvcreate("bad", "pyvg", extents="lots")
        assert e.value.audit == {"attempted": False, "ok": False, "error": e.value.audit["error"], "lv": None}
        # A failing LVM call raises, its audit dict attached.
        with pytest.raises(vmcraft.Error) as e:
            g.lvremove("/dev/pyvg/nope")
        assert e.value.audit["ok"] is False and e.value.audit["attempted"] is True
        a = g.vgremove("pyvg", force=True)
        assert a["ok"]
        assert g.vgs() == []


def test_the_readme_example_runs(tmp_path, capsys):
    """vmcraft-python/README.md's example, as written, on a qcow2 of the small guest."""
    require_root()
    require_tool("mkfs.ext4")
    require_tool("qemu-img")
    raw = small_guest(tmp_path)
    qcow = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "convert", "-q", "-O", "qcow2", str(raw), str(qcow)], check=True)
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert code.count("\n") <= 8, "the README's example stays short"
    cwd = Path.cwd()
    import os

    os.chdir(tmp_path)
    try:
        exec(compile(code, "README.md", "exec"), {})
    except vmcraft.UnsupportedError as e:
        skip_kernel(f"attaching a qcow2 image: {e}")
    finally:
        os.chdir(cwd)
    assert capsys.readouterr().out == "debian pyguest\n"
