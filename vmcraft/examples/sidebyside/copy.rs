//! Workload 4, device copy: a raw image copied to a new file, fully written
//! ("dense") and with 5 % of it data (1 MiB extents every 20 MiB, holes between).
//! VMCraft's `copy_device_to_device` against `dd bs=1M`, `cp --sparse=always` and
//! `qemu-img convert -O raw`. Every tool's time runs until the copy is on disk
//! (an fsync of the destination is part of every timed run), and every copy is
//! compared byte for byte with its source. A last group copies between two
//! drives of a session through the command line and through guestfish
//! ([`crate::imagecalls`]).

use std::path::Path;

use anyhow::Result;
use vmcraft::block::{CopyOptions, copy_device_to_device};

use crate::harness::{self, Case, Group, GroupResult, Sample};
use crate::{Ctx, imagecalls, sys};

pub fn run(ctx: &Ctx) -> Result<Vec<GroupResult>> {
    let size: u64 = if ctx.quick { 256 << 20 } else { 4 << 30 };
    let dense = ctx.path("copy-dense.img");
    let sparse = ctx.path("copy-sparse.img");
    eprintln!("  making the sources ({} each)", sys::fmt_bytes(size));
    sys::data_file(&dense, size, 4 << 20, 4 << 20, 1)?;
    sys::data_file(&sparse, size, 1 << 20, 20 << 20, 2)?;
    let mut out = Vec::new();
    // The 5% copy takes some 0.15 s, mostly the kernel's writeback, which moves a
    // median of five from one run to the next: it gets more rounds.
    for (name, src, what, runs) in [
        ("dense", &dense, "every byte data", ctx.runs(5, 2)),
        (
            "5% data",
            &sparse,
            "1 MiB of data every 20 MiB, holes between (5 %)",
            ctx.runs(9, 2),
        ),
    ] {
        out.push(group(ctx, name, src, size, what, runs)?);
    }
    for f in [&dense, &sparse] {
        sys::remove_file(f)?;
    }
    sys::remove_file(&ctx.path("copy-out.img"))?;
    out.push(image_group(ctx)?);
    Ok(out)
}

/// `copy-device-to-device` between two drives of one session, through the
/// command line and guestfish (whose appliance copies through virtio).
fn image_group(ctx: &Ctx) -> Result<GroupResult> {
    let size: u64 = if ctx.quick { 32 << 20 } else { 256 << 20 };
    let src = ctx.path("copy-image-src.img");
    let dst = ctx.path("copy-image-dst.img");
    sys::data_file(&src, size, 4 << 20, 4 << 20, 3)?;
    let r = imagecalls::group(
        ctx,
        imagecalls::ImageCall {
            id: "copy/image",
            title: "Device copy in a session, command line and guestfish",
            what: format!(
                "a {} raw image, every byte data, copied to a second drive of the same \
                 session (`copy-device-to-device /dev/sda /dev/sdb`) and flushed at shutdown",
                sys::fmt_bytes(size)
            ),
            files: vec![(src.clone(), "SRC"), (dst.clone(), "DST")],
            args: &|p| {
                [
                    "--format=raw",
                    "-a",
                    &p[0],
                    "-a",
                    &p[1],
                    "run",
                    ":",
                    "copy-device-to-device",
                    "/dev/sda",
                    "/dev/sdb",
                ]
                .map(String::from)
                .to_vec()
            },
            fresh: &|| {
                sys::remove_file(&dst)?;
                sys::sparse_file(&dst, size)
            },
            check: &|| {
                sys::same_bytes(&src, &dst)?;
                Ok(format!("{} copied, same bytes", sys::fmt_bytes(size)))
            },
            runs: ctx.runs(10, 3),
        },
    );
    for f in [&src, &dst] {
        sys::remove_file(f)?;
    }
    Ok(r)
}

fn group(
    ctx: &Ctx,
    name: &str,
    src: &Path,
    size: u64,
    what: &str,
    runs: usize,
) -> Result<GroupResult> {
    let dst = ctx.path("copy-out.img");
    let (s, d) = (
        src.to_string_lossy().to_string(),
        dst.to_string_lossy().to_string(),
    );
    let fresh = || {
        sys::remove_file(&dst)?;
        sys::settle();
        Ok(())
    };
    let check = || {
        sys::same_bytes(src, &dst)?;
        Ok(format!(
            "same bytes; destination allocates {}",
            sys::fmt_bytes(sys::allocated(&dst)?)
        ))
    };
    // A process, then the fsync every contender pays.
    let tool = |args: &[&str]| -> Result<Sample> {
        let (mut sample, _) = harness::process(&harness::cmd(args[0], &args[1..]))?;
        let start = std::time::Instant::now();
        sys::fsync(&dst)?;
        sample.wall += start.elapsed();
        Ok(sample)
    };
    let ours = |sparse: bool| -> Result<Sample> {
        let (s, _) = harness::in_process(|| {
            let st = copy_device_to_device(
                src,
                &dst,
                &CopyOptions {
                    create: true,
                    sparse,
                    ..Default::default()
                },
            )?;
            sys::fsync(&dst)?;
            Ok(st)
        })?;
        Ok(s)
    };
    let cases = vec![
        Case::ours(
            "vmcraft copy_device_to_device",
            "copy_device_to_device(SRC, DST, { create: true }) (copy_file_range, holes skipped)",
            || ours(false),
            check,
        )
        .setup(fresh),
        Case::ours(
            "vmcraft copy_device_to_device, sparse",
            "copy_device_to_device(SRC, DST, { create: true, sparse: true }) (zero blocks not written)",
            || ours(true),
            check,
        )
        .setup(fresh),
        Case::peer(
            "dd bs=1M",
            "dd if=SRC of=DST bs=1M status=none",
            || tool(&["dd", &format!("if={s}"), &format!("of={d}"), "bs=1M", "status=none"]),
            check,
        )
        .setup(fresh),
        Case::peer(
            "cp --sparse=always",
            "cp --sparse=always SRC DST",
            || tool(&["cp", "--sparse=always", &s, &d]),
            check,
        )
        .setup(fresh),
        Case::peer(
            "qemu-img convert -O raw",
            "qemu-img convert -f raw -O raw SRC DST",
            || tool(&["qemu-img", "convert", "-f", "raw", "-O", "raw", &s, &d]),
            check,
        )
        .setup(fresh),
    ];
    let mut r = harness::run_group(Group {
        id: format!("copy/{name}"),
        title: format!("Device copy, {name}"),
        what: format!(
            "copy a {} raw image ({what}) to a new file, until it is on disk (fsync)",
            sys::fmt_bytes(size)
        ),
        unit: None,
        runs,
        cases,
    });
    r.notes.push(
        "The default copy uses copy_file_range for the data extents and skips the holes (found \
         with SEEK_DATA/SEEK_HOLE); the sparse row reads every block, checks it for zeros and \
         writes the rest with pwrite through the page cache, as dd does, so on dense data it \
         does dd's work plus the scan."
            .into(),
    );
    r.notes.push(
        "Every timed run ends with an fsync of the destination, so tools that leave dirty pages \
         behind (dd, cp) pay for writing them like the ones that flush (VMCraft, qemu-img). The \
         source is in the page cache for everyone."
            .into(),
    );
    Ok(r)
}
