//! Benchmarks: opening a confined handle and reading a value, against `augtool`
//! doing the same in one process and against raugeas used directly (unconfined,
//! same thread); and the cost of one call through the worker process against
//! the same call made directly.
//!
//! Needs root (the worker chroots); prints a skip otherwise.

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use vmcraft_aug::{AugFlags, Augeas};
use vmcraft_block::{Command, CommandRunner, SystemRunner};

fn guest() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("vmcraft-aug-bench-")
        .tempdir()
        .unwrap();
    let w = |p: &str, s: &str| {
        let p = dir.path().join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, s).unwrap();
    };
    w(
        "etc/hosts",
        "127.0.0.1 localhost\n192.0.2.10 db db.example.com\n",
    );
    w(
        "etc/fstab",
        "UUID=0a1b / ext4 defaults,errors=remount-ro 0 1\nUUID=2c3d /boot ext4 defaults 0 2\n",
    );
    w(
        "etc/ssh/sshd_config",
        "Port 22\nPermitRootLogin yes\nSubsystem sftp /usr/lib/openssh/sftp-server\n",
    );
    dir
}

const PATH: &str = "/files/etc/hosts/*[canonical = 'db']/ipaddr";

fn init_and_get(c: &mut Criterion, root: &Path) {
    let mut g = c.benchmark_group("init+get");
    g.sample_size(10);
    g.bench_function("vmcraft-aug (confined worker process)", |b| {
        b.iter(|| {
            let aug = Augeas::init(root, AugFlags::empty()).unwrap();
            assert_eq!(aug.aug_get(PATH).unwrap(), "192.0.2.10");
        })
    });
    g.bench_function("raugeas direct (unconfined)", |b| {
        b.iter(|| {
            let aug = raugeas::Augeas::init(Some(root), "", raugeas::Flags::NONE).unwrap();
            assert_eq!(aug.get(PATH).unwrap().as_deref(), Some("192.0.2.10"));
        })
    });
    let runner = SystemRunner::new();
    let cmd = Command::new("augtool")
        .arg("-r")
        .arg(root)
        .args(["get", PATH]);
    g.bench_function("augtool -r ROOT get (process)", |b| {
        b.iter(|| {
            let out = runner.run(&cmd).unwrap();
            assert!(String::from_utf8_lossy(&out.stdout).contains("192.0.2.10"));
        })
    });
    g.finish();
}

fn one_call(c: &mut Criterion, root: &Path) {
    let mut g = c.benchmark_group("aug_get on an open handle");
    let aug = Augeas::init(root, AugFlags::empty()).unwrap();
    g.bench_function("vmcraft-aug (through the worker)", |b| {
        b.iter(|| aug.aug_get(PATH).unwrap())
    });
    let raw = raugeas::Augeas::init(Some(root), "", raugeas::Flags::NONE).unwrap();
    g.bench_function("raugeas direct", |b| b.iter(|| raw.get(PATH).unwrap()));
    g.finish();

    let mut g = c.benchmark_group("set+save hosts");
    let mut n = 0u64;
    g.bench_function("vmcraft-aug", |b| {
        b.iter(|| {
            n += 1;
            aug.aug_set("/files/etc/hosts/1/alias", &format!("a{n}"))
                .unwrap();
            aug.aug_save().unwrap();
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: the vmcraft-aug benchmarks need root (chroot)");
        return;
    }
    let dir = guest();
    init_and_get(c, dir.path());
    one_call(c, dir.path());
}

criterion_group!(aug, benches);
criterion_main!(aug);
