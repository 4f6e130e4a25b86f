//! Tier 2: what VMCraft judges against what qemu really opens.
//!
//! A corpus of crafted images (hostile shapes: extent lines a tidy parser skips,
//! descriptors embedded in sparse headers, parent hints anywhere, `json:` and
//! protocol backing names, names cut at NUL or at 511 bytes; and genuine images of
//! every referencing kind) is opened by `qemu-img info --backing-chain` under
//! `strace`, which records every file qemu opens. For each image:
//!
//! - every file qemu opened besides the image is one VMCraft reported
//!   ([`vmcraft_nbd::inspect_image`]), or VMCraft reported a reference whose name
//!   it refuses under any policy (`json:`, protocols): nothing qemu opens goes
//!   unseen;
//! - where [`vmcraft_nbd::judge_image`] accepts the image with default options,
//!   qemu opened nothing but the image itself.
//!
//! qemu-img runs pinned to the format VMCraft detected, as attach pins it.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{run, run_status};
use vmcraft_block::testing::{TestEnv, require_tool};
use vmcraft_nbd::{AttachOptions, Format, ImageInfo, inspect_image, judge_image};

/// Every path under `roots` that `qemu-img info` tried to open for `image`.
fn qemu_opens(env: &TestEnv, image: &Path, format: Format, roots: &[&Path]) -> BTreeSet<PathBuf> {
    let img = image.to_str().unwrap();
    let fmt = format.qemu_driver();
    // qemu-img info opens the chain and extents but never a qcow2's data file
    // (it opens without I/O); qemu-io reading a sector does.
    let mut out = traced(
        env,
        &[
            "qemu-img",
            "info",
            "--output=json",
            "--backing-chain",
            "-f",
            fmt,
            img,
        ],
        roots,
    );
    out.extend(traced(
        env,
        &["qemu-io", "-r", "-f", fmt, "-c", "read 0 512", img],
        roots,
    ));
    out
}

/// Every path under `roots` that `argv` tried to open, as strace saw it. The
/// program may fail (a missing extent, a refused json: option): what it tried to
/// open is still in the trace.
fn traced(env: &TestEnv, argv: &[&str], roots: &[&Path]) -> BTreeSet<PathBuf> {
    let trace = env.path().join("strace.out");
    let _ = std::fs::remove_file(&trace);
    let mut cmd = vec![
        "strace",
        "-f",
        "-qq",
        "-s",
        "4096",
        "-e",
        "trace=open,openat,openat2,creat",
        "-o",
        trace.to_str().unwrap(),
    ];
    cmd.extend_from_slice(argv);
    run_status(&cmd);
    let text = std::fs::read_to_string(&trace).unwrap();
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let Some(start) = line.find('"') else {
            continue;
        };
        let rest = &line[start + 1..];
        let Some(end) = rest.find('"') else { continue };
        let path = PathBuf::from(&rest[..end]);
        if roots.iter().any(|r| path.starts_with(r)) {
            out.insert(path);
        }
    }
    out
}

/// The files VMCraft's reading of the header names, resolved as qemu resolves
/// them; `None` when a name is one VMCraft refuses under any policy.
fn our_references(image: &Path, info: &ImageInfo) -> Option<BTreeSet<PathBuf>> {
    let dir = image.parent().unwrap();
    let names = info
        .backing_file
        .iter()
        .chain(info.data_file.iter())
        .chain(info.extents.iter().map(|e| &e.file));
    let mut out = BTreeSet::new();
    for name in names {
        if name.starts_with("json:") || name.split('/').next().is_some_and(|c| c.contains(':')) {
            return None;
        }
        out.insert(dir.join(name));
    }
    Some(out)
}

struct Corpus {
    dir: PathBuf,
}

impl Corpus {
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn descriptor(&self, name: &str, body: &str) -> PathBuf {
        let text = format!(
            "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n\
             createType=\"monolithicFlat\"\n{body}"
        );
        self.write(name, text.as_bytes())
    }

    /// A KDMV sparse header of `capacity` sectors with `desc` at sector 1.
    fn sparse(&self, name: &str, capacity: u64, desc_size: u64, desc: &str) -> PathBuf {
        let mut img = vec![0u8; 64 * 1024];
        img[0..4].copy_from_slice(b"KDMV");
        img[4..8].copy_from_slice(&1u32.to_le_bytes());
        img[12..20].copy_from_slice(&capacity.to_le_bytes());
        img[20..28].copy_from_slice(&128u64.to_le_bytes());
        img[28..36].copy_from_slice(&1u64.to_le_bytes());
        img[36..44].copy_from_slice(&desc_size.to_le_bytes());
        img[44..48].copy_from_slice(&512u32.to_le_bytes());
        img[56..64].copy_from_slice(&21u64.to_le_bytes());
        img[64..72].copy_from_slice(&128u64.to_le_bytes());
        img[73..77].copy_from_slice(b"\n \r\n");
        img[512..512 + desc.len()].copy_from_slice(desc.as_bytes());
        self.write(name, &img)
    }

    /// A fresh qcow2 from qemu-img flagged to keep its data in `data` (any
    /// name), as a guest could write into its own disk.
    fn qcow2_data_file(&self, name: &str, data: &str) -> PathBuf {
        let p = self.dir.join(name);
        let placeholder = self.dir.join(
            "p".repeat(
                data.len()
                    .saturating_sub(self.dir.as_os_str().len() + 1)
                    .max(1),
            ),
        );
        let opt = format!("data_file={}", placeholder.display());
        self.qemu_img(&[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-o",
            &opt,
            p.to_str().unwrap(),
            "1M",
        ]);
        let mut bytes = std::fs::read(&p).unwrap();
        let old = placeholder.to_str().unwrap().as_bytes();
        let at = bytes.windows(old.len()).position(|w| w == old).unwrap();
        // Same length keeps the extension's framing: pad the new name with NULs
        // (qemu reads the name as a C string).
        let mut new = data.as_bytes().to_vec();
        assert!(new.len() <= old.len(), "placeholder too short");
        new.resize(old.len(), 0);
        bytes[at..at + old.len()].copy_from_slice(&new);
        std::fs::write(&p, bytes).unwrap();
        let _ = std::fs::remove_file(&placeholder);
        p
    }

    fn qemu_img(&self, args: &[&str]) {
        let mut argv = vec!["qemu-img"];
        argv.extend(args);
        run(&argv);
    }

    /// A fresh qcow2 from qemu-img, with its backing name bytes replaced.
    fn qcow2_backing(&self, name: &str, backing: &[u8], fmt: &str) -> PathBuf {
        let p = self.dir.join(name);
        let placeholder = "p".repeat(backing.len());
        let base = self.dir.join(&placeholder);
        std::fs::write(&base, vec![0u8; 1 << 16]).unwrap();
        self.qemu_img(&[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-u",
            "-b",
            &placeholder,
            "-F",
            fmt,
            p.to_str().unwrap(),
            "1M",
        ]);
        let mut bytes = std::fs::read(&p).unwrap();
        let at = bytes
            .windows(placeholder.len())
            .position(|w| w == placeholder.as_bytes())
            .unwrap();
        bytes[at..at + backing.len()].copy_from_slice(backing);
        std::fs::write(&p, bytes).unwrap();
        std::fs::remove_file(&base).unwrap();
        p
    }
}

fn build(env: &TestEnv) -> (Vec<PathBuf>, PathBuf) {
    let dir = env.path().join("img");
    let host = env.path().join("host");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&host).unwrap();
    let sentinel = host.join("sentinel");
    std::fs::write(&sentinel, vec![0x5a; 1 << 16]).unwrap();
    let s = sentinel.to_str().unwrap();
    std::fs::write(dir.join("beside-flat.vmdk"), vec![0u8; 1 << 16]).unwrap();
    let c = Corpus { dir: dir.clone() };
    let mut imgs = vec![
        // Route 1: an extent line that has '=' in it.
        c.descriptor("eq.vmdk", &format!("RW 8 FLAT \"{s}\" 0 x=y\n")),
        // Split over lines: sscanf skips newlines.
        c.descriptor("lines.vmdk", &format!("RW\n8\nFLAT\n\"{s}\"\n0\n")),
        c.descriptor("tabs.vmdk", &format!("\tRW\t8\tFLAT\t\"{s}\"\t0\r\n")),
        c.descriptor("rdonly.vmdk", &format!("RDONLY 8 FLAT \"{s}\" 0\nRW 8 FLAT \"beside-flat.vmdk\" 0\n")),
        c.descriptor("vmfs.vmdk", &format!("RW 8 VMFS \"{s}\"\n")),
        c.descriptor("signed.vmdk", &format!("RW +8 FLAT \"{s}\" +0\n")),
        c.descriptor("genuine.vmdk", "RW 8 FLAT \"beside-flat.vmdk\" 0\n"),
        c.descriptor("hint.vmdk", &format!("RW 8 FLAT \"beside-flat.vmdk\" 0\nddb.parentFileNameHint=\"{s}\"\n")),
        c.descriptor("nul.vmdk", &format!("RW 8 FLAT \"beside-flat.vmdk\" 0\n\0RW 8 FLAT \"{s}\" 0\n")),
        // Route 2: a sparse header of capacity 0 wrapping a descriptor; desc_size
        // says one sector, the extent line is in the third.
        c.sparse(
            "embedded.img",
            0,
            1,
            &format!("# Disk DescriptorFile\ncreateType=\"monolithicFlat\"\n{}RW 8 FLAT \"{s}\" 0\n", " ".repeat(700)),
        ),
        // A genuine-looking sparse file whose parent hint comes without parentCID.
        c.sparse(
            "hinted.vmdk",
            2048,
            20,
            &format!("# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType=\"monolithicSparse\"\nRW 2048 SPARSE \"hinted.vmdk\"\n#parentFileNameHint=\"{s}\"\n"),
        ),
        // Route 3: backing names qemu parses or cuts.
        c.qcow2_backing(
            "json.qcow2",
            format!("json:{{\"driver\":\"raw\",\"file\":{{\"driver\":\"file\",\"filename\":\"{s}\"}}}}").as_bytes(),
            "raw",
        ),
        c.qcow2_backing("nulname.qcow2", b"beside-flat.vmdk\0/etc/shadow", "raw"),
        c.qcow2_backing("abs.qcow2", s.as_bytes(), "raw"),
        c.qcow2_data_file("data.qcow2", s),
    ];
    // A name over 511 bytes: qemu cuts it and opens the cut name.
    let long_dir = dir.join("a".repeat(200)).join("b".repeat(200));
    std::fs::create_dir_all(&long_dir).unwrap();
    let long_name = format!(
        "{}/{}/{}",
        "a".repeat(200),
        "b".repeat(200),
        "c".repeat(109)
    );
    std::fs::write(dir.join(&long_name), vec![0u8; 4096]).unwrap();
    imgs.push(c.descriptor("long.vmdk", &format!("RW 8 FLAT \"{long_name}zzzz\" 0\n")));
    // Genuine images of every referencing kind, made by qemu-img.
    let g = |n: &str| dir.join(n).to_str().unwrap().to_string();
    c.qemu_img(&[
        "create",
        "-q",
        "-f",
        "vmdk",
        "-o",
        "subformat=monolithicFlat",
        &g("q-flat.vmdk"),
        "1M",
    ]);
    c.qemu_img(&[
        "create",
        "-q",
        "-f",
        "vmdk",
        "-o",
        "subformat=twoGbMaxExtentSparse",
        &g("q-split.vmdk"),
        "3G",
    ]);
    c.qemu_img(&["create", "-q", "-f", "vmdk", &g("q-parent.vmdk"), "1M"]);
    c.qemu_img(&[
        "create",
        "-q",
        "-f",
        "vmdk",
        "-b",
        "q-parent.vmdk",
        "-F",
        "vmdk",
        &g("q-child.vmdk"),
    ]);
    c.qemu_img(&["create", "-q", "-f", "qcow2", &g("q-base.qcow2"), "1M"]);
    c.qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-b",
        "q-base.qcow2",
        "-F",
        "qcow2",
        &g("q-top.qcow2"),
    ]);
    // qemu-img makes a relative data file in its working directory: name it whole.
    let data_opt = format!("data_file={}", g("q-data.raw"));
    c.qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-o",
        &data_opt,
        &g("q-data.qcow2"),
        "1M",
    ]);
    c.qemu_img(&["create", "-q", "-f", "qcow2", &g("q-plain.qcow2"), "1M"]);
    for n in [
        "q-flat.vmdk",
        "q-split.vmdk",
        "q-child.vmdk",
        "q-top.qcow2",
        "q-data.qcow2",
        "q-plain.qcow2",
    ] {
        imgs.push(dir.join(n));
    }
    (imgs, sentinel)
}

#[test]
fn whatever_qemu_opens_vmcraft_has_seen_and_judged() {
    if !require_tool("qemu-img") || !require_tool("strace") {
        return;
    }
    let env = TestEnv::new("differential");
    let (images, sentinel) = build(&env);
    let before = std::fs::read(&sentinel).unwrap();
    let roots = [env.path()];
    let mut reached = 0;
    for image in &images {
        let what = image.file_name().unwrap().to_string_lossy().into_owned();
        let info = inspect_image(image, None)
            .unwrap_or_else(|e| panic!("{what}: {}", vmcraft_block::error_chain(&e)));
        let opened = qemu_opens(&env, image, info.format, &roots);
        let others: BTreeSet<PathBuf> = opened.into_iter().filter(|p| p != image).collect();
        if others.contains(&sentinel) {
            reached += 1;
        } else {
            // These must make qemu open the sentinel, or the check proves nothing.
            assert!(
                !["eq.vmdk", "embedded.img", "data.qcow2", "abs.qcow2"].contains(&what.as_str()),
                "{what}: qemu did not open the sentinel"
            );
        }
        match our_references(image, &info) {
            Some(ours) => {
                let unseen: Vec<_> = others.difference(&ours).collect();
                assert!(
                    unseen.is_empty(),
                    "{what}: qemu opened {unseen:?}, VMCraft saw {ours:?}"
                );
            }
            None => {
                // A json: or protocol name: refused whatever the options.
                let e = judge_image(
                    image,
                    &AttachOptions::default()
                        .format(info.format)
                        .allow_backing_file(true)
                        .allow_vmdk_extents(true),
                )
                .unwrap_err();
                assert!(
                    e.to_string().contains("json:") || e.to_string().contains("protocol"),
                    "{what}: {e}"
                );
            }
        }
        match judge_image(image, &AttachOptions::default()) {
            Ok(chain) => {
                assert!(
                    others.is_empty(),
                    "{what}: accepted by default, yet qemu opened {others:?}"
                );
                assert_eq!(chain.allowed_files(), [image.as_path()], "{what}");
            }
            Err(e) => {
                let text = e.to_string();
                assert!(text.contains(&*image.to_string_lossy()), "{what}: {text}");
                assert!(text.contains("refused"), "{what}: {text}");
            }
        }
    }
    // The corpus really does reach the sentinel through qemu: the check above
    // is not vacuous.
    assert!(
        reached >= 8,
        "only {reached} images made qemu open the sentinel"
    );
    assert_eq!(std::fs::read(&sentinel).unwrap(), before);
}
