//! `-N [FILE=]SPEC`: guestfish's prepared disks. The file is made (sparse, raw)
//! before launch and laid out after it, as guestfish does: `disk`, `part`, `fs`,
//! `lv`, `lvfs`, `bootroot`, `bootrootlv`, each with guestfish's parameters and
//! defaults (`fs:ext4:100M` is an ext4 filesystem on a 100 MiB disk with an MBR).
//! Everything is checked before any file is created.

use std::path::Path;

use super::args::parse_int;
use super::error::CliError;
use vmcraft::VMCraft;

/// One parameter of a prepared disk type: name, default, description.
type Param = (&'static str, &'static str, &'static str);

/// A prepared disk type: name, summary, parameters, description.
pub struct PrepType {
    /// `fs`, `bootroot`, ...
    pub name: &'static str,
    /// One line.
    pub summary: &'static str,
    /// The optional parameters, in order.
    pub params: &'static [Param],
    /// What it makes.
    pub description: &'static str,
}

const SIZE: Param = ("size", "1G", "the size of the disk image");
const PARTITION: Param = ("partition", "mbr", "partition table type");
const LV_NAME: Param = ("name", "/dev/VG/LV", "the name of the VG and LV to use");

/// Every prepared disk type, as guestfish has them.
pub const PREP_TYPES: &[PrepType] = &[
    PrepType {
        name: "disk",
        summary: "create a blank disk",
        params: &[SIZE],
        description: "A blank disk, 1G by default.",
    },
    PrepType {
        name: "part",
        summary: "create a partitioned disk",
        params: &[SIZE, PARTITION],
        description: "A disk with one partition filling it, 1G with an MBR by default.",
    },
    PrepType {
        name: "fs",
        summary: "create a filesystem",
        params: &[
            ("filesystem", "ext2", "the type of filesystem to use"),
            SIZE,
            PARTITION,
        ],
        description: "A disk with one partition holding an empty filesystem: 1G, MBR and ext2 by default.",
    },
    PrepType {
        name: "lv",
        summary: "create a disk with logical volume",
        params: &[LV_NAME, SIZE, PARTITION],
        description: "A disk with one partition made an LVM physical volume, with a volume group and a \
                      logical volume over all of it (/dev/VG/LV by default). No filesystem: see lvfs.",
    },
    PrepType {
        name: "lvfs",
        summary: "create a disk with logical volume and filesystem",
        params: &[
            LV_NAME,
            ("filesystem", "ext2", "the type of filesystem to use"),
            SIZE,
            PARTITION,
        ],
        description: "As lv, then a filesystem on the logical volume.",
    },
    PrepType {
        name: "bootroot",
        summary: "create a boot and root filesystem",
        params: &[
            ("bootfs", "ext2", "the type of filesystem to use for boot"),
            ("rootfs", "ext2", "the type of filesystem to use for root"),
            SIZE,
            ("bootsize", "128M", "the size of the boot filesystem"),
            PARTITION,
        ],
        description: "A disk with two partitions, boot (from sector 64) and root (to 64 sectors before \
                      the end), each with its own filesystem.",
    },
    PrepType {
        name: "bootrootlv",
        summary: "create a boot and root filesystem using LVM",
        params: &[
            ("name", "/dev/VG/LV", "the name of the VG and LV for root"),
            ("bootfs", "ext2", "the type of filesystem to use for boot"),
            ("rootfs", "ext2", "the type of filesystem to use for root"),
            SIZE,
            ("bootsize", "128M", "the size of the boot filesystem"),
            PARTITION,
        ],
        description: "As bootroot, with the root filesystem on a logical volume.",
    },
];

/// A parsed `-N` specification: the type and every parameter (defaults filled in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrepSpec {
    /// What was given, for messages.
    pub text: String,
    /// The type's name.
    pub kind: &'static str,
    /// Parameter values, in the type's order.
    pub params: Vec<String>,
}

fn parse_size(spec: &str, v: &str) -> Result<u64, CliError> {
    match parse_int(v) {
        Ok(n) if n > 0 => Ok(n as u64),
        Ok(_) => Err(CliError::usage(
            "-N",
            format!("'{spec}': size {v} must be positive"),
        )),
        Err(e) => Err(CliError::usage("-N", format!("'{spec}': size {e}"))),
    }
}

/// `/dev/VG/LV` (or `VG/LV`) into its parts.
fn vg_lv(spec: &str, name: &str) -> Result<(String, String), CliError> {
    let s = name.strip_prefix("/dev/").unwrap_or(name);
    match s.split_once('/') {
        Some((vg, lv)) if !vg.is_empty() && !lv.is_empty() && !lv.contains('/') => {
            Ok((vg.to_string(), lv.to_string()))
        }
        _ => Err(CliError::usage(
            "-N",
            format!("'{spec}': incorrect format for LV name '{name}', use '/dev/VG/LV'"),
        )),
    }
}

impl PrepSpec {
    /// Parse `TYPE[:PARAM...]`, checking every parameter.
    ///
    /// ```
    /// use vmcraft_cli::prepared::PrepSpec;
    /// let p = PrepSpec::parse("fs:ext4:100M").unwrap();
    /// assert_eq!(p.params, ["ext4", "100M", "mbr"]);
    /// assert_eq!(p.size().unwrap(), 100 << 20);
    /// assert!(PrepSpec::parse("fs:ext9").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, CliError> {
        let mut parts = text.split(':');
        let name = parts.next().unwrap_or_default();
        let ty = PREP_TYPES
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                CliError::usage(
                    "-N",
                    format!(
                        "'{text}': no such prepared disk type (use 'vmcraft -N help' to list them)"
                    ),
                )
            })?;
        let given: Vec<&str> = parts.collect();
        if given.len() > ty.params.len() {
            return Err(CliError::usage(
                "-N",
                format!(
                    "'{text}': {} takes at most {} parameters",
                    ty.name,
                    ty.params.len()
                ),
            ));
        }
        let params: Vec<String> = ty
            .params
            .iter()
            .enumerate()
            .map(|(i, (_, default, _))| match given.get(i) {
                Some(v) if !v.is_empty() => v.to_string(),
                _ => default.to_string(),
            })
            .collect();
        let spec = PrepSpec {
            text: text.to_string(),
            kind: ty.name,
            params,
        };
        spec.check()?;
        Ok(spec)
    }

    fn param(&self, name: &str) -> Option<&str> {
        let ty = PREP_TYPES.iter().find(|t| t.name == self.kind)?;
        let i = ty.params.iter().position(|(n, _, _)| *n == name)?;
        Some(&self.params[i])
    }

    fn check(&self) -> Result<(), CliError> {
        self.size()?;
        if let Some(b) = self.param("bootsize") {
            let boot = parse_size(&self.text, b)?;
            if boot.saturating_add(128 * 512) >= self.size()? {
                return Err(CliError::usage(
                    "-N",
                    format!("'{}': boot size {b} does not fit the disk", self.text),
                ));
            }
        }
        let valid_table =
            |p: &&str| ["mbr", "msdos", "gpt", "efi"].contains(&p.to_ascii_lowercase().as_str());
        if let Some(p) = self.param("partition").filter(|p| !valid_table(p)) {
            return Err(CliError::usage(
                "-N",
                format!(
                    "'{}': unknown partition table type '{p}' (expected mbr or gpt)",
                    self.text
                ),
            ));
        }
        let makeable = |t: &&str| vmcraft::MKFS_TYPES.iter().any(|(n, _)| n == t);
        for fs in ["filesystem", "bootfs", "rootfs"] {
            if let Some(t) = self.param(fs).filter(|t| !makeable(t)) {
                return Err(CliError::usage(
                    "-N",
                    format!("'{}': cannot make a '{t}' filesystem", self.text),
                ));
            }
        }
        if let Some(n) = self.param("name") {
            vg_lv(&self.text, n)?;
        }
        Ok(())
    }

    /// The size of the disk image in bytes.
    pub fn size(&self) -> Result<u64, CliError> {
        parse_size(&self.text, self.param("size").unwrap_or("1G"))
    }

    /// Make the (sparse) image file, truncating one that exists, as guestfish does.
    pub fn create_file(&self, path: &Path) -> Result<(), CliError> {
        let f = std::fs::File::create(path)
            .map_err(|e| CliError::io("-N", format!("cannot create {}", path.display()), e))?;
        f.set_len(self.size()?)
            .map_err(|e| CliError::io("-N", format!("cannot size {}", path.display()), e))
    }

    /// Lay the disk out on `device` of the launched handle.
    pub fn prepare(&self, g: &VMCraft, path: &Path, device: &str) -> Result<(), CliError> {
        let fail = |call: &str, e: vmcraft::Error| {
            CliError::usage(
                format!("-N {} ({})", self.text, path.display()),
                CliError::call(call, e).chain(),
            )
        };
        let ptype = self.param("partition").unwrap_or("mbr");
        let part1 = format!("{device}1");
        let part2 = format!("{device}2");
        let lvm = |part: &str, name: &str| -> Result<(), CliError> {
            let (vg, lv) = vg_lv(&self.text, name)?;
            g.pvcreate(&[part]).map_err(|e| fail("pvcreate", e))?;
            g.vgcreate(&vg, &[part]).map_err(|e| fail("vgcreate", e))?;
            g.lvcreate_free(&lv, &vg, 100)
                .map_err(|e| fail("lvcreate_free", e))
        };
        let mkfs = |fstype: &str, dev: &str| {
            g.mkfs(fstype, dev, &vmcraft::MkfsOptions::default())
                .map_err(|e| fail("mkfs", e))
        };
        match self.kind {
            "disk" => Ok(()),
            "part" => g.part_disk(device, ptype).map_err(|e| fail("part_disk", e)),
            "fs" => {
                g.part_disk(device, ptype)
                    .map_err(|e| fail("part_disk", e))?;
                mkfs(&self.params[0], &part1)
            }
            "lv" | "lvfs" => {
                g.part_disk(device, ptype)
                    .map_err(|e| fail("part_disk", e))?;
                lvm(&part1, &self.params[0])?;
                if self.kind == "lvfs" {
                    let (vg, lv) = vg_lv(&self.text, &self.params[0])?;
                    mkfs(&self.params[1], &format!("/dev/{vg}/{lv}"))?;
                }
                Ok(())
            }
            "bootroot" | "bootrootlv" => {
                let ss = i64::from(
                    g.blockdev_getss(device)
                        .map_err(|e| fail("blockdev_getss", e))?,
                );
                let bootsize =
                    parse_size(&self.text, self.param("bootsize").unwrap_or("128M"))? as i64;
                g.part_init(device, ptype)
                    .map_err(|e| fail("part_init", e))?;
                let last_boot = 64 + bootsize / ss - 1;
                g.part_add(device, "p", 64, last_boot)
                    .map_err(|e| fail("part_add", e))?;
                g.part_add(device, "p", last_boot + 1, -64)
                    .map_err(|e| fail("part_add", e))?;
                let boot = self.param("bootfs").unwrap_or("ext2");
                let root = self.param("rootfs").unwrap_or("ext2");
                mkfs(boot, &part1)?;
                if self.kind == "bootroot" {
                    mkfs(root, &part2)
                } else {
                    let name = self.param("name").unwrap_or("/dev/VG/LV");
                    lvm(&part2, name)?;
                    let (vg, lv) = vg_lv(&self.text, name)?;
                    mkfs(root, &format!("/dev/{vg}/{lv}"))
                }
            }
            other => unreachable!("prepared type {other} was checked when parsed"),
        }
    }
}

/// The text of `vmcraft -N help`.
pub fn help_text() -> String {
    let mut s = String::from("List of available prepared disk images:\n\n");
    for t in PREP_TYPES {
        s.push_str(&format!(
            "vmcraft -N {:<10} - {}\n\n  {}\n\n",
            t.name, t.summary, t.description
        ));
        s.push_str("  Optional parameters:\n");
        s.push_str(&format!("    -N {}", t.name));
        for (n, _, _) in t.params {
            s.push_str(&format!(":<{n}>"));
        }
        s.push('\n');
        for (n, d, desc) in t.params {
            s.push_str(&format!("      <{n}> {desc} (default: {d})\n"));
        }
        s.push('\n');
    }
    s.push_str(
        "Prepared disk images are written to \"test1.img\" in the current directory\n\
         (\"test2.img\" and so on when -N is given more than once). Give a file name\n\
         before the type to choose another: vmcraft -N blank.img=fs\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_guestfish_defaults() {
        let p = |s: &str| PrepSpec::parse(s).unwrap().params;
        assert_eq!(p("disk"), ["1G"]);
        assert_eq!(p("part"), ["1G", "mbr"]);
        assert_eq!(p("part:10M:gpt"), ["10M", "gpt"]);
        assert_eq!(p("fs"), ["ext2", "1G", "mbr"]);
        assert_eq!(p("fs:ext4:100M"), ["ext4", "100M", "mbr"]);
        assert_eq!(p("fs::100M"), ["ext2", "100M", "mbr"]);
        assert_eq!(p("lv"), ["/dev/VG/LV", "1G", "mbr"]);
        assert_eq!(
            p("lvfs:/dev/data/home:xfs"),
            ["/dev/data/home", "xfs", "1G", "mbr"]
        );
        assert_eq!(p("bootroot"), ["ext2", "ext2", "1G", "128M", "mbr"]);
        assert_eq!(
            p("BootRootLV:/dev/v/r:vfat:ext4:2G:256M:gpt"),
            ["/dev/v/r", "vfat", "ext4", "2G", "256M", "gpt"]
        );
        assert_eq!(
            PrepSpec::parse("disk:64M").unwrap().size().unwrap(),
            64 << 20
        );
    }

    #[test]
    fn bad_specs_are_refused_before_anything_is_made() {
        for (s, want) in [
            ("floppy", "no such prepared disk type"),
            ("disk:1G:extra", "disk takes at most 1 parameters"),
            ("disk:0", "must be positive"),
            ("disk:big", "'big' is not an integer"),
            ("part:1G:sun", "unknown partition table type 'sun'"),
            ("fs:zfs", "cannot make a 'zfs' filesystem"),
            ("lv:novg", "incorrect format for LV name 'novg'"),
            ("lv:/dev/a/b/c", "incorrect format for LV name"),
            ("bootroot:ext2:ext2:100M:100M", "does not fit the disk"),
        ] {
            let e = PrepSpec::parse(s).unwrap_err();
            assert!(e.to_string().contains(want), "{s}: {e}");
        }
    }

    #[test]
    fn help_lists_every_type_with_its_parameters() {
        let h = help_text();
        for t in PREP_TYPES {
            assert!(
                h.contains(&format!("vmcraft -N {:<10} - {}", t.name, t.summary)),
                "{}",
                t.name
            );
        }
        assert!(h.contains("-N bootroot:<bootfs>:<rootfs>:<size>:<bootsize>:<partition>"));
        assert!(h.contains("<bootsize> the size of the boot filesystem (default: 128M)"));
    }

    #[test]
    fn file_is_sparse_and_sized() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.img");
        std::fs::write(&path, b"old contents").unwrap();
        PrepSpec::parse("disk:10M")
            .unwrap()
            .create_file(&path)
            .unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), 10 << 20);
        assert_eq!(std::fs::read(&path).unwrap()[..12], [0u8; 12]);
        use std::os::unix::fs::MetadataExt;
        assert!(meta.blocks() * 512 < 1 << 20, "not sparse");
    }
}
