//! Linux md (software RAID) arrays on the session's devices through `mdadm`,
//! with libguestfs's calls: `md_create`, `md_detail`, `md_stat`, `md_stop`
//! (and `list_md_devices` in [`super::disks`]), and `md_assemble`, VMCraft's own:
//! libguestfs's appliance assembles a guest's arrays as it boots, where VMCraft,
//! on the host, assembles them when asked.
//!
//! Only the session's devices are ever members: an array is assembled only
//! when every member `mdadm --examine` names is a device of the session, and an
//! array is the session's (resolved as `/dev/mdN`, stopped, described) only when
//! every device under it is. Arrays the session assembled or created sit under
//! names of their own (`/dev/md/vmcraft-PID-...`), never a host array's; they
//! are recorded in the session's state file so that the reaper stops them after
//! a crash, and `shutdown` stops them. An array on a read-only drive is
//! assembled read-only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use vmcraft_block::Command;

use crate::error::{Error, ErrorKind, Result};
use crate::names::DeviceName;
use crate::session::VMCraft;

/// The RAID levels `md_create` takes (libguestfs's list).
pub const MD_LEVELS: &[&str] = &[
    "linear", "raid0", "0", "stripe", "raid1", "1", "mirror", "raid4", "4", "raid5", "5", "raid6",
    "6", "raid10", "10",
];

/// The longest array name `md_create` takes (md's 1.2 metadata holds 32 bytes).
pub const MAX_MD_NAME: usize = 32;

/// Optional arguments of [`VMCraft::md_create`], libguestfs's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MdCreateOpts {
    /// Bit `i` set: slot `i` of the array is `missing` (a degraded array),
    /// the devices filling the other slots in order.
    pub missingbitmap: Option<i64>,
    /// Active devices (default: the devices plus the missing ones).
    pub nrdevices: Option<i32>,
    /// Spare devices (default 0).
    pub spare: Option<i32>,
    /// Chunk size in bytes, a multiple of 1024.
    pub chunk: Option<i64>,
    /// The RAID level, one of [`MD_LEVELS`] (default `raid1`).
    pub level: Option<String>,
}

/// One member of an array (libguestfs's `mdstat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MdStat {
    /// The member, by its session name (`/dev/sda2`).
    pub mdstat_device: String,
    /// Its index in the array.
    pub mdstat_index: i32,
    /// Its flags as `/proc/mdstat` shows them: `W` write-mostly, `F` faulty,
    /// `S` spare, `R` replacement.
    pub mdstat_flags: String,
}

impl VMCraft {
    /// Create an md array named `name` on `devices` (`md_create`), as
    /// `mdadm --create --run`: RAID 1 of all the devices unless the options say
    /// otherwise. The array appears as `/dev/mdN` (see
    /// [`VMCraft::list_md_devices`]); `name` is 1 to 32 letters, digits and
    /// `_.+-`, not starting with `-` or `.`.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// g.md_create("data", &["/dev/sda1", "/dev/sdb1"], &Default::default())?;
    /// println!("{:?}", g.list_md_devices()?);
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn md_create(&self, name: &str, devices: &[&str], opts: &MdCreateOpts) -> Result<()> {
        const CALL: &str = "md_create";
        if !crate::names::valid_map_name(name) || name.len() > MAX_MD_NAME {
            return Err(Error::invalid(
                CALL,
                name,
                "not an array name (1 to 32 letters, digits and _.+-, not starting with - or .)",
            ));
        }
        let argv = create_argv(CALL, devices.len(), opts)?;
        let mut hosts = Vec::new();
        for d in devices {
            let r = self.writable_device(CALL, d)?;
            if hosts.contains(&r.host) {
                return Err(Error::invalid(CALL, &r.name, "given twice"));
            }
            hosts.push(r.host);
        }
        self.need_md(CALL, name)?;
        let node = PathBuf::from(format!("/dev/md/{}", self.md_node_name(name)));
        if node.exists() {
            return Err(Error::call(
                ErrorKind::Busy,
                CALL,
                name,
                format!("{} exists already", node.display()),
            ));
        }
        let mut members = hosts.iter();
        let mut cmd = Command::new("mdadm")
            .args(["--create", "--run"])
            .arg(&node)
            .args(["--name", name]);
        for a in argv {
            cmd = match a {
                CreateArg::Word(w) => cmd.arg(w),
                CreateArg::Member => cmd.arg(members.next().expect("counted")),
            };
        }
        self.mdadm(CALL, name, &cmd)?;
        self.mappings_changed();
        Ok(())
    }

    /// Assemble the md arrays whose members are all devices of the session
    /// (`md_assemble`, VMCraft's own: libguestfs's appliance does this as it
    /// boots), read-only where a member's drive is read-only, and return them
    /// (`/dev/mdN`). An array already running is returned as it is; one with a
    /// member that is not the session's is left alone, and one missing members
    /// is not started (both are said in the error when nothing could be
    /// assembled).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// for md in g.md_assemble()? {
    ///     println!("{md}: {}", g.vfs_type(&md)?);
    /// }
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn md_assemble(&self) -> Result<Vec<String>> {
        const CALL: &str = "md_assemble";
        self.ensure_all_attached(CALL)?;
        // The host's udev may be assembling the members as they appeared.
        self.settle_udev();
        // Members may be drives, partitions or the session's LUKS mappings.
        let mut named = self.named_session_nodes();
        named.extend(self.mapped_nodes());
        let mut arrays: BTreeMap<String, Vec<(String, PathBuf)>> = BTreeMap::new();
        let mut wants: BTreeMap<String, usize> = BTreeMap::new();
        for (name, host) in &named {
            if self.vfs_type(name)? != "linux_raid_member" {
                continue;
            }
            self.need_md(CALL, name)?;
            let out = self.mdadm(
                CALL,
                name,
                &Command::new("mdadm")
                    .args(["--examine", "--export"])
                    .arg(host),
            )?;
            let info = parse_export(&out);
            let Some(uuid) = info.get("MD_UUID").filter(|u| valid_uuid(u)) else {
                continue;
            };
            if let Some(n) = info.get("MD_DEVICES").and_then(|n| n.parse().ok()) {
                wants.insert(uuid.clone(), n);
            }
            arrays
                .entry(uuid.clone())
                .or_default()
                .push((name.clone(), host.clone()));
        }
        let mut done = Vec::new();
        let mut why = Vec::new();
        for (uuid, members) in arrays {
            let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
            let readonly = names.iter().any(|n| self.device_on_readonly_drive(n));
            // Already running (assembled by the host's udev, or earlier).
            if let Some(md) = self.md_holding(&members, readonly)? {
                done.push(md);
                continue;
            }
            if let Some(&want) = wants.get(&uuid)
                && members.len() < want
            {
                why.push(format!(
                    "array {uuid} has {} of its {want} members here ({})",
                    members.len(),
                    names.join(", ")
                ));
                continue;
            }
            let node = format!("/dev/md/{}", self.md_node_name(&uuid[..8]));
            let mut cmd = Command::new("mdadm").arg("--assemble").arg(&node);
            if readonly {
                cmd = cmd.arg("--readonly");
            }
            cmd = cmd.args(members.iter().map(|(_, h)| h));
            match self.mdadm(CALL, &names.join(" "), &cmd) {
                Ok(_) => {
                    let real = std::fs::canonicalize(&node).ok();
                    let kernel = real
                        .as_ref()
                        .and_then(|p| p.file_name())
                        .map(|n| n.to_string_lossy().into_owned());
                    done.extend(kernel.map(|k| format!("/dev/{k}")));
                }
                // The host's udev got there first (it assembles members as
                // they appear): take its array.
                Err(e) => {
                    self.settle_udev();
                    match self.md_holding(&members, readonly)? {
                        Some(md) => done.push(md),
                        None => why.push(e.to_string()),
                    }
                }
            }
        }
        self.mappings_changed();
        if done.is_empty() && !why.is_empty() {
            return Err(Error::call(
                ErrorKind::Unsupported,
                CALL,
                "",
                format!("no array assembled: {}", why.join("; ")),
            ));
        }
        for w in &why {
            tracing::warn!(reason = %w, "an md array was not assembled");
        }
        done.sort();
        done.dedup();
        Ok(done)
    }

    /// Stop an md array of the session (`md_stop`); refused while it is
    /// mounted.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn md_stop(&self, md: &str) -> Result<()> {
        const CALL: &str = "md_stop";
        let r = self.md_device(CALL, md)?;
        if let Some(m) = self.mounts().iter().find(|m| m.device == r.name) {
            return Err(Error::call(
                ErrorKind::Busy,
                CALL,
                &r.name,
                format!("it is mounted on {}", m.mountpoint),
            ));
        }
        self.mdadm(
            CALL,
            &r.name,
            &Command::new("mdadm").arg("--stop").arg(&r.host),
        )?;
        self.mappings_changed();
        Ok(())
    }

    /// What `mdadm --detail --export` says of an md array of the session
    /// (`md_detail`), as libguestfs gives it: each key without its `MD_`
    /// prefix, in lower case (`level`, `devices`, `metadata`, `uuid`, `name`,
    /// ...), and the members by their session names.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// let d: std::collections::BTreeMap<_, _> = g.md_detail("/dev/md127")?.into_iter().collect();
    /// println!("{} with {} devices", d["level"], d["devices"]);
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn md_detail(&self, md: &str) -> Result<Vec<(String, String)>> {
        const CALL: &str = "md_detail";
        let r = self.md_device(CALL, md)?;
        let out = self.mdadm(
            CALL,
            &r.name,
            &Command::new("mdadm")
                .args(["--detail", "--export"])
                .arg(&r.host),
        )?;
        // Host names of members, as mdadm spells them in values (/dev/loop3p2)
        // and in keys (dev_loop3p2), to the session's.
        let renames: Vec<(String, String)> = self
            .named_session_nodes()
            .into_iter()
            .chain(self.mapped_nodes())
            .flat_map(|(name, host)| {
                let h = host.display().to_string();
                let key = |s: &str| s.trim_start_matches('/').replace('/', "_");
                [(key(&h), key(&name)), (h, name)]
            })
            .collect();
        let rename = |s: &str| {
            let mut s = s.to_string();
            for (from, to) in &renames {
                if s == *from || s.contains(&format!("{from}_")) {
                    s = s.replace(from, to);
                }
            }
            s
        };
        Ok(out
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| {
                let k = k.strip_prefix("MD_").unwrap_or(k).to_ascii_lowercase();
                (rename(&k), rename(v))
            })
            .collect())
    }

    /// The members of an md array of the session with their index and flags,
    /// from `/proc/mdstat` (`md_stat`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn md_stat(&self, md: &str) -> Result<Vec<MdStat>> {
        const CALL: &str = "md_stat";
        let r = self.md_device(CALL, md)?;
        let kernel = r
            .host
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string("/proc/mdstat").map_err(|e| {
            Error::call_with_source(ErrorKind::Io, CALL, &r.name, "reading /proc/mdstat", e)
        })?;
        let members = mdstat_members(&text, &kernel).ok_or_else(|| {
            Error::call(
                ErrorKind::NoSuchDevice,
                CALL,
                &r.name,
                "not in /proc/mdstat",
            )
        })?;
        let mut nodes = self.named_session_nodes();
        nodes.extend(self.mapped_nodes());
        let by_kernel = self.kernel_names(nodes);
        Ok(members
            .into_iter()
            .map(|(dev, index, flags)| MdStat {
                mdstat_device: by_kernel
                    .iter()
                    .find(|(k, _)| *k == dev)
                    .map(|(_, n)| n.clone())
                    .unwrap_or(format!("/dev/{dev}")),
                mdstat_index: index,
                mdstat_flags: flags,
            })
            .collect())
    }

    /// `md` resolved, refused unless it is an md array of the session.
    fn md_device(&self, call: &str, md: &str) -> Result<crate::Resolved> {
        let r = self.resolve(call, md)?;
        let is_md = matches!(&r.what, DeviceName::Mapped(n) if n.starts_with("/dev/md"));
        if !is_md {
            return Err(Error::invalid(call, &r.name, "not an md array"));
        }
        Ok(r)
    }

    /// Fail unless the kernel has md and mdadm is there.
    fn need_md(&self, call: &str, subject: &str) -> Result<()> {
        if !Path::new("/proc/mdstat").exists() {
            return Err(Error::call(
                ErrorKind::Unsupported,
                call,
                subject,
                "the kernel has no md driver",
            ));
        }
        if !vmcraft_block::has_command("mdadm") {
            return Err(Error::call(
                ErrorKind::Unsupported,
                call,
                subject,
                "mdadm is not installed",
            ));
        }
        Ok(())
    }

    /// The session's own name for an array node under `/dev/md/`.
    fn md_node_name(&self, what: &str) -> String {
        format!("vmcraft-{}-{what}", std::process::id())
    }

    /// The running array of the session holding one of `members`, made
    /// read-only if `readonly` (the host's udev starts arrays auto-read-only,
    /// which turns writable on the first write). An inactive one (udev's,
    /// waiting for members) is stopped, so that the members can be assembled,
    /// and `None` returned.
    fn md_holding(&self, members: &[(String, PathBuf)], readonly: bool) -> Result<Option<String>> {
        const CALL: &str = "md_assemble";
        let Some(md) = self
            .stacked_devices()
            .into_iter()
            .filter(|s| s.is_md())
            .find(|s| self.md_has_member(&s.kernel, members))
        else {
            return Ok(None);
        };
        let node = format!("/dev/{}", md.kernel);
        if !md.running {
            self.mdadm(CALL, &node, &Command::new("mdadm").arg("--stop").arg(&node))?;
            self.settle_udev();
            return Ok(None);
        }
        if readonly && !md.readonly {
            self.mdadm(
                CALL,
                &node,
                &Command::new("mdadm").arg("--readonly").arg(&node),
            )?;
        }
        Ok(md.guest_name())
    }

    /// Whether the array `kernel` (`md127`) has one of `members` under it.
    fn md_has_member(&self, kernel: &str, members: &[(String, PathBuf)]) -> bool {
        let slaves = self
            .config
            .sysfs_root
            .join("class/block")
            .join(kernel)
            .join("slaves");
        let Ok(d) = std::fs::read_dir(slaves) else {
            return false;
        };
        let under: Vec<String> = d
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        members.iter().any(|(_, h)| {
            std::fs::canonicalize(h)
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .is_some_and(|k| under.contains(&k))
        })
    }

    /// Run mdadm; its failure becomes this call's error with what it said.
    fn mdadm(&self, call: &str, subject: &str, cmd: &Command) -> Result<String> {
        let cmd = cmd.clone().cancel_on(&self.cancel_token());
        let out = self.runner().execute(&cmd)?;
        if out.status.success() {
            return Ok(out.stdout_str());
        }
        let said = out.stderr_trimmed();
        Err(Error::call(
            ErrorKind::Io,
            call,
            subject,
            if said.is_empty() {
                format!("mdadm failed ({})", out.status)
            } else {
                format!("mdadm: {said}")
            },
        ))
    }
}

/// What [`create_argv`] puts on mdadm's command line after the node.
#[derive(Debug, PartialEq, Eq)]
enum CreateArg {
    Word(String),
    /// The next member device.
    Member,
}

/// Check `md_create`'s options as libguestfs does and lay out mdadm's words.
fn create_argv(call: &str, ndevices: usize, o: &MdCreateOpts) -> Result<Vec<CreateArg>> {
    let bad = |m: String| Err(Error::invalid(call, "options", m));
    let missing = o.missingbitmap.unwrap_or(0) as u64;
    let nmissing = missing.count_ones() as usize;
    if ndevices == 0 {
        return bad("no devices".into());
    }
    let spare = o.spare.unwrap_or(0);
    if spare < 0 {
        return bad("spare must not be negative".into());
    }
    let nrdevices = match o.nrdevices {
        Some(n) if n < 2 => return bad("nrdevices is less than 2".into()),
        Some(n) => n,
        None => (ndevices + nmissing) as i32,
    };
    let level = o.level.as_deref().unwrap_or("raid1");
    if !MD_LEVELS.contains(&level) {
        return bad(format!("unknown level parameter: {level}"));
    }
    if let Some(c) = o.chunk
        && (c <= 0 || c % 1024 != 0)
    {
        return bad("chunk size must be a positive multiple of 1024 bytes".into());
    }
    if (ndevices + nmissing) as i64 != i64::from(nrdevices) + i64::from(spare) {
        return bad(format!(
            "devices ({ndevices}) + bits set in missingbitmap ({nmissing}) is not equal to \
             nrdevices ({nrdevices}) + spare ({spare})"
        ));
    }
    let mut v = vec![
        CreateArg::Word("--level".into()),
        CreateArg::Word(level.into()),
        CreateArg::Word("--raid-devices".into()),
        CreateArg::Word(nrdevices.to_string()),
    ];
    if o.spare.is_some() {
        v.push(CreateArg::Word("--spare-devices".into()));
        v.push(CreateArg::Word(spare.to_string()));
    }
    if let Some(c) = o.chunk {
        v.push(CreateArg::Word("--chunk".into()));
        v.push(CreateArg::Word((c / 1024).to_string()));
    }
    let (mut left, mut bits) = (ndevices, missing);
    while left > 0 || bits != 0 {
        if bits & 1 == 1 {
            v.push(CreateArg::Word("missing".into()));
        } else if left > 0 {
            v.push(CreateArg::Member);
            left -= 1;
        }
        bits >>= 1;
    }
    Ok(v)
}

/// `KEY=VALUE` lines (mdadm's `--export`).
fn parse_export(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// An md UUID as mdadm prints it (`3f0a...:...`, hex and colons).
fn valid_uuid(u: &str) -> bool {
    u.len() >= 8 && u.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
}

/// The members of array `kernel` in `/proc/mdstat`: (kernel name, index, flags).
fn mdstat_members(text: &str, kernel: &str) -> Option<Vec<(String, i32, String)>> {
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(kernel))?;
    let (_, rest) = line.split_once(':')?;
    Some(
        rest.split_whitespace()
            .filter_map(|w| {
                let (dev, tail) = w.split_once('[')?;
                let (index, flags) = tail.split_once(']')?;
                let flags: String = flags.chars().filter(|c| c.is_ascii_uppercase()).collect();
                Some((dev.to_string(), index.parse().ok()?, flags))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(v: &[CreateArg]) -> Vec<String> {
        v.iter()
            .map(|a| match a {
                CreateArg::Word(w) => w.clone(),
                CreateArg::Member => "DEV".into(),
            })
            .collect()
    }

    #[test]
    fn create_options_are_checked_as_libguestfs_checks_them() {
        let ok = create_argv("md_create", 2, &MdCreateOpts::default()).unwrap();
        assert_eq!(
            words(&ok),
            ["--level", "raid1", "--raid-devices", "2", "DEV", "DEV"]
        );
        let degraded = MdCreateOpts {
            missingbitmap: Some(0b10),
            level: Some("raid5".into()),
            chunk: Some(65536),
            ..Default::default()
        };
        assert_eq!(
            words(&create_argv("md_create", 2, &degraded).unwrap()),
            [
                "--level",
                "raid5",
                "--raid-devices",
                "3",
                "--chunk",
                "64",
                "DEV",
                "missing",
                "DEV"
            ]
        );
        for (o, want) in [
            (
                MdCreateOpts {
                    level: Some("raid7".into()),
                    ..Default::default()
                },
                "unknown level parameter: raid7",
            ),
            (
                MdCreateOpts {
                    chunk: Some(1000),
                    ..Default::default()
                },
                "multiple of 1024",
            ),
            (
                MdCreateOpts {
                    nrdevices: Some(1),
                    ..Default::default()
                },
                "nrdevices is less than 2",
            ),
            (
                MdCreateOpts {
                    spare: Some(-1),
                    ..Default::default()
                },
                "spare must not be negative",
            ),
            (
                MdCreateOpts {
                    nrdevices: Some(3),
                    ..Default::default()
                },
                "devices (2) + bits set in missingbitmap (0) is not equal to nrdevices (3) + spare (0)",
            ),
        ] {
            let e = create_argv("md_create", 2, &o).unwrap_err();
            assert!(e.to_string().contains(want), "{e}");
        }
        assert!(create_argv("md_create", 0, &MdCreateOpts::default()).is_err());
    }

    #[test]
    fn mdstat_lines_give_members_indexes_and_flags() {
        let text = "Personalities : [raid1]\n\
                    md127 : active raid1 loop3p3[1](F) loop3p2[0]\n      \
                    15360 blocks super 1.2 [2/1] [U_]\n\n\
                    md1 : active raid1 sdb1[2](S) sda1[0](W)\nunused devices: <none>\n";
        assert_eq!(
            mdstat_members(text, "md127").unwrap(),
            [
                ("loop3p3".to_string(), 1, "F".to_string()),
                ("loop3p2".to_string(), 0, String::new())
            ]
        );
        assert_eq!(mdstat_members(text, "md1").unwrap()[0].2, "S");
        assert_eq!(mdstat_members(text, "md12"), None);
        assert!(valid_uuid("3f0a1b2c:4d5e6f70:81920a1b:2c3d4e5f"));
        assert!(!valid_uuid("../x"));
    }
}
