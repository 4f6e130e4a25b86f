//! A worker never holds a mount that is not its guest's. Another session of
//! the same process (a migration pipeline formatting one disk while it edits
//! another guest's configuration) unmounts its own filesystem and formats the
//! device at once: `mkfs` opens it with `O_EXCL`, which fails with `EBUSY`
//! while any mount of it is alive anywhere. A worker that copied the host's
//! whole mount table (a new mount namespace) would keep every filesystem of
//! the host alive for as long as it kept the copy, and make that `mkfs` fail
//! with "apparently in use by the system".
//!
//! The worker's copy of its own guest's mounts does keep those alive while
//! the handle is open (close it before unmounting them, as the `vmcraft`
//! facade does), and lets go of them as soon as the handle is closed.

mod common;

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Guest, need_root};
use nix::mount::{MntFlags, MsFlags};
use vmcraft_aug::{AugFlags, Augeas};
use vmcraft_block::testing::{LoopFixture, require_tool};
use vmcraft_block::{Command, CommandRunner, SystemRunner};

/// How many handles thread A opens, each compiling every lens of the host
/// (hundreds of milliseconds each, during which thread B cycles many times).
const OPENS: usize = 6;

/// A fresh ext4 filesystem on a new loop device.
fn ext4_loop(label: &str) -> Option<LoopFixture> {
    let fx = LoopFixture::new(label, 64 << 20)?;
    SystemRunner::new()
        .run(
            &Command::new("mkfs.ext4")
                .args(["-q", "-F"])
                .arg(fx.path().as_os_str()),
        )
        .unwrap();
    Some(fx)
}

fn mount_ext4(dev: &Path, at: &Path) {
    nix::mount::mount(
        Some(dev),
        at,
        Some("ext4"),
        MsFlags::MS_NODEV | MsFlags::MS_NOSUID,
        None::<&str>,
    )
    .unwrap();
}

/// Open `dev` as `mkfs` does: read-write, exclusively.
fn open_exclusive(dev: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_EXCL)
        .open(dev)
}

#[test]
fn opening_augeas_never_keeps_another_sessions_filesystem_busy() {
    if !need_root() || !require_tool("mkfs.ext4") {
        return;
    }
    let Some(fx) = ext4_loop("aug-foreign") else {
        return;
    };
    // The other session's mount point: outside the guest root.
    let mount_point = fx.env().path().join("other-session");
    std::fs::create_dir(&mount_point).unwrap();

    let g = Guest::new("aug-foreign-root");
    g.write("/etc/hosts", "192.0.2.1 guest\n");
    let done = AtomicBool::new(false);
    let (cycles, refusals) = std::thread::scope(|s| {
        let opener = s.spawn(|| {
            for _ in 0..OPENS {
                // Every lens of the host compiled: the slow open.
                let aug = Augeas::init(&g.root, AugFlags::NO_LOAD).unwrap();
                aug.aug_close().unwrap();
            }
            done.store(true, Ordering::SeqCst);
        });
        let mut cycles = 0u64;
        let mut refusals = Vec::new();
        // At least a few cycles even if the opener were quick.
        while !done.load(Ordering::SeqCst) || cycles < 4 {
            mount_ext4(fx.path(), &mount_point);
            std::fs::write(mount_point.join("marker"), cycles.to_string()).unwrap();
            nix::mount::umount2(&mount_point, MntFlags::empty()).unwrap();
            match open_exclusive(fx.path()) {
                Ok(f) => drop(f),
                Err(e) => refusals.push(format!("cycle {cycles}: {e}")),
            }
            cycles += 1;
        }
        opener.join().unwrap();
        (cycles, refusals)
    });
    assert!(
        refusals.is_empty(),
        "{} of {cycles} exclusive opens of {} right after its unmount failed, first: {:?}",
        refusals.len(),
        fx.path().display(),
        &refusals[..refusals.len().min(3)]
    );
    // Free now, whatever the workers did.
    drop(open_exclusive(fx.path()).unwrap());
    eprintln!("{cycles} mount/unmount/open cycles beside {OPENS} opens");
}

#[test]
fn the_guests_own_filesystems_are_released_when_the_handle_closes() {
    if !need_root() || !require_tool("mkfs.ext4") {
        return;
    }
    let Some(fx) = ext4_loop("aug-own") else {
        return;
    };
    let g = Guest::new("aug-own-root");
    g.write("/etc/hosts", "192.0.2.1 guest\n");
    std::fs::create_dir(g.path("/boot")).unwrap();

    // Opened and closed: the filesystem below the root unmounts and its
    // device is free at once.
    mount_ext4(fx.path(), &g.path("/boot"));
    g.write("/boot/hosts", "192.0.2.3 onboot\n");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    assert_eq!(
        aug.aug_get("/files/etc/hosts/1/canonical").unwrap(),
        "guest"
    );
    aug.aug_close().unwrap();
    nix::mount::umount2(&g.path("/boot"), MntFlags::empty()).unwrap();
    drop(open_exclusive(fx.path()).unwrap());

    // Unmounted while the handle is open: the host's unmount succeeds, the
    // worker keeps its copy (and the device in use) until the handle closes.
    mount_ext4(fx.path(), &g.path("/boot"));
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    aug.aug_transform("Hosts", "/boot/hosts", false).unwrap();
    aug.aug_load().unwrap();
    nix::mount::umount2(&g.path("/boot"), MntFlags::empty()).unwrap();
    let busy = open_exclusive(fx.path()).unwrap_err();
    assert_eq!(busy.raw_os_error(), Some(libc::EBUSY), "{busy}");
    aug.aug_load().unwrap();
    assert_eq!(
        aug.aug_get("/files/boot/hosts/1/canonical").unwrap(),
        "onboot"
    );
    aug.aug_close().unwrap();
    drop(open_exclusive(fx.path()).unwrap());

    // A worker that died (here: killed) lets go of it too.
    mount_ext4(fx.path(), &g.path("/boot"));
    let aug = Augeas::init(&g.root, AugFlags::NO_LOAD).unwrap();
    let pid = aug.worker_pid().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(aug.aug_load().is_err());
    aug.aug_close().unwrap();
    nix::mount::umount2(&g.path("/boot"), MntFlags::empty()).unwrap();
    drop(open_exclusive(fx.path()).unwrap());
}
