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

mod descriptor;
mod qcow2;
mod vdi;
mod vhd;
mod vmdk;

#[cfg(test)]
pub(crate) use qcow2::tests as qcow2_tests;

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

/// One extent line of a VMDK descriptor that names a file, as qemu's grammar
/// reads it (see [`ImageInfo::extents`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmdkExtent {
    /// The access word: `RW` (the only one qemu opens), `RDONLY`, `NOACCESS`.
    pub access: String,
    /// The extent type: `FLAT`, `SPARSE`, `VMFS`, `VMFSSPARSE`, `SESPARSE`, or
    /// whatever else the line says.
    pub kind: String,
    /// Size in sectors, as written.
    pub sectors: i64,
    /// The file name, as qemu would use it (relative to the image's directory
    /// unless absolute).
    pub file: String,
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
    /// The backing (parent) file the header names, as qemu reads it (cut at the
    /// first NUL byte).
    pub backing_file: Option<String>,
    /// The backing file's format as the header records it (a qcow2's backing
    /// format extension; always `vmdk` for a vmdk parent). `None` means qemu
    /// would probe it.
    pub backing_format: Option<String>,
    /// A qcow2 external data file (`Some("")` when the header flags one without
    /// naming it).
    pub data_file: Option<String>,
    /// The files a vmdk descriptor's extent lines name (a text descriptor, or one
    /// embedded in a sparse header of capacity 0): every line qemu's `sscanf`
    /// would take for an extent, in order.
    pub extents: Vec<VmdkExtent>,
    /// A qcow2 marked corrupt by qemu: it may only be opened read-only.
    pub marked_corrupt: bool,
}

impl ImageInfo {
    pub(crate) fn new(format: Format, detected: bool, file_size: u64) -> Self {
        ImageInfo {
            format,
            detected,
            file_size,
            virtual_size: None,
            backing_file: None,
            backing_format: None,
            data_file: None,
            extents: Vec::new(),
            marked_corrupt: false,
        }
    }

    /// Whether the image names any file besides itself (backing file, external
    /// data file, vmdk extents).
    ///
    /// ```
    /// use vmcraft_block::MemoryDisk;
    /// use vmcraft_nbd::inspect_device;
    /// assert!(!inspect_device(&MemoryDisk::new(1 << 20), None)?.has_references());
    /// # Ok::<(), vmcraft_nbd::Error>(())
    /// ```
    pub fn has_references(&self) -> bool {
        self.backing_file.is_some() || self.data_file.is_some() || !self.extents.is_empty()
    }

    /// Refuse an image that refers to any file outside itself (a backing file, an
    /// external data file, vmdk extents), unless `allow`. A guest controls these
    /// names, so following them by default would let an image read (or write) any
    /// file on the host. With `allow`, only the names themselves are checked
    /// here (no `json:` or protocol names, valid UTF-8); [`crate::attach`] also
    /// resolves every one on the file system and pins qemu to what it resolved.
    ///
    /// ```no_run
    /// use vmcraft_nbd::{inspect_image, ErrorKind};
    /// let info = inspect_image("overlay.qcow2", None)?;
    /// let err = info.check_references("overlay.qcow2", false).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::BackingFileRefused);
    /// # Ok::<(), vmcraft_nbd::Error>(())
    /// ```
    pub fn check_references(&self, image: impl fmt::Display, allow: bool) -> Result<()> {
        let image = image.to_string();
        let names = self
            .backing_file
            .iter()
            .map(|b| ("backing file", b))
            .chain(self.data_file.iter().map(|d| ("external data file", d)))
            .chain(self.extents.iter().map(|e| ("extent file", &e.file)));
        for (what, name) in names {
            if !allow {
                return Err(self.refusal(
                    &image,
                    what,
                    name,
                    "references to other files are not allowed",
                ));
            }
            if let Err(why) = check_name(name) {
                return Err(self.refusal(&image, what, name, why));
            }
        }
        Ok(())
    }

    /// The error for a reference refused because `why`.
    pub(crate) fn refusal(&self, image: &str, what: &str, name: &str, why: &str) -> Error {
        let how = if self.detected {
            "auto-detected"
        } else {
            "given"
        };
        let named = if name.is_empty() {
            format!("uses an {what} without naming it")
        } else {
            format!("names {what} {name:?}")
        };
        Error::new(
            ErrorKind::BackingFileRefused,
            "attach",
            image,
            format!(
                "{} image ({how} format) {named}; refused: {why}",
                self.format
            ),
        )
    }
}

/// Refuse names that are not a plain path to qemu: `json:` options, protocol
/// prefixes (`nbd:`, `http:`, ...), names that were not valid UTF-8, empty names.
pub(crate) fn check_name(name: &str) -> std::result::Result<(), &'static str> {
    if name.is_empty() {
        return Err("the name is empty");
    }
    if name.contains('\u{fffd}') {
        return Err("the name is not valid UTF-8");
    }
    if name.starts_with("json:") {
        return Err("json: option strings are never followed");
    }
    if name
        .split('/')
        .next()
        .is_some_and(|first| first.contains(':'))
    {
        return Err("protocol names (nbd:, http:, ...) are never followed");
    }
    if name.chars().any(char::is_control) {
        return Err("the name holds control characters");
    }
    Ok(())
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
        assert!(!info.has_references());
        info.backing_file = Some("base.qcow2".into());
        let e = info.check_references("/i", false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BackingFileRefused);
        assert_eq!(
            e.to_string(),
            "attach: /i: qcow2 image (auto-detected format) names backing file \"base.qcow2\"; \
             refused: references to other files are not allowed"
        );
        info.check_references("/i", true).unwrap();

        let mut info = ImageInfo::new(Format::Qcow2, false, 1 << 20);
        info.data_file = Some(String::new());
        let e = info.check_references("/i", true).unwrap_err();
        assert!(
            e.to_string()
                .contains("(given format) uses an external data file without naming it;"),
            "{e}"
        );

        let mut info = ImageInfo::new(Format::Vmdk, true, 1 << 20);
        let extent = |f: &str| VmdkExtent {
            access: "RW".into(),
            kind: "FLAT".into(),
            sectors: 8,
            file: f.into(),
        };
        info.extents = vec![extent("disk-flat.vmdk")];
        assert!(info.has_references());
        info.check_references("/i", false).unwrap_err();
        info.check_references("/i", true).unwrap();
        for (bad, why) in [
            ("json:{\"driver\":\"file\"}", "json:"),
            ("nbd://host/x", "protocol"),
            ("http:x", "protocol"),
            ("", "empty"),
            ("a\u{fffd}b", "UTF-8"),
            ("a\nb", "control"),
        ] {
            info.extents = vec![extent(bad)];
            let e = info.check_references("/i", true).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BackingFileRefused, "{bad}");
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
    }
}
