//! Opening guest files for their content: [`GuestRoot::open_read`],
//! [`GuestRoot::open_write`] and the calls built on them (`read_file`, `cat`,
//! `write`, `write_append`).
//!
//! Only regular files are opened for content. A guest tree may hold device nodes
//! (on a filesystem not mounted `nodev`, opening one reaches the host's device:
//! a disk, `/dev/mem`, a watchdog that an `open` arms), FIFOs (whose `open` blocks
//! until a writer comes, which is never) and sockets. So a path is first resolved
//! to an `O_PATH` descriptor, which opens nothing; its type is checked with
//! `fstat`; and only a regular file is then reopened for reading or writing,
//! through `/proc/self/fd/N`, which reaches exactly the inode that was checked. A
//! file that does not exist yet is created with `O_NONBLOCK` and checked after
//! the fact, so that even a race cannot make the caller hang.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::root::error::{Error, ErrorKind, Result};
use crate::root::{GuestRoot, WriteMode, proc_fd_path, relative};

/// How a file type is named in messages.
pub(crate) fn type_name(t: FileType) -> &'static str {
    match t {
        FileType::RegularFile => "regular file",
        FileType::Directory => "directory",
        FileType::Symlink => "symbolic link",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        FileType::Fifo => "fifo",
        FileType::Socket => "socket",
        FileType::Unknown => "file of unknown type",
    }
}

/// Refuse what `fd` points at unless it is a regular file.
pub(crate) fn require_regular(call: &'static str, path: &Path, fd: BorrowedFd<'_>) -> Result<()> {
    let st = rustix::fs::fstat(fd).map_err(|e| Error::errno(call, path.display(), "", e))?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => Ok(()),
        other => Err(not_regular(call, path, other)),
    }
}

/// The error for a file whose content is not read or written.
pub fn not_regular(call: &'static str, path: &Path, t: FileType) -> Error {
    Error::new(
        ErrorKind::WrongType,
        call,
        path.display(),
        format!("not a regular file (it is a {})", type_name(t)),
    )
}

/// Open the inode behind the `O_PATH` descriptor `fd` with `flags`, through
/// `/proc/self/fd` (the same inode, whatever happened to its path since).
pub(crate) fn reopen(fd: BorrowedFd<'_>, flags: OFlags) -> std::result::Result<OwnedFd, Errno> {
    rustix::fs::open(
        proc_fd_path(fd),
        flags | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
}

impl GuestRoot {
    /// Open a file for reading, following symlinks inside the root. Only a
    /// regular file is opened: a device node, FIFO, socket or directory is
    /// refused ([`ErrorKind::WrongType`]) without being opened.
    ///
    /// ```
    /// use std::io::Read;
    /// use vmcraft_fs::root::GuestRoot;
    /// let dir = tempfile::tempdir()?;
    /// let root = GuestRoot::open(dir.path())?;
    /// root.write("/f", b"data")?;
    /// let mut s = String::new();
    /// root.open_read("/f")?.read_to_string(&mut s)?;
    /// assert_eq!(s, "data");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_read(&self, path: impl AsRef<Path>) -> Result<File> {
        let path = path.as_ref();
        let fd = self.handle("open", path, true)?;
        require_regular("open", path, fd.as_fd())?;
        reopen(fd.as_fd(), OFlags::RDONLY)
            .map(File::from)
            .map_err(|e| Error::errno("open", path.display(), "", e))
    }

    /// Open a file for writing, creating it with `mode` (before the process umask)
    /// when it does not exist. A final symlink is followed inside the root, except
    /// with [`WriteMode::CreateNew`], which fails on anything already there. An
    /// existing file must be a regular file: a device node, FIFO, socket or
    /// directory is refused ([`ErrorKind::WrongType`]) without being opened.
    ///
    /// ```
    /// use std::io::Write;
    /// use vmcraft_fs::root::{GuestRoot, WriteMode};
    /// let dir = tempfile::tempdir()?;
    /// let root = GuestRoot::open(dir.path())?;
    /// root.open_write("/log", WriteMode::Append, 0o644)?.write_all(b"a")?;
    /// root.open_write("/log", WriteMode::Append, 0o644)?.write_all(b"b")?;
    /// assert_eq!(root.read_file("/log")?, b"ab");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_write(&self, path: impl AsRef<Path>, how: WriteMode, mode: u32) -> Result<File> {
        let path = path.as_ref();
        let err = |e| Error::errno("open", path.display(), "", e);
        let mode = Mode::from_raw_mode(mode & 0o7777);
        let extra = match how {
            WriteMode::Truncate => OFlags::TRUNC,
            WriteMode::Append => OFlags::APPEND,
            WriteMode::CreateNew => {
                // Nothing may be there, not even a symlink: always a new file.
                let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW;
                return self
                    .openat2(relative(path), flags, mode)
                    .map(File::from)
                    .map_err(err);
            }
        };
        match self.openat2(relative(path), OFlags::PATH, Mode::empty()) {
            Ok(fd) => {
                require_regular("open", path, fd.as_fd())?;
                reopen(fd.as_fd(), OFlags::WRONLY | extra)
                    .map(File::from)
                    .map_err(err)
            }
            Err(Errno::NOENT) => {
                // Not there (or a dangling symlink, whose target is created inside
                // the root). O_NONBLOCK: should a FIFO appear in between, the open
                // fails instead of waiting for a reader.
                let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::NONBLOCK | extra;
                let fd = self.openat2(relative(path), flags, mode).map_err(err)?;
                require_regular("open", path, fd.as_fd())?;
                rustix::fs::fcntl_setfl(&fd, OFlags::APPEND & extra).map_err(err)?;
                Ok(File::from(fd))
            }
            Err(e) => Err(err(e)),
        }
    }

    /// The whole content of a file (libguestfs `read_file`; `cat` is the same as
    /// text). Only a regular file is read.
    ///
    /// ```
    /// use vmcraft_fs::root::{ErrorKind, GuestRoot};
    /// let dir = tempfile::tempdir()?;
    /// let root = GuestRoot::open(dir.path())?;
    /// root.mkdir("/d", 0o755)?;
    /// let err = root.read_file("/d").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::WrongType);
    /// assert_eq!(err.to_string(), "read_file: /d: not a regular file (it is a directory)");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_file(&self, path: impl AsRef<Path>) -> Result<Vec<u8>> {
        let path = path.as_ref();
        let mut f = self.open_read(path).map_err(|e| e.with_call("read_file"))?;
        let mut out = Vec::new();
        f.read_to_end(&mut out)
            .map_err(|e| Error::io("read_file", path.display(), "", e))?;
        Ok(out)
    }

    /// A regular file's content if it is at most `max` bytes; a larger file is
    /// refused without reading more than `max + 1` bytes of it (for guest files
    /// read on the caller's behalf, such as `/etc/passwd`).
    pub fn read_bounded(&self, call: &'static str, path: &Path, max: u64) -> Result<Vec<u8>> {
        let f = self.open_read(path).map_err(|e| e.with_call(call))?;
        read_at_most(f, call, path, max)
    }

    /// A file's content as text (libguestfs `cat`); invalid UTF-8 is an error.
    pub fn cat(&self, path: impl AsRef<Path>) -> Result<String> {
        let path = path.as_ref();
        let bytes = self.read_file(path).map_err(|e| e.with_call("cat"))?;
        String::from_utf8(bytes).map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                "cat",
                path.display(),
                "file is not UTF-8 text",
            )
            .with_source(e)
        })
    }

    /// Create or truncate a file and write `content` (libguestfs `write`; a new
    /// file gets mode 0644).
    pub fn write(&self, path: impl AsRef<Path>, content: &[u8]) -> Result<()> {
        self.write_with("write", path.as_ref(), content, WriteMode::Truncate)
    }

    /// Append `content` to a file, creating it if missing (libguestfs
    /// `write_append`).
    pub fn write_append(&self, path: impl AsRef<Path>, content: &[u8]) -> Result<()> {
        self.write_with("write_append", path.as_ref(), content, WriteMode::Append)
    }

    fn write_with(
        &self,
        call: &'static str,
        path: &Path,
        data: &[u8],
        how: WriteMode,
    ) -> Result<()> {
        let mut f = self
            .open_write(path, how, 0o644)
            .map_err(|e| e.with_call(call))?;
        f.write_all(data)
            .and_then(|()| f.flush())
            .map_err(|e| Error::io(call, path.display(), "", e))
    }
}

/// All of `r` if it is at most `max` bytes; more is refused without reading
/// beyond `max + 1` bytes.
pub fn read_at_most(r: impl Read, call: &'static str, path: &Path, max: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    r.take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::io(call, path.display(), "", e))?;
    if out.len() as u64 > max {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            call,
            path.display(),
            format!("file is larger than {max} bytes, the most read here"),
        ));
    }
    Ok(out)
}
