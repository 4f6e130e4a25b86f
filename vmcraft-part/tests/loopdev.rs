//! Privileged tests (tier 3) on real loop devices: partition nodes appear when a
//! call returns and vanish after `part_del`, also while another partition of the
//! disk is mounted; `mkfs` on a new node right after `part_add` works (no udev
//! race); a mounted partition cannot be deleted and the refusal changes nothing;
//! `sync_kernel_partitions` makes the kernel match the table and leaves
//! unchanged partitions alone.

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use vmcraft_block::device::Named;
use vmcraft_block::testing::{LoopFixture, require_tool};
use vmcraft_block::{BlockDevice, DeviceNode, KernelPartition};
use vmcraft_part::*;

const MIB: u64 = 1 << 20;

/// The loop device without its kernel node: writes through it do not touch the
/// kernel's partitions, so `sync_kernel_partitions` can be tested on its own.
struct Hidden<'a>(&'a DeviceNode);

impl BlockDevice for Hidden<'_> {
    fn size(&self) -> vmcraft_block::Result<u64> {
        self.0.size()
    }
    fn logical_sector_size(&self) -> vmcraft_block::Result<u32> {
        self.0.logical_sector_size()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> vmcraft_block::Result<()> {
        self.0.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> vmcraft_block::Result<()> {
        self.0.write_at(buf, offset)
    }
    fn flush(&self) -> vmcraft_block::Result<()> {
        self.0.flush()
    }
    fn name(&self) -> String {
        self.0.name()
    }
}

/// (number, start sector, sectors) of the kernel's partitions.
fn kernel(node: &DeviceNode) -> Vec<(u32, u64, u64)> {
    node.kernel_partitions()
        .unwrap()
        .iter()
        .map(|k| (k.number, k.start / 512, k.size / 512))
        .collect()
}

/// The `/dev` node of partition `n` (the kernel's name for it).
fn part_node(node: &DeviceNode, n: u32) -> PathBuf {
    let leaf = node
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    PathBuf::from(format!("/dev/{leaf}p{n}"))
}

fn is_block(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.file_type().is_block_device())
}

fn tools() -> bool {
    ["mkfs.ext4", "mount", "umount"]
        .iter()
        .all(|t| require_tool(t))
}

fn mkfs(node: &Path) {
    common::run_ok(&["mkfs.ext4", "-q", "-F", node.to_str().unwrap()]);
}

fn mount(node: &Path, at: &Path) {
    std::fs::create_dir_all(at).unwrap();
    common::run_ok(&[
        "mount",
        "-t",
        "ext4",
        node.to_str().unwrap(),
        at.to_str().unwrap(),
    ]);
}

fn umount(at: &Path) {
    common::run_ok(&["umount", at.to_str().unwrap()]);
}

fn is_mounted(at: &Path) -> bool {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mi.lines()
        .any(|l| l.split(' ').nth(4) == Some(at.to_str().unwrap()))
}

#[test]
fn nodes_follow_add_and_del_on_gpt_and_msdos() {
    let Some(fx) = LoopFixture::new("part-nodes", 64 * MIB) else {
        return;
    };
    let node = fx.device().node();
    // As the facade will pass it: a libguestfs name over the real node.
    let dev = Named::new(node, "/dev/sda");
    part_init(&dev, "gpt").unwrap();
    assert!(kernel(node).is_empty());
    part_add(&dev, "p", 2048, 4095).unwrap();
    // No waiting: the node is there when the call returns.
    assert!(is_block(&part_node(node, 1)));
    assert_eq!(kernel(node), [(1, 2048, 2048)]);
    part_add(&dev, "p", 4096, -1).unwrap();
    assert!(is_block(&part_node(node, 2)));
    let last = 64 * MIB / 512 - 34;
    assert_eq!(kernel(node), [(1, 2048, 2048), (2, 4096, last - 4096 + 1)]);
    part_resize(&dev, 2, 20_000).unwrap();
    assert_eq!(kernel(node)[1], (2, 4096, 20_000 - 4096 + 1));
    part_del(&dev, 1).unwrap();
    assert!(!part_node(node, 1).exists());
    assert_eq!(kernel(node), [(2, 4096, 20_000 - 4096 + 1)]);
    let e = part_del(&dev, 1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "part_del: /dev/sda: partition 1 does not exist"
    );

    // msdos with logical partitions: the extended partition appears as the kernel
    // shows it (1 KiB), the logical ones as 5 and 6.
    part_init(&dev, "msdos").unwrap();
    assert!(kernel(node).is_empty());
    assert!(!part_node(node, 2).exists());
    part_add(&dev, "p", 2048, 4095).unwrap();
    part_add(&dev, "e", 4096, -1).unwrap();
    part_add(&dev, "l", 6144, 8191).unwrap();
    part_add(&dev, "l", 10240, 12287).unwrap();
    assert_eq!(
        kernel(node),
        [
            (1, 2048, 2048),
            (2, 4096, 2),
            (5, 6144, 2048),
            (6, 10240, 2048)
        ]
    );
    for n in [1, 2, 5, 6] {
        assert!(is_block(&part_node(node, n)), "p{n}");
    }
    // Deleting logical 5 renumbers 6 to 5: the kernel follows.
    part_del(&dev, 5).unwrap();
    assert_eq!(
        kernel(node),
        [(1, 2048, 2048), (2, 4096, 2), (5, 10240, 2048)]
    );
    assert!(!part_node(node, 6).exists());
    part_del(&dev, 2).unwrap();
    assert_eq!(kernel(node), [(1, 2048, 2048)]);
    for n in [2, 5, 6] {
        assert!(!part_node(node, n).exists(), "p{n}");
    }
}

#[test]
fn mkfs_right_after_part_add() {
    let Some(fx) = LoopFixture::new("part-mkfs", 64 * MIB) else {
        return;
    };
    if !tools() {
        return;
    }
    let node = fx.device().node();
    for round in 0..5 {
        let kind = if round % 2 == 0 { "gpt" } else { "msdos" };
        part_init(node, kind).unwrap();
        part_add(node, "p", 2048, 40_959).unwrap();
        mkfs(&part_node(node, 1));
        part_add(node, "p", 40_960, 81_919).unwrap();
        mkfs(&part_node(node, 2));
        part_del(node, 1).unwrap();
        assert!(!part_node(node, 1).exists(), "round {round}");
    }
}

#[test]
fn changes_while_another_partition_is_mounted() {
    let Some(fx) = LoopFixture::new("part-mounted", 64 * MIB) else {
        return;
    };
    if !tools() {
        return;
    }
    let node = fx.device().node();
    let mnt = fx.env().path().join("mnt");
    part_init(node, "gpt").unwrap();
    part_add(node, "p", 2048, 40_959).unwrap();
    let p1 = part_node(node, 1);
    mkfs(&p1);
    mount(&p1, &mnt);
    let rdev = std::fs::metadata(&p1).unwrap().rdev();
    std::fs::write(mnt.join("before"), b"kept").unwrap();

    // Add, use, resize and delete partition 2 while partition 1 is mounted.
    part_add(node, "p", 40_960, 81_919).unwrap();
    let p2 = part_node(node, 2);
    assert!(is_block(&p2));
    mkfs(&p2);
    part_resize(node, 2, 100_000).unwrap();
    assert_eq!(kernel(node)[1], (2, 40_960, 100_000 - 40_960 + 1));
    part_del(node, 2).unwrap();
    assert!(!p2.exists());
    assert!(is_mounted(&mnt));
    assert_eq!(
        std::fs::metadata(&p1).unwrap().rdev(),
        rdev,
        "p1 was left alone"
    );
    std::fs::write(mnt.join("after"), b"still writable").unwrap();

    // Deleting the mounted partition is refused before anything is written.
    let tables = |d: &DeviceNode| {
        let mut head = vec![0u8; 34 * 512];
        let mut tail = vec![0u8; 33 * 512];
        d.read_at(&mut head, 0).unwrap();
        d.read_at(&mut tail, 64 * MIB - 33 * 512).unwrap();
        (head, tail)
    };
    let before = tables(node);
    let e = part_del(node, 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert!(e.to_string().contains("partition 1 ("), "{e}");
    assert!(e.to_string().contains(") is in use"), "{e}");
    assert!(tables(node) == before, "the refused part_del wrote");
    assert_eq!(part_list(node).unwrap().len(), 1);
    assert_eq!(kernel(node), [(1, 2048, 40_959 - 2048 + 1)]);
    // msdos init over it is refused too.
    assert_eq!(
        part_init(node, "msdos").unwrap_err().kind(),
        ErrorKind::Busy
    );
    assert!(tables(node) == before, "the refused part_init wrote");

    // Growing the mounted partition works (as growpart does).
    part_resize(node, 1, 60_000).unwrap();
    assert_eq!(kernel(node), [(1, 2048, 60_000 - 2048 + 1)]);
    assert_eq!(
        std::fs::read(mnt.join("before")).unwrap(),
        b"kept",
        "the mounted filesystem is intact"
    );

    umount(&mnt);
    part_del(node, 1).unwrap();
    assert!(kernel(node).is_empty());
}

#[test]
fn sync_kernel_partitions_matches_the_table() {
    let Some(fx) = LoopFixture::new("part-sync", 64 * MIB) else {
        return;
    };
    let node = fx.device().node();
    let hidden = Hidden(node);
    // A table the kernel has not heard of.
    part_init(&hidden, "gpt").unwrap();
    part_add(&hidden, "p", 2048, 4095).unwrap();
    part_add(&hidden, "p", 8192, 16_383).unwrap();
    part_del(&hidden, 1).unwrap();
    part_add(&hidden, "p", 20_000, 30_000).unwrap();
    assert!(kernel(node).is_empty());
    let got = sync_kernel_partitions(node).unwrap();
    let want = [(1, 20_000, 10_001), (2, 8192, 8192)];
    let mut listed: Vec<(u32, u64, u64)> = got
        .iter()
        .map(|k: &KernelPartition| (k.number, k.start / 512, k.size / 512))
        .collect();
    listed.sort();
    assert_eq!(listed, want);
    for k in &got {
        assert!(is_block(&k.node), "{}", k.node.display());
    }
    // Idempotent.
    let rdev = std::fs::metadata(part_node(node, 2)).unwrap().rdev();
    assert_eq!(sync_kernel_partitions(node).unwrap(), got);
    assert_eq!(std::fs::metadata(part_node(node, 2)).unwrap().rdev(), rdev);

    // A moved partition is removed and added again; a grown one resized.
    part_del(&hidden, 1).unwrap();
    part_add(&hidden, "p", 40_000, 50_000).unwrap();
    part_resize(&hidden, 2, 19_000).unwrap();
    sync_kernel_partitions(node).unwrap();
    assert_eq!(
        kernel(node),
        [(1, 40_000, 10_001), (2, 8192, 19_000 - 8192 + 1)]
    );
    assert_eq!(
        std::fs::metadata(part_node(node, 2)).unwrap().rdev(),
        rdev,
        "a resize keeps the node"
    );

    // msdos with logical partitions.
    part_init(&hidden, "msdos").unwrap();
    part_add(&hidden, "e", 2048, 60_000).unwrap();
    part_add(&hidden, "l", 4096, 8191).unwrap();
    part_add(&hidden, "l", 10_000, 20_000).unwrap();
    sync_kernel_partitions(node).unwrap();
    assert_eq!(
        kernel(node),
        [(1, 2048, 2), (5, 4096, 4096), (6, 10_000, 10_001)]
    );

    // No table: no partitions.
    hidden.write_at(&[0u8; 512], 0).unwrap();
    hidden.flush().unwrap();
    assert!(sync_kernel_partitions(node).unwrap().is_empty());
    assert!(kernel(node).is_empty());
    for n in [1, 5, 6] {
        assert!(!part_node(node, n).exists());
    }

    // A corrupt table is an error, and the kernel is left as it was.
    part_init(&hidden, "gpt").unwrap();
    part_add(&hidden, "p", 2048, 4095).unwrap();
    sync_kernel_partitions(node).unwrap();
    hidden.write_at(&[0xff; 8], 512 + 16).unwrap();
    hidden
        .write_at(&[0u8; 512], (64 * MIB / 512 - 1) * 512)
        .unwrap();
    hidden.flush().unwrap();
    let e = sync_kernel_partitions(node).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    assert_eq!(e.call(), "sync_kernel_partitions");
    assert_eq!(kernel(node), [(1, 2048, 2048)]);
}

#[test]
fn sync_leaves_a_mounted_partition_alone() {
    let Some(fx) = LoopFixture::new("part-sync-mounted", 64 * MIB) else {
        return;
    };
    if !tools() {
        return;
    }
    let node = fx.device().node();
    let hidden = Hidden(node);
    let mnt = fx.env().path().join("mnt");
    part_init(node, "msdos").unwrap();
    part_add(node, "p", 2048, 40_959).unwrap();
    let p1 = part_node(node, 1);
    mkfs(&p1);
    mount(&p1, &mnt);
    part_add(&hidden, "e", 40_960, -1).unwrap();
    part_add(&hidden, "l", 43_008, 60_000).unwrap();
    sync_kernel_partitions(node).unwrap();
    assert_eq!(
        kernel(node),
        [
            (1, 2048, 38_912),
            (2, 40_960, 2),
            (5, 43_008, 60_000 - 43_008 + 1)
        ]
    );
    assert!(is_mounted(&mnt));
    // A table that would move the mounted partition is refused without any
    // change to the kernel.
    part_del(&hidden, 1).unwrap();
    part_add(&hidden, "p", 4096, 40_959).unwrap();
    let e = sync_kernel_partitions(node).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert_eq!(kernel(node)[0], (1, 2048, 38_912));
    umount(&mnt);
}
