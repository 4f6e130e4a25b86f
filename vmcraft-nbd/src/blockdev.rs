//! The qemu block graphs this crate asks for, as JSON: a protocol node (`file`, or
//! `host_device` for a block device) under a format node, read-only or not, with
//! `"backing": null` whenever backing files are not allowed, so qemu itself never
//! opens a file the guest named. qemu-storage-daemon gets the two nodes as
//! `--blockdev` arguments; qemu-nbd gets the same graph as a `json:` filename.

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::error::{Error, ErrorKind, Result};
use crate::format::Format;
use crate::options::AttachOptions;

/// Node name of the protocol (file) node.
pub(crate) const FILE_NODE: &str = "vmcraft-file";
/// Node name of the format node (what is exported).
pub(crate) const DISK_NODE: &str = "vmcraft-disk";

/// A path as a JSON string; qemu's JSON needs UTF-8.
pub(crate) fn path_str<'a>(call: &'static str, path: &'a Path) -> Result<&'a str> {
    path.to_str().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidArgument,
            call,
            path.display(),
            "path is not valid UTF-8 (qemu's JSON options need UTF-8)",
        )
    })
}

fn protocol_driver(image: &Path) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(image) {
        Ok(m) if m.file_type().is_block_device() => "host_device",
        _ => "file",
    }
}

/// The protocol node: driver, file name, read-only, cache/aio/discard.
fn protocol_node(image: &Path, opts: &AttachOptions, with_qemu_modes: bool) -> Result<Value> {
    let mut node = Map::new();
    node.insert("driver".into(), json!(protocol_driver(image)));
    node.insert("filename".into(), json!(path_str("attach", image)?));
    if with_qemu_modes {
        if let Some(aio) = opts.aio {
            node.insert("aio".into(), json!(aio.as_str()));
        }
        if let Some(cache) = opts.cache {
            let (direct, no_flush) = cache.blockdev_flags();
            node.insert(
                "cache".into(),
                json!({ "direct": direct, "no-flush": no_flush }),
            );
        }
        if let Some(discard) = opts.discard {
            node.insert("discard".into(), json!(discard.as_str()));
        }
    }
    Ok(Value::Object(node))
}

/// The format node's own keys: driver, `"backing": null` where refused.
fn format_keys(format: Format, opts: &AttachOptions) -> Map<String, Value> {
    let mut node = Map::new();
    node.insert("driver".into(), json!(format.qemu_driver()));
    if format.has_backing_option() && !opts.allow_backing_file {
        node.insert("backing".into(), Value::Null);
    }
    node
}

/// The two `--blockdev` arguments of qemu-storage-daemon: the protocol node, then
/// the format node on top of it.
pub(crate) fn daemon_blockdevs(
    image: &Path,
    format: Format,
    opts: &AttachOptions,
) -> Result<[String; 2]> {
    let mut file = protocol_node(image, opts, true)?;
    let f = file.as_object_mut().expect("an object");
    f.insert("node-name".into(), json!(FILE_NODE));
    f.insert("read-only".into(), json!(opts.readonly));

    let mut disk = format_keys(format, opts);
    disk.insert("node-name".into(), json!(DISK_NODE));
    disk.insert("file".into(), json!(FILE_NODE));
    disk.insert("read-only".into(), json!(opts.readonly));
    if let Some(discard) = opts.discard {
        disk.insert("discard".into(), json!(discard.as_str()));
    }
    Ok([file.to_string(), Value::Object(disk).to_string()])
}

/// The `--export` argument: a FUSE export of the format node on `mountpoint` (a
/// regular file), writable unless read-only, reachable only by this user.
pub(crate) fn fuse_export(mountpoint: &Path, readonly: bool) -> Result<String> {
    Ok(json!({
        "type": "fuse",
        "id": "vmcraft-export",
        "node-name": DISK_NODE,
        "mountpoint": path_str("attach", mountpoint)?,
        "writable": !readonly,
        "allow-other": "off",
    })
    .to_string())
}

/// The image argument of qemu-nbd: the same graph as a `json:` pseudo-filename
/// (which also keeps qemu from reading a protocol prefix such as `nbd:` out of a
/// file name). The modes are given to qemu-nbd as options instead.
pub(crate) fn nbd_filename(image: &Path, format: Format, opts: &AttachOptions) -> Result<String> {
    let mut spec = format_keys(format, opts);
    spec.insert("file".into(), protocol_node(image, opts, false)?);
    Ok(format!("json:{}", Value::Object(spec)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{AioMode, CacheMode, DiscardMode};

    #[test]
    fn daemon_graph_refuses_backing_by_default() {
        let [file, disk] = daemon_blockdevs(
            Path::new("/img/a.qcow2"),
            Format::Qcow2,
            &AttachOptions::default(),
        )
        .unwrap();
        assert_eq!(
            file,
            r#"{"driver":"file","filename":"/img/a.qcow2","node-name":"vmcraft-file","read-only":false}"#
        );
        assert_eq!(
            disk,
            r#"{"backing":null,"driver":"qcow2","file":"vmcraft-file","node-name":"vmcraft-disk","read-only":false}"#
        );
    }

    #[test]
    fn daemon_graph_with_everything() {
        let opts = AttachOptions::default()
            .readonly(true)
            .allow_backing_file(true)
            .cache(CacheMode::None)
            .aio(AioMode::Native)
            .discard(DiscardMode::Unmap);
        let [file, disk] =
            daemon_blockdevs(Path::new("/i \"x\".vmdk"), Format::Vmdk, &opts).unwrap();
        assert_eq!(
            file,
            r#"{"aio":"native","cache":{"direct":true,"no-flush":false},"discard":"unmap","driver":"file","filename":"/i \"x\".vmdk","node-name":"vmcraft-file","read-only":true}"#
        );
        assert_eq!(
            disk,
            r#"{"discard":"unmap","driver":"vmdk","file":"vmcraft-file","node-name":"vmcraft-disk","read-only":true}"#
        );
    }

    #[test]
    fn formats_without_backing_get_no_backing_key() {
        for f in [Format::Raw, Format::Vhdx, Format::Vdi, Format::Vpc] {
            let [_, disk] =
                daemon_blockdevs(Path::new("/i"), f, &AttachOptions::default()).unwrap();
            assert!(!disk.contains("backing"), "{disk}");
        }
    }

    #[test]
    fn export_and_nbd_filename() {
        assert_eq!(
            fuse_export(Path::new("/run/x/export"), true).unwrap(),
            r#"{"allow-other":"off","id":"vmcraft-export","mountpoint":"/run/x/export","node-name":"vmcraft-disk","type":"fuse","writable":false}"#
        );
        let opts = AttachOptions::default().cache(CacheMode::Unsafe);
        assert_eq!(
            nbd_filename(Path::new("/img/nbd:x.qcow2"), Format::Qcow2, &opts).unwrap(),
            r#"json:{"backing":null,"driver":"qcow2","file":{"driver":"file","filename":"/img/nbd:x.qcow2"}}"#
        );
    }

    #[test]
    fn non_utf8_paths_are_refused() {
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new(std::ffi::OsStr::from_bytes(b"/img/\xff.qcow2"));
        let e = nbd_filename(p, Format::Qcow2, &AttachOptions::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("not valid UTF-8"));
    }
}
