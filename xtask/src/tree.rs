//! The suite must leave the work tree as it found it: no test may write into the
//! checkout (scratch files belong in a `TestEnv` or a temp directory). `cargo xtask
//! test` takes a [`Snapshot`] of `git status --porcelain` before the tests, with a
//! fingerprint of every listed file's content, and another after; any path whose
//! status or content differs is a failure, listed by name. Ignored files (`target/`,
//! fuzz corpora) do not count. Outside a git checkout there is nothing to compare.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The non-ignored paths that differ from `HEAD`, with what each holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    root: PathBuf,
    entries: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// The two status letters (`??`, ` M`, `D `, ...).
    status: String,
    /// A hash of the content (a symlink's target), `None` when nothing is there.
    content: Option<u64>,
}

impl Snapshot {
    /// The state of the work tree at `root`, or `None` when `root` is not inside a
    /// git work tree (or git is not installed).
    pub fn take(root: &Path) -> Result<Option<Snapshot>> {
        let inside = Command::new("git")
            .arg("-C")
            .arg(root)
            .args(["rev-parse", "--is-inside-work-tree"])
            .output();
        match inside {
            Ok(o) if o.status.success() && o.stdout.trim_ascii() == b"true" => {}
            _ => return Ok(None),
        }
        let out = Command::new("git")
            .arg("-C")
            .arg(root)
            .args([
                "status",
                "--porcelain=v1",
                "-z",
                "--untracked-files=all",
                "--ignored=no",
            ])
            .output()
            .context("could not run git status")?;
        if !out.status.success() {
            bail!(
                "git status --porcelain in {} failed ({}): {}",
                root.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let mut entries = BTreeMap::new();
        for (status, path) in parse_porcelain(&out.stdout)? {
            let content = fingerprint(&root.join(&path))
                .with_context(|| format!("could not read {}", root.join(&path).display()))?;
            entries.insert(path, Entry { status, content });
        }
        Ok(Some(Snapshot {
            root: root.to_path_buf(),
            entries,
        }))
    }

    /// What differs in `after` from `self`, one `git status` line per path
    /// (`?? vmcraft-nbd/x.raw`), sorted; a path back to its `HEAD` state shows as
    /// `restored`.
    pub fn changes(&self, after: &Snapshot) -> Vec<String> {
        let mut out = Vec::new();
        for (path, entry) in &after.entries {
            if self.entries.get(path) != Some(entry) {
                out.push(format!("{} {path}", entry.status));
            }
        }
        for path in self.entries.keys() {
            if !after.entries.contains_key(path) {
                out.push(format!("restored {path}"));
            }
        }
        out.sort_by(|a, b| {
            a.split_once(' ')
                .map(|p| p.1)
                .cmp(&b.split_once(' ').map(|p| p.1))
        });
        out
    }

    /// Compare the tree now with this snapshot; an error lists what changed.
    pub fn check_unchanged(&self) -> Result<()> {
        let after =
            Snapshot::take(&self.root)?.context("the work tree is no longer a git checkout")?;
        let changed = self.changes(&after);
        if changed.is_empty() {
            return Ok(());
        }
        bail!(
            "the test suite changed the work tree (each test must write in its own \
             scratch directory; git status --porcelain):\n  {}",
            changed.join("\n  ")
        )
    }
}

/// `git status --porcelain=v1 -z` entries as (status, path); a rename's or copy's
/// origin is skipped (the new path is what the tree holds).
fn parse_porcelain(out: &[u8]) -> Result<Vec<(String, String)>> {
    let mut entries = Vec::new();
    let mut fields = out.split(|&b| b == 0).filter(|f| !f.is_empty());
    while let Some(field) = fields.next() {
        let text = String::from_utf8_lossy(field);
        let (Some(status), Some(path)) = (text.get(..2), text.get(3..)) else {
            bail!("unexpected git status entry {text:?}");
        };
        if status.contains(['R', 'C']) {
            fields.next();
        }
        entries.push((status.to_string(), path.to_string()));
    }
    Ok(entries)
}

/// A hash of what is at `path`: a file's bytes, a symlink's target; `None` when
/// nothing is there.
fn fingerprint(path: &Path) -> Result<Option<u64>> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut h = DefaultHasher::new();
    if meta.is_symlink() {
        h.write(std::fs::read_link(path)?.as_os_str().as_encoded_bytes());
    } else if meta.is_file() {
        let mut f = std::fs::File::open(path)?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.write(&buf[..n]);
        }
    }
    // A mode change (chmod +x) is a change too.
    h.write_u32(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()));
    Ok(Some(h.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throwaway git repository with one committed file and a `target/` ignored.
    struct Repo(PathBuf);

    impl Repo {
        fn new(label: &str) -> Repo {
            let dir =
                std::env::temp_dir().join(format!("xtask-tree-{label}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let repo = Repo(dir);
            repo.git(&["init", "-q"]);
            repo.write(".gitignore", "/target\n");
            repo.write("kept.rs", "fn main() {}\n");
            repo.write("dirty.rs", "v1\n");
            repo.git(&["add", "."]);
            repo.git(&[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-q",
                "-m",
                "init",
            ]);
            repo
        }

        fn git(&self, args: &[&str]) {
            let st = Command::new("git")
                .arg("-C")
                .arg(&self.0)
                .args(args)
                .status()
                .unwrap();
            assert!(st.success(), "git {args:?}");
        }

        fn write(&self, rel: &str, text: &str) {
            let p = self.0.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }

        fn snapshot(&self) -> Snapshot {
            Snapshot::take(&self.0).unwrap().expect("a git checkout")
        }
    }

    impl Drop for Repo {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn files_a_suite_creates_or_changes_are_listed() {
        let repo = Repo::new("changes");
        // A developer's own edit before the suite: not the suite's doing.
        repo.write("dirty.rs", "v2\n");
        repo.write("notes.txt", "mine\n");
        let before = repo.snapshot();
        assert!(before.check_unchanged().is_ok());

        repo.write("vmcraft-nbd/x.raw", "artifact");
        repo.write("kept.rs", "fn main() { changed() }\n");
        repo.write("target/debug/out.log", "ignored");
        let after = repo.snapshot();
        assert_eq!(
            before.changes(&after),
            [" M kept.rs", "?? vmcraft-nbd/x.raw"]
        );
        let e = before.check_unchanged().unwrap_err().to_string();
        assert!(e.contains("\n  ?? vmcraft-nbd/x.raw"), "{e}");

        // A file that was already dirty and is changed again counts too.
        repo.write("dirty.rs", "v3\n");
        std::fs::remove_file(repo.0.join("notes.txt")).unwrap();
        let again = repo.snapshot();
        assert_eq!(
            before.changes(&again),
            [
                " M dirty.rs",
                " M kept.rs",
                "restored notes.txt",
                "?? vmcraft-nbd/x.raw"
            ]
        );
    }

    #[test]
    fn a_deleted_tracked_file_is_listed() {
        let repo = Repo::new("deleted");
        let before = repo.snapshot();
        std::fs::remove_file(repo.0.join("kept.rs")).unwrap();
        assert_eq!(before.changes(&repo.snapshot()), [" D kept.rs"]);
    }

    #[test]
    fn outside_a_checkout_there_is_nothing_to_compare() {
        // The root directory is in no checkout (on any machine this runs on).
        assert!(Snapshot::take(Path::new("/")).unwrap().is_none());
    }

    #[test]
    fn porcelain_renames_keep_the_new_path() {
        let out = b"R  new.rs\0old.rs\0?? a b.txt\0 M c.rs\0";
        assert_eq!(
            parse_porcelain(out).unwrap(),
            [
                ("R ".to_string(), "new.rs".to_string()),
                ("??".to_string(), "a b.txt".to_string()),
                (" M".to_string(), "c.rs".to_string()),
            ]
        );
    }
}
