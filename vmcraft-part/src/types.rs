//! The typed vocabulary: [`PartType`] (`gpt`/`msdos` with the libguestfs aliases
//! `efi`/`mbr`), [`PartKind`] (`p`/`l`/`e`), the libguestfs `part_list` row
//! [`Partition`], the richer [`PartInfo`], and GUID parsing and formatting
//! ([`parse_guid`], [`format_guid`], the well-known [`gpt_type`] GUIDs).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use uuid::Uuid;

use crate::error::{Error, ErrorKind};

/// A partition table type.
///
/// ```
/// use vmcraft_part::PartType;
/// assert_eq!("efi".parse::<PartType>().unwrap(), PartType::Gpt);
/// assert_eq!("mbr".parse::<PartType>().unwrap().to_string(), "msdos");
/// let err = "sun".parse::<PartType>().unwrap_err();
/// assert!(err.to_string().contains("\"gpt\" (or \"efi\") and \"msdos\" (or \"mbr\")"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PartType {
    /// GUID partition table.
    Gpt,
    /// MBR ("msdos") partition table, with extended and logical partitions.
    Msdos,
}

impl PartType {
    /// The libguestfs name: `gpt` or `msdos`.
    pub fn as_str(self) -> &'static str {
        match self {
            PartType::Gpt => "gpt",
            PartType::Msdos => "msdos",
        }
    }
}

impl fmt::Display for PartType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a [`PartType`] or [`PartKind`]: the refused string and
/// what would have been accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}: accepted are {accepted}")]
pub struct ParseError {
    what: &'static str,
    value: String,
    accepted: &'static str,
}

impl ParseError {
    pub(crate) fn into_error(self, call: &'static str, device: &str) -> Error {
        Error::new(ErrorKind::InvalidArgument, call, device, self.to_string())
    }
}

impl FromStr for PartType {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "gpt" | "efi" => Ok(PartType::Gpt),
            "msdos" | "mbr" => Ok(PartType::Msdos),
            _ => Err(ParseError {
                what: "partition table type",
                value: s.to_string(),
                accepted: "\"gpt\" (or \"efi\") and \"msdos\" (or \"mbr\")",
            }),
        }
    }
}

/// The kind of a partition: primary, logical or extended. Logical and extended
/// partitions exist only on msdos tables; every GPT partition is primary.
///
/// ```
/// use vmcraft_part::PartKind;
/// assert_eq!("l".parse::<PartKind>().unwrap(), PartKind::Logical);
/// assert_eq!(PartKind::Extended.to_string(), "extended");
/// assert!("x".parse::<PartKind>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PartKind {
    /// A primary partition (every GPT partition).
    Primary,
    /// A logical partition inside the extended partition (msdos only).
    Logical,
    /// The extended partition that holds the logical ones (msdos only).
    Extended,
}

impl PartKind {
    /// The libguestfs name: `primary`, `logical` or `extended`.
    pub fn as_str(self) -> &'static str {
        match self {
            PartKind::Primary => "primary",
            PartKind::Logical => "logical",
            PartKind::Extended => "extended",
        }
    }
}

impl fmt::Display for PartKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PartKind {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "p" | "primary" => Ok(PartKind::Primary),
            "l" | "logical" => Ok(PartKind::Logical),
            "e" | "extended" => Ok(PartKind::Extended),
            _ => Err(ParseError {
                what: "partition type",
                value: s.to_string(),
                accepted: "\"primary\" (or \"p\"), \"logical\" (or \"l\") and \"extended\" (or \"e\")",
            }),
        }
    }
}

/// One row of [`crate::part_list`], as libguestfs returns it: positions and size
/// in bytes, `part_end` inclusive.
///
/// ```
/// use vmcraft_part::Partition;
/// let p = Partition { part_num: 1, part_start: 1 << 20, part_end: (2 << 20) - 1, part_size: 1 << 20 };
/// assert_eq!(serde_json::to_string(&p).unwrap(),
///     r#"{"part_num":1,"part_start":1048576,"part_end":2097151,"part_size":1048576}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Partition {
    /// Partition number, from 1.
    pub part_num: i32,
    /// First byte.
    pub part_start: u64,
    /// Last byte (inclusive).
    pub part_end: u64,
    /// Size in bytes.
    pub part_size: u64,
}

/// Everything the table says about one partition, in sectors of the device's
/// logical sector size.
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::{PartitionTable, PartType, PartKind};
/// let disk = MemoryDisk::new(64 << 20);
/// let mut table = PartitionTable::new(&disk, PartType::Msdos)?;
/// table.add(PartKind::Primary, 2048, 4095)?;
/// let info = &table.partitions()[0];
/// assert_eq!((info.number, info.start, info.end, info.mbr_id), (1, 2048, 4095, Some(0x83)));
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartInfo {
    /// Partition number, from 1 (logical partitions from 5).
    pub number: u32,
    /// Primary, logical or extended.
    pub kind: PartKind,
    /// First sector.
    pub start: u64,
    /// Last sector (inclusive).
    pub end: u64,
    /// Sector size in bytes.
    pub sector_size: u64,
    /// Bootable: the active flag on msdos; the EFI System Partition type on GPT,
    /// as parted and libguestfs report it.
    pub bootable: bool,
    /// MBR partition id (msdos only).
    pub mbr_id: Option<u8>,
    /// Partition type GUID (GPT only).
    pub gpt_type: Option<Uuid>,
    /// Unique partition GUID (GPT only).
    pub gpt_guid: Option<Uuid>,
    /// Attribute bits (GPT only).
    pub gpt_attributes: Option<u64>,
    /// Partition name (GPT only).
    pub name: Option<String>,
}

impl PartInfo {
    /// Size in sectors.
    pub fn sectors(&self) -> u64 {
        self.end - self.start + 1
    }

    /// The libguestfs `part_list` row for this partition.
    pub fn to_partition(&self) -> Partition {
        Partition {
            part_num: self.number as i32,
            part_start: self.start * self.sector_size,
            part_end: (self.end + 1) * self.sector_size - 1,
            part_size: self.sectors() * self.sector_size,
        }
    }
}

/// Well-known GPT partition type GUIDs.
pub mod gpt_type {
    use uuid::{Uuid, uuid};

    /// Linux filesystem data: the type of every new partition.
    pub const LINUX_FILESYSTEM: Uuid = uuid!("0FC63DAF-8483-4772-8E79-3D69D8477DE4");
    /// EFI System Partition: what parted's and libguestfs's "bootable" means on GPT.
    pub const EFI_SYSTEM: Uuid = uuid!("C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
    /// BIOS boot partition (GRUB's core image on BIOS/GPT systems).
    pub const BIOS_BOOT: Uuid = uuid!("21686148-6449-6E6F-744E-656564454649");
    /// Linux swap.
    pub const LINUX_SWAP: Uuid = uuid!("0657FD6D-A4AB-43C4-84E5-0933C84B4F4F");
    /// Linux LVM physical volume.
    pub const LINUX_LVM: Uuid = uuid!("E6D6D379-F507-44C2-A23C-238F2A3DF928");
    /// Microsoft basic data (FAT, NTFS, exFAT).
    pub const MICROSOFT_BASIC_DATA: Uuid = uuid!("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7");
}

/// Parse a GUID as libguestfs accepts it: `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX`
/// in either case, optionally in braces. The error names the value.
///
/// ```
/// use vmcraft_part::parse_guid;
/// let g = parse_guid("{0fc63daf-8483-4772-8e79-3d69d8477de4}").unwrap();
/// assert_eq!(vmcraft_part::format_guid(&g), "0FC63DAF-8483-4772-8E79-3D69D8477DE4");
/// assert!(parse_guid("0FC63DAF84834772").is_err());
/// ```
pub fn parse_guid(s: &str) -> Result<Uuid, GuidError> {
    let inner = s
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(s);
    let shape_ok = inner.len() == 36
        && inner.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    if !shape_ok {
        return Err(GuidError(s.to_string()));
    }
    Uuid::parse_str(inner).map_err(|_| GuidError(s.to_string()))
}

/// A string that is not a GUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a valid GUID (expected XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX)")]
pub struct GuidError(String);

/// Format a GUID the way libguestfs (and sgdisk) print it: upper-case, hyphenated.
pub fn format_guid(g: &Uuid) -> String {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    g.hyphenated().encode_upper(&mut buf).to_string()
}

/// A GUID as stored on disk (the first three fields little-endian).
pub(crate) fn guid_to_disk(g: &Uuid) -> [u8; 16] {
    g.to_bytes_le()
}

/// A GUID from its on-disk bytes.
pub(crate) fn guid_from_disk(b: &[u8; 16]) -> Uuid {
    Uuid::from_bytes_le(*b)
}

/// A fresh random GUID (version 4).
pub(crate) fn random_guid() -> Uuid {
    Uuid::new_v4()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_type_names() {
        for (s, t) in [
            ("gpt", PartType::Gpt),
            ("efi", PartType::Gpt),
            ("msdos", PartType::Msdos),
            ("mbr", PartType::Msdos),
        ] {
            assert_eq!(s.parse::<PartType>().unwrap(), t);
        }
        for bad in ["GPT", "", "sun", "loop", "dos"] {
            let e = bad.parse::<PartType>().unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
        assert_eq!(
            serde_json::to_string(&PartType::Msdos).unwrap(),
            "\"msdos\""
        );
    }

    #[test]
    fn part_kind_names() {
        for (s, k) in [
            ("p", PartKind::Primary),
            ("primary", PartKind::Primary),
            ("l", PartKind::Logical),
            ("logical", PartKind::Logical),
            ("e", PartKind::Extended),
            ("extended", PartKind::Extended),
        ] {
            assert_eq!(s.parse::<PartKind>().unwrap(), k);
            assert_eq!(k.to_string().parse::<PartKind>().unwrap(), k);
        }
        let e = "P".parse::<PartKind>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown partition type \"P\": accepted are \"primary\" (or \"p\"), \"logical\" (or \"l\") and \"extended\" (or \"e\")"
        );
    }

    #[test]
    fn guids() {
        let g = parse_guid("c12a7328-f81f-11d2-ba4b-00a0c93ec93b").unwrap();
        assert_eq!(g, gpt_type::EFI_SYSTEM);
        assert_eq!(format_guid(&g), "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
        // On disk the first three fields are little-endian.
        assert_eq!(
            guid_to_disk(&g)[..8],
            [0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11]
        );
        assert_eq!(guid_from_disk(&guid_to_disk(&g)), g);
        for bad in [
            "",
            "c12a7328f81f11d2ba4b00a0c93ec93b",
            "c12a7328-f81f-11d2-ba4b-00a0c93ec93",
            "c12a7328-f81f-11d2-ba4b-00a0c93ec93bb",
            "g12a7328-f81f-11d2-ba4b-00a0c93ec93b",
            "{c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
            "urn:uuid:c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
            "c12a7328+f81f-11d2-ba4b-00a0c93ec93b",
        ] {
            let e = parse_guid(bad).unwrap_err();
            assert!(e.to_string().contains("is not a valid GUID"), "{bad}: {e}");
        }
        assert_ne!(random_guid(), random_guid());
    }

    #[test]
    fn part_info_rows_are_bytes_with_inclusive_end() {
        let info = PartInfo {
            number: 2,
            kind: PartKind::Primary,
            start: 2048,
            end: 4095,
            sector_size: 4096,
            bootable: false,
            mbr_id: None,
            gpt_type: Some(gpt_type::LINUX_FILESYSTEM),
            gpt_guid: None,
            gpt_attributes: Some(0),
            name: Some(String::new()),
        };
        assert_eq!(info.sectors(), 2048);
        assert_eq!(
            info.to_partition(),
            Partition {
                part_num: 2,
                part_start: 2048 * 4096,
                part_end: 4096 * 4096 - 1,
                part_size: 2048 * 4096
            }
        );
    }
}
