//! The guest's `/etc/fstab` resolved to session devices: `UUID=`, `LABEL=`,
//! `PARTUUID=`, `PARTLABEL=`, `/dev/disk/by-*/...`, `/dev/VG/LV`,
//! `/dev/mapper/VG-LV`, `/dev/sdXN`-style names (any of sd/vd/hd/xvd), the
//! session's mappings (`/dev/mapper/NAME`) and the guest's md names
//! (`/dev/md0`, mapped to the session's arrays through its mdadm.conf).

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
            // The table read once for both names (once per image in-process).
            let cached = g.inproc_table(&drive);
            let _ = g.with_drive("inspect", &drive, |d| {
                let table = match cached {
                    Some(t) => t,
                    None => vmcraft_part::PartitionTable::read(d)
                        .ok()
                        .map(std::sync::Arc::new),
                };
                let Some(table) = table else {
                    return Ok(());
                };
                match table.parttype() {
                    vmcraft_part::PartType::Gpt => {
                        if let Ok(p) = table.partition(n) {
                            id.partuuid = p
                                .gpt_guid
                                .map(|g| vmcraft_part::format_guid(&g))
                                .unwrap_or_default();
                            id.partlabel = p.name.unwrap_or_default();
                        }
                    }
                    vmcraft_part::PartType::Msdos => {
                        let mut sig = [0u8; 4];
                        if d.read_at(&mut sig, 440).is_ok() {
                            id.partuuid = format!("{:08x}-{n:02x}", u32::from_le_bytes(sig));
                        }
                    }
                }
                Ok(())
            });
        }
        out.push(id);
    }
    Ok(out)
}

/// Resolve a device spec from fstab to a session device name.
/// What else a `/dev/disk/by-id` name is resolved with: the session's drive
/// count (`...-partN` is mapped only on a single-disk guest, as libguestfs
/// does) and the LVs by their VG and LV UUIDs (`dm-uuid-LVM-<vg><lv>`, as
/// Ubuntu 22.04 and later write the LVM root).
#[derive(Debug, Default)]
struct ById {
    drives: usize,
    /// (VG UUID + LV UUID, 64 characters without dashes, `/dev/VG/LV`).
    lvs: Vec<(String, String)>,
}

/// `/dev/disk/by-id/...` names.
fn resolve_by_id(rest: &str, all: &[Ids], by_id: &ById) -> Option<String> {
    let exists = |name: String| all.iter().any(|i| i.name == name).then_some(name);
    if let Some(uuids) = rest.strip_prefix("dm-uuid-LVM-") {
        if uuids.len() != 64 || !uuids.bytes().all(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        let lv = by_id.lvs.iter().find(|(u, _)| u == uuids)?;
        return exists(lv.1.clone());
    }
    let (_, n) = rest.rsplit_once("-part")?;
    if n.is_empty() || !n.bytes().all(|c| c.is_ascii_digit()) || by_id.drives != 1 {
        return None;
    }
    exists(format!("/dev/sda{}", n.parse::<u32>().ok()?))
}

#[cfg(test)]
fn resolve_spec(spec: &str, all: &[Ids]) -> Option<String> {
    resolve_spec_with(spec, all, &ById::default())
}

fn resolve_spec_with(spec: &str, all: &[Ids], by_id: &ById) -> Option<String> {
    if let Some(rest) = spec.strip_prefix("/dev/disk/by-id/") {
        return resolve_by_id(rest, all, by_id);
    }
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
    // A mapping the session opened keeps its name even when it reads as
    // VG-LV (`/dev/mapper/luks-0f1e...`).
    if all.iter().any(|i| i.name == spec) {
        return Some(spec.to_string());
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

/// Whether libguestfs ignores an fstab entry for this spec (floppies, CD-ROMs,
/// FreeBSD's install media).
fn ignored_spec(spec: &str) -> bool {
    let numbered = |p: &str| {
        spec.strip_prefix(p)
            .is_some_and(|r| r.as_bytes().first().is_some_and(u8::is_ascii_digit))
    };
    numbered("/dev/fd")
        || numbered("/dev/cd")
        || spec == "/dev/floppy"
        || spec == "/dev/cdrom"
        || spec.starts_with("/dev/iso9660/")
}

/// Whether libguestfs ignores an fstab entry for this (canonical) mount point.
fn ignored_mountpoint(mp: &str) -> bool {
    ["/dev", "/proc", "/selinux", "/sys"]
        .iter()
        .any(|p| mp == *p || mp.starts_with(&format!("{p}/")))
        || mp.starts_with("/media/")
}

/// `///usr//local//` -> `/usr/local`.
fn canonical_path(p: &str) -> String {
    let parts: Vec<&str> = p.split('/').filter(|c| !c.is_empty()).collect();
    let joined = parts.join("/");
    if p.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

/// One fstab line's fields: spec, mount point, type, options.
pub(crate) fn fstab_entries(text: &str) -> Vec<(String, String, String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .take(MAX_FSTAB_ENTRIES)
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            // Octal escapes (`\040` for a space) as mount(8) reads them,
            // in the device (`PARTLABEL=my\040disk`) as in the mount point.
            Some((
                unescape(f.next()?),
                unescape(f.next()?),
                f.next()?.to_string(),
                f.next().unwrap_or("defaults").to_string(),
            ))
        })
        .collect()
}

/// At most this many fstab lines are looked at.
const MAX_FSTAB_ENTRIES: usize = 4096;

/// The `subvol=` of a btrfs entry's options, if any.
pub(crate) fn btrfs_subvol(options: &str) -> Option<&str> {
    options
        .split(',')
        .find_map(|o| o.strip_prefix("subvol="))
        .filter(|v| !v.is_empty())
}

/// The `subvolid=` of a btrfs entry's options, if any.
pub(crate) fn btrfs_subvolid(options: &str) -> Option<u64> {
    options
        .split(',')
        .find_map(|o| o.strip_prefix("subvolid="))
        .and_then(|v| v.parse().ok())
}

/// (mountable, mount point) for every fstab entry libguestfs keeps, in fstab
/// order: swap entries too (their mount point is `none` or `swap`); an entry
/// whose device is named by `UUID=`, `LABEL=`, `PARTUUID=`, `PARTLABEL=` or a
/// `/dev` path is kept when it names a device of this session; `/dev/root` is
/// `root`; a btrfs entry with `subvol=` is the subvolume
/// (`btrfsvol:/dev/sda2/root`), and so is one with `subvolid=` (its path from
/// the filesystem's subvolume list; id 5, the top, is the whole device); pseudo filesystems, floppies, CD-ROMs and the
/// mount points under `/dev`, `/proc`, `/sys`, `/selinux` and `/media` are left
/// out; of several `/` entries the first is kept.
///
/// libguestfs keeps a `/dev` path it cannot map as it is written; VMCraft
/// leaves it out (and logs it), so the mount points only name devices that
/// exist.
pub(crate) fn resolve_fstab(
    g: &VMCraft,
    root: &str,
    text: &str,
    mdadm_conf: &str,
) -> Result<Vec<(String, String)>> {
    let entries = fstab_entries(text);
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let all = ids(g)?;
    let md_names = if entries.iter().any(|e| e.0.starts_with("/dev/md")) {
        guest_md_names(g, mdadm_conf)
    } else {
        Vec::new()
    };
    let mut by_id = ById {
        drives: g.list_devices().map(|d| d.len()).unwrap_or(0),
        lvs: Vec::new(),
    };
    if entries
        .iter()
        .any(|e| e.0.starts_with("/dev/disk/by-id/dm-uuid-LVM-"))
        && let (Ok(vgs), Ok(lvs)) = (g.vgs_full(), g.lvs_full())
    {
        // libguestfs pairs any VG of that UUID with any LV of that UUID.
        for vg in &vgs {
            for lv in &lvs {
                by_id.lvs.push((
                    format!("{}{}", vg.vg_uuid, lv.lv_uuid).replace('-', ""),
                    format!("/dev/{}/{}", vg.vg_name, lv.lv_name),
                ));
            }
        }
    }
    let mut out: Vec<(String, String)> = Vec::new();
    // Each btrfs filesystem's subvolumes, listed once however many entries
    // name one by id.
    let mut subvols: SubvolCache = std::collections::HashMap::new();
    for (spec, mp, vfstype, options) in entries {
        if ignored_spec(&spec) {
            continue;
        }
        let mp = canonical_path(&mp);
        if ignored_mountpoint(&mp) {
            continue;
        }
        let dev = if spec == "/dev/root" {
            Some(root.to_string())
        } else if let Some((_, md)) = md_names.iter().find(|(name, _)| *name == spec) {
            Some(md.clone())
        } else if spec.starts_with("/dev/")
            || ["UUID=", "LABEL=", "PARTUUID=", "PARTLABEL="]
                .iter()
                .any(|p| spec.starts_with(p))
        {
            resolve_spec_with(&spec, &all, &by_id)
        } else {
            None
        };
        let Some(dev) = dev else {
            if spec.starts_with('/') || spec.contains('=') {
                tracing::info!(
                    spec,
                    mountpoint = mp,
                    "fstab entry names no device of this session"
                );
            }
            continue;
        };
        let mountable = match (btrfs_subvol(&options), btrfs_subvolid(&options)) {
            _ if vfstype != "btrfs" || dev.starts_with("btrfsvol:") => dev,
            (Some(sub), _) => format!("btrfsvol:{dev}/{}", sub.trim_start_matches('/')),
            // Top level (5) is the whole device, as the kernel mounts it.
            (None, Some(5)) | (None, None) => dev,
            (None, Some(id)) => match btrfs_subvolume_path(g, &mut subvols, &dev, id) {
                Some(path) => format!("btrfsvol:{dev}/{path}"),
                None => {
                    tracing::info!(
                        spec,
                        id,
                        "fstab names a btrfs subvolume id the filesystem lacks"
                    );
                    continue;
                }
            },
        };
        if mp == "/" && out.iter().any(|(_, m)| m == "/") {
            tracing::warn!(
                spec,
                "several / entries in the guest's fstab: the first is kept"
            );
            continue;
        }
        out.push((mountable, mp));
    }
    Ok(out)
}

/// The guest's md device names (`/dev/md0`, `/dev/md/root`) mapped to the
/// session's running arrays (`/dev/md127`) through the guest's mdadm.conf
/// (`ARRAY NAME ... UUID=...`) and each array's UUID, as libguestfs maps them.
fn guest_md_names(g: &VMCraft, mdadm_conf: &str) -> Vec<(String, String)> {
    let norm = |u: &str| -> String {
        u.chars()
            .filter(char::is_ascii_hexdigit)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let ours: Vec<(String, String)> = g
        .list_md_devices()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|md| {
            let uuid = g
                .md_detail(&md)
                .ok()?
                .into_iter()
                .find(|(k, _)| k == "uuid")?
                .1;
            Some((norm(&uuid), md))
        })
        .collect();
    if ours.is_empty() {
        return Vec::new();
    }
    mdadm_conf_arrays(mdadm_conf)
        .into_iter()
        .filter_map(|(name, uuid)| {
            let md = ours.iter().find(|(u, _)| *u == norm(&uuid))?.1.clone();
            Some((name, md))
        })
        .collect()
}

/// (device name, UUID) of each `ARRAY` line of an mdadm.conf, bounded.
fn mdadm_conf_arrays(text: &str) -> Vec<(String, String)> {
    text.lines()
        .take(MAX_FSTAB_ENTRIES)
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            if words.next() != Some("ARRAY") {
                return None;
            }
            let name = words.next()?.to_string();
            let uuid = words.find_map(|w| {
                let (k, v) = w.split_once('=')?;
                k.eq_ignore_ascii_case("uuid").then(|| v.to_string())
            })?;
            name.starts_with("/dev/md").then_some((name, uuid))
        })
        .collect()
}

/// Per btrfs device, its subvolumes (id, path).
type SubvolCache = std::collections::HashMap<String, Vec<(u64, String)>>;

/// The path of btrfs subvolume `id` of `dev` (`subvolid=` in an fstab; libguestfs
/// reads `subvol=` only), from the subvolume list (listed once per device).
fn btrfs_subvolume_path(
    g: &VMCraft,
    cache: &mut SubvolCache,
    dev: &str,
    id: u64,
) -> Option<String> {
    let vols = cache.entry(dev.to_string()).or_insert_with(|| {
        g.btrfs_subvolume_list(dev)
            .inspect_err(
                |e| tracing::debug!(dev, error = %e.chain(), "btrfs subvolume list failed"),
            )
            .map(|v| {
                v.into_iter()
                    .map(|s| (s.btrfssubvolume_id, s.btrfssubvolume_path))
                    .collect()
            })
            .unwrap_or_default()
    });
    vols.iter()
        .find(|(i, _)| *i == id)
        .map(|(_, p)| p.trim_start_matches('/').to_string())
        .filter(|p| !p.is_empty())
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
        let one = ById {
            drives: 1,
            lvs: vec![(
                format!("{}{}", "a".repeat(32), "b".repeat(32)),
                "/dev/data/home".into(),
            )],
        };
        let by = |s: &str| resolve_spec_with(s, &all, &one);
        assert_eq!(
            by("/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001-part2").as_deref(),
            Some("/dev/sda2")
        );
        assert_eq!(by("/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001-part9"), None);
        assert_eq!(by("/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001-partx"), None);
        assert_eq!(
            by(&format!(
                "/dev/disk/by-id/dm-uuid-LVM-{}{}",
                "a".repeat(32),
                "b".repeat(32)
            ))
            .as_deref(),
            Some("/dev/data/home")
        );
        assert_eq!(by("/dev/disk/by-id/dm-uuid-LVM-short"), None);
        // Several drives: a by-id partition cannot be placed.
        assert_eq!(r("/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001-part2"), None);
        assert_eq!(r("/dev/sdb"), None);
        assert_eq!(r("/dev/sdc1"), None);
    }
}

#[cfg(test)]
mod entry_tests {
    use super::*;

    #[test]
    fn entries_and_options() {
        let e = fstab_entries(
            "# c\n\nLABEL=ROOT / btrfs subvol=root,compress=zstd 0 0\n/dev/sda3 none swap sw 0 0\n\
             /dev/fd0 /mnt/floppy auto noauto 0 0\nshort line\nproc /proc proc defaults 0 0\n\
             /dev/sdb1 /my\\040dir ext4\n",
        );
        assert_eq!(e.len(), 5);
        assert_eq!(e[0].3, "subvol=root,compress=zstd");
        assert_eq!(btrfs_subvol(&e[0].3), Some("root"));
        assert_eq!(btrfs_subvol("subvol=,x"), None);
        assert_eq!(btrfs_subvolid("compress=zstd,subvolid=257"), Some(257));
        assert_eq!(btrfs_subvolid("subvolid=x"), None);
        assert_eq!(
            mdadm_conf_arrays(
                "# mdadm.conf\nDEVICE partitions\nARRAY /dev/md0 level=raid1 num-devices=2 \
                 UUID=3f0a1b2c:4d5e6f70:81920a1b:2c3d4e5f\nARRAY /dev/md/home metadata=1.2 \
                 name=h:home uuid=aa:bb\nARRAY <ignore> UUID=1\nMAILADDR root\n"
            ),
            [
                (
                    "/dev/md0".to_string(),
                    "3f0a1b2c:4d5e6f70:81920a1b:2c3d4e5f".to_string()
                ),
                ("/dev/md/home".to_string(), "aa:bb".to_string())
            ]
        );
        assert_eq!(e[4].1, "/my dir");
        assert_eq!(e[4].3, "defaults");
        assert!(
            ignored_spec("/dev/fd0") && ignored_spec("/dev/cdrom") && !ignored_spec("/dev/fda")
        );
        assert!(ignored_mountpoint("/proc") && ignored_mountpoint("/sys/fs/cgroup"));
        assert!(ignored_mountpoint("/media/usb") && !ignored_mountpoint("/media"));
        assert!(!ignored_mountpoint("/devices"));
        assert_eq!(canonical_path("///usr//local//"), "/usr/local");
        // A hostile fstab: a huge number of lines is cut, odd bytes do not panic.
        let many = "/dev/sda1 / ext4 defaults 0 0\n".repeat(10_000);
        assert_eq!(fstab_entries(&many).len(), MAX_FSTAB_ENTRIES);
        let _ = fstab_entries("\u{0}\u{0}\u{0}\u{0}\n=== = = =\n\\0 \\ \\04");
    }
}
