//! Which lens modules a handle has in memory, and how they got there.
//!
//! Every lens must be compiled on the host, before the worker chroots into the
//! guest: a module Augeas looks up afterwards would be searched for in the guest's
//! own load path. A handle therefore knows the modules it may use ([`Modules`]),
//! and refuses a transform naming any other, and any load or save while a
//! `/augeas/load` entry names one, before Augeas goes looking for it.
//!
//! By default that is every module of the host's load path (all compiled at
//! `aug_init`, a few hundred milliseconds). With
//! [`InitOptions::lenses`](crate::InitOptions::lenses) only the named modules
//! are compiled (and the modules they use), which takes a few milliseconds.

use std::collections::BTreeSet;
use std::path::Path;

use crate::binding::{Augeas, BindError};
use crate::error::AugeasCode;

use crate::error::{Error, ErrorKind, Result};

/// Where Debian's libaugeas looks for lenses when `NO_STDINC` is not given.
const STD_LENS_DIRS: [&str; 2] = ["/usr/share/augeas/lenses/dist", "/usr/share/augeas/lenses"];

/// Tree nodes used while compiling named modules, removed afterwards.
const TEXT_NODE: &str = "/vmcraft_lens_text";
const TREE_NODE: &str = "/vmcraft_lens_tree";

/// The lens modules a handle may use, by lower-case module name (the name of the
/// module's file: `Fstab` is `fstab.aug`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Modules {
    names: BTreeSet<String>,
    /// Only the modules named by the caller were compiled.
    named: bool,
}

impl Modules {
    /// Every module found in `dirs` (the host's load path).
    pub(crate) fn in_dirs<'a>(dirs: impl IntoIterator<Item = &'a Path>) -> Modules {
        let mut names = BTreeSet::new();
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name();
                if let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".aug")) {
                    names.insert(stem.to_ascii_lowercase());
                }
            }
        }
        Modules {
            names,
            named: false,
        }
    }

    /// The default load path plus the caller's directories, as `aug_init` searches it.
    /// `loadpath` is the caller's `:`-separated directories. Reads the
    /// environment (`AUGEAS_LENS_LIB`), so it is called before the fork, never
    /// in the worker (the environment is behind a lock).
    pub(crate) fn host_load_path(loadpath: &str, no_stdinc: bool) -> Modules {
        let env = std::env::var("AUGEAS_LENS_LIB").unwrap_or_default();
        let mut dirs: Vec<&Path> = Vec::new();
        for list in [loadpath, env.as_str()] {
            dirs.extend(list.split(':').filter(|s| !s.is_empty()).map(Path::new));
        }
        if !no_stdinc {
            dirs.extend(STD_LENS_DIRS.iter().map(Path::new));
        }
        Modules::in_dirs(dirs)
    }

    /// Compile the named modules in `aug` (opened without autoloading, still on
    /// the host), so that they are in memory before the chroot.
    pub(crate) fn compile_named(aug: &mut Augeas, modules: &[String]) -> Result<Modules> {
        let mut names = BTreeSet::new();
        for m in modules {
            compile(aug, m)?;
            names.insert(m.to_ascii_lowercase());
        }
        for node in [TEXT_NODE, TREE_NODE, "/augeas/text"] {
            let _ = aug.rm(node);
        }
        Ok(Modules { names, named: true })
    }

    /// Whether `lens` (`Fstab.lns`, `Fstab` or `@Fstab`) belongs to a module of
    /// this set.
    pub(crate) fn allows(&self, lens: &str) -> bool {
        self.names.contains(&module_of(lens).to_ascii_lowercase())
    }

    /// The error for a lens outside the set.
    pub(crate) fn refuse(&self, call: &'static str, lens: &str) -> Error {
        let why = if self.named {
            format!(
                "lens module {} was not named when the handle was opened (InitOptions::lenses); \
                 only {} are loaded",
                module_of(lens),
                self.names.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        } else {
            format!(
                "no lens module {} in the host's load path (lenses are never loaded from the guest)",
                module_of(lens)
            )
        };
        Error::new(ErrorKind::InvalidArgument, call, lens, why)
    }
}

/// The module part of a lens name: `Fstab.lns` -> `Fstab`, `@Fstab` -> `Fstab`.
pub(crate) fn module_of(lens: &str) -> &str {
    let lens = lens.strip_prefix('@').unwrap_or(lens);
    lens.split('.').next().unwrap_or(lens)
}

/// A module name as Augeas accepts one: a letter, then letters, digits and `_`.
pub(crate) fn valid_module_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Make Augeas compile `module` by parsing an empty text with its `lns` lens. A
/// parse error still leaves the module compiled; a lookup error means it is not
/// in the load path.
fn compile(aug: &mut Augeas, module: &str) -> Result<()> {
    let lens = format!("{module}.lns");
    aug.set(TEXT_NODE, "")
        .map_err(|e| Error::from_binding("aug_init", &lens, e))?;
    match aug.text_store(&lens, TEXT_NODE, TREE_NODE) {
        Ok(()) => Ok(()),
        Err(e) if e.is_code(AugeasCode::NoLens) => Err(Error::new(
            ErrorKind::InvalidArgument,
            "aug_init",
            &lens,
            format!("no lens {lens} in the host's load path (is {module} a lens module?)"),
        )),
        // The empty text did not parse (an error recorded in the tree, not a failed
        // call): the lens was found, so its module is compiled all the same.
        Err(BindError::Tree(_)) => Ok(()),
        Err(e) => Err(Error::from_binding("aug_init", &lens, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_from_lens_names() {
        assert_eq!(module_of("Fstab.lns"), "Fstab");
        assert_eq!(module_of("@Fstab"), "Fstab");
        assert_eq!(module_of("Hosts"), "Hosts");
        assert!(valid_module_name("Systemd"));
        assert!(valid_module_name("Shellvars_list"));
        for bad in ["", "1abc", "a.b", "a/b", "../x", "a b"] {
            assert!(!valid_module_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn modules_are_matched_without_case() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("fstab.aug"), "").unwrap();
        std::fs::write(dir.path().join("inifile.aug"), "").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "").unwrap();
        let m = Modules::in_dirs([dir.path()]);
        assert!(m.allows("Fstab.lns"));
        assert!(m.allows("@IniFile"));
        assert!(!m.allows("Hosts.lns"));
        assert!(!m.allows("Notes.lns"));
        let e = m.refuse("aug_transform", "Hosts.lns");
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("never loaded from the guest"), "{e}");
    }
}
