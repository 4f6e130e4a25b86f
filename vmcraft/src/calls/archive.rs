//! tar in and out of the mounted guest tree (vmcraft-archive), confined to it, with
//! the session's progress callback and cancellation token.

use std::path::Path;

use vmcraft_archive::{Compression, TarInOptions, TarOutOptions, TarStats};

use crate::error::{Error, Result};
use crate::session::VMCraft;

/// Parse libguestfs's `compress` names: `none`, `gzip`, `bzip2`, `xz`, `zstd`
/// (and `lzop`, which is refused as unsupported).
pub fn parse_compress(call: &str, s: &str) -> Result<Compression> {
    s.parse::<Compression>().map_err(|_| {
        Error::invalid(
            call,
            s,
            "unknown compression (expected none, gzip, bzip2, xz or zstd)",
        )
    })
}

impl VMCraft {
    fn progress_fn(&self, call: &'static str) -> Option<vmcraft_archive::ProgressFn> {
        let p = self.config.progress.clone()?;
        Some(vmcraft_archive::ProgressFn::new(
            move |pr: vmcraft_archive::Progress| {
                p(&crate::ProgressEvent {
                    call,
                    done: pr.bytes,
                    total: 0,
                })
            },
        ))
    }

    /// Unpack a host tarball into a guest directory (`tar_in`); compression is
    /// detected when not given. Observes `opts.cancel`, or else the handle's
    /// [`VMCraft::cancel_token`] (see `vmcraft_archive::tar_in_from` for what a
    /// cancelled extraction leaves).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn tar_in(
        &self,
        tarfile: impl AsRef<Path>,
        directory: &str,
        mut opts: TarInOptions,
    ) -> Result<TarStats> {
        let root = self.guest_root_for("tar_in")?;
        if opts.progress.is_none() {
            opts.progress = self.progress_fn("tar_in");
        }
        if opts.cancel.is_none() {
            opts.cancel = Some(self.config.cancel.clone());
        }
        let r = vmcraft_archive::tar_in(&root, tarfile, directory, &opts)?;
        Ok(r)
    }

    /// Pack a guest directory into a host tarball (`tar_out`), entries relative to
    /// the directory (`./etc/...`). Observes `opts.cancel`, or else the handle's
    /// [`VMCraft::cancel_token`]; cancelled, it leaves no output file.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn tar_out(
        &self,
        directory: &str,
        tarfile: impl AsRef<Path>,
        mut opts: TarOutOptions,
    ) -> Result<TarStats> {
        let root = self.guest_root_for("tar_out")?;
        if opts.progress.is_none() {
            opts.progress = self.progress_fn("tar_out");
        }
        if opts.cancel.is_none() {
            opts.cancel = Some(self.config.cancel.clone());
        }
        Ok(vmcraft_archive::tar_out(&root, directory, tarfile, &opts)?)
    }

    /// `tar_in` of a gzip tarball (`tgz_in`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn tgz_in(&self, tarball: impl AsRef<Path>, directory: &str) -> Result<TarStats> {
        self.tar_in(
            tarball,
            directory,
            TarInOptions {
                compress: Some(Compression::Gzip),
                ..Default::default()
            },
        )
    }

    /// `tar_out` to a gzip tarball (`tgz_out`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn tgz_out(&self, directory: &str, tarball: impl AsRef<Path>) -> Result<TarStats> {
        self.tar_out(
            directory,
            tarball,
            TarOutOptions {
                compress: Compression::Gzip,
                ..Default::default()
            },
        )
    }

    /// `tar_in` of an xz tarball (`txz_in`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn txz_in(&self, tarball: impl AsRef<Path>, directory: &str) -> Result<TarStats> {
        self.tar_in(
            tarball,
            directory,
            TarInOptions {
                compress: Some(Compression::Xz),
                ..Default::default()
            },
        )
    }

    /// `tar_out` to an xz tarball (`txz_out`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn txz_out(&self, directory: &str, tarball: impl AsRef<Path>) -> Result<TarStats> {
        self.tar_out(
            directory,
            tarball,
            TarOutOptions {
                compress: Compression::Xz,
                ..Default::default()
            },
        )
    }
}
