//! Device nodes, FIFOs and sockets in a guest tree, on real filesystems (the
//! ext4 of the temp directory and a tmpfs mounted for the test, neither
//! `nodev`): every call that reads or writes a file's content refuses them with
//! a clear error and without opening them (a FIFO opened for reading would hang
//! the test; a device node of a driver that does not exist would fail with
//! `ENXIO`, not with the type error asserted here), `tar_out` stores them as
//! entries without opening them, and the owner-name lookups of `tar_out` read
//! `/etc/passwd` and `/etc/group` only when they are regular files of a bounded
//! size, inside the root.

mod common;

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use common::{Snap, make_sentinel, snapshot, tree_hash};
use vmcraft_archive::{ErrorKind, GuestRoot, TarOutOptions, WriteMode, tar_out_to};
use vmcraft_block::testing::{TestEnv, require_root};
use vmcraft_block::{Command, CommandRunner, SystemRunner};

/// A tmpfs mounted on a directory for the length of a test.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        SystemRunner::new()
            .run(
                &Command::new("mount")
                    .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                    .arg(dir),
            )
            .unwrap();
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = SystemRunner::new().run(&Command::new("umount").arg(&self.0));
    }
}

fn mknod(path: &Path, t: rustix::fs::FileType, major: u32, minor: u32) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        t,
        rustix::fs::Mode::from_raw_mode(0o666),
        rustix::fs::makedev(major, minor),
    )
    .unwrap_or_else(|e| panic!("mknod {}: {e}", path.display()));
}

/// Make every kind of special file in `dir`: (guest path, type name).
fn special_files(
    dir: &Path,
) -> (
    Vec<(&'static str, &'static str)>,
    std::os::unix::net::UnixListener,
) {
    use rustix::fs::FileType as T;
    mknod(&dir.join("fifo"), T::Fifo, 0, 0);
    mknod(&dir.join("null"), T::CharacterDevice, 1, 3);
    // No driver has these numbers: opening them would fail with ENXIO.
    mknod(&dir.join("nodriver-c"), T::CharacterDevice, 240, 77);
    mknod(&dir.join("blk"), T::BlockDevice, 7, 0);
    mknod(&dir.join("nodriver-b"), T::BlockDevice, 240, 77);
    let sock = std::os::unix::net::UnixListener::bind(dir.join("sock")).unwrap();
    std::os::unix::fs::symlink("fifo", dir.join("to-fifo")).unwrap();
    std::os::unix::fs::symlink("/null", dir.join("to-null")).unwrap();
    (
        vec![
            ("/fifo", "fifo"),
            ("/to-fifo", "fifo"),
            ("/null", "character device"),
            ("/to-null", "character device"),
            ("/nodriver-c", "character device"),
            ("/blk", "block device"),
            ("/nodriver-b", "block device"),
            ("/sock", "socket"),
        ],
        sock,
    )
}

/// Every content call on every special file: refused, naming the call, the path
/// and the type; the tree unchanged.
fn content_calls_refuse(dir: &Path) {
    let (files, _sock) = special_files(dir);
    let root = GuestRoot::open(dir).unwrap();
    root.write("/regular", b"regular\n").unwrap();
    let before = snapshot(dir, Snap::ALL);
    for (path, kind) in &files {
        let want = format!("not a regular file (it is a {kind})");
        let check = |call: &str, r: vmcraft_archive::Result<()>| {
            let e = r.expect_err(&format!("{call} {path} must be refused"));
            assert_eq!(e.kind(), ErrorKind::WrongType, "{call} {path}: {e}");
            assert_eq!(e.to_string(), format!("{call}: {path}: {want}"), "{call}");
        };
        check("read_file", root.read_file(path).map(drop));
        check("cat", root.cat(path).map(drop));
        check("open", root.open_read(path).map(drop));
        check("write", root.write(path, b"x"));
        check("write_append", root.write_append(path, b"x"));
        check(
            "open",
            root.open_write(path, WriteMode::Truncate, 0o644).map(drop),
        );
        check(
            "open",
            root.open_write(path, WriteMode::Append, 0o644).map(drop),
        );
        check("cp", root.cp(path, "/copy"));
        check("cp", root.cp("/regular", path));
        assert!(!root.exists("/copy").unwrap(), "{path}");
        // CreateNew never opens what is there.
        let e = root
            .open_write(path, WriteMode::CreateNew, 0o644)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{path}: {e}");
        assert_eq!(before, snapshot(dir, Snap::ALL), "{path}: the tree changed");
    }
    // touch sets times without opening (a FIFO's or a device's open is not run).
    let t = vmcraft_archive::FileTime::At(1_000_000_000, 0);
    for (path, _) in &files {
        root.utimens(path, t, t).unwrap();
        root.touch(path).unwrap();
        assert!(root.stat(path).unwrap().mtime > 1_000_000_000, "{path}");
    }
    // cp_a into a tree whose destination holds a FIFO where a file goes.
    root.mkdir_p("/src", 0o755).unwrap();
    root.write("/src/f", b"data").unwrap();
    root.mkdir_p("/dst/src", 0o755).unwrap();
    mknod(&dir.join("dst/src/f"), rustix::fs::FileType::Fifo, 0, 0);
    let e = root.cp_a("/src", "/dst").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WrongType, "{e}");
    assert!(
        e.to_string()
            .contains("is not a regular file (it is a fifo)"),
        "{e}"
    );
    assert!(
        std::fs::symlink_metadata(dir.join("dst/src/f"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    // cp_a copies special files as special files, never their content.
    root.cp_a("/fifo", "/fifo-copy").unwrap();
    root.cp_a("/nodriver-c", "/c-copy").unwrap();
    let m = std::fs::symlink_metadata(dir.join("c-copy")).unwrap();
    assert!(m.file_type().is_char_device());
    assert!(
        std::fs::symlink_metadata(dir.join("fifo-copy"))
            .unwrap()
            .file_type()
            .is_fifo()
    );

    // tar_out stores them as entries (by default), without opening them;
    // sockets are left out.
    let mut tar = Vec::new();
    let stats = tar_out_to(&root, "/", &mut tar, &TarOutOptions::default()).unwrap();
    let mut kinds = std::collections::BTreeMap::new();
    for e in tar::Archive::new(&tar[..]).entries().unwrap() {
        let e = e.unwrap();
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        kinds.insert(name, e.header().entry_type());
    }
    assert_eq!(kinds["./fifo"], tar::EntryType::Fifo);
    assert_eq!(kinds["./null"], tar::EntryType::Char);
    assert_eq!(kinds["./nodriver-c"], tar::EntryType::Char);
    assert_eq!(kinds["./blk"], tar::EntryType::Block);
    assert_eq!(kinds["./to-fifo"], tar::EntryType::Symlink);
    assert!(!kinds.contains_key("./sock"));
    assert!(
        stats.skipped.iter().any(|s| s == "./sock: socket ignored"),
        "{:?}",
        stats.skipped
    );
}

#[test]
fn content_calls_refuse_special_files_on_ext4() {
    if !require_root("mknod") {
        return;
    }
    let env = TestEnv::new("special-ext4");
    content_calls_refuse(env.path());
}

#[test]
fn content_calls_refuse_special_files_on_tmpfs() {
    if !require_root("mounting a tmpfs and mknod") {
        return;
    }
    let env = TestEnv::new("special-tmpfs");
    let mnt = Tmpfs::mount(&env.path().join("mnt"), "16m");
    content_calls_refuse(&mnt.0);
}

/// The user and group names of every entry of a plain tar stream.
fn names(tar: &[u8]) -> Vec<(String, String, String)> {
    tar::Archive::new(tar)
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                String::from_utf8_lossy(h.username_bytes().unwrap_or_default()).into_owned(),
                String::from_utf8_lossy(h.groupname_bytes().unwrap_or_default()).into_owned(),
            )
        })
        .collect()
}

#[test]
fn owner_tables_that_are_not_regular_files_are_not_read() {
    if !require_root("mknod and files of other owners") {
        return;
    }
    let env = TestEnv::new("special-names");
    let dir = env.path().join("root");
    std::fs::create_dir(&dir).unwrap();
    let root = GuestRoot::open(&dir).unwrap();
    root.mkdir_p("/etc", 0o755).unwrap();
    root.mkdir_p("/dev", 0o755).unwrap();
    root.mkdir_p("/data", 0o755).unwrap();
    root.write("/data/f", b"x").unwrap();
    root.chown(4242, 4242, "/data/f").unwrap();
    let tar_names = |root: &GuestRoot| {
        let mut tar = Vec::new();
        let stats = tar_out_to(root, "/data", &mut tar, &TarOutOptions::default()).unwrap();
        (names(&tar), stats.warnings)
    };

    // A FIFO /etc/passwd: tar_out finishes, with numeric ids and a warning.
    mknod(&dir.join("etc/passwd"), rustix::fs::FileType::Fifo, 0, 0);
    let (n, warnings) = tar_names(&root);
    assert!(n.iter().all(|(_, u, _)| u.is_empty()), "{n:?}");
    assert!(
        warnings
            .iter()
            .any(|w| w
                == "/etc/passwd: not a regular file (it is a fifo); ids are stored without names"),
        "{warnings:?}"
    );

    // A symlink to the guest's /dev/zero (a device node): not read.
    root.rm("/etc/passwd").unwrap();
    mknod(
        &dir.join("dev/zero"),
        rustix::fs::FileType::CharacterDevice,
        1,
        5,
    );
    root.ln_s("/dev/zero", "/etc/passwd").unwrap();
    root.ln_s("../dev/zero", "/etc/group").unwrap();
    let (n, warnings) = tar_names(&root);
    assert!(
        n.iter().all(|(_, u, g)| u.is_empty() && g.is_empty()),
        "{n:?}"
    );
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings.iter().all(|w| w.contains("character device")),
        "{warnings:?}"
    );

    // A symlink to a host file, by its absolute host path: resolved inside the
    // root, where nothing is; the host file is never read.
    let sentinel = env.path().join("sentinel");
    let hash = make_sentinel(&sentinel);
    let host_passwd = sentinel.join("passwd");
    std::fs::write(&host_passwd, b"hostonly:x:4242:4242::/:/bin/sh\n").unwrap();
    let hash_with_passwd = tree_hash(&sentinel);
    assert_ne!(hash, hash_with_passwd);
    root.rm("/etc/passwd").unwrap();
    root.ln_s(&host_passwd, "/etc/passwd").unwrap();
    let (n, _) = tar_names(&root);
    assert!(n.iter().all(|(_, u, _)| u != "hostonly"), "{n:?}");
    assert_eq!(tree_hash(&sentinel), hash_with_passwd);

    // An oversized table (a 1 GiB sparse file) is not read whole, nor used.
    root.rm("/etc/passwd").unwrap();
    let big = root
        .open_write("/etc/passwd", WriteMode::CreateNew, 0o644)
        .unwrap();
    big.set_len(1 << 30).unwrap();
    drop(big);
    let (n, warnings) = tar_names(&root);
    assert!(n.iter().all(|(_, u, _)| u.is_empty()), "{n:?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("/etc/passwd: file is larger than 16777216 bytes")),
        "{warnings:?}"
    );

    // A regular table of sane size is used.
    root.rm("/etc/passwd").unwrap();
    root.write("/etc/passwd", b"guestuser:x:4242:4242::/:/bin/sh\n")
        .unwrap();
    let (n, _) = tar_names(&root);
    assert!(
        n.iter().any(|(p, u, _)| p == "./f" && u == "guestuser"),
        "{n:?}"
    );
}
