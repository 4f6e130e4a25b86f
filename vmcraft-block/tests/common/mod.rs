//! Helpers for the process tests: unique markers that find a test's processes
//! in `/proc`, and helper processes (the test binary re-executing one of its own
//! ignored tests) that can be SIGKILLed like a session.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The environment variable that tells a helper test it runs as a helper.
pub const HELPER_ENV: &str = "VMCRAFT_TEST_HELPER_MARKER";

/// A `sleep` duration no other process uses: `1000.<pid><n>` seconds. A process
/// running `sleep MARKER` is found by [`processes_with`].
pub fn marker() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "1000.{}{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The pids of live (non-zombie) processes with `word` as one of their
/// arguments.
pub fn processes_with(word: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline.split(|&b| b == 0).any(|a| a == word.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

/// Wait until some process runs with `word` among its arguments; its pids.
pub fn wait_for_process(word: &str) -> Vec<u32> {
    wait_for_processes(word, 1)
}

/// Wait until at least `n` processes run with `word` among their arguments;
/// their pids.
pub fn wait_for_processes(word: &str, n: usize) -> Vec<u32> {
    let mut found = Vec::new();
    vmcraft_block::wait_until(
        &format!("{n} processes running {word}"),
        Duration::from_secs(60),
        || {
            found = processes_with(word);
            found.len() >= n
        },
    )
    .unwrap();
    found
}

/// Wait until no process runs with `word` among its arguments (a killed
/// process takes a moment to go); panics with what is left after 60 s.
pub fn wait_gone(word: &str) {
    let r = vmcraft_block::wait_until(
        &format!("the processes running {word} to go"),
        Duration::from_secs(60),
        || processes_with(word).is_empty(),
    );
    if r.is_err() {
        let left = processes_with(word);
        for &pid in &left {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        panic!("processes running {word} are still there: {left:?}");
    }
}

/// Start this test binary again, running only the ignored test `name`, with
/// `marker` in its environment.
pub fn helper(name: &str, marker: &str) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_ENV, marker)
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// The marker when this process runs as a helper; `None` when run as an
/// ordinary test.
pub fn helper_marker() -> Option<String> {
    std::env::var(HELPER_ENV).ok()
}

/// SIGKILL `child` and reap it.
pub fn kill_9(mut child: std::process::Child) {
    child.kill().unwrap();
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
}
