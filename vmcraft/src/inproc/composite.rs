//! The guest tree of an in-process session: the filesystems mounted in-process
//! ([`InprocMount`]), each at its guest mount point, put together as one
//! [`GuestTree`] ([`Composite`]) as the kernel would put mounts together.
//!
//! Paths are resolved by the trait's default methods on the composite (chroot
//! semantics, symlinks followed inside the tree, at most 40 of them), so a
//! symlink on one filesystem may lead into another as in the kernel's view;
//! each node call then goes to the filesystem mounted deepest on the resolved
//! path, with the path made relative to its mount point.

use std::sync::Arc;

use vmcraft_fs::{DirEntry, FileType, GuestTree, Result, Stat, Xattr};

/// A filesystem mounted in-process.
#[derive(Clone)]
pub(crate) struct InprocMount {
    /// The device, by its canonical name.
    pub device: String,
    /// The mount point as the caller gave it (normalised), for listings.
    pub mountpoint: String,
    /// The mount point resolved inside the tree (symlinks followed), where the
    /// filesystem is seen.
    pub at: String,
    /// The filesystem type (`ext4`, `vfat`, `ntfs`).
    pub fstype: String,
    /// The options it was mounted with.
    pub options: String,
    /// The reader.
    pub tree: Arc<vmcraft_fs::BoxedTree>,
}

/// Every in-process mount of the session as one tree.
pub(crate) struct Composite {
    mounts: Vec<InprocMount>,
}

/// Whether `path` is `mp` or below it (component-wise).
pub(crate) fn is_at_or_below(path: &str, mp: &str) -> bool {
    mp == "/"
        || path == mp
        || path
            .strip_prefix(mp)
            .is_some_and(|rest| rest.starts_with('/'))
}

impl Composite {
    /// The tree of `mounts` (one of which is at `/`).
    pub(crate) fn new(mounts: Vec<InprocMount>) -> Self {
        Composite { mounts }
    }

    /// The mount a resolved path is on.
    fn mount_of(&self, path: &str) -> Option<(usize, &InprocMount)> {
        self.mounts
            .iter()
            .enumerate()
            .filter(|(_, m)| is_at_or_below(path, &m.at))
            .max_by_key(|(_, m)| m.at.len())
    }

    /// A number for the filesystem a resolved path is on (1 and up; 0 for
    /// none), as `st_dev` tells filesystems apart: one per device, however
    /// often it is mounted.
    pub(crate) fn mount_number(&self, path: &str) -> u64 {
        self.mount_of(path).map_or(0, |(_, m)| {
            let first = self.mounts.iter().position(|o| o.device == m.device);
            first.map_or(0, |i| i as u64 + 1)
        })
    }

    /// The filesystem a resolved path is on, and the path inside it.
    fn route(&self, path: &str) -> Result<(&dyn GuestTree, String)> {
        let (_, m) = self.mount_of(path).ok_or_else(|| {
            vmcraft_fs::Error::new(
                vmcraft_fs::ErrorKind::NotFound,
                "resolve",
                path,
                "nothing is mounted on /",
            )
        })?;
        let rel = if m.at == "/" {
            path.to_string()
        } else {
            let rest = &path[m.at.len()..];
            if rest.is_empty() {
                "/".to_string()
            } else {
                rest.to_string()
            }
        };
        Ok((&**m.tree, rel))
    }
}

impl GuestTree for Composite {
    fn lstat_node(&self, path: &str) -> Result<Stat> {
        let (t, p) = self.route(path)?;
        t.lstat_node(&p)
    }
    fn read_dir_node(&self, path: &str) -> Result<Vec<DirEntry>> {
        let (t, p) = self.route(path)?;
        t.read_dir_node(&p)
    }
    fn readlink_node(&self, path: &str) -> Result<String> {
        let (t, p) = self.route(path)?;
        t.readlink_node(&p)
    }
    fn read_at_node(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let (t, p) = self.route(path)?;
        t.read_at_node(&p, offset, buf)
    }
    fn file_type_node(&self, path: &str) -> Result<FileType> {
        let (t, p) = self.route(path)?;
        t.file_type_node(&p)
    }
    fn xattrs_node(&self, path: &str) -> Result<Vec<Xattr>> {
        let (t, p) = self.route(path)?;
        t.xattrs_node(&p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmcraft_fs::MemoryTree;

    fn mount(at: &str, t: MemoryTree) -> InprocMount {
        InprocMount {
            device: "/dev/sda1".into(),
            mountpoint: at.into(),
            at: at.into(),
            fstype: "ext4".into(),
            options: "ro".into(),
            tree: Arc::new(Box::new(t)),
        }
    }

    #[test]
    fn mounts_compose_and_symlinks_cross_them() {
        let mut root = MemoryTree::new();
        root.add_dir("/boot", 0o755).unwrap();
        root.add_file("/boot/hidden", 0o644, b"under").unwrap();
        root.add_symlink("/kernel", "/boot/vmlinuz").unwrap();
        let mut boot = MemoryTree::new();
        boot.add_file("/vmlinuz", 0o644, b"kernel").unwrap();
        boot.add_symlink("/up", "../../..").unwrap();
        let c = Composite::new(vec![mount("/", root), mount("/boot", boot)]);
        assert_eq!(c.read_file("/kernel", 100).unwrap(), b"kernel");
        // The mount hides what was under it, as the kernel's does.
        assert!(!c.exists("/boot/hidden").unwrap());
        let names: Vec<String> = c
            .read_dir("/boot")
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["up", "vmlinuz"]);
        // `..` from the mounted filesystem climbs into the parent one and stops at /.
        assert!(c.is_dir("/boot/up/boot").unwrap());
        assert!(is_at_or_below("/bootx", "/") && !is_at_or_below("/bootx", "/boot"));
    }
}
