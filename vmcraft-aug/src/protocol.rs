//! The wire between a handle and its worker process: [`Request`]s one way,
//! [`Answer`]s the other, each a length-prefixed frame (a little-endian `u32`
//! byte count, then the request or answer as JSON).
//!
//! Every `aug_*` call is one request and one answer; the worker sends one extra
//! answer when it is ready (or has failed to open Augeas). The parent never
//! accepts a frame larger than [`MAX_FRAME`]: an answer that large is skipped
//! (its bytes read and dropped, so the stream stays in step) and the call fails
//! with [`ErrorKind::TooLarge`].
//!
//! Errors cross the wire as [`WireError`], which keeps everything a caller can
//! look at ([`Error::kind`], the message, [`Error::diagnosis`],
//! [`Error::file_errors`]); an error's cause (`source()`) arrives as its message.

use std::borrow::Cow;
use std::io::{self, Read};
use std::os::fd::BorrowedFd;

use serde::{Deserialize, Serialize};

use crate::error::{AugeasCode, Diagnosis, Error, ErrorKind, FileError};
use crate::handle::IntBool;

/// The largest frame either side accepts: 64 MiB.
pub(crate) const MAX_FRAME: usize = 64 << 20;

/// One `aug_*` call, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Request<'a> {
    /// `aug_get(path)`.
    Get(#[serde(borrow)] Cow<'a, str>),
    /// `aug_set(path, value)`.
    Set(#[serde(borrow)] Cow<'a, str>, #[serde(borrow)] Cow<'a, str>),
    /// `aug_clear(path)`.
    Clear(#[serde(borrow)] Cow<'a, str>),
    /// `aug_setm(base, sub, value)`.
    Setm(
        #[serde(borrow)] Cow<'a, str>,
        #[serde(borrow)] Option<Cow<'a, str>>,
        #[serde(borrow)] Cow<'a, str>,
    ),
    /// `aug_insert(path, label, before)`.
    Insert(
        #[serde(borrow)] Cow<'a, str>,
        #[serde(borrow)] Cow<'a, str>,
        bool,
    ),
    /// `aug_rm(path)`.
    Rm(#[serde(borrow)] Cow<'a, str>),
    /// `aug_mv(source, destination)`.
    Mv(#[serde(borrow)] Cow<'a, str>, #[serde(borrow)] Cow<'a, str>),
    /// `aug_match(path)`.
    Match(#[serde(borrow)] Cow<'a, str>),
    /// `aug_ls(path)`.
    Ls(#[serde(borrow)] Cow<'a, str>),
    /// `aug_label(path)`.
    Label(#[serde(borrow)] Cow<'a, str>),
    /// `aug_defvar(name, expression)`.
    Defvar(
        #[serde(borrow)] Cow<'a, str>,
        #[serde(borrow)] Option<Cow<'a, str>>,
    ),
    /// `aug_defnode(name, expression, value)`.
    Defnode(
        #[serde(borrow)] Cow<'a, str>,
        #[serde(borrow)] Cow<'a, str>,
        #[serde(borrow)] Cow<'a, str>,
    ),
    /// `aug_load()`.
    Load,
    /// `aug_save()`.
    Save,
    /// `aug_transform(lens, file, remove)`.
    Transform(
        #[serde(borrow)] Cow<'a, str>,
        #[serde(borrow)] Cow<'a, str>,
        bool,
    ),
    /// Test hook: the worker panics.
    #[cfg(test)]
    Panic,
    /// Test hook: the worker answers with a frame that is not an answer.
    #[cfg(test)]
    Garbage,
    /// Test hook: the worker tries a system call its confinement forbids and
    /// answers with the errno ([`Value::Count`], 0 if it succeeded).
    #[cfg(test)]
    Attempt(crate::seccomp::Attempt),
}

impl Request<'_> {
    /// What the call is about (its first argument), for error messages.
    pub(crate) fn subject(&self) -> &str {
        match self {
            Request::Get(s)
            | Request::Set(s, _)
            | Request::Clear(s)
            | Request::Setm(s, ..)
            | Request::Insert(s, ..)
            | Request::Rm(s)
            | Request::Mv(s, _)
            | Request::Match(s)
            | Request::Ls(s)
            | Request::Label(s)
            | Request::Defvar(s, _)
            | Request::Defnode(s, ..)
            | Request::Transform(s, ..) => s,
            Request::Load | Request::Save => "",
            #[cfg(test)]
            Request::Panic | Request::Garbage | Request::Attempt(_) => "",
        }
    }

    /// The total length of the string arguments.
    pub(crate) fn size(&self) -> usize {
        let opt = |o: &Option<Cow<'_, str>>| o.as_ref().map_or(0, |s| s.len());
        match self {
            Request::Get(a)
            | Request::Clear(a)
            | Request::Rm(a)
            | Request::Match(a)
            | Request::Ls(a)
            | Request::Label(a) => a.len(),
            Request::Set(a, b)
            | Request::Mv(a, b)
            | Request::Insert(a, b, _)
            | Request::Transform(a, b, _) => a.len() + b.len(),
            Request::Setm(a, b, c) => a.len() + opt(b) + c.len(),
            Request::Defvar(a, b) => a.len() + opt(b),
            Request::Defnode(a, b, c) => a.len() + b.len() + c.len(),
            Request::Load | Request::Save => 0,
            #[cfg(test)]
            Request::Panic | Request::Garbage | Request::Attempt(_) => 0,
        }
    }

    /// The libguestfs name of the call.
    pub(crate) fn call(&self) -> &'static str {
        match self {
            Request::Get(..) => "aug_get",
            Request::Set(..) => "aug_set",
            Request::Clear(..) => "aug_clear",
            Request::Setm(..) => "aug_setm",
            Request::Insert(..) => "aug_insert",
            Request::Rm(..) => "aug_rm",
            Request::Mv(..) => "aug_mv",
            Request::Match(..) => "aug_match",
            Request::Ls(..) => "aug_ls",
            Request::Label(..) => "aug_label",
            Request::Defvar(..) => "aug_defvar",
            Request::Defnode(..) => "aug_defnode",
            Request::Load => "aug_load",
            #[cfg(test)]
            Request::Panic | Request::Garbage | Request::Attempt(_) => "aug_test",
            Request::Save => "aug_save",
            Request::Transform(..) => "aug_transform",
        }
    }
}

/// What a call returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Value {
    /// Nothing (`aug_set`, `aug_save`, ...; and "ready" after init).
    Unit,
    /// A value or label.
    Text(String),
    /// Node paths.
    List(Vec<String>),
    /// A count (`aug_rm`, `aug_setm`, `aug_defvar`).
    Count(u64),
    /// `aug_defnode`'s node count and "created".
    IntBool(i32, bool),
}

/// One answer: the call's value or its error.
pub(crate) type Answer = std::result::Result<Value, Box<WireError>>;

/// The names a worker's error may give as its call, so that the parent can
/// hand out the `&'static str` that [`Error::call`] returns.
const CALLS: &[&str] = &[
    "aug_init",
    "aug_close",
    "aug_get",
    "aug_set",
    "aug_clear",
    "aug_setm",
    "aug_insert",
    "aug_rm",
    "aug_mv",
    "aug_match",
    "aug_ls",
    "aug_label",
    "aug_defvar",
    "aug_defnode",
    "aug_load",
    "aug_save",
    "aug_transform",
];

/// Every [`ErrorKind`], in wire order (append only).
const KINDS: &[ErrorKind] = &[
    ErrorKind::NotInitialised,
    ErrorKind::NoMatch,
    ErrorKind::TooManyMatches,
    ErrorKind::NoValue,
    ErrorKind::InvalidArgument,
    ErrorKind::InvalidPath,
    ErrorKind::NoLens,
    ErrorKind::SaveFailed,
    ErrorKind::Augeas,
    ErrorKind::Encoding,
    ErrorKind::Permission,
    ErrorKind::UnsafeRoot,
    ErrorKind::Unavailable,
    ErrorKind::Io,
    ErrorKind::Internal,
    ErrorKind::WorkerCrashed,
    ErrorKind::TooLarge,
];

/// Every [`AugeasCode`], in wire order (append only).
const CODES: &[AugeasCode] = &[
    AugeasCode::NoMem,
    AugeasCode::Internal,
    AugeasCode::PathExpr,
    AugeasCode::NoMatch,
    AugeasCode::TooManyMatches,
    AugeasCode::Syntax,
    AugeasCode::NoLens,
    AugeasCode::MultipleTransforms,
    AugeasCode::NoSpan,
    AugeasCode::MoveDescendant,
    AugeasCode::CmdRun,
    AugeasCode::BadArg,
    AugeasCode::Label,
    AugeasCode::CopyDescendant,
    AugeasCode::FileAccess,
    AugeasCode::Unknown,
];

fn index_of<T: PartialEq>(table: &[T], value: &T) -> u8 {
    table.iter().position(|v| v == value).unwrap_or(0) as u8
}

/// [`Diagnosis`] on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireDiagnosis {
    code: u8,
    message: Option<String>,
    minor_message: Option<String>,
    details: Option<String>,
}

/// [`FileError`] on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireFileError {
    file: String,
    kind: String,
    message: String,
    path: Option<String>,
    lens: Option<String>,
    line: Option<usize>,
    char: Option<usize>,
}

/// [`Error`] on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireError {
    kind: u8,
    call: String,
    message: String,
    diagnosis: Option<WireDiagnosis>,
    files: Vec<WireFileError>,
    /// The message of the error's cause.
    source: Option<String>,
}

impl WireError {
    /// `e` on the wire, as an [`Answer`]'s error.
    pub(crate) fn boxed(e: &Error) -> Box<WireError> {
        Box::new(WireError::from(e))
    }
}

impl From<&Error> for WireError {
    fn from(e: &Error) -> Self {
        WireError {
            kind: index_of(KINDS, &e.kind()),
            call: e.call().to_string(),
            message: e.to_string(),
            diagnosis: e.diagnosis().map(|d| WireDiagnosis {
                code: index_of(CODES, &d.code),
                message: d.message.clone(),
                minor_message: d.minor_message.clone(),
                details: d.details.clone(),
            }),
            files: e
                .file_errors()
                .iter()
                .map(|f| WireFileError {
                    file: f.file.clone(),
                    kind: f.kind.clone(),
                    message: f.message.clone(),
                    path: f.path.clone(),
                    lens: f.lens.clone(),
                    line: f.line,
                    char: f.char,
                })
                .collect(),
            source: std::error::Error::source(e).map(ToString::to_string),
        }
    }
}

/// The cause of an error raised in the worker, by its message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct RemoteCause(String);

impl WireError {
    /// The error again, in the parent. `call` is the call the parent made; the
    /// worker's own name for it is used when it is one this crate knows.
    pub(crate) fn into_error(self, call: &'static str) -> Error {
        let call = CALLS
            .iter()
            .copied()
            .find(|c| *c == self.call)
            .unwrap_or(call);
        let kind = KINDS
            .get(usize::from(self.kind))
            .copied()
            .unwrap_or(ErrorKind::Internal);
        let mut e = Error::with_message(kind, call, self.message);
        if let Some(d) = self.diagnosis {
            e = e.with_diagnosis(Diagnosis {
                code: CODES
                    .get(usize::from(d.code))
                    .copied()
                    .unwrap_or(AugeasCode::Unknown),
                message: d.message,
                minor_message: d.minor_message,
                details: d.details,
            });
        }
        if !self.files.is_empty() {
            e = e.with_files(
                self.files
                    .into_iter()
                    .map(|f| FileError {
                        file: f.file,
                        kind: f.kind,
                        message: f.message,
                        path: f.path,
                        lens: f.lens,
                        line: f.line,
                        char: f.char,
                    })
                    .collect(),
            );
        }
        match self.source {
            Some(s) => e.with_source(RemoteCause(s)),
            None => e,
        }
    }
}

impl Value {
    /// The text of a [`Value::Text`].
    pub(crate) fn text(self, call: &'static str) -> crate::Result<String> {
        match self {
            Value::Text(s) => Ok(s),
            other => Err(unexpected(call, &other)),
        }
    }

    /// The paths of a [`Value::List`].
    pub(crate) fn list(self, call: &'static str) -> crate::Result<Vec<String>> {
        match self {
            Value::List(l) => Ok(l),
            other => Err(unexpected(call, &other)),
        }
    }

    /// The count of a [`Value::Count`].
    pub(crate) fn count(self, call: &'static str) -> crate::Result<usize> {
        match self {
            Value::Count(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
            other => Err(unexpected(call, &other)),
        }
    }

    /// The pair of a [`Value::IntBool`].
    pub(crate) fn int_bool(self, call: &'static str) -> crate::Result<IntBool> {
        match self {
            Value::IntBool(i, b) => Ok(IntBool { i, b }),
            other => Err(unexpected(call, &other)),
        }
    }

    /// Nothing, as [`Value::Unit`] says.
    pub(crate) fn unit(self, call: &'static str) -> crate::Result<()> {
        match self {
            Value::Unit => Ok(()),
            other => Err(unexpected(call, &other)),
        }
    }
}

fn unexpected(call: &'static str, v: &Value) -> Error {
    let what = match v {
        Value::Unit => "nothing",
        Value::Text(_) => "a text",
        Value::List(_) => "a list",
        Value::Count(_) => "a count",
        Value::IntBool(..) => "an int_bool",
    };
    Error::new(
        ErrorKind::Internal,
        call,
        "",
        format!("the augeas worker answered with {what}, which this call does not return"),
    )
}

/// Put `msg` into `buf` as one frame (`buf` is cleared first); returns the
/// payload's length, which the caller checks against [`MAX_FRAME`] before
/// sending the frame.
pub(crate) fn encode<T: Serialize>(buf: &mut Vec<u8>, msg: &T) -> io::Result<usize> {
    buf.clear();
    buf.extend_from_slice(&[0; 4]);
    serde_json::to_writer(&mut *buf, msg)?;
    let len = buf.len() - 4;
    buf[..4].copy_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
    Ok(len)
}

/// Send all of `buf` on the socket `fd`; a peer that is gone is an error
/// (`EPIPE`), never a `SIGPIPE`.
pub(crate) fn send_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match rustix::net::send(fd, buf, rustix::net::SendFlags::NOSIGNAL) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// What reading one frame found.
#[derive(Debug)]
pub(crate) enum Frame {
    /// The frame's bytes are in the buffer.
    Read,
    /// The other side closed the stream before a frame began.
    Closed,
    /// A frame of this many bytes, over [`MAX_FRAME`], was read and dropped.
    TooLarge(usize),
}

/// Read one frame into `buf`; a frame over [`MAX_FRAME`] is consumed and
/// dropped so that the next frame can still be read.
pub(crate) fn read_frame(r: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<Frame> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(Frame::Closed),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        let skipped = io::copy(&mut r.take(len as u64), &mut io::sink())?;
        if skipped < len as u64 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        return Ok(Frame::TooLarge(len));
    }
    buf.clear();
    buf.resize(len, 0);
    r.read_exact(buf)?;
    Ok(Frame::Read)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    fn round_trip<T: Serialize + for<'de> Deserialize<'de>>(msg: &T) -> T {
        let mut buf = Vec::new();
        encode(&mut buf, msg).unwrap();
        let mut back = Vec::new();
        let mut r = &buf[..];
        assert!(matches!(
            read_frame(&mut r, &mut back).unwrap(),
            Frame::Read
        ));
        assert!(r.is_empty());
        serde_json::from_slice(&back).unwrap()
    }

    #[test]
    fn requests_survive_the_wire_borrowed_where_they_can() {
        let path = "/files/etc/hosts/*[canonical = \"db\"]/ipaddr";
        for req in [
            Request::Get(path.into()),
            Request::Setm("/a".into(), None, "v\n\t\u{e9}".into()),
            Request::Insert("/a".into(), "b".into(), true),
            Request::Defvar("x".into(), Some("/files/*".into())),
            Request::Load,
        ] {
            let mut buf = Vec::new();
            encode(&mut buf, &req).unwrap();
            let back: Request<'_> = serde_json::from_slice(&buf[4..]).unwrap();
            assert_eq!(back, req);
            assert_eq!(back.call(), req.call());
        }
        let mut buf = Vec::new();
        encode(&mut buf, &Request::Ls("/files/etc".into())).unwrap();
        match serde_json::from_slice::<Request<'_>>(&buf[4..]).unwrap() {
            Request::Ls(Cow::Borrowed(p)) => assert_eq!(p, "/files/etc"),
            other => panic!("not borrowed: {other:?}"),
        }
    }

    #[test]
    fn errors_keep_kind_message_diagnosis_files_and_cause() {
        let raw = crate::binding::BindError::Augeas(crate::binding::AugeasError {
            code: AugeasCode::PathExpr,
            message: Some("Invalid path expression".into()),
            minor_message: Some("empty name".into()),
            details: Some("/files/|=|[".into()),
        });
        let e = Error::from_binding("aug_set", "/files/[: x", raw).with_files(vec![FileError {
            file: "/etc/fstab".into(),
            kind: "parse_failed".into(),
            message: "bad".into(),
            path: Some("/files/etc/fstab".into()),
            lens: None,
            line: Some(3),
            char: Some(1),
        }]);
        let back: Answer = round_trip(&Answer::Err(WireError::boxed(&e)));
        let back = back.unwrap_err().into_error("aug_set");
        assert_eq!(back.kind(), e.kind());
        assert_eq!(back.call(), "aug_set");
        assert_eq!(back.to_string(), e.to_string());
        assert_eq!(back.diagnosis(), e.diagnosis());
        assert_eq!(back.file_errors(), e.file_errors());
        assert!(back.source().is_none());

        let io = std::io::Error::from_raw_os_error(nix::errno::Errno::EACCES as i32);
        let e = Error::new(ErrorKind::Io, "aug_init", "/r", "cannot open").with_source(io);
        let back = WireError::from(&e).into_error("aug_get");
        assert_eq!(back.call(), "aug_init", "the worker's call name is kept");
        assert_eq!(back.to_string(), "aug_init: /r: cannot open");
        assert!(
            back.source()
                .unwrap()
                .to_string()
                .contains("Permission denied")
        );
    }

    #[test]
    fn every_kind_and_code_has_a_wire_number() {
        for (i, k) in KINDS.iter().enumerate() {
            assert_eq!(usize::from(index_of(KINDS, k)), i);
        }
        assert_eq!(CODES.len(), 16);
        let e = Error::new(ErrorKind::TooLarge, "aug_match", "", "x");
        let back = WireError::from(&e).into_error("aug_match");
        assert_eq!(back.kind(), ErrorKind::TooLarge);
    }

    #[test]
    fn values_are_checked_against_the_call() {
        assert_eq!(Value::Text("a".into()).text("aug_get").unwrap(), "a");
        assert_eq!(Value::Count(3).count("aug_rm").unwrap(), 3);
        assert_eq!(
            Value::IntBool(1, true).int_bool("aug_defnode").unwrap(),
            IntBool { i: 1, b: true }
        );
        let e = Value::Unit.text("aug_get").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert_eq!(
            e.to_string(),
            "aug_get: the augeas worker answered with nothing, which this call does not return"
        );
        assert!(Value::List(vec![]).unit("aug_set").is_err());
    }

    #[test]
    fn oversized_frames_are_skipped_and_the_stream_stays_in_step() {
        let mut stream = Vec::new();
        let big = MAX_FRAME + 10;
        stream.extend_from_slice(&(big as u32).to_le_bytes());
        stream.resize(stream.len() + big, b'x');
        let mut small = Vec::new();
        encode(&mut small, &Value::Count(7)).unwrap();
        stream.extend_from_slice(&small);

        let mut r = &stream[..];
        let mut buf = Vec::new();
        match read_frame(&mut r, &mut buf).unwrap() {
            Frame::TooLarge(n) => assert_eq!(n, big),
            other => panic!("{other:?}"),
        }
        assert!(matches!(read_frame(&mut r, &mut buf).unwrap(), Frame::Read));
        assert_eq!(
            serde_json::from_slice::<Value>(&buf).unwrap(),
            Value::Count(7)
        );
        assert!(matches!(
            read_frame(&mut r, &mut buf).unwrap(),
            Frame::Closed
        ));
    }

    #[test]
    fn a_frame_cut_short_is_an_error() {
        let mut buf = Vec::new();
        encode(&mut buf, &Value::Text("abcdef".into())).unwrap();
        for cut in [2, 6] {
            let mut r = &buf[..cut];
            let e = read_frame(&mut r, &mut Vec::new()).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}");
        }
        let mut big = [0u8; 4];
        big.copy_from_slice(&((MAX_FRAME + 1) as u32).to_le_bytes());
        let e = read_frame(&mut &big[..], &mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn the_encoded_length_is_the_payload() {
        let mut buf = Vec::new();
        let len = encode(&mut buf, &"x".repeat(1000)).unwrap();
        assert_eq!(len, 1002);
        assert_eq!(buf.len(), len + 4);
        assert_eq!(buf[..4], 1002u32.to_le_bytes());
        assert_eq!(Request::Save.subject(), "");
        assert_eq!(
            Request::Setm("ab".into(), Some("c".into()), "d".into()).size(),
            4
        );
        assert_eq!(Request::Mv("/a".into(), "/b".into()).subject(), "/a");
    }
}
