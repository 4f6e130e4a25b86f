//! Tier 3: a session SIGKILLed while it holds an attachment. The session is a
//! helper process (this test binary re-executed) that attaches a qcow2 through
//! qemu-storage-daemon, writes to it, says it is ready, and is then killed with
//! SIGKILL, so none of its destructors run. Its qemu-storage-daemon must die
//! with it (the kernel's parent-death signal; it is supervised in the
//! foreground, not daemonized) rather than survive, or spin once its export is
//! gone. What the kernel keeps without a process is what a session reaper
//! (the facade's) undoes: the dead FUSE export mount and the runtime directory;
//! the loop device clears itself once its last user is gone.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{assert_no_leaks, create_image, privileged, run};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use vmcraft_block::BlockDevice;
use vmcraft_block::testing::{TestEnv, leaks};
use vmcraft_nbd::{AttachOptions, Backend, Format, attach};

const HELPER_DIR: &str = "VMCRAFT_TEST_HELPER_DIR";

/// Run as a helper by `a_session_killed_while_attached_takes_its_daemon_with_it`:
/// attach `disk.qcow2` in the directory it is given, write and flush, write
/// `ready` (daemon pid, device, runtime directory), and wait to be killed.
#[test]
#[ignore = "helper process for a_session_killed_while_attached_takes_its_daemon_with_it"]
fn helper_holds_an_attachment() {
    let Some(dir) = std::env::var_os(HELPER_DIR).map(PathBuf::from) else {
        return;
    };
    let att = attach(
        dir.join("disk.qcow2"),
        AttachOptions::default()
            .runtime_dir(&dir)
            .backend(Backend::StorageDaemon),
    )
    .unwrap();
    att.write_at(&[0x5a; 65536], 1 << 20).unwrap();
    att.flush().unwrap();
    let ready = format!(
        "{}\n{}\n{}\n",
        att.daemon_pid().unwrap(),
        att.device().display(),
        att.runtime_dir().unwrap().display()
    );
    std::fs::write(dir.join("ready.tmp"), ready).unwrap();
    std::fs::rename(dir.join("ready.tmp"), dir.join("ready")).unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Whether `pid` is running (present and not a zombie).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, r)| !r.trim_start().starts_with('Z'))
    })
}

#[test]
fn a_session_killed_while_attached_takes_its_daemon_with_it() {
    if !privileged("a killed session") {
        return;
    }
    let env = TestEnv::new("crash");
    let image = create_image(&env, "disk.qcow2", Format::Qcow2, "64M", "");
    // Orphans of the session are reparented to this process, which reaps them:
    // the daemon's end is then seen here, with its status, and leaves no zombie.
    // SAFETY: PR_SET_CHILD_SUBREAPER takes a flag.
    assert_eq!(
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) },
        0
    );
    let mut session = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_holds_an_attachment",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_DIR, env.path())
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ready = env.path().join("ready");
    if let Err(e) = vmcraft_block::wait_for_path(&ready, Duration::from_secs(120)) {
        let _ = session.kill();
        let _ = session.wait();
        panic!("the session never got attached: {e}");
    }
    let text = std::fs::read_to_string(&ready).unwrap();
    let mut lines = text.lines();
    let pid: u32 = lines.next().unwrap().parse().unwrap();
    let device = PathBuf::from(lines.next().unwrap());
    let runtime = PathBuf::from(lines.next().unwrap());
    let export = runtime.join("export");
    assert!(running(pid));
    assert!(
        std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
            .unwrap()
            .contains(env.tag()),
        "pid {pid} is the session's qemu-storage-daemon"
    );

    session.kill().unwrap();
    session.wait().unwrap();

    // The daemon was killed by the kernel (SIGKILL, the parent-death signal) as
    // the session died; it is reaped here and gone from /proc, not spinning.
    let mut status = None;
    let died =
        vmcraft_block::wait_until(
            "the daemon to die",
            Duration::from_secs(60),
            || match waitpid(Pid::from_raw(pid as i32), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => false,
                Ok(s) => {
                    status = Some(s);
                    true
                }
                Err(_) => true,
            },
        );
    if died.is_err() {
        let _ =
            nix::sys::signal::kill(Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(Pid::from_raw(pid as i32), None);
        cleanup(&export, &runtime);
        panic!("qemu-storage-daemon (pid {pid}) outlived its session");
    }
    assert_eq!(
        status,
        Some(WaitStatus::Signaled(
            Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
            false
        ))
    );
    assert!(!Path::new(&format!("/proc/{pid}/stat")).exists());

    // What the kernel keeps: the export's dead FUSE mount (the reaper's to
    // unmount). The loop device let go of the export by itself: nothing held it.
    vmcraft_block::wait_until("the loop device to clear", Duration::from_secs(60), || {
        common::loops_under(env.path()).is_empty()
    })
    .unwrap_or_else(|e| {
        cleanup(&export, &runtime);
        panic!("{e}: {:?} still bound", common::loops_under(env.path()))
    });
    let left = leaks(env.tag());
    assert_eq!(
        left,
        [format!("mount {}", export.display())],
        "{} was {}",
        device.display(),
        "the session's device"
    );
    let err = std::fs::metadata(&export).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOTCONN), "{err}");
    cleanup(&export, &runtime);

    // The image: consistent, with what the session wrote and flushed.
    common::qemu_img_check(&image, Format::Qcow2);
    let out = run(&[
        "qemu-io",
        "-f",
        "qcow2",
        "-r",
        "-c",
        "read -P 0x5a 1M 64k",
        image.to_str().unwrap(),
    ]);
    assert!(!out.contains("Pattern verification failed"), "{out}");
    assert_no_leaks(&env);
}

/// Undo what the killed session left: the dead export mount and the runtime
/// directory.
fn cleanup(export: &Path, runtime: &Path) {
    let _ = nix::mount::umount2(export, nix::mount::MntFlags::MNT_DETACH);
    let _ = std::fs::remove_dir_all(runtime);
}
