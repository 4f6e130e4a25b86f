//! Block devices: the `blockdev-*` queries and settings, `copy-device-to-device`
//! and `dd`.

use serde_json::json;

use super::prelude::*;

pub(crate) const CALLS: &[Call] = &[
    call(
        "blockdev-getsize64",
        &[DEVICE],
        Ret::Int,
        "get total size of device in bytes",
        "The size of the device in bytes.",
        |g, a| Ok(Value::Int(g.blockdev_getsize64(a.str(0))? as i64)),
    ),
    call(
        "blockdev-getsz",
        &[DEVICE],
        Ret::Int,
        "get total size of device in 512-byte sectors",
        "The size of the device in 512-byte sectors, whatever its sector size.",
        |g, a| Ok(Value::Int(g.blockdev_getsz(a.str(0))? as i64)),
    ),
    call(
        "blockdev-getss",
        &[DEVICE],
        Ret::Int,
        "get sectorsize of block device",
        "The device's logical sector size (usually 512).",
        |g, a| Ok(Value::Int(g.blockdev_getss(a.str(0))?.into())),
    ),
    call(
        "blockdev-getbsz",
        &[DEVICE],
        Ret::Int,
        "get blocksize of block device",
        "The kernel's block size for the device.",
        |g, a| Ok(Value::Int(g.blockdev_getbsz(a.str(0))?.into())),
    ),
    call(
        "blockdev-getro",
        &[DEVICE],
        Ret::Bool,
        "is block device set to read-only",
        "Whether the device is read-only.",
        |g, a| Ok(Value::Bool(g.blockdev_getro(a.str(0))?)),
    ),
    call(
        "blockdev-setro",
        &[DEVICE],
        Ret::Unit,
        "set block device to read-only",
        "Make the device read-only.",
        |g, a| {
            g.blockdev_setro(a.str(0))?;
            Ok(Value::Unit)
        },
    )
    .flags(Flags::SESSION),
    call(
        "blockdev-setrw",
        &[DEVICE],
        Ret::Unit,
        "set block device to read-write",
        "Make the device read-write; refused on a drive added read-only.",
        |g, a| {
            g.blockdev_setrw(a.str(0))?;
            Ok(Value::Unit)
        },
    )
    .flags(Flags::SESSION),
    call(
        "blockdev-flushbufs",
        &[DEVICE],
        Ret::Unit,
        "flush device buffers",
        "Flush the device's buffers to the image.",
        |g, a| {
            g.blockdev_flushbufs(a.str(0))?;
            Ok(Value::Unit)
        },
    ),
    call(
        "blockdev-rereadpt",
        &[DEVICE],
        Ret::Unit,
        "reread partition table",
        "Ask the kernel to re-read the device's partition table.",
        |g, a| {
            g.blockdev_rereadpt(a.str(0))?;
            Ok(Value::Unit)
        },
    ),
    call(
        "copy-device-to-device",
        &[arg("src", ArgKind::Device), arg("dest", ArgKind::Device)],
        Ret::Unit,
        "copy from source device to destination device",
        "Copy the source device (or a range of it) onto the destination device. \
         srcoffset:N and destoffset:N are byte offsets, size:N the bytes to copy (all of \
         the source by default); sparse:true skips zero blocks (the destination must \
         already read as zeros there). The destination must not be mounted. With --json \
         the byte counts are printed.",
        copy,
    )
    .flags(Flags::WRITES)
    .reads(&["src"])
    .opts(&[
        arg("srcoffset", ArgKind::Int64),
        arg("destoffset", ArgKind::Int64),
        arg("size", ArgKind::Int64),
        arg("sparse", ArgKind::Bool),
        arg("append", ArgKind::Bool),
    ]),
    call(
        "dd",
        &[arg("src", ArgKind::Device), arg("dest", ArgKind::Device)],
        Ret::Unit,
        "copy from source to destination using dd",
        "Copy all of the source device onto the destination device (as \
         copy-device-to-device without optional arguments).",
        |g, a| {
            let st = g.copy_device_to_device(a.str(0), a.str(1), &Default::default())?;
            Ok(stats(&st))
        },
    )
    .flags(Flags::WRITES)
    .reads(&["src"]),
];

fn stats(st: &vmcraft_block::CopyStats) -> Value {
    Value::Quiet(json!({
        "bytes": st.bytes,
        "bytes_written": st.bytes_written,
        "bytes_skipped": st.bytes_skipped,
    }))
}

fn copy(g: &VMCraft, a: &Args) -> Result<Value> {
    let opts = vmcraft_block::CopyOptions {
        srcoffset: a.opt_int("srcoffset").unwrap_or(0),
        destoffset: a.opt_int("destoffset").unwrap_or(0),
        size: a.opt_int("size"),
        sparse: a.opt_bool("sparse").unwrap_or(false),
        append: a.opt_bool("append").unwrap_or(false),
        ..Default::default()
    };
    let st = g.copy_device_to_device(a.str(0), a.str(1), &opts)?;
    Ok(stats(&st))
}
