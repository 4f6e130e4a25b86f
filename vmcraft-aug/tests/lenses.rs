//! Real lenses on real files in a temporary guest root: each edit is made once
//! through this crate and once through `augtool -r ROOT` on a copy of the same
//! guest; the saved files must be byte-identical, and `augtool` must see the
//! same tree in our output as we do.

mod common;

use std::path::Path;

use common::{Guest, augtool, augtool_print, copy_tree, need_root_and_augtool, print_tree};
use vmcraft_aug::{AugFlags, Augeas};

/// One edit, applied through the API or written as an augtool command.
#[derive(Debug, Clone, Copy)]
enum Op {
    Set(&'static str, &'static str),
    Insert(&'static str, &'static str, bool),
    Rm(&'static str),
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn script(ops: &[Op]) -> String {
    let mut s = String::new();
    for op in ops {
        match *op {
            Op::Set(p, v) => s.push_str(&format!("set {} {}\n", quote(p), quote(v))),
            Op::Insert(p, l, before) => s.push_str(&format!(
                "ins {} {} {}\n",
                quote(l),
                if before { "before" } else { "after" },
                quote(p)
            )),
            Op::Rm(p) => s.push_str(&format!("rm {}\n", quote(p))),
        }
    }
    s.push_str("save\n");
    s
}

/// Apply `ops` through the API; return what each `aug_rm` removed.
fn apply(aug: &Augeas, ops: &[Op]) -> Vec<usize> {
    let mut removed = Vec::new();
    for op in ops {
        match *op {
            Op::Set(p, v) => aug.aug_set(p, v).unwrap(),
            Op::Insert(p, l, before) => aug.aug_insert(p, l, before).unwrap(),
            Op::Rm(p) => removed.push(aug.aug_rm(p).unwrap()),
        }
    }
    removed
}

/// Run `ops` on `file` (guest path, initial `contents`) both ways; check the
/// results agree; return the saved text and the `aug_rm` counts.
fn round_trip(label: &str, file: &str, contents: &str, ops: &[Op]) -> (String, Vec<usize>) {
    let g = Guest::new(label);
    g.write(file, contents);
    let oracle_root = g.env.path().join("oracle");
    copy_tree(&g.root, &oracle_root);

    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    let removed = apply(&aug, ops);
    aug.aug_save().unwrap();
    drop(aug);

    augtool(&oracle_root, &[], &script(ops));
    let ours = g.read(file);
    let theirs = std::fs::read_to_string(oracle_root.join(file.trim_start_matches('/'))).unwrap();
    assert_eq!(ours, theirs, "{file}: differs from augtool's save");
    assert_ne!(ours, contents, "{file}: nothing changed");

    // A fresh handle and augtool see the same tree in the saved file.
    let fresh = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    let tree = print_tree(&fresh, &format!("/files{file}"));
    assert_eq!(
        tree,
        augtool_print(&g.root, &format!("/files{file}")),
        "{file}: trees differ"
    );
    assert!(tree.lines().count() > 1, "{file}: empty tree");
    (ours, removed)
}

fn file_tree_equals_augtool(root: &Path, file: &str) {
    let aug = Augeas::init(root, AugFlags::empty()).unwrap();
    assert_eq!(
        print_tree(&aug, &format!("/files{file}")),
        augtool_print(root, &format!("/files{file}"))
    );
}

const FSTAB: &str = "\
# /etc/fstab: static file system information.
UUID=0a1b2c3d /         ext4 defaults,errors=remount-ro 0 1
UUID=4e5f6a7b /boot     ext4 defaults 0 2
/dev/vg0/swap none      swap sw 0 0
/dev/sdb1     /mnt/old  xfs  noatime 0 2
";

#[test]
fn fstab_get_set_insert_remove_save() {
    if !need_root_and_augtool() {
        return;
    }
    // Reads first.
    let g = Guest::new("fstab-read");
    g.write("/etc/fstab", FSTAB);
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    assert_eq!(
        aug.aug_get("/files/etc/fstab/*[file = '/']/spec").unwrap(),
        "UUID=0a1b2c3d"
    );
    assert_eq!(
        aug.aug_get("/files/etc/fstab/*[file = '/']/opt[2]/value")
            .unwrap(),
        "remount-ro"
    );
    assert_eq!(
        aug.aug_match("/files/etc/fstab/*[vfstype = 'ext4']")
            .unwrap()
            .len(),
        2
    );
    drop(aug);
    file_tree_equals_augtool(&g.root, "/etc/fstab");

    let (saved, removed) = round_trip(
        "fstab",
        "/etc/fstab",
        FSTAB,
        &[
            Op::Set(
                "/files/etc/fstab/*[file='/']/opt[.='errors']/value",
                "panic",
            ),
            Op::Insert("/files/etc/fstab/*[file='/boot']/opt[last()]", "opt", false),
            Op::Set("/files/etc/fstab/*[file='/boot']/opt[last()]", "noatime"),
            Op::Insert("/files/etc/fstab/*[file='/boot']", "01", false),
            Op::Set("/files/etc/fstab/01/spec", "/dev/sdc1"),
            Op::Set("/files/etc/fstab/01/file", "/srv"),
            Op::Set("/files/etc/fstab/01/vfstype", "xfs"),
            Op::Set("/files/etc/fstab/01/opt", "defaults"),
            Op::Set("/files/etc/fstab/01/dump", "0"),
            Op::Set("/files/etc/fstab/01/passno", "2"),
            Op::Rm("/files/etc/fstab/*[file='/mnt/old']"),
        ],
    );
    // The entry and its spec, file, vfstype, opt, dump and passno.
    assert_eq!(removed, [7]);
    assert_eq!(
        saved,
        "# /etc/fstab: static file system information.\n\
         UUID=0a1b2c3d /         ext4 defaults,errors=panic 0 1\n\
         UUID=4e5f6a7b /boot     ext4 defaults,noatime 0 2\n\
         /dev/sdc1\t/srv\txfs\tdefaults\t0 2\n\
         /dev/vg0/swap none      swap sw 0 0\n"
    );
}

#[test]
fn hosts_entries_and_aliases() {
    if !need_root_and_augtool() {
        return;
    }
    let (saved, _) = round_trip(
        "hosts",
        "/etc/hosts",
        "127.0.0.1 localhost\n::1 localhost ip6-localhost\n",
        &[
            Op::Set("/files/etc/hosts/1/alias[last()+1]", "guest.example.com"),
            Op::Set("/files/etc/hosts/3/ipaddr", "192.0.2.5"),
            Op::Set("/files/etc/hosts/3/canonical", "db"),
            Op::Rm("/files/etc/hosts/*[ipaddr='::1']/alias"),
        ],
    );
    assert_eq!(
        saved,
        "127.0.0.1 localhost guest.example.com\n::1 localhost\n192.0.2.5\tdb\n"
    );
}

#[test]
fn sshd_config_permit_root_login() {
    if !need_root_and_augtool() {
        return;
    }
    let (saved, _) = round_trip(
        "sshd",
        "/etc/ssh/sshd_config",
        "Port 22\nPermitRootLogin yes\n# comment\nSubsystem sftp /usr/lib/openssh/sftp-server\n",
        &[
            Op::Set("/files/etc/ssh/sshd_config/PermitRootLogin", "no"),
            Op::Set("/files/etc/ssh/sshd_config/PasswordAuthentication", "no"),
        ],
    );
    assert!(saved.contains("PermitRootLogin no\n"), "{saved}");
    assert!(saved.ends_with("PasswordAuthentication no\n"), "{saved}");
}

#[test]
fn ifcfg_eth0_to_static() {
    if !need_root_and_augtool() {
        return;
    }
    let (saved, _) = round_trip(
        "ifcfg",
        "/etc/sysconfig/network-scripts/ifcfg-eth0",
        "DEVICE=eth0\nBOOTPROTO=dhcp\nONBOOT=yes\nNAME=\"System eth0\"\n",
        &[
            Op::Set(
                "/files/etc/sysconfig/network-scripts/ifcfg-eth0/BOOTPROTO",
                "none",
            ),
            Op::Set(
                "/files/etc/sysconfig/network-scripts/ifcfg-eth0/IPADDR",
                "192.0.2.50",
            ),
            Op::Set(
                "/files/etc/sysconfig/network-scripts/ifcfg-eth0/PREFIX",
                "24",
            ),
            Op::Set(
                "/files/etc/sysconfig/network-scripts/ifcfg-eth0/NAME",
                "\"Uplink\"",
            ),
        ],
    );
    assert_eq!(
        saved,
        "DEVICE=eth0\nBOOTPROTO=none\nONBOOT=yes\nNAME=\"Uplink\"\nIPADDR=192.0.2.50\nPREFIX=24\n"
    );
}

#[test]
fn debian_network_interfaces() {
    if !need_root_and_augtool() {
        return;
    }
    let (saved, _) = round_trip(
        "interfaces",
        "/etc/network/interfaces",
        "auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet dhcp\n",
        &[
            Op::Set(
                "/files/etc/network/interfaces/iface[.='eth0']/method",
                "static",
            ),
            Op::Set(
                "/files/etc/network/interfaces/iface[.='eth0']/address",
                "192.0.2.60",
            ),
            Op::Set(
                "/files/etc/network/interfaces/iface[.='eth0']/netmask",
                "255.255.255.0",
            ),
        ],
    );
    assert!(saved.contains("iface eth0 inet static\n"), "{saved}");
    assert!(saved.contains("address 192.0.2.60"), "{saved}");
}

#[test]
fn default_grub_kernel_command_line() {
    if !need_root_and_augtool() {
        return;
    }
    let (saved, _) = round_trip(
        "grub",
        "/etc/default/grub",
        "GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n",
        &[
            Op::Set("/files/etc/default/grub/GRUB_TIMEOUT", "1"),
            Op::Set(
                "/files/etc/default/grub/GRUB_CMDLINE_LINUX",
                "\"console=ttyS0,115200n8 net.ifnames=0\"",
            ),
            Op::Set("/files/etc/default/grub/GRUB_TERMINAL", "serial"),
        ],
    );
    assert_eq!(
        saved,
        "GRUB_DEFAULT=0\nGRUB_TIMEOUT=1\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n\
         GRUB_CMDLINE_LINUX=\"console=ttyS0,115200n8 net.ifnames=0\"\nGRUB_TERMINAL=serial\n"
    );
}

#[test]
fn systemd_unit() {
    if !need_root_and_augtool() {
        return;
    }
    let (saved, _) = round_trip(
        "systemd",
        "/etc/systemd/system/app.service",
        "[Unit]\nDescription=My app\nAfter=network.target\n\n[Service]\n\
         ExecStart=/usr/bin/app --serve\nRestart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n",
        &[
            Op::Set(
                "/files/etc/systemd/system/app.service/Service/Restart/value",
                "always",
            ),
            Op::Set(
                "/files/etc/systemd/system/app.service/Service/ExecStart/arguments/2",
                "--verbose",
            ),
            Op::Set(
                "/files/etc/systemd/system/app.service/Service/User/value",
                "app",
            ),
        ],
    );
    assert!(saved.contains("Restart=always\n"), "{saved}");
    assert!(
        saved.contains("ExecStart=/usr/bin/app --serve --verbose\n"),
        "{saved}"
    );
    assert!(saved.contains("User=app\n"), "{saved}");
}
