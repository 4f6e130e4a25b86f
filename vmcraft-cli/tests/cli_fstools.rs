//! Filesystem tools through the binary, in guestfish's syntax and with
//! guestfish's output: `fsck` (status in hexadecimal, as guestfish prints it),
//! `set-label`/`set-uuid`/`set-uuid-random` seen at once by `vfs-label`,
//! `vfs-uuid` and `blkid`, `tune2fs` optional arguments read back with
//! `tune2fs-l` (compared line for line with the host's `tune2fs -l`), `mke2fs`
//! optional arguments checked with `dumpe2fs -h`, `mkswap-L`/`mkswap-U`,
//! `mkswap-file`, `resize2fs-size`/`resize2fs-M`/`vfs-minimum-size`, `wipefs`,
//! `ntfsresize`/`ntfsresize-opts`/`ntfsfix`; refusals (`--ro`, bad arguments,
//! `swapon-*`) with exit status 1, the message on stderr and the image
//! unchanged.

mod cli_support;

use std::path::{Path, PathBuf};

use cli_support::{assert_no_session_left, image, script, sha256, tool};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

/// A whole-disk image made by `mkfs` (argv, the image appended).
fn fs_image(env: &TestEnv, name: &str, size: u64, mkfs: &[&str]) -> PathBuf {
    let img = image(env, name, size);
    let mut args: Vec<&str> = mkfs[1..].to_vec();
    args.push(img.to_str().unwrap());
    tool(mkfs[0], &args);
    img
}

/// `tune2fs -l` as libguestfs's tune2fs_l returns it, printed as guestfish
/// prints a hash: the oracle for `tune2fs-l`.
fn tune2fs_l_oracle(img: &Path) -> String {
    let out = tool("tune2fs", &["-l", img.to_str().unwrap()]);
    let mut s = String::new();
    for (i, line) in out.lines().enumerate() {
        if (i == 0 && line.starts_with("tune2fs ")) || line.is_empty() {
            continue;
        }
        match line.split_once(':') {
            Some((k, v)) => {
                let v = v.trim_start();
                let v = if matches!(v, "<none>" | "<not available>" | "(none)") {
                    ""
                } else {
                    v
                };
                s.push_str(&format!("{k}: {v}\n"));
            }
            None => s.push_str(&format!("{line}: \n")),
        }
    }
    s
}

#[test]
fn ext4_label_uuid_fsck_and_tune2fs() {
    if !require_root("attaching images") || !require_tool("tune2fs") {
        return;
    }
    let env = TestEnv::new("cli-fstools-ext4");
    let img = fs_image(&env, "ext4.img", 64 << 20, &["mkfs.ext4", "-F", "-q"]);
    let zero = image(&env, "zero.img", 16 << 20);
    let p = img.to_str().unwrap();
    let o = script(
        &env,
        &["-a", p, "-a", zero.to_str().unwrap()],
        "run
vfs-label /dev/sda
set-label /dev/sda newlabel
vfs-label /dev/sda
set-uuid /dev/vda 01234567-89ab-cdef-0123-456789abcdef
vfs-uuid /dev/sda
get-e2uuid /dev/sda
set-e2label /dev/sda e2
get-e2label /dev/sda
fsck ext4 /dev/sda
fsck ext2 /dev/sdb
tune2fs /dev/sda maxmountcount:0 intervalbetweenchecks:86400 errorbehavior:panic
",
    );
    assert_eq!(
        o.ok(),
        "\nnewlabel\n01234567-89ab-cdef-0123-456789abcdef\n\
         01234567-89ab-cdef-0123-456789abcdef\ne2\n0\n0x8\n"
    );
    // tune2fs-l prints what the host's tune2fs -l says, as a guestfish hash.
    let o = script(&env, &["-a", p], "run\ntune2fs-l /dev/sda\n");
    let printed = o.ok().to_string();
    assert_eq!(printed, tune2fs_l_oracle(&img));
    assert!(printed.contains("\nMaximum mount count: -1\n"), "{printed}");
    assert!(
        printed.contains("\nCheck interval: 86400 (1 day)\n"),
        "{printed}"
    );
    assert!(printed.contains("\nErrors behavior: Panic\n"), "{printed}");
    assert!(
        printed.starts_with("Filesystem volume name: e2\n"),
        "{printed}"
    );
    assert_eq!(
        tool("blkid", &["-p", "-s", "UUID", "-o", "value", p]).trim(),
        "01234567-89ab-cdef-0123-456789abcdef"
    );

    // Refused, exit status 1, the image unchanged.
    let before = sha256(&img);
    for (cmd, err) in [
        (
            "set-label /dev/sda seventeen-bytes-x",
            "vmcraft: error: set_label: /dev/sda: label 'seventeen-bytes-x': ext4 labels are \
             limited to 16 bytes\n",
        ),
        (
            "set-uuid /dev/sda random",
            "vmcraft: error: set_uuid: /dev/sda: ext4: 'random' is a magic value, not a UUID\n",
        ),
        (
            "tune2fs /dev/sda errorbehavior:explode",
            "vmcraft: error: tune2fs: /dev/sda: invalid errorbehavior 'explode' (expected \
             continue, remount-ro or panic)\n",
        ),
        (
            "fsck ext4;x /dev/sda",
            "vmcraft: error: fsck: /dev/sda: invalid filesystem type 'ext4;x'\n",
        ),
        (
            "resize2fs-size /dev/sda 1000",
            "vmcraft: error: resize2fs_size: /dev/sda: size 1000 must be a positive round \
             number of kilobytes\n",
        ),
        (
            "swapon-device /dev/sda",
            "vmcraft: error: swapon_device: /dev/sda: VMCraft has no appliance: swapon/swapoff \
             would make the host kernel swap onto (or stop swapping onto) a guest disk, so swap \
             activation is not supported\n",
        ),
        (
            "swapon-label swap",
            "vmcraft: error: swapon_label: swap: VMCraft has no appliance: swapon/swapoff would \
             make the host kernel swap onto (or stop swapping onto) a guest disk, so swap \
             activation is not supported\n",
        ),
    ] {
        let o = script(&env, &["-a", p], &format!("run\n{cmd}\n"));
        assert_eq!(o.failed(), err, "{cmd}");
    }
    assert_eq!(sha256(&img), before);
    // Mounted: refused (the mount itself writes the superblock).
    let o = script(
        &env,
        &["-a", p],
        "run\nmount /dev/sda /\nset-label /dev/sda m\n",
    );
    let before = sha256(&img);
    assert_eq!(
        o.failed(),
        "vmcraft: error: set_label: /dev/sda: the device is mounted\n"
    );
    for cmd in [
        "set-label /dev/sda ro",
        "set-uuid-random /dev/sda",
        "tune2fs /dev/sda maxmountcount:3",
        "fsck ext4 /dev/sda",
        "wipefs /dev/sda",
        "mke2fs /dev/sda",
    ] {
        let o = script(&env, &["--ro", "-a", p], &format!("run\n{cmd}\n"));
        assert!(
            o.failed()
                .ends_with("/dev/sda: the drive was added read-only\n"),
            "{cmd}: {}",
            o.stderr
        );
    }
    // Reads are fine on a read-only drive.
    let o = script(&env, &["--ro", "-a", p], "run\nget-e2label /dev/sda\n");
    assert_eq!(o.ok(), "e2\n");
    assert_eq!(sha256(&img), before);
    assert_no_session_left(&env);
}

#[test]
fn mke2fs_resize_and_minimum_size() {
    if !require_root("attaching images") || !require_tool("dumpe2fs") {
        return;
    }
    let env = TestEnv::new("cli-fstools-mke2fs");
    let img = image(&env, "disk.img", 64 << 20);
    let p = img.to_str().unwrap();
    let o = script(
        &env,
        &["-a", p],
        "run
mke2fs /dev/sda fstype:ext4 blocksize:4096 label:data inodesize:256 reservedblockspercentage:1 \
uuid:22222222-3333-4444-5555-666666666666
vfs-type /dev/sda
vfs-label /dev/sda
blkid /dev/sda
resize2fs-size /dev/sda 41943040
resize2fs-M /dev/sda
",
    );
    assert_eq!(
        o.ok(),
        "ext4\ndata\nBLOCK_SIZE: 4096\nLABEL: data\nTYPE: ext4\nUSAGE: filesystem\n\
         UUID: 22222222-3333-4444-5555-666666666666\n"
    );
    let d = tool("dumpe2fs", &["-h", p]);
    let field = |k: &str| {
        d.lines()
            .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("{k}: {d}"))
    };
    assert_eq!(field("Block size:"), "4096");
    assert_eq!(field("Inode size:"), "256");
    let blocks: u64 = field("Block count:").parse().unwrap();
    assert!(blocks < 10240, "resize2fs-M left {blocks} blocks");
    let o = script(&env, &["-a", p], "run\nvfs-minimum-size /dev/sda\n");
    let min: u64 = o.ok().trim().parse().unwrap();
    assert!(min > 0 && min <= blocks * 4096, "{min}");
    tool("e2fsck", &["-fn", p]);
    assert_no_session_left(&env);
}

#[test]
fn swap_and_wipefs() {
    if !require_root("attaching images") || !require_tool("mkswap") || !require_tool("wipefs") {
        return;
    }
    let env = TestEnv::new("cli-fstools-swap");
    let sw = image(&env, "swap.img", 8 << 20);
    let root = fs_image(&env, "root.img", 32 << 20, &["mkfs.ext4", "-F", "-q"]);
    let o = script(
        &env,
        &["-a", sw.to_str().unwrap(), "-a", root.to_str().unwrap()],
        "run
mkswap-L swaplbl /dev/sda
vfs-type /dev/sda
vfs-label /dev/sda
mkswap-U 33333333-4444-5555-6666-777777777777 /dev/sda
vfs-uuid /dev/sda
set-label /dev/sda relabeled
vfs-label /dev/sda
mount /dev/sdb /
fill 0 1048576 /swapfile
mkswap-file /swapfile
pread /swapfile 10 4086
wipefs /dev/sda
vfs-type /dev/sda
",
    );
    assert_eq!(
        o.ok(),
        "swap\nswaplbl\n33333333-4444-5555-6666-777777777777\nrelabeled\nSWAPSPACE2\n"
    );
    // blkid finds nothing there now (exit status 2: no signature).
    let blkid = std::process::Command::new("blkid")
        .args(["-p", sw.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(blkid.status.code(), Some(2), "{blkid:?}");
    assert_no_session_left(&env);
}

#[test]
fn ntfs_label_resize_and_fix() {
    if !require_root("attaching images") || !require_tool("ntfsresize") || !require_tool("mkntfs") {
        return;
    }
    let env = TestEnv::new("cli-fstools-ntfs");
    let img = fs_image(&env, "ntfs.img", 64 << 20, &["mkntfs", "-Q", "-F", "-q"]);
    let p = img.to_str().unwrap();
    let o = script(
        &env,
        &["-a", p],
        "run
set-label /dev/sda WINDATA
vfs-label /dev/sda
set-uuid /dev/sda 0123456789ABCDEF
vfs-uuid /dev/sda
ntfsresize-size /dev/sda 50331648
ntfsresize-opts /dev/sda size:41943040 force:true
ntfsfix /dev/sda clearbadsectors:true
vfs-type /dev/sda
",
    );
    assert_eq!(o.ok(), "WINDATA\n0123456789ABCDEF\nntfs\n");
    assert_eq!(
        tool("blkid", &["-p", "-s", "LABEL", "-o", "value", p]).trim(),
        "WINDATA"
    );
    let o = script(&env, &["-a", p], "run\nntfsresize /dev/sda size:0\n");
    assert_eq!(
        o.failed(),
        "vmcraft: error: ntfsresize: /dev/sda: size 0 is zero or negative\n"
    );
    assert_no_session_left(&env);
}
