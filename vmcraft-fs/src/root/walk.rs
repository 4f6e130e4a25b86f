//! Directory listing and walking inside a [`GuestRoot`]: [`Dirent`] and the calls
//! `readdir`, `ls` and `find`.
//!
//! A walk opens each subdirectory from its parent's descriptor with
//! `O_NOFOLLOW | O_DIRECTORY`, so it never leaves the tree it started in, whatever
//! symlinks the guest holds.

use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};
use rustix::io::Errno;
use serde::Serialize;

use crate::root::error::{Error, Result};
use crate::root::{GuestRoot, relative};

/// One directory entry (libguestfs `guestfs_dirent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dirent {
    /// Inode number.
    pub ino: i64,
    /// Type: `b` block device, `c` char device, `d` directory, `f` FIFO,
    /// `l` symlink, `r` regular file, `s` socket, `u` unknown.
    pub ftyp: char,
    /// The name (lossily converted to UTF-8 if it is not).
    pub name: String,
}

/// The libguestfs type letter of a file type.
pub(crate) fn type_char(t: FileType) -> char {
    match t {
        FileType::RegularFile => 'r',
        FileType::Directory => 'd',
        FileType::Symlink => 'l',
        FileType::BlockDevice => 'b',
        FileType::CharacterDevice => 'c',
        FileType::Fifo => 'f',
        FileType::Socket => 's',
        _ => 'u',
    }
}

impl GuestRoot {
    /// Open a directory for listing, following symlinks inside the root.
    pub fn open_dir(&self, call: &'static str, path: &Path) -> Result<OwnedFd> {
        self.openat2(
            relative(path),
            OFlags::RDONLY | OFlags::DIRECTORY,
            Mode::empty(),
        )
        .map_err(|e| Error::errno(call, path.display(), "", e))
    }

    /// Every entry of a directory, `.` and `..` included, in the order the
    /// filesystem gives them (libguestfs `readdir`).
    pub fn readdir(&self, path: impl AsRef<Path>) -> Result<Vec<Dirent>> {
        let path = path.as_ref();
        let fd = self.open_dir("readdir", path)?;
        let err = |e| Error::errno("readdir", path.display(), "", e);
        let dir = Dir::new(fd).map_err(err)?;
        let mut out = Vec::new();
        for entry in dir {
            let entry = entry.map_err(err)?;
            out.push(Dirent {
                ino: entry.ino() as i64,
                ftyp: type_char(entry.file_type()),
                name: String::from_utf8_lossy(entry.file_name().to_bytes()).into_owned(),
            });
        }
        Ok(out)
    }

    /// The names in a directory, sorted, without `.` and `..` (libguestfs `ls`).
    ///
    /// ```
    /// use vmcraft_fs::root::GuestRoot;
    /// let dir = tempfile::tempdir()?;
    /// let root = GuestRoot::open(dir.path())?;
    /// root.mkdir("/b", 0o755)?;
    /// root.write("/a", b"")?;
    /// assert_eq!(root.ls("/")?, ["a", "b"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ls(&self, path: impl AsRef<Path>) -> Result<Vec<String>> {
        let path = path.as_ref();
        let fd = self.open_dir("ls", path)?;
        let names = dir_names(fd.as_fd()).map_err(|e| Error::errno("ls", path.display(), "", e))?;
        Ok(names
            .iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect())
    }

    /// Every path below a directory, relative to it, sorted (libguestfs `find`:
    /// the directory itself is not listed; symlinks are listed, not followed).
    ///
    /// ```
    /// use vmcraft_fs::root::GuestRoot;
    /// let dir = tempfile::tempdir()?;
    /// let root = GuestRoot::open(dir.path())?;
    /// root.mkdir_p("/t/a/b", 0o755)?;
    /// root.write("/t/a/f", b"")?;
    /// assert_eq!(root.find("/t")?, ["a", "a/b", "a/f"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn find(&self, path: impl AsRef<Path>) -> Result<Vec<String>> {
        let path = path.as_ref();
        let fd = self.open_dir("find", path)?;
        let mut out = Vec::new();
        walk(fd.as_fd(), &mut Vec::new(), &mut |rel, _, _| {
            out.push(String::from_utf8_lossy(rel).into_owned());
            Ok(true)
        })
        .map_err(|e| Error::errno("find", path.display(), "", e))?;
        out.sort();
        Ok(out)
    }
}

/// The names in the directory open at `dir`, without `.` and `..`, sorted by bytes.
pub fn dir_names(dir: BorrowedFd<'_>) -> std::result::Result<Vec<OsString>, Errno> {
    let mut names = Vec::new();
    for entry in Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsString::from_vec(name.to_vec()));
        }
    }
    names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// The callback of [`walk`]: relative path, parent descriptor, name; `Ok(false)`
/// skips what is below a directory.
pub(crate) type Visit<'v> =
    dyn FnMut(&[u8], BorrowedFd<'_>, &std::ffi::OsStr) -> std::result::Result<bool, Errno> + 'v;

/// Walk the tree below the directory open at `dir` (opened for reading), depth
/// first, entries of each directory sorted by name. `visit(relative path, parent
/// descriptor, name)` is called for each entry; returning `false` for a directory
/// skips what is below it. Directories are entered with `O_NOFOLLOW`.
pub(crate) fn walk(
    dir: BorrowedFd<'_>,
    prefix: &mut Vec<u8>,
    visit: &mut Visit<'_>,
) -> std::result::Result<(), Errno> {
    for name in dir_names(dir)? {
        let len = prefix.len();
        if len > 0 {
            prefix.push(b'/');
        }
        prefix.extend_from_slice(name.as_bytes());
        let descend = visit(prefix, dir, &name)?;
        if descend {
            let st = rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW)?;
            if FileType::from_raw_mode(st.st_mode as _) == FileType::Directory {
                let sub = rustix::fs::openat(
                    dir,
                    &name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                walk(sub.as_fd(), prefix, visit)?;
            }
        }
        prefix.truncate(len);
    }
    Ok(())
}
