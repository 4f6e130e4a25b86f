//! `resize2fs` never checks or repairs a filesystem on its own (libguestfs leaves
//! that to an explicit `e2fsck_f`): on a real ext4 that was mounted since its last
//! check it refuses, says to run e2fsck first, and leaves the image byte-identical;
//! after `e2fsck_f` it grows the filesystem. `e2fsck` takes libguestfs's `correct`
//! and `forceall` (not both), repairs a damaged filesystem, and refuses read-only
//! drives and mounted devices. The command line's side is vmcraft-cli's
//! `cli_e2fsck` test.

use vmcraft::{Config, E2fsckOptions, ErrorKind, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};
use vmcraft_block::{Command, CommandRunner, SystemRunner};

mod e2fsck_support;
use e2fsck_support::mounted_then_grown;

fn sha256(path: &std::path::Path) -> String {
    let out = SystemRunner::new()
        .run(&Command::new("sha256sum").arg(path))
        .unwrap();
    out.stdout_str()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn resize2fs_asks_for_e2fsck_and_changes_nothing_until_then() {
    if !require_root("attaching images") || !require_tool("resize2fs") || !require_tool("debugfs") {
        return;
    }
    let env = TestEnv::new("e2fsck-resize");
    let img = mounted_then_grown(&env);
    let before = sha256(&img);

    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    let e = g.resize2fs("/dev/sda").unwrap_err();
    assert_eq!(
        e.to_string(),
        "resize2fs: /dev/sda: you need to run e2fsck with the correct and/or forceall options first (e2fsck_f)"
    );
    assert!(e.chain().contains("e2fsck -f"), "{}", e.chain());
    let e = g
        .e2fsck(
            "/dev/sda",
            E2fsckOptions {
                correct: true,
                forceall: true,
            },
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "e2fsck: /dev/sda: only one of the options 'correct', 'forceall' may be specified"
    );
    g.shutdown().unwrap();
    assert_eq!(sha256(&img), before, "a refused call changed the image");

    // Read-only drive: refused before anything runs.
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive_ro(&img).unwrap();
    g.launch().unwrap();
    for e in [
        g.e2fsck_f("/dev/sda").unwrap_err(),
        g.resize2fs("/dev/sda").unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(
            e.to_string()
                .ends_with("/dev/sda: the drive was added read-only"),
            "{e}"
        );
    }
    g.shutdown().unwrap();
    assert_eq!(sha256(&img), before);

    // The explicit check, then the resize.
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.e2fsck_f("/dev/sda").unwrap();
    g.resize2fs("/dev/sda").unwrap();
    g.mount("/dev/sda", "/").unwrap();
    let v = g.statvfs("/").unwrap();
    assert!(v.blocks * v.frsize > 100 << 20, "{v:?}");
    assert_eq!(g.cat("/hello").unwrap(), "hello\n");
    // Mounted: refused.
    let e = g.e2fsck_f("/dev/sda").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy);
    assert_eq!(e.to_string(), "e2fsck_f: /dev/sda: the device is mounted");
    assert_eq!(g.resize2fs("/dev/sda").unwrap_err().kind(), ErrorKind::Busy);
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn e2fsck_repairs_a_damaged_filesystem_only_when_asked() {
    if !require_root("attaching images") || !require_tool("debugfs") {
        return;
    }
    let env = TestEnv::new("e2fsck-repair");
    let img = env.sparse_image("fs.img", 32 << 20);
    let p = img.to_str().unwrap();
    let sys = SystemRunner::new();
    sys.run(&Command::new("mkfs.ext4").args(["-F", "-q", p]))
        .unwrap();
    // Damage: the root directory's link count is wrong.
    sys.run(&Command::new("debugfs").args(["-w", "-R", "sif <2> links_count 7", p]))
        .unwrap();
    let before = sha256(&img);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    // Neither option: e2fsck would have to ask, so it fails and changes nothing.
    let e = g.e2fsck("/dev/sda", E2fsckOptions::default()).unwrap_err();
    assert!(e.to_string().starts_with("e2fsck: /dev/sda: "), "{e}");
    g.shutdown().unwrap();
    assert_eq!(sha256(&img), before);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.e2fsck(
        "/dev/sda",
        E2fsckOptions {
            forceall: true,
            ..Default::default()
        },
    )
    .unwrap();
    g.shutdown().unwrap();
    assert_ne!(sha256(&img), before);
    // Clean now: an oracle check finds nothing.
    sys.run(&Command::new("e2fsck").args(["-fn", p])).unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
