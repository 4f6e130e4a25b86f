//! `cargo xtask fuzz [SECONDS] [TARGET]`: run every cargo-fuzz target of the
//! workspace for a while each (`vmcraft-part/fuzz`: reading a partition table
//! from arbitrary bytes; `vmcraft-archive/fuzz`: `tar_in` on arbitrary archives;
//! `vmcraft-nbd/fuzz`: image headers, and VMDK descriptors against glibc's own
//! `sscanf` as qemu calls it; `vmcraft-fs/fuzz`: an image's bytes through the
//! in-process readers; `vmcraft/fuzz`: the rpm databases inspection reads;
//! `vmcraft-hivex/fuzz`: registry hives through libhivex),
//! starting from the target's committed seeds
//! (`fuzz/seeds/TARGET`) where there are some. `cargo xtask test` runs each
//! briefly.
//! Every fuzz crate builds into the one `target/fuzz`.
//! Installs cargo-fuzz when it is missing; libFuzzer's sanitizer flags need a
//! nightly compiler, which `RUSTC_BOOTSTRAP=1` stands in for on stable.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util;

/// (fuzz directory, target) pairs.
const TARGETS: &[(&str, &str)] = &[
    ("vmcraft-part/fuzz", "read_table"),
    ("vmcraft-archive/fuzz", "tar_in"),
    ("vmcraft-nbd/fuzz", "inspect_image"),
    ("vmcraft-nbd/fuzz", "vmdk_descriptor"),
    ("vmcraft-lvm/fuzz", "lvm_reports"),
    ("vmcraft-fs/fuzz", "read_image"),
    ("vmcraft/fuzz", "rpmdb"),
    ("vmcraft-hivex/fuzz", "open_hive"),
];

pub fn run(args: &[String]) -> Result<()> {
    fuzz(args, false)
}

/// Every target for `seconds` each, libFuzzer's running commentary kept in
/// `target/fuzz-logs/TARGET.log` and shown (its tail) only when a target fails:
/// what `cargo xtask test` runs.
pub fn run_quietly(seconds: u64) -> Result<()> {
    fuzz(&[seconds.to_string()], true)
}

fn fuzz(args: &[String], quiet: bool) -> Result<()> {
    let seconds: u64 = match args.first() {
        Some(s) => s
            .parse()
            .with_context(|| format!("SECONDS must be a number, not `{s}`"))?,
        None => 60,
    };
    let only = args.get(1).map(String::as_str);
    if let Some(t) = only
        && !TARGETS.iter().any(|(_, n)| *n == t)
    {
        let names: Vec<&str> = TARGETS.iter().map(|(_, n)| *n).collect();
        bail!("unknown fuzz target `{t}` (known: {})", names.join(", "));
    }
    let has_fuzz = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_fuzz {
        util::run(Command::new("cargo").args(["install", "--locked", "cargo-fuzz"]))?;
    }
    let root = util::root();
    for (dir, target) in TARGETS.iter().filter(|(_, n)| only.is_none_or(|o| o == *n)) {
        let crate_dir = root
            .join(dir)
            .parent()
            .expect("fuzz dir has a parent")
            .to_path_buf();
        let fuzz_dir = root.join(dir);
        let corpus = fuzz_dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus)?;
        let mut cmd = Command::new("cargo");
        // One target directory for every fuzz crate: what they share (the
        // sanitized std-side crates, libfuzzer-sys, the vmcraft crates under
        // each other) is built once and kept once, not once per crate.
        cmd.current_dir(&crate_dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", "--target-dir"])
            .arg(root.join("target").join("fuzz"))
            .arg(target)
            .arg(&corpus);
        let seeds = fuzz_dir.join("seeds").join(target);
        if seeds.is_dir() {
            cmd.arg(&seeds);
        }
        cmd.args(["--", &format!("-max_total_time={seconds}")]);
        if quiet {
            run_logged(&mut cmd, &root.join("target/fuzz-logs"), target)?;
        } else {
            util::run(&mut cmd)?;
        }
    }
    Ok(())
}

/// Run `cmd` with its output in `dir/NAME.log`; on failure, the log's tail goes to
/// stderr and the error names the log.
fn run_logged(cmd: &mut Command, dir: &std::path::Path, name: &str) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let log = dir.join(format!("{name}.log"));
    let file = std::fs::File::create(&log)?;
    eprintln!("xtask: $ {} > {}", util::show(cmd), log.display());
    let status = cmd
        .stdout(file.try_clone()?)
        .stderr(file)
        .status()
        .with_context(|| format!("running {}", util::show(cmd)))?;
    if status.success() {
        return Ok(());
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    for l in &lines[lines.len().saturating_sub(60)..] {
        eprintln!("{l}");
    }
    bail!(
        "fuzz target {name} failed ({status}); its whole output is in {}",
        log.display()
    )
}
