//! Polling waits with a deadline, for things the kernel makes asynchronously
//! (device nodes from devtmpfs, a daemon's export file). Nothing here depends on
//! udev.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};

/// Poll `cond` until it returns `true` or `timeout` passes; the error says what was
/// being waited for. Polls quickly at first (100 µs) and backs off to 10 ms.
///
/// ```
/// use std::time::Duration;
/// vmcraft_block::wait_until("the answer", Duration::from_millis(10), || true)?;
/// assert!(vmcraft_block::wait_until("never", Duration::from_millis(5), || false).is_err());
/// # Ok::<(), vmcraft_block::Error>(())
/// ```
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(100);
    loop {
        if cond() {
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::new(
                ErrorKind::Timeout,
                "wait",
                what,
                format!("not ready after {timeout:?}"),
            ));
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

/// Wait until `path` exists.
pub fn wait_for_path(path: &Path, timeout: Duration) -> Result<()> {
    wait_until(&path.display().to_string(), timeout, || path.exists())
}
