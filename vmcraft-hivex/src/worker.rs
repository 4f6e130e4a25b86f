//! [`Worker`]: the process in which libhivex runs for one open [`crate::Hive`].
//!
//! [`Worker::start`] forks it; the child confines itself ([`crate::confine`])
//! inside the hive's private directory and answers [`Request`]s on a socket
//! until the socket closes ([`serve`]). [`Worker::call`] sends one request and
//! waits at most [`CALL_TIMEOUT`] for the answer. A worker that dies (libhivex
//! asserting or faulting on a corrupt hive, a resource limit, a kill) or hangs
//! is reaped and the call fails with [`Died`]; the caller's process is not
//! affected.

use std::ffi::CString;
use std::io::ErrorKind as IoKind;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::confine;
use crate::error::{Error, ErrorKind};
use crate::local::Local;
use crate::wire::{self, Answer, Dec, Enc, MAX_ANSWER, MAX_REQUEST, Request};
use crate::{CALL_TIMEOUT, Node, Value};

/// The name of the hive's copy in the worker's root, and of the file a commit
/// writes there.
pub(crate) const HIVE_NAME: &str = "hive";
/// See [`HIVE_NAME`].
pub(crate) const COMMIT_NAME: &str = "commit";

/// How long a closed handle waits for its worker to exit before killing it.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// How a worker ended a call without answering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Died {
    /// It did not answer within [`CALL_TIMEOUT`] and was killed.
    Hung,
    /// It exited, or was killed by a signal (`how`).
    Ended(String),
    /// It answered something that does not decode.
    Garbled(String),
}

/// The filter every worker installs, compiled once.
fn filter() -> Result<&'static seccompiler::BpfProgram, Error> {
    static FILTER: OnceLock<Result<seccompiler::BpfProgram, String>> = OnceLock::new();
    FILTER
        .get_or_init(confine::filter)
        .as_ref()
        .map_err(|e| Error::new(ErrorKind::Unsupported, "hivex_open", e.clone()))
}

/// The parent's side of one worker. Dropping it ends the worker (the socket
/// closes, the worker exits, or is killed after [`EXIT_GRACE`]) and reaps it.
#[derive(Debug)]
pub(crate) struct Worker {
    pid: libc::pid_t,
    sock: UnixStream,
    enc: Enc,
    buf: Vec<u8>,
    reaped: bool,
}

impl Worker {
    /// Fork a worker confined to `root` (a private directory holding the
    /// hive's copy) and wait for it to say it is ready.
    pub(crate) fn start(root: &Path, keep_stderr: bool) -> Result<Worker, Error> {
        const OP: &str = "hivex_open";
        let filter = filter()?;
        // Loaded here, once, by the thread that forks: the worker must not
        // load modules itself (a lock another thread held at the fork would
        // hang it, and after the chroot the modules are out of reach).
        // Kept in a static: open for the life of the process, and reachable
        // (a leak checker does not take them for leaks).
        static CONVERSIONS: OnceLock<Vec<usize>> = OnceLock::new();
        CONVERSIONS.get_or_init(confine::conversions);
        let root_c = CString::new(root.as_os_str().as_bytes()).map_err(|_| {
            Error::new(
                ErrorKind::Invalid,
                OP,
                "a temporary directory with a NUL byte",
            )
        })?;
        let (parent, child) = UnixStream::pair().map_err(|e| Error::io(OP, "socketpair", &e))?;
        // SAFETY: fork(2). The child only runs `child_main`, which keeps to
        // system calls and allocation and leaves with _exit.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(Error::last(OP, "fork"));
        }
        if pid == 0 {
            drop(parent);
            child_main(child.into_raw_fd(), &root_c, keep_stderr, filter);
        }
        drop(child);
        let mut w = Worker {
            pid,
            sock: parent,
            enc: Enc::default(),
            buf: Vec::new(),
            reaped: false,
        };
        match w.receive() {
            Ok(Answer::Done) => Ok(w),
            Ok(Answer::Failed(e)) => Err(e),
            Ok(_) => Err(Error::new(
                ErrorKind::Corrupt,
                OP,
                "the hive worker answered out of turn",
            )),
            Err(d) => Err(Error::new(
                ErrorKind::Io,
                OP,
                format!("the hive worker did not start: {}", d.describe()),
            )),
        }
    }

    /// The worker's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// Send `req` and wait for its answer (an error answer included).
    pub(crate) fn call(&mut self, req: &Request) -> Result<Answer, Died> {
        self.enc.request(req);
        if let Err(e) = wire::send(&mut self.sock, &self.enc.0) {
            // A worker that died before reading: what killed it is the news.
            return Err(self.end(Died::Ended(e.to_string())));
        }
        self.receive()
    }

    fn receive(&mut self) -> Result<Answer, Died> {
        let mut within = Deadline {
            sock: &self.sock,
            until: Instant::now() + CALL_TIMEOUT,
        };
        match wire::recv(&mut within, &mut self.buf, MAX_ANSWER) {
            Ok(true) => Dec::new(&self.buf)
                .answer()
                .map_err(|e| self.end(Died::Garbled(e.message().to_string()))),
            Ok(false) => Err(self.end(Died::Ended("end of stream".into()))),
            // No whole answer within CALL_TIMEOUT.
            Err(e) if matches!(e.kind(), IoKind::WouldBlock | IoKind::TimedOut) => {
                Err(self.end(Died::Hung))
            }
            Err(e) if e.kind() == IoKind::InvalidData => {
                Err(self.end(Died::Garbled(e.to_string())))
            }
            Err(e) => Err(self.end(Died::Ended(e.to_string()))),
        }
    }

    /// Kill and reap the worker; `why` becomes how it ended when it ended by
    /// itself.
    fn end(&mut self, why: Died) -> Died {
        if self.reaped {
            return why;
        }
        let mut status = 0;
        // A worker that closed its socket is exiting or dead: look first.
        // SAFETY: our own child.
        let mut r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
        if r == 0 {
            if !matches!(why, Died::Hung | Died::Garbled(_)) {
                // Give a dying worker a moment to be reaped with its cause.
                let until = Instant::now() + Duration::from_millis(200);
                while r == 0 && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(1));
                    // SAFETY: as above.
                    r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
                }
            }
            if r == 0 {
                // SAFETY: our own unreaped child: the pid is still ours.
                unsafe {
                    libc::kill(self.pid, libc::SIGKILL);
                    libc::waitpid(self.pid, &mut status, 0);
                }
                self.reaped = true;
                return why;
            }
        }
        self.reaped = true;
        match why {
            Died::Hung | Died::Garbled(_) => why,
            Died::Ended(_) if libc::WIFSIGNALED(status) => {
                Died::Ended(format!("signal {}", libc::WTERMSIG(status)))
            }
            Died::Ended(_) if libc::WIFEXITED(status) => {
                Died::Ended(format!("exit status {}", libc::WEXITSTATUS(status)))
            }
            other => other,
        }
    }
}

/// Reads from the worker's socket that fail with `TimedOut` once `until` has
/// passed: a worker that sends its answer a byte at a time cannot hold the
/// caller longer than one that sends nothing.
struct Deadline<'a> {
    sock: &'a UnixStream,
    until: Instant,
}

impl std::io::Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(IoKind::TimedOut.into());
        }
        self.sock.set_read_timeout(Some(left))?;
        (&mut &*self.sock).read(buf)
    }
}

impl Died {
    /// A phrase for messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Died::Hung => format!("no answer within {CALL_TIMEOUT:?}, killed"),
            Died::Ended(how) => how.clone(),
            Died::Garbled(what) => format!("a garbled answer: {what}"),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
        let until = Instant::now() + EXIT_GRACE;
        let mut status = 0;
        loop {
            // SAFETY: our own child.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if r != 0 {
                break;
            }
            if Instant::now() >= until {
                // SAFETY: our own unreaped child.
                unsafe {
                    libc::kill(self.pid, libc::SIGKILL);
                    libc::waitpid(self.pid, &mut status, 0);
                }
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

/// The worker: confine, say ready, serve; never returns.
fn child_main(
    sock: libc::c_int,
    root: &std::ffi::CStr,
    keep_stderr: bool,
    filter: &seccompiler::BpfProgram,
) -> ! {
    // A panic ends the worker at once: the default hook would take locks
    // another thread of the parent may have held at the fork.
    std::panic::set_hook(Box::new(|_| {
        // SAFETY: ends this process without running anything of the parent's.
        unsafe { libc::_exit(101) }
    }));
    let code = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the forked worker, before anything else uses descriptors.
        let ready = unsafe { confine::descriptors(sock, keep_stderr) }
            // SAFETY: the forked, single-threaded worker.
            .and_then(|()| unsafe { confine::confine(root) })
            .and_then(|()| {
                seccompiler::apply_filter(filter).map_err(|_| {
                    (
                        "seccomp",
                        std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
                    )
                })
            });
        // SAFETY: descriptor 3 is the socket, owned by this process alone now.
        let mut sock = unsafe { UnixStream::from_raw_fd(3) };
        serve(&mut sock, ready)
    }))
    .unwrap_or(101);
    // SAFETY: ends the worker without the parent's exit handlers.
    unsafe { libc::_exit(code) }
}

/// Say whether confinement worked, then answer requests until the socket
/// closes. The exit status.
fn serve(sock: &mut UnixStream, ready: Result<(), confine::StepError>) -> i32 {
    let mut enc = Enc::default();
    let mut buf = Vec::new();
    let first = match ready {
        Ok(()) => Answer::Done,
        Err((step, errno)) => Answer::Failed(Error::from_errno(
            "hivex_open",
            format!("cannot confine the hive worker ({step})"),
            errno,
        )),
    };
    enc.answer(&first);
    if wire::send(sock, &enc.0).is_err() || first != Answer::Done {
        return 1;
    }
    let mut hive: Option<Local> = None;
    loop {
        match wire::recv(sock, &mut buf, MAX_REQUEST) {
            Ok(true) => {}
            _ => return 0,
        }
        let answer = match Dec::new(&buf).request() {
            Ok(req) => answer(&mut hive, req),
            Err(e) => Answer::Failed(e),
        };
        enc.answer(&answer);
        if wire::send(sock, &enc.0).is_err() {
            return 0;
        }
    }
}

/// Carry out one request on the worker's hive.
fn answer(hive: &mut Option<Local>, req: Request) -> Answer {
    let h = match (req, hive.as_mut()) {
        (Request::Open { name, size, opts }, None) => {
            let path = CString::new(HIVE_NAME).expect("no NUL");
            return match Local::open(&path, &name, size, opts) {
                Ok(l) => {
                    *hive = Some(l);
                    Answer::Done
                }
                Err(e) => Answer::Failed(e),
            };
        }
        (Request::Open { .. }, Some(_)) => {
            return Answer::Failed(Error::new(ErrorKind::Invalid, "hivex_open", "already open"));
        }
        (_, None) => {
            return Answer::Failed(Error::new(ErrorKind::Invalid, "worker", "no hive open"));
        }
        (req, Some(h)) => (req, h),
    };
    let (req, h) = h;
    let r: crate::Result<Answer> = match req {
        Request::Open { .. } => unreachable!("handled above"),
        Request::Root => h.root().map(|n| Answer::Handle(n.0)),
        Request::NodeName(n) => h.node_name(Node(n)).map(Answer::Text),
        Request::NodeChildren(n) => h
            .node_children(Node(n))
            .map(|v| Answer::Handles(v.into_iter().map(|n| n.0).collect())),
        Request::NodeGetChild(n, name) => h
            .node_get_child(Node(n), &name)
            .map(|c| Answer::MaybeHandle(c.map(|c| c.0))),
        Request::NodeParent(n) => h.node_parent(Node(n)).map(|p| Answer::Handle(p.0)),
        Request::NodeValues(n) => h
            .node_values(Node(n))
            .map(|v| Answer::Handles(v.into_iter().map(|v| v.0).collect())),
        Request::NodeGetValue(n, key) => h
            .node_get_value(Node(n), &key)
            .map(|v| Answer::MaybeHandle(v.map(|v| v.0))),
        Request::ValueKey(v) => h.value_key(Value(v)).map(Answer::Text),
        Request::ValueType(v) => h
            .value_type(Value(v))
            .map(|(t, len)| Answer::Type(t.0, len as u64)),
        Request::ValueValue(v) => h.value_value(Value(v)).map(|(t, d)| Answer::Data(t.0, d)),
        Request::ValueString(v) => h.value_string(Value(v)).map(Answer::Text),
        Request::ValueMultipleStrings(v) => h.value_multiple_strings(Value(v)).map(Answer::Texts),
        Request::ValueDword(v) => h.value_dword(Value(v)).map(|d| Answer::Int(d.into())),
        Request::ValueQword(v) => h.value_qword(Value(v)).map(Answer::Int),
        Request::NodeGetPath(n, path) => {
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            h.node_get_path(Node(n), &path)
                .map(|c| Answer::MaybeHandle(c.map(|c| c.0)))
        }
        Request::NodeAddChild(n, name) => h
            .node_add_child(Node(n), &name)
            .map(|c| Answer::Handle(c.0)),
        Request::NodeDeleteChild(n) => h.node_delete_child(Node(n)).map(|()| Answer::Done),
        Request::NodeSetValues(n, vs) => h.node_set_values(Node(n), &vs).map(|()| Answer::Done),
        Request::NodeSetValue(n, v) => h.node_set_value(Node(n), &v).map(|()| Answer::Done),
        Request::Commit(name) => {
            let path = CString::new(COMMIT_NAME).expect("no NUL");
            h.commit(&path, &name).map(|()| Answer::Done)
        }
    };
    r.unwrap_or_else(Answer::Failed)
}
