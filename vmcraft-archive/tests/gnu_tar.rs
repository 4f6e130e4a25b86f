//! Round trips through GNU tar, both ways, for every compression: our `tar_out`
//! read by `tar -x` (and checked with `tar --compare`), and `tar -c` read by our
//! `tar_in`, on a tree with long and unicode names, every kind of symlink, hard
//! links, a FIFO, a device node, setuid and sticky bits, other owners, xattrs,
//! empty directories and a 64 MiB sparse-ish file.

mod common;

use std::path::Path;

use common::{Snap, assert_same, build_tree, snapshot};
use vmcraft_archive::{Compression, GuestRoot, TarInOptions, TarOutOptions, tar_in, tar_out};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};
use vmcraft_block::{Command, CommandRunner, SystemRunner};

fn gnu_flag(c: Compression) -> Option<&'static str> {
    match c {
        Compression::None => None,
        Compression::Gzip => Some("--gzip"),
        Compression::Bzip2 => Some("--bzip2"),
        Compression::Xz => Some("--xz"),
        Compression::Lzma => Some("--lzma"),
        Compression::Zstd => Some("--zstd"),
    }
}

fn tools_for(c: Compression) -> bool {
    let tool = match c {
        Compression::None => return true,
        Compression::Gzip => "gzip",
        Compression::Bzip2 => "bzip2",
        Compression::Xz | Compression::Lzma => "xz",
        Compression::Zstd => "zstd",
    };
    require_tool(tool)
}

/// The formats whose unoptimised (test-profile) codecs are slow leave the 64 MiB
/// file out, through the exclude options of both tools.
fn slow(c: Compression) -> bool {
    matches!(c, Compression::Bzip2 | Compression::Xz | Compression::Lzma)
}

fn without_big(
    mut snap: std::collections::BTreeMap<String, common::Node>,
    c: Compression,
) -> std::collections::BTreeMap<String, common::Node> {
    if slow(c) {
        snap.remove("big.img");
    }
    snap
}

fn run(args: &[&str]) {
    SystemRunner::new()
        .run(&Command::new("tar").args(args))
        .unwrap_or_else(|e| panic!("{}", vmcraft_block::error_chain(&e)));
}

fn source_tree(env: &TestEnv) -> (std::path::PathBuf, GuestRoot) {
    let src = env.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let root = GuestRoot::open(&src).unwrap();
    build_tree(&root, true);
    (src, root)
}

#[test]
fn ours_to_gnu_tar_every_compression() {
    if !require_root("round trip with owners and device nodes") || !require_tool("tar") {
        return;
    }
    let env = TestEnv::new("archive-out");
    let (src, root) = source_tree(&env);
    let want = snapshot(&src, Snap::ALL);
    for c in Compression::ALL {
        if !tools_for(c) {
            continue;
        }
        let tarball = env.path().join(format!("out-{c}.tar"));
        let opts = TarOutOptions {
            compress: c,
            xattrs: true,
            special_files: true,
            excludes: if slow(c) {
                vec!["big.img".into()]
            } else {
                vec![]
            },
            ..Default::default()
        };
        let stats = tar_out(&root, "/", &tarball, &opts).unwrap();
        assert!(stats.skipped.is_empty(), "{:?}", stats.skipped);
        let dest = env.path().join(format!("x-{c}"));
        std::fs::create_dir(&dest).unwrap();
        let mut args = vec![
            "-x",
            "-f",
            tarball.to_str().unwrap(),
            "-C",
            dest.to_str().unwrap(),
        ];
        args.extend([
            "--numeric-owner",
            "--same-permissions",
            "--same-owner",
            "--xattrs",
            "--xattrs-include=*",
        ]);
        args.extend(gnu_flag(c));
        run(&args);
        // The directory whose entry changed (big.img left out) keeps its mtime.
        assert_same(
            &without_big(want.clone(), c),
            &snapshot(&dest, Snap::ALL),
            &format!("tar_out {c} -> tar -x"),
        );
        // GNU tar's own check: the archive matches the source tree.
        let mut args = vec![
            "--compare",
            "-f",
            tarball.to_str().unwrap(),
            "-C",
            src.to_str().unwrap(),
            "--numeric-owner",
        ];
        args.extend(gnu_flag(c));
        run(&args);
    }
}

#[test]
fn gnu_tar_to_ours_every_compression() {
    if !require_root("round trip with owners and device nodes") || !require_tool("tar") {
        return;
    }
    let env = TestEnv::new("archive-in");
    let (src, _root) = source_tree(&env);
    let want = snapshot(&src, Snap::ALL);
    for c in Compression::ALL {
        if !tools_for(c) {
            continue;
        }
        let tarball = env.path().join(format!("gnu-{c}.tar"));
        let mut args = vec![
            "-c",
            "-f",
            tarball.to_str().unwrap(),
            "-C",
            src.to_str().unwrap(),
        ];
        args.extend(["--xattrs", "--xattrs-include=*"]);
        args.extend(gnu_flag(c));
        if slow(c) {
            args.push("--exclude=./big.img");
        }
        args.push(".");
        run(&args);
        let dest = env.path().join(format!("in-{c}"));
        std::fs::create_dir(&dest).unwrap();
        let droot = GuestRoot::open(&dest).unwrap();
        // Detection from magic bytes: no compression given.
        let opts = TarInOptions {
            xattrs: true,
            ..Default::default()
        };
        let stats = tar_in(&droot, &tarball, "/", &opts).unwrap();
        assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
        assert_same(
            &without_big(want.clone(), c),
            &snapshot(&dest, Snap::ALL),
            &format!("tar -c {c} -> tar_in"),
        );
    }
}

#[test]
fn special_files_are_stored_by_default_and_skipped_when_asked() {
    if !require_root("device nodes") {
        return;
    }
    let env = TestEnv::new("archive-skip");
    let (_src, root) = source_tree(&env);
    // Stored by default, as GNU tar stores them.
    let mut tar = Vec::new();
    let stats =
        vmcraft_archive::tar_out_to(&root, "/", &mut tar, &TarOutOptions::default()).unwrap();
    assert!(stats.skipped.is_empty(), "{:?}", stats.skipped);
    let dest = env.path().join("all");
    std::fs::create_dir(&dest).unwrap();
    let droot = GuestRoot::open(&dest).unwrap();
    vmcraft_archive::tar_in_from(&droot, &tar[..], "/", &TarInOptions::default()).unwrap();
    assert!(droot.exists("/fifo").unwrap());
    assert!(droot.exists("/null-dev").unwrap());
    // Left out when asked, each named.
    let opts = TarOutOptions {
        special_files: false,
        ..Default::default()
    };
    let mut tar = Vec::new();
    let stats = vmcraft_archive::tar_out_to(&root, "/", &mut tar, &opts).unwrap();
    assert_eq!(
        stats.skipped,
        ["./fifo: fifo", "./null-dev: character device"]
    );
    let dest = env.path().join("d");
    std::fs::create_dir(&dest).unwrap();
    let droot = GuestRoot::open(&dest).unwrap();
    vmcraft_archive::tar_in_from(&droot, &tar[..], "/", &TarInOptions::default()).unwrap();
    assert!(!droot.exists("/fifo").unwrap());
    assert!(droot.is_file("/owned", false).unwrap());
}

#[test]
fn entries_are_relative_to_the_directory_like_libguestfs() {
    if !require_tool("tar") {
        return;
    }
    let env = TestEnv::new("archive-names");
    let root = GuestRoot::open(env.path()).unwrap();
    root.mkdir_p("/etc/app", 0o755).unwrap();
    root.write("/etc/app/conf", b"1").unwrap();
    root.write("/etc/hostname", b"h").unwrap();
    let tarball = env.path().join("etc.tar");
    tar_out(&root, "/etc", &tarball, &TarOutOptions::default()).unwrap();
    let out = SystemRunner::new()
        .run(&Command::new("tar").args(["-tf", tarball.to_str().unwrap()]))
        .unwrap();
    assert_eq!(
        out.stdout_str().lines().collect::<Vec<_>>(),
        ["./", "./app/", "./app/conf", "./hostname"]
    );
}

#[test]
fn unprivileged_subset_round_trips_through_gnu_tar() {
    // Without root: no owners, devices or FIFOs, but everything else.
    if !require_tool("tar") {
        return;
    }
    let env = TestEnv::new("archive-user");
    let src = env.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let root = GuestRoot::open(&src).unwrap();
    build_tree(&root, false);
    let snap = Snap {
        owners: false,
        ..Snap::ALL
    };
    let want = snapshot(&src, snap);
    for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let tarball = env.path().join(format!("u-{c}.tar"));
        let opts = TarOutOptions {
            compress: c,
            xattrs: true,
            ..Default::default()
        };
        tar_out(&root, "/", &tarball, &opts).unwrap();
        let dest = env.path().join(format!("u-{c}"));
        std::fs::create_dir(&dest).unwrap();
        let droot = GuestRoot::open(&dest).unwrap();
        tar_in(
            &droot,
            &tarball,
            "/",
            &TarInOptions {
                xattrs: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_same(&want, &snapshot(&dest, snap), &format!("ours {c} -> ours"));
        assert!(Path::new(&dest).join("big.img").exists());
    }
}

/// A POSIX ACL as the kernel's binary xattr: `user::rw-,user:1000:r--,
/// group::r--,mask::r--,other::---`.
fn sample_acl() -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (1u16, 6u16, u32::MAX),
        (2, 4, 1000),
        (4, 4, u32::MAX),
        (0x10, 4, u32::MAX),
        (0x20, 0, u32::MAX),
    ] {
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&perm.to_le_bytes());
        v.extend_from_slice(&id.to_le_bytes());
    }
    v
}

#[test]
fn acls_round_trip_with_gnu_tar_acls() {
    if !require_tool("tar") {
        return;
    }
    let env = TestEnv::new("archive-acl");
    let src = env.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let root = GuestRoot::open(&src).unwrap();
    root.write("/f", b"acl").unwrap();
    root.chmod(0o640, "/f").unwrap();
    root.lsetxattr("system.posix_acl_access", &sample_acl(), "/f")
        .unwrap();
    root.mkdir("/d", 0o750).unwrap();
    root.lsetxattr("system.posix_acl_default", &sample_acl(), "/d")
        .unwrap();
    let acl_of = |r: &GuestRoot, p: &str, name: &str| {
        r.lgetxattrs(p)
            .unwrap()
            .into_iter()
            .find(|x| x.attrname == name)
            .map(|x| x.attrval)
    };

    // Ours (text ACL records, as GNU tar's --acls writes) -> tar -x --acls.
    let tarball = env.path().join("ours.tar");
    let opts = TarOutOptions {
        acls: true,
        ..Default::default()
    };
    tar_out(&root, "/", &tarball, &opts).unwrap();
    let raw = std::fs::read(&tarball).unwrap();
    let hay = String::from_utf8_lossy(&raw);
    assert!(
        hay.contains("SCHILY.acl.access=user::rw-,user:1000:r--,group::r--,mask::r--,other::---"),
        "text ACL record"
    );
    assert!(
        !hay.contains("SCHILY.xattr.system.posix_acl"),
        "acls alone stores text, not raw xattrs"
    );
    let dest = env.path().join("x");
    std::fs::create_dir(&dest).unwrap();
    run(&[
        "-x",
        "--acls",
        "-f",
        tarball.to_str().unwrap(),
        "-C",
        dest.to_str().unwrap(),
    ]);
    let droot = GuestRoot::open(&dest).unwrap();
    assert_eq!(
        acl_of(&droot, "/f", "system.posix_acl_access"),
        Some(sample_acl())
    );
    assert_eq!(
        acl_of(&droot, "/d", "system.posix_acl_default"),
        Some(sample_acl())
    );

    // tar -c --acls -> ours.
    let gnu = env.path().join("gnu.tar");
    run(&[
        "-c",
        "--acls",
        "-f",
        gnu.to_str().unwrap(),
        "-C",
        src.to_str().unwrap(),
        ".",
    ]);
    let dest2 = env.path().join("y");
    std::fs::create_dir(&dest2).unwrap();
    let r2 = GuestRoot::open(&dest2).unwrap();
    // GNU tar writes names from the host's user database and no ids; names are
    // resolved through the guest's own /etc/passwd, and unknown ones leave the
    // ACL out with a warning.
    let host_name = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find(|l| l.split(':').nth(2) == Some("1000"))
        .map(|l| l.split(':').next().unwrap().to_string());
    let acl_opts = TarInOptions {
        acls: true,
        ..Default::default()
    };
    if let Some(name) = &host_name {
        let stats = tar_in(&r2, &gnu, "/", &acl_opts).unwrap();
        assert!(
            stats.warnings.iter().any(|w| w.contains(name.as_str())),
            "{:?}",
            stats.warnings
        );
        assert_eq!(acl_of(&r2, "/f", "system.posix_acl_access"), None);
        r2.mkdir("/etc", 0o755).unwrap();
        r2.write(
            "/etc/passwd",
            format!("{name}:x:1000:1000::/:/bin/sh\n").as_bytes(),
        )
        .unwrap();
    }
    let stats = tar_in(&r2, &gnu, "/", &acl_opts).unwrap();
    assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
    assert_eq!(
        acl_of(&r2, "/f", "system.posix_acl_access"),
        Some(sample_acl())
    );
    assert_eq!(
        acl_of(&r2, "/d", "system.posix_acl_default"),
        Some(sample_acl())
    );
    // Without `acls` they are not restored.
    let dest3 = env.path().join("z");
    std::fs::create_dir(&dest3).unwrap();
    let r3 = GuestRoot::open(&dest3).unwrap();
    tar_in(&r3, &gnu, "/", &TarInOptions::default()).unwrap();
    assert_eq!(acl_of(&r3, "/f", "system.posix_acl_access"), None);
}
