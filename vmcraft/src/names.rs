//! libguestfs device names: `/dev/sda` for the first drive, `/dev/sdb1` for the
//! first partition of the second, `/dev/VG/LV` for logical volumes; the aliases
//! libguestfs accepts (`/dev/vda`, `/dev/hda`, `/dev/xvda`, `/dev/mapper/VG-LV`);
//! parsing a name into what it designates; and the disk labels drives may be
//! given (`add_drive_opts`'s `label`).

use crate::error::{Error, Result};

/// The name of drive `index` (0-based): `/dev/sda` ... `/dev/sdz`, `/dev/sdaa` ...
/// A drive's index never changes once the session is launched (a drive removed
/// then leaves a hole), so neither does its name.
///
/// ```
/// assert_eq!(vmcraft::names::drive_name(0), "/dev/sda");
/// assert_eq!(vmcraft::names::drive_name(25), "/dev/sdz");
/// assert_eq!(vmcraft::names::drive_name(26), "/dev/sdaa");
/// ```
pub fn drive_name(index: usize) -> String {
    let mut letters = Vec::new();
    let mut n = index + 1;
    while n > 0 {
        n -= 1;
        letters.push(b'a' + (n % 26) as u8);
        n /= 26;
    }
    letters.reverse();
    format!("/dev/sd{}", String::from_utf8(letters).expect("ascii"))
}

/// The longest disk label libguestfs accepts (`add_drive_opts`'s `label`).
pub const MAX_DISK_LABEL: usize = 20;

/// Check a disk label as libguestfs does: 1 to [`MAX_DISK_LABEL`] ASCII letters
/// and nothing else (no digits: the label of a partition is the drive's label
/// followed by its number, `data1`).
///
/// ```
/// use vmcraft::names::valid_disk_label;
/// assert!(valid_disk_label("boot"));
/// assert!(!valid_disk_label(""));
/// assert!(!valid_disk_label("disk2"));
/// assert!(!valid_disk_label(&"a".repeat(21)));
/// ```
pub fn valid_disk_label(label: &str) -> bool {
    (1..=MAX_DISK_LABEL).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_alphabetic())
}

fn drive_index(letters: &str) -> Option<usize> {
    if letters.is_empty() || !letters.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    let mut n = 0usize;
    for b in letters.bytes() {
        n = n.checked_mul(26)?.checked_add((b - b'a' + 1) as usize)?;
    }
    Some(n - 1)
}

/// What a device name designates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceName {
    /// A whole drive (0-based index).
    Drive(usize),
    /// A partition: drive index and partition number (1-based).
    Partition(usize, u32),
    /// A logical volume: VG and LV.
    LogicalVolume(String, String),
    /// A device the session opened on its drives, by its canonical name: a
    /// device-mapper mapping (`/dev/mapper/NAME`, as `cryptsetup_open` makes) or
    /// an md array (`/dev/mdN`).
    Mapped(String),
}

/// Parse a device name (canonical or alias) into what it designates.
///
/// ```
/// use vmcraft::names::{parse_device, DeviceName};
/// assert_eq!(parse_device("/dev/sdb2").unwrap(), DeviceName::Partition(1, 2));
/// assert_eq!(parse_device("/dev/vda").unwrap(), DeviceName::Drive(0));
/// assert_eq!(parse_device("/dev/mapper/vg--a-root").unwrap(),
///            DeviceName::LogicalVolume("vg-a".into(), "root".into()));
/// assert_eq!(parse_device("/dev/mapper/cryptroot").unwrap(),
///            DeviceName::Mapped("/dev/mapper/cryptroot".into()));
/// assert_eq!(parse_device("/dev/md127").unwrap(), DeviceName::Mapped("/dev/md127".into()));
/// assert!(parse_device("/etc/passwd").is_err());
/// ```
///
/// A `/dev/mapper/` name with one single dash reads as `VG-LV` here; the
/// session knows better when it opened a mapping of that name
/// ([`crate::VMCraft::canonical_device_name`] keeps it as it is).
pub fn parse_device(name: &str) -> Result<DeviceName> {
    let bad = || {
        Error::invalid(
            "parse_device",
            name,
            "not a device name (expected /dev/sdX, /dev/sdXN, /dev/VG/LV, /dev/mapper/NAME \
             or /dev/mdN)",
        )
    };
    let rest = name.strip_prefix("/dev/").ok_or_else(bad)?;
    if let Some(mapper) = rest.strip_prefix("mapper/") {
        if let Some((vg, lv)) = split_mapper(mapper) {
            return Ok(DeviceName::LogicalVolume(vg, lv));
        }
        return if valid_map_name(mapper) {
            Ok(DeviceName::Mapped(name.to_string()))
        } else {
            Err(bad())
        };
    }
    if let Some(n) = rest.strip_prefix("md")
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
        && (n == "0" || !n.starts_with('0'))
    {
        return Ok(DeviceName::Mapped(name.to_string()));
    }
    let disk = ["sd", "vd", "hd", "xvd"]
        .iter()
        .find_map(|p| rest.strip_prefix(p));
    if let Some(d) = disk {
        let letters: String = d.chars().take_while(|c| c.is_ascii_lowercase()).collect();
        let digits = &d[letters.len()..];
        if let Some(idx) = drive_index(&letters) {
            if digits.is_empty() {
                return Ok(DeviceName::Drive(idx));
            }
            if let Ok(n) = digits.parse::<u32>()
                && n > 0
                && !digits.starts_with('0')
            {
                return Ok(DeviceName::Partition(idx, n));
            }
            return Err(bad());
        }
    }
    let mut parts = rest.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(vg), Some(lv), None) if !vg.is_empty() && !lv.is_empty() => {
            Ok(DeviceName::LogicalVolume(vg.to_string(), lv.to_string()))
        }
        _ => Err(bad()),
    }
}

/// The longest device-mapper name the kernel takes (`DM_NAME_LEN` less its NUL).
pub const MAX_MAP_NAME: usize = 127;

/// Whether `name` may name a device-mapper mapping the session makes
/// (`cryptsetup_open`'s `mapname`): 1 to [`MAX_MAP_NAME`] bytes of ASCII
/// letters, digits and `_.+-`, not starting with `-` or `.` (never a path, an
/// option or `.`/`..`).
///
/// ```
/// use vmcraft::names::valid_map_name;
/// assert!(valid_map_name("luks-0f1e"));
/// assert!(!valid_map_name("../control"));
/// assert!(!valid_map_name("-x"));
/// assert!(!valid_map_name(""));
/// ```
pub fn valid_map_name(name: &str) -> bool {
    (1..=MAX_MAP_NAME).contains(&name.len())
        && !name.starts_with(['-', '.'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(&b))
}

/// `/dev/mapper/VG-LV` (dashes inside names doubled) into (VG, LV).
fn split_mapper(s: &str) -> Option<(String, String)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'-' {
            if b.get(i + 1) == Some(&b'-') {
                i += 2;
                continue;
            }
            let vg = s[..i].replace("--", "-");
            let lv = s[i + 1..].replace("--", "-");
            return (!vg.is_empty() && !lv.is_empty()).then_some((vg, lv));
        }
        i += 1;
    }
    None
}

/// The canonical spelling of a device name, as libguestfs's
/// `canonical_device_name`: `/dev/vda1` and `/dev/hda1` become `/dev/sda1`,
/// `/dev/mapper/VG-LV` becomes `/dev/VG/LV`; anything else is returned unchanged.
///
/// ```
/// use vmcraft::names::canonical_device_name;
/// assert_eq!(canonical_device_name("/dev/vdb3"), "/dev/sdb3");
/// assert_eq!(canonical_device_name("/dev/mapper/data-home"), "/dev/data/home");
/// assert_eq!(canonical_device_name("/dev/md0"), "/dev/md0");
/// ```
pub fn canonical_device_name(name: &str) -> String {
    match parse_device(name) {
        Ok(d) => format_device(&d),
        Err(_) => name.to_string(),
    }
}

/// The canonical name of what a [`DeviceName`] designates.
pub fn format_device(d: &DeviceName) -> String {
    match d {
        DeviceName::Drive(i) => drive_name(*i),
        DeviceName::Partition(i, n) => format!("{}{n}", drive_name(*i)),
        DeviceName::LogicalVolume(vg, lv) => format!("/dev/{vg}/{lv}"),
        DeviceName::Mapped(name) => name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drive_names_round_trip() {
        for i in 0..800 {
            assert_eq!(
                parse_device(&drive_name(i)).unwrap(),
                DeviceName::Drive(i),
                "{i}"
            );
        }
    }

    #[test]
    fn rejects_non_devices_and_bad_numbers() {
        for bad in [
            "/dev/sda0",
            "/dev/sda01",
            "/dev/sd",
            "/dev/sdA1",
            "sda1",
            "/dev/mapper/",
            "/dev/mapper/../x",
            "/dev/mapper/a/b",
            "/dev/md",
            "/dev/md01",
            "/dev/mdx",
            "/dev/a/b/c",
            "/dev/",
        ] {
            assert!(parse_device(bad).is_err(), "{bad}");
        }
        assert_eq!(canonical_device_name("/dev/xvda2"), "/dev/sda2");
        assert_eq!(
            parse_device("/dev/data/home").unwrap(),
            DeviceName::LogicalVolume("data".into(), "home".into())
        );
    }
}
