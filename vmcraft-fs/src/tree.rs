//! [`GuestTree`]: the one read-only trait every guest filesystem answers, whether
//! it is read in-process from an image or mounted by the kernel, and the path
//! resolution with chroot semantics its default methods share.
//!
//! A reader implements four *node* methods that take a resolved path (absolute,
//! normalised, every parent a real directory, never `.` or `..`); everything a
//! caller uses (`stat`, `lstat`, `read_dir`, `read_file`, `read_range`,
//! `readlink`, `getxattr`, `is_dir`, ...) is a default method that first
//! resolves the guest path inside the tree: `..` at the root stays at the root,
//! a symlink (absolute or relative) resolves inside the tree, and at most
//! [`MAX_SYMLINKS`] symlinks are followed in one resolution (`ELOOP` after, as
//! Linux). So no reader can be made to leave its image, and no guest path can
//! make resolution run forever.

use crate::error::{Error, ErrorKind, Result};
use crate::stat::{DirEntry, FileType, Stat, Xattr};

/// How many symbolic links one path resolution follows before it fails with
/// [`ErrorKind::Loop`] (Linux's limit, 40).
pub const MAX_SYMLINKS: usize = 40;

/// The longest path resolution works with, in bytes (Linux's `PATH_MAX`); a
/// longer guest path, or a symlink target that makes one, is refused.
pub const PATH_MAX: usize = 4096;

/// A guest's filesystem tree, read-only.
///
/// Four required methods, the *node* methods, act on a path that is already
/// resolved (see the module docs); a reader may assume that every parent of it
/// is a directory and that it holds no `.`, `..` or empty component. The
/// default methods are what callers use: they take any guest path (`/etc/fstab`,
/// `etc/../etc/fstab`, a path through symlinks) and resolve it inside the tree
/// with chroot semantics first. Implementations may override them when they
/// have a faster way with the same answers (the kernel-mounted root does).
///
/// ```
/// # fn main() -> vmcraft_fs::Result<()> {
/// use vmcraft_fs::{GuestTree, MemoryTree, FileType};
/// let mut tree = MemoryTree::new();
/// tree.add_dir("/etc", 0o755)?;
/// tree.add_file("/etc/hostname", 0o644, b"guest\n")?;
/// tree.add_symlink("/etc/name", "/etc/hostname")?;
/// tree.add_symlink("/up", "../../../etc")?;
///
/// assert_eq!(tree.read_file("/etc/name", 1024)?, b"guest\n");
/// assert_eq!(tree.read_file("/up/hostname", 1024)?, b"guest\n"); // `..` stops at /
/// assert_eq!(tree.lstat("/etc/name")?.file_type(), FileType::Symlink);
/// assert_eq!(tree.readlink("/etc/name")?, "/etc/hostname");
/// let names: Vec<_> = tree.read_dir("/etc")?.into_iter().map(|e| e.name).collect();
/// assert_eq!(names, ["hostname", "name"]);
/// # Ok(()) }
/// ```
pub trait GuestTree {
    /// `lstat` of a resolved path.
    fn lstat_node(&self, path: &str) -> Result<Stat>;

    /// The entries of the resolved directory `path` (no `.` and `..`), in any
    /// order.
    fn read_dir_node(&self, path: &str) -> Result<Vec<DirEntry>>;

    /// The target of the resolved symlink `path`, as stored.
    fn readlink_node(&self, path: &str) -> Result<String>;

    /// Read from the resolved regular file `path` at `offset` into `buf`;
    /// returns how many bytes were read, fewer than `buf.len()` only at the end
    /// of the file.
    fn read_at_node(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize>;

    /// The type of the resolved path, for path resolution, which needs no more
    /// of its parents. The default takes it from [`GuestTree::lstat_node`];
    /// readers for which a full `lstat` costs more override it.
    fn file_type_node(&self, path: &str) -> Result<FileType> {
        Ok(self.lstat_node(path)?.file_type())
    }

    /// The extended attributes of the resolved path (not following a final
    /// symlink). The default: none, for formats that have none.
    fn xattrs_node(&self, path: &str) -> Result<Vec<Xattr>> {
        let _ = path;
        Ok(Vec::new())
    }

    /// Resolve a guest path inside the tree with chroot semantics, following a
    /// final symlink when `follow` is set; returns the resolved path (`/` or
    /// `/a/b`), which names an existing file unless the final component is
    /// missing (then [`ErrorKind::NotFound`]).
    ///
    /// ```
    /// # fn main() -> vmcraft_fs::Result<()> {
    /// use vmcraft_fs::{GuestTree, MemoryTree, ErrorKind};
    /// let mut tree = MemoryTree::new();
    /// tree.add_dir("/usr", 0o755)?;
    /// tree.add_dir("/usr/lib", 0o755)?;
    /// tree.add_symlink("/lib", "usr/lib")?;
    /// tree.add_symlink("/loop", "/loop")?;
    /// assert_eq!(tree.resolve("/lib/../lib", true)?, "/usr/lib");
    /// assert_eq!(tree.resolve("/../../lib", false)?, "/lib");
    /// assert_eq!(tree.resolve("/loop", true).unwrap_err().kind(), ErrorKind::Loop);
    /// # Ok(()) }
    /// ```
    fn resolve(&self, path: &str, follow: bool) -> Result<String> {
        resolve_in(self, "resolve", path, follow)
    }

    /// `stat(2)`: the file a path names, following a final symlink.
    fn stat(&self, path: &str) -> Result<Stat> {
        let p = resolve_in(self, "stat", path, true)?;
        self.lstat_node(&p).map_err(|e| e.with_call("stat"))
    }

    /// `lstat(2)`: the file a path names, a final symlink itself.
    fn lstat(&self, path: &str) -> Result<Stat> {
        let p = resolve_in(self, "lstat", path, false)?;
        self.lstat_node(&p).map_err(|e| e.with_call("lstat"))
    }

    /// The entries of a directory (following symlinks), sorted by name.
    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let p = resolve_in(self, "read_dir", path, true)?;
        let st = self.lstat_node(&p)?;
        if !st.is_dir() {
            return Err(Error::new(
                ErrorKind::NotADirectory,
                "read_dir",
                path,
                "not a directory",
            ));
        }
        let mut entries = self
            .read_dir_node(&p)
            .map_err(|e| e.with_call("read_dir"))?;
        entries.sort();
        Ok(entries)
    }

    /// The target of a symlink (not resolved).
    fn readlink(&self, path: &str) -> Result<String> {
        let p = resolve_in(self, "readlink", path, false)?;
        let st = self.lstat_node(&p)?;
        if !st.is_symlink() {
            return Err(Error::new(
                ErrorKind::NotASymlink,
                "readlink",
                path,
                "not a symbolic link",
            ));
        }
        self.readlink_node(&p).map_err(|e| e.with_call("readlink"))
    }

    /// The whole content of a regular file (following symlinks), refused with
    /// [`ErrorKind::TooLarge`] when the file is larger than `limit` bytes,
    /// before anything is allocated.
    fn read_file(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
        let (p, st) = regular_file(self, "read_file", path)?;
        if st.size > limit {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "read_file",
                path,
                format!("file is {} bytes, more than the limit of {limit}", st.size),
            ));
        }
        read_exact_range(self, "read_file", path, &p, 0, st.size)
    }

    /// `count` bytes of a regular file from `offset` (fewer at the end of the
    /// file, none past it), as libguestfs's `pread`. The caller's `count` is
    /// what is allocated, at most.
    fn read_range(&self, path: &str, offset: u64, count: u64) -> Result<Vec<u8>> {
        let (p, st) = regular_file(self, "read_range", path)?;
        let len = st.size.saturating_sub(offset).min(count);
        read_exact_range(self, "read_range", path, &p, offset, len)
    }

    /// The extended attributes of a file (a final symlink itself, as
    /// `lgetxattrs`), sorted by name.
    fn lgetxattrs(&self, path: &str) -> Result<Vec<Xattr>> {
        let p = resolve_in(self, "lgetxattrs", path, false)?;
        let mut x = self
            .xattrs_node(&p)
            .map_err(|e| e.with_call("lgetxattrs"))?;
        x.sort();
        Ok(x)
    }

    /// The extended attributes of a file, following a final symlink.
    fn getxattrs(&self, path: &str) -> Result<Vec<Xattr>> {
        let p = resolve_in(self, "getxattrs", path, true)?;
        let mut x = self.xattrs_node(&p).map_err(|e| e.with_call("getxattrs"))?;
        x.sort();
        Ok(x)
    }

    /// One extended attribute's value (following a final symlink);
    /// [`ErrorKind::NoAttribute`] when the file has no such attribute.
    fn getxattr(&self, path: &str, name: &str) -> Result<Vec<u8>> {
        self.getxattrs(path)?
            .into_iter()
            .find(|x| x.name == name)
            .map(|x| x.value)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NoAttribute,
                    "getxattr",
                    path,
                    format!("{name}: no such attribute"),
                )
            })
    }

    /// Whether the path names anything (following symlinks, as libguestfs's
    /// `exists`); a dangling symlink does not exist.
    fn exists(&self, path: &str) -> Result<bool> {
        absent_is_false(self.stat(path).map(|_| true))
    }

    /// Whether the path names a regular file (following symlinks).
    fn is_file(&self, path: &str) -> Result<bool> {
        absent_is_false(self.stat(path).map(|s| s.is_file()))
    }

    /// Whether the path names a directory (following symlinks).
    fn is_dir(&self, path: &str) -> Result<bool> {
        absent_is_false(self.stat(path).map(|s| s.is_dir()))
    }

    /// Whether the path is a symlink itself.
    fn is_symlink(&self, path: &str) -> Result<bool> {
        absent_is_false(self.lstat(path).map(|s| s.is_symlink()))
    }
}

/// libguestfs's `is-*` answer false for a missing path (or a missing parent).
fn absent_is_false(r: Result<bool>) -> Result<bool> {
    match r {
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Ok(false),
        other => other,
    }
}

fn regular_file<T: GuestTree + ?Sized>(
    tree: &T,
    call: &'static str,
    path: &str,
) -> Result<(String, Stat)> {
    let p = resolve_in(tree, call, path, true)?;
    let st = tree.lstat_node(&p).map_err(|e| e.with_call(call))?;
    match st.file_type() {
        FileType::Regular => Ok((p, st)),
        FileType::Directory => Err(Error::new(
            ErrorKind::IsADirectory,
            call,
            path,
            "is a directory",
        )),
        _ => Err(Error::new(
            ErrorKind::NotARegularFile,
            call,
            path,
            "not a regular file",
        )),
    }
}

fn read_exact_range<T: GuestTree + ?Sized>(
    tree: &T,
    call: &'static str,
    path: &str,
    resolved: &str,
    offset: u64,
    len: u64,
) -> Result<Vec<u8>> {
    let len = usize::try_from(len)
        .map_err(|_| Error::new(ErrorKind::TooLarge, call, path, "larger than memory"))?;
    let mut buf = Vec::new();
    buf.try_reserve_exact(len).map_err(|_| {
        Error::new(
            ErrorKind::TooLarge,
            call,
            path,
            format!("cannot allocate {len} bytes"),
        )
    })?;
    buf.resize(len, 0);
    let mut done = 0;
    while done < len {
        let n = tree
            .read_at_node(resolved, offset + done as u64, &mut buf[done..])
            .map_err(|e| e.with_call(call).with_subject(path))?;
        if n == 0 {
            return Err(Error::corrupt(
                call,
                path,
                format!(
                    "file ends at {} bytes, its size says {}",
                    offset + done as u64,
                    offset + len as u64
                ),
            ));
        }
        done += n;
    }
    Ok(buf)
}

/// Resolve `path` in `tree` with chroot semantics (see [`GuestTree::resolve`]).
pub(crate) fn resolve_in<T: GuestTree + ?Sized>(
    tree: &T,
    call: &'static str,
    path: &str,
    follow: bool,
) -> Result<String> {
    if path.len() > PATH_MAX {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            call,
            "",
            format!("path of {} bytes is longer than {PATH_MAX}", path.len()),
        ));
    }
    if path.contains('\0') {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            call,
            path,
            "path contains a NUL byte",
        ));
    }
    // A trailing slash asks for a directory, through a final symlink.
    let want_dir = path.ends_with('/') && !path.trim_matches('/').is_empty();
    let follow = follow || want_dir;

    // Components still to walk, last first (so the next one pops off the end).
    let mut pending: Vec<String> = components(path).rev().map(str::to_owned).collect();
    let mut stack: Vec<String> = Vec::new();
    let mut links = 0usize;
    while let Some(c) = pending.pop() {
        if c == ".." {
            stack.pop();
            continue;
        }
        stack.push(c);
        let cur = join(&stack);
        let last = pending.is_empty();
        let ftype = match tree.file_type_node(&cur) {
            Ok(t) => t,
            Err(e) => return Err(e.with_call(call).with_subject(path)),
        };
        match ftype {
            FileType::Symlink if !last || follow => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Error::new(
                        ErrorKind::Loop,
                        call,
                        path,
                        "too many levels of symbolic links",
                    ));
                }
                let target = tree
                    .readlink_node(&cur)
                    .map_err(|e| e.with_call(call).with_subject(path))?;
                if target.is_empty() {
                    return Err(Error::new(
                        ErrorKind::NotFound,
                        call,
                        path,
                        "empty symbolic link",
                    ));
                }
                stack.pop();
                if target.starts_with('/') {
                    stack.clear();
                }
                let left: usize = pending.iter().map(|s| s.len() + 1).sum();
                if left + target.len() > PATH_MAX {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        call,
                        path,
                        "symbolic links make the path longer than PATH_MAX",
                    ));
                }
                pending.extend(components(&target).rev().map(str::to_owned));
            }
            FileType::Directory => {}
            _ if !last => {
                return Err(Error::new(
                    ErrorKind::NotADirectory,
                    call,
                    path,
                    "not a directory",
                ));
            }
            _ if want_dir => {
                return Err(Error::new(
                    ErrorKind::NotADirectory,
                    call,
                    path,
                    "not a directory",
                ));
            }
            _ => {}
        }
    }
    Ok(join(&stack))
}

/// The components of a path that move (no empty ones, no `.`).
fn components(path: &str) -> impl DoubleEndedIterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty() && *c != ".")
}

fn join(stack: &[String]) -> String {
    if stack.is_empty() {
        return "/".to_string();
    }
    let mut s = String::new();
    for c in stack {
        s.push('/');
        s.push_str(c);
    }
    s
}

/// Limits of [`walk`]: how deep and how many entries, so that a directory loop
/// or a huge tree in a hostile image ends the walk with an error instead of
/// running forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkLimits {
    /// Deepest directory level descended into (the root is level 0).
    pub max_depth: usize,
    /// Most entries visited in all.
    pub max_entries: usize,
}

impl Default for WalkLimits {
    fn default() -> Self {
        WalkLimits {
            max_depth: 256,
            max_entries: 1_000_000,
        }
    }
}

/// Walk the tree under `dir` depth-first without following symlinks, calling
/// `visit` with each path (`dir` first) and its `lstat`, parents before
/// children, each directory's entries in name order. Fails with
/// [`ErrorKind::TooLarge`] when [`WalkLimits`] are passed (a directory loop in
/// a damaged image is one way to get there). An error from `visit` stops the
/// walk.
///
/// ```
/// # fn main() -> vmcraft_fs::Result<()> {
/// use vmcraft_fs::{walk, GuestTree, MemoryTree, WalkLimits};
/// let mut tree = MemoryTree::new();
/// tree.add_dir("/etc", 0o755)?;
/// tree.add_file("/etc/motd", 0o644, b"hi")?;
/// let mut seen = Vec::new();
/// walk(&tree, "/", WalkLimits::default(), &mut |p, st| {
///     seen.push((p.to_string(), st.size));
///     Ok(())
/// })?;
/// assert_eq!(seen[2], ("/etc/motd".to_string(), 2));
/// # Ok(()) }
/// ```
pub fn walk<T: GuestTree + ?Sized>(
    tree: &T,
    dir: &str,
    limits: WalkLimits,
    visit: &mut dyn FnMut(&str, &Stat) -> Result<()>,
) -> Result<()> {
    let start = tree.resolve(dir, true)?;
    let st = tree.lstat_node(&start)?;
    let mut count = 0usize;
    visit(&start, &st)?;
    if st.is_dir() {
        walk_dir(tree, &start, 1, limits, &mut count, visit)?;
    }
    Ok(())
}

fn walk_dir<T: GuestTree + ?Sized>(
    tree: &T,
    dir: &str,
    depth: usize,
    limits: WalkLimits,
    count: &mut usize,
    visit: &mut dyn FnMut(&str, &Stat) -> Result<()>,
) -> Result<()> {
    if depth > limits.max_depth {
        return Err(Error::new(
            ErrorKind::TooLarge,
            "walk",
            dir,
            format!(
                "deeper than {} levels (a directory loop?)",
                limits.max_depth
            ),
        ));
    }
    let mut entries = tree.read_dir_node(dir)?;
    entries.sort();
    for e in entries {
        *count += 1;
        if *count > limits.max_entries {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "walk",
                dir,
                format!("more than {} entries", limits.max_entries),
            ));
        }
        if e.name.is_empty() || e.name == "." || e.name == ".." || e.name.contains('/') {
            return Err(Error::corrupt(
                "walk",
                dir,
                format!("invalid entry name {:?}", e.name),
            ));
        }
        let path = if dir == "/" {
            format!("/{}", e.name)
        } else {
            format!("{dir}/{}", e.name)
        };
        let st = tree.lstat_node(&path)?;
        visit(&path, &st)?;
        if st.is_dir() {
            walk_dir(tree, &path, depth + 1, limits, count, visit)?;
        }
    }
    Ok(())
}

macro_rules! forward_guest_tree {
    ($($ty:ty),*) => {$(
        impl<T: GuestTree + ?Sized> GuestTree for $ty {
            fn lstat_node(&self, path: &str) -> Result<Stat> { (**self).lstat_node(path) }
            fn read_dir_node(&self, path: &str) -> Result<Vec<DirEntry>> { (**self).read_dir_node(path) }
            fn readlink_node(&self, path: &str) -> Result<String> { (**self).readlink_node(path) }
            fn read_at_node(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
                (**self).read_at_node(path, offset, buf)
            }
            fn xattrs_node(&self, path: &str) -> Result<Vec<Xattr>> { (**self).xattrs_node(path) }
            fn file_type_node(&self, path: &str) -> Result<FileType> { (**self).file_type_node(path) }
            fn resolve(&self, path: &str, follow: bool) -> Result<String> { (**self).resolve(path, follow) }
            fn stat(&self, path: &str) -> Result<Stat> { (**self).stat(path) }
            fn lstat(&self, path: &str) -> Result<Stat> { (**self).lstat(path) }
            fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>> { (**self).read_dir(path) }
            fn readlink(&self, path: &str) -> Result<String> { (**self).readlink(path) }
            fn read_file(&self, path: &str, limit: u64) -> Result<Vec<u8>> { (**self).read_file(path, limit) }
            fn read_range(&self, path: &str, offset: u64, count: u64) -> Result<Vec<u8>> {
                (**self).read_range(path, offset, count)
            }
            fn lgetxattrs(&self, path: &str) -> Result<Vec<Xattr>> { (**self).lgetxattrs(path) }
            fn getxattrs(&self, path: &str) -> Result<Vec<Xattr>> { (**self).getxattrs(path) }
        }
    )*};
}

forward_guest_tree!(&T, Box<T>, std::sync::Arc<T>);
