//! Partition device names: [`part_to_dev`] and [`part_to_partnum`] split
//! `/dev/sda1` into `/dev/sda` and `1`, and `/dev/nvme0n1p2`, `/dev/loop0p2`,
//! `/dev/mmcblk0p1`, `/dev/md0p1` (disks whose own name ends in a digit, so the
//! partition number follows a `p`) into the disk and the number.
//!
//! libguestfs's own splitter takes `/dev/nvme0n1` for partition 1 of
//! `/dev/nvme0n`; here a whole disk is always refused, which is what the
//! libguestfs docs promise.

use crate::error::{Error, ErrorKind, Result};

/// Disk families whose whole-disk names end in a digit; their partitions are
/// always `<disk>p<N>`.
const DIGIT_NAMED_DISKS: &[&str] = &[
    "loop", "nbd", "md", "mmcblk", "ram", "zram", "rbd", "nullb", "pmem", "dm-", "nvme", "ubiblock",
];

fn not_a_partition(call: &'static str, name: &str) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        call,
        name,
        "device name is not a partition",
    )
}

/// Split a partition name into the whole-disk name and the partition number.
fn split(call: &'static str, name: &str) -> Result<(String, i32)> {
    let digits = name.len()
        - name
            .bytes()
            .rev()
            .take_while(|b| b.is_ascii_digit())
            .count();
    let (base, num) = name.split_at(digits);
    if num.is_empty() {
        return Err(not_a_partition(call, name));
    }
    let partnum: i32 = num.parse().map_err(|_| {
        Error::new(
            ErrorKind::InvalidArgument,
            call,
            name,
            format!("partition number {num} is out of range"),
        )
    })?;
    if partnum < 1 {
        return Err(not_a_partition(call, name));
    }
    let leaf = base.rsplit('/').next().unwrap_or(base);
    let bytes = leaf.as_bytes();
    // `<disk ending in a digit>p<N>`: nvme0n1p2, loop0p2, mmcblk0p1, md127p3.
    if bytes.len() >= 2 && bytes[bytes.len() - 1] == b'p' && bytes[bytes.len() - 2].is_ascii_digit()
    {
        return Ok((base[..base.len() - 1].to_string(), partnum));
    }
    // A disk whose name ends in digits is whole (`/dev/loop0`, `/dev/nvme0n1`,
    // `/dev/md0`): its partitions would have needed the `p`.
    let digit_named = leaf.bytes().any(|b| b.is_ascii_digit())
        || DIGIT_NAMED_DISKS.iter().any(|p| leaf.starts_with(p));
    if leaf.is_empty() || digit_named {
        return Err(not_a_partition(call, name));
    }
    Ok((base.to_string(), partnum))
}

/// The whole-disk device a partition belongs to, as libguestfs's `part_to_dev`:
/// `/dev/sda1` → `/dev/sda`, `/dev/nvme0n1p2` → `/dev/nvme0n1`. A name that is
/// not a partition (`/dev/sda`, `/dev/loop0`, `/dev/nvme0n1`) is an error.
///
/// ```
/// use vmcraft_part::part_to_dev;
/// assert_eq!(part_to_dev("/dev/sda1")?, "/dev/sda");
/// assert_eq!(part_to_dev("/dev/nvme0n1p2")?, "/dev/nvme0n1");
/// assert_eq!(part_to_dev("/dev/loop0p2")?, "/dev/loop0");
/// assert!(part_to_dev("/dev/sda").is_err());
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_to_dev(partition: &str) -> Result<String> {
    split("part_to_dev", partition).map(|(dev, _)| dev)
}

/// The partition number of a partition device name, as libguestfs's
/// `part_to_partnum`: `/dev/sda1` → 1, `/dev/loop0p12` → 12. A name that is not a
/// partition is an error.
///
/// ```
/// use vmcraft_part::part_to_partnum;
/// assert_eq!(part_to_partnum("/dev/vdb3")?, 3);
/// assert_eq!(part_to_partnum("/dev/mmcblk0p1")?, 1);
/// assert!(part_to_partnum("/dev/nvme0n1").is_err());
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_to_partnum(partition: &str) -> Result<i32> {
    split("part_to_partnum", partition).map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_split() {
        for (name, dev, n) in [
            ("/dev/sda1", "/dev/sda", 1),
            ("/dev/sda15", "/dev/sda", 15),
            ("/dev/vdb3", "/dev/vdb", 3),
            ("/dev/xvda1", "/dev/xvda", 1),
            ("/dev/sdaa2", "/dev/sdaa", 2),
            ("/dev/nvme0n1p2", "/dev/nvme0n1", 2),
            ("/dev/loop0p2", "/dev/loop0", 2),
            ("/dev/loop12p128", "/dev/loop12", 128),
            ("/dev/mmcblk0p1", "/dev/mmcblk0", 1),
            ("/dev/md127p3", "/dev/md127", 3),
            ("/dev/nbd0p1", "/dev/nbd0", 1),
            ("sda1", "sda", 1),
        ] {
            assert_eq!(part_to_dev(name).unwrap(), dev, "{name}");
            assert_eq!(part_to_partnum(name).unwrap(), n, "{name}");
        }
    }

    #[test]
    fn whole_disks_are_refused() {
        for name in [
            "/dev/sda",
            "/dev/loop0",
            "/dev/loop10",
            "/dev/nvme0n1",
            "/dev/md0",
            "/dev/nbd3",
            "/dev/mmcblk0",
            "/dev/sda0",
            "",
            "/dev/",
            "/dev/1",
        ] {
            let e = part_to_dev(name).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{name}");
            assert_eq!(
                e.to_string(),
                format!("part_to_dev: {name}: device name is not a partition")
            );
            let e = part_to_partnum(name).unwrap_err();
            assert_eq!(e.call(), "part_to_partnum");
        }
    }

    #[test]
    fn huge_numbers_are_refused() {
        let e = part_to_partnum("/dev/sda99999999999").unwrap_err();
        assert!(e.message().contains("99999999999"), "{e}");
    }
}
