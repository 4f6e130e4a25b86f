//! `cargo xtask demo`: VMCraft's main job on an image it makes itself, through the
//! `vmcraft` command line. Installs what is missing (setup), builds the binary,
//! then under `target/demo/`: makes a qcow2 guest with a GPT, a vfat ESP and an
//! ext4 root (plus an LVM volume on `/srv`, reached through device-mapper where
//! the host has it and through a loop device over the PV where it has not; `--no-lvm`
//! leaves it out) and a small `/etc`; inspects it; edits `/etc/fstab` with Augeas;
//! tars `/etc` out and into a second image; copies the ESP to a third; and prints
//! what each step returned and how long it took. Every result is checked; the
//! images are removed at the end (`--keep` keeps them). `--release` builds an
//! optimised binary.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::{setup, util};

const ESP_TYPE: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
const ROOT: &str = "/dev/sda2";

struct Opts {
    release: bool,
    keep: bool,
    lvm: bool,
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        release: false,
        keep: false,
        lvm: true,
    };
    for a in args {
        match a.as_str() {
            "--release" => o.release = true,
            "--keep" => o.keep = true,
            "--no-lvm" => o.lvm = false,
            other => {
                bail!("demo: unknown argument `{other}` (expected --release, --keep, --no-lvm)")
            }
        }
    }
    Ok(o)
}

/// Whether the kernel's device-mapper answers (the node can exist without the
/// driver behind it: opening it then fails).
fn device_mapper() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/mapper/control")
        .is_ok()
}

/// Removes the demo directory on every way out, unless asked to keep it.
struct Workdir {
    path: PathBuf,
    keep: bool,
}

impl Drop for Workdir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// One step of the report.
struct Step {
    what: String,
    took: Duration,
    result: String,
}

struct Demo {
    bin: PathBuf,
    dir: PathBuf,
    steps: Vec<Step>,
}

impl Demo {
    /// Run `vmcraft ARGS` in the demo directory; its standard output, or an error
    /// with its standard error.
    fn vmcraft(&self, args: &[&str]) -> Result<(String, Duration)> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).current_dir(&self.dir).stdin(Stdio::null());
        let start = Instant::now();
        let out = cmd
            .output()
            .with_context(|| format!("could not start {}", self.bin.display()))?;
        let took = start.elapsed();
        if !out.status.success() {
            bail!(
                "`vmcraft {}` failed ({}):\n{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim_end()
            );
        }
        Ok((String::from_utf8_lossy(&out.stdout).into_owned(), took))
    }

    /// Run a script file with `vmcraft ARGS -f SCRIPT`.
    fn script(&self, name: &str, args: &[&str], text: &str) -> Result<(String, Duration)> {
        let path = self.dir.join(name);
        std::fs::write(&path, text)?;
        let mut a = args.to_vec();
        a.extend(["-f", name]);
        self.vmcraft(&a)
    }

    fn record(&mut self, what: &str, took: Duration, result: String) {
        eprintln!("xtask: demo: {what}: {} ({})", result, ms(took));
        self.steps.push(Step {
            what: what.into(),
            took,
            result,
        });
    }
}

fn ms(d: Duration) -> String {
    if d >= Duration::from_secs(10) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| util::root().join("target"))
}

fn build(release: bool) -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut c = Command::new(cargo);
    c.current_dir(util::root())
        .args(["build", "--quiet", "-p", "vmcraft-cli", "--bin", "vmcraft"]);
    if release {
        c.arg("--release");
    }
    util::run(&mut c)?;
    let bin = target_dir()
        .join(if release { "release" } else { "debug" })
        .join("vmcraft");
    ensure!(bin.is_file(), "the build did not produce {}", bin.display());
    Ok(bin)
}

/// Run a host tool; its standard output (it must succeed).
fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("could not start {}", util::show(cmd)))?;
    ensure!(
        out.status.success(),
        "`{}` failed ({})",
        util::show(cmd),
        out.status
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The lines of a command's output.
fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

pub fn run(args: &[String]) -> Result<()> {
    let opts = parse(args)?;
    if !setup::missing().is_empty() {
        setup::run(&[])?;
    }
    if !is_root() {
        bail!("the demo attaches disk images and mounts filesystems: run it as root");
    }
    let bin = build(opts.release)?;
    let dir = target_dir().join("demo");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let work = Workdir {
        path: dir.clone(),
        keep: opts.keep,
    };
    let lvm = opts.lvm && util::have_program("lvm");
    let mut d = Demo {
        bin,
        dir,
        steps: Vec::new(),
    };
    let started = Instant::now();

    // 1. A qcow2 image.
    let t = Instant::now();
    util::run(Command::new("qemu-img").current_dir(&d.dir).args([
        "create",
        "-q",
        "-f",
        "qcow2",
        "guest.qcow2",
        "512M",
    ]))?;
    d.record(
        "make guest.qcow2",
        t.elapsed(),
        "qcow2, 512 MiB virtual, empty".into(),
    );
    let guest = ["--format=qcow2", "-a", "guest.qcow2"];

    // 2. GPT: a 64 MiB ESP, the root, and (with device-mapper) an LVM PV.
    let root_end = if lvm { "657407" } else { "-34" };
    let mut text = format!(
        "run\n\
         part-init /dev/sda gpt\n\
         part-add /dev/sda p 2048 133119\n\
         part-set-gpt-type /dev/sda 1 {ESP_TYPE}\n\
         part-set-name /dev/sda 1 EFI\n\
         part-add /dev/sda p 133120 {root_end}\n\
         part-set-name /dev/sda 2 root\n\
         mkfs vfat /dev/sda1\n\
         mkfs ext4 /dev/sda2 label:root\n"
    );
    if lvm {
        text.push_str(
            "part-add /dev/sda p 657408 -34\n\
             part-set-name /dev/sda 3 lvm\n\
             pvcreate /dev/sda3\n\
             vgcreate demo /dev/sda3\n\
             lvcreate-free srv demo 100\n\
             mkfs ext4 /dev/demo/srv label:srv\n\
             vfs-uuid /dev/demo/srv\n",
        );
    }
    text.push_str("vfs-uuid /dev/sda1\nvfs-uuid /dev/sda2\nlist-filesystems\n");
    let (out, took) = d.script("partition.fish", &guest, &text)?;
    let out = lines(&out);
    let (srv_uuid, rest) = if lvm {
        (Some(out[0]), &out[1..])
    } else {
        (None, &out[..])
    };
    ensure!(
        rest.len() >= 4,
        "unexpected output of the partitioning step: {out:?}"
    );
    let (esp_uuid, root_uuid) = (rest[0], rest[1]);
    let filesystems = rest[2..].join(", ");
    ensure!(
        filesystems.contains("/dev/sda1: vfat") && filesystems.contains("/dev/sda2: ext4"),
        "list-filesystems gave {filesystems}"
    );
    d.record("GPT + mkfs (vfat ESP, ext4 root)", took, filesystems);

    // 3. A small /etc: os-release, hostname, fstab by UUID; a file on the ESP.
    let mut fstab = format!(
        "UUID={root_uuid} / ext4 errors=remount-ro 0 1\\nUUID={esp_uuid} /boot/efi vfat umask=0077 0 1\\n"
    );
    if let Some(u) = srv_uuid {
        let _ = write!(fstab, "UUID={u} /srv ext4 defaults 0 2\\n");
    }
    let mut text = format!(
        "run\n\
         mount {ROOT} /\n\
         mkdir-p /etc\n\
         mkdir-p /boot/efi\n\
         write /etc/os-release \"PRETTY_NAME=\\\"Debian GNU/Linux 12 (bookworm)\\\"\\nNAME=\\\"Debian GNU/Linux\\\"\\nVERSION_ID=\\\"12\\\"\\nVERSION_CODENAME=bookworm\\nID=debian\\n\"\n\
         write /etc/debian_version \"12.8\\n\"\n\
         write /etc/hostname \"demo-guest\\n\"\n\
         write /etc/hosts \"127.0.0.1 localhost\\n127.0.1.1 demo-guest\\n\"\n\
         write /etc/fstab \"{fstab}\"\n\
         mount /dev/sda1 /boot/efi\n\
         mkdir-p /boot/efi/EFI/debian\n\
         write /boot/efi/EFI/debian/grub.cfg \"search --fs-uuid --set=root {root_uuid}\\n\"\n"
    );
    if lvm {
        text.push_str(
            "mkdir /srv\nmount /dev/demo/srv /srv\nwrite /srv/README \"data on LVM\\n\"\n",
        );
    }
    text.push_str("find /etc\n");
    let (out, took) = d.script("etc.fish", &guest, &text)?;
    d.record(
        "write /etc (fstab by UUID) and the ESP",
        took,
        format!("/etc: {}", lines(&out).join(" ")),
    );

    // 4. Inspect, read-only: -i finds the root and mounts it with the ESP.
    let (out, took) = d.vmcraft(&[
        "--ro",
        "--format=qcow2",
        "-a",
        "guest.qcow2",
        "-i",
        "inspect-get-type",
        ROOT,
        ":",
        "inspect-get-distro",
        ROOT,
        ":",
        "inspect-get-major-version",
        ROOT,
        ":",
        "inspect-get-product-name",
        ROOT,
        ":",
        "inspect-get-hostname",
        ROOT,
        ":",
        "mountpoints",
    ])?;
    let o = lines(&out);
    ensure!(
        o.len() >= 6 && o[1] == "debian" && o[4] == "demo-guest",
        "inspection gave {o:?}"
    );
    let mounts: Vec<&str> = o[5..]
        .iter()
        .map(|l| l.rsplit(": ").next().unwrap_or(l))
        .collect();
    d.record(
        "inspect (-i --ro)",
        took,
        format!(
            "{} {} {} \"{}\", hostname {}, mounted {}",
            o[0],
            o[1],
            o[2],
            o[3],
            o[4],
            mounts.join(" ")
        ),
    );

    // 5. Augeas: add noatime to the root's mount options, save, read back.
    let (out, took) = d.vmcraft(&[
        "--format=qcow2",
        "-a",
        "guest.qcow2",
        "-m",
        ROOT,
        "aug-init",
        "/",
        "0",
        ":",
        "aug-insert",
        "/files/etc/fstab/1/opt[last()]",
        "opt",
        "false",
        ":",
        "aug-set",
        "/files/etc/fstab/1/opt[last()]",
        "noatime",
        ":",
        "aug-save",
        ":",
        "aug-match",
        "/files/etc/fstab/*/file",
        ":",
        "read-lines",
        "/etc/fstab",
    ])?;
    let o = lines(&out);
    let root_line = o
        .iter()
        .find(|l| l.contains(" / "))
        .copied()
        .unwrap_or_default();
    ensure!(
        root_line.contains("errors=remount-ro,noatime"),
        "fstab after Augeas: {o:?}"
    );
    d.record(
        "Augeas (-m): noatime on / in /etc/fstab",
        took,
        root_line
            .split_whitespace()
            .take(4)
            .collect::<Vec<_>>()
            .join(" "),
    );

    // 6. tar /etc out (gzip), checked with GNU tar.
    let (_, took) = d.vmcraft(&[
        "--ro",
        "--format=qcow2",
        "-a",
        "guest.qcow2",
        "-m",
        ROOT,
        "tar-out",
        "/etc",
        "etc.tar.gz",
        "compress:gzip",
    ])?;
    let listing = output(
        Command::new("tar")
            .current_dir(&d.dir)
            .args(["-tzf", "etc.tar.gz"]),
    )?;
    let entries = listing.lines().count();
    ensure!(
        listing.lines().any(|l| l == "./fstab"),
        "etc.tar.gz holds {listing}"
    );
    let size = std::fs::metadata(d.dir.join("etc.tar.gz"))?.len();
    d.record(
        "tar-out /etc (-m, gzip)",
        took,
        format!("etc.tar.gz: {entries} entries, {size} bytes (GNU tar reads it)"),
    );

    // 7. ... and into a second image, prepared with -N.
    let (out, took) = d.vmcraft(&[
        "-N",
        "second.img=fs:ext4:64M",
        "-m",
        "/dev/sda1",
        "mkdir",
        "/etc",
        ":",
        "tar-in",
        "etc.tar.gz",
        "/etc",
        ":",
        "ls",
        "/etc",
        ":",
        "checksum",
        "sha256",
        "/etc/fstab",
    ])?;
    let o = lines(&out);
    ensure!(
        o.contains(&"fstab") && o.contains(&"hostname"),
        "second image /etc: {o:?}"
    );
    d.record(
        "-N fs:ext4:64M + tar-in into it",
        took,
        format!("second.img /etc: {}", o[..o.len() - 1].join(" ")),
    );

    // 8. Copy the ESP to a third image's partition, byte for byte.
    let (out, took) = d.vmcraft(&[
        "--ro",
        "--format=qcow2",
        "-a",
        "guest.qcow2",
        "-N",
        "esp-copy.img=part:80M:gpt",
        "copy-device-to-device",
        "/dev/sda1",
        "/dev/sdb1",
        ":",
        "vfs-uuid",
        "/dev/sda1",
        ":",
        "vfs-uuid",
        "/dev/sdb1",
        ":",
        "blockdev-getsize64",
        "/dev/sda1",
    ])?;
    let o = lines(&out);
    ensure!(o.len() == 3 && o[0] == o[1], "copied ESP: {o:?}");
    d.record(
        "copy-device-to-device ESP -> esp-copy.img",
        took,
        format!(
            "{} MiB copied, the same vfat UUID {} on both",
            o[2].parse::<u64>().unwrap_or(0) >> 20,
            o[1]
        ),
    );
    let how = if !lvm {
        "left out (--no-lvm, or no lvm2)"
    } else if device_mapper() {
        "VG demo, LV srv on /srv, through device-mapper"
    } else {
        "VG demo, LV srv on /srv, through a loop device over the PV (this host has no device-mapper)"
    };
    d.record("LVM", Duration::ZERO, how.into());

    // The report.
    let total = started.elapsed();
    let width = d.steps.iter().map(|s| s.what.len()).max().unwrap_or(0);
    println!(
        "\nVMCraft demo: {} (images in {})\n",
        d.bin.display(),
        d.dir.display()
    );
    for (i, s) in d.steps.iter().enumerate() {
        let took = if s.took.is_zero() {
            "-".to_string()
        } else {
            ms(s.took)
        };
        println!(
            "  {:>2}. {:<width$}  {:>8}  {}",
            i + 1,
            s.what,
            took,
            s.result
        );
    }
    println!(
        "\n  total {} (each vmcraft step is a fresh process: attach, work, teardown)",
        ms(total)
    );
    if opts.keep {
        println!("  images kept in {}", work.path.display());
    }
    Ok(())
}
