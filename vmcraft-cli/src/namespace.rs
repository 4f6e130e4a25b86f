//! The command line's private mount namespace. As root, `vmcraft` starts with
//! `unshare(CLONE_NEWNS)` and makes every mount private (`MS_REC|MS_PRIVATE`),
//! before any thread or mount exists. Its guest mounts, and the FUSE exports and
//! FUSE mounts of the processes it starts (they inherit the namespace), are then
//! invisible to the host and go away with the namespace: when the last process in
//! it exits, killed or not, the kernel unmounts everything, and the loop devices
//! under the mounts (bound with autoclear) are released.
//!
//! The new namespace starts as a copy of the host's. Copies of other VMCraft
//! sessions' mounts (anything inside a directory named `vmcraft-PID-XXXXXXXX`)
//! are detached at once, so that this process never keeps another session's
//! filesystem, and so its loop device, busy after that session unmounts it. The
//! host's other mounts stay visible here (this process sees the host as it was at
//! its start) and are held until it exits.
//!
//! Daemons serving the session's devices (qemu-storage-daemon, qemu-nbd) run in
//! a second private namespace of their own, made when the first one starts (see
//! [`runner`]): they must not be members of the session's, and in a namespace
//! of their own their FUSE export goes away with them. A killed `vmcraft`
//! therefore leaves nothing mounted anywhere; only its session directory stays,
//! for the next launch (or `vmcraft cleanup`) to remove.
//!
//! Without the privilege (not root, or a container without `CAP_SYS_ADMIN`) the
//! command line runs in the caller's namespace, as the library does; what a kill
//! leaves is then undone by the reaper (`vmcraft cleanup`, or the next launch).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, OnceLock};

use vmcraft_block::{Command, CommandRunner, Output, Supervised, SystemRunner};

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;

/// What [`enter_private`] did.
#[derive(Debug)]
pub enum Namespace {
    /// Running in a private mount namespace; `detached` copies of other
    /// sessions' mounts were dropped from it.
    Private {
        /// How many copies were detached.
        detached: usize,
        /// The namespace the process came from (where daemons go if a
        /// namespace of their own cannot be made; see [`runner`]).
        outer: OwnedFd,
    },
    /// Not root: the caller's namespace is kept.
    NotPrivileged,
    /// Root, but the namespace could not be made private (the caller's is kept).
    Failed(String),
}

/// Move this process into a private mount namespace (see the module docs). Call
/// it while the process has a single thread.
pub fn enter_private() -> Namespace {
    if !nix::unistd::geteuid().is_root() {
        return Namespace::NotPrivileged;
    }
    // Kept open to come back to if the new namespace cannot be made private: a
    // namespace whose mounts still propagate to the host's would be worse than
    // none.
    let old = match std::fs::File::open("/proc/self/ns/mnt") {
        Ok(f) => f,
        Err(e) => return Namespace::Failed(format!("/proc/self/ns/mnt: {e}")),
    };
    if let Err(e) = nix::sched::unshare(CloneFlags::CLONE_NEWNS) {
        return Namespace::Failed(format!("unshare(CLONE_NEWNS): {e}"));
    }
    if let Err(e) = nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    ) {
        let back = nix::sched::setns(old.as_fd(), CloneFlags::CLONE_NEWNS);
        return Namespace::Failed(format!(
            "making / private: {e}{}",
            match back {
                Ok(()) => String::new(),
                Err(b) => format!(" (and returning to the caller's namespace: {b})"),
            }
        ));
    }
    Namespace::Private {
        detached: detach_other_sessions(),
        outer: OwnedFd::from(old),
    }
}

/// Detach this thread's namespace's copies of mounts inside sessions'
/// directories, deepest first.
fn detach_other_sessions() -> usize {
    let points = vmcraft::reaper::session_mount_points();
    points
        .iter()
        .filter(|p| {
            nix::mount::umount2(*p, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW).is_ok()
        })
        .count()
}

/// The command runner for a session in `ns`: in a private namespace, daemons
/// (qemu-storage-daemon, qemu-nbd) start in a namespace of their own, made when
/// the first one starts (a session on raw images starts none). A daemon serving a
/// device under a mount of the session's namespace must not be a member of it:
/// killed, the session leaves its namespace first; were the daemon the last
/// member, the kernel would unmount the guest's filesystem in the daemon's own
/// exit, flushing through the daemon that is exiting. From outside, the daemon
/// still serves while the session's exit tears its namespace down, and dies after
/// it (parent-death signal), taking its own namespace and FUSE export with it.
/// FUSE drivers, which must mount in the session's namespace, are started by the
/// facade in its own.
pub fn runner(ns: Namespace) -> Arc<dyn CommandRunner> {
    match ns {
        Namespace::Private { outer, .. } => Arc::new(DaemonRunner {
            inner: SystemRunner::new(),
            outer,
            daemons: OnceLock::new(),
        }),
        _ => Arc::new(SystemRunner::new()),
    }
}

/// [`SystemRunner`], with supervised processes started in the daemons' own
/// namespace.
#[derive(Debug)]
struct DaemonRunner {
    inner: SystemRunner,
    /// The caller's namespace, for daemons if theirs cannot be made.
    outer: OwnedFd,
    daemons: OnceLock<Option<OwnedFd>>,
}

impl CommandRunner for DaemonRunner {
    fn execute(&self, cmd: &Command) -> vmcraft_block::Result<Output> {
        self.inner.execute(cmd)
    }

    fn spawn(&self, cmd: &Command) -> vmcraft_block::Result<Supervised> {
        let own = self.daemons.get_or_init(|| {
            daemon_namespace()
                .inspect_err(|e| tracing::debug!(error = %e, "no namespace of their own for daemons; they run in the caller's"))
                .ok()
        });
        let ns = own.as_ref().unwrap_or(&self.outer);
        Supervised::spawn_in(cmd, Some(ns.as_fd()))
    }
}

/// A private mount namespace for daemons, made by a thread that leaves this
/// process's as it is; it lives as long as the descriptor, or a process in it.
/// Its copies of sessions' mounts (this one's included, if it has mounted
/// anything yet) are detached, so that a daemon never keeps a guest filesystem
/// busy.
fn daemon_namespace() -> std::io::Result<OwnedFd> {
    std::thread::spawn(|| {
        nix::sched::unshare(CloneFlags::CLONE_FS | CloneFlags::CLONE_NEWNS)?;
        detach_other_sessions();
        Ok(OwnedFd::from(std::fs::File::open(
            "/proc/thread-self/ns/mnt",
        )?))
    })
    .join()
    .map_err(|_| std::io::Error::other("the thread making it panicked"))?
}
