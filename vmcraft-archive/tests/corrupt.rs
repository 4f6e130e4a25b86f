//! Truncated, corrupt, arbitrary and mutated archives: a clear error or a clean
//! extraction inside the root, never a panic, never a change outside the root;
//! and with verification (the default for files) a refused archive changes
//! nothing at all. The proptests here run the fuzz target's property in every
//! test run.

mod common;

use std::path::Path;

use common::{RawTar, Snap, make_sentinel, snapshot, tree_hash, write_file};
use proptest::prelude::*;
use vmcraft_archive::{
    Compression, ErrorKind, GuestRoot, TarInOptions, TarOutOptions, tar_in, tar_in_from, tar_out_to,
};
use vmcraft_block::testing::TestEnv;

/// A small valid archive of a tree with a bit of everything.
fn sample_archive(env: &TestEnv, compress: Compression) -> Vec<u8> {
    let src = env.path().join("sample-src");
    std::fs::create_dir_all(&src).unwrap();
    let root = GuestRoot::open(&src).unwrap();
    if !root.exists("/d").unwrap() {
        root.mkdir_p("/d/e", 0o755).unwrap();
        root.write("/d/f", &vec![b'x'; 3000]).unwrap();
        root.write("/g", b"small").unwrap();
        root.ln_s("/d/f", "/l").unwrap();
        root.ln("/g", "/d/h").unwrap();
        root.write(format!("/{}", "n".repeat(150)), b"long")
            .unwrap();
        root.lsetxattr("user.a", b"b", "/g").unwrap();
    }
    let mut out = Vec::new();
    let opts = TarOutOptions {
        compress,
        xattrs: true,
        ..Default::default()
    };
    tar_out_to(&root, "/", &mut out, &opts).unwrap();
    out
}

#[test]
fn truncated_archives_fail_cleanly_and_change_nothing() {
    let env = TestEnv::new("corrupt-trunc");
    let dest = env.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let root = GuestRoot::open(&dest).unwrap();
    for c in [
        Compression::None,
        Compression::Gzip,
        Compression::Xz,
        Compression::Zstd,
        Compression::Bzip2,
    ] {
        let full = sample_archive(&env, c);
        let cuts: Vec<usize> = if c == Compression::None {
            (1..full.len() / 512)
                .map(|b| b * 512)
                .chain([100, 513, 2000, 4000])
                .collect()
        } else {
            (1..16).map(|i| full.len() * i / 16).collect()
        };
        for cut in cuts {
            let before = snapshot(&dest, Snap::ALL);
            let path = write_file(env.path(), "cut.tar", &full[..cut]);
            match tar_in(&root, &path, "/", &TarInOptions::default()) {
                Err(e) => {
                    assert!(
                        matches!(e.kind(), ErrorKind::Corrupt),
                        "{c} cut at {cut}: {e} ({:?})",
                        e.kind()
                    );
                    assert!(e.to_string().starts_with("tar_in: "), "{e}");
                    assert_eq!(
                        before,
                        snapshot(&dest, Snap::ALL),
                        "{c} cut at {cut}: refused but changed"
                    );
                }
                // Cut exactly between entries: a shorter archive, extracted.
                Ok(_) => assert_eq!(
                    c,
                    Compression::None,
                    "a truncated {c} stream was accepted (cut {cut})"
                ),
            }
            root.rm_rf("/d").unwrap();
            for n in root.ls("/").unwrap() {
                root.rm_rf(format!("/{n}")).unwrap();
            }
        }
    }
}

/// Without `verify_first` the archive is decompressed on a thread of its own
/// while it is extracted: a truncated or damaged compressed stream must still be
/// refused as corrupt (what was extracted before the damage stays, inside the
/// root), and the decompressing thread must stop with it.
#[test]
fn single_pass_compressed_archives_fail_cleanly() {
    let env = TestEnv::new("corrupt-single-pass");
    let dest = env.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let root = GuestRoot::open(&dest).unwrap();
    let opts = TarInOptions {
        verify_first: false,
        ..Default::default()
    };
    for c in [
        Compression::Gzip,
        Compression::Xz,
        Compression::Zstd,
        Compression::Bzip2,
    ] {
        let full = sample_archive(&env, c);
        // The whole archive goes in.
        let path = write_file(env.path(), "whole.tar", &full);
        tar_in(&root, &path, "/", &opts).unwrap();
        assert!(!root.ls("/").unwrap().is_empty(), "{c}: nothing extracted");
        let mut damaged: Vec<(String, Vec<u8>)> = (1..8)
            .map(|i| (format!("cut at {i}/8"), full[..full.len() * i / 8].to_vec()))
            .collect();
        let mut flipped = full.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0xff;
        damaged.push(("a flipped byte".into(), flipped));
        for (what, bytes) in damaged {
            for n in root.ls("/").unwrap() {
                root.rm_rf(format!("/{n}")).unwrap();
            }
            let path = write_file(env.path(), "bad.tar", &bytes);
            let e = tar_in(&root, &path, "/", &opts).unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::Corrupt),
                "{c}, {what}: {e} ({:?})",
                e.kind()
            );
            assert!(e.to_string().starts_with("tar_in: "), "{e}");
        }
    }
}

#[test]
fn corrupt_headers_name_the_problem() {
    let env = TestEnv::new("corrupt-hdr");
    let root = GuestRoot::open(env.path()).unwrap();
    let mut data = RawTar::default().file("./a", b"1").finish();
    data[148] ^= 0x11; // checksum
    let err = tar_in_from(&root, &data[..], "/", &TarInOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupt);
    assert_eq!(
        err.to_string(),
        "tar_in: /: bad header checksum at offset 0"
    );
    let err = tar_in_from(
        &root,
        &[0x1f, 0x8b, 8, 0, 1, 2, 3][..],
        "/",
        &TarInOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupt, "{err}");
    // An explicit compression that does not match.
    let plain = RawTar::default().file("./a", b"1").finish();
    let opts = TarInOptions {
        compress: Some(Compression::Xz),
        ..Default::default()
    };
    assert_eq!(
        tar_in_from(&root, &plain[..], "/", &opts)
            .unwrap_err()
            .kind(),
        ErrorKind::Corrupt
    );
    // Target directory problems.
    let err = tar_in_from(&root, &plain[..], "/missing", &TarInOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    root.write("/file", b"").unwrap();
    let err = tar_in_from(&root, &plain[..], "/file", &TarInOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType);
    assert_eq!(err.to_string(), "tar_in: /file: not a directory");
    let opts = TarInOptions {
        create_dir: true,
        ..Default::default()
    };
    tar_in_from(&root, &plain[..], "/made/here", &opts).unwrap();
    assert_eq!(root.read_file("/made/here/a").unwrap(), b"1");
    // tar_out of a file, and of nothing.
    let err = tar_out_to(&root, "/file", Vec::new(), &TarOutOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "tar_out: /file: not a directory");
    assert_eq!(
        tar_out_to(&root, "/nope", Vec::new(), &TarOutOptions::default())
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

fn check_stays_inside(data: &[u8], verify: bool) {
    let env = TestEnv::new("corrupt-prop");
    let sentinel = env.path().join("sentinel");
    let hash = make_sentinel(&sentinel);
    let dest = env.path().join("root");
    std::fs::create_dir(&dest).unwrap();
    let root = GuestRoot::open(&dest).unwrap();
    root.write("/pre-existing", b"keep").unwrap();
    let before = snapshot(&dest, Snap::ALL);
    let res = if verify {
        let path = write_file(env.path(), "in.tar", data);
        tar_in(&root, &path, "/", &TarInOptions::default())
    } else {
        tar_in_from(&root, data, "/", &TarInOptions::default())
    };
    if verify && res.is_err() {
        assert_eq!(
            before,
            snapshot(&dest, Snap::ALL),
            "refused after verification, but changed: {res:?}"
        );
    }
    assert_eq!(
        tree_hash(&sentinel),
        hash,
        "the sentinel outside the root changed"
    );
    assert!(Path::new(&dest).exists());
}

fn mutated(base: &[u8], edits: &[(usize, u8)]) -> Vec<u8> {
    let mut d = base.to_vec();
    for &(pos, val) in edits {
        let len = d.len();
        d[pos % len] = val;
    }
    d
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_escape_or_panic(data in proptest::collection::vec(any::<u8>(), 0..4096), verify in any::<bool>()) {
        check_stays_inside(&data, verify);
    }

    #[test]
    fn mutated_archives_never_escape_or_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..12),
        verify in any::<bool>(),
        format in 0usize..3,
    ) {
        let env = TestEnv::new("corrupt-base");
        let c = [Compression::None, Compression::Gzip, Compression::Zstd][format];
        let base = sample_archive(&env, c);
        // Mostly hit the headers of a plain archive, where the structure is.
        let edits: Vec<(usize, u8)> = if c == Compression::None {
            edits.into_iter().map(|(p, v)| if p % 3 == 0 { (p, v) } else { ((p % 4) * 512 + p % 512, v) }).collect()
        } else {
            edits
        };
        check_stays_inside(&mutated(&base, &edits), verify);
    }
}
