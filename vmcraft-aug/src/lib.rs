//! # vmcraft-aug
//!
//! Augeas configuration editing for guest images, with libguestfs's `aug_*`
//! calls and their semantics, built on Augeas's C library (loaded on first use:
//! see below), and confined to
//! the guest's root so that an untrusted guest's symlinks can never lead Augeas
//! to a host file.
//!
//! ```no_run
//! use std::path::Path;
//! use vmcraft_aug::{AugFlags, Augeas, ErrorKind};
//!
//! // The guest's root filesystem is mounted at /mnt/guest.
//! let aug = Augeas::init(Path::new("/mnt/guest"), AugFlags::SAVE_BACKUP)?;
//! aug.aug_set("/files/etc/ssh/sshd_config/PermitRootLogin", "no")?;
//! for entry in aug.aug_match("/files/etc/fstab/*[vfstype = 'xfs']")? {
//!     aug.aug_set(&format!("{entry}/passno"), "2")?;
//! }
//! match aug.aug_get("/files/etc/hosts/*[canonical = 'db']/ipaddr") {
//!     Ok(ip) => println!("db is at {ip}"),
//!     Err(e) if e.kind() == ErrorKind::NoMatch => println!("no db entry"),
//!     Err(e) => return Err(e),
//! }
//! aug.aug_save()?; // leaves /etc/ssh/sshd_config.augsave and /etc/fstab.augsave
//! # Ok::<(), vmcraft_aug::Error>(())
//! ```
//!
//! ## Confinement: a worker process per handle
//!
//! libaugeas is a C library that parses guest data, so it never runs in the
//! caller's process. Each open [`Augeas`] handle has a worker process, forked
//! by the library itself when the handle opens (no helper binary is executed).
//! The worker, before it reads any guest file:
//!
//! - dies with the process that opened it (`PR_SET_PDEATHSIG`), is not
//!   dumpable, has default signal handlers and its own process group, and
//!   keeps no descriptor of the caller's (its standard descriptors are
//!   `/dev/null`; it talks to the caller over a socket pair);
//! - makes itself a detached copy of the guest's mounts (`open_tree` with
//!   `OPEN_TREE_CLONE`: the mount holding the guest root, from the root down,
//!   and every mount below it, nothing else), and makes every mount of the
//!   copy `nodev`, `nosuid` and `noexec` (their read-only and atime flags
//!   kept) and private (`mount_setattr`): a device node in the guest (an
//!   `/etc/fstab` that is a block device with a host disk's numbers) cannot
//!   be opened, whatever the caller's mounts are. The caller's mounts are
//!   untouched, and the worker stays in the caller's mount namespace;
//! - compiles the lens modules from the *host's* Augeas load path, then
//!   `chroot`s into the copy;
//! - drops every capability but those that editing any guest file needs
//!   (`CAP_CHOWN`, `CAP_DAC_OVERRIDE`, `CAP_FOWNER`, `CAP_FSETID`): without
//!   `CAP_SYS_CHROOT` or `CAP_SYS_ADMIN` it cannot leave the chroot, and
//!   without `CAP_DAC_READ_SEARCH` it cannot open a host file by its handle
//!   (`open_by_handle_at`); its bounding set (given `CAP_SETPCAP`) and ambient
//!   set are empty and `no_new_privs` is set, so nothing it executed could
//!   gain a privilege;
//! - runs under resource limits: no core dumps, no new processes (for a
//!   caller that is not uid 0, which the kernel exempts), files of at most 1
//!   GiB, 256 descriptors, an address space of 4 GiB beyond what it had mapped
//!   when confined, and 600 s of CPU time per call;
//! - last, installs a seccomp filter: an allow-list of the system calls it
//!   makes (files, memory, its socket, its own limits). Any other call fails
//!   with `EPERM`, so the worker, which still runs as uid 0, cannot signal,
//!   `ptrace` or read the memory of another process, make a socket, execute a
//!   program, mount, enter or make namespaces, `open_by_handle_at` or
//!   `ioctl`; `prlimit64`, `tgkill` and `fcntl` are allowed on the worker
//!   itself only; a call through another ABI (i386 `int 0x80`) kills it with
//!   `SIGSYS`, and x32 calls fail too.
//!
//! Every path Augeas resolves, including absolute symlinks such as
//! `/etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf` or a hostile
//! `/etc/hosts -> /etc/shadow`, resolves inside the guest, and no device node
//! there can be opened. Because a `proc` mount inside the guest root would
//! reopen the host through its magic links, a root with a kernel filesystem
//! mounted inside is refused ([`ErrorKind::UnsafeRoot`]).
//!
//! The worker's mounts are copies made when the handle opens: what the caller
//! mounts below the guest root afterwards is not seen by the handle (open it
//! again to see it), and a filesystem below the root that the caller unmounts
//! while the handle is open stays mounted in the worker, its device in use,
//! until the handle is closed. Close the handle before unmounting the guest,
//! and open it once the guest's filesystems are mounted. The copy holds the
//! guest's mounts only: a worker never keeps any other filesystem of the
//! host busy (another session's guest unmounts, and its device can be
//! formatted, while a handle opens or is open), and the kernel frees the
//! copy when the worker exits, before the handle's close returns. Nothing of
//! it shows in the caller's mount table, before or after.
//!
//! Making the copy needs `CAP_SYS_ADMIN` (root has it) and Linux 5.12 (for
//! `mount_setattr`). A caller with `CAP_SYS_CHROOT` but not `CAP_SYS_ADMIN`,
//! or on an older kernel, gets a worker confined to its own mounts, which
//! must then already be safe: the guest root must be on a `nodev` mount, as
//! must every mount below it, or the handle is refused with
//! [`ErrorKind::UnsafeRoot`] (mount guests `nodev`, as the `vmcraft` facade
//! does). Such a worker sees later mounts, so it checks the mount table
//! again before every load and save.
//!
//! Calls are synchronous: each sends one small request and waits for the
//! answer (a round trip of a few tens of microseconds; an answer may be up to
//! 64 MiB, beyond which the call fails with [`ErrorKind::TooLarge`]). If the
//! worker dies — a stack overflow on a guest file nested hundreds of
//! thousands of levels deep, a resource limit, a kill — the call fails with
//! [`ErrorKind::WorkerCrashed`] naming the signal, later calls on the handle
//! fail the same way until it is closed or re-opened, and the caller's
//! process carries on. Closing (or dropping) the handle ends and reaps its
//! worker, and with it the worker's copy of the guest's mounts.
//!
//! The worker starts as a copy of the caller's memory (a fork without exec),
//! so it runs the caller's binary and libraries, and a compromised worker
//! could read what the caller held in memory at the time of the fork; it
//! cannot reach the host's files, other processes or the network, nor gain
//! privileges.
//!
//! The lens modules are those of the host, in memory before the chroot: all of
//! them by default, or only those named with [`InitOptions::lenses`]. A lens of
//! any other module, named later, is refused before Augeas would go looking for
//! it in the guest's load path: by `aug_transform` at once, and under
//! `/augeas/load` (set by hand) at the next `aug_load` or `aug_save`.
//!
//! This needs root (`CAP_SYS_CHROOT`, and `CAP_SYS_ADMIN` for the copy of
//! the mounts). Loading all lenses takes a few hundred milliseconds per
//! [`Augeas::init`], as it does for `augtool` and libguestfs; naming the few a
//! caller needs ([`InitOptions::lenses`]) takes a few milliseconds, the fork
//! and the copy of the mounts included.
//!
//! ## Semantics
//!
//! As libguestfs's daemon: `aug_get` fails on zero matches ("no matching node")
//! and on several; `aug_ls` sorts; `aug_defvar` returns the node count;
//! `aug_defnode` returns [`IntBool`] (`i` nodes, `b` created); `aug_insert`
//! refuses labels with `/`, `*` or a trailing `[N]`; `aug_rm` returns the count;
//! `aug_init` closes the handle opened before. Errors ([`Error`]) carry
//! Augeas's own [`Diagnosis`] and, after a failed save, the [`FileError`] of
//! each file that could not be written.
//!
//! ## Requirements
//!
//! Building needs nothing of Augeas: the library (`libaugeas.so.0`) is opened
//! with `dlopen` when the first handle opens, not linked, so that programs
//! using VMCraft do not map libaugeas, libxml2, ICU and libstdc++ at every
//! start (1.4 ms a process on the development machine, a quarter of a
//! read-only inspection through the command line). Running Augeas needs
//! `libaugeas0` and the lenses (`augeas-lenses` on Debian and Ubuntu,
//! `augeas-libs` on Fedora). Without the library or the lenses,
//! [`Augeas::init`] fails with [`ErrorKind::Unavailable`] and says what to
//! install.

#![deny(missing_docs)]

mod binding;
mod child;
mod confine;
mod error;
mod flags;
mod handle;
mod lenses;
mod mounts;
mod mounttree;
mod protocol;
mod sandbox;
mod seccomp;
mod session;
mod validate;
mod worker;

pub use error::{AugeasCode, Diagnosis, Error, ErrorKind, FileError, Result};
pub use flags::AugFlags;
pub use handle::{Augeas, InitOptions, IntBool};
