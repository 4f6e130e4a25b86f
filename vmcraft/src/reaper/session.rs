//! Reaping one dead session, step by step (the order is the module's: unmount,
//! FUSE drivers, LVs, loop devices, daemons, lock files, directory). Every step
//! checks that what it is about to undo is still what the session recorded.

use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::mount::MntFlags;
use vmcraft_block::{Command, CommandRunner};

use super::namespace::{self, Namespace, is_inside};
use super::process::{self, Identity, Stopped};
use super::{CleanupItem, CleanupKind, ReapedSession};
use crate::state::{self, MountInfo, MountRecord, ProcessRecord, SESSION_PROGRAMS, SessionState};

/// What the steps work with (tests point it at a sysfs tree and a fake runner of
/// their own).
pub(crate) struct Env<'a> {
    /// `/sys/block`.
    pub sys_block: PathBuf,
    /// Runs `dmsetup`.
    pub runner: &'a dyn CommandRunner,
}

/// The FUSE drivers among [`SESSION_PROGRAMS`].
const FUSE_PROGRAMS: &[&str] = &["fusefat", "ntfs-3g", "lowntfs-3g", "fuse2fs"];

/// Undo what `st` records for the session in `dir` (its lock held by the caller
/// and released after).
pub(crate) fn reap(
    env: &Env<'_>,
    dir: &Path,
    name_pid: u32,
    lock: nix::fcntl::Flock<std::fs::File>,
    st: Option<SessionState>,
) -> ReapedSession {
    let mut r = ReapedSession {
        dir: dir.to_path_buf(),
        owner_pid: Some(st.as_ref().map_or(name_pid, |s| s.owner.pid)),
        undone: vec![],
        skipped: vec![],
        removed: false,
    };
    let mut keep_out: Vec<PathBuf> = Vec::new();
    // The directory as the session named it (the same one, maybe spelt through
    // a symlink here): its records are in those terms.
    let dir = st.as_ref().map_or(dir, |s| s.session_dir.as_path());
    match &st {
        Some(st) if st.boot_id == state::boot_id() => {
            reap_recorded(env, dir, st, &mut r, &mut keep_out)
        }
        // Nothing recorded (killed while launching), or recorded in an earlier
        // boot: nothing of it can exist but the directory.
        _ => {}
    }
    remove_tree(dir, &mut r, &keep_out);
    drop(lock);
    r
}

fn reap_recorded(
    env: &Env<'_>,
    dir: &Path,
    st: &SessionState,
    r: &mut ReapedSession,
    keep_out: &mut Vec<PathBuf>,
) {
    let ns = namespace::find(st.mount_namespace);
    let exports: Vec<PathBuf> = st.images.iter().filter_map(|i| i.export.clone()).collect();
    // The processes and loop devices as they are before anything is undone: a
    // FUSE driver exits, and a loop device is released, as their mounts go.
    let owner_start = st.owner.start_time;
    let fuse: Vec<(ProcessRecord, Identity)> =
        with_unrecorded(&st.fuse_drivers, dir, owner_start, FUSE_PROGRAMS)
            .into_iter()
            .map(|p| {
                let id = process::identify(&p);
                (p, id)
            })
            .collect();
    let recorded: Vec<ProcessRecord> = st.images.iter().filter_map(|i| i.daemon.clone()).collect();
    let daemons: Vec<(ProcessRecord, Identity)> = with_unrecorded(
        &recorded,
        dir,
        owner_start,
        &["qemu-storage-daemon", "qemu-nbd"],
    )
    .into_iter()
    .map(|p| {
        let id = process::identify(&p);
        (p, id)
    })
    .collect();
    let bound: Vec<bool> = st
        .loops
        .iter()
        .map(|l| super::loops::is_bound_as_recorded(&env.sys_block, l))
        .collect();

    // 1. Unmount, deepest first, in the session's namespace.
    match namespace::run_in(&ns, || unmount_recorded(dir, st, &exports)) {
        Some((undone, skipped)) => {
            r.undone.extend(undone);
            r.skipped.extend(skipped);
        }
        None if matches!(ns, Namespace::Other(_)) => r.skipped.push(CleanupItem::new(
            CleanupKind::Unmount,
            dir.display(),
            "the session's mount namespace cannot be entered (needs CAP_SYS_ADMIN)",
        )),
        None => {}
    }

    // 2. FUSE drivers: recorded, and any other naming the session's directory.
    // Unmounted, a driver exits by itself; it gets a moment for that first.
    for (p, id) in fuse {
        stop_recorded(&p, id, Duration::from_secs(2), Duration::from_secs(5), r);
    }

    // 3. md arrays and device-mapper devices (LVs, LUKS mappings) on the
    // session's devices; an array on a mapping goes before it, one under a
    // mapping after it.
    let ours: Vec<String> = st
        .loops
        .iter()
        .zip(&bound)
        .filter(|(_, b)| **b)
        .filter_map(|(l, _)| {
            l.device
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .collect();
    stop_md(env, st, &ours, false, r);
    deactivate_dm(env, st, r);
    stop_md(env, st, &ours, true, r);

    // 4. Loop devices, the last bound first (LV windows before the drives).
    for (rec, was_bound) in st.loops.iter().zip(bound).rev() {
        let subject = format!("{} ({})", rec.device.display(), rec.backing_file.display());
        match super::loops::detach(&env.sys_block, rec) {
            super::loops::LoopOutcome::Gone if was_bound => r.undone.push(CleanupItem::new(
                CleanupKind::DetachLoop,
                subject,
                format!("{}; released by the kernel once unmounted", rec.purpose),
            )),
            super::loops::LoopOutcome::Gone => {}
            super::loops::LoopOutcome::Detached => r.undone.push(CleanupItem::new(
                CleanupKind::DetachLoop,
                subject,
                &rec.purpose,
            )),
            super::loops::LoopOutcome::Deferred => r.undone.push(CleanupItem::new(
                CleanupKind::DetachLoop,
                subject,
                format!(
                    "{}; still in use, released when its last user closes it",
                    rec.purpose
                ),
            )),
            super::loops::LoopOutcome::NotOurs(why) | super::loops::LoopOutcome::Failed(why) => {
                r.skipped.push(CleanupItem::new(
                    CleanupKind::DetachLoop,
                    rec.device.display(),
                    why,
                ))
            }
        }
    }

    // 5. Daemons (SIGTERM: qemu flushes and closes the image, which can take a
    // while on a slow disk), then the FUSE exports they leave when killed.
    for (p, id) in daemons {
        stop_recorded(&p, id, Duration::ZERO, Duration::from_secs(60), r);
    }
    // The exports are in the daemons' namespaces (the command line starts its
    // daemons outside its private one), else in the session's.
    let mut daemon_ns: Vec<u64> = st
        .images
        .iter()
        .filter_map(|i| i.daemon_mount_namespace)
        .filter(|n| Some(*n) != st.mount_namespace)
        .collect();
    daemon_ns.sort();
    daemon_ns.dedup();
    let others: Vec<Namespace> = daemon_ns
        .into_iter()
        .map(|n| namespace::find(Some(n)))
        .collect();
    for n in std::iter::once(&ns).chain(&others) {
        if let Some(undone) = namespace::run_in(n, || unmount_exports(dir, &exports)) {
            r.undone.extend(undone);
        }
        // What is still mounted inside the directory must not be removed from
        // under its mount.
        keep_out.extend(namespace::run_in(n, || mounts_inside(dir)).unwrap_or_default());
    }
    drop(others);
    drop(ns);

    // 6. Lock files.
    for lf in &st.lock_files {
        remove_lock_file(lf, r);
    }
}

/// The recorded processes, then the unrecorded ones that run one of `programs`
/// with an argument inside the session's directory, started no earlier than the
/// owner (a crash between starting one and recording it).
fn with_unrecorded(
    recorded: &[ProcessRecord],
    dir: &Path,
    owner_start: u64,
    programs: &[&str],
) -> Vec<ProcessRecord> {
    let mut out = recorded.to_vec();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return out;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if out.iter().any(|r| r.pid == pid) {
            continue;
        }
        let Some(argv) = state::cmdline(pid) else {
            continue;
        };
        let program = argv
            .first()
            .and_then(|a| Path::new(a).file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !programs.contains(&program.as_str()) || !SESSION_PROGRAMS.contains(&program.as_str()) {
            continue;
        }
        let names_dir = argv.iter().any(|a| is_inside(Path::new(a), dir))
            || argv.iter().filter_map(|a| a.split_once('=')).any(|(_, v)| {
                v.split(',')
                    .any(|w| is_inside(Path::new(w.trim_start_matches("path=")), dir))
            });
        if !names_dir {
            continue;
        }
        if let Some(rec) = state::process_record(pid, &format!("{program} (not recorded)"))
            && rec.start_time >= owner_start
        {
            out.push(rec);
        }
    }
    out
}

/// Stop `p` if it is still the recorded process (`id`: what [`process::identify`]
/// found).
fn stop_recorded(
    p: &ProcessRecord,
    id: Identity,
    grace: Duration,
    term: Duration,
    r: &mut ReapedSession,
) {
    let name = p
        .cmdline
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "process".into());
    let subject = format!("{name} (pid {})", p.pid);
    match id {
        Identity::Gone => {}
        Identity::Other(why) => {
            r.skipped
                .push(CleanupItem::new(CleanupKind::StopProcess, subject, why))
        }
        Identity::Same(fd) => match process::stop(&fd, grace, term) {
            Ok(how) => {
                let detail = match how {
                    Stopped::ExitedByItself => "exited once its mount was gone",
                    Stopped::Terminated => "SIGTERM",
                    Stopped::Killed => "SIGKILL, after SIGTERM was not enough",
                    Stopped::Stuck => {
                        r.skipped.push(CleanupItem::new(
                            CleanupKind::StopProcess,
                            subject,
                            "still running after SIGKILL (stuck in the kernel)",
                        ));
                        return;
                    }
                };
                r.undone
                    .push(CleanupItem::new(CleanupKind::StopProcess, subject, detail));
            }
            Err(e) => r
                .skipped
                .push(CleanupItem::new(CleanupKind::StopProcess, subject, e)),
        },
    }
}

/// Whether the mount `m` the kernel shows is the one `rec` records.
fn is_recorded_mount(rec: &MountRecord, m: &MountInfo) -> bool {
    match &rec.mounted {
        Some(a) => m.fstype == a.fstype && m.source == a.source && m.dev == a.dev,
        // Being made when the session died: what was being mounted.
        None => match &rec.fuse_driver {
            None => m.source == rec.source.to_string_lossy() && m.fstype == rec.fstype,
            Some(_) => m.fstype == "fuseblk" || m.fstype.starts_with("fuse."),
        },
    }
}

/// What [`unmount_top_if_recorded`] did.
enum Step {
    /// Nothing is mounted there (any more).
    Gone,
    Undone(CleanupItem),
    Skipped(CleanupItem),
}

/// Unmount the top mount at `rec.host_path` if it is the one recorded; else
/// say what is there instead of the session's `owner`. `describe` names what
/// was unmounted.
fn unmount_top_if_recorded(
    rec: &MountRecord,
    owner: String,
    describe: impl Fn(&MountInfo) -> String,
) -> Step {
    let mounts = state::own_mounts();
    let Some(top) = mounts.iter().rev().find(|m| m.mount_point == rec.host_path) else {
        return Step::Gone;
    };
    let item =
        |detail: String| CleanupItem::new(CleanupKind::Unmount, rec.host_path.display(), detail);
    if !is_recorded_mount(rec, top) {
        return Step::Skipped(item(format!(
            "{} from {} is mounted there now, not the session's {owner}",
            top.fstype, top.source
        )));
    }
    match unmount_one(&rec.host_path) {
        Ok("") => Step::Undone(item(describe(top))),
        Ok(how) => Step::Undone(item(format!("{}; {how}", describe(top)))),
        Err(e) => Step::Skipped(item(std::io::Error::from(e).to_string())),
    }
}

/// Unmount `path` (the top mount there): plainly, retrying while briefly busy,
/// else lazily. The lazy detach is how a dead FUSE mount goes.
fn unmount_one(path: &Path) -> Result<&'static str, nix::errno::Errno> {
    use nix::errno::Errno;
    let mut delay = Duration::from_millis(10);
    let mut last = Errno::EBUSY;
    for _ in 0..5 {
        match nix::mount::umount2(path, MntFlags::UMOUNT_NOFOLLOW) {
            Ok(()) => return Ok(""),
            Err(Errno::EBUSY) => {
                std::thread::sleep(delay);
                delay *= 2;
            }
            Err(e) => {
                last = e;
                break;
            }
        }
    }
    let why = match last {
        Errno::EBUSY => "busy; detached lazily",
        Errno::ENOTCONN | Errno::EIO => "its FUSE driver is gone; detached lazily",
        _ => "detached lazily",
    };
    nix::mount::umount2(path, MntFlags::UMOUNT_NOFOLLOW | MntFlags::MNT_DETACH).map(|()| why)
}

/// Step 1, run in the session's mount namespace.
fn unmount_recorded(
    dir: &Path,
    st: &SessionState,
    exports: &[PathBuf],
) -> (Vec<CleanupItem>, Vec<CleanupItem>) {
    let (mut undone, mut skipped) = (vec![], vec![]);
    // The guest tree's local mount (`mount_local`), outside the directory by
    // nature: only if what is mounted there is still that bind mount.
    for rec in &st.local_mounts {
        let step = unmount_top_if_recorded(rec, "local mount".into(), |_| {
            "the guest tree's local mount".into()
        });
        match step {
            Step::Gone => {}
            Step::Undone(i) => undone.push(i),
            Step::Skipped(i) => skipped.push(i),
        }
    }
    // The last mounted first among equals, then the deepest first.
    let mut order: Vec<&MountRecord> = st.mounts.iter().rev().collect();
    order.sort_by_key(|m| std::cmp::Reverse(m.host_path.components().count()));
    for rec in order {
        if !is_inside(&rec.host_path, dir) {
            skipped.push(CleanupItem::new(
                CleanupKind::Unmount,
                rec.host_path.display(),
                "outside the session's directory",
            ));
            continue;
        }
        // Stacked mounts (a driver's fallback) come off one at a time.
        let owner = format!("{} from {}", rec.fstype, rec.source.display());
        for _ in 0..16 {
            let step = unmount_top_if_recorded(rec, owner.clone(), |top| {
                format!("{} {} of {}", top.fstype, top.source, rec.device)
            });
            match step {
                Step::Gone => break,
                Step::Undone(i) => undone.push(i),
                Step::Skipped(i) => {
                    skipped.push(i);
                    break;
                }
            }
        }
    }
    // Mounted inside the directory but not recorded: not ours to undo.
    for m in state::own_mounts() {
        if is_inside(&m.mount_point, dir)
            && !exports.contains(&m.mount_point)
            && !st.mounts.iter().any(|r| r.host_path == m.mount_point)
        {
            skipped.push(CleanupItem::new(
                CleanupKind::Unmount,
                m.mount_point.display(),
                format!(
                    "{} from {} is not a mount the session recorded",
                    m.fstype, m.source
                ),
            ));
        }
    }
    (undone, skipped)
}

/// Step 5's end: a killed daemon leaves its FUSE export mounted (dead). The
/// recorded exports, and any FUSE mount at `run/*/export` in the session's
/// directory (where vmcraft-nbd makes them; one made just before a crash may be
/// unrecorded).
fn unmount_exports(dir: &Path, recorded: &[PathBuf]) -> Vec<CleanupItem> {
    let run = dir.join("run");
    let mut undone = vec![];
    for m in state::own_mounts().iter().rev() {
        let is_export = recorded.contains(&m.mount_point)
            || (m.mount_point.file_name().is_some_and(|n| n == "export")
                && m.mount_point.parent().and_then(Path::parent) == Some(run.as_path()));
        if is_export
            && m.fstype == "fuse"
            && nix::mount::umount2(
                &m.mount_point,
                MntFlags::UMOUNT_NOFOLLOW | MntFlags::MNT_DETACH,
            )
            .is_ok()
        {
            undone.push(CleanupItem::new(
                CleanupKind::Unmount,
                m.mount_point.display(),
                "qemu-storage-daemon's FUSE export; detached lazily",
            ));
        }
    }
    undone
}

/// Mount points inside `dir` in this thread's namespace.
fn mounts_inside(dir: &Path) -> Vec<PathBuf> {
    state::own_mounts()
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| is_inside(p, dir))
        .collect()
}

/// Step 3: remove the session's device-mapper devices, checked by UUID, device
/// numbers and the devices under them.
pub(crate) fn deactivate_dm(env: &Env<'_>, st: &SessionState, r: &mut ReapedSession) {
    let loop_names: Vec<String> = st
        .loops
        .iter()
        .filter_map(|l| {
            l.device
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .collect();
    let ours = |slave: &str| {
        // A recorded md array (LUKS or LVM on RAID), checked by stop_md.
        st.md.iter().any(|m| m.name == slave)
            || loop_names.iter().any(|l| {
                slave == l
                    || slave
                        .strip_prefix(l.as_str())
                        .and_then(|rest| rest.strip_prefix('p'))
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
    };
    // An LV on another LV goes first: a few rounds until nothing changes.
    let mut left: Vec<&state::DmRecord> = st.lvm.dm.iter().collect();
    for _ in 0..4 {
        let mut next = Vec::new();
        for rec in left {
            let Some(found) = find_dm(&env.sys_block, &rec.uuid) else {
                continue;
            };
            let kind = if rec.uuid.starts_with("CRYPT-") {
                CleanupKind::CloseMapping
            } else {
                CleanupKind::DeactivateLv
            };
            let dm_names: Vec<String> = st
                .lvm
                .dm
                .iter()
                .filter_map(|d| dm_kernel_name(&env.sys_block, &d.uuid))
                .collect();
            if found.dev != rec.dev
                || found.slaves.is_empty()
                || !found.slaves.iter().all(|s| ours(s) || dm_names.contains(s))
            {
                r.skipped.push(CleanupItem::new(
                    kind,
                    &rec.name,
                    format!(
                        "device-mapper device {} ({}) is not on the session's devices now (on {})",
                        found.kernel_name,
                        found.dev,
                        found.slaves.join(", ")
                    ),
                ));
                continue;
            }
            let cmd = Command::new("dmsetup")
                .args(["remove", "--retry", "--uuid"])
                .arg(&rec.uuid)
                .timeout(Duration::from_secs(60));
            match env.runner.run(&cmd) {
                Ok(_) => r.undone.push(CleanupItem::new(
                    kind,
                    &rec.name,
                    format!("device-mapper {} ({})", found.kernel_name, rec.uuid),
                )),
                Err(e) => next.push((rec, vmcraft_block::error_chain(&e))),
            }
        }
        if next.is_empty() {
            return;
        }
        let progress = next.len() < st.lvm.dm.len();
        left = next.iter().map(|(r, _)| *r).collect();
        if !progress {
            for (rec, why) in next {
                let kind = if rec.uuid.starts_with("CRYPT-") {
                    CleanupKind::CloseMapping
                } else {
                    CleanupKind::DeactivateLv
                };
                r.skipped.push(CleanupItem::new(kind, &rec.name, why));
            }
            return;
        }
    }
}

/// Step 3 (md): stop the recorded md arrays still there with the same device
/// number and only the session's loop devices (`loop_names`: those still bound
/// as recorded) or its recorded device-mapper devices under them; an array
/// that is gone is nothing to do. Run before and after the device-mapper step
/// (an array on a mapping, a mapping on an array); what it leaves is reported
/// only when `last`.
pub(crate) fn stop_md(
    env: &Env<'_>,
    st: &SessionState,
    loop_names: &[String],
    last: bool,
    r: &mut ReapedSession,
) {
    let dm_names: Vec<String> = st
        .lvm
        .dm
        .iter()
        .filter_map(|d| dm_kernel_name(&env.sys_block, &d.uuid))
        .collect();
    let ours = |slave: &str| {
        dm_names.iter().any(|d| d == slave)
            || loop_names.iter().any(|l| {
                slave == l
                    || slave
                        .strip_prefix(l.as_str())
                        .and_then(|rest| rest.strip_prefix('p'))
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
    };
    for rec in &st.md {
        if !rec.name.starts_with("md") || rec.name.contains('/') {
            continue;
        }
        // Stopped by the first pass.
        let done = r
            .undone
            .iter()
            .any(|i| i.kind == CleanupKind::StopArray && i.subject == rec.name);
        if done {
            continue;
        }
        let dir = env.sys_block.join(&rec.name);
        let read = |p: &str| {
            std::fs::read_to_string(dir.join(p))
                .ok()
                .map(|s| s.trim().to_string())
        };
        let Some(dev) = read("dev") else {
            continue;
        };
        let slaves: Vec<String> = std::fs::read_dir(dir.join("slaves"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        if slaves.is_empty() {
            // Stopped already (an inactive array keeps its node a moment).
            continue;
        }
        if dev != rec.dev || !slaves.iter().all(|s| ours(s)) {
            if !last {
                continue;
            }
            r.skipped.push(CleanupItem::new(
                CleanupKind::StopArray,
                &rec.name,
                format!(
                    "md array {} ({dev}) is not on the session's devices now (on {})",
                    rec.name,
                    slaves.join(", ")
                ),
            ));
            continue;
        }
        let cmd = Command::new("mdadm")
            .arg("--stop")
            .arg(format!("/dev/{}", rec.name))
            .timeout(Duration::from_secs(60));
        match env.runner.run(&cmd) {
            Ok(_) => r.undone.push(CleanupItem::new(
                CleanupKind::StopArray,
                &rec.name,
                format!("md array on {}", slaves.join(", ")),
            )),
            Err(e) if last => r.skipped.push(CleanupItem::new(
                CleanupKind::StopArray,
                &rec.name,
                vmcraft_block::error_chain(&e),
            )),
            // Held by a mapping on it: the next pass.
            Err(_) => {}
        }
    }
}

struct FoundDm {
    kernel_name: String,
    dev: String,
    slaves: Vec<String>,
}

fn find_dm(sys_block: &Path, uuid: &str) -> Option<FoundDm> {
    for e in std::fs::read_dir(sys_block).ok()?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("dm-") {
            continue;
        }
        let read = |p: &str| {
            std::fs::read_to_string(e.path().join(p))
                .ok()
                .map(|s| s.trim().to_string())
        };
        if read("dm/uuid").as_deref() != Some(uuid) {
            continue;
        }
        let slaves = std::fs::read_dir(e.path().join("slaves"))
            .map(|d| {
                d.flatten()
                    .map(|s| s.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        return Some(FoundDm {
            kernel_name: name,
            dev: read("dev").unwrap_or_default(),
            slaves,
        });
    }
    None
}

fn dm_kernel_name(sys_block: &Path, uuid: &str) -> Option<String> {
    find_dm(sys_block, uuid).map(|d| d.kernel_name)
}

/// Step 6: a lock file goes only if nobody holds its lock.
fn remove_lock_file(path: &Path, r: &mut ReapedSession) {
    let f = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            r.skipped.push(CleanupItem::new(
                CleanupKind::RemoveLockFile,
                path.display(),
                e,
            ));
            return;
        }
    };
    let ok_owner = f
        .metadata()
        .is_ok_and(|m| m.is_file() && m.uid() == nix::unistd::geteuid().as_raw());
    if !ok_owner {
        r.skipped.push(CleanupItem::new(
            CleanupKind::RemoveLockFile,
            path.display(),
            "not a regular file of this user",
        ));
        return;
    }
    match nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock) {
        // Removed while locked by us: nobody can be holding it meanwhile.
        Ok(held) => match std::fs::remove_file(path) {
            Ok(()) => {
                drop(held);
                r.undone.push(CleanupItem::new(
                    CleanupKind::RemoveLockFile,
                    path.display(),
                    "",
                ));
            }
            Err(e) => r.skipped.push(CleanupItem::new(
                CleanupKind::RemoveLockFile,
                path.display(),
                e,
            )),
        },
        Err(_) => r.skipped.push(CleanupItem::new(
            CleanupKind::RemoveLockFile,
            path.display(),
            "held by a live process",
        )),
    }
}

/// Step 7: remove the directory and what the session kept in it, never crossing
/// into a mount (`keep_out`, or another device) or following a symlink.
fn remove_tree(dir: &Path, r: &mut ReapedSession, keep_out: &[PathBuf]) {
    let Ok(top) = std::fs::symlink_metadata(dir) else {
        return;
    };
    // Mount points here (this namespace) are kept out too.
    let mut keep: Vec<PathBuf> = keep_out.to_vec();
    keep.extend(mounts_inside(dir));
    // With something still mounted inside, the state file stays too: the
    // directory is not done with, and a later pass reads it again.
    if keep.iter().any(|k| is_inside(k, dir)) {
        keep.push(dir.join(crate::state::STATE_FILE));
    }
    let mut blocked = Vec::new();
    remove_below(dir, top.dev(), &keep, &mut blocked);
    blocked.retain(|b| !b.ends_with(crate::state::STATE_FILE));
    for b in &blocked {
        r.skipped.push(CleanupItem::new(
            CleanupKind::RemoveDirectory,
            b.display(),
            "something is mounted there (or it is on another filesystem); left in place",
        ));
    }
    match std::fs::remove_dir(dir) {
        Ok(()) => {
            r.removed = true;
            r.undone.push(CleanupItem::new(
                CleanupKind::RemoveDirectory,
                dir.display(),
                "",
            ));
        }
        Err(e) if blocked.is_empty() => r.skipped.push(CleanupItem::new(
            CleanupKind::RemoveDirectory,
            dir.display(),
            e,
        )),
        Err(_) => {}
    }
}

fn remove_below(dir: &Path, dev: u64, keep: &[PathBuf], blocked: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if keep.contains(&p) {
            blocked.push(p);
            continue;
        }
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if m.dev() != dev {
            blocked.push(p);
            continue;
        }
        if m.is_dir() {
            remove_below(&p, dev, keep, blocked);
            if keep.iter().any(|k| k.starts_with(&p)) {
                continue;
            }
            let _ = std::fs::remove_dir(&p);
        } else {
            let _ = std::fs::remove_file(&p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{DmRecord, LoopRecord, LvmRecord, MountedAs};

    fn mi(dev: &str, fstype: &str, source: &str) -> MountInfo {
        MountInfo {
            dev: dev.into(),
            mount_point: "/x".into(),
            fstype: fstype.into(),
            source: source.into(),
        }
    }

    #[test]
    fn a_mount_is_ours_only_if_the_kernel_shows_what_was_recorded() {
        let mut rec = MountRecord {
            host_path: "/x".into(),
            device: "/dev/sda1".into(),
            source: "/dev/loop3p1".into(),
            fstype: "ext4".into(),
            fuse_driver: None,
            mounted: None,
        };
        // Being made: source and type.
        assert!(is_recorded_mount(
            &rec,
            &mi("259:1", "ext4", "/dev/loop3p1")
        ));
        assert!(!is_recorded_mount(&rec, &mi("0:40", "tmpfs", "tmpfs")));
        rec.mounted = Some(MountedAs {
            dev: "259:1".into(),
            fstype: "ext4".into(),
            source: "/dev/loop3p1".into(),
        });
        assert!(is_recorded_mount(
            &rec,
            &mi("259:1", "ext4", "/dev/loop3p1")
        ));
        // Same path and source, another filesystem (device numbers differ).
        assert!(!is_recorded_mount(
            &rec,
            &mi("259:2", "ext4", "/dev/loop3p1")
        ));
        let fuse = MountRecord {
            fuse_driver: Some("fusefat".into()),
            fstype: "vfat".into(),
            ..rec.clone()
        };
        let fuse = MountRecord {
            mounted: None,
            ..fuse
        };
        assert!(is_recorded_mount(
            &fuse,
            &mi("0:52", "fuse.fusefat", "fusefat")
        ));
        assert!(!is_recorded_mount(
            &fuse,
            &mi("0:52", "ext4", "/dev/loop3p1")
        ));
    }

    fn fake_dm(root: &Path, kname: &str, uuid: &str, dev: &str, slaves: &[&str]) {
        let d = root.join(kname);
        std::fs::create_dir_all(d.join("dm")).unwrap();
        std::fs::create_dir_all(d.join("slaves")).unwrap();
        std::fs::write(d.join("dm/uuid"), format!("{uuid}\n")).unwrap();
        std::fs::write(d.join("dev"), format!("{dev}\n")).unwrap();
        for s in slaves {
            std::fs::create_dir(d.join("slaves").join(s)).unwrap();
        }
    }

    fn session_with_dm(dm: Vec<DmRecord>) -> SessionState {
        SessionState {
            loops: vec![LoopRecord {
                device: "/dev/loop3".into(),
                ..Default::default()
            }],
            lvm: LvmRecord {
                vgs: vec!["guest".into()],
                dm,
            },
            ..Default::default()
        }
    }

    #[test]
    fn only_the_sessions_md_arrays_and_luks_mappings_are_stopped() {
        use crate::state::MdRecord;
        use vmcraft_block::testing::{FakeRunner, Response};
        let tmp = tempfile::tempdir().unwrap();
        let md = |kname: &str, dev: &str, slaves: &[&str]| {
            let d = tmp.path().join(kname);
            std::fs::create_dir_all(d.join("slaves")).unwrap();
            std::fs::write(d.join("dev"), format!("{dev}\n")).unwrap();
            for s in slaves {
                std::fs::create_dir(d.join("slaves").join(s)).unwrap();
            }
        };
        // Ours: an array of two partitions, and one on our LUKS mapping.
        md("md127", "9:127", &["loop3p2", "loop3p3"]);
        fake_dm(
            tmp.path(),
            "dm-0",
            "CRYPT-LUKS2-ab-crypt",
            "253:0",
            &["loop3p1"],
        );
        md("md126", "9:126", &["dm-0"]);
        // Recorded, but its number now belongs to the host's array.
        md("md125", "9:125", &["sda1", "sdb1"]);
        // Recorded, other device number (the name was reused).
        md("md124", "9:99", &["loop3p4"]);
        let fake = FakeRunner::new();
        fake.expect(&["mdadm", "--stop", "/dev/md127"], Response::ok(""));
        fake.expect(&["mdadm", "--stop", "/dev/md126"], Response::ok(""));
        fake.expect(
            &[
                "dmsetup",
                "remove",
                "--retry",
                "--uuid",
                "CRYPT-LUKS2-ab-crypt",
            ],
            Response::ok(""),
        );
        let env = Env {
            sys_block: tmp.path().to_path_buf(),
            runner: &fake,
        };
        let mut st = session_with_dm(vec![DmRecord {
            name: "crypt".into(),
            uuid: "CRYPT-LUKS2-ab-crypt".into(),
            dev: "253:0".into(),
        }]);
        st.md = [
            "md127:9:127",
            "md126:9:126",
            "md125:9:125",
            "md124:9:124",
            "md123:9:123",
        ]
        .iter()
        .map(|s| {
            let (name, dev) = s.split_once(':').unwrap();
            MdRecord {
                name: name.into(),
                dev: dev.into(),
            }
        })
        .collect();
        let mut r = ReapedSession {
            dir: "/d".into(),
            owner_pid: None,
            undone: vec![],
            skipped: vec![],
            removed: false,
        };
        let ours = vec!["loop3".to_string()];
        stop_md(&env, &st, &ours, false, &mut r);
        deactivate_dm(&env, &st, &mut r);
        stop_md(&env, &st, &ours, true, &mut r);
        fake.verify();
        let undone: Vec<(&str, CleanupKind)> = r
            .undone
            .iter()
            .map(|i| (i.subject.as_str(), i.kind))
            .collect();
        assert_eq!(
            undone,
            [
                ("md127", CleanupKind::StopArray),
                ("md126", CleanupKind::StopArray),
                ("crypt", CleanupKind::CloseMapping)
            ]
        );
        let skipped: Vec<&str> = r.skipped.iter().map(|i| i.subject.as_str()).collect();
        assert_eq!(skipped, ["md125", "md124"]);
        assert!(
            r.skipped[0].detail.contains("sda1"),
            "{}",
            r.skipped[0].detail
        );
    }

    #[test]
    fn only_the_sessions_lv_devices_are_removed() {
        use vmcraft_block::testing::{FakeRunner, Response};
        let tmp = tempfile::tempdir().unwrap();
        fake_dm(tmp.path(), "dm-0", "LVM-ours", "253:0", &["loop3p2"]);
        // Recorded, but now on a device that is not the session's.
        fake_dm(tmp.path(), "dm-1", "LVM-moved", "253:1", &["sda2"]);
        // Recorded, same UUID, other device numbers (a clone's).
        fake_dm(tmp.path(), "dm-2", "LVM-clone", "253:9", &["loop3p1"]);
        let fake = FakeRunner::new();
        fake.expect(
            &["dmsetup", "remove", "--retry", "--uuid", "LVM-ours"],
            Response::ok(""),
        );
        let env = Env {
            sys_block: tmp.path().to_path_buf(),
            runner: &fake,
        };
        let st = session_with_dm(vec![
            DmRecord {
                name: "guest-root".into(),
                uuid: "LVM-ours".into(),
                dev: "253:0".into(),
            },
            DmRecord {
                name: "guest-moved".into(),
                uuid: "LVM-moved".into(),
                dev: "253:1".into(),
            },
            DmRecord {
                name: "guest-clone".into(),
                uuid: "LVM-clone".into(),
                dev: "253:2".into(),
            },
            DmRecord {
                name: "guest-gone".into(),
                uuid: "LVM-gone".into(),
                dev: "253:3".into(),
            },
        ]);
        let mut r = ReapedSession {
            dir: "/d".into(),
            owner_pid: None,
            undone: vec![],
            skipped: vec![],
            removed: false,
        };
        deactivate_dm(&env, &st, &mut r);
        fake.verify();
        assert_eq!(r.undone.len(), 1, "{r:?}");
        assert_eq!(r.undone[0].subject, "guest-root");
        let skipped: Vec<&str> = r.skipped.iter().map(|i| i.subject.as_str()).collect();
        assert_eq!(skipped, ["guest-moved", "guest-clone"]);
        assert!(
            r.skipped[0].detail.contains("sda2"),
            "{}",
            r.skipped[0].detail
        );
    }

    #[test]
    fn the_tree_is_removed_but_never_below_a_kept_mount_point() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vmcraft-1-0000abcd");
        std::fs::create_dir_all(dir.join("root/etc")).unwrap();
        std::fs::write(dir.join("root/etc/precious"), b"guest data").unwrap();
        std::fs::create_dir_all(dir.join("run/vmcraft-qsd-x")).unwrap();
        std::fs::write(dir.join("run/vmcraft-qsd-x/qsd.pid"), b"1").unwrap();
        std::fs::write(dir.join("state.json"), b"{}").unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("link")).unwrap();
        let mut r = ReapedSession {
            dir: dir.clone(),
            owner_pid: None,
            undone: vec![],
            skipped: vec![],
            removed: false,
        };
        // `root` stands for a mount point: nothing below it is touched.
        remove_tree(&dir, &mut r, &[dir.join("root")]);
        assert!(!r.removed);
        assert_eq!(
            std::fs::read(dir.join("root/etc/precious")).unwrap(),
            b"guest data"
        );
        assert!(!dir.join("run").exists());
        assert!(
            dir.join("state.json").exists(),
            "kept while a mount is inside"
        );
        assert!(!dir.join("link").exists(), "the symlink itself is removed");
        assert!(Path::new("/etc").exists(), "not followed");
        assert_eq!(r.skipped.len(), 1, "{r:?}");
        // Once nothing is kept out, all of it goes.
        let mut r2 = ReapedSession {
            skipped: vec![],
            undone: vec![],
            ..r.clone()
        };
        remove_tree(&dir, &mut r2, &[]);
        assert!(r2.removed && !dir.exists());
    }
}
