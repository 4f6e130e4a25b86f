//! Confinement of the worker process to the guest root.
//!
//! Augeas opens, reads, renames and writes files by path. Given a plain root
//! prefix, the host kernel resolves an absolute guest symlink
//! (`/etc/hosts -> /etc/shadow`) against the *host's* root. So the worker
//! process `chroot`s into the guest root; from then on every path Augeas
//! resolves, symlinks included, stays inside the guest. (The privileges that
//! would let it leave the chroot are dropped right after: see `sandbox`.)
//!
//! What a path resolves to can still be dangerous inside the guest:
//!
//! - **Device nodes.** A guest `/etc/fstab` that is a block device with a host
//!   disk's numbers would have Augeas read that disk, or write it on save. The
//!   worker first makes itself a detached copy of the guest's mounts on which
//!   every mount is `nodev` ([`crate::mounttree`]) and chroots into that;
//!   without `CAP_SYS_ADMIN` for the copy (or on a kernel without
//!   `mount_setattr`), it chroots into the caller's own mounts, which must
//!   then be `nodev`: [`isolate_mounts`] checks them in the mount table and
//!   refuses a root on which a device node could be opened.
//! - **Kernel filesystems.** A chroot has one well-known leak: procfs magic
//!   links. `/proc/self/root` and `/proc/PID/fd/N` of a process outside the
//!   chroot lead out of it. A guest cannot create those itself, but a `proc`
//!   (or `sysfs`, `devtmpfs`, ...) mount inside the guest root (or one that
//!   holds it) would supply them, so such a root is refused (checked in the
//!   caller's mount table, right after the copy is made: the copy holds what
//!   the table showed).
//!
//! Both are checked at init. The copy cannot change afterwards: its mounts
//! are private, so what the host mounts or unmounts later does not propagate
//! into it, and the worker itself can no longer mount (no `CAP_SYS_ADMIN`,
//! and the seccomp filter). Without a copy, the worker shares the caller's
//! mounts, and the checks run again before every load and save, on a
//! descriptor of its mount table opened before the chroot ([`MountWatch`]).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::error::{Error, ErrorKind, Result};
use crate::mounts::{self, Mount};
use crate::mounttree;

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

/// The kernel filesystems mounted at or below `root`, deepest first. Hidden
/// mounts count too: a path walk cannot reach them, but refusing them is
/// cheap and they are never there in practice.
pub(crate) fn kernel_mounts_under(mounts: &[Mount], root: &Path) -> Vec<Mount> {
    let mut found: Vec<Mount> = mounts
        .iter()
        .filter(|m| m.mount_point.starts_with(root))
        .filter(|m| KERNEL_FILESYSTEMS.contains(&m.fstype.as_str()))
        .cloned()
        .collect();
    // Deepest first; a mount and its copy (a bind of the root over it) once.
    found.sort_by(|a, b| {
        let depth = |m: &Mount| m.mount_point.components().count();
        depth(b)
            .cmp(&depth(a))
            .then_with(|| a.mount_point.cmp(&b.mount_point))
    });
    found.dedup_by(|a, b| a.mount_point == b.mount_point && a.fstype == b.fstype);
    found
}

/// The mounts a process confined to `root` reaches on which device nodes can
/// be opened (no `nodev`); `None` when the table does not show the mount that
/// holds `root`.
pub(crate) fn device_mounts(mounts: &[Mount], root: &Path) -> Option<Vec<Mount>> {
    let reached = mounts::reachable_from(mounts, root)?;
    Some(
        reached
            .into_iter()
            .filter(|m| !m.is_nodev())
            .cloned()
            .collect(),
    )
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

/// The refusal of a root with kernel filesystems inside (or holding it).
fn kernel_fs_root(call: &'static str, root: &Path, found: &[Mount]) -> Error {
    let list: Vec<String> = found.iter().map(Mount::describe).collect();
    Error::new(
        ErrorKind::UnsafeRoot,
        call,
        root.display().to_string(),
        format!(
            "refusing to run augeas in a guest root with kernel filesystems mounted \
             in or over it: {}; a guest symlink could reach host files through them \
             (unmount them first)",
            list.join(", ")
        ),
    )
}

/// The refusal of a root on which device nodes could be opened. `why` says
/// why the worker could not make a `nodev` copy of the mounts itself.
fn device_root(call: &'static str, root: &Path, found: &[Mount], why: &str) -> Error {
    let list: Vec<String> = found.iter().map(Mount::describe).collect();
    Error::new(
        ErrorKind::UnsafeRoot,
        call,
        root.display().to_string(),
        format!(
            "refusing to run augeas in a guest root where device nodes can be opened: \
             {} not mounted nodev, and the augeas worker could not make a nodev copy \
             of the guest's mounts ({why}); a guest device node would let augeas \
             read or write a host device (mount the guest with nodev, or open the \
             handle with CAP_SYS_ADMIN)",
            list.join(", "),
        ),
    )
}

/// Check a mount table for what a guest root must not have: kernel
/// filesystems inside it, and, when the worker has no `nodev` copy of the
/// mounts (`no_copy` says why), mounts it reaches without `nodev`.
fn check_table(call: &'static str, text: &str, root: &Path, no_copy: Option<&str>) -> Result<()> {
    let mounts = mounts::parse_mountinfo(text);
    let mut kernel = kernel_mounts_under(&mounts, root);
    // And the mount that holds the root (a root of /proc/1 would hold the
    // magic links itself).
    for m in mounts::reachable_from(&mounts, root).unwrap_or_default() {
        if KERNEL_FILESYSTEMS.contains(&m.fstype.as_str()) && !kernel.contains(m) {
            kernel.push(m.clone());
        }
    }
    if !kernel.is_empty() {
        return Err(kernel_fs_root(call, root, &kernel));
    }
    let Some(found) = device_mounts(&mounts, root) else {
        return Err(Error::new(
            ErrorKind::UnsafeRoot,
            call,
            root.display().to_string(),
            "refusing to run augeas in a guest root whose mount the mount table does not show",
        ));
    };
    match no_copy {
        Some(why) if !found.is_empty() => Err(device_root(call, root, &found, why)),
        _ => Ok(()),
    }
}

/// How the worker keeps its mounts safe after init.
#[derive(Debug)]
pub(crate) enum MountWatch {
    /// The worker's locked-down copy of the guest's mounts
    /// ([`mounttree::copy`]): checked at init, and nothing can change it
    /// afterwards (see the module docs), so there is nothing to watch. The
    /// descriptor holds the copy: it stays open for the worker's life.
    Copy(OwnedFd),
    /// The caller's own mounts: the table (opened before the chroot, so that
    /// it can still be read afterwards) is checked again before every load
    /// and save.
    Shared {
        table: File,
        root: PathBuf,
        /// Why the worker has no copy of its own.
        why: String,
    },
}

impl MountWatch {
    /// Fail with [`ErrorKind::UnsafeRoot`] if, now, a kernel filesystem is
    /// mounted inside the root or a mount it reaches lacks `nodev`.
    pub(crate) fn check(&mut self, call: &'static str) -> Result<()> {
        let MountWatch::Shared { table, root, why } = self else {
            return Ok(());
        };
        let mut text = String::new();
        table
            .seek(SeekFrom::Start(0))
            .and_then(|_| table.read_to_string(&mut text))
            .map_err(|e| {
                Error::new(ErrorKind::Io, call, "", "cannot read the mount table").with_source(e)
            })?;
        check_table(call, &text, root, Some(why))
    }
}

/// Make the worker's `nodev` copy of the mounts `root` (canonical) reaches
/// ([`mounttree::copy`]), then check the caller's mount table:
/// [`ErrorKind::UnsafeRoot`] for a kernel filesystem inside the root, or,
/// when there is no copy, for a mount the root reaches without `nodev`. Runs
/// before the chroot.
pub(crate) fn isolate_mounts(root: &Path) -> Result<MountWatch> {
    let copy = mounttree::copy(root);
    let mut table = File::open("/proc/thread-self/mountinfo").map_err(|e| {
        Error::new(
            ErrorKind::Io,
            "aug_init",
            "/proc/thread-self/mountinfo",
            "cannot read the mount table (is /proc mounted?)",
        )
        .with_source(e)
    })?;
    let mut text = String::new();
    table.read_to_string(&mut text).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            "aug_init",
            "/proc/thread-self/mountinfo",
            "cannot read the mount table",
        )
        .with_source(e)
    })?;
    match copy {
        Ok(tree) => {
            check_table("aug_init", &text, root, None)?;
            Ok(MountWatch::Copy(tree))
        }
        Err(why) => {
            check_table("aug_init", &text, root, Some(&why))?;
            Ok(MountWatch::Shared {
                table,
                root: root.to_path_buf(),
                why,
            })
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

/// Make the guest root this process's root and working directory: the
/// worker's copy of the guest's mounts if it has one, else `root` itself
/// (`fchdir`, then `chroot(".")`).
pub(crate) fn enter_root(watch: &MountWatch, root: &Path) -> Result<()> {
    let io = |what: &str, e: Errno| {
        Error::new(ErrorKind::Io, "aug_init", root.display().to_string(), what).with_source(e)
    };
    match watch {
        MountWatch::Copy(tree) => nix::unistd::fchdir(tree),
        MountWatch::Shared { .. } => {
            let dir = File::open(root).map_err(|e| {
                Error::new(
                    ErrorKind::Io,
                    "aug_init",
                    root.display().to_string(),
                    "cannot open the guest root",
                )
                .with_source(e)
            })?;
            nix::unistd::fchdir(&dir)
        }
    }
    .map_err(|e| io("cannot change into the guest root", e))?;
    nix::unistd::chroot(".").map_err(|e| match e {
        Errno::EPERM => permission(root, Some(e)),
        _ => io("chroot into the guest root failed", e),
    })?;
    nix::unistd::chdir("/").map_err(|e| io("cannot change to / after the chroot", e))
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
46 40 7:5 / /tmp/guest\\040root/srv rw,nodev - xfs /dev/loop5 rw
garbage line
";

    #[test]
    fn kernel_mounts_under_the_root_deepest_first() {
        let mounts = mounts::parse_mountinfo(SAMPLE);
        let found = kernel_mounts_under(&mounts, Path::new("/tmp/guest root"));
        let points: Vec<_> = found.iter().map(|m| m.mount_point.clone()).collect();
        assert_eq!(
            points,
            [
                PathBuf::from("/tmp/guest root/dev/pts"),
                PathBuf::from("/tmp/guest root/dev"),
                PathBuf::from("/tmp/guest root/proc"),
            ]
        );
        // A bind of the root over itself copies them: each is named once.
        let copied = format!(
            "{SAMPLE}50 40 7:3 / /tmp/guest\\040root rw - ext4 /dev/loop3 rw\n\
             51 50 0:50 / /tmp/guest\\040root/proc rw - proc proc rw\n"
        );
        let with_copies = mounts::parse_mountinfo(&copied);
        let found = kernel_mounts_under(&with_copies, Path::new("/tmp/guest root"));
        assert_eq!(found.len(), 3, "{found:?}");
        // A sibling directory sharing the prefix is not inside the root.
        assert!(kernel_mounts_under(&mounts, Path::new("/srv")).is_empty());
        // The host root itself holds /proc.
        assert_eq!(kernel_mounts_under(&mounts, Path::new("/")).len(), 5);
    }

    #[test]
    fn device_mounts_are_those_the_root_reaches_without_nodev() {
        let mounts = mounts::parse_mountinfo(SAMPLE);
        let found = device_mounts(&mounts, Path::new("/tmp/guest root")).unwrap();
        let points: Vec<_> = found.iter().map(Mount::describe).collect();
        assert_eq!(
            points,
            [
                "/tmp/guest root/proc (proc)",
                "/tmp/guest root/dev (devtmpfs)",
                "/tmp/guest root/boot (vfat)",
                "/tmp/guest root/dev/pts (devpts)",
            ]
        );
        // A directory on the host's root filesystem: its mount is /.
        let found = device_mounts(&mounts, Path::new("/srv/guest")).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].describe(), "/ (ext4)");
        // Inside a nodev mount, with nothing below: none.
        assert!(
            device_mounts(&mounts, Path::new("/tmp/guest root/srv/x"))
                .unwrap()
                .is_empty()
        );
        assert!(device_mounts(&[], Path::new("/x")).is_none());
    }

    #[test]
    fn refusals_name_every_mount() {
        let mounts = mounts::parse_mountinfo(SAMPLE);
        let root = Path::new("/tmp/guest root");
        let e = kernel_fs_root("aug_save", root, &kernel_mounts_under(&mounts, root));
        assert_eq!(e.kind(), ErrorKind::UnsafeRoot);
        let msg = e.to_string();
        assert!(
            msg.starts_with("aug_save: /tmp/guest root: refusing"),
            "{msg}"
        );
        assert!(msg.contains("/tmp/guest root/proc (proc)"), "{msg}");
        assert!(msg.contains("/tmp/guest root/dev/pts (devpts)"), "{msg}");

        // Kernel filesystems are named first.
        let e = check_table("aug_init", SAMPLE, root, Some("x")).unwrap_err();
        assert!(e.to_string().contains("kernel filesystems"), "{e}");
        // With a nodev copy of the mounts too.
        let e = check_table("aug_init", SAMPLE, root, None).unwrap_err();
        assert!(e.to_string().contains("kernel filesystems"), "{e}");

        let srv = Path::new("/srv/guest");
        let why = Some("open_tree(OPEN_TREE_CLONE): EPERM");
        let e = check_table("aug_load", SAMPLE, srv, why).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnsafeRoot);
        assert_eq!(
            e.to_string(),
            "aug_load: /srv/guest: refusing to run augeas in a guest root where device nodes \
             can be opened: / (ext4) not mounted nodev, and the augeas worker could not \
             make a nodev copy of the guest's mounts (open_tree(OPEN_TREE_CLONE): EPERM); a \
             guest device node would let augeas read or write a host device (mount the \
             guest with nodev, or open the handle with CAP_SYS_ADMIN)"
        );
        // The copy is nodev whatever the caller's mounts are.
        check_table("aug_init", SAMPLE, srv, None).unwrap();
        check_table("aug_load", SAMPLE, Path::new("/tmp/guest root/srv"), why).unwrap();
        // A root inside a kernel filesystem.
        let e = check_table("aug_init", SAMPLE, Path::new("/proc/1"), None).unwrap_err();
        assert!(e.to_string().contains("in or over it: /proc (proc)"), "{e}");
        for no_copy in [None, why] {
            let e = check_table("aug_init", "", srv, no_copy).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::UnsafeRoot);
            assert!(e.to_string().contains("does not show"), "{e}");
        }
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
