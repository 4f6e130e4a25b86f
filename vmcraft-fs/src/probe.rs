//! Which filesystem a disk or partition holds, from superblock magic
//! ([`probe`]), opening the right in-process reader for it ([`open_fs`]), and
//! every filesystem of an image, partitions included ([`list_filesystems`]).

use std::sync::Arc;

use crate::block::{ReadAt, Window, partitions};
use crate::error::{Error, Result};
use crate::ext4::Ext4Tree;
use crate::fat::FatTree;
use crate::ntfs::NtfsTree;
use crate::tree::GuestTree;

/// A filesystem (or other content) found by [`probe`], named as blkid names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FsType {
    /// ext2 (no journal).
    Ext2,
    /// ext3 (a journal, no ext4-only features).
    Ext3,
    /// ext4.
    Ext4,
    /// FAT12, FAT16 or FAT32.
    Vfat,
    /// NTFS.
    Ntfs,
    /// XFS (no in-process reader).
    Xfs,
    /// Btrfs (no in-process reader).
    Btrfs,
    /// Linux swap.
    Swap,
    /// An LVM physical volume (no in-process reader).
    LvmMember,
    /// A LUKS encrypted volume.
    Luks,
    /// An ISO 9660 filesystem (no in-process reader).
    Iso9660,
}

impl FsType {
    /// The name blkid and libguestfs's `vfs-type` give it.
    ///
    /// ```
    /// assert_eq!(vmcraft_fs::FsType::Vfat.name(), "vfat");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            FsType::Ext2 => "ext2",
            FsType::Ext3 => "ext3",
            FsType::Ext4 => "ext4",
            FsType::Vfat => "vfat",
            FsType::Ntfs => "ntfs",
            FsType::Xfs => "xfs",
            FsType::Btrfs => "btrfs",
            FsType::Swap => "swap",
            FsType::LvmMember => "LVM2_member",
            FsType::Luks => "crypto_LUKS",
            FsType::Iso9660 => "iso9660",
        }
    }

    /// Whether this crate reads it in-process.
    pub fn has_reader(self) -> bool {
        matches!(
            self,
            FsType::Ext2 | FsType::Ext3 | FsType::Ext4 | FsType::Vfat | FsType::Ntfs
        )
    }
}

fn read_opt(disk: &dyn ReadAt, offset: u64, len: usize) -> Result<Option<Vec<u8>>> {
    if offset + len as u64 > disk.size() {
        return Ok(None);
    }
    let mut b = vec![0u8; len];
    disk.read_at(offset, &mut b)?;
    Ok(Some(b))
}

fn le16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// Whether a boot sector is a FAT one: the checks Linux's `fat_fill_super`
/// and blkid make on the BIOS parameter block.
fn is_fat(bs: &[u8]) -> bool {
    if !matches!(bs[0], 0xeb | 0xe9) {
        return false;
    }
    let bps = le16(bs, 11);
    let spc = bs[13];
    let reserved = le16(bs, 14);
    let fats = bs[16];
    let media = bs[21];
    let sig =
        &bs[54..62] == b"FAT12   " || &bs[54..62] == b"FAT16   " || &bs[82..90] == b"FAT32   ";
    bps.is_power_of_two()
        && (512..=4096).contains(&bps)
        && spc.is_power_of_two()
        && reserved > 0
        && (1..=4).contains(&fats)
        && (media >= 0xf8 || media == 0xf0)
        && (sig || le16(bs, 510) == 0xaa55)
}

/// Which filesystem `disk` holds, from its magic numbers; `None` when none is
/// recognised.
///
/// ```
/// use vmcraft_fs::{probe, FsType};
/// let mut disk = vec![0u8; 1 << 20];
/// disk[3..11].copy_from_slice(b"NTFS    ");
/// assert_eq!(probe(&disk)?, Some(FsType::Ntfs));
/// assert_eq!(probe(&vec![0u8; 1 << 20])?, None);
/// # Ok::<(), vmcraft_fs::Error>(())
/// ```
pub fn probe(disk: &dyn ReadAt) -> Result<Option<FsType>> {
    let Some(head) = read_opt(disk, 0, 4096)? else {
        return Ok(None);
    };
    if &head[3..11] == b"NTFS    " {
        return Ok(Some(FsType::Ntfs));
    }
    if head.starts_with(b"XFSB") {
        return Ok(Some(FsType::Xfs));
    }
    if head.starts_with(b"LUKS\xba\xbe") {
        return Ok(Some(FsType::Luks));
    }
    if &head[512..520] == b"LABELONE" && &head[536..544] == b"LVM2 001" {
        return Ok(Some(FsType::LvmMember));
    }
    if &head[4086..4096] == b"SWAPSPACE2" || &head[4086..4096] == b"SWAP-SPACE" {
        return Ok(Some(FsType::Swap));
    }
    if le16(&head, 1024 + 56) == 0xef53 {
        let sb = &head[1024..2048];
        let compat = le32(sb, 92);
        let incompat = le32(sb, 96);
        let ro_compat = le32(sb, 100);
        // Features ext3 lacks: extents, 64bit, flex_bg, mmp, inline data, ...
        let ext4_incompat = incompat & !0x0006 != 0; // beyond filetype and recover
        let ext4_ro = ro_compat & !0x0007 != 0; // beyond sparse_super, large_file, btree_dir
        return Ok(Some(if ext4_incompat || ext4_ro {
            FsType::Ext4
        } else if compat & 0x4 != 0 {
            FsType::Ext3
        } else {
            FsType::Ext2
        }));
    }
    if is_fat(&head[..512]) {
        return Ok(Some(FsType::Vfat));
    }
    if let Some(b) = read_opt(disk, 65536 + 64, 8)?
        && b == b"_BHRfS_M"
    {
        return Ok(Some(FsType::Btrfs));
    }
    if let Some(b) = read_opt(disk, 32769, 5)?
        && b == b"CD001"
    {
        return Ok(Some(FsType::Iso9660));
    }
    Ok(None)
}

/// A guest tree read in-process, of whichever filesystem type.
pub type BoxedTree = Box<dyn GuestTree + Send + Sync>;

/// Open the filesystem on `disk` with its in-process reader. A filesystem
/// without one (xfs, btrfs, an LVM PV, ...) or no filesystem at all is an
/// [`crate::ErrorKind::Unsupported`] error that says the kernel path is needed.
///
/// ```
/// use std::sync::Arc;
/// use vmcraft_fs::{open_fs, ErrorKind};
/// let mut disk = vec![0u8; 1 << 20];
/// disk[..4].copy_from_slice(b"XFSB");
/// let err = open_fs(Arc::new(disk)).err().unwrap();
/// assert_eq!(err.kind(), ErrorKind::Unsupported);
/// assert_eq!(err.to_string(), "open_fs: memory: xfs is not read in-process; the kernel path (root) is needed");
/// ```
pub fn open_fs(disk: Arc<dyn ReadAt>) -> Result<BoxedTree> {
    match probe(&*disk)? {
        Some(FsType::Ext2 | FsType::Ext3 | FsType::Ext4) => Ok(Box::new(Ext4Tree::open(disk)?)),
        Some(FsType::Vfat) => Ok(Box::new(FatTree::open(disk)?)),
        Some(FsType::Ntfs) => Ok(Box::new(NtfsTree::open(disk)?)),
        Some(other) => Err(Error::unsupported(
            "open_fs",
            disk.name(),
            format!(
                "{} is not read in-process; the kernel path (root) is needed",
                other.name()
            ),
        )),
        None => Err(Error::unsupported(
            "open_fs",
            disk.name(),
            "no filesystem recognised",
        )),
    }
}

/// A filesystem of an image, found by [`list_filesystems`].
#[derive(Debug, Clone)]
pub struct FoundFs {
    /// The partition number, `None` for a filesystem on the whole disk.
    pub partition: Option<u32>,
    /// Where it starts on the disk, in bytes.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
    /// What [`probe`] found (`None`: nothing recognised).
    pub fs_type: Option<FsType>,
}

/// Every filesystem of a disk: the whole disk when it has no partition table,
/// else each partition (vmcraft-part reads the table), in partition order.
///
/// ```
/// use vmcraft_fs::list_filesystems;
/// let found = list_filesystems(&vec![0u8; 1 << 20])?;
/// assert_eq!(found.len(), 1);
/// assert_eq!(found[0].partition, None);
/// assert_eq!(found[0].fs_type, None);
/// # Ok::<(), vmcraft_fs::Error>(())
/// ```
pub fn list_filesystems(disk: &dyn ReadAt) -> Result<Vec<FoundFs>> {
    let parts = partitions(disk)?;
    if parts.is_empty() {
        return Ok(vec![FoundFs {
            partition: None,
            offset: 0,
            len: disk.size(),
            fs_type: probe(disk)?,
        }]);
    }
    let mut out = Vec::new();
    for p in parts {
        let w = Window::new(disk, p.offset, p.len)?;
        out.push(FoundFs {
            partition: Some(p.number),
            offset: p.offset,
            len: p.len,
            fs_type: probe(&w)?,
        });
    }
    Ok(out)
}
