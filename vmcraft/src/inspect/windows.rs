//! Windows roots, as libguestfs inspects them: the system root found by name
//! (`/Windows`, `/WinNT`, `/Win32`, `/Win`, `/ReactOS`, any case, or from
//! `boot.ini`) and confirmed by `System32`, `System32/config` and
//! `System32/cmd.exe`; the architecture from `cmd.exe`'s PE header; then the
//! registry, read with libhivex (vmcraft-hivex) from private copies of the
//! hives: the product name, version, variant and build from
//! `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`, the current control set
//! from `HKLM\SYSTEM\Select`, the hostname from its
//! `Services\Tcpip\Parameters`, the drive letters from `MountedDevices`, and the
//! installed applications from the `Uninstall` keys. What the registry does not
//! say stays `unknown`: nothing is made up.
//!
//! A hive is guest data: it is copied (at most [`MAX_HIVE`] bytes, streamed)
//! into an unnamed private file that libhivex opens, and libhivex bounds what
//! it reads of it; a hive it refuses leaves the fields it would have filled
//! `unknown`.

use vmcraft_hivex::{Hive, OpenOptions, ValueType};

use super::InspectInfo;
use super::apps::{Application2, MAX_FIELD, MAX_PACKAGES};
use super::fsread::InspectFs;
use crate::error::Result;

/// The most entries of one directory looked through for a name.
const MAX_ENTRIES: usize = 100_000;

/// The largest hive copied for inspection (real SOFTWARE hives reach a few
/// hundred MiB on servers with much installed).
pub const MAX_HIVE: u64 = vmcraft_hivex::MAX_HIVE_SIZE;

/// Where libguestfs looks for the system root, in order.
const SYSTEMROOTS: [&str; 5] = ["/windows", "/winnt", "/win32", "/win", "/reactos"];

/// Find `path` component by component, ignoring case (NTFS and FAT are
/// case-insensitive; the trees VMCraft reads them through are not always):
/// libguestfs's `case_sensitive_path` for a path that exists.
pub(crate) fn find_nocase(root: &dyn InspectFs, path: &str) -> Option<String> {
    let mut cur = String::from("/");
    for comp in path.split('/').filter(|c| !c.is_empty()) {
        let names = root.read_dir(&cur, MAX_ENTRIES)?;
        let (hit, _) = names
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(comp))?;
        if cur != "/" {
            cur.push('/');
        }
        cur.push_str(&hit);
    }
    Some(cur)
}

fn is_dir_nocase(root: &dyn InspectFs, path: &str) -> bool {
    find_nocase(root, path).is_some_and(|p| root.is_dir(&p, true))
}

fn is_file_nocase(root: &dyn InspectFs, path: &str) -> bool {
    find_nocase(root, path).is_some_and(|p| root.is_file(&p, true))
}

/// Whether `systemroot` is a Windows system root (libguestfs's test: the
/// directories and `cmd.exe` it must hold, so that a data disk with
/// `/Program Files` is not taken for one).
fn is_systemroot(root: &dyn InspectFs, systemroot: &str) -> bool {
    is_dir_nocase(root, &format!("{systemroot}/system32"))
        && is_dir_nocase(root, &format!("{systemroot}/system32/config"))
        && is_file_nocase(root, &format!("{systemroot}/system32/cmd.exe"))
}

/// The system root of this filesystem, as it is spelt on it.
pub(crate) fn systemroot(root: &dyn InspectFs) -> Option<String> {
    for p in SYSTEMROOTS {
        if let Some(found) = find_nocase(root, p)
            && is_systemroot(root, &found)
        {
            return Some(found);
        }
    }
    // Older Windows: the roots `boot.ini` names (partition numbers ignored,
    // as libguestfs ignores them).
    let ini = find_nocase(root, "/boot.ini")?;
    let text = root.read_text(&ini, super::fsread::SMALL_FILE)?;
    let mut in_oses = false;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with("[operating systems]") {
            in_oses = true;
            continue;
        }
        if !in_oses {
            continue;
        }
        if !(line.starts_with("multi(") || line.starts_with("scsi(")) {
            break;
        }
        let Some((arc, _)) = line.split_once('=') else {
            continue;
        };
        // multi(0)disk(0)rdisk(0)partition(1)\WINDOWS
        let Some(i) = arc.find(")partition(") else {
            continue;
        };
        let rest = &arc[i + ")partition(".len()..];
        let Some(j) = rest.find(')') else { continue };
        let path = rest[j + 1..].replace('\\', "/");
        // As libguestfs: the path as boot.ini writes it.
        if let Some(found) = find_nocase(root, &path)
            && is_systemroot(root, &found)
        {
            return Some(path);
        }
    }
    None
}

/// Whether this filesystem is a Windows root.
pub(crate) fn is_root(root: &dyn InspectFs) -> bool {
    systemroot(root).is_some()
}

/// PE machine types to libguestfs's arch names.
pub(crate) fn pe_arch(image: &[u8]) -> Option<&'static str> {
    if image.get(..2)? != b"MZ" {
        return None;
    }
    let pe = u32::from_le_bytes(image.get(0x3C..0x40)?.try_into().ok()?) as usize;
    if image.get(pe..pe.checked_add(4)?)? != b"PE\0\0" {
        return None;
    }
    let machine = u16::from_le_bytes(image.get(pe + 4..pe + 6)?.try_into().ok()?);
    Some(match machine {
        0x8664 => "x86_64",
        0x014C => "i386",
        0xAA64 => "aarch64",
        0x01C4 => "arm",
        _ => return None,
    })
}

/// What the registry says of a Windows root beyond [`InspectInfo`]'s fields:
/// the drive letters as `MountedDevices` records them, for the caller to map
/// onto the session's partitions.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    /// `(letter, blob)`: a 12-byte MBR blob (disk signature, partition
    /// offset) or a `DMIO:ID:` GPT blob (the partition's GUID).
    pub mounted_devices: Vec<(String, Vec<u8>)>,
}

/// A guest hive copied into an unnamed private file in `dir` and opened
/// read-only; `None` (logged) when it is missing, too large or refused.
pub(crate) fn open_hive(fs: &dyn InspectFs, path: &str, dir: &std::path::Path) -> Option<Hive> {
    let src = fs.open_random(path)?;
    let mut size = src.size();
    if size > MAX_HIVE {
        tracing::info!(path, size, "hive too large for inspection");
        return None;
    }
    // Only what the base block says the hive holds (4 KiB + its bins) is
    // copied: a sparse file of 1 GiB after a small hive costs nothing.
    let mut base = [0u8; 0x30];
    if size >= 0x30 && src.read_exact_at(&mut base, 0).is_some() && &base[..4] == b"regf" {
        let bins = u32::from_le_bytes(base[0x28..0x2C].try_into().expect("4 bytes")) as u64;
        size = size.min(4096 + bins);
    }
    let (name, tmp) = crate::private_file::create(dir, "vmcraft-hive", "")
        .inspect_err(|e| tracing::warn!(path, error = %e, "cannot make a private copy of a hive"))
        .ok()?;
    // Unnamed from here on: the copy goes with its descriptor, whatever happens.
    let _ = std::fs::remove_file(&name);
    let mut buf = vec![0u8; (1 << 20).min(size as usize).max(1)];
    let mut pos = 0u64;
    tmp.set_len(size).ok()?;
    while pos < size {
        let n = ((size - pos) as usize).min(buf.len());
        src.read_exact_at(&mut buf[..n], pos)?;
        // Zeros are left as holes of the private copy.
        if buf[..n].iter().any(|&b| b != 0) {
            std::os::unix::fs::FileExt::write_all_at(&tmp, &buf[..n], pos).ok()?;
        }
        pos += n as u64;
    }
    match Hive::open_file(&tmp, OpenOptions::default()) {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::info!(path, error = %e, "hive not readable");
            None
        }
    }
}

/// A string value of `node` (`REG_SZ`/`REG_EXPAND_SZ`), cut at
/// [`MAX_FIELD`] bytes.
fn string_value(h: &Hive, node: vmcraft_hivex::Node, key: &str) -> Option<String> {
    let v = h.node_get_value(node, key).ok()??;
    let mut s = h.value_string(v).ok()?;
    if s.len() > MAX_FIELD {
        let mut cut = MAX_FIELD;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    Some(s)
}

fn dword_value(h: &Hive, node: vmcraft_hivex::Node, key: &str) -> Option<i32> {
    let v = h.node_get_value(node, key).ok()??;
    h.value_dword(v).ok()
}

/// `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion` into `info`.
fn software(h: &Hive, info: &mut InspectInfo) {
    let Ok(Some(node)) = h.get_path(&["Microsoft", "Windows NT", "CurrentVersion"]) else {
        tracing::info!("no HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion");
        return;
    };
    if let Some(name) = string_value(h, node, "ProductName") {
        info.product_name = name;
    }
    // Windows 10 and later: the two numbers; before: "6.1" and the like.
    match (
        dword_value(h, node, "CurrentMajorVersionNumber"),
        dword_value(h, node, "CurrentMinorVersionNumber"),
    ) {
        (Some(major), Some(minor)) => {
            info.major_version = major;
            info.minor_version = minor;
        }
        _ => {
            if let Some(v) = string_value(h, node, "CurrentVersion") {
                let mut it = v.trim().splitn(2, '.');
                if let (Some(Ok(major)), Some(Ok(minor))) = (
                    it.next().map(str::parse::<i32>),
                    it.next().map(str::parse::<i32>),
                ) {
                    info.major_version = major;
                    info.minor_version = minor;
                }
            }
        }
    }
    if let Some(t) = string_value(h, node, "InstallationType") {
        info.product_variant = t;
    }
    // Always CurrentBuildNumber: XP's CurrentBuild means something else.
    if let Some(b) = string_value(h, node, "CurrentBuildNumber") {
        info.build_id = b;
    }
}

/// `HKLM\SYSTEM`: the current control set, the hostname, the drive letters.
fn system(h: &Hive, info: &mut InspectInfo, reg: &mut Registry) {
    if let Ok(Some(md)) = h.get_path(&["MountedDevices"])
        && let Ok(values) = h.node_values(md)
    {
        for v in values.into_iter().take(MAX_ENTRIES) {
            let Ok(key) = h.value_key(v) else { continue };
            // Bytes, not characters: the name is the guest's.
            let k = key.as_bytes();
            if k.len() >= 14
                && k[..12].eq_ignore_ascii_case(b"\\dosdevices\\")
                && k[12].is_ascii_alphabetic()
                && k[13] == b':'
            {
                let letter = (k[12] as char).to_string();
                // The first value for a letter counts; at most 26 are kept.
                if reg.mounted_devices.iter().any(|(l, _)| *l == letter) {
                    continue;
                }
                if let Ok((t, blob)) = h.value_value(v)
                    && t == ValueType::BINARY
                {
                    reg.mounted_devices.push((letter, blob));
                }
            }
        }
    }
    let Some(current) = h
        .get_path(&["Select"])
        .ok()
        .flatten()
        .and_then(|n| dword_value(h, n, "Current"))
    else {
        tracing::info!("no HKLM\\SYSTEM\\Select\\Current");
        return;
    };
    let ccs = format!("ControlSet{current:03}");
    if let Ok(Some(params)) = h.get_path(&[&ccs, "Services", "Tcpip", "Parameters"])
        && let Some(name) = string_value(h, params, "Hostname")
    {
        info.hostname = name;
    }
    info.windows_current_control_set = Some(ccs);
}

/// Describe the Windows root on `device`, reading its hives through private
/// copies in `dir`.
pub(crate) fn inspect(
    device: &str,
    root: &dyn InspectFs,
    dir: &std::path::Path,
) -> Result<(InspectInfo, Registry)> {
    let systemroot = systemroot(root).unwrap_or_else(|| "/Windows".into());
    let mut info = InspectInfo {
        root: device.to_string(),
        os_type: "windows".into(),
        distro: "windows".into(),
        product_name: "unknown".into(),
        product_variant: "unknown".into(),
        build_id: "unknown".into(),
        hostname: "unknown".into(),
        arch: "unknown".into(),
        package_format: "unknown".into(),
        package_management: "unknown".into(),
        mountpoints: vec![("/".into(), device.to_string())],
        filesystems: vec![device.to_string()],
        windows_systemroot: Some(systemroot.clone()),
        ..Default::default()
    };
    if let Some(p) = find_nocase(root, &format!("{systemroot}/system32/cmd.exe"))
        && let Some(head) = root.read_head(&p, 4096)
        && let Some(a) = pe_arch(&head)
    {
        info.arch = a.to_string();
    }
    let mut reg = Registry::default();
    let software_hive = find_nocase(root, &format!("{systemroot}/system32/config/software"))
        .filter(|p| root.is_file(p, true));
    let system_hive = find_nocase(root, &format!("{systemroot}/system32/config/system"))
        .filter(|p| root.is_file(p, true));
    info.windows_software_hive = software_hive.clone();
    info.windows_system_hive = system_hive.clone();
    // As libguestfs: the registry is read only when both hives are there.
    if let (Some(sw), Some(sys)) = (software_hive, system_hive) {
        if let Some(h) = open_hive(root, &sw, dir) {
            software(&h, &mut info);
        }
        if let Some(h) = open_hive(root, &sys, dir) {
            system(&h, &mut info, &mut reg);
        }
    }
    Ok((info, reg))
}

/// The applications of a Windows root: the subkeys of the `Uninstall` keys
/// (the native one and `WOW6432Node`'s) of its SOFTWARE hive, as libguestfs
/// lists them.
pub(crate) fn applications(h: &Hive) -> Vec<Application2> {
    let mut out = Vec::new();
    for path in [
        &["Microsoft", "Windows", "CurrentVersion", "Uninstall"][..],
        &[
            "WOW6432Node",
            "Microsoft",
            "Windows",
            "CurrentVersion",
            "Uninstall",
        ][..],
    ] {
        let Ok(Some(node)) = h.get_path(path) else {
            continue;
        };
        let Ok(children) = h.node_children(node) else {
            continue;
        };
        for child in children {
            if out.len() >= MAX_PACKAGES {
                return out;
            }
            let Ok(name) = h.node_name(child) else {
                continue;
            };
            let get = |k: &str| string_value(h, child, k).unwrap_or_default();
            out.push(Application2 {
                app2_name: name,
                app2_display_name: get("DisplayName"),
                app2_version: get("DisplayVersion"),
                app2_install_path: get("InstallLocation"),
                app2_publisher: get("Publisher"),
                app2_url: get("URLInfoAbout"),
                app2_description: get("Comments"),
                ..Default::default()
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::fsread::mem::MemFs;

    #[test]
    fn pe_machine() {
        let mut img = vec![0u8; 0x100];
        img[..2].copy_from_slice(b"MZ");
        img[0x3C..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        img[0x80..0x84].copy_from_slice(b"PE\0\0");
        img[0x84..0x86].copy_from_slice(&0x8664u16.to_le_bytes());
        assert_eq!(pe_arch(&img), Some("x86_64"));
        img[0x84..0x86].copy_from_slice(&0x014Cu16.to_le_bytes());
        assert_eq!(pe_arch(&img), Some("i386"));
        img[0x3C..0x40].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(pe_arch(&img), None);
        assert_eq!(pe_arch(b"MZ"), None);
    }

    #[test]
    fn systemroots_need_system32_config_and_cmd_exe() {
        let fs = MemFs::new(&[
            ("/WINDOWS/System32/config/SYSTEM", "h"),
            ("/WINDOWS/System32/CMD.EXE", "MZ"),
        ]);
        assert_eq!(systemroot(&fs).as_deref(), Some("/WINDOWS"));
        // A data disk with a Windows-looking directory is not a root.
        let data = MemFs::new(&[("/Windows/System32/drivers/x.sys", "x")]);
        assert_eq!(systemroot(&data), None);
        // boot.ini names the root.
        let xp = MemFs::new(&[
            (
                "/boot.ini",
                "[boot loader]\r\ntimeout=30\r\n[operating systems]\r\nmulti(0)disk(0)rdisk(0)partition(1)\\OLDWIN=\"Windows\" /fastdetect\r\n",
            ),
            ("/OldWin/system32/config/system", "h"),
            ("/OldWin/system32/cmd.exe", "MZ"),
        ]);
        // As boot.ini spells it.
        assert_eq!(systemroot(&xp).as_deref(), Some("/OLDWIN"));
    }
}
