//! Attach + detach cycles, median per cycle: a raw image through a loop device and
//! a qcow2 through qemu-storage-daemon's FUSE export plus a loop device, each
//! holding a GPT with two partitions (so each cycle also creates and waits for two
//! partition nodes). `losetup --find --show` + `losetup -d` on the same raw image
//! runs beside them as the peer. Needs root, qemu-img and qemu-storage-daemon.

use std::path::Path;
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use vmcraft_nbd::{AttachOptions, Backend, attach};

fn sh(argv: &[&str]) -> String {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .expect(argv[0]);
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Give the image a GPT with two partitions, through an attachment.
fn partition(image: &Path, opts: &AttachOptions) {
    let att = attach(image, opts.clone()).expect("attach for setup");
    vmcraft_part::part_init(&att, "gpt").unwrap();
    vmcraft_part::part_add(&att, "p", 2048, 65535).unwrap();
    vmcraft_part::part_add(&att, "p", 65536, -34).unwrap();
    att.detach().unwrap();
}

fn attach_detach(c: &mut Criterion) {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping the attach benchmarks: they need root");
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("vmcraft-bench-")
        .tempdir()
        .unwrap();
    let opts = AttachOptions::default().runtime_dir(dir.path());
    let raw = dir.path().join("disk.img");
    std::fs::File::create(&raw)
        .unwrap()
        .set_len(256 << 20)
        .unwrap();
    partition(&raw, &opts);
    let qcow2 = dir.path().join("disk.qcow2");
    sh(&[
        "qemu-img",
        "create",
        "-q",
        "-f",
        "qcow2",
        qcow2.to_str().unwrap(),
        "256M",
    ]);
    partition(&qcow2, &opts);

    let mut g = c.benchmark_group("attach_detach");
    g.sample_size(30);
    g.bench_function("raw_loop", |b| {
        b.iter(|| {
            let att = attach(&raw, opts.clone().backend(Backend::Loop)).unwrap();
            assert_eq!(att.partitions().len(), 2);
            att.detach().unwrap();
        })
    });
    g.bench_function("raw_losetup_peer", |b| {
        b.iter(|| {
            let dev = sh(&["losetup", "--find", "--show", raw.to_str().unwrap()]);
            sh(&["losetup", "-d", &dev]);
        })
    });
    g.bench_function("qcow2_storage_daemon", |b| {
        b.iter(|| {
            let att = attach(&qcow2, opts.clone()).unwrap();
            assert_eq!(att.backend(), Backend::StorageDaemon);
            assert_eq!(att.partitions().len(), 2);
            att.detach().unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, attach_detach);
criterion_main!(benches);
