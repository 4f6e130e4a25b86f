//! [`TarSource`]: a read-only guest tree other than a kernel-mounted
//! [`crate::GuestRoot`] that [`crate::tar_out_source`] archives (the in-process
//! filesystem readers of `vmcraft-fs` implement it), and the view of it the
//! archive writer walks.
//!
//! Paths are guest paths, absolute, resolved inside the tree by the tree
//! itself (a symlink never leaves it); the writer only ever joins names it
//! listed onto directories it resolved, and never follows a final symlink.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// What the archive stores of a file (`lstat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceStat {
    /// Type and permission bits (`st_mode`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Modification time: seconds since the epoch.
    pub mtime: i64,
    /// Modification time: nanoseconds.
    pub mtime_nsec: u32,
    /// Device number of a device node (Linux `dev_t` encoding), 0 otherwise.
    pub rdev: u64,
    /// Hard links; a file with more than one is stored once, then as links.
    pub nlink: u64,
    /// The filesystem the file is on, in the tree's own numbering (a tree
    /// made of several filesystems numbers each), and
    pub dev: u64,
    /// the inode number: with `nlink`, how hard links are recognised (0 where
    /// the filesystem has none, and then no file counts as a link of another).
    pub ino: u64,
}

/// A read-only guest tree [`crate::tar_out_source`] archives.
///
/// ```
/// use std::io;
/// use vmcraft_archive::{SourceStat, TarOutOptions, TarSource, tar_out_source};
/// /// A tree of one empty directory.
/// struct Empty;
/// impl TarSource for Empty {
///     fn lstat(&self, _path: &str) -> io::Result<SourceStat> {
///         Ok(SourceStat { mode: 0o040755, uid: 0, gid: 0, size: 0, mtime: 0,
///                         mtime_nsec: 0, rdev: 0, nlink: 2, dev: 0, ino: 2 })
///     }
///     fn stat(&self, path: &str) -> io::Result<SourceStat> { self.lstat(path) }
///     fn resolve(&self, _path: &str) -> io::Result<String> { Ok("/".into()) }
///     fn read_dir(&self, _path: &str) -> io::Result<Vec<String>> { Ok(Vec::new()) }
///     fn readlink(&self, _path: &str) -> io::Result<Vec<u8>> { Err(io::ErrorKind::InvalidInput.into()) }
///     fn read_at(&self, _path: &str, _offset: u64, _buf: &mut [u8]) -> io::Result<usize> { Ok(0) }
/// }
/// let out = tempfile::NamedTempFile::new()?;
/// let stats = tar_out_source(&Empty, "/", out.path(), &TarOutOptions::default())?;
/// assert_eq!(stats.entries, 1); // ./
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait TarSource {
    /// `lstat` of a path (its final symlink not followed).
    fn lstat(&self, path: &str) -> io::Result<SourceStat>;
    /// `stat` of a path (symlinks followed inside the tree).
    fn stat(&self, path: &str) -> io::Result<SourceStat>;
    /// The path with every symlink resolved inside the tree (`realpath`).
    fn resolve(&self, path: &str) -> io::Result<String>;
    /// The names in a directory, without `.` and `..`.
    fn read_dir(&self, path: &str) -> io::Result<Vec<String>>;
    /// A symlink's target.
    fn readlink(&self, path: &str) -> io::Result<Vec<u8>>;
    /// Bytes of a regular file from `offset`; 0 at its end.
    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
}

/// A directory of a [`TarSource`] as the writer walks it: its resolved path.
pub(crate) struct SourceDir(pub String);

impl SourceDir {
    /// The path of `name` (a name [`sorted_names`] gave) in this directory.
    pub(crate) fn join(&self, name: &OsStr) -> String {
        // Lossless: the names came from `String`s.
        let name = name.to_string_lossy();
        if self.0 == "/" {
            format!("/{name}")
        } else {
            format!("{}/{name}", self.0)
        }
    }
}

/// The names of a [`TarSource`] directory, sorted by bytes (as the kernel
/// path sorts them). A name that is not a plain name (empty, with a `/` or a
/// NUL; `.` and `..` are left out) is damage the kernel refuses too
/// (`EUCLEAN`): it would be a path, not an entry.
pub(crate) fn sorted_names(src: &dyn TarSource, dir: &SourceDir) -> io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    for n in src.read_dir(&dir.0)? {
        if n == "." || n == ".." {
            continue;
        }
        if n.is_empty() || n.contains(['/', '\0']) {
            return Err(io::Error::from_raw_os_error(117)); // EUCLEAN
        }
        names.push(OsString::from_vec(n.into_bytes()));
    }
    names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// A regular file of a [`TarSource`], read in order.
pub(crate) struct SourceFile<'s> {
    pub src: &'s dyn TarSource,
    pub path: String,
    pub offset: u64,
}

impl Read for SourceFile<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.src.read_at(&self.path, self.offset, buf)?;
        if n > buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the tree answered a read with more bytes than asked",
            ));
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// A regular file's content if it is at most `max` bytes (symlinks followed
/// inside the tree); the same refusals as the kernel path's bounded read.
pub(crate) fn read_bounded(
    src: &dyn TarSource,
    call: &'static str,
    path: &str,
    max: u64,
) -> crate::Result<Vec<u8>> {
    use vmcraft_fs::root::Error;
    let st = src.stat(path).map_err(|e| Error::io(call, path, "", e))?;
    let t = rustix::fs::FileType::from_raw_mode(st.mode);
    if t != rustix::fs::FileType::RegularFile {
        return Err(vmcraft_fs::root::content::not_regular(
            call,
            Path::new(path),
            t,
        ));
    }
    let real = src
        .resolve(path)
        .map_err(|e| Error::io(call, path, "", e))?;
    let file = SourceFile {
        src,
        path: real,
        offset: 0,
    };
    vmcraft_fs::root::content::read_at_most(file, call, Path::new(path), max)
}
