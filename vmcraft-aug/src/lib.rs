//! # vmcraft-aug
//!
//! Augeas configuration editing for guest images, with libguestfs's `aug_*`
//! calls and their semantics, built on the `raugeas` bindings, and confined to
//! the guest's root so that an untrusted guest's symlinks can never lead Augeas
//! to a host file.
//!
//! ```no_run
//! use std::path::Path;
//! use vmcraft_aug::{AugFlags, Augeas, ErrorKind};
//!
//! // The guest's root filesystem is mounted at /mnt/guest.
//! let aug = Augeas::init(Path::new("/mnt/guest"), AugFlags::SAVE_BACKUP)?;
//! aug.aug_set("/files/etc/ssh/sshd_config/PermitRootLogin", "no")?;
//! for entry in aug.aug_match("/files/etc/fstab/*[vfstype = 'xfs']")? {
//!     aug.aug_set(&format!("{entry}/passno"), "2")?;
//! }
//! match aug.aug_get("/files/etc/hosts/*[canonical = 'db']/ipaddr") {
//!     Ok(ip) => println!("db is at {ip}"),
//!     Err(e) if e.kind() == ErrorKind::NoMatch => println!("no db entry"),
//!     Err(e) => return Err(e),
//! }
//! aug.aug_save()?; // leaves /etc/ssh/sshd_config.augsave and /etc/fstab.augsave
//! # Ok::<(), vmcraft_aug::Error>(())
//! ```
//!
//! ## Confinement
//!
//! Each [`Augeas`] handle owns a worker thread. That thread unshares its
//! filesystem context (`unshare(CLONE_FS)`), loads the lens modules from the
//! host's Augeas load path, then `chroot`s into the guest root; only then are
//! guest files loaded. Every path Augeas resolves afterwards, including absolute
//! symlinks such as `/etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf`
//! or a hostile `/etc/hosts -> /etc/shadow`, resolves inside the guest. The
//! calls are synchronous: each sends a request to the worker and waits for its
//! answer. Because a `proc` mount inside the guest root would reopen the host
//! through `/proc/self/root`, a root with a kernel filesystem mounted inside is
//! refused, at init and again before every load and save.
//!
//! The lens modules are those of the host, in memory before the chroot: all of
//! them by default, or only those named with [`InitOptions::lenses`]. A lens of
//! any other module, named later, is refused before Augeas would go looking for
//! it in the guest's load path: by `aug_transform` at once, and under
//! `/augeas/load` (set by hand) at the next `aug_load` or `aug_save`.
//!
//! This needs root (`CAP_SYS_CHROOT`). Loading all lenses takes a few hundred
//! milliseconds per [`Augeas::init`], as it does for `augtool` and libguestfs;
//! naming the few a caller needs ([`InitOptions::lenses`]) takes a few
//! milliseconds.
//!
//! ## Semantics
//!
//! As libguestfs's daemon: `aug_get` fails on zero matches ("no matching node")
//! and on several; `aug_ls` sorts; `aug_defvar` returns the node count;
//! `aug_defnode` returns [`IntBool`] (`i` nodes, `b` created); `aug_insert`
//! refuses labels with `/`, `*` or a trailing `[N]`; `aug_rm` returns the count;
//! `aug_init` closes the handle opened before. Errors ([`Error`]) carry
//! Augeas's own [`Diagnosis`] and, after a failed save, the [`FileError`] of
//! each file that could not be written.
//!
//! ## Requirements
//!
//! Building needs `libaugeas-dev`, `pkg-config` and `libclang` (for the
//! `raugeas` bindings); running needs `libaugeas0` and the lenses
//! (`augeas-lenses` on Debian and Ubuntu, `augeas-libs` on Fedora). Without
//! lenses, [`Augeas::init`] fails with [`ErrorKind::Unavailable`] and says
//! what to install. Applications that must build without libaugeas put this
//! crate behind a cargo feature.

#![deny(missing_docs)]

mod confine;
mod error;
mod flags;
mod handle;
mod lenses;
mod session;
mod validate;
mod worker;

pub use error::{AugeasCode, Diagnosis, Error, ErrorKind, FileError, Result};
pub use flags::AugFlags;
pub use handle::{Augeas, InitOptions, IntBool};
