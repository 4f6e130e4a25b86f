//! Device nodes in a guest. A guest `/etc/hosts` that is a block device with
//! the numbers of a real disk (a loop device over a file of recognisable
//! bytes), or a character device with `/dev/null`'s or `/dev/zero`'s
//! numbers, is never opened by the worker, although the guest tree lies on
//! the host's filesystem without `nodev`: the worker chroots into a detached
//! copy of the guest's mounts made `nodev`. (libaugeas itself skips non-regular files when
//! it *loads*, but `aug_save` opens and reads the file it replaces, device or
//! not, and reads a whole disk up to 32 MiB into memory; the unconfined
//! controls show that read.)
//!
//! Also: the worker's copy leaves the host's mount table unchanged (the
//! worker stays in the caller's mount namespace, and reaches none of its
//! mounts), copies the guest's mounts, keeps their read-only and atime flags,
//! and does not follow the host's later mounts or unmounts; a caller without
//! `CAP_SYS_ADMIN` gets a worker confined to its own mounts, which then need
//! (and are checked for, at init and before every load and save) `nodev`.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use common::{Guest, need_root};
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};
use nix::sys::statvfs::FsFlags;
use sha2::{Digest, Sha256};
use vmcraft_aug::{AugFlags, Augeas, ErrorKind};
use vmcraft_block::testing::LoopFixture;

/// One hosts line of 32 bytes; the loop device is full of them.
const LINE: &[u8; 32] = b"192.0.2.66 loopsecretmarker0001\n";
const MARKER: &str = "loopsecretmarker";
const LOOP_SIZE: u64 = 64 << 10;

/// A loop device whose every byte is part of a hosts line naming [`MARKER`].
fn loop_with_marker(label: &str) -> Option<LoopFixture> {
    let fx = LoopFixture::new(label, LOOP_SIZE)?;
    let mut dev = std::fs::OpenOptions::new()
        .write(true)
        .open(fx.path())
        .unwrap();
    dev.write_all(&LINE.repeat((LOOP_SIZE / 32) as usize))
        .unwrap();
    dev.sync_all().unwrap();
    Some(fx)
}

/// What the loop device holds: its image's hash, after the device's own
/// cache is flushed into it.
fn loop_hash(fx: &LoopFixture) -> String {
    fx.device().node().flush_buffers().unwrap();
    let mut bytes = Vec::new();
    std::fs::File::open(fx.image())
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    assert_eq!(bytes.len() as u64, LOOP_SIZE);
    format!("{:x}", Sha256::digest(&bytes))
}

/// Sectors read from the loop device so far, its cache dropped first so that
/// the next read of any byte of it counts.
fn sectors_read(fx: &LoopFixture) -> u64 {
    fx.device().node().flush_buffers().unwrap();
    let stat = std::fs::read_to_string(fx.device().node().sysfs_dir().join("stat")).unwrap();
    stat.split_whitespace().nth(2).unwrap().parse().unwrap()
}

fn mknod(path: &Path, kind: SFlag, rdev: u64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(path);
    nix::sys::stat::mknod(path, kind, Mode::from_bits_truncate(0o644), rdev).unwrap();
}

/// Every value in the tree of `aug`, `/augeas` included.
fn all_values(aug: &Augeas) -> Vec<String> {
    aug.aug_match("//*")
        .unwrap()
        .iter()
        .filter_map(|n| aug.aug_get(n).ok())
        .collect()
}

/// The id of the mount `path` lies on (from the descriptor's fdinfo).
fn mount_id(path: &Path) -> u64 {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", f.as_raw_fd())).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// A path as the worker sees it, reached from here through its root.
fn in_worker(aug: &Augeas, path: &str) -> PathBuf {
    let pid = aug.worker_pid().unwrap();
    PathBuf::from(format!("/proc/{pid}/root{}", path.trim_end_matches('/')))
}

/// Assert that the worker is confined to a copy of the guest's mounts: it
/// stays in this process's mount namespace (it copied no mount table) and
/// reaches none of its mounts (its mount table, which lists those it
/// reaches, is empty); each of `points` (as its root shows them, `/` first;
/// `root` is the host's path of its root) is a mount of its own there, not
/// the host's mount at that place, and is `nodev`, `nosuid` and `noexec`.
/// The flags of each, in order.
fn assert_locked_down(aug: &Augeas, root: &Path, points: &[&str]) -> Vec<FsFlags> {
    let pid = aug.worker_pid().unwrap();
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap(),
        std::fs::read_link("/proc/self/ns/mnt").unwrap()
    );
    let table = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    assert_eq!(table, "", "the worker reaches mounts of the host");
    let mut ids = Vec::new();
    let mut flags = Vec::new();
    for point in points {
        let seen = in_worker(aug, point);
        let id = mount_id(&seen);
        assert_ne!(
            id,
            mount_id(&root.join(point.trim_start_matches('/'))),
            "{point}: the host's own mount"
        );
        assert!(!ids.contains(&id), "{point}: not a mount of its own");
        ids.push(id);
        let f = nix::sys::statvfs::statvfs(&seen).unwrap().flags();
        for flag in [FsFlags::ST_NODEV, FsFlags::ST_NOSUID, FsFlags::ST_NOEXEC] {
            assert!(f.contains(flag), "{point}: {f:?}");
        }
        flags.push(f);
    }
    flags
}

/// The host's mount table lines about `dir`: those of the mounts at, above
/// or below it, which a leak from a worker confined there would change
/// (propagation fields included). Other mounts of the host are left out:
/// other tests mount and unmount elsewhere at the same time.
fn host_mounts_about(dir: &Path) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| {
            let mp = PathBuf::from(l.split(' ').nth(4).unwrap().replace("\\040", " "));
            mp.starts_with(dir) || dir.starts_with(&mp)
        })
        .map(str::to_string)
        .collect()
}

/// A tmpfs mounted for the length of a test.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn new(at: &Path, flags: MsFlags) -> Self {
        std::fs::create_dir_all(at).unwrap();
        nix::mount::mount(Some("tmpfs"), at, Some("tmpfs"), flags, Some("size=4m")).unwrap();
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, MntFlags::MNT_DETACH);
    }
}

/// Set a hosts entry and save: what a caller editing the guest's
/// `/etc/hosts` does.
fn edit_hosts(aug: &Augeas) -> vmcraft_aug::Result<()> {
    aug.aug_set("/files/etc/hosts/1/ipaddr", "192.0.2.1")?;
    aug.aug_set("/files/etc/hosts/1/canonical", "written")?;
    aug.aug_save()
}

/// The same, unconfined: raugeas with a plain root prefix.
fn edit_hosts_unconfined(root: &Path) {
    let mut raw = raugeas::Augeas::init(Some(root), "", raugeas::Flags::NONE).unwrap();
    raw.set("/files/etc/hosts/1/ipaddr", "192.0.2.1").unwrap();
    raw.set("/files/etc/hosts/1/canonical", "written").unwrap();
    raw.save().unwrap();
}

/// The save's refusal to read the device node at `/etc/hosts`.
fn assert_put_read_refused(e: &vmcraft_aug::Error) {
    assert_eq!(e.kind(), ErrorKind::SaveFailed, "{e}");
    let files = e.file_errors();
    assert_eq!(files.len(), 1, "{e}");
    assert_eq!(files[0].file, "/etc/hosts");
    assert_eq!(files[0].kind, "put_read");
    assert_eq!(files[0].message, "Permission denied");
    assert_eq!(
        e.to_string(),
        "aug_save: /etc/hosts: put_read: Permission denied"
    );
}

#[test]
fn a_block_device_in_the_guest_is_never_read_nor_written() {
    if !need_root() {
        return;
    }
    let Some(fx) = loop_with_marker("aug-blockdev") else {
        return;
    };
    let rdev = std::fs::metadata(fx.path()).unwrap().rdev();
    let hash = loop_hash(&fx);
    let g = Guest::new("blockdev");
    let hosts = g.path("/etc/hosts");
    mknod(&hosts, SFlag::S_IFBLK, rdev);

    // Control: unconfined, the save reads the disk (and then replaces the
    // node with a regular file).
    let before = sectors_read(&fx);
    edit_hosts_unconfined(&g.root);
    assert!(
        sectors_read(&fx) >= before + LOOP_SIZE / 512,
        "the unconfined save did not read the disk"
    );
    assert!(std::fs::symlink_metadata(&hosts).unwrap().is_file());
    assert_eq!(loop_hash(&fx), hash);
    mknod(&hosts, SFlag::S_IFBLK, rdev);

    for flags in [
        AugFlags::empty(),
        AugFlags::SAVE_BACKUP,
        AugFlags::SAVE_NEWFILE,
    ] {
        let before = sectors_read(&fx);
        let aug = Augeas::init(&g.root, flags).unwrap();
        assert_locked_down(&aug, &g.root, &["/"]);
        aug.aug_load().unwrap();
        // Nothing of the disk in the tree, not even in an error.
        assert!(aug.aug_match("/files/etc/hosts").unwrap().is_empty());
        assert!(aug.aug_match("/augeas/files/etc/hosts").unwrap().is_empty());
        // Every save mode opens the file it replaces first (SAVE_NEWFILE
        // too, to compare).
        assert_put_read_refused(&edit_hosts(&aug).unwrap_err());
        let values = all_values(&aug);
        assert!(
            !values.iter().any(|v| v.contains(MARKER)),
            "{flags:?}: {values:?}"
        );
        let errors = aug.aug_match("/augeas//error").unwrap();
        assert_eq!(errors, ["/augeas/files/etc/hosts/error"], "{flags:?}");
        aug.aug_load().unwrap();
        drop(aug);

        assert_eq!(sectors_read(&fx), before, "{flags:?}: the disk was read");
        assert_eq!(loop_hash(&fx), hash, "{flags:?}: the disk was written");
        let meta = std::fs::symlink_metadata(&hosts).unwrap();
        assert!(meta.file_type().is_block_device(), "{flags:?}");
        assert_eq!(meta.rdev(), rdev);
        assert!(!g.exists("/etc/hosts.augsave") && !g.exists("/etc/hosts.augnew"));
    }

    // The same tree with a regular /etc/hosts: as before.
    std::fs::remove_file(&hosts).unwrap();
    g.write("/etc/hosts", "192.0.2.9 regular\n");
    let aug = Augeas::init(&g.root, AugFlags::SAVE_BACKUP).unwrap();
    assert_eq!(
        aug.aug_get("/files/etc/hosts/1/canonical").unwrap(),
        "regular"
    );
    edit_hosts(&aug).unwrap();
    drop(aug);
    assert_eq!(g.read("/etc/hosts"), "192.0.2.1 written\n");
    assert_eq!(g.read("/etc/hosts.augsave"), "192.0.2.9 regular\n");
}

#[test]
fn null_and_zero_device_nodes_in_the_guest_are_not_opened() {
    if !need_root() {
        return;
    }
    for (major, minor) in [(1, 3), (1, 5)] {
        let rdev = nix::sys::stat::makedev(major, minor);
        let g = Guest::new("chardev");
        let hosts = g.path("/etc/hosts");
        mknod(&hosts, SFlag::S_IFCHR, rdev);

        if (major, minor) == (1, 3) {
            // Control: unconfined, the save reads /dev/null (empty) and
            // replaces the node. (Not tried on /dev/zero: it reads 32 MiB.)
            edit_hosts_unconfined(&g.root);
            assert_eq!(g.read("/etc/hosts"), "192.0.2.1\twritten\n");
            mknod(&hosts, SFlag::S_IFCHR, rdev);
        }

        let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
        let pid = aug.worker_pid().unwrap();
        assert!(aug.aug_match("/augeas/files/etc/hosts").unwrap().is_empty());
        let e = edit_hosts(&aug).unwrap_err();
        assert_put_read_refused(&e);
        assert_eq!(aug.worker_pid(), Some(pid), "the worker lives on");
        drop(aug);
        let meta = std::fs::symlink_metadata(&hosts).unwrap();
        assert!(meta.file_type().is_char_device(), "{major}:{minor}");
        assert_eq!(meta.rdev(), rdev);
    }
}

#[test]
fn the_workers_copy_keeps_flags_and_leaves_the_host_unchanged() {
    if !need_root() {
        return;
    }
    let g = Guest::new("mountcopy");
    // The guest root on a mount of its own, shared (as systemd makes every
    // mount): a copy left a peer of it would receive what the host mounts
    // there later. Below it, mounts with flags of their own: read-only,
    // noatime, strict atime with nodiratime.
    let shared = g.env.path().join("shared");
    let outer = Tmpfs::new(&shared, MsFlags::empty());
    nix::mount::mount(
        None::<&str>,
        &shared,
        None::<&str>,
        MsFlags::MS_SHARED,
        None::<&str>,
    )
    .unwrap();
    let root = shared.join("guest");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/hosts"), "192.0.2.1 guest\n").unwrap();
    let usr = Tmpfs::new(&root.join("usr"), MsFlags::MS_RDONLY);
    let var = Tmpfs::new(&root.join("var"), MsFlags::MS_NOATIME);
    let srv = Tmpfs::new(
        &root.join("srv"),
        MsFlags::MS_STRICTATIME | MsFlags::MS_NODIRATIME,
    );
    std::fs::write(root.join("srv/marker"), "on srv\n").unwrap();
    let host_before = host_mounts_about(&root);
    assert_eq!(host_before.len(), 5, "{host_before:?}");

    let aug = Augeas::init(&root, AugFlags::empty()).unwrap();
    let pid = aug.worker_pid().unwrap();
    let points = ["/", "/usr", "/var", "/srv"];
    let flags = assert_locked_down(&aug, &root, &points);
    let of = |mp: &str| flags[points.iter().position(|p| *p == mp).unwrap()];
    assert!(!of("/").contains(FsFlags::ST_RDONLY), "{:?}", of("/"));
    assert!(of("/usr").contains(FsFlags::ST_RDONLY), "{:?}", of("/usr"));
    assert!(of("/var").contains(FsFlags::ST_NOATIME), "{:?}", of("/var"));
    let srv_flags = of("/srv");
    assert!(srv_flags.contains(FsFlags::ST_NODIRATIME), "{srv_flags:?}");
    assert!(
        !srv_flags.intersects(FsFlags::ST_RELATIME | FsFlags::ST_NOATIME),
        "{srv_flags:?}"
    );
    // The host's mounts keep their own flags.
    let host_usr = nix::sys::statvfs::statvfs(&root.join("usr"))
        .unwrap()
        .flags();
    assert!(!host_usr.contains(FsFlags::ST_NODEV), "{host_usr:?}");
    assert_eq!(host_mounts_about(&root), host_before);

    // The host's later mounts do not reach the worker: it keeps reading the
    // guest's own /etc/hosts under a tmpfs mounted over /etc.
    let over = Tmpfs::new(&root.join("etc"), MsFlags::empty());
    std::fs::write(root.join("etc/hosts"), "192.0.2.2 hostside\n").unwrap();
    aug.aug_load().unwrap();
    assert_eq!(
        aug.aug_get("/files/etc/hosts/1/canonical").unwrap(),
        "guest"
    );
    assert_eq!(
        mount_id(&in_worker(&aug, "/etc")),
        mount_id(&in_worker(&aug, "/"))
    );
    assert_locked_down(&aug, &root, &points);
    drop(over);
    // Nor do its unmounts (a peer of the shared /srv would lose it).
    drop(srv);
    assert!(!root.join("srv/marker").exists());
    assert_eq!(
        std::fs::read_to_string(in_worker(&aug, "/srv/marker")).unwrap(),
        "on srv\n"
    );
    assert_locked_down(&aug, &root, &points);

    aug.aug_set("/files/etc/hosts/1/canonical", "edited")
        .unwrap();
    aug.aug_save().unwrap();
    aug.aug_close().unwrap();
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(
        std::fs::read_to_string(root.join("etc/hosts")).unwrap(),
        "192.0.2.1 edited\n"
    );
    // As before, but for the /srv this test unmounted.
    let expected: Vec<String> = host_before
        .into_iter()
        .filter(|l| !l.contains("/guest/srv "))
        .collect();
    assert_eq!(expected.len(), 4);
    assert_eq!(host_mounts_about(&root), expected);
    drop((var, usr));
    drop(outer);
}

#[test]
fn a_filesystem_unmounted_below_the_root_stays_the_workers_until_it_closes() {
    if !need_root() {
        return;
    }
    let g = Guest::new("umount-below");
    g.write("/etc/hosts", "192.0.2.1 guest\n");
    let boot = Tmpfs::new(&g.path("/boot"), MsFlags::MS_NODEV);
    g.write("/boot/hosts", "192.0.2.3 onboot\n");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    aug.aug_transform("Hosts", "/boot/hosts", false).unwrap();
    aug.aug_load().unwrap();
    assert_eq!(
        aug.aug_get("/files/boot/hosts/1/canonical").unwrap(),
        "onboot"
    );
    // The worker does not keep the host's mount busy: it unmounts...
    nix::mount::umount2(&g.path("/boot"), MntFlags::empty()).unwrap();
    assert!(!g.exists("/boot/hosts"));
    // ...but the worker's copy stays, until the handle closes (see
    // tests/foreign_mounts.rs for the device it keeps in use).
    assert_locked_down(&aug, &g.root, &["/", "/boot"]);
    aug.aug_load().unwrap();
    assert_eq!(
        aug.aug_get("/files/boot/hosts/1/canonical").unwrap(),
        "onboot"
    );
    aug.aug_close().unwrap();
    drop(boot);
}

/// Drop `CAP_SYS_ADMIN` from this thread (the worker has the capabilities of
/// the thread that opens the handle): it can still chroot, not copy mounts.
fn drop_sys_admin() {
    use rustix::thread::{CapabilitySet, CapabilitySets, capabilities, set_capabilities};
    let now = capabilities(None).unwrap();
    set_capabilities(
        None,
        CapabilitySets {
            effective: now.effective - CapabilitySet::SYS_ADMIN,
            permitted: now.permitted - CapabilitySet::SYS_ADMIN,
            inheritable: now.inheritable,
        },
    )
    .unwrap();
}

#[test]
fn without_cap_sys_admin_a_root_that_allows_devices_is_refused() {
    if !need_root() {
        return;
    }
    let g = Guest::new("noadmin");
    g.write("/etc/hosts", "192.0.2.1 guest\n");
    let root = g.root.clone();
    let before = g.snapshot();
    let e = std::thread::spawn(move || {
        drop_sys_admin();
        Augeas::init(&root, AugFlags::empty()).unwrap_err()
    })
    .join()
    .unwrap();
    assert_eq!(e.kind(), ErrorKind::UnsafeRoot);
    // The tree lies on the host's root filesystem (or whichever holds /tmp).
    let canonical = g.root.canonicalize().unwrap();
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "aug_init: {}: refusing to run augeas in a guest root where device nodes can \
             be opened: ",
            canonical.display()
        )),
        "{msg}"
    );
    assert!(
        msg.ends_with(
            " not mounted nodev, and the augeas worker could not make a nodev copy of the \
             guest's mounts (open_tree(OPEN_TREE_CLONE): Operation not permitted); a guest \
             device node would let augeas read or write a host device (mount the guest with \
             nodev, or open the handle with CAP_SYS_ADMIN)"
        ),
        "{msg}"
    );
    assert_eq!(g.snapshot(), before);
}

#[test]
fn without_cap_sys_admin_a_nodev_root_works_and_is_watched() {
    if !need_root() {
        return;
    }
    let g = Guest::new("noadmin-nodev");
    let guest_fs = Tmpfs::new(&g.root, MsFlags::MS_NODEV | MsFlags::MS_NOSUID);
    g.write("/etc/hosts", "192.0.2.1 guest\n");
    mknod(
        &g.path("/etc/null-hosts"),
        SFlag::S_IFCHR,
        nix::sys::stat::makedev(1, 3),
    );
    let root = g.root.clone();
    let (tx, rx) = std::sync::mpsc::channel::<&'static str>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    // The handle lives in a thread without CAP_SYS_ADMIN; this thread mounts.
    let worker = std::thread::spawn(move || {
        drop_sys_admin();
        let aug = Augeas::init(&root, AugFlags::empty()).unwrap();
        let pid = aug.worker_pid().unwrap();
        // The caller's own mounts: no copy, its root is the host's mount.
        assert_eq!(
            std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap(),
            std::fs::read_link("/proc/self/ns/mnt").unwrap()
        );
        assert_eq!(mount_id(&in_worker(&aug, "/")), mount_id(&root));
        assert_eq!(
            aug.aug_get("/files/etc/hosts/1/canonical").unwrap(),
            "guest"
        );
        // A device node on the nodev mount is not opened either.
        aug.aug_transform("Hosts", "/etc/null-hosts", false)
            .unwrap();
        aug.aug_set("/files/etc/null-hosts/1/ipaddr", "192.0.2.1")
            .unwrap();
        aug.aug_set("/files/etc/null-hosts/1/canonical", "x")
            .unwrap();
        let e = aug.aug_save().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SaveFailed, "{e}");
        assert_eq!(
            e.to_string(),
            "aug_save: /etc/null-hosts: put_read: Permission denied"
        );
        aug.aug_rm("/files/etc/null-hosts").unwrap();
        aug.aug_transform("Hosts", "/etc/null-hosts", true).unwrap();
        aug.aug_set("/files/etc/hosts/1/canonical", "changed")
            .unwrap();
        tx.send("mount").unwrap();
        done_rx.recv().unwrap();
        // A mount without nodev inside the root now: load and save refused.
        let refused = [aug.aug_save().unwrap_err(), aug.aug_load().unwrap_err()];
        tx.send("proc").unwrap();
        done_rx.recv().unwrap();
        // A proc mount inside the root: refused too.
        let proc_refused = [aug.aug_save().unwrap_err(), aug.aug_load().unwrap_err()];
        tx.send("unmount").unwrap();
        done_rx.recv().unwrap();
        // Gone again: the pending change (kept, the load was refused) saves.
        aug.aug_save().unwrap();
        (refused, proc_refused)
    });
    assert_eq!(rx.recv().unwrap(), "mount");
    // (The test cannot read the node either, to snapshot the tree.)
    std::fs::remove_file(g.path("/etc/null-hosts")).unwrap();
    let later = Tmpfs::new(&g.path("/srv"), MsFlags::empty());
    done_tx.send(()).unwrap();
    assert_eq!(rx.recv().unwrap(), "proc");
    drop(later);
    std::fs::create_dir(g.path("/proc")).unwrap();
    let before_proc = g.snapshot();
    nix::mount::mount(
        Some("proc"),
        &g.path("/proc"),
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        None::<&str>,
    )
    .unwrap();
    done_tx.send(()).unwrap();
    assert_eq!(rx.recv().unwrap(), "unmount");
    nix::mount::umount2(&g.path("/proc"), MntFlags::MNT_DETACH).unwrap();
    assert_eq!(g.snapshot(), before_proc);
    done_tx.send(()).unwrap();
    let (refused, proc_refused) = worker.join().unwrap();
    for e in &refused {
        assert_eq!(e.kind(), ErrorKind::UnsafeRoot, "{e}");
        assert!(
            e.to_string().contains(&format!(
                "{} (tmpfs) not mounted nodev",
                g.path("/srv").display()
            )),
            "{e}"
        );
    }
    for e in &proc_refused {
        assert_eq!(e.kind(), ErrorKind::UnsafeRoot, "{e}");
        assert!(e.to_string().contains("(proc)"), "{e}");
    }
    assert_eq!(g.read("/etc/hosts"), "192.0.2.1 changed\n");
    drop(guest_fs);
}
