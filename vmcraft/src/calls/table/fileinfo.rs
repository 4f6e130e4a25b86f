//! The call table's entries for file information and search: sizes, types, listings, `stat` variants, the `grep` family, `head`/`tail`, counts, `strings`, `hexdump`, `du`, `df`, the `is-*` tests.

#[allow(unused_imports)]
use super::prelude::*;

pub(crate) const CALLS: &[Call] = &[];
