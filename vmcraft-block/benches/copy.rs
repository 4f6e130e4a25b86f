//! Copy benchmark: a 1 GiB sparse image holding 32 MiB of data, copied with
//! `copy_device_to_device` (sparse) beside `dd bs=1M` and `cp --sparse=always` on the
//! same files in the same run. Every copy ends with its data flushed (our call
//! fsyncs; `dd` runs with `conv=fsync`; `cp` is followed by an fsync of its output),
//! and every copy is checked against the source once before timing.

use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use vmcraft_block::{CopyOptions, copy_device_to_device};

const SIZE: u64 = 1 << 30;
const DATA_MIB: u64 = 32;

fn make_source(dir: &Path) -> PathBuf {
    let path = dir.join("src.img");
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(SIZE).unwrap();
    // 32 regions of 1 MiB of pseudo-random bytes, spread over the image.
    let mut x = 0x1234_5678_9abc_def0u64;
    let mut buf = vec![0u8; 1 << 20];
    for i in 0..DATA_MIB {
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8 | 1;
        }
        f.write_all_at(&buf, i * (SIZE / DATA_MIB) + 12_345 * i)
            .unwrap();
    }
    f.sync_all().unwrap();
    path
}

fn fsync(p: &Path) {
    std::fs::File::open(p).unwrap().sync_all().unwrap();
}

fn vmcraft_copy(src: &Path, dest: &Path) {
    let _ = std::fs::remove_file(dest);
    copy_device_to_device(
        src,
        dest,
        &CopyOptions {
            sparse: true,
            create: true,
            ..Default::default()
        },
    )
    .unwrap();
}

fn dd_copy(src: &Path, dest: &Path) {
    let _ = std::fs::remove_file(dest);
    let st = Command::new("dd")
        .args([
            format!("if={}", src.display()),
            format!("of={}", dest.display()),
        ])
        .args(["bs=1M", "conv=fsync", "status=none"])
        .status()
        .unwrap();
    assert!(st.success());
}

fn cp_copy(src: &Path, dest: &Path) {
    let _ = std::fs::remove_file(dest);
    let st = Command::new("cp")
        .arg("--sparse=always")
        .arg(src)
        .arg(dest)
        .status()
        .unwrap();
    assert!(st.success());
    fsync(dest);
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    Command::new("cmp")
        .arg("-s")
        .arg(a)
        .arg(b)
        .status()
        .unwrap()
        .success()
}

fn bench_copy(c: &mut Criterion) {
    let dir = tempfile::Builder::new()
        .prefix("vmcraft-bench-copy-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let src = make_source(dir.path());
    let dest = dir.path().join("dest.img");
    for f in [vmcraft_copy, dd_copy, cp_copy] {
        f(&src, &dest);
        assert!(same_bytes(&src, &dest), "a copy differs from its source");
    }
    let mut g = c.benchmark_group("copy 1 GiB sparse image with 32 MiB of data");
    g.sample_size(10);
    g.bench_function("vmcraft copy_device_to_device sparse", |b| {
        b.iter(|| vmcraft_copy(black_box(&src), &dest))
    });
    g.bench_function("cp --sparse=always", |b| {
        b.iter(|| cp_copy(black_box(&src), &dest))
    });
    g.bench_function("dd bs=1M conv=fsync", |b| {
        b.iter(|| dd_copy(black_box(&src), &dest))
    });
    g.finish();
}

criterion_group!(benches, bench_copy);
criterion_main!(benches);
