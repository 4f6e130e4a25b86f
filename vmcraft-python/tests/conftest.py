"""Fixtures of the vmcraft Python suite: real images in pytest's tmp_path, loud
skips that follow the Rust suite's rules (under VMCRAFT_TEST_STRICT=1, set by
``cargo xtask test``, a missing tool or missing root fails instead of skipping; a
missing kernel feature stays a skip), every skip also appended to
``$VMCRAFT_SKIP_LOG``."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def _record(reason: str) -> None:
    log = os.environ.get("VMCRAFT_SKIP_LOG")
    if log:
        test = os.environ.get("PYTEST_CURRENT_TEST", "<python test>").split(" ")[0]
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"python {test}: {reason}\n")


def skip(reason: str) -> None:
    """Skip loudly, or fail in strict mode (setup should have provided it)."""
    if os.environ.get("VMCRAFT_TEST_STRICT") == "1":
        pytest.fail(f"strict mode (VMCRAFT_TEST_STRICT=1): this test would skip: {reason}")
    _record(reason)
    pytest.skip(reason)


def skip_kernel(feature: str) -> None:
    """Skip for a kernel feature this host lacks (a skip even in strict mode)."""
    reason = f"the host kernel lacks {feature}"
    _record(reason)
    pytest.skip(reason)


def require_root() -> None:
    if os.geteuid() != 0:
        skip("needs root (loop devices, mounts)")


def require_tool(tool: str) -> None:
    if shutil.which(tool) is None:
        skip(f"needs {tool}")


def loops_of(path: Path) -> list[str]:
    """The loop devices backed by ``path`` (from ``losetup -a``)."""
    out = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if str(path) in line]


def mounts_under(tmp: Path) -> list[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return [line for line in f if str(tmp) in line]


@pytest.fixture
def image(tmp_path: Path):
    """A factory of sparse raw images in tmp_path; at the end, no loop device of
    them may be left."""
    made: list[Path] = []

    def make(name: str = "disk.img", size: int = 64 << 20) -> Path:
        p = tmp_path / name
        with open(p, "wb") as f:
            f.truncate(size)
        made.append(p)
        return p

    yield make
    for p in made:
        assert loops_of(p) == [], f"loop device left on {p}"


def small_guest(tmp_path: Path) -> Path:
    """A phony Debian root (os-release, hostname, fstab, a real ELF binary) as an
    ext4 image made with ``mkfs.ext4 -d``."""
    root = tmp_path / "guest"
    (root / "etc").mkdir(parents=True)
    (root / "bin").mkdir()
    (root / "etc/os-release").write_text(
        'NAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="12"\n'
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'
    )
    (root / "etc/debian_version").write_text("12.5\n")
    (root / "etc/hostname").write_text("pyguest\n")
    (root / "etc/fstab").write_text("LABEL=pyroot / ext4 defaults 0 1\n")
    shutil.copy(shutil.which("true"), root / "bin/true")
    shutil.copy(shutil.which("true"), root / "bin/ls")
    # What the host's dynamically linked true needs to run in the guest.
    for lib in ("/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6"):
        if os.path.exists(lib):
            dest = root / lib.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(os.path.realpath(lib), dest)
    img = tmp_path / "guest.img"
    with open(img, "wb") as f:
        f.truncate(32 << 20)
    subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-L", "pyroot", "-d", str(root), str(img)], check=True
    )
    return img


def blank_hive() -> bytes:
    """An empty Windows registry hive (8 KiB) laid out from the documented regf
    format, as vmcraft-hivex's test fixture writes it (no Debian tool makes
    one): a base block, one bin with the root key ``ROOT``, its security cell,
    and a free cell."""
    import struct

    filetime = 132_223_104_000_000_000
    h = bytearray(0x2000)
    h[0:4] = b"regf"
    struct.pack_into("<IIQIIIIIII", h, 0x04, 1, 1, filetime, 1, 3, 0, 1, 0x20, 0x1000, 1)
    name = "vmcraft-blank".encode("utf-16-le")
    h[0x30 : 0x30 + len(name)] = name
    b = 0x1000
    h[b : b + 4] = b"hbin"
    struct.pack_into("<II", h, b + 4, 0, 0x1000)
    struct.pack_into("<Q", h, b + 0x14, filetime)
    nk_off, root = 0x20, b"ROOT"
    nk_len = (4 + 76 + len(root) + 7) // 8 * 8
    sk_off = nk_off + nk_len
    n = b + nk_off
    struct.pack_into("<i", h, n, -nk_len)
    k = n + 4
    h[k : k + 2] = b"nk"
    struct.pack_into("<HQ", h, k + 2, 0x04 | 0x08 | 0x20, filetime)
    struct.pack_into(
        "<IIIIIIIIII", h, k + 0x10, 0, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF, 0, 0xFFFFFFFF, sk_off, 0xFFFFFFFF, 0
    )
    struct.pack_into("<HH", h, k + 0x48, len(root), 0)
    h[k + 0x4C : k + 0x4C + len(root)] = root
    sk_len = (4 + 20 + 20 + 7) // 8 * 8
    s = b + sk_off
    struct.pack_into("<i", h, s, -sk_len)
    k = s + 4
    h[k : k + 2] = b"sk"
    struct.pack_into("<IIII", h, k + 4, sk_off, sk_off, 1, 20)
    h[k + 20] = 1
    struct.pack_into("<H", h, k + 22, 0x8000)
    free_off = sk_off + sk_len
    struct.pack_into("<I", h, b + free_off, 0x1000 - free_off)
    csum = 0
    for i in range(0, 0x1FC, 4):
        csum ^= struct.unpack_from("<I", h, i)[0]
    struct.pack_into("<I", h, 0x1FC, csum)
    return bytes(h)
