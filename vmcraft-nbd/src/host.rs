//! Small facts about the host, read from `/proc` and acted on in-process: whether
//! a path is a mount point, and unmounting one. (Processes are tracked by
//! `vmcraft_block::Supervised`; what keeps a device busy is in `busy.rs`.)

use std::path::Path;

use nix::mount::{MntFlags, umount2};

/// A mount table field with its octal escapes undone.
pub(crate) fn unescape_mount(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Whether `path` is a mount point of this mount namespace.
pub(crate) fn is_mount_point(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.to_string_lossy();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mp| unescape_mount(mp) == want)
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
    fn mount_points() {
        assert!(is_mount_point(Path::new("/")));
        assert!(!is_mount_point(Path::new("/no/such/dir/vmcraft")));
        unmount(Path::new("/no/such/dir/vmcraft")).unwrap();
        assert_eq!(unescape_mount("/a\\040b\\134c"), "/a b\\c");
    }
}
