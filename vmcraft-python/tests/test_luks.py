"""LUKS from Python as hyper2kvm and libguestfs's binding call it: keys are
plain str arguments (never traced in clear), `luks_format` makes a container
the host's cryptsetup opens with the key, `luks_uuid` is its UUID, and
`cryptsetup_open(device, key, mapname, readonly=True)` opens it where the host
has device-mapper, or raises UnsupportedError saying so (with the image
unchanged). The mapping's own paths run in the kernel test tier."""

from __future__ import annotations

import hashlib
import os
import subprocess

import pytest

import vmcraft
from conftest import require_root, require_tool

KEY = "python passphrase"


def dm_usable() -> bool:
    """Whether device-mapper works here (the node may exist without the driver)."""
    try:
        os.close(os.open("/dev/mapper/control", os.O_RDWR))
        return True
    except OSError:
        return False


def sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_luks_from_python(tmp_path, image):
    require_root()
    require_tool("cryptsetup")
    img = image("luks.img", 40 << 20)
    g = vmcraft.VMCraft(python_return_dict=True)
    try:
        g.add_drive_opts(str(img), format="raw")
        g.launch()
        g.part_disk("/dev/sda", "gpt")
        g.luks_format("/dev/sda1", KEY, 0)
        assert g.vfs_type("/dev/sda1") == "crypto_LUKS"
        uuid = g.luks_uuid("/dev/sda1")
        host = g.host_path("/dev/sda1")
        oracle = subprocess.run(
            ["cryptsetup", "luksUUID", host], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert uuid == oracle
        opened = subprocess.run(
            ["cryptsetup", "--key-file", "-", "open", "--test-passphrase", host],
            input=KEY.encode(),
        )
        assert opened.returncode == 0
        # Not a filesystem until opened (libguestfs leaves it out).
        assert g.list_filesystems() == {}
        with pytest.raises(vmcraft.InvalidArgumentError):
            g.cryptsetup_open("/dev/sda1", KEY, "../control")
    finally:
        g.close()

    before = sha256(img)
    g = vmcraft.VMCraft()
    try:
        g.add_drive_opts(str(img), format="raw", readonly=True)
        g.launch()
        if not dm_usable():
            with pytest.raises(vmcraft.UnsupportedError, match="device-mapper"):
                g.cryptsetup_open("/dev/sda1", KEY, "pyluks", readonly=True)
        else:
            g.cryptsetup_open("/dev/sda1", KEY, "pyluks", readonly=True)
            assert g.list_dm_devices() == ["/dev/mapper/pyluks"]
            g.cryptsetup_close("/dev/mapper/pyluks")
    finally:
        g.close()
    assert sha256(img) == before


def test_cryptsetup_open_takes_the_seeds_key_order(image):
    """hyper2kvm calls ``cryptsetup_open(device, mapname, key_bytes)`` (the
    seed's order): a bytes key is told from the map name by its type, so that
    call does what ``cryptsetup_open(device, key, mapname)`` does; a key that
    is not UTF-8 is refused before anything runs, and nothing changes."""
    require_root()
    require_tool("cryptsetup")
    img = image("luks-seed.img", 40 << 20)
    g = vmcraft.VMCraft()
    try:
        g.add_drive_opts(str(img), format="raw")
        g.launch()
        g.part_disk("/dev/sda", "gpt")
        g.luks_format("/dev/sda1", KEY, 0)
    finally:
        g.close()
    before = sha256(img)
    g = vmcraft.VMCraft()
    try:
        g.add_drive_opts(str(img), format="raw", readonly=True)
        g.launch()
        with pytest.raises(vmcraft.InvalidArgumentError, match="not UTF-8"):
            g.cryptsetup_open("/dev/sda1", "seedluks", b"\xff\xfe")
        # The seed's order with a wrong key is taken as a key: a vmcraft.Error
        # (never the TypeError the libguestfs order alone gave), which is the
        # wrong key where device-mapper works and the missing device-mapper
        # where it does not (checked before the key is tried).
        with pytest.raises(vmcraft.Error) as wrong:
            g.cryptsetup_open("/dev/sda1", "seedluks", b"not the key")
        assert isinstance(wrong.value, vmcraft.UnsupportedError) != dm_usable(), wrong.value
        if not dm_usable():
            with pytest.raises(vmcraft.UnsupportedError, match="device-mapper"):
                g.cryptsetup_open("/dev/sda1", "seedluks", KEY.encode())
        else:
            g.cryptsetup_open("/dev/sda1", "seedluks", KEY.encode())
            assert g.list_dm_devices() == ["/dev/mapper/seedluks"]
            g.cryptsetup_close("/dev/mapper/seedluks")
        assert g.converted_image_path is None
        g.keep_converted_image()
    finally:
        g.close()
    assert sha256(img) == before
