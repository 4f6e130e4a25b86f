//! Workload 7, Augeas: open a guest's `/etc/fstab`, make 100 `set`s (20 new
//! entries of 5 fields) and save, through VMCraft's confined Augeas handle and
//! through `augtool` with a script; once with only the fstab lens loaded, once with
//! every lens autoloaded (libguestfs's `aug_init "/" 0`). Each result must be the
//! expected file, byte for byte. A third group makes the same edit on an ext4
//! image through the command line and through guestfish
//! ([`crate::imagecalls`]).

use std::cell::RefCell;
use std::path::Path;

use anyhow::{Result, bail};
use vmcraft::aug::{AugFlags, Augeas, InitOptions};

use crate::harness::{self, Case, Group, GroupResult};
use crate::{Ctx, imagecalls, sys};

const FSTAB: &str = "# /etc/fstab: static file system information.
UUID=2f1c7c2e-6a53-4b8e-9d7b-0d9a4c1e5b10 /               ext4    errors=remount-ro 0       1
UUID=8d2e9c41-1b7a-4f0e-a2d4-7e5c3b9a1f22 /boot           ext4    defaults        0       2
UUID=4A1B-2C3D  /boot/efi       vfat    umask=0077      0       1
UUID=c3a9e1f0-5d2b-4e8a-b6c7-9f0e1d2c3b4a /home           xfs     defaults,noatime 0      2
UUID=0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b none            swap    sw              0       0
tmpfs           /tmp            tmpfs   mode=1777,nosuid,nodev 0 0
/dev/sr0        /media/cdrom0   udf,iso9660 user,noauto 0       0
server:/export  /mnt/nfs        nfs     rw,hard,intr    0       0
proc            /proc           proc    defaults        0       0
LABEL=scratch   /scratch        ext4    noauto,nofail   0       0
";

const ENTRIES: usize = 20;

/// The 100 (path, value) pairs.
fn sets() -> Vec<(String, String)> {
    let mut v = Vec::new();
    for i in 1..=ENTRIES {
        let base = format!("/files/etc/fstab/{}", 100 + i);
        v.push((format!("{base}/spec"), format!("LABEL=data{i}")));
        v.push((format!("{base}/file"), format!("/srv/data{i}")));
        v.push((format!("{base}/vfstype"), "xfs".into()));
        v.push((format!("{base}/opt"), "defaults".into()));
        v.push((format!("{base}/dump"), "0".into()));
    }
    v
}

fn expected() -> String {
    let mut s = FSTAB.to_string();
    for i in 1..=ENTRIES {
        s.push_str(&format!("LABEL=data{i}\t/srv/data{i}\txfs\tdefaults\t0\n"));
    }
    s
}

fn reset(root: &Path) -> Result<()> {
    let etc = root.join("etc");
    std::fs::create_dir_all(&etc)?;
    std::fs::write(etc.join("fstab"), FSTAB)?;
    for extra in ["fstab.augnew", "fstab.augsave"] {
        sys::remove_file(&etc.join(extra))?;
    }
    Ok(())
}

fn ours(root: &Path, only_fstab: bool) -> Result<()> {
    let aug = if only_fstab {
        Augeas::init_with(
            root,
            AugFlags::empty(),
            &InitOptions::new().lenses(["Fstab"]),
        )?
    } else {
        Augeas::init(root, AugFlags::empty())?
    };
    if only_fstab {
        aug.aug_transform("Fstab.lns", "/etc/fstab", false)?;
        aug.aug_load()?;
    }
    for (p, v) in sets() {
        aug.aug_set(&p, &v)?;
    }
    aug.aug_save()?;
    aug.aug_close()?;
    Ok(())
}

pub fn run(ctx: &Ctx) -> Result<Vec<GroupResult>> {
    let root = ctx.path("aug-guest");
    let mut out = Vec::new();
    for only_fstab in [true, false] {
        let script = ctx.path(if only_fstab {
            "aug-fstab.augtool"
        } else {
            "aug-all.augtool"
        });
        let mut s = String::new();
        if only_fstab {
            s.push_str("transform Fstab.lns incl /etc/fstab\nload\n");
        }
        for (p, v) in sets() {
            s.push_str(&format!("set {p} {v}\n"));
        }
        s.push_str("save\n");
        std::fs::write(&script, s)?;
        out.push(group(ctx, &root, &script, only_fstab));
    }
    out.push(image_group(ctx, &root)?);
    let _ = std::fs::remove_dir_all(&root);
    Ok(out)
}

/// The same edit on an ext4 image through the command line and guestfish:
/// `-a IMG -m /dev/sda -f SCRIPT` (`aug-init / 0`, 100 `aug-set`, `aug-save`).
fn image_group(ctx: &Ctx, tree: &Path) -> Result<GroupResult> {
    reset(tree)?;
    let template = ctx.path("aug-template.img");
    imagecalls::ext4_image(&template, 64 << 20, Some(tree))?;
    let img = ctx.path("aug.img");
    let script = ctx.path("aug-image.script");
    let mut s = String::from("aug-init / 0\n");
    for (p, v) in sets() {
        s.push_str(&format!("aug-set {p} {v}\n"));
    }
    s.push_str("aug-save\n");
    std::fs::write(&script, s)?;
    let r = imagecalls::group(
        ctx,
        imagecalls::ImageCall {
            id: "augeas/image",
            title: "Augeas on an image, command line and guestfish",
            what: "on a 64 MiB ext4 image: attach it, mount it, `aug-init / 0` (every lens), \
                   100 `aug-set` (20 new fstab entries), `aug-save`, shut down"
                .into(),
            files: vec![(img.clone(), "IMG"), (script.clone(), "SCRIPT")],
            args: &|p| {
                ["-a", &p[0], "-m", "/dev/sda", "-f", &p[1]]
                    .map(String::from)
                    .to_vec()
            },
            fresh: &|| imagecalls::copy_image(&template, &img),
            check: &|| {
                let got = imagecalls::debugfs_cat(&img, "/etc/fstab")?;
                if got != expected() {
                    bail!("/etc/fstab in the image is not as expected:\n{got}");
                }
                imagecalls::e2fsck_clean(&img)?;
                Ok(format!(
                    "fstab as expected ({} entries); e2fsck -fn clean",
                    10 + ENTRIES
                ))
            },
            runs: ctx.runs(10, 3),
        },
    );
    for f in [&template, &img, &script] {
        sys::remove_file(f)?;
    }
    Ok(r)
}

fn group(ctx: &Ctx, root: &Path, script: &Path, only_fstab: bool) -> GroupResult {
    let fresh = || reset(root);
    let tool_out = RefCell::new(String::new());
    let check_file = || {
        let got = std::fs::read_to_string(root.join("etc/fstab"))?;
        if got != expected() {
            bail!("/etc/fstab is not as expected:\n{got}");
        }
        Ok(format!("fstab as expected ({} entries)", 10 + ENTRIES))
    };
    let check_tool = || {
        let o = tool_out.borrow();
        if !o.contains("Saved 1 file(s)") {
            bail!("augtool did not save: {o}");
        }
        check_file()
    };
    let (r_s, s_s) = (
        root.to_string_lossy().to_string(),
        script.to_string_lossy().to_string(),
    );
    let mut args: Vec<&str> = Vec::new();
    if only_fstab {
        args.push("-A");
    }
    args.extend(["-r", r_s.as_str(), "-f", s_s.as_str()]);
    let shown_args = args.join(" ").replace(&r_s, "ROOT").replace(&s_s, "SCRIPT");
    let cases = vec![
        Case::ours(
            "vmcraft Augeas (library)",
            if only_fstab {
                "Augeas::init_with(ROOT, 0, InitOptions::new().lenses([\"Fstab\"])); \
                 aug_transform(\"Fstab.lns\", \"/etc/fstab\"); aug_load(); 100 x aug_set; aug_save(); \
                 aug_close()"
            } else {
                "Augeas::init(ROOT, 0); 100 x aug_set; aug_save(); aug_close()"
            },
            || Ok(harness::in_process(|| ours(root, only_fstab))?.0),
            check_file,
        )
        .setup(fresh),
        Case::peer(
            "augtool, script",
            format!(
                "augtool {shown_args} (SCRIPT: {}100 x set, save)",
                if only_fstab { "transform Fstab.lns incl /etc/fstab, load, " } else { "" }
            ),
            || {
                let (s, o) = harness::process(&harness::cmd("augtool", &args))?;
                *tool_out.borrow_mut() = o.stdout;
                Ok(s)
            },
            check_tool,
        )
        .setup(fresh),
    ];
    harness::run_group(Group {
        id: format!(
            "augeas/{}",
            if only_fstab {
                "fstab lens"
            } else {
                "all lenses"
            }
        ),
        title: format!(
            "Augeas, {}",
            if only_fstab {
                "fstab lens only"
            } else {
                "every lens autoloaded"
            }
        ),
        what: format!(
            "open a guest tree's /etc/fstab ({}), 100 sets (20 new entries), save, close",
            if only_fstab {
                "only the Fstab lens loaded"
            } else {
                "every lens compiled, every file they match loaded"
            }
        ),
        unit: None,
        runs: ctx.runs(10, 3),
        cases,
    })
}
