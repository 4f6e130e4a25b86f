//! VMDK, read in-process the way qemu's vmdk driver reads it: the sparse header
//! (`KDMV`; one of capacity 0 wraps a text descriptor whose extents qemu opens),
//! the ESX sparse header (`COWD`), and text descriptors (`# Disk DescriptorFile`).
//! What matters before attaching is the virtual size and every other file qemu
//! would open: the parent (`parentFileNameHint`, wherever it appears, whatever
//! `parentCID` says) and each extent line's file ([`super::descriptor`] has the
//! grammar).

use vmcraft_block::BlockDevice;

use super::descriptor;
use super::{ImageInfo, VmdkExtent, invalid, le32, le64, read_clamped};
use crate::error::Result;

/// Magic of a hosted sparse extent ("KDMV" on disk).
pub(crate) const SPARSE_MAGIC: &[u8] = b"KDMV";
/// Magic of an ESX server sparse extent.
pub(crate) const COWD_MAGIC: &[u8] = b"COWD";

/// streamOptimized images keep the grain directory at the end.
const GD_AT_END: u64 = u64::MAX;
/// Where qemu looks for a sparse file's `parentFileNameHint` (`s->desc_offset`).
const SPARSE_DESC_OFFSET: u64 = 0x200;
/// More extents than this are refused (a 1 MiB descriptor could name ~50 000,
/// and every one is a file qemu opens; 4096 covers an 8 TiB twoGbMaxExtent disk).
pub(crate) const MAX_EXTENTS: usize = 4096;
/// The `createType`s of a descriptor qemu opens (`vmdk_open_desc_file`).
const DESCRIPTOR_TYPES: [&[u8]; 6] = [
    b"monolithicFlat",
    b"vmfs",
    b"vmfsSparse",
    b"seSparse",
    b"twoGbMaxExtentSparse",
    b"twoGbMaxExtentFlat",
];
/// The extent types qemu opens a file for.
const FILE_EXTENT_TYPES: [&[u8]; 5] = [b"FLAT", b"SPARSE", b"VMFS", b"VMFSSPARSE", b"SESPARSE"];

/// Whether `head` (the first bytes of a file) is a VMDK text descriptor.
pub(crate) fn looks_like_descriptor(head: &[u8]) -> bool {
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // The 4 KiB window may cut a multi-byte character; look at what decodes.
        Err(e) => match std::str::from_utf8(&head[..e.valid_up_to()]) {
            Ok(t) => t,
            Err(_) => return false,
        },
    };
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    if first.is_some_and(|l| l.eq_ignore_ascii_case("# disk descriptorfile")) {
        return true;
    }
    let mut version = false;
    let mut create_type = false;
    for line in text.lines().map(str::trim) {
        version |= line.starts_with("version=");
        create_type |= line.starts_with("createType=");
    }
    version && create_type && !text.contains('\0')
}

/// A name from the image as text; bytes that are not UTF-8 become U+FFFD, which
/// [`super::ImageInfo::check_references`] refuses (the name qemu would open is not
/// the one shown).
pub(crate) fn name_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Record the extents of a descriptor (text file, or embedded with capacity 0)
/// as qemu's grammar finds them; returns the disk size in sectors qemu computes.
fn read_descriptor(text: &[u8], info: &mut ImageInfo) -> Result<u64> {
    match descriptor::description_value(text, "createType") {
        None => return Err(invalid("vmdk descriptor has no createType")),
        Some(t) if !DESCRIPTOR_TYPES.contains(&t) => {
            return Err(invalid(format!(
                "vmdk descriptor createType {:?} is not one qemu opens",
                name_text(t)
            )));
        }
        Some(_) => {}
    }
    let mut sectors: u64 = 0;
    for line in descriptor::extent_lines(text, MAX_EXTENTS + 1) {
        if info.extents.len() == MAX_EXTENTS {
            return Err(invalid(format!(
                "vmdk descriptor names more than {MAX_EXTENTS} extents"
            )));
        }
        let opened = line.access == b"RW"
            && line.sectors > 0
            && FILE_EXTENT_TYPES.contains(&line.kind.as_slice());
        if opened {
            sectors = sectors.saturating_add(line.sectors as u64);
        }
        info.extents.push(VmdkExtent {
            access: name_text(&line.access),
            kind: name_text(&line.kind),
            sectors: line.sectors,
            file: name_text(&line.file),
        });
    }
    if info.extents.is_empty() {
        return Err(invalid("vmdk descriptor has no extents"));
    }
    Ok(sectors)
}

/// The `parentFileNameHint` qemu finds in the 10 KiB at `offset`.
fn read_parent(dev: &dyn BlockDevice, offset: u64, size: u64, info: &mut ImageInfo) -> Result<()> {
    let window = read_clamped(dev, offset, descriptor::PARENT_WINDOW, size)?;
    match descriptor::parent_hint(&window) {
        Ok(Some(name)) if !name.is_empty() => {
            info.backing_file = Some(name_text(&name));
            info.backing_format = Some("vmdk".into());
        }
        Ok(_) => {}
        Err(why) => return Err(invalid(format!("vmdk descriptor: {why}"))),
    }
    Ok(())
}

pub(super) fn inspect(dev: &dyn BlockDevice, size: u64, info: &mut ImageInfo) -> Result<()> {
    if size < 4 {
        return Err(invalid(format!("vmdk file is too small ({size} bytes)")));
    }
    let head = read_clamped(dev, 0, 512, size)?;
    if head.starts_with(COWD_MAGIC) {
        // ESX sparse: no descriptor, but qemu still looks for a parent hint.
        if head.len() >= 16 {
            info.virtual_size = Some(u64::from(le32(&head, 12)) * 512);
        }
        return read_parent(dev, SPARSE_DESC_OFFSET, size, info);
    }
    if !head.starts_with(SPARSE_MAGIC) {
        // A text descriptor: the data lives in its extent files.
        let text = read_clamped(dev, 0, descriptor::MAX_DESCRIPTOR, size)?;
        let sectors = read_descriptor(&text, info)?;
        info.virtual_size = Some(sectors.saturating_mul(512));
        return read_parent(dev, 0, size, info);
    }
    if head.len() < 77 {
        return Err(invalid(format!(
            "vmdk sparse header is truncated: the file has only {size} bytes"
        )));
    }
    let version = le32(&head, 4);
    let capacity = le64(&head, 12);
    let grain = le64(&head, 20);
    let desc_offset = le64(&head, 28);
    let gd_offset = le64(&head, 56);
    if capacity == 0 && desc_offset != 0 {
        // qemu takes a sparse header of capacity 0 for a wrapper around a text
        // descriptor at `desc_offset` sectors, read to the end of the file (up to
        // 1 MiB) whatever `desc_size` says, and opens the extents it names.
        let start = desc_offset
            .checked_mul(512)
            .filter(|&s| s < size)
            .ok_or_else(|| {
                invalid(format!(
                    "vmdk embedded descriptor at sector {desc_offset} lies beyond the end of the \
                 file ({size} bytes)"
                ))
            })?;
        let text = read_clamped(dev, start, descriptor::MAX_DESCRIPTOR, size)?;
        let sectors = read_descriptor(&text, info)?;
        info.virtual_size = Some(sectors.saturating_mul(512));
        return read_parent(dev, SPARSE_DESC_OFFSET, size, info);
    }
    if !(1..=3).contains(&version) {
        return Err(invalid(format!(
            "vmdk sparse version {version} is not 1 to 3"
        )));
    }
    if grain == 0 || !grain.is_power_of_two() || grain > 1 << 20 {
        return Err(invalid(format!(
            "vmdk grain size {grain} sectors is invalid"
        )));
    }
    if gd_offset != GD_AT_END && gd_offset.saturating_mul(512) >= size {
        return Err(invalid(format!(
            "vmdk grain directory at sector {gd_offset} lies beyond the end of the file \
             ({size} bytes): the image is truncated"
        )));
    }
    info.virtual_size = Some(capacity.saturating_mul(512));
    // A monolithic sparse file's own descriptor lists the file itself; qemu does
    // not read its extent lines, only the parent hint.
    read_parent(dev, SPARSE_DESC_OFFSET, size, info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::format::{Format, inspect_device};
    use vmcraft_block::MemoryDisk;

    const FLAT: &str = "# Disk DescriptorFile\nversion=1\nCID=9cc9d4bd\nparentCID=ffffffff\n\
        createType=\"monolithicFlat\"\n\n# Extent description\nRW 131072 FLAT \"flat-flat.vmdk\" 0\n\
        RW 2048 ZERO\n\n# The Disk Data Base\n#DDB\n\nddb.adapterType = \"ide\"\n";

    fn files(info: &ImageInfo) -> Vec<&str> {
        info.extents.iter().map(|e| e.file.as_str()).collect()
    }

    #[test]
    fn descriptor_extents_and_size() {
        let d = MemoryDisk::from_bytes(FLAT.as_bytes().to_vec());
        let info = inspect_device(&d, None).unwrap();
        assert_eq!(info.format, Format::Vmdk);
        assert_eq!(files(&info), ["flat-flat.vmdk"]);
        assert_eq!(info.extents[0].kind, "FLAT");
        // qemu's sscanf needs a quoted name, so a ZERO extent adds nothing.
        assert_eq!(info.virtual_size, Some(131072 * 512));
        assert_eq!(info.backing_file, None);
    }

    #[test]
    fn extents_qemu_opens_are_all_seen() {
        // The shapes a parser by lines and `=` misses.
        let text = "# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n\
            RW 8 FLAT \"/host/file\" 0 x=y\nRW\n8\nFLAT\n\"/host/other\"\n0\n";
        let info = inspect_device(&MemoryDisk::from_bytes(text.as_bytes().to_vec()), None).unwrap();
        assert_eq!(files(&info), ["/host/file", "/host/other"]);
    }

    #[test]
    fn parent_hint_without_parent_cid() {
        let text = FLAT.replace("ddb.adapterType", "ddb.parentFileNameHint=\"base.vmdk\"\nx");
        let info = inspect_device(&MemoryDisk::from_bytes(text.into_bytes()), None).unwrap();
        assert_eq!(info.backing_file.as_deref(), Some("base.vmdk"));
        assert_eq!(info.backing_format.as_deref(), Some("vmdk"));
    }

    #[test]
    fn broken_descriptors() {
        let d = MemoryDisk::from_bytes(b"# Disk DescriptorFile\nversion=1\n".to_vec());
        let e = inspect_device(&d, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidImage);
        assert!(e.to_string().contains("has no createType"), "{e}");
        let d = MemoryDisk::from_bytes(
            b"# Disk DescriptorFile\nversion=1\ncreateType=\"vmfs\"\n".to_vec(),
        );
        let e = inspect_device(&d, None).unwrap_err();
        assert!(e.to_string().contains("has no extents"), "{e}");
        let d = MemoryDisk::from_bytes(FLAT.replace("monolithicFlat", "custom").into_bytes());
        let e = inspect_device(&d, None).unwrap_err();
        assert!(
            e.to_string()
                .contains("createType \"custom\" is not one qemu opens"),
            "{e}"
        );
        let text = format!("{FLAT}parentFileNameHint=\"unterminated");
        let e = inspect_device(&MemoryDisk::from_bytes(text.into_bytes()), None).unwrap_err();
        assert!(e.to_string().contains("no closing quote"), "{e}");
        let mut many = String::from("# Disk DescriptorFile\ncreateType=\"vmfs\"\n");
        for i in 0..=MAX_EXTENTS {
            many.push_str(&format!("RW 1 FLAT \"f{i}\" 0\n"));
        }
        let e = inspect_device(&MemoryDisk::from_bytes(many.into_bytes()), None).unwrap_err();
        assert!(e.to_string().contains("more than 4096 extents"), "{e}");
    }

    #[test]
    fn descriptor_detection() {
        assert!(looks_like_descriptor(FLAT.as_bytes()));
        assert!(looks_like_descriptor(
            b"\n\nversion=1\ncreateType=\"vmfs\"\n"
        ));
        assert!(!looks_like_descriptor(b"version=1\n"));
        assert!(!looks_like_descriptor(b"\xff\xfe\0\0"));
        let mut cut = FLAT.as_bytes().to_vec();
        cut.extend_from_slice("é".as_bytes());
        cut.pop();
        assert!(looks_like_descriptor(&cut));
    }

    pub(crate) fn sparse(capacity: u64, desc: &str) -> Vec<u8> {
        let mut img = vec![0u8; 64 * 1024];
        img[0..4].copy_from_slice(SPARSE_MAGIC);
        img[4..8].copy_from_slice(&1u32.to_le_bytes());
        img[12..20].copy_from_slice(&capacity.to_le_bytes());
        img[20..28].copy_from_slice(&128u64.to_le_bytes());
        img[28..36].copy_from_slice(&1u64.to_le_bytes());
        img[36..44].copy_from_slice(&20u64.to_le_bytes());
        img[56..64].copy_from_slice(&21u64.to_le_bytes());
        img[512..512 + desc.len()].copy_from_slice(desc.as_bytes());
        img
    }

    #[test]
    fn sparse_header() {
        let desc = "# Disk DescriptorFile\nversion=1\nparentCID=ffffffff\ncreateType=\"monolithicSparse\"\nRW 131072 SPARSE \"x.vmdk\"\n";
        let info = inspect_device(&MemoryDisk::from_bytes(sparse(131072, desc)), None).unwrap();
        assert_eq!(info.virtual_size, Some(64 << 20));
        assert_eq!(info.backing_file, None);
        assert!(info.extents.is_empty(), "qemu reads no extent lines here");

        let child = desc.replace(
            "ffffffff",
            "00000001\nparentFileNameHint=\"/host/base.vmdk\"",
        );
        let info = inspect_device(&MemoryDisk::from_bytes(sparse(131072, &child)), None).unwrap();
        assert_eq!(info.backing_file.as_deref(), Some("/host/base.vmdk"));

        let mut img = sparse(131072, desc);
        img[20..28].copy_from_slice(&100u64.to_le_bytes());
        let e = inspect_device(&MemoryDisk::from_bytes(img), None).unwrap_err();
        assert!(
            e.to_string().contains("grain size 100 sectors is invalid"),
            "{e}"
        );

        let mut img = sparse(131072, desc);
        img[56..64].copy_from_slice(&1000u64.to_le_bytes());
        let e = inspect_device(&MemoryDisk::from_bytes(img), None).unwrap_err();
        assert!(
            e.to_string()
                .contains("grain directory at sector 1000 lies beyond"),
            "{e}"
        );

        let e =
            inspect_device(&MemoryDisk::from_bytes(b"KDMV\x01\0\0\0".to_vec()), None).unwrap_err();
        assert!(
            e.to_string().contains("vmdk sparse header is truncated"),
            "{e}"
        );
    }

    #[test]
    fn capacity_zero_wraps_a_descriptor_qemu_follows() {
        // desc_size says 1 sector; qemu reads on to the end of the file anyway.
        let mut desc =
            String::from("# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n");
        desc.push_str(&" ".repeat(600));
        desc.push_str("RW 8 FLAT \"/etc/shadow\" 0\n");
        let mut img = sparse(0, &desc);
        img[36..44].copy_from_slice(&1u64.to_le_bytes());
        let info = inspect_device(&MemoryDisk::from_bytes(img), None).unwrap();
        assert_eq!(files(&info), ["/etc/shadow"]);
        assert_eq!(info.virtual_size, Some(8 * 512));

        let mut img = sparse(0, &desc);
        img[28..36].copy_from_slice(&(1u64 << 60).to_le_bytes());
        let e = inspect_device(&MemoryDisk::from_bytes(img), None).unwrap_err();
        assert!(
            e.to_string().contains("lies beyond the end of the file"),
            "{e}"
        );
    }

    #[test]
    fn cowd_parent_hint() {
        let mut img = vec![0u8; 8192];
        img[..4].copy_from_slice(COWD_MAGIC);
        img[12..16].copy_from_slice(&2048u32.to_le_bytes());
        img[0x200..0x200 + 26].copy_from_slice(b"parentFileNameHint=\"/x\"   ");
        let info = inspect_device(&MemoryDisk::from_bytes(img), None).unwrap();
        assert_eq!(info.backing_file.as_deref(), Some("/x"));
        assert_eq!(info.virtual_size, Some(2048 * 512));
    }
}
