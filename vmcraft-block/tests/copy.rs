//! copy_device_to_device and dd_copy on real files and loop devices: correctness in
//! every mode, sparse output, progress, and every refused input leaving the
//! destination unchanged.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use vmcraft_block::testing::{LoopFixture, TestEnv};
use vmcraft_block::*;

/// A sparse image with a few data regions (one straddling a chunk boundary, one
/// containing a zero block).
fn patterned_image(env: &TestEnv, name: &str, size: u64) -> std::path::PathBuf {
    let path = env.sparse_image(name, size);
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    use std::os::unix::fs::FileExt;
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8 + 1).collect();
    f.write_all_at(&data, 4096).unwrap();
    let straddle = if size >= 8 << 20 {
        (4 << 20) - 1000
    } else {
        size / 2 - 150_000
    };
    f.write_all_at(&data, straddle).unwrap();
    let mut with_zero_block = data.clone();
    with_zero_block[8192..16384].fill(0);
    f.write_all_at(&with_zero_block, size - 300_000).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
    path
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

#[test]
fn file_to_file_every_mode_matches_the_source() {
    let env = TestEnv::new("copy-modes");
    let src = patterned_image(&env, "src.img", 16 << 20);
    for sparse in [false, true] {
        let dest = env.path().join(format!("dest-{sparse}.img"));
        let stats = copy_device_to_device(
            &src,
            &dest,
            &CopyOptions {
                sparse,
                create: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(read(&src), read(&dest), "sparse={sparse}");
        assert_eq!(stats.bytes, 16 << 20);
        // Holes are never written: far less than the image is allocated.
        let blocks = std::fs::metadata(&dest).unwrap().blocks() * 512;
        assert!(
            blocks < 4 << 20,
            "sparse={sparse}: {blocks} bytes allocated"
        );
        if sparse {
            assert!(stats.bytes_written < 1 << 20, "{stats:?}");
        }
    }
}

#[test]
fn offsets_and_size_copy_exactly_that_range() {
    let env = TestEnv::new("copy-range");
    let src = patterned_image(&env, "src.img", 8 << 20);
    let dest = env.sparse_image("dest.img", 8 << 20);
    std::fs::write(&dest, vec![0xEE; 8 << 20]).unwrap();
    copy_device_to_device(
        &src,
        &dest,
        &CopyOptions {
            srcoffset: 4000,
            destoffset: 100_000,
            size: Some(500_000),
            ..Default::default()
        },
    )
    .unwrap();
    let (s, d) = (read(&src), read(&dest));
    assert_eq!(&d[100_000..600_000], &s[4000..504_000]);
    assert!(d[..100_000].iter().all(|&b| b == 0xEE));
    assert!(d[600_000..].iter().all(|&b| b == 0xEE));
    assert_eq!(d.len(), 8 << 20, "never truncated");
}

#[test]
fn non_sparse_copy_zeroes_holes_over_old_data() {
    let env = TestEnv::new("copy-holes");
    let src = env.sparse_image("src.img", 2 << 20);
    let dest = env.sparse_image("dest.img", 2 << 20);
    std::fs::write(&dest, vec![0xEE; 2 << 20]).unwrap();
    copy_device_to_device(&src, &dest, &CopyOptions::default()).unwrap();
    assert!(read(&dest).iter().all(|&b| b == 0));
}

#[test]
fn file_destination_grows_but_is_never_shortened() {
    let env = TestEnv::new("copy-grow");
    let src = patterned_image(&env, "src.img", 8 << 20);
    let small = env.sparse_image("small.img", 1 << 20);
    copy_device_to_device(&src, &small, &CopyOptions::default()).unwrap();
    assert_eq!(read(&small), read(&src));
    let big = env.sparse_image("big.img", 32 << 20);
    copy_device_to_device(&src, &big, &CopyOptions::default()).unwrap();
    assert_eq!(std::fs::metadata(&big).unwrap().len(), 32 << 20);
    assert_eq!(&read(&big)[..8 << 20], &read(&src)[..]);
}

#[test]
fn append_writes_after_the_end() {
    let env = TestEnv::new("copy-append");
    let src = patterned_image(&env, "src.img", 8 << 20);
    let dest = env.path().join("dest.img");
    std::fs::write(&dest, b"header").unwrap();
    copy_device_to_device(
        &src,
        &dest,
        &CopyOptions {
            append: true,
            ..Default::default()
        },
    )
    .unwrap();
    let d = read(&dest);
    assert_eq!(&d[..6], b"header");
    assert_eq!(&d[6..], &read(&src)[..]);
}

#[test]
fn progress_reports_reach_the_total() {
    let env = TestEnv::new("copy-progress");
    let src = patterned_image(&env, "src.img", 16 << 20);
    let dest = env.path().join("dest.img");
    let seen = std::cell::RefCell::new(Vec::new());
    let cb = |done: u64, total: u64| seen.borrow_mut().push((done, total));
    copy_device_to_device(
        &src,
        &dest,
        &CopyOptions {
            create: true,
            progress: Some(&cb),
            ..Default::default()
        },
    )
    .unwrap();
    let seen = seen.into_inner();
    assert!(!seen.is_empty());
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "monotonic");
    assert_eq!(*seen.last().unwrap(), (16 << 20, 16 << 20));
}

#[test]
fn loop_device_to_file_and_back() {
    let Some(fx) = LoopFixture::new("copy-loop", 8 << 20) else {
        return;
    };
    let env = fx.env();
    let src = patterned_image(env, "src.img", 8 << 20);
    // file -> device (sparse and dense paths are the same on a device source)
    copy_device_to_device(&src, fx.path(), &CopyOptions::default()).unwrap();
    blockdev_flushbufs(fx.path()).unwrap();
    let out = env.path().join("out.img");
    for sparse in [false, true] {
        let _ = std::fs::remove_file(&out);
        let stats = copy_device_to_device(
            fx.path(),
            &out,
            &CopyOptions {
                sparse,
                create: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(read(&out), read(&src), "sparse={sparse}");
        if sparse {
            assert!(stats.bytes_skipped > 6 << 20, "{stats:?}");
            assert!(std::fs::metadata(&out).unwrap().blocks() * 512 < 2 << 20);
        }
    }
    // dd_copy: 2048 blocks of 512 bytes.
    let dd_out = env.path().join("dd.img");
    std::fs::write(&dd_out, []).unwrap();
    dd_copy(fx.path(), &dd_out, Some(2048), 512).unwrap();
    assert_eq!(read(&dd_out), &read(&src)[..1 << 20]);
}

#[test]
fn device_destination_too_small_is_refused_and_unchanged() {
    let Some(fx) = LoopFixture::new("copy-small", 1 << 20) else {
        return;
    };
    let src = patterned_image(fx.env(), "src.img", 4 << 20);
    let before = read(fx.image());
    let err = copy_device_to_device(&src, fx.path(), &CopyOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("output too small"), "{err}");
    let err = copy_device_to_device(
        &src,
        fx.path(),
        &CopyOptions {
            size: Some(1000),
            destoffset: (1 << 20) - 10,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("output too small"), "{err}");
    assert_eq!(read(fx.image()), before);
}

#[test]
fn bad_inputs_are_refused_and_change_nothing() {
    let env = TestEnv::new("copy-bad");
    let src = patterned_image(&env, "src.img", 4 << 20);
    let dest = env.sparse_image("dest.img", 4 << 20);
    std::fs::write(&dest, vec![0xEE; 4 << 20]).unwrap();
    let before = read(&dest);
    let missing = env.path().join("missing");
    let cases: Vec<(CopyOptions<'_>, &Path, &Path, ErrorKind, &str)> = vec![
        (
            CopyOptions {
                srcoffset: -1,
                ..Default::default()
            },
            &src,
            &dest,
            ErrorKind::InvalidArgument,
            "srcoffset -1 is negative",
        ),
        (
            CopyOptions {
                destoffset: -512,
                ..Default::default()
            },
            &src,
            &dest,
            ErrorKind::InvalidArgument,
            "destoffset -512 is negative",
        ),
        (
            CopyOptions {
                size: Some(-5),
                ..Default::default()
            },
            &src,
            &dest,
            ErrorKind::InvalidArgument,
            "size -5 is negative",
        ),
        (
            CopyOptions {
                size: Some((4 << 20) + 1),
                ..Default::default()
            },
            &src,
            &dest,
            ErrorKind::InvalidArgument,
            "input too short",
        ),
        (
            CopyOptions {
                srcoffset: 1 << 20,
                size: Some(3 << 20 | 1),
                ..Default::default()
            },
            &src,
            &dest,
            ErrorKind::InvalidArgument,
            "input too short",
        ),
        (
            CopyOptions {
                srcoffset: (4 << 20) + 1,
                ..Default::default()
            },
            &src,
            &dest,
            ErrorKind::InvalidArgument,
            "past the end of the source",
        ),
        (
            CopyOptions::default(),
            &missing,
            &dest,
            ErrorKind::NotFound,
            "missing",
        ),
        (
            CopyOptions::default(),
            &src,
            &missing,
            ErrorKind::NotFound,
            "missing",
        ),
        (
            CopyOptions::default(),
            env.path(),
            &dest,
            ErrorKind::WrongType,
            "is a directory",
        ),
        (
            CopyOptions::default(),
            &src,
            env.path(),
            ErrorKind::WrongType,
            "is a directory",
        ),
        (
            CopyOptions::default(),
            &dest,
            &dest,
            ErrorKind::InvalidArgument,
            "overlap",
        ),
    ];
    for (opts, s, d, kind, text) in cases {
        let err = copy_device_to_device(s, d, &opts).unwrap_err();
        assert_eq!(err.kind(), kind, "{opts:?}: {err}");
        assert!(
            err.to_string().starts_with("copy_device_to_device: "),
            "{err}"
        );
        assert!(err.to_string().contains(text), "{opts:?}: {err}");
        assert_eq!(read(&dest), before, "{opts:?} changed the destination");
        assert!(!missing.exists(), "a refused copy created its destination");
    }
    let err = dd_copy(&src, &dest, Some(1), 0).unwrap_err();
    assert!(err.to_string().contains("blocksize"), "{err}");
    let err = dd_copy(&src, &dest, Some(9000), 512).unwrap_err();
    assert!(
        err.to_string().starts_with("dd_copy: ") && err.to_string().contains("input too short"),
        "{err}"
    );
    assert_eq!(read(&dest), before);
}

#[test]
fn nonexistent_device_is_a_clear_error() {
    let env = TestEnv::new("copy-nodev");
    let dest = env.sparse_image("dest.img", 1 << 20);
    let err = copy_device_to_device(
        "/dev/vmcraft-no-such-device",
        &dest,
        &CopyOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.to_string().contains("/dev/vmcraft-no-such-device"),
        "{err}"
    );
    assert!(
        error_chain(&err).contains("No such file or directory"),
        "{}",
        error_chain(&err)
    );
}
