//! The partition and probe caches: no stale read after any call that changes what
//! they hold, expiry exactly at the TTL (injected clock), changes made behind
//! VMCraft's back visible after expiry or invalidation, and many concurrent readers.

use std::sync::Arc;
use std::time::Duration;

use vmcraft::cache::ManualClock;
use vmcraft::{Config, MkfsOptions, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root};
use vmcraft_block::{Command, CommandRunner, CopyOptions, SystemRunner};

fn session(env: &TestEnv, clock: Arc<ManualClock>) -> VMCraft {
    let a = env.sparse_image("a.img", 128 << 20);
    let b = env.sparse_image("b.img", 64 << 20);
    let g = VMCraft::with_config(Config::builder().clock(clock).build());
    g.add_drive(&a).unwrap();
    g.add_drive(&b).unwrap();
    g.launch().unwrap();
    g
}

#[test]
fn no_stale_read_after_any_changing_call() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cache-stale");
    let g = session(&env, Arc::new(ManualClock::new()));

    // Partition calls.
    assert!(g.list_partitions().unwrap().is_empty());
    g.part_init("/dev/sda", "gpt").unwrap();
    g.part_add("/dev/sda", "p", 2048, 65_535).unwrap();
    assert_eq!(g.list_partitions().unwrap(), ["/dev/sda1"]);
    g.part_add("/dev/sda", "p", 65_536, 131_071).unwrap();
    g.part_add("/dev/sda", "p", 131_072, -34).unwrap();
    assert_eq!(
        g.list_partitions().unwrap(),
        ["/dev/sda1", "/dev/sda2", "/dev/sda3"]
    );
    g.part_del("/dev/sda", 2).unwrap();
    assert_eq!(g.list_partitions().unwrap(), ["/dev/sda1", "/dev/sda3"]);
    g.part_disk("/dev/sdb", "msdos").unwrap();
    assert_eq!(
        g.list_partitions().unwrap(),
        ["/dev/sda1", "/dev/sda3", "/dev/sdb1"]
    );
    g.part_resize("/dev/sda", 1, 40_000).unwrap();
    assert_eq!(
        g.blockdev_getsize64("/dev/sda1").unwrap(),
        (40_000 - 2048 + 1) * 512
    );

    // mkfs, and mkfs of another type over it.
    assert_eq!(g.vfs_type("/dev/sda1").unwrap(), "");
    g.mkfs(
        "ext4",
        "/dev/sda1",
        &MkfsOptions {
            label: Some("one".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(g.vfs_type("/dev/sda1").unwrap(), "ext4");
    assert_eq!(g.vfs_label("/dev/sda1").unwrap(), "one");
    g.mkfs(
        "vfat",
        "/dev/sda1",
        &MkfsOptions {
            label: Some("TWO".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(g.blkid("/dev/sda1").unwrap()["LABEL"], "TWO");
    g.mkswap("/dev/sda1", Some("sw")).unwrap();
    assert_eq!(g.vfs_type("/dev/sda1").unwrap(), "swap");

    // A copy onto a device.
    g.mkfs("ext2", "/dev/sda3", &MkfsOptions::default())
        .unwrap();
    assert_eq!(g.vfs_type("/dev/sdb1").unwrap(), "");
    g.copy_device_to_device(
        "/dev/sda3",
        "/dev/sdb1",
        &CopyOptions {
            size: Some(1 << 20),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(g.vfs_type("/dev/sdb1").unwrap(), "ext2");

    // LVM changes.
    g.pvcreate(&["/dev/sdb1"]).unwrap();
    assert_eq!(g.vfs_type("/dev/sdb1").unwrap(), "LVM2_member");
    g.pvremove("/dev/sdb1").unwrap();
    assert_ne!(g.vfs_type("/dev/sdb1").unwrap(), "LVM2_member");

    // Deleting a partition drops its probe too.
    g.part_del("/dev/sda", 1).unwrap();
    assert!(
        g.vfs_type("/dev/sda1").is_err(),
        "a deleted partition is no longer a device"
    );

    // After shutdown nothing cached is served.
    g.shutdown().unwrap();
    assert!(g.list_partitions().is_err());
    assert!(g.vfs_type("/dev/sda3").is_err());
    assert!(leaks(env.tag()).is_empty());
}

#[test]
fn every_alias_whole_drive_writes_and_table_edits_invalidate_what_they_change() {
    if !require_root("attaching images") || !vmcraft_block::testing::require_tool("lvm") {
        return;
    }
    let env = TestEnv::new("cache-alias");
    // A clock that never moves: only invalidation can refresh an entry.
    let g = session(&env, Arc::new(ManualClock::new()));

    // Table edits through libguestfs's other spellings of the drive.
    assert!(g.list_partitions().unwrap().is_empty());
    g.part_init("/dev/vda", "gpt").unwrap();
    g.part_add("/dev/vda", "p", 2048, 65_535).unwrap();
    assert_eq!(g.list_partitions().unwrap(), ["/dev/sda1"]);
    g.part_add("/dev/hda", "p", 65_536, -34).unwrap();
    assert_eq!(g.list_partitions().unwrap(), ["/dev/sda1", "/dev/sda2"]);
    assert_eq!(g.vfs_type("/dev/sda1").unwrap(), "");
    g.mkfs("ext4", "/dev/xvda1", &MkfsOptions::default())
        .unwrap();
    assert_eq!(g.vfs_type("/dev/sda1").unwrap(), "ext4");

    // An LV on the second partition, probed (and so cached).
    g.pvcreate(&["/dev/sda2"]).unwrap();
    g.vgcreate("cachevg", &["/dev/sda2"]).unwrap();
    g.lvcreate("lv", "cachevg", 8).unwrap();
    g.mkfs("ext4", "/dev/cachevg/lv", &MkfsOptions::default())
        .unwrap();
    assert_eq!(g.vfs_type("/dev/cachevg/lv").unwrap(), "ext4");
    assert_eq!(g.lvs().unwrap(), ["/dev/cachevg/lv"]);
    // Deleting the PV's partition takes the LV away: no stale probe, list or
    // window of it is served.
    g.part_del("/dev/vda", 2).unwrap();
    assert!(
        g.vfs_type("/dev/cachevg/lv").is_err(),
        "the LV's probe outlived its partition"
    );
    assert!(g.lvs().unwrap().is_empty());

    // mkfs over the whole partitioned drive: the partitions' probes go too.
    g.mkfs("ext2", "/dev/vda", &MkfsOptions::default()).unwrap();
    assert_eq!(g.vfs_type("/dev/sda").unwrap(), "ext2");
    assert_ne!(
        g.vfs_type("/dev/sda1").unwrap_or_default(),
        "ext4",
        "a stale probe of a partition overwritten through its drive"
    );
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty());
}

#[test]
fn changes_behind_our_back_show_after_the_ttl_or_invalidation() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cache-ttl");
    let clock = Arc::new(ManualClock::new());
    let g = session(&env, clock.clone());
    assert!(g.list_partitions().unwrap().is_empty());

    // Partition the disk underneath VMCraft, through the host node.
    let host = g.host_path("/dev/sda").unwrap();
    let node = vmcraft_block::DeviceNode::open(&host, false).unwrap();
    vmcraft_part::part_disk(&node, "gpt").unwrap();
    assert!(
        g.list_partitions().unwrap().is_empty(),
        "cached for the TTL"
    );
    clock.advance(Duration::from_secs(59));
    assert!(g.list_partitions().unwrap().is_empty());
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        g.list_partitions().unwrap(),
        ["/dev/sda1"],
        "expired at 60 s"
    );

    // Probe cache: 120 s, or invalidate by hand.
    assert_eq!(g.vfs_type("/dev/sda1").unwrap(), "");
    let part = g.host_path("/dev/sda1").unwrap();
    SystemRunner::new()
        .run(&Command::new("mkfs.ext4").args(["-F", "-q"]).arg(&part))
        .unwrap();
    assert_eq!(g.vfs_type("/dev/sda1").unwrap(), "", "cached");
    clock.advance(Duration::from_secs(119));
    assert_eq!(g.vfs_type("/dev/sda1").unwrap(), "");
    clock.advance(Duration::from_secs(1));
    assert_eq!(g.vfs_type("/dev/sda1").unwrap(), "ext4", "expired at 120 s");
    SystemRunner::new()
        .run(&Command::new("mkfs.xfs").args(["-f", "-q"]).arg(&part))
        .unwrap_or_else(|_| {
            SystemRunner::new()
                .run(&Command::new("mkfs.ext2").args(["-F", "-q"]).arg(&part))
                .unwrap()
        });
    g.invalidate_probe_cache();
    assert_ne!(g.vfs_type("/dev/sda1").unwrap(), "ext4");
    node.delete_partition(1).ok();
    vmcraft_part::part_init(&node, "msdos").unwrap();
    g.invalidate_partition_cache();
    assert!(g.list_partitions().unwrap().is_empty());
    drop(node);
    drop(g);
    assert!(leaks(env.tag()).is_empty());
}

#[test]
fn many_concurrent_readers_while_the_table_changes() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cache-threads");
    let g = session(&env, Arc::new(ManualClock::new()));
    g.part_init("/dev/sda", "gpt").unwrap();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..200 {
                    let parts = g.list_partitions().unwrap();
                    // Every answer is one state of the table: a prefix of sda1..sda4.
                    for (i, p) in parts.iter().enumerate() {
                        assert_eq!(p, &format!("/dev/sda{}", i + 1));
                    }
                    let _ = g.vfs_type("/dev/sda");
                }
            });
        }
        s.spawn(|| {
            for i in 0..4i64 {
                g.part_add(
                    "/dev/sda",
                    "p",
                    2048 + i * 20_480,
                    2048 + (i + 1) * 20_480 - 1,
                )
                .unwrap();
            }
        });
    });
    assert_eq!(
        g.list_partitions().unwrap(),
        ["/dev/sda1", "/dev/sda2", "/dev/sda3", "/dev/sda4"]
    );
    drop(g);
    assert!(leaks(env.tag()).is_empty());
}
