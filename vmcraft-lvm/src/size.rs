//! [`LvSize`]: how big a logical volume is to be, in MiB, in extents, or as a share
//! of the volume group's free space, and the lvm2 arguments for each.

use serde::Serialize;

use crate::error::{Error, Result};

/// The size of a logical volume. The variants are mutually exclusive by
/// construction; [`LvSize::from_parts`] builds one from the seed's pair of optional
/// arguments (megabytes or extents) and refuses both, neither, zero and negative.
///
/// ```
/// use vmcraft_lvm::LvSize;
/// assert_eq!(LvSize::MiB(100).lvm_args(), ["-L", "100m"]);
/// assert_eq!(LvSize::Extents(25).lvm_args(), ["-l", "25"]);
/// assert_eq!(LvSize::PercentFree(50).lvm_args(), ["-l", "50%FREE"]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum LvSize {
    /// This many MiB (lvm2 rounds up to a whole number of extents).
    #[serde(rename = "mib")]
    MiB(u64),
    /// This many extents of the volume group.
    #[serde(rename = "extents")]
    Extents(u64),
    /// This percentage (1..=100) of the volume group's free space, rounded up to a
    /// whole extent.
    #[serde(rename = "percent_free")]
    PercentFree(u32),
}

impl LvSize {
    /// Build a size from optional megabytes and optional extents, exactly one of
    /// which must be given and positive.
    ///
    /// ```
    /// use vmcraft_lvm::{LvSize, ErrorKind};
    /// assert_eq!(LvSize::from_parts("lvcreate", Some(64), None)?, LvSize::MiB(64));
    /// assert_eq!(LvSize::from_parts("lvcreate", None, Some(16))?, LvSize::Extents(16));
    /// let e = LvSize::from_parts("lvcreate", Some(64), Some(16)).unwrap_err();
    /// assert_eq!(e.to_string(), "lvcreate: size: give megabytes or extents, not both (64 MiB, 16 extents)");
    /// assert_eq!(LvSize::from_parts("lvcreate", Some(-1), None).unwrap_err().kind(),
    ///            ErrorKind::InvalidArgument);
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn from_parts(
        call: &'static str,
        mbytes: Option<i64>,
        extents: Option<i64>,
    ) -> Result<LvSize> {
        let size = match (mbytes, extents) {
            (Some(m), Some(e)) => {
                return Err(Error::invalid(
                    call,
                    "size",
                    format!("give megabytes or extents, not both ({m} MiB, {e} extents)"),
                ));
            }
            (None, None) => return Err(Error::invalid(call, "size", "give megabytes or extents")),
            (Some(m), None) => match u64::try_from(m) {
                Ok(m) => LvSize::MiB(m),
                Err(_) => return Err(Error::invalid(call, "size", format!("{m} MiB is negative"))),
            },
            (None, Some(e)) => match u64::try_from(e) {
                Ok(e) => LvSize::Extents(e),
                Err(_) => {
                    return Err(Error::invalid(
                        call,
                        "size",
                        format!("{e} extents is negative"),
                    ));
                }
            },
        };
        size.validate(call, "size")?;
        Ok(size)
    }

    /// Refuse a zero size, a percentage outside 1..=100, or a size lvm2 cannot
    /// express; `subject` names what the error is about.
    ///
    /// ```
    /// use vmcraft_lvm::LvSize;
    /// assert!(LvSize::MiB(1).validate("lvcreate", "vg0/lv").is_ok());
    /// let e = LvSize::PercentFree(101).validate("lvcreate", "vg0/lv").unwrap_err();
    /// assert_eq!(e.to_string(), "lvcreate: vg0/lv: percentage 101 is outside 1..=100");
    /// ```
    pub fn validate(&self, call: &'static str, subject: &str) -> Result<()> {
        match *self {
            LvSize::MiB(0) => Err(Error::invalid(call, subject, "size 0 MiB is zero")),
            LvSize::Extents(0) => Err(Error::invalid(call, subject, "size 0 extents is zero")),
            LvSize::PercentFree(0) => Err(Error::invalid(
                call,
                subject,
                "size 0% of free space is zero",
            )),
            LvSize::PercentFree(p) if p > 100 => Err(Error::invalid(
                call,
                subject,
                format!("percentage {p} is outside 1..=100"),
            )),
            // lvm2 keeps sizes in 512-byte sectors in a u64 and extents in a u32.
            LvSize::MiB(m) if m > u64::MAX >> 11 => Err(Error::invalid(
                call,
                subject,
                format!("size {m} MiB is too large"),
            )),
            LvSize::Extents(e) if e > u64::from(u32::MAX) => Err(Error::invalid(
                call,
                subject,
                format!("size {e} extents is too large"),
            )),
            _ => Ok(()),
        }
    }

    /// The lvm2 arguments that ask for this size (`-L 100m`, `-l 25`, `-l 50%FREE`).
    pub fn lvm_args(&self) -> [String; 2] {
        match *self {
            LvSize::MiB(m) => ["-L".into(), format!("{m}m")],
            LvSize::Extents(e) => ["-l".into(), e.to_string()],
            LvSize::PercentFree(p) => ["-l".into(), format!("{p}%FREE")],
        }
    }
}

impl std::fmt::Display for LvSize {
    /// `100 MiB`, `25 extents`, `50% of free space`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LvSize::MiB(m) => write!(f, "{m} MiB"),
            LvSize::Extents(e) => write!(f, "{e} extents"),
            LvSize::PercentFree(p) => write!(f, "{p}% of free space"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn from_parts_refuses_every_bad_combination() {
        let cases: &[(Option<i64>, Option<i64>, &str)] = &[
            (None, None, "lvcreate: size: give megabytes or extents"),
            (
                Some(1),
                Some(1),
                "lvcreate: size: give megabytes or extents, not both (1 MiB, 1 extents)",
            ),
            (Some(0), None, "lvcreate: size: size 0 MiB is zero"),
            (None, Some(0), "lvcreate: size: size 0 extents is zero"),
            (Some(-5), None, "lvcreate: size: -5 MiB is negative"),
            (None, Some(-1), "lvcreate: size: -1 extents is negative"),
            (
                None,
                Some(1 << 33),
                "lvcreate: size: size 8589934592 extents is too large",
            ),
        ];
        for (m, e, msg) in cases {
            let err = LvSize::from_parts("lvcreate", *m, *e).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            assert_eq!(err.to_string(), *msg);
        }
        assert_eq!(
            LvSize::from_parts("x", Some(5), None).unwrap(),
            LvSize::MiB(5)
        );
    }

    #[test]
    fn validate_and_args() {
        assert!(LvSize::PercentFree(100).validate("c", "s").is_ok());
        assert!(LvSize::PercentFree(0).validate("c", "s").is_err());
        assert!(LvSize::MiB(u64::MAX).validate("c", "s").is_err());
        assert_eq!(LvSize::MiB(8).lvm_args(), ["-L", "8m"]);
        assert_eq!(LvSize::MiB(8).to_string(), "8 MiB");
        assert_eq!(LvSize::Extents(3).to_string(), "3 extents");
        assert_eq!(LvSize::PercentFree(7).to_string(), "7% of free space");
    }

    #[test]
    fn serializes_as_tagged_value() {
        let s = serde_json::to_string(&LvSize::PercentFree(50)).unwrap();
        assert_eq!(s, r#"{"percent_free":50}"#);
        let s = serde_json::to_string(&LvSize::MiB(5)).unwrap();
        assert_eq!(s, r#"{"mib":5}"#);
    }
}
