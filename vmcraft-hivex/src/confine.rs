//! What the worker process does to itself before libhivex reads a byte of the
//! hive, and the seccomp filter it ends with.
//!
//! libhivex is C parsing guest data, so it runs in a forked worker that can
//! reach nothing but the hive: the worker
//!
//! 1. resets the crash signals, moves its socket to descriptor 3 and closes
//!    every other descriptor (the standard ones become `/dev/null`; standard
//!    error stays when libhivex's verbose or debug messages were asked for);
//! 2. finds the character conversions libhivex uses (UTF-16LE and Latin-1 to
//!    and from UTF-8) already loaded: the caller's process loads them once
//!    before its first fork ([`conversions`]), so the worker needs no module
//!    after its `chroot` and takes no loader lock;
//! 3. enters a user namespace of its own (so that an ordinary user may
//!    `chroot`, and root keeps no capability over the host), `chroot`s into
//!    the private directory holding its copy of the hive and nothing else;
//! 4. drops every capability (bounding, ambient, permitted, effective), sets
//!    `no_new_privs` and resource limits ([`LIMITS`]), becomes undumpable;
//! 5. installs the seccomp filter ([`filter`]): an allow-list of file,
//!    memory and socket calls; no `socket`, `connect`, `kill`, `ptrace`,
//!    `clone`, `execve`, no executable mappings.
//!
//! Everything here runs in the forked child of a possibly multi-threaded
//! process: system calls and allocation only (no locks another thread may
//! have held at the fork: no stdio, no `tracing`, no environment).

use std::ffi::CStr;

/// The worker's resource limits: address space (a 1 GiB hive mapped or read
/// into memory for writing, and what libhivex builds beside it), file size (a
/// committed hive), open files, CPU seconds (a libhivex loop ends by itself
/// even if nobody waits for the answer), no core dumps.
pub(crate) const LIMITS: &[(libc::__rlimit_resource_t, u64)] = &[
    (libc::RLIMIT_AS, 6 << 30),
    (libc::RLIMIT_FSIZE, 2 << 30),
    (libc::RLIMIT_NOFILE, 16),
    (libc::RLIMIT_CPU, 600),
    (libc::RLIMIT_CORE, 0),
];

/// The character conversions libhivex opens (`iconv_open(to, from)`).
const CONVERSIONS: &[(&CStr, &CStr)] = &[
    (c"UTF-8", c"UTF-16LE"),
    (c"UTF-16LE", c"UTF-8"),
    (c"UTF-8", c"LATIN1"),
    (c"LATIN1", c"UTF-8"),
];

/// The step that failed and its errno.
pub(crate) type StepError = (&'static str, i32);

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn check(step: &'static str, r: libc::c_int) -> Result<(), StepError> {
    if r < 0 { Err((step, errno())) } else { Ok(()) }
}

/// Step 1: signals and descriptors. `sock` becomes descriptor 3.
///
/// # Safety
/// Only in the forked worker, before it uses any descriptor but `sock`.
pub(crate) unsafe fn descriptors(sock: libc::c_int, keep_stderr: bool) -> Result<(), StepError> {
    // SAFETY: plain system calls on the worker's own signal state and
    // descriptors; nothing else in the worker uses them.
    unsafe {
        for sig in [
            libc::SIGABRT,
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGFPE,
            libc::SIGILL,
            libc::SIGPIPE,
            libc::SIGXCPU,
            libc::SIGXFSZ,
        ] {
            libc::signal(sig, libc::SIG_DFL);
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        // The socket out of the way first (`/dev/null` may open as 3), then
        // the standard descriptors, then the socket to 3.
        let sock = libc::fcntl(sock, libc::F_DUPFD, 10);
        check("fcntl(F_DUPFD)", sock)?;
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        check("open /dev/null", null)?;
        for fd in [0, 1] {
            check("dup2", libc::dup2(null, fd))?;
        }
        if !keep_stderr {
            check("dup2", libc::dup2(null, 2))?;
        }
        check("dup2", libc::dup2(sock, 3))?;
        check("close_range", libc::close_range(4, libc::c_uint::MAX, 0))?;
    }
    Ok(())
}

/// Step 2, in the caller's process: the conversions, opened and kept open for
/// the life of the process (so that their modules stay loaded, and every
/// worker forked later finds them).
pub(crate) fn conversions() -> Vec<usize> {
    CONVERSIONS
        .iter()
        // SAFETY: two C strings; the descriptor is never closed (the caller
        // keeps it).
        .map(|(to, from)| unsafe { libc::iconv_open(to.as_ptr(), from.as_ptr()) } as usize)
        .collect()
}

/// Steps 3 and 4: the namespace, the root, the capabilities, the limits.
///
/// # Safety
/// Only in the forked (single-threaded) worker.
pub(crate) unsafe fn confine(root: &CStr) -> Result<(), StepError> {
    // SAFETY: system calls on the worker's own credentials and namespaces.
    unsafe {
        // A user namespace of its own: an ordinary user gets the right to
        // chroot in it; root loses its capabilities over the host. Without
        // one (user namespaces disabled), only root can go on.
        if libc::unshare(libc::CLONE_NEWUSER) < 0 {
            let e = errno();
            if libc::geteuid() != 0 {
                return Err((
                    "unshare(CLONE_NEWUSER), needed to confine libhivex without root",
                    e,
                ));
            }
        }
        check("chroot", libc::chroot(root.as_ptr()))?;
        check("chdir", libc::chdir(c"/".as_ptr()))?;
        for &(res, max) in LIMITS {
            let lim = libc::rlimit {
                rlim_cur: max,
                rlim_max: max,
            };
            check("setrlimit", libc::setrlimit(res, &lim))?;
        }
        for cap in 0..64 {
            // EINVAL past the last capability the kernel knows.
            libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
        }
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
        #[repr(C)]
        struct Header {
            version: u32,
            pid: libc::c_int,
        }
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        let mut header = Header {
            version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
            pid: 0,
        };
        let data = [Data {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        }; 2];
        check(
            "capset",
            libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) as libc::c_int,
        )?;
        check(
            "no_new_privs",
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
        )?;
        check("dumpable", libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0))?;
    }
    Ok(())
}

/// The worker's seccomp filter (step 5), compiled once in the caller's
/// process and installed by each worker.
///
/// An allow-list: what libhivex and the worker's loop do once confined (open,
/// read, map and write the hive and its commit file inside the private root,
/// allocate, talk on the socket, exit). Anything else fails with `EPERM`;
/// a system call through another ABI (32-bit `int 0x80`) kills the worker.
/// `mmap` and `mprotect` are refused executable memory, so that code that
/// hostile hive bytes might smuggle in cannot be mapped to run.
#[cfg(target_arch = "x86_64")]
pub(crate) fn filter() -> Result<seccompiler::BpfProgram, String> {
    use std::collections::BTreeMap;

    use seccompiler::{
        SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    };
    let calls = [
        libc::SYS_openat,
        libc::SYS_open,
        libc::SYS_close,
        libc::SYS_read,
        libc::SYS_write,
        libc::SYS_pread64,
        libc::SYS_pwrite64,
        libc::SYS_readv,
        libc::SYS_writev,
        libc::SYS_lseek,
        libc::SYS_fstat,
        libc::SYS_newfstatat,
        libc::SYS_statx,
        libc::SYS_fsync,
        libc::SYS_fdatasync,
        libc::SYS_recvfrom,
        libc::SYS_sendto,
        libc::SYS_brk,
        libc::SYS_munmap,
        libc::SYS_mremap,
        libc::SYS_madvise,
        libc::SYS_futex,
        libc::SYS_sched_yield,
        libc::SYS_getrandom,
        libc::SYS_clock_gettime,
        libc::SYS_getpid,
        libc::SYS_gettid,
        libc::SYS_rt_sigprocmask,
        libc::SYS_rt_sigreturn,
        libc::SYS_restart_syscall,
        libc::SYS_exit,
        libc::SYS_exit_group,
    ];
    let backend = |e: seccompiler::BackendError| e.to_string();
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        calls.iter().map(|&c| (c, Vec::new())).collect();
    // mmap(addr, len, prot, ...) and mprotect(addr, len, prot): prot without
    // PROT_EXEC.
    let no_exec = || -> Result<Vec<SeccompRule>, String> {
        let cond = SeccompCondition::new(
            2,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::MaskedEq(libc::PROT_EXEC as u64),
            0,
        )
        .map_err(backend)?;
        Ok(vec![SeccompRule::new(vec![cond]).map_err(backend)?])
    };
    rules.insert(libc::SYS_mmap, no_exec()?);
    rules.insert(libc::SYS_mprotect, no_exec()?);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        seccompiler::TargetArch::x86_64,
    )
    .map_err(backend)?;
    filter.try_into().map_err(backend)
}

/// No worker where this crate has no filter: opening a hive fails rather than
/// run libhivex unconfined.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn filter() -> Result<seccompiler::BpfProgram, String> {
    Err(format!(
        "no seccomp filter for {} in this build: libhivex is not run unconfined",
        std::env::consts::ARCH
    ))
}
