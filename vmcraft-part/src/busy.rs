//! Whether the kernel would refuse to drop a partition: BLKPG_DEL_PARTITION
//! fails with EBUSY while anything at all has the partition open, exclusively
//! or not. So before a table is written, every partition the kernel would have
//! to drop is looked at for each kind of opener this host can name:
//!
//! - an exclusive claim (a mount in any namespace, swap, md, device-mapper):
//!   an `O_EXCL` open fails with EBUSY;
//! - a device stacked on it (`/sys/dev/block/M:m/holders`);
//! - a loop device whose backing file it is (`/sys/block/loop*/loop/backing_file`);
//! - a process with it open, this one included (`/proc/*/fd`): a prober, `dd`,
//!   a FUSE driver serving a mount from it (fusefat opens the node without a
//!   claim).
//!
//! What cannot be seen from here (an opener that comes after the look) is met
//! by the caller putting the old table back when the kernel refuses a step.

use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// A block device's numbers.
type DevNo = (u32, u32);

fn dev_numbers(path: &Path) -> Option<DevNo> {
    let m = std::fs::metadata(path).ok()?;
    m.file_type()
        .is_block_device()
        .then(|| (libc::major(m.rdev()), libc::minor(m.rdev())))
}

/// What holds the block device `node` open, in words, or `None` when nothing
/// this host can see does (or `node` is not a block device).
pub(crate) fn holder(node: &Path) -> Option<String> {
    let dev = dev_numbers(node)?;
    if claimed(node) {
        return Some("mounted, or claimed by swap, md or device-mapper".to_string());
    }
    if let Some(h) = holders(dev) {
        return Some(format!("held by {h}"));
    }
    if let Some(lo) = loop_over(dev) {
        return Some(format!("the backing device of {lo}"));
    }
    process_with_open(dev)
}

/// Whether an exclusive open of `node` fails with EBUSY.
fn claimed(node: &Path) -> bool {
    let r = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_EXCL | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(node);
    matches!(r, Err(e) if e.raw_os_error() == Some(libc::EBUSY))
}

/// The devices stacked on `dev`, by name.
fn holders(dev: DevNo) -> Option<String> {
    let dir = format!("/sys/dev/block/{}:{}/holders", dev.0, dev.1);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    (!names.is_empty()).then(|| names.join(", "))
}

/// A loop device whose backing file is `dev`, as `/dev/loopN`.
fn loop_over(dev: DevNo) -> Option<String> {
    for entry in std::fs::read_dir("/sys/block").ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("loop") {
            continue;
        }
        let Ok(backing) = std::fs::read_to_string(entry.path().join("loop/backing_file")) else {
            continue;
        };
        let backing = backing.trim_end_matches('\n');
        if dev_numbers(Path::new(backing)) == Some(dev) {
            return Some(format!("/dev/{name}"));
        }
    }
    None
}

/// A process with a descriptor open on `dev`: "held open by process N (comm)".
fn process_with_open(dev: DevNo) -> Option<String> {
    let me = std::process::id();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        // Only descriptors on /dev are looked at: a stat through any other
        // (a file on a FUSE mount, maybe served by a stuck daemon) could hang.
        let open = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|t| t.starts_with("/dev/"))
                && dev_numbers(&fd.path()) == Some(dev)
        });
        if open {
            let who = if pid == me {
                "this process".to_string()
            } else {
                std::fs::read_to_string(entry.path().join("comm"))
                    .map(|c| c.trim().to_string())
                    .unwrap_or_default()
            };
            return Some(format!("held open by process {pid} ({who})"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_a_block_device_has_no_holder() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"x").unwrap();
        assert_eq!(holder(&f), None);
        assert_eq!(holder(&dir.path().join("missing")), None);
    }
}
