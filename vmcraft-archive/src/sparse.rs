//! Sparse files: old GNU `S` entries (what `tar --format=gnu -S` writes, the
//! map in the header and its extension blocks) and PAX ones (what
//! `tar --format=posix -S` writes: `GNU.sparse.*` records, formats 0.0, 0.1
//! and 1.0, the last with the map stored in front of the data), parsed and
//! checked here, and the extraction that writes only the extents.
//!
//! The `tar` crate expands an old GNU sparse entry into its full real size,
//! reading every hole as zeros, so an entry a few bytes long that declares an
//! exabyte would keep the extractor busy forever; and it knows nothing of the
//! PAX formats, whose files would come out as `GNUSparseFile.N/name` holding
//! the map. Instead [`crate::framer::Framer`] takes the map out of the stream
//! and hands on a plain file of the stored data under the real name; the
//! extractor then writes each extent at its offset and sets the real size with
//! `ftruncate` ([`write_extents`]), so holes cost nothing and the work is
//! proportional to what is stored.
//!
//! Every map is bounded and checked the same way ([`MapBuilder`]): at most
//! [`MAX_SPARSE_ENTRIES`] entries, in order, not overlapping, inside the real
//! size, adding up to exactly the data stored, all with checked arithmetic.

use std::fs::File;
use std::io::{self, Read};

use crate::limits::{MAX_SPARSE_ENTRIES, over_limit, refuse};
use crate::pax::{Record, numeric};
use vmcraft_fs::root::ErrorKind;

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

    /// Start a map of a PAX sparse file of `real_size` bytes that stores
    /// `stored` bytes of data.
    pub(crate) fn pax(real_size: u64, stored: u64) -> io::Result<MapBuilder> {
        if real_size > i64::MAX as u64 {
            return Err(corrupt(format!(
                "real size {real_size} is more than a file can have"
            )));
        }
        Ok(MapBuilder {
            map: SparseMap {
                real_size,
                extents: Vec::new(),
            },
            stored,
            next_free: 0,
            total: 0,
        })
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
            let (off, len) = match (numeric(&e[..12]), numeric(&e[12..])) {
                (Some(o), Some(l)) => (o, l),
                _ => return Err(corrupt("bad offset or length field".into())),
            };
            self.add(off, len)?;
        }
        Ok(())
    }

    /// Add the extent of `len` bytes at `off`.
    pub(crate) fn add(&mut self, off: u64, len: u64) -> io::Result<()> {
        if self.map.extents.len() >= MAX_SPARSE_ENTRIES {
            return Err(over_limit(format!(
                "sparse map of more than {MAX_SPARSE_ENTRIES} entries (the limit)"
            )));
        }
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

/// What the `GNU.sparse.*` records of a PAX member say.
#[derive(Debug)]
pub(crate) struct PaxSparse {
    /// The real name (`GNU.sparse.name`; the header holds
    /// `GNUSparseFile.N/name`), when given.
    pub name: Option<Vec<u8>>,
    pub real_size: u64,
    /// The map of formats 0.0 and 0.1; `None` for 1.0, whose map is read from
    /// the data ([`read_map_in_data`]).
    pub map: Option<SparseMap>,
}

fn decimal(what: &str, v: &[u8]) -> io::Result<u64> {
    std::str::from_utf8(v)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| corrupt(format!("bad {what} {:?}", String::from_utf8_lossy(v))))
}

impl PaxSparse {
    /// The sparse file the records of a member describe, whose data in the
    /// archive is `stored` bytes long; `None` when no `GNU.sparse.*` record
    /// is there.
    pub(crate) fn from_records(records: &[Record], stored: u64) -> io::Result<Option<PaxSparse>> {
        let ours: Vec<(&[u8], &[u8])> = records
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(b"GNU.sparse.")?, v.as_slice())))
            .collect();
        if ours.is_empty() {
            return Ok(None);
        }
        let last = |key: &[u8]| ours.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let real_size = match last(b"realsize").or_else(|| last(b"size")) {
            Some(v) => decimal("real size", v)?,
            None => return Err(corrupt("pax sparse file without its real size".into())),
        };
        let name = last(b"name").map(<[u8]>::to_vec);
        if let Some(major) = last(b"major") {
            let minor = last(b"minor").unwrap_or(b"");
            if major != b"1" || minor != b"0" {
                return Err(refuse(
                    ErrorKind::Unsupported,
                    format!(
                        "pax sparse format {}.{} is not supported (0.0, 0.1 and 1.0 are)",
                        String::from_utf8_lossy(major),
                        String::from_utf8_lossy(minor)
                    ),
                ));
            }
            return Ok(Some(PaxSparse {
                name,
                real_size,
                map: None,
            }));
        }
        let mut b = MapBuilder::pax(real_size, stored)?;
        let mut count = 0u64;
        if let Some(list) = last(b"map") {
            // Format 0.1: `offset,size,offset,size,...`.
            let nums: Vec<&[u8]> = if list.is_empty() {
                Vec::new()
            } else {
                list.split(|&c| c == b',').collect()
            };
            if !nums.len().is_multiple_of(2) {
                return Err(corrupt("an odd number of values in GNU.sparse.map".into()));
            }
            for pair in nums.chunks_exact(2) {
                b.add(decimal("offset", pair[0])?, decimal("length", pair[1])?)?;
                count += 1;
            }
        } else {
            // Format 0.0: `offset` and `numbytes` records, one after the other.
            let mut offset = None;
            for (k, v) in &ours {
                match *k {
                    b"offset" if offset.is_none() => offset = Some(decimal("offset", v)?),
                    b"numbytes" if offset.is_some() => {
                        b.add(offset.take().unwrap_or(0), decimal("length", v)?)?;
                        count += 1;
                    }
                    b"offset" | b"numbytes" => {
                        return Err(corrupt(
                            "GNU.sparse.offset and GNU.sparse.numbytes records do not pair up"
                                .into(),
                        ));
                    }
                    _ => {}
                }
            }
            if offset.is_some() {
                return Err(corrupt(
                    "GNU.sparse.offset without its GNU.sparse.numbytes".into(),
                ));
            }
        }
        if let Some(n) = last(b"numblocks")
            && decimal("number of blocks", n)? != count
        {
            return Err(corrupt(format!(
                "GNU.sparse.numblocks says {}, the map has {count} entries",
                String::from_utf8_lossy(n)
            )));
        }
        Ok(Some(PaxSparse {
            name,
            real_size,
            map: Some(b.finish()?),
        }))
    }
}

/// Read the map of a PAX 1.0 sparse file from the start of its data, whose
/// `stored` bytes hold the map (decimal numbers, one per line: the count,
/// then offset and length of each extent; padded to whole blocks) and the
/// extents' data. `block` reads the next 512 bytes of the data. Returns the
/// map and the bytes it took.
pub(crate) fn read_map_in_data(
    real_size: u64,
    stored: u64,
    mut block: impl FnMut(&str) -> io::Result<[u8; 512]>,
) -> io::Result<(SparseMap, u64)> {
    // The longest u64 is 20 digits.
    const MAX_DIGITS: usize = 20;
    let mut nums: Vec<u64> = Vec::new();
    let mut want: Option<u64> = None;
    let mut cur = String::new();
    let mut used = 0u64;
    'blocks: loop {
        if used + 512 > stored {
            return Err(corrupt("the map runs past the data stored".into()));
        }
        let b = block("a sparse map")?;
        used += 512;
        for &c in &b {
            match c {
                b'0'..=b'9' if cur.len() < MAX_DIGITS => cur.push(char::from(c)),
                b'\n' if !cur.is_empty() => {
                    let n: u64 = cur
                        .parse()
                        .map_err(|_| corrupt(format!("bad number {cur:?}")))?;
                    cur.clear();
                    match want {
                        None => {
                            if n > MAX_SPARSE_ENTRIES as u64 {
                                return Err(over_limit(format!(
                                    "sparse map of {n} entries (the limit is {MAX_SPARSE_ENTRIES})"
                                )));
                            }
                            want = Some(2 * n);
                        }
                        Some(_) => nums.push(n),
                    }
                    if want == Some(nums.len() as u64) {
                        break 'blocks;
                    }
                }
                _ => return Err(corrupt("malformed map in the data".into())),
            }
        }
    }
    let mut b = MapBuilder::pax(real_size, stored - used)?;
    for pair in nums.chunks_exact(2) {
        b.add(pair[0], pair[1])?;
    }
    Ok((b.finish()?, used))
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
