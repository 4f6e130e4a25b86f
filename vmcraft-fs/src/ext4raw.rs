//! What `ext4-view` 1.0 keeps private, read from the raw structures: a path's
//! inode number (directories scanned block by block, blocks mapped through
//! extent trees or indirect blocks), and from the raw inode its link count,
//! block count, change time, device number and extended attributes (in the
//! inode and in its attribute block).
//!
//! Everything is bounded: extent trees at most 5 levels deep, indirect blocks
//! three levels, a directory scanned block by block (each block read once), a
//! path at most [`crate::PATH_MAX`] long, attribute entries inside their inode
//! or block. The journal is not replayed here (it is by `ext4-view`), so on a
//! filesystem with an unreplayed journal these fields show the inode as last
//! checkpointed, as a `noload` mount does. Inline-data directories are not
//! scanned; their children get `None` for these fields.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::block::ReadAt;
use crate::error::{Error, Result};
use crate::stat::{Timespec, Xattr};

/// The most paths whose inode number is remembered (then the memory starts
/// over): about 5 MiB.
const MAX_CACHED: usize = 65536;

/// The raw fields of one inode that `ext4-view` does not give out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawInode {
    pub ino: u64,
    pub nlink: u64,
    pub blocks: u64,
    pub ctime: Timespec,
    pub rdev: u64,
}

/// The superblock fields needed here.
pub(crate) struct Ext4Raw {
    disk: std::sync::Arc<dyn ReadAt>,
    block_size: u64,
    inodes_per_group: u64,
    inode_size: u64,
    desc_size: u64,
    first_data_block: u64,
    groups: u64,
    huge_file: bool,
    /// Resolved path -> inode number.
    cache: Mutex<HashMap<String, u64>>,
}

fn le16(b: &[u8], o: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[o], b[o + 1]]))
}

fn le32(b: &[u8], o: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]))
}

const EXT4_EXTENTS_FL: u64 = 0x80000;
const EXT4_INLINE_DATA_FL: u64 = 0x1000_0000;
const EXT4_HUGE_FILE_FL: u64 = 0x40000;

fn corrupt(what: impl Into<String>) -> Error {
    Error::corrupt("lstat", "", what)
}

impl Ext4Raw {
    /// Read the superblock of `disk` (already checked by `check_superblock`).
    pub(crate) fn new(disk: std::sync::Arc<dyn ReadAt>) -> Result<Self> {
        let mut sb = [0u8; 1024];
        disk.read_at(1024, &mut sb)?;
        let block_size = 1024u64 << le32(&sb, 24).min(6);
        let incompat = le32(&sb, 0x60);
        let ro_compat = le32(&sb, 0x64);
        let rev = le32(&sb, 0x4c);
        let inode_size = if rev == 0 { 128 } else { le16(&sb, 0x58) };
        let desc_size = if incompat & 0x80 != 0 {
            le16(&sb, 0xfe).max(32)
        } else {
            32
        };
        let blocks = le32(&sb, 4) | (le32(&sb, 0x150) << 32);
        let first_data_block = le32(&sb, 0x14);
        let per_group = le32(&sb, 0x20).max(1);
        let inodes_per_group = le32(&sb, 0x28);
        if !(128..=block_size).contains(&inode_size) || inodes_per_group == 0 {
            return Err(corrupt("bad inode size or count per group"));
        }
        Ok(Ext4Raw {
            disk,
            block_size,
            inodes_per_group,
            inode_size,
            desc_size,
            first_data_block,
            groups: blocks.saturating_sub(first_data_block).div_ceil(per_group),
            huge_file: ro_compat & 0x8 != 0,
            cache: Mutex::new(HashMap::new()),
        })
    }

    fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let mut b = vec![0u8; len];
        self.disk.read_at(offset, &mut b)?;
        Ok(b)
    }

    fn block(&self, n: u64) -> Result<Vec<u8>> {
        let off = n
            .checked_mul(self.block_size)
            .ok_or_else(|| corrupt(format!("block {n} out of range")))?;
        self.read(off, self.block_size as usize)
    }

    /// The raw bytes of inode `ino`.
    fn inode(&self, ino: u64) -> Result<Vec<u8>> {
        if ino == 0 {
            return Err(corrupt("inode 0"));
        }
        let group = (ino - 1) / self.inodes_per_group;
        if group >= self.groups {
            return Err(corrupt(format!("inode {ino} past the last group")));
        }
        let index = (ino - 1) % self.inodes_per_group;
        let desc_off = (self.first_data_block + 1) * self.block_size + group * self.desc_size;
        let desc = self.read(desc_off, self.desc_size as usize)?;
        let mut table = le32(&desc, 8);
        if self.desc_size >= 64 {
            table |= le32(&desc, 0x28) << 32;
        }
        let off = table
            .checked_mul(self.block_size)
            .and_then(|t| t.checked_add(index * self.inode_size))
            .ok_or_else(|| corrupt(format!("inode {ino}: table out of range")))?;
        self.read(off, self.inode_size as usize)
    }

    /// Map every logical block of the inode's data to a physical block
    /// (holes left out), in logical order; at most `max` blocks.
    fn data_blocks(&self, inode: &[u8], max: u64) -> Result<Vec<u64>> {
        let flags = le32(inode, 0x20);
        if flags & EXT4_INLINE_DATA_FL != 0 {
            return Err(Error::unsupported("lstat", "", "inline data"));
        }
        let mut out = Vec::new();
        if flags & EXT4_EXTENTS_FL != 0 {
            self.extents(&inode[0x28..0x28 + 60], 0, max, &mut out)?;
        } else {
            for i in 0..12 {
                push_block(&mut out, le32(inode, 0x28 + 4 * i), max)?;
            }
            for (i, depth) in [(12usize, 1u32), (13, 2), (14, 3)] {
                self.indirect(le32(inode, 0x28 + 4 * i), depth, max, &mut out)?;
            }
        }
        Ok(out)
    }

    fn extents(&self, node: &[u8], level: u32, max: u64, out: &mut Vec<u64>) -> Result<()> {
        if level > 5 || node.len() < 12 || le16(node, 0) != 0xf30a {
            return Err(corrupt("bad extent tree"));
        }
        let entries = le16(node, 2) as usize;
        let depth = le16(node, 6);
        if 12 + entries * 12 > node.len() {
            return Err(corrupt("extent node overflows"));
        }
        for i in 0..entries {
            let e = &node[12 + i * 12..24 + i * 12];
            if depth == 0 {
                let mut len = le16(e, 4);
                if len > 32768 {
                    len -= 32768; // uninitialized extent: reads as zeros, still allocated
                }
                let start = le32(e, 8) | (le16(e, 6) << 32);
                for b in 0..len {
                    push_block(out, start + b, max)?;
                }
            } else {
                let leaf = le32(e, 4) | (le16(e, 8) << 32);
                let child = self.block(leaf)?;
                self.extents(&child, level + 1, max, out)?;
            }
        }
        Ok(())
    }

    fn indirect(&self, block: u64, depth: u32, max: u64, out: &mut Vec<u64>) -> Result<()> {
        if block == 0 {
            return Ok(());
        }
        let data = self.block(block)?;
        for i in 0..(self.block_size as usize / 4) {
            let b = le32(&data, i * 4);
            if depth == 1 {
                push_block(out, b, max)?;
            } else {
                self.indirect(b, depth - 1, max, out)?;
            }
        }
        Ok(())
    }

    /// The inode number a resolved path names.
    pub(crate) fn lookup(&self, path: &str) -> Result<u64> {
        let cached = self.cache.lock().ok().and_then(|c| c.get(path).copied());
        if let Some(ino) = cached {
            return Ok(ino);
        }
        let (parent, name) = match path.rsplit_once('/') {
            Some((_, "")) | None => return Ok(2),
            Some((p, n)) => (if p.is_empty() { "/" } else { p }, n),
        };
        let dir = self.lookup(parent)?;
        let mut found = None;
        self.scan_dir(dir, &mut |entry, ino| {
            if entry == name.as_bytes() {
                found = Some(ino);
                false
            } else {
                true
            }
        })?;
        let ino = found.ok_or_else(|| corrupt(format!("{path}: not found in its directory")))?;
        self.remember(path, ino);
        Ok(ino)
    }

    fn remember(&self, path: &str, ino: u64) {
        if let Ok(mut c) = self.cache.lock() {
            if c.len() > MAX_CACHED {
                c.clear();
            }
            c.insert(path.to_string(), ino);
        }
    }

    /// Scan the directory `path` (resolved) once and remember the inode of
    /// every entry, so that the lookups of its entries that follow (a walk,
    /// or every file of a large directory in turn) cost no scan each. A
    /// directory of more entries than the cache holds is left alone.
    pub(crate) fn remember_dir(&self, path: &str) -> Result<()> {
        let dir = self.lookup(path)?;
        let mut entries = Vec::new();
        self.scan_dir(dir, &mut |name, ino| {
            if name != b"." && name != b".." {
                entries.push((String::from_utf8_lossy(name).into_owned(), ino));
            }
            entries.len() <= MAX_CACHED
        })?;
        if entries.len() > MAX_CACHED {
            return Ok(());
        }
        let base = if path == "/" { "" } else { path };
        for (name, ino) in entries {
            self.remember(&format!("{base}/{name}"), ino);
        }
        Ok(())
    }

    /// Call `f(name, inode)` for each entry of directory inode `dir` until it
    /// answers `false`. A directory of more than 65536 blocks is scanned up to
    /// there.
    fn scan_dir(&self, dir: u64, f: &mut dyn FnMut(&[u8], u64) -> bool) -> Result<()> {
        let inode = self.inode(dir)?;
        let size = le32(&inode, 4) | (le32(&inode, 0x6c) << 32);
        let max = size.div_ceil(self.block_size).min(1 << 16);
        for b in self.data_blocks(&inode, max)? {
            let data = self.block(b)?;
            let mut off = 0usize;
            while off + 8 <= data.len() {
                let ino = le32(&data, off);
                let rec_len = le16(&data, off + 4) as usize;
                let name_len = data[off + 6] as usize;
                if rec_len < 8 || off + rec_len > data.len() {
                    break;
                }
                if ino != 0
                    && off + 8 + name_len <= data.len()
                    && !f(&data[off + 8..off + 8 + name_len], ino)
                {
                    return Ok(());
                }
                off += rec_len;
            }
        }
        Ok(())
    }

    /// The raw fields of the inode a resolved path names.
    pub(crate) fn stat(&self, path: &str) -> Result<RawInode> {
        let ino = self.lookup(path)?;
        let inode = self.inode(ino)?;
        let extra = if inode.len() >= 0x84 {
            le16(&inode, 0x80)
        } else {
            0
        };
        let mut blocks = le32(&inode, 0x1c);
        if self.huge_file {
            blocks |= le16(&inode, 0x74) << 32;
            if le32(&inode, 0x20) & EXT4_HUGE_FILE_FL != 0 {
                blocks = blocks.saturating_mul(self.block_size / 512);
            }
        }
        let ctime = time(
            le32(&inode, 0x0c),
            (extra >= 8 && inode.len() >= 0x88).then(|| le32(&inode, 0x84)),
        );
        let mode = le16(&inode, 0);
        let rdev = match mode & 0o170000 {
            0o020000 | 0o060000 => {
                let old = le32(&inode, 0x28);
                let (major, minor) = if old != 0 {
                    ((old >> 8) & 0xff, old & 0xff)
                } else {
                    let new = le32(&inode, 0x2c);
                    ((new & 0xfff00) >> 8, (new & 0xff) | ((new >> 12) & 0xfff00))
                };
                ((major & 0xffff_f000) << 32)
                    | ((major & 0xfff) << 8)
                    | ((minor & 0xffff_ff00) << 12)
                    | (minor & 0xff)
            }
            _ => 0,
        };
        Ok(RawInode {
            ino,
            nlink: le16(&inode, 0x1a),
            blocks,
            ctime,
            rdev,
        })
    }

    /// The extended attributes of the inode a resolved path names: those in
    /// the inode, then those in its attribute block. ACLs (stored in ext4's
    /// own compact form) and values in separate inodes are left out.
    pub(crate) fn xattrs(&self, path: &str) -> Result<Vec<Xattr>> {
        let ino = self.lookup(path)?;
        let inode = self.inode(ino)?;
        let mut out = Vec::new();
        if inode.len() >= 0x84 {
            let start = 128 + le16(&inode, 0x80) as usize;
            if start + 4 <= inode.len() && le32(&inode, start) == 0xea02_0000 {
                parse_entries(&inode[start + 4..], &inode[start + 4..], &mut out)?;
            }
        }
        let acl = le32(&inode, 0x68) | (le16(&inode, 0x76) << 32);
        if acl != 0 {
            let block = self.block(acl)?;
            if le32(&block, 0) != 0xea02_0000 {
                return Err(corrupt(format!("inode {ino}: bad attribute block")));
            }
            parse_entries(&block[32..], &block, &mut out)?;
        }
        Ok(out)
    }
}

fn push_block(out: &mut Vec<u64>, b: u64, max: u64) -> Result<()> {
    if b != 0 {
        if out.len() as u64 >= max {
            return Err(corrupt("more data blocks than the size says"));
        }
        out.push(b);
    }
    Ok(())
}

/// An ext4 timestamp: the signed 32-bit seconds, and the extra field's epoch
/// bits and nanoseconds.
fn time(secs: u64, extra: Option<u64>) -> Timespec {
    let mut s = i64::from(secs as u32 as i32);
    let mut ns = 0;
    if let Some(x) = extra {
        s += ((x & 3) as i64) << 32;
        ns = (x >> 2) as u32;
    }
    Timespec::new(s, ns.min(999_999_999))
}

/// Parse attribute entries from `entries` (values at offsets into `base`).
fn parse_entries(entries: &[u8], base: &[u8], out: &mut Vec<Xattr>) -> Result<()> {
    let mut off = 0usize;
    while off + 16 <= entries.len() {
        if le32(entries, off) == 0 {
            break;
        }
        let name_len = entries[off] as usize;
        let index = entries[off + 1];
        let value_offs = le16(entries, off + 2) as usize;
        let value_inum = le32(entries, off + 4);
        let value_size = le32(entries, off + 8) as usize;
        let name_end = off + 16 + name_len;
        if name_end > entries.len() {
            return Err(corrupt("attribute name overflows"));
        }
        let name = String::from_utf8_lossy(&entries[off + 16..name_end]).into_owned();
        let prefix = match index {
            1 => Some("user."),
            4 => Some("trusted."),
            6 => Some("security."),
            7 => Some("system."),
            _ => None, // ACLs (2, 3) are stored converted; others unknown
        };
        if let Some(prefix) = prefix
            && value_inum == 0
        {
            let value = base
                .get(value_offs..value_offs + value_size)
                .ok_or_else(|| corrupt("attribute value overflows"))?;
            out.push(Xattr {
                name: format!("{prefix}{name}"),
                value: value.to_vec(),
            });
        }
        off = (name_end + 3) & !3;
    }
    Ok(())
}
