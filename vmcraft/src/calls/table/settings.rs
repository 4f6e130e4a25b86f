//! The call table's entries for the handle's settings and state: libguestfs's
//! appliance properties (remembered, no effect), the settings that mean something
//! here (`set-tmpdir`, `set-trace`, `umask`), state queries, `version`,
//! `parse-environment`, `add-drive-scratch`, `sync`, `drop-caches`.

use super::prelude::*;

pub(crate) const CALLS: &[Call] = &[
    call(
        "set-autosync",
        &[arg("autosync", ArgKind::Bool)],
        Ret::Unit,
        "set autosync mode",
        "Remembered. VMCraft always writes out what it changed when the session shuts down, whatever this says; libguestfs syncs on close when it is true (the default).",
        |g, a| void!(g.set_autosync(a.bool(0))),
    )
    .alias(&["autosync"])
    .flags(Flags::NO_EFFECT.union(Flags::SESSION)),
    call(
        "get-autosync",
        &[],
        Ret::Bool,
        "get autosync mode",
        "What set-autosync set (its default until then).",
        |g, _| Ok(Value::Bool(g.get_autosync()?)),
    )
    .flags(Flags::SESSION),
    call(
        "set-verbose",
        &[arg("verbose", ArgKind::Bool)],
        Ret::Unit,
        "set verbose mode",
        "Remembered. What VMCraft logs is set by -v and RUST_LOG.",
        |g, a| void!(g.set_verbose(a.bool(0))),
    )
    .alias(&["verbose"])
    .flags(Flags::NO_EFFECT.union(Flags::SESSION)),
    call(
        "get-verbose",
        &[],
        Ret::Bool,
        "get verbose mode",
        "What set-verbose set (its default until then).",
        |g, _| Ok(Value::Bool(g.get_verbose()?)),
    )
    .flags(Flags::SESSION),
    call(
        "set-trace",
        &[arg("trace", ArgKind::Bool)],
        Ret::Unit,
        "enable or disable command traces",
        "Trace every call made through the call table on standard error: its name and arguments before it runs, its result after (vmcraft: trace: CALL ARGS and vmcraft: trace: CALL = RESULT), prefixed with the identifier when one is set.",
        |g, a| void!(g.set_trace(a.bool(0))),
    )
    .alias(&["trace"])
    .flags(Flags::SESSION),
    call(
        "get-trace",
        &[],
        Ret::Bool,
        "get command trace enabled flag",
        "What set-trace set (its default until then).",
        |g, _| Ok(Value::Bool(g.get_trace()?)),
    )
    .flags(Flags::SESSION),
    call(
        "set-recovery-proc",
        &[arg("recoveryproc", ArgKind::Bool)],
        Ret::Unit,
        "enable or disable the recovery process",
        "Remembered. Every process a VMCraft session starts dies with it whatever this says (libguestfs's recovery process kills its appliance when the program dies).",
        |g, a| void!(g.set_recovery_proc(a.bool(0))),
    )
    .alias(&["recovery-proc"])
    .flags(Flags::NO_EFFECT.union(Flags::SESSION).union(Flags::CONFIG_ONLY)),
    call(
        "get-recovery-proc",
        &[],
        Ret::Bool,
        "get recovery process enabled flag",
        "What set-recovery-proc set (its default until then).",
        |g, _| Ok(Value::Bool(g.get_recovery_proc()?)),
    )
    .flags(Flags::SESSION),
    call(
        "set-network",
        &[arg("network", ArgKind::Bool)],
        Ret::Unit,
        "set enable network flag",
        "Remembered. VMCraft has no appliance and so no appliance network.",
        |g, a| void!(g.set_network(a.bool(0))),
    )
    .alias(&["network"])
    .flags(Flags::NO_EFFECT.union(Flags::SESSION).union(Flags::CONFIG_ONLY)),
    call(
        "get-network",
        &[],
        Ret::Bool,
        "get enable network flag",
        "What set-network set (its default until then).",
        |g, _| Ok(Value::Bool(g.get_network()?)),
    )
    .flags(Flags::SESSION),
    call(
        "set-pgroup",
        &[arg("pgroup", ArgKind::Bool)],
        Ret::Unit,
        "set process group flag",
        "Remembered. The tools VMCraft runs are in process groups of their own whatever this says.",
        |g, a| void!(g.set_pgroup(a.bool(0))),
    )
    .alias(&["pgroup"])
    .flags(Flags::NO_EFFECT.union(Flags::SESSION).union(Flags::CONFIG_ONLY)),
    call(
        "get-pgroup",
        &[],
        Ret::Bool,
        "get process group flag",
        "What set-pgroup set (its default until then).",
        |g, _| Ok(Value::Bool(g.get_pgroup()?)),
    )
    .flags(Flags::SESSION),
    call(
        "set-selinux",
        &[arg("selinux", ArgKind::Bool)],
        Ret::Unit,
        "set SELinux enabled or disabled at appliance boot",
        "Remembered. There is no appliance to boot with SELinux.",
        |g, a| void!(g.set_selinux(a.bool(0))),
    )
    .alias(&["selinux"])
    .flags(Flags::NO_EFFECT.union(Flags::SESSION).union(Flags::CONFIG_ONLY)),
    call(
        "get-selinux",
        &[],
        Ret::Bool,
        "get SELinux enabled flag",
        "What set-selinux set (its default until then).",
        |g, _| Ok(Value::Bool(g.get_selinux()?)),
    )
    .flags(Flags::SESSION),
    call(
        "set-direct",
        &[arg("direct", ArgKind::Bool)],
        Ret::Unit,
        "enable or disable direct appliance mode",
        "Remembered. There is no appliance console to connect to.",
        |g, a| void!(g.set_direct(a.bool(0))),
    )
    .alias(&["direct"])
    .flags(Flags::NO_EFFECT.union(Flags::SESSION).union(Flags::CONFIG_ONLY)),
    call(
        "get-direct",
        &[],
        Ret::Bool,
        "get direct appliance mode flag",
        "What set-direct set (its default until then).",
        |g, _| Ok(Value::Bool(g.get_direct()?)),
    )
    .flags(Flags::SESSION),
    call(
        "set-memsize",
        &[arg("memsize", ArgKind::Int)],
        Ret::Unit,
        "set memory allocated to the hypervisor",
        "Remembered (in MiB, at least 128). VMCraft has no appliance to give memory to.",
        |g, a| void!(g.set_memsize(a.int32(0))),
    )
    .alias(&["memsize"])
    .flags(Flags::NO_EFFECT.union(Flags::SESSION).union(Flags::CONFIG_ONLY)),
    call(
        "get-memsize",
        &[],
        Ret::Int,
        "get memory allocated to the hypervisor",
        "What set-memsize set, else libguestfs's default (1280).",
        |g, _| Ok(Value::Int(g.get_memsize()?.into())),
    )
    .flags(Flags::SESSION),
    call(
        "set-smp",
        &[arg("smp", ArgKind::Int)],
        Ret::Unit,
        "set number of virtual CPUs in appliance",
        "Remembered (at least 1). VMCraft has no appliance to give CPUs to.",
        |g, a| void!(g.set_smp(a.int32(0))),
    )
    .alias(&["smp"])
    .flags(Flags::NO_EFFECT.union(Flags::SESSION).union(Flags::CONFIG_ONLY)),
    call(
        "get-smp",
        &[],
        Ret::Int,
        "get number of virtual CPUs in appliance",
        "What set-smp set, else 1.",
        |g, _| Ok(Value::Int(g.get_smp()?.into())),
    )
    .flags(Flags::SESSION),
    call(
        "set-hv",
        &[arg("hv", ArgKind::String)],
        Ret::Unit,
        "set the hypervisor binary",
        "Remembered. VMCraft runs no hypervisor.",
        |g, a| void!(g.set_hv(a.str(0))),
    )
    .alias(&["hv"])
    .flags(Flags::NO_EFFECT.union(Flags::SESSION).union(Flags::CONFIG_ONLY)),
    call(
        "get-hv",
        &[],
        Ret::String,
        "get the hypervisor binary",
        "What set-hv set, else qemu-system-x86_64.",
        |g, _| Ok(Value::Str(g.get_hv()?)),
    )
    .flags(Flags::SESSION),
    call(
        "set-qemu",
        &[arg("hv", ArgKind::OptString)],
        Ret::Unit,
        "set the hypervisor binary (usually qemu)",
        "The old name of set-hv; an empty string restores the default. Remembered, no effect.",
        |g, a| void!(g.set_qemu(a.opt_str(0))),
    )
    .alias(&["qemu"])
    .flags(Flags::NO_EFFECT.union(Flags::SESSION).union(Flags::CONFIG_ONLY)),
    call(
        "get-qemu",
        &[],
        Ret::String,
        "get the hypervisor binary (usually qemu)",
        "The old name of get-hv.",
        |g, _| Ok(Value::Str(g.get_hv()?)),
    )
    .flags(Flags::SESSION),
    call(
        "set-path",
        &[arg("searchpath", ArgKind::OptString)],
        Ret::Unit,
        "set the search path",
        "Remembered. VMCraft has no appliance to search for.",
        |g, a| void!(g.set_path(a.opt_str(0))),
    )
    .alias(&["path"])
    .flags(Flags::NO_EFFECT.union(Flags::SESSION).union(Flags::CONFIG_ONLY)),
    call(
        "get-path",
        &[],
        Ret::String,
        "get the search path",
        "What set-path set, else an empty string.",
        |g, _| Ok(Value::Str(g.get_path()?)),
    )
    .flags(Flags::SESSION),
    call(
        "set-append",
        &[arg("append", ArgKind::OptString)],
        Ret::Unit,
        "add options to kernel command line",
        "Remembered. VMCraft boots no appliance kernel.",
        |g, a| void!(g.set_append(a.opt_str(0))),
    )
    .alias(&["append"])
    .flags(Flags::NO_EFFECT.union(Flags::SESSION).union(Flags::CONFIG_ONLY)),
    call(
        "get-append",
        &[],
        Ret::String,
        "get the additional kernel options",
        "What set-append set; (null) when nothing was.",
        |g, _| Ok(Value::Str(g.get_append()?.unwrap_or_else(|| "(null)".into()))),
    )
    .flags(Flags::SESSION),
    call(
        "set-backend",
        &[arg("backend", ArgKind::String)],
        Ret::Unit,
        "set the backend",
        "Remembered. VMCraft attaches images itself (loop devices, qemu-storage-daemon, kernel NBD) whatever this says.",
        |g, a| void!(g.set_backend(a.str(0))),
    )
    .alias(&["backend"])
    .flags(Flags::NO_EFFECT.union(Flags::SESSION).union(Flags::CONFIG_ONLY)),
    call(
        "get-backend",
        &[],
        Ret::String,
        "get the backend",
        "What set-backend set, else direct.",
        |g, _| Ok(Value::Str(g.get_backend()?)),
    )
    .flags(Flags::SESSION),
    call(
        "set-attach-method",
        &[arg("backend", ArgKind::String)],
        Ret::Unit,
        "set the backend",
        "The old name of set-backend. Remembered, no effect.",
        |g, a| void!(g.set_backend(a.str(0))),
    )
    .alias(&["attach-method"])
    .flags(Flags::NO_EFFECT.union(Flags::SESSION).union(Flags::CONFIG_ONLY)),
    call(
        "get-attach-method",
        &[],
        Ret::String,
        "get the backend",
        "The old name of get-backend.",
        |g, _| Ok(Value::Str(g.get_backend()?)),
    )
    .flags(Flags::SESSION),
    call(
        "set-tmpdir",
        &[arg("tmpdir", ArgKind::OptString)],
        Ret::Unit,
        "set the temporary directory",
        "Where the next launch makes the session's private directory (its mounts, its state file). An empty string restores the default: the configured one, else $TMPDIR, else /tmp. Only before launch.",
        |g, a| void!(g.set_tmpdir(a.opt_str(0))),
    )
    .alias(&["tmpdir"])
    .flags(Flags::SESSION.union(Flags::CONFIG_ONLY)),
    call(
        "get-tmpdir",
        &[],
        Ret::String,
        "get the temporary directory",
        "The directory launches make the session directory in.",
        |g, _| Ok(Value::Str(g.get_tmpdir()?)),
    )
    .flags(Flags::SESSION),
    call(
        "set-cachedir",
        &[arg("cachedir", ArgKind::OptString)],
        Ret::Unit,
        "set the appliance cache directory",
        "Remembered. VMCraft has no appliance to cache.",
        |g, a| void!(g.set_cachedir(a.opt_str(0))),
    )
    .alias(&["cachedir"])
    .flags(Flags::NO_EFFECT.union(Flags::SESSION).union(Flags::CONFIG_ONLY)),
    call(
        "get-cachedir",
        &[],
        Ret::String,
        "get the appliance cache directory",
        "What set-cachedir set, else the temporary directory.",
        |g, _| Ok(Value::Str(g.get_cachedir()?)),
    )
    .flags(Flags::SESSION),
    call(
        "get-sockdir",
        &[],
        Ret::String,
        "get the temporary directory for sockets and PID files",
        "$XDG_RUNTIME_DIR when set, else /tmp.",
        |g, _| Ok(Value::Str(g.get_sockdir()?)),
    )
    .flags(Flags::SESSION),
    call(
        "set-program",
        &[arg("program", ArgKind::String)],
        Ret::Unit,
        "set the program name",
        "Remembered: the program name (the executable's name by default).",
        |g, a| void!(g.set_program(a.str(0))),
    )
    .alias(&["program"])
    .flags(Flags::SESSION),
    call(
        "get-program",
        &[],
        Ret::String,
        "get the program name",
        "What set-program set, else the executable's name.",
        |g, _| Ok(Value::Str(g.get_program()?)),
    )
    .flags(Flags::SESSION),
    call(
        "set-identifier",
        &[arg("identifier", ArgKind::String)],
        Ret::Unit,
        "set the handle identifier",
        "The handle's identifier (letters, digits, _ and -), which traces are prefixed with.",
        |g, a| void!(g.set_identifier(a.str(0))),
    )
    .alias(&["identifier"])
    .flags(Flags::SESSION),
    call(
        "get-identifier",
        &[],
        Ret::String,
        "get the handle identifier",
        "What set-identifier set, else an empty string.",
        |g, _| Ok(Value::Str(g.get_identifier()?)),
    )
    .flags(Flags::SESSION),
    call(
        "set-backend-settings",
        &[arg("settings", ArgKind::List)],
        Ret::Unit,
        "replace per-backend settings strings",
        "Remembered. VMCraft has no backend to configure.",
        |g, a| void!(g.set_backend_settings(&a.list(0))),
    )
    .flags(Flags::NO_EFFECT.union(Flags::SESSION)),
    call(
        "get-backend-settings",
        &[],
        Ret::StringList,
        "get per-backend settings",
        "What set-backend-settings and set-backend-setting set.",
        |g, _| Ok(Value::List(g.get_backend_settings()?)),
    )
    .flags(Flags::SESSION),
    call(
        "get-backend-setting",
        &[arg("name", ArgKind::String)],
        Ret::String,
        "get a single per-backend settings string",
        "The value of NAME=VALUE among the backend settings (1 for a bare NAME); an error when it is not set.",
        |g, a| Ok(Value::Str(g.get_backend_setting(a.str(0))?)),
    )
    .flags(Flags::SESSION),
    call(
        "set-backend-setting",
        &[arg("name", ArgKind::String), arg("val", ArgKind::String)],
        Ret::Unit,
        "set a single per-backend settings string",
        "Set NAME=VAL among the backend settings, replacing an earlier NAME. Remembered, no effect.",
        |g, a| void!(g.set_backend_setting(a.str(0), a.str(1))),
    )
    .flags(Flags::NO_EFFECT.union(Flags::SESSION)),
    call(
        "clear-backend-setting",
        &[arg("name", ArgKind::String)],
        Ret::Int,
        "remove a single per-backend settings string",
        "Remove NAME (and NAME=...) from the backend settings; prints how many were removed.",
        |g, a| Ok(Value::Int(g.clear_backend_setting(a.str(0))?.into())),
    )
    .flags(Flags::NO_EFFECT.union(Flags::SESSION)),
    call(
        "config",
        &[arg("hvparam", ArgKind::String), arg("hvvalue", ArgKind::OptString)],
        Ret::Unit,
        "add hypervisor parameters",
        "Remembered (the parameter must start with -). VMCraft runs no hypervisor.",
        |g, a| void!(g.config_param(a.str(0), a.opt_str(1))),
    )
    .flags(Flags::NO_EFFECT.union(Flags::SESSION).union(Flags::CONFIG_ONLY)),
    call(
        "get-pid",
        &[],
        Ret::Int,
        "get PID of hypervisor",
        "Always an error: no hypervisor runs, as libguestfs answers when none does.",
        |g, _| Ok(Value::Int(g.get_pid()?.into())),
    )
    .alias(&["pid"])
    .flags(Flags::SESSION),
    call(
        "is-ready",
        &[],
        Ret::Bool,
        "is ready to accept commands",
        "true once launched, until shutdown.",
        |g, _| Ok(Value::Bool(g.is_ready()?)),
    )
    .flags(Flags::SESSION),
    call(
        "is-config",
        &[],
        Ret::Bool,
        "is in configuration state",
        "true before launch.",
        |g, _| Ok(Value::Bool(g.is_config()?)),
    )
    .flags(Flags::SESSION),
    call(
        "is-launching",
        &[],
        Ret::Bool,
        "is launching subprocess",
        "Always false: a launch happens within the launch call.",
        |g, _| Ok(Value::Bool(g.is_launching()?)),
    )
    .flags(Flags::SESSION),
    call(
        "is-busy",
        &[],
        Ret::Bool,
        "is busy processing a command",
        "Always false between calls.",
        |g, _| Ok(Value::Bool(g.is_busy()?)),
    )
    .flags(Flags::SESSION),
    call(
        "get-state",
        &[],
        Ret::Int,
        "get the current state",
        "0 before launch (config), 2 once launched (ready), as libguestfs numbers them.",
        |g, _| Ok(Value::Int(g.get_state()?.into())),
    )
    .flags(Flags::SESSION),
    call(
        "version",
        &[],
        Ret::Struct,
        "get the library version number",
        "VMCraft's own version, in libguestfs's struct: major, minor, release, and extra naming VMCraft. It is not a libguestfs version: test for the calls you need with feature-available or help instead.",
        version,
    )
    .flags(Flags::SESSION),
    call(
        "max-disks",
        &[],
        Ret::Int,
        "maximum number of disks that may be added",
        "255, as libguestfs's direct backend.",
        |g, _| Ok(Value::Int(g.max_disks()?.into())),
    )
    .flags(Flags::SESSION),
    call(
        "device-name",
        &[arg("index", ArgKind::Int)],
        Ret::String,
        "convert device index to name",
        "The name of drive INDEX (0 is /dev/sda); an error when there is no such drive.",
        |g, a| Ok(Value::Str(g.device_name(a.int32(0))?)),
    )
    .flags(Flags::SESSION),
    call(
        "user-cancel",
        &[],
        Ret::Unit,
        "cancel the current upload or download operation",
        "Cancel the long call running (a copy, tar, mkfs, e2fsck ...); the handle's later long calls fail too: shut it down afterwards.",
        |g, _| void!(g.user_cancel()),
    )
    .flags(Flags::SESSION),
    call(
        "umask",
        &[arg("mask", ArgKind::Int)],
        Ret::Int,
        "set file mode creation mask (umask)",
        "Set the umask new guest files and directories are created with (write, write-append, upload, touch, mkdir, mkdir-p, mkdir-mode) and print the previous one, in octal as libguestfs does. It is 022 to begin with.",
        |g, a| Ok(Value::Oct(g.umask(a.int32(0))?.into())),
    )
    .flags(Flags::SESSION),
    call(
        "get-umask",
        &[],
        Ret::Int,
        "get the current umask",
        "The umask new guest files are created with, in octal.",
        |g, _| Ok(Value::Oct(g.get_umask()?.into())),
    )
    .flags(Flags::SESSION),
    call(
        "parse-environment",
        &[],
        Ret::Unit,
        "parse the environment and set handle flags accordingly",
        "Read LIBGUESTFS_TRACE, LIBGUESTFS_DEBUG, LIBGUESTFS_PATH, LIBGUESTFS_HV, LIBGUESTFS_APPEND, LIBGUESTFS_MEMSIZE, LIBGUESTFS_BACKEND, LIBGUESTFS_BACKEND_SETTINGS, LIBGUESTFS_TMPDIR or TMPDIR, and LIBGUESTFS_CACHEDIR into the settings, as libguestfs does for a new handle.",
        |g, _| void!(g.parse_environment()),
    )
    .flags(Flags::SESSION),
    call(
        "parse-environment-list",
        &[arg("environment", ArgKind::List)],
        Ret::Unit,
        "parse the environment and set handle flags accordingly",
        "As parse-environment, from a list of NAME=VALUE strings.",
        |g, a| void!(g.parse_environment_list(&a.list(0))),
    )
    .flags(Flags::SESSION),
    call(
        "add-drive-scratch",
        &[arg("size", ArgKind::Int64)],
        Ret::Unit,
        "add a temporary scratch drive",
        "Add a new, empty, sparse raw drive of SIZE bytes: a private file in the temporary directory, removed when the session shuts down. label:NAME gives it a label as add-drive does (1 to 20 ASCII letters, unique), for list-disk-labels and remove-drive. libguestfs's name and blocksize are not taken.",
        |g, a| void!(g.add_drive_scratch(a.int(0), a.opt_string("label"))),
    )
    .opts(&[arg("label", ArgKind::String)])
    .alias(&["scratch"])
    .flags(Flags::SESSION),
    call(
        "sync",
        &[],
        Ret::Unit,
        "sync disks, writes are flushed through to the disk image",
        "Write out what the session's mounted filesystems hold (syncfs) and flush its drives. Other filesystems of the host are not touched.",
        |g, _| void!(g.sync()),
    )
    .flags(Flags::SESSION),
    call(
        "drop-caches",
        &[arg("whattodrop", ArgKind::Int)],
        Ret::Unit,
        "drop kernel page cache, dentries and inodes",
        "sync, then drop the kernel's buffers of the session's drives (WHATTODROP is 1, 2 or 3 as libguestfs takes it). The host's other caches are left alone.",
        |g, a| void!(g.drop_caches(a.int32(0))),
    )
    .flags(Flags::SESSION),
];

fn version(g: &VMCraft, _: &Args) -> Result<Value> {
    let v = g.version()?;
    Ok(Value::Struct(vec![
        ("major", Field::Int(v.major)),
        ("minor", Field::Int(v.minor)),
        ("release", Field::Int(v.release)),
        ("extra", Field::Str(v.extra)),
    ]))
}
