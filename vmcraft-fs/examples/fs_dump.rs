//! Print every path of a guest image's filesystems as the in-process readers
//! see them, one line each: `PATH TYPE MODE UID GID SIZE MTIME SHA256|->TARGET`.
//! Needs no privilege: the tests run it as an unprivileged user.
//!
//! ```text
//! cargo run -p vmcraft-fs --example fs_dump -- guest.qcow2
//! ```

use std::fmt::Write as _;
use std::sync::Arc;

use vmcraft_fs::{
    GuestTree, ReadAt, WalkLimits, Window, list_filesystems, open_fs, open_image, walk,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: fs_dump IMAGE")?;
    let disk = open_image(&path)?;
    for found in list_filesystems(&*disk)? {
        let part: Arc<dyn ReadAt> = Arc::new(Window::new(disk.clone(), found.offset, found.len)?);
        let fs = open_fs(part)?;
        println!(
            "# partition {:?} {}",
            found.partition,
            found.fs_type.map(|t| t.name()).unwrap_or("-")
        );
        let mut out = String::new();
        walk(&*fs, "/", WalkLimits::default(), &mut |p, st| {
            let tail = if st.is_symlink() {
                format!("->{}", fs.readlink(p)?)
            } else if st.is_file() {
                let data = fs.read_file(p, 1 << 30)?;
                sha256_hex(&data)
            } else {
                "-".to_string()
            };
            writeln!(
                out,
                "{p}\t{:?}\t{:o}\t{}\t{}\t{}\t{}.{:09}\t{tail}",
                st.file_type(),
                st.mode,
                st.uid,
                st.gid,
                st.size,
                st.mtime.sec,
                st.mtime.nsec
            )
            .unwrap();
            Ok(())
        })?;
        print!("{out}");
    }
    Ok(())
}

/// SHA-256, hex (no dependency beyond the dev-dependencies).
fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(data);
    let mut s = String::new();
    for b in d {
        write!(s, "{b:02x}").unwrap();
    }
    s
}
