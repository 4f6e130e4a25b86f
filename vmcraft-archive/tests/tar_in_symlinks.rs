//! `tar_in` into a directory of a guest (`/upload`) through the archive's own
//! symlinks, on a real tree: `l -> /etc` then `l/cron.d/x`, `l -> ..`,
//! `l -> ../../etc`, relative chains ending in `..`, hard links to
//! `/etc/shadow` (directly, through an archive symlink, through a guest
//! symlink), `dir/../../x` names, a symlink then a file of the same name.
//!
//! In every case the guest files outside the target are unchanged (compared by
//! a snapshot with content hashes), and where GNU tar extracts the same archive
//! in a way that can be compared (it makes absolute and `..` symlinks last, as
//! placeholders, just as `tar_in` does), the result is the same as GNU tar's,
//! extracted in a scratch directory of its own. The cases where GNU tar would
//! follow what it met on the host (a symlink already in the directory, a hard
//! link target with `..`) are never given to it.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::{Node, RawTar, Snap, assert_same, snapshot, write_file};
use vmcraft_archive::{ErrorKind, GuestRoot, TarInOptions, tar_in, tar_in_from};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

/// What a case expects of `tar_in`.
enum Expect {
    Ok,
    /// Refused with this kind, the message naming this.
    Err(ErrorKind, &'static str),
}

/// How results are compared: owners, modes, contents, file mtimes (the mtimes
/// of directories made on the way differ by when they were made).
const COMPARE: Snap = Snap {
    mtimes: true,
    dir_mtimes: false,
    owners: true,
    xattrs: false,
};

struct Guest {
    env: TestEnv,
    dir: PathBuf,
    root: GuestRoot,
}

impl Guest {
    /// A guest with `/etc` (cron.d, shadow, passwd, hostname) and an empty
    /// `/upload`, the target of every extraction.
    fn new(label: &str) -> Guest {
        let env = TestEnv::new(label);
        let dir = env.path().join("guest");
        std::fs::create_dir(&dir).unwrap();
        let root = GuestRoot::open(&dir).unwrap();
        root.mkdir_p("/etc/cron.d", 0o755).unwrap();
        root.write("/etc/cron.d/existing", b"* * * * * root true\n")
            .unwrap();
        root.write("/etc/shadow", b"root:$6$guest:19000:0:99999:7:::\n")
            .unwrap();
        root.write("/etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
            .unwrap();
        root.write("/etc/hostname", b"guest\n").unwrap();
        root.mkdir("/upload", 0o755).unwrap();
        root.mkdir("/stream", 0o755).unwrap();
        Guest { env, dir, root }
    }

    /// Everything outside the two target directories.
    fn outside(&self) -> BTreeMap<String, Node> {
        let mut s = snapshot(&self.dir, Snap::ALL);
        s.retain(|k, _| {
            !(k == "upload"
                || k.starts_with("upload/")
                || k == "stream"
                || k.starts_with("stream/"))
        });
        s.remove(".");
        s
    }
}

fn check(label: &str, res: vmcraft_archive::Result<vmcraft_archive::TarStats>, want: &Expect) {
    match (res, want) {
        (Ok(_), Expect::Ok) => {}
        (Err(e), Expect::Err(kind, needle)) => {
            assert_eq!(e.kind(), *kind, "{label}: {e}");
            assert!(e.to_string().contains(needle), "{label}: {e}");
            assert!(e.to_string().starts_with("tar_in: "), "{label}: {e}");
        }
        (Ok(_), Expect::Err(..)) => panic!("{label}: extracted, should have been refused"),
        (Err(e), Expect::Ok) => panic!("{label}: {e}"),
    }
}

/// Extract `data` into `/upload` (from a file) and `/stream` (from a stream),
/// check the outcome and that nothing outside them changed; with `oracle`,
/// compare both with what GNU tar makes of the same archive.
fn case(label: &str, data: &[u8], want: Expect, oracle: bool, prepare: impl Fn(&Guest)) {
    let g = Guest::new("symlinks");
    prepare(&g);
    let before = g.outside();
    let tarball = write_file(g.env.path(), "case.tar", data);
    let res = tar_in(&g.root, &tarball, "/upload", &TarInOptions::default());
    check(&format!("{label} (file)"), res, &want);
    let res = tar_in_from(&g.root, data, "/stream", &TarInOptions::default());
    check(&format!("{label} (stream)"), res, &want);
    assert_eq!(
        before,
        g.outside(),
        "{label}: the guest outside the target changed"
    );
    if !oracle {
        return;
    }
    let scratch = g.env.path().join("gnu");
    std::fs::create_dir(&scratch).unwrap();
    // GNU tar exits 2 after a member it could not extract, and goes on; the
    // cases put that member last, where `tar_in` stops.
    let out = std::process::Command::new("tar")
        .arg("-C")
        .arg(&scratch)
        .arg("-xf")
        .arg(&tarball)
        .output()
        .unwrap();
    let gnu = snapshot(&scratch, COMPARE);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for target in ["upload", "stream"] {
        let ours = snapshot(&g.dir.join(target), COMPARE);
        assert_same(
            &gnu,
            &ours,
            &format!("{label}: GNU tar ({stderr}) vs tar_in into /{target}"),
        );
    }
}

fn have_tools() -> bool {
    require_root("extracting as GNU tar does, owners included") && require_tool("tar")
}

#[test]
fn absolute_and_dotdot_symlinks_are_made_last() {
    if !have_tools() {
        return;
    }
    let not_dir = Expect::Err(ErrorKind::WrongType, "parent directory");
    case(
        "l -> /etc, then l/cron.d/x",
        &RawTar::default()
            .symlink("l", "/etc")
            .file("l/cron.d/x", b"* * * * * root pwned\n")
            .finish(),
        Expect::Err(ErrorKind::WrongType, "\"l/cron.d/x\": parent directory"),
        true,
        |_| {},
    );
    case(
        "l -> .., then l/x",
        &RawTar::default()
            .symlink("./l", "..")
            .file("./l/x", b"pwned\n")
            .finish(),
        not_dir,
        true,
        |_| {},
    );
    case(
        "l -> ../../etc, then l/cron.d/x",
        &RawTar::default()
            .dir("./d/")
            .symlink("./d/l", "../../etc")
            .file("./d/l/cron.d/x", b"pwned\n")
            .finish(),
        Expect::Err(ErrorKind::WrongType, "parent directory"),
        true,
        |_| {},
    );
}

#[test]
fn chains_of_relative_symlinks() {
    if !have_tools() {
        return;
    }
    // a -> b -> c -> ../..: a and b are made at once (relative, no `..`), c
    // waits, so a/etc/... meets a placeholder.
    case(
        "a -> b -> c -> ../..",
        &RawTar::default()
            .symlink("./a", "b")
            .symlink("./b", "c")
            .symlink("./c", "../..")
            .file("./a/etc/cron.d/x", b"pwned\n")
            .finish(),
        Expect::Err(ErrorKind::WrongType, "parent directory"),
        true,
        |_| {},
    );
    // Relative links without `..` lead only below where they are, and are
    // followed as GNU tar follows them.
    case(
        "f -> e -> d/, then f/x",
        &RawTar::default()
            .dir("./d/")
            .symlink("./e", "d")
            .symlink("./f", "e")
            .file("./f/x", b"inside\n")
            .symlink("./d/up", "../d")
            .finish(),
        Expect::Ok,
        true,
        |_| {},
    );
}

#[test]
fn hard_links_never_reach_outside() {
    if !have_tools() {
        return;
    }
    case(
        "hard link to /etc/shadow",
        &RawTar::default().hardlink("./h", "/etc/shadow").finish(),
        Expect::Err(ErrorKind::Unsafe, "hard link target \"/etc/shadow\""),
        true,
        |_| {},
    );
    case(
        "hard link through an archive symlink",
        &RawTar::default()
            .symlink("./s", "/etc")
            .hardlink("./h", "s/shadow")
            .finish(),
        Expect::Err(ErrorKind::WrongType, "hard link target \"s/shadow\""),
        true,
        |_| {},
    );
    // GNU tar would make this link at the end, relative to its directory:
    // never given to it.
    case(
        "hard link to ../etc/shadow",
        &RawTar::default().hardlink("./h", "../etc/shadow").finish(),
        Expect::Err(ErrorKind::Unsafe, "hard link target \"../etc/shadow\""),
        false,
        |_| {},
    );
    // A symlink the guest has in the target, leading out of it.
    let through_guest_link = |g: &Guest| {
        g.root.ln_s("/etc", "/upload/gs").unwrap();
        g.root.ln_s("../etc", "/stream/gs").unwrap();
    };
    case(
        "hard link through a guest symlink",
        &RawTar::default().hardlink("./h", "gs/shadow").finish(),
        Expect::Err(
            ErrorKind::Unsafe,
            "the path leads out of the target directory",
        ),
        false,
        through_guest_link,
    );
    case(
        "a file through a guest symlink",
        &RawTar::default().file("./gs/cron.d/y", b"pwned\n").finish(),
        Expect::Err(
            ErrorKind::Unsafe,
            "\"./gs/cron.d/y\": parent directory: the path leads out of the target directory",
        ),
        false,
        through_guest_link,
    );
}

#[test]
fn dotdot_names_are_refused() {
    if !require_root("a guest tree of root's") {
        return;
    }
    case(
        "dir/../../x",
        &RawTar::default()
            .dir("./dir/")
            .file("./dir/../../x", b"pwned\n")
            .finish(),
        Expect::Err(ErrorKind::Unsafe, "dir/../../x"),
        false,
        |_| {},
    );
}

#[test]
fn later_entries_replace_waiting_symlinks() {
    if !have_tools() {
        return;
    }
    // The file wins. (GNU tar 1.34 means the same, but knows its placeholder
    // by inode number alone: when the filesystem gives the new file the
    // placeholder's number, as ext4 does at once, it replaces the file with
    // the symlink at the end. tar_in counts the placeholder's names instead,
    // so it is not compared with GNU tar here.)
    let data = RawTar::default()
        .symlink("./l", "/etc/passwd")
        .file("./l", b"a file, not the guest's passwd\n")
        .finish();
    case(
        "symlink then a file of the same name",
        &data,
        Expect::Ok,
        false,
        |_| {},
    );
    let g = Guest::new("symlinks-file");
    let before = g.outside();
    tar_in_from(&g.root, &data[..], "/upload", &TarInOptions::default()).unwrap();
    assert!(!g.root.is_symlink("/upload/l").unwrap());
    assert_eq!(
        g.root.read_file("/upload/l").unwrap(),
        b"a file, not the guest's passwd\n"
    );
    assert_eq!(before, g.outside());
    case(
        "relative symlink then a file of the same name",
        &RawTar::default()
            .dir("./sub/")
            .symlink("./l", "sub")
            .file("./l", b"a file\n")
            .finish(),
        Expect::Ok,
        true,
        |_| {},
    );
    case(
        "symlink then a directory of the same name",
        &RawTar::default()
            .symlink("./l", "/etc")
            .dir("./l/")
            .file("./l/x", b"inside\n")
            .finish(),
        Expect::Ok,
        true,
        |_| {},
    );
    // A duplicate of a waiting symlink: the first stays, as in GNU tar.
    case(
        "the same symlink twice",
        &RawTar::default()
            .symlink("./l", "/a")
            .symlink("./l", "/b")
            .finish(),
        Expect::Ok,
        true,
        |_| {},
    );
}

#[test]
fn a_hard_link_to_a_waiting_symlink_is_the_symlink() {
    if !have_tools() {
        return;
    }
    let data = RawTar::default()
        .symlink("./l", "/etc")
        .hardlink("./h", "l")
        .finish();
    case("hard link to l -> /etc", &data, Expect::Ok, true, |_| {});
    // Both names are the one symlink, as GNU tar makes them.
    let g = Guest::new("symlinks-hl");
    tar_in_from(&g.root, &data[..], "/upload", &TarInOptions::default()).unwrap();
    let (l, h) = (g.dir.join("upload/l"), g.dir.join("upload/h"));
    assert_eq!(std::fs::read_link(&l).unwrap(), Path::new("/etc"));
    assert_eq!(
        std::fs::symlink_metadata(&l).unwrap().ino(),
        std::fs::symlink_metadata(&h).unwrap().ino()
    );
}
