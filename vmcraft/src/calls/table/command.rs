//! The call table's entries for running the guest's own programs (see
//! `crate::calls::command`): `command`, `command-lines`, `sh`, `sh-lines`,
//! `selinux-relabel`.

use super::prelude::*;

const ARGUMENTS: Arg = arg("arguments", ArgKind::List);
const COMMAND: Arg = arg("command", ArgKind::String);

/// How the sandbox is described in each entry's documentation.
macro_rules! sandbox_doc {
    () => {
        "The program runs in a sandbox (bubblewrap): its root is the guest tree \
         mounted on / (and what is mounted under it), with a fresh /dev holding \
         the session's disks under their libguestfs names, a fresh /proc, no \
         /sys, its own PID, network (loopback only), IPC and UTS namespaces, no \
         new privileges, a reduced set of capabilities and a seccomp filter \
         (no mounting, module loading, kexec, bpf, perf, reboot, swap, keyrings, \
         ptrace). It runs as root with PATH set to the usual directories, no \
         standard input, and the limits of the backend settings command_timeout \
         (seconds, default 600), command_output_max (bytes, default 4 MiB), \
         command_memory_max and command_pids_max; past the timeout the whole \
         sandbox is killed.\n\n\
         A guest whose /bin/sh is a binary for another machine than the host's is \
         refused. What the program changes in the guest is written to the image; \
         cached partition lists, probes and inspection results are forgotten \
         afterwards."
    };
}

/// A program's output as guestfish prints a C string: up to its first NUL byte,
/// bytes that are not UTF-8 as they are.
fn c_string(mut bytes: Vec<u8>) -> Value {
    if let Some(nul) = bytes.iter().position(|&b| b == 0) {
        bytes.truncate(nul);
    }
    match String::from_utf8(bytes) {
        Ok(s) => Value::Str(s),
        Err(e) => Value::Text(e.into_bytes()),
    }
}

/// Output as lines (libguestfs's split_lines), bytes that are not UTF-8 replaced.
fn lines(bytes: Vec<u8>) -> Value {
    Value::List(crate::calls::command::split_lines(
        &String::from_utf8_lossy(&bytes),
    ))
}

pub(crate) const CALLS: &[Call] = &[
    call(
        "command",
        &[ARGUMENTS],
        Ret::String,
        "run a command from the guest filesystem",
        concat!(
            "Run the guest's program ARGUMENTS[0] with the rest of ARGUMENTS as its \
             arguments (no shell: use sh for one), and return its standard output. \
             A program without a / is looked up in PATH inside the guest. A program \
             that exits with a status other than 0 fails the call, with the status \
             and its standard error in the error.\n\n",
            sandbox_doc!()
        ),
        |g, a| Ok(c_string(g.command_bytes(&a.list(0))?)),
    )
    .flags(Flags::WRITES.union(Flags::NEEDS_ROOT)),
    call(
        "command-lines",
        &[ARGUMENTS],
        Ret::StringList,
        "run a command, returning lines",
        concat!(
            "As command, with the output split into lines (a final newline ends the \
             last line).\n\n",
            sandbox_doc!()
        ),
        |g, a| Ok(lines(g.command_bytes(&a.list(0))?)),
    )
    .flags(Flags::WRITES.union(Flags::NEEDS_ROOT)),
    call(
        "sh",
        &[COMMAND],
        Ret::String,
        "run a command via the shell",
        concat!(
            "Run COMMAND with the guest's /bin/sh -c and return its standard output; \
             otherwise as command.\n\n",
            sandbox_doc!()
        ),
        |g, a| Ok(c_string(g.sh_bytes(a.str(0))?)),
    )
    .flags(Flags::WRITES.union(Flags::NEEDS_ROOT)),
    call(
        "sh-lines",
        &[COMMAND],
        Ret::StringList,
        "run a command via the shell returning lines",
        concat!(
            "As sh, with the output split into lines.\n\n",
            sandbox_doc!()
        ),
        |g, a| Ok(lines(g.sh_bytes(a.str(0))?)),
    )
    .flags(Flags::WRITES.union(Flags::NEEDS_ROOT)),
    call(
        "selinux-relabel",
        &[arg("specfile", ArgKind::String), PATH],
        Ret::Unit,
        "relabel parts of the filesystem",
        concat!(
            "Set the SELinux labels of PATH and everything under it from the guest \
             policy's file contexts SPECFILE (a guest path, such as \
             /etc/selinux/targeted/contexts/files/file_contexts), excluding /dev, \
             /proc, /selinux and /sys. With force:true every label is reset \
             (setfiles -F), not only wrong ones.\n\n\
             The guest's own setfiles decides the labels in the sandbox without \
             changing anything (setfiles -n -v); VMCraft then writes each \
             security.selinux attribute itself, inside the guest tree, so that the \
             guest program never needs CAP_SYS_ADMIN (which writing the attribute \
             takes on a host without SELinux).\n\n",
            sandbox_doc!()
        ),
        |g, a| void!(g.selinux_relabel(a.str(0), a.str(1), a.opt_bool("force").unwrap_or(false))),
    )
    .opts(&[arg("force", ArgKind::Bool)])
    .flags(Flags::WRITES),
];
