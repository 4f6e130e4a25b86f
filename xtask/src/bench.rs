//! `cargo xtask bench [--quick]`: VMCraft beside its peers, in one run, written to
//! `BENCHMARKS.md`.
//!
//! xtask itself links no workspace crate (it must build before `setup` has
//! installed libaugeas and friends), so this task prepares and drives:
//!
//! 1. checks for root and the tools (running `setup` when something is missing);
//! 2. builds the driver, the `sidebyside` example of the `vmcraft` crate, and the
//!    `vmcraft` command line when the crate has it, in release mode;
//! 3. builds the archive tree once and caches it under `target/bench/cache`: a
//!    debootstrapped Debian root for the full run, a copy of the host's
//!    `/usr/include/linux` for `--quick` (and as the fallback when debootstrap cannot reach a
//!    mirror, which the report then says);
//! 4. builds (full run) or reuses (`--quick`, only when already cached) a second
//!    debootstrapped Debian 12 root under `target/bench/cache`, with guestfish in it
//!    (`libguestfs-tools`, `linux-image-amd64`, `libguestfs-xfs`): libguestfs cannot
//!    be installed beside this machine's qemu-utils, so the driver runs guestfish
//!    inside that root (it mounts `/proc`, `/dev`, `/sys` there itself and unmounts
//!    them; this task sweeps the root afterwards all the same);
//! 5. for the `python` workload, installs the release wheel into the project's
//!    virtual environment (full run) or uses the module `cargo xtask test`
//!    installed (`--quick`; not measured when there is none), and hands the
//!    driver that interpreter;
//! 6. runs the driver with a fresh work directory under `target/bench/` and a short
//!    private `TMPDIR` (unix socket paths of storage daemons must stay short);
//! 7. whatever the driver's fate, sweeps both directories: anything still mounted
//!    there is unmounted, loop devices backed by files there are detached, storage
//!    daemons serving files there are stopped, and the directories are removed. A
//!    leftover is reported as a failure: the driver should have cleaned it up.
//!
//! The driver exits non-zero only when a workload fails its correctness check (or
//! cannot run); times never fail the run.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{setup, util};

const USAGE: &str =
    "usage: cargo xtask bench [--quick] [--runs N] [--only W1,W2] [--out FILE] [--tree DIR]

Runs every workload through VMCraft and through its peers, alternating, and writes
medians, spreads and ratios to BENCHMARKS.md (--quick: to target/bench/BENCHMARKS-quick.md).

  --quick      small sizes and few runs, for CI (a few minutes)
  --runs N     measured runs per contender (after one warm-up), overriding the defaults
  --only LIST  workloads to run: session,partition,probe,copy,archive,mount,augeas,command,
               inprocess,windows,python
  --out FILE   where to write the report
  --tree DIR   the directory tree for the archive workloads (default: a debootstrapped
               Debian root cached under target/bench/cache; --quick: /usr/include/linux)
";

/// Packages of the guestfish root on top of `minbase`. `perl-openssl-defaults`
/// provides the virtual `perl-openssl-abi-3` that libnet-ssleay-perl (pulled in by
/// libguestfs-tools) needs and that debootstrap cannot resolve by itself.
const GUESTFISH_INCLUDE: &str =
    "libguestfs-tools,linux-image-amd64,libguestfs-xfs,perl-openssl-defaults";

/// Packages the Debian root gets on top of `minbase`: what a small server guest
/// holds (an init, ssh, Python, Perl, a kernel and its modules).
const DEBOOTSTRAP_INCLUDE: &str = "systemd-sysv,udev,openssh-server,python3,perl,locales,man-db,\
vim,less,iproute2,ifupdown,curl,ca-certificates,linux-image-cloud-amd64";

struct Args {
    quick: bool,
    runs: Option<String>,
    only: Option<String>,
    out: Option<PathBuf>,
    tree: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Option<Args>> {
    let mut a = Args {
        quick: false,
        runs: None,
        only: None,
        out: None,
        tree: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .with_context(|| format!("{name} needs a value\n\n{USAGE}"))
        };
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--runs" => {
                let v = value("--runs")?;
                match v.parse::<usize>() {
                    Ok(n) if n > 0 => a.runs = Some(v),
                    _ => bail!("--runs wants a positive number, got `{v}`"),
                }
            }
            "--only" => a.only = Some(value("--only")?),
            "--out" => a.out = Some(PathBuf::from(value("--out")?)),
            "--tree" => a.tree = Some(PathBuf::from(value("--tree")?)),
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(None);
            }
            other => bail!("bench: unknown argument `{other}`\n\n{USAGE}"),
        }
    }
    Ok(Some(a))
}

pub fn run(args: &[String]) -> Result<()> {
    let Some(args) = parse(args)? else {
        return Ok(());
    };
    if !is_root() {
        bail!(
            "bench needs root: it attaches loop devices, mounts filesystems and starts storage daemons"
        );
    }
    if !setup::missing().is_empty() {
        setup::run(&[])?;
    }
    let root = util::root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root.join(t) })
        .unwrap_or_else(|| root.join("target"));
    let bench_dir = target.join("bench");
    let cache = bench_dir.join("cache");
    std::fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;

    // Build the driver (the facade's example) and the command line (its own crate).
    let mut build = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    build.current_dir(&root).args([
        "build",
        "--release",
        "-p",
        "vmcraft",
        "--example",
        "sidebyside",
        "-p",
        "vmcraft-cli",
        "--bin",
        "vmcraft",
    ]);
    util::run(&mut build)?;
    let release = target.join("release");
    let driver = release.join("examples").join("sidebyside");
    let cli = release.join("vmcraft");

    let (tree, tree_label) = match &args.tree {
        Some(t) => (
            t.clone(),
            format!("the tree given with --tree ({})", t.display()),
        ),
        None if args.quick => (quick_tree(&cache)?, quick_label()),
        None => match debian_tree(&cache) {
            Ok(t) => (
                t,
                format!(
                    "a Debian 12 (bookworm) root made by `debootstrap --variant=minbase --include={DEBOOTSTRAP_INCLUDE}`"
                ),
            ),
            Err(e) => {
                eprintln!(
                    "xtask: bench: WARNING: no Debian root ({e:#}); using the host's /usr/include/linux instead"
                );
                (
                    quick_tree(&cache)?,
                    format!("{} (debootstrap failed: {e:#})", quick_label()),
                )
            }
        },
    };

    // guestfish's root: made for a full run, used by --quick only when cached.
    let gf_dir = cache.join("guestfish-bookworm");
    let guestfish_root = if args.quick {
        gf_dir
            .join(".complete")
            .exists()
            .then(|| gf_dir.join("root"))
    } else {
        match guestfish_root(&gf_dir) {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!(
                    "xtask: bench: WARNING: no guestfish root ({e:#}); guestfish is not measured"
                );
                None
            }
        }
    };

    // The Python rows: an interpreter with the module.
    let wants_python = args
        .only
        .as_deref()
        .is_none_or(|o| o.split(',').any(|w| w.trim() == "python"));
    let python = if wants_python {
        match crate::python::for_bench(!args.quick) {
            Ok(p) => Some(p),
            Err(e) if args.quick => {
                eprintln!("xtask: bench: WARNING: the Python rows are not measured: {e:#}");
                None
            }
            Err(e) => return Err(e.context("installing the Python module for its rows")),
        }
    } else {
        None
    };

    let out = match (&args.out, args.quick) {
        (Some(o), _) => o.clone(),
        (None, true) => bench_dir.join("BENCHMARKS-quick.md"),
        (None, false) => root.join("BENCHMARKS.md"),
    };
    let pid = std::process::id();
    let work = bench_dir.join(format!("work-{pid}"));
    let tmp = PathBuf::from(format!("/tmp/vmcraft-bench-{pid}"));
    for d in [&work, &tmp] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }

    let mut cmd = Command::new(&driver);
    cmd.current_dir(&root)
        .env("TMPDIR", &tmp)
        .arg("--work")
        .arg(&work)
        .arg("--tree")
        .arg(&tree)
        .arg("--tree-label")
        .arg(&tree_label)
        .arg("--out")
        .arg(&out);
    if args.quick {
        cmd.arg("--quick");
    }
    if let Some(r) = &args.runs {
        cmd.args(["--runs", r]);
    }
    if let Some(o) = &args.only {
        cmd.args(["--only", o]);
    }
    if cli.is_file() {
        cmd.arg("--cli").arg(&cli);
    }
    if let Some(r) = &guestfish_root {
        cmd.arg("--guestfish-root").arg(r);
    }
    if let Some(p) = &python {
        cmd.arg("--python").arg(p);
    }
    let result = util::run(&mut cmd);

    let mut leftovers = sweep(&[&work, &tmp]);
    if guestfish_root.is_some() {
        leftovers.extend(sweep(&[&gf_dir]));
    }
    for d in [&work, &tmp] {
        if let Err(e) = std::fs::remove_dir_all(d)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!("xtask: bench: could not remove {}: {e}", d.display());
        }
    }
    result.context("a workload failed its correctness check or could not run (see above)")?;
    if !leftovers.is_empty() {
        bail!(
            "the driver left these behind (now cleaned up):\n  {}",
            leftovers.join("\n  ")
        );
    }
    eprintln!("xtask: bench: report written to {}", out.display());
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn quick_label() -> String {
    "a copy of the host's /usr/include/linux".to_string()
}

/// A small tree for `--quick`: the host's kernel headers, copied once.
fn quick_tree(cache: &Path) -> Result<PathBuf> {
    let tree = cache.join("quick-include-linux");
    if tree.join(".complete").exists() {
        return Ok(tree.join("root"));
    }
    let _ = std::fs::remove_dir_all(&tree);
    let root = tree.join("root");
    if !Path::new("/usr/include/linux").is_dir() {
        bail!(
            "there is no /usr/include/linux to make the quick tree from (install linux-libc-dev)"
        );
    }
    let dest = root.join("usr/include");
    std::fs::create_dir_all(&dest)?;
    util::run(
        Command::new("cp")
            .arg("-a")
            .arg("/usr/include/linux")
            .arg(&dest),
    )?;
    std::fs::write(tree.join(".complete"), b"")?;
    Ok(root)
}

/// The debootstrapped Debian root, made once.
fn debian_tree(cache: &Path) -> Result<PathBuf> {
    let dir = cache.join("debian-bookworm");
    let root = dir.join("root");
    if dir.join(".complete").exists() {
        return Ok(root);
    }
    if !util::have_program("debootstrap") {
        bail!("debootstrap is not installed");
    }
    // A half-made root from an interrupted run: nothing may stay mounted in it.
    sweep(&[&dir]);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let mirror = std::env::var("VMCRAFT_BENCH_MIRROR")
        .unwrap_or_else(|_| "http://deb.debian.org/debian".to_string());
    eprintln!(
        "xtask: bench: making the Debian root once (a few minutes): {}",
        root.display()
    );
    let r = util::run(
        Command::new("debootstrap")
            .arg("--variant=minbase")
            .arg(format!("--include={DEBOOTSTRAP_INCLUDE}"))
            .arg("bookworm")
            .arg(&root)
            .arg(&mirror),
    );
    let left = sweep(&[&dir]);
    if !left.is_empty() {
        eprintln!(
            "xtask: bench: debootstrap left mounts behind: {}",
            left.join(", ")
        );
    }
    r?;
    std::fs::write(dir.join(".complete"), b"")?;
    Ok(root)
}

/// The guestfish root, made once: Debian 12 with libguestfs-tools, a kernel for
/// its appliance and the XFS support (the driver builds the appliance on its first
/// launch, before any timed run).
fn guestfish_root(dir: &Path) -> Result<PathBuf> {
    let root = dir.join("root");
    if dir.join(".complete").exists() {
        return Ok(root);
    }
    if !util::have_program("debootstrap") {
        bail!("debootstrap is not installed");
    }
    sweep(&[dir]);
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let mirror = std::env::var("VMCRAFT_BENCH_MIRROR")
        .unwrap_or_else(|_| "http://deb.debian.org/debian".to_string());
    eprintln!(
        "xtask: bench: making the guestfish root once (several minutes): {}",
        root.display()
    );
    let r = util::run(
        Command::new("debootstrap")
            .arg("--variant=minbase")
            .arg(format!("--include={GUESTFISH_INCLUDE}"))
            .arg("bookworm")
            .arg(&root)
            .arg(&mirror),
    );
    let left = sweep(&[dir]);
    if !left.is_empty() {
        eprintln!(
            "xtask: bench: debootstrap left mounts behind: {}",
            left.join(", ")
        );
    }
    r?;
    if !root.join("usr/bin/guestfish").exists() {
        bail!(
            "debootstrap finished but {} has no usr/bin/guestfish",
            root.display()
        );
    }
    std::fs::write(dir.join(".complete"), b"")?;
    Ok(root)
}

/// Unmount, detach and stop everything that lives under `dirs`; return what was
/// found.
fn sweep(dirs: &[&Path]) -> Vec<String> {
    let dirs: Vec<PathBuf> = dirs
        .iter()
        .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf()))
        .collect();
    let under = |p: &str| dirs.iter().any(|d| Path::new(p).starts_with(d));
    let mut found = Vec::new();

    // Storage daemons first: their FUSE exports back loop devices.
    let mut daemons = Vec::new();
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for p in procs.flatten() {
            let Ok(pid) = p.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(p.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let is_daemon = args
                .first()
                .is_some_and(|a| a.ends_with("qemu-storage-daemon"));
            if is_daemon
                && args
                    .iter()
                    .any(|a| dirs.iter().any(|d| a.contains(&*d.to_string_lossy())))
            {
                daemons.push(pid);
            }
        }
    }

    // Loop devices backed by a file under the directories.
    if let Ok(blocks) = std::fs::read_dir("/sys/block") {
        for b in blocks.flatten() {
            let name = b.file_name().to_string_lossy().into_owned();
            if !name.starts_with("loop") {
                continue;
            }
            let Ok(backing) = std::fs::read_to_string(b.path().join("loop/backing_file")) else {
                continue;
            };
            let backing = backing.trim().trim_end_matches(" (deleted)");
            if under(backing) {
                // Whatever is mounted from it goes first.
                unmount_under(&dirs, &mut found, Some(&name));
                let dev = format!("/dev/{name}");
                let _ = Command::new("losetup").args(["-d", &dev]).status();
                found.push(format!("loop device {dev} on {backing}"));
            }
        }
    }
    unmount_under(&dirs, &mut found, None);
    for pid in daemons {
        let _ = Command::new("kill").arg(pid.to_string()).status();
        found.push(format!("qemu-storage-daemon pid {pid}"));
    }
    // Give stopped daemons a moment to drop their FUSE mounts, then make sure.
    if found.iter().any(|f| f.starts_with("qemu-storage-daemon")) {
        std::thread::sleep(std::time::Duration::from_millis(500));
        unmount_under(&dirs, &mut found, None);
    }
    found
}

/// Unmount (lazily, deepest first) everything mounted under `dirs`, or, with
/// `source`, everything mounted from that loop device anywhere.
fn unmount_under(dirs: &[PathBuf], found: &mut Vec<String>, source: Option<&str>) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut targets: Vec<(String, String)> = Vec::new();
    for line in info.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let Some(sep) = f.iter().position(|x| *x == "-") else {
            continue;
        };
        let (Some(mp), Some(src)) = (f.get(4), f.get(sep + 2)) else {
            continue;
        };
        let mp = unescape(mp);
        let hit = match source {
            Some(loopdev) => {
                let s = src.trim_start_matches("/dev/");
                s == loopdev || s.starts_with(&format!("{loopdev}p"))
            }
            None => dirs.iter().any(|d| Path::new(&mp).starts_with(d)),
        };
        if hit {
            targets.push((mp, src.to_string()));
        }
    }
    targets.sort_by_key(|(mp, _)| std::cmp::Reverse(mp.len()));
    for (mp, src) in targets {
        let _ = Command::new("umount").args(["-l", &mp]).status();
        found.push(format!("mount of {src} on {mp}"));
    }
}

/// Undo mountinfo's octal escapes (`\040` for a space).
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
