//! The worker's own mount namespace, in which the guest root and every mount
//! below it are `nodev`, `nosuid` and `noexec` whatever the caller's mounts
//! are.
//!
//! libaugeas opens files by path. A device node in the guest (`/etc/fstab`
//! as a block device with a host disk's numbers, `/etc/hosts` as `/dev/mem`'s
//! 1:1) would make it read that device into the tree, or write it on
//! `aug_save`: the worker runs as uid 0 with `CAP_DAC_OVERRIDE`. Only `nodev`
//! on the mount stops that, and a directory tree on the host's filesystem, or
//! a guest mounted without `nodev`, does not have it. So before the chroot the
//! worker, while it still has `CAP_SYS_ADMIN`:
//!
//! 1. `unshare(CLONE_NEWNS)`: a copy of the caller's mounts, its own;
//! 2. makes every mount of the copy private, so that nothing it does
//!    propagates to the host and nothing the host does propagates in;
//! 3. bind-mounts the guest root onto itself, recursively, so that the root
//!    is a mount of its own (the host's `/`, if it holds the root, stays as
//!    it is);
//! 4. remounts that mount and every mount it reaches, shallowest first, with
//!    `nodev`, `nosuid` and `noexec` added and their own flags kept
//!    ([`Mount::locked_down_flags`]).
//!
//! The caller ([`crate::confine`]) then checks the table, whatever happened
//! here, and after the lenses are compiled [`pivot`] makes the guest root the
//! namespace's root and detaches the rest: the worker's namespace then holds
//! the guest's mounts only, and keeps none of the host's other filesystems
//! busy while it lives. Everything here is undone by the kernel when the
//! worker exits and its namespace goes; the host's mount table never changes.
//!
//! Without `CAP_SYS_ADMIN` (a caller given only `CAP_SYS_CHROOT`) the first
//! step fails and the worker stays in the caller's namespace; the caller's
//! mounts must then be `nodev` already.

use std::fs::File;
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};

use crate::mounts::{self, Mount};

/// What [`isolate`] achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Isolation {
    /// The worker has a mount namespace of its own, with private mounts:
    /// nothing mounted or unmounted outside reaches it.
    pub(crate) private: bool,
    /// The first step that failed, in words, for the refusal of a root whose
    /// mounts are still not `nodev`.
    pub(crate) failure: Option<String>,
}

/// Give the worker its own mount namespace and lock down the mounts `root`
/// (canonical) reaches in it; see the module docs. Never fails: what could
/// not be done is in [`Isolation::failure`], and the table tells the rest.
pub(crate) fn isolate(root: &Path) -> Isolation {
    let fail = |private: bool, what: &str, e: Errno| Isolation {
        private,
        failure: Some(format!("{what}: {}", e.desc())),
    };
    if let Err(e) = unshare(CloneFlags::CLONE_NEWNS) {
        return fail(false, "unshare(CLONE_NEWNS)", e);
    }
    // The copies are peers of the caller's shared mounts until this: nothing
    // may be mounted before it (a bind would show up on the host).
    if let Err(e) = mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    ) {
        return fail(false, "making the mounts private", e);
    }
    let mut failure = None;
    if let Err(e) = mount(
        Some(root),
        root,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    ) {
        // Then the remount below locks down the mount that holds the root,
        // which in this namespace harms nothing either.
        failure = Some(format!("bind-mounting the root onto itself: {}", e.desc()));
    }
    let table = match std::fs::read_to_string("/proc/thread-self/mountinfo") {
        Ok(t) => t,
        Err(e) => {
            return Isolation {
                private: true,
                failure: Some(format!("reading the mount table: {e}")),
            };
        }
    };
    let mounts = mounts::parse_mountinfo(&table);
    for m in mounts::reachable_from(&mounts, root).unwrap_or_default() {
        if let Err(e) = lock_down(m) {
            failure.get_or_insert(format!(
                "remounting {} nodev: {}",
                m.mount_point.display(),
                e.desc()
            ));
        }
    }
    Isolation {
        private: true,
        failure,
    }
}

/// Add `nodev`, `nosuid` and `noexec` to one mount, keeping its own flags.
fn lock_down(m: &Mount) -> nix::Result<()> {
    mount(
        None::<&str>,
        &m.mount_point,
        None::<&str>,
        m.locked_down_flags(),
        None::<&str>,
    )
}

/// Make `dir` (the guest root, a mount point since [`isolate`]) the root of
/// the worker's private namespace and detach everything else
/// (`pivot_root(".", ".")`, then a lazy unmount of the old root stacked on
/// it). `Ok(false)` when the kernel refuses the pivot with `EINVAL`: the
/// caller is itself chrooted, or its root is the initial ramfs; the worker
/// then only chroots, and its namespace keeps the copies of the host's other
/// mounts until it exits. The working directory is `dir` afterwards.
pub(crate) fn pivot(dir: &File) -> nix::Result<bool> {
    nix::unistd::fchdir(dir)?;
    match nix::unistd::pivot_root(".", ".") {
        Ok(()) => {}
        Err(Errno::EINVAL) => return Ok(false),
        Err(e) => return Err(e),
    }
    umount2(".", MntFlags::MNT_DETACH)?;
    Ok(true)
}
