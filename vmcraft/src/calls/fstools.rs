//! Filesystem tools on the session's devices, with libguestfs's names and
//! semantics: `fsck`; labels and UUIDs per filesystem type (`set_label`,
//! `set_uuid`, `set_uuid_random`, the ext2/3/4 forms `get_e2label`,
//! `set_e2label`, `get_e2uuid`, `set_e2uuid`); ext2/3/4 tuning, making and
//! resizing (`tune2fs`, `tune2fs_l`, `mke2fs`, `resize2fs_M`,
//! `resize2fs_size`); `mkfs_b`; swap (`mkswap_L`, `mkswap_U`, `mkswap_file`,
//! and the `swapon_*`/`swapoff_*` calls, which refuse: see
//! [`VMCraft::swapon_device`]); `vfs_minimum_size`, `zerofree`, `fstrim`,
//! `wipefs`; NTFS (`ntfsresize`, `ntfsresize_opts`, `ntfsresize_size`,
//! `ntfsfix`).
//!
//! Every tool runs through the session's `CommandRunner` on the session's own
//! host node (never a host device), stopped by the handle's cancellation token.
//! Every call that writes refuses a read-only drive and a mounted filesystem
//! before anything runs, and drops the probe cache of the device afterwards
//! (whether the tool succeeded or not), so `blkid`, `vfs_label` and `vfs_uuid`
//! show the new value at once.

use std::os::fd::AsRawFd;

use vmcraft_block::{Command, Output};

use crate::MkfsOptions;
use crate::error::{Error, ErrorKind, Result};
use crate::session::{Resolved, VMCraft};

/// Longest ext2/3/4 label, in bytes.
const EXT_LABEL_MAX: usize = 16;
/// Longest Linux swap label, in bytes.
const SWAP_LABEL_MAX: usize = 16;

/// libguestfs's optional arguments to `tune2fs`; `None` (or `false`) leaves a
/// parameter as it is.
///
/// ```
/// let o = vmcraft::calls::fstools::Tune2fsOptions { maxmountcount: Some(0), ..Default::default() };
/// assert_eq!(o.intervalbetweenchecks, None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tune2fsOptions {
    /// Complete the operation even in the face of errors (`-f`).
    pub force: bool,
    /// Mounts between checks, `0` to disregard the count (`-c`).
    pub maxmountcount: Option<i32>,
    /// The number of times the filesystem has been mounted (`-C`).
    pub mountcount: Option<i32>,
    /// What the kernel does on errors: `continue`, `remount-ro` or `panic` (`-e`).
    pub errorbehavior: Option<String>,
    /// The group (a number) that may use the reserved blocks (`-g`).
    pub group: Option<i64>,
    /// Seconds between checks, `0` to disable time-dependent checks (`-i`).
    pub intervalbetweenchecks: Option<i32>,
    /// Percentage of blocks reserved for privileged processes (`-m`).
    pub reservedblockspercentage: Option<i32>,
    /// The last mounted directory (`-M`).
    pub lastmounteddirectory: Option<String>,
    /// Number of reserved blocks (`-r`).
    pub reservedblockscount: Option<i64>,
    /// The user (a number) who may use the reserved blocks (`-u`).
    pub user: Option<i64>,
}

/// libguestfs's optional arguments to `mke2fs` (each maps to the mke2fs option
/// named beside it; `None` leaves mke2fs's default). Boolean features are
/// `Some(true)` to set (`-O feature`) and `Some(false)` to clear
/// (`-O ^feature`).
///
/// ```
/// let o = vmcraft::calls::fstools::Mke2fsOptions { fstype: Some("ext4".into()), label: Some("data".into()), ..Default::default() };
/// assert_eq!(o.blocksize, None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mke2fsOptions {
    /// Size of the filesystem in blocks (the argument after the device).
    pub blockscount: Option<i64>,
    /// Block size in bytes (`-b`).
    pub blocksize: Option<i64>,
    /// Fragment size in bytes (`-f`).
    pub fragsize: Option<i64>,
    /// Blocks per group (`-g`).
    pub blockspergroup: Option<i64>,
    /// Groups per flex group (`-G`).
    pub numberofgroups: Option<i64>,
    /// Bytes per inode (`-i`).
    pub bytesperinode: Option<i64>,
    /// Inode size (`-I`).
    pub inodesize: Option<i64>,
    /// Journal size in MiB (`-J size=`).
    pub journalsize: Option<i64>,
    /// Number of inodes (`-N`).
    pub numberofinodes: Option<i64>,
    /// RAID stride in blocks (`-E stride=`).
    pub stridesize: Option<i64>,
    /// RAID stripe width in blocks (`-E stripe_width=`).
    pub stripewidth: Option<i64>,
    /// Reserve room to grow the group descriptor table online to this many
    /// blocks (`-E resize=`).
    pub maxonlineresize: Option<i64>,
    /// Reserved blocks percentage (`-m`).
    pub reservedblockspercentage: Option<i32>,
    /// MMP update interval in seconds (`-E mmp_update_interval=`).
    pub mmpupdateinterval: Option<i32>,
    /// An external journal: a device of this session (`/dev/sdb1`), made with
    /// `mke2fs` `journaldev` (`-J device=`). `LABEL=` and `UUID=` forms are
    /// refused: mke2fs would search the host's devices for them.
    pub journaldevice: Option<String>,
    /// Volume label, at most 16 bytes (`-L`).
    pub label: Option<String>,
    /// Last mounted directory (`-M`).
    pub lastmounteddir: Option<String>,
    /// Creator OS (`-o`).
    pub creatoros: Option<String>,
    /// `ext2`, `ext3` or `ext4` (`-t`).
    pub fstype: Option<String>,
    /// Usage type from mke2fs.conf (`-T`).
    pub usagetype: Option<String>,
    /// Filesystem UUID (`-U`).
    pub uuid: Option<String>,
    /// Force creation (`-F`).
    pub forcecreate: Option<bool>,
    /// Write superblock and group descriptors only (`-S`).
    pub writesbandgrouponly: Option<bool>,
    /// `-E lazy_itable_init=`.
    pub lazyitableinit: Option<bool>,
    /// `-E lazy_journal_init=`.
    pub lazyjournalinit: Option<bool>,
    /// `-E test_fs`.
    pub testfs: Option<bool>,
    /// `-E discard` / `-E nodiscard`.
    pub discard: Option<bool>,
    /// `-O quota` with `-E quotatype` left to mke2fs (libguestfs's `quotatype`
    /// flag, kept for the argument list; it adds nothing on its own).
    pub quotatype: Option<bool>,
    /// `-O extent`.
    pub extent: Option<bool>,
    /// `-O filetype`.
    pub filetype: Option<bool>,
    /// `-O flex_bg`.
    pub flexbg: Option<bool>,
    /// `-O has_journal`.
    pub hasjournal: Option<bool>,
    /// `-O journal_dev` (make an external journal device).
    pub journaldev: Option<bool>,
    /// `-O large_file`.
    pub largefile: Option<bool>,
    /// `-O quota`.
    pub quota: Option<bool>,
    /// `-O resize_inode`.
    pub resizeinode: Option<bool>,
    /// `-O sparse_super`.
    pub sparsesuper: Option<bool>,
    /// `-O uninit_bg`.
    pub uninitbg: Option<bool>,
}

/// libguestfs's optional arguments to `fstrim` (bytes; `None` for the tool's
/// default: the whole filesystem, any free extent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FstrimOptions {
    /// Where to start, in bytes from the start of the filesystem.
    pub offset: Option<i64>,
    /// How many bytes to search for free blocks.
    pub length: Option<i64>,
    /// Free ranges shorter than this are not trimmed.
    pub minimumfreeextent: Option<i64>,
}

/// libguestfs's optional arguments to `ntfsresize`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NtfsresizeOptions {
    /// The new size in bytes; `None` fits the filesystem to its device.
    pub size: Option<i64>,
    /// Resize even when the volume is marked for a consistency check.
    pub force: bool,
}

/// `uuid` is a textual UUID (8-4-4-4-12 hex digits).
fn is_uuid(uuid: &str) -> bool {
    let b = uuid.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A random (version 4) UUID from the kernel's generator.
fn random_uuid() -> Result<String> {
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .map_err(|e| {
            Error::call_with_source(
                ErrorKind::Io,
                "set_uuid_random",
                "/dev/urandom",
                "cannot read",
                e,
            )
        })?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

fn is_ext(fstype: &str) -> bool {
    matches!(fstype, "ext2" | "ext3" | "ext4")
}

fn is_fat(fstype: &str) -> bool {
    matches!(fstype, "vfat" | "msdos" | "fat")
}

/// Refuse a string argument holding a NUL (it cannot reach a tool intact).
fn no_nul(call: &str, subject: &str, what: &str, v: &str) -> Result<()> {
    if v.contains('\0') {
        return Err(Error::invalid(
            call,
            subject,
            format!("{what} contains a NUL byte"),
        ));
    }
    Ok(())
}

fn non_negative(call: &str, subject: &str, what: &str, v: i64) -> Result<String> {
    if v < 0 {
        return Err(Error::invalid(
            call,
            subject,
            format!("{what} cannot be negative ({v})"),
        ));
    }
    Ok(v.to_string())
}

/// The `tune2fs` argument list for `o` (the device is added by the caller).
pub(crate) fn tune2fs_command(device: &str, o: &Tune2fsOptions) -> Result<Command> {
    const CALL: &str = "tune2fs";
    let mut c = Command::new("tune2fs");
    if o.force {
        c = c.arg("-f");
    }
    if let Some(v) = o.maxmountcount {
        c = c
            .arg("-c")
            .arg(non_negative(CALL, device, "maxmountcount", v.into())?);
    }
    if let Some(v) = o.mountcount {
        c = c
            .arg("-C")
            .arg(non_negative(CALL, device, "mountcount", v.into())?);
    }
    if let Some(e) = &o.errorbehavior {
        if !matches!(e.as_str(), "continue" | "remount-ro" | "panic") {
            return Err(Error::invalid(
                CALL,
                device,
                format!("invalid errorbehavior '{e}' (expected continue, remount-ro or panic)"),
            ));
        }
        c = c.arg("-e").arg(e);
    }
    if let Some(v) = o.group {
        c = c.arg("-g").arg(non_negative(CALL, device, "group", v)?);
    }
    if let Some(v) = o.intervalbetweenchecks {
        non_negative(CALL, device, "intervalbetweenchecks", v.into())?;
        // tune2fs takes a unit suffix; `s` is seconds.
        c = c
            .arg("-i")
            .arg(if v > 0 { format!("{v}s") } else { "0".into() });
    }
    if let Some(v) = o.reservedblockspercentage {
        if v > 50 {
            return Err(Error::invalid(
                CALL,
                device,
                format!("reservedblockspercentage {v} is more than 50"),
            ));
        }
        c = c.arg("-m").arg(non_negative(
            CALL,
            device,
            "reservedblockspercentage",
            v.into(),
        )?);
    }
    if let Some(d) = &o.lastmounteddirectory {
        no_nul(CALL, device, "lastmounteddirectory", d)?;
        c = c.arg("-M").arg(d);
    }
    if let Some(v) = o.reservedblockscount {
        c = c
            .arg("-r")
            .arg(non_negative(CALL, device, "reservedblockscount", v)?);
    }
    if let Some(v) = o.user {
        c = c.arg("-u").arg(non_negative(CALL, device, "user", v)?);
    }
    Ok(c)
}

/// The `mke2fs` argument list for `o` up to the device; `journal` is the host
/// node of the external journal device, already resolved. The caller appends
/// the device and [`Mke2fsOptions::blockscount`].
pub(crate) fn mke2fs_command(
    device: &str,
    o: &Mke2fsOptions,
    journal: Option<&std::path::Path>,
) -> Result<Command> {
    const CALL: &str = "mke2fs";
    let mut c = Command::new("mke2fs");
    let nn = |what: &str, v: i64| non_negative(CALL, device, what, v);
    let ints: [(&str, &str, Option<i64>); 6] = [
        ("blocksize", "-b", o.blocksize),
        ("fragsize", "-f", o.fragsize),
        ("blockspergroup", "-g", o.blockspergroup),
        ("numberofgroups", "-G", o.numberofgroups),
        ("bytesperinode", "-i", o.bytesperinode),
        ("inodesize", "-I", o.inodesize),
    ];
    for (what, flag, v) in ints {
        if let Some(v) = v {
            c = c.arg(flag).arg(nn(what, v)?);
        }
    }
    if o.forcecreate == Some(true) {
        c = c.arg("-F");
    }
    if let Some(v) = o.journalsize {
        c = c.arg("-J").arg(format!("size={}", nn("journalsize", v)?));
    }
    if let Some(j) = journal {
        let mut s = std::ffi::OsString::from("device=");
        s.push(j);
        c = c.arg("-J").arg(s);
    }
    if let Some(l) = &o.label {
        if l.len() > EXT_LABEL_MAX {
            return Err(Error::invalid(
                CALL,
                device,
                format!("label '{l}': ext2/3/4 labels are limited to {EXT_LABEL_MAX} bytes"),
            ));
        }
        no_nul(CALL, device, "label", l)?;
        c = c.arg("-L").arg(l);
    }
    if let Some(v) = o.reservedblockspercentage {
        c = c.arg("-m").arg(nn("reservedblockspercentage", v.into())?);
    }
    let strings: [(&str, &str, &Option<String>); 3] = [
        ("lastmounteddir", "-M", &o.lastmounteddir),
        ("creatoros", "-o", &o.creatoros),
        ("usagetype", "-T", &o.usagetype),
    ];
    for (what, flag, v) in strings {
        if let Some(v) = v {
            no_nul(CALL, device, what, v)?;
            if v.is_empty() {
                return Err(Error::invalid(CALL, device, format!("{what} is empty")));
            }
            c = c.arg(flag).arg(v);
        }
    }
    if let Some(v) = o.numberofinodes {
        c = c.arg("-N").arg(nn("numberofinodes", v)?);
    }
    if o.writesbandgrouponly == Some(true) {
        c = c.arg("-S");
    }
    if let Some(t) = &o.fstype {
        if !is_ext(t) {
            return Err(Error::invalid(
                CALL,
                device,
                format!("'{t}' is not a valid extended filesystem type (ext2, ext3, ext4)"),
            ));
        }
        c = c.arg("-t").arg(t);
    }
    if let Some(u) = &o.uuid {
        if !is_uuid(u) && !matches!(u.as_str(), "clear" | "random" | "time") {
            return Err(Error::invalid(
                CALL,
                device,
                format!("'{u}' is not a UUID (nor clear, random or time)"),
            ));
        }
        c = c.arg("-U").arg(u);
    }
    let mut ext = Vec::new();
    if let Some(v) = o.mmpupdateinterval {
        ext.push(format!(
            "mmp_update_interval={}",
            nn("mmpupdateinterval", v.into())?
        ));
    }
    if let Some(v) = o.stridesize {
        ext.push(format!("stride={}", nn("stridesize", v)?));
    }
    if let Some(v) = o.stripewidth {
        ext.push(format!("stripe_width={}", nn("stripewidth", v)?));
    }
    if let Some(v) = o.maxonlineresize {
        ext.push(format!("resize={}", nn("maxonlineresize", v)?));
    }
    if let Some(b) = o.lazyitableinit {
        ext.push(format!("lazy_itable_init={}", u8::from(b)));
    }
    if let Some(b) = o.lazyjournalinit {
        ext.push(format!("lazy_journal_init={}", u8::from(b)));
    }
    if o.testfs == Some(true) {
        ext.push("test_fs".into());
    }
    if let Some(b) = o.discard {
        ext.push(if b { "discard" } else { "nodiscard" }.into());
    }
    for e in ext {
        c = c.arg("-E").arg(e);
    }
    let features: [(&str, Option<bool>); 11] = [
        ("extent", o.extent),
        ("filetype", o.filetype),
        ("flex_bg", o.flexbg),
        ("has_journal", o.hasjournal),
        ("journal_dev", o.journaldev),
        ("large_file", o.largefile),
        ("quota", o.quota),
        ("resize_inode", o.resizeinode),
        ("sparse_super", o.sparsesuper),
        ("uninit_bg", o.uninitbg),
        ("quota", o.quotatype.filter(|_| o.quota.is_none())),
    ];
    for (name, v) in features {
        if let Some(b) = v {
            c = c.arg("-O").arg(if b {
                name.to_string()
            } else {
                format!("^{name}")
            });
        }
    }
    if let Some(n) = o.blockscount
        && n <= 0
    {
        return Err(Error::invalid(
            CALL,
            device,
            format!("blockscount must be positive ({n})"),
        ));
    }
    Ok(c)
}

/// `tune2fs -l` output as libguestfs returns it: `key: value` pairs in order,
/// the banner line dropped, `<none>`, `<not available>` and `(none)` as empty
/// values, and a line without a colon as a key with an empty value.
pub(crate) fn parse_tune2fs_l(out: &str) -> Vec<(String, String)> {
    let mut lines = out.lines().peekable();
    if lines
        .peek()
        .is_some_and(|l| l.starts_with("tune2fs ") || l.starts_with("tune4fs "))
    {
        lines.next();
    }
    lines
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once(':') {
            Some((k, v)) => {
                let v = v.trim_start();
                let v = if matches!(v, "<none>" | "<not available>" | "(none)") {
                    ""
                } else {
                    v
                };
                (k.to_string(), v.to_string())
            }
            None => (l.to_string(), String::new()),
        })
        .collect()
}

/// The first number after `prefix` at the start of a line of `out`.
fn number_after(out: &str, prefix: &str) -> Option<i64> {
    out.lines().find_map(|l| {
        let rest = l.trim_start().strip_prefix(prefix)?.trim_start();
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        rest[..end].parse().ok()
    })
}

impl VMCraft {
    /// `device` resolved, refused when its drive is read-only or it is mounted
    /// (a tool writing the superblock of a mounted filesystem races the kernel).
    fn fstools_writable(&self, call: &str, device: &str) -> Result<Resolved> {
        let dev = self.resolve(call, device)?;
        if dev.readonly {
            return Err(Error::call(
                ErrorKind::InvalidArgument,
                call,
                &dev.name,
                "the drive was added read-only",
            ));
        }
        if self.mounts().iter().any(|m| m.device == dev.name) {
            return Err(Error::call(
                ErrorKind::Busy,
                call,
                &dev.name,
                "the device is mounted",
            ));
        }
        Ok(dev)
    }

    /// Run `cmd` (cancellable) and, when `writes`, forget the device's probe
    /// whatever happened; a non-zero exit is an error saying `what` failed,
    /// with the tool's command line and stderr as its cause.
    fn fstools_run(
        &self,
        call: &str,
        dev: &Resolved,
        cmd: Command,
        writes: bool,
    ) -> Result<Output> {
        let cmd = cmd.cancel_on(&self.cancel_token());
        let out = self.runner().execute(&cmd);
        if writes {
            self.invalidate_device(&dev.name);
        }
        let out = out?;
        if out.status.success() {
            return Ok(out);
        }
        let program = cmd.program().to_string_lossy().into_owned();
        Err(Error::call_with_source(
            ErrorKind::Crate,
            call,
            &dev.name,
            format!("{program} failed"),
            vmcraft_block::command::command_failed(&cmd, &out),
        ))
    }

    /// The filesystem type on `dev` as `vfs_type` sees it; an empty device is
    /// refused as unsupported.
    fn fstools_type(&self, call: &str, dev: &Resolved, what: &str) -> Result<String> {
        let t = self.vfs_type(&dev.name)?;
        if t.is_empty() {
            return Err(Error::call(
                ErrorKind::Unsupported,
                call,
                &dev.name,
                format!("no filesystem found, so no {what} to set"),
            ));
        }
        Ok(t)
    }

    /// Run the filesystem checker (`fsck -a -t FSTYPE DEVICE`) and return its
    /// exit status (`fsck`): 0 clean, 1 errors corrected, 4 errors left, 8
    /// operational error (no checker for the type, no filesystem), summed as
    /// fsck(8) says. A non-zero status is a result, not an error, as in
    /// libguestfs. `-a` repairs, so the drive must be writable and the device
    /// unmounted. NTFS has no checker (use [`VMCraft::ntfsfix`]).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// assert_eq!(g.fsck("ext4", "/dev/sda1")?, 0);
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn fsck(&self, fstype: &str, device: &str) -> Result<i32> {
        const CALL: &str = "fsck";
        if fstype.is_empty()
            || fstype.len() > 32
            || !fstype
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        {
            return Err(Error::invalid(
                CALL,
                device,
                format!("invalid filesystem type '{fstype}'"),
            ));
        }
        let dev = self.fstools_writable(CALL, device)?;
        let cmd = Command::new("fsck")
            .args(["-a", "-t", fstype])
            .arg(&dev.host)
            .cancel_on(&self.cancel_token());
        let out = self.runner().execute(&cmd);
        self.invalidate_device(&dev.name);
        let out = out?;
        out.status.code().ok_or_else(|| {
            Error::call_with_source(
                ErrorKind::Crate,
                CALL,
                &dev.name,
                "fsck was killed",
                vmcraft_block::command::command_failed(&cmd, &out),
            )
        })
    }

    /// Set the filesystem label (`set_label`), by filesystem type as libguestfs
    /// does: ext2/3/4 (16 bytes, e2label), vfat (11 bytes, fatlabel), NTFS (128
    /// characters, ntfslabel), XFS (12 bytes, not `---`, xfs_admin), btrfs (255
    /// bytes, no newline), swap (16 bytes, swaplabel). Other types are refused
    /// as [`ErrorKind::Unsupported`]. The device must be unmounted and its
    /// drive writable.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// g.set_label("/dev/sda1", "root")?;
    /// assert_eq!(g.vfs_label("/dev/sda1")?, "root");
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn set_label(&self, mountable: &str, label: &str) -> Result<()> {
        const CALL: &str = "set_label";
        let dev = self.resolve(CALL, mountable)?;
        no_nul(CALL, &dev.name, "label", label)?;
        let fstype = self.fstools_type(CALL, &dev, "label")?;
        let too_long = |limit: usize, unit: &str| {
            Error::invalid(
                CALL,
                &dev.name,
                format!("label '{label}': {fstype} labels are limited to {limit} {unit}"),
            )
        };
        let cmd = if is_ext(&fstype) {
            if label.len() > EXT_LABEL_MAX {
                return Err(too_long(EXT_LABEL_MAX, "bytes"));
            }
            Command::new("e2label").arg(&dev.host).arg(label)
        } else if is_fat(&fstype) {
            if label.len() > 11 {
                return Err(too_long(11, "bytes"));
            }
            if label.is_empty() {
                Command::new("fatlabel").arg("-r").arg(&dev.host)
            } else {
                Command::new("fatlabel").arg("--").arg(&dev.host).arg(label)
            }
        } else {
            match fstype.as_str() {
                "ntfs" => {
                    if label.chars().count() > 128 {
                        return Err(too_long(128, "characters"));
                    }
                    // ntfslabel takes no `--`: a label that looks like an
                    // option would be read as one.
                    if label.starts_with('-') {
                        return Err(Error::invalid(
                            CALL,
                            &dev.name,
                            format!(
                                "label '{label}': ntfslabel cannot take a label starting with '-'"
                            ),
                        ));
                    }
                    Command::new("ntfslabel").arg(&dev.host).arg(label)
                }
                "xfs" => {
                    if label.len() > 12 {
                        return Err(too_long(12, "bytes"));
                    }
                    if label == "---" {
                        return Err(Error::invalid(
                            CALL,
                            &dev.name,
                            "xfs: invalid new label '---'",
                        ));
                    }
                    Command::new("xfs_admin")
                        .arg("-L")
                        .arg(label)
                        .arg(&dev.host)
                }
                "btrfs" => {
                    if label.len() > 255 {
                        return Err(too_long(255, "bytes"));
                    }
                    if label.contains('\n') {
                        return Err(Error::invalid(
                            CALL,
                            &dev.name,
                            "btrfs labels cannot contain a newline",
                        ));
                    }
                    Command::new("btrfs")
                        .args(["filesystem", "label", "--"])
                        .arg(&dev.host)
                        .arg(label)
                }
                "swap" => {
                    if label.len() > SWAP_LABEL_MAX {
                        return Err(too_long(SWAP_LABEL_MAX, "bytes"));
                    }
                    Command::new("swaplabel")
                        .arg("-L")
                        .arg(label)
                        .arg(&dev.host)
                }
                _ => {
                    return Err(Error::call(
                        ErrorKind::Unsupported,
                        CALL,
                        &dev.name,
                        format!("don't know how to set the label for '{fstype}' filesystems"),
                    ));
                }
            }
        };
        let dev = self.fstools_writable(CALL, mountable)?;
        self.fstools_run(CALL, &dev, cmd, true)?;
        Ok(())
    }

    /// Set the filesystem UUID (`set_uuid`), by filesystem type: ext2/3/4
    /// (tune2fs; not the magic `clear`/`random`/`time`), XFS (xfs_admin; not
    /// `nil`/`generate`), btrfs (btrfstune), swap (swaplabel) take a textual
    /// UUID; vfat takes its 32-bit volume id (`ABCD-1234` or 8 hex digits,
    /// fatlabel); NTFS its 64-bit serial (16 hex digits, ntfslabel). Other types
    /// are refused as [`ErrorKind::Unsupported`]. The device must be unmounted
    /// and its drive writable.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// g.set_uuid("/dev/sda1", "01234567-89ab-cdef-0123-456789abcdef")?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn set_uuid(&self, device: &str, uuid: &str) -> Result<()> {
        const CALL: &str = "set_uuid";
        let dev = self.resolve(CALL, device)?;
        let fstype = self.fstools_type(CALL, &dev, "UUID")?;
        let bad = |why: &str| Error::invalid(CALL, &dev.name, format!("{fstype}: '{uuid}' {why}"));
        let textual = |magic: &[&str]| -> Result<()> {
            if magic.contains(&uuid) {
                return Err(bad("is a magic value, not a UUID"));
            }
            if !is_uuid(uuid) {
                return Err(bad("is not a UUID (8-4-4-4-12 hex digits)"));
            }
            Ok(())
        };
        let cmd = if is_ext(&fstype) {
            textual(&["clear", "random", "time"])?;
            Command::new("tune2fs").arg("-U").arg(uuid).arg(&dev.host)
        } else if is_fat(&fstype) {
            let hex: String = match uuid.as_bytes() {
                [a @ .., b'-', _, _, _, _] if a.len() == 4 => uuid.replace('-', ""),
                _ => uuid.to_string(),
            };
            if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad("is not a FAT volume id (XXXX-XXXX, 8 hex digits)"));
            }
            Command::new("fatlabel")
                .args(["-i", "--"])
                .arg(&dev.host)
                .arg(hex)
        } else {
            match fstype.as_str() {
                "xfs" => {
                    textual(&["nil", "generate"])?;
                    Command::new("xfs_admin").arg("-U").arg(uuid).arg(&dev.host)
                }
                "btrfs" => {
                    textual(&[])?;
                    Command::new("btrfstune")
                        .args(["-f", "-U", uuid])
                        .arg(&dev.host)
                }
                "swap" => {
                    textual(&[])?;
                    Command::new("swaplabel").arg("-U").arg(uuid).arg(&dev.host)
                }
                "ntfs" => {
                    if uuid.len() != 16 || !uuid.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(bad("is not an NTFS serial number (16 hex digits)"));
                    }
                    Command::new("ntfslabel")
                        .arg(format!("--new-serial={uuid}"))
                        .arg(&dev.host)
                }
                _ => {
                    return Err(Error::call(
                        ErrorKind::Unsupported,
                        CALL,
                        &dev.name,
                        format!("don't know how to set the UUID for '{fstype}' filesystems"),
                    ));
                }
            }
        };
        let dev = self.fstools_writable(CALL, device)?;
        self.fstools_run(CALL, &dev, cmd, true)?;
        Ok(())
    }

    /// Give the filesystem a new random UUID (`set_uuid_random`): the types of
    /// [`VMCraft::set_uuid`], each with its tool's own generator (a random
    /// volume id for vfat, a random serial for NTFS).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn set_uuid_random(&self, device: &str) -> Result<()> {
        const CALL: &str = "set_uuid_random";
        let dev = self.resolve(CALL, device)?;
        let fstype = self.fstools_type(CALL, &dev, "UUID")?;
        let cmd = if is_ext(&fstype) {
            Command::new("tune2fs")
                .args(["-U", "random"])
                .arg(&dev.host)
        } else if is_fat(&fstype) {
            Command::new("fatlabel")
                .args(["-i", "-r", "--"])
                .arg(&dev.host)
        } else {
            match fstype.as_str() {
                "xfs" => Command::new("xfs_admin")
                    .args(["-U", "generate"])
                    .arg(&dev.host),
                "btrfs" => Command::new("btrfstune").args(["-f", "-u"]).arg(&dev.host),
                "swap" => Command::new("swaplabel")
                    .arg("-U")
                    .arg(random_uuid()?)
                    .arg(&dev.host),
                "ntfs" => Command::new("ntfslabel").arg("--new-serial").arg(&dev.host),
                _ => {
                    return Err(Error::call(
                        ErrorKind::Unsupported,
                        CALL,
                        &dev.name,
                        format!("don't know how to set random UUID for '{fstype}' filesystems"),
                    ));
                }
            }
        };
        let dev = self.fstools_writable(CALL, device)?;
        self.fstools_run(CALL, &dev, cmd, true)?;
        Ok(())
    }

    /// The label of the filesystem on `device` (`get_e2label`, deprecated in
    /// libguestfs for [`VMCraft::vfs_label`], which it is).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn get_e2label(&self, device: &str) -> Result<String> {
        self.resolve("get_e2label", device)?;
        self.vfs_label(device)
    }

    /// The UUID of the filesystem on `device` (`get_e2uuid`, deprecated in
    /// libguestfs for [`VMCraft::vfs_uuid`], which it is).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn get_e2uuid(&self, device: &str) -> Result<String> {
        self.resolve("get_e2uuid", device)?;
        self.vfs_uuid(device)
    }

    /// Set the label of an ext2/3/4 filesystem (`set_e2label`; at most 16
    /// bytes). Another filesystem type is refused.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn set_e2label(&self, device: &str, label: &str) -> Result<()> {
        const CALL: &str = "set_e2label";
        let dev = self.resolve(CALL, device)?;
        no_nul(CALL, &dev.name, "label", label)?;
        if label.len() > EXT_LABEL_MAX {
            return Err(Error::invalid(
                CALL,
                &dev.name,
                format!("label '{label}': ext2/3/4 labels are limited to {EXT_LABEL_MAX} bytes"),
            ));
        }
        self.require_ext(CALL, &dev)?;
        let dev = self.fstools_writable(CALL, device)?;
        let cmd = Command::new("e2label").arg(&dev.host).arg(label);
        self.fstools_run(CALL, &dev, cmd, true)?;
        Ok(())
    }

    /// Set the UUID of an ext2/3/4 filesystem (`set_e2uuid`): a textual UUID,
    /// or tune2fs's `clear`, `random` or `time`. Another type is refused.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn set_e2uuid(&self, device: &str, uuid: &str) -> Result<()> {
        const CALL: &str = "set_e2uuid";
        let dev = self.resolve(CALL, device)?;
        if !is_uuid(uuid) && !matches!(uuid, "clear" | "random" | "time") {
            return Err(Error::invalid(
                CALL,
                &dev.name,
                format!("'{uuid}' is not a UUID (nor clear, random or time)"),
            ));
        }
        self.require_ext(CALL, &dev)?;
        let dev = self.fstools_writable(CALL, device)?;
        let cmd = Command::new("tune2fs").arg("-U").arg(uuid).arg(&dev.host);
        self.fstools_run(CALL, &dev, cmd, true)?;
        Ok(())
    }

    fn require_ext(&self, call: &str, dev: &Resolved) -> Result<()> {
        let t = self.vfs_type(&dev.name)?;
        if !is_ext(&t) {
            return Err(Error::invalid(
                call,
                &dev.name,
                format!(
                    "not an ext2/3/4 filesystem ({})",
                    if t.is_empty() { "no filesystem" } else { &t }
                ),
            ));
        }
        Ok(())
    }

    /// Adjust ext2/3/4 filesystem parameters (`tune2fs`); see
    /// [`Tune2fsOptions`]. Negative values, an unknown `errorbehavior` and a
    /// reserved percentage over 50 are refused before tune2fs runs. The device
    /// must be unmounted and its drive writable.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// g.tune2fs("/dev/sda1", &vmcraft::calls::fstools::Tune2fsOptions { maxmountcount: Some(0), intervalbetweenchecks: Some(0), ..Default::default() })?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn tune2fs(&self, device: &str, opts: &Tune2fsOptions) -> Result<()> {
        const CALL: &str = "tune2fs";
        let dev = self.resolve(CALL, device)?;
        let cmd = tune2fs_command(&dev.name, opts)?;
        self.require_ext(CALL, &dev)?;
        let dev = self.fstools_writable(CALL, device)?;
        self.fstools_run(CALL, &dev, cmd.arg(&dev.host), true)?;
        Ok(())
    }

    /// The ext2/3/4 superblock as `tune2fs -l` prints it (`tune2fs_l`), as
    /// ordered `key: value` pairs (libguestfs's hash): `<none>` and `<not
    /// available>` are empty values. Reads only; read-only drives and mounted
    /// devices are fine.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// let sb = g.tune2fs_l("/dev/sda1")?;
    /// assert!(sb.iter().any(|(k, v)| k == "Filesystem magic number" && v == "0xEF53"));
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn tune2fs_l(&self, device: &str) -> Result<Vec<(String, String)>> {
        const CALL: &str = "tune2fs_l";
        let dev = self.resolve(CALL, device)?;
        let out = self.fstools_run(
            CALL,
            &dev,
            Command::new("tune2fs").arg("-l").arg(&dev.host),
            false,
        )?;
        Ok(parse_tune2fs_l(&String::from_utf8_lossy(&out.stdout)))
    }

    /// Make an ext2/3/4 filesystem with mke2fs's own options (`mke2fs`); see
    /// [`Mke2fsOptions`]. `journaldevice` must name a device of this session.
    /// As mke2fs, a filesystem too small for a journal silently becomes ext2.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// g.mke2fs("/dev/sda1", &vmcraft::calls::fstools::Mke2fsOptions { fstype: Some("ext4".into()), blocksize: Some(4096), ..Default::default() })?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mke2fs(&self, device: &str, opts: &Mke2fsOptions) -> Result<()> {
        const CALL: &str = "mke2fs";
        let dev = self.resolve(CALL, device)?;
        let journal = match &opts.journaldevice {
            None => None,
            Some(j) if j.starts_with("LABEL=") || j.starts_with("UUID=") => {
                return Err(Error::invalid(
                    CALL,
                    &dev.name,
                    format!(
                        "journaldevice '{j}': name the journal device (/dev/sdXN); \
                         mke2fs would look up {} among the host's devices",
                        j.split('=').next().unwrap_or_default()
                    ),
                ));
            }
            Some(j) => {
                let r = self.resolve(CALL, j)?;
                if r.name == dev.name {
                    return Err(Error::invalid(
                        CALL,
                        &dev.name,
                        "the journal device is the device itself",
                    ));
                }
                Some(r.host)
            }
        };
        let mut cmd = mke2fs_command(&dev.name, opts, journal.as_deref())?;
        let dev = self.fstools_writable(CALL, device)?;
        cmd = cmd
            .arg(&dev.host)
            .timeout(std::time::Duration::from_secs(600));
        if let Some(n) = opts.blockscount {
            cmd = cmd.arg(n.to_string());
        }
        self.fstools_run(CALL, &dev, cmd, true)?;
        Ok(())
    }

    /// `mkfs` with a block size (`mkfs_b`, deprecated in libguestfs for `mkfs`
    /// with `blocksize`): for vfat and NTFS it is the cluster size.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mkfs_b(&self, fstype: &str, blocksize: i32, device: &str) -> Result<()> {
        let blocksize = u32::try_from(blocksize).map_err(|_| {
            Error::invalid(
                "mkfs_b",
                device,
                format!("blocksize {blocksize} is negative"),
            )
        })?;
        self.mkfs(
            fstype,
            device,
            &MkfsOptions {
                blocksize: Some(blocksize),
                ..Default::default()
            },
        )
    }

    /// Make a swap area with a label (`mkswap_L`; at most 16 bytes).
    #[allow(non_snake_case)]
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mkswap_L(&self, label: &str, device: &str) -> Result<()> {
        const CALL: &str = "mkswap_L";
        let dev = self.resolve(CALL, device)?;
        no_nul(CALL, &dev.name, "label", label)?;
        if label.len() > SWAP_LABEL_MAX {
            return Err(Error::invalid(
                CALL,
                &dev.name,
                format!("label '{label}': Linux swap labels are limited to {SWAP_LABEL_MAX} bytes"),
            ));
        }
        let dev = self.fstools_writable(CALL, device)?;
        let cmd = Command::new("mkswap")
            .args(["-f", "-L", label])
            .arg(&dev.host);
        self.fstools_run(CALL, &dev, cmd, true)?;
        Ok(())
    }

    /// Make a swap area with a UUID (`mkswap_U`).
    #[allow(non_snake_case)]
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mkswap_U(&self, uuid: &str, device: &str) -> Result<()> {
        const CALL: &str = "mkswap_U";
        let dev = self.resolve(CALL, device)?;
        if !is_uuid(uuid) {
            return Err(Error::invalid(
                CALL,
                &dev.name,
                format!("'{uuid}' is not a UUID (8-4-4-4-12 hex digits)"),
            ));
        }
        let dev = self.fstools_writable(CALL, device)?;
        let cmd = Command::new("mkswap")
            .args(["-f", "-U", uuid])
            .arg(&dev.host);
        self.fstools_run(CALL, &dev, cmd, true)?;
        Ok(())
    }

    /// Write a swap signature to an existing guest file (`mkswap_file`; make
    /// the file first, e.g. with `fallocate`). The path is resolved inside the
    /// guest root (a symlink cannot lead out of it) and must be a regular file
    /// of at least 40 KiB; mkswap writes to exactly that inode (through this
    /// process's descriptor), never to a path it looks up itself.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mkswap_file(&self, path: &str) -> Result<()> {
        const CALL: &str = "mkswap_file";
        let root = self.guest_root_for(CALL)?;
        let opath = root.resolve(path, true)?;
        let proc_path = format!("/proc/self/fd/{}", opath.as_raw_fd());
        let st = nix::sys::stat::fstat(&opath)
            .map_err(|e| Error::call_with_source(ErrorKind::Io, CALL, path, "cannot stat", e))?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(Error::invalid(CALL, path, "not a regular file"));
        }
        if st.st_size < 40 * 1024 {
            return Err(Error::invalid(
                CALL,
                path,
                format!(
                    "the file is too small for a swap area ({} bytes, at least 40960)",
                    st.st_size
                ),
            ));
        }
        // Reopen the checked inode itself for writing (the /proc magic link
        // names the inode, not a path that could be swapped meanwhile).
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&proc_path)
            .map_err(|e| Error::call_with_source(ErrorKind::Io, CALL, path, "cannot open", e))?;
        let st2 = nix::sys::stat::fstat(&file)
            .map_err(|e| Error::call_with_source(ErrorKind::Io, CALL, path, "cannot stat", e))?;
        if (st2.st_dev, st2.st_ino) != (st.st_dev, st.st_ino) {
            return Err(Error::invalid(
                CALL,
                path,
                "the file changed while opening it",
            ));
        }
        let target = format!("/proc/{}/fd/{}", std::process::id(), file.as_raw_fd());
        let cmd = Command::new("mkswap")
            .arg("-f")
            .arg(&target)
            .cancel_on(&self.cancel_token());
        let out = self.runner().execute(&cmd)?;
        drop(file);
        if !out.status.success() {
            return Err(Error::call_with_source(
                ErrorKind::Crate,
                CALL,
                path,
                "mkswap failed",
                vmcraft_block::command::command_failed(&cmd, &out),
            ));
        }
        Ok(())
    }

    fn resize2fs_with(&self, call: &str, device: &str, extra: Command) -> Result<()> {
        let dev = self.fstools_writable(call, device)?;
        let cmd = extra.cancel_on(&self.cancel_token());
        let out = self.runner().execute(&cmd);
        self.invalidate_device(&dev.name);
        let out = out?;
        if out.status.success() {
            return Ok(());
        }
        let said = [&out.stderr, &out.stdout].map(|b| String::from_utf8_lossy(b).into_owned());
        let message = if said.iter().any(|s| s.contains("e2fsck -f")) {
            "you need to run e2fsck with the correct and/or forceall options first (e2fsck_f)"
                .to_string()
        } else {
            "resize2fs failed".to_string()
        };
        Err(Error::call_with_source(
            ErrorKind::Crate,
            call,
            &dev.name,
            message,
            vmcraft_block::command::command_failed(&cmd, &out),
        ))
    }

    /// Shrink an unmounted ext2/3/4 filesystem to its minimum size
    /// (`resize2fs_M`, `resize2fs -M`); read the result with
    /// [`VMCraft::tune2fs_l`] (`Block count` times `Block size`). As
    /// [`VMCraft::resize2fs`], it never checks the filesystem by itself: run
    /// [`VMCraft::e2fsck_f`] first when resize2fs asks.
    #[tracing::instrument(level = "debug", skip_all)]
    #[allow(non_snake_case)]
    pub fn resize2fs_M(&self, device: &str) -> Result<()> {
        const CALL: &str = "resize2fs_M";
        let host = self.resolve(CALL, device)?.host;
        self.resize2fs_with(CALL, device, Command::new("resize2fs").arg("-M").arg(host))
    }

    /// Resize an unmounted ext2/3/4 filesystem to `size` bytes, a positive
    /// multiple of 1024 (`resize2fs_size`); otherwise as [`VMCraft::resize2fs_M`].
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn resize2fs_size(&self, device: &str, size: i64) -> Result<()> {
        const CALL: &str = "resize2fs_size";
        if size <= 0 || size % 1024 != 0 {
            return Err(Error::invalid(
                CALL,
                device,
                format!("size {size} must be a positive round number of kilobytes"),
            ));
        }
        let host = self.resolve(CALL, device)?.host;
        self.resize2fs_with(
            CALL,
            device,
            Command::new("resize2fs")
                .arg(host)
                .arg(format!("{}K", size / 1024)),
        )
    }

    /// The minimum size in bytes the filesystem can be shrunk to
    /// (`vfs_minimum_size`): ext2/3/4 from `resize2fs -P` times the block size,
    /// NTFS from `ntfsresize --info`, XFS (which cannot shrink) its current
    /// size from the superblock, btrfs from `btrfs inspect-internal
    /// min-dev-size` (it must be mounted). Reads only. Other types are
    /// [`ErrorKind::Unsupported`].
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn vfs_minimum_size(&self, mountable: &str) -> Result<i64> {
        const CALL: &str = "vfs_minimum_size";
        let dev = self.resolve(CALL, mountable)?;
        let fstype = self.vfs_type(&dev.name)?;
        let unparsable = |out: &Output| {
            Error::call(
                ErrorKind::Crate,
                CALL,
                &dev.name,
                format!(
                    "minimum size not found in the tool's output: {}",
                    out.stdout_str().trim()
                ),
            )
        };
        if is_ext(&fstype) {
            let out = self.fstools_run(
                CALL,
                &dev,
                Command::new("resize2fs").args(["-P", "-f"]).arg(&dev.host),
                false,
            )?;
            let blocks = number_after(
                &out.stdout_str(),
                "Estimated minimum size of the filesystem:",
            )
            .ok_or_else(|| unparsable(&out))?;
            let bs: i64 = self
                .tune2fs_l(&dev.name)?
                .into_iter()
                .find(|(k, _)| k == "Block size")
                .and_then(|(_, v)| v.parse().ok())
                .ok_or_else(|| Error::call(ErrorKind::Crate, CALL, &dev.name, "no block size"))?;
            return blocks
                .checked_mul(bs)
                .ok_or_else(|| Error::call(ErrorKind::Crate, CALL, &dev.name, "size overflows"));
        }
        match fstype.as_str() {
            "ntfs" => {
                let cmd = Command::new("ntfsresize")
                    .args(["--info", "-ff"])
                    .arg(&dev.host)
                    .cancel_on(&self.cancel_token());
                let out = self.runner().execute(&cmd)?;
                let text = out.stdout_str();
                if out.status.success() {
                    return number_after(&text, "You might resize at ")
                        .ok_or_else(|| unparsable(&out));
                }
                // A full volume: its own size, rounded up to clusters.
                if text.contains("Volume is full") {
                    let cluster = text
                        .lines()
                        .find_map(|l| {
                            let r = l.strip_prefix("Cluster size")?;
                            r.split(':')
                                .nth(1)?
                                .trim()
                                .split(' ')
                                .next()?
                                .parse::<i64>()
                                .ok()
                        })
                        .filter(|c| *c > 0);
                    let size = number_after(&text, "Current volume size:");
                    if let (Some(c), Some(s)) = (cluster, size) {
                        return Ok((s + c - 1) / c * c);
                    }
                }
                Err(Error::call_with_source(
                    ErrorKind::Crate,
                    CALL,
                    &dev.name,
                    "ntfsresize failed",
                    vmcraft_block::command::command_failed(&cmd, &out),
                ))
            }
            "xfs" => {
                let node = vmcraft_block::DeviceNode::open(&dev.host, true)?;
                let mut sb = [0u8; 16];
                vmcraft_block::BlockDevice::read_at(&node, &mut sb, 0)?;
                if &sb[0..4] != b"XFSB" {
                    return Err(Error::call(
                        ErrorKind::Crate,
                        CALL,
                        &dev.name,
                        "no XFS superblock",
                    ));
                }
                let bs = u32::from_be_bytes(sb[4..8].try_into().unwrap_or_default());
                let blocks = u64::from_be_bytes(sb[8..16].try_into().unwrap_or_default());
                i64::try_from(blocks)
                    .ok()
                    .and_then(|b| b.checked_mul(bs.into()))
                    .ok_or_else(|| Error::call(ErrorKind::Crate, CALL, &dev.name, "size overflows"))
            }
            "btrfs" => {
                let host = self
                    .mounts()
                    .iter()
                    .find(|m| m.device == dev.name)
                    .map(|m| m.host_path.clone())
                    .ok_or_else(|| {
                        Error::call(
                            ErrorKind::Mount,
                            CALL,
                            &dev.name,
                            "btrfs: the filesystem must be mounted",
                        )
                    })?;
                let out = self.fstools_run(
                    CALL,
                    &dev,
                    Command::new("btrfs")
                        .args(["inspect-internal", "min-dev-size"])
                        .arg(host),
                    false,
                )?;
                number_after(&out.stdout_str(), "").ok_or_else(|| unparsable(&out))
            }
            "" => Err(Error::call(
                ErrorKind::Unsupported,
                CALL,
                &dev.name,
                "no filesystem found",
            )),
            t => Err(Error::call(
                ErrorKind::Unsupported,
                CALL,
                &dev.name,
                format!("don't know how to get minimum size of '{t}' filesystems"),
            )),
        }
    }

    /// Zero the unused blocks of an unmounted ext2/3/4 filesystem (`zerofree`),
    /// so the image compresses well. Needs the `zerofree` tool
    /// ([`ErrorKind::Unsupported`] without it).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn zerofree(&self, device: &str) -> Result<()> {
        const CALL: &str = "zerofree";
        let dev = self.resolve(CALL, device)?;
        if !vmcraft_block::command::has_command("zerofree") {
            return Err(Error::call(
                ErrorKind::Unsupported,
                CALL,
                &dev.name,
                "the zerofree tool is not installed",
            ));
        }
        self.require_ext(CALL, &dev)?;
        let dev = self.fstools_writable(CALL, device)?;
        self.fstools_run(CALL, &dev, Command::new("zerofree").arg(&dev.host), true)?;
        Ok(())
    }

    /// Trim the free space of the filesystem holding guest directory
    /// `mountpoint` (`fstrim`; FITRIM on it, in-process), giving it back to the
    /// image. The path is resolved inside the guest root; the filesystem must
    /// be mounted read-write from a writable drive. Filesystems whose driver
    /// cannot trim fail as [`ErrorKind::Unsupported`].
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn fstrim(&self, mountpoint: &str, opts: FstrimOptions) -> Result<()> {
        const CALL: &str = "fstrim";
        let nn = |what: &str, v: Option<i64>, default: u64| -> Result<u64> {
            match v {
                None => Ok(default),
                Some(v) => u64::try_from(v).map_err(|_| {
                    Error::invalid(CALL, mountpoint, format!("{what} cannot be negative ({v})"))
                }),
            }
        };
        let start = nn("offset", opts.offset, 0)?;
        let len = nn("length", opts.length, u64::MAX)?;
        let minlen = nn("minimumfreeextent", opts.minimumfreeextent, 0)?;
        let root = self.guest_root_for(CALL)?;
        let opath = root.resolve(mountpoint, true)?;
        let dir =
            std::fs::File::open(format!("/proc/self/fd/{}", opath.as_raw_fd())).map_err(|e| {
                Error::call_with_source(ErrorKind::Io, CALL, mountpoint, "cannot open", e)
            })?;
        let st = nix::sys::stat::fstat(&dir).map_err(|e| {
            Error::call_with_source(ErrorKind::Io, CALL, mountpoint, "cannot stat", e)
        })?;
        // The session mount holding it (by device number), for the read-only check.
        let entries: Vec<(String, std::path::PathBuf)> = self
            .mounts()
            .iter()
            .filter(|m| !m.private)
            .map(|m| (m.device.clone(), m.host_path.clone()))
            .collect();
        let device = entries
            .iter()
            .find(|(_, host)| nix::sys::stat::stat(host).is_ok_and(|s| s.st_dev == st.st_dev))
            .map(|(d, _)| d.clone())
            .ok_or_else(|| {
                Error::call(
                    ErrorKind::Mount,
                    CALL,
                    mountpoint,
                    "not on a mounted filesystem",
                )
            })?;
        if self.resolve(CALL, &device)?.readonly {
            return Err(Error::call(
                ErrorKind::InvalidArgument,
                CALL,
                &device,
                "the drive was added read-only",
            ));
        }
        #[repr(C)]
        struct FstrimRange {
            start: u64,
            len: u64,
            minlen: u64,
        }
        nix::ioctl_readwrite!(fitrim, b'X', 121, FstrimRange);
        let mut range = FstrimRange { start, len, minlen };
        // SAFETY: `dir` is an open descriptor and `range` a valid fstrim_range.
        unsafe { fitrim(dir.as_raw_fd(), &mut range) }.map_err(|e| {
            let kind = if matches!(e, nix::errno::Errno::EOPNOTSUPP | nix::errno::Errno::ENOTTY) {
                ErrorKind::Unsupported
            } else {
                ErrorKind::Io
            };
            Error::call_with_source(kind, CALL, mountpoint, "FITRIM failed", e)
        })?;
        Ok(())
    }

    /// Erase the filesystem, RAID and partition-table signatures of an
    /// unmounted device so libblkid no longer sees them (`wipefs`, `wipefs
    /// -a`); the data stays.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn wipefs(&self, device: &str) -> Result<()> {
        const CALL: &str = "wipefs";
        let dev = self.fstools_writable(CALL, device)?;
        // A whole drive's partition list goes too (invalidate_device).
        self.fstools_run(
            CALL,
            &dev,
            Command::new("wipefs").arg("-a").arg(&dev.host),
            true,
        )?;
        Ok(())
    }

    /// Resize an unmounted NTFS filesystem (`ntfsresize`, also
    /// `ntfsresize_opts`): to `size` bytes, or to fill its device. The volume is
    /// then marked for a check at Windows' next boot; without `force` a second
    /// resize before that boot is refused by ntfsresize.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn ntfsresize(&self, device: &str, opts: NtfsresizeOptions) -> Result<()> {
        self.ntfsresize_as("ntfsresize", device, opts)
    }

    /// [`VMCraft::ntfsresize`] under its libguestfs alias `ntfsresize_opts`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn ntfsresize_opts(&self, device: &str, opts: NtfsresizeOptions) -> Result<()> {
        self.ntfsresize_as("ntfsresize_opts", device, opts)
    }

    /// Resize an NTFS filesystem to `size` bytes (`ntfsresize_size`,
    /// deprecated in libguestfs for `ntfsresize` with `size`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn ntfsresize_size(&self, device: &str, size: i64) -> Result<()> {
        self.ntfsresize_as(
            "ntfsresize_size",
            device,
            NtfsresizeOptions {
                size: Some(size),
                force: false,
            },
        )
    }

    fn ntfsresize_as(&self, call: &str, device: &str, opts: NtfsresizeOptions) -> Result<()> {
        if let Some(s) = opts.size
            && s <= 0
        {
            return Err(Error::invalid(
                call,
                device,
                format!("size {s} is zero or negative"),
            ));
        }
        let dev = self.resolve(call, device)?;
        let t = self.vfs_type(&dev.name)?;
        if t != "ntfs" {
            return Err(Error::invalid(
                call,
                &dev.name,
                format!(
                    "not an NTFS filesystem ({})",
                    if t.is_empty() { "no filesystem" } else { &t }
                ),
            ));
        }
        let dev = self.fstools_writable(call, device)?;
        let mut cmd = Command::new("ntfsresize").arg("-P");
        if let Some(s) = opts.size {
            cmd = cmd.arg("--size").arg(s.to_string());
        }
        if opts.force {
            cmd = cmd.arg("--force");
        }
        // ntfsresize asks before it writes; the call is the caller's yes.
        cmd = cmd.arg(&dev.host).stdin("y\n");
        self.fstools_run(call, &dev, cmd, true)?;
        Ok(())
    }

    /// Fix common NTFS inconsistencies, reset the journal and mark the volume
    /// for a Windows consistency check (`ntfsfix`); `clearbadsectors` also
    /// clears the bad-sector list. Not a chkdsk.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn ntfsfix(&self, device: &str, clearbadsectors: bool) -> Result<()> {
        const CALL: &str = "ntfsfix";
        let dev = self.fstools_writable(CALL, device)?;
        let mut cmd = Command::new("ntfsfix");
        if clearbadsectors {
            cmd = cmd.arg("-b");
        }
        self.fstools_run(CALL, &dev, cmd.arg(&dev.host), true)?;
        Ok(())
    }

    fn swap_refused(call: &str, what: &str) -> Error {
        Error::call(
            ErrorKind::Unsupported,
            call,
            what,
            "VMCraft has no appliance: swapon/swapoff would make the host kernel swap \
             onto (or stop swapping onto) a guest disk, so swap activation is not supported",
        )
    }

    /// Refused: libguestfs's `swapon_device` lets its appliance swap on a guest
    /// device; VMCraft runs on the host, where it would make the host kernel
    /// swap onto a guest disk (leaking host memory into the image), so all of
    /// `swapon_*` and `swapoff_*` fail with [`ErrorKind::Unsupported`] and
    /// change nothing.
    pub fn swapon_device(&self, device: &str) -> Result<()> {
        Err(Self::swap_refused("swapon_device", device))
    }

    /// Refused, as [`VMCraft::swapon_device`].
    pub fn swapoff_device(&self, device: &str) -> Result<()> {
        Err(Self::swap_refused("swapoff_device", device))
    }

    /// Refused, as [`VMCraft::swapon_device`].
    pub fn swapon_file(&self, file: &str) -> Result<()> {
        Err(Self::swap_refused("swapon_file", file))
    }

    /// Refused, as [`VMCraft::swapon_device`].
    pub fn swapoff_file(&self, file: &str) -> Result<()> {
        Err(Self::swap_refused("swapoff_file", file))
    }

    /// Refused, as [`VMCraft::swapon_device`].
    pub fn swapon_label(&self, label: &str) -> Result<()> {
        Err(Self::swap_refused("swapon_label", label))
    }

    /// Refused, as [`VMCraft::swapon_device`].
    pub fn swapoff_label(&self, label: &str) -> Result<()> {
        Err(Self::swap_refused("swapoff_label", label))
    }

    /// Refused, as [`VMCraft::swapon_device`].
    pub fn swapon_uuid(&self, uuid: &str) -> Result<()> {
        Err(Self::swap_refused("swapon_uuid", uuid))
    }

    /// Refused, as [`VMCraft::swapon_device`].
    pub fn swapoff_uuid(&self, uuid: &str) -> Result<()> {
        Err(Self::swap_refused("swapoff_uuid", uuid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids() {
        assert!(is_uuid("01234567-89ab-cdef-0123-456789ABCDEF"));
        assert!(!is_uuid("01234567-89ab-cdef-0123-456789ABCDE"));
        assert!(!is_uuid("01234567x89ab-cdef-0123-456789ABCDEF"));
        let r = random_uuid().unwrap();
        assert!(is_uuid(&r), "{r}");
        assert_eq!(&r[14..15], "4");
        assert_ne!(random_uuid().unwrap(), r);
    }

    #[test]
    fn tune2fs_arguments_as_libguestfs() {
        let o = Tune2fsOptions {
            force: true,
            maxmountcount: Some(0),
            intervalbetweenchecks: Some(86400),
            errorbehavior: Some("remount-ro".into()),
            user: Some(1),
            group: Some(0),
            ..Default::default()
        };
        assert_eq!(
            tune2fs_command("/dev/sda1", &o).unwrap().argv(),
            [
                "tune2fs",
                "-f",
                "-c",
                "0",
                "-e",
                "remount-ro",
                "-g",
                "0",
                "-i",
                "86400s",
                "-u",
                "1"
            ]
        );
        let zero = Tune2fsOptions {
            intervalbetweenchecks: Some(0),
            ..Default::default()
        };
        assert_eq!(
            tune2fs_command("/dev/sda1", &zero).unwrap().argv(),
            ["tune2fs", "-i", "0"]
        );
        for (o, msg) in [
            (
                Tune2fsOptions {
                    maxmountcount: Some(-1),
                    ..Default::default()
                },
                "tune2fs: /dev/sda1: maxmountcount cannot be negative (-1)",
            ),
            (
                Tune2fsOptions {
                    errorbehavior: Some("explode".into()),
                    ..Default::default()
                },
                "tune2fs: /dev/sda1: invalid errorbehavior 'explode' (expected continue, remount-ro or panic)",
            ),
            (
                Tune2fsOptions {
                    reservedblockspercentage: Some(60),
                    ..Default::default()
                },
                "tune2fs: /dev/sda1: reservedblockspercentage 60 is more than 50",
            ),
        ] {
            assert_eq!(
                tune2fs_command("/dev/sda1", &o).unwrap_err().to_string(),
                msg
            );
        }
    }

    #[test]
    fn mke2fs_arguments_as_libguestfs() {
        let o = Mke2fsOptions {
            blocksize: Some(4096),
            label: Some("data".into()),
            fstype: Some("ext4".into()),
            stridesize: Some(16),
            lazyitableinit: Some(false),
            hasjournal: Some(false),
            extent: Some(true),
            forcecreate: Some(true),
            ..Default::default()
        };
        assert_eq!(
            mke2fs_command("/dev/sda1", &o, None).unwrap().argv(),
            [
                "mke2fs",
                "-b",
                "4096",
                "-F",
                "-L",
                "data",
                "-t",
                "ext4",
                "-E",
                "stride=16",
                "-E",
                "lazy_itable_init=0",
                "-O",
                "extent",
                "-O",
                "^has_journal"
            ]
        );
        let j = Mke2fsOptions::default();
        assert_eq!(
            mke2fs_command("/dev/sda2", &j, Some(std::path::Path::new("/dev/loop3p1")))
                .unwrap()
                .argv(),
            ["mke2fs", "-J", "device=/dev/loop3p1"]
        );
        for (o, msg) in [
            (
                Mke2fsOptions {
                    fstype: Some("xfs".into()),
                    ..Default::default()
                },
                "'xfs' is not a valid extended filesystem type",
            ),
            (
                Mke2fsOptions {
                    label: Some("seventeen-bytes-x".into()),
                    ..Default::default()
                },
                "limited to 16 bytes",
            ),
            (
                Mke2fsOptions {
                    blocksize: Some(-1),
                    ..Default::default()
                },
                "blocksize cannot be negative",
            ),
            (
                Mke2fsOptions {
                    uuid: Some("nope".into()),
                    ..Default::default()
                },
                "'nope' is not a UUID",
            ),
            (
                Mke2fsOptions {
                    blockscount: Some(0),
                    ..Default::default()
                },
                "blockscount must be positive",
            ),
        ] {
            let e = mke2fs_command("/dev/sda1", &o, None)
                .unwrap_err()
                .to_string();
            assert!(e.contains(msg), "{e}");
        }
    }

    #[test]
    fn tune2fs_l_parsing() {
        let out = "tune2fs 1.47.0 (5-Feb-2023)\nFilesystem volume name:   <none>\n\
                   Last mounted on:          <not available>\nFilesystem magic number:  0xEF53\n\
                   Check interval:           0 (<none>)\nodd line\n\n";
        assert_eq!(
            parse_tune2fs_l(out),
            [
                ("Filesystem volume name".to_string(), String::new()),
                ("Last mounted on".to_string(), String::new()),
                ("Filesystem magic number".to_string(), "0xEF53".to_string()),
                ("Check interval".to_string(), "0 (<none>)".to_string()),
                ("odd line".to_string(), String::new()),
            ]
        );
    }

    #[test]
    fn numbers_in_tool_output() {
        assert_eq!(
            number_after(
                "Estimated minimum size of the filesystem: 1234\n",
                "Estimated minimum size of the filesystem:"
            ),
            Some(1234)
        );
        assert_eq!(
            number_after("114294784 bytes (109.00MiB)\n", ""),
            Some(114294784)
        );
        assert_eq!(number_after("nothing\n", "You might resize at "), None);
    }
}
