//! The reaper and the state file on real resources: a live session's state file
//! follows what it holds and the reaper leaves it alone; a dead session whose
//! record names things that are not its own any more (a pid reused by another
//! process, a loop device bound to another file or bound again, a filesystem
//! someone else mounted where its mount was, a lock another process holds) has
//! them skipped and reported, untouched; a session killed while launching, the
//! command line's stray temporary files and directories that only look like
//! sessions'; `vmcraft cleanup` in both output layouts.

mod cli_support;
#[path = "../../vmcraft/tests/leak_support/mod.rs"]
mod leak_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use vmcraft::state::{
    ImageRecord, LoopRecord, MountRecord, MountedAs, ProcessRecord, STATE_FILE, SessionState,
};
use vmcraft::{CleanupKind, Config, MkfsOptions, VMCraft};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

/// A child process killed when dropped (also when the test panics).
struct Proc(Child);

impl Proc {
    /// A process that blocks reading a pipe nobody writes to.
    fn blocked() -> Proc {
        Proc(
            Command::new("sh")
                .args(["-c", "read x"])
                .stdin(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn alive(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loop device made with losetup (no descriptor of ours keeps it), detached
/// when dropped.
struct Losetup(PathBuf);

impl Losetup {
    fn new(file: &Path) -> Losetup {
        let out = cli_support::tool("losetup", &["--find", "--show", file.to_str().unwrap()]);
        Losetup(PathBuf::from(out.trim()))
    }

    fn sys(&self, what: &str) -> String {
        let name = self.0.file_name().unwrap().to_str().unwrap();
        std::fs::read_to_string(format!("/sys/block/{name}/{what}"))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    fn record(&self) -> LoopRecord {
        LoopRecord {
            device: self.0.clone(),
            backing_file: PathBuf::from(self.sys("loop/backing_file")),
            dev: self.sys("dev"),
            diskseq: self.sys("diskseq").parse().ok(),
            purpose: "drive /dev/sda".into(),
        }
    }
}

impl Drop for Losetup {
    fn drop(&mut self) {
        let _ = Command::new("losetup")
            .arg("-d")
            .arg(&self.0)
            .stderr(Stdio::null())
            .status();
    }
}

fn start_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 1..];
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap()
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect()
}

fn own_mount_ns() -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/thread-self/ns/mnt").unwrap().ino()
}

/// The pid of a process that has exited.
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

/// A directory as a dead session's (0700, named after `pid`), with `state` as
/// its state file (its `session_dir` filled in); its path.
fn dead_session(env: &TestEnv, pid: u32, n: u32, state: Option<SessionState>) -> PathBuf {
    let dir = env.path().join(format!("vmcraft-{pid}-{n:08x}"));
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    for sub in ["root", "inspect", "run"] {
        std::fs::create_dir(dir.join(sub)).unwrap();
    }
    if let Some(mut st) = state {
        st.session_dir = dir.clone();
        std::fs::write(
            dir.join(STATE_FILE),
            serde_json::to_vec_pretty(&st).unwrap(),
        )
        .unwrap();
    }
    dir
}

/// A state whose owner is gone (the pid, if still in use, has another start
/// time), in this boot and this mount namespace.
fn dead_owner_state(owner: u32) -> SessionState {
    SessionState {
        version: vmcraft::state::FORMAT_VERSION,
        owner: ProcessRecord {
            pid: owner,
            start_time: 1,
            cmdline: vec!["vmcraft".into()],
            role: "owner".into(),
        },
        boot_id: std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .unwrap()
            .trim()
            .to_string(),
        mount_namespace: Some(own_mount_ns()),
        ..Default::default()
    }
}

fn is_mounted(path: &Path) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == path.to_str())
}

#[test]
fn a_live_sessions_state_follows_it_and_the_reaper_leaves_it_alone() {
    if !require_root("loop devices and mounts")
        || !require_tool("qemu-storage-daemon")
        || !require_tool("fusefat")
        || !require_tool("mkfs.vfat")
    {
        return;
    }
    let env = TestEnv::new("rp-live");
    let img = env.path().join("disk.qcow2");
    cli_support::tool(
        "qemu-img",
        &["create", "-q", "-f", "qcow2", img.to_str().unwrap(), "256M"],
    );
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.part_init("/dev/sda", "mbr").unwrap();
    g.part_add("/dev/sda", "p", 2048, 262143).unwrap();
    g.part_add("/dev/sda", "p", 262144, -2048).unwrap();
    g.mkfs("ext4", "/dev/sda1", &MkfsOptions::default())
        .unwrap();
    g.mkfs("vfat", "/dev/sda2", &MkfsOptions::default())
        .unwrap();
    g.mount("/dev/sda1", "/").unwrap();
    g.mkdir("/boot").unwrap();
    g.mount("/dev/sda2", "/boot").unwrap();

    let dirs: Vec<PathBuf> = std::fs::read_dir(env.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            vmcraft::state::session_dir_pid(p.file_name().unwrap().to_str().unwrap()).is_some()
        })
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let dir = &dirs[0];
    let mode = std::fs::metadata(dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    let st = SessionState::read(dir).unwrap();
    let me = std::process::id();
    assert_eq!(st.owner.pid, me);
    assert_eq!(st.owner.start_time, start_time(me));
    assert_eq!(&st.session_dir, dir);
    assert_eq!(st.mount_namespace, Some(own_mount_ns()));
    // The mounts, in mount order, with what the kernel shows for them.
    let root = g.mountpoint_host_path("/").unwrap();
    let boot = g.mountpoint_host_path("/boot").unwrap();
    assert_eq!(
        st.mounts
            .iter()
            .map(|m| m.host_path.clone())
            .collect::<Vec<_>>(),
        [root.clone(), boot.clone()]
    );
    let m0 = st.mounts[0].mounted.as_ref().unwrap();
    assert_eq!(m0.fstype, "ext4");
    assert_eq!(st.mounts[0].device, "/dev/sda1");
    let m1 = st.mounts[1].mounted.as_ref().unwrap();
    assert_eq!(m1.fstype, "fuse.fusefat");
    assert_eq!(st.mounts[1].fuse_driver.as_deref(), Some("fusefat"));
    // The FUSE driver, a live process with the recorded start time and argv.
    assert_eq!(st.fuse_drivers.len(), 1);
    let f = &st.fuse_drivers[0];
    assert_eq!(f.start_time, start_time(f.pid));
    assert_eq!(f.cmdline, cmdline(f.pid));
    assert!(f.cmdline.iter().any(|a| Path::new(a) == boot));
    // The drive: qemu-storage-daemon with its export, a loop device on it.
    assert_eq!(st.images.len(), 1);
    let i = &st.images[0];
    assert_eq!(i.backend, "storage-daemon");
    assert_eq!(i.image, img.canonicalize().unwrap());
    let d = i.daemon.as_ref().unwrap();
    assert_eq!(d.start_time, start_time(d.pid));
    assert!(d.cmdline[0].ends_with("qemu-storage-daemon"));
    assert!(i.export.as_ref().unwrap().starts_with(dir.join("run")));
    assert_eq!(st.loops.len(), 1);
    assert_eq!(st.loops[0].device, i.device);
    assert!(st.loops[0].diskseq.is_some());

    // The reaper leaves it alone, from here and from the command line.
    let before = std::fs::read(dir.join(STATE_FILE)).unwrap();
    let report = vmcraft::cleanup_stale_sessions(Some(env.path())).unwrap();
    assert_eq!(report.live, std::slice::from_ref(dir));
    assert!(report.is_empty(), "{report:#?}");
    let out = cli_support::command(&env, &["cleanup"]).output().unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    assert!(is_mounted(&root) && is_mounted(&boot));
    assert_eq!(std::fs::read(dir.join(STATE_FILE)).unwrap(), before);
    g.write("/boot/still", b"works").unwrap();

    // Unmounting /boot takes its mount and its driver out of the record.
    g.umount("/boot").unwrap();
    let st = SessionState::read(dir).unwrap();
    assert_eq!(st.mounts.len(), 1);
    assert!(st.fuse_drivers.is_empty());
    assert!(
        std::fs::metadata(format!("/proc/{}", f.pid)).is_err(),
        "the FUSE driver is gone"
    );
    g.shutdown().unwrap();
    assert!(!dir.exists(), "state file and directory removed");
    drop(g);
    assert!(leak_support::all_leaks(&env).is_empty());
}

#[test]
fn what_is_no_longer_the_dead_sessions_is_skipped_and_reported() {
    if !require_root("loop devices and mounts") || !require_tool("losetup") {
        return;
    }
    let env = TestEnv::new("rp-foreign");
    let a = env.sparse_image("a.img", 16 << 20);
    let b = env.sparse_image("b.img", 16 << 20);
    // A process that has a recorded pid now (another start time), and one with
    // the recorded start time but another command line.
    let mut reused = Proc::blocked();
    let mut other_cmd = Proc::blocked();
    // A loop device now bound to another file; one bound again to the same file.
    let lo_a = Losetup::new(&a);
    let mut moved = lo_a.record();
    moved.backing_file = b.clone();
    let lo_b = Losetup::new(&b);
    let mut rebound = lo_b.record();
    rebound.diskseq = rebound.diskseq.map(|s| s - 1);
    // A lock file someone holds, and one nobody holds.
    let held_path = env.path().join("held.lock");
    let free_path = env.path().join("free.lock");
    let held = nix::fcntl::Flock::lock(
        std::fs::File::create(&held_path).unwrap(),
        nix::fcntl::FlockArg::LockExclusiveNonblock,
    )
    .unwrap();
    std::fs::write(&free_path, b"").unwrap();

    let mut st = dead_owner_state(dead_pid());
    st.fuse_drivers.push(ProcessRecord {
        pid: reused.pid(),
        start_time: start_time(reused.pid()) + 7,
        cmdline: cmdline(reused.pid()),
        role: "fuse:x".into(),
    });
    st.images.push(ImageRecord {
        drive: "/dev/sda".into(),
        image: a.clone(),
        backend: "storage-daemon".into(),
        device: lo_a.0.clone(),
        daemon: Some(ProcessRecord {
            pid: other_cmd.pid(),
            start_time: start_time(other_cmd.pid()),
            cmdline: vec!["qemu-storage-daemon".into(), "--export".into()],
            role: "qemu-storage-daemon".into(),
        }),
        ..Default::default()
    });
    st.loops = vec![moved, rebound];
    st.lock_files = vec![held_path.clone(), free_path.clone()];
    let dir = dead_session(&env, 4242, 1, Some(st.clone()));
    // Someone else's filesystem where the session's root was, and a record of a
    // mount outside the session's directory.
    cli_support::tool(
        "mount",
        &["-t", "tmpfs", "tmpfs", dir.join("root").to_str().unwrap()],
    );
    std::fs::write(dir.join("root/theirs"), b"not the session's").unwrap();
    st.mounts = vec![
        MountRecord {
            host_path: dir.join("root"),
            device: "/dev/sda1".into(),
            source: "/dev/loop9p1".into(),
            fstype: "ext4".into(),
            fuse_driver: None,
            mounted: Some(MountedAs {
                dev: "259:9".into(),
                fstype: "ext4".into(),
                source: "/dev/loop9p1".into(),
            }),
        },
        MountRecord {
            host_path: env.path().to_path_buf(),
            device: "/dev/sda2".into(),
            source: "/dev/loop9p2".into(),
            fstype: "ext4".into(),
            fuse_driver: None,
            mounted: None,
        },
    ];
    st.session_dir = dir.clone();
    std::fs::write(dir.join(STATE_FILE), serde_json::to_vec(&st).unwrap()).unwrap();

    let report = vmcraft::cleanup_stale_sessions(Some(env.path())).unwrap();
    assert_eq!(report.sessions.len(), 1, "{report:#?}");
    let s = &report.sessions[0];
    let skipped = |kind: CleanupKind, needle: &str| {
        s.skipped
            .iter()
            .any(|i| i.kind == kind && (i.subject.contains(needle) || i.detail.contains(needle)))
    };
    assert!(
        skipped(CleanupKind::StopProcess, "is now another process"),
        "{s:#?}"
    );
    assert!(
        skipped(CleanupKind::StopProcess, "not the recorded command line"),
        "{s:#?}"
    );
    assert!(skipped(CleanupKind::DetachLoop, "is bound to"), "{s:#?}");
    assert!(skipped(CleanupKind::DetachLoop, "bound again"), "{s:#?}");
    assert!(
        skipped(
            CleanupKind::Unmount,
            "tmpfs from tmpfs is mounted there now"
        ),
        "{s:#?}"
    );
    assert!(
        skipped(CleanupKind::Unmount, "outside the session's directory"),
        "{s:#?}"
    );
    assert!(
        skipped(CleanupKind::RemoveLockFile, "held by a live process"),
        "{s:#?}"
    );
    assert!(skipped(CleanupKind::RemoveDirectory, "root"), "{s:#?}");
    assert!(!s.removed);
    // Undone: only the free lock file.
    assert_eq!(s.undone.len(), 1, "{s:#?}");
    assert_eq!(s.undone[0].kind, CleanupKind::RemoveLockFile);
    assert!(!free_path.exists());
    // Untouched.
    assert!(reused.alive() && other_cmd.alive());
    assert_eq!(lo_a.sys("loop/backing_file"), a.to_str().unwrap());
    assert_eq!(lo_b.sys("loop/backing_file"), b.to_str().unwrap());
    assert!(is_mounted(&dir.join("root")));
    assert_eq!(
        std::fs::read(dir.join("root/theirs")).unwrap(),
        b"not the session's"
    );
    assert!(held_path.exists());
    let lines = report.skipped_lines();
    assert!(
        lines.iter().any(|l| l.starts_with("skipped loop device ")),
        "{lines:?}"
    );

    // Once the foreign mount is gone, a second pass removes the directory.
    cli_support::tool("umount", &[dir.join("root").to_str().unwrap()]);
    drop(held);
    drop((lo_a, lo_b));
    let report = vmcraft::cleanup_stale_sessions(Some(env.path())).unwrap();
    assert!(report.sessions[0].removed, "{report:#?}");
    assert!(!dir.exists());
}

#[test]
fn a_session_killed_while_launching_and_stray_files_are_cleaned_up() {
    let env = TestEnv::new("rp-stray");
    // No state file: its pid (in the name) is gone.
    let dead = dead_session(&env, dead_pid(), 2, None);
    // No state file, pid alive (a session starting right now): left alone.
    let starting = dead_session(&env, std::process::id(), 3, None);
    // Not a private directory: never touched.
    let open = env.path().join("vmcraft-4243-00000004");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("/etc", env.path().join("vmcraft-4244-00000005")).unwrap();
    // The command line's temporary files: its process gone, or alive.
    let gone_tmp = env
        .path()
        .join(format!("vmcraft-cli-{}-00000006", dead_pid()));
    let live_tmp = env
        .path()
        .join(format!("vmcraft-cli-{}-00000007", std::process::id()));
    std::fs::write(&gone_tmp, b"stdin copy").unwrap();
    std::fs::write(&live_tmp, b"stdin copy").unwrap();
    // Not VMCraft's at all.
    let unrelated = env.path().join("vmcraft-lvm-abc");
    std::fs::create_dir(&unrelated).unwrap();
    // Another user's session: not this user's to judge, not even reported.
    let theirs = env.path().join(format!("vmcraft-{}-00000008", dead_pid()));
    let root = vmcraft_block::testing::is_root();
    if root {
        std::fs::create_dir(&theirs).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    }

    let report = vmcraft::cleanup_stale_sessions(Some(env.path())).unwrap();
    assert!(!dead.exists());
    assert_eq!(report.sessions.len(), 1, "{report:#?}");
    assert!(report.sessions[0].removed);
    assert_eq!(report.live, std::slice::from_ref(&starting));
    assert!(starting.join("root").exists());
    assert!(open.exists() && env.path().join("vmcraft-4244-00000005").exists());
    assert!(!gone_tmp.exists() && live_tmp.exists());
    assert!(unrelated.exists());
    let lines = report.lines();
    assert!(
        lines.contains(&format!("removed {}", dead.display())),
        "{lines:?}"
    );
    assert!(
        report
            .skipped_lines()
            .iter()
            .any(|l| l.contains("vmcraft-4243-00000004") && l.contains("mode 755")),
        "{:?}",
        report.skipped_lines()
    );
    if root {
        assert!(theirs.exists());
        let n = theirs.display().to_string();
        assert!(!report.lines().iter().any(|l| l.contains(&n)));
        assert!(!report.skipped_lines().iter().any(|l| l.contains(&n)));
    }
    std::fs::remove_dir_all(&starting).unwrap();
    std::fs::remove_file(&live_tmp).unwrap();
}

/// A dead session with an ext4 on a loop device mounted in its directory, as it
/// would have recorded them.
fn dead_session_with_a_mount(env: &TestEnv, n: u32) -> (PathBuf, Losetup) {
    let img = env.sparse_image(&format!("m{n}.img"), 32 << 20);
    cli_support::tool("mkfs.ext4", &["-q", img.to_str().unwrap()]);
    let lo = Losetup::new(&img);
    let mut st = dead_owner_state(dead_pid());
    let dir = dead_session(env, 5000 + n, n, None);
    let root = dir.join("root");
    cli_support::tool("mount", &[lo.0.to_str().unwrap(), root.to_str().unwrap()]);
    let line = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .find(|l| l.split(' ').nth(4) == root.to_str())
        .unwrap()
        .to_string();
    let dev = line.split(' ').nth(2).unwrap().to_string();
    st.mounts.push(MountRecord {
        host_path: root.clone(),
        device: "/dev/sda".into(),
        source: lo.0.clone(),
        fstype: "ext4".into(),
        fuse_driver: None,
        mounted: Some(MountedAs {
            dev,
            fstype: "ext4".into(),
            source: lo.0.to_string_lossy().into_owned(),
        }),
    });
    st.loops.push(lo.record());
    st.session_dir = dir.clone();
    std::fs::write(dir.join(STATE_FILE), serde_json::to_vec(&st).unwrap()).unwrap();
    (dir, lo)
}

#[test]
fn vmcraft_cleanup_prints_what_it_undid() {
    if !require_root("loop devices and mounts")
        || !require_tool("losetup")
        || !require_tool("mkfs.ext4")
    {
        return;
    }
    let env = TestEnv::new("rp-cli");
    let (dir, lo) = dead_session_with_a_mount(&env, 1);
    let out = cli_support::run(&env, &["cleanup"], "");
    let text = out.ok();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with(&format!("unmounted {}/root (ext4 ", dir.display())),
        "{text}"
    );
    assert!(
        lines[1].starts_with(&format!("detached {} (", lo.0.display())),
        "{text}"
    );
    assert_eq!(lines[2], format!("removed {}", dir.display()));
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    // Detached (another test may have bound the device again since).
    let now = lo.sys("loop/backing_file");
    assert!(now.is_empty() || !now.ends_with("/m1.img"), "{now}");
    std::mem::forget(lo);

    // --json: the whole report.
    let (dir, lo) = dead_session_with_a_mount(&env, 2);
    let out = cli_support::run(&env, &["--json", "cleanup"], "");
    let j: serde_json::Value = serde_json::from_str(out.ok()).unwrap();
    let s = &j["sessions"][0];
    assert_eq!(s["dir"], dir.to_str().unwrap());
    assert_eq!(s["removed"], true);
    let kinds: Vec<&str> = s["undone"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["unmount", "detach-loop", "remove-directory"]);
    assert!(s["skipped"].as_array().unwrap().is_empty());
    std::mem::forget(lo);
    // Nothing more to do.
    let out = cli_support::run(&env, &["cleanup"], "");
    assert_eq!(out.ok(), "");
    assert!(leak_support::all_leaks(&env).is_empty());
}

#[test]
fn a_symlinked_temp_directory_is_recorded_by_its_real_path() {
    let env = TestEnv::new("rp-link");
    let real = env.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = env.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let img = env.sparse_image("raw.img", 1 << 20);
    // A raw image is opened as a file: no root needed for a session directory.
    let g = VMCraft::with_config(Config::builder().tmpdir(&link).build());
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    let name = std::fs::read_dir(&real)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .find(|n| vmcraft::state::session_dir_pid(n.to_str().unwrap()).is_some())
        .unwrap();
    let st = SessionState::read(&real.join(&name)).unwrap();
    assert_eq!(st.session_dir, real.canonicalize().unwrap().join(&name));
    // Found live through the link, and left alone.
    let report = vmcraft::cleanup_stale_sessions(Some(&link)).unwrap();
    assert_eq!(report.live, [link.join(&name)]);
    assert!(report.is_empty());
    drop(g);
    assert!(!real.join(&name).exists());
}
