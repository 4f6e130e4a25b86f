//! Btrfs and XFS administration on the session's devices and guest paths, with
//! libguestfs's names and semantics: `mkfs_btrfs`, subvolumes and snapshots
//! (`btrfs_subvolume_*`), `btrfs_filesystem_{resize,sync,balance,defragment,show}`,
//! `btrfs_device_{add,delete}`, `btrfs_set_seeding`, `btrfs_fsck`, scrub and
//! balance control, `btrfs_rescue_*`, `xfs_info` (and `xfs_info2`), `xfs_admin`,
//! `xfs_repair`.
//!
//! The tools (btrfs-progs, xfsprogs) run through the session's
//! [`vmcraft_block::CommandRunner`], cancellable with the session's token.
//!
//! Confinement: a guest path (a subvolume, a mount point, a file to defragment) is
//! resolved inside the guest tree with chroot semantics
//! ([`vmcraft_fs::root::GuestRoot`], `openat2(RESOLVE_IN_ROOT)`), so a guest symlink
//! or `..` can never name a host file. The tool is then handed the host path of
//! the exact inode the confined resolution found (read back from
//! `/proc/self/fd/N`, which holds no symlinks), checked to lie under the session's
//! guest root and to be that same inode (device and inode number) before the tool
//! runs. A new subvolume or snapshot is made inside its confined parent
//! directory, by a single name that cannot contain `/` and must not be a
//! symlink (btrfs-progs would follow it on the host).
//!
//! Devices go through the session's resolver (`/dev/sda`, `/dev/vda`, ... all
//! name the same drive; host devices are refused). A call that writes refuses a
//! drive added read-only, and a guest path on a filesystem mounted read-only
//! (which is how a read-only drive is always mounted), before anything runs; the
//! probe caches of the devices it changes are invalidated.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use serde::Serialize;
use vmcraft_block::Command;

use crate::error::{Error, ErrorKind, Result};
use crate::names::{DeviceName, format_device};
use crate::session::{Resolved, VMCraft};

/// `statfs` magic of btrfs.
const BTRFS_SUPER_MAGIC: i64 = 0x9123_683e;
/// `statfs` magic of XFS.
const XFS_SUPER_MAGIC: i64 = 0x5846_5342;
/// The longest XFS label, in bytes.
const XFS_LABEL_MAX: usize = 12;
/// The most lines of tool output parsed into a list (subvolumes, devices).
const MAX_LINES: usize = 1 << 20;

/// One entry of [`VMCraft::btrfs_subvolume_list`] (libguestfs's `btrfssubvolume`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BtrfsSubvolume {
    /// The subvolume ID.
    pub btrfssubvolume_id: u64,
    /// The ID of the subvolume it sits in.
    pub btrfssubvolume_top_level_id: u64,
    /// Its path relative to the top of the filesystem.
    pub btrfssubvolume_path: String,
}

/// One entry of [`VMCraft::btrfs_qgroup_show`] (libguestfs's `btrfsqgroup`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BtrfsQgroup {
    /// The qgroup ID, `LEVEL/ID`.
    pub btrfsqgroup_id: String,
    /// Bytes referenced.
    pub btrfsqgroup_rfer: u64,
    /// Bytes exclusive to it.
    pub btrfsqgroup_excl: u64,
}

/// What [`VMCraft::btrfs_balance_status`] returns (libguestfs's `btrfsbalance`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct BtrfsBalance {
    /// `none`, `running` or `paused`.
    pub btrfsbalance_status: String,
    /// Chunks to balance, about.
    pub btrfsbalance_total: u64,
    /// Chunks balanced.
    pub btrfsbalance_balanced: u64,
    /// Chunks considered.
    pub btrfsbalance_considered: u64,
    /// Percentage left.
    pub btrfsbalance_left: u64,
}

/// What [`VMCraft::btrfs_scrub_status`] returns (libguestfs's `btrfsscrub`):
/// the counters of the last or running scrub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct BtrfsScrub {
    /// Data extents scrubbed.
    pub btrfsscrub_data_extents_scrubbed: u64,
    /// Tree extents scrubbed.
    pub btrfsscrub_tree_extents_scrubbed: u64,
    /// Data bytes scrubbed.
    pub btrfsscrub_data_bytes_scrubbed: u64,
    /// Tree bytes scrubbed.
    pub btrfsscrub_tree_bytes_scrubbed: u64,
    /// Read errors.
    pub btrfsscrub_read_errors: u64,
    /// Checksum errors.
    pub btrfsscrub_csum_errors: u64,
    /// Verify errors.
    pub btrfsscrub_verify_errors: u64,
    /// Blocks without a checksum.
    pub btrfsscrub_no_csum: u64,
    /// Checksums discarded.
    pub btrfsscrub_csum_discards: u64,
    /// Superblock errors.
    pub btrfsscrub_super_errors: u64,
    /// Allocation failures.
    pub btrfsscrub_malloc_errors: u64,
    /// Errors that could not be corrected.
    pub btrfsscrub_uncorrectable_errors: u64,
    /// Errors not verified.
    pub btrfsscrub_unverified_errors: u64,
    /// Errors corrected.
    pub btrfsscrub_corrected_errors: u64,
    /// The last physical address scrubbed.
    pub btrfsscrub_last_physical: u64,
}

/// What [`VMCraft::xfs_info`] returns (libguestfs's `xfsinfo`).
///
/// `xfs_mntpoint` is what `xfs_info` prints after `meta-data=`: the device, by
/// its libguestfs name (or the guest path of an image file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct XfsInfo {
    /// The device (`meta-data=`).
    pub xfs_mntpoint: String,
    /// Inode size in bytes (`isize`).
    pub xfs_inodesize: u32,
    /// Number of allocation groups.
    pub xfs_agcount: u32,
    /// Allocation group size in blocks.
    pub xfs_agsize: u32,
    /// Sector size in bytes.
    pub xfs_sectsize: u32,
    /// Extended attribute version.
    pub xfs_attr: u32,
    /// Data block size in bytes.
    pub xfs_blocksize: u32,
    /// Data blocks.
    pub xfs_datablocks: u64,
    /// Maximum percentage of space for inodes.
    pub xfs_imaxpct: u32,
    /// Stripe unit.
    pub xfs_sunit: u32,
    /// Stripe width in blocks.
    pub xfs_swidth: u32,
    /// Directory (naming) version.
    pub xfs_dirversion: u32,
    /// Directory block size in bytes.
    pub xfs_dirblocksize: u32,
    /// ASCII case-insensitive names (1) or not (0).
    pub xfs_cimode: u32,
    /// The log: `internal log`, or an external device.
    pub xfs_logname: String,
    /// Log block size in bytes.
    pub xfs_logblocksize: u32,
    /// Log size in blocks.
    pub xfs_logblocks: u32,
    /// Log version.
    pub xfs_logversion: u32,
    /// Log sector size in bytes.
    pub xfs_logsectsize: u32,
    /// Log stripe unit in blocks.
    pub xfs_logsunit: u32,
    /// Lazy superblock counters (1) or not (0).
    pub xfs_lazycount: u32,
    /// The realtime section: `none`, or a device.
    pub xfs_rtname: String,
    /// Realtime extent size in bytes.
    pub xfs_rtextsize: u32,
    /// Realtime blocks.
    pub xfs_rtblocks: u64,
    /// Realtime extents.
    pub xfs_rtextents: u64,
}

/// libguestfs's optional arguments to `mkfs_btrfs`.
///
/// ```
/// let o = vmcraft::calls::btrfs_xfs::MkfsBtrfsOptions { label: Some("data".into()), ..Default::default() };
/// assert_eq!(o.nodesize, None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MkfsBtrfsOptions {
    /// Accepted and ignored, as in libguestfs (`--alloc-start` left btrfs-progs
    /// in 4.14.1).
    pub allocstart: Option<i64>,
    /// Size of each device's part of the filesystem in bytes (`--byte-count`).
    pub bytecount: Option<i64>,
    /// Data profile (`--data`): single, dup, raid0, raid1, raid1c3, raid1c4,
    /// raid5, raid6, raid10.
    pub datatype: Option<String>,
    /// The old name of the node size; btrfs-progs 6 dropped `--leafsize`, so it
    /// is passed as `--nodesize` (and must agree with `nodesize` when both are
    /// given).
    pub leafsize: Option<i32>,
    /// Filesystem label (`--label`, at most 255 bytes).
    pub label: Option<String>,
    /// Metadata profile (`--metadata`), the same names as `datatype`.
    pub metadata: Option<String>,
    /// B-tree node size in bytes (`--nodesize`), a power of two.
    pub nodesize: Option<i32>,
    /// Sector size in bytes (`--sectorsize`), a power of two.
    pub sectorsize: Option<i32>,
}

/// libguestfs's optional arguments to `xfs_admin`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XfsAdminOptions {
    /// Enable unwritten extent support (`-e`; old v4 filesystems).
    pub extunwritten: bool,
    /// The device is a file image (`-f`).
    pub imgfile: bool,
    /// Upgrade the log to version 2 (`-j`).
    pub v2log: bool,
    /// Enable 32-bit project IDs (`-p`).
    pub projid32bit: bool,
    /// Lazy superblock counters on or off (`-c 1` / `-c 0`); no effect on v5.
    pub lazycounter: Option<bool>,
    /// New label (`-L`, at most 12 bytes; `--` clears it).
    pub label: Option<String>,
    /// New UUID (`-U`): a UUID, `generate` or `nil`.
    pub uuid: Option<String>,
}

/// libguestfs's optional arguments to `xfs_repair`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XfsRepairOptions {
    /// Zero the log even if it is dirty, losing what it holds (`-L`).
    pub forcelogzero: bool,
    /// Check only, change nothing (`-n`); allowed on a read-only drive.
    pub nomodify: bool,
    /// No prefetching (`-P`).
    pub noprefetch: bool,
    /// Force geometry checks to proceed (`-o force_geometry`).
    pub forcegeometry: bool,
    /// Memory limit in MiB (`-m`).
    pub maxmem: Option<i64>,
    /// Inode hash size (`-o ihash=`).
    pub ihashsize: Option<i64>,
    /// Buffer hash size (`-o bhash=`).
    pub bhashsize: Option<i64>,
    /// AG stride (`-o ag_stride=`).
    pub agstride: Option<i64>,
    /// An external log device (a session device name).
    pub logdev: Option<String>,
    /// A realtime device (a session device name).
    pub rtdev: Option<String>,
}

/// A guest path resolved for a tool: the checked host path of the inode the
/// confined resolution found, and what that inode is on.
struct ToolPath {
    host: PathBuf,
    /// Held while the tool runs, so the inode checked is the inode in use.
    fd: OwnedFd,
    kind: libc::mode_t,
    readonly: bool,
    magic: i64,
}

/// The profiles `mkfs.btrfs` takes for data and metadata.
const BTRFS_PROFILES: [&str; 9] = [
    "single", "dup", "raid0", "raid1", "raid1c3", "raid1c4", "raid5", "raid6", "raid10",
];

fn io_err(call: &str, subject: &str, what: &str, e: impl Into<std::io::Error>) -> Error {
    Error::call_with_source(ErrorKind::Io, call, subject, what.to_string(), e.into())
}

/// A libguestfs `Pathname`: absolute.
fn absolute(call: &str, path: &str) -> Result<()> {
    if !path.starts_with('/') {
        return Err(Error::invalid(
            call,
            path,
            "path must be absolute (start with /)",
        ));
    }
    if path.contains('\0') {
        return Err(Error::invalid(call, path, "path contains a NUL byte"));
    }
    Ok(())
}

/// A qgroup ID, `LEVEL/ID` in decimal.
fn check_qgroupid(call: &str, subject: &str, q: &str) -> Result<()> {
    let ok = q.split_once('/').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
            && a.parse::<u16>().is_ok()
            && b.parse::<u64>().is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            call,
            subject,
            format!("qgroupid '{q}' is not of the form LEVEL/ID (e.g. 0/257)"),
        ))
    }
}

fn positive_power_of_two(call: &str, subject: &str, what: &str, v: i32) -> Result<()> {
    if v <= 0 || !(v as u32).is_power_of_two() {
        return Err(Error::invalid(
            call,
            subject,
            format!("{what} must be > 0 and a power of two (got {v})"),
        ));
    }
    Ok(())
}

/// Split a destination path into its parent (a guest path) and final name.
fn split_dest<'a>(call: &str, dest: &'a str) -> Result<(&'a str, &'a str)> {
    let trimmed = dest.trim_end_matches('/');
    let (parent, name) = match trimmed.rfind('/') {
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => ("", trimmed),
    };
    if name.is_empty() || name == "." || name == ".." {
        return Err(Error::invalid(
            call,
            dest,
            "the destination must end in the name of the new subvolume",
        ));
    }
    if name.len() > 255 {
        return Err(Error::invalid(
            call,
            dest,
            "the new subvolume's name is longer than 255 bytes",
        ));
    }
    Ok((if parent.is_empty() { "/" } else { parent }, name))
}

/// Parse `btrfs subvolume list` output.
pub(crate) fn parse_subvolume_list(out: &str) -> std::result::Result<Vec<BtrfsSubvolume>, String> {
    let mut v = Vec::new();
    for line in out.lines().filter(|l| !l.is_empty()) {
        if v.len() >= MAX_LINES {
            return Err(format!("more than {MAX_LINES} subvolumes"));
        }
        let bad = || format!("unexpected output from 'btrfs subvolume list': {line}");
        let rest = line.strip_prefix("ID ").ok_or_else(bad)?;
        let (id, rest) = rest.split_once(' ').ok_or_else(bad)?;
        let id: u64 = id.parse().map_err(|_| bad())?;
        let (_, rest) = rest.split_once("top level ").ok_or_else(bad)?;
        let (top, rest) = rest.split_once(' ').ok_or_else(bad)?;
        let top: u64 = top.parse().map_err(|_| bad())?;
        let (_, path) = rest.split_once("path ").ok_or_else(bad)?;
        v.push(BtrfsSubvolume {
            btrfssubvolume_id: id,
            btrfssubvolume_top_level_id: top,
            btrfssubvolume_path: path.to_string(),
        });
    }
    Ok(v)
}

/// Parse `btrfs subvolume show` output into libguestfs's hash: the first line
/// (the subvolume's path from the top of the filesystem) as `path`, then each
/// `Key: value` (a value of `-` becomes empty), and the snapshot lines under
/// `Snapshot(s)` joined by commas.
pub(crate) fn parse_subvolume_show(out: &str) -> Vec<(String, String)> {
    let mut v = Vec::new();
    let mut lines = out.lines().peekable();
    if let Some(first) = lines.next() {
        v.push(("path".to_string(), first.trim().to_string()));
    }
    while let Some(line) = lines.next() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        let Some((k, val)) = t.split_once(':') else {
            continue;
        };
        let k = k.trim().to_string();
        if k.starts_with("Snapshot(s)") {
            let mut snaps = Vec::new();
            while let Some(next) = lines.peek() {
                let n = next.trim();
                if n.is_empty() || n.contains(':') {
                    break;
                }
                snaps.push(n.to_string());
                lines.next();
            }
            v.push((k, snaps.join(",")));
            continue;
        }
        let val = val.trim();
        v.push((
            k,
            if val == "-" {
                String::new()
            } else {
                val.to_string()
            },
        ));
    }
    v
}

/// Parse `xfs_info` output into libguestfs's `xfs_info2` hash: each group
/// (`meta-data`, `data`, `naming`, `log`, `realtime`) gives `GROUP` for the
/// words after its `=` (`version 2`, `internal log`, `none`, a device) and
/// `GROUP.FIELD` for each numeric `FIELD=N` (with its unit, `N blks`, where
/// xfs_info writes one).
pub(crate) fn parse_xfs_info(out: &str) -> Vec<(String, String)> {
    let mut v = Vec::new();
    let mut group = String::new();
    for line in out.lines() {
        let Some((head, rest)) = line.split_once('=') else {
            continue;
        };
        let starts_group = !line.starts_with(char::is_whitespace);
        if starts_group {
            group = head.trim().to_string();
        }
        let words: Vec<&str> = rest
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .collect();
        let mut i = 0;
        if starts_group && let Some(first) = words.first().filter(|w| !w.contains('=')) {
            let two = words
                .get(1)
                .filter(|w| !w.contains('=') && (*first == "version" || **w == "log"));
            let value = match two {
                Some(second) => {
                    i = 2;
                    format!("{first} {second}")
                }
                None => {
                    i = 1;
                    first.to_string()
                }
            };
            v.push((group.clone(), value));
        }
        while i < words.len() {
            let w = words[i];
            i += 1;
            let Some((name, value)) = w.split_once('=') else {
                continue;
            };
            let name_ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !name_ok || value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let mut value = value.to_string();
            if let Some(unit) = words.get(i).filter(|u| matches!(**u, "blks" | "extents")) {
                value = format!("{value} {unit}");
                i += 1;
            }
            v.push((format!("{group}.{name}"), value));
        }
    }
    v
}

/// The `xfsinfo` struct from the `xfs_info2` hash; a missing or malformed field
/// is an error naming it.
pub(crate) fn xfs_info_struct(h: &[(String, String)]) -> std::result::Result<XfsInfo, String> {
    fn get<'a>(h: &'a [(String, String)], k: &str) -> std::result::Result<&'a str, String> {
        h.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| format!("xfs_info printed no field {k}"))
    }
    fn num<T: std::str::FromStr>(
        h: &[(String, String)],
        k: &str,
    ) -> std::result::Result<T, String> {
        let v = get(h, k)?;
        let digits = v
            .strip_suffix(" blks")
            .or_else(|| v.strip_prefix("version "))
            .unwrap_or(v);
        digits
            .parse()
            .map_err(|_| format!("xfs_info field {k} is not a number: {v}"))
    }
    Ok(XfsInfo {
        xfs_mntpoint: get(h, "meta-data")?.to_string(),
        xfs_inodesize: num(h, "meta-data.isize")?,
        xfs_agcount: num(h, "meta-data.agcount")?,
        xfs_agsize: num(h, "meta-data.agsize")?,
        xfs_sectsize: num(h, "meta-data.sectsz")?,
        xfs_attr: num(h, "meta-data.attr")?,
        xfs_blocksize: num(h, "data.bsize")?,
        xfs_datablocks: num(h, "data.blocks")?,
        xfs_imaxpct: num(h, "data.imaxpct")?,
        xfs_sunit: num(h, "data.sunit")?,
        xfs_swidth: num(h, "data.swidth")?,
        xfs_dirversion: num(h, "naming")?,
        xfs_dirblocksize: num(h, "naming.bsize")?,
        xfs_cimode: num(h, "naming.ascii-ci")?,
        xfs_logname: get(h, "log")?.to_string(),
        xfs_logblocksize: num(h, "log.bsize")?,
        xfs_logblocks: num(h, "log.blocks")?,
        xfs_logversion: num(h, "log.version")?,
        xfs_logsectsize: num(h, "log.sectsz")?,
        xfs_logsunit: num(h, "log.sunit")?,
        xfs_lazycount: num(h, "log.lazy-count")?,
        xfs_rtname: get(h, "realtime")?.to_string(),
        xfs_rtextsize: num(h, "realtime.extsz")?,
        xfs_rtblocks: num(h, "realtime.blocks")?,
        xfs_rtextents: num(h, "realtime.rtextents")?,
    })
}

/// Parse `btrfs qgroup show --raw`: two heading lines, then `ID RFER EXCL ...`.
pub(crate) fn parse_qgroup_show(out: &str) -> std::result::Result<Vec<BtrfsQgroup>, String> {
    let mut v = Vec::new();
    for line in out.lines().skip(2).filter(|l| !l.trim().is_empty()) {
        if v.len() >= MAX_LINES {
            return Err(format!("more than {MAX_LINES} qgroups"));
        }
        let bad = || format!("cannot parse output of qgroup show command: {line}");
        let mut w = line.split_whitespace();
        let id = w.next().ok_or_else(bad)?;
        if !id.contains('/') || !id.bytes().all(|b| b.is_ascii_digit() || b == b'/') {
            return Err(bad());
        }
        let rfer = w.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
        let excl = w.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
        v.push(BtrfsQgroup {
            btrfsqgroup_id: id.to_string(),
            btrfsqgroup_rfer: rfer,
            btrfsqgroup_excl: excl,
        });
    }
    Ok(v)
}

/// Parse `btrfs balance status`: `No balance found ...`, or `Balance on '...'
/// is running|paused` and `N out of about T chunks balanced (C considered), L%
/// left`.
pub(crate) fn parse_balance_status(out: &str) -> std::result::Result<BtrfsBalance, String> {
    let mut lines = out.lines().filter(|l| !l.trim().is_empty());
    let first = lines
        .next()
        .ok_or("no output from 'btrfs balance status'")?;
    if first.to_lowercase().contains("no balance found") {
        return Ok(BtrfsBalance {
            btrfsbalance_status: "none".into(),
            ..Default::default()
        });
    }
    let status = if first.trim_end().ends_with("is running") {
        "running"
    } else if first.trim_end().ends_with("is paused") {
        "paused"
    } else {
        return Err(format!(
            "unexpected output from 'btrfs balance status': {first}"
        ));
    };
    let second = lines
        .next()
        .ok_or("truncated output from 'btrfs balance status'")?;
    let bad = || format!("unexpected output from 'btrfs balance status': {second}");
    let nums: Vec<u64> = second
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().map_err(|_| bad()))
        .collect::<std::result::Result<_, _>>()?;
    let [balanced, total, considered, left] = nums[..] else {
        return Err(bad());
    };
    Ok(BtrfsBalance {
        btrfsbalance_status: status.into(),
        btrfsbalance_total: total,
        btrfsbalance_balanced: balanced,
        btrfsbalance_considered: considered,
        btrfsbalance_left: left,
    })
}

/// The scrub records btrfs-progs keeps on the host.
fn scrub_records() -> std::collections::HashSet<std::path::PathBuf> {
    std::fs::read_dir("/var/lib/btrfs")
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("scrub."))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Parse `btrfs scrub status -R`: its `name: N` counter lines.
pub(crate) fn parse_scrub_status(out: &str) -> BtrfsScrub {
    let mut s = BtrfsScrub::default();
    for line in out.lines() {
        let Some((k, v)) = line.trim().split_once(':') else {
            continue;
        };
        let Ok(n) = v.trim().parse::<u64>() else {
            continue;
        };
        let field = match k.trim() {
            "data_extents_scrubbed" => &mut s.btrfsscrub_data_extents_scrubbed,
            "tree_extents_scrubbed" => &mut s.btrfsscrub_tree_extents_scrubbed,
            "data_bytes_scrubbed" => &mut s.btrfsscrub_data_bytes_scrubbed,
            "tree_bytes_scrubbed" => &mut s.btrfsscrub_tree_bytes_scrubbed,
            "read_errors" => &mut s.btrfsscrub_read_errors,
            "csum_errors" => &mut s.btrfsscrub_csum_errors,
            "verify_errors" => &mut s.btrfsscrub_verify_errors,
            "no_csum" => &mut s.btrfsscrub_no_csum,
            "csum_discards" => &mut s.btrfsscrub_csum_discards,
            "super_errors" => &mut s.btrfsscrub_super_errors,
            "malloc_errors" => &mut s.btrfsscrub_malloc_errors,
            "uncorrectable_errors" => &mut s.btrfsscrub_uncorrectable_errors,
            "unverified_errors" => &mut s.btrfsscrub_unverified_errors,
            "corrected_errors" => &mut s.btrfsscrub_corrected_errors,
            "last_physical" => &mut s.btrfsscrub_last_physical,
            _ => continue,
        };
        *field = n;
    }
    s
}

/// The `mkfs.btrfs` command for `hosts` (already resolved), validated.
pub(crate) fn mkfs_btrfs_command(
    subject: &str,
    hosts: &[PathBuf],
    o: &MkfsBtrfsOptions,
) -> Result<Command> {
    const CALL: &str = "mkfs_btrfs";
    let mut c = Command::new("mkfs.btrfs").args(["-f", "-q"]);
    if let Some(b) = o.bytecount {
        if b <= 0 {
            return Err(Error::invalid(CALL, subject, "bytecount must be > 0"));
        }
        c = c.arg("--byte-count").arg(b.to_string());
    }
    for (what, p) in [("datatype", &o.datatype), ("metadata", &o.metadata)] {
        if let Some(p) = p
            && !BTRFS_PROFILES.contains(&p.as_str())
        {
            return Err(Error::invalid(
                CALL,
                subject,
                format!(
                    "{what} '{p}' is not one of the allowed values ({})",
                    BTRFS_PROFILES.join(", ")
                ),
            ));
        }
    }
    if let Some(d) = &o.datatype {
        c = c.arg("--data").arg(d);
    }
    if let Some(l) = &o.label {
        if l.len() > 255 {
            return Err(Error::invalid(
                CALL,
                subject,
                format!("label '{l}' is longer than 255 bytes (the btrfs limit)"),
            ));
        }
        c = c.arg("--label").arg(l);
    }
    if let Some(m) = &o.metadata {
        c = c.arg("--metadata").arg(m);
    }
    if let Some(l) = o.leafsize {
        positive_power_of_two(CALL, subject, "leafsize", l)?;
    }
    if let Some(n) = o.nodesize {
        positive_power_of_two(CALL, subject, "nodesize", n)?;
    }
    let nodesize = match (o.nodesize, o.leafsize) {
        (Some(n), Some(l)) if n != l => {
            return Err(Error::invalid(
                CALL,
                subject,
                format!("leafsize {l} and nodesize {n} differ (they name the same size)"),
            ));
        }
        (n, l) => n.or(l),
    };
    if let Some(n) = nodesize {
        c = c.arg("--nodesize").arg(n.to_string());
    }
    if let Some(s) = o.sectorsize {
        positive_power_of_two(CALL, subject, "sectorsize", s)?;
        c = c.arg("--sectorsize").arg(s.to_string());
    }
    Ok(c.args(hosts).timeout(std::time::Duration::from_secs(600)))
}

/// The `xfs_admin` arguments before the device, validated.
pub(crate) fn xfs_admin_command(subject: &str, o: &XfsAdminOptions) -> Result<Command> {
    const CALL: &str = "xfs_admin";
    let mut c = Command::new("xfs_admin");
    for (on, flag) in [
        (o.extunwritten, "-e"),
        (o.imgfile, "-f"),
        (o.v2log, "-j"),
        (o.projid32bit, "-p"),
    ] {
        if on {
            c = c.arg(flag);
        }
    }
    if let Some(l) = o.lazycounter {
        c = c.args(["-c", if l { "1" } else { "0" }]);
    }
    if let Some(l) = &o.label {
        if l.len() > XFS_LABEL_MAX {
            return Err(Error::invalid(
                CALL,
                subject,
                format!("{l}: xfs labels are limited to {XFS_LABEL_MAX} bytes"),
            ));
        }
        c = c.arg("-L").arg(l);
    }
    if let Some(u) = &o.uuid {
        let is_uuid = u.len() == 36
            && u.char_indices().all(|(i, ch)| {
                if matches!(i, 8 | 13 | 18 | 23) {
                    ch == '-'
                } else {
                    ch.is_ascii_hexdigit()
                }
            });
        if !(is_uuid || u == "generate" || u == "nil") {
            return Err(Error::invalid(
                CALL,
                subject,
                format!("uuid '{u}' is not a UUID, 'generate' or 'nil'"),
            ));
        }
        c = c.arg("-U").arg(u);
    }
    Ok(c)
}

/// The `xfs_repair` arguments before the device (devices for `-l`/`-r` already
/// resolved to host nodes), validated.
pub(crate) fn xfs_repair_command(
    subject: &str,
    o: &XfsRepairOptions,
    logdev: Option<&Path>,
    rtdev: Option<&Path>,
) -> Result<Command> {
    const CALL: &str = "xfs_repair";
    let mut c = Command::new("xfs_repair");
    for (on, flag) in [
        (o.forcelogzero, "-L"),
        (o.nomodify, "-n"),
        (o.noprefetch, "-P"),
    ] {
        if on {
            c = c.arg(flag);
        }
    }
    if o.forcegeometry {
        c = c.args(["-o", "force_geometry"]);
    }
    for (what, v) in [
        ("maxmem", o.maxmem),
        ("ihashsize", o.ihashsize),
        ("bhashsize", o.bhashsize),
        ("agstride", o.agstride),
    ] {
        if let Some(v) = v
            && v < 0
        {
            return Err(Error::invalid(
                CALL,
                subject,
                format!("{what} must be >= 0 (got {v})"),
            ));
        }
    }
    if let Some(m) = o.maxmem {
        c = c.arg("-m").arg(m.to_string());
    }
    for (name, v) in [
        ("ihash", o.ihashsize),
        ("bhash", o.bhashsize),
        ("ag_stride", o.agstride),
    ] {
        if let Some(v) = v {
            c = c.arg("-o").arg(format!("{name}={v}"));
        }
    }
    if let Some(l) = logdev {
        c = c.arg("-l").arg(l);
    }
    if let Some(r) = rtdev {
        c = c.arg("-r").arg(r);
    }
    Ok(c)
}

impl VMCraft {
    /// Run a btrfs-progs or xfsprogs command to success, cancellable with the
    /// session's token; a failure names the call and subject, with the command
    /// line, exit status and stderr as its cause.
    fn bx_run(&self, call: &str, subject: &str, cmd: Command) -> Result<vmcraft_block::Output> {
        let cmd = cmd.cancel_on(&self.cancel_token());
        let what = tool_label(&cmd);
        self.runner().run(&cmd).map_err(|e| {
            Error::call_with_source(ErrorKind::Crate, call, subject, format!("{what} failed"), e)
        })
    }

    /// Resolve a guest path (following a final symlink, inside the guest) to
    /// the checked host path of the inode found.
    fn bx_guest_path(&self, call: &str, path: &str) -> Result<ToolPath> {
        absolute(call, path)?;
        let root = self.guest_root_for(call)?;
        let fd = root.resolve(path, true).map_err(|e| {
            Error::call_with_source(
                ErrorKind::InvalidArgument,
                call,
                path,
                "cannot be resolved in the guest tree",
                e,
            )
        })?;
        let st = nix::sys::stat::fstat(&fd).map_err(|e| io_err(call, path, "stat", e))?;
        let host = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .map_err(|e| io_err(call, path, "cannot find the host path", e))?;
        let sysroot = self.sysroot(call)?;
        if !host.starts_with(&sysroot) {
            return Err(Error::call(
                ErrorKind::InvalidArgument,
                call,
                path,
                "resolves outside the guest tree",
            ));
        }
        // The path the tool gets must name the inode that was checked.
        let again = nix::sys::stat::lstat(&host).map_err(|e| io_err(call, path, "stat", e))?;
        if (again.st_dev, again.st_ino) != (st.st_dev, st.st_ino) {
            return Err(Error::call(
                ErrorKind::Busy,
                call,
                path,
                "the guest tree changed while the path was being resolved",
            ));
        }
        let vfs = nix::sys::statvfs::fstatvfs(&fd).map_err(|e| io_err(call, path, "statvfs", e))?;
        let fs = nix::sys::statfs::fstatfs(&fd).map_err(|e| io_err(call, path, "statfs", e))?;
        Ok(ToolPath {
            host,
            fd,
            kind: st.st_mode & libc::S_IFMT,
            readonly: vfs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY),
            #[allow(clippy::unnecessary_cast)]
            magic: fs.filesystem_type().0 as i64,
        })
    }

    /// A guest path on a btrfs filesystem, refused when that is mounted
    /// read-only and `write` is set.
    fn bx_btrfs_path(&self, call: &str, path: &str, write: bool) -> Result<ToolPath> {
        let tp = self.bx_guest_path(call, path)?;
        if tp.magic != BTRFS_SUPER_MAGIC {
            return Err(Error::invalid(call, path, "not on a btrfs filesystem"));
        }
        if write && tp.readonly {
            return Err(Error::call(
                ErrorKind::InvalidArgument,
                call,
                path,
                "the filesystem is mounted read-only (or its drive was added read-only)",
            ));
        }
        Ok(tp)
    }

    /// A guest directory on btrfs, for the btrfs commands that take a
    /// filesystem (`sync`, `balance`, `scrub`, ...).
    fn bx_btrfs_dir(&self, call: &str, path: &str, write: bool) -> Result<ToolPath> {
        let tp = self.bx_btrfs_path(call, path, write)?;
        if tp.kind != libc::S_IFDIR {
            return Err(Error::invalid(call, path, "not a directory"));
        }
        Ok(tp)
    }

    /// Where a new subvolume or snapshot goes: the host path of its confined
    /// parent directory joined with its single name.
    fn bx_dest(&self, call: &str, dest: &str) -> Result<(ToolPath, PathBuf)> {
        absolute(call, dest)?;
        let (parent, name) = split_dest(call, dest)?;
        let tp = self.bx_btrfs_dir(call, parent, true)?;
        // The tool would follow a symlink in the last place (a snapshot goes
        // inside an existing directory), and resolve it on the host: refused.
        match nix::sys::stat::fstatat(&tp.fd, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
                return Err(Error::invalid(
                    call,
                    dest,
                    "is a symbolic link (give the path it points to)",
                ));
            }
            _ => {}
        }
        let host = tp.host.join(name);
        Ok((tp, host))
    }

    /// A device of the session, refused when it is mounted (`mounted_ok` off)
    /// or when its drive was added read-only (`write`).
    fn bx_device(
        &self,
        call: &str,
        device: &str,
        write: bool,
        mounted_ok: bool,
    ) -> Result<Resolved> {
        let dev = self.resolve(call, device)?;
        if write && dev.readonly {
            return Err(Error::call(
                ErrorKind::InvalidArgument,
                call,
                &dev.name,
                "the drive was added read-only",
            ));
        }
        if !mounted_ok && self.mounts().iter().any(|m| m.device == dev.name) {
            return Err(Error::call(
                ErrorKind::Busy,
                call,
                &dev.name,
                "the device is mounted",
            ));
        }
        Ok(dev)
    }

    /// A non-empty list of distinct, writable, unmounted session devices.
    fn bx_devices(&self, call: &str, devices: &[&str]) -> Result<Vec<Resolved>> {
        let mut out: Vec<Resolved> = Vec::new();
        for d in devices {
            let r = self.bx_device(call, d, true, false)?;
            if out.iter().any(|o| o.host == r.host) {
                return Err(Error::invalid(call, &r.name, "device listed twice"));
            }
            out.push(r);
        }
        Ok(out)
    }

    /// The session's host nodes (drives and partitions) by libguestfs name.
    fn bx_host_names(&self) -> HashMap<PathBuf, String> {
        let st = self.read_state();
        let mut m = HashMap::new();
        for (i, d) in st.drives.indexed() {
            let Some(a) = &d.attachment else { continue };
            m.insert(
                a.device().to_path_buf(),
                format_device(&DeviceName::Drive(i)),
            );
            if let Ok(parts) = a.node().kernel_partitions() {
                for p in parts {
                    m.insert(p.node, format_device(&DeviceName::Partition(i, p.number)));
                }
            }
        }
        m
    }

    // ----------------------------------------------------------------- XFS

    /// Information about an XFS filesystem (`xfs_info`): `pathordevice` is a
    /// device holding one, or a guest path on a mounted one (or an XFS image
    /// file in the guest). Every field of libguestfs's `xfsinfo`; a field
    /// `xfs_info` does not print is an error.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// assert_eq!(g.xfs_info("/dev/sda1")?.xfs_blocksize, 4096);
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn xfs_info(&self, pathordevice: &str) -> Result<XfsInfo> {
        let h = self.xfs_info_hash("xfs_info", pathordevice)?;
        xfs_info_struct(&h).map_err(|m| Error::call(ErrorKind::Crate, "xfs_info", pathordevice, m))
    }

    /// `xfs_info` as libguestfs's `xfs_info2` hash: `meta-data`,
    /// `meta-data.isize`, `data.bsize`, `log`, `log.version`, ... in the order
    /// `xfs_info` prints them (see [`VMCraft::xfs_info`] for the argument).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn xfs_info2(&self, pathordevice: &str) -> Result<Vec<(String, String)>> {
        self.xfs_info_hash("xfs_info2", pathordevice)
    }

    fn xfs_info_hash(&self, call: &str, pathordevice: &str) -> Result<Vec<(String, String)>> {
        let (host, shown, _keep) = if pathordevice.starts_with("/dev/") {
            let dev = self.bx_device(call, pathordevice, false, true)?;
            (dev.host, dev.name, None)
        } else {
            let tp = self.bx_guest_path(call, pathordevice)?;
            match tp.kind {
                libc::S_IFDIR if tp.magic != XFS_SUPER_MAGIC => {
                    return Err(Error::invalid(
                        call,
                        pathordevice,
                        "not on an xfs filesystem",
                    ));
                }
                libc::S_IFDIR | libc::S_IFREG => {}
                _ => {
                    return Err(Error::invalid(
                        call,
                        pathordevice,
                        "neither a directory nor a regular file",
                    ));
                }
            }
            // xfs_info wants a mount point, not any directory of the
            // filesystem: the mount holding the directory.
            let host = if tp.kind == libc::S_IFDIR {
                self.mounts()
                    .iter()
                    .filter(|m| !m.private && tp.host.starts_with(&m.host_path))
                    .max_by_key(|m| m.host_path.components().count())
                    .map(|m| m.host_path.clone())
                    .unwrap_or_else(|| tp.host.clone())
            } else {
                tp.host.clone()
            };
            (host, pathordevice.to_string(), Some(tp))
        };
        let out = self.bx_run(call, pathordevice, Command::new("xfs_info").arg(&host))?;
        let mut h = parse_xfs_info(&out.stdout_str());
        // xfs_info names the host node (or image file): give the libguestfs name.
        let names = self.bx_host_names();
        for (k, v) in h.iter_mut() {
            if k == "meta-data" || k == "log" || k == "realtime" {
                if Path::new(v.as_str()) == host {
                    *v = shown.clone();
                } else if let Some(n) = names.get(Path::new(v.as_str())) {
                    *v = n.clone();
                }
            }
        }
        if h.is_empty() {
            return Err(Error::call(
                ErrorKind::Crate,
                call,
                pathordevice,
                "xfs_info printed nothing that could be parsed",
            ));
        }
        Ok(h)
    }

    /// Change parameters of an unmounted XFS filesystem (`xfs_admin`): label,
    /// UUID, and the old feature switches. Refused on a mounted device and on a
    /// read-only drive.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// use vmcraft::calls::btrfs_xfs::XfsAdminOptions;
    /// g.xfs_admin("/dev/sda1", &XfsAdminOptions { label: Some("data".into()), ..Default::default() })?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn xfs_admin(&self, device: &str, opts: &XfsAdminOptions) -> Result<()> {
        const CALL: &str = "xfs_admin";
        let cmd = xfs_admin_command(device, opts)?;
        let dev = self.bx_device(CALL, device, true, false)?;
        let out = self.bx_run(CALL, &dev.name, cmd.arg(&dev.host));
        self.invalidate_device(&dev.name);
        out.map(drop)
    }

    /// Check and repair an unmounted XFS filesystem (`xfs_repair`) on a device,
    /// or on an XFS image file in the guest (`-f`). Returns xfs_repair's exit
    /// status as libguestfs does: 0 when no corruption was found, 1 when it was
    /// (with `nomodify`), 2 when the log is dirty and must be replayed by a
    /// mount first (or zeroed with `forcelogzero`). A read-only drive may only
    /// be checked (`nomodify`). A `maxmem` too small is an error saying how much
    /// is needed.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn xfs_repair(&self, device: &str, opts: &XfsRepairOptions) -> Result<i32> {
        const CALL: &str = "xfs_repair";
        let write = !opts.nomodify;
        let extra = |name: &Option<String>| -> Result<Option<Resolved>> {
            name.as_deref()
                .map(|n| self.bx_device(CALL, n, write, false))
                .transpose()
        };
        let logdev = extra(&opts.logdev)?;
        let rtdev = extra(&opts.rtdev)?;
        let cmd = xfs_repair_command(
            device,
            opts,
            logdev.as_ref().map(|r| r.host.as_path()),
            rtdev.as_ref().map(|r| r.host.as_path()),
        )?;
        let (cmd, subject, dev, _keep) = if device.starts_with("/dev/") {
            let dev = self.bx_device(CALL, device, write, false)?;
            (cmd.arg(&dev.host), dev.name.clone(), Some(dev), None)
        } else {
            let tp = self.bx_guest_path(CALL, device)?;
            if tp.kind != libc::S_IFREG {
                return Err(Error::invalid(
                    CALL,
                    device,
                    "not a device or a regular file (an XFS image)",
                ));
            }
            if write && tp.readonly {
                return Err(Error::call(
                    ErrorKind::InvalidArgument,
                    CALL,
                    device,
                    "the filesystem holding the image is mounted read-only",
                ));
            }
            (
                cmd.arg("-f").arg(&tp.host),
                device.to_string(),
                None,
                Some(tp),
            )
        };
        let cmd = cmd.cancel_on(&self.cancel_token());
        let out = self.runner().execute(&cmd);
        if let Some(d) = &dev {
            self.invalidate_device(&d.name);
        }
        for d in logdev.iter().chain(rtdev.iter()) {
            self.invalidate_device(&d.name);
        }
        let out = out.map_err(|e| {
            Error::call_with_source(ErrorKind::Crate, CALL, &subject, "xfs_repair failed", e)
        })?;
        let err = String::from_utf8_lossy(&out.stderr);
        if let Some(i) = err.find("Required memory for repair is greater tha") {
            let need = err[i..]
                .split("at least ")
                .nth(1)
                .map(|s| {
                    s.chars()
                        .take_while(char::is_ascii_digit)
                        .collect::<String>()
                })
                .unwrap_or_default();
            let old = opts
                .maxmem
                .map_or("(not set)".to_string(), |m| m.to_string());
            return Err(Error::invalid(
                CALL,
                &subject,
                format!(
                    "maxmem parameter (-m option) was too small: raise it from {old} to at least {need}"
                ),
            ));
        }
        match out.status.code() {
            Some(c) => Ok(c),
            None => Err(Error::call_with_source(
                ErrorKind::Crate,
                CALL,
                &subject,
                "xfs_repair was killed",
                vmcraft_block::command::command_failed(&cmd, &out),
            )),
        }
    }

    // --------------------------------------------------------------- btrfs

    /// Make a btrfs filesystem over one or more devices (`mkfs_btrfs`), with
    /// libguestfs's optional arguments. Every device must be a writable,
    /// unmounted session device, named once.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// use vmcraft::calls::btrfs_xfs::MkfsBtrfsOptions;
    /// g.mkfs_btrfs(&["/dev/sda1", "/dev/sdb1"], &MkfsBtrfsOptions {
    ///     datatype: Some("raid1".into()), metadata: Some("raid1".into()), ..Default::default()
    /// })?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mkfs_btrfs(&self, devices: &[&str], opts: &MkfsBtrfsOptions) -> Result<()> {
        const CALL: &str = "mkfs_btrfs";
        let Some(first) = devices.first() else {
            return Err(Error::invalid(
                CALL,
                "",
                "list of devices must be non-empty",
            ));
        };
        mkfs_btrfs_command(first, &[], opts)?;
        let devs = self.bx_devices(CALL, devices)?;
        let hosts: Vec<PathBuf> = devs.iter().map(|d| d.host.clone()).collect();
        let cmd = mkfs_btrfs_command(&devs[0].name, &hosts, opts)?;
        self.progress("mkfs", 0, 1);
        let out = self.bx_run(CALL, &devs[0].name, cmd);
        for d in &devs {
            self.invalidate_device(&d.name);
        }
        out?;
        self.progress("mkfs", 1, 1);
        Ok(())
    }

    /// Create a subvolume (`btrfs_subvolume_create`) at `dest`
    /// (`/path/to/parent/name`), optionally in qgroup `qgroupid` (`LEVEL/ID`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_subvolume_create(&self, dest: &str, qgroupid: Option<&str>) -> Result<()> {
        const CALL: &str = "btrfs_subvolume_create";
        if let Some(q) = qgroupid {
            check_qgroupid(CALL, dest, q)?;
        }
        let (_parent, host) = self.bx_dest(CALL, dest)?;
        let mut c = Command::new("btrfs").args(["subvolume", "create"]);
        if let Some(q) = qgroupid {
            c = c.args(["-i", q]);
        }
        self.bx_run(CALL, dest, c.arg(host)).map(drop)
    }

    /// Snapshot subvolume `source` as `dest` (`btrfs_subvolume_snapshot`),
    /// read-only when `ro`, optionally in qgroup `qgroupid`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_subvolume_snapshot(
        &self,
        source: &str,
        dest: &str,
        ro: bool,
        qgroupid: Option<&str>,
    ) -> Result<()> {
        const CALL: &str = "btrfs_subvolume_snapshot";
        if let Some(q) = qgroupid {
            check_qgroupid(CALL, dest, q)?;
        }
        let src = self.bx_btrfs_dir(CALL, source, false)?;
        let (_parent, host) = self.bx_dest(CALL, dest)?;
        let mut c = Command::new("btrfs").args(["subvolume", "snapshot"]);
        if ro {
            c = c.arg("-r");
        }
        if let Some(q) = qgroupid {
            c = c.args(["-i", q]);
        }
        let subject = format!("{source}: {dest}");
        self.bx_run(CALL, &subject, c.arg(&src.host).arg(host))
            .map(drop)
    }

    /// Delete a subvolume or snapshot (`btrfs_subvolume_delete`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_subvolume_delete(&self, subvolume: &str) -> Result<()> {
        const CALL: &str = "btrfs_subvolume_delete";
        let tp = self.bx_btrfs_dir(CALL, subvolume, true)?;
        self.bx_run(
            CALL,
            subvolume,
            Command::new("btrfs")
                .args(["subvolume", "delete"])
                .arg(&tp.host),
        )
        .map(drop)
    }

    /// Run `f` on the host directory of a btrfs filesystem named by a device
    /// (its mount, or a private read-only mount made for the call) or by a
    /// guest path.
    fn bx_on_fs<T>(&self, call: &str, fs: &str, f: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
        if fs.starts_with("/dev/") {
            let dev = self.resolve(call, fs)?;
            let view = self.fs_view(call, &dev.name)?;
            let Some(root) = view.root.kernel() else {
                return Err(Error::invalid(call, &dev.name, "not a btrfs filesystem"));
            };
            let st = nix::sys::statfs::fstatfs(root.as_fd())
                .map_err(|e| io_err(call, fs, "statfs", e))?;
            #[allow(clippy::unnecessary_cast)]
            if st.filesystem_type().0 as i64 != BTRFS_SUPER_MAGIC {
                return Err(Error::invalid(call, &dev.name, "not a btrfs filesystem"));
            }
            f(root.host_path())
        } else {
            let tp = self.bx_btrfs_dir(call, fs, false)?;
            f(&tp.host)
        }
    }

    /// The subvolumes and snapshots of a btrfs filesystem
    /// (`btrfs_subvolume_list`): `fs` is a device (mounted read-only for the
    /// call if it is not mounted) or a guest path on a mounted btrfs.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_subvolume_list(&self, fs: &str) -> Result<Vec<BtrfsSubvolume>> {
        const CALL: &str = "btrfs_subvolume_list";
        let out = self.bx_on_fs(CALL, fs, |host| {
            self.bx_run(
                CALL,
                fs,
                Command::new("btrfs").args(["subvolume", "list"]).arg(host),
            )
        })?;
        parse_subvolume_list(&out.stdout_str())
            .map_err(|m| Error::call(ErrorKind::Crate, CALL, fs, m))
    }

    /// The ID of the subvolume mounted by default (`btrfs_subvolume_get_default`);
    /// `fs` as in [`VMCraft::btrfs_subvolume_list`].
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_subvolume_get_default(&self, fs: &str) -> Result<i64> {
        const CALL: &str = "btrfs_subvolume_get_default";
        let out = self.bx_on_fs(CALL, fs, |host| {
            self.bx_run(
                CALL,
                fs,
                Command::new("btrfs")
                    .args(["subvolume", "get-default"])
                    .arg(host),
            )
        })?;
        let s = out.stdout_str();
        s.strip_prefix("ID ")
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| {
                Error::call(
                    ErrorKind::Crate,
                    CALL,
                    fs,
                    format!(
                        "unexpected output from 'btrfs subvolume get-default': {}",
                        s.trim()
                    ),
                )
            })
    }

    /// Make subvolume `id` the one mounted by default on the btrfs at guest
    /// path `fs` (`btrfs_subvolume_set_default`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_subvolume_set_default(&self, id: i64, fs: &str) -> Result<()> {
        const CALL: &str = "btrfs_subvolume_set_default";
        if id < 0 {
            return Err(Error::invalid(
                CALL,
                fs,
                format!("subvolume id {id} is negative"),
            ));
        }
        let tp = self.bx_btrfs_dir(CALL, fs, true)?;
        self.bx_run(
            CALL,
            fs,
            Command::new("btrfs")
                .args(["subvolume", "set-default", &id.to_string()])
                .arg(&tp.host),
        )
        .map(drop)
    }

    /// Details of a subvolume (`btrfs_subvolume_show`), as libguestfs's hash:
    /// `path` (from the top of the filesystem), `Name`, `UUID`, `Parent UUID`,
    /// `Subvolume ID`, ..., `Snapshot(s)` (comma-separated); `-` values are
    /// empty. The top level of the filesystem (`... is btrfs root`) and a
    /// directory that is not a subvolume are errors.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_subvolume_show(&self, subvolume: &str) -> Result<Vec<(String, String)>> {
        const CALL: &str = "btrfs_subvolume_show";
        let tp = self.bx_btrfs_dir(CALL, subvolume, false)?;
        let cmd = Command::new("btrfs")
            .args(["subvolume", "show"])
            .arg(&tp.host)
            .cancel_on(&self.cancel_token());
        let out = self.runner().execute(&cmd).map_err(|e| {
            Error::call_with_source(
                ErrorKind::Crate,
                CALL,
                subvolume,
                "btrfs subvolume show failed",
                e,
            )
        })?;
        let stdout = out.stdout_str();
        let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
        if stderr.contains("not a btrfs subvolume") || stderr.contains("is not a subvolume") {
            return Err(Error::invalid(
                CALL,
                subvolume,
                format!("{subvolume} is not a subvolume"),
            ));
        }
        if !out.status.success() {
            return Err(Error::call_with_source(
                ErrorKind::Crate,
                CALL,
                subvolume,
                "btrfs subvolume show failed",
                vmcraft_block::command::command_failed(&cmd, &out),
            ));
        }
        let h = parse_subvolume_show(&stdout);
        let top = stdout.contains("is btrfs root")
            || stdout.contains("is toplevel subvolume")
            || h.iter().any(|(k, v)| k == "Subvolume ID" && v == "5");
        if top {
            return Err(Error::invalid(
                CALL,
                subvolume,
                format!("{subvolume} is btrfs root"),
            ));
        }
        Ok(h)
    }

    /// Resize a mounted btrfs (`btrfs_filesystem_resize`, given a guest path on
    /// it): to `size` bytes, or to fill its device when `None`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_filesystem_resize(&self, mountpoint: &str, size: Option<i64>) -> Result<()> {
        const CALL: &str = "btrfs_filesystem_resize";
        let size = match size {
            Some(s) if s <= 0 => {
                return Err(Error::invalid(CALL, mountpoint, "size is zero or negative"));
            }
            Some(s) => s.to_string(),
            None => "max".to_string(),
        };
        let tp = self.bx_btrfs_dir(CALL, mountpoint, true)?;
        let out = self.bx_run(
            CALL,
            mountpoint,
            Command::new("btrfs")
                .args(["filesystem", "resize", &size])
                .arg(&tp.host),
        );
        self.invalidate_probe_cache();
        out.map(drop)
    }

    /// A btrfs command `words... HOST` on a guest directory on btrfs.
    fn bx_fs_command(&self, call: &str, path: &str, write: bool, words: &[&str]) -> Result<()> {
        let tp = self.bx_btrfs_dir(call, path, write)?;
        self.bx_run(call, path, Command::new("btrfs").args(words).arg(&tp.host))
            .map(drop)
    }

    /// Force a sync of the btrfs holding guest path `fs` (`btrfs_filesystem_sync`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_filesystem_sync(&self, fs: &str) -> Result<()> {
        self.bx_fs_command("btrfs_filesystem_sync", fs, false, &["filesystem", "sync"])
    }

    /// Balance the chunks of the btrfs holding guest path `fs` across its
    /// devices (`btrfs_filesystem_balance`, alias `btrfs_balance`): a full
    /// balance, waited for.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_filesystem_balance(&self, fs: &str) -> Result<()> {
        self.bx_fs_command(
            "btrfs_filesystem_balance",
            fs,
            true,
            &["balance", "start", "--full-balance"],
        )
    }

    /// Pause a running balance (`btrfs_balance_pause`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_balance_pause(&self, path: &str) -> Result<()> {
        self.bx_fs_command("btrfs_balance_pause", path, true, &["balance", "pause"])
    }

    /// Resume a paused balance (`btrfs_balance_resume`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_balance_resume(&self, path: &str) -> Result<()> {
        self.bx_fs_command("btrfs_balance_resume", path, true, &["balance", "resume"])
    }

    /// Cancel a running or paused balance (`btrfs_balance_cancel`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_balance_cancel(&self, path: &str) -> Result<()> {
        self.bx_fs_command("btrfs_balance_cancel", path, true, &["balance", "cancel"])
    }

    /// Scrub the btrfs holding guest path `path` (`btrfs_scrub_start`): read
    /// everything, verify checksums, repair from good copies. Unlike
    /// libguestfs, which leaves the scrub running in the background, the call
    /// waits for it (`-B`), so that nothing of the session outlives the call.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_scrub_start(&self, path: &str) -> Result<()> {
        self.forgetting_scrub_records(|| {
            self.bx_fs_command("btrfs_scrub_start", path, true, &["scrub", "start", "-B"])
        })
    }

    /// Cancel a running scrub (`btrfs_scrub_cancel`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_scrub_cancel(&self, path: &str) -> Result<()> {
        self.bx_fs_command("btrfs_scrub_cancel", path, true, &["scrub", "cancel"])
    }

    /// Resume a cancelled or interrupted scrub (`btrfs_scrub_resume`), waited
    /// for as [`VMCraft::btrfs_scrub_start`].
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_scrub_resume(&self, path: &str) -> Result<()> {
        self.forgetting_scrub_records(|| {
            self.bx_fs_command("btrfs_scrub_resume", path, true, &["scrub", "resume", "-B"])
        })
    }

    /// Defragment a file or directory (recursively) on btrfs
    /// (`btrfs_filesystem_defragment`): `flush` writes the data out after each
    /// file, `compress` (`zlib` or `lzo`, libguestfs's choices, or `zstd`)
    /// recompresses it.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_filesystem_defragment(
        &self,
        path: &str,
        flush: bool,
        compress: Option<&str>,
    ) -> Result<()> {
        const CALL: &str = "btrfs_filesystem_defragment";
        let c = match compress {
            None => None,
            Some(m @ ("zlib" | "lzo" | "zstd")) => Some(format!("-c{m}")),
            Some(m) => {
                return Err(Error::invalid(
                    CALL,
                    path,
                    format!("unknown compress method: {m} (zlib, lzo or zstd)"),
                ));
            }
        };
        let tp = self.bx_btrfs_path(CALL, path, true)?;
        if !matches!(tp.kind, libc::S_IFDIR | libc::S_IFREG) {
            return Err(Error::invalid(
                CALL,
                path,
                "neither a regular file nor a directory",
            ));
        }
        let mut cmd = Command::new("btrfs").args(["filesystem", "defragment", "-r"]);
        if flush {
            cmd = cmd.arg("-f");
        }
        if let Some(c) = c {
            cmd = cmd.arg(c);
        }
        self.bx_run(CALL, path, cmd.arg(&tp.host)).map(drop)
    }

    /// The devices of the btrfs on `device` (`btrfs_filesystem_show`), by
    /// libguestfs name. A filesystem with a missing device is an error, and so
    /// is one that btrfs finds on a device outside the session (a clone of a
    /// host filesystem).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_filesystem_show(&self, device: &str) -> Result<Vec<String>> {
        const CALL: &str = "btrfs_filesystem_show";
        let dev = self.bx_device(CALL, device, false, true)?;
        let out = self.bx_run(
            CALL,
            &dev.name,
            Command::new("btrfs")
                .args(["filesystem", "show"])
                .arg(&dev.host),
        )?;
        let mut names = self.bx_host_names();
        // The device asked about is known by its name even when it is an LV.
        names.insert(dev.host.clone(), dev.name.clone());
        let mut v = Vec::new();
        for line in out.stdout_str().lines() {
            let t = line.trim_start();
            if t.starts_with("*** Some devices missing") {
                return Err(Error::call(
                    ErrorKind::NoSuchDevice,
                    CALL,
                    &dev.name,
                    "missing devices",
                ));
            }
            let Some(rest) = t.strip_prefix("devid ") else {
                continue;
            };
            let Some((_, path)) = rest.split_once(" path ") else {
                continue;
            };
            let path = path.split(' ').next().unwrap_or(path);
            match names.get(Path::new(path)) {
                Some(n) => v.push(n.clone()),
                None => {
                    return Err(Error::call(
                        ErrorKind::Unsupported,
                        CALL,
                        &dev.name,
                        format!(
                            "btrfs found a device of this filesystem outside the session: {path}"
                        ),
                    ));
                }
            }
            if v.len() > MAX_LINES {
                break;
            }
        }
        if v.is_empty() {
            return Err(Error::call(
                ErrorKind::Crate,
                CALL,
                &dev.name,
                "truncated output from 'btrfs filesystem show'",
            ));
        }
        Ok(v)
    }

    /// Add `devices` to the btrfs mounted at guest path `fs`
    /// (`btrfs_device_add`); an empty list does nothing.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_device_add(&self, devices: &[&str], fs: &str) -> Result<()> {
        const CALL: &str = "btrfs_device_add";
        if devices.is_empty() {
            return Ok(());
        }
        let devs = self.bx_devices(CALL, devices)?;
        let tp = self.bx_btrfs_dir(CALL, fs, true)?;
        let hosts: Vec<&Path> = devs.iter().map(|d| d.host.as_path()).collect();
        let out = self.bx_run(
            CALL,
            fs,
            Command::new("btrfs")
                .args(["device", "add", "--force"])
                .args(hosts)
                .arg(&tp.host),
        );
        for d in &devs {
            self.invalidate_device(&d.name);
        }
        out.map(drop)
    }

    /// Remove `devices` from the btrfs mounted at guest path `fs`
    /// (`btrfs_device_delete`), moving their data to the others; an empty list
    /// does nothing.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_device_delete(&self, devices: &[&str], fs: &str) -> Result<()> {
        const CALL: &str = "btrfs_device_delete";
        if devices.is_empty() {
            return Ok(());
        }
        let mut devs: Vec<Resolved> = Vec::new();
        for d in devices {
            // A member of a mounted btrfs shows as mounted only if it was the
            // device named in the mount.
            let r = self.bx_device(CALL, d, true, true)?;
            if devs.iter().any(|o| o.host == r.host) {
                return Err(Error::invalid(CALL, &r.name, "device listed twice"));
            }
            devs.push(r);
        }
        let tp = self.bx_btrfs_dir(CALL, fs, true)?;
        let hosts: Vec<&Path> = devs.iter().map(|d| d.host.as_path()).collect();
        let out = self.bx_run(
            CALL,
            fs,
            Command::new("btrfs")
                .args(["device", "delete"])
                .args(hosts)
                .arg(&tp.host),
        );
        for d in &devs {
            self.invalidate_device(&d.name);
        }
        out.map(drop)
    }

    /// Turn the seeding flag of the unmounted btrfs on `device` on or off
    /// (`btrfs_set_seeding`; a seed filesystem mounts read-only). Clearing it
    /// is done without btrfstune's confirmation question (`-f`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_set_seeding(&self, device: &str, seeding: bool) -> Result<()> {
        self.bx_seeding("btrfs_set_seeding", device, seeding)
    }

    fn bx_seeding(&self, call: &str, device: &str, seeding: bool) -> Result<()> {
        let dev = self.bx_device(call, device, true, false)?;
        let out = self.bx_run(
            call,
            &dev.name,
            // Clearing asks for confirmation (a sprouted filesystem may depend
            // on the seed); the caller asked, so it is given (-f).
            if seeding {
                Command::new("btrfstune").args(["-S", "1"])
            } else {
                Command::new("btrfstune").args(["-f", "-S", "0"])
            }
            .arg(&dev.host),
        );
        self.invalidate_device(&dev.name);
        out.map(drop)
    }

    /// Check the unmounted btrfs on `device` (`btrfs_fsck`, `btrfs check`):
    /// `superblock` picks a superblock copy by its index (`--super`), `repair`
    /// repairs (needs a writable drive). Problems found are an error.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_fsck(&self, device: &str, superblock: Option<i64>, repair: bool) -> Result<()> {
        const CALL: &str = "btrfs_fsck";
        if let Some(s) = superblock
            && s < 0
        {
            return Err(Error::invalid(
                CALL,
                device,
                "super block offset must be >= 0",
            ));
        }
        let dev = self.bx_device(CALL, device, repair, false)?;
        let mut c = Command::new("btrfs").arg("check");
        if let Some(s) = superblock {
            c = c.arg("--super").arg(s.to_string());
        }
        if repair {
            c = c.arg("--repair");
        }
        let out = self.bx_run(CALL, &dev.name, c.arg(&dev.host));
        if repair {
            self.invalidate_device(&dev.name);
        }
        out.map(drop)
    }

    /// Recover the chunk tree of the unmounted btrfs on `device` by scanning it
    /// (`btrfs_rescue_chunk_recover`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_rescue_chunk_recover(&self, device: &str) -> Result<()> {
        self.bx_rescue("btrfs_rescue_chunk_recover", "chunk-recover", device)
    }

    /// Repair bad superblocks of the unmounted btrfs on `device` from good
    /// copies (`btrfs_rescue_super_recover`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_rescue_super_recover(&self, device: &str) -> Result<()> {
        self.bx_rescue("btrfs_rescue_super_recover", "super-recover", device)
    }

    /// Run `f` on the host directory of a btrfs filesystem named by a device
    /// (its read-write mount, or a private read-write mount made for the call)
    /// or by a guest path, for the calls that change it.
    fn bx_on_fs_rw<T>(
        &self,
        call: &str,
        fs: &str,
        f: impl FnOnce(&Path) -> Result<T>,
    ) -> Result<T> {
        if !fs.starts_with("/dev/") {
            let tp = self.bx_btrfs_dir(call, fs, true)?;
            return f(&tp.host);
        }
        let dev = self.bx_device(call, fs, true, true)?;
        let user = self
            .mounts()
            .iter()
            .find(|m| !m.private && m.device == dev.name)
            .cloned();
        if let Some(m) = user {
            if crate::mount::mounted_read_only(&m.host_path) {
                return Err(Error::call(
                    ErrorKind::InvalidArgument,
                    call,
                    &dev.name,
                    "the device is mounted read-only",
                ));
            }
            return f(&m.host_path);
        }
        let dir = self.inspect_dir(call)?.join(format!(
            "btrfs-rw-{}",
            dev.name.trim_start_matches("/dev/").replace('/', "-")
        ));
        std::fs::create_dir_all(&dir).map_err(|e| io_err(call, fs, "cannot create", e))?;
        let target = crate::mount::strategy::Target {
            mountpoint: dir.display().to_string(),
            host: dir.clone(),
            fd: None,
            private: true,
        };
        if let Err(e) = self.try_strategies(
            call,
            &dev,
            "btrfs",
            target,
            &crate::mount::strategy::normal_strategies(""),
        ) {
            let _ = std::fs::remove_dir(&dir);
            return Err(e);
        }
        let r = f(&dir);
        let entry = self
            .mounts()
            .iter()
            .find(|m| m.private && m.host_path == dir)
            .cloned();
        let unmounted = match entry {
            Some(e) => self.unmount_entry(call, &e),
            None => Ok(()),
        };
        if unmounted.is_ok() {
            let _ = std::fs::remove_dir(&dir);
        }
        self.invalidate_device(&dev.name);
        let v = r?;
        unmounted?;
        Ok(v)
    }

    /// Turn quotas on or off on a btrfs filesystem (`btrfs_quota_enable`): `fs`
    /// is a device (mounted read-write for the call if it is not mounted) or a
    /// guest path on a mounted btrfs.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_quota_enable(&self, fs: &str, enable: bool) -> Result<()> {
        const CALL: &str = "btrfs_quota_enable";
        let word = if enable { "enable" } else { "disable" };
        self.bx_on_fs_rw(CALL, fs, |host| {
            self.bx_run(
                CALL,
                fs,
                Command::new("btrfs").args(["quota", word]).arg(host),
            )
            .map(drop)
        })
    }

    /// Rescan the quotas of a btrfs filesystem (`btrfs_quota_rescan`), waiting
    /// for the rescan to finish; `fs` as in [`VMCraft::btrfs_quota_enable`].
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_quota_rescan(&self, fs: &str) -> Result<()> {
        const CALL: &str = "btrfs_quota_rescan";
        self.bx_on_fs_rw(CALL, fs, |host| {
            self.bx_run(
                CALL,
                fs,
                Command::new("btrfs")
                    .args(["quota", "rescan", "-w"])
                    .arg(host),
            )
            .map(drop)
        })
    }

    /// Limit the size of a subvolume's qgroup (`btrfs_qgroup_limit`), in bytes.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_qgroup_limit(&self, subvolume: &str, size: i64) -> Result<()> {
        const CALL: &str = "btrfs_qgroup_limit";
        if size < 0 {
            return Err(Error::invalid(
                CALL,
                subvolume,
                format!("size {size} is negative"),
            ));
        }
        self.bx_fs_command(
            CALL,
            subvolume,
            true,
            &["qgroup", "limit", &size.to_string()],
        )
    }

    /// Create qgroup `qgroupid` (`LEVEL/ID`) on the btrfs holding `subvolume`
    /// (`btrfs_qgroup_create`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_qgroup_create(&self, qgroupid: &str, subvolume: &str) -> Result<()> {
        const CALL: &str = "btrfs_qgroup_create";
        check_qgroupid(CALL, subvolume, qgroupid)?;
        self.bx_fs_command(CALL, subvolume, true, &["qgroup", "create", qgroupid])
    }

    /// Destroy qgroup `qgroupid` on the btrfs holding `subvolume`
    /// (`btrfs_qgroup_destroy`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_qgroup_destroy(&self, qgroupid: &str, subvolume: &str) -> Result<()> {
        const CALL: &str = "btrfs_qgroup_destroy";
        check_qgroupid(CALL, subvolume, qgroupid)?;
        self.bx_fs_command(CALL, subvolume, true, &["qgroup", "destroy", qgroupid])
    }

    /// The qgroups of the btrfs holding `path` (`btrfs_qgroup_show`), with
    /// their referenced and exclusive bytes.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_qgroup_show(&self, path: &str) -> Result<Vec<BtrfsQgroup>> {
        const CALL: &str = "btrfs_qgroup_show";
        let tp = self.bx_btrfs_dir(CALL, path, false)?;
        let out = self.bx_run(
            CALL,
            path,
            Command::new("btrfs")
                .args(["qgroup", "show", "--raw"])
                .arg(&tp.host),
        )?;
        parse_qgroup_show(&out.stdout_str())
            .map_err(|m| Error::call(ErrorKind::Crate, CALL, path, m))
    }

    /// Make qgroup `src` a member of qgroup `dst` on the btrfs holding `path`
    /// (`btrfs_qgroup_assign`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_qgroup_assign(&self, src: &str, dst: &str, path: &str) -> Result<()> {
        const CALL: &str = "btrfs_qgroup_assign";
        check_qgroupid(CALL, path, src)?;
        check_qgroupid(CALL, path, dst)?;
        self.bx_fs_command(CALL, path, true, &["qgroup", "assign", src, dst])
    }

    /// Take qgroup `src` out of qgroup `dst` on the btrfs holding `path`
    /// (`btrfs_qgroup_remove`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_qgroup_remove(&self, src: &str, dst: &str, path: &str) -> Result<()> {
        const CALL: &str = "btrfs_qgroup_remove";
        check_qgroupid(CALL, path, src)?;
        check_qgroupid(CALL, path, dst)?;
        self.bx_fs_command(CALL, path, true, &["qgroup", "remove", src, dst])
    }

    /// The state of a balance on the btrfs holding `path`
    /// (`btrfs_balance_status`): status `none`, `running` or `paused`, with
    /// its progress.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_balance_status(&self, path: &str) -> Result<BtrfsBalance> {
        const CALL: &str = "btrfs_balance_status";
        let tp = self.bx_btrfs_dir(CALL, path, false)?;
        let cmd = Command::new("btrfs")
            .args(["balance", "status"])
            .arg(&tp.host)
            .cancel_on(&self.cancel_token());
        let out = self.runner().execute(&cmd)?;
        // Exit status 1 means a balance is running or paused.
        if !matches!(out.status.code(), Some(0 | 1)) {
            return Err(Error::call_with_source(
                ErrorKind::Crate,
                CALL,
                path,
                "btrfs balance status failed",
                vmcraft_block::command::command_failed(&cmd, &out),
            ));
        }
        parse_balance_status(&out.stdout_str())
            .map_err(|m| Error::call(ErrorKind::Crate, CALL, path, m))
    }

    /// The counters of the last or running scrub on the btrfs holding `path`
    /// (`btrfs_scrub_status`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_scrub_status(&self, path: &str) -> Result<BtrfsScrub> {
        const CALL: &str = "btrfs_scrub_status";
        let tp = self.bx_btrfs_dir(CALL, path, false)?;
        let out = self.bx_run(
            CALL,
            path,
            Command::new("btrfs")
                .args(["scrub", "status", "-R"])
                .arg(&tp.host),
        )?;
        Ok(parse_scrub_status(&out.stdout_str()))
    }

    /// Turn seeding on or off (`btrfstune_seeding`): the same as
    /// [`VMCraft::btrfs_set_seeding`], under btrfstune's name.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfstune_seeding(&self, device: &str, seeding: bool) -> Result<()> {
        self.bx_seeding("btrfstune_seeding", device, seeding)
    }

    /// Enable extended inode refs on the unmounted btrfs on `device`
    /// (`btrfstune_enable_extended_inode_refs`, `btrfstune -r`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfstune_enable_extended_inode_refs(&self, device: &str) -> Result<()> {
        self.bx_tune("btrfstune_enable_extended_inode_refs", device, "-r")
    }

    /// Enable skinny metadata extent refs on the unmounted btrfs on `device`
    /// (`btrfstune_enable_skinny_metadata_extent_refs`, `btrfstune -x`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfstune_enable_skinny_metadata_extent_refs(&self, device: &str) -> Result<()> {
        self.bx_tune("btrfstune_enable_skinny_metadata_extent_refs", device, "-x")
    }

    fn bx_tune(&self, call: &str, device: &str, flag: &str) -> Result<()> {
        let dev = self.bx_device(call, device, true, false)?;
        let out = self.bx_run(
            call,
            &dev.name,
            Command::new("btrfstune").arg(flag).arg(&dev.host),
        );
        self.invalidate_device(&dev.name);
        out.map(drop)
    }

    /// Replace `srcdev` of the btrfs mounted at guest path `mntpoint` with
    /// `targetdev` (`btrfs_replace`), waiting for the copy: the target must be
    /// an unmounted, writable session device at least as large as the source,
    /// which is wiped and taken out of the filesystem afterwards.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_replace(&self, srcdev: &str, targetdev: &str, mntpoint: &str) -> Result<()> {
        const CALL: &str = "btrfs_replace";
        let src = self.bx_device(CALL, srcdev, true, true)?;
        if self.resolve(CALL, targetdev)?.host == src.host {
            return Err(Error::invalid(
                CALL,
                &src.name,
                "the source and target devices are the same",
            ));
        }
        let target = self.bx_device(CALL, targetdev, true, false)?;
        let tp = self.bx_btrfs_dir(CALL, mntpoint, true)?;
        let out = self.bx_run(
            CALL,
            mntpoint,
            Command::new("btrfs")
                .args(["replace", "start", "-B", "-f"])
                .arg(&src.host)
                .arg(&target.host)
                .arg(&tp.host),
        );
        self.invalidate_device(&src.name);
        self.invalidate_device(&target.name);
        out.map(drop)
    }

    /// Scrub the btrfs holding `path` and wait for it (`btrfs_scrub_full`);
    /// errors found are an error. `readonly` only reports, repairing nothing
    /// (and then works on a read-only mount).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_scrub_full(&self, path: &str, readonly: bool) -> Result<()> {
        self.forgetting_scrub_records(|| {
            if readonly {
                self.bx_fs_command(
                    "btrfs_scrub_full",
                    path,
                    false,
                    &["scrub", "start", "-B", "-r"],
                )
            } else {
                self.bx_fs_command("btrfs_scrub_full", path, true, &["scrub", "start", "-B"])
            }
        })
    }

    /// Run a scrub, and note the records btrfs-progs made for it on the host
    /// (`/var/lib/btrfs/scrub.*.FSID`, new ones only) so that the session removes
    /// them when it shuts down: the appliance libguestfs scrubs in is thrown
    /// away with them, the host is not.
    fn forgetting_scrub_records(&self, scrub: impl FnOnce() -> Result<()>) -> Result<()> {
        let before = scrub_records();
        let r = scrub();
        let made: Vec<std::path::PathBuf> = scrub_records()
            .into_iter()
            .filter(|p| !before.contains(p))
            .collect();
        self.settings().host_files.extend(made);
        r
    }

    /// Write a metadata image of the btrfs on `source` to the guest file
    /// `image` (`btrfs_image`, `btrfs-image`): data is left out, metadata kept;
    /// `compresslevel` 0 to 9. The file is made (or replaced, when it is a
    /// regular file) in its confined parent directory; a symlink or a special
    /// file there is refused.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn btrfs_image(
        &self,
        source: &[&str],
        image: &str,
        compresslevel: Option<i32>,
    ) -> Result<()> {
        const CALL: &str = "btrfs_image";
        if source.is_empty() {
            return Err(Error::invalid(
                CALL,
                image,
                "list of sources must be non-empty",
            ));
        }
        if let Some(c) = compresslevel
            && !(0..=9).contains(&c)
        {
            return Err(Error::invalid(
                CALL,
                image,
                format!("compresslevel {c} is not between 0 and 9"),
            ));
        }
        let mut devs: Vec<Resolved> = Vec::new();
        for d in source {
            let r = self.bx_device(CALL, d, false, true)?;
            if devs.iter().any(|o| o.host == r.host) {
                return Err(Error::invalid(CALL, &r.name, "device listed twice"));
            }
            devs.push(r);
        }
        absolute(CALL, image)?;
        let (parent, name) = split_dest(CALL, image)?;
        let dir = self.bx_guest_path(CALL, parent)?;
        if dir.kind != libc::S_IFDIR {
            return Err(Error::invalid(CALL, parent, "not a directory"));
        }
        if dir.readonly {
            return Err(Error::call(
                ErrorKind::InvalidArgument,
                CALL,
                image,
                "the filesystem is mounted read-only (or its drive was added read-only)",
            ));
        }
        if let Ok(st) =
            nix::sys::stat::fstatat(&dir.fd, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
            && st.st_mode & libc::S_IFMT != libc::S_IFREG
        {
            return Err(Error::invalid(
                CALL,
                image,
                "exists and is not a regular file (a symlink, directory or special file)",
            ));
        }
        let mut c = Command::new("btrfs-image");
        if let Some(l) = compresslevel {
            c = c.arg("-c").arg(l.to_string());
        }
        for d in &devs {
            c = c.arg(&d.host);
        }
        self.bx_run(CALL, image, c.arg(dir.host.join(name)))
            .map(drop)
    }

    fn bx_rescue(&self, call: &str, what: &str, device: &str) -> Result<()> {
        let dev = self.bx_device(call, device, true, false)?;
        let out = self.bx_run(
            call,
            &dev.name,
            Command::new("btrfs")
                .args(["rescue", what, "-y"])
                .arg(&dev.host),
        );
        self.invalidate_device(&dev.name);
        out.map(drop)
    }
}

/// `btrfs subvolume create` and the like: the program and its subcommand words.
fn tool_label(cmd: &Command) -> String {
    let mut words = vec![cmd.program().to_string_lossy().into_owned()];
    if words[0] == "btrfs" {
        words.extend(
            cmd.get_args()
                .iter()
                .take(2)
                .map(|a| a.to_string_lossy().into_owned())
                .take_while(|a| !a.starts_with('-') && !a.starts_with('/')),
        );
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const XFS_INFO: &str = "\
meta-data=/dev/loop0             isize=512    agcount=4, agsize=19200 blks
         =                       sectsz=512   attr=2, projid32bit=1
         =                       crc=1        finobt=1, sparse=1, rmapbt=0
         =                       reflink=1    bigtime=1 inobtcount=1 nrext64=0
data     =                       bsize=4096   blocks=76800, imaxpct=25
         =                       sunit=0      swidth=0 blks
naming   =version 2              bsize=4096   ascii-ci=0, ftype=1
log      =internal log           bsize=4096   blocks=16384, version=2
         =                       sectsz=512   sunit=0 blks, lazy-count=1
realtime =none                   extsz=4096   blocks=0, rtextents=0
";

    #[test]
    fn xfs_info_parses_into_the_hash_and_the_struct() {
        let h = parse_xfs_info(XFS_INFO);
        let get = |k: &str| h.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        assert_eq!(get("meta-data"), Some("/dev/loop0"));
        assert_eq!(get("meta-data.agsize"), Some("19200 blks"));
        assert_eq!(get("naming"), Some("version 2"));
        assert_eq!(get("log"), Some("internal log"));
        assert_eq!(get("realtime"), Some("none"));
        assert_eq!(get("log.sunit"), Some("0 blks"));
        assert_eq!(get("data.swidth"), Some("0 blks"));
        assert_eq!(get("meta-data.nrext64"), Some("0"));
        let s = xfs_info_struct(&h).unwrap();
        assert_eq!(s.xfs_blocksize, 4096);
        assert_eq!(s.xfs_datablocks, 76800);
        assert_eq!(s.xfs_agsize, 19200);
        assert_eq!(s.xfs_dirversion, 2);
        assert_eq!(s.xfs_logblocks, 16384);
        assert_eq!(s.xfs_lazycount, 1);
        assert_eq!(s.xfs_imaxpct, 25);
        assert_eq!(s.xfs_rtname, "none");
        let short: Vec<_> = h.into_iter().filter(|(k, _)| k != "log.version").collect();
        assert_eq!(
            xfs_info_struct(&short).unwrap_err(),
            "xfs_info printed no field log.version"
        );
    }

    #[test]
    fn subvolume_list_and_show_parse() {
        let l = parse_subvolume_list(
            "ID 256 gen 7 top level 5 path sub1\nID 257 gen 8 top level 256 path sub1/a b\n",
        )
        .unwrap();
        assert_eq!(l[1].btrfssubvolume_id, 257);
        assert_eq!(l[1].btrfssubvolume_top_level_id, 256);
        assert_eq!(l[1].btrfssubvolume_path, "sub1/a b");
        assert!(parse_subvolume_list("garbage\n").is_err());
        let h = parse_subvolume_show(
            "sub1\n\tName: \t\t\tsub1\n\tParent UUID: \t\t-\n\tCreation time: \t\t2026-12-04 22:22:25 +0000\n\tSnapshot(s):\n\t\t\t\tsnap\n\t\t\t\tsnap2\n",
        );
        assert_eq!(
            h,
            [
                ("path", "sub1"),
                ("Name", "sub1"),
                ("Parent UUID", ""),
                ("Creation time", "2026-12-04 22:22:25 +0000"),
                ("Snapshot(s)", "snap,snap2"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }

    #[test]
    fn qgroup_balance_and_scrub_status_parse() {
        let q = parse_qgroup_show(
            "Qgroupid    Referenced    Exclusive   Path \n--------    ----------    ---------   ---- \n\
             0/5              16384        16384   <toplevel>\n\
             1/100            16384         8192   <0 member qgroups>\n",
        )
        .unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(q[1].btrfsqgroup_id, "1/100");
        assert_eq!(q[1].btrfsqgroup_excl, 8192);
        assert!(parse_qgroup_show("h\n-\nx 1 2\n").is_err());
        assert_eq!(
            parse_balance_status("No balance found on '/mnt'\n")
                .unwrap()
                .btrfsbalance_status,
            "none"
        );
        let b = parse_balance_status(
            "Balance on '/' is paused\n3 out of about 8 chunks balanced (4 considered),  62% left\n",
        )
        .unwrap();
        assert_eq!(
            (
                b.btrfsbalance_status.as_str(),
                b.btrfsbalance_balanced,
                b.btrfsbalance_total,
                b.btrfsbalance_considered,
                b.btrfsbalance_left
            ),
            ("paused", 3, 8, 4, 62)
        );
        let s = parse_scrub_status(
            "UUID: x\nStatus: finished\n\ttree_extents_scrubbed: 22\n\ttree_bytes_scrubbed: 360448\n\tlast_physical: 72613888\n",
        );
        assert_eq!(s.btrfsscrub_tree_extents_scrubbed, 22);
        assert_eq!(s.btrfsscrub_tree_bytes_scrubbed, 360448);
        assert_eq!(s.btrfsscrub_last_physical, 72613888);
        assert_eq!(s.btrfsscrub_read_errors, 0);
    }

    #[test]
    fn option_validation() {
        let p = [PathBuf::from("/dev/loop9")];
        let argv = |o: &MkfsBtrfsOptions| mkfs_btrfs_command("/dev/sda", &p, o).map(|c| c.argv());
        assert_eq!(
            argv(&MkfsBtrfsOptions {
                leafsize: Some(16384),
                label: Some("L".into()),
                datatype: Some("single".into()),
                ..Default::default()
            })
            .unwrap(),
            [
                "mkfs.btrfs",
                "-f",
                "-q",
                "--data",
                "single",
                "--label",
                "L",
                "--nodesize",
                "16384",
                "/dev/loop9"
            ]
        );
        for (o, msg) in [
            (
                MkfsBtrfsOptions {
                    datatype: Some("raid7".into()),
                    ..Default::default()
                },
                "datatype 'raid7' is not one of the allowed values",
            ),
            (
                MkfsBtrfsOptions {
                    nodesize: Some(3000),
                    ..Default::default()
                },
                "nodesize must be > 0 and a power of two",
            ),
            (
                MkfsBtrfsOptions {
                    bytecount: Some(0),
                    ..Default::default()
                },
                "bytecount must be > 0",
            ),
        ] {
            let e = argv(&o).unwrap_err().to_string();
            assert!(e.contains(msg), "{e}");
        }
        assert!(
            xfs_admin_command(
                "/dev/sda",
                &XfsAdminOptions {
                    uuid: Some("x".into()),
                    ..Default::default()
                }
            )
            .is_err()
        );
        assert!(
            xfs_admin_command(
                "/dev/sda",
                &XfsAdminOptions {
                    label: Some("thirteen-char".into()),
                    ..Default::default()
                }
            )
            .is_err()
        );
        assert_eq!(
            xfs_admin_command(
                "/dev/sda",
                &XfsAdminOptions {
                    lazycounter: Some(false),
                    uuid: Some("01234567-89ab-cdef-0123-456789abcdef".into()),
                    ..Default::default()
                }
            )
            .unwrap()
            .argv(),
            [
                "xfs_admin",
                "-c",
                "0",
                "-U",
                "01234567-89ab-cdef-0123-456789abcdef"
            ]
        );
        let e = xfs_repair_command(
            "/dev/sda",
            &XfsRepairOptions {
                maxmem: Some(-1),
                ..Default::default()
            },
            None,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("maxmem must be >= 0"), "{e}");
        assert!(check_qgroupid("c", "/x", "0/257").is_ok());
        for bad in ["0", "a/1", "0/", "/1", "0/1/2"] {
            assert!(check_qgroupid("c", "/x", bad).is_err(), "{bad}");
        }
        assert_eq!(split_dest("c", "/a/b/").unwrap(), ("/a", "b"));
        assert_eq!(split_dest("c", "/b").unwrap(), ("/", "b"));
        assert!(split_dest("c", "/a/..").is_err());
        assert!(split_dest("c", "/").is_err());
    }
}
