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
fn special_files_are_skipped_by_default_with_a_warning() {
    if !require_root("device nodes") {
        return;
    }
    let env = TestEnv::new("archive-skip");
    let (_src, root) = source_tree(&env);
    let mut tar = Vec::new();
    let stats =
        vmcraft_archive::tar_out_to(&root, "/", &mut tar, &TarOutOptions::default()).unwrap();
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
