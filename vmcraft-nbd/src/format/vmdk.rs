//! VMDK, read in-process: the sparse extent header (`KDMV`) with its embedded text
//! descriptor, and standalone text descriptors (`# Disk DescriptorFile`) with their
//! extent lines. What matters before attaching is the virtual size and every other
//! file the image refers to: the parent (`parentFileNameHint` when `parentCID` is
//! set) and the extent files of a descriptor.

use vmcraft_block::BlockDevice;

use super::{ImageInfo, invalid, le32, le64, read_clamped};
use crate::error::Result;

/// Magic of a hosted sparse extent ("KDMV" on disk).
pub(crate) const SPARSE_MAGIC: &[u8] = b"KDMV";
/// Magic of an ESX server sparse extent.
pub(crate) const COWD_MAGIC: &[u8] = b"COWD";

/// Descriptors larger than this are not parsed (qemu refuses them too).
const MAX_DESCRIPTOR: u64 = 1 << 20;
/// streamOptimized images keep the grain directory at the end.
const GD_AT_END: u64 = u64::MAX;

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

/// What a descriptor says.
#[derive(Debug, Default, PartialEq, Eq)]
struct Descriptor {
    parent: Option<String>,
    extents: Vec<String>,
    sectors: u64,
}

fn parse_descriptor(text: &str) -> Result<Descriptor> {
    let mut d = Descriptor::default();
    let mut parent_cid = None;
    let mut parent_hint = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            let value = value.trim().trim_matches('"');
            match key.trim() {
                "parentCID" => parent_cid = Some(value.to_ascii_lowercase()),
                "parentFileNameHint" => parent_hint = Some(value.to_string()),
                _ => {}
            }
            continue;
        }
        let mut words = line.split_whitespace();
        let access = words.next().unwrap_or_default();
        if !matches!(access, "RW" | "RDONLY" | "NOACCESS") {
            continue;
        }
        let sectors: u64 = words.next().and_then(|s| s.parse().ok()).ok_or_else(|| {
            invalid(format!(
                "vmdk descriptor line {}: extent size is not a number: {line:?}",
                n + 1
            ))
        })?;
        let kind = words.next().unwrap_or_default();
        d.sectors = d.sectors.saturating_add(sectors);
        if kind == "ZERO" {
            continue;
        }
        let file = line
            .split_once('"')
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(name, _)| name.to_string())
            .ok_or_else(|| {
                invalid(format!(
                    "vmdk descriptor line {}: extent has no quoted file name: {line:?}",
                    n + 1
                ))
            })?;
        d.extents.push(file);
    }
    if parent_cid.as_deref().is_some_and(|c| c != "ffffffff") {
        d.parent = Some(parent_hint.unwrap_or_default());
    }
    Ok(d)
}

pub(super) fn inspect(dev: &dyn BlockDevice, size: u64, info: &mut ImageInfo) -> Result<()> {
    let head = read_clamped(dev, 0, 512, size)?;
    if head.starts_with(COWD_MAGIC) {
        return Ok(());
    }
    if !head.starts_with(SPARSE_MAGIC) {
        // A text descriptor: the data lives in its extent files.
        if size > MAX_DESCRIPTOR {
            return Err(invalid(format!(
                "vmdk descriptor file is {size} bytes (larger than {MAX_DESCRIPTOR})"
            )));
        }
        let text = read_clamped(dev, 0, size as usize, size)?;
        let d = parse_descriptor(&String::from_utf8_lossy(&text))?;
        if d.extents.is_empty() {
            return Err(invalid("vmdk descriptor has no extents"));
        }
        info.virtual_size = Some(d.sectors * 512);
        info.backing_file = d.parent;
        info.extent_files = d.extents;
        return Ok(());
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
    let desc_size = le64(&head, 36);
    let gd_offset = le64(&head, 56);
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
    if desc_offset != 0 && desc_size != 0 {
        let (start, len) = (
            desc_offset.saturating_mul(512),
            desc_size.saturating_mul(512),
        );
        if start.saturating_add(len) > size {
            return Err(invalid(format!(
                "vmdk embedded descriptor ({len} bytes at offset {start}) ends beyond the end \
                 of the file ({size} bytes): the image is truncated"
            )));
        }
        let text = read_clamped(dev, start, len.min(MAX_DESCRIPTOR) as usize, size)?;
        let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
        let d = parse_descriptor(&String::from_utf8_lossy(&text[..end]))?;
        // The extents of a monolithic sparse file are the file itself.
        info.backing_file = d.parent;
    }
    Ok(())
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

    #[test]
    fn descriptor_extents_and_size() {
        let d = MemoryDisk::from_bytes(FLAT.as_bytes().to_vec());
        let info = inspect_device(&d, None).unwrap();
        assert_eq!(info.format, Format::Vmdk);
        assert_eq!(info.extent_files, vec!["flat-flat.vmdk"]);
        assert_eq!(info.virtual_size, Some((131072 + 2048) * 512));
        assert_eq!(info.backing_file, None);
    }

    #[test]
    fn descriptor_parent() {
        let text = FLAT.replace(
            "parentCID=ffffffff",
            "parentCID=1234abcd\nparentFileNameHint=\"base.vmdk\"",
        );
        let d = parse_descriptor(&text).unwrap();
        assert_eq!(d.parent.as_deref(), Some("base.vmdk"));
    }

    #[test]
    fn broken_descriptors() {
        let e = parse_descriptor("RW lots FLAT \"x\" 0\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("line 1: extent size is not a number"),
            "{e}"
        );
        let e = parse_descriptor("RW 12 FLAT x 0\n").unwrap_err();
        assert!(
            e.to_string().contains("extent has no quoted file name"),
            "{e}"
        );
        let d = MemoryDisk::from_bytes(b"# Disk DescriptorFile\nversion=1\n".to_vec());
        let e = inspect_device(&d, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidImage);
        assert!(e.to_string().contains("has no extents"));
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

    fn sparse(capacity: u64, desc: &str) -> Vec<u8> {
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
        assert!(info.extent_files.is_empty());

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

        let mut img = sparse(131072, desc);
        img[36..44].copy_from_slice(&2000u64.to_le_bytes());
        img[56..64].copy_from_slice(&GD_AT_END.to_le_bytes());
        let e = inspect_device(&MemoryDisk::from_bytes(img), None).unwrap_err();
        assert!(e.to_string().contains("embedded descriptor"), "{e}");

        let e =
            inspect_device(&MemoryDisk::from_bytes(b"KDMV\x01\0\0\0".to_vec()), None).unwrap_err();
        assert!(
            e.to_string().contains("vmdk sparse header is truncated"),
            "{e}"
        );
    }
}
