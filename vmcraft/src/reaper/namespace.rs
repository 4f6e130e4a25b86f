//! Working in a dead session's mount namespace. The `vmcraft` command mounts in a
//! private namespace; a process it started that outlived it (a daemonized FUSE
//! driver, qemu-storage-daemon) keeps that namespace and its mounts alive. The
//! reaper unmounts there, from a thread that has its own filesystem context
//! (`unshare(CLONE_FS)`) and has joined the namespace (`setns`): the rest of the
//! process stays where it is.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::sched::CloneFlags;

use crate::state;

/// Where a session's mounts are.
#[derive(Debug)]
pub(crate) enum Namespace {
    /// In this thread's namespace.
    Own,
    /// In another namespace, open (holding it keeps it alive: drop it when done).
    Other(File),
    /// The namespace is gone, and its mounts with it.
    Gone,
}

/// Find mount namespace `ns` (an inode number): this thread's, or one a
/// process lives in.
pub(crate) fn find(ns: Option<u64>) -> Namespace {
    let Some(ns) = ns else {
        return Namespace::Own;
    };
    if state::own_mount_ns() == Some(ns) {
        return Namespace::Own;
    }
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Namespace::Gone;
    };
    for p in procs.flatten() {
        if !p
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let path = p.path().join("ns/mnt");
        if state::mount_ns_of(&path) != Some(ns) {
            continue;
        }
        // Opened, then checked again: the descriptor is the namespace itself,
        // whatever happens to the process.
        if let Ok(f) = File::open(&path)
            && f.metadata().is_ok_and(|m| m.ino() == ns)
        {
            return Namespace::Other(f);
        }
    }
    Namespace::Gone
}

/// Run `f` in `ns`: here for [`Namespace::Own`], on a thread that joined it for
/// [`Namespace::Other`]. `None` when the namespace is gone or cannot be joined
/// (the error is logged).
pub(crate) fn run_in<T: Send>(ns: &Namespace, f: impl FnOnce() -> T + Send) -> Option<T> {
    match ns {
        Namespace::Own => Some(f()),
        Namespace::Gone => None,
        Namespace::Other(file) => std::thread::scope(|s| {
            s.spawn(|| {
                nix::sched::unshare(CloneFlags::CLONE_FS)
                    .and_then(|()| nix::sched::setns(file, CloneFlags::CLONE_NEWNS))
                    .map_err(|e| tracing::warn!(error = %e, "cannot enter the session's mount namespace"))
                    .ok()
                    .map(|()| f())
            })
            .join()
            .ok()
            .flatten()
        }),
    }
}

/// Whether `path` is inside `dir` (by components, no `..` games: both come from
/// records and mountinfo, absolute).
pub(crate) fn is_inside(path: &Path, dir: &Path) -> bool {
    path != dir
        && path.starts_with(dir)
        && !path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_namespace_is_found_as_ours() {
        let ns = state::own_mount_ns();
        assert!(matches!(find(ns), Namespace::Own));
        assert!(matches!(find(None), Namespace::Own));
        // An inode no namespace has.
        assert!(matches!(find(Some(1)), Namespace::Gone));
        assert_eq!(run_in(&Namespace::Own, || 7), Some(7));
        assert_eq!(run_in(&Namespace::Gone, || 7), None);
    }

    #[test]
    fn paths_inside_a_directory() {
        let d = Path::new("/tmp/vmcraft-1-0000abcd");
        assert!(is_inside(Path::new("/tmp/vmcraft-1-0000abcd/root"), d));
        assert!(!is_inside(d, d));
        assert!(!is_inside(Path::new("/tmp/vmcraft-1-0000abcd-x/root"), d));
        assert!(!is_inside(Path::new("/tmp/vmcraft-1-0000abcd/../etc"), d));
    }

    #[test]
    fn a_thread_joins_another_namespace_and_the_process_stays() {
        if !vmcraft_block::testing::is_root() {
            eprintln!("skipping: needs root (setns)");
            return;
        }
        // A child in a private mount namespace of its own.
        let mut child = std::process::Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", "read x"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let mine = state::own_mount_ns().unwrap();
        let theirs = vmcraft_block::wait_until(
            "the child's namespace",
            std::time::Duration::from_secs(10),
            || {
                // `unshare` execs sh once it has unshared.
                state::cmdline(pid).is_some_and(|c| c.first().is_some_and(|a| a == "sh"))
            },
        )
        .ok()
        .and_then(|()| state::mount_ns_of(&Path::new("/proc").join(pid.to_string()).join("ns/mnt")))
        .unwrap();
        assert_ne!(mine, theirs);
        let ns = find(Some(theirs));
        assert!(matches!(ns, Namespace::Other(_)));
        let seen = run_in(&ns, state::own_mount_ns).unwrap();
        assert_eq!(seen, Some(theirs));
        assert_eq!(
            state::own_mount_ns(),
            Some(mine),
            "this thread did not move"
        );
        drop(child.stdin.take());
        child.wait().unwrap();
    }
}
