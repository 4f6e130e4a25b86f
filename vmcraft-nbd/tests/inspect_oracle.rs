//! Tier 2: the in-process header reader against `qemu-img info` as the oracle, on
//! images qemu-img itself made in every variant that changes the header: qcow2 v2
//! and v3, cluster sizes from 512 B to 2 MiB, 1- and 64-bit refcounts, extended
//! L2 entries, preallocated metadata, compressed clusters, backing and data files;
//! every vmdk subformat; vhdx; vdi dynamic and static; vpc dynamic and fixed.

mod common;

use std::path::Path;

use common::run;
use serde_json::Value;
use vmcraft_block::testing::{TestEnv, require_tool};
use vmcraft_nbd::{ErrorKind, Format, inspect_image};

fn qemu_info(image: &Path, format: Format) -> Value {
    let out = run(&[
        "qemu-img",
        "info",
        "--output=json",
        "-f",
        format.qemu_driver(),
        image.to_str().unwrap(),
    ]);
    serde_json::from_str(&out).unwrap()
}

/// Create an image with qemu-img, inspect it, compare with qemu-img info.
fn agree(env: &TestEnv, name: &str, format: Format, opts: &str, extra: &[&str]) {
    let image = env.path().join(name);
    let mut argv = vec!["qemu-img", "create", "-q", "-f", format.qemu_driver()];
    if !opts.is_empty() {
        argv.extend(["-o", opts]);
    }
    argv.extend(extra);
    argv.extend([image.to_str().unwrap(), "64M"]);
    run(&argv);
    check(&image, format, name);
}

fn check(image: &Path, format: Format, what: &str) {
    let info = inspect_image(image, None).unwrap_or_else(|e| {
        panic!("{what}: {}", vmcraft_block::error_chain(&e));
    });
    assert_eq!(info.format, format, "{what}");
    assert!(info.detected);
    let q = qemu_info(image, format);
    if let Some(size) = info.virtual_size {
        assert_eq!(
            Some(size),
            q["virtual-size"].as_u64(),
            "{what}: virtual size"
        );
    }
    assert_eq!(
        info.backing_file.as_deref(),
        q["backing-filename"].as_str(),
        "{what}: backing file"
    );
    let data_file = q["format-specific"]["data"]["data-file"].as_str();
    assert_eq!(info.data_file.as_deref(), data_file, "{what}: data file");
    // The extent files qemu opened, less the image itself: exactly ours.
    let dir = image.parent().unwrap();
    let mut theirs: Vec<String> = q["format-specific"]["data"]["extents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["filename"].as_str().map(str::to_string))
        .filter(|f| Path::new(f) != image)
        .collect();
    let mut ours: Vec<String> = info
        .extents
        .iter()
        .map(|e| dir.join(&e.file).to_string_lossy().into_owned())
        .collect();
    theirs.sort();
    ours.sort();
    assert_eq!(ours, theirs, "{what}: extent files");
    assert_eq!(
        info.file_size,
        std::fs::metadata(image).unwrap().len(),
        "{what}"
    );
}

#[test]
fn qcow2_variants() {
    if !require_tool("qemu-img") || !require_tool("qemu-io") {
        return;
    }
    let env = TestEnv::new("oracle-qcow2");
    let q = Format::Qcow2;
    agree(&env, "default.qcow2", q, "", &[]);
    agree(&env, "v2.qcow2", q, "compat=0.10", &[]);
    agree(&env, "c512.qcow2", q, "cluster_size=512", &[]);
    agree(&env, "c2m.qcow2", q, "cluster_size=2M", &[]);
    agree(&env, "r1.qcow2", q, "refcount_bits=1", &[]);
    agree(&env, "r64.qcow2", q, "refcount_bits=64", &[]);
    agree(&env, "extl2.qcow2", q, "extended_l2=on", &[]);
    agree(&env, "lazy.qcow2", q, "lazy_refcounts=on", &[]);
    agree(&env, "prealloc.qcow2", q, "preallocation=metadata", &[]);
    agree(&env, "zstd.qcow2", q, "compression_type=zstd", &[]);
    // qemu-img makes a relative data file in its working directory: name it whole.
    let data = format!("data_file={}", env.path().join("datafile.raw").display());
    agree(&env, "datafile.qcow2", q, &data, &[]);
    agree(
        &env,
        "overlay.qcow2",
        q,
        "",
        &["-b", "default.qcow2", "-F", "qcow2"],
    );

    // Data written by qemu in all of these: L2 tables and refcounts to check.
    for name in [
        "default.qcow2",
        "c512.qcow2",
        "r1.qcow2",
        "r64.qcow2",
        "extl2.qcow2",
    ] {
        let image = env.path().join(name);
        run(&[
            "qemu-io",
            "-f",
            "qcow2",
            "-c",
            "write -P 0x11 0 3M",
            "-c",
            "write -P 0x22 40M 1M",
            image.to_str().unwrap(),
        ]);
        check(&image, q, name);
    }
    // Compressed clusters.
    let raw = env.path().join("src.raw");
    run(&[
        "qemu-img",
        "create",
        "-q",
        "-f",
        "raw",
        raw.to_str().unwrap(),
        "16M",
    ]);
    run(&[
        "qemu-io",
        "-f",
        "raw",
        "-c",
        "write -P 0x33 0 4M",
        raw.to_str().unwrap(),
    ]);
    let compressed = env.path().join("compressed.qcow2");
    run(&[
        "qemu-img",
        "convert",
        "-c",
        "-O",
        "qcow2",
        raw.to_str().unwrap(),
        compressed.to_str().unwrap(),
    ]);
    check(&compressed, q, "compressed");
}

#[test]
fn qcow2_with_a_data_file_is_refused_by_default() {
    if !require_tool("qemu-img") {
        return;
    }
    let env = TestEnv::new("oracle-datafile");
    let image = env.path().join("x.qcow2");
    let raw = env.path().join("x.raw");
    run(&[
        "qemu-img",
        "create",
        "-q",
        "-f",
        "qcow2",
        "-o",
        &format!("data_file={}", raw.display()),
        image.to_str().unwrap(),
        "16M",
    ]);
    let info = inspect_image(&image, None).unwrap();
    let e = info.check_references(image.display(), false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BackingFileRefused);
    assert!(
        e.to_string().contains(&format!(
            "names external data file {:?}",
            raw.display().to_string()
        )),
        "{e}"
    );
}

#[test]
fn vmdk_variants() {
    if !require_tool("qemu-img") {
        return;
    }
    let env = TestEnv::new("oracle-vmdk");
    let v = Format::Vmdk;
    agree(&env, "sparse.vmdk", v, "", &[]);
    agree(&env, "flat.vmdk", v, "subformat=monolithicFlat", &[]);
    agree(&env, "split.vmdk", v, "subformat=twoGbMaxExtentSparse", &[]);
    agree(
        &env,
        "splitflat.vmdk",
        v,
        "subformat=twoGbMaxExtentFlat",
        &[],
    );
    agree(&env, "stream.vmdk", v, "subformat=streamOptimized", &[]);
    agree(
        &env,
        "child.vmdk",
        v,
        "",
        &["-b", "sparse.vmdk", "-F", "vmdk"],
    );
    let info = inspect_image(env.path().join("flat.vmdk"), None).unwrap();
    let files: Vec<&str> = info.extents.iter().map(|e| e.file.as_str()).collect();
    assert_eq!(files, ["flat-flat.vmdk"]);
    // Split vmdks are followed only on request (AttachOptions::allow_vmdk_extents).
    let e = info.check_references("flat.vmdk", false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BackingFileRefused);
    info.check_references("flat.vmdk", true).unwrap();
}

#[test]
fn vhdx_vdi_vpc() {
    if !require_tool("qemu-img") {
        return;
    }
    let env = TestEnv::new("oracle-others");
    agree(&env, "a.vhdx", Format::Vhdx, "", &[]);
    agree(&env, "a.vdi", Format::Vdi, "", &[]);
    agree(&env, "s.vdi", Format::Vdi, "static=on", &[]);
    agree(&env, "a.vpc", Format::Vpc, "", &[]);
    // qemu's own probe takes a fixed VHD for raw (it looks only at the start); the
    // checksummed footer at the end says otherwise.
    agree(&env, "f.vpc", Format::Vpc, "subformat=fixed", &[]);
    let raw = env.sparse_image("plain.img", 1 << 20);
    check(&raw, Format::Raw, "raw");
}
