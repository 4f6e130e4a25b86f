//! `tar_out` to a host file: everything is checked before the destination is
//! touched, the archive is written to a temporary file beside it and renamed
//! over it only when complete. A call that fails, before or while writing,
//! leaves an existing destination byte-identical and no file behind; a symlink
//! destination is written through, and a destination that is not a regular file
//! (a device node) is written in place, never replaced.

mod common;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

use vmcraft_archive::{Compression, ErrorKind, GuestRoot, TarOutOptions, tar_out};
use vmcraft_block::testing::{TestEnv, require_root};
use vmcraft_block::{Command, CommandRunner, SystemRunner};

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn guest(env: &TestEnv) -> GuestRoot {
    let dir = env.path().join("root");
    std::fs::create_dir(&dir).unwrap();
    let root = GuestRoot::open(&dir).unwrap();
    root.mkdir_p("/etc", 0o755).unwrap();
    root.write("/etc/hostname", b"guest\n").unwrap();
    root.write("/file", b"not a directory").unwrap();
    root
}

#[test]
fn a_refused_tar_out_leaves_the_destination_as_it_was() {
    let env = TestEnv::new("tarout-keep");
    let root = guest(&env);
    let out = env.path().join("out.tar");
    std::fs::write(&out, b"OLD ARCHIVE").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).unwrap();
    let before = listing(env.path());
    let bad_exclude = TarOutOptions {
        excludes: vec!["a[".into()],
        ..Default::default()
    };
    let plain = TarOutOptions::default();
    let cases: Vec<(&str, &TarOutOptions, ErrorKind)> = vec![
        ("/missing", &plain, ErrorKind::NotFound),
        ("/file", &plain, ErrorKind::WrongType),
        ("/etc", &bad_exclude, ErrorKind::InvalidArgument),
    ];
    for (dir, opts, kind) in cases {
        for c in [Compression::None, Compression::Gzip, Compression::Xz] {
            let opts = TarOutOptions {
                compress: c,
                ..opts.clone()
            };
            let e = tar_out(&root, dir, &out, &opts).unwrap_err();
            assert_eq!(e.kind(), kind, "{dir} {c}: {e}");
            assert!(e.to_string().starts_with("tar_out: "), "{e}");
            assert_eq!(std::fs::read(&out).unwrap(), b"OLD ARCHIVE", "{dir} {c}");
            assert_eq!(listing(env.path()), before, "{dir} {c}: a file was left");
        }
    }
    // A destination in a directory that does not exist: refused, nothing made.
    let e = tar_out(
        &root,
        "/etc",
        env.path().join("no/such/dir/x.tar"),
        &TarOutOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert_eq!(listing(env.path()), before);
    // A directory as the destination.
    let e = tar_out(&root, "/etc", env.path(), &TarOutOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WrongType, "{e}");
    assert_eq!(listing(env.path()), before);

    // Success replaces it, keeping its permission bits.
    tar_out(&root, "/etc", &out, &TarOutOptions::default()).unwrap();
    let data = std::fs::read(&out).unwrap();
    assert_eq!(data.len() % 10240, 0);
    assert!(String::from_utf8_lossy(&data).contains("./hostname"));
    let m = std::fs::metadata(&out).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o640);
    assert_eq!(listing(env.path()), before);

    // A symlink destination is written through; the link stays.
    let real = env.path().join("real.tar");
    std::fs::write(&real, b"OLD").unwrap();
    let link = env.path().join("link.tar");
    std::os::unix::fs::symlink("real.tar", &link).unwrap();
    tar_out(&root, "/etc", &link, &TarOutOptions::default()).unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(&real).unwrap(), data);
}

#[test]
fn a_device_destination_is_written_in_place_not_replaced() {
    if !require_root("mknod") {
        return;
    }
    let env = TestEnv::new("tarout-dev");
    let root = guest(&env);
    let null = env.path().join("null");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &null,
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o666),
        rustix::fs::makedev(1, 3),
    )
    .unwrap();
    let before = listing(env.path());
    tar_out(&root, "/etc", &null, &TarOutOptions::default()).unwrap();
    let m = std::fs::symlink_metadata(&null).unwrap();
    assert!(
        m.file_type().is_char_device(),
        "the device node was replaced"
    );
    assert_eq!(listing(env.path()), before);
}

/// A tmpfs of `size` mounted for the length of a test.
struct Tmpfs(std::path::PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = SystemRunner::new().run(&Command::new("umount").arg(&self.0));
    }
}

#[test]
fn a_tar_out_that_fails_while_writing_leaves_the_destination_alone() {
    if !require_root("mounting a small tmpfs") {
        return;
    }
    let env = TestEnv::new("tarout-full");
    let root = guest(&env);
    // 2 MiB that no compressor shrinks, for a 512 KiB filesystem.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..2 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    root.write("/etc/noise", &noise).unwrap();
    let mnt = env.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    SystemRunner::new()
        .run(
            &Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
                .arg(&mnt),
        )
        .unwrap();
    let _mount = Tmpfs(mnt.clone());
    let out = mnt.join("out.tar");
    std::fs::write(&out, b"OLD ARCHIVE").unwrap();
    for c in [
        Compression::None,
        Compression::Gzip,
        Compression::Zstd,
        Compression::Xz,
    ] {
        let opts = TarOutOptions {
            compress: c,
            level: vmcraft_archive::Level(Some(1)),
            ..Default::default()
        };
        let e = tar_out(&root, "/etc", &out, &opts).unwrap_err();
        assert!(e.to_string().starts_with("tar_out: "), "{c}: {e}");
        assert_eq!(std::fs::read(&out).unwrap(), b"OLD ARCHIVE", "{c}");
        assert_eq!(listing(&mnt), ["out.tar"], "{c}: a temporary file was left");
    }
}
