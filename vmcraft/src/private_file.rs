//! Private files the session makes on the host (scratch drives, tarballs between
//! trees, the command line's `-` spools): created exclusively, mode 0600, under
//! a name with the process id and a changing suffix, tried again on a clash.

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Create a new empty file `PREFIX-PID-XXXXXXXX SUFFIX` in `dir`, mode 0600,
/// never one that exists (nor a symlink there).
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let (path, _file) = vmcraft::private_file::create(dir.path(), "vmcraft-x", ".tar")?;
/// assert!(path.file_name().unwrap().to_str().unwrap().starts_with("vmcraft-x-"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn create(dir: &Path, prefix: &str, suffix: &str) -> std::io::Result<(PathBuf, File)> {
    let mut last = None;
    for n in 0..100u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = dir.join(format!(
            "{prefix}-{}-{:08x}{suffix}",
            std::process::id(),
            nanos.wrapping_add(n)
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free name")))
}
