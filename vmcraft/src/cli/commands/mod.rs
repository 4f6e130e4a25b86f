//! The commands, by family: the session and builtins, devices and block devices,
//! mounting, guest files, filesystems, inspection, partitions, LVM, Augeas and
//! tar. Each family is a table of [`CommandSpec`]s; the handlers map parsed
//! arguments onto the facade's calls and its results onto guestfish's return
//! types.

mod archive;
#[cfg(feature = "augeas")]
mod aug;
mod block;
mod devices;
mod files;
mod host;
mod inspect;
mod lvm;
mod mkfs;
mod mount;
mod part;
mod session;

use super::args::{Arg, ArgKind, arg};
use super::error::CliError;
use super::table::{CommandSpec, Handler};

/// Every family's table.
pub(crate) const FAMILIES: &[&[CommandSpec]] = &[
    session::COMMANDS,
    devices::COMMANDS,
    block::COMMANDS,
    mount::COMMANDS,
    files::COMMANDS,
    mkfs::COMMANDS,
    inspect::COMMANDS,
    part::COMMANDS,
    lvm::COMMANDS,
    #[cfg(feature = "augeas")]
    aug::COMMANDS,
    archive::COMMANDS,
];

/// A command with no optional arguments and no aliases.
const fn cmd(
    name: &'static str,
    args: &'static [Arg],
    summary: &'static str,
    help: &'static str,
    handler: Handler,
) -> CommandSpec {
    CommandSpec {
        name,
        aliases: &[],
        args,
        optargs: &[],
        variadic: false,
        summary,
        help,
        handler,
    }
}

impl CommandSpec {
    /// With these optional arguments.
    const fn opts(mut self, optargs: &'static [Arg]) -> Self {
        self.optargs = optargs;
        self
    }

    /// With these other names.
    const fn alias(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    /// Taking any number of words.
    const fn variadic(mut self) -> Self {
        self.variadic = true;
        self
    }
}

/// A facade result as the command line's, named after the libguestfs call.
fn c<T>(call: &str, r: crate::Result<T>) -> Result<T, CliError> {
    r.map_err(|e| CliError::call(call, e))
}

const DEVICE: Arg = arg("device", ArgKind::Device);
const MOUNTABLE: Arg = arg("mountable", ArgKind::Device);
const PATH: Arg = arg("path", ArgKind::Path);
const DIRECTORY: Arg = arg("directory", ArgKind::Path);
const PARTNUM: Arg = arg("partnum", ArgKind::Int);
const ROOT: Arg = arg("root", ArgKind::Device);
