//! Applying a file's metadata (owner, mode, xattrs, times) to a name inside a
//! directory descriptor, in the order that keeps each of them: owner first (a
//! `chown` clears setuid bits and `security.capability`), then mode, then xattrs,
//! times last. Shared by `tar_in` and `cp_a`.
//!
//! What a filesystem cannot take (owners and modes on vfat through FUSE,
//! xattrs where unsupported: it answers `ENOSYS` or `EOPNOTSUPP`) is dropped,
//! with one warning, for the rest of the call *on that filesystem* (known by
//! its device number): the ext4 root the vfat ESP is mounted in still gets its
//! owners. Anything else, `EPERM` and `EACCES` first of all, is a real error:
//! every step is still tried on the file (a failed `chown` does not keep its
//! times from being set), the first failure is returned for the caller to
//! report, and nothing is switched off.
//!
//! Where the owner is not restored (not asked for, not root, or refused by the
//! filesystem), the setuid bit is kept only when the file's actual owner is the
//! one the archive names, and the setgid bit only when its group is, as
//! libarchive does: a setuid file of user 1000 must not become a setuid file of
//! whoever extracted it.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use crate::root::fileops::{FileTime, chmod_fd, chown_fd, timestamps, utimes_fd};
use crate::root::xattrs::XattrTarget;

/// What to set on a file.
#[derive(Debug, Clone)]
pub struct Meta {
    /// Permission bits, setuid/setgid/sticky included (`0o7777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Access time.
    pub atime: FileTime,
    /// Modification time.
    pub mtime: FileTime,
    /// Extended attributes, names with their namespace (`user.x`).
    pub xattrs: Vec<(OsString, Vec<u8>)>,
    /// The file is a symlink: no mode is set (Linux has none for links), and
    /// owner, xattrs and times go on the link itself.
    pub symlink: bool,
}

impl Meta {
    /// The bytes its extended attributes hold: names, values, and each one's
    /// own pair of buffers (so a million empty attributes are not free).
    pub fn held_bytes(&self) -> u64 {
        let each = std::mem::size_of::<(OsString, Vec<u8>)>();
        self.xattrs
            .iter()
            .map(|(n, v)| (n.len() + v.len() + each) as u64)
            .sum()
    }
}

/// What to set, and what each filesystem met so far cannot take.
#[derive(Debug)]
pub struct Policy {
    /// Owners are restored at all (the caller's choice).
    pub chown: bool,
    /// Devices whose filesystem takes no owners, no permission bits, no xattrs.
    no_owner: HashSet<u64>,
    no_mode: HashSet<u64>,
    no_xattrs: HashSet<u64>,
    /// One line per thing dropped for a filesystem that cannot hold it.
    pub warnings: Vec<String>,
    /// A setuid or setgid bit was dropped (warned about once).
    setid_dropped: bool,
    /// No setuid or setgid bit is ever set (the caller's choice).
    pub strip_setid: bool,
}

impl Policy {
    /// Restore owners when `chown`; nothing switched off yet.
    pub fn new(chown: bool) -> Self {
        Policy {
            chown,
            no_owner: HashSet::new(),
            no_mode: HashSet::new(),
            no_xattrs: HashSet::new(),
            warnings: Vec::new(),
            setid_dropped: false,
            strip_setid: false,
        }
    }

    fn any_dropped(&self) -> bool {
        !(self.no_owner.is_empty() && self.no_mode.is_empty() && self.no_xattrs.is_empty())
    }
}

/// Whether `e` says the filesystem cannot take this at all (as opposed to a
/// refusal: `EPERM`, `EACCES`, `EINVAL` for an id the namespace cannot map).
pub fn cannot_hold(e: Errno) -> bool {
    matches!(e, Errno::NOSYS | Errno::OPNOTSUPP)
}

/// The device of the file behind `fd`, looked up only when a filesystem has
/// already been found lacking (the common case costs no `fstat`).
fn device(fd: BorrowedFd<'_>, policy: &Policy) -> Option<u64> {
    if !policy.any_dropped() {
        return None;
    }
    #[allow(clippy::unnecessary_cast)]
    rustix::fs::fstat(fd).ok().map(|st| st.st_dev as u64)
}

/// Record that the filesystem of `fd` cannot take `what` (`set` is its
/// list), with one warning for it.
fn dropped(fd: BorrowedFd<'_>, set: Which, e: Errno, policy: &mut Policy) {
    #[allow(clippy::unnecessary_cast)]
    let dev = rustix::fs::fstat(fd)
        .map(|st| st.st_dev as u64)
        .unwrap_or(u64::MAX);
    let (list, what) = match set {
        Which::Owner => (
            &mut policy.no_owner,
            "ownership; files keep the extracting user's",
        ),
        Which::Mode => (
            &mut policy.no_mode,
            "permission bits; files keep its defaults",
        ),
        Which::Xattrs => (
            &mut policy.no_xattrs,
            "extended attributes; they are skipped",
        ),
    };
    if list.insert(dev) {
        let (major, minor) = (rustix::fs::major(dev), rustix::fs::minor(dev));
        policy.warnings.push(format!(
            "the filesystem does not take {} (device {major}:{minor}: {e})",
            what
        ));
    }
}

#[derive(Clone, Copy)]
enum Which {
    Owner,
    Mode,
    Xattrs,
}

/// The first failure of the steps tried.
type Failed = Option<(&'static str, Errno)>;

fn first(failed: &mut Failed, what: &'static str, e: Errno) {
    failed.get_or_insert((what, e));
}

/// Set `meta` on `name` in `dir` (not followed). Returns what failed and the errno.
pub fn apply(
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
pub fn apply_handle(
    fd: BorrowedFd<'_>,
    at: Option<(BorrowedFd<'_>, &OsStr)>,
    meta: &Meta,
    policy: &mut Policy,
) -> Result<(), (&'static str, Errno)> {
    let mut failed: Failed = None;
    let dev = device(fd, policy);
    let skip = |set: &HashSet<u64>| dev.is_some_and(|d| set.contains(&d));
    let mut owned = false;
    if policy.chown && !skip(&policy.no_owner) {
        match chown_fd(fd, Some(meta.uid), Some(meta.gid)) {
            Ok(()) => owned = true,
            Err(e) if cannot_hold(e) => dropped(fd, Which::Owner, e, policy),
            Err(e) => first(&mut failed, "chown", e),
        }
    }
    if !meta.symlink && !skip(&policy.no_mode) {
        match safe_mode(fd, meta, owned, policy).map(|mode| chmod_fd(fd, mode)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) if cannot_hold(e) => dropped(fd, Which::Mode, e, policy),
            Ok(Err(e)) => first(&mut failed, "chmod", e),
            Err((what, e)) => first(&mut failed, what, e),
        }
    }
    let symlink_at = at.filter(|_| meta.symlink);
    if !meta.xattrs.is_empty() && !skip(&policy.no_xattrs) {
        let target = match symlink_at {
            Some((dir, name)) => XattrTarget::At(dir, name),
            None => XattrTarget::Dir(fd),
        };
        if let Err(e) = set_xattrs(target, meta) {
            if cannot_hold(e) {
                dropped(fd, Which::Xattrs, e, policy);
            } else {
                first(&mut failed, "setxattr", e);
            }
        }
    }
    let times = timestamps(meta.atime, meta.mtime);
    if let Err(e) = match symlink_at {
        Some((dir, name)) => rustix::fs::utimensat(dir, name, &times, AtFlags::SYMLINK_NOFOLLOW),
        None => utimes_fd(fd, &times),
    } {
        first(&mut failed, "utimensat", e);
    }
    failed.map_or(Ok(()), Err)
}

/// Set `meta` on a regular file open for writing (the fast path of `tar_in`).
pub fn apply_file(
    file: &File,
    meta: &Meta,
    policy: &mut Policy,
) -> Result<(), (&'static str, Errno)> {
    let fd = file.as_fd();
    let mut failed: Failed = None;
    let dev = device(fd, policy);
    let skip = |set: &HashSet<u64>| dev.is_some_and(|d| set.contains(&d));
    let mut owned = false;
    if policy.chown && !skip(&policy.no_owner) {
        let res = rustix::fs::fchown(
            file,
            Some(rustix::fs::Uid::from_raw(meta.uid)),
            Some(rustix::fs::Gid::from_raw(meta.gid)),
        );
        match res {
            Ok(()) => owned = true,
            Err(e) if cannot_hold(e) => dropped(fd, Which::Owner, e, policy),
            Err(e) => first(&mut failed, "chown", e),
        }
    }
    if !skip(&policy.no_mode) {
        let res = safe_mode(fd, meta, owned, policy)
            .map(|mode| rustix::fs::fchmod(file, Mode::from_raw_mode(mode & 0o7777)));
        match res {
            Ok(Ok(())) => {}
            Ok(Err(e)) if cannot_hold(e) => dropped(fd, Which::Mode, e, policy),
            Ok(Err(e)) => first(&mut failed, "chmod", e),
            Err((what, e)) => first(&mut failed, what, e),
        }
    }
    if !meta.xattrs.is_empty()
        && !skip(&policy.no_xattrs)
        && let Err(e) = set_xattrs(XattrTarget::Fd(fd), meta)
    {
        if cannot_hold(e) {
            dropped(fd, Which::Xattrs, e, policy);
        } else {
            first(&mut failed, "setxattr", e);
        }
    }
    if let Err(e) = rustix::fs::futimens(file, &timestamps(meta.atime, meta.mtime)) {
        first(&mut failed, "utimensat", e);
    }
    failed.map_or(Ok(()), Err)
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
    if policy.strip_setid {
        return Ok(mode & !(SETUID | SETGID));
    }
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

/// Set every extended attribute of `meta`; the first failure.
fn set_xattrs(target: XattrTarget<'_>, meta: &Meta) -> Result<(), Errno> {
    for (xname, value) in &meta.xattrs {
        target.set(xname, value)?;
    }
    Ok(())
}
