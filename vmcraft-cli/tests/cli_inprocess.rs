//! `vmcraft --ro -a guest.qcow2 -i cat /etc/hostname` as an ordinary user: a
//! read-only session reads its raw or qcow2 drive in-process (ext4, FAT, NTFS),
//! so uid 65534 with no groups (`setpriv`) gets what root gets, byte for byte
//! (a `tar-out` archive included: the one the kernel's mounts give), and
//! leaves nothing behind; a call that needs the kernel path is refused
//! with the kernel's own reason, and the image is unchanged.

mod cli_support;
#[path = "../../vmcraft-fs/tests/common/mod.rs"]
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use cli_support::{assert_no_session_left, bin, sha256, tool};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

/// A GPT guest: p1 an ext4 Debian root (hostname, os-release, an fstab naming
/// the FAT ESP), p2 the FAT test image, p3 the NTFS test image.
fn guest(env: &TestEnv) -> PathBuf {
    let src = env.path().join("root");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::create_dir_all(src.join("boot/efi")).unwrap();
    std::fs::create_dir_all(src.join("bin")).unwrap();
    std::fs::write(src.join("etc/hostname"), "plainuser\n").unwrap();
    std::fs::write(
        src.join("etc/os-release"),
        "NAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
    )
    .unwrap();
    std::fs::write(
        src.join("etc/fstab"),
        "/dev/sda1 / ext4 defaults 0 1\n/dev/sda2 /boot/efi vfat umask=0077 0 1\n",
    )
    .unwrap();
    std::fs::copy("/bin/ls", src.join("bin/ls")).unwrap();
    let ext4 = env.path().join("ext4.img");
    tool(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-E",
            "root_owner=0:0",
            "-d",
            src.to_str().unwrap(),
            ext4.to_str().unwrap(),
            "32M",
        ],
    );
    let fat = env.path().join("fat.img");
    common::images::make_fat(env, &fat, 32);
    let ntfs = env.path().join("ntfs.img");
    common::images::make_ntfs(env, &ntfs);
    let disk = env.path().join("guest.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len((32 + 64 + 64 + 2) << 20)
        .unwrap();
    tool(
        "sgdisk",
        &[
            "-n1:1M:+32M",
            "-t1:8300",
            "-n2:0:+64M",
            "-t2:ef00",
            "-n3:0:+64M",
            "-t3:0700",
            disk.to_str().unwrap(),
        ],
    );
    for (img, seek) in [(&ext4, 1), (&fat, 33), (&ntfs, 97)] {
        tool(
            "dd",
            &[
                &format!("if={}", img.display()),
                &format!("of={}", disk.display()),
                "bs=1M",
                &format!("seek={seek}"),
                "conv=notrunc,sparse",
                "status=none",
            ],
        );
    }
    disk
}

/// Run the binary (a copy uid 65534 can execute) with `args`, as root or as
/// uid/gid 65534: (exit code, stdout, stderr).
fn vmcraft(env: &TestEnv, exe: &Path, nobody: bool, args: &[&str]) -> (i32, String, String) {
    let mut c = if nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(exe);
        c
    } else {
        Command::new(exe)
    };
    let o = c
        .args(args)
        .current_dir(env.path())
        .env("TMPDIR", env.path())
        .env("HOME", env.path())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_no_session_left(env);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn an_ordinary_user_reads_a_guest() {
    if !require_root("setpriv to drop to uid 65534 (and ntfs-3g to make the NTFS image)")
        || !require_tool("setpriv")
        || !require_tool("sgdisk")
        || !require_tool("mkntfs")
        || !require_tool("mkfs.vfat")
        || !require_tool("mcopy")
        || !require_tool("qemu-img")
    {
        return;
    }
    let env = TestEnv::new("cli-inproc");
    // Reachable and writable (sticky, as /tmp) for uid 65534.
    std::fs::set_permissions(env.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let exe = env.path().join("vmcraft");
    std::fs::copy(bin(), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let raw = guest(&env);
    let qcow2 = raw.with_extension("qcow2");
    tool(
        "qemu-img",
        &[
            "convert",
            "-f",
            "raw",
            "-O",
            "qcow2",
            raw.to_str().unwrap(),
            qcow2.to_str().unwrap(),
        ],
    );
    for img in [&raw, &qcow2] {
        std::fs::set_permissions(img, std::fs::Permissions::from_mode(0o644)).unwrap();
        let before = sha256(img);
        let p = img.to_str().unwrap();

        let (code, out, err) = vmcraft(
            &env,
            &exe,
            true,
            &["--ro", "-a", p, "-i", "cat", "/etc/hostname"],
        );
        // guestfish prints a newline after cat's text.
        assert_eq!((code, out.as_str()), (0, "plainuser\n\n"), "{p}: {err}");

        // A script of read calls: the same answers as root's.
        let script = [
            "--ro",
            "-a",
            p,
            "-i",
            "--",
            "inspect-get-product-name",
            "/dev/sda1",
            ":",
            "inspect-get-arch",
            "/dev/sda1",
            ":",
            "inspect-get-hostname",
            "/dev/sda1",
            ":",
            "mountpoints",
            ":",
            "ls",
            "/boot/efi/EFI/debian",
            ":",
            "checksum",
            "sha256",
            "/bin/ls",
            ":",
            "cat",
            "/boot/efi/EFI/debian/grubx64.efi",
            ":",
            "list-filesystems",
        ];
        let (code, as_nobody, err) = vmcraft(&env, &exe, true, &script);
        assert_eq!(code, 0, "{p}: {err}");
        let (code, as_root, err) = vmcraft(&env, &exe, false, &script);
        assert_eq!(code, 0, "{p}: {err}");
        assert_eq!(as_nobody, as_root, "{p}");
        let host_ls = tool("sha256sum", &["/bin/ls"]);
        for want in [
            "Debian GNU/Linux 12 (bookworm)\n",
            "x86_64\n",
            "plainuser\n",
            "/dev/sda1: /\n/dev/sda2: /boot/efi\n",
            "grubx64.efi\n",
            host_ls.split(' ').next().unwrap(),
            "grub image\n",
            "/dev/sda3: ntfs\n",
        ] {
            assert!(as_nobody.contains(want), "{p}: {want:?} in {as_nobody}");
        }

        // tar-out as uid 65534: the archive root gets from the kernel's mounts.
        let (ta, tb) = (env.path().join("nobody.tar"), env.path().join("kernel.tar"));
        let (ta_s, tb_s) = (ta.to_str().unwrap(), tb.to_str().unwrap());
        let (code, _, err) = vmcraft(
            &env,
            &exe,
            true,
            &["--ro", "-a", p, "-i", "--", "tar-out", "/etc", ta_s],
        );
        assert_eq!(code, 0, "{p}: {err}");
        let (code, _, err) = vmcraft(
            &env,
            &exe,
            false,
            &[
                "--kernel-mounts",
                "--ro",
                "-a",
                p,
                "-i",
                "--",
                "tar-out",
                "/etc",
                tb_s,
            ],
        );
        assert_eq!(code, 0, "{p}: {err}");
        assert!(
            std::fs::read(&ta).unwrap() == std::fs::read(&tb).unwrap(),
            "{p}: tar-out in-process and through the kernel differ"
        );
        assert!(
            tool("tar", &["-tf", ta_s])
                .lines()
                .any(|l| l == "./hostname")
        );

        // NTFS, mounted by hand.
        let (code, out, err) = vmcraft(
            &env,
            &exe,
            true,
            &[
                "--ro",
                "-a",
                p,
                "-m",
                "/dev/sda3",
                "--",
                "cat",
                "/small.txt",
                ":",
                "readlink",
                "/sys",
            ],
        );
        assert_eq!(
            (code, out.as_str()),
            (0, "resident\n\n/Windows/System32\n"),
            "{p}: {err}"
        );

        // What needs a kernel device is the kernel path's: refused for uid
        // 65534 with its reason, nothing left behind.
        let (code, out, err) = vmcraft(
            &env,
            &exe,
            true,
            &["--ro", "-a", p, "-i", "--", "statvfs", "/"],
        );
        assert_ne!(code, 0, "{p}: {out}");
        assert!(
            err.contains("Permission denied") || err.contains("permission"),
            "{p}: {err}"
        );
        assert_eq!(sha256(img), before, "{p} changed");
    }
}
