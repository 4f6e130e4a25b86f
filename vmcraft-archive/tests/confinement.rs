//! Confinement: crafted archives (`../../etc/x`, `/etc/x`, a symlink to `/` with a
//! file under it (the link is made last, so nothing is written through it), hard
//! links to `/etc/shadow` and out of the tree) and guest
//! roots holding `etc -> /etc`, `var/run -> /run` and links to a sentinel tree
//! outside the root. Nothing outside the root is created, changed or read: the
//! sentinel tree is hashed before and after, the host's `/etc` and `/run` are
//! checked for the names the archives try to create there, and archives made
//! from such a guest are searched for the sentinel's content.

mod common;

use std::path::{Path, PathBuf};

use common::{RawTar, Snap, make_sentinel, snapshot, tree_hash, write_file};
use vmcraft_archive::{
    ErrorKind, GuestRoot, TarInOptions, TarOutOptions, tar_in, tar_in_from, tar_out, tar_out_to,
};
use vmcraft_block::testing::TestEnv;

struct Setup {
    env: TestEnv,
    root_dir: PathBuf,
    sentinel: PathBuf,
    sentinel_hash: String,
}

impl Setup {
    fn new(label: &str) -> Self {
        let env = TestEnv::new(label);
        let root_dir = env.path().join("root");
        let sentinel = env.path().join("sentinel");
        std::fs::create_dir(&root_dir).unwrap();
        let sentinel_hash = make_sentinel(&sentinel);
        Setup {
            env,
            root_dir,
            sentinel,
            sentinel_hash,
        }
    }

    fn root(&self) -> GuestRoot {
        GuestRoot::open(&self.root_dir).unwrap()
    }

    fn check_sentinel(&self) {
        assert_eq!(
            tree_hash(&self.sentinel),
            self.sentinel_hash,
            "the sentinel tree outside the root changed"
        );
    }

    fn tarball(&self, name: &str, data: &[u8]) -> PathBuf {
        write_file(self.env.path(), name, data)
    }
}

fn unique(tag: &str) -> String {
    format!("vmcraft-escape-{}-{}", std::process::id(), tag)
}

#[test]
fn malicious_entries_are_refused_naming_the_entry_and_nothing_changes() {
    let s = Setup::new("conf-refuse");
    let root = s.root();
    root.write("/existing", b"keep me\n").unwrap();
    let sent = s.sentinel.display().to_string();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "dotdot",
            RawTar::default()
                .file("./ok", b"1")
                .file("../../etc/x", b"pwned")
                .finish(),
            "../../etc/x",
        ),
        (
            "absolute",
            RawTar::default()
                .file("./ok", b"1")
                .file("/etc/x", b"pwned")
                .finish(),
            "/etc/x",
        ),
        (
            "absolute-sentinel",
            RawTar::default()
                .file(&format!("{sent}/secret"), b"pwned")
                .finish(),
            "/secret",
        ),
        (
            "nested-dotdot",
            RawTar::default()
                .dir("a/")
                .file("a/b/../../../x", b"pwned")
                .finish(),
            "a/b/../../../x",
        ),
        (
            "long-dotdot",
            RawTar::default()
                .file(&format!("{}/../../../../x", "d".repeat(150)), b"pwned")
                .finish(),
            "../../../../x",
        ),
        (
            "hardlink-shadow",
            RawTar::default()
                .file("./ok", b"1")
                .hardlink("./h", "/etc/shadow")
                .finish(),
            "/etc/shadow",
        ),
        (
            "hardlink-dotdot",
            RawTar::default()
                .hardlink("./h", "../sentinel/secret")
                .finish(),
            "../sentinel/secret",
        ),
    ];
    for (label, data, needle) in cases {
        let before = snapshot(&s.root_dir, Snap::ALL);
        let tarball = s.tarball(&format!("{label}.tar"), &data);
        // Compressed, verified by decompressing: refused, nothing changed.
        let gz = {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        };
        let gz_path = s.tarball(&format!("{label}.tar.gz"), &gz);
        let err = tar_in(&root, &gz_path, "/", &TarInOptions::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsafe, "{label} (gzip): {err}");
        assert!(err.to_string().contains(needle), "{label} (gzip): {err}");
        assert_eq!(
            before,
            snapshot(&s.root_dir, Snap::ALL),
            "{label} (gzip): the guest changed"
        );
        // From a file: verified first, so nothing at all is extracted.
        let err = tar_in(&root, &tarball, "/", &TarInOptions::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsafe, "{label}: {err}");
        assert!(
            err.to_string().contains(needle),
            "{label}: the error names the entry: {err}"
        );
        assert_eq!(
            before,
            snapshot(&s.root_dir, Snap::ALL),
            "{label}: the guest changed"
        );
        // From a stream: refused when reached; the entries before it land in the
        // root, nothing outside.
        let err = tar_in_from(&root, &data[..], "/", &TarInOptions::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsafe, "{label}: {err}");
        s.check_sentinel();
        assert!(!Path::new("/etc/x").exists());
        let _ = root.rm_f("/ok");
    }
    assert_eq!(root.read_file("/existing").unwrap(), b"keep me\n");
}

#[test]
fn the_archives_own_symlinks_are_never_passed_through() {
    let s = Setup::new("conf-symlink");
    let root = s.root();
    let name = unique("slash");
    let sent = s.sentinel.display().to_string();
    // Were the links followed (inside the root), every path below would exist.
    root.mkdir_p(format!("{sent}/etc"), 0o755).unwrap();
    root.mkdir_p("/etc", 0o755).unwrap();
    let cases = [
        (
            "./to-root",
            "/".to_string(),
            format!("./to-root/etc/{name}"),
        ),
        (
            "./up",
            "../../../../../../../..".to_string(),
            format!("./up/{name}"),
        ),
        ("./sent", sent.clone(), "./sent/secret".to_string()),
        (
            "./sent-rel",
            format!("../../../../../../../..{sent}"),
            "./sent-rel/etc/shadow".to_string(),
        ),
    ];
    for (link, target, through) in cases {
        // The entry through the link comes last, where the call stops.
        let data = RawTar::default()
            .symlink(link, &target)
            .file(&through, b"written through a symlink\n")
            .finish();
        let tarball = s.tarball("symlinks.tar", &data);
        for verify_first in [true, false] {
            let before = snapshot(&s.root_dir, Snap::ALL);
            let opts = TarInOptions {
                verify_first,
                ..Default::default()
            };
            let err = tar_in(&root, &tarball, "/", &opts).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::WrongType, "{link}: {err}");
            assert!(err.to_string().contains(&through), "{link}: {err}");
            // The link is made at the end, as stored; nothing went through it.
            assert_eq!(root.readlink(link).unwrap(), target, "{link}");
            let mut after = snapshot(&s.root_dir, Snap::ALL);
            after.remove(link.trim_start_matches("./"));
            let mut before = before;
            before.remove(link.trim_start_matches("./"));
            // Making the link changed the root's mtime (in whichever second it
            // ran); nothing else of the root may change.
            for snap in [&mut before, &mut after] {
                if let Some(root) = snap.get_mut(".") {
                    root.mtime = 0;
                }
            }
            assert_eq!(before, after, "{link}: something was written");
            root.rm(link).unwrap();
        }
        s.check_sentinel();
    }
    assert!(!Path::new("/etc").join(&name).exists());
    // A symlink, then a file of the same name: the file replaces the waiting
    // link, which is then not made.
    let data = RawTar::default()
        .symlink("./sent-shadow", &format!("{sent}/etc/shadow"))
        .file("./sent-shadow", b"replace, not write through\n")
        .finish();
    tar_in(
        &root,
        s.tarball("same.tar", &data),
        "/",
        &TarInOptions::default(),
    )
    .unwrap();
    assert!(!root.is_symlink("/sent-shadow").unwrap());
    assert_eq!(
        root.read_file("/sent-shadow").unwrap(),
        b"replace, not write through\n"
    );
    s.check_sentinel();
}

#[test]
fn guest_symlinks_to_host_paths_stay_in_the_root() {
    let s = Setup::new("conf-guest");
    let root = s.root();
    let sent = s.sentinel.display().to_string();
    root.ln_s("/etc", "/etc").unwrap(); // etc -> /etc: a loop inside the root
    root.mkdir("/var", 0o755).unwrap();
    root.ln_s("/run", "/var/run").unwrap();
    root.ln_s(&sent, "/sent").unwrap();
    root.ln_s(format!("../../../../../../../../../..{sent}"), "/sent-rel")
        .unwrap();
    let name = unique("guest");
    let shadow_links = std::fs::metadata("/etc/shadow")
        .map(|m| std::os::unix::fs::MetadataExt::nlink(&m))
        .ok();

    // Extraction through the guest's symlinks.
    let through_etc = RawTar::default()
        .file(&format!("./etc/{name}"), b"x")
        .finish();
    let err = tar_in_from(&root, &through_etc[..], "/", &TarInOptions::default()).unwrap_err();
    assert!(err.to_string().contains(&name), "{err}");
    let data = RawTar::default()
        .file(&format!("./var/run/{name}"), b"run\n")
        .file("./sent/secret", b"overwrite attempt\n")
        .file("./sent-rel/etc/shadow", b"overwrite attempt\n")
        .finish();
    let err = tar_in_from(&root, &data[..], "/", &TarInOptions::default()).unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::NotFound,
        "var/run dangles inside the root: {err}"
    );
    assert!(!Path::new("/run").join(&name).exists());
    root.mkdir("/run", 0o755).unwrap();
    let err = tar_in_from(&root, &data[..], "/", &TarInOptions::default()).unwrap_err();
    assert!(err.to_string().contains("./sent/secret"), "{err}");
    root.mkdir_p(format!("{sent}/etc"), 0o755).unwrap();
    tar_in_from(&root, &data[..], "/", &TarInOptions::default()).unwrap();
    assert_eq!(root.read_file(format!("/run/{name}")).unwrap(), b"run\n");
    assert_eq!(
        root.read_file(format!("{sent}/secret")).unwrap(),
        b"overwrite attempt\n"
    );
    assert_eq!(
        root.read_file(format!("{sent}/etc/shadow")).unwrap(),
        b"overwrite attempt\n"
    );
    assert!(!Path::new("/run").join(&name).exists());
    assert!(!Path::new("/etc").join(&name).exists());
    for target in ["etc/shadow", "sent/etc/shadow", "sent-rel/etc/shadow"] {
        let link = RawTar::default()
            .hardlink(&format!("./h-{}", target.replace('/', "-")), target)
            .finish();
        let _ = tar_in_from(&root, &link[..], "/", &TarInOptions::default());
    }
    s.check_sentinel();
    assert_eq!(
        shadow_links,
        std::fs::metadata("/etc/shadow")
            .map(|m| std::os::unix::fs::MetadataExt::nlink(&m))
            .ok(),
        "a hard link to the host's /etc/shadow was made"
    );

    // Reading: tar_out of the guest stores the links, never what is behind them.
    root.rm_rf(&sent).unwrap();
    let mut tar = Vec::new();
    tar_out_to(&root, "/", &mut tar, &TarOutOptions::default()).unwrap();
    let hay = String::from_utf8_lossy(&tar);
    assert!(!hay.contains("TOP-SECRET-SENTINEL") && !hay.contains("root:SECRET"));
    let err = tar_out_to(&root, "/etc", &mut Vec::new(), &TarOutOptions::default()).unwrap_err();
    assert!(err.to_string().starts_with("tar_out: /etc"), "{err}");
    for dir in ["/sent", "/sent-rel/etc"] {
        let err = tar_out(
            &root,
            dir,
            s.env.path().join("leak.tar"),
            &TarOutOptions::default(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{dir}: {err}");
        assert!(
            !s.env.path().join("leak.tar").exists(),
            "a failed tar_out removes its output"
        );
    }

    // The file calls.
    for p in ["/sent/secret", "/sent-rel/secret", "/sent-rel/etc/shadow"] {
        assert_eq!(
            root.read_file(p).unwrap_err().kind(),
            ErrorKind::NotFound,
            "{p}"
        );
        assert_eq!(
            root.chmod(0o777, p).unwrap_err().kind(),
            ErrorKind::NotFound,
            "{p}"
        );
        assert_eq!(
            root.chown(1, 1, p).unwrap_err().kind(),
            ErrorKind::NotFound,
            "{p}"
        );
        assert_eq!(
            root.lstat(p).unwrap_err().kind(),
            ErrorKind::NotFound,
            "{p}"
        );
        assert_eq!(
            root.cp(p, "/copy").unwrap_err().kind(),
            ErrorKind::NotFound,
            "{p}"
        );
        assert_eq!(
            root.ln(p, "/hl").unwrap_err().kind(),
            ErrorKind::NotFound,
            "{p}"
        );
        assert!(!root.exists(p).unwrap());
        assert!(root.write(p, b"pwned").is_err(), "{p}");
        assert!(root.lgetxattrs(p).is_err());
    }
    assert_eq!(root.ls("/sent").unwrap_err().kind(), ErrorKind::NotFound);
    // Through a dangling link, as `mkdir -p` does: refused.
    assert!(root.mkdir_p("/sent/made-inside", 0o755).is_err());
    root.rm_rf("/sent").unwrap();
    root.rm_rf("/sent-rel").unwrap();
    assert!(!root.exists("/sent").unwrap() && root.lstat("/sent").is_err());
    s.check_sentinel();
    assert!(!Path::new("/etc").join(&name).exists());
}

#[test]
fn dotdot_never_leaves_the_root() {
    let s = Setup::new("conf-dotdot");
    let root = s.root();
    root.write("/f", b"in root").unwrap();
    assert_eq!(root.read_file("/../../../../f").unwrap(), b"in root");
    assert_eq!(
        root.read_file("../sentinel/secret").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    root.mkdir_p("/../../x/y", 0o755).unwrap();
    assert!(root.is_dir("/x/y", false).unwrap());
    root.write("/../sentinel/new", b"").unwrap_err();
    s.check_sentinel();
    // The tar target directory itself, with `..`.
    let data = RawTar::default().file("./z", b"z").finish();
    tar_in_from(&root, &data[..], "/../../../", &TarInOptions::default()).unwrap();
    assert_eq!(root.read_file("/z").unwrap(), b"z");
    s.check_sentinel();
}
