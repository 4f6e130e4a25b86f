//! The facade-level leak check: what `vmcraft_block::testing::leaks` finds (mounts
//! in this process's namespace, loop devices, processes naming the test's tag),
//! plus mounts in *every* mount namespace (the `vmcraft` command mounts in a
//! private one, which lives on while a process it started does), processes whose
//! environment names the tag (every child of a session run with the test's
//! TMPDIR: FUSE drivers, qemu, lvm2), FUSE and qemu processes by name, and
//! VMCraft's files in the test directory (session directories with their state
//! files, the command line's temporary files).

#![allow(dead_code)]

use std::collections::HashSet;
use std::path::Path;

use vmcraft_block::testing::{TestEnv, leaks};

/// The programs a session starts that could outlive it.
const WATCHED: &[&str] = &[
    "qemu-storage-daemon",
    "qemu-storage-da",
    "qemu-nbd",
    "fusefat",
    "ntfs-3g",
    "lowntfs-3g",
    "fuse2fs",
    "lvm",
];

fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
                .collect()
        })
        .unwrap_or_default()
}

fn read_lossy(path: impl AsRef<Path>) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// `(state, utime + stime ticks)` of a process.
fn cpu(pid: u32) -> (char, u64) {
    let stat = read_lossy(format!("/proc/{pid}/stat"));
    let rest = stat.rfind(')').map(|i| &stat[i + 1..]).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let st = f.first().and_then(|s| s.chars().next()).unwrap_or('?');
    let t = f.get(11).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    (st, t)
}

/// Everything left on the host that belongs to the test `env`.
pub fn all_leaks(env: &TestEnv) -> Vec<String> {
    let tag = env.tag();
    let me = std::process::id();
    let mut out: Vec<String> = leaks(tag)
        .into_iter()
        .filter(|l| !l.starts_with("process "))
        .collect();
    // Mounts, in every mount namespace.
    let mut seen = HashSet::new();
    let own = std::fs::read_link("/proc/self/ns/mnt").ok();
    seen.extend(own);
    for pid in pids() {
        let Ok(ns) = std::fs::read_link(format!("/proc/{pid}/ns/mnt")) else {
            continue;
        };
        if !seen.insert(ns.clone()) {
            continue;
        }
        for line in read_lossy(format!("/proc/{pid}/mountinfo")).lines() {
            if line.contains(tag) {
                let mp = line.split(' ').nth(4).unwrap_or(line);
                out.push(format!("mount {mp} in {} (pid {pid})", ns.display()));
            }
        }
    }
    // Processes: by command line, by environment (children of a session run
    // with the test's TMPDIR), watched programs by either.
    for pid in pids() {
        if pid == me {
            continue;
        }
        let cmdline = read_lossy(format!("/proc/{pid}/cmdline"));
        if cmdline.is_empty() {
            // A kernel thread or a zombie: nothing left running.
            continue;
        }
        let environ = read_lossy(format!("/proc/{pid}/environ"));
        if cmdline.contains(tag) || environ.contains(tag) {
            let comm = read_lossy(format!("/proc/{pid}/comm"));
            let (st, ticks) = cpu(pid);
            let watched = WATCHED.contains(&comm.trim());
            out.push(format!(
                "{} {pid} ({}, state {st}, {ticks} cpu ticks): {}",
                if watched {
                    "FUSE/qemu/lvm process"
                } else {
                    "process"
                },
                comm.trim(),
                cmdline.trim()
            ));
        }
    }
    // VMCraft's files in the test directory.
    if let Ok(d) = std::fs::read_dir(env.path()) {
        for e in d.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("vmcraft-") {
                let state = if e.path().join("state.json").exists() {
                    " (with a state file)"
                } else {
                    ""
                };
                out.push(format!("VMCraft file {}{state}", e.path().display()));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Wait until nothing belonging to `env` is left, for at most `guard` (a hang
/// guard, not a timing assertion); what is left then.
pub fn settle(env: &TestEnv, guard: std::time::Duration) -> Vec<String> {
    settle_where(env, guard, |_| true)
}

/// [`settle`], waiting only for what is not a VMCraft file (a killed session's
/// directory stays until a reaper removes it); what is left then, files
/// included.
pub fn settle_but_files(env: &TestEnv, guard: std::time::Duration) -> Vec<String> {
    settle_where(env, guard, |l| !l.starts_with("VMCraft file"))
}

fn settle_where(
    env: &TestEnv,
    guard: std::time::Duration,
    counts: impl Fn(&str) -> bool,
) -> Vec<String> {
    let end = std::time::Instant::now() + guard;
    let mut delay = std::time::Duration::from_millis(5);
    loop {
        let left = all_leaks(env);
        if !left.iter().any(|l| counts(l)) || std::time::Instant::now() >= end {
            return left;
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(std::time::Duration::from_millis(200));
    }
}
