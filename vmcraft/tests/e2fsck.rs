//! `resize2fs` never checks or repairs a filesystem on its own (libguestfs leaves
//! that to an explicit `e2fsck_f`): on a real ext4 that was mounted since its last
//! check it refuses, says to run e2fsck first, and leaves the image byte-identical;
//! after `e2fsck_f` it grows the filesystem. `e2fsck` takes libguestfs's `correct`
//! and `forceall` (not both), repairs a damaged filesystem, and refuses read-only
//! drives and mounted devices. The CLI has `e2fsck` and `e2fsck-f`.

use vmcraft::{Config, E2fsckOptions, ErrorKind, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};
use vmcraft_block::{Command, CommandRunner, SystemRunner};

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

/// A whole-disk ext4 of 64 MiB holding `/hello`, mounted since its last check
/// (as a guest that ran leaves it: resize2fs then wants a check), on an image
/// grown to 128 MiB.
fn mounted_then_grown(env: &TestEnv) -> std::path::PathBuf {
    let img = env.sparse_image("disk.img", 64 << 20);
    let p = img.to_str().unwrap();
    let sys = SystemRunner::new();
    sys.run(&Command::new("mkfs.ext4").args(["-F", "-q", p]))
        .unwrap();
    let hello = env.path().join("hello");
    std::fs::write(&hello, "hello\n").unwrap();
    for req in [
        format!("write {} hello", hello.display()),
        "ssv lastcheck 20200101".to_string(),
        "ssv mtime 20240101".to_string(),
    ] {
        sys.run(&Command::new("debugfs").args(["-w", "-R", &req, p]))
            .unwrap();
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(&img)
        .unwrap()
        .set_len(128 << 20)
        .unwrap();
    img
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

#[cfg(feature = "cli")]
#[test]
fn cli_e2fsck_f_then_resize2fs() {
    if !require_root("attaching images") || !require_tool("resize2fs") || !require_tool("debugfs") {
        return;
    }
    let env = TestEnv::new("e2fsck-cli");
    let img = mounted_then_grown(&env);
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_vmcraft"))
            .args(args)
            .current_dir(env.path())
            .env("TMPDIR", env.path())
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    let path = img.to_str().unwrap();
    let o = run(&["-a", path, "run", ":", "resize2fs", "/dev/sda"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with(
            "vmcraft: error: resize2fs: /dev/sda: you need to run e2fsck with the correct and/or \
             forceall options first (e2fsck_f): "
        ),
        "{err}"
    );
    let o = run(&[
        "-a",
        path,
        "run",
        ":",
        "e2fsck",
        "/dev/sda",
        "correct:true",
        "forceall:true",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("only one of the options 'correct', 'forceall'"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(&[
        "-a",
        path,
        "run",
        ":",
        "e2fsck-f",
        "/dev/sda",
        ":",
        "resize2fs",
        "/dev/sda",
        ":",
        "e2fsck",
        "/dev/sda",
        "correct:true",
        ":",
        "mount",
        "/dev/sda",
        "/",
        ":",
        "cat",
        "/hello",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hello\n\n");
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
