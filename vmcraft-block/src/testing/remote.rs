//! [`RemoteCancel`]: a cancellation token and a thread that cancels it when
//! asked, so that tests cancel a long call at a known point with no timing.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::CancelToken;

/// A token and a thread that cancels it when asked. [`RemoteCancel::fire`]
/// waits until the other thread has cancelled, so a call that fires it from its
/// progress callback (or its input) is cancelled at a known point, from another
/// thread, as a signal handler's thread would.
///
/// ```
/// use vmcraft_block::testing::RemoteCancel;
/// let remote = RemoteCancel::new();
/// assert!(!remote.fired());
/// remote.fire();
/// assert!(remote.token().is_cancelled());
/// remote.join();
/// ```
#[derive(Debug)]
pub struct RemoteCancel {
    token: CancelToken,
    ask: Mutex<Option<(Sender<()>, Receiver<()>)>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl RemoteCancel {
    /// A fresh token and its thread.
    pub fn new() -> Arc<Self> {
        Self::with_token(CancelToken::new())
    }

    /// A thread that cancels `token` when asked.
    pub fn with_token(token: CancelToken) -> Arc<Self> {
        let (go, go_rx) = channel::<()>();
        let (done_tx, done) = channel::<()>();
        let remote = token.clone();
        let thread = std::thread::spawn(move || {
            if go_rx.recv().is_ok() {
                remote.cancel();
                let _ = done_tx.send(());
            }
        });
        Arc::new(RemoteCancel {
            token,
            ask: Mutex::new(Some((go, done))),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The token the thread cancels.
    pub fn token(&self) -> &CancelToken {
        &self.token
    }

    /// Have the other thread cancel (once), and wait until it did.
    pub fn fire(&self) {
        if let Some((go, done)) = self.ask.lock().unwrap_or_else(|p| p.into_inner()).take() {
            go.send(()).expect("the cancelling thread is alive");
            done.recv().expect("the cancelling thread answered");
        }
    }

    /// Whether the token was cancelled.
    pub fn fired(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Stop the thread (if it was never asked) and join it.
    pub fn join(&self) {
        self.ask.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            t.join().expect("the cancelling thread did not panic");
        }
    }
}
