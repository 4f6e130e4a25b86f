//! Staged extraction: how `tar_in` checks an archive and extracts it in one
//! pass, overlapping decompression with the making of files, and still leaves
//! the target unchanged when the archive turns out bad.
//!
//! Used when the target directory exists, is empty and is not on FUSE
//! ([`can_stage`]). The archive is extracted into a private directory made in
//! the target ([`Stage::create`]: a random name, mode 0700), with every rule of
//! a direct extraction; since the target held nothing, what the archive makes
//! there is exactly what it would have made in the target. Once the whole
//! stream has been read and checked, each top-level entry is renamed into the
//! target ([`Stage::commit`]), which never copies data. If the archive is
//! refused (an unsafe entry, a corrupt or truncated stream) or the call is
//! cancelled, the staging directory is removed ([`Stage::discard`]) and the
//! target's times are put back, so the only trace is the target's change
//! time. A failure to make an entry (the disk full, a limit) is not the
//! archive's: `tar_in` stops making entries, reads and checks the rest, and
//! commits what was made when the archive is good, as a direct extraction
//! keeps what it made.
//!
//! A name that appeared in the target meanwhile (another writer) is merged as
//! GNU tar would extract over it: directories are merged, anything else is
//! replaced, and a non-empty directory in the way of a non-directory is a
//! failure reported with the others; the archive's own metadata for a merged
//! directory is not applied then. Nothing is removed recursively after the
//! move: what could not be moved stays in the stage, which then stays too. A
//! run killed before it ends leaves the staging directory (named
//! `.vmcraft-tar-in-…`) behind, as a killed direct extraction leaves what it
//! had made.
//!
//! Moving and removing never follow a symlink, read names in batches (memory
//! bounded whatever a directory holds), and [`remove_all`] keeps two
//! directories open whatever the depth: a directory that is not empty is first
//! renamed to a holding directory at the top of the tree, so no path grows
//! with the depth the archive built (its own relative symlinks can make a tree
//! deeper than any path the kernel takes).

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::hash::BuildHasher;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{
    AtFlags, FileType, Mode, OFlags, RenameFlags, ResolveFlags, Timespec, Timestamps,
};
use rustix::io::Errno;

/// The staging directory's name starts with this.
pub(crate) const PREFIX: &str = ".vmcraft-tar-in-";

/// The most names read from a directory at once.
const BATCH: usize = 4096;

/// `statfs`'s type of a FUSE filesystem.
const FUSE_SUPER_MAGIC: u64 = 0x6573_5546;

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
    /// The target's access and modification times before anything looked.
    times: Timestamps,
}

/// The access and modification times of the directory behind `dir` when an
/// archive may be staged in it: it is empty, and not on a FUSE filesystem,
/// whose drivers do not all rename a directory into another with its
/// contents (fusefat does not). The times are read before the directory is
/// (reading it may change its access time), for [`Stage::discard`].
pub(crate) fn can_stage(dir: BorrowedFd<'_>) -> Result<Option<Timestamps>, Errno> {
    if rustix::fs::fstatfs(dir)?.f_type as u64 == FUSE_SUPER_MAGIC {
        return Ok(None);
    }
    let st = rustix::fs::fstat(dir)?;
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
    Ok(is_empty(dir)?.then_some(times))
}

/// Whether the directory behind `dir` (any descriptor on it) has no entries.
pub(crate) fn is_empty(dir: BorrowedFd<'_>) -> Result<bool, Errno> {
    Ok(names(dir, 1, |_| true)?.is_empty())
}

/// Up to `max` names of the directory behind `dir` (any descriptor on it),
/// without `.` and `..`, those `keep` accepts.
fn names(
    dir: BorrowedFd<'_>,
    max: usize,
    keep: impl Fn(&OsStr) -> bool,
) -> Result<Vec<OsString>, Errno> {
    let fd = rustix::fs::openat(
        dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut out = Vec::new();
    for entry in rustix::fs::Dir::read_from(&fd)? {
        let entry = entry?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name == "." || name == ".." || !keep(name) {
            continue;
        }
        out.push(name.to_os_string());
        if out.len() == max {
            break;
        }
    }
    Ok(out)
}

/// A name no archive can aim at: the process id and 64 random bits.
fn random_name(prefix: &str) -> OsString {
    let random = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
    OsString::from(format!("{prefix}{}-{random:016x}", std::process::id()))
}

impl Stage {
    /// Make the staging directory in `target` (an `O_PATH` descriptor on the
    /// target directory), whose times were `times` ([`can_stage`]).
    pub(crate) fn create(target: BorrowedFd<'_>, times: Timestamps) -> Result<Stage, Errno> {
        let target = rustix::io::fcntl_dupfd_cloexec(target, 0)?;
        let mut tries = 0;
        let name = loop {
            let name = random_name(PREFIX);
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
            let from = match beneath(self.dir.as_fd(), &rel, OFlags::PATH | OFlags::DIRECTORY) {
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
            // Names that stay (merged later, or not movable) are not read
            // again; each batch moves the rest.
            let mut stay: HashSet<OsString> = HashSet::new();
            loop {
                let batch = match names(from.as_fd(), BATCH, |n| !stay.contains(n)) {
                    Ok(batch) => batch,
                    Err(e) => {
                        failed.push((rel.clone(), "reading the staged directory", e));
                        break;
                    }
                };
                if batch.is_empty() {
                    break;
                }
                for name in batch {
                    let path = rel.join(&name);
                    match move_one(from.as_fd(), to.as_fd(), &name) {
                        Ok(Moved::Done) => {}
                        Ok(Moved::Merge) => {
                            merged.push(path.clone());
                            both.push(path);
                            stay.insert(name);
                        }
                        Err((what, e)) => {
                            failed.push((path, what, e));
                            stay.insert(name);
                        }
                    }
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
    /// target's access and modification times back. An error says what
    /// stays.
    pub(crate) fn discard(self) -> Result<(), String> {
        if let Err(e) = remove_all(self.target.as_fd(), &self.name) {
            return Err(format!(
                "the staging directory {} could not be removed ({})",
                Path::new(&self.name).display(),
                std::io::Error::from(e)
            ));
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
        Ok(())
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

/// Open the directory `name` in `dir`, not following a symlink.
fn subdir(dir: BorrowedFd<'_>, name: &OsStr) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Remove the directory `name` in `parent` and everything below it, following
/// no symlink. Whatever the depth, two directories are open at a time and no
/// path is longer than one name: a subdirectory that is not empty is renamed
/// into a holding directory made at the top (under a number), and emptied
/// from there.
pub(crate) fn remove_all(parent: BorrowedFd<'_>, name: &OsStr) -> Result<(), Errno> {
    let top = subdir(parent, name)?;
    let holding_name = random_name(".vmcraft-removing-");
    rustix::fs::mkdirat(&top, &holding_name, Mode::from_raw_mode(0o700))?;
    let holding = subdir(top.as_fd(), &holding_name)?;
    let mut next: u64 = 0;
    // Directories in `holding` still to empty, by number.
    let mut pending: Vec<u64> = Vec::new();
    empty(
        top.as_fd(),
        Some(&holding_name),
        holding.as_fd(),
        &mut next,
        &mut pending,
    )?;
    while let Some(n) = pending.pop() {
        let numbered = OsString::from(n.to_string());
        let dir = subdir(holding.as_fd(), &numbered)?;
        empty(dir.as_fd(), None, holding.as_fd(), &mut next, &mut pending)?;
        drop(dir);
        rustix::fs::unlinkat(&holding, &numbered, AtFlags::REMOVEDIR)?;
    }
    drop(holding);
    rustix::fs::unlinkat(&top, &holding_name, AtFlags::REMOVEDIR)?;
    drop(top);
    rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR)
}

/// Empty the directory `dir` (but for `skip`): unlink what is not a
/// directory, remove empty directories, and move the others into `holding`
/// under the next number, queued in `pending`.
fn empty(
    dir: BorrowedFd<'_>,
    skip: Option<&OsStr>,
    holding: BorrowedFd<'_>,
    next: &mut u64,
    pending: &mut Vec<u64>,
) -> Result<(), Errno> {
    loop {
        let batch = names(dir, BATCH, |n| Some(n) != skip)?;
        if batch.is_empty() {
            return Ok(());
        }
        for child in batch {
            match rustix::fs::unlinkat(dir, &child, AtFlags::empty()) {
                Ok(()) => continue,
                Err(Errno::ISDIR | Errno::PERM) => {}
                Err(e) => return Err(e),
            }
            let st = rustix::fs::statat(dir, &child, AtFlags::SYMLINK_NOFOLLOW)?;
            if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                return Err(Errno::PERM);
            }
            match rustix::fs::unlinkat(dir, &child, AtFlags::REMOVEDIR) {
                Ok(()) => {}
                Err(Errno::NOTEMPTY | Errno::EXIST) => {
                    let numbered = OsString::from(next.to_string());
                    rustix::fs::renameat(dir, &child, holding, &numbered)?;
                    pending.push(*next);
                    *next += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_tree_deeper_than_any_path_is_removed() {
        let t = tempfile::tempdir().unwrap();
        let top = t.path().join("top");
        std::fs::create_dir(&top).unwrap();
        // 1500 levels of "dd/": 4500 bytes, more than the kernel takes in a
        // path; made one level at a time.
        let mut dir = dir_fd(&top);
        for i in 0..1500 {
            rustix::fs::mkdirat(&dir, "dd", Mode::from_raw_mode(0o755)).unwrap();
            if i % 100 == 0 {
                let f = rustix::fs::openat(
                    &dir,
                    "f",
                    OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o644),
                )
                .unwrap();
                drop(f);
            }
            dir = subdir(dir.as_fd(), OsStr::new("dd")).unwrap();
        }
        drop(dir);
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
        let times = can_stage(target.as_fd()).unwrap().unwrap();
        let stage = Stage::create(target.as_fd(), times).unwrap();
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
        let times = can_stage(target.as_fd()).unwrap().unwrap();
        let stage = Stage::create(target.as_fd(), times).unwrap();
        std::fs::create_dir_all(t.path().join(&stage.name).join("a/b")).unwrap();
        std::fs::write(t.path().join(&stage.name).join("a/b/c"), b"x").unwrap();
        assert!(!is_empty(target.as_fd()).unwrap());
        stage.discard().unwrap();
        assert!(is_empty(target.as_fd()).unwrap());
        let after = std::fs::metadata(t.path()).unwrap();
        assert_eq!(after.modified().unwrap(), before.modified().unwrap());
    }
}
