//! What `tar_in` keeps from entry to entry is bounded: a gzip stream of a few
//! KiB can hold thousands of directory or symlink headers (millions in a few
//! MiB), so the directory records, the delayed symlinks (and hard links to
//! them) and the bytes they hold are counted against
//! `TarInOptions::max_delayed_*`, lowered here so that a test needs hundreds
//! of entries, not a million. An archive over a limit is refused with
//! `ErrorKind::LimitExceeded` naming the entry, the count and the limit; what
//! was extracted before it is finished (symlinks made, directory metadata
//! set), no placeholder is left, and nothing outside the target directory
//! changes. Skipped entries and warnings keep 1000 messages and count the
//! rest, in `tar_in` and `tar_out`. One archive of 50,000 directories and
//! 2,000 delayed symlinks extracts with the default limits.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::{Node, RawTar, Snap, make_sentinel, snapshot, tree_hash, write_file};
use vmcraft_archive::{
    ErrorKind, GuestRoot, Result, TarInOptions, TarOutOptions, TarStats, tar_in, tar_in_from,
    tar_out_to,
};
use vmcraft_block::testing::{TestEnv, require_tool};

/// A guest with `/etc` and an empty `/upload` (the target of every
/// extraction), beside a host sentinel tree outside the guest root.
struct Guest {
    env: Env,
    dir: PathBuf,
    root: GuestRoot,
    host: PathBuf,
    host_hash: String,
}

/// Where a guest lives: a test directory, or a tmpfs one for the large tree
/// (this machine's ext4 takes some 300 us per `mkdir` in a large tree, GNU
/// tar's as ours).
enum Env {
    Test(TestEnv),
    Tmpfs(tempfile::TempDir),
}

impl Env {
    fn path(&self) -> &Path {
        match self {
            Env::Test(e) => e.path(),
            Env::Tmpfs(d) => d.path(),
        }
    }
}

impl Guest {
    fn new(label: &str) -> Guest {
        Guest::in_env(Env::Test(TestEnv::new(label)))
    }

    /// A guest on `/dev/shm` where it is a directory, else as [`Guest::new`].
    fn on_tmpfs(label: &str) -> Guest {
        match tempfile::Builder::new()
            .prefix(&format!("vmcraft-test-{label}-"))
            .tempdir_in("/dev/shm")
        {
            Ok(d) => Guest::in_env(Env::Tmpfs(d)),
            Err(_) => Guest::new(label),
        }
    }

    fn in_env(env: Env) -> Guest {
        let host = env.path().join("host");
        let host_hash = make_sentinel(&host);
        let dir = env.path().join("guest");
        std::fs::create_dir(&dir).unwrap();
        let root = GuestRoot::open(&dir).unwrap();
        root.mkdir_p("/etc/cron.d", 0o755).unwrap();
        root.write("/etc/shadow", b"root:$6$guest:19000:0:99999:7:::\n")
            .unwrap();
        root.write("/etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
            .unwrap();
        root.write("/etc/group", b"root:x:0:\n").unwrap();
        root.write("/etc/hostname", b"guest\n").unwrap();
        root.mkdir("/upload", 0o755).unwrap();
        Guest {
            env,
            dir,
            root,
            host,
            host_hash,
        }
    }

    fn upload(&self) -> PathBuf {
        self.dir.join("upload")
    }

    /// Everything of the guest outside `/upload`.
    fn outside(&self) -> BTreeMap<String, Node> {
        let mut s = snapshot(&self.dir, Snap::ALL);
        s.retain(|k, _| !(k == "upload" || k.starts_with("upload/") || k == "."));
        s
    }

    /// Nothing outside `/upload` changed, in the guest or on the host, and no
    /// placeholder (an empty regular file of mode 0) is left in `/upload`.
    fn assert_confined(&self, before: &BTreeMap<String, Node>, what: &str) {
        assert_eq!(&self.outside(), before, "{what}: the guest changed outside");
        assert_eq!(
            tree_hash(&self.host),
            self.host_hash,
            "{what}: the host changed"
        );
        for (path, node) in snapshot(&self.upload(), Snap::ALL) {
            assert!(
                !(node.kind == 'r' && node.size == 0 && node.mode == 0),
                "{what}: placeholder left at {path}"
            );
        }
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// The three ways in: a gzip stream, a gzip file (verified first, then
/// extracted), a plain file (verified by headers first).
const HOWS: [&str; 3] = ["gzip stream", "gzip file", "plain file"];

fn extract(g: &Guest, how: &str, tar: &[u8], opts: &TarInOptions) -> Result<TarStats> {
    match how {
        "gzip stream" => tar_in_from(&g.root, &gzip(tar)[..], "/upload", opts),
        "gzip file" => {
            let f = write_file(g.env.path(), "in.tar.gz", &gzip(tar));
            tar_in(&g.root, f, "/upload", opts)
        }
        _ => {
            let f = write_file(g.env.path(), "in.tar", tar);
            tar_in(&g.root, f, "/upload", opts)
        }
    }
}

/// Extract `tar` every way with `opts`: refused with `LimitExceeded` and
/// exactly `msg`, confined; `check` then looks at what was finished.
fn refused(label: &str, tar: &[u8], opts: &TarInOptions, msg: &str, check: impl Fn(&Path)) {
    for how in HOWS {
        let g = Guest::new(label);
        let before = g.outside();
        let what = format!("{label} ({how})");
        let err = extract(&g, how, tar, opts).expect_err(&what);
        assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{what}: {err}");
        assert_eq!(err.to_string(), msg, "{what}");
        g.assert_confined(&before, &what);
        check(&g.upload());
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn link_target(p: &Path) -> String {
    std::fs::read_link(p).unwrap().display().to_string()
}

fn exists(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

/// A PAX `x` header carrying `records` for the next member.
fn pax(tar: RawTar, records: &[(&str, &[u8])]) -> RawTar {
    let mut data = Vec::new();
    for (key, value) in records {
        let rest = 3 + key.len() + value.len();
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        data.extend_from_slice(format!("{len} {key}=").as_bytes());
        data.extend_from_slice(value);
        data.push(b'\n');
    }
    let mut h = tar::Header::new_ustar();
    h.set_path("././@PaxHeader").unwrap();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_600_000_000);
    h.set_cksum();
    data.resize(data.len().next_multiple_of(512), 0);
    tar.raw(h.as_bytes()).raw(&data)
}

#[test]
fn too_many_directories_are_refused_and_the_rest_finished() {
    let mut tar = RawTar::default()
        .dir_owned("./", 0o705, (0, 0))
        .symlink("./l", "/etc")
        .symlink("./up", "../etc/hostname");
    for i in 0..150 {
        tar = tar.dir_owned(&format!("./d{i:04}/"), 0o750, (0, 0));
    }
    let tar = tar.file("./after", b"never reached\n").finish();
    let opts = TarInOptions {
        max_delayed_directories: 100,
        ..Default::default()
    };
    // `./` and d0000..d0098 are 100 directories: d0099 is one too many.
    refused(
        "dirs",
        &tar,
        &opts,
        "tar_in: /upload: entry \"./d0099/\": 101 directories whose mode and times are set at the end (the limit is 100)",
        |up| {
            for i in 0..99 {
                let d = up.join(format!("d{i:04}"));
                assert_eq!(mode(&d), 0o750, "{}", d.display());
                assert_eq!(std::fs::metadata(&d).unwrap().mtime(), 1_600_000_000);
            }
            assert!(!exists(&up.join("d0099")));
            assert!(!exists(&up.join("after")));
            assert_eq!(mode(up), 0o705);
            // The delayed symlinks were made, after every directory.
            assert_eq!(link_target(&up.join("l")), "/etc");
            assert_eq!(link_target(&up.join("up")), "../etc/hostname");
        },
    );
    // Under the limit, the same archive extracts.
    let g = Guest::new("dirs-ok");
    let opts = TarInOptions {
        max_delayed_directories: 151,
        ..Default::default()
    };
    let stats = extract(&g, "gzip stream", &tar, &opts).unwrap();
    assert_eq!(stats.entries, 154);
    assert_eq!(mode(&g.upload().join("d0149")), 0o750);
}

/// A directory repeated in the archive has one record: a thousand entries of
/// `./a/` pass a limit of 10, and the last one's metadata is set, as GNU tar
/// sets it.
#[test]
fn a_repeated_directory_counts_once() {
    let mut tar = RawTar::default();
    for i in 0..1000u32 {
        let m = if i == 999 { 0o701 } else { 0o750 + (i % 8) };
        tar = tar.dir_owned("./a/", m, (0, 0));
    }
    let tar = tar.file("./a/f", b"x\n").finish();
    let opts = TarInOptions {
        max_delayed_directories: 10,
        ..Default::default()
    };
    for how in HOWS {
        let g = Guest::new("repeat");
        let stats = extract(&g, how, &tar, &opts).unwrap();
        assert_eq!(stats.entries, 1001, "{how}");
        assert_eq!(mode(&g.upload().join("a")), 0o701, "{how}");
    }
    if require_tool("tar") {
        let g = Guest::new("repeat-gnu");
        let a = write_file(g.env.path(), "a.tar", &tar);
        let out = std::process::Command::new("tar")
            .arg("-C")
            .arg(g.upload())
            .arg("-xf")
            .arg(&a)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(mode(&g.upload().join("a")), 0o701, "GNU tar");
    }
}

#[test]
fn too_many_delayed_symlinks_are_refused_and_the_rest_made() {
    let mut tar = RawTar::default();
    for i in 0..150 {
        tar = tar.symlink(&format!("./s{i:04}"), "/etc/hostname");
    }
    let tar = tar.finish();
    let opts = TarInOptions {
        max_delayed_links: 100,
        ..Default::default()
    };
    refused(
        "links",
        &tar,
        &opts,
        "tar_in: /upload: entry \"./s0100\": 101 names of symlinks made at the end (the limit is 100)",
        |up| {
            for i in 0..100 {
                assert_eq!(link_target(&up.join(format!("s{i:04}"))), "/etc/hostname");
            }
            assert!(!exists(&up.join("s0100")));
        },
    );
}

/// Hard links to a delayed symlink are names of it, counted before they are
/// made: the one over the limit is not made (it would be a placeholder left
/// behind), those before it are hard links of the symlink.
#[test]
fn hard_links_to_a_delayed_symlink_count_as_its_names() {
    let mut tar = RawTar::default().symlink("./l", "/etc");
    for i in 0..200 {
        tar = tar.hardlink(&format!("./h{i:04}"), "./l");
    }
    let tar = tar.finish();
    let opts = TarInOptions {
        max_delayed_links: 100,
        ..Default::default()
    };
    refused(
        "hardlinks",
        &tar,
        &opts,
        "tar_in: /upload: entry \"./h0099\": 101 names of symlinks made at the end (the limit is 100)",
        |up| {
            let ino = std::fs::symlink_metadata(up.join("l")).unwrap().ino();
            assert_eq!(link_target(&up.join("l")), "/etc");
            for i in 0..99 {
                let h = up.join(format!("h{i:04}"));
                assert_eq!(link_target(&h), "/etc");
                assert_eq!(std::fs::symlink_metadata(&h).unwrap().ino(), ino);
            }
            assert!(!exists(&up.join("h0099")));
        },
    );
}

/// Directories and symlinks share one budget of bytes: a symlink target of
/// 501 bytes, then directory paths of 100 bytes each.
#[test]
fn the_bytes_held_are_bounded() {
    let target = format!("/{}", "t".repeat(500));
    // (A PAX `linkpath`: a ustar link field holds 100 bytes.)
    let mut tar = pax(RawTar::default(), &[("linkpath", target.as_bytes())]).symlink("./l", "/t");
    let names: Vec<String> = (0..10)
        .map(|i| format!("d{i:02}{}", "x".repeat(97)))
        .collect();
    for n in &names {
        tar = tar.dir_owned(&format!("./{n}/"), 0o750, (0, 0));
    }
    let tar = tar.finish();
    let opts = TarInOptions {
        max_delayed_bytes: 1000,
        ..Default::default()
    };
    // "./l" (3) + the target (501) + its name "l" (1), then 4 x 100: 905.
    refused(
        "bytes",
        &tar,
        &opts,
        &format!(
            "tar_in: /upload: entry \"./{}/\": 1005 bytes of names, symlink targets and extended attributes held until the end (the limit is 1000)",
            names[4]
        ),
        |up| {
            assert_eq!(link_target(&up.join("l")), target);
            for n in &names[..4] {
                assert_eq!(mode(&up.join(n)), 0o750);
            }
            assert!(!exists(&up.join(&names[4])));
        },
    );
}

/// Extended attributes kept for directories count too (each up to the 4 MiB
/// a member's extended headers may hold), and those of the directories
/// before the limit are set.
#[test]
fn directory_xattrs_count_against_the_bytes_held() {
    let value = vec![b'v'; 3000];
    let mut tar = RawTar::default();
    for i in 0..6 {
        tar = pax(tar, &[("SCHILY.xattr.user.big", &value)]);
        tar = tar.dir_owned(&format!("./x{i:03}/"), 0o755, (0, 0));
    }
    let tar = tar.finish();
    let opts = TarInOptions {
        xattrs: true,
        max_delayed_bytes: 10_000,
        ..Default::default()
    };
    // Each: the path (4) + the name "user.big" (8) + the value (3000) + the
    // pair's own buffers (48) = 3060; the fourth makes 12240.
    refused(
        "xattr bytes",
        &tar,
        &opts,
        "tar_in: /upload: entry \"./x003/\": 12240 bytes of names, symlink targets and extended attributes held until the end (the limit is 10000)",
        |up| {
            for i in 0..3 {
                let v = xattr::get(up.join(format!("x{i:03}")), "user.big").unwrap();
                assert_eq!(v.as_deref(), Some(&value[..]));
            }
            assert!(!exists(&up.join("x003")));
        },
    );
}

/// A GNU header of an entry type `tar_in` does not extract.
fn unknown_entry(tar: RawTar, name: &str) -> RawTar {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_entry_type(tar::EntryType::new(b'Q'));
    h.set_size(0);
    h.set_mode(0o644);
    h.set_mtime(1_600_000_000);
    h.set_cksum();
    tar.raw(h.as_bytes())
}

#[test]
fn skipped_entries_keep_1000_messages_and_count_all() {
    let mut tar = RawTar::default();
    for i in 0..1500 {
        tar = unknown_entry(tar, &format!("./q{i:04}"));
    }
    let tar = tar.file("./last", b"x\n").finish();
    for how in HOWS {
        let g = Guest::new("skipped");
        let before = g.outside();
        let stats = extract(&g, how, &tar, &TarInOptions::default()).unwrap();
        assert_eq!(stats.entries, 1501, "{how}");
        assert_eq!(stats.skipped_total, 1500, "{how}");
        assert_eq!(stats.skipped.len(), 1000, "{how}");
        assert_eq!(stats.skipped[0], "./q0000: unsupported entry type 'Q'");
        assert_eq!(stats.skipped[999], "./q0999: unsupported entry type 'Q'");
        assert_eq!(std::fs::read(g.upload().join("last")).unwrap(), b"x\n");
        assert!(!exists(&g.upload().join("q0000")));
        g.assert_confined(&before, how);
    }
}

/// An ACL naming a user the guest does not know is a warning per entry: 1000
/// kept, all counted.
#[test]
fn warnings_keep_1000_messages_and_count_all() {
    let acl = b"user::rw-\nuser:nosuchuser:r--\ngroup::r--\nmask::r--\nother::r--\n";
    let mut tar = RawTar::default();
    for i in 0..1200 {
        tar = pax(tar, &[("SCHILY.acl.access", acl)]);
        tar = tar.file(&format!("./f{i:04}"), b"x\n");
    }
    let tar = tar.finish();
    let opts = TarInOptions {
        acls: true,
        ..Default::default()
    };
    let g = Guest::new("warnings");
    let stats = extract(&g, "gzip stream", &tar, &opts).unwrap();
    assert_eq!(stats.entries, 1200);
    assert_eq!(stats.warnings.len(), 1000);
    assert!(stats.warnings_total >= 1200, "{}", stats.warnings_total);
    assert!(
        stats.warnings[0].starts_with("./f0000: system.posix_acl_access not restored: "),
        "{}",
        stats.warnings[0]
    );
    assert!(exists(&g.upload().join("f1199")));
}

#[test]
fn tar_out_keeps_1000_skipped_messages_and_counts_all() {
    // Sockets: left out whatever the options say, as GNU tar leaves them.
    let g = Guest::new("tar-out-skipped");
    g.root.mkdir("/socks", 0o755).unwrap();
    for i in 0..1100 {
        drop(std::os::unix::net::UnixListener::bind(g.dir.join(format!("socks/s{i:04}"))).unwrap());
    }
    let mut out = Vec::new();
    let stats = tar_out_to(&g.root, "/socks", &mut out, &TarOutOptions::default()).unwrap();
    assert_eq!(stats.skipped_total, 1100);
    assert_eq!(stats.skipped.len(), 1000);
    assert!(
        stats
            .skipped
            .iter()
            .all(|s| s.ends_with(": socket ignored"))
    );
    assert_eq!(stats.entries, 1);
}

/// The default limits take a large tree: 50,000 directories (100 x 500),
/// 2,000 absolute symlinks with a hard link each, through a gzip stream and a
/// gzip file.
#[test]
fn a_large_tree_extracts_with_the_default_limits() {
    let mut tar = RawTar::default().dir_owned("./", 0o755, (0, 0));
    for i in 0..100 {
        tar = tar.dir_owned(&format!("./t{i:03}/"), 0o751, (0, 0));
        for j in 0..499 {
            tar = tar.dir_owned(&format!("./t{i:03}/s{j:03}/"), 0o750, (0, 0));
        }
    }
    for i in 0..2000 {
        tar = tar
            .symlink(&format!("./t{:03}/l{i:04}", i % 100), "/etc/hostname")
            .hardlink(
                &format!("./t{:03}/h{i:04}", i % 100),
                &format!("./t{:03}/l{i:04}", i % 100),
            );
    }
    let tar = tar.finish();
    for how in ["gzip stream", "gzip file"] {
        let g = Guest::on_tmpfs("large");
        let before = g.outside();
        let stats = extract(&g, how, &tar, &TarInOptions::default()).unwrap();
        assert_eq!(stats.entries, 1 + 50_000 + 4000, "{how}");
        assert_eq!(stats.skipped_total, 0);
        let up = g.upload();
        assert_eq!(mode(&up.join("t000")), 0o751);
        assert_eq!(mode(&up.join("t099/s498")), 0o750);
        assert_eq!(
            std::fs::metadata(up.join("t042/s123")).unwrap().mtime(),
            1_600_000_000
        );
        assert_eq!(link_target(&up.join("t099/l1999")), "/etc/hostname");
        assert_eq!(link_target(&up.join("t099/h1999")), "/etc/hostname");
        g.assert_confined(&before, how);
    }
}
