//! LUKS containers on real images with the real cryptsetup as the oracle:
//! `luks_format` makes a container `cryptsetup` opens with the key
//! (`--test-passphrase`, which needs no device-mapper), `luks_uuid` is its
//! `luksUUID`, `luks_add_key` and `luks_kill_slot` change exactly the slots
//! `luksDump` then shows. Keys never appear on a command line (every command
//! the session ran is recorded: keys went on standard input or into a memory
//! file). Every bad input is refused with a clear error and the image
//! byte-identical: a wrong key, a slot out of range or taken, an empty key, a
//! device that is not LUKS, a read-only drive, a mounted device, mapping names
//! that are paths or options, and (on a host without device-mapper, as here)
//! opening a mapping at all. Opening, mounting and closing mappings run for real
//! in the kernel test tier (`kernel_tier_luks.rs`).

use std::path::Path;
use std::sync::{Arc, Mutex};

use vmcraft::{Config, ErrorKind, VMCraft};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};
use vmcraft_block::{Command, CommandRunner, Output, Supervised, SystemRunner};

const KEY: &str = "vmcraft test passphrase";
const NEWKEY: &str = "second\tkey with spaces";

/// Runs commands for real and remembers each.
#[derive(Default)]
struct Recording {
    inner: SystemRunner,
    seen: Mutex<Vec<Command>>,
}

impl CommandRunner for Recording {
    fn execute(&self, cmd: &Command) -> vmcraft_block::Result<Output> {
        self.seen.lock().unwrap().push(cmd.clone());
        self.inner.execute(cmd)
    }

    fn spawn(&self, cmd: &Command) -> vmcraft_block::Result<Supervised> {
        self.seen.lock().unwrap().push(cmd.clone());
        self.inner.spawn(cmd)
    }
}

fn sha256(path: &Path) -> String {
    let o = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// `cryptsetup` on the host, key on standard input: whether it succeeded.
fn oracle_opens(part: &Path, key: &str) -> bool {
    use std::io::Write;
    let mut c = std::process::Command::new("cryptsetup")
        .args(["--key-file", "-", "open", "--test-passphrase"])
        .arg(part)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(key.as_bytes()).unwrap();
    c.wait().unwrap().success()
}

/// The key slots `cryptsetup luksDump` lists.
fn oracle_slots(part: &Path) -> Vec<u32> {
    let o = std::process::Command::new("cryptsetup")
        .arg("luksDump")
        .arg(part)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let keyslots = text.split("Keyslots:").nth(1).unwrap_or("");
    let section = keyslots.split("Tokens:").next().unwrap_or("");
    section
        .lines()
        .filter_map(|l| {
            let l = l.strip_prefix("  ")?;
            let (n, rest) = l.split_once(':')?;
            (rest.trim() == "luks2").then(|| n.trim().parse().ok())?
        })
        .collect()
}

fn oracle_uuid(part: &Path) -> String {
    let o = std::process::Command::new("cryptsetup")
        .arg("luksUUID")
        .arg(part)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A 64 MiB image with a GPT of two partitions (32 MiB for LUKS, the rest ext4).
fn guest(env: &TestEnv) -> std::path::PathBuf {
    let img = env.sparse_image("guest.img", 64 << 20);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.part_init("/dev/sda", "gpt").unwrap();
    g.part_add("/dev/sda", "p", 2048, 2048 + (32 << 11) - 1)
        .unwrap();
    g.part_add("/dev/sda", "p", 2048 + (32 << 11), -34).unwrap();
    g.mkfs("ext4", "/dev/sda2", &Default::default()).unwrap();
    g.shutdown().unwrap();
    img
}

#[test]
fn format_keys_and_slots_agree_with_cryptsetup_and_keys_stay_off_command_lines() {
    if !require_root("loop devices") || !require_tool("cryptsetup") {
        return;
    }
    let env = TestEnv::new("luks-keys");
    let img = guest(&env);
    let runner = Arc::new(Recording::default());
    let g = VMCraft::with_config(
        Config::builder()
            .tmpdir(env.path())
            .runner(runner.clone())
            .build(),
    );
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    let part = g.host_path("/dev/sda1").unwrap();

    g.luks_format("/dev/sda1", KEY, 0).unwrap();
    assert_eq!(g.vfs_type("/dev/sda1").unwrap(), "crypto_LUKS");
    assert!(oracle_opens(&part, KEY));
    assert!(!oracle_opens(&part, "not the key"));
    assert_eq!(oracle_slots(&part), [0]);
    let uuid = g.luks_uuid("/dev/sda1").unwrap();
    assert_eq!(uuid, oracle_uuid(&part));
    assert_eq!(g.vfs_uuid("/dev/sda1").unwrap(), uuid);
    // A container is not a filesystem (libguestfs leaves it out).
    assert_eq!(
        g.list_filesystems().unwrap(),
        [("/dev/sda2".to_string(), "ext4".to_string())]
    );

    g.luks_add_key("/dev/sda1", KEY, NEWKEY, 3).unwrap();
    assert_eq!(oracle_slots(&part), [0, 3]);
    assert!(oracle_opens(&part, NEWKEY));
    g.luks_kill_slot("/dev/sda1", NEWKEY, 0).unwrap();
    assert_eq!(oracle_slots(&part), [3]);
    assert!(!oracle_opens(&part, KEY));
    assert!(oracle_opens(&part, NEWKEY));

    // The keys went to cryptsetup off its command line.
    let seen = runner.seen.lock().unwrap().clone();
    let crypt: Vec<&Command> = seen
        .iter()
        .filter(|c| c.program().to_string_lossy().ends_with("cryptsetup"))
        .collect();
    assert_eq!(crypt.len(), 4, "{crypt:?}");
    for c in &seen {
        let line = c.to_string();
        assert!(!line.contains(KEY) && !line.contains("second"), "{line}");
    }
    let stdin: Vec<Option<&[u8]>> = crypt.iter().map(|c| c.get_stdin()).collect();
    assert_eq!(
        stdin,
        [
            Some(KEY.as_bytes()),
            None,
            Some(KEY.as_bytes()),
            Some(NEWKEY.as_bytes())
        ]
    );
    // The new key came from a memory file, gone now.
    let add = crypt[2].to_string();
    let file = add
        .split_whitespace()
        .skip_while(|w| *w != "--new-keyfile")
        .nth(1)
        .unwrap()
        .to_string();
    assert!(file.starts_with("/proc/"), "{add}");
    assert!(!Path::new(&file).exists(), "{file} still there");
    g.shutdown().unwrap();
}

#[test]
fn bad_luks_calls_are_refused_and_change_nothing() {
    if !require_root("loop devices") || !require_tool("cryptsetup") {
        return;
    }
    let env = TestEnv::new("luks-bad");
    let img = guest(&env);
    {
        let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
        g.add_drive(&img).unwrap();
        g.launch().unwrap();
        g.luks_format("/dev/sda1", KEY, 1).unwrap();
        g.shutdown().unwrap();
    }
    let before = sha256(&img);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    let refused = |r: vmcraft::Result<()>, kind: ErrorKind, text: &str| {
        let e = r.expect_err(text);
        assert_eq!(e.kind(), kind, "{e}");
        assert!(e.to_string().contains(text), "{e}");
        assert!(!e.to_string().contains(KEY), "{e}");
    };
    refused(
        g.luks_add_key("/dev/sda1", "wrong key", NEWKEY, 2),
        ErrorKind::InvalidArgument,
        "luks_add_key: /dev/sda1: no key slot opens with this key",
    );
    refused(
        g.luks_add_key("/dev/sda1", KEY, NEWKEY, 1),
        ErrorKind::InvalidArgument,
        "luks_add_key: /dev/sda1: cryptsetup refused it: Key slot 1 is full",
    );
    refused(
        g.luks_add_key("/dev/sda1", KEY, NEWKEY, 32),
        ErrorKind::InvalidArgument,
        "not a key slot (0 to 31",
    );
    refused(
        g.luks_kill_slot("/dev/sda1", KEY, -1),
        ErrorKind::InvalidArgument,
        "not a key slot",
    );
    refused(
        g.luks_add_key("/dev/sda1", KEY, "", 2),
        ErrorKind::InvalidArgument,
        "luks_add_key: newkey: a key is 1 to",
    );
    refused(
        g.luks_format("/dev/sda1", "", 0),
        ErrorKind::InvalidArgument,
        "a key is 1 to",
    );
    refused(
        g.luks_format_cipher("/dev/sda1", KEY, 0, "--help"),
        ErrorKind::InvalidArgument,
        "not a cipher name",
    );
    refused(
        g.luks_kill_slot("/dev/sda2", KEY, 0),
        ErrorKind::InvalidArgument,
        "luks_kill_slot: /dev/sda2: not a LUKS device (ext4)",
    );
    assert!(
        g.luks_uuid("/dev/sda2")
            .unwrap_err()
            .to_string()
            .contains("not a LUKS device (ext4)")
    );
    for bad in [
        "../control",
        "control",
        "-x",
        ".hidden",
        "a/b",
        "",
        &"x".repeat(128),
    ] {
        refused(
            g.cryptsetup_open("/dev/sda1", KEY, bad, &Default::default()),
            ErrorKind::InvalidArgument,
            "not a mapping name",
        );
    }
    refused(
        g.cryptsetup_open(
            "/dev/sda1",
            KEY,
            "ok",
            &vmcraft::CryptsetupOpenOpts {
                crypttype: Some("--verbose".into()),
                ..Default::default()
            },
        ),
        ErrorKind::InvalidArgument,
        "not an encryption type",
    );
    refused(
        g.cryptsetup_close("/dev/sda1"),
        ErrorKind::InvalidArgument,
        "give the /dev/mapper device",
    );
    refused(
        g.cryptsetup_close("/dev/mapper/nothing"),
        ErrorKind::NoSuchDevice,
        "no such device",
    );
    if !vmcraft_lvm::device_mapper_available() {
        refused(
            g.cryptsetup_open("/dev/sda1", KEY, "cryptdata", &Default::default()),
            ErrorKind::Unsupported,
            "the kernel has no device-mapper",
        );
    }
    // A mounted device is not formatted.
    g.mount_ro("/dev/sda2", "/").unwrap();
    refused(
        g.luks_format("/dev/sda2", KEY, 0),
        ErrorKind::Busy,
        "the device is mounted",
    );
    g.umount_all().unwrap();
    g.shutdown().unwrap();
    assert_eq!(sha256(&img), before, "a refused call changed the image");

    // A read-only drive is never formatted nor given keys.
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive_ro(&img).unwrap();
    g.launch().unwrap();
    refused(
        g.luks_format("/dev/sda2", KEY, 0),
        ErrorKind::InvalidArgument,
        "the drive was added read-only",
    );
    refused(
        g.luks_add_key("/dev/sda1", KEY, NEWKEY, 2),
        ErrorKind::InvalidArgument,
        "the drive was added read-only",
    );
    assert_eq!(g.luks_uuid("/dev/sda1").unwrap(), {
        let part = g.host_path("/dev/sda1").unwrap();
        oracle_uuid(&part)
    });
    g.shutdown().unwrap();
    assert_eq!(
        sha256(&img),
        before,
        "a read-only session changed the image"
    );
}
