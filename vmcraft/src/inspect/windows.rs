//! Windows roots: recognised by the system hive (`/Windows/System32/config/SYSTEM`,
//! any case), described from what the filesystem shows without parsing the
//! registry: the system root and the machine type of the kernel's PE header.

use super::InspectInfo;
use super::fsread::InspectFs;
use crate::error::Result;

/// The most entries of one directory looked through for a name.
const MAX_ENTRIES: usize = 100_000;

/// Find `path` component by component, ignoring case (NTFS and FAT are
/// case-insensitive, the host view of them not always).
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

/// Whether this filesystem is a Windows root.
pub(crate) fn is_root(root: &dyn InspectFs) -> bool {
    [
        "/Windows/System32/config/SYSTEM",
        "/WinNT/System32/config/SYSTEM",
    ]
    .iter()
    .any(|p| find_nocase(root, p).is_some_and(|f| root.is_file(&f, true)))
}

/// PE machine types to libguestfs's arch names.
pub(crate) fn pe_arch(image: &[u8]) -> Option<&'static str> {
    if image.get(..2)? != b"MZ" {
        return None;
    }
    let pe = u32::from_le_bytes(image.get(0x3C..0x40)?.try_into().ok()?) as usize;
    if image.get(pe..pe + 4)? != b"PE\0\0" {
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

/// Describe the Windows root on `device`.
pub(crate) fn inspect(device: &str, root: &dyn InspectFs) -> Result<InspectInfo> {
    let systemroot = find_nocase(root, "/Windows")
        .or_else(|| find_nocase(root, "/WinNT"))
        .unwrap_or_else(|| "/Windows".into());
    let mut arch = "unknown".to_string();
    for f in ["System32/ntoskrnl.exe", "System32/kernel32.dll"] {
        if let Some(p) = find_nocase(root, &format!("{systemroot}/{f}"))
            && let Some(head) = root.read_head(&p, 4096)
            && let Some(a) = pe_arch(&head)
        {
            arch = a.to_string();
            break;
        }
    }
    Ok(InspectInfo {
        root: device.to_string(),
        os_type: "windows".into(),
        distro: "windows".into(),
        product_name: "Windows".into(),
        major_version: 0,
        minor_version: 0,
        hostname: "unknown".into(),
        arch,
        package_format: "unknown".into(),
        package_management: "unknown".into(),
        mountpoints: vec![("/".into(), device.to_string())],
        filesystems: vec![device.to_string()],
        windows_systemroot: Some(systemroot),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pe_machine() {
        let mut img = vec![0u8; 512];
        img[..2].copy_from_slice(b"MZ");
        img[0x3C..0x40].copy_from_slice(&128u32.to_le_bytes());
        img[128..132].copy_from_slice(b"PE\0\0");
        img[132..134].copy_from_slice(&0x8664u16.to_le_bytes());
        assert_eq!(pe_arch(&img), Some("x86_64"));
        assert_eq!(pe_arch(b"\x7fELF"), None);
    }
}
