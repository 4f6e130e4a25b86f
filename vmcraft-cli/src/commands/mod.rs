//! The command line's own commands (guestfish's "fish commands"): those that are
//! not calls of the facade but of the command line itself (`help`, `quit`,
//! `echo`, `alloc`, ...). Each is described like a call, by a
//! [`Call`](vmcraft::calls::table::Call) entry (name, arguments, summary, help), and
//! run by a handler that may use the shell's state. Every other command is a
//! call of the [call table](vmcraft::calls::table).

mod guest;
mod host;
mod local;
mod session;

pub(crate) use host::TempFile;

use crate::error::CliError;
use crate::shell::Shell;
use vmcraft::calls::table::{self, Arg, Args, Call, Ret, Value};

/// What runs a command-line command.
pub type Handler = fn(&mut Shell, &Args) -> Result<Value, CliError>;

/// One command of the command line's own.
pub struct FishCommand {
    /// Its description, as a call's (its runner refuses: it runs only here).
    pub call: Call,
    /// The implementation.
    pub handler: Handler,
}

impl std::fmt::Debug for FishCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FishCommand")
            .field("name", &self.call.name)
            .finish_non_exhaustive()
    }
}

/// Every command of the command line's own, by family.
pub(crate) const FISH: &[&[FishCommand]] = &[session::COMMANDS, local::COMMANDS, guest::COMMANDS];

/// The runner of a command that exists only on the command line.
fn command_line_only(_: &vmcraft::VMCraft, _: &Args) -> vmcraft::Result<Value> {
    Err(vmcraft::Error::call(
        vmcraft::ErrorKind::Unsupported,
        "command",
        "",
        "this command exists only on the vmcraft command line",
    ))
}

/// A command with no optional arguments and no aliases.
const fn cmd(
    name: &'static str,
    args: &'static [Arg],
    ret: Ret,
    summary: &'static str,
    help: &'static str,
    handler: Handler,
) -> FishCommand {
    FishCommand {
        call: table::call(name, args, ret, summary, help, command_line_only),
        handler,
    }
}

impl FishCommand {
    /// With these optional arguments.
    const fn opts(mut self, optargs: &'static [Arg]) -> Self {
        self.call = self.call.opts(optargs);
        self
    }

    /// With these other names.
    const fn alias(mut self, aliases: &'static [&'static str]) -> Self {
        self.call = self.call.alias(aliases);
        self
    }

    /// Taking any number of words.
    const fn variadic(mut self) -> Self {
        self.call = self.call.variadic();
        self
    }
}

/// A facade result as the command line's, named after the libguestfs call.
fn c<T>(call: &str, r: vmcraft::Result<T>) -> Result<T, CliError> {
    r.map_err(|e| CliError::call(call, e))
}
