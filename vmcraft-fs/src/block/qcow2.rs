//! [`Qcow2Image`]: a qcow2 image read in-process through `imago` (synchronous
//! build), confined to the one file the caller opened.
//!
//! imago opens a qcow2 image's backing file and external data file only when
//! asked to (`open_implicit_dependencies*`, or the builder's `open`, which goes
//! through an `ImplicitOpenGate`); this module calls neither. It hands imago the
//! already-open image file with no file name (so imago could not even resolve a
//! relative name against it), opens it read-only with `Qcow2::open_image`, and
//! then refuses the image when its header names a backing file or needs an
//! external data file, before a single guest byte is read. A qcow2 header is
//! checked by imago (cluster size at most 2 MiB, L1 table at most 32 MiB, header
//! extensions inside the first cluster, a backing name at most 1023 bytes), so
//! what a hostile header can make it allocate is bounded: the L1 table, and an
//! L2 cache of at most 128 clusters.

use std::fs::File;

use imago::file::File as ImagoFile;
use imago::qcow2::Qcow2;
use imago::{FormatAccess, StorageOpenOptions};

use super::{ReadAt, past_end};
use crate::error::{Error, ErrorKind, Result};

/// A qcow2 image (version 2 or 3, compressed clusters included) read in-process,
/// with no backing file and no external data file.
///
/// ```no_run
/// use vmcraft_fs::{Qcow2Image, ReadAt};
/// let img = Qcow2Image::open("guest.qcow2")?;
/// let mut mbr = [0u8; 512];
/// img.read_at(0, &mut mbr)?;
/// # Ok::<(), vmcraft_fs::Error>(())
/// ```
pub struct Qcow2Image {
    access: FormatAccess<ImagoFile>,
    size: u64,
    name: String,
}

impl std::fmt::Debug for Qcow2Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Qcow2Image")
            .field("name", &self.name)
            .field("size", &self.size)
            .finish()
    }
}

impl Qcow2Image {
    /// Open the qcow2 image at `path`, read-only.
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| Error::io("open_image", path.display(), e))?;
        Self::from_file(file, path.display().to_string())
    }

    /// Use an open qcow2 file (opened read-only); `name` is for messages.
    pub fn from_file(file: File, name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let storage = ImagoFile::from_open_file(file, StorageOpenOptions::new().write(false))
            .map_err(|e| Error::io("open_image", &name, e))?;
        let qcow2 = Qcow2::<ImagoFile>::open_image(storage, false).map_err(|e| {
            Error::new(
                ErrorKind::Corrupt,
                "open_image",
                &name,
                format!("qcow2: {}", crate::error::lower_first(&e.to_string())),
            )
            .with_source(e)
        })?;
        if let Some(backing) = qcow2.implicit_backing_file() {
            return Err(Error::unsupported(
                "open_image",
                &name,
                format!(
                    "qcow2 image has a backing file ({backing:?}); backing files are not opened"
                ),
            ));
        }
        if qcow2.requires_external_data_file() {
            return Err(Error::unsupported(
                "open_image",
                &name,
                "qcow2 image needs an external data file; external files are not opened",
            ));
        }
        let access = FormatAccess::new(qcow2);
        let size = access.size();
        Ok(Qcow2Image { access, size, name })
    }
}

impl ReadAt for Qcow2Image {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        match offset.checked_add(buf.len() as u64) {
            Some(end) if end <= self.size => {}
            _ => return Err(past_end(self.name.clone(), offset, buf.len(), self.size)),
        }
        let len = buf.len();
        self.access.read(buf, offset).map_err(|e| {
            Error::new(
                ErrorKind::Corrupt,
                "read_at",
                &self.name,
                format!(
                    "qcow2: {} bytes at {offset}: {}",
                    len,
                    crate::error::lower_first(&e.to_string())
                ),
            )
            .with_source(e)
        })
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}
