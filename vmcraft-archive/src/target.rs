//! The target directory of `tar_in`, and path resolution beneath it.
//!
//! An archive may write inside the directory it is extracted into and nowhere
//! else, whatever symlinks it meets on the way, the guest's or its own. So every
//! entry path is resolved by the kernel from a descriptor on the target
//! directory with `RESOLVE_BENEATH`: a `..` or a symlink (absolute, or relative
//! with enough `..`) that would lead out of it fails with `EXDEV`, reported as
//! an unsafe entry. When the target is the guest's root itself, resolution is
//! `RESOLVE_IN_ROOT` instead, as for every other guest call: nothing can leave
//! the root, and the guest's own absolute symlinks (`/lib -> /usr/lib`) keep
//! their meaning.
//!
//! The archive's own dangerous symlinks never take part: they are created only
//! after every entry is extracted (see [`crate::delayed`]).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use vmcraft_fs::root::GuestRoot;

/// How many times a resolution answered with `EAGAIN` (a rename raced with a
/// `..` lookup) is retried.
const EAGAIN_RETRIES: usize = 32;

/// The target directory and how paths below it are resolved.
pub(crate) struct Target {
    fd: OwnedFd,
    resolve: ResolveFlags,
}

impl Target {
    /// The directory behind `fd` (an `O_PATH` descriptor resolved inside
    /// `root`), with `RESOLVE_IN_ROOT` when it is the root itself and
    /// `RESOLVE_BENEATH` otherwise.
    pub(crate) fn new(root: &GuestRoot, fd: OwnedFd) -> Result<Target, Errno> {
        let a = rustix::fs::fstat(&fd)?;
        let b = rustix::fs::fstat(root.as_fd())?;
        let scope = if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) {
            ResolveFlags::IN_ROOT
        } else {
            ResolveFlags::BENEATH
        };
        Ok(Target {
            fd,
            resolve: scope | ResolveFlags::NO_MAGICLINKS,
        })
    }

    /// The directory behind `fd`, its paths resolved as this target's are
    /// (the stage of a staged extraction stands in for its target).
    pub(crate) fn with_scope_of(&self, fd: OwnedFd) -> Target {
        Target {
            fd,
            resolve: self.resolve,
        }
    }

    /// Whether paths resolve as in the guest's root (the target is the root,
    /// or a stage standing in for it).
    pub(crate) fn in_root(&self) -> bool {
        self.resolve.contains(ResolveFlags::IN_ROOT)
    }

    /// The target directory (`O_PATH`).
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Open `rel` (relative to the target; empty or `.` for the target itself).
    pub(crate) fn open(&self, rel: &Path, flags: OFlags) -> Result<OwnedFd, Errno> {
        let rel = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        let mut tries = 0;
        loop {
            match rustix::fs::openat2(
                &self.fd,
                rel,
                flags | OFlags::CLOEXEC,
                Mode::empty(),
                self.resolve,
            ) {
                Err(Errno::AGAIN) if tries < EAGAIN_RETRIES => tries += 1,
                other => return other,
            }
        }
    }

    /// A directory descriptor (`O_PATH`) on `rel`, creating it and its missing
    /// parents (mode 0755 before the umask), each step resolved beneath the
    /// target.
    pub(crate) fn mkdir_all(&self, rel: &Path) -> Result<OwnedFd, Errno> {
        let flags = OFlags::PATH | OFlags::DIRECTORY;
        match self.open(rel, flags) {
            Err(Errno::NOENT) => {}
            other => return other,
        }
        let mut prefix = PathBuf::new();
        let mut dir = self.open(Path::new("."), flags)?;
        for comp in rel.components() {
            let Component::Normal(name) = comp else {
                return Err(Errno::INVAL);
            };
            prefix.push(name);
            match self.open(&prefix, flags) {
                Ok(fd) => dir = fd,
                Err(Errno::NOENT) => {
                    match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(e),
                    }
                    dir = self.open(&prefix, flags)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(dir)
    }
}
