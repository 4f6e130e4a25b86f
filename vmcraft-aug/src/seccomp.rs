//! The worker's seccomp filter: the last step of its confinement, installed
//! after `no_new_privs` and before it reads a byte of the guest.
//!
//! The worker still runs as uid 0. Were a hostile guest file to run code in
//! it through a bug in libaugeas's parser, the chroot and the dropped
//! capabilities keep it from the host's files, but a uid-0 process may still
//! signal, `ptrace` (Yama permitting) or `process_vm_readv` other root
//! processes, open sockets to host services (abstract unix sockets, netlink),
//! execute programs, and reach the kernel's wider surface (`bpf`,
//! `io_uring`, `userfaultfd`, keyrings, namespaces). The filter takes all of
//! that away.
//!
//! It is an **allow-list**: what the worker does once confined, taken from
//! `strace -f` of the test suite (loading, getting, setting, saving with and
//! without backups, `aug_transform`, the crash tests), plus what the same code
//! needs on other C libraries and kernels (the pre-`*at` calls that older
//! glibc makes on x86-64, the extended-attribute calls that libaugeas makes
//! for SELinux labels on hosts that enable SELinux, `tgkill` for `abort`).
//! Anything else fails with `EPERM` instead of killing the worker, so a call
//! missing from the list shows up as a clear error from the `aug_*` call that
//! needed it, not as a crash. A deny-list of the dangerous calls would have to
//! keep up with every new system call the kernel adds (and with the x32
//! numbers, which a list of x86-64 numbers does not name); the worker's needs
//! are few and stable: files, memory, its socket, its own limits.
//!
//! Some calls are allowed only on the worker itself: `prlimit64` only with pid
//! 0 (a uid-0 process could otherwise lower the limits of any root process),
//! `tgkill` only to its own pid (for `abort`), and `fcntl` only to get and set
//! descriptor and status flags (`F_SETOWN` would point `SIGIO` at another
//! process). `ioctl` is not allowed at all (no `TIOCSTI` into a terminal).
//!
//! Other ABIs are closed: the filter starts with an architecture check
//! (seccompiler's), and a system call made through another ABI (the 32-bit
//! `int 0x80` on x86-64) kills the worker with `SIGSYS`; x32 calls (x86-64
//! numbers with bit 30 set) match no entry of the list and fail with `EPERM`.
//!
//! The filter is compiled in the worker (it names the worker's pid), with
//! [`seccompiler`], on x86-64, AArch64 and RISC-V 64; elsewhere opening a
//! handle fails rather than run the worker without one.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

/// The system calls the worker may make with any arguments.
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
))]
fn allowed() -> Vec<libc::c_long> {
    let mut calls = vec![
        // Files, inside the chroot.
        libc::SYS_openat,
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
        libc::SYS_faccessat,
        libc::SYS_faccessat2,
        libc::SYS_readlinkat,
        libc::SYS_getdents64,
        libc::SYS_getcwd,
        libc::SYS_renameat2,
        libc::SYS_unlinkat,
        libc::SYS_mkdirat,
        libc::SYS_fchmod,
        libc::SYS_fchmodat,
        libc::SYS_fchown,
        libc::SYS_fchownat,
        libc::SYS_fsync,
        libc::SYS_fdatasync,
        libc::SYS_umask,
        // SELinux labels, kept on save where the host enables SELinux.
        libc::SYS_getxattr,
        libc::SYS_lgetxattr,
        libc::SYS_fgetxattr,
        libc::SYS_setxattr,
        libc::SYS_lsetxattr,
        libc::SYS_fsetxattr,
        // The socket to the parent (the only one it has, and it can make none).
        libc::SYS_recvfrom,
        libc::SYS_sendto,
        // Memory.
        libc::SYS_brk,
        libc::SYS_mmap,
        libc::SYS_munmap,
        libc::SYS_mremap,
        libc::SYS_mprotect,
        libc::SYS_madvise,
        // The C library and the Rust runtime.
        libc::SYS_futex,
        libc::SYS_sched_yield,
        libc::SYS_getrandom,
        libc::SYS_clock_gettime,
        libc::SYS_gettimeofday,
        libc::SYS_getrusage,
        libc::SYS_getpid,
        libc::SYS_gettid,
        libc::SYS_getuid,
        libc::SYS_geteuid,
        libc::SYS_getgid,
        libc::SYS_getegid,
        libc::SYS_rt_sigprocmask,
        libc::SYS_rt_sigreturn,
        libc::SYS_restart_syscall,
        libc::SYS_exit,
        libc::SYS_exit_group,
    ];
    // What older C libraries call on x86-64 instead of the *at forms.
    #[cfg(target_arch = "x86_64")]
    calls.extend([
        libc::SYS_open,
        libc::SYS_stat,
        libc::SYS_lstat,
        libc::SYS_access,
        libc::SYS_readlink,
        libc::SYS_getdents,
        libc::SYS_rename,
        libc::SYS_renameat,
        libc::SYS_unlink,
        libc::SYS_rmdir,
        libc::SYS_mkdir,
        libc::SYS_chmod,
        libc::SYS_chown,
        libc::SYS_lchown,
        libc::SYS_getrlimit,
        libc::SYS_setrlimit,
        libc::SYS_time,
    ]);
    // renameat, which glibc's rename calls on AArch64 (the libc crate does not
    // name it there).
    #[cfg(target_arch = "aarch64")]
    calls.push(38);
    calls
}

/// One condition on a 32-bit argument.
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
))]
fn arg_eq(index: u8, value: u64) -> Result<SeccompCondition, seccompiler::BackendError> {
    SeccompCondition::new(index, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, value)
}

/// The filter for the worker whose pid is `pid`.
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
))]
pub(crate) fn filter(pid: libc::pid_t) -> seccompiler::Result<BpfProgram> {
    let backend = seccompiler::Error::Backend;
    let arch = std::env::consts::ARCH.try_into().map_err(backend)?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        allowed().into_iter().map(|nr| (nr, Vec::new())).collect();
    // Its own limits only (pid 0).
    rules.insert(
        libc::SYS_prlimit64,
        vec![SeccompRule::new(vec![arg_eq(0, 0).map_err(backend)?]).map_err(backend)?],
    );
    // abort(): SIGABRT to itself, the one thread it has.
    let own = pid as u32 as u64;
    rules.insert(
        libc::SYS_tgkill,
        vec![
            SeccompRule::new(vec![
                arg_eq(0, own).map_err(backend)?,
                arg_eq(1, own).map_err(backend)?,
            ])
            .map_err(backend)?,
        ],
    );
    // Descriptor and status flags; not F_SETOWN, F_SETSIG, leases, ...
    let fcntl = [
        libc::F_GETFD,
        libc::F_SETFD,
        libc::F_GETFL,
        libc::F_SETFL,
        libc::F_DUPFD_CLOEXEC,
    ]
    .into_iter()
    .map(|cmd| {
        arg_eq(1, cmd as u64)
            .and_then(|c| SeccompRule::new(vec![c]))
            .map_err(backend)
    })
    .collect::<seccompiler::Result<Vec<_>>>()?;
    rules.insert(libc::SYS_fcntl, fcntl);

    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        arch,
    )
    .map_err(backend)?;
    filter.try_into().map_err(backend)
}

/// No filter where seccompiler knows no architecture.
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
)))]
pub(crate) fn filter(_pid: libc::pid_t) -> seccompiler::Result<BpfProgram> {
    Err(seccompiler::BackendError::InvalidTargetArch(std::env::consts::ARCH.to_string()).into())
}

/// Install the worker's filter on the calling process (which must be
/// single-threaded: the worker). Sets `no_new_privs` too, which the kernel
/// requires of a process without `CAP_SYS_ADMIN`.
pub(crate) fn install() -> seccompiler::Result<()> {
    // SAFETY: getpid has no preconditions.
    let program = filter(unsafe { libc::getpid() })?;
    seccompiler::apply_filter(&program)?;
    Ok(())
}

/// Test hook: something a compromised worker might try, which the filter
/// must refuse.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Attempt {
    /// `open_by_handle_at(AT_FDCWD, handle, O_RDONLY)`.
    OpenByHandle,
    /// `ptrace(PTRACE_ATTACH, pid)`.
    PtraceAttach(i32),
    /// `kill(pid, 0)`.
    Kill(i32),
    /// `socket(AF_UNIX, SOCK_STREAM)`.
    UnixSocket,
    /// `execve("/bin/true")`.
    Exec,
    /// `prlimit64(pid, RLIMIT_NOFILE)`, only reading the limit.
    Prlimit(i32),
    /// `tgkill(pid, pid, 0)`.
    Tgkill(i32),
    /// `fcntl(0, F_SETOWN, pid)`: `SIGIO` for another process.
    SetOwner(i32),
    /// `getpid` through the x32 ABI (x86-64 only).
    X32Getpid,
    /// `getpid` through the i386 ABI, `int 0x80` (x86-64 only).
    I386Getpid,
}

/// The errno of a failed system call, or 0.
#[cfg(test)]
fn errno_of(r: libc::c_long) -> u64 {
    if r < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0) as u64
    } else {
        0
    }
}

/// Make the attempt in the worker: the errno it failed with, 0 if it
/// succeeded (anything it obtained is released at once).
#[cfg(test)]
pub(crate) fn attempt(what: Attempt) -> u64 {
    // SAFETY (all below): raw system calls with valid pointers to local data;
    // whatever succeeds is undone before returning.
    unsafe {
        match what {
            Attempt::OpenByHandle => {
                // struct file_handle: 8 bytes of FILEID_INO32_GEN (inode 2).
                #[repr(C)]
                struct Handle {
                    bytes: u32,
                    kind: i32,
                    f: [u32; 2],
                }
                let mut h = Handle {
                    bytes: 8,
                    kind: 1,
                    f: [2, 0],
                };
                let fd = libc::syscall(
                    libc::SYS_open_by_handle_at,
                    libc::AT_FDCWD,
                    &mut h as *mut Handle,
                    libc::O_RDONLY,
                );
                let e = errno_of(fd);
                if fd >= 0 {
                    libc::close(fd as i32);
                }
                e
            }
            Attempt::PtraceAttach(pid) => {
                let r = libc::ptrace(libc::PTRACE_ATTACH, pid, 0, 0);
                let e = errno_of(r);
                if r == 0 {
                    libc::ptrace(libc::PTRACE_DETACH, pid, 0, 0);
                }
                e
            }
            Attempt::Kill(pid) => errno_of(libc::kill(pid, 0).into()),
            Attempt::UnixSocket => {
                let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
                let e = errno_of(fd.into());
                if fd >= 0 {
                    libc::close(fd);
                }
                e
            }
            Attempt::Exec => {
                let argv = [c"/bin/true".as_ptr(), std::ptr::null()];
                let envp = [std::ptr::null()];
                errno_of(libc::execve(argv[0], argv.as_ptr(), envp.as_ptr()).into())
            }
            Attempt::Prlimit(pid) => {
                let mut old = std::mem::zeroed::<libc::rlimit64>();
                errno_of(libc::syscall(
                    libc::SYS_prlimit64,
                    pid,
                    libc::RLIMIT_NOFILE,
                    std::ptr::null::<libc::rlimit64>(),
                    &mut old as *mut libc::rlimit64,
                ))
            }
            Attempt::Tgkill(pid) => errno_of(libc::syscall(libc::SYS_tgkill, pid, pid, 0)),
            Attempt::SetOwner(pid) => errno_of(libc::fcntl(0, libc::F_SETOWN, pid).into()),
            #[cfg(target_arch = "x86_64")]
            Attempt::X32Getpid => {
                const X32_SYSCALL_BIT: libc::c_long = 0x4000_0000;
                errno_of(libc::syscall(X32_SYSCALL_BIT | libc::SYS_getpid))
            }
            #[cfg(target_arch = "x86_64")]
            Attempt::I386Getpid => i386_getpid().map_or_else(|e| e as u64, |_| 0),
            #[cfg(not(target_arch = "x86_64"))]
            Attempt::X32Getpid | Attempt::I386Getpid => libc::ENOSYS as u64,
        }
    }
}

/// `getpid` through the i386 ABI (`int 0x80`, call 20): the pid, or the errno.
/// Without IA-32 emulation in the kernel the instruction faults (`SIGSEGV`).
#[cfg(all(test, target_arch = "x86_64"))]
pub(crate) fn i386_getpid() -> Result<i32, i32> {
    let ret: i64;
    // SAFETY: a system call that reads no memory; the registers the kernel
    // may change are declared.
    unsafe {
        std::arch::asm!(
            "int 0x80",
            inlateout("rax") 20i64 => ret,
            lateout("r8") _, lateout("r9") _, lateout("r10") _, lateout("r11") _,
            options(nostack),
        );
    }
    let ret = ret as i32;
    if ret < 0 { Err(-ret) } else { Ok(ret) }
}

#[cfg(all(
    test,
    any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64"
    )
))]
mod tests {
    use super::*;

    #[test]
    fn the_filter_compiles_for_this_machine() {
        let program = filter(1234).unwrap();
        // An architecture check, then one comparison or more per call.
        assert!(program.len() > allowed().len(), "{}", program.len());
    }

    #[test]
    fn the_list_names_no_escape() {
        let list = allowed();
        for nr in [
            libc::SYS_ptrace,
            libc::SYS_process_vm_readv,
            libc::SYS_process_vm_writev,
            libc::SYS_kill,
            libc::SYS_tkill,
            libc::SYS_execve,
            libc::SYS_execveat,
            libc::SYS_socket,
            libc::SYS_socketpair,
            libc::SYS_connect,
            libc::SYS_sendmsg,
            libc::SYS_recvmsg,
            libc::SYS_clone,
            libc::SYS_clone3,
            libc::SYS_unshare,
            libc::SYS_setns,
            libc::SYS_mount,
            libc::SYS_umount2,
            libc::SYS_open_tree,
            libc::SYS_move_mount,
            libc::SYS_mount_setattr,
            libc::SYS_fsopen,
            libc::SYS_fsmount,
            libc::SYS_pivot_root,
            libc::SYS_chroot,
            libc::SYS_fchdir,
            libc::SYS_open_by_handle_at,
            libc::SYS_name_to_handle_at,
            libc::SYS_ioctl,
            libc::SYS_bpf,
            libc::SYS_perf_event_open,
            libc::SYS_userfaultfd,
            libc::SYS_io_uring_setup,
            libc::SYS_keyctl,
            libc::SYS_setuid,
            libc::SYS_prlimit64,
            libc::SYS_tgkill,
            libc::SYS_fcntl,
        ] {
            assert!(!list.contains(&nr), "{nr} is allowed unconditionally");
        }
    }
}
