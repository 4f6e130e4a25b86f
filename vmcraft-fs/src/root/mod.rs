//! The kernel-mounted, confined guest root: [`GuestRoot`], a guest's root
//! directory on the host (usually the mount point of its root filesystem),
//! and path resolution inside it with chroot semantics.
//!
//! Every path is resolved by the kernel with `openat2(RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS)` from a descriptor on the root: `..` stops at the root,
//! and a symlink, absolute or relative, resolves as it would inside the guest
//! (`/etc/resolv.conf -> /run/x` lands on `ROOT/run/x`). Operations that must not
//! follow the last component resolve its *parent* that way and then act on a single
//! name with an `*at` call and `AT_SYMLINK_NOFOLLOW`, which cannot leave the parent.
//! Operations that follow the last component resolve it to an `O_PATH` descriptor
//! and act on that exact inode. No host path is ever built from guest data.
//!
//! The libguestfs file calls (`read_file`, `write`, `mkdir_p`, `rm_rf`, `ln_s`,
//! `lstat`, `statvfs`, `find`, `cp_a`, ...) are its methods, spread over the
//! submodules by what they touch: [`content`] (opening a file for its content,
//! only ever a regular file: a device node, FIFO or socket in the guest is
//! refused without being opened), `fileops` (names, modes, owners, times),
//! `copy`, `stat`, `xattrs` and [`walk`] (listing). [`meta`] applies a file's
//! metadata in the order that keeps each part, for `cp_a` and for writers of
//! whole trees (vmcraft-archive's extraction), which also use the
//! descriptor-level helpers made public here.
//!
//! Errors are one [`Error`] with a matchable [`ErrorKind`] (vmcraft-archive's
//! error too), messages `call: path: what`.
//!
//! ```
//! use vmcraft_fs::root::GuestRoot;
//! let dir = tempfile::tempdir()?;
//! let root = GuestRoot::open(dir.path())?;
//! root.mkdir_p("/etc", 0o755)?;
//! root.ln_s("/etc", "/link")?;
//! root.write("/link/hostname", b"guest\n")?;
//! assert_eq!(root.cat("/etc/hostname")?, "guest\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod content;
mod copy;
mod error;
pub mod fileops;
pub mod meta;
mod stat;
pub mod walk;
pub mod xattrs;

pub use error::{Error, ErrorKind, Result, kind_of_io};
pub use fileops::FileTime;
pub use stat::{Stat, StatNs, StatVfs};
pub use walk::Dirent;
pub use xattrs::Xattr;

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// How many times a resolution that the kernel answers with `EAGAIN` (a rename
/// raced with a `..` lookup under `RESOLVE_IN_ROOT`) is retried.
const EAGAIN_RETRIES: usize = 32;

/// A guest's root directory on the host (usually the mount point of its root
/// filesystem), through which every guest path is resolved with chroot semantics.
///
/// Guest paths are written as the guest sees them (`/etc/fstab`); a relative path
/// is taken from the root as well. The file calls of the `vmcraft` facade (`cat`,
/// `write`, `mkdir_p`, `rm_rf`, `ln_s`, `lstat`, `find`, ...) are methods here, with
/// libguestfs's semantics for following or not following a final symlink.
///
/// ```
/// use vmcraft_fs::root::GuestRoot;
/// let dir = tempfile::tempdir()?;
/// let root = GuestRoot::open(dir.path())?;
/// root.mkdir_p("/etc/app", 0o755)?;
/// root.write("/etc/app/conf", b"x = 1\n")?;
/// // An absolute guest symlink resolves inside the root, never on the host.
/// root.ln_s("/etc/app", "/cfg")?;
/// assert_eq!(root.read_file("/cfg/conf")?, b"x = 1\n");
/// assert_eq!(root.read_file("/../../../cfg/conf")?, b"x = 1\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct GuestRoot {
    fd: OwnedFd,
    path: PathBuf,
}

/// How [`GuestRoot::open_write`] opens a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Create the file or truncate it (`write`, `upload`).
    Truncate,
    /// Create the file or append to it (`write_append`).
    Append,
    /// Create the file; fail if anything exists at the path.
    CreateNew,
}

impl GuestRoot {
    /// Open the directory `root_dir` as a guest root.
    ///
    /// Fails when it is not a directory, or when the kernel has no `openat2` (Linux
    /// before 5.6), since confinement would then not be guaranteed.
    ///
    /// ```
    /// use vmcraft_fs::root::{ErrorKind, GuestRoot};
    /// let err = GuestRoot::open("/nonexistent/guest").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::NotFound);
    /// ```
    pub fn open(root_dir: impl AsRef<Path>) -> Result<Self> {
        let path = root_dir.as_ref();
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::errno("guest_root", path.display(), "", e))?;
        let root = GuestRoot {
            fd,
            path: path.to_path_buf(),
        };
        // Probe openat2 once so that an old kernel fails here, loudly.
        root.openat2(
            Path::new("."),
            OFlags::PATH | OFlags::DIRECTORY,
            Mode::empty(),
        )
        .map_err(|e| {
            let err = Error::errno("guest_root", path.display(), "openat2", e);
            if e == Errno::NOSYS {
                err.with_kind(ErrorKind::Unsupported)
            } else {
                err
            }
        })?;
        Ok(root)
    }

    /// The host directory this root was opened from (for messages and for tools
    /// that need a host path; never joined with guest paths by this crate).
    pub fn host_path(&self) -> &Path {
        &self.path
    }

    /// The descriptor of the root directory itself.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// `openat2` from the root with chroot semantics.
    pub(crate) fn openat2(
        &self,
        rel: &Path,
        flags: OFlags,
        mode: Mode,
    ) -> std::result::Result<OwnedFd, Errno> {
        // openat2 refuses any flag beside O_DIRECTORY/O_NOFOLLOW/O_CLOEXEC with O_PATH.
        let flags = if flags.contains(OFlags::PATH) {
            flags | OFlags::CLOEXEC
        } else {
            flags | OFlags::CLOEXEC | OFlags::NOCTTY
        };
        let mut tries = 0;
        loop {
            match rustix::fs::openat2(
                &self.fd,
                rel,
                flags,
                mode,
                ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            ) {
                Err(Errno::AGAIN) if tries < EAGAIN_RETRIES => tries += 1,
                other => return other,
            }
        }
    }

    /// Resolve `path` to an `O_PATH` descriptor: the path's final symlink is
    /// followed (inside the root) when `follow` is set, otherwise the descriptor
    /// is on the symlink itself.
    ///
    /// ```
    /// use vmcraft_fs::root::GuestRoot;
    /// let dir = tempfile::tempdir()?;
    /// let root = GuestRoot::open(dir.path())?;
    /// root.ln_s("/nowhere", "/dangling")?;
    /// assert!(root.resolve("/dangling", false).is_ok());
    /// assert!(root.resolve("/dangling", true).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resolve(&self, path: impl AsRef<Path>, follow: bool) -> Result<OwnedFd> {
        let path = path.as_ref();
        self.handle("resolve", path, follow)
    }

    /// [`GuestRoot::resolve`] with the error naming `call`: an `O_PATH`
    /// descriptor of `path`, following its last component when `follow`.
    pub fn handle(&self, call: &'static str, path: &Path, follow: bool) -> Result<OwnedFd> {
        let mut flags = OFlags::PATH;
        if !follow {
            flags |= OFlags::NOFOLLOW;
        }
        self.openat2(relative(path), flags, Mode::empty())
            .map_err(|e| Error::errno(call, path.display(), "", e))
    }

    /// Resolve the parent of `path` to a directory descriptor and return it with
    /// the final name, which the caller then uses with `*at` calls that do not
    /// follow it. `None` for a name when the path names a directory itself (`/`,
    /// `..`, `a/.`).
    pub(crate) fn parent(
        &self,
        call: &'static str,
        path: &Path,
    ) -> Result<(OwnedFd, Option<OsString>)> {
        let (parent, name) = match split(path) {
            Some((parent, name)) => (parent, Some(name)),
            None => (relative(path).to_path_buf(), None),
        };
        let fd = self
            .openat2(&parent, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())
            .map_err(|e| Error::errno(call, path.display(), "", e))?;
        Ok((fd, name))
    }

    /// Like [`GuestRoot::parent`], for calls that need a name.
    pub(crate) fn parent_name(
        &self,
        call: &'static str,
        path: &Path,
    ) -> Result<(OwnedFd, OsString)> {
        match self.parent(call, path)? {
            (fd, Some(name)) => Ok((fd, name)),
            (_, None) => Err(Error::invalid(
                call,
                path.display(),
                "path names a directory itself, not an entry in it",
            )),
        }
    }
}

/// The part of a guest path below the root, as the relative path handed to
/// `openat2` (`.` for the root itself).
pub(crate) fn relative(path: &Path) -> &Path {
    let bytes = path.as_os_str().as_bytes();
    let start = bytes.iter().position(|&b| b != b'/').unwrap_or(bytes.len());
    if start == bytes.len() {
        Path::new(".")
    } else {
        Path::new(OsStr::from_bytes(&bytes[start..]))
    }
}

/// Split a guest path into its parent (relative to the root) and final name;
/// `None` when it names a directory itself (`/`, `.`, `..`, `a/.`, `a/..`).
pub(crate) fn split(path: &Path) -> Option<(PathBuf, OsString)> {
    let rel = relative(path);
    let bytes = rel.as_os_str().as_bytes();
    let trimmed = bytes.strip_suffix(b"/").unwrap_or(bytes);
    if trimmed == b"." || trimmed.ends_with(b"/.") {
        return None;
    }
    let mut comps: Vec<Component<'_>> = rel.components().collect();
    match comps.pop() {
        Some(Component::Normal(name)) => {
            let parent: PathBuf = comps.iter().collect();
            let parent = if parent.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                parent
            };
            Some((parent, name.to_os_string()))
        }
        _ => None,
    }
}

/// `/proc/self/fd/N`: the exact inode behind an `O_PATH` descriptor, for the few
/// calls that have no descriptor form for `O_PATH` (chmod, utimes, xattrs).
pub(crate) fn proc_fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// `/proc/self/fd/N/name`: `name` inside the directory behind `dir`, for the
/// `l*xattr` calls, which have no `*at` form. The final name is not followed.
pub(crate) fn proc_at_path(dir: BorrowedFd<'_>, name: &OsStr) -> PathBuf {
    proc_fd_path(dir).join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(relative(Path::new("/")), Path::new("."));
        assert_eq!(relative(Path::new("")), Path::new("."));
        assert_eq!(relative(Path::new("///etc//x")), Path::new("etc//x"));
        assert_eq!(relative(Path::new("etc")), Path::new("etc"));
    }

    #[test]
    fn split_paths() {
        let s = |p: &str| {
            split(Path::new(p)).map(|(a, b)| (a.display().to_string(), b.into_string().unwrap()))
        };
        assert_eq!(s("/etc/fstab"), Some(("etc".into(), "fstab".into())));
        assert_eq!(s("/fstab"), Some((".".into(), "fstab".into())));
        assert_eq!(s("/a/../b/"), Some(("a/..".into(), "b".into())));
        assert_eq!(s("/"), None);
        assert_eq!(s("/a/.."), None);
        assert_eq!(s("/a/."), None);
        assert_eq!(s("/a/./"), None);
        assert_eq!(s("."), None);
    }
}
