//! The facade's error: the crates' errors wrapped as they are (`#[from]`, message
//! unchanged), plus the facade's own failures with a matchable [`ErrorKind`].

use std::fmt;

/// Result alias for the facade.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure a facade error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The call needs `launch()` first.
    NotLaunched,
    /// The call is only allowed before `launch()`.
    AlreadyLaunched,
    /// The handle was shut down.
    ShutDown,
    /// A device name that the session does not have.
    NoSuchDevice,
    /// An argument was rejected before anything was done.
    InvalidArgument,
    /// A mount failed, or a path is not mounted.
    Mount,
    /// A path or device is busy.
    Busy,
    /// The operation is not supported here (a missing kernel feature or tool).
    Unsupported,
    /// An I/O failure.
    Io,
    /// Inspection found nothing, or not what was asked.
    Inspection,
    /// An error from one of the crates below (see [`Error::kind`]).
    Crate,
}

/// The facade's own failure: the call, the subject (device or path) and the message.
#[derive(Debug)]
pub struct CallError {
    kind: ErrorKind,
    call: String,
    subject: String,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.call)?;
        if !self.subject.is_empty() {
            write!(f, ": {}", self.subject)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl CallError {
    /// The call that failed (`mount`).
    ///
    /// ```
    /// let e = vmcraft::Error::call(vmcraft::ErrorKind::Mount, "mount", "/dev/sda1", "no such device");
    /// let vmcraft::Error::Call(c) = &e else { unreachable!() };
    /// assert_eq!((c.call(), c.subject(), c.message()), ("mount", "/dev/sda1", "no such device"));
    /// ```
    pub fn call(&self) -> &str {
        &self.call
    }

    /// What it failed on: a device or a guest path (empty for none).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// What went wrong, without the call and the subject.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Every error the facade returns.
///
/// ```
/// use vmcraft::{Error, ErrorKind};
/// let e = Error::call(ErrorKind::NoSuchDevice, "mount", "/dev/sdz1", "no such device");
/// assert_eq!(e.to_string(), "mount: /dev/sdz1: no such device");
/// assert_eq!(e.kind(), ErrorKind::NoSuchDevice);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A failure of the facade itself.
    #[error(transparent)]
    Call(#[from] CallError),
    /// From `vmcraft-block`.
    #[error(transparent)]
    Block(#[from] vmcraft_block::Error),
    /// From `vmcraft-nbd`.
    #[error(transparent)]
    Nbd(#[from] vmcraft_nbd::Error),
    /// From `vmcraft-part`.
    #[error(transparent)]
    Part(#[from] vmcraft_part::Error),
    /// From `vmcraft-lvm`.
    #[error(transparent)]
    Lvm(#[from] vmcraft_lvm::Error),
    /// From `vmcraft-aug`.
    #[cfg(feature = "augeas")]
    #[error(transparent)]
    Aug(#[from] vmcraft_aug::Error),
    /// From the guest root's file calls (vmcraft-fs) and `vmcraft-archive`.
    #[error(transparent)]
    Archive(#[from] vmcraft_fs::root::Error),
}

impl Error {
    /// A facade failure.
    pub fn call(
        kind: ErrorKind,
        call: impl Into<String>,
        subject: impl fmt::Display,
        message: impl Into<String>,
    ) -> Self {
        Error::Call(CallError {
            kind,
            call: call.into(),
            subject: subject.to_string(),
            message: message.into(),
            source: None,
        })
    }

    /// A facade failure with a cause.
    pub fn call_with_source(
        kind: ErrorKind,
        call: impl Into<String>,
        subject: impl fmt::Display,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Call(CallError {
            kind,
            call: call.into(),
            subject: subject.to_string(),
            message: message.into(),
            source: Some(Box::new(source)),
        })
    }

    /// An argument rejected before anything was done.
    pub fn invalid(
        call: impl Into<String>,
        subject: impl fmt::Display,
        message: impl Into<String>,
    ) -> Self {
        Self::call(ErrorKind::InvalidArgument, call, subject, message)
    }

    /// The facade's kind; [`ErrorKind::Crate`] for an error from a crate below (match
    /// on the variant to reach that crate's own kind).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Call(c) => c.kind,
            _ => ErrorKind::Crate,
        }
    }

    /// Whether the call stopped because the handle's (or its own) cancellation
    /// token was cancelled (a copy, tar, mkfs, e2fsck or resize2fs), whichever
    /// crate reported it: the caller's own request, not a failure.
    ///
    /// ```
    /// let t = vmcraft_block::CancelToken::new();
    /// t.cancel();
    /// let e = vmcraft::Error::from(t.check("dd_copy", "/dev/sda", "cancelled").unwrap_err());
    /// assert!(e.is_cancelled());
    /// assert!(!vmcraft::Error::invalid("mkfs", "/dev/sda1", "bad").is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        // The variants are transparent (their source() skips the wrapped
        // error), so the chain is walked from the wrapped error itself.
        let inner: &(dyn std::error::Error + 'static) = match self {
            Error::Archive(e) if e.kind() == vmcraft_fs::root::ErrorKind::Cancelled => return true,
            Error::Call(e) => e,
            Error::Block(e) => e,
            Error::Nbd(e) => e,
            Error::Part(e) => e,
            Error::Lvm(e) => e,
            #[cfg(feature = "augeas")]
            Error::Aug(e) => e,
            Error::Archive(e) => e,
        };
        vmcraft_block::cancel::is_cancellation(inner)
    }

    /// The whole chain on one line, as the command line prints it.
    pub fn chain(&self) -> String {
        vmcraft_block::error_chain(self)
    }
}
