//! GPT on a 10 GiB sparse image: a new table, 8 partitions, each named and
//! typed — in-process, and through the peer tools, in one run on the same kind of
//! image:
//!
//! - `vmcraft_part/calls`: the libguestfs calls, one call per edit (25 calls,
//!   each a read, a validated edit, a write of both GPT copies and an fdatasync);
//! - `vmcraft_part/typed`: the typed `PartitionTable`, the 24 edits made in memory
//!   and written once;
//! - `sgdisk/per_edit`: one `sgdisk` process per edit (25 processes), what the
//!   seed did;
//! - `sgdisk/one_process`: one `sgdisk` process with all 25 options;
//! - `sfdisk/script`: one `sfdisk` process fed a script.
//!
//! The tools run through `vmcraft_block::SystemRunner`, as the project runs
//! tools. Run with `cargo bench -p vmcraft-part --bench gpt_edits`. The image
//! lives in the system temp directory, or in `$VMCRAFT_BENCH_DIR` when set (on
//! tmpfs the flushes cost nothing and what is left is the CPU cost).

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use vmcraft_block::{Command, CommandRunner, ImageFile, SystemRunner};
use vmcraft_part::{
    PartKind, PartType, PartitionTable, parse_guid, part_add, part_init, part_set_gpt_type,
    part_set_name,
};

const SIZE: u64 = 10 << 30;

/// One way of making the table on the image at a path.
type Variant = fn(&Path);
/// 1 GiB partitions from sector 2048.
const PART_SECTORS: u64 = 2 * 1024 * 1024;

const TYPES: [(&str, &str); 8] = [
    ("C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "EF00"),
    ("21686148-6449-6E6F-744E-656564454649", "EF02"),
    ("0FC63DAF-8483-4772-8E79-3D69D8477DE4", "8300"),
    ("0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", "8200"),
    ("E6D6D379-F507-44C2-A23C-238F2A3DF928", "8E00"),
    ("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", "0700"),
    ("A19D880F-05FC-4D3B-A006-743F0F84911E", "FD00"),
    ("933AC7E1-2EB4-4F13-B844-0E14E2AEF915", "8302"),
];

fn range(i: u64) -> (u64, u64) {
    let start = 2048 + i * PART_SECTORS;
    (start, start + PART_SECTORS - 1)
}

/// A fresh sparse image (the old one is truncated to nothing first, so every
/// iteration starts from zeros).
fn fresh(path: &Path) {
    let f = std::fs::File::create(path).expect("create image");
    f.set_len(SIZE).expect("size image");
}

fn calls(path: &Path) {
    let dev = ImageFile::open(path, false).expect("open");
    part_init(&dev, "gpt").expect("part_init");
    for i in 0..8u64 {
        let (s, e) = range(i);
        let n = i as i32 + 1;
        part_add(&dev, "p", s as i64, e as i64).expect("part_add");
        part_set_name(&dev, n, &format!("part{n}")).expect("part_set_name");
        part_set_gpt_type(&dev, n, TYPES[i as usize].0).expect("part_set_gpt_type");
    }
}

fn typed(path: &Path) {
    let dev = ImageFile::open(path, false).expect("open");
    let mut t = PartitionTable::new(&dev, PartType::Gpt).expect("new");
    for i in 0..8u64 {
        let (s, e) = range(i);
        let n = t.add(PartKind::Primary, s as i64, e as i64).expect("add");
        t.set_name(n, &format!("part{n}")).expect("name");
        t.set_gpt_type(n, parse_guid(TYPES[i as usize].0).unwrap())
            .expect("type");
    }
    t.write(&dev).expect("write");
}

fn sgdisk(args: &[String]) {
    SystemRunner::new()
        .run(&Command::new("sgdisk").args(args))
        .expect("sgdisk");
}

fn sgdisk_per_edit(path: &Path) {
    let img = path.display().to_string();
    sgdisk(&["-o".into(), img.clone()]);
    for i in 0..8u64 {
        let (s, e) = range(i);
        let n = i + 1;
        sgdisk(&["-n".into(), format!("{n}:{s}:{e}"), img.clone()]);
        sgdisk(&["-c".into(), format!("{n}:part{n}"), img.clone()]);
        sgdisk(&[
            "-t".into(),
            format!("{n}:{}", TYPES[i as usize].1),
            img.clone(),
        ]);
    }
}

fn sgdisk_one_process(path: &Path) {
    let mut args = vec!["-o".to_string()];
    for i in 0..8u64 {
        let (s, e) = range(i);
        let n = i + 1;
        args.extend([
            "-n".into(),
            format!("{n}:{s}:{e}"),
            "-c".into(),
            format!("{n}:part{n}"),
            "-t".into(),
            format!("{n}:{}", TYPES[i as usize].1),
        ]);
    }
    args.push(path.display().to_string());
    sgdisk(&args);
}

fn sfdisk_script(path: &Path) {
    let mut script = String::from("label: gpt\n");
    for i in 0..8u64 {
        let (s, e) = range(i);
        script.push_str(&format!(
            "start={s}, size={}, type={}, name=part{}\n",
            e - s + 1,
            TYPES[i as usize].0,
            i + 1
        ));
    }
    SystemRunner::new()
        .run(
            &Command::new("sfdisk")
                .args(["--quiet", "--no-reread", &path.display().to_string()])
                .stdin(script),
        )
        .expect("sfdisk");
}

fn bench(c: &mut Criterion) {
    let base = std::env::var_os("VMCRAFT_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("vmcraft-bench-part-")
        .tempdir_in(base)
        .expect("temp dir");
    let img: PathBuf = dir.path().join("bench.img");

    // Every variant must produce the same layout the tools agree on.
    for (name, f) in [
        ("calls", calls as Variant),
        ("typed", typed),
        ("sgdisk per edit", sgdisk_per_edit),
    ] {
        fresh(&img);
        f(&img);
        let dev = ImageFile::open(&img, false).unwrap();
        let parts = PartitionTable::read(&dev).unwrap().partitions();
        assert_eq!(parts.len(), 8, "{name}");
        assert_eq!(parts[7].name.as_deref(), Some("part8"), "{name}");
    }

    let mut g = c.benchmark_group("gpt_10GiB_init_8_add_name_type");
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(5));
    let variants: [(&str, Variant); 5] = [
        ("vmcraft_part/calls", calls),
        ("vmcraft_part/typed", typed),
        ("sgdisk/per_edit", sgdisk_per_edit),
        ("sgdisk/one_process", sgdisk_one_process),
        ("sfdisk/script", sfdisk_script),
    ];
    for (name, f) in variants {
        g.bench_function(name, |b| {
            b.iter_batched(
                || fresh(&img),
                |_| f(&img),
                criterion::BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
