//! What `/proc` and sysfs say about processes, mount namespaces, mounts and loop
//! devices: the facts the state file records and the reaper checks again before
//! it touches anything.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::ProcessRecord;

/// A process's start time in clock ticks since boot (`/proc/PID/stat` field 22).
/// With the pid and the boot id it names one process for good: a pid reused by
/// another process has another start time.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

/// Field 22 of a `/proc/PID/stat` line. The command name (field 2) is in
/// parentheses and may hold spaces and parentheses itself: count from the last
/// `)`.
pub(crate) fn parse_start_time(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // `rest` starts at field 3 (the state).
    rest.split_whitespace().nth(22 - 3)?.parse().ok()
}

/// A process's state letter (`R`, `S`, `Z`, ...), field 3 of `/proc/PID/stat`.
pub(crate) fn state_letter(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().next()?.chars().next()
}

/// A process's argument vector, from `/proc/PID/cmdline` (empty for a zombie or
/// a kernel thread).
pub(crate) fn cmdline(pid: u32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter(|w| !w.is_empty())
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect(),
    )
}

/// The record of a running process, or `None` if it is gone.
pub(crate) fn process_record(pid: u32, role: &str) -> Option<ProcessRecord> {
    let start_time = start_time(pid)?;
    let cmdline = cmdline(pid)?;
    // Read the start time again: the cmdline must be the same process's.
    (self::start_time(pid) == Some(start_time)).then(|| ProcessRecord {
        pid,
        start_time,
        cmdline,
        role: role.to_string(),
    })
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`): after a reboot no pid, loop
/// device or mount of an earlier boot can be the same one.
pub(crate) fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The inode number of a mount namespace file (`/proc/PID/ns/mnt` or
/// `/proc/self/ns/mnt`): it names the namespace while it exists.
pub(crate) fn mount_ns_of(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// The calling thread's mount namespace.
pub(crate) fn own_mount_ns() -> Option<u64> {
    mount_ns_of(Path::new("/proc/thread-self/ns/mnt"))
}

/// One line of a mountinfo file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountInfo {
    /// `major:minor` of the mounted filesystem.
    pub dev: String,
    /// The mount point, unescaped.
    pub mount_point: PathBuf,
    /// The filesystem type (`ext4`, `fuse.fusefat`, `fuseblk`).
    pub fstype: String,
    /// The mount source (`/dev/loop3p1`, `fusefat`).
    pub source: String,
}

/// Parse a mountinfo file's text (see proc(5)).
pub(crate) fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            Some(MountInfo {
                dev: l.get(2)?.to_string(),
                mount_point: PathBuf::from(unescape(l.get(4)?)),
                fstype: unescape(r.first()?),
                source: unescape(r.get(1)?),
            })
        })
        .collect()
}

/// The calling thread's mounts (`/proc/thread-self/mountinfo`, so that a thread
/// that entered another mount namespace sees that namespace's).
pub(crate) fn own_mounts() -> Vec<MountInfo> {
    std::fs::read_to_string("/proc/thread-self/mountinfo")
        .map(|t| parse_mountinfo(&t))
        .unwrap_or_default()
}

/// Undo mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
pub(crate) fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What sysfs says about a bound loop device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoopState {
    /// `major:minor`.
    pub dev: String,
    /// The backing file as the kernel names it.
    pub backing_file: PathBuf,
    /// The disk sequence number: it changes every time the device is bound again.
    pub diskseq: Option<u64>,
}

/// The state of loop device `name` (`loop3`) under `sys_block` (`/sys/block`),
/// `None` when it is not bound.
pub(crate) fn loop_state(sys_block: &Path, name: &str) -> Option<LoopState> {
    let dir = sys_block.join(name);
    let backing = std::fs::read_to_string(dir.join("loop/backing_file")).ok()?;
    let dev = std::fs::read_to_string(dir.join("dev")).ok()?;
    let diskseq = std::fs::read_to_string(dir.join("diskseq"))
        .ok()
        .and_then(|s| s.trim().parse().ok());
    Some(LoopState {
        dev: dev.trim().to_string(),
        backing_file: PathBuf::from(backing.trim_end_matches('\n')),
        diskseq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_counts_from_the_last_parenthesis() {
        let stat =
            "1234 (a) b) (c) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200";
        assert_eq!(parse_start_time(stat), Some(987654));
        assert_eq!(parse_start_time("garbage"), None);
        let me = start_time(std::process::id()).unwrap();
        assert!(me > 0);
        assert_eq!(start_time(std::process::id()), Some(me));
    }

    #[test]
    fn mountinfo_lines_are_parsed_and_unescaped() {
        let text = "36 35 7:3 / /tmp/vmcraft-1-0000abcd/root rw,nosuid,nodev shared:1 - ext4 /dev/loop3p1 rw\n\
                    37 36 0:52 / /tmp/a\\040b rw - fuse.fusefat fusefat rw,user_id=0\n";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].dev, "7:3");
        assert_eq!(m[0].fstype, "ext4");
        assert_eq!(m[0].source, "/dev/loop3p1");
        assert_eq!(m[1].mount_point, Path::new("/tmp/a b"));
        assert_eq!(m[1].fstype, "fuse.fusefat");
        assert_eq!(unescape("a\\134b\\011"), "a\\b\t");
        assert_eq!(unescape("trailing\\04"), "trailing\\04");
    }

    #[test]
    fn this_process_is_recorded_as_itself() {
        let r = process_record(std::process::id(), "test").unwrap();
        assert_eq!(r.pid, std::process::id());
        assert!(!r.cmdline.is_empty());
        assert!(own_mount_ns().is_some());
        assert_eq!(boot_id().len(), 36);
    }
}
