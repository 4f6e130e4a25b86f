//! [`DiskCache`]: a `Read + Write + Seek` view of a [`BlockDevice`] for `gptman`
//! and `mbrman`, which read and write tables in many small pieces (one 128-byte
//! GPT entry at a time).
//!
//! Reads fetch aligned chunks (with a little read-ahead) and keep them; writes go
//! only to memory. Nothing reaches the device until [`DiskCache::commit`] writes
//! the changed chunks back, coalesced into one `write_at` per contiguous run. So a
//! call validates and builds the complete new table first, and a refused call
//! leaves the device byte-identical. A device error met inside a `Read`/`Write`
//! call is kept and reported as the source of the crate's error, not flattened
//! into an `io::Error` string.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Seek, SeekFrom, Write};

use vmcraft_block::BlockDevice;

/// Chunks fetched at once on a miss (32 KiB with 4 KiB chunks: the MBR, the primary
/// GPT header and a 128-entry array in one read).
const READ_AHEAD: u64 = 8;

/// A caching, write-back stream over a block device.
pub(crate) struct DiskCache<'a, D: ?Sized> {
    dev: &'a D,
    size: u64,
    chunk: u64,
    chunks: BTreeMap<u64, Vec<u8>>,
    dirty: BTreeSet<u64>,
    pos: u64,
    error: Option<vmcraft_block::Error>,
}

impl<'a, D: BlockDevice + ?Sized> DiskCache<'a, D> {
    /// A cache over `dev`, whose size is `size` bytes and sector size `sector_size`.
    pub fn new(dev: &'a D, size: u64, sector_size: u64) -> Self {
        DiskCache {
            dev,
            size,
            chunk: sector_size.max(4096),
            chunks: BTreeMap::new(),
            dirty: BTreeSet::new(),
            pos: 0,
            error: None,
        }
    }

    /// Device size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    fn chunk_len(&self, index: u64) -> u64 {
        (self.size - index * self.chunk).min(self.chunk)
    }

    /// Make sure chunk `index` is cached, fetching it and a few following uncached
    /// chunks in one read.
    fn load(&mut self, index: u64) -> vmcraft_block::Result<()> {
        if self.chunks.contains_key(&index) {
            return Ok(());
        }
        let last_chunk = (self.size - 1) / self.chunk;
        let mut end = index;
        while end < last_chunk
            && end + 1 - index < READ_AHEAD
            && !self.chunks.contains_key(&(end + 1))
        {
            end += 1;
        }
        let start_byte = index * self.chunk;
        let end_byte = end * self.chunk + self.chunk_len(end);
        let mut buf = vec![0u8; (end_byte - start_byte) as usize];
        self.dev.read_at(&mut buf, start_byte)?;
        for (i, piece) in buf.chunks(self.chunk as usize).enumerate() {
            self.chunks.insert(index + i as u64, piece.to_vec());
        }
        Ok(())
    }

    /// Copy `buf.len()` bytes at `offset` into `buf`; the range must lie inside the
    /// device.
    pub fn read_exact_at(&mut self, buf: &mut [u8], offset: u64) -> vmcraft_block::Result<()> {
        self.check(offset, buf.len() as u64)?;
        let mut done = 0usize;
        while done < buf.len() {
            let at = offset + done as u64;
            let index = at / self.chunk;
            self.load(index)?;
            let data = &self.chunks[&index];
            let within = (at - index * self.chunk) as usize;
            let n = (data.len() - within).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&data[within..within + n]);
            done += n;
        }
        Ok(())
    }

    /// Read `len` bytes at `offset`.
    pub fn read_vec(&mut self, offset: u64, len: usize) -> vmcraft_block::Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }

    /// Put `buf` at `offset` in memory; the range must lie inside the device.
    pub fn write_all_at(&mut self, buf: &[u8], offset: u64) -> vmcraft_block::Result<()> {
        self.check(offset, buf.len() as u64)?;
        let mut done = 0usize;
        while done < buf.len() {
            let at = offset + done as u64;
            let index = at / self.chunk;
            self.load(index)?;
            let within = (at - index * self.chunk) as usize;
            let data = self.chunks.get_mut(&index).expect("chunk just loaded");
            let n = (data.len() - within).min(buf.len() - done);
            if data[within..within + n] != buf[done..done + n] {
                data[within..within + n].copy_from_slice(&buf[done..done + n]);
                self.dirty.insert(index);
            }
            done += n;
        }
        Ok(())
    }

    fn check(&self, offset: u64, len: u64) -> vmcraft_block::Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(vmcraft_block::Error::invalid(
                "read",
                self.dev.name(),
                format!(
                    "{len} bytes at offset {offset} run past the end of the device (size {})",
                    self.size
                ),
            )),
        }
    }

    /// Whether anything differs from what the device holds.
    #[cfg(test)]
    pub fn is_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// What the device holds now where [`commit`](Self::commit) would write:
    /// (offset, bytes) per changed chunk, to put back if what follows the
    /// commit fails.
    pub fn originals(&self) -> vmcraft_block::Result<Vec<(u64, Vec<u8>)>> {
        self.dirty
            .iter()
            .map(|&index| {
                let mut buf = vec![0u8; self.chunk_len(index) as usize];
                self.dev.read_at(&mut buf, index * self.chunk)?;
                Ok((index * self.chunk, buf))
            })
            .collect()
    }

    /// Write every changed chunk back, one `write_at` per contiguous run.
    pub fn commit(&mut self) -> vmcraft_block::Result<()> {
        let dirty: Vec<u64> = std::mem::take(&mut self.dirty).into_iter().collect();
        let mut i = 0;
        while i < dirty.len() {
            let mut j = i;
            while j + 1 < dirty.len() && dirty[j + 1] == dirty[j] + 1 {
                j += 1;
            }
            let mut run = Vec::new();
            for index in &dirty[i..=j] {
                run.extend_from_slice(&self.chunks[index]);
            }
            self.dev.write_at(&run, dirty[i] * self.chunk)?;
            i = j + 1;
        }
        Ok(())
    }

    /// The first device error met inside a `Read`/`Write`/`Seek` call, if any.
    pub fn take_error(&mut self) -> Option<vmcraft_block::Error> {
        self.error.take()
    }

    fn stash(&mut self, e: vmcraft_block::Error) -> io::Error {
        let msg = e.to_string();
        if self.error.is_none() {
            self.error = Some(e);
        }
        io::Error::other(msg)
    }
}

impl<D: BlockDevice + ?Sized> Read for DiskCache<'_, D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (self.size.saturating_sub(self.pos)).min(buf.len() as u64) as usize;
        if n == 0 {
            return Ok(0);
        }
        let pos = self.pos;
        self.read_exact_at(&mut buf[..n], pos)
            .map_err(|e| self.stash(e))?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<D: BlockDevice + ?Sized> Write for DiskCache<'_, D> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let pos = self.pos;
        self.write_all_at(buf, pos).map_err(|e| self.stash(e))?;
        self.pos += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<D: BlockDevice + ?Sized> Seek for DiskCache<'_, D> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let new = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match new {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the device",
            )),
        }
    }
}

/// A read-only view of a [`DiskCache`] in which one sector reads as zeros: how
/// `gptman` is steered to the backup GPT when the primary header failed this
/// crate's (stricter) checks.
pub(crate) struct Masked<'c, 'a, D: ?Sized> {
    pub cache: &'c mut DiskCache<'a, D>,
    pub hide: std::ops::Range<u64>,
}

impl<D: BlockDevice + ?Sized> Read for Masked<'_, '_, D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let start = self.cache.pos;
        let n = self.cache.read(buf)?;
        for (i, b) in buf[..n].iter_mut().enumerate() {
            if self.hide.contains(&(start + i as u64)) {
                *b = 0;
            }
        }
        Ok(n)
    }
}

impl<D: BlockDevice + ?Sized> Seek for Masked<'_, '_, D> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.cache.seek(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmcraft_block::MemoryDisk;

    #[test]
    fn reads_and_writes_are_cached_until_commit() {
        let disk = MemoryDisk::new(100 * 1024 + 512);
        disk.write_at(&[7u8; 10], 5000).unwrap();
        let mut c = DiskCache::new(&disk, disk.size().unwrap(), 512);
        assert_eq!(c.read_vec(4998, 14).unwrap()[2..12], [7u8; 10]);
        c.write_all_at(&[1, 2, 3], 4095).unwrap();
        c.write_all_at(&[9; 600], 100 * 1024 - 88).unwrap();
        assert!(c.is_dirty());
        // Not on the device yet.
        let mut back = [0u8; 3];
        disk.read_at(&mut back, 4095).unwrap();
        assert_eq!(back, [0, 0, 0]);
        assert_eq!(c.read_vec(4095, 3).unwrap(), vec![1, 2, 3]);
        c.commit().unwrap();
        assert!(!c.is_dirty());
        disk.read_at(&mut back, 4095).unwrap();
        assert_eq!(back, [1, 2, 3]);
        let mut tail = [0u8; 600];
        disk.read_at(&mut tail, 100 * 1024 - 88).unwrap();
        assert_eq!(tail, [9; 600]);
    }

    #[test]
    fn rewriting_identical_bytes_dirties_nothing() {
        let disk = MemoryDisk::new(1 << 16);
        let mut c = DiskCache::new(&disk, 1 << 16, 512);
        c.write_all_at(&[0; 100], 0).unwrap();
        assert!(!c.is_dirty());
    }

    #[test]
    fn out_of_range_is_refused() {
        let disk = MemoryDisk::new(8192);
        let mut c = DiskCache::new(&disk, 8192, 512);
        assert!(c.read_vec(8190, 4).is_err());
        assert!(c.write_all_at(&[1; 4], 8190).is_err());
        assert!(c.read_vec(u64::MAX, 4).is_err());
        // Stream reads stop at the end.
        c.seek(SeekFrom::Start(8190)).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(c.read(&mut buf).unwrap(), 2);
        assert_eq!(c.read(&mut buf).unwrap(), 0);
        assert!(c.write(&[1; 4]).is_err());
        assert!(c.take_error().is_some());
        assert!(c.seek(SeekFrom::Current(-10_000)).is_err());
    }

    #[test]
    fn masked_view_hides_a_range() {
        let disk = MemoryDisk::new(8192);
        disk.write_at(&[5; 1024], 0).unwrap();
        let mut c = DiskCache::new(&disk, 8192, 512);
        let mut m = Masked {
            cache: &mut c,
            hide: 512..1024,
        };
        m.seek(SeekFrom::Start(500)).unwrap();
        let mut buf = [0u8; 30];
        m.read_exact(&mut buf).unwrap();
        assert_eq!(&buf[..12], &[5; 12]);
        assert_eq!(&buf[12..], &[0; 18]);
    }

    #[test]
    fn device_errors_are_kept() {
        let disk = MemoryDisk::new(8192).read_only();
        let mut c = DiskCache::new(&disk, 8192, 512);
        c.write_all_at(&[1], 0).unwrap();
        let e = c.commit().unwrap_err();
        assert_eq!(e.kind(), vmcraft_block::ErrorKind::ReadOnly);
    }
}
