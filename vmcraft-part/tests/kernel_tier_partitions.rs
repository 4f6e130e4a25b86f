//! The kernel test tier (`cargo xtask test-kernel`): partition nodes made by the
//! kernel's own GPT and MBR parsers (`losetup -P`) side by side with the ones
//! VMCraft makes with BLKPG from the table it reads in-process, on three
//! tables: a GPT written by sgdisk (with a gap in the numbering), an MBR with
//! logical partitions written by sfdisk, and an MBR written by VMCraft whose
//! logical partitions start right after their EBRs. The numbers, starts and
//! sizes (sysfs) agree, and agree with `part_list`; the one place they may not
//! is the extended partition's stub, which the kernel always makes 2 sectors
//! long, into a logical partition that starts on the sector after the EBR
//! (VMCraft cuts it to 1 sector so that BLKPG takes it: it refuses overlaps).
//! VMCraft's kernel sync then works on a device whose partitions the kernel
//! made: with a partition held open it adds nothing twice and removes nothing
//! it keeps, and `part_add` / `part_del` leave the kernel's view equal to what
//! a fresh parse of the edited table by the kernel gives. And the host's udev,
//! which re-reads a disk's table whenever a writer closes it (dropping and
//! re-adding every partition), leaves a device VMCraft bound alone: it holds
//! the shared lock of udev's block-device locking.
//!
//! The scenarios of `kernel_fidelity.rs` (written for hosts without the
//! parsers) run here too, on this kernel, as `kernel_fidelity::*`.
//!
//! On hosts whose kernel has no partition parsers these are loud skips that
//! stay skips in strict mode.

#![allow(clippy::duplicate_mod)] // `common` is also kernel_fidelity's

mod common;

// The kernel-sync scenarios of tier 3, run again on a kernel with its own
// partition parsers.
#[path = "kernel_fidelity.rs"]
mod kernel_fidelity;

use std::fs::File;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use vmcraft_block::testing::{TestEnv, leaks, require_kernel_feature, require_root, require_tool};
use vmcraft_block::{BlockDevice, DeviceNode, ImageFile, LoopDevice, LoopOptions};
use vmcraft_part::{part_add, part_del, part_init, part_list, sync_kernel_partitions};

const MIB: u64 = 1 << 20;
const SIZE: u64 = 64 * MIB;

/// (number, start sector, sectors), as sysfs shows them.
type View = Vec<(u32, u64, u64)>;

/// A named edit of a device's table.
type Edit<'a> = (&'a str, &'a dyn Fn(&DeviceNode));

/// A loop device bound by `losetup -f --show -P` (the kernel scans the table
/// with its own parsers), detached on drop.
struct Losetup {
    node: DeviceNode,
}

impl Losetup {
    fn new(image: &Path, readonly: bool) -> Losetup {
        let img = image.to_str().unwrap();
        let mut argv = vec!["losetup", "-f", "--show", "-P"];
        if readonly {
            argv.push("-r");
        }
        argv.push(img);
        let path = common::run_ok(&argv).stdout_str().trim().to_string();
        let node = DeviceNode::open(&path, readonly).unwrap();
        Losetup { node }
    }
}

impl Drop for Losetup {
    fn drop(&mut self) {
        let path = self.node.path().to_str().unwrap().to_string();
        let out = common::run(&["losetup", "-d", &path]);
        if !out.status.success() && !std::thread::panicking() {
            panic!("losetup -d {path}: {}", out.stderr_trimmed());
        }
    }
}

/// The kernel's partitions of `node`, each checked to have its `/dev` node: a
/// block device with the device number sysfs gives it.
fn kernel(node: &DeviceNode) -> View {
    let sysfs = node.sysfs_dir();
    node.kernel_partitions()
        .unwrap()
        .iter()
        .map(|k| {
            let name = k.node.file_name().unwrap();
            let want = std::fs::read_to_string(sysfs.join(name).join("dev")).unwrap();
            let meta =
                std::fs::metadata(&k.node).unwrap_or_else(|e| panic!("{}: {e}", k.node.display()));
            assert!(meta.file_type().is_block_device(), "{}", k.node.display());
            let rdev = meta.rdev();
            assert_eq!(
                want.trim(),
                format!("{}:{}", libc::major(rdev), libc::minor(rdev)),
                "{} is not the device sysfs names",
                k.node.display()
            );
            (k.number, k.start / 512, k.size / 512)
        })
        .collect()
}

/// Nothing of the test's left. `losetup -d` of a device udev's prober still
/// holds open only marks it to be freed when the prober closes it: waited for.
fn no_leaks(env: &TestEnv) {
    let _ = vmcraft_block::wait_until(
        "the test's loop devices to be freed",
        std::time::Duration::from_secs(30),
        || leaks(env.tag()).is_empty(),
    );
    let left = leaks(env.tag());
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// The node of partition `n` of `node`.
fn part_node(node: &DeviceNode, n: u32) -> PathBuf {
    let leaf = node.path().file_name().unwrap().to_string_lossy();
    PathBuf::from(format!("/dev/{leaf}p{n}"))
}

/// Whether this kernel parses partition tables: a loop device bound with
/// partition scanning over a GPT image shows its partitions. A loud skip (a
/// failure in the kernel tier) when it does not.
fn kernel_parses(image: &Path) -> bool {
    let lo = Losetup::new(image, true);
    let parsed = !lo.node.kernel_partitions().unwrap().is_empty();
    drop(lo);
    require_kernel_feature("the kernel's partition table parsers (GPT, MBR)", parsed)
}

fn ready() -> bool {
    require_root("loop devices")
        && require_tool("losetup")
        && require_tool("sgdisk")
        && require_tool("sfdisk")
}

/// A GPT by sgdisk: an ESP, two data partitions with a gap, number 4 unused.
fn sgdisk_gpt(env: &TestEnv) -> PathBuf {
    let img = env.sparse_image("gpt.img", SIZE);
    common::run_ok(&[
        "sgdisk",
        "-a",
        "1",
        "-n",
        "1:2048:+8M",
        "-t",
        "1:ef00",
        "-n",
        "2:0:+5M",
        "-n",
        "3:40000:60000",
        "-n",
        "5:70000:+1M",
        img.to_str().unwrap(),
    ]);
    common::sgdisk_verify(&img);
    img
}

/// An MBR by sfdisk: a primary, an extended with three logicals.
fn sfdisk_mbr(env: &TestEnv) -> PathBuf {
    let img = env.sparse_image("mbr.img", SIZE);
    let script = "label: dos\n\
                  start=2048, size=8192, type=83\n\
                  start=12288, type=5\n\
                  start=14336, size=4096, type=83\n\
                  start=20480, size=2048, type=83\n\
                  start=26624, type=83\n";
    let out = vmcraft_block::SystemRunner::new();
    let cmd = vmcraft_block::Command::new("sfdisk")
        .args([
            "--no-reread",
            "--no-tell-kernel",
            "-q",
            img.to_str().unwrap(),
        ])
        .stdin(script.as_bytes().to_vec());
    vmcraft_block::CommandRunner::run(&out, &cmd)
        .unwrap_or_else(|e| panic!("{}", vmcraft_block::error_chain(&e)));
    common::sfdisk_verify(&img);
    img
}

/// An MBR by VMCraft: logical partitions right after their EBRs.
fn vmcraft_mbr(env: &TestEnv) -> PathBuf {
    let img = env.sparse_image("mbr-tight.img", SIZE);
    let dev = ImageFile::open(&img, false).unwrap();
    part_init(&dev, "msdos").unwrap();
    part_add(&dev, "p", 2048, 4095).unwrap();
    part_add(&dev, "e", 4096, -1).unwrap();
    part_add(&dev, "l", 4097, 8191).unwrap();
    part_add(&dev, "l", 8193, 10_000).unwrap();
    part_add(&dev, "l", 20_000, 30_000).unwrap();
    dev.flush().unwrap();
    common::sfdisk_verify(&img);
    img
}

/// Copy every non-zero MiB of `image` through `dev` (a blank device of the
/// same size): the table reaches the device without the kernel parsing it.
fn copy_through(image: &Path, dev: &DeviceNode) {
    let bytes = std::fs::read(image).unwrap();
    for (i, chunk) in bytes.chunks(MIB as usize).enumerate() {
        if chunk.iter().any(|&b| b != 0) {
            dev.write_at(chunk, i as u64 * MIB).unwrap();
        }
    }
    dev.flush().unwrap();
}

/// `part_list`'s view in sectors (extended partitions included, whole).
fn listed(image: &Path) -> View {
    let dev = ImageFile::open(image, true).unwrap();
    part_list(&dev)
        .unwrap()
        .iter()
        .map(|p| (p.part_num as u32, p.part_start / 512, p.part_size / 512))
        .collect()
}

/// The kernel's parse of `image` and VMCraft's BLKPG nodes for it agree (but for
/// `stub`, the extended partition's number when the kernel's 2-sector stub runs
/// into a logical partition, which VMCraft makes 1 sector), and agree with
/// `part_list` but for the extended partition's size. Returns the kernel's parse.
fn side_by_side(env: &TestEnv, image: &Path, stub: Option<u32>) -> View {
    let parsed = kernel(&Losetup::new(image, true).node);
    assert!(
        !parsed.is_empty(),
        "{}: the kernel found no partitions",
        image.display()
    );

    let blank = env.sparse_image("blank.img", SIZE);
    let lo = LoopDevice::attach(
        &blank,
        LoopOptions {
            partscan: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(kernel(lo.node()), View::new());
    copy_through(image, lo.node());
    assert_eq!(
        kernel(lo.node()),
        View::new(),
        "writing the table made the kernel parse it"
    );
    let synced: View = sync_kernel_partitions(lo.node())
        .unwrap()
        .iter()
        .map(|k| (k.number, k.start / 512, k.size / 512))
        .collect();
    let blkpg = kernel(lo.node());
    assert_eq!(synced, blkpg);
    drop(lo);
    std::fs::remove_file(&blank).unwrap();

    assert_eq!(
        blkpg.iter().map(|p| p.0).collect::<Vec<_>>(),
        parsed.iter().map(|p| p.0).collect::<Vec<_>>(),
        "numbers: BLKPG {blkpg:?}, kernel {parsed:?}"
    );
    for (b, k) in blkpg.iter().zip(&parsed) {
        if Some(k.0) == stub {
            assert_eq!(
                (b.1, b.2),
                (k.1, 1),
                "extended stub: BLKPG {b:?}, kernel {k:?}"
            );
            assert_eq!(k.2, 2, "the kernel's extended stub");
        } else {
            assert_eq!(b, k, "BLKPG {blkpg:?}, kernel {parsed:?}");
        }
    }
    let list = listed(image);
    assert_eq!(
        list.len(),
        parsed.len(),
        "part_list {list:?}, kernel {parsed:?}"
    );
    for (l, k) in list.iter().zip(&parsed) {
        assert_eq!(
            (l.0, l.1),
            (k.0, k.1),
            "part_list {list:?}, kernel {parsed:?}"
        );
        if k.2 > 2 {
            assert_eq!(l.2, k.2, "part_list {list:?}, kernel {parsed:?}");
        }
    }
    parsed
}

/// GPT: the kernel's parse and VMCraft's BLKPG nodes agree.
#[test]
fn gpt_kernel_parser_and_blkpg_agree() {
    if !ready() {
        return;
    }
    let env = TestEnv::new("part-ktier-gpt");
    let image = sgdisk_gpt(&env);
    if !kernel_parses(&image) {
        return;
    }
    let parsed = side_by_side(&env, &image, None);
    assert_eq!(
        parsed,
        [
            (1, 2048, 16384),
            (2, 18432, 10240),
            (3, 40000, 20001),
            (5, 70000, 2048)
        ]
    );
    no_leaks(&env);
}

/// MBR with logical partitions by sfdisk: the kernel's parse and VMCraft's BLKPG
/// nodes agree, the extended partition's stub included.
#[test]
fn mbr_logical_kernel_parser_and_blkpg_agree() {
    if !ready() {
        return;
    }
    let env = TestEnv::new("part-ktier-mbr");
    if !kernel_parses(&sgdisk_gpt(&env)) {
        return;
    }
    let image = sfdisk_mbr(&env);
    let parsed = side_by_side(&env, &image, None);
    assert_eq!(
        parsed.iter().map(|p| p.0).collect::<Vec<_>>(),
        [1, 2, 5, 6, 7]
    );
    assert_eq!(parsed[1], (2, 12288, 2), "the kernel's extended stub");
    no_leaks(&env);
}

/// MBR whose logical partitions start right after their EBRs: the kernel's
/// extended stub (2 sectors) runs into logical 5; VMCraft's is 1 sector.
#[test]
fn mbr_tight_logicals_kernel_parser_and_blkpg_agree() {
    if !ready() {
        return;
    }
    let env = TestEnv::new("part-ktier-tight");
    if !kernel_parses(&sgdisk_gpt(&env)) {
        return;
    }
    let image = vmcraft_mbr(&env);
    let parsed = side_by_side(&env, &image, Some(2));
    assert_eq!(
        parsed,
        [
            (1, 2048, 2048),
            (2, 4096, 2),
            (5, 4097, 4095),
            (6, 8193, 10_000 - 8193 + 1),
            (7, 20_000, 10_001)
        ]
    );
    no_leaks(&env);
}

/// VMCraft on a device whose partitions the kernel made: a sync keeps them (a
/// partition held open stays, nothing is added twice), then each edit leaves the
/// kernel's view equal to the kernel's own parse of the edited table.
fn edit_on_kernel_parsed(env: &TestEnv, image: &Path, edits: &[Edit<'_>], stub: Option<u32>) {
    let lo = Losetup::new(image, false);
    let node = &lo.node;
    let before = kernel(node);
    let held = File::open(part_node(node, 1)).unwrap();
    let synced: View = sync_kernel_partitions(node)
        .unwrap()
        .iter()
        .map(|k| (k.number, k.start / 512, k.size / 512))
        .collect();
    let fixed: View = before
        .iter()
        .map(|&(n, s, l)| {
            if Some(n) == stub {
                (n, s, 1)
            } else {
                (n, s, l)
            }
        })
        .collect();
    assert_eq!(synced, fixed, "the sync changed the kernel's partitions");
    assert_eq!(kernel(node), fixed);
    for (what, edit) in edits {
        edit(node);
        let now = kernel(node);
        let fresh = kernel(&Losetup::new(image, true).node);
        let now_cmp: View = now
            .iter()
            .zip(&fresh)
            .map(|(&(n, s, l), f)| {
                // The stub: 1 sector where VMCraft cut it, 2 by the kernel.
                if l == 1 && f.2 == 2 {
                    (n, s, 2)
                } else {
                    (n, s, l)
                }
            })
            .collect();
        assert_eq!(
            now.len(),
            fresh.len(),
            "{what}: VMCraft {now:?}, kernel parse {fresh:?}"
        );
        assert_eq!(
            now_cmp, fresh,
            "{what}: VMCraft {now:?}, kernel parse {fresh:?}"
        );
        assert_eq!(now[0], before[0], "{what}: partition 1 changed");
    }
    drop(held);
    drop(lo);
    no_leaks(env);
}

/// GPT by sgdisk, parsed by the kernel, edited by VMCraft.
#[test]
fn vmcraft_edits_a_gpt_the_kernel_parsed() {
    if !ready() {
        return;
    }
    let env = TestEnv::new("part-ktier-gpt-edit");
    let image = sgdisk_gpt(&env);
    if !kernel_parses(&image) {
        return;
    }
    edit_on_kernel_parsed(
        &env,
        &image,
        &[
            ("part_add", &|n| part_add(n, "p", 80_000, 90_000).unwrap()),
            ("part_del 3", &|n| part_del(n, 3).unwrap()),
            ("part_add in the gap", &|n| {
                part_add(n, "p", 40_000, 50_000).unwrap()
            }),
        ],
        None,
    );
    common::sgdisk_verify(&image);
}

/// MBR with logicals by sfdisk, parsed by the kernel, edited by VMCraft: a
/// logical partition deleted (the ones after it are renumbered), one added.
#[test]
fn vmcraft_edits_an_mbr_the_kernel_parsed() {
    if !ready() {
        return;
    }
    let env = TestEnv::new("part-ktier-mbr-edit");
    if !kernel_parses(&sgdisk_gpt(&env)) {
        return;
    }
    let image = sfdisk_mbr(&env);
    edit_on_kernel_parsed(
        &env,
        &image,
        &[
            ("part_del 6", &|n| part_del(n, 6).unwrap()),
            ("part_add l", &|n| part_add(n, "l", 20_480, 22_527).unwrap()),
            ("part_del 5", &|n| part_del(n, 5).unwrap()),
        ],
        None,
    );
    common::sfdisk_verify(&image);
}

/// MBR by VMCraft with tight logicals, parsed by the kernel (its stub runs into
/// logical 5), edited by VMCraft.
#[test]
fn vmcraft_edits_a_tight_mbr_the_kernel_parsed() {
    if !ready() {
        return;
    }
    let env = TestEnv::new("part-ktier-tight-edit");
    if !kernel_parses(&sgdisk_gpt(&env)) {
        return;
    }
    let image = vmcraft_mbr(&env);
    edit_on_kernel_parsed(
        &env,
        &image,
        &[
            ("part_add l", &|n| part_add(n, "l", 40_001, 50_000).unwrap()),
            ("part_del 5", &|n| part_del(n, 5).unwrap()),
        ],
        Some(2),
    );
    common::sfdisk_verify(&image);
}

/// The inode of partition `n`'s sysfs directory: a new one each time the
/// kernel drops and re-adds the partition, as a re-read of the table does.
fn part_ino(node: &DeviceNode, n: u32) -> Option<u64> {
    let leaf = node.path().file_name()?.to_string_lossy().into_owned();
    let dir = node.sysfs_dir().join(format!("{leaf}p{n}"));
    std::fs::metadata(dir).ok().map(|m| m.ino())
}

/// Open the whole disk for writing and close it: the inotify event on which
/// udev re-reads a disk's partition table.
fn close_written(node: &DeviceNode) {
    drop(
        std::fs::OpenOptions::new()
            .write(true)
            .open(node.path())
            .unwrap(),
    );
}

/// udev re-reads the table of a disk bound by losetup (no lock) when a writer
/// closes it; the same close on a disk VMCraft bound leaves its partitions as
/// they are, since the device's holder has the shared lock udev respects.
#[test]
fn udev_leaves_the_table_of_a_bound_device_to_its_holder() {
    if !ready() || !require_tool("udevadm") {
        return;
    }
    let env = TestEnv::new("part-ktier-udevlock");
    let image = sgdisk_gpt(&env);
    if !kernel_parses(&image) {
        return;
    }
    let settle = || common::run_ok(&["udevadm", "settle", "--timeout=30"]);
    // The control: without the lock, udev re-reads (a new inode for p1).
    let lo = Losetup::new(&image, false);
    settle();
    let ino = part_ino(&lo.node, 1).unwrap();
    close_written(&lo.node);
    let started = std::time::Instant::now();
    let reread = vmcraft_block::wait_until(
        "udev's re-read of the table",
        std::time::Duration::from_secs(10),
        || part_ino(&lo.node, 1).is_some_and(|now| now != ino),
    )
    .is_ok();
    let took = started.elapsed();
    settle();
    drop(lo);
    if !require_kernel_feature(
        "systemd-udevd re-reading a disk's table when a writer closes it",
        reread,
    ) {
        no_leaks(&env);
        return;
    }
    let lo = LoopDevice::attach(
        &image,
        LoopOptions {
            partscan: true,
            ..Default::default()
        },
    )
    .unwrap();
    settle();
    let ino = part_ino(lo.node(), 1).unwrap();
    close_written(lo.node());
    settle();
    // Give udev four times what its re-read took above before looking.
    std::thread::sleep((took * 4).max(std::time::Duration::from_secs(1)));
    settle();
    assert_eq!(
        part_ino(lo.node(), 1),
        Some(ino),
        "udev re-read the table of a device VMCraft holds"
    );
    lo.detach().unwrap();
    no_leaks(&env);
}
