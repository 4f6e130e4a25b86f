//! The worker side of a handle: [`Session`] owns the Augeas handle in the
//! confined worker process and implements each `aug_*` call with libguestfs's
//! semantics (the checks, return values and messages of its `daemon/augeas.c`).
//!
//! This code runs in the forked worker: it must not log (`tracing`'s
//! subscriber, like stderr, may have been locked by another thread of the
//! parent at the fork).

use std::path::Path;

use crate::binding::{self, Augeas};

use crate::confine::{self, MountWatch};
use crate::error::{AugeasCode, Error, ErrorKind, FileError, Result};
use crate::flags::AugFlags;
use crate::handle::IntBool;
use crate::lenses::Modules;
use crate::validate;

/// An open Augeas handle, confined to its guest root. Lives in the worker
/// process.
pub(crate) struct Session {
    aug: Augeas,
    watch: MountWatch,
    /// The lens modules compiled before the chroot: the only ones it may use.
    modules: Modules,
}

/// The message for a guest without lenses to use.
const INSTALL_LENSES: &str = "no augeas lenses found in the load path (install them: \
     `apt-get install augeas-lenses` on Debian and Ubuntu, `dnf install augeas-libs` \
     on Fedora and RHEL)";

/// Label characters that never need escaping in a path expression.
fn plain_segment(seg: &str) -> bool {
    !seg.is_empty()
        && seg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-+@:,~#".contains(c))
}

impl Session {
    /// Confine the calling process to `root` (canonical) and open Augeas there.
    ///
    /// Order matters: the worker's mounts are made safe first (its own copy
    /// of the guest's mounts, device nodes unopenable:
    /// [`confine::isolate_mounts`]), the lenses are loaded from the host's
    /// load path *before* the chroot (into that copy), `confine` (which sheds
    /// privileges and sets limits) runs right after it, and the guest's files
    /// are read only then. `host_modules` is the module list of the host's
    /// load path ([`Modules::host_load_path`], read by the parent), used when
    /// `lenses` is `None`.
    pub(crate) fn open(
        root: &Path,
        flags: AugFlags,
        loadpath: &str,
        lenses: Option<&[String]>,
        host_modules: Modules,
        confine: impl FnOnce() -> Result<()>,
    ) -> Result<Session> {
        let ctx = format!("{} (flags {})", root.display(), flags.bits());
        confine::require_chroot_capability(root)?;
        // First: the worker's copy of the guest's mounts (or the caller's
        // mounts, checked).
        let watch = confine::isolate_mounts(root)?;

        // Never load files here: the process still sees the host's root.
        let init_flags = match lenses {
            // Only the named modules, compiled one by one; nothing autoloaded.
            Some(_) => flags | AugFlags::NO_MODL_AUTOLOAD | AugFlags::NO_LOAD,
            // Always autoload the modules, so that every lens is in memory before
            // the chroot; NO_MODL_AUTOLOAD is then honoured by emptying
            // /augeas/load.
            None => (flags - AugFlags::NO_MODL_AUTOLOAD) | AugFlags::NO_LOAD,
        };
        // Opened by the parent before the fork (see `crate::binding`).
        let lib = binding::loaded().ok_or_else(|| {
            Error::new(
                ErrorKind::Unavailable,
                "aug_init",
                &ctx,
                "libaugeas was not loaded before the worker started",
            )
        })?;
        let mut aug = Augeas::init(lib, "/", loadpath, init_flags.bits())
            .map_err(|e| Error::from_binding("aug_init", &ctx, e))?;
        let modules = match lenses {
            Some(named) => Modules::compile_named(&mut aug, named)?,
            None => {
                let transforms = aug
                    .count("/augeas/load/*")
                    .map_err(|e| Error::from_binding("aug_init", &ctx, e))?;
                if transforms == 0 {
                    return Err(Error::new(
                        ErrorKind::Unavailable,
                        "aug_init",
                        &ctx,
                        INSTALL_LENSES,
                    ));
                }
                if flags.contains(AugFlags::NO_MODL_AUTOLOAD) {
                    aug.rm("/augeas/load/*")
                        .map_err(|e| Error::from_binding("aug_init", &ctx, e))?;
                }
                host_modules
            }
        };

        confine::enter_root(&watch, root)?;
        confine()?;

        let mut session = Session {
            aug,
            watch,
            modules,
        };
        if lenses.is_none() && !flags.intersects(AugFlags::NO_LOAD | AugFlags::NO_MODL_AUTOLOAD) {
            session.watch.check("aug_init")?;
            session
                .aug
                .load()
                .map_err(|e| Error::from_binding("aug_init", &ctx, e))?;
        }
        Ok(session)
    }

    /// `aug_match` with a count only.
    fn count(&self, call: &'static str, path: &str) -> Result<u32> {
        self.aug
            .count(path)
            .map_err(|e| Error::from_binding(call, path, e))
    }

    /// The error Augeas recorded for `file` (a guest path), if any.
    fn file_error(&self, file: &str) -> Option<FileError> {
        let e = self
            .aug
            .tree_error(&format!("/augeas/files{file}/error"))
            .ok()??;
        Some(FileError {
            file: file.to_string(),
            kind: e.kind,
            message: e.message,
            path: e.path,
            lens: e.lens,
            line: e.position.as_ref().map(|p| p.line),
            char: e.position.as_ref().map(|p| p.char),
        })
    }

    /// Every error recorded under `/augeas/files`.
    fn file_errors(&self) -> Vec<FileError> {
        let nodes = self.aug.matches("/augeas/files//error").unwrap_or_default();
        nodes
            .iter()
            .filter_map(|n| {
                let file = n.strip_prefix("/augeas/files")?.strip_suffix("/error")?;
                self.file_error(file)
            })
            .collect()
    }

    /// Why a `/files/...` path may match nothing: the file it lives in could not
    /// be loaded. Only the literal leading segments of `path` are considered.
    fn load_error_for(&self, path: &str) -> Option<FileError> {
        let rest = path.strip_prefix("/files/")?;
        let mut file = String::new();
        for seg in rest.split('/').take_while(|s| plain_segment(s)) {
            file.push('/');
            file.push_str(seg);
            if let Some(e) = self.file_error(&file).filter(FileError::is_load_error) {
                return Some(e);
            }
        }
        None
    }

    /// A "no match" error, with the load failure that explains it if there is one.
    fn no_match(&self, call: &'static str, path: &str, detail: &str) -> Error {
        match self.load_error_for(path) {
            Some(fe) => Error::new(
                ErrorKind::NoMatch,
                call,
                path,
                format!("{detail}; augeas could not load {fe}"),
            )
            .with_files(vec![fe]),
            None => Error::new(ErrorKind::NoMatch, call, path, detail),
        }
    }

    pub(crate) fn get(&self, path: &str) -> Result<String> {
        const CALL: &str = "aug_get";
        validate::no_nul(CALL, "path", path)?;
        match self.count(CALL, path)? {
            0 => Err(self.no_match(CALL, path, "no matching node")),
            1 => match self.aug.get(path) {
                Ok(Some(v)) => Ok(v),
                Ok(None) => Err(Error::new(
                    ErrorKind::NoValue,
                    CALL,
                    path,
                    "the node has no value (augeas returned NULL)",
                )),
                Err(e) => Err(Error::from_binding(CALL, path, e)),
            },
            n => Err(match self.aug.get(path) {
                Err(e) => Error::from_binding(CALL, path, e),
                Ok(_) => Error::new(
                    ErrorKind::TooManyMatches,
                    CALL,
                    path,
                    format!("{n} nodes match"),
                ),
            }),
        }
    }

    pub(crate) fn set(&mut self, path: &str, val: &str) -> Result<()> {
        const CALL: &str = "aug_set";
        validate::no_nul(CALL, "path", path)?;
        validate::no_nul(CALL, "value", val)?;
        self.aug
            .set(path, val)
            .map_err(|e| Error::from_binding(CALL, format!("{path}: {val}"), e))
    }

    pub(crate) fn clear(&mut self, path: &str) -> Result<()> {
        const CALL: &str = "aug_clear";
        validate::no_nul(CALL, "path", path)?;
        self.aug
            .clear(path)
            .map_err(|e| Error::from_binding(CALL, path, e))
    }

    pub(crate) fn setm(&mut self, base: &str, sub: Option<&str>, val: &str) -> Result<usize> {
        const CALL: &str = "aug_setm";
        validate::no_nul(CALL, "base", base)?;
        validate::no_nul(CALL, "sub", sub.unwrap_or(""))?;
        validate::no_nul(CALL, "value", val)?;
        // A NULL sub means the base nodes themselves, which "." also means.
        let sub = sub.unwrap_or(".");
        self.aug
            .setm(base, sub, val)
            .map(|n| n as usize)
            .map_err(|e| Error::from_binding(CALL, format!("{base}: {sub}: {val}"), e))
    }

    pub(crate) fn insert(&mut self, path: &str, label: &str, before: bool) -> Result<()> {
        const CALL: &str = "aug_insert";
        validate::no_nul(CALL, "path", path)?;
        validate::insert_label(CALL, path, label)?;
        let ctx = format!("{path}: {label} [before={}]", u8::from(before));
        match self.count(CALL, path)? {
            0 => return Err(self.no_match(CALL, path, "no matching node")),
            1 => {}
            n => {
                return Err(Error::new(
                    ErrorKind::TooManyMatches,
                    CALL,
                    ctx,
                    format!("{n} nodes match; aug_insert needs exactly one"),
                ));
            }
        }
        self.aug
            .insert(path, label, before)
            .map_err(|e| Error::from_binding(CALL, ctx, e))
    }

    pub(crate) fn rm(&mut self, path: &str) -> Result<usize> {
        const CALL: &str = "aug_rm";
        validate::no_nul(CALL, "path", path)?;
        self.aug
            .rm(path)
            .map(|n| n as usize)
            .map_err(|e| Error::from_binding(CALL, path, e))
    }

    pub(crate) fn mv(&mut self, src: &str, dest: &str) -> Result<()> {
        const CALL: &str = "aug_mv";
        validate::no_nul(CALL, "source", src)?;
        validate::no_nul(CALL, "destination", dest)?;
        let ctx = format!("{src}: {dest}");
        match self.count(CALL, src)? {
            0 => Err(self.no_match(CALL, src, "no matching node")),
            1 => self
                .aug
                .mv(src, dest)
                .map_err(|e| Error::from_binding(CALL, ctx, e)),
            n => Err(Error::new(
                ErrorKind::TooManyMatches,
                CALL,
                ctx,
                format!("{n} nodes match the source; aug_mv needs exactly one"),
            )),
        }
    }

    pub(crate) fn matches(&self, call: &'static str, path: &str) -> Result<Vec<String>> {
        validate::no_nul(call, "path", path)?;
        self.aug
            .matches(path)
            .map_err(|e| Error::from_binding(call, path, e))
    }

    pub(crate) fn ls(&self, path: &str) -> Result<Vec<String>> {
        let pattern = validate::ls_pattern(path)?;
        let mut found = self.matches("aug_ls", &pattern)?;
        found.sort();
        Ok(found)
    }

    pub(crate) fn label(&self, path: &str) -> Result<String> {
        const CALL: &str = "aug_label";
        validate::no_nul(CALL, "path", path)?;
        match self.count(CALL, path)? {
            0 => Err(self.no_match(CALL, path, "no matching nodes found")),
            _ => match self.aug.label(path) {
                Ok(Some(l)) => Ok(l),
                Ok(None) => Err(Error::new(
                    ErrorKind::NoValue,
                    CALL,
                    path,
                    "the node has no label",
                )),
                Err(e) => Err(Error::from_binding(CALL, path, e)),
            },
        }
    }

    pub(crate) fn defvar(&mut self, name: &str, expr: Option<&str>) -> Result<usize> {
        const CALL: &str = "aug_defvar";
        validate::no_nul(CALL, "name", name)?;
        let Some(expr) = expr else {
            self.aug
                .rmvar(name)
                .map_err(|e| Error::from_binding(CALL, name, e))?;
            return Ok(0);
        };
        validate::no_nul(CALL, "expression", expr)?;
        let ctx = format!("{name}: {expr}");
        self.aug
            .defvar(name, expr)
            .map_err(|e| Error::from_binding(CALL, &ctx, e))?;
        // Augeas returns the size of the node set, or 0 for a value that is not
        // one (a string, a number), which then cannot be matched.
        match self.aug.count(&format!("${name}")) {
            Ok(n) => Ok(n as usize),
            Err(e) if e.is_code(AugeasCode::PathExpr) => Ok(0),
            Err(e) => Err(Error::from_binding(CALL, &ctx, e)),
        }
    }

    pub(crate) fn defnode(&mut self, name: &str, expr: &str, val: &str) -> Result<IntBool> {
        const CALL: &str = "aug_defnode";
        validate::no_nul(CALL, "name", name)?;
        validate::no_nul(CALL, "expression", expr)?;
        validate::no_nul(CALL, "value", val)?;
        let ctx = format!("{name}: {expr}: {val}");
        let created = self
            .aug
            .defnode(name, expr, val)
            .map_err(|e| Error::from_binding(CALL, &ctx, e))?;
        let nodes = self
            .aug
            .count(&format!("${name}"))
            .map_err(|e| Error::from_binding(CALL, &ctx, e))?;
        Ok(IntBool {
            i: i32::try_from(nodes).unwrap_or(i32::MAX),
            b: created,
        })
    }

    pub(crate) fn transform(&mut self, lens: &str, file: &str, remove: bool) -> Result<()> {
        const CALL: &str = "aug_transform";
        validate::no_nul(CALL, "lens", lens)?;
        validate::no_nul(CALL, "file", file)?;
        let ctx = format!("{lens}: {file}: {}", if remove { "excl" } else { "incl" });
        if !self.modules.allows(lens) {
            return Err(self.modules.refuse(CALL, lens));
        }
        self.aug
            .transform(lens, file, remove)
            .map_err(|e| Error::from_binding(CALL, ctx, e))
    }

    pub(crate) fn load(&mut self) -> Result<()> {
        self.watch.check("aug_load")?;
        self.check_load_lenses("aug_load")?;
        self.aug
            .load()
            .map_err(|e| Error::from_binding("aug_load", "", e))
    }

    /// Refuse to load or save when a transform (set with `aug_transform` or
    /// straight into `/augeas/load/*/lens` with `aug_set`) names a module that was
    /// not compiled before the chroot: Augeas looks a transform's lens up again at
    /// both, and would look for an unknown module in the guest.
    fn check_load_lenses(&self, call: &'static str) -> Result<()> {
        let nodes = self
            .aug
            .matches("/augeas/load/*/lens")
            .map_err(|e| Error::from_binding(call, "/augeas/load", e))?;
        for node in nodes {
            let lens = self
                .aug
                .get(node.as_str())
                .map_err(|e| Error::from_binding(call, &node, e))?;
            if let Some(lens) = lens
                && !self.modules.allows(&lens)
            {
                return Err(self.modules.refuse(call, &lens));
            }
        }
        Ok(())
    }

    pub(crate) fn save(&mut self) -> Result<()> {
        const CALL: &str = "aug_save";
        self.watch.check(CALL)?;
        self.check_load_lenses(CALL)?;
        let before = self.file_errors();
        // A failed aug_save sets no aug_error (only its -1 says so); the "save"
        // command of aug_srun turns that -1 into an error.
        match self.aug.srun("save") {
            Ok(_) => Ok(()),
            Err(e) if e.is_code(AugeasCode::CmdRun) => {
                let after = self.file_errors();
                let mut failed: Vec<FileError> = after
                    .iter()
                    .filter(|fe| !before.contains(fe))
                    .cloned()
                    .collect();
                if failed.is_empty() {
                    // The same failure as last time: report every save error.
                    failed = after.into_iter().filter(|fe| !fe.is_load_error()).collect();
                }
                let detail = if failed.is_empty() {
                    "saving failed, and augeas recorded no file error".to_string()
                } else {
                    failed
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                Err(Error::new(ErrorKind::SaveFailed, CALL, "", detail).with_files(failed))
            }
            Err(e) => Err(Error::from_binding(CALL, "", e)),
        }
    }
}
