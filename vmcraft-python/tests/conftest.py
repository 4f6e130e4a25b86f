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
