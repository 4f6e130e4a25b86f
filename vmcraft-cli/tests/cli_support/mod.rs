//! Shared by the `cli_*` tests: run the built `vmcraft` binary inside a
//! [`TestEnv`] (its working directory and its TMPDIR, so that the session
//! directory, every mount and every daemon carry the test's tag), read its
//! output, hash images, run the oracle tools, extract a partition to a file.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use vmcraft_block::testing::TestEnv;

/// What a run of the binary did.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Assert success and return stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "vmcraft failed:\n{}", self.stderr);
        &self.stdout
    }

    /// Assert failure with status 1 and return stderr.
    #[track_caller]
    pub fn failed(&self) -> &str {
        assert_eq!(
            self.code, 1,
            "expected exit status 1\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        &self.stderr
    }
}

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_vmcraft")
}

/// A `Command` for the binary, in the test's directory.
pub fn command(env: &TestEnv, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args)
        .current_dir(env.path())
        .env("TMPDIR", env.path())
        .env_remove("RUST_LOG");
    c
}

/// Run the binary with `args`, `stdin` on its standard input.
pub fn run(env: &TestEnv, args: &[&str], stdin: &str) -> Out {
    let mut child = command(env, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vmcraft");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let o = child.wait_with_output().expect("wait for vmcraft");
    let out = Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    };
    assert_no_session_left(env);
    out
}

/// Write `text` to a script file and run it with `-f`, after `args`.
pub fn script(env: &TestEnv, args: &[&str], text: &str) -> Out {
    let path = env.path().join("script.fish");
    std::fs::write(&path, text).unwrap();
    let mut a: Vec<&str> = args.to_vec();
    let p = path.to_str().unwrap().to_string();
    a.push("-f");
    a.push(&p);
    run(env, &a, "")
}

/// The session directory (made under TMPDIR) is gone once the binary exits.
#[track_caller]
pub fn assert_no_session_left(env: &TestEnv) {
    let left: Vec<String> = std::fs::read_dir(env.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("vmcraft-"))
        .collect();
    assert!(left.is_empty(), "session directories left behind: {left:?}");
}

/// SHA-256 of a file (coreutils' sha256sum: the unoptimised in-process digest of
/// a test build is far slower).
pub fn sha256(path: &Path) -> String {
    let out = tool("sha256sum", &[path.to_str().unwrap()]);
    out.split_whitespace().next().unwrap().to_string()
}

/// Run a host tool; its stdout (it must succeed).
#[track_caller]
pub fn tool(program: &str, args: &[&str]) -> String {
    let o = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        o.status.success(),
        "{program} {args:?} failed: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A sparse raw image.
pub fn image(env: &TestEnv, name: &str, size: u64) -> PathBuf {
    env.sparse_image(name, size)
}

/// Partition `n` of a raw image (start and size in bytes), from `sfdisk --json`.
pub fn partition_range(img: &Path, n: usize) -> (u64, u64) {
    let j: serde_json::Value =
        serde_json::from_str(&tool("sfdisk", &["--json", img.to_str().unwrap()])).unwrap();
    let t = &j["partitiontable"];
    let ss = t["sectorsize"].as_u64().unwrap_or(512);
    let p = &t["partitions"][n - 1];
    (
        p["start"].as_u64().unwrap() * ss,
        p["size"].as_u64().unwrap() * ss,
    )
}

/// Copy partition `n` of a raw image to its own file (for e2fsck, debugfs,
/// blkid as oracles without attaching anything).
pub fn extract_partition(env: &TestEnv, img: &Path, n: usize) -> PathBuf {
    use std::io::{Read, Seek, SeekFrom};
    let (start, size) = partition_range(img, n);
    let out = env.path().join(format!("part{n}.raw"));
    let mut src = std::fs::File::open(img).unwrap();
    src.seek(SeekFrom::Start(start)).unwrap();
    let mut dst = std::fs::File::create(&out).unwrap();
    std::io::copy(&mut src.take(size), &mut dst).unwrap();
    out
}

/// `debugfs -R "cat PATH"` on an ext2/3/4 filesystem image.
pub fn debugfs_cat(fs: &Path, path: &str) -> String {
    tool(
        "debugfs",
        &["-R", &format!("cat {path}"), fs.to_str().unwrap()],
    )
}

/// `e2fsck -fn` succeeds on an ext2/3/4 filesystem image.
#[track_caller]
pub fn e2fsck_clean(fs: &Path) {
    tool("e2fsck", &["-fn", fs.to_str().unwrap()]);
}
