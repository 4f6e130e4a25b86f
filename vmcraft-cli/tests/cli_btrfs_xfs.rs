//! Btrfs and XFS administration through the binary, in guestfish's syntax and
//! output layout: `mkfs-btrfs` with optional arguments, subvolume calls
//! (`btrfs-subvolume-list` prints `[N] = { ... }` structs, `-show` prints
//! `key: value` pairs, `-get-default` a number), `btrfs-filesystem-show`,
//! `xfs-info` (the xfsinfo struct as `field: value` lines), `xfs-admin`,
//! `xfs-repair` (its status); errors as `vmcraft: error: CALL: ...` with exit
//! status 1 and the image unchanged; `--ro` refused; a guest symlink to a host
//! directory never reaching it. Oracles: btrfs-progs on a host mount of the
//! image, xfs_db, xfs_admin -l -u, xfs_repair -n.

mod cli_support;

use std::path::Path;

use cli_support::{run, script, sha256, tool};
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};

fn img_arg(img: &Path) -> String {
    img.to_str().unwrap().to_string()
}

/// `btrfs subvolume list` on a host mount (top level) of the image.
fn oracle_subvolumes(env: &TestEnv, img: &Path) -> String {
    let lo = env.loop_device(img);
    let dir = env.path().join("oracle-mnt");
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap();
    tool(
        "mount",
        &["-o", "subvolid=5", lo.path().to_str().unwrap(), d],
    );
    let out = std::panic::catch_unwind(|| tool("btrfs", &["subvolume", "list", d]));
    tool("umount", &[d]);
    drop(lo);
    out.unwrap()
}

/// btrfs-progs records every scrub in `/var/lib/btrfs/scrub.status.FSID` on
/// the host; the test removes the record of its image's filesystem when it
/// ends (also on a panic).
struct ForgetScrubs(std::path::PathBuf);

impl Drop for ForgetScrubs {
    fn drop(&mut self) {
        let Ok(out) = std::process::Command::new("btrfs")
            .args(["inspect-internal", "dump-super"])
            .arg(&self.0)
            .output()
        else {
            return;
        };
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(fsid) = text
            .lines()
            .find(|l| l.starts_with("fsid"))
            .and_then(|l| l.split_whitespace().nth(1))
        {
            let _ = std::fs::remove_file(format!("/var/lib/btrfs/scrub.status.{fsid}"));
        }
    }
}

#[test]
fn btrfs_subvolumes_print_as_guestfish_prints_them() {
    if !require_root("attaching images") || !require_tool("mkfs.btrfs") || !require_tool("btrfs") {
        return;
    }
    let env = TestEnv::new("cli-btrfs");
    let img = env.sparse_image("btrfs.img", 256 << 20);
    let _forget = ForgetScrubs(img.clone());
    let o = script(
        &env,
        &["-a", &img_arg(&img)],
        "run\n\
         mkfs-btrfs /dev/sda label:cli nodesize:16384\n\
         vfs-label /dev/sda\n\
         btrfs-subvolume-get-default /dev/sda\n\
         mount /dev/sda /\n\
         mkdir /dir\n\
         btrfs-subvolume-create /test1\n\
         btrfs-subvolume-create-opts /dir/test2 qgroupid:0/300\n\
         btrfs-subvolume-snapshot /test1 /dir/snap ro:true\n\
         btrfs-subvolume-list /\n\
         btrfs-subvolume-show /dir/snap\n\
         btrfs-filesystem-show /dev/vda\n\
         btrfs-filesystem-sync /\n\
         btrfs-balance /\n\
         btrfs-filesystem-defragment / flush:true compress:zlib\n\
         btrfs-scrub-start /\n\
         btrfs-subvolume-set-default 256 /\n\
         btrfs-subvolume-get-default /\n",
    );
    let out = o.ok();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("cli"));
    assert_eq!(lines.next(), Some("5"));
    // The struct list, exactly as guestfish lays it out.
    let expected_list = "\
[0] = {
  btrfssubvolume_id: 256
  btrfssubvolume_top_level_id: 5
  btrfssubvolume_path: test1
}
[1] = {
  btrfssubvolume_id: 257
  btrfssubvolume_top_level_id: 5
  btrfssubvolume_path: dir/test2
}
[2] = {
  btrfssubvolume_id: 258
  btrfssubvolume_top_level_id: 5
  btrfssubvolume_path: dir/snap
}
";
    assert!(out.contains(expected_list), "{out}");
    for l in [
        "path: dir/snap\n",
        "Name: snap\n",
        "Subvolume ID: 258\n",
        "Flags: readonly\n",
        "Snapshot(s): \n",
    ] {
        assert!(out.contains(l), "{l:?} in {out}");
    }
    assert!(out.contains("\n/dev/sda\n"), "{out}");
    assert!(out.ends_with("\n256\n"), "{out}");
    // The oracle: btrfs-progs on the image.
    let theirs = oracle_subvolumes(&env, &img);
    let theirs: Vec<(String, String, String)> = theirs
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (
                w[1].to_string(),
                w[6].to_string(),
                l.split_once(" path ").unwrap().1.to_string(),
            )
        })
        .collect();
    assert_eq!(
        theirs,
        [
            ("256", "5", "test1"),
            ("257", "5", "dir/test2"),
            ("258", "5", "dir/snap")
        ]
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );
    assert_eq!(
        tool(
            "btrfs",
            &["inspect-internal", "dump-super", img.to_str().unwrap()]
        )
        .lines()
        .find(|l| l.starts_with("label"))
        .unwrap()
        .split_whitespace()
        .nth(1),
        Some("cli")
    );

    // Errors: named after the call, exit status 1, nothing changed.
    let before = sha256(&img);
    for (cmd, msg) in [
        (
            "btrfs-subvolume-create /bad qgroupid:x",
            "vmcraft: error: btrfs_subvolume_create: /bad: qgroupid 'x' is not of the form LEVEL/ID (e.g. 0/257)",
        ),
        (
            "btrfs-subvolume-show /dir",
            "vmcraft: error: btrfs_subvolume_show: /dir: /dir is not a subvolume",
        ),
        (
            "btrfs-filesystem-defragment / compress:lz4",
            "vmcraft: error: btrfs_filesystem_defragment: /: unknown compress method: lz4 (zlib, lzo or zstd)",
        ),
        (
            "btrfs-filesystem-resize / size:-5",
            "vmcraft: error: btrfs_filesystem_resize: /: size is zero or negative",
        ),
    ] {
        let o = script(
            &env,
            &["-a", &img_arg(&img)],
            &format!("run\nmount-options ro,subvolid=5 /dev/sda /\n{cmd}\n"),
        );
        let err = o.failed();
        assert!(err.starts_with(msg), "{cmd}: {err}");
    }
    let o = script(
        &env,
        &["-a", &img_arg(&img)],
        "run\nmkfs-btrfs /dev/sda datatype:raid7\n",
    );
    assert!(
        o.failed()
            .starts_with("vmcraft: error: mkfs_btrfs: /dev/sda: datatype 'raid7' is not one of the allowed values"),
        "{}",
        o.stderr
    );
    // --ro: every writing call refused before anything runs.
    for cmd in [
        "mkfs-btrfs /dev/sda",
        "btrfs-set-seeding /dev/sda true",
        "mount-options subvolid=5 /dev/sda /\nbtrfs-subvolume-create /new",
        "mount-options subvolid=5 /dev/sda /\nbtrfs-subvolume-delete /test1",
    ] {
        let o = script(
            &env,
            &["--ro", "-a", &img_arg(&img)],
            &format!("run\n{cmd}\n"),
        );
        assert!(o.failed().contains("read-only"), "{cmd}: {}", o.stderr);
    }
    // Reading works on --ro.
    let o = run(
        &env,
        &[
            "--ro",
            "-a",
            &img_arg(&img),
            "run",
            ":",
            "btrfs-subvolume-list",
            "/dev/sda",
        ],
        "",
    );
    assert!(o.ok().contains(expected_list), "{}", o.stdout);
    assert_eq!(sha256(&img), before, "a refused call changed the image");
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn btrfs_guest_symlink_to_a_host_directory_is_the_guests() {
    if !require_root("attaching images") || !require_tool("mkfs.btrfs") || !require_tool("btrfs") {
        return;
    }
    let env = TestEnv::new("cli-btrfs-confine");
    let host_dir = env.path().join("host-dir");
    std::fs::create_dir(&host_dir).unwrap();
    let img = env.sparse_image("btrfs.img", 256 << 20);
    let h = host_dir.to_str().unwrap();
    let o = script(
        &env,
        &["-a", &img_arg(&img)],
        &format!(
            "run\nmkfs-btrfs /dev/sda\nmount /dev/sda /\nln-s {h} /abs\n\
             btrfs-subvolume-create /abs/evil\n"
        ),
    );
    assert!(
        o.failed().starts_with(
            "vmcraft: error: btrfs_subvolume_create: /abs: cannot be resolved in the guest tree"
        ),
        "{}",
        o.stderr
    );
    assert_eq!(std::fs::read_dir(&host_dir).unwrap().count(), 0);
    // With the directory made in the guest, the subvolume lands there.
    let o = script(
        &env,
        &["-a", &img_arg(&img)],
        &format!(
            "run\nmount /dev/sda /\nmkdir-p {h}\nbtrfs-subvolume-create /abs/made\n\
             btrfs-subvolume-list /\nis-dir {h}/made\n"
        ),
    );
    let out = o.ok();
    assert!(
        out.contains(&format!(
            "  btrfssubvolume_path: {}/made\n",
            h.trim_start_matches('/')
        )),
        "{out}"
    );
    assert!(out.ends_with("true\n"), "{out}");
    assert_eq!(std::fs::read_dir(&host_dir).unwrap().count(), 0);
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn xfs_info_admin_and_repair_through_the_binary() {
    if !require_root("attaching images")
        || !require_tool("mkfs.xfs")
        || !require_tool("xfs_db")
        || !require_tool("xfs_repair")
    {
        return;
    }
    let env = TestEnv::new("cli-xfs");
    let img = env.sparse_image("xfs.img", 320 << 20);
    let p = img_arg(&img);
    let o = script(
        &env,
        &["-a", &p],
        "run\n\
         mkfs xfs /dev/sda\n\
         xfs-info /dev/sda\n\
         xfs-admin /dev/sda label:LBL-TEST uuid:01234567-89ab-cdef-0123-456789abcdef\n\
         vfs-label /dev/sda\n\
         xfs-repair /dev/sda nomodify:true\n\
         mount /dev/sda /\n\
         xfs-info2 /\n",
    );
    let out = o.ok();
    let sb = tool(
        "xfs_db",
        &["-r", "-c", "sb 0", "-c", "p blocksize agcount dblocks", &p],
    );
    let sbv = |k: &str| {
        sb.lines()
            .find_map(|l| l.strip_prefix(&format!("{k} = ")))
            .unwrap()
            .trim()
            .to_string()
    };
    // The struct, one `field: value` a line, in libguestfs's field order.
    let fields: Vec<&str> = out
        .lines()
        .take_while(|l| l.starts_with("xfs_"))
        .map(|l| l.split_once(": ").unwrap().0)
        .collect();
    assert_eq!(
        fields,
        [
            "xfs_mntpoint",
            "xfs_inodesize",
            "xfs_agcount",
            "xfs_agsize",
            "xfs_sectsize",
            "xfs_attr",
            "xfs_blocksize",
            "xfs_datablocks",
            "xfs_imaxpct",
            "xfs_sunit",
            "xfs_swidth",
            "xfs_dirversion",
            "xfs_dirblocksize",
            "xfs_cimode",
            "xfs_logname",
            "xfs_logblocksize",
            "xfs_logblocks",
            "xfs_logversion",
            "xfs_logsectsize",
            "xfs_logsunit",
            "xfs_lazycount",
            "xfs_rtname",
            "xfs_rtextsize",
            "xfs_rtblocks",
            "xfs_rtextents"
        ]
    );
    for l in [
        "xfs_mntpoint: /dev/sda\n".to_string(),
        format!("xfs_blocksize: {}\n", sbv("blocksize")),
        format!("xfs_agcount: {}\n", sbv("agcount")),
        format!("xfs_datablocks: {}\n", sbv("dblocks")),
        "xfs_logname: internal log\n".to_string(),
        "xfs_rtname: none\n".to_string(),
        "\nLBL-TEST\n0\n".to_string(),
        "meta-data: /dev/sda\n".to_string(),
        format!("data.bsize: {}\n", sbv("blocksize")),
        "naming: version 2\n".to_string(),
    ] {
        assert!(out.contains(&l), "{l:?} in {out}");
    }
    let said = tool("xfs_admin", &["-l", "-u", &p]);
    assert!(said.contains("label = \"LBL-TEST\""), "{said}");
    assert!(
        said.contains("UUID = 01234567-89ab-cdef-0123-456789abcdef"),
        "{said}"
    );
    // Corruption found (status 1 printed), repaired (0), as xfs_repair -n agrees.
    tool(
        "xfs_db",
        &["-x", "-c", "inode 128", "-c", "write core.nlinkv2 7", &p],
    );
    let o = script(
        &env,
        &["-a", &p],
        "run\nxfs-repair /dev/sda nomodify:true\nxfs-repair /dev/sda\n",
    );
    assert_eq!(o.ok(), "1\n0\n");
    tool("xfs_repair", &["-n", &p]);
    // Refused while mounted (the mount itself may write the log: the image is
    // compared from here on).
    let o = script(
        &env,
        &["-a", &p],
        "run\nmount-ro /dev/sda /\nxfs-admin /dev/sda label:x\n",
    );
    assert!(
        o.failed()
            .starts_with("vmcraft: error: xfs_admin: /dev/sda: the device is mounted"),
        "{}",
        o.stderr
    );
    let before = sha256(&img);
    for (args, cmd, msg) in [
        (
            vec![],
            "xfs-admin /dev/sda label:thirteen-char",
            "vmcraft: error: xfs_admin: /dev/sda: thirteen-char: xfs labels are limited to 12 bytes",
        ),
        (
            vec!["--ro"],
            "xfs-admin /dev/sda label:x",
            "vmcraft: error: xfs_admin: /dev/sda: the drive was added read-only",
        ),
        (
            vec!["--ro"],
            "xfs-repair /dev/sda",
            "vmcraft: error: xfs_repair: /dev/sda: the drive was added read-only",
        ),
    ] {
        let mut a = args.clone();
        a.extend(["-a", &p]);
        let o = script(&env, &a, &format!("run\n{cmd}\n"));
        assert!(o.failed().starts_with(msg), "{cmd}: {}", o.stderr);
    }
    let o = script(
        &env,
        &["--ro", "-a", &p],
        "run\nxfs-repair /dev/sda nomodify:true\n",
    );
    assert_eq!(o.ok(), "0\n");
    assert_eq!(sha256(&img), before, "a refused call changed the image");
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn btrfs_two_devices_quotas_and_status_structs() {
    if !require_root("attaching images") || !require_tool("mkfs.btrfs") || !require_tool("btrfs") {
        return;
    }
    let env = TestEnv::new("cli-btrfs-quota");
    let a = env.sparse_image("a.img", 256 << 20);
    let _forget = ForgetScrubs(a.clone());
    let b = env.sparse_image("b.img", 256 << 20);
    let o = script(
        &env,
        &["-a", &img_arg(&a), "-a", &img_arg(&b)],
        "run\n\
         mkfs-btrfs \"/dev/sda /dev/vdb\" datatype:raid1 metadata:raid1 label:two\n\
         btrfs-filesystem-show /dev/sdb\n\
         mount /dev/sda /\n\
         btrfs-quota-enable / true\n\
         btrfs-subvolume-create /s\n\
         btrfs-qgroup-create 1/100 /\n\
         btrfs-qgroup-assign 0/256 1/100 /\n\
         btrfs-qgroup-limit /s 10485760\n\
         btrfs-quota-rescan /\n\
         btrfs-qgroup-show /\n\
         btrfs-balance-status /\n\
         btrfs-scrub-start /\n\
         btrfs-scrub-status /\n\
         btrfs-scrub-full / readonly:true\n\
         umount /\n\
         btrfstune-enable-skinny-metadata-extent-refs /dev/sda\n\
         btrfs-fsck /dev/sda\n",
    );
    let out = o.ok();
    assert!(out.starts_with("/dev/sda\n/dev/sdb\n"), "{out}");
    // Three qgroups as a struct list, each with its three fields.
    let ids: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("  btrfsqgroup_id: "))
        .collect();
    assert_eq!(ids, ["0/5", "0/256", "1/100"], "{out}");
    assert_eq!(out.matches("  btrfsqgroup_rfer: ").count(), 3, "{out}");
    assert_eq!(out.matches("  btrfsqgroup_excl: ").count(), 3, "{out}");
    assert!(out.contains("[2] = {\n  btrfsqgroup_id: 1/100\n"), "{out}");
    assert!(
        out.contains(
            "btrfsbalance_status: none\nbtrfsbalance_total: 0\nbtrfsbalance_balanced: 0\n\
             btrfsbalance_considered: 0\nbtrfsbalance_left: 0\n"
        ),
        "{out}"
    );
    let scrub: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("btrfsscrub_"))
        .map(|l| l.split_once(": ").unwrap().0)
        .collect();
    assert_eq!(scrub.len(), 15, "{out}");
    assert_eq!(scrub[0], "btrfsscrub_data_extents_scrubbed");
    assert_eq!(scrub[14], "btrfsscrub_last_physical");
    assert!(out.contains("btrfsscrub_csum_errors: 0\n"), "{out}");
    // The oracle: both images hold the filesystem, with raid1 for data.
    let super_a = tool(
        "btrfs",
        &["inspect-internal", "dump-super", a.to_str().unwrap()],
    );
    let super_b = tool(
        "btrfs",
        &["inspect-internal", "dump-super", b.to_str().unwrap()],
    );
    let fsid = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("fsid"))
            .unwrap()
            .to_string()
    };
    assert_eq!(fsid(&super_a), fsid(&super_b));
    assert!(super_a.contains("num_devices\t\t2"), "{super_a}");
    // A bad list: refused, nothing written.
    let before = (sha256(&a), sha256(&b));
    let o = script(
        &env,
        &["-a", &img_arg(&a), "-a", &img_arg(&b)],
        "run\nmkfs-btrfs \"/dev/sda /dev/sda\"\n",
    );
    assert!(
        o.failed()
            .starts_with("vmcraft: error: mkfs_btrfs: /dev/sda: device listed twice"),
        "{}",
        o.stderr
    );
    assert_eq!((sha256(&a), sha256(&b)), before);
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
