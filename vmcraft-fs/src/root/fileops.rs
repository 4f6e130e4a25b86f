//! The guest file calls on [`GuestRoot`] that create, remove, rename, link and
//! change files: `mkdir`, `mkdir_p`, `rm`, `rm_f`, `rmdir`, `rm_rf`, `mv`, `ln_s`,
//! `ln_sf`, `ln`, `readlink`, `chmod`, `chown`, `lchown`, `utimens`, `touch`, and
//! the `exists`/`is_*` tests.
//!
//! Calls that libguestfs makes with `lchown`, `utimensat(AT_SYMLINK_NOFOLLOW)`,
//! `unlink`, `rename` act on the final name without following it; `chmod`, `chown`
//! and `touch` follow it, inside the root.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid};
use rustix::io::Errno;

use crate::root::error::{Error, ErrorKind, Result};
use crate::root::{GuestRoot, proc_fd_path, relative};

/// A timestamp for [`GuestRoot::utimens`]: a time, "now", or "leave unchanged"
/// (libguestfs's `nsecs` of -1 and -2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileTime {
    /// Seconds and nanoseconds since the epoch.
    At(i64, i64),
    /// The current time.
    Now,
    /// Leave this timestamp as it is.
    Omit,
}

impl FileTime {
    fn timespec(self) -> Timespec {
        match self {
            FileTime::At(sec, nsec) => Timespec {
                tv_sec: sec,
                tv_nsec: nsec as _,
            },
            FileTime::Now => Timespec {
                tv_sec: 0,
                tv_nsec: rustix::fs::UTIME_NOW,
            },
            FileTime::Omit => Timespec {
                tv_sec: 0,
                tv_nsec: rustix::fs::UTIME_OMIT,
            },
        }
    }
}

pub(crate) fn timestamps(atime: FileTime, mtime: FileTime) -> Timestamps {
    Timestamps {
        last_access: atime.timespec(),
        last_modification: mtime.timespec(),
    }
}

impl GuestRoot {
    /// Create a directory (libguestfs `mkdir`); its parent must exist.
    ///
    /// ```
    /// use vmcraft_fs::root::{ErrorKind, GuestRoot};
    /// let dir = tempfile::tempdir()?;
    /// let root = GuestRoot::open(dir.path())?;
    /// root.mkdir("/srv", 0o755)?;
    /// assert!(root.is_dir("/srv", false)?);
    /// assert_eq!(root.mkdir("/srv", 0o755).unwrap_err().kind(), ErrorKind::AlreadyExists);
    /// assert_eq!(root.mkdir("/a/b", 0o755).unwrap_err().kind(), ErrorKind::NotFound);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn mkdir(&self, path: impl AsRef<Path>, mode: u32) -> Result<()> {
        let path = path.as_ref();
        let (dir, name) = self.parent("mkdir", path)?;
        let Some(name) = name else {
            return Err(Error::errno("mkdir", path.display(), "", Errno::EXIST));
        };
        rustix::fs::mkdirat(&dir, &name, Mode::from_raw_mode(mode & 0o7777))
            .map_err(|e| Error::errno("mkdir", path.display(), "", e))
    }

    /// Create a directory and any missing parents (libguestfs `mkdir_p`); an
    /// existing directory, or a symlink to one, is fine.
    ///
    /// ```
    /// use vmcraft_fs::root::GuestRoot;
    /// let dir = tempfile::tempdir()?;
    /// let root = GuestRoot::open(dir.path())?;
    /// root.mkdir_p("/a/b/c", 0o755)?;
    /// root.mkdir_p("/a/b/c", 0o755)?;
    /// assert!(root.is_dir("/a/b/c", false)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn mkdir_p(&self, path: impl AsRef<Path>, mode: u32) -> Result<()> {
        let path = path.as_ref();
        self.mkdir_all("mkdir_p", path, mode).map(drop)
    }

    /// Create `path` and its missing parents; return a descriptor on it.
    pub fn mkdir_all(&self, call: &'static str, path: &Path, mode: u32) -> Result<OwnedFd> {
        let flags = OFlags::PATH | OFlags::DIRECTORY;
        let err = |e| Error::errno(call, path.display(), "", e);
        match self.openat2(relative(path), flags, Mode::empty()) {
            Ok(fd) => return Ok(fd),
            Err(Errno::NOENT) => {}
            Err(e) => return Err(err(e)),
        }
        // Walk down from the root, creating what is missing. Each step resolves the
        // prefix afresh inside the root, so a symlink on the way is followed there.
        let mut prefix = PathBuf::new();
        let mut dir = self
            .openat2(Path::new("."), flags, Mode::empty())
            .map_err(err)?;
        for comp in relative(path).components() {
            prefix.push(comp);
            match self.openat2(&prefix, flags, Mode::empty()) {
                Ok(fd) => dir = fd,
                Err(Errno::NOENT) => {
                    let std::path::Component::Normal(name) = comp else {
                        return Err(err(Errno::NOENT));
                    };
                    match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(mode & 0o7777)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(err(e)),
                    }
                    dir = self.openat2(&prefix, flags, Mode::empty()).map_err(err)?;
                }
                Err(e) => return Err(err(e)),
            }
        }
        Ok(dir)
    }

    /// Remove a file, symlink or other non-directory (libguestfs `rm`).
    pub fn rm(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let (dir, name) = self.parent_name("rm", path)?;
        rustix::fs::unlinkat(&dir, &name, AtFlags::empty())
            .map_err(|e| Error::errno("rm", path.display(), "", e))
    }

    /// Like [`GuestRoot::rm`], but a missing file is not an error (libguestfs
    /// `rm_f`).
    pub fn rm_f(&self, path: impl AsRef<Path>) -> Result<()> {
        match self.rm(path) {
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            other => other.map_err(|e| e.with_call("rm_f")),
        }
    }

    /// Remove an empty directory (libguestfs `rmdir`).
    pub fn rmdir(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let (dir, name) = self.parent_name("rmdir", path)?;
        rustix::fs::unlinkat(&dir, &name, AtFlags::REMOVEDIR)
            .map_err(|e| Error::errno("rmdir", path.display(), "", e))
    }

    /// Remove a file or a whole tree, like `rm -rf` (libguestfs `rm_rf`): a
    /// missing path is not an error, symlinks are removed, never followed.
    ///
    /// ```
    /// use vmcraft_fs::root::GuestRoot;
    /// let dir = tempfile::tempdir()?;
    /// let root = GuestRoot::open(dir.path())?;
    /// root.mkdir_p("/t/a/b", 0o755)?;
    /// root.write("/t/a/b/f", b"")?;
    /// root.rm_rf("/t")?;
    /// root.rm_rf("/t")?;
    /// assert!(!root.exists("/t")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rm_rf(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let (dir, name) = match self.parent("rm_rf", path) {
            Ok((dir, Some(name))) => (dir, name),
            Ok((_, None)) => {
                return Err(Error::invalid(
                    "rm_rf",
                    path.display(),
                    "refusing to remove a directory named by `.`, `..` or `/`",
                ));
            }
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        match remove_tree(dir.as_fd(), &name) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(Error::errno("rm_rf", path.display(), "", e)),
        }
    }

    /// Rename `src` to `dest` (neither final name followed), replacing `dest` as
    /// `rename(2)` does.
    pub fn rename(&self, src: impl AsRef<Path>, dest: impl AsRef<Path>) -> Result<()> {
        let (src, dest) = (src.as_ref(), dest.as_ref());
        let (sdir, sname) = self.parent_name("rename", src)?;
        let (ddir, dname) = self.parent_name("rename", dest)?;
        rustix::fs::renameat(&sdir, &sname, &ddir, &dname)
            .map_err(|e| Error::errno("rename", src.display(), format!("to {}", dest.display()), e))
    }

    /// Move `src` to `dest` like `mv` (libguestfs `mv`): into `dest` when it is a
    /// directory, across filesystems by copying (`cp_a`) and removing.
    ///
    /// ```
    /// use vmcraft_fs::root::GuestRoot;
    /// let dir = tempfile::tempdir()?;
    /// let root = GuestRoot::open(dir.path())?;
    /// root.mkdir("/d", 0o755)?;
    /// root.write("/f", b"1")?;
    /// root.mv("/f", "/d")?;
    /// assert_eq!(root.read_file("/d/f")?, b"1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn mv(&self, src: impl AsRef<Path>, dest: impl AsRef<Path>) -> Result<()> {
        let (src, dest) = (src.as_ref(), dest.as_ref());
        let dest = self.dest_in_dir("mv", src, dest)?;
        match self.rename(src, &dest) {
            Err(e) if e.raw_os_error() == Some(Errno::XDEV.raw_os_error()) => {
                self.cp_a(src, &dest).map_err(|e| e.with_call("mv"))?;
                self.rm_rf(src).map_err(|e| e.with_call("mv"))
            }
            other => other.map_err(|e| e.with_call("mv")),
        }
    }

    /// For `cp`/`mv`: `dest/basename(src)` when `dest` is a directory.
    pub(crate) fn dest_in_dir(
        &self,
        call: &'static str,
        src: &Path,
        dest: &Path,
    ) -> Result<PathBuf> {
        if self.is_dir(dest, true)? {
            let name = crate::root::split(src).map(|(_, n)| n).ok_or_else(|| {
                Error::invalid(call, src.display(), "source names a directory itself")
            })?;
            Ok(dest.join(name))
        } else {
            Ok(dest.to_path_buf())
        }
    }

    /// Create a symbolic link `linkname` pointing to `target` (libguestfs `ln_s`).
    /// The target is stored as given: it is guest data, resolved inside the root
    /// whenever it is followed.
    pub fn ln_s(&self, target: impl AsRef<Path>, linkname: impl AsRef<Path>) -> Result<()> {
        let (target, linkname) = (target.as_ref(), linkname.as_ref());
        let (dir, name) = self.parent_name("ln_s", linkname)?;
        rustix::fs::symlinkat(target, &dir, &name)
            .map_err(|e| Error::errno("ln_s", linkname.display(), "", e))
    }

    /// [`GuestRoot::ln_s`], first removing any non-directory at `linkname`
    /// (libguestfs `ln_sf`).
    pub fn ln_sf(&self, target: impl AsRef<Path>, linkname: impl AsRef<Path>) -> Result<()> {
        let linkname = linkname.as_ref();
        let (dir, name) = self.parent_name("ln_sf", linkname)?;
        match rustix::fs::unlinkat(&dir, &name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(Error::errno("ln_sf", linkname.display(), "", e)),
        }
        self.ln_s(target, linkname)
            .map_err(|e| e.with_call("ln_sf"))
    }

    /// Create a hard link `linkname` to the existing `target` (libguestfs `ln`);
    /// `target`'s final symlink is not followed.
    pub fn ln(&self, target: impl AsRef<Path>, linkname: impl AsRef<Path>) -> Result<()> {
        let (target, linkname) = (target.as_ref(), linkname.as_ref());
        let (tdir, tname) = self.parent_name("ln", target)?;
        let (ldir, lname) = self.parent_name("ln", linkname)?;
        rustix::fs::linkat(&tdir, &tname, &ldir, &lname, AtFlags::empty()).map_err(|e| {
            Error::errno(
                "ln",
                linkname.display(),
                format!("to {}", target.display()),
                e,
            )
        })
    }

    /// The target of a symbolic link, as stored (libguestfs `readlink`).
    ///
    /// ```
    /// use vmcraft_fs::root::GuestRoot;
    /// let dir = tempfile::tempdir()?;
    /// let root = GuestRoot::open(dir.path())?;
    /// root.ln_s("/run/resolv.conf", "/resolv.conf")?;
    /// assert_eq!(root.readlink("/resolv.conf")?, "/run/resolv.conf");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn readlink(&self, path: impl AsRef<Path>) -> Result<String> {
        let path = path.as_ref();
        let target = self.readlink_raw("readlink", path)?;
        Ok(target.to_string_lossy().into_owned())
    }

    pub(crate) fn readlink_raw(&self, call: &'static str, path: &Path) -> Result<PathBuf> {
        let (dir, name) = self.parent_name(call, path)?;
        let target = rustix::fs::readlinkat(&dir, &name, Vec::new())
            .map_err(|e| Error::errno(call, path.display(), "", e))?;
        Ok(PathBuf::from(std::ffi::OsString::from_vec(
            target.into_bytes(),
        )))
    }

    /// Change the permission bits, following a final symlink inside the root
    /// (libguestfs `chmod`).
    pub fn chmod(&self, mode: u32, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let fd = self.handle("chmod", path, true)?;
        chmod_fd(fd.as_fd(), mode).map_err(|e| Error::errno("chmod", path.display(), "", e))
    }

    /// Change the owner and group, following a final symlink inside the root
    /// (libguestfs `chown`). `-1` leaves an id unchanged.
    pub fn chown(&self, owner: i32, group: i32, path: impl AsRef<Path>) -> Result<()> {
        self.chown_impl("chown", owner, group, path.as_ref(), true)
    }

    /// Change the owner and group of a symlink itself (libguestfs `lchown`).
    pub fn lchown(&self, owner: i32, group: i32, path: impl AsRef<Path>) -> Result<()> {
        self.chown_impl("lchown", owner, group, path.as_ref(), false)
    }

    fn chown_impl(
        &self,
        call: &'static str,
        owner: i32,
        group: i32,
        path: &Path,
        follow: bool,
    ) -> Result<()> {
        let fd = self.handle(call, path, follow)?;
        chown_fd(fd.as_fd(), ids(owner), ids(group))
            .map_err(|e| Error::errno(call, path.display(), "", e))
    }

    /// Set the access and modification times of `path` without following a final
    /// symlink (libguestfs `utimens`).
    pub fn utimens(&self, path: impl AsRef<Path>, atime: FileTime, mtime: FileTime) -> Result<()> {
        let path = path.as_ref();
        let times = timestamps(atime, mtime);
        let res = match self.parent("utimens", path)? {
            (dir, Some(name)) => {
                rustix::fs::utimensat(&dir, &name, &times, AtFlags::SYMLINK_NOFOLLOW)
            }
            (dir, None) => utimes_fd(dir.as_fd(), &times),
        };
        res.map_err(|e| Error::errno("utimens", path.display(), "", e))
    }

    /// Create an empty file if missing, and set its times to now (libguestfs
    /// `touch`); a final symlink is followed inside the root. What exists is
    /// never opened (a device node's or a FIFO's `open` is not run): its times
    /// are set through an `O_PATH` descriptor.
    pub fn touch(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let err = |e| Error::errno("touch", path.display(), "", e);
        let fd = match self.openat2(relative(path), OFlags::PATH, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => self
                .openat2(
                    relative(path),
                    OFlags::WRONLY | OFlags::CREATE | OFlags::NONBLOCK,
                    Mode::from_raw_mode(0o644),
                )
                .map_err(err)?,
            Err(e) => return Err(err(e)),
        };
        utimes_fd(fd.as_fd(), &timestamps(FileTime::Now, FileTime::Now)).map_err(err)
    }

    /// Whether anything exists at `path`, following symlinks (libguestfs
    /// `exists`: a dangling symlink does not count).
    pub fn exists(&self, path: impl AsRef<Path>) -> Result<bool> {
        self.test("exists", path.as_ref(), true, |_| true)
    }

    /// Whether `path` is a regular file; symlinks are followed when `follow` is set
    /// (libguestfs `is_file` with `followsymlinks`).
    pub fn is_file(&self, path: impl AsRef<Path>, follow: bool) -> Result<bool> {
        self.test("is_file", path.as_ref(), follow, |t| {
            t == FileType::RegularFile
        })
    }

    /// Whether `path` is a directory; symlinks followed when `follow` is set
    /// (libguestfs `is_dir`).
    pub fn is_dir(&self, path: impl AsRef<Path>, follow: bool) -> Result<bool> {
        self.test("is_dir", path.as_ref(), follow, |t| {
            t == FileType::Directory
        })
    }

    /// Whether `path` is a symbolic link (libguestfs `is_symlink`).
    pub fn is_symlink(&self, path: impl AsRef<Path>) -> Result<bool> {
        self.test("is_symlink", path.as_ref(), false, |t| {
            t == FileType::Symlink
        })
    }

    fn test(
        &self,
        call: &'static str,
        path: &Path,
        follow: bool,
        f: impl Fn(FileType) -> bool,
    ) -> Result<bool> {
        let flags = if follow {
            OFlags::PATH
        } else {
            OFlags::PATH | OFlags::NOFOLLOW
        };
        match self.openat2(relative(path), flags, Mode::empty()) {
            Ok(fd) => {
                let st = rustix::fs::fstat(&fd)
                    .map_err(|e| Error::errno(call, path.display(), "", e))?;
                Ok(f(FileType::from_raw_mode(st.st_mode as _)))
            }
            // A missing path, or one running through a non-directory or a symlink
            // loop, simply is not there.
            Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => Ok(false),
            Err(e) => Err(Error::errno(call, path.display(), "", e)),
        }
    }
}

fn ids(id: i32) -> Option<u32> {
    u32::try_from(id).ok()
}

/// `chmod` on the exact inode behind an `O_PATH` descriptor.
pub(crate) fn chmod_fd(fd: BorrowedFd<'_>, mode: u32) -> std::result::Result<(), Errno> {
    rustix::fs::chmodat(
        rustix::fs::CWD,
        proc_fd_path(fd),
        Mode::from_raw_mode(mode & 0o7777),
        AtFlags::empty(),
    )
}

/// `chown` on the inode behind an `O_PATH` descriptor (a symlink itself when the
/// descriptor is on one).
pub(crate) fn chown_fd(
    fd: BorrowedFd<'_>,
    uid: Option<u32>,
    gid: Option<u32>,
) -> std::result::Result<(), Errno> {
    // `None` (libguestfs's -1) leaves that id unchanged.
    rustix::fs::chownat(
        fd,
        "",
        uid.map(Uid::from_raw),
        gid.map(Gid::from_raw),
        AtFlags::EMPTY_PATH,
    )
}

/// Set times on the exact inode behind an `O_PATH` descriptor.
pub(crate) fn utimes_fd(fd: BorrowedFd<'_>, times: &Timestamps) -> std::result::Result<(), Errno> {
    rustix::fs::utimensat(rustix::fs::CWD, proc_fd_path(fd), times, AtFlags::empty())
}

/// Remove `name` in `dir` and, if it is a directory, everything below it, never
/// following a symlink.
pub(crate) fn remove_tree(dir: BorrowedFd<'_>, name: &OsStr) -> std::result::Result<(), Errno> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) => return Ok(()),
        Err(Errno::ISDIR | Errno::PERM) => {}
        Err(e) => return Err(e),
    }
    let sub = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    for child in crate::root::walk::dir_names(sub.as_fd())? {
        remove_tree(sub.as_fd(), &child)?;
    }
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)
}
