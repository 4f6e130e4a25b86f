//! The guest's `/etc/fstab` resolved to session devices: `UUID=`, `LABEL=`,
//! `PARTUUID=`, `PARTLABEL=`, `/dev/disk/by-*/...`, `/dev/VG/LV`,
//! `/dev/mapper/VG-LV` and `/dev/sdXN`-style names (any of sd/vd/hd/xvd).

use crate::error::Result;
use crate::names::{DeviceName, canonical_device_name, parse_device};
use crate::session::VMCraft;

/// What identifies one session device.
#[derive(Debug, Default)]
struct Ids {
    name: String,
    uuid: String,
    label: String,
    partuuid: String,
    partlabel: String,
}

/// Filesystem types that are not on a device VMCraft can mount.
const VIRTUAL_FS: [&str; 14] = [
    "swap",
    "proc",
    "sysfs",
    "devpts",
    "tmpfs",
    "devtmpfs",
    "cgroup",
    "cgroup2",
    "nfs",
    "nfs4",
    "cifs",
    "smbfs",
    "securityfs",
    "none",
];

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\134", "\\")
}

fn ids(g: &VMCraft) -> Result<Vec<Ids>> {
    let mut out = Vec::new();
    for (dev, _) in g.list_filesystems()? {
        let mut id = Ids {
            name: dev.clone(),
            ..Default::default()
        };
        id.uuid = g.vfs_uuid(&dev).unwrap_or_default();
        id.label = g.vfs_label(&dev).unwrap_or_default();
        if let Ok(DeviceName::Partition(i, n)) = parse_device(&dev) {
            let drive = crate::names::drive_name(i);
            let n = n as i32;
            let _ = g.with_drive("inspect", &drive, |d| {
                match vmcraft_part::part_get_parttype(d).as_deref() {
                    Ok("gpt") => {
                        id.partuuid = vmcraft_part::part_get_gpt_guid(d, n).unwrap_or_default();
                        id.partlabel = vmcraft_part::part_get_name(d, n).unwrap_or_default();
                    }
                    Ok("msdos") => {
                        let mut sig = [0u8; 4];
                        if d.read_at(&mut sig, 440).is_ok() {
                            id.partuuid = format!("{:08x}-{n:02x}", u32::from_le_bytes(sig));
                        }
                    }
                    _ => {}
                }
                Ok(())
            });
        }
        out.push(id);
    }
    Ok(out)
}

/// Resolve a device spec from fstab to a session device name.
fn resolve_spec(spec: &str, all: &[Ids]) -> Option<String> {
    let by = |key: &str| -> Option<(&'static str, String)> {
        let (k, v) = spec.split_once('=')?;
        (k == key).then(|| ("", v.trim_matches('"').to_string()))
    };
    let pick = |f: &dyn Fn(&Ids) -> bool| all.iter().find(|i| f(i)).map(|i| i.name.clone());
    if let Some((_, u)) = by("UUID") {
        return pick(&|i| !i.uuid.is_empty() && i.uuid.eq_ignore_ascii_case(&u));
    }
    if let Some((_, l)) = by("LABEL") {
        return pick(&|i| !i.label.is_empty() && i.label == l);
    }
    if let Some((_, u)) = by("PARTUUID") {
        return pick(&|i| !i.partuuid.is_empty() && i.partuuid.eq_ignore_ascii_case(&u));
    }
    if let Some((_, l)) = by("PARTLABEL") {
        return pick(&|i| !i.partlabel.is_empty() && i.partlabel == l);
    }
    if let Some(rest) = spec.strip_prefix("/dev/disk/") {
        let (kind, v) = rest.split_once('/')?;
        let v = unescape_udev(v);
        return match kind {
            "by-uuid" => pick(&|i| i.uuid.eq_ignore_ascii_case(&v)),
            "by-label" => pick(&|i| !i.label.is_empty() && i.label == v),
            "by-partuuid" => pick(&|i| i.partuuid.eq_ignore_ascii_case(&v)),
            "by-partlabel" => pick(&|i| !i.partlabel.is_empty() && i.partlabel == v),
            _ => None,
        };
    }
    let canonical = canonical_device_name(spec);
    all.iter().any(|i| i.name == canonical).then_some(canonical)
}

/// udev escapes unusual characters in by-label names as `\xHH`.
fn unescape_udev(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && b.get(i + 1) == Some(&b'x')
            && let Some(v) = s
                .get(i + 2..i + 4)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// (mount point, session device) for every fstab entry that names a device of the
/// session; entries for virtual filesystems, swap and unknown devices are skipped.
pub(crate) fn resolve_fstab(g: &VMCraft, text: &str) -> Result<Vec<(String, String)>> {
    let entries: Vec<(String, String, String)> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((
                f.next()?.to_string(),
                unescape(f.next()?),
                f.next().unwrap_or("auto").to_string(),
            ))
        })
        .filter(|(_, mp, t)| mp.starts_with('/') && !VIRTUAL_FS.contains(&t.as_str()))
        .collect();
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let all = ids(g)?;
    let mut out = Vec::new();
    for (spec, mp, _) in entries {
        match resolve_spec(&spec, &all) {
            Some(dev) => out.push((mp, dev)),
            None => tracing::info!(
                spec,
                mountpoint = mp,
                "fstab entry names no device of this session"
            ),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Ids> {
        vec![
            Ids {
                name: "/dev/sda1".into(),
                uuid: "ABCD-1234".into(),
                label: "EFI".into(),
                partuuid: "1111".into(),
                partlabel: "esp".into(),
            },
            Ids {
                name: "/dev/sda2".into(),
                uuid: "0f0e-aa".into(),
                label: "root fs".into(),
                ..Default::default()
            },
            Ids {
                name: "/dev/data/home".into(),
                uuid: "cafe".into(),
                ..Default::default()
            },
        ]
    }

    #[test]
    fn every_kind_of_spec() {
        let all = sample();
        let r = |s: &str| resolve_spec(s, &all);
        assert_eq!(r("UUID=abcd-1234").as_deref(), Some("/dev/sda1"));
        assert_eq!(r("UUID=\"0F0E-AA\"").as_deref(), Some("/dev/sda2"));
        assert_eq!(r("LABEL=EFI").as_deref(), Some("/dev/sda1"));
        assert_eq!(r("PARTUUID=1111").as_deref(), Some("/dev/sda1"));
        assert_eq!(r("PARTLABEL=esp").as_deref(), Some("/dev/sda1"));
        assert_eq!(
            r("/dev/disk/by-label/root\\x20fs").as_deref(),
            Some("/dev/sda2")
        );
        assert_eq!(
            r("/dev/disk/by-uuid/cafe").as_deref(),
            Some("/dev/data/home")
        );
        assert_eq!(r("/dev/vda2").as_deref(), Some("/dev/sda2"));
        assert_eq!(
            r("/dev/mapper/data-home").as_deref(),
            Some("/dev/data/home")
        );
        assert_eq!(r("UUID=nope"), None);
        assert_eq!(r("/dev/sdc1"), None);
    }
}
