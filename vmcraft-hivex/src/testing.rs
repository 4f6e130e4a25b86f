//! Test fixtures: a blank hive written from the documented regf layout (no
//! Debian tool creates an empty hive), filled from `.reg` text with
//! `hivexregedit --merge` (Debian's `libwin-hivex-perl`), and the oracles
//! `hivexsh` and `hivexget` (`libhivex-bin`). Used by this crate's tests and by
//! the facade's and the command line's; not a stable API.
//!
//! The blank hive is 8 KiB: a base block (`regf`, sequence numbers 1/1, version
//! 1.3, root cell at bin offset 0x20, one 4 KiB bin, the XOR checksum), then one
//! `hbin` holding the root `nk` cell (named `ROOT`, flagged as the hive's root,
//! no subkeys or values), its `sk` security cell (a minimal self-relative
//! security descriptor, referenced once, its own list), and a free cell over
//! the rest of the bin.

use std::path::Path;
use std::process::Command;

use crate::layout::{BASE_BLOCK, CHECKSUM_AT, checksum};

/// A fixed FILETIME (2020-01-01) so that blank hives are byte-identical.
const FILETIME: u64 = 132_223_104_000_000_000;
/// The root key's name.
pub const ROOT_NAME: &str = "ROOT";

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Recompute the base block's checksum of a hive image in memory (after a test
/// changed a header field on purpose).
pub fn fix_checksum(hive: &mut [u8]) {
    let sum = checksum(&hive[..512]);
    put32(hive, CHECKSUM_AT, sum);
}

/// The bytes of a blank hive (8 KiB).
pub fn blank_hive() -> Vec<u8> {
    const BIN: usize = 0x1000;
    let mut h = vec![0u8; BASE_BLOCK as usize + BIN];
    // Base block.
    h[0..4].copy_from_slice(b"regf");
    put32(&mut h, 0x04, 1); // primary sequence number
    put32(&mut h, 0x08, 1); // secondary sequence number
    put64(&mut h, 0x0c, FILETIME); // last written
    put32(&mut h, 0x14, 1); // major version
    put32(&mut h, 0x18, 3); // minor version
    put32(&mut h, 0x1c, 0); // file type: primary
    put32(&mut h, 0x20, 1); // file format: direct memory load
    put32(&mut h, 0x24, 0x20); // root cell offset (from the first bin)
    put32(&mut h, 0x28, BIN as u32); // hive bins data size
    put32(&mut h, 0x2c, 1); // clustering factor
    for (i, u) in "vmcraft-blank".encode_utf16().enumerate() {
        put16(&mut h, 0x30 + 2 * i, u); // file name (UTF-16LE, 64 bytes)
    }
    // The bin.
    let b = BASE_BLOCK as usize;
    h[b..b + 4].copy_from_slice(b"hbin");
    put32(&mut h, b + 4, 0); // its offset from the first bin
    put32(&mut h, b + 8, BIN as u32); // its size
    put64(&mut h, b + 0x14, FILETIME);
    // Root nk cell at bin offset 0x20: a 4-byte size (negative: allocated),
    // then the 76-byte nk header and the name.
    let nk_off = 0x20usize;
    let nk_len = (4 + 76 + ROOT_NAME.len()).next_multiple_of(8);
    let sk_off = nk_off + nk_len;
    let n = b + nk_off;
    put32(&mut h, n, (-(nk_len as i32)) as u32);
    let k = n + 4;
    h[k..k + 2].copy_from_slice(b"nk");
    put16(&mut h, k + 2, 0x04 | 0x08 | 0x20); // hive entry, no delete, ASCII name
    put64(&mut h, k + 4, FILETIME);
    put32(&mut h, k + 0x10, 0); // parent (none)
    put32(&mut h, k + 0x14, 0); // subkeys
    put32(&mut h, k + 0x18, 0); // volatile subkeys
    put32(&mut h, k + 0x1c, u32::MAX); // subkey list
    put32(&mut h, k + 0x20, u32::MAX); // volatile subkey list
    put32(&mut h, k + 0x24, 0); // values
    put32(&mut h, k + 0x28, u32::MAX); // value list
    put32(&mut h, k + 0x2c, sk_off as u32); // security
    put32(&mut h, k + 0x30, u32::MAX); // class name
    put16(&mut h, k + 0x48, ROOT_NAME.len() as u16);
    put16(&mut h, k + 0x4a, 0);
    h[k + 0x4c..k + 0x4c + ROOT_NAME.len()].copy_from_slice(ROOT_NAME.as_bytes());
    // sk cell: header (20 bytes) and a 20-byte self-relative security
    // descriptor with no owner, group or ACLs.
    let sd_len = 20usize;
    let sk_len = (4 + 20 + sd_len).next_multiple_of(8);
    let s = b + sk_off;
    put32(&mut h, s, (-(sk_len as i32)) as u32);
    let k = s + 4;
    h[k..k + 2].copy_from_slice(b"sk");
    put32(&mut h, k + 4, sk_off as u32); // flink: itself
    put32(&mut h, k + 8, sk_off as u32); // blink: itself
    put32(&mut h, k + 12, 1); // reference count
    put32(&mut h, k + 16, sd_len as u32);
    h[k + 20] = 1; // revision
    put16(&mut h, k + 22, 0x8000); // SE_SELF_RELATIVE
    // The rest of the bin: one free cell (positive size).
    let free_off = sk_off + sk_len;
    put32(&mut h, b + free_off, (BIN - free_off) as u32);
    fix_checksum(&mut h);
    h
}

/// Write a blank hive to `path`.
pub fn write_blank_hive(path: &Path) -> std::io::Result<()> {
    std::fs::write(path, blank_hive())
}

/// Whether a program is on `PATH`.
fn have(program: &str) -> bool {
    Command::new(program).arg("--help").output().is_ok()
}

/// Whether `hivexregedit`, `hivexsh` and `hivexget` are installed; otherwise
/// say `skipping: REASON` on standard error (and panic under
/// `VMCRAFT_TEST_STRICT=1`, where setup must have installed them).
pub fn require_hivex_tools(test: &str) -> bool {
    let missing: Vec<&str> = ["hivexregedit", "hivexsh", "hivexget"]
        .into_iter()
        .filter(|p| !have(p))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "skipping: {test}: {} not installed (libhivex-bin, libwin-hivex-perl)",
        missing.join(", ")
    );
    if std::env::var_os("VMCRAFT_TEST_STRICT").is_some_and(|v| v == "1") {
        panic!("{msg} (VMCRAFT_TEST_STRICT=1)");
    }
    eprintln!("{msg}");
    false
}

fn run(cmd: &mut Command) -> std::io::Result<String> {
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "{cmd:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `reg` with an empty section before each key for every ancestor (below
/// `prefix`) not named before it: `hivexregedit --merge` creates a key only
/// under a parent that exists.
pub fn with_parents(prefix: &str, reg: &str) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut out = String::new();
    for line in reg.lines() {
        let t = line.trim();
        if let Some(key) = t.strip_prefix('[').and_then(|k| k.strip_suffix(']'))
            && !key.starts_with('-')
            && let Some(rest) = key.strip_prefix(prefix)
        {
            let mut cur = prefix.to_string();
            let parts: Vec<&str> = rest.split('\\').filter(|p| !p.is_empty()).collect();
            for (i, part) in parts.iter().enumerate() {
                cur.push('\\');
                cur.push_str(part);
                let is_last = i + 1 == parts.len();
                if seen.insert(cur.to_ascii_lowercase()) && !is_last {
                    out.push_str(&format!("[{cur}]\n\n"));
                }
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Merge `.reg` text (`Windows Registry Editor Version 5.00` format, keys under
/// `prefix`, e.g. `HKEY_LOCAL_MACHINE\SYSTEM`) into the hive at `path` with
/// `hivexregedit --merge`; keys whose parents the text does not name get them
/// ([`with_parents`]).
pub fn merge_reg(path: &Path, prefix: &str, reg: &str) -> std::io::Result<()> {
    let reg = with_parents(prefix, reg);
    let dir = path.parent().unwrap_or(Path::new("."));
    let regfile = dir.join(format!(
        ".merge-{}-{}.reg",
        std::process::id(),
        path.file_name().and_then(|n| n.to_str()).unwrap_or("hive")
    ));
    std::fs::write(&regfile, reg)?;
    let r = run(Command::new("hivexregedit")
        .arg("--merge")
        .arg("--prefix")
        .arg(prefix)
        .arg(path)
        .arg(&regfile));
    let _ = std::fs::remove_file(&regfile);
    r.map(|_| ())
}

/// A blank hive at `path`, filled from `reg` (see [`merge_reg`]).
pub fn make_hive(path: &Path, prefix: &str, reg: &str) -> std::io::Result<()> {
    write_blank_hive(path)?;
    merge_reg(path, prefix, reg)
}

/// `hivexsh`'s output for `script` (commands one a line) on the hive at `path`
/// (`-w` when `write`).
pub fn hivexsh(path: &Path, write: bool, script: &str) -> std::io::Result<String> {
    use std::io::Write;
    let mut cmd = Command::new("hivexsh");
    if write {
        cmd.arg("-w");
    }
    // Commands come from standard input when it is not a terminal.
    let mut child = cmd
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "hivexsh: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `hivexget HIVE KEY [NAME]`'s output.
pub fn hivexget(path: &Path, key: &str, name: Option<&str>) -> std::io::Result<String> {
    let mut cmd = Command::new("hivexget");
    cmd.arg(path).arg(key);
    if let Some(n) = name {
        cmd.arg(n);
    }
    run(&mut cmd)
}

/// `hivexregedit --export`'s `.reg` text of the key `key` (`\` for the root).
pub fn export_reg(path: &Path, prefix: &str, key: &str) -> std::io::Result<String> {
    run(Command::new("hivexregedit")
        .arg("--export")
        .arg("--prefix")
        .arg(prefix)
        .arg(path)
        .arg(key))
}
