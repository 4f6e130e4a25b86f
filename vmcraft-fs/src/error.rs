//! [`Error`], [`ErrorKind`] and [`Result`]: one error type for the crate, with a
//! small kind callers match on and a libguestfs-style message (`call: path: what`,
//! lower-case), the cause kept behind [`std::error::Error::source`].

use std::fmt;

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No such file or directory in the guest tree (`ENOENT`).
    NotFound,
    /// A path component that must be a directory is not one (`ENOTDIR`).
    NotADirectory,
    /// A directory where content was asked for (`EISDIR`).
    IsADirectory,
    /// Not a symbolic link where one was required (`EINVAL` from `readlink`).
    NotASymlink,
    /// Not a regular file where content was asked for (a device node, FIFO, socket).
    NotARegularFile,
    /// Too many symbolic links while resolving a path (`ELOOP`).
    Loop,
    /// The image or filesystem is damaged or hostile (a bad superblock, a
    /// directory loop, an impossible size, a panic inside a third-party reader).
    Corrupt,
    /// A format or filesystem the in-process path cannot read (vmdk, xfs, a
    /// qcow2 backing file); the kernel path may.
    Unsupported,
    /// More than the caller's limit would have to be read or allocated.
    TooLarge,
    /// A bad argument (a relative path, an offset past the end).
    InvalidArgument,
    /// No such extended attribute (`ENODATA`).
    NoAttribute,
    /// An I/O error from the host (reading the image file).
    Io,
}

/// The error of every call of this crate.
///
/// ```
/// use vmcraft_fs::{Error, ErrorKind};
/// let err = Error::new(ErrorKind::NotFound, "stat", "/etc/nope", "no such file or directory");
/// assert_eq!(err.to_string(), "stat: /etc/nope: no such file or directory");
/// assert_eq!(err.kind(), ErrorKind::NotFound);
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

/// The result of every call of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

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
    /// An error of `kind` in `call` about `subject` (a guest path, an image).
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

    /// A [`ErrorKind::Corrupt`] error.
    pub fn corrupt(call: &'static str, subject: impl fmt::Display, msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Corrupt, call, subject, msg)
    }

    /// A [`ErrorKind::Unsupported`] error.
    pub fn unsupported(
        call: &'static str,
        subject: impl fmt::Display,
        msg: impl Into<String>,
    ) -> Self {
        Self::new(ErrorKind::Unsupported, call, subject, msg)
    }

    /// An [`ErrorKind::Io`] error (or the kind an `io::ErrorKind` stands for)
    /// with the I/O error as its source.
    pub fn io(call: &'static str, subject: impl fmt::Display, err: std::io::Error) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
                ErrorKind::Corrupt
            }
            std::io::ErrorKind::Unsupported => ErrorKind::Unsupported,
            _ => ErrorKind::Io,
        };
        let msg = lower_first(&err.to_string());
        Self::new(kind, call, subject, msg).with_source(err)
    }

    /// Attach the cause.
    pub fn with_source(mut self, err: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(err));
        self
    }

    /// Replace the call named in the message.
    pub fn with_call(mut self, call: &'static str) -> Self {
        self.call = call;
        self
    }

    /// Replace the subject named in the message.
    pub fn with_subject(mut self, subject: impl fmt::Display) -> Self {
        self.subject = subject.to_string();
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The call that failed (`stat`, `read_file`, `open_image`, ...).
    pub fn call(&self) -> &str {
        self.call
    }

    /// What it failed on (a guest path or an image name).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The message, without call and subject.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The `errno` value a POSIX caller would expect for this error.
    ///
    /// ```
    /// use vmcraft_fs::{Error, ErrorKind};
    /// let err = Error::new(ErrorKind::Loop, "stat", "/a", "too many levels of symbolic links");
    /// assert_eq!(err.errno(), libc_eloop());
    /// # fn libc_eloop() -> i32 { 40 }
    /// ```
    pub fn errno(&self) -> i32 {
        match self.kind {
            ErrorKind::NotFound => 2,
            ErrorKind::NotADirectory => 20,
            ErrorKind::IsADirectory => 21,
            ErrorKind::NotASymlink | ErrorKind::InvalidArgument | ErrorKind::NotARegularFile => 22,
            ErrorKind::Loop => 40,
            ErrorKind::Corrupt => 117, // EUCLEAN, as the kernel's filesystems answer
            ErrorKind::Unsupported => 95,
            ErrorKind::TooLarge => 27,
            ErrorKind::NoAttribute => 61,
            ErrorKind::Io => 5,
        }
    }
}

/// `Some Message` -> `some Message`, for messages taken from other crates.
pub(crate) fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_uppercase() && !chars.clone().next().is_some_and(char::is_uppercase) => {
            c.to_lowercase().chain(chars).collect()
        }
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_format() {
        let e = Error::new(ErrorKind::Corrupt, "open_fs", "", "bad superblock");
        assert_eq!(e.to_string(), "open_fs: bad superblock");
        assert_eq!(lower_first("Invalid cluster size"), "invalid cluster size");
        assert_eq!(lower_first("NTFS error"), "NTFS error");
        let io = Error::io("read_at", "disk.img", std::io::Error::other("Boom"));
        assert_eq!(io.to_string(), "read_at: disk.img: boom");
        assert_eq!(io.kind(), ErrorKind::Io);
        assert!(std::error::Error::source(&io).is_some());
    }
}
