//! Helpers shared by the integration tests: qemu-img through the real runner,
//! image hashes, options that keep every runtime file inside the test's tagged
//! directory, and a check that nothing is left behind.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};
use vmcraft_block::{Command, CommandRunner, SystemRunner};
use vmcraft_nbd::{AttachOptions, Format};

/// Root plus qemu-img, qemu-storage-daemon and /dev/fuse: everything the
/// privileged tests need (a loud skip, or a failure in strict mode, otherwise).
pub fn privileged(what: &str) -> bool {
    require_root(what)
        && require_tool("qemu-img")
        && require_tool("qemu-storage-daemon")
        && (Path::new("/dev/fuse").exists()
            || vmcraft_block::testing::skip::skip("/dev/fuse is missing (FUSE exports)"))
}

/// Run a command, panicking with its stderr on failure.
pub fn run(argv: &[&str]) -> String {
    let cmd = Command::new(argv[0]).args(&argv[1..]);
    SystemRunner::new()
        .run(&cmd)
        .unwrap_or_else(|e| panic!("{}", vmcraft_block::error_chain(&e)))
        .stdout_str()
}

/// Run a command and return its output whatever the exit status.
pub fn run_status(argv: &[&str]) -> vmcraft_block::Output {
    let cmd = Command::new(argv[0]).args(&argv[1..]);
    SystemRunner::new()
        .execute(&cmd)
        .unwrap_or_else(|e| panic!("{}", vmcraft_block::error_chain(&e)))
}

/// `qemu-img create -f FORMAT [-o OPTS] PATH SIZE` in the test directory.
pub fn create_image(env: &TestEnv, name: &str, format: Format, size: &str, opts: &str) -> PathBuf {
    let path = env.path().join(name);
    let p = path.to_str().unwrap();
    let mut argv = vec!["qemu-img", "create", "-q", "-f", format.qemu_driver()];
    if !opts.is_empty() {
        argv.extend(["-o", opts]);
    }
    argv.extend([p, size]);
    run(&argv);
    path
}

/// `qemu-img check` on a format that supports it; panics when it is not clean.
pub fn qemu_img_check(image: &Path, format: Format) {
    if !matches!(
        format,
        Format::Qcow2 | Format::Vmdk | Format::Vhdx | Format::Vdi
    ) {
        return;
    }
    let out = run_status(&[
        "qemu-img",
        "check",
        "-f",
        format.qemu_driver(),
        image.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "qemu-img check {} failed: {}{}",
        image.display(),
        out.stdout_str(),
        out.stderr_trimmed()
    );
}

/// SHA-256 of a file, hex (`sha256sum`: fast even in debug builds).
pub fn sha256(path: &Path) -> String {
    let out = run(&["sha256sum", "-b", path.to_str().unwrap()]);
    out.split_whitespace().next().unwrap().to_string()
}

/// Options that keep the daemon's runtime directory under the test directory, so
/// the leak check sees its mounts and processes by the tag.
pub fn opts(env: &TestEnv) -> AttachOptions {
    AttachOptions::default().runtime_dir(env.path())
}

/// Panic if anything tagged with this test's tag is still there.
pub fn assert_no_leaks(env: &TestEnv) {
    let left = leaks(env.tag());
    assert!(left.is_empty(), "left behind: {left:#?}");
}

/// Every loop device bound to a file under `dir`.
pub fn loops_under(dir: &Path) -> Vec<String> {
    vmcraft_block::loopdev::list_loop_devices()
        .into_iter()
        .filter(|(_, b)| b.starts_with(dir))
        .map(|(d, b)| format!("{} -> {}", d.display(), b.display()))
        .collect()
}

/// Mount an ext4 filesystem (`nosuid,nodev`; read-only with `noload` when asked).
pub fn mount(dev: &Path, dir: &Path, readonly: bool) {
    use nix::mount::MsFlags;
    let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    if readonly {
        flags |= MsFlags::MS_RDONLY;
    }
    let data = if readonly { Some("noload") } else { None };
    nix::mount::mount(Some(dev), dir, Some("ext4"), flags, data)
        .unwrap_or_else(|e| panic!("mount {} on {}: {e}", dev.display(), dir.display()));
}

/// Unmount what [`mount`] mounted.
pub fn unmount(dir: &Path) {
    nix::mount::umount2(dir, nix::mount::MntFlags::empty())
        .unwrap_or_else(|e| panic!("umount {}: {e}", dir.display()));
}
