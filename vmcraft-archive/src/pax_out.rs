//! Entry headers for [`crate::tar_out`], in the POSIX pax format, laid out as
//! GNU tar's `--format=posix` lays them out: a ustar header for each entry,
//! preceded by a pax extended header (`x`) when something does not fit in it.
//!
//! What goes into the extended header, and when (GNU tar 1.34's rules):
//! - `path`: a name longer than 100 bytes or not plain ASCII; `linkpath`: a
//!   link target longer than 100 bytes; the ustar field keeps the first 100
//!   bytes (no `prefix` split: GNU tar does not split in this format);
//! - `uid` / `gid` over 0o7777777 (2^21 - 1), `size` over 0o77777777777
//!   (8 GiB - 1): the ustar field holds 0;
//! - `uname` / `gname` longer than 31 bytes or not plain ASCII (the field keeps
//!   what fits);
//! - `mtime` when it has a fraction of a second or does not fit the field
//!   (before 1970, or after 2242): `mtime=-315619199.5`, the ustar field then
//!   holding 0 when the seconds do not fit;
//! - the caller's `SCHILY.acl.*` and `SCHILY.xattr.*` records, last.
//!
//! GNU tar also writes `atime` and `ctime` for every entry; they are left out
//! (they change at every read and carry nothing `tar_in` restores), so an entry
//! that needs none of the above has no extended header at all. The extended
//! header is named `%d/PaxHeaders/%f` (`./etc/PaxHeaders/fstab`, cut at 100
//! bytes), mode 0644, owner 0, with the entry's mtime (clamped to the field),
//! and checksums are written `%06o\0 `, both as GNU tar writes them.

use crate::pax::{Record, encode_records};

/// The largest value of an 8-byte octal field (7 digits).
const MAX_OCTAL_7: u64 = 0o7777777;
/// The largest value of a 12-byte octal field (11 digits).
const MAX_OCTAL_11: u64 = 0o77777777777;
/// The ustar `name` and `linkname` fields.
const NAME_LEN: usize = 100;
/// The ustar `uname` and `gname` fields, their terminating NUL included.
const OWNER_LEN: usize = 32;

/// The ustar type flag of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `0`
    Regular,
    /// `1`
    HardLink,
    /// `2`
    Symlink,
    /// `3`
    Char,
    /// `4`
    Block,
    /// `5`
    Directory,
    /// `6`
    Fifo,
}

impl Kind {
    fn flag(self) -> u8 {
        match self {
            Kind::Regular => b'0',
            Kind::HardLink => b'1',
            Kind::Symlink => b'2',
            Kind::Char => b'3',
            Kind::Block => b'4',
            Kind::Directory => b'5',
            Kind::Fifo => b'6',
        }
    }
}

/// What one entry's headers say.
#[derive(Debug, Clone)]
pub(crate) struct Entry<'a> {
    pub kind: Kind,
    /// Its name in the archive (`./`, `./etc/`, `./etc/fstab`).
    pub path: &'a [u8],
    /// A symlink's target or a hard link's first name.
    pub link: Option<&'a [u8]>,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Owner names (none: the fields stay empty).
    pub uname: Option<&'a [u8]>,
    pub gname: Option<&'a [u8]>,
    /// Bytes of data that follow the header (0 but for regular files).
    pub size: u64,
    /// Seconds since the epoch (negative before 1970) and nanoseconds.
    pub mtime: (i64, u32),
    /// Device numbers of a character or block device.
    pub dev: (u32, u32),
}

/// The headers of one entry: the extended header and its records, when one is
/// needed, then the ustar header.
pub(crate) struct Headers {
    /// The `x` header block and its data (not padded).
    pub extended: Option<([u8; 512], Vec<u8>)>,
    pub ustar: [u8; 512],
}

/// Lay out `entry`'s headers, with `extra` records (xattrs, ACLs) after those
/// the entry needs.
pub(crate) fn headers(entry: &Entry<'_>, extra: Vec<Record>) -> Headers {
    let mut records: Vec<Record> = Vec::new();
    let mut h = [0u8; 512];

    if entry.path.len() > NAME_LEN || !entry.path.is_ascii() {
        records.push((b"path".to_vec(), entry.path.to_vec()));
    }
    put_bytes(&mut h[0..100], entry.path);
    octal(&mut h[100..108], u64::from(entry.mode & 0o7777));
    for (key, value, field) in [(b"uid", entry.uid, 108..116), (b"gid", entry.gid, 116..124)] {
        if value > MAX_OCTAL_7 {
            records.push((key.to_vec(), value.to_string().into_bytes()));
            octal(&mut h[field], 0);
        } else {
            octal(&mut h[field], value);
        }
    }
    if entry.size > MAX_OCTAL_11 {
        octal(&mut h[124..136], 0);
    } else {
        octal(&mut h[124..136], entry.size);
    }
    let (sec, nsec) = entry.mtime;
    let mtime_fits = u64::try_from(sec).is_ok_and(|s| s <= MAX_OCTAL_11);
    octal(&mut h[136..148], if mtime_fits { sec as u64 } else { 0 });
    h[156] = entry.kind.flag();
    if let Some(link) = entry.link {
        // Unlike names, a short non-ASCII target stays in the field alone.
        if link.len() > NAME_LEN {
            records.push((b"linkpath".to_vec(), link.to_vec()));
        }
        put_bytes(&mut h[157..257], link);
    }
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    for (key, name, field) in [
        (b"uname", entry.uname, 265..297),
        (b"gname", entry.gname, 297..329),
    ] {
        if let Some(name) = name {
            if name.len() >= OWNER_LEN || !name.is_ascii() {
                records.push((key.to_vec(), name.to_vec()));
            }
            put_bytes(&mut h[field][..OWNER_LEN - 1], name);
        }
    }
    let (major, minor) = match entry.kind {
        Kind::Char | Kind::Block => entry.dev,
        _ => (0, 0),
    };
    octal(&mut h[329..337], u64::from(major));
    octal(&mut h[337..345], u64::from(minor));
    if entry.size > MAX_OCTAL_11 {
        records.push((b"size".to_vec(), entry.size.to_string().into_bytes()));
    }
    if nsec != 0 || !mtime_fits {
        records.push((b"mtime".to_vec(), pax_time(sec, nsec).into_bytes()));
    }
    checksum(&mut h);

    records.extend(extra);
    let extended = (!records.is_empty()).then(|| {
        let data = encode_records(&records);
        let mut x = [0u8; 512];
        put_bytes(&mut x[0..100], &extended_name(entry.path));
        octal(&mut x[100..108], 0o644);
        octal(&mut x[108..116], 0);
        octal(&mut x[116..124], 0);
        octal(&mut x[124..136], data.len() as u64);
        octal(&mut x[136..148], sec.clamp(0, MAX_OCTAL_11 as i64) as u64);
        x[156] = b'x';
        x[257..263].copy_from_slice(b"ustar\0");
        x[263..265].copy_from_slice(b"00");
        checksum(&mut x);
        (x, data)
    });
    Headers { extended, ustar: h }
}

/// GNU tar's name for an extended header: `%d/PaxHeaders/%f` (`./` ->
/// `./PaxHeaders/.`, `./etc/` -> `./PaxHeaders/etc`, `./etc/fstab` ->
/// `./etc/PaxHeaders/fstab`).
fn extended_name(path: &[u8]) -> Vec<u8> {
    let trimmed = match path.strip_suffix(b"/") {
        Some(t) if !t.is_empty() => t,
        _ => path,
    };
    let (dir, base): (&[u8], &[u8]) = match trimmed.iter().rposition(|&b| b == b'/') {
        Some(i) => (if i == 0 { b"/" } else { &trimmed[..i] }, &trimmed[i + 1..]),
        None => (b".", trimmed),
    };
    let mut name = dir.to_vec();
    if !name.ends_with(b"/") {
        name.push(b'/');
    }
    name.extend_from_slice(b"PaxHeaders/");
    name.extend_from_slice(base);
    name
}

/// A pax time: seconds and the fraction without trailing zeros, the whole
/// value negative before 1970 (`-1` and 500000000 ns is `-0.5`).
pub(crate) fn pax_time(sec: i64, nsec: u32) -> String {
    if nsec == 0 {
        return sec.to_string();
    }
    let (sign, whole, frac) = if sec >= 0 {
        ("", sec.unsigned_abs(), nsec)
    } else {
        // sec + nsec/1e9 = -((-sec - 1) + (1e9 - nsec)/1e9)
        ("-", (sec + 1).unsigned_abs(), 1_000_000_000 - nsec)
    };
    let digits = format!("{frac:09}");
    format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
}

/// Copy what fits of `value` into `field`, the rest NUL.
fn put_bytes(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
    field[n..].fill(0);
}

/// `value` in octal, zero-padded to the field's width less one, then NUL
/// (the caller has checked that it fits).
fn octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let text = format!("{value:0width$o}");
    debug_assert_eq!(text.len(), width, "{value} does not fit");
    field[..width].copy_from_slice(&text.as_bytes()[text.len() - width..]);
    field[width] = 0;
}

/// The header checksum, written `%06o\0 ` as GNU tar writes it.
fn checksum(h: &mut [u8; 512]) {
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &[u8]) -> Entry<'_> {
        Entry {
            kind: Kind::Regular,
            path,
            link: None,
            mode: 0o644,
            uid: 0,
            gid: 0,
            uname: None,
            gname: None,
            size: 3,
            mtime: (1_600_000_000, 0),
            dev: (0, 0),
        }
    }

    fn records(h: &Headers) -> Vec<Record> {
        h.extended
            .as_ref()
            .map(|(_, d)| crate::pax::parse_records(d).unwrap())
            .unwrap_or_default()
    }

    #[test]
    fn times_as_gnu_tar_writes_them() {
        assert_eq!(pax_time(1_577_836_800, 123_456_789), "1577836800.123456789");
        assert_eq!(pax_time(1, 500_000_000), "1.5");
        assert_eq!(pax_time(-100, 0), "-100");
        // 1960-01-01 00:00:00.5 UTC: GNU tar writes mtime=-315619199.5.
        assert_eq!(pax_time(-315_619_200, 500_000_000), "-315619199.5");
        assert_eq!(pax_time(-1, 500_000_000), "-0.5");
        assert_eq!(pax_time(-2, 750_000_000), "-1.25");
        assert_eq!(pax_time(i64::MIN, 1), format!("-{}.999999999", i64::MAX));
    }

    #[test]
    fn extended_header_names() {
        assert_eq!(extended_name(b"./"), b"./PaxHeaders/.");
        assert_eq!(extended_name(b"./etc/"), b"./PaxHeaders/etc");
        assert_eq!(extended_name(b"./etc/fstab"), b"./etc/PaxHeaders/fstab");
        assert_eq!(extended_name(b"./a/b/c/"), b"./a/b/PaxHeaders/c");
    }

    #[test]
    fn a_plain_entry_has_no_extended_header() {
        let h = headers(&entry(b"./f"), vec![]);
        assert!(h.extended.is_none());
        assert_eq!(&h.ustar[257..265], b"ustar\x0000");
        assert_eq!(&h.ustar[136..148], b"13727410000\0");
        let t = tar::Header::from_byte_slice(&h.ustar);
        assert_eq!(t.cksum().unwrap(), {
            let mut c = h.ustar;
            c[148..156].fill(b' ');
            c.iter().map(|&b| u32::from(b)).sum::<u32>()
        });
    }

    #[test]
    fn what_does_not_fit_goes_to_records() {
        let long = [b"./".as_slice(), &[b'n'; 120]].concat();
        let target = [b'/'; 101];
        let mut e = entry(&long);
        e.kind = Kind::Symlink;
        e.link = Some(&target);
        e.uid = 1 << 21;
        e.gid = (1 << 21) - 1;
        e.uname = Some(b"a-user-name-of-thirty-two-bytes!");
        e.gname = Some("grüppe".as_bytes());
        e.size = 9 << 30;
        e.mtime = (-315_619_200, 500_000_000);
        let h = headers(&e, vec![(b"SCHILY.xattr.user.k".to_vec(), b"v".to_vec())]);
        let r = records(&h);
        let keys: Vec<&[u8]> = r.iter().map(|(k, _)| k.as_slice()).collect();
        assert_eq!(
            keys,
            [
                b"path".as_slice(),
                b"uid",
                b"linkpath",
                b"uname",
                b"gname",
                b"size",
                b"mtime",
                b"SCHILY.xattr.user.k"
            ]
        );
        assert_eq!(r[0].1, long);
        assert_eq!(r[1].1, b"2097152");
        assert_eq!(r[5].1, b"9663676416");
        assert_eq!(r[6].1, b"-315619199.5");
        let u = &h.ustar;
        assert_eq!(&u[0..100], &long[..100]);
        assert_eq!(&u[108..116], b"0000000\0", "uid in the record");
        assert_eq!(&u[116..124], b"7777777\0", "gid fits");
        assert_eq!(&u[124..136], b"00000000000\0");
        assert_eq!(&u[136..148], b"00000000000\0");
        assert_eq!(&u[265..297], b"a-user-name-of-thirty-two-bytes\0");
        let (x, _) = h.extended.as_ref().unwrap();
        assert_eq!(x[156], b'x');
        assert_eq!(&x[0..100], &extended_name(&long)[..100]);
        assert_eq!(&x[136..148], b"00000000000\0", "a negative mtime is 0");
    }

    #[test]
    fn far_future_mtimes_go_to_a_record() {
        let mut e = entry(b"./far");
        e.mtime = (9_999_999_999, 0);
        let h = headers(&e, vec![]);
        assert_eq!(records(&h), [(b"mtime".to_vec(), b"9999999999".to_vec())]);
        assert_eq!(&h.ustar[136..148], b"00000000000\0");
        assert_eq!(&h.extended.unwrap().0[136..148], b"77777777777\0");
    }

    #[test]
    fn devices_carry_their_numbers() {
        let mut e = entry(b"./null");
        e.kind = Kind::Char;
        e.size = 0;
        e.dev = (1, 3);
        let h = headers(&e, vec![]);
        assert_eq!(h.ustar[156], b'3');
        assert_eq!(&h.ustar[329..345], b"0000001\x000000003\0");
        e.kind = Kind::Fifo;
        let h = headers(&e, vec![]);
        assert_eq!(&h.ustar[329..345], b"0000000\x000000000\0");
    }
}
