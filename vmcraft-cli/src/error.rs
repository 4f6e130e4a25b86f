//! The command line's error: what it prints after `vmcraft: error: `, always
//! starting with the call or command that failed.

use std::fmt;

/// A failure of a command or of the command line itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// A command or option used wrongly: unknown name, wrong argument count or
    /// type, bad syntax. Nothing was done.
    #[error("{command}: {message}")]
    Usage {
        /// The command (or option) concerned.
        command: String,
        /// What is wrong.
        message: String,
    },
    /// A facade call failed.
    #[error("{}", facade_message(.call, .source))]
    Call {
        /// The libguestfs name of the call (`part_add`).
        call: String,
        /// The facade's error.
        source: Box<vmcraft::Error>,
    },
    /// A host-side failure of the command line (a host file, standard output).
    #[error("{command}: {message}")]
    Io {
        /// The command concerned.
        command: String,
        /// What failed.
        message: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A command that did its work in part, printed its result, and failed
    /// for the rest (`mount-all-parallel` with a mount that failed).
    #[error("{command}: {message}")]
    Incomplete {
        /// The command concerned.
        command: String,
        /// What failed.
        message: String,
    },
    /// An error followed by advice on further lines.
    #[error("{error}")]
    Hinted {
        /// The error.
        error: Box<CliError>,
        /// What to try instead (printed on the lines after the error).
        hint: String,
    },
}

impl CliError {
    /// A usage error.
    ///
    /// ```
    /// let e = vmcraft_cli::CliError::usage("part-add", "should have 4 parameters");
    /// assert_eq!(e.to_string(), "part-add: should have 4 parameters");
    /// ```
    pub fn usage(command: impl Into<String>, message: impl fmt::Display) -> Self {
        CliError::Usage {
            command: command.into(),
            message: message.to_string(),
        }
    }

    /// A facade failure of `call`.
    pub fn call(call: impl Into<String>, source: vmcraft::Error) -> Self {
        CliError::Call {
            call: call.into(),
            source: Box::new(source),
        }
    }

    /// A host I/O failure.
    pub fn io(
        command: impl Into<String>,
        message: impl fmt::Display,
        source: std::io::Error,
    ) -> Self {
        CliError::Io {
            command: command.into(),
            message: message.to_string(),
            source,
        }
    }

    /// The whole message, causes included, as `vmcraft: error: ` is followed by.
    pub fn chain(&self) -> String {
        match self {
            CliError::Io { source, .. } => format!("{self}: {source}"),
            CliError::Hinted { error, hint } => format!("{}\n{hint}", error.chain()),
            _ => self.to_string(),
        }
    }
}

/// The facade error's chain, prefixed with the call's name unless it already
/// names a call (the facade's own errors do: `part_add: /dev/sda: ...`).
fn facade_message(call: &str, e: &vmcraft::Error) -> String {
    let chain = e.chain();
    let names_a_call = chain.split_once(": ").is_some_and(|(head, _)| {
        !head.is_empty()
            && head
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    });
    if names_a_call {
        chain
    } else {
        format!("{call}: {chain}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facade_errors_start_with_a_call_name() {
        let own = vmcraft::Error::call(
            vmcraft::ErrorKind::NoSuchDevice,
            "blockdev_getsize64",
            "/dev/sdz",
            "no such device",
        );
        assert_eq!(
            CliError::call("blockdev_getsize64", own).chain(),
            "blockdev_getsize64: /dev/sdz: no such device"
        );
        let bare = vmcraft::Error::call(vmcraft::ErrorKind::Io, "/x", "", "gone");
        assert_eq!(CliError::call("tar_out", bare).chain(), "tar_out: /x: gone");
    }

    #[test]
    fn io_errors_carry_their_cause() {
        let e = CliError::io(
            "download",
            "cannot write /nope/x",
            std::io::Error::from_raw_os_error(2),
        );
        assert!(
            e.chain()
                .starts_with("download: cannot write /nope/x: No such file"),
            "{}",
            e.chain()
        );
    }
}
