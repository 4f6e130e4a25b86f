"""Benchmarks of the Python binding (issue 19), in one run:

1. per-call overhead: a cached call (``vfs_type``) from Python, beside the same
   table call run from Rust in a loop (``_bench_invoke``: no Python in the loop);
   the difference is what Python adds per call (target: under 2 us);
2. a whole session (attach read-only, inspect, mount, read a file, shut down) from
   Python beside the same session from the ``vmcraft`` command line.

Run as root: ``python bench.py [--cli PATH] [--rounds N]`` (the wheel installed; a
release build for meaningful numbers: ``cargo xtask wheel``).

``cargo xtask bench`` runs it as ``python bench.py --serve DIR``: it makes the guest
in DIR, prints ``ready IMAGE``, then answers the driver's requests, one line each
on stdin (``rust N``, ``py N``, ``session``, ``quit``), with ``SECONDS RESULT``
timed inside this process, so the driver's rows for Python are measured as its
others are: in rotated rounds, each result checked."""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import vmcraft


def guest(tmp: Path) -> Path:
    root = tmp / "guest"
    (root / "etc").mkdir(parents=True)
    (root / "bin").mkdir()
    (root / "etc/os-release").write_text('NAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="12"\n')
    (root / "etc/debian_version").write_text("12.5\n")
    (root / "etc/hostname").write_text("benchguest\n")
    (root / "etc/fstab").write_text("LABEL=broot / ext4 defaults 0 1\n")
    shutil.copy(shutil.which("true"), root / "bin/true")
    shutil.copy(shutil.which("true"), root / "bin/ls")
    img = tmp / "guest.img"
    with open(img, "wb") as f:
        f.truncate(32 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "broot", "-d", str(root), str(img)], check=True)
    return img


def per_call(img: Path, n: int) -> None:
    with vmcraft.VMCraft() as g:
        g.add_drive_opts(str(img), readonly=True, format="raw")
        g.launch()
        dev = "/dev/sda"
        assert g.vfs_type(dev) == "ext4"
        rust = min(g._bench_invoke("vfs_type", (dev,), None, n) for _ in range(5))
        py_rounds = []
        direct_rounds = []
        call = g._call
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(n):
                g.vfs_type(dev)
            py_rounds.append((time.perf_counter() - t) / n)
            t = time.perf_counter()
            args = (dev,)
            for _ in range(n):
                call("vfs_type", args)
            direct_rounds.append((time.perf_counter() - t) / n)
        py = min(py_rounds)
        direct = min(direct_rounds)
        print(f"per-call, cached vfs_type, {n} calls, best of 5:")
        print(f"  Rust (table invoke, no Python)   {rust * 1e6:8.3f} us")
        print(f"  Python g.vfs_type(dev)           {py * 1e6:8.3f} us   (+{(py - rust) * 1e6:.3f} us)")
        print(f"  Python g._call('vfs_type', ...)  {direct * 1e6:8.3f} us   (+{(direct - rust) * 1e6:.3f} us)")
        print(f"  target: under 2 us added: {'met' if py - rust < 2e-6 else 'NOT met'}")


def session_py(img: Path) -> str:
    with vmcraft.VMCraft() as g:
        g.add_drive_opts(str(img), readonly=True, format="raw")
        g.launch()
        root = g.inspect_os()[0]
        g.mount_all_parallel(g.inspect_get_mountpoints(root), readonly=True)
        return g.read_file("/etc/hostname").decode()


def session_cli(cli: str, img: Path) -> str:
    out = subprocess.run(
        [cli, "--ro", "--format=raw", "-a", str(img), "-i", "cat", "/etc/hostname"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def sessions(img: Path, cli: str | None, rounds: int) -> None:
    def timed(f):
        times = []
        for _ in range(rounds):
            t = time.perf_counter()
            out = f()
            times.append(time.perf_counter() - t)
            assert out.strip() == "benchguest", out
        return statistics.median(times)

    py = timed(lambda: session_py(img))
    print(f"session (attach ro, inspect, mount, read a file, shut down), median of {rounds}:")
    print(f"  Python                           {py * 1e3:8.2f} ms")
    if cli:
        c = timed(lambda: session_cli(cli, img))
        print(f"  vmcraft command line             {c * 1e3:8.2f} ms")


def serve(tmp: Path) -> None:
    """Answer the benchmark driver (see the module's documentation)."""
    img = guest(tmp)
    print(f"ready {img}", flush=True)
    with vmcraft.VMCraft() as g:
        g.add_drive_opts(str(img), readonly=True, format="raw")
        g.launch()
        dev = "/dev/sda"
        for line in sys.stdin:
            req = line.split()
            if not req or req[0] == "quit":
                break
            if req[0] == "py":
                n = int(req[1])
                t = time.perf_counter()
                for _ in range(n):
                    out = g.vfs_type(dev)
                took = time.perf_counter() - t
            elif req[0] == "rust":
                n = int(req[1])
                took = g._bench_invoke("vfs_type", (dev,), None, n) * n
                out = g.vfs_type(dev)
            elif req[0] == "session":
                t = time.perf_counter()
                out = session_py(img).strip()
                took = time.perf_counter() - t
            else:
                raise SystemExit(f"bench.py: unknown request {line!r}")
            print(f"{took:.9f} {out}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", metavar="DIR", help="answer the benchmark driver (see above)")
    ap.add_argument("--cli", help="the vmcraft binary (default: target/release/vmcraft if built)")
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=10)
    a = ap.parse_args()
    if a.serve:
        return serve(Path(a.serve))
    cli = a.cli
    if cli is None:
        for p in ("target/release/vmcraft", "target/debug/vmcraft"):
            cand = Path(__file__).resolve().parents[2] / p
            if cand.exists():
                cli = str(cand)
                break
    print(f"vmcraft {vmcraft.__version__} ({Path(vmcraft._native.__file__).name}); CLI: {cli}")
    with tempfile.TemporaryDirectory() as d:
        img = guest(Path(d))
        per_call(img, a.calls)
        sessions(img, cli, a.rounds)


if __name__ == "__main__":
    sys.exit(main())
