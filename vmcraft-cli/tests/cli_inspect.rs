//! Inspection through the binary: a qcow2 guest with a GPT, a vfat ESP and an ext4
//! root made with vmcraft itself, then `-i` (inspect and mount, read-only) and the
//! `inspect-get-*` commands; `-i` on a disk without an operating system.

mod cli_support;

use cli_support::{run, script, tool};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

const ESP_TYPE: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";

#[test]
fn inspect_and_mount_a_qcow2_guest() {
    if !require_root("attaching images") || !require_tool("qemu-img") {
        return;
    }
    let env = TestEnv::new("cli-inspect");
    let img = env.path().join("guest.qcow2");
    tool(
        "qemu-img",
        &["create", "-q", "-f", "qcow2", img.to_str().unwrap(), "256M"],
    );
    let a = ["--format=qcow2", "-a", img.to_str().unwrap()];
    let o = script(
        &env,
        &a,
        &format!(
            "run\npart-init /dev/sda gpt\npart-add /dev/sda p 2048 133119\n\
             part-set-gpt-type /dev/sda 1 {ESP_TYPE}\npart-add /dev/sda p 133120 -34\n\
             mkfs vfat /dev/sda1 label:ESP\nmkfs ext4 /dev/sda2 label:root\n\
             vfs-uuid /dev/sda1\nvfs-uuid /dev/sda2\n"
        ),
    );
    let uuids: Vec<String> = o.ok().lines().map(String::from).collect();
    assert_eq!(uuids.len(), 2, "{uuids:?}");
    let fstab = format!(
        "UUID={} / ext4 errors=remount-ro 0 1\\nUUID={} /boot/efi vfat umask=0077 0 1\\n",
        uuids[1], uuids[0]
    );
    script(
        &env,
        &a,
        &format!(
            "run\nmount /dev/sda2 /\nmkdir-p /etc\nmkdir-p /boot/efi\nmkdir-p /var/lib/dpkg\n\
             write /etc/os-release \"PRETTY_NAME=\\\"Debian GNU/Linux 12 (bookworm)\\\"\\nNAME=\\\"Debian GNU/Linux\\\"\\nVERSION_ID=\\\"12\\\"\\nID=debian\\n\"\n\
             write /etc/debian_version \"12.5\\n\"\n\
             write /etc/hostname \"inspected\\n\"\n\
             write /etc/fstab \"{fstab}\"\n\
             mount /dev/sda1 /boot/efi\nmkdir-p /boot/efi/EFI/debian\n\
             write /boot/efi/EFI/debian/grub.cfg \"# grub\\n\"\n"
        ),
    )
    .ok();
    let o = run(
        &env,
        &[
            "--ro",
            "--format=qcow2",
            "-a",
            img.to_str().unwrap(),
            "-i",
            "inspect-get-roots",
            ":",
            "inspect-get-type",
            "/dev/sda2",
            ":",
            "inspect-get-distro",
            "/dev/sda2",
            ":",
            "inspect-get-major-version",
            "/dev/sda2",
            ":",
            "inspect-get-minor-version",
            "/dev/sda2",
            ":",
            "inspect-get-hostname",
            "/dev/sda2",
            ":",
            "inspect-get-mountpoints",
            "/dev/sda2",
            ":",
            "mountpoints",
            ":",
            "cat",
            "/boot/efi/EFI/debian/grub.cfg",
            ":",
            "-run",
        ],
        "",
    );
    assert_eq!(
        o.ok(),
        "/dev/sda2\nlinux\ndebian\n12\n5\ninspected\n\
         /: /dev/sda2\n/boot/efi: /dev/sda1\n\
         /dev/sda2: /\n/dev/sda1: /boot/efi\n\
         # grub\n\n"
    );
    // -i launched the session: a second launch is an error, as in guestfish
    // (`-run` lets the script go on).
    assert_eq!(
        o.stderr,
        "vmcraft: error: launch: the handle is already launched\n"
    );
    // The same with --json: one document per command.
    let o = run(
        &env,
        &[
            "--json",
            "--ro",
            "-a",
            img.to_str().unwrap(),
            "-i",
            "inspect-get-mountpoints",
            "/dev/sda2",
            ":",
            "inspect-get-major-version",
            "/dev/sda2",
            ":",
            "list-filesystems",
        ],
        "",
    );
    let docs: Vec<serde_json::Value> = o
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        docs[0],
        serde_json::json!({"/": "/dev/sda2", "/boot/efi": "/dev/sda1"})
    );
    assert_eq!(docs[1], serde_json::json!(12));
    assert_eq!(
        docs[2],
        serde_json::json!({"/dev/sda1": "vfat", "/dev/sda2": "ext4"})
    );
}

#[test]
fn inspect_without_an_operating_system_fails() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-noos");
    let img = env.path().join("empty.img");
    run(&env, &["-N", &format!("{}=fs:ext4:32M", img.display())], "").ok();
    let o = run(
        &env,
        &["--ro", "-a", img.to_str().unwrap(), "-i", "echo", "never"],
        "",
    );
    assert_eq!(o.stdout, "");
    assert_eq!(
        o.failed(),
        "vmcraft: error: -i: no operating system was found on this disk\n"
    );
}
