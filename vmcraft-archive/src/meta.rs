//! Applying a file's metadata (owner, mode, xattrs, times) to a name inside a
//! directory descriptor, in the order that keeps each of them: owner first (a
//! `chown` clears setuid bits and `security.capability`), then mode, then xattrs,
//! times last. Shared by `tar_in` and `cp_a`. What a filesystem cannot take
//! (owners and modes on vfat, xattrs where unsupported) is dropped once, with a
//! warning, instead of failing the whole call.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use crate::fileops::{FileTime, chmod_fd, chown_fd, timestamps, utimes_fd};
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
    pub chmod: bool,
    pub xattrs: bool,
    pub warnings: Vec<String>,
}

impl Policy {
    pub(crate) fn new(chown: bool) -> Self {
        Policy {
            chown,
            chmod: true,
            xattrs: true,
            warnings: Vec::new(),
        }
    }
}

fn unsupported(e: Errno) -> bool {
    matches!(
        e,
        Errno::PERM | Errno::OPNOTSUPP | Errno::NOSYS | Errno::INVAL
    )
}

/// Set `meta` on `name` in `dir` (not followed). Returns what failed and the errno.
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
    apply_handle(fd.as_fd(), Some((dir, name)), meta, policy)
}

/// Set `meta` on the inode behind the `O_PATH` descriptor `fd`. For a symlink,
/// `at` names it in its directory (times and xattrs of a symlink can only be set
/// through its name).
pub(crate) fn apply_handle(
    fd: BorrowedFd<'_>,
    at: Option<(BorrowedFd<'_>, &OsStr)>,
    meta: &Meta,
    policy: &mut Policy,
) -> Result<(), (&'static str, Errno)> {
    if policy.chown {
        let res = chown_fd(fd, Some(meta.uid), Some(meta.gid));
        owner_result(res, policy)?;
    }
    if !meta.symlink && policy.chmod {
        mode_result(chmod_fd(fd, meta.mode), policy)?;
    }
    let symlink_at = at.filter(|_| meta.symlink);
    if policy.xattrs && !meta.xattrs.is_empty() {
        let target = match symlink_at {
            Some((dir, name)) => XattrTarget::At(dir, name),
            None => XattrTarget::Dir(fd),
        };
        set_xattrs(target, meta, policy)?;
    }
    let times = timestamps(meta.atime, meta.mtime);
    match symlink_at {
        Some((dir, name)) => rustix::fs::utimensat(dir, name, &times, AtFlags::SYMLINK_NOFOLLOW),
        None => utimes_fd(fd, &times),
    }
    .map_err(|e| ("utimensat", e))
}

/// Set `meta` on a regular file open for writing (the fast path of `tar_in`).
pub(crate) fn apply_file(
    file: &File,
    meta: &Meta,
    policy: &mut Policy,
) -> Result<(), (&'static str, Errno)> {
    if policy.chown {
        let res = rustix::fs::fchown(
            file,
            Some(rustix::fs::Uid::from_raw(meta.uid)),
            Some(rustix::fs::Gid::from_raw(meta.gid)),
        );
        owner_result(res, policy)?;
    }
    if policy.chmod {
        mode_result(
            rustix::fs::fchmod(file, Mode::from_raw_mode(meta.mode & 0o7777)),
            policy,
        )?;
    }
    if policy.xattrs && !meta.xattrs.is_empty() {
        set_xattrs(XattrTarget::Fd(file.as_fd()), meta, policy)?;
    }
    rustix::fs::futimens(file, &timestamps(meta.atime, meta.mtime)).map_err(|e| ("utimensat", e))
}

fn owner_result(res: Result<(), Errno>, policy: &mut Policy) -> Result<(), (&'static str, Errno)> {
    match res {
        Ok(()) => Ok(()),
        Err(e) if unsupported(e) => {
            policy.chown = false;
            policy.warnings.push(format!(
                "the filesystem does not take ownership ({e}); files keep the extracting user's"
            ));
            Ok(())
        }
        Err(e) => Err(("chown", e)),
    }
}

fn mode_result(res: Result<(), Errno>, policy: &mut Policy) -> Result<(), (&'static str, Errno)> {
    match res {
        Ok(()) => Ok(()),
        Err(e) if unsupported(e) => {
            policy.chmod = false;
            policy.warnings.push(format!(
                "the filesystem does not take permission bits ({e}); files keep its defaults"
            ));
            Ok(())
        }
        Err(e) => Err(("chmod", e)),
    }
}

fn set_xattrs(
    target: XattrTarget<'_>,
    meta: &Meta,
    policy: &mut Policy,
) -> Result<(), (&'static str, Errno)> {
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
    Ok(())
}
