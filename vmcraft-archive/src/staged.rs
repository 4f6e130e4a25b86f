//! Staged extraction: how `tar_in` checks an archive and extracts it in one
//! pass, overlapping decompression with the making of files, and still leaves
//! the target unchanged when the archive turns out bad.
//!
//! Used when the target directory is empty (the common case: unpacking into a
//! new directory). The archive is extracted into a private directory made in
//! the target ([`Stage::create`]: a random name, mode 0700), with every rule of
//! a direct extraction; since the target held nothing, what the archive makes
//! there is exactly what it would have made in the target. Once the whole
//! stream has been read and checked, each top-level entry is renamed into the
//! target ([`Stage::commit`]), which never copies data. If the archive is
//! refused, truncated, over a limit, or the call is cancelled or fails, the
//! staging directory is removed ([`Stage::discard`]) and the target's times are
//! put back, so the only trace is the target's change time.
//!
//! A name that appeared in the target meanwhile (another writer) is merged as
//! GNU tar would extract over it: directories are merged, anything else is
//! replaced, and a non-empty directory in the way of a non-directory is a
//! failure reported with the others; the archive's own metadata for a merged
//! directory is not applied then. A run killed before it ends leaves the
//! staging directory (named `.vmcraft-tar-in-…`) behind, as a killed direct
//! extraction leaves what it had made.
//!
//! Removal and merging hold one directory open at a time, whatever the depth,
//! and never follow a symlink.

use std::ffi::{OsStr, OsString};
use std::hash::BuildHasher;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{
    AtFlags, FileType, Mode, OFlags, RenameFlags, ResolveFlags, Timespec, Timestamps,
};
use rustix::io::Errno;

/// The staging directory's name starts with this.
pub(crate) const PREFIX: &str = ".vmcraft-tar-in-";

/// A name that could not be moved into place, relative to the target, and why.
pub(crate) type NotMoved = (PathBuf, &'static str, Errno);

/// The private directory an archive is extracted into before it is moved
/// into the target.
pub(crate) struct Stage {
    /// The target directory (`O_PATH`).
    target: OwnedFd,
    /// The staging directory's name in the target.
    name: OsString,
    /// The staging directory (`O_PATH`).
    dir: OwnedFd,
    /// The target's access and modification times before the stage was made.
    times: Timestamps,
}

/// `statfs`'s type of a FUSE filesystem.
const FUSE_SUPER_MAGIC: u64 = 0x6573_5546;

/// Whether an archive may be staged in the directory behind `dir`: it is
/// empty, and not on a FUSE filesystem, whose drivers do not all rename a
/// directory into another with its contents (fusefat does not).
pub(crate) fn can_stage(dir: BorrowedFd<'_>) -> Result<bool, Errno> {
    if rustix::fs::fstatfs(dir)?.f_type as u64 == FUSE_SUPER_MAGIC {
        return Ok(false);
    }
    is_empty(dir)
}

/// Whether the directory behind `dir` (any descriptor on it) has no entries.
pub(crate) fn is_empty(dir: BorrowedFd<'_>) -> Result<bool, Errno> {
    let fd = rustix::fs::openat(
        dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    for entry in rustix::fs::Dir::read_from(&fd)? {
        let name = entry?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A name no archive can aim at: the process id and 64 random bits.
fn stage_name() -> OsString {
    let random = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
    OsString::from(format!("{PREFIX}{}-{random:016x}", std::process::id()))
}

impl Stage {
    /// Make the staging directory in `target` (an `O_PATH` descriptor on the
    /// target directory).
    pub(crate) fn create(target: BorrowedFd<'_>) -> Result<Stage, Errno> {
        let st = rustix::fs::fstat(target)?;
        let times = Timestamps {
            last_access: Timespec {
                tv_sec: st.st_atime,
                tv_nsec: st.st_atime_nsec as _,
            },
            last_modification: Timespec {
                tv_sec: st.st_mtime,
                tv_nsec: st.st_mtime_nsec as _,
            },
        };
        let target = rustix::io::fcntl_dupfd_cloexec(target, 0)?;
        let mut tries = 0;
        let name = loop {
            let name = stage_name();
            match rustix::fs::mkdirat(&target, &name, Mode::from_raw_mode(0o700)) {
                Ok(()) => break name,
                Err(Errno::EXIST) if tries < 8 => tries += 1,
                Err(e) => return Err(e),
            }
        };
        let dir = rustix::fs::openat(
            &target,
            &name,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        );
        match dir {
            Ok(dir) => Ok(Stage {
                target,
                name,
                dir,
                times,
            }),
            Err(e) => {
                let _ = rustix::fs::unlinkat(&target, &name, AtFlags::REMOVEDIR);
                Err(e)
            }
        }
    }

    /// The staging directory (`O_PATH`), to extract into.
    pub(crate) fn dir(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }

    /// Move everything staged into the target, then remove the staging
    /// directory. Returns the names that could not be moved (already in the
    /// target and not replaceable, or refused by the filesystem); the
    /// extraction reports them as failures. Nothing is removed recursively
    /// here: what could not be moved stays in the staging directory, which
    /// then stays too, and the failure says so.
    pub(crate) fn commit(self) -> Vec<NotMoved> {
        let mut failed = Vec::new();
        // Directories present on both sides, relative to both roots; those
        // merged, to remove (empty) afterwards.
        let mut both = vec![PathBuf::new()];
        let mut merged = Vec::new();
        while let Some(rel) = both.pop() {
            let from = match beneath(self.dir.as_fd(), &rel, OFlags::RDONLY | OFlags::DIRECTORY) {
                Ok(fd) => fd,
                Err(e) => {
                    failed.push((rel, "reading the staged directory", e));
                    continue;
                }
            };
            let to = match beneath(self.target.as_fd(), &rel, OFlags::PATH | OFlags::DIRECTORY) {
                Ok(fd) => fd,
                Err(e) => {
                    failed.push((rel, "opening the directory to move into", e));
                    continue;
                }
            };
            let names = match vmcraft_fs::root::walk::dir_names(from.as_fd()) {
                Ok(names) => names,
                Err(e) => {
                    failed.push((rel, "reading the staged directory", e));
                    continue;
                }
            };
            for name in names {
                let path = rel.join(&name);
                match move_one(from.as_fd(), to.as_fd(), &name) {
                    Ok(Moved::Done) => {}
                    Ok(Moved::Merge) => {
                        merged.push(path.clone());
                        both.push(path);
                    }
                    Err((what, e)) => failed.push((path, what, e)),
                }
            }
        }
        // The husks of merged directories, deepest first, then the stage.
        merged.sort_by_key(|p: &PathBuf| std::cmp::Reverse(p.components().count()));
        for rel in merged {
            let up = rel.parent().unwrap_or(Path::new(""));
            let last = rel.file_name().unwrap_or(rel.as_os_str());
            let gone = beneath(self.dir.as_fd(), up, OFlags::PATH | OFlags::DIRECTORY)
                .and_then(|dir| rustix::fs::unlinkat(&dir, last, AtFlags::REMOVEDIR));
            if let Err(e) = gone {
                failed.push((rel, "left in the staging directory", e));
            }
        }
        if let Err(e) = rustix::fs::unlinkat(&self.target, &self.name, AtFlags::REMOVEDIR) {
            failed.push((
                PathBuf::from(&self.name),
                "the staging directory stays, with what could not be moved",
                e,
            ));
        }
        failed
    }

    /// Remove the staging directory and everything in it, and put the
    /// target's access and modification times back.
    pub(crate) fn discard(self) {
        if let Err(e) = remove_all(self.target.as_fd(), &self.name) {
            tracing::warn!(name = %Path::new(&self.name).display(), error = %e,
                "tar_in: the staging directory of a refused archive could not be removed");
            return;
        }
        let proc = format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&self.target)
        );
        if let Err(e) = rustix::fs::utimensat(
            rustix::fs::CWD,
            proc.as_str(),
            &self.times,
            AtFlags::empty(),
        ) {
            tracing::debug!(error = %e, "tar_in: the target's times could not be put back");
        }
    }
}

/// What [`move_one`] did.
enum Moved {
    /// Moved (or replaced what was there).
    Done,
    /// Both sides are directories: merge what is inside.
    Merge,
}

/// Rename `name` from `from` into `to` unless `to` has it (`EEXIST`). A
/// filesystem that does not know `RENAME_NOREPLACE` (some FUSE drivers answer
/// `EINVAL`) gets a look first, then a plain rename.
fn rename_new(from: BorrowedFd<'_>, to: BorrowedFd<'_>, name: &OsStr) -> Result<(), Errno> {
    match rustix::fs::renameat_with(from, name, to, name, RenameFlags::NOREPLACE) {
        Err(Errno::INVAL) => match rustix::fs::statat(to, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(_) => Err(Errno::EXIST),
            Err(Errno::NOENT) => rustix::fs::renameat(from, name, to, name),
            Err(e) => Err(e),
        },
        other => other,
    }
}

/// Move `name` from the staged directory `from` into `to`.
fn move_one(
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    name: &OsStr,
) -> Result<Moved, (&'static str, Errno)> {
    let moving = "moving into place";
    match rename_new(from, to, name) {
        Ok(()) => return Ok(Moved::Done),
        Err(Errno::EXIST) => {}
        Err(e) => return Err((moving, e)),
    }
    let kind = |dir: BorrowedFd<'_>| {
        rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
            .map(|st| FileType::from_raw_mode(st.st_mode))
            .map_err(|e| (moving, e))
    };
    let staged_dir = kind(from)? == FileType::Directory;
    let there_dir = kind(to)? == FileType::Directory;
    match (staged_dir, there_dir) {
        (true, true) => Ok(Moved::Merge),
        // A non-directory in the way is replaced, as GNU tar replaces it.
        (false, false) => rustix::fs::renameat(from, name, to, name)
            .map(|()| Moved::Done)
            .map_err(|e| (moving, e)),
        (true, false) => {
            rustix::fs::unlinkat(to, name, AtFlags::empty()).map_err(|e| (moving, e))?;
            rename_new(from, to, name)
                .map(|()| Moved::Done)
                .map_err(|e| (moving, e))
        }
        // An empty directory gives way; one with something in it does not.
        (false, true) => {
            rustix::fs::unlinkat(to, name, AtFlags::REMOVEDIR)
                .map_err(|e| ("a directory is in the way", e))?;
            rename_new(from, to, name)
                .map(|()| Moved::Done)
                .map_err(|e| (moving, e))
        }
    }
}

/// Open `rel` below `dir` (empty for `dir` itself), through directories only:
/// no symlink, no `..`, no other filesystem.
fn beneath(dir: BorrowedFd<'_>, rel: &Path, flags: OFlags) -> Result<OwnedFd, Errno> {
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    rustix::fs::openat2(
        dir,
        rel,
        flags | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_XDEV,
    )
}

/// Remove the directory `name` in `parent` and everything below it, holding
/// one directory open at a time and following no symlink.
pub(crate) fn remove_all(parent: BorrowedFd<'_>, name: &OsStr) -> Result<(), Errno> {
    let top = rustix::fs::openat(
        parent,
        name,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    // Directories relative to `top`, and whether their children are queued.
    let mut stack: Vec<(PathBuf, bool)> = vec![(PathBuf::new(), false)];
    while let Some((rel, expanded)) = stack.pop() {
        if expanded {
            if rel.as_os_str().is_empty() {
                rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR)?;
            } else {
                let up = rel.parent().unwrap_or(Path::new(""));
                let last = rel.file_name().unwrap_or(rel.as_os_str());
                let dir = beneath(top.as_fd(), up, OFlags::PATH | OFlags::DIRECTORY)?;
                rustix::fs::unlinkat(&dir, last, AtFlags::REMOVEDIR)?;
            }
            continue;
        }
        let dir = beneath(top.as_fd(), &rel, OFlags::RDONLY | OFlags::DIRECTORY)?;
        stack.push((rel.clone(), true));
        for child in vmcraft_fs::root::walk::dir_names(dir.as_fd())? {
            match rustix::fs::unlinkat(&dir, &child, AtFlags::empty()) {
                Ok(()) => {}
                Err(Errno::ISDIR | Errno::PERM) => {
                    let st = rustix::fs::statat(&dir, &child, AtFlags::SYMLINK_NOFOLLOW)?;
                    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                        return Err(Errno::PERM);
                    }
                    stack.push((rel.join(&child), false));
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    fn dir_fd(p: &Path) -> OwnedFd {
        rustix::fs::open(p, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap()
    }

    fn names(p: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_deep_tree_is_removed_one_directory_at_a_time() {
        let t = tempfile::tempdir().unwrap();
        let mut p = t.path().join("top");
        std::fs::create_dir(&p).unwrap();
        let top = p.clone();
        for i in 0..300 {
            p.push("d");
            std::fs::create_dir(&p).unwrap();
            std::fs::write(p.join(format!("f{i}")), b"x").unwrap();
        }
        // A symlink out of the tree is removed, not followed.
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("keep"), b"k").unwrap();
        std::os::unix::fs::symlink(&outside, top.join("link")).unwrap();
        remove_all(dir_fd(t.path()).as_fd(), OsStr::new("top")).unwrap();
        assert!(!top.exists());
        assert_eq!(std::fs::read(outside.join("keep")).unwrap(), b"k");
    }

    #[test]
    fn commit_moves_everything_and_merges_what_appeared_meanwhile() {
        // (`.vmcraft-...` sorts before the lower-case names below.)
        let t = tempfile::tempdir().unwrap();
        let target = dir_fd(t.path());
        let stage = Stage::create(target.as_fd()).unwrap();
        let staged = t.path().join(&stage.name);
        assert!(stage.name.as_bytes().starts_with(PREFIX.as_bytes()));
        std::fs::create_dir_all(staged.join("etc/app")).unwrap();
        std::fs::write(staged.join("etc/app/conf"), b"new").unwrap();
        std::fs::write(staged.join("file"), b"new").unwrap();
        std::fs::write(staged.join("busy"), b"new").unwrap();
        std::fs::create_dir(staged.join("was-file")).unwrap();
        // Meanwhile, in the target: a directory to merge, a file to replace, a
        // non-empty directory in the way of a file, a file in the way of a
        // directory.
        std::fs::create_dir_all(t.path().join("etc/other")).unwrap();
        std::fs::write(t.path().join("file"), b"old").unwrap();
        std::fs::create_dir_all(t.path().join("busy/x")).unwrap();
        std::fs::write(t.path().join("was-file"), b"old").unwrap();
        let name = stage.name.to_string_lossy().into_owned();
        let failed = stage.commit();
        // What could not be moved stays in the stage, which stays too.
        assert_eq!(failed.len(), 2, "{failed:?}");
        assert_eq!(failed[0].0, PathBuf::from("busy"));
        assert_eq!(failed[1].0, PathBuf::from(&name));
        assert_eq!(names(&t.path().join(&name)), ["busy"]);
        assert_eq!(
            names(t.path()),
            [name.as_str(), "busy", "etc", "file", "was-file"]
        );
        assert_eq!(names(&t.path().join("etc")), ["app", "other"]);
        assert_eq!(
            std::fs::read(t.path().join("etc/app/conf")).unwrap(),
            b"new"
        );
        assert_eq!(std::fs::read(t.path().join("file")).unwrap(), b"new");
        assert!(t.path().join("was-file").is_dir());
        assert!(t.path().join("busy/x").is_dir());
    }

    #[test]
    fn discard_leaves_the_target_as_it_was() {
        let t = tempfile::tempdir().unwrap();
        let before = std::fs::metadata(t.path()).unwrap();
        let target = dir_fd(t.path());
        let stage = Stage::create(target.as_fd()).unwrap();
        std::fs::create_dir_all(t.path().join(&stage.name).join("a/b")).unwrap();
        std::fs::write(t.path().join(&stage.name).join("a/b/c"), b"x").unwrap();
        assert!(!is_empty(target.as_fd()).unwrap());
        stage.discard();
        assert!(is_empty(target.as_fd()).unwrap());
        let after = std::fs::metadata(t.path()).unwrap();
        assert_eq!(after.modified().unwrap(), before.modified().unwrap());
    }
}
