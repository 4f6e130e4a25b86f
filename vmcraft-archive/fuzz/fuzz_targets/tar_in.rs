//! Fuzz `tar_in`: any byte string, extracted into a fresh guest root beside a
//! sentinel file, must give `Ok` or an error, never a panic, and must never
//! touch the sentinel outside the root.
//!
//! Run with `cargo fuzz run tar_in corpus/tar_in seeds/tar_in` from
//! `vmcraft-archive/fuzz` (nightly, or `RUSTC_BOOTSTRAP=1` on stable). The seeds
//! are archives GNU tar and Python's tarfile made: old GNU sparse entries with
//! extension blocks, long names, POSIX xattr records (plain and xz), and symlinks
//! an entry is extracted through (`l -> /etc`, `l/cron.d/x`), PAX sparse files
//! of formats 0.0, 0.1 and 1.0. The same property runs on every test run as a
//! proptest in `tests/corrupt.rs`.
//!
//! The bytes are also extracted from a file with `verify_first`: the check
//! pass and extraction share one reader and one check, so a call refused for
//! what the archive is (corrupt, unsafe, over a limit, unsupported) must have
//! been refused by the check, with the guest unchanged. (What depends on the
//! tree as it is extracted, such as an entry below one of the archive's own
//! symlinks, `l -> /etc` then `l/cron.d/x`, fails during extraction, as in GNU
//! tar.)

#![no_main]

use libfuzzer_sys::fuzz_target;
use vmcraft_archive::{ErrorKind, GuestRoot, TarInOptions, tar_in, tar_in_from};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("temp dir");
    let sentinel = dir.path().join("sentinel");
    std::fs::write(&sentinel, b"sentinel").expect("sentinel");
    let guest = dir.path().join("root");
    std::fs::create_dir(&guest).expect("root");
    let root = GuestRoot::open(&guest).expect("guest root");
    let _ = tar_in_from(&root, data, "/", &TarInOptions::default());
    assert_eq!(std::fs::read(&sentinel).expect("sentinel still there"), b"sentinel");
    // Verified first: refused means untouched.
    let checked = dir.path().join("checked");
    std::fs::create_dir(&checked).expect("checked root");
    let tarball = tempfile::NamedTempFile::new().expect("archive file");
    std::fs::write(tarball.path(), data).expect("archive");
    let croot = GuestRoot::open(&checked).expect("guest root");
    if let Err(e) = tar_in(&croot, tarball.path(), "/", &TarInOptions::default())
        && matches!(
            e.kind(),
            ErrorKind::Corrupt | ErrorKind::Unsafe | ErrorKind::LimitExceeded | ErrorKind::Unsupported
        )
    {
        let left: Vec<_> = std::fs::read_dir(&checked).expect("list").collect();
        assert!(left.is_empty(), "refused after writing ({e}): {left:?}");
    }
    std::fs::remove_dir_all(&checked).expect("clean");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), 2, "something was created beside the root: {names:?}");
});
