//! The image the e2fsck tests share (the facade's and the command line's): a
//! filesystem that resize2fs refuses until it has been checked.

#![allow(dead_code)]

use vmcraft_block::testing::TestEnv;
use vmcraft_block::{Command, CommandRunner, SystemRunner};

/// A whole-disk ext4 of 64 MiB holding `/hello`, mounted since its last check
/// (as a guest that ran leaves it: resize2fs then wants a check), on an image
/// grown to 128 MiB.
pub fn mounted_then_grown(env: &TestEnv) -> std::path::PathBuf {
    let img = env.sparse_image("disk.img", 64 << 20);
    let p = img.to_str().unwrap();
    let sys = SystemRunner::new();
    sys.run(&Command::new("mkfs.ext4").args(["-F", "-q", p]))
        .unwrap();
    let hello = env.path().join("hello");
    std::fs::write(&hello, "hello\n").unwrap();
    for req in [
        format!("write {} hello", hello.display()),
        "ssv lastcheck 20200101".to_string(),
        "ssv mtime 20240101".to_string(),
    ] {
        sys.run(&Command::new("debugfs").args(["-w", "-R", &req, p]))
            .unwrap();
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(&img)
        .unwrap()
        .set_len(128 << 20)
        .unwrap();
    img
}
