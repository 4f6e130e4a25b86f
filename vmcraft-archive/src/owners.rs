//! User and group names from the guest's own `/etc/passwd` and `/etc/group`
//! (read through the guest root, never the host's databases), for the names
//! stored in tar headers and in ACL text.
//!
//! The tables are guest data like any other: they are read only when they are
//! regular files (a FIFO there would block, a device node would be read from
//! the host) of at most [`MAX_TABLE`] bytes. A table that is anything else is
//! left out, with a warning, and ids stay numeric.

use std::collections::HashMap;
use std::path::Path;

use vmcraft_fs::root::GuestRoot;

/// The largest `/etc/passwd` or `/etc/group` read (about 300,000 users).
pub(crate) const MAX_TABLE: u64 = 16 << 20;

/// Both directions of the guest's user and group tables.
#[derive(Debug, Default)]
pub(crate) struct Names {
    pub users: HashMap<u32, String>,
    pub groups: HashMap<u32, String>,
    pub user_ids: HashMap<String, u32>,
    pub group_ids: HashMap<String, u32>,
    /// Tables that were there but not read, and why.
    pub warnings: Vec<String>,
}

impl Names {
    /// Read the guest's tables; missing, unreadable, oversized or non-regular
    /// ones are empty.
    pub(crate) fn from_guest(root: &GuestRoot) -> Self {
        Self::from_tables(|path| root.read_bounded("owner names", Path::new(path), MAX_TABLE))
    }

    /// The same, with the tables read by `read` (at most [`MAX_TABLE`] bytes
    /// of a regular file).
    pub(crate) fn from_tables(read: impl Fn(&str) -> crate::Result<Vec<u8>>) -> Self {
        let mut warnings = Vec::new();
        let (users, user_ids) = parse(&read, "/etc/passwd", &mut warnings);
        let (groups, group_ids) = parse(&read, "/etc/group", &mut warnings);
        Names {
            users,
            groups,
            user_ids,
            group_ids,
            warnings,
        }
    }
}

fn parse(
    read: &dyn Fn(&str) -> crate::Result<Vec<u8>>,
    path: &str,
    warnings: &mut Vec<String>,
) -> (HashMap<u32, String>, HashMap<String, u32>) {
    let mut by_id = HashMap::new();
    let mut by_name = HashMap::new();
    let data = match read(path) {
        Ok(data) => data,
        Err(e) => {
            if e.kind() != crate::ErrorKind::NotFound {
                let msg = format!("{path}: {}; ids are stored without names", e.message());
                tracing::warn!("{msg}");
                warnings.push(msg);
            }
            return (by_id, by_name);
        }
    };
    for line in String::from_utf8_lossy(&data).lines() {
        let mut f = line.split(':');
        let (Some(name), Some(_), Some(id)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let Ok(id) = id.parse::<u32>() else { continue };
        // Tar headers hold names of at most 31 bytes.
        if name.is_empty() || name.len() >= 32 || name.starts_with('#') {
            continue;
        }
        by_id.entry(id).or_insert_with(|| name.to_string());
        by_name.entry(name.to_string()).or_insert(id);
    }
    (by_id, by_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_guest_tables() {
        let dir = tempfile::tempdir().unwrap();
        let root = GuestRoot::open(dir.path()).unwrap();
        assert!(Names::from_guest(&root).users.is_empty());
        root.mkdir("/etc", 0o755).unwrap();
        root.write(
            "/etc/passwd",
            b"root:x:0:0:root:/root:/bin/bash\n# comment:x:1:1\nbob:x:1000:1000::/home/bob:/bin/sh\nbad line\nbad:x:notanumber:0\n",
        )
        .unwrap();
        root.write("/etc/group", b"root:x:0:\nstaff:x:50:bob\n")
            .unwrap();
        let n = Names::from_guest(&root);
        assert_eq!(n.users.get(&1000).map(String::as_str), Some("bob"));
        assert_eq!(n.user_ids.get("root"), Some(&0));
        assert_eq!(n.groups.get(&50).map(String::as_str), Some("staff"));
        assert_eq!(n.group_ids.get("staff"), Some(&50));
        assert_eq!(n.users.len(), 2);
    }
}
