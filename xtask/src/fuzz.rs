//! `cargo xtask fuzz [SECONDS] [TARGET]`: run every cargo-fuzz target of the
//! workspace (`vmcraft-part/fuzz`: reading a partition table from arbitrary bytes;
//! `vmcraft-archive/fuzz`: `tar_in` on arbitrary archives) for a while each.
//! Installs cargo-fuzz when it is missing; libFuzzer's sanitizer flags need a
//! nightly compiler, which `RUSTC_BOOTSTRAP=1` stands in for on stable.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util;

/// (fuzz directory, target) pairs.
const TARGETS: &[(&str, &str)] = &[
    ("vmcraft-part/fuzz", "read_table"),
    ("vmcraft-archive/fuzz", "tar_in"),
];

pub fn run(args: &[String]) -> Result<()> {
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
        util::run(
            Command::new("cargo")
                .current_dir(&crate_dir)
                .env("RUSTC_BOOTSTRAP", "1")
                .args([
                    "fuzz",
                    "run",
                    target,
                    "--",
                    &format!("-max_total_time={seconds}"),
                ]),
        )?;
    }
    Ok(())
}
