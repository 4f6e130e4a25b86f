//! `cargo xtask test`: setup when something is missing, then every test of the
//! workspace in strict mode (`VMCRAFT_TEST_STRICT=1`: a test that would skip for a
//! missing tool or missing root fails instead), the kernel tier (`cargo xtask
//! test-kernel`: the tests that need nbd, device-mapper, md or the kernel's vfat,
//! inside a virtual machine), doctests, the Python binding's pytest suite, the demo, the quick
//! side-by-side bench (`cargo xtask bench --quick`: it fails only when a workload's
//! result is wrong, never on a time), every fuzz target for a short while, and at
//! the end the list of tests that
//! skipped because the host kernel lacks a feature (the `kernel_tier*` tests are
//! not run on the host: the tier runs them), and a check that the work tree
//! is as the suite found it (see [`crate::tree`]).

use std::process::Command;

use anyhow::{Result, bail};

use crate::{setup, tree, util};

/// How long `cargo xtask test` fuzzes each target.
const FUZZ_SECONDS: u64 = 20;

pub fn run(args: &[String]) -> Result<()> {
    if !setup::missing().is_empty() || !crate::kernel::virtme_ng_installed() {
        setup::run(&[])?;
    }
    let root = util::root();
    // What the tree holds before the tests; after them it must hold the same.
    let tree_before = tree::Snapshot::take(&root)?;
    let skip_log = root.join("target").join("vmcraft-skips.log");
    std::fs::create_dir_all(root.join("target"))?;
    let _ = std::fs::remove_file(&skip_log);

    let with_env = |c: &mut Command| {
        c.current_dir(&root)
            .env("VMCRAFT_TEST_STRICT", "1")
            .env("VMCRAFT_SKIP_LOG", &skip_log)
            .env("RUST_BACKTRACE", "1");
    };
    let mut failures = Vec::new();

    let mut tests = Command::new("cargo");
    if has_nextest() {
        tests.args([
            "nextest",
            "run",
            "--workspace",
            "--no-fail-fast",
            "--failure-output",
            "final",
        ]);
        // The kernel_tier* tests run for real in the kernel tier below; here
        // they would only skip for what this host's kernel lacks.
        if args.is_empty() {
            tests.args(["-E", "not binary(/^kernel_tier/)"]);
        }
    } else {
        tests.args(["test", "--workspace", "--no-fail-fast"]);
    }
    tests.args(args);
    with_env(&mut tests);
    if let Err(e) = util::run(&mut tests) {
        failures.push(e.to_string());
    }

    let mut doc = Command::new("cargo");
    doc.args(["test", "--workspace", "--doc"]);
    with_env(&mut doc);
    if let Err(e) = util::run(&mut doc) {
        failures.push(e.to_string());
    }

    // The Python binding: built into a virtual environment, its pytest suite on
    // real images (see `python.rs`).
    if let Err(e) = crate::python::test(&with_env) {
        failures.push(format!("python binding tests: {e:#}"));
    }

    // The kernel tier: the tests that skipped above for a missing kernel feature,
    // inside Debian's stock kernel (see `kernel.rs`).
    if let Err(e) = crate::kernel::run(&[]) {
        failures.push(format!("cargo xtask test-kernel: {e:#}"));
    }

    // The README's first command must keep working: run the demo as part of the
    // tests (it checks every result it prints).
    if let Err(e) = crate::demo::run(&[]) {
        failures.push(format!("cargo xtask demo: {e:#}"));
    }

    // The parsers of hostile input stay fuzzed: every target for a short while
    // (a crash fails the run and leaves its input under fuzz/artifacts).
    if let Err(e) = crate::fuzz::run_quietly(FUZZ_SECONDS) {
        failures.push(format!("cargo xtask fuzz {FUZZ_SECONDS}: {e:#}"));
    }

    // Every benchmark workload checks its result before its time counts: run
    // them small, so that a wrong answer on the fast paths fails CI.
    if let Err(e) = crate::bench::run(&["--quick".to_string()]) {
        failures.push(format!("cargo xtask bench --quick: {e:#}"));
    }

    match &tree_before {
        Some(before) => match before.check_unchanged() {
            Ok(()) => eprintln!("\nxtask: the work tree is as the suite found it"),
            Err(e) => failures.push(format!("{e:#}")),
        },
        None => eprintln!("\nxtask: not a git checkout: the work tree was not checked"),
    }

    match std::fs::read_to_string(&skip_log) {
        Ok(s) if !s.trim().is_empty() => {
            let mut lines: Vec<&str> = s.lines().collect();
            lines.sort();
            lines.dedup();
            eprintln!(
                "\nxtask: tests skipped for what this host lacks ({}):",
                lines.len()
            );
            for l in lines {
                eprintln!("  {l}");
            }
        }
        _ => eprintln!("\nxtask: no test skipped"),
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    eprintln!("xtask: all tests passed");
    Ok(())
}

fn has_nextest() -> bool {
    Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}
