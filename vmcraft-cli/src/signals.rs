//! Ctrl-C and `kill`: SIGINT, SIGTERM and SIGHUP are blocked in every thread and
//! taken by one waiting thread. On the first signal it marks the session
//! interrupted, says so on standard error, and cancels the handle's
//! [`vmcraft::VMCraft::cancel_token`]: a long copy or tar stops at its next check
//! and returns a `Cancelled` error (nothing panics or unwinds). It then waits for
//! the running command to return, shuts the handle down normally and exits with
//! 128 + the signal number (130 for SIGINT, 143 for SIGTERM). A second signal
//! shuts down at once without waiting.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};

use vmcraft::VMCraft;

/// The signals that end a session.
fn set() -> SigSet {
    let mut s = SigSet::empty();
    s.add(Signal::SIGINT);
    s.add(Signal::SIGTERM);
    s.add(Signal::SIGHUP);
    s
}

/// Block the session-ending signals in the calling thread, and so in every thread
/// it starts afterwards. Call it first thing, before any thread exists. (Child
/// processes start with an empty mask: the standard library resets it.)
pub fn block() -> std::io::Result<()> {
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set()), None).map_err(std::io::Error::from)
}

fn teardown(g: &VMCraft, sig: i32) -> ! {
    if let Err(e) = g.shutdown() {
        eprintln!("vmcraft: error: {}", e.chain());
    }
    std::process::exit(128 + sig)
}

/// What the first signal does before the session is shut down: record it (the
/// main thread then stops after the running command instead of starting
/// another), say so, and cancel the handle's long calls. The order matters:
/// the signal is recorded before the token is cancelled, so a command that
/// returns its `Cancelled` error finds the session already marked interrupted
/// and leaves the exit status to the shutdown (128 + the signal).
fn interrupt(g: &VMCraft, exec: &Mutex<()>, signal: &AtomicI32, sig: Signal) {
    signal.store(sig as i32, Ordering::SeqCst);
    // The lock is held while a command runs.
    let running = matches!(exec.try_lock(), Err(std::sync::TryLockError::WouldBlock));
    if running {
        eprintln!(
            "vmcraft: interrupted by {}: cancelling the running command, then shutting down",
            sig.as_str()
        );
    } else {
        eprintln!("vmcraft: interrupted by {}: shutting down", sig.as_str());
    }
    g.cancel_token().cancel();
}

/// Start the thread that waits for the signals. `slot` holds the current handle
/// (`reopen` replaces it); `exec` is held by the main thread while a command
/// runs; `signal` is set to the signal number when one arrives.
pub fn spawn(
    slot: super::HandleSlot,
    exec: Arc<Mutex<()>>,
    signal: Arc<AtomicI32>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("vmcraft-signals".into())
        .spawn(move || {
            let set = set();
            let Ok(first) = set.wait() else { return };
            let sig = first as i32;
            let current = || slot.lock().unwrap_or_else(|p| p.into_inner()).clone();
            interrupt(&current(), &exec, &signal, first);
            let (slot2, exec2) = (slot.clone(), exec.clone());
            let graceful = std::thread::Builder::new()
                .name("vmcraft-teardown".into())
                .spawn(move || {
                    let _running = exec2.lock().unwrap_or_else(|p| p.into_inner());
                    let g = slot2.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    teardown(&g, sig)
                });
            if graceful.is_err() {
                teardown(&current(), sig);
            }
            if set.wait().is_ok() {
                teardown(&current(), sig);
            }
        })
        .map(drop)
}
