//! [`MemoryTree`]: a guest tree held in memory, for examples and for tests of
//! code written against [`GuestTree`].

use std::collections::BTreeMap;

use crate::error::{Error, ErrorKind, Result};
use crate::stat::{DirEntry, FileType, Stat, Xattr};
use crate::tree::GuestTree;

#[derive(Debug, Clone)]
struct Node {
    stat: Stat,
    data: Vec<u8>,
    xattrs: Vec<Xattr>,
}

/// A guest tree in memory: directories, regular files, symlinks and extended
/// attributes added by path, read through [`GuestTree`] like any image.
///
/// ```
/// # fn main() -> vmcraft_fs::Result<()> {
/// use vmcraft_fs::{GuestTree, MemoryTree};
/// let mut tree = MemoryTree::new();
/// tree.add_file("/a", 0o600, b"data")?;
/// tree.set_xattr("/a", "user.k", b"v")?;
/// assert_eq!(tree.getxattr("/a", "user.k")?, b"v");
/// assert_eq!(tree.stat("/a")?.perm(), 0o600);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct MemoryTree {
    nodes: BTreeMap<String, Node>,
    next_ino: u64,
}

impl Default for MemoryTree {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryTree {
    /// A tree holding only `/` (mode 0755, owned by root).
    pub fn new() -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            "/".to_string(),
            Node {
                stat: Stat {
                    ino: Some(2),
                    mode: 0o040755,
                    nlink: Some(2),
                    ..Stat::default()
                },
                data: Vec::new(),
                xattrs: Vec::new(),
            },
        );
        MemoryTree { nodes, next_ino: 3 }
    }

    fn add(&mut self, path: &str, ftype: FileType, perm: u32, data: &[u8]) -> Result<()> {
        let (parent, name) = match path.rsplit_once('/') {
            Some((p, n)) if path.starts_with('/') && !n.is_empty() && n != "." && n != ".." => {
                (if p.is_empty() { "/" } else { p }, n)
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "memory_tree",
                    path,
                    "not an absolute path naming an entry",
                ));
            }
        };
        let _ = name;
        match self.nodes.get(parent) {
            Some(n) if n.stat.is_dir() => {}
            _ => {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    "memory_tree",
                    path,
                    "parent is not a directory",
                ));
            }
        }
        if self.nodes.contains_key(path) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "memory_tree",
                path,
                "exists",
            ));
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(
            path.to_string(),
            Node {
                stat: Stat {
                    ino: Some(ino),
                    mode: ftype.mode_bits() | (perm & 0o7777),
                    nlink: Some(if ftype == FileType::Directory { 2 } else { 1 }),
                    size: data.len() as u64,
                    blocks: Some((data.len() as u64).div_ceil(512)),
                    ..Stat::default()
                },
                data: data.to_vec(),
                xattrs: Vec::new(),
            },
        );
        Ok(())
    }

    /// Add a directory; its parent must exist.
    pub fn add_dir(&mut self, path: &str, perm: u32) -> Result<()> {
        self.add(path, FileType::Directory, perm, b"")
    }

    /// Add a regular file with `data`; its parent must exist.
    pub fn add_file(&mut self, path: &str, perm: u32, data: &[u8]) -> Result<()> {
        self.add(path, FileType::Regular, perm, data)
    }

    /// Add a symlink to `target` (stored as given, not resolved).
    pub fn add_symlink(&mut self, path: &str, target: &str) -> Result<()> {
        self.add(path, FileType::Symlink, 0o777, target.as_bytes())
    }

    /// Set an extended attribute on an existing path (not following symlinks).
    pub fn set_xattr(&mut self, path: &str, name: &str, value: &[u8]) -> Result<()> {
        let node = self
            .nodes
            .get_mut(path)
            .ok_or_else(|| not_found("set_xattr", path))?;
        node.xattrs.retain(|x| x.name != name);
        node.xattrs.push(Xattr {
            name: name.to_string(),
            value: value.to_vec(),
        });
        Ok(())
    }

    fn node(&self, path: &str) -> Result<&Node> {
        self.nodes.get(path).ok_or_else(|| not_found("lstat", path))
    }
}

fn not_found(call: &'static str, path: &str) -> Error {
    Error::new(ErrorKind::NotFound, call, path, "no such file or directory")
}

impl GuestTree for MemoryTree {
    fn lstat_node(&self, path: &str) -> Result<Stat> {
        Ok(self.node(path)?.stat)
    }

    fn read_dir_node(&self, path: &str) -> Result<Vec<DirEntry>> {
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        Ok(self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| k.len() > prefix.len() && !k[prefix.len()..].contains('/'))
            .map(|(k, n)| DirEntry::new(&k[prefix.len()..], n.stat.file_type()))
            .collect())
    }

    fn readlink_node(&self, path: &str) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.node(path)?.data).into_owned())
    }

    fn read_at_node(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let data = &self.node(path)?.data;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }

    fn xattrs_node(&self, path: &str) -> Result<Vec<Xattr>> {
        Ok(self.node(path)?.xattrs.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> MemoryTree {
        let mut t = MemoryTree::new();
        t.add_dir("/etc", 0o755).unwrap();
        t.add_file("/etc/passwd", 0o644, b"root:x:0:0::/root:/bin/sh\n")
            .unwrap();
        t.add_symlink("/abs", "/etc").unwrap();
        t.add_symlink("/rel", "etc/passwd").unwrap();
        t.add_symlink("/dotdot", "../../../../etc/passwd").unwrap();
        t.add_symlink("/a", "/b").unwrap();
        t.add_symlink("/b", "/a").unwrap();
        t.add_symlink("/dangling", "/nowhere").unwrap();
        t.add_symlink("/empty", "").unwrap();
        t
    }

    #[test]
    fn chroot_resolution() {
        let t = tree();
        assert_eq!(t.resolve("/", true).unwrap(), "/");
        assert_eq!(t.resolve("", true).unwrap(), "/");
        assert_eq!(t.resolve("/..", true).unwrap(), "/");
        assert_eq!(
            t.resolve("/../../etc/./passwd", true).unwrap(),
            "/etc/passwd"
        );
        assert_eq!(t.resolve("/abs/passwd", true).unwrap(), "/etc/passwd");
        assert_eq!(t.resolve("/abs", false).unwrap(), "/abs");
        assert_eq!(t.resolve("/abs", true).unwrap(), "/etc");
        assert_eq!(t.resolve("/abs/", false).unwrap(), "/etc");
        assert_eq!(t.resolve("/rel", true).unwrap(), "/etc/passwd");
        assert_eq!(t.resolve("/dotdot", true).unwrap(), "/etc/passwd");
        assert_eq!(t.resolve("etc//passwd", true).unwrap(), "/etc/passwd");
        assert_eq!(t.read_file("/dotdot", 100).unwrap().len(), 26);
    }

    #[test]
    fn resolution_errors() {
        let t = tree();
        assert_eq!(t.stat("/a").unwrap_err().kind(), ErrorKind::Loop);
        assert_eq!(t.lstat("/a").unwrap().file_type(), FileType::Symlink);
        assert_eq!(t.stat("/a/x").unwrap_err().kind(), ErrorKind::Loop);
        assert_eq!(t.stat("/dangling").unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(t.stat("/empty").unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(
            t.stat("/etc/passwd/x").unwrap_err().kind(),
            ErrorKind::NotADirectory
        );
        assert_eq!(
            t.stat("/etc/passwd/").unwrap_err().kind(),
            ErrorKind::NotADirectory
        );
        assert_eq!(
            t.read_file("/etc", 10).unwrap_err().kind(),
            ErrorKind::IsADirectory
        );
        assert_eq!(
            t.read_file("/etc/passwd", 10).unwrap_err().kind(),
            ErrorKind::TooLarge
        );
        assert_eq!(
            t.readlink("/etc").unwrap_err().kind(),
            ErrorKind::NotASymlink
        );
        assert_eq!(
            t.read_dir("/etc/passwd").unwrap_err().kind(),
            ErrorKind::NotADirectory
        );
        let long = "/x".repeat(3000);
        assert_eq!(
            t.stat(&long).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
        assert!(!t.exists("/dangling").unwrap());
        assert!(!t.is_file("/etc/passwd/x").unwrap());
        assert!(t.is_symlink("/dangling").unwrap());
        let err = t.stat("/nope").unwrap_err();
        assert_eq!(err.to_string(), "stat: /nope: no such file or directory");
    }

    #[test]
    fn chain_of_forty_links_resolves_forty_one_does_not() {
        let mut t = MemoryTree::new();
        t.add_file("/f", 0o644, b"x").unwrap();
        t.add_symlink("/l0", "/f").unwrap();
        for i in 1..=40 {
            t.add_symlink(&format!("/l{i}"), &format!("/l{}", i - 1))
                .unwrap();
        }
        assert_eq!(t.read_file("/l39", 10).unwrap(), b"x");
        assert_eq!(t.read_file("/l40", 10).unwrap_err().kind(), ErrorKind::Loop);
    }

    #[test]
    fn ranges() {
        let t = tree();
        assert_eq!(t.read_range("/etc/passwd", 5, 1).unwrap(), b"x");
        assert_eq!(
            t.read_range("/etc/passwd", 20, 100).unwrap(),
            b"/bin/sh\n"[2..]
        );
        assert!(t.read_range("/etc/passwd", 1000, 100).unwrap().is_empty());
    }
}
