//! What `fatfs` 0.3 keeps private, read from the raw directory entries: the
//! Windows NT case bits of a short name applied as Linux's vfat applies them
//! (to every letter, through code page 437's lower-case table, not only to
//! ASCII), and a directory's size (its cluster chain, as vfat shows it).
//!
//! Bounded: a directory is read up to the FAT limit of 65536 entries (2 MiB),
//! a cluster chain up to the number of clusters the volume has (a chain that
//! loops is an error), and every offset is checked against the disk.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::block::ReadAt;
use crate::error::{Error, Result};

/// Where a directory's entries are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum DirLoc {
    /// FAT12/16's root: a fixed region.
    FixedRoot,
    /// A cluster chain from this cluster.
    Chain(u32),
}

/// One entry as the raw directory holds it.
#[derive(Debug, Clone)]
pub(crate) struct RawEntry {
    /// The name Linux shows: the long name, else the short name with its
    /// case bits applied.
    pub name: String,
    /// The 8.3 name as stored (upper case, `BASE.EXT`).
    pub short: String,
    pub attr: u8,
    pub first_cluster: u32,
}

/// A FAT volume's layout.
pub(crate) struct FatRaw {
    disk: Arc<dyn ReadAt>,
    cluster_size: u64,
    bits: u32,
    fat_offset: u64,
    root_offset: u64,
    root_len: u64,
    data_offset: u64,
    clusters: u32,
    root_cluster: u32,
    /// Directories already parsed (at most [`CACHED_DIRS`]; emptied when full).
    cache: Mutex<HashMap<DirLoc, Arc<Vec<RawEntry>>>>,
}

/// How many parsed directories [`FatRaw`] keeps.
const CACHED_DIRS: usize = 64;

/// Most entries a FAT directory holds.
const MAX_ENTRIES: u64 = 65536;

fn corrupt(what: impl Into<String>) -> Error {
    Error::corrupt("lstat", "", what)
}

fn le16(b: &[u8], o: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[o], b[o + 1]]))
}

fn le32(b: &[u8], o: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]))
}

/// Code page 437's lower-case table for the upper-case letters above ASCII
/// (Linux's `nls_cp437` `charset2lower`).
fn cp437_lower(b: u8) -> u8 {
    match b {
        b'A'..=b'Z' => b + 32,
        0x80 => 0x87, // Ç
        0x8e => 0x84, // Ä
        0x8f => 0x86, // Å
        0x90 => 0x82, // É
        0x92 => 0x91, // Æ
        0x99 => 0x94, // Ö
        0x9a => 0x81, // Ü
        0xa5 => 0xa4, // Ñ
        _ => b,
    }
}

impl FatRaw {
    /// The layout of the FAT volume on `disk`, from its boot sector.
    pub(crate) fn new(disk: Arc<dyn ReadAt>) -> Result<Self> {
        let mut bs = [0u8; 512];
        disk.read_at(0, &mut bs)?;
        let bps = le16(&bs, 11);
        let spc = u64::from(bs[13]);
        let reserved = le16(&bs, 14);
        let fats = u64::from(bs[16]);
        let root_entries = le16(&bs, 17);
        let total = match le16(&bs, 19) {
            0 => le32(&bs, 32),
            n => n,
        };
        let fat_size = match le16(&bs, 22) {
            0 => le32(&bs, 36),
            n => n,
        };
        if !bps.is_power_of_two() || !(512..=4096).contains(&bps) || spc == 0 || fats == 0 {
            return Err(corrupt("bad FAT boot sector"));
        }
        let root_sectors = (root_entries * 32).div_ceil(bps);
        let data_sector = reserved + fats * fat_size + root_sectors;
        // Clusters past the end of the disk do not count (a boot sector may
        // claim any total): chains are bounded by what the disk holds. The
        // FAT type follows from the count the boot sector claims.
        let on_disk = disk.size().saturating_sub(data_sector * bps) / (bps * spc);
        let claimed = total.saturating_sub(data_sector) / spc;
        let clusters = claimed.min(on_disk.max(1));
        let bits = if claimed < 4085 {
            12
        } else if claimed < 65525 {
            16
        } else {
            32
        };
        Ok(FatRaw {
            disk,
            cluster_size: bps * spc,
            bits,
            fat_offset: reserved * bps,
            root_offset: (reserved + fats * fat_size) * bps,
            root_len: root_entries * 32,
            data_offset: data_sector * bps,
            clusters: u32::try_from(clusters).unwrap_or(u32::MAX),
            root_cluster: if bits == 32 { le32(&bs, 44) as u32 } else { 0 },
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Where the root directory is.
    pub(crate) fn root(&self) -> DirLoc {
        if self.bits == 32 {
            DirLoc::Chain(self.root_cluster)
        } else {
            DirLoc::FixedRoot
        }
    }

    fn next(&self, c: u32) -> Result<Option<u32>> {
        let (off, len) = match self.bits {
            12 => (u64::from(c) * 3 / 2, 2),
            16 => (u64::from(c) * 2, 2),
            _ => (u64::from(c) * 4, 4),
        };
        let mut b = [0u8; 4];
        self.disk.read_at(self.fat_offset + off, &mut b[..len])?;
        let v = u32::from_le_bytes(b);
        let (v, end) = match self.bits {
            12 => (if c & 1 == 1 { v >> 4 } else { v & 0xfff }, 0xff8),
            16 => (v & 0xffff, 0xfff8),
            _ => (v & 0x0fff_ffff, 0x0fff_fff8),
        };
        Ok(if v >= end || v < 2 { None } else { Some(v) })
    }

    /// The clusters of a chain, in order; a chain longer than the volume's
    /// cluster count (one that loops) is an error.
    pub(crate) fn chain(&self, first: u32) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        let mut c = first;
        while c >= 2 {
            if c - 2 >= self.clusters || out.len() as u64 > u64::from(self.clusters) {
                return Err(corrupt("cluster chain loops or leaves the volume"));
            }
            out.push(c);
            match self.next(c)? {
                Some(n) => c = n,
                None => break,
            }
        }
        Ok(out)
    }

    /// The size vfat shows for a directory: its chain's bytes (the fixed
    /// root: its region).
    pub(crate) fn dir_size(&self, loc: DirLoc) -> Result<u64> {
        match loc {
            DirLoc::FixedRoot => Ok(self.root_len),
            DirLoc::Chain(c) => Ok(self.chain(c)?.len() as u64 * self.cluster_size),
        }
    }

    fn dir_bytes(&self, loc: DirLoc) -> Result<Vec<u8>> {
        let max = (MAX_ENTRIES * 32) as usize;
        match loc {
            DirLoc::FixedRoot => {
                let mut b = vec![0u8; (self.root_len as usize).min(max)];
                self.disk.read_at(self.root_offset, &mut b)?;
                Ok(b)
            }
            DirLoc::Chain(first) => {
                let mut out = Vec::new();
                for c in self.chain(first)? {
                    if out.len() >= max {
                        break;
                    }
                    let mut b = vec![0u8; self.cluster_size as usize];
                    let off = self.data_offset + u64::from(c - 2) * self.cluster_size;
                    self.disk.read_at(off, &mut b)?;
                    out.extend_from_slice(&b);
                }
                Ok(out)
            }
        }
    }

    /// The entries of a directory (`.`, `..`, volume labels and deleted
    /// entries left out).
    pub(crate) fn entries(&self, loc: DirLoc) -> Result<Arc<Vec<RawEntry>>> {
        if let Some(e) = self.cache.lock().ok().and_then(|c| c.get(&loc).cloned()) {
            return Ok(e);
        }
        let parsed = Arc::new(self.parse_dir(loc)?);
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= CACHED_DIRS {
                c.clear();
            }
            c.insert(loc, parsed.clone());
        }
        Ok(parsed)
    }

    fn parse_dir(&self, loc: DirLoc) -> Result<Vec<RawEntry>> {
        let bytes = self.dir_bytes(loc)?;
        let mut out = Vec::new();
        let mut lfn: Vec<(u8, [u16; 13])> = Vec::new();
        let mut lfn_sum = None;
        for e in bytes.chunks_exact(32) {
            match e[0] {
                0 => break,
                0xe5 => {
                    lfn.clear();
                    continue;
                }
                _ => {}
            }
            let attr = e[11];
            if attr & 0x3f == 0x0f {
                if e[0] & 0x40 != 0 {
                    lfn.clear();
                    lfn_sum = Some(e[13]);
                }
                let mut part = [0u16; 13];
                let offs = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];
                for (i, o) in offs.iter().enumerate() {
                    part[i] = le16(e, *o) as u16;
                }
                lfn.push((e[0] & 0x1f, part));
                continue;
            }
            if attr & 0x08 != 0 {
                lfn.clear();
                continue;
            }
            let mut raw = [0u8; 11];
            raw.copy_from_slice(&e[..11]);
            if raw[0] == 0x05 {
                raw[0] = 0xe5;
            }
            let sum = raw
                .iter()
                .fold(0u8, |s, &b| s.rotate_right(1).wrapping_add(b));
            let long = (lfn_sum == Some(sum) && !lfn.is_empty())
                .then(|| long_name(&lfn))
                .flatten();
            lfn.clear();
            lfn_sum = None;
            let short = short_name(&raw, 0);
            let name = long.unwrap_or_else(|| short_name(&raw, e[12]));
            if name == "." || name == ".." {
                continue;
            }
            let mut first = le16(e, 26) as u32;
            if self.bits == 32 {
                first |= (le16(e, 20) as u32) << 16;
            }
            out.push(RawEntry {
                name,
                short,
                attr,
                first_cluster: first,
            });
        }
        Ok(out)
    }

    /// The entry a resolved path names (names compared as vfat compares them,
    /// long or short, in any case); `None` for the root.
    pub(crate) fn lookup(&self, path: &str) -> Result<Option<RawEntry>> {
        let mut loc = self.root();
        let mut found = None;
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            let e = self
                .entries(loc)?
                .iter()
                .find(|e| same(&e.name, comp) || same(&e.short, comp))
                .cloned()
                .ok_or_else(|| corrupt(format!("{path}: not in its directory")))?;
            loc = match e.first_cluster {
                0 => self.root(),
                c => DirLoc::Chain(c),
            };
            found = Some(e);
        }
        Ok(found)
    }
}

fn same(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_uppercase)
        .eq(b.chars().flat_map(char::to_uppercase))
}

fn long_name(parts: &[(u8, [u16; 13])]) -> Option<String> {
    let mut parts = parts.to_vec();
    parts.sort_by_key(|p| p.0);
    if parts.first()?.0 != 1 || parts.iter().enumerate().any(|(i, p)| p.0 as usize != i + 1) {
        return None;
    }
    let units: Vec<u16> = parts
        .iter()
        .flat_map(|p| p.1)
        .take_while(|&u| u != 0 && u != 0xffff)
        .collect();
    Some(String::from_utf16_lossy(&units))
}

/// An 8.3 name, decoded from code page 437, with the NT case bits of `case`
/// (0x08: base lower, 0x10: extension lower) applied as Linux applies them.
fn short_name(raw: &[u8; 11], case: u8) -> String {
    let part = |bytes: &[u8], lower: bool| -> String {
        let end = bytes.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
        bytes[..end]
            .iter()
            .map(|&b| if lower { cp437_lower(b) } else { b })
            .map(decode_cp437)
            .collect()
    };
    let base = part(&raw[..8], case & 0x08 != 0);
    let ext = part(&raw[8..], case & 0x10 != 0);
    if ext.is_empty() {
        base
    } else {
        format!("{base}.{ext}")
    }
}

fn decode_cp437(b: u8) -> char {
    use fatfs::OemCpConverter;
    crate::fat::CP437.decode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_with_case_bits() {
        let n = *b"GRUBX64 EFI";
        assert_eq!(short_name(&n, 0), "GRUBX64.EFI");
        assert_eq!(short_name(&n, 0x18), "grubx64.efi");
        assert_eq!(short_name(&n, 0x08), "grubx64.EFI");
        assert_eq!(short_name(&n, 0x10), "GRUBX64.efi");
        let mut u = *b"XBER    TXT";
        u[0] = 0x9a; // Ü in code page 437
        assert_eq!(short_name(&u, 0x18), "\u{fc}ber.txt");
        assert_eq!(short_name(&u, 0), "\u{dc}BER.TXT");
        assert_eq!(short_name(b"README     ", 0x08), "readme");
    }
}
