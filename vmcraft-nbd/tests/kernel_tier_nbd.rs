//! The kernel test tier (`cargo xtask test-kernel`), or a host with the nbd module: an image attached through
//! `qemu-nbd --connect` for real, partitioned and written through the device,
//! detached (the disconnect verified), re-attached read-only and read back. On
//! hosts without the module this is a loud skip that stays a skip in strict mode.

mod common;

use common::{assert_no_leaks, create_image, opts, privileged, sha256};
use vmcraft_block::BlockDevice;
use vmcraft_block::testing::{TestEnv, require_kernel_feature, require_tool};
use vmcraft_nbd::{Backend, Format, NbdHost, attach};

#[test]
fn kernel_nbd_round_trip() {
    if !privileged("kernel nbd") || !require_tool("qemu-nbd") {
        return;
    }
    let host = NbdHost::system(None);
    if !require_kernel_feature(
        "the nbd module (/dev/nbd0)",
        host.is_available() || host.module_loadable(),
    ) {
        return;
    }
    let env = TestEnv::new("nbd");
    let image = create_image(&env, "disk.qcow2", Format::Qcow2, "64M", "");
    let mut att = attach(&image, opts(&env).backend(Backend::KernelNbd)).unwrap();
    assert_eq!(att.backend(), Backend::KernelNbd);
    let dev = att.device().to_path_buf();
    assert!(
        dev.to_string_lossy().starts_with("/dev/nbd"),
        "{}",
        dev.display()
    );
    assert_eq!(att.size().unwrap(), 64 << 20);
    vmcraft_part::part_init(&att, "gpt").unwrap();
    vmcraft_part::part_add(&att, "p", 2048, 32767).unwrap();
    vmcraft_part::part_add(&att, "p", 32768, -34).unwrap();
    assert_eq!(att.refresh_partitions().unwrap().len(), 2);
    att.write_at(&[0x6B; 4096], 40 << 20).unwrap();
    att.detach().unwrap();
    let n: u32 = dev.to_string_lossy()["/dev/nbd".len()..].parse().unwrap();
    assert!(
        !host.is_connected(n),
        "the disconnect left {} connected",
        dev.display()
    );
    common::qemu_img_check(&image, Format::Qcow2);

    let before = sha256(&image);
    let att = attach(
        &image,
        opts(&env).backend(Backend::KernelNbd).readonly(true),
    )
    .unwrap();
    assert_eq!(att.partitions().len(), 2);
    let mut buf = [0u8; 4096];
    att.read_at(&mut buf, 40 << 20).unwrap();
    assert_eq!(buf, [0x6B; 4096]);
    assert!(att.write_at(&[1; 512], 0).is_err());
    att.detach().unwrap();
    assert_eq!(sha256(&image), before);
    assert_no_leaks(&env);
}
