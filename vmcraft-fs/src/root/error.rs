//! The error of the guest root's calls (and of vmcraft-archive's, which work
//! through them): a matchable [`ErrorKind`], the call, the subject (a guest
//! path, an archive entry or a host file) and a libguestfs-style message.
//!
//! Messages read `call: subject: what went wrong`, lower-case. The cause (an
//! `io::Error`, a [`vmcraft_block::Error`]) is reachable through
//! [`std::error::Error::source`] and is not repeated in the message.

use std::fmt;
use std::io;

/// Result alias for the guest root's calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an [`Error`] is, for callers that need to branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A path or file does not exist.
    NotFound,
    /// The path already exists.
    AlreadyExists,
    /// An argument was rejected before anything was done.
    InvalidArgument,
    /// The path is of the wrong type (a file where a directory is needed, ...).
    WrongType,
    /// A path or archive entry would leave the guest root (`..`, an absolute name,
    /// a link pointing outside): refused.
    Unsafe,
    /// The input (an archive) is corrupt or truncated.
    Corrupt,
    /// A size or count in the input is over a limit the caller or crate sets
    /// (a file too large to read whole; in vmcraft-archive, an extended
    /// header, a sparse map, the decompressor's memory, the directories and
    /// symlinks held until the end of an extraction).
    LimitExceeded,
    /// Not supported by this host, filesystem or build.
    Unsupported,
    /// The caller lacks the privilege the operation needs.
    PermissionDenied,
    /// Any other I/O failure.
    Io,
    /// The call was cancelled through the [`vmcraft_block::CancelToken`] of its
    /// options: it stopped between entries or inside a file's data, left the
    /// tree consistent (see vmcraft-archive's `tar_in` and `tar_out`) and says
    /// how far it got.
    Cancelled,
}

/// The error of [`GuestRoot`](crate::root::GuestRoot)'s calls and of vmcraft-archive.
///
/// ```
/// use vmcraft_fs::root::{Error, ErrorKind};
/// let e = Error::new(ErrorKind::Unsafe, "tar_in", "/srv", "entry \"../x\": path leaves the directory");
/// assert_eq!(e.kind(), ErrorKind::Unsafe);
/// assert_eq!(e.to_string(), "tar_in: /srv: entry \"../x\": path leaves the directory");
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{}", self.render())]
pub struct Error {
    kind: ErrorKind,
    call: &'static str,
    subject: String,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind` raised by `call` about `subject` (empty for none).
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

    /// An argument rejected before anything was done.
    pub fn invalid(call: &'static str, subject: impl fmt::Display, msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, call, subject, msg)
    }

    /// An I/O failure: the kind comes from the `io::Error`, which becomes the source.
    pub fn io(
        call: &'static str,
        subject: impl fmt::Display,
        what: impl Into<String>,
        err: io::Error,
    ) -> Self {
        Self::new(kind_of_io(&err), call, subject, what).with_source(err)
    }

    /// An errno from a `rustix` call.
    pub fn errno(
        call: &'static str,
        subject: impl fmt::Display,
        what: impl Into<String>,
        errno: rustix::io::Errno,
    ) -> Self {
        Self::io(call, subject, what, io::Error::from(errno))
    }

    /// Attach a cause, reachable through `source()`.
    pub fn with_source(mut self, err: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(err));
        self
    }

    /// Replace the call name (a higher-level call wrapping a lower one).
    pub fn with_call(mut self, call: &'static str) -> Self {
        self.call = call;
        self
    }

    /// Add a note after the message (`; NOTE`): what else happened.
    pub fn with_note(mut self, note: impl fmt::Display) -> Self {
        self.message = if self.message.is_empty() {
            note.to_string()
        } else {
            format!("{}; {note}", self.message)
        };
        self
    }

    /// Replace the subject (empty for none).
    pub fn with_subject(mut self, subject: impl fmt::Display) -> Self {
        self.subject = subject.to_string();
        self
    }

    /// Replace the kind.
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// Prefix the message with more context (`entry "./etc/x"`), keeping the rest.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = if self.message.is_empty() {
            what.to_string()
        } else {
            format!("{what}: {}", self.message)
        };
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The call that failed (`tar_in`, `mkdir`, ...).
    pub fn call(&self) -> &str {
        self.call
    }

    /// The guest path, entry or file the error is about (may be empty).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The message without call and subject.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The OS error number behind this error, if any.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.source
            .as_ref()
            .and_then(|s| s.downcast_ref::<io::Error>())
            .and_then(io::Error::raw_os_error)
    }

    fn render(&self) -> String {
        let mut out = self.call.to_string();
        if !self.subject.is_empty() {
            out.push_str(": ");
            out.push_str(&self.subject);
        }
        if !self.message.is_empty() {
            out.push_str(": ");
            out.push_str(&self.message);
        }
        out
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match e.kind {
            ErrorKind::NotFound => io::ErrorKind::NotFound,
            ErrorKind::AlreadyExists => io::ErrorKind::AlreadyExists,
            ErrorKind::InvalidArgument | ErrorKind::Unsafe => io::ErrorKind::InvalidInput,
            ErrorKind::Corrupt | ErrorKind::LimitExceeded => io::ErrorKind::InvalidData,
            ErrorKind::Unsupported => io::ErrorKind::Unsupported,
            ErrorKind::PermissionDenied => io::ErrorKind::PermissionDenied,
            // Other, never Interrupted (read loops retry that); the cancellation
            // stays recognisable through the source (`is_cancelled_io`).
            ErrorKind::WrongType | ErrorKind::Io | ErrorKind::Cancelled => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// The [`ErrorKind`] of an I/O error (a cancellation through a
/// [`vmcraft_block::CancelToken`] is [`ErrorKind::Cancelled`]).
pub fn kind_of_io(err: &io::Error) -> ErrorKind {
    use io::ErrorKind as K;
    if vmcraft_block::cancel::is_cancelled_io(err) {
        return ErrorKind::Cancelled;
    }
    match err.kind() {
        K::NotFound => ErrorKind::NotFound,
        K::AlreadyExists => ErrorKind::AlreadyExists,
        K::InvalidInput => ErrorKind::InvalidArgument,
        K::InvalidData | K::UnexpectedEof => ErrorKind::Corrupt,
        K::PermissionDenied => ErrorKind::PermissionDenied,
        K::IsADirectory | K::NotADirectory | K::DirectoryNotEmpty => ErrorKind::WrongType,
        K::Unsupported => ErrorKind::Unsupported,
        _ => match err.raw_os_error() {
            Some(e) if e == rustix::io::Errno::OPNOTSUPP.raw_os_error() => ErrorKind::Unsupported,
            Some(e) if e == rustix::io::Errno::LOOP.raw_os_error() => ErrorKind::WrongType,
            _ => ErrorKind::Io,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_shape_and_source() {
        let e = Error::io(
            "mkdir",
            "/etc/x",
            "",
            io::Error::from_raw_os_error(rustix::io::Errno::EXIST.raw_os_error()),
        );
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        assert_eq!(e.to_string(), "mkdir: /etc/x");
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(
            e.raw_os_error(),
            Some(rustix::io::Errno::EXIST.raw_os_error())
        );
        let e = e.context("entry \"./a\"");
        assert_eq!(e.to_string(), "mkdir: /etc/x: entry \"./a\"");
        let e = Error::new(ErrorKind::Corrupt, "tar_in", "", "bad header");
        assert_eq!(e.to_string(), "tar_in: bad header");
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn io_kinds() {
        let k = |errno: rustix::io::Errno| kind_of_io(&io::Error::from(errno));
        assert_eq!(k(rustix::io::Errno::NOENT), ErrorKind::NotFound);
        assert_eq!(k(rustix::io::Errno::NOTDIR), ErrorKind::WrongType);
        assert_eq!(k(rustix::io::Errno::OPNOTSUPP), ErrorKind::Unsupported);
        assert_eq!(k(rustix::io::Errno::IO), ErrorKind::Io);
        assert_eq!(k(rustix::io::Errno::ACCESS), ErrorKind::PermissionDenied);
    }
}
