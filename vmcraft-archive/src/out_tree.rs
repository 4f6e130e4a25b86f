//! What `tar_out` reads of a tree, in one shape for both kinds of tree: a
//! kernel-mounted [`crate::GuestRoot`] walked through descriptors
//! ([`FdTree`]: `O_NOFOLLOW` opens and `*at` calls, so nothing is followed out
//! of the tree), and a [`TarSource`] walked by resolved paths ([`PathTree`]).

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use crate::source::{SourceDir, SourceFile, SourceStat, TarSource, sorted_names};
use vmcraft_fs::root::walk::dir_names;
use vmcraft_fs::root::xattrs::XattrTarget;

/// A file's `lstat` as the writer uses it (`dev` and `ino` are the key of a
/// hard-linked file).
pub(crate) type Meta = SourceStat;

impl From<rustix::fs::Stat> for SourceStat {
    fn from(st: rustix::fs::Stat) -> Self {
        SourceStat {
            mode: st.st_mode,
            uid: st.st_uid,
            gid: st.st_gid,
            size: u64::try_from(st.st_size).unwrap_or(0),
            mtime: st.st_mtime,
            mtime_nsec: st.st_mtime_nsec.clamp(0, 999_999_999) as u32,
            rdev: st.st_rdev,
            nlink: st.st_nlink,
            dev: st.st_dev,
            ino: st.st_ino,
        }
    }
}

/// How deep a walk of a [`Tree::GUARD_LOOPS`] tree goes (as deep as
/// vmcraft-fs's own walks).
pub(crate) const MAX_DEPTH: usize = 256;
/// The most entries archived once a filesystem without inode numbers (FAT)
/// is met, where a directory reached twice cannot be recognised.
pub(crate) const MAX_UNNUMBERED: u64 = 1_000_000;

/// The loop guard of a [`Tree::GUARD_LOOPS`] walk.
#[derive(Default)]
pub(crate) struct LoopGuard {
    /// (dev, ino) of every directory entered.
    dirs: std::collections::HashSet<(u64, u64)>,
    /// Entries counted since the first without an inode number (0: none met).
    unnumbered: u64,
}

impl LoopGuard {
    /// Check an entry at `depth` (the archived directory's entries are at 1);
    /// `Err` says why the walk must stop.
    pub(crate) fn check(&mut self, st: &Meta, depth: usize) -> Result<(), String> {
        // Without inode numbers a loop is not seen: every entry from then on
        // counts, so that one cannot make the archive endless.
        if st.ino == 0 || self.unnumbered > 0 {
            self.unnumbered += 1;
            if self.unnumbered > MAX_UNNUMBERED {
                return Err(format!(
                    "more than {MAX_UNNUMBERED} entries on a filesystem without inode numbers \
                     (a directory loop?)"
                ));
            }
        }
        if FileType::from_raw_mode(st.mode) != FileType::Directory {
            return Ok(());
        }
        if depth > MAX_DEPTH {
            return Err(format!(
                "deeper than {MAX_DEPTH} levels (a directory loop?)"
            ));
        }
        if st.ino != 0 && !self.dirs.insert((st.dev, st.ino)) {
            return Err(format!(
                "directory inode {} is reached twice (a directory loop)",
                st.ino
            ));
        }
        Ok(())
    }
}

/// Whose extended attributes are read.
pub(crate) enum Attrs<'a, T: Tree + ?Sized> {
    /// A directory the walk opened.
    Dir(&'a T::Dir),
    /// A name in a directory, not followed.
    At(&'a T::Dir, &'a OsStr),
    /// A regular file opened for its content.
    File(&'a T::File),
}

/// The operations the archive writer walks a tree with.
pub(crate) trait Tree {
    /// Whether the walk must guard against directory loops itself: a tree
    /// read in-process from a hostile image may have a directory inside
    /// itself, which a kernel-mounted tree never shows.
    const GUARD_LOOPS: bool;
    /// A directory being walked.
    type Dir;
    /// A regular file being read.
    type File: io::Read;
    fn stat_dir(&self, dir: &Self::Dir) -> io::Result<Meta>;
    /// The names in a directory, without `.` and `..`, sorted by bytes.
    fn names(&self, dir: &Self::Dir) -> io::Result<Vec<OsString>>;
    /// `lstat` of a name in a directory.
    fn stat_at(&self, dir: &Self::Dir, name: &OsStr) -> io::Result<Meta>;
    /// Enter a directory listed in `dir` (never through a symlink).
    fn open_dir_at(&self, dir: &Self::Dir, name: &OsStr) -> io::Result<Self::Dir>;
    fn readlink_at(&self, dir: &Self::Dir, name: &OsStr) -> io::Result<Vec<u8>>;
    /// Open a file listed as regular for its content; `None` when it no
    /// longer is one. An error says what failed (`open`, `stat`).
    fn open_file_at(
        &self,
        dir: &Self::Dir,
        name: &OsStr,
    ) -> Result<Option<Self::File>, (&'static str, io::Error)>;
    /// The attributes `keep` accepts, sorted by name.
    fn xattrs(
        &self,
        at: Attrs<'_, Self>,
        keep: &dyn Fn(&[u8]) -> bool,
    ) -> io::Result<Vec<(OsString, Vec<u8>)>>;
}

/// A kernel-mounted guest root, walked through directory descriptors.
pub(crate) struct FdTree;

impl Tree for FdTree {
    const GUARD_LOOPS: bool = false;
    type Dir = OwnedFd;
    type File = File;

    fn stat_dir(&self, dir: &OwnedFd) -> io::Result<Meta> {
        Ok(rustix::fs::fstat(dir)?.into())
    }

    fn names(&self, dir: &OwnedFd) -> io::Result<Vec<OsString>> {
        Ok(dir_names(dir.as_fd())?)
    }

    fn stat_at(&self, dir: &OwnedFd, name: &OsStr) -> io::Result<Meta> {
        Ok(rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?.into())
    }

    fn open_dir_at(&self, dir: &OwnedFd, name: &OsStr) -> io::Result<OwnedFd> {
        Ok(rustix::fs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?)
    }

    fn readlink_at(&self, dir: &OwnedFd, name: &OsStr) -> io::Result<Vec<u8>> {
        Ok(rustix::fs::readlinkat(dir, name, Vec::new())?.into_bytes())
    }

    fn open_file_at(
        &self,
        dir: &OwnedFd,
        name: &OsStr,
    ) -> Result<Option<File>, (&'static str, io::Error)> {
        // O_NONBLOCK and a second look at the type: what was a regular file
        // when listed is never opened as a FIFO or a device, should it have
        // changed.
        let fd = rustix::fs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| ("open", e.into()))?;
        let now = rustix::fs::fstat(&fd).map_err(|e| ("stat", e.into()))?;
        Ok((FileType::from_raw_mode(now.st_mode) == FileType::RegularFile).then(|| File::from(fd)))
    }

    fn xattrs(
        &self,
        at: Attrs<'_, Self>,
        keep: &dyn Fn(&[u8]) -> bool,
    ) -> io::Result<Vec<(OsString, Vec<u8>)>> {
        let target = match at {
            Attrs::Dir(d) => XattrTarget::Fd(d.as_fd()),
            Attrs::At(d, name) => XattrTarget::At(d.as_fd(), name),
            Attrs::File(f) => XattrTarget::Fd(f.as_fd()),
        };
        Ok(target.read_all(keep)?)
    }
}

/// A [`TarSource`], walked by the resolved paths of its directories.
pub(crate) struct PathTree<'s>(pub &'s dyn TarSource);

impl<'s> Tree for PathTree<'s> {
    const GUARD_LOOPS: bool = true;
    type Dir = SourceDir;
    type File = SourceFile<'s>;

    fn stat_dir(&self, dir: &SourceDir) -> io::Result<Meta> {
        self.0.lstat(&dir.0)
    }

    fn names(&self, dir: &SourceDir) -> io::Result<Vec<OsString>> {
        sorted_names(self.0, dir)
    }

    fn stat_at(&self, dir: &SourceDir, name: &OsStr) -> io::Result<Meta> {
        self.0.lstat(&dir.join(name))
    }

    // A `TarSource` does not change: what `stat_at` just said of a name (a
    // directory, a regular file) stands, with no second look as a mounted
    // tree needs.
    fn open_dir_at(&self, dir: &SourceDir, name: &OsStr) -> io::Result<SourceDir> {
        Ok(SourceDir(dir.join(name)))
    }

    fn readlink_at(&self, dir: &SourceDir, name: &OsStr) -> io::Result<Vec<u8>> {
        self.0.readlink(&dir.join(name))
    }

    fn open_file_at(
        &self,
        dir: &SourceDir,
        name: &OsStr,
    ) -> Result<Option<SourceFile<'s>>, (&'static str, io::Error)> {
        Ok(Some(SourceFile {
            src: self.0,
            path: dir.join(name),
            offset: 0,
        }))
    }

    fn xattrs(
        &self,
        _at: Attrs<'_, Self>,
        _keep: &dyn Fn(&[u8]) -> bool,
    ) -> io::Result<Vec<(OsString, Vec<u8>)>> {
        // `tar_out_source` refuses the options that would ask.
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "extended attributes are not read from this tree",
        ))
    }
}
