//! Tier 3: every format attached for real (loop for raw, the qemu-storage-daemon
//! FUSE export for the rest), a partition table and an ext4 filesystem written
//! through the device, detached, checked with `qemu-img check` and against
//! `qemu-img convert` as an oracle, re-attached (partition nodes recreated) and read
//! back; the block-device conformance suite on both backends; nothing left behind.

mod common;

use std::path::Path;

use common::{
    assert_no_leaks, create_image, loops_under, mount, opts, privileged, qemu_img_check, run,
    unmount,
};
use vmcraft_block::testing::{TestEnv, conformance, require_tool};
use vmcraft_block::{BlockDevice, ImageFile};
use vmcraft_nbd::{AttachOptions, Attachment, Backend, Format, attach};

/// Distinct bytes for each place written.
fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Offsets to write at: aligned, unaligned, near the end. In [`round_trip`] they
/// all lie inside partition 2, which holds no filesystem.
fn places(size: u64) -> [(u64, usize); 3] {
    [
        (20 << 20, 4096),
        (size / 2 + 1234, 10_000),
        (size - (64 << 10), 4096),
    ]
}

fn write_places(att: &Attachment, seed: u8) {
    let size = att.size().unwrap();
    for (i, (off, len)) in places(size).into_iter().enumerate() {
        att.write_at(&pattern(seed + i as u8, len), off).unwrap();
    }
    att.flush().unwrap();
}

fn check_places(dev: &dyn BlockDevice, seed: u8, size: u64) {
    for (i, (off, len)) in places(size).into_iter().enumerate() {
        let mut buf = vec![0u8; len];
        dev.read_at(&mut buf, off).unwrap();
        assert!(
            buf == pattern(seed + i as u8, len),
            "data at {off}+{len} differs on {}",
            dev.name()
        );
    }
}

/// Create an image; attach it; write a GPT with two partitions through the device,
/// an ext4 filesystem holding a file on partition 1, and raw data in partition 2;
/// detach; check the image with qemu-img and compare qemu-img's own reading of it;
/// re-attach read-only and read everything back through the partition nodes.
fn round_trip(label: &str, format: Format, create_opts: &str, want_backend: Backend) {
    round_trip_with(label, format, create_opts, want_backend, |o| o);
}

/// [`round_trip`] with the attach options adjusted (split vmdks need
/// `allow_vmdk_extents`).
fn round_trip_with(
    label: &str,
    format: Format,
    create_opts: &str,
    want_backend: Backend,
    adjust: fn(AttachOptions) -> AttachOptions,
) {
    if !privileged("attaching images") || !require_tool("mkfs.ext4") {
        return;
    }
    let env = TestEnv::new(label);
    let image = create_image(&env, &format!("disk.{format}"), format, "64M", create_opts);
    assert!(loops_under(env.path()).is_empty());
    let mnt = env.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let message = format!("written through a {format} image\n");

    let mut att = attach(&image, adjust(opts(&env))).unwrap();
    assert_eq!(att.format(), format);
    assert_eq!(att.backend(), want_backend, "{}", att.backend_reason());
    assert!(att.device().to_string_lossy().starts_with("/dev/loop"));
    assert!(
        att.partitions().is_empty(),
        "a blank image has no partitions"
    );
    let size = att.size().unwrap();
    assert!(size >= 64 << 20, "{size}");
    vmcraft_part::part_init(&att, "gpt").unwrap();
    vmcraft_part::part_add(&att, "p", 2048, 32767).unwrap();
    vmcraft_part::part_add(&att, "p", 32768, -34).unwrap();
    let parts = att.refresh_partitions().unwrap().to_vec();
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert_eq!((parts[0].number, parts[0].start), (1, 2048 * 512));
    assert_eq!(parts[0].size, (32768 - 2048) * 512);
    for p in &parts {
        let meta = std::fs::metadata(&p.node).unwrap();
        assert!(std::os::unix::fs::FileTypeExt::is_block_device(
            &meta.file_type()
        ));
    }
    let p1 = parts[0].node.to_str().unwrap().to_string();
    run(&["mkfs.ext4", "-q", "-F", &p1]);
    mount(&parts[0].node, &mnt, false);
    std::fs::write(mnt.join("hello.txt"), &message).unwrap();
    unmount(&mnt);
    write_places(&att, 7);
    att.detach().unwrap();
    assert_no_leaks(&env);

    qemu_img_check(&image, format);
    // qemu's own view of the image, as raw bytes.
    let raw = env.path().join("oracle.raw");
    run(&[
        "qemu-img",
        "convert",
        "-f",
        format.qemu_driver(),
        "-O",
        "raw",
        image.to_str().unwrap(),
        raw.to_str().unwrap(),
    ]);
    let oracle = ImageFile::open(&raw, true).unwrap();
    assert_eq!(oracle.size().unwrap(), size, "qemu-img sees another size");
    check_places(&oracle, 7, size);
    let mut gpt = [0u8; 8];
    oracle.read_at(&mut gpt, 512).unwrap();
    assert_eq!(&gpt, b"EFI PART");
    drop(oracle);
    std::fs::remove_file(&raw).unwrap();

    let att = attach(&image, adjust(opts(&env)).readonly(true)).unwrap();
    assert_eq!(att.partitions().len(), 2);
    let layout = |ps: &[vmcraft_block::KernelPartition]| {
        ps.iter()
            .map(|p| (p.number, p.start, p.size))
            .collect::<Vec<_>>()
    };
    assert_eq!(layout(att.partitions()), layout(&parts));
    assert!(att.partitions()[0].node.starts_with("/dev"));
    check_places(&att, 7, size);
    mount(&att.partitions()[0].node, &mnt, true);
    let back = std::fs::read_to_string(mnt.join("hello.txt"));
    unmount(&mnt);
    assert_eq!(back.unwrap(), message);
    att.detach().unwrap();
    assert_no_leaks(&env);
}

#[test]
fn raw_through_loop() {
    round_trip("raw", Format::Raw, "", Backend::Loop);
}

#[test]
fn qcow2_through_the_storage_daemon() {
    round_trip("qcow2", Format::Qcow2, "", Backend::StorageDaemon);
}

#[test]
fn qcow2_v2_small_clusters() {
    round_trip(
        "qcow2v2",
        Format::Qcow2,
        "compat=0.10,cluster_size=4096",
        Backend::StorageDaemon,
    );
}

#[test]
fn vmdk_monolithic_sparse() {
    round_trip("vmdk", Format::Vmdk, "", Backend::StorageDaemon);
}

#[test]
fn vmdk_descriptor_with_flat_extent() {
    round_trip_with(
        "vmdkflat",
        Format::Vmdk,
        "subformat=monolithicFlat",
        Backend::StorageDaemon,
        |o| o.format(Format::Vmdk).allow_vmdk_extents(true),
    );
}

#[test]
fn vmdk_descriptor_with_split_sparse_extents() {
    round_trip_with(
        "vmdk2g",
        Format::Vmdk,
        "subformat=twoGbMaxExtentSparse",
        Backend::StorageDaemon,
        |o| o.format(Format::Vmdk).allow_vmdk_extents(true),
    );
}

#[test]
fn vmdk_descriptor_with_split_flat_extents() {
    round_trip_with(
        "vmdk2gflat",
        Format::Vmdk,
        "subformat=twoGbMaxExtentFlat",
        Backend::StorageDaemon,
        |o| o.format(Format::Vmdk).allow_vmdk_extents(true),
    );
}

#[test]
fn vhdx() {
    round_trip("vhdx", Format::Vhdx, "", Backend::StorageDaemon);
}

#[test]
fn vdi_dynamic() {
    round_trip("vdi", Format::Vdi, "", Backend::StorageDaemon);
}

#[test]
fn vdi_static() {
    round_trip(
        "vdistatic",
        Format::Vdi,
        "static=on",
        Backend::StorageDaemon,
    );
}

#[test]
fn vpc_dynamic() {
    round_trip("vpc", Format::Vpc, "", Backend::StorageDaemon);
}

#[test]
fn vpc_fixed_found_by_its_footer() {
    round_trip(
        "vpcfixed",
        Format::Vpc,
        "subformat=fixed",
        Backend::StorageDaemon,
    );
}

#[test]
fn raw_through_the_storage_daemon_when_asked() {
    if !privileged("attaching images") {
        return;
    }
    let env = TestEnv::new("rawqsd");
    let image = env.sparse_image("disk.img", 32 << 20);
    let att = attach(&image, opts(&env).backend(Backend::StorageDaemon)).unwrap();
    assert_eq!(att.backend(), Backend::StorageDaemon);
    assert_eq!(att.backend_reason(), "storage-daemon backend requested");
    write_places(&att, 3);
    att.detach().unwrap();
    check_places(&ImageFile::open(&image, true).unwrap(), 3, 32 << 20);
    assert_no_leaks(&env);
}

#[test]
fn conformance_on_loop_and_daemon_attachments() {
    if !privileged("attaching images") {
        return;
    }
    let env = TestEnv::new("conformance");
    let raw = env.sparse_image("disk.img", 16 << 20);
    let att = attach(&raw, opts(&env)).unwrap();
    conformance::check_read_write(&att);
    drop(att);
    let q = create_image(&env, "disk.qcow2", Format::Qcow2, "16M", "");
    let att = attach(&q, opts(&env)).unwrap();
    conformance::check_read_write(&att);
    att.detach().unwrap();
    qemu_img_check(&q, Format::Qcow2);
    assert_no_leaks(&env);
}

#[test]
fn drop_detaches_everything() {
    if !privileged("attaching images") {
        return;
    }
    let env = TestEnv::new("drop");
    let q = create_image(&env, "disk.qcow2", Format::Qcow2, "16M", "");
    let att = attach(&q, opts(&env)).unwrap();
    let dev = att.device().to_path_buf();
    let pid = att.daemon_pid().unwrap();
    let export = att.loop_backing_file().unwrap().to_path_buf();
    assert!(export.starts_with(env.path()));
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    att.check().unwrap();
    drop(att);
    assert_no_leaks(&env);
    assert!(!export.exists(), "runtime files removed");
    let bound = std::fs::read_to_string(format!(
        "/sys/block/{}/loop/backing_file",
        dev.file_name().unwrap().to_string_lossy()
    ));
    assert!(
        bound.map_or(true, |b| !b.contains(env.tag())),
        "loop device still bound"
    );
}

#[test]
fn relative_image_paths_are_made_absolute() {
    if !privileged("attaching images") {
        return;
    }
    let env = TestEnv::new("relative");
    create_image(&env, "disk.qcow2", Format::Qcow2, "8M", "");
    // A path relative to the current directory, which the test does not change:
    // go through /proc/self/cwd's view of the absolute path instead.
    let cwd = std::env::current_dir().unwrap();
    let rel = pathdiff(&env.path().join("disk.qcow2"), &cwd);
    let att = attach(&rel, opts(&env)).unwrap();
    assert!(att.image().is_absolute());
    assert_eq!(att.image(), env.path().join("disk.qcow2"));
    att.detach().unwrap();
    assert_no_leaks(&env);
}

/// `target` relative to `base` (both absolute), with `..` components.
fn pathdiff(target: &Path, base: &Path) -> std::path::PathBuf {
    let t: Vec<_> = target.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = std::path::PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    out
}
