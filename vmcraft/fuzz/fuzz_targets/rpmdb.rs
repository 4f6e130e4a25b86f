//! Fuzz target: the rpm database reader of inspection (`inspect-list-applications2`
//! on rpm guests) on arbitrary bytes.
//!
//! The first byte chooses the reader (its value modulo 4): 0, the bytes after
//! it are an `rpmdb.sqlite` file (the SQLite b-tree walk, overflow chains,
//! records, then each blob as an rpm header); 1, one rpm header blob; 2, a
//! Berkeley DB hash `Packages` file (hash pages, overflow chains); 3, an ndb
//! `Packages.db` (slot pages, blobs). None may panic, loop or allocate past its
//! bounds.
//!
//! Run it (stable Rust is enough with `RUSTC_BOOTSTRAP=1`), seeded with a small
//! rpmdb made by sqlite3 with rpm's schema, a header blob, and a Berkeley DB
//! `Packages` made by db_load:
//!
//! ```text
//! cd vmcraft/fuzz
//! RUSTC_BOOTSTRAP=1 cargo fuzz run rpmdb corpus/rpmdb seeds/rpmdb -- -max_len=65536
//! ```

#![no_main]

use libfuzzer_sys::fuzz_target;
use vmcraft::inspect::rpmdb::{packages_of_bdb, packages_of_ndb, packages_of_sqlite, parse_header};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let apps = match which % 4 {
        0 => packages_of_sqlite(rest),
        1 => parse_header(rest).map(|a| vec![a]),
        2 => packages_of_bdb(rest),
        _ => packages_of_ndb(rest),
    };
    if let Ok(apps) = apps {
        assert!(apps.len() <= vmcraft::inspect::MAX_PACKAGES);
        assert!(
            apps.iter()
                .all(|a| a.app2_description.len() <= vmcraft::inspect::MAX_FIELD)
        );
    }
});
