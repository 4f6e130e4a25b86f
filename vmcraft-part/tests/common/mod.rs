//! Helpers shared by the integration tests: the oracle tools (sgdisk, sfdisk,
//! parted) run through `vmcraft_block`'s `SystemRunner`, image files in a tagged
//! `TestEnv`, and byte-level snapshots.

#![allow(dead_code)]

pub mod forge;
pub mod unit;

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};
use vmcraft_block::testing::{TestEnv, require_tool};
use vmcraft_block::{BlockDevice, Command, CommandRunner, ImageFile, Output, SystemRunner};

/// Run a command line (program first) and return its output, whatever the status.
pub fn run(argv: &[&str]) -> Output {
    SystemRunner::new()
        .execute(&Command::new(argv[0]).args(&argv[1..]))
        .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"))
}

/// Run a command line and require success.
pub fn run_ok(argv: &[&str]) -> Output {
    SystemRunner::new()
        .run(&Command::new(argv[0]).args(&argv[1..]))
        .unwrap_or_else(|e| panic!("{}", vmcraft_block::error_chain(&e)))
}

/// `true` when every oracle tool is installed (a loud skip otherwise).
pub fn oracles() -> bool {
    ["sgdisk", "sfdisk", "parted"]
        .iter()
        .all(|t| require_tool(t))
}

/// A sparse image of `size` bytes in `env`, opened read-write.
pub fn image(env: &TestEnv, name: &str, size: u64) -> (PathBuf, ImageFile) {
    let path = env.sparse_image(name, size);
    let dev = ImageFile::open(&path, false).expect("open image");
    (path, dev)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `sgdisk -v` must report no problems.
pub fn sgdisk_verify(img: &Path) {
    let out = run(&["sgdisk", "-v", s(img)]);
    let text = format!("{}{}", out.stdout_str(), out.stderr_trimmed());
    assert!(
        out.status.success() && text.contains("No problems found"),
        "sgdisk -v {}:\n{text}",
        img.display()
    );
}

/// `sfdisk --verify` must report no errors.
pub fn sfdisk_verify(img: &Path) {
    let out = run(&["sfdisk", "--verify", s(img)]);
    let text = format!("{}{}", out.stdout_str(), out.stderr_trimmed());
    assert!(
        out.status.success() && text.contains("No errors detected"),
        "sfdisk --verify {}:\n{text}",
        img.display()
    );
}

/// `sfdisk --json`, parsed: the `partitiontable` object.
pub fn sfdisk_json(img: &Path) -> Value {
    let out = run_ok(&["sfdisk", "--json", s(img)]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("sfdisk json");
    v["partitiontable"].clone()
}

/// sfdisk's partitions as (number, start, size, type) with the number taken from
/// the node name's trailing digits.
pub fn sfdisk_parts(img: &Path) -> Vec<(u32, u64, u64, String)> {
    let t = sfdisk_json(img);
    t["partitions"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or(&[])
        .iter()
        .map(|p| {
            let node = p["node"].as_str().unwrap();
            let digits: String = node
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_digit())
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            (
                digits.parse().unwrap(),
                p["start"].as_u64().unwrap(),
                p["size"].as_u64().unwrap(),
                p["type"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `parted -m -s IMG unit b print`: the device line and the partition lines.
pub fn parted_print(img: &Path, unit: &str) -> (String, Vec<String>) {
    let out = run_ok(&["parted", "-m", "-s", s(img), "unit", unit, "print"]);
    let text = out.stdout_str();
    let mut lines = text.lines().map(str::to_string);
    assert_eq!(lines.next().as_deref(), Some("BYT;"), "{text}");
    let dev = lines.next().expect("device line");
    (dev, lines.collect())
}

/// SHA-256 of the whole device.
pub fn digest(dev: &dyn BlockDevice) -> Vec<u8> {
    let size = dev.size().unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0;
    while off < size {
        let n = (size - off).min(buf.len() as u64) as usize;
        dev.read_at(&mut buf[..n], off).unwrap();
        h.update(&buf[..n]);
        off += n as u64;
    }
    h.finalize().to_vec()
}
