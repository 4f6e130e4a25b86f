//! Progress bars for copies and tar on a terminal (indicatif), fed by the
//! handle's progress callback; quiet when standard error is not a terminal.
//! Once a signal arrived the bar is cleared and no more is drawn, so that the
//! interruption and shutdown messages stay readable; the running call itself is
//! stopped by the handle's cancellation token ([`super::signals`]), never from
//! here.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use vmcraft::ProgressEvent;

/// The calls that get a bar.
const BARRED: [&str; 3] = ["copy_device_to_device", "tar_in", "tar_out"];

/// Progress state of one command-line session.
pub struct Progress {
    terminal: bool,
    bar: Mutex<Option<(&'static str, ProgressBar)>>,
    signal: Arc<AtomicI32>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("terminal", &self.terminal)
            .finish_non_exhaustive()
    }
}

impl Progress {
    /// Bars drawn when `terminal`; `signal` is non-zero once a signal arrived.
    ///
    /// ```
    /// use std::sync::{Arc, atomic::AtomicI32};
    /// let p = vmcraft_cli::progress::Progress::new(false, Arc::new(AtomicI32::new(0)));
    /// p.event(&vmcraft::ProgressEvent { call: "tar_out", done: 10, total: 0 });
    /// p.finish();
    /// ```
    pub fn new(terminal: bool, signal: Arc<AtomicI32>) -> Arc<Self> {
        Arc::new(Progress {
            terminal,
            bar: Mutex::new(None),
            signal,
        })
    }

    /// Handle one progress report: draw it, unless a signal arrived (then the
    /// bar is cleared and the report dropped; the call stops at its next
    /// cancellation check and returns an error).
    pub fn event(&self, e: &ProgressEvent) {
        if self.signal.load(Ordering::SeqCst) != 0 {
            self.finish();
            return;
        }
        if !self.terminal || !BARRED.contains(&e.call) {
            return;
        }
        let mut g = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        if g.as_ref().is_none_or(|(call, _)| *call != e.call) {
            if let Some((_, old)) = g.take() {
                old.finish_and_clear();
            }
            let (bar, template) = if e.total > 0 {
                (
                    ProgressBar::with_draw_target(Some(e.total), ProgressDrawTarget::stderr()),
                    "{msg} [{bar:40}] {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta})",
                )
            } else {
                (
                    ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
                    "{msg} {spinner} {binary_bytes} ({binary_bytes_per_sec})",
                )
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(e.call.replace('_', "-"));
            *g = Some((e.call, bar));
        }
        if let Some((_, bar)) = g.as_ref() {
            if e.total > 0 {
                bar.set_length(e.total);
            }
            bar.set_position(e.done);
        }
    }

    /// Clear the bar at the end of a command.
    pub fn finish(&self) {
        if let Some((_, bar)) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_a_signal_reports_clear_the_bar_and_never_panic() {
        let sig = Arc::new(AtomicI32::new(0));
        let p = Progress::new(true, sig.clone());
        p.event(&ProgressEvent {
            call: "copy_device_to_device",
            done: 1,
            total: 2,
        });
        assert!(p.bar.lock().unwrap().is_some());
        sig.store(15, Ordering::SeqCst);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            p.event(&ProgressEvent {
                call: "copy_device_to_device",
                done: 2,
                total: 2,
            })
        }));
        assert!(r.is_ok(), "a progress report must not unwind the call");
        assert!(p.bar.lock().unwrap().is_none(), "the bar is cleared");
    }

    #[test]
    fn bars_follow_the_call() {
        let p = Progress::new(true, Arc::new(AtomicI32::new(0)));
        p.event(&ProgressEvent {
            call: "tar_out",
            done: 5,
            total: 0,
        });
        assert_eq!(p.bar.lock().unwrap().as_ref().unwrap().0, "tar_out");
        p.event(&ProgressEvent {
            call: "copy_device_to_device",
            done: 5,
            total: 10,
        });
        {
            let g = p.bar.lock().unwrap();
            let (call, bar) = g.as_ref().unwrap();
            assert_eq!(*call, "copy_device_to_device");
            assert_eq!((bar.position(), bar.length()), (5, Some(10)));
        }
        // mkfs reports steps, not bytes: no bar.
        p.finish();
        p.event(&ProgressEvent {
            call: "mkfs",
            done: 0,
            total: 1,
        });
        assert!(p.bar.lock().unwrap().is_none());
    }
}
