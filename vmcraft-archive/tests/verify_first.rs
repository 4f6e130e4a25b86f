//! `verify_first` keeps its promise: an archive that extraction would refuse is
//! refused by the check pass, before anything is written, whatever its
//! compression and whether it is a file or a FIFO; the check and extraction
//! refuse it with the same words; and the archive is opened once.
//!
//! Each bad archive holds good entries first (a directory and a file), so that
//! a check that let it through would leave them behind: the guest tree is
//! hashed before and after.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::{RawTar, tree_hash};
use vmcraft_archive::{Compression, ErrorKind, GuestRoot, TarInOptions, tar_in, tar_in_from};
use vmcraft_block::testing::TestEnv;

/// A header for `name` with its fields set, checksum last (after `edit`).
fn header(name: &str, kind: tar::EntryType, size: u64, link: &str) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    h
}

fn sum(mut h: tar::Header) -> Vec<u8> {
    h.set_cksum();
    h.as_bytes().to_vec()
}

/// A PAX `x` header holding `records` (key, value).
fn pax(records: &[(&str, &str)]) -> Vec<u8> {
    let mut data = Vec::new();
    for (k, v) in records {
        let rest = 3 + k.len() + v.len();
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        data.extend_from_slice(format!("{len} {k}={v}\n").as_bytes());
    }
    let mut h = tar::Header::new_ustar();
    h.set_path("././@PaxHeader").unwrap();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_size(data.len() as u64);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(&data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// The bad archives: a label, the raw bytes of the bad entry, the kind of
/// error and the end of its message.
fn bad_entries() -> Vec<(&'static str, Vec<u8>, ErrorKind, &'static str)> {
    let mut non_octal = header("./bad-mode", tar::EntryType::Regular, 0, "");
    non_octal.as_old_mut().mode.copy_from_slice(b"0000A44\0");
    let mut file_dot = sum(header(".", tar::EntryType::Regular, 3, ""));
    file_dot.extend_from_slice(&[b'x'; 512][..512]);
    let mut huge = header("./huge", tar::EntryType::Regular, 0, "");
    // 2^64 - 1 in GNU base-256: rounding it up to whole blocks overflows.
    huge.as_old_mut().size.copy_from_slice(&[
        0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ]);
    let mut pax_huge = pax(&[("size", "18446744073709551615")]);
    pax_huge.extend(sum(header("./pax-huge", tar::EntryType::Regular, 0, "")));
    let mut big_uid = header("./big-uid", tar::EntryType::Directory, 0, "");
    big_uid
        .as_old_mut()
        .uid
        .copy_from_slice(&[0x80, 0, 0, 1, 0, 0, 0, 0]);
    vec![
        (
            "non-octal mode",
            sum(non_octal),
            ErrorKind::Corrupt,
            "entry \"./bad-mode\": bad mode field \"0000A44\"",
        ),
        (
            "empty symlink target",
            sum(header("./sym", tar::EntryType::Symlink, 0, "")),
            ErrorKind::Corrupt,
            "entry \"./sym\": empty or invalid symlink target",
        ),
        (
            "empty hard link target",
            sum(header("./hard", tar::EntryType::Link, 0, "")),
            ErrorKind::Unsafe,
            "entry \"./hard\": hard link target \"\": empty name",
        ),
        (
            "regular file named .",
            file_dot,
            ErrorKind::Unsafe,
            "entry \".\": a file cannot replace the target directory",
        ),
        (
            "size 2^64-1",
            sum(huge),
            ErrorKind::Corrupt,
            "size 18446744073709551615 is out of range",
        ),
        (
            "pax size 2^64-1",
            pax_huge,
            ErrorKind::Corrupt,
            "size 18446744073709551615 is out of range",
        ),
        (
            "uid 2^32",
            sum(big_uid),
            ErrorKind::Corrupt,
            "entry \"./big-uid\": uid 4294967296 is out of range",
        ),
    ]
}

fn archive(bad: &[u8]) -> Vec<u8> {
    RawTar::default()
        .dir("./good/")
        .file("./good/file", b"extracted before the bad entry\n")
        .raw(bad)
        .file("./after", b"after\n")
        .finish()
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

/// Make a FIFO at `path` and write `data` into it from a thread (errors
/// ignored: a reader that refuses the archive stops reading).
fn fifo_with(path: &Path, data: Vec<u8>) -> std::thread::JoinHandle<()> {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let _ = f.write_all(&data);
    })
}

/// `tar_in` of `data` compressed as `format`, from a regular file or a FIFO,
/// into the guest's root.
fn run(
    env: &TestEnv,
    root: &GuestRoot,
    data: &[u8],
    format: Compression,
    fifo: bool,
    opts: &TarInOptions,
) -> (PathBuf, vmcraft_archive::Result<vmcraft_archive::TarStats>) {
    run_into(env, root, "/", data, format, fifo, opts)
}

/// [`run`] into the guest directory `dir`.
fn run_into(
    env: &TestEnv,
    root: &GuestRoot,
    dir: &str,
    data: &[u8],
    format: Compression,
    fifo: bool,
    opts: &TarInOptions,
) -> (PathBuf, vmcraft_archive::Result<vmcraft_archive::TarStats>) {
    let packed = compress(data, format);
    let path = env.path().join(format!("in-{format}-{fifo}.tar"));
    let _ = std::fs::remove_file(&path);
    if fifo {
        let writer = fifo_with(&path, packed);
        let res = tar_in(root, &path, dir, opts);
        writer.join().unwrap();
        (path, res)
    } else {
        std::fs::write(&path, &packed).unwrap();
        let res = tar_in(root, &path, dir, opts);
        (path, res)
    }
}

#[test]
fn the_check_refuses_what_extraction_refuses_and_nothing_changes() {
    let env = TestEnv::new("verify-first");
    let guest = env.path().join("guest");
    std::fs::create_dir(&guest).unwrap();
    let root = GuestRoot::open(&guest).unwrap();
    root.write("/pre-existing", b"keep\n").unwrap();
    for (label, bad, kind, msg) in bad_entries() {
        let data = archive(&bad);
        for format in [Compression::None, Compression::Gzip, Compression::Zstd] {
            for fifo in [false, true] {
                let before = tree_hash(&guest);
                let (path, res) = run(&env, &root, &data, format, fifo, &TarInOptions::default());
                let how = format!("{label} ({format}, fifo: {fifo})");
                let e = res.expect_err(&format!("{how}: must be refused"));
                assert_eq!(e.kind(), kind, "{how}: {e}");
                assert_eq!(
                    e.to_string(),
                    format!("tar_in: {}: {msg}", path.display()),
                    "{how}"
                );
                assert_eq!(tree_hash(&guest), before, "{how}: the guest changed");
            }
        }
        // Extraction refuses the same entry with the same words (the stream
        // has no check pass: what came before the entry is extracted).
        let e = tar_in_from(&root, &data[..], "/", &TarInOptions::default()).unwrap_err();
        assert_eq!(e.kind(), kind, "{label}: {e}");
        assert_eq!(e.to_string(), format!("tar_in: /: {msg}"), "{label}");
        assert_eq!(
            root.read_file("/good/file").unwrap(),
            b"extracted before the bad entry\n"
        );
        root.rm_rf("/good").unwrap();
        let _ = root.rm_rf("/after");
    }
    assert_eq!(root.read_file("/pre-existing").unwrap(), b"keep\n");
}

#[test]
fn fifos_are_read_once_and_extracted_whole() {
    let env = TestEnv::new("verify-fifo");
    let guest = env.path().join("guest");
    std::fs::create_dir(&guest).unwrap();
    let root = GuestRoot::open(&guest).unwrap();
    let data = RawTar::default()
        .dir("./d/")
        .file("./d/a", &vec![7u8; 100_000])
        .symlink("./d/l", "a")
        .finish();
    for format in [Compression::None, Compression::Gzip] {
        for verify_first in [true, false] {
            // The compression is detected from the stream itself: the bytes
            // looked at are not lost.
            let opts = TarInOptions {
                verify_first,
                ..Default::default()
            };
            let (_, res) = run(&env, &root, &data, format, true, &opts);
            let stats = res.unwrap_or_else(|e| panic!("{format} {verify_first}: {e}"));
            assert_eq!(stats.entries, 3);
            assert_eq!(root.read_file("/d/a").unwrap(), vec![7u8; 100_000]);
            assert_eq!(root.readlink("/d/l").unwrap(), "a");
            root.rm_rf("/d").unwrap();
        }
    }
}

/// How many times `path` is opened while `f` runs (inotify IN_OPEN events;
/// closes are watched too, since identical events in a row are merged).
fn opens_of(path: &Path, f: impl FnOnce()) -> usize {
    use rustix::fs::inotify;
    let ino =
        inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC).unwrap();
    inotify::add_watch(
        &ino,
        path,
        inotify::WatchFlags::OPEN | inotify::WatchFlags::CLOSE_NOWRITE,
    )
    .unwrap();
    f();
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
    let mut reader = inotify::Reader::new(&ino, &mut buf);
    let mut n = 0;
    loop {
        match reader.next() {
            Ok(ev) if ev.events().contains(inotify::ReadFlags::OPEN) => n += 1,
            Ok(_) => {}
            Err(e) if e == rustix::io::Errno::AGAIN => break,
            Err(e) => panic!("inotify: {e}"),
        }
    }
    n
}

#[test]
fn the_archive_file_is_opened_once() {
    let env = TestEnv::new("verify-once");
    let guest = env.path().join("guest");
    std::fs::create_dir(&guest).unwrap();
    let root = GuestRoot::open(&guest).unwrap();
    let data = RawTar::default().file("./a", b"1").finish();
    for format in [Compression::None, Compression::Gzip, Compression::Zstd] {
        for compress in [None, Some(format)] {
            let path = env.path().join(format!("once-{format}.tar"));
            std::fs::write(&path, compress_for(&data, format)).unwrap();
            let opts = TarInOptions {
                compress,
                ..Default::default()
            };
            let opens = opens_of(&path, || {
                tar_in(&root, &path, "/", &opts).unwrap();
            });
            assert_eq!(opens, 1, "{format}, compression given: {compress:?}");
            assert_eq!(root.read_file("/a").unwrap(), b"1");
        }
    }
}

fn compress_for(data: &[u8], format: Compression) -> Vec<u8> {
    compress(data, format)
}

/// Into an empty directory the archive is checked as it is extracted, into a
/// stage moved into place at the end: a bad archive is refused with the words
/// the check pass uses, and the directory is left empty, its times as they
/// were, no stage behind.
#[test]
fn into_an_empty_directory_nothing_of_a_bad_archive_is_kept() {
    let env = TestEnv::new("verify-staged");
    let guest = env.path().join("guest");
    std::fs::create_dir_all(guest.join("empty")).unwrap();
    let root = GuestRoot::open(&guest).unwrap();
    let mtime = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    for (label, bad, kind, msg) in bad_entries() {
        let data = archive(&bad);
        for format in [Compression::None, Compression::Gzip, Compression::Zstd] {
            for fifo in [false, true] {
                let before = (tree_hash(&guest), mtime(&guest.join("empty")));
                let opts = TarInOptions::default();
                let (path, res) = run_into(&env, &root, "/empty", &data, format, fifo, &opts);
                let how = format!("{label} ({format}, fifo: {fifo})");
                let e = res.expect_err(&format!("{how}: must be refused"));
                assert_eq!(e.kind(), kind, "{how}: {e}");
                assert_eq!(
                    e.to_string(),
                    format!("tar_in: {}: {msg}", path.display()),
                    "{how}"
                );
                let after = (tree_hash(&guest), mtime(&guest.join("empty")));
                assert_eq!(after, before, "{how}: the guest changed");
            }
        }
    }
}

/// A staged extraction ends as a direct one does: the archive's `./` gives
/// the target its mode and times, delayed symlinks are made, a read-only
/// directory is filled before its mode is set, hard links stay linked.
#[test]
fn a_staged_extraction_is_the_direct_one() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let env = TestEnv::new("verify-staged-same");
    let guest = env.path().join("guest");
    std::fs::create_dir_all(guest.join("staged")).unwrap();
    std::fs::create_dir_all(guest.join("direct")).unwrap();
    // Something in the way makes the direct one take the two-pass road.
    std::fs::write(guest.join("direct/.in-the-way"), b"").unwrap();
    let root = GuestRoot::open(&guest).unwrap();
    let data = RawTar::default()
        .dir_owned("./", 0o750, (0, 0))
        .dir_owned("./ro/", 0o555, (0, 0))
        .file("./ro/inside", b"made before the mode\n")
        .file("./a", b"linked\n")
        .hardlink("./b", "./a")
        .symlink("./abs", "/etc/hostname")
        .symlink("./up", "../outside")
        .symlink("./rel", "a")
        .finish();
    for format in [Compression::None, Compression::Gzip] {
        let path = env.path().join(format!("same-{format}.tar"));
        std::fs::write(&path, compress(&data, format)).unwrap();
        for dir in ["/staged", "/direct"] {
            let stats = tar_in(&root, &path, dir, &TarInOptions::default())
                .unwrap_or_else(|e| panic!("{format} {dir}: {e}"));
            assert_eq!(stats.entries, 8, "{format} {dir}");
        }
        let (s, d) = (guest.join("staged"), guest.join("direct"));
        let m = |p: &Path| std::fs::symlink_metadata(p).unwrap();
        for (a, b) in [(&s, &d), (&s.join("ro"), &d.join("ro"))] {
            assert_eq!(m(a).permissions().mode(), m(b).permissions().mode());
            assert_eq!(m(a).mtime(), m(b).mtime());
        }
        // Out of the way again, the direct one's times put back.
        std::fs::remove_file(guest.join("direct/.in-the-way")).unwrap();
        std::fs::File::open(&d)
            .unwrap()
            .set_modified(m(&s).modified().unwrap())
            .unwrap();
        assert_eq!(m(&s).permissions().mode() & 0o7777, 0o750);
        assert_eq!(m(&s.join("ro")).permissions().mode() & 0o7777, 0o555);
        assert_eq!(m(&s.join("a")).ino(), m(&s.join("b")).ino());
        assert_eq!(
            std::fs::read_link(s.join("abs")).unwrap(),
            Path::new("/etc/hostname")
        );
        assert_eq!(
            std::fs::read_link(s.join("up")).unwrap(),
            Path::new("../outside")
        );
        assert_eq!(tree_hash(&s), tree_hash(&d), "{format}");
        for dir in [&s, &d] {
            std::fs::set_permissions(dir.join("ro"), std::fs::Permissions::from_mode(0o755))
                .unwrap();
            std::fs::remove_dir_all(dir).unwrap();
            std::fs::create_dir(dir).unwrap();
        }
        std::fs::write(guest.join("direct/.in-the-way"), b"").unwrap();
    }
}

/// A failure to make an entry (here a limit) in a staged extraction keeps
/// what was made before it, as the two-pass road does, when the rest of the
/// archive reads as good; when an entry after it is bad, the whole archive is
/// refused and nothing is kept, as the check pass would refuse it.
#[test]
fn a_staged_extraction_reads_past_a_failure_to_judge_the_archive() {
    let env = TestEnv::new("verify-staged-rest");
    let guest = env.path().join("guest");
    std::fs::create_dir_all(guest.join("t")).unwrap();
    let root = GuestRoot::open(&guest).unwrap();
    let opts = TarInOptions {
        max_delayed_directories: 2,
        ..Default::default()
    };
    let good_rest = RawTar::default()
        .dir("./d1/")
        .dir("./d2/")
        .dir("./d3/")
        .file("./after", b"not made\n")
        .finish();
    let path = env.path().join("rest.tar.gz");
    std::fs::write(&path, compress(&good_rest, Compression::Gzip)).unwrap();
    let e = tar_in(&root, &path, "/t", &opts).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
    assert!(guest.join("t/d1").is_dir() && guest.join("t/d2").is_dir());
    assert!(!guest.join("t/d3").exists() && !guest.join("t/after").exists());
    std::fs::remove_dir_all(guest.join("t")).unwrap();
    std::fs::create_dir(guest.join("t")).unwrap();

    let (_, bad, kind, _) = bad_entries().remove(0);
    let bad_rest = RawTar::default()
        .dir("./d1/")
        .dir("./d2/")
        .dir("./d3/")
        .raw(&bad)
        .finish();
    std::fs::write(&path, compress(&bad_rest, Compression::Gzip)).unwrap();
    let before = tree_hash(&guest);
    let e = tar_in(&root, &path, "/t", &opts).unwrap_err();
    assert_eq!(e.kind(), kind, "{e}");
    assert_eq!(
        tree_hash(&guest),
        before,
        "nothing of a refused archive is kept"
    );
}

/// Cancelled while a staged extraction reads the archive, nothing is kept.
#[test]
fn a_cancelled_staged_extraction_keeps_nothing() {
    let env = TestEnv::new("verify-staged-cancel");
    let guest = env.path().join("guest");
    std::fs::create_dir_all(guest.join("t")).unwrap();
    let root = GuestRoot::open(&guest).unwrap();
    let mut tar = RawTar::default();
    for i in 0..20 {
        tar = tar.file(&format!("./f{i}"), b"data\n");
    }
    let path = env.path().join("cancel.tar.zst");
    std::fs::write(&path, compress(&tar.finish(), Compression::Zstd)).unwrap();
    let token = vmcraft_block::CancelToken::new();
    let t = token.clone();
    let opts = TarInOptions {
        cancel: Some(token),
        progress: Some(vmcraft_archive::ProgressFn::new(move |p| {
            if p.entries == 5 {
                t.cancel();
            }
        })),
        ..Default::default()
    };
    let before = tree_hash(&guest);
    let e = tar_in(&root, &path, "/t", &opts).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
    assert!(e.to_string().ends_with("nothing was extracted"), "{e}");
    assert_eq!(tree_hash(&guest), before);
}

/// A refused archive that built, through its own symlink, a tree deeper than
/// any path the kernel takes (8000 bytes) still leaves nothing behind: the
/// stage is removed without ever naming a long path.
#[test]
fn a_refused_archive_deeper_than_a_path_leaves_nothing() {
    let env = TestEnv::new("verify-staged-deep");
    let guest = env.path().join("guest");
    std::fs::create_dir_all(guest.join("t")).unwrap();
    let root = GuestRoot::open(&guest).unwrap();
    let deep_a = "a/".repeat(1999);
    let (_, bad, kind, _) = bad_entries().remove(0);
    let data = RawTar::default()
        .dir(&format!("./{deep_a}"))
        .symlink("./L", deep_a.trim_end_matches('/'))
        .dir(&format!("./L/{}", "b/".repeat(1999)))
        .file(&format!("./L/{}deepest", "b/".repeat(1999)), b"x\n")
        .raw(&bad)
        .finish();
    let path = env.path().join("deep.tar");
    std::fs::write(&path, &data).unwrap();
    let before = tree_hash(&guest);
    let e = tar_in(&root, &path, "/t", &TarInOptions::default()).unwrap_err();
    assert_eq!(e.kind(), kind, "{e}");
    assert_eq!(tree_hash(&guest), before, "{e}");
    // Without the bad entry the same tree is made.
    let good = RawTar::default()
        .dir(&format!("./{deep_a}"))
        .symlink("./L", deep_a.trim_end_matches('/'))
        .dir(&format!("./L/{}", "b/".repeat(1999)))
        .finish();
    std::fs::write(&path, &good).unwrap();
    tar_in(&root, &path, "/t", &TarInOptions::default()).unwrap();
    assert!(guest.join("t/L").is_symlink());
}
