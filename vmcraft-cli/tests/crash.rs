//! Fault injection: a session killed with SIGKILL at each point of its life
//! (after attach; after mounting two filesystems, one through FUSE; during a long
//! tar-in; during a copy; while an LVM command runs), through the real `vmcraft`
//! binary and through a child process using the library (this test binary run
//! again, told by `VMCRAFT_CRASH_CHILD` what to do). The kill waits for a marker
//! (a line the session prints, the bytes it has written, the lvm2 process it
//! started), never for a fixed time.
//!
//! Afterwards nothing may be left (the facade-level leak check: mounts in every
//! mount namespace, loop devices, FUSE, qemu and lvm2 processes, session
//! directories and state files): for the command line, without any cleanup
//! where the kernel and the supervised children take care of it, otherwise after
//! `vmcraft cleanup`; for the library child, after `vmcraft::cleanup_stale_sessions`
//! run from this process. An image opened read-write passes `qemu-img check` and
//! its filesystems `e2fsck -fn` (after the journal replay the next mount would
//! do) and `fsck.vfat -n`; an image opened read-only is byte-identical.

mod cli_support;
#[path = "../../vmcraft/tests/leak_support/mod.rs"]
mod leak_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cli_support::{sha256, tool};
use leak_support::{all_leaks, settle, settle_but_files};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

/// The child's instructions: the scenario's name.
const CHILD: &str = "VMCRAFT_CRASH_CHILD";
/// The child's test directory.
const CHILD_DIR: &str = "VMCRAFT_CRASH_DIR";

/// The longest a killed session's leftovers may take to go away by themselves
/// (a hang guard, not a timing assertion).
const SETTLE: Duration = Duration::from_secs(30);

fn have_tools() -> bool {
    require_root("loop devices, mounts, qemu-storage-daemon")
        && require_tool("qemu-img")
        && require_tool("qemu-storage-daemon")
        && require_tool("e2fsck")
}

// ---------------------------------------------------------------- images

/// A 512 MiB qcow2: GPT, partition 1 ext4 (with /boot and a file), partition 2
/// vfat (FUSE through fusefat: the kernel here has no vfat).
fn two_fs_qcow2(env: &TestEnv) -> PathBuf {
    let raw = env.sparse_image("build.raw", 512 << 20);
    cli_support::run(
        env,
        &[
            "-a",
            raw.to_str().unwrap(),
            "run",
            ":",
            "part-init",
            "/dev/sda",
            "gpt",
            ":",
            "part-add",
            "/dev/sda",
            "p",
            "2048",
            "925695",
            ":",
            "part-add",
            "/dev/sda",
            "p",
            "925696",
            "-2048",
            ":",
            "mkfs",
            "ext4",
            "/dev/sda1",
            ":",
            "mkfs",
            "vfat",
            "/dev/sda2",
            ":",
            "mount",
            "/dev/sda1",
            "/",
            ":",
            "mkdir",
            "/boot",
            ":",
            "mkdir",
            "/data",
            ":",
            "write",
            "/before",
            "written before",
        ],
        "",
    )
    .ok();
    let q = env.path().join("disk.qcow2");
    tool(
        "qemu-img",
        &[
            "convert",
            "-O",
            "qcow2",
            raw.to_str().unwrap(),
            q.to_str().unwrap(),
        ],
    );
    std::fs::remove_file(&raw).unwrap();
    q
}

/// A 256 MiB qcow2 holding an LVM physical volume with VG `crashvg`.
fn lvm_qcow2(env: &TestEnv) -> PathBuf {
    let raw = env.sparse_image("build.raw", 256 << 20);
    cli_support::run(
        env,
        &[
            "-a",
            raw.to_str().unwrap(),
            "run",
            ":",
            "pvcreate",
            "/dev/sda",
            ":",
            "vgcreate",
            "crashvg",
            "/dev/sda",
        ],
        "",
    )
    .ok();
    let q = env.path().join("lvm.qcow2");
    tool(
        "qemu-img",
        &[
            "convert",
            "-O",
            "qcow2",
            raw.to_str().unwrap(),
            q.to_str().unwrap(),
        ],
    );
    std::fs::remove_file(&raw).unwrap();
    q
}

/// A gzip tarball of `files` files of 1 MiB each (a repeated, non-zero pattern:
/// cheap to make, no holes when written), written as ustar by hand.
fn big_tarball(env: &TestEnv, files: usize) -> PathBuf {
    let out = env.path().join("big.tar.gz");
    let f = std::fs::File::create(&out).unwrap();
    let mut gz = Command::new("gzip")
        .args(["-1", "-c"])
        .stdin(Stdio::piped())
        .stdout(f)
        .spawn()
        .unwrap();
    let mut w = std::io::BufWriter::new(gz.stdin.take().unwrap());
    let size = 1usize << 20;
    let body: Vec<u8> = (0..size).map(|i| b'a' + (i % 23) as u8).collect();
    for n in 0..files {
        let mut h = [0u8; 512];
        let name = format!("data/file{n:05}");
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        w.write_all(&h).unwrap();
        w.write_all(&body).unwrap();
    }
    w.write_all(&[0u8; 1024]).unwrap();
    drop(w);
    assert!(gz.wait().unwrap().success());
    out
}

/// Partition `n` of a qcow2, as a raw file of its own.
fn qcow2_partition(env: &TestEnv, q: &Path, n: usize) -> PathBuf {
    let raw = env.path().join("check.raw");
    tool(
        "qemu-img",
        &[
            "convert",
            "-O",
            "raw",
            q.to_str().unwrap(),
            raw.to_str().unwrap(),
        ],
    );
    let part = cli_support::extract_partition(env, &raw, n);
    std::fs::remove_file(&raw).unwrap();
    part
}

/// `qemu-img check` passes (no corruption, no leaked clusters).
#[track_caller]
fn qemu_img_check(q: &Path) {
    let o = Command::new("qemu-img")
        .args(["check", q.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "qemu-img check {}: {}\n{}{}",
        q.display(),
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The ext4 filesystem in `part` is consistent: the journal replayed as the next
/// mount would (on this copy), then `e2fsck -fn` finds nothing.
#[track_caller]
fn ext4_consistent(part: &Path) {
    let p = part.to_str().unwrap();
    let replay = Command::new("e2fsck")
        .args(["-E", "journal_only", "-y", p])
        .output()
        .unwrap();
    // 0: nothing to do, 1: the journal was replayed.
    assert!(
        matches!(replay.status.code(), Some(0 | 1)),
        "journal replay: {}\n{}",
        replay.status,
        String::from_utf8_lossy(&replay.stdout)
    );
    if replay.status.code() == Some(1) {
        eprintln!("note: the ext4 journal needed replaying (an unclean unmount)");
    }
    tool("e2fsck", &["-fn", p]);
}

/// The vfat filesystem in `part` passes `fsck.vfat -n`.
#[track_caller]
fn vfat_consistent(part: &Path) {
    if require_tool("fsck.vfat") {
        tool("fsck.vfat", &["-n", part.to_str().unwrap()]);
    }
}

// ---------------------------------------------------------------- running

/// A running session: the process, its standard output as lines, its standard
/// input (kept open so that the command line waits for more).
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    stdin: Option<std::process::ChildStdin>,
    seen: Vec<String>,
}

impl Running {
    fn spawn(mut cmd: Command, input: &str) -> Running {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the session");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
        stdin.flush().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines: rx,
            stdin: Some(stdin),
            seen: Vec::new(),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait for the line `want` (the process must not end first).
    fn wait_line(&mut self, want: &str) {
        loop {
            match self.lines.recv() {
                Ok(l) => {
                    // libtest prints "test NAME ... " before the child's first
                    // line, on the same line.
                    let hit = l.split_whitespace().last() == Some(want);
                    self.seen.push(l);
                    if hit {
                        return;
                    }
                }
                Err(_) => {
                    let mut err = String::new();
                    let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
                    panic!(
                        "the session ended before printing {want:?}\nstdout: {:?}\nstderr: {err}",
                        self.seen
                    );
                }
            }
        }
    }

    /// Poll until `cond` holds (the session must still be running).
    fn wait_for(&mut self, what: &str, mut cond: impl FnMut(u32) -> bool) {
        let mut delay = Duration::from_micros(200);
        loop {
            if cond(self.pid()) {
                return;
            }
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!("the session ended ({st}) before {what}: {:?}", self.seen);
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(20));
        }
    }

    /// SIGKILL, and wait for the process to be gone; the lines it printed.
    fn kill(mut self) -> Vec<String> {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        let st = self.child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&st),
            Some(9),
            "killed by SIGKILL"
        );
        drop(self.stdin.take());
        while let Ok(l) = self.lines.recv() {
            self.seen.push(l);
        }
        self.seen
    }
}

/// `vmcraft ARGS` with `script` on its standard input.
fn cli(env: &TestEnv, args: &[&str], script: &str) -> Running {
    Running::spawn(cli_support::command(env, args), script)
}

/// This test binary, as the library child running `scenario` in `env`.
fn library_child(env: &TestEnv, scenario: &str) -> Running {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "child_process_entry_point",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, scenario)
    .env(CHILD_DIR, env.path())
    .env("TMPDIR", env.path())
    .env_remove("RUST_LOG")
    .current_dir(env.path());
    Running::spawn(cmd, "")
}

/// Bytes the process has read and written through system calls so far.
fn io_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            matches!(k, "rchar" | "wchar").then(|| v.trim().parse::<u64>().ok())?
        })
        .sum()
}

/// Whether `pid` has a child process running `program`.
fn has_child_running(pid: u32, program: &str) -> bool {
    std::fs::read_dir("/proc").is_ok_and(|d| {
        d.flatten().any(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let Some(i) = stat.rfind(')') else {
                return false;
            };
            let ppid = stat[i + 1..].split_whitespace().nth(1);
            ppid == Some(&pid.to_string())
                && std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == program)
        })
    })
}

// ---------------------------------------------------------------- after the kill

/// After the command line was killed: nothing may be left but its session
/// directory (which the kernel cannot remove): its mounts went with its private
/// mount namespace, its daemons (in a namespace of their own, with their FUSE
/// exports) and FUSE drivers died with it, its loop devices were released once
/// unmounted. `vmcraft cleanup` removes the directory; then nothing is left.
fn after_cli_kill(env: &TestEnv) {
    let left = settle_but_files(env, SETTLE);
    let others: Vec<&String> = left
        .iter()
        .filter(|l| !l.starts_with("VMCraft file"))
        .collect();
    assert!(
        others.is_empty(),
        "left behind by the killed command line besides its directory: {others:#?}"
    );
    let out = cli_support::run(env, &["cleanup"], "");
    let undone = out.ok();
    eprintln!("vmcraft cleanup:\n{undone}{}", out.stderr);
    assert!(
        undone.lines().any(|l| l.starts_with("removed ")),
        "the session directory was removed: {undone}"
    );
    assert_only_reused_skipped(&out.stderr.lines().collect::<Vec<_>>());
    let left = settle(env, SETTLE);
    assert!(left.is_empty(), "left behind: {left:#?}");
}

/// Nothing was skipped, except what the session recorded and someone else has
/// taken since (a loop device the kernel released and another test bound, a pid
/// reused): the reaper must leave those alone, and says so.
fn assert_only_reused_skipped<S: AsRef<str>>(skipped: &[S]) {
    for l in skipped {
        let l = l.as_ref();
        assert!(
            l.contains("is bound to")
                || l.contains("was bound again")
                || l.contains("is now another process"),
            "cleanup skipped something: {l}"
        );
    }
}

/// After the library child was killed: the reaper, run from here, undoes what it
/// left; then nothing is left.
fn after_library_kill(env: &TestEnv) {
    let report = vmcraft::cleanup_stale_sessions(Some(env.path())).unwrap();
    eprintln!("reaper:\n  {}", report.lines().join("\n  "));
    assert_eq!(report.sessions.len(), 1, "{report:#?}");
    assert!(report.live.is_empty(), "{report:#?}");
    assert_only_reused_skipped(&report.skipped_lines());
    assert!(report.sessions[0].removed, "{report:#?}");
    let left = settle(env, SETTLE);
    assert!(left.is_empty(), "left behind after the reaper: {left:#?}");
    // A second pass finds nothing.
    assert!(
        vmcraft::cleanup_stale_sessions(Some(env.path()))
            .unwrap()
            .is_empty()
    );
}

/// The two-filesystem image after a read-write session on it died.
fn check_two_fs(env: &TestEnv, q: &Path) {
    qemu_img_check(q);
    let p1 = qcow2_partition(env, q, 1);
    ext4_consistent(&p1);
    assert_eq!(cli_support::debugfs_cat(&p1, "/before"), "written before");
    std::fs::remove_file(&p1).unwrap();
    let p2 = qcow2_partition(env, q, 2);
    vfat_consistent(&p2);
    std::fs::remove_file(&p2).unwrap();
}

// ---------------------------------------------------------------- scenarios

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Via {
    Cli,
    Library,
}

fn after_kill(env: &TestEnv, via: Via) {
    match via {
        Via::Cli => after_cli_kill(env),
        Via::Library => after_library_kill(env),
    }
}

/// Killed once its drives are attached: a qcow2 read-write (qemu-storage-daemon,
/// FUSE export, loop device) and a raw image read-only (loop device).
fn after_attach(via: Via) {
    if !have_tools() {
        return;
    }
    let env = TestEnv::new(&format!("k-att-{via:?}"));
    let q = two_fs_qcow2(&env);
    let base = env.path().join("base.raw");
    std::fs::write(&base, b"raw read-only drive").unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&base)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let base_sum = sha256(&base);
    let run = match via {
        Via::Cli => cli(
            &env,
            &[],
            &format!(
                "add {}\nadd-ro {}\nrun\nblockdev-getro /dev/sdb\necho ready\n",
                q.display(),
                base.display()
            ),
        ),
        Via::Library => library_child(&env, "attach"),
    };
    let mut run = run;
    run.wait_line("ready");
    assert!(!all_leaks(&env).is_empty(), "the session holds something");
    run.kill();
    after_kill(&env, via);
    qemu_img_check(&q);
    assert_eq!(sha256(&base), base_sum, "the read-only image is unchanged");
}

/// Killed with ext4 mounted on / and vfat on /boot through fusefat, both
/// written to.
fn after_two_mounts(via: Via) {
    if !have_tools() || !require_tool("fusefat") {
        return;
    }
    let env = TestEnv::new(&format!("k-mnt-{via:?}"));
    let q = two_fs_qcow2(&env);
    let mut run = match via {
        Via::Cli => cli(
            &env,
            &["-a", q.to_str().unwrap()],
            "run\nmount /dev/sda1 /\nmount /dev/sda2 /boot\nwrite /during ext4\n\
             write /boot/during vfat\necho ready\n",
        ),
        Via::Library => library_child(&env, "mount2"),
    };
    run.wait_line("ready");
    run.kill();
    after_kill(&env, via);
    check_two_fs(&env, &q);
}

/// Killed with an ext4 LV mounted (reached without device-mapper through a loop
/// device over the PV, an "LV window") and written to.
fn with_an_lv_mounted(via: Via) {
    if !have_tools() || !require_tool("lvm") {
        return;
    }
    let env = TestEnv::new(&format!("k-lv-{via:?}"));
    let q = lvm_qcow2(&env);
    let mut run = match via {
        Via::Cli => cli(
            &env,
            &["-a", q.to_str().unwrap()],
            "run\nlvcreate lv0 crashvg 32\nmkfs ext4 /dev/crashvg/lv0\n\
             mount /dev/crashvg/lv0 /\nwrite /f on-the-lv\necho ready\n",
        ),
        Via::Library => library_child(&env, "lv-mounted"),
    };
    run.wait_line("ready");
    run.kill();
    after_kill(&env, via);
    qemu_img_check(&q);
    // The LV is there and its filesystem mounts (its journal replayed if the
    // unmount could not flush).
    let out = cli_support::run(
        &env,
        &[
            "-a",
            q.to_str().unwrap(),
            "run",
            ":",
            "mount",
            "/dev/crashvg/lv0",
            "/",
            ":",
            "ls",
            "/",
        ],
        "",
    );
    assert!(out.ok().contains("lost+found"), "{}", out.stdout);
}

/// Killed with the same two filesystems mounted from the image added read-only
/// (`--ro`: the issue's `vmcraft --ro -a guest.qcow2` case), by the kernel
/// (`--kernel-mounts`: read in-process, nothing would be left to clean up).
fn after_two_read_only_mounts(via: Via) {
    if !have_tools() || !require_tool("fusefat") {
        return;
    }
    let env = TestEnv::new(&format!("k-ro-{via:?}"));
    let q = two_fs_qcow2(&env);
    let sum = sha256(&q);
    let mut run = match via {
        Via::Cli => cli(
            &env,
            &["--ro", "--kernel-mounts", "-a", q.to_str().unwrap()],
            "run\nmount-ro /dev/sda1 /\nmount-ro /dev/sda2 /boot\ncat /before\necho ready\n",
        ),
        Via::Library => library_child(&env, "mount2-ro"),
    };
    run.wait_line("ready");
    let seen = run.kill();
    assert!(
        seen.iter().any(|l| l.ends_with("written before")),
        "{seen:?}"
    );
    after_kill(&env, via);
    assert_eq!(sha256(&q), sum, "the read-only image is byte-identical");
}

/// Killed while a 256 MiB tarball is being unpacked into the ext4.
fn during_tar_in(via: Via) {
    if !have_tools() || !require_tool("gzip") {
        return;
    }
    let env = TestEnv::new(&format!("k-tar-{via:?}"));
    let q = two_fs_qcow2(&env);
    let tgz = big_tarball(&env, 256);
    let mut run = match via {
        Via::Cli => cli(
            &env,
            &["-a", q.to_str().unwrap()],
            &format!(
                "run\nmount /dev/sda1 /\necho go\ntar-in {} /data compress:gzip\necho done\n",
                tgz.display()
            ),
        ),
        Via::Library => library_child(&env, "tar-in"),
    };
    run.wait_line("go");
    let base = io_bytes(run.pid());
    run.wait_for("8 MiB of the tar-in", |pid| {
        io_bytes(pid) > base + (8 << 20)
    });
    let seen = run.kill();
    assert!(
        !seen.iter().any(|l| l.ends_with("done")),
        "the tar-in finished before the kill"
    );
    after_kill(&env, via);
    check_two_fs(&env, &q);
}

/// Killed while a 16 GiB drive is copied onto another.
fn during_copy(via: Via) {
    if !have_tools() {
        return;
    }
    let env = TestEnv::new(&format!("k-cp-{via:?}"));
    let src = env.path().join("src.qcow2");
    tool(
        "qemu-img",
        &["create", "-q", "-f", "qcow2", src.to_str().unwrap(), "16G"],
    );
    let dst = env.path().join("dst.qcow2");
    tool(
        "qemu-img",
        &["create", "-q", "-f", "qcow2", dst.to_str().unwrap(), "16G"],
    );
    let src_sum = sha256(&src);
    let mut run = match via {
        Via::Cli => cli(
            &env,
            &[],
            &format!(
                "add-ro {}\nadd {}\nrun\necho go\ncopy-device-to-device /dev/sda /dev/sdb\necho done\n",
                src.display(),
                dst.display()
            ),
        ),
        Via::Library => library_child(&env, "copy"),
    };
    run.wait_line("go");
    let base = io_bytes(run.pid());
    run.wait_for("16 MiB of the copy", |pid| {
        io_bytes(pid) > base + (16 << 20)
    });
    let seen = run.kill();
    assert!(
        !seen.iter().any(|l| l.ends_with("done")),
        "the copy finished before the kill"
    );
    after_kill(&env, via);
    assert_eq!(sha256(&src), src_sum, "the read-only source is unchanged");
    qemu_img_check(&dst);
}

/// Killed while lvm2 runs an lvcreate (metadata-only here).
fn during_lvm(via: Via) {
    if !have_tools() || !require_tool("lvm") {
        return;
    }
    let env = TestEnv::new(&format!("k-lvm-{via:?}"));
    let q = lvm_qcow2(&env);
    let script: String = std::iter::once("run\necho go\n".to_string())
        .chain((0..50).map(|i| format!("lvcreate lv{i} crashvg 4\n")))
        .chain(std::iter::once("echo done\n".to_string()))
        .collect();
    let mut run = match via {
        Via::Cli => cli(&env, &["-a", q.to_str().unwrap()], &script),
        Via::Library => library_child(&env, "lvm"),
    };
    run.wait_line("go");
    run.wait_for("an lvm2 process", |pid| has_child_running(pid, "lvm"));
    run.kill();
    after_kill(&env, via);
    qemu_img_check(&q);
    // The metadata is whole: a new session reads the VG.
    let out = cli_support::run(&env, &["-a", q.to_str().unwrap(), "run", ":", "vgs"], "");
    assert_eq!(out.ok().trim(), "crashvg");
}

#[test]
fn cli_killed_with_an_lv_mounted() {
    with_an_lv_mounted(Via::Cli);
}

#[test]
fn library_killed_with_an_lv_mounted() {
    with_an_lv_mounted(Via::Library);
}

#[test]
fn cli_killed_after_attach() {
    after_attach(Via::Cli);
}

#[test]
fn library_killed_after_attach() {
    after_attach(Via::Library);
}

#[test]
fn cli_killed_with_two_filesystems_mounted_one_through_fuse() {
    after_two_mounts(Via::Cli);
}

#[test]
fn library_killed_with_two_filesystems_mounted_one_through_fuse() {
    after_two_mounts(Via::Library);
}

#[test]
fn cli_killed_with_two_read_only_mounts() {
    after_two_read_only_mounts(Via::Cli);
}

#[test]
fn library_killed_with_two_read_only_mounts() {
    after_two_read_only_mounts(Via::Library);
}

#[test]
fn cli_killed_during_a_long_tar_in() {
    during_tar_in(Via::Cli);
}

#[test]
fn library_killed_during_a_long_tar_in() {
    during_tar_in(Via::Library);
}

#[test]
fn cli_killed_during_a_copy() {
    during_copy(Via::Cli);
}

#[test]
fn library_killed_during_a_copy() {
    during_copy(Via::Library);
}

#[test]
fn cli_killed_while_lvm_runs() {
    during_lvm(Via::Cli);
}

#[test]
fn library_killed_while_lvm_runs() {
    during_lvm(Via::Library);
}

// ---------------------------------------------------------------- the child

fn mark(what: &str) {
    let mut o = std::io::stdout().lock();
    writeln!(o, "{what}").unwrap();
    o.flush().unwrap();
}

/// Not a test: the library child's body, when this binary is run again by the
/// tests above with `VMCRAFT_CRASH_CHILD` set (a plain run returns at once). It
/// prints its markers and then waits to be killed.
#[test]
fn child_process_entry_point() {
    let Ok(scenario) = std::env::var(CHILD) else {
        return;
    };
    let dir = PathBuf::from(std::env::var(CHILD_DIR).unwrap());
    // The read-only scenario is about kernel mounts left by a kill: not in-process.
    let g = vmcraft::VMCraft::with_config(
        vmcraft::Config::builder()
            .tmpdir(&dir)
            .inprocess_reads(scenario != "mount2-ro")
            .build(),
    );
    let q = dir.join("disk.qcow2");
    match scenario.as_str() {
        "attach" => {
            g.add_drive(&q).unwrap();
            g.add_drive_ro(dir.join("base.raw")).unwrap();
            g.launch().unwrap();
            g.blockdev_getro("/dev/sdb").unwrap();
            mark("ready");
        }
        "mount2" => {
            g.add_drive(&q).unwrap();
            g.launch().unwrap();
            g.mount("/dev/sda1", "/").unwrap();
            g.mount("/dev/sda2", "/boot").unwrap();
            g.write("/during", b"ext4").unwrap();
            g.write("/boot/during", b"vfat").unwrap();
            mark("ready");
        }
        "mount2-ro" => {
            g.add_drive_ro(&q).unwrap();
            g.launch().unwrap();
            g.mount_ro("/dev/sda1", "/").unwrap();
            g.mount_ro("/dev/sda2", "/boot").unwrap();
            mark(&g.cat("/before").unwrap());
            mark("ready");
        }
        "lv-mounted" => {
            g.add_drive(dir.join("lvm.qcow2")).unwrap();
            g.launch().unwrap();
            g.lvcreate("lv0", "crashvg", 32).unwrap();
            g.mkfs("ext4", "/dev/crashvg/lv0", &Default::default())
                .unwrap();
            g.mount("/dev/crashvg/lv0", "/").unwrap();
            g.write("/f", b"on-the-lv").unwrap();
            mark("ready");
        }
        "tar-in" => {
            g.add_drive(&q).unwrap();
            g.launch().unwrap();
            g.mount("/dev/sda1", "/").unwrap();
            mark("go");
            g.tar_in(dir.join("big.tar.gz"), "/data", Default::default())
                .unwrap();
            mark("done");
        }
        "copy" => {
            g.add_drive_ro(dir.join("src.qcow2")).unwrap();
            g.add_drive(dir.join("dst.qcow2")).unwrap();
            g.launch().unwrap();
            mark("go");
            g.copy_device_to_device("/dev/sda", "/dev/sdb", &Default::default())
                .unwrap();
            mark("done");
        }
        "lvm" => {
            g.add_drive(dir.join("lvm.qcow2")).unwrap();
            g.launch().unwrap();
            mark("go");
            for i in 0..50 {
                g.lvcreate(&format!("lv{i}"), "crashvg", 4).unwrap();
            }
            mark("done");
        }
        other => panic!("unknown scenario {other}"),
    }
    loop {
        std::thread::park();
    }
}
