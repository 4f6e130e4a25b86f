//! tar in and out of the guest tree: `tar-in`, `tar-out` (with libguestfs's
//! optional arguments), `tgz-in`, `tgz-out`, `txz-in`, `txz-out`; `-` for the
//! tarball reads standard input or writes standard output.

use vmcraft_archive::{Compression, TarInOptions, TarOutOptions, TarStats};

use super::prelude::*;

const TARFILE_IN: Arg = arg("tarfile", ArgKind::FileIn);
const TARFILE_OUT: Arg = arg("tarfile", ArgKind::FileOut);
const TARBALL_IN: Arg = arg("tarball", ArgKind::FileIn);
const TARBALL_OUT: Arg = arg("tarball", ArgKind::FileOut);

pub(crate) const CALLS: &[Call] = &[
    call(
        "tar-in",
        &[TARFILE_IN, DIRECTORY],
        Ret::Unit,
        "unpack tarfile to directory",
        "Unpack a host tarball into a guest directory. compress:.. is none, gzip, bzip2, xz \
         or zstd (detected when not given); xattrs:true, selinux:true and acls:true restore \
         extended attributes, SELinux labels and ACLs. Every entry is checked before \
         anything is written, and nothing can land outside the directory.",
        |g, a| {
            let opts = TarInOptions {
                compress: compression("tar-in", a)?,
                xattrs: a.opt_bool("xattrs").unwrap_or(false),
                selinux: a.opt_bool("selinux").unwrap_or(false),
                acls: a.opt_bool("acls").unwrap_or(false),
                ..Default::default()
            };
            tar_in(g, a.str(0), a.str(1), opts)
        },
    )
    .flags(Flags::WRITES.union(Flags::HOST_FILES))
    .opts(&[
        arg("compress", ArgKind::String),
        arg("xattrs", ArgKind::Bool),
        arg("selinux", ArgKind::Bool),
        arg("acls", ArgKind::Bool),
    ]),
    call(
        "tar-out",
        &[DIRECTORY, TARFILE_OUT],
        Ret::Unit,
        "pack directory into tarfile",
        "Pack a guest directory into a host tarball, entries relative to the directory. \
         compress:.. is none, gzip, bzip2, xz or zstd; numericowner:true stores numeric ids \
         only; excludes:.. is a space-separated list of glob patterns to leave out; \
         xattrs:true, selinux:true and acls:true store extended attributes, SELinux labels \
         and ACLs. The tarball is POSIX pax (GNU tar --format=posix); FIFOs and device \
         nodes are stored and sockets left out, as GNU tar does.",
        |g, a| {
            let opts = TarOutOptions {
                compress: compression("tar-out", a)?.unwrap_or(Compression::None),
                numeric_owner: a.opt_bool("numericowner").unwrap_or(false),
                excludes: a.opt_list("excludes").unwrap_or_default(),
                xattrs: a.opt_bool("xattrs").unwrap_or(false),
                selinux: a.opt_bool("selinux").unwrap_or(false),
                acls: a.opt_bool("acls").unwrap_or(false),
                ..Default::default()
            };
            tar_out(g, a.str(0), a.str(1), opts)
        },
    )
    .flags(Flags::HOST_FILES)
    .opts(&[
        arg("compress", ArgKind::String),
        arg("numericowner", ArgKind::Bool),
        arg("excludes", ArgKind::List),
        arg("xattrs", ArgKind::Bool),
        arg("selinux", ArgKind::Bool),
        arg("acls", ArgKind::Bool),
    ]),
    call(
        "tgz-in",
        &[TARBALL_IN, DIRECTORY],
        Ret::Unit,
        "unpack compressed tarball to directory",
        "tar-in of a gzip-compressed tarball.",
        |g, a| tar_in(g, a.str(0), a.str(1), with_in(Compression::Gzip)),
    )
    .flags(Flags::WRITES.union(Flags::HOST_FILES)),
    call(
        "tgz-out",
        &[DIRECTORY, TARBALL_OUT],
        Ret::Unit,
        "pack directory into compressed tarball",
        "tar-out to a gzip-compressed tarball.",
        |g, a| tar_out(g, a.str(0), a.str(1), with_out(Compression::Gzip)),
    )
    .flags(Flags::HOST_FILES),
    call(
        "txz-in",
        &[TARBALL_IN, DIRECTORY],
        Ret::Unit,
        "unpack compressed tarball to directory",
        "tar-in of an xz-compressed tarball.",
        |g, a| tar_in(g, a.str(0), a.str(1), with_in(Compression::Xz)),
    )
    .flags(Flags::WRITES.union(Flags::HOST_FILES)),
    call(
        "txz-out",
        &[DIRECTORY, TARBALL_OUT],
        Ret::Unit,
        "pack directory into compressed tarball",
        "tar-out to an xz-compressed tarball.",
        |g, a| tar_out(g, a.str(0), a.str(1), with_out(Compression::Xz)),
    )
    .flags(Flags::HOST_FILES),
    call(
        "copy-in",
        &[],
        Ret::Unit,
        "copy local files or directories into an image",
        "copy-in LOCAL [LOCAL ...] REMOTEDIR copies each host file, symlink or directory \
         (recursively, with modes, owners and times) into the guest directory REMOTEDIR, \
         which must exist, as REMOTEDIR/NAME. Directories travel as a tarball through the \
         confined packer and extractor; host FIFOs and device nodes are refused.",
        copy_in,
    )
    .variadic()
    .flags(
        Flags::WRITES
            .union(Flags::HOST_FILES)
            .union(Flags::NEEDS_ROOT),
    ),
    call(
        "copy-out",
        &[],
        Ret::Unit,
        "copy remote files or directories out of an image",
        "copy-out REMOTE [REMOTE ...] LOCALDIR copies each guest file or directory \
         (recursively) into the host directory LOCALDIR, which must exist, as \
         LOCALDIR/NAME (the guest's / into LOCALDIR itself). A guest tree is hostile on \
         the host: nothing in it can land outside its target, no device node or FIFO is \
         made, no setuid or setgid bit is set, and owners are restored only when running \
         as root, as GNU tar does. A guest symlink, FIFO or device named directly is \
         refused.",
        copy_out,
    )
    .variadic()
    .flags(Flags::HOST_FILES.union(Flags::NEEDS_ROOT)),
];

fn compression(command: &str, a: &Args) -> Result<Option<Compression>> {
    a.opt_string("compress")
        .map(|v| crate::calls::archive::parse_compress(&command.replace('-', "_"), v))
        .transpose()
}

fn with_in(compress: Compression) -> TarInOptions {
    TarInOptions {
        compress: Some(compress),
        ..Default::default()
    }
}

fn with_out(compress: Compression) -> TarOutOptions {
    TarOutOptions {
        compress,
        ..Default::default()
    }
}

fn stats(st: &TarStats) -> Value {
    Value::Quiet(serde_json::to_value(st).expect("TarStats serializes"))
}

fn tar_in(g: &VMCraft, tarfile: &str, dir: &str, opts: TarInOptions) -> Result<Value> {
    Ok(stats(&g.tar_in(tarfile, dir, opts)?))
}

fn tar_out(g: &VMCraft, dir: &str, tarfile: &str, opts: TarOutOptions) -> Result<Value> {
    Ok(stats(&g.tar_out(dir, tarfile, opts)?))
}

/// `copy-in LOCAL... REMOTEDIR`.
fn copy_in(g: &VMCraft, a: &Args) -> Result<Value> {
    let words = a.list(0);
    let Some((remotedir, locals)) = words.split_last().filter(|(_, l)| !l.is_empty()) else {
        return Err(Error::invalid(
            "copy_in",
            words.join(" "),
            "expected copy-in LOCAL [LOCAL ...] REMOTEDIR",
        ));
    };
    for local in locals {
        g.copy_in(local, remotedir)?;
    }
    Ok(Value::Unit)
}

/// `copy-out REMOTE... LOCALDIR`.
fn copy_out(g: &VMCraft, a: &Args) -> Result<Value> {
    let words = a.list(0);
    let Some((localdir, remotes)) = words.split_last().filter(|(_, r)| !r.is_empty()) else {
        return Err(Error::invalid(
            "copy_out",
            words.join(" "),
            "expected copy-out REMOTE [REMOTE ...] LOCALDIR",
        ));
    };
    for remote in remotes {
        g.copy_out(remote, localdir)?;
    }
    Ok(Value::Unit)
}
