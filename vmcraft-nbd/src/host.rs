//! Small facts about the host, read from `/proc` and acted on in-process: whether
//! a path is a mount point (in this thread's mount namespace, or in another
//! process's), unmounting one, and running a step in another mount namespace.
//! (Processes are tracked by `vmcraft_block::Supervised`; what keeps a device
//! busy is in `busy.rs`.)

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::mount::{MntFlags, umount2};

/// This thread's mount table (mount namespaces are per thread:
/// `/proc/self` would show the main thread's).
pub(crate) const OWN_MOUNTINFO: &str = "/proc/thread-self/mountinfo";

/// A mount table field with its octal escapes undone.
pub(crate) fn unescape_mount(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Whether `path` is a mount point of this thread's mount namespace.
pub(crate) fn is_mount_point(path: &Path) -> bool {
    is_mount_point_in(Path::new(OWN_MOUNTINFO), path)
}

/// Whether `path` is a mount point in the mount table `mountinfo` (e.g.
/// `/proc/PID/mountinfo`: another process's namespace).
pub(crate) fn is_mount_point_in(mountinfo: &Path, path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string(mountinfo) else {
        return false;
    };
    let want = path.to_string_lossy();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mp| unescape_mount(mp) == want)
}

/// The mount namespace of process `pid`, when it is not this thread's: a
/// descriptor for it (`None` when it is ours or cannot be told).
pub(crate) fn foreign_mount_namespace(pid: u32) -> Option<OwnedFd> {
    use std::os::unix::fs::MetadataExt;
    let theirs = std::fs::File::open(format!("/proc/{pid}/ns/mnt")).ok()?;
    let ours = std::fs::metadata("/proc/thread-self/ns/mnt").ok()?;
    let m = theirs.metadata().ok()?;
    ((m.dev(), m.ino()) != (ours.dev(), ours.ino())).then(|| OwnedFd::from(theirs))
}

/// Run `f` on a thread of its own that has joined the mount namespace `ns`
/// (after `unshare(CLONE_FS)`, which `setns` needs in a threaded process).
pub(crate) fn in_mount_namespace<T: Send>(
    ns: &OwnedFd,
    f: impl FnOnce() -> nix::Result<T> + Send,
) -> nix::Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: unshare and setns take flags and a descriptor we own; they
            // change only this thread.
            unsafe {
                if libc::unshare(libc::CLONE_FS) != 0
                    || libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNS) != 0
                {
                    return Err(nix::errno::Errno::last());
                }
            }
            f()
        })
        .join()
        .unwrap_or(Err(nix::errno::Errno::EIO))
    })
}

/// Unmount `path`; a busy mount is detached lazily so that it goes away once its
/// last user does. Not mounted is not an error.
pub(crate) fn unmount(path: &Path) -> nix::Result<()> {
    if !is_mount_point(path) {
        return Ok(());
    }
    match umount2(path, MntFlags::empty()) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) => Ok(()),
        Err(nix::errno::Errno::EBUSY) => umount2(path, MntFlags::MNT_DETACH),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_namespace_is_not_foreign() {
        assert!(foreign_mount_namespace(std::process::id()).is_none());
        assert!(foreign_mount_namespace(u32::MAX - 1).is_none());
    }

    #[test]
    fn mount_points() {
        assert!(is_mount_point(Path::new("/")));
        assert!(is_mount_point_in(
            Path::new(&format!("/proc/{}/mountinfo", std::process::id())),
            Path::new("/")
        ));
        assert!(!is_mount_point(Path::new("/no/such/dir/vmcraft")));
        unmount(Path::new("/no/such/dir/vmcraft")).unwrap();
        assert_eq!(unescape_mount("/a\\040b\\134c"), "/a b\\c");
    }
}
