//! The worker's own copy of the guest's mounts, on which device nodes cannot
//! be opened whatever the caller's mounts are, and which holds nothing of the
//! host's other filesystems.
//!
//! libaugeas opens files by path. A device node in the guest (`/etc/fstab`
//! as a block device with a host disk's numbers, `/etc/hosts` as `/dev/mem`'s
//! 1:1) would make it read that device into the tree, or write it on
//! `aug_save`: the worker runs as uid 0 with `CAP_DAC_OVERRIDE`. Only `nodev`
//! on the mount stops that, and a directory tree on the host's filesystem, or
//! a guest mounted without `nodev`, does not have it. So the worker, while it
//! still has `CAP_SYS_ADMIN`:
//!
//! 1. `open_tree(root, OPEN_TREE_CLONE | AT_RECURSIVE)`: a *detached* copy
//!    of the mount that holds the guest root (from the root down) and of
//!    every mount below it, and of nothing else. It belongs to no mount
//!    namespace (the worker stays in the caller's, which gains nothing), so
//!    the caller's mount table never shows it;
//! 2. `mount_setattr(copy, AT_RECURSIVE)` adds `nodev`, `nosuid` and
//!    `noexec` to every mount of the copy at once (all or none), keeps their
//!    other flags (read-only, atime, `nosymfollow`), and makes them private:
//!    nothing the host mounts later below the root propagates into the copy.
//!    The host's own mounts are untouched;
//! 3. checks the result on the copy itself (`fstatvfs`).
//!
//! After the lenses are compiled (from the host's root), the worker
//! `chroot`s into the copy ([`crate::confine::enter_root`]): `..` at its root
//! stays there, and every path Augeas resolves stays on the guest's mounts.
//!
//! Why not a mount namespace of its own: `unshare(CLONE_NEWNS)` copies the
//! caller's *whole* mount table, every filesystem of the host, other
//! sessions' guests included. A filesystem the host then unmounts stays
//! alive in the copy (its device claimed, a `mkfs` of it failing with "in
//! use by the system") until the worker lets go of it. The detached copy
//! holds the guest's filesystems only, and only those the caller keeps
//! mounted below the root anyway; the caller closes the handle before
//! unmounting them (see the crate docs).
//!
//! The copy lives as long as the worker: the descriptor `open_tree` returned
//! stays open in it (closing the last one dissolves the copy), and the kernel
//! frees the copy, and with it the guest's filesystems' last references, when
//! the worker exits, before its parent reaps it.
//!
//! Without `CAP_SYS_ADMIN` (a caller given only `CAP_SYS_CHROOT`),
//! `open_tree` fails with `EPERM`; before Linux 5.12 `mount_setattr` does not
//! exist (`ENOSYS`; `open_tree` needs 5.2). The worker then chroots into the
//! caller's own mounts, which must be `nodev` already: the caller
//! ([`crate::confine`]) checks the mount table.

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::statvfs::FsFlags;
use rustix::mount::OpenTreeFlags;

/// The per-mount flags every mount of the copy gains.
const LOCKED_DOWN: u64 = libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NOEXEC;

/// Make the worker's copy of the mounts `root` (canonical) reaches, locked
/// down; see the module docs. The descriptor holds the copy (keep it open);
/// `Err` says, in words, which step failed, for the refusal of a root whose
/// own mounts are not `nodev`.
pub(crate) fn copy(root: &Path) -> Result<OwnedFd, String> {
    let tree = rustix::mount::open_tree(
        rustix::fs::CWD,
        root,
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::AT_RECURSIVE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )
    .map_err(|e| {
        step(
            "open_tree(OPEN_TREE_CLONE)",
            Errno::from_raw(e.raw_os_error()),
        )
    })?;
    // On error the copy is dropped, which dissolves it.
    lock_down(tree.as_fd()).map_err(|e| step("mount_setattr", e))?;
    let flags = nix::sys::statvfs::fstatvfs(&tree)
        .map_err(|e| step("fstatvfs of the copy", e))?
        .flags();
    let wanted = FsFlags::ST_NODEV | FsFlags::ST_NOSUID | FsFlags::ST_NOEXEC;
    if !flags.contains(wanted) {
        return Err(format!(
            "the copy's root is not mounted nodev,nosuid,noexec after mount_setattr \
             (flags {:#x})",
            flags.bits()
        ));
    }
    Ok(tree)
}

/// A failed step, in words; `ENOSYS` says which kernel has the call.
fn step(what: &str, e: Errno) -> String {
    let since = match (what, e) {
        ("mount_setattr", Errno::ENOSYS) => "; it needs Linux 5.12",
        (_, Errno::ENOSYS) => "; it needs Linux 5.2",
        _ => "",
    };
    format!("{what}: {}{since}", e.desc())
}

/// `mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE)` adding
/// [`LOCKED_DOWN`] and making every mount of the tree private.
fn lock_down(tree: BorrowedFd<'_>) -> nix::Result<()> {
    let attr = libc::mount_attr {
        attr_set: LOCKED_DOWN,
        attr_clr: 0,
        propagation: libc::MS_PRIVATE,
        userns_fd: 0,
    };
    let empty: &CStr = c"";
    // SAFETY: mount_setattr reads `size_of::<mount_attr>()` bytes from `attr`,
    // a live, initialised struct of exactly that size, and the path from a
    // NUL-terminated string; `tree` is an open descriptor for the call's
    // length. It writes nothing of ours.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    Errno::result(r).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_steps_name_the_call_and_the_kernel_it_needs() {
        assert_eq!(
            step("open_tree(OPEN_TREE_CLONE)", Errno::EPERM),
            "open_tree(OPEN_TREE_CLONE): Operation not permitted"
        );
        assert_eq!(
            step("mount_setattr", Errno::ENOSYS),
            "mount_setattr: Function not implemented; it needs Linux 5.12"
        );
        assert_eq!(
            step("open_tree(OPEN_TREE_CLONE)", Errno::ENOSYS),
            "open_tree(OPEN_TREE_CLONE): Function not implemented; it needs Linux 5.2"
        );
    }

    #[test]
    fn the_attribute_struct_is_the_first_version() {
        // MOUNT_ATTR_SIZE_VER0: the size every kernel with the call accepts.
        assert_eq!(std::mem::size_of::<libc::mount_attr>(), 32);
        assert_eq!(LOCKED_DOWN, 0x2 | 0x4 | 0x8);
    }
}
