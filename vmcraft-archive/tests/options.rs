//! The tar options one by one: progress reports, owner names from the guest's
//! own user database (or none with `numeric_owner`), the xattr selections
//! (`xattrs`, `selinux`), excludes, `keep_dir_links`, the wrappers, and
//! streaming through a pipe.

mod common;

use std::sync::{Arc, Mutex};

use vmcraft_archive::{
    Compression, GuestRoot, Progress, ProgressFn, TarInOptions, TarOutOptions, tar_in_from,
    tar_out, tar_out_to, tgz_in, tgz_out, txz_in, txz_out,
};
use vmcraft_block::testing::{TestEnv, require_root};

fn entries(tar: &[u8]) -> Vec<(String, u64, String, String)> {
    let mut a = tar::Archive::new(tar);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                h.uid().unwrap(),
                h.username().unwrap().unwrap_or("").to_string(),
                h.groupname().unwrap().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn progress_is_reported_and_ends_at_the_totals() {
    let env = TestEnv::new("opt-progress");
    let root = GuestRoot::open(env.path()).unwrap();
    root.mkdir("/d", 0o755).unwrap();
    for i in 0..20 {
        root.write(format!("/d/f{i}"), &vec![7u8; 10_000]).unwrap();
    }
    root.write("/big", &vec![1u8; 20 << 20]).unwrap();
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let s = Arc::clone(&seen);
    let opts = TarOutOptions {
        progress: Some(ProgressFn::new(move |p| s.lock().unwrap().push(p))),
        ..Default::default()
    };
    let mut tar = Vec::new();
    let stats = tar_out_to(&root, "/", &mut tar, &opts).unwrap();
    let seen_out = seen.lock().unwrap().clone();
    assert!(seen_out.len() > 20, "{} reports", seen_out.len());
    assert!(
        seen_out
            .windows(2)
            .all(|w| w[0].bytes <= w[1].bytes && w[0].entries <= w[1].entries)
    );
    let last = *seen_out.last().unwrap();
    assert_eq!((last.bytes, last.entries), (stats.bytes, stats.entries));
    assert_eq!(stats.bytes, tar.len() as u64);
    assert_eq!(stats.entries, 23);
    assert_eq!(stats.file_bytes, 20 * 10_000 + (20 << 20));

    let seen_in: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let s = Arc::clone(&seen_in);
    let dest = env.path().join("x");
    std::fs::create_dir(&dest).unwrap();
    let droot = GuestRoot::open(&dest).unwrap();
    let opts = TarInOptions {
        progress: Some(ProgressFn::new(move |p| s.lock().unwrap().push(p))),
        ..Default::default()
    };
    let st = tar_in_from(&droot, &tar[..], "/", &opts).unwrap();
    let seen_in = seen_in.lock().unwrap().clone();
    assert_eq!(seen_in.len(), 23);
    assert_eq!(seen_in.last().unwrap().entries, 23);
    assert_eq!(st.entries, 23);
    assert_eq!(st.bytes, tar.len() as u64);
}

#[test]
fn owner_names_come_from_the_guest() {
    let env = TestEnv::new("opt-names");
    let root = GuestRoot::open(env.path()).unwrap();
    root.mkdir("/etc", 0o755).unwrap();
    let me = rustix::process::getuid().as_raw();
    let my_gid = rustix::process::getgid().as_raw();
    root.write(
        "/etc/passwd",
        format!("guestuser:x:{me}:{my_gid}::/:/bin/sh\n").as_bytes(),
    )
    .unwrap();
    root.write("/etc/group", format!("guestgroup:x:{my_gid}:\n").as_bytes())
        .unwrap();
    let mut tar = Vec::new();
    tar_out_to(&root, "/etc", &mut tar, &TarOutOptions::default()).unwrap();
    for (path, uid, user, group) in entries(&tar) {
        assert_eq!(
            (uid, user.as_str(), group.as_str()),
            (u64::from(me), "guestuser", "guestgroup"),
            "{path}"
        );
    }
    let mut tar = Vec::new();
    let opts = TarOutOptions {
        numeric_owner: true,
        ..Default::default()
    };
    tar_out_to(&root, "/etc", &mut tar, &opts).unwrap();
    for (path, _, user, group) in entries(&tar) {
        assert_eq!((user.as_str(), group.as_str()), ("", ""), "{path}");
    }
}

#[test]
fn xattr_selections() {
    if !require_root("setting security.* xattrs") {
        return;
    }
    let env = TestEnv::new("opt-xattr");
    let root = GuestRoot::open(env.path()).unwrap();
    root.write("/f", b"x").unwrap();
    root.lsetxattr("user.a", b"1", "/f").unwrap();
    root.lsetxattr("security.selinux", b"system_u:object_r:etc_t:s0\0", "/f")
        .unwrap();
    let pax_keys = |opts: &TarOutOptions| {
        let mut tar = Vec::new();
        tar_out_to(&root, "/", &mut tar, opts).unwrap();
        let text = String::from_utf8_lossy(&tar).into_owned();
        (
            text.contains("SCHILY.xattr.user.a"),
            text.contains("SCHILY.xattr.security.selinux"),
            tar,
        )
    };
    assert!(!pax_keys(&TarOutOptions::default()).0);
    let (user, se, _) = pax_keys(&TarOutOptions {
        selinux: true,
        ..Default::default()
    });
    assert_eq!((user, se), (false, true));
    let (user, se, tar) = pax_keys(&TarOutOptions {
        xattrs: true,
        ..Default::default()
    });
    assert_eq!((user, se), (true, true));
    // And on the way in: nothing by default, only the label with `selinux`.
    for (opts, want) in [
        (TarInOptions::default(), vec![]),
        (
            TarInOptions {
                selinux: true,
                ..Default::default()
            },
            vec!["security.selinux"],
        ),
        (
            TarInOptions {
                xattrs: true,
                ..Default::default()
            },
            vec!["security.selinux", "user.a"],
        ),
    ] {
        let dest = tempfile::tempdir_in(env.path()).unwrap();
        let d = GuestRoot::open(dest.path()).unwrap();
        tar_in_from(&d, &tar[..], "/", &opts).unwrap();
        let mut names: Vec<String> = d
            .lgetxattrs("/f")
            .unwrap()
            .into_iter()
            .map(|x| x.attrname)
            .collect();
        names.sort();
        assert_eq!(names, want);
    }
}

#[test]
fn excludes_leave_out_subtrees() {
    let env = TestEnv::new("opt-excl");
    let root = GuestRoot::open(env.path()).unwrap();
    root.mkdir_p("/var/cache/apt", 0o755).unwrap();
    root.write("/var/cache/apt/pkgcache.bin", b"x").unwrap();
    root.write("/var/log.txt", b"x").unwrap();
    root.write("/keep", b"x").unwrap();
    root.write("/debug.log", b"x").unwrap();
    let mut tar = Vec::new();
    let opts = TarOutOptions {
        excludes: vec!["var/cache".into(), "*.log".into()],
        ..Default::default()
    };
    tar_out_to(&root, "/", &mut tar, &opts).unwrap();
    let names: Vec<String> = entries(&tar).into_iter().map(|e| e.0).collect();
    assert_eq!(names, ["./", "./keep", "./var/", "./var/log.txt"]);
}

#[test]
fn keep_dir_links_keeps_a_merged_usr_layout() {
    let env = TestEnv::new("opt-keep");
    let root = GuestRoot::open(env.path()).unwrap();
    let src = tempfile::tempdir_in(env.path()).unwrap();
    let s = GuestRoot::open(src.path()).unwrap();
    s.mkdir_p("/lib", 0o755).unwrap();
    s.write("/lib/libx.so", b"lib").unwrap();
    let mut tar = Vec::new();
    tar_out_to(&s, "/", &mut tar, &TarOutOptions::default()).unwrap();
    // The guest has /lib -> usr/lib.
    root.mkdir_p("/usr/lib", 0o755).unwrap();
    root.ln_s("usr/lib", "/lib").unwrap();
    let opts = TarInOptions {
        keep_dir_links: true,
        ..Default::default()
    };
    tar_in_from(&root, &tar[..], "/", &opts).unwrap();
    assert!(root.is_symlink("/lib").unwrap());
    assert_eq!(root.read_file("/usr/lib/libx.so").unwrap(), b"lib");
    // Without it, GNU tar's default: the symlink gives way to a directory.
    tar_in_from(&root, &tar[..], "/", &TarInOptions::default()).unwrap();
    assert!(root.is_dir("/lib", false).unwrap());
}

#[test]
fn wrappers_and_pipes() {
    let env = TestEnv::new("opt-wrap");
    let root = GuestRoot::open(env.path()).unwrap();
    root.mkdir_p("/src/a", 0o755).unwrap();
    root.write("/src/a/f", b"content").unwrap();
    let tgz = env.path().join("x.tgz");
    let txz = env.path().join("x.txz");
    tgz_out(&root, "/src", &tgz).unwrap();
    txz_out(&root, "/src", &txz).unwrap();
    assert_eq!(&std::fs::read(&tgz).unwrap()[..2], &[0x1f, 0x8b]);
    assert_eq!(
        Compression::detect(&std::fs::read(&txz).unwrap()),
        Some(Compression::Xz)
    );
    root.mkdir("/g", 0o755).unwrap();
    root.mkdir("/x", 0o755).unwrap();
    tgz_in(&root, &tgz, "/g").unwrap();
    txz_in(&root, &txz, "/x").unwrap();
    assert_eq!(root.read_file("/g/a/f").unwrap(), b"content");
    assert_eq!(root.read_file("/x/a/f").unwrap(), b"content");
    let err = tgz_in(&root, &txz, "/g").unwrap_err();
    assert_eq!(err.call(), "tgz_in");
    // A pipe between the two, as the command line streams.
    let (reader, writer) = std::os::unix::net::UnixStream::pair().unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            let opts = TarOutOptions {
                compress: Compression::Zstd,
                ..Default::default()
            };
            tar_out_to(&root, "/src", writer, &opts).unwrap();
        });
        root.mkdir("/piped", 0o755).unwrap();
        tar_in_from(&root, reader, "/piped", &TarInOptions::default()).unwrap();
    });
    assert_eq!(root.read_file("/piped/a/f").unwrap(), b"content");
}

/// A refused tar_out writes nothing: no compressed stream (an xz or bzip2
/// encoder writes a trailer even when given no data) reaches the writer, and no
/// file is left behind.
#[test]
fn a_refused_tar_out_writes_nothing() {
    let env = TestEnv::new("tar-out-refused");
    let root = GuestRoot::open(env.path()).unwrap();
    root.write("/file", b"x").unwrap();
    for compress in [
        Compression::None,
        Compression::Gzip,
        Compression::Bzip2,
        Compression::Xz,
        Compression::Zstd,
    ] {
        let opts = TarOutOptions {
            compress,
            ..Default::default()
        };
        let bad_pattern = TarOutOptions {
            excludes: vec!["[".into()],
            ..opts.clone()
        };
        for (dir, o) in [("/missing", &opts), ("/file", &opts), ("/", &bad_pattern)] {
            let mut out = Vec::new();
            assert!(
                tar_out_to(&root, dir, &mut out, o).is_err(),
                "{compress} {dir}"
            );
            assert!(
                out.is_empty(),
                "{compress} {dir}: {} bytes written",
                out.len()
            );
            let tarball = env.path().join("refused.tar");
            assert!(
                tar_out(&root, dir, &tarball, o).is_err(),
                "{compress} {dir}"
            );
            assert!(!tarball.exists(), "{compress} {dir}: tarball left behind");
        }
    }
}
