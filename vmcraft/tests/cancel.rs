//! The handle's cancellation token on real images: cancelled from another
//! thread while `copy_device_to_device` or `tar_in` runs on the handle, the call
//! returns a `Cancelled` error (no panic), what it wrote before is intact (the
//! copy's prefix, the extracted entries, no placeholder, the filesystem clean),
//! the session shuts down normally and leaves nothing behind; a call's own token
//! takes precedence over the handle's; mkfs, e2fsck and resize2fs see the
//! handle's token too (a cancelled one keeps the tool from starting; a running
//! tool's group is stopped, as vmcraft-block's command tests show).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use vmcraft::{Config, Error, MkfsOptions, VMCraft};
use vmcraft_archive::{TarInOptions, TarOutOptions};
use vmcraft_block::testing::{RemoteCancel, TestEnv, leaks, require_root, require_tool};
use vmcraft_block::{CancelToken, CopyOptions};

/// A handle whose token another thread cancels once a progress report of
/// `call` reaches `at`.
fn handle(call: &'static str, at: u64) -> (VMCraft, Arc<RemoteCancel>) {
    let token = CancelToken::new();
    let remote = RemoteCancel::with_token(token.clone());
    let r = Arc::clone(&remote);
    let config = Config::builder()
        .cancel_token(token)
        .progress(move |e| {
            if e.call == call && e.done >= at {
                r.fire();
            }
        })
        .build();
    (VMCraft::with_config(config), remote)
}

/// Run `f`, which must fail (not panic) with a `Cancelled` error of a crate.
fn expect_cancelled<T: std::fmt::Debug>(
    remote: &RemoteCancel,
    f: impl FnOnce() -> vmcraft::Result<T>,
) -> String {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .expect("a cancelled call must not panic");
    remote.join();
    assert!(
        remote.token().is_cancelled(),
        "the call never reached the point"
    );
    let e = r.expect_err("a cancelled call must fail");
    let cancelled = match &e {
        Error::Block(b) => b.kind() == vmcraft_block::ErrorKind::Cancelled,
        Error::Archive(a) => a.kind() == vmcraft_fs::root::ErrorKind::Cancelled,
        _ => false,
    };
    assert!(cancelled, "not a cancellation: {e:?}");
    e.to_string()
}

/// A raw image with a 4 KiB non-zero block every MiB.
fn dotted(env: &TestEnv, name: &str, size: u64) -> PathBuf {
    use std::os::unix::fs::FileExt;
    let p = env.sparse_image(name, size);
    let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    let block: Vec<u8> = (0..4096u32).map(|i| (i % 253) as u8 + 1).collect();
    for mib in 0..size >> 20 {
        f.write_all_at(&block, (mib << 20) + 12_288).unwrap();
    }
    p
}

#[test]
fn copy_cancelled_through_the_handle_token() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cancel-handle-copy");
    let size: u64 = 256 << 20;
    let a = dotted(&env, "a.img", size);
    let b = env.path().join("b.img");
    std::fs::write(&b, vec![0xEE; size as usize]).unwrap();
    let (g, remote) = handle("copy_device_to_device", 100 << 20);
    g.add_drive(&a).unwrap();
    g.add_drive(&b).unwrap();
    g.launch().unwrap();
    let msg = expect_cancelled(&remote, || {
        g.copy_device_to_device("/dev/sda", "/dev/sdb", &CopyOptions::default())
    });
    assert!(g.cancel_token().is_cancelled());
    // "copy_device_to_device: SRC: cancelled after N of M bytes"
    let n: u64 = msg
        .split("cancelled after ")
        .nth(1)
        .and_then(|r| r.strip_suffix(&format!(" of {size} bytes")))
        .unwrap_or_else(|| panic!("{msg}"))
        .parse()
        .unwrap();
    assert!((100 << 20..size).contains(&n), "{msg}");
    // Long calls now fail at once; a call's own live token still copies.
    let e = g
        .copy_device_to_device(
            "/dev/sda",
            "/dev/sdb",
            &CopyOptions {
                size: Some(1 << 20),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(
        e.to_string()
            .ends_with("cancelled after 0 of 1048576 bytes"),
        "{e}"
    );
    let own = CancelToken::new();
    g.copy_device_to_device(
        "/dev/sda",
        "/dev/sdb",
        &CopyOptions {
            size: Some(4096),
            cancel: Some(&own),
            ..Default::default()
        },
    )
    .unwrap();
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
    let (s, d) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let n = n as usize;
    assert!(d[..n] == s[..n], "the copied prefix differs");
    assert!(d[n..].iter().all(|&x| x == 0xEE), "written past {n}");
}

/// A host tree for GNU tar: `d` (0750) with an absolute symlink, 400 small
/// files, then three 64 MiB files (sparse on the host, zeros in the archive).
fn tarball(env: &TestEnv) -> PathBuf {
    let src = env.path().join("tree");
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", src.join("d/abs")).unwrap();
    std::fs::create_dir(src.join("files")).unwrap();
    for i in 0..400 {
        std::fs::write(
            src.join(format!("files/{i:03}")),
            format!("{i}\n").repeat(100),
        )
        .unwrap();
    }
    std::fs::create_dir(src.join("z-big")).unwrap();
    for i in 1..=3 {
        let f = std::fs::File::create(src.join(format!("z-big/{i}"))).unwrap();
        f.set_len(64 << 20).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(src.join("d"), std::fs::Permissions::from_mode(0o750)).unwrap();
    let out = env.path().join("in.tar");
    let st = Command::new("tar")
        .args(["--sort=name", "-C"])
        .arg(&src)
        .arg("-cf")
        .arg(&out)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    out
}

#[track_caller]
fn e2fsck_clean(fs: &Path) {
    let o = Command::new("e2fsck").arg("-fn").arg(fs).output().unwrap();
    assert!(
        o.status.success(),
        "e2fsck -fn {}: {}\n{}",
        fs.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A handle cancelled once a tar_in has read 200 KiB (past `d` and some of
/// the small files, before the big ones), over a fresh ext4 mounted at `/`
/// with an empty `/t`; the test's tarball and image.
fn tar_in_session(label: &str) -> (TestEnv, PathBuf, PathBuf, VMCraft, Arc<RemoteCancel>) {
    let env = TestEnv::new(label);
    let tar = tarball(&env);
    let img = env.sparse_image("fs.img", 256 << 20);
    let (g, remote) = handle("tar_in", 200 << 10);
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.mkfs("ext4", "/dev/sda", &MkfsOptions::default()).unwrap();
    g.mount("/dev/sda", "/").unwrap();
    g.mkdir("/t").unwrap();
    (env, tar, img, g, remote)
}

#[test]
fn tar_in_cancelled_through_the_handle_token() {
    if !require_root("attaching images") || !require_tool("tar") || !require_tool("e2fsck") {
        return;
    }
    let (env, tar, img, g, remote) = tar_in_session("cancel-handle-tar");
    // Something in the directory: the two-pass road, which keeps what it
    // extracted before the cancellation (an empty one is staged: see below).
    g.touch("/t/keep").unwrap();
    g.write("/outside", b"unchanged\n").unwrap();
    let msg = expect_cancelled(&remote, || g.tar_in(&tar, "/t", TarInOptions::default()));
    assert!(msg.starts_with("tar_in: /t: cancelled after "), "{msg}");
    // The delayed symlink was made (no placeholder), the directory has its
    // mode, some small files are there and no big one.
    assert!(g.is_symlink("/t/d/abs").unwrap());
    assert_eq!(g.readlink("/t/d/abs").unwrap(), "/etc/shadow");
    assert_eq!(g.lstat("/t/d").unwrap().mode & 0o7777, 0o750);
    assert!(g.exists("/t/files/000").unwrap());
    assert!(!g.exists("/t/files/399").unwrap());
    assert!(!g.exists("/t/z-big/1").unwrap());
    assert_eq!(g.cat("/outside").unwrap(), "unchanged\n");
    // tar_out on the cancelled handle fails at once and writes no file.
    let out = env.path().join("out.tar");
    assert!(g.tar_out("/t", &out, TarOutOptions::default()).is_err());
    assert!(!out.exists());
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
    e2fsck_clean(&img);
}

/// Into an empty directory tar_in stages the archive: cancelled, it keeps
/// nothing, and the directory is as it was.
#[test]
fn a_staged_tar_in_cancelled_keeps_nothing() {
    if !require_root("attaching images") || !require_tool("tar") || !require_tool("e2fsck") {
        return;
    }
    let (env, tar, img, g, remote) = tar_in_session("cancel-handle-tar-staged");
    let before = g.stat("/t").unwrap();
    let msg = expect_cancelled(&remote, || g.tar_in(&tar, "/t", TarInOptions::default()));
    assert!(msg.ends_with("nothing was extracted"), "{msg}");
    assert!(g.ls("/t").unwrap().is_empty());
    assert_eq!(g.stat("/t").unwrap().mtime, before.mtime);
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
    e2fsck_clean(&img);
}

#[test]
fn mkfs_e2fsck_and_resize2fs_observe_the_handle_token() {
    if !require_root("attaching images") || !require_tool("mkfs.ext4") {
        return;
    }
    let env = TestEnv::new("cancel-handle-mkfs");
    let img = env.sparse_image("fs.img", 64 << 20);
    let token = CancelToken::new();
    let g = VMCraft::with_config(Config::builder().cancel_token(token.clone()).build());
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.mkfs("ext4", "/dev/sda", &MkfsOptions::default()).unwrap();
    g.mount("/dev/sda", "/").unwrap();
    g.write("/kept", b"written before\n").unwrap();
    g.umount("/").unwrap();
    // Cancelled (as the command line's signal thread does), the long tools fail
    // with a cancellation, without starting: the filesystem is untouched.
    token.cancel();
    let e = g
        .mkfs("xfs", "/dev/sda", &MkfsOptions::default())
        .unwrap_err();
    assert!(e.is_cancelled(), "{e:?}");
    assert!(
        e.chain()
            .contains("mkfs.xfs was cancelled; the device holds an incomplete filesystem"),
        "{}",
        e.chain()
    );
    for e in [
        g.e2fsck_f("/dev/sda").unwrap_err(),
        g.resize2fs("/dev/sda").unwrap_err(),
    ] {
        assert!(e.is_cancelled(), "{e:?}");
        assert!(e.chain().contains("was cancelled"), "{}", e.chain());
    }
    // Other calls still work, and the session shuts down normally.
    g.mount("/dev/sda", "/").unwrap();
    assert_eq!(g.cat("/kept").unwrap(), "written before\n");
    g.umount("/").unwrap();
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
    e2fsck_clean(&img);
}
