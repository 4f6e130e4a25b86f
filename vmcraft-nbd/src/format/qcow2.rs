//! qcow2 headers, read and checked in-process: version, cluster size, features,
//! encryption, the backing file name and the external data file extension, then the
//! tables against the file's length. The L1 table, the refcount table and the
//! refcount blocks are read (cheap: the refcount blocks cost 64 KiB per 2 GiB of
//! file at the default cluster size) so that a truncated image or garbage in the
//! tables is refused with a message naming the offending entry, instead of turning
//! into I/O errors in the middle of a session.

use vmcraft_block::BlockDevice;

use super::{ImageInfo, be32, be64, invalid, read_clamped};
use crate::error::{Error, ErrorKind, Result};

/// The first four bytes of every qcow (v1) and qcow2 file.
pub(crate) const MAGIC: &[u8] = b"QFI\xfb";

const INCOMPAT_CORRUPT: u64 = 1 << 1;
const INCOMPAT_DATA_FILE: u64 = 1 << 2;
const INCOMPAT_EXTL2: u64 = 1 << 4;
/// Dirty, corrupt, data file, compression type, extended L2.
const INCOMPAT_KNOWN: u64 = 0x1f;

const EXT_DATA_FILE: u32 = 0x4441_5441;
const EXT_BACKING_FORMAT: u32 = 0xe279_2aca;
/// qemu's limit on the backing format name (`sizeof(bs->backing_format) - 1`).
const MAX_BACKING_FORMAT: usize = 15;

/// qemu's own limits (QCOW_MAX_L1_SIZE, QCOW_MAX_REFTABLE_SIZE).
const MAX_L1_BYTES: u64 = 32 << 20;
const MAX_REFTABLE_BYTES: u64 = 8 << 20;
/// Refcount blocks read past this many bytes are not scanned for truncation.
const REFBLOCK_SCAN_BYTES: u64 = 64 << 20;

const L1_OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
const L1_RESERVED_MASK: u64 = 0x7f00_0000_0000_01ff;
const REFTABLE_RESERVED_MASK: u64 = 0x1ff;

fn truncated(what: String, size: u64) -> Error {
    invalid(format!(
        "qcow2 {what} beyond the end of the file ({size} bytes): the image is truncated"
    ))
}

/// Fill `info` from the qcow2 image on `dev` (`size` bytes), or say what is wrong.
pub(super) fn inspect(dev: &dyn BlockDevice, size: u64, info: &mut ImageInfo) -> Result<()> {
    if size < 72 {
        return Err(invalid(format!(
            "qcow2 header is truncated: the file has only {size} bytes"
        )));
    }
    let h = read_clamped(dev, 0, 104, size)?;
    let version = be32(&h, 4);
    if !(2..=3).contains(&version) {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "inspect_image",
            "",
            format!("qcow2 version {version} is not supported"),
        ));
    }
    if version == 3 && h.len() < 104 {
        return Err(invalid(format!(
            "qcow2 v3 header is truncated: the file has only {size} bytes"
        )));
    }
    let backing_offset = be64(&h, 8);
    let backing_size = be32(&h, 16) as u64;
    let cluster_bits = be32(&h, 20);
    let virtual_size = be64(&h, 24);
    let crypt_method = be32(&h, 32);
    let l1_size = be32(&h, 36) as u64;
    let l1_offset = be64(&h, 40);
    let reftable_offset = be64(&h, 48);
    let reftable_clusters = be32(&h, 56) as u64;
    let nb_snapshots = be32(&h, 60);
    let snapshots_offset = be64(&h, 64);
    let (incompat, refcount_order, header_length) = if version == 3 {
        (be64(&h, 72), be32(&h, 96), be32(&h, 100) as u64)
    } else {
        (0, 4, 72)
    };

    if !(9..=21).contains(&cluster_bits) {
        return Err(invalid(format!(
            "qcow2 cluster_bits {cluster_bits} is out of range (9 to 21)"
        )));
    }
    let cs = 1u64 << cluster_bits;
    if version == 3 && !(104..=cs).contains(&header_length) {
        return Err(invalid(format!(
            "qcow2 header length {header_length} is out of range (104 to {cs})"
        )));
    }
    if refcount_order > 6 {
        return Err(invalid(format!(
            "qcow2 refcount order {refcount_order} is out of range (0 to 6)"
        )));
    }
    let unknown = incompat & !INCOMPAT_KNOWN;
    if unknown != 0 {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "inspect_image",
            "",
            format!("qcow2 has unknown incompatible features 0x{unknown:x}"),
        ));
    }
    if crypt_method != 0 {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "inspect_image",
            "",
            format!("encrypted qcow2 (crypt method {crypt_method}) is not supported"),
        ));
    }
    info.marked_corrupt = incompat & INCOMPAT_CORRUPT != 0;
    info.virtual_size = Some(virtual_size);

    // The backing file name and the header extensions live in the first cluster.
    let first = read_clamped(dev, 0, cs.min(size) as usize, size)?;
    if backing_offset != 0 {
        if backing_size == 0
            || backing_size > 1023
            || backing_offset
                .checked_add(backing_size)
                .is_none_or(|end| end > cs)
        {
            return Err(invalid(format!(
                "qcow2 backing file name ({backing_size} bytes at offset {backing_offset}) \
                 is outside the header cluster"
            )));
        }
        let end = (backing_offset + backing_size) as usize;
        if end > first.len() {
            return Err(truncated("backing file name ends".into(), size));
        }
        // qemu keeps the name as a C string: it ends at the first NUL.
        let name = c_name(&first[backing_offset as usize..end]);
        if !name.is_empty() {
            info.backing_file = Some(name);
        }
    }
    let ext = header_extensions(&first, header_length as usize)?;
    if incompat & INCOMPAT_DATA_FILE != 0 {
        info.data_file = Some(ext.data_file.unwrap_or_default());
    }
    if info.backing_file.is_some() {
        info.backing_format = ext.backing_format;
    }

    check_l1(dev, size, cs, virtual_size, l1_size, l1_offset, incompat)?;
    let blocks = check_reftable(dev, size, cs, reftable_offset, reftable_clusters)?;
    check_refcounts(dev, size, cs, refcount_order, &blocks)?;

    if nb_snapshots > 0 {
        if !snapshots_offset.is_multiple_of(cs) {
            return Err(invalid(format!(
                "qcow2 snapshot table offset 0x{snapshots_offset:x} is not aligned to the \
                 cluster size"
            )));
        }
        if snapshots_offset >= size {
            return Err(truncated(
                format!("snapshot table at offset {snapshots_offset} lies"),
                size,
            ));
        }
    }
    Ok(())
}

/// A name stored in the header, as qemu's C string holds it.
fn c_name(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    super::vmdk::name_text(&bytes[..end])
}

/// What the header extensions name.
#[derive(Debug, Default)]
struct Extensions {
    data_file: Option<String>,
    backing_format: Option<String>,
}

/// Walk the header extensions.
fn header_extensions(first: &[u8], start: usize) -> Result<Extensions> {
    let mut off = start;
    let mut ext = Extensions::default();
    while off + 8 <= first.len() {
        let kind = be32(first, off);
        let len = be32(first, off + 4) as usize;
        off += 8;
        if kind == 0 {
            break;
        }
        if len > first.len() - off {
            return Err(invalid(format!(
                "qcow2 header extension 0x{kind:08x} ({len} bytes) overruns the header cluster"
            )));
        }
        let value = &first[off..off + len];
        match kind {
            EXT_DATA_FILE => ext.data_file = Some(c_name(value)),
            EXT_BACKING_FORMAT if len > MAX_BACKING_FORMAT => {
                return Err(invalid(format!(
                    "qcow2 backing format name is {len} bytes (qemu allows {MAX_BACKING_FORMAT})"
                )));
            }
            EXT_BACKING_FORMAT => ext.backing_format = Some(c_name(value)),
            _ => {}
        }
        off += len.div_ceil(8) * 8;
    }
    Ok(ext)
}

fn check_l1(
    dev: &dyn BlockDevice,
    size: u64,
    cs: u64,
    virtual_size: u64,
    l1_size: u64,
    l1_offset: u64,
    incompat: u64,
) -> Result<()> {
    let l2_entry = if incompat & INCOMPAT_EXTL2 != 0 {
        16
    } else {
        8
    };
    let per_l1_entry = cs * (cs / l2_entry);
    let needed = virtual_size.div_ceil(per_l1_entry);
    if l1_size * 8 > MAX_L1_BYTES {
        return Err(invalid(format!(
            "qcow2 l1 table of {l1_size} entries is too large"
        )));
    }
    if l1_size < needed {
        return Err(invalid(format!(
            "qcow2 l1 table has {l1_size} entries but the virtual size {virtual_size} needs \
             {needed}"
        )));
    }
    if l1_size == 0 {
        return Ok(());
    }
    if !l1_offset.is_multiple_of(cs) || l1_offset == 0 {
        return Err(invalid(format!(
            "qcow2 l1 table offset 0x{l1_offset:x} is not a cluster boundary after the header"
        )));
    }
    let bytes = l1_size * 8;
    if l1_offset.checked_add(bytes).is_none_or(|end| end > size) {
        return Err(truncated(
            format!("l1 table ({bytes} bytes at offset {l1_offset}) ends"),
            size,
        ));
    }
    let l1 = read_clamped(dev, l1_offset, bytes as usize, size)?;
    for (i, chunk) in l1.chunks_exact(8).enumerate() {
        let e = be64(chunk, 0);
        if e & L1_RESERVED_MASK != 0 {
            return Err(invalid(format!(
                "qcow2 l1 entry {i} has reserved bits set (0x{e:016x})"
            )));
        }
        let off = e & L1_OFFSET_MASK;
        if off == 0 {
            continue;
        }
        if !off.is_multiple_of(cs) {
            return Err(invalid(format!(
                "qcow2 l1 entry {i} points at unaligned offset 0x{off:x}"
            )));
        }
        if off >= size {
            return Err(truncated(
                format!("l1 entry {i} points at an l2 table at offset {off},"),
                size,
            ));
        }
    }
    Ok(())
}

/// Check the refcount table; return the offsets of its refcount blocks (by index).
fn check_reftable(
    dev: &dyn BlockDevice,
    size: u64,
    cs: u64,
    offset: u64,
    clusters: u64,
) -> Result<Vec<(u64, u64)>> {
    if clusters == 0 {
        return Err(invalid("qcow2 has no refcount table"));
    }
    let bytes = clusters * cs;
    if bytes > MAX_REFTABLE_BYTES {
        return Err(invalid(format!(
            "qcow2 refcount table of {clusters} clusters is too large"
        )));
    }
    if !offset.is_multiple_of(cs) || offset == 0 {
        return Err(invalid(format!(
            "qcow2 refcount table offset 0x{offset:x} is not a cluster boundary after the header"
        )));
    }
    if offset >= size {
        return Err(truncated(
            format!("refcount table at offset {offset} lies"),
            size,
        ));
    }
    // Past the end of the file the table reads as zeros, as qemu reads it.
    let table = read_clamped(dev, offset, bytes as usize, size)?;
    let mut blocks = Vec::new();
    for (j, chunk) in table.chunks_exact(8).enumerate() {
        let e = be64(chunk, 0);
        if e & REFTABLE_RESERVED_MASK != 0 {
            return Err(invalid(format!(
                "qcow2 refcount table entry {j} has reserved bits set (0x{e:016x})"
            )));
        }
        if e == 0 {
            continue;
        }
        if !e.is_multiple_of(cs) {
            return Err(invalid(format!(
                "qcow2 refcount table entry {j} points at unaligned offset 0x{e:x}"
            )));
        }
        if e >= size {
            return Err(truncated(
                format!("refcount table entry {j} points at a refcount block at offset {e},"),
                size,
            ));
        }
        blocks.push((j as u64, e));
    }
    if blocks.is_empty() {
        return Err(invalid(
            "qcow2 refcount table is empty (not even the header is counted)",
        ));
    }
    Ok(blocks)
}

/// The highest cluster in use according to the refcounts must start inside the file.
fn check_refcounts(
    dev: &dyn BlockDevice,
    size: u64,
    cs: u64,
    refcount_order: u32,
    blocks: &[(u64, u64)],
) -> Result<()> {
    let bits = 1u64 << refcount_order;
    let per_block = cs * 8 / bits;
    let mut budget = REFBLOCK_SCAN_BYTES;
    let mut highest: Option<u64> = None;
    for &(index, offset) in blocks {
        if budget < cs {
            tracing::debug!("qcow2 refcount scan stopped at its byte budget");
            break;
        }
        budget -= cs;
        let block = read_clamped(dev, offset, cs as usize, size)?;
        if let Some(k) = last_nonzero_entry(&block, bits) {
            highest = highest.max(Some(index * per_block + k));
        }
    }
    if let Some(c) = highest {
        match c.checked_mul(cs) {
            Some(start) if start < size => {}
            Some(start) => {
                return Err(truncated(
                    format!("refcounts show cluster {c} (offset {start}) in use,"),
                    size,
                ));
            }
            None => {
                return Err(invalid(format!(
                    "qcow2 refcounts show cluster {c} in use, which no file can hold"
                )));
            }
        }
    }
    Ok(())
}

/// Index of the last non-zero refcount in a block of `bits`-bit entries (big-endian
/// for 8 bits and more; packed from the least significant bit below that, as qemu
/// stores them).
fn last_nonzero_entry(block: &[u8], bits: u64) -> Option<u64> {
    let byte = block.iter().rposition(|&b| b != 0)? as u64;
    if bits >= 8 {
        return Some(byte / (bits / 8));
    }
    let per_byte = 8 / bits;
    let mask = (1u8 << bits) - 1;
    let b = block[byte as usize];
    let sub = (0..per_byte)
        .rev()
        .find(|&s| (b >> (bits * s)) & mask != 0)
        .unwrap_or(0);
    Some(byte * per_byte + sub)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::format::{Format, inspect_device};
    use vmcraft_block::MemoryDisk;

    /// The image `qemu-img create -f qcow2 x 64M` makes, byte for byte in its
    /// metadata: header cluster, refcount table at 64 KiB, one refcount block at
    /// 128 KiB, L1 table at 192 KiB, the file ending after the 8-byte L1 table.
    pub(crate) fn fresh_qcow2() -> Vec<u8> {
        let mut img = vec![0u8; 3 * 65536 + 8];
        img[0..4].copy_from_slice(MAGIC);
        img[4..8].copy_from_slice(&3u32.to_be_bytes());
        img[20..24].copy_from_slice(&16u32.to_be_bytes());
        img[24..32].copy_from_slice(&(64u64 << 20).to_be_bytes());
        img[36..40].copy_from_slice(&1u32.to_be_bytes());
        img[40..48].copy_from_slice(&0x30000u64.to_be_bytes());
        img[48..56].copy_from_slice(&0x10000u64.to_be_bytes());
        img[56..60].copy_from_slice(&1u32.to_be_bytes());
        img[96..100].copy_from_slice(&4u32.to_be_bytes());
        img[100..104].copy_from_slice(&112u32.to_be_bytes());
        // Refcount table entry 0 -> block at 128 KiB, which counts clusters 0..=3.
        img[0x10000..0x10008].copy_from_slice(&0x20000u64.to_be_bytes());
        for c in 0..4 {
            img[0x20000 + 2 * c..0x20000 + 2 * c + 2].copy_from_slice(&1u16.to_be_bytes());
        }
        img
    }

    fn inspect_bytes(img: Vec<u8>) -> Result<ImageInfo> {
        inspect_device(&MemoryDisk::from_bytes(img), None)
    }

    fn invalid_message(img: Vec<u8>) -> String {
        let e = inspect_bytes(img).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidImage, "{e}");
        e.to_string()
    }

    #[test]
    fn a_fresh_image_passes() {
        let info = inspect_bytes(fresh_qcow2()).unwrap();
        assert_eq!(info.format, Format::Qcow2);
        assert!(info.detected);
        assert_eq!(info.virtual_size, Some(64 << 20));
        assert_eq!(info.backing_file, None);
        assert_eq!(info.data_file, None);
        assert!(!info.marked_corrupt);
    }

    #[test]
    fn backing_file_and_data_file_are_reported() {
        let mut img = fresh_qcow2();
        let name = b"base.qcow2";
        img[8..16].copy_from_slice(&512u64.to_be_bytes());
        img[16..20].copy_from_slice(&(name.len() as u32).to_be_bytes());
        img[512..512 + name.len()].copy_from_slice(name);
        // Data file flag plus its extension right after the 112-byte header.
        img[72..80].copy_from_slice(&INCOMPAT_DATA_FILE.to_be_bytes());
        img[112..116].copy_from_slice(&EXT_DATA_FILE.to_be_bytes());
        img[116..120].copy_from_slice(&9u32.to_be_bytes());
        img[120..129].copy_from_slice(b"/dev/sda1");
        let info = inspect_bytes(img).unwrap();
        assert_eq!(info.backing_file.as_deref(), Some("base.qcow2"));
        assert_eq!(info.data_file.as_deref(), Some("/dev/sda1"));
    }

    #[test]
    fn names_end_at_nul_and_the_backing_format_is_read() {
        let mut img = fresh_qcow2();
        let name = b"base.qcow2\0/etc/shadow";
        img[8..16].copy_from_slice(&512u64.to_be_bytes());
        img[16..20].copy_from_slice(&(name.len() as u32).to_be_bytes());
        img[512..512 + name.len()].copy_from_slice(name);
        img[112..116].copy_from_slice(&EXT_BACKING_FORMAT.to_be_bytes());
        img[116..120].copy_from_slice(&5u32.to_be_bytes());
        img[120..125].copy_from_slice(b"qcow2");
        let info = inspect_bytes(img.clone()).unwrap();
        assert_eq!(info.backing_file.as_deref(), Some("base.qcow2"));
        assert_eq!(info.backing_format.as_deref(), Some("qcow2"));
        // A name that is all NUL is no backing file at all, as in qemu.
        img[512..512 + name.len()].fill(0);
        let info = inspect_bytes(img.clone()).unwrap();
        assert_eq!((info.backing_file, info.backing_format), (None, None));
        // qemu caps the format name at 15 bytes.
        img[116..120].copy_from_slice(&16u32.to_be_bytes());
        assert!(invalid_message(img).contains("backing format name is 16 bytes"));
    }

    #[test]
    fn table_offsets_that_overflow_are_refused() {
        // An L1 table placed at the very end of the offset range.
        let mut img = fresh_qcow2();
        img[36..40].copy_from_slice(&8192u32.to_be_bytes());
        img[24..32].copy_from_slice(&(1u64 << 40).to_be_bytes());
        img[40..48].copy_from_slice(&(u64::MAX - 0xffff).to_be_bytes());
        let m = invalid_message(img);
        assert!(m.contains("l1 table"), "{m}");
        // 2 MiB clusters, 1-bit refcounts, a block at the last table index: the
        // cluster it counts lies past any file (the offset overflows u64).
        let mut img = vec![0u8; 6 << 21];
        img[..104].copy_from_slice(&fresh_qcow2()[..104]);
        img[20..24].copy_from_slice(&21u32.to_be_bytes());
        img[36..40].copy_from_slice(&0u32.to_be_bytes());
        img[24..32].copy_from_slice(&0u64.to_be_bytes());
        // A refcount table of 4 clusters (2^20 entries) at 2 MiB.
        img[48..56].copy_from_slice(&(1u64 << 21).to_be_bytes());
        img[56..60].copy_from_slice(&4u32.to_be_bytes());
        img[96..100].copy_from_slice(&0u32.to_be_bytes());
        let table = 1usize << 21;
        let block = 5u64 << 21;
        img[table..table + 8].copy_from_slice(&block.to_be_bytes());
        let last = table + (4 << 21) - 8;
        img[last..last + 8].copy_from_slice(&block.to_be_bytes());
        img[block as usize] = 0x80;
        img[block as usize + (1 << 21) - 1] = 1;
        let m = invalid_message(img);
        assert!(m.contains("which no file can hold"), "{m}");
    }

    #[test]
    fn a_backing_offset_that_overflows_is_refused() {
        let mut img = fresh_qcow2();
        img[8..16].copy_from_slice(&(u64::MAX - 4).to_be_bytes());
        img[16..20].copy_from_slice(&10u32.to_be_bytes());
        assert!(invalid_message(img).contains("is outside the header cluster"));
    }

    #[test]
    fn header_problems() {
        let e = inspect_device(&MemoryDisk::from_bytes(fresh_qcow2()[..50].to_vec()), None)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("qcow2 header is truncated: the file has only 50 bytes"),
            "{e}"
        );

        let mut img = fresh_qcow2();
        img[4..8].copy_from_slice(&4u32.to_be_bytes());
        let e = inspect_bytes(img).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains("qcow2 version 4 is not supported"));

        let mut img = fresh_qcow2();
        img[20..24].copy_from_slice(&30u32.to_be_bytes());
        assert!(invalid_message(img).contains("cluster_bits 30 is out of range"));

        let mut img = fresh_qcow2();
        img[100..104].copy_from_slice(&50u32.to_be_bytes());
        assert!(invalid_message(img).contains("header length 50 is out of range"));

        let mut img = fresh_qcow2();
        img[96..100].copy_from_slice(&9u32.to_be_bytes());
        assert!(invalid_message(img).contains("refcount order 9"));

        let mut img = fresh_qcow2();
        img[72..80].copy_from_slice(&(1u64 << 40).to_be_bytes());
        let e = inspect_bytes(img).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(
            e.to_string()
                .contains("unknown incompatible features 0x10000000000")
        );

        let mut img = fresh_qcow2();
        img[32..36].copy_from_slice(&2u32.to_be_bytes());
        let e = inspect_bytes(img).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains("encrypted qcow2 (crypt method 2)"));

        let mut img = fresh_qcow2();
        img[8..16].copy_from_slice(&65530u64.to_be_bytes());
        img[16..20].copy_from_slice(&100u32.to_be_bytes());
        assert!(invalid_message(img).contains("outside the header cluster"));

        let mut img = fresh_qcow2();
        img[112..116].copy_from_slice(&0x1234u32.to_be_bytes());
        img[116..120].copy_from_slice(&70000u32.to_be_bytes());
        assert!(invalid_message(img).contains("overruns the header cluster"));
    }

    #[test]
    fn the_corrupt_flag_is_reported() {
        let mut img = fresh_qcow2();
        img[72..80].copy_from_slice(&INCOMPAT_CORRUPT.to_be_bytes());
        assert!(inspect_bytes(img).unwrap().marked_corrupt);
    }

    #[test]
    fn l1_problems() {
        let mut img = fresh_qcow2();
        img[36..40].copy_from_slice(&0u32.to_be_bytes());
        assert!(
            invalid_message(img)
                .contains("l1 table has 0 entries but the virtual size 67108864 needs 1")
        );

        let mut img = fresh_qcow2();
        img[40..48].copy_from_slice(&0x30008u64.to_be_bytes());
        assert!(invalid_message(img).contains("l1 table offset 0x30008 is not a cluster"));

        let mut img = fresh_qcow2();
        img[0x30000..0x30008].copy_from_slice(&0x0000_0000_0004_0001u64.to_be_bytes());
        assert!(invalid_message(img).contains("l1 entry 0 has reserved bits set"));

        let mut img = fresh_qcow2();
        img[0x30000..0x30008].copy_from_slice(&0x0000_0000_0004_1000u64.to_be_bytes());
        assert!(invalid_message(img).contains("l1 entry 0 points at unaligned offset 0x41000"));

        let mut img = fresh_qcow2();
        img[0x30000..0x30008].copy_from_slice(&0x8000_0000_0100_0000u64.to_be_bytes());
        assert_eq!(
            invalid_message(img),
            "inspect_image: qcow2 l1 entry 0 points at an l2 table at offset 16777216, \
             beyond the end of the file (196616 bytes): the image is truncated"
        );

        let img = fresh_qcow2()[..0x30004].to_vec();
        assert!(invalid_message(img).contains("l1 table (8 bytes at offset 196608) ends beyond"));
    }

    #[test]
    fn refcount_problems() {
        let mut img = fresh_qcow2();
        img[56..60].copy_from_slice(&0u32.to_be_bytes());
        assert!(invalid_message(img).contains("has no refcount table"));

        let mut img = fresh_qcow2();
        img[0x10000..0x10008].copy_from_slice(&0u64.to_be_bytes());
        assert!(invalid_message(img).contains("refcount table is empty"));

        let mut img = fresh_qcow2();
        img[0x10000..0x10008].copy_from_slice(&0x20001u64.to_be_bytes());
        assert!(invalid_message(img).contains("refcount table entry 0 has reserved bits"));

        let mut img = fresh_qcow2();
        img[0x10008..0x10010].copy_from_slice(&0x20200u64.to_be_bytes());
        assert!(invalid_message(img).contains("entry 1 points at unaligned offset 0x20200"));

        let mut img = fresh_qcow2();
        img[0x10008..0x10010].copy_from_slice(&(1u64 << 30).to_be_bytes());
        assert!(invalid_message(img).contains("entry 1 points at a refcount block at offset"));

        // Cluster 9 counted as used, but the file ends inside cluster 3.
        let mut img = fresh_qcow2();
        img[0x20000 + 18..0x20000 + 20].copy_from_slice(&1u16.to_be_bytes());
        assert_eq!(
            invalid_message(img),
            "inspect_image: qcow2 refcounts show cluster 9 (offset 589824) in use, beyond \
             the end of the file (196616 bytes): the image is truncated"
        );

        let mut img = fresh_qcow2();
        img[60..64].copy_from_slice(&1u32.to_be_bytes());
        img[64..72].copy_from_slice(&(1u64 << 20).to_be_bytes());
        assert!(invalid_message(img).contains("snapshot table at offset 1048576 lies beyond"));
    }

    #[test]
    fn sub_byte_and_wide_refcounts() {
        assert_eq!(last_nonzero_entry(&[0, 0, 0], 16), None);
        assert_eq!(last_nonzero_entry(&[0, 1, 0, 1, 0, 0], 16), Some(1));
        assert_eq!(
            last_nonzero_entry(&[0; 7].iter().chain(&[1]).copied().collect::<Vec<_>>(), 64),
            Some(0)
        );
        // 1-bit refcounts: byte 1, bit 5 -> entry 13.
        assert_eq!(last_nonzero_entry(&[0xff, 0b0010_0001], 1), Some(13));
        // 4-bit refcounts: high nibble of byte 0 -> entry 1.
        assert_eq!(last_nonzero_entry(&[0x10], 4), Some(1));
        assert_eq!(last_nonzero_entry(&[0x01], 4), Some(0));
    }
}
