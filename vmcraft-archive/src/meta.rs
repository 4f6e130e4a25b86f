//! Applying a file's metadata (owner, mode, xattrs, times) to a name inside a
//! directory descriptor, in the order that keeps each of them: owner first (a
//! `chown` clears setuid bits and `security.capability`), then mode, then xattrs,
//! times last. Shared by `tar_in` and `cp_a`.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use crate::fileops::{FileTime, chmod_fd, chown_fd, timestamps};
use crate::xattrs::XattrTarget;

/// What to set on a file.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub atime: FileTime,
    pub mtime: FileTime,
    pub xattrs: Vec<(OsString, Vec<u8>)>,
    pub symlink: bool,
}

/// Whether ownership and xattrs are still attempted. A filesystem that cannot
/// take them (vfat through FUSE, ...) answers `EPERM`/`EOPNOTSUPP`/`ENOSYS`;
/// after the first such answer they are skipped and a warning is kept.
#[derive(Debug)]
pub(crate) struct Policy {
    pub chown: bool,
    pub xattrs: bool,
    pub warnings: Vec<String>,
}

impl Policy {
    pub(crate) fn new(chown: bool) -> Self {
        Policy {
            chown,
            xattrs: true,
            warnings: Vec::new(),
        }
    }
}

fn unsupported(e: Errno) -> bool {
    matches!(e, Errno::PERM | Errno::OPNOTSUPP | Errno::NOSYS | Errno::INVAL)
}

/// Set `meta` on `name` in `dir`. Returns what failed and the errno.
pub(crate) fn apply(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    meta: &Meta,
    policy: &mut Policy,
) -> Result<(), (&'static str, Errno)> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ("open", e))?;
    if policy.chown {
        match chown_fd(fd.as_fd(), Some(meta.uid), Some(meta.gid)) {
            Ok(()) => {}
            Err(e) if unsupported(e) => {
                policy.chown = false;
                policy.warnings.push(format!(
                    "the filesystem does not take ownership ({e}); files keep the extracting user's"
                ));
            }
            Err(e) => return Err(("chown", e)),
        }
    }
    if !meta.symlink {
        chmod_fd(fd.as_fd(), meta.mode).map_err(|e| ("chmod", e))?;
    }
    if policy.xattrs && !meta.xattrs.is_empty() {
        let target = XattrTarget::At(dir, name);
        for (xname, value) in &meta.xattrs {
            match target.set(xname, value) {
                Ok(()) => {}
                Err(e) if e == Errno::OPNOTSUPP => {
                    policy.xattrs = false;
                    policy.warnings.push(format!(
                        "the filesystem does not take extended attributes ({e}); they are skipped"
                    ));
                    break;
                }
                Err(e) => return Err(("setxattr", e)),
            }
        }
    }
    rustix::fs::utimensat(dir, name, &timestamps(meta.atime, meta.mtime), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| ("utimensat", e))
}
