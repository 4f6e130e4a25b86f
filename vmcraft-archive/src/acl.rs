//! POSIX ACLs as GNU tar stores them: the kernel's binary
//! `system.posix_acl_access`/`_default` xattr value converted to and from the
//! text form of the PAX records `SCHILY.acl.access` and `SCHILY.acl.default`
//! (`user::rw-,user:bob:r--:1000,group::r--,mask::r--,other::r--`; a named entry
//! may carry its numeric id as a fourth field).

use std::collections::HashMap;

/// `posix_acl_xattr_header.a_version`.
const VERSION: u32 = 2;
const USER_OBJ: u16 = 0x01;
const USER: u16 = 0x02;
const GROUP_OBJ: u16 = 0x04;
const GROUP: u16 = 0x08;
const MASK: u16 = 0x10;
const OTHER: u16 = 0x20;
const UNDEFINED_ID: u32 = u32::MAX;

/// The binary xattr value as text, with names from `users`/`groups` where known
/// and the numeric id always present for named entries. `None` if the value is
/// not a valid ACL.
pub(crate) fn to_text(
    value: &[u8],
    users: &HashMap<u32, String>,
    groups: &HashMap<u32, String>,
) -> Option<String> {
    if value.len() < 4 || !(value.len() - 4).is_multiple_of(8) {
        return None;
    }
    if u32::from_le_bytes(value[..4].try_into().ok()?) != VERSION {
        return None;
    }
    let mut parts = Vec::new();
    for e in value[4..].chunks_exact(8) {
        let tag = u16::from_le_bytes([e[0], e[1]]);
        let perm = u16::from_le_bytes([e[2], e[3]]);
        let id = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
        let perms = format!(
            "{}{}{}",
            if perm & 4 != 0 { 'r' } else { '-' },
            if perm & 2 != 0 { 'w' } else { '-' },
            if perm & 1 != 0 { 'x' } else { '-' }
        );
        let named = |kind: &str, names: &HashMap<u32, String>| match names.get(&id) {
            Some(n) => format!("{kind}:{n}:{perms}:{id}"),
            None => format!("{kind}:{id}:{perms}"),
        };
        parts.push(match tag {
            USER_OBJ => format!("user::{perms}"),
            USER => named("user", users),
            GROUP_OBJ => format!("group::{perms}"),
            GROUP => named("group", groups),
            MASK => format!("mask::{perms}"),
            OTHER => format!("other::{perms}"),
            _ => return None,
        });
    }
    Some(parts.join(","))
}

/// Text (as GNU tar, `getfacl` or `setfacl` write it) to the binary xattr value.
/// Names without a numeric id are looked up in `users`/`groups` (name -> id).
pub(crate) fn from_text(
    text: &str,
    users: &HashMap<String, u32>,
    groups: &HashMap<String, u32>,
) -> Result<Vec<u8>, String> {
    let mut entries: Vec<(u16, u16, u32)> = Vec::new();
    for raw in text.split([',', '\n']) {
        let item = raw.split('#').next().unwrap_or("").trim();
        if item.is_empty() {
            continue;
        }
        let f: Vec<&str> = item.split(':').collect();
        if f.len() < 3 || f.len() > 4 {
            return Err(format!("bad ACL entry {item:?}"));
        }
        let (kind, qual, perms) = (f[0], f[1], f[2]);
        let mut perm = 0u16;
        for c in perms.chars() {
            perm |= match c {
                'r' => 4,
                'w' => 2,
                'x' => 1,
                '-' => 0,
                _ => return Err(format!("bad ACL permissions {perms:?}")),
            };
        }
        let id_of = |names: &HashMap<String, u32>| -> Result<u32, String> {
            if let Some(id) = f.get(3) {
                return id.parse().map_err(|_| format!("bad ACL id {id:?}"));
            }
            qual.parse()
                .ok()
                .or_else(|| names.get(qual).copied())
                .ok_or_else(|| format!("unknown ACL name {qual:?}"))
        };
        let (tag, id) = match (kind, qual.is_empty()) {
            ("user" | "u", true) => (USER_OBJ, UNDEFINED_ID),
            ("user" | "u", false) => (USER, id_of(users)?),
            ("group" | "g", true) => (GROUP_OBJ, UNDEFINED_ID),
            ("group" | "g", false) => (GROUP, id_of(groups)?),
            ("mask" | "m", _) => (MASK, UNDEFINED_ID),
            ("other" | "o", _) => (OTHER, UNDEFINED_ID),
            _ => return Err(format!("bad ACL entry {item:?}")),
        };
        entries.push((tag, perm, id));
    }
    // The kernel wants entries ordered by tag, then id.
    entries.sort_by_key(|&(tag, _, id)| (tag, id));
    let mut out = VERSION.to_le_bytes().to_vec();
    for (tag, perm, id) in entries {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&perm.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(entries: &[(u16, u16, u32)]) -> Vec<u8> {
        let mut out = VERSION.to_le_bytes().to_vec();
        for &(t, p, i) in entries {
            out.extend_from_slice(&t.to_le_bytes());
            out.extend_from_slice(&p.to_le_bytes());
            out.extend_from_slice(&i.to_le_bytes());
        }
        out
    }

    #[test]
    fn text_round_trip() {
        let acl = bin(&[
            (USER_OBJ, 6, UNDEFINED_ID),
            (USER, 4, 1000),
            (USER, 7, 1001),
            (GROUP_OBJ, 4, UNDEFINED_ID),
            (GROUP, 5, 50),
            (MASK, 7, UNDEFINED_ID),
            (OTHER, 0, UNDEFINED_ID),
        ]);
        let users = HashMap::from([(1000, "bob".to_string())]);
        let text = to_text(&acl, &users, &HashMap::new()).unwrap();
        assert_eq!(
            text,
            "user::rw-,user:bob:r--:1000,user:1001:rwx,group::r--,group:50:r-x,mask::rwx,other::---"
        );
        assert_eq!(
            from_text(&text, &HashMap::new(), &HashMap::new()).unwrap(),
            acl
        );
        // getfacl-style lines, names resolved through the guest's maps.
        let names = HashMap::from([("bob".to_string(), 1000)]);
        let text = "user::rw-\nuser:bob:r--\nuser:1001:rwx\ngroup::r--  # comment\ngroup:50:r-x\nmask::rwx\nother::---\n";
        assert_eq!(from_text(text, &names, &HashMap::new()).unwrap(), acl);
    }

    #[test]
    fn bad_input() {
        assert!(to_text(b"\x02\0\0\0\x01", &HashMap::new(), &HashMap::new()).is_none());
        assert!(to_text(&bin(&[(0x40, 0, 0)]), &HashMap::new(), &HashMap::new()).is_none());
        let none = HashMap::new();
        assert!(
            from_text("user:nobody-known:r--", &none, &none)
                .unwrap_err()
                .contains("unknown ACL name")
        );
        assert!(from_text("user::rwz", &none, &none).is_err());
        assert!(from_text("weird::r--", &none, &none).is_err());
        assert!(from_text("user", &none, &none).is_err());
    }
}
