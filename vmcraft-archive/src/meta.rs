//! Applying a file's metadata (owner, mode, xattrs, times) to a name inside a
//! directory descriptor, in the order that keeps each of them: owner first (a
//! `chown` clears setuid bits and `security.capability`), then mode, then xattrs,
//! times last. Shared by `tar_in` and `cp_a`. What a filesystem cannot take
//! (owners and modes on vfat, xattrs where unsupported) is dropped once, with a
//! warning, instead of failing the whole call.
//!
//! Where the owner is not restored (not asked for, not root, or refused by the
//! filesystem), the setuid bit is kept only when the file's actual owner is the
//! one the archive names, and the setgid bit only when its group is, as
//! libarchive does: a setuid file of user 1000 must not become a setuid file of
//! whoever extracted it.

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

impl Meta {
    /// The bytes its extended attributes hold: names, values, and each one's
    /// own pair of buffers (so a million empty attributes are not free).
    pub(crate) fn held_bytes(&self) -> u64 {
        let each = std::mem::size_of::<(OsString, Vec<u8>)>();
        self.xattrs
            .iter()
            .map(|(n, v)| (n.len() + v.len() + each) as u64)
            .sum()
    }
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
    /// A setuid or setgid bit was dropped (warned about once).
    setid_dropped: bool,
}

impl Policy {
    pub(crate) fn new(chown: bool) -> Self {
        Policy {
            chown,
            chmod: true,
            xattrs: true,
            warnings: Vec::new(),
            setid_dropped: false,
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
    let mut owned = false;
    if policy.chown {
        let res = chown_fd(fd, Some(meta.uid), Some(meta.gid));
        owned = owner_result(res, policy)?;
    }
    if !meta.symlink && policy.chmod {
        let mode = safe_mode(fd, meta, owned, policy)?;
        mode_result(chmod_fd(fd, mode), policy)?;
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
    let mut owned = false;
    if policy.chown {
        let res = rustix::fs::fchown(
            file,
            Some(rustix::fs::Uid::from_raw(meta.uid)),
            Some(rustix::fs::Gid::from_raw(meta.gid)),
        );
        owned = owner_result(res, policy)?;
    }
    if policy.chmod {
        let mode = safe_mode(file.as_fd(), meta, owned, policy)?;
        mode_result(
            rustix::fs::fchmod(file, Mode::from_raw_mode(mode & 0o7777)),
            policy,
        )?;
    }
    if policy.xattrs && !meta.xattrs.is_empty() {
        set_xattrs(XattrTarget::Fd(file.as_fd()), meta, policy)?;
    }
    rustix::fs::futimens(file, &timestamps(meta.atime, meta.mtime)).map_err(|e| ("utimensat", e))
}

/// Whether the owner was set; a filesystem that cannot take owners turns them
/// off for the rest of the call.
fn owner_result(
    res: Result<(), Errno>,
    policy: &mut Policy,
) -> Result<bool, (&'static str, Errno)> {
    match res {
        Ok(()) => Ok(true),
        Err(e) if unsupported(e) => {
            policy.chown = false;
            policy.warnings.push(format!(
                "the filesystem does not take ownership ({e}); files keep the extracting user's"
            ));
            Ok(false)
        }
        Err(e) => Err(("chown", e)),
    }
}

/// The mode to set: `meta.mode`, without the setuid (setgid) bit when the owner
/// was not restored and the file's actual user (group) is not the wanted one.
fn safe_mode(
    fd: BorrowedFd<'_>,
    meta: &Meta,
    owned: bool,
    policy: &mut Policy,
) -> Result<u32, (&'static str, Errno)> {
    const SETUID: u32 = 0o4000;
    const SETGID: u32 = 0o2000;
    let mut mode = meta.mode & 0o7777;
    if owned || mode & (SETUID | SETGID) == 0 {
        return Ok(mode);
    }
    let st = rustix::fs::fstat(fd).map_err(|e| ("stat", e))?;
    if st.st_uid != meta.uid {
        mode &= !SETUID;
    }
    if st.st_gid != meta.gid {
        mode &= !SETGID;
    }
    if mode != meta.mode & 0o7777 && !policy.setid_dropped {
        policy.setid_dropped = true;
        policy.warnings.push(
            "setuid/setgid bits are not restored on files whose owner is not (as libarchive does)"
                .to_string(),
        );
    }
    Ok(mode)
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
