//! Privileged tests (tier 3) on real loop devices: a write through a kernel
//! block device either changes the table and the kernel's partitions together,
//! or neither. A logical partition right after its extended boot record reaches
//! the kernel (the extended partition's kernel view is cut short of it); a
//! partition the kernel would have to drop while something holds it open (a
//! process, this process, a loop device over it) is refused before anything is
//! written; and when the kernel refuses a step anyway (an opener that came after
//! the check), the old table is put back and the kernel's partitions restored.

mod common;

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use vmcraft_block::testing::{LoopFixture, require_tool};
use vmcraft_block::{BlockDevice, DeviceNode, LoopDevice, LoopOptions};
use vmcraft_part::*;

const MIB: u64 = 1 << 20;

/// (number, start sector, sectors) of the kernel's partitions.
fn kernel(node: &DeviceNode) -> Vec<(u32, u64, u64)> {
    node.kernel_partitions()
        .unwrap()
        .iter()
        .map(|k| (k.number, k.start / 512, k.size / 512))
        .collect()
}

fn part_node(node: &DeviceNode, n: u32) -> PathBuf {
    let leaf = node.path().file_name().unwrap().to_string_lossy();
    PathBuf::from(format!("/dev/{leaf}p{n}"))
}

fn is_block(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.file_type().is_block_device())
}

/// The extended partition's kernel view is at most 1 KiB but never reaches
/// the first logical partition: one that starts on the sector right after the
/// EBR is added to the kernel with the table, instead of failing (EBUSY, an
/// overlap) after the table was written.
#[test]
fn a_logical_partition_right_after_its_ebr_reaches_the_kernel() {
    if !require_tool("sfdisk") {
        return;
    }
    let Some(fx) = LoopFixture::new("part-kfid-ebr", 64 * MIB) else {
        return;
    };
    let node = fx.device().node();
    part_init(node, "msdos").unwrap();
    part_add(node, "p", 2048, 4095).unwrap();
    part_add(node, "e", 4096, -1).unwrap();
    part_add(node, "l", 4097, 8191).unwrap();
    assert_eq!(
        kernel(node),
        [(1, 2048, 2048), (2, 4096, 1), (5, 4097, 4095)]
    );
    assert!(is_block(&part_node(node, 5)));
    // A second logical partition right after its own EBR, and one far from it.
    part_add(node, "l", 8193, 10_000).unwrap();
    part_add(node, "l", 20_000, 30_000).unwrap();
    assert_eq!(
        kernel(node),
        [
            (1, 2048, 2048),
            (2, 4096, 1),
            (5, 4097, 4095),
            (6, 8193, 10_000 - 8193 + 1),
            (7, 20_000, 10_001)
        ]
    );
    // The first logical partition gone: the extended partition's view grows to
    // 1 KiB again (it no longer meets a partition).
    part_del(node, 5).unwrap();
    assert_eq!(kernel(node)[1], (2, 4096, 2));
    common::sfdisk_verify(fx.image());
    let parts = common::sfdisk_parts(fx.image());
    let got: Vec<(u32, u64, u64)> = parts.iter().map(|p| (p.0, p.1, p.2)).collect();
    assert_eq!(
        got,
        [
            (1, 2048, 2048),
            (2, 4096, 64 * MIB / 512 - 4096),
            (5, 8193, 10_000 - 8193 + 1),
            (6, 20_000, 10_001)
        ]
    );
}

/// What the table and the kernel look like: the table sectors' bytes and the
/// kernel's partitions.
fn state(node: &DeviceNode) -> (Vec<u8>, Vec<(u32, u64, u64)>) {
    let mut head = vec![0u8; 34 * 512];
    node.read_at(&mut head, 0).unwrap();
    let size = node.size().unwrap();
    let mut tail = vec![0u8; 33 * 512];
    node.read_at(&mut tail, size - 33 * 512).unwrap();
    head.extend_from_slice(&tail);
    (head, kernel(node))
}

/// Partition 1 held open in three ways that take no exclusive claim (so an
/// `O_EXCL` probe does not see them), each of which makes the kernel refuse to
/// drop it: `part_del 1` and `part_init` are refused as busy, naming what holds
/// it, with the table and the kernel's partitions unchanged.
#[test]
fn a_partition_held_open_is_busy_and_nothing_changes() {
    if !require_tool("sleep") {
        return;
    }
    let Some(fx) = LoopFixture::new("part-kfid-busy", 64 * MIB) else {
        return;
    };
    let node = fx.device().node();
    part_init(node, "gpt").unwrap();
    part_add(node, "p", 2048, 4095).unwrap();
    part_add(node, "p", 4096, 8191).unwrap();
    let p1 = part_node(node, 1);
    let before = state(node);

    let check = |holder: &str| {
        for (call, r) in [
            ("part_del", part_del(node, 1)),
            ("part_init", part_init(node, "msdos")),
        ] {
            let e = r.expect_err(holder);
            assert_eq!(e.kind(), ErrorKind::Busy, "{holder}: {e}");
            let msg = e.to_string();
            let want = format!(
                "{call}: {}: partition 1 ({}) is in use ({holder}) and would have to be removed from the kernel",
                node.name(),
                p1.display()
            );
            assert_eq!(msg, want);
            assert!(state(node) == before, "{holder}: {call} changed something");
        }
    };

    // Another process with the node open.
    let child = std::process::Command::new("sleep")
        .arg("1000")
        .stdin(std::fs::File::open(&p1).unwrap())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let child = Kill(child);
    check(&format!("held open by process {} (sleep)", child.0.id()));
    drop(child);

    // This process.
    let f = std::fs::File::open(&p1).unwrap();
    check(&format!(
        "held open by process {} (this process)",
        std::process::id()
    ));
    drop(f);

    // A loop device over the partition.
    let lo = LoopDevice::attach(&p1, LoopOptions::default()).unwrap();
    check(&format!("the backing device of {}", lo.path().display()));
    drop(lo);

    // Released: the same calls now go through.
    part_del(node, 1).unwrap();
    assert_eq!(kernel(node), [(2, 4096, 4096)]);
}

/// The loop device, with a hook run when the table has been written (on flush):
/// it opens partition 2's node, as a process that comes after the busy check
/// would, and keeps it open.
struct OpensAfterCheck<'a> {
    node: &'a DeviceNode,
    p2: PathBuf,
    held: Mutex<Vec<std::fs::File>>,
}

impl BlockDevice for OpensAfterCheck<'_> {
    fn size(&self) -> vmcraft_block::Result<u64> {
        self.node.size()
    }
    fn logical_sector_size(&self) -> vmcraft_block::Result<u32> {
        self.node.logical_sector_size()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> vmcraft_block::Result<()> {
        self.node.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> vmcraft_block::Result<()> {
        self.node.write_at(buf, offset)
    }
    fn flush(&self) -> vmcraft_block::Result<()> {
        let mut held = self.held.lock().unwrap();
        if held.is_empty() {
            held.push(std::fs::File::open(&self.p2).unwrap());
        }
        self.node.flush()
    }
    fn name(&self) -> String {
        self.node.name()
    }
    fn kernel_node(&self) -> Option<&DeviceNode> {
        Some(self.node)
    }
}

/// When the kernel refuses a step after the table was written, the old table
/// is put back and the kernel's partitions restored, and the error says so.
#[test]
fn a_kernel_refusal_after_the_write_puts_the_old_table_back() {
    let Some(fx) = LoopFixture::new("part-kfid-rollback", 64 * MIB) else {
        return;
    };
    let node = fx.device().node();
    part_init(node, "gpt").unwrap();
    part_add(node, "p", 2048, 4095).unwrap();
    part_add(node, "p", 4096, 8191).unwrap();
    let before = state(node);
    let dev = OpensAfterCheck {
        node,
        p2: part_node(node, 2),
        held: Mutex::new(Vec::new()),
    };
    // Deleting 1 and 2 and adding 3: the kernel drops 1, then refuses to drop 2.
    let e = PartitionTable::read(&dev)
        .and_then(|mut t| {
            t.delete(1)?;
            t.delete(2)?;
            t.add(PartKind::Primary, 10_000, 20_000)?;
            t.write(&dev)
        })
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "write_table: {}: removing partition 2 from the kernel; the old partition table was put back and the kernel's partitions restored",
            node.name()
        )
    );
    assert!(e.block_error().is_some());
    dev.held.lock().unwrap().clear();
    assert!(state(node) == before, "the table or the kernel changed");
    common::sgdisk_verify(fx.image());
}
