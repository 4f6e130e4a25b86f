//! The crate's [`Error`]: a matchable [`ErrorKind`], a libguestfs-style message
//! (`aug_get: /files/etc/hosts/9/ipaddr: no matching node`), Augeas's own
//! [`Diagnosis`] when Augeas reported the failure, and the per-file [`FileError`]s
//! Augeas recorded under `/augeas//error` when a save (or a load) went wrong.

use std::fmt;

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No Augeas handle is open: `aug_init` was never called, failed, or the handle
    /// was closed.
    NotInitialised,
    /// The path expression matches no node.
    NoMatch,
    /// The path expression matches more than one node where one is required.
    TooManyMatches,
    /// The node exists but has no value (`aug_get`) or no label (`aug_label`).
    NoValue,
    /// An argument was refused before reaching Augeas (a bad label, an `aug_ls`
    /// path ending in `/`, `]` or `*`, a NUL byte, a root that is not a
    /// directory), or Augeas refused one (moving a node into its descendant).
    InvalidArgument,
    /// Augeas could not parse the path expression.
    InvalidPath,
    /// A lens or lens module could not be found.
    NoLens,
    /// `aug_save` could not write one or more files; see
    /// [`Error::file_errors`].
    SaveFailed,
    /// Any other failure Augeas reported; see [`Error::diagnosis`].
    Augeas,
    /// A value or path in the tree is not valid UTF-8.
    Encoding,
    /// Confining Augeas to the guest root needs a privilege this process lacks
    /// (`CAP_SYS_CHROOT`: run as root).
    Permission,
    /// The guest root was refused because Augeas could not be confined to it: a
    /// kernel filesystem (`proc`, `sysfs`, `devtmpfs`, ...) is mounted inside it,
    /// through whose magic links a guest symlink could reach host files; or
    /// device nodes could be opened on it (a mount without `nodev`, and the
    /// worker could not make a `nodev` copy of the guest's mounts, for want of
    /// `CAP_SYS_ADMIN` or of a kernel with `mount_setattr`, Linux 5.12).
    UnsafeRoot,
    /// Augeas or its lenses are not installed; the message says what to install.
    Unavailable,
    /// A host I/O error (opening the guest root, reading the mount table).
    Io,
    /// An unexpected failure between the handle and its worker process: the
    /// worker could not be started, or sent an answer the handle could not
    /// read (the worker is then killed and the handle closed).
    Internal,
    /// The worker process that runs Augeas for the handle died: it crashed
    /// (a stack overflow on a deeply nested guest file is a `SIGSEGV`), hit one
    /// of its resource limits (`SIGXCPU` for CPU time), panicked, or was
    /// killed. The call that was running fails
    /// with this kind and the message names the signal; the handle stays
    /// unusable (every later call fails the same way) until
    /// [`Augeas::aug_close`](crate::Augeas::aug_close) or
    /// [`Augeas::aug_init`](crate::Augeas::aug_init). The calling process is
    /// not affected.
    WorkerCrashed,
    /// An answer from the worker was larger than a handle accepts (64 MiB); it
    /// was dropped, and the handle stays usable. Narrow the path expression.
    TooLarge,
}

/// The error code Augeas's C library reported (`aug_error`), as an enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AugeasCode {
    /// `AUG_ENOMEM`: out of memory.
    NoMem,
    /// `AUG_EINTERNAL`: internal error (a bug in Augeas).
    Internal,
    /// `AUG_EPATHX`: invalid path expression.
    PathExpr,
    /// `AUG_ENOMATCH`: no match for a path expression.
    NoMatch,
    /// `AUG_EMMATCH`: too many matches for a path expression.
    TooManyMatches,
    /// `AUG_ESYNTAX`: syntax error in a lens file.
    Syntax,
    /// `AUG_ENOLENS`: lens lookup failed.
    NoLens,
    /// `AUG_EMXFM`: several transforms for one file.
    MultipleTransforms,
    /// `AUG_ENOSPAN`: no span for this node.
    NoSpan,
    /// `AUG_EMVDESC`: cannot move a node into its descendant.
    MoveDescendant,
    /// `AUG_ECMDRUN`: failed to run a command.
    CmdRun,
    /// `AUG_EBADARG`: invalid argument in a function call.
    BadArg,
    /// `AUG_ELABEL`: invalid label.
    Label,
    /// `AUG_ECPDESC`: cannot copy a node into its descendant.
    CopyDescendant,
    /// `AUG_EFILEACCESS`: cannot open or read a file.
    FileAccess,
    /// A code this crate does not know.
    Unknown,
}

impl AugeasCode {
    fn kind(self) -> ErrorKind {
        match self {
            Self::NoMatch => ErrorKind::NoMatch,
            Self::TooManyMatches => ErrorKind::TooManyMatches,
            Self::PathExpr => ErrorKind::InvalidPath,
            Self::NoLens => ErrorKind::NoLens,
            Self::Label | Self::BadArg | Self::MoveDescendant | Self::CopyDescendant => {
                ErrorKind::InvalidArgument
            }
            Self::FileAccess => ErrorKind::Io,
            _ => ErrorKind::Augeas,
        }
    }
}

/// Augeas's own account of a failed call: the code and the three messages of
/// `aug_error`, `aug_error_message`, `aug_error_minor_message` and
/// `aug_error_details`.
///
/// Displayed as libguestfs shows it: `message: minor: details`.
///
/// ```
/// use vmcraft_aug::{AugeasCode, Diagnosis};
/// let d = Diagnosis {
///     code: AugeasCode::PathExpr,
///     message: Some("Invalid path expression".into()),
///     minor_message: Some("empty name".into()),
///     details: Some("/files/|=|[".into()),
/// };
/// assert_eq!(d.to_string(), "Invalid path expression: empty name: /files/|=|[");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// The error code.
    pub code: AugeasCode,
    /// The message for the code (`aug_error_message`).
    pub message: Option<String>,
    /// A message elaborating on it (`aug_error_minor_message`).
    pub minor_message: Option<String>,
    /// Details, such as the offending part of a path (`aug_error_details`).
    pub details: Option<String>,
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code == AugeasCode::NoMem {
            return f.write_str("augeas out of memory");
        }
        let mut parts = [&self.message, &self.minor_message, &self.details]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty());
        match parts.next() {
            Some(first) => f.write_str(first)?,
            None => write!(f, "augeas error {:?}", self.code)?,
        }
        for part in parts {
            write!(f, ": {part}")?;
        }
        Ok(())
    }
}

/// One error Augeas recorded for a file under `/augeas/files/FILE/error`: a
/// failed parse at load time (`parse_failed`), or a failed save (`put_failed`,
/// `open_augnew`, `rename_augnew`, ...).
///
/// ```
/// use vmcraft_aug::FileError;
/// let e = FileError {
///     file: "/etc/fstab".into(),
///     kind: "put_failed".into(),
///     message: "Malformed child node 'opt'".into(),
///     path: None,
///     lens: None,
///     line: None,
///     char: None,
/// };
/// assert_eq!(e.to_string(), "/etc/fstab: Malformed child node 'opt'");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file, as a path inside the guest (`/etc/fstab`).
    pub file: String,
    /// What failed, Augeas's error token (`put_failed`, `parse_failed`, ...).
    pub kind: String,
    /// Augeas's message (may span several lines).
    pub message: String,
    /// The tree node where the lens failed, when Augeas names one.
    pub path: Option<String>,
    /// The lens (file and position) that failed, when Augeas names one.
    pub lens: Option<String>,
    /// The line of the file where parsing failed.
    pub line: Option<usize>,
    /// The character within that line where parsing failed.
    pub char: Option<usize>,
}

impl FileError {
    /// Whether Augeas recorded this error while loading (reading or parsing) the
    /// file, rather than while saving it.
    pub fn is_load_error(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "parse_failed" | "read_failed" | "mxfm_load" | "parse_skel_failed"
        )
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = self.message.lines().next().unwrap_or("").trim();
        match (first.is_empty(), self.kind.as_str()) {
            (true, kind) => write!(f, "{}: {kind}", self.file)?,
            (false, "put_failed" | "parse_failed") => write!(f, "{}: {first}", self.file)?,
            (false, kind) => write!(f, "{}: {kind}: {first}", self.file)?,
        }
        if let (Some(line), Some(ch)) = (self.line, self.char) {
            write!(f, " (line {line}, char {ch})")?;
        }
        Ok(())
    }
}

/// The error of every call in this crate.
///
/// Its message names the call, its arguments and what went wrong, in libguestfs
/// style; [`Error::kind`] is for branching, [`Error::diagnosis`] carries Augeas's
/// own error report, [`Error::file_errors`] the per-file errors of a failed save
/// (or the parse failure that explains a missing node).
///
/// ```
/// use vmcraft_aug::{Augeas, ErrorKind};
/// let aug = Augeas::default(); // no handle open yet
/// let err = aug.aug_get("/files/etc/hosts/1/ipaddr").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::NotInitialised);
/// assert_eq!(
///     err.to_string(),
///     "aug_get: you must call aug_init first to initialize augeas"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    call: &'static str,
    message: String,
    // Boxed: most errors have neither, and a small error keeps `Result` small.
    extra: Option<Box<Extra>>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// What Augeas itself said about an error.
#[derive(Debug, Default)]
struct Extra {
    diagnosis: Option<Diagnosis>,
    files: Vec<FileError>,
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

fn render(call: &str, context: &str, detail: &str) -> String {
    let mut s = String::from(call);
    for part in [context, detail] {
        if !part.is_empty() {
            s.push_str(": ");
            s.push_str(part);
        }
    }
    s
}

impl Error {
    /// An error of `kind` from `call`, about `context` (the arguments, may be
    /// empty), saying `detail`.
    pub(crate) fn new(
        kind: ErrorKind,
        call: &'static str,
        context: impl AsRef<str>,
        detail: impl AsRef<str>,
    ) -> Self {
        Error {
            kind,
            call,
            message: render(call, context.as_ref(), detail.as_ref()),
            extra: None,
            source: None,
        }
    }

    /// An error whose message is already rendered (an error that crossed the
    /// wire from the worker).
    pub(crate) fn with_message(kind: ErrorKind, call: &'static str, message: String) -> Self {
        Error {
            kind,
            call,
            message,
            extra: None,
            source: None,
        }
    }

    /// Attach Augeas's diagnosis.
    pub(crate) fn with_diagnosis(mut self, diagnosis: Diagnosis) -> Self {
        self.extra.get_or_insert_default().diagnosis = Some(diagnosis);
        self
    }

    /// The error for a call made with no handle open.
    pub(crate) fn not_initialised(call: &'static str) -> Self {
        Self::new(
            ErrorKind::NotInitialised,
            call,
            "",
            "you must call aug_init first to initialize augeas",
        )
    }

    /// Map an error of the binding to libaugeas, keeping Augeas's diagnosis.
    pub(crate) fn from_binding(
        call: &'static str,
        context: impl AsRef<str>,
        err: crate::binding::BindError,
    ) -> Self {
        use crate::binding::BindError;
        let context = context.as_ref();
        match err {
            BindError::Augeas(a) => {
                let diagnosis = Diagnosis {
                    code: a.code,
                    message: a.message,
                    minor_message: a.minor_message,
                    details: a.details,
                };
                let mut e = Self::new(diagnosis.code.kind(), call, context, diagnosis.to_string());
                e.extra.get_or_insert_default().diagnosis = Some(diagnosis);
                e
            }
            BindError::Nul(n) => Self::new(
                ErrorKind::InvalidArgument,
                call,
                context,
                "an argument contains a NUL byte",
            )
            .with_source(n),
            BindError::Utf8(u) => Self::new(
                ErrorKind::Encoding,
                call,
                context,
                "augeas returned text that is not valid UTF-8",
            )
            .with_source(u),
            BindError::Io(io) => {
                Self::new(ErrorKind::Io, call, context, "i/o error").with_source(io)
            }
            BindError::Tree(t) => Self::new(
                ErrorKind::Augeas,
                call,
                context,
                format!("{}: {}", t.kind, t.message),
            ),
        }
    }

    /// Attach the underlying cause.
    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Attach per-file errors read from `/augeas//error`.
    pub(crate) fn with_files(mut self, files: Vec<FileError>) -> Self {
        self.extra.get_or_insert_default().files = files;
        self
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The libguestfs call that failed (`"aug_get"`, `"aug_save"`, ...).
    pub fn call(&self) -> &'static str {
        self.call
    }

    /// Augeas's own diagnosis, when Augeas reported the error.
    pub fn diagnosis(&self) -> Option<&Diagnosis> {
        self.extra.as_ref().and_then(|x| x.diagnosis.as_ref())
    }

    /// The per-file errors behind this one: the files a failed `aug_save` could
    /// not write and why, or the parse failure of the file a missing node was
    /// expected in.
    pub fn file_errors(&self) -> &[FileError] {
        self.extra.as_ref().map_or(&[], |x| &x.files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binding::{AugeasError, BindError};
    use std::error::Error as _;

    #[test]
    fn messages_skip_empty_parts() {
        let e = Error::new(
            ErrorKind::NoMatch,
            "aug_get",
            "/files/x",
            "no matching node",
        );
        assert_eq!(e.to_string(), "aug_get: /files/x: no matching node");
        let e = Error::new(ErrorKind::Internal, "aug_load", "", "worker died");
        assert_eq!(e.to_string(), "aug_load: worker died");
        assert_eq!(e.call(), "aug_load");
        assert!(e.diagnosis().is_none());
        assert!(e.file_errors().is_empty());
    }

    #[test]
    fn augeas_errors_keep_their_diagnosis() {
        let raw = BindError::Augeas(AugeasError {
            code: AugeasCode::TooManyMatches,
            message: Some("Too many matches for path expression".into()),
            minor_message: None,
            details: Some("There are 2 nodes matching /files/etc/hosts/*".into()),
        });
        let e = Error::from_binding("aug_get", "/files/etc/hosts/*", raw);
        assert_eq!(e.kind(), ErrorKind::TooManyMatches);
        assert_eq!(
            e.to_string(),
            "aug_get: /files/etc/hosts/*: Too many matches for path expression: \
             There are 2 nodes matching /files/etc/hosts/*"
        );
        let d = e.diagnosis().unwrap();
        assert_eq!(d.code, AugeasCode::TooManyMatches);
        assert_eq!(d.minor_message, None);
    }

    #[test]
    fn codes_map_to_kinds() {
        use AugeasCode as C;
        let cases = [
            (C::NoMatch, ErrorKind::NoMatch),
            (C::PathExpr, ErrorKind::InvalidPath),
            (C::NoLens, ErrorKind::NoLens),
            (C::Label, ErrorKind::InvalidArgument),
            (C::MoveDescendant, ErrorKind::InvalidArgument),
            (C::FileAccess, ErrorKind::Io),
            (C::Syntax, ErrorKind::Augeas),
            (C::Internal, ErrorKind::Augeas),
        ];
        for (code, kind) in cases {
            let e = Error::from_binding("aug_x", "", BindError::from(code));
            assert_eq!(e.kind(), kind, "{code:?}");
        }
        let e = Error::from_binding("aug_x", "", BindError::from(C::NoMem));
        assert_eq!(e.to_string(), "aug_x: augeas out of memory");
        let e = Error::from_binding("aug_x", "p", BindError::from(C::Unknown));
        assert_eq!(e.to_string(), "aug_x: p: augeas error Unknown");
    }

    #[test]
    fn other_binding_errors_keep_their_cause() {
        let nul = std::ffi::CString::new("a\0b").unwrap_err();
        let e = Error::from_binding("aug_set", "/files/a", BindError::Nul(nul));
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(
            e.to_string(),
            "aug_set: /files/a: an argument contains a NUL byte"
        );

        let utf8 = String::from_utf8(vec![0xff]).unwrap_err();
        let e = Error::from_binding("aug_get", "/files/a", BindError::Utf8(utf8));
        assert_eq!(e.kind(), ErrorKind::Encoding);
        assert!(e.source().is_some());

        let io = std::io::Error::from_raw_os_error(libc_enoent());
        let e = Error::from_binding("aug_init", "/r", BindError::Io(io));
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(e.to_string(), "aug_init: /r: i/o error");
        assert!(e.source().unwrap().to_string().contains("No such file"));
    }

    fn libc_enoent() -> i32 {
        nix::errno::Errno::ENOENT as i32
    }

    #[test]
    fn file_errors_render_like_libguestfs() {
        let mut fe = FileError {
            file: "/etc/fstab".into(),
            kind: "parse_failed".into(),
            message: "Iterated lens matched less than it should".into(),
            path: None,
            lens: Some("/usr/share/augeas/lenses/dist/fstab.aug:42.13-.43:".into()),
            line: Some(3),
            char: Some(0),
        };
        assert!(fe.is_load_error());
        assert_eq!(
            fe.to_string(),
            "/etc/fstab: Iterated lens matched less than it should (line 3, char 0)"
        );
        fe.kind = "rename_augnew".into();
        fe.message = "Permission denied".into();
        fe.line = None;
        assert!(!fe.is_load_error());
        assert_eq!(
            fe.to_string(),
            "/etc/fstab: rename_augnew: Permission denied"
        );
        fe.message = "\n".into();
        assert_eq!(fe.to_string(), "/etc/fstab: rename_augnew");
    }
}
