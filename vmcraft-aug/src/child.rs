//! The worker process: what the child does from the fork to its exit.
//!
//! 1. Die with the parent (`PR_SET_PDEATHSIG`), become undumpable, shed the
//!    parent's signal handlers, leave its process group, and close every
//!    descriptor but the socket to the parent (the standard ones become
//!    `/dev/null`).
//! 2. Make a detached copy of the guest's mounts on which no device node can
//!    be opened ([`crate::mounttree`], checked by [`crate::confine`]), open
//!    Augeas with the host's lenses, `chroot` into the copy, then drop
//!    capabilities, set `no_new_privs` and the resource limits ([`sandbox`]),
//!    and install the seccomp filter ([`seccomp`]); only then read guest
//!    files.
//! 3. Answer requests until the socket closes, then exit.
//!
//! The child never returns into the code that forked it and never runs the
//! parent's exit handlers: it ends with `_exit`. It does not log. A panic ends
//! the process with status 101.

use std::fs::File;
use std::io::BufReader;
use std::os::fd::{AsFd, FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::error::{Error, ErrorKind, Result};
use crate::flags::AugFlags;
use crate::lenses::Modules;
use crate::protocol::{self, Answer, Frame, MAX_FRAME, Request, Value, WireError};
use crate::sandbox::{self, LIMITS};
use crate::seccomp;
use crate::session::Session;

/// Everything the child needs, prepared by the parent before the fork.
pub(crate) struct Setup {
    pub(crate) root: PathBuf,
    pub(crate) flags: AugFlags,
    pub(crate) loadpath: String,
    pub(crate) lenses: Option<Vec<String>>,
    pub(crate) host_modules: Modules,
    /// The child's end of the socket.
    pub(crate) sock: RawFd,
    /// The parent's pid, to notice a parent that died before the child armed
    /// its death signal.
    pub(crate) parent: Pid,
}

/// Run the worker; never returns.
pub(crate) fn run(setup: Setup) -> ! {
    // A panic ends the worker at once, with status 101: the default hook would
    // take the stderr and backtrace locks, which another thread of the parent
    // may have held at the fork.
    std::panic::set_hook(Box::new(|_| {
        // SAFETY: as below.
        unsafe { libc::_exit(101) }
    }));
    let code = catch_unwind(AssertUnwindSafe(|| main(setup))).unwrap_or(101);
    // SAFETY: _exit ends the process without running the parent's atexit
    // handlers or flushing its stdio buffers, which this copy must not do.
    unsafe { libc::_exit(code) }
}

fn main(setup: Setup) -> i32 {
    if nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_err()
        || nix::unistd::getppid() != setup.parent
    {
        return 1;
    }
    // No core dump, whatever the host's core_pattern (a dump would hold guest
    // data); and no ptrace by processes without CAP_SYS_PTRACE.
    let _ = nix::sys::prctl::set_dumpable(false);
    sandbox::reset_signals();
    sandbox::grow_heap();
    // Out of the parent's process group: a terminal's ^C is the parent's to
    // handle; the parent's death still ends the worker.
    let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
    let Ok(fd) = sandbox::isolate_fds(setup.sock) else {
        return 1;
    };
    // SAFETY: `fd` is the socket isolate_fds kept, owned by nothing else.
    let sock = unsafe { UnixStream::from_raw_fd(fd) };
    let mut channel = Channel {
        reader: BufReader::with_capacity(64 << 10, sock),
        buf: Vec::new(),
        out: Vec::new(),
    };

    let ctx = setup.root.display().to_string();
    let mut statm = File::open("/proc/self/statm").ok();
    let confine = || {
        let mapped = statm.as_mut().and_then(sandbox::address_space);
        drop(statm);
        sandbox::drop_capabilities().map_err(|e| {
            Error::new(
                ErrorKind::Permission,
                "aug_init",
                &ctx,
                "cannot drop the augeas worker's capabilities",
            )
            .with_source(e)
        })?;
        sandbox::set_limits(&LIMITS, mapped)
            .and_then(|()| sandbox::arm_cpu_limit(LIMITS.cpu_per_call))
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    "aug_init",
                    &ctx,
                    "cannot set the augeas worker's resource limits",
                )
                .with_source(e)
            })?;
        // Last: from here on only the system calls the worker needs.
        seccomp::install().map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                "aug_init",
                &ctx,
                "cannot install the augeas worker's seccomp filter",
            )
            .with_source(e)
        })
    };
    let opened = Session::open(
        &setup.root,
        setup.flags,
        &setup.loadpath,
        setup.lenses.as_deref(),
        setup.host_modules,
        confine,
    );
    let mut session = match opened {
        Ok(s) => s,
        Err(e) => {
            let _ = channel.answer("aug_init", "", Err(WireError::boxed(&e)));
            return 1;
        }
    };
    if channel.answer("aug_init", "", Ok(Value::Unit)).is_err() {
        return 1;
    }
    channel.serve(&mut session)
}

/// The child's end of the socket, with its buffers.
struct Channel {
    /// Reads requests; sends go straight to the socket underneath.
    reader: BufReader<UnixStream>,
    buf: Vec<u8>,
    out: Vec<u8>,
}

impl Channel {
    /// Answer requests until the parent closes the socket; the exit status.
    fn serve(&mut self, session: &mut Session) -> i32 {
        loop {
            match protocol::read_frame(&mut self.reader, &mut self.buf) {
                Ok(Frame::Read) => {}
                Ok(Frame::Closed) => return 0,
                Ok(Frame::TooLarge(_)) | Err(_) => return 1,
            }
            // The request borrows from `buf`; take it out for the duration.
            let buf = std::mem::take(&mut self.buf);
            let sent = match serde_json::from_slice::<Request<'_>>(&buf) {
                #[cfg(test)]
                Ok(Request::Garbage) => {
                    protocol::send_all(self.reader.get_ref().as_fd(), b"\x03\0\0\0{{{")
                }
                Ok(req) => {
                    let answer = match sandbox::arm_cpu_limit(LIMITS.cpu_per_call) {
                        Ok(()) => dispatch(session, &req),
                        Err(e) => Err(WireError::boxed(
                            &Error::new(
                                ErrorKind::Internal,
                                req.call(),
                                "",
                                "cannot set the augeas worker's cpu time limit",
                            )
                            .with_source(e),
                        )),
                    };
                    self.answer(req.call(), req.subject(), answer)
                }
                Err(e) => self.answer(
                    "aug_call",
                    "",
                    Err(WireError::boxed(&Error::new(
                        ErrorKind::Internal,
                        "aug_call",
                        "",
                        format!("the augeas worker received a malformed request: {e}"),
                    ))),
                ),
            };
            self.buf = buf;
            if sent.is_err() {
                return 1;
            }
        }
    }

    /// Send one answer; one too large for the parent to accept becomes an
    /// [`ErrorKind::TooLarge`] error.
    fn answer(&mut self, call: &'static str, subject: &str, answer: Answer) -> std::io::Result<()> {
        let len = protocol::encode(&mut self.out, &answer)?;
        if len > MAX_FRAME {
            let e = Error::new(
                ErrorKind::TooLarge,
                call,
                subject,
                format!(
                    "the answer ({len} bytes) is larger than the {} MiB a handle accepts \
                     from its worker (narrow the path expression)",
                    MAX_FRAME >> 20
                ),
            );
            protocol::encode(&mut self.out, &Answer::Err(WireError::boxed(&e)))?;
        }
        protocol::send_all(self.reader.get_ref().as_fd(), &self.out)
    }
}

/// Run one request against the session.
fn dispatch(s: &mut Session, req: &Request<'_>) -> Answer {
    let count = |n: usize| Value::Count(n as u64);
    let r: Result<Value> = match req {
        Request::Get(path) => s.get(path).map(Value::Text),
        Request::Set(path, val) => s.set(path, val).map(|()| Value::Unit),
        Request::Clear(path) => s.clear(path).map(|()| Value::Unit),
        Request::Setm(base, sub, val) => s.setm(base, sub.as_deref(), val).map(count),
        Request::Insert(path, label, before) => {
            s.insert(path, label, *before).map(|()| Value::Unit)
        }
        Request::Rm(path) => s.rm(path).map(count),
        Request::Mv(src, dest) => s.mv(src, dest).map(|()| Value::Unit),
        Request::Match(path) => s.matches("aug_match", path).map(Value::List),
        Request::Ls(path) => s.ls(path).map(Value::List),
        Request::Label(path) => s.label(path).map(Value::Text),
        Request::Defvar(name, expr) => s.defvar(name, expr.as_deref()).map(count),
        Request::Defnode(name, expr, val) => {
            s.defnode(name, expr, val).map(|r| Value::IntBool(r.i, r.b))
        }
        Request::Load => s.load().map(|()| Value::Unit),
        Request::Save => s.save().map(|()| Value::Unit),
        Request::Transform(lens, file, remove) => {
            s.transform(lens, file, *remove).map(|()| Value::Unit)
        }
        #[cfg(test)]
        Request::Panic => panic!("test hook"),
        #[cfg(test)]
        Request::Garbage => unreachable!("answered in serve"),
        #[cfg(test)]
        Request::Attempt(what) => Ok(Value::Count(crate::seccomp::attempt(*what))),
    };
    r.map_err(|e| WireError::boxed(&e))
}
