//! Tier 3: a session SIGKILLed while it holds an attachment. The session is a
//! helper process (this test binary re-executed) that attaches a qcow2 through
//! qemu-storage-daemon, writes to it, says it is ready, and is then killed with
//! SIGKILL, so none of its destructors run. Its qemu-storage-daemon must die
//! with it (the kernel's parent-death signal; it is supervised in the
//! foreground, not daemonized) rather than survive, or spin once its export is
//! gone. What the kernel keeps without a process is what a session reaper
//! (the facade's) undoes: the dead FUSE export mount and the runtime directory;
//! the loop device clears itself once its last user is gone.
//!
//! The same for a session in a private mount namespace of its own (as the
//! command line runs) with a guest filesystem mounted there: its daemon runs in
//! the namespace the session came from, so the kernel's teardown of the private
//! namespace (and of the guest mount) never waits on a daemon that is exiting
//! itself, and nothing is left stuck.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{assert_no_leaks, create_image, privileged, run};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use std::sync::Arc;

use vmcraft_block::testing::{TestEnv, leaks};
use vmcraft_block::{BlockDevice, CommandRunner, SystemRunner};
use vmcraft_nbd::{AttachOptions, Backend, Format, attach, attach_with};

const HELPER_DIR: &str = "VMCRAFT_TEST_HELPER_DIR";

/// Move this thread into a private mount namespace of its own (mounts made
/// there are not seen outside, and the kernel takes them away when the last
/// thread in it ends); a descriptor of the namespace it left.
fn private_namespace() -> std::os::fd::OwnedFd {
    let outer =
        std::os::fd::OwnedFd::from(std::fs::File::open("/proc/thread-self/ns/mnt").unwrap());
    // SAFETY: unshare takes flags; it changes only this thread.
    assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNS) }, 0);
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .unwrap();
    outer
}

/// The runner a session in a private namespace attaches with: its daemons run
/// in the namespace it left.
fn runner_outside(outer: std::os::fd::OwnedFd) -> Arc<dyn CommandRunner> {
    Arc::new(SystemRunner::new().with_daemon_namespace(outer))
}

fn mount_ns_of(pid: &str) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap()
}

/// Run as a helper by `a_session_killed_while_attached_takes_its_daemon_with_it`:
/// attach `disk.qcow2` in the directory it is given, write and flush, write
/// `ready` (daemon pid, device, runtime directory), and wait to be killed.
#[test]
#[ignore = "helper process for a_session_killed_while_attached_takes_its_daemon_with_it"]
fn helper_holds_an_attachment() {
    let Some(dir) = std::env::var_os(HELPER_DIR).map(PathBuf::from) else {
        return;
    };
    let opts = AttachOptions::default()
        .runtime_dir(&dir)
        .backend(Backend::StorageDaemon);
    let private = dir.join("private").exists();
    let mut att = if private {
        attach_with(
            runner_outside(private_namespace()),
            dir.join("disk.qcow2"),
            opts,
        )
        .unwrap()
    } else {
        attach(dir.join("disk.qcow2"), opts).unwrap()
    };
    att.write_at(&[0x5a; 65536], 1 << 20).unwrap();
    att.flush().unwrap();
    if private {
        // A guest filesystem mounted in the private namespace, with writes the
        // session never synced.
        vmcraft_part::part_disk(&att, "gpt").unwrap();
        let p1 = att.refresh_partitions().unwrap()[0].node.clone();
        run(&["mkfs.ext4", "-q", "-F", p1.to_str().unwrap()]);
        let mnt = dir.join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        common::mount(&p1, &mnt, false);
        std::fs::write(mnt.join("unsynced"), vec![0x33; 4 << 20]).unwrap();
    }
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
    killed_session(false);
}

#[test]
fn a_session_killed_in_its_private_namespace_with_a_guest_mount_leaves_nothing_stuck() {
    if !privileged("a killed session") || !vmcraft_block::testing::require_tool("mkfs.ext4") {
        return;
    }
    killed_session(true);
}

/// Attach in a helper session (in a private mount namespace with a guest
/// filesystem mounted, or not), SIGKILL it, and check what is left.
fn killed_session(private: bool) {
    let env = TestEnv::new(if private { "crash-private" } else { "crash" });
    let image = create_image(&env, "disk.qcow2", Format::Qcow2, "64M", "");
    if private {
        std::fs::write(env.path().join("private"), b"").unwrap();
    }
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

    // The daemon runs in this (the outer) namespace either way.
    assert_eq!(mount_ns_of(&pid.to_string()), mount_ns_of("thread-self"));

    session.kill().unwrap();
    // The session's exit tears its private namespace down, unmounting the guest
    // filesystem: that must not wait forever on its daemon.
    let mut reaped = None;
    let gone = vmcraft_block::wait_until("the session to exit", Duration::from_secs(120), || {
        reaped = session.try_wait().unwrap();
        reaped.is_some()
    });
    if gone.is_err() {
        let stack = std::fs::read_to_string(format!("/proc/{}/stack", session.id()));
        panic!("the killed session is stuck: {stack:?}");
    }

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
    if private {
        // The guest filesystem the kernel unmounted as it tore the private
        // namespace down. When the daemon still answered, that unmount flushed
        // it (the unsynced file is there); when the daemon had already been
        // killed (the parent-death signal is tied to a thread, and the session's
        // threads die in any order), its journal holds the rest. Either way it
        // is consistent, and what is there is whole.
        let att = attach(&image, common::opts(&env).readonly(true)).unwrap();
        let p1 = att.partitions()[0].node.clone();
        let out = common::run_status(&["e2fsck", "-fn", p1.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "e2fsck -fn: {} {}",
            out.stdout_str(),
            out.stderr_trimmed()
        );
        let mnt = env.path().join("mnt");
        common::mount(&p1, &mnt, true);
        if let Ok(data) = std::fs::read(mnt.join("unsynced")) {
            assert!(
                data.iter().all(|&b| b == 0x33),
                "the unsynced file is whole"
            );
        }
        common::unmount(&mnt);
        att.detach().unwrap();
    } else {
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
    }
    assert_no_leaks(&env);
}

/// Undo what the killed session left: the dead export mount and the runtime
/// directory.
fn cleanup(export: &Path, runtime: &Path) {
    let _ = nix::mount::umount2(export, nix::mount::MntFlags::MNT_DETACH);
    let _ = std::fs::remove_dir_all(runtime);
}

#[test]
fn a_session_in_a_private_namespace_attaches_through_a_daemon_outside_it() {
    if !privileged("a private mount namespace") {
        return;
    }
    let env = TestEnv::new("outer-daemon");
    let image = create_image(&env, "disk.qcow2", Format::Qcow2, "64M", "");
    let outer_ns = mount_ns_of("thread-self");
    let opts = AttachOptions::default()
        .runtime_dir(env.path())
        .backend(Backend::StorageDaemon);
    let (export, pid) = std::thread::scope(|s| {
        s.spawn(|| {
            let outer = private_namespace();
            let att = attach_with(runner_outside(outer), &image, opts).unwrap();
            let pid = att.daemon_pid().unwrap();
            assert_eq!(mount_ns_of(&pid.to_string()), outer_ns);
            assert_ne!(mount_ns_of("thread-self"), outer_ns);
            // Its export is mounted outside, and reached through /proc/PID/root.
            let backing = att.loop_backing_file().unwrap().to_path_buf();
            assert!(
                backing.starts_with(format!("/proc/{pid}/root/")),
                "{}",
                backing.display()
            );
            let export =
                Path::new("/").join(backing.strip_prefix(format!("/proc/{pid}/root/")).unwrap());
            let outside = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
            assert!(outside.contains(&*export.to_string_lossy()));
            let inside = std::fs::read_to_string("/proc/thread-self/mountinfo").unwrap();
            assert!(!inside.contains(&*export.to_string_lossy()));
            att.check().unwrap();
            att.write_at(&[0x6b; 4096], 8 << 20).unwrap();
            let mut back = [0u8; 4096];
            att.read_at(&mut back, 8 << 20).unwrap();
            assert_eq!(back, [0x6b; 4096]);
            att.detach().unwrap();
            (export, pid)
        })
        .join()
        .unwrap()
    });
    // Stopped, and its export unmounted where it was mounted (here).
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    let here = std::fs::read_to_string("/proc/thread-self/mountinfo").unwrap();
    assert!(!here.contains(&*export.to_string_lossy()));
    common::qemu_img_check(&image, Format::Qcow2);
    assert_no_leaks(&env);
}
