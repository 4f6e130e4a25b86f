//! The installed packages of an rpm guest, read from its rpmdb in-process,
//! without librpm and without running anything of the guest's.
//!
//! Newer guests (Fedora 33 and later, RHEL 9, rpm 4.16 and later) keep the
//! rpmdb in SQLite: `rpmdb.sqlite`, whose table `Packages` holds one rpm header
//! blob per package. The SQLite file is walked here directly: the schema table
//! on page 1 names the table's root page, its b-tree is walked to the leaves,
//! payloads that spill are gathered from their overflow chains, and each
//! record's blob column is an rpm header (the on-disk header without its lead:
//! the entry count, the data length, the index entries and the data store).
//! A write-ahead log not yet checkpointed into the database is not read.
//!
//! Older guests (RHEL and CentOS 7 and 8, SLES 12, Amazon Linux 2) keep it in a
//! Berkeley DB hash file, `Packages`: its hash pages hold (record number, rpm
//! header) pairs, large headers on chains of overflow pages. SUSE's guests (SLES
//! 15 SP3 and later) keep it in rpm's ndb format, `Packages.db`: slot pages
//! naming blobs.
//!
//! What libguestfs reports per package (through librpm's `headerFormat`): name,
//! version, release, arch, URL, summary and description, `(none)` for a string
//! tag the header lacks, and the epoch (0 when absent).
//!
//! Everything is bounded: page size and count from the header are checked
//! against the file, the tree depth and the pages visited are capped, a payload
//! may not exceed [`MAX_HEADER`], a header's entry count and data length are
//! checked against its blob, and every offset is checked before use.

use super::apps::{Application2, MAX_PACKAGES};
use super::fsread::{InspectFs, RandomRead};

/// rpm's own limit on a header's data (`HEADER_DATA_MAX`, 256 MiB) is more than
/// any real package needs; a header is refused past this.
pub const MAX_HEADER: usize = 64 << 20;
/// rpm's limit on a header's entries.
const MAX_ENTRIES: usize = 0xffff;
/// B-tree depth cap (SQLite trees of a few million rows are 4 or 5 deep).
const MAX_DEPTH: usize = 32;

/// Why a database could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmdbError(pub String);

impl std::fmt::Display for RpmdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, RpmdbError> {
    Err(RpmdbError(msg.into()))
}

/// A big-endian integer of `N` bytes at `off`.
fn be(b: &[u8], off: usize, n: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(n)?)?;
    Some(s.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
}

/// A SQLite varint at `off`: (value, bytes used).
fn varint(b: &[u8], off: usize) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for i in 0..9 {
        let x = *b.get(off + i)?;
        if i == 8 {
            return Some(((v << 8) | u64::from(x), 9));
        }
        v = (v << 7) | u64::from(x & 0x7f);
        if x & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// A SQLite database file, read page by page.
struct Sqlite<'a> {
    file: &'a dyn RandomRead,
    page_size: usize,
    usable: usize,
    pages: u64,
    /// Pages read so far (a cycle or a hostile tree cannot make this loop).
    visited: std::cell::Cell<u64>,
}

/// A column value of a record.
#[derive(Debug)]
enum Col<'a> {
    Null,
    Int(i64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
    Other,
}

impl<'a> Sqlite<'a> {
    fn open(file: &'a dyn RandomRead) -> Result<Self, RpmdbError> {
        let mut h = [0u8; 100];
        file.read_exact_at(&mut h, 0)
            .ok_or_else(|| RpmdbError("too short for a SQLite database".into()))?;
        if &h[..16] != b"SQLite format 3\0" {
            return err("not a SQLite database");
        }
        let page_size = match be(&h, 16, 2).unwrap_or(0) {
            1 => 65536,
            n if (512..=32768).contains(&n) && n.is_power_of_two() => n as usize,
            n => return err(format!("bad page size {n}")),
        };
        let reserved = usize::from(h[20]);
        let usable = page_size - reserved;
        if usable < 480 {
            return err("bad reserved space");
        }
        if be(&h, 56, 4) != Some(1) && be(&h, 56, 4) != Some(0) {
            return err("not UTF-8");
        }
        let pages = file.size() / page_size as u64;
        Ok(Sqlite {
            file,
            page_size,
            usable,
            pages,
            visited: std::cell::Cell::new(0),
        })
    }

    fn page(&self, n: u64) -> Result<Vec<u8>, RpmdbError> {
        if n == 0 || n > self.pages {
            return err(format!("page {n} out of range"));
        }
        let v = self.visited.get() + 1;
        if v > self.pages.saturating_mul(2) + 16 {
            return err("page references loop");
        }
        self.visited.set(v);
        let mut buf = vec![0u8; self.page_size];
        self.file
            .read_exact_at(&mut buf, (n - 1) * self.page_size as u64)
            .ok_or_else(|| RpmdbError(format!("cannot read page {n}")))?;
        Ok(buf)
    }

    /// The payload of the cell at `off` of a table leaf `page`.
    fn leaf_payload(&self, page: &[u8], off: usize) -> Result<Vec<u8>, RpmdbError> {
        let bad = || RpmdbError("bad cell".into());
        let (size, n1) = varint(page, off).ok_or_else(bad)?;
        let (_rowid, n2) = varint(page, off + n1).ok_or_else(bad)?;
        let size = usize::try_from(size).map_err(|_| bad())?;
        if size > MAX_HEADER + 1024 {
            return err(format!("record of {size} bytes"));
        }
        let start = off + n1 + n2;
        let u = self.usable;
        let x = u - 35;
        let local = if size <= x {
            size
        } else {
            let m = ((u - 12) * 32 / 255) - 23;
            let k = m + ((size - m) % (u - 4));
            if k <= x { k } else { m }
        };
        let mut out = Vec::with_capacity(size.min(1 << 20));
        out.extend_from_slice(page.get(start..start + local).ok_or_else(bad)?);
        let mut next = if local < size {
            be(page, start + local, 4).ok_or_else(bad)?
        } else {
            0
        };
        while out.len() < size {
            if next == 0 {
                return err("overflow chain ends early");
            }
            let p = self.page(next)?;
            next = be(&p, 0, 4).ok_or_else(bad)?;
            let take = (size - out.len()).min(u - 4);
            out.extend_from_slice(p.get(4..4 + take).ok_or_else(bad)?);
        }
        Ok(out)
    }

    /// Every record of the table whose b-tree starts at `root`, to `f` (which
    /// says whether to go on).
    fn walk(
        &self,
        root: u64,
        depth: usize,
        f: &mut dyn FnMut(Vec<u8>) -> bool,
    ) -> Result<bool, RpmdbError> {
        if depth > MAX_DEPTH {
            return err("b-tree too deep");
        }
        let page = self.page(root)?;
        let hdr = if root == 1 { 100 } else { 0 };
        let kind = *page
            .get(hdr)
            .ok_or_else(|| RpmdbError("empty page".into()))?;
        let cells = be(&page, hdr + 3, 2).unwrap_or(0) as usize;
        let (ptrs, interior) = match kind {
            0x0d => (hdr + 8, false),
            0x05 => (hdr + 12, true),
            k => return err(format!("page {root}: not a table b-tree page (type {k})")),
        };
        for i in 0..cells {
            let off = be(&page, ptrs + 2 * i, 2)
                .ok_or_else(|| RpmdbError("bad cell pointer".into()))?
                as usize;
            if interior {
                let child = be(&page, off, 4).ok_or_else(|| RpmdbError("bad child".into()))?;
                if !self.walk(child, depth + 1, f)? {
                    return Ok(false);
                }
            } else if !f(self.leaf_payload(&page, off)?) {
                return Ok(false);
            }
        }
        if interior {
            let right =
                be(&page, hdr + 8, 4).ok_or_else(|| RpmdbError("bad right pointer".into()))?;
            return self.walk(right, depth + 1, f);
        }
        Ok(true)
    }
}

/// The columns of a record.
fn record(rec: &[u8]) -> Option<Vec<Col<'_>>> {
    let (hlen, n) = varint(rec, 0)?;
    let hlen = usize::try_from(hlen).ok()?;
    if hlen > rec.len() {
        return None;
    }
    let mut types = Vec::new();
    let mut p = n;
    while p < hlen {
        let (t, n) = varint(rec, p)?;
        types.push(t);
        p += n;
        if types.len() > 64 {
            return None;
        }
    }
    let mut body = hlen;
    let mut cols = Vec::new();
    for t in types {
        let (len, col): (usize, fn(&[u8]) -> Col<'_>) = match t {
            0 => (0, |_| Col::Null),
            1..=6 => {
                let len = [0, 1, 2, 3, 4, 6, 8][t as usize];
                (len, |b| {
                    let v = b.iter().fold(0i64, |a, &x| (a << 8) | i64::from(x));
                    let shift = 64 - 8 * b.len() as u32;
                    Col::Int((v << shift) >> shift)
                })
            }
            7 => (8, |_| Col::Other),
            8 => (0, |_| Col::Int(0)),
            9 => (0, |_| Col::Int(1)),
            n if n >= 12 && n % 2 == 0 => (usize::try_from((n - 12) / 2).ok()?, |b| Col::Blob(b)),
            n if n >= 13 => (usize::try_from((n - 13) / 2).ok()?, |b| Col::Text(b)),
            _ => return None,
        };
        let v = rec.get(body..body.checked_add(len)?)?;
        cols.push(col(v));
        body += len;
    }
    Some(cols)
}

/// The root page of table `name`, from the schema table.
fn table_root(db: &Sqlite<'_>, name: &str) -> Result<u64, RpmdbError> {
    let mut root = None;
    db.walk(1, 0, &mut |rec| {
        if let Some(cols) = record(&rec)
            && let [Col::Text(b"table"), Col::Text(n), _, Col::Int(r), ..] = cols.as_slice()
            && *n == name.as_bytes()
        {
            root = Some(*r as u64);
            return false;
        }
        true
    })?;
    root.ok_or_else(|| RpmdbError(format!("no table {name}")))
}

/// Every header blob of an rpmdb.sqlite.
pub(crate) fn sqlite_headers(
    file: &dyn RandomRead,
    f: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<(), RpmdbError> {
    let db = Sqlite::open(file)?;
    let root = table_root(&db, "Packages")?;
    db.visited.set(0);
    db.walk(root, 0, &mut |rec| match record(&rec) {
        Some(cols) => match cols.iter().find_map(|c| match c {
            Col::Blob(b) => Some(*b),
            _ => None,
        }) {
            Some(blob) => f(blob),
            None => true,
        },
        None => true,
    })?;
    Ok(())
}

/// The packages of an `rpmdb.sqlite` held in memory, in table order (for
/// fuzzing and for callers with the file at hand).
pub fn packages_of_sqlite(db: &[u8]) -> Result<Vec<Application2>, RpmdbError> {
    let file = db.to_vec();
    let mut apps = Vec::new();
    sqlite_headers(&file, &mut |blob| {
        if let Ok(a) = parse_header(blob) {
            apps.push(a);
        }
        apps.len() < MAX_PACKAGES
    })?;
    Ok(apps)
}

/// Berkeley DB hash page types and item types.
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;
const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;
/// The hash access method's magic number.
const HASH_MAGIC: u32 = 0x0006_1561;
/// A page's header (`PAGE`): the item index follows it.
const BDB_PAGE_HEADER: usize = 26;

/// Every header blob of a Berkeley DB hash database (the `Packages` file of
/// rpm before 4.16: RHEL and CentOS 7 and 8, SLES 12, Amazon Linux 2): the
/// data items of every hash page, in page order, overflow items gathered from
/// their page chains; the record numbered 0 (rpm's instance counter) is
/// skipped. Encrypted or checksummed databases are refused.
pub(crate) fn bdb_headers(
    file: &dyn RandomRead,
    f: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<(), RpmdbError> {
    let mut meta = [0u8; 72];
    file.read_exact_at(&mut meta, 0)
        .ok_or_else(|| RpmdbError("too short for a Berkeley DB database".into()))?;
    let le = u32::from_le_bytes(meta[12..16].try_into().unwrap_or_default());
    let big = u32::from_be_bytes(meta[12..16].try_into().unwrap_or_default());
    let little = match (le, big) {
        (HASH_MAGIC, _) => true,
        (_, HASH_MAGIC) => false,
        _ => return err("not a Berkeley DB hash database"),
    };
    let u16_at = |b: &[u8], o: usize| -> Option<usize> {
        let x: [u8; 2] = b.get(o..o + 2)?.try_into().ok()?;
        Some(usize::from(if little {
            u16::from_le_bytes(x)
        } else {
            u16::from_be_bytes(x)
        }))
    };
    let u32_at = |b: &[u8], o: usize| -> Option<u64> {
        let x: [u8; 4] = b.get(o..o + 4)?.try_into().ok()?;
        Some(u64::from(if little {
            u32::from_le_bytes(x)
        } else {
            u32::from_be_bytes(x)
        }))
    };
    let page_size = u32_at(&meta, 20).unwrap_or(0) as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return err(format!("bad page size {page_size}"));
    }
    if meta[24] != 0 || meta[26] != 0 {
        return err("encrypted or checksummed Berkeley DB databases are not read");
    }
    if meta[25] != P_HASHMETA {
        return err("not a hash database");
    }
    let pages = file.size() / page_size as u64;
    let read_page = |n: u64| -> Result<Vec<u8>, RpmdbError> {
        let mut buf = vec![0u8; page_size];
        file.read_exact_at(&mut buf, n * page_size as u64)
            .ok_or_else(|| RpmdbError(format!("cannot read page {n}")))?;
        Ok(buf)
    };
    let bad = |n: u64| RpmdbError(format!("page {n}: bad item"));
    for n in 1..pages {
        let page = read_page(n)?;
        if !matches!(page[25], P_HASH | P_HASH_UNSORTED) {
            continue;
        }
        let entries = u16_at(&page, 20).ok_or_else(|| bad(n))?;
        let mut i = 1;
        while i < entries {
            // Items grow down from the page's end: item k ends where k - 1 starts.
            let start = u16_at(&page, BDB_PAGE_HEADER + 2 * i).ok_or_else(|| bad(n))?;
            let end = u16_at(&page, BDB_PAGE_HEADER + 2 * (i - 1)).ok_or_else(|| bad(n))?;
            let key_start = end;
            let key_end = if i >= 2 {
                u16_at(&page, BDB_PAGE_HEADER + 2 * (i - 2)).ok_or_else(|| bad(n))?
            } else {
                page_size
            };
            i += 2;
            let item = page.get(start..end).ok_or_else(|| bad(n))?;
            let key = page.get(key_start..key_end).ok_or_else(|| bad(n))?;
            if key.first() == Some(&H_KEYDATA) && key[1..].iter().all(|&b| b == 0) {
                continue; // record 0: rpm's instance counter
            }
            let blob = match item.first() {
                Some(&H_KEYDATA) => item[1..].to_vec(),
                Some(&H_OFFPAGE) => {
                    let mut next = u32_at(item, 4).ok_or_else(|| bad(n))?;
                    let total = u32_at(item, 8).ok_or_else(|| bad(n))? as usize;
                    if total > MAX_HEADER {
                        return err(format!("page {n}: record of {total} bytes"));
                    }
                    let mut out = Vec::with_capacity(total.min(1 << 20));
                    let mut hops = 0u64;
                    while out.len() < total {
                        hops += 1;
                        if next == 0 || next >= pages || hops > pages {
                            return err(format!("page {n}: broken overflow chain"));
                        }
                        let p = read_page(next)?;
                        if p[25] != P_OVERFLOW {
                            return err(format!("page {next}: not an overflow page"));
                        }
                        let len = u16_at(&p, 22).ok_or_else(|| bad(next))?;
                        let data = p
                            .get(BDB_PAGE_HEADER..BDB_PAGE_HEADER + len)
                            .ok_or_else(|| bad(next))?;
                        out.extend_from_slice(&data[..data.len().min(total - out.len())]);
                        next = u32_at(&p, 16).ok_or_else(|| bad(next))?;
                    }
                    out
                }
                _ => continue,
            };
            if !f(&blob) {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The packages of a Berkeley DB `Packages` file held in memory, in page
/// order (for fuzzing and for callers with the file at hand).
pub fn packages_of_bdb(db: &[u8]) -> Result<Vec<Application2>, RpmdbError> {
    let file = db.to_vec();
    let mut apps = Vec::new();
    bdb_headers(&file, &mut |blob| {
        if let Ok(a) = parse_header(blob) {
            apps.push(a);
        }
        apps.len() < MAX_PACKAGES
    })?;
    Ok(apps)
}

/// ndb's magic numbers (little-endian `RpmP`, `Slot`, `BlbS`, `BlbE`).
const NDB_MAGIC: u32 = u32::from_le_bytes(*b"RpmP");
const NDB_SLOT_MAGIC: u32 = u32::from_le_bytes(*b"Slot");
const NDB_BLOB_HEAD: u32 = u32::from_le_bytes(*b"BlbS");
const NDB_BLOB_TAIL: u32 = u32::from_le_bytes(*b"BlbE");
/// ndb's slot pages and blocks.
const NDB_PAGE: u64 = 4096;
const NDB_BLOCK: u64 = 16;

/// Every header blob of an ndb database (`Packages.db`, SUSE's rpm backend
/// since SLES 15 SP3): a 32-byte header (magic, version 0, generation, number
/// of slot pages), then slot pages of 16-byte slots (magic, package index,
/// block offset, block count; offset 0 is a free slot), each used slot naming
/// a blob of 16-byte blocks: a head (magic, package index, timestamp, length),
/// the header blob, and a tail (checksum, length, magic). Blobs whose head or
/// tail does not agree with their slot are skipped.
pub(crate) fn ndb_headers(
    file: &dyn RandomRead,
    f: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<(), RpmdbError> {
    let le = |b: &[u8], o: usize| -> u32 {
        u32::from_le_bytes(b[o..o + 4].try_into().unwrap_or_default())
    };
    let mut head = [0u8; 32];
    file.read_exact_at(&mut head, 0)
        .ok_or_else(|| RpmdbError("too short for an ndb database".into()))?;
    if le(&head, 0) != NDB_MAGIC {
        return err("not an ndb database");
    }
    if le(&head, 4) != 0 {
        return err(format!("ndb version {} is not known", le(&head, 4)));
    }
    let size = file.size();
    let slot_pages = u64::from(le(&head, 12));
    if slot_pages == 0 || slot_pages * NDB_PAGE > size {
        return err(format!("bad slot page count {slot_pages}"));
    }
    let file_blocks = size / NDB_BLOCK;
    let first_blob_block = slot_pages * NDB_PAGE / NDB_BLOCK;
    let mut page = vec![0u8; NDB_PAGE as usize];
    for p in 0..slot_pages {
        file.read_exact_at(&mut page, p * NDB_PAGE)
            .ok_or_else(|| RpmdbError(format!("cannot read slot page {p}")))?;
        let start = if p == 0 { 32 } else { 0 };
        for o in (start..NDB_PAGE as usize).step_by(16) {
            if le(&page, o) != NDB_SLOT_MAGIC {
                return err(format!("slot page {p}: bad slot at {o}"));
            }
            let (idx, blkoff, blkcnt) = (
                le(&page, o + 4),
                u64::from(le(&page, o + 8)),
                u64::from(le(&page, o + 12)),
            );
            if blkoff == 0 {
                continue;
            }
            if idx == 0 || blkcnt < 2 || blkoff < first_blob_block || blkoff + blkcnt > file_blocks
            {
                tracing::info!(idx, blkoff, blkcnt, "ndb: bad slot skipped");
                continue;
            }
            let region = blkcnt * NDB_BLOCK;
            let mut bh = [0u8; 16];
            file.read_exact_at(&mut bh, blkoff * NDB_BLOCK)
                .ok_or_else(|| RpmdbError("cannot read a blob".into()))?;
            let len = u64::from(le(&bh, 12));
            if le(&bh, 0) != NDB_BLOB_HEAD
                || le(&bh, 4) != idx
                || len + 28 > region
                || len as usize > MAX_HEADER
            {
                tracing::info!(idx, "ndb: bad blob head skipped");
                continue;
            }
            let mut tail = [0u8; 12];
            file.read_exact_at(&mut tail, (blkoff + blkcnt) * NDB_BLOCK - 12)
                .ok_or_else(|| RpmdbError("cannot read a blob".into()))?;
            if le(&tail, 8) != NDB_BLOB_TAIL || u64::from(le(&tail, 4)) != len {
                tracing::info!(idx, "ndb: bad blob tail skipped");
                continue;
            }
            let mut blob = vec![0u8; len as usize];
            file.read_exact_at(&mut blob, blkoff * NDB_BLOCK + 16)
                .ok_or_else(|| RpmdbError("cannot read a blob".into()))?;
            if !f(&blob) {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The packages of an ndb `Packages.db` held in memory, in slot order (for
/// fuzzing and for callers with the file at hand).
pub fn packages_of_ndb(db: &[u8]) -> Result<Vec<Application2>, RpmdbError> {
    let file = db.to_vec();
    let mut apps = Vec::new();
    ndb_headers(&file, &mut |blob| {
        if let Ok(a) = parse_header(blob) {
            apps.push(a);
        }
        apps.len() < MAX_PACKAGES
    })?;
    Ok(apps)
}

/// rpm tag numbers.
const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_SUMMARY: u32 = 1004;
const TAG_DESCRIPTION: u32 = 1005;
const TAG_URL: u32 = 1020;
const TAG_ARCH: u32 = 1022;

/// rpm data types.
const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// The package an rpm header blob describes (`il`, `dl`, `il` index entries
/// of tag/type/offset/count, `dl` bytes of data, all big-endian).
pub fn parse_header(blob: &[u8]) -> Result<Application2, RpmdbError> {
    let il = be(blob, 0, 4).ok_or_else(|| RpmdbError("header too short".into()))? as usize;
    let dl = be(blob, 4, 4).ok_or_else(|| RpmdbError("header too short".into()))? as usize;
    if il == 0 || il > MAX_ENTRIES || dl > MAX_HEADER {
        return err(format!("bad header sizes (entries {il}, data {dl})"));
    }
    let data_start = 8 + il * 16;
    let data = blob
        .get(data_start..data_start + dl)
        .ok_or_else(|| RpmdbError("header shorter than its sizes".into()))?;
    let entry = |tag: u32| -> Option<(u32, usize, usize)> {
        (0..il).find_map(|i| {
            let e = 8 + i * 16;
            (be(blob, e, 4)? == u64::from(tag)).then(|| {
                Some((
                    be(blob, e + 4, 4)? as u32,
                    be(blob, e + 8, 4)? as usize,
                    be(blob, e + 12, 4)? as usize,
                ))
            })?
        })
    };
    let string = |tag: u32| -> String {
        let Some((ty, off, _count)) = entry(tag) else {
            return "(none)".into();
        };
        if !matches!(ty, TYPE_STRING | TYPE_I18NSTRING | TYPE_STRING_ARRAY) {
            return "(none)".into();
        }
        let Some(rest) = data.get(off..) else {
            return "(none)".into();
        };
        let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
        super::apps::field(&String::from_utf8_lossy(&rest[..end]))
    };
    let epoch =
        match entry(TAG_EPOCH) {
            Some((TYPE_INT32, off, count)) if count >= 1 => be(data, off, 4)
                .map(|v| v as u32 as i32)
                .ok_or_else(|| RpmdbError("epoch out of the data".into()))?,
            _ => 0,
        };
    let name = string(TAG_NAME);
    if entry(TAG_NAME).is_none() {
        return err("header without a name");
    }
    Ok(Application2 {
        app2_name: name,
        app2_epoch: epoch,
        app2_version: string(TAG_VERSION),
        app2_release: string(TAG_RELEASE),
        app2_arch: string(TAG_ARCH),
        app2_url: string(TAG_URL),
        app2_summary: string(TAG_SUMMARY),
        app2_description: string(TAG_DESCRIPTION),
        ..Default::default()
    })
}

/// Where rpm keeps its database, newest layout first, and how it is read.
const DB_PATHS: [(&str, Kind); 6] = [
    ("/usr/lib/sysimage/rpm/rpmdb.sqlite", Kind::Sqlite),
    ("/var/lib/rpm/rpmdb.sqlite", Kind::Sqlite),
    ("/usr/lib/sysimage/rpm/Packages.db", Kind::Ndb),
    ("/var/lib/rpm/Packages.db", Kind::Ndb),
    ("/usr/lib/sysimage/rpm/Packages", Kind::Bdb),
    ("/var/lib/rpm/Packages", Kind::Bdb),
];

/// The database formats read here.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Sqlite,
    Bdb,
    Ndb,
}

/// The packages of the rpm guest `fs` shows, sorted by name; an error when no
/// database this reader knows is there or it cannot be read.
pub(crate) fn list(fs: &dyn InspectFs) -> Result<Vec<Application2>, RpmdbError> {
    for (path, kind) in DB_PATHS {
        if !fs.is_file(path, true) {
            continue;
        }
        let file = fs
            .open_random(path)
            .ok_or_else(|| RpmdbError(format!("{path}: cannot open")))?;
        let mut apps = Vec::new();
        let mut bad = 0usize;
        let mut each = |blob: &[u8]| {
            match parse_header(blob) {
                Ok(a) => apps.push(a),
                Err(e) => {
                    bad += 1;
                    tracing::info!(error = %e, "rpmdb: header skipped");
                }
            }
            apps.len() < MAX_PACKAGES
        };
        match kind {
            Kind::Sqlite => sqlite_headers(&*file, &mut each),
            Kind::Bdb => bdb_headers(&*file, &mut each),
            Kind::Ndb => ndb_headers(&*file, &mut each),
        }
        .map_err(|e| RpmdbError(format!("{path}: {e}")))?;
        if bad > 0 {
            tracing::warn!(
                path,
                bad,
                "rpmdb: headers that could not be read were skipped"
            );
        }
        apps.sort_by(|a, b| a.app2_name.cmp(&b.app2_name));
        return Ok(apps);
    }
    err("no rpm database (rpmdb.sqlite, Packages, Packages.db)")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header blob with these (tag, type, value bytes) entries.
    pub(crate) fn header(entries: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, ty, val) in entries {
            if *ty == TYPE_INT32 {
                while data.len() % 4 != 0 {
                    data.push(0);
                }
            }
            index.extend_from_slice(&tag.to_be_bytes());
            index.extend_from_slice(&ty.to_be_bytes());
            index.extend_from_slice(&(data.len() as u32).to_be_bytes());
            index.extend_from_slice(&1u32.to_be_bytes());
            data.extend_from_slice(val);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend(index);
        out.extend(data);
        out
    }

    #[test]
    fn headers() {
        let h = header(&[
            (TAG_NAME, TYPE_STRING, b"bash\0"),
            (TAG_VERSION, TYPE_STRING, b"5.2.15\0"),
            (TAG_RELEASE, TYPE_STRING, b"3.fc38\0"),
            (TAG_EPOCH, TYPE_INT32, &7u32.to_be_bytes()),
            (
                TAG_SUMMARY,
                TYPE_I18NSTRING,
                b"The GNU Bourne Again shell\0",
            ),
            (TAG_ARCH, TYPE_STRING, b"x86_64\0"),
        ]);
        let a = parse_header(&h).unwrap();
        assert_eq!(
            (
                a.app2_name.as_str(),
                a.app2_epoch,
                a.app2_version.as_str(),
                a.app2_release.as_str()
            ),
            ("bash", 7, "5.2.15", "3.fc38")
        );
        assert_eq!(a.app2_summary, "The GNU Bourne Again shell");
        assert_eq!(
            a.app2_url, "(none)",
            "librpm's headerFormat for a missing tag"
        );
        assert_eq!(a.app2_description, "(none)");
    }

    /// A many-level b-tree with overflowing payloads, made by the sqlite3 tool
    /// with rpm's schema: every row comes back, in order.
    #[test]
    fn deep_sqlite_trees_made_by_sqlite3() {
        if !vmcraft_block::testing::require_tool("sqlite3") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("rpmdb.sqlite");
        let mut sql = String::from(
            "PRAGMA page_size=1024;\nCREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);\nBEGIN;\n",
        );
        let n = 1500;
        for i in 0..n {
            let name = format!("pkg{i:05}\0");
            let desc = format!("{}\0", "d".repeat(i % 3000));
            let h = header(&[
                (TAG_NAME, TYPE_STRING, name.as_bytes()),
                (TAG_EPOCH, TYPE_INT32, &(i as u32).to_be_bytes()),
                (TAG_DESCRIPTION, TYPE_I18NSTRING, desc.as_bytes()),
            ]);
            let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
            sql.push_str(&format!("INSERT INTO Packages (blob) VALUES (X'{hex}');\n"));
        }
        sql.push_str("COMMIT;\n");
        let mut child = std::process::Command::new("sqlite3")
            .arg(&db)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), sql.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success());
        let bytes = std::fs::read(&db).unwrap();
        let apps = packages_of_sqlite(&bytes).unwrap();
        assert_eq!(apps.len(), n);
        for (i, a) in apps.iter().enumerate() {
            assert_eq!(a.app2_name, format!("pkg{i:05}"));
            assert_eq!(a.app2_epoch, i as i32);
            assert_eq!(a.app2_description.len(), i % 3000);
        }
        // Cut anywhere, the reader fails or stops; it never panics or loops.
        for cut in [100, 1024, 5000, bytes.len() / 2, bytes.len() - 1] {
            let _ = packages_of_sqlite(&bytes[..cut]);
        }
        let mut scrambled = bytes.clone();
        for i in (1024..scrambled.len()).step_by(97) {
            scrambled[i] ^= 0x5a;
        }
        let _ = packages_of_sqlite(&scrambled);
    }

    /// A Berkeley DB hash database as rpm before 4.16 kept `Packages`, written
    /// by Berkeley DB itself (db_load): small and overflowing records, rpm's
    /// record 0, every header back.
    #[test]
    fn berkeley_db_packages_made_by_db_load() {
        let Some(tool) = ["db5.3_load", "db_load"].into_iter().find(|t| {
            std::process::Command::new(t)
                .arg("-V")
                .output()
                .is_ok_and(|o| o.status.success())
        }) else {
            assert!(
                !vmcraft_block::testing::strict(),
                "db_load (db5.3-util) is missing under VMCRAFT_TEST_STRICT"
            );
            eprintln!("skipping: db_load (db5.3-util) is not installed");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("Packages");
        let hex = |b: &[u8]| -> String { b.iter().map(|x| format!("{x:02x}")).collect() };
        let mut dump =
            String::from("VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=4096\nHEADER=END\n");
        dump.push_str(&format!(
            " {}\n {}\n",
            hex(&0u32.to_le_bytes()),
            hex(&301u32.to_le_bytes())
        ));
        let n = 300usize;
        for i in 1..=n {
            let name = format!("pkg{i:04}\0");
            let desc = format!("{}\0", "d".repeat((i * 37) % 9000));
            let h = header(&[
                (TAG_NAME, TYPE_STRING, name.as_bytes()),
                (TAG_EPOCH, TYPE_INT32, &(i as u32).to_be_bytes()),
                (TAG_DESCRIPTION, TYPE_I18NSTRING, desc.as_bytes()),
            ]);
            dump.push_str(&format!(
                " {}\n {}\n",
                hex(&(i as u32).to_le_bytes()),
                hex(&h)
            ));
        }
        dump.push_str("DATA=END\n");
        let mut child = std::process::Command::new(tool)
            .arg(&db)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), dump.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success());
        let bytes = std::fs::read(&db).unwrap();
        let mut apps = packages_of_bdb(&bytes).unwrap();
        apps.sort_by(|a, b| a.app2_name.cmp(&b.app2_name));
        assert_eq!(apps.len(), n);
        for (i, a) in apps.iter().enumerate() {
            let i = i + 1;
            assert_eq!(a.app2_name, format!("pkg{i:04}"));
            assert_eq!(a.app2_epoch, i as i32);
            assert_eq!(a.app2_description.len(), (i * 37) % 9000);
        }
        for cut in [10, 100, 4096, 5000, bytes.len() / 2, bytes.len() - 1] {
            let _ = packages_of_bdb(&bytes[..cut]);
        }
        let mut scrambled = bytes.clone();
        for i in (4096..scrambled.len()).step_by(89) {
            scrambled[i] ^= 0xa5;
        }
        let _ = packages_of_bdb(&scrambled);
        assert!(packages_of_bdb(b"not a database at all, not at all").is_err());
    }

    /// An ndb file laid out as rpm's ndb backend writes it (Debian's rpm has no
    /// ndb to make one): packages, a free slot, and a blob whose tail is broken
    /// (skipped).
    fn ndb_file(blobs: &[(u32, Vec<u8>, bool)]) -> Vec<u8> {
        let mut f = vec![0u8; 4096];
        f[0..4].copy_from_slice(b"RpmP");
        f[12..16].copy_from_slice(&1u32.to_le_bytes());
        for o in (32..4096).step_by(16) {
            f[o..o + 4].copy_from_slice(b"Slot");
        }
        for (i, (idx, blob, good_tail)) in blobs.iter().enumerate() {
            let blkoff = (f.len() / 16) as u32;
            let len = blob.len();
            let blocks = (16 + len + 12).div_ceil(16);
            let mut region = vec![0u8; blocks * 16];
            region[0..4].copy_from_slice(b"BlbS");
            region[4..8].copy_from_slice(&idx.to_le_bytes());
            region[12..16].copy_from_slice(&(len as u32).to_le_bytes());
            region[16..16 + len].copy_from_slice(blob);
            let t = region.len() - 12;
            region[t + 4..t + 8].copy_from_slice(&(len as u32).to_le_bytes());
            region[t + 8..t + 12].copy_from_slice(if *good_tail { b"BlbE" } else { b"Blb?" });
            f.extend(region);
            let o = 32 + 16 * (i + 1); // the page's first slot stays free
            f[o + 4..o + 8].copy_from_slice(&idx.to_le_bytes());
            f[o + 8..o + 12].copy_from_slice(&blkoff.to_le_bytes());
            f[o + 12..o + 16].copy_from_slice(&(blocks as u32).to_le_bytes());
        }
        f
    }

    #[test]
    fn ndb_databases() {
        let h = |name: &[u8]| {
            header(&[
                (TAG_NAME, TYPE_STRING, name),
                (TAG_VERSION, TYPE_STRING, b"1\0"),
            ])
        };
        let db = ndb_file(&[
            (1, h(b"zypper\0"), true),
            (2, h(b"broken\0"), false),
            (3, h(b"aaa_base\0"), true),
        ]);
        let apps = packages_of_ndb(&db).unwrap();
        let names: Vec<&str> = apps.iter().map(|a| a.app2_name.as_str()).collect();
        assert_eq!(names, ["zypper", "aaa_base"]);
        for cut in [0, 16, 4095, 4096, 4200, db.len() - 1] {
            let _ = packages_of_ndb(&db[..cut]);
        }
        for n in (0..db.len()).step_by(7) {
            let mut m = db.clone();
            m[n] ^= 0xff;
            let _ = packages_of_ndb(&m);
        }
        let mut huge = db.clone();
        huge[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(packages_of_ndb(&huge).is_err());
    }

    #[test]
    fn hostile_headers_and_databases() {
        let good = header(&[
            (TAG_NAME, TYPE_STRING, b"x\0"),
            (TAG_EPOCH, TYPE_INT32, &[0, 0, 0, 1]),
        ]);
        // Every truncation and every single-byte change: an error or a value,
        // never a panic.
        for n in 0..good.len() {
            let _ = parse_header(&good[..n]);
            for v in [0u8, 0x7f, 0xff] {
                let mut m = good.clone();
                m[n] = v;
                let _ = parse_header(&m);
            }
        }
        assert!(parse_header(&[0xff; 8]).is_err());
        assert!(
            parse_header(&header(&[(TAG_VERSION, TYPE_STRING, b"1\0")])).is_err(),
            "no name"
        );
        // Not SQLite, truncated SQLite, garbage pages.
        let mut junk = b"SQLite format 3\0".to_vec();
        junk.resize(4096, 0xff);
        for db in [Vec::new(), b"hello".to_vec(), junk] {
            assert!(sqlite_headers(&db, &mut |_| true).is_err());
        }
        assert_eq!(varint(&[0x81, 0x00], 0), Some((128, 2)));
        assert_eq!(varint(&[0xff; 9], 0).map(|v| v.1), Some(9));
        assert_eq!(varint(&[0x80], 0), None);
        assert!(record(&[5, 1, 1]).is_none());
    }
}
