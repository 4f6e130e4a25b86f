//! The worker process: a crash in it (a stack overflow on a hostile guest
//! file, a kill) is an error for the call, never the end of the caller; the
//! worker is chrooted into the guest, holds no capability that leaves the
//! chroot, has `no_new_privs`, a seccomp filter, resource limits and no
//! descriptor of the caller's; and it dies with the process that opened it.
//! (What the filter refuses is tested from inside a worker, through test
//! hooks, in `src/worker.rs`.)

mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Guest, need_root};
use vmcraft_aug::{AugFlags, Augeas, ErrorKind};

/// An XML catalog nested `depth` levels deep (the Xml lens autoloads
/// `/etc/xml/catalog`).
fn nested_catalog(depth: usize) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n{}x{}\n",
        "<a>".repeat(depth),
        "</a>".repeat(depth)
    )
}

/// Deep enough to overflow the worker's 256 MiB stack (80 000 levels fit).
const TOO_DEEP: usize = 400_000;

/// A `/proc/PID/status` field.
fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

fn hex_mask(pid: u32, field: &str) -> u64 {
    u64::from_str_radix(&status_field(pid, field), 16).unwrap()
}

/// Whether `pid` is gone or a zombie (dead, not yet reaped).
fn is_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            let state = stat.rsplit_once(") ").unwrap().1;
            state.starts_with('Z') || state.starts_with('X')
        }
    }
}

#[test]
fn a_stack_overflow_in_the_worker_is_an_error_not_a_crash() {
    if !need_root() {
        return;
    }
    let g = Guest::new("overflow");
    g.write("/etc/xml/catalog", &nested_catalog(TOO_DEEP));
    g.write("/etc/hosts", "192.0.2.1 guest\n");
    let before = g.snapshot();

    // At init: the load of every file crashes the worker.
    let e = Augeas::init(&g.root, AugFlags::empty()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WorkerCrashed, "{e}");
    assert_eq!(e.call(), "aug_init");
    let msg = e.to_string();
    let root = g.root.canonicalize().unwrap();
    assert!(
        msg.starts_with(&format!(
            "aug_init: {}: the augeas worker process (pid ",
            root.display()
        )),
        "{msg}"
    );
    assert!(
        msg.ends_with(") died: killed by signal 11 (SIGSEGV, a crash such as a stack overflow)"),
        "{msg}"
    );

    // At aug_load, on a handle opened without loading.
    let aug = Augeas::init(&g.root, AugFlags::NO_LOAD).unwrap();
    let pid = aug.worker_pid().unwrap();
    let e = aug.aug_load().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WorkerCrashed, "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "aug_load: {}: the augeas worker process (pid {pid}) died: \
             killed by signal 11 (SIGSEGV, a crash such as a stack overflow)",
            root.display()
        )
    );
    // Reaped, not left a zombie.
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    // The handle stays unusable, and says why, until it is closed.
    assert!(aug.is_open());
    assert_eq!(aug.worker_pid(), None);
    for e in [
        aug.aug_get("/files/etc/hosts/1/canonical").unwrap_err(),
        aug.aug_save().unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::WorkerCrashed, "{e}");
        assert!(
            e.to_string().ends_with(&format!(
                ": the augeas worker process (pid {pid}) died earlier, during aug_load \
                 (killed by signal 11 (SIGSEGV, a crash such as a stack overflow)); \
                 close the handle or call aug_init again"
            )),
            "{e}"
        );
    }
    aug.aug_close().unwrap();
    assert_eq!(
        aug.aug_get("/files").unwrap_err().kind(),
        ErrorKind::NotInitialised
    );
    assert_eq!(g.snapshot(), before, "the crash changed the guest");

    // This process lives on, and the same handle opens again.
    std::fs::remove_file(g.path("/etc/xml/catalog")).unwrap();
    aug.aug_init(&g.root, AugFlags::empty()).unwrap();
    assert_eq!(
        aug.aug_get("/files/etc/hosts/1/canonical").unwrap(),
        "guest"
    );
}

#[test]
fn a_worker_killed_between_calls_fails_the_next_call() {
    if !need_root() {
        return;
    }
    let g = Guest::new("killed");
    g.write("/etc/hosts", "192.0.2.1 guest\n");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    aug.aug_set("/files/etc/hosts/1/canonical", "unsaved")
        .unwrap();
    let pid = aug.worker_pid().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();

    let e = aug.aug_get("/files/etc/hosts/1/canonical").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WorkerCrashed, "{e}");
    assert_eq!(e.call(), "aug_get");
    assert!(
        e.to_string().ends_with(&format!(
            "the augeas worker process (pid {pid}) died: killed by signal 9 (SIGKILL)"
        )),
        "{e}"
    );
    let e = aug.aug_save().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WorkerCrashed);
    assert!(
        e.to_string().contains("died earlier, during aug_get"),
        "{e}"
    );
    assert_eq!(g.read("/etc/hosts"), "192.0.2.1 guest\n");

    // aug_init replaces the dead worker.
    aug.aug_init(&g.root, AugFlags::empty()).unwrap();
    assert_ne!(aug.worker_pid(), Some(pid));
    assert_eq!(
        aug.aug_get("/files/etc/hosts/1/canonical").unwrap(),
        "guest"
    );
}

#[test]
fn the_worker_is_chrooted_without_privileges_and_limited() {
    if !need_root() {
        return;
    }
    let g = Guest::new("confined");
    g.write("/etc/hosts", "192.0.2.1 guest\n");
    // A descriptor of this process that the worker must not keep.
    let host_file = g.host_dir().join("secret");
    std::fs::write(&host_file, "secret\n").unwrap();
    let _open = std::fs::File::open(&host_file).unwrap();

    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    let pid = aug.worker_pid().unwrap();
    assert_ne!(pid, std::process::id());

    // Its root and working directory are the guest tree, the root of a
    // detached copy of the guest's mounts (so they read as `/` from here).
    use std::os::unix::fs::MetadataExt;
    let id = |p: &str| {
        let m = std::fs::metadata(p).unwrap();
        (m.dev(), m.ino())
    };
    let guest = id(g.root.to_str().unwrap());
    assert_eq!(id(&format!("/proc/{pid}/root")), guest);
    assert_eq!(id(&format!("/proc/{pid}/cwd")), guest);
    for link in ["root", "cwd"] {
        assert_eq!(
            std::fs::read_link(format!("/proc/{pid}/{link}")).unwrap(),
            Path::new("/")
        );
    }
    // No mount namespace of its own (which would copy every mount of the
    // host), and no mount of this one within its reach.
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap(),
        std::fs::read_link("/proc/self/ns/mnt").unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap(),
        ""
    );

    // No capability to leave the chroot, none to gain back, no new privileges.
    const CAP_SYS_CHROOT: u32 = 18;
    const CAP_SYS_ADMIN: u32 = 21;
    let eff = hex_mask(pid, "CapEff");
    let prm = hex_mask(pid, "CapPrm");
    for cap in [CAP_SYS_CHROOT, CAP_SYS_ADMIN] {
        assert_eq!(eff & (1 << cap), 0, "CapEff {eff:x} has {cap}");
        assert_eq!(prm & (1 << cap), 0, "CapPrm {prm:x} has {cap}");
    }
    // CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID; not CAP_DAC_READ_SEARCH
    // (open_by_handle_at).
    assert_eq!(eff, 0x1b);
    assert_eq!(prm, 0x1b);
    assert_eq!(hex_mask(pid, "CapInh"), 0);
    assert_eq!(hex_mask(pid, "CapBnd"), 0);
    assert_eq!(hex_mask(pid, "CapAmb"), 0);
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    // Under a seccomp filter (mode 2), the one it installed.
    assert_eq!(status_field(pid, "Seccomp"), "2");
    assert_eq!(status_field(pid, "Seccomp_filters"), "1");
    assert_eq!(
        status_field(pid, "PPid"),
        std::process::id().to_string(),
        "the worker is this process's child"
    );
    assert_eq!(status_field(pid, "Threads"), "1");

    // Its limits.
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let limit = |name: &str| -> Vec<String> {
        let line = limits
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {limits}"));
        line[name.len()..]
            .split_whitespace()
            .take(2)
            .map(str::to_string)
            .collect()
    };
    assert_eq!(limit("Max core file size"), ["0", "0"]);
    assert_eq!(limit("Max processes"), ["0", "0"]);
    assert_eq!(limit("Max file size"), ["1073741824", "1073741824"]);
    assert_eq!(limit("Max open files"), ["256", "256"]);
    let address = limit("Max address space");
    assert_ne!(address[0], "unlimited", "{limits}");
    assert_eq!(address[0], address[1]);
    let cpu = limit("Max cpu time");
    let soft: u64 = cpu[0].parse().unwrap_or_else(|_| panic!("{limits}"));
    assert!((600..700).contains(&soft), "{limits}");

    // Its descriptors: /dev/null as stdin, stdout and stderr, the socket to
    // this process, and the one that holds its copy of the guest's mounts
    // (its own root); none of this process's. (No mount table: its copy
    // cannot change, there is nothing to recheck.)
    let mut targets: Vec<(String, std::path::PathBuf)> =
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                (
                    std::fs::read_link(&path).unwrap().display().to_string(),
                    path,
                )
            })
            .collect();
    targets.sort();
    let names: Vec<&str> = targets.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert_eq!(names[..4], ["/", "/dev/null", "/dev/null", "/dev/null"]);
    assert!(names[4].starts_with("socket:["), "{names:?}");
    assert_eq!(id(targets[0].1.to_str().unwrap()), guest);

    // Its own process group: a terminal's ^C is for this process to handle.
    let pgrp = |pid: u32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        stat.rsplit_once(") ")
            .unwrap()
            .1
            .split(' ')
            .nth(2)
            .unwrap()
            .to_string()
    };
    assert_eq!(pgrp(pid), pid.to_string());

    // And it still works, inside the guest.
    assert_eq!(
        aug.aug_get("/files/etc/hosts/1/canonical").unwrap(),
        "guest"
    );
    aug.aug_close().unwrap();
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "not reaped");
}

#[test]
fn the_capabilities_kept_are_enough_to_edit_any_guest_file() {
    if !need_root() {
        return;
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt, chown};
    let g = Guest::new("owners");
    // A file and a directory owned by a guest user, closed to everyone else,
    // and a setgid file: reading them needs CAP_DAC_OVERRIDE, writing the new
    // copy beside them and giving it the old owner CAP_CHOWN and CAP_FOWNER.
    g.write("/etc/private/hosts", "192.0.2.1 private\n");
    g.write("/etc/hosts", "192.0.2.2 setgid\n");
    let dir = g.path("/etc/private");
    let file = g.path("/etc/private/hosts");
    chown(&file, Some(1234), Some(4321)).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    chown(&dir, Some(1234), Some(4321)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let hosts = g.path("/etc/hosts");
    chown(&hosts, Some(0), Some(4321)).unwrap();
    std::fs::set_permissions(&hosts, std::fs::Permissions::from_mode(0o2640)).unwrap();

    let aug = Augeas::init(&g.root, AugFlags::SAVE_BACKUP).unwrap();
    aug.aug_transform("Hosts", "/etc/private/hosts", false)
        .unwrap();
    aug.aug_load().unwrap();
    assert_eq!(
        aug.aug_get("/files/etc/private/hosts/1/canonical").unwrap(),
        "private"
    );
    aug.aug_set("/files/etc/private/hosts/1/canonical", "edited")
        .unwrap();
    aug.aug_set("/files/etc/hosts/1/canonical", "edited")
        .unwrap();
    aug.aug_save().unwrap();
    drop(aug);

    assert_eq!(g.read("/etc/private/hosts"), "192.0.2.1 edited\n");
    assert_eq!(g.read("/etc/private/hosts.augsave"), "192.0.2.1 private\n");
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (1234, 4321));
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!(g.read("/etc/hosts"), "192.0.2.2 edited\n");
    let meta = std::fs::metadata(&hosts).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, 4321));
    assert_eq!(meta.mode() & 0o7777, 0o2640);
}

#[test]
fn a_caller_without_cap_setpcap_still_gets_a_worker_without_privileges() {
    if !need_root() {
        return;
    }
    use rustix::thread::{CapabilitySet, CapabilitySets, capabilities, set_capabilities};
    let g = Guest::new("nosetpcap");
    g.write("/etc/hosts", "192.0.2.1 guest\n");
    let root = g.root.clone();
    // A thread not even permitted CAP_SETPCAP (the worker has the credentials
    // of the thread that opens the handle): the bounding set cannot be emptied.
    let (pid, bounding, value) = std::thread::spawn(move || {
        let now = capabilities(None).unwrap();
        set_capabilities(
            None,
            CapabilitySets {
                effective: now.effective - CapabilitySet::SETPCAP,
                permitted: now.permitted - CapabilitySet::SETPCAP,
                inheritable: now.inheritable,
            },
        )
        .unwrap();
        let aug = Augeas::init(&root, AugFlags::empty()).unwrap();
        let pid = aug.worker_pid().unwrap();
        let bounding = hex_mask(pid, "CapBnd");
        assert_eq!(hex_mask(pid, "CapEff"), 0x1b);
        assert_eq!(hex_mask(pid, "CapPrm"), 0x1b);
        assert_eq!(hex_mask(pid, "CapAmb"), 0);
        assert_eq!(status_field(pid, "NoNewPrivs"), "1");
        assert_eq!(status_field(pid, "Seccomp"), "2");
        let value = aug.aug_get("/files/etc/hosts/1/canonical").unwrap();
        (pid, bounding, value)
    })
    .join()
    .unwrap();
    assert_ne!(bounding, 0, "the bounding set stays");
    assert_eq!(value, "guest");
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
}

#[test]
fn the_worker_is_reaped_when_the_handle_is_dropped() {
    if !need_root() {
        return;
    }
    let g = Guest::new("reaped");
    g.write("/etc/hosts", "192.0.2.1 guest\n");
    let mut pids = Vec::new();
    for flags in [AugFlags::empty(), AugFlags::NO_LOAD] {
        let aug = Augeas::init(&g.root, flags).unwrap();
        pids.push(aug.worker_pid().unwrap());
        drop(aug);
    }
    let aug = Augeas::default();
    aug.aug_init(&g.root, AugFlags::NO_LOAD).unwrap();
    pids.push(aug.worker_pid().unwrap());
    // aug_init closes the handle before: its worker goes.
    aug.aug_init(&g.root, AugFlags::NO_LOAD).unwrap();
    pids.push(aug.worker_pid().unwrap());
    drop(aug);
    for pid in pids {
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "{pid} left");
    }
}

#[test]
fn an_answer_too_large_is_refused_and_the_handle_goes_on() {
    if !need_root() {
        return;
    }
    let g = Guest::new("large");
    g.write("/etc/hosts", "192.0.2.1 guest\n");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    // Three labels of 22 MiB: listing them is over the 64 MiB an answer may be.
    for c in ['a', 'b', 'c'] {
        let label = c.to_string().repeat(22 << 20);
        aug.aug_set(&format!("/big/{label}"), "v").unwrap();
    }
    let pid = aug.worker_pid().unwrap();
    let e = aug.aug_match("/big/*").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge, "{e}");
    assert!(
        e.to_string().starts_with("aug_match: /big/*: the answer ("),
        "{e}"
    );
    assert!(
        e.to_string().ends_with(
            "bytes) is larger than the 64 MiB a handle accepts from its worker \
             (narrow the path expression)"
        ),
        "{e}"
    );
    // Arguments over the limit are refused before they are sent.
    let e = aug
        .aug_set("/files/etc/hosts/1/canonical", &"x".repeat(65 << 20))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(e.to_string().starts_with("aug_set: the arguments ("), "{e}");
    // The same worker goes on.
    assert_eq!(aug.worker_pid(), Some(pid));
    assert_eq!(aug.aug_rm("/big").unwrap(), 4);
    assert_eq!(
        aug.aug_get("/files/etc/hosts/1/canonical").unwrap(),
        "guest"
    );
}

/// Set in the copy of this test binary that plays the parent process.
const PARENT_ENV: &str = "VMCRAFT_AUG_TEST_PARENT_ROOT";

#[test]
fn the_worker_dies_with_the_process_that_opened_it() {
    if let Ok(root) = std::env::var(PARENT_ENV) {
        // The parent: open a handle, say the worker's pid, wait to be killed.
        let aug = Augeas::init(Path::new(&root), AugFlags::NO_LOAD).unwrap();
        println!("worker {}", aug.worker_pid().unwrap());
        let mut rest = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut rest);
        return;
    }
    if !need_root() {
        return;
    }
    let g = Guest::new("orphan");
    g.write("/etc/hosts", "192.0.2.1 guest\n");
    let mut parent = Command::new(std::env::current_exe().unwrap())
        .args([
            "the_worker_dies_with_the_process_that_opened_it",
            "--exact",
            "--nocapture",
        ])
        .env(PARENT_ENV, &g.root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(parent.stdout.take().unwrap());
    let mut line = String::new();
    let pid: i32 = loop {
        line.clear();
        assert_ne!(out.read_line(&mut line).unwrap(), 0, "no worker pid");
        if let Some(p) = line.trim().strip_prefix("worker ") {
            break p.parse().unwrap();
        }
    };
    // SAFETY: pidfd_open takes a pid and flags; the result is a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    assert!(fd >= 0, "{}", std::io::Error::last_os_error());
    // SAFETY: `fd` was just opened and is owned by nothing else.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    assert!(!is_dead(pid as u32));
    // Stopped, the worker cannot notice that its socket closed: only the
    // parent-death signal (SIGKILL, which ends stopped processes) ends it.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .unwrap();
    parent.kill().unwrap();
    parent.wait().unwrap();
    // Readable once the worker has exited.
    let mut fds = [libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(&pidfd),
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: one valid pollfd; no timeout.
    assert_eq!(unsafe { libc::poll(fds.as_mut_ptr(), 1, -1) }, 1);
    assert!(is_dead(pid as u32));
}
