//! Delayed symlinks, as GNU tar extracts them: a symlink entry whose target is
//! absolute or has a `..` component is extracted first as a placeholder (an
//! empty regular file of mode 0, which nothing can be created through), and the
//! symlink itself is made only after every other entry, so no later entry of the
//! archive ever passes through it. (`l -> /etc` followed by `l/cron.d/x` then
//! fails on `l/cron.d/x`, `l` being a file, instead of writing the guest's
//! `/etc/cron.d/x`.)
//!
//! A placeholder is known by its inode. A hard link to it becomes a second name
//! of the same symlink; a second symlink entry of the same name is a duplicate
//! and the first is kept; a later entry of another kind that replaces it (a
//! file or a directory of the same name) wins, and the symlink is then not made;
//! all as GNU tar means it. Every name of a placeholder that the extraction
//! removes is counted, so an inode number the filesystem reuses for a new file
//! is never mistaken for a placeholder (GNU tar 1.34, which compares inode
//! numbers only, then turns the new file into the symlink).
//!
//! What is kept here grows with the archive, so the extractor counts it
//! against [`crate::limits::Held`] before each placeholder or hard link is
//! made: every name, and the bytes [`link_cost`] and [`name_cost`] say.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::target::Target;
use vmcraft_fs::root::meta::{self, Meta, Policy};

/// Whether a symlink with this target waits until the end: absolute, or with a
/// `..` component (GNU tar's rule).
pub(crate) fn must_wait(target: &[u8]) -> bool {
    target.first() == Some(&b'/') || target.split(|&b| b == b'/').any(|c| c == b"..")
}

/// The bytes a delayed symlink holds for entry `entry` with `target` and
/// `meta`, made first at `name` in `parent`.
pub(crate) fn link_cost(
    entry: &[u8],
    target: &[u8],
    meta: &Meta,
    parent: &Path,
    name: &OsStr,
) -> u64 {
    (entry.len() + target.len()) as u64 + meta.held_bytes() + name_cost(parent, name)
}

/// The bytes one name of a delayed symlink holds.
pub(crate) fn name_cost(parent: &Path, name: &OsStr) -> u64 {
    (parent.as_os_str().len() + name.len()) as u64
}

/// One delayed symlink.
struct Link {
    /// The entry's name, for messages.
    entry: Vec<u8>,
    target: Vec<u8>,
    meta: Meta,
    /// The placeholder's inode.
    id: (u64, u64),
    /// How many of its names are still there: while any is, the inode cannot be
    /// reused, so a name that stats to it is the placeholder.
    alive: usize,
    /// Its names: the parent directory (relative to the target) and the name.
    sources: Vec<(PathBuf, OsString)>,
}

/// What a delayed symlink could not become at the end.
pub(crate) enum Failure {
    /// The filesystem cannot hold a symlink (vfat): skipped, as at once.
    Cannot(Vec<u8>, Errno),
    /// Anything else: the entry, what failed, the errno.
    Error(Vec<u8>, &'static str, Errno),
}

/// The delayed symlinks of one extraction.
#[derive(Default)]
pub(crate) struct Delayed {
    links: Vec<Link>,
    /// Live placeholders by inode.
    by_inode: HashMap<(u64, u64), usize>,
}

fn id_of(st: &rustix::fs::Stat) -> (u64, u64) {
    #[allow(clippy::unnecessary_cast)]
    (st.st_dev as u64, st.st_ino as u64)
}

impl Delayed {
    /// Whether any placeholder is still there.
    pub(crate) fn is_empty(&self) -> bool {
        self.by_inode.is_empty()
    }

    /// Create the placeholder for symlink entry `entry` at `name` in `dir`
    /// (`parent` relative to the target). Fails with `EEXIST` when something is
    /// in the way, which the caller removes first.
    pub(crate) fn placeholder(
        &mut self,
        dir: &OwnedFd,
        parent: PathBuf,
        name: &OsStr,
        entry: &[u8],
        target: &[u8],
        meta: Meta,
    ) -> Result<(), Errno> {
        let fd = rustix::fs::openat(
            dir,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let id = id_of(&rustix::fs::fstat(&fd)?);
        self.by_inode.insert(id, self.links.len());
        self.links.push(Link {
            entry: entry.to_vec(),
            target: target.to_vec(),
            meta,
            id,
            alive: 1,
            sources: vec![(parent, name.to_os_string())],
        });
        Ok(())
    }

    /// The live placeholder that `st` describes, if it is one.
    pub(crate) fn find(&self, st: &rustix::fs::Stat) -> Option<usize> {
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return None;
        }
        self.by_inode.get(&id_of(st)).copied()
    }

    /// A hard link `name` in `parent` was made to placeholder `i`: one more name
    /// of the symlink.
    pub(crate) fn add_source(&mut self, i: usize, parent: PathBuf, name: &OsStr) {
        let link = &mut self.links[i];
        link.alive += 1;
        link.sources.push((parent, name.to_os_string()));
    }

    /// A name whose status is `st` was removed: if it was a placeholder's, one
    /// name fewer; the last one gone, the symlink will not be made.
    pub(crate) fn removed(&mut self, st: &rustix::fs::Stat) {
        if let Some(i) = self.find(st) {
            let link = &mut self.links[i];
            link.alive -= 1;
            if link.alive == 0 {
                self.by_inode.remove(&link.id);
            }
        }
    }

    /// Turn every placeholder still there into its symlink, in archive order;
    /// further names of one become hard links to the first (as GNU tar makes
    /// them). A name that no longer holds its placeholder is left alone.
    pub(crate) fn apply(self, target: &Target, policy: &mut Policy) -> Vec<Failure> {
        let mut failures = Vec::new();
        for link in self.links {
            if link.alive == 0 {
                continue;
            }
            let mut first: Option<(OwnedFd, OsString)> = None;
            for (parent, name) in &link.sources {
                let Ok(dir) = target.open(parent, OFlags::PATH | OFlags::DIRECTORY) else {
                    continue;
                };
                match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st)
                        if id_of(&st) == link.id
                            && FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => {}
                    _ => continue,
                }
                if let Err(e) = rustix::fs::unlinkat(&dir, name, AtFlags::empty()) {
                    failures.push(Failure::Error(link.entry.clone(), "remove placeholder", e));
                    continue;
                }
                if let Some((fdir, fname)) = &first
                    && rustix::fs::linkat(fdir, fname, &dir, name, AtFlags::empty()).is_ok()
                {
                    continue;
                }
                match rustix::fs::symlinkat(OsStr::from_bytes(&link.target), &dir, name) {
                    Ok(()) => {}
                    Err(e) if vmcraft_fs::root::meta::cannot_hold(e) => {
                        failures.push(Failure::Cannot(link.entry.clone(), e));
                        continue;
                    }
                    Err(e) => {
                        failures.push(Failure::Error(link.entry.clone(), "symlink", e));
                        continue;
                    }
                }
                if let Err((what, e)) = meta::apply(dir.as_fd(), name, &link.meta, policy) {
                    failures.push(Failure::Error(link.entry.clone(), what, e));
                }
                if first.is_none() {
                    first = Some((dir, name.clone()));
                }
            }
        }
        failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_symlinks_wait() {
        for t in ["/etc", "..", "../x", "a/../b", "a/..", "/"] {
            assert!(must_wait(t.as_bytes()), "{t}");
        }
        for t in ["etc", "a/b", "a/..b", "...", ".", "./a", "a//b"] {
            assert!(!must_wait(t.as_bytes()), "{t}");
        }
    }
}
