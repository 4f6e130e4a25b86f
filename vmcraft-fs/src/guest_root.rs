//! [`GuestTree`] for the kernel-mounted [`GuestRoot`]: a guest filesystem
//! mounted by the kernel, every path resolved inside it by the kernel
//! (`openat2(RESOLVE_IN_ROOT)`), answering the same calls as the in-process
//! readers. Resolution goes through the trait's default methods as for every
//! reader (so both paths give the same answers and the same errors); each node
//! call is then one confined system call.

use std::os::unix::fs::FileExt;

use crate::root::GuestRoot;

use crate::error::{Error, ErrorKind, Result};
use crate::stat::{DirEntry, FileType, Stat, Timespec, Xattr};
use crate::tree::GuestTree;

fn map_err(call: &'static str, path: &str, e: crate::root::Error) -> Error {
    let kind = match e.raw_os_error() {
        Some(libc_errno::ENOENT) => ErrorKind::NotFound,
        Some(libc_errno::ENOTDIR) => ErrorKind::NotADirectory,
        Some(libc_errno::EISDIR) => ErrorKind::IsADirectory,
        Some(libc_errno::ELOOP) => ErrorKind::Loop,
        Some(libc_errno::ENODATA) => ErrorKind::NoAttribute,
        Some(libc_errno::EINVAL) => ErrorKind::InvalidArgument,
        _ => match e.kind() {
            crate::root::ErrorKind::NotFound => ErrorKind::NotFound,
            crate::root::ErrorKind::WrongType => ErrorKind::NotARegularFile,
            crate::root::ErrorKind::Unsupported => ErrorKind::Unsupported,
            crate::root::ErrorKind::InvalidArgument => ErrorKind::InvalidArgument,
            _ => ErrorKind::Io,
        },
    };
    let msg = e.message().to_string();
    Error::new(kind, call, path, msg).with_source(e)
}

/// The errno values the kernel answers with (Linux, every architecture).
mod libc_errno {
    pub const ENOENT: i32 = 2;
    pub const ENOTDIR: i32 = 20;
    pub const EISDIR: i32 = 21;
    pub const EINVAL: i32 = 22;
    pub const ELOOP: i32 = 40;
    pub const ENODATA: i32 = 61;
}

fn ts(sec: i64, nsec: i64) -> Timespec {
    Timespec::new(sec, nsec.clamp(0, 999_999_999) as u32)
}

/// The kernel-mounted, confined guest root.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use vmcraft_fs::GuestRoot;
/// use vmcraft_fs::GuestTree;
/// let dir = tempfile::tempdir()?;
/// let root = GuestRoot::open(dir.path())?;
/// root.mkdir_p("/etc", 0o755)?;
/// root.write("/etc/hostname", b"guest\n")?;
/// root.ln_s("/etc/hostname", "/name")?;
/// let tree: &dyn GuestTree = &root;
/// assert_eq!(tree.read_file("/../name", 100)?, b"guest\n");
/// assert_eq!(tree.readlink("/name")?, "/etc/hostname");
/// assert_eq!(tree.stat("/name")?.size, 6);
/// # Ok(()) }
/// ```
impl GuestTree for GuestRoot {
    fn lstat_node(&self, path: &str) -> Result<Stat> {
        let s = self.lstatns(path).map_err(|e| map_err("lstat", path, e))?;
        Ok(Stat {
            ino: Some(s.st_ino as u64),
            mode: s.st_mode as u32,
            nlink: Some(s.st_nlink as u64),
            uid: s.st_uid as u32,
            gid: s.st_gid as u32,
            rdev: Some(s.st_rdev as u64),
            size: s.st_size as u64,
            blocks: Some(s.st_blocks as u64),
            atime: ts(s.st_atime_sec, s.st_atime_nsec),
            mtime: ts(s.st_mtime_sec, s.st_mtime_nsec),
            ctime: Some(ts(s.st_ctime_sec, s.st_ctime_nsec)),
            crtime: None,
        })
    }

    fn read_dir_node(&self, path: &str) -> Result<Vec<DirEntry>> {
        let list = self
            .readdir(path)
            .map_err(|e| map_err("read_dir", path, e))?;
        Ok(list
            .into_iter()
            .filter(|d| d.name != "." && d.name != "..")
            .map(|d| {
                let t = match d.ftyp {
                    'r' => FileType::Regular,
                    'd' => FileType::Directory,
                    'l' => FileType::Symlink,
                    'c' => FileType::CharDevice,
                    'b' => FileType::BlockDevice,
                    'f' => FileType::Fifo,
                    's' => FileType::Socket,
                    _ => FileType::Unknown,
                };
                DirEntry::new(d.name, t)
            })
            .collect())
    }

    fn readlink_node(&self, path: &str) -> Result<String> {
        GuestRoot::readlink(self, path).map_err(|e| map_err("readlink", path, e))
    }

    fn read_at_node(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let f = self.open_read(path).map_err(|e| map_err("read", path, e))?;
        let mut done = 0;
        while done < buf.len() {
            match f.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io("read", path, e)),
            }
        }
        Ok(done)
    }

    fn xattrs_node(&self, path: &str) -> Result<Vec<Xattr>> {
        Ok(GuestRoot::lgetxattrs(self, path)
            .map_err(|e| map_err("lgetxattrs", path, e))?
            .into_iter()
            .map(|x| Xattr {
                name: x.attrname,
                value: x.attrval,
            })
            .collect())
    }
}
