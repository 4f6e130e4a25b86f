//! VHD (qemu's `vpc`): the 512-byte footer, found at the start of dynamic disks (a
//! copy) and at the end of every disk. A footer at the end only counts when its
//! checksum is right, so a raw disk that merely ends in the word `conectix` stays
//! raw. Differencing disks are refused: qemu's driver does not read their parent and
//! would show unallocated blocks as zeros.

use vmcraft_block::BlockDevice;

use super::{ImageInfo, be32, be64, invalid, read_clamped};
use crate::error::{Error, ErrorKind, Result};

/// The footer's cookie.
pub(crate) const COOKIE: &[u8] = b"conectix";

const TYPE_FIXED: u32 = 2;
const TYPE_DYNAMIC: u32 = 3;
const TYPE_DIFFERENCING: u32 = 4;

/// The footer checksum: the ones' complement of the byte sum, checksum field zeroed.
fn checksum(footer: &[u8]) -> u32 {
    let sum = footer
        .iter()
        .enumerate()
        .filter(|(i, _)| !(64..68).contains(i))
        .fold(0u32, |s, (_, &b)| s.wrapping_add(b as u32));
    !sum
}

/// Whether `footer` (512 bytes) is a VHD footer with a correct checksum.
pub(crate) fn is_valid_footer(footer: &[u8]) -> bool {
    footer.len() >= 512
        && footer.starts_with(COOKIE)
        && checksum(&footer[..512]) == be32(footer, 64)
}

pub(super) fn inspect(dev: &dyn BlockDevice, size: u64, _info: &mut ImageInfo) -> Result<()> {
    let head = read_clamped(dev, 0, 512, size)?;
    let footer = if head.starts_with(COOKIE) {
        head
    } else {
        read_clamped(dev, size.saturating_sub(512), 512, size)?
    };
    if footer.len() < 512 {
        return Err(invalid(format!(
            "vhd footer is truncated: the file has only {size} bytes"
        )));
    }
    let disk_type = be32(&footer, 60);
    match disk_type {
        TYPE_FIXED => Ok(()),
        TYPE_DYNAMIC => {
            let header = be64(&footer, 16);
            if header.saturating_add(1024) > size {
                return Err(invalid(format!(
                    "vhd dynamic disk header at offset {header} lies beyond the end of the \
                     file ({size} bytes): the image is truncated"
                )));
            }
            Ok(())
        }
        TYPE_DIFFERENCING => Err(Error::new(
            ErrorKind::Unsupported,
            "inspect_image",
            "",
            "differencing vhd is not supported: qemu does not read its parent disk \
             (merge it into its parent first)",
        )),
        other => Err(invalid(format!("vhd disk type {other} is unknown"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Format, detect_format_of, inspect_device};
    use vmcraft_block::MemoryDisk;

    fn footer(disk_type: u32, data_offset: u64) -> Vec<u8> {
        let mut f = vec![0u8; 512];
        f[..8].copy_from_slice(COOKIE);
        f[16..24].copy_from_slice(&data_offset.to_be_bytes());
        f[60..64].copy_from_slice(&disk_type.to_be_bytes());
        let c = checksum(&f);
        f[64..68].copy_from_slice(&c.to_be_bytes());
        f
    }

    #[test]
    fn fixed_disks_are_found_by_their_checksummed_footer() {
        let mut img = vec![0u8; 64 * 1024];
        let n = img.len();
        img[n - 512..].copy_from_slice(&footer(TYPE_FIXED, u64::MAX));
        let d = MemoryDisk::from_bytes(img.clone());
        assert_eq!(detect_format_of(&d).unwrap(), Format::Vpc);
        inspect_device(&d, None).unwrap();
        // A wrong checksum: just a raw disk ending in the word.
        img[n - 1] ^= 1;
        let d = MemoryDisk::from_bytes(img);
        assert_eq!(detect_format_of(&d).unwrap(), Format::Raw);
    }

    #[test]
    fn dynamic_and_differencing() {
        let mut img = vec![0u8; 8192];
        img[..512].copy_from_slice(&footer(TYPE_DYNAMIC, 512));
        inspect_device(&MemoryDisk::from_bytes(img.clone()), None).unwrap();

        img[..512].copy_from_slice(&footer(TYPE_DYNAMIC, 1 << 20));
        let e = inspect_device(&MemoryDisk::from_bytes(img.clone()), None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidImage);
        assert!(
            e.to_string()
                .contains("dynamic disk header at offset 1048576"),
            "{e}"
        );

        img[..512].copy_from_slice(&footer(TYPE_DIFFERENCING, 512));
        let e = inspect_device(&MemoryDisk::from_bytes(img.clone()), None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(
            e.to_string().contains("differencing vhd is not supported"),
            "{e}"
        );

        img[..512].copy_from_slice(&footer(9, 512));
        let e = inspect_device(&MemoryDisk::from_bytes(img), None).unwrap_err();
        assert!(e.to_string().contains("vhd disk type 9 is unknown"), "{e}");
    }
}
