//! Fuzz `tar_in`: any byte string, extracted into a fresh guest root beside a
//! sentinel file, must give `Ok` or an error, never a panic, and must never
//! touch the sentinel outside the root.
//!
//! Run with `cargo fuzz run tar_in corpus/tar_in seeds/tar_in` from
//! `vmcraft-archive/fuzz` (nightly, or `RUSTC_BOOTSTRAP=1` on stable). The seeds
//! are archives GNU tar and Python's tarfile made: old GNU sparse entries with
//! extension blocks, long names, POSIX xattr records (plain and xz), and symlinks
//! an entry is extracted through (`l -> /etc`, `l/cron.d/x`). The same property
//! runs on every test run as a proptest in `tests/corrupt.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vmcraft_archive::{GuestRoot, TarInOptions, tar_in_from};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("temp dir");
    let sentinel = dir.path().join("sentinel");
    std::fs::write(&sentinel, b"sentinel").expect("sentinel");
    let guest = dir.path().join("root");
    std::fs::create_dir(&guest).expect("root");
    let root = GuestRoot::open(&guest).expect("guest root");
    let _ = tar_in_from(&root, data, "/", &TarInOptions::default());
    assert_eq!(std::fs::read(&sentinel).expect("sentinel still there"), b"sentinel");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), 2, "something was created beside the root: {names:?}");
});
