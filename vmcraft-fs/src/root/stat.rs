//! File status structs with libguestfs's field names ([`StatNs`] for
//! `statns`/`lstatns`, [`Stat`] for the older `stat`/`lstat`, [`StatVfs`]) and the
//! [`GuestRoot`] calls that return them.
//!
//! Every field is an `i64`, as in libguestfs, and the structs derive
//! `serde::Serialize` so the command line can print them or emit JSON.

use std::os::fd::AsFd;
use std::path::Path;

use serde::Serialize;

use crate::root::GuestRoot;
use crate::root::error::{Error, Result};

/// `guestfs_statns`: status with nanosecond times (libguestfs `statns`,
/// `lstatns`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct StatNs {
    pub st_dev: i64,
    pub st_ino: i64,
    pub st_mode: i64,
    pub st_nlink: i64,
    pub st_uid: i64,
    pub st_gid: i64,
    pub st_rdev: i64,
    pub st_size: i64,
    pub st_blksize: i64,
    pub st_blocks: i64,
    pub st_atime_sec: i64,
    pub st_atime_nsec: i64,
    pub st_mtime_sec: i64,
    pub st_mtime_nsec: i64,
    pub st_ctime_sec: i64,
    pub st_ctime_nsec: i64,
    pub st_spare1: i64,
    pub st_spare2: i64,
    pub st_spare3: i64,
    pub st_spare4: i64,
    pub st_spare5: i64,
    pub st_spare6: i64,
}

/// `guestfs_stat`: the older status struct with whole-second times (libguestfs
/// `stat`, `lstat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct Stat {
    pub dev: i64,
    pub ino: i64,
    pub mode: i64,
    pub nlink: i64,
    pub uid: i64,
    pub gid: i64,
    pub rdev: i64,
    pub size: i64,
    pub blksize: i64,
    pub blocks: i64,
    pub atime: i64,
    pub mtime: i64,
    pub ctime: i64,
}

/// `guestfs_statvfs`: filesystem statistics (libguestfs `statvfs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct StatVfs {
    pub bsize: i64,
    pub frsize: i64,
    pub blocks: i64,
    pub bfree: i64,
    pub bavail: i64,
    pub files: i64,
    pub ffree: i64,
    pub favail: i64,
    pub fsid: i64,
    pub flag: i64,
    pub namemax: i64,
}

// Field widths differ between architectures; every value fits an i64 as in
// libguestfs (a u64 above i64::MAX wraps, as it does there).
#[allow(clippy::unnecessary_cast)]
impl From<&rustix::fs::Stat> for StatNs {
    fn from(st: &rustix::fs::Stat) -> Self {
        StatNs {
            st_dev: st.st_dev as i64,
            st_ino: st.st_ino as i64,
            st_mode: st.st_mode as i64,
            st_nlink: st.st_nlink as i64,
            st_uid: st.st_uid as i64,
            st_gid: st.st_gid as i64,
            st_rdev: st.st_rdev as i64,
            st_size: st.st_size as i64,
            st_blksize: st.st_blksize as i64,
            st_blocks: st.st_blocks as i64,
            st_atime_sec: st.st_atime as i64,
            st_atime_nsec: st.st_atime_nsec as i64,
            st_mtime_sec: st.st_mtime as i64,
            st_mtime_nsec: st.st_mtime_nsec as i64,
            st_ctime_sec: st.st_ctime as i64,
            st_ctime_nsec: st.st_ctime_nsec as i64,
            st_spare1: 0,
            st_spare2: 0,
            st_spare3: 0,
            st_spare4: 0,
            st_spare5: 0,
            st_spare6: 0,
        }
    }
}

impl From<StatNs> for Stat {
    fn from(s: StatNs) -> Self {
        Stat {
            dev: s.st_dev,
            ino: s.st_ino,
            mode: s.st_mode,
            nlink: s.st_nlink,
            uid: s.st_uid,
            gid: s.st_gid,
            rdev: s.st_rdev,
            size: s.st_size,
            blksize: s.st_blksize,
            blocks: s.st_blocks,
            atime: s.st_atime_sec,
            mtime: s.st_mtime_sec,
            ctime: s.st_ctime_sec,
        }
    }
}

impl From<&rustix::fs::StatVfs> for StatVfs {
    fn from(v: &rustix::fs::StatVfs) -> Self {
        StatVfs {
            bsize: v.f_bsize as i64,
            frsize: v.f_frsize as i64,
            blocks: v.f_blocks as i64,
            bfree: v.f_bfree as i64,
            bavail: v.f_bavail as i64,
            files: v.f_files as i64,
            ffree: v.f_ffree as i64,
            favail: v.f_favail as i64,
            fsid: v.f_fsid as i64,
            flag: v.f_flag.bits() as i64,
            namemax: v.f_namemax as i64,
        }
    }
}

impl GuestRoot {
    /// Status of `path`, following a final symlink inside the root (libguestfs
    /// `statns`).
    ///
    /// ```
    /// use vmcraft_fs::root::GuestRoot;
    /// let dir = tempfile::tempdir()?;
    /// let root = GuestRoot::open(dir.path())?;
    /// root.write("/f", b"12345")?;
    /// root.ln_s("f", "/l")?;
    /// assert_eq!(root.statns("/l")?.st_size, 5);
    /// assert_eq!(root.lstatns("/l")?.st_mode & 0o170000, 0o120000);
    /// println!("{}", serde_json::to_string(&root.lstat("/f")?)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn statns(&self, path: impl AsRef<Path>) -> Result<StatNs> {
        self.stat_impl("statns", path.as_ref(), true)
    }

    /// Status of `path` itself, a symlink not followed (libguestfs `lstatns`).
    pub fn lstatns(&self, path: impl AsRef<Path>) -> Result<StatNs> {
        self.stat_impl("lstatns", path.as_ref(), false)
    }

    /// [`GuestRoot::statns`] as the older struct (libguestfs `stat`).
    pub fn stat(&self, path: impl AsRef<Path>) -> Result<Stat> {
        self.stat_impl("stat", path.as_ref(), true).map(Stat::from)
    }

    /// [`GuestRoot::lstatns`] as the older struct (libguestfs `lstat`).
    pub fn lstat(&self, path: impl AsRef<Path>) -> Result<Stat> {
        self.stat_impl("lstat", path.as_ref(), false)
            .map(Stat::from)
    }

    fn stat_impl(&self, call: &'static str, path: &Path, follow: bool) -> Result<StatNs> {
        let fd = self.handle(call, path, follow)?;
        let st =
            rustix::fs::fstat(fd.as_fd()).map_err(|e| Error::errno(call, path.display(), "", e))?;
        Ok(StatNs::from(&st))
    }

    /// Statistics of the filesystem holding `path` (libguestfs `statvfs`).
    ///
    /// ```
    /// use vmcraft_fs::root::GuestRoot;
    /// let dir = tempfile::tempdir()?;
    /// let root = GuestRoot::open(dir.path())?;
    /// assert!(root.statvfs("/")?.bsize > 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn statvfs(&self, path: impl AsRef<Path>) -> Result<StatVfs> {
        let path = path.as_ref();
        let fd = self.handle("statvfs", path, true)?;
        let v = rustix::fs::fstatvfs(fd.as_fd())
            .map_err(|e| Error::errno("statvfs", path.display(), "", e))?;
        Ok(StatVfs::from(&v))
    }
}
