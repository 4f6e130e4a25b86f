//! The one judgement of an archive entry, made by the verification pass and
//! by extraction alike, so that an archive `tar_in` checks first is refused
//! then for everything extraction would refuse it for, and nothing extraction
//! does rests on a field no check has read.
//!
//! [`check_entry`] takes a member as [`crate::framer::Framer`] resolved it
//! (normalised header, name, link target) and returns what to make
//! ([`Plan`]): the kind, the name's components beneath the target directory,
//! a hard link's target components, and the numeric fields (mode, owner,
//! mtime, device numbers) parsed strictly. It refuses:
//!
//! - names that are empty, absolute, hold a `..` component or a NUL byte, and
//!   hard-link targets likewise ([`crate::ErrorKind::Unsafe`]);
//! - anything but a directory standing for the target directory itself (a
//!   regular file, symlink, hard link or device named `.` or `./`), and hard
//!   links to it ([`crate::ErrorKind::Unsafe`]);
//! - a symlink with an empty target ([`crate::ErrorKind::Corrupt`]);
//! - a mode, uid, gid, mtime or device field that is not a number (octal, or
//!   GNU base-256), or whose value does not fit ([`crate::ErrorKind::Corrupt`]).

use rustix::fs::FileType;

use crate::pax::numeric;
use crate::tar_in::{entry_components, lossy, unsafe_entry};
use vmcraft_fs::root::{Error, ErrorKind, Result};

const CALL: &str = "tar_in";

/// What an entry makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Directory,
    Regular,
    Symlink,
    HardLink,
    /// A character or block device or a FIFO, with its device number.
    Device(FileType, u64),
    /// A PAX global header: nothing to make.
    Global,
    /// A type this crate does not extract (skipped with a message).
    Other(u8),
}

/// A member's numeric header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fields {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
}

/// What to make for an entry that passed [`check_entry`].
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    pub kind: Kind,
    /// The name's components beneath the target directory (`.` and empty
    /// ones dropped; none for the target directory itself).
    pub comps: Vec<&'a [u8]>,
    /// A hard link's target components.
    pub target: Vec<&'a [u8]>,
    pub fields: Fields,
}

fn corrupt(subject: &str, name: &[u8], what: String) -> Error {
    Error::new(
        ErrorKind::Corrupt,
        CALL,
        subject,
        format!("entry {:?}: {what}", lossy(name)),
    )
}

/// A signed numeric field (mtime): octal, or GNU base-256 with the sign in
/// its first byte (`0x80` positive, `0xff` negative, two's complement).
pub(crate) fn signed_numeric(field: &[u8]) -> Option<i64> {
    if field[0] == 0xff {
        // Negative: the bytes after the leading ones must fit in an i64.
        let mut v: i128 = -1;
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(i128::from(b))?;
            if v < i128::from(i64::MIN) {
                return None;
            }
        }
        return i64::try_from(v).ok();
    }
    numeric(field).and_then(|v| i64::try_from(v).ok())
}

/// Judge one entry: `header` is the normalised header, `name` and `link`
/// what the framer resolved. `subject` names the target directory (or is
/// empty in the verification pass).
pub(crate) fn check_entry<'a>(
    subject: &str,
    header: &[u8; 512],
    name: &'a [u8],
    link: &'a [u8],
) -> Result<Plan<'a>> {
    let type_byte = header[156];
    let fields = Fields {
        mode: 0,
        uid: 0,
        gid: 0,
        mtime: 0,
    };
    if type_byte == b'g' {
        return Ok(Plan {
            kind: Kind::Global,
            comps: Vec::new(),
            target: Vec::new(),
            fields,
        });
    }
    let comps = entry_components(name).map_err(|why| unsafe_entry(subject, name, why))?;
    let mut kind = match type_byte {
        b'0' | 0 if name.ends_with(b"/") => Kind::Directory, // pre-POSIX directories
        b'0' | 0 | b'7' => Kind::Regular,
        b'5' => Kind::Directory,
        b'2' => Kind::Symlink,
        b'1' => Kind::HardLink,
        b'6' => Kind::Device(FileType::Fifo, 0),
        b'3' => Kind::Device(FileType::CharacterDevice, 0),
        b'4' => Kind::Device(FileType::BlockDevice, 0),
        other => {
            return Ok(Plan {
                kind: Kind::Other(other),
                comps,
                target: Vec::new(),
                fields,
            });
        }
    };
    let mut target = Vec::new();
    match kind {
        Kind::Directory => {}
        Kind::Regular if comps.is_empty() => {
            return Err(unsafe_entry(
                subject,
                name,
                "a file cannot replace the target directory",
            ));
        }
        Kind::Symlink => {
            if comps.is_empty() {
                return Err(unsafe_entry(
                    subject,
                    name,
                    "a symlink cannot replace the target directory",
                ));
            }
            if link.is_empty() || link.contains(&0) {
                return Err(corrupt(
                    subject,
                    name,
                    "empty or invalid symlink target".into(),
                ));
            }
        }
        Kind::HardLink => {
            target = entry_components(link).map_err(|why| {
                unsafe_entry(
                    subject,
                    name,
                    &format!("hard link target {:?}: {why}", lossy(link)),
                )
            })?;
            if comps.is_empty() || target.is_empty() {
                return Err(unsafe_entry(
                    subject,
                    name,
                    "hard link to or from the target directory",
                ));
            }
        }
        Kind::Device(ftype, _) => {
            if comps.is_empty() {
                return Err(unsafe_entry(
                    subject,
                    name,
                    "a device cannot replace the target directory",
                ));
            }
            if ftype != FileType::Fifo {
                let number = |at: usize, what: &str| {
                    numeric(&header[at..at + 8])
                        .and_then(|v| u32::try_from(v).ok())
                        .ok_or_else(|| corrupt(subject, name, format!("bad device {what} field")))
                };
                let (major, minor) = (number(329, "major")?, number(337, "minor")?);
                kind = Kind::Device(ftype, rustix::fs::makedev(major, minor));
            }
        }
        _ => {}
    }
    let field = |at: usize, len: usize, what: &str| {
        let raw = &header[at..at + len];
        match numeric(raw) {
            Some(v) => u32::try_from(v)
                .map_err(|_| corrupt(subject, name, format!("{what} {v} is out of range"))),
            None => Err(corrupt(
                subject,
                name,
                format!("bad {what} field {:?}", lossy(crate::framer::cstr(raw))),
            )),
        }
    };
    let fields = Fields {
        mode: field(100, 8, "mode")? & 0o7777,
        uid: field(108, 8, "uid")?,
        gid: field(116, 8, "gid")?,
        mtime: signed_numeric(&header[136..148])
            .ok_or_else(|| corrupt(subject, name, "bad mtime field".into()))?,
    };
    Ok(Plan {
        kind,
        comps,
        target,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: u8, mode: &[u8]) -> [u8; 512] {
        let mut h = [0u8; 512];
        h[100..100 + mode.len()].copy_from_slice(mode);
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = kind;
        h
    }

    #[test]
    fn fields_are_read_strictly() {
        let ok = check_entry("", &header(b'0', b"0000644\0"), b"./a", b"").unwrap();
        assert_eq!((ok.kind, ok.fields.mode), (Kind::Regular, 0o644));
        let e = check_entry("", &header(b'0', b"0000A44\0"), b"./a", b"").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupt);
        assert_eq!(
            e.to_string(),
            "tar_in: entry \"./a\": bad mode field \"0000A44\""
        );
        let mut h = header(b'5', b"0000755\0");
        h[108..116].copy_from_slice(&[0x80, 0, 0, 1, 0, 0, 0, 0]);
        let e = check_entry("/t", &h, b"./d/", b"").unwrap_err();
        assert_eq!(
            e.to_string(),
            "tar_in: /t: entry \"./d/\": uid 4294967296 is out of range"
        );
    }

    #[test]
    fn negative_base_256_mtimes() {
        let mut f = [0xffu8; 12];
        assert_eq!(signed_numeric(&f), Some(-1));
        f[11] = 0xfe;
        assert_eq!(signed_numeric(&f), Some(-2));
        let mut g = [0u8; 12];
        g[0] = 0x80;
        g[4..].copy_from_slice(&1_700_000_000u64.to_be_bytes());
        assert_eq!(signed_numeric(&g), Some(1_700_000_000));
        g[4..].copy_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(signed_numeric(&g), None, "over i64::MAX");
        assert_eq!(signed_numeric(b"00000000017\0"), Some(15));
    }

    #[test]
    fn what_may_stand_for_the_target_directory() {
        let refused = |kind: u8, name: &[u8], link: &[u8]| {
            check_entry("", &header(kind, b"0000644\0"), name, link)
                .unwrap_err()
                .kind()
        };
        assert_eq!(refused(b'0', b".", b""), ErrorKind::Unsafe);
        assert_eq!(refused(b'7', b"./.", b""), ErrorKind::Unsafe);
        assert_eq!(refused(b'2', b".", b"x"), ErrorKind::Unsafe);
        assert_eq!(refused(b'1', b"./a", b"."), ErrorKind::Unsafe);
        assert_eq!(refused(b'6', b"./", b""), ErrorKind::Unsafe);
        assert_eq!(refused(b'2', b"./l", b""), ErrorKind::Corrupt);
        let dir = check_entry("", &header(b'0', b"0000755\0"), b"./", b"").unwrap();
        assert_eq!(dir.kind, Kind::Directory);
        assert!(dir.comps.is_empty());
    }
}
