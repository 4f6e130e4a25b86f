//! Supervised processes for real: started in the foreground by a thread of their
//! own, stopped (SIGTERM, then SIGKILL after the grace) with everything they
//! left in their process group, their stderr kept for a failed start, and dead
//! with the process that started them even when it is SIGKILLed, whatever thread
//! started them.

mod common;

use std::time::Duration;

use common::{
    helper, helper_marker, kill_9, marker, processes_with, wait_for_process, wait_for_processes,
    wait_gone,
};
use vmcraft_block::supervised::OUTPUT_LIMIT;
use vmcraft_block::{Command, CommandRunner, ErrorKind, ExitStatus, Supervised, SystemRunner};

const GRACE: Duration = Duration::from_secs(30);

#[test]
fn stop_sends_sigterm_and_reaps() {
    let m = marker();
    let mut p = SystemRunner::new()
        .spawn(&Command::new("sleep").arg(&m))
        .unwrap();
    assert!(p.is_alive());
    assert!(p.pidfd().is_some(), "tracked by a pidfd");
    assert_eq!(processes_with(&m), [p.pid()]);
    assert_eq!(p.try_status(), None);
    assert_eq!(p.wait_timeout(Duration::from_millis(20)), None);
    assert_eq!(p.stop(GRACE).unwrap(), ExitStatus::Signal(libc::SIGTERM));
    assert!(!p.is_alive());
    assert!(p.pidfd().is_none());
    assert!(!p.signal(libc::SIGTERM), "nothing is signalled once reaped");
    // Stopping again reports the same ending; the pid is gone.
    assert_eq!(p.stop(GRACE).unwrap(), ExitStatus::Signal(libc::SIGTERM));
    assert!(!std::path::Path::new(&format!("/proc/{}", p.pid())).exists());
}

#[test]
fn a_process_ignoring_sigterm_is_killed_after_the_grace_with_its_group() {
    let m = marker();
    // The shell and its background child both ignore SIGTERM (inherited).
    let script = format!("trap '' TERM; sleep {m} & sleep {m}; wait");
    let mut p = Supervised::spawn(&Command::new("sh").args(["-c", &script])).unwrap();
    let pids = wait_for_processes(&m, 2);
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert_eq!(
        p.stop(Duration::from_millis(100)).unwrap(),
        ExitStatus::Signal(libc::SIGKILL)
    );
    wait_gone(&m);
}

#[test]
fn what_it_forked_in_its_group_goes_with_it_even_when_it_exited_first() {
    let m = marker();
    // The shell exits at once; its background child stays in the group.
    let script = format!("sleep {m} >/dev/null 2>&1 & exit 7");
    let mut p = Supervised::spawn(&Command::new("sh").args(["-c", &script])).unwrap();
    assert_eq!(p.wait_timeout(GRACE), Some(ExitStatus::Code(7)));
    assert!(!p.is_alive());
    assert_eq!(
        wait_for_process(&m).len(),
        1,
        "the stray runs until the stop"
    );
    assert_eq!(p.stop(GRACE).unwrap(), ExitStatus::Code(7));
    wait_gone(&m);
}

#[test]
fn a_failed_start_reports_the_command_its_status_and_stderr() {
    let p = Supervised::spawn(&Command::new("sh").args([
        "-c",
        "echo 'starting'; echo '  qemu: Could not open image: Permission denied  ' >&2; exit 1",
    ]))
    .unwrap();
    assert_eq!(p.wait_timeout(GRACE), Some(ExitStatus::Code(1)));
    let e = p.exit_error();
    assert_eq!(e.kind(), ErrorKind::CommandFailed);
    assert!(e.to_string().starts_with("sh: command `sh -c "), "{e}");
    assert!(
        e.to_string()
            .ends_with("failed with exit status 1: qemu: Could not open image: Permission denied"),
        "{e}"
    );
    let f = e.command_failure().unwrap();
    assert_eq!(f.status, Some(ExitStatus::Code(1)));
    assert_eq!(f.stdout, b"starting\n");
    let out = p.output().unwrap();
    assert_eq!(out.status, ExitStatus::Code(1));
    assert_eq!(out.stdout, b"starting\n");

    // A process killed by a signal says so.
    let p = Supervised::spawn(&Command::new("sh").args(["-c", "kill -9 $$"])).unwrap();
    assert_eq!(p.wait_timeout(GRACE), Some(ExitStatus::Signal(9)));
    assert!(p.exit_error().to_string().contains("failed with signal 9"));

    // One still running is not called failed.
    let m = marker();
    let p = Supervised::spawn(&Command::new("sleep").arg(&m)).unwrap();
    let e = p.exit_error();
    assert!(
        e.to_string()
            .ends_with(&format!("failed: is still running (pid {})", p.pid())),
        "{e}"
    );
    drop(p);
    wait_gone(&m);
}

#[test]
fn output_is_bounded_to_its_last_bytes() {
    let p = Supervised::spawn(&Command::new("sh").args([
        "-c",
        "head -c 300000 /dev/zero | tr '\\000' x; echo END; head -c 100000 /dev/zero | tr '\\000' e >&2; echo LAST >&2",
    ]))
    .unwrap();
    assert_eq!(p.wait_timeout(GRACE), Some(ExitStatus::Code(0)));
    let out = p.stdout();
    assert_eq!(out.len(), OUTPUT_LIMIT);
    assert!(out.ends_with(b"xxxxEND\n"));
    let err = p.stderr_trimmed();
    assert!(
        err.starts_with("[34469 earlier bytes dropped] eee"),
        "{}",
        &err[..60]
    );
    assert!(err.ends_with("eeeLAST"));
}

#[test]
fn dropping_it_stops_it() {
    let m = marker();
    let p = Supervised::spawn(&Command::new("sleep").arg(&m)).unwrap();
    assert_eq!(processes_with(&m), [p.pid()]);
    drop(p);
    assert!(processes_with(&m).is_empty(), "gone when drop returns");
}

#[test]
fn missing_programs_and_bad_commands_are_refused() {
    let e = Supervised::spawn(&Command::new("vmcraft-no-such-daemon")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ToolMissing);
    let e = Supervised::spawn(&Command::new("/nonexistent/qemu-storage-daemon")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ToolMissing);
    assert!(e.to_string().contains("could not be started"), "{e}");
}

/// Whether process `pid` has a SIGKILL pending (sent but not yet acted on).
fn sigkill_pending(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .filter(|l| l.starts_with("SigPnd:") || l.starts_with("ShdPnd:"))
        .any(|l| {
            let mask = u64::from_str_radix(l.split_whitespace().nth(1).unwrap_or("0"), 16).unwrap();
            mask & (1 << (libc::SIGKILL - 1)) != 0
        })
}

#[test]
fn started_from_a_thread_that_ends_it_keeps_running() {
    // The parent-death signal is tied to the thread that forks. A child forked
    // with it by a short-lived thread dies when that thread ends (the control);
    // a supervised process started from the same thread, forked by a thread of
    // its own, does not.
    let control = marker();
    let m = marker();
    let (tid, mut ctl, p) = std::thread::spawn({
        let control = control.clone();
        let m = m.clone();
        move || {
            use std::os::unix::process::CommandExt;
            let mut c = std::process::Command::new("sleep");
            c.arg(&control);
            // SAFETY: prctl is async-signal-safe and allocates nothing.
            unsafe {
                c.pre_exec(|| {
                    libc::prctl(
                        libc::PR_SET_PDEATHSIG,
                        libc::SIGKILL as libc::c_ulong,
                        0,
                        0,
                        0,
                    );
                    Ok(())
                });
            }
            let ctl = c.spawn().unwrap();
            // SAFETY: gettid has no preconditions.
            let tid = unsafe { libc::gettid() };
            let p = Supervised::spawn(&Command::new("sleep").arg(&m)).unwrap();
            (tid, ctl, p)
        }
    })
    .join()
    .unwrap();
    // The control was killed when its thread ended.
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(ctl.wait().unwrap().signal(), Some(libc::SIGKILL));
    // The starting thread is gone from /proc: the kernel has sent every
    // parent-death signal tied to it.
    vmcraft_block::wait_until("the starting thread to be gone", GRACE, || {
        !std::path::Path::new(&format!("/proc/self/task/{tid}")).exists()
    })
    .unwrap();
    assert!(processes_with(&control).is_empty());
    assert!(p.is_alive());
    assert!(!sigkill_pending(p.pid()));
    assert_eq!(processes_with(&m), [p.pid()]);
    drop(p);
    wait_gone(&m);
}

/// Run as a helper by `a_supervised_process_dies_with_its_session`: starts
/// `sleep MARKER` supervised from a thread that ends at once, then waits to be
/// killed.
#[test]
#[ignore = "helper process for a_supervised_process_dies_with_its_session"]
fn helper_supervises_a_process() {
    let Some(m) = helper_marker() else { return };
    let p = std::thread::spawn(move || Supervised::spawn(&Command::new("sleep").arg(&m)).unwrap())
        .join()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3600));
    drop(p);
}

#[test]
fn a_supervised_process_dies_with_its_session() {
    let m = marker();
    let session = helper("helper_supervises_a_process", &m);
    let pids = wait_for_process(&m);
    assert_eq!(pids.len(), 1, "{pids:?}");
    // SIGKILL: nothing in the session runs; the kernel's parent-death signal
    // must take the process with it.
    kill_9(session);
    wait_gone(&m);
}

/// The mount namespace a process (or thread: `thread-self`) is in.
fn mount_ns_of(proc_path: &str) -> std::path::PathBuf {
    std::fs::read_link(format!("{proc_path}/ns/mnt")).unwrap()
}

#[test]
fn a_daemon_can_be_started_in_the_mount_namespace_its_caller_left() {
    if !vmcraft_block::testing::require_root("a private mount namespace") {
        return;
    }
    // This thread moves into a private mount namespace of its own (as the CLI
    // does for its whole process); the process's other threads stay outside.
    let outer =
        std::os::fd::OwnedFd::from(std::fs::File::open("/proc/thread-self/ns/mnt").unwrap());
    let outer_id = mount_ns_of("/proc/thread-self");
    std::thread::spawn(move || {
        // SAFETY: unshare takes flags.
        assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNS) }, 0);
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .unwrap();
        let private = mount_ns_of("/proc/thread-self");
        assert_ne!(private, outer_id);

        let runner = SystemRunner::new().with_daemon_namespace(outer);
        let (m1, m2) = (marker(), marker());
        let mut outside = runner.spawn(&Command::new("sleep").arg(&m1)).unwrap();
        let mut inside = Supervised::spawn(&Command::new("sleep").arg(&m2)).unwrap();
        // The daemon runs in the namespace the caller left; a plain spawn in the
        // caller's (its supervising thread inherits the caller's namespace).
        assert_eq!(mount_ns_of(&format!("/proc/{}", outside.pid())), outer_id);
        assert_eq!(mount_ns_of(&format!("/proc/{}", inside.pid())), private);
        // Commands run to completion stay in the caller's namespace.
        let out = runner
            .run(&Command::new("readlink").arg("/proc/self/ns/mnt"))
            .unwrap();
        assert_eq!(out.stdout_str().trim(), private.to_str().unwrap());
        outside.stop(GRACE).unwrap();
        inside.stop(GRACE).unwrap();
    })
    .join()
    .unwrap();
}
