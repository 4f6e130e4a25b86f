//! Helpers shared by the privileged lvm2 tests: sessions on loop devices, hashes
//! of device heads, the LVM label check, a snapshot of the host's `/etc/lvm`.

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use vmcraft_block::SystemRunner;
use vmcraft_block::testing::{LoopFixture, require_root, require_tool};
use vmcraft_lvm::{Lvm, LvmOptions};

pub const MIB: u64 = 1 << 20;

/// Root and lvm2, or a loud skip (a failure in strict mode).
pub fn can_run(what: &str) -> bool {
    require_root(what) && require_tool("lvm")
}

/// A loop device on a fresh sparse image.
pub fn loop_device(label: &str, size: u64) -> LoopFixture {
    LoopFixture::new(label, size).expect("root was checked")
}

/// A real session over `devices`, without the production timeout (tests put no
/// wall-clock limit on anything).
pub fn session(devices: &[&Path]) -> Lvm {
    let opts = LvmOptions {
        timeout: None,
        ..LvmOptions::default()
    };
    Lvm::with_options(Arc::new(SystemRunner::new()), devices.iter().copied(), opts)
        .expect("lvm session")
}

/// SHA-256 of the first `len` bytes of a device (where LVM keeps its label and
/// metadata).
pub fn head_hash(device: &Path, len: usize) -> Vec<u8> {
    let mut f = std::fs::File::open(device).expect("open device");
    let mut buf = vec![0u8; len];
    f.read_exact(&mut buf).expect("read device head");
    Sha256::digest(&buf).to_vec()
}

/// Whether an LVM2 label (`LABELONE`) is in one of the first four sectors.
pub fn has_lvm_label(device: &Path) -> bool {
    let mut f = std::fs::File::open(device).expect("open device");
    let mut buf = vec![0u8; 2048];
    f.read_exact(&mut buf).expect("read label sectors");
    buf.chunks(512).any(|s| s.starts_with(b"LABELONE"))
}

/// Every file under the host's lvm2 configuration and state directories
/// (`/etc/lvm`, `/run/lvm`, `/run/lock/lvm`) with its contents hash, to prove a
/// session never writes there.
pub fn host_lvm_state() -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.push((p.clone(), Vec::new()));
                walk(&p, out);
            } else {
                let data = std::fs::read(&p).unwrap_or_default();
                out.push((p, Sha256::digest(&data).to_vec()));
            }
        }
    }
    let mut out = Vec::new();
    for dir in ["/etc/lvm", "/run/lvm", "/run/lock/lvm"] {
        walk(Path::new(dir), &mut out);
    }
    out.sort();
    out
}

/// Files (recursively) under `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The path as a `String`.
pub fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
