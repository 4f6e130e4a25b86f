//! Running the guest's own programs with libguestfs names: `command`,
//! `command_lines`, `sh`, `sh_lines`, and `selinux_relabel` (the guest's
//! `setfiles`), each in the [sandbox](crate::sandbox) with the session's
//! mounted guest tree as its root.
//!
//! As in libguestfs, the program runs as root with `/` being the guest's `/`
//! (what is mounted on `/` and under it), the session's disks under their
//! libguestfs names, and a fresh `/dev` and `/proc`; it has no standard input,
//! and its standard output is the call's result. A program that exits with a
//! status other than 0 fails the call with an error naming the status and
//! carrying its standard error. What it changes in the guest tree is written
//! through to the image like any other write; afterwards the session's cached
//! partition lists, probes, LV lists and inspection results are forgotten (a
//! guest program may change any of them: partition tables, filesystems, LVM).
//!
//! Before anything runs, the guest's `/bin/sh` (found through the confined
//! resolver, its symlinks followed inside the guest) is checked: a guest whose
//! binaries are for another machine is refused with an error naming both.
//!
//! The sandbox's limits come from the handle's backend settings
//! ([`VMCraft::set_backend_setting`]), so that scripts set them with the
//! libguestfs call they know:
//!
//! | setting | meaning | default |
//! |---|---|---|
//! | `command_timeout` | seconds a program may run; the whole sandbox is killed past it | 600 |
//! | `command_output_max` | bytes of output kept; past it the program is stopped | 4194304 |
//! | `command_memory_max` | bytes of memory, `0` for no limit | 4294967296 |
//! | `command_pids_max` | processes and threads, `0` for no limit | 4096 |
//!
//! ```no_run
//! let g = vmcraft::VMCraft::new();
//! g.add_drive("guest.img")?;
//! g.launch()?;
//! g.mount("/dev/sda1", "/")?;
//! g.set_backend_setting("command_timeout", "60")?;
//! let packages = g.sh_lines("dpkg-query -W -f '${Package}\\n'")?;
//! # Ok::<(), vmcraft::Error>(())
//! ```

use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::sandbox::{Limits, Machine, Outcome, Sandbox};
use crate::session::VMCraft;

/// The `PATH` guest programs get (libguestfs's appliance has much the same).
pub const GUEST_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The backend setting of the timeout, in seconds.
pub const TIMEOUT_SETTING: &str = "command_timeout";
/// The backend setting of the output cap, in bytes.
pub const OUTPUT_MAX_SETTING: &str = "command_output_max";
/// The backend setting of the memory limit, in bytes (`0`: none).
pub const MEMORY_MAX_SETTING: &str = "command_memory_max";
/// The backend setting of the process limit (`0`: none).
pub const PIDS_MAX_SETTING: &str = "command_pids_max";

/// libguestfs's `split_lines`: lines without their newlines; a final newline
/// ends the last line rather than starting an empty one; no output is no lines.
///
/// ```
/// use vmcraft::calls::command::split_lines;
/// assert_eq!(split_lines("a\nb\n"), vec!["a", "b"]);
/// assert_eq!(split_lines("a\n\nb"), vec!["a", "", "b"]);
/// assert!(split_lines("").is_empty());
/// ```
pub fn split_lines(out: &str) -> Vec<String> {
    if out.is_empty() {
        return Vec::new();
    }
    let body = out.strip_suffix('\n').unwrap_or(out);
    body.split('\n').map(String::from).collect()
}

impl VMCraft {
    /// The limits guest programs run under, from the backend settings (see the
    /// [module documentation](self)); a setting that is not a number is an
    /// error naming `call`.
    fn command_limits_for(&self, call: &'static str) -> Result<Limits> {
        let mut l = Limits::default();
        let get = |name: &str| -> Result<Option<u64>> {
            match self.get_backend_setting(name) {
                Err(_) => Ok(None),
                Ok(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
                    Error::invalid(
                        call,
                        format!("{name}={v}"),
                        "backend setting: not a non-negative number",
                    )
                }),
            }
        };
        if let Some(t) = get(TIMEOUT_SETTING)? {
            if t == 0 {
                return Err(Error::invalid(
                    call,
                    format!("{TIMEOUT_SETTING}=0"),
                    "backend setting: the timeout must be at least 1 second",
                ));
            }
            l.timeout = Duration::from_secs(t);
        }
        if let Some(o) = get(OUTPUT_MAX_SETTING)? {
            l.output_max = usize::try_from(o).unwrap_or(usize::MAX);
        }
        if let Some(m) = get(MEMORY_MAX_SETTING)? {
            l.memory_max = (m != 0).then_some(m);
        }
        if let Some(p) = get(PIDS_MAX_SETTING)? {
            l.pids_max = (p != 0).then_some(p);
        }
        Ok(l)
    }

    /// Refuse a guest whose `/bin/sh` is an ELF binary for another machine than
    /// the host's. A guest without `/bin/sh`, or whose `/bin/sh` is not ELF, is
    /// not refused here (running a program then says what is wrong).
    pub(crate) fn check_guest_machine(
        &self,
        call: &'static str,
        root: &vmcraft_fs::root::GuestRoot,
    ) -> Result<()> {
        use std::io::Read;
        let mut f = match root.open_read("/bin/sh") {
            Ok(f) => f,
            // Missing, or not a regular file (a FIFO is never opened): nothing
            // to check; running it then says what is wrong.
            Err(e)
                if matches!(
                    e.kind(),
                    vmcraft_fs::root::ErrorKind::NotFound | vmcraft_fs::root::ErrorKind::WrongType
                ) =>
            {
                return Ok(());
            }
            Err(e) => return Err(Error::from(e.with_call(call))),
        };
        let mut head = [0u8; 64];
        let mut n = 0;
        while n < head.len() {
            match f.read(&mut head[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::call_with_source(
                        ErrorKind::Io,
                        call,
                        "/bin/sh",
                        "reading the ELF header",
                        e,
                    ));
                }
            }
        }
        let (Some(guest), Some(host)) = (Machine::from_header(&head[..n]), Machine::host()) else {
            return Ok(());
        };
        if guest != host {
            return Err(Error::call(
                ErrorKind::Unsupported,
                call,
                "/bin/sh",
                format!(
                    "the guest's programs are for {}, this host is {}: they cannot run here",
                    guest.name(),
                    host.name()
                ),
            ));
        }
        Ok(())
    }

    /// The session's devices as the sandbox shows them: every drive and
    /// partition, and the LVs where the session has used LVM.
    fn sandbox_devices(&self, call: &'static str) -> Result<Vec<(String, std::path::PathBuf)>> {
        self.ensure_all_attached(call)?;
        let mut devices = self.named_session_nodes();
        let lvm_active = crate::session::lock(&self.lvm).is_some();
        if lvm_active {
            for lv in self.lvs()? {
                match self.resolve(call, &lv) {
                    Ok(r) => devices.push((r.name, r.host)),
                    Err(e) => tracing::debug!(lv, error = %e.chain(), "LV left out of the sandbox"),
                }
            }
        }
        Ok(devices)
    }

    /// Run `argv` in the sandbox on the mounted guest tree and say how it
    /// ended, whatever its exit status.
    fn run_guest_outcome(
        &self,
        call: &'static str,
        argv: &[&str],
        output_max: Option<usize>,
    ) -> Result<Outcome> {
        if argv.is_empty() {
            return Err(Error::invalid(call, "", "passed an empty list"));
        }
        if argv[0].is_empty() {
            return Err(Error::invalid(call, "", "the program name is empty"));
        }
        if let Some(a) = argv.iter().find(|a| a.contains('\0')) {
            return Err(Error::invalid(
                call,
                a.escape_debug(),
                "an argument contains a NUL byte",
            ));
        }
        let root = self.guest_root_for(call)?;
        // bubblewrap mounts the sandbox's /dev and /proc over the guest's: a
        // guest symlink there would be followed while it sets up.
        for dir in ["/dev", "/proc"] {
            if root
                .is_symlink(dir)
                .map_err(|e| Error::from(e.with_call(call)))?
            {
                return Err(Error::call(
                    ErrorKind::Unsupported,
                    call,
                    dir,
                    "the guest's directory is a symlink: guest programs cannot be run on this tree",
                ));
            }
        }
        self.check_guest_machine(call, &root)?;
        let mut limits = self.command_limits_for(call)?;
        if let Some(m) = output_max {
            limits.output_max = limits.output_max.max(m);
        }
        let mut sb = Sandbox::new(self.sysroot(call)?)
            .env("PATH", GUEST_PATH)
            .env("HOME", "/root")
            .env("LANG", "C")
            .env("TERM", "dumb")
            .limits(limits)
            .cancel_on(&self.cancel_token());
        for (name, host) in self.sandbox_devices(call)? {
            sb = sb.device(name, host);
        }
        let r = sb.run(call, argv);
        self.forget_after_guest_program();
        r
    }

    /// Run `argv` in the sandbox on the mounted guest tree and return its
    /// standard output; a non-zero exit is an error with the status and stderr.
    fn run_guest(&self, call: &'static str, argv: &[&str]) -> Result<Vec<u8>> {
        let out = self.run_guest_outcome(call, argv, None)?;
        if !out.status.success() {
            return Err(failed(call, argv[0], &out));
        }
        Ok(out.stdout)
    }

    /// Forget what a guest program may have changed: partition lists, probes,
    /// LV lists, inspection results.
    fn forget_after_guest_program(&self) {
        self.invalidate_partition_cache();
        self.invalidate_probe_cache();
        crate::session::lock(&self.inspections).clear();
    }

    /// Run a guest program (`command`): `arguments[0]` is the program (looked
    /// up in the guest's `PATH` when it has no `/`), the rest its arguments,
    /// passed as they are (no shell). Its standard output, as bytes.
    #[tracing::instrument(level = "debug", skip_all)]
    pub(crate) fn command_bytes(&self, arguments: &[&str]) -> Result<Vec<u8>> {
        self.run_guest("command", arguments)
    }

    /// Run a guest program (`command`) and return its standard output, which
    /// must be UTF-8 (the command line prints other bytes as they are).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn command(&self, arguments: &[&str]) -> Result<String> {
        utf8("command", self.run_guest("command", arguments)?)
    }

    /// Run a guest program (`command_lines`) and return its output as lines.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn command_lines(&self, arguments: &[&str]) -> Result<Vec<String>> {
        let out = utf8("command_lines", self.run_guest("command_lines", arguments)?)?;
        Ok(split_lines(&out))
    }

    /// Run `command` with the guest's `/bin/sh -c` (`sh`); its standard output.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn sh(&self, command: &str) -> Result<String> {
        utf8("sh", self.run_guest("sh", &["/bin/sh", "-c", command])?)
    }

    /// [`VMCraft::sh`] as bytes (the command line's form).
    #[tracing::instrument(level = "debug", skip_all)]
    pub(crate) fn sh_bytes(&self, command: &str) -> Result<Vec<u8>> {
        self.run_guest("sh", &["/bin/sh", "-c", command])
    }

    /// Run `command` with the guest's `/bin/sh -c` and return its output as
    /// lines (`sh_lines`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn sh_lines(&self, command: &str) -> Result<Vec<String>> {
        let out = utf8(
            "sh_lines",
            self.run_guest("sh_lines", &["/bin/sh", "-c", command])?,
        )?;
        Ok(split_lines(&out))
    }

    /// Relabel `path` and what is under it with the SELinux contexts of the
    /// guest's `specfile` (`selinux_relabel`), as libguestfs does with
    /// `setfiles`: `/dev`, `/proc`, `/selinux` and `/sys` excluded, every label
    /// reset with `force` (`-F`, also the customizable types), mount points
    /// under `path` crossed (`-m` where `setfiles` has it).
    ///
    /// The guest's own `setfiles` decides the labels, in the sandbox, without
    /// changing anything (`-n -v`: it lists each file whose label would change
    /// and the new label); VMCraft then sets each `security.selinux` attribute
    /// itself, through the confined resolver (a symlink is labelled itself,
    /// never followed). Writing that attribute needs `CAP_SYS_ADMIN` on a host
    /// without SELinux, a capability guest code never gets in the sandbox. The
    /// labels are the guest tool's answer: a hostile guest can only label its
    /// own files as it likes.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn selinux_relabel(&self, specfile: &str, path: &str, force: bool) -> Result<()> {
        const CALL: &str = "selinux_relabel";
        for (what, p) in [("specfile", specfile), ("path", path)] {
            if !p.starts_with('/') {
                return Err(Error::invalid(
                    CALL,
                    p,
                    format!("{what} must be an absolute path"),
                ));
            }
        }
        let root = self.guest_root_for(CALL)?;
        if !root
            .is_file(specfile, true)
            .map_err(|e| Error::from(e.with_call(CALL)))?
        {
            return Err(Error::call(
                ErrorKind::InvalidArgument,
                CALL,
                specfile,
                "no such file (the file_contexts of the guest's policy)",
            ));
        }
        if !root
            .exists(path)
            .map_err(|e| Error::from(e.with_call(CALL)))?
        {
            return Err(Error::call(
                ErrorKind::InvalidArgument,
                CALL,
                path,
                "no such file or directory",
            ));
        }
        // Which options this setfiles has: it says "invalid option -- 'X'" for
        // the others (libguestfs asks the same way).
        let has = |flag: char| -> Result<bool> {
            let out = self.run_guest_outcome(CALL, &["setfiles", &format!("-{flag}")], None)?;
            let said = String::from_utf8_lossy(&out.stderr);
            Ok(!said.contains(&format!("invalid option -- '{flag}'")))
        };
        let mut argv: Vec<String> = vec!["setfiles".into(), "-n".into(), "-v".into()];
        if force {
            argv.push("-F".into());
        }
        for e in EXCLUDED {
            argv.push("-e".into());
            argv.push(e.into());
        }
        if has('m')? {
            argv.push("-m".into());
        }
        argv.push(specfile.into());
        argv.push(path.into());
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        // One line per file to relabel: a large guest's list is long.
        let out = self.run_guest_outcome(CALL, &refs, Some(RELABEL_OUTPUT_MAX))?;
        if !out.status.success() {
            return Err(failed(CALL, "setfiles", &out));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut done = 0usize;
        for line in text.lines() {
            let Some((file, context)) = parse_relabel(line) else {
                if !line.trim().is_empty() {
                    tracing::debug!(line, "setfiles said");
                }
                continue;
            };
            if EXCLUDED
                .iter()
                .any(|e| file == *e || file.strip_prefix(e).is_some_and(|r| r.starts_with('/')))
            {
                continue;
            }
            let mut value = context.as_bytes().to_vec();
            value.push(0);
            root.lsetxattr("security.selinux", &value, file)
                .map_err(|e| Error::from(e.with_call(CALL)))?;
            done += 1;
        }
        tracing::debug!(files = done, "relabelled");
        Ok(())
    }
}

/// The guest directories `selinux_relabel` leaves alone, as libguestfs does.
const EXCLUDED: [&str; 4] = ["/dev", "/proc", "/selinux", "/sys"];

/// The most output `setfiles -n -v` may give (one line per file relabelled).
const RELABEL_OUTPUT_MAX: usize = 256 << 20;

/// A line of `setfiles -n -v`: `Would relabel PATH from OLD to NEW` (older
/// versions: `Relabeled ...`, `setfiles: relabeling ...`): (PATH, NEW). A
/// context has no blanks, so the line is cut from its end.
fn parse_relabel(line: &str) -> Option<(&str, &str)> {
    let rest = ["Would relabel ", "Relabeled ", "setfiles: relabeling "]
        .iter()
        .find_map(|p| line.strip_prefix(p))?;
    let (before, new) = rest.rsplit_once(" to ")?;
    let (file, _old) = before.rsplit_once(" from ")?;
    if !file.starts_with('/') || new.is_empty() || new.contains(char::is_whitespace) {
        return None;
    }
    Some((file, new))
}

/// The error of a guest program that ended with a status other than 0: the
/// status and its standard error (trailing newlines removed), as libguestfs
/// reports a failed command.
fn failed(call: &'static str, program: &str, out: &Outcome) -> Error {
    let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    while stderr.ends_with('\n') {
        stderr.pop();
    }
    let status = match out.status.code() {
        Some(c) => format!("exit status {c}"),
        None => format!("{}", out.status),
    };
    let msg = if stderr.is_empty() {
        status
    } else {
        format!("{status}: {stderr}")
    };
    vmcraft_block::Error::new(vmcraft_block::ErrorKind::CommandFailed, call, program, msg).into()
}

/// Output that must be UTF-8.
fn utf8(call: &'static str, out: Vec<u8>) -> Result<String> {
    String::from_utf8(out)
        .map_err(|_| Error::call(ErrorKind::Io, call, "", "the output is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setfiles_lines() {
        assert_eq!(
            parse_relabel(
                "Would relabel /var/log/a b from (null) to system_u:object_r:var_log_t:s0"
            ),
            Some(("/var/log/a b", "system_u:object_r:var_log_t:s0"))
        );
        assert_eq!(
            parse_relabel("Relabeled /etc from a:b:c:s0 to x:y:z:s0"),
            Some(("/etc", "x:y:z:s0"))
        );
        // A name that looks like the line's own words: cut from the end.
        assert_eq!(
            parse_relabel("Would relabel /x from a to b from (null) to u:r:t:s0"),
            Some(("/x from a to b", "u:r:t:s0"))
        );
        for bad in [
            "",
            "setfiles: conflicting specifications",
            "Would relabel etc from a to b",
            "Would relabel /etc from a to ",
            "Would relabel /etc to b",
        ] {
            assert_eq!(parse_relabel(bad), None, "{bad}");
        }
    }

    #[test]
    fn lines_as_libguestfs_splits_them() {
        assert_eq!(split_lines("a\nb"), ["a", "b"]);
        assert_eq!(split_lines("\n"), [""]);
        assert_eq!(split_lines("a\n\n"), ["a", ""]);
    }
}
