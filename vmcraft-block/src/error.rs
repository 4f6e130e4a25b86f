//! The crate's one error type: a matchable [`ErrorKind`] plus the call, the subject
//! (device, file or program) and a libguestfs-style message.
//!
//! Messages read `call: subject: what went wrong`, lower-case, naming the offending
//! value; the underlying cause (an `io::Error`, an errno) is reachable through
//! [`std::error::Error::source`] and is not repeated in the message.

use std::borrow::Cow;
use std::fmt;
use std::io;

use crate::command::CommandFailure;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an [`Error`] is, for callers that need to branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A device, file or tool does not exist.
    NotFound,
    /// An argument was rejected before anything was done.
    InvalidArgument,
    /// The device or file is of the wrong kind (a directory given as a device, ...).
    WrongType,
    /// An I/O or ioctl failure.
    Io,
    /// The device or file is read-only.
    ReadOnly,
    /// The caller lacks the privilege (usually root) the operation needs.
    PermissionDenied,
    /// The operation is not supported by this device or this host.
    Unsupported,
    /// An external command ran and failed (or could not be started).
    CommandFailed,
    /// An external command or a wait ran past its deadline.
    Timeout,
    /// A required external tool is not installed.
    ToolMissing,
    /// The device or resource is busy.
    Busy,
    /// The call was cancelled through its [`crate::CancelToken`]: it stopped at
    /// a check, left what it wrote consistent, and says how far it got.
    Cancelled,
}

/// The error type of `vmcraft-block`.
///
/// ```
/// use vmcraft_block::{Error, ErrorKind};
/// let e = Error::invalid("copy_device_to_device", "/dev/sda", "srcoffset -1 is negative");
/// assert_eq!(e.kind(), ErrorKind::InvalidArgument);
/// assert_eq!(e.to_string(), "copy_device_to_device: /dev/sda: srcoffset -1 is negative");
/// ```
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    call: Cow<'static, str>,
    subject: Option<String>,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    command: Option<Box<CommandFailure>>,
}

impl Error {
    /// A new error of `kind` raised by `call` about `subject` (a device, file, or
    /// program; empty for none).
    pub fn new(
        kind: ErrorKind,
        call: impl Into<Cow<'static, str>>,
        subject: impl fmt::Display,
        message: impl Into<String>,
    ) -> Self {
        let subject = subject.to_string();
        Error {
            kind,
            call: call.into(),
            subject: (!subject.is_empty()).then_some(subject),
            message: message.into(),
            source: None,
            command: None,
        }
    }

    /// An argument rejected before anything was done.
    pub fn invalid(
        call: impl Into<Cow<'static, str>>,
        subject: impl fmt::Display,
        message: impl Into<String>,
    ) -> Self {
        Self::new(ErrorKind::InvalidArgument, call, subject, message)
    }

    /// An I/O failure; the kind is derived from the `io::Error` (not found, read-only,
    /// busy, ...), and the `io::Error` becomes the source.
    pub fn io(
        call: impl Into<Cow<'static, str>>,
        subject: impl fmt::Display,
        what: impl Into<String>,
        err: io::Error,
    ) -> Self {
        let kind = kind_of_io(&err);
        Self::new(kind, call, subject, what).with_source(err)
    }

    /// An errno from an ioctl or syscall made through `nix`.
    pub fn errno(
        call: impl Into<Cow<'static, str>>,
        subject: impl fmt::Display,
        what: impl Into<String>,
        errno: nix::errno::Errno,
    ) -> Self {
        Self::io(call, subject, what, io::Error::from(errno))
    }

    /// Attach a cause, reachable through `source()`.
    pub fn with_source(mut self, err: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(err));
        self
    }

    /// Replace the call name (used when a higher-level call wraps a lower one).
    pub fn with_call(mut self, call: impl Into<Cow<'static, str>>) -> Self {
        self.call = call.into();
        self
    }

    pub(crate) fn from_command(failure: CommandFailure, kind: ErrorKind) -> Self {
        let mut e = Self::new(kind, failure.program.clone(), "", failure.describe());
        if let Some(io) = failure.spawn_error.as_ref() {
            e.source = Some(Box::new(io::Error::new(io.kind(), io.to_string())));
        }
        e.command = Some(Box::new(failure));
        e
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The call that failed (`blockdev_getsize64`, `copy_device_to_device`, or the
    /// program name for a failed command).
    pub fn call(&self) -> &str {
        &self.call
    }

    /// The device, file or program the error is about, if any.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The message without call and subject.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// For a failed external command: the command line, status, stdout and stderr.
    pub fn command_failure(&self) -> Option<&CommandFailure> {
        self.command.as_deref()
    }

    /// The OS error number behind this error, if there is one.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.source
            .as_ref()
            .and_then(|s| s.downcast_ref::<io::Error>())
            .and_then(io::Error::raw_os_error)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.call)?;
        if let Some(subject) = &self.subject {
            write!(f, ": {subject}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

fn kind_of_io(err: &io::Error) -> ErrorKind {
    use io::ErrorKind as K;
    if crate::cancel::is_cancelled_io(err) {
        return ErrorKind::Cancelled;
    }
    match err.kind() {
        K::NotFound => ErrorKind::NotFound,
        K::InvalidInput => ErrorKind::InvalidArgument,
        K::ReadOnlyFilesystem => ErrorKind::ReadOnly,
        K::PermissionDenied => ErrorKind::PermissionDenied,
        K::IsADirectory | K::NotADirectory => ErrorKind::WrongType,
        K::ResourceBusy => ErrorKind::Busy,
        K::TimedOut => ErrorKind::Timeout,
        K::Unsupported => ErrorKind::Unsupported,
        _ => match err.raw_os_error() {
            Some(libc::ENOTTY) | Some(libc::EOPNOTSUPP) => ErrorKind::Unsupported,
            Some(libc::EROFS) => ErrorKind::ReadOnly,
            Some(libc::EPERM) | Some(libc::EACCES) => ErrorKind::PermissionDenied,
            _ => ErrorKind::Io,
        },
    }
}

/// Render an error and its whole `source()` chain on one line, `a: b: c`, as the
/// command line prints it.
///
/// ```
/// use vmcraft_block::{Error, error_chain};
/// let e = Error::io("blockdev_getss", "/dev/nope", "open",
///     std::io::Error::from_raw_os_error(2));
/// assert!(error_chain(&e).starts_with("blockdev_getss: /dev/nope: open: No such file"));
/// ```
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.ends_with(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}
