//! The crate's one error type: a matchable [`ErrorKind`], the call that failed, the
//! image or device it was about, and a libguestfs-style message. The cause (a
//! `vmcraft_block::Error`, an `io::Error`, a failed command) is reachable through
//! `source()` and is not repeated in the message; `vmcraft_block::error_chain`
//! renders the whole chain on one line.

use std::fmt;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an [`Error`] is, for callers that need to branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The image (or a device, or a tool's file) does not exist.
    NotFound,
    /// The path is of the wrong kind (a directory given as an image, ...).
    WrongType,
    /// An option was rejected before anything was done.
    InvalidArgument,
    /// The image is damaged: truncated, garbage in its tables, not the format it
    /// was said to be.
    InvalidImage,
    /// The image or the request needs something this crate or this host does not
    /// provide (an encrypted qcow2, a differencing VHD, no nbd kernel module).
    Unsupported,
    /// The image refers to other files (a backing file, an external data file,
    /// extents outside its directory) and the caller did not allow that.
    BackingFileRefused,
    /// The image or every candidate device is in use.
    Busy,
    /// The device is read-only.
    ReadOnly,
    /// qemu-storage-daemon or qemu-nbd failed to start or to serve the image.
    DaemonFailed,
    /// The process serving the image went away during the session.
    DaemonGone,
    /// Something did not become ready in time.
    Timeout,
    /// An external command ran and failed.
    CommandFailed,
    /// A required external tool is not installed.
    ToolMissing,
    /// The caller lacks the privilege (usually root) needed.
    PermissionDenied,
    /// An I/O or ioctl failure.
    Io,
}

/// The error type of `vmcraft-nbd`.
///
/// ```
/// use vmcraft_nbd::{Error, ErrorKind};
/// let e = Error::new(ErrorKind::InvalidImage, "attach", "/img/disk.qcow2",
///     "qcow2 l1 table at offset 196608 lies beyond the end of the file (100000 bytes)");
/// assert_eq!(e.kind(), ErrorKind::InvalidImage);
/// assert!(e.to_string().starts_with("attach: /img/disk.qcow2: qcow2 l1 table"));
/// ```
#[derive(Debug, thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    call: &'static str,
    subject: String,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.call)?;
        if !self.subject.is_empty() {
            write!(f, ": {}", self.subject)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl Error {
    /// A new error of `kind` raised by `call` about `subject` (an image or device
    /// path).
    pub fn new(
        kind: ErrorKind,
        call: &'static str,
        subject: impl fmt::Display,
        message: impl Into<String>,
    ) -> Self {
        Error {
            kind,
            call,
            subject: subject.to_string(),
            message: message.into(),
            source: None,
        }
    }

    /// Wrap a `vmcraft_block` error as the cause; the kind follows the cause's kind
    /// unless the caller knows better.
    pub fn block(
        call: &'static str,
        subject: impl fmt::Display,
        message: impl Into<String>,
        err: vmcraft_block::Error,
    ) -> Self {
        let kind = kind_of_block(&err);
        Self::new(kind, call, subject, message).with_source(err)
    }

    /// Wrap an `io::Error` as the cause.
    pub fn io(
        call: &'static str,
        subject: impl fmt::Display,
        message: impl Into<String>,
        err: std::io::Error,
    ) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            std::io::ErrorKind::IsADirectory | std::io::ErrorKind::NotADirectory => {
                ErrorKind::WrongType
            }
            std::io::ErrorKind::ResourceBusy => ErrorKind::Busy,
            std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
            std::io::ErrorKind::ReadOnlyFilesystem => ErrorKind::ReadOnly,
            _ => ErrorKind::Io,
        };
        Self::new(kind, call, subject, message).with_source(err)
    }

    /// Attach a cause, reachable through `source()`.
    pub fn with_source(mut self, err: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(err));
        self
    }

    /// Replace the kind (when the context knows more than the cause).
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// Set the call, and the subject where none was known (errors raised deep
    /// inside a reader carry no path; the public entry point adds it).
    pub(crate) fn relabel(mut self, call: &'static str, subject: impl fmt::Display) -> Self {
        self.call = call;
        if self.subject.is_empty() {
            self.subject = subject.to_string();
        }
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The call that failed (`attach`, `detach`, `nbd_connect`, ...).
    pub fn call(&self) -> &str {
        self.call
    }

    /// The image or device the error is about.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The message without call and subject.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The `vmcraft_block` error behind this one, if the cause is one.
    pub fn block_source(&self) -> Option<&vmcraft_block::Error> {
        self.source
            .as_deref()
            .and_then(|s| s.downcast_ref::<vmcraft_block::Error>())
    }
}

/// This crate's kind for a `vmcraft_block` error kind.
pub(crate) fn kind_of_block(err: &vmcraft_block::Error) -> ErrorKind {
    use vmcraft_block::ErrorKind as B;
    match err.kind() {
        B::NotFound => ErrorKind::NotFound,
        B::InvalidArgument => ErrorKind::InvalidArgument,
        B::WrongType => ErrorKind::WrongType,
        B::ReadOnly => ErrorKind::ReadOnly,
        B::PermissionDenied => ErrorKind::PermissionDenied,
        B::Unsupported => ErrorKind::Unsupported,
        B::CommandFailed => ErrorKind::CommandFailed,
        B::Timeout => ErrorKind::Timeout,
        B::ToolMissing => ErrorKind::ToolMissing,
        B::Busy => ErrorKind::Busy,
        _ => ErrorKind::Io,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn display_names_call_subject_and_message() {
        let e = Error::new(ErrorKind::Busy, "nbd_connect", "/dev/nbd0", "in use");
        assert_eq!(e.to_string(), "nbd_connect: /dev/nbd0: in use");
        let e = Error::new(ErrorKind::Busy, "nbd_connect", "", "no free device");
        assert_eq!(e.to_string(), "nbd_connect: no free device");
    }

    #[test]
    fn block_errors_become_the_source_with_their_kind() {
        let inner =
            vmcraft_block::Error::new(vmcraft_block::ErrorKind::NotFound, "open", "/x", "stat");
        let e = Error::block("attach", "/x", "opening the image", inner);
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.to_string(), "attach: /x: opening the image");
        assert_eq!(e.source().unwrap().to_string(), "open: /x: stat");
        assert!(e.block_source().is_some());
        assert_eq!(
            vmcraft_block::error_chain(&e),
            "attach: /x: opening the image: open: /x: stat"
        );
    }

    #[test]
    fn io_errors_map_their_kind() {
        let e = Error::io(
            "attach",
            "/x",
            "open",
            std::io::Error::from_raw_os_error(libc::ENOENT),
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = Error::io(
            "attach",
            "/x",
            "open",
            std::io::Error::from_raw_os_error(libc::EBUSY),
        );
        assert_eq!(e.kind(), ErrorKind::Busy);
        assert_eq!(e.with_kind(ErrorKind::Io).kind(), ErrorKind::Io);
    }
}
