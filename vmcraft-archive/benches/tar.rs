//! tar_out and tar_in of a real directory tree against GNU tar, side by side in
//! one run, uncompressed and gzip.
//!
//! The tree is built once under `target/bench-tree` from the host's `/usr`
//! (`bin`, `include`, `lib/x86_64-linux-gnu` or the largest library directory,
//! the Python libraries, `share/doc`, `share/man`, `share/perl`), copied with this
//! crate's own tar_out -> tar_in pipe. `VMCRAFT_BENCH_TREE` points at another
//! tree instead. Set `VMCRAFT_BENCH_GZIP=0` to leave out the (slow) gzip groups.
//! Archives are written and extracted on a tmpfs when there is one (see
//! `scratch_dir`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use vmcraft_archive::{
    Compression, GuestRoot, TarInOptions, TarOutOptions, tar_in, tar_in_from, tar_out, tar_out_to,
};
use vmcraft_block::{Command, CommandRunner, SystemRunner};

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// Copy `from` (a directory under the host's `/usr`) into `dest` through a pipe
/// (a socket pair) between tar_out and tar_in.
fn copy_in(usr: &GuestRoot, from: &str, dest: &GuestRoot, to: &str) {
    let (reader, writer) = std::os::unix::net::UnixStream::pair().expect("socket pair");
    std::thread::scope(|s| {
        s.spawn(|| {
            let opts = TarOutOptions {
                special_files: false,
                ..Default::default()
            };
            tar_out_to(usr, from, writer, &opts).expect("tar_out of the source");
        });
        let opts = TarInOptions {
            create_dir: true,
            ..Default::default()
        };
        tar_in_from(dest, reader, to, &opts).expect("tar_in of the copy");
    });
}

fn tree() -> PathBuf {
    if let Some(t) = std::env::var_os("VMCRAFT_BENCH_TREE") {
        return PathBuf::from(t);
    }
    let tree = target_dir().join("bench-tree");
    let done = tree.join(".complete");
    if done.exists() {
        return tree;
    }
    eprintln!("building {} from /usr (once)", tree.display());
    let _ = std::fs::remove_dir_all(&tree);
    std::fs::create_dir_all(&tree).expect("create bench tree");
    let usr = GuestRoot::open("/usr").expect("/usr");
    let dest = GuestRoot::open(&tree).expect("bench tree");
    let mut libdirs: Vec<String> = ["x86_64-linux-gnu", "aarch64-linux-gnu"]
        .iter()
        .filter(|d| usr.is_dir(format!("/lib/{d}"), false).unwrap_or(false))
        .map(|d| format!("/lib/{d}"))
        .collect();
    for py in usr
        .ls("/lib")
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.starts_with("python3"))
    {
        libdirs.push(format!("/lib/{py}"));
    }
    let dirs = [
        "/bin",
        "/include",
        "/share/doc",
        "/share/man",
        "/share/perl",
    ];
    for d in dirs.iter().map(|s| s.to_string()).chain(libdirs) {
        if usr.is_dir(&d, false).unwrap_or(false) {
            copy_in(&usr, &d, &dest, &format!("/usr{d}"));
        }
    }
    std::fs::write(&done, b"").expect("mark tree complete");
    tree
}

fn gnu_tar(args: &[&str]) {
    SystemRunner::new()
        .run(&Command::new("tar").args(args))
        .unwrap_or_else(|e| panic!("{}", vmcraft_block::error_chain(&e)));
}

/// Where archives are written and extracted: a tmpfs (`/dev/shm`) when there
/// is one, so that both tools are measured rather than the disk's writeback;
/// `VMCRAFT_BENCH_SCRATCH` chooses another place.
fn scratch_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("VMCRAFT_BENCH_SCRATCH") {
        return PathBuf::from(d);
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.join(format!("vmcraft-bench-{}", std::process::id()))
    } else {
        target_dir().join("bench-out")
    }
}

fn fresh_dir(base: &Path, name: &str) -> PathBuf {
    let d = base.join(name);
    if d.exists() {
        std::fs::remove_dir_all(&d).expect("clear extraction directory");
    }
    std::fs::create_dir_all(&d).expect("extraction directory");
    d
}

fn benches(c: &mut Criterion) {
    let tree = tree();
    let root = GuestRoot::open(&tree).expect("tree");
    let work = scratch_dir();
    std::fs::create_dir_all(&work).unwrap();
    let tree_s = tree.to_str().unwrap().to_string();
    let gzip = std::env::var("VMCRAFT_BENCH_GZIP").map_or(true, |v| v != "0");

    // Reference archives for the extraction benchmarks, made by GNU tar.
    let plain = work.join("ref.tar");
    let gz = work.join("ref.tar.gz");
    gnu_tar(&["-C", &tree_s, "-cf", plain.to_str().unwrap(), "."]);
    let size = std::fs::metadata(&plain).unwrap().len();
    let files = root.find("/").unwrap().len();
    eprintln!(
        "tree: {} entries, {:.1} MiB as a tar archive",
        files,
        size as f64 / 1048576.0
    );

    let mut formats = vec![(Compression::None, "none")];
    if gzip {
        gnu_tar(&["-C", &tree_s, "-czf", gz.to_str().unwrap(), "."]);
        formats.push((Compression::Gzip, "gzip"));
    }
    for (format, name) in formats {
        let mut g = c.benchmark_group(format!("tar_out/{name}"));
        g.sample_size(10);
        g.warm_up_time(Duration::from_secs(1));
        let out = work.join(format!("out.{name}"));
        let out_s = out.to_str().unwrap().to_string();
        g.bench_function("vmcraft", |b| {
            let opts = TarOutOptions {
                compress: format,
                ..Default::default()
            };
            b.iter(|| tar_out(&root, "/", &out, &opts).unwrap())
        });
        g.bench_function("gnu-tar", |b| {
            let mut args = vec!["-C", &tree_s, "-cf", &out_s];
            if format == Compression::Gzip {
                args.push("-z");
            }
            args.push(".");
            b.iter(|| gnu_tar(&args))
        });
        g.finish();

        let mut g = c.benchmark_group(format!("tar_in/{name}"));
        g.sample_size(10);
        g.warm_up_time(Duration::from_secs(1));
        let archive = if format == Compression::Gzip {
            gz.clone()
        } else {
            plain.clone()
        };
        let archive_s = archive.to_str().unwrap().to_string();
        g.bench_function("vmcraft", |b| {
            b.iter_batched(
                || fresh_dir(&work, "x-ours"),
                |d| {
                    let dest = GuestRoot::open(&d).unwrap();
                    tar_in(&dest, &archive, "/", &TarInOptions::default()).unwrap()
                },
                BatchSize::PerIteration,
            )
        });
        g.bench_function("vmcraft-no-verify", |b| {
            b.iter_batched(
                || fresh_dir(&work, "x-ours"),
                |d| {
                    let dest = GuestRoot::open(&d).unwrap();
                    let opts = TarInOptions {
                        verify_first: false,
                        ..Default::default()
                    };
                    tar_in(&dest, &archive, "/", &opts).unwrap()
                },
                BatchSize::PerIteration,
            )
        });
        g.bench_function("gnu-tar", |b| {
            b.iter_batched(
                || fresh_dir(&work, "x-gnu"),
                |d| gnu_tar(&["-C", d.to_str().unwrap(), "-xf", &archive_s]),
                BatchSize::PerIteration,
            )
        });
        g.finish();
    }
    let _ = std::fs::remove_dir_all(&work);
}

criterion_group!(tar_benches, benches);
criterion_main!(tar_benches);
