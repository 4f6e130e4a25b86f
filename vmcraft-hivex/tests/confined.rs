//! libhivex runs confined: each open hive's worker process is in a user
//! namespace of its own, `chroot`ed into a private directory holding only its
//! copy of the hive, with no capability, `no_new_privs` and a seccomp filter;
//! it goes away with the handle, and an ordinary user can read hives too. The
//! private copy has no name on disk while the hive is open.

use std::os::unix::fs::PermissionsExt;

use vmcraft_hivex::{Hive, SetValue};

/// `/proc/PID/status`'s value of `field`.
fn status(pid: u32, field: &str) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

#[test]
fn the_worker_is_confined_and_goes_with_the_handle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("SYSTEM");
    vmcraft_hivex::testing::write_blank_hive(&path).unwrap();
    let mut hive = Hive::open(&path, true).unwrap();
    let root = hive.root().unwrap();
    hive.node_set_value(root, &SetValue::dword("Current", 1))
        .unwrap();
    let pid = hive.worker_pid().unwrap();
    assert_ne!(pid, std::process::id());
    assert_eq!(status(pid, "NoNewPrivs"), "1");
    assert_eq!(status(pid, "Seccomp"), "2", "a seccomp filter");
    for caps in ["CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"] {
        assert_eq!(status(pid, caps), "0000000000000000", "{caps}");
    }
    // Its own user namespace, and a root that holds the hive's copy alone.
    let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/user")).unwrap();
    assert_ne!(ns(&pid.to_string()), ns("self"));
    let root_dir = std::fs::read_link(format!("/proc/{pid}/root")).unwrap();
    assert!(
        root_dir.starts_with(std::env::temp_dir())
            && root_dir
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("vmcraft-hivex-"),
        "{root_dir:?}"
    );
    // The copy is named there only while the worker opens it: nothing of the
    // guest's hive is left on disk by a process that gets killed.
    let names: Vec<_> = std::fs::read_dir(&root_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.is_empty(), "{names:?}");
    // Descriptors: the standard three (on /dev/null) and the socket.
    let fds: Vec<_> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(fds.len() <= 5, "{fds:?}");
    for fd in &fds {
        let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap();
        let t = target.to_string_lossy();
        assert!(
            t == "/dev/null" || t.starts_with("socket:") || t.contains("/hive"),
            "fd {fd} -> {t}"
        );
    }
    // The worker's limits.
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("Max open files") && l.contains(" 16 ")),
        "{limits}"
    );
    drop(hive);
    assert!(!alive(pid) || status(pid, "State").starts_with('Z'));
    assert!(!root_dir.exists(), "the private copy is removed");
    // The caller's file was never written (no commit).
    let again = Hive::open(&path, false).unwrap();
    assert!(again.node_values(again.root().unwrap()).unwrap().is_empty());
}

#[test]
fn a_killed_worker_fails_one_call_and_the_handle_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("SYSTEM");
    vmcraft_hivex::testing::write_blank_hive(&path).unwrap();
    let mut hive = Hive::open(&path, true).unwrap();
    let root = hive.root().unwrap();
    let child = hive.node_add_child(root, "ControlSet001").unwrap();
    let pid = hive.worker_pid().unwrap();
    // SAFETY: our own worker process.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    let e = hive.node_name(child).unwrap_err();
    assert_eq!(e.kind(), vmcraft_hivex::ErrorKind::Corrupt);
    assert!(e.to_string().contains("signal 9"), "{e}");
    // A new worker, with the change made before the crash.
    assert_ne!(hive.worker_pid().unwrap(), pid);
    assert_eq!(hive.node_name(child).unwrap(), "ControlSet001");
    assert_eq!(hive.node_children(root).unwrap(), [child]);
}

/// As uid/gid 65534 (no capability at all), in a forked child of the test.
#[test]
fn an_ordinary_user_reads_a_hive() {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Already unprivileged: the other tests show it.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("SYSTEM");
    vmcraft_hivex::testing::write_blank_hive(&path).unwrap();
    {
        let mut h = Hive::open(&path, true).unwrap();
        let root = h.root().unwrap();
        h.node_add_child(root, "Select").unwrap();
        h.commit(None).unwrap();
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    // (The hive opened above readied this process's one-time state, so the
    // forked child does not wait for another thread's.)
    // SAFETY: fork(2); the child drops its privileges, opens the hive (which
    // forks the worker from the child's only thread) and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let code = (|| {
            // SAFETY: the child's own credentials.
            unsafe {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(65534) != 0
                    || libc::setuid(65534) != 0
                {
                    return 2;
                }
            }
            let Ok(h) = Hive::open(&path, false) else {
                return 3;
            };
            let Ok(root) = h.root() else { return 4 };
            match h.node_children(root) {
                Ok(c) if c.len() == 1 && h.node_name(c[0]).ok().as_deref() == Some("Select") => 0,
                _ => 5,
            }
        })();
        // SAFETY: ends the child without the test harness's handlers.
        unsafe { libc::_exit(code) };
    }
    let mut st = 0;
    // SAFETY: our own child.
    unsafe { libc::waitpid(pid, &mut st, 0) };
    assert!(libc::WIFEXITED(st), "status {st}");
    assert_eq!(libc::WEXITSTATUS(st), 0, "the unprivileged reader failed");
}
