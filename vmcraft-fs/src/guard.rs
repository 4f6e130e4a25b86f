//! [`Guard`]: every call into a third-party filesystem reader runs under
//! `catch_unwind`, so a panic inside `ext4-view`, `fatfs` or `ntfs` on a hostile
//! image becomes an [`ErrorKind::Corrupt`](crate::ErrorKind::Corrupt) error
//! instead of taking the caller down; the reader is then marked broken and
//! every later call on it fails the same way (its state may be half-updated).
//! The process's panic hook still runs (by default it prints the panic on
//! standard error); this crate does not replace a process-wide hook.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

/// Runs reader calls under `catch_unwind` and remembers a panic.
#[derive(Debug, Default)]
pub(crate) struct Guard {
    broken: AtomicBool,
}

impl Guard {
    /// Whether a call panicked (every later call is then an error).
    pub(crate) fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Acquire)
    }

    /// Run `f`; a panic becomes a `Corrupt` error naming `call` and `subject`.
    pub(crate) fn run<T>(
        &self,
        call: &'static str,
        subject: &str,
        f: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        if self.broken.load(Ordering::Acquire) {
            return Err(Error::corrupt(
                call,
                subject,
                "the filesystem reader failed earlier (it panicked on this image)",
            ));
        }
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(r) => r,
            Err(payload) => {
                self.broken.store(true, Ordering::Release);
                let what = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_string());
                Err(Error::corrupt(
                    call,
                    subject,
                    format!("the filesystem reader panicked on this image: {what}"),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn panic_becomes_corrupt_and_sticks() {
        let g = Guard::default();
        assert_eq!(g.run("t", "x", || Ok(1)).unwrap(), 1);
        let e = g
            .run::<()>("stat", "/a", || panic!("index out of bounds"))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupt);
        assert!(e.to_string().contains("index out of bounds"), "{e}");
        assert_eq!(
            g.run("t", "x", || Ok(1)).unwrap_err().kind(),
            ErrorKind::Corrupt
        );
    }
}
