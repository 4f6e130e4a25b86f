//! Whether something still uses an attached device or one of its partitions,
//! so that detaching would pull the disk out from under it: a mount in this
//! mount namespace (named with its mount point), an exclusive claim by the
//! kernel (a mount in another namespace, swap, md or device-mapper), a stacked
//! device holding it (`/sys/.../holders`), or a FUSE driver (fusefat, ntfs-3g,
//! fuse2fs) serving a mount from it, found as a process that has both the node
//! and `/dev/fuse` open (fusefat's mount names no device in the mount table).
//!
//! A process that merely has the node open (a prober, `dd`) does not count: it
//! sees an I/O error, not lost data. This process's own descriptors do not
//! count either: they are the attachment's own, or the caller's to close.

use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::host::unescape_mount;

/// A device node's numbers.
type DevNo = (u32, u32);

/// Why one of `nodes` is in use, naming the first one found; `None` when
/// nothing uses any of them.
pub(crate) fn in_use(nodes: &[PathBuf]) -> Option<String> {
    in_use_why(nodes).map(|(why, _)| why)
}

/// [`in_use`], and whether the only use found is a claim by the kernel that
/// may be a passing one: a process that has just made a mount namespace of its
/// own (the `vmcraft` command line, bubblewrap) holds copies of every mount
/// until it drops them a moment later.
pub(crate) fn in_use_why(nodes: &[PathBuf]) -> Option<(String, bool)> {
    let known: Vec<(PathBuf, DevNo)> = nodes
        .iter()
        .filter_map(|n| dev_numbers(n).map(|d| (n.clone(), d)))
        .collect();
    if known.is_empty() {
        return None;
    }
    if let Some(why) = mounted_here(&known) {
        return Some((why, false));
    }
    for (node, dev) in &known {
        if let Some(h) = holders(*dev) {
            return Some((format!("{} is held by {h}", node.display()), false));
        }
    }
    if let Some(why) = fuse_driver(&known) {
        return Some((why, false));
    }
    for (node, _) in &known {
        if claimed(node) {
            return Some((
                format!(
                    "{} is claimed by the kernel (mounted in another mount namespace, or used \
                     as swap, md or device-mapper)",
                    node.display()
                ),
                true,
            ));
        }
    }
    None
}

/// The numbers of the block device node at `path`.
fn dev_numbers(path: &Path) -> Option<DevNo> {
    let m = std::fs::metadata(path).ok()?;
    m.file_type()
        .is_block_device()
        .then(|| (libc::major(m.rdev()), libc::minor(m.rdev())))
}

/// A mount of this namespace on one of the devices: by the device numbers of
/// the mount, or by its source (btrfs reports a device number of its own).
fn mounted_here(known: &[(PathBuf, DevNo)]) -> Option<String> {
    let info = std::fs::read_to_string(crate::host::OWN_MOUNTINFO).ok()?;
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(devno), Some(mp)) = (fields.get(2), fields.get(4)) else {
            continue;
        };
        let by_number = devno.split_once(':').and_then(|(a, b)| {
            let d = (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?);
            known.iter().find(|(_, k)| *k == d)
        });
        // After the optional fields: "-", the filesystem type, the source.
        let source = fields
            .iter()
            .position(|f| *f == "-")
            .and_then(|i| fields.get(i + 2))
            .map(|s| unescape_mount(s));
        let by_source = || {
            let source = Path::new(source.as_deref()?);
            if !source.starts_with("/dev/") {
                return None;
            }
            let d = dev_numbers(source)?;
            known.iter().find(|(_, k)| *k == d)
        };
        if let Some((node, _)) = by_number.or_else(by_source) {
            return Some(format!(
                "{} is mounted on {}",
                node.display(),
                unescape_mount(mp)
            ));
        }
    }
    None
}

/// The devices stacked on `dev` (device-mapper, md), by name.
fn holders(dev: DevNo) -> Option<String> {
    let dir = format!("/sys/dev/block/{}:{}/holders", dev.0, dev.1);
    let names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    (!names.is_empty()).then(|| names.join(", "))
}

/// Whether the kernel refuses an exclusive open of `node` (`O_EXCL` on a block
/// device claims it, and fails with EBUSY while a filesystem, swap, md or
/// device-mapper has it).
fn claimed(node: &Path) -> bool {
    let r = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_EXCL | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(node);
    matches!(r, Err(e) if e.raw_os_error() == Some(libc::EBUSY))
}

/// Another process with `/dev/fuse` and one of the devices open: a FUSE driver
/// serving a mount from it.
fn fuse_driver(known: &[(PathBuf, DevNo)]) -> Option<String> {
    let me = std::process::id();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let mut fuse = false;
        let mut ours: Option<&PathBuf> = None;
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            if target == Path::new("/dev/fuse") {
                fuse = true;
            } else if target.starts_with("/dev/")
                && ours.is_none()
                && let Some(d) = dev_numbers(&fd.path())
            {
                ours = known.iter().find(|(_, k)| *k == d).map(|(n, _)| n);
            }
        }
        if let (true, Some(node)) = (fuse, ours) {
            let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            return Some(format!(
                "{} is mounted through FUSE by process {pid} ({})",
                node.display(),
                comm.trim()
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_uses_what_is_not_a_device() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"x").unwrap();
        assert_eq!(in_use(&[f, dir.path().join("missing")]), None);
    }

    #[test]
    fn the_root_filesystem_s_device_is_mounted() {
        // Whatever backs / here, if it is a block device node we can name, it is
        // reported as mounted on /.
        let root = std::fs::metadata("/").unwrap();
        let want = (libc::major(root.dev()), libc::minor(root.dev()));
        let node = std::fs::read_dir("/dev")
            .unwrap()
            .flatten()
            .find_map(|e| (dev_numbers(&e.path()) == Some(want)).then(|| e.path()));
        let Some(node) = node else { return };
        let why = in_use(std::slice::from_ref(&node)).unwrap();
        assert_eq!(why, format!("{} is mounted on /", node.display()));
    }
}
