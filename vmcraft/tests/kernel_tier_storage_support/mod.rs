//! Helpers of the kernel-tier storage tests (`kernel_tier_storage*.rs`): the
//! "host" side of each test, made with the plain tools a host administrator uses
//! (lvm2, mkfs.ext4, sgdisk, qemu-img, cryptsetup, mdadm) outside any VMCraft
//! session, and guards that undo it even when the test panics.
//!
//! Host-side lvm2 commands always carry `--devices` with the test's own loop
//! devices, so that the host's lvm2 never scans the guest's disks (or another
//! test's), and tell lvm2 that no udev runs (the tier's guest has none).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use vmcraft::{Config, VMCraft};
use vmcraft_block::testing::TestEnv;

pub const MIB: u64 = 1 << 20;

/// Run a program; panic with its stderr when it fails. Returns stdout.
pub fn run(prog: &str, args: &[&str]) -> String {
    let o = output(prog, args);
    assert!(
        o.status.success(),
        "{prog} {args:?} failed ({}):\n{}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Run a program and return what it did, success or not.
pub fn output(prog: &str, args: &[&str]) -> Output {
    Command::new(prog)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {prog}: {e}"))
}

/// The path as a `&str`.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// SHA-256 of a file or device (coreutils' sha256sum: the in-process digest of
/// a test build is slow, and slower still under TCG).
pub fn sha256(path: &Path) -> String {
    run("sha256sum", &[s(path)])
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// `n` bytes of reproducible, incompressible-looking data (xorshift64).
pub fn pattern(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

/// A session configuration that keeps everything under the test's directory.
pub fn config(env: &TestEnv) -> Config {
    Config::builder().tmpdir(env.path()).build()
}

/// A fresh handle over `drives` (added read-write, format detected), launched.
pub fn launched(env: &TestEnv, drives: &[&Path]) -> VMCraft {
    let g = VMCraft::with_config(config(env));
    for d in drives {
        g.add_drive(d).unwrap();
    }
    g.launch().unwrap();
    g
}

/// Lay a GPT out on `image` with partitions of these sizes (MiB), one after the
/// other from sector 2048.
pub fn gpt(image: &Path, sizes_mib: &[u64]) {
    let mut args = vec!["-Z".to_string()];
    for (i, size) in sizes_mib.iter().enumerate() {
        args.push(format!("-n={}:0:+{size}M", i + 1));
    }
    args.push(s(image).to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = output("sgdisk", &args);
    // sgdisk -Z on a blank image says it found no table to zap (status 2 on
    // some builds); what counts is the table it writes.
    assert!(
        o.status.success() || o.status.code() == Some(2),
        "sgdisk {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let listed = run("sgdisk", &["-p", s(image)]);
    assert!(
        listed.contains(&format!("\n   {}", sizes_mib.len())),
        "sgdisk made no partition {}:\n{listed}",
        sizes_mib.len()
    );
}

/// The partition nodes of a loop device bound with partition scanning, as the
/// kernel's own parser made them (`/dev/loopNp1`, ...).
pub fn partitions(device: &Path, count: usize) -> Vec<PathBuf> {
    let nodes: Vec<PathBuf> = (1..=count)
        .map(|i| PathBuf::from(format!("{}p{i}", device.display())))
        .collect();
    for n in &nodes {
        assert!(
            n.exists(),
            "the kernel made no partition node {} (it parses the table itself here)",
            n.display()
        );
    }
    nodes
}

/// Wait for udev to finish with the events so far, where udev runs (the tier's
/// guest runs the host's systemd-udevd with the host's rules, among them lvm2's
/// event activation and mdadm's incremental assembly).
pub fn settle() {
    if Path::new("/run/udev/control").exists() {
        run("udevadm", &["settle"]);
    }
}

/// An LVM UUID as the facade's listings give it (libguestfs's form, no dashes).
pub fn bare_uuid(uuid: &str) -> String {
    uuid.chars().filter(|c| *c != '-').collect()
}

/// The kernel name of a device node (`/dev/loop3p1` -> `loop3p1`).
pub fn kernel_name(node: &Path) -> String {
    let real = std::fs::canonicalize(node).unwrap_or_else(|_| node.to_path_buf());
    real.file_name().unwrap().to_string_lossy().into_owned()
}

/// A device-mapper device as sysfs shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dm {
    pub kernel: String,
    pub name: String,
    pub uuid: String,
    pub slaves: Vec<String>,
}

/// Every device-mapper device of the kernel.
pub fn dm_devices() -> Vec<Dm> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/sys/block") else {
        return out;
    };
    for e in entries.flatten() {
        let kernel = e.file_name().to_string_lossy().into_owned();
        if !kernel.starts_with("dm-") {
            continue;
        }
        let read = |f: &str| {
            std::fs::read_to_string(e.path().join("dm").join(f))
                .unwrap_or_default()
                .trim_end()
                .to_string()
        };
        let mut slaves: Vec<String> = std::fs::read_dir(e.path().join("slaves"))
            .map(|d| {
                d.flatten()
                    .map(|s| s.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        slaves.sort();
        out.push(Dm {
            name: read("name"),
            uuid: read("uuid"),
            kernel,
            slaves,
        });
    }
    out.sort_by(|a, b| a.kernel.cmp(&b.kernel));
    out
}

/// The device-mapper device named `name`, if any.
pub fn dm_named(name: &str) -> Option<Dm> {
    dm_devices().into_iter().find(|d| d.name == name)
}

/// The `--config` every host-side lvm2 command gets: the tier's guest runs no
/// udev (lvm2 makes the nodes itself) and no dmeventd.
const HOST_LVM_CONFIG: &str =
    "activation { udev_sync = 0 udev_rules = 0 monitoring = 0 } global { use_lvmpolld = 0 }";

/// Run an lvm2 command as the host would, seeing only `devices`.
pub fn host_lvm(devices: &[&Path], sub: &str, args: &[&str]) -> String {
    let list = devices.iter().map(|d| s(d)).collect::<Vec<_>>().join(",");
    let mut all = vec![sub, "--devices", &list, "--config", HOST_LVM_CONFIG];
    all.extend_from_slice(args);
    run("lvm", &all)
}

/// One field of one LV, as the host's lvm2 reports it.
pub fn host_lv_field(devices: &[&Path], lv: &str, field: &str) -> String {
    host_lvm(
        devices,
        "lvs",
        &[
            "--noheadings",
            "--nosuffix",
            "--units",
            "b",
            "-o",
            field,
            lv,
        ],
    )
    .trim()
    .to_string()
}

/// A VG made by the test's "host" with plain lvm2; deactivated and removed (its
/// PV labels wiped) on drop, also when the test panics. Declare it after the loop
/// devices it lives on, so that it goes first.
pub struct HostVg {
    pub name: String,
    pub devices: Vec<PathBuf>,
}

impl HostVg {
    /// `pvcreate` + `vgcreate` on `devices`.
    pub fn create(name: &str, devices: &[&Path]) -> HostVg {
        let paths: Vec<&str> = devices.iter().map(|d| s(d)).collect();
        let mut pv = vec!["--yes"];
        pv.extend(&paths);
        host_lvm(devices, "pvcreate", &pv);
        let mut vg = vec![name];
        vg.extend(&paths);
        host_lvm(devices, "vgcreate", &vg);
        HostVg {
            name: name.to_string(),
            devices: devices.iter().map(|d| d.to_path_buf()).collect(),
        }
    }

    pub fn devices(&self) -> Vec<&Path> {
        self.devices.iter().map(PathBuf::as_path).collect()
    }

    /// Run an lvm2 command on this VG's devices.
    pub fn lvm(&self, sub: &str, args: &[&str]) -> String {
        host_lvm(&self.devices(), sub, args)
    }

    /// `lvcreate -n LV -L SIZE VG [PV...]`, active.
    pub fn lvcreate(&self, lv: &str, size_mib: u64, on: &[&Path]) {
        let size = format!("{size_mib}m");
        let mut args = vec!["--yes", "-n", lv, "-L", &size, &self.name];
        args.extend(on.iter().map(|p| s(p)));
        self.lvm("lvcreate", &args);
    }

    /// `/dev/mapper/VG-LV`.
    pub fn mapper(&self, lv: &str) -> PathBuf {
        PathBuf::from(format!("/dev/mapper/{}-{lv}", self.name))
    }

    /// One field of `VG/LV`.
    pub fn field(&self, lv: &str, field: &str) -> String {
        host_lv_field(&self.devices(), &format!("{}/{lv}", self.name), field)
    }

    /// Deactivate the VG and leave it on its disks (a guest image being made):
    /// nothing to undo any more.
    pub fn keep(self) {
        self.activate(false);
        // The deactivation's events must not bring it back (lvm2's event
        // activation starts a VG only once while its PVs stay).
        settle();
        let prefix = format!("{}-", self.name);
        let left: Vec<Dm> = dm_devices()
            .into_iter()
            .filter(|d| d.name.starts_with(&prefix))
            .collect();
        assert!(left.is_empty(), "{} is active again: {left:?}", self.name);
        std::mem::forget(self);
    }

    /// `vgchange -a y|n`.
    pub fn activate(&self, on: bool) {
        self.lvm("vgchange", &["-a", if on { "y" } else { "n" }, &self.name]);
    }
}

impl Drop for HostVg {
    fn drop(&mut self) {
        let devices = self.devices();
        let list = devices.iter().map(|d| s(d)).collect::<Vec<_>>().join(",");
        let lvm = |args: &[&str]| {
            let mut all = vec![args[0], "--devices", &list, "--config", HOST_LVM_CONFIG];
            all.extend_from_slice(&args[1..]);
            output("lvm", &all)
        };
        let steps: [&[&str]; 2] = [
            &["vgchange", "-a", "n", &self.name],
            &["vgremove", "-f", &self.name],
        ];
        let mut failed = Vec::new();
        for step in steps {
            let o = lvm(step);
            if !o.status.success() {
                failed.push(format!("{step:?}: {}", String::from_utf8_lossy(&o.stderr)));
            }
        }
        let mut pvremove = vec!["pvremove", "-ff", "--yes"];
        pvremove.extend(devices.iter().map(|d| s(d)));
        let o = lvm(&pvremove);
        if !o.status.success() {
            failed.push(format!("pvremove: {}", String::from_utf8_lossy(&o.stderr)));
        }
        if !failed.is_empty() && !std::thread::panicking() {
            panic!(
                "cleaning up host VG {} failed:\n{}",
                self.name,
                failed.join("\n")
            );
        }
    }
}

/// An ext4 filesystem on `device` holding the files of `tree` (`mkfs.ext4 -d`,
/// no mount needed).
pub fn mkfs_ext4_with(device: &Path, tree: &Path, label: &str) {
    run(
        "mkfs.ext4",
        &["-q", "-F", "-L", label, "-d", s(tree), s(device)],
    );
}

/// `e2fsck -fn`: clean, or a panic with its report.
pub fn e2fsck_clean(device: &Path) {
    let o = output("e2fsck", &["-fn", s(device)]);
    assert!(
        o.status.success(),
        "e2fsck -fn {} found problems ({}):\n{}{}",
        device.display(),
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A file's contents on an unmounted ext4 device (debugfs).
pub fn ext4_cat(device: &Path, path: &str) -> Vec<u8> {
    let o = output("debugfs", &["-R", &format!("cat {path}"), s(device)]);
    assert!(o.status.success(), "debugfs cat {path}");
    o.stdout
}
