//! Workload 5, archives: `tar_out` of a real tree (a debootstrapped Debian root,
//! or part of the host's `/usr` with `--quick`) and `tar_in` of it, uncompressed,
//! gzip, xz and zstd, against GNU tar (with pigz, `xz -T0` and `zstd -T0` where a
//! parallel compressor helps the peer). Every archive written is checked with GNU
//! tar's `--compare` against the tree and its member count against the tree's
//! entry count; every extraction is checked with `--compare` of the reference
//! archive against it, and its entry count. Two last groups run `tar-in` and
//! `tar-out` on an ext4 image through the command line and through guestfish
//! ([`crate::imagecalls`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use vmcraft::archive::{Compression, GuestRoot, TarInOptions, TarOutOptions, tar_in, tar_out};

use crate::harness::{self, Case, Group, GroupResult};
use crate::{Ctx, imagecalls, sys};

struct Format {
    name: &'static str,
    compression: Compression,
    ext: &'static str,
    /// GNU tar's own flag for it.
    tar_flag: Option<&'static str>,
    /// A parallel compressor for `tar -I` when one helps (compressing).
    parallel: Option<&'static str>,
    /// A faster decompressor for `tar -I` when one helps (extracting).
    parallel_in: Option<&'static str>,
}

const FORMATS: [Format; 4] = [
    Format {
        name: "none",
        compression: Compression::None,
        ext: "tar",
        tar_flag: None,
        parallel: None,
        parallel_in: None,
    },
    Format {
        name: "gzip",
        compression: Compression::Gzip,
        ext: "tar.gz",
        tar_flag: Some("-z"),
        parallel: Some("pigz"),
        parallel_in: Some("pigz"),
    },
    Format {
        name: "xz",
        compression: Compression::Xz,
        ext: "tar.xz",
        tar_flag: Some("-J"),
        parallel: Some("xz -T0"),
        parallel_in: None,
    },
    Format {
        name: "zstd",
        compression: Compression::Zstd,
        ext: "tar.zst",
        tar_flag: Some("--zstd"),
        parallel: Some("zstd -T0"),
        parallel_in: None,
    },
];

/// The tree xz runs on: xz at its default level compresses a few MB/s, so it gets
/// a part of the tree to keep the run bearable.
fn xz_tree(ctx: &Ctx) -> (PathBuf, String) {
    let sub = if ctx.quick {
        "usr/include/linux/netfilter"
    } else {
        "usr/share/perl"
    };
    let p = ctx.tree.join(sub);
    if p.is_dir() {
        (p, format!("the tree's /{sub}"))
    } else {
        (ctx.tree.clone(), "the whole tree".into())
    }
}

/// GNU tar's `--compare` of `archive` against `dir` (contents, types, modes,
/// numeric owners, times, link targets, device numbers), and its member count.
fn compare(archive: &Path, dir: &Path, entries: u64) -> Result<u64> {
    let (code, out, err) = sys::run_status(
        "tar",
        &[
            "--compare",
            "--verbose",
            // Owners by number, as they are on disk: VMCraft names them from the
            // guest's /etc/passwd and /etc/group, GNU tar from the host's, and a name
            // both know (`_ssh`) can stand for different ids.
            "--numeric-owner",
            "-f",
            &archive.to_string_lossy(),
            "-C",
            &dir.to_string_lossy(),
        ],
    )?;
    if code != 0 {
        let diffs: Vec<&str> = err
            .lines()
            .chain(out.lines())
            .filter(|l| l.contains("differ") || l.contains("Warning") || l.contains("tar:"))
            .take(8)
            .collect();
        bail!("tar --compare found differences: {}", diffs.join("; "));
    }
    let members = out.lines().filter(|l| !l.is_empty()).count() as u64;
    if members != entries {
        bail!("{members} members, the tree has {entries} entries");
    }
    Ok(members)
}

pub fn run(ctx: &Ctx) -> Result<Vec<GroupResult>> {
    let (xz_dir, xz_label) = xz_tree(ctx);
    let mut out = Vec::new();
    let mut refs = Vec::new();
    for f in &FORMATS {
        let tree = if f.name == "xz" {
            xz_dir.clone()
        } else {
            ctx.tree.clone()
        };
        let (entries, bytes) = sys::tree_stats(&tree)?;
        let desc = if f.name == "xz" {
            format!(
                "{xz_label}: {entries} entries, {} of file data",
                sys::fmt_bytes(bytes)
            )
        } else {
            format!(
                "{}: {entries} entries, {} of file data",
                ctx.tree_label,
                sys::fmt_bytes(bytes)
            )
        };
        // The reference archive the extractions read, made by GNU tar.
        let reference = ctx.path(&format!("archive-ref.{}", f.ext));
        let mut args = vec![
            "-C".to_string(),
            tree.to_string_lossy().into(),
            "-cf".into(),
            reference.to_string_lossy().into(),
        ];
        if let Some(flag) = f.tar_flag {
            args.push(flag.into());
        }
        args.push(".".into());
        sys::run("tar", &args.iter().map(String::as_str).collect::<Vec<_>>())?;
        out.push(out_group(ctx, f, &tree, entries, &desc));
        out.push(in_group(ctx, f, &reference, entries, &desc));
        refs.push(reference);
    }
    for r in refs {
        sys::remove_file(&r)?;
    }
    sys::remove_file(&ctx.path("archive-out"))?;
    let _ = std::fs::remove_dir_all(ctx.path("archive-extract"));
    out.extend(image_groups(ctx)?);
    Ok(out)
}

/// The member names of a tar archive (`tar -tf`), without `./` and trailing `/`.
fn tar_names(archive: &Path) -> Result<std::collections::BTreeSet<String>> {
    let list = sys::run("tar", &["-tf", &archive.to_string_lossy()])?;
    Ok(list
        .lines()
        .map(|l| l.trim_start_matches("./").trim_end_matches('/').to_string())
        .filter(|l| !l.is_empty() && l != ".")
        .collect())
}

/// The first regular file under `dir` (sorted walk) and its bytes: what the
/// tar-in check reads back from the image.
fn first_file(dir: &Path, rel: &Path) -> Result<Option<(PathBuf, Vec<u8>)>> {
    let mut names: Vec<_> = std::fs::read_dir(dir.join(rel))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()?;
    names.sort();
    for n in names {
        let r = rel.join(&n);
        let meta = std::fs::symlink_metadata(dir.join(&r))?;
        if meta.is_file() && meta.len() > 0 {
            return Ok(Some((r.clone(), std::fs::read(dir.join(&r))?)));
        }
        if meta.is_dir()
            && let Some(found) = first_file(dir, &r)?
        {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// `tar-in` and `tar-out` on an ext4 image through the command line and
/// guestfish.
fn image_groups(ctx: &Ctx) -> Result<Vec<GroupResult>> {
    // The whole tree with --quick; else the Debian root's /etc and /usr/bin (a
    // guestfish round of the whole root would take minutes).
    let parts: &[&str] = if ctx.quick {
        &["."]
    } else {
        &["./etc", "./usr/bin"]
    };
    let archive = ctx.path("archive-image.tar");
    let tree_s = ctx.tree.to_string_lossy().into_owned();
    let archive_s = archive.to_string_lossy().into_owned();
    let mut args = vec!["-C", tree_s.as_str(), "-cf", archive_s.as_str()];
    args.extend(parts);
    sys::run("tar", &args)?;
    let names = tar_names(&archive)?;
    // What `tar-out /` of an image holding them lists: their parent
    // directories too (`usr` of `usr/bin`), which the archive names only when
    // it holds them whole.
    let mut listed = names.clone();
    for n in &names {
        let mut p = Path::new(n.as_str());
        while let Some(parent) = p.parent().filter(|p| !p.as_os_str().is_empty()) {
            listed.insert(parent.to_string_lossy().into_owned());
            p = parent;
        }
    }
    let stage = ctx.path("archive-image-stage");
    sys::fresh_dir(&stage)?;
    sys::run("tar", &["-C", &stage.to_string_lossy(), "-xf", &archive_s])?;
    let (probe, probe_bytes) =
        first_file(&stage, Path::new(""))?.context("the archive holds no regular file")?;
    let probe = format!("/{}", probe.to_string_lossy());
    let size = 512 << 20;
    let blank = ctx.path("archive-blank.img");
    imagecalls::ext4_image(&blank, size, None)?;
    let full = ctx.path("archive-full.img");
    imagecalls::ext4_image(&full, size, Some(&stage))?;
    let _ = std::fs::remove_dir_all(&stage);
    let img = ctx.path("archive-image.img");
    let out = ctx.path("archive-image-out.tar");
    let what = format!(
        "{} ({} entries, as GNU tar archived them)",
        if ctx.quick {
            ctx.tree_label.clone()
        } else {
            format!("/etc and /usr/bin of {}", ctx.tree_label)
        },
        names.len()
    );
    let tar_in = imagecalls::group(
        ctx,
        imagecalls::ImageCall {
            id: "archive/image tar-in",
            title: "tar-in to an image, command line and guestfish",
            what: format!(
                "attach a fresh 512 MiB ext4 image, mount it, `tar-in` an uncompressed archive \
                 of {what} to `/`, shut down"
            ),
            files: vec![(img.clone(), "IMG"), (archive.clone(), "ARCHIVE")],
            args: &|p| {
                ["-a", &p[0], "-m", "/dev/sda", "tar-in", &p[1], "/"]
                    .map(String::from)
                    .to_vec()
            },
            fresh: &|| imagecalls::copy_image(&blank, &img),
            check: &|| {
                let got = sys::run(
                    "debugfs",
                    &[
                        "-R",
                        &format!("dump {probe} /dev/stdout"),
                        &img.to_string_lossy(),
                    ],
                )?;
                if got.as_bytes() != probe_bytes.as_slice()
                    && got != String::from_utf8_lossy(&probe_bytes)
                {
                    bail!("{probe} in the image differs from the archived file");
                }
                imagecalls::e2fsck_clean(&img)?;
                Ok(format!("{probe} as archived; e2fsck -fn clean"))
            },
            runs: ctx.runs(10, 3),
        },
    );
    let tar_out = imagecalls::group(
        ctx,
        imagecalls::ImageCall {
            id: "archive/image tar-out",
            title: "tar-out from an image, command line and guestfish",
            what: format!(
                "attach a 512 MiB ext4 image holding {what} read-only, mount it, `tar-out /` to \
                 an uncompressed archive, shut down"
            ),
            files: vec![(full.clone(), "IMG"), (out.clone(), "OUT")],
            args: &|p| {
                ["--ro", "-a", &p[0], "-m", "/dev/sda", "tar-out", "/", &p[1]]
                    .map(String::from)
                    .to_vec()
            },
            fresh: &|| sys::remove_file(&out),
            check: &|| {
                let mut got = tar_names(&out)?;
                got.remove("lost+found");
                if got != listed {
                    let missing: Vec<_> = listed.difference(&got).take(5).collect();
                    let extra: Vec<_> = got.difference(&listed).take(5).collect();
                    bail!("members differ: missing {missing:?}, extra {extra:?}");
                }
                Ok(format!(
                    "{} members: the archived names and their directories",
                    listed.len()
                ))
            },
            runs: ctx.runs(10, 3),
        },
    );
    for f in [&archive, &blank, &full, &img, &out] {
        sys::remove_file(f)?;
    }
    Ok(vec![tar_in, tar_out])
}

fn out_group(ctx: &Ctx, f: &Format, tree: &Path, entries: u64, desc: &str) -> GroupResult {
    let out = ctx.path("archive-out");
    let (t, o) = (
        tree.to_string_lossy().to_string(),
        out.to_string_lossy().to_string(),
    );
    let fresh = || {
        sys::remove_file(&out)?;
        sys::settle();
        Ok(())
    };
    let check = || {
        let n = compare(&out, tree, entries)?;
        Ok(format!(
            "{n} members, same as the tree; archive {}",
            sys::fmt_bytes(std::fs::metadata(&out)?.len())
        ))
    };
    let gnu = |extra: &[&str]| -> Result<harness::Sample> {
        let mut c = harness::cmd("tar", ["-C", t.as_str(), "-cf", o.as_str()]);
        c.args(extra).arg(".");
        Ok(harness::process(&c)?.0)
    };
    let mut cases = vec![
        Case::ours(
            "vmcraft tar_out",
            format!(
                "tar_out(GuestRoot::open(TREE), \"/\", OUT, {{ compress: {}, special_files: true }}){}",
                f.name,
                match f.name {
                    "gzip" => " (parallel deflate on every core)",
                    _ => "",
                }
            ),
            || {
                let (s, _) = harness::in_process(|| {
                    let root = GuestRoot::open(tree)?;
                    let opts = TarOutOptions {
                        compress: f.compression,
                        special_files: true,
                        ..Default::default()
                    };
                    Ok(tar_out(&root, "/", &out, &opts)?)
                })?;
                Ok(s)
            },
            check,
        )
        .setup(fresh),
        Case::peer(
            "GNU tar",
            format!("tar -C TREE -cf OUT {}.", f.tar_flag.map(|x| format!("{x} ")).unwrap_or_default()),
            move || gnu(f.tar_flag.as_slice()),
            check,
        )
        .setup(fresh),
    ];
    if let Some(p) = f.parallel {
        cases.push(
            Case::peer(
                format!("GNU tar -I '{p}'"),
                format!("tar -C TREE -cf OUT -I '{p}' ."),
                move || gnu(&["-I", p]),
                check,
            )
            .setup(fresh),
        );
    }
    let mut r = harness::run_group(Group {
        id: format!("archive/out {}", f.name),
        title: format!("tar out, {}", f.name),
        what: format!("pack {desc} into a {} archive", f.name),
        unit: None,
        runs: ctx.runs(3, 2),
        cases,
    });
    r.notes.push(
        "The archives are compared with the tree on numeric owners: VMCraft names owners from \
         the guest's own /etc/passwd and /etc/group (as libguestfs does inside its appliance), \
         GNU tar from the host's, and the two can give one name (`_ssh`, say) different ids."
            .into(),
    );
    let _ = sys::remove_file(&out);
    r
}

/// Rounds of a tar-in group: three of the whole tree (some 13 s a run), ten of
/// xz's part of it (some 0.2 s a run, where one slow round moves a median of
/// three).
fn in_runs(ctx: &Ctx, f: &Format) -> usize {
    if f.compression == Compression::Xz {
        ctx.runs(10, 2)
    } else {
        ctx.runs(3, 2)
    }
}

fn in_group(ctx: &Ctx, f: &Format, reference: &Path, entries: u64, desc: &str) -> GroupResult {
    let dest = ctx.path("archive-extract");
    let (a, d) = (
        reference.to_string_lossy().to_string(),
        dest.to_string_lossy().to_string(),
    );
    let fresh = || {
        sys::fresh_dir(&dest)?;
        sys::settle();
        Ok(())
    };
    let check = || {
        let (n, _) = sys::tree_stats(&dest)?;
        if n != entries {
            bail!("{n} entries extracted, the archive has {entries}");
        }
        compare(reference, &dest, entries)?;
        Ok(format!("{n} entries; tar --compare: no differences"))
    };
    let ours = |verify: bool| -> Result<harness::Sample> {
        let (s, _) = harness::in_process(|| {
            let root = GuestRoot::open(&dest)?;
            let opts = TarInOptions {
                verify_first: verify,
                ..Default::default()
            };
            Ok(tar_in(&root, reference, "/", &opts)?)
        })?;
        Ok(s)
    };
    let gnu = |extra: &[&str]| -> Result<harness::Sample> {
        let mut c = harness::cmd("tar", ["-C", d.as_str(), "-xf", a.as_str()]);
        c.args(extra);
        Ok(harness::process(&c)?.0)
    };
    // A directory with something in it takes tar_in's two-pass road (an
    // empty one is staged); the marker goes before the check counts.
    let marker = dest.join(".in-the-way");
    let fresh_marked = || {
        fresh()?;
        std::fs::write(&marker, b"").with_context(|| format!("writing {}", marker.display()))
    };
    let check_marked = || {
        sys::remove_file(&marker)?;
        check()
    };
    let mut cases = vec![
        Case::ours(
            "vmcraft tar_in",
            "tar_in(GuestRoot::open(DIR), ARCHIVE, \"/\", default options: DIR is empty, so the \
             archive is checked as it is extracted into a staging directory, renamed into place \
             once it is known good)",
            || ours(true),
            check,
        )
        .setup(fresh),
        Case::ours(
            "vmcraft tar_in, into a directory with something in it",
            "tar_in(...) into DIR holding one file: the archive is checked in a pass of its own \
             before anything is written (its decompressed stream kept in memory up to 256 MiB)",
            || ours(true),
            check_marked,
        )
        .setup(fresh_marked),
        Case::ours(
            "vmcraft tar_in, verify_first off",
            "tar_in(..., { verify_first: false }) (one pass, entries checked as they come)",
            || ours(false),
            check,
        )
        .setup(fresh),
        Case::peer("GNU tar", "tar -C DIR -xf ARCHIVE", || gnu(&[]), check).setup(fresh),
    ];
    if let Some(p) = f.parallel_in {
        cases.push(
            Case::peer(
                format!("GNU tar -I {p}"),
                format!("tar -C DIR -xf ARCHIVE -I {p}"),
                move || gnu(&["-I", p]),
                check,
            )
            .setup(fresh),
        );
    }
    let r = harness::run_group(Group {
        id: format!("archive/in {}", f.name),
        title: format!("tar in, {}", f.name),
        what: format!(
            "unpack the {} archive GNU tar made of {desc} into an empty directory",
            f.name
        ),
        unit: None,
        runs: in_runs(ctx, f),
        cases,
    });
    let _ = std::fs::remove_dir_all(&dest);
    r
}
