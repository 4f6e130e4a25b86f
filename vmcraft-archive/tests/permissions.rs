//! A real permission error during extraction is an error, as GNU tar makes it
//! one (exit status 2): the rest of the archive is extracted, owners and modes
//! are still set on everything else (one refusal does not switch them off), and
//! the call fails at the end naming what failed. The refusals are real: an
//! ext4 filesystem on a loop device with an immutable directory and an
//! immutable file (`chattr +i`), which even root may not change, link to or
//! create in. GNU tar extracting the same archive onto the same kind of tree
//! is the oracle.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::RawTar;
use vmcraft_archive::{ErrorKind, GuestRoot, TarInOptions, tar_in_from};
use vmcraft_block::testing::{LoopFixture, require_root, require_tool};
use vmcraft_block::{Command, CommandRunner, SystemRunner};

fn run(cmd: Command) -> vmcraft_block::Result<vmcraft_block::Output> {
    SystemRunner::new().run(&cmd)
}

/// A target with an immutable directory `locked` (holding `old`) and an
/// immutable file `imm`.
fn prepare(dir: &Path) {
    std::fs::create_dir(dir).unwrap();
    std::fs::create_dir(dir.join("locked")).unwrap();
    std::fs::write(dir.join("locked/old"), b"old\n").unwrap();
    std::fs::write(dir.join("imm"), b"immutable\n").unwrap();
    run(Command::new("chattr")
        .arg("+i")
        .arg(dir.join("locked"))
        .arg(dir.join("imm")))
    .unwrap();
}

fn unlock(dir: &Path) {
    let _ = run(Command::new("chattr")
        .arg("-i")
        .arg(dir.join("locked"))
        .arg(dir.join("imm")));
}

#[test]
fn permission_errors_fail_the_call_after_extracting_the_rest() {
    if !require_root("a loop device and an ext4 mount")
        || !require_tool("mkfs.ext4")
        || !require_tool("chattr")
        || !require_tool("tar")
    {
        return;
    }
    let Some(fx) = LoopFixture::new("archive-eperm", 64 << 20) else {
        return;
    };
    run(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(fx.path())).unwrap();
    let mnt = fx.env().path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    run(Command::new("mount").arg(fx.path()).arg(&mnt)).unwrap();
    let ours = mnt.join("ours");
    let gnu = mnt.join("gnu");
    let result = std::panic::catch_unwind(|| {
        prepare(&ours);
        prepare(&gnu);
        let data = RawTar::default()
            .dir_owned("./d1/", 0o750, (1234, 1234))
            .dir_owned("./locked/", 0o700, (1234, 1234))
            .file_owned("./locked/new", b"cannot be made\n", 0o644, (1234, 1234))
            .hardlink("./hl", "imm")
            .file_owned("./after", b"after\n", 0o640, (1234, 1234))
            .dir_owned("./d2/", 0o751, (4321, 4321))
            .finish();
        let root = GuestRoot::open(&ours).unwrap();
        let e = tar_in_from(&root, &data[..], "/", &TarInOptions::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        let msg = e.to_string();
        assert!(
            msg.starts_with(
                "tar_in: /: 3 errors while extracting (everything else was extracted): "
            ),
            "{msg}"
        );
        for part in [
            "entry \"./locked/new\": create: Operation not permitted",
            "entry \"./hl\": hard link to \"imm\": Operation not permitted",
            "entry \"locked\": chown: Operation not permitted",
        ] {
            assert!(msg.contains(part), "{part:?} not in {msg}");
        }
        // GNU tar: the same failures are errors, exit status 2.
        let archive = fx.env().path().join("a.tar");
        std::fs::write(&archive, &data).unwrap();
        let gnu_run = run(Command::new("tar")
            .arg("-C")
            .arg(&gnu)
            .arg("-xf")
            .arg(&archive));
        let err = gnu_run.expect_err("GNU tar must fail");
        let chain = vmcraft_block::error_chain(&err).to_string();
        assert!(chain.contains("status 2"), "{chain}");
        // Everything else is there, owned and moded as archived, as GNU tar
        // leaves it: the refusals switched nothing off.
        for name in ["d1", "after", "d2"] {
            let (a, b) = (
                std::fs::symlink_metadata(ours.join(name)).unwrap(),
                std::fs::symlink_metadata(gnu.join(name)).unwrap(),
            );
            assert_eq!(
                (a.uid(), a.gid(), a.mode() & 0o7777),
                (b.uid(), b.gid(), b.mode() & 0o7777),
                "{name}"
            );
        }
        let m = std::fs::metadata(ours.join("d1")).unwrap();
        assert_eq!((m.uid(), m.mode() & 0o7777), (1234, 0o750));
        let m = std::fs::metadata(ours.join("d2")).unwrap();
        assert_eq!((m.uid(), m.mode() & 0o7777), (4321, 0o751));
        let m = std::fs::metadata(ours.join("after")).unwrap();
        assert_eq!((m.uid(), m.mode() & 0o7777), (1234, 0o640));
        assert_eq!(std::fs::read(ours.join("after")).unwrap(), b"after\n");
        assert!(!ours.join("locked/new").exists());
        assert!(!ours.join("hl").exists());
    });
    unlock(&ours);
    unlock(&gnu);
    run(Command::new("umount").arg(&mnt)).unwrap();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}
