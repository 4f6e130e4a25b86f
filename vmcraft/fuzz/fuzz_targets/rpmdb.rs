//! Fuzz target: the rpm database reader of inspection (`inspect-list-applications2`
//! on rpm guests) on arbitrary bytes.
//!
//! The first byte chooses the reader: even, the bytes after it are an
//! `rpmdb.sqlite` file (the SQLite b-tree walk, overflow chains, records, then
//! each blob as an rpm header); odd, they are one rpm header blob. Neither may
//! panic, loop or allocate past its bounds; a header that parses has a name.
//!
//! Run it (stable Rust is enough with `RUSTC_BOOTSTRAP=1`), seeded with a small
//! rpmdb made by sqlite3 with rpm's schema and a header blob:
//!
//! ```text
//! cd vmcraft/fuzz
//! RUSTC_BOOTSTRAP=1 cargo fuzz run rpmdb corpus/rpmdb seeds/rpmdb -- -max_len=65536
//! ```

#![no_main]

use libfuzzer_sys::fuzz_target;
use vmcraft::inspect::rpmdb::{packages_of_sqlite, parse_header};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    if which % 2 == 0 {
        if let Ok(apps) = packages_of_sqlite(rest) {
            assert!(apps.len() <= vmcraft::inspect::MAX_PACKAGES);
            assert!(
                apps.iter()
                    .all(|a| a.app2_description.len() <= vmcraft::inspect::MAX_FIELD)
            );
        }
    } else if let Ok(app) = parse_header(rest) {
        assert!(app.app2_name.len() <= vmcraft::inspect::MAX_FIELD);
    }
});
