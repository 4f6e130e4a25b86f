//! The mount table as `/proc/PID/mountinfo` shows it, and the question the
//! worker asks of it: which mounts a process confined to a directory can
//! reach (to refuse kernel filesystems among them, and, when it has no
//! `nodev` copy of them, mounts without `nodev`).
//!
//! A table lists every mount of a namespace that the reader's root reaches,
//! hidden ones included: a mount stacked on another (`mount` twice on the
//! same directory) or on a directory above another's mount point covers it,
//! and both stay listed. [`visible`] follows the parent links and keeps only
//! what a path walk can reach; a hidden mount cannot be opened through.

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// One line of `/proc/PID/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    pub(crate) id: u64,
    pub(crate) parent: u64,
    /// Relative to the root of the process that opened the table.
    pub(crate) mount_point: PathBuf,
    /// The per-mount options (`rw`, `nodev`, `relatime`, ...), not those of
    /// the filesystem.
    pub(crate) options: Vec<String>,
    pub(crate) fstype: String,
}

impl Mount {
    pub(crate) fn has_option(&self, option: &str) -> bool {
        self.options.iter().any(|o| o == option)
    }

    /// Whether device nodes on this mount cannot be opened.
    pub(crate) fn is_nodev(&self) -> bool {
        self.has_option("nodev")
    }

    /// `/tmp/guest (ext4)`, for messages.
    pub(crate) fn describe(&self) -> String {
        format!("{} ({})", self.mount_point.display(), self.fstype)
    }
}

/// Undo the octal escapes (`\040` for a space) of a mountinfo field.
fn unescape(field: &str) -> PathBuf {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// Parse a mountinfo table; malformed lines are skipped.
pub(crate) fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mut fields = left.split(' ');
            let id = fields.next()?.parse().ok()?;
            let parent = fields.next()?.parse().ok()?;
            let mount_point = fields.nth(2)?;
            let options = fields.next()?;
            let fstype = right.split(' ').next()?;
            Some(Mount {
                id,
                parent,
                mount_point: unescape(mount_point),
                options: options.split(',').map(str::to_string).collect(),
                fstype: fstype.to_string(),
            })
        })
        .collect()
}

/// The mounts a path walk from the reader's root can reach, in table order.
///
/// The tops are the mounts whose parent is not listed (it lies outside the
/// reader's root) or is themselves (a namespace's root). From a visible
/// mount, a child mounted on its root directory covers it entirely (only
/// that child and what is visible in it count), and a child is hidden when a
/// sibling is mounted on a directory above its mount point.
pub(crate) fn visible(mounts: &[Mount]) -> Vec<&Mount> {
    let ids: HashSet<u64> = mounts.iter().map(|m| m.id).collect();
    let mut children: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut stack = Vec::new();
    for (i, m) in mounts.iter().enumerate() {
        if m.parent == m.id || !ids.contains(&m.parent) {
            stack.push(i);
        } else {
            children.entry(m.parent).or_default().push(i);
        }
    }
    let mut seen = vec![false; mounts.len()];
    while let Some(i) = stack.pop() {
        let m = &mounts[i];
        let kids = children.get(&m.id).map(Vec::as_slice).unwrap_or(&[]);
        let covering: Vec<usize> = kids
            .iter()
            .copied()
            .filter(|&k| mounts[k].mount_point == m.mount_point)
            .collect();
        if !covering.is_empty() {
            stack.extend(covering);
            continue;
        }
        seen[i] = true;
        // Hidden: a sibling sits on a directory above (a strict ancestor).
        let points: HashSet<&Path> = kids
            .iter()
            .map(|&k| mounts[k].mount_point.as_path())
            .collect();
        for &k in kids {
            let mp = &mounts[k].mount_point;
            let hidden = mp
                .ancestors()
                .skip(1)
                .take_while(|a| a.starts_with(&m.mount_point))
                .any(|a| points.contains(a));
            if !hidden {
                stack.push(k);
            }
        }
    }
    mounts
        .iter()
        .zip(seen)
        .filter_map(|(m, s)| s.then_some(m))
        .collect()
}

/// What a process whose root is `root` reaches: the visible mount that holds
/// `root`, then every visible mount below it, shallowest first. `None` when
/// no visible mount holds `root` (it is outside the reader's root).
pub(crate) fn reachable_from<'a>(mounts: &'a [Mount], root: &Path) -> Option<Vec<&'a Mount>> {
    let visible = visible(mounts);
    let depth = |m: &Mount| m.mount_point.components().count();
    // The deepest visible mount point at or above the root; of two at the
    // same place (not made by the kernel, but be safe), both.
    let holder_depth = visible
        .iter()
        .filter(|m| root.starts_with(&m.mount_point))
        .map(|m| depth(m))
        .max()?;
    let mut found: Vec<&Mount> = visible
        .into_iter()
        .filter(|m| {
            m.mount_point.starts_with(root)
                || (root.starts_with(&m.mount_point) && depth(m) == holder_depth)
        })
        .collect();
    found.sort_by_key(|m| depth(m));
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mount ids and parents as a real table has them: not in tree order.
    const HOST: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
40 27 7:3 / /tmp/guest\\040root rw,nosuid,nodev,noatime shared:7 - ext4 /dev/loop3 rw
44 40 7:4 / /tmp/guest\\040root/boot ro,nodev,relatime,nodiratime - vfat /dev/loop4 rw
45 44 7:5 / /tmp/guest\\040root/boot/efi rw,nosuid,nodev - vfat /dev/loop5 rw
47 27 0:61 / /tmp/guest\\040rootx rw - tmpfs tmpfs rw
48 40 0:60 / /tmp/guest\\040root/var rw,nosymfollow - tmpfs tmpfs rw
garbage line
";

    fn points(ms: &[&Mount]) -> Vec<String> {
        ms.iter()
            .map(|m| format!("{} {}", m.id, m.mount_point.display()))
            .collect()
    }

    fn visible_in(table: &str) -> Vec<String> {
        points(&visible(&parse_mountinfo(table)))
    }

    #[test]
    fn mountinfo_is_parsed_and_unescaped() {
        let mounts = parse_mountinfo(HOST);
        assert_eq!(mounts.len(), 7);
        let m = &mounts[2];
        assert_eq!((m.id, m.parent), (40, 27));
        assert_eq!(m.mount_point, Path::new("/tmp/guest root"));
        assert_eq!(m.options, ["rw", "nosuid", "nodev", "noatime"]);
        assert_eq!(m.fstype, "ext4");
        assert!(m.is_nodev());
        assert!(!mounts[1].is_nodev());
        assert_eq!(m.describe(), "/tmp/guest root (ext4)");
        assert_eq!(unescape("a\\011b\\134c"), Path::new("a\tb\\c"));
        assert_eq!(unescape("trailing\\04"), Path::new("trailing\\04"));
    }

    #[test]
    fn stacked_and_overmounted_mounts_are_hidden() {
        assert_eq!(
            visible_in(HOST),
            [
                "22 /proc",
                "27 /",
                "40 /tmp/guest root",
                "44 /tmp/guest root/boot",
                "45 /tmp/guest root/boot/efi",
                "47 /tmp/guest rootx",
                "48 /tmp/guest root/var",
            ]
        );
        // Stacked: a mount on /boot again has the first as its parent, and
        // covers it and what is mounted in it.
        let stacked = format!("{HOST}50 44 0:70 / /tmp/guest\\040root/boot rw - tmpfs t rw\n");
        assert_eq!(
            visible_in(&stacked),
            [
                "22 /proc",
                "27 /",
                "40 /tmp/guest root",
                "47 /tmp/guest rootx",
                "48 /tmp/guest root/var",
                "50 /tmp/guest root/boot",
            ]
        );
        // Stacked on the root: everything below the first root goes.
        let stacked = format!("{HOST}50 40 0:70 / /tmp/guest\\040root rw - tmpfs t rw\n");
        assert_eq!(
            visible_in(&stacked),
            [
                "22 /proc",
                "27 /",
                "47 /tmp/guest rootx",
                "50 /tmp/guest root"
            ]
        );
        // Overmounted: a mount on /tmp hides its siblings below /tmp, and all
        // that is mounted in them.
        let over = format!("{HOST}51 27 0:71 / /tmp rw - tmpfs t rw\n");
        assert_eq!(visible_in(&over), ["22 /proc", "27 /", "51 /tmp"]);
        // A loop in the parent links reaches nothing.
        assert!(visible_in("1 2 0:1 / /a rw - t t rw\n2 1 0:2 / /b rw - t t rw\n").is_empty());
    }

    #[test]
    fn a_namespace_root_is_its_own_parent() {
        // As a process whose root is its namespace's root (a container's)
        // sees its table.
        let table = "\
60 60 7:3 / / rw,nodev - ext4 /dev/loop3 rw
61 60 7:4 / /boot rw,nodev - vfat /dev/loop4 rw
";
        let mounts = parse_mountinfo(table);
        assert_eq!(points(&visible(&mounts)), ["60 /", "61 /boot"]);
        let r = reachable_from(&mounts, Path::new("/")).unwrap();
        assert_eq!(points(&r), ["60 /", "61 /boot"]);
    }

    #[test]
    fn what_a_root_reaches_shallowest_first() {
        let mounts = parse_mountinfo(HOST);
        let r = reachable_from(&mounts, Path::new("/tmp/guest root")).unwrap();
        assert_eq!(
            points(&r),
            [
                "40 /tmp/guest root",
                "44 /tmp/guest root/boot",
                "48 /tmp/guest root/var",
                "45 /tmp/guest root/boot/efi",
            ]
        );
        // A directory that is no mount point: the mount holding it.
        let r = reachable_from(&mounts, Path::new("/srv/guest")).unwrap();
        assert_eq!(points(&r), ["27 /"]);
        let r = reachable_from(&mounts, Path::new("/tmp/guest root/etc")).unwrap();
        assert_eq!(points(&r), ["40 /tmp/guest root"]);
        // A sibling sharing the name's prefix is not below the root.
        let r = reachable_from(&mounts, Path::new("/tmp/guest")).unwrap();
        assert_eq!(points(&r), ["27 /"]);
        // A hidden mount holds nothing: the one over it does.
        let over = format!("{HOST}51 27 0:71 / /tmp rw - tmpfs t rw\n");
        let mounts = parse_mountinfo(&over);
        let r = reachable_from(&mounts, Path::new("/tmp/guest root")).unwrap();
        assert_eq!(points(&r), ["51 /tmp"]);
        // Nothing visible at all.
        assert!(reachable_from(&[], Path::new("/x")).is_none());
    }
}
