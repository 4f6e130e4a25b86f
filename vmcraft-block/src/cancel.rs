//! Cooperative cancellation: a [`CancelToken`] that one thread cancels and the
//! long calls of another (copies, tar, waits) check at bounded intervals. A
//! cancelled call stops at its next check, leaves what it wrote consistent, and
//! returns an error of kind `Cancelled` (in [`crate::ErrorKind`] and the other
//! crates' kinds) that the caller handles like any other: nothing unwinds.
//!
//! Code that stops inside an `io::Read` or `io::Write` (a tar stream) cannot
//! return a crate error from there; it returns [`CancelToken::check_io`]'s
//! `io::Error`, which [`is_cancelled_io`] recognises wherever it surfaces
//! (wrapped or not), so that the caller can report a cancellation as one.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, ErrorKind, Result};

/// A cancellation flag shared by clones: cheap to clone, `Send + Sync`. Once
/// cancelled it stays cancelled; a call that sees it stops at its next check.
///
/// ```
/// use vmcraft_block::CancelToken;
/// let token = CancelToken::new();
/// let seen_by_the_call = token.clone();
/// assert!(!seen_by_the_call.is_cancelled());
/// std::thread::spawn(move || token.cancel()).join().unwrap();
/// assert!(seen_by_the_call.is_cancelled());
/// ```
///
/// Cancelling a copy from another thread:
///
/// ```no_run
/// use vmcraft_block::{CancelToken, CopyOptions, ErrorKind, copy_device_to_device};
/// let token = CancelToken::new();
/// let t = token.clone();
/// std::thread::spawn(move || {
///     std::thread::sleep(std::time::Duration::from_secs(1));
///     t.cancel();
/// });
/// let opts = CopyOptions { cancel: Some(&token), ..Default::default() };
/// match copy_device_to_device("/dev/loop0", "/dev/loop1", &opts) {
///     Ok(stats) => println!("copied {} bytes", stats.bytes),
///     Err(e) if e.kind() == ErrorKind::Cancelled => eprintln!("{e}"), // "... cancelled after N of M bytes"
///     Err(e) => return Err(e),
/// }
/// # Ok::<(), vmcraft_block::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A new token, not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancel: every call checking this token (or a clone) stops at its next
    /// check. Idempotent; safe from any thread (not from a signal handler: use
    /// a thread that waits for the signal).
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether [`CancelToken::cancel`] was called on this token or a clone.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// `Err` of kind [`ErrorKind::Cancelled`] (from `call` about `subject`,
    /// saying `message`) once cancelled.
    ///
    /// ```
    /// use vmcraft_block::{CancelToken, ErrorKind};
    /// let t = CancelToken::new();
    /// assert!(t.check("dd_copy", "/dev/sda", "cancelled").is_ok());
    /// t.cancel();
    /// let e = t.check("dd_copy", "/dev/sda", "cancelled after 0 of 512 bytes").unwrap_err();
    /// assert_eq!(e.kind(), ErrorKind::Cancelled);
    /// assert_eq!(e.to_string(), "dd_copy: /dev/sda: cancelled after 0 of 512 bytes");
    /// ```
    pub fn check(
        &self,
        call: &'static str,
        subject: impl fmt::Display,
        message: impl Into<String>,
    ) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::new(ErrorKind::Cancelled, call, subject, message))
        } else {
            Ok(())
        }
    }

    /// For code inside `io::Read`/`io::Write`: once cancelled, an `io::Error`
    /// that [`is_cancelled_io`] recognises (of kind `Other`, never
    /// `Interrupted`, which read loops would retry).
    ///
    /// ```
    /// use vmcraft_block::{CancelToken, cancel::is_cancelled_io};
    /// let t = CancelToken::new();
    /// t.cancel();
    /// let e = t.check_io().unwrap_err();
    /// assert!(is_cancelled_io(&e));
    /// assert_eq!(e.to_string(), "cancelled");
    /// ```
    pub fn check_io(&self) -> io::Result<()> {
        if self.is_cancelled() {
            Err(cancelled_io())
        } else {
            Ok(())
        }
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CancelToken")
            .field(&if self.is_cancelled() {
                "cancelled"
            } else {
                "live"
            })
            .finish()
    }
}

/// The payload of the `io::Error` a cancelled stream returns.
#[derive(Debug)]
struct CancelMarker;

impl fmt::Display for CancelMarker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cancelled")
    }
}

impl std::error::Error for CancelMarker {}

/// The `io::Error` of a cancelled stream (what [`CancelToken::check_io`]
/// returns).
pub fn cancelled_io() -> io::Error {
    io::Error::other(CancelMarker)
}

/// Whether `e` comes from a cancellation: made by [`cancelled_io`], or
/// wrapping such an error somewhere in its `source()` chain (an error of
/// another crate turned back into an `io::Error`).
///
/// ```
/// use vmcraft_block::cancel::{cancelled_io, is_cancelled_io};
/// assert!(is_cancelled_io(&cancelled_io()));
/// let wrapped = std::io::Error::other(vmcraft_block::Error::io("tar_in", "/", "read", cancelled_io()));
/// assert!(is_cancelled_io(&wrapped));
/// assert!(!is_cancelled_io(&std::io::Error::other("cancelled")));
/// ```
pub fn is_cancelled_io(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| is_cancellation(inner))
}

/// Whether any error in `err`'s chain (itself, its `source()`s, and the
/// payloads of the `io::Error`s among them) is [`cancelled_io`]'s or this
/// crate's [`ErrorKind::Cancelled`] error (a cancelled copy or command): how a
/// crate tells a cancellation from a failure once the `io::Error` of a
/// cancelled stream came back wrapped in its own or a library's error.
///
/// ```
/// use vmcraft_block::cancel::{cancelled_io, is_cancellation};
/// let e = vmcraft_block::Error::io("tar_in", "/srv", "entry \"./a\": write", cancelled_io());
/// assert!(is_cancellation(&e));
/// assert!(!is_cancellation(&vmcraft_block::Error::invalid("dd_copy", "/dev/sda", "bad")));
/// let t = vmcraft_block::CancelToken::new();
/// t.cancel();
/// assert!(is_cancellation(&t.check("dd_copy", "/dev/sda", "cancelled").unwrap_err()));
/// ```
pub fn is_cancellation(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.is::<CancelMarker>()
            || e.downcast_ref::<Error>()
                .is_some_and(|c| c.kind() == ErrorKind::Cancelled)
        {
            return true;
        }
        cur = match e.downcast_ref::<io::Error>() {
            // An io::Error's source() skips its payload; look at the payload.
            Some(io) => io
                .get_ref()
                .map(|p| p as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag_across_threads() {
        let t = CancelToken::new();
        let clones: Vec<_> = (0..4).map(|_| t.clone()).collect();
        assert!(clones.iter().all(|c| !c.is_cancelled()));
        assert_eq!(format!("{t:?}"), "CancelToken(\"live\")");
        let c = clones[2].clone();
        std::thread::spawn(move || c.cancel()).join().unwrap();
        assert!(t.is_cancelled() && clones.iter().all(CancelToken::is_cancelled));
        assert_eq!(format!("{t:?}"), "CancelToken(\"cancelled\")");
        // Separate tokens are separate.
        assert!(!CancelToken::new().is_cancelled());
    }

    #[test]
    fn io_errors_are_recognised_through_wrapping_only_when_made_here() {
        let t = CancelToken::new();
        assert!(t.check_io().is_ok());
        t.cancel();
        let e = t.check_io().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Other);
        assert!(is_cancelled_io(&e));
        // io::Error in an io::Error, and a crate error with the io::Error as source.
        let twice = io::Error::new(io::ErrorKind::InvalidData, cancelled_io());
        assert!(is_cancelled_io(&twice));
        let crate_err = Error::io("tar_in", "/srv", "read", cancelled_io());
        assert_eq!(crate_err.kind(), ErrorKind::Cancelled);
        assert!(is_cancelled_io(&io::Error::other(crate_err)));
        for other in [
            io::Error::other("cancelled"),
            io::Error::from(io::ErrorKind::Interrupted),
            io::Error::from_raw_os_error(libc::EINTR),
        ] {
            assert!(!is_cancelled_io(&other), "{other}");
        }
    }
}
