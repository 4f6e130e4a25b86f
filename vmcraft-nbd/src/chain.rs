//! What an image may make qemu open besides itself, judged before qemu sees it.
//!
//! [`resolve`] takes the image's header as [`crate::inspect_image`] read it and
//! the caller's [`AttachOptions`], and returns an [`ImageChain`]: the image, each
//! backing file below it with its format, each qcow2 external data file, and each
//! vmdk extent file, every one resolved to a canonical host path and checked. By
//! default any of them is refused. The opt-ins open exactly this much:
//!
//! - [`AttachOptions::allow_backing_file`]: a backing chain (and data files)
//!   whose every node has an explicit format (the top's given by the caller, a
//!   backing file's recorded in its child's header), no `json:` or protocol
//!   names, each name an existing regular file or block device, no loops, at most
//!   [`MAX_CHAIN`] nodes. The chain is then handed to qemu node by node with each
//!   driver pinned (see `blockdev.rs`), so qemu opens nothing it chose itself.
//! - [`AttachOptions::allow_vmdk_extents`]: extent files that are plain names of
//!   regular files (not symlinks) in the image's own directory; a sparse extent
//!   must not wrap a descriptor of its own.
//!
//! Neither opt-in applies to an image whose format was detected rather than
//! given: a raw guest disk can hold a qcow2 header naming a data file, or a VMDK
//! descriptor naming its neighbours' disks, in its own first sectors.
//!
//! Relative names are resolved against the directory of the canonical path of
//! the image that names them. qemu itself would use the directory of the path it
//! was given (different when the image was reached through a symlink), and
//! resolves a qcow2's relative data file against its working directory; since
//! the chain is pinned, the file VMCraft resolved is the one qemu opens.
//!
//! qemu's vmdk driver opens extents by name and cannot be pinned, so the files
//! judged here ([`ImageChain::allowed_files`], by device and inode) are what the
//! serving process's open files are checked against once qemu has opened the
//! image.

use std::fs::Metadata;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::format::{Format, ImageInfo, check_name, inspect_image};
use crate::opened::{FileId, file_id};
use crate::options::AttachOptions;

/// The longest backing chain followed (qemu has no small limit; snapshot chains
/// of real estates stay well below this).
pub const MAX_CHAIN: usize = 32;

/// Why an opt-in does not apply to an image whose format was detected: a raw
/// disk can hold any header, so only the caller can say it is not raw.
const EXPLICIT_FORMAT: &str = "other files are followed only when the image's format is given \
    explicitly (a raw disk can hold any header)";

/// One image of a chain: the top image, or a backing file below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainNode {
    /// The canonical host path.
    pub path: PathBuf,
    /// What its header said (its format is pinned for qemu).
    pub info: ImageInfo,
    /// Its qcow2 external data file, resolved (only with `allow_backing_file`).
    pub data_file: Option<PathBuf>,
}

impl ChainNode {
    /// The qemu driver pinned for this node.
    pub fn format(&self) -> Format {
        self.info.format
    }
}

/// Every file qemu will open for one attach, judged and resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageChain {
    /// The image first, then each backing file in order.
    pub nodes: Vec<ChainNode>,
    /// The vmdk extent files the opt-in allowed, resolved.
    pub extents: Vec<PathBuf>,
    /// Device and inode of every file above, taken when it was judged: what
    /// qemu is found to have open afterwards must be among them.
    pub(crate) ids: Vec<FileId>,
}

impl ImageChain {
    /// A chain of one image, unjudged (tests of the command lines).
    #[cfg(test)]
    pub(crate) fn single(path: &Path, format: Format) -> Self {
        ImageChain {
            nodes: vec![ChainNode {
                path: path.to_path_buf(),
                info: ImageInfo::new(format, false, 0),
                data_file: None,
            }],
            extents: Vec::new(),
            ids: file_id(path).into_iter().collect(),
        }
    }

    /// The top image's node.
    pub fn top(&self) -> &ChainNode {
        &self.nodes[0]
    }

    /// Every host file qemu may have open once the image is attached.
    pub fn allowed_files(&self) -> Vec<&Path> {
        let mut out: Vec<&Path> = Vec::new();
        for n in &self.nodes {
            out.push(&n.path);
            out.extend(n.data_file.as_deref());
        }
        out.extend(self.extents.iter().map(PathBuf::as_path));
        out
    }
}

/// What [`crate::attach`] would let qemu open for `image` with `options`: the
/// header read in-process, every backing file, data file and vmdk extent judged
/// and resolved; an error says which one is refused and why. Nothing is started.
///
/// ```no_run
/// use vmcraft_nbd::{judge_image, AttachOptions};
/// let chain = judge_image("split.vmdk", &AttachOptions::default().allow_vmdk_extents(true))?;
/// for f in chain.allowed_files() {
///     println!("qemu may open {}", f.display());
/// }
/// # Ok::<(), vmcraft_nbd::Error>(())
/// ```
pub fn judge_image(image: impl AsRef<Path>, options: &AttachOptions) -> Result<ImageChain> {
    let image = image.as_ref();
    let canonical = match std::fs::canonicalize(image) {
        Ok(p) => p,
        Err(_) => std::path::absolute(image)
            .map_err(|e| crate::Error::io("attach", image.display(), "resolving the path", e))?,
    };
    let subject = canonical.display().to_string();
    let info =
        inspect_image(&canonical, options.format).map_err(|e| e.relabel("attach", &subject))?;
    resolve(&canonical, info, options, &subject)
}

/// Judge everything `info` (the header of `image`, a canonical path) names, and
/// follow a backing chain where allowed. `subject` names the image in errors.
pub(crate) fn resolve(
    image: &Path,
    info: ImageInfo,
    opts: &AttachOptions,
    subject: &str,
) -> Result<ImageChain> {
    let mut chain = ImageChain {
        nodes: Vec::new(),
        extents: Vec::new(),
        ids: Vec::new(),
    };
    let mut path = image.to_path_buf();
    let mut info = info;
    loop {
        let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
        // Names are judged against the image that holds them; errors name it too.
        let here = if chain.nodes.is_empty() {
            subject.to_string()
        } else {
            format!("{subject} (backing file {})", path.display())
        };
        check_extents(&info, &dir, opts, &here, &mut chain.extents)?;
        let data_file = match &info.data_file {
            None => None,
            Some(name) => {
                if !opts.allow_backing_file {
                    return Err(info.refusal(
                        &here,
                        "external data file",
                        name,
                        "external data files are not allowed (set allow_backing_file to \
                         follow them)",
                    ));
                }
                if info.detected {
                    return Err(info.refusal(&here, "external data file", name, EXPLICIT_FORMAT));
                }
                Some(resolve_name(
                    &info,
                    &here,
                    "external data file",
                    name,
                    &dir,
                )?)
            }
        };
        let backing = info.backing_file.clone();
        let backing_format = info.backing_format.clone();
        let detected = info.detected;
        chain.nodes.push(ChainNode {
            path: path.clone(),
            info,
            data_file,
        });
        let Some(name) = backing else {
            chain.ids = identify(&chain, subject)?;
            return Ok(chain);
        };
        let node = &chain.nodes[chain.nodes.len() - 1].info;
        if !opts.allow_backing_file {
            return Err(node.refusal(
                &here,
                "backing file",
                &name,
                "backing files are not allowed (set allow_backing_file to follow them)",
            ));
        }
        if chain.nodes.len() == 1 && detected {
            return Err(node.refusal(&here, "backing file", &name, EXPLICIT_FORMAT));
        }
        let Some(fmt_name) = backing_format else {
            return Err(node.refusal(
                &here,
                "backing file",
                &name,
                "the header does not record the backing file's format (qemu would probe \
                 it; rebase with -F to record it)",
            ));
        };
        let format: Format = fmt_name.parse().map_err(|_| {
            node.refusal(
                &here,
                "backing file",
                &name,
                &format!("its recorded format {fmt_name:?} is not one VMCraft attaches"),
            )
        })?;
        let next = resolve_name(node, &here, "backing file", &name, &dir)?;
        if chain.nodes.iter().any(|n| n.path == next) {
            return Err(node.refusal(
                &here,
                "backing file",
                &name,
                "the backing chain loops back on itself",
            ));
        }
        if chain.nodes.len() == MAX_CHAIN {
            return Err(node.refusal(
                &here,
                "backing file",
                &name,
                &format!("the backing chain is longer than {MAX_CHAIN} images"),
            ));
        }
        let next_info = inspect_image(&next, Some(format)).map_err(|e| {
            node.refusal(
                &here,
                "backing file",
                &name,
                "its header cannot be read as the format recorded for it",
            )
            .with_source(e)
        })?;
        path = next;
        info = next_info;
    }
}

/// Device and inode of every file of the chain, as judged.
fn identify(chain: &ImageChain, subject: &str) -> Result<Vec<FileId>> {
    chain
        .allowed_files()
        .into_iter()
        .map(|p| {
            file_id(p).map_err(|e| {
                crate::Error::io("attach", subject, format!("identifying {}", p.display()), e)
            })
        })
        .collect()
}

/// Resolve a backing or data file name as qemu would (absolute, or relative to
/// the directory of the image that names it) and require an existing regular
/// file or block device.
fn resolve_name(
    info: &ImageInfo,
    here: &str,
    what: &str,
    name: &str,
    dir: &Path,
) -> Result<PathBuf> {
    check_name(name).map_err(|why| info.refusal(here, what, name, why))?;
    let joined = dir.join(name);
    let path = std::fs::canonicalize(&joined).map_err(|e| {
        info.refusal(
            here,
            what,
            name,
            &format!("{} cannot be resolved", joined.display()),
        )
        .with_source(e)
    })?;
    let meta = std::fs::metadata(&path).map_err(|e| {
        info.refusal(
            here,
            what,
            name,
            &format!("{} cannot be read", path.display()),
        )
        .with_source(e)
    })?;
    if !(meta.is_file() || meta.file_type().is_block_device()) {
        return Err(info.refusal(
            here,
            what,
            name,
            &format!("{} is {}, not a file", path.display(), describe(&meta)),
        ));
    }
    Ok(path)
}

/// Judge a vmdk descriptor's extents; push the allowed ones to `out`.
fn check_extents(
    info: &ImageInfo,
    dir: &Path,
    opts: &AttachOptions,
    here: &str,
    out: &mut Vec<PathBuf>,
) -> Result<()> {
    for extent in &info.extents {
        let name = extent.file.as_str();
        let refuse = |why: &str| info.refusal(here, "extent file", name, why);
        if !opts.allow_vmdk_extents {
            return Err(refuse(
                "vmdk extent files are not allowed (set allow_vmdk_extents to follow those \
                 in the image's own directory)",
            ));
        }
        if info.detected {
            return Err(refuse(EXPLICIT_FORMAT));
        }
        check_name(name).map_err(refuse)?;
        if name.contains('/') || name == "." || name == ".." {
            return Err(refuse(
                "only plain file names in the image's own directory are followed",
            ));
        }
        let path = dir.join(name);
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|e| refuse(&format!("{} cannot be read", path.display())).with_source(e))?;
        if !meta.is_file() {
            return Err(refuse(&format!(
                "{} is {}, not a regular file",
                path.display(),
                describe(&meta)
            )));
        }
        if matches!(extent.kind.as_str(), "SPARSE" | "VMFSSPARSE") {
            // qemu reads a sparse extent's header, and one of capacity 0 wraps a
            // descriptor whose extents it would open in turn.
            let inner = inspect_image(&path, Some(Format::Vmdk))
                .map_err(|e| refuse("the sparse extent's header cannot be read").with_source(e))?;
            if !inner.extents.is_empty() {
                return Err(refuse("the sparse extent wraps a descriptor of its own"));
            }
        }
        if !out.contains(&path) {
            out.push(path);
        }
    }
    Ok(())
}

fn describe(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a fifo"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn qcow2_overlay(dir: &Path, name: &str, backing: &str, backing_fmt: Option<&str>) -> PathBuf {
        let mut img = crate::format::qcow2_tests::fresh_qcow2();
        img[8..16].copy_from_slice(&512u64.to_be_bytes());
        img[16..20].copy_from_slice(&(backing.len() as u32).to_be_bytes());
        img[512..512 + backing.len()].copy_from_slice(backing.as_bytes());
        if let Some(f) = backing_fmt {
            img[112..116].copy_from_slice(&0xe279_2acau32.to_be_bytes());
            img[116..120].copy_from_slice(&(f.len() as u32).to_be_bytes());
            img[120..120 + f.len()].copy_from_slice(f.as_bytes());
        }
        let p = dir.join(name);
        std::fs::write(&p, img).unwrap();
        p
    }

    fn judge(image: &Path, format: Option<Format>, opts: &AttachOptions) -> Result<ImageChain> {
        let info = inspect_image(image, format)?;
        resolve(image, info, opts, &image.display().to_string())
    }

    #[test]
    fn a_plain_image_is_its_own_chain() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("raw.img");
        std::fs::write(&p, vec![0u8; 4096]).unwrap();
        let c = judge(&p, None, &AttachOptions::default()).unwrap();
        assert_eq!(c.nodes.len(), 1);
        assert_eq!(c.allowed_files(), [p.as_path()]);
    }

    #[test]
    fn backing_chains_need_every_format_pinned() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().canonicalize().unwrap();
        let base = d.join("base.raw");
        std::fs::write(&base, vec![0u8; 1 << 16]).unwrap();
        let top = qcow2_overlay(&d, "top.qcow2", "base.raw", Some("raw"));
        let allow = AttachOptions::default().allow_backing_file(true);

        let e = judge(&top, Some(Format::Qcow2), &AttachOptions::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BackingFileRefused);
        assert!(
            e.to_string().contains("backing files are not allowed"),
            "{e}"
        );
        let e = judge(&top, None, &allow).unwrap_err();
        assert!(e.to_string().contains("(auto-detected format)"), "{e}");
        assert!(e.to_string().contains("given explicitly"), "{e}");

        let c = judge(&top, Some(Format::Qcow2), &allow).unwrap();
        assert_eq!(c.nodes.len(), 2);
        assert_eq!(
            (c.nodes[1].path.as_path(), c.nodes[1].format()),
            (base.as_path(), Format::Raw)
        );

        let no_fmt = qcow2_overlay(&d, "nofmt.qcow2", "base.raw", None);
        let e = judge(&no_fmt, Some(Format::Qcow2), &allow).unwrap_err();
        assert!(
            e.to_string()
                .contains("does not record the backing file's format"),
            "{e}"
        );
        let odd = qcow2_overlay(&d, "odd.qcow2", "base.raw", Some("luks"));
        let e = judge(&odd, Some(Format::Qcow2), &allow).unwrap_err();
        assert!(
            e.to_string()
                .contains("\"luks\" is not one VMCraft attaches"),
            "{e}"
        );
        // A raw file posing as a qcow2 base: the recorded format must match.
        let liar = qcow2_overlay(&d, "liar.qcow2", "base.raw", Some("qcow2"));
        let e = judge(&liar, Some(Format::Qcow2), &allow).unwrap_err();
        assert!(
            e.to_string()
                .contains("cannot be read as the format recorded"),
            "{e}"
        );
    }

    #[test]
    fn a_detected_qcow2_data_file_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().canonicalize().unwrap();
        std::fs::write(d.join("data.raw"), vec![0u8; 4096]).unwrap();
        let mut img = crate::format::qcow2_tests::fresh_qcow2();
        img[72..80].copy_from_slice(&(1u64 << 2).to_be_bytes());
        img[112..116].copy_from_slice(&0x4441_5441u32.to_be_bytes());
        img[116..120].copy_from_slice(&8u32.to_be_bytes());
        img[120..128].copy_from_slice(b"data.raw");
        let p = d.join("guest.img");
        std::fs::write(&p, img).unwrap();
        let allow = AttachOptions::default().allow_backing_file(true);
        let e = judge(&p, None, &allow).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BackingFileRefused);
        assert!(e.to_string().contains("given explicitly"), "{e}");
        let c = judge(&p, Some(Format::Qcow2), &allow).unwrap();
        assert_eq!(
            c.top().data_file.as_deref(),
            Some(d.join("data.raw").as_path())
        );
    }

    #[test]
    fn hostile_backing_names() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().canonicalize().unwrap();
        let allow = AttachOptions::default().allow_backing_file(true);
        for (name, why) in [
            (
                "json:{\"driver\":\"file\",\"filename\":\"/etc/shadow\"}",
                "json:",
            ),
            ("nbd://127.0.0.1/x", "protocol"),
            ("nbd:unix:/tmp/s", "protocol"),
            ("missing.raw", "cannot be resolved"),
            ("/dev/null", "a character device"),
            (".", "a directory"),
        ] {
            let top = qcow2_overlay(&d, "t.qcow2", name, Some("raw"));
            let e = judge(&top, Some(Format::Qcow2), &allow).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BackingFileRefused, "{name}");
            assert!(e.to_string().contains(why), "{name}: {e}");
        }
        nix::unistd::mkfifo(
            &d.join("fifo"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        let top = qcow2_overlay(&d, "t.qcow2", "fifo", Some("raw"));
        let e = judge(&top, Some(Format::Qcow2), &allow).unwrap_err();
        assert!(e.to_string().contains("a fifo"), "{e}");
    }

    #[test]
    fn loops_and_long_chains_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().canonicalize().unwrap();
        let allow = AttachOptions::default().allow_backing_file(true);
        qcow2_overlay(&d, "a.qcow2", "b.qcow2", Some("qcow2"));
        let b = qcow2_overlay(&d, "b.qcow2", "a.qcow2", Some("qcow2"));
        let e = judge(&b, Some(Format::Qcow2), &allow).unwrap_err();
        assert!(e.to_string().contains("loops back on itself"), "{e}");

        std::fs::write(d.join("n0.raw"), vec![0u8; 4096]).unwrap();
        qcow2_overlay(&d, "n1.qcow2", "n0.raw", Some("raw"));
        for i in 2..=MAX_CHAIN {
            qcow2_overlay(
                &d,
                &format!("n{i}.qcow2"),
                &format!("n{}.qcow2", i - 1),
                Some("qcow2"),
            );
        }
        // n31 -> ... -> n1 -> n0: 32 images.
        let top = d.join(format!("n{}.qcow2", MAX_CHAIN - 1));
        assert_eq!(
            judge(&top, Some(Format::Qcow2), &allow)
                .unwrap()
                .nodes
                .len(),
            MAX_CHAIN
        );
        let top = d.join(format!("n{MAX_CHAIN}.qcow2"));
        let e = judge(&top, Some(Format::Qcow2), &allow).unwrap_err();
        assert!(e.to_string().contains("longer than 32 images"), "{e}");
    }

    fn descriptor(dir: &Path, name: &str, extents: &[(&str, &str)]) -> PathBuf {
        let mut text = String::from(
            "# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\n\
             createType=\"monolithicFlat\"\n",
        );
        for (kind, file) in extents {
            let offset = if *kind == "FLAT" { " 0" } else { "" };
            text.push_str(&format!("RW 8 {kind} \"{file}\"{offset}\n"));
        }
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn extents_only_with_the_opt_in_and_only_beside_the_image() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().canonicalize().unwrap();
        std::fs::write(d.join("disk-flat.vmdk"), vec![0u8; 4096]).unwrap();
        let ok = descriptor(&d, "ok.vmdk", &[("FLAT", "disk-flat.vmdk")]);
        let e = judge(&ok, None, &AttachOptions::default()).unwrap_err();
        assert!(
            e.to_string().contains("extent files are not allowed"),
            "{e}"
        );
        let allow = AttachOptions::default().allow_vmdk_extents(true);
        // Detected, not given: a raw disk could say this about its neighbours.
        let e = judge(&ok, None, &allow).unwrap_err();
        assert!(e.to_string().contains("given explicitly"), "{e}");
        let vmdk = Some(Format::Vmdk);
        let c = judge(&ok, vmdk, &allow).unwrap();
        assert_eq!(c.extents, [d.join("disk-flat.vmdk")]);
        assert_eq!(c.allowed_files().len(), 2);

        std::os::unix::fs::symlink("/etc/passwd", d.join("link-flat.vmdk")).unwrap();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::fs::write(d.join("sub/x"), b"x").unwrap();
        for (file, why) in [
            ("/etc/passwd", "plain file names"),
            ("../x", "plain file names"),
            ("sub/x", "plain file names"),
            ("link-flat.vmdk", "a symbolic link"),
            ("sub", "a directory"),
            ("gone.vmdk", "cannot be read"),
            ("nbd:x", "protocol"),
        ] {
            let img = descriptor(
                &d,
                "bad.vmdk",
                &[("FLAT", "disk-flat.vmdk"), ("FLAT", file)],
            );
            let e = judge(&img, vmdk, &allow).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BackingFileRefused, "{file}");
            assert!(e.to_string().contains(why), "{file}: {e}");
        }
        // A sparse extent that wraps a descriptor of its own.
        let mut inner = vec![0u8; 8192];
        inner[..4].copy_from_slice(b"KDMV");
        inner[4..8].copy_from_slice(&1u32.to_le_bytes());
        inner[28..36].copy_from_slice(&1u64.to_le_bytes());
        let text = b"createType=\"monolithicFlat\"\nRW 8 FLAT \"/etc/shadow\" 0\n";
        inner[512..512 + text.len()].copy_from_slice(text);
        std::fs::write(d.join("nested.vmdk"), inner).unwrap();
        let img = descriptor(&d, "n.vmdk", &[("SPARSE", "nested.vmdk")]);
        let e = judge(&img, vmdk, &allow).unwrap_err();
        assert!(
            e.to_string().contains("wraps a descriptor of its own"),
            "{e}"
        );
    }
}
