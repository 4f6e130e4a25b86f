//! The crate's one error type: a matchable [`ErrorKind`], the call (`part_add`), the
//! device as the caller named it (`/dev/sda`) and a libguestfs-style message naming
//! the offending value. A failure of the device underneath (a `vmcraft_block::Error`)
//! or of `gptman`/`mbrman` is kept as the [`std::error::Error::source`], never
//! repeated in the message.

use std::borrow::Cow;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an [`Error`] is, for callers that need to branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument was refused before anything was read or written: an unknown
    /// table type or partition kind, a negative start sector, a malformed GUID, a
    /// partition number below 1, a name that does not fit.
    InvalidArgument,
    /// The partition number names no partition.
    NotFound,
    /// The requested layout is impossible: sectors that overlap another partition
    /// or run off the usable area, a fifth primary, a logical partition without an
    /// extended one, a second extended partition, a full entry array.
    Layout,
    /// The device holds no partition table this crate recognises.
    Unpartitioned,
    /// The call exists only for the other table type (GPT names on an msdos table,
    /// MBR ids on a GPT).
    WrongTableType,
    /// The partition table on the device is damaged beyond what can be read.
    Corrupt,
    /// A kernel partition that would have to go away is in use (mounted, held
    /// open by a process or a loop device, claimed by swap or a stacked device).
    Busy,
    /// The device refuses writes.
    ReadOnly,
    /// Reading, writing or flushing the device, or updating the kernel's view of
    /// it, failed; the `vmcraft_block::Error` is the source.
    Io,
}

/// The error type of `vmcraft-part`.
///
/// ```
/// use vmcraft_part::{part_add, ErrorKind};
/// use vmcraft_block::MemoryDisk;
/// let disk = MemoryDisk::new(8 << 20);
/// vmcraft_part::part_init(&disk, "gpt")?;
/// let err = part_add(&disk, "p", -5, 100).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidArgument);
/// assert_eq!(err.to_string(), "part_add: memory: startsect -5 cannot be negative");
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{call}: {device}: {message}")]
pub struct Error {
    kind: ErrorKind,
    call: Cow<'static, str>,
    device: String,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind` raised by `call` about `device`.
    pub fn new(
        kind: ErrorKind,
        call: impl Into<Cow<'static, str>>,
        device: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error {
            kind,
            call: call.into(),
            device: device.into(),
            message: message.into(),
            source: None,
        }
    }

    /// A failure of the device underneath while doing `what`; the kind follows the
    /// block error's kind (busy, read-only, or I/O).
    pub fn block(
        call: impl Into<Cow<'static, str>>,
        device: impl Into<String>,
        what: impl Into<String>,
        err: vmcraft_block::Error,
    ) -> Self {
        let kind = match err.kind() {
            vmcraft_block::ErrorKind::Busy => ErrorKind::Busy,
            vmcraft_block::ErrorKind::ReadOnly => ErrorKind::ReadOnly,
            _ => ErrorKind::Io,
        };
        Self::new(kind, call, device, what).with_source(err)
    }

    /// Attach a cause, reachable through `source()`.
    pub fn with_source(mut self, err: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(err));
        self
    }

    /// Replace the call name (a typed-layer error surfacing through a `part_*` call).
    pub fn with_call(mut self, call: impl Into<Cow<'static, str>>) -> Self {
        self.call = call.into();
        self
    }

    /// Add what was done about the failure to the message ("…; the old
    /// partition table was put back").
    pub(crate) fn with_note(mut self, note: impl AsRef<str>) -> Self {
        self.message.push_str("; ");
        self.message.push_str(note.as_ref());
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The call that failed, e.g. `part_add`.
    pub fn call(&self) -> &str {
        &self.call
    }

    /// The device (or device name) the error is about.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The message without call and device.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The `vmcraft_block::Error` underneath, if the device failed.
    pub fn block_error(&self) -> Option<&vmcraft_block::Error> {
        self.source
            .as_deref()
            .and_then(|s| s.downcast_ref::<vmcraft_block::Error>())
    }
}

/// The call name and device name every error of one operation carries.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub call: &'static str,
    pub device: String,
}

impl Ctx {
    pub fn new(call: &'static str, device: impl Into<String>) -> Self {
        Ctx {
            call,
            device: device.into(),
        }
    }

    pub fn err(&self, kind: ErrorKind, message: impl Into<String>) -> Error {
        Error::new(kind, self.call, self.device.clone(), message)
    }

    pub fn invalid(&self, message: impl Into<String>) -> Error {
        self.err(ErrorKind::InvalidArgument, message)
    }

    pub fn layout(&self, message: impl Into<String>) -> Error {
        self.err(ErrorKind::Layout, message)
    }

    pub fn corrupt(&self, message: impl Into<String>) -> Error {
        self.err(ErrorKind::Corrupt, message)
    }

    pub fn block(&self, what: impl Into<String>, err: vmcraft_block::Error) -> Error {
        Error::block(self.call, self.device.clone(), what, err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_source() {
        let inner = vmcraft_block::Error::new(
            vmcraft_block::ErrorKind::Busy,
            "delete_partition",
            "/dev/loop0",
            "in use",
        );
        let e = Error::block("part_del", "/dev/sda", "updating the kernel", inner);
        assert_eq!(e.kind(), ErrorKind::Busy);
        assert_eq!(e.to_string(), "part_del: /dev/sda: updating the kernel");
        assert_eq!(e.block_error().unwrap().call(), "delete_partition");
        let chain = vmcraft_block::error_chain(&e);
        assert_eq!(
            chain,
            "part_del: /dev/sda: updating the kernel: delete_partition: /dev/loop0: in use"
        );
        let e = e.with_call("part_resize");
        assert_eq!(e.call(), "part_resize");
        assert_eq!(e.device(), "/dev/sda");
        assert_eq!(e.message(), "updating the kernel");
    }

    #[test]
    fn read_only_kind_follows_the_block_error() {
        let inner = vmcraft_block::Error::new(
            vmcraft_block::ErrorKind::ReadOnly,
            "write",
            "memory",
            "device is read-only",
        );
        let e = Ctx::new("part_init", "memory").block("writing the table", inner);
        assert_eq!(e.kind(), ErrorKind::ReadOnly);
    }
}
