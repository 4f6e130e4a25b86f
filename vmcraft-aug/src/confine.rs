//! Confinement of the worker process to the guest root.
//!
//! Augeas opens, reads, renames and writes files by path. Given a plain root
//! prefix, the host kernel resolves an absolute guest symlink
//! (`/etc/hosts -> /etc/shadow`) against the *host's* root. So the worker
//! process `chroot`s into the guest root; from then on every path Augeas
//! resolves, symlinks included, stays inside the guest. (The privileges that
//! would let it leave the chroot are dropped right after: see `sandbox`.)
//!
//! A chroot has one well-known leak: procfs magic links. `/proc/self/root` and
//! `/proc/PID/fd/N` of a process outside the chroot lead out of it. A guest
//! cannot create those itself, but a `proc` (or `sysfs`, `devtmpfs`, ...) mount
//! inside the guest root would supply them, so such a root is refused: at init,
//! and again before every load and save (the worker keeps a descriptor on its
//! mount table from before the chroot for that).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::error::{Error, ErrorKind, Result};

/// Kernel filesystems that must not be mounted inside a guest root Augeas is
/// confined to: they hold magic links (`proc`), host device nodes (`devtmpfs`),
/// or writable kernel state.
pub(crate) const KERNEL_FILESYSTEMS: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "securityfs",
    "debugfs",
    "tracefs",
    "cgroup",
    "cgroup2",
    "bpf",
    "configfs",
    "efivarfs",
    "fusectl",
    "pstore",
    "mqueue",
    "hugetlbfs",
    "binfmt_misc",
    "nsfs",
    "selinuxfs",
    "autofs",
    "rpc_pipefs",
    "nfsd",
];

/// `CAP_SYS_CHROOT`, from `linux/capability.h`.
const CAP_SYS_CHROOT: u32 = 18;

/// One line of `/proc/PID/mountinfo`, the two fields used here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    pub(crate) mount_point: PathBuf,
    pub(crate) fstype: String,
}

/// Undo the octal escapes (`\040` for a space) of a mountinfo field.
fn unescape(field: &str) -> PathBuf {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// Parse a mountinfo table; malformed lines are skipped.
pub(crate) fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = left.split(' ').nth(4)?;
            let fstype = right.split(' ').next()?;
            Some(Mount {
                mount_point: unescape(mount_point),
                fstype: fstype.to_string(),
            })
        })
        .collect()
}

/// The kernel filesystems mounted at or below `root`, deepest first.
pub(crate) fn kernel_mounts_under(mounts: &[Mount], root: &Path) -> Vec<Mount> {
    let mut found: Vec<Mount> = mounts
        .iter()
        .filter(|m| m.mount_point.starts_with(root))
        .filter(|m| KERNEL_FILESYSTEMS.contains(&m.fstype.as_str()))
        .cloned()
        .collect();
    found.sort_by_key(|m| std::cmp::Reverse(m.mount_point.components().count()));
    found.dedup();
    found
}

/// Whether the effective capability set in a `/proc/.../status` text has `cap`.
pub(crate) fn status_has_capability(status: &str, cap: u32) -> Option<bool> {
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    let mask = u64::from_str_radix(hex, 16).ok()?;
    Some(mask & (1u64 << cap) != 0)
}

/// The refusal of a root with kernel filesystems inside.
fn unsafe_root(call: &'static str, root: &Path, found: &[Mount]) -> Error {
    let list: Vec<String> = found
        .iter()
        .map(|m| format!("{} ({})", m.mount_point.display(), m.fstype))
        .collect();
    Error::new(
        ErrorKind::UnsafeRoot,
        call,
        root.display().to_string(),
        format!(
            "refusing to run augeas in a guest root with kernel filesystems mounted \
             inside it: {}; a guest symlink could reach host files through them \
             (unmount them first)",
            list.join(", ")
        ),
    )
}

/// The worker's view of the mount table, opened before the chroot so that it
/// can still be read afterwards.
#[derive(Debug)]
pub(crate) struct MountWatch {
    table: File,
    root: PathBuf,
}

impl MountWatch {
    /// Open this process's mount table; `root` must be canonical.
    pub(crate) fn open(root: &Path) -> Result<Self> {
        let table = File::open("/proc/thread-self/mountinfo").map_err(|e| {
            Error::new(
                ErrorKind::Io,
                "aug_init",
                "/proc/thread-self/mountinfo",
                "cannot read the mount table (is /proc mounted?)",
            )
            .with_source(e)
        })?;
        Ok(MountWatch {
            table,
            root: root.to_path_buf(),
        })
    }

    /// Fail with [`ErrorKind::UnsafeRoot`] if a kernel filesystem is mounted
    /// inside the root now.
    pub(crate) fn check(&mut self, call: &'static str) -> Result<()> {
        let mut text = String::new();
        self.table
            .seek(SeekFrom::Start(0))
            .and_then(|_| self.table.read_to_string(&mut text))
            .map_err(|e| {
                Error::new(ErrorKind::Io, call, "", "cannot read the mount table").with_source(e)
            })?;
        let found = kernel_mounts_under(&parse_mountinfo(&text), &self.root);
        if found.is_empty() {
            Ok(())
        } else {
            Err(unsafe_root(call, &self.root, &found))
        }
    }
}

fn permission(root: &Path, source: Option<Errno>) -> Error {
    let e = Error::new(
        ErrorKind::Permission,
        "aug_init",
        root.display().to_string(),
        "confining augeas to the guest root needs CAP_SYS_CHROOT (run as root)",
    );
    match source {
        Some(errno) => e.with_source(errno),
        None => e,
    }
}

/// Fail early, before the lenses are loaded, when this process cannot chroot
/// (the worker has the capabilities of the thread that opened the handle).
pub(crate) fn require_chroot_capability(root: &Path) -> Result<()> {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
    match status_has_capability(&status, CAP_SYS_CHROOT) {
        Some(false) => Err(permission(root, None)),
        // Unknown: let chroot itself decide.
        _ => Ok(()),
    }
}

/// Make `dir` (an open directory) this process's root and working directory.
pub(crate) fn enter_root(dir: &File, root: &Path) -> Result<()> {
    nix::unistd::fchdir(dir).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            "aug_init",
            root.display().to_string(),
            "cannot change into the guest root",
        )
        .with_source(e)
    })?;
    nix::unistd::chroot(".").map_err(|e| match e {
        Errno::EPERM => permission(root, Some(e)),
        _ => Error::new(
            ErrorKind::Io,
            "aug_init",
            root.display().to_string(),
            "chroot into the guest root failed",
        )
        .with_source(e),
    })?;
    nix::unistd::chdir("/").map_err(|e| {
        Error::new(
            ErrorKind::Io,
            "aug_init",
            root.display().to_string(),
            "cannot change to / after the chroot",
        )
        .with_source(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec shared:5 - proc proc rw
40 22 7:3 / /tmp/guest\\040root rw,nosuid,nodev - ext4 /dev/loop3 rw
41 40 0:50 / /tmp/guest\\040root/proc rw - proc proc rw
42 40 0:51 / /tmp/guest\\040root/dev rw - devtmpfs udev rw
43 42 0:52 / /tmp/guest\\040root/dev/pts rw - devpts devpts rw
44 40 7:4 / /tmp/guest\\040root/boot rw - vfat /dev/loop4 rw
45 22 0:53 / /tmp/guest\\040rootx/proc rw - proc proc rw
garbage line
";

    #[test]
    fn mountinfo_is_parsed_and_unescaped() {
        let mounts = parse_mountinfo(SAMPLE);
        assert_eq!(mounts.len(), 8);
        assert_eq!(mounts[2].mount_point, Path::new("/tmp/guest root"));
        assert_eq!(mounts[2].fstype, "ext4");
        assert_eq!(unescape("a\\011b\\134c"), Path::new("a\tb\\c"));
        assert_eq!(unescape("trailing\\04"), Path::new("trailing\\04"));
    }

    #[test]
    fn kernel_mounts_under_the_root_deepest_first() {
        let mounts = parse_mountinfo(SAMPLE);
        let found = kernel_mounts_under(&mounts, Path::new("/tmp/guest root"));
        let points: Vec<_> = found.iter().map(|m| m.mount_point.clone()).collect();
        assert_eq!(
            points,
            [
                PathBuf::from("/tmp/guest root/dev/pts"),
                PathBuf::from("/tmp/guest root/proc"),
                PathBuf::from("/tmp/guest root/dev"),
            ]
        );
        // A sibling directory sharing the prefix is not inside the root.
        assert!(kernel_mounts_under(&mounts, Path::new("/srv")).is_empty());
        // The host root itself holds /proc.
        assert_eq!(kernel_mounts_under(&mounts, Path::new("/")).len(), 5);
    }

    #[test]
    fn refusal_names_every_mount() {
        let mounts = parse_mountinfo(SAMPLE);
        let root = Path::new("/tmp/guest root");
        let e = unsafe_root("aug_save", root, &kernel_mounts_under(&mounts, root));
        assert_eq!(e.kind(), ErrorKind::UnsafeRoot);
        let msg = e.to_string();
        assert!(
            msg.starts_with("aug_save: /tmp/guest root: refusing"),
            "{msg}"
        );
        assert!(msg.contains("/tmp/guest root/proc (proc)"), "{msg}");
        assert!(msg.contains("/tmp/guest root/dev/pts (devpts)"), "{msg}");
    }

    #[test]
    fn capabilities_are_read_from_status() {
        let root = "Name:\tx\nCapEff:\t000001ffffffffff\n";
        let user = "Name:\tx\nCapEff:\t0000000000000000\n";
        let chroot_only = format!("CapEff:\t{:016x}\n", 1u64 << CAP_SYS_CHROOT);
        assert_eq!(status_has_capability(root, CAP_SYS_CHROOT), Some(true));
        assert_eq!(status_has_capability(user, CAP_SYS_CHROOT), Some(false));
        assert_eq!(
            status_has_capability(&chroot_only, CAP_SYS_CHROOT),
            Some(true)
        );
        assert_eq!(status_has_capability(&chroot_only, 21), Some(false));
        assert_eq!(status_has_capability("nothing", CAP_SYS_CHROOT), None);
    }
}
