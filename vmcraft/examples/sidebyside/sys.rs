//! Host helpers for the workloads: untimed commands through VMCraft's
//! `CommandRunner`, byte comparison of files, data generation, tree counts, the
//! janitor that leaves nothing behind, and the machine and tool description for
//! the report.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use vmcraft::block::{Command, CommandRunner, SystemRunner};

/// Run an untimed helper command through the `CommandRunner`; fail unless it exits
/// 0. Returns stdout.
pub fn run(program: &str, args: &[&str]) -> Result<String> {
    run_cmd(Command::new(program).args(args))
}

/// [`run`] with a prepared `Command` (stdin, env).
pub fn run_cmd(cmd: Command) -> Result<String> {
    let out = SystemRunner::new()
        .run(&cmd)
        .map_err(|e| anyhow::anyhow!(vmcraft::block::error_chain(&e)))?;
    Ok(out.stdout_str())
}

/// Run an untimed helper command and return (exit code, stdout, stderr) whatever
/// the exit code.
pub fn run_status(program: &str, args: &[&str]) -> Result<(i32, String, String)> {
    let out = SystemRunner::new()
        .execute(&Command::new(program).args(args))
        .map_err(|e| anyhow::anyhow!(vmcraft::block::error_chain(&e)))?;
    Ok((
        out.status.code().unwrap_or(-1),
        out.stdout_str(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// A fresh sparse file of `size` bytes (any old one removed).
pub fn sparse_file(path: &Path, size: u64) -> Result<()> {
    remove_file(path)?;
    let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    f.set_len(size)?;
    Ok(())
}

/// Write every dirty page of the system to disk, so that what the previous run
/// left behind (its output, the deletion of the one before) is not written during
/// the next run's timed step.
pub fn settle() {
    nix::unistd::sync();
}

/// Remove a file if it exists.
pub fn remove_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// Remove a directory tree if it exists, and make it again, empty.
pub fn fresh_dir(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
    }
    std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))
}

/// Incompressible pseudo-random bytes (xorshift64*), no all-zero block.
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Noise(seed | 1)
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Write a file of `size` bytes with random data in `chunk`-byte extents every
/// `stride` bytes (holes between them), or everywhere when `stride == chunk`.
pub fn data_file(path: &Path, size: u64, chunk: u64, stride: u64, seed: u64) -> Result<()> {
    sparse_file(path, size)?;
    let f = std::fs::OpenOptions::new().write(true).open(path)?;
    let mut noise = Noise::new(seed);
    let mut buf = vec![0u8; chunk as usize];
    let mut off = 0;
    while off < size {
        let n = chunk.min(size - off) as usize;
        noise.fill(&mut buf[..n]);
        f.write_all_at(&buf[..n], off)?;
        off += stride;
    }
    f.sync_all()?;
    Ok(())
}

/// Whether two files hold the same bytes (and have the same length).
pub fn same_bytes(a: &Path, b: &Path) -> Result<()> {
    let (ma, mb) = (std::fs::metadata(a)?, std::fs::metadata(b)?);
    if ma.len() != mb.len() {
        bail!(
            "{} is {} bytes, {} is {} bytes",
            a.display(),
            ma.len(),
            b.display(),
            mb.len()
        );
    }
    let (mut fa, mut fb) = (File::open(a)?, File::open(b)?);
    let mut ba = vec![0u8; 8 << 20];
    let mut bb = vec![0u8; 8 << 20];
    let mut off = 0u64;
    loop {
        let n = read_full(&mut fa, &mut ba)?;
        let m = read_full(&mut fb, &mut bb)?;
        if n != m {
            bail!("short read comparing at byte {off}");
        }
        if n == 0 {
            return Ok(());
        }
        if ba[..n] != bb[..n] {
            let i = ba[..n]
                .iter()
                .zip(&bb[..n])
                .position(|(x, y)| x != y)
                .unwrap_or(0);
            bail!(
                "{} and {} differ at byte {}",
                a.display(),
                b.display(),
                off + i as u64
            );
        }
        off += n as u64;
    }
}

fn read_full(f: &mut File, buf: &mut [u8]) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match f.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// Bytes allocated on disk for a file.
pub fn allocated(path: &Path) -> Result<u64> {
    Ok(std::fs::symlink_metadata(path)?.blocks() * 512)
}

/// Flush a file's data to disk (the copy workloads time every tool up to this).
pub fn fsync(path: &Path) -> Result<()> {
    File::open(path)?
        .sync_all()
        .with_context(|| format!("fsync {}", path.display()))
}

/// Entries of a tree, the root itself included, and the bytes of its regular files.
pub fn tree_stats(root: &Path) -> Result<(u64, u64)> {
    let mut entries = 1;
    let mut bytes = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let e = e?;
            let m = e.metadata()?;
            entries += 1;
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() {
                bytes += m.len();
            }
        }
    }
    Ok((entries, bytes))
}

/// Human-readable bytes.
pub fn fmt_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.2} GiB", b / (1u64 << 30) as f64)
    } else if b >= (1u64 << 20) as f64 {
        format!("{:.1} MiB", b / (1u64 << 20) as f64)
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b} B")
    }
}

/// Write a small shell script and make it executable.
pub fn script(path: &Path, body: &str) -> Result<()> {
    let mut f = File::create(path)?;
    f.write_all(body.as_bytes())?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// Cleans up after the workloads: whatever is mounted under its directories, loop
/// devices backed by files there, and storage daemons serving files there. Swept
/// after every workload (a leftover is a failure of that workload) and on drop, so
/// a panic leaves nothing behind either.
pub struct Janitor {
    dirs: Vec<PathBuf>,
}

impl Janitor {
    pub fn new(dirs: &[&Path]) -> Self {
        Janitor {
            dirs: dirs
                .iter()
                .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf()))
                .collect(),
        }
    }

    fn under(&self, p: &str) -> bool {
        self.dirs.iter().any(|d| Path::new(p).starts_with(d))
    }

    /// Clean up; return what had been left behind.
    pub fn sweep(&self) -> Vec<String> {
        let mut found = Vec::new();
        let daemons = self.daemons();
        for (dev, backing) in self.loops() {
            self.unmount(&mut found, Some(&dev));
            let _ = run("losetup", &["-d", &format!("/dev/{dev}")]);
            found.push(format!("loop device /dev/{dev} on {backing}"));
        }
        self.unmount(&mut found, None);
        for pid in &daemons {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGTERM,
            );
            found.push(format!("qemu-storage-daemon pid {pid}"));
        }
        if !daemons.is_empty() {
            std::thread::sleep(std::time::Duration::from_millis(500));
            self.unmount(&mut found, None);
        }
        found
    }

    fn daemons(&self) -> Vec<i32> {
        let mut out = Vec::new();
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return out;
        };
        for p in procs.flatten() {
            let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(p.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            if args
                .first()
                .is_some_and(|a| a.ends_with("qemu-storage-daemon"))
                && args
                    .iter()
                    .any(|a| self.dirs.iter().any(|d| a.contains(&*d.to_string_lossy())))
            {
                out.push(pid);
            }
        }
        out
    }

    fn loops(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let Ok(blocks) = std::fs::read_dir("/sys/block") else {
            return out;
        };
        for b in blocks.flatten() {
            let name = b.file_name().to_string_lossy().into_owned();
            if !name.starts_with("loop") {
                continue;
            }
            if let Ok(backing) = std::fs::read_to_string(b.path().join("loop/backing_file")) {
                let backing = backing.trim().trim_end_matches(" (deleted)").to_string();
                if self.under(&backing) {
                    out.push((name, backing));
                }
            }
        }
        out
    }

    fn unmount(&self, found: &mut Vec<String>, source: Option<&str>) {
        let mut targets = Vec::new();
        for (mp, src) in mounts() {
            let hit = match source {
                Some(dev) => {
                    let s = src.trim_start_matches("/dev/");
                    s == dev || s.starts_with(&format!("{dev}p"))
                }
                None => self.under(&mp),
            };
            if hit {
                targets.push((mp, src));
            }
        }
        targets.sort_by_key(|(mp, _)| std::cmp::Reverse(mp.len()));
        for (mp, src) in targets {
            let _ = nix::mount::umount2(mp.as_str(), nix::mount::MntFlags::MNT_DETACH);
            found.push(format!("mount of {src} on {mp}"));
        }
    }
}

impl Drop for Janitor {
    fn drop(&mut self) {
        let left = self.sweep();
        if !left.is_empty() {
            eprintln!("sidebyside: cleaned up at exit: {}", left.join("; "));
        }
    }
}

/// (mount point, source) of every mount, from `/proc/self/mountinfo`.
pub fn mounts() -> Vec<(String, String)> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    info.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            let sep = f.iter().position(|x| *x == "-")?;
            Some((unescape(f.get(4)?), f.get(sep + 2)?.to_string()))
        })
        .collect()
}

/// (source, fstype) of the mount at `mp`, if it is a mount point.
pub fn mount_at(mp: &Path) -> Option<(String, String)> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let want = mp.to_string_lossy();
    info.lines().rev().find_map(|line| {
        let f: Vec<&str> = line.split(' ').collect();
        let sep = f.iter().position(|x| *x == "-")?;
        (unescape(f.get(4)?) == want)
            .then(|| Some((f.get(sep + 2)?.to_string(), f.get(sep + 1)?.to_string())))?
    })
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The machine, for the report.
pub fn machine() -> Vec<(String, String)> {
    let mut v = Vec::new();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    v.push(("CPU".into(), format!("{model}, {cores} cores available")));
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    if let Some(kb) = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|x| x.parse::<u64>().ok())
    {
        v.push(("Memory".into(), fmt_bytes(kb * 1024)));
    }
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("PRETTY_NAME="))
                .map(|l| l["PRETTY_NAME=".len()..].trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    v.push(("OS".into(), os));
    let uname = nix::sys::utsname::uname().ok();
    if let Some(u) = uname {
        v.push((
            "Kernel".into(),
            format!(
                "{} {}",
                u.release().to_string_lossy(),
                u.machine().to_string_lossy()
            ),
        ));
    }
    if let Ok(r) = run("rustc", &["-V"]) {
        v.push(("Rust".into(), r.trim().to_string()));
    }
    v
}

/// The filesystem type and device under a path.
pub fn fs_of(path: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return "unknown".into();
    };
    let mut best: Option<(usize, String)> = None;
    for line in info.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let Some(sep) = f.iter().position(|x| *x == "-") else {
            continue;
        };
        let Some(mp) = f.get(4).map(|m| unescape(m)) else {
            continue;
        };
        if path.starts_with(&mp) && best.as_ref().is_none_or(|(l, _)| mp.len() >= *l) {
            let desc = format!(
                "{} on {} ({})",
                f.get(sep + 1).unwrap_or(&"?"),
                f.get(sep + 2).unwrap_or(&"?"),
                mp
            );
            best = Some((mp.len(), desc));
        }
    }
    best.map(|b| b.1).unwrap_or_else(|| "unknown".into())
}

/// Debian package versions of the peers and the tools VMCraft drives.
pub fn tool_versions() -> Vec<(String, String)> {
    const PKGS: &[(&str, &str)] = &[
        ("tar", "GNU tar"),
        ("gzip", "gzip"),
        ("pigz", "pigz"),
        ("xz-utils", "xz"),
        ("zstd", "zstd"),
        ("coreutils", "dd, cp"),
        ("qemu-utils", "qemu-img, qemu-storage-daemon"),
        ("util-linux", "losetup, blkid, mount"),
        ("mount", "mount, umount, losetup"),
        ("gdisk", "sgdisk"),
        ("fdisk", "sfdisk"),
        ("parted", "parted"),
        ("augeas-tools", "augtool"),
        ("libaugeas0", "libaugeas (both sides)"),
        ("e2fsprogs", "mkfs.ext4"),
        ("xfsprogs", "mkfs.xfs"),
        ("btrfs-progs", "mkfs.btrfs"),
        ("dosfstools", "mkfs.vfat"),
        ("ntfs-3g", "mkntfs"),
        ("fusefat", "vfat through FUSE"),
        ("debootstrap", "the Debian tree"),
    ];
    let mut v = Vec::new();
    for (pkg, what) in PKGS {
        let ver = run("dpkg-query", &["-W", "-f=${Version}", pkg])
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        if !ver.is_empty() {
            v.push((format!("{pkg} ({what})"), ver));
        }
    }
    v
}

/// The load average, for the report (other work on the machine skews times).
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
