//! `tar_out` of the in-process tree: the [`Composite`] as a
//! [`vmcraft_archive::TarSource`], so vmcraft-archive writes the same archive
//! from it as from the kernel-mounted root (one writer, two trees).

use std::io;

use vmcraft_archive::{SourceStat, TarSource};
use vmcraft_fs::GuestTree;

use super::Composite;

/// A vmcraft-fs error as an I/O error: the errno the kernel would give where
/// there is one (so that messages and kinds match the kernel path's).
fn io_err(e: vmcraft_fs::Error) -> io::Error {
    match super::reads::errno_of(e.kind()) {
        Some(n) => io::Error::from_raw_os_error(n),
        None => io::Error::other(e.to_string()),
    }
}

impl Composite {
    fn source_stat(&self, resolved: &str, st: vmcraft_fs::Stat) -> SourceStat {
        SourceStat {
            mode: st.mode,
            uid: st.uid,
            gid: st.gid,
            size: st.size,
            mtime: st.mtime.sec,
            mtime_nsec: st.mtime.nsec,
            rdev: st.rdev.unwrap_or(0),
            nlink: st.nlink.unwrap_or(1),
            dev: self.mount_number(resolved),
            ino: st.ino.unwrap_or(0),
        }
    }
}

impl TarSource for Composite {
    fn lstat(&self, path: &str) -> io::Result<SourceStat> {
        let resolved = GuestTree::resolve(self, path, false).map_err(io_err)?;
        let st = self.lstat_node(&resolved).map_err(io_err)?;
        Ok(self.source_stat(&resolved, st))
    }

    fn stat(&self, path: &str) -> io::Result<SourceStat> {
        let resolved = GuestTree::resolve(self, path, true).map_err(io_err)?;
        let st = self.lstat_node(&resolved).map_err(io_err)?;
        Ok(self.source_stat(&resolved, st))
    }

    fn resolve(&self, path: &str) -> io::Result<String> {
        GuestTree::resolve(self, path, true).map_err(io_err)
    }

    fn read_dir(&self, path: &str) -> io::Result<Vec<String>> {
        Ok(GuestTree::read_dir(self, path)
            .map_err(io_err)?
            .into_iter()
            .map(|e| e.name)
            .collect())
    }

    fn readlink(&self, path: &str) -> io::Result<Vec<u8>> {
        Ok(GuestTree::readlink(self, path)
            .map_err(io_err)?
            .into_bytes())
    }

    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        // Paths here are resolved already (the walk's, or `resolve`'s): a
        // final symlink is not followed again.
        let resolved = GuestTree::resolve(self, path, false).map_err(io_err)?;
        self.read_at_node(&resolved, offset, buf).map_err(io_err)
    }
}
