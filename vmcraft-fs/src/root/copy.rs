//! Copies inside a [`GuestRoot`]: `cp` (one file's content) and `cp_a` (a tree
//! with modes, owners, times, xattrs, symlinks and special files, like `cp -a`).

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::root::GuestRoot;
use crate::root::error::{Error, ErrorKind, Result};
use crate::root::fileops::FileTime;
use crate::root::meta::{self, Meta, Policy};
use crate::root::xattrs::XattrTarget;

impl GuestRoot {
    /// Copy a file's content (libguestfs `cp`): `src` is followed, `dest` is
    /// created with `src`'s permission bits or truncated, and when `dest` is a
    /// directory the copy goes inside it.
    ///
    /// ```
    /// use vmcraft_fs::root::GuestRoot;
    /// let dir = tempfile::tempdir()?;
    /// let root = GuestRoot::open(dir.path())?;
    /// root.write("/a", b"hello")?;
    /// root.cp("/a", "/b")?;
    /// assert_eq!(root.read_file("/b")?, b"hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cp(&self, src: impl AsRef<Path>, dest: impl AsRef<Path>) -> Result<()> {
        let (src, dest) = (src.as_ref(), dest.as_ref());
        // Regular files only, at both ends (a FIFO or a device is not opened).
        let mut input = self.open_read(src).map_err(|e| e.with_call("cp"))?;
        let st = rustix::fs::fstat(&input).map_err(|e| Error::errno("cp", src.display(), "", e))?;
        let dest = self.dest_in_dir("cp", src, dest)?;
        let mut output = self
            .open_write(&dest, crate::root::WriteMode::Truncate, st.st_mode & 0o777)
            .map_err(|e| e.with_call("cp"))?;
        std::io::copy(&mut input, &mut output)
            .map_err(|e| Error::io("cp", src.display(), format!("to {}", dest.display()), e))?;
        Ok(())
    }

    /// Copy a file or a tree like `cp -a` (libguestfs `cp_a`): symlinks copied as
    /// symlinks, modes, owners, times and xattrs kept, device nodes and FIFOs
    /// recreated; into `dest` when it is a directory. Hard links within the tree
    /// become separate files.
    ///
    /// ```
    /// use vmcraft_fs::root::GuestRoot;
    /// let dir = tempfile::tempdir()?;
    /// let root = GuestRoot::open(dir.path())?;
    /// root.mkdir_p("/src/sub", 0o750)?;
    /// root.ln_s("../x", "/src/sub/link")?;
    /// root.cp_a("/src", "/copy")?;
    /// assert_eq!(root.readlink("/copy/sub/link")?, "../x");
    /// assert_eq!(root.lstat("/copy/sub")?.mode & 0o7777, 0o750);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cp_a(&self, src: impl AsRef<Path>, dest: impl AsRef<Path>) -> Result<()> {
        let (src, dest) = (src.as_ref(), dest.as_ref());
        let dest = self.dest_in_dir("cp_a", src, dest)?;
        let (sdir, sname) = self.parent_name("cp_a", src)?;
        let (ddir, dname) = self.parent_name("cp_a", &dest)?;
        let mut policy = Policy::new(rustix::process::geteuid().is_root());
        copy_node(sdir.as_fd(), &sname, ddir.as_fd(), &dname, &mut policy).map_err(
            |e| match e {
                CopyError::Sys(what, e) => Error::errno(
                    "cp_a",
                    src.display(),
                    format!("{what} {}", dest.display()),
                    e,
                ),
                CopyError::NotRegular(name, t) => Error::new(
                    ErrorKind::WrongType,
                    "cp_a",
                    src.display(),
                    format!(
                        "{}: {:?} in the destination is not a regular file (it is a {}); it is not written into",
                        dest.display(),
                        name,
                        crate::root::content::type_name(t)
                    ),
                ),
            },
        )?;
        for w in &policy.warnings {
            tracing::warn!(call = "cp_a", "{}: {w}", dest.display());
        }
        Ok(())
    }
}

/// Why a copy stopped: a system call failed, or a file in the destination that
/// a regular file would be copied into is something else.
enum CopyError {
    Sys(&'static str, Errno),
    NotRegular(OsString, FileType),
}

impl From<(&'static str, Errno)> for CopyError {
    fn from((what, e): (&'static str, Errno)) -> Self {
        CopyError::Sys(what, e)
    }
}

type CopyResult = std::result::Result<(), CopyError>;

fn copy_node(
    sdir: BorrowedFd<'_>,
    sname: &OsStr,
    ddir: BorrowedFd<'_>,
    dname: &OsStr,
    policy: &mut Policy,
) -> CopyResult {
    let st = rustix::fs::statat(sdir, sname, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| ("stat", e))?;
    let ftype = FileType::from_raw_mode(st.st_mode as _);
    let xattrs = XattrTarget::At(sdir, sname)
        .read_all(|_| true)
        .map_err(|e| ("listxattr", e))?;
    match ftype {
        FileType::Directory => {
            match rustix::fs::mkdirat(ddir, dname, Mode::from_raw_mode(0o700)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(("mkdir", e).into()),
            }
            let open = |dir, name| {
                rustix::fs::openat(
                    dir,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
            };
            let s = open(sdir, sname).map_err(|e| ("open", e))?;
            let d = open(ddir, dname).map_err(|e| ("open", e))?;
            for child in crate::root::walk::dir_names(s.as_fd()).map_err(|e| ("readdir", e))? {
                copy_node(s.as_fd(), &child, d.as_fd(), &child, policy)?;
            }
        }
        FileType::RegularFile => {
            // O_NONBLOCK and a type check after each open: neither end is ever
            // a FIFO or a device whose content would be read or written.
            let regular = |fd: &OwnedFd, name: &OsStr| -> CopyResult {
                let st = rustix::fs::fstat(fd).map_err(|e| ("stat", e))?;
                match FileType::from_raw_mode(st.st_mode) {
                    FileType::RegularFile => Ok(()),
                    t => Err(CopyError::NotRegular(name.to_os_string(), t)),
                }
            };
            let input = rustix::fs::openat(
                sdir,
                sname,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| ("open", e))?;
            regular(&input, sname)?;
            if let Ok(st) = rustix::fs::statat(ddir, dname, AtFlags::SYMLINK_NOFOLLOW) {
                let t = FileType::from_raw_mode(st.st_mode);
                if !matches!(t, FileType::RegularFile | FileType::Symlink) {
                    return Err(CopyError::NotRegular(dname.to_os_string(), t));
                }
            }
            let output = rustix::fs::openat(
                ddir,
                dname,
                OFlags::WRONLY
                    | OFlags::CREATE
                    | OFlags::NOFOLLOW
                    | OFlags::NONBLOCK
                    | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
            .map_err(|e| ("create", e))?;
            regular(&output, dname)?;
            rustix::fs::ftruncate(&output, 0).map_err(|e| ("truncate", e))?;
            std::io::copy(&mut File::from(input), &mut File::from(output))
                .map_err(|e| ("copy to", Errno::from_io_error(&e).unwrap_or(Errno::IO)))?;
        }
        FileType::Symlink => {
            let target =
                rustix::fs::readlinkat(sdir, sname, Vec::new()).map_err(|e| ("readlink", e))?;
            rustix::fs::symlinkat(target.as_c_str(), ddir, dname).map_err(|e| ("symlink", e))?;
        }
        FileType::Socket => {
            tracing::warn!(call = "cp_a", "skipping socket {}", sname.to_string_lossy());
            return Ok(());
        }
        other => {
            rustix::fs::mknodat(
                ddir,
                dname,
                other,
                Mode::from_raw_mode(0o600),
                st.st_rdev as _,
            )
            .map_err(|e| ("mknod", e))?;
        }
    }
    let m = Meta {
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        atime: FileTime::At(st.st_atime as i64, st.st_atime_nsec as i64),
        mtime: FileTime::At(st.st_mtime as i64, st.st_mtime_nsec as i64),
        xattrs,
        symlink: ftype == FileType::Symlink,
    };
    Ok(meta::apply(ddir, dname, &m, policy)?)
}
