//! Cancelling tar in and out through a `CancelToken` on real trees: a token
//! cancelled from another thread at a known point (after an entry, inside a
//! large file's data, during the verification pass) ends the call with
//! `Cancelled`, not a panic. `tar_in` then leaves no placeholder (the delayed
//! symlinks met so far are made), sets the metadata of the directories it made,
//! extracts nothing after the point and changes nothing outside its target;
//! cancelled while verifying, it extracts nothing at all. `tar_out` leaves no
//! output file, neither a new one nor a change to an old one, nor a temporary.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{RawTar, make_sentinel, tree_hash};
use vmcraft_archive::{
    CancelToken, Compression, ErrorKind, GuestRoot, ProgressFn, Result, TarInOptions,
    TarOutOptions, TarStats, tar_in, tar_in_from, tar_out, tar_out_to,
};
use vmcraft_block::testing::{RemoteCancel, TestEnv};

/// Small files in the archive, and the size of the big one.
const FILES: usize = 2000;
const BIG: usize = 64 << 20;
/// Entries before the first small file: `./`, `./d/`, three delayed links,
/// `./files/`.
const HEAD: usize = 6;

/// Run `call`, which must neither panic nor succeed.
fn cancelled(
    remote: &RemoteCancel,
    call: impl FnOnce() -> Result<TarStats>,
) -> vmcraft_archive::Error {
    let r = catch_unwind(AssertUnwindSafe(call)).expect("a cancelled call must not panic");
    remote.join();
    assert!(
        remote.fired(),
        "the call never reached the cancellation point"
    );
    let err = r.expect_err("a cancelled call must fail");
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    err
}

fn small(i: usize) -> Vec<u8> {
    format!("file {i}\n").repeat(40).into_bytes()
}

fn big() -> Vec<u8> {
    (0..BIG).map(|i| (i % 251) as u8 + 1).collect()
}

/// The archive: a directory of mode 0750, absolute and `..` symlinks (delayed:
/// placeholders until the end) and a hard link to one, FILES small files, a
/// 64 MiB file, then more files and delayed links that a cancelled extraction
/// never reaches. Returns it and the offset of the big file's data.
fn archive() -> (Vec<u8>, usize) {
    let mut t = RawTar::default()
        .dir("./")
        .dir_owned("./d/", 0o750, (0, 0))
        .symlink("./d/abs", "/outside/secret")
        .symlink("./d/up", "../../outside")
        .hardlink("./d/hl", "./d/abs")
        .dir("./files/");
    for i in 0..FILES {
        t = t.file(&format!("./files/{i:04}"), &small(i));
    }
    let big_at = t.data.len() + 512;
    t = t.file("./big", &big());
    t = t
        .file("./late-file", b"never\n")
        .symlink("./late-link", "/etc")
        .dir_owned("./late-dir/", 0o700, (0, 0));
    (t.finish(), big_at)
}

/// A guest with a sentinel tree inside it but outside the target, and one
/// outside the guest; their hashes.
struct Guest {
    env: TestEnv,
    root: GuestRoot,
    inside: String,
    host: String,
}

impl Guest {
    fn new(label: &str) -> Guest {
        let env = TestEnv::new(label);
        let guest = env.path().join("guest");
        std::fs::create_dir(&guest).unwrap();
        let inside = make_sentinel(&guest.join("outside"));
        let host = make_sentinel(&env.path().join("host"));
        let root = GuestRoot::open(&guest).unwrap();
        Guest {
            env,
            root,
            inside,
            host,
        }
    }

    fn target(&self) -> PathBuf {
        self.env.path().join("guest/target")
    }

    /// Nothing outside the target changed.
    #[track_caller]
    fn assert_outside_unchanged(&self) {
        assert_eq!(
            tree_hash(&self.env.path().join("guest/outside")),
            self.inside
        );
        assert_eq!(tree_hash(&self.env.path().join("host")), self.host);
        let mut top: Vec<_> = std::fs::read_dir(self.env.path().join("guest"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        top.sort();
        assert!(top.len() <= 2 && top[0] == "outside", "{top:?}");
    }
}

/// Every regular file under `dir` (placeholders are empty files of mode 0).
fn assert_no_placeholder(dir: &Path) {
    for e in walk(dir) {
        let md = std::fs::symlink_metadata(&e).unwrap();
        assert!(
            !(md.is_file() && md.len() == 0 && md.mode() & 0o7777 == 0),
            "placeholder left at {}",
            e.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if std::fs::symlink_metadata(&p).unwrap().is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

/// What a cancelled extraction of [`archive`] must have done, given how many
/// small files it completed: the delayed links made, `./d` with its metadata,
/// those files and no later one, nothing from after the big file.
#[track_caller]
fn assert_extracted_up_to(target: &Path, files_done: usize) {
    let t = |p: &str| target.join(p);
    for l in ["d/abs", "d/hl"] {
        assert_eq!(
            std::fs::read_link(t(l)).unwrap(),
            Path::new("/outside/secret"),
            "{l}"
        );
    }
    assert_eq!(
        std::fs::read_link(t("d/up")).unwrap(),
        Path::new("../../outside")
    );
    let d = std::fs::metadata(t("d")).unwrap();
    assert_eq!(d.permissions().mode() & 0o7777, 0o750);
    assert_eq!(d.mtime(), 1_600_000_000);
    for i in 0..FILES {
        let p = t(&format!("files/{i:04}"));
        if i < files_done {
            assert_eq!(std::fs::read(&p).unwrap(), small(i), "{}", p.display());
        } else {
            assert!(
                !p.exists(),
                "{} extracted after the cancellation",
                p.display()
            );
        }
    }
    for late in ["late-file", "late-link", "late-dir"] {
        assert!(std::fs::symlink_metadata(t(late)).is_err(), "{late}");
    }
    assert_no_placeholder(target);
}

/// Cancel when the `n`th entry is done.
fn at_entry(remote: &Arc<RemoteCancel>, n: u64) -> ProgressFn {
    let r = Arc::clone(remote);
    ProgressFn::new(move |p| {
        if p.entries == n {
            r.fire();
        }
    })
}

fn compress(data: &[u8], format: Compression) -> Vec<u8> {
    match format {
        Compression::None => data.to_vec(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Zstd => zstd::encode_all(data, 1).unwrap(),
        other => panic!("{other}"),
    }
}

#[test]
fn tar_in_from_a_file_cancelled_after_an_entry() {
    let (data, _) = archive();
    // Plain (verified by headers), gzip and zstd (verified through the
    // decoder, then extracted from the kept stream), and gzip unverified
    // (decompressed on a thread of its own while extracting).
    let cases = [
        (Compression::None, true),
        (Compression::Gzip, true),
        (Compression::Zstd, true),
        (Compression::Gzip, false),
    ];
    for (format, verify_first) in cases {
        let g = Guest::new("cancel-in-file");
        let tarball = g.env.path().join("a.tar");
        std::fs::write(&tarball, compress(&data, format)).unwrap();
        let remote = RemoteCancel::new();
        let stop = 1000;
        let opts = TarInOptions {
            create_dir: true,
            verify_first,
            progress: Some(at_entry(&remote, stop)),
            cancel: Some(remote.token().clone()),
            ..Default::default()
        };
        let err = cancelled(&remote, || tar_in(&g.root, &tarball, "/target", &opts));
        let what = format!("{format} verify_first={verify_first}: {err}");
        assert!(
            err.to_string().starts_with(&format!(
                "tar_in: /target: cancelled after {stop} entries ("
            )),
            "{what}"
        );
        assert_extracted_up_to(&g.target(), stop as usize - HEAD);
        assert!(!g.target().join("big").exists(), "{what}");
        g.assert_outside_unchanged();
    }
}

/// Hands out `inner` and has `remote` cancel once `at` bytes were read.
struct CancelAt<R> {
    inner: R,
    pos: usize,
    at: usize,
    remote: Arc<RemoteCancel>,
}

impl<R: Read> Read for CancelAt<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // Small reads, so the point is reached close to `at`.
        let want = buf.len().min(64 << 10);
        let n = self.inner.read(&mut buf[..want])?;
        self.pos += n;
        if self.pos >= self.at {
            self.remote.fire();
        }
        Ok(n)
    }
}

#[test]
fn tar_in_from_a_stream_cancelled_inside_a_large_file() {
    let (data, big_at) = archive();
    let g = Guest::new("cancel-in-stream");
    let remote = RemoteCancel::new();
    let input = CancelAt {
        inner: &data[..],
        pos: 0,
        at: big_at + (20 << 20),
        remote: Arc::clone(&remote),
    };
    let opts = TarInOptions {
        create_dir: true,
        cancel: Some(remote.token().clone()),
        ..Default::default()
    };
    let err = cancelled(&remote, || tar_in_from(&g.root, input, "/target", &opts));
    let entries = HEAD + FILES;
    assert!(
        err.to_string().starts_with(&format!(
            "tar_in: /target: cancelled after {entries} entries ("
        )),
        "{err}"
    );
    assert_extracted_up_to(&g.target(), FILES);
    // The big file holds the part that was read, at most what was handed out
    // before the reader's buffer ran dry: a prefix of its data.
    let got = std::fs::read(g.target().join("big")).unwrap();
    assert!(
        got.len() >= 16 << 20 && got.len() < BIG,
        "{} bytes",
        got.len()
    );
    assert!(
        got[..] == big()[..got.len()],
        "the big file is not a prefix"
    );
    g.assert_outside_unchanged();

    // The same archive without a token extracts everything (the delayed links
    // last), so the checks above are about the cancellation.
    let opts = TarInOptions {
        create_dir: true,
        ..Default::default()
    };
    let whole = tar_in_from(&g.root, &data[..], "/whole", &opts).unwrap();
    assert_eq!(whole.entries as usize, HEAD + FILES + 4);
    let w = g.env.path().join("guest/whole");
    assert_eq!(
        std::fs::read_link(w.join("late-link")).unwrap(),
        Path::new("/etc")
    );
    assert_eq!(std::fs::read(w.join("big")).unwrap().len(), BIG);
}

#[test]
fn tar_in_cancelled_while_verifying_extracts_nothing() {
    let (data, _) = archive();
    let packed = compress(&data, Compression::Gzip);
    let g = Guest::new("cancel-in-verify");
    // A FIFO: the verification pass reads what a writer thread hands it, and
    // the writer cancels half-way, before the rest of the archive exists.
    let fifo = g.env.path().join("a.tar.gz");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let remote = RemoteCancel::new();
    let writer = {
        let (fifo, remote) = (fifo.clone(), Arc::clone(&remote));
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            let half = packed.len() / 2;
            f.write_all(&packed[..half]).unwrap();
            remote.fire();
            // The reader stops at its next read and closes the FIFO: EPIPE
            // from here on is expected.
            let _ = f.write_all(&packed[half..]);
        })
    };
    let opts = TarInOptions {
        compress: Some(Compression::Gzip),
        create_dir: true,
        cancel: Some(remote.token().clone()),
        ..Default::default()
    };
    let err = cancelled(&remote, || tar_in(&g.root, &fifo, "/target", &opts));
    writer.join().unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "tar_in: /target: cancelled while checking the archive {}; nothing was extracted",
            fifo.display()
        )
    );
    assert!(!g.target().exists(), "the target was created");
    g.assert_outside_unchanged();
}

#[test]
fn tar_in_cancelled_before_it_starts_creates_nothing() {
    let (data, _) = archive();
    let g = Guest::new("cancel-in-early");
    let tarball = g.env.path().join("a.tar");
    std::fs::write(&tarball, &data).unwrap();
    let token = CancelToken::new();
    token.cancel();
    let opts = TarInOptions {
        create_dir: true,
        cancel: Some(token),
        ..Default::default()
    };
    for err in [
        tar_in(&g.root, &tarball, "/target", &opts).unwrap_err(),
        tar_in_from(&g.root, &data[..], "/target", &opts).unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Cancelled);
        assert_eq!(
            err.to_string(),
            "tar_in: /target: cancelled before anything was extracted"
        );
    }
    assert!(!g.target().exists());
    g.assert_outside_unchanged();
}

/// A guest tree to archive: 300 small files around a 32 MiB one.
fn source_tree(env: &TestEnv) -> GuestRoot {
    let dir = env.path().join("src");
    std::fs::create_dir(&dir).unwrap();
    let root = GuestRoot::open(&dir).unwrap();
    root.mkdir_p("/a", 0o755).unwrap();
    root.mkdir_p("/z", 0o755).unwrap();
    for i in 0..150 {
        root.write(format!("/a/{i:03}"), &small(i)).unwrap();
        root.write(format!("/z/{i:03}"), &small(i)).unwrap();
    }
    let data: Vec<u8> = (0..32usize << 20).map(|i| (i % 241) as u8 + 1).collect();
    root.write("/m-big", &data).unwrap();
    root
}

/// Makes the progress callback that fires a [`RemoteCancel`].
type MakeProgress = Box<dyn Fn(&Arc<RemoteCancel>) -> ProgressFn>;

/// Files in `dir` other than `keep`.
fn others(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

#[test]
fn tar_out_cancelled_leaves_no_output_file() {
    let env = TestEnv::new("cancel-out");
    let root = source_tree(&env);
    let out = env.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let old = out.join("old.tar");
    std::fs::write(&old, b"an archive made earlier\n").unwrap();
    for format in [
        Compression::None,
        Compression::Gzip,
        Compression::Xz,
        Compression::Zstd,
    ] {
        // After an entry, and inside the big file's data (progress comes
        // every 8 MiB there).
        let points: [(&str, MakeProgress); 2] = [
            ("after entry 100", Box::new(|r| at_entry(r, 100))),
            (
                "inside the big file",
                Box::new(|r| {
                    let r = Arc::clone(r);
                    ProgressFn::new(move |p| {
                        if p.bytes >= 16 << 20 {
                            r.fire();
                        }
                    })
                }),
            ),
        ];
        for (point, progress) in &points {
            for dest in [&old, &out.join("new.tar")] {
                let remote = RemoteCancel::new();
                let opts = TarOutOptions {
                    compress: format,
                    progress: Some(progress(&remote)),
                    cancel: Some(remote.token().clone()),
                    ..Default::default()
                };
                let err = cancelled(&remote, || tar_out(&root, "/", dest, &opts));
                let what = format!("{format}, {point}, {}: {err}", dest.display());
                assert!(
                    err.to_string().starts_with("tar_out: /: cancelled after "),
                    "{what}"
                );
                assert_eq!(
                    std::fs::read(&old).unwrap(),
                    b"an archive made earlier\n",
                    "{what}"
                );
                assert!(
                    others(&out, &["old.tar"]).is_empty(),
                    "{what}: {:?}",
                    others(&out, &["old.tar"])
                );
            }
        }
    }
}

#[test]
fn tar_out_cancelled_before_it_starts_writes_nothing() {
    let env = TestEnv::new("cancel-out-early");
    let root = source_tree(&env);
    let token = CancelToken::new();
    token.cancel();
    let opts = TarOutOptions {
        cancel: Some(token),
        ..Default::default()
    };
    let mut sink = Vec::new();
    let err = tar_out_to(&root, "/a", &mut sink, &opts).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert_eq!(
        err.to_string(),
        "tar_out: /a: cancelled before anything was written"
    );
    assert!(sink.is_empty());
    let dest = env.path().join("a.tar");
    assert_eq!(
        tar_out(&root, "/a", &dest, &opts).unwrap_err().kind(),
        ErrorKind::Cancelled
    );
    assert!(!dest.exists());
    // A live token changes nothing.
    let live = TarOutOptions {
        cancel: Some(CancelToken::new()),
        ..Default::default()
    };
    let stats = tar_out(&root, "/a", &dest, &live).unwrap();
    assert_eq!(stats.entries, 151);
}
