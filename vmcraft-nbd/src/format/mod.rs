//! Image formats: the [`Format`] enum, detection from magic bytes, and
//! [`inspect_image`], which reads an image's header in-process and reports its
//! format, virtual size and every other file it refers to (backing file, external
//! data file, vmdk extents), after checking the header and tables for truncation and
//! garbage.
//!
//! Detection reads at most a few KiB and runs no external process. It recognises
//! qcow2, vmdk (sparse, with its embedded descriptor, and text descriptors), vhdx,
//! vdi, vpc (dynamic with the footer copy at the start, fixed with a checksummed
//! footer at the end), and takes anything else for raw.

mod qcow2;
mod vdi;
mod vhd;
mod vmdk;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use vmcraft_block::{BlockDevice, OpenOptions};

use crate::error::{Error, ErrorKind, Result};

/// A disk image format.
///
/// ```
/// use vmcraft_nbd::Format;
/// let f: Format = "qcow2".parse()?;
/// assert_eq!(f, Format::Qcow2);
/// assert_eq!(f.qemu_driver(), "qcow2");
/// assert_eq!("vhd".parse::<Format>()?, Format::Vpc);
/// assert!("qed".parse::<Format>().is_err());
/// # Ok::<(), vmcraft_nbd::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Raw bytes: the disk as it is.
    Raw,
    /// QEMU copy-on-write v2/v3.
    Qcow2,
    /// VMware: monolithic sparse, stream-optimized, or a text descriptor with
    /// extents.
    Vmdk,
    /// Hyper-V VHDX.
    Vhdx,
    /// VirtualBox VDI.
    Vdi,
    /// Virtual PC / Hyper-V VHD (qemu calls it `vpc`).
    Vpc,
}

impl Format {
    /// Every format this crate attaches.
    pub const ALL: [Format; 6] = [
        Format::Raw,
        Format::Qcow2,
        Format::Vmdk,
        Format::Vhdx,
        Format::Vdi,
        Format::Vpc,
    ];

    /// The qemu block driver name (`raw`, `qcow2`, `vmdk`, `vhdx`, `vdi`, `vpc`).
    pub fn qemu_driver(self) -> &'static str {
        match self {
            Format::Raw => "raw",
            Format::Qcow2 => "qcow2",
            Format::Vmdk => "vmdk",
            Format::Vhdx => "vhdx",
            Format::Vdi => "vdi",
            Format::Vpc => "vpc",
        }
    }

    /// Whether qemu's driver for this format follows a backing file (and takes a
    /// `backing` option in the blockdev graph).
    pub fn has_backing_option(self) -> bool {
        matches!(self, Format::Qcow2 | Format::Vmdk)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.qemu_driver())
    }
}

impl FromStr for Format {
    type Err = Error;

    /// The qemu driver name, case-insensitive; `vhd` is accepted for `vpc`.
    fn from_str(s: &str) -> Result<Self> {
        let lower = s.to_ascii_lowercase();
        Ok(match lower.as_str() {
            "raw" => Format::Raw,
            "qcow2" => Format::Qcow2,
            "vmdk" => Format::Vmdk,
            "vhdx" => Format::Vhdx,
            "vdi" => Format::Vdi,
            "vpc" | "vhd" => Format::Vpc,
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "format",
                    s,
                    "unknown image format (expected raw, qcow2, vmdk, vhdx, vdi or vpc)",
                ));
            }
        })
    }
}

/// What [`inspect_image`] found in an image's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// The format (given by the caller, or detected).
    pub format: Format,
    /// `true` when the format was detected from magic bytes, `false` when the
    /// caller gave it.
    pub detected: bool,
    /// Bytes in the image file (or block device).
    pub file_size: u64,
    /// The disk size the header states, where it states it plainly (raw, qcow2,
    /// vmdk, vdi).
    pub virtual_size: Option<u64>,
    /// The backing (parent) file the header names.
    pub backing_file: Option<String>,
    /// A qcow2 external data file (`Some("")` when the header flags one without
    /// naming it).
    pub data_file: Option<String>,
    /// The files a vmdk text descriptor's extents name (the data lives there).
    pub extent_files: Vec<String>,
    /// A qcow2 marked corrupt by qemu: it may only be opened read-only.
    pub marked_corrupt: bool,
}

impl ImageInfo {
    fn new(format: Format, detected: bool, file_size: u64) -> Self {
        ImageInfo {
            format,
            detected,
            file_size,
            virtual_size: None,
            backing_file: None,
            data_file: None,
            extent_files: Vec::new(),
            marked_corrupt: false,
        }
    }

    /// Refuse an image that refers to files outside itself, unless `allow`: a
    /// backing file, an external data file, or vmdk extents that are absolute,
    /// climb out of the image's directory with `..`, or name a qemu protocol
    /// (`nbd:...`). A guest controls these names, so following them by default
    /// would let an image read (or write) any file on the host.
    ///
    /// ```no_run
    /// use vmcraft_nbd::{inspect_image, ErrorKind};
    /// let info = inspect_image("overlay.qcow2", None)?;
    /// let err = info.check_references("overlay.qcow2", false).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::BackingFileRefused);
    /// info.check_references("overlay.qcow2", true)?;
    /// # Ok::<(), vmcraft_nbd::Error>(())
    /// ```
    pub fn check_references(&self, image: impl fmt::Display, allow: bool) -> Result<()> {
        if allow {
            return Ok(());
        }
        let how = if self.detected {
            "auto-detected"
        } else {
            "given"
        };
        let refuse = |what: String| {
            Err(Error::new(
                ErrorKind::BackingFileRefused,
                "attach",
                &image,
                format!(
                    "{} image ({how} format) {what}; refused because backing files are not \
                     allowed (set allow_backing_file to follow it)",
                    self.format
                ),
            ))
        };
        if let Some(b) = &self.backing_file {
            return refuse(format!("has backing file {b:?}"));
        }
        if let Some(d) = &self.data_file {
            if d.is_empty() {
                return refuse("uses an external data file".to_string());
            }
            return refuse(format!("uses external data file {d:?}"));
        }
        if let Some(bad) = self.extent_files.iter().find(|e| !is_contained_name(e)) {
            return refuse(format!(
                "has extent file {bad:?} outside the image's directory"
            ));
        }
        Ok(())
    }
}

/// A relative file name that stays in its directory and names no qemu protocol.
fn is_contained_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains(':')
        && !name.split('/').any(|c| c == "..")
}

/// Detect the format of the image at `path` from its magic bytes.
///
/// ```no_run
/// use vmcraft_nbd::{detect_format, Format};
/// assert_eq!(detect_format("disk.qcow2")?, Format::Qcow2);
/// # Ok::<(), vmcraft_nbd::Error>(())
/// ```
pub fn detect_format(path: impl AsRef<Path>) -> Result<Format> {
    let path = path.as_ref();
    let dev = open_image("detect_format", path)?;
    detect_format_of(&*dev).map_err(|e| e.relabel("detect_format", path.display()))
}

/// Detect the format of the bytes on `dev` (the first and last few KiB are read).
///
/// ```
/// use vmcraft_block::{BlockDevice, MemoryDisk};
/// use vmcraft_nbd::{detect_format_of, Format};
/// let disk = MemoryDisk::new(1 << 20);
/// assert_eq!(detect_format_of(&disk)?, Format::Raw);
/// disk.write_at(b"QFI\xfb\0\0\0\x03", 0)?;
/// assert_eq!(detect_format_of(&disk)?, Format::Qcow2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn detect_format_of(dev: &dyn BlockDevice) -> Result<Format> {
    let size = dev_size(dev)?;
    let head = read_clamped(dev, 0, 4096, size)?;
    if head.starts_with(qcow2::MAGIC) && head.len() >= 8 {
        // qcow (v1) shares the magic; its version field says 1.
        if be32(&head, 4) == 1 {
            return Err(unsupported_format("qcow (version 1)"));
        }
        return Ok(Format::Qcow2);
    }
    if head.starts_with(vmdk::SPARSE_MAGIC)
        || head.starts_with(vmdk::COWD_MAGIC)
        || vmdk::looks_like_descriptor(&head)
    {
        return Ok(Format::Vmdk);
    }
    if head.starts_with(b"vhdxfile") {
        return Ok(Format::Vhdx);
    }
    if vdi::has_signature(&head) {
        return Ok(Format::Vdi);
    }
    if head.starts_with(vhd::COOKIE) {
        return Ok(Format::Vpc);
    }
    if size >= 1024 {
        let tail = read_clamped(dev, size - 512, 512, size)?;
        if vhd::is_valid_footer(&tail) {
            return Ok(Format::Vpc);
        }
    }
    if head.starts_with(b"QED\0") {
        return Err(unsupported_format("qed"));
    }
    Ok(Format::Raw)
}

fn unsupported_format(name: &str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        "detect_format",
        "",
        format!(
            "the image is in {name} format, which is not attached (convert it with \
             `qemu-img convert -O qcow2`)"
        ),
    )
}

/// Read the header of the image at `path` and check it: the format (detected
/// unless `format` is given; an explicit non-raw format must match the magic bytes),
/// its virtual size, the files it refers to, and for qcow2 the consistency of its
/// header, L1 table and refcounts with the file's length (a truncated file or
/// garbage in the tables is an [`ErrorKind::InvalidImage`] error). Everything is
/// read in-process.
///
/// ```no_run
/// use vmcraft_nbd::{inspect_image, Format};
/// let info = inspect_image("disk.qcow2", None)?;
/// assert_eq!(info.format, Format::Qcow2);
/// println!("{:?} bytes, backing file {:?}", info.virtual_size, info.backing_file);
/// # Ok::<(), vmcraft_nbd::Error>(())
/// ```
pub fn inspect_image(path: impl AsRef<Path>, format: Option<Format>) -> Result<ImageInfo> {
    let path = path.as_ref();
    let dev = open_image("inspect_image", path)?;
    inspect_device(&*dev, format).map_err(|e| e.relabel("inspect_image", path.display()))
}

/// [`inspect_image`] on an open device (errors name no subject; the caller's
/// wrapper adds the path).
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_nbd::{inspect_device, Format};
/// let info = inspect_device(&MemoryDisk::new(1 << 20), None)?;
/// assert_eq!((info.format, info.virtual_size), (Format::Raw, Some(1 << 20)));
/// # Ok::<(), vmcraft_nbd::Error>(())
/// ```
pub fn inspect_device(dev: &dyn BlockDevice, format: Option<Format>) -> Result<ImageInfo> {
    let size = dev_size(dev)?;
    if size == 0 {
        return Err(invalid("the image is empty (0 bytes)"));
    }
    let detected = detect_format_of(dev)?;
    let (format, was_detected) = match format {
        Some(f) => (f, false),
        None => (detected, true),
    };
    if format != Format::Raw && detected != format {
        return Err(Error::new(
            ErrorKind::InvalidImage,
            "inspect_image",
            "",
            format!("is not a {format} image (its header says {detected})"),
        ));
    }
    let mut info = ImageInfo::new(format, was_detected, size);
    match format {
        Format::Raw => info.virtual_size = Some(size),
        Format::Qcow2 => qcow2::inspect(dev, size, &mut info)?,
        Format::Vmdk => vmdk::inspect(dev, size, &mut info)?,
        Format::Vdi => vdi::inspect(dev, size, &mut info)?,
        Format::Vpc => vhd::inspect(dev, size, &mut info)?,
        Format::Vhdx => {}
    }
    Ok(info)
}

fn open_image(call: &'static str, path: &Path) -> Result<Box<dyn BlockDevice>> {
    vmcraft_block::open(
        path,
        OpenOptions {
            readonly: true,
            ..Default::default()
        },
    )
    .map_err(|e| {
        let msg = match kind_of(&e) {
            ErrorKind::NotFound => "the image does not exist",
            ErrorKind::WrongType => "not a disk image",
            _ => "cannot open the image",
        };
        Error::block(call, path.display(), msg, e)
    })
}

fn kind_of(e: &vmcraft_block::Error) -> ErrorKind {
    crate::error::kind_of_block(e)
}

fn dev_size(dev: &dyn BlockDevice) -> Result<u64> {
    dev.size()
        .map_err(|e| Error::block("inspect_image", "", "size", e))
}

/// Read up to `len` bytes at `offset`, fewer where the device ends first.
pub(crate) fn read_clamped(
    dev: &dyn BlockDevice,
    offset: u64,
    len: usize,
    size: u64,
) -> Result<Vec<u8>> {
    if offset >= size {
        return Ok(Vec::new());
    }
    let n = (len as u64).min(size - offset) as usize;
    let mut buf = vec![0u8; n];
    dev.read_at(&mut buf, offset).map_err(|e| {
        Error::block(
            "inspect_image",
            "",
            format!("reading {n} bytes at offset {offset}"),
            e,
        )
    })?;
    Ok(buf)
}

pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidImage, "inspect_image", "", message)
}

pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

pub(crate) fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

pub(crate) fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

pub(crate) fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmcraft_block::MemoryDisk;

    #[test]
    fn names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.to_string().parse::<Format>().unwrap(), f);
        }
        assert_eq!("QCOW2".parse::<Format>().unwrap(), Format::Qcow2);
        let e = "iso".parse::<Format>().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(
            e.to_string(),
            "format: iso: unknown image format (expected raw, qcow2, vmdk, vhdx, vdi or vpc)"
        );
    }

    #[test]
    fn magic_bytes() {
        let cases: &[(&[u8], u64, Format)] = &[
            (b"vhdxfile", 0, Format::Vhdx),
            (b"conectix", 0, Format::Vpc),
            (b"KDMV\x01\0\0\0", 0, Format::Vmdk),
            (b"COWD\x01\0\0\0", 0, Format::Vmdk),
            (
                b"# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n",
                0,
                Format::Vmdk,
            ),
            (b"\x7f\x10\xda\xbe", 0x40, Format::Vdi),
            (b"\x55\xaa", 510, Format::Raw),
        ];
        for (bytes, at, want) in cases {
            let d = MemoryDisk::new(1 << 16);
            d.write_at(bytes, *at).unwrap();
            assert_eq!(detect_format_of(&d).unwrap(), *want, "{bytes:?}");
        }
    }

    #[test]
    fn qed_and_qcow1_are_refused_by_name() {
        let d = MemoryDisk::new(1 << 16);
        d.write_at(b"QED\0", 0).unwrap();
        let e = detect_format_of(&d).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains("qed format"), "{e}");
        d.write_at(b"QFI\xfb\0\0\0\x01", 0).unwrap();
        let e = detect_format_of(&d).unwrap_err();
        assert!(e.to_string().contains("qcow (version 1)"), "{e}");
    }

    #[test]
    fn tiny_and_empty_images_are_raw() {
        assert_eq!(detect_format_of(&MemoryDisk::new(0)).unwrap(), Format::Raw);
        let e = inspect_device(&MemoryDisk::new(0), None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidImage);
        assert_eq!(e.to_string(), "inspect_image: the image is empty (0 bytes)");
        let d = MemoryDisk::new(3);
        d.write_at(b"QFI", 0).unwrap();
        assert_eq!(detect_format_of(&d).unwrap(), Format::Raw);
    }

    #[test]
    fn explicit_format_must_match_the_magic() {
        let d = MemoryDisk::new(1 << 16);
        let e = inspect_device(&d, Some(Format::Qcow2)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidImage);
        assert!(
            e.to_string()
                .contains("is not a qcow2 image (its header says raw)"),
            "{e}"
        );
        // Explicit raw always wins, whatever the bytes say.
        d.write_at(b"vhdxfile", 0).unwrap();
        let info = inspect_device(&d, Some(Format::Raw)).unwrap();
        assert_eq!(info.format, Format::Raw);
        assert!(!info.detected);
        assert_eq!(info.virtual_size, Some(1 << 16));
        let info = inspect_device(&d, None).unwrap();
        assert_eq!(info.format, Format::Vhdx);
        assert!(info.detected);
    }

    #[test]
    fn references_are_refused_unless_allowed() {
        let mut info = ImageInfo::new(Format::Qcow2, true, 1 << 20);
        info.check_references("/i", false).unwrap();
        info.backing_file = Some("base.qcow2".into());
        let e = info.check_references("/i", false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BackingFileRefused);
        assert_eq!(
            e.to_string(),
            "attach: /i: qcow2 image (auto-detected format) has backing file \"base.qcow2\"; \
             refused because backing files are not allowed (set allow_backing_file to follow it)"
        );
        info.check_references("/i", true).unwrap();

        let mut info = ImageInfo::new(Format::Qcow2, false, 1 << 20);
        info.data_file = Some(String::new());
        let e = info.check_references("/i", false).unwrap_err();
        assert!(
            e.to_string()
                .contains("(given format) uses an external data file;"),
            "{e}"
        );

        let mut info = ImageInfo::new(Format::Vmdk, true, 1 << 20);
        info.extent_files = vec!["disk-flat.vmdk".into(), "sub/disk-s001.vmdk".into()];
        info.check_references("/i", false).unwrap();
        for bad in ["/dev/sda", "../other.img", "a/../../b", "nbd://host/x", ""] {
            info.extent_files = vec![bad.into()];
            let e = info.check_references("/i", false).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BackingFileRefused, "{bad}");
            assert!(e.to_string().contains("outside the image's directory"));
        }
    }
}
