//! # vmcraft-aug
//!
//! Augeas configuration editing (work in progress) on the `raugeas` bindings, with
//! the libguestfs `aug_*` calls, run on a worker thread confined to the guest root
//! so that guest symlinks can never lead Augeas to a host file.

#![deny(missing_docs)]
