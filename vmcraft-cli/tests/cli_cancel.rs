//! Ctrl-C (or `kill`) during a long call of the binary, on real images: SIGINT while
//! `copy-device-to-device` writes into a qcow2 (through qemu-storage-daemon) or
//! `tar-in` extracts a large archive into ext4 cancels the call (no panic, no
//! "thread panicked"), the call's own error is printed, the session shuts down
//! normally and the binary exits 130 (143 for SIGTERM during the tar-in). Nothing is left behind (loop devices, mounts, daemons, the session
//! directory); the qcow2 passes `qemu-img check` and holds exactly a prefix of
//! the source; the ext4 passes `e2fsck -fn` and holds the archive's delayed
//! symlink (no placeholder) and its directory metadata.
//!
//! The signal is sent once the process has read a good part of its input (its
//! `rchar` in `/proc/PID/io`), never after a fixed sleep; the input is large
//! enough that the call is still running then.

mod cli_support;

use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use cli_support::{assert_no_session_left, command, debugfs_cat, e2fsck_clean, run, tool};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};

/// Bytes the process has read so far (all its read calls).
fn rchar(child: &Child) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{}/io", child.id())).unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Start `vmcraft ARGS` with `script` on its standard input (kept open), wait
/// until it has read `threshold` bytes, send `sig`, and return the exit status,
/// standard output and standard error.
fn interrupt_after_reading(
    env: &TestEnv,
    args: &[&str],
    script: &str,
    threshold: u64,
    sig: Signal,
) -> (Option<i32>, String, String) {
    let mut child = command(env, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(script.as_bytes()).unwrap();
    stdin.flush().unwrap();
    // Read its output on threads of their own, so that it never blocks.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).unwrap();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    while rchar(&child) < threshold {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "vmcraft ended ({status}) before the call was under way:\n{}",
                err.join().unwrap()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    kill(Pid::from_raw(child.id() as i32), sig).unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    (status.code(), out.join().unwrap(), err.join().unwrap())
}

#[track_caller]
fn assert_interrupted_cleanly(
    env: &TestEnv,
    sig: Signal,
    code: Option<i32>,
    stdout: &str,
    stderr: &str,
) {
    assert_eq!(
        code,
        Some(128 + sig as i32),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "interrupted by {}: cancelling the running command",
            sig.as_str()
        )),
        "{stderr}"
    );
    // The call returned its own error, printed before the shutdown.
    assert!(
        stderr.contains("vmcraft: error: ") && stderr.contains("cancelled after"),
        "the cancelled call's error is reported:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("internal error"), "{stderr}");
    // The call did not finish: the command after it never ran.
    assert!(!stdout.contains("finished"), "{stdout}");
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
    assert_no_session_left(env);
}

/// A sparse raw image with a 4 KiB non-zero block every MiB (the first at
/// 12 KiB, so nothing takes it for a format's header).
fn dotted(env: &TestEnv, name: &str, size: u64) -> PathBuf {
    let p = env.sparse_image(name, size);
    let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    let block: Vec<u8> = (0..4096u32).map(|i| (i % 253) as u8 + 1).collect();
    for mib in 0..size >> 20 {
        f.write_all_at(&block, (mib << 20) + 12_288).unwrap();
    }
    p
}

/// The offset of the first byte where `a` and `b` differ (their length when
/// none), and whether `b` is all zeros from there on.
fn prefix_then_zeros(a: &Path, b: &Path) -> (u64, bool) {
    const STEP: usize = 16 << 20;
    let (mut fa, mut fb) = (
        std::fs::File::open(a).unwrap(),
        std::fs::File::open(b).unwrap(),
    );
    let len = fa.metadata().unwrap().len();
    assert_eq!(fb.metadata().unwrap().len(), len);
    let (mut ba, mut bb) = (vec![0u8; STEP], vec![0u8; STEP]);
    let zeros = vec![0u8; STEP];
    let mut off = 0u64;
    let mut first_diff = None;
    while off < len {
        let n = STEP.min((len - off) as usize);
        fa.read_exact(&mut ba[..n]).unwrap();
        fb.read_exact(&mut bb[..n]).unwrap();
        match first_diff {
            None if ba[..n] != bb[..n] => {
                let i = (0..n).find(|&i| ba[i] != bb[i]).unwrap();
                first_diff = Some(off + i as u64);
                if bb[i..n] != zeros[i..n] {
                    return (off + i as u64, false);
                }
            }
            Some(_) if bb[..n] != zeros[..n] => return (first_diff.unwrap(), false),
            _ => {}
        }
        off += n as u64;
    }
    (first_diff.unwrap_or(len), true)
}

#[test]
fn sigint_cancels_a_copy_into_a_qcow2() {
    if !require_root("attaching images")
        || !require_tool("qemu-img")
        || !require_tool("qemu-storage-daemon")
    {
        return;
    }
    let sig = Signal::SIGINT;
    let env = TestEnv::new("cli-cancel-copy");
    let size: u64 = 2 << 30;
    let src = dotted(&env, "src.img", size);
    let dest = env.path().join("dest.qcow2");
    tool(
        "qemu-img",
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            dest.to_str().unwrap(),
            &size.to_string(),
        ],
    );
    let (code, stdout, stderr) = interrupt_after_reading(
        &env,
        &[
            "--format=raw",
            "-a",
            src.to_str().unwrap(),
            "--format=qcow2",
            "-a",
            dest.to_str().unwrap(),
        ],
        "run\ncopy-device-to-device /dev/sda /dev/sdb\necho finished\n",
        256 << 20,
        sig,
    );
    assert_interrupted_cleanly(&env, sig, code, &stdout, &stderr);
    // The daemon was stopped cleanly: the qcow2 is consistent.
    tool("qemu-img", &["check", "-q", dest.to_str().unwrap()]);
    // It holds the source's first bytes (at least what had been read when the
    // signal came, less a chunk in flight) and zeros after them.
    let raw = env.path().join("dest.raw");
    tool(
        "qemu-img",
        &[
            "convert",
            "-f",
            "qcow2",
            "-O",
            "raw",
            dest.to_str().unwrap(),
            raw.to_str().unwrap(),
        ],
    );
    let (k, zeros_after) = prefix_then_zeros(&src, &raw);
    assert!(zeros_after, "data past the first difference at {k}");
    assert!(k >= 200 << 20, "only {k} bytes copied");
    assert!(k < size, "the copy ran to the end");
}

/// A host tree for GNU tar: `d` (0750) holding an absolute symlink, 400 small
/// files, then four 128 MiB files (sparse here, zeros in the archive).
fn tarball(env: &TestEnv) -> PathBuf {
    let src = env.path().join("tree");
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", src.join("d/abs")).unwrap();
    std::fs::create_dir(src.join("files")).unwrap();
    for i in 0..400 {
        std::fs::write(
            src.join(format!("files/{i:03}")),
            format!("{i}\n").repeat(100),
        )
        .unwrap();
    }
    std::fs::create_dir(src.join("z-big")).unwrap();
    for i in 1..=4 {
        let f = std::fs::File::create(src.join(format!("z-big/{i}"))).unwrap();
        f.set_len(128 << 20).unwrap();
        f.write_all_at(b"marker", (64 << 20) + i).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(src.join("d"), std::fs::Permissions::from_mode(0o750)).unwrap();
    let out = env.path().join("in.tar");
    tool(
        "tar",
        &[
            "--sort=name",
            "-C",
            src.to_str().unwrap(),
            "-cf",
            out.to_str().unwrap(),
            ".",
        ],
    );
    out
}

#[test]
fn sigint_cancels_a_tar_in_into_ext4() {
    tar_in_interrupted(Signal::SIGINT);
}

#[test]
fn sigterm_cancels_a_tar_in_into_ext4() {
    tar_in_interrupted(Signal::SIGTERM);
}

/// Interrupt a `tar-in` into `/t` of a fresh ext4 with `sig`, inside the big
/// files; `keep` puts a file in `/t` first. The filesystem afterwards (checked
/// clean, `/outside` unchanged), or `None` where this host cannot run it.
fn interrupted_tar_in(label: &str, sig: Signal, keep: bool) -> Option<(TestEnv, PathBuf)> {
    if !require_root("attaching images") || !require_tool("tar") || !require_tool("e2fsck") {
        return None;
    }
    let env = TestEnv::new(label);
    let tar = tarball(&env);
    let img = env.path().join("fs.img");
    run(
        &env,
        &["-N", &format!("{}=fs:ext4:256M", img.display())],
        "",
    )
    .ok();
    let keep = if keep { "touch /t/keep\n" } else { "" };
    // Past the small files, inside the big ones.
    let (code, stdout, stderr) = interrupt_after_reading(
        &env,
        &["-a", img.to_str().unwrap(), "-m", "/dev/sda1"],
        &format!(
            "write /outside \"unchanged\"\nmkdir /t\n{keep}tar-in {} /t\necho finished\n",
            tar.display()
        ),
        64 << 20,
        sig,
    );
    assert_interrupted_cleanly(&env, sig, code, &stdout, &stderr);
    let fs = cli_support::extract_partition(&env, &img, 1);
    e2fsck_clean(&fs);
    assert_eq!(debugfs_cat(&fs, "/outside"), "unchanged");
    Some((env, fs))
}

/// Into a directory with something in it (the two-pass road): what was
/// extracted before the signal stays, finished.
fn tar_in_interrupted(sig: Signal) {
    let Some((_env, fs)) = interrupted_tar_in(&format!("cli-cancel-tar-{}", sig as i32), sig, true)
    else {
        return;
    };
    let stat = |p: &str| {
        tool(
            "debugfs",
            &["-R", &format!("stat {p}"), fs.to_str().unwrap()],
        )
    };
    // The delayed symlink was made: no placeholder.
    let abs = stat("/t/d/abs");
    assert!(abs.contains("Type: symlink"), "{abs}");
    assert!(abs.contains("Fast link dest: \"/etc/shadow\""), "{abs}");
    assert!(stat("/t/d").contains("Mode:  0750"), "{}", stat("/t/d"));
    assert_eq!(debugfs_cat(&fs, "/t/files/399"), "399\n".repeat(100));
    // The last big file was never reached.
    let listing = tool("debugfs", &["-R", "ls -p /t/z-big", fs.to_str().unwrap()]);
    // Lines read /INODE/MODE/UID/GID/NAME/SIZE/.
    let names: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split('/').nth(5))
        .collect();
    assert!(names.contains(&"1") && !names.contains(&"4"), "{listing}");
}

/// Into an empty directory the archive is staged: interrupted, nothing of it
/// stays (no stage either), the directory is as it was.
#[test]
fn sigint_cancels_a_staged_tar_in_keeping_nothing() {
    let Some((_env, fs)) = interrupted_tar_in("cli-cancel-tar-staged", Signal::SIGINT, false)
    else {
        return;
    };
    let listing = tool("debugfs", &["-R", "ls -p /t", fs.to_str().unwrap()]);
    let names: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split('/').nth(5))
        .filter(|n| *n != "." && *n != "..")
        .collect();
    assert!(names.is_empty(), "{listing}");
}
