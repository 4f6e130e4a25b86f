//! Old GNU sparse files (`S` entries, what `tar --format=gnu -S` writes): the
//! map of data extents in the header and its extension blocks, parsed and
//! checked here, and the extraction that writes only the extents.
//!
//! The `tar` crate expands a sparse entry into its full real size, reading
//! every hole as zeros, so an entry a few bytes long that declares an exabyte
//! would keep the extractor busy forever. Instead [`crate::pax::PaxSplitter`]
//! takes the map out of the stream ([`parse`]) and hands the `tar` crate a
//! plain file of the stored data; the extractor then writes each extent at its
//! offset and sets the real size with `ftruncate` ([`write_extents`]), so holes
//! cost nothing and the work is proportional to what is stored.

use std::fs::File;
use std::io::{self, Read};

use crate::error::ErrorKind;
use crate::limits::{MAX_SPARSE_ENTRIES, over_limit, refuse};
use crate::pax::numeric;

/// A sparse file: its real size and its data extents (offset, length), in
/// order, not overlapping, inside the real size, their lengths adding up to the
/// data stored in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SparseMap {
    pub real_size: u64,
    pub extents: Vec<(u64, u64)>,
}

/// Where the map is in an old GNU header: 4 entries from byte 386, the
/// "extended" flag at 482, the real size at 483.
const HEADER_ENTRIES: (usize, usize) = (386, 4);
const HEADER_EXTENDED: usize = 482;
const HEADER_REAL_SIZE: usize = 483;
/// An extension block: 21 entries from byte 0, the "extended" flag at 504.
const EXT_ENTRIES: usize = 21;
const EXT_EXTENDED: usize = 504;

fn corrupt(what: String) -> io::Error {
    refuse(ErrorKind::Corrupt, format!("sparse map: {what}"))
}

/// Whether an old GNU sparse header says extension blocks follow it.
pub(crate) fn header_is_extended(header: &[u8]) -> bool {
    header[HEADER_EXTENDED] != 0
}

/// Whether an extension block says another one follows it.
pub(crate) fn block_is_extended(block: &[u8]) -> bool {
    block[EXT_EXTENDED] != 0
}

/// Collects and checks the entries of one sparse map.
pub(crate) struct MapBuilder {
    map: SparseMap,
    stored: u64,
    next_free: u64,
    total: u64,
}

impl MapBuilder {
    /// Start from the header (512 bytes, GNU format) of an entry that stores
    /// `stored` bytes of data.
    pub(crate) fn new(header: &[u8], stored: u64) -> io::Result<MapBuilder> {
        let real_size = numeric(&header[HEADER_REAL_SIZE..HEADER_REAL_SIZE + 12])
            .ok_or_else(|| corrupt("bad real size field".into()))?;
        if real_size > i64::MAX as u64 {
            return Err(corrupt(format!(
                "real size {real_size} is more than a file can have"
            )));
        }
        let mut b = MapBuilder {
            map: SparseMap {
                real_size,
                extents: Vec::new(),
            },
            stored,
            next_free: 0,
            total: 0,
        };
        let (at, n) = HEADER_ENTRIES;
        b.add_entries(&header[at..at + 24 * n])?;
        Ok(b)
    }

    /// Add the entries of an extension block.
    pub(crate) fn add_block(&mut self, block: &[u8]) -> io::Result<()> {
        self.add_entries(&block[..24 * EXT_ENTRIES])
    }

    fn add_entries(&mut self, raw: &[u8]) -> io::Result<()> {
        for e in raw.chunks_exact(24) {
            // An unused entry is all NUL (GNU tar stops at the first one).
            if e[0] == 0 {
                continue;
            }
            if self.map.extents.len() >= MAX_SPARSE_ENTRIES {
                return Err(over_limit(format!(
                    "sparse map of more than {MAX_SPARSE_ENTRIES} entries (the limit)"
                )));
            }
            let (off, len) = match (numeric(&e[..12]), numeric(&e[12..])) {
                (Some(o), Some(l)) => (o, l),
                _ => return Err(corrupt("bad offset or length field".into())),
            };
            let end = off
                .checked_add(len)
                .filter(|&end| end <= self.map.real_size)
                .ok_or_else(|| {
                    corrupt(format!(
                        "extent {off}+{len} runs past the real size {}",
                        self.map.real_size
                    ))
                })?;
            if off < self.next_free {
                return Err(corrupt(format!(
                    "extent at {off} overlaps or precedes the one before it"
                )));
            }
            self.total = self
                .total
                .checked_add(len)
                .filter(|&t| t <= self.stored)
                .ok_or_else(|| {
                    corrupt(format!(
                        "extents hold more than the {} bytes stored",
                        self.stored
                    ))
                })?;
            self.next_free = end;
            if len > 0 {
                self.map.extents.push((off, len));
            }
        }
        Ok(())
    }

    /// The map, once the stored data is exactly accounted for.
    pub(crate) fn finish(self) -> io::Result<SparseMap> {
        if self.total != self.stored {
            return Err(corrupt(format!(
                "extents hold {} bytes, the entry stores {}",
                self.total, self.stored
            )));
        }
        Ok(self.map)
    }
}

/// Write the stored data of a sparse entry, read from `input`, at the offsets
/// of `map` in the new (empty) file `file`, and give the file its real size.
/// Holes are never written, all-zero blocks inside extents are skipped too.
pub(crate) fn write_extents(
    file: &File,
    input: &mut impl Read,
    map: &SparseMap,
    buf: &mut [u8],
) -> io::Result<()> {
    let mut end = 0;
    for &(off, len) in &map.extents {
        end = crate::tar_in::write_holey(file, input, off, len, buf)?;
    }
    if end != map.real_size {
        file.set_len(map.real_size)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 12-byte numeric field: octal, or GNU base-256 when it does not fit.
    fn field(v: u64) -> Vec<u8> {
        if v < 8u64.pow(11) {
            format!("{v:011o}\0").into_bytes()
        } else {
            let mut f = vec![0x80, 0, 0, 0];
            f.extend_from_slice(&v.to_be_bytes());
            f
        }
    }

    fn entry(off: u64, len: u64) -> Vec<u8> {
        [field(off), field(len)].concat()
    }

    fn header(real: u64, entries: &[(u64, u64)]) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        for (i, &(o, l)) in entries.iter().enumerate() {
            h[386 + 24 * i..386 + 24 * (i + 1)].copy_from_slice(&entry(o, l));
        }
        h[483..495].copy_from_slice(&field(real));
        h
    }

    fn message(e: io::Error) -> String {
        crate::limits::refusal(&e).unwrap().message.clone()
    }

    #[test]
    fn maps_are_checked() {
        let h = header(1 << 20, &[(0, 512), (4096, 100), (1 << 20, 0)]);
        let map = MapBuilder::new(&h, 612).unwrap().finish().unwrap();
        assert_eq!(map.extents, [(0, 512), (4096, 100)]);
        assert_eq!(map.real_size, 1 << 20);
        let bad = |h: Vec<u8>, stored| {
            MapBuilder::new(&h, stored)
                .and_then(MapBuilder::finish)
                .map_err(message)
                .unwrap_err()
        };
        assert_eq!(
            bad(header(100, &[(0, 512)]), 512),
            "sparse map: extent 0+512 runs past the real size 100"
        );
        assert_eq!(
            bad(header(9000, &[(4096, 10), (0, 10)]), 20),
            "sparse map: extent at 0 overlaps or precedes the one before it"
        );
        assert_eq!(
            bad(header(9000, &[(0, 10)]), 5),
            "sparse map: extents hold more than the 5 bytes stored"
        );
        assert_eq!(
            bad(header(9000, &[(0, 10)]), 50),
            "sparse map: extents hold 10 bytes, the entry stores 50"
        );
        assert_eq!(
            bad(header(u64::MAX >> 1, &[(u64::MAX >> 2, u64::MAX >> 2)]), 1),
            format!("sparse map: extents hold more than the 1 bytes stored")
        );
        let h = header(u64::MAX, &[]);
        assert_eq!(
            bad(h, 0),
            "sparse map: real size 18446744073709551615 is more than a file can have"
        );
    }

    #[test]
    fn the_number_of_entries_is_bounded() {
        let mut b = MapBuilder::new(&header(u64::MAX >> 1, &[]), u64::MAX).unwrap();
        let mut block = vec![0u8; 512];
        let mut off = 0u64;
        let err = loop {
            for i in 0..EXT_ENTRIES {
                block[24 * i..24 * (i + 1)].copy_from_slice(&entry(off, 1));
                off += 2;
            }
            if let Err(e) = b.add_block(&block) {
                break e;
            }
        };
        assert_eq!(
            message(err),
            "sparse map of more than 262144 entries (the limit)"
        );
    }
}
