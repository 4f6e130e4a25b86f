//! In-process filesystem probing: what `blkid -p` reports for the filesystems and
//! containers VMCraft meets (ext2/3/4, xfs, btrfs, vfat, ntfs, swap, LVM PVs, LUKS,
//! md RAID members, iso9660, squashfs), read straight from the superblocks with no process spawn.
//!
//! Types, UUIDs and labels are formatted as libblkid formats them, so results compare
//! line for line with `blkid -p` (the tests use it as the oracle).

use std::collections::BTreeMap;

use serde::Serialize;
use vmcraft_block::BlockDevice;

/// Bytes read from the start of a device: enough for every superblock probed here
/// (btrfs lives at 64 KiB; swap's signature ends a page of up to 64 KiB).
const PROBE_LEN: u64 = 0x11000;

/// A superblock check: the first bytes of the device (and the device, for formats
/// whose metadata lies further in), and what it recognised.
type Prober = fn(&[u8], &dyn BlockDevice) -> Option<Probe>;

/// What a probe found on a device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Probe {
    /// blkid's TYPE (`ext4`, `xfs`, `vfat`, `swap`, `LVM2_member`, ...).
    pub fstype: String,
    /// blkid's USAGE: `filesystem`, `other` (swap), `raid` (LVM PV), `crypto`.
    pub usage: String,
    /// The UUID as blkid prints it (empty when the format has none).
    pub uuid: String,
    /// The label (empty when unset).
    pub label: String,
    /// The filesystem block size, when the superblock says.
    pub block_size: Option<u32>,
}

impl Probe {
    /// The probe as blkid's `-o export` keys (TYPE, USAGE, UUID, LABEL, BLOCK_SIZE),
    /// empty values left out, as libguestfs's `blkid` call returns it.
    pub fn to_blkid_map(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: &str| {
            if !v.is_empty() {
                m.insert(k.to_string(), v.to_string());
            }
        };
        put("TYPE", &self.fstype);
        put("USAGE", &self.usage);
        put("UUID", &self.uuid);
        put("LABEL", &self.label);
        if let Some(bs) = self.block_size {
            put("BLOCK_SIZE", &bs.to_string());
        }
        m
    }
}

/// A probe as the session caches it: shared, with the blkid map built once, so a
/// cached `blkid` or `vfs_type` costs a clone of what it returns and no more.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CachedProbe {
    pub probe: Probe,
    pub blkid: BTreeMap<String, String>,
}

impl CachedProbe {
    pub(crate) fn new(probe: Probe) -> std::sync::Arc<Self> {
        let blkid = probe.to_blkid_map();
        std::sync::Arc::new(CachedProbe { probe, blkid })
    }
}

/// Probe `dev`; `Ok(None)` when nothing recognisable is there.
///
/// ```
/// use vmcraft_block::{BlockDevice, MemoryDisk};
/// let disk = MemoryDisk::new(1 << 20);
/// assert_eq!(vmcraft::probe::probe(&disk)?, None);
/// // An ext2 superblock: magic 0xEF53 at 1024 + 56.
/// disk.write_at(&[0x53, 0xEF], 1024 + 56)?;
/// assert_eq!(vmcraft::probe::probe(&disk)?.unwrap().fstype, "ext2");
/// # Ok::<(), vmcraft_block::Error>(())
/// ```
pub fn probe(dev: &dyn BlockDevice) -> vmcraft_block::Result<Option<Probe>> {
    let size = dev.size()?;
    let mut buf = vec![0u8; PROBE_LEN.min(size) as usize];
    dev.read_at(&mut buf, 0)?;
    let probers: [Prober; 11] = [
        // RAID members first, as libblkid: a member whose superblock is at its
        // end (md 0.90, 1.0) starts with the filesystem of the array.
        md_raid,
        |b, _| luks(b),
        |b, _| lvm2(b),
        |b, _| xfs(b),
        |b, _| ext(b),
        |b, _| btrfs(b),
        |b, d| ntfs(b, d),
        |b, _| vfat(b),
        |b, _| iso9660(b),
        |b, _| squashfs(b),
        |b, _| swap(b),
    ];
    Ok(probers.iter().find_map(|p| p(&buf, dev)))
}

fn get<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    b.get(off..off + N)?.try_into().ok()
}

fn le16(b: &[u8], off: usize) -> Option<u16> {
    get::<2>(b, off).map(u16::from_le_bytes)
}

fn le32(b: &[u8], off: usize) -> Option<u32> {
    get::<4>(b, off).map(u32::from_le_bytes)
}

fn le64(b: &[u8], off: usize) -> Option<u64> {
    get::<8>(b, off).map(u64::from_le_bytes)
}

fn be32(b: &[u8], off: usize) -> Option<u32> {
    get::<4>(b, off).map(u32::from_be_bytes)
}

/// A fixed-size, NUL-padded label field.
fn label_field(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).trim_end().to_string()
}

/// 16 bytes as a DCE UUID string, lower-case (libblkid's format).
fn uuid_string(u: &[u8; 16]) -> String {
    let h: Vec<String> = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..16].concat()
    )
}

fn fs(fstype: &str, uuid: String, label: String, block_size: Option<u32>) -> Option<Probe> {
    Some(Probe {
        fstype: fstype.to_string(),
        usage: "filesystem".to_string(),
        uuid,
        label,
        block_size,
    })
}

fn ext(b: &[u8]) -> Option<Probe> {
    const SB: usize = 1024;
    if le16(b, SB + 0x38)? != 0xEF53 {
        return None;
    }
    let compat = le32(b, SB + 0x5C)?;
    let incompat = le32(b, SB + 0x60)?;
    let ro_compat = le32(b, SB + 0x64)?;
    let uuid = get::<16>(b, SB + 0x68)?;
    let label = label_field(b.get(SB + 0x78..SB + 0x88)?);
    let block_size = 1024u32.checked_shl(le32(b, SB + 0x18)?);
    const INCOMPAT_JOURNAL_DEV: u32 = 0x0008;
    // What ext3 understands; anything beyond makes it ext4 (as libblkid decides).
    const EXT3_INCOMPAT_SUPP: u32 = 0x0002 | 0x0004 | 0x0010;
    const EXT3_RO_COMPAT_SUPP: u32 = 0x0001 | 0x0002 | 0x0004;
    const COMPAT_HAS_JOURNAL: u32 = 0x0004;
    let fstype = if incompat & INCOMPAT_JOURNAL_DEV != 0 {
        "jbd"
    } else if incompat & !EXT3_INCOMPAT_SUPP != 0 || ro_compat & !EXT3_RO_COMPAT_SUPP != 0 {
        "ext4"
    } else if compat & COMPAT_HAS_JOURNAL != 0 {
        "ext3"
    } else {
        "ext2"
    };
    fs(fstype, uuid_string(&uuid), label, block_size)
}

fn xfs(b: &[u8]) -> Option<Probe> {
    if b.get(0..4)? != b"XFSB" {
        return None;
    }
    let uuid = get::<16>(b, 32)?;
    let label = label_field(b.get(108..120)?);
    fs("xfs", uuid_string(&uuid), label, be32(b, 4))
}

fn btrfs(b: &[u8]) -> Option<Probe> {
    const SB: usize = 0x10000;
    if b.get(SB + 0x40..SB + 0x48)? != b"_BHRfS_M" {
        return None;
    }
    let uuid = get::<16>(b, SB + 0x20)?;
    let label = label_field(b.get(SB + 0x12B..SB + 0x12B + 256)?);
    fs("btrfs", uuid_string(&uuid), label, le32(b, SB + 0x90))
}

fn vfat(b: &[u8]) -> Option<Probe> {
    if b.get(510..512)? != [0x55, 0xAA] {
        return None;
    }
    // FAT32 keeps its extended boot record further in than FAT12/16.
    let (serial_off, label_off) = if b.get(82..90)? == b"FAT32   " {
        (67, 71)
    } else if b.get(54..59)? == b"FAT12" || b.get(54..59)? == b"FAT16" || b.get(54..57)? == b"FAT" {
        (39, 43)
    } else {
        return None;
    };
    let serial = le32(b, serial_off)?;
    let mut label = label_field(b.get(label_off..label_off + 11)?);
    if label == "NO NAME" {
        label.clear();
    }
    let uuid = format!("{:04X}-{:04X}", serial >> 16, serial & 0xFFFF);
    fs("vfat", uuid, label, le16(b, 11).map(u32::from))
}

fn ntfs(b: &[u8], dev: &dyn BlockDevice) -> Option<Probe> {
    if b.get(3..11)? != b"NTFS    " {
        return None;
    }
    let serial = le64(b, 0x48)?;
    let label = ntfs_label(b, dev).unwrap_or_default();
    let cluster = u32::from(le16(b, 11)?) * u32::from(*b.get(13)?);
    fs("ntfs", format!("{serial:016X}"), label, Some(cluster))
}

/// The volume label lives in the `$VOLUME_NAME` attribute of MFT record 3
/// (`$Volume`).
fn ntfs_label(b: &[u8], dev: &dyn BlockDevice) -> Option<String> {
    let sector = u64::from(le16(b, 11)?);
    let cluster = sector * u64::from(*b.get(13)?);
    let mft_lcn = le64(b, 0x30)?;
    let per_record = *b.get(0x40)? as i8;
    let record_size = if per_record < 0 {
        1u64.checked_shl(u32::from(per_record.unsigned_abs()))?
    } else {
        u64::from(per_record as u8) * cluster
    };
    if sector == 0 || record_size == 0 || record_size > 65536 {
        return None;
    }
    let mut rec = vec![0u8; record_size as usize];
    let at = mft_lcn.checked_mul(cluster)?.checked_add(3 * record_size)?;
    dev.read_at(&mut rec, at).ok()?;
    if rec.get(0..4)? != b"FILE" {
        return None;
    }
    // Undo the update-sequence fixups: the last two bytes of every sector were
    // replaced by the sequence number and saved in the array.
    let usa_off = le16(&rec, 4)? as usize;
    let usa_count = le16(&rec, 6)? as usize;
    for i in 1..usa_count {
        let end = i * sector as usize;
        let saved = get::<2>(&rec, usa_off + 2 * i)?;
        rec.get_mut(end - 2..end)?.copy_from_slice(&saved);
    }
    let mut off = le16(&rec, 0x14)? as usize;
    while let Some(kind) = le32(&rec, off) {
        let len = le32(&rec, off + 4)? as usize;
        if kind == 0xFFFF_FFFF || len == 0 {
            break;
        }
        // $VOLUME_NAME, resident: UTF-16LE value.
        if kind == 0x60 && *rec.get(off + 8)? == 0 {
            let vlen = le32(&rec, off + 0x10)? as usize;
            let voff = le16(&rec, off + 0x14)? as usize;
            let raw = rec.get(off + voff..off + voff + vlen)?;
            let units: Vec<u16> = raw
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            return Some(String::from_utf16_lossy(&units));
        }
        off += len;
    }
    None
}

fn swap(b: &[u8]) -> Option<Probe> {
    for page in [4096usize, 8192, 16384, 65536] {
        let Some(sig) = b.get(page - 10..page) else {
            continue;
        };
        if sig == b"SWAPSPACE2" {
            let uuid = get::<16>(b, 1024 + 12)?;
            let label = label_field(b.get(1024 + 28..1024 + 44)?);
            let uuid = if uuid == [0; 16] {
                String::new()
            } else {
                uuid_string(&uuid)
            };
            return Some(Probe {
                fstype: "swap".into(),
                usage: "other".into(),
                uuid,
                label,
                block_size: Some(page as u32),
            });
        }
        if sig == b"SWAP-SPACE" {
            return Some(Probe {
                fstype: "swap".into(),
                usage: "other".into(),
                block_size: Some(page as u32),
                ..Default::default()
            });
        }
    }
    None
}

fn lvm2(b: &[u8]) -> Option<Probe> {
    // The label is in one of the first four sectors.
    for s in 0..4 {
        let at = s * 512;
        if b.get(at..at + 8)? == b"LABELONE" && b.get(at + 24..at + 32)? == b"LVM2 001" {
            let pvh = at + le32(b, at + 20)? as usize;
            let raw = b.get(pvh..pvh + 32)?;
            let u = String::from_utf8_lossy(raw);
            // lvm2 prints PV UUIDs in 6-4-4-4-4-4-6 groups.
            let groups = [6, 4, 4, 4, 4, 4, 6];
            let mut parts = Vec::new();
            let mut i = 0;
            for g in groups {
                parts.push(u.get(i..i + g)?.to_string());
                i += g;
            }
            return Some(Probe {
                fstype: "LVM2_member".into(),
                usage: "raid".into(),
                uuid: parts.join("-"),
                ..Default::default()
            });
        }
    }
    None
}

fn luks(b: &[u8]) -> Option<Probe> {
    if b.get(0..6)? != b"LUKS\xba\xbe" {
        return None;
    }
    let uuid = label_field(b.get(168..208)?);
    Some(Probe {
        fstype: "crypto_LUKS".into(),
        usage: "crypto".into(),
        uuid,
        ..Default::default()
    })
}

/// The md superblock magic (little-endian on disk for 1.x; 0.90 is host-endian).
const MD_MAGIC: u32 = 0xa92b_4efc;

/// An md RAID member (`linux_raid_member`, USAGE `raid`): a 1.x superblock at
/// 4 KiB (1.2), at the start (1.1) or 8 KiB before the end rounded down to
/// 4 KiB (1.0), whose `super_offset` names the sector it was found at; or a 0.90
/// superblock in the last 64 KiB-aligned 64 KiB. UUID is the array's, LABEL its
/// name (1.x), as `blkid -p` reports them.
fn md_raid(b: &[u8], dev: &dyn BlockDevice) -> Option<Probe> {
    let size = dev.size().ok()?;
    let at_end = |off: u64| -> Option<Vec<u8>> {
        let mut sb = vec![0u8; 256];
        dev.read_at(&mut sb, off).ok()?;
        Some(sb)
    };
    let v1 = |sb: &[u8], off: u64| -> Option<Probe> {
        if le32(sb, 0)? != MD_MAGIC || le32(sb, 4)? != 1 || le64(sb, 144)? != off / 512 {
            return None;
        }
        Some(Probe {
            fstype: "linux_raid_member".into(),
            usage: "raid".into(),
            uuid: uuid_string(&get::<16>(sb, 16)?),
            label: label_field(sb.get(32..64)?),
            block_size: None,
        })
    };
    for off in [4096u64, 0] {
        if let Some(p) = b.get(off as usize..).and_then(|sb| v1(sb, off)) {
            return Some(p);
        }
    }
    if size >= 3 * 4096 {
        let off = (size - 8192) & !4095;
        if let Some(p) = at_end(off).and_then(|sb| v1(&sb, off)) {
            return Some(p);
        }
    }
    if size >= 0x20000 {
        let off = (size & !0xffff) - 0x10000;
        let sb = at_end(off)?;
        let magic = le32(&sb, 0)?;
        if (magic == MD_MAGIC || magic.swap_bytes() == MD_MAGIC) && le32(&sb, 4)? == 0 {
            let mut u = [0u8; 16];
            u[..4].copy_from_slice(sb.get(20..24)?);
            u[4..].copy_from_slice(sb.get(52..64)?);
            return Some(Probe {
                fstype: "linux_raid_member".into(),
                usage: "raid".into(),
                uuid: uuid_string(&u),
                ..Default::default()
            });
        }
    }
    None
}

fn iso9660(b: &[u8]) -> Option<Probe> {
    if b.get(0x8001..0x8006)? != b"CD001" {
        return None;
    }
    let label = label_field(b.get(0x8028..0x8048)?);
    fs("iso9660", String::new(), label, Some(2048))
}

fn squashfs(b: &[u8]) -> Option<Probe> {
    if b.get(0..4)? != b"hsqs" {
        return None;
    }
    fs("squashfs", String::new(), String::new(), le32(b, 12))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmcraft_block::MemoryDisk;

    fn disk_with(writes: &[(u64, &[u8])]) -> MemoryDisk {
        let d = MemoryDisk::new(1 << 20);
        for (off, data) in writes {
            d.write_at(data, *off).unwrap();
        }
        d
    }

    #[test]
    fn ext_variants_follow_the_feature_flags() {
        let magic = (1024 + 0x38, &[0x53u8, 0xEF][..]);
        let journal = (1024 + 0x5C, &[0x04u8, 0, 0, 0][..]);
        let extents = (1024 + 0x60, &[0x40u8, 0, 0, 0][..]);
        let label = (1024 + 0x78, &b"rootfs\0"[..]);
        assert_eq!(probe(&disk_with(&[magic])).unwrap().unwrap().fstype, "ext2");
        assert_eq!(
            probe(&disk_with(&[magic, journal]))
                .unwrap()
                .unwrap()
                .fstype,
            "ext3"
        );
        let p = probe(&disk_with(&[magic, journal, extents, label]))
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.fstype.as_str(), p.label.as_str(), p.usage.as_str()),
            ("ext4", "rootfs", "filesystem")
        );
        assert_eq!(p.uuid, "00000000-0000-0000-0000-000000000000");
    }

    /// An md 1.x superblock for a device at `off` (sector `off / 512`).
    fn md1(off: u64) -> Vec<u8> {
        let mut sb = vec![0u8; 256];
        sb[0..4].copy_from_slice(&MD_MAGIC.to_le_bytes());
        sb[4..8].copy_from_slice(&1u32.to_le_bytes());
        sb[16..32].copy_from_slice(&[
            0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
            0xff, 0x01,
        ]);
        sb[32..41].copy_from_slice(b"host:root");
        sb[144..152].copy_from_slice(&(off / 512).to_le_bytes());
        sb
    }

    #[test]
    fn md_members_are_found_where_each_superblock_version_puts_it() {
        let ext4 = [(1024 + 0x38, &[0x53u8, 0xEF][..])];
        let want = (
            "linux_raid_member",
            "raid",
            "11223344-5566-7788-99aa-bbccddeeff01",
            "host:root",
        );
        let got = |d: &MemoryDisk| {
            let p = probe(d).unwrap().unwrap();
            (p.fstype, p.usage, p.uuid, p.label)
        };
        let as_owned = |w: (&str, &str, &str, &str)| {
            (
                w.0.to_string(),
                w.1.to_string(),
                w.2.to_string(),
                w.3.to_string(),
            )
        };
        // 1.2 at 4 KiB, 1.1 at 0.
        assert_eq!(got(&disk_with(&[(4096, &md1(4096))])), as_owned(want));
        assert_eq!(got(&disk_with(&[(0, &md1(0))])), as_owned(want));
        // 1.0 at the end, over the array's ext4 at the start: the member wins.
        let end = ((1u64 << 20) - 8192) & !4095;
        let mut w = ext4.to_vec();
        let sb = md1(end);
        w.push((end, &sb));
        assert_eq!(got(&disk_with(&w)), as_owned(want));
        // A superblock whose super_offset names another place is not one here.
        assert_eq!(probe(&disk_with(&[(4096, &md1(0))])).unwrap(), None);
        // 0.90 in the last 64 KiB.
        let mut sb = vec![0u8; 64];
        sb[0..4].copy_from_slice(&MD_MAGIC.to_le_bytes());
        sb[20..24].copy_from_slice(&[1, 2, 3, 4]);
        sb[52..64].copy_from_slice(&[5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
        let p = probe(&disk_with(&[
            (1024 + 0x38, &[0x53, 0xEF]),
            ((1 << 20) - 0x10000, &sb),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            (p.fstype.as_str(), p.uuid.as_str()),
            ("linux_raid_member", "01020304-0506-0708-090a-0b0c0d0e0f10")
        );
    }

    #[test]
    fn vfat_serial_is_formatted_like_blkid() {
        let mut bs = vec![0u8; 512];
        bs[82..90].copy_from_slice(b"FAT32   ");
        bs[67..71].copy_from_slice(&0x1234_ABCDu32.to_le_bytes());
        bs[71..82].copy_from_slice(b"EFI        ");
        bs[510] = 0x55;
        bs[511] = 0xAA;
        let p = probe(&disk_with(&[(0, &bs)])).unwrap().unwrap();
        assert_eq!(
            (p.fstype.as_str(), p.uuid.as_str(), p.label.as_str()),
            ("vfat", "1234-ABCD", "EFI")
        );
    }

    #[test]
    fn lvm_pv_uuid_is_grouped() {
        let mut s = vec![0u8; 512];
        s[0..8].copy_from_slice(b"LABELONE");
        s[20..24].copy_from_slice(&32u32.to_le_bytes());
        s[24..32].copy_from_slice(b"LVM2 001");
        s[32..64].copy_from_slice(b"abcdefghijklmnopqrstuvwxyz012345");
        let p = probe(&disk_with(&[(512, &s)])).unwrap().unwrap();
        assert_eq!(p.fstype, "LVM2_member");
        assert_eq!(p.uuid, "abcdef-ghij-klmn-opqr-stuv-wxyz-012345");
    }

    #[test]
    fn small_or_empty_devices_probe_to_nothing() {
        assert_eq!(probe(&MemoryDisk::new(4096)).unwrap(), None);
        assert_eq!(probe(&MemoryDisk::new(0)).unwrap(), None);
    }

    #[test]
    fn blkid_map_leaves_out_empty_values() {
        let p = Probe {
            fstype: "swap".into(),
            usage: "other".into(),
            ..Default::default()
        };
        let m = p.to_blkid_map();
        assert_eq!(m.keys().collect::<Vec<_>>(), ["TYPE", "USAGE"]);
    }
}
