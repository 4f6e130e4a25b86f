//! [`Worker`]: the parent's side of one handle's worker process.
//!
//! [`Worker::start`] forks the worker (see [`crate::child`] for what it does)
//! and waits for its first answer; [`Worker::call`] sends one request over the
//! socket and waits for the answer. A worker that dies (a crash, a resource
//! limit, a kill) makes the call that was running fail with
//! [`ErrorKind::WorkerCrashed`], naming the signal, and every later call fail
//! the same way; the parent process is not affected.
//!
//! The fork is made by a thread of its own, started with a large stack: the
//! child runs on a copy of that stack, so Augeas's recursive parser has room
//! for deeply nested files (and a file nested deeper still overflows it in the
//! child, not here). The thread then waits for the child's death without
//! reaping it (`waitid(WNOWAIT)`): a child's parent-death signal fires when the
//! thread that forked it exits, and an unreaped child's pid cannot be reused,
//! so the handle can always signal and reap its own worker.

use std::io::BufReader;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::{ForkResult, Pid};

use crate::child::{self, Setup};
use crate::error::{Error, ErrorKind, Result};
use crate::flags::AugFlags;
use crate::lenses::Modules;
use crate::protocol::{self, Answer, Frame, MAX_FRAME, Request, Value};
use crate::sandbox::signal_hint;

/// The stack of the thread that forks, and so of the worker. Augeas's parser
/// recurses once per level of nesting in the file it reads: 256 MiB, reserved
/// but only touched as used, parses files nested some 80 000 levels deep (8
/// MiB, a main thread's usual stack, about 10 000). Deeper, the worker dies of
/// the overflow and the call fails.
const STACK_SIZE: usize = 256 << 20;

/// How long a closed handle waits for its worker to exit before killing it.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// Whether the worker is still there.
#[derive(Debug)]
enum State {
    Alive,
    /// It died (and was reaped) during `call`, of `cause`.
    Dead {
        call: &'static str,
        cause: String,
    },
}

/// The worker process of one open handle. Dropping it closes the handle: the
/// socket is shut, the worker exits (or is killed) and is reaped.
pub(crate) struct Worker {
    pid: Pid,
    /// The socket to the worker: answers are read through the buffer,
    /// requests sent straight to the socket.
    reader: BufReader<UnixStream>,
    /// Reused frame buffers.
    out: Vec<u8>,
    inbuf: Vec<u8>,
    state: State,
    /// The thread that forked and waits for the worker's death.
    waiter: Option<JoinHandle<()>>,
    /// Disconnected once the worker has died.
    died: mpsc::Receiver<()>,
    root: PathBuf,
    flags: AugFlags,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("pid", &self.pid)
            .field("state", &self.state)
            .field("root", &self.root)
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

/// How the worker ended, in words.
fn describe(status: nix::Result<WaitStatus>) -> String {
    match status {
        Ok(WaitStatus::Signaled(_, sig, _)) => format!(
            "killed by signal {} ({}{})",
            sig as i32,
            sig.as_str(),
            signal_hint(sig)
        ),
        Ok(WaitStatus::Exited(_, 101)) => "it panicked (exit status 101)".to_string(),
        Ok(WaitStatus::Exited(_, code)) => format!("it exited with status {code}"),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("its exit status is not known ({e})"),
    }
}

fn internal(call: &'static str, ctx: &str, what: &str) -> Error {
    Error::new(ErrorKind::Internal, call, ctx, what)
}

impl Worker {
    /// Start a worker confined to `root` and wait until Augeas is open there.
    pub(crate) fn start(
        root: &Path,
        flags: AugFlags,
        loadpath: String,
        lenses: Option<Vec<String>>,
    ) -> Result<Worker> {
        let ctx = format!("{} (flags {})", root.display(), flags.bits());
        let canonical = std::fs::canonicalize(root).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                "aug_init",
                &ctx,
                "cannot resolve the guest root",
            )
            .with_source(e)
        })?;
        if canonical == Path::new("/") {
            // libguestfs callers write aug_init("/") for the guest's root; here
            // that would be the host's. Refuse it rather than edit the host.
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "aug_init",
                &ctx,
                "refusing the host's own root: pass the directory where the guest is mounted",
            ));
        }
        if !canonical.is_dir() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "aug_init",
                &ctx,
                "the guest root is not a directory",
            ));
        }

        // libaugeas is opened here, in this process, before the fork: the worker
        // must never run the dynamic loader (see `crate::binding`).
        crate::binding::library()
            .map_err(|why| Error::new(ErrorKind::Unavailable, "aug_init", &ctx, why))?;

        // Read here what the child must not (the environment is behind a lock).
        let host_modules = match lenses {
            None => Modules::host_load_path(&loadpath, flags.contains(AugFlags::NO_STDINC)),
            Some(_) => Modules::in_dirs(std::iter::empty()),
        };
        let (sock, child_end) = UnixStream::pair().map_err(|e| {
            internal("aug_init", &ctx, "cannot make the augeas worker's socket").with_source(e)
        })?;
        let setup = Setup {
            root: canonical.clone(),
            flags,
            loadpath,
            lenses,
            host_modules,
            sock: child_end.as_raw_fd(),
            parent: nix::unistd::getpid(),
        };

        let (pid_tx, pid_rx) = mpsc::sync_channel::<nix::Result<Pid>>(1);
        let (died_tx, died_rx) = mpsc::channel::<()>();
        let waiter = std::thread::Builder::new()
            .name("vmcraft-aug".into())
            .stack_size(STACK_SIZE)
            .spawn(move || {
                // SAFETY: the child runs only `child::run`, which never returns
                // and keeps to what is safe after forking a multi-threaded
                // process (system calls, allocation, libaugeas; no lock another
                // thread may hold), ending with _exit.
                match unsafe { nix::unistd::fork() } {
                    Ok(ForkResult::Child) => child::run(setup),
                    Ok(ForkResult::Parent { child }) => {
                        drop(child_end);
                        let _ = pid_tx.send(Ok(child));
                        // Live as long as the child (its parent-death signal is
                        // tied to this thread), without reaping it.
                        while let Err(nix::errno::Errno::EINTR) =
                            waitid(Id::Pid(child), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT)
                        {
                        }
                        drop(died_tx);
                    }
                    Err(e) => {
                        let _ = pid_tx.send(Err(e));
                    }
                }
            })
            .map_err(|e| {
                internal("aug_init", &ctx, "cannot start the augeas worker's thread").with_source(e)
            })?;
        let pid = match pid_rx.recv() {
            Ok(Ok(pid)) => pid,
            Ok(Err(e)) => {
                let _ = waiter.join();
                return Err(
                    internal("aug_init", &ctx, "cannot fork the augeas worker").with_source(e)
                );
            }
            Err(_) => {
                let _ = waiter.join();
                return Err(internal(
                    "aug_init",
                    &ctx,
                    "the augeas worker's thread stopped before forking",
                ));
            }
        };

        let mut worker = Worker {
            pid,
            reader: BufReader::with_capacity(64 << 10, sock),
            out: Vec::new(),
            inbuf: Vec::new(),
            state: State::Alive,
            waiter: Some(waiter),
            died: died_rx,
            root: canonical,
            flags,
        };
        // The worker's first answer: ready, or why not.
        worker.answer("aug_init", &ctx)?.unit("aug_init")?;
        tracing::debug!(pid = pid.as_raw(), root = %worker.root.display(), flags = flags.bits(), "augeas worker confined to the guest root");
        Ok(worker)
    }

    /// Send `req` to the worker and wait for its answer.
    pub(crate) fn call(&mut self, req: &Request<'_>) -> Result<Value> {
        let call = req.call();
        if let State::Dead {
            call: during,
            cause,
        } = &self.state
        {
            return Err(Error::new(
                ErrorKind::WorkerCrashed,
                call,
                self.root.display().to_string(),
                format!(
                    "the augeas worker process (pid {}) died earlier, during {during} ({cause}); \
                     close the handle or call aug_init again",
                    self.pid
                ),
            ));
        }
        let too_large = |len: usize| {
            Error::new(
                ErrorKind::InvalidArgument,
                call,
                "",
                format!(
                    "the arguments ({len} bytes) are larger than the {} MiB a worker accepts",
                    MAX_FRAME >> 20
                ),
            )
        };
        // Checked before encoding too, so as not to encode what is refused anyway.
        if req.size() > MAX_FRAME {
            return Err(too_large(req.size()));
        }
        let len = protocol::encode(&mut self.out, req)
            .map_err(|e| internal(call, "", "cannot encode the request").with_source(e))?;
        if len > MAX_FRAME {
            return Err(too_large(len));
        }
        if protocol::send_all(self.reader.get_ref().as_fd(), &self.out).is_err() {
            // The socket only fails when the worker is gone.
            return Err(self.reap_dead(call));
        }
        let root = self.root.display().to_string();
        self.answer(call, &root)
    }

    /// Read the worker's answer to `call` (about `ctx`).
    fn answer(&mut self, call: &'static str, ctx: &str) -> Result<Value> {
        match protocol::read_frame(&mut self.reader, &mut self.inbuf) {
            Ok(Frame::Read) => match serde_json::from_slice::<Answer>(&self.inbuf) {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => Err(e.into_error(call)),
                Err(e) => {
                    // Not our worker's doing: stop trusting it.
                    self.kill_and_reap(call, "it sent a malformed answer".to_string());
                    Err(internal(
                        call,
                        ctx,
                        "the augeas worker sent a malformed answer; the handle is closed",
                    )
                    .with_source(e))
                }
            },
            Ok(Frame::TooLarge(n)) => Err(Error::new(
                ErrorKind::TooLarge,
                call,
                ctx,
                format!(
                    "the answer ({n} bytes) is larger than the {} MiB a handle accepts \
                     from its worker",
                    MAX_FRAME >> 20
                ),
            )),
            Ok(Frame::Closed) | Err(_) => Err(self.reap_dead(call)),
        }
    }

    /// The worker closed the socket or failed to take a request: it is dead
    /// or dying. Reap it and say why it died.
    fn reap_dead(&mut self, call: &'static str) -> Error {
        let cause = self.kill_and_reap(call, String::new());
        Error::new(
            ErrorKind::WorkerCrashed,
            call,
            self.root.display().to_string(),
            format!("the augeas worker process (pid {}) died: {cause}", self.pid),
        )
    }

    /// Kill the worker (a no-op when it is already dead: the exit status is
    /// the one it died with), reap it, and mark the handle dead. Returns the
    /// cause: `why` if given, else how it ended.
    fn kill_and_reap(&mut self, call: &'static str, why: String) -> String {
        let _ = self.reader.get_ref().shutdown(Shutdown::Both);
        // Unreaped until below, so the pid is still the worker's (unless the
        // application reaps children it did not start: then the waiter has seen
        // the death, and nothing is sent).
        if let Err(mpsc::TryRecvError::Empty) = self.died.try_recv() {
            let _ = kill(self.pid, Signal::SIGKILL);
        }
        if let Some(w) = self.waiter.take() {
            let _ = w.join();
        }
        let status = describe(reap(self.pid));
        let cause = if why.is_empty() { status } else { why };
        self.state = State::Dead {
            call,
            cause: cause.clone(),
        };
        cause
    }

    /// The worker's pid while it lives.
    pub(crate) fn pid(&self) -> Option<u32> {
        match self.state {
            State::Alive => Some(self.pid.as_raw() as u32),
            State::Dead { .. } => None,
        }
    }

    /// The canonical guest root.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The flags the handle was opened with.
    pub(crate) fn flags(&self) -> AugFlags {
        self.flags
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let State::Dead { .. } = self.state {
            return;
        }
        // End of stream: the worker exits (closing the Augeas handle unsaved).
        let _ = self.reader.get_ref().shutdown(Shutdown::Both);
        if let Err(mpsc::RecvTimeoutError::Timeout) = self.died.recv_timeout(EXIT_GRACE) {
            let _ = kill(self.pid, Signal::SIGKILL);
        }
        if let Some(w) = self.waiter.take() {
            let _ = w.join();
        }
        let _ = reap(self.pid);
    }
}

/// Wait for `pid` to end and reap it.
fn reap(pid: Pid) -> nix::Result<WaitStatus> {
    loop {
        match waitpid(pid, None) {
            Err(nix::errno::Errno::EINTR) => {}
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::Attempt;
    use vmcraft_block::testing::require_root;

    fn worker(label: &str) -> (tempfile::TempDir, Worker) {
        let dir = tempfile::Builder::new()
            .prefix(&format!("vmcraft-aug-{label}-"))
            .tempdir()
            .unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/hosts"), "192.0.2.1 guest\n").unwrap();
        let w = Worker::start(
            dir.path(),
            AugFlags::empty(),
            String::new(),
            Some(vec!["Hosts".into()]),
        )
        .unwrap();
        (dir, w)
    }

    fn pid_gone(pid: u32) -> bool {
        !Path::new(&format!("/proc/{pid}")).exists()
    }

    #[test]
    fn a_panic_in_the_worker_ends_it_and_fails_the_call() {
        if !require_root("a worker process (chroot)") {
            return;
        }
        let (_dir, mut w) = worker("panic");
        let pid = w.pid().unwrap();
        let e = w.call(&Request::Panic).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WorkerCrashed);
        assert!(
            e.to_string().ends_with(&format!(
                "the augeas worker process (pid {pid}) died: it panicked (exit status 101)"
            )),
            "{e}"
        );
        assert!(pid_gone(pid));
        let e = w.call(&Request::Load).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WorkerCrashed);
        assert!(
            e.to_string().contains("died earlier, during aug_test"),
            "{e}"
        );
    }

    /// The worker's answer to an [`Attempt`]: the errno.
    fn attempt(w: &mut Worker, what: Attempt) -> u64 {
        match w.call(&Request::Attempt(what)) {
            Ok(Value::Count(errno)) => errno,
            other => panic!("{what:?}: {other:?}"),
        }
    }

    /// The worker still answers, reading the guest, and is the same process.
    fn still_serving(w: &mut Worker, pid: u32) {
        w.call(&Request::Load).unwrap();
        assert_eq!(
            w.call(&Request::Get("/files/etc/hosts/1/canonical".into()))
                .unwrap(),
            Value::Text("guest".into())
        );
        assert_eq!(w.pid(), Some(pid));
    }

    #[test]
    fn the_seccomp_filter_refuses_what_leads_out_of_the_worker() {
        if !require_root("a worker process (chroot)") {
            return;
        }
        let (_dir, mut w) = worker("seccomp");
        let pid = w.pid().unwrap();
        w.call(&Request::Transform(
            "Hosts".into(),
            "/etc/hosts".into(),
            false,
        ))
        .unwrap();
        still_serving(&mut w, pid);
        let parent = std::process::id() as i32;
        let eperm = libc::EPERM as u64;
        let mut attempts = vec![
            Attempt::OpenByHandle,
            Attempt::PtraceAttach(parent),
            Attempt::Kill(parent),
            Attempt::UnixSocket,
            Attempt::Exec,
            // Allowed on the worker itself only.
            Attempt::Prlimit(parent),
            Attempt::Tgkill(parent),
            Attempt::SetOwner(parent),
        ];
        // x32 numbers match nothing on the list (without the filter: the pid,
        // or ENOSYS where the kernel has no x32).
        if cfg!(target_arch = "x86_64") {
            attempts.push(Attempt::X32Getpid);
        }
        let mut allowed = Vec::new();
        for what in attempts {
            let errno = attempt(&mut w, what);
            if errno != eperm {
                allowed.push((what, errno));
            }
            still_serving(&mut w, pid);
        }
        assert_eq!(allowed, [], "not refused with EPERM (errno, 0 for success)");
    }

    /// Whether the kernel runs i386 system calls (`int 0x80`) from a 64-bit
    /// process: tried in a child, which a kernel without them kills.
    #[cfg(target_arch = "x86_64")]
    fn kernel_has_ia32_emulation() -> bool {
        // SAFETY: the child makes one system call and exits at once.
        match unsafe { nix::unistd::fork() }.unwrap() {
            ForkResult::Child => {
                let ok = crate::seccomp::i386_getpid() == Ok(std::process::id() as i32);
                // SAFETY: ends the child without running this process's code.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            ForkResult::Parent { child } => {
                matches!(reap(child), Ok(WaitStatus::Exited(_, 0)))
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_system_call_of_the_i386_abi_kills_the_worker() {
        if !require_root("a worker process (chroot)")
            || !vmcraft_block::testing::require_kernel_feature(
                "IA-32 emulation (int 0x80)",
                kernel_has_ia32_emulation(),
            )
        {
            return;
        }
        let (_dir, mut w) = worker("i386");
        let pid = w.pid().unwrap();
        let e = w.call(&Request::Attempt(Attempt::I386Getpid)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WorkerCrashed);
        assert!(
            e.to_string().ends_with(&format!(
                "the augeas worker process (pid {pid}) died: killed by signal 31 \
                 (SIGSYS, a system call its seccomp filter forbids)"
            )),
            "{e}"
        );
        assert!(pid_gone(pid));
    }

    #[test]
    fn a_malformed_answer_closes_the_handle() {
        if !require_root("a worker process (chroot)") {
            return;
        }
        let (_dir, mut w) = worker("garbage");
        let pid = w.pid().unwrap();
        assert_eq!(
            w.call(&Request::Get("/augeas/root".into())).unwrap(),
            Value::Text("/".into())
        );
        let e = w.call(&Request::Garbage).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert_eq!(
            e.to_string(),
            format!(
                "aug_test: {}: the augeas worker sent a malformed answer; the handle is closed",
                w.root().display()
            )
        );
        assert!(std::error::Error::source(&e).is_some());
        assert!(pid_gone(pid), "killed and reaped");
        let e = w.call(&Request::Save).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WorkerCrashed);
        assert!(
            e.to_string()
                .contains("died earlier, during aug_test (it sent a malformed answer)"),
            "{e}"
        );
    }
}
