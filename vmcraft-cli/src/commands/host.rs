//! Host-side files for the `-` of file arguments: standard input copied to a
//! private temporary file (the calls below read their input by path, some of
//! them twice), and a temporary file to write output into before it goes to
//! standard output.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::CliError;

/// A private temporary file, removed on drop.
#[derive(Debug)]
pub(crate) struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// A new empty file (mode 0600, created exclusively) under the temp directory.
    pub(crate) fn new(command: &str) -> Result<Self, CliError> {
        let (path, _) = vmcraft::private_file::create(&std::env::temp_dir(), "vmcraft-cli", "")
            .map_err(|e| CliError::io(command, "cannot create a temporary file", e))?;
        Ok(TempFile { path })
    }

    /// Standard input, all of it, in a temporary file.
    pub(crate) fn from_stdin(command: &str) -> Result<Self, CliError> {
        let t = Self::new(command)?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&t.path)
            .map_err(|e| CliError::io(command, "cannot open a temporary file", e))?;
        std::io::copy(&mut std::io::stdin().lock(), &mut f)
            .map_err(|e| CliError::io(command, "cannot read standard input", e))?;
        Ok(t)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The file's contents.
    pub(crate) fn contents(&self, command: &str) -> Result<Vec<u8>, CliError> {
        let mut v = Vec::new();
        std::fs::File::open(&self.path)
            .and_then(|mut f| f.read_to_end(&mut v))
            .map_err(|e| CliError::io(command, "cannot read a temporary file", e))?;
        Ok(v)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_files_are_private_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let t = TempFile::new("test").unwrap();
        let p = t.path().to_path_buf();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(t.contents("test").unwrap(), b"abc");
        drop(t);
        assert!(!p.exists());
    }
}
