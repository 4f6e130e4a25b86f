//! FAT read in-process against mtools. The host has no kernel vfat driver
//! (and fusefat shows `GRUBX64.EFI` where Linux shows `grubx64.efi`), so the
//! oracle is mtools: volumes made by `mkfs.vfat` (FAT12, FAT16, FAT32) and
//! populated by `mcopy`/`mmd`/`mattrib` (short lower-case names such as
//! `grubx64.efi`, which mtools stores with the NT case bits, upper-case,
//! mixed-case and long names, a directory spanning clusters, a read-only
//! file, set times); the in-process tree is compared with `mdir -/ -b` (every
//! path, named as Linux names it) and with the tree `mcopy -s -m` copies out
//! (names, types, sizes, modification times, bytes), and its modes, owners and
//! link counts with what Linux's vfat shows by default. Comparing with the
//! kernel's own vfat remains for the kernel test tier.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;

use common::{Fields, assert_same, images, run, snapshot};
use vmcraft_block::testing::{TestEnv, require_tool};
use vmcraft_fs::{
    ErrorKind, FileType, FsType, GuestTree, ReadAt, Window, list_filesystems, open_fs, open_image,
    probe,
};

#[test]
fn fat_in_process_equals_mtools() {
    if !require_tool("mkfs.vfat") || !require_tool("mcopy") || !require_tool("qemu-img") {
        return;
    }
    let env = TestEnv::new("fs-fat");
    for bits in [12, 16, 32] {
        let image = env.path().join(format!("fat{bits}.img"));
        images::make_fat(&env, &image, bits);
        let disk = open_image(&image).unwrap();
        assert_eq!(probe(&*disk).unwrap(), Some(FsType::Vfat));
        let tree = open_fs(disk).unwrap();
        let ours = snapshot(&*tree);

        // Every path, as mdir names it.
        let listed: BTreeSet<String> = run(images::mtools("mdir")
            .args(["-/", "-b", "-i"])
            .arg(&image)
            .arg("::/"))
        .lines()
        .map(|l| {
            let p = l.trim().trim_start_matches("::");
            p.trim_end_matches('/').to_string()
        })
        .filter(|p| !p.is_empty())
        .collect();
        // mtools applies the NT case bits to ASCII letters only; Linux (and
        // the reader) through code page 437's table: `ÜBER.TXT` is `über.txt`.
        let linux = |p: &str| p.replace("/\u{dc}ber.txt", "/\u{fc}ber.txt");
        let listed: BTreeSet<String> = listed.iter().map(|p| linux(p)).collect();
        let in_process: BTreeSet<String> = ours.keys().filter(|p| *p != "/").cloned().collect();
        assert_eq!(in_process, listed, "fat{bits}: paths vs mdir -/ -b");
        assert!(ours.contains_key("/\u{fc}ber.txt"), "fat{bits}");
        assert!(ours.contains_key("/EFI/debian/grubx64.efi"), "fat{bits}");
        assert!(ours.contains_key("/EFI/debian/BOOTX64.CSV"), "fat{bits}");

        // Names, types, sizes, mtimes and bytes as mcopy copies them out.
        let out = env.path().join(format!("out{bits}"));
        std::fs::create_dir(&out).unwrap();
        for top in tree.read_dir("/").unwrap() {
            run(images::mtools("mcopy")
                .args(["-s", "-m", "-n", "-i"])
                .arg(&image)
                .arg(format!("::/{}", top.name))
                .arg(&out));
        }
        let copied = snapshot(&vmcraft_fs::GuestRoot::open(&out).unwrap());
        let mut ours_no_root = ours.clone();
        ours_no_root.remove("/");
        let mut copied_no_root: std::collections::BTreeMap<_, _> =
            copied.iter().map(|(p, n)| (linux(p), n.clone())).collect();
        copied_no_root.remove("/");
        let fields = Fields {
            modes: false,
            owners: false,
            atime: false,
            optional: false,
            xattrs: false,
            dir_size: false,
        };
        assert_same(
            &format!("fat{bits}: in-process vs mcopy"),
            &ours_no_root,
            &copied_no_root,
            fields,
        );

        // What Linux's vfat shows by default (uid=0, gid=0, umask 022).
        for (p, n) in &ours {
            let st = n.stat;
            assert_eq!((st.uid, st.gid), (0, 0), "{p}");
            match st.file_type() {
                FileType::Directory => assert_eq!(st.mode, 0o40755, "{p}"),
                FileType::Regular if p == "/Readme" => assert_eq!(st.mode, 0o100555, "{p}"),
                FileType::Regular => assert_eq!(st.mode, 0o100755, "{p}"),
                t => panic!("{p}: {t:?} on FAT"),
            }
            assert_eq!(st.ctime, Some(st.mtime), "{p}");
        }
        assert_eq!(tree.stat("/").unwrap().nlink, Some(2 + 3)); // EFI, many, Mixed Dir
        // A directory's size is its cluster chain, as mshowfat lists it (the
        // FAT12/16 root: its region).
        let info = run(images::mtools("minfo").arg("-i").arg(&image));
        let field = |key: &str| -> u64 {
            let l = info
                .lines()
                .find(|l| l.trim_start().starts_with(key))
                .unwrap();
            l.split(':')
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        let cluster = field("sector size") * field("cluster size");
        for dir in ["/many", "/EFI", "/EFI/debian", "/Mixed Dir"] {
            let chain = run(images::mtools("mshowfat")
                .arg("-i")
                .arg(&image)
                .arg(format!("::{dir}")));
            let count: u64 = chain
                .split('<')
                .skip(1)
                .map(|r| {
                    let r = r.split('>').next().unwrap();
                    match r.split_once('-') {
                        Some((a, b)) => b.parse::<u64>().unwrap() - a.parse::<u64>().unwrap() + 1,
                        None => 1,
                    }
                })
                .sum();
            let st = tree.stat(dir).unwrap();
            assert_eq!(st.size, count * cluster, "fat{bits}: {dir}: {chain}");
            assert_eq!(st.blocks, Some(st.size / 512), "fat{bits}: {dir}");
        }
        let root = tree.stat("/").unwrap();
        if bits != 32 {
            assert_eq!(root.size, 512 * 32, "fat{bits}: the root region");
        }
        assert_eq!(tree.stat("/EFI").unwrap().nlink, Some(2 + 2));
        assert_eq!(
            tree.stat("/EFI/debian/grubx64.efi").unwrap().mtime.sec,
            1_600_000_000
        );
        // vfat looks names up in any case.
        assert_eq!(
            tree.read_file("/efi/DEBIAN/GRUBX64.EFI", 100).unwrap(),
            b"grub image\n"
        );
        assert_eq!(
            tree.read_file("/EFI/ALONGF~1.TEX", 100).unwrap(),
            b"long name\n"
        );
        assert_eq!(
            tree.readlink("/Readme").unwrap_err().kind(),
            ErrorKind::NotASymlink
        );
        assert_eq!(tree.read_range("/big.bin", 699_990, 100).unwrap().len(), 10);
        assert_eq!(tree.read_dir("/many").unwrap().len(), 150);
        assert_eq!(tree.lgetxattrs("/Readme").unwrap(), vec![]);
    }

    // FAT32 as qcow2 and in a GPT partition (an ESP), raw and qcow2.
    let image = env.path().join("fat32.img");
    let ours = snapshot(&*open_fs(open_image(&image).unwrap()).unwrap());
    let qcow2 = env.path().join("fat32.qcow2");
    run(Command::new("qemu-img")
        .args(["convert", "-f", "raw", "-O", "qcow2"])
        .arg(&image)
        .arg(&qcow2));
    assert_same(
        "fat32: qcow2 vs raw",
        &snapshot(&*open_fs(open_image(&qcow2).unwrap()).unwrap()),
        &ours,
        Fields::ALL,
    );
    if !require_tool("sfdisk") {
        return;
    }
    let disk = env.sparse_image("esp-disk.img", 80 << 20);
    let mut child = Command::new("sfdisk")
        .args(["-q", "--no-reread", "--no-tell-kernel"])
        .arg(&disk)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"label: gpt\nstart=2048, size=131072, type=uefi\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    run(Command::new("dd")
        .arg(format!("if={}", image.display()))
        .arg(format!("of={}", disk.display()))
        .args(["bs=1M", "seek=1", "conv=notrunc,sparse", "status=none"]));
    let img = open_image(&disk).unwrap();
    let found = list_filesystems(&*img).unwrap();
    assert_eq!(found[0].fs_type, Some(FsType::Vfat));
    let part: Arc<dyn ReadAt> =
        Arc::new(Window::new(img.clone(), found[0].offset, found[0].len).unwrap());
    assert_same(
        "fat32 in a GPT partition",
        &snapshot(&*open_fs(part).unwrap()),
        &ours,
        Fields::ALL,
    );
}
