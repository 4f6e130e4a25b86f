//! The file-manipulation calls (`ln*`, `rename`, `cp_r`, `mknod*`, `truncate*`,
//! `utimens`, `fill*`, `pread`/`pwrite` and their device forms, `*_offset`,
//! `base64_*`, `checksums_out`, `checksum_device`, `find0`, `readdir`,
//! `mkdtemp`/`mktemp`, `glob_expand`, `cpio_out`, xattrs) on real ext4 images.
//! What they made is checked afterwards by real tools on a read-only loop
//! mount of the image (`stat`, `getfattr`, `find`, `sha256sum`, `cksum`,
//! `base64`, GNU `cpio`); refused arguments change nothing; and writes through
//! guest symlinks pointing at a host directory never reach it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use vmcraft::{Config, MkfsOptions, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};

fn run(argv: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn sh(script: &str) -> Vec<u8> {
    run(&["sh", "-c", script]).stdout
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap()
}

/// A session with `n` fresh drives, the first holding ext4 mounted on `/`.
fn session(env: &TestEnv, n: usize) -> (VMCraft, Vec<PathBuf>) {
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    let mut imgs = Vec::new();
    for i in 0..n {
        let img = env.sparse_image(&format!("d{i}.img"), 64 << 20);
        g.add_drive(&img).unwrap();
        imgs.push(img);
    }
    g.launch().unwrap();
    g.mkfs("ext4", "/dev/sda", &MkfsOptions::default()).unwrap();
    g.mount("/dev/sda", "/").unwrap();
    (g, imgs)
}

/// A read-only loop mount of an image on the host, for the oracles; undone on
/// drop (unmounted, then the loop device detached, so nothing is left for the
/// leak check however late the kernel's autoclear would come).
struct HostMount(PathBuf, String);

impl HostMount {
    fn new(env: &TestEnv, img: &Path) -> Self {
        let dir = env.path().join("host-mnt");
        std::fs::create_dir_all(&dir).unwrap();
        let dev = text(
            run(&[
                "losetup",
                "--find",
                "--show",
                "--read-only",
                img.to_str().unwrap(),
            ])
            .stdout,
        )
        .trim()
        .to_string();
        let m = HostMount(dir, dev);
        run(&["mount", "-o", "ro,noload", &m.1, m.0.to_str().unwrap()]);
        m
    }
    fn path(&self, guest: &str) -> String {
        format!("{}{guest}", self.0.display())
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
        let _ = std::process::Command::new("losetup")
            .arg("-d")
            .arg(&self.1)
            .status();
    }
}

#[test]
fn links_special_files_sizes_times_and_copies() {
    if !require_root("mounting") || !require_tool("stat") {
        return;
    }
    let env = TestEnv::new("filemod-links");
    let (g, imgs) = session(&env, 1);
    g.write("/a", b"hello\n").unwrap();
    g.ln("/a", "/hard").unwrap();
    g.write("/other", b"other").unwrap();
    // ln refuses an existing name; ln_f replaces it.
    assert!(g.ln("/a", "/other").is_err());
    g.ln_f("/a", "/other").unwrap();
    g.ln_sf("/a", "/soft").unwrap();
    g.ln_sf("/hard", "/soft").unwrap();
    assert_eq!(g.readlink("/soft").unwrap(), "/hard");
    // Into an existing directory, as ln -sf: named after the target.
    g.mkdir("/lnd").unwrap();
    g.ln_sf("../a", "/lnd").unwrap();
    assert_eq!(g.readlink("/lnd/a").unwrap(), "../a");
    g.ln_sf("/x/", "/lnd").unwrap();
    assert_eq!(g.readlink("/lnd/x").unwrap(), "/x/");
    assert!(g.ln_sf("/", "/lnd").is_err());
    g.rename("/other", "/renamed").unwrap();
    assert!(!g.exists("/other").unwrap());
    assert!(g.rename("/nope", "/x").is_err());
    assert!(g.ln("/nope", "/x").is_err());
    assert!(g.ln_f("/nope", "/renamed").is_err());
    assert_eq!(
        g.cat("/renamed").unwrap(),
        "hello\n",
        "a failed ln_f removed nothing"
    );

    g.mkfifo(0o777, "/fifo").unwrap();
    g.mknod_b(0o777, 8, 1, "/blk").unwrap();
    g.mknod_c(0o640, 1, 3, "/chr").unwrap();
    g.mknod(libc::S_IFIFO as i32 | 0o600, 0, 0, "/fifo2")
        .unwrap();
    for (r, what) in [
        (
            g.mkfifo(0o10777, "/bad"),
            "mode must specify only file permission bits",
        ),
        (
            g.mknod_b(-1, 8, 1, "/bad"),
            "mode must specify only file permission bits",
        ),
        (
            g.mknod_c(0o644, -1, 3, "/bad"),
            "device numbers must not be negative",
        ),
        (
            g.mknod(libc::S_IFDIR as i32 | 0o755, 0, 0, "/bad"),
            "mode must be a file type",
        ),
        (g.mknod(-5, 0, 0, "/bad"), "mode is negative"),
        (
            g.mkfifo(0o644, "relative"),
            "path must start with a / character",
        ),
        (g.mkfifo(0o644, "/"), "names a directory itself"),
    ] {
        let e = r.unwrap_err().chain();
        assert!(e.contains(what), "{e}");
    }
    assert!(
        g.mkfifo(0o644, "/fifo")
            .unwrap_err()
            .chain()
            .contains("exists")
    );
    assert!(!g.exists("/bad").unwrap());

    g.write("/t", &[7u8; 5000]).unwrap();
    g.truncate_size("/t", 100_000).unwrap();
    g.write("/t0", b"gone").unwrap();
    g.truncate("/t0").unwrap();
    assert!(g.truncate_size("/t", -1).is_err());
    assert!(g.truncate("/missing").is_err());
    assert!(!g.exists("/missing").unwrap(), "truncate creates nothing");
    // A FIFO is refused at once, never opened (which would hang).
    let e = g.truncate("/fifo").unwrap_err().chain();
    assert!(e.contains("not a regular file (it is a fifo)"), "{e}");

    g.fill(0x41, 10, "/fill").unwrap();
    g.fill_pattern("abcdefghijklmnopqrstuvwxyz", 28, "/pat")
        .unwrap();
    g.fill(0x42, 3, "/fill").unwrap(); // written over, not truncated
    g.fill_pattern("xy", 3_000_001, "/bigpat").unwrap();
    assert!(g.fill(256, 1, "/f2").is_err() && g.fill(-1, 1, "/f2").is_err());
    assert!(g.fill(1, -1, "/f2").is_err() && g.fill_pattern("", 1, "/f2").is_err());
    assert!(!g.exists("/f2").unwrap());
    g.mkdir("/many").unwrap();
    g.fill_dir("/many", 3).unwrap();
    assert!(g.fill_dir("/many", -1).is_err());
    assert_eq!(g.ls("/many").unwrap(), ["00000000", "00000001", "00000002"]);

    g.write("/times", b"t").unwrap();
    // Nothing reads /times afterwards (relatime would move its atime).
    g.utimens("/times", 1_000_000_000, 123_456_789, 1_200_000_000, 5)
        .unwrap();
    g.utimens("/soft", 10, 0, 20, 0).unwrap(); // the link itself
    g.utimens("/fifo", 30, 0, 40, -2).unwrap(); // mtime left alone
    assert!(g.utimens("/times", 0, 1_000_000_000, 0, 0).is_err());
    assert!(g.utimens("/times", 0, -3, 0, 0).is_err());

    // cp_r: a tree with a file, a subdirectory, a symlink and a FIFO.
    g.mkdir_p("/src/sub").unwrap();
    g.write("/src/sub/f", b"deep").unwrap();
    g.chmod(0o750, "/src/sub").unwrap();
    g.ln_s("../a", "/src/link").unwrap();
    g.mkfifo(0o600, "/src/pipe").unwrap();
    g.cp_r("/src", "/dst").unwrap();
    g.mkdir("/into").unwrap();
    g.cp_r("/src", "/into").unwrap();
    g.cp_r("/a", "/into/a-copy").unwrap();
    let e = g.cp_r("/src", "/src/sub").unwrap_err().chain();
    assert!(e.contains("into itself"), "{e}");
    assert!(g.cp_r("/nope", "/x").is_err());
    g.rm_rf("/src/sub/src").unwrap();

    g.umount_all().unwrap();
    g.shutdown().unwrap();

    let m = HostMount::new(&env, &imgs[0]);
    let st = |p: &str, fmt: &str| {
        text(run(&["stat", "-c", fmt, &m.path(p)]).stdout)
            .trim()
            .to_string()
    };
    assert_eq!(st("/a", "%h"), "3", "/a, /hard and /renamed are one inode");
    assert_eq!(st("/a", "%i"), st("/renamed", "%i"));
    assert_eq!(st("/soft", "%F"), "symbolic link");
    assert_eq!(st("/fifo", "%F %a"), "fifo 755");
    assert_eq!(st("/fifo2", "%F %a"), "fifo 600");
    assert_eq!(st("/blk", "%F %a %t:%T"), "block special file 755 8:1");
    assert_eq!(st("/chr", "%F %a %t:%T"), "character special file 640 1:3");
    assert_eq!(st("/t", "%s"), "100000");
    assert_eq!(st("/t0", "%s"), "0");
    assert_eq!(std::fs::read(m.path("/fill")).unwrap(), b"BBBAAAAAAA");
    assert_eq!(
        std::fs::read(m.path("/pat")).unwrap(),
        b"abcdefghijklmnopqrstuvwxyzab"
    );
    let big = std::fs::read(m.path("/bigpat")).unwrap();
    assert_eq!(big.len(), 3_000_001);
    assert!(big.chunks(2).all(|c| c == b"xy" || c == b"x"));
    assert_eq!(st("/many/00000001", "%F %s"), "regular empty file 0");
    assert_eq!(
        st("/times", "%.9X %.9Y"),
        "1000000000.123456789 1200000000.000000005"
    );
    assert_eq!(st("/soft", "%X %Y"), "10 20");
    let fifo_m = st("/fifo", "%X %Y");
    assert!(fifo_m.starts_with("30 ") && fifo_m != "30 40", "{fifo_m}");
    // cp -rP: the same tree, the link a link, the FIFO a FIFO, modes kept.
    for top in ["/dst", "/into/src"] {
        assert_eq!(
            std::fs::read(m.path(&format!("{top}/sub/f"))).unwrap(),
            b"deep"
        );
        assert_eq!(
            st(&format!("{top}/link"), "%F %N"),
            format!(
                "symbolic link '{}' -> '../a'",
                m.path(&format!("{top}/link"))
            )
        );
        assert_eq!(st(&format!("{top}/pipe"), "%F"), "fifo");
        assert_eq!(st(&format!("{top}/sub"), "%a"), "750");
    }
    assert_eq!(std::fs::read(m.path("/into/a-copy")).unwrap(), b"hello\n");
    drop(m);
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn reads_writes_offsets_encodings_and_listings() {
    if !require_root("mounting")
        || !require_tool("base64")
        || !require_tool("sha256sum")
        || !require_tool("cksum")
        || !require_tool("cpio")
        || !require_tool("find")
    {
        return;
    }
    let env = TestEnv::new("filemod-io");
    let (g, imgs) = session(&env, 2);
    let data: Vec<u8> = (0..1_500_000u32).map(|i| (i * 7 % 251) as u8).collect();
    g.write("/f", &data).unwrap();
    assert_eq!(g.pread("/f", 10, 100).unwrap(), &data[100..110]);
    assert_eq!(g.pread("/f", 100, 1_499_990).unwrap(), &data[1_499_990..]);
    assert!(g.pread("/f", 10, 2_000_000).unwrap().is_empty());
    let e = g.pread("/f", 4 << 20, 0).unwrap_err().chain();
    assert!(e.contains("count is too large for the protocol"), "{e}");
    assert!(g.pread("/f", -1, 0).is_err() && g.pread("/f", 1, -1).is_err());
    assert_eq!(g.pwrite("/f", b"XYZ", 10).unwrap(), 3);
    assert!(g.pwrite("/missing", b"x", 0).is_err());
    assert!(!g.exists("/missing").unwrap());
    g.mkfifo(0o644, "/fifo").unwrap();
    assert!(g.pread("/fifo", 1, 0).is_err() && g.pwrite("/fifo", b"x", 0).is_err());
    let mut expect = data.clone();
    expect[10..13].copy_from_slice(b"XYZ");

    // Devices: the second drive is raw and unmounted.
    assert_eq!(g.pwrite_device("/dev/sdb", b"hello", 4096).unwrap(), 5);
    assert_eq!(g.pread_device("/dev/vdb", 5, 4096).unwrap(), b"hello");
    // ext4's magic in the first drive's superblock.
    assert_eq!(
        g.pread_device("/dev/sda", 2, 1024 + 0x38).unwrap(),
        [0x53, 0xef]
    );
    assert!(g.pread_device("/dev/sdz", 1, 0).is_err());
    let dev_sum = g.checksum_device("sha256", "/dev/sdb").unwrap();
    assert!(g.checksum_device("sha3", "/dev/sdb").is_err());

    // download_offset / upload_offset.
    let host = env.path().join("part");
    g.download_offset("/f", &host, 5, 1000).unwrap();
    assert_eq!(std::fs::read(&host).unwrap(), &expect[5..1005]);
    let past = env.path().join("past");
    assert!(g.download_offset("/f", &past, 1_499_999, 2).is_err());
    assert!(!past.exists(), "a refused download creates no host file");
    g.download_offset("/dev/sdb", &host, 4096, 5).unwrap();
    assert_eq!(std::fs::read(&host).unwrap(), b"hello");
    std::fs::write(&host, b"uploaded").unwrap();
    g.upload_offset(&host, "/f", 20).unwrap();
    expect[20..28].copy_from_slice(b"uploaded");
    g.upload_offset(&host, "/new", 4096).unwrap();
    let new = g.read_file("/new").unwrap();
    assert_eq!(new.len(), 4104);
    assert!(new[..4096].iter().all(|&b| b == 0) && &new[4096..] == b"uploaded");
    assert!(g.upload_offset(&host, "/f", -1).is_err());
    assert!(g.read_file("/f").unwrap() == expect);

    // base64 against coreutils.
    let b64 = env.path().join("f.b64");
    g.base64_out("/f", &b64).unwrap();
    let raw = env.path().join("f.raw");
    std::fs::write(&raw, &expect).unwrap();
    assert_eq!(
        std::fs::read(&b64).unwrap(),
        run(&["base64", raw.to_str().unwrap()]).stdout
    );
    g.touch("/empty").unwrap();
    g.base64_out("/empty", &b64).unwrap();
    assert!(std::fs::read(&b64).unwrap().is_empty());
    std::fs::write(&raw, &data[..777]).unwrap();
    std::fs::write(
        &b64,
        sh(&format!("base64 -w 60 {} ; echo '!! -- **'", raw.display())),
    )
    .unwrap();
    g.base64_in(&b64, "/decoded").unwrap();
    assert!(g.read_file("/decoded").unwrap() == data[..777]);
    // GNU base64 -d -i decodes the same input the same way.
    assert!(sh(&format!("base64 -d -i {}", b64.display())) == data[..777]);
    std::fs::write(&b64, b"QUJD\nRA\n").unwrap();
    g.base64_in(&b64, "/decoded").unwrap();
    assert_eq!(g.read_file("/decoded").unwrap(), b"ABCD");
    std::fs::write(&b64, b"QUJDR").unwrap();
    assert!(g.base64_in(&b64, "/decoded").is_err());
    assert_eq!(
        g.read_file("/decoded").unwrap(),
        b"ABCD",
        "refused input changed nothing"
    );

    // A tree for checksums_out, find0, readdir, cpio_out.
    g.mkdir_p("/tree/sub/deeper").unwrap();
    g.write("/tree/one", b"1\n").unwrap();
    g.write("/tree/sub/two", b"22\n").unwrap();
    g.write("/tree/sub/deeper/odd\\name", b"x").unwrap();
    g.write("/tree/sub/new\nline", b"y").unwrap();
    g.ln_s("one", "/tree/link").unwrap();
    g.ln("/tree/one", "/tree/sub/hard").unwrap();
    g.mkfifo(0o600, "/tree/pipe").unwrap();
    g.mknod_c(0o600, 1, 3, "/tree/null").unwrap();
    let sums = env.path().join("sums");
    g.checksums_out("sha256", "/tree", &sums).unwrap();
    let crcs = env.path().join("crcs");
    g.checksums_out("CRC", "/tree", &crcs).unwrap();
    assert!(g.checksums_out("sha3", "/tree", &crcs).is_err());
    assert!(g.checksums_out("md5", "/tree/one", &crcs).is_err());
    let list = env.path().join("list0");
    g.find0("/tree", &list).unwrap();
    let list_slash = env.path().join("list0s");
    g.find0("/tree/", &list_slash).unwrap();
    let dirents = g.readdir("/tree").unwrap();
    assert!(g.readdir("/tree/one").is_err());
    let cpio = env.path().join("tree.cpio");
    g.cpio_out("/tree", &cpio, None).unwrap();
    let cpio_crc = env.path().join("tree-crc.cpio");
    g.cpio_out("/tree", &cpio_crc, Some("crc")).unwrap();
    assert!(g.cpio_out("/tree", &cpio_crc, Some("odc")).is_err());

    // mkdtemp / mktemp.
    g.mkdir("/tmp").unwrap();
    let d = g.mkdtemp("/tmp/dirXXXXXX").unwrap();
    assert!(d.starts_with("/tmp/dir") && d.len() == 14 && g.is_dir(&d).unwrap());
    assert_eq!(g.lstat(&d).unwrap().mode & 0o7777, 0o700);
    let f = g.mktemp("/tmp/fileXXXXXX", Some(".txt")).unwrap();
    assert!(
        f.starts_with("/tmp/file") && f.ends_with(".txt") && f.len() == 19,
        "{f}"
    );
    assert_eq!(g.lstat(&f).unwrap().mode & 0o7777, 0o600);
    let f2 = g.mktemp("/tmp/fileXXXXXX", None).unwrap();
    assert_ne!(f2, f);
    for bad in ["/tmp/noX", "/tmp/XXXXX", "tmp/XXXXXX"] {
        assert!(
            g.mkdtemp(bad).is_err() && g.mktemp(bad, None).is_err(),
            "{bad}"
        );
    }
    assert!(g.mktemp("/tmp/XXXXXX", Some("a/b")).is_err());
    assert!(g.mkdtemp("/nodir/XXXXXX").is_err());

    // glob_expand, as libguestfs's own tests.
    g.mkdir_p("/glob/b/c").unwrap();
    g.mkdir_p("/glob/b1").unwrap();
    g.touch("/glob/b/c/d").unwrap();
    g.touch("/glob/b/c/e").unwrap();
    g.touch("/glob/b/c/.hidden").unwrap();
    assert_eq!(
        g.glob_expand("/glob/*/c/*", None).unwrap(),
        ["/glob/b/c/d", "/glob/b/c/e"]
    );
    assert_eq!(
        g.glob_expand("/glob/*/c/*", Some(false)).unwrap(),
        ["/glob/b/c/d", "/glob/b/c/e"]
    );
    assert_eq!(
        g.glob_expand("/glob/*/x/*", None).unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        g.glob_expand("/glob/b*", None).unwrap(),
        ["/glob/b/", "/glob/b1/"]
    );
    assert_eq!(
        g.glob_expand("/glob/b*", Some(false)).unwrap(),
        ["/glob/b", "/glob/b1"]
    );
    assert_eq!(
        g.glob_expand("/glob/b/c/.*", None).unwrap(),
        ["/glob/b/c/.hidden"]
    );
    assert_eq!(
        g.glob_expand("/glob/b/c/{e,d,nope}", None).unwrap(),
        ["/glob/b/c/e", "/glob/b/c/d"]
    );
    assert_eq!(
        g.glob_expand("/glob/b/c/[d-e]", None).unwrap(),
        ["/glob/b/c/d", "/glob/b/c/e"]
    );
    assert_eq!(g.glob_expand("/glob", None).unwrap(), ["/glob/"]);
    assert!(g.glob_expand("glob/*", None).is_err());

    // Extended attributes.
    g.setxattr("user.a", b"value-a", 7, "/f").unwrap();
    g.setxattr("user.b", b"bbbbbb", 2, "/f").unwrap();
    g.ln_s("f", "/flink").unwrap();
    g.lsetxattr("trusted.onlink", b"L", 1, "/flink").unwrap();
    assert_eq!(g.getxattr("/flink", "user.a").unwrap(), b"value-a");
    assert_eq!(g.lgetxattr("/flink", "trusted.onlink").unwrap(), b"L");
    assert!(g.getxattr("/f", "user.none").is_err());
    let names = |v: Vec<vmcraft::archive::Xattr>| {
        v.into_iter()
            .map(|x| (x.attrname, x.attrval))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(g.getxattrs("/flink").unwrap()),
        [
            ("user.a".into(), b"value-a".to_vec()),
            ("user.b".into(), b"bb".to_vec())
        ]
    );
    assert_eq!(
        names(g.lgetxattrs("/flink").unwrap()),
        [("trusted.onlink".into(), b"L".to_vec())]
    );
    g.setxattr("user.gone", b"x", 1, "/f").unwrap();
    g.removexattr("user.gone", "/flink").unwrap();
    assert!(g.removexattr("user.gone", "/f").is_err());
    g.lsetxattr("trusted.gone", b"x", 1, "/flink").unwrap();
    g.lremovexattr("trusted.gone", "/flink").unwrap();
    assert!(g.setxattr("user.x", b"ab", 3, "/f").is_err());
    assert!(g.setxattr("user.x", b"ab", -1, "/f").is_err());
    assert_eq!(
        names(g.lxattrlist("/", &["f", "flink", "absent"]).unwrap()),
        [
            (String::new(), b"2".to_vec()),
            ("user.a".into(), b"value-a".to_vec()),
            ("user.b".into(), b"bb".to_vec()),
            (String::new(), b"1".to_vec()),
            ("trusted.onlink".into(), b"L".to_vec()),
            (String::new(), Vec::new()),
        ]
    );
    assert!(g.lxattrlist("/", &["a/b"]).is_err());

    g.umount_all().unwrap();
    g.shutdown().unwrap();

    // The second drive's bytes and checksum.
    let b = std::fs::read(&imgs[1]).unwrap();
    assert_eq!(&b[4096..4101], b"hello");
    let host_sum = text(run(&["sha256sum", imgs[1].to_str().unwrap()]).stdout);
    assert_eq!(host_sum.split(' ').next().unwrap(), dev_sum);

    let m = HostMount::new(&env, &imgs[0]);
    let tree = m.path("/tree");
    let sorted = |b: Vec<u8>| {
        let mut v: Vec<Vec<u8>> = b
            .split_inclusive(|&c| c == b'\n')
            .map(<[u8]>::to_vec)
            .collect();
        v.sort();
        v
    };
    // Lines that name files with a newline are split by it: compare the sorted
    // pieces, which equal only when every line does.
    let want = sh(&format!(
        "cd '{tree}' && find -type f -print0 | xargs -0 sha256sum"
    ));
    assert_eq!(sorted(std::fs::read(&sums).unwrap()), sorted(want));
    let want = sh(&format!(
        "cd '{tree}' && find -type f -print0 | xargs -0 cksum"
    ));
    assert_eq!(sorted(std::fs::read(&crcs).unwrap()), sorted(want));
    let ours = std::fs::read(&sums).unwrap();
    assert!(
        ours.windows(9).any(|w| w == b"odd\\\\name"),
        "backslash escaped"
    );

    let split0 = |b: Vec<u8>| {
        let mut v: Vec<Vec<u8>> = b.split(|&c| c == 0).map(<[u8]>::to_vec).collect();
        assert_eq!(v.pop(), Some(Vec::new()), "each name ends with a NUL");
        v
    };
    let host_find = split0(sh(&format!("find '{tree}' -mindepth 1 -print0")));
    let host_find: Vec<Vec<u8>> = host_find
        .into_iter()
        .map(|p| p[tree.len()..].to_vec())
        .collect();
    assert_eq!(
        split0(std::fs::read(&list).unwrap()),
        host_find,
        "the filesystem's order"
    );
    let no_slash: Vec<Vec<u8>> = host_find.iter().map(|p| p[1..].to_vec()).collect();
    assert_eq!(split0(std::fs::read(&list_slash).unwrap()), no_slash);

    let ls = text(sh(&format!("ls -a -i -1 -U '{tree}'")));
    let host_entries: BTreeMap<String, i64> = ls
        .lines()
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            let l = l.trim_start();
            let (ino, name) = l.split_once(' ')?;
            Some((name.to_string(), ino.parse().ok()?))
        })
        .collect();
    for d in &dirents {
        if !d.name.contains('\n') {
            assert_eq!(host_entries.get(&d.name), Some(&d.ino), "{d:?}");
        }
    }
    let ftyp = |n: &str| dirents.iter().find(|d| d.name == n).unwrap().ftyp;
    assert_eq!(
        [
            ftyp("."),
            ftyp(".."),
            ftyp("one"),
            ftyp("link"),
            ftyp("pipe"),
            ftyp("null"),
            ftyp("sub")
        ],
        ['d', 'd', 'r', 'l', 'f', 'c', 'd']
    );

    // cpio: GNU cpio lists and extracts both archives; the crc one checks its sums.
    for (archive, fmt) in [(&cpio, "newc"), (&cpio_crc, "crc")] {
        let listing = text(sh(&format!(
            "cpio -i -t --quiet -H {fmt} < '{}'",
            archive.display()
        )));
        let mut names: Vec<&str> = listing.lines().collect();
        names.sort();
        let host_list = text(sh(&format!("cd '{tree}' && find . | sort")));
        let mut want: Vec<&str> = host_list.lines().collect();
        want.sort();
        assert_eq!(names, want);
        let out = env.path().join(format!("x-{fmt}"));
        std::fs::create_dir(&out).unwrap();
        let r = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "cd '{}' && cpio -i -d -m --quiet -H {fmt} < '{}'",
                out.display(),
                archive.display()
            ))
            .output()
            .unwrap();
        assert!(
            r.status.success() && r.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&r.stderr)
        );
        assert_eq!(std::fs::read(out.join("sub/two")).unwrap(), b"22\n");
        assert_eq!(
            std::fs::read(out.join("sub/deeper/odd\\name")).unwrap(),
            b"x"
        );
        assert_eq!(
            std::fs::read_link(out.join("link")).unwrap(),
            Path::new("one")
        );
        let ino =
            |p: &str| text(run(&["stat", "-c", "%i %h", out.join(p).to_str().unwrap()]).stdout);
        assert_eq!(ino("one"), ino("sub/hard"), "hard links stay links");
        assert_eq!(
            text(run(&["stat", "-c", "%F %t:%T", out.join("null").to_str().unwrap()]).stdout)
                .trim(),
            "character special file 1:3"
        );
        assert_eq!(
            text(run(&["stat", "-c", "%F", out.join("pipe").to_str().unwrap()]).stdout).trim(),
            "fifo"
        );
    }

    // getfattr on the host sees what the xattr calls set.
    let attrs = text(
        run(&[
            "getfattr",
            "-d",
            "-m",
            "-",
            "--absolute-names",
            &m.path("/f"),
        ])
        .stdout,
    );
    assert!(
        attrs.contains("user.a=\"value-a\"") && attrs.contains("user.b=\"bb\""),
        "{attrs}"
    );
    assert!(!attrs.contains("user.gone"), "{attrs}");
    let attrs = text(
        run(&[
            "getfattr",
            "-h",
            "-d",
            "-m",
            "-",
            "--absolute-names",
            &m.path("/flink"),
        ])
        .stdout,
    );
    assert!(
        attrs.contains("trusted.onlink=\"L\"") && !attrs.contains("trusted.gone"),
        "{attrs}"
    );
    drop(m);
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

/// Everything on the host below `dir`: content, mode, size, mtime, link count and
/// extended attributes of each entry.
fn snapshot(dir: &Path) -> String {
    text(sh(&format!(
        "cd '{}' && find . -exec stat -c '%n %f %s %Y %h' {{}} + | sort && getfattr -R -h -d -m - . 2>/dev/null; find . -type f -exec sha256sum {{}} + | sort",
        dir.display()
    )))
}

#[test]
fn writes_through_guest_symlinks_never_reach_the_host() {
    if !require_root("mounting") || !require_tool("getfattr") {
        return;
    }
    let env = TestEnv::new("filemod-confine");
    let sentinel = env.path().join("host-dir");
    std::fs::create_dir(&sentinel).unwrap();
    std::fs::write(sentinel.join("file"), "host data\n").unwrap();
    let s = sentinel.to_str().unwrap().to_string();
    let before = snapshot(&sentinel);
    let host_file = env.path().join("upload");
    std::fs::write(&host_file, b"payload").unwrap();
    let b64 = env.path().join("b64");
    std::fs::write(&b64, b"cGF5bG9hZA==\n").unwrap();

    let (g, _) = session(&env, 1);
    g.write("/a", b"guest").unwrap();
    // Absolute guest symlinks naming the host's directory and file.
    g.ln_s(&s, "/out").unwrap();
    g.ln_s(&format!("{s}/file"), "/outf").unwrap();
    let dotdot = format!("/../../../../..{s}");
    // Nothing of that name exists in the guest yet: every call fails or works
    // inside the guest; none touches the host.
    let attempts: Vec<(&str, vmcraft::Result<()>)> = vec![
        ("ln", g.ln("/a", "/out/hard")),
        ("ln_f", g.ln_f("/a", "/out/file")),
        ("ln_sf", g.ln_sf("/a", "/out/file")),
        ("rename", g.rename("/a", "/out/renamed")),
        ("mknod", g.mknod_c(0o600, 1, 3, "/out/null")),
        ("mkfifo", g.mkfifo(0o600, &format!("{dotdot}/fifo"))),
        ("truncate", g.truncate("/outf")),
        ("truncate_size", g.truncate_size("/out/file", 1)),
        ("pwrite", g.pwrite("/outf", b"X", 0).map(drop)),
        (
            "pwrite",
            g.pwrite(&format!("{dotdot}/file"), b"X", 0).map(drop),
        ),
        ("setxattr", g.setxattr("user.evil", b"1", 1, "/outf")),
        ("setxattr", g.setxattr("user.evil", b"1", 1, "/out")),
        ("lsetxattr", g.lsetxattr("user.evil", b"1", 1, "/out/file")),
        ("removexattr", g.removexattr("user.x", "/outf")),
        ("fill", g.fill(0, 10, "/outf")),
        ("fill_dir", g.fill_dir("/out", 2)),
        ("cp_r", g.cp_r("/a", "/out/copy")),
        ("mktemp", g.mktemp("/out/tXXXXXX", None).map(drop)),
        ("mkdtemp", g.mkdtemp("/out/dXXXXXX").map(drop)),
        ("upload_offset", g.upload_offset(&host_file, "/outf", 0)),
        ("upload_offset", g.upload_offset(&host_file, "/out/new", 0)),
        ("base64_in", g.base64_in(&b64, "/outf")),
        ("utimens", g.utimens("/out/file", 0, 0, 0, 0)),
    ];
    for (call, r) in attempts {
        // Each fails for want of the directory inside the guest, or (when it
        // creates a file) creates it inside the guest.
        if let Err(e) = r {
            let t = e.chain();
            assert!(
                t.contains("No such file") || t.contains("not found") || t.contains("exist"),
                "{call}: {t}"
            );
        }
    }
    // Reads through the same links do not see the host's file either: each
    // fails for want of it inside the guest (the host has it).
    let out = env.path().join("read-out");
    let reads: Vec<(&str, vmcraft::Result<()>)> = vec![
        ("pread", g.pread("/outf", 4, 0).map(drop)),
        ("getxattr", g.getxattr("/outf", "user.x").map(drop)),
        ("getxattrs", g.getxattrs("/out/file").map(drop)),
        ("checksums_out", g.checksums_out("md5", "/out", &out)),
        ("find0", g.find0(&dotdot, &out)),
        ("cpio_out", g.cpio_out("/out", &out, None)),
        ("base64_out", g.base64_out("/outf", &out)),
        ("download_offset", g.download_offset("/outf", &out, 0, 4)),
        ("compress_out", g.compress_out("gzip", "/outf", &out, None)),
        ("readdir", g.readdir("/out").map(drop)),
        (
            "glob_expand",
            match g.glob_expand("/out/*", None) {
                Ok(v) if v.is_empty() => {
                    Err(vmcraft::Error::invalid("glob_expand", "/out/*", "no match"))
                }
                Ok(v) => panic!("glob_expand saw {v:?}"),
                Err(e) => Err(e),
            },
        ),
    ];
    for (call, r) in reads {
        let e = r.expect_err(call).chain();
        assert!(
            e.contains("No such file") || e.contains("not found") || e.contains("no match"),
            "{call}: {e}"
        );
    }
    assert!(!out.exists() || std::fs::read(&out).unwrap().is_empty());
    assert_eq!(snapshot(&sentinel), before, "the host directory changed");

    // Now the guest has that directory, and every call works inside it.
    g.mkdir_p(&s).unwrap();
    g.write(&format!("{s}/file"), b"guest file").unwrap();
    g.write("/b", b"bbb").unwrap();
    g.ln("/b", "/out/hard").unwrap();
    g.ln_f("/b", "/out/hard").unwrap();
    g.ln_sf("/b", "/out/soft").unwrap();
    g.rename("/out/hard", "/out/renamed").unwrap();
    g.mknod_c(0o600, 1, 3, "/out/null").unwrap();
    g.mkfifo(0o600, &format!("{dotdot}/fifo")).unwrap();
    g.truncate_size("/outf", 3).unwrap();
    assert_eq!(g.pwrite("/outf", b"X", 0).unwrap(), 1);
    g.setxattr("user.evil", b"1", 1, "/outf").unwrap();
    g.setxattr("user.evil", b"1", 1, "/out").unwrap();
    g.fill_dir("/out", 2).unwrap();
    g.cp_r("/b", "/out/copy").unwrap();
    g.mktemp("/out/tXXXXXX", None).unwrap();
    g.upload_offset(&host_file, "/out/new", 0).unwrap();
    g.utimens("/out/file", 0, 0, 0, 0).unwrap();
    assert_eq!(g.cat(&format!("{s}/file")).unwrap(), "Xue");
    assert_eq!(g.cat(&format!("{s}/new")).unwrap(), "payload");
    assert_eq!(g.getxattr(&format!("{s}/file"), "user.evil").unwrap(), b"1");
    assert_eq!(snapshot(&sentinel), before, "the host directory changed");
    assert!(std::fs::read_dir(&sentinel).unwrap().count() == 1);
    g.umount_all().unwrap();
    g.shutdown().unwrap();
    assert_eq!(snapshot(&sentinel), before);
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn read_only_drives_refuse_device_writes() {
    if !require_root("attaching") {
        return;
    }
    let env = TestEnv::new("filemod-ro");
    let img = env.sparse_image("ro.img", 8 << 20);
    std::fs::write(&img, vec![0x5a; 8 << 20]).unwrap();
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive_ro(&img).unwrap();
    g.launch().unwrap();
    let e = g.pwrite_device("/dev/sda", b"x", 0).unwrap_err().chain();
    assert!(e.contains("read-only"), "{e}");
    let host = env.path().join("in");
    std::fs::write(&host, b"x").unwrap();
    assert!(g.upload_offset(&host, "/dev/sda", 0).is_err());
    assert_eq!(g.pread_device("/dev/sda", 4, 0).unwrap(), [0x5a; 4]);
    // Without a mounted filesystem, path calls say so.
    let e = g.pread("/f", 1, 0).unwrap_err().chain();
    assert!(e.contains("no filesystem is mounted on /"), "{e}");
    g.shutdown().unwrap();
    assert!(std::fs::read(&img).unwrap().iter().all(|&b| b == 0x5a));
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn compress_out_through_the_real_programs() {
    if !require_root("mounting")
        || !require_tool("gzip")
        || !require_tool("bzip2")
        || !require_tool("xz")
    {
        return;
    }
    let env = TestEnv::new("filemod-compress");
    let (g, imgs) = session(&env, 2);
    // 40 MiB: three pieces of 16 MiB, so three concatenated streams.
    let data: Vec<u8> = (0..40u32 << 20)
        .map(|i| (i / 4096 % 251) as u8 ^ (i as u8 & 3))
        .collect();
    let host = env.path().join("data");
    std::fs::write(&host, &data).unwrap();
    g.upload(&host, "/big").unwrap();
    let want = text(run(&["sha256sum", host.to_str().unwrap()]).stdout);
    let want = want.split(' ').next().unwrap().to_string();
    for (ctype, level, check) in [
        ("gzip", Some(9), "gzip -t '{f}' && gzip -dc '{f}'"),
        ("gzip", None, "gzip -t '{f}' && gzip -dc '{f}'"),
        ("bzip2", Some(1), "bzip2 -t '{f}' && bzip2 -dc '{f}'"),
        ("xz", Some(0), "xz -t '{f}' && xz -dc '{f}'"),
    ] {
        let z = env.path().join(format!("big.{ctype}"));
        g.compress_out(ctype, "/big", &z, level).unwrap();
        let f = z.display().to_string();
        let got = text(sh(&format!("{} | sha256sum", check.replace("{f}", &f))));
        assert_eq!(got.split(' ').next().unwrap(), want, "{ctype} {level:?}");
    }
    // A whole device; its sum against the image's after the session.
    let z = env.path().join("sdb.gz");
    g.pwrite_device("/dev/sdb", b"marker", 1 << 20).unwrap();
    g.compress_device_out("gzip", "/dev/sdb", &z, Some(1))
        .unwrap();
    // Refusals: nothing read, no host file made.
    let none = env.path().join("none");
    for (ctype, level, what) in [
        ("zstd", None, "unknown compression type"),
        (
            "gzip",
            Some(10),
            "gzip: incorrect value for level parameter",
        ),
        ("xz", Some(-1), "xz: incorrect value for level parameter"),
        ("compress", Some(1), "cannot use optional level parameter"),
    ] {
        let e = g
            .compress_out(ctype, "/big", &none, level)
            .unwrap_err()
            .chain();
        assert!(e.contains(what), "{ctype}: {e}");
    }
    for prog in ["lzop", "compress"] {
        if !vmcraft_block::has_command(prog) {
            let e = g
                .compress_out(prog, "/big", &none, None)
                .unwrap_err()
                .chain();
            assert!(e.contains("not supported"), "{e}");
        }
    }
    g.mkfifo(0o600, "/fifo").unwrap();
    assert!(g.compress_out("gzip", "/fifo", &none, None).is_err());
    assert!(g.compress_out("gzip", "/missing", &none, None).is_err());
    assert!(!none.exists());
    g.umount_all().unwrap();
    g.shutdown().unwrap();
    let dev = text(sh(&format!("gzip -dc '{}' | sha256sum", z.display())));
    let img = text(run(&["sha256sum", imgs[1].to_str().unwrap()]).stdout);
    assert_eq!(dev.split(' ').next(), img.split(' ').next());
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn deep_trees_are_refused_and_cancelled_calls_stop() {
    if !require_root("mounting") {
        return;
    }
    let env = TestEnv::new("filemod-deep");
    let (g, _) = session(&env, 1);
    // 1100 nested directories: deeper than the walks go (512 levels).
    let deep = format!("/deep{}", "/a".repeat(1100));
    g.mkdir_p(&deep).unwrap();
    g.write(&format!("{deep}/f"), b"x").unwrap();
    let out = env.path().join("out");
    for (call, r) in [
        ("checksums_out", g.checksums_out("md5", "/deep", &out)),
        ("find0", g.find0("/deep", &out)),
        ("cpio_out", g.cpio_out("/deep", &out, None)),
        ("cp_r", g.cp_r("/deep", "/copy")),
    ] {
        let e = r.expect_err(call).chain();
        assert!(e.contains("deeper than 512 levels"), "{call}: {e}");
    }
    // The host file a failed call made is removed again.
    assert!(!out.exists());
    // A shallower tree is walked whole.
    let ok = format!("/ok{}", "/b".repeat(500));
    g.mkdir_p(&ok).unwrap();
    g.find0("/ok", &out).unwrap();
    assert_eq!(
        std::fs::read(&out)
            .unwrap()
            .iter()
            .filter(|&&b| b == 0)
            .count(),
        500
    );
    g.rm_rf("/copy").unwrap();

    // The handle's cancellation stops the long calls at their first check.
    g.write("/f", &[1u8; 4096]).unwrap();
    g.cancel_token().cancel();
    let results = [
        ("fill", g.fill(0, 1 << 20, "/g")),
        ("download_offset", g.download_offset("/f", &out, 0, 10)),
        ("checksums_out", g.checksums_out("md5", "/ok", &out)),
        ("base64_out", g.base64_out("/f", &out)),
        ("compress_out", g.compress_out("gzip", "/f", &out, None)),
    ];
    for (call, r) in results {
        let e = r.expect_err(call);
        assert!(e.is_cancelled(), "{call}: {}", e.chain());
    }
    g.umount_all().unwrap();
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
