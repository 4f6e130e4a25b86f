//! The reaper: [`cleanup_stale_sessions`] finds the sessions in a temp directory
//! whose owner is gone (killed, crashed, OOM-killed) and undoes what their state
//! files ([`crate::state`]) record, in order:
//!
//! 1. unmount, deepest first, in the session's own mount namespace (a thread joins
//!    it when it is not ours); a dead FUSE mount ("Transport endpoint is not
//!    connected") or one still busy is detached lazily;
//! 2. stop the FUSE drivers;
//! 3. remove the device-mapper devices of LVs the session activated;
//! 4. detach the loop devices (LV windows first);
//! 5. stop qemu-storage-daemon and qemu-nbd servers, and unmount a daemon's FUSE
//!    export it left behind;
//! 6. remove the session's lock files, then the directory.
//!
//! It never touches a live session (its owner holds the directory's lock, and its
//! pid still runs with the recorded start time) and never anything VMCraft did not
//! make: a mount is unmounted only if the kernel still shows the recorded
//! filesystem there, a process is stopped only through a pidfd opened and checked
//! against its recorded start time and command line, a loop device is detached only
//! while bound to the recorded file with the recorded disk sequence number, a
//! device-mapper device is removed only if it carries the recorded UUID and sits
//! on the session's loop devices. Everything else is skipped and reported. After a
//! reboot (another boot id) nothing recorded can exist any more, and only the
//! directory is removed.
//!
//! [`crate::VMCraft::launch`] runs it on its temp directory first (best effort,
//! logged); `vmcraft cleanup` runs it on demand.

mod loops;
mod namespace;
mod process;
mod session;

use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::state::{self, SessionState};

/// What kind of thing was undone or skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CleanupKind {
    /// A mount.
    Unmount,
    /// A process (FUSE driver, qemu-storage-daemon, qemu-nbd).
    StopProcess,
    /// A device-mapper device of an LV.
    DeactivateLv,
    /// A LUKS (cryptsetup) mapping.
    CloseMapping,
    /// An md array.
    StopArray,
    /// A loop device.
    DetachLoop,
    /// A lock file.
    RemoveLockFile,
    /// A file the session left (the command line's temporary files).
    RemoveFile,
    /// The session directory.
    RemoveDirectory,
    /// A whole session (when it is skipped as a whole).
    Session,
}

impl CleanupKind {
    fn done_verb(self) -> &'static str {
        match self {
            CleanupKind::Unmount => "unmounted",
            CleanupKind::StopProcess => "stopped",
            CleanupKind::DeactivateLv => "deactivated",
            CleanupKind::CloseMapping => "closed",
            CleanupKind::StopArray => "stopped",
            CleanupKind::DetachLoop => "detached",
            CleanupKind::RemoveLockFile => "removed lock file",
            CleanupKind::RemoveFile => "removed",
            CleanupKind::RemoveDirectory => "removed",
            CleanupKind::Session => "cleaned up",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            CleanupKind::Unmount => "mount",
            CleanupKind::StopProcess => "process",
            CleanupKind::DeactivateLv => "LV",
            CleanupKind::CloseMapping => "LUKS mapping",
            CleanupKind::StopArray => "md array",
            CleanupKind::DetachLoop => "loop device",
            CleanupKind::RemoveLockFile => "lock file",
            CleanupKind::RemoveFile => "file",
            CleanupKind::RemoveDirectory => "directory",
            CleanupKind::Session => "session",
        }
    }
}

/// One thing undone or skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CleanupItem {
    /// What kind of thing.
    pub kind: CleanupKind,
    /// The thing (a path, a device, `fusefat (pid 123)`).
    pub subject: String,
    /// How it was undone, or why it was skipped.
    pub detail: String,
}

impl CleanupItem {
    fn new(kind: CleanupKind, subject: impl ToString, detail: impl ToString) -> Self {
        CleanupItem {
            kind,
            subject: subject.to_string(),
            detail: detail.to_string(),
        }
    }
}

/// One dead session and what was done about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReapedSession {
    /// Its directory.
    pub dir: PathBuf,
    /// Its owner's pid, as recorded (or from the directory's name).
    pub owner_pid: Option<u32>,
    /// What was undone, in order.
    pub undone: Vec<CleanupItem>,
    /// What was left alone, and why.
    pub skipped: Vec<CleanupItem>,
    /// Whether the directory is gone.
    pub removed: bool,
}

/// What [`cleanup_stale_sessions`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CleanupReport {
    /// The temp directory looked in.
    pub tmpdir: PathBuf,
    /// The dead sessions found, and what was undone for each.
    pub sessions: Vec<ReapedSession>,
    /// Session directories left alone because their owner is alive.
    pub live: Vec<PathBuf>,
    /// Other things undone or skipped (the command line's temporary files,
    /// directories that only look like sessions').
    pub other: Vec<ReapedSession>,
}

impl CleanupReport {
    /// Everything undone, one line each, in order (what `vmcraft cleanup` prints).
    ///
    /// ```
    /// let r = vmcraft::CleanupReport::default();
    /// assert!(r.lines().is_empty());
    /// ```
    pub fn lines(&self) -> Vec<String> {
        self.sessions
            .iter()
            .chain(&self.other)
            .flat_map(|s| &s.undone)
            .map(|i| match i.detail.as_str() {
                "" => format!("{} {}", i.kind.done_verb(), i.subject),
                d => format!("{} {} ({d})", i.kind.done_verb(), i.subject),
            })
            .collect()
    }

    /// Everything skipped, one line each, with the reason.
    pub fn skipped_lines(&self) -> Vec<String> {
        self.sessions
            .iter()
            .chain(&self.other)
            .flat_map(|s| &s.skipped)
            .map(|i| format!("skipped {} {}: {}", i.kind.noun(), i.subject, i.detail))
            .collect()
    }

    /// Whether nothing was undone and nothing skipped.
    pub fn is_empty(&self) -> bool {
        self.sessions
            .iter()
            .chain(&self.other)
            .all(|s| s.undone.is_empty() && s.skipped.is_empty())
    }
}

/// Find the sessions in `tmpdir` (the system temp directory when `None`, as for
/// [`crate::Config::tmpdir`]) whose owner is gone, and undo what they left:
/// mounts, FUSE drivers, LV activations, loop devices, daemons, lock files and
/// their directories (see the [module documentation](crate::reaper) for the order and
/// the checks). Live sessions and anything that is not what a session recorded
/// are left alone and reported.
///
/// ```no_run
/// let report = vmcraft::cleanup_stale_sessions(None)?;
/// for line in report.lines() {
///     println!("{line}");
/// }
/// for line in report.skipped_lines() {
///     eprintln!("{line}");
/// }
/// # Ok::<(), vmcraft::Error>(())
/// ```
pub fn cleanup_stale_sessions(tmpdir: Option<&Path>) -> Result<CleanupReport> {
    let base = tmpdir
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    let entries = std::fs::read_dir(&base).map_err(|e| {
        Error::call_with_source(
            ErrorKind::Io,
            "cleanup",
            base.display(),
            "cannot read the temp directory",
            e,
        )
    })?;
    let mut report = CleanupReport {
        tmpdir: base.clone(),
        ..Default::default()
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("vmcraft-"))
        .collect();
    names.sort();
    let runner = vmcraft_block::SystemRunner::new();
    let env = session::Env {
        sys_block: PathBuf::from("/sys/block"),
        runner: &runner,
    };
    for name in names {
        let path = base.join(&name);
        if let Some(pid) = state::session_dir_pid(&name) {
            match look_at(&path, pid) {
                Look::Live => report.live.push(path),
                Look::NotMine => {}
                Look::NotASession(why) => report.other.push(ReapedSession {
                    dir: path.clone(),
                    owner_pid: None,
                    undone: vec![],
                    skipped: vec![CleanupItem::new(CleanupKind::Session, path.display(), why)],
                    removed: false,
                }),
                Look::Dead(lock, st) => {
                    report
                        .sessions
                        .push(session::reap(&env, &path, pid, lock, st.map(|s| *s)))
                }
            }
        } else if let Some(pid) = cli_temp_file_pid(&name)
            && let Some(r) = remove_cli_temp_file(&path, pid)
        {
            report.other.push(r);
        }
    }
    Ok(report)
}

/// [`cleanup_stale_sessions`] as [`crate::VMCraft::launch`] runs it: what it undid
/// is logged, a failure is logged and nothing more.
pub(crate) fn cleanup_at_launch(tmpdir: Option<&Path>) {
    match cleanup_stale_sessions(tmpdir) {
        Ok(r) => {
            for l in r.lines() {
                tracing::info!(what = %l, "cleaned up after a dead session");
            }
            for l in r.skipped_lines() {
                tracing::warn!(what = %l, "left behind by a dead session");
            }
        }
        Err(e) => tracing::warn!(error = %e.chain(), "looking for dead sessions failed"),
    }
}

/// What a directory named like a session is.
enum Look {
    Live,
    /// Another user's: not for this user to judge, not reported.
    NotMine,
    NotASession(String),
    /// Owner gone: the directory's lock (now ours, held while reaping) and its
    /// state, if it has one.
    Dead(nix::fcntl::Flock<std::fs::File>, Option<Box<SessionState>>),
}

fn look_at(path: &Path, name_pid: u32) -> Look {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => return Look::NotASession(format!("cannot stat it: {e}")),
    };
    let euid = nix::unistd::geteuid().as_raw();
    if meta.uid() != euid {
        return Look::NotMine;
    }
    if !meta.is_dir() || meta.mode() & 0o077 != 0 {
        return Look::NotASession(format!(
            "not a private directory of this user (mode {:o}, owner {})",
            meta.mode() & 0o7777,
            meta.uid()
        ));
    }
    let dir = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) => return Look::NotASession(format!("cannot open it: {e}")),
    };
    // The owner holds this lock for its life; taking it proves it is gone (or
    // that another reaper is at work here, which makes it not ours either).
    let dir = match nix::fcntl::Flock::lock(dir, nix::fcntl::FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => return Look::Live,
        Err((_, e)) => return Look::NotASession(format!("flock: {e}")),
    };
    let st = match SessionState::read(path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Made but never recorded (killed at launch): its pid says.
            if process_alive(name_pid) {
                return Look::Live;
            }
            return Look::Dead(dir, None);
        }
        Err(e) => {
            if process_alive(name_pid) {
                return Look::Live;
            }
            return Look::NotASession(format!("its state file cannot be read: {e}"));
        }
    };
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    if canonical(&st.session_dir) != canonical(path) {
        return Look::NotASession(format!(
            "its state file names another directory ({})",
            st.session_dir.display()
        ));
    }
    let same_boot = st.boot_id == state::boot_id();
    if same_boot && state::start_time(st.owner.pid) == Some(st.owner.start_time) {
        return Look::Live;
    }
    // The lock stays held while reaping: another reaper skips the session.
    Look::Dead(dir, Some(Box::new(st)))
}

fn process_alive(pid: u32) -> bool {
    state::start_time(pid).is_some()
}

/// `vmcraft-cli-PID-XXXXXXXX`: a temporary file of the command line.
fn cli_temp_file_pid(name: &str) -> Option<u32> {
    state::session_dir_pid(&format!("vmcraft-{}", name.strip_prefix("vmcraft-cli-")?))
}

/// Remove a command-line temporary file whose process is gone (a live process
/// with that pid may be its creator, so it is left alone).
fn remove_cli_temp_file(path: &Path, pid: u32) -> Option<ReapedSession> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || meta.uid() != nix::unistd::geteuid().as_raw() || process_alive(pid) {
        return None;
    }
    let r = std::fs::remove_file(path);
    let mut s = ReapedSession {
        dir: path.to_path_buf(),
        owner_pid: Some(pid),
        undone: vec![],
        skipped: vec![],
        removed: r.is_ok(),
    };
    match r {
        Ok(()) => s.undone.push(CleanupItem::new(
            CleanupKind::RemoveFile,
            path.display(),
            format!("temporary file of vmcraft pid {pid}"),
        )),
        Err(e) => s
            .skipped
            .push(CleanupItem::new(CleanupKind::RemoveFile, path.display(), e)),
    }
    Some(s)
}

/// The mount points inside sessions' directories that the calling thread's mount
/// namespace holds, deepest first. A process that has just made a private mount
/// namespace (the `vmcraft` command line) detaches its copies of them, so that it
/// never keeps another session's guest filesystem alive after that session ends.
///
/// ```no_run
/// for p in vmcraft::reaper::session_mount_points() {
///     println!("{}", p.display());
/// }
/// ```
pub fn session_mount_points() -> Vec<PathBuf> {
    let mut points: Vec<PathBuf> = state::own_mounts()
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| {
            p.components().any(|c| {
                c.as_os_str()
                    .to_str()
                    .is_some_and(|n| state::session_dir_pid(n).is_some())
            })
        })
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points
}
