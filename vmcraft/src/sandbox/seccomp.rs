//! The guest command's seccomp filters, compiled with [`seccompiler`] and handed
//! to bubblewrap (`--add-seccomp-fd`), which installs them just before it runs
//! the guest's program (after `no_new_privs`, after its own setup).
//!
//! Unlike the Augeas worker's filter (an allow-list of a known program's few
//! calls), a guest command is any program of the guest: a package manager, a
//! shell script, `update-initramfs`, `grub-mkconfig`. An allow-list would break
//! them one by one; the filter is therefore a **deny-list** of what reaches
//! beyond the sandbox or into the kernel's wider surface, each refused with
//! `EPERM`:
//!
//! - mounting and the namespace calls that would undo the sandbox: `mount`,
//!   `umount2`, `pivot_root`, the new mount API (`fsopen`, `fsconfig`, `fsmount`,
//!   `fspick`, `move_mount`, `open_tree`, `mount_setattr`), `setns`, `unshare`,
//!   and `clone` with any `CLONE_NEW*` flag (a new user namespace needs no
//!   capability and would give back every capability inside it);
//! - the kernel itself: module loading and unloading (`init_module`,
//!   `finit_module`, `delete_module`), `kexec_load`, `kexec_file_load`,
//!   `reboot`, `swapon`, `swapoff`, `acct`, `syslog`, `bpf`,
//!   `perf_event_open`, `userfaultfd`, io_uring (whose operations bypass
//!   seccomp), the keyrings (`keyctl`, `add_key`, `request_key`), quotas, the
//!   clock (`settimeofday`, `clock_settime`, `clock_adjtime`), and on x86-64
//!   `iopl`, `ioperm` and the obsolete module calls;
//! - other processes and other files: `ptrace`, `process_vm_readv`,
//!   `process_vm_writev`, `pidfd_getfd`, `kcmp`, and `open_by_handle_at` /
//!   `name_to_handle_at` (a file handle opens a file by inode number on the
//!   whole filesystem, past any root: the classic container escape);
//! - `ioctl(TIOCSTI)` and `ioctl(TIOCLINUX)`, which push keystrokes into a
//!   terminal (the sandbox has none: defence in depth);
//! - `socket` of the families the network namespace does not confine:
//!   `AF_VSOCK` (on a virtual machine, a line to its hypervisor's host) and
//!   `AF_BLUETOOTH`.
//!
//! Most of these need a capability the sandbox does not keep (see
//! [`super::KEPT_CAPABILITIES`]); the filter refuses them whatever the
//! capabilities, so one missed capability is not an escape.
//!
//! `clone3` passes its flags in memory, where a filter cannot look: it is
//! answered `ENOSYS` by a second filter, and the C library falls back to
//! `clone`, whose flags the first filter checks (Docker and Flatpak do the
//! same). A system call through another ABI (the 32-bit `int 0x80` on x86-64)
//! fails seccompiler's architecture check and kills the caller; the x32 numbers
//! (bit 30 set) of every refused call are refused too.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

/// The x32 ABI's marker bit on x86-64 system call numbers.
#[cfg(target_arch = "x86_64")]
const X32_BIT: i64 = 0x4000_0000;

/// The system calls refused whatever their arguments.
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
))]
fn refused() -> Vec<libc::c_long> {
    let mut calls = vec![
        // Mounting and namespaces.
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_fsopen,
        libc::SYS_fsconfig,
        libc::SYS_fsmount,
        libc::SYS_fspick,
        libc::SYS_move_mount,
        libc::SYS_open_tree,
        libc::SYS_mount_setattr,
        libc::SYS_setns,
        libc::SYS_unshare,
        // The kernel.
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_reboot,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_acct,
        libc::SYS_syslog,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_userfaultfd,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_quotactl,
        libc::SYS_settimeofday,
        libc::SYS_clock_settime,
        libc::SYS_clock_adjtime,
        libc::SYS_lookup_dcookie,
        libc::SYS_vhangup,
        // Other processes, other files.
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_pidfd_getfd,
        libc::SYS_kcmp,
        libc::SYS_open_by_handle_at,
        libc::SYS_name_to_handle_at,
    ];
    #[cfg(target_arch = "x86_64")]
    calls.extend([
        libc::SYS_iopl,
        libc::SYS_ioperm,
        // create_module, get_kernel_syms, query_module (gone from the kernel
        // and from the libc crate; refused should a kernel still have them).
        174,
        177,
        178,
        libc::SYS_uselib,
        libc::SYS__sysctl,
        libc::SYS_ustat,
        libc::SYS_sysfs,
        libc::SYS_nfsservctl,
    ]);
    calls
}

/// The namespace flags `clone` may not be given.
const CLONE_NAMESPACES: [libc::c_int; 7] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWCGROUP,
];

/// The rules on `clone`: one per namespace flag (rules are alternatives).
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
))]
fn clone_rules() -> seccompiler::Result<Vec<SeccompRule>> {
    let backend = seccompiler::Error::Backend;
    CLONE_NAMESPACES
        .iter()
        .map(|&flag| {
            let flag = flag as u32 as u64;
            SeccompCondition::new(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(flag),
                flag,
            )
            .and_then(|c| SeccompRule::new(vec![c]))
            .map_err(backend)
        })
        .collect()
}

/// The rules on `ioctl`: the requests that type into a terminal.
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
))]
fn ioctl_rules() -> seccompiler::Result<Vec<SeccompRule>> {
    let backend = seccompiler::Error::Backend;
    // The request numbers are 32-bit values whatever the C type of ioctl's
    // second argument.
    let requests: [u64; 2] = [libc::TIOCSTI as _, libc::TIOCLINUX as _];
    requests
        .into_iter()
        .map(|req| {
            SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, req)
                .and_then(|c| SeccompRule::new(vec![c]))
                .map_err(backend)
        })
        .collect()
}

/// The rules on `socket`: the address families that reach past the network
/// namespace. vsock connects a virtual machine to its hypervisor's host
/// whatever the namespace (on a VM, the sandbox would otherwise talk to the
/// machine that runs it), and Bluetooth sockets are not namespaced either.
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
))]
fn socket_rules() -> seccompiler::Result<Vec<SeccompRule>> {
    let backend = seccompiler::Error::Backend;
    [libc::AF_VSOCK, libc::AF_BLUETOOTH]
        .into_iter()
        .map(|family| {
            SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, family as u64)
                .and_then(|c| SeccompRule::new(vec![c]))
                .map_err(backend)
        })
        .collect()
}

/// The number of a call, and on x86-64 its x32 twin too.
fn with_x32(nr: libc::c_long) -> Vec<i64> {
    #[cfg(target_arch = "x86_64")]
    {
        vec![nr, nr | X32_BIT]
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        vec![nr]
    }
}

/// The two filters, in the order bubblewrap gets them: the deny-list
/// (`EPERM`), then `clone3` (`ENOSYS`).
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
))]
pub(crate) fn filters() -> seccompiler::Result<Vec<BpfProgram>> {
    let backend = seccompiler::Error::Backend;
    let arch: seccompiler::TargetArch = std::env::consts::ARCH.try_into().map_err(backend)?;
    let mut deny: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for nr in refused() {
        for n in with_x32(nr) {
            deny.insert(n, Vec::new());
        }
    }
    for n in with_x32(libc::SYS_clone) {
        deny.insert(n, clone_rules()?);
    }
    for n in with_x32(libc::SYS_ioctl) {
        deny.insert(n, ioctl_rules()?);
    }
    for n in with_x32(libc::SYS_socket) {
        deny.insert(n, socket_rules()?);
    }
    let deny = SeccompFilter::new(
        deny,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(backend)?;
    let clone3: BTreeMap<i64, Vec<SeccompRule>> = with_x32(libc::SYS_clone3)
        .into_iter()
        .map(|n| (n, Vec::new()))
        .collect();
    let clone3 = SeccompFilter::new(
        clone3,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(backend)?;
    Ok(vec![
        deny.try_into().map_err(backend)?,
        clone3.try_into().map_err(backend)?,
    ])
}

/// No filter where seccompiler knows no architecture: guest commands are then
/// refused rather than run without one.
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
)))]
pub(crate) fn filters() -> seccompiler::Result<Vec<BpfProgram>> {
    Err(seccompiler::BackendError::InvalidTargetArch(std::env::consts::ARCH.to_string()).into())
}

/// A program as the kernel reads it (`struct sock_filter` after
/// `struct sock_filter`, native byte order), which is what bubblewrap reads
/// from its descriptor.
pub(crate) fn to_bytes(program: &BpfProgram) -> Vec<u8> {
    let mut out = Vec::with_capacity(program.len() * 8);
    for insn in program {
        out.extend_from_slice(&insn.code.to_ne_bytes());
        out.push(insn.jt);
        out.push(insn.jf);
        out.extend_from_slice(&insn.k.to_ne_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_compile_and_serialize() {
        let f = filters().expect("filters");
        assert_eq!(f.len(), 2);
        for p in &f {
            let b = to_bytes(p);
            assert_eq!(b.len(), p.len() * 8);
            assert!(!b.is_empty());
        }
        // The deny-list names every refused call: it is longer than the
        // clone3 one by far.
        assert!(f[0].len() > f[1].len() * 5);
    }

    /// What a process under the filters gets from `call`: 0 or the errno.
    fn errno_of(r: libc::c_long) -> i32 {
        if r < 0 {
            std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
        } else {
            0
        }
    }

    #[test]
    fn the_filters_refuse_in_a_child() {
        let programs = filters().unwrap();
        // SAFETY: the child makes system calls only (the filters were compiled
        // before the fork) and leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = (|| -> i32 {
                for p in &programs {
                    if seccompiler::apply_filter(p).is_err() {
                        return 10;
                    }
                }
                // SAFETY: plain system calls with constant arguments; pointers
                // are null or to static strings, which the kernel refuses or
                // reads.
                unsafe {
                    // Each errno is read right after its call.
                    let checks: [(i32, i32, i32); 8] = [
                        (
                            errno_of(libc::syscall(
                                libc::SYS_socket,
                                libc::AF_VSOCK,
                                libc::SOCK_STREAM,
                                0,
                            )),
                            libc::EPERM,
                            11,
                        ),
                        (
                            errno_of(libc::syscall(
                                libc::SYS_mount,
                                c"none".as_ptr(),
                                c"/".as_ptr(),
                                c"tmpfs".as_ptr(),
                                0,
                                0,
                            )),
                            libc::EPERM,
                            12,
                        ),
                        (
                            errno_of(libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER)),
                            libc::EPERM,
                            13,
                        ),
                        (
                            errno_of(libc::syscall(libc::SYS_clone3, 0, 0)),
                            libc::ENOSYS,
                            14,
                        ),
                        (
                            errno_of(libc::syscall(libc::SYS_finit_module, -1, c"".as_ptr(), 0)),
                            libc::EPERM,
                            15,
                        ),
                        (
                            errno_of(libc::syscall(libc::SYS_keyctl, 0, 0, 0, 0, 0)),
                            libc::EPERM,
                            16,
                        ),
                        (
                            errno_of(libc::syscall(
                                libc::SYS_clone,
                                libc::CLONE_NEWNS as libc::c_ulong | libc::SIGCHLD as libc::c_ulong,
                                0,
                                0,
                                0,
                                0,
                            )),
                            libc::EPERM,
                            17,
                        ),
                        (
                            errno_of(libc::syscall(libc::SYS_open_by_handle_at, -1, 0, 0)),
                            libc::EPERM,
                            18,
                        ),
                    ];
                    for (errno, want, code) in checks {
                        if errno != want {
                            return code;
                        }
                    }
                    // What is not refused still works.
                    let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
                    if fd < 0 {
                        return 20;
                    }
                    if libc::getpid() <= 0 {
                        return 21;
                    }
                }
                0
            })();
            // SAFETY: leave the forked child without running the harness's code.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: wait for our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status), "status {status:#x}");
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "check that failed (see the codes)"
        );
    }
}
