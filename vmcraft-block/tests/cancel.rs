//! Cancelling copies through a `CancelToken` on real files and loop devices: a
//! copy cancelled from another thread mid-way returns `Cancelled` (it does not
//! panic), the destination holds exactly the source's first N bytes (N from the
//! error), nothing past them was written, and a copy cancelled before it starts
//! touches nothing.

use std::cell::Cell;
use std::os::unix::fs::FileExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use vmcraft_block::testing::{LoopFixture, TestEnv};
use vmcraft_block::*;

const SIZE: u64 = 128 << 20;
/// What the destination holds before the copy; must never show up in the copied
/// prefix, and must stay past it.
const OLD: u8 = 0xEE;

/// A sparse image of `size` bytes that is dense enough to copy in many pieces: a
/// 4 KiB data block every 1 MiB (each a data extent of its own) and a 3 MiB run
/// of data every 16 MiB (several copy chunks), every data byte non-zero.
fn dotted_image(env: &TestEnv, name: &str, size: u64) -> PathBuf {
    let path = env.sparse_image(name, size);
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let block: Vec<u8> = (0..4096u32).map(|i| (i % 253) as u8 + 1).collect();
    let run: Vec<u8> = (0..3u32 << 20).map(|i| (i % 241) as u8 + 1).collect();
    let mut at = 0;
    while at < size {
        if at % (16 << 20) == 8 << 20 {
            f.write_all_at(&run, at).unwrap();
        } else {
            f.write_all_at(&block, at + 12_288).unwrap();
        }
        at += 1 << 20;
    }
    path
}

fn filled(env: &TestEnv, name: &str, size: u64) -> PathBuf {
    let path = env.path().join(name);
    std::fs::write(&path, vec![OLD; size as usize]).unwrap();
    path
}

/// Run `copy` with a token that another thread cancels once the copy reports
/// `at` bytes done. The copy waits in its progress callback until the other
/// thread has cancelled, so the cancellation is certain to land mid-way (no
/// timing involved). Returns the result, which must not be a panic.
fn cancelled_at(at: u64, copy: impl FnOnce(&CopyOptions<'_>) -> Result<CopyStats>) -> Error {
    let token = CancelToken::new();
    let (go, go_rx) = mpsc::channel::<()>();
    let (done_tx, done) = mpsc::channel::<()>();
    let remote = token.clone();
    let canceller = std::thread::spawn(move || {
        if go_rx.recv().is_ok() {
            remote.cancel();
            done_tx.send(()).unwrap();
        }
    });
    let fired = Cell::new(false);
    let progress = |d: u64, _total: u64| {
        if d >= at && !fired.replace(true) {
            go.send(()).unwrap();
            done.recv().unwrap();
        }
    };
    let opts = CopyOptions {
        progress: Some(&progress),
        cancel: Some(&token),
        ..Default::default()
    };
    let r = catch_unwind(AssertUnwindSafe(|| copy(&opts))).expect("the copy must not panic");
    drop(go);
    canceller.join().unwrap();
    assert!(fired.get(), "the copy never reached {at} bytes");
    r.expect_err("a cancelled copy must fail")
}

/// N from "... cancelled after N of M bytes", checked against the total.
fn offset_in(err: &Error, total: u64) -> u64 {
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    let msg = err.message();
    let rest = msg
        .strip_prefix("cancelled after ")
        .unwrap_or_else(|| panic!("{err}"));
    let (n, m) = rest
        .strip_suffix(" bytes")
        .and_then(|r| r.split_once(" of "))
        .unwrap_or_else(|| panic!("{err}"));
    assert_eq!(m.parse::<u64>().unwrap(), total, "{err}");
    n.parse().unwrap()
}

/// The destination holds the source's first `n` bytes and its old bytes after.
#[track_caller]
fn assert_prefix(src: &Path, dest: &Path, n: u64) {
    let (s, d) = (std::fs::read(src).unwrap(), std::fs::read(dest).unwrap());
    let n = n as usize;
    assert_eq!(d.len(), s.len());
    assert!(
        d[..n] == s[..n],
        "the copied prefix differs from the source"
    );
    if let Some(i) = d[n..].iter().position(|&b| b != OLD) {
        panic!("byte {} past the reported offset {n} was written", n + i);
    }
}

#[test]
fn file_copies_cancelled_midway_keep_an_exact_prefix() {
    let env = TestEnv::new("cancel-file");
    let src = dotted_image(&env, "src.img", SIZE);
    // copy_file_range (dense) and buffers (sparse: zero blocks skipped, so the
    // destination is pre-zeroed as the contract asks, and checked against zeros).
    for sparse in [false, true] {
        let dest = if sparse {
            let p = env.path().join("dest-sparse.img");
            std::fs::write(&p, vec![0u8; SIZE as usize]).unwrap();
            p
        } else {
            filled(&env, "dest.img", SIZE)
        };
        let err = cancelled_at(40 << 20, |o| {
            copy_device_to_device(&src, &dest, &CopyOptions { sparse, ..*o })
        });
        let n = offset_in(&err, SIZE);
        assert!((40 << 20..SIZE).contains(&n), "sparse={sparse}: {err}");
        assert!(
            err.to_string()
                .starts_with(&format!("copy_device_to_device: {}: ", src.display())),
            "{err}"
        );
        if sparse {
            let (s, d) = (std::fs::read(&src).unwrap(), std::fs::read(&dest).unwrap());
            assert!(d[..n as usize] == s[..n as usize]);
            assert!(d[n as usize..].iter().all(|&b| b == 0), "written past {n}");
        } else {
            assert_prefix(&src, &dest, n);
        }
    }
}

#[test]
fn offsets_are_honoured_by_the_prefix() {
    let env = TestEnv::new("cancel-offsets");
    let src = dotted_image(&env, "src.img", SIZE);
    let dest = filled(&env, "dest.img", SIZE);
    let (srcoffset, destoffset, size) = (3 << 20, 5 << 20, 100 << 20);
    let err = cancelled_at(30 << 20, |o| {
        copy_device_to_device(
            &src,
            &dest,
            &CopyOptions {
                srcoffset: srcoffset as i64,
                destoffset: destoffset as i64,
                size: Some(size as i64),
                ..*o
            },
        )
    });
    let n = offset_in(&err, size) as usize;
    assert!(n >= 30 << 20 && n < size as usize, "{err}");
    let (s, d) = (std::fs::read(&src).unwrap(), std::fs::read(&dest).unwrap());
    assert!(d[destoffset..destoffset + n] == s[srcoffset..srcoffset + n]);
    assert!(d[..destoffset].iter().all(|&b| b == OLD));
    assert!(d[destoffset + n..].iter().all(|&b| b == OLD));
}

#[test]
fn device_to_device_cancelled_midway_keeps_an_exact_prefix() {
    let Some(src_fx) = LoopFixture::new("cancel-dev-src", SIZE) else {
        return;
    };
    let Some(dest_fx) = LoopFixture::new("cancel-dev-dest", SIZE) else {
        return;
    };
    // Fill the devices through their nodes: the source with the dotted image,
    // the destination with the old byte.
    let data = dotted_image(src_fx.env(), "data.img", SIZE);
    copy_device_to_device(&data, src_fx.path(), &CopyOptions::default()).unwrap();
    let old = filled(dest_fx.env(), "old.img", SIZE);
    copy_device_to_device(&old, dest_fx.path(), &CopyOptions::default()).unwrap();
    let err = cancelled_at(50 << 20, |o| {
        copy_device_to_device(src_fx.path(), dest_fx.path(), o)
    });
    let n = offset_in(&err, SIZE);
    assert!((50 << 20..SIZE).contains(&n), "{err}");
    // The copy flushed what it wrote: the image behind the destination device
    // holds it once the loop device is flushed too.
    blockdev_flushbufs(dest_fx.path()).unwrap();
    assert_prefix(&data, dest_fx.image(), n);

    // dd_copy likewise.
    copy_device_to_device(&old, dest_fx.path(), &CopyOptions::default()).unwrap();
    let token = CancelToken::new();
    token.cancel();
    let err =
        copy::dd_copy_cancellable(src_fx.path(), dest_fx.path(), None, 512, &token).unwrap_err();
    assert_eq!(offset_in(&err, SIZE), 0);
    assert!(err.to_string().starts_with("dd_copy: "), "{err}");
    blockdev_flushbufs(dest_fx.path()).unwrap();
    assert_prefix(&data, dest_fx.image(), 0);
}

#[test]
fn a_copy_cancelled_before_it_starts_touches_nothing() {
    let env = TestEnv::new("cancel-early");
    let src = dotted_image(&env, "src.img", 32 << 20);
    let dest = filled(&env, "dest.img", 1 << 20);
    let token = CancelToken::new();
    token.cancel();
    let missing = env.path().join("created.img");
    for (target, create) in [(&dest, false), (&missing, true)] {
        let err = copy_device_to_device(
            &src,
            target,
            &CopyOptions {
                create,
                cancel: Some(&token),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled);
        assert_eq!(
            err.to_string(),
            format!(
                "copy_device_to_device: {}: cancelled after 0 of {} bytes",
                src.display(),
                32 << 20
            )
        );
    }
    // Neither grown nor written, and the missing one not created.
    assert_eq!(std::fs::read(&dest).unwrap(), vec![OLD; 1 << 20]);
    assert!(!missing.exists());
    // A live token changes nothing about a copy.
    let live = CancelToken::new();
    let out = env.path().join("out.img");
    copy_device_to_device(
        &src,
        &out,
        &CopyOptions {
            create: true,
            cancel: Some(&live),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(std::fs::read(&out).unwrap() == std::fs::read(&src).unwrap());
}
