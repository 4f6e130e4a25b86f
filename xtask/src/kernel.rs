//! `cargo xtask test-kernel`: the full-kernel test tier. The tests that need what
//! this host's kernel lacks (the nbd module, device-mapper, md, the kernel's
//! partition parsers, the vfat driver) run inside a virtual machine booting
//! Debian's stock `linux-image-amd64` kernel under `qemu-system-x86_64` with
//! software emulation (TCG; no KVM is assumed), through virtme-ng (`vng`), which
//! shares the host's root read-only (9p) so the guest runs the host's tools and the
//! test binaries built here.
//!
//! The tier's tests are the integration test binaries named `kernel_tier*`
//! (`CRATE/tests/kernel_tier*.rs`; `-E FILTER`, a nextest filter expression,
//! narrows them down). They are archived
//! with `cargo nextest archive`, and the guest script (see [`GUEST_SCRIPT`])
//! mounts a fresh ext4 scratch disk for the tests' temporary files, loads the
//! modules, runs them with nextest in strict mode and with
//! `VMCRAFT_KERNEL_TIER=1` (a missing kernel feature is then a failure, not a
//! skip), checks that no loop, nbd, dm or md device and no mount is left in the
//! guest, and writes its status and logs to a directory shared read-write. The
//! guest's status is the stage's status.
//!
//! The guest is a production-like host in one more way: virtme-ng's init starts
//! the host's systemd-udevd, so udev probes new partitions, activates LVM volume
//! groups and assembles md arrays as they appear (lvm2's and mdadm's rules), and
//! the tests must live with it. The `kernel-tier` nextest profile retries a
//! failed test twice (a retry is reported as flaky); what a failed try left is
//! cleaned up by its test fixtures, and the guest-wide check still runs at the end.
//!
//! `cargo xtask test` runs these binaries only here; run by hand on a host
//! without the features they skip loudly.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{setup, util};

/// The default selection: every `kernel_tier*` test binary.
const DEFAULT_FILTER: &str = "binary(/^kernel_tier/)";

/// The virtme-ng release setup installs (PyPI).
pub const VIRTME_NG: &str = "virtme-ng==1.42";

/// Guest memory: the tests' images live on the scratch disk, not in memory.
const GUEST_MEMORY: &str = "4G";

/// Host space the tier wants free before it starts: what the tests' images on
/// the scratch disk take at most, with room to spare.
const SCRATCH_NEEDS: u64 = 4 << 30;

/// Below this much free host space the running tier is stopped: qemu has (or is
/// about to have) paused the guest on ENOSPC.
const DISK_FULL: u64 = 256 << 20;

/// How long the whole guest run may take before the VM is killed (a test hung
/// inside the guest; nextest's own timeouts, profile `kernel-tier` in
/// `.config/nextest.toml`, come first).
const GUEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(45 * 60);

/// The script the guest runs: `guest.sh OUT SRC FILTER`.
const GUEST_SCRIPT: &str = r#"#!/bin/sh
# The kernel tier's guest side (written by `cargo xtask test-kernel`).
set -u
OUT=$1; SRC=$2; FILTER=$3
fail() { echo "kernel tier: $*" | tee -a "$OUT/guest.log"; echo 98 > "$OUT/status"; exit 98; }
: > "$OUT/guest.log"
for m in virtio_blk; do modprobe $m 2>/dev/null; done
i=0; while [ ! -b /dev/vda ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
[ -b /dev/vda ] || fail "no scratch disk (/dev/vda)"
S=/tmp/vmcraft-kernel-tier
mkdir -p $S && mount -t ext4 /dev/vda $S || fail "cannot mount the scratch disk"
mkdir -p $S/tmp $S/x
# What the tier is for: modules this kernel has and the host's lacks.
for m in loop fuse nbd dm_mod dm_crypt md_mod raid1 vfat nls_cp437 nls_iso8859_1 nls_ascii; do
    modprobe $m >> "$OUT/guest.log" 2>&1 || fail "modprobe $m failed"
done
uname -r > "$OUT/kernel"
cd "$SRC"
TMPDIR=$S/tmp VMCRAFT_TEST_STRICT=1 VMCRAFT_KERNEL_TIER=1 VMCRAFT_SKIP_LOG=$OUT/skips.log \
RUST_BACKTRACE=1 \
    cargo-nextest nextest run --archive-file "$OUT/tests.tar.zst" --workspace-remap "$SRC" \
    --extract-to $S/x --extract-overwrite -E "$FILTER" --no-fail-fast \
    --profile kernel-tier --failure-output immediate-final > "$OUT/nextest.log" 2>&1
rc=$?
# The tier's own leak check, guest-wide: the tests must have released everything.
left=$( { losetup -a; grep -E '^/dev/(nbd|dm-|md|loop|mapper)| (fuse|fuseblk|fuse\.[^ ]*) ' /proc/mounts; \
    ls /dev/mapper 2>/dev/null | grep -v '^control$'; \
    for d in /sys/block/nbd*; do [ -e "$d/pid" ] && echo "$d connected"; done; \
    grep -E '^md[0-9]' /proc/mdstat; } 2>/dev/null )
if [ -n "$left" ]; then
    echo "kernel tier: left behind in the guest:" >> "$OUT/guest.log"
    echo "$left" >> "$OUT/guest.log"
    [ $rc -eq 0 ] && rc=99
fi
rm -rf $S/x
umount $S
echo $rc > "$OUT/status"
exit $rc
"#;

/// Files removed when dropped (on every way out of a run).
struct RemoveOnDrop(Vec<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// What the tier needs on the host, missing.
pub fn missing_tools() -> Vec<String> {
    let mut m = Vec::new();
    if !util::have_program("qemu-system-x86_64") {
        m.push("qemu-system-x86_64 (qemu-system-x86)".to_string());
    }
    if kernel_image().is_none() {
        m.push("a Debian kernel, /boot/vmlinuz-*-amd64 (linux-image-amd64)".to_string());
    }
    if !virtme_ng_installed() {
        m.push(format!("virtme-ng ({VIRTME_NG}, PyPI)"));
    }
    m
}

/// Whether the pinned virtme-ng is importable by `python3`.
pub fn virtme_ng_installed() -> bool {
    let want = VIRTME_NG.split("==").nth(1).unwrap_or_default();
    Command::new("python3")
        .args(["-c", "import virtme_ng.version as v; print(v.VERSION)"])
        .output()
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == want)
        .unwrap_or(false)
}

/// The newest Debian kernel image under /boot (its modules under /lib/modules).
fn kernel_image() -> Option<PathBuf> {
    let mut images: Vec<(String, PathBuf)> = std::fs::read_dir("/boot")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version = name.strip_prefix("vmlinuz-")?.to_string();
            (version.ends_with("-amd64") && Path::new("/lib/modules").join(&version).is_dir())
                .then(|| (version, e.path()))
        })
        .collect();
    images.sort_by_key(|(v, _)| version_key(v));
    images.pop().map(|(_, p)| p)
}

/// `6.1.0-57-amd64` as numbers, for ordering.
fn version_key(v: &str) -> Vec<u64> {
    v.split(['.', '-']).filter_map(|p| p.parse().ok()).collect()
}

/// The `kernel_tier*` integration tests of the workspace: `(package, test name)`.
fn tier_tests(root: &Path) -> Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let dir = entry?.path();
        let tests = dir.join("tests");
        if !dir.join("Cargo.toml").is_file() || !tests.is_dir() {
            continue;
        }
        let package = dir.file_name().unwrap().to_string_lossy().into_owned();
        for t in std::fs::read_dir(&tests)? {
            let name = t?.file_name().to_string_lossy().into_owned();
            if let Some(test) = name
                .strip_suffix(".rs")
                .filter(|n| n.starts_with("kernel_tier"))
            {
                found.push((package.clone(), test.to_string()));
            }
        }
    }
    found.sort();
    Ok(found)
}

pub fn run(args: &[String]) -> Result<()> {
    let mut filter = DEFAULT_FILTER.to_string();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-E" | "--filter" => {
                filter = it
                    .next()
                    .context("-E needs a nextest filter expression")?
                    .clone()
            }
            other => {
                bail!("test-kernel: unknown argument `{other}` (usage: test-kernel [-E FILTER])")
            }
        }
    }
    if !missing_tools().is_empty() || !setup::missing().is_empty() {
        setup::run(&[])?;
    }
    let missing = missing_tools();
    if !missing.is_empty() {
        bail!("the kernel tier needs: {}", missing.join(", "));
    }
    let kernel = kernel_image().context("no kernel image")?;
    let root = util::root();
    // One directory per run, so that runs can go side by side; its logs stay.
    let dir = root
        .join("target")
        .join("kernel-tier")
        .join(std::process::id().to_string());
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&out)?;

    // The test binaries, built here.
    let mut archive = Command::new("cargo");
    archive
        .args(["nextest", "archive", "--archive-file"])
        .arg(out.join("tests.tar.zst"))
        .current_dir(&root);
    let tests = tier_tests(&root)?;
    if tests.is_empty() {
        bail!("no kernel_tier*.rs integration tests in the workspace");
    }
    for (package, _) in &tests {
        archive.args(["-p", package]);
    }
    for (_, test) in &tests {
        archive.args(["--test", test]);
    }
    util::run(&mut archive)?;

    // A fresh scratch disk for the tests' images (sparse; the guest's /tmp would
    // be memory, and qemu's O_DIRECT needs a real filesystem). It and the
    // archive go on every way out of this function.
    let scratch = dir.join("scratch.img");
    // The scratch disk is sparse: it takes host space as the guest writes. On a
    // full host disk qemu pauses the guest (its default on ENOSPC), which would
    // look like a hang until the deadline; say so up front instead.
    let free = free_bytes(&dir);
    if let Some(free) = free
        && free < SCRATCH_NEEDS
    {
        bail!(
            "the kernel tier needs {} GiB free for its scratch disk on the filesystem \
             of {}; it has {:.1} GiB",
            SCRATCH_NEEDS >> 30,
            dir.display(),
            free as f64 / (1u64 << 30) as f64
        );
    }
    let _cleanup = RemoveOnDrop(vec![scratch.clone(), out.join("tests.tar.zst")]);
    let _ = std::fs::remove_file(&scratch);
    std::fs::File::create(&scratch)?.set_len(32 << 30)?;
    util::run(
        Command::new("mkfs.ext4")
            .args(["-q", "-F", "-E", "nodiscard", "-L", "vmcraft-tier"])
            .arg(&scratch),
    )?;
    let script = dir.join("guest.sh");
    std::fs::write(&script, GUEST_SCRIPT)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;

    let exec = format!(
        "{} {} {} '{}'",
        script.display(),
        out.display(),
        root.display(),
        filter.replace('\'', r"'\''")
    );
    let started = std::time::Instant::now();
    let mut vng = Command::new("python3");
    vng.args(["-m", "virtme_ng.run", "--run"])
        .arg(&kernel)
        .args(["--disable-kvm", "--cpus", "2", "--memory", GUEST_MEMORY])
        .arg("--disk")
        .arg(&scratch)
        .arg("--rwdir")
        .arg(&out)
        .args(["--exec", &exec])
        .current_dir(&root);
    // Its console goes to a file (a pipe nobody reads could block it), and it
    // leads a process group, so that qemu goes with it past the deadline.
    let console = out.join("console.log");
    vng.stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&console)?)
        .stderr(std::fs::File::create(out.join("console.err"))?)
        .process_group(0);
    eprintln!("xtask: $ {}", util::show(&vng));
    let mut vm = vng.spawn().context("could not start virtme-ng")?;
    let vm_status = loop {
        if let Some(status) = vm.try_wait()? {
            break Some(status);
        }
        if free_bytes(&dir).is_some_and(|f| f < DISK_FULL) {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", vm.id())])
                .status();
            let _ = vm.wait();
            bail!(
                "the host disk holding {} is full (under {} MiB free): the guest's \
                 scratch disk cannot grow, so qemu paused the guest; stopped it",
                dir.display(),
                DISK_FULL >> 20
            );
        }
        if started.elapsed() > GUEST_DEADLINE {
            // The whole group: virtme-ng and the qemu it started.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", vm.id())])
                .status();
            let _ = vm.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    };
    let elapsed = started.elapsed();

    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_default();
    eprint!("{}", read("nextest.log"));
    let guest_log = read("guest.log");
    if guest_log.lines().any(|l| l.starts_with("kernel tier:")) {
        eprint!("{guest_log}");
    }
    let status = read("status");
    eprintln!(
        "xtask: kernel tier: {} (TCG), {:.0} s in all; logs in {}",
        read("kernel").trim(),
        elapsed.as_secs_f64(),
        out.display()
    );
    let skips = read("skips.log");
    if !skips.trim().is_empty() {
        eprintln!("xtask: kernel tier: skipped tests:\n{skips}");
    }
    match status.trim() {
        "0" => {
            eprintln!("xtask: kernel tier passed");
            Ok(())
        }
        "" => bail!(
            "the kernel tier's guest never reported ({}); its console:\n{}{}",
            match vm_status {
                Some(s) => format!("virtme-ng {s}"),
                None => format!("killed after {} min", GUEST_DEADLINE.as_secs() / 60),
            },
            read("console.log"),
            read("console.err")
        ),
        s => bail!("the kernel tier failed (guest status {s})"),
    }
}

/// Bytes free for an unprivileged writer on the filesystem holding `path`, as
/// `df` reports them; `None` when `df` cannot say.
fn free_bytes(path: &Path) -> Option<u64> {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)?
        .trim()
        .parse()
        .ok()
}
