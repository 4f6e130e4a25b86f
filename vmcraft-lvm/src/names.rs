//! lvm2's rules for volume group and logical volume names, checked before any
//! command runs, and the parsing of `/dev/VG/LV` and `/dev/VG` paths.
//!
//! The rules are lvm2's own (`validate_name` and `apply_lvname_restrictions` in its
//! sources): 1 to 127 characters from `A-Za-z0-9+_.-`, not starting with `-`, not
//! `.` or `..`; LV names additionally may not start with `snapshot` or `pvmove` nor
//! contain the suffixes lvm2 reserves for its internal volumes (`_mlog`, `_rimage`,
//! `_tdata`, ...). A test checks each rule against lvm2 itself.

use crate::error::{Error, Result};

/// The longest name lvm2 accepts (its `NAME_LEN` less the terminating NUL).
pub const MAX_NAME_LEN: usize = 127;

/// The longest `VG` plus `LV` name lvm2 accepts together (it keeps `VG/LV` with
/// room for a suffix in a `NAME_LEN` buffer).
pub const MAX_VG_LV_LEN: usize = 124;

/// Substrings lvm2 reserves for the hidden volumes it makes itself.
const RESERVED_LV_SUBSTRINGS: &[&str] = &[
    "_cdata", "_cmeta", "_corig", "_cpool", "_cvol", "_wcorig", "_mimage", "_mlog", "_rimage",
    "_rmeta", "_tdata", "_tmeta", "_vdata", "_imeta", "_iorig", "_pmspare", "_vorigin",
];

/// Prefixes lvm2 reserves for LV names.
const RESERVED_LV_PREFIXES: &[&str] = &["snapshot", "pvmove"];

fn check_name(call: &'static str, what: &str, name: &str) -> Result<()> {
    let shown = if name.is_empty() { "\"\"" } else { name };
    if name.is_empty() {
        return Err(Error::invalid(call, shown, format!("{what} name is empty")));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Error::invalid(
            call,
            shown,
            format!(
                "{what} name is {} bytes long, more than {MAX_NAME_LEN}",
                name.len()
            ),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "+_.-".contains(*c)))
    {
        return Err(Error::invalid(
            call,
            shown,
            format!("invalid character {c:?} in {what} name (allowed: A-Z a-z 0-9 + _ . -)"),
        ));
    }
    if name.starts_with('-') {
        return Err(Error::invalid(
            call,
            shown,
            format!("{what} name may not start with '-'"),
        ));
    }
    if name == "." || name == ".." {
        return Err(Error::invalid(
            call,
            shown,
            format!("{what} name may not be {name:?}"),
        ));
    }
    Ok(())
}

/// Check a volume group name against lvm2's rules; `call` names the error.
///
/// ```
/// use vmcraft_lvm::validate_vg_name;
/// assert!(validate_vg_name("vgcreate", "vg_data-1").is_ok());
/// let e = validate_vg_name("vgcreate", "-vg").unwrap_err();
/// assert_eq!(e.to_string(), "vgcreate: -vg: volume group name may not start with '-'");
/// ```
pub fn validate_vg_name(call: &'static str, name: &str) -> Result<()> {
    check_name(call, "volume group", name)
}

/// Check a logical volume name against lvm2's rules, reserved names included.
///
/// ```
/// use vmcraft_lvm::validate_lv_name;
/// assert!(validate_lv_name("lvcreate", "root").is_ok());
/// assert!(validate_lv_name("lvcreate", "snapshot1").is_err());
/// assert!(validate_lv_name("lvcreate", "data_tmeta").is_err());
/// ```
pub fn validate_lv_name(call: &'static str, name: &str) -> Result<()> {
    check_name(call, "logical volume", name)?;
    if let Some(p) = RESERVED_LV_PREFIXES.iter().find(|p| name.starts_with(*p)) {
        return Err(Error::invalid(
            call,
            name,
            format!("logical volume names starting with {p:?} are reserved by lvm2"),
        ));
    }
    if let Some(s) = RESERVED_LV_SUBSTRINGS.iter().find(|s| name.contains(*s)) {
        return Err(Error::invalid(
            call,
            name,
            format!("logical volume names containing {s:?} are reserved by lvm2"),
        ));
    }
    Ok(())
}

/// Check the name of an LV lvm2 reported, hidden ones included (`r1_rimage_0`,
/// `pool_tdata`): lvm2's character rules without the reserved names.
pub(crate) fn validate_reported_lv_name(call: &'static str, name: &str) -> Result<()> {
    check_name(call, "logical volume", name)
}

/// Check the names of a new logical volume `lv` in `vg`: each by its rules, and
/// both together no longer than [`MAX_VG_LV_LEN`].
///
/// ```
/// use vmcraft_lvm::validate_new_lv;
/// assert!(validate_new_lv("lvcreate", "vg0", "root").is_ok());
/// let e = validate_new_lv("lvcreate", "vg0", &"l".repeat(122)).unwrap_err();
/// assert!(e.to_string().ends_with("names of 125 bytes together, more than lvm2's 124"));
/// ```
pub fn validate_new_lv(call: &'static str, vg: &str, lv: &str) -> Result<()> {
    validate_vg_name(call, vg)?;
    validate_lv_name(call, lv)?;
    let len = vg.len() + lv.len();
    if len > MAX_VG_LV_LEN {
        return Err(Error::invalid(
            call,
            format!("/dev/{vg}/{lv}"),
            format!(
                "volume group and logical volume names of {len} bytes together, more than lvm2's {MAX_VG_LV_LEN}"
            ),
        ));
    }
    Ok(())
}

/// Check the name of a new volume group: lvm2's rules, and no entry of `/dev`
/// by that name (lvm2 refuses a VG that would shadow `/dev/null` or
/// `/dev/mapper`, or an active VG of the same name).
///
/// ```
/// use vmcraft_lvm::validate_new_vg_name;
/// assert!(validate_new_vg_name("vgcreate", "vmcraft-doc-vg").is_ok());
/// let e = validate_new_vg_name("vgcreate", "null").unwrap_err();
/// assert_eq!(e.to_string(),
///     "vgcreate: null: /dev/null already exists, and lvm2 will not name a volume group like an entry of /dev");
/// ```
pub fn validate_new_vg_name(call: &'static str, name: &str) -> Result<()> {
    validate_vg_name(call, name)?;
    let path = std::path::Path::new("/dev").join(name);
    if path.symlink_metadata().is_ok() {
        return Err(Error::invalid(
            call,
            name,
            format!(
                "{} already exists, and lvm2 will not name a volume group like an entry of /dev",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// What an LV path names: one logical volume, or every LV of a volume group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LvTarget {
    /// `/dev/VG/LV` (or `VG/LV`).
    Lv {
        /// The volume group.
        vg: String,
        /// The logical volume.
        lv: String,
    },
    /// `/dev/VG` (or `VG`): all logical volumes of the group.
    Vg(String),
}

impl LvTarget {
    /// Parse `/dev/VG/LV`, `/dev/VG`, `VG/LV` or `VG`, checking both names.
    ///
    /// ```
    /// use vmcraft_lvm::LvTarget;
    /// let t = LvTarget::parse("lvremove", "/dev/data/home")?;
    /// assert_eq!(t, LvTarget::Lv { vg: "data".into(), lv: "home".into() });
    /// assert_eq!(t.lvm_arg(), "data/home");
    /// assert_eq!(LvTarget::parse("lvremove", "/dev/data")?, LvTarget::Vg("data".into()));
    /// assert!(LvTarget::parse("lvremove", "/dev/a/b/c").is_err());
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn parse(call: &'static str, path: &str) -> Result<LvTarget> {
        let rest = path.strip_prefix("/dev/").unwrap_or(path);
        let parts: Vec<&str> = rest.split('/').collect();
        let shown = if path.is_empty() { "\"\"" } else { path };
        match parts.as_slice() {
            [vg] => {
                validate_vg_name(call, vg).map_err(|e| retarget(e, call, shown))?;
                Ok(LvTarget::Vg(vg.to_string()))
            }
            [vg, lv] => {
                validate_vg_name(call, vg).map_err(|e| retarget(e, call, shown))?;
                validate_lv_name(call, lv).map_err(|e| retarget(e, call, shown))?;
                Ok(LvTarget::Lv {
                    vg: vg.to_string(),
                    lv: lv.to_string(),
                })
            }
            _ => Err(Error::invalid(
                call,
                shown,
                "not a logical volume path (expected /dev/VG/LV or /dev/VG)",
            )),
        }
    }

    /// Parse a path that must name one LV (`/dev/VG/LV` or `VG/LV`).
    ///
    /// ```
    /// use vmcraft_lvm::LvTarget;
    /// let (vg, lv) = LvTarget::parse_lv("lvresize", "/dev/vg0/root")?;
    /// assert_eq!((vg.as_str(), lv.as_str()), ("vg0", "root"));
    /// assert!(LvTarget::parse_lv("lvresize", "/dev/vg0").is_err());
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn parse_lv(call: &'static str, path: &str) -> Result<(String, String)> {
        match Self::parse(call, path)? {
            LvTarget::Lv { vg, lv } => Ok((vg, lv)),
            LvTarget::Vg(_) => Err(Error::invalid(
                call,
                path,
                "not a logical volume path (expected /dev/VG/LV)",
            )),
        }
    }

    /// The volume group.
    pub fn vg(&self) -> &str {
        match self {
            LvTarget::Lv { vg, .. } | LvTarget::Vg(vg) => vg,
        }
    }

    /// The form lvm2 takes on its command line: `VG/LV` or `VG`.
    pub fn lvm_arg(&self) -> String {
        match self {
            LvTarget::Lv { vg, lv } => format!("{vg}/{lv}"),
            LvTarget::Vg(vg) => vg.clone(),
        }
    }

    /// The libguestfs device name: `/dev/VG/LV` or `/dev/VG`.
    pub fn dev_path(&self) -> String {
        format!("/dev/{}", self.lvm_arg())
    }
}

/// Report a name error about the whole path the caller gave, keeping the reason.
fn retarget(e: Error, call: &'static str, path: &str) -> Error {
    Error::invalid(call, path, e.message().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn valid_names() {
        for n in ["vg0", "a", "A.b_c-d+e", "0", "..x", "x-", &"v".repeat(127)] {
            validate_vg_name("t", n).unwrap();
            validate_lv_name("t", n).unwrap();
        }
    }

    #[test]
    fn invalid_names_say_why() {
        let cases: &[(&str, &str)] = &[
            ("", "\"\": volume group name is empty"),
            ("-a", "-a: volume group name may not start with '-'"),
            (".", ".: volume group name may not be \".\""),
            ("..", "..: volume group name may not be \"..\""),
            (
                "a b",
                "a b: invalid character ' ' in volume group name (allowed: A-Z a-z 0-9 + _ . -)",
            ),
            (
                "a/b",
                "a/b: invalid character '/' in volume group name (allowed: A-Z a-z 0-9 + _ . -)",
            ),
            (
                "é",
                "é: invalid character 'é' in volume group name (allowed: A-Z a-z 0-9 + _ . -)",
            ),
        ];
        for (name, msg) in cases {
            let e = validate_vg_name("vgcreate", name).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert_eq!(e.to_string(), format!("vgcreate: {msg}"));
        }
        let long = "v".repeat(128);
        let e = validate_vg_name("vgcreate", &long).unwrap_err();
        assert!(e.message().contains("128 bytes long, more than 127"), "{e}");
    }

    #[test]
    fn reserved_lv_names() {
        for n in [
            "snapshot",
            "snapshotx",
            "pvmove0",
            "a_mlog",
            "x_rimage_0",
            "p_tdata",
            "q_pmspare",
        ] {
            let e = validate_lv_name("lvcreate", n).unwrap_err();
            assert!(e.message().contains("reserved by lvm2"), "{e}");
            // The same names are fine for VGs.
            validate_vg_name("vgcreate", n).unwrap();
        }
        // Only a prefix is reserved.
        validate_lv_name("lvcreate", "mysnapshot").unwrap();
    }

    #[test]
    fn combined_length_and_dev_entries() {
        validate_new_lv("t", "vgq", &"l".repeat(121)).unwrap();
        let e = validate_new_lv("t", "vgq", &"l".repeat(122)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.subject().unwrap().starts_with("/dev/vgq/lll"));
        assert!(validate_new_lv("t", "vg", "snapshot").is_err());
        assert!(validate_new_lv("t", "-vg", "lv").is_err());
        for taken in ["null", "zero", "mapper"] {
            assert!(validate_new_vg_name("vgcreate", taken).is_err(), "{taken}");
            validate_vg_name("vgs", taken).unwrap();
        }
        validate_new_vg_name("vgcreate", "vmcraft-no-such-dev-entry").unwrap();
        assert!(validate_new_vg_name("vgcreate", "").is_err());
    }

    #[test]
    fn parse_targets() {
        assert_eq!(
            LvTarget::parse("t", "vg/lv").unwrap(),
            LvTarget::Lv {
                vg: "vg".into(),
                lv: "lv".into()
            }
        );
        assert_eq!(
            LvTarget::parse("t", "vg").unwrap(),
            LvTarget::Vg("vg".into())
        );
        let t = LvTarget::parse("t", "/dev/vg").unwrap();
        assert_eq!(t.vg(), "vg");
        assert_eq!(t.dev_path(), "/dev/vg");
        assert_eq!(t.lvm_arg(), "vg");
        for bad in [
            "",
            "/dev/",
            "/dev/vg/",
            "/dev//lv",
            "/dev/a/b/c",
            "/dev/vg/snapshot",
            "/dev/-x/y",
        ] {
            let e = LvTarget::parse("lvremove", bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
            assert_eq!(e.call(), "lvremove");
        }
        let e = LvTarget::parse("lvremove", "/dev/vg/a b").unwrap_err();
        assert_eq!(
            e.to_string(),
            "lvremove: /dev/vg/a b: invalid character ' ' in logical volume name (allowed: A-Z a-z 0-9 + _ . -)"
        );
        let e = LvTarget::parse_lv("lvresize", "/dev/vg").unwrap_err();
        assert_eq!(
            e.to_string(),
            "lvresize: /dev/vg: not a logical volume path (expected /dev/VG/LV)"
        );
    }
}
