//! Small facts about the host, read from `/proc` and acted on in-process: whether a
//! process is alive (a zombie counts as exited: a daemonized qemu is not our child,
//! and in containers nobody may reap it), signalling it, whether a path is a mount
//! point, and unmounting one.

use std::path::Path;
use std::time::Duration;

use nix::mount::{MntFlags, umount2};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Whether process `pid` is running and its command line contains `marker` (which
/// guards against a recycled pid). Zombies and vanished processes are not alive.
pub(crate) fn process_alive(pid: u32, marker: &str) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the parenthesised command name, which may contain spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    if matches!(state, Some('Z') | Some('X') | None) {
        return false;
    }
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => String::from_utf8_lossy(&cmdline).contains(marker),
        Err(_) => false,
    }
}

/// Send `signal` to `pid` if it is still the process `marker` identifies.
pub(crate) fn signal_process(pid: u32, marker: &str, signal: Signal) -> bool {
    if !process_alive(pid, marker) {
        return false;
    }
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    kill(Pid::from_raw(raw), signal).is_ok()
}

/// Wait until `pid` (identified by `marker`) has exited; `false` on timeout.
pub(crate) fn wait_exit(pid: u32, marker: &str, timeout: Duration) -> bool {
    vmcraft_block::wait_until(&format!("process {pid} to exit"), timeout, || {
        !process_alive(pid, marker)
    })
    .is_ok()
}

fn unescape_mount(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Whether `path` is a mount point of this mount namespace.
pub(crate) fn is_mount_point(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.to_string_lossy();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mp| unescape_mount(mp) == want)
}

/// Unmount `path`; a busy mount is detached lazily so that it goes away once its
/// last user does. Not mounted is not an error.
pub(crate) fn unmount(path: &Path) -> nix::Result<()> {
    if !is_mount_point(path) {
        return Ok(());
    }
    match umount2(path, MntFlags::empty()) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) => Ok(()),
        Err(nix::errno::Errno::EBUSY) => umount2(path, MntFlags::MNT_DETACH),
        Err(e) => Err(e),
    }
}

/// The `major:minor` numbers of every mounted block device in this mount
/// namespace.
pub(crate) fn mounted_devices() -> Vec<(u32, u32)> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    info.lines()
        .filter_map(|l| l.split(' ').nth(2))
        .filter_map(|mm| {
            let (a, b) = mm.split_once(':')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_identified_by_its_command_line() {
        let me = std::process::id();
        let cmdline = std::fs::read(format!("/proc/{me}/cmdline")).unwrap();
        let argv0 =
            String::from_utf8_lossy(cmdline.split(|&b| b == 0).next().unwrap()).into_owned();
        assert!(process_alive(me, &argv0));
        assert!(!process_alive(me, "no-such-marker-vmcraft"));
        assert!(!process_alive(u32::MAX - 1, ""));
        assert!(!signal_process(
            me,
            "no-such-marker-vmcraft",
            Signal::SIGTERM
        ));
    }

    #[test]
    fn mount_points() {
        assert!(is_mount_point(Path::new("/")));
        assert!(!is_mount_point(Path::new("/no/such/dir/vmcraft")));
        unmount(Path::new("/no/such/dir/vmcraft")).unwrap();
        assert_eq!(unescape_mount("/a\\040b\\134c"), "/a b\\c");
        let root = std::fs::metadata("/").unwrap();
        let dev = std::os::unix::fs::MetadataExt::dev(&root);
        let root_dev = (libc::major(dev), libc::minor(dev));
        assert!(mounted_devices().contains(&root_dev));
    }
}
