//! Directories whose owner, mode, extended attributes and times `tar_in` sets
//! at the end, once nothing more is created inside them (a directory of mode
//! 0555 must stay writable while its files are extracted, and every file made
//! in it changes its mtime).
//!
//! One record per directory name, as GNU tar keeps one: a later entry of the
//! same name replaces the metadata in place and keeps the record's position,
//! so that, applied in reverse, children still come before their parents, and
//! an archive repeating a directory a million times holds one record. The
//! bytes a record holds are counted against the caller's limit
//! ([`crate::limits::Held`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use vmcraft_fs::root::meta::Meta;

/// One directory to finish.
pub(crate) struct Dir {
    /// Relative to the target directory (empty for the target itself).
    pub path: Rc<Path>,
    /// The directory made (device, inode): one replaced since by a later
    /// entry is left alone.
    pub id: (u64, u64),
    pub meta: Meta,
}

/// The directories of one extraction, in the order first met.
#[derive(Default)]
pub(crate) struct Dirs {
    list: Vec<Dir>,
    index: HashMap<Rc<Path>, usize>,
}

/// The bytes a record of `path` with `meta` holds.
pub(crate) fn cost(path: &Path, meta: &Meta) -> u64 {
    path.as_os_str().len() as u64 + meta.held_bytes()
}

impl Dirs {
    /// The bytes held for `path` now, if it has a record.
    pub(crate) fn held(&self, path: &Path) -> Option<u64> {
        self.index
            .get(path)
            .map(|&i| cost(&self.list[i].path, &self.list[i].meta))
    }

    /// Keep `meta` for the directory `id` at `path`, in place of what was
    /// kept for that name before.
    pub(crate) fn set(&mut self, path: PathBuf, id: (u64, u64), meta: Meta) {
        if let Some(&i) = self.index.get(path.as_path()) {
            let dir = &mut self.list[i];
            dir.id = id;
            dir.meta = meta;
            return;
        }
        let path: Rc<Path> = path.into();
        self.index.insert(Rc::clone(&path), self.list.len());
        self.list.push(Dir { path, id, meta });
    }

    /// The target directory itself is now the directory `id` (a staged
    /// extraction's stage has been moved into its target): its record, if
    /// any, goes to that one.
    pub(crate) fn set_root_id(&mut self, id: (u64, u64)) {
        if let Some(&i) = self.index.get(Path::new("")) {
            self.list[i].id = id;
        }
    }

    /// The records, in the order their names were first met.
    pub(crate) fn into_list(self) -> Vec<Dir> {
        drop(self.index);
        self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmcraft_fs::root::fileops::FileTime;

    fn meta(mode: u32) -> Meta {
        Meta {
            mode,
            uid: 0,
            gid: 0,
            atime: FileTime::Now,
            mtime: FileTime::Now,
            xattrs: vec![("user.a".into(), vec![0; 10])],
            symlink: false,
        }
    }

    #[test]
    fn a_name_met_again_replaces_its_record_in_place() {
        let mut d = Dirs::default();
        d.set("a".into(), (1, 1), meta(0o755));
        d.set("a/b".into(), (1, 2), meta(0o755));
        assert_eq!(d.held(Path::new("a")), Some(cost(Path::new("a"), &meta(0))));
        assert_eq!(cost(Path::new("a"), &meta(0)), 1 + 6 + 10 + 48);
        d.set("a".into(), (1, 3), meta(0o700));
        assert_eq!(d.held(Path::new("c")), None);
        let list = d.into_list();
        assert_eq!(list.len(), 2);
        assert_eq!(&*list[0].path, Path::new("a"));
        assert_eq!((list[0].id, list[0].meta.mode), ((1, 3), 0o700));
        assert_eq!(&*list[1].path, Path::new("a/b"));
    }
}
