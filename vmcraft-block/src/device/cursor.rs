//! [`DeviceIo`]: a `Read + Write + Seek` view of a [`BlockDevice`], for libraries
//! (gptman, mbrman) that read and write tables through streams.

use std::io::{self, Read, Seek, SeekFrom, Write};

use super::BlockDevice;

/// A stream over a block device with its own position. Reads stop at the end of the
/// device; writes past the end fail.
///
/// ```
/// use std::io::{Read, Seek, SeekFrom, Write};
/// use vmcraft_block::{DeviceIo, MemoryDisk};
/// let disk = MemoryDisk::new(4096);
/// let mut io = DeviceIo::new(&disk);
/// io.seek(SeekFrom::Start(510))?;
/// io.write_all(&[0x55, 0xaa])?;
/// io.seek(SeekFrom::Start(510))?;
/// let mut sig = [0u8; 2];
/// io.read_exact(&mut sig)?;
/// assert_eq!(sig, [0x55, 0xaa]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct DeviceIo<D> {
    dev: D,
    pos: u64,
}

impl<D: BlockDevice> DeviceIo<D> {
    /// A stream at position 0.
    pub fn new(dev: D) -> Self {
        DeviceIo { dev, pos: 0 }
    }

    /// The device.
    pub fn get_ref(&self) -> &D {
        &self.dev
    }

    /// The device, giving up the stream.
    pub fn into_inner(self) -> D {
        self.dev
    }
}

fn to_io(e: crate::Error) -> io::Error {
    let kind = match e.kind() {
        crate::ErrorKind::NotFound => io::ErrorKind::NotFound,
        crate::ErrorKind::InvalidArgument => io::ErrorKind::InvalidInput,
        crate::ErrorKind::ReadOnly => io::ErrorKind::PermissionDenied,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

impl<D: BlockDevice> Read for DeviceIo<D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.dev.size().map_err(to_io)?;
        let n = (size.saturating_sub(self.pos)).min(buf.len() as u64) as usize;
        if n == 0 {
            return Ok(0);
        }
        self.dev.read_at(&mut buf[..n], self.pos).map_err(to_io)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<D: BlockDevice> Write for DeviceIo<D> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.dev.write_at(buf, self.pos).map_err(to_io)?;
        self.pos += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.dev.flush().map_err(to_io)
    }
}

impl<D: BlockDevice> Seek for DeviceIo<D> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let new = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.dev.size().map_err(to_io)?.checked_add_signed(d),
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
