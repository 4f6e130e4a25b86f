//! Workload 1, a whole session: attach an image, list its filesystems, mount the
//! root, read `/etc/os-release`, tear everything down. Raw and qcow2. VMCraft as a
//! library and through its command line, against the same steps as a shell script
//! (`losetup`, or `qemu-storage-daemon` for qcow2, then `partx`, `blkid`, `mount`,
//! `cat`, `umount`, detach), and guestfish's `-i` inspection where its root is
//! cached (see `guestfish.rs`).

use std::cell::RefCell;
use std::path::Path;

use anyhow::{Context, Result, bail};
use vmcraft::{DriveOpts, MkfsOptions, VMCraft};

use crate::harness::{self, Case, Group, GroupResult};
use crate::{Ctx, sys};

/// The guest's `/etc/os-release`.
pub const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"
NAME=\"Debian GNU/Linux\"
VERSION_ID=\"12\"
VERSION=\"12 (bookworm)\"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL=\"https://www.debian.org/\"
SUPPORT_URL=\"https://www.debian.org/support\"
BUG_REPORT_URL=\"https://bugs.debian.org/\"
";

/// guestfish's row in the session groups.
const GF_LABEL: &str = "guestfish -i (inspection)";

const ESP: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";

/// The guest's `/etc/fstab`, for inspection to find its mount points.
const FSTAB: &str =
    "LABEL=root / ext4 errors=remount-ro 0 1\nLABEL=EFI /boot/efi vfat umask=0077 0 1\n";

const RAW_SCRIPT: &str = r#"#!/bin/sh
# attach, list filesystems, mount the root, read os-release, detach
set -eu
img=$1 mnt=$2 dev=
cleanup() { umount "$mnt" 2>/dev/null || true; [ -z "$dev" ] || losetup -d "$dev"; }
trap cleanup EXIT
dev=$(losetup --find --show --read-only --partscan "$img")
partx --add "$dev" 2>/dev/null || true   # kernels without a partition parser
root=
for p in "$dev"p*; do
    t=$(blkid -o value -s TYPE "$p" || true)
    echo "$p: $t"
    [ "$t" != ext4 ] || root=$p
done
mount -o ro,nosuid,nodev "$root" "$mnt"
cat "$mnt/etc/os-release"
umount "$mnt"
losetup -d "$dev"; dev=
trap - EXIT
"#;

pub const QCOW2_SCRIPT: &str = r#"#!/bin/sh
# export the qcow2 as a raw file, then as the raw script
set -eu
img=$1 mnt=$2 run=$3 dev= pid=
cleanup() {
    umount "$mnt" 2>/dev/null || true
    [ -z "$dev" ] || losetup -d "$dev"
    [ -z "$pid" ] || { kill "$pid"; gone "$pid"; }
}
# the daemon has exited when it is gone or a zombie (its parent, init, reaps it
# when it likes); one that took SIGTERM and is still there after 5 s (seen
# under load) is killed, and its FUSE export unmounted
gone() {
    n=0
    while [ -r "/proc/$1/stat" ]; do
        read -r _ _ state _ < "/proc/$1/stat" || break
        [ "$state" != Z ] || break
        n=$((n + 1))
        if [ "$n" = 500 ]; then
            kill -9 "$1" 2>/dev/null || true
            sleep 0.1
            umount -l "$run/export" 2>/dev/null || true
        fi
        sleep 0.01
    done
}
trap cleanup EXIT
: > "$run/export"
qemu-storage-daemon \
    --blockdev driver=file,node-name=file,filename="$img",read-only=on \
    --blockdev driver=qcow2,node-name=disk,file=file,read-only=on \
    --export type=fuse,id=exp,node-name=disk,mountpoint="$run/export" \
    --daemonize --pidfile "$run/qsd.pid"
pid=$(cat "$run/qsd.pid")
dev=$(losetup --find --show --read-only --partscan "$run/export")
partx --add "$dev" 2>/dev/null || true
root=
for p in "$dev"p*; do
    t=$(blkid -o value -s TYPE "$p" || true)
    echo "$p: $t"
    [ "$t" != ext4 ] || root=$p
done
mount -o ro,nosuid,nodev "$root" "$mnt"
cat "$mnt/etc/os-release"
umount "$mnt"
losetup -d "$dev"; dev=
kill "$pid"; gone "$pid"; pid=
trap - EXIT
"#;

/// Make the guest: GPT, a 64 MiB ESP (vfat), an ext4 root holding os-release.
pub fn make_guest(raw: &Path, qcow2: &Path) -> Result<()> {
    sys::sparse_file(raw, 1 << 30)?;
    let g = VMCraft::new();
    g.add_drive_opts(
        raw,
        DriveOpts {
            format: Some("raw".parse()?),
            ..Default::default()
        },
    )?;
    g.launch()?;
    g.part_init("/dev/sda", "gpt")?;
    g.part_add("/dev/sda", "p", 2048, 133_119)?;
    g.part_add("/dev/sda", "p", 133_120, -34)?;
    g.part_set_gpt_type("/dev/sda", 1, ESP)?;
    g.part_set_name("/dev/sda", 1, "EFI System")?;
    g.part_set_name("/dev/sda", 2, "root")?;
    let label = |l: &str| MkfsOptions {
        label: Some(l.to_string()),
        ..Default::default()
    };
    g.mkfs("vfat", "/dev/sda1", &label("EFI"))?;
    g.mkfs("ext4", "/dev/sda2", &label("root"))?;
    g.mount("/dev/sda2", "/")?;
    g.mkdir_p("/etc")?;
    g.write("/etc/os-release", OS_RELEASE.as_bytes())?;
    g.write("/etc/hostname", b"bench\n")?;
    g.write("/etc/fstab", FSTAB.as_bytes())?;
    g.mkdir_p("/boot/efi")?;
    // libguestfs takes a filesystem for a Linux root only with /etc and /bin
    // (and an fstab or hosts file): a merged-/usr /bin, as Debian 12 has.
    g.mkdir_p("/usr/bin")?;
    g.ln_s("usr/bin", "/bin")?;
    g.shutdown()?;
    sys::remove_file(qcow2)?;
    sys::run(
        "qemu-img",
        &[
            "convert",
            "-f",
            "raw",
            "-O",
            "qcow2",
            &raw.to_string_lossy(),
            &qcow2.to_string_lossy(),
        ],
    )?;
    Ok(())
}

fn expected_fs() -> Vec<(String, String)> {
    vec![
        ("/dev/sda1".to_string(), "vfat".to_string()),
        ("/dev/sda2".to_string(), "ext4".to_string()),
    ]
}

/// What a session returns: the filesystems listed and the os-release read.
type SessionResult = (Vec<(String, String)>, String);

/// The library session, as a user writes it.
fn library_session(img: &Path, format: &str) -> Result<SessionResult> {
    let g = VMCraft::new();
    g.add_drive_opts(
        img,
        DriveOpts {
            format: Some(format.parse()?),
            readonly: true,
            ..Default::default()
        },
    )?;
    g.launch()?;
    let fs = g.list_filesystems()?;
    let root = fs
        .iter()
        .find(|(_, t)| t == "ext4")
        .map(|(d, _)| d.clone())
        .context("no ext4 filesystem listed")?;
    g.mount_ro(&root, "/")?;
    let text = g.cat("/etc/os-release")?;
    g.shutdown()?;
    Ok((fs, text))
}

pub fn check_script_output(out: &str) -> Result<String> {
    let types: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_once(": ").map(|(_, t)| t))
        .filter(|t| !t.contains('='))
        .collect();
    if types != ["vfat", "ext4"] {
        bail!("the script listed {types:?}, expected [vfat, ext4]");
    }
    if !out.contains(OS_RELEASE) {
        bail!("the script did not print the guest's os-release:\n{out}");
    }
    Ok("2 filesystems, os-release read".into())
}

pub fn run(ctx: &Ctx) -> Result<Vec<GroupResult>> {
    let raw = ctx.path("session.img");
    let qcow2 = ctx.path("session.qcow2");
    make_guest(&raw, &qcow2).context("making the guest image")?;
    let raw_script = ctx.path("session-raw.sh");
    let qcow2_script = ctx.path("session-qcow2.sh");
    sys::script(&raw_script, RAW_SCRIPT)?;
    sys::script(&qcow2_script, QCOW2_SCRIPT)?;
    let mnt = ctx.path("session-mnt");
    let run_dir = ctx.path("session-run");
    std::fs::create_dir_all(&mnt)?;
    std::fs::create_dir_all(&run_dir)?;

    let mut out = Vec::new();
    for (format, img) in [("raw", &raw), ("qcow2", &qcow2)] {
        out.push(group(
            ctx,
            format,
            img,
            &raw_script,
            &qcow2_script,
            &mnt,
            &run_dir,
        ));
    }
    sys::remove_file(&raw)?;
    sys::remove_file(&qcow2)?;
    Ok(out)
}

fn group(
    ctx: &Ctx,
    format: &str,
    img: &Path,
    raw_script: &Path,
    qcow2_script: &Path,
    mnt: &Path,
    run_dir: &Path,
) -> GroupResult {
    let lib_result: RefCell<Option<SessionResult>> = RefCell::new(None);
    let script_out = RefCell::new(String::new());
    let cli_out = RefCell::new(String::new());
    let inspect_out = RefCell::new(String::new());
    let gf_out = RefCell::new(String::new());
    let img_s = img.to_string_lossy().to_string();

    let (script, args): (&Path, Vec<String>) = if format == "raw" {
        (
            raw_script,
            vec![img_s.clone(), mnt.to_string_lossy().into()],
        )
    } else {
        (
            qcow2_script,
            vec![
                img_s.clone(),
                mnt.to_string_lossy().into(),
                run_dir.to_string_lossy().into(),
            ],
        )
    };
    let shown = if format == "raw" {
        "sh: losetup -r -P; partx -a; blkid per partition; mount -o ro; cat; umount; losetup -d"
    } else {
        "sh: qemu-storage-daemon (FUSE export) + losetup -r -P; partx -a; blkid per partition; \
         mount -o ro; cat; umount; losetup -d; kill the daemon and wait"
    };
    let mut cases = vec![Case::ours(
        "vmcraft (library)",
        format!(
            "VMCraft::new(); add_drive_opts(img, {{ format: {format}, readonly }}); launch(); \
             list_filesystems(); mount_ro(root, \"/\"); cat(\"/etc/os-release\"); shutdown()"
        ),
        || {
            let (s, v) = harness::in_process(|| library_session(img, format))?;
            *lib_result.borrow_mut() = Some(v);
            Ok(s)
        },
        || {
            let (fs, text) = lib_result.borrow_mut().take().context("no result")?;
            if fs != expected_fs() {
                bail!("list_filesystems returned {fs:?}");
            }
            if text != OS_RELEASE {
                bail!("cat returned {text:?}");
            }
            Ok("2 filesystems, os-release read".into())
        },
    )];
    if let Some(cli) = &ctx.cli {
        let cli = cli.clone();
        let (args, shown) = cli_session_args(&img_s, format);
        cases.push(Case::ours(
            "vmcraft (command line)",
            format!("vmcraft {shown}"),
            {
                let cli_out = &cli_out;
                move || {
                    let (s, o) = harness::process(&harness::cmd(&cli.to_string_lossy(), &args))?;
                    *cli_out.borrow_mut() = o.stdout;
                    Ok(s)
                }
            },
            || check_cli_output(&cli_out.borrow()),
        ));
        let inspect_out = &inspect_out;
        let cli = ctx.cli.clone().unwrap_or_default();
        let args: Vec<String> = vec![
            "--ro".into(),
            format!("--format={format}"),
            "-a".into(),
            img_s.clone(),
            "-i".into(),
            "cat".into(),
            "/etc/os-release".into(),
        ];
        cases.push(Case::ours(
            "vmcraft -i (command line inspection)",
            format!(
                "vmcraft --ro --format={format} -a IMG -i cat /etc/os-release (inspects the \
                 guest, mounts what its fstab says, / and the ESP through FUSE, then reads)"
            ),
            move || {
                let (s, o) = harness::process(&harness::cmd(&cli.to_string_lossy(), &args))?;
                *inspect_out.borrow_mut() = o.stdout;
                Ok(s)
            },
            || {
                let o = inspect_out.borrow();
                // Like guestfish, the command line ends what it prints with a newline.
                if o.trim_end() != OS_RELEASE.trim_end() {
                    bail!("vmcraft -i cat printed {o:?}");
                }
                Ok("inspected, os-release read".into())
            },
        ));
    }
    cases.push(Case::peer(
        "shell script",
        format!("{shown} (script below)"),
        || {
            let (s, o) = harness::process(&harness::cmd(
                "sh",
                std::iter::once(script.to_string_lossy().to_string()).chain(args.iter().cloned()),
            ))?;
            *script_out.borrow_mut() = o.stdout;
            Ok(s)
        },
        || check_script_output(&script_out.borrow()),
    ));

    let gf_shown = format!("guestfish --ro --format={format} -a IMG -i cat /etc/os-release");
    let mut gf_missing = None;
    match ctx.guestfish_for(&format!("session/{format}")) {
        Ok(gf) => match gf.path(img) {
            Ok(inside) => {
                let fmt_opt = format!("--format={format}");
                let p = gf.cmd(&[
                    "--ro",
                    &fmt_opt,
                    "-a",
                    &inside,
                    "-i",
                    "cat",
                    "/etc/os-release",
                ]);
                let gf_out = &gf_out;
                cases.push(
                    Case::peer(
                        GF_LABEL,
                        format!(
                            "{gf_shown} (launches the appliance, inspects the guest, mounts \
                             what its fstab says, reads)"
                        ),
                        move || {
                            let (s, o) = harness::process(&p)?;
                            *gf_out.borrow_mut() = o.stdout;
                            Ok(s)
                        },
                        move || {
                            let o = gf_out.borrow();
                            if o.trim_end() != OS_RELEASE.trim_end() {
                                bail!("guestfish -i cat printed {o:?}");
                            }
                            Ok("inspected, os-release read".into())
                        },
                    )
                    .at_most(if ctx.quick { 1 } else { 3 }, !ctx.quick),
                );
            }
            Err(e) => gf_missing = Some(format!("{e:#}")),
        },
        Err(why) => gf_missing = Some(why),
    }

    let runs = ctx.runs(15, 3);
    let mut r = harness::run_group(Group {
        id: format!("session/{format}"),
        title: format!("Session on a {format} image"),
        what: format!(
            "attach a 1 GiB {format} image (GPT: 64 MiB vfat ESP, ext4 root) read-only, list its \
             filesystems, mount the root, read /etc/os-release, unmount and detach"
        ),
        unit: None,
        runs,
        cases,
    });
    crate::guestfish::demote_failure(&mut r);
    if let Some(why) = gf_missing {
        r.cases
            .push(crate::guestfish::not_measured(GF_LABEL, &gf_shown, &why));
    }
    r.notes.push(format!(
        "The peer script:\n\n```sh\n{}```",
        if format == "raw" {
            RAW_SCRIPT
        } else {
            QCOW2_SCRIPT
        }
    ));
    r
}

/// The CLI session: guestfish-style commands chained in one invocation.
fn cli_session_args(img: &str, format: &str) -> (Vec<String>, String) {
    let fmt_opt = format!("--format={format}");
    let args: Vec<String> = [
        "--ro",
        fmt_opt.as_str(),
        "-a",
        img,
        "run",
        ":",
        "list-filesystems",
        ":",
        "mount-ro",
        "/dev/sda2",
        "/",
        ":",
        "cat",
        "/etc/os-release",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let shown = args
        .iter()
        .map(|a| if a == img { "IMG" } else { a.as_str() })
        .collect::<Vec<_>>()
        .join(" ");
    (args, shown)
}

fn check_cli_output(out: &str) -> Result<String> {
    for want in ["/dev/sda1: vfat", "/dev/sda2: ext4"] {
        if !out.contains(want) {
            bail!("the command line did not list `{want}`:\n{out}");
        }
    }
    if !out.contains(OS_RELEASE) {
        bail!("the command line did not print the guest's os-release:\n{out}");
    }
    Ok("2 filesystems, os-release read".into())
}
