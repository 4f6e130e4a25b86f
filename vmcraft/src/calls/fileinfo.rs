//! File information and search (`filesize`, `file`, `ll`, `statns`, the `grep` family, `head`/`tail`, `wc-*`, `strings`, `hexdump`, `du`, `df`, the `is-*` tests), confined to the guest tree.

impl crate::session::VMCraft {}
