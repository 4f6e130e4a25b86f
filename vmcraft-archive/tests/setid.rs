//! setuid and setgid bits from an archive survive extraction only together with
//! the owner they were meant for: where owners are not restored, a setuid file
//! of another user (a setgid file of another group) loses the bit, as
//! libarchive does, instead of becoming a setuid file of the extracting user.

mod common;

use common::RawTar;
use vmcraft_archive::{GuestRoot, TarInOptions, tar_in_from};
use vmcraft_block::testing::{TestEnv, is_root};

fn mode(root: &GuestRoot, path: &str) -> i64 {
    root.lstat(path).unwrap().mode & 0o7777
}

#[test]
fn setid_bits_are_kept_only_with_their_owner() {
    let env = TestEnv::new("setid");
    let root = GuestRoot::open(env.path()).unwrap();
    let me = u64::from(rustix::process::geteuid().as_raw());
    let my_gid = u64::from(rustix::process::getegid().as_raw());
    let (other, other_gid) = (me + 1000, my_gid + 1000);
    let data = RawTar::default()
        .file_owned("./mine-suid", b"x", 0o4755, (me, my_gid))
        .file_owned("./mine-both", b"x", 0o6755, (me, my_gid))
        .file_owned("./other-suid", b"x", 0o4755, (other, my_gid))
        .file_owned("./other-sgid", b"x", 0o2755, (me, other_gid))
        .file_owned("./other-both", b"x", 0o6711, (other, other_gid))
        .dir_owned("./other-dir/", 0o2775, (me, other_gid))
        .dir_owned("./sticky/", 0o1777, (other, other_gid))
        .finish();
    let want_stripped = [
        ("/mine-suid", 0o4755),
        ("/mine-both", 0o6755),
        ("/other-suid", 0o755),
        ("/other-sgid", 0o755),
        ("/other-both", 0o711),
        ("/other-dir", 0o775),
        ("/sticky", 0o1777),
    ];
    // Owners not restored: the bits go where the owner is not the archive's.
    root.mkdir("/plain", 0o755).unwrap();
    let opts = TarInOptions {
        same_owner: Some(false),
        ..Default::default()
    };
    let stats = tar_in_from(&root, &data[..], "/plain", &opts).unwrap();
    for (path, want) in want_stripped {
        assert_eq!(mode(&root, &format!("/plain{path}")), want, "{path}");
    }
    assert!(
        stats
            .warnings
            .iter()
            .any(|w| w.starts_with("setuid/setgid bits are not restored")),
        "{:?}",
        stats.warnings
    );
    // Owners restored (root only): every bit is kept, with its owner.
    if is_root() {
        root.mkdir("/owned", 0o755).unwrap();
        let opts = TarInOptions {
            same_owner: Some(true),
            ..Default::default()
        };
        let stats = tar_in_from(&root, &data[..], "/owned", &opts).unwrap();
        for (path, want) in [
            ("/mine-suid", 0o4755),
            ("/mine-both", 0o6755),
            ("/other-suid", 0o4755),
            ("/other-sgid", 0o2755),
            ("/other-both", 0o6711),
            ("/other-dir", 0o2775),
            ("/sticky", 0o1777),
        ] {
            assert_eq!(mode(&root, &format!("/owned{path}")), want, "{path}");
        }
        assert_eq!(root.lstat("/owned/other-suid").unwrap().uid, other as i64);
        assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
    }
}
