//! Keys and passphrases (`luks-open`'s `key`), read as guestfish reads them:
//! never from the command's words, which show in the process list and the
//! shell's history, but from the terminal with echo off after a prompt, or, with
//! `--keys-from-stdin`, one line of standard input per key (the commands then
//! come from the command line or a script, never from standard input too). The
//! line's newline is not part of the key.

use std::io::{Read, Write};
use std::os::fd::AsFd;

use super::error::CliError;

/// The longest key line read (cryptsetup's own limit for a key file).
pub const MAX_KEY: usize = 8 << 20;

/// Where keys come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KeySource {
    /// The controlling terminal, with a prompt and echo off.
    #[default]
    Terminal,
    /// Standard input, one line per key (`--keys-from-stdin`).
    Stdin,
}

impl KeySource {
    /// Read the key `name` for `command`.
    pub fn read(self, command: &str, name: &str) -> Result<String, CliError> {
        match self {
            KeySource::Stdin => {
                let line = read_line(&mut std::io::stdin().lock()).map_err(|e| {
                    CliError::io(command, format!("reading {name} from standard input"), e)
                })?;
                line.ok_or_else(|| {
                    CliError::usage(command, format!("no {name} on standard input (it ended)"))
                })
            }
            KeySource::Terminal => from_terminal(command, name),
        }
    }
}

/// One line of `r` without its newline (and a `\r` before it), read a byte at
/// a time (over the process's buffered standard input, what follows the line
/// stays there for the next key); `None` at the end of input with nothing
/// read.
///
/// ```
/// use vmcraft_cli::keys::read_line;
/// let mut input: &[u8] = b"first key\nsecond\n";
/// assert_eq!(read_line(&mut input).unwrap().as_deref(), Some("first key"));
/// assert_eq!(read_line(&mut input).unwrap().as_deref(), Some("second"));
/// assert_eq!(read_line(&mut input).unwrap(), None);
/// ```
pub fn read_line(r: &mut dyn Read) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match r.read(&mut byte) {
            Ok(0) if line.is_empty() => return Ok(None),
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => {
                if line.len() >= MAX_KEY {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("a key line is longer than {MAX_KEY} bytes"),
                    ));
                }
                line.push(byte[0]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).map(Some).map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "a key that is not UTF-8")
    })
}

/// Prompt on the terminal and read the key with echo off (restored however the
/// read ends).
fn from_terminal(command: &str, name: &str) -> Result<String, CliError> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| {
            CliError::usage(
                command,
                format!(
                    "{name} is read from the terminal and there is none: give \
                     --keys-from-stdin and the key on standard input"
                ),
            )
        })?;
    let io = |e: std::io::Error| CliError::io(command, format!("reading {name}"), e);
    write!(tty, "Enter key or passphrase (\"{name}\"): ").map_err(io)?;
    tty.flush().map_err(io)?;
    let saved = tcgetattr(tty.as_fd()).ok();
    if let Some(t) = &saved {
        let mut quiet = t.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        let _ = tcsetattr(tty.as_fd(), SetArg::TCSAFLUSH, &quiet);
    }
    let line = read_line(&mut tty);
    if let Some(t) = &saved {
        let _ = tcsetattr(tty.as_fd(), SetArg::TCSAFLUSH, t);
    }
    let _ = writeln!(tty);
    line.map_err(io)?
        .ok_or_else(|| CliError::usage(command, format!("no {name} given (end of input)")))
}
