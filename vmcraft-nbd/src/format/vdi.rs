//! VDI (VirtualBox): the signature at offset 0x40, the image type and the disk
//! size. Only normal (dynamic) and fixed images carry their own data; differencing
//! and undo images are refused because qemu's driver cannot read their parent.

use vmcraft_block::BlockDevice;

use super::{ImageInfo, invalid, le32, le64, read_clamped};
use crate::error::{Error, ErrorKind, Result};

const SIGNATURE: u32 = 0xbeda_107f;
const TYPE_DYNAMIC: u32 = 1;
const TYPE_STATIC: u32 = 2;

/// Whether `head` carries the VDI signature.
pub(crate) fn has_signature(head: &[u8]) -> bool {
    head.len() >= 0x44 && le32(head, 0x40) == SIGNATURE
}

pub(super) fn inspect(dev: &dyn BlockDevice, size: u64, info: &mut ImageInfo) -> Result<()> {
    let h = read_clamped(dev, 0, 0x190, size)?;
    if h.len() < 0x190 {
        return Err(invalid(format!(
            "vdi header is truncated: the file has only {size} bytes"
        )));
    }
    match le32(&h, 0x4c) {
        TYPE_DYNAMIC | TYPE_STATIC => {}
        t @ (3 | 4) => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "inspect_image",
                "",
                format!(
                    "vdi image type {t} ({}) is not supported: it needs its parent image",
                    if t == 3 { "undo" } else { "differencing" }
                ),
            ));
        }
        t => return Err(invalid(format!("vdi image type {t} is unknown"))),
    }
    let data_offset = le32(&h, 0x158) as u64;
    if data_offset > size {
        return Err(invalid(format!(
            "vdi data at offset {data_offset} starts beyond the end of the file ({size} \
             bytes): the image is truncated"
        )));
    }
    info.virtual_size = Some(le64(&h, 0x170));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Format, inspect_device};
    use vmcraft_block::MemoryDisk;

    fn header(image_type: u32, data_offset: u32) -> Vec<u8> {
        let mut h = vec![0u8; 0x200];
        h[0x40..0x44].copy_from_slice(&SIGNATURE.to_le_bytes());
        h[0x4c..0x50].copy_from_slice(&image_type.to_le_bytes());
        h[0x158..0x15c].copy_from_slice(&data_offset.to_le_bytes());
        h[0x170..0x178].copy_from_slice(&(64u64 << 20).to_le_bytes());
        h
    }

    #[test]
    fn types_and_sizes() {
        let info = inspect_device(&MemoryDisk::from_bytes(header(1, 0x200)), None).unwrap();
        assert_eq!(info.format, Format::Vdi);
        assert_eq!(info.virtual_size, Some(64 << 20));
        inspect_device(&MemoryDisk::from_bytes(header(2, 0x200)), None).unwrap();

        let e = inspect_device(&MemoryDisk::from_bytes(header(4, 0x200)), None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(
            e.to_string().contains("vdi image type 4 (differencing)"),
            "{e}"
        );

        let e = inspect_device(&MemoryDisk::from_bytes(header(7, 0x200)), None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidImage);

        let e = inspect_device(&MemoryDisk::from_bytes(header(1, 0x100000)), None).unwrap_err();
        assert!(
            e.to_string()
                .contains("data at offset 1048576 starts beyond"),
            "{e}"
        );

        let e = inspect_device(
            &MemoryDisk::from_bytes(header(1, 0x200)[..0x100].to_vec()),
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("vdi header is truncated"), "{e}");
    }
}
