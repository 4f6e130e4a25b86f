//! Block devices: the `blockdev-*` queries and settings, `copy-device-to-device`
//! and `dd`.

use serde_json::json;

use super::{CommandSpec, DEVICE, arg, c, cmd};
use crate::cli::args::{ArgKind, Args};
use crate::cli::error::CliError;
use crate::cli::shell::Shell;
use crate::cli::value::Value;

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd(
        "blockdev-getsize64",
        &[DEVICE],
        "get total size of device in bytes",
        "The size of the device in bytes.",
        |s, a| {
            Ok(Value::Int(
                c("blockdev_getsize64", s.g.blockdev_getsize64(a.str(0)))? as i64,
            ))
        },
    ),
    cmd(
        "blockdev-getsz",
        &[DEVICE],
        "get total size of device in 512-byte sectors",
        "The size of the device in 512-byte sectors, whatever its sector size.",
        |s, a| {
            Ok(Value::Int(
                c("blockdev_getsz", s.g.blockdev_getsz(a.str(0)))? as i64,
            ))
        },
    ),
    cmd(
        "blockdev-getss",
        &[DEVICE],
        "get sectorsize of block device",
        "The device's logical sector size (usually 512).",
        |s, a| {
            Ok(Value::Int(
                c("blockdev_getss", s.g.blockdev_getss(a.str(0)))?.into(),
            ))
        },
    ),
    cmd(
        "blockdev-getbsz",
        &[DEVICE],
        "get blocksize of block device",
        "The kernel's block size for the device.",
        |s, a| {
            Ok(Value::Int(
                c("blockdev_getbsz", s.g.blockdev_getbsz(a.str(0)))?.into(),
            ))
        },
    ),
    cmd(
        "blockdev-getro",
        &[DEVICE],
        "is block device set to read-only",
        "Whether the device is read-only.",
        |s, a| {
            Ok(Value::Bool(c(
                "blockdev_getro",
                s.g.blockdev_getro(a.str(0)),
            )?))
        },
    ),
    cmd(
        "blockdev-setro",
        &[DEVICE],
        "set block device to read-only",
        "Make the device read-only.",
        |s, a| {
            c("blockdev_setro", s.g.blockdev_setro(a.str(0)))?;
            Ok(Value::Unit)
        },
    ),
    cmd(
        "blockdev-setrw",
        &[DEVICE],
        "set block device to read-write",
        "Make the device read-write; refused on a drive added read-only.",
        |s, a| {
            c("blockdev_setrw", s.g.blockdev_setrw(a.str(0)))?;
            Ok(Value::Unit)
        },
    ),
    cmd(
        "blockdev-flushbufs",
        &[DEVICE],
        "flush device buffers",
        "Flush the device's buffers to the image.",
        |s, a| {
            c("blockdev_flushbufs", s.g.blockdev_flushbufs(a.str(0)))?;
            Ok(Value::Unit)
        },
    ),
    cmd(
        "blockdev-rereadpt",
        &[DEVICE],
        "reread partition table",
        "Ask the kernel to re-read the device's partition table.",
        |s, a| {
            c("blockdev_rereadpt", s.g.blockdev_rereadpt(a.str(0)))?;
            Ok(Value::Unit)
        },
    ),
    cmd(
        "copy-device-to-device",
        &[arg("src", ArgKind::Device), arg("dest", ArgKind::Device)],
        "copy from source device to destination device",
        "Copy the source device (or a range of it) onto the destination device. \
         srcoffset:N and destoffset:N are byte offsets, size:N the bytes to copy (all of \
         the source by default); sparse:true skips zero blocks (the destination must \
         already read as zeros there). The destination must not be mounted. With --json \
         the byte counts are printed.",
        copy,
    )
    .opts(&[
        arg("srcoffset", ArgKind::Int64),
        arg("destoffset", ArgKind::Int64),
        arg("size", ArgKind::Int64),
        arg("sparse", ArgKind::Bool),
        arg("append", ArgKind::Bool),
    ]),
    cmd(
        "dd",
        &[arg("src", ArgKind::Device), arg("dest", ArgKind::Device)],
        "copy from source to destination using dd",
        "Copy all of the source device onto the destination device (as \
         copy-device-to-device without optional arguments).",
        |s, a| {
            let st = c(
                "dd",
                s.g.copy_device_to_device(a.str(0), a.str(1), &Default::default()),
            )?;
            Ok(stats(&st))
        },
    ),
];

fn stats(st: &vmcraft_block::CopyStats) -> Value {
    Value::Quiet(json!({
        "bytes": st.bytes,
        "bytes_written": st.bytes_written,
        "bytes_skipped": st.bytes_skipped,
    }))
}

fn copy(s: &mut Shell, a: &Args) -> Result<Value, CliError> {
    let opts = vmcraft_block::CopyOptions {
        srcoffset: a.opt_int("srcoffset").unwrap_or(0),
        destoffset: a.opt_int("destoffset").unwrap_or(0),
        size: a.opt_int("size"),
        sparse: a.opt_bool("sparse").unwrap_or(false),
        append: a.opt_bool("append").unwrap_or(false),
        ..Default::default()
    };
    let st = c(
        "copy_device_to_device",
        s.g.copy_device_to_device(a.str(0), a.str(1), &opts),
    )?;
    Ok(stats(&st))
}
