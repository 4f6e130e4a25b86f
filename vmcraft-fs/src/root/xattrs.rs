//! Extended attributes of guest files, read and written without following a final
//! symlink: on an open descriptor (`f*xattr`) or as a name inside a directory
//! descriptor (`l*xattr` on `/proc/self/fd/DIR/NAME`, since there is no `*at`
//! form), plus [`GuestRoot::lgetxattrs`] and [`GuestRoot::lsetxattr`].

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use rustix::fs::XattrFlags;
use rustix::io::Errno;
use serde::Serialize;

use crate::root::error::{Error, Result};
use crate::root::{GuestRoot, proc_at_path, proc_fd_path};

/// One extended attribute (libguestfs `guestfs_xattr`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Xattr {
    /// The attribute's name, with its namespace (`user.x`, `security.selinux`).
    pub attrname: String,
    /// The raw value.
    pub attrval: Vec<u8>,
}

/// Where a file's attributes are read or written.
#[derive(Clone, Copy)]
pub enum XattrTarget<'a> {
    /// An open (not `O_PATH`) descriptor.
    Fd(BorrowedFd<'a>),
    /// A name inside a directory, not followed.
    At(BorrowedFd<'a>, &'a OsStr),
    /// The directory behind an `O_PATH` descriptor itself.
    Dir(BorrowedFd<'a>),
}

impl XattrTarget<'_> {
    fn path(&self) -> Option<PathBuf> {
        match *self {
            XattrTarget::Fd(_) => None,
            XattrTarget::At(dir, name) => Some(proc_at_path(dir, name)),
            XattrTarget::Dir(dir) => Some(proc_fd_path(dir)),
        }
    }

    fn list(&self) -> std::result::Result<Vec<u8>, Errno> {
        let path = self.path();
        // Size, then read; retry if the list grew in between.
        loop {
            let size = match (self, &path) {
                (XattrTarget::Fd(fd), _) => rustix::fs::flistxattr_query(fd)?,
                (XattrTarget::At(..), Some(p)) => rustix::fs::llistxattr_query(p)?,
                (_, Some(p)) => rustix::fs::listxattr_query(p)?,
                _ => unreachable!("every path-based target has a path"),
            };
            if size == 0 {
                return Ok(Vec::new());
            }
            let mut buf = vec![0u8; size];
            let got = match (self, &path) {
                (XattrTarget::Fd(fd), _) => rustix::fs::flistxattr(fd, &mut buf[..]),
                (XattrTarget::At(..), Some(p)) => rustix::fs::llistxattr(p, &mut buf[..]),
                (_, Some(p)) => rustix::fs::listxattr(p, &mut buf[..]),
                _ => unreachable!("every path-based target has a path"),
            };
            match got {
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(buf);
                }
                Err(Errno::RANGE) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn get(&self, name: &OsStr) -> std::result::Result<Vec<u8>, Errno> {
        let path = self.path();
        loop {
            let size = match (self, &path) {
                (XattrTarget::Fd(fd), _) => rustix::fs::fgetxattr_query(fd, name)?,
                (XattrTarget::At(..), Some(p)) => rustix::fs::lgetxattr_query(p, name)?,
                (_, Some(p)) => rustix::fs::getxattr_query(p, name)?,
                _ => unreachable!("every path-based target has a path"),
            };
            let mut buf = vec![0u8; size];
            if size == 0 {
                return Ok(buf);
            }
            let got = match (self, &path) {
                (XattrTarget::Fd(fd), _) => rustix::fs::fgetxattr(fd, name, &mut buf[..]),
                (XattrTarget::At(..), Some(p)) => rustix::fs::lgetxattr(p, name, &mut buf[..]),
                (_, Some(p)) => rustix::fs::getxattr(p, name, &mut buf[..]),
                _ => unreachable!("every path-based target has a path"),
            };
            match got {
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(buf);
                }
                Err(Errno::RANGE) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// All attributes whose name `keep` accepts, sorted by name. A filesystem
    /// without xattr support has none.
    pub fn read_all(
        &self,
        keep: impl Fn(&[u8]) -> bool,
    ) -> std::result::Result<Vec<(OsString, Vec<u8>)>, Errno> {
        let list = match self.list() {
            Ok(l) => l,
            Err(Errno::OPNOTSUPP) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for name in list.split(|&b| b == 0).filter(|n| !n.is_empty() && keep(n)) {
            let name = OsString::from_vec(name.to_vec());
            match self.get(&name) {
                Ok(v) => out.push((name, v)),
                // Removed since it was listed.
                Err(Errno::NODATA) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort();
        Ok(out)
    }

    pub(crate) fn set(&self, name: &OsStr, value: &[u8]) -> std::result::Result<(), Errno> {
        match (self, self.path()) {
            (XattrTarget::Fd(fd), _) => rustix::fs::fsetxattr(fd, name, value, XattrFlags::empty()),
            (XattrTarget::At(..), Some(p)) => {
                rustix::fs::lsetxattr(p, name, value, XattrFlags::empty())
            }
            (_, Some(p)) => rustix::fs::setxattr(p, name, value, XattrFlags::empty()),
            _ => unreachable!("every path-based target has a path"),
        }
    }
}

impl GuestRoot {
    /// The extended attributes of `path` itself, a symlink not followed
    /// (libguestfs `lgetxattrs`).
    ///
    /// ```no_run
    /// use vmcraft_fs::root::GuestRoot;
    /// let root = GuestRoot::open("/mnt/guest")?;
    /// for x in root.lgetxattrs("/usr/bin/ping")? {
    ///     println!("{} = {:?}", x.attrname, x.attrval);
    /// }
    /// # Ok::<(), vmcraft_fs::root::Error>(())
    /// ```
    pub fn lgetxattrs(&self, path: impl AsRef<Path>) -> Result<Vec<Xattr>> {
        let path = path.as_ref();
        let err = |e| Error::errno("lgetxattrs", path.display(), "", e);
        let (dir, name) = self.parent("lgetxattrs", path)?;
        let target = match &name {
            Some(n) => XattrTarget::At(dir.as_fd(), n),
            None => XattrTarget::Dir(dir.as_fd()),
        };
        Ok(target
            .read_all(|_| true)
            .map_err(err)?
            .into_iter()
            .map(|(n, v)| Xattr {
                attrname: n.to_string_lossy().into_owned(),
                attrval: v,
            })
            .collect())
    }

    /// Set one extended attribute on `path` itself, a symlink not followed
    /// (libguestfs `lsetxattr`).
    pub fn lsetxattr(&self, xattr: &str, value: &[u8], path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let (dir, name) = self.parent("lsetxattr", path)?;
        let target = match &name {
            Some(n) => XattrTarget::At(dir.as_fd(), n),
            None => XattrTarget::Dir(dir.as_fd()),
        };
        target
            .set(OsStr::new(xattr), value)
            .map_err(|e| Error::errno("lsetxattr", path.display(), xattr.to_string(), e))
    }
}
