//! Inspection of a Linux guest through the binary, guestfish's syntax and
//! output: a phony Debian 12 (an ext4 image made by `mkfs.ext4 -d` from a tree
//! with os-release, debian_version, fstab, a real ELF binary and a dpkg status
//! file), inspected and mounted with `-i`, then `inspect-get-osinfo` and
//! `inspect-list-applications2` (a list of structs, printed as guestfish prints
//! one); a device that is not a root is refused.

mod cli_support;

use cli_support::run;
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

const STATUS: &str = "Package: libc6\nStatus: install ok installed\nPriority: optional\nSection: libs\n\
Architecture: amd64\nMulti-Arch: same\nSource: glibc\nVersion: 2.36-9+deb12u8\n\
Description: GNU C Library: Shared libraries\n Contains the standard libraries that are used by nearly all programs on\n \
the system.\nHomepage: https://www.gnu.org/software/libc/libc.html\n\n\
Package: openssh-server\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1:9.2p1-2+deb12u3\n\
Description: secure shell (SSH) server\n\n\
Package: base-files\nEssential: yes\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4+deb12u7\n\
Description: Debian base system miscellaneous files\nHomepage: https://www.debian.org/\n\n";

fn debian_image(env: &TestEnv) -> std::path::PathBuf {
    let tree = env.path().join("tree");
    let w = |p: &str, c: &str| {
        let path = tree.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, c).unwrap();
    };
    w(
        "etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n",
    );
    w("etc/debian_version", "12.7\n");
    w("etc/hostname", "deb12\n");
    w(
        "etc/fstab",
        "LABEL=deb12root / ext4 errors=remount-ro 0 1\n",
    );
    w("var/lib/dpkg/status", STATUS);
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    let host_true = ["/bin/true", "/usr/bin/true"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap();
    std::fs::copy(host_true, tree.join("bin/ls")).unwrap();
    let img = env.sparse_image("deb12.img", 16 << 20);
    let out = std::process::Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", "deb12root", "-d"])
        .arg(&tree)
        .arg(&img)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    img
}

#[test]
fn osinfo_and_applications_print_as_guestfish_prints_them() {
    if !require_root("attaching images") || !require_tool("mkfs.ext4") {
        return;
    }
    let env = TestEnv::new("cli-inspect-linux");
    let img = debian_image(&env);
    let img = img.to_str().unwrap();
    let o = run(
        &env,
        &[
            "--ro",
            "-a",
            img,
            "-i",
            "inspect-get-osinfo",
            "/dev/sda",
            ":",
            "inspect-get-format",
            "/dev/sda",
            ":",
            "inspect-is-live",
            "/dev/sda",
            ":",
            "inspect-list-applications2",
            "/dev/sda",
        ],
        "",
    );
    let app = |name: &str,
               version: &str,
               release: &str,
               url: &str,
               source: &str,
               summary: &str,
               desc: &str| {
        format!(
            "  app2_name: {name}\n  app2_display_name: \n  app2_epoch: 0\n  app2_version: {version}\n  \
             app2_release: {release}\n  app2_arch: amd64\n  app2_install_path: \n  app2_trans_path: \n  \
             app2_publisher: \n  app2_url: {url}\n  app2_source_package: {source}\n  app2_summary: {summary}\n  \
             app2_description: {desc}\n  app2_class: \n  app2_spare2: \n  app2_spare3: \n  app2_spare4: \n"
        )
    };
    let expected = format!(
        "debian12\ninstalled\nfalse\n[0] = {{\n{}}}\n[1] = {{\n{}}}\n",
        app(
            "base-files",
            "12.4+deb12u7",
            "",
            "https://www.debian.org/",
            "",
            "Debian base system miscellaneous files",
            ""
        ),
        app(
            "libc6",
            "2.36",
            "9+deb12u8",
            "https://www.gnu.org/software/libc/libc.html",
            "glibc",
            "GNU C Library: Shared libraries",
            "Contains the standard libraries that are used by nearly all programs on\nthe system."
        ),
    );
    assert_eq!(o.ok(), expected);

    // The older structure, and JSON: one document, fields in guestfish's order.
    let o = run(
        &env,
        &[
            "--ro",
            "--json",
            "-a",
            img,
            "-i",
            "inspect-list-applications",
            "/dev/sda",
        ],
        "",
    );
    let doc: serde_json::Value = serde_json::from_str(o.ok().trim()).unwrap();
    assert_eq!(doc[1]["app_name"], "libc6");
    assert_eq!(doc[1]["app_epoch"], 0);
    assert_eq!(doc[1]["app_release"], "9+deb12u8");
    assert!(doc[1].get("app2_arch").is_none() && doc[1].get("app_arch").is_none());

    // Not a root: an error naming the device, exit status 1.
    let o = run(
        &env,
        &[
            "--ro",
            "-a",
            img,
            "run",
            ":",
            "inspect-os",
            ":",
            "inspect-get-osinfo",
            "/dev/sdb",
        ],
        "",
    );
    assert_eq!(o.stdout, "/dev/sda\n");
    let err = o.failed();
    assert!(err.starts_with("vmcraft: error: "), "{err}");
    assert!(err.contains("/dev/sdb"), "{err}");
}

/// A root in a btrfs subvolume, made with the binary itself: `inspect-os`
/// prints it as libguestfs's mountable (`btrfsvol:/dev/sda/root`), and the
/// `inspect-get-*` commands take it as their root argument.
#[test]
fn a_root_in_a_btrfs_subvolume() {
    if !require_root("attaching images") || !require_tool("mkfs.btrfs") {
        return;
    }
    let env = TestEnv::new("cli-inspect-btrfs");
    let img = env.sparse_image("b.img", 256 << 20);
    let img = img.to_str().unwrap();
    cli_support::script(
        &env,
        &["-a", img],
        "run\nmkfs btrfs /dev/sda label:ROOT\nmount /dev/sda /\nbtrfs-subvolume-create /root\n\
         umount-all\nmount-options subvol=root /dev/sda /\nmkdir-p /etc\nmkdir-p /bin\n\
         write /etc/os-release \"ID=fedora\\nVERSION_ID=39\\nPRETTY_NAME=\\\"Fedora Linux 39\\\"\\n\"\n\
         write /etc/fstab \"LABEL=ROOT / btrfs subvol=root 0 0\\n\"\n",
    )
    .ok();
    let root = "btrfsvol:/dev/sda/root";
    let o = run(
        &env,
        &[
            "--ro",
            "-a",
            img,
            "run",
            ":",
            "inspect-os",
            ":",
            "inspect-get-distro",
            root,
            ":",
            "inspect-get-osinfo",
            root,
            ":",
            "inspect-get-mountpoints",
            root,
        ],
        "",
    );
    assert_eq!(
        o.ok(),
        "btrfsvol:/dev/sda/root\nfedora\nfedora39\n/: btrfsvol:/dev/sda/root\n"
    );
}
