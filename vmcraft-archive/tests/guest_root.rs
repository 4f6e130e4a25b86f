//! The libguestfs file calls on `GuestRoot` (vmcraft-fs, named by this crate too,
//! whose test helpers these use): results, symlink-following semantics,
//! serialised field names, and every refusal with a clear error and nothing changed.

mod common;

use common::{Snap, snapshot};
use vmcraft_archive::{ErrorKind, FileTime, GuestRoot, WriteMode};
use vmcraft_block::testing::{TestEnv, require_root};

fn setup(label: &str) -> (TestEnv, GuestRoot) {
    let env = TestEnv::new(label);
    let root = GuestRoot::open(env.path()).unwrap();
    (env, root)
}

/// Run `f`, which must fail with `kind`, and check the tree is unchanged.
fn refused<T: std::fmt::Debug>(
    env: &TestEnv,
    kind: ErrorKind,
    prefix: &str,
    f: impl FnOnce() -> vmcraft_archive::Result<T>,
) {
    let before = snapshot(env.path(), Snap::ALL);
    let err = f().unwrap_err();
    assert_eq!(err.kind(), kind, "{err}");
    assert!(
        err.to_string().starts_with(prefix),
        "{err:?} should start with {prefix:?}"
    );
    assert_eq!(
        before,
        snapshot(env.path(), Snap::ALL),
        "a refused call changed the tree: {err}"
    );
}

#[test]
fn open_refuses_what_is_not_a_directory() {
    let env = TestEnv::new("gr-open");
    std::fs::write(env.path().join("f"), b"").unwrap();
    let err = GuestRoot::open(env.path().join("f")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType);
    assert!(err.to_string().starts_with("guest_root: "), "{err}");
    let root = GuestRoot::open(env.path()).unwrap();
    assert_eq!(root.host_path(), env.path());
}

#[test]
fn read_write_append_cat() {
    let (env, root) = setup("gr-rw");
    root.write("/f", b"one\n").unwrap();
    root.write_append("/f", b"two\n").unwrap();
    root.write_append("/new", b"x").unwrap();
    assert_eq!(root.cat("/f").unwrap(), "one\ntwo\n");
    assert_eq!(root.read_file("/new").unwrap(), b"x");
    root.write("/f", b"").unwrap();
    assert_eq!(root.read_file("/f").unwrap(), b"");
    assert_eq!(
        root.lstat("/new").unwrap().mode & 0o777,
        i64::from(0o644 & !umask())
    );
    root.write("/bin", &[0xff, 0xfe]).unwrap();
    refused(
        &env,
        ErrorKind::InvalidArgument,
        "cat: /bin: file is not UTF-8",
        || root.cat("/bin"),
    );
    refused(&env, ErrorKind::NotFound, "read_file: /missing", || {
        root.read_file("/missing")
    });
    refused(&env, ErrorKind::NotFound, "write: /no/dir/f", || {
        root.write("/no/dir/f", b"x")
    });
    root.mkdir("/d", 0o755).unwrap();
    refused(&env, ErrorKind::WrongType, "write: /d", || {
        root.write("/d", b"x")
    });
    // CreateNew never follows or replaces.
    root.ln_s("/f", "/link").unwrap();
    refused(&env, ErrorKind::AlreadyExists, "open: /link", || {
        root.open_write("/link", WriteMode::CreateNew, 0o600)
    });
    // Write through a symlink follows it inside the root.
    root.write("/link", b"via link").unwrap();
    assert_eq!(root.read_file("/f").unwrap(), b"via link");
}

fn umask() -> u32 {
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    rustix::process::umask(old);
    old.bits()
}

#[test]
fn mkdir_and_mkdir_p() {
    let (env, root) = setup("gr-mkdir");
    root.mkdir("/a", 0o700).unwrap();
    assert_eq!(root.lstat("/a").unwrap().mode & 0o7777, 0o700);
    refused(&env, ErrorKind::AlreadyExists, "mkdir: /a", || {
        root.mkdir("/a", 0o755)
    });
    refused(&env, ErrorKind::AlreadyExists, "mkdir: /", || {
        root.mkdir("/", 0o755)
    });
    refused(&env, ErrorKind::NotFound, "mkdir: /x/y", || {
        root.mkdir("/x/y", 0o755)
    });
    root.mkdir_p("/a/b/c", 0o755).unwrap();
    root.mkdir_p("/a/b/c", 0o755).unwrap();
    root.mkdir_p("/", 0o755).unwrap();
    root.write("/file", b"").unwrap();
    refused(&env, ErrorKind::WrongType, "mkdir_p: /file/sub", || {
        root.mkdir_p("/file/sub", 0o755)
    });
    // Through a symlink to a directory.
    root.ln_s("a/b", "/ab").unwrap();
    root.mkdir_p("/ab/d", 0o755).unwrap();
    assert!(root.is_dir("/a/b/d", false).unwrap());
}

#[test]
fn removing() {
    let (env, root) = setup("gr-rm");
    root.mkdir_p("/d/sub", 0o755).unwrap();
    root.write("/d/sub/f", b"1").unwrap();
    root.write("/target", b"keep").unwrap();
    root.ln_s("/target", "/link").unwrap();
    refused(&env, ErrorKind::WrongType, "rm: /d", || root.rm("/d"));
    refused(&env, ErrorKind::NotFound, "rm: /missing", || {
        root.rm("/missing")
    });
    refused(&env, ErrorKind::WrongType, "rmdir: /d", || root.rmdir("/d"));
    refused(&env, ErrorKind::WrongType, "rmdir: /target", || {
        root.rmdir("/target")
    });
    refused(&env, ErrorKind::InvalidArgument, "rm_rf: /", || {
        root.rm_rf("/")
    });
    refused(&env, ErrorKind::InvalidArgument, "rm_rf: /d/..", || {
        root.rm_rf("/d/..")
    });
    refused(&env, ErrorKind::InvalidArgument, "rm: /", || root.rm("/"));
    root.rm_f("/missing").unwrap();
    root.rm("/link").unwrap();
    assert_eq!(root.read_file("/target").unwrap(), b"keep");
    root.ln_s("/d", "/dlink").unwrap();
    root.rm_rf("/dlink").unwrap();
    assert!(
        root.is_file("/d/sub/f", false).unwrap(),
        "rm_rf removes a symlink, not what it points to"
    );
    root.rm_rf("/d").unwrap();
    root.rm_rf("/d").unwrap();
    assert!(!root.exists("/d").unwrap());
    root.mkdir("/e", 0o755).unwrap();
    root.rmdir("/e").unwrap();
}

#[test]
fn rename_and_mv() {
    let (env, root) = setup("gr-mv");
    root.write("/a", b"a").unwrap();
    root.mkdir("/dir", 0o755).unwrap();
    root.rename("/a", "/b").unwrap();
    assert_eq!(root.read_file("/b").unwrap(), b"a");
    root.mv("/b", "/dir").unwrap();
    assert_eq!(root.read_file("/dir/b").unwrap(), b"a");
    root.mv("/dir/b", "/c").unwrap();
    assert!(root.is_file("/c", false).unwrap());
    refused(&env, ErrorKind::NotFound, "mv: /missing", || {
        root.mv("/missing", "/x")
    });
    refused(&env, ErrorKind::NotFound, "rename: /missing", || {
        root.rename("/missing", "/x")
    });
}

#[test]
fn links() {
    let (env, root) = setup("gr-ln");
    root.write("/t", b"t").unwrap();
    root.ln_s("/t", "/s").unwrap();
    assert_eq!(root.readlink("/s").unwrap(), "/t");
    refused(&env, ErrorKind::AlreadyExists, "ln_s: /s", || {
        root.ln_s("/other", "/s")
    });
    root.ln_sf("/other", "/s").unwrap();
    assert_eq!(root.readlink("/s").unwrap(), "/other");
    refused(&env, ErrorKind::InvalidArgument, "readlink: /t", || {
        root.readlink("/t")
    });
    root.ln("/t", "/h").unwrap();
    assert_eq!(root.lstat("/t").unwrap().nlink, 2);
    refused(&env, ErrorKind::AlreadyExists, "ln: /h", || {
        root.ln("/t", "/h")
    });
    refused(&env, ErrorKind::NotFound, "ln: /h2", || {
        root.ln("/missing", "/h2")
    });
    root.mkdir("/d", 0o755).unwrap();
    refused(&env, ErrorKind::WrongType, "ln_sf: /d", || {
        root.ln_sf("/x", "/d")
    });
}

#[test]
fn attributes_follow_or_not_like_libguestfs() {
    let (env, root) = setup("gr-attr");
    root.write("/t", b"t").unwrap();
    root.ln_s("t", "/s").unwrap();
    root.chmod(0o600, "/s").unwrap();
    assert_eq!(
        root.lstat("/t").unwrap().mode & 0o7777,
        0o600,
        "chmod follows"
    );
    let t = FileTime::At(1_000_000_000, 5);
    root.utimens("/s", t, t).unwrap();
    assert_eq!(
        root.lstatns("/s").unwrap().st_mtime_sec,
        1_000_000_000,
        "utimens sets the link itself"
    );
    assert_eq!(root.lstatns("/s").unwrap().st_mtime_nsec, 5);
    assert_ne!(root.statns("/t").unwrap().st_mtime_sec, 1_000_000_000);
    root.utimens("/t", FileTime::Omit, t).unwrap();
    assert_eq!(root.statns("/s").unwrap().st_mtime_sec, 1_000_000_000);
    root.touch("/new").unwrap();
    assert!(root.is_file("/new", false).unwrap());
    root.utimens("/new", t, t).unwrap();
    root.touch("/new").unwrap();
    assert!(root.statns("/new").unwrap().st_mtime_sec > 1_000_000_000);
    root.mkdir("/d", 0o755).unwrap();
    root.touch("/d").unwrap();
    refused(&env, ErrorKind::NotFound, "chmod: /missing", || {
        root.chmod(0o644, "/missing")
    });
    refused(&env, ErrorKind::NotFound, "utimens: /missing", || {
        root.utimens("/missing", t, t)
    });
    refused(&env, ErrorKind::NotFound, "touch: /no/such", || {
        root.touch("/no/such")
    });
    root.lsetxattr("user.k", b"v", "/t").unwrap();
    let x = root.lgetxattrs("/t").unwrap();
    assert_eq!(x.len(), 1);
    assert_eq!(
        (x[0].attrname.as_str(), x[0].attrval.as_slice()),
        ("user.k", b"v".as_slice())
    );
    refused(&env, ErrorKind::NotFound, "lgetxattrs: /missing", || {
        root.lgetxattrs("/missing")
    });
}

#[test]
fn ownership_follows_for_chown_not_lchown() {
    if !require_root("chown to other users") {
        return;
    }
    let (_env, root) = setup("gr-chown");
    root.write("/t", b"t").unwrap();
    root.ln_s("t", "/s").unwrap();
    root.chown(1000, 2000, "/s").unwrap();
    assert_eq!(
        (root.lstat("/t").unwrap().uid, root.lstat("/t").unwrap().gid),
        (1000, 2000)
    );
    root.lchown(3000, 4000, "/s").unwrap();
    assert_eq!(root.lstat("/s").unwrap().uid, 3000);
    assert_eq!(root.lstat("/t").unwrap().uid, 1000);
    root.chown(-1, 5, "/t").unwrap();
    assert_eq!(
        (root.lstat("/t").unwrap().uid, root.lstat("/t").unwrap().gid),
        (1000, 5)
    );
}

#[test]
fn tests_of_existence_and_type() {
    let (_env, root) = setup("gr-is");
    root.write("/f", b"").unwrap();
    root.mkdir("/d", 0o755).unwrap();
    root.ln_s("f", "/lf").unwrap();
    root.ln_s("d", "/ld").unwrap();
    root.ln_s("nowhere", "/dangling").unwrap();
    assert!(root.exists("/f").unwrap() && root.exists("/lf").unwrap());
    assert!(!root.exists("/dangling").unwrap() && !root.exists("/missing").unwrap());
    assert!(!root.exists("/f/below").unwrap());
    assert!(root.is_file("/f", false).unwrap() && !root.is_file("/lf", false).unwrap());
    assert!(root.is_file("/lf", true).unwrap());
    assert!(root.is_dir("/ld", true).unwrap() && !root.is_dir("/ld", false).unwrap());
    assert!(root.is_symlink("/dangling").unwrap() && !root.is_symlink("/f").unwrap());
    assert!(root.is_dir("/", false).unwrap());
}

#[test]
fn stat_structs_serialise_with_libguestfs_names() {
    let (env, root) = setup("gr-stat");
    root.write("/f", b"12345").unwrap();
    let st = root.statns("/f").unwrap();
    assert_eq!(st.st_size, 5);
    assert_eq!(st.st_mode & 0o170000, 0o100000);
    let json = serde_json::to_value(st).unwrap();
    let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    for k in [
        "st_dev",
        "st_ino",
        "st_mode",
        "st_nlink",
        "st_uid",
        "st_gid",
        "st_rdev",
        "st_size",
        "st_blksize",
        "st_blocks",
        "st_atime_sec",
        "st_atime_nsec",
        "st_mtime_sec",
        "st_mtime_nsec",
        "st_ctime_sec",
        "st_ctime_nsec",
        "st_spare1",
        "st_spare6",
    ] {
        assert!(keys.contains(&k.to_string()), "{k} in {keys:?}");
    }
    let old = serde_json::to_value(root.lstat("/f").unwrap()).unwrap();
    for k in [
        "dev", "ino", "mode", "nlink", "uid", "gid", "rdev", "size", "blksize", "blocks", "atime",
        "mtime", "ctime",
    ] {
        assert!(old.get(k).is_some(), "{k}");
    }
    let vfs = serde_json::to_value(root.statvfs("/").unwrap()).unwrap();
    for k in [
        "bsize", "frsize", "blocks", "bfree", "bavail", "files", "ffree", "favail", "fsid", "flag",
        "namemax",
    ] {
        assert!(vfs.get(k).is_some(), "{k}");
    }
    assert!(vfs["namemax"].as_i64().unwrap() >= 255);
    refused(&env, ErrorKind::NotFound, "statns: /missing", || {
        root.statns("/missing")
    });
    refused(&env, ErrorKind::NotFound, "statvfs: /missing", || {
        root.statvfs("/missing")
    });
}

#[test]
fn listing_and_find() {
    let (env, root) = setup("gr-ls");
    root.mkdir_p("/t/b/c", 0o755).unwrap();
    root.write("/t/a", b"").unwrap();
    root.write("/t/a-c", b"").unwrap();
    root.write("/t/b/f", b"").unwrap();
    root.ln_s("/t", "/t/b/loop").unwrap();
    assert_eq!(root.ls("/t").unwrap(), ["a", "a-c", "b"]);
    assert_eq!(
        root.find("/t").unwrap(),
        ["a", "a-c", "b", "b/c", "b/f", "b/loop"]
    );
    let entries = root.readdir("/t/b").unwrap();
    let mut names: Vec<_> = entries.iter().map(|e| (e.name.as_str(), e.ftyp)).collect();
    names.sort();
    assert_eq!(
        names,
        [
            (".", 'd'),
            ("..", 'd'),
            ("c", 'd'),
            ("f", 'r'),
            ("loop", 'l')
        ]
    );
    let json = serde_json::to_value(&entries[0]).unwrap();
    assert!(json.get("ino").is_some() && json.get("ftyp").is_some() && json.get("name").is_some());
    refused(&env, ErrorKind::NotFound, "ls: /missing", || {
        root.ls("/missing")
    });
    refused(&env, ErrorKind::WrongType, "find: /t/a", || {
        root.find("/t/a")
    });
    refused(&env, ErrorKind::WrongType, "readdir: /t/a", || {
        root.readdir("/t/a")
    });
}

#[test]
fn copies() {
    let (env, root) = setup("gr-cp");
    root.mkdir_p("/src/sub", 0o750).unwrap();
    root.write("/src/sub/f", b"data").unwrap();
    root.chmod(0o640, "/src/sub/f").unwrap();
    root.lsetxattr("user.x", b"1", "/src/sub/f").unwrap();
    root.ln_s("f", "/src/sub/l").unwrap();
    let t = FileTime::At(1_500_000_000, 0);
    root.utimens("/src/sub/f", t, t).unwrap();
    root.mkdir("/dest", 0o755).unwrap();
    root.cp("/src/sub/f", "/dest").unwrap();
    assert_eq!(root.read_file("/dest/f").unwrap(), b"data");
    root.cp("/src/sub/l", "/copy-of-link").unwrap();
    assert!(
        root.is_file("/copy-of-link", false).unwrap(),
        "cp follows the source"
    );
    refused(&env, ErrorKind::WrongType, "cp: /src", || {
        root.cp("/src", "/x")
    });
    refused(&env, ErrorKind::NotFound, "cp: /missing", || {
        root.cp("/missing", "/x")
    });
    root.cp_a("/src", "/dest").unwrap();
    let a = snapshot(&env.path().join("src"), Snap::ALL);
    let b = snapshot(&env.path().join("dest/src"), Snap::ALL);
    common::assert_same(&a, &b, "cp_a");
    refused(&env, ErrorKind::NotFound, "cp_a: /missing", || {
        root.cp_a("/missing", "/y")
    });
}
