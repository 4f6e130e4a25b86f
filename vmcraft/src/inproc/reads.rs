//! The read calls' view of the guest tree, whichever path serves it:
//! [`ReadTree::Kernel`], the kernel-mounted confined root, or
//! [`ReadTree::InProcess`], the filesystems read in-process. Each method
//! answers as the kernel-mounted `GuestRoot` (vmcraft-fs) does (same results, same error
//! kinds and messages), so a read call is written once for both.
//!
//! What the in-process path cannot know is said where it differs: `st_dev` is
//! 0 (there is no kernel device) and `st_blksize` is 4096.

use std::io::Read;
use std::sync::Arc;

use vmcraft_fs::GuestTree;
use vmcraft_fs::root::{Error, ErrorKind, GuestRoot, Result, Stat, StatNs};

use super::Composite;

/// The guest tree a read call reads.
pub(crate) enum ReadTree {
    /// Mounted by the kernel under the session's root.
    Kernel(GuestRoot),
    /// Read in-process.
    InProcess(Arc<Composite>),
}

/// The errno the kernel answers where a vmcraft-fs reader fails with `kind`
/// (`None`: no errno says it).
pub(crate) fn errno_of(kind: vmcraft_fs::ErrorKind) -> Option<i32> {
    use vmcraft_fs::ErrorKind as K;
    match kind {
        K::NotFound => Some(libc::ENOENT),
        K::NotADirectory => Some(libc::ENOTDIR),
        K::IsADirectory => Some(libc::EISDIR),
        K::Loop => Some(libc::ELOOP),
        K::NoAttribute => Some(libc::ENODATA),
        K::InvalidArgument | K::NotASymlink => Some(libc::EINVAL),
        _ => None,
    }
}

/// A vmcraft-fs error as the kernel path reports the same failure.
pub(crate) fn map_err(call: &'static str, path: &str, e: vmcraft_fs::Error) -> Error {
    use vmcraft_fs::ErrorKind as K;
    if let Some(n) = errno_of(e.kind()) {
        // Where the failure is below the path asked about (a walk), say where.
        let what = if e.subject().is_empty() || e.subject() == path {
            String::new()
        } else {
            e.subject().to_string()
        };
        return Error::io(call, path, what, std::io::Error::from_raw_os_error(n));
    }
    let kind = match e.kind() {
        K::NotARegularFile => ErrorKind::WrongType,
        K::Unsupported => ErrorKind::Unsupported,
        K::TooLarge => ErrorKind::InvalidArgument,
        _ => ErrorKind::Io,
    };
    let msg = e.message().to_string();
    Error::new(kind, call, path, msg).with_source(e)
}

fn type_name(t: vmcraft_fs::FileType) -> &'static str {
    use vmcraft_fs::FileType as T;
    match t {
        T::Directory => "directory",
        T::Symlink => "symbolic link",
        T::CharDevice => "character device",
        T::BlockDevice => "block device",
        T::Fifo => "fifo",
        T::Socket => "socket",
        T::Regular => "regular file",
        #[allow(unreachable_patterns)]
        _ => "file of unknown type",
    }
}

/// A regular file of the in-process tree, read from the start.
pub(crate) struct TreeReader {
    tree: Arc<Composite>,
    path: String,
    pos: u64,
}

impl Read for TreeReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self
            .tree
            .read_at_node(&self.path, self.pos, buf)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.pos += n as u64;
        Ok(n)
    }
}

fn to_statns(s: &vmcraft_fs::Stat) -> StatNs {
    let ctime = s.ctime.unwrap_or(s.mtime);
    StatNs {
        st_dev: 0,
        st_ino: s.ino.unwrap_or(0) as i64,
        st_mode: s.mode as i64,
        st_nlink: s.nlink.unwrap_or(1) as i64,
        st_uid: s.uid as i64,
        st_gid: s.gid as i64,
        st_rdev: s.rdev.unwrap_or(0) as i64,
        st_size: s.size as i64,
        st_blksize: 4096,
        st_blocks: s.blocks.unwrap_or(s.size.div_ceil(512)) as i64,
        st_atime_sec: s.atime.sec,
        st_atime_nsec: s.atime.nsec as i64,
        st_mtime_sec: s.mtime.sec,
        st_mtime_nsec: s.mtime.nsec as i64,
        st_ctime_sec: ctime.sec,
        st_ctime_nsec: ctime.nsec as i64,
        st_spare1: 0,
        st_spare2: 0,
        st_spare3: 0,
        st_spare4: 0,
        st_spare5: 0,
        st_spare6: 0,
    }
}

impl ReadTree {
    /// Open a regular file for reading (symlinks followed inside the tree);
    /// anything else is refused, as `GuestRoot::open_read` refuses it.
    pub(crate) fn open_read(&self, path: &str) -> Result<Box<dyn Read + Send>> {
        match self {
            ReadTree::Kernel(r) => Ok(Box::new(r.open_read(path)?)),
            ReadTree::InProcess(t) => {
                let err = |e| map_err("open", path, e);
                let resolved = t.resolve(path, true).map_err(err)?;
                let st = t.lstat_node(&resolved).map_err(err)?;
                if !st.is_file() {
                    return Err(Error::new(
                        ErrorKind::WrongType,
                        "open",
                        path,
                        format!("not a regular file (it is a {})", type_name(st.file_type())),
                    ));
                }
                Ok(Box::new(TreeReader {
                    tree: t.clone(),
                    path: resolved,
                    pos: 0,
                }))
            }
        }
    }

    /// A file's whole content (`read_file`).
    pub(crate) fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        match self {
            ReadTree::Kernel(r) => r.read_file(path),
            ReadTree::InProcess(_) => {
                let mut f = self.open_read(path).map_err(|e| e.with_call("read_file"))?;
                let mut out = Vec::new();
                f.read_to_end(&mut out)
                    .map_err(|e| Error::io("read_file", path, "", e))?;
                Ok(out)
            }
        }
    }

    /// A file's content as UTF-8 text (`cat`).
    pub(crate) fn cat(&self, path: &str) -> Result<String> {
        match self {
            ReadTree::Kernel(r) => r.cat(path),
            ReadTree::InProcess(_) => {
                let bytes = self.read_file(path).map_err(|e| e.with_call("cat"))?;
                String::from_utf8(bytes).map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidArgument,
                        "cat",
                        path,
                        "file is not UTF-8 text",
                    )
                    .with_source(e)
                })
            }
        }
    }

    /// The names in a directory, sorted by bytes (`ls`).
    pub(crate) fn ls(&self, path: &str) -> Result<Vec<String>> {
        match self {
            ReadTree::Kernel(r) => r.ls(path),
            ReadTree::InProcess(t) => {
                let mut names: Vec<String> = t
                    .read_dir(path)
                    .map_err(|e| map_err("ls", path, e))?
                    .into_iter()
                    .map(|e| e.name)
                    .collect();
                names.sort();
                Ok(names)
            }
        }
    }

    /// Every path below a directory, relative to it, sorted (`find`).
    pub(crate) fn find(&self, path: &str) -> Result<Vec<String>> {
        match self {
            ReadTree::Kernel(r) => r.find(path),
            ReadTree::InProcess(t) => {
                let err = |e| map_err("find", path, e);
                let start = t.resolve(path, true).map_err(err)?;
                if !t.lstat_node(&start).map_err(err)?.is_dir() {
                    return Err(Error::io(
                        "find",
                        path,
                        "",
                        std::io::Error::from_raw_os_error(libc::ENOTDIR),
                    ));
                }
                let prefix = if start == "/" {
                    "/".to_string()
                } else {
                    format!("{start}/")
                };
                let mut out = Vec::new();
                vmcraft_fs::walk(&**t, &start, Default::default(), &mut |p, _| {
                    // The directory itself is not listed.
                    if let Some(rel) = p.strip_prefix(&prefix).filter(|r| !r.is_empty()) {
                        out.push(rel.to_string());
                    }
                    Ok(())
                })
                .map_err(err)?;
                out.sort();
                Ok(out)
            }
        }
    }

    /// Whether `path` is there with a type `want` accepts (symlinks followed
    /// when `follow`); a missing path, or one through a non-directory or a
    /// symlink loop, is not there.
    fn test(
        &self,
        call: &'static str,
        path: &str,
        follow: bool,
        want: impl Fn(vmcraft_fs::FileType) -> bool,
        t: &Composite,
    ) -> Result<bool> {
        use vmcraft_fs::ErrorKind as K;
        let r = t.resolve(path, follow).and_then(|p| t.lstat_node(&p));
        match r {
            Ok(st) => Ok(want(st.file_type())),
            Err(e) if matches!(e.kind(), K::NotFound | K::NotADirectory | K::Loop) => Ok(false),
            Err(e) => Err(map_err(call, path, e)),
        }
    }

    /// `exists`: anything there, symlinks followed.
    pub(crate) fn exists(&self, path: &str) -> Result<bool> {
        match self {
            ReadTree::Kernel(r) => r.exists(path),
            ReadTree::InProcess(t) => self.test("exists", path, true, |_| true, t),
        }
    }

    /// `is_file`.
    pub(crate) fn is_file(&self, path: &str, follow: bool) -> Result<bool> {
        use vmcraft_fs::FileType as T;
        match self {
            ReadTree::Kernel(r) => r.is_file(path, follow),
            ReadTree::InProcess(t) => self.test("is_file", path, follow, |f| f == T::Regular, t),
        }
    }

    /// `is_dir`.
    pub(crate) fn is_dir(&self, path: &str, follow: bool) -> Result<bool> {
        use vmcraft_fs::FileType as T;
        match self {
            ReadTree::Kernel(r) => r.is_dir(path, follow),
            ReadTree::InProcess(t) => self.test("is_dir", path, follow, |f| f == T::Directory, t),
        }
    }

    /// `is_symlink`.
    pub(crate) fn is_symlink(&self, path: &str) -> Result<bool> {
        use vmcraft_fs::FileType as T;
        match self {
            ReadTree::Kernel(r) => r.is_symlink(path),
            ReadTree::InProcess(t) => self.test("is_symlink", path, false, |f| f == T::Symlink, t),
        }
    }

    /// A symlink's target (`readlink`).
    pub(crate) fn readlink(&self, path: &str) -> Result<String> {
        match self {
            ReadTree::Kernel(r) => r.readlink(path),
            ReadTree::InProcess(t) => t.readlink(path).map_err(|e| map_err("readlink", path, e)),
        }
    }

    /// `statns` (`follow`) or `lstatns`.
    pub(crate) fn statns(&self, call: &'static str, path: &str, follow: bool) -> Result<StatNs> {
        match self {
            ReadTree::Kernel(r) if follow => r.statns(path),
            ReadTree::Kernel(r) => r.lstatns(path),
            ReadTree::InProcess(t) => {
                let st = if follow { t.stat(path) } else { t.lstat(path) };
                st.map(|s| to_statns(&s))
                    .map_err(|e| map_err(call, path, e))
            }
        }
    }

    /// `stat` (`follow`) or `lstat`.
    pub(crate) fn stat(&self, path: &str, follow: bool) -> Result<Stat> {
        match self {
            ReadTree::Kernel(r) if follow => r.stat(path),
            ReadTree::Kernel(r) => r.lstat(path),
            ReadTree::InProcess(_) => {
                let call = if follow { "stat" } else { "lstat" };
                self.statns(call, path, follow).map(Stat::from)
            }
        }
    }
}

/// A regular file opened for reads at offsets, on either path: what the
/// content calls (`head`, `tail`, `wc-*`, `strings`, `hexdump`, `is-zero`)
/// scan.
pub(crate) trait ContentFile {
    /// The file's size.
    fn size(&self) -> std::io::Result<u64>;
    /// Read at `offset`; 0 at the end of the file.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize>;
    /// From `pos`, where the next data starts and where it ends (before the
    /// next hole), if the file can say (`SEEK_DATA`/`SEEK_HOLE`); `None`: all
    /// of the rest is to be read.
    fn data_range(&self, pos: u64, size: u64) -> Option<(u64, u64)> {
        let _ = (pos, size);
        None
    }
}

impl ContentFile for std::fs::File {
    fn size(&self) -> std::io::Result<u64> {
        Ok(self.metadata()?.len())
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, offset)
    }
    fn data_range(&self, pos: u64, size: u64) -> Option<(u64, u64)> {
        use nix::unistd::{Whence, lseek};
        use std::os::fd::AsFd;
        let fd = self.as_fd();
        match lseek(fd, pos as i64, Whence::SeekData) {
            Ok(d) => {
                let d = (d as u64).min(size);
                let h = lseek(fd, d as i64, Whence::SeekHole)
                    .map(|h| (h as u64).min(size))
                    .unwrap_or(size);
                Some((d, h))
            }
            Err(nix::errno::Errno::ENXIO) => Some((size, size)),
            Err(_) => None,
        }
    }
}

/// A regular file of the in-process tree, read at offsets.
pub(crate) struct TreeFile {
    tree: Arc<Composite>,
    path: String,
    size: u64,
    /// 512-byte blocks allocated, where the reader knows.
    blocks: Option<u64>,
}

impl ContentFile for TreeFile {
    fn size(&self) -> std::io::Result<u64> {
        Ok(self.size)
    }
    fn data_range(&self, pos: u64, size: u64) -> Option<(u64, u64)> {
        // A file of more than 64 KiB with no block allocated is one hole:
        // nothing to read (smaller ones may keep their data in the inode or
        // the MFT record). The readers do not tell where the holes of other
        // files are: those are read, zeros and all.
        if size > 64 * 1024 && self.blocks == Some(0) {
            Some((size, size))
        } else {
            Some((pos, size))
        }
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        self.tree
            .read_at_node(&self.path, offset, buf)
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}

impl ReadTree {
    /// A regular file opened for positional reads (as [`ReadTree::open_read`]
    /// refuses anything else).
    pub(crate) fn open_content(&self, path: &str) -> Result<Box<dyn ContentFile + Send>> {
        match self {
            ReadTree::Kernel(r) => Ok(Box::new(r.open_read(path)?)),
            ReadTree::InProcess(t) => {
                let err = |e| map_err("open", path, e);
                let resolved = t.resolve(path, true).map_err(err)?;
                let st = t.lstat_node(&resolved).map_err(err)?;
                if !st.is_file() {
                    return Err(Error::new(
                        ErrorKind::WrongType,
                        "open",
                        path,
                        format!("not a regular file (it is a {})", type_name(st.file_type())),
                    ));
                }
                Ok(Box::new(TreeFile {
                    tree: t.clone(),
                    path: resolved,
                    size: st.size,
                    blocks: st.blocks,
                }))
            }
        }
    }
}

impl<T: ContentFile + ?Sized> ContentFile for Box<T> {
    fn size(&self) -> std::io::Result<u64> {
        (**self).size()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        (**self).read_at(buf, offset)
    }
    fn data_range(&self, pos: u64, size: u64) -> Option<(u64, u64)> {
        (**self).data_range(pos, size)
    }
}
