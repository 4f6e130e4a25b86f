//! What inspection needs of a guest filesystem, as one small read-only trait
//! ([`InspectFs`]), so the rules (release files, hostname, architecture, package
//! databases) are written once and run over any reader: today the confined host
//! view of a mounted filesystem ([`GuestRoot`]), later the in-process readers.
//!
//! Every read is bounded: a file larger than the caller's limit is not read at
//! all (it is treated as absent, as libguestfs treats a release file that is "not
//! a regular file or too large"), and directory listings are cut at a count.

use std::io::Read;

use vmcraft_fs::GuestTree;
use vmcraft_fs::root::GuestRoot;

/// Release files, os-release, hostname files: libguestfs's "small file" limit
/// (2 * 1048 * 1024 bytes).
pub(crate) const SMALL_FILE: u64 = 2 * 1048 * 1024;

/// Files libguestfs hands to Augeas (`/etc/sysconfig/network`, fstab): 100 kB.
pub(crate) const AUGEAS_FILE: u64 = 100 * 1000;

/// The kind of a directory entry, as far as inspection cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// Anything else (symlink, device, FIFO, socket, unknown).
    Other,
}

/// A file read at offsets.
pub(crate) trait RandomRead {
    /// The file's size in bytes.
    fn size(&self) -> u64;
    /// Fill `buf` from `offset`; `None` when the file is shorter or unreadable.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Option<()>;
}

impl RandomRead for std::fs::File {
    fn size(&self) -> u64 {
        self.metadata().map(|m| m.len()).unwrap_or(0)
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Option<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset).ok()
    }
}

impl RandomRead for Vec<u8> {
    fn size(&self) -> u64 {
        self.len() as u64
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Option<()> {
        let start = usize::try_from(offset).ok()?;
        let src = self.get(start..start.checked_add(buf.len())?)?;
        buf.copy_from_slice(src);
        Some(())
    }
}

/// Read-only, bounded access to one guest filesystem. Paths are absolute
/// guest paths; symlinks are resolved inside the filesystem, never on the host.
/// Every method answers "no" (`false`, `None`) for anything it cannot read.
pub(crate) trait InspectFs {
    /// The content of a regular file (symlinks followed) if it is at most
    /// `limit` bytes; `None` if it is missing, not a regular file, or larger.
    fn read_file(&self, path: &str, limit: u64) -> Option<Vec<u8>>;
    /// The first `n` bytes (or fewer) of a regular file, symlinks followed.
    fn read_head(&self, path: &str, n: usize) -> Option<Vec<u8>>;
    /// Whether `path` is a regular file (following a final symlink if `follow`).
    fn is_file(&self, path: &str, follow: bool) -> bool;
    /// Whether `path` is a directory (following a final symlink if `follow`).
    fn is_dir(&self, path: &str, follow: bool) -> bool;
    /// Whether `path` is a symbolic link.
    fn is_symlink(&self, path: &str) -> bool;
    /// The target of a symbolic link, as written.
    fn readlink(&self, path: &str) -> Option<String>;
    /// The entries of a directory (without `.` and `..`), at most `max` of them,
    /// sorted by name.
    fn read_dir(&self, path: &str, max: usize) -> Option<Vec<(String, EntryKind)>>;

    /// A regular file (symlinks followed) opened for reads at any offset, for
    /// the binary databases that are walked page by page rather than read whole.
    fn open_random(&self, path: &str) -> Option<Box<dyn RandomRead + '_>>;

    /// [`InspectFs::read_file`] as text (invalid UTF-8 replaced).
    fn read_text(&self, path: &str, limit: u64) -> Option<String> {
        self.read_file(path, limit)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }
}

impl InspectFs for GuestRoot {
    fn read_file(&self, path: &str, limit: u64) -> Option<Vec<u8>> {
        let f = self.open_read(path).ok()?;
        let len = f.metadata().ok()?.len();
        if len > limit {
            tracing::info!(path, len, limit, "guest file too large for inspection");
            return None;
        }
        let mut out = Vec::with_capacity(len as usize);
        f.take(limit + 1).read_to_end(&mut out).ok()?;
        if out.len() as u64 > limit {
            tracing::info!(path, limit, "guest file grew past the inspection limit");
            return None;
        }
        Some(out)
    }

    fn read_head(&self, path: &str, n: usize) -> Option<Vec<u8>> {
        let f = self.open_read(path).ok()?;
        let mut out = Vec::with_capacity(n);
        f.take(n as u64).read_to_end(&mut out).ok()?;
        Some(out)
    }

    fn open_random(&self, path: &str) -> Option<Box<dyn RandomRead + '_>> {
        Some(Box::new(self.open_read(path).ok()?))
    }

    fn is_file(&self, path: &str, follow: bool) -> bool {
        GuestRoot::is_file(self, path, follow).unwrap_or(false)
    }

    fn is_dir(&self, path: &str, follow: bool) -> bool {
        GuestRoot::is_dir(self, path, follow).unwrap_or(false)
    }

    fn is_symlink(&self, path: &str) -> bool {
        GuestRoot::is_symlink(self, path).unwrap_or(false)
    }

    fn readlink(&self, path: &str) -> Option<String> {
        GuestRoot::readlink(self, path).ok()
    }

    fn read_dir(&self, path: &str, max: usize) -> Option<Vec<(String, EntryKind)>> {
        let entries = self.readdir(path).ok()?;
        let mut out: Vec<(String, EntryKind)> = entries
            .into_iter()
            .filter(|e| e.name != "." && e.name != "..")
            .take(max)
            .map(|e| {
                let kind = match e.ftyp {
                    'd' => EntryKind::Dir,
                    'r' => EntryKind::File,
                    'u' => {
                        let p = join(path, &e.name);
                        if InspectFs::is_dir(self, &p, false) {
                            EntryKind::Dir
                        } else if InspectFs::is_file(self, &p, false) {
                            EntryKind::File
                        } else {
                            EntryKind::Other
                        }
                    }
                    _ => EntryKind::Other,
                };
                (e.name, kind)
            })
            .collect();
        out.sort();
        Some(out)
    }
}

/// A reader inspection can read through [`GuestTree`]: the in-process
/// readers of vmcraft-fs, and the session's in-process tree.
pub(crate) trait AsTree {
    /// The tree.
    fn as_tree(&self) -> &(dyn GuestTree + Send + Sync);
}

impl AsTree for vmcraft_fs::BoxedTree {
    fn as_tree(&self) -> &(dyn GuestTree + Send + Sync) {
        &**self
    }
}

impl AsTree for crate::inproc::Composite {
    fn as_tree(&self) -> &(dyn GuestTree + Send + Sync) {
        self
    }
}

impl<T: AsTree> InspectFs for T {
    fn read_file(&self, path: &str, limit: u64) -> Option<Vec<u8>> {
        match GuestTree::read_file(self.as_tree(), path, limit) {
            Ok(b) => Some(b),
            Err(e) => {
                if e.kind() == vmcraft_fs::ErrorKind::TooLarge {
                    tracing::info!(path, limit, "guest file too large for inspection");
                }
                None
            }
        }
    }

    fn read_head(&self, path: &str, n: usize) -> Option<Vec<u8>> {
        self.as_tree().read_range(path, 0, n as u64).ok()
    }

    fn is_file(&self, path: &str, follow: bool) -> bool {
        self.as_tree()
            .resolve(path, follow)
            .and_then(|p| self.as_tree().lstat_node(&p))
            .is_ok_and(|s| s.is_file())
    }

    fn is_dir(&self, path: &str, follow: bool) -> bool {
        self.as_tree()
            .resolve(path, follow)
            .and_then(|p| self.as_tree().lstat_node(&p))
            .is_ok_and(|s| s.is_dir())
    }

    fn is_symlink(&self, path: &str) -> bool {
        self.as_tree()
            .lstat(path)
            .is_ok_and(|s| s.file_type() == vmcraft_fs::FileType::Symlink)
    }

    fn readlink(&self, path: &str) -> Option<String> {
        GuestTree::readlink(self.as_tree(), path).ok()
    }

    fn read_dir(&self, path: &str, max: usize) -> Option<Vec<(String, EntryKind)>> {
        use vmcraft_fs::FileType as T;
        let mut out: Vec<(String, EntryKind)> = GuestTree::read_dir(self.as_tree(), path)
            .ok()?
            .into_iter()
            .map(|e| {
                let kind = match e.file_type {
                    T::Directory => EntryKind::Dir,
                    T::Regular => EntryKind::File,
                    _ => EntryKind::Other,
                };
                (e.name, kind)
            })
            .collect();
        // As the kernel path: the first `max` in directory order, sorted.
        out.truncate(max);
        out.sort();
        Some(out)
    }

    fn open_random(&self, path: &str) -> Option<Box<dyn RandomRead + '_>> {
        let resolved = self.as_tree().resolve(path, true).ok()?;
        let st = self.as_tree().lstat_node(&resolved).ok()?;
        if !st.is_file() {
            return None;
        }
        Some(Box::new(TreeFile {
            tree: self.as_tree(),
            path: resolved,
            size: st.size,
        }))
    }
}

/// A regular file of a [`GuestTree`], read at offsets.
struct TreeFile<'a> {
    tree: &'a (dyn GuestTree + Send + Sync),
    path: String,
    size: u64,
}

impl RandomRead for TreeFile<'_> {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Option<()> {
        let mut done = 0;
        while done < buf.len() {
            let n = self
                .tree
                .read_at_node(&self.path, offset + done as u64, &mut buf[done..])
                .ok()?;
            if n == 0 {
                return None;
            }
            done += n;
        }
        Some(())
    }
}

/// `dir/name` for guest paths.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// An in-memory tree for the unit tests of the rules (paths to contents; a
/// directory is any prefix of a path, or an entry ending in `/`; symlinks are
/// entries whose content starts with `->`).
#[cfg(test)]
pub(crate) mod mem {
    use super::{EntryKind, InspectFs, RandomRead};
    use std::collections::BTreeMap;

    /// The tree.
    #[derive(Default)]
    pub(crate) struct MemFs(pub BTreeMap<String, Vec<u8>>);

    impl MemFs {
        /// A tree of these files.
        pub(crate) fn new(files: &[(&str, &str)]) -> Self {
            MemFs(
                files
                    .iter()
                    .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
                    .collect(),
            )
        }

        /// The same tree with one more file of arbitrary bytes.
        pub(crate) fn add(mut self, path: &str, content: &[u8]) -> Self {
            self.0.insert(path.to_string(), content.to_vec());
            self
        }

        fn resolve(&self, path: &str) -> Option<String> {
            // Component by component, a symlink's target replacing the prefix.
            let mut todo: Vec<String> = path
                .split('/')
                .filter(|c| !c.is_empty())
                .rev()
                .map(String::from)
                .collect();
            let mut cur = String::new();
            let mut hops = 0;
            while let Some(c) = todo.pop() {
                let next = format!("{cur}/{c}");
                match self.0.get(&next) {
                    Some(t) if t.starts_with(b"->") => {
                        hops += 1;
                        if hops > 8 {
                            return None;
                        }
                        let t = String::from_utf8_lossy(&t[2..]).into_owned();
                        if t.starts_with('/') {
                            cur.clear();
                        }
                        todo.extend(
                            t.split('/')
                                .filter(|c| !c.is_empty())
                                .rev()
                                .map(String::from),
                        );
                    }
                    _ => cur = next,
                }
            }
            Some(cur)
        }
    }

    impl InspectFs for MemFs {
        fn read_file(&self, path: &str, limit: u64) -> Option<Vec<u8>> {
            let p = self.resolve(path)?;
            let c = self.0.get(&p)?;
            (!p.ends_with('/') && c.len() as u64 <= limit).then(|| c.clone())
        }
        fn read_head(&self, path: &str, n: usize) -> Option<Vec<u8>> {
            let c = self.read_file(path, u64::MAX)?;
            Some(c[..n.min(c.len())].to_vec())
        }
        fn open_random(&self, path: &str) -> Option<Box<dyn RandomRead + '_>> {
            Some(Box::new(self.read_file(path, u64::MAX)?))
        }
        fn is_file(&self, path: &str, follow: bool) -> bool {
            let p = if follow {
                match self.resolve(path) {
                    Some(p) => p,
                    None => return false,
                }
            } else {
                path.to_string()
            };
            self.0.get(&p).is_some_and(|c| !c.starts_with(b"->"))
        }
        fn is_dir(&self, path: &str, follow: bool) -> bool {
            let p = if follow {
                match self.resolve(path) {
                    Some(p) => p,
                    None => return false,
                }
            } else {
                if self.is_symlink(path) {
                    return false;
                }
                path.to_string()
            };
            let prefix = format!("{}/", p.trim_end_matches('/'));
            self.0.keys().any(|k| k.starts_with(&prefix))
        }
        fn is_symlink(&self, path: &str) -> bool {
            self.0.get(path).is_some_and(|c| c.starts_with(b"->"))
        }
        fn readlink(&self, path: &str) -> Option<String> {
            let c = self.0.get(path)?;
            c.starts_with(b"->")
                .then(|| String::from_utf8_lossy(&c[2..]).into_owned())
        }
        fn read_dir(&self, path: &str, max: usize) -> Option<Vec<(String, EntryKind)>> {
            let prefix = format!("{}/", path.trim_end_matches('/'));
            let mut names: Vec<(String, EntryKind)> = Vec::new();
            for k in self.0.keys() {
                if let Some(rest) = k.strip_prefix(&prefix) {
                    let (name, kind) = match rest.split_once('/') {
                        Some((n, _)) => (n, EntryKind::Dir),
                        None => (rest, EntryKind::File),
                    };
                    if !name.is_empty() && !names.iter().any(|(n, _)| n == name) {
                        names.push((name.to_string(), kind));
                    }
                }
            }
            names.sort();
            names.truncate(max);
            Some(names)
        }
    }
}
