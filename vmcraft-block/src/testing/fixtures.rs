//! Fixtures for privileged tests: [`TestEnv`] (a temp directory whose name tags
//! everything made in it), sparse images, [`LoopFixture`], and the leak check that
//! runs when a fixture is dropped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, Result};
use crate::loopdev::{LoopDevice, LoopOptions, bound_in};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A per-test scratch directory. Its name (the *tag*,
/// `vmcraft-test-<label>-<pid>-<n>`) is part of every image path, mount point and
/// daemon argument made under it, so the leak check can find what this test made
/// and nothing else.
///
/// On drop it first undoes what it can find (mounts under it, loop devices on its
/// files, processes naming it), then, unless the test is already panicking, fails
/// if there was anything to undo: a test must clean up after itself.
///
/// ```no_run
/// use vmcraft_block::testing::TestEnv;
/// let env = TestEnv::new("copy");
/// let img = env.sparse_image("disk.img", 64 << 20);
/// assert!(img.starts_with(env.path()));
/// ```
#[derive(Debug)]
pub struct TestEnv {
    dir: tempfile::TempDir,
    tag: String,
}

impl TestEnv {
    /// A fresh tagged directory under the system temp directory.
    pub fn new(label: &str) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tag = format!("vmcraft-test-{label}-{}-{n}", std::process::id());
        let dir = tempfile::Builder::new()
            .prefix(&format!("{tag}-"))
            .tempdir()
            .expect("create test directory");
        let tag = dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        TestEnv { dir, tag }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The tag every leak is recognised by.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// Create a sparse file of `size` bytes in the directory.
    pub fn sparse_image(&self, name: &str, size: u64) -> PathBuf {
        let path = self.dir.path().join(name);
        let f = std::fs::File::create(&path).expect("create image");
        f.set_len(size).expect("size image");
        path
    }

    /// Bind `image` to a loop device (read-write, partition scan on).
    pub fn loop_device(&self, image: &Path) -> LoopDevice {
        LoopDevice::attach(image, LoopOptions::default()).expect("attach loop device")
    }
}

/// What is left on the host that names `tag`: mounts, loop devices, processes.
///
/// # Panics
///
/// When the host cannot be looked at (mountinfo, the loop device listing or
/// `/proc` unreadable): a check that cannot look must not pass. Use [`try_leaks`]
/// to handle that case.
pub fn leaks(tag: &str) -> Vec<String> {
    try_leaks(tag).unwrap_or_else(|e| panic!("leak check for {tag} could not look: {e}"))
}

/// [`leaks`], with a failure to look at the host returned as an error.
///
/// ```no_run
/// let left = vmcraft_block::testing::try_leaks("vmcraft-test-x-1-0")?;
/// assert!(left.is_empty(), "{left:?}");
/// # Ok::<(), vmcraft_block::Error>(())
/// ```
pub fn try_leaks(tag: &str) -> Result<Vec<String>> {
    leaks_in(tag, &HostView::REAL)
}

/// Where the leak check looks; the real host, or a copy of its layout in tests.
struct HostView<'a> {
    mountinfo: &'a str,
    sys_block: &'a str,
    proc: &'a str,
}

impl HostView<'static> {
    const REAL: HostView<'static> = HostView {
        mountinfo: "/proc/self/mountinfo",
        sys_block: "/sys/block",
        proc: "/proc",
    };
}

const LEAKS: &str = "leaks";

fn leaks_in(tag: &str, host: &HostView<'_>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mounts = std::fs::read_to_string(host.mountinfo)
        .map_err(|e| Error::io(LEAKS, host.mountinfo, "read", e))?;
    for line in mounts.lines().filter(|l| l.contains(tag)) {
        let mp = line.split(' ').nth(4).unwrap_or(line);
        out.push(format!("mount {}", unescape_mount(mp)));
    }
    for (dev, backing) in bound_in(Path::new(host.sys_block)).map_err(|e| e.with_call(LEAKS))? {
        if backing.to_string_lossy().contains(tag) {
            out.push(format!(
                "loop device {} on {}",
                dev.display(),
                backing.display()
            ));
        }
    }
    let me = std::process::id();
    let procs = std::fs::read_dir(host.proc)
        .map_err(|e| Error::io(LEAKS, host.proc, "read directory", e))?;
    for p in procs {
        let p = p.map_err(|e| Error::io(LEAKS, host.proc, "read directory", e))?;
        let Ok(pid) = p.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let cmdline = match std::fs::read(p.path().join("cmdline")) {
            Ok(c) => c,
            // The process ended since the directory was read.
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::ESRCH) =>
            {
                continue;
            }
            Err(e) => {
                let path = p.path().join("cmdline");
                return Err(Error::io(LEAKS, path.display(), "read", e));
            }
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(tag) {
            out.push(format!("process {pid}: {}", cmdline.trim()));
        }
    }
    Ok(out)
}

fn unescape_mount(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\134", "\\")
}

fn clean_up(tag: &str) {
    // Deepest mounts first.
    if let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") {
        let mut mps: Vec<String> = mounts
            .lines()
            .filter(|l| l.contains(tag))
            .filter_map(|l| l.split(' ').nth(4).map(unescape_mount))
            .collect();
        mps.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for mp in mps {
            let _ = nix::mount::umount2(mp.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
    // Best effort: what cannot be listed now was already reported by the caller.
    let left = try_leaks(tag).unwrap_or_default();
    for p in left.iter().filter_map(|l| l.strip_prefix("process ")) {
        if let Some(pid) = p.split(':').next().and_then(|s| s.parse::<i32>().ok()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    for (dev, backing) in bound_in(Path::new("/sys/block")).unwrap_or_default() {
        if backing.to_string_lossy().contains(tag)
            && let Ok(f) = std::fs::File::open(&dev)
        {
            use std::os::unix::io::AsRawFd;
            // SAFETY: LOOP_CLR_FD takes no argument.
            let _ = unsafe { crate::ioctl::loop_clr_fd(f.as_raw_fd()) };
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let left = match try_leaks(&self.tag) {
            Ok(left) if left.is_empty() => return,
            Ok(left) => left,
            Err(e) => {
                // The leak check must fail loudly, not pass without looking.
                clean_up(&self.tag);
                if std::thread::panicking() {
                    eprintln!("leak check for {} could not look: {e}", self.tag);
                    return;
                }
                panic!("leak check for {} could not look: {e}", self.tag);
            }
        };
        clean_up(&self.tag);
        if !std::thread::panicking() {
            panic!(
                "test left behind (now cleaned up):\n  {}",
                left.join("\n  ")
            );
        }
    }
}

/// A sparse image bound to a loop device, for tests that need a real block device.
/// The loop device is detached and the leak check runs on drop, also when the test
/// panics.
///
/// ```no_run
/// use vmcraft_block::{BlockDevice, testing::LoopFixture};
/// let Some(fx) = LoopFixture::new("example", 64 << 20) else { return };
/// assert_eq!(fx.device().node().size().unwrap(), 64 << 20);
/// ```
#[derive(Debug)]
pub struct LoopFixture {
    // Field order is drop order: the device goes before the directory it lives in.
    device: LoopDevice,
    image: PathBuf,
    env: TestEnv,
}

impl LoopFixture {
    /// A loop device on a new sparse image of `size` bytes; `None` after a loud skip
    /// when not root (a failure in strict mode).
    pub fn new(label: &str, size: u64) -> Option<Self> {
        if !super::require_root("a loop device") {
            return None;
        }
        let env = TestEnv::new(label);
        let image = env.sparse_image("disk.img", size);
        let device = env.loop_device(&image);
        Some(LoopFixture { device, image, env })
    }

    /// The loop device.
    pub fn device(&self) -> &LoopDevice {
        &self.device
    }

    /// The device node path, e.g. `/dev/loop3`.
    pub fn path(&self) -> &Path {
        self.device.path()
    }

    /// The image file behind it.
    pub fn image(&self) -> &Path {
        &self.image
    }

    /// The test environment (its directory and tag).
    pub fn env(&self) -> &TestEnv {
        &self.env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real host, but loop devices from `sys_block`.
    fn view(sys_block: &str) -> HostView<'_> {
        HostView {
            sys_block,
            ..HostView::REAL
        }
    }

    #[test]
    fn a_leak_check_that_cannot_list_loop_devices_fails() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("block");
        let missing_s = missing.to_str().unwrap();
        let e = leaks_in("vmcraft-test-none", &view(missing_s)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("leaks: {}: read directory", missing.display())
        );
    }

    #[test]
    fn a_leak_check_that_cannot_read_mounts_or_processes_fails() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nothing");
        let missing_s = missing.to_str().unwrap();
        let host = HostView {
            mountinfo: missing_s,
            ..HostView::REAL
        };
        let e = leaks_in("t", &host).unwrap_err();
        assert_eq!(e.to_string(), format!("leaks: {}: read", missing.display()));
        let host = HostView {
            proc: missing_s,
            ..HostView::REAL
        };
        let e = leaks_in("t", &host).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("leaks: {}: read directory", missing.display())
        );
    }

    #[test]
    fn a_leak_check_finds_a_loop_device_in_a_sysfs_listing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("loop3/loop")).unwrap();
        std::fs::write(
            dir.path().join("loop3/loop/backing_file"),
            "/tmp/vmcraft-test-here-1-0-x/disk.img\n",
        )
        .unwrap();
        let sys = dir.path().to_str().unwrap();
        assert_eq!(
            leaks_in("vmcraft-test-here-1-0-x", &view(sys)).unwrap(),
            ["loop device /dev/loop3 on /tmp/vmcraft-test-here-1-0-x/disk.img"]
        );
    }
}
