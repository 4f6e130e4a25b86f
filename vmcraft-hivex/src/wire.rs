//! The messages between a [`crate::Hive`] and its worker process, and their
//! encoding: a frame is a 4-byte little-endian length and that many bytes; a
//! request is an operation byte and its arguments, an answer a status byte and
//! its result or an error. Integers are little-endian, strings and byte strings
//! a 4-byte length and the bytes.
//!
//! Both sides decode what the other sent as untrusted: a worker that libhivex
//! ran hostile code in may send anything, so every length is checked against
//! the frame and the frame against [`MAX_ANSWER`] or [`MAX_REQUEST`].

use std::io::{Read, Write};

use crate::error::{Error, ErrorKind};
use crate::{MAX_VALUE_LEN, OpenOptions, SetValue, ValueType};

/// The largest answer a worker may send: a value's data or strings (at most
/// [`MAX_VALUE_LEN`] bytes of data, its UTF-8 at most half again as long,
/// with a length per string) or a list of handles.
pub(crate) const MAX_ANSWER: usize = 4 * MAX_VALUE_LEN + (1 << 20);

/// The largest request a worker accepts (a `node_set_values` with many
/// values; the worker's memory limit is the real bound).
pub(crate) const MAX_REQUEST: usize = 1 << 30;

/// What the caller asks the worker. Handles are libhivex's (`usize`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    /// Open the private copy; `name` is what messages call it.
    Open {
        name: String,
        size: u64,
        opts: OpenOptions,
    },
    Root,
    NodeName(usize),
    NodeChildren(usize),
    NodeGetChild(usize, String),
    NodeParent(usize),
    NodeValues(usize),
    NodeGetValue(usize, String),
    ValueKey(usize),
    ValueType(usize),
    ValueValue(usize),
    ValueString(usize),
    ValueMultipleStrings(usize),
    ValueDword(usize),
    ValueQword(usize),
    NodeGetPath(usize, Vec<String>),
    NodeAddChild(usize, String),
    NodeDeleteChild(usize),
    NodeSetValues(usize, Vec<SetValue>),
    NodeSetValue(usize, SetValue),
    /// Write the hive to the worker's commit file; `name` for messages.
    Commit(String),
}

impl Request {
    /// Whether it changes the hive in the worker's memory (and so is replayed
    /// on a new worker after a crash).
    pub(crate) fn changes(&self) -> bool {
        matches!(
            self,
            Request::NodeAddChild(..)
                | Request::NodeDeleteChild(_)
                | Request::NodeSetValues(..)
                | Request::NodeSetValue(..)
        )
    }
}

/// What the worker answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    Done,
    Handle(usize),
    MaybeHandle(Option<usize>),
    Handles(Vec<usize>),
    Text(String),
    Texts(Vec<String>),
    Type(u32, u64),
    Data(u32, Vec<u8>),
    Int(i64),
    Failed(Error),
}

/// The operation names an error may carry (an [`Error`]'s `op` is static).
const OPS: &[&str] = &[
    "hivex_open",
    "hivex_root",
    "hivex_node_name",
    "hivex_node_children",
    "hivex_node_get_child",
    "hivex_node_parent",
    "hivex_node_values",
    "hivex_node_get_value",
    "hivex_value_key",
    "hivex_value_type",
    "hivex_value_value",
    "hivex_value_string",
    "hivex_value_multiple_strings",
    "hivex_value_dword",
    "hivex_value_qword",
    "hivex_node_add_child",
    "hivex_node_delete_child",
    "hivex_node_set_values",
    "hivex_node_set_value",
    "hivex_commit",
    "hivex_node_get_path",
    "worker",
];

const KINDS: &[ErrorKind] = &[
    ErrorKind::NotFound,
    ErrorKind::Invalid,
    ErrorKind::Corrupt,
    ErrorKind::TooLarge,
    ErrorKind::ReadOnly,
    ErrorKind::Unsupported,
    ErrorKind::Io,
];

/// An encoder into a reused buffer.
#[derive(Debug, Default)]
pub(crate) struct Enc(pub(crate) Vec<u8>);

impl Enc {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        // Frames are far below 4 GiB (MAX_REQUEST, MAX_ANSWER).
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn set_value(&mut self, v: &SetValue) {
        self.str(&v.key);
        self.u32(v.t.0);
        self.bytes(&v.data);
    }

    /// Encode `r` (replacing what the buffer held).
    pub(crate) fn request(&mut self, r: &Request) {
        self.0.clear();
        match r {
            Request::Open { name, size, opts } => {
                self.u8(0);
                self.str(name);
                self.u64(*size);
                self.u8(opts.write as u8
                    | (opts.verbose as u8) << 1
                    | (opts.debug as u8) << 2
                    | (opts.unsafe_heuristics as u8) << 3);
            }
            Request::Root => self.u8(1),
            Request::NodeName(n) => self.op_handle(2, *n),
            Request::NodeChildren(n) => self.op_handle(3, *n),
            Request::NodeGetChild(n, s) => {
                self.op_handle(4, *n);
                self.str(s);
            }
            Request::NodeParent(n) => self.op_handle(5, *n),
            Request::NodeValues(n) => self.op_handle(6, *n),
            Request::NodeGetValue(n, s) => {
                self.op_handle(7, *n);
                self.str(s);
            }
            Request::ValueKey(v) => self.op_handle(8, *v),
            Request::ValueType(v) => self.op_handle(9, *v),
            Request::ValueValue(v) => self.op_handle(10, *v),
            Request::ValueString(v) => self.op_handle(11, *v),
            Request::ValueMultipleStrings(v) => self.op_handle(12, *v),
            Request::ValueDword(v) => self.op_handle(13, *v),
            Request::ValueQword(v) => self.op_handle(14, *v),
            Request::NodeGetPath(n, path) => {
                self.op_handle(15, *n);
                self.u32(path.len() as u32);
                for p in path {
                    self.str(p);
                }
            }
            Request::NodeAddChild(n, s) => {
                self.op_handle(16, *n);
                self.str(s);
            }
            Request::NodeDeleteChild(n) => self.op_handle(17, *n),
            Request::NodeSetValues(n, vs) => {
                self.op_handle(18, *n);
                self.u32(vs.len() as u32);
                for v in vs {
                    self.set_value(v);
                }
            }
            Request::NodeSetValue(n, v) => {
                self.op_handle(19, *n);
                self.set_value(v);
            }
            Request::Commit(name) => {
                self.u8(20);
                self.str(name);
            }
        }
    }

    fn op_handle(&mut self, op: u8, h: usize) {
        self.u8(op);
        self.u64(h as u64);
    }

    /// Encode `a` (replacing what the buffer held).
    pub(crate) fn answer(&mut self, a: &Answer) {
        self.0.clear();
        match a {
            Answer::Done => self.u8(0),
            Answer::Handle(h) => {
                self.u8(1);
                self.u64(*h as u64);
            }
            Answer::MaybeHandle(h) => {
                self.u8(2);
                self.u64(h.unwrap_or(0) as u64);
            }
            Answer::Handles(hs) => {
                self.u8(3);
                self.u32(hs.len() as u32);
                for h in hs {
                    self.u64(*h as u64);
                }
            }
            Answer::Text(s) => {
                self.u8(4);
                self.str(s);
            }
            Answer::Texts(ss) => {
                self.u8(5);
                self.u32(ss.len() as u32);
                for s in ss {
                    self.str(s);
                }
            }
            Answer::Type(t, len) => {
                self.u8(6);
                self.u32(*t);
                self.u64(*len);
            }
            Answer::Data(t, d) => {
                self.u8(7);
                self.u32(*t);
                self.bytes(d);
            }
            Answer::Int(i) => {
                self.u8(8);
                self.u64(*i as u64);
            }
            Answer::Failed(e) => {
                self.u8(9);
                let kind = KINDS.iter().position(|k| *k == e.kind()).unwrap_or(6);
                self.u8(kind as u8);
                self.str(e.op());
                self.str(e.message());
                self.u32(e.errno().map_or(0, |n| n as u32));
            }
        }
    }
}

/// A decoder over one frame; every read is bounds-checked.
pub(crate) struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// The error of a frame that does not decode.
fn garbled(what: &str) -> Error {
    Error::new(
        ErrorKind::Corrupt,
        "worker",
        format!("garbled message from the other side ({what})"),
    )
}

impl<'a> Dec<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Dec<'a> {
        Dec { buf, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| garbled("truncated"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn handle(&mut self) -> Result<usize, Error> {
        usize::try_from(self.u64()?).map_err(|_| garbled("handle"))
    }
    fn bytes(&mut self) -> Result<&'a [u8], Error> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Result<String, Error> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| garbled("not UTF-8"))
    }
    /// A count of items of at least `each` bytes, checked against what is left.
    fn count(&mut self, each: usize) -> Result<usize, Error> {
        let n = self.u32()? as usize;
        if n.saturating_mul(each) > self.buf.len() - self.pos {
            return Err(garbled("count"));
        }
        Ok(n)
    }
    fn set_value(&mut self) -> Result<SetValue, Error> {
        Ok(SetValue {
            key: self.string()?,
            t: ValueType(self.u32()?),
            data: self.bytes()?.to_vec(),
        })
    }
    fn end<T>(&self, v: T) -> Result<T, Error> {
        if self.pos != self.buf.len() {
            return Err(garbled("trailing bytes"));
        }
        Ok(v)
    }

    /// Decode a request.
    pub(crate) fn request(mut self) -> Result<Request, Error> {
        let r = match self.u8()? {
            0 => {
                let name = self.string()?;
                let size = self.u64()?;
                let f = self.u8()?;
                Request::Open {
                    name,
                    size,
                    opts: OpenOptions {
                        write: f & 1 != 0,
                        verbose: f & 2 != 0,
                        debug: f & 4 != 0,
                        unsafe_heuristics: f & 8 != 0,
                    },
                }
            }
            1 => Request::Root,
            2 => Request::NodeName(self.handle()?),
            3 => Request::NodeChildren(self.handle()?),
            4 => Request::NodeGetChild(self.handle()?, self.string()?),
            5 => Request::NodeParent(self.handle()?),
            6 => Request::NodeValues(self.handle()?),
            7 => Request::NodeGetValue(self.handle()?, self.string()?),
            8 => Request::ValueKey(self.handle()?),
            9 => Request::ValueType(self.handle()?),
            10 => Request::ValueValue(self.handle()?),
            11 => Request::ValueString(self.handle()?),
            12 => Request::ValueMultipleStrings(self.handle()?),
            13 => Request::ValueDword(self.handle()?),
            14 => Request::ValueQword(self.handle()?),
            15 => {
                let n = self.handle()?;
                let count = self.count(4)?;
                let mut path = Vec::with_capacity(count);
                for _ in 0..count {
                    path.push(self.string()?);
                }
                Request::NodeGetPath(n, path)
            }
            16 => Request::NodeAddChild(self.handle()?, self.string()?),
            17 => Request::NodeDeleteChild(self.handle()?),
            18 => {
                let n = self.handle()?;
                let count = self.count(12)?;
                let mut vs = Vec::with_capacity(count);
                for _ in 0..count {
                    vs.push(self.set_value()?);
                }
                Request::NodeSetValues(n, vs)
            }
            19 => Request::NodeSetValue(self.handle()?, self.set_value()?),
            20 => Request::Commit(self.string()?),
            _ => return Err(garbled("unknown request")),
        };
        self.end(r)
    }

    /// Decode an answer.
    pub(crate) fn answer(mut self) -> Result<Answer, Error> {
        let a = match self.u8()? {
            0 => Answer::Done,
            1 => Answer::Handle(self.handle()?),
            2 => Answer::MaybeHandle(Some(self.handle()?).filter(|&h| h != 0)),
            3 => {
                let count = self.count(8)?;
                let mut hs = Vec::with_capacity(count);
                for _ in 0..count {
                    hs.push(self.handle()?);
                }
                Answer::Handles(hs)
            }
            4 => Answer::Text(self.string()?),
            5 => {
                let count = self.count(4)?;
                let mut ss = Vec::with_capacity(count);
                for _ in 0..count {
                    ss.push(self.string()?);
                }
                Answer::Texts(ss)
            }
            6 => Answer::Type(self.u32()?, self.u64()?),
            7 => Answer::Data(self.u32()?, self.bytes()?.to_vec()),
            8 => Answer::Int(self.u64()? as i64),
            9 => {
                let kind = *KINDS
                    .get(self.u8()? as usize)
                    .ok_or_else(|| garbled("error kind"))?;
                let op = self.string()?;
                let op = OPS.iter().find(|o| **o == op).copied().unwrap_or("worker");
                let what = self.string()?;
                let errno = Some(self.u32()? as i32).filter(|&n| n != 0);
                Answer::Failed(Error::with_errno(kind, op, what, errno))
            }
            _ => return Err(garbled("unknown answer")),
        };
        self.end(a)
    }
}

/// Write one frame.
pub(crate) fn send(w: &mut impl Write, body: &[u8]) -> std::io::Result<()> {
    w.write_all(&(body.len() as u32).to_le_bytes())?;
    w.write_all(body)?;
    w.flush()
}

/// Read one frame of at most `max` bytes into `buf`. `Ok(false)` at a clean
/// end of stream before a frame.
pub(crate) fn recv(r: &mut impl Read, buf: &mut Vec<u8>, max: usize) -> std::io::Result<bool> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let n = u32::from_le_bytes(len) as usize;
    if n > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a message of {n} bytes, more than the {max} accepted"),
        ));
    }
    buf.clear();
    buf.resize(n, 0);
    r.read_exact(buf)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_survive_the_wire() {
        let reqs = [
            Request::Open {
                name: "/g/SYSTEM".into(),
                size: 8192,
                opts: OpenOptions {
                    write: true,
                    unsafe_heuristics: true,
                    ..Default::default()
                },
            },
            Request::Root,
            Request::NodeGetPath(0x1020, vec!["Select".into(), "Über".into()]),
            Request::NodeSetValues(
                0x1020,
                vec![SetValue::dword("Start", 3), SetValue::string("Group", "x")],
            ),
            Request::NodeSetValue(7, SetValue::binary("", &[])),
            Request::Commit("c".into()),
        ];
        let mut e = Enc::default();
        for r in reqs {
            e.request(&r);
            assert_eq!(Dec::new(&e.0).request().unwrap(), r);
        }
        let answers = [
            Answer::Done,
            Answer::MaybeHandle(None),
            Answer::MaybeHandle(Some(5)),
            Answer::Handles(vec![1, 2, 3]),
            Answer::Texts(vec!["a".into(), String::new()]),
            Answer::Data(3, vec![0; 9]),
            Answer::Int(-2),
        ];
        for a in answers {
            e.answer(&a);
            assert_eq!(Dec::new(&e.0).answer().unwrap(), a);
        }
        e.answer(&Answer::Failed(Error::from_errno(
            "hivex_node_name",
            "node 0x7",
            libc::EINVAL,
        )));
        let Answer::Failed(err) = Dec::new(&e.0).answer().unwrap() else {
            panic!()
        };
        assert_eq!(err.op(), "hivex_node_name");
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert_eq!(err.errno(), Some(libc::EINVAL));
    }

    #[test]
    fn garbled_frames_are_errors() {
        // A count larger than the frame, a truncated string, trailing bytes,
        // an unknown tag: errors, no allocation of the claimed size.
        for bad in [
            &[3u8, 0xff, 0xff, 0xff, 0xff][..],
            &[4, 10, 0, 0, 0, b'a'],
            &[0, 0],
            &[42],
            &[],
        ] {
            assert!(Dec::new(bad).answer().is_err(), "{bad:?}");
        }
        assert!(
            Dec::new(&[15, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255])
                .request()
                .is_err()
        );
    }
}
