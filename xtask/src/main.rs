//! `cargo xtask`: VMCraft's task runner (reached through the alias in
//! `.cargo/config.toml`). Dependency-light on purpose: it must build before anything
//! else is installed.
//!
//! - `setup`: install, idempotently, the system packages the workspace and its tests
//!   need.
//! - `test`: setup if anything is missing, then every test of the workspace in strict
//!   mode, then the list of tests that skipped for a missing kernel feature; fails if
//!   the suite created or changed a file in the work tree (`git status`).
//! - `test-kernel`: the full-kernel tier alone (see `kernel.rs`): the tests that
//!   need nbd, device-mapper, md or the kernel's vfat and partition parsers, inside
//!   a virtual machine booting Debian's stock kernel.
//! - `demo`: the main job on an image it makes itself.
//! - `fuzz`: run the cargo-fuzz targets for a while each.
//! - `bench`: VMCraft beside its peers, in one run, written to `BENCHMARKS.md`.
//! - `calls`: write `CALLS.md`, the reference of every call, from the call table.
//! - `wheel`: the Python binding's abi3 wheel into `target/wheels` (`--stubs`: write
//!   its type stubs from the call table instead); see `python.rs`.

mod bench;
mod calls;
mod demo;
mod fuzz;
mod kernel;
mod python;
mod setup;
mod test;
mod tree;
mod util;

use anyhow::{Result, bail};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  setup   install the system packages VMCraft and its tests need (idempotent)
  test    setup if needed, then run every test in strict mode (VMCRAFT_TEST_STRICT=1);
          fails if the suite leaves a file created or changed in the git work tree
  test-kernel  the kernel tier alone: the kernel_tier* tests inside Debian's stock
          kernel under qemu-system-x86_64 (TCG) through virtme-ng [-E FILTER]
  demo    run VMCraft's main job on an image it makes itself
  fuzz    run the fuzz targets, [SECONDS] each (default 60) [TARGET]
  bench   VMCraft beside its peers in one run, written to BENCHMARKS.md (--quick for CI)
  calls   write CALLS.md, the reference of every call, from the call table
  wheel   build the Python binding's abi3 wheel into target/wheels
          (--stubs: write vmcraft-python/python/vmcraft/__init__.pyi instead)
";

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = match args.split_first() {
        Some((c, r)) => (c.as_str(), r),
        None => {
            print!("{USAGE}");
            return Ok(());
        }
    };
    match cmd {
        "setup" => setup::run(rest),
        "test" => test::run(rest),
        "test-kernel" => kernel::run(rest),
        "demo" => demo::run(rest),
        "fuzz" => fuzz::run(rest),
        "bench" => bench::run(rest),
        "calls" => calls::run(rest),
        "wheel" => python::wheel(rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}
