//! The crate's error: a matchable [`ErrorKind`], the libhivex function (or this
//! crate's check) that failed, what it failed on, and libhivex's `errno` text.

/// What went wrong, for callers that branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The hive file, a node, a child or a value is not there.
    NotFound,
    /// A bad argument: a handle that is not a node or value of this hive, a name
    /// with a NUL byte, a value of the wrong type for the conversion asked.
    Invalid,
    /// The file is not a usable registry hive: bad signature, bad checksum,
    /// truncated, cells pointing outside the file, a cycle in the key tree.
    Corrupt,
    /// Something is larger than this crate (or libhivex) accepts: the hive file,
    /// a value, a list of children or values.
    TooLarge,
    /// A write on a hive opened without `write`.
    ReadOnly,
    /// Something libhivex does not support (another major version, ...).
    Unsupported,
    /// An I/O error reading or writing the hive file.
    Io,
}

/// An error of this crate.
///
/// ```
/// use vmcraft_hivex::{ErrorKind, Hive};
/// let err = Hive::open("/nonexistent/SYSTEM", false).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::NotFound);
/// assert_eq!(err.to_string(), "hivex_open: /nonexistent/SYSTEM: no such file or directory");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{op}: {what}")]
pub struct Error {
    kind: ErrorKind,
    op: &'static str,
    what: String,
    errno: Option<i32>,
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error of this crate's own checks.
    pub(crate) fn new(kind: ErrorKind, op: &'static str, what: impl Into<String>) -> Self {
        Error {
            kind,
            op,
            what: what.into(),
            errno: None,
        }
    }

    /// An error as the worker reported it.
    pub(crate) fn with_errno(
        kind: ErrorKind,
        op: &'static str,
        what: String,
        errno: Option<i32>,
    ) -> Self {
        Error {
            kind,
            op,
            what,
            errno,
        }
    }

    /// An error from `errno` (libhivex's or the system's), about `context`.
    pub(crate) fn from_errno(
        op: &'static str,
        context: impl std::fmt::Display,
        errno: i32,
    ) -> Self {
        let text = errno_text(errno);
        let what = if context.to_string().is_empty() {
            text
        } else {
            format!("{context}: {text}")
        };
        Error {
            kind: kind_of(op, errno),
            op,
            what,
            errno: Some(errno),
        }
    }

    /// The last `errno` of this thread, about `context` (`errno` 0 reads as
    /// `EINVAL`: libhivex failed without saying why).
    pub(crate) fn last(op: &'static str, context: impl std::fmt::Display) -> Self {
        let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        Error::from_errno(op, context, if e == 0 { libc::EINVAL } else { e })
    }

    /// An I/O error of the standard library, about `context`.
    pub(crate) fn io(
        op: &'static str,
        context: impl std::fmt::Display,
        e: &std::io::Error,
    ) -> Self {
        match e.raw_os_error() {
            Some(n) => Error::from_errno(op, context, n),
            None => Error::new(ErrorKind::Io, op, format!("{context}: {e}")),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The libhivex function (or this crate's operation) that failed:
    /// `hivex_open`, `hivex_node_children`, ...
    pub fn op(&self) -> &'static str {
        self.op
    }

    /// The message without the operation (`/w/SYSTEM: bad checksum in hive header`).
    pub fn message(&self) -> &str {
        &self.what
    }

    /// The `errno` libhivex (or the system) set, when the error came from one.
    pub fn errno(&self) -> Option<i32> {
        self.errno
    }
}

/// `strerror`'s text, with a lower-case first letter.
fn errno_text(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    // Drop the " (os error N)" the standard library adds.
    let s = s.split(" (os error").next().unwrap_or(&s).to_string();
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => s,
    }
}

/// The kind of an errno, as libhivex uses them: `ENOENT`/`ENOKEY` not there,
/// `EINVAL` a bad handle or argument (a bad checksum while opening),
/// `ENOTSUP`/`EFAULT` a structure libhivex refuses, `ERANGE`/`E2BIG`/`ENOMEM`
/// over a limit, `EROFS` a write without `HIVEX_OPEN_WRITE`.
fn kind_of(op: &str, errno: i32) -> ErrorKind {
    match errno {
        libc::ENOENT | libc::ENOKEY => ErrorKind::NotFound,
        libc::EINVAL if op == "hivex_open" => ErrorKind::Corrupt,
        libc::EINVAL | libc::EILSEQ => ErrorKind::Invalid,
        libc::ENOTSUP | libc::EFAULT | libc::ELOOP => ErrorKind::Corrupt,
        libc::ERANGE | libc::E2BIG | libc::ENOMEM | libc::EFBIG => ErrorKind::TooLarge,
        libc::EROFS => ErrorKind::ReadOnly,
        _ => ErrorKind::Io,
    }
}
