//! [`Worker`]: the dedicated thread that owns one confined [`Session`], and the
//! synchronous request/answer channel to it.
//!
//! Each request is a closure run on the worker against the session; its answer
//! comes back over a one-shot channel, so a caller simply blocks until the
//! worker has answered. A request that panics is reported as an error and the
//! worker keeps serving.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::error::{Error, ErrorKind, Result};
use crate::flags::AugFlags;
use crate::session::Session;

type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// The worker's stack. Augeas's parser recurses once per level of nesting in
/// the file it reads, and an overflow aborts the whole process, so a hostile
/// guest file (a deeply nested `/etc/xml/catalog`) could otherwise take the
/// caller down: 256 MiB, reserved but only touched as used, survives nesting
/// some 80 000 levels deep (8 MiB, a main thread's usual stack, about 10 000).
const STACK_SIZE: usize = 256 << 20;

/// The worker thread of one open handle. Dropping it closes the handle and joins
/// the thread.
pub(crate) struct Worker {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    root: PathBuf,
    flags: AugFlags,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("root", &self.root)
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

fn worker_gone(call: &'static str) -> Error {
    Error::new(
        ErrorKind::Internal,
        call,
        "",
        "the augeas worker thread failed before answering (it panicked or stopped)",
    )
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

        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<()>>(1);
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let thread_root = canonical.clone();
        let thread = std::thread::Builder::new()
            .name("vmcraft-aug".into())
            .stack_size(STACK_SIZE)
            .spawn(move || {
                let mut session =
                    match Session::open(&thread_root, flags, &loadpath, lenses.as_deref()) {
                        Ok(s) => {
                            let _ = ready_tx.send(Ok(()));
                            s
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                for job in job_rx {
                    // A panicking job drops its answer channel, which the caller
                    // reports; the session itself stays usable.
                    let _ = catch_unwind(AssertUnwindSafe(|| job(&mut session)));
                }
                // The channel closed: the handle is dropped here (aug_close).
            })
            .map_err(|e| {
                Error::new(
                    ErrorKind::Io,
                    "aug_init",
                    &ctx,
                    "cannot start the augeas worker thread",
                )
                .with_source(e)
            })?;

        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Worker {
                jobs: Some(job_tx),
                thread: Some(thread),
                root: canonical,
                flags,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(worker_gone("aug_init"))
            }
        }
    }

    /// Run `f` on the worker and wait for its answer.
    pub(crate) fn call<R, F>(&self, call: &'static str, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Session) -> Result<R> + Send + 'static,
    {
        let jobs = self.jobs.as_ref().ok_or_else(|| worker_gone(call))?;
        let (tx, rx) = mpsc::sync_channel::<Result<R>>(1);
        jobs.send(Box::new(move |s: &mut Session| {
            let _ = tx.send(f(s));
        }))
        .map_err(|_| worker_gone(call))?;
        rx.recv().map_err(|_| worker_gone(call))?
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
        // Closing the channel ends the worker's loop, which closes the handle.
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
