//! The `vmcraft` command line, a fresh process per iteration (start, attach,
//! work, teardown, exit), beside its peers in the same run:
//!
//! - `cli/startup`: `vmcraft echo` with no image, the floor of every command;
//! - `gpt_10GiB/vmcraft`: a new GPT and 8 partitions, each named and typed, on a
//!   10 GiB sparse raw image, as one `vmcraft -f` script (25 edits);
//! - `gpt_10GiB/sfdisk`: the same table from one `sfdisk` script;
//! - `inspect_qcow2/vmcraft`: `--ro -a guest.qcow2 -i` on a Debian-like qcow2 guest
//!   (GPT, vfat ESP, ext4 root), then `inspect-get-distro` and `list-filesystems`.
//!   (guestfish, the peer of this one, is not installed on these machines; the
//!   DESIGN table has its figure.)
//!
//! Needs root (loop devices, mounts). Run with
//! `cargo bench -p vmcraft --bench cli -- --warm-up-time 1 --measurement-time 5`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const SIZE: u64 = 10 << 30;
const PART_SECTORS: u64 = 2 * 1024 * 1024;
const TYPES: [&str; 8] = [
    "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
    "21686148-6449-6E6F-744E-656564454649",
    "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
    "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
    "E6D6D379-F507-44C2-A23C-238F2A3DF928",
    "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",
    "A19D880F-05FC-4D3B-A006-743F0F84911E",
    "933AC7E1-2EB4-4F13-B844-0E14E2AEF915",
];

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_vmcraft")
}

/// Run a command to success.
fn check(cmd: &mut Command, stdin: &[u8]) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn fresh(path: &Path) {
    let f = std::fs::File::create(path).expect("create image");
    f.set_len(SIZE).expect("size image");
}

fn range(i: u64) -> (u64, u64) {
    let start = 2048 + i * PART_SECTORS;
    (start, start + PART_SECTORS - 1)
}

fn gpt_script() -> String {
    let mut s = String::from("run\npart-init /dev/sda gpt\n");
    for (i, t) in TYPES.iter().enumerate() {
        let (a, b) = range(i as u64);
        let n = i + 1;
        s.push_str(&format!(
            "part-add /dev/sda p {a} {b}\npart-set-name /dev/sda {n} part{n}\npart-set-gpt-type /dev/sda {n} {t}\n"
        ));
    }
    s
}

fn sfdisk_script() -> String {
    let mut s = String::from("label: gpt\n");
    for (i, t) in TYPES.iter().enumerate() {
        let (a, _) = range(i as u64);
        s.push_str(&format!(
            "start={a}, size={PART_SECTORS}, type={t}, name=part{}\n",
            i + 1
        ));
    }
    s
}

fn make_guest(dir: &Path) -> PathBuf {
    let img = dir.join("guest.qcow2");
    let ok = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&img)
        .arg("256M")
        .status()
        .unwrap();
    assert!(ok.success());
    let build = "run\npart-init /dev/sda gpt\npart-add /dev/sda p 2048 133119\n\
        part-set-gpt-type /dev/sda 1 C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n\
        part-add /dev/sda p 133120 -34\nmkfs vfat /dev/sda1\nmkfs ext4 /dev/sda2\n\
        mount /dev/sda2 /\nmkdir-p /etc\nmkdir-p /boot/efi\n\
        write /etc/os-release \"ID=debian\\nVERSION_ID=\\\"12\\\"\\nPRETTY_NAME=\\\"Debian GNU/Linux 12 (bookworm)\\\"\\n\"\n\
        write /etc/hostname \"bench\\n\"\n\
        write /etc/fstab \"/dev/sda2 / ext4 defaults 0 1\\n/dev/sda1 /boot/efi vfat defaults 0 1\\n\"\n";
    check(
        Command::new(bin()).args(["--format=qcow2", "-a"]).arg(&img),
        build.as_bytes(),
    );
    img
}

fn benches(c: &mut Criterion) {
    if !nix_is_root() {
        eprintln!("skipping: the cli benchmarks need root (loop devices, mounts)");
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("vmcraft-bench-cli-")
        .tempdir()
        .unwrap();
    let img = dir.path().join("gpt.img");

    c.bench_function("cli/startup", |b| {
        b.iter(|| check(Command::new(bin()).args(["echo", "x"]), b""))
    });

    let mut g = c.benchmark_group("gpt_10GiB");
    let script = gpt_script();
    g.bench_function("vmcraft", |b| {
        b.iter_batched(
            || fresh(&img),
            |()| check(Command::new(bin()).arg("-a").arg(&img), script.as_bytes()),
            BatchSize::PerIteration,
        )
    });
    let sf = sfdisk_script();
    g.bench_function("sfdisk", |b| {
        b.iter_batched(
            || fresh(&img),
            |()| {
                check(
                    Command::new("sfdisk")
                        .args(["--quiet", "--no-reread", "--no-tell-kernel"])
                        .arg(&img),
                    sf.as_bytes(),
                )
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
    let _ = std::fs::remove_file(&img);

    let guest = make_guest(dir.path());
    let mut g = c.benchmark_group("inspect_qcow2");
    g.bench_function("vmcraft", |b| {
        b.iter(|| {
            check(
                Command::new(bin())
                    .args(["--ro", "--format=qcow2", "-a"])
                    .arg(&guest)
                    .args([
                        "-i",
                        "inspect-get-distro",
                        "/dev/sda2",
                        ":",
                        "list-filesystems",
                    ]),
                b"",
            )
        })
    });
    g.finish();
}

fn nix_is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

criterion_group! {
    name = cli;
    config = Criterion::default().sample_size(20);
    targets = benches
}
criterion_main!(cli);
