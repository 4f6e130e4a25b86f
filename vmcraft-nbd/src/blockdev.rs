//! The qemu block graphs this crate asks for, as JSON, made from a judged
//! [`ImageChain`]: for every image of the chain a protocol node (`file`, or
//! `host_device` for a block device) under a format node whose driver is pinned,
//! the next image as its `"backing"`, and `"backing": null` at the bottom, so
//! qemu itself never opens a file the guest named (vmdk extents, which qemu opens
//! by name, are judged in `chain.rs` and checked again once qemu has opened
//! them). qemu-storage-daemon gets the nodes as `--blockdev` arguments; qemu-nbd
//! gets the same graph as a `json:` filename.

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::chain::ImageChain;
use crate::error::{Error, ErrorKind, Result};
use crate::options::AttachOptions;

/// Node name of the top image's protocol (file) node.
pub(crate) const FILE_NODE: &str = "vmcraft-file";
/// Node name of the top image's format node (what is exported, unless an
/// overlay is).
pub(crate) const DISK_NODE: &str = "vmcraft-disk";
/// Node name of a read-only image's throw-away overlay (exported instead).
pub(crate) const OVERLAY_NODE: &str = "vmcraft-overlay";
/// Node name of the overlay's protocol (file) node.
const OVERLAY_FILE_NODE: &str = "vmcraft-overlay-file";

/// The node names of chain node `i` (0 is the top image): protocol, format,
/// external data file.
fn node_names(i: usize) -> [String; 3] {
    if i == 0 {
        [FILE_NODE.into(), DISK_NODE.into(), "vmcraft-data".into()]
    } else {
        [
            format!("vmcraft-file-{i}"),
            format!("vmcraft-disk-{i}"),
            format!("vmcraft-data-{i}"),
        ]
    }
}

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

/// A protocol node: driver, file name, cache/aio/discard.
fn protocol_node(
    image: &Path,
    opts: &AttachOptions,
    with_qemu_modes: bool,
) -> Result<Map<String, Value>> {
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
    Ok(node)
}

/// Whether chain node `i` is opened read-only: the top as asked, every backing
/// file always (qemu writes only to the top of a chain).
fn node_readonly(i: usize, opts: &AttachOptions) -> bool {
    i > 0 || opts.readonly
}

/// The `--blockdev` arguments of qemu-storage-daemon for the whole chain, bottom
/// up (a node is defined before a node refers to it): for each image its
/// protocol node, its data file's node, then its format node with the driver
/// pinned and `"backing"` naming the next node, or `null` at the bottom.
pub(crate) fn daemon_blockdevs(chain: &ImageChain, opts: &AttachOptions) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (i, node) in chain.nodes.iter().enumerate().rev() {
        let [file_name, disk_name, data_name] = node_names(i);
        let ro = node_readonly(i, opts);
        let mut file = protocol_node(&node.path, opts, true)?;
        file.insert("node-name".into(), json!(file_name));
        file.insert("read-only".into(), json!(ro));
        out.push(Value::Object(file).to_string());
        let mut disk = Map::new();
        disk.insert("driver".into(), json!(node.format().qemu_driver()));
        disk.insert("node-name".into(), json!(disk_name));
        disk.insert("file".into(), json!(file_name));
        disk.insert("read-only".into(), json!(ro));
        if let Some(data) = &node.data_file {
            let mut d = protocol_node(data, opts, true)?;
            d.insert("node-name".into(), json!(data_name));
            d.insert("read-only".into(), json!(ro));
            out.push(Value::Object(d).to_string());
            disk.insert("data-file".into(), json!(data_name));
        }
        if node.format().has_backing_option() {
            let below = match chain.nodes.get(i + 1) {
                Some(_) => json!(node_names(i + 1)[1]),
                None => Value::Null,
            };
            disk.insert("backing".into(), below);
        }
        if i == 0
            && let Some(discard) = opts.discard
        {
            disk.insert("discard".into(), json!(discard.as_str()));
        }
        out.push(Value::Object(disk).to_string());
    }
    Ok(out)
}

/// The nodes of a throw-away overlay (for QMP `blockdev-add`, in order): its
/// file, writable, and a qcow2 node on it whose backing is the read-only image
/// node, named here, whatever (nothing) the overlay's header says.
pub(crate) fn overlay_blockdevs(overlay: &Path) -> Result<[Value; 2]> {
    Ok([
        json!({
            "driver": "file",
            "node-name": OVERLAY_FILE_NODE,
            "filename": path_str("attach", overlay)?,
        }),
        json!({
            "driver": "qcow2",
            "node-name": OVERLAY_NODE,
            "file": OVERLAY_FILE_NODE,
            "backing": DISK_NODE,
        }),
    ])
}

/// The options of the `blockdev-create` job that formats the overlay's file as an
/// empty qcow2 of `size` bytes.
pub(crate) fn overlay_create(size: u64) -> Value {
    json!({
        "job-id": "vmcraft-overlay-create",
        "options": { "driver": "qcow2", "file": OVERLAY_FILE_NODE, "size": size },
    })
}

/// The `--export` argument (or `block-export-add`'s): a FUSE export of `node` on
/// `mountpoint` (a regular file), writable unless read-only, reachable only by
/// this user.
pub(crate) fn fuse_export(mountpoint: &Path, node: &str, readonly: bool) -> Result<String> {
    Ok(json!({
        "type": "fuse",
        "id": "vmcraft-export",
        "node-name": node,
        "mountpoint": path_str("attach", mountpoint)?,
        "writable": !readonly,
        "allow-other": "off",
    })
    .to_string())
}

/// Chain node `i` and everything below it as one nested JSON object.
fn nested_node(chain: &ImageChain, i: usize, opts: &AttachOptions) -> Result<Value> {
    let node = &chain.nodes[i];
    let mut spec = Map::new();
    spec.insert("driver".into(), json!(node.format().qemu_driver()));
    spec.insert(
        "file".into(),
        Value::Object(protocol_node(&node.path, opts, false)?),
    );
    if i > 0 {
        spec.insert("read-only".into(), json!(true));
    }
    if let Some(data) = &node.data_file {
        spec.insert(
            "data-file".into(),
            Value::Object(protocol_node(data, opts, false)?),
        );
    }
    if node.format().has_backing_option() {
        let below = match chain.nodes.get(i + 1) {
            Some(_) => nested_node(chain, i + 1, opts)?,
            None => Value::Null,
        };
        spec.insert("backing".into(), below);
    }
    Ok(Value::Object(spec))
}

/// The image argument of qemu-nbd and qemu-img: the same graph as a `json:`
/// pseudo-filename (which also keeps qemu from reading a protocol prefix such as
/// `nbd:` out of a file name). The modes are given to qemu-nbd as options instead.
pub(crate) fn nbd_filename(chain: &ImageChain, opts: &AttachOptions) -> Result<String> {
    Ok(format!("json:{}", nested_node(chain, 0, opts)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::ChainNode;
    use crate::format::{Format, ImageInfo};
    use crate::options::{AioMode, CacheMode, DiscardMode};

    fn single(path: &str, format: Format) -> ImageChain {
        ImageChain::single(Path::new(path), format)
    }

    #[test]
    fn daemon_graph_pins_the_driver_and_refuses_backing() {
        let args = daemon_blockdevs(
            &single("/img/a.qcow2", Format::Qcow2),
            &AttachOptions::default(),
        )
        .unwrap();
        assert_eq!(
            args,
            [
                r#"{"driver":"file","filename":"/img/a.qcow2","node-name":"vmcraft-file","read-only":false}"#,
                r#"{"backing":null,"driver":"qcow2","file":"vmcraft-file","node-name":"vmcraft-disk","read-only":false}"#
            ]
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
        let args = daemon_blockdevs(&single("/i \"x\".vmdk", Format::Vmdk), &opts).unwrap();
        assert_eq!(
            args,
            [
                r#"{"aio":"native","cache":{"direct":true,"no-flush":false},"discard":"unmap","driver":"file","filename":"/i \"x\".vmdk","node-name":"vmcraft-file","read-only":true}"#,
                r#"{"backing":null,"discard":"unmap","driver":"vmdk","file":"vmcraft-file","node-name":"vmcraft-disk","read-only":true}"#
            ]
        );
    }

    fn node(path: &str, format: Format, data: Option<&str>) -> ChainNode {
        ChainNode {
            path: path.into(),
            info: ImageInfo::new(format, false, 0),
            data_file: data.map(Into::into),
        }
    }

    #[test]
    fn a_chain_is_given_node_by_node_bottom_up() {
        let chain = ImageChain {
            nodes: vec![
                node("/i/top.qcow2", Format::Qcow2, Some("/i/top.data")),
                node("/i/mid.vmdk", Format::Vmdk, None),
                node("/b/base.raw", Format::Raw, None),
            ],
            extents: Vec::new(),
            ids: Vec::new(),
        };
        let args = daemon_blockdevs(&chain, &AttachOptions::default()).unwrap();
        assert_eq!(
            args,
            [
                r#"{"driver":"file","filename":"/b/base.raw","node-name":"vmcraft-file-2","read-only":true}"#,
                r#"{"driver":"raw","file":"vmcraft-file-2","node-name":"vmcraft-disk-2","read-only":true}"#,
                r#"{"driver":"file","filename":"/i/mid.vmdk","node-name":"vmcraft-file-1","read-only":true}"#,
                r#"{"backing":"vmcraft-disk-2","driver":"vmdk","file":"vmcraft-file-1","node-name":"vmcraft-disk-1","read-only":true}"#,
                r#"{"driver":"file","filename":"/i/top.qcow2","node-name":"vmcraft-file","read-only":false}"#,
                r#"{"driver":"file","filename":"/i/top.data","node-name":"vmcraft-data","read-only":false}"#,
                r#"{"backing":"vmcraft-disk-1","data-file":"vmcraft-data","driver":"qcow2","file":"vmcraft-file","node-name":"vmcraft-disk","read-only":false}"#,
            ]
        );
        assert_eq!(
            nbd_filename(&chain, &AttachOptions::default()).unwrap(),
            r#"json:{"backing":{"backing":{"driver":"raw","file":{"driver":"file","filename":"/b/base.raw"},"read-only":true},"driver":"vmdk","file":{"driver":"file","filename":"/i/mid.vmdk"},"read-only":true},"data-file":{"driver":"file","filename":"/i/top.data"},"driver":"qcow2","file":{"driver":"file","filename":"/i/top.qcow2"}}"#
        );
    }

    #[test]
    fn formats_without_backing_get_no_backing_key() {
        for f in [Format::Raw, Format::Vhdx, Format::Vdi, Format::Vpc] {
            let args = daemon_blockdevs(&single("/i", f), &AttachOptions::default()).unwrap();
            assert!(!args[1].contains("backing"), "{}", args[1]);
        }
    }

    #[test]
    fn export_and_nbd_filename() {
        assert_eq!(
            fuse_export(Path::new("/run/x/export"), DISK_NODE, true).unwrap(),
            r#"{"allow-other":"off","id":"vmcraft-export","mountpoint":"/run/x/export","node-name":"vmcraft-disk","type":"fuse","writable":false}"#
        );
        let opts = AttachOptions::default().cache(CacheMode::Unsafe);
        assert_eq!(
            nbd_filename(&single("/img/nbd:x.qcow2", Format::Qcow2), &opts).unwrap(),
            r#"json:{"backing":null,"driver":"qcow2","file":{"driver":"file","filename":"/img/nbd:x.qcow2"}}"#
        );
    }

    #[test]
    fn non_utf8_paths_are_refused() {
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new(std::ffi::OsStr::from_bytes(b"/img/\xff.qcow2"));
        let e = nbd_filename(
            &ImageChain::single(p, Format::Qcow2),
            &AttachOptions::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("not valid UTF-8"));
    }
}
