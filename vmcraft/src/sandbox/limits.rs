//! What a guest command may use: a transient cgroup (memory and process count)
//! where this process may make one, resource limits (`setrlimit`) always.
//!
//! A cgroup is made under this process's own, one per controller hierarchy
//! (cgroup v1: `pids` and `memory`, each where its directory is writable; v2:
//! the unified hierarchy, where the parent delegates `memory` and `pids`), named
//! `vmcraft-sandbox-PID-N`. The sandbox's first process joins it before it
//! execs bubblewrap (it writes `0` to `cgroup.procs`), so everything the guest
//! command forks is counted. The group is removed once the command's processes
//! are gone; the groups a killed process left behind (empty, since its
//! sandboxes died with it) are removed by the next process that makes one.
//! Where no cgroup can be made (no permission, v2 without delegation)
//! the resource limits stand in: `RLIMIT_DATA` for memory, and `RLIMIT_NPROC`
//! for processes, which the kernel counts over every process of the real user
//! (root): it is set to the host's current count plus the allowance, so a fork
//! bomb stops there instead of filling the host's process table.
//!
//! Always: `RLIMIT_CORE` so that a crashing guest binary leaves no core file in
//! the guest tree and is not handed to the host's core handler (where the host
//! pipes cores to a program, the limit is 1, which the kernel reads as "skip"),
//! and `RLIMIT_FSIZE` when a file size limit is asked for.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// One resource limit to set in the child: (resource, value).
pub(crate) type Rlimit = (libc::__rlimit_resource_t, libc::rlim_t);

/// The limits the sandbox asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wanted {
    pub(crate) memory: Option<u64>,
    pub(crate) pids: Option<u64>,
    pub(crate) file_size: Option<u64>,
}

/// The transient cgroups of one run, removed on drop (once empty).
#[derive(Debug, Default)]
pub(crate) struct Groups {
    dirs: Vec<PathBuf>,
    /// `cgroup.procs` of each group, open for writing, for the child to join.
    pub(crate) procs: Vec<OwnedFd>,
    pub(crate) memory_limited: bool,
    pub(crate) pids_limited: bool,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// This process's cgroup paths: (controllers, path) per line of
/// `/proc/self/cgroup` (`""` controllers for v2's line `0::/path`).
fn own_cgroups() -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string("/proc/self/cgroup") else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _id = it.next()?;
            let ctl = it.next()?.to_string();
            let path = it.next()?.to_string();
            Some((ctl, path))
        })
        .collect()
}

impl Groups {
    /// Make the groups `wanted` needs where this process may; whatever cannot be
    /// made is left to the resource limits.
    pub(crate) fn make(wanted: &Wanted) -> Groups {
        let mut g = Groups::default();
        if wanted.memory.is_none() && wanted.pids.is_none() {
            return g;
        }
        let name = format!(
            "vmcraft-sandbox-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let base = Path::new("/sys/fs/cgroup");
        let parents = parent_dirs(base);
        static SWEPT: std::sync::Once = std::sync::Once::new();
        SWEPT.call_once(|| sweep_stale(&parents));
        for (ctl, path) in own_cgroups() {
            let rel = path.trim_start_matches('/');
            if ctl.is_empty() {
                // v2: only where the parent delegates the controllers.
                let parent = if base.join("cgroup.controllers").exists() {
                    base.join(rel)
                } else {
                    base.join("unified").join(rel)
                };
                let delegated = std::fs::read_to_string(parent.join("cgroup.subtree_control"))
                    .unwrap_or_default();
                let mem =
                    wanted.memory.is_some() && delegated.split_whitespace().any(|c| c == "memory");
                let pids =
                    wanted.pids.is_some() && delegated.split_whitespace().any(|c| c == "pids");
                if !mem && !pids {
                    continue;
                }
                let mut limits = Vec::new();
                if mem {
                    limits.push(("memory.max", wanted.memory.unwrap_or(0)));
                    limits.push(("memory.swap.max", 0));
                }
                if pids {
                    limits.push(("pids.max", wanted.pids.unwrap_or(0)));
                }
                if g.add(&parent.join(&name), &limits) {
                    g.memory_limited |= mem;
                    g.pids_limited |= pids;
                }
            } else {
                for c in ctl.split(',') {
                    let (limit, value) = match c {
                        "memory" => match wanted.memory {
                            Some(m) => ("memory.limit_in_bytes", m),
                            None => continue,
                        },
                        "pids" => match wanted.pids {
                            Some(p) => ("pids.max", p),
                            None => continue,
                        },
                        _ => continue,
                    };
                    let dir = base.join(c).join(rel).join(&name);
                    if g.add(&dir, &[(limit, value)]) {
                        g.memory_limited |= c == "memory";
                        g.pids_limited |= c == "pids";
                    }
                }
            }
        }
        g
    }

    /// Make one group with `limits`; `false` (and nothing left) when it cannot.
    fn add(&mut self, dir: &Path, limits: &[(&str, u64)]) -> bool {
        if std::fs::create_dir(dir).is_err() {
            return false;
        }
        let ok = limits.iter().all(|(file, value)| {
            // memory.swap.max may be missing (no swap accounting): not an error.
            std::fs::write(dir.join(file), value.to_string()).is_ok() || *file == "memory.swap.max"
        });
        let procs = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.procs"));
        match (ok, procs) {
            (true, Ok(f)) => {
                tracing::debug!(cgroup = %dir.display(), "sandbox cgroup");
                self.dirs.push(dir.to_path_buf());
                self.procs.push(f.into());
                true
            }
            _ => {
                let _ = std::fs::remove_dir(dir);
                false
            }
        }
    }

    /// The raw descriptors the child writes `0` to.
    pub(crate) fn proc_fds(&self) -> Vec<i32> {
        self.procs.iter().map(|f| f.as_raw_fd()).collect()
    }

    /// Whether the kernel killed a process of the groups for want of memory
    /// (`oom_kill` in v2's `memory.events` or v1's `memory.oom_control`).
    pub(crate) fn oom_killed(&self) -> bool {
        self.dirs.iter().any(|d| {
            ["memory.events", "memory.oom_control"].iter().any(|f| {
                std::fs::read_to_string(d.join(f)).is_ok_and(|text| {
                    text.lines().any(|l| {
                        l.strip_prefix("oom_kill ")
                            .and_then(|n| n.trim().parse::<u64>().ok())
                            .is_some_and(|n| n > 0)
                    })
                })
            })
        })
    }

    /// Kill every process left in the groups (v2's `cgroup.kill`, else each pid
    /// listed).
    pub(crate) fn kill_all(&self) {
        for d in &self.dirs {
            if std::fs::write(d.join("cgroup.kill"), "1").is_ok() {
                continue;
            }
            if let Ok(list) = std::fs::read_to_string(d.join("cgroup.procs")) {
                for pid in list.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    // SAFETY: kill takes a pid and a signal.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
    }
}

impl Drop for Groups {
    fn drop(&mut self) {
        self.procs.clear();
        for d in &self.dirs {
            // Empty by now (the sandbox's processes are gone); a group the kernel
            // still holds for a moment is retried briefly.
            for _ in 0..50 {
                if std::fs::remove_dir(d).is_ok() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
    }
}

/// The directories this process makes its groups in (whether or not it may).
fn parent_dirs(base: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for (ctl, path) in own_cgroups() {
        let rel = path.trim_start_matches('/');
        if ctl.is_empty() {
            v.push(base.join(rel));
            v.push(base.join("unified").join(rel));
        } else {
            v.extend(ctl.split(',').map(|c| base.join(c).join(rel)));
        }
    }
    v
}

/// Remove the groups a killed process left (`vmcraft-sandbox-PID-N` whose PID
/// is gone; its sandbox died with it, so the group is empty and `rmdir` takes
/// it; a group that is not empty is left as it is).
fn sweep_stale(parents: &[PathBuf]) {
    for dir in parents {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix("vmcraft-sandbox-")
                .and_then(|r| r.split('-').next())
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                match std::fs::remove_dir(e.path()) {
                    Ok(()) => {
                        tracing::debug!(cgroup = %e.path().display(), "removed a stale sandbox cgroup")
                    }
                    Err(err) => {
                        tracing::debug!(cgroup = %e.path().display(), error = %err, "stale sandbox cgroup kept")
                    }
                }
            }
        }
    }
}

/// The number of processes whose real user is root, as the kernel counts them
/// for `RLIMIT_NPROC` (each thread counts).
fn root_tasks() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut n = 0u64;
    for e in dir.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        let real_root = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next())
            == Some("0");
        if real_root {
            let threads = status
                .lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(1u64);
            n += threads;
        }
    }
    n
}

/// Whether the host pipes core dumps to a program.
fn core_piped() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/core_pattern").is_ok_and(|p| p.starts_with('|'))
}

/// The resource limits for the child, given which cgroup limits took.
pub(crate) fn rlimits(wanted: &Wanted, groups: &Groups) -> Vec<Rlimit> {
    let mut v: Vec<Rlimit> = vec![(libc::RLIMIT_CORE, if core_piped() { 1 } else { 0 })];
    if let Some(f) = wanted.file_size {
        v.push((libc::RLIMIT_FSIZE, f));
    }
    if let Some(m) = wanted.memory
        && !groups.memory_limited
    {
        v.push((libc::RLIMIT_DATA, m));
    }
    if let Some(p) = wanted.pids
        && !groups.pids_limited
    {
        v.push((libc::RLIMIT_NPROC, root_tasks() + p));
    }
    v
}

/// Set `limits` in the child (between fork and exec: system calls only).
pub(crate) fn apply(limits: &[Rlimit]) -> std::io::Result<()> {
    for &(res, value) in limits {
        let r = libc::rlimit {
            rlim_cur: value,
            rlim_max: value,
        };
        // SAFETY: setrlimit reads the struct we pass.
        if unsafe { libc::setrlimit(res, &r) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Join the groups whose `cgroup.procs` descriptors are `fds` (in the child).
pub(crate) fn join(fds: &[i32]) -> std::io::Result<()> {
    for &fd in fds {
        // SAFETY: write of two bytes from a static buffer to our descriptor.
        if unsafe { libc::write(fd, b"0\n".as_ptr().cast(), 2) } != 2 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
