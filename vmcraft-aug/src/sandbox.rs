//! What the worker process does to itself before it reads guest data: tie its
//! life to the parent, shed the parent's signal handlers and file descriptors,
//! drop capabilities, forbid new privileges, and set resource limits. (Its
//! copy of the guest's mounts, made with the `CAP_SYS_ADMIN` it still has
//! before all this, is [`crate::mounttree`]'s; the seccomp filter, installed
//! after all this, is [`crate::seccomp`]'s.)
//!
//! Everything here runs in the forked child of a (possibly multi-threaded)
//! process, so it keeps to system calls and allocation: no locks another thread
//! may have held at the fork (stdout, stderr, `tracing`, the environment).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::RawFd;

use nix::sys::resource::{Resource, UsageWho, getrlimit, getrusage, setrlimit};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use rustix::thread::{
    CapabilitySet, CapabilitySets, capabilities, capability_is_in_bounding_set,
    clear_ambient_capability_set, remove_capability_from_bounding_set, set_capabilities,
    set_no_new_privs,
};

/// The capabilities the worker keeps: what reading and writing any guest file
/// needs (bypassing file modes, keeping owners and modes on save). Everything
/// else goes, `CAP_SYS_CHROOT` and `CAP_SYS_ADMIN` (with which a process leaves
/// a chroot, or remounts its mounts without `nodev`) first among them.
///
/// Not `CAP_DAC_READ_SEARCH`: `CAP_DAC_OVERRIDE` already passes every read,
/// write and search check on directories (and read and write on files), and
/// `CAP_DAC_READ_SEARCH` is what `open_by_handle_at(2)` asks for, with which a
/// process opens any file of a filesystem by its handle, outside its chroot.
pub(crate) const KEPT_CAPABILITIES: CapabilitySet = CapabilitySet::CHOWN
    .union(CapabilitySet::DAC_OVERRIDE)
    .union(CapabilitySet::FOWNER)
    .union(CapabilitySet::FSETID);

/// The worker's resource limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Address space allowed beyond what the worker has mapped when it is
    /// confined (its copy of the parent, the lenses): room for Augeas's trees.
    pub(crate) address_space_headroom: u64,
    /// The largest file the worker may write.
    pub(crate) file_size: u64,
    /// How many descriptors it may have open.
    pub(crate) open_files: u64,
    /// CPU seconds each call (and the opening of the handle) may use.
    pub(crate) cpu_per_call: u64,
}

/// The limits every worker runs under.
pub(crate) const LIMITS: Limits = Limits {
    address_space_headroom: 4 << 30,
    file_size: 1 << 30,
    open_files: 256,
    cpu_per_call: 600,
};

/// Reset every signal to its default action, then ignore `SIGPIPE` (a closed
/// socket is an error, not a death) and `SIGXFSZ` (a file over the size limit
/// fails to write instead), and unblock all signals. A crash (`SIGSEGV`) then
/// ends the process with that signal instead of running the parent's handlers.
/// Grow the worker's heap once, up front, to [`HEAP_RESERVE`], and keep it.
///
/// The worker is forked from a thread of the caller's process (a thread of its
/// own, see `worker.rs`), so glibc's malloc serves it from that thread's arena,
/// not the main one. Such an arena grows its heap by exactly what each
/// allocation lacks, one `mprotect` at a time, and hands memory back as soon as
/// it is freed: compiling every lens made some 5,600 `mprotect` calls and cost
/// the worker a tenth more time than `augtool` spends on the same work. Blocks
/// just under glibc's mmap threshold, allocated and freed with trimming held
/// off up to the reserve, grow the heap in a few hundred steps instead, and it
/// stays grown. Pages are only touched as they are used; the address space is
/// reserved already (glibc maps a thread heap's 64 MiB at once).
pub(crate) fn grow_heap() {
    // SAFETY: mallopt only sets a parameter of this process's allocator, and
    // the process is single-threaded (a fresh fork).
    unsafe { libc::mallopt(libc::M_TRIM_THRESHOLD, HEAP_RESERVE as libc::c_int) };
    let blocks: Vec<Vec<u8>> = (0..HEAP_RESERVE / HEAP_BLOCK)
        .map(|_| Vec::with_capacity(HEAP_BLOCK))
        .collect();
    drop(blocks);
}

/// What [`grow_heap`] grows the heap to: what compiling every lens of the
/// host's Augeas takes (some 22 MiB), with room.
const HEAP_RESERVE: usize = 32 << 20;

/// Each of its blocks: under glibc's starting mmap threshold (128 KiB), so
/// that it comes from the heap.
const HEAP_BLOCK: usize = 120 << 10;

pub(crate) fn reset_signals() {
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: installing SIG_DFL runs no code of ours; signals the C
        // library reserves for itself refuse the change, which is harmless.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    for sig in [libc::SIGPIPE, libc::SIGXFSZ] {
        // SAFETY: as above, with SIG_IGN.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// Make `/dev/null` the standard descriptors and close every other descriptor
/// but the socket to the parent, which is returned (moved to 3 or above).
pub(crate) fn isolate_fds(sock: RawFd) -> io::Result<RawFd> {
    // SAFETY: plain descriptor calls on numbers this process owns; nothing
    // else runs in the process while they do.
    unsafe {
        let kept = libc::fcntl(sock, libc::F_DUPFD_CLOEXEC, 3);
        if kept < 0 {
            return Err(io::Error::last_os_error());
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if null < 0 {
            return Err(io::Error::last_os_error());
        }
        for std_fd in 0..3 {
            if null != std_fd && libc::dup2(null, std_fd) < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        close_fds_except(kept)?;
        Ok(kept)
    }
}

/// Close every descriptor from 3 up except `keep`.
fn close_fds_except(keep: RawFd) -> io::Result<()> {
    let keep = keep as libc::c_uint;
    let ranges = [(3, keep.wrapping_sub(1)), (keep + 1, libc::c_uint::MAX)];
    for (first, last) in ranges {
        if first > last {
            continue;
        }
        // SAFETY: close_range only closes descriptors.
        let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
        if r != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ENOSYS) {
                return Err(e);
            }
            // Before Linux 5.9: close what /proc lists.
            let open: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect();
            for fd in open {
                if fd >= 3 && fd != keep as RawFd {
                    // SAFETY: as above.
                    unsafe { libc::close(fd) };
                }
            }
            return Ok(());
        }
    }
    Ok(())
}

/// Empty the bounding and ambient sets, keep only [`KEPT_CAPABILITIES`] (of
/// those the process has), and set `no_new_privs`: nothing the worker could
/// execute would gain a privilege.
///
/// Emptying the bounding set needs `CAP_SETPCAP`; a caller that is not
/// permitted it keeps its bounding set, and `no_new_privs` alone keeps an
/// exec from gaining anything beyond the kept capabilities.
pub(crate) fn drop_capabilities() -> io::Result<()> {
    let now = capabilities(None)?;
    if now.permitted.contains(CapabilitySet::SETPCAP) {
        // Raise it if the caller had only lowered it.
        set_capabilities(
            None,
            CapabilitySets {
                effective: now.effective | CapabilitySet::SETPCAP,
                ..now
            },
        )?;
        for cap in 0..64 {
            let one = CapabilitySet::from_bits_retain(1 << cap);
            match capability_is_in_bounding_set(one) {
                Ok(true) => remove_capability_from_bounding_set(one)?,
                Ok(false) => {}
                // Past the kernel's last capability.
                Err(rustix::io::Errno::INVAL) => break,
                Err(e) => return Err(e.into()),
            }
        }
    }
    match clear_ambient_capability_set() {
        // EINVAL: a kernel without ambient capabilities (before 4.3).
        Ok(()) | Err(rustix::io::Errno::INVAL) => {}
        Err(e) => return Err(e.into()),
    }
    let keep = now.permitted & KEPT_CAPABILITIES;
    set_capabilities(
        None,
        CapabilitySets {
            effective: keep,
            permitted: keep,
            inheritable: CapabilitySet::empty(),
        },
    )?;
    set_no_new_privs(true)?;
    Ok(())
}

/// The size of the process's address space, from `/proc/self/statm` (opened
/// before the chroot).
pub(crate) fn address_space(statm: &mut File) -> Option<u64> {
    let mut text = String::new();
    statm.seek(SeekFrom::Start(0)).ok()?;
    statm.read_to_string(&mut text).ok()?;
    let pages: u64 = text.split_whitespace().next()?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// Set `resource` to `limit` (soft and hard), never above the hard limit the
/// process already has.
fn cap_limit(resource: Resource, limit: u64) -> io::Result<()> {
    let (_, hard) = getrlimit(resource)?;
    let limit = limit.min(hard);
    setrlimit(resource, limit, limit)?;
    Ok(())
}

/// Set the worker's limits: no core dumps, no new processes (for a caller that
/// is not uid 0, which the kernel exempts), bounded file size, descriptors and
/// address space (`mapped` plus the headroom; unbounded when unknown). Soft and
/// hard limits are the same, so the worker cannot raise them again.
pub(crate) fn set_limits(limits: &Limits, mapped: Option<u64>) -> io::Result<()> {
    cap_limit(Resource::RLIMIT_CORE, 0)?;
    cap_limit(Resource::RLIMIT_NPROC, 0)?;
    cap_limit(Resource::RLIMIT_FSIZE, limits.file_size)?;
    cap_limit(Resource::RLIMIT_NOFILE, limits.open_files)?;
    if let Some(mapped) = mapped {
        cap_limit(
            Resource::RLIMIT_AS,
            mapped.saturating_add(limits.address_space_headroom),
        )?;
    }
    Ok(())
}

/// Give the next call `seconds` of CPU time: past them the kernel ends the
/// worker with `SIGXCPU`.
pub(crate) fn arm_cpu_limit(seconds: u64) -> io::Result<()> {
    let usage = getrusage(UsageWho::RUSAGE_SELF)?;
    let used = usage.user_time().tv_sec() + usage.system_time().tv_sec() + 1;
    let (_, hard) = getrlimit(Resource::RLIMIT_CPU)?;
    let soft = (used.max(0) as u64).saturating_add(seconds).min(hard);
    setrlimit(Resource::RLIMIT_CPU, soft, hard)?;
    Ok(())
}

/// A few words on why a signal ended the worker, for the limits it sets.
pub(crate) fn signal_hint(sig: Signal) -> &'static str {
    match sig {
        Signal::SIGXCPU => ", its cpu time limit",
        Signal::SIGSEGV => ", a crash such as a stack overflow",
        Signal::SIGSYS => ", a system call its seccomp filter forbids",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_capabilities_allow_no_escape() {
        for cap in [
            CapabilitySet::SYS_CHROOT,
            CapabilitySet::SYS_ADMIN,
            CapabilitySet::DAC_READ_SEARCH,
            CapabilitySet::SYS_PTRACE,
            CapabilitySet::SETPCAP,
            CapabilitySet::SETUID,
            CapabilitySet::MKNOD,
            CapabilitySet::SYS_RESOURCE,
            CapabilitySet::KILL,
        ] {
            assert!(!KEPT_CAPABILITIES.contains(cap), "{cap:?}");
        }
        // CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID.
        assert_eq!(KEPT_CAPABILITIES.bits(), 0x1b);
    }

    #[test]
    fn the_address_space_is_read_from_statm() {
        let mut statm = File::open("/proc/self/statm").unwrap();
        let size = address_space(&mut statm).unwrap();
        assert!(size > 1 << 20, "{size}");
        // Read again from the same descriptor.
        assert!(address_space(&mut statm).is_some());
    }

    #[test]
    fn hints_name_the_limits() {
        assert_eq!(signal_hint(Signal::SIGXCPU), ", its cpu time limit");
        assert_eq!(
            signal_hint(Signal::SIGSYS),
            ", a system call its seccomp filter forbids"
        );
        assert_eq!(signal_hint(Signal::SIGKILL), "");
    }
}
