//! The crate's one error type: a matchable [`ErrorKind`], the libguestfs call that
//! failed, its subject (a device, VG or LV) and a lower-case message.
//!
//! When lvm2 itself refused, the message is lvm2's own complaint (its stderr without
//! the noise lines) and the [`vmcraft_block::Error`] of the failed command is the
//! [`source`](std::error::Error::source): the whole command line, the exit status
//! and the complete stderr, reachable through [`Error::command_failure`].

use std::fmt;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an [`Error`] is, for callers that need to branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument was rejected before any command ran: an empty list, an invalid
    /// VG or LV name, a zero size, a percentage outside 0..=100, a device that is
    /// not one of the session's.
    InvalidArgument,
    /// The session has no devices, so there is nothing lvm2 may look at.
    NoDevices,
    /// The host cannot do this: activating LVs without device-mapper.
    Unsupported,
    /// A device-mapper device of the host or of another session carries the name
    /// or UUID of one of the session's LVs: activating, deactivating or reloading
    /// the LV would touch that device, so nothing was run.
    Conflict,
    /// lvm2 ran and failed; the source carries the command line and stderr.
    CommandFailed,
    /// lvm2 is not installed.
    ToolMissing,
    /// An lvm2 command ran past the session's timeout and was killed.
    Timeout,
    /// lvm2 printed a report this crate could not parse.
    BadOutput,
    /// The session's private configuration directory could not be made.
    Io,
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error type of `vmcraft-lvm`.
///
/// ```
/// use vmcraft_lvm::{Error, ErrorKind};
/// let e = Error::invalid("vgcreate", "my vg", "invalid character ' ' in volume group name");
/// assert_eq!(e.kind(), ErrorKind::InvalidArgument);
/// assert_eq!(e.to_string(), "vgcreate: my vg: invalid character ' ' in volume group name");
/// ```
#[derive(Debug, thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    call: &'static str,
    subject: String,
    message: String,
    #[source]
    source: Option<Source>,
}

impl Error {
    /// A new error of `kind` raised by `call` about `subject` (empty for none).
    pub fn new(
        kind: ErrorKind,
        call: &'static str,
        subject: impl fmt::Display,
        message: impl Into<String>,
    ) -> Self {
        Error {
            kind,
            call,
            subject: subject.to_string(),
            message: message.into(),
            source: None,
        }
    }

    /// An argument rejected before anything ran.
    pub fn invalid(
        call: &'static str,
        subject: impl fmt::Display,
        message: impl Into<String>,
    ) -> Self {
        Self::new(ErrorKind::InvalidArgument, call, subject, message)
    }

    /// Attach a cause, reachable through `source()`.
    pub fn with_source(mut self, err: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(err));
        self
    }

    /// The same failure (kind and source kept) reported by `call` about
    /// `subject` with `message`: a step's error as the error of the call that
    /// needed it.
    pub(crate) fn reported_as(
        self,
        call: &'static str,
        subject: &str,
        message: impl Into<String>,
    ) -> Self {
        Error {
            call,
            subject: subject.to_string(),
            message: message.into(),
            ..self
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The libguestfs call that failed (`lvcreate`, `pvs_full`, ...).
    pub fn call(&self) -> &'static str {
        self.call
    }

    /// The device, VG or LV the error is about, if any.
    pub fn subject(&self) -> Option<&str> {
        (!self.subject.is_empty()).then_some(self.subject.as_str())
    }

    /// The message without call and subject.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// For a failed lvm2 command: its command line, exit status, stdout and stderr.
    ///
    /// ```
    /// # use vmcraft_lvm::Error;
    /// let e = Error::invalid("pvcreate", "", "no devices given");
    /// assert!(e.command_failure().is_none());
    /// ```
    pub fn command_failure(&self) -> Option<&vmcraft_block::CommandFailure> {
        self.source
            .as_deref()
            .and_then(|s| s.downcast_ref::<vmcraft_block::Error>())
            .and_then(vmcraft_block::Error::command_failure)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.call)?;
        if !self.subject.is_empty() {
            write!(f, ": {}", self.subject)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// Lines of lvm2's stderr that say nothing about why a command failed.
fn is_noise(line: &str) -> bool {
    line.is_empty()
        || line.starts_with("WARNING: Activation disabled")
        || line.starts_with("File descriptor ")
        || line.starts_with("Run `")
        // lvm2 2.02 told use_lvmetad=0 while the host's lvmetad runs.
        || line.starts_with("WARNING: lvmetad is running but disabled")
        || line.starts_with("WARNING: Not using lvmetad")
}

/// lvm2's complaint, from its stderr: the lines that are not noise, joined with `; `.
pub(crate) fn lvm_complaint(stderr: &str) -> String {
    stderr
        .lines()
        .map(str::trim)
        .filter(|l| !is_noise(l))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Wrap an error of the runner (the command could not run, or ran and failed) as
/// this crate's error for `call` about `subject`.
pub(crate) fn from_block(call: &'static str, subject: &str, err: vmcraft_block::Error) -> Error {
    use vmcraft_block::ErrorKind as B;
    let (kind, message) = match err.kind() {
        B::ToolMissing => (ErrorKind::ToolMissing, "lvm2 is not installed".to_string()),
        B::Timeout => (
            ErrorKind::Timeout,
            "lvm2 ran past the session's timeout".to_string(),
        ),
        _ => {
            let complaint = err
                .command_failure()
                .map(|f| lvm_complaint(&f.stderr))
                .unwrap_or_default();
            let message = if complaint.is_empty() {
                match err.command_failure().and_then(|f| f.status) {
                    Some(status) => format!("lvm2 failed with {status}"),
                    None => "lvm2 could not be run".to_string(),
                }
            } else {
                complaint
            };
            (ErrorKind::CommandFailed, message)
        }
    };
    Error::new(kind, call, subject, message).with_source(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_with_and_without_subject() {
        let e = Error::new(
            ErrorKind::NoDevices,
            "pvs",
            "",
            "the session has no devices",
        );
        assert_eq!(e.to_string(), "pvs: the session has no devices");
        assert_eq!(e.subject(), None);
        let e = Error::invalid("lvcreate", "vg0/lv", "size 0 is zero");
        assert_eq!(e.to_string(), "lvcreate: vg0/lv: size 0 is zero");
        assert_eq!(e.subject(), Some("vg0/lv"));
        assert_eq!(e.call(), "lvcreate");
        assert_eq!(e.message(), "size 0 is zero");
    }

    #[test]
    fn complaint_drops_noise() {
        let stderr = "  WARNING: Activation disabled. No device-mapper interaction will be attempted.\n  \
                      Volume group \"vg0\" not found\n  Cannot process volume group vg0\n  \
                      Run `lvresize --help' for more information.";
        assert_eq!(
            lvm_complaint(stderr),
            "Volume group \"vg0\" not found; Cannot process volume group vg0"
        );
    }

    #[test]
    fn block_errors_map_to_kinds_and_keep_the_source() {
        use vmcraft_block::testing::{FakeRunner, Response};
        use vmcraft_block::{Command, CommandRunner, ErrorKind as B};
        let fake = FakeRunner::new();
        fake.expect(
            &["lvm", "vgs"],
            Response::fail(5, "  Volume group \"x\" not found\n"),
        );
        fake.expect(&["lvm", "pvs"], Response::fail(3, ""));
        fake.expect(&["lvm", "lvs"], Response::error(B::ToolMissing, "no lvm"));
        fake.expect(&["lvm", "lvs"], Response::error(B::Timeout, "slow"));
        let e = from_block(
            "vgs",
            "x",
            fake.run(&Command::new("lvm").arg("vgs")).unwrap_err(),
        );
        assert_eq!(e.kind(), ErrorKind::CommandFailed);
        assert_eq!(e.to_string(), "vgs: x: Volume group \"x\" not found");
        let failure = e.command_failure().expect("command failure");
        assert_eq!(failure.argv, ["lvm", "vgs"]);
        let chain = vmcraft_block::error_chain(&e);
        assert!(
            chain.contains("command `lvm vgs` failed with exit status 5"),
            "{chain}"
        );

        let e = from_block(
            "pvs",
            "",
            fake.run(&Command::new("lvm").arg("pvs")).unwrap_err(),
        );
        assert_eq!(e.to_string(), "pvs: lvm2 failed with exit status 3");
        let e = from_block(
            "lvs",
            "",
            fake.run(&Command::new("lvm").arg("lvs")).unwrap_err(),
        );
        assert_eq!(e.kind(), ErrorKind::ToolMissing);
        let e = from_block(
            "lvs",
            "",
            fake.run(&Command::new("lvm").arg("lvs")).unwrap_err(),
        );
        assert_eq!(e.kind(), ErrorKind::Timeout);
        fake.verify();
    }
}
